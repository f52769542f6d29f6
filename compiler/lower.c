/*
 * lower.c: the tile IR to LLVM IR, through the helpers of codegen_llvm.c.
 *
 * Every TirValue becomes LLVM values: a scalar one value, a fragment an
 * array of registers in the mma.sync m16n8k16 layouts (lac_internal.h, tile
 * IR), a shared tile a byte offset in the dynamic shared memory, a global
 * tensor a kernel parameter. Regions become basic blocks; carried values and
 * the results of `if` become phi nodes, one per register.
 *
 * Two choices keep the register count of the kernels down:
 *   - Shared-memory addresses are a per-region base made opaque to LLVM
 *     (cg_opaque_i32) plus a constant. Otherwise LLVM hoists every ldmatrix
 *     and copy address out of the chunk loop, about 80 live registers.
 *   - MMA operands may come straight from shared memory: the lowering loads
 *     each 16x16 block with ldmatrix right before the mma.sync that uses it
 *     (and applies the operand's transform in between), so a whole operand
 *     is never live in registers.
 * Stores of outputs go through a per-warp shared tile so that each thread
 * writes 16 contiguous bytes.
 */
#include <string.h>

#include "codegen.h"

typedef struct LVal {
    LLVMValueRef v;  /* scalars, pointers */
    LLVMValueRef *r; /* fragment registers */
    int nr;
} LVal;

/* A cached opaque base address, valid in the region (scope) that made it. */
typedef struct BaseEnt {
    int tile, buf, row0, col0, pattern, plane;
    LLVMValueRef base;
} BaseEnt;

typedef struct Scope {
    BaseEnt *e;
    int n, cap;
} Scope;

enum { MAX_SCOPES = 96 };

typedef struct Low {
    Cg *cg;
    const TirProgram *p;
    LVal *vals;
    LLVMValueRef *params;
    LLVMValueRef tid, lane, warp, g, c; /* the thread's place: lane = 4 g + c */
    LLVMValueRef pat_r[2], pat_c[2];     /* ldmatrix lane patterns P0, P1 */
    Scope scopes[MAX_SCOPES];
    int nscope;
    const TirOp *yield; /* the yield that ended the block just lowered */
    const TirOp *next;  /* the op after the one being lowered in its block, or NULL */
    /* Warpgroup products committed but not yet waited for: their result
     * registers, rewritten in place by the wait that ends them. */
    LLVMValueRef *pend[4];
    const TirValue *pendv[4];
    int npend[4], ndeferred;
} Low;

#define B_ (L->cg->b)

static LLVMValueRef ci(Low *L, long long x) { return cg_i32(L->cg, x); }
static LLVMValueRef cf(Low *L, double x) { return cg_f32(L->cg, x); }
static LLVMValueRef add(Low *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(B_, a, b, ""); }
static LLVMValueRef mul(Low *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(B_, a, b, ""); }
static LLVMValueRef addc(Low *L, LLVMValueRef a, long long x) { return x ? add(L, a, ci(L, x)) : a; }
static LLVMValueRef mulc(Low *L, LLVMValueRef a, long long x) { return mul(L, a, ci(L, x)); }
static LLVMValueRef slt(Low *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(B_, LLVMIntSLT, a, b, ""); }
static LLVMValueRef sext(Low *L, LLVMValueRef a) { return LLVMBuildSExt(B_, a, L->cg->t_i64, ""); }
static LLVMValueRef fmul(Low *L, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(B_, a, b, ""); }

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

static LLVMValueRef vi(Low *L, const TirValue *x)
{
    if (!x) return NULL;
    if (x->is_const) return x->type == TT_F32 ? cf(L, x->cval) : ci(L, (long long)x->cval);
    LLVMValueRef v = L->vals[x->id].v;
    LAC_ASSERT(v != NULL);
    return v;
}

/* An i32 operand that may be absent (0). */
static LLVMValueRef vi0(Low *L, const TirValue *x) { return x ? vi(L, x) : ci(L, 0); }

static LLVMValueRef *regs(Low *L, const TirValue *x)
{
    LAC_ASSERT(x->type == TT_FRAG && L->vals[x->id].r != NULL);
    return L->vals[x->id].r;
}

static int frag_nregs(const TirValue *x)
{
    switch (x->role) {
    case TR_ACC: return x->rows / 16 * (x->cols / 8) * 4;
    case TR_A: return x->rows / 16 * (x->cols / 16) * 4 * (x->elem == TE_SPLIT ? 2 : 1);
    case TR_B: return x->rows / 16 * (x->cols / 8) * 2 * (x->elem == TE_SPLIT ? 2 : 1);
    }
    return 0;
}

static LLVMValueRef *regs_new(Low *L, int n)
{
    return arena_alloc(L->cg->a, sizeof(LLVMValueRef) * (size_t)(n ? n : 1));
}

static void set_frag(Low *L, const TirValue *x, LLVMValueRef *r)
{
    L->vals[x->id].r = r;
    L->vals[x->id].nr = frag_nregs(x);
}

static int acc_index(const TirValue *f, int mt, int nt, int e) { return (mt * (f->cols / 8) + nt) * 4 + e; }

static int a_index(const TirValue *f, int mt, int kt, int r, int plane)
{
    int per = f->rows / 16 * (f->cols / 16) * 4;
    return plane * per + (mt * (f->cols / 16) + kt) * 4 + r;
}

/* ------------------------------------------------------------------------
 * Shared memory addressing
 * ------------------------------------------------------------------------ */

static int planes(const TirValue *t) { return t->elem == TE_SPLIT ? 2 : 1; }
static int ebytes(const TirValue *t) { return tir_elem_bytes(t->elem); }
static int plane_bytes(const TirValue *t) { return t->rows * t->stride * ebytes(t); }
static int buf_bytes(const TirValue *t) { return planes(t) * plane_bytes(t); }

static void scope_push(Low *L)
{
    LAC_ASSERT(L->nscope < MAX_SCOPES);
    Scope *s = &L->scopes[L->nscope++];
    s->n = 0;
}

static void scope_pop(Low *L) { L->nscope--; }

static int vid(const TirValue *x)
{
    if (!x) return -1;
    if (x->is_const) return -1000 - (int)x->cval; /* constants are keyed by value */
    return x->id;
}

/* The scope cache of opaque per-region values (bases, lane parts,
 * descriptor fields), keyed by six ints. */
static LLVMValueRef base_find(Low *L, const int key[6])
{
    for (int s = L->nscope - 1; s >= 0; s--)
        for (int i = 0; i < L->scopes[s].n; i++) {
            BaseEnt *e = &L->scopes[s].e[i];
            if (e->tile == key[0] && e->buf == key[1] && e->row0 == key[2] && e->col0 == key[3] &&
                e->pattern == key[4] && e->plane == key[5])
                return e->base;
        }
    return NULL;
}

static LLVMValueRef base_put(Low *L, const int key[6], LLVMValueRef v)
{
    Scope *s = &L->scopes[L->nscope - 1];
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        BaseEnt *ne = arena_alloc(L->cg->a, sizeof(BaseEnt) * (size_t)cap);
        if (s->n) memcpy(ne, s->e, sizeof(BaseEnt) * (size_t)s->n);
        s->e = ne;
        s->cap = cap;
    }
    BaseEnt *e = &s->e[s->n++];
    e->tile = key[0];
    e->buf = key[1];
    e->row0 = key[2];
    e->col0 = key[3];
    e->pattern = key[4];
    e->plane = key[5];
    e->base = v;
    return v;
}

enum { PAT_NONE = -1, PAT_ACC = 2 };

/* The thread's byte offset in `t`: buffer `buf`, plane, origin (row0, col0)
 * and its lane's part of the access pattern (P0, P1: ldmatrix rows; PAT_ACC:
 * row g, column 2c of an accumulator; PAT_NONE: none), behind an opaque move. */
static LLVMValueRef smem_base(Low *L, const TirValue *t, const TirValue *buf, const TirValue *row0,
                              const TirValue *col0, int pattern, int plane)
{
    int key[6] = {t->id, vid(buf), vid(row0), vid(col0), pattern, plane};
    LLVMValueRef found = base_find(L, key);
    if (found) return found;
    int eb = ebytes(t);
    /* A swizzled tile's base is its buffer's; lanes add swz_rel. */
    LAC_ASSERT(!t->swizzle || (!row0 && !col0 && pattern == PAT_NONE));
    LLVMValueRef x = ci(L, t->offset + plane * plane_bytes(t));
    if (buf) x = add(L, x, mulc(L, vi(L, buf), buf_bytes(t)));
    if (row0) x = add(L, x, mulc(L, vi(L, row0), (long long)t->stride * eb));
    if (col0) x = add(L, x, mulc(L, vi(L, col0), eb));
    if (pattern == 0 || pattern == 1)
        x = add(L, x, mulc(L, add(L, mulc(L, L->pat_r[pattern], t->stride), L->pat_c[pattern]), eb));
    else if (pattern == PAT_ACC)
        x = add(L, x, mulc(L, add(L, mulc(L, L->g, t->stride), mulc(L, L->c, 2)), eb));
    return base_put(L, key, cg_opaque_i32(L->cg, x));
}

/* v as base + constant: the constant terms of a tree of adds come out, so
 * that the elements of a fragment (the lane's coordinates plus constants)
 * share one address and differ by an immediate. *base is NULL when v is a
 * constant. */
static void peel_const(Low *L, LLVMValueRef v, LLVMValueRef *base, long long *c)
{
    if (LLVMIsAConstantInt(v)) {
        *base = NULL;
        *c = LLVMConstIntGetSExtValue(v);
        return;
    }
    /* a tree of adds, and row - col (a decay table's index) */
    LLVMOpcode opc = LLVMIsAInstruction(v) ? LLVMGetInstructionOpcode(v) : LLVMRet;
    if (opc == LLVMAdd || opc == LLVMSub) {
        LLVMValueRef ba, bb;
        long long ca, cb;
        peel_const(L, LLVMGetOperand(v, 0), &ba, &ca);
        peel_const(L, LLVMGetOperand(v, 1), &bb, &cb);
        if (opc == LLVMAdd) {
            *c = ca + cb;
            *base = ba && bb ? add(L, ba, bb) : ba ? ba : bb;
        } else {
            *c = ca - cb;
            *base = ba && bb ? LLVMBuildSub(B_, ba, bb, "") : ba ? ba : bb ? LLVMBuildNeg(B_, bb, "") : NULL;
        }
        return;
    }
    *base = v;
    *c = 0;
}

static LLVMValueRef swz_rel(Low *L, const TirValue *t, LLVMValueRef row, LLVMValueRef col);

/* Element (row, col) of buffer buf of t, plane `plane`, as an i32 byte
 * offset (no caching): the lane-dependent part of row and col, then the
 * constant part as one immediate. */
static LLVMValueRef smem_elem(Low *L, const TirValue *t, LLVMValueRef buf, LLVMValueRef row, LLVMValueRef col,
                              int plane)
{
    int eb = ebytes(t);
    if (t->swizzle) {
        LLVMValueRef x = addc(L, swz_rel(L, t, row, col), t->offset + (long long)plane * plane_bytes(t));
        return buf ? add(L, x, mulc(L, buf, buf_bytes(t))) : x;
    }
    LLVMValueRef rb, cb;
    long long rc, cc;
    peel_const(L, row, &rb, &rc);
    peel_const(L, col, &cb, &cc);
    long long k = t->offset + (long long)plane * plane_bytes(t) + (rc * t->stride + cc) * eb;
    LLVMValueRef x = rb && cb ? add(L, mulc(L, rb, t->stride), cb) : rb ? mulc(L, rb, t->stride) : cb;
    if (x) x = mulc(L, x, eb);
    if (buf) {
        LLVMValueRef bo = mulc(L, buf, buf_bytes(t));
        x = x ? add(L, bo, x) : bo;
    }
    return x ? addc(L, x, k) : ci(L, k);
}

/* The byte offset of physical (row, col) in one buffer of a swizzled tile
 * (lac_internal.h, TirValue.swizzle): column block col / 64 of rows x 128
 * bytes, row * 128, the 16-byte chunk (col / 8) % 8 XOR row % 8. */
static LLVMValueRef swz_rel(Low *L, const TirValue *t, LLVMValueRef row, LLVMValueRef col)
{
    LLVMValueRef blk = LLVMBuildLShr(B_, col, ci(L, 6), "");
    LLVMValueRef chunk = LLVMBuildAnd(B_, LLVMBuildLShr(B_, col, ci(L, 3), ""), ci(L, 7), "");
    LLVMValueRef x = LLVMBuildXor(B_, chunk, LLVMBuildAnd(B_, row, ci(L, 7), ""), "");
    LLVMValueRef off = add(L, mulc(L, blk, (long long)t->rows * 128), mulc(L, row, 128));
    off = add(L, off, LLVMBuildShl(B_, x, ci(L, 4), ""));
    return add(L, off, mulc(L, LLVMBuildAnd(B_, col, ci(L, 7), ""), 2));
}

