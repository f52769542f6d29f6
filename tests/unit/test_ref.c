/*
 * test_ref.c: the float64 reference (ref.c) against independent closed forms.
 *
 * The reference is the oracle of every GPU test, so it is checked against
 * math written here from scratch, never through ref.c's evaluator or
 * builtin_apply*: each example's feature map is coded by hand in C and the
 * output is computed in the masked PARALLEL form
 *
 *   o_t = scale * sum_{s<=t} (phi(q_t) . (phi(k_s) * D_{t,s})) v_s
 *         + scale * phi(q_t) . (D_{t,-1} S0)                     (initial state)
 *   D_{t,s} = 1 | gamma^(t-s) (per head) | exp(G_t - G_s), G = cumsum(g)
 *             (per token, or per key channel for per_key)
 *   normalized: o_t / (scale * phi(q_t) . [sum_s phi(k_s) D_{t,s} + D_{t,-1} z0] + eps)
 *   S_T = sum_s D_{T-1,s} phi(k_s)^T v_s + D_{T-1,-1} S0   (and z_T alike)
 *
 * while ref.c runs the recurrence token by token. Non-causal variants use
 * o_t = scale * q_t S_T. Agreement is required to 1e-10 of the tensor's
 * largest |value|; every comparison is also shown able to fail, by
 * perturbing one element of each input and requiring the mismatch to be seen.
 * Other tests: splitting a sequence through s0/s_final, run-time decay sign
 * errors, the random input generator, and the .npy writer.
 *
 * Set LAC_REF_VERBOSE=1 to print the error reached by every comparison.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

/* Relative to max |ref| of a tensor; float64 recurrences of ~40 tokens
 * agree with the parallel form to ~1e-15. */
#define REF_TOL 1e-10
/* A perturbed input must move the closed form at least this much. */
#define PERTURB_MIN 1e-6

static bool verbose(void)
{
    const char *e = getenv("LAC_REF_VERBOSE");
    return e && *e && strcmp(e, "0") != 0;
}

/* ------------------------------------------------------------------------
 * Compilation and problems
 * ------------------------------------------------------------------------ */

static Unit *compile_checked(const char *what, Unit *u)
{
    ck_assert_msg(u->variant != NULL, "%s does not compile:\n%s", what, u->rendered);
    return u;
}

/* One reference problem: the inputs as the test sees them, and outputs. */
typedef struct Run {
    Unit *u;
    const Variant *v;
    int B, T, H, dk, dv;
    RefProblem p;
    double *o; /* [B, T, H, dv] */
    double *s; /* [B, H, dk, dv] */
    double *z; /* [B, H, dk] */
} Run;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    ck_assert_msg(p != NULL, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static Run *run_alloc(Unit *u, int B, int T, int H)
{
    Run *r = xcalloc(1, sizeof *r);
    r->u = u;
    r->v = u->variant;
    r->B = B;
    r->T = T;
    r->H = H;
    r->dk = r->v->dk;
    r->dv = r->v->dv;
    r->p.B = B;
    r->p.T = T;
    r->p.H = H;
    r->p.inputs = xcalloc((size_t)r->v->ninputs + 1, sizeof(double *));
    for (int i = 0; i < r->v->ninputs; i++)
        r->p.inputs[i] = xcalloc(ref_input_numel(r->v, i, B, T, H), sizeof(double));
    size_t bh = (size_t)B * (size_t)H;
    r->o = xcalloc((size_t)B * (size_t)T * (size_t)H * (size_t)r->dv, sizeof(double));
    r->s = xcalloc(bh * (size_t)r->dk * (size_t)r->dv, sizeof(double));
    r->z = xcalloc(bh * (size_t)r->dk, sizeof(double));
    r->p.o = r->o;
    r->p.s_final = r->s;
    r->p.z_final = r->z;
    return r;
}

static Run *run_new(Unit *u, int B, int T, int H, uint64_t seed)
{
    Run *r = run_alloc(u, B, T, H);
    ref_fill_inputs(r->v, &r->p, seed);
    return r;
}

static void run_free(Run *r)
{
    if (!r) return;
    for (int i = 0; i < r->v->ninputs; i++) free(r->p.inputs[i]);
    free(r->p.inputs);
    free(r->o);
    free(r->s);
    free(r->z);
    free(r);
}

static int input_find(const Variant *v, const char *name)
{
    for (int i = 0; i < v->ninputs; i++)
        if (strcmp(v->inputs[i]->name, name) == 0) return i;
    return -1;
}

static const double *run_input(const Run *r, const char *name)
{
    int i = input_find(r->v, name);
    ck_assert_msg(i >= 0, "attention '%s' has no input '%s'", r->v->name, name);
    return r->p.inputs[i];
}

static size_t tok(const Run *r, int b, int t, int h)
{
    return ((size_t)b * (size_t)r->T + (size_t)t) * (size_t)r->H + (size_t)h;
}

/* ref_run with the given initial state; the test fails with the diagnostics. */
static void run_ref(Run *r, const double *s0, const double *z0)
{
    r->p.s0 = s0;
    r->p.z0 = z0;
    Diags d;
    diags_init(&d, &r->u->arena);
    bool ok = ref_run(r->v, &r->p, &d);
    StrBuf b;
    strbuf_init(&b);
    diags_render(&d, DIAG_FORMAT_PLAIN, &b);
    ck_assert_msg(ok, "ref_run failed on '%s' (B=%d T=%d H=%d):\n%s", r->v->name, r->B, r->T,
                  r->H, b.data ? b.data : "(no diagnostic)");
    ck_assert_msg(d.nerrors == 0, "ref_run succeeded but reported:\n%s", b.data);
    strbuf_free(&b);
}

/* ------------------------------------------------------------------------
 * Comparison with a mismatch report (llm.c style)
 * ------------------------------------------------------------------------ */

static size_t dims_numel(const int *dims, int nd)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    return n;
}

/* max |ref - got| / max |ref|; NaN/Inf anywhere gives +inf. */
static double rel_err(const double *ref, const double *got, size_t n, double *max_abs_out,
                      double *ref_max_out)
{
    double ref_max = 0, max_abs = 0;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i]) || !isfinite(got[i])) bad = true;
        if (fabs(ref[i]) > ref_max) ref_max = fabs(ref[i]);
        double d = fabs(ref[i] - got[i]);
        if (d > max_abs) max_abs = d;
    }
    if (max_abs_out) *max_abs_out = max_abs;
    if (ref_max_out) *ref_max_out = ref_max;
    if (bad) return INFINITY;
    return ref_max > 0 ? max_abs / ref_max : max_abs;
}

static void put_index(StrBuf *b, const char *name, size_t flat, const int *dims, const char *axes,
                      int nd)
{
    int idx[8] = {0};
    for (int i = nd - 1; i >= 0; i--) {
        idx[i] = (int)(flat % (size_t)dims[i]);
        flat /= (size_t)dims[i];
    }
    strbuf_printf(b, "%s[", name);
    for (int i = 0; i < nd; i++) strbuf_printf(b, "%s%c=%d", i ? "," : "", axes[i], idx[i]);
    strbuf_puts(b, "]");
}

/* Fails the test with the max errors and the first mismatches unless
 * |ref - got| <= tol * max|ref| everywhere. `axes` names the dimensions. */
static void expect_close(const char *ctx, const char *name, const double *ref, const double *got,
                         const int *dims, const char *axes, int nd, double tol)
{
    size_t n = dims_numel(dims, nd);
    double max_abs, ref_max;
    double err = rel_err(ref, got, n, &max_abs, &ref_max);
    if (verbose())
        fprintf(stderr, "  %s: %s rel err %.3g (max abs %.3g, max |ref| %.3g)\n", ctx, name, err,
                max_abs, ref_max);
    if (err <= tol) return;
    double max_elem_rel = 0;
    for (size_t i = 0; i < n; i++)
        if (ref[i] != 0 && fabs(ref[i] - got[i]) / fabs(ref[i]) > max_elem_rel)
            max_elem_rel = fabs(ref[i] - got[i]) / fabs(ref[i]);
    StrBuf b;
    strbuf_init(&b);
    strbuf_printf(&b, "%s: %s: reference vs closed form: max abs err %.3g, max |ref| "
                                    "%.3g, rel err %.3g > tol %.1g (max elementwise rel err %.3g)",
                  ctx, name, max_abs, ref_max, err, tol, max_elem_rel);
    int shown = 0;
    for (size_t i = 0; i < n && shown < 6; i++) {
        double d = fabs(ref[i] - got[i]);
        if (d <= tol * ref_max && isfinite(ref[i]) && isfinite(got[i])) continue;
        strbuf_puts(&b, "\n  ");
        put_index(&b, name, i, dims, axes, nd);
        strbuf_printf(&b, ": ref %.17g, closed form %.17g, diff %.3g", ref[i], got[i], d);
        shown++;
    }
    ck_abort_msg("%.3800s", b.data);
    strbuf_free(&b);
}

