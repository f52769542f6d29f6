/*
 * ref.c: the float64 CPU reference, the oracle of every GPU test.
 *
 * It runs a checked Variant in its recurrent form (docs/language.md section
 * 12), token by token, for each (batch, head):
 *
 *   qf, kf, vf = query, key, value rows of token t        (feature maps)
 *   S_t = diag(exp(g_t)) S_{t-1} + kf^T vf                (g_t: log decay)
 *   z_t = exp(g_t) * z_{t-1} + kf                         (normalized only)
 *   o_t = scale * qf S_t   [ / (scale * qf . z_t + eps) ] (normalized only)
 *
 * Non-causal variants first sum S over the whole sequence. Expressions are
 * evaluated a row (one token) at a time: every language operation is
 * row-wise, so this is the definition of the tile semantics. Obvious code on
 * purpose: it is slow and exact, and tested against independent closed forms
 * (tests/unit/test_ref.c).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lac_internal.h"

typedef struct RowCtx {
    const Variant *v;
    const RefProblem *p;
    int b, t, h;
    double *scratch; /* bump area, reset per token */
    size_t used, cap;
    double **lets;   /* value of each let for the current token */
} RowCtx;

static double *scratch_get(RowCtx *c, int n)
{
    LAC_ASSERT(c->used + (size_t)n <= c->cap);
    double *p = c->scratch + c->used;
    c->used += (size_t)n;
    return p;
}

/* Upper bound of scratch doubles one evaluation of e needs. */
static size_t expr_cost(const Expr *e)
{
    size_t n = (size_t)(e->type.cols > 0 ? e->type.cols : 1);
    if (e->lhs) n += expr_cost(e->lhs);
    if (e->rhs) n += expr_cost(e->rhs);
    for (int i = 0; i < e->nargs; i++) n += expr_cost(e->args[i]);
    return n;
}

static const double *input_row(const RowCtx *c, const Symbol *y)
{
    const double *d = c->p->inputs[y->index];
    size_t tok = ((size_t)c->b * (size_t)c->p->T + (size_t)c->t) * (size_t)c->p->H + (size_t)c->h;
    switch (y->layout) {
    case LAYOUT_TOKEN: return d + tok;
    case LAYOUT_TOKEN_VEC: return d + tok * (size_t)y->cols;
    case LAYOUT_HEAD: return d + c->h;
    case LAYOUT_HEAD_VEC: return d + (size_t)c->h * (size_t)y->cols;
    case LAYOUT_HEAD_MAT: return d + (size_t)c->h * (size_t)y->rows * (size_t)y->cols;
    case LAYOUT_SHARED_VEC: case LAYOUT_SHARED_MAT: return d;
    }
    return d;
}

static const double *eval(RowCtx *c, const Expr *e);

static double *eval_elementwise2(RowCtx *c, const Expr *e, const Expr *l, const Expr *r,
                                 int fn /* BinOp or Builtin */, bool is_op)
{
    const double *x = eval(c, l), *y = eval(c, r);
    int n = e->type.cols, lx = l->type.cols > 1, ly = r->type.cols > 1;
    double *o = scratch_get(c, n);
    for (int i = 0; i < n; i++) {
        double a = x[lx ? i : 0], b = y[ly ? i : 0];
        o[i] = is_op ? binop_apply((BinOp)fn, a, b) : builtin_apply2((Builtin)fn, a, b);
    }
    return o;
}

static const double *eval_call(RowCtx *c, const Expr *e)
{
    int n = e->type.cols;
    const Expr *a0 = e->nargs > 0 ? e->args[0] : NULL;
    switch (e->fn) {
    case BI_POW: case BI_MINIMUM: case BI_MAXIMUM:
        return eval_elementwise2(c, e, e->args[0], e->args[1], e->fn, false);
    case BI_SUM: case BI_MAX: case BI_MIN: case BI_MEAN: {
        const double *x = eval(c, a0);
        int m = a0->type.cols;
        double acc = x[0];
        for (int i = 1; i < m; i++) {
            if (e->fn == BI_MAX) acc = x[i] > acc ? x[i] : acc;
            else if (e->fn == BI_MIN) acc = x[i] < acc ? x[i] : acc;
            else acc += x[i];
        }
        if (e->fn == BI_MEAN) acc /= m;
        double *o = scratch_get(c, 1);
        o[0] = acc;
        return o;
    }
    case BI_SOFTMAX: {
        const double *x = eval(c, a0);
        double *o = scratch_get(c, n);
        double mx = x[0], sum = 0;
        for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < n; i++) sum += (o[i] = exp(x[i] - mx));
        for (int i = 0; i < n; i++) o[i] /= sum;
        return o;
    }
    case BI_CONCAT: {
        double *o = scratch_get(c, n);
        int at = 0;
        for (int k = 0; k < e->nargs; k++) {
            const double *x = eval(c, e->args[k]);
            memcpy(o + at, x, sizeof(double) * (size_t)e->args[k]->type.cols);
            at += e->args[k]->type.cols;
        }
        return o;
    }
    case BI_OUTER: {
        const double *x = eval(c, e->args[0]), *y = eval(c, e->args[1]);
        int nx = e->args[0]->type.cols, ny = e->args[1]->type.cols;
        double *o = scratch_get(c, n);
        for (int i = 0; i < nx; i++)
            for (int j = 0; j < ny; j++) o[i * ny + j] = x[i] * y[j];
        return o;
    }
    case BI_ONES: {
        double *o = scratch_get(c, n);
        for (int i = 0; i < n; i++) o[i] = 1;
        return o;
    }
    default: {
        const double *x = eval(c, a0);
        double *o = scratch_get(c, n);
        int lx = a0->type.cols > 1;
        for (int i = 0; i < n; i++) o[i] = builtin_apply1(e->fn, x[lx ? i : 0]);
        return o;
    }
    }
}

