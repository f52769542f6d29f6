/*
 * api.c: the public C API of the runtime (lac_runtime.h): contexts,
 * variants, their kernel modules, argument checks and the launch.
 *
 * A module (one configuration of a variant) comes from, in this order:
 *   1. the cubin cache   (key: the PTX key + the GPU, its driver)
 *   2. the PTX cache     (key: lac, LLVM, arch, source, sets, configuration)
 *      then the driver's JIT, whose cubin goes into the cubin cache
 *   3. the compiler, in process, whose PTX goes into the PTX cache
 * so a warm start loads a cubin and never compiles. A corrupt entry is
 * removed and rebuilt (cache.c checks every read).
 *
 * Errors: every entry point returns a lac_status and leaves its message in
 * a thread-local buffer (lac_last_error). Nothing prints, except progress
 * lines when the context is verbose.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_state.h"

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static _Thread_local char rt_error[16384];

LAC_API const char *lac_last_error(void) { return rt_error; }

LAC_API const char *lac_status_name(lac_status s)
{
    switch (s) {
    case LAC_OK: return "LAC_OK";
    case LAC_ERR_INVALID: return "LAC_ERR_INVALID";
    case LAC_ERR_SOURCE: return "LAC_ERR_SOURCE";
    case LAC_ERR_UNSUPPORTED: return "LAC_ERR_UNSUPPORTED";
    case LAC_ERR_IO: return "LAC_ERR_IO";
    case LAC_ERR_NO_DRIVER: return "LAC_ERR_NO_DRIVER";
    case LAC_ERR_NO_DEVICE: return "LAC_ERR_NO_DEVICE";
    case LAC_ERR_JIT: return "LAC_ERR_JIT";
    case LAC_ERR_OUT_OF_MEMORY: return "LAC_ERR_OUT_OF_MEMORY";
    case LAC_ERR_LAUNCH: return "LAC_ERR_LAUNCH";
    case LAC_ERR_DRIVER: return "LAC_ERR_DRIVER";
    case LAC_ERR_INTERNAL: return "LAC_ERR_INTERNAL";
    }
    return "LAC_STATUS_UNKNOWN";
}

lac_status rt_fail(lac_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt_error, sizeof rt_error, fmt, ap);
    va_end(ap);
    return st;
}

static lac_status status_of_cu(CUresult cu)
{
    switch (cu) {
    case CUDA_ERROR_OUT_OF_MEMORY: return LAC_ERR_OUT_OF_MEMORY;
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND: return LAC_ERR_JIT;
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_HARDWARE_STACK_ERROR: return LAC_ERR_LAUNCH;
    default: return LAC_ERR_DRIVER;
    }
}

lac_status rt_cuda_fail(const CudaCtx *c, CudaStatus st, const char *what)
{
    lac_status ls = st == CS_NO_DRIVER   ? LAC_ERR_NO_DRIVER
                    : st == CS_NO_DEVICE ? LAC_ERR_NO_DEVICE
                    : st == CS_INVALID   ? LAC_ERR_INVALID
                                         : status_of_cu(c->err.cu);
    return rt_fail(ls, "%s: %s", what, c->err.msg[0] ? c->err.msg : cuda_status_name(st));
}

void rt_say(const lac_context *cx, const char *fmt, ...)
{
    if (!cx->verbose) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("lac: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

double rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Contexts
 * ------------------------------------------------------------------------ */

static lac_tune_mode tune_mode_env(void)
{
    const char *e = getenv("LAC_TUNE");
    if (!e || !e[0]) return LAC_TUNE_FIRST;
    if (strcmp(e, "0") == 0 || strcmp(e, "never") == 0) return LAC_TUNE_NEVER;
    if (strcmp(e, "force") == 0) return LAC_TUNE_FORCE;
    return LAC_TUNE_FIRST;
}

/* The PTX target for a compute capability; false below sm_80. Newer GPUs
 * get sm_90 PTX, which their driver compiles (sm_90a is Hopper's only). */
static bool arch_for(int major, int minor, char *out, size_t n)
{
    (void)minor;
    if (major < 8) return false;
    snprintf(out, n, "%s", major == 8 ? "sm_80" : major == 9 ? "sm_90a" : "sm_90");
    return true;
}

LAC_API lac_status lac_context_create(const lac_context_options *opt, lac_context **out)
{
    if (!out) return rt_fail(LAC_ERR_INVALID, "lac_context_create: out is NULL");
    *out = NULL;
    lac_context_options o = {0};
    if (opt) o = *opt;
    if (o.device < 0) return rt_fail(LAC_ERR_INVALID, "lac_context_create: device %d is negative", o.device);
    lac_context *cx = calloc(1, sizeof *cx);
    if (!cx) return rt_fail(LAC_ERR_INTERNAL, "lac_context_create: out of host memory");
    const char *driver = o.driver ? o.driver : getenv("LAC_CUDA_DRIVER");
    if (driver && !driver[0]) driver = NULL;
    CudaStatus st = cuda_open(&cx->cu, o.device, driver);
    if (st != CS_OK) {
        lac_status ls = rt_cuda_fail(&cx->cu, st, "lac_context_create");
        cuda_close(&cx->cu);
        free(cx);
        return ls;
    }
    if (!arch_for(cx->cu.cc_major, cx->cu.cc_minor, cx->arch, sizeof cx->arch)) {
        lac_status ls = rt_fail(LAC_ERR_UNSUPPORTED,
                                "lac_context_create: %s has compute capability %d.%d; lac's kernels need 8.0 "
                                "or newer (tensor cores with bf16)",
                                cx->cu.name, cx->cu.cc_major, cx->cu.cc_minor);
        cuda_close(&cx->cu);
        free(cx);
        return ls;
    }
    llvm_version(cx->llvm, sizeof cx->llvm);
    cx->tune = o.tune != LAC_TUNE_DEFAULT ? o.tune : tune_mode_env();
    const char *verbose = getenv("LAC_VERBOSE");
    cx->verbose = o.verbose || (verbose && verbose[0] && strcmp(verbose, "0") != 0);
    if (!cache_dir_resolve(o.cache_dir, cx->cache_dir, sizeof cx->cache_dir)) cx->cache_dir[0] = 0;
    if (cx->cache_dir[0]) {
        char err[512];
        if (!cache_dir_make(cx->cache_dir, err, sizeof err)) {
            rt_say(cx, "%s: running without a kernel cache or tuning database", err);
            cx->cache_dir[0] = 0;
        }
    }
    pthread_mutex_init(&cx->mu, NULL);
    rt_say(cx, "%s (compute %d.%d, %d SMs, driver %d), PTX for %s, cache %s", cx->cu.name, cx->cu.cc_major,
           cx->cu.cc_minor, cx->cu.sm_count, cx->cu.driver_version, cx->arch,
           cx->cache_dir[0] ? cx->cache_dir : "off");
    *out = cx;
    return LAC_OK;
}

