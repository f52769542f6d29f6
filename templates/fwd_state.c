/*
 * fwd_state.c: the chunked forward as a tile program (docs/design.md
 * section 8; shared/reference algorithms.md sections 2 and 3).
 *
 * One CTA per (value block, batch x head[, segment]) walks its tokens in
 * chunks of C = 64. Its warps have two roles that work on the same chunk at
 * the same time:
 *
 *   output warps (role A)  O = diag(e^b) Q S_prev + (Q K^T * e^(b_i - b_j) * [j <= i]) V
 *   state warps  (role B)  S = e^b_last S_prev + (K * e^(b_last - b_j))^T V
 *
 * (b: the inclusive cumulative log decay inside the chunk, a scalar per
 * token or a vector per key channel). Both read S_prev from a bf16 copy in
 * shared memory that role B double-buffers, so a chunk costs the longer of
 * the two parts, not their sum; the fp32 state lives in role B's mma
 * accumulators for the whole sequence and is never written to global
 * memory except as the final state. Every exponent is <= 0 except on the
 * diagonal 16 x 16 blocks of per-key decays, where the factorization uses
 * the row before the block as its reference (algorithms.md 2) and falls
 * back to an exact elementwise block when the gates of 16 tokens pass
 * e^-60.
 *
 * Loads: every token input the variant reads arrives by cp.async into a
 * ring of `stages` buffers, half of the rows issued by each role. Inputs
 * used as they are (q, k, v of the operand type) are the mma operands
 * themselves; feature maps, value maps and f32 inputs go through a row map
 * into single-buffered operand tiles. A normalized variant appends 8
 * columns of ones to V: the same products then give q.z and the row sums,
 * and the state's extra columns are z.
 *
 * The same program, with the kind FWD_SPLIT_STATE (state warps only,
 * writing each segment's state and total decay) and FWD_SPLIT_OUT (the
 * states of the earlier segments combined first), is the sequence split
 * for small B x H. Everything this template does not support yet gets a
 * located error in fwd_supported.
 */
#include <math.h>
#include <string.h>

#include "lac_internal.h"

enum { MAX_STAGED = 32, STATE_FLOATS_MAX = 96 };
/* Above this, the diagonal block of a per-key decay is computed exactly
 * (e^60 is far inside the range of bf16 and fp32). */
#define GLA_CLAMP 60.0
/* GLA's fast form takes a chunk in the reference of its start (q e^B and
 * k e^-B) while every |B| of the chunk is at most this: e^-60 |q| and
 * e^60 |k| are normal numbers of bf16 and fp32 with room to spare. */
#define GLA_FAST_LIM 60.0

/* An input staged in shared memory per chunk. */
typedef struct Staged {
    const Symbol *input;
    TirValue *tile;
    bool vblock; /* only the value block's columns [v0, v0 + BV) */
    int cols;    /* copied columns */
} Staged;

typedef struct Fwd {
    TirProgram *p;
    const Variant *v;
    const KernelConfig *kc;
    FwdKind kind;
    Diags *d;
    int C, dk, dkp, dv, BV, NS, W, WA, WB, nmt;
    bool norm;
    TirElem op; /* the mma operand type */
    DType io;   /* the dtype of o */
    /* parameters */
    TirValue **in, *o, *s0, *sfin, *z0, *zfin, *B, *T, *H, *ws, *seglen;
    /* scalars of the whole kernel */
    TirValue *tid, *warp, *b, *h, *bh, *v0, *c_lo, *c_hi, *seg, *nseg, *nout, *grp, *scale;
    /* shared memory */
    Staged st[MAX_STAGED];
    int nst;
    TirValue *Qop, *Kop, *Vop;   /* mma operand tiles */
    bool qring, kring, vring;    /* the operand tile is a staged ring (else one buffer) */
    bool wg;                     /* both roles are warpgroups (mma.wg, swizzled tiles) */
    /* GLA's fast form (wg with a per-key decay): Kx holds k e^-B of the
     * chunk (gla.prep), and steep (set by chunk_top) is true for a chunk
     * that takes the sub-chunk form instead. */
    bool pkwg;
    TirValue *Kx, *steep;
    const Symbol *qin, *kin, *vin;
    TirValue *bvec, *Bt, *Scopy, *ostage;
    bool bvec_own; /* bvec: a copy per warp, each warp scans its own */
    /* A per-token decay scanned a chunk ahead (scan_ahead_*): bvec has two
     * buffers, chunk i's in buffer bplane = i % 2 (set by chunk_top). */
    bool ahead;
    TirValue *bplane;
    /* A per-head decay's table (tir_decay_table, offset C - 1) in place of
     * bvec, and in the state loop tab[n + C - 1] for the chunk's n tokens. */
    TirValue *dtab, *tab_last;
    /* Bt is the ring of the per-key decay's one input, scanned in place;
     * Bbuf is then the current chunk's buffer (chunk_top), else NULL. */
    bool bt_ring;
    TirValue *Bbuf;
    int rec; /* floats per (bh, segment) record of the split workspace */
} Fwd;

#define P_ (f->p)

static TirValue *ci(Fwd *f, int x) { return tir_i32(P_, x); }
static TirValue *bin(Fwd *f, TirBinOp op, TirValue *x, TirValue *y) { return tir_bin(P_, op, x, y, NULL); }
static TirValue *bini(Fwd *f, TirBinOp op, TirValue *x, int y) { return tir_bin(P_, op, x, ci(f, y), NULL); }

static TirElem elem_of(DType t) { return t == DT_BF16 ? TE_BF16 : t == DT_F16 ? TE_F16 : TE_F32; }

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* ------------------------------------------------------------------------
 * What the template supports
 * ------------------------------------------------------------------------ */

/* Every input an expression reads, through lets. */
static void inputs_read(const Expr *e, bool *used)
{
    if (!e) return;
    switch (e->kind) {
    case EX_NAME:
        if (e->sym && e->sym->kind == SYM_INPUT) used[e->sym->index] = true;
        if (e->sym && e->sym->kind == SYM_LET) inputs_read(e->sym->expr, used);
        return;
    case EX_NEG: inputs_read(e->lhs, used); return;
    case EX_BIN:
        inputs_read(e->lhs, used);
        inputs_read(e->rhs, used);
        return;
    case EX_CALL:
        for (int i = 0; i < e->nargs; i++) inputs_read(e->args[i], used);
        return;
    default: return;
    }
}

/* The one input e reads, or NULL (none, or more than one). */
static const Symbol *single_input(const Variant *v, const Expr *e)
{
    bool used[1024] = {0};
    inputs_read(e, used);
    const Symbol *y = NULL;
    for (int i = 0; i < v->ninputs; i++) {
        if (!used[i]) continue;
        if (y) return NULL;
        y = v->inputs[i];
    }
    return y;
}

/* Is channel j of e a function of channel j of its token-vector inputs and
 * of scalars only (so it can be computed for one value block)? */
static bool elementwise(const Expr *e)
{
    switch (e->kind) {
    case EX_NUM: return true;
    case EX_NAME:
        if (e->sym && e->sym->kind == SYM_LET) return elementwise(e->sym->expr);
        if (e->sym && e->sym->kind == SYM_INPUT)
            return e->sym->layout == LAYOUT_TOKEN_VEC || e->sym->layout == LAYOUT_TOKEN ||
                   e->sym->layout == LAYOUT_HEAD;
        return true;
    case EX_NEG: return elementwise(e->lhs);
    case EX_BIN: return e->op != OP_MATMUL && elementwise(e->lhs) && elementwise(e->rhs);
    case EX_CALL:
        switch (e->fn) {
        case BI_CONCAT: case BI_OUTER: case BI_SOFTMAX: return false;
        case BI_SUM: case BI_MAX: case BI_MIN: case BI_MEAN: return e->args[0]->type.cols == 1 && elementwise(e->args[0]);
        case BI_ONES: return true;
        default:
            for (int i = 0; i < e->nargs; i++)
                if (!elementwise(e->args[i])) return false;
            return true;
        }
    default: return false;
    }
}

/* The input an expression is, if it is one input read as it is. */
static const Symbol *direct_input(const Expr *e)
{
    if (e->kind == EX_NAME && e->sym && e->sym->kind == SYM_INPUT && e->sym->layout == LAYOUT_TOKEN_VEC)
        return e->sym;
    return NULL;
}

/* The dtype of o: the dtype of the first token-vector input the value reads. */
DType fwd_io_dtype(const Variant *v)
{
    bool used[1024] = {0};
    inputs_read(v->value, used);
    for (int i = 0; i < v->ninputs && i < 1024; i++)
        if (used[i] && v->inputs[i]->layout == LAYOUT_TOKEN_VEC) return v->inputs[i]->dtype;
    for (int i = 0; i < v->ninputs; i++)
        if (v->inputs[i]->layout == LAYOUT_TOKEN_VEC) return v->inputs[i]->dtype;
    return DT_BF16;
}

