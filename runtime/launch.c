/*
 * launch.c: the kernel ABI v0 and the launch of a forward kernel.
 *
 * The code generator describes each kernel it emits in one PTX comment,
 *
 *   // lac-kernel name=NAME threads=N smem=BYTES block_v=BV dk=DK dv=DV io=bf16|f16|f32
 *
 * and gives it the parameters (docs/design.md, section 8)
 *
 *   one pointer per Variant input (declaration order, declared dtype and layout),
 *   o [B, T, H, dv] (io dtype), s0 and s_final [B, H, dk, dv] (f32, or 0),
 *   int32 B, T, H
 *
 * launched on the grid (ceil(dv / block_v), B * H, 1) with `threads` threads
 * and `smem` bytes of dynamic shared memory. This file reads the comment and
 * the .entry's parameter list back from the PTX, so a mismatch between what
 * the generator wrote and what the launcher passes is an error message
 * before the launch, not a kernel reading garbage.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac_cuda.h"

const char *kernel_dtype_name(KernelDType t)
{
    switch (t) {
    case KDT_BF16: return "bf16";
    case KDT_F16: return "f16";
    case KDT_F32: return "f32";
    }
    return "?";
}

int kernel_dtype_size(KernelDType t) { return t == KDT_F32 ? 4 : 2; }

/* ------------------------------------------------------------------------
 * The lac-kernel comment
 * ------------------------------------------------------------------------ */

static const char comment_tag[] = "lac-kernel";

/* The keys before KEY_REQUIRED_ must be there; the others have defaults. */
enum { KEY_NAME, KEY_THREADS, KEY_SMEM, KEY_BLOCK_V, KEY_DK, KEY_DV, KEY_IO, KEY_REQUIRED_,
       KEY_NORM = KEY_REQUIRED_, KEY_KIND, KEY_CHUNK, KEY_COUNT_ };
static const char *const key_names[KEY_COUNT_] = {"name", "threads", "smem", "block_v", "dk",
                                                  "dv", "io", "norm", "kind", "chunk"};

const char *kernel_kind_name(KernelKind k)
{
    static const char *const s[] = {"full", "split_state", "split_out"};
    return s[k];
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

static bool is_ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '$';
}

/* A decimal in [lo, hi]; no sign, no spaces. */
static bool parse_int(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 10) return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