LAC_API void lac_context_destroy(lac_context *cx)
{
    if (!cx) return;
    CudaCtx c;
    if (rt_cuda(cx, NULL, &c) == LAC_OK) cuda_free(&c, cx->flush);
    pthread_mutex_destroy(&cx->mu);
    cuda_close(&cx->cu);
    free(cx);
}

LAC_API lac_status lac_context_device(const lac_context *cx, lac_device_info *out)
{
    if (!cx || !out) return rt_fail(LAC_ERR_INVALID, "lac_context_device: NULL argument");
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", cx->cu.name);
    out->cc_major = cx->cu.cc_major;
    out->cc_minor = cx->cu.cc_minor;
    out->sm_count = cx->cu.sm_count;
    out->driver_version = cx->cu.driver_version;
    snprintf(out->arch, sizeof out->arch, "%s", cx->arch);
    snprintf(out->cache_dir, sizeof out->cache_dir, "%s", cx->cache_dir);
    return LAC_OK;
}

lac_status rt_cuda(lac_context *cx, void *stream, CudaCtx *out)
{
    *out = cx->cu;
    cuda_error_clear(out);
    out->stream = (CUstream)stream;
    CUresult rc = out->api.cuCtxSetCurrent(out->ctx);
    if (rc != CUDA_SUCCESS)
        return rt_cuda_fail(out, cuda_fail(out, rc, __FILE__, __LINE__, "cuCtxSetCurrent(ctx)"),
                            "making lac's CUDA context current");
    return LAC_OK;
}

/* ---- device memory */

LAC_API lac_status lac_device_alloc(lac_context *cx, size_t bytes, uint64_t *ptr)
{
    if (!cx || !ptr) return rt_fail(LAC_ERR_INVALID, "lac_device_alloc: NULL argument");
    *ptr = 0;
    CudaCtx c;
    lac_status st = rt_cuda(cx, NULL, &c);
    if (st != LAC_OK) return st;
    CUdeviceptr p = 0;
    CudaStatus cs = cuda_alloc(&c, &p, bytes);
    if (cs != CS_OK) return rt_cuda_fail(&c, cs, "lac_device_alloc");
    *ptr = (uint64_t)p;
    return LAC_OK;
}

LAC_API lac_status lac_device_free(lac_context *cx, uint64_t ptr)
{
    if (!cx) return rt_fail(LAC_ERR_INVALID, "lac_device_free: NULL context");
    CudaCtx c;
    lac_status st = rt_cuda(cx, NULL, &c);
    if (st != LAC_OK) return st;
    CudaStatus cs = cuda_free(&c, (CUdeviceptr)ptr);
    return cs == CS_OK ? LAC_OK : rt_cuda_fail(&c, cs, "lac_device_free");
}

LAC_API lac_status lac_copy_to_device(lac_context *cx, uint64_t dst, const void *src, size_t bytes)
{
    if (!cx || (!src && bytes) || (!dst && bytes)) return rt_fail(LAC_ERR_INVALID, "lac_copy_to_device: NULL argument");
    CudaCtx c;
    lac_status st = rt_cuda(cx, NULL, &c);
    if (st != LAC_OK) return st;
    CudaStatus cs = cuda_upload(&c, (CUdeviceptr)dst, src, bytes);
    return cs == CS_OK ? LAC_OK : rt_cuda_fail(&c, cs, "lac_copy_to_device");
}

LAC_API lac_status lac_copy_to_host(lac_context *cx, void *dst, uint64_t src, size_t bytes)
{
    if (!cx || (!src && bytes) || (!dst && bytes)) return rt_fail(LAC_ERR_INVALID, "lac_copy_to_host: NULL argument");
    CudaCtx c;
    lac_status st = rt_cuda(cx, NULL, &c);
    if (st != LAC_OK) return st;
    CudaStatus cs = cuda_download(&c, dst, (CUdeviceptr)src, bytes);
    return cs == CS_OK ? LAC_OK : rt_cuda_fail(&c, cs, "lac_copy_to_host");
}

LAC_API lac_status lac_synchronize(lac_context *cx, void *stream)
{
    if (!cx) return rt_fail(LAC_ERR_INVALID, "lac_synchronize: NULL context");
    CudaCtx c;
    lac_status st = rt_cuda(cx, stream, &c);
    if (st != LAC_OK) return st;
    CudaStatus cs = cuda_stream_sync(&c);
    return cs == CS_OK ? LAC_OK : rt_cuda_fail(&c, cs, "lac_synchronize (a kernel may have failed)");
}

/* ------------------------------------------------------------------------
 * Variants
 * ------------------------------------------------------------------------ */

static lac_status diags_fail(lac_status st, const Diags *d, const char *what)
{
    StrBuf b;
    strbuf_init(&b);
    diags_render(d, DIAG_FORMAT_HUMAN, &b);
    while (b.len > 0 && b.data[b.len - 1] == '\n') b.data[--b.len] = 0;
    lac_status r = rt_fail(st, "%s%s%s", what, b.len ? ":\n" : "", b.len ? b.data : "");
    strbuf_free(&b);
    return r;
}

/* Does some configuration of cfgs[0..n) build for `arch`? */
static bool any_config_fits(const Variant *v, const KernelConfig *cfgs, int n, const char *arch)
{
    for (int i = 0; i < n; i++)
        if (codegen_config_fits(v, &cfgs[i], arch, NULL, 0)) return true;
    return false;
}

