/*
 * autotune.c: which configuration and schedule run a shape.
 *
 * rt_choose answers from, in order: the variant's table (this process has
 * chosen for the shape class already), the tuning database (another process
 * on this GPU did), a tuning run, or the default configuration. A tuning
 * run:
 *   1. builds every configuration of the tuning space in parallel threads
 *      (each from the caches when it can: a warm tuning run compiles
 *      nothing), and prunes the ones the compiler or the device rule out
 *      (shared memory, threads, registers per block);
 *   2. times each candidate, configuration x schedule (the state on chip,
 *      the sequence split), on scratch inputs of the caller's shape: two
 *      warm-up launches, then the median of RT_TUNE_REPS launches, each
 *      after the L2 is flushed, timed with events;
 *   3. keeps the fastest in the table and the database.
 * Progress goes to stderr when the context is verbose (`lac tune` is).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt_state.h"

enum { RT_TUNE_WARMUP = 2, RT_TUNE_REPS = 7, RT_TUNE_MAX_THREADS = 16 };
/* Registers of one multiprocessor (every GPU lac targets). */
enum { RT_SM_REGISTERS = 65536 };
/* Tokens of the random block that scratch inputs repeat. */
enum { RT_SCRATCH_TOKENS = 128 };

static void config_text(const lac_variant *lv, int i, RtSched s, char *out, size_t n)
{
    char cfg[160];
    kernel_config_format(&lv->mods[i].kc, cfg, sizeof cfg);
    snprintf(out, n, "%.100s schedule=%s", cfg, rt_sched_name(s));
}

/* The configuration index and schedule of a database config string. */
static bool config_find(const lac_variant *lv, const char *text, int *idx, RtSched *s)
{
    for (int i = 0; i < lv->nconfigs; i++)
        for (int k = 0; k < 2; k++) {
            char t[256];
            config_text(lv, i, (RtSched)k, t, sizeof t);
            if (strcmp(t, text) == 0) {
                *idx = i;
                *s = (RtSched)k;
                return true;
            }
        }
    return false;
}

static void tune_key(const lac_variant *lv, const char *cls, TuneKey *k)
{
    const lac_context *cx = lv->cx;
    memset(k, 0, sizeof *k);
    snprintf(k->variant, sizeof k->variant, "%.16s", lv->hash);
    snprintf(k->kernel, sizeof k->kernel, "fwd");
    snprintf(k->shape_class, sizeof k->shape_class, "%s", cls);
    snprintf(k->gpu, sizeof k->gpu, "%s", cx->cu.name);
    snprintf(k->cc, sizeof k->cc, "%d.%d", cx->cu.cc_major, cx->cu.cc_minor);
    snprintf(k->driver, sizeof k->driver, "%d", cx->cu.driver_version);
    snprintf(k->lac, sizeof k->lac, "%s", LAC_VERSION_STRING);
}

static void choice_keep(lac_variant *lv, const RtChoice *ch)
{
    for (int i = 0; i < lv->nchoices; i++)
        if (strcmp(lv->choices[i].shape_class, ch->shape_class) == 0) {
            lv->choices[i] = *ch;
            return;
        }
    if (lv->nchoices == lv->capchoices) {
        int cap = lv->capchoices ? 2 * lv->capchoices : 8;
        RtChoice *n = realloc(lv->choices, sizeof *n * (size_t)cap);
        if (!n) return; /* not remembered: chosen again next time */
        lv->choices = n;
        lv->capchoices = cap;
    }
    lv->choices[lv->nchoices++] = *ch;
}

static void result_fill(const lac_variant *lv, const RtChoice *ch, lac_tune_result *r)
{
    if (!r) return;
    config_text(lv, ch->config, ch->sched, r->config, sizeof r->config);
    snprintf(r->shape_class, sizeof r->shape_class, "%s", ch->shape_class);
    r->ms = ch->ms;
    r->from_database = ch->from_db;
}

/* ------------------------------------------------------------------------
 * Building every configuration, in parallel
 * ------------------------------------------------------------------------ */

