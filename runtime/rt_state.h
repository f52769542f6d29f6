/*
 * rt_state.h: the runtime's objects behind the public handles of
 * lac_runtime.h, shared by its two files in liblac.so:
 *
 *   api.c       contexts, variants, errors, kernel modules (compile, cache,
 *               JIT), argument checks, the launch
 *   autotune.c  shape classes, candidates, timing, the tuning database
 *
 * Locking: a context's `mu` guards its scratch buffers; a variant's `mu`
 * guards its modules and its table of choices (held for the whole of a
 * tuning run, so one thread tunes a shape class and the others wait for
 * its answer). Driver calls are made on a per-call copy of the context's
 * CudaCtx (rt_cuda), whose error slot and stream are the caller's own.
 */
#ifndef LAC_RT_STATE_H
#define LAC_RT_STATE_H

#include <pthread.h>

#include "lac_cuda.h"
#include "lac_internal.h"
#include "lac_runtime.h"
#include "rt_internal.h"

/* The most configurations of a tuning space the runtime considers. */
enum { RT_MAX_CONFIGS = 64 };
/* The most inputs of a variant (ABI v0 passes a pointer each, within
 * KERNEL_MAX_PARAMS). */
enum { RT_MAX_INPUTS = KERNEL_MAX_PARAMS - 16 };

struct lac_context {
    CudaCtx cu;                /* the driver table, device and primary context */
    pthread_mutex_t mu;
    char arch[16];             /* sm_80, sm_90, sm_90a */
    char cache_dir[1024];      /* "" for none */
    char llvm[32];             /* LLVM's version, part of every cache key */
    lac_tune_mode tune;
    int verbose;
    CUdeviceptr flush;         /* the tuner's L2 flush buffer */
    size_t flush_bytes;
};

typedef enum RtSched { RT_SCHED_FULL, RT_SCHED_SPLIT } RtSched;
const char *rt_sched_name(RtSched s);

/* One configuration of a variant, compiled and loaded (or why not). */
typedef struct RtModule {
    KernelConfig kc;
    int state;                 /* 0 not built, 1 ready, -1 failed */
    lac_status fail_status;
    char *why;                 /* malloc'ed, when failed */
    CUmodule mod;
    CUfunction fn[3];          /* by KernelKind; NULL when the module lacks it */
    KernelMeta meta[3];
    int registers[3];
    int per_sm[3];             /* blocks a multiprocessor holds (the driver's occupancy) */
    double build_ms;           /* compile + JIT (or cache load) */
    double compile_ms, jit_ms; /* of it: the PTX (compiled or from the cache), the driver's JIT; 0 on a cubin hit */
    const char *source;        /* "compiled", "ptx cache", "cubin cache" */
} RtModule;

/* What runs for one shape class. */
typedef struct RtChoice {
    char shape_class[64];
    int config;                /* index into lac_variant.mods */
    RtSched sched;
    double ms;
    bool from_db;
} RtChoice;

struct lac_variant {
    lac_context *cx;
    pthread_mutex_t mu;
    Arena arena;               /* the source text, the Variant, the sets */
    SrcFile src;
    CompileSets sets;
    char *sets_text;           /* the sets joined by newlines, for hashing */
    Variant *v;
    char hash[65];             /* SHA-256 of source + sets (the tuning database's key) */
    int nconfigs;
    RtModule mods[RT_MAX_CONFIGS];
    RtChoice *choices;
    int nchoices, capchoices;
};

/* ---- api.c, for autotune.c */

/* Record a message for lac_last_error() and return st. */
lac_status rt_fail(lac_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A driver failure in c->err as a lac_status and message, prefixed by `what`. */
lac_status rt_cuda_fail(const CudaCtx *c, CudaStatus st, const char *what);
/* A copy of the context's CudaCtx for this call: own error slot, `stream`,
 * and the primary context made current on this thread. */
lac_status rt_cuda(lac_context *cx, void *stream, CudaCtx *out);
/* Build configuration i (cache, compile, JIT) if not tried yet; on return
 * lv->mods[i].state is 1 or -1. Thread-safe for distinct i (the caller
 * holds lv->mu). */
void rt_module_build(lac_variant *lv, int i, CudaCtx *c);
/* Launch the forward with configuration i and schedule s. ws/ws_bytes is a
 * split workspace the caller provides (0: allocated on the stream). */
lac_status rt_launch(lac_variant *lv, CudaCtx *c, int i, RtSched s, const FwdArgs *a, CUdeviceptr ws,
                     size_t ws_bytes);
/* Whether configuration i can run schedule s for this shape. */
bool rt_sched_ok(const lac_variant *lv, int i, RtSched s, int B, int T, int H, int sms);
/* Progress lines on stderr when the context is verbose. */
void rt_say(const lac_context *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double rt_now(void);

/* ---- autotune.c, for api.c */

/* The choice for a shape: the table, else the database, else tune (by the
 * context's mode; force tunes in any case), else the default. Called with
 * lv->mu held. */
lac_status rt_choose(lac_variant *lv, CudaCtx *c, int B, int T, int H, bool force, bool may_tune,
                     RtChoice *out, lac_tune_result *res);

#endif /* LAC_RT_STATE_H */
