/*
 * llvm_info.c: the statically linked LLVM NVPTX back end, as the code
 * generator will drive it: initialize the target, create a target machine
 * per architecture, and emit PTX for a module built with the LLVM C API.
 *
 * `lac version` runs this as a self-test, so a broken static link or a
 * missing NVPTX target shows up before any kernel is compiled. LLVM objects
 * are created and disposed only in the codegen files (this is the first).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <string.h>

#include <pthread.h>
#include <stdio.h>

#include <llvm-c/Core.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "lac_internal.h"

static const char *const triple = "nvptx64-nvidia-cuda";

/* Emit a trivial kernel for `cpu` and check the PTX targets it. */
static bool probe_arch(LLVMTargetRef target, const char *cpu, StrBuf *err)
{
    bool ok = false;
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, "+ptx80",
                                                      LLVMCodeGenLevelDefault, LLVMRelocDefault,
                                                      LLVMCodeModelDefault);
    if (!tm) {
        strbuf_printf(err, "cannot create a target machine for %s", cpu);
        return false;
    }
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("lac_probe", ctx);
    LLVMSetTarget(m, triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *layout = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(m, layout);
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(td);

    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), NULL, 0, 0);
    LLVMValueRef fn = LLVMAddFunction(m, "lac_probe_kernel", fty);
    LLVMSetFunctionCallConv(fn, 71 /* PTX_Kernel */);
    LLVMBuilderRef bld = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(bld, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    LLVMBuildRetVoid(bld);
    LLVMDisposeBuilder(bld);

    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
        strbuf_printf(err, "probe module does not verify: %s", msg ? msg : "?");
    } else if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMAssemblyFile, &msg, &buf)) {
        strbuf_printf(err, "PTX emission for %s failed: %s", cpu, msg ? msg : "?");
    } else {
        const char *ptx = LLVMGetBufferStart(buf);
        size_t n = LLVMGetBufferSize(buf);
        char want[64];
        snprintf(want, sizeof want, ".target %s", cpu);
        ok = n > 0 && memmem(ptx, n, want, strlen(want)) != NULL &&
             memmem(ptx, n, ".entry lac_probe_kernel", 23) != NULL;
        if (!ok) strbuf_printf(err, "PTX for %s lacks '%s' or the kernel entry", cpu, want);
    }
    if (msg) LLVMDisposeMessage(msg);
    if (buf) LLVMDisposeMemoryBuffer(buf);
    LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return ok;
}

static void nvptx_init_once(void)
{
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
}

void llvm_init_nvptx(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, nvptx_init_once);
}

void llvm_version(char *out, size_t n)
{
    unsigned maj = 0, min = 0, pat = 0;
    LLVMGetVersion(&maj, &min, &pat);
    snprintf(out, n, "%u.%u.%u", maj, min, pat);
}

bool llvm_describe_backend(StrBuf *out)
{
    char ver[32];
    llvm_version(ver, sizeof ver);
    strbuf_printf(out, "LLVM %s (static), ", ver);
    llvm_init_nvptx();
    LLVMTargetRef target = NULL;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        strbuf_printf(out, "no %s target: %s", triple, err ? err : "?");
        if (err) LLVMDisposeMessage(err);
        return false;
    }
    strbuf_printf(out, "%s target, PTX emitted for:", triple);
    static const char *const archs[] = {"sm_80", "sm_90", "sm_90a"};
    bool ok = true;
    StrBuf e;
    strbuf_init(&e);
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        if (probe_arch(target, archs[i], &e))
            strbuf_printf(out, " %s", archs[i]);
        else
            ok = false;
    }
    if (!ok) strbuf_printf(out, " (failed: %s)", e.data);
    strbuf_free(&e);
    return ok;
}
