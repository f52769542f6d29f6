/*
 * cuda.c: the CUDA Driver API, loaded with dlopen and checked call by call.
 *
 * The runtime never links libcuda: it opens libcuda.so.1 at run time, looks
 * up every function it uses by its exported (versioned) name, and calls
 * them through the table in CudaCtx. Every call goes through CU_CHECK, which
 * records where and what failed and returns a status; nothing here prints
 * or exits, so the runtime can live inside a user's process (STYLE.md,
 * practices 5 and 7). The wrappers are deliberately thin: one driver call
 * each, so an error names the call that failed.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"

#define CUDA_STR_(x) #x
#define CUDA_STR(x) CUDA_STR_(x) /* expands cuda.h's renaming first */

const char *cuda_status_name(CudaStatus st)
{
    switch (st) {
    case CS_OK: return "ok";
    case CS_NO_DRIVER: return "no CUDA driver";
    case CS_NO_DEVICE: return "no CUDA device";
    case CS_DRIVER: return "CUDA driver error";
    case CS_INVALID: return "invalid launch";
    }
    return "?";
}

/* Names of the results a caller most needs to recognise, for when the
 * driver cannot name them itself (the stub library, a failed cuInit). */
static const char *result_name_fallback(CUresult rc)
{
    switch (rc) {
    case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_STUB_LIBRARY: return "CUDA_ERROR_STUB_LIBRARY";
    case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case CUDA_ERROR_OPERATING_SYSTEM: return "CUDA_ERROR_OPERATING_SYSTEM";
    default: return NULL;
    }
}

CudaStatus cuda_fail(CudaCtx *c, CUresult rc, const char *file, int line, const char *call)
{
    CudaStatus st = rc == CUDA_ERROR_NO_DEVICE       ? CS_NO_DEVICE
                    : rc == CUDA_ERROR_STUB_LIBRARY ? CS_NO_DRIVER
                                                     : CS_DRIVER;
    if (c->err.status != CS_OK) return st; /* keep the first error */
    CudaError *e = &c->err;
    e->status = st;
    e->cu = rc;
    e->file = file;
    e->line = line;
    e->call = call;
    const char *name = NULL, *text = NULL;
    /* Not through CU_CHECK: naming an error must not record another one. */
    if (c->api.cuGetErrorName && c->api.cuGetErrorName(rc, &name) != CUDA_SUCCESS) name = NULL;
    if (c->api.cuGetErrorString && c->api.cuGetErrorString(rc, &text) != CUDA_SUCCESS) text = NULL;
    if (!name) name = result_name_fallback(rc);
    if (name)
        snprintf(e->name, sizeof e->name, "%s", name);
    else
        snprintf(e->name, sizeof e->name, "CUresult %d", (int)rc);
    const char *what = st == CS_NO_DRIVER   ? "no CUDA driver (the toolkit's stub library was loaded): "
                       : st == CS_NO_DEVICE ? "no CUDA device: "
                                            : "";
    snprintf(e->msg, sizeof e->msg, "%s%s:%d: %s failed: %s%s%s%s", what, file, line, call, e->name,
             text ? " (" : "", text ? text : "", text ? ")" : "");
    return st;
}

CudaStatus cuda_error(CudaCtx *c, CudaStatus st, const char *fmt, ...)
{
    if (c->err.status != CS_OK) return st;
    c->err.status = st;
    c->err.cu = CUDA_SUCCESS;
    c->err.file = NULL;
    c->err.line = 0;
    c->err.call = NULL;
    c->err.name[0] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
    va_end(ap);
    return st;
}

void cuda_error_clear(CudaCtx *c) { memset(&c->err, 0, sizeof c->err); }

/* Look up every function of the table by its exported name. */
static CudaStatus api_load(CudaCtx *c)
{
    void *p;
#define CUDA_API_LOAD(f)                                                                 \
    p = dlsym(c->lib, CUDA_STR(f));                                                      \
    if (!p)                                                                              \
        return cuda_error(c, CS_DRIVER,                                                  \
                          "%s has no %s: the driver is older than the CUDA %d.%d "        \
                          "headers lac was built with",                                  \
                          c->lib_name, CUDA_STR(f), CUDA_VERSION / 1000,                 \
                          CUDA_VERSION % 1000 / 10);                                     \
    memcpy(&c->api.f, &p, sizeof p); /* object to function pointer, POSIX-style */
    CUDA_API_FUNCS(CUDA_API_LOAD)
#undef CUDA_API_LOAD
    return CS_OK;
}