bool kernel_meta_parse_line(const char *line, size_t len, KernelMeta *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->kind = KK_FULL;
    m->chunk = 64;
    size_t i = 0;
    while (i < len && is_blank(line[i])) i++;
    if (i + 1 < len && line[i] == '/' && line[i + 1] == '/') {
        i += 2;
        while (i < len && is_blank(line[i])) i++;
    }
    size_t tl = sizeof comment_tag - 1;
    if (len - i >= tl && memcmp(line + i, comment_tag, tl) == 0 &&
        (i + tl == len || is_blank(line[i + tl])))
        i += tl;
    bool seen[KEY_COUNT_] = {0};
    while (i < len) {
        while (i < len && is_blank(line[i])) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && !is_blank(line[i])) i++;
        const char *tok = line + start;
        size_t tn = i - start;
        const char *eq = memchr(tok, '=', tn);
        if (!eq || eq == tok) {
            snprintf(err, errlen, "expected KEY=VALUE, got '%.*s'", (int)tn, tok);
            return false;
        }
        size_t kn = (size_t)(eq - tok), vn = tn - kn - 1;
        const char *val = eq + 1;
        int key = -1;
        for (int k = 0; k < KEY_COUNT_; k++)
            if (strlen(key_names[k]) == kn && memcmp(key_names[k], tok, kn) == 0) key = k;
        if (key < 0) continue; /* a later ABI's key */
        if (seen[key]) {
            snprintf(err, errlen, "%s= is given twice", key_names[key]);
            return false;
        }
        seen[key] = true;
        bool ok = true;
        const char *want = "";
        switch (key) {
        case KEY_NAME:
            ok = vn > 0 && vn < KERNEL_NAME_MAX && !isdigit((unsigned char)val[0]);
            for (size_t j = 0; ok && j < vn; j++) ok = is_ident_char(val[j]);
            if (ok) memcpy(m->name, val, vn);
            want = "a PTX identifier";
            break;
        case KEY_THREADS:
            ok = parse_int(val, vn, 1, 1024, &m->threads);
            want = "1 to 1024";
            break;
        case KEY_SMEM:
            ok = parse_int(val, vn, 0, 1 << 30, &m->smem);
            want = "bytes, 0 to 2^30";
            break;
        case KEY_BLOCK_V:
            ok = parse_int(val, vn, 1, 65536, &m->block_v);
            want = "1 to 65536";
            break;
        case KEY_DK:
            ok = parse_int(val, vn, 1, 65536, &m->dk);
            want = "1 to 65536";
            break;
        case KEY_DV:
            ok = parse_int(val, vn, 1, 65536, &m->dv);
            want = "1 to 65536";
            break;
        case KEY_IO:
            if (vn == 4 && memcmp(val, "bf16", 4) == 0) m->io = KDT_BF16;
            else if (vn == 3 && memcmp(val, "f16", 3) == 0) m->io = KDT_F16;
            else if (vn == 3 && memcmp(val, "f32", 3) == 0) m->io = KDT_F32;
            else ok = false;
            want = "bf16, f16 or f32";
            break;
        case KEY_NORM:
            ok = parse_int(val, vn, 0, 1, &m->norm);
            want = "0 or 1";
            break;
        case KEY_KIND:
            ok = false;
            for (int k = KK_FULL; k <= KK_SPLIT_OUT; k++)
                if (strlen(kernel_kind_name(k)) == vn && memcmp(val, kernel_kind_name(k), vn) == 0) {
                    m->kind = k;
                    ok = true;
                }
            want = "full, split_state or split_out";
            break;
        case KEY_CHUNK:
            ok = parse_int(val, vn, 1, 4096, &m->chunk);
            want = "1 to 4096";
            break;
        }
        if (!ok) {
            snprintf(err, errlen, "%s=%.*s: expected %s", key_names[key], (int)vn, val, want);
            return false;
        }
    }
    for (int k = 0; k < KEY_REQUIRED_; k++) {
        if (!seen[k]) {
            snprintf(err, errlen, "%s= is missing (the line needs name, threads, smem, block_v, "
                                  "dk, dv and io)", key_names[k]);
            return false;
        }
    }
    return true;
}

/* Is this line a lac-kernel comment? "//", blanks, the tag, then a blank. */
static bool is_meta_line(const char *s, size_t n)
{
    size_t i = 0, tl = sizeof comment_tag - 1;
    while (i < n && is_blank(s[i])) i++;
    if (i + 1 >= n || s[i] != '/' || s[i + 1] != '/') return false;
    i += 2;
    while (i < n && is_blank(s[i])) i++;
    /* The bare tag is a comment of the ABI too (one whose keys are missing). */
    return n - i >= tl && memcmp(s + i, comment_tag, tl) == 0 && (n - i == tl || is_blank(s[i + tl]));
}

/* ------------------------------------------------------------------------
 * The .entry's parameter list: a small PTX scanner
 * ------------------------------------------------------------------------ */

typedef struct Scan {
    const char *s;
    size_t pos, len;
} Scan;

/* The next token: a word ([.%$_A-Za-z0-9]+) or one punctuation byte.
 * Comments and quoted strings are skipped. Returns its length, 0 at the end. */