static bool fwd_supported(const Variant *v, const KernelConfig *kc, Diags *d)
{
    bool ok = true;
    if (v->ninputs > 1000) {
        diag_error(d, v->loc, "the code generator supports at most 1000 inputs");
        return false;
    }
    if (!v->causal) {
        diag_error(d, v->loc, "the code generator does not support 'mask none' yet (the two-pass "
                              "non-causal form comes with the backward)");
        ok = false;
    }
    if (v->dk > 512) {
        diag_error(d, v->query->loc, "the code generator supports up to 512 key features; the query has %d",
                   v->dk);
        ok = false;
    }
    if (v->dv > 1024) {
        diag_error(d, v->value->loc, "the code generator supports up to 1024 value channels; the value has %d",
                   v->dv);
        ok = false;
    }
    if (!elementwise(v->value)) {
        diag_error(d, v->value->loc, "the code generator needs each value channel to depend on the same "
                                     "channel of its inputs (no concat, outer, softmax or '@' in the value) "
                                     "so that a thread block can compute its value block alone");
        ok = false;
    }
    if (v->decay == DECAY_PER_KEY && !elementwise(v->decay_expr)) {
        diag_error(d, v->decay_expr->loc, "the code generator needs a per_key decay that is elementwise in "
                                          "its inputs (no concat, outer, softmax or '@')");
        ok = false;
    }
    if (v->decay == DECAY_PER_TOKEN || v->decay == DECAY_PER_HEAD) {
        bool used[1024] = {0};
        inputs_read(v->decay_expr, used);
        for (int i = 0; i < v->ninputs; i++)
            if (used[i] && v->inputs[i]->layout != LAYOUT_TOKEN && v->inputs[i]->layout != LAYOUT_HEAD) {
                diag_error(d, v->decay_expr->loc, "the code generator supports scalar decays of inputs [B, T, H] "
                                                  "and [H] only; this one reads '%s' %s",
                           v->inputs[i]->name, layout_name(v->inputs[i]->layout));
                ok = false;
            }
    }
    DType io = fwd_io_dtype(v);
    for (int i = 0; i < v->ninputs; i++) {
        const Symbol *y = v->inputs[i];
        if (y->layout == LAYOUT_TOKEN_VEC && y->dtype != io && (y == direct_input(v->query) ||
                                                                  y == direct_input(v->key))) {
            if (y->dtype != DT_F32 && io != DT_F32) {
                diag_error(d, y->stmt->dtype_loc, "the code generator needs q, k and v of one dtype; '%s' is %s "
                                                  "but the value is %s",
                           y->name, dtype_name(y->dtype), dtype_name(io));
                ok = false;
            }
        }
    }
    if (kc->chunk != 64) {
        diag_error(d, v->loc, "the code generator supports chunk = 64 so far (this configuration has %d)",
                   kc->chunk);
        ok = false;
    }
    if (v->decay == DECAY_PER_KEY && kc->subchunk != 16) {
        diag_error(d, v->loc, "the code generator supports subchunk = 16 so far (this configuration has %d)",
                   kc->subchunk);
        ok = false;
    }
    if (kc->warps < 2) {
        diag_error(d, v->loc, "the code generator needs at least 2 warps (one for the outputs, one for the "
                              "state); this configuration has %d",
                   kc->warps);
        ok = false;
    }
    if (kc->warps > 8) {
        /* More output warps than the chunk's four 16-row tiles takes the
         * column split of out_plan, which no GPU test has run yet. */
        diag_error(d, v->loc, "warps = %d is not supported yet (the output warps would split value columns, "
                              "a path not yet verified on a GPU); use warps = 2, 4 or 8",
                   kc->warps);
        ok = false;
    }
    if (kc->block_k < round_up(v->dk, 16)) {
        diag_error(d, v->loc, "block_k = %d splits the %d key features across thread blocks, which the "
                              "forward with the state on chip does not do; drop block_k from the tile and "
                              "tune statements",
                   kc->block_k, v->dk);
        ok = false;
    }
    return ok;
}

/* ------------------------------------------------------------------------
 * Staging
 * ------------------------------------------------------------------------ */

static Staged *staged_find(Fwd *f, const Symbol *y, bool vblock)
{
    for (int i = 0; i < f->nst; i++)
        if (f->st[i].input == y && f->st[i].vblock == vblock) return &f->st[i];
    return NULL;
}

static Staged *stage_input_pad(Fwd *f, const Symbol *y, bool vblock, int cols, int pad)
{
    Staged *s = staged_find(f, y, vblock);
    if (s) return s;
    LAC_ASSERT(f->nst < MAX_STAGED);
    s = &f->st[f->nst++];
    s->input = y;
    s->vblock = vblock;
    s->cols = cols;
    int eb = dtype_size(y->dtype);
    int tcols = round_up(cols, 16 / eb); /* whole 16-byte chunks */
    char name[80];
    snprintf(name, sizeof name, "%s%s", y->name, vblock ? "_v" : "");
    s->tile = tir_smem(P_, name, elem_of(y->dtype), f->NS, f->C, tcols + (f->norm && vblock ? 8 : 0), pad);
    return s;
}

static Staged *stage_input(Fwd *f, const Symbol *y, bool vblock, int cols)
{
    return stage_input_pad(f, y, vblock, cols, 16 / dtype_size(y->dtype));
}

/* The environment of a row map or scan: the staged inputs, or global memory. */
static int env_of(Fwd *f, const Expr *e, bool vblock, TirValue *buf, TirEnv *env)
{
    bool used[1024] = {0};
    inputs_read(e, used);
    int n = 0;
    for (int i = 0; i < f->v->ninputs; i++) {
        if (!used[i]) continue;
        const Symbol *y = f->v->inputs[i];
        TirEnv x = {y, NULL, NULL, f->in[i], NULL};
        Staged *s = NULL;
        if (y->layout == LAYOUT_TOKEN_VEC) s = staged_find(f, y, vblock);
        if (y->layout == LAYOUT_TOKEN) s = staged_find(f, y, false);
        if (s) {
            x.tile = s->tile;
            x.buf = buf;
        }
        env[n++] = x;
    }
    return n;
}

/* Stage what `e` reads per token: [B, T, H, C] rows (the value block's
 * columns when vblock) and [B, T, H] scalars. */
static void stage_reads(Fwd *f, const Expr *e, bool vblock)
{
    bool used[1024] = {0};
    inputs_read(e, used);
    for (int i = 0; i < f->v->ninputs; i++) {
        if (!used[i]) continue;
        const Symbol *y = f->v->inputs[i];
        if (y->layout == LAYOUT_TOKEN_VEC) stage_input(f, y, vblock, vblock ? f->BV : y->cols);
        else if (y->layout == LAYOUT_TOKEN) stage_input(f, y, false, 1);
    }
}

typedef enum Part { PART_ALL, PART_A, PART_B } Part;

/* cp.async of chunk c into buffer `buf` of every staged tile; role A issues
 * the first half of the rows and role B the second (PART_ALL: everyone). */
static void issue_chunk(Fwd *f, TirValue *c, TirValue *buf, Part part)
{
    int C = f->C, half = C / 2;
    int r_lo = part == PART_B ? half : 0, r_n = part == PART_ALL ? C : half;
    int t_lo = part == PART_B ? f->WA * 32 : 0;
    int t_n = part == PART_ALL ? f->W * 32 : part == PART_A ? f->WA * 32 : f->WB * 32;
    if (f->WA == 0) { /* split pass 1: the state warps issue everything */
        r_lo = 0;
        r_n = C;
        t_lo = 0;
        t_n = f->W * 32;
        if (part == PART_A) return;
    } else if (f->wg && part != PART_ALL) {
        /* The warpgroup output role is the longer one: the state warps,
         * which wait for it, issue every row. */
        if (part == PART_A) return;
        r_lo = 0;
        r_n = C;
    }
    TirValue *t0 = bini(f, TB_ADD, bini(f, TB_MUL, c, C), r_lo);
    for (int i = 0; i < f->nst; i++) {
        Staged *s = &f->st[i];
        tir_copy(P_, s->tile, buf, r_lo, f->in[s->input->index], f->b, t0, f->h, s->vblock ? f->v0 : NULL,
                 f->T, r_n, s->tile->cols - (f->norm && s->vblock ? 8 : 0), t_lo, t_n);
    }
}

/* ------------------------------------------------------------------------
 * Decay expressions in the tile IR
 * ------------------------------------------------------------------------ */

/* b_row: the inclusive cumulative log decay of a row of the chunk (scalar),
 * from the calling warp's own copy where it has one; scanned ahead, it is
 * stored in log2 units (read through bexp). */
static TirEx *bvec_at(Fwd *f, TirEx *row)
{
    return tx_vec(P_, f->bvec, f->bvec_own ? f->warp : f->bplane, row);
}

/* B[row][key]: the per-key cumulative log decay. */
static TirEx *bt_at(Fwd *f, TirEx *row, TirEx *key) { return tx_mat(P_, f->Bt, f->Bbuf, row, key); }

static TirEx *tmul(Fwd *f, TirEx *a, TirEx *b) { return tx_bin(P_, TX_MUL, a, b); }
static TirEx *tsub(Fwd *f, TirEx *a, TirEx *b) { return tx_bin(P_, TX_SUB, a, b); }
static TirEx *texp(Fwd *f, TirEx *a) { return tx_un(P_, TX_EXP, a); }
/* e^x of x read from b: b of a decay scanned ahead is in log2 units. */
static TirEx *bexp(Fwd *f, TirEx *a) { return tx_un(P_, f->ahead ? TX_EXP2 : TX_EXP, a); }
static TirEx *trow(Fwd *f) { return tx_row(P_); }
static TirEx *tcol(Fwd *f) { return tx_col(P_); }
static TirEx *tic(Fwd *f, int x) { return tx_iconst(P_, x); }
/* val where the key is not after the query (col <= row), else 0. */
static TirEx *tcausal(Fwd *f, TirEx *val) { return tx_select(P_, tx_bin(P_, TX_ILE, tcol(f), trow(f)), val, tx_const(P_, 0)); }

/* tab[idx] of a per-head decay: e^((idx - C + 1) lam), 0 below C - 1. */
static TirEx *dtab_at(Fwd *f, TirEx *idx) { return tx_vec(P_, f->dtab, NULL, idx); }

