/*
 * fwd_state.c: the chunked forward with the state kept on chip for the whole
 * sequence (docs/design.md section 8; shared/reference algorithms.md 2-3).
 *
 * One CTA per (value block, batch x head) walks the sequence in chunks of
 * C = 64 tokens with 4 warps. The state S (dk x BV, fp32) lives in the mma
 * accumulators of the warps (warp w owns the 16-row tiles w, w + 4, ...) and
 * is never written to global memory, except as the final state on request.
 * Per chunk, with b_i the inclusive cumulative log decay inside the chunk:
 *
 *   O      = diag(exp(b)) (Q S_prev) + ((Q K^T) * exp(b_i - b_j) * [j <= i]) V
 *   S_new  = exp(b_last) S_prev + (K * exp(b_last - b_j))^T V
 *   o      = scale * O
 *
 * Every exponent is <= 0. Q, K and V tiles arrive by cp.async (16-byte,
 * zero-filled past T and dv) into a two-stage ring in padded shared memory
 * (rows padded by 16 bytes so ldmatrix is conflict-free); all matmuls are
 * mma.sync m16n8k16 bf16 with fp32 accumulation, operands by ldmatrix
 * (.trans where the operand is stored the other way round). Warp w computes
 * the output rows 16w .. 16w+15: its causal score tile reuses the fp32
 * accumulators as the A operand of the P V product (FlashAttention-2's
 * register trick), and key tiles strictly above its diagonal are skipped.
 * The decay weights of the state update are folded into the K^T fragments.
 *
 * This is the first template; the scalar-decay family (none, per head, per
 * token) with identity feature maps. Per-key gates, feature maps,
 * normalization and the sequence-split schedule come next (issue 3).
 */
#include <string.h>

#include "codegen.h"

enum { C = 64, W = 4, THREADS = 32 * W };

typedef struct Fwd {
    Cg *cg;
    const Variant *v;
    int dk, dv, bv;           /* key features, value channels, value block */
    int qs, vs;               /* padded row strides (elements) of Q/K and V/S tiles */
    int stage_bytes, s_off, b_off, smem_bytes;
    int mt_w;                 /* 16-row state tiles per warp */
    DecayKind decay;
    LLVMValueRef tid, lane, warp, g, c, b, h, v0, nch;
    LLVMValueRef q, k, vv, o, s0, sfin;
    LLVMValueRef scale, gamma; /* gamma: per-head log decay */
    CgRegs S;                  /* state accumulators [mt_w][bv/8][4] */
    /* Per-chunk shared-memory byte addresses of each thread's ldmatrix rows;
     * every fragment address is one of these plus a constant. */
    LLVMValueRef qA;   /* Q as A operand: row r0 + l8 + l8mid, col l8hi */
    LLVMValueRef kB;   /* K as B operand of Q K^T (and A of K^T V, .trans): row l8 + l8hi, col l8mid */
    LLVMValueRef vB;   /* V as B operand (.trans): row l8 + l8mid, col l8hi */
    LLVMValueRef sB;   /* S as B operand (.trans): row l8 + l8mid, col l8hi */
} Fwd;

#define B_ (f->cg->b)

static LLVMValueRef i32(Fwd *f, long long x) { return cg_i32(f->cg, x); }
static LLVMValueRef add(Fwd *f, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(B_, a, b, ""); }
static LLVMValueRef mul(Fwd *f, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(B_, a, b, ""); }
static LLVMValueRef addc(Fwd *f, LLVMValueRef a, long long x) { return add(f, a, i32(f, x)); }
static LLVMValueRef mulc(Fwd *f, LLVMValueRef a, long long x) { return mul(f, a, i32(f, x)); }
static LLVMValueRef sext(Fwd *f, LLVMValueRef a) { return LLVMBuildSExt(B_, a, f->cg->t_i64, ""); }
static LLVMValueRef lt(Fwd *f, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(B_, LLVMIntSLT, a, b, ""); }

/* Index of row t of (b, h) in a [B, T, H, D] tensor, in rows (i64). */
static LLVMValueRef token_row(Fwd *f, LLVMValueRef t)
{
    LLVMValueRef bt = add(f, mul(f, f->b, f->cg->T), t);
    return LLVMBuildAdd(B_, LLVMBuildMul(B_, sext(f, bt), sext(f, f->cg->H), ""), sext(f, f->h), "");
}

static int s_index(Fwd *f, int mi, int nt, int e) { return (mi * (f->bv / 8) + nt) * 4 + e; }

/* Shared-memory byte offset of element (row, col) of a bf16 tile. */
static LLVMValueRef tile_at(Fwd *f, LLVMValueRef base, LLVMValueRef row, LLVMValueRef col, int stride)
{
    return add(f, base, mulc(f, add(f, mulc(f, row, stride), col), 2));
}

