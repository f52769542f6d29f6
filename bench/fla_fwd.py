#!/usr/bin/env python3
"""Forward-only timing of fla's ops, for the lac benchmark (bench/run_bench.sh).

fla's own inputs in its layout [B, T, H, D], bf16; gates logsigmoid(randn)/16
in fp32 (as in the shared baseline). Median of triton.testing.do_bench (which
clears the L2 between repetitions), and again as a CUDA graph
(do_bench_cudagraph), which removes fla's Python launch overhead. The first
call of each op autotunes (minutes on a cold machine); its time is printed.
Writes CSV rows: impl,op,B,T,H,D,config,ms,graph_ms.
"""
import argparse
import csv
import sys
import time

import torch
import torch.nn.functional as F
import triton.testing


def make_call(op, B, T, H, D):
    q, k, v = (torch.randn(B, T, H, D, device='cuda', dtype=torch.bfloat16) for _ in range(3))
    scale = D ** -0.5
    if op == 'linear':
        from fla.ops.linear_attn import chunk_linear_attn
        return lambda: chunk_linear_attn(q, k, v, scale=scale, normalize=False)
    if op == 'linear_norm':
        # fla's normalized form has no feature map: positive q and k keep q.z > 0.
        from fla.ops.linear_attn import chunk_linear_attn
        qp, kp = q.abs(), k.abs()
        return lambda: chunk_linear_attn(qp, kp, v, scale=scale, normalize=True)
    if op == 'gla':
        from fla.ops.gla import chunk_gla
        g = F.logsigmoid(torch.randn(B, T, H, D, device='cuda', dtype=torch.float32)) / 16
        return lambda: chunk_gla(q, k, v, g=g, scale=scale)
    if op == 'retnet':
        from fla.ops.retention import chunk_retention
        return lambda: chunk_retention(q, k, v, scale=scale)
    if op == 'simple_gla':
        from fla.ops.simple_gla import chunk_simple_gla
        g = F.logsigmoid(torch.randn(B, T, H, device='cuda', dtype=torch.float32)) / 16
        return lambda: chunk_simple_gla(q, k, v, g=g, scale=scale)
    raise SystemExit(f"unknown op {op}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--ops', default='linear,linear_norm,retnet,simple_gla,gla')
    p.add_argument('--shapes', required=True, help='B,T,H,D;B,T,H,D;...')
    p.add_argument('--csv', required=True)
    p.add_argument('--no-graph', action='store_true')
    a = p.parse_args()
    shapes = [tuple(int(x) for x in s.split(',')) for s in a.shapes.split(';') if s]
    with open(a.csv, 'a', newline='') as f:
        w = csv.writer(f)
        for op in a.ops.split(','):
            for (B, T, H, D) in shapes:
                try:
                    fn = make_call(op, B, T, H, D)
                    t0 = time.time()
                    with torch.no_grad():
                        fn()
                        torch.cuda.synchronize()
                        first = time.time() - t0
                        ms = triton.testing.do_bench(fn, warmup=25, rep=100)
                        gms = '' if a.no_graph else triton.testing.do_bench_cudagraph(fn, rep=20)
                except Exception as e:  # an op that fails is reported, not fatal
                    print(f"fla {op} {B},{T},{H},{D}: FAILED {type(e).__name__}: {e}", flush=True)
                    continue
                print(f"fla {op} B{B} T{T} H{H} D{D}: {ms:.4f} ms, graph {gms if gms == '' else f'{gms:.4f}'} ms "
                      f"(first call {first:.1f} s)", flush=True)
                w.writerow(['fla', op, B, T, H, D, 'fla', f"{ms:.5f}", '' if gms == '' else f"{gms:.5f}"])
                f.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
