/*
 * host_jit.c: lac from a C program, through the public API only
 * (runtime/lac_runtime.h): JIT-compile a .la file at run time, let lac tune
 * it for this GPU, run the forward, and check it against lac's float64
 * reference.
 *
 *   lac_host FILE.la [--shape B,T,H] [--set NAME=VALUE]... [--runs N] [--no-check]
 *
 * It prints the time lac takes to the first launch: loading the variant and
 * the first lac_forward to its completion (compilation and tuning included
 * on a cold start, cache loads on a warm one; the example's own input setup
 * and the CUDA context's creation are shown apart), the chosen
 * configuration, the errors against the reference and the median time of N
 * launches.
 *
 * Exit: 0 pass; 1 the kernel is wrong; 2 usage or a lac error; 77 no GPU
 * or no CUDA driver here (the message says which).
 *
 * Build (the README's main command does): cc host_jit.c -Iruntime -llac.
 * Needs no CUDA headers or libraries: lac loads the driver itself.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lac_runtime.h"

enum { EXIT_PASS = 0, EXIT_WRONG = 1, EXIT_ERROR = 2, EXIT_NO_GPU = 77 };
enum { MAX_SETS = 32, MAX_INPUTS = 64 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the GPU's number formats, rounding to nearest even */

static uint16_t bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static float bf16_to(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static size_t dtype_bytes(lac_dtype t) { return t == LAC_F32 ? 4 : 2; }

/* Encode x[0..n) in dtype t into out, and round x to what the GPU reads. */
static void encode(double *x, size_t n, lac_dtype t, void *out)
{
    for (size_t i = 0; i < n; i++) {
        if (t == LAC_BF16) {
            uint16_t h = bf16_of((float)x[i]);
            memcpy((char *)out + 2 * i, &h, 2);
            x[i] = bf16_to(h);
        } else if (t == LAC_F16) {
            _Float16 h = (_Float16)(float)x[i];
            memcpy((char *)out + 2 * i, &h, 2);
            x[i] = (double)h;
        } else {
            float f = (float)x[i];
            memcpy((char *)out + 4 * i, &f, 4);
            x[i] = f;
        }
    }
}

static double decode(const void *p, size_t i, lac_dtype t)
{
    if (t == LAC_BF16) {
        uint16_t h;
        memcpy(&h, (const char *)p + 2 * i, 2);
        return bf16_to(h);
    }
    if (t == LAC_F16) {
        _Float16 h;
        memcpy(&h, (const char *)p + 2 * i, 2);
        return (double)h;
    }
    float f;
    memcpy(&f, (const char *)p + 4 * i, 4);
    return f;
}

static double rel_l2(const void *got, lac_dtype t, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = decode(got, i, t) - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ---- the program */

typedef struct Args {
    const char *file;
    int B, T, H, runs;
    bool check;
    const char *sets[MAX_SETS];
    int nsets;
} Args;

static int usage(void)
{
    fprintf(stderr, "usage: lac_host FILE.la [--shape B,T,H] [--set NAME=VALUE]... [--runs N] [--no-check]\n");
    return EXIT_ERROR;
}

static int args_parse(int argc, char **argv, Args *a)
{
    memset(a, 0, sizeof *a);
    a->B = 2, a->T = 1000, a->H = 4, a->runs = 20, a->check = true;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--shape") == 0 && val) {
            if (sscanf(val, "%d,%d,%d", &a->B, &a->T, &a->H) != 3 || a->B < 1 || a->T < 1 || a->H < 1) return usage();
            i++;
        } else if (strcmp(argv[i], "--set") == 0 && val && a->nsets < MAX_SETS) {
            a->sets[a->nsets++] = val;
            i++;
        } else if (strcmp(argv[i], "--runs") == 0 && val) {
            a->runs = atoi(val);
            if (a->runs < 1) return usage();
            i++;
        } else if (strcmp(argv[i], "--no-check") == 0) {
            a->check = false; /* timing only: the float64 reference is slow at large shapes */
        } else if (argv[i][0] != '-' && !a->file) {
            a->file = argv[i];
        } else {
            return usage();
        }
    }
    return a->file ? 0 : usage();
}

