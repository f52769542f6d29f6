/*
 * tir.c: the tile IR (lac_internal.h, "tile IR"): the builder the templates
 * use, the layout of shared memory, a verifier and the printer of
 * `lac dump --tir`.
 *
 * A program is a tree of blocks: the top level, the bodies of `for` and the
 * branches of `if`. Values are defined once (SSA); a `for` carries values
 * from one iteration to the next (its `carried` values are defined at the
 * top of the body, `yield` gives their next values, `results` hold them
 * after the loop), and an `if` with results merges the values its branches
 * yield. The builder appends to the innermost open region.
 *
 * Fields of an op, by kind (args[] in order):
 *   SREG       res; sval   (literals: tir_i32, tir_f32 are values with no op)
 *   BIN        res; x, y; ival = TirBinOp         LA_SCALAR res; b, h; la; env
 *   SMEM       res                               FILL   tile; ival..ival2 columns; fval
 *   COPY       dst, buf, src, b, t0, h, c0, T; ival rows, ival2 cols, ival3 dst row; thr_lo, thr_n
 *   WAIT       ival pending groups
 *   ZERO       res                               MMA    res; acc, nlimit, klimit; a, b; ival K
 *   MAP        res; frag, row0, col0; ival roff, ival2 coff; ex
 *   TOA        res; acc                          STS    frag, tile, buf, row0, col0; ival roff, ival2 coff
 *   CAT        res; x, y                         COLS   res; x; ival col0, ival2 ncols
 *   DTAB       tab, lam; ival off
 *   STG        frag, o, b, t0, h, c0, T, stage, slot; ival ncols
 *   LDSTATE    res; ptr, idx, row0, col0; ival roff, ival2 coff, ival3 vec; rec, rec_base;
 *              lim_rows, ld: rows of the record part and its row length (bounds)
 *   STSTATE    frag, ptr, idx, row0, col0; the same, and ival4 ncols
 *   SCAN_TOKEN vec, b, h, t0, T, buf; la; env; thr_lo, thr_n; ival TirScanMode, ival2 log2 units
 *   SCAN_KEY   tile, b, h, t0, T; la; env; ival cols; thr_lo, thr_n
 *   ROWMAP     dst, buf, b, h, t0, T, c0; la; env; ival width, ival2 nch; thr_lo, thr_n
 *   ANY        res; row0, col0; ival rows, ival2 cols; ex
 *   GLA_DIAG   res; P, q, qbuf, k, kbuf, bt, r0; ival dk
 *   GLA_PREP   res (bool); bt, btbuf, b, h, t0, T, k, kbuf, kx; la; env; ival cols; fval lim; thr_n
 *   LDA        res (A fragment); a; ival K
 *   BARRIER    (with an OR) res (bool); pred
 *   FOR        lo, hi; iv; carried, inits, results (ncarried); body
 *   IF         cond; body, orelse; inits (values before), results (ncarried)
 *   YIELD      carried = the yielded values (ncarried)
 */
#include <math.h>
#include <string.h>

#include "lac_internal.h"

const char *tir_elem_name(TirElem e)
{
    static const char *const s[] = {"bf16", "f16", "f32", "split"};
    return s[e];
}

int tir_elem_bytes(TirElem e) { return e == TE_F32 ? 4 : 2; }

static int elem_planes(TirElem e) { return e == TE_SPLIT ? 2 : 1; }

/* ------------------------------------------------------------------------
 * Builder
 * ------------------------------------------------------------------------ */

static void block_push(Arena *a, TirBlock *bl, TirOp *op)
{
    if (bl->n == bl->cap) {
        int cap = bl->cap ? bl->cap * 2 : 16;
        TirOp **ops = arena_alloc(a, sizeof(TirOp *) * (size_t)cap);
        if (bl->n) memcpy(ops, bl->ops, sizeof(TirOp *) * (size_t)bl->n);
        bl->ops = ops;
        bl->cap = cap;
    }
    bl->ops[bl->n++] = op;
}

TirProgram *tir_program_new(Arena *a, const Variant *v, const char *name, int threads)
{
    TirProgram *p = arena_alloc(a, sizeof *p);
    p->a = a;
    p->v = v;
    p->name = arena_strdup(a, name);
    p->loc = v->loc;
    p->at = v->loc;
    p->threads = threads;
    p->cur[0] = &p->top;
    p->depth = 0;
    return p;
}

void tir_at(TirProgram *p, SrcLoc loc) { p->at = loc; }

static TirValue *value_new(TirProgram *p, TirType t, const char *name)
{
    TirValue *x = arena_alloc(p->a, sizeof *x);
    x->id = p->nvalues++;
    x->type = t;
    x->name = name ? arena_strdup(p->a, name) : NULL;
    x->param = -1;
    return x;
}

static TirOp *op_new(TirProgram *p, TirOpKind k)
{
    TirOp *op = arena_alloc(p->a, sizeof *op);
    op->kind = k;
    op->loc = p->at;
    block_push(p->a, p->cur[p->depth], op);
    return op;
}

static void op_args(TirOp *op, int n, TirValue *const *xs)
{
    LAC_ASSERT(n <= (int)(sizeof op->args / sizeof op->args[0]));
    for (int i = 0; i < n; i++) op->args[i] = xs[i];
    op->nargs = n;
}

static TirValue *param_add(TirProgram *p, TirValue *x)
{
    if (p->nparams == p->cap_params) {
        int cap = p->cap_params ? p->cap_params * 2 : 16;
        TirValue **ps = arena_alloc(p->a, sizeof(TirValue *) * (size_t)cap);
        if (p->nparams) memcpy(ps, p->params, sizeof(TirValue *) * (size_t)p->nparams);
        p->params = ps;
        p->cap_params = cap;
    }
    x->param = p->nparams;
    p->params[p->nparams++] = x;
    return x;
}

TirValue *tir_param_gmem(TirProgram *p, const char *name, const Symbol *input, TirElem elem, int gcols,
                         const char *shape, bool optional)
{
    TirValue *x = value_new(p, TT_GMEM, name);
    x->input = input;
    x->gelem = elem;
    x->gcols = gcols;
    x->shape = arena_strdup(p->a, shape);
    x->optional = optional;
    return param_add(p, x);
}

TirValue *tir_param_i32(TirProgram *p, const char *name) { return param_add(p, value_new(p, TT_I32, name)); }

/* Literals are values without an op (lower.c makes LLVM constants of them),
 * so they dominate every use and can be shared. They take no id: the printer
 * writes their value, and the ids of the other values do not depend on the
 * order in which a C compiler evaluates the arguments that make literals. */
static TirValue *literal(TirProgram *p, TirType t, double x)
{
    TirValue *v = arena_alloc(p->a, sizeof *v);
    v->id = -1;
    v->type = t;
    v->param = -1;
    v->is_const = true;
    v->cval = x;
    return v;
}

TirValue *tir_i32(TirProgram *p, int x) { return literal(p, TT_I32, x); }

TirValue *tir_f32(TirProgram *p, double x) { return literal(p, TT_F32, x); }

TirValue *tir_sreg(TirProgram *p, const char *name)
{
    TirOp *op = op_new(p, TIR_SREG);
    op->res = value_new(p, TT_I32, NULL);
    op->sval = arena_strdup(p->a, name);
    return op->res;
}

static bool binop_compares(TirBinOp op) { return op >= TB_LT && op <= TB_NE; }

/* i32 literals fold, and x + 0, x - 0, x * 1, x / 1 are x: templates
 * write index arithmetic generically and the printout stays readable. */