/* The lane's physical row and column in a swizzled tile for an access
 * pattern (P0, P1, PAT_ACC) from the origin (row0, col0), opaque and cached
 * like smem_base. */
static void swz_lane(Low *L, const TirValue *t, const TirValue *row0, const TirValue *col0, int pattern,
                     LLVMValueRef *row, LLVMValueRef *col)
{
    for (int k = 0; k < 2; k++) {
        int key[6] = {t->id, -7 - k, vid(row0), vid(col0), pattern, 0};
        LLVMValueRef v = base_find(L, key);
        if (!v) {
            LLVMValueRef x;
            if (k == 0) x = add(L, vi0(L, row0), pattern == PAT_ACC ? L->g : L->pat_r[pattern]);
            else x = add(L, vi0(L, col0), pattern == PAT_ACC ? mulc(L, L->c, 2) : L->pat_c[pattern]);
            v = base_put(L, key, cg_opaque_i32(L->cg, x));
        }
        if (k == 0) *row = v;
        else *col = v;
    }
}

static LLVMValueRef sptr(Low *L, LLVMValueRef off) { return cg_smem_at(L->cg, off); }

static LLVMValueRef load_f32_smem(Low *L, const TirValue *t, LLVMValueRef buf, LLVMValueRef row, LLVMValueRef col)
{
    Cg *cg = L->cg;
    LLVMValueRef p = sptr(L, smem_elem(L, t, buf, row, col, 0));
    switch (t->elem) {
    case TE_F32: return LLVMBuildLoad2(B_, cg->t_f32, p, "");
    case TE_BF16: return LLVMBuildFPExt(B_, LLVMBuildLoad2(B_, cg->t_bf16, p, ""), cg->t_f32, "");
    case TE_F16: return LLVMBuildFPExt(B_, LLVMBuildLoad2(B_, LLVMHalfTypeInContext(cg->ctx), p, ""), cg->t_f32, "");
    case TE_SPLIT: {
        LLVMValueRef hi = LLVMBuildFPExt(B_, LLVMBuildLoad2(B_, cg->t_bf16, p, ""), cg->t_f32, "");
        LLVMValueRef p1 = sptr(L, smem_elem(L, t, buf, row, col, 1));
        LLVMValueRef lo = LLVMBuildFPExt(B_, LLVMBuildLoad2(B_, cg->t_bf16, p1, ""), cg->t_f32, "");
        return LLVMBuildFAdd(B_, hi, lo, "");
    }
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Elementwise expressions
 * ------------------------------------------------------------------------ */

typedef struct ExCtx {
    LLVMValueRef x, row, col;
    int mt, nt, e; /* the element's slot in an ACC fragment (SLOT, FRAG), or mt < 0 */
} ExCtx;

/* a <= b (or a < b) of small integers as (base_a - base_b) against the
 * constant cb - ca: the lane's row and column bases differ once, so the
 * causal mask's compare of each element takes an immediate (it took the
 * column's own register, built by a LOP3 a column). */
static LLVMValueRef icmp_peeled(Low *L, LLVMIntPredicate pred, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef ba, bb;
    long long ca, cb;
    peel_const(L, a, &ba, &ca);
    peel_const(L, b, &bb, &cb);
    LLVMValueRef d = ba && bb ? LLVMBuildSub(B_, ba, bb, "") : ba ? ba : bb ? LLVMBuildNeg(B_, bb, "") : ci(L, 0);
    return LLVMBuildICmp(B_, pred, d, ci(L, (int)(cb - ca)), "");
}

static LLVMValueRef ex_eval(Low *L, const TirEx *e, const ExCtx *k)
{
    Cg *cg = L->cg;
    switch (e->kind) {
    case TX_X: return k->x;
    case TX_ROW: return k->row;
    case TX_COL: return k->col;
    case TX_CONST: return cf(L, e->num);
    case TX_ICONST: return ci(L, e->ival);
    case TX_SCALAR: return vi(L, e->val);
    case TX_VEC:
        return load_f32_smem(L, e->val, e->buf ? vi(L, e->buf) : NULL, ci(L, 0), ex_eval(L, e->a, k));
    case TX_MAT:
        return load_f32_smem(L, e->val, e->buf ? vi(L, e->buf) : NULL, ex_eval(L, e->a, k), ex_eval(L, e->b, k));
    case TX_SLOT:
        LAC_ASSERT(k->mt >= 0);
        return regs(L, e->val)[acc_index(e->val, k->mt, e->ival, k->e)];
    case TX_FRAG:
        LAC_ASSERT(k->mt >= 0);
        return regs(L, e->val)[acc_index(e->val, k->mt, k->nt, k->e)];
    case TX_NEG: return LLVMBuildFNeg(B_, ex_eval(L, e->a, k), "");
    case TX_EXP: return cg_exp(cg, ex_eval(L, e->a, k));
    case TX_EXP2: return cg_exp2(cg, ex_eval(L, e->a, k));
    default: break;
    }
    LLVMValueRef a = ex_eval(L, e->a, k), b = e->b ? ex_eval(L, e->b, k) : NULL;
    switch (e->kind) {
    case TX_ADD: return LLVMBuildFAdd(B_, a, b, "");
    case TX_SUB: return LLVMBuildFSub(B_, a, b, "");
    case TX_MUL: return LLVMBuildFMul(B_, a, b, "");
    case TX_DIV: return LLVMBuildFDiv(B_, a, b, "");
    case TX_MAX: {
        LLVMTypeRef p[2] = {cg->t_f32, cg->t_f32};
        LLVMValueRef args[2] = {a, b};
        return cg_call(cg, "llvm.maxnum.f32", cg->t_f32, p, args, 2);
    }
    case TX_MIN: {
        LLVMTypeRef p[2] = {cg->t_f32, cg->t_f32};
        LLVMValueRef args[2] = {a, b};
        return cg_call(cg, "llvm.minnum.f32", cg->t_f32, p, args, 2);
    }
    case TX_IADD: return add(L, a, b);
    case TX_ISUB: return LLVMBuildSub(B_, a, b, "");
    case TX_ILE: return icmp_peeled(L, LLVMIntSLE, a, b);
    case TX_ILT: return icmp_peeled(L, LLVMIntSLT, a, b);
    case TX_FGT: return LLVMBuildFCmp(B_, LLVMRealOGT, a, b, "");
    case TX_AND: return LLVMBuildAnd(B_, a, b, "");
    case TX_OR: return LLVMBuildOr(B_, a, b, "");
    case TX_SELECT: return LLVMBuildSelect(B_, a, b, ex_eval(L, e->c, k), "");
    default: break;
    }
    LAC_ASSERT(0 && "ex_eval: unknown expression");
    return NULL;
}

/* ------------------------------------------------------------------------
 * Uniform branches over register arrays
 * ------------------------------------------------------------------------ */

/* A phi of two incoming values, at the top of the current block. */
static LLVMValueRef phi2(Low *L, LLVMValueRef a, LLVMBasicBlockRef ba, LLVMValueRef b, LLVMBasicBlockRef bb)
{
    LLVMValueRef phi = LLVMBuildPhi(B_, LLVMTypeOf(a), "");
    LLVMValueRef vs[2] = {a, b};
    LLVMBasicBlockRef bs[2] = {ba, bb};
    LLVMAddIncoming(phi, vs, bs, 2);
    return phi;
}

typedef struct Guard {
    LLVMBasicBlockRef pre, merge;
    LLVMValueRef *saved;
    int n;
} Guard;

static void guard_begin(Low *L, Guard *G, LLVMValueRef cond, LLVMValueRef *r, int n)
{
    Cg *cg = L->cg;
    G->pre = LLVMGetInsertBlock(B_);
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "g");
    G->merge = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "g.end");
    LLVMBuildCondBr(B_, cond, then, G->merge);
    LLVMPositionBuilderAtEnd(B_, then);
    G->n = n;
    G->saved = regs_new(L, n);
    if (n) memcpy(G->saved, r, sizeof(LLVMValueRef) * (size_t)n);
    scope_push(L);
}

static void guard_end(Low *L, Guard *G, LLVMValueRef *r)
{
    scope_pop(L);
    LLVMBasicBlockRef then_end = LLVMGetInsertBlock(B_);
    LLVMBuildBr(B_, G->merge);
    LLVMPositionBuilderAtEnd(B_, G->merge);
    for (int i = 0; i < G->n; i++) {
        if (r[i] != G->saved[i]) r[i] = phi2(L, r[i], then_end, G->saved[i], G->pre);
    }
}

/* ------------------------------------------------------------------------
 * MMA
 * ------------------------------------------------------------------------ */

/* The logical origin of an operand view (row, col), as i32. */
static void view_origin(Low *L, const TirOperand *o, LLVMValueRef *oi, LLVMValueRef *oj)
{
    LLVMValueRef r = addc(L, vi0(L, o->row0), o->roff), c = addc(L, vi0(L, o->col0), o->coff);
    if (o->trans) {
        *oi = c;
        *oj = r;
    } else {
        *oi = r;
        *oj = c;
    }
}

/* Apply an operand's transform to one packed register (two elements at
 * logical (row, col0) and (row, col0 + 1) when pair_cols, else (row0, col)
 * and (row0 + 1, col)). Split operands are combined, transformed and split
 * again. */
static void transform_pair(Low *L, const TirOperand *o, TirElem elem, LLVMValueRef *hi, LLVMValueRef *lo,
                           LLVMValueRef row, LLVMValueRef col, bool pair_cols)
{
    Cg *cg = L->cg;
    LLVMValueRef x0, x1;
    cg_unpack(cg, elem, *hi, &x0, &x1);
    /* A plane of zeros (an A operand split for its transform) adds nothing:
     * x + 0 is not x for x = -0, so LLVM would keep the add. */
    bool lo_zero = elem == TE_SPLIT && LLVMIsAConstantInt(*lo) && LLVMConstIntGetZExtValue(*lo) == 0;
    if (elem == TE_SPLIT && !lo_zero) {
        LLVMValueRef l0, l1;
        cg_unpack(cg, elem, *lo, &l0, &l1);
        x0 = LLVMBuildFAdd(B_, x0, l0, "");
        x1 = LLVMBuildFAdd(B_, x1, l1, "");
    }
    ExCtx k0 = {x0, row, col, -1, 0, 0};
    ExCtx k1 = {x1, pair_cols ? row : addc(L, row, 1), pair_cols ? addc(L, col, 1) : col, -1, 0, 0};
    x0 = ex_eval(L, o->xf, &k0);
    x1 = ex_eval(L, o->xf, &k1);
    if (elem == TE_SPLIT) cg_split_bf16(cg, x0, x1, hi, lo);
    else *hi = cg_pack(cg, elem, x0, x1);
}

/* ldmatrix (x2 or x4, .trans or not) of every plane of a shared-memory
 * view at its rows sr, columns sc: out[plane]. */
static void ldmatrix_planes(Low *L, const TirOperand *o, int sr, int sc, int n, bool trans, LLVMValueRef out[2][4])
{
    const TirValue *v = o->v;
    int pat = o->trans ? 1 : 0;
    for (int pl = 0; pl < planes(v); pl++) {
        if (v->swizzle) {
            LLVMValueRef base = smem_base(L, v, o->buf, NULL, NULL, PAT_NONE, pl), lr, lc;
            swz_lane(L, v, o->row0, o->col0, pat, &lr, &lc);
            LLVMValueRef rel = swz_rel(L, v, addc(L, lr, o->roff + sr), addc(L, lc, o->coff + sc));
            cg_ldmatrix(L->cg, sptr(L, add(L, base, rel)), n, trans, out[pl]);
            continue;
        }
        LLVMValueRef base = smem_base(L, v, o->buf, o->row0, o->col0, pat, pl);
        long long off = ((long long)(o->roff + sr) * v->stride + o->coff + sc) * ebytes(v);
        cg_ldmatrix(L->cg, sptr(L, addc(L, base, off)), n, trans, out[pl]);
    }
}