/* Asynchronous copies of chunk `ch` into the stage at byte offset `stage`.
 * One 64-bit base per tensor and chunk; each thread's rows are R = THREADS /
 * (row width / 8) apart, at one column, so the per-copy offsets are 32-bit
 * multiples of an opaque row stride (see cg_opaque_i32). */
static void issue_loads(Fwd *f, LLVMValueRef ch, LLVMValueRef stage)
{
    Cg *cg = f->cg;
    struct {
        LLVMValueRef src;
        int width, dim, stride, off;
        bool vblock;
    } t[3] = {{f->q, f->dk, f->dk, f->qs, 0, false},
              {f->k, f->dk, f->dk, f->qs, C * f->qs * 2, false},
              {f->vv, f->bv, f->dv, f->vs, 2 * C * f->qs * 2, true}};
    LLVMValueRef tok0 = mulc(f, ch, C);
    LLVMValueRef row0 = token_row(f, tok0); /* i64 row of token ch*C */
    for (int m = 0; m < 3; m++) {
        int per_row = t[m].width / 8, rows_apart = THREADS / per_row;
        LAC_ASSERT(THREADS % per_row == 0);
        LLVMValueRef r = LLVMBuildUDiv(B_, f->tid, i32(f, per_row), "");
        LLVMValueRef cc = LLVMBuildURem(B_, f->tid, i32(f, per_row), "");
        LLVMValueRef col = mulc(f, cc, 8);
        LLVMValueRef col_ok = LLVMConstInt(cg->t_i1, 1, 0);
        if (t[m].vblock) {
            col = add(f, f->v0, col);
            col_ok = lt(f, col, i32(f, f->dv));
        }
        /* Bytes between consecutive tokens of one head: H * dim * 2. */
        LLVMValueRef tok_bytes = cg_opaque_i32(cg, mulc(f, cg->H, (long long)t[m].dim * 2));
        LLVMValueRef base = cg_gmem_at(cg, t[m].src, LLVMBuildMul(B_, row0, cg_i64(cg, t[m].dim), ""), 2);
        LLVMValueRef off = add(f, mul(f, r, tok_bytes), mulc(f, LLVMBuildSelect(B_, col_ok, col, i32(f, 0), ""), 2));
        LLVMValueRef step = mulc(f, tok_bytes, rows_apart);
        LLVMValueRef sdst = tile_at(f, addc(f, stage, t[m].off), r, col_ok == NULL ? col : mulc(f, cc, 8), t[m].stride);
        for (int i = 0; i < C / rows_apart; i++) {
            LLVMValueRef tok = add(f, tok0, addc(f, r, (long long)i * rows_apart));
            LLVMValueRef ok = LLVMBuildAnd(B_, lt(f, tok, cg->T), col_ok, "");
            /* Out-of-range copies read 0 bytes from the chunk base instead. */
            LLVMValueRef o = LLVMBuildSelect(B_, ok, off, i32(f, 0), "");
            LLVMValueRef src = cg_gmem_at(cg, base, LLVMBuildSExt(B_, o, cg->t_i64, ""), 1);
            LLVMValueRef dst = cg_smem_at(cg, addc(f, sdst, (long long)i * rows_apart * t[m].stride * 2));
            cg_cp_async16(cg, dst, src, LLVMBuildSelect(B_, ok, i32(f, 16), i32(f, 0), ""));
            off = add(f, off, step);
        }
    }
    cg_cp_async_commit(cg);
}

