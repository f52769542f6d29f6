/*
 * test_api.c: the public runtime API (runtime/lac_runtime.h) on the CPU
 * "driver" of tests/gpu/fake_cuda.c, which computes dsl_examples/linear.la's
 * state-on-chip kernel on the host: the whole JIT path (compile in process,
 * caches, the driver's linker, tuning, the launch) without a GPU.
 *
 *   LAC_CUDA_DRIVER=libfakecuda.so LAC_SOURCE_DIR=... lac_api_test
 *
 * Covered: forward against the reference; errors with their status and
 * message (bad source with file:line:col, shapes, dtypes, strides, NULLs);
 * the warm start (a second context finds the tuning database and the cubin
 * cache); corrupt cache entries rebuilt; tuning that avoids a slow
 * configuration; LAC_TUNE=never's default; JIT, out-of-memory and launch
 * failures; no driver; several threads launching at once.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lac_runtime.h"

static char cache[1024];
static char linear_path[4096], elu_path[4096];
static const char *fake;

static void fresh_cache(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(cache, sizeof cache, "%s/lac-api-XXXXXX", t && t[0] ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(cache));
}

static void remove_cache(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    ck_assert_int_eq(system(cmd), 0);
}

static lac_context *context(lac_tune_mode mode)
{
    lac_context_options o = {0};
    o.driver = fake;
    o.cache_dir = cache;
    o.tune = mode;
    lac_context *cx = NULL;
    lac_status st = lac_context_create(&o, &cx);
    ck_assert_msg(st == LAC_OK, "%s: %s", lac_status_name(st), lac_last_error());
    return cx;
}

static lac_variant *linear(lac_context *cx)
{
    lac_variant *v = NULL;
    lac_status st = lac_variant_load(cx, linear_path, NULL, 0, &v);
    ck_assert_msg(st == LAC_OK, "%s: %s", lac_status_name(st), lac_last_error());
    return v;
}

/* ---- a problem on the device: inputs, o, final state */

typedef struct Problem {
    int B, T, H;
    double *in[3];
    lac_tensor t[3];
    uint64_t o, s;
    lac_forward_args a;
} Problem;

static uint16_t bf16_of(double x)
{
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static double bf16_to(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void problem_make(lac_context *cx, lac_variant *v, Problem *p, int B, int T, int H)
{
    memset(p, 0, sizeof *p);
    p->B = B, p->T = T, p->H = H;
    size_t n = (size_t)B * T * H * 128;
    for (int i = 0; i < 3; i++) p->in[i] = malloc(n * sizeof(double));
    ck_assert_int_eq(lac_random_inputs(v, B, T, H, 7, p->in), LAC_OK);
    uint16_t *h = malloc(n * 2);
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < n; k++) {
            h[k] = bf16_of(p->in[i][k]);
            p->in[i][k] = bf16_to(h[k]);
        }
        ck_assert_int_eq(lac_device_alloc(cx, n * 2, &p->t[i].data), LAC_OK);
        ck_assert_int_eq(lac_copy_to_device(cx, p->t[i].data, h, n * 2), LAC_OK);
        p->t[i] = (lac_tensor){p->t[i].data, LAC_BF16, 4, {B, T, H, 128}, {0}};
    }
    free(h);
    ck_assert_int_eq(lac_device_alloc(cx, n * 2, &p->o), LAC_OK);
    ck_assert_int_eq(lac_device_alloc(cx, (size_t)B * H * 128 * 128 * 4, &p->s), LAC_OK);
    p->a.inputs = p->t;
    p->a.ninputs = 3;
    p->a.o = (lac_tensor){p->o, LAC_BF16, 4, {B, T, H, 128}, {0}};
    p->a.final_state = (lac_tensor){p->s, LAC_F32, 4, {B, H, 128, 128}, {0}};
}

static void problem_free(lac_context *cx, Problem *p)
{
    for (int i = 0; i < 3; i++) {
        free(p->in[i]);
        lac_device_free(cx, p->t[i].data);
    }
    lac_device_free(cx, p->o);
    lac_device_free(cx, p->s);
}

/* The relative L2 error of o against the float64 reference. */
static double problem_error(lac_context *cx, lac_variant *v, Problem *p)
{
    size_t n = (size_t)p->B * p->T * p->H * 128;
    uint16_t *got = malloc(n * 2);
    double *ref = malloc(n * sizeof(double));
    ck_assert_int_eq(lac_synchronize(cx, NULL), LAC_OK);
    ck_assert_int_eq(lac_copy_to_host(cx, got, p->o, n * 2), LAC_OK);
    ck_assert_int_eq(lac_reference_forward(v, p->B, p->T, p->H, (const double *const *)p->in, NULL, NULL, ref, NULL,
                                           NULL),
                     LAC_OK);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = bf16_to(got[i]) - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    free(got);
    free(ref);
    return sqrt(num / den);
}

