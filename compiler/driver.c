/*
 * driver.c: the pipeline, listed once and in order, and the `lac` command.
 *
 *   read source -> lexer.l/parser.y (AST) -> sema.c (Variant) -> ref.c (CPU reference)
 *   [next: templates -> tile IR -> LLVM IR -> PTX]
 *
 * lac_main is the command line; it lives in the library so that the `lac`
 * executable is one line and the library is what every front end embeds.
 * Nothing here exits: lac_main returns the exit code (0 ok, 1 errors in the
 * input, 2 usage or I/O errors) and main() passes it on.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lac_internal.h"
#ifdef LAC_HAVE_RUNTIME
#include "lac_runtime.h"
#endif

/* ------------------------------------------------------------------------
 * The pipeline
 * ------------------------------------------------------------------------ */

typedef enum Stage { STAGE_PARSE, STAGE_SEMA } Stage;

typedef struct Frontend {
    AstFile *ast;
    Variant *variant; /* NULL unless sema succeeded */
} Frontend;

/* Parse and check `src` up to `last`. Sema runs only on a file without
 * syntax errors, so one mistake is not reported twice. */
static Frontend frontend_run(const SrcFile *src, const ParamOverride *ovr, int novr, Stage last,
                             Arena *a, Diags *d)
{
    Frontend fe = {0};
    fe.ast = parser_parse(src, a, d);
    if (last == STAGE_PARSE || d->nerrors > 0) return fe;
    fe.variant = sema_check(fe.ast, ovr, novr, a, d);
    return fe;
}

/* Read a whole file into the arena; reports and returns false on failure. */
static bool source_read(const char *path, Arena *a, Diags *d, SrcFile *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error_noloc(d, path, "cannot open: %s", strerror(errno));
        return false;
    }
    char *buf = arena_alloc(a, LAC_MAX_SOURCE_BYTES + 1);
    size_t n = fread(buf, 1, LAC_MAX_SOURCE_BYTES + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        diag_error_noloc(d, path, "cannot read: %s", strerror(errno));
        return false;
    }
    if (n > LAC_MAX_SOURCE_BYTES) {
        diag_error_noloc(d, path, "file is larger than %u bytes; a .la file is a few lines",
                         LAC_MAX_SOURCE_BYTES);
        return false;
    }
    buf[n] = 0;
    out->name = arena_strdup(a, path);
    out->text = buf;
    out->len = n;
    return true;
}

/* ------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------ */

static const char usage[] =
    "usage: lac <command> [options] FILE...\n"
    "\n"
    "commands:\n"
    "  check FILE...                 check .la files; print a summary of each\n"
    "  dump --tokens|--ast|--tir|--llvm|--ptx FILE\n"
    "                                print the tokens, the checked AST, or the\n"
    "                                forward kernels' tile IR, LLVM IR (after O2)\n"
    "                                or PTX\n"
    "  compile FILE -o OUT.ptx       PTX of the forward kernels [--arch sm_80|sm_90|sm_90a]\n"
    "  compile FILE --all-configs -o DIR\n"
    "                                PTX of every configuration of the tuning space,\n"
    "                                one file each: DIR/NAME.bvB.wW.sS[...].ptx\n"
    "  tune FILE --shape B,T,H       tune on this machine's GPU: progress, then the\n"
    "        [--force] [--device N]  chosen configuration (kept in the tuning database)\n"
    "  ref FILE --shape B,T,H        run the float64 reference on random inputs\n"
    "        [--seed N] [--initial-state] [--out DIR]\n"
    "  version                       print versions and self-test the NVPTX back end\n"
    "\n"
    "options:\n"
    "  --set NAME=VALUE              override a param of the file, or a tile setting\n"
    "                                (chunk, subchunk, block_k, block_v, warps, stages)\n"
    "                                of the configuration to compile (repeatable)\n"
    "  --diagnostics=human|plain     diagnostics with source and caret (default), or\n"
    "                                one line each (machine-readable)\n"
    "  -Werror                       treat warnings as errors\n";