static lac_status variant_init(lac_variant *lv, const char *name, const char *text, size_t len,
                               const char *const *sets, int nsets)
{
    Arena *a = &lv->arena;
    char *copy = arena_alloc(a, len + 1);
    memcpy(copy, text, len);
    lv->src = (SrcFile){arena_strdup(a, name), copy, len};
    lv->sets.ovr = arena_alloc(a, sizeof(ParamOverride) * (size_t)(nsets + 1));
    lv->sets.cap = nsets + 1;
    StrBuf st;
    strbuf_init(&st);
    for (int i = 0; i < nsets; i++) {
        if (!sets[i] || !compile_sets_add(&lv->sets, sets[i], a)) {
            strbuf_free(&st);
            return rt_fail(LAC_ERR_INVALID, "%s: set %d: expected NAME=NUMBER, got '%s'", name, i,
                           sets[i] ? sets[i] : "(null)");
        }
        strbuf_printf(&st, "%s\n", sets[i]);
    }
    lv->sets_text = arena_strdup(a, st.data ? st.data : "");
    strbuf_free(&st);
    Diags d;
    diags_init(&d, a);
    if (len > LAC_MAX_SOURCE_BYTES) return rt_fail(LAC_ERR_SOURCE, "%s: larger than %u bytes", name, LAC_MAX_SOURCE_BYTES);
    lv->v = compile_check(&lv->src, &lv->sets, a, &d);
    if (!lv->v) return diags_fail(LAC_ERR_SOURCE, &d, name);
    if (lv->v->ninputs > RT_MAX_INPUTS)
        return rt_fail(LAC_ERR_UNSUPPORTED, "%s: %d inputs; the runtime launches kernels of at most %d", name,
                       lv->v->ninputs, RT_MAX_INPUTS);
    KernelConfig cfgs[RT_MAX_CONFIGS];
    KernelConfig def;
    if (!compile_config(lv->v, &lv->sets, &def, &d)) return diags_fail(LAC_ERR_INVALID, &d, name);
    lv->nconfigs = compile_configs(lv->v, &lv->sets, cfgs, RT_MAX_CONFIGS);
    /* As `lac compile`: when nothing of the tuning space builds for this
     * target at these head dims (linear_elu at K = 256), the candidates are
     * the same configurations with one stage, unless --set pinned stages. */
    if (!lv->sets.knob[KNOB_STAGES] && !any_config_fits(lv->v, cfgs, lv->nconfigs, lv->cx->arch)) {
        lv->nconfigs = compile_configs_one_stage(cfgs, lv->nconfigs);
        rt_say(lv->cx, "%s: no configuration of the tuning space fits K = %d, V = %d on %s; trying them with one stage",
               name, lv->v->dk, lv->v->dv, lv->cx->arch);
    }
    for (int i = 0; i < lv->nconfigs; i++) lv->mods[i].kc = cfgs[i];
    Sha256 h;
    sha256_init(&h);
    sha256_update_str(&h, "lac variant 1");
    sha256_update(&h, text, len);
    sha256_update_str(&h, lv->sets_text);
    unsigned char dg[32];
    sha256_final(&h, dg);
    sha256_hex(dg, lv->hash);
    return LAC_OK;
}

LAC_API lac_status lac_variant_load_source(lac_context *cx, const char *name, const char *text, size_t len,
                                           const char *const *sets, int nsets, lac_variant **out)
{
    if (!out) return rt_fail(LAC_ERR_INVALID, "lac_variant_load_source: out is NULL");
    *out = NULL;
    if (!cx || (!text && len) || nsets < 0 || (nsets > 0 && !sets))
        return rt_fail(LAC_ERR_INVALID, "lac_variant_load_source: invalid argument");
    lac_variant *lv = calloc(1, sizeof *lv);
    if (!lv) return rt_fail(LAC_ERR_INTERNAL, "out of host memory");
    lv->cx = cx;
    arena_init(&lv->arena);
    pthread_mutex_init(&lv->mu, NULL);
    lac_status st = variant_init(lv, name ? name : "<string>", text ? text : "", len, sets, nsets);
    if (st != LAC_OK) {
        lac_variant_destroy(lv);
        return st;
    }
    rt_say(cx, "%s: variant %s, %d configurations, hash %.16s", lv->src.name, lv->v->name, lv->nconfigs, lv->hash);
    *out = lv;
    return LAC_OK;
}

