/*
 * fp.c: float64 to and from the GPU's formats, for the runtime (tuning
 * inputs, the reference's view of a kernel's inputs) and the GPU tests.
 *
 * The rounding is done directly from float64 with one rounding (not float64
 * -> float32 -> bf16, which rounds twice and can differ at ties), by one
 * routine for both 16-bit formats, parameterised by their exponent and
 * mantissa widths. tests/gpu/selftest.c checks it against known values and
 * every 16-bit pattern.
 */
#include <math.h>
#include <string.h>

#include "rt_internal.h"

/* ------------------------------------------------------------------------
 * Rounding
 * ------------------------------------------------------------------------ */

/* Encode x in a binary format with `eb` exponent bits and `mb` stored
 * mantissa bits (bf16: 8, 7; f16: 5, 10), rounding to nearest, ties to
 * even, with gradual underflow and overflow to infinity. */
static uint32_t fp_encode(double x, int eb, int mb)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t sign = (uint32_t)(u >> 63) << (eb + mb);
    uint32_t exp_all = ((1u << eb) - 1) << mb;
    if (isnan(x)) return sign | exp_all | (1u << (mb - 1)); /* quiet NaN */
    double a = fabs(x);
    if (isinf(a)) return sign | exp_all;
    if (a == 0) return sign;
    int bias = (1 << (eb - 1)) - 1, emin = 1 - bias;
    int e;
    frexp(a, &e); /* a = f * 2^e, f in [0.5, 1): a's leading bit is 2^(e - 1) */
    int E = e - 1 < emin ? emin : e - 1; /* below emin: subnormal, fixed quantum */
    /* Dividing by the quantum 2^(E - mb) is exact; m < 2^(mb + 1). */
    double m = ldexp(a, mb - E);
    double f = floor(m), rem = m - f;
    if (rem > 0.5 || (rem == 0.5 && fmod(f, 2) != 0)) f += 1;
    uint32_t mi = (uint32_t)f;
    if (mi >> (mb + 1)) { /* rounded up to the next power of two */
        mi >>= 1;
        E++;
    }
    uint32_t biased, mant;
    if (mi >> mb) { /* normal (also a subnormal that rounded up to the minimum normal) */
        biased = (uint32_t)(E + bias);
        mant = mi & ((1u << mb) - 1);
        if (biased >= (1u << eb) - 1) return sign | exp_all; /* overflow: infinity */
    } else {
        biased = 0;
        mant = mi;
    }
    return sign | biased << mb | mant;
}

static double fp_decode(uint32_t h, int eb, int mb)
{
    int bias = (1 << (eb - 1)) - 1;
    uint32_t e = (h >> mb) & ((1u << eb) - 1), mant = h & ((1u << mb) - 1);
    double s = (h >> (eb + mb)) & 1 ? -1.0 : 1.0;
    if (e == (1u << eb) - 1) return mant ? NAN : s * INFINITY;
    if (e == 0) return s * ldexp((double)mant, 1 - bias - mb);
    return s * ldexp((double)(mant | 1u << mb), (int)e - bias - mb);
}

uint16_t fp_bf16_from_double(double x) { return (uint16_t)fp_encode(x, 8, 7); }
double fp_bf16_to_double(uint16_t h) { return fp_decode(h, 8, 7); }
uint16_t fp_f16_from_double(double x) { return (uint16_t)fp_encode(x, 5, 10); }
double fp_f16_to_double(uint16_t h) { return fp_decode(h, 5, 10); }
/* C's conversion rounds to nearest even (the default floating-point
 * environment, which nothing here changes). */
float fp_f32_from_double(double x) { return (float)x; }