/* A operand block (mt, kt): out[plane][4]. */
static void load_a(Low *L, const TirOperand *o, int mt, int kt, LLVMValueRef out[2][4])
{
    const TirValue *v = o->v;
    int np = planes(v);
    if (v->type == TT_FRAG) {
        LLVMValueRef *r = regs(L, v);
        for (int pl = 0; pl < np; pl++)
            for (int i = 0; i < 4; i++) out[pl][i] = r[a_index(v, mt, kt, i, pl)];
        return;
    }
    int m0 = mt * 16, k0 = kt * 16;
    ldmatrix_planes(L, o, o->trans ? k0 : m0, o->trans ? m0 : k0, 4, o->trans, out);
    if (!o->xf) return;
    LLVMValueRef oi, oj;
    view_origin(L, o, &oi, &oj);
    /* A split operand is transformed as the pair (hi, lo = 0). */
    TirElem te = o->split ? TE_SPLIT : v->elem;
    for (int r = 0; r < 4; r++) {
        /* a_r: row g + 8 (r % 2), columns 2c + 8 (r / 2) and the next */
        LLVMValueRef row = add(L, oi, addc(L, L->g, m0 + 8 * (r % 2)));
        LLVMValueRef col = add(L, oj, addc(L, mulc(L, L->c, 2), k0 + 8 * (r / 2)));
        if (o->split) out[1][r] = ci(L, 0);
        transform_pair(L, o, te, &out[0][r], te == TE_SPLIT ? &out[1][r] : NULL, row, col, true);
    }
}

/* The element type an operand has in the product (split: hi and lo). */
static TirElem operand_elem(const TirOperand *o) { return o->split ? TE_SPLIT : o->v->elem; }

/* B operand block (kt, n16 block np): out[plane][4] = b0, b1 of n-tile 2np
 * and of 2np + 1; `half`: only the n-tile 2np (x2), out[plane][0..1]. */
static void load_b(Low *L, const TirOperand *o, int kt, int np, bool half, LLVMValueRef out[2][4])
{
    const TirValue *v = o->v;
    LAC_ASSERT(v->type == TT_SMEM);
    int npl = planes(v);
    int k0 = kt * 16, n0 = np * 16;
    ldmatrix_planes(L, o, o->trans ? n0 : k0, o->trans ? k0 : n0, half ? 2 : 4, !o->trans, out);
    if (!o->xf) return;
    LLVMValueRef oi, oj;
    view_origin(L, o, &oi, &oj);
    for (int q = 0; q < (half ? 2 : 4); q++) {
        /* b_r of n-tile 2np + q/2: rows (k) 2c + 8r and the next, column (n) g */
        int r = q % 2, nt = q / 2;
        LLVMValueRef row = add(L, oi, addc(L, mulc(L, L->c, 2), k0 + 8 * r));
        LLVMValueRef col = add(L, oj, addc(L, L->g, n0 + 8 * nt));
        transform_pair(L, o, v->elem, &out[0][q], npl > 1 ? &out[1][q] : NULL, row, col, false);
    }
}

/* c += a * b for one 16x8 tile, with the split products where needed. */
static void mma_tile(Low *L, TirElem ea, TirElem eb, LLVMValueRef a[2][4], LLVMValueRef b0[2], LLVMValueRef b1[2],
                     LLVMValueRef c[4])
{
    Cg *cg = L->cg;
    bool sa = ea == TE_SPLIT, sb = eb == TE_SPLIT;
    TirElem e = (sa || sb) ? TE_BF16 : ea;
    cg_mma(cg, e, a[0], b0[0], b1[0], c);
    if (sb) cg_mma(cg, e, a[0], b0[1], b1[1], c);
    if (sa) cg_mma(cg, e, a[1], b0[0], b1[0], c);
}

/* One k-step's B block (kt, np) times the A blocks of every m-tile. */
static void mma_kstep(Low *L, const TirOp *op, int kt, int np, bool half, LLVMValueRef (*ak)[2][4], LLVMValueRef *r)
{
    const TirValue *acc = op->args[0];
    TirElem ea = operand_elem(&op->a), eb = operand_elem(&op->b);
    LLVMValueRef b[2][4];
    load_b(L, &op->b, kt, np, half, b);
    for (int mt = 0; mt < acc->rows / 16; mt++)
        for (int h = 0; h < (half ? 1 : 2); h++) {
            int nt = 2 * np + h;
            LLVMValueRef b0[2] = {b[0][2 * h], b[1][2 * h]}, b1[2] = {b[0][2 * h + 1], b[1][2 * h + 1]};
            mma_tile(L, ea, eb, ak[mt], b0, b1, &r[acc_index(acc, mt, nt, 0)]);
        }
}

/* The matrix descriptor of k-step kt of a wgmma operand in a swizzled tile:
 * K-major when the tile's columns are the product's k (A as it is, B as a
 * transposed view), else MN-major (B as it is: rows are k). */
static LLVMValueRef wg_desc(Low *L, const TirOperand *o, bool is_a, int kt, bool *mn_major)
{
    const TirValue *v = o->v;
    /* The descriptor of the buffer once (cached like smem_base), each
     * k-step a constant on it. */
    bool kmajor = is_a ? !o->trans : o->trans;
    int key[6] = {v->id, vid(o->buf), -1, -1, -9, kmajor};
    LLVMValueRef d0 = base_find(L, key);
    if (!d0) {
        LLVMValueRef lo = cg_smem_desc_lo(L->cg, smem_base(L, v, o->buf, NULL, NULL, PAT_NONE, 0));
        d0 = base_put(L, key, cg_smem_desc(L->cg, lo, kmajor ? 16 : v->rows * 128, 1024));
    }
    /* A: the warpgroup's rows 0..63 of the tile (row0 is the warp's part);
     * B: a constant origin. */
    LAC_ASSERT(!o->col0 || o->col0->is_const);
    LAC_ASSERT(is_a || !o->row0 || o->row0->is_const);
    long long r0 = is_a ? 0 : o->roff + (o->row0 ? (long long)o->row0->cval : 0);
    long long c0 = o->coff + (o->col0 ? (long long)o->col0->cval : 0);
    long long k0 = kt * 16;
    long long rel;
    if (kmajor) {
        /* physical columns are k; physical rows m or n from 0 */
        long long col = c0 + k0;
        LAC_ASSERT(col % 16 == 0 && r0 == 0);
        rel = col / 64 * v->rows * 128 + col % 64 * 2;
    } else {
        long long row = r0 + k0, col = c0;
        LAC_ASSERT(row % 8 == 0 && col % 64 == 0);
        rel = col / 64 * v->rows * 128 + row * 128;
    }
    *mn_major = !kmajor;
    LAC_ASSERT(rel % 16 == 0);
    /* the address field stays below 2^14 (shared addresses < 2^18), so the
     * k-step's offset is a 64-bit add on the whole descriptor */
    return LLVMBuildAdd(B_, d0, LLVMConstInt(L->cg->t_i64, (unsigned long long)(rel / 16), 0), "");
}

/* Does op read the value x? */
static bool op_reads(const TirOp *op, const TirValue *x)
{
    for (int i = 0; i < op->nargs; i++)
        if (op->args[i] == x) return true;
    return op->a.v == x || op->b.v == x;
}

/* Ops a pending warpgroup product's wait may move past: they read no
 * fragment and touch no shared tile a product reads (scalar arithmetic, the
 * per-token decay's loads and its scan into b). */
static bool wg_passable(const TirOp *op)
{
    return op->kind == TIR_BIN || op->kind == TIR_LDTOKEN || op->kind == TIR_SCAN_TOKEN;
}

/* Does op read a pending product's result? */
static bool wg_reads_pending(const Low *L, const TirOp *op)
{
    for (int i = 0; i < L->ndeferred; i++)
        if (op_reads(op, L->pendv[i])) return true;
    return false;
}

/* One wait for every pending product, tied to all their registers (the
 * wait rewrites them in place, so later reads see the waited values). */
static void wg_wait_pending(Low *L, LLVMValueRef *r, int n)
{
    int tot = n;
    for (int i = 0; i < L->ndeferred; i++) tot += L->npend[i];
    LLVMValueRef *all = regs_new(L, tot);
    int k = 0;
    for (int i = 0; i < L->ndeferred; i++) {
        memcpy(all + k, L->pend[i], sizeof(LLVMValueRef) * (size_t)L->npend[i]);
        k += L->npend[i];
    }
    if (n) memcpy(all + k, r, sizeof(LLVMValueRef) * (size_t)n);
    cg_wgmma_wait(L->cg, all, tot);
    k = 0;
    for (int i = 0; i < L->ndeferred; i++) {
        memcpy(L->pend[i], all + k, sizeof(LLVMValueRef) * (size_t)L->npend[i]);
        k += L->npend[i];
    }
    if (n) memcpy(r, all + k, sizeof(LLVMValueRef) * (size_t)n);
    L->ndeferred = 0;
}

/* Before lowering op: the wait of pending products, unless op may run
 * while they do (wg_passable, or an independent warpgroup product). */
static void wg_wait_before(Low *L, const TirOp *op)
{
    if (L->ndeferred == 0 || wg_passable(op)) return;
    if (op->kind == TIR_MMA && op->wg && L->cg->wgmma && !wg_reads_pending(L, op)) return;
    wg_wait_pending(L, NULL, 0);
}

/* A warpgroup product on wgmma: one fence, the k-steps, one commit and
 * one wait, which is deferred past the ops that follow while they are
 * independent warpgroup products (one wait then covers all the groups) or
 * passable ones (wg_passable: the state role's scan of the next chunk's
 * decay runs under its products). An A operand that is a transposed or
 * transformed view is loaded by each warp (ldmatrix, its 16 rows) into
 * registers first. */
static void lower_mma_wg(Low *L, const TirOp *op)
{
    const TirValue *acc = op->args[0];
    int N = acc->cols, nkt = op->ival / 16, n = frag_nregs(acc);
    LLVMValueRef *r = regs_new(L, n);
    memcpy(r, regs(L, acc), sizeof(LLVMValueRef) * (size_t)n);
    bool afrag = op->a.v->type == TT_FRAG;
    bool aregs = afrag || op->a.trans || op->a.xf;
    /* A split fragment (hi and lo planes) is two products a k-step. */
    int apl = afrag && op->a.v->elem == TE_SPLIT ? 2 : 1;
    LLVMValueRef *ar = NULL;
    int na = 0;
    if (aregs) {
        na = nkt * 4 * apl;
        ar = regs_new(L, na);
        for (int kt = 0; kt < nkt; kt++) {
            if (afrag) {
                for (int pl = 0; pl < apl; pl++)
                    for (int i = 0; i < 4; i++)
                        ar[(pl * nkt + kt) * 4 + i] = regs(L, op->a.v)[a_index(op->a.v, 0, kt, i, pl)];
            } else {
                LLVMValueRef out[2][4];
                load_a(L, &op->a, 0, kt, out);
                memcpy(ar + kt * 4, out[0], sizeof out[0]);
            }
        }
    }
    /* A product into zeros (the output role's O and P) starts with
     * scale-d false and no registers to copy: 31 movs of one zero register
     * between the previous product's commit and this one's fence made ptxas
     * inject a wait there (C7517, retnet and lightning). */
    bool zero = true;
    for (int i = 0; i < n && zero; i++) {
        LLVMBool lost = 0;
        zero = LLVMIsAConstantFP(r[i]) && LLVMConstRealGetDouble(r[i], &lost) == 0.0 && !lost;
    }
    if (zero)
        for (int i = 0; i < n; i++) r[i] = LLVMGetUndef(LLVMTypeOf(r[i]));
    cg_wgmma_fence(L->cg, r, n, ar, na);
    TirElem e = op->a.v->elem == TE_SPLIT ? TE_BF16 : op->a.v->elem;
    for (int kt = 0; kt < nkt; kt++) {
        bool ta = false, tb = false;
        LLVMValueRef da = aregs ? NULL : wg_desc(L, &op->a, true, kt, &ta);
        LLVMValueRef db = wg_desc(L, &op->b, false, kt, &tb);
        for (int pl = 0; pl < apl; pl++)
            cg_wgmma(L->cg, e, N, r, da, aregs ? ar + (pl * nkt + kt) * 4 : NULL, db, ta, tb,
                     !(zero && kt == 0 && pl == 0));
    }
    set_frag(L, op->res, r);
    const TirOp *nx = L->next;
    bool defer = nx && ((nx->kind == TIR_MMA && nx->wg && !op_reads(nx, op->res)) || wg_passable(nx));
    if (defer && L->ndeferred < 4) {
        cg_wgmma_commit(L->cg);
        L->pend[L->ndeferred] = r;
        L->pendv[L->ndeferred] = op->res;
        L->npend[L->ndeferred++] = n;
        return;
    }
    wg_wait_pending(L, r, n);
}