/* Warp 0: inclusive scan of the chunk's log decays into b[0..C). */
static void decay_scan(Fwd *f, LLVMValueRef ch)
{
    Cg *cg = f->cg;
    LLVMBasicBlockRef merge = cg_if_begin(cg, LLVMBuildICmp(B_, LLVMIntEQ, f->warp, i32(f, 0), ""), "scan");
    LLVMValueRef d[2];
    CgScalarEnv env = {f->b, f->h, NULL, NULL};
    for (int j = 0; j < 2; j++) {
        LLVMValueRef tok = add(f, mulc(f, ch, C), addc(f, mulc(f, f->lane, 2), j));
        LLVMValueRef ok = lt(f, tok, cg->T);
        if (f->decay == DECAY_PER_HEAD) {
            d[j] = f->gamma;
        } else {
            env.t = LLVMBuildSelect(B_, ok, tok, i32(f, 0), "");
            env.lets = arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)(f->v->nlets + 1));
            d[j] = cg_scalar(cg, f->v->decay_expr, &env);
        }
        d[j] = LLVMBuildSelect(B_, ok, d[j], cg_f32(cg, 0), "");
    }
    LLVMValueRef pair = LLVMBuildFAdd(B_, d[0], d[1], "");
    LLVMValueRef s = pair;
    for (int off = 1; off < 32; off *= 2) {
        LLVMTypeRef p[4] = {cg->t_i32, cg->t_f32, cg->t_i32, cg->t_i32};
        LLVMValueRef a[4] = {i32(f, -1), s, i32(f, off), i32(f, 0)};
        LLVMValueRef y = cg_call(cg, "llvm.nvvm.shfl.sync.up.f32", cg->t_f32, p, a, 4);
        LLVMValueRef use = LLVMBuildICmp(B_, LLVMIntSGE, f->lane, i32(f, off), "");
        s = LLVMBuildFAdd(B_, s, LLVMBuildSelect(B_, use, y, cg_f32(cg, 0), ""), "");
    }
    LLVMValueRef excl = LLVMBuildFSub(B_, s, pair, "");
    LLVMValueRef b0 = LLVMBuildFAdd(B_, excl, d[0], "");
    LLVMValueRef at = addc(f, mulc(f, f->lane, 8), f->b_off);
    LLVMBuildStore(B_, b0, cg_smem_at(cg, at));
    LLVMBuildStore(B_, s, cg_smem_at(cg, addc(f, at, 4)));
    cg_if_end(cg, merge);
}

static LLVMValueRef bdecay(Fwd *f, LLVMValueRef i)
{
    return LLVMBuildLoad2(B_, f->cg->t_f32, cg_smem_at(f->cg, addc(f, mulc(f, i, 4), f->b_off)), "");
}

/* The bf16 copy of S in shared memory that Q S reads. */
static void write_state_smem(Fwd *f)
{
    Cg *cg = f->cg;
    for (int mi = 0; mi < f->mt_w; mi++) {
        LLVMValueRef mt = addc(f, mulc(f, f->warp, 1), (long long)mi * W);
        for (int nt = 0; nt < f->bv / 8; nt++)
            for (int half = 0; half < 2; half++) {
                LLVMValueRef row = add(f, mulc(f, mt, 16), addc(f, f->g, 8 * half));
                LLVMValueRef col = addc(f, mulc(f, f->c, 2), nt * 8);
                LLVMValueRef v = cg_pack_bf16(cg, cg_reg_get(cg, f->S, s_index(f, mi, nt, 2 * half)),
                                              cg_reg_get(cg, f->S, s_index(f, mi, nt, 2 * half + 1)));
                LLVMBuildStore(B_, v, cg_smem_at(cg, tile_at(f, i32(f, f->s_off), row, col, f->vs)));
            }
    }
}

/* S from s0 (or zero), and the final state out: fp32 pairs, [B, H, dk, dv]. */
static void state_io(Fwd *f, bool load)
{
    Cg *cg = f->cg;
    LLVMValueRef ptr = load ? f->s0 : f->sfin;
    LLVMValueRef nonnull = LLVMBuildICmp(B_, LLVMIntNE, LLVMBuildPtrToInt(B_, ptr, cg->t_i64, ""),
                                         cg_i64(cg, 0), "");
    LLVMBasicBlockRef merge = cg_if_begin(cg, nonnull, load ? "s0" : "sfin");
    LLVMValueRef bh = LLVMBuildAdd(B_, LLVMBuildMul(B_, sext(f, f->b), sext(f, cg->H), ""), sext(f, f->h), "");
    LLVMTypeRef v2f = LLVMVectorType(cg->t_f32, 2);
    for (int mi = 0; mi < f->mt_w; mi++) {
        LLVMValueRef mt = addc(f, f->warp, (long long)mi * W);
        for (int nt = 0; nt < f->bv / 8; nt++)
            for (int half = 0; half < 2; half++) {
                LLVMValueRef row = add(f, mulc(f, mt, 16), addc(f, f->g, 8 * half));
                LLVMValueRef col = add(f, f->v0, addc(f, mulc(f, f->c, 2), nt * 8));
                LLVMBasicBlockRef in = cg_if_begin(cg, lt(f, col, i32(f, f->dv)), "col");
                LLVMValueRef idx = LLVMBuildAdd(
                    B_, LLVMBuildMul(B_, LLVMBuildAdd(B_, LLVMBuildMul(B_, bh, cg_i64(cg, f->dk), ""), sext(f, row), ""),
                                     cg_i64(cg, f->dv), ""),
                    sext(f, col), "");
                LLVMValueRef p = cg_gmem_at(cg, ptr, idx, 4);
                int e0 = s_index(f, mi, nt, 2 * half);
                if (load) {
                    LLVMValueRef x = LLVMBuildLoad2(B_, v2f, p, "");
                    LLVMSetAlignment(x, 8);
                    cg_reg_set(cg, f->S, e0, LLVMBuildExtractElement(B_, x, i32(f, 0), ""));
                    cg_reg_set(cg, f->S, e0 + 1, LLVMBuildExtractElement(B_, x, i32(f, 1), ""));
                } else {
                    LLVMValueRef x = LLVMGetUndef(v2f);
                    x = LLVMBuildInsertElement(B_, x, cg_reg_get(cg, f->S, e0), i32(f, 0), "");
                    x = LLVMBuildInsertElement(B_, x, cg_reg_get(cg, f->S, e0 + 1), i32(f, 1), "");
                    LLVMSetAlignment(LLVMBuildStore(B_, x, p), 8);
                }
                cg_if_end(cg, in);
            }
    }
    cg_if_end(cg, merge);
}

