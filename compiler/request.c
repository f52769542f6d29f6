/*
 * request.c: a compile request, what `lac compile`, the runtime and the GPU
 * tests share: the --set NAME=VALUE list (param overrides and pinned tile
 * settings), checking a source with it, the configuration it asks for, and
 * the configurations of the tuning space it leaves open (docs/language.md
 * section 11).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_internal.h"

bool compile_sets_add(CompileSets *cs, const char *s, Arena *a)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) return false;
    char *end;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || errno || !isfinite(v)) return false;
    for (int k = 0; k < KNOB_COUNT_; k++) {
        const char *kn = knob_name(k);
        if (strlen(kn) == (size_t)(eq - s) && strncmp(kn, s, (size_t)(eq - s)) == 0) {
            if (v != floor(v) || v < 1 || v > 1 << 20) return false;
            cs->knob[k] = (int)v;
            cs->knob_text[k] = arena_strdup(a, s);
            return true;
        }
    }
    if (cs->novr >= cs->cap) return false;
    ParamOverride *p = &cs->ovr[cs->novr++];
    memset(p, 0, sizeof *p);
    p->name = arena_strndup(a, s, (size_t)(eq - s));
    p->value = v;
    p->is_int = strpbrk(eq + 1, ".eE") == NULL;
    return true;
}

Variant *compile_check(const SrcFile *src, const CompileSets *cs, Arena *a, Diags *d)
{
    /* Sema runs only on a file without syntax errors (as driver.c's
     * frontend_run), so one mistake is not reported twice. */
    AstFile *ast = parser_parse(src, a, d);
    if (d->nerrors > 0) return NULL;
    Variant *v = sema_check(ast, cs->ovr, cs->novr, a, d);
    return d->nerrors > 0 ? NULL : v;
}

/* The configuration to compile: the variant's default, with the tile
 * settings pinned by --set (checked like a tile statement, section 11). */
bool compile_config(const Variant *v, const CompileSets *cs, KernelConfig *kc, Diags *d)
{
    *kc = kernel_config_default(v);
    int *slot[KNOB_COUNT_] = {&kc->chunk, &kc->subchunk, &kc->block_k, &kc->block_v, &kc->warps, &kc->stages};
    bool ok = true;
    for (int k = 0; k < KNOB_COUNT_; k++) {
        if (!cs->knob[k]) continue;
        if (!sema_knob_ok(k, cs->knob[k])) {
            diag_error_noloc(d, "<command line>", "--set %s: this value is not allowed for %s (section 11 of "
                                                  "docs/language.md)",
                             cs->knob_text[k], knob_name(k));
            ok = false;
            continue;
        }
        *slot[k] = sema_knob_clamp(v, k, cs->knob[k]);
    }
    if (ok && kc->chunk % kc->subchunk != 0) {
        diag_error_noloc(d, "<command line>", "subchunk = %d does not divide chunk = %d (section 11)",
                         kc->subchunk, kc->chunk);
        ok = false;
    }
    return ok;
}

static bool config_eq(const KernelConfig *a, const KernelConfig *b)
{
    return a->chunk == b->chunk && a->subchunk == b->subchunk && a->block_k == b->block_k &&
           a->block_v == b->block_v && a->warps == b->warps && a->stages == b->stages;
}

int compile_configs(const Variant *v, const CompileSets *cs, KernelConfig *out, int max)
{
    const TuneSpace *ts = &v->tune;
    int nv[KNOB_COUNT_], vals[KNOB_COUNT_][LAC_MAX_TUNE_VALUES];
    long total = 1;
    for (int k = 0; k < KNOB_COUNT_; k++) {
        if (cs->knob[k]) {
            nv[k] = 1;
            vals[k][0] = sema_knob_clamp(v, k, cs->knob[k]);
        } else {
            nv[k] = ts->nvalues[k] > 0 ? ts->nvalues[k] : 1;
            for (int i = 0; i < nv[k]; i++) vals[k][i] = ts->nvalues[k] > 0 ? ts->values[k][i] : ts->tile[k];
        }
        total *= nv[k];
    }
    int n = 0;
    /* The default configuration first: it is what runs when nothing is tuned. */
    Diags quiet;
    Arena qa;
    arena_init(&qa);
    diags_init(&quiet, &qa);
    KernelConfig def;
    if (max > 0 && compile_config(v, cs, &def, &quiet)) out[n++] = def;
    arena_free(&qa);
    for (long idx = 0; idx < total && n < max; idx++) {
        int pick[KNOB_COUNT_];
        long r = idx;
        for (int k = KNOB_COUNT_ - 1; k >= 0; k--) {
            pick[k] = vals[k][r % nv[k]];
            r /= nv[k];
        }
        KernelConfig kc = {pick[KNOB_CHUNK], pick[KNOB_SUBCHUNK], pick[KNOB_BLOCK_K],
                           pick[KNOB_BLOCK_V], pick[KNOB_WARPS],   pick[KNOB_STAGES]};
        if (kc.chunk % kc.subchunk != 0) continue;
        bool dup = false;
        for (int i = 0; i < n && !dup; i++) dup = config_eq(&out[i], &kc);
        if (!dup) out[n++] = kc;
    }
    return n;
}

int compile_configs_one_stage(KernelConfig *cfgs, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        KernelConfig c = cfgs[i];
        c.stages = 1;
        bool dup = false;
        for (int j = 0; j < m && !dup; j++) dup = config_eq(&cfgs[j], &c);
        if (!dup) cfgs[m++] = c;
    }
    return m;
}

void kernel_config_format(const KernelConfig *kc, char *out, size_t n)
{
    snprintf(out, n, "chunk=%d subchunk=%d block_k=%d block_v=%d warps=%d stages=%d", kc->chunk, kc->subchunk,
             kc->block_k, kc->block_v, kc->warps, kc->stages);
}