/* ---- tests */

START_TEST(forward_matches_reference)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_FIRST);
    lac_variant *v = linear(cx);
    lac_variant_info info;
    ck_assert_int_eq(lac_variant_get_info(v, &info), LAC_OK);
    ck_assert_str_eq(info.name, "linear");
    ck_assert_int_eq(info.dk, 128);
    ck_assert_int_eq(info.ninputs, 3);
    ck_assert_int_eq(strlen(info.hash), 16);
    lac_input_info in;
    ck_assert_int_eq(lac_variant_input(v, 0, &in), LAC_OK);
    ck_assert_str_eq(in.name, "q");
    ck_assert_int_eq(in.ndim, 4);
    ck_assert_int_eq(in.dims[0], LAC_DIM_B);
    ck_assert_int_eq(in.dims[3], 128);
    ck_assert_int_eq(lac_variant_input(v, 3, &in), LAC_ERR_INVALID);
    Problem p;
    problem_make(cx, v, &p, 2, 77, 3);
    ck_assert_int_eq(lac_forward(v, &p.a), LAC_OK);
    double e = problem_error(cx, v, &p);
    ck_assert_msg(e < 3e-3, "rel L2 %g", e);
    lac_tune_result r;
    ck_assert_int_eq(lac_tuned_config(v, 2, 77, 3, &r), LAC_OK);
    ck_assert_str_eq(r.shape_class, "T128 BH8 K128 V128 bf16");
    ck_assert_ptr_nonnull(strstr(r.config, "schedule=full")); /* the fake has no split kernels */
    problem_free(cx, &p);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(warm_start_uses_database_and_cubins)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_FIRST);
    lac_variant *v = linear(cx);
    lac_tune_result r1, r2;
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 0, &r1), LAC_OK);
    ck_assert_int_eq(r1.from_database, 0);
    ck_assert_int_eq(r1.candidates, 4);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    /* Remove the PTX cache: a warm start must not need it (cubins suffice). */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/ptx'", cache);
    ck_assert_int_eq(system(cmd), 0);
    cx = context(LAC_TUNE_FIRST);
    v = linear(cx);
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 0, &r2), LAC_OK);
    ck_assert_int_eq(r2.from_database, 1);
    ck_assert_str_eq(r2.config, r1.config);
    ck_assert_msg(r2.seconds < 5, "warm lookup took %.3f s", r2.seconds); /* generous: sanitizers */
    snprintf(cmd, sizeof cmd, "test ! -e '%s/ptx'", cache);
    ck_assert_int_eq(system(cmd), 0); /* nothing was compiled */
    /* force tunes again. */
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 1, &r2), LAC_OK);
    ck_assert_int_eq(r2.from_database, 0);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(corrupt_cache_is_rebuilt)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    lac_variant *v = linear(cx);
    Problem p;
    problem_make(cx, v, &p, 1, 65, 2);
    ck_assert_int_eq(lac_forward(v, &p.a), LAC_OK);
    problem_free(cx, &p);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    /* Flip a byte in every cached entry, then run again. */
    char cmd[8800];
    snprintf(cmd, sizeof cmd,
             "for f in '%s'/ptx/* '%s'/cubin/*; do printf 'X' | dd of=\"$f\" bs=1 seek=200 conv=notrunc 2>/dev/null; "
             "done",
             cache, cache);
    ck_assert_int_eq(system(cmd), 0);
    cx = context(LAC_TUNE_NEVER);
    v = linear(cx);
    problem_make(cx, v, &p, 1, 65, 2);
    ck_assert_int_eq(lac_forward(v, &p.a), LAC_OK);
    double e = problem_error(cx, v, &p);
    ck_assert_msg(e < 3e-3, "rel L2 %g after rebuilding", e);
    problem_free(cx, &p);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(tuner_avoids_slow_config)
{
    fresh_cache();
    setenv("LAC_FAKE_SLOW_BV", "64", 1);
    lac_context *cx = context(LAC_TUNE_FIRST);
    lac_variant *v = linear(cx);
    lac_tune_result r;
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 0, &r), LAC_OK);
    ck_assert_msg(strstr(r.config, "block_v=32") != NULL, "chose %s", r.config);
    unsetenv("LAC_FAKE_SLOW_BV");
    setenv("LAC_FAKE_SLOW_BV", "32", 1);
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 1, &r), LAC_OK);
    ck_assert_msg(strstr(r.config, "block_v=64") != NULL, "chose %s", r.config);
    unsetenv("LAC_FAKE_SLOW_BV");
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(never_tune_takes_default)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    lac_variant *v = linear(cx);
    lac_tune_result r;
    ck_assert_int_eq(lac_tuned_config(v, 1, 64, 2, &r), LAC_OK);
    /* linear.la's default: the first value of each tuning set. */
    ck_assert_str_eq(r.config, "chunk=64 subchunk=16 block_k=128 block_v=64 warps=8 stages=3 schedule=full");
    ck_assert_int_eq(r.candidates, 0);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(pinned_knob)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_FIRST);
    const char *sets[] = {"block_v=64", "stages=3"};
    lac_variant *v = NULL;
    ck_assert_int_eq(lac_variant_load(cx, linear_path, sets, 2, &v), LAC_OK);
    lac_variant_info info;
    lac_variant_get_info(v, &info);
    ck_assert_int_eq(info.nconfigs, 1);
    lac_tune_result r;
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 0, &r), LAC_OK);
    ck_assert_ptr_nonnull(strstr(r.config, "block_v=64 warps=8 stages=3"));
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