LAC_API lac_status lac_variant_load(lac_context *cx, const char *path, const char *const *sets, int nsets,
                                    lac_variant **out)
{
    if (!out) return rt_fail(LAC_ERR_INVALID, "lac_variant_load: out is NULL");
    *out = NULL;
    if (!path) return rt_fail(LAC_ERR_INVALID, "lac_variant_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(LAC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(LAC_MAX_SOURCE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, LAC_MAX_SOURCE_BYTES + 1, f) : 0;
    bool bad = !buf || ferror(f);
    int e = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return rt_fail(LAC_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    lac_status st = lac_variant_load_source(cx, path, buf, n, sets, nsets, out);
    free(buf);
    return st;
}

LAC_API void lac_variant_destroy(lac_variant *lv)
{
    if (!lv) return;
    CudaCtx c;
    bool have = lv->cx && rt_cuda(lv->cx, NULL, &c) == LAC_OK;
    for (int i = 0; i < lv->nconfigs; i++) {
        if (have && lv->mods[i].mod) cuda_module_unload(&c, lv->mods[i].mod);
        free(lv->mods[i].why);
    }
    free(lv->choices);
    pthread_mutex_destroy(&lv->mu);
    arena_free(&lv->arena);
    free(lv);
}

static lac_dtype dtype_pub(DType t) { return t == DT_BF16 ? LAC_BF16 : t == DT_F16 ? LAC_F16 : LAC_F32; }

LAC_API const char *lac_dtype_name(lac_dtype t)
{
    switch (t) {
    case LAC_BF16: return "bf16";
    case LAC_F16: return "f16";
    case LAC_F32: return "f32";
    }
    return NULL;
}

LAC_API lac_status lac_variant_get_info(const lac_variant *lv, lac_variant_info *out)
{
    if (!lv || !out) return rt_fail(LAC_ERR_INVALID, "lac_variant_get_info: NULL argument");
    memset(out, 0, sizeof *out);
    out->name = lv->v->name;
    out->dk = lv->v->dk;
    out->dv = lv->v->dv;
    out->normalized = lv->v->normalize;
    out->ninputs = lv->v->ninputs;
    out->io = dtype_pub(fwd_io_dtype(lv->v));
    out->decay = decay_kind_name(lv->v->decay);
    out->nconfigs = lv->nconfigs;
    memcpy(out->hash, lv->hash, 16);
    out->hash[16] = 0;
    return LAC_OK;
}

/* Dims of an input, symbolic (LAC_DIM_*) where they are B, T, H. */
static int input_dims(const Symbol *y, int dims[4])
{
    switch (y->layout) {
    case LAYOUT_TOKEN: dims[0] = LAC_DIM_B, dims[1] = LAC_DIM_T, dims[2] = LAC_DIM_H; return 3;
    case LAYOUT_TOKEN_VEC:
        dims[0] = LAC_DIM_B, dims[1] = LAC_DIM_T, dims[2] = LAC_DIM_H, dims[3] = y->cols;
        return 4;
    case LAYOUT_HEAD: dims[0] = LAC_DIM_H; return 1;
    case LAYOUT_HEAD_VEC: dims[0] = LAC_DIM_H, dims[1] = y->cols; return 2;
    case LAYOUT_HEAD_MAT: dims[0] = LAC_DIM_H, dims[1] = y->rows, dims[2] = y->cols; return 3;
    case LAYOUT_SHARED_VEC: dims[0] = y->cols; return 1;
    case LAYOUT_SHARED_MAT: dims[0] = y->rows, dims[1] = y->cols; return 2;
    }
    return 0;
}

LAC_API lac_status lac_variant_input(const lac_variant *lv, int i, lac_input_info *out)
{
    if (!lv || !out) return rt_fail(LAC_ERR_INVALID, "lac_variant_input: NULL argument");
    if (i < 0 || i >= lv->v->ninputs)
        return rt_fail(LAC_ERR_INVALID, "lac_variant_input: %s has %d inputs, not %d", lv->v->name, lv->v->ninputs,
                       i + 1);
    memset(out, 0, sizeof *out);
    const Symbol *y = lv->v->inputs[i];
    out->name = y->name;
    out->dtype = dtype_pub(y->dtype);
    out->ndim = input_dims(y, out->dims);
    return LAC_OK;
}

/* ------------------------------------------------------------------------
 * Modules: one configuration, from the caches or compiled
 * ------------------------------------------------------------------------ */

static void module_fail(RtModule *m, lac_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void module_fail(RtModule *m, lac_status st, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(m->why);
    m->why = strdup(buf);
    m->state = -1;
    m->fail_status = st;
}

static void ptx_key(const lac_variant *lv, const KernelConfig *kc, char out[65])
{
    char cfg[160];
    kernel_config_format(kc, cfg, sizeof cfg);
    Sha256 h;
    sha256_init(&h);
    sha256_update_str(&h, "lac ptx 1");
    sha256_update_str(&h, LAC_VERSION_STRING);
    sha256_update_str(&h, lv->cx->llvm);
    sha256_update_str(&h, lv->cx->arch);
    sha256_update(&h, lv->src.text, lv->src.len);
    sha256_update_str(&h, "");
    sha256_update_str(&h, lv->sets_text);
    sha256_update_str(&h, cfg);
    unsigned char d[32];
    sha256_final(&h, d);
    sha256_hex(d, out);
}

static void cubin_key(const lac_context *cx, const char *ptxkey, char out[65])
{
    char dev[64];
    snprintf(dev, sizeof dev, "%d.%d %d", cx->cu.cc_major, cx->cu.cc_minor, cx->cu.driver_version);
    Sha256 h;
    sha256_init(&h);
    sha256_update_str(&h, "lac cubin 1");
    sha256_update_str(&h, ptxkey);
    sha256_update_str(&h, cx->cu.name);
    sha256_update_str(&h, dev);
    unsigned char d[32];
    sha256_final(&h, d);
    sha256_hex(d, out);
}

/* The PTX of configuration kc: from the PTX cache, else compiled (and
 * cached). malloc'ed, NULL with the module marked failed. */
/* $LAC_DUMP_DIR: where every stage of what the runtime compiles is written
 * (STYLE.md, practice 8); NULL when unset. Dumping bypasses the caches'
 * reads, so that each stage is produced. */
static const char *dump_dir(void)
{
    const char *d = getenv("LAC_DUMP_DIR");
    return d && d[0] ? d : NULL;
}

/* DIR/NAME.bvB.wW.sS.cC.scS.bkK.EXT, as `lac compile --all-configs` names them. */
static void dump_write(const lac_variant *lv, const KernelConfig *kc, const char *ext, const char *data, size_t len)
{
    const char *dir = dump_dir();
    if (!dir) return;
    char err[512];
    if (!cache_dir_make(dir, err, sizeof err)) {
        rt_say(lv->cx, "LAC_DUMP_DIR: %s", err);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bv%d.w%d.s%d.c%d.sc%d.bk%d.%s", dir, lv->v->name, kc->block_v, kc->warps,
             kc->stages, kc->chunk, kc->subchunk, kc->block_k, ext);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) rt_say(lv->cx, "LAC_DUMP_DIR: cannot write %s: %s", path, strerror(errno));
}

/* The PTX of configuration kc: from the PTX cache, else compiled (and
 * cached). malloc'ed, NULL with the module marked failed. */
static char *module_ptx(lac_variant *lv, RtModule *m, const char *key, const char **source)
{
    lac_context *cx = lv->cx;
    char err[1024] = "";
    void *data = NULL;
    size_t size = 0;
    bool dump = dump_dir() != NULL;
    CacheResult cr = dump ? CACHE_MISS : cache_get(cx->cache_dir, "ptx", key, &data, &size, err, sizeof err);
    if (cr == CACHE_HIT) {
        *source = "ptx cache";
        return data;
    }
    if (cr == CACHE_CORRUPT) rt_say(cx, "%s", err);
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    StrBuf ptx, tir, ir;
    strbuf_init(&ptx);
    strbuf_init(&tir);
    strbuf_init(&ir);
    char *out = NULL;
    /* The front end again, in this compilation's own arena: compilations
     * of several configurations run in parallel threads. */
    Variant *v = compile_check(&lv->src, &lv->sets, &a, &d);
    if (v && codegen_forward_ptx(v, &m->kc, cx->arch, &ptx, dump ? &ir : NULL, dump ? &tir : NULL, &a, &d)) {
        out = malloc(ptx.len + 1);
        if (out) {
            memcpy(out, ptx.data, ptx.len);
            out[ptx.len] = 0;
            if (!cache_put(cx->cache_dir, "ptx", key, out, ptx.len, err, sizeof err)) rt_say(cx, "%s", err);
        }
        if (dump) {
            dump_write(lv, &m->kc, "tir", tir.data ? tir.data : "", tir.len);
            dump_write(lv, &m->kc, "ll", ir.data ? ir.data : "", ir.len);
            dump_write(lv, &m->kc, "ptx", ptx.data ? ptx.data : "", ptx.len);
        }
        *source = "compiled";
    } else {
        StrBuf b;
        strbuf_init(&b);
        diags_render(&d, DIAG_FORMAT_HUMAN, &b);
        module_fail(m, LAC_ERR_UNSUPPORTED, "%s", b.data ? b.data : "compilation failed");
        strbuf_free(&b);
    }
    strbuf_free(&ptx);
    strbuf_free(&tir);
    strbuf_free(&ir);
    arena_free(&a);
    return out;
}

/* A cubin cache entry: "META LEN\n", the PTX's lac-kernel lines, the cubin. */
static bool cubin_entry_split(const void *data, size_t size, const char **meta, size_t *meta_len,
                              const void **cubin)
{
    const char *s = data;
    size_t ml = 0;
    const char *nl = memchr(s, '\n', size < 64 ? size : 64);
    if (!nl || sscanf(s, "META %zu", &ml) != 1) return false;
    size_t head = (size_t)(nl + 1 - s);
    if (head + ml >= size) return false;
    *meta = s + head;
    *meta_len = ml;
    *cubin = s + head + ml;
    return true;
}

/* The lac-kernel lines of a PTX text (what launches need), as one string. */
static char *meta_lines(const char *ptx)
{
    StrBuf b;
    strbuf_init(&b);
    for (const char *p = ptx; (p = strstr(p, "// lac-kernel ")) != NULL;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        strbuf_putn(&b, p, n);
        strbuf_putc(&b, '\n');
        p += n;
    }
    /* The parameter lists: kernel_meta_parse reads them from the .entry
     * lines, so they travel too. */
    for (const char *p = ptx; (p = strstr(p, ".entry ")) != NULL;) {
        const char *e = strchr(p, ')');
        size_t n = e ? (size_t)(e - p + 1) : strlen(p);
        strbuf_putn(&b, p, n);
        strbuf_putc(&b, '\n');
        p += n;
    }
    char *out = strdup(b.data ? b.data : "");
    strbuf_free(&b);
    return out;
}

/* Functions and launch limits of a loaded module. */
static void module_functions(lac_variant *lv, RtModule *m, CudaCtx *c, const char *meta)
{
    KernelMeta metas[8];
    char err[512];
    int n = kernel_meta_parse(meta, metas, 8, err, sizeof err);
    if (n <= 0) {
        module_fail(m, LAC_ERR_INTERNAL, "the kernels' lac-kernel lines do not parse: %s", n < 0 ? err : "none");
        return;
    }
    for (int k = 0; k < n; k++) {
        KernelMeta *km = &metas[k];
        if (!kernel_meta_check_abi(km, lv->v->ninputs, err, sizeof err)) {
            module_fail(m, LAC_ERR_INTERNAL, "kernel %s: %s", km->name, err);
            return;
        }
        CUfunction f = NULL;
        if (cuda_function_get(c, m->mod, km->name, &f) != CS_OK) {
            cuda_error_clear(c); /* the module lacks this schedule's kernel */
            continue;
        }
        CudaFuncInfo fi = {0};
        int per_sm = 0;
        CudaStatus st = fwd_prepare(c, f, km, &per_sm);
        if (st == CS_OK) st = cuda_function_info(c, f, &fi);
        if (st != CS_OK) {
            /* Beyond this device's limits (threads, shared memory): pruned. */
            module_fail(m, LAC_ERR_UNSUPPORTED, "kernel %s does not fit this GPU: %s", km->name, c->err.msg);
            cuda_error_clear(c);
            return;
        }
        m->fn[km->kind] = f;
        m->meta[km->kind] = *km;
        m->registers[km->kind] = fi.registers;
        m->per_sm[km->kind] = per_sm;
    }
    if (!m->fn[KK_FULL]) {
        module_fail(m, LAC_ERR_INTERNAL, "the module has no state-on-chip kernel");
        return;
    }
    m->state = 1;
}

void rt_module_build(lac_variant *lv, int i, CudaCtx *c)
{
    RtModule *m = &lv->mods[i];
    if (m->state != 0) return;
    lac_context *cx = lv->cx;
    double t0 = rt_now();
    char pkey[65], ckey[65], err[1024] = "";
    ptx_key(lv, &m->kc, pkey);
    cubin_key(cx, pkey, ckey);
    void *entry = NULL;
    size_t esize = 0;
    const char *meta = NULL;
    const void *cubin = NULL;
    size_t mlen = 0;
    char *metas = NULL;
    CacheResult cr =
        dump_dir() ? CACHE_MISS : cache_get(cx->cache_dir, "cubin", ckey, &entry, &esize, err, sizeof err);
    if (cr == CACHE_CORRUPT) rt_say(cx, "%s", err);
    if (cr == CACHE_HIT && cubin_entry_split(entry, esize, &meta, &mlen, &cubin)) {
        metas = strndup(meta, mlen);
        /* The cubin, aligned for the loader. */
        size_t clen = esize - (size_t)((const char *)cubin - (const char *)entry);
        void *img = malloc(clen + 8);
        if (img) memcpy(img, cubin, clen);
        if (img && metas && cuda_module_load_cubin(c, img, &m->mod) == CS_OK) {
            free(img);
            free(entry);
            m->source = "cubin cache";
            module_functions(lv, m, c, metas);
            free(metas);
            m->build_ms = (rt_now() - t0) * 1e3;
            return;
        }
        /* A cubin the driver does not take (another driver, a bad entry): rebuild. */
        rt_say(cx, "cached cubin %s not loadable (%s): rebuilding", ckey, c->err.msg);
        cuda_error_clear(c);
        free(img);
        free(metas);
        metas = NULL;
    }
    free(entry);
    const char *source = "compiled";
    double tc = rt_now();
    char *ptx = module_ptx(lv, m, pkey, &source);
    m->compile_ms = (rt_now() - tc) * 1e3;
    if (!ptx) return;
    CudaJitLog *log = malloc(sizeof *log);
    void *bin = NULL;
    size_t bsize = 0;
    if (!log) {
        free(ptx);
        module_fail(m, LAC_ERR_INTERNAL, "out of host memory");
        return;
    }
    double tj = rt_now();
    CudaStatus st = cuda_ptx_to_cubin(c, ptx, &bin, &bsize, log);
    m->jit_ms = (rt_now() - tj) * 1e3;
    if (st != CS_OK) {
        module_fail(m, st == CS_DRIVER ? status_of_cu(c->err.cu) : LAC_ERR_JIT, "the driver's JIT rejected the PTX: %s%s%s",
                    c->err.msg, log->error[0] ? "\n" : "", log->error);
        cuda_error_clear(c);
        free(log);
        free(ptx);
        return;
    }
    /* The JIT's own report (registers, spills per kernel) is the last stage. */
    dump_write(lv, &m->kc, "jit.log", log->info, strlen(log->info));
    free(log);
    metas = meta_lines(ptx);
    free(ptx);
    /* Cache the cubin with its kernel lines, then load it. */
    StrBuf e;
    strbuf_init(&e);
    strbuf_printf(&e, "META %zu\n", strlen(metas));
    strbuf_puts(&e, metas);
    strbuf_putn(&e, bin, bsize);
    if (!cache_put(cx->cache_dir, "cubin", ckey, e.data, e.len, err, sizeof err)) rt_say(cx, "%s", err);
    strbuf_free(&e);
    st = cuda_module_load_cubin(c, bin, &m->mod);
    free(bin);
    if (st != CS_OK) {
        module_fail(m, LAC_ERR_JIT, "loading the JIT's cubin failed: %s", c->err.msg);
        cuda_error_clear(c);
        free(metas);
        return;
    }
    m->source = source;
    module_functions(lv, m, c, metas);
    free(metas);
    m->build_ms = (rt_now() - t0) * 1e3;
}

/* ------------------------------------------------------------------------
 * The launch
 * ------------------------------------------------------------------------ */

const char *rt_sched_name(RtSched s) { return s == RT_SCHED_SPLIT ? "split" : "full"; }

bool rt_sched_ok(const lac_variant *lv, int i, RtSched s, int B, int T, int H, int sms)
{
    const RtModule *m = &lv->mods[i];
    if (m->state != 1) return false;
    if (s == RT_SCHED_FULL) return true;
    if (!m->fn[KK_SPLIT_STATE] || !m->fn[KK_SPLIT_OUT]) return false;
    int nseg, seglen, nout;
    fwd_split_plan(&m->meta[KK_SPLIT_STATE], B, T, H, sms, &m->per_sm[KK_SPLIT_STATE], 0, 0, &nseg, &seglen, &nout);
    return nout > 1;
}

lac_status rt_launch(lac_variant *lv, CudaCtx *c, int i, RtSched s, const FwdArgs *a0, CUdeviceptr ws,
                     size_t ws_bytes)
{
    RtModule *m = &lv->mods[i];
    FwdArgs a = *a0;
    CudaStatus st;
    if (s == RT_SCHED_FULL) {
        a.nseg = 1;
        st = fwd_launch(c, m->fn[KK_FULL], &m->meta[KK_FULL], &a);
        return st == CS_OK ? LAC_OK : rt_cuda_fail(c, st, "launching the forward");
    }
    const KernelMeta *m1 = &m->meta[KK_SPLIT_STATE];
    fwd_split_plan(m1, a.B, a.T, a.H, c->sm_count, &m->per_sm[KK_SPLIT_STATE], 0, 0, &a.nseg, &a.seglen, &a.nout);
    size_t need = fwd_split_ws_bytes(m1, a.B, a.H, a.nseg);
    bool own = ws == 0 || ws_bytes < need;
    if (own) {
        /* Stream-ordered: no synchronization, freed after the kernels. */
        CUresult rc = c->api.cuMemAllocAsync(&ws, need, c->stream);
        if (rc != CUDA_SUCCESS)
            return rt_cuda_fail(c, cuda_fail(c, rc, __FILE__, __LINE__, "cuMemAllocAsync(&ws, need, stream)"),
                                "allocating the sequence split's workspace");
    }
    a.ws = ws;
    st = fwd_launch(c, m->fn[KK_SPLIT_STATE], m1, &a);
    if (st == CS_OK) st = fwd_launch(c, m->fn[KK_SPLIT_OUT], &m->meta[KK_SPLIT_OUT], &a);
    lac_status ls = st == CS_OK ? LAC_OK : rt_cuda_fail(c, st, "launching the sequence split");
    if (own) {
        CUresult rc = c->api.cuMemFreeAsync(ws, c->stream);
        if (rc != CUDA_SUCCESS && ls == LAC_OK)
            ls = rt_cuda_fail(c, cuda_fail(c, rc, __FILE__, __LINE__, "cuMemFreeAsync(ws, stream)"),
                              "freeing the sequence split's workspace");
    }
    return ls;
}

/* ---- argument checks */

static bool contiguous(const lac_tensor *t)
{
    bool zero = true;
    for (int i = 0; i < t->ndim; i++) zero = zero && t->strides[i] == 0;
    if (zero) return true;
    int64_t want = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != want) return false;
        want *= t->shape[i];
    }
    return true;
}

