/*
 * codegen_llvm.c: the helpers the templates build kernels with, over the
 * LLVM C API: types, NVVM intrinsics (thread ids, barriers, shuffles,
 * cp.async, ldmatrix, mma.sync), shared and global addressing, bf16 packing,
 * register arrays, and the lowering of scalar .la expressions (decays,
 * scales) to fp32 code with the semantics of docs/language.md section 5.
 *
 * Register arrays live in entry-block allocas indexed by constants; the O3
 * pipeline's SROA turns them into SSA registers, so templates can write
 * straight-line fragment code without threading phi nodes by hand.
 */
#include <math.h>
#include <string.h>

#include "codegen.h"

void cg_init(Cg *cg, const Variant *v, Arena *a, Diags *d)
{
    memset(cg, 0, sizeof *cg);
    cg->v = v;
    cg->a = a;
    cg->d = d;
    cg->ctx = LLVMContextCreate();
    cg->mod = LLVMModuleCreateWithNameInContext(v->name, cg->ctx);
    LLVMSetTarget(cg->mod, "nvptx64-nvidia-cuda");
    cg->b = LLVMCreateBuilderInContext(cg->ctx);
    cg->t_void = LLVMVoidTypeInContext(cg->ctx);
    cg->t_i1 = LLVMInt1TypeInContext(cg->ctx);
    cg->t_i16 = LLVMInt16TypeInContext(cg->ctx);
    cg->t_i32 = LLVMInt32TypeInContext(cg->ctx);
    cg->t_i64 = LLVMInt64TypeInContext(cg->ctx);
    cg->t_f32 = LLVMFloatTypeInContext(cg->ctx);
    cg->t_bf16 = LLVMBFloatTypeInContext(cg->ctx);
    cg->t_v2bf16 = LLVMVectorType(cg->t_bf16, 2);
    cg->t_ptr_g = LLVMPointerTypeInContext(cg->ctx, 1);
    cg->t_ptr_s = LLVMPointerTypeInContext(cg->ctx, 3);
    LLVMTypeRef arr = LLVMArrayType2(LLVMInt8TypeInContext(cg->ctx), 0);
    cg->smem = LLVMAddGlobalInAddressSpace(cg->mod, arr, "lac_smem", 3);
    LLVMSetLinkage(cg->smem, LLVMExternalLinkage);
    LLVMSetAlignment(cg->smem, 16);
}

void cg_dispose(Cg *cg)
{
    if (cg->b) LLVMDisposeBuilder(cg->b);
    if (cg->mod) LLVMDisposeModule(cg->mod);
    if (cg->ctx) LLVMContextDispose(cg->ctx);
    memset(cg, 0, sizeof *cg);
}

LLVMValueRef cg_i32(Cg *cg, long long x) { return LLVMConstInt(cg->t_i32, (unsigned long long)x, 1); }
LLVMValueRef cg_i64(Cg *cg, long long x) { return LLVMConstInt(cg->t_i64, (unsigned long long)x, 1); }
LLVMValueRef cg_f32(Cg *cg, double x) { return LLVMConstReal(cg->t_f32, x); }

LLVMValueRef cg_call(Cg *cg, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                     LLVMValueRef *args, int n)
{
    LLVMTypeRef fty = LLVMFunctionType(ret, params, (unsigned)n, 0);
    LLVMValueRef f = LLVMGetNamedFunction(cg->mod, name);
    if (!f) f = LLVMAddFunction(cg->mod, name, fty);
    return LLVMBuildCall2(cg->b, fty, f, args, (unsigned)n, "");
}

LLVMValueRef cg_sreg(Cg *cg, const char *name)
{
    char full[96];
    snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
    return cg_call(cg, full, cg->t_i32, NULL, NULL, 0);
}

