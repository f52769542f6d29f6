/*
 * gpu_fwd.c: lac_gpu_fwd, the numerical test of a generated forward kernel.
 *
 *   lac_gpu_fwd FILE.la --ptx FILE.ptx --shape B,T,H [options]
 *
 * It runs one .la variant through the front end, reads the kernels of a
 * PTX file by their lac-kernel comments (ABI v0, runtime/launch.c), fills
 * seeded random inputs, rounds each to its declared dtype and runs the
 * float64 reference on the rounded values, so that the kernel and the
 * reference see the same numbers. Each kernel is then launched on poisoned
 * outputs (every byte 0xFF, a NaN in every dtype, with guard bytes around
 * them) and compared with the reference, llm.c style: relative L2 error,
 * max abs and rel error, elements outside |x - r| <= atol + rtol * |r|,
 * the first mismatches by [b, t, h, j], elements never written. --bench
 * then times it with events, L2 flushed between launches (STYLE.md,
 * practices 10 and 12).
 *
 * Exit: 0 every kernel passed; 1 a kernel failed (numbers, or a fault);
 * 2 usage, the .la, the PTX, the JIT or the driver; 77 no CUDA driver or no
 * GPU (ctest's SKIP_RETURN_CODE).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu_harness.h"
#include "lac_internal.h"

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_SKIP = 77 };

/* Bytes of poison-filled guard before and after o and s_final: a write out
 * of bounds shows up as a changed guard byte. 256 keeps the alignment of
 * cuMemAlloc. */
enum { GUARD = 256 };
/* The L2 flush between timed launches: larger than any L2 (H100: 50 MiB). */
#define FLUSH_BYTES ((size_t)256 << 20)
enum { BENCH_WARMUP = 3 };
/* The largest tensor the reference handles, as in `lac ref`: 1 GiB of float64. */
#define MAX_ELEMS ((size_t)1 << 27)
#define MAX_PTX_BYTES ((size_t)256 << 20)
enum { MAX_KERNELS = 256 };

static const char usage[] =
    "usage: lac_gpu_fwd FILE.la --ptx FILE.ptx --shape B,T,H [options]\n"
    "       lac_gpu_fwd --self-test\n"
    "\n"
    "Checks the forward kernels of FILE.ptx (one '// lac-kernel ...' comment each)\n"
    "against the float64 reference of FILE.la on seeded random inputs.\n"
    "\n"
    "options:\n"
    "  --set NAME=VALUE    override a param of the file (repeatable; tile settings\n"
    "                      such as block_v are accepted and ignored, as for lac compile)\n"
    "  --seed N            random inputs (default 1)\n"
    "  --initial-state     start from a random state s0 (section 13 of the language)\n"
    "  --final-state       also check the final state s_final\n"
    "  --kernel NAME       test only this kernel of the PTX (default: every one)\n"
    "  --atol X            absolute tolerance (default: a fraction of the reference's\n"
    "                      RMS, by the kernel's io dtype: bf16 2e-2, f16 5e-3, f32 2e-3)\n"
    "  --rtol X            relative tolerance (default bf16 2e-2, f16 5e-3, f32 2e-3)\n"
    "  --max-rel-l2 X      largest relative L2 error that passes (default bf16 3e-3,\n"
    "                      f16 1e-3, f32 5e-4)\n"
    "  --bench N           after the check, time N launches (median, GB/s)\n"
    "  --segments N        sequence split: N output segments (default: as many as give\n"
    "                      the output pass one wave; the split is tested when the PTX has it)\n"
    "  --state-segments N  sequence split: N state segments, a multiple of the output\n"
    "                      pass's (default: as many as give the state pass one wave)\n"
    "  --schedule S        full, split or all (default all): which schedules to test\n"
    "  --no-check          benchmark only: skip the reference and the comparison\n"
    "  --gate-scale X      multiply the log-space gates by X (> 1: steeper decay, e.g.\n"
    "                      GLA's exact diagonal path when 16 tokens fall below -60)\n"
    "                      (the kernel still runs once on poisoned outputs)\n"
    "  --device N          the CUDA device (default 0)\n"
    "  --verbose           print the JIT's log\n"
    "  --self-test         check the rounding and the PTX comment parser; no GPU needed\n"
    "\n"
    "environment: LAC_CUDA_DRIVER=PATH loads this libcuda instead of libcuda.so.1\n"
    "exit: 0 pass, 1 a kernel failed, 2 usage/compile/driver error, 77 no driver or GPU\n";

typedef struct Options {
    const char *la, *ptx, *kernel;
    CompileSets sets; /* --set: params override the file; tile settings are ignored */
    int B, T, H;
    bool have_shape;
    uint64_t seed;
    bool initial_state, final_state, verbose, self_test;
    bool no_check; /* benchmark only: no reference, no comparison */
    double gate_scale; /* log-space gates multiplied by this (1: as generated) */
    double atol, rtol, max_rel_l2; /* < 0: the io dtype's default */
    int bench;
    int device;
    int segments;      /* output segments of the split; 0: the launcher's plan */
    int state_segments; /* the state pass's; 0: the launcher's plan */
    int schedules;     /* bit 0 full, bit 1 split */
} Options;

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lac_gpu_fwd: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0) return false;
    *out = v;
    return true;
}

