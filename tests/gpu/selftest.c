/*
 * selftest.c: `lac_gpu_fwd --self-test`, the harness's CPU-only unit check.
 *
 * A GPU test is only as good as what it compares against, so the parts of
 * the harness that decide what "correct" means are checked on every machine
 * (ctest gpu_harness.selftest, label unit): the rounding of inputs to bf16
 * and f16 (known values, ties to even, NaN, infinities, subnormals, and a
 * round trip of every 16-bit pattern), the lac-kernel comment and .entry
 * parser that the launch trusts, and the comparison's counts.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gpu_harness.h"

static int nfailed, npassed;

static void check(bool ok, const char *what)
{
    if (ok) {
        npassed++;
    } else {
        nfailed++;
        printf("FAIL: %s\n", what);
    }
}

static void check_bits(const char *fmt, uint16_t got, uint16_t want, double x)
{
    char what[160];
    snprintf(what, sizeof what, "%s(%.17g) = 0x%04X, expected 0x%04X", fmt, x, got, want);
    check(got == want, what);
}

/* ---- bf16: 1 sign, 8 exponent (bias 127), 7 mantissa bits */
static void test_bf16(void)
{
    const struct {
        double x;
        uint16_t bits;
    } cases[] = {
        {1.0, 0x3F80},
        {-2.0, 0xC000},
        {0.0, 0x0000},
        {-0.0, 0x8000},
        {3.14159265358979, 0x4049},               /* 3.140625 */
        {1.0 + 0x1p-8, 0x3F80},                   /* tie, 1.0 is even: down */
        {1.0 + 3 * 0x1p-8, 0x3F82},               /* tie, 0x3F81 is odd: up */
        {1.0 + 0x1p-8 + 0x1p-30, 0x3F81},         /* just above the tie */
        {1.0 + 0x1p-8 - 0x1p-30, 0x3F80},         /* just below */
        {0x1.fep127, 0x7F7F},                     /* the largest finite */
        {0x1.ffp127, 0x7F80},                     /* tie with 2^128: odd, up to inf */
        {0x1.fefffffp127, 0x7F7F},                /* below the tie */
        {1e300, 0x7F80},
        {-1e300, 0xFF80},
        {INFINITY, 0x7F80},
        {-INFINITY, 0xFF80},
        {0x1p-126, 0x0080},                       /* the smallest normal */
        {0x1p-133, 0x0001},                       /* the smallest subnormal */
        {0x1p-134, 0x0000},                       /* tie with 0: even, down */
        {0x1p-134 + 0x1p-160, 0x0001},
        {3 * 0x1p-134, 0x0002},                   /* tie between 1 and 2: 2 */
        {-3 * 0x1p-134, 0x8002},
        {0x1p-126 - 0x1p-134, 0x0080},            /* tie, 0x7F odd: up to the smallest normal */
        {1e-300, 0x0000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bits("bf16", fp_bf16_from_double(cases[i].x), cases[i].bits, cases[i].x);
    uint16_t n = fp_bf16_from_double(NAN);
    check((n & 0x7F80) == 0x7F80 && (n & 0x7F) != 0, "bf16(NaN) is a NaN");
    check((n & 0x40) != 0, "bf16(NaN) is a quiet NaN");
    check(isnan(fp_bf16_to_double(0x7FC0)) && isnan(fp_bf16_to_double(0xFFFF)), "bf16 NaN decodes to NaN");
    check(fp_bf16_to_double(0x0001) == 0x1p-133, "bf16 0x0001 decodes to 2^-133");
    check(fp_bf16_to_double(0xC049) == -3.140625, "bf16 0xC049 decodes to -3.140625");
    /* Every non-NaN pattern survives decode -> encode, and the encoding
     * agrees with the usual float32 bit trick on exactly representable floats. */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        double d = fp_bf16_to_double((uint16_t)h);
        if (isnan(d)) continue;
        if (fp_bf16_from_double(d) != h) bad++;
    }
    check(bad == 0, "bf16: every non-NaN pattern round-trips");
    uint32_t state = 12345;
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        state = state * 1664525u + 1013904223u;
        uint32_t u = state;
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue;
        uint16_t trick = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
        if ((u & 0x7F800000u) == 0x7F800000u) trick = (uint16_t)(u >> 16); /* inf stays inf */
        if (fp_bf16_from_double(f) != trick) bad++;
    }
    check(bad == 0, "bf16: agrees with float32's round-to-nearest-even bit trick on 200000 floats");
}

