/*
 * codegen_llvm.c: the helpers the templates build kernels with, over the
 * LLVM C API: types, NVVM intrinsics (thread ids, barriers, shuffles,
 * cp.async, ldmatrix, mma.sync), shared and global addressing, bf16 packing,
 * and the lowering of .la expressions (feature maps, decays, scales) to fp32
 * code with the semantics of docs/language.md section 5. lower.c drives
 * them from the tile IR.
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
    /* 1024: the atom of the 128-byte swizzle, which wgmma applies to
     * absolute shared addresses. */
    LLVMSetAlignment(cg->smem, 1024);
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

LLVMValueRef cg_barrier_or(Cg *cg, LLVMValueRef pred)
{
    LLVMTypeRef p[1] = {cg->t_i32};
    LLVMValueRef a[1] = {LLVMBuildZExt(cg->b, pred, cg->t_i32, "")};
    LLVMValueRef r = cg_call(cg, "llvm.nvvm.barrier0.or", cg->t_i32, p, a, 1);
    return LLVMBuildICmp(cg->b, LLVMIntNE, r, cg_i32(cg, 0), "");
}

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

LLVMValueRef cg_exp2(Cg *cg, LLVMValueRef x) { return call1f(cg, "llvm.nvvm.ex2.approx.ftz.f", x); }

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

/* Two floats to a packed pair with one cvt.rn.{bf16,f16}x2.f32 (the first
 * operand is the high half). Two scalar fptruncs and a vector build were
 * paired by ptxas only when nothing came between them: with a select on
 * the halves (the causal mask) each element took its own F2FP, a PRMT and
 * a 16-bit SEL. */
static LLVMValueRef pack2(Cg *cg, const char *name, LLVMTypeRef v2, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMTypeRef p[2] = {cg->t_f32, cg->t_f32};
    LLVMValueRef a[2] = {hi, lo};
    return LLVMBuildBitCast(cg->b, cg_call(cg, name, v2, p, a, 2), cg->t_i32, "");
}

LLVMValueRef cg_pack_bf16(Cg *cg, LLVMValueRef lo, LLVMValueRef hi)
{
    return pack2(cg, "llvm.nvvm.ff2bf16x2.rn", cg->t_v2bf16, lo, hi);
}

/* bf16 to f32 is exact: the 16 bits become the high half of the f32. As
 * integer ops, one instruction an element (x << 16, x & 0xffff0000); the
 * fpext of a vector element took a PRMT and a shift for the high one. */
void cg_unpack_bf16(Cg *cg, LLVMValueRef packed, LLVMValueRef *lo, LLVMValueRef *hi)
{
    LLVMValueRef x = LLVMBuildBitCast(cg->b, packed, cg->t_i32, "");
    *lo = LLVMBuildBitCast(cg->b, LLVMBuildShl(cg->b, x, cg_i32(cg, 16), ""), cg->t_f32, "");
    *hi = LLVMBuildBitCast(cg->b, LLVMBuildAnd(cg->b, x, cg_i32(cg, (int)0xffff0000u), ""), cg->t_f32, "");
}

LLVMValueRef cg_pack(Cg *cg, TirElem e, LLVMValueRef lo, LLVMValueRef hi)
{
    if (e == TE_BF16 || e == TE_SPLIT) return cg_pack_bf16(cg, lo, hi);
    LLVMTypeRef h = LLVMHalfTypeInContext(cg->ctx);
    return pack2(cg, "llvm.nvvm.ff2f16x2.rn", LLVMVectorType(h, 2), lo, hi);
}

void cg_unpack(Cg *cg, TirElem e, LLVMValueRef packed, LLVMValueRef *lo, LLVMValueRef *hi)
{
    if (e == TE_BF16 || e == TE_SPLIT) {
        cg_unpack_bf16(cg, packed, lo, hi);
        return;
    }
    LLVMTypeRef h = LLVMHalfTypeInContext(cg->ctx), v2 = LLVMVectorType(h, 2);
    LLVMValueRef v = LLVMBuildBitCast(cg->b, packed, v2, "");
    *lo = LLVMBuildFPExt(cg->b, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, 0), ""), cg->t_f32, "");
    *hi = LLVMBuildFPExt(cg->b, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, 1), ""), cg->t_f32, "");
}