static void shape_text(const int64_t *shape, int nd, char *out, size_t n)
{
    size_t w = 0;
    w += (size_t)snprintf(out + w, n - w, "[");
    for (int i = 0; i < nd && w < n; i++) w += (size_t)snprintf(out + w, n - w, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (w < n) snprintf(out + w, n - w, "]");
}

/* A tensor must have exactly dims `want` (nd of them), dtype dt. */
static lac_status tensor_check(const char *what, const lac_tensor *t, const int64_t *want, int nd, lac_dtype dt)
{
    char got[128], exp[128];
    if (!t->data) return rt_fail(LAC_ERR_INVALID, "%s: the data pointer is 0", what);
    if (t->dtype != dt)
        return rt_fail(LAC_ERR_INVALID, "%s: dtype %s, expected %s", what,
                       lac_dtype_name(t->dtype) ? lac_dtype_name(t->dtype) : "(invalid)", lac_dtype_name(dt));
    bool same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = t->shape[i] == want[i];
    if (!same) {
        shape_text(t->shape, t->ndim >= 0 && t->ndim <= 4 ? t->ndim : 0, got, sizeof got);
        shape_text(want, nd, exp, sizeof exp);
        return rt_fail(LAC_ERR_INVALID, "%s: shape %s, expected %s", what, got, exp);
    }
    if (!contiguous(t))
        return rt_fail(LAC_ERR_UNSUPPORTED, "%s: not contiguous; lac's kernels take contiguous tensors (make a "
                                            "contiguous copy)",
                       what);
    return LAC_OK;
}

/* B, T, H from the first input laid out per token, then every tensor. */
static lac_status args_check(const lac_variant *lv, const lac_forward_args *a, int *B, int *T, int *H)
{
    const Variant *v = lv->v;
    if (a->ninputs != v->ninputs || (v->ninputs && !a->inputs))
        return rt_fail(LAC_ERR_INVALID, "%s takes %d inputs, got %d", v->name, v->ninputs, a->ninputs);
    *B = *T = *H = 0;
    for (int i = 0; i < v->ninputs; i++) {
        const lac_tensor *t = &a->inputs[i];
        Layout l = v->inputs[i]->layout;
        if ((l == LAYOUT_TOKEN || l == LAYOUT_TOKEN_VEC) && t->ndim >= 3 && t->ndim <= 4) {
            *B = (int)t->shape[0], *T = (int)t->shape[1], *H = (int)t->shape[2];
            if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[2] < 1 || t->shape[0] > 1 << 20 ||
                t->shape[1] > 1 << 24 || t->shape[2] > 1 << 12)
                return rt_fail(LAC_ERR_INVALID, "input %s: B, T, H must be from 1 to 2^20, 2^24, 2^12",
                               v->inputs[i]->name);
            break;
        }
    }
    if (*B == 0) return rt_fail(LAC_ERR_INVALID, "%s: no input laid out per token gives B, T, H", v->name);
    if ((long)*B * *H > KERNEL_MAX_GRID_Y)
        return rt_fail(LAC_ERR_UNSUPPORTED, "B x H = %ld: at most %d", (long)*B * *H, KERNEL_MAX_GRID_Y);
    for (int i = 0; i < v->ninputs; i++) {
        int dims[4];
        int nd = input_dims(v->inputs[i], dims);
        int64_t want[4];
        for (int k = 0; k < nd; k++)
            want[k] = dims[k] == LAC_DIM_B ? *B : dims[k] == LAC_DIM_T ? *T : dims[k] == LAC_DIM_H ? *H : dims[k];
        char what[160];
        snprintf(what, sizeof what, "input %d (%s)", i, v->inputs[i]->name);
        lac_status st = tensor_check(what, &a->inputs[i], want, nd, dtype_pub(v->inputs[i]->dtype));
        if (st != LAC_OK) return st;
    }
    int64_t o[4] = {*B, *T, *H, v->dv}, s[4] = {*B, *H, v->dk, v->dv}, z[3] = {*B, *H, v->dk};
    lac_status st = tensor_check("o", &a->o, o, 4, dtype_pub(fwd_io_dtype(v)));
    if (st == LAC_OK && a->initial_state.data) st = tensor_check("initial_state", &a->initial_state, s, 4, LAC_F32);
    if (st == LAC_OK && a->final_state.data) st = tensor_check("final_state", &a->final_state, s, 4, LAC_F32);
    if (st != LAC_OK) return st;
    if (!v->normalize && (a->initial_z.data || a->final_z.data))
        return rt_fail(LAC_ERR_INVALID, "%s is not normalized: it has no z state", v->name);
    if (a->initial_z.data) st = tensor_check("initial_z", &a->initial_z, z, 3, LAC_F32);
    if (st == LAC_OK && a->final_z.data) st = tensor_check("final_z", &a->final_z, z, 3, LAC_F32);
    return st;
}