static bool parse_count(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_shape(const char *s, Options *o)
{
    char extra;
    long b, t, h;
    if (sscanf(s, "%ld,%ld,%ld%c", &b, &t, &h, &extra) != 3) return false;
    if (b < 1 || t < 1 || h < 1 || b > 1 << 20 || t > 1 << 24 || h > 1 << 12) return false;
    o->B = (int)b;
    o->T = (int)t;
    o->H = (int)h;
    o->have_shape = true;
    return true;
}

static int options_parse(int argc, char **argv, Options *o, Arena *a)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->gate_scale = 1;
    o->atol = o->rtol = o->max_rel_l2 = -1;
    o->schedules = 3;
    o->sets.ovr = arena_alloc(a, sizeof(ParamOverride) * (size_t)(argc + 1));
    o->sets.cap = argc + 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        bool takes = val != NULL, ok = true;
        if (strcmp(s, "--self-test") == 0) {
            o->self_test = true;
            continue;
        } else if (strcmp(s, "--initial-state") == 0) {
            o->initial_state = true;
            continue;
        } else if (strcmp(s, "--final-state") == 0) {
            o->final_state = true;
            continue;
        } else if (strcmp(s, "--no-check") == 0) {
            o->no_check = true;
            continue;
        } else if (strcmp(s, "--verbose") == 0 || strcmp(s, "-v") == 0) {
            o->verbose = true;
            continue;
        } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        } else if (s[0] != '-') {
            if (o->la) {
                error("one .la file at a time ('%s' and '%s')", o->la, s);
                return EXIT_USAGE;
            }
            o->la = s;
            continue;
        }
        /* The options that take a value. */
        if (!takes) {
            error("unknown option or missing value: '%s'\n%s", s, usage);
            return EXIT_USAGE;
        }
        if (strcmp(s, "--ptx") == 0) o->ptx = val;
        else if (strcmp(s, "--kernel") == 0) o->kernel = val;
        else if (strcmp(s, "--shape") == 0) ok = parse_shape(val, o);
        else if (strcmp(s, "--set") == 0) ok = compile_sets_add(&o->sets, val, a); /* tile settings are the kernel's: ignored here */
        else if (strcmp(s, "--atol") == 0) ok = parse_double(val, &o->atol);
        else if (strcmp(s, "--rtol") == 0) ok = parse_double(val, &o->rtol);
        else if (strcmp(s, "--max-rel-l2") == 0) ok = parse_double(val, &o->max_rel_l2);
        else if (strcmp(s, "--gate-scale") == 0) ok = parse_double(val, &o->gate_scale);
        else if (strcmp(s, "--bench") == 0) {
            ok = parse_count(val, 1, 100000, &n);
            o->bench = (int)n;
        } else if (strcmp(s, "--device") == 0) {
            ok = parse_count(val, 0, 1024, &n);
            o->device = (int)n;
        } else if (strcmp(s, "--segments") == 0) {
            ok = parse_count(val, 1, 4096, &n);
            o->segments = (int)n;
        } else if (strcmp(s, "--state-segments") == 0) {
            ok = parse_count(val, 1, 4096, &n);
            o->state_segments = (int)n;
        } else if (strcmp(s, "--schedule") == 0) {
            ok = strcmp(val, "full") == 0 || strcmp(val, "split") == 0 || strcmp(val, "all") == 0;
            o->schedules = val[0] == 'f' ? 1 : val[0] == 's' ? 2 : 3;
        } else if (strcmp(s, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(val, &end, 10);
            ok = *end == 0 && end != val && errno == 0 && val[0] != '-';
            o->seed = x;
        } else {
            error("unknown option '%s'\n%s", s, usage);
            return EXIT_USAGE;
        }
        if (!ok) {
            error("%s: bad value '%s' (%s)", s, val,
                  strcmp(s, "--shape") == 0 ? "B,T,H: positive integers"
                  : strcmp(s, "--set") == 0 ? "NAME=NUMBER"
                  : strcmp(s, "--bench") == 0 ? "1 to 100000 launches"
                  : strcmp(s, "--segments") == 0 || strcmp(s, "--state-segments") == 0 ? "1 to 4096"
                  : strcmp(s, "--schedule") == 0 ? "full, split or all"
                  : strcmp(s, "--device") == 0 || strcmp(s, "--seed") == 0 ? "a non-negative integer"
                                                                          : "a non-negative number");
            return EXIT_USAGE;
        }
        i++;
    }
    if (o->self_test) return 0;
    if (!o->la || !o->ptx || !o->have_shape) {
        error("needs FILE.la, --ptx FILE.ptx and --shape B,T,H\n%s", usage);
        return EXIT_USAGE;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The run: everything one invocation holds, freed in one place
 * ------------------------------------------------------------------------ */

typedef struct Run {
    const Options *o;
    Arena arena;
    Diags diags;
    Variant *v;
    char *ptx;
    KernelMeta *metas;
    int nmetas;
    CudaCtx cu;
    CUmodule mod;
    /* host, one per input: the rounded values (double) and their device bytes */
    double **in;
    void **in_bytes;
    size_t *in_n;
    size_t o_n, s_n;          /* elements of o and of one state */
    size_t z_n;               /* elements of one normalizer (normalized variants), else 0 */
    double *s0, *z0;          /* rounded to f32, or NULL */
    float *s0_bytes, *z0_bytes;
    double *ref_o, *ref_s, *ref_z; /* reference outputs (ref_s, ref_z only with --final-state) */
    unsigned char *o_host;    /* GUARD + o + GUARD, downloaded */
    unsigned char *s_host, *z_host;
    /* device */
    CUdeviceptr *d_in;
    CUdeviceptr d_o, d_s0, d_s, d_z0, d_z, d_flush; /* d_o, d_s, d_z point at the guarded base */
    CUdeviceptr d_ws;
    size_t ws_bytes;
    size_t o_bytes_max;       /* o in the widest io dtype of the kernels tested */
} Run;

static void run_free(Run *r)
{
    CudaCtx *c = &r->cu;
    if (c->ctx) {
        for (int i = 0; r->d_in && i < r->v->ninputs; i++) cuda_free(c, r->d_in[i]);
        cuda_free(c, r->d_o);
        cuda_free(c, r->d_s0);
        cuda_free(c, r->d_s);
        cuda_free(c, r->d_z0);
        cuda_free(c, r->d_z);
        cuda_free(c, r->d_ws);
        cuda_free(c, r->d_flush);
        cuda_module_unload(c, r->mod);
    }
    cuda_close(c);
    for (int i = 0; r->v && i < r->v->ninputs; i++) {
        if (r->in) free(r->in[i]);
        if (r->in_bytes) free(r->in_bytes[i]);
    }
    free(r->in);
    free(r->in_bytes);
    free(r->in_n);
    free(r->d_in);
    free(r->s0);
    free(r->s0_bytes);
    free(r->z0);
    free(r->z0_bytes);
    free(r->ref_o);
    free(r->ref_s);
    free(r->ref_z);
    free(r->o_host);
    free(r->s_host);
    free(r->z_host);
    free(r->ptx);
    free(r->metas);
    arena_free(&r->arena);
}

static void diags_flush(Diags *d)
{
    StrBuf b;
    strbuf_init(&b);
    diags_render(d, DIAG_FORMAT_HUMAN, &b);
    if (b.len) fputs(b.data, stderr);
    strbuf_free(&b);
    d->first = d->last = NULL;
}

/* Read a whole file, NUL-terminated; NULL with a message on failure. */
static char *file_read(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap > max) break;
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (!buf || bad || n > max) {
        error("cannot read %s: %s", path, !buf ? "out of memory" : bad ? strerror(errno) : "file too large");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* ------------------------------------------------------------------------
 * Steps
 * ------------------------------------------------------------------------ */

static KernelDType kdt_of(DType t)
{
    switch (t) {
    case DT_BF16: return KDT_BF16;
    case DT_F16: return KDT_F16;
    case DT_F32: return KDT_F32;
    }
    return KDT_F32;
}

/* The .la through parser and sema, with the --set overrides. */
static int step_frontend(Run *r)
{
    const Options *o = r->o;
    size_t len;
    char *text = file_read(o->la, LAC_MAX_SOURCE_BYTES, &len);
    if (!text) return EXIT_USAGE;
    SrcFile *src = arena_alloc(&r->arena, sizeof *src);
    src->name = arena_strdup(&r->arena, o->la);
    src->text = arena_strndup(&r->arena, text, len);
    src->len = len;
    free(text);
    AstFile *ast = parser_parse(src, &r->arena, &r->diags);
    if (r->diags.nerrors == 0) r->v = sema_check(ast, o->sets.ovr, o->sets.novr, &r->arena, &r->diags);
    bool bad = !r->v || r->diags.nerrors > 0 || r->diags.truncated;
    diags_flush(&r->diags);
    if (bad) {
        error("%s does not compile", o->la);
        return EXIT_USAGE;
    }
    return 0;
}

/* The PTX and its lac-kernel comments; each kernel must fit the variant. */
static int step_ptx(Run *r)
{
    const Options *o = r->o;
    r->ptx = file_read(o->ptx, MAX_PTX_BYTES, NULL);
    if (!r->ptx) return EXIT_USAGE;
    r->metas = calloc(MAX_KERNELS, sizeof *r->metas);
    if (!r->metas) {
        error("out of memory");
        return EXIT_USAGE;
    }
    char err[512];
    int n = kernel_meta_parse(r->ptx, r->metas, MAX_KERNELS, err, sizeof err);
    if (n < 0) {
        error("%s: %s", o->ptx, err);
        return EXIT_USAGE;
    }
    if (n == 0) {
        error("%s: no '// lac-kernel name=... threads=... smem=... block_v=... dk=... dv=... io=...' "
              "comment: kernel ABI v0 needs one per kernel", o->ptx);
        return EXIT_USAGE;
    }
    if (o->kernel) {
        int k = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(r->metas[i].name, o->kernel) == 0) k = i;
        if (k < 0) {
            fprintf(stderr, "lac_gpu_fwd: error: %s has no kernel %s; it has:", o->ptx, o->kernel);
            for (int i = 0; i < n; i++) fprintf(stderr, " %s", r->metas[i].name);
            fputc('\n', stderr);
            return EXIT_USAGE;
        }
        r->metas[0] = r->metas[k];
        n = 1;
    }
    r->nmetas = n;
    const Variant *v = r->v;
    for (int i = 0; i < n; i++) {
        const KernelMeta *m = &r->metas[i];
        if (m->dk != v->dk || m->dv != v->dv) {
            error("%s:%d: kernel %s is for dk=%d dv=%d, but attention %s has %d key features and "
                  "%d value channels (a --set missing?)",
                  o->ptx, m->line, m->name, m->dk, m->dv, v->name, v->dk, v->dv);
            return EXIT_USAGE;
        }
        if (m->norm != (v->normalize ? 1 : 0)) {
            error("%s:%d: kernel %s is %snormalized, attention %s is %s", o->ptx, m->line, m->name,
                  m->norm ? "" : "not ", v->name, v->normalize ? "normalized" : "not");
            return EXIT_USAGE;
        }
        if (!kernel_meta_check_abi(m, v->ninputs, err, sizeof err)) {
            error("%s: %s", o->ptx, err);
            return EXIT_USAGE;
        }
        size_t ob = (size_t)kernel_dtype_size(m->io);
        if (ob > r->o_bytes_max) r->o_bytes_max = ob;
    }
    return 0;
}

static int step_sizes(Run *r)
{
    const Options *o = r->o;
    const Variant *v = r->v;
    r->o_n = (size_t)o->B * o->T * o->H * (size_t)v->dv;
    r->s_n = (size_t)o->B * o->H * (size_t)v->dk * (size_t)v->dv;
    r->z_n = v->normalize ? (size_t)o->B * o->H * (size_t)v->dk : 0;
    bool big = r->o_n > MAX_ELEMS || r->s_n > MAX_ELEMS;
    for (int i = 0; i < v->ninputs; i++)
        if (ref_input_numel(v, i, o->B, o->T, o->H) > MAX_ELEMS) big = true;
    if (big) {
        error("shape %d,%d,%d needs a tensor of more than %zu elements; the reference "
              "takes at most that", o->B, o->T, o->H, MAX_ELEMS);
        return EXIT_USAGE;
    }
    if ((long)o->B * o->H > KERNEL_MAX_GRID_Y) {
        error("B * H = %ld is more than %d, the grid's y limit, which ABI v0 fills with B * H",
              (long)o->B * o->H, KERNEL_MAX_GRID_Y);
        return EXIT_USAGE;
    }
    return 0;
}

static int step_device(Run *r)
{
    CudaCtx *c = &r->cu;
    CudaStatus st = cuda_open(c, r->o->device, getenv("LAC_CUDA_DRIVER"));
    if (st == CS_NO_DRIVER || st == CS_NO_DEVICE) {
        fprintf(stderr, "lac_gpu_fwd: skipped: %s\n", c->err.msg);
        return EXIT_SKIP;
    }
    if (st != CS_OK) {
        error("%s", c->err.msg);
        return EXIT_USAGE;
    }
    printf("device %d: %s, sm_%d%d, %d SMs, %d MiB L2, %.0f GiB, driver %d.%d\n", c->ordinal,
           c->name, c->cc_major, c->cc_minor, c->sm_count, c->l2_bytes >> 20,
           (double)c->total_mem / (1 << 30), c->driver_version / 1000,
           c->driver_version % 1000 / 10);
    CudaJitLog *log = malloc(sizeof *log);
    if (!log) {
        error("out of memory");
        return EXIT_USAGE;
    }
    st = cuda_module_load(c, r->ptx, &r->mod, log);
    if (st != CS_OK || r->o->verbose) {
        if (log->info[0]) fprintf(st != CS_OK ? stderr : stdout, "JIT info log:\n%s\n", log->info);
        if (log->error[0]) fprintf(stderr, "JIT error log:\n%s\n", log->error);
    }
    if (st != CS_OK) {
        error("%s: the driver cannot compile it: %s", r->o->ptx, c->err.msg);
        free(log);
        return EXIT_USAGE;
    }
    printf("ptx: %s, %d kernel%s, JIT %.1f ms\n", r->o->ptx, r->nmetas, r->nmetas == 1 ? "" : "s",
           (double)log->wall_ms);
    free(log);
    return 0;
}

/* ---- the reference, one thread per batch slice (batches are independent) */

typedef struct RefSlice {
    const Variant *v;
    const RefProblem *all;
    int first, step; /* batches first, first + step, ... */
    bool ok;
} RefSlice;

static void *ref_slice_run(void *arg)
{
    RefSlice *s = arg;
    const Variant *v = s->v;
    const RefProblem *p = s->all;
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    double **in = calloc((size_t)v->ninputs + 1, sizeof *in);
    s->ok = in != NULL;
    for (int b = s->first; s->ok && b < p->B; b += s->step) {
        size_t tok = (size_t)b * p->T * p->H, bh = (size_t)b * p->H;
        for (int i = 0; i < v->ninputs; i++) {
            const Symbol *y = v->inputs[i];
            size_t off = y->layout == LAYOUT_TOKEN ? tok
                         : y->layout == LAYOUT_TOKEN_VEC ? tok * (size_t)y->cols : 0;
            in[i] = p->inputs[i] + off;
        }
        RefProblem q = {0};
        q.B = 1;
        q.T = p->T;
        q.H = p->H;
        q.inputs = in;
        q.s0 = p->s0 ? p->s0 + bh * v->dk * v->dv : NULL;
        q.z0 = p->z0 ? p->z0 + bh * v->dk : NULL;
        q.o = p->o + tok * v->dv;
        q.s_final = p->s_final ? p->s_final + bh * v->dk * v->dv : NULL;
        q.z_final = p->z_final ? p->z_final + bh * v->dk : NULL;
        s->ok = ref_run(v, &q, &d);
    }
    free(in);
    arena_free(&a);
    return NULL;
}

static bool ref_run_parallel(const Variant *v, const RefProblem *p, Diags *d, int *nthreads)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = p->B < ncpu ? p->B : (int)(ncpu > 0 ? ncpu : 1);
    if (nt > 64) nt = 64;
    *nthreads = nt;
    if (nt <= 1) return ref_run(v, p, d);
    RefSlice slices[64];
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nt; i++) {
        slices[i] = (RefSlice){v, p, i, nt, false};
        if (pthread_create(&th[i], NULL, ref_slice_run, &slices[i]) != 0) break;
        started++;
    }
    bool ok = started == nt;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        ok = ok && slices[i].ok;
    }
    /* On a failure, run it again in one piece: its messages then name the
     * batch as the whole problem counts it. */
    return ok || ref_run(v, p, d);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Inputs rounded to their dtypes, the initial state, the reference. */