/* The reference B[r0 - 1][key] of the diagonal block at rows r0.. (0 for r0 = 0). */
static TirEx *bt_ref(Fwd *f, TirValue *r0, TirEx *key)
{
    TirEx *r = tx_bin(P_, TX_IADD, tx_scalar(P_, r0), tic(f, -1));
    TirEx *pos = tx_bin(P_, TX_ILT, tic(f, 0), tx_scalar(P_, r0));
    TirEx *rr = tx_select(P_, pos, r, tic(f, 0));
    return tx_select(P_, pos, bt_at(f, rr, key), tx_const(P_, 0));
}

/* ------------------------------------------------------------------------
 * Role A: the outputs of one 16-row tile
 * ------------------------------------------------------------------------ */

/* o = O * scale (or the normalized quotient) to global memory. */
static void output_store(Fwd *f, TirValue *O, TirValue *c, TirValue *r0, TirValue *cw, int bvw, TirValue *slot,
                         TirEx *qz)
{
    const Variant *v = f->v;
    TirEx *out;
    if (qz) {
        /* o = s q S / (s q.z + eps) = q S / (q.z + eps / s), as q S times the
         * reciprocal, which is the same for a row's elements (one division a
         * row and register, not one an element). */
        TirEx *den = tx_bin(P_, TX_ADD, qz, tx_bin(P_, TX_DIV, tx_const(P_, v->eps), tx_scalar(P_, f->scale)));
        out = tmul(f, tx_x(P_), tx_bin(P_, TX_DIV, tx_const(P_, 1), den));
    } else {
        out = tmul(f, tx_x(P_), tx_scalar(P_, f->scale));
    }
    tir_at(P_, v->scale->loc);
    O = tir_map(P_, O, r0, 0, NULL, 0, out, "o");
    tir_at(P_, v->value->loc);
    TirValue *t0 = bin(f, TB_ADD, bini(f, TB_MUL, c, f->C), r0);
    tir_stg(P_, O, bvw, f->o, f->b, t0, f->h, bin(f, TB_ADD, f->v0, cw), f->T, f->ostage, slot);
}

/* The outputs of one 16-row tile: as one warp of a warpgroup (wg), or on
 * mma.sync. */
static void output_tile(Fwd *f, TirValue *c, TirValue *qbuf, TirValue *kbuf, TirValue *vbuf, TirValue *sbuf,
                        TirValue *r0, int cw0, int bvw, TirValue *slot, bool wg)
{
    const Variant *v = f->v;
    int C = f->C;
    bool pk = v->decay == DECAY_PER_KEY, sc = v->decay == DECAY_PER_TOKEN || v->decay == DECAY_PER_HEAD;
    TirValue *cw = ci(f, cw0);

    /* Inter-chunk: (Q * e^b) S_prev, and q.z_prev into D. */
    tir_at(P_, v->query->loc);
    TirEx *qxf = pk ? tmul(f, tx_x(P_), texp(f, bt_at(f, trow(f), tcol(f)))) : NULL;
    TirOperand aq = tir_view(f->Qop, qbuf, r0, 0, NULL, 0, false, qxf);
    aq.split = pk && f->op == TE_BF16;
    /* Warpgroup products: Q S_prev and Q K^T go side by side (one wait),
     * so what P needs is made first and O's decay comes after. */
    TirValue *lim = NULL, *Pm = NULL;
    if (wg) {
        lim = bini(f, TB_ADD, r0, 16);
        Pm = tir_zero(P_, 16, C, "P");
    }
    /* A normalized warpgroup product is 8 columns wider: S's z and V's ones
     * (the second column block of the swizzled tiles) give q.z beside O. */
    bool wide = wg && f->norm;
    TirValue *O = tir_zero(P_, 16, bvw + (wide ? 8 : 0), "O");
    TirValue *(*mma)(TirProgram *, TirValue *, TirOperand, TirOperand, int, TirValue *, TirValue *,
                     const char *) = wg ? tir_mma_wg : tir_mma;
    O = mma(P_, O, aq, tir_view(f->Scopy, sbuf, NULL, 0, cw, 0, false, NULL), f->dkp, NULL, NULL, "O");
    TirValue *D = NULL;
    if (f->norm && !wide) {
        D = tir_zero(P_, 16, 8, "D");
        D = tir_mma(P_, D, aq, tir_view(f->Scopy, sbuf, NULL, 0, NULL, f->BV, false, NULL), f->dkp, NULL, NULL, "D");
    }
    /* e^b_row: b_row = (row + 1) lam of a per-head decay, tab[row + C] */
    TirEx *brow = NULL;
    if (sc) brow = f->dtab ? dtab_at(f, tx_bin(P_, TX_IADD, trow(f), tic(f, C))) : bexp(f, bvec_at(f, trow(f)));
    if (sc && !wg) {
        tir_at(P_, v->decay_expr->loc);
        TirEx *e = tmul(f, tx_x(P_), brow);
        O = tir_map(P_, O, r0, 0, NULL, 0, e, "O");
        if (D) D = tir_map(P_, D, r0, 0, NULL, 0, e, "D");
    }

    /* Intra-chunk scores, up to the diagonal. */
    tir_at(P_, v->key->loc);
    TirEx *kxf = NULL;
    if (pk) {
        qxf = tmul(f, tx_x(P_), texp(f, tsub(f, bt_at(f, trow(f), tcol(f)), bt_ref(f, r0, tcol(f)))));
        /* B operand: logical (row = key feature, col = token). */
        TirEx *ex = tsub(f, bt_ref(f, r0, trow(f)), bt_at(f, tcol(f), trow(f)));
        kxf = tmul(f, tx_x(P_), texp(f, tx_bin(P_, TX_MIN, ex, tx_const(P_, GLA_CLAMP))));
    }
    if (!wg) {
        lim = bini(f, TB_ADD, r0, 16);
        Pm = tir_zero(P_, 16, C, "P");
    }
    TirOperand aqk = tir_view(f->Qop, qbuf, r0, 0, NULL, 0, false, qxf);
    aqk.split = pk && f->op == TE_BF16;
    Pm = mma(P_, Pm, aqk, tir_view(f->Kop, kbuf, NULL, 0, NULL, 0, true, kxf), f->dkp, lim, NULL, "P");
    if (sc && wg) {
        tir_at(P_, v->decay_expr->loc);
        O = tir_map(P_, O, r0, 0, NULL, 0, tmul(f, tx_x(P_), brow), "O");
    }
    if (pk) {
        /* When the gates of the block pass e^-60, the clamped factorization
         * is not exact: recompute the diagonal block elementwise. */
        TirValue *last = bini(f, TB_ADD, r0, 15);
        TirEx *over = tx_bin(P_, TX_FGT, tsub(f, bt_ref(f, r0, tcol(f)), bt_at(f, tx_scalar(P_, last), tcol(f))),
                             tx_const(P_, GLA_CLAMP));
        TirValue *risky = tir_any(P_, 1, f->dk, NULL, NULL, over);
        TirOp *iff = tir_if_begin(P_, risky, 1, &Pm);
        TirValue *Px = tir_gla_diag(P_, Pm, f->Qop, qbuf, f->Kop, kbuf, f->Bt, f->Bbuf, r0, f->dk);
        tir_if_end(P_, &Px);
        Pm = iff->results[0];
    }
    tir_at(P_, v->loc);
    TirEx *val = tx_x(P_);
    if (f->dtab) {
        /* e^(b_i - b_j) = tab[i - j + C - 1], 0 past the diagonal: one read
         * an element (the lane's row - col and an immediate). */
        val = tmul(f, val, dtab_at(f, tx_bin(P_, TX_IADD, tx_bin(P_, TX_ISUB, trow(f), tcol(f)), tic(f, C - 1))));
    } else {
        if (sc) val = tmul(f, val, bexp(f, tsub(f, bvec_at(f, trow(f)), bvec_at(f, tcol(f)))));
        val = tcausal(f, val);
    }
    Pm = tir_map(P_, Pm, r0, 0, NULL, 0, val, "P");
    TirValue *Pa = tir_toa(P_, Pm, f->op, "Pa");
    TirOperand av = tir_frag_operand(Pa);
    O = mma(P_, O, av, tir_view(f->Vop, vbuf, NULL, 0, cw, 0, false, NULL), C, NULL, lim, "O");
    TirEx *qz = NULL;
    if (f->norm) {
        if (wide) {
            qz = tx_slot(P_, O, bvw / 8);
            O = tir_cols(P_, O, 0, bvw, "O");
        } else {
            D = tir_mma(P_, D, av, tir_view(f->Vop, vbuf, NULL, 0, NULL, f->BV, false, NULL), C, NULL, lim, "D");
            qz = tx_slot(P_, D, 0);
        }
    }
    output_store(f, O, c, r0, cw, bvw, slot, qz);
}

/* GLA's fast form, a chunk whose |B| stay within GLA_FAST_LIM: in the
 * reference of the chunk's start, q~ = q e^B (<= |q|) and k~ = k e^-B (Kx,
 * made by gla.prep) give O = q~ S_prev + ((q~ k~^T) * [j <= i]) V with no
 * decay left to apply, so the products are those of linear attention on
 * warpgroups. q~ is computed once into registers as hi + lo (bf16 rounds
 * q e^B; the split keeps it to about 16 bits), and P goes into P V split
 * as well: with both rounded, o's relative L2 error was about 2.9e-3 in a
 * float64 model of the products, 2.4e-3 with them split (the bar is 3e-3). */