LAC_API lac_status lac_forward(lac_variant *lv, const lac_forward_args *a)
{
    if (!lv || !a) return rt_fail(LAC_ERR_INVALID, "lac_forward: NULL argument");
    int B = 0, T = 0, H = 0;
    lac_status st = args_check(lv, a, &B, &T, &H);
    if (st != LAC_OK) return st;
    CudaCtx c;
    st = rt_cuda(lv->cx, a->stream, &c);
    if (st != LAC_OK) return st;
    /* A tuning run times on the default stream with its own scratch
     * tensors: ordered with the legacy default stream's blocking users, and
     * never with the caller's tensors. */
    CudaCtx tc = c;
    tc.stream = NULL;
    pthread_mutex_lock(&lv->mu);
    RtChoice ch;
    st = rt_choose(lv, &tc, B, T, H, false, true, &ch, NULL);
    pthread_mutex_unlock(&lv->mu);
    if (st != LAC_OK) return st;
    CUdeviceptr in[KERNEL_MAX_PARAMS];
    for (int i = 0; i < a->ninputs && i < KERNEL_MAX_PARAMS; i++) in[i] = (CUdeviceptr)a->inputs[i].data;
    FwdArgs fa = {in, a->ninputs, (CUdeviceptr)a->o.data, (CUdeviceptr)a->initial_state.data,
                  (CUdeviceptr)a->final_state.data, (CUdeviceptr)a->initial_z.data, (CUdeviceptr)a->final_z.data,
                  B, T, H, 0, 1, 0, 0};
    return rt_launch(lv, &c, ch.config, ch.sched, &fa, 0, 0);
}