/* ------------------------------------------------------------------------
 * The closed form (parallel, masked)
 * ------------------------------------------------------------------------ */

typedef enum CfDecay { CF_NONE, CF_GAMMA, CF_LOG } CfDecay;

/* Feature-mapped rows of one (batch, head), filled by a hand-written map. */
typedef struct Closed {
    int T, dk, dv;
    double scale;
    bool normalize, causal;
    double eps;
    CfDecay decay;
    double gam;      /* CF_GAMMA: decay factor of this head (not log) */
    double *fq, *fk; /* [T, dk] */
    double *fv;      /* [T, dv] */
    double *g;       /* CF_LOG: [T, dk] log decay per token and key channel */
    double *G;       /* scratch: cumulative sum of g */
} Closed;

static void closed_init(Closed *c, int T, int dk, int dv)
{
    memset(c, 0, sizeof *c);
    c->T = T;
    c->dk = dk;
    c->dv = dv;
    c->scale = 1;
    c->causal = true;
    c->fq = xcalloc((size_t)T * (size_t)dk, sizeof(double));
    c->fk = xcalloc((size_t)T * (size_t)dk, sizeof(double));
    c->fv = xcalloc((size_t)T * (size_t)dv, sizeof(double));
    c->g = xcalloc((size_t)T * (size_t)dk, sizeof(double));
    c->G = xcalloc((size_t)T * (size_t)dk, sizeof(double));
}

static void closed_reset(Closed *c)
{
    int T = c->T, dk = c->dk, dv = c->dv;
    double *fq = c->fq, *fk = c->fk, *fv = c->fv, *g = c->g, *G = c->G;
    memset(c, 0, sizeof *c);
    c->T = T, c->dk = dk, c->dv = dv;
    c->fq = fq, c->fk = fk, c->fv = fv, c->g = g, c->G = G;
    c->scale = 1;
    c->causal = true;
    memset(g, 0, sizeof(double) * (size_t)T * (size_t)dk);
}

static void closed_free(Closed *c)
{
    free(c->fq);
    free(c->fk);
    free(c->fv);
    free(c->g);
    free(c->G);
}

/* The product of the decays of tokens s+1 .. t on key channel i; s = -1
 * starts before token 0 (it decays the initial state). */
static double cf_decay(const Closed *c, int t, int s, int i)
{
    switch (c->decay) {
    case CF_NONE: return 1;
    case CF_GAMMA: return pow(c->gam, (double)(t - s));
    case CF_LOG: {
        double Gs = s >= 0 ? c->G[(size_t)s * c->dk + i] : 0;
        return exp(c->G[(size_t)t * c->dk + i] - Gs);
    }
    }
    return NAN;
}

/* o rows go to o + t * ostride; S [dk, dv], z [dk]. s0/z0 may be NULL. */
static void closed_eval(Closed *c, const double *s0, const double *z0, double *o, size_t ostride,
                        double *S, double *z)
{
    const int T = c->T, K = c->dk, V = c->dv;
    if (c->decay == CF_LOG)
        for (int i = 0; i < K; i++) {
            double acc = 0;
            for (int t = 0; t < T; t++) {
                acc += c->g[(size_t)t * K + i];
                c->G[(size_t)t * K + i] = acc;
            }
        }
    /* Final state, straight from its closed form. */
    for (int i = 0; i < K; i++) {
        double zi = 0;
        for (int j = 0; j < V; j++) {
            double acc = 0;
            for (int s = 0; s < T; s++)
                acc += cf_decay(c, T - 1, s, i) * c->fk[(size_t)s * K + i] * c->fv[(size_t)s * V + j];
            if (s0) acc += (T > 0 ? cf_decay(c, T - 1, -1, i) : 1) * s0[(size_t)i * V + j];
            S[(size_t)i * V + j] = acc;
        }
        for (int s = 0; s < T; s++) zi += cf_decay(c, T - 1, s, i) * c->fk[(size_t)s * K + i];
        if (z0) zi += (T > 0 ? cf_decay(c, T - 1, -1, i) : 1) * z0[i];
        z[i] = zi;
    }
    for (int t = 0; t < T; t++) {
        const double *q = c->fq + (size_t)t * K;
        double *ot = o + (size_t)t * ostride;
        double den = 0;
        if (!c->causal) {
            /* Non-causal: o_t = scale * q_t S_T (no decay is allowed). */
            for (int j = 0; j < V; j++) {
                double acc = 0;
                for (int i = 0; i < K; i++) acc += q[i] * S[(size_t)i * V + j];
                ot[j] = c->scale * acc;
            }
            for (int i = 0; i < K; i++) den += q[i] * z[i];
        } else {
            for (int j = 0; j < V; j++) ot[j] = 0;
            for (int s = 0; s <= t; s++) {
                double a = 0; /* phi(q_t) . (phi(k_s) * D_{t,s}) */
                for (int i = 0; i < K; i++) a += q[i] * c->fk[(size_t)s * K + i] * cf_decay(c, t, s, i);
                den += a;
                for (int j = 0; j < V; j++) ot[j] += a * c->fv[(size_t)s * V + j];
            }
            for (int i = 0; i < K; i++) {
                double d0 = cf_decay(c, t, -1, i);
                if (s0)
                    for (int j = 0; j < V; j++) ot[j] += q[i] * d0 * s0[(size_t)i * V + j];
                if (z0) den += q[i] * d0 * z0[i];
            }
            for (int j = 0; j < V; j++) ot[j] *= c->scale;
        }
        if (c->normalize)
            for (int j = 0; j < V; j++) ot[j] /= c->scale * den + c->eps;
    }
}

/* ------------------------------------------------------------------------
 * Hand-written feature maps, one per variant
 * ------------------------------------------------------------------------ */

typedef struct Example Example;
/* Fill c (already reset) for batch b and head h from the raw inputs. */
typedef void (*FeatureFn)(const Run *r, const Example *ex, int b, int h, Closed *c);

struct Example {
    const char *file;   /* dsl_examples/NAME.la, or NULL */
    const char *source; /* or an inline variant */
    const char *label;
    ParamOverride ovr[4];
    int novr;
    int K, V;           /* q/k and v channels after the overrides */
    int dk, dv;         /* expected feature counts */
    double x1, x2;      /* extra constants (lightning: layer, num_layers) */
    FeatureFn features;
};

static void copy_rows(const Run *r, const double *x, int cols, int b, int h, double *out)
{
    for (int t = 0; t < r->T; t++)
        memcpy(out + (size_t)t * cols, x + tok(r, b, t, h) * cols, sizeof(double) * (size_t)cols);
}

/* q, k, v unchanged (linear, retnet, lightning, gla, simple_gla). */
static void identity_qkv(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    copy_rows(r, run_input(r, "q"), ex->K, b, h, c->fq);
    copy_rows(r, run_input(r, "k"), ex->K, b, h, c->fk);
    copy_rows(r, run_input(r, "v"), ex->V, b, h, c->fv);
}

static void feat_linear(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    identity_qkv(r, ex, b, h, c);
    c->scale = 1 / sqrt((double)ex->K);
}

/* fla's chunk_linear_attn(normalize=True): no map, a normalizer. */
static void feat_linear_norm(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear(r, ex, b, h, c);
    c->normalize = true;
    c->eps = 1e-6;
}

static double elu1(double x) { return x > 0 ? x + 1 : exp(x); } /* elu(x) + 1 */

static void feat_linear_elu(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    const double *q = run_input(r, "q"), *k = run_input(r, "k");
    for (int t = 0; t < r->T; t++)
        for (int i = 0; i < ex->K; i++) {
            c->fq[(size_t)t * ex->K + i] = elu1(q[tok(r, b, t, h) * ex->K + i]);
            c->fk[(size_t)t * ex->K + i] = elu1(k[tok(r, b, t, h) * ex->K + i]);
        }
    copy_rows(r, run_input(r, "v"), ex->V, b, h, c->fv);
    c->normalize = true;
    c->eps = 1e-6;
}

static void feat_retnet(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear(r, ex, b, h, c);
    c->decay = CF_GAMMA;
    c->gam = 1 - pow(2.0, -5.0 - h);
}

static void feat_lightning(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear(r, ex, b, h, c);
    double slope = pow(2.0, -8.0 * (h + 1) / r->H);
    double layer = ex->x1, num_layers = ex->x2;
    c->decay = CF_GAMMA;
    c->gam = exp(-slope * (1 - layer / (num_layers - 1) + 1e-5));
}