/* linear_elu at K = 256: no configuration of its tuning space (block_v 32
 * and 64, stages 2 and 3) fits sm_90's shared memory, so the candidates are
 * the two block_v with one stage, and the default of them builds; with
 * stages pinned at 2 nothing builds. At K = 128 the space stays. */
START_TEST(one_stage_fallback)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    const char *sets[] = {"K=256", "V=128", "stages=2"};
    lac_variant *v = NULL;
    ck_assert_msg(lac_variant_load(cx, elu_path, sets, 2, &v) == LAC_OK, "%s", lac_last_error());
    lac_variant_info info;
    lac_variant_get_info(v, &info);
    ck_assert_int_eq(info.nconfigs, 2);
    /* The fake driver knows linear's kernels only: that the PTX was built
     * shows as a module without the kernel's name. */
    lac_tune_result r;
    ck_assert_int_ne(lac_tune(v, 1, 64, 2, 0, &r), LAC_OK);
    ck_assert_msg(strstr(lac_last_error(), "the module has no state-on-chip kernel"), "%s", lac_last_error());
    lac_variant_destroy(v);
    ck_assert_msg(lac_variant_load(cx, elu_path, sets, 3, &v) == LAC_OK, "%s", lac_last_error());
    lac_variant_get_info(v, &info);
    ck_assert_int_eq(info.nconfigs, 2); /* block_v 32 and 64 at two stages */
    ck_assert_int_ne(lac_tune(v, 1, 64, 2, 0, &r), LAC_OK);
    ck_assert_msg(strstr(lac_last_error(), "bytes of shared memory"), "%s", lac_last_error());
    lac_variant_destroy(v);
    const char *fit[] = {"K=128", "V=128"};
    ck_assert_msg(lac_variant_load(cx, elu_path, fit, 2, &v) == LAC_OK, "%s", lac_last_error());
    lac_variant_get_info(v, &info);
    ck_assert_int_eq(info.nconfigs, 4);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(source_errors)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    const char *bad = "attention x {\n  param K = 128, V = 128;\n  input q, k : bf16[B, T, H, K];\n"
                      "  input v : bf16[B, T, H, V];\n  decay per_head(zz);\n}\n";
    lac_variant *v = (lac_variant *)1;
    ck_assert_int_eq(lac_variant_load_source(cx, "bad.la", bad, strlen(bad), NULL, 0, &v), LAC_ERR_SOURCE);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(lac_last_error(), "bad.la:5:") != NULL, "message: %s", lac_last_error());
    ck_assert_msg(strstr(lac_last_error(), "^") != NULL, "no caret: %s", lac_last_error());
    ck_assert_int_eq(lac_variant_load(cx, "/nonexistent/x.la", NULL, 0, &v), LAC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "/nonexistent/x.la"));
    const char *sets[] = {"K"};
    ck_assert_int_eq(lac_variant_load(cx, linear_path, sets, 1, &v), LAC_ERR_INVALID);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(argument_errors)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    lac_variant *v = linear(cx);
    Problem p;
    problem_make(cx, v, &p, 2, 64, 3);
    ck_assert_int_eq(lac_forward(NULL, &p.a), LAC_ERR_INVALID);
    ck_assert_int_eq(lac_forward(v, NULL), LAC_ERR_INVALID);
    lac_forward_args a = p.a;
    a.ninputs = 2;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "3 inputs"));
    lac_tensor t[3] = {p.t[0], p.t[1], p.t[2]};
    a = p.a;
    a.inputs = t;
    t[1].shape[3] = 64;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_INVALID);
    ck_assert_msg(strstr(lac_last_error(), "input 1 (k): shape [2, 64, 3, 64], expected [2, 64, 3, 128]"),
                  "message: %s", lac_last_error());
    t[1] = p.t[1];
    t[2].dtype = LAC_F16;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "dtype f16, expected bf16"));
    t[2] = p.t[2];
    t[0].strides[0] = 64 * 3 * 128, t[0].strides[1] = 128, t[0].strides[2] = 64 * 128, t[0].strides[3] = 1;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "not contiguous"));
    /* Explicit contiguous strides are fine. */
    t[0].strides[0] = 64 * 3 * 128, t[0].strides[1] = 3 * 128, t[0].strides[2] = 128, t[0].strides[3] = 1;
    ck_assert_int_eq(lac_forward(v, &a), LAC_OK);
    t[0] = p.t[0];
    a.o.data = 0;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_INVALID);
    a = p.a;
    a.final_state.shape[2] = 64;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_INVALID);
    a = p.a;
    a.final_z = a.final_state;
    ck_assert_int_eq(lac_forward(v, &a), LAC_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "not normalized"));
    lac_tune_result r;
    ck_assert_int_eq(lac_tune(v, 0, 64, 1, 0, &r), LAC_ERR_INVALID);
    ck_assert_int_eq(lac_context_create(NULL, NULL), LAC_ERR_INVALID);
    ck_assert_str_eq(lac_status_name(LAC_ERR_JIT), "LAC_ERR_JIT");
    ck_assert_str_eq(lac_status_name((lac_status)99), "LAC_STATUS_UNKNOWN");
    problem_free(cx, &p);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

