/*
 * lac_runtime.h: the public C API of the lac runtime (in liblac.so).
 *
 * JIT-compile a .la variant inside your program, let lac pick the block
 * sizes for your GPU (once: the choice is remembered on disk), and launch
 * its forward on your own device buffers, in fla's layout [B, T, H, D].
 *
 *     lac_context *cx;
 *     lac_variant *gla;
 *     if (lac_context_create(NULL, &cx) != LAC_OK) die(lac_last_error());
 *     if (lac_variant_load(cx, "dsl_examples/gla.la", NULL, 0, &gla) != LAC_OK) die(lac_last_error());
 *     lac_forward_args a = {...};          // inputs, o, optional states
 *     if (lac_forward(gla, &a) != LAC_OK) die(lac_last_error());
 *     lac_variant_destroy(gla);
 *     lac_context_destroy(cx);
 *
 * docs/runtime.md is the guide: caches, the tuning database, environment
 * variables, thread safety, error handling. In short:
 *   - Every function returns a lac_status; on failure lac_last_error() gives
 *     a message for the calling thread (diagnostics with file:line:col for a
 *     bad .la file, the driver's JIT log for rejected PTX). Nothing exits,
 *     aborts or prints, except the progress lines of tuning when asked for.
 *   - libcuda is loaded with dlopen when a context is created: a program
 *     linked with liblac runs on a machine without a driver and gets
 *     LAC_ERR_NO_DRIVER with a plain message.
 *   - Contexts and variants may be used from several threads at once.
 */
#ifndef LAC_RUNTIME_H
#define LAC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef LAC_API
#if defined(__GNUC__)
#define LAC_API __attribute__((visibility("default")))
#else
#define LAC_API
#endif
#endif

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

typedef enum lac_status {
    LAC_OK = 0,
    LAC_ERR_INVALID = 1,       /* a bad argument: NULL, a shape, a dtype, strides */
    LAC_ERR_SOURCE = 2,        /* the .la source has errors (the diagnostics are the message) */
    LAC_ERR_UNSUPPORTED = 3,   /* a valid variant or request that lac does not generate yet */
    LAC_ERR_IO = 4,            /* a file cannot be read or written */
    LAC_ERR_NO_DRIVER = 5,     /* no CUDA driver (libcuda.so.1) on this machine */
    LAC_ERR_NO_DEVICE = 6,     /* a driver, but no such GPU */
    LAC_ERR_JIT = 7,           /* the driver rejected the PTX (its log is in the message) */
    LAC_ERR_OUT_OF_MEMORY = 8, /* device memory */
    LAC_ERR_LAUNCH = 9,        /* a launch failed, or a kernel faulted */
    LAC_ERR_DRIVER = 10,       /* any other driver error */
    LAC_ERR_INTERNAL = 11,     /* a bug in lac: please report it with the message */
} lac_status;

/* "LAC_ERR_JIT", ...; "LAC_STATUS_UNKNOWN" for other values. */
LAC_API const char *lac_status_name(lac_status s);
/* The message of the last call that failed on this thread ("" if none). The
 * text stays valid until the next failing call on the same thread. */
LAC_API const char *lac_last_error(void);

/* ------------------------------------------------------------------------
 * Contexts: one GPU
 * ------------------------------------------------------------------------ */

typedef struct lac_context lac_context;
typedef struct lac_variant lac_variant;

/* When to autotune a shape class that the tuning database does not know. */
typedef enum lac_tune_mode {
    LAC_TUNE_DEFAULT = 0, /* from $LAC_TUNE ("0"/"never", "1"/"first", "force"); else FIRST */
    LAC_TUNE_FIRST = 1,   /* on its first call, then remembered in the database */
    LAC_TUNE_NEVER = 2,   /* the database's entry if there is one, else the default configuration */
    LAC_TUNE_FORCE = 3,   /* tune again on the first call even if the database knows it */
} lac_tune_mode;

