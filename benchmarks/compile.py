"""compile: a chain of ten elementwise ops (a GELU-like activation) over
1e7 float32 (also one ending in a sum over rows), compiled against uncompiled lmx, NumPy and MLX's Linux build
(compiled and not, when importable) on the CPU; with --gpu, lmx on the GPU
against torch eager and torch.compile and the copy-bandwidth limit on the
same card. Also reports the first-call (trace + compile) latency.

On the CPU, compiled chains run as generated C++ (compiled at run time by
the system compiler) once the kernel is ready, and through the tile
interpreter before that or with LMX_CPU_JIT=0: both are timed. The kernels
are compiled into a fresh cache directory each run, so the first-call
figure with the compiler is a cold one.

    python benchmarks/compile.py [--n 10000000] [--gpu]
"""

import argparse
import os
import tempfile
import time

import numpy as np

import lmx.core as mx
from common import best_of, mlx


def chain(m):
    """Ten elementwise ops, four of them transcendental (compute-heavy)."""
    def f(x):
        y = 0.5 * x * (1.0 + m.erf(x * 0.70710677))
        return m.tanh(y) * m.sigmoid(y) + m.exp(-m.abs(y))
    return f


def gelu_approx_chain(m):
    """Ten elementwise ops, one transcendental: the tanh form of GELU."""
    def f(x):
        return 0.5 * x * (1.0 + m.tanh(0.7978846 * (x + 0.044715 * (x * x * x)))) + x
    return f


def gelu_approx_row_sum(m):
    """The tanh-GELU chain over rows of 1000 values, then a sum over each row:
    compiled, the sum is fused into the chain (on the CPU), so the chain's
    values are never stored. (The rows are formed before the chain: a reshape
    between the chain and the sum keeps them apart.)"""
    g = gelu_approx_chain(m)

    def f(x):
        rows = x[: x.shape[0] // 1000 * 1000]  # whole rows (2^28 is not a multiple of 1000)
        return g(rows.reshape(-1, 1000)).sum(axis=-1)
    return f


CHAINS = {"transcendental": chain, "gelu_approx": gelu_approx_chain, "gelu_approx + row sum": gelu_approx_row_sum}


def numpy_chain(x):
    y = 0.5 * x * (1.0 + _np_erf(x * np.float32(0.70710677)))
    return np.tanh(y) * (1 / (1 + np.exp(-y))) + np.exp(-np.abs(y))


def _np_erf(x):
    # NumPy has no erf: Abramowitz-Stegun 7.1.26 (same op count class).
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - p * np.exp(-x * x))


def first_call(make_compiled, x, m):
    f = make_compiled()
    t = time.perf_counter()
    m.eval(f(x))
    return time.perf_counter() - t