typedef struct Options {
    const char *cmd;
    const char **files;
    int nfiles;
    CompileSets sets;        /* --set */
    DiagFormat fmt;
    bool werror;
    bool dump_tokens, dump_ast, dump_tir, dump_llvm, dump_ptx;
    const char *arch;
    const char *out_file;
    int B, T, H;
    bool have_shape;
    uint64_t seed;
    bool initial_state;
    const char *out_dir;
    bool all_configs;
    bool force;
    int device;
} Options;

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

/* Returns 0 when the options parse, 2 (usage) otherwise. */
static int options_parse(int argc, char **argv, Options *o, Arena *a)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->arch = "sm_90";
    o->files = arena_alloc(a, sizeof(char *) * (size_t)(argc + 1));
    o->sets.ovr = arena_alloc(a, sizeof(ParamOverride) * (size_t)(argc + 1));
    o->sets.cap = argc + 1;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    o->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(s, "--set") == 0 && val) {
            if (!compile_sets_add(&o->sets, val, a)) {
                fprintf(stderr, "lac: error: --set expects NAME=NUMBER, got '%s'\n", val);
                return 2;
            }
            i++;
        } else if (strncmp(s, "--set=", 6) == 0) {
            if (!compile_sets_add(&o->sets, s + 6, a)) {
                fprintf(stderr, "lac: error: --set expects NAME=NUMBER, got '%s'\n", s + 6);
                return 2;
            }
        } else if (strcmp(s, "--shape") == 0 && val) {
            if (!parse_shape(val, o)) {
                fprintf(stderr, "lac: error: --shape expects B,T,H (positive integers), got '%s'\n", val);
                return 2;
            }
            i++;
        } else if (strcmp(s, "--seed") == 0 && val) {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(val, &end, 10);
            if (*end || end == val || errno) {
                fprintf(stderr, "lac: error: --seed expects a non-negative integer, got '%s'\n", val);
                return 2;
            }
            o->seed = x;
            i++;
        } else if (strcmp(s, "--arch") == 0 && val) {
            o->arch = val;
            i++;
        } else if (strcmp(s, "-o") == 0 && val) {
            o->out_file = val;
            i++;
        } else if (strcmp(s, "--llvm") == 0) {
            o->dump_llvm = true;
        } else if (strcmp(s, "--tir") == 0) {
            o->dump_tir = true;
        } else if (strcmp(s, "--ptx") == 0) {
            o->dump_ptx = true;
        } else if (strcmp(s, "--out") == 0 && val) {
            o->out_dir = val;
            i++;
        } else if (strcmp(s, "--all-configs") == 0) {
            o->all_configs = true;
        } else if (strcmp(s, "--force") == 0) {
            o->force = true;
        } else if (strcmp(s, "--device") == 0 && val) {
            char *end;
            long dv = strtol(val, &end, 10);
            if (*end || end == val || dv < 0 || dv > 1024) {
                fprintf(stderr, "lac: error: --device expects a GPU ordinal, got '%s'\n", val);
                return 2;
            }
            o->device = (int)dv;
            i++;
        } else if (strcmp(s, "--initial-state") == 0) {
            o->initial_state = true;
        } else if (strcmp(s, "--tokens") == 0) {
            o->dump_tokens = true;
        } else if (strcmp(s, "--ast") == 0) {
            o->dump_ast = true;
        } else if (strcmp(s, "--diagnostics=plain") == 0) {
            o->fmt = DIAG_FORMAT_PLAIN;
        } else if (strcmp(s, "--diagnostics=human") == 0) {
            o->fmt = DIAG_FORMAT_HUMAN;
        } else if (strcmp(s, "-Werror") == 0) {
            o->werror = true;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "lac: error: unknown option '%s'\n%s", s, usage);
            return 2;
        } else {
            o->files[o->nfiles++] = s;
        }
    }
    return 0;
}

static void diags_flush(Diags *d, DiagFormat fmt)
{
    StrBuf b;
    strbuf_init(&b);
    diags_render(d, fmt, &b);
    if (b.len) fputs(b.data, stderr);
    strbuf_free(&b);
}