LLVMValueRef cg_opaque_i32(Cg *cg, LLVMValueRef x)
{
    LLVMTypeRef p[1] = {cg->t_i32};
    LLVMTypeRef fty = LLVMFunctionType(cg->t_i32, p, 1, 0);
    static const char code[] = "mov.u32 $0, $1;", cons[] = "=r,r";
    LLVMValueRef asm_ = LLVMGetInlineAsm(fty, (char *)code, sizeof code - 1, (char *)cons,
                                        sizeof cons - 1, 1, 0, LLVMInlineAsmDialectATT, 0);
    return LLVMBuildCall2(cg->b, fty, asm_, &x, 1, "");
}

void cg_barrier(Cg *cg) { cg_call(cg, "llvm.nvvm.barrier0", cg->t_void, NULL, NULL, 0); }

static LLVMValueRef call1f(Cg *cg, const char *name, LLVMValueRef x)
{
    LLVMTypeRef p[1] = {cg->t_f32};
    return cg_call(cg, name, cg->t_f32, p, &x, 1);
}

static LLVMValueRef call2f(Cg *cg, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMTypeRef p[2] = {cg->t_f32, cg->t_f32};
    LLVMValueRef a[2] = {x, y};
    return cg_call(cg, name, cg->t_f32, p, a, 2);
}

LLVMValueRef cg_exp(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef y = LLVMBuildFMul(cg->b, x, cg_f32(cg, M_LOG2E), "");
    return call1f(cg, "llvm.nvvm.ex2.approx.ftz.f", y);
}

LLVMValueRef cg_log(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef y = call1f(cg, "llvm.nvvm.lg2.approx.ftz.f", x);
    return LLVMBuildFMul(cg->b, y, cg_f32(cg, M_LN2), "");
}

LLVMValueRef cg_smem_at(Cg *cg, LLVMValueRef byte_off)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(cg->ctx);
    return LLVMBuildGEP2(cg->b, i8, cg->smem, &byte_off, 1, "");
}

LLVMValueRef cg_gmem_at(Cg *cg, LLVMValueRef base, LLVMValueRef idx, int elem)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(cg->ctx);
    LLVMValueRef off = LLVMBuildMul(cg->b, idx, cg_i64(cg, elem), "");
    return LLVMBuildGEP2(cg->b, i8, base, &off, 1, "");
}

LLVMValueRef cg_pack_bf16(Cg *cg, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMValueRef v = LLVMGetUndef(cg->t_v2bf16);
    v = LLVMBuildInsertElement(cg->b, v, LLVMBuildFPTrunc(cg->b, lo, cg->t_bf16, ""), cg_i32(cg, 0), "");
    v = LLVMBuildInsertElement(cg->b, v, LLVMBuildFPTrunc(cg->b, hi, cg->t_bf16, ""), cg_i32(cg, 1), "");
    return LLVMBuildBitCast(cg->b, v, cg->t_i32, "");
}

void cg_unpack_bf16(Cg *cg, LLVMValueRef packed, LLVMValueRef *lo, LLVMValueRef *hi)
{
    LLVMValueRef v = LLVMBuildBitCast(cg->b, packed, cg->t_v2bf16, "");
    *lo = LLVMBuildFPExt(cg->b, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, 0), ""), cg->t_f32, "");
    *hi = LLVMBuildFPExt(cg->b, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, 1), ""), cg->t_f32, "");
}

void cg_ldmatrix_x4(Cg *cg, LLVMValueRef saddr, bool trans, LLVMValueRef out[4])
{
    LLVMTypeRef e[4] = {cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32};
    LLVMTypeRef rt = LLVMStructTypeInContext(cg->ctx, e, 4, 0);
    LLVMTypeRef p[1] = {cg->t_ptr_s};
    LLVMValueRef r = cg_call(cg,
                             trans ? "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.trans.b16.p3"
                                   : "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3",
                             rt, p, &saddr, 1);
    for (unsigned i = 0; i < 4; i++) out[i] = LLVMBuildExtractValue(cg->b, r, i, "");
}