static LLVMValueRef lds(Fwd *f, LLVMValueRef base, long long off)
{
    return cg_smem_at(f->cg, addc(f, base, off));
}

/* The thread's ldmatrix base addresses for the stage of this chunk. */
static void fragment_bases(Fwd *f, LLVMValueRef stage)
{
    Cg *cg = f->cg;
    LLVMValueRef l8 = LLVMBuildURem(B_, f->lane, i32(f, 8), "");
    LLVMValueRef l8hi = mulc(f, LLVMBuildUDiv(B_, f->lane, i32(f, 16), ""), 8);
    LLVMValueRef l8mid = mulc(f, LLVMBuildURem(B_, LLVMBuildUDiv(B_, f->lane, i32(f, 8), ""), i32(f, 2), ""), 8);
    LLVMValueRef r0 = mulc(f, f->warp, 16);
    f->qA = cg_opaque_i32(cg, tile_at(f, stage, add(f, r0, add(f, l8, l8mid)), l8hi, f->qs));
    f->kB = cg_opaque_i32(cg, tile_at(f, addc(f, stage, C * f->qs * 2), add(f, l8, l8hi), l8mid, f->qs));
    f->vB = cg_opaque_i32(cg, tile_at(f, addc(f, stage, 2 * C * f->qs * 2), add(f, l8, l8mid), l8hi, f->vs));
    f->sB = cg_opaque_i32(cg, tile_at(f, i32(f, f->s_off), add(f, l8, l8mid), l8hi, f->vs));
}