class cpu_jit:
    """LMX_CPU_JIT set to `mode` inside the block (lmx reads it on every evaluation)."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.saved = os.environ.get("LMX_CPU_JIT")
        os.environ["LMX_CPU_JIT"] = self.mode

    def __exit__(self, *exc):
        if self.saved is None:
            del os.environ["LMX_CPU_JIT"]
        else:
            os.environ["LMX_CPU_JIT"] = self.saved


def cpu_rows(n, repeat, make=chain, label="transcendental"):
    rows = []
    xn = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    x = mx.array(xn)
    f = make(mx)
    t_eager = best_of(lambda: mx.eval(f(x)), repeat)
    with cpu_jit("0"):
        cf = mx.compile(f)
        t_interp = best_of(lambda: mx.eval(cf(x)), repeat)
    cf = mx.compile(f)
    with cpu_jit("always"):  # this first call waits for the compiler
        first_generated = first_call(lambda: cf, x, mx)
    t_comp = best_of(lambda: mx.eval(cf(x)), repeat)
    npf = numpy_chain if make is chain else make(np)
    t_np = best_of(lambda: npf(xn), max(2, repeat // 2))
    rows.append(("lmx uncompiled", t_eager))
    rows.append(("lmx compiled", t_comp))
    rows.append(("  interpreted", t_interp))
    rows.append(("NumPy", t_np))
    first = first_call(lambda: mx.compile(make(mx)), mx.ones((1000,)), mx)
    mlx_comp = None
    if mlx is not None:
        xm = mlx.array(xn)
        fm = make(mlx)
        cfm = mlx.compile(fm)
        rows.append(("MLX uncompiled", best_of(lambda: mlx.eval(fm(xm)), repeat)))
        mlx_comp = best_of(lambda: mlx.eval(cfm(xm)), repeat)
        rows.append(("MLX compiled", mlx_comp))
        mlx_first = first_call(lambda: mlx.compile(make(mlx)), mlx.ones((1000,)), mlx)
    print(f"CPU, {n} float32, 10-op {label} chain")
    print(f"{'':<18}{'ms':>9}{'vs lmx compiled':>17}")
    for name, t in rows:
        print(f"{name:<18}{t * 1e3:9.2f}{t / t_comp:17.2f}")
    print(f"compiled vs uncompiled lmx: {t_eager / t_comp:.2f}x faster (the interpreter: {t_eager / t_interp:.2f}x)")
    print(f"first call at {n} elements, generated kernel compiled first: {first_generated * 1e3:.0f} ms")
    if mlx_comp is not None:
        print(f"lmx compiled vs MLX compiled: {mlx_comp / t_comp:.2f}x (>1: lmx faster)")
        print(f"first call (trace + compile), 1000 elements: lmx {first * 1e3:.1f} ms, MLX {mlx_first * 1e3:.1f} ms")
    else:
        print(f"first call (trace + compile), 1000 elements: lmx {first * 1e3:.1f} ms")


def gpu_rows(n, repeat, make=chain, label="transcendental"):
    import torch

    def sync_time(fn):
        def run():
            fn()
            torch.cuda.synchronize()
        return best_of(run, repeat)

    x = mx.random.normal((n,), stream=mx.cpu)
    x = mx.add(x, 0, stream=mx.gpu)
    mx.eval(x)
    with mx.stream(mx.gpu):
        f = make(mx)
        cf = mx.compile(f)
        t_eager = best_of(lambda: mx.eval(f(x)), repeat)
        t_comp = best_of(lambda: mx.eval(cf(x)), repeat)
        first = first_call(lambda: mx.compile(make(mx)), mx.ones((1000,)), mx)
    tx = torch.randn(n, device="cuda")
    tf = make(torch)
    ttc = torch.compile(tf)
    t0 = time.perf_counter()
    ttc(tx)
    torch.cuda.synchronize()
    torch_first = time.perf_counter() - t0
    t_torch = sync_time(lambda: tf(tx))
    t_torch_c = sync_time(lambda: ttc(tx))
    t_copy = sync_time(lambda: tx.clone())
    # The chain reads n floats and writes its output (n floats, or one per
    # row when a sum ends it): its limit is that traffic at the copy's rate.
    out_size = cf(x).size
    moved = (n + out_size) * 4
    limit = t_copy * moved / (2 * n * 4)
    print(f"GPU ({torch.cuda.get_device_name()}), {n} float32, 10-op {label} chain")
    print(f"{'':<22}{'ms':>9}{'GB/s':>9}{'vs copy limit':>15}")
    for name, t in [("lmx uncompiled", t_eager), ("lmx compiled", t_comp), ("torch eager", t_torch),
                    ("torch.compile", t_torch_c)]:
        print(f"{name:<22}{t * 1e3:9.3f}{moved / t / 1e9:9.0f}{limit / t:15.2f}")
    print(f"{'copy (torch clone)':<22}{t_copy * 1e3:9.3f}{2 * n * 4 / t_copy / 1e9:9.0f}")
    print(f"lmx compiled vs torch.compile: {t_torch_c / t_comp:.2f}x (>1: lmx faster)")
    print(f"first call: lmx {first * 1e3:.1f} ms, torch.compile {torch_first * 1e3:.0f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--gpu", action="store_true")
    a = p.parse_args()
    if not a.gpu:
        os.environ["LMX_KERNEL_CACHE"] = tempfile.mkdtemp(prefix="lmx-bench-kernels-")
    for label, make in CHAINS.items():
        if a.gpu:
            gpu_rows(a.n, a.repeat, make, label)
        else:
            cpu_rows(a.n, a.repeat, make, label)
        print()


if __name__ == "__main__":
    main()