typedef struct BuildPool {
    lac_variant *lv;
    const CudaCtx *base;
    pthread_mutex_t mu;
    int next;
    int done;
} BuildPool;

static void *build_worker(void *arg)
{
    BuildPool *p = arg;
    CudaCtx c = *p->base;
    cuda_error_clear(&c);
    if (c.api.cuCtxSetCurrent(c.ctx) != CUDA_SUCCESS) return NULL;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->lv->nconfigs) break;
        rt_module_build(p->lv, i, &c);
        const RtModule *m = &p->lv->mods[i];
        char cfg[160];
        kernel_config_format(&m->kc, cfg, sizeof cfg);
        pthread_mutex_lock(&p->mu);
        p->done++;
        if (m->state == 1 && m->jit_ms > 0)
            rt_say(p->lv->cx, "[%d/%d] %s: %s in %.0f ms (PTX %.0f, JIT %.0f), %d registers", p->done,
                   p->lv->nconfigs, cfg, m->source, m->build_ms, m->compile_ms, m->jit_ms, m->registers[KK_FULL]);
        else if (m->state == 1)
            rt_say(p->lv->cx, "[%d/%d] %s: %s in %.0f ms, %d registers", p->done, p->lv->nconfigs, cfg, m->source,
                   m->build_ms, m->registers[KK_FULL]);
        else
            rt_say(p->lv->cx, "[%d/%d] %s: pruned: %.300s", p->done, p->lv->nconfigs, cfg, m->why ? m->why : "?");
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static void build_all(lac_variant *lv, const CudaCtx *c)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = lv->nconfigs < RT_TUNE_MAX_THREADS ? lv->nconfigs : RT_TUNE_MAX_THREADS;
    if (ncpu > 0 && nthreads > ncpu) nthreads = (int)ncpu;
    if (nthreads < 1) nthreads = 1;
    BuildPool p = {lv, c, PTHREAD_MUTEX_INITIALIZER, 0, 0};
    pthread_t th[RT_TUNE_MAX_THREADS];
    int started = 0;
    /* LLVM recurses deeply: give builders a stack of their own size rather
     * than whatever default the host process set for its threads. */
    pthread_attr_t attr;
    bool have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr) pthread_attr_setstacksize(&attr, (size_t)16 << 20);
    for (int i = 1; i < nthreads; i++)
        if (pthread_create(&th[started], have_attr ? &attr : NULL, build_worker, &p) == 0) started++;
    if (have_attr) pthread_attr_destroy(&attr);
    build_worker(&p); /* this thread works too */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
}

/* ------------------------------------------------------------------------
 * Scratch inputs of the caller's shape
 * ------------------------------------------------------------------------ */

typedef struct Scratch {
    CUdeviceptr in[KERNEL_MAX_PARAMS];
    int ninputs;
    CUdeviceptr o, ws;
    size_t ws_bytes;
} Scratch;

static void scratch_free(CudaCtx *c, Scratch *s)
{
    for (int i = 0; i < s->ninputs; i++) cuda_free(c, s->in[i]);
    cuda_free(c, s->o);
    cuda_free(c, s->ws);
    memset(s, 0, sizeof *s);
}

/* Values of one input, encoded in its dtype, from the reference's random
 * inputs (so gates are in range) of a small problem; token inputs repeat
 * that block over B x T. */