static void feat_simple_gla(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear(r, ex, b, h, c);
    const double *g = run_input(r, "g"); /* [B, T, H] */
    c->decay = CF_LOG;
    for (int t = 0; t < r->T; t++)
        for (int i = 0; i < ex->K; i++) c->g[(size_t)t * ex->K + i] = g[tok(r, b, t, h)];
}

static void feat_gla(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear(r, ex, b, h, c);
    c->decay = CF_LOG;
    copy_rows(r, run_input(r, "g"), ex->K, b, h, c->g); /* [B, T, H, K] */
}

/* Taylor: [1, x, vec(x x^T) / sqrt(2)], q scaled by 1 / sqrt(K) first. */
static void taylor(const double *x, int K, double pre, double *out)
{
    out[0] = 1;
    for (int i = 0; i < K; i++) out[1 + i] = x[i] * pre;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) out[1 + K + i * K + j] = (x[i] * pre) * (x[j] * pre) / sqrt(2.0);
}

static void feat_based(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    const double *q = run_input(r, "q"), *k = run_input(r, "k");
    for (int t = 0; t < r->T; t++) {
        taylor(q + tok(r, b, t, h) * ex->K, ex->K, 1 / sqrt((double)ex->K), c->fq + (size_t)t * c->dk);
        taylor(k + tok(r, b, t, h) * ex->K, ex->K, 1, c->fk + (size_t)t * c->dk);
    }
    copy_rows(r, run_input(r, "v"), ex->V, b, h, c->fv);
    c->normalize = true;
    c->eps = 1e-6;
}

static void feat_cosformer(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    const double *q = run_input(r, "q"), *k = run_input(r, "k");
    const double pi = 3.14159265358979323846;
    int K = ex->K;
    for (int t = 0; t < r->T; t++) {
        double ang = pi * t / (2.0 * r->T), cs = cos(ang), sn = sin(ang);
        for (int i = 0; i < K; i++) {
            double qi = q[tok(r, b, t, h) * K + i], ki = k[tok(r, b, t, h) * K + i];
            qi = qi > 0 ? qi : 0;
            ki = ki > 0 ? ki : 0;
            c->fq[(size_t)t * 2 * K + i] = qi * cs;
            c->fq[(size_t)t * 2 * K + K + i] = qi * sn;
            c->fk[(size_t)t * 2 * K + i] = ki * cs;
            c->fk[(size_t)t * 2 * K + K + i] = ki * sn;
        }
    }
    copy_rows(r, run_input(r, "v"), ex->V, b, h, c->fv);
    c->normalize = true;
    c->eps = 1e-6;
}

/* [softmax(x W), softmax(-x W)] with W [K, F] shared by the heads. */
static void hedgehog_map(const double *x, const double *W, int K, int F, double *out)
{
    for (int sign = 0; sign < 2; sign++) {
        double *o = out + sign * F, mx = -INFINITY, sum = 0;
        for (int f = 0; f < F; f++) {
            double acc = 0;
            for (int i = 0; i < K; i++) acc += x[i] * W[(size_t)i * F + f];
            o[f] = sign ? -acc : acc;
            if (o[f] > mx) mx = o[f];
        }
        for (int f = 0; f < F; f++) sum += (o[f] = exp(o[f] - mx));
        for (int f = 0; f < F; f++) o[f] /= sum;
    }
}

static void feat_hedgehog(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    const double *q = run_input(r, "q"), *k = run_input(r, "k"), *W = run_input(r, "W");
    int F = c->dk / 2;
    for (int t = 0; t < r->T; t++) {
        hedgehog_map(q + tok(r, b, t, h) * ex->K, W, ex->K, F, c->fq + (size_t)t * c->dk);
        hedgehog_map(k + tok(r, b, t, h) * ex->K, W, ex->K, F, c->fk + (size_t)t * c->dk);
    }
    copy_rows(r, run_input(r, "v"), ex->V, b, h, c->fv);
    c->normalize = true;
    c->eps = 1e-6;
}

static double softplus_hand(double x) { return log(1 + exp(x)); }

static void feat_mamba2(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    copy_rows(r, run_input(r, "q"), ex->K, b, h, c->fq);
    copy_rows(r, run_input(r, "k"), ex->K, b, h, c->fk);
    const double *v = run_input(r, "v"), *dt = run_input(r, "dt");
    const double *A_log = run_input(r, "A_log"), *dt_bias = run_input(r, "dt_bias");
    c->decay = CF_LOG;
    for (int t = 0; t < r->T; t++) {
        double delta = softplus_hand(dt[tok(r, b, t, h)] + dt_bias[h]);
        for (int j = 0; j < ex->V; j++)
            c->fv[(size_t)t * ex->V + j] = v[tok(r, b, t, h) * ex->V + j] * delta;
        for (int i = 0; i < ex->K; i++) c->g[(size_t)t * ex->K + i] = -exp(A_log[h]) * delta;
    }
}

/* Broadcasting and weights: per-head vector, per-head and shared matrices,
 * shared vector, per-head and per-token scalars, a per-head run-time scale
 * and decay. */
static const char SRC_BCAST[] =
    "attention bcast {\n"
    "  param K = 4, V = 3, F = 5;\n"
    "  input q, k : f32[B, T, H, K];\n"
    "  input v    : f32[B, T, H, V];\n"
    "  input bias : f32[H, K];\n"
    "  input W    : f32[H, K, F];\n"
    "  input U    : f32[K, F];\n"
    "  input c    : f32[F];\n"
    "  input s    : f32[H];\n"
    "  input r    : f32[B, T, H];\n"
    "  input a    : f32[H];\n"
    "  let qb = q + bias;\n"
    "  let s2 = s * s;\n"
    "  query = qb @ W + c;\n"
    "  key   = k @ U * s - r;\n"
    "  value = v * r + s;\n"
    "  scale = s2 + 1;\n"
    "  decay per_head(-exp(a));\n"
    "}\n";

static void feat_bcast(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    const int K = ex->K, V = ex->V, F = c->dk;
    const double *q = run_input(r, "q"), *k = run_input(r, "k"), *v = run_input(r, "v");
    const double *bias = run_input(r, "bias"), *W = run_input(r, "W"), *U = run_input(r, "U");
    const double *cv = run_input(r, "c"), *s = run_input(r, "s"), *rr = run_input(r, "r");
    const double *a = run_input(r, "a");
    for (int t = 0; t < r->T; t++) {
        size_t n = tok(r, b, t, h);
        for (int f = 0; f < F; f++) {
            double aq = 0, ak = 0;
            for (int i = 0; i < K; i++) {
                aq += (q[n * K + i] + bias[(size_t)h * K + i]) * W[((size_t)h * K + i) * F + f];
                ak += k[n * K + i] * U[(size_t)i * F + f];
            }
            c->fq[(size_t)t * F + f] = aq + cv[f];
            c->fk[(size_t)t * F + f] = ak * s[h] - rr[n];
        }
        for (int j = 0; j < V; j++) c->fv[(size_t)t * V + j] = v[n * V + j] * rr[n] + s[h];
    }
    c->scale = s[h] * s[h] + 1;
    c->decay = CF_GAMMA;
    c->gam = exp(-exp(a[h]));
}

/* Every elementwise built-in, reductions, the position names, and a decay
 * folded to a constant. */
static const char SRC_FUNCS[] =
    "attention funcs {\n"
    "  param K = 3, V = 2;\n"
    "  input q, k : f32[B, T, H, K];\n"
    "  input v    : f32[B, T, H, V];\n"
    "  let a = abs(v);\n"
    "  query = q * (head + 1) / num_heads;\n"
    "  key   = k + pos / seq_len;\n"
    "  value = concat(sigmoid(v), logsigmoid(v), silu(v), tanh(v), softplus(v), exp(v),\n"
    "                 sqrt(a), log(a + 1), minimum(v, 0.25), maximum(v, -0.25), pow(a, 1.5),\n"
    "                 a / sum(a), v - mean(v), max(v) * min(v), relu(v), elu(v), cos(v),\n"
    "                 sin(v), -v, 2 - v / 4, outer(v, exp(v)));\n"
    "  decay per_head(log(0.9));\n"
    "}\n";