/* ------------------------------------------------------------------------
 * Tuning, the reference, offline compilation
 * ------------------------------------------------------------------------ */

static lac_status shape_check(int B, int T, int H)
{
    if (B < 1 || T < 1 || H < 1 || B > 1 << 20 || T > 1 << 24 || H > 1 << 12 || (long)B * H > KERNEL_MAX_GRID_Y)
        return rt_fail(LAC_ERR_INVALID, "shape B=%d, T=%d, H=%d is out of range", B, T, H);
    return LAC_OK;
}

static lac_status tune_entry(lac_variant *lv, int B, int T, int H, bool force, bool may_tune, lac_tune_result *out)
{
    if (!lv) return rt_fail(LAC_ERR_INVALID, "NULL variant");
    lac_status st = shape_check(B, T, H);
    if (st != LAC_OK) return st;
    CudaCtx c;
    st = rt_cuda(lv->cx, NULL, &c);
    if (st != LAC_OK) return st;
    lac_tune_result r;
    memset(&r, 0, sizeof r);
    RtChoice ch;
    pthread_mutex_lock(&lv->mu);
    st = rt_choose(lv, &c, B, T, H, force, may_tune, &ch, &r);
    pthread_mutex_unlock(&lv->mu);
    if (out) *out = r;
    return st;
}

