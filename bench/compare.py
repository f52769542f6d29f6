#!/usr/bin/env python3
"""The forward comparison of issue 3: lac against fla, from run_bench.sh's CSV.

    bench/compare.py BENCH.csv [MORE.csv ...] [--png CHART.png] [--copy-tbs 4.3]

Rows: impl,op,B,T,H,D,config,ms,graph_ms. For lac, the best configuration
and schedule per (op, shape); for fla, the direct call (do_bench) and the
CUDA-graph replay (do_bench_cudagraph), the faster of which is fla's best.
Prints a markdown table: ms, GB/s of the bytes the op must move, the
fraction of the memory floor (bytes / copy bandwidth) and fla / lac. A row
of a later CSV replaces the same row of an earlier one; the `run` column says
which file each number came from. Draws the chart with matplotlib when --png
is given.
"""
import argparse
import csv
import sys

OPS = ['linear', 'linear_norm', 'retnet', 'simple_gla', 'gla']
FLA_NAME = {'linear': 'chunk_linear_attn(normalize=False)', 'linear_norm': 'chunk_linear_attn(normalize=True)',
            'retnet': 'chunk_retention', 'simple_gla': 'chunk_simple_gla', 'gla': 'chunk_gla'}


def bytes_moved(op, B, T, H, D):
    """q, k, v read and o written in bf16; the gates in f32."""
    n = B * T * H * D
    b = 4 * n * 2
    if op == 'gla':
        b += n * 4
    if op == 'simple_gla':
        b += B * T * H * 4
    return b


def main():
    p = argparse.ArgumentParser()
    p.add_argument('csv', nargs='+')
    p.add_argument('--png')
    p.add_argument('--copy-tbs', type=float, default=4.3,
                   help='device copy bandwidth in TB/s (read + write) for the floor')
    a = p.parse_args()
    lac, fla = {}, {}
    for run, path in enumerate(a.csv, 1):
        with open(path) as f:
            for r in csv.reader(f):
                if len(r) < 8 or r[0] not in ('lac', 'fla'):
                    continue
                impl, op = r[0], r[1]
                shape = tuple(int(x) for x in r[2:6])
                ms = float(r[7])
                gms = float(r[8]) if len(r) > 8 and r[8] else None
                key = (op, shape)
                if impl == 'lac':
                    best = lac.get(key)
                    if best is None or run > best[2] or (run == best[2] and ms < best[0]):
                        lac[key] = (ms, r[6], run)
                else:
                    fla[key] = (ms, gms, run)
    shapes = sorted({k[1] for k in lac} | {k[1] for k in fla}, key=lambda s: (s[3], -s[0], s[1]))
    print('| op | shape B,T,H,D | lac ms (config/schedule) | fla ms | fla graph ms | fla / lac | lac GB/s | lac / floor |')
    print('|---|---|---|---|---|---|---|---|')
    rows = []
    for op in OPS:
        for s in shapes:
            k = (op, s)
            if k not in lac and k not in fla:
                continue
            floor_ms = bytes_moved(op, *s) / (a.copy_tbs * 1e12) * 1e3
            l = lac.get(k)
            fl = fla.get(k)
            lac_ms = l[0] if l else None
            fla_best = min(x for x in (fl[0], fl[1]) if x) if fl else None
            ratio = fla_best / lac_ms if (fla_best and lac_ms) else None
            gbs = bytes_moved(op, *s) / (lac_ms * 1e-3) / 1e9 if lac_ms else None
            cell = lambda x, f='%.3f': (f % x) if x is not None else '-'
            lac_cell = '%.3f (%s, run %d)' % (l[0], l[1], l[2]) if l else '-'
            fla_cell = '%s (run %d)' % (cell(fl[0]), fl[2]) if fl else '-'
            print('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                op, ','.join(map(str, s)), lac_cell, fla_cell, cell(fl[1] if fl else None),
                cell(ratio, '%.2fx'), cell(gbs, '%.0f'), cell(lac_ms / floor_ms if lac_ms else None, '%.2fx')))
            rows.append((op, s, lac_ms, fla_best))
    if a.png:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(OPS), figsize=(4 * len(OPS), 4.2), sharey=False)
        for ax, op in zip(axes, OPS):
            rs = [r for r in rows if r[0] == op]
            labels = ['B%d T%d\nH%d D%d' % r[1] for r in rs]
            x = range(len(rs))
            ax.bar([i - 0.2 for i in x], [r[2] or 0 for r in rs], 0.4, label='lac', color='#2a6')
            ax.bar([i + 0.2 for i in x], [r[3] or 0 for r in rs], 0.4, label='fla (best of direct, graph)', color='#999')
            ax.set_xticks(list(x))
            ax.set_xticklabels(labels, fontsize=7)
            ax.set_title('%s (fla %s)' % (op, FLA_NAME[op]), fontsize=8)
            ax.set_ylabel('forward ms (lower is better)', fontsize=8)
        axes[0].legend(fontsize=7)
        fig.suptitle('lac vs fla forward, bf16, NVIDIA H200 (bench/run_bench.sh)', fontsize=10)
        fig.tight_layout()
        fig.savefig(a.png, dpi=110)
        print('\nchart: %s' % a.png)
    return 0


if __name__ == '__main__':
    sys.exit(main())