static int step_reference(Run *r)
{
    const Options *o = r->o;
    const Variant *v = r->v;
    int ni = v->ninputs;
    r->in = calloc((size_t)ni + 1, sizeof *r->in);
    r->in_bytes = calloc((size_t)ni + 1, sizeof *r->in_bytes);
    r->in_n = calloc((size_t)ni + 1, sizeof *r->in_n);
    bool ok = r->in && r->in_bytes && r->in_n;
    for (int i = 0; ok && i < ni; i++) {
        size_t n = ref_input_numel(v, i, o->B, o->T, o->H);
        r->in_n[i] = n;
        r->in[i] = malloc(sizeof(double) * n);
        r->in_bytes[i] = malloc((size_t)dtype_size(v->inputs[i]->dtype) * n);
        ok = r->in[i] && r->in_bytes[i];
    }
    r->ref_o = ok ? malloc(sizeof(double) * r->o_n) : NULL;
    ok = ok && r->ref_o;
    if (ok && o->final_state) ok = (r->ref_s = malloc(sizeof(double) * r->s_n)) != NULL;
    /* The reference always keeps z: a normalized variant's outputs need it. */
    if (ok && r->z_n) ok = (r->ref_z = malloc(sizeof(double) * r->z_n)) != NULL;
    if (ok && o->initial_state) {
        r->s0 = malloc(sizeof(double) * r->s_n);
        r->s0_bytes = malloc(sizeof(float) * r->s_n);
        ok = r->s0 && r->s0_bytes;
        if (ok && r->z_n) {
            r->z0 = malloc(sizeof(double) * r->z_n);
            r->z0_bytes = malloc(sizeof(float) * r->z_n);
            ok = r->z0 && r->z0_bytes;
        }
    }
    if (!ok) {
        error("out of memory for the inputs and the reference");
        return EXIT_USAGE;
    }
    double t0 = seconds_now();
    RefProblem p = {0};
    p.B = o->B;
    p.T = o->T;
    p.H = o->H;
    p.inputs = r->in;
    ref_fill_inputs(v, &p, o->seed);
    for (int i = 0; i < ni; i++)
        if ((v->inputs[i]->roles & ROLE_LOG_GATE) && o->gate_scale != 1)
            for (size_t k = 0; k < r->in_n[i]; k++) r->in[i][k] *= o->gate_scale;
    for (int i = 0; i < ni; i++)
        tensor_round(r->in[i], r->in_n[i], kdt_of(v->inputs[i]->dtype), r->in_bytes[i]);
    if (r->s0) {
        if (!ref_initial_state(v, &p, o->seed, r->s0, r->z0, &r->diags)) {
            diags_flush(&r->diags);
            error("the reference cannot make an initial state for %s", o->la);
            return EXIT_USAGE;
        }
        tensor_round(r->s0, r->s_n, KDT_F32, r->s0_bytes);
        if (r->z0) tensor_round(r->z0, r->z_n, KDT_F32, r->z0_bytes);
    }
    p.s0 = r->s0;
    p.z0 = r->z0;
    p.o = r->ref_o;
    p.s_final = r->ref_s;
    p.z_final = r->ref_z;
    if (o->no_check) {
        printf("reference: skipped (--no-check)\n");
        return 0;
    }
    int nt = 1;
    if (!ref_run_parallel(v, &p, &r->diags, &nt)) {
        diags_flush(&r->diags);
        error("the reference fails on these inputs");
        return EXIT_USAGE;
    }
    printf("reference: %.2f s on %d thread%s (inputs rounded to their dtypes, float64)\n",
           seconds_now() - t0, nt, nt == 1 ? "" : "s");
    return 0;
}