static size_t scan_next(Scan *sc, const char **tok)
{
    const char *s = sc->s;
    for (;;) {
        while (sc->pos < sc->len && isspace((unsigned char)s[sc->pos])) sc->pos++;
        if (sc->pos + 1 < sc->len && s[sc->pos] == '/' && s[sc->pos + 1] == '/') {
            while (sc->pos < sc->len && s[sc->pos] != '\n') sc->pos++;
        } else if (sc->pos + 1 < sc->len && s[sc->pos] == '/' && s[sc->pos + 1] == '*') {
            const char *end = strstr(s + sc->pos + 2, "*/");
            sc->pos = end ? (size_t)(end - s) + 2 : sc->len;
        } else if (sc->pos < sc->len && s[sc->pos] == '"') {
            sc->pos++;
            while (sc->pos < sc->len && s[sc->pos] != '"' && s[sc->pos] != '\n') sc->pos++;
            if (sc->pos < sc->len) sc->pos++;
        } else {
            break;
        }
    }
    if (sc->pos >= sc->len) return 0;
    size_t start = sc->pos;
    char ch = s[start];
    if (is_ident_char(ch) || ch == '.' || ch == '%') {
        while (sc->pos < sc->len && (is_ident_char(s[sc->pos]) || s[sc->pos] == '.' || s[sc->pos] == '%'))
            sc->pos++;
    } else {
        sc->pos++;
    }
    *tok = s + start;
    return sc->pos - start;
}

static bool tok_is(const char *t, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(t, word, n) == 0;
}

/* Bytes of a PTX scalar type (.u64, .b32, .f16, ...); 0 if not a type. */
static int ptx_type_bytes(const char *t, size_t n)
{
    if (n < 3 || t[0] != '.' || !strchr("usbf", t[1])) return 0;
    int bits = 0;
    if (!parse_int(t + 2, n - 2, 8, 64, &bits)) return 0;
    return bits == 8 || bits == 16 || bits == 32 || bits == 64 ? bits / 8 : 0;
}

/* Parse `( .param ..., ... )` after `.entry NAME` into m->nparams and sizes. */
static bool parse_params(Scan *sc, KernelMeta *m, char *err, size_t errlen)
{
    const char *t;
    size_t n = scan_next(sc, &t);
    m->nparams = 0;
    if (n == 0 || !tok_is(t, n, "(")) return true; /* `.entry f {`: no parameters */
    n = scan_next(sc, &t);
    if (n && tok_is(t, n, ")")) return true;
    for (;;) {
        if (!n || !tok_is(t, n, ".param")) {
            snprintf(err, errlen, ".entry %s: expected .param in the parameter list, got '%.*s'",
                     m->name, (int)(n ? n : 3), n ? t : "EOF");
            return false;
        }
        if (m->nparams == KERNEL_MAX_PARAMS) {
            snprintf(err, errlen, ".entry %s: more than %d parameters", m->name, KERNEL_MAX_PARAMS);
            return false;
        }
        int bytes = 0, count = 1;
        for (;;) {
            n = scan_next(sc, &t);
            if (!n || tok_is(t, n, ",") || tok_is(t, n, ")")) break;
            if (tok_is(t, n, ".align")) {
                n = scan_next(sc, &t); /* its number */
                continue;
            }
            int b = ptx_type_bytes(t, n);
            if (b) bytes = b;
            if (tok_is(t, n, "[")) {
                n = scan_next(sc, &t);
                if (!parse_int(t, n, 1, 1 << 20, &count)) count = 0;
                n = scan_next(sc, &t); /* ] */
            }
        }
        if (bytes == 0 || count == 0) {
            snprintf(err, errlen, ".entry %s: cannot read the type of parameter %d", m->name,
                     m->nparams);
            return false;
        }
        m->param_bytes[m->nparams++] = bytes * count;
        if (!n) {
            snprintf(err, errlen, ".entry %s: the parameter list is not closed", m->name);
            return false;
        }
        if (tok_is(t, n, ")")) return true;
        n = scan_next(sc, &t);
    }
}

