/*
 * emit_ptx.c: from a checked Variant to PTX, the back half of the pipeline:
 *
 *   templates/fwd_state.c  the forward as tile programs (one per kernel)
 *   tir.c                  verify, lay out shared memory, print (--tir)
 *   lower.c                tile IR -> LLVM IR, one function per kernel
 *   here                   LLVMVerifyModule (the module is dumped on
 *                          failure), LLVM's O2 pipeline, NVPTX -> PTX
 *
 * One module holds the three kernels of a configuration: the forward with
 * the state on chip and the two passes of the sequence split. Each kernel
 * gets a lac-kernel comment line that launchers read (lac_internal.h,
 * KernelInfo).
 */
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen.h"

static const char *const triple = "nvptx64-nvidia-cuda";

static void annotate_kernel(Cg *cg, LLVMValueRef fn, int threads)
{
    LLVMMetadataRef md[3] = {
        LLVMValueAsMetadata(fn),
        LLVMMDStringInContext2(cg->ctx, "maxntidx", 8),
        LLVMValueAsMetadata(cg_i32(cg, threads)),
    };
    LLVMValueRef node = LLVMMetadataAsValue(cg->ctx, LLVMMDNodeInContext2(cg->ctx, md, 3));
    LLVMAddNamedMetadataOperand(cg->mod, "nvvm.annotations", node);
}

static bool arch_known(const char *arch)
{
    return strcmp(arch, "sm_80") == 0 || strcmp(arch, "sm_90") == 0 || strcmp(arch, "sm_90a") == 0;
}

static void kernel_line(StrBuf *out, const KernelInfo *k)
{
    strbuf_printf(out,
                  "// lac-kernel name=%s threads=%d smem=%d block_v=%d dk=%d dv=%d io=%s norm=%d kind=%s "
                  "chunk=%d warps=%d stages=%d\n",
                  k->name, k->threads, k->smem_bytes, k->block_v, k->dk, k->dv, dtype_name(k->io), k->norm ? 1 : 0,
                  fwd_kind_name(k->kind), k->config.chunk, k->config.warps, k->config.stages);
}

bool codegen_forward_ptx(const Variant *v, const KernelConfig *kcp, const char *arch, StrBuf *ptx,
                         StrBuf *llvm_ir, StrBuf *tir, Arena *a, Diags *d)
{
    if (!arch_known(arch)) {
        diag_error_noloc(d, "lac", "unknown --arch '%s'; the targets are sm_80, sm_90 and sm_90a", arch);
        return false;
    }
    KernelConfig kc = kcp ? *kcp : kernel_config_default(v);
    /* The tile programs first: they need no LLVM, and every error of the
     * variant or the configuration is reported here. */
    enum { NKINDS = 3 };
    TirProgram *progs[NKINDS];
    KernelInfo infos[NKINDS];
    /* The shared memory a block may have: 227 KiB on sm_90, 163 KiB on sm_80. */
    int smem_max = strcmp(arch, "sm_80") == 0 ? 166912 : 232448;
    for (int k = 0; k < NKINDS; k++) {
        progs[k] = tmpl_fwd(v, &kc, (FwdKind)k, a, d, &infos[k]);
        if (!progs[k]) return false;
        if (!tir_verify(progs[k], d)) return false;
        if (infos[k].smem_bytes > smem_max) {
            diag_error(d, v->loc,
                       "this configuration (block_v = %d, warps = %d, stages = %d) needs %d bytes of shared "
                       "memory per thread block; %s allows %d: use fewer stages or a smaller block_v",
                       kc.block_v, kc.warps, kc.stages, infos[k].smem_bytes, arch, smem_max);
            return false;
        }
        if (tir) tir_print(progs[k], tir);
    }
    if (!ptx && !llvm_ir) return true;

    llvm_init_nvptx(); /* once per process: compilations may run in parallel threads */
    LLVMTargetRef target = NULL;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        diag_error_noloc(d, "lac", "no NVPTX target in this LLVM: %s", err ? err : "?");
        if (err) LLVMDisposeMessage(err);
        return false;
    }
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, arch, "+ptx80",
                                                      LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                                      LLVMCodeModelDefault);
    if (!tm) {
        diag_error_noloc(d, "lac", "cannot create an NVPTX target machine for %s", arch);
        return false;
    }
    bool ok = false;
    Cg cg;
    cg_init(&cg, v, a, d);
    cg.wgmma = strcmp(arch, "sm_90a") == 0;
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *layout = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(cg.mod, layout);
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(td);

    LLVMMemoryBufferRef buf = NULL;
    LLVMPassBuilderOptionsRef opts = NULL;
    for (int k = 0; k < NKINDS; k++) {
        cg.B = cg.T = cg.H = NULL;
        if (!lower_program(&cg, progs[k])) goto done;
        annotate_kernel(&cg, cg.fn, infos[k].threads);
    }
    if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &err)) {
        char *text = LLVMPrintModuleToString(cg.mod);
        fprintf(stderr, "%s\n", text);
        LLVMDisposeMessage(text);
        diag_error_noloc(d, "lac", "internal error: the generated LLVM module does not verify: %s",
                         err ? err : "?");
        goto done;
    }
    if (err) {
        LLVMDisposeMessage(err);
        err = NULL;
    }
    opts = LLVMCreatePassBuilderOptions();
    /* O2, not O3: on 2026-12-02 both gave byte-identical PTX for every
     * configuration of every example (sm_80 and sm_90a, and the dtype and
     * head-dim variants of tests/gpu/run_fwd.sh), and O2 compiles in a
     * third less time (gla 1.03 against 1.53 s), which a cold start pays
     * once per configuration. Compare again when the templates change. */
    LLVMErrorRef perr = LLVMRunPasses(cg.mod, "default<O2>", tm, opts);
    if (perr) {
        char *m = LLVMGetErrorMessage(perr);
        diag_error_noloc(d, "lac", "internal error: LLVM's O2 pipeline failed: %s", m);
        LLVMDisposeErrorMessage(m);
        goto done;
    }
    if (llvm_ir) {
        char *text = LLVMPrintModuleToString(cg.mod);
        strbuf_puts(llvm_ir, text);
        LLVMDisposeMessage(text);
    }
    if (ptx) {
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, cg.mod, LLVMAssemblyFile, &err, &buf)) {
            diag_error_noloc(d, "lac", "internal error: PTX emission failed: %s", err ? err : "?");
            goto done;
        }
        for (int k = 0; k < NKINDS; k++) kernel_line(ptx, &infos[k]);
        strbuf_printf(ptx, "// generated by lac %s from %s (template fwd_state, %s)\n", LAC_VERSION_STRING,
                      v->src->name, arch);
        strbuf_putn(ptx, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
    }
    ok = true;
done:
    if (err) LLVMDisposeMessage(err);
    if (buf) LLVMDisposeMemoryBuffer(buf);
    if (opts) LLVMDisposePassBuilderOptions(opts);
    cg_dispose(&cg);
    LLVMDisposeTargetMachine(tm);
    return ok;
}

bool codegen_config_fits(const Variant *v, const KernelConfig *kc, const char *arch, char *why, size_t n)
{
    Arena qa;
    arena_init(&qa);
    Diags quiet;
    diags_init(&quiet, &qa);
    bool ok = codegen_forward_ptx(v, kc, arch, NULL, NULL, NULL, &qa, &quiet);
    if (why) snprintf(why, n, "%s", !ok && quiet.first ? quiet.first->msg : "");
    arena_free(&qa);
    return ok;
}
