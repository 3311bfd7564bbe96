"""Matmul GFLOP/s and sort/scan/gather times against NumPy (and MLX when
importable), measured in the same run. Prints peer_time / lmx_time ratios
(above 1 means lmx is faster). Not a test.
"""

import argparse

import numpy as np
from common import best_of, mlx

import lmx.core as mx


def matmul_rows(sizes, repeat, rng):
    print(f"{'matmul':10} {'n':>5} {'lmx GF/s':>9} {'numpy GF/s':>10} {'lmx/np':>7}" +
          (f" {'mlx GF/s':>9} {'lmx/mlx':>8}" if mlx is not None else ""))
    for dtype in ("float32", "bfloat16"):
        for n in sizes:
            a = rng.standard_normal((n, n)).astype(np.float32)
            b = rng.standard_normal((n, n)).astype(np.float32)
            flops = 2 * n**3
            la, lb = mx.array(a).astype(getattr(mx, dtype)), mx.array(b).astype(getattr(mx, dtype))
            t_lmx = best_of(lambda: mx.eval(la @ lb), repeat)
            # NumPy has no bfloat16: its float32 rate is the reference for both.
            t_np = best_of(lambda: a @ b, repeat)
            row = f"{dtype:10} {n:>5} {flops / t_lmx / 1e9:9.1f} {flops / t_np / 1e9:10.1f} {t_np / t_lmx:7.2f}"
            if mlx is not None:
                ma, mb = mlx.array(a).astype(getattr(mlx, dtype)), mlx.array(b).astype(getattr(mlx, dtype))
                t_mlx = best_of(lambda: mlx.eval(ma @ mb), repeat)
                row += f" {flops / t_mlx / 1e9:9.1f} {t_mlx / t_lmx:8.2f}"
            print(row, flush=True)


CASES = {
    "sort": (lambda m, a, i: m.sort(a), lambda a, i: np.sort(a)),
    "argsort": (lambda m, a, i: m.argsort(a), lambda a, i: np.argsort(a, kind="stable")),
    "sort_rows": (lambda m, a, i: m.sort(a.reshape(-1, 1000), axis=1),
                  lambda a, i: np.sort(a.reshape(-1, 1000), axis=1)),
    "cumsum": (lambda m, a, i: m.cumsum(a), lambda a, i: np.cumsum(a)),
    "take": (lambda m, a, i: m.take(a, i), lambda a, i: np.take(a, i)),
    "index_rows": (lambda m, a, i: a.reshape(-1, 1000)[i[: a.size // 1000]],
                   lambda a, i: a.reshape(-1, 1000)[i[: a.size // 1000]]),
}


def family_rows(sizes, repeat, rng):
    print(f"\n{'op':12} {'size':>9} {'lmx ms':>9} {'numpy ms':>9} {'np/lmx':>7}" +
          (f" {'mlx ms':>9} {'mlx/lmx':>8}" if mlx is not None else ""))
    for n in sizes:
        an = rng.standard_normal(n).astype(np.float32)
        idx = rng.integers(0, n // 1000, size=n).astype(np.int32)
        a, i = mx.array(an), mx.array(idx)
        for name, (fn, np_fn) in CASES.items():
            t_lmx = best_of(lambda: mx.eval(fn(mx, a, i)), repeat)
            t_np = best_of(lambda: np_fn(an, idx), repeat)
            row = f"{name:12} {n:>9} {t_lmx * 1e3:9.3f} {t_np * 1e3:9.3f} {t_np / t_lmx:7.2f}"
            if mlx is not None:
                ma, mi = mlx.array(an), mlx.array(idx)
                t_mlx = best_of(lambda: mlx.eval(fn(mlx, ma, mi)), repeat)
                row += f" {t_mlx * 1e3:9.3f} {t_mlx / t_lmx:8.2f}"
            print(row, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--matmul-sizes", default="256,1024,2048")
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    matmul_rows([int(s) for s in args.matmul_sizes.split(",")], args.repeat, rng)
    family_rows([int(float(s)) for s in args.sizes.split(",")], args.repeat, rng)


if __name__ == "__main__":
    main()