static void feat_funcs(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    const int K = ex->K, V = ex->V;
    const double *q = run_input(r, "q"), *k = run_input(r, "k"), *v = run_input(r, "v");
    for (int t = 0; t < r->T; t++) {
        size_t n = tok(r, b, t, h);
        for (int i = 0; i < K; i++) {
            c->fq[(size_t)t * K + i] = q[n * K + i] * (h + 1) / r->H;
            c->fk[(size_t)t * K + i] = k[n * K + i] + (double)t / r->T;
        }
        const double *x = v + n * V;
        double *o = c->fv + (size_t)t * c->dv;
        double sa = 0, mean = 0, mx = x[0], mn = x[0];
        for (int j = 0; j < V; j++) {
            sa += fabs(x[j]);
            mean += x[j] / V;
            mx = x[j] > mx ? x[j] : mx;
            mn = x[j] < mn ? x[j] : mn;
        }
        int at = 0;
#define PUT(expr)                                                                                  \
    for (int j = 0; j < V; j++) {                                                                  \
        double xj = x[j], aj = fabs(xj);                                                           \
        (void)aj;                                                                                  \
        o[at + j] = (expr);                                                                        \
    }                                                                                              \
    at += V
        PUT(1 / (1 + exp(-xj)));
        PUT(-log(1 + exp(-xj)));
        PUT(xj / (1 + exp(-xj)));
        PUT((exp(xj) - exp(-xj)) / (exp(xj) + exp(-xj)));
        PUT(log(1 + exp(xj)));
        PUT(exp(xj));
        PUT(sqrt(aj));
        PUT(log(aj + 1));
        PUT(xj < 0.25 ? xj : 0.25);
        PUT(xj > -0.25 ? xj : -0.25);
        PUT(aj * sqrt(aj));
        PUT(aj / sa);
        PUT(xj - mean);
        o[at++] = mx * mn;
        PUT(xj > 0 ? xj : 0);
        PUT(xj > 0 ? xj : exp(xj) - 1);
        PUT(cos(xj));
        PUT(sin(xj));
        PUT(-xj);
        PUT(2 - xj / 4);
#undef PUT
        for (int i = 0; i < V; i++)
            for (int j = 0; j < V; j++) o[at++] = x[i] * exp(x[j]);
        ck_assert_int_eq(at, c->dv);
    }
    c->decay = CF_GAMMA;
    c->gam = 0.9;
}

static const char SRC_NONCAUSAL[] =
    "attention noncausal {\n"
    "  param K = 8, V = 6;\n"
    "  input q, k : f32[B, T, H, K];\n"
    "  input v    : f32[B, T, H, V];\n"
    "  scale = 1 / sqrt(K);\n"
    "  mask none;\n"
    "}\n";

static void feat_noncausal(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear(r, ex, b, h, c);
    c->causal = false;
}

static const char SRC_NONCAUSAL_NORM[] =
    "attention noncausal_norm {\n"
    "  param K = 8, V = 6;\n"
    "  input q, k : bf16[B, T, H, K];\n"
    "  input v    : bf16[B, T, H, V];\n"
    "  query = elu(q) + 1;\n"
    "  key   = elu(k) + 1;\n"
    "  scale = 2;\n"
    "  normalize eps = 0.5;\n"
    "  mask none;\n"
    "}\n";

static void feat_noncausal_norm(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear_elu(r, ex, b, h, c);
    c->causal = false;
    c->scale = 2;
    c->eps = 0.5;
}

/* Normalized with a per-key decay and a scale: z decays like S, and the
 * scale appears in the denominator too. */
static const char SRC_GLA_NORM[] =
    "attention gla_norm {\n"
    "  param K = 8, V = 6;\n"
    "  input q, k : f32[B, T, H, K];\n"
    "  input v    : f32[B, T, H, V];\n"
    "  input g    : f32[B, T, H, K];\n"
    "  query = elu(q) + 1;\n"
    "  key   = elu(k) + 1;\n"
    "  scale = 1 / sqrt(K);\n"
    "  decay per_key(g);\n"
    "  normalize eps = 1e-3;\n"
    "}\n";

static void feat_gla_norm(const Run *r, const Example *ex, int b, int h, Closed *c)
{
    feat_linear_elu(r, ex, b, h, c);
    c->scale = 1 / sqrt((double)ex->K);
    c->eps = 1e-3;
    c->decay = CF_LOG;
    copy_rows(r, run_input(r, "g"), ex->K, b, h, c->g);
}

#define OV(n, x) {n, x, true, false}

static const Example EXAMPLES[] = {
    {"dsl_examples/linear.la", NULL, "linear", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0, 0,
     feat_linear},
    {"dsl_examples/linear_norm.la", NULL, "linear_norm", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0,
     0, feat_linear_norm},
    {"dsl_examples/linear_elu.la", NULL, "linear_elu", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0,
     0, feat_linear_elu},
    {"dsl_examples/retnet.la", NULL, "retnet", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0, 0,
     feat_retnet},
    {"dsl_examples/lightning.la", NULL, "lightning", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0, 24,
     feat_lightning},
    {"dsl_examples/lightning.la", NULL, "lightning layer=5 num_layers=12",
     {OV("K", 8), OV("V", 6), OV("layer", 5), OV("num_layers", 12)}, 4, 8, 6, 8, 6, 5, 12,
     feat_lightning},
    {"dsl_examples/simple_gla.la", NULL, "simple_gla", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0,
     0, feat_simple_gla},
    {"dsl_examples/gla.la", NULL, "gla", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 8, 6, 0, 0, feat_gla},
    {"dsl_examples/based.la", NULL, "based", {OV("K", 4), OV("V", 6)}, 2, 4, 6, 21, 6, 0, 0,
     feat_based},
    {"dsl_examples/cosformer.la", NULL, "cosformer", {OV("K", 8), OV("V", 6)}, 2, 8, 6, 16, 6, 0,
     0, feat_cosformer},
    {"dsl_examples/hedgehog.la", NULL, "hedgehog", {OV("K", 8), OV("V", 6), OV("F", 4)}, 3, 8, 6,
     8, 6, 0, 0, feat_hedgehog},
    {"dsl_examples/mamba2.la", NULL, "mamba2", {OV("N", 8), OV("P", 6)}, 2, 8, 6, 8, 6, 0, 0,
     feat_mamba2},
    {NULL, SRC_BCAST, "bcast (inline)", {{0}}, 0, 4, 3, 5, 3, 0, 0, feat_bcast},
    {NULL, SRC_FUNCS, "funcs (inline)", {{0}}, 0, 3, 2, 3, 43, 0, 0, feat_funcs},
    {NULL, SRC_GLA_NORM, "gla_norm (inline)", {{0}}, 0, 8, 6, 8, 6, 0, 0, feat_gla_norm},
    {NULL, SRC_NONCAUSAL, "noncausal (inline)", {{0}}, 0, 8, 6, 8, 6, 0, 0, feat_noncausal},
    {NULL, SRC_NONCAUSAL_NORM, "noncausal_norm (inline)", {{0}}, 0, 8, 6, 8, 6, 0, 0,
     feat_noncausal_norm},
};
enum { NEXAMPLES = sizeof EXAMPLES / sizeof EXAMPLES[0] };

static Unit *example_compile(const Example *ex)
{
    Unit *u = ex->file ? unit_compile_file(ex->file, ex->ovr, ex->novr)
                       : unit_compile(ex->source, ex->ovr, ex->novr);
    compile_checked(ex->label, u);
    const Variant *v = u->variant;
    ck_assert_msg(v->dk == ex->dk && v->dv == ex->dv,
                  "%s: sema gives %d key features and %d value channels, expected %d and %d",
                  ex->label, v->dk, v->dv, ex->dk, ex->dv);
    return u;
}

/* The closed form of every (batch, head) of r into o, S, z (Run layouts). */
static void closed_all(const Run *r, const Example *ex, const double *s0, const double *z0,
                       double *o, double *S, double *z)
{
    Closed c;
    closed_init(&c, r->T, r->dk, r->dv);
    for (int b = 0; b < r->B; b++)
        for (int h = 0; h < r->H; h++) {
            size_t bh = (size_t)b * r->H + h;
            closed_reset(&c);
            ex->features(r, ex, b, h, &c);
            closed_eval(&c, s0 ? s0 + bh * r->dk * r->dv : NULL, z0 ? z0 + bh * r->dk : NULL,
                        o + tok(r, b, 0, h) * r->dv, (size_t)r->H * r->dv,
                        S + bh * r->dk * r->dv, z + bh * r->dk);
        }
    closed_free(&c);
}

/* The element of input i that the perturbation check moves: the middle
 * token of the last batch and head, the middle channel. */
static size_t perturb_at(const Run *r, int i)
{
    const Symbol *y = r->v->inputs[i];
    size_t per = (size_t)(y->rows > 0 ? y->rows : 1) * (size_t)y->cols;
    switch (y->layout) {
    case LAYOUT_TOKEN: case LAYOUT_TOKEN_VEC:
        return tok(r, r->B - 1, r->T / 2, r->H - 1) * per + per / 2;
    case LAYOUT_HEAD: case LAYOUT_HEAD_VEC: case LAYOUT_HEAD_MAT:
        return (size_t)(r->H - 1) * per + per / 2;
    default:
        return per / 2;
    }
}

