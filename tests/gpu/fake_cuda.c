/*
 * fake_cuda.c: libfakecuda.so, a CUDA driver that runs on the CPU, for
 * testing lac_gpu_fwd's whole path (driver table, upload, poison, launch by
 * ABI v0, download, comparison, guards, faults, bench) on machines without
 * a GPU: `LAC_CUDA_DRIVER=libfakecuda.so lac_gpu_fwd ...`.
 *
 * It exports the functions of runtime/lac_cuda.h's table under their real
 * (versioned) names, by defining them with cuda.h's prototypes. Device
 * memory is host memory; a module is accepted without reading the PTX; the
 * "kernels" are C functions for dsl_examples/linear.la (q, k, v bf16,
 * K = V = 128; block_v = 64, o bf16 unless said), one correct and some
 * wrong on purpose:
 *
 *   linear_ref    float32 recurrence, o rounded to bf16: must pass
 *   linear_skip   leaves the last token unwritten, adds 1 to o[0, 1, 0, 3]
 *   linear_oob    correct, and also writes the element before o
 *   linear_fault  correct, then the context reports an illegal address
 *   linear_naive_bv64, _bv128, _bv48_f32: the kernels of linear_naive.ptx
 *                 (block_v 64, 128, 48 with o in f32), computed as linear_ref
 *   lac_linear_fwd  what `lac compile dsl_examples/linear.la` names its
 *                 state-on-chip kernel, computed as linear_ref with the
 *                 block_v of the grid (the runtime's JIT path on the CPU);
 *                 its split kernels are not here (cuModuleGetFunction fails)
 *
 * The driver's linker "compiles" PTX to a cubin that is the PTX behind a
 * marker. Environment variables make calls fail, for the runtime's error
 * paths: LAC_FAKE_OOM (cuMemAlloc), LAC_FAKE_JIT_FAIL (cuLinkAddData, with
 * a ptxas-like log), LAC_FAKE_LAUNCH_FAIL (cuLaunchKernel), LAC_FAKE_SLOW_BV
 * (launches of that block_v take a second longer on the events' clock: the
 * tuner must not pick it).
 *
 * Launches check the ABI's grid and the dynamic shared memory limit, as the
 * driver would. Test code: obvious, not fast.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda.h>

#define API __attribute__((visibility("default")))

enum { FK_DK = 128, FK_DV = 128, FK_INPUTS = 3 };
enum { FK_REF, FK_SKIP, FK_OOB, FK_FAULT };

struct CUfunc_st {
    const char *name;
    int kind;
    int block_v;
    bool out_f32; /* o in f32 instead of bf16 */
    int max_dyn_smem;
};
/* A module has its own copy of each function it hands out, as a real
 * driver has: the shared memory limit set on one module's kernel must not
 * change another module's. */
enum { FK_NFUNCS = 16 };
struct CUmod_st {
    struct CUfunc_st funcs[FK_NFUNCS];
    bool got[FK_NFUNCS];
};
struct CUevent_st {
    double t;
};
struct CUctx_st {
    int unused;
};

static struct CUfunc_st funcs[] = {
    {"linear_ref", FK_REF, 64, false, 0},
    {"linear_skip", FK_SKIP, 64, false, 0},
    {"linear_oob", FK_OOB, 64, false, 0},
    {"linear_fault", FK_FAULT, 64, false, 0},
    /* the kernels of linear_naive.ptx, for the GPU, computed here */
    {"linear_naive_bv64", FK_REF, 64, false, 0},
    {"linear_naive_bv128", FK_REF, 128, false, 0},
    {"linear_naive_bv48_f32", FK_REF, 48, true, 0},
    {"lac_linear_fwd", FK_REF, 0, false, 0},
};
_Static_assert(sizeof funcs / sizeof funcs[0] <= FK_NFUNCS, "a module's copies: raise FK_NFUNCS");
static struct CUctx_st the_ctx;
static CUresult sticky = CUDA_SUCCESS; /* a "fault" poisons the context */
static int initialised;

/* Seconds added to what events read (LAC_FAKE_SLOW_BV). */
static double event_skew;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