void cg_split_bf16(Cg *cg, LLVMValueRef x0, LLVMValueRef x1, LLVMValueRef *hi, LLVMValueRef *lo)
{
    *hi = cg_pack_bf16(cg, x0, x1);
    LLVMValueRef h0, h1;
    cg_unpack_bf16(cg, *hi, &h0, &h1);
    *lo = cg_pack_bf16(cg, LLVMBuildFSub(cg->b, x0, h0, ""), LLVMBuildFSub(cg->b, x1, h1, ""));
}

void cg_ldmatrix(Cg *cg, LLVMValueRef saddr, int n, bool trans, LLVMValueRef *out)
{
    LLVMTypeRef e[4] = {cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32};
    LLVMTypeRef rt = LLVMStructTypeInContext(cg->ctx, e, (unsigned)n, 0);
    LLVMTypeRef p[1] = {cg->t_ptr_s};
    char name[96];
    snprintf(name, sizeof name, "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x%d%s.b16.p3", n, trans ? ".trans" : "");
    LLVMValueRef r = cg_call(cg, name, rt, p, &saddr, 1);
    for (unsigned i = 0; i < (unsigned)n; i++) out[i] = LLVMBuildExtractValue(cg->b, r, i, "");
}

void cg_mma(Cg *cg, TirElem e, LLVMValueRef a[4], LLVMValueRef b0, LLVMValueRef b1, LLVMValueRef c[4])
{
    LLVMTypeRef f4[4] = {cg->t_f32, cg->t_f32, cg->t_f32, cg->t_f32};
    LLVMTypeRef rt = LLVMStructTypeInContext(cg->ctx, f4, 4, 0);
    LLVMTypeRef ot = cg->t_i32;
    const char *name = "llvm.nvvm.mma.m16n8k16.row.col.bf16";
    LLVMValueRef ops[6] = {a[0], a[1], a[2], a[3], b0, b1};
    if (e == TE_F16) {
        ot = LLVMVectorType(LLVMHalfTypeInContext(cg->ctx), 2);
        name = "llvm.nvvm.mma.m16n8k16.row.col.f32.f32";
        for (int i = 0; i < 6; i++) ops[i] = LLVMBuildBitCast(cg->b, ops[i], ot, "");
    }
    LLVMTypeRef p[10] = {ot, ot, ot, ot, ot, ot, cg->t_f32, cg->t_f32, cg->t_f32, cg->t_f32};
    LLVMValueRef args[10] = {ops[0], ops[1], ops[2], ops[3], ops[4], ops[5], c[0], c[1], c[2], c[3]};
    LLVMValueRef r = cg_call(cg, name, rt, p, args, 10);
    for (unsigned i = 0; i < 4; i++) c[i] = LLVMBuildExtractValue(cg->b, r, i, "");
}

void cg_cp_async(Cg *cg, LLVMValueRef sdst, LLVMValueRef gsrc, int width, LLVMValueRef src_bytes)
{
    LLVMTypeRef p[3] = {cg->t_ptr_s, cg->t_ptr_g, cg->t_i32};
    LLVMValueRef a[3] = {sdst, gsrc, src_bytes};
    char name[64];
    snprintf(name, sizeof name, "llvm.nvvm.cp.async.%s.shared.global.%d.s", width == 16 ? "cg" : "ca", width);
    cg_call(cg, name, cg->t_void, p, a, 3);
}

void cg_cp_async_commit(Cg *cg) { cg_call(cg, "llvm.nvvm.cp.async.commit.group", cg->t_void, NULL, NULL, 0); }