static TirValue *fold_bin(TirProgram *p, TirBinOp k, TirValue *x, TirValue *y)
{
    if (x->type != TT_I32 || y->type != TT_I32) return NULL;
    bool cx = x->is_const, cy = y->is_const;
    long long a = (long long)x->cval, b = (long long)y->cval;
    if (cx && cy) {
        long long r;
        switch (k) {
        case TB_ADD: r = a + b; break;
        case TB_SUB: r = a - b; break;
        case TB_MUL: r = a * b; break;
        case TB_DIV: if (b == 0) return NULL; r = a / b; break;
        case TB_REM: if (b == 0) return NULL; r = a % b; break;
        case TB_MIN: r = a < b ? a : b; break;
        case TB_MAX: r = a > b ? a : b; break;
        default: return NULL;
        }
        if (r < INT32_MIN || r > INT32_MAX) return NULL;
        return tir_i32(p, (int)r);
    }
    if (cy && b == 0 && (k == TB_ADD || k == TB_SUB)) return x;
    if (cx && a == 0 && k == TB_ADD) return y;
    if (cy && b == 1 && (k == TB_MUL || k == TB_DIV)) return x;
    if (cx && a == 1 && k == TB_MUL) return y;
    return NULL;
}

TirValue *tir_bin(TirProgram *p, TirBinOp k, TirValue *x, TirValue *y, const char *name)
{
    TirValue *f = fold_bin(p, k, x, y);
    if (f) return f;
    TirOp *op = op_new(p, TIR_BIN);
    TirType t = binop_compares(k) ? TT_BOOL : x->type;
    op->res = value_new(p, t, name);
    op->ival = k;
    TirValue *xs[2] = {x, y};
    op_args(op, 2, xs);
    return op->res;
}

static void op_env(TirProgram *p, TirOp *op, TirEnv *env, int nenv);

TirValue *tir_la_scalar(TirProgram *p, const Expr *e, TirEnv *env, int nenv, TirValue *b, TirValue *h,
                        const char *name)
{
    TirOp *op = op_new(p, TIR_LA_SCALAR);
    op->loc = e->loc;
    op->res = value_new(p, TT_F32, name);
    op->la = e;
    TirValue *xs[2] = {b, h};
    op_args(op, 2, xs);
    op_env(p, op, env, nenv);
    return op->res;
}

TirValue *tir_smem(TirProgram *p, const char *name, TirElem elem, int nbuf, int rows, int cols, int pad)
{
    TirOp *op = op_new(p, TIR_SMEM);
    TirValue *x = value_new(p, TT_SMEM, name);
    x->elem = elem;
    x->nbuf = nbuf;
    x->rows = rows;
    x->cols = cols;
    x->stride = cols + pad;
    x->offset = -1;
    op->res = x;
    return x;
}

void tir_smem_swizzle(TirValue *t)
{
    LAC_ASSERT(t->type == TT_SMEM && tir_elem_bytes(t->elem) == 2 && t->elem != TE_SPLIT);
    LAC_ASSERT(t->rows % 8 == 0 && t->cols % 8 == 0);
    t->swizzle = 128;
    /* Whole column blocks: a normalizer's 8 columns past 64 take a block. */
    t->stride = (t->cols + 63) / 64 * 64;
}

void tir_fill(TirProgram *p, TirValue *tile, int col_lo, int col_hi, double x)
{
    TirOp *op = op_new(p, TIR_FILL);
    op_args(op, 1, &tile);
    op->ival = col_lo;
    op->ival2 = col_hi;
    op->fval = x;
}

void tir_copy(TirProgram *p, TirValue *dst, TirValue *buf, int drow, TirValue *src, TirValue *b,
              TirValue *t0, TirValue *h, TirValue *c0, TirValue *T, int rows, int cols, int thr_lo,
              int thr_n)
{
    TirOp *op = op_new(p, TIR_COPY);
    TirValue *xs[8] = {dst, buf, src, b, t0, h, c0, T};
    op_args(op, 8, xs);
    op->ival = rows;
    op->ival2 = cols;
    op->ival3 = drow;
    op->thr_lo = thr_lo;
    op->thr_n = thr_n;
}

void tir_commit(TirProgram *p) { op_new(p, TIR_COMMIT); }

void tir_wait(TirProgram *p, int pending) { op_new(p, TIR_WAIT)->ival = pending; }

void tir_barrier(TirProgram *p) { op_new(p, TIR_BARRIER); }

TirValue *tir_barrier_any(TirProgram *p, TirValue *pred)
{
    TirOp *op = op_new(p, TIR_BARRIER);
    op->res = value_new(p, TT_BOOL, "any");
    op_args(op, 1, &pred);
    return op->res;
}

static TirValue *frag_new(TirProgram *p, TirRole role, TirElem elem, int rows, int cols, const char *name)
{
    TirValue *x = value_new(p, TT_FRAG, name);
    x->role = role;
    x->elem = elem;
    x->rows = rows;
    x->cols = cols;
    return x;
}

TirValue *tir_zero(TirProgram *p, int rows, int cols, const char *name)
{
    TirOp *op = op_new(p, TIR_ZERO);
    op->res = frag_new(p, TR_ACC, TE_F32, rows, cols, name);
    return op->res;
}

TirOperand tir_view(TirValue *tile, TirValue *buf, TirValue *row0, int roff, TirValue *col0, int coff,
                    bool trans, TirEx *xf)
{
    TirOperand o = {tile, buf, row0, col0, roff, coff, trans, xf, false};
    return o;
}

TirOperand tir_frag_operand(TirValue *frag)
{
    TirOperand o = {frag, NULL, NULL, NULL, 0, 0, false, NULL, false};
    return o;
}

TirValue *tir_lda(TirProgram *p, TirOperand a, int rows, int K, const char *name)
{
    TirOp *op = op_new(p, TIR_LDA);
    op->res = frag_new(p, TR_A, a.split ? TE_SPLIT : a.v->elem, rows, K, name);
    op->a = a;
    op->ival = K;
    return op->res;
}

TirValue *tir_mma(TirProgram *p, TirValue *acc, TirOperand a, TirOperand b, int K, TirValue *nlimit,
                  TirValue *klimit, const char *name)
{
    TirOp *op = op_new(p, TIR_MMA);
    op->res = frag_new(p, TR_ACC, TE_F32, acc->rows, acc->cols, name);
    TirValue *xs[3] = {acc, nlimit, klimit};
    op_args(op, 3, xs);
    op->a = a;
    op->b = b;
    op->ival = K;
    return op->res;
}

TirValue *tir_mma_wg(TirProgram *p, TirValue *acc, TirOperand a, TirOperand b, int K, TirValue *nlimit,
                     TirValue *klimit, const char *name)
{
    TirValue *r = tir_mma(p, acc, a, b, K, nlimit, klimit, name);
    TirBlock *bl = p->cur[p->depth];
    bl->ops[bl->n - 1]->wg = true;
    p->has_wg = true;
    return r;
}

TirValue *tir_map(TirProgram *p, TirValue *frag, TirValue *row0, int roff, TirValue *col0, int coff,
                  TirEx *ex, const char *name)
{
    TirOp *op = op_new(p, TIR_MAP);
    op->res = frag_new(p, TR_ACC, TE_F32, frag->rows, frag->cols, name);
    TirValue *xs[3] = {frag, row0, col0};
    op_args(op, 3, xs);
    op->ival = roff;
    op->ival2 = coff;
    op->ex = ex;
    return op->res;
}

TirValue *tir_toa(TirProgram *p, TirValue *acc, TirElem elem, const char *name)
{
    TirOp *op = op_new(p, TIR_TOA);
    op->res = frag_new(p, TR_A, elem, acc->rows, acc->cols, name);
    op_args(op, 1, &acc);
    return op->res;
}

TirValue *tir_cat(TirProgram *p, TirValue *x, TirValue *y, const char *name)
{
    TirOp *op = op_new(p, TIR_CAT);
    op->res = frag_new(p, TR_ACC, TE_F32, x->rows, x->cols + y->cols, name);
    TirValue *xs[2] = {x, y};
    op_args(op, 2, xs);
    return op->res;
}

TirValue *tir_cols(TirProgram *p, TirValue *x, int col0, int ncols, const char *name)
{
    TirOp *op = op_new(p, TIR_COLS);
    op->res = frag_new(p, TR_ACC, TE_F32, x->rows, ncols, name);
    op_args(op, 1, &x);
    op->ival = col0;
    op->ival2 = ncols;
    return op->res;
}