static lac_status scratch_input(lac_variant *lv, CudaCtx *c, int i, int B, int T, int H, CUdeviceptr *out)
{
    const Variant *v = lv->v;
    const Symbol *y = v->inputs[i];
    int Tp = T < RT_SCRATCH_TOKENS ? T : RT_SCRATCH_TOKENS;
    bool token = y->layout == LAYOUT_TOKEN || y->layout == LAYOUT_TOKEN_VEC;
    size_t block_n = ref_input_numel(v, i, 1, Tp, H);
    size_t total_n = token ? ref_input_numel(v, i, B, T, H) : block_n;
    int es = dtype_size(y->dtype);
    double **vals = calloc((size_t)v->ninputs, sizeof *vals);
    unsigned char *enc = malloc(block_n * (size_t)es);
    lac_status st = LAC_OK;
    bool ok = vals && enc;
    for (int k = 0; ok && k < v->ninputs; k++) ok = (vals[k] = malloc(ref_input_numel(v, k, 1, Tp, H) * sizeof(double))) != NULL;
    if (!ok) {
        st = rt_fail(LAC_ERR_INTERNAL, "out of host memory for tuning inputs");
        goto out;
    }
    RefProblem p = {1, Tp, H, vals, NULL, NULL, NULL, NULL, NULL};
    ref_fill_inputs(v, &p, 0x1ac + (uint64_t)i);
    for (size_t k = 0; k < block_n; k++) {
        double x = vals[i][k];
        if (y->dtype == DT_BF16) {
            uint16_t h = fp_bf16_from_double(x);
            memcpy(enc + 2 * k, &h, 2);
        } else if (y->dtype == DT_F16) {
            uint16_t h = fp_f16_from_double(x);
            memcpy(enc + 2 * k, &h, 2);
        } else {
            float f = fp_f32_from_double(x);
            memcpy(enc + 4 * k, &f, 4);
        }
    }
    size_t block = block_n * (size_t)es, total = total_n * (size_t)es;
    CudaStatus cs = cuda_alloc(c, out, total);
    if (cs == CS_OK) cs = cuda_upload(c, *out, enc, block < total ? block : total);
    /* Double what is filled until the tensor is: the block repeats. */
    for (size_t filled = block; cs == CS_OK && filled < total; filled *= 2)
        cs = cuda_copy_d2d(c, *out + filled, *out, filled < total - filled ? filled : total - filled);
    if (cs != CS_OK) st = rt_cuda_fail(c, cs, "allocating the tuning inputs");
out:
    if (vals)
        for (int k = 0; k < v->ninputs; k++) free(vals[k]);
    free(vals);
    free(enc);
    return st;
}

static lac_status scratch_make(lac_variant *lv, CudaCtx *c, int B, int T, int H, Scratch *s)
{
    const Variant *v = lv->v;
    memset(s, 0, sizeof *s);
    for (int i = 0; i < v->ninputs; i++) {
        lac_status st = scratch_input(lv, c, i, B, T, H, &s->in[i]);
        s->ninputs = i + 1;
        if (st != LAC_OK) return st;
    }
    size_t o = (size_t)B * T * H * (size_t)v->dv * (size_t)dtype_size(fwd_io_dtype(v));
    size_t ws = 0;
    for (int i = 0; i < lv->nconfigs; i++) {
        const RtModule *m = &lv->mods[i];
        if (m->state != 1 || !m->fn[KK_SPLIT_STATE]) continue;
        int nseg, seglen, nout;
        fwd_split_plan(&m->meta[KK_SPLIT_STATE], B, T, H, c->sm_count, &m->per_sm[KK_SPLIT_STATE], 0, 0, &nseg, &seglen,
                       &nout);
        size_t need = fwd_split_ws_bytes(&m->meta[KK_SPLIT_STATE], B, H, nseg);
        if (need > ws) ws = need;
    }
    CudaStatus cs = cuda_alloc(c, &s->o, o);
    if (cs == CS_OK) cs = cuda_alloc(c, &s->ws, ws);
    if (cs != CS_OK) return rt_cuda_fail(c, cs, "allocating the tuning outputs");
    s->ws_bytes = ws;
    return LAC_OK;
}