void cg_cp_async_wait(Cg *cg, int n)
{
    LLVMTypeRef p[1] = {cg->t_i32};
    LLVMValueRef a[1] = {cg_i32(cg, n)};
    cg_call(cg, "llvm.nvvm.cp.async.wait.group", cg->t_void, p, a, 1);
}

/* Inline PTX over registers: io[0..nio) are read and written in place
 * (tied, "=f" or "=r" by their type), in[0..nin) are inputs with the
 * constraints in_cons ("l,l"); the text names io as $0.. and in after. */
static void asm_tied(Cg *cg, const char *text, LLVMValueRef *io, int nio, LLVMValueRef *in, int nin,
                     const char *in_cons)
{
    enum { MAXR = 160 };
    LAC_ASSERT(nio + nin <= MAXR);
    LLVMTypeRef tys[MAXR], pty[MAXR];
    LLVMValueRef args[MAXR];
    char cons[8 * MAXR];
    size_t k = 0;
    cons[0] = 0;
    for (int i = 0; i < nio; i++) {
        tys[i] = LLVMTypeOf(io[i]);
        k += (size_t)snprintf(cons + k, sizeof cons - k, "%s=%s", i ? "," : "", tys[i] == cg->t_f32 ? "f" : "r");
    }
    if (nin) k += (size_t)snprintf(cons + k, sizeof cons - k, "%s%s", nio ? "," : "", in_cons);
    for (int i = 0; i < nin; i++) {
        pty[i] = LLVMTypeOf(in[i]);
        args[i] = in[i];
    }
    for (int i = 0; i < nio; i++) {
        k += (size_t)snprintf(cons + k, sizeof cons - k, ",%d", i);
        pty[nin + i] = tys[i];
        args[nin + i] = io[i];
    }
    /* The products read shared memory behind the compiler's back. */
    k += (size_t)snprintf(cons + k, sizeof cons - k, "%s~{memory}", k ? "," : "");
    LAC_ASSERT(k < sizeof cons);
    LLVMTypeRef rt = nio == 0 ? cg->t_void : nio == 1 ? tys[0] : LLVMStructTypeInContext(cg->ctx, tys, (unsigned)nio, 0);
    LLVMTypeRef fty = LLVMFunctionType(rt, pty, (unsigned)(nin + nio), 0);
    LLVMValueRef asm_ = LLVMGetInlineAsm(fty, (char *)text, strlen(text), cons, strlen(cons), 1, 0,
                                        LLVMInlineAsmDialectATT, 0);
    LLVMValueRef r = LLVMBuildCall2(cg->b, fty, asm_, args, (unsigned)(nin + nio), "");
    if (nio == 1) io[0] = r;
    else
        for (int i = 0; i < nio; i++) io[i] = LLVMBuildExtractValue(cg->b, r, (unsigned)i, "");
}

LLVMValueRef cg_smem_desc_lo(Cg *cg, LLVMValueRef off)
{
    /* Shared addresses are below 2^18 (228 KiB): address >> 4 fits the 14 bits. */
    LLVMValueRef a = LLVMBuildAdd(cg->b, LLVMBuildPtrToInt(cg->b, cg->smem, cg->t_i32, ""), off, "");
    return LLVMBuildLShr(cg->b, a, cg_i32(cg, 4), "");
}

LLVMValueRef cg_smem_desc(Cg *cg, LLVMValueRef lo, int lbo, int sbo)
{
    /* bits 0-13 address >> 4, 16-29 LBO >> 4, 32-45 SBO >> 4, 62-63 swizzle (1: 128 B) */
    unsigned long long hi = ((unsigned long long)((lbo >> 4) & 0x3FFF) << 16) |
                            ((unsigned long long)((sbo >> 4) & 0x3FFF) << 32) | (1ull << 62);
    return LLVMBuildOr(cg->b, LLVMBuildZExt(cg->b, lo, cg->t_i64, ""), LLVMConstInt(cg->t_i64, hi, 0), "");
}