static const double *eval(RowCtx *c, const Expr *e)
{
    if (e->type.known) {
        double *o = scratch_get(c, 1);
        o[0] = e->type.value;
        return o;
    }
    switch (e->kind) {
    case EX_NAME: {
        if (e->sym) {
            if (e->sym->kind == SYM_INPUT) return input_row(c, e->sym);
            if (e->sym->kind == SYM_LET) return c->lets[e->sym->index];
            LAC_ASSERT(0 && "params are folded");
        }
        double *o = scratch_get(c, 1);
        switch (e->fn) {
        case BI_POS: o[0] = c->t; break;
        case BI_HEAD: o[0] = c->h; break;
        case BI_NUM_HEADS: o[0] = c->p->H; break;
        case BI_SEQ_LEN: o[0] = c->p->T; break;
        default: LAC_ASSERT(0 && "unexpected built-in name");
        }
        return o;
    }
    case EX_NEG: {
        const double *x = eval(c, e->lhs);
        double *o = scratch_get(c, e->type.cols);
        for (int i = 0; i < e->type.cols; i++) o[i] = -x[i];
        return o;
    }
    case EX_BIN:
        if (e->op == OP_MATMUL) {
            LAC_ASSERT(e->rhs->kind == EX_NAME && e->rhs->sym && e->rhs->sym->kind == SYM_INPUT);
            const double *x = eval(c, e->lhs);
            const double *w = input_row(c, e->rhs->sym);
            int R = e->rhs->type.rows, C = e->rhs->type.cols;
            double *o = scratch_get(c, C);
            for (int j = 0; j < C; j++) o[j] = 0;
            for (int i = 0; i < R; i++)
                for (int j = 0; j < C; j++) o[j] += x[i] * w[(size_t)i * C + j];
            return o;
        }
        return eval_elementwise2(c, e, e->lhs, e->rhs, e->op, true);
    case EX_CALL: return eval_call(c, e);
    default: break;
    }
    LAC_ASSERT(0 && "unexpected expression in the reference");
    return NULL;
}

size_t ref_input_numel(const Variant *v, int i, int B, int T, int H)
{
    const Symbol *y = v->inputs[i];
    size_t tok = (size_t)B * (size_t)T * (size_t)H;
    switch (y->layout) {
    case LAYOUT_TOKEN: return tok;
    case LAYOUT_TOKEN_VEC: return tok * (size_t)y->cols;
    case LAYOUT_HEAD: return (size_t)H;
    case LAYOUT_HEAD_VEC: return (size_t)H * (size_t)y->cols;
    case LAYOUT_HEAD_MAT: return (size_t)H * (size_t)y->rows * (size_t)y->cols;
    case LAYOUT_SHARED_VEC: return (size_t)y->cols;
    case LAYOUT_SHARED_MAT: return (size_t)y->rows * (size_t)y->cols;
    }
    return 0;
}

/* splitmix64 seeds xoshiro256**; Box-Muller gives normals. */
typedef struct Rng {
    uint64_t s[4];
} Rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(Rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static double rng_uniform(Rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) * 0x1.0p-53; }

void ref_fill_normal(double *x, size_t n, double sd, uint64_t seed)
{
    Rng r;
    uint64_t st = seed;
    for (int i = 0; i < 4; i++) r.s[i] = splitmix64(&st);
    for (size_t i = 0; i < n; i += 2) {
        double u1 = rng_uniform(&r), u2 = rng_uniform(&r);
        double m = sqrt(-2 * log(u1));
        x[i] = sd * m * cos(2 * M_PI * u2);
        if (i + 1 < n) x[i + 1] = sd * m * sin(2 * M_PI * u2);
    }
}

