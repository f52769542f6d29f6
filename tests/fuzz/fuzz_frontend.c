/*
 * fuzz_frontend.c: libFuzzer target for the front end and the CPU reference.
 *
 * Each input is the text of a .la file ("fuzz.la"). It goes through the
 * pipeline as `lac` runs it (driver.c: parse, then sema only on a file
 * without syntax errors), the printers (tokens, AST, variant summary), both
 * renderings of the diagnostics, and, when sema accepts it and the variant is
 * small, the float64 reference at B=1, T=3, H=2 on seeded inputs. Everything
 * lives in one arena or in buffers freed before returning, so LeakSanitizer
 * sees any leak. Built by the asan preset (LAC_FUZZ=ON); run by tests/fuzz/run.sh.
 *
 * LAC_FUZZ_SEMA_ALWAYS=1 in the environment also runs sema on files with
 * syntax errors (the ASTs the parser recovers), which `lac` never does; for
 * exploratory runs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lac_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    FUZZ_B = 1, FUZZ_T = 3, FUZZ_H = 2,
    MAX_STATE = 4096,         /* dk * dv: the reference state per head */
    MAX_INPUT = 1 << 16,      /* elements of any one input at the fuzz shape */
    MAX_SCRATCH = 1 << 20,    /* doubles of expression temporaries per token */
};

/* The reference's scratch need, counted as ref.c does: a row per node. */
static size_t expr_cost(const Expr *e)
{
    if (!e) return 0;
    size_t n = (size_t)(e->type.cols > 0 ? e->type.cols : 1);
    n += expr_cost(e->lhs) + expr_cost(e->rhs);
    for (int i = 0; i < e->nargs; i++) n += expr_cost(e->args[i]);
    return n;
}

static bool variant_small(const Variant *v)
{
    if (v->dk < 1 || v->dv < 1 || (long)v->dk * v->dv > MAX_STATE) return false;
    for (int i = 0; i < v->ninputs; i++)
        if (ref_input_numel(v, i, FUZZ_B, FUZZ_T, FUZZ_H) > MAX_INPUT) return false;
    size_t cost = expr_cost(v->query) + expr_cost(v->key) + expr_cost(v->value) +
                  expr_cost(v->scale) + expr_cost(v->decay_expr);
    for (int i = 0; i < v->nlets; i++) cost += expr_cost(v->lets[i]->expr);
    return cost <= MAX_SCRATCH;
}

/* The reference on seeded inputs; with an initial state when `with_s0`. */
static void run_reference(const Variant *v, bool with_s0, uint64_t seed, Diags *d)
{
    const size_t K = (size_t)v->dk, V = (size_t)v->dv, BH = (size_t)FUZZ_B * FUZZ_H;
    RefProblem p = {0};
    p.B = FUZZ_B;
    p.T = FUZZ_T;
    p.H = FUZZ_H;
    p.inputs = calloc((size_t)v->ninputs + 1, sizeof(double *));
    double *o = malloc(sizeof(double) * BH * FUZZ_T * V);
    double *s = malloc(sizeof(double) * BH * K * V);
    double *z = malloc(sizeof(double) * BH * K);
    double *s0 = with_s0 ? malloc(sizeof(double) * BH * K * V) : NULL;
    double *z0 = with_s0 ? malloc(sizeof(double) * BH * K) : NULL;
    bool ok = p.inputs && o && s && z && (!with_s0 || (s0 && z0));
    for (int i = 0; ok && i < v->ninputs; i++) {
        size_t n = ref_input_numel(v, i, FUZZ_B, FUZZ_T, FUZZ_H);
        p.inputs[i] = malloc(sizeof(double) * (n ? n : 1));
        ok = p.inputs[i] != NULL;
    }
    if (ok) {
        ref_fill_inputs(v, &p, seed);
        if (with_s0) {
            ref_fill_normal(s0, BH * K * V, 0.1, seed ^ 0x5eedull);
            ref_fill_normal(z0, BH * K, 1, seed ^ 0x2eedull);
            for (size_t i = 0; i < BH * K; i++) z0[i] = fabs(z0[i]);
            p.s0 = s0;
            p.z0 = z0;
        }
        p.o = o;
        p.s_final = s;
        p.z_final = v->normalize ? z : NULL;
        bool ran = ref_run(v, &p, d);
        /* A run that succeeded wrote finite outputs: ref_run checks o. */
        if (ran)
            for (size_t i = 0; i < BH * FUZZ_T * V; i++) LAC_ASSERT(isfinite(o[i]));
        else
            LAC_ASSERT(d->nerrors > 0 || d->truncated);
    }
    for (int i = 0; p.inputs && i < v->ninputs; i++) free(p.inputs[i]);
    free(p.inputs);
    free(o);
    free(s);
    free(z);
    free(s0);
    free(z0);
}