void cg_mma_bf16(Cg *cg, LLVMValueRef a[4], LLVMValueRef b0, LLVMValueRef b1, LLVMValueRef c[4])
{
    LLVMTypeRef e[4] = {cg->t_f32, cg->t_f32, cg->t_f32, cg->t_f32};
    LLVMTypeRef rt = LLVMStructTypeInContext(cg->ctx, e, 4, 0);
    LLVMTypeRef p[10] = {cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32,
                         cg->t_i32, cg->t_f32, cg->t_f32, cg->t_f32, cg->t_f32};
    LLVMValueRef args[10] = {a[0], a[1], a[2], a[3], b0, b1, c[0], c[1], c[2], c[3]};
    LLVMValueRef r = cg_call(cg, "llvm.nvvm.mma.m16n8k16.row.col.bf16", rt, p, args, 10);
    for (unsigned i = 0; i < 4; i++) c[i] = LLVMBuildExtractValue(cg->b, r, i, "");
}

void cg_cp_async16(Cg *cg, LLVMValueRef sdst, LLVMValueRef gsrc, LLVMValueRef src_bytes)
{
    LLVMTypeRef p[3] = {cg->t_ptr_s, cg->t_ptr_g, cg->t_i32};
    LLVMValueRef a[3] = {sdst, gsrc, src_bytes};
    cg_call(cg, "llvm.nvvm.cp.async.cg.shared.global.16.s", cg->t_void, p, a, 3);
}

void cg_cp_async_commit(Cg *cg) { cg_call(cg, "llvm.nvvm.cp.async.commit.group", cg->t_void, NULL, NULL, 0); }

void cg_cp_async_wait(Cg *cg, int n)
{
    LLVMTypeRef p[1] = {cg->t_i32};
    LLVMValueRef a[1] = {cg_i32(cg, n)};
    cg_call(cg, "llvm.nvvm.cp.async.wait.group", cg->t_void, p, a, 1);
}

CgRegs cg_regs(Cg *cg, int n, const char *name)
{
    /* Allocas go to the entry block so SROA promotes them. */
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(cg->b);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(cg->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(cg->b, first);
    else
        LLVMPositionBuilderAtEnd(cg->b, entry);
    CgRegs r;
    r.n = n;
    r.base = LLVMBuildAlloca(cg->b, LLVMArrayType2(cg->t_f32, (unsigned)n), name);
    LLVMPositionBuilderAtEnd(cg->b, cur);
    return r;
}

static LLVMValueRef reg_ptr(Cg *cg, CgRegs r, int i)
{
    LAC_ASSERT(i >= 0 && i < r.n);
    LLVMValueRef idx[2] = {cg_i32(cg, 0), cg_i32(cg, i)};
    return LLVMBuildGEP2(cg->b, LLVMArrayType2(cg->t_f32, (unsigned)r.n), r.base, idx, 2, "");
}

LLVMValueRef cg_reg_get(Cg *cg, CgRegs r, int i)
{
    return LLVMBuildLoad2(cg->b, cg->t_f32, reg_ptr(cg, r, i), "");
}

void cg_reg_set(Cg *cg, CgRegs r, int i, LLVMValueRef x) { LLVMBuildStore(cg->b, x, reg_ptr(cg, r, i)); }

LLVMBasicBlockRef cg_if_begin(Cg *cg, LLVMValueRef cond, const char *name)
{
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, name);
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "endif");
    LLVMBuildCondBr(cg->b, cond, then, merge);
    LLVMPositionBuilderAtEnd(cg->b, then);
    return merge;
}

void cg_if_end(Cg *cg, LLVMBasicBlockRef merge)
{
    LLVMBuildBr(cg->b, merge);
    LLVMPositionBuilderAtEnd(cg->b, merge);
}

/* ------------------------------------------------------------------------
 * Scalar expressions (decays and scales): one value per (b, h[, t]).
 * ------------------------------------------------------------------------ */