static void check_example(const Example *ex, int B, int T, int H, bool with_state, bool perturb,
                          uint64_t seed)
{
    Unit *u = example_compile(ex);
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s (B=%d T=%d H=%d, %s, seed %llu)", ex->label, B, T, H,
             with_state ? "with s0/z0" : "zero initial state", (unsigned long long)seed);
    Run *r = run_new(u, B, T, H, seed);
    Run *pre = NULL;
    const double *s0 = NULL, *z0 = NULL;
    if (with_state) {
        /* A state some earlier tokens could have left (z0 = sum of features
         * keeps the normalizer of Taylor features positive). */
        pre = run_new(u, B, 5, H, seed + 977);
        run_ref(pre, NULL, NULL);
        s0 = pre->s;
        z0 = r->v->normalize ? pre->z : NULL;
    }
    run_ref(r, s0, z0);
    size_t no = (size_t)B * T * H * r->dv, ns = (size_t)B * H * r->dk * r->dv;
    double *o = xcalloc(no, sizeof(double)), *S = xcalloc(ns, sizeof(double));
    double *z = xcalloc((size_t)B * H * r->dk, sizeof(double));
    closed_all(r, ex, s0, z0, o, S, z);

    const int od[4] = {B, T, H, r->dv}, sd[4] = {B, H, r->dk, r->dv}, zd[3] = {B, H, r->dk};
    double omax = 0;
    for (size_t i = 0; i < no; i++) omax = fmax(omax, fabs(r->o[i]));
    ck_assert_msg(omax > 0, "%s: the reference output is all zeros", ctx);
    expect_close(ctx, "o", r->o, o, od, "bthj", 4, REF_TOL);
    expect_close(ctx, "s_final", r->s, S, sd, "bhij", 4, REF_TOL);
    if (r->v->normalize) expect_close(ctx, "z_final", r->z, z, zd, "bhi", 3, REF_TOL);

    /* The comparison can fail: one changed element of any input moves the
     * closed form away from the reference (so the closed form reads every
     * input, and a wrong reference would be caught). */
    for (int i = 0; perturb && i < r->v->ninputs; i++) {
        double *x = r->p.inputs[i];
        size_t at = perturb_at(r, i);
        double saved = x[at];
        x[at] = fabs(saved) + 1;
        closed_all(r, ex, s0, z0, o, S, z);
        x[at] = saved;
        double eo = rel_err(r->o, o, no, NULL, NULL), es = rel_err(r->s, S, ns, NULL, NULL);
        if (verbose())
            fprintf(stderr, "  %s: perturbing %s moves o by %.3g, s_final by %.3g\n", ctx,
                    r->v->inputs[i]->name, eo, es);
        ck_assert_msg(eo > PERTURB_MIN || es > PERTURB_MIN,
                      "%s: changing element %zu of input '%s' from %g to %g left the closed form "
                      "within %.3g (o) / %.3g (s_final) of the reference: the closed form does "
                      "not read it, or the check cannot fail",
                      ctx, at, r->v->inputs[i]->name, saved, fabs(saved) + 1, eo, es);
    }
    free(o);
    free(S);
    free(z);
    run_free(pre);
    run_free(r);
    unit_free(u);
}

/* Each example (and inline variant) against its closed form: an odd T,
 * T = 1, with and without an initial state. */
START_TEST(test_example_closed_form)
{
    const Example *ex = &EXAMPLES[_i];
    if (verbose()) fprintf(stderr, "%s\n", ex->label);
    check_example(ex, 2, 37, 3, false, true, 1000 + (uint64_t)_i);
    check_example(ex, 2, 37, 3, true, true, 2000 + (uint64_t)_i);
    check_example(ex, 2, 1, 3, false, false, 3000 + (uint64_t)_i);
    check_example(ex, 1, 1, 2, true, false, 4000 + (uint64_t)_i);
    check_example(ex, 1, 64, 1, false, false, 5000 + (uint64_t)_i);
}
END_TEST

/* ------------------------------------------------------------------------
 * Initial state: random s0 / z0 (not a state some tokens could leave)
 * ------------------------------------------------------------------------ */

static const Example *example_named(const char *label)
{
    for (int i = 0; i < NEXAMPLES; i++)
        if (strcmp(EXAMPLES[i].label, label) == 0) return &EXAMPLES[i];
    ck_abort_msg("no example '%s'", label);
    return NULL;
}

static void check_random_state(const char *label)
{
    const Example *ex = example_named(label);
    Unit *u = example_compile(ex);
    const int B = 2, T = 23, H = 3;
    Run *r = run_new(u, B, T, H, 77);
    size_t ns = (size_t)B * H * r->dk * r->dv, nz = (size_t)B * H * r->dk;
    double *s0 = xcalloc(ns, sizeof(double)), *z0 = xcalloc(nz, sizeof(double));
    ref_fill_normal(s0, ns, 1, 78);
    ref_fill_normal(z0, nz, 1, 79);
    for (size_t i = 0; i < nz; i++) z0[i] = fabs(z0[i]) + 1; /* features are positive */
    run_ref(r, s0, r->v->normalize ? z0 : NULL);
    double *o = xcalloc((size_t)B * T * H * r->dv, sizeof(double)), *S = xcalloc(ns, sizeof(double));
    double *z = xcalloc(nz, sizeof(double));
    closed_all(r, ex, s0, r->v->normalize ? z0 : NULL, o, S, z);
    char ctx[128];
    snprintf(ctx, sizeof ctx, "%s with a random s0%s", label, r->v->normalize ? " and z0" : "");
    const int od[4] = {B, T, H, r->dv}, sd[4] = {B, H, r->dk, r->dv}, zd[3] = {B, H, r->dk};
    expect_close(ctx, "o", r->o, o, od, "bthj", 4, REF_TOL);
    expect_close(ctx, "s_final", r->s, S, sd, "bhij", 4, REF_TOL);
    if (r->v->normalize) expect_close(ctx, "z_final", r->z, z, zd, "bhi", 3, REF_TOL);

    /* Without the state term the closed form must disagree. */
    closed_all(r, ex, NULL, NULL, o, S, z);
    double e = rel_err(r->o, o, (size_t)B * T * H * r->dv, NULL, NULL);
    ck_assert_msg(e > PERTURB_MIN, "%s: dropping s0 changes nothing (rel err %g)", ctx, e);
    free(s0), free(z0), free(o), free(S), free(z);
    run_free(r);
    unit_free(u);
}

START_TEST(test_initial_state)
{
    check_random_state("gla");        /* per key: exp(G_t) per channel */
    check_random_state("simple_gla"); /* per token */
    check_random_state("retnet");     /* gamma^(t+1) */
    check_random_state("linear_elu"); /* normalized: z0 too */
    check_random_state("hedgehog");   /* normalized, weights */
    check_random_state("gla_norm (inline)"); /* normalized, per key: z0 decays */
    check_random_state("noncausal (inline)");
}
END_TEST

/* ------------------------------------------------------------------------
 * Splitting a sequence through s0 / s_final
 * ------------------------------------------------------------------------ */

/* Tokens [t0, t0 + len) of `full`'s inputs; per-head and shared inputs copied. */
static Run *run_slice(const Run *full, int t0, int len)
{
    Run *r = run_alloc(full->u, full->B, len, full->H);
    for (int i = 0; i < r->v->ninputs; i++) {
        const Symbol *y = r->v->inputs[i];
        if (y->layout != LAYOUT_TOKEN && y->layout != LAYOUT_TOKEN_VEC) {
            memcpy(r->p.inputs[i], full->p.inputs[i],
                   sizeof(double) * ref_input_numel(r->v, i, r->B, len, r->H));
            continue;
        }
        size_t cols = (size_t)y->cols;
        for (int b = 0; b < r->B; b++)
            for (int t = 0; t < len; t++)
                memcpy(r->p.inputs[i] + tok(r, b, t, 0) * cols,
                       full->p.inputs[i] + tok(full, b, t0 + t, 0) * cols,
                       sizeof(double) * cols * (size_t)r->H);
    }
    return r;
}