void tir_decay_table(TirProgram *p, TirValue *tab, TirValue *lam, int off)
{
    TirOp *op = op_new(p, TIR_DTAB);
    TirValue *xs[2] = {tab, lam};
    op_args(op, 2, xs);
    op->ival = off;
}

void tir_sts(TirProgram *p, TirValue *frag, TirValue *tile, TirValue *buf, TirValue *row0, int roff,
             TirValue *col0, int coff)
{
    TirOp *op = op_new(p, TIR_STS);
    TirValue *xs[5] = {frag, tile, buf, row0, col0};
    op_args(op, 5, xs);
    op->ival = roff;
    op->ival2 = coff;
}

void tir_stg(TirProgram *p, TirValue *frag, int ncols, TirValue *o, TirValue *b, TirValue *t0,
             TirValue *h, TirValue *c0, TirValue *T, TirValue *stage, TirValue *slot)
{
    TirOp *op = op_new(p, TIR_STG);
    TirValue *xs[9] = {frag, o, b, t0, h, c0, T, stage, slot};
    op_args(op, 9, xs);
    op->ival = ncols;
}

TirValue *tir_ldstate(TirProgram *p, TirValue *ptr, int rows, int cols, TirValue *idx, int rec,
                      int base, int nrows, int ld, TirValue *row0, int roff, TirValue *col0, int coff,
                      bool vec, const char *name)
{
    TirOp *op = op_new(p, TIR_LDSTATE);
    op->res = frag_new(p, TR_ACC, TE_F32, rows, cols, name);
    TirValue *xs[4] = {ptr, idx, row0, col0};
    op_args(op, 4, xs);
    op->ival = roff;
    op->ival2 = coff;
    op->ival3 = vec;
    op->rec = rec;
    op->rec_base = base;
    op->lim_rows = nrows;
    op->ld = ld;
    return op->res;
}

void tir_ststate(TirProgram *p, TirValue *frag, int ncols, TirValue *ptr, TirValue *idx, int rec, int base,
                 int nrows, int ld, TirValue *row0, int roff, TirValue *col0, int coff, bool vec)
{
    TirOp *op = op_new(p, TIR_STSTATE);
    TirValue *xs[5] = {frag, ptr, idx, row0, col0};
    op_args(op, 5, xs);
    op->ival = roff;
    op->ival2 = coff;
    op->ival3 = vec;
    op->ival4 = ncols;
    op->rec = rec;
    op->rec_base = base;
    op->lim_rows = nrows;
    op->ld = ld;
}

static void op_env(TirProgram *p, TirOp *op, TirEnv *env, int nenv)
{
    op->nenv = nenv;
    if (nenv) {
        op->env = arena_alloc(p->a, sizeof(TirEnv) * (size_t)nenv);
        memcpy(op->env, env, sizeof(TirEnv) * (size_t)nenv);
    }
}

TirValue *tir_ldtoken(TirProgram *p, TirValue *src, TirValue *b, TirValue *h, TirValue *t0, TirValue *T,
                      int per, const char *name)
{
    TirOp *op = op_new(p, TIR_LDTOKEN);
    op->res = value_new(p, TT_LANES, name);
    op->res->elem = TE_F32;
    op->res->rows = 1;
    op->res->cols = per;
    TirValue *xs[5] = {src, b, h, t0, T};
    op_args(op, 5, xs);
    return op->res;
}

void tir_scan_token(TirProgram *p, TirValue *vec, TirValue *buf, const Expr *decay, TirEnv *env, int nenv,
                    TirValue *b, TirValue *h, TirValue *t0, TirValue *T, int thr_lo, int thr_n, TirScanMode mode,
                    bool log2)
{
    TirOp *op = op_new(p, TIR_SCAN_TOKEN);
    op->loc = decay->loc;
    TirValue *xs[6] = {vec, b, h, t0, T, buf};
    op_args(op, 6, xs);
    op->la = decay;
    op_env(p, op, env, nenv);
    op->thr_lo = thr_lo;
    op->thr_n = mode == SCAN_ONE_WARP ? 32 : thr_n;
    op->ival = (int)mode;
    op->ival2 = log2;
}

void tir_scan_key(TirProgram *p, TirValue *tile, TirValue *buf, const Expr *decay, TirEnv *env, int nenv,
                  TirValue *b, TirValue *h, TirValue *t0, TirValue *T, int cols, int thr_lo, int thr_n)
{
    TirOp *op = op_new(p, TIR_SCAN_KEY);
    op->loc = decay->loc;
    TirValue *xs[6] = {tile, b, h, t0, T, buf};
    op_args(op, 6, xs);
    op->la = decay;
    op_env(p, op, env, nenv);
    op->ival = cols;
    op->thr_lo = thr_lo;
    op->thr_n = thr_n;
}

void tir_rowmap(TirProgram *p, TirValue *dst, TirValue *buf, const Expr *e, TirEnv *env, int nenv,
                TirValue *b, TirValue *h, TirValue *t0, TirValue *T, TirValue *c0, int width, int nch,
                int thr_lo, int thr_n)
{
    TirOp *op = op_new(p, TIR_ROWMAP);
    op->loc = e->loc;
    TirValue *xs[7] = {dst, buf, b, h, t0, T, c0};
    op_args(op, 7, xs);
    op->la = e;
    op_env(p, op, env, nenv);
    op->ival = width;
    op->ival2 = nch;
    op->thr_lo = thr_lo;
    op->thr_n = thr_n;
}

TirValue *tir_gla_diag(TirProgram *p, TirValue *P, TirValue *q, TirValue *qbuf, TirValue *k, TirValue *kbuf,
                       TirValue *bt, TirValue *btbuf, TirValue *r0, int dk)
{
    TirOp *op = op_new(p, TIR_GLA_DIAG);
    op->res = frag_new(p, TR_ACC, TE_F32, P->rows, P->cols, P->name);
    TirValue *xs[8] = {P, q, qbuf, k, kbuf, bt, r0, btbuf};
    op_args(op, 8, xs);
    op->ival = dk;
    return op->res;
}

TirValue *tir_gla_prep(TirProgram *p, TirValue *bt, TirValue *btbuf, const Expr *decay, TirEnv *env, int nenv,
                       TirValue *b, TirValue *h, TirValue *t0, TirValue *T, TirValue *k, TirValue *kbuf,
                       TirValue *kx, int cols, double lim, int thr_n)
{
    TirOp *op = op_new(p, TIR_GLA_PREP);
    op->loc = decay->loc;
    op->res = value_new(p, TT_BOOL, "steep");
    TirValue *xs[9] = {bt, btbuf, b, h, t0, T, k, kbuf, kx};
    op_args(op, 9, xs);
    op->la = decay;
    op_env(p, op, env, nenv);
    op->ival = cols;
    op->fval = lim;
    op->thr_lo = 0;
    op->thr_n = thr_n;
    return op->res;
}

TirValue *tir_any(TirProgram *p, int rows, int cols, TirValue *row0, TirValue *col0, TirEx *ex)
{
    TirOp *op = op_new(p, TIR_ANY);
    op->res = value_new(p, TT_BOOL, NULL);
    TirValue *xs[2] = {row0, col0};
    op_args(op, 2, xs);
    op->ival = rows;
    op->ival2 = cols;
    op->ex = ex;
    return op->res;
}

static TirValue *value_like(TirProgram *p, const TirValue *x, const char *name)
{
    TirValue *y = value_new(p, x->type, name ? name : x->name);
    y->elem = x->elem;
    y->role = x->role;
    y->rows = x->rows;
    y->cols = x->cols;
    return y;
}

static void region_open(TirProgram *p, TirOp *op, TirBlock *bl)
{
    LAC_ASSERT(p->depth + 1 < (int)(sizeof p->cur / sizeof p->cur[0]));
    p->depth++;
    p->cur[p->depth] = bl;
    p->open[p->depth] = op;
}