/* Options of lac_context_create; a zeroed struct (or NULL) means defaults. */
typedef struct lac_context_options {
    int device;            /* CUDA device ordinal (default 0) */
    const char *driver;    /* the driver library (NULL: $LAC_CUDA_DRIVER, else libcuda.so.1) */
    const char *cache_dir; /* NULL: $LAC_CACHE_DIR, else $XDG_CACHE_HOME/lac, else ~/.cache/lac;
                              "" keeps nothing on disk (no kernel cache, no tuning database) */
    lac_tune_mode tune;
    int verbose;           /* 1: progress of compiles and tuning on stderr; default $LAC_VERBOSE */
} lac_context_options;

/* What lac knows about the device of a context. */
typedef struct lac_device_info {
    char name[256];        /* "NVIDIA H100 80GB HBM3" */
    int cc_major, cc_minor;
    int sm_count;
    int driver_version;    /* e.g. 13000 */
    char arch[16];         /* the PTX target lac compiles for: "sm_90a" */
    char cache_dir[1024];  /* "" when nothing is kept on disk */
} lac_device_info;

LAC_API lac_status lac_context_create(const lac_context_options *opt, lac_context **out);
/* Destroys the context (its variants must be destroyed first). NULL is ok. */
LAC_API void lac_context_destroy(lac_context *cx);
LAC_API lac_status lac_context_device(const lac_context *cx, lac_device_info *out);

/* Device memory and copies, for programs that do not use CUDA themselves
 * (the host example does not). Pointers are CUdeviceptr values. Copies are
 * synchronous; lac_synchronize waits for a stream (NULL: the default). */
LAC_API lac_status lac_device_alloc(lac_context *cx, size_t bytes, uint64_t *ptr);
LAC_API lac_status lac_device_free(lac_context *cx, uint64_t ptr); /* 0 is ok */
LAC_API lac_status lac_copy_to_device(lac_context *cx, uint64_t dst, const void *src, size_t bytes);
LAC_API lac_status lac_copy_to_host(lac_context *cx, void *dst, uint64_t src, size_t bytes);
LAC_API lac_status lac_synchronize(lac_context *cx, void *stream);

/* ------------------------------------------------------------------------
 * Variants: one .la file, compiled for the context's GPU
 * ------------------------------------------------------------------------ */

/* Load and check a variant. `sets` are "NAME=VALUE" strings, as `lac
 * compile --set`: a param of the file (K=64), or a tile setting
 * (block_v=64), which then pins that knob for tuning. Parsing and checking
 * happen here (errors: LAC_ERR_SOURCE, with the diagnostics); kernels are
 * compiled on first use, from the kernel cache when it has them. */
LAC_API lac_status lac_variant_load(lac_context *cx, const char *path, const char *const *sets, int nsets,
                                    lac_variant **out);
/* The same from text in memory; `name` is used in diagnostics. */
LAC_API lac_status lac_variant_load_source(lac_context *cx, const char *name, const char *text, size_t len,
                                           const char *const *sets, int nsets, lac_variant **out);
LAC_API void lac_variant_destroy(lac_variant *v); /* NULL is ok */

typedef enum lac_dtype { LAC_BF16 = 0, LAC_F16 = 1, LAC_F32 = 2 } lac_dtype;
/* "bf16", "f16", "f32"; NULL for other values. */
LAC_API const char *lac_dtype_name(lac_dtype t);

/* Symbolic sizes in lac_input_info.dims. */
enum { LAC_DIM_B = -1, LAC_DIM_T = -2, LAC_DIM_H = -3 };

typedef struct lac_variant_info {
    const char *name;     /* the attention block's name */
    int dk, dv;           /* key features (state rows) and value channels */
    int normalized;       /* 1: has a normalizer state z [B, H, dk] */
    int ninputs;
    lac_dtype io;         /* the dtype of o (that of v) */
    const char *decay;    /* "none", "per_head", "per_token", "per_key" */
    long nconfigs;        /* configurations in the tuning space */
    char hash[17];        /* 16 hex digits identifying source + sets */
} lac_variant_info;
LAC_API lac_status lac_variant_get_info(const lac_variant *v, lac_variant_info *out);

/* Input i, in declaration order: its name, dtype and dims, where LAC_DIM_B,
 * _T, _H stand for the call's sizes; e.g. q is {B, T, H, 128}. */
typedef struct lac_input_info {
    const char *name;
    lac_dtype dtype;
    int ndim;
    int dims[4];
} lac_input_info;
LAC_API lac_status lac_variant_input(const lac_variant *v, int i, lac_input_info *out);

