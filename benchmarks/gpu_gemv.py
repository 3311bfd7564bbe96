"""Device time of the matrix-vector products of LLM decode (batch 1), lmx
against torch on the same card: many independent products are queued and
evaluated at once, so the time per product is the GPU's, not the host's.
Prints microseconds per product and the weight bandwidth reached.

    python benchmarks/gpu_gemv.py [--reps 64] [--shape K N]
"""

import argparse
import time

import lmx.core as mx

try:
    import torch
except ImportError:
    torch = None

# (K, N) of x @ w.T in a Qwen3-4B layer, and its LM head.
SHAPES = [(2560, 4096), (2560, 1024), (4096, 2560), (2560, 9728), (9728, 2560), (2560, 151936)]


def best_of(run, tries=3):
    best = float("inf")
    for _ in range(tries):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return best


def lmx_time(k, n, reps, bits):
    x = mx.random.normal((1, k)).astype(mx.bfloat16)
    w = (mx.random.normal((n, k)) * 0.02).astype(mx.bfloat16)
    if bits:
        wq, s, b = mx.quantize(w, group_size=64, bits=bits)
        mx.eval(x, wq, s, b)
        nbytes = wq.nbytes + s.nbytes + b.nbytes
        f = lambda: mx.quantized_matmul(x, wq, s, b, transpose=True, group_size=64, bits=bits)
    else:
        mx.eval(x, w)
        nbytes = w.nbytes
        f = lambda: x @ w.T
    mx.eval(f())

    def run():
        mx.eval([f() for _ in range(reps)])

    return best_of(run) / reps, nbytes


def torch_time(k, n, reps):
    x = torch.randn(1, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02
    x @ w.T
    torch.cuda.synchronize()

    def run():
        for _ in range(reps):
            x @ w.T
        torch.cuda.synchronize()

    return best_of(run) / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=64)
    ap.add_argument("--shape", type=int, nargs=2, metavar=("K", "N"), help="only this (K, N)")
    args = ap.parse_args()
    print(f"{'K x N':>14s} {'lmx bf16 us':>12s} {'GB/s':>7s} {'torch us':>9s} {'GB/s':>7s} "
          f"{'lmx 4-bit us':>13s} {'GB/s':>7s}")  # fmt: skip
    for k, n in [tuple(args.shape)] if args.shape else SHAPES:
        t, nb = lmx_time(k, n, args.reps, 0)
        tq, nbq = lmx_time(k, n, args.reps, 4)
        tt = torch_time(k, n, args.reps) if torch is not None else float("nan")
        print(f"{k:>6d} x {n:<6d} {t * 1e6:12.1f} {nb / t / 1e9:7.0f} {tt * 1e6:9.1f} {nb / tt / 1e9:7.0f} "
              f"{tq * 1e6:13.1f} {nbq / tq / 1e9:7.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