TirOp *tir_for_begin(TirProgram *p, TirValue *lo, TirValue *hi, int ncarried, TirValue **inits,
                     const char *iv_name)
{
    TirOp *op = op_new(p, TIR_FOR);
    TirValue *xs[2] = {lo, hi};
    op_args(op, 2, xs);
    op->iv = value_new(p, TT_I32, iv_name);
    op->ncarried = ncarried;
    op->inits = arena_alloc(p->a, sizeof(TirValue *) * (size_t)(ncarried + 1));
    op->carried = arena_alloc(p->a, sizeof(TirValue *) * (size_t)(ncarried + 1));
    op->results = arena_alloc(p->a, sizeof(TirValue *) * (size_t)(ncarried + 1));
    for (int i = 0; i < ncarried; i++) {
        op->inits[i] = inits[i];
        op->carried[i] = value_like(p, inits[i], NULL);
    }
    region_open(p, op, &op->body);
    return op;
}

static void yield(TirProgram *p, int n, TirValue **ys)
{
    if (n == 0) return;
    TirOp *y = op_new(p, TIR_YIELD);
    y->ncarried = n;
    y->carried = arena_alloc(p->a, sizeof(TirValue *) * (size_t)n);
    for (int i = 0; i < n; i++) y->carried[i] = ys[i];
}

void tir_for_end(TirProgram *p, TirValue **yields)
{
    TirOp *op = p->open[p->depth];
    LAC_ASSERT(op && op->kind == TIR_FOR);
    yield(p, op->ncarried, yields);
    p->depth--;
    for (int i = 0; i < op->ncarried; i++) op->results[i] = value_like(p, op->inits[i], NULL);
}

TirOp *tir_if_begin(TirProgram *p, TirValue *cond, int nresults, TirValue **pre)
{
    TirOp *op = op_new(p, TIR_IF);
    op_args(op, 1, &cond);
    op->ncarried = nresults;
    op->inits = arena_alloc(p->a, sizeof(TirValue *) * (size_t)(nresults + 1));
    op->results = arena_alloc(p->a, sizeof(TirValue *) * (size_t)(nresults + 1));
    for (int i = 0; i < nresults; i++) op->inits[i] = pre[i];
    op->ival = 0; /* 1 once the else branch is open */
    region_open(p, op, &op->body);
    return op;
}

void tir_else(TirProgram *p, TirValue **then_yields)
{
    TirOp *op = p->open[p->depth];
    LAC_ASSERT(op && op->kind == TIR_IF && op->ival == 0);
    yield(p, op->ncarried, then_yields);
    op->ival = 1;
    p->cur[p->depth] = &op->orelse;
}

void tir_if_end(TirProgram *p, TirValue **yields)
{
    TirOp *op = p->open[p->depth];
    LAC_ASSERT(op && op->kind == TIR_IF);
    yield(p, op->ncarried, yields);
    if (op->ival == 0 && op->ncarried) {
        /* No else branch: it keeps the values from before the if. */
        p->cur[p->depth] = &op->orelse;
        yield(p, op->ncarried, op->inits);
    }
    p->depth--;
    for (int i = 0; i < op->ncarried; i++) op->results[i] = value_like(p, op->inits[i], NULL);
}

static TirEx *ex_new(TirProgram *p, TirExKind k)
{
    TirEx *e = arena_alloc(p->a, sizeof *e);
    e->kind = k;
    return e;
}

TirEx *tx_x(TirProgram *p) { return ex_new(p, TX_X); }
TirEx *tx_row(TirProgram *p) { return ex_new(p, TX_ROW); }
TirEx *tx_col(TirProgram *p) { return ex_new(p, TX_COL); }

TirEx *tx_const(TirProgram *p, double x)
{
    TirEx *e = ex_new(p, TX_CONST);
    e->num = x;
    return e;
}

TirEx *tx_iconst(TirProgram *p, int x)
{
    TirEx *e = ex_new(p, TX_ICONST);
    e->ival = x;
    return e;
}

TirEx *tx_scalar(TirProgram *p, TirValue *v)
{
    TirEx *e = ex_new(p, TX_SCALAR);
    e->val = v;
    return e;
}

TirEx *tx_vec(TirProgram *p, TirValue *vec, TirValue *buf, TirEx *index)
{
    TirEx *e = ex_new(p, TX_VEC);
    e->val = vec;
    e->buf = buf;
    e->a = index;
    return e;
}

TirEx *tx_mat(TirProgram *p, TirValue *tile, TirValue *buf, TirEx *row, TirEx *col)
{
    TirEx *e = ex_new(p, TX_MAT);
    e->val = tile;
    e->buf = buf;
    e->a = row;
    e->b = col;
    return e;
}

TirEx *tx_slot(TirProgram *p, TirValue *frag, int ntile)
{
    TirEx *e = ex_new(p, TX_SLOT);
    e->val = frag;
    e->ival = ntile;
    return e;
}

TirEx *tx_frag(TirProgram *p, TirValue *frag)
{
    TirEx *e = ex_new(p, TX_FRAG);
    e->val = frag;
    return e;
}

TirEx *tx_bin(TirProgram *p, TirExKind k, TirEx *a, TirEx *b)
{
    TirEx *e = ex_new(p, k);
    e->a = a;
    e->b = b;
    return e;
}

TirEx *tx_un(TirProgram *p, TirExKind k, TirEx *a)
{
    TirEx *e = ex_new(p, k);
    e->a = a;
    return e;
}

TirEx *tx_select(TirProgram *p, TirEx *c, TirEx *a, TirEx *b)
{
    TirEx *e = ex_new(p, TX_SELECT);
    e->a = c;
    e->b = a;
    e->c = b;
    return e;
}

/* ------------------------------------------------------------------------
 * Shared memory layout
 * ------------------------------------------------------------------------ */

static void layout_block(TirBlock *bl, int *off)
{
    for (int i = 0; i < bl->n; i++) {
        TirOp *op = bl->ops[i];
        if (op->kind == TIR_SMEM) {
            TirValue *t = op->res;
            /* rows start on 128-byte lines; swizzled tiles on 1024-byte atoms */
            int align = t->swizzle ? 1024 : 128;
            *off = (*off + align - 1) & ~(align - 1);
            t->offset = *off;
            *off += t->nbuf * elem_planes(t->elem) * t->rows * t->stride * tir_elem_bytes(t->elem);
        }
        layout_block(&op->body, off);
        layout_block(&op->orelse, off);
    }
}

void tir_layout_smem(TirProgram *p)
{
    int off = 0;
    layout_block(&p->top, &off);
    p->smem_bytes = (off + 15) & ~15;
}

/* ------------------------------------------------------------------------
 * Verifier: the invariants lower.c relies on. A failure is a template bug.
 * ------------------------------------------------------------------------ */

typedef struct Verify {
    const TirProgram *p;
    Diags *d;
    bool ok;
} Verify;

static void vfail(Verify *vf, const TirOp *op, const char *what)
{
    if (vf->ok)
        diag_error(vf->d, op->loc, "internal error: invalid tile IR in %s: %s", vf->p->name, what);
    vf->ok = false;
}

static bool is_frag(const TirValue *x, TirRole r) { return x && x->type == TT_FRAG && x->role == r; }

static bool is_i32(const TirValue *x) { return !x || x->type == TT_I32; }

/* The logical shape of an MMA operand. */
static void operand_shape(const TirOperand *o, int *rows, int *cols)
{
    *rows = o->v->rows;
    *cols = o->v->cols;
    if (o->v->type == TT_SMEM) *rows = *cols = -1; /* a view: its extent comes from the MMA */
}

