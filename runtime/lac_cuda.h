/*
 * lac_cuda.h: the internal header of the lac runtime's launch path.
 *
 * Two components, in the order a launch needs them:
 *   cuda      (cuda.c)   the CUDA Driver API, loaded at run time with dlopen,
 *                        every call checked by one macro (CU_CHECK)
 *   kernel ABI (launch.c) the lac-kernel comment of the generated PTX, the
 *                        parameter list of its .entry, and the launch of a
 *                        forward kernel by the ABI v0 (docs/design.md, 8)
 *
 * The driver is dlopen'ed, not linked: the same build runs on a machine
 * without a GPU (which gets CS_NO_DRIVER and a message, never a loader
 * error) and on the GPU machine, whose libcuda.so.1 may live anywhere on the
 * library path. Nothing here exits or prints: every function returns a
 * CudaStatus and leaves the first error in the context (CudaError).
 */
#ifndef LAC_CUDA_H
#define LAC_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda.h>

/* ========================================================================
 * cuda (cuda.c): the driver, one checking macro, thin wrappers
 * ======================================================================== */

typedef enum CudaStatus {
    CS_OK = 0,
    CS_NO_DRIVER, /* no libcuda.so.1, or the toolkit's stub library */
    CS_NO_DEVICE, /* a driver, but no (such) GPU */
    CS_DRIVER,    /* a driver call failed (see CudaError) */
    CS_INVALID,   /* a request the kernel or the device cannot honour */
} CudaStatus;

/* The first error since cuda_open or cuda_error_clear. */
typedef struct CudaError {
    CudaStatus status;
    CUresult cu;       /* CUDA_SUCCESS when no driver call failed */
    const char *file;  /* where the failing call is written */
    int line;
    const char *call;  /* its text, e.g. "cuMemAlloc(&p, bytes)" */
    char name[64];     /* "CUDA_ERROR_OUT_OF_MEMORY" */
    char msg[1024];    /* everything above as one line, ready to print */
} CudaError;

/* Every driver function we use, by its name in cuda.h. The header maps some
 * names to versioned symbols (cuMemAlloc -> cuMemAlloc_v2, cuEventElapsedTime
 * -> cuEventElapsedTime_v2): the table's members are declared through the
 * same macros, so each is looked up by the real exported name and has the
 * prototype of that version. */
#define CUDA_API_FUNCS(X)                                                           \
    X(cuGetErrorName) X(cuGetErrorString) X(cuInit) X(cuDriverGetVersion)           \
    X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetAttribute)   \
    X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease)    \
    X(cuCtxSetCurrent) X(cuCtxSynchronize) X(cuModuleLoadDataEx)                    \
    X(cuModuleGetFunction) X(cuModuleUnload) X(cuFuncSetAttribute)                  \
    X(cuFuncGetAttribute) X(cuMemAlloc) X(cuMemFree) X(cuMemcpyHtoD)               \
    X(cuMemcpyDtoH) X(cuMemsetD8) X(cuLaunchKernel) X(cuEventCreate)                \
    X(cuEventRecord) X(cuEventSynchronize) X(cuEventElapsedTime) X(cuEventDestroy)       \
    X(cuLinkCreate) X(cuLinkAddData) X(cuLinkComplete) X(cuLinkDestroy)                 \
    X(cuModuleLoadData) X(cuMemcpyDtoD) X(cuStreamSynchronize) X(cuMemAllocAsync) X(cuMemFreeAsync)   \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessor)

typedef struct CudaApi {
#define CUDA_API_MEMBER(f) __typeof__(f) *f;
    CUDA_API_FUNCS(CUDA_API_MEMBER)
#undef CUDA_API_MEMBER
} CudaApi;