LAC_API lac_status lac_tune(lac_variant *lv, int B, int T, int H, int force, lac_tune_result *out)
{
    return tune_entry(lv, B, T, H, force != 0, true, out);
}

LAC_API lac_status lac_tuned_config(lac_variant *lv, int B, int T, int H, lac_tune_result *out)
{
    return tune_entry(lv, B, T, H, false, false, out);
}

LAC_API lac_status lac_reference_forward(const lac_variant *lv, int B, int T, int H, const double *const *inputs,
                                         const double *s0, const double *z0, double *o, double *s_final,
                                         double *z_final)
{
    if (!lv || !o || (lv->v->ninputs && !inputs)) return rt_fail(LAC_ERR_INVALID, "lac_reference_forward: NULL argument");
    lac_status st = shape_check(B, T, H);
    if (st != LAC_OK) return st;
    const Variant *v = lv->v;
    for (int i = 0; i < v->ninputs; i++)
        if (!inputs[i]) return rt_fail(LAC_ERR_INVALID, "lac_reference_forward: input %s is NULL", v->inputs[i]->name);
    size_t ns = (size_t)B * H * (size_t)v->dk * (size_t)v->dv;
    double *sf = s_final ? s_final : malloc(ns * sizeof *sf);
    double *zf = z_final;
    if (v->normalize && !zf) zf = malloc((size_t)B * H * (size_t)v->dk * sizeof *zf);
    if (!sf || (v->normalize && !zf)) {
        if (!s_final) free(sf);
        if (!z_final) free(zf);
        return rt_fail(LAC_ERR_INTERNAL, "out of host memory");
    }
    RefProblem p = {B, T, H, (double **)inputs, s0, z0, o, sf, zf};
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    st = ref_run(v, &p, &d) ? LAC_OK : diags_fail(LAC_ERR_INVALID, &d, "the reference");
    arena_free(&a);
    if (!s_final) free(sf);
    if (!z_final) free(zf);
    return st;
}

LAC_API lac_status lac_random_inputs(const lac_variant *lv, int B, int T, int H, uint64_t seed,
                                     double *const *inputs)
{
    if (!lv || (lv->v->ninputs && !inputs)) return rt_fail(LAC_ERR_INVALID, "lac_random_inputs: NULL argument");
    lac_status st = shape_check(B, T, H);
    if (st != LAC_OK) return st;
    for (int i = 0; i < lv->v->ninputs; i++)
        if (!inputs[i]) return rt_fail(LAC_ERR_INVALID, "lac_random_inputs: input %s is NULL", lv->v->inputs[i]->name);
    RefProblem p = {B, T, H, (double **)inputs, NULL, NULL, NULL, NULL, NULL};
    ref_fill_inputs(lv->v, &p, seed);
    return LAC_OK;
}

LAC_API lac_status lac_compile_ptx(const char *name, const char *text, size_t len, const char *arch,
                                   const char *const *sets, int nsets, char **ptx)
{
    if (!ptx || (!text && len) || nsets < 0 || (nsets && !sets))
        return rt_fail(LAC_ERR_INVALID, "lac_compile_ptx: invalid argument");
    *ptx = NULL;
    if (!name) name = "<string>";
    if (len > LAC_MAX_SOURCE_BYTES) return rt_fail(LAC_ERR_SOURCE, "%s: larger than %u bytes", name, LAC_MAX_SOURCE_BYTES);
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    CompileSets cs = {arena_alloc(&a, sizeof(ParamOverride) * (size_t)(nsets + 1)), 0, nsets + 1, {0}, {0}};
    lac_status st = LAC_OK;
    for (int i = 0; i < nsets && st == LAC_OK; i++)
        if (!sets[i] || !compile_sets_add(&cs, sets[i], &a))
            st = rt_fail(LAC_ERR_INVALID, "set %d: expected NAME=NUMBER, got '%s'", i, sets[i] ? sets[i] : "(null)");
    SrcFile src = {name, text ? text : "", len};
    StrBuf out;
    strbuf_init(&out);
    Variant *v = st == LAC_OK ? compile_check(&src, &cs, &a, &d) : NULL;
    KernelConfig kc;
    if (st != LAC_OK) {
    } else if (!v) {
        st = diags_fail(LAC_ERR_SOURCE, &d, name);
    } else if (!compile_config(v, &cs, &kc, &d)) {
        st = diags_fail(LAC_ERR_INVALID, &d, name);
    } else if (!codegen_forward_ptx(v, &kc, arch ? arch : "sm_90a", &out, NULL, NULL, &a, &d)) {
        st = diags_fail(LAC_ERR_UNSUPPORTED, &d, name);
    } else {
        *ptx = malloc(out.len + 1);
        if (!*ptx) st = rt_fail(LAC_ERR_INTERNAL, "out of host memory");
        else {
            memcpy(*ptx, out.data, out.len);
            (*ptx)[out.len] = 0;
        }
    }
    strbuf_free(&out);
    arena_free(&a);
    return st;
}
