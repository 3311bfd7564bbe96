"""Times op families against NumPy (and MLX when importable), same run.

Prints one row per (op, size): lmx time, peer times and the ratio
peer_time / lmx_time (above 1 means lmx is faster). Not a test.
"""

import argparse

import numpy as np
from common import best_of, mlx

import lmx.core as mx


# name -> (lmx/mlx function taking (lib, a, b), numpy function taking (a, b))
CASES = {
    "add": (lambda m, a, b: m.add(a, b), lambda a, b: np.add(a, b)),
    "multiply": (lambda m, a, b: m.multiply(a, b), lambda a, b: np.multiply(a, b)),
    "exp": (lambda m, a, b: m.exp(a), lambda a, b: np.exp(a)),
    "tanh": (lambda m, a, b: m.tanh(a), lambda a, b: np.tanh(a)),
    "maximum": (lambda m, a, b: m.maximum(a, b), lambda a, b: np.maximum(a, b)),
    "where": (lambda m, a, b: m.where(a > b, a, b), lambda a, b: np.where(a > b, a, b)),
    "sum": (lambda m, a, b: m.sum(a), lambda a, b: np.sum(a)),
    "sum_axis0": (lambda m, a, b: m.sum(a.reshape(-1, 1000), axis=0),
                  lambda a, b: np.sum(a.reshape(-1, 1000), axis=0)),
    "max": (lambda m, a, b: m.max(a), lambda a, b: np.max(a)),
    "argmax": (lambda m, a, b: m.argmax(a), lambda a, b: np.argmax(a)),
    "transpose_copy": (lambda m, a, b: m.contiguous(a.reshape(-1, 1000).T),
                       lambda a, b: np.ascontiguousarray(a.reshape(-1, 1000).T)),
    "concatenate": (lambda m, a, b: m.concatenate([a, b]), lambda a, b: np.concatenate([a, b])),
    "astype_f16": (lambda m, a, b: a.astype(m.float16), lambda a, b: a.astype(np.float16)),
}


def run_lib(lib, name, a, b, repeat):
    fn = CASES[name][0]
    return best_of(lambda: lib.eval(fn(lib, a, b)), repeat)


def small_op_overhead(lib, repeat=2000):
    a = lib.array([1.0])
    b = lib.array([2.0])

    def loop():
        for _ in range(repeat):
            lib.eval(lib.add(a, b))

    return best_of(loop, 3) / repeat


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1e3,1e5,1e6,1e7")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    header = f"{'op':16} {'size':>9} {'lmx ms':>9} {'numpy ms':>9} {'np/lmx':>7}"
    if mlx is not None:
        header += f" {'mlx ms':>9} {'mlx/lmx':>8}"
    print(header)
    for n in sizes:
        n = max(1000, n // 1000 * 1000)
        an = rng.standard_normal(n).astype(np.float32)
        bn = rng.standard_normal(n).astype(np.float32)
        a, b = mx.array(an), mx.array(bn)
        ma, mb = (mlx.array(an), mlx.array(bn)) if mlx is not None else (None, None)
        for name, (_, np_fn) in CASES.items():
            t_lmx = run_lib(mx, name, a, b, args.repeat)
            t_np = best_of(lambda: np_fn(an, bn), args.repeat)
            row = f"{name:16} {n:>9} {t_lmx * 1e3:9.3f} {t_np * 1e3:9.3f} {t_np / t_lmx:7.2f}"
            if mlx is not None:
                t_mlx = run_lib(mlx, name, ma, mb, args.repeat)
                row += f" {t_mlx * 1e3:9.3f} {t_mlx / t_lmx:8.2f}"
            print(row, flush=True)
    o_lmx = small_op_overhead(mx)
    line = f"small op (build + eval of a + b, 1 element): lmx {o_lmx * 1e6:.1f} us"
    if mlx is not None:
        o_mlx = small_op_overhead(mlx)
        line += f", mlx {o_mlx * 1e6:.1f} us, mlx/lmx {o_mlx / o_lmx:.2f}"
    print(line)


if __name__ == "__main__":
    main()