/* An environment variable of the fake makes one kind of call fail. */
static void failing(const char *env, lac_status want, const char *text)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    lac_variant *v = linear(cx);
    Problem p;
    problem_make(cx, v, &p, 1, 64, 1);
    setenv(env, "1", 1);
    lac_status st = lac_forward(v, &p.a);
    unsetenv(env);
    ck_assert_msg(st == want, "%s: got %s: %s", env, lac_status_name(st), lac_last_error());
    ck_assert_msg(strstr(lac_last_error(), text) != NULL, "%s: message: %s", env, lac_last_error());
    problem_free(cx, &p);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}

START_TEST(jit_failure) { failing("LAC_FAKE_JIT_FAIL", LAC_ERR_JIT, "ptxas"); }
END_TEST
START_TEST(launch_failure) { failing("LAC_FAKE_LAUNCH_FAIL", LAC_ERR_LAUNCH, "CUDA_ERROR_LAUNCH_FAILED"); }
END_TEST

START_TEST(out_of_memory)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_NEVER);
    setenv("LAC_FAKE_OOM", "1", 1);
    uint64_t ptr = 1;
    lac_status st = lac_device_alloc(cx, 1 << 20, &ptr);
    unsetenv("LAC_FAKE_OOM");
    ck_assert_int_eq(st, LAC_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "CUDA_ERROR_OUT_OF_MEMORY"));
    ck_assert_uint_eq(ptr, 0);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

/* Tuning needs scratch memory; without it the forward runs untuned. */
START_TEST(tuning_without_memory_falls_back)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_FIRST);
    lac_variant *v = linear(cx);
    Problem p;
    problem_make(cx, v, &p, 1, 64, 2);
    setenv("LAC_FAKE_OOM", "1", 1);
    lac_status st = lac_forward(v, &p.a);
    unsetenv("LAC_FAKE_OOM");
    ck_assert_msg(st == LAC_OK, "%s: %s", lac_status_name(st), lac_last_error());
    double e = problem_error(cx, v, &p);
    ck_assert_msg(e < 3e-3, "rel L2 %g", e);
    /* Not kept: with memory back, the next call tunes. */
    lac_tune_result r;
    ck_assert_int_eq(lac_tune(v, 1, 64, 2, 0, &r), LAC_OK);
    ck_assert_int_eq(r.candidates, 4);
    problem_free(cx, &p);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