/* The k-steps go outermost: an A block is loaded (and transformed) once and
 * is live only for its k-step. A column limit guards each 16-column block
 * of a k-step, a k limit the whole k-step; both are warp-uniform branches,
 * and only the registers they change get phis. */
static void lower_mma(Low *L, const TirOp *op)
{
    if (op->wg && L->cg->wgmma) {
        lower_mma_wg(L, op);
        return;
    }
    const TirValue *acc = op->args[0];
    int M = acc->rows, N = acc->cols, K = op->ival;
    int nmt = M / 16, nnt = N / 8, nkt = K / 16, npair = nnt / 2, tail = nnt % 2;
    int n = frag_nregs(acc);
    LLVMValueRef *r = regs_new(L, n);
    memcpy(r, regs(L, acc), sizeof(LLVMValueRef) * (size_t)n);
    LLVMValueRef nlim = vi(L, op->args[1]), klim = vi(L, op->args[2]);
    LLVMValueRef (*ak)[2][4] = arena_alloc(L->cg->a, sizeof(*ak) * (size_t)nmt);
    for (int kt = 0; kt < nkt; kt++) {
        Guard G;
        /* Under a column limit, k-step kt is needed only if its first column block is. */
        if (klim) guard_begin(L, &G, slt(L, ci(L, kt * 16), klim), r, n);
        for (int mt = 0; mt < nmt; mt++) load_a(L, &op->a, mt, kt, ak[mt]);
        for (int np = 0; np < npair + tail; np++) {
            bool half = np == npair;
            Guard Gn;
            if (nlim) guard_begin(L, &Gn, slt(L, ci(L, np * 16), nlim), r, n);
            mma_kstep(L, op, kt, np, half, ak, r);
            if (nlim) guard_end(L, &Gn, r);
        }
        if (klim) guard_end(L, &G, r);
    }
    set_frag(L, op->res, r);
}

/* ------------------------------------------------------------------------
 * Fragment ops
 * ------------------------------------------------------------------------ */

/* Logical (row, col) of element e of tile (mt, nt) of an ACC fragment. */
static void acc_coords(Low *L, LLVMValueRef r0, LLVMValueRef c0, int mt, int nt, int e, LLVMValueRef *row,
                       LLVMValueRef *col)
{
    *row = add(L, r0, addc(L, L->g, mt * 16 + 8 * (e / 2)));
    *col = add(L, c0, addc(L, mulc(L, L->c, 2), nt * 8 + e % 2));
}

static void lower_map(Low *L, const TirOp *op)
{
    const TirValue *f = op->args[0];
    int n = frag_nregs(f);
    LLVMValueRef *in = regs(L, f), *out = regs_new(L, n);
    LLVMValueRef r0 = addc(L, vi0(L, op->args[1]), op->ival), c0 = addc(L, vi0(L, op->args[2]), op->ival2);
    for (int mt = 0; mt < f->rows / 16; mt++)
        for (int nt = 0; nt < f->cols / 8; nt++)
            for (int e = 0; e < 4; e++) {
                ExCtx k = {in[acc_index(f, mt, nt, e)], NULL, NULL, mt, nt, e};
                acc_coords(L, r0, c0, mt, nt, e, &k.row, &k.col);
                out[acc_index(f, mt, nt, e)] = ex_eval(L, op->ex, &k);
            }
    set_frag(L, op->res, out);
}

/* ACC -> A operand (FlashAttention-2's reuse of the score registers). */
static void lower_toa(Low *L, const TirOp *op)
{
    const TirValue *f = op->args[0], *a = op->res;
    LLVMValueRef *in = regs(L, f), *out = regs_new(L, frag_nregs(a));
    for (int mt = 0; mt < f->rows / 16; mt++)
        for (int kt = 0; kt < f->cols / 16; kt++)
            for (int q = 0; q < 4; q++) {
                int nt = 2 * kt + q / 2, e = 2 * (q % 2);
                LLVMValueRef x0 = in[acc_index(f, mt, nt, e)], x1 = in[acc_index(f, mt, nt, e + 1)];
                if (a->elem == TE_SPLIT) {
                    cg_split_bf16(L->cg, x0, x1, &out[a_index(a, mt, kt, q, 0)], &out[a_index(a, mt, kt, q, 1)]);
                } else {
                    out[a_index(a, mt, kt, q, 0)] = cg_pack(L->cg, a->elem, x0, x1);
                }
            }
    set_frag(L, a, out);
}

/* Fragments side by side, or a part of one: the registers, renumbered. */
static void lower_cols(Low *L, const TirOp *op)
{
    const TirValue *r = op->res;
    LLVMValueRef *out = regs_new(L, frag_nregs(r));
    for (int mt = 0; mt < r->rows / 16; mt++)
        for (int nt = 0; nt < r->cols / 8; nt++) {
            const TirValue *x = op->args[0];
            int xn = nt;
            if (op->kind == TIR_COLS) xn += op->ival / 8;
            else if (nt >= x->cols / 8) xn -= x->cols / 8, x = op->args[1];
            for (int e = 0; e < 4; e++) out[acc_index(r, mt, nt, e)] = regs(L, x)[acc_index(x, mt, xn, e)];
        }
    set_frag(L, r, out);
}

/* ACC -> a shared tile of the tile's element type. */
static void lower_sts(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *f = op->args[0], *t = op->args[1];
    LLVMValueRef *in = regs(L, f);
    int eb = ebytes(t);
    for (int pl = 0; pl < planes(t); pl++) {
        LLVMValueRef base, lr = NULL, lc = NULL;
        if (t->swizzle) {
            base = smem_base(L, t, op->args[2], NULL, NULL, PAT_NONE, pl);
            swz_lane(L, t, op->args[3], op->args[4], PAT_ACC, &lr, &lc);
        } else {
            base = smem_base(L, t, op->args[2], op->args[3], op->args[4], PAT_ACC, pl);
        }
        for (int mt = 0; mt < f->rows / 16; mt++)
            for (int nt = 0; nt < f->cols / 8; nt++)
                for (int h = 0; h < 2; h++) {
                    LLVMValueRef x0 = in[acc_index(f, mt, nt, 2 * h)], x1 = in[acc_index(f, mt, nt, 2 * h + 1)];
                    LLVMValueRef p;
                    if (t->swizzle) {
                        p = sptr(L, add(L, base, swz_rel(L, t, addc(L, lr, op->ival + mt * 16 + 8 * h),
                                                         addc(L, lc, op->ival2 + nt * 8))));
                    } else {
                        long long off = ((long long)(op->ival + mt * 16 + 8 * h) * t->stride + op->ival2 + nt * 8) * eb;
                        p = sptr(L, addc(L, base, off));
                    }
                    LLVMValueRef v;
                    if (t->elem == TE_F32) {
                        LLVMTypeRef v2 = LLVMVectorType(cg->t_f32, 2);
                        v = LLVMGetUndef(v2);
                        v = LLVMBuildInsertElement(B_, v, x0, ci(L, 0), "");
                        v = LLVMBuildInsertElement(B_, v, x1, ci(L, 1), "");
                    } else if (t->elem == TE_SPLIT) {
                        LLVMValueRef hi, lo;
                        cg_split_bf16(cg, x0, x1, &hi, &lo);
                        v = pl == 0 ? hi : lo;
                    } else {
                        v = cg_pack(cg, t->elem, x0, x1);
                    }
                    LLVMSetAlignment(LLVMBuildStore(B_, v, p), t->elem == TE_F32 ? 8 : 4);
                }
    }
}

/* The token row (b, t, h) of a [B, T, H, ...] tensor, in rows, as i64:
 * (b T + t) H + h. */
static LLVMValueRef token_row(Low *L, LLVMValueRef b, LLVMValueRef t, LLVMValueRef h)
{
    Cg *cg = L->cg;
    return LLVMBuildAdd(B_, LLVMBuildMul(B_, sext(L, add(L, mul(L, b, cg->T), t)), sext(L, cg->H), ""), sext(L, h), "");
}

static LLVMValueRef gptr(Low *L, LLVMValueRef base, LLVMValueRef byte_off64)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(L->cg->ctx);
    return LLVMBuildGEP2(B_, i8, base, &byte_off64, 1, "");
}

/* o rows t0 + r, columns c0 + c: through the warp's staging buffer, 16 bytes a thread. */
static void lower_stg(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *f = op->args[0], *o = op->args[1], *stage = op->args[7];
    LAC_ASSERT(f->rows == 16);
    LLVMValueRef *in = regs(L, f);
    int ncols = op->ival, eb = ebytes(stage);
    /* 1. the fragment into the staging rows, in o's element type */
    LLVMValueRef sbase = smem_base(L, stage, op->args[8], NULL, NULL, PAT_ACC, 0);
    for (int nt = 0; nt < ncols / 8; nt++)
        for (int h = 0; h < 2; h++) {
            LLVMValueRef x0 = in[acc_index(f, 0, nt, 2 * h)], x1 = in[acc_index(f, 0, nt, 2 * h + 1)];
            LLVMValueRef p = sptr(L, addc(L, sbase, ((long long)(8 * h) * stage->stride + nt * 8) * eb));
            if (stage->elem == TE_F32) {
                LLVMTypeRef v2 = LLVMVectorType(cg->t_f32, 2);
                LLVMValueRef v = LLVMGetUndef(v2);
                v = LLVMBuildInsertElement(B_, v, x0, ci(L, 0), "");
                v = LLVMBuildInsertElement(B_, v, x1, ci(L, 1), "");
                LLVMSetAlignment(LLVMBuildStore(B_, v, p), 8);
            } else {
                LLVMSetAlignment(LLVMBuildStore(B_, cg_pack(cg, stage->elem, x0, x1), p), 4);
            }
        }
    cg_warp_sync(cg);
    /* 2. rows out to global memory, 16 bytes per thread where the row allows */
    LLVMValueRef b = vi(L, op->args[2]), t0 = vi(L, op->args[3]), h = vi(L, op->args[4]);
    LLVMValueRef c0 = vi(L, op->args[5]), T = vi(L, op->args[6]);
    int gcols = o->gcols;
    int width = (gcols * eb) % 16 == 0 ? 16 : (gcols * eb) % 8 == 0 ? 8 : (gcols * eb) % 4 == 0 ? 4 : eb;
    int epc = width / eb, per_row = ncols / epc, total = 16 * per_row;
    LLVMValueRef rbase = smem_base(L, stage, op->args[8], NULL, NULL, PAT_NONE, 0);
    /* the row (b, t0, h) in elements, as i64 */
    LLVMValueRef H = cg->H;
    LLVMValueRef row0 = token_row(L, b, t0, h);
    LLVMValueRef tok_stride = LLVMBuildMul(B_, sext(L, H), cg_i64(cg, gcols), ""); /* elements between tokens */
    LLVMTypeRef vt = width == 16 ? LLVMVectorType(cg->t_i32, 4) : width == 8 ? LLVMVectorType(cg->t_i32, 2)
                     : width == 4 ? cg->t_i32 : cg->t_i16;
    for (int q0 = 0; q0 < total; q0 += 32) {
        LLVMValueRef q = addc(L, L->lane, q0);
        LLVMValueRef r = LLVMBuildUDiv(B_, q, ci(L, per_row), ""), ch = LLVMBuildURem(B_, q, ci(L, per_row), "");
        LLVMValueRef col = mulc(L, ch, epc);
        LLVMValueRef ok = LLVMBuildAnd(B_, slt(L, add(L, t0, r), T), slt(L, add(L, c0, col), ci(L, gcols)), "");
        if (q0 + 32 > total) ok = LLVMBuildAnd(B_, ok, slt(L, q, ci(L, total)), "");
        LLVMBasicBlockRef m = cg_if_begin(cg, ok, "st");
        LLVMValueRef sp = sptr(L, add(L, rbase, mulc(L, add(L, mulc(L, r, stage->stride), col), eb)));
        LLVMValueRef v = LLVMBuildLoad2(B_, vt, sp, "");
        LLVMSetAlignment(v, (unsigned)width);
        LLVMValueRef ge = LLVMBuildAdd(B_, LLVMBuildAdd(B_, LLVMBuildMul(B_, row0, cg_i64(cg, gcols), ""),
                                                        LLVMBuildMul(B_, sext(L, r), tok_stride, ""), ""),
                                       sext(L, add(L, c0, col)), "");
        LLVMValueRef gp = gptr(L, vi(L, o), LLVMBuildMul(B_, ge, cg_i64(cg, eb), ""));
        LLVMSetAlignment(LLVMBuildStore(B_, v, gp), (unsigned)width);
        cg_if_end(cg, m);
    }
    cg_warp_sync(cg);
}