static void verify_operand(Verify *vf, const TirOp *op, const TirOperand *o, TirRole role, int rows,
                           int cols)
{
    if (!o->v) return vfail(vf, op, "an MMA operand is missing");
    if (o->v->type == TT_FRAG) {
        int r, c;
        operand_shape(o, &r, &c);
        if (o->v->role != role) return vfail(vf, op, "an MMA operand fragment has the wrong role");
        if (r != rows || c != cols) return vfail(vf, op, "an MMA operand fragment has the wrong shape");
        if (o->xf) return vfail(vf, op, "a fragment operand cannot have a transform");
        return;
    }
    if (o->v->type != TT_SMEM) return vfail(vf, op, "an MMA operand is neither a fragment nor a tile");
    if (o->v->elem == TE_F32) return vfail(vf, op, "an MMA operand tile is f32 (use split)");
    if (!is_i32(o->buf) || !is_i32(o->row0) || !is_i32(o->col0))
        return vfail(vf, op, "an MMA view origin is not i32");
    /* Stored extent of the view. */
    int sr = o->trans ? cols : rows, sc = o->trans ? rows : cols;
    if (!o->row0 && o->roff + sr > o->v->rows) vfail(vf, op, "an MMA view passes the tile's rows");
    if (!o->col0 && o->coff + sc > o->v->cols) vfail(vf, op, "an MMA view passes the tile's columns");
    if ((o->roff | o->coff) % 8) vfail(vf, op, "an MMA view origin is not a multiple of 8");
    if (o->split && (o->v->elem != TE_BF16 || !o->xf)) vfail(vf, op, "only a transformed bf16 operand splits");
}

static void verify_block(Verify *vf, const TirBlock *bl)
{
    for (int i = 0; i < bl->n; i++) {
        const TirOp *op = bl->ops[i];
        for (int j = 0; j < op->nargs; j++)
            if (op->args[j] && op->args[j]->type == TT_SMEM && op->args[j]->offset < 0)
                vfail(vf, op, "a shared tile has no offset (tir_layout_smem)");
        switch (op->kind) {
        case TIR_SCAN_TOKEN: {
            const TirValue *vec = op->args[0];
            if (op->thr_lo % 32 || op->thr_n % 32 || op->thr_n < 32)
                vfail(vf, op, "a token scan runs on whole warps");
            else if (op->ival == SCAN_PER_WARP && vec->nbuf * 32 < op->thr_lo + op->thr_n)
                vfail(vf, op, "a token scan per warp needs a buffer for every warp it runs on");
            else if (op->ival == SCAN_PER_WARP && op->args[5])
                vfail(vf, op, "a token scan per warp writes its warp's buffer, not a given one");
            for (int e = 0; e < op->nenv; e++) {
                const TirValue *ln = op->env[e].lanes;
                if (ln && (ln->type != TT_LANES || ln->cols * 32 != vec->cols || op->env[e].input->layout != LAYOUT_TOKEN))
                    vfail(vf, op, "a token scan's loaded input is not one token a lane per 32 rows of the chunk");
            }
            break;
        }
        case TIR_LDTOKEN:
            if (op->args[0]->type != TT_GMEM || !op->args[0]->input || op->args[0]->input->layout != LAYOUT_TOKEN)
                vfail(vf, op, "ld.token reads a [B, T, H] input");
            break;
        case TIR_MMA: {
            const TirValue *acc = op->args[0];
            int K = op->ival;
            if (!is_frag(acc, TR_ACC)) vfail(vf, op, "the accumulator is not an ACC fragment");
            else if (acc->rows % 16 || acc->cols % 8 || K % 16) vfail(vf, op, "MMA shapes are not multiples of 16x8x16");
            else {
                verify_operand(vf, op, &op->a, TR_A, acc->rows, K);
                verify_operand(vf, op, &op->b, TR_B, K, acc->cols);
                bool split = op->a.v->elem == TE_SPLIT || op->b.v->elem == TE_SPLIT;
                TirElem ea = op->a.v->elem, eb = op->b.v->elem;
                if (!split && ea != eb) vfail(vf, op, "the MMA operands have different types");
                if (split && ((ea != TE_SPLIT && ea != TE_BF16) || (eb != TE_SPLIT && eb != TE_BF16)))
                    vfail(vf, op, "a split MMA operand meets an f16 one");
                if (op->wg) {
                    const TirOperand *a = &op->a, *b = &op->b;
                    /* A: a fragment, a swizzled tile as it is (a descriptor), or a
                     * view each warp loads with ldmatrix (transposed, transformed). */
                    /* A split fragment (hi and lo) is two products. */
                    bool a_ok = a->v->type == TT_FRAG || (!a->split && (a->trans || a->xf || a->v->swizzle));
                    bool afrag_split = a->v->type == TT_FRAG && ea == TE_SPLIT;
                    if (acc->rows != 16 || acc->cols > 256) vfail(vf, op, "a warpgroup MMA is not 16 rows a warp, <= 256 columns");
                    if ((split && !(afrag_split && eb == TE_BF16)) || (!split && ea != TE_BF16 && ea != TE_F16))
                        vfail(vf, op, "a warpgroup MMA needs bf16 or f16 operands");
                    if (!a_ok) vfail(vf, op, "a warpgroup MMA's A is a split view, or a plain tile that is not swizzled");
                    if (b->v->type != TT_SMEM || !b->v->swizzle || b->xf || b->split)
                        vfail(vf, op, "a warpgroup MMA's B is not a swizzled tile as it is");
                }
            }
            if (!is_i32(op->args[1]) || !is_i32(op->args[2])) vfail(vf, op, "an MMA limit is not i32");
            break;
        }
        case TIR_LDA: {
            const TirOperand *a = &op->a;
            if (!is_frag(op->res, TR_A) || op->res->rows % 16 || op->ival % 16) vfail(vf, op, "lda makes an A fragment of 16x16 blocks");
            else if (!a->v || a->v->type != TT_SMEM) vfail(vf, op, "lda loads a view of a shared tile");
            else verify_operand(vf, op, a, TR_A, op->res->rows, op->ival);
            break;
        }
        case TIR_GLA_PREP: {
            const TirValue *bt = op->args[0], *k = op->args[6], *kx = op->args[8];
            int cols = op->ival, ncp = cols / 2, grp = ncp > 0 ? op->thr_n / ncp : 0;
            if (bt->type != TT_SMEM || bt->elem != TE_F32 || k->type != TT_SMEM || k->elem != TE_BF16 ||
                kx->type != TT_SMEM || kx->elem != TE_BF16 || kx->nbuf != 1)
                vfail(vf, op, "gla.prep reads an f32 decay tile and bf16 keys into one bf16 buffer");
            else if (cols % 16 || cols > bt->cols || cols > k->cols || cols > kx->cols || bt->rows != kx->rows ||
                     k->rows != kx->rows)
                vfail(vf, op, "gla.prep's columns pass its tiles");
            else if (op->thr_n != vf->p->threads || grp * ncp != op->thr_n || grp > 32 || (grp & (grp - 1)) ||
                     bt->rows % grp)
                vfail(vf, op, "gla.prep needs every thread of the CTA, a power of two of them to a column pair");
            break;
        }
        case TIR_BARRIER:
            if (op->nargs && (op->args[0]->type != TT_BOOL || !op->res)) vfail(vf, op, "barrier.any takes a bool");
            break;
        case TIR_ZERO: case TIR_LDSTATE:
            if (op->res->rows % 16 || op->res->cols % 8) vfail(vf, op, "an ACC fragment is not 16x8 tiles");
            break;
        case TIR_MAP:
            if (!is_frag(op->args[0], TR_ACC)) vfail(vf, op, "map of a non-ACC fragment");
            break;
        case TIR_TOA:
            if (!is_frag(op->args[0], TR_ACC) || op->args[0]->cols % 16) vfail(vf, op, "toa needs an ACC fragment of 16-wide tiles");
            break;
        case TIR_DTAB:
            if (op->args[0]->type != TT_SMEM || op->args[0]->elem != TE_F32 || op->args[0]->rows != 1 ||
                op->args[0]->nbuf != 1 || op->args[1]->type != TT_F32)
                vfail(vf, op, "a decay table is one f32 row of shared memory and an f32 scalar");
            break;
        case TIR_CAT:
            if (!is_frag(op->args[0], TR_ACC) || !is_frag(op->args[1], TR_ACC) || op->args[0]->rows != op->args[1]->rows)
                vfail(vf, op, "cat needs two ACC fragments of the same rows");
            break;
        case TIR_COLS:
            if (!is_frag(op->args[0], TR_ACC) || op->ival % 8 || op->ival2 % 8 || op->ival2 <= 0 ||
                op->ival + op->ival2 > op->args[0]->cols)
                vfail(vf, op, "cols is not whole 8-column tiles inside its ACC fragment");
            break;
        case TIR_STS:
            if (!is_frag(op->args[0], TR_ACC) || op->args[1]->type != TT_SMEM) vfail(vf, op, "sts operands");
            break;
        case TIR_STG:
            if (!is_frag(op->args[0], TR_ACC) || op->args[1]->type != TT_GMEM || op->args[7]->type != TT_SMEM)
                vfail(vf, op, "stg operands");
            else if (op->args[7]->rows != 16 || op->args[7]->cols < op->ival) vfail(vf, op, "stg staging tile is not 16 rows wide enough");
            break;
        case TIR_COPY:
            if (op->args[0]->type != TT_SMEM || op->args[2]->type != TT_GMEM) vfail(vf, op, "copy operands");
            else if (op->ival3 + op->ival > op->args[0]->rows || op->ival2 > op->args[0]->cols) vfail(vf, op, "copy passes the tile");
            else if (op->args[0]->elem != op->args[2]->gelem) vfail(vf, op, "copy changes the element type");
            if (op->thr_n <= 0 || op->thr_lo < 0 || op->thr_lo + op->thr_n > vf->p->threads)
                vfail(vf, op, "copy threads out of range");
            break;
        case TIR_FOR:
            for (int j = 0; j < op->ncarried; j++)
                if (!op->inits[j] || !op->carried[j] || !op->results[j]) vfail(vf, op, "a carried value is missing");
            if (op->ncarried && (op->body.n == 0 || op->body.ops[op->body.n - 1]->kind != TIR_YIELD))
                vfail(vf, op, "a for with carried values does not end in yield");
            verify_block(vf, &op->body);
            break;
        case TIR_IF:
            if (op->args[0]->type != TT_BOOL) vfail(vf, op, "an if condition is not bool");
            verify_block(vf, &op->body);
            verify_block(vf, &op->orelse);
            break;
        default: break;
        }
    }
}

