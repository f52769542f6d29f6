/*
 * codegen.h: the code generator's private interface (LLVM-C types), shared by
 * compiler/codegen_llvm.c (helpers over the LLVM C API: types, intrinsics,
 * shared memory, tensor-core fragments, scalar expressions), the templates in
 * templates/ (the chunked algorithms) and compiler/emit_ptx.c (passes, PTX).
 *
 * Only these files include LLVM headers; LLVM objects are created and
 * disposed here and nowhere else (STYLE.md practice 6).
 */
#ifndef LAC_CODEGEN_H
#define LAC_CODEGEN_H

#include <llvm-c/Core.h>

#include "lac_internal.h"

/* One kernel being generated. */
typedef struct Cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMValueRef smem; /* the dynamic shared memory, addrspace(3) [0 x i8] */
    LLVMTypeRef t_void, t_i1, t_i16, t_i32, t_i64, t_f32, t_bf16, t_v2bf16, t_ptr_g, t_ptr_s;
    Diags *d;
    Arena *a;
    const Variant *v;
    LLVMValueRef B, T, H;  /* i32 kernel parameters */
    bool wgmma;            /* the target has wgmma (sm_90a): warpgroup MMAs use it */
} Cg;

void cg_init(Cg *cg, const Variant *v, Arena *a, Diags *d);
void cg_dispose(Cg *cg);

LLVMValueRef cg_i32(Cg *cg, long long x);
LLVMValueRef cg_i64(Cg *cg, long long x);
LLVMValueRef cg_f32(Cg *cg, double x);
/* Call an intrinsic or declared function by name (declared on first use). */
LLVMValueRef cg_call(Cg *cg, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                     LLVMValueRef *args, int n);
LLVMValueRef cg_sreg(Cg *cg, const char *name); /* llvm.nvvm.read.ptx.sreg.* */
void cg_barrier(Cg *cg);
/* bar.sync 0 that also ORs an i1 over the CTA's threads (bar.red.or). */
LLVMValueRef cg_barrier_or(Cg *cg, LLVMValueRef pred);
/* x, through a volatile move: loop-invariant code motion cannot hoist what
 * depends on it, which keeps per-iteration address arithmetic in the loop
 * instead of dozens of hoisted 64-bit addresses in registers. */
LLVMValueRef cg_opaque_i32(Cg *cg, LLVMValueRef x);

