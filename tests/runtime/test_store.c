/*
 * test_store.c: the runtime's parts without a GPU (runtime/rt_internal.h):
 * SHA-256 against the FIPS 180-4 examples; the kernel cache's hit, miss,
 * corruption, truncation, permissions and concurrent writers; the tuning
 * database's records, replacement, unknown GPUs, foreign lines and
 * concurrent writers; shape classes.
 *
 * Every test works in its own fresh folder under $TMPDIR.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_internal.h"

static char dir[1024];

static void dir_fresh(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lac-store-XXXXXX", t && t[0] ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void dir_remove(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- SHA-256 */

START_TEST(sha256_vectors)
{
    char h[65];
    sha256_hex_of("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex_of("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex_of(m, strlen(m), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a', fed in uneven pieces: the block boundary logic. */
    Sha256 s;
    sha256_init(&s);
    char buf[1000];
    memset(buf, 'a', sizeof buf);
    size_t left = 1000000, piece = 1;
    while (left > 0) {
        size_t n = piece < left ? piece : left;
        sha256_update(&s, buf, n);
        left -= n;
        piece = piece % 991 + 7; /* 7 .. 997: never past buf */
    }
    unsigned char d[32];
    sha256_final(&s, d);
    sha256_hex(d, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256_strings_are_delimited)
{
    Sha256 a, b;
    unsigned char da[32], db[32];
    sha256_init(&a);
    sha256_update_str(&a, "ab");
    sha256_update_str(&a, "c");
    sha256_final(&a, da);
    sha256_init(&b);
    sha256_update_str(&b, "a");
    sha256_update_str(&b, "bc");
    sha256_final(&b, db);
    ck_assert(memcmp(da, db, 32) != 0);
}
END_TEST

/* ---- the kernel cache */

static const char *key1 = "1111111111111111111111111111111111111111111111111111111111111111";

static void entry_path(char *out, size_t n, const char *kind, const char *key)
{
    snprintf(out, n, "%s/%s/%s", dir, kind, key);
}

START_TEST(cache_miss_put_hit)
{
    dir_fresh();
    char err[512];
    void *data;
    size_t size;
    ck_assert_int_eq(cache_get(dir, "ptx", key1, &data, &size, err, sizeof err), CACHE_MISS);
    const char text[] = ".version 8.0\n.entry k()\n";
    ck_assert(cache_put(dir, "ptx", key1, text, strlen(text), err, sizeof err));
    ck_assert_int_eq(cache_get(dir, "ptx", key1, &data, &size, err, sizeof err), CACHE_HIT);
    ck_assert_uint_eq(size, strlen(text));
    ck_assert_str_eq(data, text); /* NUL-terminated */
    free(data);
    /* Binary payloads with NULs round-trip too. */
    unsigned char bin[300];
    for (int i = 0; i < 300; i++) bin[i] = (unsigned char)(i * 7);
    ck_assert(cache_put(dir, "cubin", key1, bin, sizeof bin, err, sizeof err));
    ck_assert_int_eq(cache_get(dir, "cubin", key1, &data, &size, err, sizeof err), CACHE_HIT);
    ck_assert_uint_eq(size, sizeof bin);
    ck_assert(memcmp(data, bin, sizeof bin) == 0);
    free(data);
    dir_remove();
}
END_TEST

START_TEST(cache_permissions)
{
    dir_fresh();
    char err[512], sub[2048], path[4200];
    snprintf(sub, sizeof sub, "%s/deep/er", dir);
    ck_assert(cache_put(sub, "ptx", key1, "x", 1, err, sizeof err));
    struct stat st;
    snprintf(path, sizeof path, "%s/ptx/%s", sub, key1);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/ptx", sub);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    dir_remove();
}
END_TEST

/* Rewrite the entry's file with `mutate` applied; then cache_get must
 * report corruption, remove the file, and miss the next time. */
static void corrupt_and_check(void (*mutate)(unsigned char *buf, size_t *len))
{
    dir_fresh();
    char err[512], path[4200];
    const char text[] = "the payload of an entry, long enough to cut";
    ck_assert(cache_put(dir, "ptx", key1, text, strlen(text), err, sizeof err));
    entry_path(path, sizeof path, "ptx", key1);
    FILE *f = fopen(path, "rb");
    unsigned char buf[512];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    mutate(buf, &len);
    f = fopen(path, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    void *data = (void *)1;
    size_t size = 7;
    err[0] = 0;
    ck_assert_int_eq(cache_get(dir, "ptx", key1, &data, &size, err, sizeof err), CACHE_CORRUPT);
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(size, 0);
    ck_assert_msg(strstr(err, "rebuilt") != NULL, "message: %s", err);
    ck_assert_int_ne(access(path, F_OK), 0); /* removed */
    ck_assert_int_eq(cache_get(dir, "ptx", key1, &data, &size, err, sizeof err), CACHE_MISS);
    /* And it can be written again. */
    ck_assert(cache_put(dir, "ptx", key1, text, strlen(text), err, sizeof err));
    ck_assert_int_eq(cache_get(dir, "ptx", key1, &data, &size, err, sizeof err), CACHE_HIT);
    free(data);
    dir_remove();
}

static void flip_last(unsigned char *buf, size_t *len) { buf[*len - 1] ^= 0x20; }
static void truncate_half(unsigned char *buf, size_t *len) { (void)buf, *len = *len - 10; }
static void garbage_header(unsigned char *buf, size_t *len) { (void)len, memcpy(buf, "garbage!", 8); }
static void empty_file(unsigned char *buf, size_t *len) { (void)buf, *len = 0; }
static void longer_payload(unsigned char *buf, size_t *len) { buf[(*len)++] = 'x'; }

START_TEST(cache_corrupt_payload) { corrupt_and_check(flip_last); }
END_TEST
START_TEST(cache_truncated) { corrupt_and_check(truncate_half); }
END_TEST
START_TEST(cache_bad_header) { corrupt_and_check(garbage_header); }
END_TEST
START_TEST(cache_empty_file) { corrupt_and_check(empty_file); }
END_TEST
START_TEST(cache_extra_bytes) { corrupt_and_check(longer_payload); }
END_TEST

START_TEST(cache_disabled)
{
    char out[64];
    ck_assert(cache_dir_resolve("", out, sizeof out));
    ck_assert_str_eq(out, "");
    char err[64];
    void *data;
    size_t size;
    ck_assert(cache_put("", "ptx", key1, "x", 1, err, sizeof err));
    ck_assert_int_eq(cache_get("", "ptx", key1, &data, &size, err, sizeof err), CACHE_MISS);
}
END_TEST

START_TEST(cache_dir_from_environment)
{
    char out[4096];
    setenv("LAC_CACHE_DIR", "/x/lac-cache", 1);
    ck_assert(cache_dir_resolve(NULL, out, sizeof out));
    ck_assert_str_eq(out, "/x/lac-cache");
    ck_assert(cache_dir_resolve("/explicit", out, sizeof out));
    ck_assert_str_eq(out, "/explicit");
    unsetenv("LAC_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    ck_assert(cache_dir_resolve(NULL, out, sizeof out));
    ck_assert_str_eq(out, "/xdg/lac");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    ck_assert(cache_dir_resolve(NULL, out, sizeof out));
    ck_assert_str_eq(out, "/home/u/.cache/lac");
    unsetenv("HOME");
    ck_assert(!cache_dir_resolve(NULL, out, sizeof out));
}
END_TEST

/* Writers in 8 processes, each putting its own 64 KiB payload under the same
 * key 20 times while a reader reads: every read is a hit of one writer's
 * whole payload (or a miss before the first write), never corrupt. */
START_TEST(cache_concurrent_writers)
{
    dir_fresh();
    enum { NPROC = 8, ROUNDS = 20, SIZE = 65536 };
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            static unsigned char buf[SIZE];
            memset(buf, 'A' + p, SIZE);
            char err[512];
            for (int r = 0; r < ROUNDS; r++)
                if (!cache_put(dir, "cubin", key1, buf, SIZE, err, sizeof err)) _exit(1);
            _exit(0);
        }
    }
    int hits = 0;
    for (int r = 0; r < 200; r++) {
        void *data;
        size_t size;
        char err[512];
        CacheResult cr = cache_get(dir, "cubin", key1, &data, &size, err, sizeof err);
        ck_assert_msg(cr == CACHE_HIT || cr == CACHE_MISS, "read %d: %s (%s)", r, cache_result_name(cr), err);
        if (cr == CACHE_HIT) {
            hits++;
            ck_assert_uint_eq(size, SIZE);
            unsigned char c = ((unsigned char *)data)[0];
            for (size_t i = 0; i < SIZE; i++) ck_assert_int_eq(((unsigned char *)data)[i], c);
            free(data);
        }
    }
    for (int p = 0; p < NPROC; p++) {
        int status;
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    (void)hits;
    /* No temporary file is left behind. */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s/cubin' | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
    dir_remove();
}
END_TEST

/* ---- the tuning database */

static TuneRecord record(const char *variant, const char *gpu, const char *cls, const char *config, double ms)
{
    TuneRecord r;
    memset(&r, 0, sizeof r);
    snprintf(r.key.variant, sizeof r.key.variant, "%s", variant);
    snprintf(r.key.kernel, sizeof r.key.kernel, "fwd");
    snprintf(r.key.shape_class, sizeof r.key.shape_class, "%s", cls);
    snprintf(r.key.gpu, sizeof r.key.gpu, "%s", gpu);
    snprintf(r.key.cc, sizeof r.key.cc, "9.0");
    snprintf(r.key.driver, sizeof r.key.driver, "13000");
    snprintf(r.key.lac, sizeof r.key.lac, "0.1.0");
    snprintf(r.config, sizeof r.config, "%s", config);
    r.ms = ms;
    r.time = 1764633600;
    return r;
}

START_TEST(tunedb_store_lookup_replace)
{
    dir_fresh();
    char err[512];
    TuneRecord a = record("abcd", "NVIDIA H100 80GB HBM3", "T4096 BH64 K128 V128 bf16", "block_v=64 schedule=full", 0.175);
    TuneRecord b = record("abcd", "NVIDIA H100 80GB HBM3", "T8192 BH32 K128 V128 bf16", "block_v=32 schedule=split", 0.2);
    TuneRecord out;
    ck_assert(!tunedb_lookup(dir, &a.key, &out)); /* no file */
    ck_assert(tunedb_store(dir, &a, err, sizeof err));
    ck_assert(tunedb_store(dir, &b, err, sizeof err));
    ck_assert(tunedb_lookup(dir, &a.key, &out));
    ck_assert_str_eq(out.config, "block_v=64 schedule=full");
    ck_assert_double_eq_tol(out.ms, 0.175, 1e-9);
    ck_assert(tunedb_lookup(dir, &b.key, &out));
    ck_assert_str_eq(out.config, "block_v=32 schedule=split");
    /* The same key again replaces the record: one line per key. */
    TuneRecord a2 = a;
    snprintf(a2.config, sizeof a2.config, "block_v=32 schedule=full");
    ck_assert(tunedb_store(dir, &a2, err, sizeof err));
    ck_assert(tunedb_lookup(dir, &a.key, &out));
    ck_assert_str_eq(out.config, "block_v=32 schedule=full");
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(wc -l < '%s/tune.db') -eq 2", dir);
    ck_assert_int_eq(system(cmd), 0);
    struct stat st;
    char path[4200];
    snprintf(path, sizeof path, "%s/tune.db", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    dir_remove();
}
END_TEST

START_TEST(tunedb_unknown_gpu_and_versions)
{
    dir_fresh();
    char err[512];
    TuneRecord a = record("abcd", "NVIDIA H100 80GB HBM3", "T4096 BH64 K128 V128 bf16", "c", 1);
    ck_assert(tunedb_store(dir, &a, err, sizeof err));
    TuneRecord out;
    TuneKey k = a.key;
    snprintf(k.gpu, sizeof k.gpu, "NVIDIA A100-SXM4-80GB");
    ck_assert(!tunedb_lookup(dir, &k, &out)); /* another GPU: tune there */
    k = a.key;
    snprintf(k.driver, sizeof k.driver, "12040");
    ck_assert(!tunedb_lookup(dir, &k, &out));
    k = a.key;
    snprintf(k.lac, sizeof k.lac, "0.2.0");
    ck_assert(!tunedb_lookup(dir, &k, &out));
    k = a.key;
    snprintf(k.variant, sizeof k.variant, "ffff");
    ck_assert(!tunedb_lookup(dir, &k, &out));
    ck_assert(tunedb_lookup(dir, &a.key, &out));
    dir_remove();
}
END_TEST

START_TEST(tunedb_foreign_lines_kept)
{
    dir_fresh();
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/tune.db", dir);
    FILE *f = fopen(path, "w");
    fputs("# a comment someone wrote\nlac-tune 1\tbroken\n\nlac-tune 9\tfrom\tthe\tfuture\n", f);
    fclose(f);
    TuneRecord a = record("abcd", "GPU\twith tab", "T64 BH1 K16 V16 f32", "c", 1);
    ck_assert(tunedb_store(dir, &a, err, sizeof err));
    TuneRecord out;
    ck_assert(tunedb_lookup(dir, &a.key, &out)); /* the tab became a space on both sides */
    ck_assert_str_eq(out.key.gpu, "GPU with tab");
    char cmd[8800];
    snprintf(cmd, sizeof cmd, "grep -q '^# a comment someone wrote$' '%s' && grep -q 'from' '%s'", path, path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert(!tunedb_parse_line("lac-tune 1\ta\tb", &out));
    ck_assert(!tunedb_parse_line("", &out));
    dir_remove();
}
END_TEST

START_TEST(tunedb_format_parse_roundtrip)
{
    TuneRecord a = record("0123456789abcdef", "NVIDIA H100 80GB HBM3", "T4096 BH64 K128 V128 bf16",
                          "chunk=64 subchunk=16 block_k=128 block_v=64 warps=8 stages=3 schedule=full", 0.1234);
    char line[4096];
    tunedb_format(&a, line, sizeof line);
    ck_assert(line[strlen(line) - 1] == '\n');
    line[strlen(line) - 1] = 0;
    TuneRecord b;
    ck_assert(tunedb_parse_line(line, &b));
    ck_assert_str_eq(b.key.gpu, a.key.gpu);
    ck_assert_str_eq(b.config, a.config);
    ck_assert_double_eq_tol(b.ms, 0.1234, 1e-9);
    ck_assert_int_eq(b.time, a.time);
}
END_TEST

/* 8 processes store 20 distinct keys each at once: none is lost. */
START_TEST(tunedb_concurrent_writers)
{
    dir_fresh();
    enum { NPROC = 8, EACH = 20 };
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            for (int i = 0; i < EACH; i++) {
                char cls[64], err[512];
                snprintf(cls, sizeof cls, "T%d BH%d", 64 << (i % 8), p);
                TuneRecord r = record("v", "gpu", cls, "c", i);
                snprintf(r.key.variant, sizeof r.key.variant, "v%d", i);
                if (!tunedb_store(dir, &r, err, sizeof err)) _exit(1);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < NPROC; p++) {
        int status;
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (int p = 0; p < NPROC; p++)
        for (int i = 0; i < EACH; i++) {
            char cls[64];
            snprintf(cls, sizeof cls, "T%d BH%d", 64 << (i % 8), p);
            TuneRecord r = record("v", "gpu", cls, "c", i), out;
            snprintf(r.key.variant, sizeof r.key.variant, "v%d", i);
            ck_assert_msg(tunedb_lookup(dir, &r.key, &out), "lost: process %d record %d", p, i);
            ck_assert_double_eq_tol(out.ms, i, 1e-9);
        }
    dir_remove();
}
END_TEST

START_TEST(shape_classes)
{
    char c[64];
    tune_shape_class(4, 4096, 16, 128, 128, "bf16", c, sizeof c);
    ck_assert_str_eq(c, "T4096 BH64 K128 V128 bf16");
    tune_shape_class(4, 4000, 16, 128, 128, "bf16", c, sizeof c);
    ck_assert_str_eq(c, "T4096 BH64 K128 V128 bf16"); /* the same class */
    tune_shape_class(1, 1, 1, 16, 32, "f32", c, sizeof c);
    ck_assert_str_eq(c, "T64 BH1 K16 V32 f32");
    tune_shape_class(3, 4097, 5, 64, 64, "f16", c, sizeof c);
    ck_assert_str_eq(c, "T8192 BH16 K64 V64 f16");
}
END_TEST

/* ---- float formats */

START_TEST(fp_known_values)
{
    ck_assert_uint_eq(fp_bf16_from_double(1.0), 0x3f80);
    ck_assert_uint_eq(fp_bf16_from_double(-2.0), 0xc000);
    ck_assert_uint_eq(fp_f16_from_double(1.0), 0x3c00);
    ck_assert_uint_eq(fp_f16_from_double(65504.0), 0x7bff);
    ck_assert_uint_eq(fp_f16_from_double(1e6), 0x7c00); /* overflow: infinity */
    ck_assert(fp_bf16_to_double(fp_bf16_from_double(3.140625)) == 3.140625);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *t = tcase_create("hash");
    tcase_add_test(t, sha256_vectors);
    tcase_add_test(t, sha256_strings_are_delimited);
    suite_add_tcase(s, t);
    t = tcase_create("cache");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, cache_miss_put_hit);
    tcase_add_test(t, cache_permissions);
    tcase_add_test(t, cache_corrupt_payload);
    tcase_add_test(t, cache_truncated);
    tcase_add_test(t, cache_bad_header);
    tcase_add_test(t, cache_empty_file);
    tcase_add_test(t, cache_extra_bytes);
    tcase_add_test(t, cache_disabled);
    tcase_add_test(t, cache_dir_from_environment);
    tcase_add_test(t, cache_concurrent_writers);
    suite_add_tcase(s, t);
    t = tcase_create("tunedb");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, tunedb_store_lookup_replace);
    tcase_add_test(t, tunedb_unknown_gpu_and_versions);
    tcase_add_test(t, tunedb_foreign_lines_kept);
    tcase_add_test(t, tunedb_format_parse_roundtrip);
    tcase_add_test(t, tunedb_concurrent_writers);
    tcase_add_test(t, shape_classes);
    suite_add_tcase(s, t);
    t = tcase_create("fp");
    tcase_add_test(t, fp_known_values);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(store_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? 0 : 1;
}