/* Find `.entry NAME` (outside comments) and read its parameters. */
static bool find_entry(const char *ptx, KernelMeta *m, char *err, size_t errlen)
{
    Scan sc = {ptx, 0, strlen(ptx)};
    const char *t;
    size_t n;
    while ((n = scan_next(&sc, &t)) != 0) {
        if (!tok_is(t, n, ".entry")) continue;
        n = scan_next(&sc, &t);
        if (n && tok_is(t, n, m->name)) return parse_params(&sc, m, err, errlen);
    }
    snprintf(err, errlen, "the PTX has no .entry %s (named by its lac-kernel comment, line %d)",
             m->name, m->line);
    return false;
}

int kernel_meta_parse(const char *ptx, KernelMeta *out, int max, char *err, size_t errlen)
{
    int count = 0, lineno = 0;
    for (const char *p = ptx; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (is_meta_line(p, n)) {
            if (count == max) {
                snprintf(err, errlen, "line %d: more than %d lac-kernel comments", lineno, max);
                return -1;
            }
            char why[256];
            if (!kernel_meta_parse_line(p, n, &out[count], why, sizeof why)) {
                snprintf(err, errlen, "line %d: bad lac-kernel comment: %s", lineno, why);
                return -1;
            }
            out[count].line = lineno;
            for (int i = 0; i < count; i++) {
                if (strcmp(out[i].name, out[count].name) == 0) {
                    snprintf(err, errlen, "line %d: a second lac-kernel comment for %s (the first is on line %d)",
                             lineno, out[count].name, out[i].line);
                    return -1;
                }
            }
            count++;
        }
        p += n + (nl ? 1 : 0);
    }
    for (int i = 0; i < count; i++)
        if (!find_entry(ptx, &out[i], err, errlen)) return -1;
    return count;
}

/* The parameters of the ABI: the pointers, then B, T, H, then (split) ws and seglen. */
static int abi_params(const KernelMeta *m, int ninputs, int *npointers)
{
    *npointers = ninputs + 3 + (m->norm ? 2 : 0);
    return *npointers + 3 + (m->kind != KK_FULL ? 2 : 0);
}

static const char *abi_param_name(const KernelMeta *m, int ninputs, int i)
{
    static const char *const ptrs[] = {"the pointer o", "the pointer s0", "the pointer s_final",
                                       "the pointer z0", "the pointer z_final"};
    static const char *const ints[] = {"int32 B", "int32 T", "int32 H"};
    int np;
    abi_params(m, ninputs, &np);
    if (i < ninputs) return "an input pointer";
    if (i < np) return ptrs[i - ninputs];
    if (i < np + 3) return ints[i - np];
    return i == np + 3 ? "the pointer ws" : "int32 seglen";
}