static void check_split(const char *label)
{
    const Example *ex = example_named(label);
    Unit *u = example_compile(ex);
    const int B = 2, T = 37, H = 3;
    Run *full = run_new(u, B, T, H, 4242);
    run_ref(full, NULL, NULL);
    const int splits[] = {0, 1, 17, 36, 37};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        int T1 = splits[k], T2 = T - T1;
        Run *a = run_slice(full, 0, T1), *b = run_slice(full, T1, T2);
        run_ref(a, NULL, NULL);
        run_ref(b, a->s, a->z);
        /* o of the two halves, reassembled [B, T, H, V] */
        double *o = xcalloc((size_t)B * T * H * full->dv, sizeof(double));
        size_t row = (size_t)H * full->dv;
        for (int bb = 0; bb < B; bb++) {
            if (T1) memcpy(o + tok(full, bb, 0, 0) * full->dv, a->o + tok(a, bb, 0, 0) * a->dv,
                           sizeof(double) * row * (size_t)T1);
            if (T2) memcpy(o + tok(full, bb, T1, 0) * full->dv, b->o + tok(b, bb, 0, 0) * b->dv,
                           sizeof(double) * row * (size_t)T2);
        }
        char ctx[128];
        snprintf(ctx, sizeof ctx, "%s split %d + %d tokens vs one run of %d", label, T1, T2, T);
        const int od[4] = {B, T, H, full->dv}, sd[4] = {B, H, full->dk, full->dv},
                  zd[3] = {B, H, full->dk};
        expect_close(ctx, "o", full->o, o, od, "bthj", 4, 1e-12);
        expect_close(ctx, "s_final", full->s, b->s, sd, "bhij", 4, 1e-12);
        if (full->v->normalize) expect_close(ctx, "z_final", full->z, b->z, zd, "bhi", 3, 1e-12);
        free(o);
        run_free(a);
        run_free(b);
    }
    run_free(full);
    unit_free(u);
}

START_TEST(test_split_sequence)
{
    check_split("gla");        /* per-key decay */
    check_split("mamba2");     /* per-token decay, per-head inputs */
    check_split("linear_elu"); /* normalized: z carries over */
    check_split("gla_norm (inline)"); /* normalized and decaying */
}
END_TEST

/* An empty sequence hands the initial state through unchanged. */
START_TEST(test_empty_sequence)
{
    Unit *u = example_compile(example_named("linear_elu"));
    Run *r = run_new(u, 2, 0, 3, 5);
    size_t ns = (size_t)2 * 3 * r->dk * r->dv, nz = (size_t)2 * 3 * r->dk;
    double *s0 = xcalloc(ns, sizeof(double)), *z0 = xcalloc(nz, sizeof(double));
    ref_fill_normal(s0, ns, 1, 6);
    ref_fill_normal(z0, nz, 1, 7);
    run_ref(r, s0, z0);
    ck_assert_msg(memcmp(r->s, s0, ns * sizeof(double)) == 0, "T=0: s_final != s0");
    ck_assert_msg(memcmp(r->z, z0, nz * sizeof(double)) == 0, "T=0: z_final != z0");
    free(s0);
    free(z0);
    run_free(r);
    unit_free(u);
}
END_TEST

/* ------------------------------------------------------------------------
 * Run-time errors
 * ------------------------------------------------------------------------ */

static const char SRC_TOKEN_DECAY[] =
    "attention pd {\n"
    "  param K = 4, V = 4;\n"
    "  input q, k : f32[B, T, H, K];\n"
    "  input v    : f32[B, T, H, V];\n"
    "  input g    : f32[B, T, H];\n"
    "  decay per_token(g);\n"
    "}\n";

/* ref_run must fail; returns the rendered diagnostics (caller frees). */
static char *run_expect_failure(Run *r, const char *what)
{
    Diags d;
    diags_init(&d, &r->u->arena);
    bool ok = ref_run(r->v, &r->p, &d);
    StrBuf b;
    strbuf_init(&b);
    diags_render(&d, DIAG_FORMAT_PLAIN, &b);
    ck_assert_msg(!ok, "%s: ref_run returned true", what);
    ck_assert_msg(d.nerrors > 0 && b.data, "%s: ref_run failed without a diagnostic", what);
    return b.data;
}

static void expect_substr(const char *what, const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) != NULL, "%s: expected \"%s\" in the diagnostics:\n%s",
                  what, needle, text);
}

START_TEST(test_positive_decay)
{
    Unit *u = compile_checked("pd", unit_compile(SRC_TOKEN_DECAY, NULL, 0));
    int gi = input_find(u->variant, "g");
    ck_assert_msg(u->variant->inputs[gi]->roles & ROLE_LOG_GATE,
                  "sema did not mark g of 'decay per_token(g)' as a log-space gate");
    Run *r = run_new(u, 2, 10, 3, 11);
    size_t n = ref_input_numel(r->v, gi, 2, 10, 3);
    double *g = r->p.inputs[gi];

    /* g = 0 is the largest allowed decay (no forgetting). */
    for (size_t i = 0; i < n; i++) g[i] = 0;
    run_ref(r, NULL, NULL);

    for (size_t i = 0; i < n; i++) g[i] = 0.5;
    char *m = run_expect_failure(r, "g = +0.5 everywhere");
    expect_substr("g = +0.5", m, "not <= 0");
    expect_substr("g = +0.5", m, "batch 0, token 0, head 0");
    expect_substr("g = +0.5", m, "t.la:6:"); /* points at the decay statement */
    expect_substr("g = +0.5", m, "log-space");
    free(m);

    /* One bad element: the message locates it. */
    for (size_t i = 0; i < n; i++) g[i] = -0.1;
    g[tok(r, 1, 5, 2)] = 0.5;
    m = run_expect_failure(r, "g[1, 5, 2] = +0.5");
    expect_substr("one positive element", m, "0.5 (not <= 0) at batch 1, token 5, head 2");
    free(m);

    g[tok(r, 1, 5, 2)] = NAN;
    m = run_expect_failure(r, "g[1, 5, 2] = NaN");
    expect_substr("NaN gate", m, "not <= 0");
    expect_substr("NaN gate", m, "batch 1, token 5, head 2");
    free(m);
    run_free(r);
    unit_free(u);

    /* Per key: the message names the key channel. */
    u = example_compile(example_named("gla"));
    r = run_new(u, 2, 9, 3, 12);
    gi = input_find(u->variant, "g");
    r->p.inputs[gi][tok(r, 0, 3, 1) * 8 + 2] = 0.25;
    m = run_expect_failure(r, "gla g[0, 3, 1, 2] = +0.25");
    expect_substr("gla", m, "0.25 (not <= 0) at batch 0, token 3, head 1, key channel 2");
    free(m);
    run_free(r);
    unit_free(u);
}
END_TEST

START_TEST(test_nonfinite_output)
{
    Unit *u = example_compile(example_named("linear"));
    Run *r = run_new(u, 1, 6, 2, 13);
    int vi = input_find(u->variant, "v");
    r->p.inputs[vi][tok(r, 0, 4, 1) * 6 + 3] = INFINITY;
    char *m = run_expect_failure(r, "v = inf");
    expect_substr("v = inf", m, "not finite at batch 0, token 4, head 1, channel 3");
    free(m);
    run_free(r);
    unit_free(u);
}
END_TEST

/* ------------------------------------------------------------------------
 * ref_fill_inputs
 * ------------------------------------------------------------------------ */

static void moments(const double *x, size_t n, double *mean, double *sd)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = sqrt(s / (double)(n - 1));
}

static const char SRC_WEIGHTS[] =
    "attention weights {\n"
    "  param K = 64, V = 4;\n"
    "  input q, k : f32[B, T, H, K];\n"
    "  input v    : f32[B, T, H, V];\n"
    "  input W    : f32[K, 64];\n"
    "  input Wh   : f32[H, K, 16];\n"
    "  query = concat(q @ W, q @ Wh);\n"
    "  key   = concat(k @ W, k @ Wh);\n"
    "}\n";