static CudaStatus device_attr(CudaCtx *c, CUdevice_attribute a, int *out)
{
    CU_CHECK(c, cuDeviceGetAttribute(out, a, c->dev));
    return CS_OK;
}

/* Attributes that only inform (peak bandwidth): a driver that does not know
 * them is no error. */
static int device_attr_optional(CudaCtx *c, CUdevice_attribute a)
{
    int v = 0;
    if (device_attr(c, a, &v) != CS_OK) {
        cuda_error_clear(c);
        v = 0;
    }
    return v;
}

CudaStatus cuda_open(CudaCtx *c, int ordinal, const char *driver)
{
    memset(c, 0, sizeof *c);
    c->ordinal = ordinal;
    /* The loader's search first; then where container runtimes put the
     * driver when the loader is not told (NVIDIA's images, Debian, RHEL). */
    const char *names[] = {driver ? driver : "libcuda.so.1",
                           driver ? NULL : "libcuda.so",
                           "/usr/local/nvidia/lib64/libcuda.so.1",
                           "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                           "/usr/lib64/libcuda.so.1"};
    int nnames = driver ? 1 : (int)(sizeof names / sizeof names[0]);
    char first_err[512] = "";
    for (int i = 0; i < nnames && !c->lib; i++) {
        c->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!c->lib && i == 0) {
            const char *e = dlerror();
            snprintf(first_err, sizeof first_err, "%s", e ? e : "dlopen failed");
        }
        if (c->lib) snprintf(c->lib_name, sizeof c->lib_name, "%s", names[i]);
    }
    if (!c->lib)
        return cuda_error(c, CS_NO_DRIVER, "no CUDA driver (%s not found): %s", names[0], first_err);

    CudaStatus st = api_load(c);
    if (st != CS_OK) return st;
    CU_CHECK(c, cuInit(0));
    CU_CHECK(c, cuDriverGetVersion(&c->driver_version));
    int count = 0;
    CU_CHECK(c, cuDeviceGetCount(&count));
    if (count == 0) return cuda_error(c, CS_NO_DEVICE, "no CUDA device: the driver sees no GPU");
    if (ordinal < 0 || ordinal >= count)
        return cuda_error(c, CS_NO_DEVICE, "no CUDA device %d: the driver sees %d (0 to %d)",
                          ordinal, count, count - 1);
    CU_CHECK(c, cuDeviceGet(&c->dev, ordinal));
    CU_CHECK(c, cuDeviceGetName(c->name, (int)sizeof c->name, c->dev));
    CU_CHECK(c, cuDeviceTotalMem(&c->total_mem, c->dev));
    struct {
        CUdevice_attribute a;
        int *out;
    } attrs[] = {
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &c->cc_major},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &c->cc_minor},
        {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &c->sm_count},
        {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &c->max_threads_per_block},
        {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &c->smem_optin},
        {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &c->l2_bytes},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        st = device_attr(c, attrs[i].a, attrs[i].out);
        if (st != CS_OK) return st;
    }
    /* kHz x bits x 2 (double data rate) / 8 bits -> bytes/s; GB/s = 1e9. */
    double khz = device_attr_optional(c, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
    double bits = device_attr_optional(c, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
    c->peak_gbps = khz * 1e3 * bits * 2 / 8 / 1e9;

    CU_CHECK(c, cuDevicePrimaryCtxRetain(&c->ctx, c->dev));
    CU_CHECK(c, cuCtxSetCurrent(c->ctx));
    return CS_OK;
}

static CudaStatus ctx_release(CudaCtx *c)
{
    CU_CHECK(c, cuDevicePrimaryCtxRelease(c->dev));
    return CS_OK;
}

void cuda_close(CudaCtx *c)
{
    if (c->ctx) {
        ctx_release(c); /* a failure is recorded unless an earlier one is */
        c->ctx = NULL;
    }
    if (c->lib) {
        dlclose(c->lib);
        c->lib = NULL;
    }
    memset(&c->api, 0, sizeof c->api);
}

/* The options of one JIT compilation, its logs in l (cleared here).
 * Option values travel as pointers: sizes and flags are cast, and the
 * driver writes the wall time back into its slot as a float. The log
 * buffers are the caller's, so they hold ptxas' messages even when the
 * compilation fails and CU_CHECK returns early. */
enum { JIT_NOPTS = 6, JIT_WALL_SLOT = 5 };
static void jit_options(CudaJitLog *l, CUjit_option opt[JIT_NOPTS], void *val[JIT_NOPTS])
{
    l->info[0] = l->error[0] = 0;
    l->wall_ms = 0;
    const CUjit_option o[JIT_NOPTS] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                                       CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                                       CU_JIT_LOG_VERBOSE, CU_JIT_WALL_TIME};
    void *const v[JIT_NOPTS] = {l->info, (void *)(uintptr_t)sizeof l->info, l->error,
                                (void *)(uintptr_t)sizeof l->error, (void *)(uintptr_t)1, NULL};
    memcpy(opt, o, sizeof o);
    memcpy(val, v, sizeof v);
}

