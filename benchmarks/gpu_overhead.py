"""Per-operation cost of small GPU ops in lmx (the regime of LLM decode),
against PyTorch eager on the same card: where the time of a decode step goes
when the arithmetic is tiny."""

import time

import lmx.core as mx

try:
    import torch
except ImportError:
    torch = None


def per_op(step, n=200, reps=3):
    """Microseconds per op of a chain of n ops evaluated once."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        step(n)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def main():
    bf = mx.bfloat16
    x = mx.ones((1, 2560), dtype=bf)
    w = mx.ones((2560, 2560), dtype=bf) * 0.001
    nw = mx.ones((2560,), dtype=bf)
    q = mx.ones((1, 32, 1, 128), dtype=bf)
    kv = mx.ones((1, 8, 256, 128), dtype=bf)
    mx.eval(x, w, nw, q, kv)

    def chain(f, a):
        def run(n):
            y = a
            for _ in range(n):
                y = f(y)
            mx.eval(y)
        return run

    def evals(n):
        for _ in range(n):
            mx.eval(mx.add(x, 1))

    cases = [
        ("add (1,2560)", chain(lambda y: y + 1, x)),
        ("eval of one add (with sync)", evals),
        ("matmul (1,2560)x(2560,2560) bf16", chain(lambda y: y @ w, x)),
        ("rms_norm (1,2560)", chain(lambda y: mx.fast.rms_norm(y, nw, 1e-6), x)),
        ("rope (1,32,1,128)", chain(lambda y: mx.fast.rope(y, 128, traditional=False, base=1e6, scale=1.0, offset=7), q)),
        ("sdpa decode q(1,32,1,128) kv 256", chain(lambda y: mx.fast.scaled_dot_product_attention(y, kv, kv, scale=0.08), q)),
    ]
    rows = [(name, per_op(f)) for name, f in cases]
    trows = {}
    if torch is not None:
        tx = torch.ones(1, 2560, device="cuda", dtype=torch.bfloat16)
        tw = torch.ones(2560, 2560, device="cuda", dtype=torch.bfloat16) * 0.001

        def tchain(f, a):
            def run(n):
                y = a
                for _ in range(n):
                    y = f(y)
                torch.cuda.synchronize()
            return run

        trows["add (1,2560)"] = per_op(tchain(lambda y: y + 1, tx))
        trows["matmul (1,2560)x(2560,2560) bf16"] = per_op(tchain(lambda y: y @ tw, tx))
    print(f"{'op':40s} {'lmx us/op':>10s} {'torch us/op':>12s}")
    for name, us in rows:
        t = trows.get(name)
        print(f"{name:40s} {us:10.1f} {t if t is not None else float('nan'):12.1f}")


if __name__ == "__main__":
    main()