START_TEST(test_fill_inputs)
{
    Unit *u = example_compile(example_named("gla"));
    const Variant *v = u->variant;
    const int B = 4, T = 256, H = 4;
    Run *r = run_new(u, B, T, H, 7);
    for (int i = 0; i < v->ninputs; i++) {
        const Symbol *y = v->inputs[i];
        const double *x = r->p.inputs[i];
        size_t n = ref_input_numel(v, i, B, T, H);
        size_t want = (size_t)B * T * H * (strcmp(y->name, "v") == 0 ? 6 : 8);
        ck_assert_msg(n == want, "gla input %s has %zu elements, expected %zu", y->name, n, want);
        double mean, sd;
        moments(x, n, &mean, &sd);
        bool gate = strcmp(y->name, "g") == 0;
        ck_assert_msg(((y->roles & ROLE_LOG_GATE) != 0) == gate,
                      "gla input %s: ROLE_LOG_GATE is %s", y->name,
                      (y->roles & ROLE_LOG_GATE) ? "set" : "unset");
        if (gate) {
            for (size_t j = 0; j < n; j++)
                ck_assert_msg(x[j] <= 0 && x[j] > -1, "gla g[%zu] = %g, expected in (-1, 0]", j, x[j]);
            ck_assert_msg(sd > 1e-3, "gla g is nearly constant (sd %g)", sd);
        } else {
            ck_assert_msg(fabs(mean) < 0.05 && fabs(sd - 1) < 0.05,
                          "gla input %s: mean %g, sd %g over %zu values; expected N(0, 1)",
                          y->name, mean, sd, n);
        }
    }
    /* Same seed, same inputs; another seed, other inputs; q and k differ. */
    Run *same = run_new(u, B, T, H, 7), *other = run_new(u, B, T, H, 8);
    for (int i = 0; i < v->ninputs; i++) {
        size_t n = ref_input_numel(v, i, B, T, H), equal = 0;
        ck_assert_msg(memcmp(r->p.inputs[i], same->p.inputs[i], n * sizeof(double)) == 0,
                      "input %s: seed 7 twice gives different values", v->inputs[i]->name);
        for (size_t j = 0; j < n; j++) equal += r->p.inputs[i][j] == other->p.inputs[i][j];
        ck_assert_msg(equal < n / 100, "input %s: seeds 7 and 8 share %zu of %zu values",
                      v->inputs[i]->name, equal, n);
    }
    size_t nq = ref_input_numel(v, 0, B, T, H), equal = 0;
    for (size_t j = 0; j < nq; j++) equal += r->p.inputs[0][j] == r->p.inputs[1][j];
    ck_assert_msg(equal < nq / 100, "q and k share %zu of %zu values: one stream for both?",
                  equal, nq);
    run_free(r);
    run_free(same);
    run_free(other);
    unit_free(u);

    /* Roles: simple_gla's g is a gate; mamba2's decay is proven <= 0 without
     * assumptions, so none of its inputs is. */
    u = example_compile(example_named("simple_gla"));
    ck_assert(u->variant->inputs[input_find(u->variant, "g")]->roles & ROLE_LOG_GATE);
    unit_free(u);
    u = example_compile(example_named("mamba2"));
    for (int i = 0; i < u->variant->ninputs; i++)
        ck_assert_msg(!(u->variant->inputs[i]->roles & ROLE_LOG_GATE),
                      "mamba2 input %s is marked a log-space gate", u->variant->inputs[i]->name);
    unit_free(u);

    /* A normalized variant's q and k used as they are are nonnegative (q.z
     * keeps one sign); through a feature map (linear_elu), or without a
     * normalizer (linear), they are N(0, 1). */
    const char *pos[3] = {"linear_norm", "linear_elu", "linear"};
    for (int e = 0; e < 3; e++) {
        u = example_compile(example_named(pos[e]));
        r = run_new(u, 2, 40, 2, 11);
        for (int i = 0; i < 2; i++) {
            int yi = input_find(u->variant, i ? "k" : "q");
            const Symbol *y = u->variant->inputs[yi];
            bool want = e == 0;
            ck_assert_msg(((y->roles & ROLE_POSITIVE) != 0) == want, "%s input %s: ROLE_POSITIVE is %s", pos[e],
                          y->name, want ? "unset" : "set");
            size_t n = ref_input_numel(u->variant, yi, 2, 40, 2), neg = 0;
            const double *x = r->p.inputs[yi];
            for (size_t j = 0; j < n; j++) neg += x[j] < 0;
            ck_assert_msg(want ? neg == 0 : neg > n / 4, "%s input %s: %zu of %zu values negative", pos[e], y->name, neg,
                          n);
        }
        run_free(r);
        unit_free(u);
    }

    /* Weights [R, C] and [H, R, C] are N(0, 1/R). */
    u = compile_checked("weights", unit_compile(SRC_WEIGHTS, NULL, 0));
    r = run_new(u, 1, 1, 4, 9);
    const char *names[2] = {"W", "Wh"};
    for (int w = 0; w < 2; w++) {
        int i = input_find(u->variant, names[w]);
        size_t n = ref_input_numel(u->variant, i, 1, 1, 4);
        double mean, sd;
        moments(r->p.inputs[i], n, &mean, &sd);
        ck_assert_msg(fabs(sd - 0.125) < 0.125 * 0.06 && fabs(mean) < 0.125 * 0.1,
                      "weight %s [R = 64]: mean %g, sd %g over %zu values; expected N(0, 1/64)",
                      names[w], mean, sd, n);
    }
    run_free(r);
    unit_free(u);

    /* Box-Muller makes pairs: every count writes every value, distinct, and
     * a shorter fill is a prefix of a longer one with the same seed. */
    double x[8], y[8];
    for (size_t n = 1; n <= 8; n++) {
        for (size_t i = 0; i < 8; i++) x[i] = NAN;
        ref_fill_normal(x, n, 1, 1);
        ref_fill_normal(y, 8, 1, 1);
        for (size_t i = 0; i < 8; i++) {
            if (i < n)
                ck_assert_msg(isfinite(x[i]) && x[i] == y[i] && (i == 0 || x[i] != x[i - 1]),
                              "ref_fill_normal(n = %zu): x[%zu] = %g (with n = 8: %g)", n, i,
                              x[i], y[i]);
            else
                ck_assert_msg(isnan(x[i]), "ref_fill_normal(n = %zu) wrote x[%zu]", n, i);
        }
    }
}
END_TEST

/* The generator exactly as docs/language.md section 13 specifies it, so that
 * other tools can regenerate `lac ref`'s inputs: per input i a seed
 * N * 0x100000001b3 + (i + 1) * 0x9e3779b97f4a7c15, splitmix64 into
 * xoshiro256**, uniforms ((x >> 11) + 0.5) * 2^-53, Box-Muller (cos, then
 * sin), then sd = 1/sqrt(R) for weights or logsigmoid(x) / 16 for gates. */
static uint64_t doc_splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t doc_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t doc_xoshiro(uint64_t s[4])
{
    uint64_t res = doc_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = doc_rotl(s[3], 45);
    return res;
}

static void doc_fill(double *x, size_t n, uint64_t seed, double sd, bool gate)
{
    uint64_t st = seed, s[4];
    for (int i = 0; i < 4; i++) s[i] = doc_splitmix(&st);
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(doc_xoshiro(s) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(doc_xoshiro(s) >> 11) + 0.5) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1)), th = 2 * 3.14159265358979323846 * u2;
        x[i] = sd * r * cos(th);
        if (i + 1 < n) x[i + 1] = sd * r * sin(th);
    }
    if (gate)
        for (size_t i = 0; i < n; i++) x[i] = (x[i] < 0 ? x[i] - log(1 + exp(x[i])) : -log(1 + exp(-x[i]))) / 16;
}

static void check_documented_stream(const char *label, int B, int T, int H, uint64_t seed)
{
    Unit *u = example_compile(example_named(label));
    const Variant *v = u->variant;
    Run *r = run_new(u, B, T, H, seed);
    for (int i = 0; i < v->ninputs; i++) {
        const Symbol *y = v->inputs[i];
        size_t n = ref_input_numel(v, i, B, T, H);
        double *want = xcalloc(n, sizeof(double));
        uint64_t s = seed * 0x100000001b3ull + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
        doc_fill(want, n, s, y->rows > 0 ? 1 / sqrt((double)y->rows) : 1,
                 (y->roles & ROLE_LOG_GATE) != 0);
        for (size_t j = 0; j < n; j++)
            ck_assert_msg(fabs(r->p.inputs[i][j] - want[j]) <= 1e-13 * fmax(1, fabs(want[j])),
                          "%s seed %llu: input %s[%zu] = %.17g, but section 13's generator "
                          "gives %.17g",
                          label, (unsigned long long)seed, y->name, j, r->p.inputs[i][j], want[j]);
        free(want);
    }
    run_free(r);
    unit_free(u);
}

START_TEST(test_fill_documented)
{
    check_documented_stream("gla", 2, 7, 3, 1);        /* per-key gates; even counts */
    check_documented_stream("mamba2", 1, 5, 3, 42);    /* [H] inputs: odd counts */
    check_documented_stream("hedgehog", 1, 3, 2, 0);   /* a weight [K, F]; seed 0 */
    check_documented_stream("bcast (inline)", 1, 3, 3, 0xffffffffffffffffull);
}
END_TEST

/* ------------------------------------------------------------------------
 * npy_write_f64
 * ------------------------------------------------------------------------ */