static void output_tile_fast(Fwd *f, TirValue *c, TirValue *qbuf, TirValue *vbuf, TirValue *sbuf, TirValue *r0,
                             int cw0, int bvw, TirValue *slot)
{
    const Variant *v = f->v;
    int C = f->C;
    TirValue *cw = ci(f, cw0);
    tir_at(P_, v->query->loc);
    TirOperand aq = tir_view(f->Qop, qbuf, r0, 0, NULL, 0, false,
                             tmul(f, tx_x(P_), texp(f, bt_at(f, trow(f), tcol(f)))));
    aq.split = true;
    TirOperand qx = tir_frag_operand(tir_lda(P_, aq, 16, f->dkp, "Qx"));
    /* What P needs first, so that Q S_prev and Q K^T go back to back (one wait). */
    TirValue *lim = bini(f, TB_ADD, r0, 16);
    TirValue *Pm = tir_zero(P_, 16, C, "P");
    TirValue *O = tir_zero(P_, 16, bvw, "O");
    O = tir_mma_wg(P_, O, qx, tir_view(f->Scopy, sbuf, NULL, 0, cw, 0, false, NULL), f->dkp, NULL, NULL, "O");
    tir_at(P_, v->key->loc);
    Pm = tir_mma_wg(P_, Pm, qx, tir_view(f->Kx, NULL, NULL, 0, NULL, 0, true, NULL), f->dkp, lim, NULL, "P");
    tir_at(P_, v->loc);
    Pm = tir_map(P_, Pm, r0, 0, NULL, 0, tcausal(f, tx_x(P_)), "P");
    TirValue *Pa = tir_toa(P_, Pm, TE_SPLIT, "Pa");
    O = tir_mma_wg(P_, O, tir_frag_operand(Pa), tir_view(f->Vop, vbuf, NULL, 0, cw, 0, false, NULL), C, NULL, lim,
                   "O");
    output_store(f, O, c, r0, cw, bvw, slot, NULL);
}

/* ------------------------------------------------------------------------
 * Role B: the state of one 16-row tile of key features
 * ------------------------------------------------------------------------ */

/* S = e^b_last S + (K * e^(b_last - b_j))^T V over columns [cb0, cb0 + n)
 * of V (cb0 = BV: the normalizer's ones), in two steps: state_decay maps S
 * and gives the transform of K^T; state_product adds the product. */
static TirEx *state_decay(Fwd *f, TirValue **Sp, TirValue *f0)
{
    const Variant *v = f->v;
    int C = f->C;
    TirValue *S = *Sp;
    tir_at(P_, v->decay_expr ? v->decay_expr->loc : v->loc);
    TirEx *kxf = NULL;
    if (v->decay == DECAY_PER_KEY) {
        TirEx *last = bt_at(f, tic(f, C - 1), trow(f));
        S = tir_map(P_, S, f0, 0, NULL, 0, tmul(f, tx_x(P_), texp(f, last)), "S");
        /* A operand K^T: logical (row = key feature, col = token). */
        kxf = tmul(f, tx_x(P_), texp(f, tsub(f, bt_at(f, tic(f, C - 1), trow(f)), bt_at(f, tcol(f), trow(f)))));
    } else if (f->dtab) {
        /* The chunk's n tokens: e^(n lam) and, for token j, e^((n - 1 - j) lam). */
        TirEx *last = dtab_at(f, tx_scalar(P_, f->tab_last));
        S = tir_map(P_, S, f0, 0, NULL, 0, tmul(f, tx_x(P_), last), "S");
        kxf = tmul(f, tx_x(P_), dtab_at(f, tx_bin(P_, TX_ISUB, tx_scalar(P_, f->tab_last), tx_bin(P_, TX_IADD, tcol(f), tic(f, 1)))));
    } else if (v->decay != DECAY_NONE) {
        TirEx *last = bvec_at(f, tic(f, C - 1));
        S = tir_map(P_, S, f0, 0, NULL, 0, tmul(f, tx_x(P_), bexp(f, last)), "S");
        kxf = tmul(f, tx_x(P_), bexp(f, tsub(f, bvec_at(f, tic(f, C - 1)), bvec_at(f, tcol(f)))));
    }
    *Sp = S;
    return kxf;
}

static TirValue *state_product(Fwd *f, TirValue *S, TirEx *kxf, TirValue *kbuf, TirValue *vbuf, TirValue *f0,
                               int cb0, bool wg)
{
    const Variant *v = f->v;
    tir_at(P_, v->key->loc);
    TirOperand ak = tir_view(f->Kop, kbuf, NULL, 0, f0, 0, true, kxf);
    /* The per-key weights round once more; carry K^T exactly (hi + lo). */
    ak.split = v->decay == DECAY_PER_KEY && f->op == TE_BF16;
    TirOperand bv = tir_view(f->Vop, vbuf, NULL, 0, NULL, cb0, false, NULL);
    /* The state warps are the second warpgroup; their tiles t hold rows
     * 64 t + 16 (warp % 4) (role_state), one m64 product per t. */
    if (wg) return tir_mma_wg(P_, S, ak, bv, f->C, NULL, NULL, "S");
    return tir_mma(P_, S, ak, bv, f->C, NULL, NULL, "S");
}

static TirValue *state_update(Fwd *f, TirValue *S, TirValue *kbuf, TirValue *vbuf, TirValue *f0, int cb0, bool wg)
{
    TirEx *kxf = state_decay(f, &S, f0);
    return state_product(f, S, kxf, kbuf, vbuf, f0, cb0, wg);
}

/* The log decay of the whole chunk, added to a per-row total (split pass 1). */
static TirValue *decay_total(Fwd *f, TirValue *Dt, TirValue *f0)
{
    const Variant *v = f->v;
    if (v->decay == DECAY_NONE) return Dt;
    LAC_ASSERT(!f->ahead); /* the records' totals are in natural log units */
    TirEx *last = v->decay == DECAY_PER_KEY ? bt_at(f, tic(f, f->C - 1), trow(f)) : bvec_at(f, tic(f, f->C - 1));
    return tir_map(P_, Dt, f0, 0, NULL, 0, tx_bin(P_, TX_ADD, tx_x(P_), last), "Dt");
}

/* ------------------------------------------------------------------------
 * The chunk loop of each role
 * ------------------------------------------------------------------------ */

/* cp.async of chunk c + NS - 1 (NS > 1) into the buffer chunk c - 1 used. */
static void chunk_prefetch(Fwd *f, TirValue *i, TirValue *c, Part part)
{
    int NS = f->NS;
    TirValue *cn = bini(f, TB_ADD, c, NS - 1);
    tir_if_begin(P_, bin(f, TB_LT, cn, f->c_hi), 0, NULL);
    issue_chunk(f, cn, bini(f, TB_REM, bini(f, TB_ADD, i, NS - 1), NS), part);
    tir_if_end(P_, NULL);
    tir_commit(P_);
}

/* The top of every iteration, in both roles: wait for chunk c, then the
 * row maps and scans of chunk c, and the prefetch of chunk c + NS - 1
 * (before the maps when there are none). */
static TirValue *chunk_top(Fwd *f, TirValue *i, TirValue *c, Part part)
{
    const Variant *v = f->v;
    int NS = f->NS;
    TirValue *buf = bini(f, TB_REM, i, NS);
    f->Bbuf = f->bt_ring ? buf : NULL;
    f->bplane = f->ahead ? bini(f, TB_REM, i, 2) : NULL;
    /* Row maps and the scans of one warp write what both roles read next: a
     * second barrier (a per-head decay every warp scans for itself; a
     * per-token one scanned a chunk ahead is there since the last chunk). */
    bool maps = !f->qring || !f->kring || !f->vring || v->decay == DECAY_PER_KEY ||
                (v->decay == DECAY_PER_TOKEN && !f->ahead);
    if (NS == 1) {
        tir_barrier(P_);
        issue_chunk(f, c, buf, part);
        tir_commit(P_);
        tir_wait(P_, 0);
        tir_barrier(P_);
    } else {
        tir_wait(P_, NS - 2);
        tir_barrier(P_);
        /* With a second barrier, the prefetch goes after it: issued here it
         * would hold every warp at that barrier (the warpgroup form's state
         * warps issue every row). */
        if (!maps) chunk_prefetch(f, i, c, part);
    }
    TirValue *t0 = bini(f, TB_MUL, c, f->C);
    TirEnv env[1024];
    int thr_a = f->WA * 32, thr_b = f->WB * 32;
    if (f->bvec_own) {
        int n = env_of(f, v->decay_expr, false, buf, env);
        bool a = part == PART_A;
        tir_scan_token(P_, f->bvec, NULL, v->decay_expr, env, n, f->b, f->h, t0, f->T, a ? 0 : thr_a,
                       a ? thr_a : thr_b, SCAN_PER_WARP, false);
    }
    if (part != PART_B && !f->qring) {
        int n = env_of(f, v->query, false, buf, env);
        tir_at(P_, v->query->loc);
        tir_rowmap(P_, f->Qop, NULL, v->query, env, n, f->b, f->h, t0, f->T, NULL, f->dkp, f->dk, 0, thr_a);
    }
    if (part != PART_A || f->WA == 0) {
        int lo = f->WA * 32;
        /* With threads for two rows each, keys and values are mapped side by side. */
        int kn = !f->kring && !f->vring && thr_b >= 2 * f->C ? thr_b / 2 : thr_b;
        if (!f->kring) {
            int n = env_of(f, v->key, false, buf, env);
            tir_at(P_, v->key->loc);
            tir_rowmap(P_, f->Kop, NULL, v->key, env, n, f->b, f->h, t0, f->T, NULL, f->dkp, f->dk, lo, kn);
        }
        if (!f->vring) {
            int n = env_of(f, v->value, true, buf, env);
            int vlo = kn < thr_b ? lo + kn : lo;
            tir_at(P_, v->value->loc);
            tir_rowmap(P_, f->Vop, NULL, v->value, env, n, f->b, f->h, t0, f->T, f->v0, f->BV, f->dv, vlo,
                       thr_b - (vlo - lo));
        }
        if (v->decay == DECAY_PER_TOKEN && !f->ahead) {
            int n = env_of(f, v->decay_expr, false, buf, env);
            tir_scan_token(P_, f->bvec, NULL, v->decay_expr, env, n, f->b, f->h, t0, f->T, lo, 32, SCAN_ONE_WARP, false);
        } else if (v->decay == DECAY_PER_KEY && !f->pkwg) {
            int n = env_of(f, v->decay_expr, false, buf, env);
            tir_scan_key(P_, f->Bt, f->Bbuf, v->decay_expr, env, n, f->b, f->h, t0, f->T, f->dk, lo, thr_b);
        }
    }
    if (f->pkwg) {
        /* Every thread: B, and k e^-B for the fast form; the barrier's OR
         * says whether some |B| of the chunk is too large for it. */
        int n = env_of(f, v->decay_expr, false, buf, env);
        tir_at(P_, v->decay_expr->loc);
        TirValue *st = tir_gla_prep(P_, f->Bt, f->Bbuf, v->decay_expr, env, n, f->b, f->h, t0, f->T, f->Kop, buf,
                                    f->Kx, f->dk, GLA_FAST_LIM, f->W * 32);
        f->steep = tir_barrier_any(P_, st);
        tir_at(P_, v->loc);
        if (NS > 1) chunk_prefetch(f, i, c, part);
    } else if (maps) {
        tir_barrier(P_);
        if (NS > 1) chunk_prefetch(f, i, c, part);
    }
    return buf;
}