void cg_wgmma_fence(Cg *cg, LLVMValueRef *d, int nd, LLVMValueRef *a, int na)
{
    enum { MAXR = 160 };
    LAC_ASSERT(nd + na <= MAXR);
    LLVMValueRef io[MAXR];
    memcpy(io, d, sizeof *d * (size_t)nd);
    if (na) memcpy(io + nd, a, sizeof *a * (size_t)na);
    asm_tied(cg, "wgmma.fence.sync.aligned;", io, nd + na, NULL, 0, "");
    memcpy(d, io, sizeof *d * (size_t)nd);
    if (na) memcpy(a, io + nd, sizeof *a * (size_t)na);
}

void cg_wgmma(Cg *cg, TirElem e, int n, LLVMValueRef *d, LLVMValueRef desc_a, LLVMValueRef *a,
              LLVMValueRef desc_b, bool trans_a, bool trans_b, bool scale_d)
{
    int nd = n / 2;
    char text[2048];
    size_t k = (size_t)snprintf(text, sizeof text, "{\n.reg .pred p;\nsetp.ne.b32 p, %d, 0;\n"
                                                   "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {",
                                scale_d ? 1 : 0, n, e == TE_F16 ? "f16" : "bf16", e == TE_F16 ? "f16" : "bf16");
    for (int i = 0; i < nd; i++) k += (size_t)snprintf(text + k, sizeof text - k, "%s$%d", i ? ", " : "", i);
    LLVMValueRef in[5];
    int nin;
    const char *cons;
    if (desc_a) {
        k += (size_t)snprintf(text + k, sizeof text - k, "}, $%d, $%d, p, 1, 1, %d, %d;\n}", nd, nd + 1,
                              trans_a ? 1 : 0, trans_b ? 1 : 0);
        in[0] = desc_a;
        in[1] = desc_b;
        nin = 2;
        cons = "l,l";
    } else {
        k += (size_t)snprintf(text + k, sizeof text - k, "}, {$%d, $%d, $%d, $%d}, $%d, p, 1, 1, %d;\n}", nd,
                              nd + 1, nd + 2, nd + 3, nd + 4, trans_b ? 1 : 0);
        for (int i = 0; i < 4; i++) in[i] = a[i];
        in[4] = desc_b;
        nin = 5;
        cons = "r,r,r,r,l";
    }
    LAC_ASSERT(k < sizeof text);
    asm_tied(cg, text, d, nd, in, nin, cons);
}

void cg_wgmma_wait(Cg *cg, LLVMValueRef *d, int nd)
{
    asm_tied(cg, "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;", d, nd, NULL, 0, "");
}

void cg_wgmma_commit(Cg *cg)
{
    asm_tied(cg, "wgmma.commit_group.sync.aligned;", NULL, 0, NULL, 0, "");
}

void cg_fence_proxy_async(Cg *cg)
{
    asm_tied(cg, "fence.proxy.async.shared::cta;", NULL, 0, NULL, 0, "");
}

void cg_warp_sync(Cg *cg)
{
    LLVMTypeRef p[1] = {cg->t_i32};
    LLVMValueRef a[1] = {cg_i32(cg, -1)};
    cg_call(cg, "llvm.nvvm.bar.warp.sync", cg->t_void, p, a, 1);
}

LLVMValueRef cg_shfl_up_f32(Cg *cg, LLVMValueRef x, int delta)
{
    LLVMTypeRef p[4] = {cg->t_i32, cg->t_f32, cg->t_i32, cg->t_i32};
    LLVMValueRef a[4] = {cg_i32(cg, -1), x, cg_i32(cg, delta), cg_i32(cg, 0)};
    return cg_call(cg, "llvm.nvvm.shfl.sync.up.f32", cg->t_f32, p, a, 4);
}

LLVMValueRef cg_shfl_idx_i32(Cg *cg, LLVMValueRef x, int lane)
{
    LLVMTypeRef p[4] = {cg->t_i32, cg->t_i32, cg->t_i32, cg->t_i32};
    LLVMValueRef a[4] = {cg_i32(cg, -1), x, cg_i32(cg, lane), cg_i32(cg, 31)};
    return cg_call(cg, "llvm.nvvm.shfl.sync.idx.i32", cg->t_i32, p, a, 4);
}