static float jit_wall_ms(void *const val[JIT_NOPTS])
{
    float ms;
    memcpy(&ms, &val[JIT_WALL_SLOT], sizeof ms);
    return ms;
}

CudaStatus cuda_module_load(CudaCtx *c, const char *ptx, CUmodule *out, CudaJitLog *log)
{
    CudaJitLog local;
    CudaJitLog *l = log ? log : &local;
    CUjit_option opt[JIT_NOPTS];
    void *val[JIT_NOPTS];
    jit_options(l, opt, val);
    *out = NULL;
    CU_CHECK(c, cuModuleLoadDataEx(out, ptx, JIT_NOPTS, opt, val));
    l->wall_ms = jit_wall_ms(val);
    return CS_OK;
}

/* The linker's state, destroyed on every path (its cubin lives in it). */
static CudaStatus link_run(CudaCtx *c, CUlinkState ls, const char *ptx, void **cubin, size_t *size)
{
    CU_CHECK(c, cuLinkAddData(ls, CU_JIT_INPUT_PTX, (void *)ptx, strlen(ptx) + 1, "lac.ptx", 0, NULL, NULL));
    void *img = NULL;
    size_t n = 0;
    CU_CHECK(c, cuLinkComplete(ls, &img, &n));
    *cubin = malloc(n ? n : 1);
    if (!*cubin) return cuda_error(c, CS_INVALID, "out of host memory for a cubin of %zu bytes", n);
    memcpy(*cubin, img, n);
    *size = n;
    return CS_OK;
}

CudaStatus cuda_ptx_to_cubin(CudaCtx *c, const char *ptx, void **cubin, size_t *size, CudaJitLog *log)
{
    CudaJitLog local;
    CudaJitLog *l = log ? log : &local;
    *cubin = NULL;
    *size = 0;
    CUjit_option opt[JIT_NOPTS];
    void *val[JIT_NOPTS];
    jit_options(l, opt, val);
    CUlinkState ls = NULL;
    CU_CHECK(c, cuLinkCreate(JIT_NOPTS, opt, val, &ls));
    CudaStatus st = link_run(c, ls, ptx, cubin, size);
    l->wall_ms = jit_wall_ms(val);
    CUresult rc = c->api.cuLinkDestroy(ls);
    if (st == CS_OK && rc != CUDA_SUCCESS) st = cuda_fail(c, rc, __FILE__, __LINE__, "cuLinkDestroy(ls)");
    if (st != CS_OK) {
        free(*cubin);
        *cubin = NULL;
        *size = 0;
    }
    return st;
}

CudaStatus cuda_module_load_cubin(CudaCtx *c, const void *cubin, CUmodule *out)
{
    *out = NULL;
    CU_CHECK(c, cuModuleLoadData(out, cubin));
    return CS_OK;
}

CudaStatus cuda_module_unload(CudaCtx *c, CUmodule m)
{
    if (m) CU_CHECK(c, cuModuleUnload(m));
    return CS_OK;
}