/* Output rows 16w .. 16w+15 of chunk `ch`. */
static void chunk_output(Fwd *f, LLVMValueRef ch, LLVMValueRef stage)
{
    Cg *cg = f->cg;
    int nkk = f->dk / 16, nvt = f->bv / 8;
    (void)stage;
    LLVMValueRef r0 = mulc(f, f->warp, 16);

    /* Q fragments of the warp's 16 rows, all of dk (A operand, row-major). */
    LLVMValueRef qa[16][4];
    for (int kk = 0; kk < nkk; kk++) cg_ldmatrix_x4(cg, lds(f, f->qA, kk * 16 * 2), false, qa[kk]);

    CgRegs O = cg_regs(cg, nvt * 4, "o_acc");
    for (int i = 0; i < nvt * 4; i++) cg_reg_set(cg, O, i, cg_f32(cg, 0));
    /* Inter-chunk: Q S_prev, S from shared memory (B operand, stored [dk][bv]: .trans). */
    for (int kk = 0; kk < nkk; kk++)
        for (int np = 0; np < nvt / 2; np++) {
            LLVMValueRef bf[4];
            cg_ldmatrix_x4(cg, lds(f, f->sB, ((long long)kk * 16 * f->vs + np * 16) * 2), true, bf);
            for (int h2 = 0; h2 < 2; h2++) {
                LLVMValueRef acc[4];
                for (int e = 0; e < 4; e++) acc[e] = cg_reg_get(cg, O, (2 * np + h2) * 4 + e);
                cg_mma_bf16(cg, qa[kk], bf[2 * h2], bf[2 * h2 + 1], acc);
                for (int e = 0; e < 4; e++) cg_reg_set(cg, O, (2 * np + h2) * 4 + e, acc[e]);
            }
        }
    LLVMValueRef bi[2] = {NULL, NULL};
    if (f->decay != DECAY_NONE) {
        for (int half = 0; half < 2; half++) {
            bi[half] = bdecay(f, add(f, r0, addc(f, f->g, 8 * half)));
            LLVMValueRef e = cg_exp(cg, bi[half]);
            for (int nt = 0; nt < nvt; nt++)
                for (int x = 0; x < 2; x++) {
                    int idx = nt * 4 + 2 * half + x;
                    cg_reg_set(cg, O, idx, LLVMBuildFMul(B_, cg_reg_get(cg, O, idx), e, ""));
                }
        }
    }

    /* Intra-chunk scores Q K^T for key tiles up to the diagonal. */
    CgRegs P = cg_regs(cg, (C / 8) * 4, "p_acc");
    for (int i = 0; i < (C / 8) * 4; i++) cg_reg_set(cg, P, i, cg_f32(cg, 0));
    for (int jp = 0; jp < C / 16; jp++) {
        LLVMBasicBlockRef merge = cg_if_begin(cg, LLVMBuildICmp(B_, LLVMIntSGE, f->warp, i32(f, jp), ""), "qk");
        for (int kk = 0; kk < nkk; kk++) {
            LLVMValueRef bf[4];
            cg_ldmatrix_x4(cg, lds(f, f->kB, ((long long)jp * 16 * f->qs + kk * 16) * 2), false, bf);
            for (int h2 = 0; h2 < 2; h2++) {
                LLVMValueRef acc[4];
                for (int e = 0; e < 4; e++) acc[e] = cg_reg_get(cg, P, (2 * jp + h2) * 4 + e);
                cg_mma_bf16(cg, qa[kk], bf[2 * h2], bf[2 * h2 + 1], acc);
                for (int e = 0; e < 4; e++) cg_reg_set(cg, P, (2 * jp + h2) * 4 + e, acc[e]);
            }
        }
        cg_if_end(cg, merge);
    }
    /* Causal mask and decay exp(b_i - b_j), in registers. */
    for (int nt = 0; nt < C / 8; nt++)
        for (int e = 0; e < 4; e++) {
            LLVMValueRef i = add(f, r0, addc(f, f->g, 8 * (e / 2)));
            LLVMValueRef j = addc(f, mulc(f, f->c, 2), nt * 8 + (e % 2));
            LLVMValueRef x = cg_reg_get(cg, P, nt * 4 + e);
            if (f->decay != DECAY_NONE)
                x = LLVMBuildFMul(B_, x, cg_exp(cg, LLVMBuildFSub(B_, bi[e / 2], bdecay(f, j), "")), "");
            x = LLVMBuildSelect(B_, LLVMBuildICmp(B_, LLVMIntSLE, j, i, ""), x, cg_f32(cg, 0), "");
            cg_reg_set(cg, P, nt * 4 + e, x);
        }
    /* P V: the score accumulators are the A operand (pairs repacked to bf16). */
    for (int kk = 0; kk < C / 16; kk++) {
        LLVMBasicBlockRef merge = cg_if_begin(cg, LLVMBuildICmp(B_, LLVMIntSGE, f->warp, i32(f, kk), ""), "pv");
        LLVMValueRef pa[4];
        for (int q = 0; q < 4; q++) {
            int nt = 2 * kk + q / 2, e = 2 * (q % 2);
            pa[q] = cg_pack_bf16(cg, cg_reg_get(cg, P, nt * 4 + e), cg_reg_get(cg, P, nt * 4 + e + 1));
        }
        for (int np = 0; np < nvt / 2; np++) {
            LLVMValueRef bf[4];
            cg_ldmatrix_x4(cg, lds(f, f->vB, ((long long)kk * 16 * f->vs + np * 16) * 2), true, bf);
            for (int h2 = 0; h2 < 2; h2++) {
                LLVMValueRef acc[4];
                for (int e = 0; e < 4; e++) acc[e] = cg_reg_get(cg, O, (2 * np + h2) * 4 + e);
                cg_mma_bf16(cg, pa, bf[2 * h2], bf[2 * h2 + 1], acc);
                for (int e = 0; e < 4; e++) cg_reg_set(cg, O, (2 * np + h2) * 4 + e, acc[e]);
            }
        }
        cg_if_end(cg, merge);
    }
    /* o = scale * O, bf16 pairs; rows past T and channels past dv are not written. */
    for (int half = 0; half < 2; half++) {
        LLVMValueRef tok = add(f, mulc(f, ch, C), add(f, r0, addc(f, f->g, 8 * half)));
        LLVMBasicBlockRef in = cg_if_begin(cg, lt(f, tok, cg->T), "orow");
        LLVMValueRef row = token_row(f, tok);
        for (int nt = 0; nt < nvt; nt++) {
            LLVMValueRef col = add(f, f->v0, addc(f, mulc(f, f->c, 2), nt * 8));
            LLVMBasicBlockRef cin = cg_if_begin(cg, lt(f, col, i32(f, f->dv)), "ocol");
            LLVMValueRef x0 = LLVMBuildFMul(B_, cg_reg_get(cg, O, nt * 4 + 2 * half), f->scale, "");
            LLVMValueRef x1 = LLVMBuildFMul(B_, cg_reg_get(cg, O, nt * 4 + 2 * half + 1), f->scale, "");
            LLVMValueRef idx = LLVMBuildAdd(B_, LLVMBuildMul(B_, row, cg_i64(cg, f->dv), ""), sext(f, col), "");
            LLVMSetAlignment(LLVMBuildStore(B_, cg_pack_bf16(cg, x0, x1), cg_gmem_at(cg, f->o, idx, 2)), 4);
            cg_if_end(cg, cin);
        }
        cg_if_end(cg, in);
    }
}