START_TEST(no_driver)
{
    lac_context_options o = {0};
    o.driver = "/nonexistent/libcuda.so.1";
    lac_context *cx = (lac_context *)1;
    ck_assert_int_eq(lac_context_create(&o, &cx), LAC_ERR_NO_DRIVER);
    ck_assert_ptr_null(cx);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "no CUDA driver"));
    o.driver = fake;
    o.device = 5;
    ck_assert_int_eq(lac_context_create(&o, &cx), LAC_ERR_NO_DEVICE);
}
END_TEST

/* Offline compilation needs no context. */
START_TEST(compile_offline)
{
    FILE *f = fopen(linear_path, "rb");
    ck_assert_ptr_nonnull(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *ptx = NULL;
    ck_assert_int_eq(lac_compile_ptx("linear.la", buf, n, "sm_80", NULL, 0, &ptx), LAC_OK);
    ck_assert_ptr_nonnull(strstr(ptx, ".target sm_80"));
    ck_assert_ptr_nonnull(strstr(ptx, "mma.sync"));
    free(ptx);
    ck_assert_int_eq(lac_compile_ptx("linear.la", buf, n, "sm_75", NULL, 0, &ptx), LAC_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "sm_75"));
    ck_assert_int_eq(lac_compile_ptx("x.la", "attention {", 11, NULL, NULL, 0, &ptx), LAC_ERR_SOURCE);
    ck_assert_ptr_nonnull(strstr(lac_last_error(), "x.la:1:"));
}
END_TEST

/* ---- several threads */

typedef struct Job {
    lac_context *cx;
    lac_variant *v;
    Problem p;
    lac_status st;
    char msg[512];
} Job;

static void *job_run(void *arg)
{
    Job *j = arg;
    j->st = LAC_OK;
    for (int r = 0; r < 3 && j->st == LAC_OK; r++) j->st = lac_forward(j->v, &j->p.a);
    if (j->st == LAC_OK) j->st = lac_synchronize(j->cx, NULL);
    if (j->st != LAC_OK) snprintf(j->msg, sizeof j->msg, "%s", lac_last_error());
    return NULL;
}

START_TEST(threads_share_a_variant)
{
    fresh_cache();
    lac_context *cx = context(LAC_TUNE_FIRST);
    lac_variant *v = linear(cx);
    enum { N = 4 };
    Job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i].cx = cx;
        jobs[i].v = v;
        /* Two shape classes: threads tune the same class at once. */
        problem_make(cx, v, &jobs[i].p, 1, i % 2 ? 64 : 130, 2);
    }
    for (int i = 0; i < N; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, job_run, &jobs[i]), 0);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(jobs[i].st == LAC_OK, "thread %d: %s", i, jobs[i].msg);
        double e = problem_error(cx, v, &jobs[i].p);
        ck_assert_msg(e < 3e-3, "thread %d: rel L2 %g", i, e);
        problem_free(cx, &jobs[i].p);
    }
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    remove_cache();
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("runtime_api");
    TCase *t = tcase_create("api");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, forward_matches_reference);
    tcase_add_test(t, warm_start_uses_database_and_cubins);
    tcase_add_test(t, corrupt_cache_is_rebuilt);
    tcase_add_test(t, tuner_avoids_slow_config);
    tcase_add_test(t, never_tune_takes_default);
    tcase_add_test(t, pinned_knob);
    tcase_add_test(t, source_errors);
    tcase_add_test(t, argument_errors);
    tcase_add_test(t, jit_failure);
    tcase_add_test(t, launch_failure);
    tcase_add_test(t, out_of_memory);
    tcase_add_test(t, tuning_without_memory_falls_back);
    tcase_add_test(t, no_driver);
    tcase_add_test(t, compile_offline);
    tcase_add_test(t, threads_share_a_variant);
    tcase_add_test(t, one_stage_fallback);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    fake = getenv("LAC_CUDA_DRIVER");
    const char *src = getenv("LAC_SOURCE_DIR");
    if (!fake || !src) {
        fprintf(stderr, "lac_api_test: set LAC_CUDA_DRIVER (libfakecuda.so) and LAC_SOURCE_DIR\n");
        return 2;
    }
    snprintf(linear_path, sizeof linear_path, "%s/dsl_examples/linear.la", src);
    snprintf(elu_path, sizeof elu_path, "%s/dsl_examples/linear_elu.la", src);
    SRunner *r = srunner_create(api_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? 0 : 1;
}