CudaStatus cuda_function_get(CudaCtx *c, CUmodule m, const char *name, CUfunction *out)
{
    CU_CHECK(c, cuModuleGetFunction(out, m, name));
    return CS_OK;
}

CudaStatus cuda_function_info(CudaCtx *c, CUfunction f, CudaFuncInfo *out)
{
    CU_CHECK(c, cuFuncGetAttribute(&out->registers, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
    CU_CHECK(c, cuFuncGetAttribute(&out->local_bytes, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, f));
    CU_CHECK(c, cuFuncGetAttribute(&out->static_smem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
    CU_CHECK(c, cuFuncGetAttribute(&out->max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
    CU_CHECK(c, cuFuncGetAttribute(&out->ptx_version, CU_FUNC_ATTRIBUTE_PTX_VERSION, f));
    CU_CHECK(c, cuFuncGetAttribute(&out->binary_version, CU_FUNC_ATTRIBUTE_BINARY_VERSION, f));
    return CS_OK;
}

CudaStatus cuda_function_set_smem(CudaCtx *c, CUfunction f, int bytes)
{
    CU_CHECK(c, cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    return CS_OK;
}

CudaStatus cuda_alloc(CudaCtx *c, CUdeviceptr *out, size_t bytes)
{
    *out = 0;
    if (bytes == 0) return CS_OK; /* the driver rejects 0 */
    CU_CHECK(c, cuMemAlloc(out, bytes));
    return CS_OK;
}

CudaStatus cuda_free(CudaCtx *c, CUdeviceptr p)
{
    if (p) CU_CHECK(c, cuMemFree(p));
    return CS_OK;
}

CudaStatus cuda_upload(CudaCtx *c, CUdeviceptr dst, const void *src, size_t bytes)
{
    if (bytes) CU_CHECK(c, cuMemcpyHtoD(dst, src, bytes));
    return CS_OK;
}

CudaStatus cuda_download(CudaCtx *c, void *dst, CUdeviceptr src, size_t bytes)
{
    if (bytes) CU_CHECK(c, cuMemcpyDtoH(dst, src, bytes));
    return CS_OK;
}

CudaStatus cuda_memset8(CudaCtx *c, CUdeviceptr p, unsigned char byte, size_t bytes)
{
    if (bytes) CU_CHECK(c, cuMemsetD8(p, byte, bytes));
    return CS_OK;
}

CudaStatus cuda_copy_d2d(CudaCtx *c, CUdeviceptr dst, CUdeviceptr src, size_t bytes)
{
    if (bytes) CU_CHECK(c, cuMemcpyDtoD(dst, src, bytes));
    return CS_OK;
}

CudaStatus cuda_launch(CudaCtx *c, CUfunction f, const unsigned grid[3], const unsigned block[3],
                       unsigned smem, void **params)
{
    CU_CHECK(c, cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2], smem,
                               c->stream, params, NULL));
    return CS_OK;
}

CudaStatus cuda_sync(CudaCtx *c)
{
    CU_CHECK(c, cuCtxSynchronize());
    return CS_OK;
}

CudaStatus cuda_stream_sync(CudaCtx *c)
{
    CU_CHECK(c, cuStreamSynchronize(c->stream));
    return CS_OK;
}

CudaStatus cuda_event_create(CudaCtx *c, CUevent *out)
{
    *out = NULL;
    CU_CHECK(c, cuEventCreate(out, CU_EVENT_DEFAULT));
    return CS_OK;
}

CudaStatus cuda_event_record(CudaCtx *c, CUevent e)
{
    CU_CHECK(c, cuEventRecord(e, c->stream));
    return CS_OK;
}

CudaStatus cuda_event_elapsed(CudaCtx *c, CUevent start, CUevent end, float *ms)
{
    CU_CHECK(c, cuEventSynchronize(end));
    CU_CHECK(c, cuEventElapsedTime(ms, start, end));
    return CS_OK;
}

CudaStatus cuda_event_destroy(CudaCtx *c, CUevent e)
{
    if (e) CU_CHECK(c, cuEventDestroy(e));
    return CS_OK;
}