/* Reads `path` whole; *n gets its size. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = xcalloc((size_t)len + 1, 1);
    ck_assert_msg(fread(buf, 1, (size_t)len, f) == (size_t)len, "short read of %s", path);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void check_npy(const char *dir, const double *data, const int *dims, int nd)
{
    char path[512];
    snprintf(path, sizeof path, "%s/a%d.npy", dir, nd);
    ck_assert_msg(npy_write_f64(path, data, dims, nd), "npy_write_f64(%s): %s", path,
                  strerror(errno));
    size_t len, count = dims_numel(dims, nd);
    unsigned char *f = slurp(path, &len);
    unlink(path);
    ck_assert_msg(len >= 10 && memcmp(f, "\x93NUMPY", 6) == 0, "%s: bad magic", path);
    ck_assert_msg(f[6] == 1 && f[7] == 0, "%s: version %d.%d, expected 1.0", path, f[6], f[7]);
    size_t hl = (size_t)f[8] | (size_t)f[9] << 8;
    ck_assert_msg((10 + hl) % 64 == 0, "%s: header ends at byte %zu, not a multiple of 64", path,
                  10 + hl);
    ck_assert_msg(len == 10 + hl + count * 8, "%s: %zu bytes, expected %zu + %zu data bytes",
                  path, len, 10 + hl, count * 8);
    char *hdr = (char *)f + 10;
    ck_assert_msg(hdr[hl - 1] == '\n', "%s: the header does not end in a newline", path);
    char *text = strndup(hdr, hl);
    ck_assert_msg(strstr(text, "'descr': '<f8'") && strstr(text, "'fortran_order': False"),
                  "%s: header %s", path, text);
    ck_assert_msg(text[0] == '{', "%s: header %s", path, text);
    /* The shape tuple, parsed back. */
    char *sh = strstr(text, "'shape': (");
    ck_assert_msg(sh != NULL, "%s: no shape in %s", path, text);
    sh += strlen("'shape': (");
    int got[16], ng = 0, commas = 0;
    while (*sh != ')' && ng < 16) {
        char *end;
        long d = strtol(sh, &end, 10);
        ck_assert_msg(end != sh, "%s: bad shape tuple in %s", path, text);
        got[ng++] = (int)d;
        sh = end;
        while (*sh == ',' || *sh == ' ') commas += *sh++ == ',';
    }
    ck_assert_msg(ng == nd, "%s: shape has %d dims, expected %d: %s", path, ng, nd, text);
    /* Python: (7) is an int, (7,) a tuple */
    ck_assert_msg(nd != 1 || commas == 1, "%s: a 1-d shape needs a trailing comma: %s", path, text);
    for (int i = 0; i < nd; i++)
        ck_assert_msg(got[i] == dims[i], "%s: shape[%d] = %d, expected %d", path, i, got[i], dims[i]);
    for (char *p = strchr(text, '}') + 1; p < text + hl - 1; p++)
        ck_assert_msg(*p == ' ', "%s: padding byte %d", path, *p);
    ck_assert_msg(memcmp(f + 10 + hl, data, count * 8) == 0, "%s: the data does not round-trip",
                  path);
    free(text);
    free(f);
}

START_TEST(test_npy_write)
{
    char dir[] = "/tmp/lac_test_npy_XXXXXX";
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    double data[2 * 3 * 5];
    for (int i = 0; i < 30; i++) data[i] = (i - 11) * 0.37;
    data[1] = -0.0;
    data[2] = 1e-310; /* subnormal */
    data[3] = 1.7976931348623157e308;
    data[4] = NAN;
    data[5] = -INFINITY;
    const int d3[3] = {2, 3, 5}, d1[1] = {7}, d4[4] = {1, 2, 3, 5}, d2[2] = {30, 1};
    check_npy(dir, data, d3, 3);
    check_npy(dir, data, d1, 1);
    check_npy(dir, data, d4, 4);
    check_npy(dir, data, d2, 2);
    check_npy(dir, data, NULL, 0); /* a scalar: shape () */
    /* 10 + header between 50 and 70 bytes: padding crosses a 64 boundary */
    const int big[4] = {1, 1, 1, 1000000};
    double *z = xcalloc(1000000, sizeof(double));
    z[999999] = 42;
    check_npy(dir, z, big, 4);
    free(z);
    rmdir(dir);
    errno = 0;
    ck_assert_msg(!npy_write_f64("/nonexistent-lac-dir/x.npy", data, d1, 1),
                  "npy_write_f64 into a missing folder returned true");
    ck_assert_msg(errno != 0, "npy_write_f64 failed without errno");
}
END_TEST

/* lac ref --initial-state: the state after a random 16-token prefix. For a
 * positive feature map z0 is positive and equals the prefix's sum of key
 * features; for Based (features of both signs) the outputs stay finite. */
START_TEST(test_prefix_initial_state)
{
    ParamOverride o[2] = {{"K", 8, true, false}, {"V", 6, true, false}};
    Unit *u = unit_compile_file("dsl_examples/linear_elu.la", o, 2);
    ck_assert_ptr_nonnull(u->variant);
    Variant *v = u->variant;
    RefProblem p = {0};
    p.B = 2;
    p.T = 5;
    p.H = 3;
    size_t ns = (size_t)p.B * p.H * v->dk * v->dv, nz = (size_t)p.B * p.H * v->dk;
    double *s0 = calloc(ns, sizeof(double)), *z0 = calloc(nz, sizeof(double));
    ck_assert(ref_initial_state(v, &p, 7, s0, z0, &u->diags));
    for (size_t i = 0; i < nz; i++) {
        ck_assert_double_gt(z0[i], 0);
        ck_assert_double_lt(z0[i], 16 * 8.0); /* elu(x) + 1 < 1 + |x|; 16 tokens */
    }
    /* The same prefix by hand: z0 = sum over 16 tokens of elu(k) + 1. */
    RefProblem q = {0};
    q.B = p.B;
    q.T = REF_PREFIX;
    q.H = p.H;
    double *in[3];
    for (int i = 0; i < 3; i++) in[i] = calloc(ref_input_numel(v, i, q.B, q.T, q.H), sizeof(double));
    q.inputs = in;
    ref_fill_inputs(v, &q, 7 ^ 0x5eed5eed5eedull);
    for (int b = 0; b < p.B; b++)
        for (int h = 0; h < p.H; h++)
            for (int c = 0; c < v->dk; c++) {
                double z = 0;
                for (int t = 0; t < REF_PREFIX; t++) {
                    double x = in[1][(((size_t)b * q.T + t) * q.H + h) * v->dk + c];
                    z += (x > 0 ? x : expm1(x)) + 1;
                }
                ck_assert_double_eq_tol(z0[((size_t)b * p.H + h) * v->dk + c], z, 1e-12 * (1 + z));
            }
    for (int i = 0; i < 3; i++) free(in[i]);
    free(s0);
    free(z0);
    unit_free(u);

    ParamOverride ob[1] = {{"K", 4, true, false}};
    u = unit_compile_file("dsl_examples/based.la", ob, 1);
    ck_assert_ptr_nonnull(u->variant);
    v = u->variant;
    p.T = 40;
    ns = (size_t)p.B * p.H * v->dk * v->dv;
    nz = (size_t)p.B * p.H * v->dk;
    s0 = calloc(ns, sizeof(double));
    z0 = calloc(nz, sizeof(double));
    double *ins[3], *out = calloc((size_t)p.B * p.T * p.H * v->dv, sizeof(double));
    for (int i = 0; i < 3; i++) ins[i] = calloc(ref_input_numel(v, i, p.B, p.T, p.H), sizeof(double));
    p.inputs = ins;
    ref_fill_inputs(v, &p, 3);
    ck_assert(ref_initial_state(v, &p, 3, s0, z0, &u->diags));
    p.s0 = s0;
    p.z0 = z0;
    p.o = out;
    ck_assert_msg(ref_run(v, &p, &u->diags), "%s", u->rendered);
    for (size_t i = 0; i < (size_t)p.B * p.T * p.H * v->dv; i++) ck_assert(fabs(out[i]) < 1e3);
    for (int i = 0; i < 3; i++) free(ins[i]);
    free(out);
    free(s0);
    free(z0);
    unit_free(u);
}
END_TEST

Suite *ref_suite(void)
{
    Suite *s = suite_create("ref");
    TCase *tc = tcase_create("closed_form");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_example_closed_form, 0, NEXAMPLES);
    tcase_add_test(tc, test_initial_state);
    tcase_add_test(tc, test_split_sequence);
    tcase_add_test(tc, test_empty_sequence);
    suite_add_tcase(s, tc);

    tc = tcase_create("runtime_errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_positive_decay);
    tcase_add_test(tc, test_nonfinite_output);
    suite_add_tcase(s, tc);

    tc = tcase_create("io");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fill_inputs);
    tcase_add_test(tc, test_fill_documented);
    tcase_add_test(tc, test_npy_write);
    tcase_add_test(tc, test_prefix_initial_state);
    suite_add_tcase(s, tc);
    return s;
}