static int cuda_failed(Run *r, const char *what)
{
    error("%s: %s", what, r->cu.err.msg);
    return EXIT_USAGE;
}

static int step_upload(Run *r)
{
    CudaCtx *c = &r->cu;
    const Variant *v = r->v;
    r->d_in = calloc((size_t)v->ninputs + 1, sizeof *r->d_in);
    r->o_host = malloc(2 * GUARD + r->o_n * r->o_bytes_max);
    if (r->o->final_state) r->s_host = malloc(2 * GUARD + r->s_n * sizeof(float));
    if (r->o->final_state && r->z_n) r->z_host = malloc(2 * GUARD + r->z_n * sizeof(float));
    if (!r->d_in || !r->o_host || (r->o->final_state && (!r->s_host || (r->z_n && !r->z_host)))) {
        error("out of memory");
        return EXIT_USAGE;
    }
    for (int i = 0; i < v->ninputs; i++) {
        size_t bytes = r->in_n[i] * (size_t)dtype_size(v->inputs[i]->dtype);
        if (cuda_alloc(c, &r->d_in[i], bytes) || cuda_upload(c, r->d_in[i], r->in_bytes[i], bytes))
            return cuda_failed(r, "uploading the inputs");
    }
    if (r->s0 && (cuda_alloc(c, &r->d_s0, r->s_n * sizeof(float)) ||
                  cuda_upload(c, r->d_s0, r->s0_bytes, r->s_n * sizeof(float))))
        return cuda_failed(r, "uploading s0");
    if (r->z0 && (cuda_alloc(c, &r->d_z0, r->z_n * sizeof(float)) ||
                  cuda_upload(c, r->d_z0, r->z0_bytes, r->z_n * sizeof(float))))
        return cuda_failed(r, "uploading z0");
    if (cuda_alloc(c, &r->d_o, 2 * GUARD + r->o_n * r->o_bytes_max))
        return cuda_failed(r, "allocating o");
    if (r->o->final_state && cuda_alloc(c, &r->d_s, 2 * GUARD + r->s_n * sizeof(float)))
        return cuda_failed(r, "allocating s_final");
    if (r->o->final_state && r->z_n && cuda_alloc(c, &r->d_z, 2 * GUARD + r->z_n * sizeof(float)))
        return cuda_failed(r, "allocating z_final");
    return 0;
}