API CUresult CUDAAPI cuGetErrorName(CUresult error, const char **pStr)
{
    switch (error) {
    case CUDA_SUCCESS: *pStr = "CUDA_SUCCESS"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_VALUE: *pStr = "CUDA_ERROR_INVALID_VALUE"; return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_FOUND: *pStr = "CUDA_ERROR_NOT_FOUND"; return CUDA_SUCCESS;
    case CUDA_ERROR_ILLEGAL_ADDRESS: *pStr = "CUDA_ERROR_ILLEGAL_ADDRESS"; return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_INITIALIZED: *pStr = "CUDA_ERROR_NOT_INITIALIZED"; return CUDA_SUCCESS;
    case CUDA_ERROR_OUT_OF_MEMORY: *pStr = "CUDA_ERROR_OUT_OF_MEMORY"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_PTX: *pStr = "CUDA_ERROR_INVALID_PTX"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_IMAGE: *pStr = "CUDA_ERROR_INVALID_IMAGE"; return CUDA_SUCCESS;
    case CUDA_ERROR_LAUNCH_FAILED: *pStr = "CUDA_ERROR_LAUNCH_FAILED"; return CUDA_SUCCESS;
    default: *pStr = NULL; return CUDA_ERROR_INVALID_VALUE;
    }
}