static bool failed(const Diags *d, const Options *o)
{
    return d->nerrors > 0 || d->truncated || (o->werror && d->nwarnings > 0);
}

static int cmd_check(const Options *o)
{
    if (o->nfiles == 0) {
        fprintf(stderr, "lac: error: check needs at least one file\n");
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < o->nfiles; i++) {
        Arena a;
        arena_init(&a);
        Diags d;
        diags_init(&d, &a);
        SrcFile src;
        if (!source_read(o->files[i], &a, &d, &src)) {
            diags_flush(&d, o->fmt);
            arena_free(&a);
            rc = 2;
            continue;
        }
        Frontend fe = frontend_run(&src, o->sets.ovr, o->sets.novr, STAGE_SEMA, &a, &d);
        diags_flush(&d, o->fmt);
        if (failed(&d, o)) {
            if (rc == 0) rc = 1;
        } else if (fe.variant) {
            StrBuf b;
            strbuf_init(&b);
            variant_summary(fe.variant, &b);
            printf("%s: ok: %s\n", src.name, b.data);
            strbuf_free(&b);
        }
        arena_free(&a);
    }
    return rc;
}

/* When the configuration asked for does not fit these head dims or this
 * target (`--set K=256` with a default of block_v 64), the first one of the
 * tuning space that does, with what --set leaves open, then the same with
 * one stage (no prefetch: slower, and the smallest rings) when stages is
 * not pinned; a warning says which. If none fits, kc stays and its errors
 * follow. */
static void fallback_config(const Variant *v, const Options *o, KernelConfig *kc, Diags *d)
{
    char why[512];
    if (codegen_config_fits(v, kc, o->arch, why, sizeof why)) return;
    enum { MAXC = 4096 };
    KernelConfig *cfgs = malloc(sizeof *cfgs * MAXC);
    if (!cfgs) return;
    int n = compile_configs(v, &o->sets, cfgs, MAXC);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (o->sets.knob[KNOB_STAGES]) break;
            n = compile_configs_one_stage(cfgs, n);
        }
        for (int i = 0; i < n; i++) {
            if (!codegen_config_fits(v, &cfgs[i], o->arch, NULL, 0)) continue;
            char want[160], got[160];
            kernel_config_format(kc, want, sizeof want);
            kernel_config_format(&cfgs[i], got, sizeof got);
            Diag *g = diag_warning(d, v->loc, "the configuration %s does not fit K = %d, V = %d on %s; compiling %s, %s",
                                   want, v->dk, v->dv, o->arch, got,
                                   pass == 0 ? "the first of the tuning space that does"
                                             : "the first of the tuning space that does with one stage (no prefetch)");
            diag_note_noloc(d, g, "the configuration asked for: %s", why);
            diag_note_noloc(d, g, "--set the tile settings to choose another (`lac compile --all-configs` lists "
                                  "what fits)");
            *kc = cfgs[i];
            free(cfgs);
            return;
        }
    }
    free(cfgs);
}

/* Front end, then the code generator: PTX (and LLVM IR, tile IR) of the forward. */
static bool compile_forward(const SrcFile *src, const Options *o, Arena *a, Diags *d, StrBuf *ptx,
                            StrBuf *ir, StrBuf *tir)
{
    Frontend fe = frontend_run(src, o->sets.ovr, o->sets.novr, STAGE_SEMA, a, d);
    if (!fe.variant || failed(d, o)) return false;
    KernelConfig kc;
    if (!compile_config(fe.variant, &o->sets, &kc, d)) return false;
    fallback_config(fe.variant, o, &kc, d);
    if (failed(d, o)) return false;
    return codegen_forward_ptx(fe.variant, &kc, o->arch, ptx, ir, tir, a, d);
}