/* A per-token decay a chunk ahead: the state role loads the decay's token
 * inputs of chunk c + 2 from global memory at the end of chunk c (ld.token,
 * one token a lane per 32 rows) and carries them into chunk c + 1, where
 * every state warp scans them (the same values into bvec's other buffer,
 * with no branch, so that it runs under the state products) once they are
 * issued; the next chunk's first barrier publishes them. Nothing waits for
 * the scan: no second barrier, and the loads have a chunk to arrive. */
static int scan_ahead_load(Fwd *f, TirValue *c, TirEnv *env)
{
    const Expr *e = f->v->decay_expr;
    TirValue *t0 = bini(f, TB_MUL, c, f->C);
    tir_at(P_, e->loc);
    int n = env_of(f, e, false, NULL, env);
    for (int k = 0; k < n; k++)
        if (env[k].input->layout == LAYOUT_TOKEN) {
            env[k].tile = NULL;
            env[k].lanes = tir_ldtoken(P_, env[k].gmem, f->b, f->h, t0, f->T, f->C / 32, env[k].input->name);
        }
    return n;
}

static void scan_ahead_scan(Fwd *f, TirValue *c, TirValue *plane, TirEnv *env, int n)
{
    tir_scan_token(P_, f->bvec, plane, f->v->decay_expr, env, n, f->b, f->h, bini(f, TB_MUL, c, f->C), f->T,
                   f->WA * 32, f->WB * 32, SCAN_ALL_WARPS, true);
}

/* The m-tiles (16 output rows each) of output warp wa, and its value columns. */
typedef struct OutPlan {
    int ntiles;
    TirValue *r0[4];
    int cw0, bvw;
    bool active;
} OutPlan;

static OutPlan out_plan(Fwd *f, TirValue *wa)
{
    OutPlan pl = {0};
    int mtiles = f->C / 16;
    pl.active = true;
    pl.cw0 = 0;
    pl.bvw = f->BV;
    /* WA > mtiles (warps 16) is refused by fwd_supported until a GPU test
     * has run its column split below. */
    if (f->WA <= mtiles) {
        /* Warp wa takes tiles wa, wa + WA, ... paired from both ends so
         * that the causal work (proportional to the tile index) evens out. */
        int per = mtiles / f->WA;
        for (int i = 0; i < per; i++) {
            int k = i / 2;
            TirValue *t = i % 2 == 0 ? bini(f, TB_ADD, wa, k * f->WA)
                                     : bin(f, TB_SUB, ci(f, mtiles - 1 - k * f->WA), wa);
            pl.r0[pl.ntiles++] = bini(f, TB_MUL, t, 16);
        }
    } else {
        /* More output warps than tiles: each takes one tile and a column group. */
        int groups = f->WA / mtiles;
        if (f->BV / groups < 16) groups = f->BV / 16;
        pl.bvw = f->BV / groups;
        pl.r0[pl.ntiles++] = bini(f, TB_MUL, bini(f, TB_REM, wa, mtiles), 16);
        pl.cw0 = -1; /* runtime: (wa / mtiles) * bvw */
    }
    return pl;
}

static void role_output(Fwd *f)
{
    TirValue *wa = f->warp;
    OutPlan pl = out_plan(f, wa);
    int mtiles = f->C / 16;
    TirValue *group = pl.cw0 < 0 ? bini(f, TB_DIV, wa, mtiles) : NULL;
    TirOp *loop = tir_for_begin(P_, ci(f, 0), bin(f, TB_SUB, f->c_hi, f->c_lo), 0, NULL, "i");
    TirValue *i = loop->iv;
    TirValue *c = bin(f, TB_ADD, f->c_lo, i);
    TirValue *buf = chunk_top(f, i, c, PART_A);
    TirValue *sbuf = bini(f, TB_REM, bini(f, TB_ADD, i, 1), 2);
    TirValue *qb = f->qring ? buf : NULL, *kb = f->kring ? buf : NULL, *vb = f->vring ? buf : NULL;
    if (group) {
        /* The column group's origin is runtime: emit one copy per group. */
        for (int g = 0; g < f->BV / pl.bvw; g++) {
            tir_if_begin(P_, bin(f, TB_EQ, group, ci(f, g)), 0, NULL);
            output_tile(f, c, qb, kb, vb, sbuf, pl.r0[0], g * pl.bvw, pl.bvw, wa, f->wg);
            tir_if_end(P_, NULL);
        }
    } else if (f->pkwg) {
        /* Per chunk, GLA's fast form or (a steep chunk) the sub-chunk form on mma.sync. */
        LAC_ASSERT(pl.ntiles == 1);
        tir_if_begin(P_, f->steep, 0, NULL);
        output_tile(f, c, qb, kb, vb, sbuf, pl.r0[0], 0, pl.bvw, wa, false);
        tir_else(P_, NULL);
        output_tile_fast(f, c, qb, vb, sbuf, pl.r0[0], 0, pl.bvw, wa);
        tir_if_end(P_, NULL);
    } else {
        for (int t = 0; t < pl.ntiles; t++) output_tile(f, c, qb, kb, vb, sbuf, pl.r0[t], 0, pl.bvw, wa, f->wg);
    }
    tir_for_end(P_, NULL);
}

/* State tiles of state warp wb: tiles wb, wb + WB, ... of nmt. */
enum { MAX_STATE_TILES = 32 };

/* The output pass of the split: S = e^D_q S + L_q (and Z alike) over the
 * state pass's segments q before this block's first. The loads of a
 * record are in flight together (each trip to L2 or memory costs about as
 * much as the whole record): one loop for the warpgroup form's two tiles
 * (one a tile when normalized: with the Z records, 255 registers and a
 * spill), one a tile elsewhere (based's five tiles at once spilled, and so did
 * hedgehog's two at block_v 64). Two segments an iteration spilled at
 * block_v 32. */
static void state_from_segments(Fwd *f, TirValue **vals, TirValue **f0s, int per)
{
    int dk = f->dk, dv = f->dv, per_tile = f->norm ? 2 : 1, batch = f->wg && !f->norm ? 2 : 1;
    for (int t0 = 0; t0 < per; t0 += batch) {
        int nt = per - t0 < batch ? per - t0 : batch, n = nt * per_tile;
        TirOp *fq = tir_for_begin(P_, ci(f, 0), bin(f, TB_MUL, f->seg, f->grp), n, vals + t0 * per_tile, "q");
        TirValue *rix = bin(f, TB_ADD, bin(f, TB_MUL, f->bh, f->nseg), fq->iv);
        TirValue *D[2], *L[2][2];
        for (int k = 0; k < nt; k++) {
            TirValue *r0 = f0s[t0 + k];
            D[k] = tir_ldstate(P_, f->ws, 16, 8, rix, f->rec, dk * dv + dk, dk, dk, r0, 0, NULL, 0, true, "Dq");
            L[k][0] = tir_ldstate(P_, f->ws, 16, f->BV, rix, f->rec, 0, dk, dv, r0, 0, f->v0, 0, false, "Lq");
            if (f->norm) L[k][1] = tir_ldstate(P_, f->ws, 16, 8, rix, f->rec, dk * dv, dk, dk, r0, 0, NULL, 0, true, "Lz");
        }
        TirValue *ys[4];
        for (int k = 0; k < nt; k++)
            for (int j = 0; j < per_tile; j++) {
                TirEx *y = tx_bin(P_, TX_ADD, tmul(f, tx_x(P_), tx_un(P_, TX_EXP, tx_slot(P_, D[k], 0))),
                                  tx_frag(P_, L[k][j]));
                ys[k * per_tile + j] = tir_map(P_, fq->carried[k * per_tile + j], f0s[t0 + k], 0, NULL, 0, y,
                                               j == 0 ? "S" : "Z");
            }
        tir_for_end(P_, ys);
        for (int i = 0; i < n; i++) vals[t0 * per_tile + i] = fq->results[i];
    }
}

