/*
 * gpu_harness.h: the pieces of lac_gpu_fwd that need no GPU, so that
 * `lac_gpu_fwd --self-test` can check them on any machine.
 *
 *   numerics.c  rounding tensors to bf16 / f16 / f32 and back; the comparison with
 *               the float64 reference (llm.c style: relative L2, max errors,
 *               |x - r| <= atol + rtol * |r|, the first mismatches)
 *   selftest.c  known values of the rounding, the lac-kernel comment and
 *               .entry parser, the comparison
 *   gpu_fwd.c   the command: front end, reference, launch, report, bench
 */
#ifndef LAC_GPU_HARNESS_H
#define LAC_GPU_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lac_cuda.h"
#include "rt_internal.h" /* the rounding: fp_bf16_from_double, ... */

/* Round x[0..n) to dt in place (x then holds exactly what the GPU reads)
 * and, when dev is not NULL, write the dt encoding to dev. */
void tensor_round(double *x, size_t n, KernelDType dt, void *dev);
/* Element i of a dt tensor, widened to double. */
double tensor_get(const void *dev, size_t i, KernelDType dt);
/* Element i still has every byte 0xFF: the poison written before the launch. */
bool tensor_is_poison(const void *dev, size_t i, KernelDType dt);

/* ---- comparison */

/* A tensor's tolerances. atol is absolute (the command derives its default
 * from the reference's RMS); failing elements are those with
 * !(|x - r| <= atol + rtol * |r|), so NaN fails. */
typedef struct CmpTol {
    double atol, rtol;
    double max_rel_l2; /* relative L2 error that still passes */
} CmpTol;

/* Default tolerances of a kernel whose o is `io`; atol is a fraction of the
 * reference's RMS (cmp_default_tol's atol_rms), so it follows the scale of o,
 * which grows with T for variants without normalization. */
typedef struct CmpDefaults {
    double atol_rms, rtol, max_rel_l2;
} CmpDefaults;
CmpDefaults cmp_defaults(KernelDType io);

#define CMP_MAX_SHOWN 8

typedef struct CmpStats {
    size_t n;
    size_t nfail;        /* outside the tolerance (NaN and poison included) */
    size_t nonfinite;    /* NaN or inf where the reference is finite, poison excluded */
    size_t poison;       /* never written: still 0xFF bytes */
    size_t first_poison; /* index of the first, when poison > 0 */
    double rel_l2;       /* sqrt(sum (x - r)^2 / sum r^2) over the finite elements */
    double max_abs;      /* over the finite elements */
    double max_rel;      /* |x - r| / |r| over the finite elements with |r| > atol */
    size_t max_abs_at;
    double ref_rms;
    size_t shown[CMP_MAX_SHOWN]; /* indices of the first failing elements */
    int nshown;
    bool pass;           /* nfail == 0 && rel_l2 <= max_rel_l2 */
} CmpStats;

/* Compare dev (n elements of dt) with ref under tol. */
void cmp_tensor(const void *dev, KernelDType dt, const double *ref, size_t n, const CmpTol *tol,
                CmpStats *s);
/* The RMS of ref (0 for n == 0). */
double cmp_rms(const double *ref, size_t n);

/* ---- self-test: prints each check, returns the number that failed. */
int selftest_run(void);

#endif /* LAC_GPU_HARNESS_H */