API CUresult CUDAAPI cuGetErrorString(CUresult error, const char **pStr)
{
    const char *name;
    if (cuGetErrorName(error, &name) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
    *pStr = "reported by the fake driver";
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuInit(unsigned int Flags)
{
    if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
    initialised = 1;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDriverGetVersion(int *driverVersion)
{
    *driverVersion = CUDA_VERSION;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDeviceGetCount(int *count)
{
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    *count = 1;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal)
{
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice dev)
{
    (void)dev;
    snprintf(name, (size_t)len, "lac fake CPU device");
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    (void)dev;
    switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 4; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *pi = 227 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *pi = 50 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return CUDA_ERROR_INVALID_VALUE; /* optional */
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *pi = 5120; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice dev)
{
    (void)dev;
    *bytes = (size_t)80 << 30;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    (void)dev;
    *pctx = &the_ctx;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev)
{
    (void)dev;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx)
{
    return ctx == &the_ctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

API CUresult CUDAAPI cuCtxSynchronize(void) { return sticky; }

API CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                        CUjit_option *options, void **optionValues)
{
    if (!image || !strstr(image, ".entry")) return CUDA_ERROR_INVALID_PTX;
    for (unsigned i = 0; i < numOptions; i++) {
        if (options[i] == CU_JIT_INFO_LOG_BUFFER)
            snprintf(optionValues[i], 64, "fake JIT: nothing compiled");
        if (options[i] == CU_JIT_WALL_TIME) {
            float ms = 0.25f;
            memcpy(&optionValues[i], &ms, sizeof ms);
        }
    }
    *module = calloc(1, sizeof **module);
    return *module ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

static const char cubin_magic[] = "FAKECUBIN\n";

API CUresult CUDAAPI cuModuleLoadData(CUmodule *module, const void *image)
{
    if (!image || strncmp(image, cubin_magic, strlen(cubin_magic)) != 0) return CUDA_ERROR_INVALID_IMAGE;
    *module = calloc(1, sizeof **module);
    return *module ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

struct CUlinkState_st {
    char *image;
    char *error_log;
    size_t error_size;
    float *wall;
};

API CUresult CUDAAPI cuLinkCreate(unsigned int numOptions, CUjit_option *options, void **optionValues,
                                  CUlinkState *stateOut)
{
    struct CUlinkState_st *ls = calloc(1, sizeof *ls);
    if (!ls) return CUDA_ERROR_OUT_OF_MEMORY;
    for (unsigned i = 0; i < numOptions; i++) {
        if (options[i] == CU_JIT_INFO_LOG_BUFFER) snprintf(optionValues[i], 64, "fake JIT: nothing compiled");
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER) ls->error_log = optionValues[i];
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) ls->error_size = (size_t)(uintptr_t)optionValues[i];
        if (options[i] == CU_JIT_WALL_TIME) {
            float ms = 0.5f;
            memcpy(&optionValues[i], &ms, sizeof ms);
        }
    }
    *stateOut = ls;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size,
                                   const char *name, unsigned int numOptions, CUjit_option *options,
                                   void **optionValues)
{
    (void)name, (void)numOptions, (void)options, (void)optionValues;
    if (type != CU_JIT_INPUT_PTX || !data || size == 0) return CUDA_ERROR_INVALID_VALUE;
    if (getenv("LAC_FAKE_JIT_FAIL") || !strstr(data, ".entry")) {
        if (state->error_log && state->error_size)
            snprintf(state->error_log, state->error_size, "ptxas fatal   : fake: the PTX has no .entry or "
                                                          "LAC_FAKE_JIT_FAIL is set");
        return CUDA_ERROR_INVALID_PTX;
    }
    free(state->image);
    state->image = malloc(strlen(cubin_magic) + size);
    if (!state->image) return CUDA_ERROR_OUT_OF_MEMORY;
    memcpy(state->image, cubin_magic, strlen(cubin_magic));
    memcpy(state->image + strlen(cubin_magic), data, size);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)
{
    if (!state->image) return CUDA_ERROR_INVALID_VALUE;
    *cubinOut = state->image;
    *sizeOut = strlen(state->image) + 1;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuLinkDestroy(CUlinkState state)
{
    free(state->image);
    free(state);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    if (!hmod) return CUDA_ERROR_INVALID_HANDLE;
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0] && i < FK_NFUNCS; i++) {
        if (strcmp(funcs[i].name, name) == 0) {
            if (!hmod->got[i]) {
                hmod->funcs[i] = funcs[i];
                hmod->got[i] = true;
            }
            *hfunc = &hmod->funcs[i];
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

API CUresult CUDAAPI cuModuleUnload(CUmodule hmod)
{
    free(hmod);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    if (attrib != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || value < 0 || value > 227 * 1024)
        return CUDA_ERROR_INVALID_VALUE;
    hfunc->max_dyn_smem = value;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    (void)hfunc;
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 40; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 80; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuMemAlloc(CUdeviceptr *dptr, size_t bytesize)
{
    if (bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    if (getenv("LAC_FAKE_OOM")) return CUDA_ERROR_OUT_OF_MEMORY;
    void *p = malloc(bytesize);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    *dptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuMemFree(CUdeviceptr dptr)
{
    free((void *)(uintptr_t)dptr);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    if (sticky) return sticky;
    memcpy((void *)(uintptr_t)dstDevice, srcHost, ByteCount);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuMemcpyDtoH(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    if (sticky) return sticky;
    memcpy(dstHost, (const void *)(uintptr_t)srcDevice, ByteCount);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    if (sticky) return sticky;
    memmove((void *)(uintptr_t)dstDevice, (const void *)(uintptr_t)srcDevice, ByteCount);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    if (hStream) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemAlloc(dptr, bytesize);
}

API CUresult CUDAAPI cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    if (hStream) return CUDA_ERROR_INVALID_HANDLE;
    return cuMemFree(dptr);
}

/* One block an SM, or none when the block cannot launch at all. */
API CUresult CUDAAPI cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                                 size_t dynamicSMemSize)
{
    (void)func;
    *numBlocks = blockSize > 0 && blockSize <= 1024 && dynamicSMemSize <= 227 * 1024 ? 1 : 0;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuStreamSynchronize(CUstream hStream)
{
    if (hStream) return CUDA_ERROR_INVALID_HANDLE;
    return sticky;
}

API CUresult CUDAAPI cuMemsetD8(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    if (sticky) return sticky;
    memset((void *)(uintptr_t)dstDevice, uc, N);
    return CUDA_SUCCESS;
}

static float bf16_load(CUdeviceptr base, size_t i)
{
    uint16_t h;
    memcpy(&h, (const char *)(uintptr_t)base + 2 * i, 2);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void bf16_store(CUdeviceptr base, ptrdiff_t i, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t h = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16); /* finite values only */
    memcpy((char *)(uintptr_t)base + 2 * i, &h, 2);
}

/* One block of the ABI v0 grid: value columns [j0, j1) of (b, h). */
static void linear_block(const struct CUfunc_st *f, CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, CUdeviceptr o,
                         CUdeviceptr s0, CUdeviceptr sf, int B, int T, int H, int b, int h, int j0,
                         int j1)
{
    (void)B;
    int kind = f->kind;
    static _Thread_local float S[FK_DK][FK_DV]; /* launches may come from several threads */
    const float scale = 1 / sqrtf((float)FK_DK);
    size_t bh = (size_t)b * H + h;
    for (int i = 0; i < FK_DK; i++)
        for (int j = j0; j < j1; j++) {
            float x = 0;
            if (s0) memcpy(&x, (const char *)(uintptr_t)s0 + 4 * ((bh * FK_DK + i) * FK_DV + j), 4);
            S[i][j] = x;
        }
    for (int t = 0; t < T; t++) {
        size_t tok = ((size_t)b * T + t) * H + h;
        for (int i = 0; i < FK_DK; i++) {
            float ki = bf16_load(k, tok * FK_DK + i);
            for (int j = j0; j < j1; j++) S[i][j] += ki * bf16_load(v, tok * FK_DV + j);
        }
        if (kind == FK_SKIP && t == T - 1) continue;
        for (int j = j0; j < j1; j++) {
            float acc = 0;
            for (int i = 0; i < FK_DK; i++) acc += bf16_load(q, tok * FK_DK + i) * S[i][j];
            acc *= scale;
            if (kind == FK_SKIP && b == 0 && t == 1 && h == 0 && j == 3) acc += 1;
            if (f->out_f32)
                memcpy((char *)(uintptr_t)o + 4 * (tok * FK_DV + (size_t)j), &acc, 4);
            else
                bf16_store(o, (ptrdiff_t)(tok * FK_DV + (size_t)j), acc);
        }
    }
    if (kind == FK_OOB && b == 0 && h == 0 && j0 == 0) bf16_store(o, -1, 1.0f);
    if (sf)
        for (int i = 0; i < FK_DK; i++)
            for (int j = j0; j < j1; j++)
                memcpy((char *)(uintptr_t)sf + 4 * ((bh * FK_DK + i) * FK_DV + j), &S[i][j], 4);
}

API CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                    unsigned int gridDimZ, unsigned int blockDimX,
                                    unsigned int blockDimY, unsigned int blockDimZ,
                                    unsigned int sharedMemBytes, CUstream hStream,
                                    void **kernelParams, void **extra)
{
    if (sticky) return sticky;
    if (getenv("LAC_FAKE_LAUNCH_FAIL")) return CUDA_ERROR_LAUNCH_FAILED;
    if (hStream || extra || !kernelParams || gridDimZ != 1 || blockDimY != 1 || blockDimZ != 1 ||
        blockDimX == 0 || blockDimX > 1024)
        return CUDA_ERROR_INVALID_VALUE;
    /* Above 48 KiB, dynamic shared memory must have been allowed first. */
    if (sharedMemBytes > 48 * 1024 && (int)sharedMemBytes > f->max_dyn_smem)
        return CUDA_ERROR_INVALID_VALUE;
    CUdeviceptr p[FK_INPUTS + 3];
    int32_t dims[3];
    for (int i = 0; i < FK_INPUTS + 3; i++) memcpy(&p[i], kernelParams[i], sizeof p[i]);
    for (int i = 0; i < 3; i++) memcpy(&dims[i], kernelParams[FK_INPUTS + 3 + i], sizeof dims[i]);
    int B = dims[0], T = dims[1], H = dims[2];
    /* A generated kernel's block_v is that of its grid. */
    int bv = f->block_v ? f->block_v : gridDimX ? (int)((FK_DV + gridDimX - 1) / gridDimX) : 1;
    if (gridDimX != (unsigned)(FK_DV + bv - 1) / (unsigned)bv || (long)gridDimY != (long)B * H)
        return CUDA_ERROR_INVALID_VALUE; /* not the grid of ABI v0 */
    const char *slow = getenv("LAC_FAKE_SLOW_BV");
    /* A second on the events' clock, not a sleep: a CPU busy with other
     * tests stretches the kernels themselves far more than milliseconds. */
    if (slow && atoi(slow) == bv) event_skew += 1.0;
    for (unsigned y = 0; y < gridDimY; y++)
        for (unsigned x = 0; x < gridDimX; x++) {
            int j0 = (int)x * bv, j1 = j0 + bv < FK_DV ? j0 + bv : FK_DV;
            linear_block(f, p[0], p[1], p[2], p[3], p[4], p[5], B, T, H, (int)y / H,
                         (int)y % H, j0, j1);
        }
    if (f->kind == FK_FAULT) sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    (void)Flags;
    *phEvent = calloc(1, sizeof **phEvent);
    return *phEvent ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

API CUresult CUDAAPI cuEventRecord(CUevent hEvent, CUstream hStream)
{
    if (hStream) return CUDA_ERROR_INVALID_VALUE;
    hEvent->t = now() + event_skew;
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuEventSynchronize(CUevent hEvent)
{
    (void)hEvent;
    return sticky;
}

API CUresult CUDAAPI cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    *pMilliseconds = (float)((hEnd->t - hStart->t) * 1e3);
    return CUDA_SUCCESS;
}

API CUresult CUDAAPI cuEventDestroy(CUevent hEvent)
{
    free(hEvent);
    return CUDA_SUCCESS;
}
