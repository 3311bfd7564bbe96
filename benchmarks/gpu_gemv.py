"""Device time of the matrix-vector products of LLM decode (batch 1), lmx
against torch on the same card. Each product reads its own copy of the
weight (enough copies to pass the L2 cache, as a model's layers do), and the
kernels' device time comes from PyTorch's profiler (CUPTI records lmx's
kernels too). Prints microseconds per product and the weight bandwidth
reached, for bfloat16 weights (lmx and torch) and 4-bit ones (lmx, group 64);
then the sibling products of a layer (q, k, v; gate, up) as separate
products and as the one group compile makes of them.

    python benchmarks/gpu_gemv.py [--shape K N] [--bytes 512e6]
"""

import argparse

import lmx.core as mx

try:
    import torch
except ImportError:
    torch = None

# (K, N) of x @ w.T in a Qwen3-4B layer, and its LM head.
SHAPES = [(2560, 4096), (2560, 1024), (4096, 2560), (2560, 9728), (9728, 2560), (2560, 151936)]
# Sibling products of one x in that layer: q, k, v; gate, up.
SIBLINGS = [(2560, (4096, 1024, 1024)), (2560, (9728, 9728))]


def device_us(run, reps):
    """Device microseconds per repetition of all kernels run() launches, and kernels per repetition."""
    from torch.profiler import ProfilerActivity, profile

    run()  # warm: kernel choices, graphs, memory pools
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type.name == "CUDA"]
    total = sum(e.time_range.end - e.time_range.start for e in kernels)
    return total / reps, len(kernels) / reps


def copies_for(nbytes, budget):
    return max(4, min(256, int(budget // max(nbytes, 1))))


def lmx_weights(k, ns, bits, budget):
    """Copies of the matrices (n, k) for each n in ns, quantised when bits: a list of per-copy operand lists."""
    one = sum(n * k * (2 if not bits else bits / 8 + 4 / 64) for n in ns)
    sets = []
    for _ in range(copies_for(one, budget)):
        mats = []
        for n in ns:
            w = (mx.random.normal((n, k)) * 0.02).astype(mx.bfloat16)
            mats.append(list(mx.quantize(w, group_size=64, bits=bits)) if bits else [w])
        mx.eval(mats)
        sets.append(mats)
    return sets, one


def lmx_products(k, ns, bits, budget, grouped):
    """Device us per product set and its weight bytes: separate products, or one compiled function (a group)."""
    x = mx.random.normal((1, k)).astype(mx.bfloat16)
    sets, nbytes = lmx_weights(k, ns, bits, budget)

    def product(x, m):
        if bits:
            return mx.quantized_matmul(x, *m, transpose=True, group_size=64, bits=bits)
        return x @ m[0].T

    f = lambda x, *ms: [product(x, m) for m in ms]  # noqa: E731
    if grouped:
        f = mx.compile(f)
    run = lambda: mx.eval([f(x, *mats) for mats in sets])  # noqa: E731
    us, launches = device_us(run, len(sets))
    return us, nbytes, launches


def torch_products(k, ns, budget):
    x = torch.randn(1, k, device="cuda", dtype=torch.bfloat16)
    one = sum(n * k * 2 for n in ns)
    sets = [[torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for n in ns]
            for _ in range(copies_for(one, budget))]  # fmt: skip

    def run():
        for ws in sets:
            for w in ws:
                x @ w.T

    return device_us(run, len(sets))[0], one


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=2, metavar=("K", "N"), help="only this (K, N)")
    ap.add_argument("--bytes", type=float, default=512e6, help="weight bytes the copies of one shape add up to")
    args = ap.parse_args()
    if torch is None or not torch.cuda.is_available():
        raise SystemExit("gpu_gemv.py needs torch with CUDA (its profiler times the kernels)")
    print("device us per product (GB/s of weight bytes)")
    print(f"{'K x N':>14s} {'lmx bf16':>15s} {'torch bf16':>15s} {'lmx 4-bit':>15s}")
    for k, n in [tuple(args.shape)] if args.shape else SHAPES:
        row = []
        for bits in (0, None, 4):
            us, nb = torch_products(k, (n,), args.bytes) if bits is None else \
                lmx_products(k, (n,), bits, args.bytes, False)[:2]  # fmt: skip
            row.append(f"{us:7.1f} ({nb / us / 1e3:5.0f})")
        print(f"{k:>6d} x {n:<6d} " + " ".join(f"{c:>15s}" for c in row))
    if args.shape:
        return
    print("sibling products of one x: separate, and compiled into one group (kernels per set)")
    for k, ns in SIBLINGS:
        for bits in (0, 4):
            sep, nb, ks = lmx_products(k, ns, bits, args.bytes, False)
            grp, _, kg = lmx_products(k, ns, bits, args.bytes, True)
            label = f"{k} x {'+'.join(map(str, ns))} {'4-bit' if bits else 'bf16'}"
            print(f"{label:>32s}  separate {sep:7.1f} us ({nb / sep / 1e3:5.0f} GB/s, {ks:.0f} kernels)"
                  f"  group {grp:7.1f} us ({nb / grp / 1e3:5.0f} GB/s, {kg:.0f} kernels)")  # fmt: skip


if __name__ == "__main__":
    main()