/* ---- f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits */
static void test_f16(void)
{
    const struct {
        double x;
        uint16_t bits;
    } cases[] = {
        {1.0, 0x3C00},
        {-2.0, 0xC000},
        {-0.0, 0x8000},
        {0.1, 0x2E66},
        {1.0 / 3, 0x3555},
        {65504, 0x7BFF},               /* the largest finite */
        {65519.99, 0x7BFF},
        {65520, 0x7C00},               /* tie with 2^16: odd, up to inf */
        {-65520, 0xFC00},
        {1e10, 0x7C00},
        {INFINITY, 0x7C00},
        {-INFINITY, 0xFC00},
        {1.0 + 0x1p-11, 0x3C00},       /* tie: even, down */
        {1.0 + 3 * 0x1p-11, 0x3C02},   /* tie: 0x3C01 odd, up */
        {0x1p-14, 0x0400},             /* the smallest normal */
        {0x1p-24, 0x0001},             /* the smallest subnormal */
        {0x1p-25, 0x0000},             /* tie with 0: down */
        {0x1p-25 + 0x1p-40, 0x0001},
        {3 * 0x1p-25, 0x0002},         /* tie between 1 and 2: 2 */
        {0x3FFp-24, 0x03FF},           /* the largest subnormal */
        {0x1p-14 - 0x1p-25, 0x0400},   /* tie, 0x3FF odd: up to the smallest normal */
        {-5 * 0x1p-25, 0x8002},        /* tie between 2 and 3: 2 */
        {1e-300, 0x0000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bits("f16", fp_f16_from_double(cases[i].x), cases[i].bits, cases[i].x);
    uint16_t n = fp_f16_from_double(-NAN);
    check((n & 0x7C00) == 0x7C00 && (n & 0x3FF) != 0, "f16(NaN) is a NaN");
    check(isnan(fp_f16_to_double(0xFFFF)) && isnan(fp_f16_to_double(0x7E00)), "f16 NaN decodes to NaN");
    check(fp_f16_to_double(0x0001) == 0x1p-24, "f16 0x0001 decodes to 2^-24");
    check(fp_f16_to_double(0x03FF) == 0x3FFp-24, "f16 0x03FF decodes to 1023 * 2^-24");
    check(fp_f16_to_double(0xFBFF) == -65504, "f16 0xFBFF decodes to -65504");
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        double d = fp_f16_to_double((uint16_t)h);
        if (isnan(d)) continue;
        if (fp_f16_from_double(d) != h) bad++;
    }
    check(bad == 0, "f16: every non-NaN pattern round-trips");
    /* Midpoints between neighbours round to the even one. */
    bad = 0;
    for (uint32_t h = 0; h < 0x7BFF; h++) {
        double lo = fp_f16_to_double((uint16_t)h), hi = fp_f16_to_double((uint16_t)(h + 1));
        uint16_t even = (uint16_t)(h & 1 ? h + 1 : h);
        if (fp_f16_from_double((lo + hi) / 2) != even) bad++;
    }
    check(bad == 0, "f16: every midpoint rounds to the even neighbour");
}

static void test_tensor(void)
{
    double x[4] = {1.0 + 0x1p-11, 0.1, -65520, 0x1p-25};
    uint16_t dev[4];
    tensor_round(x, 4, KDT_F16, dev);
    check(dev[0] == 0x3C00 && dev[1] == 0x2E66 && dev[2] == 0xFC00 && dev[3] == 0,
          "tensor_round f16 writes the encodings");
    check(x[0] == 1.0 && x[1] == fp_f16_to_double(0x2E66) && isinf(x[2]) && x[3] == 0,
          "tensor_round f16 leaves the rounded values");
    double y[2] = {0.1, 1e40};
    float fdev[2];
    tensor_round(y, 2, KDT_F32, fdev);
    check(y[0] == (double)0.1f && fdev[0] == 0.1f && isinf(y[1]), "tensor_round f32");
    unsigned char poison[8];
    memset(poison, 0xFF, sizeof poison);
    check(tensor_is_poison(poison, 1, KDT_BF16) && isnan(tensor_get(poison, 1, KDT_BF16)) &&
              isnan(tensor_get(poison, 1, KDT_F32)) && isnan(tensor_get(poison, 0, KDT_F16)),
          "0xFF poison reads as NaN in every dtype");
    uint16_t canon = 0x7FFF; /* what cvt.rn.bf16.f32 makes of a NaN */
    check(!tensor_is_poison(&canon, 0, KDT_BF16), "a computed NaN is not poison");
}

/* ---- the lac-kernel comment */
static void test_meta_line(void)
{
    KernelMeta m;
    char err[256];
    const char *good = "// lac-kernel name=lac_gla_fwd_0 threads=128 smem=98304 block_v=64 dk=128 dv=128 io=bf16";
    bool ok = kernel_meta_parse_line(good, strlen(good), &m, err, sizeof err);
    check(ok && strcmp(m.name, "lac_gla_fwd_0") == 0 && m.threads == 128 && m.smem == 98304 &&
              m.block_v == 64 && m.dk == 128 && m.dv == 128 && m.io == KDT_BF16,
          "meta: a full line parses");
    const char *later = "  //\tlac-kernel io=f32 dv=64 dk=16 block_v=32 smem=0 threads=64 name=k future=1\r";
    ok = kernel_meta_parse_line(later, strlen(later), &m, err, sizeof err);
    check(ok && m.io == KDT_F32 && m.dv == 64 && m.smem == 0 && strcmp(m.name, "k") == 0,
          "meta: any key order, tabs, CR and unknown keys");
    check(ok && m.norm == 0 && m.kind == KK_FULL && m.chunk == 64, "meta: norm, kind and chunk have defaults");
    const char *split = "// lac-kernel name=k threads=256 smem=0 block_v=32 dk=16 dv=16 io=f16 norm=1 kind=split_out chunk=128";
    ok = kernel_meta_parse_line(split, strlen(split), &m, err, sizeof err);
    check(ok && m.norm == 1 && m.kind == KK_SPLIT_OUT && m.chunk == 128, "meta: norm, kind and chunk parse");
    const struct {
        const char *line, *msg;
    } bad[] = {
        {"// lac-kernel name=k threads=128 smem=0 block_v=64 dk=128 io=bf16", "dv= is missing"},
        {"// lac-kernel name=k threads=128 smem=0 block_v=64 dk=128 dv=128 io=fp8", "io=fp8: expected bf16, f16 or f32"},
        {"// lac-kernel name=k threads=2048 smem=0 block_v=64 dk=128 dv=128 io=bf16", "threads=2048: expected 1 to 1024"},
        {"// lac-kernel name=k threads=-1 smem=0 block_v=64 dk=128 dv=128 io=bf16", "threads=-1"},
        {"// lac-kernel name=k threads=128 smem=1k block_v=64 dk=128 dv=128 io=bf16", "smem=1k"},
        {"// lac-kernel name=k threads=128 smem=0 block_v=0 dk=128 dv=128 io=bf16", "block_v=0"},
        {"// lac-kernel name=k name=j threads=128 smem=0 block_v=64 dk=128 dv=128 io=bf16", "name= is given twice"},
        {"// lac-kernel name=9k threads=128 smem=0 block_v=64 dk=128 dv=128 io=bf16", "name=9k: expected a PTX identifier"},
        {"// lac-kernel name=k threads=128 smem=0 block_v=64 dk=128 dv=128 io=bf16 junk", "expected KEY=VALUE, got 'junk'"},
        {"// lac-kernel name=k threads=128 smem=0 block_v=64 dk=128 dv= io=bf16", "dv=: expected"},
        {"// lac-kernel name=k threads=128 smem=99999999999 block_v=64 dk=128 dv=128 io=bf16", "smem=99999999999"},
        {"// lac-kernel name=k threads=128 smem=0 block_v=64 dk=128 dv=128 io=bf16 kind=split", "kind=split: expected full, split_state or split_out"},
        {"// lac-kernel name=k threads=128 smem=0 block_v=64 dk=128 dv=128 io=bf16 norm=2", "norm=2: expected 0 or 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        ok = kernel_meta_parse_line(bad[i].line, strlen(bad[i].line), &m, err, sizeof err);
        char what[300];
        snprintf(what, sizeof what, "meta: rejects '%s' with '%s' (got '%s')", bad[i].line, bad[i].msg, err);
        check(!ok && strstr(err, bad[i].msg) != NULL, what);
    }
}

/* ---- whole PTX texts: comments, .entry parameter lists, ABI v0 */
static const char ptx_two[] =
    "//\n// Generated by lac\n//\n.version 8.5\n.target sm_90\n.address_size 64\n"
    "// lac-kernel name=fwd_a threads=128 smem=65536 block_v=64 dk=128 dv=128 io=bf16\n"
    "// lac-kernel name=fwd_b threads=256 smem=0 block_v=128 dk=128 dv=128 io=f16\n"
    "/* .entry fwd_b( a decoy in a comment ) */\n"
    "// .entry fwd_a(.param .u32 decoy)\n"
    ".visible .entry fwd_a(\n"
    "\t.param .u64 .ptr .global .align 16 fwd_a_param_0,\n"
    "\t.param .u64 fwd_a_param_1,\n\t.param .u64 fwd_a_param_2,\n"
    "\t.param .u64 fwd_a_param_3,\n\t.param .u64 fwd_a_param_4,\n\t.param .u64 fwd_a_param_5,\n"
    "\t.param .u32 fwd_a_param_6,\n\t.param .u32 fwd_a_param_7,\n\t.param .u32 fwd_a_param_8\n"
    ")\n{\n\tret;\n}\n"
    ".visible .entry fwd_b(.param .b64 p0, .param .b64 p1, .param .align 8 .b8 p2[16], .param .s32 p3)\n"
    "{\n\tret;\n}\n";

static void test_meta_ptx(void)
{
    KernelMeta m[4];
    char err[256] = "";
    int n = kernel_meta_parse(ptx_two, m, 4, err, sizeof err);
    check(n == 2, "ptx: two lac-kernel comments");
    if (n != 2) {
        printf("      (%d: %s)\n", n, err);
        return;
    }
    check(strcmp(m[0].name, "fwd_a") == 0 && m[0].line == 7 && m[1].io == KDT_F16 && m[1].line == 8,
          "ptx: names, lines, io");
    check(m[0].nparams == 9 && m[0].param_bytes[0] == 8 && m[0].param_bytes[5] == 8 &&
              m[0].param_bytes[6] == 4 && m[0].param_bytes[8] == 4,
          "ptx: fwd_a's parameters, qualifiers skipped, comments ignored");
    check(m[1].nparams == 4 && m[1].param_bytes[2] == 16 && m[1].param_bytes[3] == 4,
          "ptx: fwd_b's parameters, a .b8 array");
    check(kernel_meta_check_abi(&m[0], 3, err, sizeof err), "abi: fwd_a fits 3 inputs");
    check(!kernel_meta_check_abi(&m[0], 4, err, sizeof err) && strstr(err, "has 9 parameters; the ABI of a kernel for a variant with 4 inputs has 10"),
          "abi: fwd_a does not fit 4 inputs");
    KernelMeta nm = m[0];
    nm.norm = 1;
    check(!kernel_meta_check_abi(&nm, 3, err, sizeof err) && strstr(err, "normalized kernel") && strstr(err, "has 11 (the inputs, o, s0, s_final, z0, z_final, B, T, H)"),
          "abi: a normalized kernel has z0 and z_final");
    nm.norm = 0;
    nm.kind = KK_SPLIT_OUT;
    nm.nparams = 11;
    nm.param_bytes[9] = 8;
    nm.param_bytes[10] = 4;
    check(kernel_meta_check_abi(&nm, 3, err, sizeof err), "abi: a split kernel ends with ws and seglen");
    nm.param_bytes[9] = 4;
    check(!kernel_meta_check_abi(&nm, 3, err, sizeof err) && strstr(err, "parameter 9 is 4 bytes; the ABI has the pointer ws"),
          "abi: a split kernel's ws is a pointer");
    KernelMeta w = m[0];
    w.param_bytes[7] = 8;
    check(!kernel_meta_check_abi(&w, 3, err, sizeof err) && strstr(err, "parameter 7 is 8 bytes; the ABI has int32 T"),
          "abi: names the parameter that is wrong");
    w.param_bytes[7] = 4;
    w.param_bytes[4] = 4;
    check(!kernel_meta_check_abi(&w, 3, err, sizeof err) && strstr(err, "the pointer s0"),
          "abi: a 32-bit pointer is wrong");
    unsigned grid[3];
    fwd_grid(&m[0], 3, 5, 4, 0, grid);
    check(grid[0] == 2 && grid[1] == 15 && grid[2] == 1, "grid: (ceil(dv / block_v), B * H, 1)");
    m[0].block_v = 48;
    fwd_grid(&m[0], 1, 1, 1, 0, grid);
    check(grid[0] == 3, "grid: a partial last value block");
    KernelMeta sm = m[0];
    sm.kind = KK_SPLIT_STATE;
    fwd_grid(&sm, 1, 1, 4, 0, grid);
    check(grid[2] == 3, "grid: the state pass runs every segment but the last");
    fwd_grid(&sm, 1, 1, 1, 0, grid);
    check(grid[2] == 0, "grid: a state pass of one segment launches nothing");
    fwd_grid(&sm, 1, 1, 8, 3, grid);
    check(grid[2] == 6, "grid: 3 output segments of 3 state segments read 6 of the 8");
    KernelMeta om = m[0];
    om.kind = KK_SPLIT_OUT;
    fwd_grid(&om, 1, 1, 4, 0, grid);
    check(grid[2] == 4, "grid: the output pass has a segment per block layer");
    fwd_grid(&om, 1, 1, 8, 3, grid);
    check(grid[2] == 3, "grid: the output pass has nout layers");
    int nseg, seglen, nout;
    const int one[2] = {1, 1}, two[2] = {2, 1};
    /* dv 128 at block_v 48: 3 value blocks. */
    fwd_split_plan(&sm, 1, 32768, 8, 132, one, 0, 0, &nseg, &seglen, &nout);
    check(seglen % 64 == 0 && (long)nseg * seglen >= 32768 && (long)(nseg - 1) * seglen < 32768 && nout == 5 &&
              nseg == 5,
          "split plan: whole chunks covering T; 3 x 8 blocks a segment, 5 in one wave of 132, for both passes");
    fwd_split_plan(&sm, 1, 32768, 8, 132, two, 0, 0, &nseg, &seglen, &nout);
    check(nout == 5 && nseg == 10 && seglen == 3328,
          "split plan: two state blocks an SM, 2 state segments to an output segment, 4 x 24 x 2 = 192 of 264");
    fwd_split_plan(&sm, 2, 8192, 16, 132, one, 0, 0, &nseg, &seglen, &nout);
    check(nout == 1, "split plan: 96 blocks already fill the wave: one segment");
    fwd_split_plan(&sm, 1, 100, 8, 132, one, 0, 0, &nseg, &seglen, &nout);
    check(nout == 1 && nseg == 1 && seglen == 128, "split plan: a short sequence is one segment");
    fwd_split_plan(&sm, 1, 1000, 1, 132, one, 5, 0, &nseg, &seglen, &nout);
    check(nout == 4 && seglen == 256, "split plan: 16 chunks asked in 5 segments give 4 of 4 chunks");
    fwd_split_plan(&sm, 1, 1000, 1, 132, one, 2, 8, &nseg, &seglen, &nout);
    check(nout == 2 && nseg == 8 && seglen == 128, "split plan: 2 output segments of 4 state segments asked");
    /* The few-block shapes on an H200 (132 SMs; linear, block_v 64:
     * the state pass holds 2 blocks an SM, the output pass 1), where the
     * plan was measured (docs/performance.md): B1 T32768 H8, 16 blocks, 8
     * output segments and 8 state segments (0.150 ms; 16 state segments
     * 0.164); B2 T8192 H16, 64 blocks, 2 output segments and 4 to 8 state
     * segments (0.122 to 0.127 ms; 2 gave 0.138). */
    KernelMeta lm = sm;
    lm.dv = 128;
    lm.block_v = 64;
    const int h200[2] = {2, 1};
    fwd_split_plan(&lm, 1, 32768, 8, 132, h200, 0, 0, &nseg, &seglen, &nout);
    check(nout == 8 && nseg == 8, "split plan: B1 T32768 H8 on 132 SMs, 8 output and 8 state segments");
    fwd_split_plan(&lm, 2, 8192, 16, 132, h200, 0, 0, &nseg, &seglen, &nout);
    check(nout == 2 && nseg >= 4 && nseg <= 8, "split plan: B2 T8192 H16 on 132 SMs, 2 output and 4 to 8 state segments");
    fwd_split_plan(&lm, 4, 4096, 16, 132, h200, 0, 0, &nseg, &seglen, &nout);
    check(nout == 1, "split plan: B4 T4096 H16 fills the wave: no split");
    bool cover = true;
    for (int T = 1; T <= 3000 && cover; T += 37)
        for (int wo = 0; wo <= 9 && cover; wo += 3)
            for (int ws = 0; ws <= 20 && cover; ws += 5) {
                fwd_split_plan(&sm, 1, T, 8, 132, two, wo, ws, &nseg, &seglen, &nout);
                int g = (nseg + nout - 1) / nout;
                cover = seglen % 64 == 0 && (long)nseg * seglen >= T && (long)(nseg - 1) * seglen < T && nout >= 1 &&
                        nout <= nseg && (long)(nout - 1) * g < nseg;
                if (!cover) printf("      (T %d, want %d/%d: nseg %d, seglen %d, nout %d)\n", T, wo, ws, nseg, seglen, nout);
            }
    check(cover, "split plan: at every T and request, segments cover T and every output segment has work");
    check(fwd_split_ws_bytes(&sm, 2, 3, 4) == (size_t)2 * 3 * 4 * (128 * 128 + 2 * 128) * 4,
          "split workspace: a state, a normalizer and a decay per (b, h, segment)");

    n = kernel_meta_parse(".version 8.5\n.entry k() { ret; }\n", m, 4, err, sizeof err);
    check(n == 0, "ptx: no lac-kernel comment is 0 kernels");
    n = kernel_meta_parse("// lac-kernel name=k threads=1 smem=0 block_v=1 dk=1 dv=1 io=f32\n"
                          ".entry other(.param .u64 p) { ret; }\n",
                          m, 4, err, sizeof err);
    check(n < 0 && strstr(err, "no .entry k"), "ptx: a comment without its .entry");
    n = kernel_meta_parse("\n// lac-kernel name=k threads=1 smem=0 block_v=1 dk=1 dv=1 io=f64\n", m, 4, err, sizeof err);
    check(n < 0 && strstr(err, "line 2: bad lac-kernel comment: io=f64"), "ptx: a bad comment names its line");
    n = kernel_meta_parse("// lac-kernel name=k threads=1 smem=0 block_v=1 dk=1 dv=1 io=f32\n"
                          "// lac-kernel name=k threads=2 smem=0 block_v=1 dk=1 dv=1 io=f32\n"
                          ".entry k() { ret; }\n",
                          m, 4, err, sizeof err);
    check(n < 0 && strstr(err, "a second lac-kernel comment for k"), "ptx: a kernel described twice");
    n = kernel_meta_parse("// lac-kernel name=k threads=1 smem=0 block_v=1 dk=1 dv=1 io=f32\n"
                          ".entry k(.param .u64 a, .param .u64 b\n",
                          m, 4, err, sizeof err);
    check(n < 0 && strstr(err, "not closed"), "ptx: an unclosed parameter list");
    n = kernel_meta_parse("// lac-kernel-ish name=k\n// lac-kernels x\n// lac-kernel\n.entry k() {}\n", m, 4, err, sizeof err);
    check(n < 0 && strstr(err, "line 3"), "ptx: only '// lac-kernel ' lines are comments of the ABI");
}

/* ---- the comparison */
static void test_compare(void)
{
    double ref[6] = {1, -2, 3, 0, 10, -10};
    float dev[6] = {1, -2, 3.01f, 0.001f, 10, -10};
    CmpTol tol = {0.005, 0.001, 1e-2};
    CmpStats s;
    cmp_tensor(dev, KDT_F32, ref, 6, &tol, &s);
    check(s.nfail == 1 && s.shown[0] == 2 && s.nshown == 1, "cmp: 3.01 vs 3 fails at 0.005 + 0.001 * 3");
    check(fabs(s.max_abs - 0.01) < 1e-6 && s.max_abs_at == 2, "cmp: max abs error and where");
    check(fabs(s.rel_l2 - sqrt((0.01 * 0.01 + 1e-6) / 214)) < 1e-8, "cmp: relative L2");
    check(!s.pass, "cmp: a failing element fails the tensor");
    tol.atol = 0.02;
    cmp_tensor(dev, KDT_F32, ref, 6, &tol, &s);
    check(s.pass && s.nfail == 0, "cmp: passes with atol 0.02");
    tol.max_rel_l2 = 1e-4;
    cmp_tensor(dev, KDT_F32, ref, 6, &tol, &s);
    check(!s.pass && s.nfail == 0, "cmp: relative L2 above the bar fails");
    memset(&dev[4], 0xFF, 4);
    dev[5] = NAN;
    tol.max_rel_l2 = 1;
    cmp_tensor(dev, KDT_F32, ref, 6, &tol, &s);
    check(!s.pass && s.poison == 1 && s.first_poison == 4 && s.nonfinite == 1 && s.nfail == 2,
          "cmp: poison and NaN are counted apart, and fail");
    check(fabs(cmp_rms(ref, 6) - sqrt(214.0 / 6)) < 1e-12, "cmp: rms");
    CmpDefaults d = cmp_defaults(KDT_BF16);
    check(d.max_rel_l2 == 3e-3, "cmp: the bf16 bar is relative L2 3e-3");
}

int selftest_run(void)
{
    test_bf16();
    test_f16();
    test_tensor();
    test_meta_line();
    test_meta_ptx();
    test_compare();
    printf("lac_gpu_fwd --self-test: %d passed, %d failed\n", npassed, nfailed);
    return nfailed;
}