/* Section 13: N(0, 1) everywhere; weights N(0, 1/R) so that x @ W keeps unit
 * scale; inputs that are raw log-space gates get logsigmoid(N(0, 1)) / 16,
 * fla's benchmark distribution; a normalized variant's q and k used as they
 * are get |N(0, 1)|. Each input has its own stream. */
void ref_fill_inputs(const Variant *v, RefProblem *p, uint64_t seed)
{
    for (int i = 0; i < v->ninputs; i++) {
        const Symbol *y = v->inputs[i];
        size_t n = ref_input_numel(v, i, p->B, p->T, p->H);
        double sd = y->rows > 0 ? 1 / sqrt((double)y->rows) : 1;
        uint64_t s = seed * 0x100000001b3ull + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
        ref_fill_normal(p->inputs[i], n, sd, s);
        if (y->roles & ROLE_LOG_GATE)
            for (size_t j = 0; j < n; j++)
                p->inputs[i][j] = builtin_apply1(BI_LOGSIGMOID, p->inputs[i][j]) / 16;
        else if (y->roles & ROLE_POSITIVE)
            for (size_t j = 0; j < n; j++) p->inputs[i][j] = fabs(p->inputs[i][j]);
    }
}

/* Section 13: the initial state is the final state of the same variant run
 * on a random prefix of REF_PREFIX tokens (seeded apart from the main
 * inputs). S0 and z0 are then consistent for any feature map: z0 is a sum
 * of key features, so a normalized variant's denominator behaves as it does
 * after REF_PREFIX real tokens. */
bool ref_initial_state(const Variant *v, const RefProblem *p, uint64_t seed, double *s0,
                       double *z0, Diags *d)
{
    RefProblem q = {0};
    q.B = p->B;
    q.T = REF_PREFIX;
    q.H = p->H;
    q.inputs = calloc((size_t)v->ninputs + 1, sizeof(double *));
    q.o = malloc(sizeof(double) * (size_t)q.B * q.T * q.H * (size_t)v->dv);
    q.s_final = s0;
    q.z_final = z0;
    bool ok = q.inputs && q.o;
    for (int i = 0; ok && i < v->ninputs; i++) {
        q.inputs[i] = malloc(sizeof(double) * ref_input_numel(v, i, q.B, q.T, q.H));
        ok = q.inputs[i] != NULL;
    }
    if (!ok) {
        diag_error_noloc(d, "lac ref", "out of memory for the initial state");
    } else {
        ref_fill_inputs(v, &q, seed ^ 0x5eed5eed5eedull);
        ok = ref_run(v, &q, d);
    }
    for (int i = 0; q.inputs && i < v->ninputs; i++) free(q.inputs[i]);
    free(q.inputs);
    free(q.o);
    return ok;
}

static void eval_lets(RowCtx *c)
{
    for (int i = 0; i < c->v->nlets; i++) c->lets[i] = (double *)eval(c, c->v->lets[i]->expr);
}

static bool ref_decay_ok(const Variant *v, const double *g, int n, const RowCtx *c, Diags *d)
{
    for (int i = 0; i < n; i++) {
        if (!(g[i] <= 0)) {
            Diag *x = diag_error(d, v->decay_expr->loc,
                                 "the decay is %g (not <= 0) at batch %d, token %d, head %d%s%s",
                                 g[i], c->b, c->t, c->h, n > 1 ? ", key channel " : "",
                                 n > 1 ? arena_printf(d->arena, "%d", i) : "");
            diag_note_noloc(d, x, "decays are log-space: exp(decay) must be at most 1");
            return false;
        }
    }
    return true;
}