/* The L2 flush buffer: twice the L2 (at least 64 MiB), kept by the context. */
static lac_status flush_get(lac_context *cx, CudaCtx *c, CUdeviceptr *buf, size_t *bytes)
{
    size_t want = 2 * (size_t)(cx->cu.l2_bytes > 0 ? cx->cu.l2_bytes : 50 << 20);
    if (want < ((size_t)64 << 20)) want = (size_t)64 << 20;
    pthread_mutex_lock(&cx->mu);
    lac_status st = LAC_OK;
    if (!cx->flush) {
        CudaStatus cs = cuda_alloc(c, &cx->flush, want);
        if (cs != CS_OK) st = rt_cuda_fail(c, cs, "allocating the L2 flush buffer");
        else cx->flush_bytes = want;
    }
    *buf = cx->flush;
    *bytes = cx->flush_bytes;
    pthread_mutex_unlock(&cx->mu);
    return st;
}

/* ------------------------------------------------------------------------
 * Timing
 * ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of RT_TUNE_REPS timed launches; LAC_ERR_LAUNCH and friends
 * when a launch fails (the caller prunes the candidate). */
static lac_status time_candidate(lac_variant *lv, CudaCtx *c, int i, RtSched s, const FwdArgs *a, const Scratch *sc,
                                 CUdeviceptr flush, size_t flush_bytes, double *median)
{
    CUevent e0 = NULL, e1 = NULL;
    lac_status st = LAC_OK;
    if (cuda_event_create(c, &e0) != CS_OK || cuda_event_create(c, &e1) != CS_OK) {
        st = rt_cuda_fail(c, c->err.status, "creating timing events");
        goto out;
    }
    for (int w = 0; w < RT_TUNE_WARMUP && st == LAC_OK; w++) st = rt_launch(lv, c, i, s, a, sc->ws, sc->ws_bytes);
    if (st == LAC_OK && cuda_sync(c) != CS_OK) st = rt_cuda_fail(c, c->err.status, "running a tuning candidate");
    double ms[RT_TUNE_REPS];
    for (int r = 0; r < RT_TUNE_REPS && st == LAC_OK; r++) {
        float t = 0;
        CudaStatus cs = cuda_memset8(c, flush, (unsigned char)r, flush_bytes);
        if (cs == CS_OK) cs = cuda_event_record(c, e0);
        if (cs != CS_OK) {
            st = rt_cuda_fail(c, cs, "flushing the L2");
            break;
        }
        st = rt_launch(lv, c, i, s, a, sc->ws, sc->ws_bytes);
        if (st != LAC_OK) break;
        cs = cuda_event_record(c, e1);
        if (cs == CS_OK) cs = cuda_event_elapsed(c, e0, e1, &t);
        if (cs != CS_OK) st = rt_cuda_fail(c, cs, "timing a tuning candidate");
        ms[r] = t;
    }
    if (st == LAC_OK) {
        qsort(ms, RT_TUNE_REPS, sizeof ms[0], cmp_double);
        *median = ms[RT_TUNE_REPS / 2];
    }
out:
    cuda_event_destroy(c, e0);
    cuda_event_destroy(c, e1);
    return st;
}

/* Why a ready module cannot run on this device, or NULL. */
static const char *device_prune(const lac_variant *lv, int i, const CudaCtx *c, char *buf, size_t n)
{
    const RtModule *m = &lv->mods[i];
    for (int k = 0; k < 3; k++) {
        if (!m->fn[k]) continue;
        long regs = (long)m->registers[k] * m->meta[k].threads;
        if (regs > RT_SM_REGISTERS) {
            snprintf(buf, n, "%.100s needs %ld registers per block; a multiprocessor has %d", m->meta[k].name, regs,
                     RT_SM_REGISTERS);
            return buf;
        }
        if (m->meta[k].threads > c->max_threads_per_block) {
            snprintf(buf, n, "%.100s has %d threads per block; %.80s allows %d", m->meta[k].name, m->meta[k].threads,
                     c->name, c->max_threads_per_block);
            return buf;
        }
    }
    return NULL;
}