LLVMValueRef cg_vote_any(Cg *cg, LLVMValueRef pred)
{
    LLVMTypeRef p[2] = {cg->t_i32, cg->t_i1};
    LLVMValueRef a[2] = {cg_i32(cg, -1), pred};
    return cg_call(cg, "llvm.nvvm.vote.any.sync", cg->t_i1, p, a, 2);
}

void cg_loop_begin(Cg *cg, CgLoop *lp, const char *name)
{
    char done[64];
    snprintf(done, sizeof done, "%s.done", name);
    lp->pre = LLVMGetInsertBlock(cg->b);
    lp->body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, name);
    lp->done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, done);
    LLVMBuildBr(cg->b, lp->body);
    LLVMPositionBuilderAtEnd(cg->b, lp->body);
    lp->i = cg_loop_phi(cg, lp, cg_i32(cg, 0));
}

LLVMValueRef cg_loop_phi(Cg *cg, CgLoop *lp, LLVMValueRef init)
{
    LLVMValueRef phi = LLVMBuildPhi(cg->b, LLVMTypeOf(init), "");
    LLVMAddIncoming(phi, &init, &lp->pre, 1);
    return phi;
}

void cg_loop_end(Cg *cg, CgLoop *lp, LLVMValueRef n, LLVMValueRef *phis, LLVMValueRef *nexts, int k)
{
    LLVMValueRef in = LLVMBuildAdd(cg->b, lp->i, cg_i32(cg, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
    LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, in, n, ""), lp->body, lp->done);
    LLVMAddIncoming(lp->i, &in, &latch, 1);
    for (int j = 0; j < k; j++) LLVMAddIncoming(phis[j], &nexts[j], &latch, 1);
    LLVMPositionBuilderAtEnd(cg->b, lp->done);
}

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
 * .la expressions (docs/language.md section 5): channel j of a row, in fp32.
 * ------------------------------------------------------------------------ */

/* Row vectors computed once per row: softmax, reductions, weight products. */
struct CgMemo {
    const Expr *e;
    LLVMValueRef *v; /* one per channel (1 for reductions) */
    LLVMValueRef aux; /* softmax: 1 / sum */
    struct CgMemo *next;
};

static LLVMValueRef call1f(Cg *cg, const char *name, LLVMValueRef x);
static LLVMValueRef call2f(Cg *cg, const char *name, LLVMValueRef x, LLVMValueRef y);

bool cg_la_elementwise(const Expr *e)
{
    if (e->type.known) return true;
    switch (e->kind) {
    case EX_NUM: return true;
    case EX_NAME:
        if (e->sym && e->sym->kind == SYM_LET) return cg_la_elementwise(e->sym->expr);
        if (e->sym && e->sym->kind == SYM_INPUT)
            return e->sym->layout != LAYOUT_HEAD_MAT && e->sym->layout != LAYOUT_SHARED_MAT;
        return true;
    case EX_NEG: return cg_la_elementwise(e->lhs);
    case EX_BIN: return e->op != OP_MATMUL && cg_la_elementwise(e->lhs) && cg_la_elementwise(e->rhs);
    case EX_CALL:
        switch (e->fn) {
        case BI_CONCAT: case BI_OUTER: case BI_SOFTMAX: case BI_SUM: case BI_MAX: case BI_MIN: case BI_MEAN:
            return e->fn != BI_CONCAT && e->fn != BI_OUTER && e->fn != BI_SOFTMAX && e->args[0]->type.cols == 1 &&
                   cg_la_elementwise(e->args[0]);
        default:
            for (int i = 0; i < e->nargs; i++)
                if (!cg_la_elementwise(e->args[i])) return false;
            return true;
        }
    default: return false;
    }
}

static struct CgMemo *memo_find(CgLaEnv *env, const Expr *e)
{
    for (struct CgMemo *m = env->memo; m; m = m->next)
        if (m->e == e) return m;
    return NULL;
}