/* ---- one kernel: launch on poison, compare, report */

static void print_stats(const char *name, const char *dims, const CmpStats *s, const CmpTol *t,
                        double atol_rms)
{
    printf("  %-8s %-18s rel_l2 %.2e (max %.1e)  max_abs %.2e  max_rel %.2e  fail %zu/%zu", name,
           dims, s->rel_l2, t->max_rel_l2, s->max_abs, s->max_rel, s->nfail, s->n);
    if (atol_rms > 0)
        printf("  (atol %.2e = %.0e x rms %.3g, rtol %.0e)", t->atol, atol_rms, s->ref_rms, t->rtol);
    else
        printf("  (atol %.2e, rtol %.0e)", t->atol, t->rtol);
    printf("  %s\n", s->pass ? "ok" : "FAIL");
}

/* "[b=.., t=.., h=.., j=..]" of o (what 0), "[b=.., h=.., i=.., j=..]" of a
 * state (1), "[b=.., h=.., i=..]" of a normalizer (2). */
static void index_name(size_t idx, int what, const Run *r, char *buf, size_t n)
{
    const Variant *v = r->v;
    if (what == 2) {
        size_t i = idx % (size_t)v->dk, rest = idx / (size_t)v->dk;
        snprintf(buf, n, "[b=%zu, h=%zu, i=%zu]", rest / (size_t)r->o->H, rest % (size_t)r->o->H, i);
        return;
    }
    size_t j = idx % (size_t)v->dv, rest = idx / (size_t)v->dv;
    if (what == 1) {
        size_t i = rest % (size_t)v->dk;
        rest /= (size_t)v->dk;
        snprintf(buf, n, "[b=%zu, h=%zu, i=%zu, j=%zu]", rest / (size_t)r->o->H,
                 rest % (size_t)r->o->H, i, j);
    } else {
        size_t h = rest % (size_t)r->o->H;
        rest /= (size_t)r->o->H;
        snprintf(buf, n, "[b=%zu, t=%zu, h=%zu, j=%zu]", rest / (size_t)r->o->T,
                 rest % (size_t)r->o->T, h, j);
    }
}