static lac_status tune_run(lac_variant *lv, CudaCtx *c, int B, int T, int H, const char *cls, RtChoice *best,
                           lac_tune_result *res)
{
    lac_context *cx = lv->cx;
    double t0 = rt_now();
    rt_say(cx, "tuning %s for %s (B=%d T=%d H=%d) on %s: %d configurations", lv->v->name, cls, B, T, H, cx->cu.name,
           lv->nconfigs);
    build_all(lv, c);
    Scratch sc;
    CUdeviceptr flush = 0;
    size_t flush_bytes = 0;
    lac_status st = scratch_make(lv, c, B, T, H, &sc);
    if (st == LAC_OK) st = flush_get(cx, c, &flush, &flush_bytes);
    if (st != LAC_OK) {
        scratch_free(c, &sc);
        return st;
    }
    FwdArgs a = {sc.in, lv->v->ninputs, sc.o, 0, 0, 0, 0, B, T, H, 0, 1, 0, 0};
    int ntimed = 0, npruned = 0;
    best->config = -1;
    best->ms = 0;
    for (int i = 0; i < lv->nconfigs; i++) {
        if (lv->mods[i].state != 1) {
            npruned++;
            continue;
        }
        char why[256];
        if (device_prune(lv, i, c, why, sizeof why)) {
            npruned++;
            rt_say(cx, "  pruned: %s", why);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            RtSched s = (RtSched)k;
            if (!rt_sched_ok(lv, i, s, B, T, H, c->sm_count)) continue;
            double ms = 0;
            char text[256];
            config_text(lv, i, s, text, sizeof text);
            lac_status ts = time_candidate(lv, c, i, s, &a, &sc, flush, flush_bytes, &ms);
            if (ts != LAC_OK) {
                /* A fault poisons the context: nothing else can run. */
                if (ts == LAC_ERR_LAUNCH && cuda_sync(c) != CS_OK) {
                    scratch_free(c, &sc);
                    return ts;
                }
                npruned++;
                rt_say(cx, "  %s: failed: %s", text, lac_last_error());
                continue;
            }
            ntimed++;
            rt_say(cx, "  %-72s %8.4f ms", text, ms);
            if (best->config < 0 || ms < best->ms) {
                best->config = i;
                best->sched = s;
                best->ms = ms;
            }
        }
    }
    scratch_free(c, &sc);
    if (res) {
        res->candidates = ntimed;
        res->pruned = npruned;
    }
    if (best->config < 0) {
        const char *why = lv->nconfigs > 0 && lv->mods[0].why ? lv->mods[0].why : "no candidate ran";
        return rt_fail(lv->mods[0].state == -1 ? lv->mods[0].fail_status : LAC_ERR_UNSUPPORTED,
                       "%s: no configuration of the tuning space runs on %s; the default's error:\n%s",
                       lv->src.name, cx->cu.name, why);
    }
    snprintf(best->shape_class, sizeof best->shape_class, "%s", cls);
    best->from_db = false;
    char text[256];
    config_text(lv, best->config, best->sched, text, sizeof text);
    rt_say(cx, "chose %s: %.4f ms (%d timed, %d pruned, %.1f s)", text, best->ms, ntimed, npruned, rt_now() - t0);
    return LAC_OK;
}

/* ------------------------------------------------------------------------
 * The choice
 * ------------------------------------------------------------------------ */

/* Without tuning: the default configuration, split when the state-on-chip
 * grid cannot fill the GPU. */
static lac_status choose_default(lac_variant *lv, CudaCtx *c, int B, int T, int H, RtChoice *ch)
{
    for (int i = 0; i < lv->nconfigs; i++) {
        rt_module_build(lv, i, c);
        if (lv->mods[i].state != 1) continue;
        const KernelMeta *m = &lv->mods[i].meta[KK_FULL];
        long blocks = (long)((m->dv + m->block_v - 1) / m->block_v) * B * H;
        ch->config = i;
        ch->sched = blocks < c->sm_count && rt_sched_ok(lv, i, RT_SCHED_SPLIT, B, T, H, c->sm_count) ? RT_SCHED_SPLIT
                                                                                                     : RT_SCHED_FULL;
        ch->ms = 0;
        ch->from_db = false;
        return LAC_OK;
    }
    const RtModule *m0 = &lv->mods[0];
    return rt_fail(m0->state == -1 ? m0->fail_status : LAC_ERR_INTERNAL, "%s: cannot build its kernels:\n%s",
                   lv->src.name, m0->why ? m0->why : "no configuration");
}