/* ------------------------------------------------------------------------
 * The forward
 * ------------------------------------------------------------------------ */

/* A device tensor. `data` is a CUdeviceptr (or torch's data_ptr()). Strides
 * in elements; all zero means contiguous. The kernels read and write
 * contiguous tensors: other strides are refused with LAC_ERR_UNSUPPORTED
 * (the Python package makes tensors contiguous first). */
typedef struct lac_tensor {
    uint64_t data;
    lac_dtype dtype;
    int ndim;
    int64_t shape[4];
    int64_t strides[4];
} lac_tensor;

typedef struct lac_forward_args {
    const lac_tensor *inputs;   /* one per input, declaration order; B, T, H come from them */
    int ninputs;
    lac_tensor o;               /* [B, T, H, dv], the dtype of lac_variant_info.io */
    lac_tensor initial_state;   /* f32 [B, H, dk, dv]; data 0: start from zero */
    lac_tensor final_state;     /* f32 [B, H, dk, dv]; data 0: not written */
    lac_tensor initial_z;       /* normalized variants: f32 [B, H, dk], or data 0 */
    lac_tensor final_z;
    void *stream;               /* a CUstream; NULL: the default stream */
} lac_forward_args;

/* Launch the forward (asynchronous on `stream`). The first call of a shape
 * class may tune (see lac_tune_mode), which takes seconds once per GPU. */
LAC_API lac_status lac_forward(lac_variant *v, const lac_forward_args *a);

/* The float64 CPU reference of the forward (the oracle lac's kernels are
 * tested against), on host arrays: inputs[i] in input i's dims (row-major),
 * s0 [B, H, dk, dv] and z0 [B, H, dk] or NULL for zero; writes o [B, T, H,
 * dv], and s_final, z_final unless NULL. Needs no GPU. */
LAC_API lac_status lac_reference_forward(const lac_variant *v, int B, int T, int H, const double *const *inputs,
                                         const double *s0, const double *z0, double *o, double *s_final,
                                         double *z_final);

/* Seeded random inputs of the kind lac's tests use (section 13 of
 * docs/language.md: gates in range, normal q, k, v), float64 on the host:
 * inputs[i] must hold lac_variant_input(i)'s dims at this shape. */
LAC_API lac_status lac_random_inputs(const lac_variant *v, int B, int T, int H, uint64_t seed,
                                     double *const *inputs);

/* ------------------------------------------------------------------------
 * Tuning
 * ------------------------------------------------------------------------ */

typedef struct lac_tune_result {
    char config[160];      /* "chunk=64 subchunk=16 block_k=128 block_v=64 warps=8 stages=3 schedule=full" */
    char shape_class[64];  /* "T4096 BH64 bf16": what the choice is kept for */
    double ms;             /* its median time (0 when not timed here) */
    int from_database;     /* 1: found in the tuning database, nothing timed */
    int candidates;        /* configurations x schedules timed */
    int pruned;            /* candidates the device or the compiler ruled out */
    double seconds;        /* wall time of the whole lookup or tuning */
} lac_tune_result;

/* Choose the configuration for a shape (tuning it now unless the database
 * knows it, or `force`), on scratch inputs of that shape. */
LAC_API lac_status lac_tune(lac_variant *v, int B, int T, int H, int force, lac_tune_result *out);
/* The configuration lac_forward would use for this shape, without tuning. */
LAC_API lac_status lac_tuned_config(lac_variant *v, int B, int T, int H, lac_tune_result *out);

/* ------------------------------------------------------------------------
 * Offline compilation (no GPU, no context)
 * ------------------------------------------------------------------------ */

/* PTX of the forward kernels of a source for `arch` ("sm_80", "sm_90",
 * "sm_90a"), at the configuration given by the tile settings among `sets`
 * (else the default). On LAC_OK *ptx is a malloc'ed NUL-terminated string;
 * on LAC_ERR_SOURCE or _UNSUPPORTED lac_last_error() has the diagnostics.
 * free() the result. */
LAC_API lac_status lac_compile_ptx(const char *name, const char *text, size_t len, const char *arch,
                                   const char *const *sets, int nsets, char **ptx);

#ifdef __cplusplus
}
#endif

#endif /* LAC_RUNTIME_H */