bool ref_run(const Variant *v, const RefProblem *p, Diags *d)
{
    const int B = p->B, T = p->T, H = p->H, K = v->dk, V = v->dv;
    const Expr *roots[6] = {v->query, v->key, v->value, v->scale, v->decay_expr, NULL};
    size_t cap = 16;
    for (int i = 0; i < v->nlets; i++) cap += expr_cost(v->lets[i]->expr);
    for (int i = 0; i < 5; i++)
        if (roots[i]) cap += expr_cost(roots[i]);
    RowCtx c = {0};
    c.v = v;
    c.p = p;
    c.cap = cap;
    c.scratch = malloc(sizeof(double) * cap);
    c.lets = calloc((size_t)v->nlets + 1, sizeof(double *));
    double *S = malloc(sizeof(double) * (size_t)K * (size_t)V);
    double *z = calloc((size_t)K, sizeof(double));
    bool ok = c.scratch && c.lets && S && z;
    if (!ok) diag_error_noloc(d, "lac ref", "out of memory for the reference state");

    for (int b = 0; ok && b < B; b++) {
        for (int h = 0; ok && h < H; h++) {
            size_t bh = (size_t)b * H + h;
            if (p->s0)
                memcpy(S, p->s0 + bh * K * V, sizeof(double) * (size_t)K * V);
            else
                memset(S, 0, sizeof(double) * (size_t)K * V);
            if (p->z0)
                memcpy(z, p->z0 + bh * K, sizeof(double) * (size_t)K);
            else
                memset(z, 0, sizeof(double) * (size_t)K);
            c.b = b;
            c.h = h;
            /* The scale is uniform over tokens: evaluate it at token 0. */
            c.t = 0;
            c.used = 0;
            double scale = 1;
            if (T > 0) {
                eval_lets(&c);
                scale = eval(&c, v->scale)[0];
            }
            for (int pass = v->causal ? 1 : 0; pass < 2; pass++) {
                for (int t = 0; t < T; t++) {
                    c.t = t;
                    c.used = 0;
                    eval_lets(&c);
                    const double *qf = eval(&c, v->query);
                    const double *kf = eval(&c, v->key);
                    const double *vf = eval(&c, v->value);
                    int lq = v->query->type.cols > 1, lk = v->key->type.cols > 1,
                        lv = v->value->type.cols > 1;
                    bool update = v->causal || pass == 0, emit = v->causal || pass == 1;
                    if (update) {
                        if (v->decay != DECAY_NONE) {
                            const double *g = eval(&c, v->decay_expr);
                            int n = v->decay == DECAY_PER_KEY ? K : 1;
                            if (!ref_decay_ok(v, g, n, &c, d)) {
                                ok = false;
                                break;
                            }
                            for (int i = 0; i < K; i++) {
                                double a = exp(g[n > 1 ? i : 0]);
                                for (int j = 0; j < V; j++) S[(size_t)i * V + j] *= a;
                                z[i] *= a;
                            }
                        }
                        for (int i = 0; i < K; i++) {
                            double ki = kf[lk ? i : 0];
                            for (int j = 0; j < V; j++) S[(size_t)i * V + j] += ki * vf[lv ? j : 0];
                            z[i] += ki;
                        }
                    }
                    if (emit) {
                        double *o = p->o + (((size_t)b * T + t) * H + h) * V;
                        for (int j = 0; j < V; j++) o[j] = 0;
                        double den = 0;
                        for (int i = 0; i < K; i++) {
                            double qi = scale * qf[lq ? i : 0];
                            for (int j = 0; j < V; j++) o[j] += qi * S[(size_t)i * V + j];
                            den += qi * z[i];
                        }
                        if (v->normalize)
                            for (int j = 0; j < V; j++) o[j] /= den + v->eps;
                        for (int j = 0; j < V; j++) {
                            if (!isfinite(o[j])) {
                                Diag *x = diag_error_noloc(
                                    d, "lac ref",
                                    "attention '%s': output is not finite at batch %d, token %d, "
                                    "head %d, channel %d",
                                    v->name, b, t, h, j);
                                diag_note(d, x, v->loc, "the variant is defined here");
                                ok = false;
                                break;
                            }
                        }
                    }
                    if (!ok) break;
                }
                if (!ok) break;
            }
            if (ok && p->s_final) memcpy(p->s_final + bh * K * V, S, sizeof(double) * (size_t)K * V);
            if (ok && p->z_final) memcpy(p->z_final + bh * K, z, sizeof(double) * (size_t)K);
        }
    }
    free(c.scratch);
    free(c.lets);
    free(S);
    free(z);
    return ok;
}

/* NumPy .npy, version 1.0: magic, header length, a Python dict, then data. */
bool npy_write_f64(const char *path, const double *data, const int *dims, int ndims)
{
    /* 8 dims of at most 11 characters each fit the header with room to spare. */
    char hdr[256];
    if (ndims < 0 || ndims > 8) {
        errno = EINVAL;
        return false;
    }
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] < 0) {
            errno = EINVAL;
            return false;
        }
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, ndims == 1 ? "%d," : "%d, ", dims[i]);
        count *= (size_t)dims[i];
    }
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
    LAC_ASSERT(n > 0 && (size_t)n < sizeof hdr);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    unsigned short hl = (unsigned short)(n + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
                             (unsigned char)(hl >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)n, f) == (size_t)n;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && fwrite(data, sizeof(double), count, f) == count;
    if (fclose(f) != 0) ok = false;
    return ok;
}