bool tir_verify(const TirProgram *p, Diags *d)
{
    Verify vf = {p, d, true};
    if (p->depth != 0) {
        diag_error(d, p->loc, "internal error: %s has an open region", p->name);
        return false;
    }
    verify_block(&vf, &p->top);
    return vf.ok;
}

/* ------------------------------------------------------------------------
 * Printer
 * ------------------------------------------------------------------------ */

static void pval(StrBuf *b, const TirValue *x)
{
    if (!x) {
        strbuf_puts(b, "_");
        return;
    }
    if (x->is_const) {
        if (x->type == TT_I32) strbuf_printf(b, "%d", (int)x->cval);
        else strbuf_printf(b, "%.9g", x->cval);
        return;
    }
    if (x->name) strbuf_printf(b, "%%%s.%d", x->name, x->id);
    else strbuf_printf(b, "%%%d", x->id);
}

static void ptype(StrBuf *b, const TirValue *x)
{
    switch (x->type) {
    case TT_I32: strbuf_puts(b, "i32"); break;
    case TT_F32: strbuf_puts(b, "f32"); break;
    case TT_BOOL: strbuf_puts(b, "bool"); break;
    case TT_SMEM:
        if (x->swizzle)
            strbuf_printf(b, "smem<%s %dx%dx%d swizzle %d @%d>", tir_elem_name(x->elem), x->nbuf, x->rows,
                          x->cols, x->swizzle, x->offset);
        else
            strbuf_printf(b, "smem<%s %dx%dx%d stride %d @%d>", tir_elem_name(x->elem), x->nbuf, x->rows,
                          x->cols, x->stride, x->offset);
        break;
    case TT_FRAG: {
        static const char *const roles[] = {"acc", "a", "b"};
        strbuf_printf(b, "frag<%s %s %dx%d>", tir_elem_name(x->elem), roles[x->role], x->rows, x->cols);
        break;
    }
    case TT_GMEM:
        strbuf_printf(b, "%s %s%s", tir_elem_name(x->gelem), x->shape, x->optional ? " or null" : "");
        break;
    case TT_LANES: strbuf_printf(b, "lanes<f32 x%d>", x->cols); break;
    }
}

static void pdef(StrBuf *b, const TirValue *x)
{
    pval(b, x);
    strbuf_puts(b, ": ");
    ptype(b, x);
}

/* "[%buf]" after a tile, when the view names a buffer. */
static void pbuf(StrBuf *b, const TirValue *buf)
{
    if (!buf) return;
    strbuf_puts(b, "[");
    pval(b, buf);
    strbuf_puts(b, "]");
}

static void pex(StrBuf *b, const TirEx *e)
{
    static const char *const names[] = {
        [TX_ADD] = "+", [TX_SUB] = "-", [TX_MUL] = "*", [TX_DIV] = "/", [TX_MAX] = "max", [TX_MIN] = "min",
        [TX_NEG] = "neg", [TX_EXP] = "exp", [TX_EXP2] = "exp2", [TX_IADD] = "i+", [TX_ISUB] = "i-", [TX_ILE] = "i<=", [TX_ILT] = "i<",
        [TX_FGT] = ">", [TX_AND] = "and", [TX_OR] = "or", [TX_SELECT] = "select"};
    switch (e->kind) {
    case TX_X: strbuf_puts(b, "x"); return;
    case TX_ROW: strbuf_puts(b, "row"); return;
    case TX_COL: strbuf_puts(b, "col"); return;
    case TX_CONST: strbuf_printf(b, "%.9g", e->num); return;
    case TX_ICONST: strbuf_printf(b, "%d", e->ival); return;
    case TX_SCALAR: pval(b, e->val); return;
    case TX_VEC:
        strbuf_puts(b, "(vec ");
        pval(b, e->val);
        pbuf(b, e->buf);
        strbuf_puts(b, " ");
        pex(b, e->a);
        strbuf_puts(b, ")");
        return;
    case TX_MAT:
        strbuf_puts(b, "(mat ");
        pval(b, e->val);
        pbuf(b, e->buf);
        strbuf_puts(b, " ");
        pex(b, e->a);
        strbuf_puts(b, " ");
        pex(b, e->b);
        strbuf_puts(b, ")");
        return;
    case TX_SLOT:
        strbuf_puts(b, "(slot ");
        pval(b, e->val);
        strbuf_printf(b, " %d)", e->ival);
        return;
    case TX_FRAG:
        strbuf_puts(b, "(at ");
        pval(b, e->val);
        strbuf_puts(b, ")");
        return;
    default: break;
    }
    strbuf_printf(b, "(%s ", names[e->kind]);
    pex(b, e->a);
    if (e->b) {
        strbuf_puts(b, " ");
        pex(b, e->b);
    }
    if (e->c) {
        strbuf_puts(b, " ");
        pex(b, e->c);
    }
    strbuf_puts(b, ")");
}

/* "%v + 8" or "8" */
static void porigin(StrBuf *b, const TirValue *v, int off)
{
    if (v) {
        pval(b, v);
        if (off) strbuf_printf(b, "+%d", off);
    } else {
        strbuf_printf(b, "%d", off);
    }
}