static void role_state(Fwd *f)
{
    const Variant *v = f->v;
    int nmt = f->nmt;
    TirValue *wb = bini(f, TB_SUB, f->warp, f->WA);
    int per = (nmt + f->WB - 1) / f->WB;
    LAC_ASSERT(per <= MAX_STATE_TILES);
    bool split_state = f->kind == FWD_SPLIT_STATE;
    bool from_segments = f->kind == FWD_SPLIT_OUT;
    int dk = f->dk, dv = f->dv;
    /* Carried per owned tile: S (BV columns), Z (8, normalized), Dt (8, split pass 1). */
    int per_tile = 1 + (f->norm ? 1 : 0) + (split_state ? 1 : 0);
    TirValue *vals[3 * MAX_STATE_TILES + 8]; /* and a scan-ahead decay's inputs */
    TirValue *f0s[MAX_STATE_TILES], *owns[MAX_STATE_TILES];
    int n = 0;
    tir_at(P_, v->loc);
    for (int t = 0; t < per; t++) {
        f0s[t] = bini(f, TB_MUL, bini(f, TB_ADD, wb, t * f->WB), 16);
        owns[t] = (t + 1) * f->WB > nmt ? bin(f, TB_LT, bini(f, TB_ADD, wb, t * f->WB), ci(f, nmt)) : NULL;
        TirValue *S, *Z = NULL, *Dt = NULL;
        if (split_state) {
            S = tir_zero(P_, 16, f->BV, "S");
            if (f->norm) Z = tir_zero(P_, 16, 8, "Z");
            Dt = tir_zero(P_, 16, 8, "Dt");
        } else {
            S = tir_ldstate(P_, f->s0, 16, f->BV, f->bh, dk * dv, 0, dk, dv, f0s[t], 0, f->v0, 0, false, "S");
            if (f->norm) Z = tir_ldstate(P_, f->z0, 16, 8, f->bh, dk, 0, dk, dk, f0s[t], 0, NULL, 0, true, "Z");
        }
        vals[n++] = S;
        if (f->norm) vals[n++] = Z;
        if (split_state) vals[n++] = Dt;
    }
    if (from_segments) state_from_segments(f, vals, f0s, per);
    if (f->WA > 0) {
        /* S_prev of chunk 0 for the output warps. */
        for (int t = 0; t < per; t++) {
            if (owns[t]) tir_if_begin(P_, owns[t], 0, NULL);
            tir_sts(P_, vals[t * per_tile], f->Scopy, ci(f, 1), f0s[t], 0, NULL, 0);
            if (f->norm) tir_sts(P_, vals[t * per_tile + 1], f->Scopy, ci(f, 1), f0s[t], 0, NULL, f->BV);
            if (owns[t]) tir_if_end(P_, NULL);
        }
    }
    /* The warpgroup form carries a normalized tile's Z as 8 more columns of
     * S (the ones of V's second column block add the keys to them). */
    bool wide = f->wg && f->norm;
    int carry_per = per_tile;
    if (wide) {
        for (int t = 0; t < per; t++) vals[t] = tir_cat(P_, vals[2 * t], vals[2 * t + 1], "SZ");
        n = per;
        carry_per = 1;
    }
    /* A decay scanned ahead: chunk c_lo's now (the loop's first barrier
     * publishes it), and chunk c + 1's inputs carried into chunk c in
     * registers, loaded during chunk c - 1 (a whole chunk for their latency). */
    TirEnv *aenv = NULL, *anext = NULL;
    int an = 0, nlanes = 0, *lane_at = NULL;
    if (f->ahead) {
        LAC_ASSERT(f->wg); /* the loop's scan is under the warpgroup products */
        size_t nin = (size_t)v->ninputs + 1;
        aenv = arena_alloc(P_->a, sizeof(TirEnv) * nin);
        anext = arena_alloc(P_->a, sizeof(TirEnv) * nin);
        lane_at = arena_alloc(P_->a, sizeof(int) * nin);
        an = scan_ahead_load(f, f->c_lo, aenv);
        scan_ahead_scan(f, f->c_lo, ci(f, 0), aenv, an);
        an = scan_ahead_load(f, bini(f, TB_ADD, f->c_lo, 1), aenv);
        for (int k = 0; k < an; k++)
            if (aenv[k].lanes) {
                LAC_ASSERT(nlanes < 8);
                lane_at[k] = n + nlanes++;
                vals[lane_at[k]] = aenv[k].lanes;
            }
        tir_at(P_, v->loc);
    }
    TirOp *loop = tir_for_begin(P_, ci(f, 0), bin(f, TB_SUB, f->c_hi, f->c_lo), n + nlanes, vals, "i");
    TirValue *i = loop->iv;
    TirValue *c = bin(f, TB_ADD, f->c_lo, i);
    TirValue *buf = chunk_top(f, i, c, PART_B);
    TirValue *kb = f->kring ? buf : NULL, *vb = f->vring ? buf : NULL;
    TirValue *sbuf = bini(f, TB_REM, i, 2);
    TirValue *cnext = NULL, *pnext = NULL;
    if (f->ahead) {
        cnext = bini(f, TB_ADD, c, 1);
        pnext = bini(f, TB_REM, bini(f, TB_ADD, i, 1), 2);
        for (int k = 0; k < an; k++)
            if (aenv[k].lanes) aenv[k].lanes = loop->carried[lane_at[k]];
    }
    if (f->dtab) {
        TirValue *n_tok = tir_bin(P_, TB_MIN, bin(f, TB_SUB, f->T, bini(f, TB_MUL, c, f->C)), ci(f, f->C), "n_tok");
        f->tab_last = tir_bin(P_, TB_ADD, n_tok, ci(f, f->C - 1), "tab_last");
    }
    TirValue *ys[3 * MAX_STATE_TILES + 8];
    if (f->wg) {
        /* The tiles' warpgroup products side by side (one wait for all),
         * then the copies for the output warps. */
        LAC_ASSERT(carry_per == 1 && !owns[per - 1]);
        TirValue *Sm[MAX_STATE_TILES];
        TirEx *kx[MAX_STATE_TILES];
        for (int t = 0; t < per; t++) Sm[t] = loop->carried[t];
        if (f->pkwg) {
            /* A steep chunk on mma.sync (the sub-chunk form), else
             * S = e^B_last (S + k~^T V) with k~ = k e^-B of gla.prep. */
            TirOp *iff = tir_if_begin(P_, f->steep, per, Sm);
            for (int t = 0; t < per; t++) ys[t] = state_update(f, Sm[t], kb, vb, f0s[t], 0, false);
            tir_else(P_, ys);
            tir_at(P_, v->key->loc);
            for (int t = 0; t < per; t++)
                ys[t] = tir_mma_wg(P_, Sm[t], tir_view(f->Kx, NULL, NULL, 0, f0s[t], 0, true, NULL),
                                   tir_view(f->Vop, vb, NULL, 0, NULL, 0, false, NULL), f->C, NULL, NULL, "S");
            tir_at(P_, v->decay_expr->loc);
            for (int t = 0; t < per; t++)
                ys[t] = tir_map(P_, ys[t], f0s[t], 0, NULL, 0,
                                tmul(f, tx_x(P_), texp(f, bt_at(f, tic(f, f->C - 1), trow(f)))), "S");
            tir_if_end(P_, ys);
            for (int t = 0; t < per; t++) ys[t] = iff->results[t];
        } else {
            for (int t = 0; t < per; t++) kx[t] = state_decay(f, &Sm[t], f0s[t]);
            for (int t = 0; t < per; t++) ys[t] = state_product(f, Sm[t], kx[t], kb, vb, f0s[t], 0, true);
        }
        /* While the products run (their wait is at the copies). */
        if (f->ahead) scan_ahead_scan(f, cnext, pnext, aenv, an);
        for (int t = 0; t < per; t++) tir_sts(P_, ys[t], f->Scopy, sbuf, f0s[t], 0, NULL, 0);
    }
    for (int t = 0; t < per && !f->wg; t++) {
        TirValue **cur = &loop->carried[t * per_tile];
        TirOp *iff = owns[t] ? tir_if_begin(P_, owns[t], per_tile, cur) : NULL;
        TirValue *S = state_update(f, cur[0], kb, vb, f0s[t], 0, false);
        TirValue *tile_ys[3] = {S, NULL, NULL};
        int k = 1;
        if (f->norm) tile_ys[k++] = state_update(f, cur[1], kb, vb, f0s[t], f->BV, false);
        if (split_state) tile_ys[k++] = decay_total(f, cur[per_tile - 1], f0s[t]);
        if (f->WA > 0) {
            tir_sts(P_, S, f->Scopy, sbuf, f0s[t], 0, NULL, 0);
            if (f->norm) tir_sts(P_, tile_ys[1], f->Scopy, sbuf, f0s[t], 0, NULL, f->BV);
        }
        if (iff) {
            tir_if_end(P_, tile_ys);
            for (int j = 0; j < per_tile; j++) ys[t * per_tile + j] = iff->results[j];
        } else {
            for (int j = 0; j < per_tile; j++) ys[t * per_tile + j] = tile_ys[j];
        }
    }
    if (f->ahead) {
        /* Chunk c + 2's inputs, in flight until chunk c + 1 scans them. */
        int an2 = scan_ahead_load(f, bini(f, TB_ADD, c, 2), anext);
        LAC_ASSERT(an2 == an);
        tir_at(P_, v->loc);
        for (int k = 0; k < an; k++)
            if (anext[k].lanes) ys[lane_at[k]] = anext[k].lanes;
    }
    tir_for_end(P_, ys);
    /* The final state, or the segment's record. */
    tir_at(P_, v->loc);
    TirValue *outs[3 * MAX_STATE_TILES];
    for (int t = 0; t < per; t++) {
        if (wide) {
            outs[2 * t] = tir_cols(P_, loop->results[t], 0, f->BV, "S");
            outs[2 * t + 1] = tir_cols(P_, loop->results[t], f->BV, 8, "Z");
        } else {
            for (int j = 0; j < per_tile; j++) outs[t * per_tile + j] = loop->results[t * per_tile + j];
        }
    }
    for (int t = 0; t < per; t++) {
        TirValue **res = &outs[t * per_tile];
        if (owns[t]) tir_if_begin(P_, owns[t], 0, NULL);
        if (split_state) {
            TirValue *rix = bin(f, TB_ADD, bin(f, TB_MUL, f->bh, f->nseg), f->seg);
            tir_ststate(P_, res[0], f->BV, f->ws, rix, f->rec, 0, dk, dv, f0s[t], 0, f->v0, 0, false);
            if (f->norm) tir_ststate(P_, res[1], 8, f->ws, rix, f->rec, dk * dv, dk, dk, f0s[t], 0, NULL, 0, true);
            tir_if_begin(P_, bin(f, TB_EQ, f->v0, ci(f, 0)), 0, NULL);
            tir_ststate(P_, res[per_tile - 1], 8, f->ws, rix, f->rec, dk * dv + dk, dk, dk, f0s[t], 0, NULL, 0, true);
            tir_if_end(P_, NULL);
        } else {
            /* Only the last segment holds the final state. */
            TirValue *last = bin(f, TB_EQ, bini(f, TB_ADD, f->seg, 1), f->nout);
            tir_if_begin(P_, last, 0, NULL);
            tir_ststate(P_, res[0], f->BV, f->sfin, f->bh, dk * dv, 0, dk, dv, f0s[t], 0, f->v0, 0, false);
            if (f->norm) {
                tir_if_begin(P_, bin(f, TB_EQ, f->v0, ci(f, 0)), 0, NULL);
                tir_ststate(P_, res[1], 8, f->zfin, f->bh, dk, 0, dk, dk, f0s[t], 0, NULL, 0, true);
                tir_if_end(P_, NULL);
            }
            tir_if_end(P_, NULL);
        }
        if (owns[t]) tir_if_end(P_, NULL);
    }
}