/* S = exp(b_last) S + (K * exp(b_last - b_j))^T V for the warp's state tiles. */
static void chunk_state(Fwd *f, LLVMValueRef stage)
{
    Cg *cg = f->cg;
    int nvt = f->bv / 8;
    (void)stage;
    /* K^T fragments start at the warp's first state tile: column 16 * warp. */
    LLVMValueRef kT = cg_opaque_i32(cg, add(f, f->kB, mulc(f, f->warp, 16 * 2)));
    LLVMValueRef blast = NULL;
    if (f->decay != DECAY_NONE) {
        blast = bdecay(f, i32(f, C - 1));
        LLVMValueRef e = cg_exp(cg, blast);
        for (int i = 0; i < f->S.n; i++)
            cg_reg_set(cg, f->S, i, LLVMBuildFMul(B_, cg_reg_get(cg, f->S, i), e, ""));
    }
    for (int kk = 0; kk < C / 16; kk++) {
        /* Decay weights of the thread's four token columns. */
        LLVMValueRef w[4] = {NULL, NULL, NULL, NULL};
        if (f->decay != DECAY_NONE)
            for (int q = 0; q < 4; q++) {
                LLVMValueRef j = addc(f, mulc(f, f->c, 2), kk * 16 + (q / 2) * 8 + (q % 2));
                w[q] = cg_exp(cg, LLVMBuildFSub(B_, blast, bdecay(f, j), ""));
            }
        LLVMValueRef ka[4][4];
        for (int mi = 0; mi < f->mt_w; mi++) {
            cg_ldmatrix_x4(cg, lds(f, kT, ((long long)kk * 16 * f->qs + mi * W * 16) * 2), true, ka[mi]);
            if (f->decay != DECAY_NONE)
                for (int r = 0; r < 4; r++) {
                    LLVMValueRef lo, hi;
                    cg_unpack_bf16(cg, ka[mi][r], &lo, &hi);
                    int base = (r / 2) * 2; /* a0, a1: tokens 2c, 2c+1; a2, a3: 2c+8, 2c+9 */
                    ka[mi][r] = cg_pack_bf16(cg, LLVMBuildFMul(B_, lo, w[base], ""),
                                             LLVMBuildFMul(B_, hi, w[base + 1], ""));
                }
        }
        for (int np = 0; np < nvt / 2; np++) {
            LLVMValueRef bf[4];
            cg_ldmatrix_x4(cg, lds(f, f->vB, ((long long)kk * 16 * f->vs + np * 16) * 2), true, bf);
            for (int mi = 0; mi < f->mt_w; mi++)
                for (int h2 = 0; h2 < 2; h2++) {
                    LLVMValueRef acc[4];
                    int nt = 2 * np + h2;
                    for (int e = 0; e < 4; e++) acc[e] = cg_reg_get(cg, f->S, s_index(f, mi, nt, e));
                    cg_mma_bf16(cg, ka[mi], bf[2 * h2], bf[2 * h2 + 1], acc);
                    for (int e = 0; e < 4; e++) cg_reg_set(cg, f->S, s_index(f, mi, nt, e), acc[e]);
                }
        }
    }
}