static int lac_error(const char *what, lac_status st)
{
    fprintf(stderr, "lac_host: %s: %s: %s\n", what, lac_status_name(st), lac_last_error());
    return st == LAC_ERR_NO_DRIVER || st == LAC_ERR_NO_DEVICE ? EXIT_NO_GPU : EXIT_ERROR;
}

/* Elements of a tensor of `dims` at this shape. */
static size_t numel(const lac_input_info *in, int B, int T, int H, int64_t shape[4])
{
    size_t n = 1;
    for (int k = 0; k < in->ndim; k++) {
        int d = in->dims[k];
        shape[k] = d == LAC_DIM_B ? B : d == LAC_DIM_T ? T : d == LAC_DIM_H ? H : d;
        n *= (size_t)shape[k];
    }
    return n;
}

typedef struct Bufs {
    double *ref_in[MAX_INPUTS];
    lac_tensor in[MAX_INPUTS];
    void *host[MAX_INPUTS];
    uint64_t o, s;
    double *ref_o, *ref_s;
    void *got_o;
    float *got_s;
} Bufs;

static void bufs_free(lac_context *cx, Bufs *b, int n)
{
    for (int i = 0; i < n; i++) {
        free(b->ref_in[i]);
        free(b->host[i]);
        lac_device_free(cx, b->in[i].data);
    }
    lac_device_free(cx, b->o);
    lac_device_free(cx, b->s);
    free(b->ref_o);
    free(b->ref_s);
    free(b->got_o);
    free(b->got_s);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    Args a;
    if (args_parse(argc, argv, &a) != 0) return EXIT_ERROR;
    double t0 = now();
    lac_context *cx = NULL;
    lac_status st = lac_context_create(NULL, &cx);
    if (st != LAC_OK) {
        int rc = lac_error("no GPU to run on", st);
        return rc;
    }
    double t_ctx = now();
    lac_device_info dev;
    lac_context_device(cx, &dev);
    lac_variant *v = NULL;
    st = lac_variant_load(cx, a.file, a.sets, a.nsets, &v);
    double t_load = now();
    if (st != LAC_OK) {
        lac_context_destroy(cx);
        return lac_error(a.file, st);
    }
    lac_variant_info info;
    lac_variant_get_info(v, &info);
    if (info.ninputs > MAX_INPUTS) {
        fprintf(stderr, "lac_host: %s has %d inputs; this example takes %d\n", a.file, info.ninputs, MAX_INPUTS);
        return EXIT_ERROR;
    }
    printf("%s: %s on %s (%s), K=%d V=%d, decay %s, %ld configurations, shape B=%d T=%d H=%d\n", a.file, info.name,
           dev.name, dev.arch, info.dk, info.dv, info.decay, info.nconfigs, a.B, a.T, a.H);
    Bufs b;
    memset(&b, 0, sizeof b);
    int rc = EXIT_PASS;
    for (int i = 0; i < info.ninputs && rc == EXIT_PASS; i++) {
        lac_input_info in;
        lac_variant_input(v, i, &in);
        size_t n = numel(&in, a.B, a.T, a.H, b.in[i].shape);
        b.in[i].ndim = in.ndim;
        b.in[i].dtype = in.dtype;
        b.ref_in[i] = malloc(n * sizeof(double));
        b.host[i] = malloc(n * dtype_bytes(in.dtype));
        if (!b.ref_in[i] || !b.host[i]) rc = EXIT_ERROR;
    }
    if (rc == EXIT_PASS && (st = lac_random_inputs(v, a.B, a.T, a.H, 42, b.ref_in)) != LAC_OK) rc = lac_error("inputs", st);
    for (int i = 0; i < info.ninputs && rc == EXIT_PASS; i++) {
        lac_input_info in;
        lac_variant_input(v, i, &in);
        int64_t shape[4];
        size_t n = numel(&in, a.B, a.T, a.H, shape);
        encode(b.ref_in[i], n, in.dtype, b.host[i]);
        size_t bytes = n * dtype_bytes(in.dtype);
        if ((st = lac_device_alloc(cx, bytes, &b.in[i].data)) != LAC_OK ||
            (st = lac_copy_to_device(cx, b.in[i].data, b.host[i], bytes)) != LAC_OK)
            rc = lac_error("uploading the inputs", st);
    }
    size_t no = (size_t)a.B * a.T * a.H * (size_t)info.dv, ns = (size_t)a.B * a.H * (size_t)info.dk * info.dv;
    lac_forward_args fa;
    memset(&fa, 0, sizeof fa);
    if (rc == EXIT_PASS) {
        if ((st = lac_device_alloc(cx, no * dtype_bytes(info.io), &b.o)) != LAC_OK ||
            (st = lac_device_alloc(cx, ns * 4, &b.s)) != LAC_OK)
            rc = lac_error("allocating the outputs", st);
        fa.inputs = b.in;
        fa.ninputs = info.ninputs;
        fa.o = (lac_tensor){b.o, info.io, 4, {a.B, a.T, a.H, info.dv}, {0}};
        fa.final_state = (lac_tensor){b.s, LAC_F32, 4, {a.B, a.H, info.dk, info.dv}, {0}};
    }
    /* The first launch: compile and tune on a cold start, cache loads on a warm one. */
    double t1 = now();
    if (rc == EXIT_PASS && ((st = lac_forward(v, &fa)) != LAC_OK || (st = lac_synchronize(cx, NULL)) != LAC_OK))
        rc = lac_error("the first launch", st);
    double t2 = now();
    lac_tune_result tr;
    if (rc == EXIT_PASS && (st = lac_tuned_config(v, a.B, a.T, a.H, &tr)) == LAC_OK)
        printf("first launch: %.1f ms of lac (load %.1f + first forward %.1f; the CUDA context %.1f more); "
               "configuration %s (%s)\n",
               (t_load - t_ctx + t2 - t1) * 1e3, (t_load - t_ctx) * 1e3, (t2 - t1) * 1e3, (t_ctx - t0) * 1e3,
               tr.config, tr.from_database ? "tuning database" : "tuned now");
    /* Check against the float64 reference. */
    if (rc == EXIT_PASS && a.check) {
        b.ref_o = malloc(no * sizeof(double));
        b.ref_s = malloc(ns * sizeof(double));
        b.got_o = malloc(no * dtype_bytes(info.io));
        b.got_s = malloc(ns * 4);
        if (!b.ref_o || !b.ref_s || !b.got_o || !b.got_s) rc = EXIT_ERROR;
    }
    if (rc == EXIT_PASS && a.check &&
        ((st = lac_copy_to_host(cx, b.got_o, b.o, no * dtype_bytes(info.io))) != LAC_OK ||
         (st = lac_copy_to_host(cx, b.got_s, b.s, ns * 4)) != LAC_OK ||
         (st = lac_reference_forward(v, a.B, a.T, a.H, (const double *const *)b.ref_in, NULL, NULL, b.ref_o, b.ref_s,
                                     NULL)) != LAC_OK))
        rc = lac_error("checking", st);
    if (rc == EXIT_PASS && a.check) {
        double eo = rel_l2(b.got_o, info.io, b.ref_o, no), es = rel_l2(b.got_s, LAC_F32, b.ref_s, ns);
        double bar = info.io == LAC_F32 ? 1e-4 : 3e-3;
        bool ok = eo <= bar && es <= bar && isfinite(eo) && isfinite(es);
        printf("against the float64 reference: rel L2 of o %.3g, of the final state %.3g (bar %.0e): %s\n", eo, es, bar,
               ok ? "ok" : "WRONG");
        if (!ok) rc = EXIT_WRONG;
    }
    /* Time the launches. */
    if (rc == EXIT_PASS) {
        double *ms = malloc(sizeof(double) * (size_t)a.runs);
        for (int r = 0; ms && r < a.runs && rc == EXIT_PASS; r++) {
            double s0 = now();
            if ((st = lac_forward(v, &fa)) != LAC_OK || (st = lac_synchronize(cx, NULL)) != LAC_OK)
                rc = lac_error("a timed launch", st);
            ms[r] = (now() - s0) * 1e3;
        }
        if (ms && rc == EXIT_PASS) {
            qsort(ms, (size_t)a.runs, sizeof ms[0], cmp_double);
            printf("forward: median %.3f ms over %d launches (host clock, launch and synchronize)\n", ms[a.runs / 2],
                   a.runs);
        }
        free(ms);
    }
    bufs_free(cx, &b, info.ninputs);
    lac_variant_destroy(v);
    lac_context_destroy(cx);
    if (rc == EXIT_PASS) printf("lac_host: PASS\n");
    return rc;
}
