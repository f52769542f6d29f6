/*
 * tunedb.c: the tuning database (rt_internal.h has the format).
 *
 * Readers parse the file as it is; writers serialize on an flock of a lock
 * file beside it, read the current file, drop the record with their key,
 * append theirs and rename a new file into place. Lines that are not
 * records (an older format, a hand edit) are carried over unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_internal.h"

#define TUNEDB_MAGIC "lac-tune 1"
#define TUNEDB_MAX_BYTES ((size_t)64 << 20)
enum { TUNEDB_LINE_MAX = 4096 };

static int pow2_at_least(long x, int lo)
{
    long p = lo;
    while (p < x && p < (1L << 30)) p *= 2;
    return (int)p;
}

void tune_shape_class(int B, int T, int H, int dk, int dv, const char *dtype, char *out, size_t n)
{
    snprintf(out, n, "T%d BH%d K%d V%d %s", pow2_at_least(T, 64), pow2_at_least((long)B * H, 1), dk, dv, dtype);
}

/* Copy a field, tabs and newlines turned into spaces. */
static void field_put(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++) dst[i] = (src[i] == '\t' || src[i] == '\n' || src[i] == '\r') ? ' ' : src[i];
    dst[i] = 0;
}

void tunedb_format(const TuneRecord *r, char *out, size_t n)
{
    char f[9][TUNE_FIELD_MAX];
    field_put(f[0], sizeof f[0], r->key.variant);
    field_put(f[1], sizeof f[1], r->key.kernel);
    field_put(f[2], sizeof f[2], r->key.shape_class);
    field_put(f[3], sizeof f[3], r->key.gpu);
    field_put(f[4], sizeof f[4], r->key.cc);
    field_put(f[5], sizeof f[5], r->key.driver);
    field_put(f[6], sizeof f[6], r->key.lac);
    field_put(f[7], sizeof f[7], r->config);
    snprintf(out, n, TUNEDB_MAGIC "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.4f\t%lld\n", f[0], f[1], f[2], f[3], f[4], f[5],
             f[6], f[7], r->ms, r->time);
}

/* Split at tabs: up to `max` fields, pointers into `line` (modified). */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

static bool field_get(char *dst, size_t n, const char *src)
{
    if (!src[0] || strlen(src) >= n) return false;
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

bool tunedb_parse_line(const char *line, TuneRecord *out)
{
    char buf[TUNEDB_LINE_MAX];
    if (strlen(line) >= sizeof buf) return false;
    strcpy(buf, line);
    char *f[12];
    if (split_tabs(buf, f, 12) != 11 || strcmp(f[0], TUNEDB_MAGIC) != 0) return false;
    memset(out, 0, sizeof *out);
    if (!field_get(out->key.variant, sizeof out->key.variant, f[1]) ||
        !field_get(out->key.kernel, sizeof out->key.kernel, f[2]) ||
        !field_get(out->key.shape_class, sizeof out->key.shape_class, f[3]) ||
        !field_get(out->key.gpu, sizeof out->key.gpu, f[4]) || !field_get(out->key.cc, sizeof out->key.cc, f[5]) ||
        !field_get(out->key.driver, sizeof out->key.driver, f[6]) ||
        !field_get(out->key.lac, sizeof out->key.lac, f[7]) || !field_get(out->config, sizeof out->config, f[8]))
        return false;
    char *end;
    out->ms = strtod(f[9], &end);
    if (end == f[9] || *end || !(out->ms >= 0)) return false;
    out->time = strtoll(f[10], &end, 10);
    if (end == f[10] || *end) return false;
    return true;
}

static bool key_eq(const TuneKey *a, const TuneKey *b)
{
    return strcmp(a->variant, b->variant) == 0 && strcmp(a->kernel, b->kernel) == 0 &&
           strcmp(a->shape_class, b->shape_class) == 0 && strcmp(a->gpu, b->gpu) == 0 &&
           strcmp(a->cc, b->cc) == 0 && strcmp(a->driver, b->driver) == 0 && strcmp(a->lac, b->lac) == 0;
}

/* The key as a record would hold it (tabs replaced), for comparisons. */
static void key_norm(const TuneKey *k, TuneKey *out)
{
    field_put(out->variant, sizeof out->variant, k->variant);
    field_put(out->kernel, sizeof out->kernel, k->kernel);
    field_put(out->shape_class, sizeof out->shape_class, k->shape_class);
    field_put(out->gpu, sizeof out->gpu, k->gpu);
    field_put(out->cc, sizeof out->cc, k->cc);
    field_put(out->driver, sizeof out->driver, k->driver);
    field_put(out->lac, sizeof out->lac, k->lac);
}

static bool db_path(const char *dir, const char *name, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    return w >= 0 && (size_t)w < n;
}

/* The file's text (NUL-terminated, malloc'ed): "" when there is none;
 * NULL with errno set when it cannot be read (then it must not be
 * rewritten from what was read). */
static char *db_read(const char *path)
{
    size_t len;
    char *text = store_file_read(path, TUNEDB_MAX_BYTES, &len);
    if (!text && errno == ENOENT) return strdup("");
    return text;
}

bool tunedb_lookup(const char *dir, const TuneKey *key, TuneRecord *out)
{
    char path[4096];
    if (!dir[0] || !db_path(dir, "tune.db", path, sizeof path)) return false;
    char *text = db_read(path);
    if (!text) return false;
    TuneKey k;
    key_norm(key, &k);
    bool found = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        TuneRecord r;
        if (tunedb_parse_line(line, &r) && key_eq(&r.key, &k)) {
            *out = r;
            found = true; /* the last one wins */
        }
    }
    free(text);
    return found;
}

bool tunedb_store(const char *dir, const TuneRecord *rec, char *err, size_t errlen)
{
    if (!dir[0]) return true;
    char path[4096], lock[4096], tmp[4096];
    if (!db_path(dir, "tune.db", path, sizeof path) || !db_path(dir, "tune.db.lock", lock, sizeof lock) ||
        !db_path(dir, ".tune.db.XXXXXX", tmp, sizeof tmp)) {
        store_msg(err, errlen, "tuning database path too long under %s", dir);
        return false;
    }
    if (!cache_dir_make(dir, err, errlen)) return false;
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        store_msg(err, errlen, "cannot open %s: %s", lock, strerror(errno));
        return false;
    }
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            store_msg(err, errlen, "cannot lock %s: %s", lock, strerror(errno));
            close(lfd);
            return false;
        }
    }
    bool ok = false;
    char *text = db_read(path);
    if (!text) {
        store_msg(err, errlen, "cannot read the tuning database %s: %s", path, strerror(errno));
        goto out;
    }
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        store_msg(err, errlen, "cannot write the tuning database in %s: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        goto out;
    }
    TuneKey k;
    key_norm(&rec->key, &k);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        TuneRecord r;
        if (tunedb_parse_line(line, &r) && key_eq(&r.key, &k)) continue; /* replaced */
        fputs(line, f);
        fputc('\n', f);
    }
    char out[TUNEDB_LINE_MAX];
    tunedb_format(rec, out, sizeof out);
    fputs(out, f);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        store_msg(err, errlen, "cannot write the tuning database %s: %s", path, strerror(errno));
        unlink(tmp);
    }
out:
    free(text);
    flock(lfd, LOCK_UN);
    close(lfd);
    return ok;
}