static struct CgMemo *memo_new(Cg *cg, CgLaEnv *env, const Expr *e, int n)
{
    struct CgMemo *m = arena_alloc(cg->a, sizeof *m);
    m->e = e;
    m->v = arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)(n + 1));
    m->next = env->memo;
    env->memo = m;
    return m;
}

/* The channel of operand `x` that goes with channel j of the result, with
 * broadcasting of one-channel operands. */
static LLVMValueRef la_arg(Cg *cg, const Expr *x, int j, LLVMValueRef jr, CgLaEnv *env)
{
    if (x->type.cols == 1) return cg_la(cg, x, 0, NULL, env);
    return cg_la(cg, x, j, jr, env);
}

static LLVMValueRef la_sigmoid(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(cg->b, x, ""));
    return LLVMBuildFDiv(cg->b, cg_f32(cg, 1), LLVMBuildFAdd(cg->b, cg_f32(cg, 1), e, ""), "");
}

/* log(1 + exp(-|x|)), the shared tail of softplus and logsigmoid. */
static LLVMValueRef log1p_exp_neg_abs(Cg *cg, LLVMValueRef x)
{
    LLVMValueRef ax = call1f(cg, "llvm.fabs.f32", x);
    LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(cg->b, ax, ""));
    return cg_log(cg, LLVMBuildFAdd(cg->b, cg_f32(cg, 1), e, ""));
}

static LLVMValueRef la_unary(Cg *cg, Builtin fn, LLVMValueRef x)
{
    LLVMBuilderRef b = cg->b;
    LLVMValueRef zero = cg_f32(cg, 0), one = cg_f32(cg, 1);
    switch (fn) {
    case BI_EXP: return cg_exp(cg, x);
    case BI_LOG: return cg_log(cg, x);
    case BI_SQRT: return call1f(cg, "llvm.sqrt.f32", x);
    case BI_RELU: return call2f(cg, "llvm.maxnum.f32", x, zero);
    case BI_ELU: {
        LLVMValueRef em1 = LLVMBuildFSub(b, cg_exp(cg, call2f(cg, "llvm.minnum.f32", x, zero)), one, "");
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, em1, "");
    }
    case BI_SIGMOID: return la_sigmoid(cg, x);
    case BI_LOGSIGMOID:
        return LLVMBuildFSub(b, call2f(cg, "llvm.minnum.f32", x, zero), log1p_exp_neg_abs(cg, x), "");
    case BI_SILU: return LLVMBuildFMul(b, x, la_sigmoid(cg, x), "");
    case BI_COS: return call1f(cg, "llvm.nvvm.cos.approx.ftz.f", x);
    case BI_SIN: return call1f(cg, "llvm.nvvm.sin.approx.ftz.f", x);
    case BI_SOFTPLUS:
        return LLVMBuildFAdd(b, call2f(cg, "llvm.maxnum.f32", x, zero), log1p_exp_neg_abs(cg, x), "");
    case BI_TANH: {
        /* 1 - 2 / (e^2x + 1), with e^2x kept finite */
        LLVMValueRef x2 = call2f(cg, "llvm.minnum.f32", LLVMBuildFMul(b, x, cg_f32(cg, 2), ""), cg_f32(cg, 80));
        LLVMValueRef e2 = cg_exp(cg, x2);
        return LLVMBuildFSub(b, one, LLVMBuildFDiv(b, cg_f32(cg, 2), LLVMBuildFAdd(b, e2, one, ""), ""), "");
    }
    case BI_ABS: return call1f(cg, "llvm.fabs.f32", x);
    default: break;
    }
    LAC_ASSERT(0 && "la_unary: not an elementwise function");
    return NULL;
}