bool cg_scalar_supported(Cg *cg, const Expr *e, const char *what)
{
    if (e->type.known) return true;
    if (e->type.cols != 1 || e->type.rows != 0) {
        diag_error(cg->d, e->loc, "the code generator does not support %s with %d channels here "
                                  "yet",
                   what, e->type.cols);
        return false;
    }
    switch (e->kind) {
    case EX_NUM: return true;
    case EX_NAME:
        if (e->sym && e->sym->kind == SYM_INPUT) {
            if (e->sym->layout != LAYOUT_TOKEN && e->sym->layout != LAYOUT_HEAD) {
                diag_error(cg->d, e->loc, "the code generator does not support the input layout "
                                          "%s in %s yet",
                           layout_name(e->sym->layout), what);
                return false;
            }
            return true;
        }
        if (e->sym && e->sym->kind == SYM_LET) return cg_scalar_supported(cg, e->sym->expr, what);
        return true;
    case EX_NEG: return cg_scalar_supported(cg, e->lhs, what);
    case EX_BIN:
        if (e->op == OP_MATMUL) {
            diag_error(cg->d, e->loc, "the code generator does not support '@' in %s yet", what);
            return false;
        }
        return cg_scalar_supported(cg, e->lhs, what) && cg_scalar_supported(cg, e->rhs, what);
    case EX_CALL:
        switch (e->fn) {
        case BI_CONCAT: case BI_OUTER: case BI_ONES: case BI_SOFTMAX:
            diag_error(cg->d, e->loc, "the code generator does not support %s() in %s yet",
                       builtin_name(e->fn), what);
            return false;
        default: break;
        }
        for (int i = 0; i < e->nargs; i++)
            if (!cg_scalar_supported(cg, e->args[i], what)) return false;
        return true;
    default: return false;
    }
}

static LLVMValueRef load_scalar_input(Cg *cg, const Symbol *y, CgScalarEnv *env)
{
    LLVMValueRef idx;
    if (y->layout == LAYOUT_HEAD) {
        idx = LLVMBuildSExt(cg->b, env->h, cg->t_i64, "");
    } else {
        LAC_ASSERT(env->t != NULL);
        /* ((b * T + t) * H + h) */
        LLVMValueRef bt = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, env->b, cg->T, ""), env->t, "");
        LLVMValueRef bth = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, LLVMBuildSExt(cg->b, bt, cg->t_i64, ""),
                                                            LLVMBuildSExt(cg->b, cg->H, cg->t_i64, ""), ""),
                                        LLVMBuildSExt(cg->b, env->h, cg->t_i64, ""), "");
        idx = bth;
    }
    LLVMValueRef p = cg_gmem_at(cg, cg->in_args[y->index], idx, dtype_size(y->dtype));
    if (y->dtype == DT_F32) return LLVMBuildLoad2(cg->b, cg->t_f32, p, "");
    LLVMTypeRef t = y->dtype == DT_BF16 ? cg->t_bf16 : LLVMHalfTypeInContext(cg->ctx);
    return LLVMBuildFPExt(cg->b, LLVMBuildLoad2(cg->b, t, p, ""), cg->t_f32, "");
}

/* log(1 + exp(-|x|)), the shared tail of softplus and logsigmoid. */
static LLVMValueRef log1p_exp_neg_abs(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef ax = call1f(cg, "llvm.fabs.f32", x);
    LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(cg->b, ax, ""));
    return cg_log(cg, LLVMBuildFAdd(cg->b, cg_f32(cg, 1), e, ""));
}

static LLVMValueRef sigmoid(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(cg->b, x, ""));
    return LLVMBuildFDiv(cg->b, cg_f32(cg, 1), LLVMBuildFAdd(cg->b, cg_f32(cg, 1), e, ""), "");
}