/* Math in fp32 on the special-function units (ex2/lg2 approximations). */
LLVMValueRef cg_exp(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_exp2(Cg *cg, LLVMValueRef x);
/* x of lane `lane` of the warp (shfl.sync.idx, all lanes). */
LLVMValueRef cg_shfl_idx_i32(Cg *cg, LLVMValueRef x, int lane);
LLVMValueRef cg_log(Cg *cg, LLVMValueRef x);

/* Shared memory: an i8 pointer at a byte offset (i32) from the dynamic base. */
LLVMValueRef cg_smem_at(Cg *cg, LLVMValueRef byte_off);

/* bf16 pairs in one i32 (low half = first). */
LLVMValueRef cg_pack_bf16(Cg *cg, LLVMValueRef lo, LLVMValueRef hi);
void cg_unpack_bf16(Cg *cg, LLVMValueRef packed, LLVMValueRef *lo, LLVMValueRef *hi);

/* Pairs of 16-bit values in one i32 (low half = first) of element type e
 * (TE_SPLIT packs bf16); the split of two fp32 into bf16 hi and lo pairs. */
LLVMValueRef cg_pack(Cg *cg, TirElem e, LLVMValueRef lo, LLVMValueRef hi);
void cg_unpack(Cg *cg, TirElem e, LLVMValueRef packed, LLVMValueRef *lo, LLVMValueRef *hi);
void cg_split_bf16(Cg *cg, LLVMValueRef x0, LLVMValueRef x1, LLVMValueRef *hi, LLVMValueRef *lo);

/* Tensor cores: ldmatrix.x2 or .x4 (optionally .trans) from shared memory;
 * one mma.m16n8k16.row.col with fp32 accumulators (bf16 or f16 operands),
 * c[4] updated in place. */
void cg_ldmatrix(Cg *cg, LLVMValueRef saddr, int n, bool trans, LLVMValueRef *out);
void cg_mma(Cg *cg, TirElem e, LLVMValueRef a[4], LLVMValueRef b0, LLVMValueRef b1, LLVMValueRef c[4]);
/* Asynchronous copy of 4, 8 or 16 bytes; src_bytes 0 fills zeros. */
void cg_cp_async(Cg *cg, LLVMValueRef sdst, LLVMValueRef gsrc, int width, LLVMValueRef src_bytes);
void cg_cp_async_commit(Cg *cg);
void cg_cp_async_wait(Cg *cg, int n);
/* Warpgroup MMA (sm_90a, inline PTX: LLVM 19 has no intrinsic for it).
 * cg_smem_desc_lo: the address field (address >> 4) of byte offset `off`
 * of the dynamic shared memory; cg_smem_desc: the matrix descriptor of a
 * 128-byte-swizzled operand with that field (lbo, sbo in bytes).
 * cg_wgmma: d[n / 2] += A x B for m64nNk16 (A from the descriptor desc_a,
 * or from a[4] registers when desc_a is NULL; trans_*: MN-major); with
 * scale_d false, d = A x B (d's inputs are not read).
 * cg_wgmma_fence ties the registers that the products read (d, and the A
 * registers) to the fence; cg_wgmma_wait commits the group, waits for it
 * and ties d to the wait, so no use of d moves above it (d may hold the
 * registers of earlier groups committed with cg_wgmma_commit). */
LLVMValueRef cg_smem_desc_lo(Cg *cg, LLVMValueRef off);
LLVMValueRef cg_smem_desc(Cg *cg, LLVMValueRef lo, int lbo, int sbo);
void cg_wgmma_fence(Cg *cg, LLVMValueRef *d, int nd, LLVMValueRef *a, int na);
void cg_wgmma(Cg *cg, TirElem e, int n, LLVMValueRef *d, LLVMValueRef desc_a, LLVMValueRef *a,
              LLVMValueRef desc_b, bool trans_a, bool trans_b, bool scale_d);
void cg_wgmma_wait(Cg *cg, LLVMValueRef *d, int nd);
/* Commit the group without waiting (a later cg_wgmma_wait waits for all). */
void cg_wgmma_commit(Cg *cg);
/* fence.proxy.async.shared::cta: this thread's shared-memory writes become
 * visible to the asynchronous proxy (wgmma's operand reads). */
void cg_fence_proxy_async(Cg *cg);

/* Warp-level: bar.warp.sync, shuffles, vote. */
void cg_warp_sync(Cg *cg);
LLVMValueRef cg_shfl_up_f32(Cg *cg, LLVMValueRef x, int delta);
LLVMValueRef cg_vote_any(Cg *cg, LLVMValueRef pred);

/* A counted loop i = 0 .. n - 1 (n >= 1): cg_loop_begin places the builder in
 * the body with lp->i; phis made there with cg_loop_phi start at their init;
 * cg_loop_end gives each its next value and continues after the loop. */
typedef struct CgLoop {
    LLVMBasicBlockRef pre, body, done;
    LLVMValueRef i;
} CgLoop;
void cg_loop_begin(Cg *cg, CgLoop *lp, const char *name);
LLVMValueRef cg_loop_phi(Cg *cg, CgLoop *lp, LLVMValueRef init);
void cg_loop_end(Cg *cg, CgLoop *lp, LLVMValueRef n, LLVMValueRef *phis, LLVMValueRef *nexts, int k);

/* if (cond) { ... } helpers: returns the merge block; the builder is placed
 * in the then-block. Call cg_if_end with the merge block to continue. */
LLVMBasicBlockRef cg_if_begin(Cg *cg, LLVMValueRef cond, const char *name);
void cg_if_end(Cg *cg, LLVMBasicBlockRef merge);

/* How a .la expression reads its inputs, for one row (token) of one (b, h). */
typedef struct CgLaEnv {
    LLVMValueRef b, h; /* i32 */
    LLVMValueRef t;    /* i32 token index (pos), or NULL in a uniform expression */
    /* Channel j (compile time), or jr (runtime, when j < 0), of input y in this row. */
    LLVMValueRef (*load)(void *ctx, const Symbol *y, int j, LLVMValueRef jr);
    /* Element (i, j) of the weight matrix y (runtime i, compile-time j). */
    LLVMValueRef (*load_mat)(void *ctx, const Symbol *y, LLVMValueRef i, int j);
    void *ctx;
    struct CgMemo *memo; /* row vectors computed once per row; start with NULL */
} CgLaEnv;

/* Channel j of expression e, as f32 (section 5 semantics). A runtime channel
 * (j < 0, jr) is allowed for elementwise expressions only. */
LLVMValueRef cg_la(Cg *cg, const Expr *e, int j, LLVMValueRef jr, CgLaEnv *env);
/* Is channel j of e a function of channel j of its inputs (no concat, outer,
 * softmax, reductions over several channels or '@')? */
bool cg_la_elementwise(const Expr *e);

/* tile IR -> LLVM IR (lower.c): the kernel's function in cg->mod. */
bool lower_program(Cg *cg, const TirProgram *p);

#endif /* LAC_CODEGEN_H */