/* The reductions and softmax of a row: all channels of the argument. */
static struct CgMemo *la_row_memo(Cg *cg, const Expr *e, CgLaEnv *env)
{
    struct CgMemo *m = memo_find(env, e);
    if (m) return m;
    const Expr *x = e->args[0];
    int n = x->type.cols;
    LLVMBuilderRef b = cg->b;
    LLVMValueRef *xs = arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)n);
    for (int i = 0; i < n; i++) xs[i] = cg_la(cg, x, i, NULL, env);
    LLVMValueRef acc = xs[0];
    for (int i = 1; i < n; i++) {
        switch (e->fn) {
        case BI_SUM: case BI_MEAN: acc = LLVMBuildFAdd(b, acc, xs[i], ""); break;
        case BI_MIN: acc = call2f(cg, "llvm.minnum.f32", acc, xs[i]); break;
        case BI_MAX: case BI_SOFTMAX: acc = call2f(cg, "llvm.maxnum.f32", acc, xs[i]); break;
        default: break;
        }
    }
    if (e->fn == BI_SOFTMAX) {
        m = memo_new(cg, env, e, n);
        LLVMValueRef sum = NULL;
        for (int i = 0; i < n; i++) {
            m->v[i] = cg_exp(cg, LLVMBuildFSub(b, xs[i], acc, ""));
            sum = sum ? LLVMBuildFAdd(b, sum, m->v[i], "") : m->v[i];
        }
        m->aux = LLVMBuildFDiv(b, cg_f32(cg, 1), sum, "");
        return m;
    }
    m = memo_new(cg, env, e, 1);
    m->v[0] = e->fn == BI_MEAN ? LLVMBuildFMul(b, acc, cg_f32(cg, 1.0 / n), "") : acc;
    return m;
}

/* x @ W: every channel of the product, once per row. An elementwise x is
 * read inside a loop over its channels; otherwise all of x first. */
static struct CgMemo *la_matmul_memo(Cg *cg, const Expr *e, CgLaEnv *env)
{
    struct CgMemo *m = memo_find(env, e);
    if (m) return m;
    const Expr *x = e->lhs;
    const Symbol *w = e->rhs->sym;
    int R = x->type.cols, Cn = e->type.cols;
    LLVMBuilderRef b = cg->b;
    m = memo_new(cg, env, e, Cn);
    if (!cg_la_elementwise(x) || R <= 8) {
        for (int j = 0; j < Cn; j++) m->v[j] = cg_f32(cg, 0);
        for (int i = 0; i < R; i++) {
            LLVMValueRef xi = cg_la(cg, x, i, NULL, env);
            for (int j = 0; j < Cn; j++)
                m->v[j] = LLVMBuildFAdd(b, m->v[j], LLVMBuildFMul(b, xi, env->load_mat(env->ctx, w, cg_i32(cg, i), j), ""), "");
        }
        return m;
    }
    CgLoop lp;
    cg_loop_begin(cg, &lp, "matmul");
    LLVMValueRef *acc = arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)Cn);
    for (int j = 0; j < Cn; j++) acc[j] = cg_loop_phi(cg, &lp, cg_f32(cg, 0));
    /* The loop body's row memo must not leak out of the loop. */
    struct CgMemo *saved = env->memo;
    LLVMValueRef xi = cg_la(cg, x, -1, lp.i, env);
    env->memo = saved;
    LLVMValueRef *next = arena_alloc(cg->a, sizeof(LLVMValueRef) * (size_t)Cn);
    for (int j = 0; j < Cn; j++)
        next[j] = LLVMBuildFAdd(b, acc[j], LLVMBuildFMul(b, xi, env->load_mat(env->ctx, w, lp.i, j), ""), "");
    cg_loop_end(cg, &lp, cg_i32(cg, R), acc, next, Cn);
    for (int j = 0; j < Cn; j++) m->v[j] = next[j];
    return m;
}