static void poperand(StrBuf *b, const TirOperand *o, int rows, int cols)
{
    pval(b, o->v);
    if (o->v->type == TT_SMEM) {
        pbuf(b, o->buf);
        int sr = o->trans ? cols : rows, sc = o->trans ? rows : cols;
        strbuf_puts(b, "(");
        porigin(b, o->row0, o->roff);
        strbuf_puts(b, ", ");
        porigin(b, o->col0, o->coff);
        strbuf_printf(b, ") %dx%d%s", sr, sc, o->trans ? " T" : "");
    }
    if (o->xf) {
        strbuf_puts(b, " xf ");
        pex(b, o->xf);
    }
    if (o->split) strbuf_puts(b, " split");
}

static void penv(StrBuf *b, const TirOp *op)
{
    for (int i = 0; i < op->nenv; i++) {
        strbuf_printf(b, "%s%s=", i ? ", " : " env(", op->env[i].input->name);
        if (op->env[i].tile) {
            pval(b, op->env[i].tile);
            pbuf(b, op->env[i].buf);
        } else if (op->env[i].lanes) {
            pval(b, op->env[i].lanes);
        } else {
            pval(b, op->env[i].gmem);
        }
    }
    if (op->nenv) strbuf_puts(b, ")");
}

static void pexpr_la(StrBuf *b, const Expr *e);

/* "DST[buf] <- cumsum EXPR env(...)": what a scan of op's decay writes. */
static void pcumsum(StrBuf *b, const TirOp *op, const TirValue *dst, const TirValue *buf)
{
    pval(b, dst);
    pbuf(b, buf);
    strbuf_puts(b, " <- cumsum ");
    pexpr_la(b, op->la);
    penv(b, op);
}

/* " t=T0+r < T": the chunk's tokens. */
static void ptokens(StrBuf *b, const TirValue *t0, const TirValue *T)
{
    strbuf_puts(b, " t=");
    pval(b, t0);
    strbuf_puts(b, "+r < ");
    pval(b, T);
}

static void pexpr_la(StrBuf *b, const Expr *e)
{
    StrBuf t;
    strbuf_init(&t);
    expr_dump(e, &t);
    /* expr_dump ends with a newline */
    while (t.len && t.data[t.len - 1] == '\n') t.data[--t.len] = 0;
    strbuf_puts(b, t.data);
    strbuf_free(&t);
}

static const char *binop_name(int k)
{
    static const char *const s[] = {"add", "sub", "mul", "div", "rem", "min", "max",
                                    "lt", "le", "eq", "ne", "and"};
    return s[k];
}

static void pargs(StrBuf *b, const TirOp *op, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (i > from) strbuf_puts(b, ", ");
        pval(b, op->args[i]);
    }
}

static void pblock(StrBuf *b, const TirBlock *bl, int ind);

static void indent(StrBuf *b, int ind)
{
    for (int i = 0; i < ind; i++) strbuf_puts(b, "  ");
}