static void print_mismatches(const char *name, const CmpStats *s, const void *dev, KernelDType dt,
                             const double *ref, int state, const Run *r)
{
    char at[96];
    for (int k = 0; k < s->nshown; k++) {
        size_t i = s->shown[k];
        index_name(i, state, r, at, sizeof at);
        double x = tensor_get(dev, i, dt);
        printf("    mismatch %s%s: gpu %+.6e  ref %+.6e  diff %.3e%s\n", name, at, x, ref[i],
               fabs(x - ref[i]), tensor_is_poison(dev, i, dt) ? "  (never written)" : "");
    }
    if (s->poison) {
        index_name(s->first_poison, state, r, at, sizeof at);
        printf("    %zu element%s of %s never written (still the 0xFF poison), the first at %s\n",
               s->poison, s->poison == 1 ? "" : "s", name, at);
    }
    if (s->nonfinite)
        printf("    %zu element%s of %s computed as NaN or inf\n", s->nonfinite,
               s->nonfinite == 1 ? "" : "s", name);
}

/* Bytes of the guards around a downloaded buffer that the kernel changed. */
static size_t guard_damage(const unsigned char *buf, size_t body)
{
    size_t n = 0;
    for (size_t i = 0; i < GUARD; i++) n += (buf[i] != 0xFF) + (buf[GUARD + body + i] != 0xFF);
    return n;
}

/* A schedule: the state-on-chip kernel alone, or the split's two passes. */
typedef struct Sched {
    const KernelMeta *m[2];
    CUfunction f[2];
    int n;
    int nseg, seglen, nout;
} Sched;

static FwdArgs sched_args(const Run *r, const Sched *sc)
{
    const Options *o = r->o;
    FwdArgs a = {r->d_in, r->v->ninputs, r->d_o + GUARD, r->d_s0, r->d_s ? r->d_s + GUARD : 0,
                 r->d_z0, r->d_z ? r->d_z + GUARD : 0, o->B, o->T, o->H, r->d_ws, sc->nseg, sc->seglen, sc->nout};
    return a;
}