/* Both renderings, checked for the shape every consumer relies on. */
static void render_all(const Diags *d)
{
    StrBuf human, plain;
    strbuf_init(&human);
    strbuf_init(&plain);
    diags_render(d, DIAG_FORMAT_HUMAN, &human);
    diags_render(d, DIAG_FORMAT_PLAIN, &plain);
    /* Something was reported iff something renders; plain is never longer. */
    bool any = d->first != NULL || d->truncated;
    LAC_ASSERT(any == (human.len > 0));
    LAC_ASSERT(any == (plain.len > 0));
    LAC_ASSERT(plain.len <= human.len);
    LAC_ASSERT(human.len == 0 || human.data[human.len - 1] == '\n');
    LAC_ASSERT(strlen(plain.data ? plain.data : "") == plain.len);
    strbuf_free(&human);
    strbuf_free(&plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int sema_always = -1;
    if (sema_always < 0) {
        const char *e = getenv("LAC_FUZZ_SEMA_ALWAYS");
        sema_always = e && *e == '1';
    }
    if (size > LAC_MAX_SOURCE_BYTES) return -1; /* the driver refuses these */

    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    /* An exact-size copy (not NUL-terminated), so ASan sees any read past len. */
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    memcpy(text, data, size);
    SrcFile src = {"fuzz.la", text, size};

    /* The tokens alone, as `lac dump --tokens` prints them. */
    {
        Diags dt;
        diags_init(&dt, &a);
        Token *toks;
        int n = lexer_tokenize(&src, &a, &dt, &toks);
        LAC_ASSERT(n >= 1 && toks[n - 1].kind == 0);
        for (int i = 0; i < n; i++) {
            const SrcLoc *l = &toks[i].loc;
            LAC_ASSERT(l->off >= 0 && (size_t)l->off + (size_t)l->len <= size);
            LAC_ASSERT(l->line >= 1 && l->col >= 1);
            LAC_ASSERT(lexer_token_name(toks[i].kind) != NULL);
        }
        render_all(&dt);
    }

    AstFile *ast = parser_parse(&src, &a, &d);
    LAC_ASSERT(ast != NULL);
    /* sema_check returns NULL iff it reported errors of its own. */
    int parse_errors = d.nerrors;
    Variant *v = NULL;
    if (parse_errors == 0 || sema_always) {
        v = sema_check(ast, NULL, 0, &a, &d);
        LAC_ASSERT((v != NULL) == (d.nerrors == parse_errors && !d.truncated));
    }
    if (parse_errors) v = NULL; /* as in the driver: never run a broken file */

    StrBuf b;
    strbuf_init(&b);
    ast_dump(ast, &b);
    if (v) variant_summary(v, &b);
    strbuf_free(&b);
    render_all(&d);

    if (v && variant_small(v)) {
        run_reference(v, size & 1, size * 0x9e3779b97f4a7c15ull, &d);
        render_all(&d);
    }

    free(text);
    arena_free(&a);
    return 0;
}