/* Checks what this template supports; a located error for anything else. */
static bool fwd_supported(Cg *cg, const KernelConfig *kc)
{
    const Variant *v = cg->v;
    bool ok = true;
    Expr *core[3] = {v->query, v->key, v->value};
    const char *names[3] = {"query", "key", "value"};
    for (int i = 0; i < 3; i++) {
        const Expr *e = core[i];
        if (e->kind != EX_NAME || !e->sym || e->sym->kind != SYM_INPUT ||
            e->sym->layout != LAYOUT_TOKEN_VEC) {
            diag_error(cg->d, e->loc, "the code generator does not support feature maps on the %s "
                                      "yet (only an input [B, T, H, C] as it is)",
                       names[i]);
            ok = false;
        } else if (e->sym->dtype != DT_BF16) {
            diag_error(cg->d, e->sym->stmt->dtype_loc, "the code generator supports bf16 inputs "
                                                       "only so far; '%s' is %s",
                       e->sym->name, dtype_name(e->sym->dtype));
            ok = false;
        }
    }
    if (v->normalize) {
        diag_error(cg->d, v->loc, "the code generator does not support normalized variants yet");
        ok = false;
    }
    if (!v->causal) {
        diag_error(cg->d, v->loc, "the code generator does not support 'mask none' yet");
        ok = false;
    }
    if (v->decay == DECAY_PER_KEY) {
        diag_error(cg->d, v->decay_expr->loc, "the code generator does not support per_key decays "
                                              "yet");
        ok = false;
    }
    if (v->decay_expr && v->decay != DECAY_PER_KEY && !cg_scalar_supported(cg, v->decay_expr, "a decay"))
        ok = false;
    if (!cg_scalar_supported(cg, v->scale, "the scale")) ok = false;
    if (v->dk % 16 != 0 || v->dk > 128) {
        diag_error(cg->d, v->loc, "the code generator supports 16 to 128 key features in steps of "
                                  "16 so far; this variant has %d",
                   v->dk);
        ok = false;
    } else if ((v->dk / 16) % W != 0 && v->dk / 16 > W) {
        diag_error(cg->d, v->loc, "the code generator needs the key features in whole 64-row "
                                  "groups (or at most 64); this variant has %d",
                   v->dk);
        ok = false;
    }
    if (v->dv % 8 != 0) {
        diag_error(cg->d, v->loc, "the code generator needs the value channels in multiples of 8; "
                                  "this variant has %d",
                   v->dv);
        ok = false;
    }
    if (kc->chunk != C || kc->warps != W || kc->stages != 2 || kc->block_v % 16 != 0 || kc->block_v > 128) {
        diag_error(cg->d, v->loc, "the code generator supports chunk = 64, warps = 4, stages = 2 and "
                                  "block_v up to 128 so far; the configuration is chunk = %d, warps "
                                  "= %d, stages = %d, block_v = %d",
                   kc->chunk, kc->warps, kc->stages, kc->block_v);
        ok = false;
    }
    return ok;
}