/* One device, its primary context, and the driver it came from. */
typedef struct CudaCtx {
    void *lib;            /* the dlopen handle */
    char lib_name[256];   /* the name it was opened by */
    CudaApi api;
    CUdevice dev;
    CUcontext ctx;        /* the primary context, retained; NULL until then */
    int ordinal;
    int driver_version;   /* e.g. 13000 */
    char name[256];       /* "NVIDIA H100 80GB HBM3" */
    int cc_major, cc_minor;
    int sm_count;
    int max_threads_per_block;
    int smem_optin;       /* largest dynamic + static shared memory a block may opt in to */
    int l2_bytes;
    double peak_gbps;     /* from memory clock and bus width; 0 when unknown */
    size_t total_mem;
    /* The stream of launches, copies and events (NULL: the default stream).
     * Callers that share a context between threads work on a copy of the
     * CudaCtx (its table and handles are shared; err and stream are not). */
    CUstream stream;
    CudaError err;
} CudaCtx;

/* Check a driver call: `CU_CHECK(c, cuMemAlloc(&p, n));` calls c->api's
 * cuMemAlloc_v2 and, when it fails, records file, line, the call's text and
 * the driver's error name in c->err and returns the status from the
 * enclosing function (which must return CudaStatus). */
#define CU_CHECK(c, call)                                                           \
    do {                                                                            \
        CUresult cu_check_rc_ = (c)->api.call;                                      \
        if (cu_check_rc_ != CUDA_SUCCESS)                                           \
            return cuda_fail((c), cu_check_rc_, __FILE__, __LINE__, #call);         \
    } while (0)

/* Record a failed driver call (the first error is kept) and return its
 * status: CS_NO_DEVICE for CUDA_ERROR_NO_DEVICE, CS_NO_DRIVER for the stub
 * library, CS_DRIVER otherwise. */
CudaStatus cuda_fail(CudaCtx *c, CUresult rc, const char *file, int line, const char *call);
/* Record an error that is not a driver call (the first error is kept). */
CudaStatus cuda_error(CudaCtx *c, CudaStatus st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cuda_error_clear(CudaCtx *c);
const char *cuda_status_name(CudaStatus st);

/* Load the driver (`driver`, or NULL for "libcuda.so.1", then "libcuda.so",
 * then the usual absolute paths of libcuda.so.1),
 * initialise it, retain the primary context of device `ordinal` and make it
 * current; fills the device fields. Without a driver: CS_NO_DRIVER and the
 * message "no CUDA driver (libcuda.so.1 not found): ...". Call cuda_close
 * afterwards whatever this returns: it releases what was acquired. */
CudaStatus cuda_open(CudaCtx *c, int ordinal, const char *driver);
/* Release the primary context and unload the driver; keeps c->err. */
void cuda_close(CudaCtx *c);

/* The logs of one JIT compilation (PTX -> SASS by the driver). */
typedef struct CudaJitLog {
    char info[16384];  /* with verbose on: registers, spills per kernel */
    char error[16384]; /* ptxas' messages when loading fails */
    float wall_ms;     /* the driver's compile time */
} CudaJitLog;

/* JIT-compile NUL-terminated PTX text into a module; the logs are filled
 * whether it succeeds or not (log may be NULL). */
CudaStatus cuda_module_load(CudaCtx *c, const char *ptx, CUmodule *out, CudaJitLog *log);
CudaStatus cuda_module_unload(CudaCtx *c, CUmodule m); /* m may be NULL */
/* JIT-compile PTX to a cubin through the driver's linker (what a kernel
 * cache keeps): *cubin is malloc'ed (free it), the logs as above. */
CudaStatus cuda_ptx_to_cubin(CudaCtx *c, const char *ptx, void **cubin, size_t *size, CudaJitLog *log);
/* Load a cubin (from cuda_ptx_to_cubin or a cache): no compilation. */
CudaStatus cuda_module_load_cubin(CudaCtx *c, const void *cubin, CUmodule *out);
CudaStatus cuda_function_get(CudaCtx *c, CUmodule m, const char *name, CUfunction *out);

/* What the JIT made of one kernel. */
typedef struct CudaFuncInfo {
    int registers;        /* per thread */
    int local_bytes;      /* per thread: spills and local arrays */
    int static_smem;      /* bytes of __shared__ declared in the kernel */
    int max_threads;      /* the most threads per block it can launch with */
    int ptx_version, binary_version; /* e.g. 90 */
} CudaFuncInfo;
CudaStatus cuda_function_info(CudaCtx *c, CUfunction f, CudaFuncInfo *out);
/* Allow `bytes` of dynamic shared memory (needed above 48 KiB). */
CudaStatus cuda_function_set_smem(CudaCtx *c, CUfunction f, int bytes);

/* Device memory. cuda_alloc of 0 bytes gives 0; cuda_free(0) does nothing. */
CudaStatus cuda_alloc(CudaCtx *c, CUdeviceptr *out, size_t bytes);
CudaStatus cuda_free(CudaCtx *c, CUdeviceptr p);
CudaStatus cuda_upload(CudaCtx *c, CUdeviceptr dst, const void *src, size_t bytes);
CudaStatus cuda_download(CudaCtx *c, void *dst, CUdeviceptr src, size_t bytes);
CudaStatus cuda_memset8(CudaCtx *c, CUdeviceptr p, unsigned char byte, size_t bytes);
CudaStatus cuda_copy_d2d(CudaCtx *c, CUdeviceptr dst, CUdeviceptr src, size_t bytes);

/* Launch on c->stream; asynchronous, so a fault in the kernel is reported
 * by the next cuda_sync. */
CudaStatus cuda_launch(CudaCtx *c, CUfunction f, const unsigned grid[3], const unsigned block[3],
                       unsigned smem, void **params);
CudaStatus cuda_sync(CudaCtx *c);        /* the whole context */
CudaStatus cuda_stream_sync(CudaCtx *c); /* c->stream */

/* Events on c->stream, for timing. */
CudaStatus cuda_event_create(CudaCtx *c, CUevent *out);
CudaStatus cuda_event_record(CudaCtx *c, CUevent e);
/* Waits for `end`, then gives the milliseconds between the two events. */
CudaStatus cuda_event_elapsed(CudaCtx *c, CUevent start, CUevent end, float *ms);
CudaStatus cuda_event_destroy(CudaCtx *c, CUevent e); /* e may be NULL */

/* ========================================================================
 * kernel ABI (launch.c): what the code generator promises, ABI v0
 * ======================================================================== */

/* Element types of the kernel's o (and of inputs, by their declared dtype). */
typedef enum KernelDType { KDT_BF16, KDT_F16, KDT_F32 } KernelDType;
const char *kernel_dtype_name(KernelDType t);
int kernel_dtype_size(KernelDType t);

#define KERNEL_NAME_MAX 128
/* Inputs of a variant plus o, s0, s_final, z0, z_final, B, T, H, ws, seglen. */
#define KERNEL_MAX_PARAMS 256

/* The kernels of a forward: the state on chip, and the two passes of the
 * sequence split (docs/design.md section 8). */
typedef enum KernelKind { KK_FULL, KK_SPLIT_STATE, KK_SPLIT_OUT } KernelKind;
const char *kernel_kind_name(KernelKind k);
/* The driver's limit on gridDim.y, which ABI v0 fills with B * H. */
#define KERNEL_MAX_GRID_Y 65535

/* One kernel of a PTX module, from its comment line
 *   // lac-kernel name=NAME threads=N smem=BYTES block_v=BV dk=DK dv=DV io=bf16|f16|f32
 *      [norm=0|1] [kind=full|split_state|split_out] [chunk=C]
 * and from the parameter list of its `.entry NAME(...)`. */
typedef struct KernelMeta {
    char name[KERNEL_NAME_MAX];
    int threads;      /* block size */
    int smem;         /* dynamic shared memory, bytes */
    int block_v;      /* value channels per block: grid.x = ceil(dv / block_v) */
    int dk, dv;       /* key features and value channels it was generated for */
    KernelDType io;   /* the dtype of o */
    int norm;         /* 1: normalized, with z0 and z_final after s_final (default 0) */
    KernelKind kind;  /* default full */
    int chunk;        /* tokens per chunk (default 64): segments are multiples of it */
    int line;         /* of the comment in the PTX, 1-based */
    int nparams;      /* of the .entry */
    int param_bytes[KERNEL_MAX_PARAMS];
} KernelMeta;

/* Parse one comment line (the text after "// lac-kernel", or the whole line
 * with it): false with a message in err when a key is missing, repeated or
 * out of range. Unknown keys are ignored, so a later ABI can add some.
 * The .entry fields (nparams) are left 0. */
bool kernel_meta_parse_line(const char *line, size_t len, KernelMeta *m, char *err, size_t errlen);
/* Find every lac-kernel comment in `ptx` and the .entry of each; returns the
 * number found (at most max; 0 when there is none) or -1 with a message. */
int kernel_meta_parse(const char *ptx, KernelMeta *out, int max, char *err, size_t errlen);
/* Check that the .entry's parameters are those of the kernel ABI for a
 * variant with `ninputs` inputs: ninputs + 3 pointers (8 bytes), two more
 * when normalized, then 3 int32; split kernels end with a pointer and an
 * int32. */
bool kernel_meta_check_abi(const KernelMeta *m, int ninputs, char *err, size_t errlen);

/* The arguments of one forward launch. Device pointers; 0 for no state. */
typedef struct FwdArgs {
    const CUdeviceptr *inputs; /* one per Variant input, declaration order */
    int ninputs;
    CUdeviceptr o;             /* [B, T, H, dv], io dtype */
    CUdeviceptr s0;            /* f32 [B, H, dk, dv], or 0 */
    CUdeviceptr s_final;       /* f32 [B, H, dk, dv], or 0 */
    CUdeviceptr z0, z_final;   /* f32 [B, H, dk] of normalized variants, or 0 */
    int B, T, H;
    /* The sequence split (split kernels only): the state pass's nseg
     * segments of seglen tokens, the workspace ws of fwd_split_ws_bytes
     * bytes, and the output pass's nout segments (0: nseg) of
     * grp = ceil(nseg / nout) state segments each. The state pass runs the
     * (nout - 1) * grp segments that an output block reads. */
    CUdeviceptr ws;
    int nseg, seglen, nout;
} FwdArgs;

/* The grid: (ceil(dv / block_v), B * H, segments): 1 for the state on
 * chip, nout for the output pass, (nout - 1) * grp for the state pass (0:
 * nothing to launch); nout 0 is nseg. */
void fwd_grid(const KernelMeta *m, int B, int H, int nseg, int nout, unsigned grid[3]);
/* A sequence split of T tokens on `sms` multiprocessors that hold
 * per_sm[0] blocks of the state pass and per_sm[1] of the output pass
 * (fwd_prepare; 0: one). Output segments: `want_out`, or (0) as many as
 * fill one wave, since a second wave costs as much as the first; each of
 * at least 4 chunks. State segments: `want_seg`, or (0) by a cost model of
 * the state pass's waves against the records the last output block
 * combines (at most 8 to an output segment, each of at least 4 chunks). */
void fwd_split_plan(const KernelMeta *m, int B, int T, int H, int sms, const int per_sm[2], int want_out,
                    int want_seg, int *nseg, int *seglen, int *nout);
/* Bytes of the split's workspace: per (b, h, segment) the segment's state,
 * its normalizer and its total log decay, f32. */
size_t fwd_split_ws_bytes(const KernelMeta *m, int B, int H, int nseg);
/* Once per function: check the block size and shared memory against what
 * the JIT and the device allow, set the dynamic shared memory limit, and
 * give the blocks a multiprocessor holds at once (the driver's occupancy). */
CudaStatus fwd_prepare(CudaCtx *c, CUfunction f, const KernelMeta *m, int *per_sm);
/* Launch one forward kernel (asynchronous; cuda_sync reports faults). */
CudaStatus fwd_launch(CudaCtx *c, CUfunction f, const KernelMeta *m, const FwdArgs *a);

#endif /* LAC_CUDA_H */