/* Records of f32 in global memory (states, normalizers, the split's workspace). */
static LLVMValueRef rec_index(Low *L, const TirOp *op, LLVMValueRef idx, LLVMValueRef row, LLVMValueRef col,
                              bool vec)
{
    LLVMValueRef base = LLVMBuildAdd(B_, LLVMBuildMul(B_, sext(L, idx), cg_i64(L->cg, op->rec), ""),
                                     cg_i64(L->cg, op->rec_base), "");
    LLVMValueRef within = vec ? sext(L, row) : LLVMBuildAdd(B_, LLVMBuildMul(B_, sext(L, row), cg_i64(L->cg, op->ld), ""),
                                                            sext(L, col), "");
    return LLVMBuildAdd(B_, base, within, "");
}

static void lower_ldstate(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *f = op->res;
    int n = frag_nregs(f);
    LLVMValueRef *r = regs_new(L, n);
    for (int i = 0; i < n; i++) r[i] = cf(L, 0);
    LLVMValueRef ptr = vi(L, op->args[0]);
    /* Only an optional pointer (s0) is tested: a branch around the loads of
     * the split's records (ws, never 0) kept each load group of the
     * combine loop apart, one trip to memory each. */
    bool optional = op->args[0]->optional;
    Guard G;
    if (optional)
        guard_begin(L, &G, LLVMBuildICmp(B_, LLVMIntNE, LLVMBuildPtrToInt(B_, ptr, cg->t_i64, ""), cg_i64(cg, 0), ""),
                    r, n);
    LLVMValueRef r0 = addc(L, vi0(L, op->args[2]), op->ival), c0 = addc(L, vi0(L, op->args[3]), op->ival2);
    LLVMValueRef idx = vi(L, op->args[1]);
    bool vec = op->ival3;
    for (int mt = 0; mt < f->rows / 16; mt++)
        for (int nt = 0; nt < f->cols / 8; nt++)
            for (int e = 0; e < 4; e++) {
                if (vec && (nt > 0 || e % 2)) {
                    r[acc_index(f, mt, nt, e)] = r[acc_index(f, mt, 0, e & 2)];
                    continue;
                }
                LLVMValueRef row, col;
                acc_coords(L, r0, c0, mt, nt, e, &row, &col);
                LLVMValueRef ok = slt(L, row, ci(L, op->lim_rows));
                if (!vec) ok = LLVMBuildAnd(B_, ok, slt(L, col, ci(L, op->ld)), "");
                /* An index clamped in range, then the value selected: no branch per element. */
                LLVMValueRef ix = rec_index(L, op, idx, LLVMBuildSelect(B_, ok, row, ci(L, 0), ""),
                                            LLVMBuildSelect(B_, ok, col, ci(L, 0), ""), vec);
                LLVMValueRef x = LLVMBuildLoad2(B_, cg->t_f32, gptr(L, ptr, LLVMBuildMul(B_, ix, cg_i64(cg, 4), "")), "");
                r[acc_index(f, mt, nt, e)] = LLVMBuildSelect(B_, ok, x, cf(L, 0), "");
            }
    if (optional) guard_end(L, &G, r);
    set_frag(L, f, r);
}

static void lower_ststate(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *f = op->args[0];
    LLVMValueRef *in = regs(L, f);
    LLVMValueRef ptr = vi(L, op->args[1]);
    LLVMValueRef nonnull = LLVMBuildICmp(B_, LLVMIntNE, LLVMBuildPtrToInt(B_, ptr, cg->t_i64, ""), cg_i64(cg, 0), "");
    LLVMBasicBlockRef m = cg_if_begin(cg, nonnull, "st");
    scope_push(L);
    LLVMValueRef r0 = addc(L, vi0(L, op->args[3]), op->ival), c0 = addc(L, vi0(L, op->args[4]), op->ival2);
    LLVMValueRef idx = vi(L, op->args[2]);
    bool vec = op->ival3;
    for (int mt = 0; mt < f->rows / 16; mt++)
        for (int nt = 0; nt < op->ival4 / 8; nt++)
            for (int e = 0; e < 4; e++) {
                if (vec && (nt > 0 || e % 2)) continue;
                LLVMValueRef row, col;
                acc_coords(L, r0, c0, mt, nt, e, &row, &col);
                LLVMValueRef ok = slt(L, row, ci(L, op->lim_rows));
                if (vec) ok = LLVMBuildAnd(B_, ok, LLVMBuildICmp(B_, LLVMIntEQ, L->c, ci(L, 0), ""), "");
                else ok = LLVMBuildAnd(B_, ok, slt(L, col, ci(L, op->ld)), "");
                LLVMBasicBlockRef m2 = cg_if_begin(cg, ok, "st.e");
                LLVMValueRef ix = rec_index(L, op, idx, row, col, vec);
                LLVMBuildStore(B_, in[acc_index(f, mt, nt, e)], gptr(L, ptr, LLVMBuildMul(B_, ix, cg_i64(cg, 4), "")));
                cg_if_end(cg, m2);
            }
    scope_pop(L);
    cg_if_end(cg, m);
}

/* ------------------------------------------------------------------------
 * Copies
 * ------------------------------------------------------------------------ */

/* The work of threads [lo, lo + n) of an op: a branch around it unless every
 * thread takes part, a scope for its addresses, and u, the thread's index
 * among them. threads_end closes both. */
typedef struct Threads {
    LLVMBasicBlockRef merge;
    LLVMValueRef u;
} Threads;

static Threads threads_begin(Low *L, int lo, int n, const char *name)
{
    Threads t = {NULL, L->tid};
    if (lo != 0 || n < L->p->threads) {
        t.u = LLVMBuildSub(B_, L->tid, ci(L, lo), "");
        t.merge = cg_if_begin(L->cg, LLVMBuildICmp(B_, LLVMIntULT, t.u, ci(L, n), ""), name);
    }
    scope_push(L);
    return t;
}

static void threads_end(Low *L, Threads *t)
{
    scope_pop(L);
    if (t->merge) cg_if_end(L->cg, t->merge);
}

static void lower_copy(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *dst = op->args[0], *src = op->args[2];
    LLVMValueRef b = vi(L, op->args[3]), t0 = vi(L, op->args[4]), h = vi(L, op->args[5]);
    LLVMValueRef c0 = vi0(L, op->args[6]), T = vi(L, op->args[7]);
    int rows = op->ival, cols = op->ival2, drow = op->ival3;
    int eb = tir_elem_bytes(src->gelem), gcols = src->gcols;
    int rowbytes = cols * eb;
    int width = 16;
    while (width > 4 && (rowbytes % width || (gcols * eb) % width)) width /= 2;
    bool sync = rowbytes % width || (gcols * eb) % width || width < 4;
    Threads th = threads_begin(L, op->thr_lo, op->thr_n, "copy");
    LLVMValueRef u = th.u;
    if (sync) width = eb;
    int per_row = rowbytes / width, epc = width / eb, nthr = op->thr_n, total = rows * per_row;
    /* The chunk's first row (b, t0, h) in bytes, and the bytes between tokens. */
    LLVMValueRef H = cg->H;
    LLVMValueRef row_b = LLVMBuildMul(B_, token_row(L, b, t0, h), cg_i64(cg, (long long)gcols * eb), "");
    LLVMValueRef gbase = gptr(L, vi(L, src), row_b);
    LLVMValueRef tok = LLVMBuildMul(B_, sext(L, H), cg_i64(cg, (long long)gcols * eb), "");
    LLVMValueRef dbase = smem_base(L, dst, op->args[1], NULL, NULL, PAT_NONE, 0);
    bool fixed = nthr % per_row == 0;
    int apart = fixed ? nthr / per_row : 0;
    int iters = fixed ? (rows + apart - 1) / apart : (total + nthr - 1) / nthr;
    LLVMValueRef r_fix = fixed ? LLVMBuildUDiv(B_, u, ci(L, per_row), "") : NULL;
    LLVMValueRef cc_fix = fixed ? LLVMBuildURem(B_, u, ci(L, per_row), "") : NULL;
    for (int i = 0; i < iters; i++) {
        LLVMValueRef r, cc, guard = NULL;
        if (fixed) {
            r = addc(L, r_fix, (long long)i * apart);
            cc = cc_fix;
            if ((i + 1) * apart > rows) guard = slt(L, r, ci(L, rows));
        } else {
            LLVMValueRef q = addc(L, u, (long long)i * nthr);
            r = LLVMBuildUDiv(B_, q, ci(L, per_row), "");
            cc = LLVMBuildURem(B_, q, ci(L, per_row), "");
            if ((i + 1) * nthr > total) guard = slt(L, q, ci(L, total));
        }
        LLVMBasicBlockRef mg = guard ? cg_if_begin(cg, guard, "copy.r") : NULL;
        LLVMValueRef col = mulc(L, cc, epc);
        LLVMValueRef ok = LLVMBuildAnd(B_, slt(L, add(L, t0, r), T), slt(L, add(L, c0, col), ci(L, gcols)), "");
        /* Bytes from the chunk's first row: token r, column c0 + col (64-bit:
         * H tokens of a row may span more than 2 GiB over a chunk). */
        LLVMValueRef off = LLVMBuildAdd(B_, LLVMBuildMul(B_, sext(L, r), tok, ""), sext(L, mulc(L, add(L, c0, col), eb)), "");
        off = LLVMBuildSelect(B_, ok, off, cg_i64(cg, 0), "");
        LLVMValueRef gsrc = gptr(L, gbase, off);
        LLVMValueRef sdst = dst->swizzle ? sptr(L, add(L, dbase, swz_rel(L, dst, addc(L, r, drow), col)))
                                         : sptr(L, add(L, dbase, mulc(L, add(L, mulc(L, addc(L, r, drow), dst->stride), col), eb)));
        if (sync) {
            /* rows narrower than 4 bytes: a plain load and store */
            LLVMTypeRef et = eb == 2 ? cg->t_i16 : cg->t_i32;
            LLVMBasicBlockRef m1 = cg_if_begin(cg, ok, "ld");
            LLVMValueRef x = LLVMBuildLoad2(B_, et, gsrc, "");
            LLVMBuildStore(B_, x, sdst);
            cg_if_end(cg, m1);
            LLVMBasicBlockRef m2 = cg_if_begin(cg, LLVMBuildNot(B_, ok, ""), "zero");
            LLVMBuildStore(B_, LLVMConstInt(et, 0, 0), sdst);
            cg_if_end(cg, m2);
        } else {
            cg_cp_async(cg, sdst, gsrc, width, LLVMBuildSelect(B_, ok, ci(L, width), ci(L, 0), ""));
        }
        if (mg) cg_if_end(cg, mg);
    }
    threads_end(L, &th);
}

static void lower_dtab(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *t = op->args[0];
    LLVMValueRef lam = vi(L, op->args[1]);
    int n = t->cols, off = op->ival, threads = L->p->threads;
    for (int i0 = 0; i0 < n; i0 += threads) {
        LLVMValueRef i = addc(L, L->tid, i0);
        LLVMBasicBlockRef m = i0 + threads > n ? cg_if_begin(cg, slt(L, i, ci(L, n)), "dtab") : NULL;
        LLVMValueRef d = LLVMBuildSIToFP(B_, addc(L, i, -off), cg->t_f32, "");
        LLVMValueRef x = cg_exp(cg, LLVMBuildFMul(B_, d, lam, ""));
        x = LLVMBuildSelect(B_, slt(L, i, ci(L, off)), cf(L, 0), x, "");
        LLVMBuildStore(B_, x, sptr(L, smem_elem(L, t, NULL, ci(L, 0), i, 0)));
        if (m) cg_if_end(cg, m);
    }
}