static CudaStatus sched_launch(Run *r, const Sched *sc)
{
    FwdArgs a = sched_args(r, sc);
    for (int i = 0; i < sc->n; i++) {
        CudaStatus st = fwd_launch(&r->cu, sc->f[i], sc->m[i], &a);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

/* Compare a downloaded f32 or io tensor with the reference; print. */
static bool check_one(Run *r, const char *name, const char *dims, const unsigned char *host, size_t body,
                      KernelDType dt, const double *ref, size_t n, int what, const CmpTol *tol0, double atol_rms)
{
    CmpTol tol = *tol0;
    if (atol_rms > 0) tol.atol = atol_rms * cmp_rms(ref, n);
    CmpStats s;
    cmp_tensor(host + GUARD, dt, ref, n, &tol, &s);
    print_stats(name, dims, &s, &tol, atol_rms);
    print_mismatches(name, &s, host + GUARD, dt, ref, what, r);
    bool pass = s.pass;
    size_t dmg = guard_damage(host, body);
    if (dmg) {
        printf("    the kernel wrote outside %s: %zu guard byte%s changed\n", name, dmg, dmg == 1 ? "" : "s");
        pass = false;
    }
    return pass;
}

static int kernel_check(Run *r, const Sched *sc)
{
    CudaCtx *c = &r->cu;
    const Options *o = r->o;
    const Variant *v = r->v;
    const KernelMeta *m = sc->m[sc->n - 1];
    size_t ob = r->o_n * (size_t)kernel_dtype_size(m->io), sb = r->s_n * sizeof(float), zb = r->z_n * sizeof(float);
    if (cuda_memset8(c, r->d_o, 0xFF, 2 * GUARD + ob) ||
        (r->d_s && cuda_memset8(c, r->d_s, 0xFF, 2 * GUARD + sb)) ||
        (r->d_z && cuda_memset8(c, r->d_z, 0xFF, 2 * GUARD + zb)) ||
        (r->d_ws && cuda_memset8(c, r->d_ws, 0xFF, r->ws_bytes)))
        return cuda_failed(r, "poisoning the outputs");
    if (sched_launch(r, sc) != CS_OK) return cuda_failed(r, "launch");
    if (cuda_sync(c) != CS_OK) {
        printf("  FAIL: the kernel faulted: %s\n", c->err.msg);
        return EXIT_FAIL;
    }
    if (cuda_download(c, r->o_host, r->d_o, 2 * GUARD + ob) ||
        (r->d_s && cuda_download(c, r->s_host, r->d_s, 2 * GUARD + sb)) ||
        (r->d_z && cuda_download(c, r->z_host, r->d_z, 2 * GUARD + zb)))
        return cuda_failed(r, "downloading the outputs");

    if (o->no_check) {
        printf("  not checked (--no-check)\n");
        return EXIT_PASS;
    }
    CmpDefaults def = cmp_defaults(m->io);
    CmpTol tol = {o->atol, o->rtol >= 0 ? o->rtol : def.rtol,
                  o->max_rel_l2 >= 0 ? o->max_rel_l2 : def.max_rel_l2};
    double atol_rms = o->atol >= 0 ? 0 : def.atol_rms;
    char dims[64];
    snprintf(dims, sizeof dims, "[%d, %d, %d, %d]", o->B, o->T, o->H, v->dv);
    bool pass = check_one(r, "o", dims, r->o_host, ob, m->io, r->ref_o, r->o_n, 0, &tol, atol_rms);
    if (r->d_s) {
        snprintf(dims, sizeof dims, "[%d, %d, %d, %d]", o->B, o->H, v->dk, v->dv);
        pass = check_one(r, "s_final", dims, r->s_host, sb, KDT_F32, r->ref_s, r->s_n, 1, &tol, atol_rms) && pass;
    }
    if (r->d_z) {
        snprintf(dims, sizeof dims, "[%d, %d, %d]", o->B, o->H, v->dk);
        pass = check_one(r, "z_final", dims, r->z_host, zb, KDT_F32, r->ref_z, r->z_n, 2, &tol, atol_rms) && pass;
    }
    printf("  %s\n", pass ? "PASS" : "FAIL");
    return pass ? EXIT_PASS : EXIT_FAIL;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Time o->bench launches of the schedule with events, each after an L2
 * flush (a memset of FLUSH_BYTES, timed by its own events and excluded). */
static int kernel_bench(Run *r, const Sched *sc)
{
    CudaCtx *c = &r->cu;
    const Options *o = r->o;
    const Variant *v = r->v;
    const KernelMeta *m = sc->m[sc->n - 1];
    int n = o->bench;
    if (!r->d_flush && cuda_alloc(c, &r->d_flush, FLUSH_BYTES)) return cuda_failed(r, "allocating the L2 flush buffer");
    float *ms = malloc(sizeof(float) * (size_t)n), *flush_ms = malloc(sizeof(float) * (size_t)n);
    CUevent ev[4] = {0};
    int rc = EXIT_PASS;
    if (!ms || !flush_ms) {
        error("out of memory");
        rc = EXIT_USAGE;
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if (cuda_event_create(c, &ev[i])) {
            rc = cuda_failed(r, "bench events");
            goto done;
        }
    for (int i = 0; i < BENCH_WARMUP; i++)
        if (sched_launch(r, sc)) {
            rc = cuda_failed(r, "bench warm-up");
            goto done;
        }
    for (int i = 0; i < n; i++) {
        if (cuda_event_record(c, ev[0]) || cuda_memset8(c, r->d_flush, (unsigned char)i, FLUSH_BYTES) ||
            cuda_event_record(c, ev[1]) || cuda_event_record(c, ev[2]) || sched_launch(r, sc) ||
            cuda_event_record(c, ev[3]) || cuda_event_elapsed(c, ev[0], ev[1], &flush_ms[i]) ||
            cuda_event_elapsed(c, ev[2], ev[3], &ms[i])) {
            rc = cuda_failed(r, "bench");
            goto done;
        }
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp_float);
    qsort(flush_ms, (size_t)n, sizeof *flush_ms, cmp_float);
    double med = ms[n / 2], fmed = flush_ms[n / 2];
    if (n % 2 == 0) {
        med = 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
        fmed = 0.5 * (flush_ms[n / 2 - 1] + flush_ms[n / 2]);
    }
    /* What the kernel must move at least: every input read once, o written,
     * the states read and written. */
    double bytes = (double)r->o_n * kernel_dtype_size(m->io);
    for (int i = 0; i < v->ninputs; i++)
        bytes += (double)r->in_n[i] * dtype_size(v->inputs[i]->dtype);
    if (r->d_s0) bytes += (double)(r->s_n + r->z_n) * sizeof(float);
    if (r->d_s) bytes += (double)(r->s_n + r->z_n) * sizeof(float);
    double gbps = bytes / (med * 1e-3) / 1e9;
    printf("  bench: %d launches after %d warm-ups, L2 flushed before each (%zu MiB memset, "
           "median %.3f ms, excluded)\n",
           n, BENCH_WARMUP, FLUSH_BYTES >> 20, fmed);
    printf("  bench: median %.4f ms (min %.4f, max %.4f), %.1f GB/s of %.2f MB moved", med,
           (double)ms[0], (double)ms[n - 1], gbps, bytes / 1e6);
    if (c->peak_gbps > 0) printf(", %.0f%% of the %.0f GB/s peak", 100 * gbps / c->peak_gbps, c->peak_gbps);
    printf("\n");
done:
    for (int i = 0; i < 4; i++) cuda_event_destroy(c, ev[i]);
    free(ms);
    free(flush_ms);
    return rc;
}

/* The function of a kernel, prepared (shared memory limit), its
 * attributes and the blocks a multiprocessor holds. */
static int kernel_open(Run *r, const KernelMeta *m, CUfunction *f, CudaFuncInfo *fi, int *per_sm)
{
    CudaCtx *c = &r->cu;
    if (cuda_function_get(c, r->mod, m->name, f) || cuda_function_info(c, *f, fi)) return cuda_failed(r, m->name);
    if (fwd_prepare(c, *f, m, per_sm) != CS_OK) return cuda_failed(r, m->name);
    return 0;
}

static void kernel_print(const Run *r, const KernelMeta *m, const CudaFuncInfo *fi, int per_sm, const Sched *sc)
{
    const Options *o = r->o;
    unsigned grid[3];
    fwd_grid(m, o->B, o->H, sc->nseg, sc->nout, grid);
    printf("kernel %s: threads %d, smem %d, block_v %d, io %s, grid (%u, %u, %u); %d registers, "
           "%d bytes local, %d bytes static smem, %d block%s an SM, ptx %d sass %d\n",
           m->name, m->threads, m->smem, m->block_v, kernel_dtype_name(m->io), grid[0], grid[1], grid[2],
           fi->registers, fi->local_bytes, fi->static_smem, per_sm, per_sm == 1 ? "" : "s", fi->ptx_version,
           fi->binary_version);
    if (fi->local_bytes > 0)
        printf("  warning: %d bytes of local memory per thread (register spills?)\n", fi->local_bytes);
}

/* The split's second pass for a first pass: the same name, _split_out. */
static const KernelMeta *split_partner(const Run *r, const KernelMeta *m)
{
    char want[KERNEL_NAME_MAX + 16];
    size_t n = strlen(m->name), tl = strlen("_split_state");
    if (n < tl || strcmp(m->name + n - tl, "_split_state") != 0) return NULL;
    snprintf(want, sizeof want, "%.*s_split_out", (int)(n - tl), m->name);
    for (int i = 0; i < r->nmetas; i++)
        if (r->metas[i].kind == KK_SPLIT_OUT && strcmp(r->metas[i].name, want) == 0) return &r->metas[i];
    return NULL;
}

static int step_kernels(Run *r)
{
    CudaCtx *c = &r->cu;
    const Options *o = r->o;
    int npass = 0, ntried = 0, rc = EXIT_PASS;
    for (int k = 0; k < r->nmetas; k++) {
        const KernelMeta *m = &r->metas[k];
        Sched sc = {{m, NULL}, {0}, 1, 1, 0, 1};
        if (m->kind == KK_SPLIT_OUT) continue; /* with its first pass */
        if (m->kind == KK_FULL && !(o->schedules & 1)) continue;
        if (m->kind == KK_SPLIT_STATE) {
            if (!(o->schedules & 2)) continue;
            const KernelMeta *m2 = split_partner(r, m);
            if (!m2) {
                error("%s: kernel %s has no second pass %s_split_out", o->ptx, m->name, m->name);
                return EXIT_USAGE;
            }
            sc.m[1] = m2;
            sc.n = 2;
        }
        CudaFuncInfo fi[2];
        int per_sm[2] = {0, 0}, orc = 0;
        for (int i = 0; i < sc.n && !orc; i++) orc = kernel_open(r, sc.m[i], &sc.f[i], &fi[i], &per_sm[i]);
        if (orc) return orc;
        if (m->kind == KK_SPLIT_STATE) {
            fwd_split_plan(m, o->B, o->T, o->H, c->sm_count, per_sm, o->segments, o->state_segments, &sc.nseg,
                           &sc.seglen, &sc.nout);
            size_t need = fwd_split_ws_bytes(m, o->B, o->H, sc.nseg);
            if (need > r->ws_bytes) {
                cuda_free(c, r->d_ws);
                r->d_ws = 0;
                r->ws_bytes = 0;
                if (cuda_alloc(c, &r->d_ws, need)) return cuda_failed(r, "allocating the split's workspace");
                r->ws_bytes = need;
            }
            printf("schedule split: %d output segment%s, %d state segment%s of %d tokens\n", sc.nout,
                   sc.nout == 1 ? "" : "s", sc.nseg, sc.nseg == 1 ? "" : "s", sc.seglen);
        }
        for (int i = 0; i < sc.n; i++) kernel_print(r, sc.m[i], &fi[i], per_sm[i], &sc);
        ntried++;
        int krc = kernel_check(r, &sc);
        if (krc == EXIT_USAGE) return krc;
        if (krc == EXIT_FAIL) {
            rc = EXIT_FAIL;
            if (c->err.status != CS_OK) break; /* a fault: the context is lost */
            continue;
        }
        npass++;
        if (o->bench) {
            int brc = kernel_bench(r, &sc);
            if (brc != EXIT_PASS) return brc;
        }
    }
    if (ntried == 0) {
        error("%s: no kernel of the schedules asked for", o->ptx);
        return EXIT_USAGE;
    }
    if (rc == EXIT_PASS)
        printf("lac_gpu_fwd: PASS (%d schedule%s)\n", npass, npass == 1 ? "" : "s");
    else
        printf("lac_gpu_fwd: FAIL (%d of %d schedule%s passed)\n", npass, ntried, ntried == 1 ? "" : "s");
    return rc;
}

int main(int argc, char **argv)
{
    Run r;
    memset(&r, 0, sizeof r);
    arena_init(&r.arena);
    diags_init(&r.diags, &r.arena);
    Options o;
    r.o = &o;
    int rc = options_parse(argc, argv, &o, &r.arena);
    if (rc != 0) {
        arena_free(&r.arena);
        return rc < 0 ? 0 : rc;
    }
    if (o.self_test) {
        arena_free(&r.arena);
        return selftest_run() == 0 ? EXIT_PASS : EXIT_FAIL;
    }
    /* The CPU steps first, so that a bad .la or PTX is reported on any
     * machine; then the driver (77 without one), the JIT (before the
     * reference, which can take seconds), the reference, the kernels. */
    if ((rc = step_frontend(&r)) || (rc = step_ptx(&r)) || (rc = step_sizes(&r))) goto done;
    printf("lac_gpu_fwd: attention %s, shape B=%d T=%d H=%d, K=%d V=%d, seed %llu%s%s\n",
           r.v->name, o.B, o.T, o.H, r.v->dk, r.v->dv, (unsigned long long)o.seed,
           o.initial_state ? ", initial state" : "", o.final_state ? ", final state checked" : "");
    fflush(stdout);
    if ((rc = step_device(&r)) || (rc = step_reference(&r)) || (rc = step_upload(&r))) goto done;
    rc = step_kernels(&r);
done:
    fflush(stdout);
    run_free(&r);
    return rc;
}