/* ------------------------------------------------------------------------
 * The kernel
 * ------------------------------------------------------------------------ */

KernelConfig kernel_config_default(const Variant *v)
{
    KernelConfig kc = {v->tune.tile[KNOB_CHUNK], v->tune.tile[KNOB_SUBCHUNK], v->tune.tile[KNOB_BLOCK_K],
                       v->tune.tile[KNOB_BLOCK_V], v->tune.tile[KNOB_WARPS], v->tune.tile[KNOB_STAGES]};
    return kc;
}

const char *fwd_kind_name(FwdKind k)
{
    static const char *const s[] = {"full", "split_state", "split_out"};
    return s[k];
}

static void params(Fwd *f)
{
    const Variant *v = f->v;
    char shape[96];
    f->in = arena_alloc(P_->a, sizeof(TirValue *) * (size_t)(v->ninputs + 1));
    for (int i = 0; i < v->ninputs; i++) {
        const Symbol *y = v->inputs[i];
        switch (y->layout) {
        case LAYOUT_TOKEN: snprintf(shape, sizeof shape, "[B, T, H]"); break;
        case LAYOUT_TOKEN_VEC: snprintf(shape, sizeof shape, "[B, T, H, %d]", y->cols); break;
        case LAYOUT_HEAD: snprintf(shape, sizeof shape, "[H]"); break;
        case LAYOUT_HEAD_VEC: snprintf(shape, sizeof shape, "[H, %d]", y->cols); break;
        case LAYOUT_HEAD_MAT: snprintf(shape, sizeof shape, "[H, %d, %d]", y->rows, y->cols); break;
        case LAYOUT_SHARED_VEC: snprintf(shape, sizeof shape, "[%d]", y->cols); break;
        case LAYOUT_SHARED_MAT: snprintf(shape, sizeof shape, "[%d, %d]", y->rows, y->cols); break;
        }
        int gcols = y->layout == LAYOUT_TOKEN ? 1 : y->cols;
        f->in[i] = tir_param_gmem(P_, y->name, y, elem_of(y->dtype), gcols, shape, false);
    }
    snprintf(shape, sizeof shape, "[B, T, H, %d]", f->dv);
    f->o = tir_param_gmem(P_, "o", NULL, elem_of(f->io), f->dv, shape, false);
    snprintf(shape, sizeof shape, "[B, H, %d, %d]", f->dk, f->dv);
    f->s0 = tir_param_gmem(P_, "s0", NULL, TE_F32, f->dv, shape, true);
    f->sfin = tir_param_gmem(P_, "s_final", NULL, TE_F32, f->dv, shape, true);
    if (f->norm) {
        snprintf(shape, sizeof shape, "[B, H, %d]", f->dk);
        f->z0 = tir_param_gmem(P_, "z0", NULL, TE_F32, f->dk, shape, true);
        f->zfin = tir_param_gmem(P_, "z_final", NULL, TE_F32, f->dk, shape, true);
    }
    f->B = tir_param_i32(P_, "B");
    f->T = tir_param_i32(P_, "T");
    f->H = tir_param_i32(P_, "H");
    if (f->kind != FWD_FULL) {
        snprintf(shape, sizeof shape, "[B, H, segments, %d]", f->rec);
        f->ws = tir_param_gmem(P_, "ws", NULL, TE_F32, f->rec, shape, false);
        f->seglen = tir_param_i32(P_, "seglen");
    }
}