bool kernel_meta_check_abi(const KernelMeta *m, int ninputs, char *err, size_t errlen)
{
    int np, want = abi_params(m, ninputs, &np);
    if (m->nparams != want) {
        snprintf(err, errlen,
                 "kernel %s has %d parameters; the ABI of a%s%s kernel for a variant with %d inputs has "
                 "%d (the inputs, o, s0, s_final%s, B, T, H%s)",
                 m->name, m->nparams, m->norm ? " normalized" : "", m->kind == KK_FULL ? "" : " split",
                 ninputs, want, m->norm ? ", z0, z_final" : "", m->kind == KK_FULL ? "" : ", ws, seglen");
        return false;
    }
    for (int i = 0; i < want; i++) {
        int bytes = i < np || i == np + 3 ? 8 : 4;
        if (m->param_bytes[i] != bytes) {
            snprintf(err, errlen, "kernel %s: parameter %d is %d bytes; the ABI has %s there (%d bytes)",
                     m->name, i, m->param_bytes[i], abi_param_name(m, ninputs, i), bytes);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Launch
 * ------------------------------------------------------------------------ */

/* State segments an output segment takes. */
static int split_grp(int nseg, int nout) { return nout > 0 ? (nseg + nout - 1) / nout : 1; }

void fwd_grid(const KernelMeta *m, int B, int H, int nseg, int nout, unsigned grid[3])
{
    if (nout <= 0) nout = nseg;
    grid[0] = (unsigned)((m->dv + m->block_v - 1) / m->block_v);
    grid[1] = (unsigned)((long)B * H);
    if (m->kind == KK_FULL || nseg < 1) grid[2] = 1;
    else if (m->kind == KK_SPLIT_STATE) grid[2] = (unsigned)((nout - 1) * split_grp(nseg, nout));
    else grid[2] = (unsigned)nout;
}

void fwd_split_plan(const KernelMeta *m, int B, int T, int H, int sms, const int per_sm[2], int want_out,
                    int want_seg, int *nseg, int *seglen, int *nout)
{
    int C = m->chunk > 0 ? m->chunk : 64;
    int nch = (T + C - 1) / C;
    long blocks = (long)((m->dv + m->block_v - 1) / m->block_v) * B * H;
    if (blocks < 1) blocks = 1;
    if (sms <= 0) sms = 132;
    long wave_s = (long)sms * (per_sm[0] > 0 ? per_sm[0] : 1), wave_o = (long)sms * (per_sm[1] > 0 ? per_sm[1] : 1);
    int out = want_out;
    if (out <= 0) {
        /* The output pass in one wave (H200, linear at B1 T32768 H8, one
         * block an SM: 8 segments 0.153 ms, 9 0.239, 17 0.230). */
        long w = wave_o / blocks;
        out = (int)(w < 1 ? 1 : w > 64 ? 64 : w);
        if (out > nch / 4) out = nch / 4 > 0 ? nch / 4 : 1;
    }
    if (out > nch) out = nch;
    if (out < 1) out = 1;
    int cpo = (nch + out - 1) / out; /* chunks per output segment */
    out = (nch + cpo - 1) / cpo;
    int grp = 1;
    if (want_seg > 0) {
        grp = (want_seg + out - 1) / out;
    } else if (out > 1) {
        /* Finer state segments shorten the state pass (its chunks, in
         * waves) but give the last output block more records to combine:
         * about 12 state-pass chunks a record (H200, linear, warps 8,
         * block_v 64, stages 3, output segments of 64 chunks: at B2 T8192
         * H16, 2 output segments, 2 / 4 / 6 / 8 / 16 state segments took
         * 0.139 / 0.122 / 0.127 / 0.126 / 0.143 ms, so a record costs more
         * than 10 chunks; at B1 T32768 H8, 8 output segments, 8 / 16 / 24
         * / 32 took 0.148 / 0.158 / 0.185 / 0.192 ms). */
        long best = -1;
        for (int g = 1; g <= 8 && g * 4 <= cpo; g++) {
            long nst = (long)(out - 1) * g * blocks;
            long cost = (long)((cpo + g - 1) / g) * ((nst + wave_s - 1) / wave_s) + 12L * (out - 1) * g;
            if (best < 0 || cost < best) {
                best = cost;
                grp = g;
            }
        }
    }
    if (grp > cpo) grp = cpo;
    if (grp < 1) grp = 1;
    int cps = (cpo + grp - 1) / grp; /* chunks per state segment */
    *seglen = cps * C;
    *nseg = (nch + cps - 1) / cps;
    /* Output segments of grp state segments that cover the sequence. */
    grp = (cpo + cps - 1) / cps;
    *nout = (*nseg + grp - 1) / grp;
}

size_t fwd_split_ws_bytes(const KernelMeta *m, int B, int H, int nseg)
{
    size_t rec = (size_t)m->dk * m->dv + 2 * (size_t)m->dk;
    return (size_t)B * H * (size_t)(nseg > 0 ? nseg : 1) * rec * sizeof(float);
}

CudaStatus fwd_prepare(CudaCtx *c, CUfunction f, const KernelMeta *m, int *per_sm)
{
    *per_sm = 0;
    CudaFuncInfo fi;
    CudaStatus st = cuda_function_info(c, f, &fi);
    if (st != CS_OK) return st;
    if (m->threads > fi.max_threads)
        return cuda_error(c, CS_INVALID,
                          "kernel %s: threads=%d, but with %d registers per thread it can launch "
                          "at most %d",
                          m->name, m->threads, fi.registers, fi.max_threads);
    if ((long)m->smem + fi.static_smem > c->smem_optin)
        return cuda_error(c, CS_INVALID,
                          "kernel %s: smem=%d bytes of dynamic shared memory plus %d static is "
                          "more than the %d a block of %s may have",
                          m->name, m->smem, fi.static_smem, c->smem_optin, c->name);
    st = cuda_function_set_smem(c, f, m->smem);
    if (st != CS_OK) return st;
    CU_CHECK(c, cuOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, f, m->threads, (size_t)m->smem));
    return CS_OK;
}

CudaStatus fwd_launch(CudaCtx *c, CUfunction f, const KernelMeta *m, const FwdArgs *a)
{
    int np, want = abi_params(m, a->ninputs, &np);
    if (m->nparams != want)
        return cuda_error(c, CS_INVALID, "kernel %s has %d parameters, the launch passes %d",
                          m->name, m->nparams, want);
    if (a->B < 1 || a->T < 1 || a->H < 1)
        return cuda_error(c, CS_INVALID, "kernel %s: B, T and H must be positive (%d, %d, %d)",
                          m->name, a->B, a->T, a->H);
    if ((long)a->B * a->H > KERNEL_MAX_GRID_Y)
        return cuda_error(c, CS_INVALID,
                          "kernel %s: B * H = %ld is more than %d, the grid's y limit (the ABI "
                          "puts one (batch, head) per block row)",
                          m->name, (long)a->B * a->H, KERNEL_MAX_GRID_Y);
    if (m->kind != KK_FULL) {
        int C = m->chunk > 0 ? m->chunk : 64;
        if (!a->ws || a->nseg < 1 || a->seglen < C || a->seglen % C ||
            (long)a->nseg * a->seglen < a->T || (long)(a->nseg - 1) * a->seglen >= a->T)
            return cuda_error(c, CS_INVALID,
                              "kernel %s: a split needs a workspace and segments of whole chunks that "
                              "cover T = %d exactly (nseg %d, seglen %d, chunk %d)",
                              m->name, a->T, a->nseg, a->seglen, C);
        int nout = a->nout > 0 ? a->nout : a->nseg;
        if (nout > a->nseg || (long)(nout - 1) * split_grp(a->nseg, nout) >= a->nseg)
            return cuda_error(c, CS_INVALID,
                              "kernel %s: %d output segments of ceil(%d / %d) state segments each leave the "
                              "last one empty",
                              m->name, nout, a->nseg, nout);
    }
    /* cuLaunchKernel takes a pointer to each argument's value. */
    CUdeviceptr ptrs[KERNEL_MAX_PARAMS];
    void *params[KERNEL_MAX_PARAMS];
    int n = 0;
    for (int i = 0; i < a->ninputs; i++) ptrs[n++] = a->inputs[i];
    ptrs[n++] = a->o;
    ptrs[n++] = a->s0;
    ptrs[n++] = a->s_final;
    if (m->norm) {
        ptrs[n++] = a->z0;
        ptrs[n++] = a->z_final;
    }
    for (int i = 0; i < n; i++) params[i] = &ptrs[i];
    int32_t ints[5] = {a->B, a->T, a->H, 0, a->seglen};
    for (int i = 0; i < 3; i++) params[n + i] = &ints[i];
    CUdeviceptr ws = a->ws;
    params[n + 3] = &ws;
    params[n + 4] = &ints[4];
    unsigned grid[3], block[3] = {(unsigned)m->threads, 1, 1};
    fwd_grid(m, a->B, a->H, a->nseg, a->nout, grid);
    if (grid[2] == 0) return CS_OK; /* a state pass of one segment: nothing to do */
    return cuda_launch(c, f, grid, block, (unsigned)m->smem, params);
}