bool tmpl_fwd_state(Cg *cg, const KernelConfig *kc, KernelInfo *info)
{
    if (!fwd_supported(cg, kc)) return false;
    const Variant *v = cg->v;
    Fwd fs = {0}, *f = &fs;
    f->cg = cg;
    f->v = v;
    f->dk = v->dk;
    f->dv = v->dv;
    f->bv = kc->block_v;
    f->qs = f->dk + 8;
    f->vs = f->bv + 8;
    f->decay = v->decay;
    f->mt_w = (f->dk / 16 + W - 1) / W;
    f->stage_bytes = 2 * C * f->qs * 2 + C * f->vs * 2;
    f->s_off = 2 * f->stage_bytes;
    f->b_off = f->s_off + f->dk * f->vs * 2;
    f->smem_bytes = f->b_off + C * 4;

    /* The signature of docs/design.md section 8. */
    int np = v->ninputs + 6;
    LLVMTypeRef *pt = arena_alloc(cg->a, sizeof(LLVMTypeRef) * (size_t)np);
    for (int i = 0; i < v->ninputs + 3; i++) pt[i] = cg->t_ptr_g;
    pt[np - 3] = pt[np - 2] = pt[np - 1] = cg->t_i32;
    snprintf(info->name, sizeof info->name, "lac_%s_fwd", v->name);
    cg->fn = LLVMAddFunction(cg->mod, info->name, LLVMFunctionType(cg->t_void, pt, (unsigned)np, 0));
    LLVMSetFunctionCallConv(cg->fn, 71 /* PTX_Kernel */);
    cg->in_args = arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)(v->ninputs + 1));
    for (int i = 0; i < v->ninputs; i++) {
        cg->in_args[i] = LLVMGetParam(cg->fn, (unsigned)i);
        LLVMSetValueName2(cg->in_args[i], v->inputs[i]->name, strlen(v->inputs[i]->name));
    }
    f->o = LLVMGetParam(cg->fn, (unsigned)v->ninputs);
    f->s0 = LLVMGetParam(cg->fn, (unsigned)v->ninputs + 1);
    f->sfin = LLVMGetParam(cg->fn, (unsigned)v->ninputs + 2);
    cg->B = LLVMGetParam(cg->fn, (unsigned)np - 3);
    cg->T = LLVMGetParam(cg->fn, (unsigned)np - 2);
    cg->H = LLVMGetParam(cg->fn, (unsigned)np - 1);
    f->q = cg->in_args[v->query->sym->index];
    f->k = cg->in_args[v->key->sym->index];
    f->vv = cg->in_args[v->value->sym->index];

    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry");
    LLVMPositionBuilderAtEnd(B_, entry);
    f->tid = cg_sreg(cg, "tid.x");
    f->lane = LLVMBuildAnd(B_, f->tid, i32(f, 31), "lane");
    f->warp = LLVMBuildLShr(B_, f->tid, i32(f, 5), "warp");
    f->g = LLVMBuildLShr(B_, f->lane, i32(f, 2), "g");
    f->c = LLVMBuildAnd(B_, f->lane, i32(f, 3), "c");
    LLVMValueRef bh = cg_sreg(cg, "ctaid.y");
    f->b = LLVMBuildUDiv(B_, bh, cg->H, "b");
    f->h = LLVMBuildURem(B_, bh, cg->H, "h");
    f->v0 = mulc(f, cg_sreg(cg, "ctaid.x"), f->bv);
    f->nch = LLVMBuildUDiv(B_, addc(f, cg->T, C - 1), i32(f, C), "nch");
    CgScalarEnv uenv = {f->b, f->h, NULL, arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)(v->nlets + 1))};
    f->scale = cg_scalar(cg, v->scale, &uenv);
    if (f->decay == DECAY_PER_HEAD) f->gamma = cg_scalar(cg, v->decay_expr, &uenv);

    /* Warps with no state tile (dk < 64) still compute outputs. */
    f->S = cg_regs(cg, f->mt_w * (f->bv / 8) * 4, "state");
    for (int i = 0; i < f->S.n; i++) cg_reg_set(cg, f->S, i, cg_f32(cg, 0));
    /* With fewer 16-row state tiles than warps (dk < 64), warps >= dk/16 own
     * none; fwd_supported guarantees whole groups of W tiles otherwise. */
    LLVMValueRef has_tiles = lt(f, f->warp, i32(f, f->dk / 16));
    LLVMBasicBlockRef m0 = cg_if_begin(cg, has_tiles, "own");
    state_io(f, true);
    write_state_smem(f);
    cg_if_end(cg, m0);
    issue_loads(f, i32(f, 0), i32(f, 0));

    LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "chunk");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "done");
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(B_);
    LLVMBuildCondBr(B_, lt(f, i32(f, 0), f->nch), loop, done);
    LLVMPositionBuilderAtEnd(B_, loop);
    LLVMValueRef ch = LLVMBuildPhi(B_, cg->t_i32, "ch");
    LLVMValueRef stage = mulc(f, LLVMBuildAnd(B_, ch, i32(f, 1), ""), f->stage_bytes);
    LLVMValueRef next = addc(f, ch, 1);
    cg_barrier(cg); /* the other stage and S are free */
    LLVMValueRef more = lt(f, next, f->nch);
    LLVMBasicBlockRef mp = cg_if_begin(cg, more, "prefetch");
    issue_loads(f, next, mulc(f, LLVMBuildAnd(B_, next, i32(f, 1), ""), f->stage_bytes));
    cg_cp_async_wait(cg, 1);
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "waited");
    LLVMBuildBr(B_, after);
    LLVMPositionBuilderAtEnd(B_, mp);
    cg_cp_async_wait(cg, 0);
    LLVMBuildBr(B_, after);
    LLVMPositionBuilderAtEnd(B_, after);
    cg_barrier(cg); /* chunk ch is in shared memory */
    fragment_bases(f, stage);
    if (f->decay != DECAY_NONE) {
        decay_scan(f, ch);
        cg_barrier(cg);
    }
    chunk_output(f, ch, stage);
    cg_barrier(cg); /* everyone has read S */
    LLVMBasicBlockRef m1 = cg_if_begin(cg, has_tiles, "own");
    chunk_state(f, stage);
    write_state_smem(f);
    cg_if_end(cg, m1);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(B_);
    LLVMBuildCondBr(B_, more, loop, done);
    LLVMValueRef inc_v[2] = {i32(f, 0), next};
    LLVMBasicBlockRef inc_b[2] = {pre, latch};
    LLVMAddIncoming(ch, inc_v, inc_b, 2);

    LLVMPositionBuilderAtEnd(B_, done);
    LLVMBasicBlockRef m2 = cg_if_begin(cg, has_tiles, "own");
    state_io(f, false);
    cg_if_end(cg, m2);
    LLVMBuildRetVoid(B_);

    info->threads = THREADS;
    info->smem_bytes = f->smem_bytes;
    info->block_v = f->bv;
    info->chunk = C;
    info->dk = f->dk;
    info->dv = f->dv;
    info->io = DT_BF16;
    return true;
}