static void pop(StrBuf *b, const TirOp *op, int ind)
{
    indent(b, ind);
    switch (op->kind) {
    case TIR_SREG:
        pdef(b, op->res);
        strbuf_printf(b, " = sreg %s", op->sval);
        break;
    case TIR_BIN:
        pdef(b, op->res);
        strbuf_printf(b, " = %s ", binop_name(op->ival));
        pargs(b, op, 0, 2);
        break;
    case TIR_LA_SCALAR:
        pdef(b, op->res);
        strbuf_puts(b, " = la.scalar ");
        pexpr_la(b, op->la);
        penv(b, op);
        strbuf_puts(b, " at b=");
        pval(b, op->args[0]);
        strbuf_puts(b, " h=");
        pval(b, op->args[1]);
        break;
    case TIR_SMEM:
        pdef(b, op->res);
        strbuf_puts(b, " = smem");
        break;
    case TIR_FILL:
        strbuf_puts(b, "fill ");
        pval(b, op->args[0]);
        strbuf_printf(b, "[*][*, %d:%d] = %g", op->ival, op->ival2, op->fval);
        break;
    case TIR_COPY:
        strbuf_puts(b, "copy.async ");
        pval(b, op->args[0]);
        strbuf_puts(b, "[");
        pval(b, op->args[1]);
        strbuf_printf(b, "][%d:%d, 0:%d] <- ", op->ival3, op->ival3 + op->ival, op->ival2);
        pval(b, op->args[2]);
        strbuf_puts(b, "[b=");
        pval(b, op->args[3]);
        strbuf_puts(b, ", t=");
        pval(b, op->args[4]);
        strbuf_puts(b, "+r, h=");
        pval(b, op->args[5]);
        strbuf_puts(b, ", c=");
        porigin(b, op->args[6], 0);
        strbuf_puts(b, "+c] rows < ");
        pval(b, op->args[7]);
        strbuf_printf(b, " threads %d+%d", op->thr_lo, op->thr_n);
        break;
    case TIR_COMMIT: strbuf_puts(b, "copy.commit"); break;
    case TIR_WAIT: strbuf_printf(b, "copy.wait %d", op->ival); break;
    case TIR_BARRIER:
        if (op->res) {
            pdef(b, op->res);
            strbuf_puts(b, " = barrier.any ");
            pval(b, op->args[0]);
        } else {
            strbuf_puts(b, "barrier");
        }
        break;
    case TIR_LDA:
        pdef(b, op->res);
        strbuf_puts(b, " = lda ");
        poperand(b, &op->a, op->res->rows, op->ival);
        break;
    case TIR_GLA_PREP:
        pdef(b, op->res);
        strbuf_puts(b, " = gla.prep ");
        pcumsum(b, op, op->args[0], op->args[1]);
        strbuf_puts(b, ", ");
        pval(b, op->args[8]);
        strbuf_puts(b, " <- ");
        pval(b, op->args[6]);
        pbuf(b, op->args[7]);
        strbuf_puts(b, " * exp(-B)");
        ptokens(b, op->args[4], op->args[5]);
        strbuf_printf(b, " cols %d |B| > %g threads %d", op->ival, op->fval, op->thr_n);
        break;
    case TIR_ZERO:
        pdef(b, op->res);
        strbuf_puts(b, " = zero");
        break;
    case TIR_MMA:
        pdef(b, op->res);
        strbuf_puts(b, op->wg ? " = mma.wg " : " = mma ");
        pval(b, op->args[0]);
        strbuf_puts(b, " + A ");
        poperand(b, &op->a, op->args[0]->rows, op->ival);
        strbuf_puts(b, " * B ");
        poperand(b, &op->b, op->ival, op->args[0]->cols);
        if (op->args[1]) {
            strbuf_puts(b, " ncols < ");
            pval(b, op->args[1]);
        }
        if (op->args[2]) {
            strbuf_puts(b, " k < ");
            pval(b, op->args[2]);
        }
        break;
    case TIR_MAP:
        pdef(b, op->res);
        strbuf_puts(b, " = map ");
        pval(b, op->args[0]);
        strbuf_puts(b, " at (");
        porigin(b, op->args[1], op->ival);
        strbuf_puts(b, ", ");
        porigin(b, op->args[2], op->ival2);
        strbuf_puts(b, ") ");
        pex(b, op->ex);
        break;
    case TIR_TOA:
        pdef(b, op->res);
        strbuf_puts(b, " = toa ");
        pval(b, op->args[0]);
        break;
    case TIR_DTAB:
        strbuf_puts(b, "dtab ");
        pval(b, op->args[0]);
        strbuf_printf(b, "[i] = i >= %d ? exp((i - %d) * ", op->ival, op->ival);
        pval(b, op->args[1]);
        strbuf_puts(b, ") : 0");
        break;
    case TIR_CAT:
        pdef(b, op->res);
        strbuf_puts(b, " = cat ");
        pval(b, op->args[0]);
        strbuf_puts(b, ", ");
        pval(b, op->args[1]);
        break;
    case TIR_COLS:
        pdef(b, op->res);
        strbuf_puts(b, " = cols ");
        pval(b, op->args[0]);
        strbuf_printf(b, " [%d, %d)", op->ival, op->ival + op->ival2);
        break;
    case TIR_STS:
        strbuf_puts(b, "sts ");
        pval(b, op->args[1]);
        strbuf_puts(b, "[");
        pval(b, op->args[2]);
        strbuf_puts(b, "](");
        porigin(b, op->args[3], op->ival);
        strbuf_puts(b, ", ");
        porigin(b, op->args[4], op->ival2);
        strbuf_puts(b, ") <- ");
        pval(b, op->args[0]);
        break;
    case TIR_STG:
        strbuf_puts(b, "stg ");
        pval(b, op->args[1]);
        strbuf_puts(b, "[b=");
        pval(b, op->args[2]);
        strbuf_puts(b, ", t=");
        pval(b, op->args[3]);
        strbuf_puts(b, "+r, h=");
        pval(b, op->args[4]);
        strbuf_puts(b, ", c=");
        pval(b, op->args[5]);
        strbuf_printf(b, "+c] <- ");
        pval(b, op->args[0]);
        strbuf_printf(b, "[*, 0:%d] rows < ", op->ival);
        pval(b, op->args[6]);
        strbuf_puts(b, " via ");
        pval(b, op->args[7]);
        strbuf_puts(b, "[");
        pval(b, op->args[8]);
        strbuf_puts(b, "]");
        break;
    case TIR_LDSTATE: case TIR_STSTATE: {
        bool ld = op->kind == TIR_LDSTATE;
        if (ld) {
            pdef(b, op->res);
            strbuf_puts(b, op->ival3 ? " = ldvec " : " = ldstate ");
        } else {
            strbuf_puts(b, op->ival3 ? "stvec " : "ststate ");
        }
        pval(b, op->args[ld ? 0 : 1]);
        strbuf_puts(b, "[");
        pval(b, op->args[ld ? 1 : 2]);
        strbuf_printf(b, " * %d + %d](", op->rec, op->rec_base);
        porigin(b, op->args[ld ? 2 : 3], op->ival);
        strbuf_puts(b, ", ");
        porigin(b, op->args[ld ? 3 : 4], op->ival2);
        strbuf_printf(b, ") of %dx%d", op->lim_rows, op->ld);
        if (!ld) {
            strbuf_puts(b, " <- ");
            pval(b, op->args[0]);
            strbuf_printf(b, "[*, 0:%d]", op->ival4);
        }
        break;
    }
    case TIR_LDTOKEN:
        pdef(b, op->res);
        strbuf_puts(b, " = ld.token ");
        pval(b, op->args[0]);
        strbuf_puts(b, "[");
        pval(b, op->args[1]);
        strbuf_puts(b, ", ");
        pval(b, op->args[3]);
        strbuf_printf(b, " + %d lane + q, ", op->res->cols);
        pval(b, op->args[2]);
        strbuf_puts(b, "] t < ");
        pval(b, op->args[4]);
        break;
    case TIR_SCAN_TOKEN: case TIR_SCAN_KEY:
        strbuf_puts(b, op->kind == TIR_SCAN_TOKEN ? "scan.token " : "scan.key ");
        pcumsum(b, op, op->args[0], op->args[5]);
        ptokens(b, op->args[3], op->args[4]);
        if (op->kind == TIR_SCAN_KEY) strbuf_printf(b, " cols %d", op->ival);
        strbuf_printf(b, " threads %d+%d", op->thr_lo, op->thr_n);
        if (op->kind == TIR_SCAN_TOKEN && op->ival == SCAN_PER_WARP) strbuf_puts(b, " per warp");
        if (op->kind == TIR_SCAN_TOKEN && op->ival == SCAN_ALL_WARPS) strbuf_puts(b, " all warps");
        if (op->kind == TIR_SCAN_TOKEN && op->ival2) strbuf_puts(b, " log2");
        break;
    case TIR_ROWMAP:
        strbuf_puts(b, "rowmap ");
        pval(b, op->args[0]);
        strbuf_puts(b, "[");
        pval(b, op->args[1]);
        strbuf_puts(b, "] <- ");
        pexpr_la(b, op->la);
        penv(b, op);
        strbuf_puts(b, " t=");
        pval(b, op->args[4]);
        strbuf_puts(b, "+r < ");
        pval(b, op->args[5]);
        strbuf_printf(b, " cols %d", op->ival);
        if (op->args[6]) {
            strbuf_puts(b, " c=");
            pval(b, op->args[6]);
            strbuf_puts(b, "+c");
        }
        strbuf_printf(b, " < %d", op->ival2);
        strbuf_printf(b, " threads %d+%d", op->thr_lo, op->thr_n);
        break;
    case TIR_ANY:
        pdef(b, op->res);
        strbuf_printf(b, " = any %dx%d at (", op->ival, op->ival2);
        porigin(b, op->args[0], 0);
        strbuf_puts(b, ", ");
        porigin(b, op->args[1], 0);
        strbuf_puts(b, ") ");
        pex(b, op->ex);
        break;
    case TIR_GLA_DIAG:
        pdef(b, op->res);
        strbuf_puts(b, " = gla.diag ");
        pval(b, op->args[0]);
        strbuf_puts(b, " q ");
        pval(b, op->args[1]);
        strbuf_puts(b, "[");
        pval(b, op->args[2]);
        strbuf_puts(b, "] k ");
        pval(b, op->args[3]);
        strbuf_puts(b, "[");
        pval(b, op->args[4]);
        strbuf_puts(b, "] B ");
        pval(b, op->args[5]);
        pbuf(b, op->args[7]);
        strbuf_puts(b, " rows ");
        pval(b, op->args[6]);
        strbuf_printf(b, "+16 k < %d", op->ival);
        break;
    case TIR_FOR:
        strbuf_puts(b, "for ");
        pdef(b, op->iv);
        strbuf_puts(b, " = ");
        pval(b, op->args[0]);
        strbuf_puts(b, " to ");
        pval(b, op->args[1]);
        for (int i = 0; i < op->ncarried; i++) {
            strbuf_puts(b, i ? ", " : " carry ");
            pdef(b, op->carried[i]);
            strbuf_puts(b, " = ");
            pval(b, op->inits[i]);
        }
        strbuf_printf(b, " {  @%d:%d\n", op->loc.line, op->loc.col);
        pblock(b, &op->body, ind + 1);
        indent(b, ind);
        strbuf_puts(b, "}");
        for (int i = 0; i < op->ncarried; i++) {
            strbuf_puts(b, i ? ", " : " -> ");
            pval(b, op->results[i]);
        }
        strbuf_puts(b, "\n");
        return;
    case TIR_IF:
        strbuf_puts(b, "if ");
        pval(b, op->args[0]);
        strbuf_printf(b, " {  @%d:%d\n", op->loc.line, op->loc.col);
        pblock(b, &op->body, ind + 1);
        if (op->orelse.n) {
            indent(b, ind);
            strbuf_puts(b, "} else {\n");
            pblock(b, &op->orelse, ind + 1);
        }
        indent(b, ind);
        strbuf_puts(b, "}");
        for (int i = 0; i < op->ncarried; i++) {
            strbuf_puts(b, i ? ", " : " -> ");
            pdef(b, op->results[i]);
        }
        strbuf_puts(b, "\n");
        return;
    case TIR_YIELD:
        strbuf_puts(b, "yield");
        for (int i = 0; i < op->ncarried; i++) {
            strbuf_puts(b, i ? ", " : " ");
            pval(b, op->carried[i]);
        }
        break;
    }
    strbuf_printf(b, "  @%d:%d\n", op->loc.line, op->loc.col);
}

static void pblock(StrBuf *b, const TirBlock *bl, int ind)
{
    for (int i = 0; i < bl->n; i++) pop(b, bl->ops[i], ind);
}

void tir_print(const TirProgram *p, StrBuf *b)
{
    strbuf_printf(b, "kernel %s: %d threads, %d bytes of shared memory\n", p->name, p->threads, p->smem_bytes);
    for (int i = 0; i < p->nparams; i++) {
        strbuf_puts(b, "  param ");
        pdef(b, p->params[i]);
        strbuf_puts(b, "\n");
    }
    pblock(b, &p->top, 1);
}