lac_status rt_choose(lac_variant *lv, CudaCtx *c, int B, int T, int H, bool force, bool may_tune, RtChoice *out,
                     lac_tune_result *res)
{
    lac_context *cx = lv->cx;
    double t0 = rt_now();
    char cls[64];
    tune_shape_class(B, T, H, lv->v->dk, lv->v->dv, dtype_name(fwd_io_dtype(lv->v)), cls, sizeof cls);
    if (!force)
        for (int i = 0; i < lv->nchoices; i++)
            if (strcmp(lv->choices[i].shape_class, cls) == 0) {
                *out = lv->choices[i];
                result_fill(lv, out, res);
                if (res) res->seconds = rt_now() - t0;
                return LAC_OK;
            }
    TuneKey key;
    tune_key(lv, cls, &key);
    TuneRecord rec;
    lac_status st;
    bool tune = may_tune && (force || cx->tune != LAC_TUNE_NEVER);
    if (!force && cx->tune != LAC_TUNE_FORCE && tunedb_lookup(cx->cache_dir, &key, &rec)) {
        int i;
        RtSched s;
        if (config_find(lv, rec.config, &i, &s)) {
            rt_module_build(lv, i, c);
            if (rt_sched_ok(lv, i, s, B, T, H, c->sm_count)) {
                RtChoice ch = {{0}, i, s, rec.ms, true};
                snprintf(ch.shape_class, sizeof ch.shape_class, "%s", cls);
                choice_keep(lv, &ch);
                *out = ch;
                result_fill(lv, out, res);
                if (res) res->seconds = rt_now() - t0;
                rt_say(cx, "%s %s: %s (tuning database; module from the %s in %.1f ms)", lv->v->name, cls, rec.config,
                       lv->mods[i].source ? lv->mods[i].source : "table", lv->mods[i].build_ms);
                return LAC_OK;
            }
        }
        rt_say(cx, "the tuning database's entry for %s (%s) does not fit this build: ignored", cls, rec.config);
    }
    RtChoice ch;
    memset(&ch, 0, sizeof ch);
    if (tune) {
        st = tune_run(lv, c, B, T, H, cls, &ch, res);
        if (st == LAC_ERR_OUT_OF_MEMORY) {
            /* Tuning needs scratch tensors of the caller's shape; without
             * the memory for them the forward can still run untuned. */
            rt_say(cx, "tuning %s: %s; using the default configuration", cls, lac_last_error());
            memset(&ch, 0, sizeof ch);
            st = choose_default(lv, c, B, T, H, &ch);
            if (st != LAC_OK) return st;
            snprintf(ch.shape_class, sizeof ch.shape_class, "%s", cls);
            *out = ch; /* not kept: tuned again when memory allows */
            result_fill(lv, out, res);
            return LAC_OK;
        }
        if (st != LAC_OK) return st;
        TuneRecord r;
        memset(&r, 0, sizeof r);
        r.key = key;
        config_text(lv, ch.config, ch.sched, r.config, sizeof r.config);
        r.ms = ch.ms;
        r.time = (long long)time(NULL);
        char err[1024];
        if (!tunedb_store(cx->cache_dir, &r, err, sizeof err)) rt_say(cx, "%s", err);
    } else {
        st = choose_default(lv, c, B, T, H, &ch);
        if (st != LAC_OK) return st;
    }
    snprintf(ch.shape_class, sizeof ch.shape_class, "%s", cls);
    choice_keep(lv, &ch);
    *out = ch;
    if (res) {
        int cand = res->candidates, pruned = res->pruned;
        result_fill(lv, out, res);
        res->candidates = cand;
        res->pruned = pruned;
        res->seconds = rt_now() - t0;
    }
    return LAC_OK;
}