LLVMValueRef cg_scalar(Cg *cg, const Expr *e, CgScalarEnv *env)
{
    if (e->type.known) return cg_f32(cg, e->type.value);
    LLVMBuilderRef b = cg->b;
    switch (e->kind) {
    case EX_NAME:
        if (e->sym && e->sym->kind == SYM_INPUT) return load_scalar_input(cg, e->sym, env);
        if (e->sym && e->sym->kind == SYM_LET) {
            int i = e->sym->index;
            if (!env->lets[i]) env->lets[i] = cg_scalar(cg, e->sym->expr, env);
            return env->lets[i];
        }
        switch (e->fn) {
        case BI_POS: LAC_ASSERT(env->t != NULL); return LLVMBuildSIToFP(b, env->t, cg->t_f32, "");
        case BI_HEAD: return LLVMBuildSIToFP(b, env->h, cg->t_f32, "");
        case BI_NUM_HEADS: return LLVMBuildSIToFP(b, cg->H, cg->t_f32, "");
        case BI_SEQ_LEN: return LLVMBuildSIToFP(b, cg->T, cg->t_f32, "");
        default: break;
        }
        break;
    case EX_NEG: return LLVMBuildFNeg(b, cg_scalar(cg, e->lhs, env), "");
    case EX_BIN: {
        LLVMValueRef l = cg_scalar(cg, e->lhs, env), r = cg_scalar(cg, e->rhs, env);
        switch (e->op) {
        case OP_ADD: return LLVMBuildFAdd(b, l, r, "");
        case OP_SUB: return LLVMBuildFSub(b, l, r, "");
        case OP_MUL: return LLVMBuildFMul(b, l, r, "");
        case OP_DIV: return LLVMBuildFDiv(b, l, r, "");
        case OP_MATMUL: break;
        }
        break;
    }
    case EX_CALL: {
        LLVMValueRef x = cg_scalar(cg, e->args[0], env);
        LLVMValueRef zero = cg_f32(cg, 0), one = cg_f32(cg, 1);
        switch (e->fn) {
        case BI_EXP: return cg_exp(cg, x);
        case BI_LOG: return cg_log(cg, x);
        case BI_SQRT: return call1f(cg, "llvm.sqrt.f32", x);
        case BI_RELU: return call2f(cg, "llvm.maxnum.f32", x, zero);
        case BI_ELU: {
            LLVMValueRef em1 = LLVMBuildFSub(b, cg_exp(cg, x), one, "");
            return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, em1, "");
        }
        case BI_SIGMOID: return sigmoid(cg, x);
        case BI_LOGSIGMOID:
            return LLVMBuildFSub(b, call2f(cg, "llvm.minnum.f32", x, zero), log1p_exp_neg_abs(cg, x), "");
        case BI_SILU: return LLVMBuildFMul(b, x, sigmoid(cg, x), "");
        case BI_COS: return call1f(cg, "llvm.nvvm.cos.approx.ftz.f", x);
        case BI_SIN: return call1f(cg, "llvm.nvvm.sin.approx.ftz.f", x);
        case BI_SOFTPLUS:
            return LLVMBuildFAdd(b, call2f(cg, "llvm.maxnum.f32", x, zero), log1p_exp_neg_abs(cg, x), "");
        case BI_TANH: {
            LLVMValueRef e2 = cg_exp(cg, LLVMBuildFMul(b, x, cg_f32(cg, 2), ""));
            return LLVMBuildFSub(b, one, LLVMBuildFDiv(b, cg_f32(cg, 2), LLVMBuildFAdd(b, e2, one, ""), ""), "");
        }
        case BI_ABS: return call1f(cg, "llvm.fabs.f32", x);
        case BI_POW: {
            LLVMValueRef y = cg_scalar(cg, e->args[1], env);
            return cg_exp(cg, LLVMBuildFMul(b, y, cg_log(cg, x), ""));
        }
        case BI_MINIMUM: return call2f(cg, "llvm.minnum.f32", x, cg_scalar(cg, e->args[1], env));
        case BI_MAXIMUM: return call2f(cg, "llvm.maxnum.f32", x, cg_scalar(cg, e->args[1], env));
        case BI_SUM: case BI_MAX: case BI_MIN: case BI_MEAN: return x; /* of one channel */
        default: break;
        }
        break;
    }
    default: break;
    }
    LAC_ASSERT(0 && "cg_scalar: unsupported expression (cg_scalar_supported should have said)");
    return NULL;
}