TirProgram *tmpl_fwd(const Variant *v, const KernelConfig *kc, FwdKind kind, Arena *a, Diags *d,
                     KernelInfo *info)
{
    if (!fwd_supported(v, kc, d)) return NULL;
    Fwd fs, *f = &fs;
    memset(f, 0, sizeof *f);
    f->v = v;
    f->kc = kc;
    f->kind = kind;
    f->d = d;
    f->C = kc->chunk;
    f->dk = v->dk;
    f->dkp = round_up(v->dk, 16);
    f->dv = v->dv;
    f->BV = kc->block_v;
    f->NS = kc->stages;
    f->W = kc->warps;
    f->norm = v->normalize;
    f->io = fwd_io_dtype(v);
    f->op = elem_of(f->io) == TE_F32 ? TE_SPLIT : elem_of(f->io);
    f->nmt = f->dkp / 16;
    if (kind == FWD_SPLIT_STATE) {
        f->WA = 0;
        f->WB = f->W;
    } else {
        f->WA = f->W / 2;
        f->WB = f->W - f->WA;
    }
    f->rec = f->dk * f->dv + 2 * f->dk;
    /* The fp32 state lives in the state warps' registers: beyond 96 floats
     * a thread (128 x 64 over 4 warps is 64) ptxas spills. */
    int per_thread = f->dkp * (f->BV + (f->norm ? 8 : 0)) / (32 * f->WB);
    if (per_thread > STATE_FLOATS_MAX) {
        diag_error(d, v->loc,
                   "block_v = %d with warps = %d leaves %d floats of the %d x %d state to each thread of "
                   "the %d state warps; at most %d fit in registers: use more warps or a smaller block_v",
                   f->BV, f->W, per_thread, f->dk, f->BV, f->WB, STATE_FLOATS_MAX);
        return NULL;
    }
    char name[96];
    snprintf(name, sizeof name, "lac_%s_fwd%s%s", v->name, kind == FWD_FULL ? "" : "_",
             kind == FWD_FULL ? "" : fwd_kind_name(kind));
    f->p = tir_program_new(a, v, name, f->W * 32);
    params(f);

    /* Operand tiles: staged as they are, or row maps into one buffer. */
    f->qin = direct_input(v->query);
    f->kin = direct_input(v->key);
    f->vin = direct_input(v->value);
    TirElem ope = f->op;
    f->qring = f->qin && elem_of(f->qin->dtype) == ope && f->qin->cols % 8 == 0;
    f->kring = f->kin && elem_of(f->kin->dtype) == ope && f->kin->cols % 8 == 0;
    f->vring = f->vin && elem_of(f->vin->dtype) == ope && f->vin->cols % 8 == 0;
    if (kind == FWD_SPLIT_STATE) f->qring = true; /* no query at all */
    tir_at(P_, v->loc);
    if (kind != FWD_SPLIT_STATE) {
        if (f->qring) f->Qop = stage_input(f, f->qin, false, f->dkp)->tile;
        else stage_reads(f, v->query, false);
    }
    if (f->kring) f->Kop = stage_input(f, f->kin, false, f->dkp)->tile;
    else stage_reads(f, v->key, false);
    if (f->vring) f->Vop = stage_input(f, f->vin, true, f->BV)->tile;
    else stage_reads(f, v->value, true);
    /* A per-key decay of one f32 [B, T, H, K] input that nothing else reads
     * (GLA's g) is scanned in place, into the input's ring slot (the scan
     * reads a row before it writes it; the slot is refilled only after the
     * next chunk's first barrier): 34 KB less shared memory at K = 128,
     * which gives GLA block_v 64 with two stages. Its rows are padded by 8
     * floats, as the separate tile's are, so that the operand transforms'
     * two-float reads (token rows g, channels 2c) hit 32 banks. */
    if (v->decay == DECAY_PER_KEY) {
        const Symbol *y = single_input(f->v, v->decay_expr);
        if (y && y->layout == LAYOUT_TOKEN_VEC && y->dtype == DT_F32 && y->cols == f->dk && f->dk == f->dkp &&
            !staged_find(f, y, false)) {
            f->Bt = stage_input_pad(f, y, false, y->cols, 8)->tile;
            f->bt_ring = true;
        }
    }
    /* Both roles as warpgroups (the output role's four warps of 16 rows:
     * out_plan gives warp w rows 16 w) on wgmma where the target has it:
     * operands as they are, in 128-byte-swizzled tiles (64-column blocks).
     * K of 64 or 128: at 192 the three state tiles' products side by side
     * need more than 255 registers (ptxas spills), which the mma.sync path
     * does not. */
    f->wg = f->WA == 4 && f->C == 64 && (ope == TE_BF16 || ope == TE_F16) && f->qring && f->kring && f->vring &&
            (f->dkp == 64 || f->dkp == 128) && f->BV == 64 && kind != FWD_SPLIT_STATE;
    /* A per-key decay as warpgroups: GLA's fast form (bf16: k e^-B is staged
     * in the operand type, and e^60 |k| is no f16), with the sub-chunk form
     * on mma.sync for the steep chunks. Not normalized (not built). */
    if (v->decay == DECAY_PER_KEY) f->wg = f->wg && ope == TE_BF16 && f->dk == f->dkp && !f->norm;
    f->pkwg = f->wg && v->decay == DECAY_PER_KEY;
    /* A per-token decay of [B, T, H] and per-head inputs is scanned a chunk
     * ahead from global memory (scan_ahead_load), so its inputs need no ring
     * (mamba2's dt is staged for its value map all the same). In the
     * warpgroup form only: on mma.sync the carried inputs cost mamba2 a
     * spill on sm_80 (block_v 32, three stages), and nothing was measured
     * there. */
    if (v->decay == DECAY_PER_TOKEN && f->wg) {
        bool used[1024] = {0};
        inputs_read(v->decay_expr, used);
        f->ahead = true;
        for (int i = 0; i < v->ninputs; i++)
            if (used[i] && (v->inputs[i]->layout == LAYOUT_TOKEN_VEC || v->inputs[i]->layout == LAYOUT_HEAD_MAT ||
                            v->inputs[i]->layout == LAYOUT_SHARED_MAT))
                f->ahead = false;
    }
    if (v->decay_expr && !f->ahead) stage_reads(f, v->decay_expr, false);
    if (kind != FWD_SPLIT_STATE && !f->qring) f->Qop = tir_smem(P_, "qf", ope, 1, f->C, f->dkp, 8);
    if (!f->kring) f->Kop = tir_smem(P_, "kf", ope, 1, f->C, f->dkp, 8);
    /* A mapped value (mamba2's v * delta) is a product the kernel rounds;
     * in bf16 its rounding shows where o cancels, so it is carried split
     * (hi + lo, two mma.sync with the bf16 operand it meets). Inputs used
     * as they are (vring) are already exact in their dtype. f16 operands
     * keep f16: the split's planes are bf16. */
    TirElem vope = !f->vring && ope == TE_BF16 && !f->vin ? TE_SPLIT : ope;
    if (!f->vring) f->Vop = tir_smem(P_, "vf", vope, 1, f->C, f->BV + (f->norm ? 8 : 0), 8);
    /* A per-head decay (no token input to wait for) is scanned by every warp
     * into its own copy, with no barrier; a per-token one by one state warp,
     * then a barrier (H200, B4 T4096 H16 D128, bf16, one call: retnet 0.1132
     * -> 0.1116 ms per warp, simple_gla 0.1176 -> 0.1246, so not there). */
    f->bvec_own = v->decay == DECAY_PER_HEAD;
    /* A per-head decay (b_i = (i + 1) lam) is a table made once, e^(d lam)
     * for d = -(C - 1) .. C (0 below 0): one read an element, no scan and no
     * exp in the chunk loop (the split's state pass, which sums the chunks'
     * decays, keeps the scan). */
    if (v->decay == DECAY_PER_HEAD && kind != FWD_SPLIT_STATE) {
        f->dtab = tir_smem(P_, "dtab", TE_F32, 1, 1, 2 * f->C, 0);
        f->bvec_own = false;
    } else if (v->decay == DECAY_PER_TOKEN || v->decay == DECAY_PER_HEAD) {
        f->bvec = tir_smem(P_, "b", TE_F32, f->bvec_own ? f->W : f->ahead ? 2 : 1, 1, f->C, 0);
    }
    if (v->decay == DECAY_PER_KEY && !f->bt_ring) f->Bt = tir_smem(P_, "B", TE_F32, 1, f->C, f->dkp, 8);
    if (f->wg) {
        tir_smem_swizzle(f->Qop);
        tir_smem_swizzle(f->Kop);
        tir_smem_swizzle(f->Vop);
    }
    if (f->pkwg) {
        f->Kx = tir_smem(P_, "kx", TE_BF16, 1, f->C, f->dkp, 0);
        tir_smem_swizzle(f->Kx);
    }
    if (f->WA > 0) {
        f->Scopy = tir_smem(P_, "Sc", ope, 2, f->dkp, f->BV + (f->norm ? 8 : 0), 8);
        if (f->wg) tir_smem_swizzle(f->Scopy);
        f->ostage = tir_smem(P_, "ostage", elem_of(f->io), f->WA, 16, f->BV, 16 / dtype_size(f->io));
    }

    /* Who and where. */
    f->tid = tir_sreg(P_, "tid.x");
    f->warp = tir_bin(P_, TB_DIV, f->tid, ci(f, 32), "warp");
    f->bh = tir_sreg(P_, "ctaid.y");
    f->b = tir_bin(P_, TB_DIV, f->bh, f->H, "b");
    f->h = tir_bin(P_, TB_REM, f->bh, f->H, "h");
    f->v0 = tir_bin(P_, TB_MUL, tir_sreg(P_, "ctaid.x"), ci(f, f->BV), "v0");
    TirValue *nch = tir_bin(P_, TB_DIV, bini(f, TB_ADD, f->T, f->C - 1), ci(f, f->C), "nch");
    if (kind == FWD_FULL) {
        f->seg = ci(f, 0);
        f->nseg = ci(f, 1);
        f->nout = f->nseg;
        f->c_lo = ci(f, 0);
        f->c_hi = nch;
    } else {
        f->seg = tir_sreg(P_, "ctaid.z");
        /* The state pass's segments of seglen tokens cover T, but it is
         * launched only for those an output block reads (not the last
         * output segment's), so their count comes from T, not the grid. */
        f->nseg = tir_bin(P_, TB_DIV, bin(f, TB_ADD, f->T, bini(f, TB_SUB, f->seglen, 1)), f->seglen, "nseg");
        TirValue *cps = tir_bin(P_, TB_DIV, f->seglen, ci(f, f->C), "cps");
        if (kind == FWD_SPLIT_OUT) {
            /* An output block takes grp consecutive segments of the state
             * pass (its grid has fewer layers than there are segments). */
            f->nout = tir_sreg(P_, "nctaid.z");
            f->grp = tir_bin(P_, TB_DIV, bin(f, TB_ADD, f->nseg, bini(f, TB_SUB, f->nout, 1)), f->nout, "grp");
            cps = tir_bin(P_, TB_MUL, cps, f->grp, "cpo");
        }
        f->c_lo = tir_bin(P_, TB_MUL, f->seg, cps, "c_lo");
        f->c_hi = tir_bin(P_, TB_MIN, bin(f, TB_ADD, f->c_lo, cps), nch, "c_hi");
    }
    if (kind != FWD_SPLIT_STATE) {
        tir_at(P_, v->scale->loc);
        TirEnv env[1024];
        int n = env_of(f, v->scale, false, NULL, env);
        f->scale = v->scale->type.known ? tir_f32(P_, v->scale->type.value)
                                        : tir_la_scalar(P_, v->scale, env, n, f->b, f->h, "scale");
    }
    if (f->dtab) {
        tir_at(P_, v->decay_expr->loc);
        TirEnv env[1024];
        int n = env_of(f, v->decay_expr, false, NULL, env);
        TirValue *lam = tir_la_scalar(P_, v->decay_expr, env, n, f->b, f->h, "lam");
        tir_decay_table(P_, f->dtab, lam, f->C - 1);
    }
    tir_at(P_, v->loc);
    if (f->norm) {
        /* The ones of the normalizer, once for every buffer. */
        tir_fill(P_, f->Vop, f->BV, f->BV + 8, 1.0);
    }
    /* The prologue: chunks c_lo .. c_lo + NS - 2. */
    for (int s = 0; s + 1 < f->NS; s++) {
        TirValue *c = bini(f, TB_ADD, f->c_lo, s);
        tir_if_begin(P_, bin(f, TB_LT, c, f->c_hi), 0, NULL);
        issue_chunk(f, c, ci(f, s), PART_ALL);
        tir_if_end(P_, NULL);
        tir_commit(P_);
    }
    if (f->WA > 0) {
        /* In the warpgroup form the roles' branch is on the warp index
         * broadcast from lane 0 (sreg "warp"), which ptxas then knows is
         * uniform: the descriptors stay in uniform registers (no R2UR
         * before every wgmma; linear's output loop 449 -> 335 SASS
         * instructions, 0.0829 -> 0.0794 ms at B4 T4096 H16 on the H200).
         * Not with a decay scanned ahead: ptxas then hoisted the scan above
         * the state products and simple_gla's full kernel took 0.112 ->
         * 0.126 ms; nor in the mma.sync forms, where it spilled
         * (linear_elu and cosformer at block_v 64). */
        TirValue *w = f->wg && !f->ahead ? tir_sreg(P_, "warp") : f->warp;
        tir_if_begin(P_, bin(f, TB_LT, w, ci(f, f->WA)), 0, NULL);
        role_output(f);
        tir_else(P_, NULL);
        role_state(f);
        tir_if_end(P_, NULL);
    } else {
        role_state(f);
    }
    tir_layout_smem(P_);

    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", name);
    info->threads = f->W * 32;
    info->smem_bytes = P_->smem_bytes;
    info->block_v = f->BV;
    info->chunk = f->C;
    info->dk = f->dk;
    info->dv = f->dv;
    info->io = f->io;
    info->norm = f->norm;
    info->kind = kind;
    info->config = *kc;
    return P_;
}