LLVMValueRef cg_la(Cg *cg, const Expr *e, int j, LLVMValueRef jr, CgLaEnv *env)
{
    if (e->type.known) return cg_f32(cg, e->type.value);
    LLVMBuilderRef b = cg->b;
    switch (e->kind) {
    case EX_NUM: return cg_f32(cg, e->num);
    case EX_NAME:
        if (e->sym && e->sym->kind == SYM_INPUT) {
            if (e->type.cols == 1) return env->load(env->ctx, e->sym, 0, NULL);
            return env->load(env->ctx, e->sym, j, jr);
        }
        if (e->sym && e->sym->kind == SYM_LET) return cg_la(cg, e->sym->expr, j, jr, env);
        switch (e->fn) {
        case BI_POS: LAC_ASSERT(env->t != NULL); return LLVMBuildSIToFP(b, env->t, cg->t_f32, "");
        case BI_HEAD: return LLVMBuildSIToFP(b, env->h, cg->t_f32, "");
        case BI_NUM_HEADS: return LLVMBuildSIToFP(b, cg->H, cg->t_f32, "");
        case BI_SEQ_LEN: return LLVMBuildSIToFP(b, cg->T, cg->t_f32, "");
        case BI_PI: return cg_f32(cg, M_PI);
        default: break;
        }
        break;
    case EX_NEG: return LLVMBuildFNeg(b, la_arg(cg, e->lhs, j, jr, env), "");
    case EX_BIN: {
        if (e->op == OP_MATMUL) {
            LAC_ASSERT(j >= 0);
            return la_matmul_memo(cg, e, env)->v[j];
        }
        LLVMValueRef l = la_arg(cg, e->lhs, j, jr, env), r = la_arg(cg, e->rhs, j, jr, env);
        switch (e->op) {
        case OP_ADD: return LLVMBuildFAdd(b, l, r, "");
        case OP_SUB: return LLVMBuildFSub(b, l, r, "");
        case OP_MUL: return LLVMBuildFMul(b, l, r, "");
        case OP_DIV: return LLVMBuildFDiv(b, l, r, "");
        case OP_MATMUL: break;
        }
        break;
    }
    case EX_CALL:
        switch (e->fn) {
        case BI_ONES: return cg_f32(cg, 1);
        case BI_SUM: case BI_MAX: case BI_MIN: case BI_MEAN:
            if (e->args[0]->type.cols == 1) return cg_la(cg, e->args[0], 0, NULL, env);
            return la_row_memo(cg, e, env)->v[0];
        case BI_SOFTMAX: {
            LAC_ASSERT(j >= 0);
            struct CgMemo *m = la_row_memo(cg, e, env);
            return LLVMBuildFMul(b, m->v[j], m->aux, "");
        }
        case BI_CONCAT: {
            LAC_ASSERT(j >= 0);
            int off = 0;
            for (int i = 0; i < e->nargs; i++) {
                int n = e->args[i]->type.cols;
                if (j < off + n) return cg_la(cg, e->args[i], j - off, NULL, env);
                off += n;
            }
            break;
        }
        case BI_OUTER: {
            LAC_ASSERT(j >= 0);
            int nb = e->args[1]->type.cols;
            return LLVMBuildFMul(b, cg_la(cg, e->args[0], j / nb, NULL, env),
                                 cg_la(cg, e->args[1], j % nb, NULL, env), "");
        }
        case BI_POW: {
            LLVMValueRef x = la_arg(cg, e->args[0], j, jr, env), y = la_arg(cg, e->args[1], j, jr, env);
            return cg_exp(cg, LLVMBuildFMul(b, y, cg_log(cg, x), ""));
        }
        case BI_MINIMUM:
            return call2f(cg, "llvm.minnum.f32", la_arg(cg, e->args[0], j, jr, env), la_arg(cg, e->args[1], j, jr, env));
        case BI_MAXIMUM:
            return call2f(cg, "llvm.maxnum.f32", la_arg(cg, e->args[0], j, jr, env), la_arg(cg, e->args[1], j, jr, env));
        default: return la_unary(cg, e->fn, la_arg(cg, e->args[0], j, jr, env));
        }
        break;
    default: break;
    }
    LAC_ASSERT(0 && "cg_la: an expression sema should have rejected");
    return NULL;
}