static void lower_fill(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *t = op->args[0];
    int lo = op->ival, w = op->ival2 - op->ival, eb = ebytes(t);
    int per = t->rows * w, total = t->nbuf * planes(t) * per;
    int threads = L->p->threads;
    for (int i0 = 0; i0 < total; i0 += threads) {
        LLVMValueRef q = addc(L, L->tid, i0);
        LLVMBasicBlockRef m = i0 + threads > total ? cg_if_begin(cg, slt(L, q, ci(L, total)), "fill") : NULL;
        LLVMValueRef bp = LLVMBuildUDiv(B_, q, ci(L, per), ""), rest = LLVMBuildURem(B_, q, ci(L, per), "");
        LLVMValueRef r = LLVMBuildUDiv(B_, rest, ci(L, w), ""), c = addc(L, LLVMBuildURem(B_, rest, ci(L, w), ""), lo);
        /* bp = buffer * planes + plane; the lo plane of a split 1.0 is 0. */
        LLVMValueRef off = add(L, ci(L, t->offset), mulc(L, bp, plane_bytes(t)));
        off = add(L, off, t->swizzle ? swz_rel(L, t, r, c) : mulc(L, add(L, mulc(L, r, t->stride), c), eb));
        LLVMValueRef p = sptr(L, off);
        LLVMValueRef x;
        if (t->elem == TE_F32) x = cf(L, op->fval);
        else if (t->elem == TE_F16) x = LLVMBuildFPTrunc(B_, cf(L, op->fval), LLVMHalfTypeInContext(cg->ctx), "");
        else x = LLVMBuildFPTrunc(B_, cf(L, op->fval), cg->t_bf16, "");
        if (t->elem == TE_SPLIT) {
            LLVMValueRef lo_plane = LLVMBuildICmp(B_, LLVMIntEQ, LLVMBuildURem(B_, bp, ci(L, 2), ""), ci(L, 1), "");
            x = LLVMBuildSelect(B_, lo_plane, LLVMConstReal(cg->t_bf16, 0), x, "");
        }
        LLVMBuildStore(B_, x, p);
        if (m) cg_if_end(cg, m);
    }
}

/* ------------------------------------------------------------------------
 * .la expressions: loaders over the staged tiles and global memory
 * ------------------------------------------------------------------------ */

typedef struct LaCtx {
    Low *L;
    const TirOp *op;
    LLVMValueRef row;  /* the chunk row (i32) */
    LLVMValueRef c0;   /* global channel of local channel 0 (value blocks), or NULL */
    LLVMValueRef h;
    int q;             /* token scans: the lane's token of an env's `lanes` */
} LaCtx;

static const TirEnv *env_find(const TirOp *op, const Symbol *y)
{
    for (int i = 0; i < op->nenv; i++)
        if (op->env[i].input == y) return &op->env[i];
    return NULL;
}

static LLVMValueRef gload_f32(Low *L, const TirValue *g, LLVMValueRef idx64)
{
    Cg *cg = L->cg;
    int eb = tir_elem_bytes(g->gelem);
    LLVMValueRef p = gptr(L, vi(L, g), LLVMBuildMul(B_, idx64, cg_i64(cg, eb), ""));
    switch (g->gelem) {
    case TE_F32: return LLVMBuildLoad2(B_, cg->t_f32, p, "");
    case TE_F16: return LLVMBuildFPExt(B_, LLVMBuildLoad2(B_, LLVMHalfTypeInContext(cg->ctx), p, ""), cg->t_f32, "");
    default: return LLVMBuildFPExt(B_, LLVMBuildLoad2(B_, cg->t_bf16, p, ""), cg->t_f32, "");
    }
}

static LLVMValueRef la_load(void *ctxp, const Symbol *y, int j, LLVMValueRef jr)
{
    LaCtx *x = ctxp;
    Low *L = x->L;
    const TirEnv *en = env_find(x->op, y);
    LAC_ASSERT(en != NULL);
    LLVMValueRef col = j >= 0 ? ci(L, j) : jr;
    if (en->lanes) return LLVMBuildExtractElement(B_, vi(L, en->lanes), ci(L, x->q), "");
    if (en->tile) {
        if (y->layout == LAYOUT_TOKEN) col = ci(L, 0);
        return load_f32_smem(L, en->tile, en->buf ? vi(L, en->buf) : NULL, x->row, col);
    }
    LLVMValueRef gc = x->c0 ? add(L, x->c0, col) : col;
    switch (y->layout) {
    case LAYOUT_HEAD: return gload_f32(L, en->gmem, sext(L, x->h));
    case LAYOUT_HEAD_VEC: return gload_f32(L, en->gmem, sext(L, add(L, mulc(L, x->h, y->cols), gc)));
    case LAYOUT_SHARED_VEC: return gload_f32(L, en->gmem, sext(L, gc));
    default: break;
    }
    LAC_ASSERT(0 && "la_load: a token input that is not staged");
    return NULL;
}

static LLVMValueRef la_load_mat(void *ctxp, const Symbol *y, LLVMValueRef i, int j)
{
    LaCtx *x = ctxp;
    Low *L = x->L;
    const TirEnv *en = env_find(x->op, y);
    LAC_ASSERT(en != NULL && !en->tile);
    LLVMValueRef ij = add(L, mulc(L, i, y->cols), ci(L, j));
    if (y->layout == LAYOUT_HEAD_MAT) ij = add(L, mulc(L, x->h, y->rows * y->cols), ij);
    return gload_f32(L, en->gmem, sext(L, ij));
}

static void la_env(Low *L, LaCtx *x, CgLaEnv *env, const TirOp *op, LLVMValueRef b, LLVMValueRef h, LLVMValueRef t)
{
    x->L = L;
    x->op = op;
    x->h = h;
    env->b = b;
    env->h = h;
    env->t = t;
    env->load = la_load;
    env->load_mat = la_load_mat;
    env->ctx = x;
    env->memo = NULL;
}

static void lower_la_scalar(Low *L, const TirOp *op)
{
    LaCtx x = {0};
    CgLaEnv env;
    la_env(L, &x, &env, op, vi(L, op->args[0]), vi(L, op->args[1]), NULL);
    L->vals[op->res->id].v = cg_la(L->cg, op->la, 0, NULL, &env);
}

/* One f32 a token of [B, T, H] for tokens t0 + lane * per + q, as a vector
 * <per x f32>: plain loads, which a later scan waits for. */
static void lower_ldtoken(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *src = op->args[0];
    LLVMValueRef b = vi(L, op->args[1]), h = vi(L, op->args[2]), t0 = vi(L, op->args[3]), T = vi(L, op->args[4]);
    int per = op->res->cols;
    LLVMValueRef r = LLVMGetUndef(LLVMVectorType(cg->t_f32, (unsigned)per));
    LLVMValueRef last = addc(L, T, -1);
    for (int q = 0; q < per; q++) {
        LLVMValueRef t = add(L, t0, addc(L, mulc(L, L->lane, per), q));
        t = LLVMBuildSelect(B_, slt(L, t, T), t, last, "");
        r = LLVMBuildInsertElement(B_, r, gload_f32(L, src, token_row(L, b, t, h)), ci(L, q), "");
    }
    L->vals[op->res->id].v = r;
}

/* Per-token decay, its inclusive prefix sum over the chunk: one warp. */
static void lower_scan_token(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *vec = op->args[0];
    LLVMValueRef b = vi(L, op->args[1]), h = vi(L, op->args[2]), t0 = vi(L, op->args[3]), T = vi(L, op->args[4]);
    LLVMValueRef buf = op->args[5] ? vi(L, op->args[5]) : NULL;
    int C = vec->cols, per = C / 32;
    LAC_ASSERT(C % 32 == 0 && per <= 8);
    bool per_warp = op->ival == SCAN_PER_WARP;
    /* The one warp, or every warp of the range; all warps of the range
     * without a branch (the enclosing role is that range). */
    LLVMBasicBlockRef m = NULL;
    if (op->ival != SCAN_ALL_WARPS) {
        LLVMValueRef w = LLVMBuildSub(B_, L->warp, ci(L, op->thr_lo / 32), "");
        LLVMValueRef mine = LLVMBuildICmp(B_, LLVMIntULT, w, ci(L, per_warp ? op->thr_n / 32 : 1), "");
        m = cg_if_begin(cg, mine, "scan");
    }
    scope_push(L);
    LLVMValueRef d[8], run = NULL;
    for (int q = 0; q < per; q++) {
        LLVMValueRef r = addc(L, mulc(L, L->lane, per), q);
        LLVMValueRef t = add(L, t0, r);
        LLVMValueRef ok = slt(L, t, T);
        LaCtx x = {0};
        CgLaEnv env;
        la_env(L, &x, &env, op, b, h, t);
        x.row = r;
        x.q = q;
        LLVMValueRef v = LLVMBuildSelect(B_, ok, cg_la(cg, op->la, 0, NULL, &env), cf(L, 0), "");
        run = run ? LLVMBuildFAdd(B_, run, v, "") : v;
        d[q] = run;
    }
    LLVMValueRef s = run;
    for (int off = 1; off < 32; off *= 2) {
        LLVMValueRef y = cg_shfl_up_f32(cg, s, off);
        LLVMValueRef use = LLVMBuildICmp(B_, LLVMIntSGE, L->lane, ci(L, off), "");
        s = LLVMBuildFAdd(B_, s, LLVMBuildSelect(B_, use, y, cf(L, 0), ""), "");
    }
    LLVMValueRef excl = LLVMBuildFSub(B_, s, run, "");
    for (int q = 0; q < per; q++) {
        LLVMValueRef r = addc(L, mulc(L, L->lane, per), q);
        LLVMValueRef sum = LLVMBuildFAdd(B_, excl, d[q], "");
        if (op->ival2) sum = LLVMBuildFMul(B_, sum, cf(L, 1.4426950408889634 /* log2(e) */), "");
        LLVMBuildStore(B_, sum, sptr(L, smem_elem(L, vec, per_warp ? L->warp : buf, ci(L, 0), r, 0)));
    }
    /* A copy per warp: its lanes read each other's stores next. */
    if (per_warp) cg_warp_sync(cg);
    scope_pop(L);
    if (m) cg_if_end(cg, m);
}

/* Per-key decay: inclusive prefix sums down the rows, one column a thread. */
static void lower_scan_key(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *tile = op->args[0];
    LLVMValueRef b = vi(L, op->args[1]), h = vi(L, op->args[2]), t0 = vi(L, op->args[3]), T = vi(L, op->args[4]);
    LLVMValueRef buf = op->args[5] ? vi(L, op->args[5]) : NULL;
    int C = tile->rows, cols = op->ival, nthr = op->thr_n;
    Threads th = threads_begin(L, op->thr_lo, nthr, "scan");
    LLVMValueRef u = th.u;
    for (int i = 0; i * nthr < cols; i++) {
        LLVMValueRef j = addc(L, u, (long long)i * nthr);
        LLVMBasicBlockRef mj = (i + 1) * nthr > cols ? cg_if_begin(cg, slt(L, j, ci(L, cols)), "scan.j") : NULL;
        LLVMValueRef acc = cf(L, 0);
        for (int r = 0; r < C; r++) {
            LLVMValueRef t = addc(L, t0, r);
            LaCtx x = {0};
            CgLaEnv env;
            la_env(L, &x, &env, op, b, h, t);
            x.row = ci(L, r);
            LLVMValueRef v = cg_la(cg, op->la, -1, j, &env);
            acc = LLVMBuildFAdd(B_, acc, LLVMBuildSelect(B_, slt(L, t, T), v, cf(L, 0), ""), "");
            LLVMBuildStore(B_, acc, sptr(L, smem_elem(L, tile, buf, ci(L, r), j, 0)));
        }
        if (mj) cg_if_end(cg, mj);
    }
    threads_end(L, &th);
}

/* Feature maps: one row a thread, 8 channels (16 bytes) at a time. */
static void lower_rowmap(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *dst = op->args[0];
    LLVMValueRef b = vi(L, op->args[2]), h = vi(L, op->args[3]), t0 = vi(L, op->args[4]), T = vi(L, op->args[5]);
    LLVMValueRef c0 = op->args[6] ? vi(L, op->args[6]) : NULL;
    int C = dst->rows, nthr = op->thr_n, width = op->ival, nch = op->ival2;
    LAC_ASSERT(width % 8 == 0);
    Threads th = threads_begin(L, op->thr_lo, nthr, "map");
    LLVMValueRef u = th.u;
    LLVMTypeRef v4 = LLVMVectorType(cg->t_i32, 4);
    for (int i = 0; i * nthr < C; i++) {
        LLVMValueRef r = addc(L, u, (long long)i * nthr);
        LLVMBasicBlockRef mrow = (i + 1) * nthr > C ? cg_if_begin(cg, slt(L, r, ci(L, C)), "map.r") : NULL;
        LLVMValueRef t = add(L, t0, r);
        LLVMValueRef ok = slt(L, t, T);
        LaCtx x = {0};
        CgLaEnv env;
        la_env(L, &x, &env, op, b, h, t);
        x.row = r;
        x.c0 = c0;
        for (int j0 = 0; j0 < width; j0 += 8) {
            LLVMValueRef vals[8];
            for (int q = 0; q < 8; q++) {
                int j = j0 + q;
                if (!c0 && j >= nch) {
                    vals[q] = cf(L, 0);
                    continue;
                }
                LLVMValueRef y = cg_la(cg, op->la, j, NULL, &env);
                LLVMValueRef keep = ok;
                if (c0) keep = LLVMBuildAnd(B_, keep, slt(L, addc(L, c0, j), ci(L, nch)), "");
                vals[q] = LLVMBuildSelect(B_, keep, y, cf(L, 0), "");
            }
            for (int pl = 0; pl < planes(dst); pl++) {
                LLVMValueRef v = LLVMGetUndef(v4);
                for (int q = 0; q < 4; q++) {
                    LLVMValueRef w;
                    if (dst->elem == TE_SPLIT) {
                        LLVMValueRef hi, lo;
                        cg_split_bf16(cg, vals[2 * q], vals[2 * q + 1], &hi, &lo);
                        w = pl == 0 ? hi : lo;
                    } else {
                        w = cg_pack(cg, dst->elem, vals[2 * q], vals[2 * q + 1]);
                    }
                    v = LLVMBuildInsertElement(B_, v, w, ci(L, q), "");
                }
                LLVMValueRef p = sptr(L, smem_elem(L, dst, vi(L, op->args[1]), r, ci(L, j0), pl));
                LLVMSetAlignment(LLVMBuildStore(B_, v, p), 16);
            }
        }
        if (mrow) cg_if_end(cg, mrow);
    }
    threads_end(L, &th);
}

