// linear_naive.cu: a hand-written, obviously correct kernel of ABI v0 for
// dsl_examples/linear.la (q, k, v bf16 [B, T, H, 128]; scale 1/sqrt(128)),
// to test lac_gpu_fwd and the launch path on a GPU before the code
// generator emits its own kernels. Not fast: the recurrence token by token,
//
//   S_t = S_{t-1} + k_t^T v_t,   o_t = scale * q_t S_t,
//
// one thread per value column, that column of S (128 floats) in dynamic
// shared memory, q_t and k_t staged in static shared memory.
//
// tests/gpu/linear_naive.sh compiles it with nvcc -ptx and adds the
// lac-kernel comments; the result, linear_naive.ptx, is checked in, so the
// GPU machine needs no nvcc. Three configurations:
//   linear_naive_bv64      64 threads, block_v 64, 32 KiB, o bf16
//   linear_naive_bv128     128 threads, block_v 128, 64 KiB (above 48 KiB: the
//                          launch must raise the dynamic shared memory limit)
//   linear_naive_bv48_f32  64 threads, block_v 48 (the last of 3 value blocks
//                          is partial, 16 threads idle), 24 KiB, o f32
#include <cuda_bf16.h>

#define DK 128
#define DV 128

__device__ __forceinline__ void store(__nv_bfloat16 *p, float x) { *p = __float2bfloat16_rn(x); }
__device__ __forceinline__ void store(float *p, float x) { *p = x; }

template <int BV, typename Out>
__device__ void linear_fwd(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                           const __nv_bfloat16 *__restrict__ v, Out *__restrict__ o,
                           const float *__restrict__ s0, float *__restrict__ s_final, int B, int T,
                           int H)
{
    extern __shared__ float S[];          // [DK][BV]: column jl of S for each thread
    __shared__ float qs[DK], ks[DK];
    const float scale = rsqrtf((float)DK);
    const int jl = threadIdx.x, j = blockIdx.x * BV + jl;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const bool active = jl < BV && j < DV;
    (void)B;
    if (active)
        for (int i = 0; i < DK; i++)
            S[i * BV + jl] = s0 ? s0[((size_t)bh * DK + i) * DV + j] : 0.0f;
    for (int t = 0; t < T; t++) {
        const size_t tok = ((size_t)b * T + t) * H + h;
        for (int i = threadIdx.x; i < DK; i += blockDim.x) {
            qs[i] = __bfloat162float(q[tok * DK + i]);
            ks[i] = __bfloat162float(k[tok * DK + i]);
        }
        __syncthreads();
        if (active) {
            const float vj = __bfloat162float(v[tok * DV + j]);
            float acc = 0.0f;
            for (int i = 0; i < DK; i++) {
                const float s = S[i * BV + jl] + ks[i] * vj;
                S[i * BV + jl] = s;
                acc += qs[i] * s;
            }
            store(&o[tok * DV + j], acc * scale);
        }
        __syncthreads();
    }
    if (active && s_final)
        for (int i = 0; i < DK; i++) s_final[((size_t)bh * DK + i) * DV + j] = S[i * BV + jl];
}

#define KERNEL(NAME, BV, OUT)                                                                     \
    extern "C" __global__ void NAME(const __nv_bfloat16 *q, const __nv_bfloat16 *k,               \
                                    const __nv_bfloat16 *v, OUT *o, const float *s0,              \
                                    float *s_final, int B, int T, int H)                          \
    {                                                                                             \
        linear_fwd<BV, OUT>(q, k, v, o, s0, s_final, B, T, H);                                    \
    }

KERNEL(linear_naive_bv64, 64, __nv_bfloat16)
KERNEL(linear_naive_bv128, 128, __nv_bfloat16)
KERNEL(linear_naive_bv48_f32, 48, float)