/* Write a temporary file and rename it, so a reader never sees half a file. */
static bool file_write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool w = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) w = false;
    if (!w || rename(tmp, path) != 0) {
        fprintf(stderr, "lac: error: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}

/* `lac compile FILE --all-configs -o DIR`: every configuration of the
 * tuning space, one PTX file each; configurations the code generator
 * rules out for the target (shared memory) are reported and skipped. */
static int cmd_compile_all(const Options *o)
{
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    SrcFile src;
    int rc = 0;
    if (!source_read(o->files[0], &a, &d, &src)) {
        diags_flush(&d, o->fmt);
        arena_free(&a);
        return 2;
    }
    Variant *v = compile_check(&src, &o->sets, &a, &d);
    if (!v || failed(&d, o)) {
        diags_flush(&d, o->fmt);
        arena_free(&a);
        return 1;
    }
    if (mkdir(o->out_file, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "lac: error: cannot create %s: %s\n", o->out_file, strerror(errno));
        arena_free(&a);
        return 2;
    }
    enum { MAXC = 4096 };
    KernelConfig *cfgs = arena_alloc(&a, sizeof *cfgs * MAXC);
    int n = compile_configs(v, &o->sets, cfgs, MAXC);
    int nok = 0;
    const char *base = strrchr(src.name, '/') ? strrchr(src.name, '/') + 1 : src.name;
    size_t blen = strlen(base) > 3 && strcmp(base + strlen(base) - 3, ".la") == 0 ? strlen(base) - 3 : strlen(base);
    for (int i = 0; i < n && rc != 2; i++) {
        const KernelConfig *kc = &cfgs[i];
        char path[4096], cfg[160];
        kernel_config_format(kc, cfg, sizeof cfg);
        snprintf(path, sizeof path, "%s/%.*s.bv%d.w%d.s%d.c%d.sc%d.bk%d.ptx", o->out_file, (int)blen, base, kc->block_v,
                 kc->warps, kc->stages, kc->chunk, kc->subchunk, kc->block_k);
        Diags cd;
        diags_init(&cd, &a);
        StrBuf ptx;
        strbuf_init(&ptx);
        if (codegen_forward_ptx(v, kc, o->arch, &ptx, NULL, NULL, &a, &cd)) {
            if (file_write_atomic(path, ptx.data, ptx.len)) {
                printf("[%d/%d] %s: %s\n", i + 1, n, cfg, path);
                nok++;
            } else {
                rc = 2;
            }
        } else {
            printf("[%d/%d] %s: skipped for %s:\n", i + 1, n, cfg, o->arch);
            fflush(stdout);
            diags_flush(&cd, DIAG_FORMAT_PLAIN);
        }
        strbuf_free(&ptx);
    }
    if (rc == 0) printf("lac: %d of %d configurations written to %s\n", nok, n, o->out_file);
    if (rc == 0 && nok == 0) rc = 1;
    diags_flush(&d, o->fmt);
    arena_free(&a);
    return rc;
}

static int cmd_compile(const Options *o)
{
    if (o->nfiles == 1 && o->out_file && o->all_configs) return cmd_compile_all(o);
    if (o->nfiles != 1 || !o->out_file) {
        fprintf(stderr, "lac: error: compile takes one file and -o OUT.ptx\n");
        return 2;
    }
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    SrcFile src;
    StrBuf ptx;
    strbuf_init(&ptx);
    int rc = 0;
    if (!source_read(o->files[0], &a, &d, &src)) {
        rc = 2;
    } else if (!compile_forward(&src, o, &a, &d, &ptx, NULL, NULL)) {
        rc = 1;
    } else if (!file_write_atomic(o->out_file, ptx.data, ptx.len)) {
        rc = 2;
    }
    diags_flush(&d, o->fmt);
    strbuf_free(&ptx);
    arena_free(&a);
    return rc;
}

static int cmd_dump(const Options *o)
{
    int kinds = o->dump_tokens + o->dump_ast + o->dump_tir + o->dump_llvm + o->dump_ptx;
    if (o->nfiles != 1 || kinds != 1) {
        fprintf(stderr, "lac: error: dump takes one of --tokens, --ast, --tir, --llvm or --ptx, and one file\n");
        return 2;
    }
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    SrcFile src;
    int rc = 0;
    StrBuf b;
    strbuf_init(&b);
    if (!source_read(o->files[0], &a, &d, &src)) {
        rc = 2;
    } else if (o->dump_tir) {
        if (!compile_forward(&src, o, &a, &d, NULL, NULL, &b)) rc = 1;
    } else if (o->dump_llvm || o->dump_ptx) {
        StrBuf ptx;
        strbuf_init(&ptx);
        if (!compile_forward(&src, o, &a, &d, o->dump_ptx ? &ptx : NULL, o->dump_llvm ? &b : NULL, NULL)) rc = 1;
        else if (o->dump_ptx) strbuf_puts(&b, ptx.data);
        strbuf_free(&ptx);
    } else if (o->dump_tokens) {
        Token *toks;
        int n = lexer_tokenize(&src, &a, &d, &toks);
        for (int i = 0; i < n; i++) {
            strbuf_printf(&b, "%d:%d %s", toks[i].loc.line, toks[i].loc.col,
                          lexer_token_name(toks[i].kind));
            if (toks[i].kind != 0) strbuf_printf(&b, " '%s'", toks[i].text);
            strbuf_putc(&b, '\n');
        }
    } else {
        Frontend fe = frontend_run(&src, o->sets.ovr, o->sets.novr, STAGE_SEMA, &a, &d);
        ast_dump(fe.ast, &b);
        if (fe.variant) {
            strbuf_puts(&b, "variant: ");
            variant_summary(fe.variant, &b);
            strbuf_putc(&b, '\n');
            for (int i = 0; i < fe.variant->ninputs; i++) {
                const Symbol *y = fe.variant->inputs[i];
                strbuf_printf(&b, "  input %s: %s %s%s%s\n", y->name, dtype_name(y->dtype),
                              layout_name(y->layout), (y->roles & ROLE_LOG_GATE) ? " log-gate" : "",
                              (y->roles & ROLE_POSITIVE) ? " positive" : "");
            }
            for (int k = 0; k < KNOB_COUNT_; k++) {
                strbuf_printf(&b, "  %s = %d in {", knob_name(k), fe.variant->tune.tile[k]);
                for (int j = 0; j < fe.variant->tune.nvalues[k]; j++)
                    strbuf_printf(&b, "%s%d", j ? ", " : "", fe.variant->tune.values[k][j]);
                strbuf_puts(&b, "}\n");
            }
        }
    }
    if (b.len) fputs(b.data, stdout);
    strbuf_free(&b);
    diags_flush(&d, o->fmt);
    if (rc == 0 && failed(&d, o)) rc = 1;
    arena_free(&a);
    return rc;
}

typedef struct Stats {
    double mean, std, min, max, l2;
} Stats;

static Stats stats_of(const double *x, size_t n)
{
    Stats s = {0, 0, INFINITY, -INFINITY, 0};
    for (size_t i = 0; i < n; i++) {
        s.mean += x[i];
        s.l2 += x[i] * x[i];
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
    }
    if (n) {
        s.mean /= (double)n;
        s.std = sqrt(fmax(s.l2 / (double)n - s.mean * s.mean, 0));
    }
    s.l2 = sqrt(s.l2);
    return s;
}

static void print_tensor(const char *name, const int *dims, int nd, const double *x, const char *what)
{
    size_t n = 1;
    char shape[96];
    int k = snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < nd; i++) {
        n *= (size_t)dims[i];
        k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%d", i ? ", " : "", dims[i]);
    }
    snprintf(shape + k, sizeof shape - (size_t)k, "]");
    Stats s = stats_of(x, n);
    printf("  %-14s %-22s mean %+.6e  std %.6e  min %+.6e  max %+.6e  l2 %.10e%s%s\n", name, shape,
           s.mean, s.std, s.min, s.max, s.l2, what ? "  " : "", what ? what : "");
}

static bool write_npy(const Options *o, const char *name, const double *x, const int *dims, int nd)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", o->out_dir, name);
    if (!npy_write_f64(path, x, dims, nd)) {
        fprintf(stderr, "lac: error: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

/* The dims of input i for a shape, in its layout. */
static int input_dims(const Symbol *y, const Options *o, int *dims)
{
    switch (y->layout) {
    case LAYOUT_TOKEN: dims[0] = o->B; dims[1] = o->T; dims[2] = o->H; return 3;
    case LAYOUT_TOKEN_VEC: dims[0] = o->B; dims[1] = o->T; dims[2] = o->H; dims[3] = y->cols; return 4;
    case LAYOUT_HEAD: dims[0] = o->H; return 1;
    case LAYOUT_HEAD_VEC: dims[0] = o->H; dims[1] = y->cols; return 2;
    case LAYOUT_HEAD_MAT: dims[0] = o->H; dims[1] = y->rows; dims[2] = y->cols; return 3;
    case LAYOUT_SHARED_VEC: dims[0] = y->cols; return 1;
    case LAYOUT_SHARED_MAT: dims[0] = y->rows; dims[1] = y->cols; return 2;
    }
    return 0;
}

enum { REF_MAX_ELEMS = 1 << 27 }; /* 1 GiB of float64 per tensor */

static int cmd_ref(const Options *o)
{
    if (o->nfiles != 1 || !o->have_shape) {
        fprintf(stderr, "lac: error: ref takes one file and --shape B,T,H\n");
        return 2;
    }
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    SrcFile src;
    int rc = 0;
    double **bufs = NULL;
    int nbufs = 0;
    if (!source_read(o->files[0], &a, &d, &src)) {
        diags_flush(&d, o->fmt);
        arena_free(&a);
        return 2;
    }
    Frontend fe = frontend_run(&src, o->sets.ovr, o->sets.novr, STAGE_SEMA, &a, &d);
    Variant *v = fe.variant;
    if (!v || failed(&d, o)) {
        diags_flush(&d, o->fmt);
        arena_free(&a);
        return 1;
    }
    size_t nto = (size_t)o->B * o->T * o->H;
    size_t no = nto * (size_t)v->dv, ns = (size_t)o->B * o->H * (size_t)v->dk * (size_t)v->dv;
    bool too_big = no > REF_MAX_ELEMS || ns > REF_MAX_ELEMS;
    for (int i = 0; i < v->ninputs; i++)
        if (ref_input_numel(v, i, o->B, o->T, o->H) > REF_MAX_ELEMS) too_big = true;
    if (too_big) {
        fprintf(stderr, "lac: error: shape %d,%d,%d needs a tensor of more than %d float64 "
                        "values; use a smaller shape for the reference\n",
                o->B, o->T, o->H, REF_MAX_ELEMS);
        arena_free(&a);
        return 2;
    }
    bufs = calloc((size_t)v->ninputs + 5, sizeof(double *));
    RefProblem p = {0};
    p.B = o->B;
    p.T = o->T;
    p.H = o->H;
    p.inputs = bufs;
    bool ok = bufs != NULL;
    for (int i = 0; ok && i < v->ninputs; i++) {
        bufs[nbufs++] = malloc(sizeof(double) * ref_input_numel(v, i, o->B, o->T, o->H));
        ok = bufs[i] != NULL;
    }
    double *o_buf = ok ? malloc(sizeof(double) * no) : NULL;
    double *s_fin = ok ? malloc(sizeof(double) * ns) : NULL;
    double *z_fin = v->normalize && ok ? malloc(sizeof(double) * ((size_t)o->B * o->H * v->dk)) : NULL;
    double *s0 = o->initial_state && ok ? malloc(sizeof(double) * ns) : NULL;
    double *z0 = o->initial_state && v->normalize && ok
                     ? malloc(sizeof(double) * ((size_t)o->B * o->H * v->dk)) : NULL;
    ok = ok && o_buf && s_fin && (!v->normalize || z_fin) && (!o->initial_state || s0) &&
         (!o->initial_state || !v->normalize || z0);
    if (!ok) {
        fprintf(stderr, "lac: error: out of memory for the reference tensors\n");
        rc = 2;
        goto done;
    }
    ref_fill_inputs(v, &p, o->seed);
    if (s0 && !ref_initial_state(v, &p, o->seed, s0, z0, &d)) {
        diags_flush(&d, o->fmt);
        rc = 1;
        goto done;
    }
    p.s0 = s0;
    p.z0 = z0;
    p.o = o_buf;
    p.s_final = s_fin;
    p.z_final = z_fin;
    if (!ref_run(v, &p, &d)) {
        diags_flush(&d, o->fmt);
        rc = 1;
        goto done;
    }
    diags_flush(&d, o->fmt);
    printf("lac ref: attention %s, shape B=%d T=%d H=%d, K=%d V=%d, seed %llu%s\n", v->name, o->B,
           o->T, o->H, v->dk, v->dv, (unsigned long long)o->seed,
           o->initial_state ? ", initial state after a random 16-token prefix" : "");
    printf("inputs:\n");
    for (int i = 0; i < v->ninputs; i++) {
        const Symbol *y = v->inputs[i];
        int dims[4];
        int nd = input_dims(y, o, dims);
        char what[64];
        snprintf(what, sizeof what, "%s, %s", dtype_name(y->dtype),
                 (y->roles & ROLE_LOG_GATE)   ? "logsigmoid(N(0,1))/16"
                 : (y->roles & ROLE_POSITIVE) ? "|N(0,1)|"
                 : y->rows                    ? "N(0,1/R)"
                                              : "N(0,1)");
        print_tensor(y->name, dims, nd, bufs[i], what);
    }
    printf("outputs:\n");
    int od[4] = {o->B, o->T, o->H, v->dv}, sd[4] = {o->B, o->H, v->dk, v->dv};
    print_tensor("o", od, 4, o_buf, NULL);
    print_tensor("final_state", sd, 4, s_fin, NULL);
    if (z_fin) print_tensor("final_norm", sd, 3, z_fin, NULL);
    if (o->out_dir) {
        if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "lac: error: cannot create %s: %s\n", o->out_dir, strerror(errno));
            rc = 2;
            goto done;
        }
        bool w = true;
        for (int i = 0; w && i < v->ninputs; i++) {
            int dims[4];
            int nd = input_dims(v->inputs[i], o, dims);
            w = write_npy(o, v->inputs[i]->name, bufs[i], dims, nd);
        }
        w = w && write_npy(o, "o", o_buf, od, 4) && write_npy(o, "final_state", s_fin, sd, 4);
        if (w && z_fin) w = write_npy(o, "final_norm", z_fin, sd, 3);
        if (w && s0) w = write_npy(o, "initial_state", s0, sd, 4);
        if (w && z0) w = write_npy(o, "initial_norm", z0, sd, 3);
        if (!w) rc = 2;
        else printf("wrote %s/*.npy\n", o->out_dir);
    }
done:
    for (int i = 0; i < nbufs; i++) free(bufs[i]);
    free(bufs);
    free(o_buf);
    free(s_fin);
    free(z_fin);
    free(s0);
    free(z0);
    arena_free(&a);
    return rc;
}

/* `lac tune FILE --shape B,T,H`: the runtime's tuner on this machine's GPU,
 * with its progress lines, then the choice (kept in the tuning database). */
static int cmd_tune(const Options *o)
{
    if (o->nfiles != 1 || !o->have_shape) {
        fprintf(stderr, "lac: error: tune takes one file and --shape B,T,H\n");
        return 2;
    }
#ifdef LAC_HAVE_RUNTIME
    lac_context_options co = {0};
    co.device = o->device;
    co.verbose = 1;
    lac_context *cx = NULL;
    lac_status st = lac_context_create(&co, &cx);
    if (st != LAC_OK) {
        fprintf(stderr, "lac: error: %s\n", lac_last_error());
        return st == LAC_ERR_NO_DRIVER || st == LAC_ERR_NO_DEVICE ? 3 : 2;
    }
    const char **sets = malloc(sizeof(char *) * (size_t)(KNOB_COUNT_ + o->sets.novr + 1));
    int nsets = 0;
    char (*ovr)[128] = malloc(sizeof *ovr * (size_t)(o->sets.novr + 1));
    for (int k = 0; sets && k < KNOB_COUNT_; k++)
        if (o->sets.knob_text[k]) sets[nsets++] = o->sets.knob_text[k];
    for (int i = 0; sets && ovr && i < o->sets.novr; i++) {
        snprintf(ovr[i], sizeof ovr[i], "%s=%.17g", o->sets.ovr[i].name, o->sets.ovr[i].value);
        sets[nsets++] = ovr[i];
    }
    lac_variant *lv = NULL;
    lac_tune_result r;
    int rc = 0;
    st = sets && ovr ? lac_variant_load(cx, o->files[0], sets, nsets, &lv) : LAC_ERR_INTERNAL;
    if (st == LAC_OK) st = lac_tune(lv, o->B, o->T, o->H, o->force, &r);
    if (st != LAC_OK) {
        fprintf(stderr, "lac: error: %s\n", lac_last_error());
        rc = st == LAC_ERR_SOURCE ? 1 : 2;
    } else {
        lac_device_info di;
        lac_context_device(cx, &di);
        printf("%s %s on %s: %s", o->files[0], r.shape_class, di.name, r.config);
        if (r.from_database)
            printf(" (from the tuning database, %.4f ms when tuned)\n", r.ms);
        else
            printf(" (%.4f ms; %d candidates timed, %d pruned, %.1f s)\n", r.ms, r.candidates, r.pruned, r.seconds);
    }
    lac_variant_destroy(lv);
    lac_context_destroy(cx);
    free(sets);
    free(ovr);
    return rc;
#else
    fprintf(stderr, "lac: error: this lac was built without the runtime (no cuda.h at build time)\n");
    return 2;
#endif
}

static int cmd_version(void)
{
    StrBuf b;
    strbuf_init(&b);
    bool ok = llvm_describe_backend(&b);
    printf("lac %s\n%s\n", LAC_VERSION_STRING, b.data);
    strbuf_free(&b);
    return ok ? 0 : 1;
}

LAC_API const char *lac_version(void) { return LAC_VERSION_STRING; }

LAC_API int lac_main(int argc, char **argv)
{
    Arena a;
    arena_init(&a);
    Options o;
    int rc = options_parse(argc, argv, &o, &a);
    if (rc == 0) {
        if (strcmp(o.cmd, "check") == 0) {
            rc = cmd_check(&o);
        } else if (strcmp(o.cmd, "dump") == 0) {
            rc = cmd_dump(&o);
        } else if (strcmp(o.cmd, "compile") == 0) {
            rc = cmd_compile(&o);
        } else if (strcmp(o.cmd, "tune") == 0) {
            rc = cmd_tune(&o);
        } else if (strcmp(o.cmd, "ref") == 0) {
            rc = cmd_ref(&o);
        } else if (strcmp(o.cmd, "version") == 0 || strcmp(o.cmd, "--version") == 0) {
            rc = cmd_version();
        } else if (strcmp(o.cmd, "help") == 0 || strcmp(o.cmd, "--help") == 0 ||
                   strcmp(o.cmd, "-h") == 0) {
            fputs(usage, stdout);
        } else {
            fprintf(stderr, "lac: error: unknown command '%s'\n%s", o.cmd, usage);
            rc = 2;
        }
    }
    arena_free(&a);
    return rc;
}

LAC_API int lac_check_source(const char *name, const char *text, size_t len, char **diagnostics)
{
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    SrcFile src = {name ? name : "<string>", text, len};
    if (len > LAC_MAX_SOURCE_BYTES)
        diag_error_noloc(&d, src.name, "source is larger than %u bytes", LAC_MAX_SOURCE_BYTES);
    else
        frontend_run(&src, NULL, 0, STAGE_SEMA, &a, &d);
    int rc = (d.nerrors > 0 || d.truncated) ? 1 : 0;
    if (diagnostics) {
        StrBuf b;
        strbuf_init(&b);
        diags_render(&d, DIAG_FORMAT_HUMAN, &b);
        strbuf_putc(&b, 0);
        *diagnostics = b.data;
    }
    arena_free(&a);
    return rc;
}
