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
    /* Kernel parameters (filled by the template). */
    LLVMValueRef *in_args; /* one per Variant input */
    LLVMValueRef B, T, H;  /* i32 */
} Cg;

/* Values that a scalar expression may read, for one (b, h) and one token. */
typedef struct CgScalarEnv {
    LLVMValueRef b, h;     /* i32 */
    LLVMValueRef t;        /* i32 token index (clamped in range), or NULL if uniform */
    LLVMValueRef *lets;    /* memoized let values (f32), one per Variant let */
} CgScalarEnv;

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
/* x, through a volatile move: loop-invariant code motion cannot hoist what
 * depends on it, which keeps per-iteration address arithmetic in the loop
 * instead of dozens of hoisted 64-bit addresses in registers. */
LLVMValueRef cg_opaque_i32(Cg *cg, LLVMValueRef x);

/* Math in fp32 on the special-function units (ex2/lg2 approximations). */
LLVMValueRef cg_exp(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_log(Cg *cg, LLVMValueRef x);

/* Shared memory: an i8 pointer at a byte offset (i32) from the dynamic base. */
LLVMValueRef cg_smem_at(Cg *cg, LLVMValueRef byte_off);
/* Global memory: element `idx` (i64) of a tensor of `elem` bytes. */
LLVMValueRef cg_gmem_at(Cg *cg, LLVMValueRef base, LLVMValueRef idx, int elem);

/* bf16 pairs in one i32 (low half = first). */
LLVMValueRef cg_pack_bf16(Cg *cg, LLVMValueRef lo, LLVMValueRef hi);
void cg_unpack_bf16(Cg *cg, LLVMValueRef packed, LLVMValueRef *lo, LLVMValueRef *hi);

/* Tensor cores: ldmatrix.x4 (optionally .trans) from shared memory; one
 * mma.m16n8k16.row.col.f32.bf16.bf16.f32, c[4] updated in place. */
void cg_ldmatrix_x4(Cg *cg, LLVMValueRef saddr, bool trans, LLVMValueRef out[4]);
void cg_mma_bf16(Cg *cg, LLVMValueRef a[4], LLVMValueRef b0, LLVMValueRef b1, LLVMValueRef c[4]);
/* 16-byte asynchronous copy; src_bytes 0 fills zeros. */
void cg_cp_async16(Cg *cg, LLVMValueRef sdst, LLVMValueRef gsrc, LLVMValueRef src_bytes);
void cg_cp_async_commit(Cg *cg);
void cg_cp_async_wait(Cg *cg, int n);

/* A register array of floats kept in an entry-block alloca (promoted to
 * registers by SROA): element access by constant index. */
typedef struct CgRegs {
    LLVMValueRef base;
    int n;
} CgRegs;
CgRegs cg_regs(Cg *cg, int n, const char *name);
LLVMValueRef cg_reg_get(Cg *cg, CgRegs r, int i);
void cg_reg_set(Cg *cg, CgRegs r, int i, LLVMValueRef x);

/* if (cond) { ... } helpers: returns the merge block; the builder is placed
 * in the then-block. Call cg_if_end with the merge block to continue. */
LLVMBasicBlockRef cg_if_begin(Cg *cg, LLVMValueRef cond, const char *name);
void cg_if_end(Cg *cg, LLVMBasicBlockRef merge);

/* Why a Variant cannot be compiled yet (NULL if it can): reports a located
 * error for each unsupported construct and returns false. */
bool cg_scalar_supported(Cg *cg, const Expr *e, const char *what);
/* A scalar (one-channel) expression as f32 (section 5 semantics). */
LLVMValueRef cg_scalar(Cg *cg, const Expr *e, CgScalarEnv *env);

/* The templates (templates/). Each generates one kernel into cg->mod. */
typedef struct KernelConfig {
    int chunk, block_v, warps, stages;
} KernelConfig;
bool tmpl_fwd_state(Cg *cg, const KernelConfig *kc, KernelInfo *info);

#endif /* LAC_CODEGEN_H */
