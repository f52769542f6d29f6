/*
 * numerics.c: what a GPU test needs between float64 and the GPU's formats.
 *
 * The reference runs in float64 on exactly the values the kernel reads, so
 * every input is first rounded to its declared dtype (runtime/fp.c). The
 * self-test checks that rounding against known values and against every
 * 16-bit pattern.
 */
#include <math.h>
#include <string.h>

#include "gpu_harness.h"

/* The rounding itself (fp_*) is the runtime's: runtime/fp.c. */

void tensor_round(double *x, size_t n, KernelDType dt, void *dev)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case KDT_BF16: {
            uint16_t h = fp_bf16_from_double(x[i]);
            x[i] = fp_bf16_to_double(h);
            if (dev) memcpy((char *)dev + 2 * i, &h, 2);
            break;
        }
        case KDT_F16: {
            uint16_t h = fp_f16_from_double(x[i]);
            x[i] = fp_f16_to_double(h);
            if (dev) memcpy((char *)dev + 2 * i, &h, 2);
            break;
        }
        case KDT_F32: {
            float f = fp_f32_from_double(x[i]);
            x[i] = f;
            if (dev) memcpy((char *)dev + 4 * i, &f, 4);
            break;
        }
        }
    }
}

double tensor_get(const void *dev, size_t i, KernelDType dt)
{
    uint16_t h;
    float f;
    switch (dt) {
    case KDT_BF16: memcpy(&h, (const char *)dev + 2 * i, 2); return fp_bf16_to_double(h);
    case KDT_F16: memcpy(&h, (const char *)dev + 2 * i, 2); return fp_f16_to_double(h);
    case KDT_F32: memcpy(&f, (const char *)dev + 4 * i, 4); return f;
    }
    return NAN;
}

bool tensor_is_poison(const void *dev, size_t i, KernelDType dt)
{
    int w = kernel_dtype_size(dt);
    const unsigned char *p = (const unsigned char *)dev + (size_t)w * i;
    for (int k = 0; k < w; k++)
        if (p[k] != 0xFF) return false;
    return true;
}

/* ------------------------------------------------------------------------
 * Comparison
 * ------------------------------------------------------------------------ */

/* bf16 keeps 8 significant bits (half an ulp: 2^-9 relative), f16 11, so
 * rounding o alone costs about 1e-3 and 1.5e-4 of relative L2; the rest is
 * the kernel's own 16-bit intermediates (tensor-core operands). The bf16
 * bar, 3e-3 relative L2, is the issue's. f32 allows TF32 matmuls. */
CmpDefaults cmp_defaults(KernelDType io)
{
    switch (io) {
    case KDT_BF16: return (CmpDefaults){2e-2, 2e-2, 3e-3};
    case KDT_F16: return (CmpDefaults){5e-3, 5e-3, 1e-3};
    case KDT_F32: return (CmpDefaults){2e-3, 2e-3, 5e-4};
    }
    return (CmpDefaults){2e-2, 2e-2, 3e-3};
}

double cmp_rms(const double *ref, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ref[i] * ref[i];
    return n ? sqrt(s / (double)n) : 0;
}

void cmp_tensor(const void *dev, KernelDType dt, const double *ref, size_t n, const CmpTol *tol,
                CmpStats *s)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->ref_rms = cmp_rms(ref, n);
    double sum_d2 = 0, sum_r2 = 0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], x = tensor_get(dev, i, dt), d = fabs(x - r);
        bool bad = !(d <= tol->atol + tol->rtol * fabs(r));
        if (tensor_is_poison(dev, i, dt)) {
            if (s->poison++ == 0) s->first_poison = i;
        } else if (!isfinite(x)) {
            s->nonfinite++;
        } else {
            sum_d2 += d * d;
            sum_r2 += r * r;
            if (d > s->max_abs) {
                s->max_abs = d;
                s->max_abs_at = i;
            }
            if (fabs(r) > tol->atol && d / fabs(r) > s->max_rel) s->max_rel = d / fabs(r);
        }
        if (bad) {
            if (s->nshown < CMP_MAX_SHOWN) s->shown[s->nshown++] = i;
            s->nfail++;
        }
    }
    s->rel_l2 = sum_r2 > 0 ? sqrt(sum_d2 / sum_r2) : sqrt(sum_d2);
    s->pass = s->nfail == 0 && s->rel_l2 <= tol->max_rel_l2;
}