static void lower_any(Low *L, const TirOp *op)
{
    int rows = op->ival, cols = op->ival2, total = rows * cols;
    LLVMValueRef r0 = vi0(L, op->args[0]), c0 = vi0(L, op->args[1]);
    LLVMValueRef acc = LLVMConstInt(L->cg->t_i1, 0, 0);
    for (int q0 = 0; q0 < total; q0 += 32) {
        LLVMValueRef q = addc(L, L->lane, q0);
        LLVMValueRef qc = q0 + 32 > total ? LLVMBuildSelect(B_, slt(L, q, ci(L, total)), q, ci(L, 0), "") : q;
        ExCtx k = {NULL, add(L, r0, LLVMBuildUDiv(B_, qc, ci(L, cols), "")),
                   add(L, c0, LLVMBuildURem(B_, qc, ci(L, cols), "")), -1, 0, 0};
        LLVMValueRef v = ex_eval(L, op->ex, &k);
        if (q0 + 32 > total) v = LLVMBuildAnd(B_, v, slt(L, q, ci(L, total)), "");
        acc = LLVMBuildOr(B_, acc, v, "");
    }
    L->vals[op->res->id].v = cg_vote_any(L->cg, acc);
}

/* The exact diagonal block of the per-key scores (rare path; a loop over k). */
static void lower_gla_diag(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *P = op->args[0], *q = op->args[1], *k = op->args[3], *bt = op->args[5];
    LLVMValueRef qb = op->args[2] ? vi(L, op->args[2]) : NULL, kb = op->args[4] ? vi(L, op->args[4]) : NULL;
    LLVMValueRef r0 = vi(L, op->args[6]), bb = op->args[7] ? vi(L, op->args[7]) : NULL;
    int dk = op->ival, n = frag_nregs(P);
    LLVMValueRef rows[2] = {add(L, r0, L->g), add(L, r0, addc(L, L->g, 8))};
    LLVMValueRef cols[4];
    for (int qq = 0; qq < 2; qq++)
        for (int e = 0; e < 2; e++) cols[qq * 2 + e] = add(L, r0, addc(L, mulc(L, L->c, 2), 8 * qq + e));
    CgLoop lp;
    cg_loop_begin(cg, &lp, "diag");
    LLVMValueRef kk = lp.i;
    LLVMValueRef acc[8], next[8];
    for (int i = 0; i < 8; i++) acc[i] = cg_loop_phi(cg, &lp, cf(L, 0));
    LLVMValueRef qv[2], bq[2], kv[4], bk[4];
    for (int i = 0; i < 2; i++) {
        qv[i] = load_f32_smem(L, q, qb, rows[i], kk);
        bq[i] = load_f32_smem(L, bt, bb, rows[i], kk);
    }
    for (int j = 0; j < 4; j++) {
        kv[j] = load_f32_smem(L, k, kb, cols[j], kk);
        bk[j] = load_f32_smem(L, bt, bb, cols[j], kk);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            /* e^(B_i - B_j) <= 1 where it counts (j <= i); clamped so the masked ones stay finite */
            LLVMValueRef ex = LLVMBuildFSub(B_, bq[i], bk[j], "");
            LLVMTypeRef p2[2] = {cg->t_f32, cg->t_f32};
            LLVMValueRef a2[2] = {ex, cf(L, 0)};
            ex = cg_call(cg, "llvm.minnum.f32", cg->t_f32, p2, a2, 2);
            LLVMValueRef term = fmul(L, fmul(L, qv[i], kv[j]), cg_exp(cg, ex));
            next[i * 4 + j] = LLVMBuildFAdd(B_, acc[i * 4 + j], term, "");
        }
    cg_loop_end(cg, &lp, ci(L, dk), acc, next, 8);
    /* Into P: tiles r0/8 and r0/8 + 1 of the fragment, picked at run time. */
    LLVMValueRef *in = regs(L, P), *out = regs_new(L, n);
    LLVMValueRef d0 = LLVMBuildUDiv(B_, r0, ci(L, 8), "");
    for (int nt = 0; nt < P->cols / 8; nt++) {
        LLVMValueRef is0 = LLVMBuildICmp(B_, LLVMIntEQ, d0, ci(L, nt), "");
        LLVMValueRef is1 = LLVMBuildICmp(B_, LLVMIntEQ, addc(L, d0, 1), ci(L, nt), "");
        for (int e = 0; e < 4; e++) {
            int i = e / 2, j0 = e % 2;
            LLVMValueRef x = in[acc_index(P, 0, nt, e)];
            x = LLVMBuildSelect(B_, is0, next[i * 4 + j0], x, "");
            x = LLVMBuildSelect(B_, is1, next[i * 4 + 2 + j0], x, "");
            out[acc_index(P, 0, nt, e)] = x;
        }
    }
    set_frag(L, op->res, out);
}

/* An A operand loaded into registers once (both planes of a split one). */
static void lower_lda(Low *L, const TirOp *op)
{
    const TirValue *a = op->res;
    int nkt = op->ival / 16, np = a->elem == TE_SPLIT ? 2 : 1;
    LLVMValueRef *r = regs_new(L, frag_nregs(a));
    for (int mt = 0; mt < a->rows / 16; mt++)
        for (int kt = 0; kt < nkt; kt++) {
            LLVMValueRef out[2][4];
            load_a(L, &op->a, mt, kt, out);
            for (int pl = 0; pl < np; pl++)
                for (int i = 0; i < 4; i++) r[a_index(a, mt, kt, i, pl)] = out[pl][i];
        }
    set_frag(L, a, r);
}

/* GLA's decay in the chunk's reference (lac_internal.h, tir_gla_prep).
 * Thread: lane = pw + lpg * grp in warp w takes the column pair w lpg + pw
 * and rows grp R .. grp R + R - 1: it sums its rows, adds the sums of the
 * groups before it (shuffles up by lpg lanes), then writes B and the keys
 * times e^-B, two columns (8 and 4 bytes) a row. */
static void lower_gla_prep(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    const TirValue *bt = op->args[0], *k = op->args[6], *kx = op->args[8];
    LLVMValueRef btbuf = op->args[1] ? vi(L, op->args[1]) : NULL, kbuf = op->args[7] ? vi(L, op->args[7]) : NULL;
    LLVMValueRef b = vi(L, op->args[2]), h = vi(L, op->args[3]), t0 = vi(L, op->args[4]), T = vi(L, op->args[5]);
    int ncp = op->ival / 2, ngrp = op->thr_n / ncp, R = bt->rows / ngrp, lpg = 32 / ngrp;
    LAC_ASSERT(R <= 64 && lpg >= 1);
    scope_push(L);
    LLVMValueRef grp = LLVMBuildUDiv(B_, L->lane, ci(L, lpg), "");
    LLVMValueRef pair = add(L, mulc(L, L->warp, lpg), LLVMBuildURem(B_, L->lane, ci(L, lpg), ""));
    LLVMValueRef j[2] = {mulc(L, pair, 2), addc(L, mulc(L, pair, 2), 1)};
    LLVMValueRef rbase = mulc(L, grp, R);
    LLVMValueRef d[2][64], run[2] = {NULL, NULL};
    /* Every read of the rows before any write: bt may be the decay's input. */
    for (int i = 0; i < R; i++) {
        LLVMValueRef r = addc(L, rbase, i), t = add(L, t0, r), ok = slt(L, t, T);
        LaCtx x = {0};
        CgLaEnv env;
        la_env(L, &x, &env, op, b, h, t);
        x.row = r;
        for (int c = 0; c < 2; c++) {
            LLVMValueRef v = LLVMBuildSelect(B_, ok, cg_la(cg, op->la, -1, j[c], &env), cf(L, 0), "");
            run[c] = run[c] ? LLVMBuildFAdd(B_, run[c], v, "") : v;
            d[c][i] = run[c];
        }
    }
    LLVMValueRef excl[2];
    for (int c = 0; c < 2; c++) {
        LLVMValueRef s = run[c];
        for (int off = 1; off < ngrp; off *= 2) {
            LLVMValueRef y = cg_shfl_up_f32(cg, s, off * lpg);
            LLVMValueRef use = LLVMBuildICmp(B_, LLVMIntUGE, grp, ci(L, off), "");
            s = LLVMBuildFAdd(B_, s, LLVMBuildSelect(B_, use, y, cf(L, 0), ""), "");
        }
        excl[c] = LLVMBuildFSub(B_, s, run[c], "");
    }
    LLVMValueRef steep = LLVMConstInt(cg->t_i1, 0, 0);
    LLVMTypeRef p1[1] = {cg->t_f32};
    for (int i = 0; i < R; i++) {
        LLVMValueRef r = addc(L, rbase, i), e[2];
        for (int c = 0; c < 2; c++) {
            LLVMValueRef bv = LLVMBuildFAdd(B_, excl[c], d[c][i], "");
            LLVMSetAlignment(LLVMBuildStore(B_, bv, sptr(L, smem_elem(L, bt, btbuf, r, j[c], 0))), 4);
            LLVMValueRef mag = cg_call(cg, "llvm.fabs.f32", cg->t_f32, p1, &bv, 1);
            LLVMValueRef ok = LLVMBuildFCmp(B_, LLVMRealOLE, mag, cf(L, op->fval), ""); /* false for NaN */
            steep = LLVMBuildOr(B_, steep, LLVMBuildNot(B_, ok, ""), "");
            e[c] = cg_exp(cg, LLVMBuildFNeg(B_, bv, ""));
        }
        LLVMValueRef kp = LLVMBuildLoad2(B_, cg->t_i32, sptr(L, smem_elem(L, k, kbuf, r, j[0], 0)), "");
        LLVMSetAlignment(kp, 4);
        LLVMValueRef k0, k1;
        cg_unpack(cg, TE_BF16, kp, &k0, &k1);
        LLVMValueRef w = cg_pack(cg, TE_BF16, fmul(L, k0, e[0]), fmul(L, k1, e[1]));
        LLVMSetAlignment(LLVMBuildStore(B_, w, sptr(L, smem_elem(L, kx, NULL, r, j[0], 0))), 4);
    }
    L->vals[op->res->id].v = steep;
    scope_pop(L);
}

/* ------------------------------------------------------------------------
 * Regions
 * ------------------------------------------------------------------------ */

static void lower_block(Low *L, const TirBlock *bl);

/* The LLVM values of a TirValue, flattened (one for a scalar). */
static int flat(Low *L, const TirValue *x, LLVMValueRef **out)
{
    if (x->type == TT_FRAG) {
        *out = regs(L, x);
        return L->vals[x->id].nr;
    }
    *out = &L->vals[x->id].v;
    if (x->is_const) {
        LLVMValueRef *one = regs_new(L, 1);
        one[0] = vi(L, x);
        *out = one;
    }
    return 1;
}

static void define_like(Low *L, const TirValue *x, LLVMValueRef *vals)
{
    if (x->type == TT_FRAG) set_frag(L, x, vals);
    else L->vals[x->id].v = vals[0];
}

static void lower_for(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    LLVMValueRef lo = vi(L, op->args[0]), hi = vi(L, op->args[1]);
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(B_);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "loop");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "loop.end");
    LLVMBuildCondBr(B_, slt(L, lo, hi), body, exit);
    LLVMPositionBuilderAtEnd(B_, body);
    LLVMValueRef iv = LLVMBuildPhi(B_, cg->t_i32, op->iv->name ? op->iv->name : "i");
    L->vals[op->iv->id].v = iv;
    int nc = op->ncarried;
    LLVMValueRef **phis = arena_alloc(cg->a, sizeof(LLVMValueRef *) * (size_t)(nc + 1));
    int *ns = arena_alloc(cg->a, sizeof(int) * (size_t)(nc + 1));
    LLVMValueRef **inits = arena_alloc(cg->a, sizeof(LLVMValueRef *) * (size_t)(nc + 1));
    for (int i = 0; i < nc; i++) {
        ns[i] = flat(L, op->inits[i], &inits[i]);
        phis[i] = regs_new(L, ns[i]);
        for (int j = 0; j < ns[i]; j++) phis[i][j] = LLVMBuildPhi(B_, LLVMTypeOf(inits[i][j]), "");
        define_like(L, op->carried[i], phis[i]);
    }
    scope_push(L);
    /* The thread's coordinates, opaque in the body: what the body computes
     * from them (addresses of copies, of decay loads, fragment positions)
     * stays in the loop instead of being hoisted into live registers. */
    LLVMValueRef saved[5] = {L->tid, L->lane, L->warp, L->g, L->c};
    L->tid = cg_opaque_i32(cg, L->tid);
    L->lane = LLVMBuildAnd(B_, L->tid, ci(L, 31), "");
    L->warp = LLVMBuildLShr(B_, L->tid, ci(L, 5), "");
    L->g = LLVMBuildLShr(B_, L->lane, ci(L, 2), "");
    L->c = LLVMBuildAnd(B_, L->lane, ci(L, 3), "");
    L->yield = NULL;
    lower_block(L, &op->body);
    const TirOp *y = L->yield;
    L->tid = saved[0];
    L->lane = saved[1];
    L->warp = saved[2];
    L->g = saved[3];
    L->c = saved[4];
    scope_pop(L);
    LLVMValueRef next = addc(L, iv, 1);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(B_);
    LLVMBuildCondBr(B_, slt(L, next, hi), body, exit);
    LLVMAddIncoming(iv, &lo, &pre, 1);
    LLVMAddIncoming(iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(B_, exit);
    for (int i = 0; i < nc; i++) {
        LAC_ASSERT(y && y->ncarried == nc);
        LLVMValueRef *ys;
        int n = flat(L, y->carried[i], &ys);
        LAC_ASSERT(n == ns[i]);
        LLVMValueRef *res = regs_new(L, n);
        for (int j = 0; j < n; j++) {
            LLVMAddIncoming(phis[i][j], &inits[i][j], &pre, 1);
            LLVMAddIncoming(phis[i][j], &ys[j], &latch, 1);
            res[j] = phi2(L, inits[i][j], pre, ys[j], latch);
        }
        define_like(L, op->results[i], res);
    }
    L->yield = NULL;
}

static void lower_if(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    int nc = op->ncarried;
    LLVMValueRef cond = vi(L, op->args[0]);
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "then");
    LLVMBasicBlockRef els = (op->orelse.n || nc) ? LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "else") : NULL;
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "endif");
    LLVMBuildCondBr(B_, cond, then, els ? els : merge);
    LLVMValueRef **tv = arena_alloc(cg->a, sizeof(LLVMValueRef *) * (size_t)(nc + 1));
    LLVMValueRef **ev = arena_alloc(cg->a, sizeof(LLVMValueRef *) * (size_t)(nc + 1));
    int *ns = arena_alloc(cg->a, sizeof(int) * (size_t)(nc + 1));
    LLVMPositionBuilderAtEnd(B_, then);
    scope_push(L);
    L->yield = NULL;
    lower_block(L, &op->body);
    for (int i = 0; i < nc; i++) ns[i] = flat(L, L->yield->carried[i], &tv[i]);
    scope_pop(L);
    LLVMBasicBlockRef then_end = LLVMGetInsertBlock(B_);
    LLVMBuildBr(B_, merge);
    LLVMBasicBlockRef else_end = NULL;
    if (els) {
        LLVMPositionBuilderAtEnd(B_, els);
        scope_push(L);
        L->yield = NULL;
        lower_block(L, &op->orelse);
        for (int i = 0; i < nc; i++) {
            int n = flat(L, L->yield->carried[i], &ev[i]);
            LAC_ASSERT(n == ns[i]);
        }
        scope_pop(L);
        else_end = LLVMGetInsertBlock(B_);
        LLVMBuildBr(B_, merge);
    }
    LLVMPositionBuilderAtEnd(B_, merge);
    for (int i = 0; i < nc; i++) {
        LLVMValueRef *res = regs_new(L, ns[i]);
        for (int j = 0; j < ns[i]; j++) {
            res[j] = tv[i][j] == ev[i][j] ? tv[i][j] : phi2(L, tv[i][j], then_end, ev[i][j], else_end);
        }
        define_like(L, op->results[i], res);
    }
    L->yield = NULL;
}

static void lower_op(Low *L, const TirOp *op)
{
    Cg *cg = L->cg;
    switch (op->kind) {
    case TIR_SREG:
        /* "warp": tid.x / 32 broadcast from lane 0, which ptxas then knows
         * is the same in every lane (CUTLASS does the same for its warp
         * group index): the roles' branch is uniform. */
        if (strcmp(op->sval, "warp") == 0)
            L->vals[op->res->id].v = cg_shfl_idx_i32(cg, LLVMBuildLShr(B_, cg_sreg(cg, "tid.x"), ci(L, 5), ""), 0);
        else
            L->vals[op->res->id].v = cg_sreg(cg, op->sval);
        break;
    case TIR_BIN: {
        LLVMValueRef x = vi(L, op->args[0]), y = vi(L, op->args[1]), r = NULL;
        bool f = op->args[0]->type == TT_F32;
        switch ((TirBinOp)op->ival) {
        case TB_ADD: r = f ? LLVMBuildFAdd(B_, x, y, "") : add(L, x, y); break;
        case TB_SUB: r = f ? LLVMBuildFSub(B_, x, y, "") : LLVMBuildSub(B_, x, y, ""); break;
        case TB_MUL: r = f ? LLVMBuildFMul(B_, x, y, "") : mul(L, x, y); break;
        case TB_DIV: r = f ? LLVMBuildFDiv(B_, x, y, "") : LLVMBuildUDiv(B_, x, y, ""); break;
        case TB_REM: r = LLVMBuildURem(B_, x, y, ""); break;
        case TB_MIN: r = LLVMBuildSelect(B_, slt(L, x, y), x, y, ""); break;
        case TB_MAX: r = LLVMBuildSelect(B_, slt(L, x, y), y, x, ""); break;
        case TB_LT: r = f ? LLVMBuildFCmp(B_, LLVMRealOLT, x, y, "") : slt(L, x, y); break;
        case TB_LE: r = f ? LLVMBuildFCmp(B_, LLVMRealOLE, x, y, "") : LLVMBuildICmp(B_, LLVMIntSLE, x, y, ""); break;
        case TB_EQ: r = LLVMBuildICmp(B_, LLVMIntEQ, x, y, ""); break;
        case TB_NE: r = LLVMBuildICmp(B_, LLVMIntNE, x, y, ""); break;
        case TB_AND: r = LLVMBuildAnd(B_, x, y, ""); break;
        }
        L->vals[op->res->id].v = r;
        break;
    }
    case TIR_LA_SCALAR: lower_la_scalar(L, op); break;
    case TIR_SMEM: break;
    case TIR_FILL: lower_fill(L, op); break;
    case TIR_DTAB: lower_dtab(L, op); break;
    case TIR_COPY: lower_copy(L, op); break;
    case TIR_COMMIT: cg_cp_async_commit(cg); break;
    case TIR_WAIT: cg_cp_async_wait(cg, op->ival); break;
    case TIR_BARRIER:
        /* Writes of the generic proxy (cp.async, st.shared) before wgmma reads them. */
        if (L->p->has_wg && cg->wgmma) cg_fence_proxy_async(cg);
        if (op->res) L->vals[op->res->id].v = cg_barrier_or(cg, vi(L, op->args[0]));
        else cg_barrier(cg);
        break;
    case TIR_ZERO: {
        int n = frag_nregs(op->res);
        LLVMValueRef *r = regs_new(L, n);
        for (int i = 0; i < n; i++) r[i] = cf(L, 0);
        set_frag(L, op->res, r);
        break;
    }
    case TIR_MMA: lower_mma(L, op); break;
    case TIR_MAP: lower_map(L, op); break;
    case TIR_TOA: lower_toa(L, op); break;
    case TIR_CAT:
    case TIR_COLS: lower_cols(L, op); break;
    case TIR_STS: lower_sts(L, op); break;
    case TIR_STG: lower_stg(L, op); break;
    case TIR_LDSTATE: lower_ldstate(L, op); break;
    case TIR_STSTATE: lower_ststate(L, op); break;
    case TIR_LDTOKEN: lower_ldtoken(L, op); break;
    case TIR_SCAN_TOKEN: lower_scan_token(L, op); break;
    case TIR_SCAN_KEY: lower_scan_key(L, op); break;
    case TIR_ROWMAP: lower_rowmap(L, op); break;
    case TIR_ANY: lower_any(L, op); break;
    case TIR_GLA_DIAG: lower_gla_diag(L, op); break;
    case TIR_GLA_PREP: lower_gla_prep(L, op); break;
    case TIR_LDA: lower_lda(L, op); break;
    case TIR_FOR: lower_for(L, op); break;
    case TIR_IF: lower_if(L, op); break;
    case TIR_YIELD: L->yield = op; break;
    }
}

static void lower_block(Low *L, const TirBlock *bl)
{
    for (int i = 0; i < bl->n; i++) {
        L->next = i + 1 < bl->n ? bl->ops[i + 1] : NULL;
        wg_wait_before(L, bl->ops[i]);
        lower_op(L, bl->ops[i]);
    }
    if (L->ndeferred) wg_wait_pending(L, NULL, 0);
}

bool lower_program(Cg *cg, const TirProgram *p)
{
    Low low, *L = &low;
    memset(L, 0, sizeof *L);
    L->cg = cg;
    L->p = p;
    L->vals = arena_alloc(cg->a, sizeof(LVal) * (size_t)(p->nvalues + 1));
    int np = p->nparams;
    LLVMTypeRef *pt = arena_alloc(cg->a, sizeof(LLVMTypeRef) * (size_t)(np + 1));
    for (int i = 0; i < np; i++) pt[i] = p->params[i]->type == TT_GMEM ? cg->t_ptr_g : cg->t_i32;
    cg->fn = LLVMAddFunction(cg->mod, p->name, LLVMFunctionType(cg->t_void, pt, (unsigned)np, 0));
    LLVMSetFunctionCallConv(cg->fn, 71 /* PTX_Kernel */);
    for (int i = 0; i < np; i++) {
        const TirValue *x = p->params[i];
        LLVMValueRef v = LLVMGetParam(cg->fn, (unsigned)i);
        if (x->name) LLVMSetValueName2(v, x->name, strlen(x->name));
        L->vals[x->id].v = v;
        if (x->type == TT_I32 && x->name) {
            if (strcmp(x->name, "B") == 0) cg->B = v;
            if (strcmp(x->name, "T") == 0) cg->T = v;
            if (strcmp(x->name, "H") == 0) cg->H = v;
        }
    }
    LAC_ASSERT(cg->B && cg->T && cg->H);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry");
    LLVMPositionBuilderAtEnd(B_, entry);
    L->tid = cg_sreg(cg, "tid.x");
    L->lane = LLVMBuildAnd(B_, L->tid, ci(L, 31), "lane");
    L->warp = LLVMBuildLShr(B_, L->tid, ci(L, 5), "warp");
    L->g = LLVMBuildLShr(B_, L->lane, ci(L, 2), "g");
    L->c = LLVMBuildAnd(B_, L->lane, ci(L, 3), "c");
    /* ldmatrix rows: P0 row l % 16, column (l / 16) * 8; P1 row l % 8 + (l / 16) * 8,
     * column ((l / 8) % 2) * 8 (lac_internal.h, MMA operands). */
    LLVMValueRef l8 = LLVMBuildAnd(B_, L->lane, ci(L, 7), ""), hi8 = mulc(L, LLVMBuildLShr(B_, L->lane, ci(L, 4), ""), 8);
    LLVMValueRef mid8 = mulc(L, LLVMBuildAnd(B_, LLVMBuildLShr(B_, L->lane, ci(L, 3), ""), ci(L, 1), ""), 8);
    L->pat_r[0] = add(L, l8, mid8);
    L->pat_c[0] = hi8;
    L->pat_r[1] = add(L, l8, hi8);
    L->pat_c[1] = mid8;
    scope_push(L);
    lower_block(L, &p->top);
    scope_pop(L);
    LLVMBuildRetVoid(B_);
    return true;
}
