"""GPU throughput of lmx against PyTorch on the same card, in the same run.

Elementwise ops and reductions over 2^28 float32 elements are compared with
the measured device-to-device copy bandwidth (torch's clone); FFTs of a
complex64 4096 x 4096 array with torch.fft; matmul with torch.matmul at
8192^3 in bfloat16, float16 and float32; causal prefill attention with torch's
scaled_dot_product_attention. Prints one table.
"""

import argparse
import time

import numpy as np

import lmx.core as mx

try:
    import torch
except ImportError:  # the table still shows lmx's own figures
    torch = None


def bench(fn, reps=20, warmup=3):
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def lmx_time(make):
    return bench(lambda: mx.eval(make()))


def torch_time(make):
    def run():
        make()
        torch.cuda.synchronize()
    return bench(run)


def attention_row():
    """Prefill attention as an 8B-class LLM runs it: 32 query heads over 8
    key/value heads, 2048 tokens, head dim 128, causal; torch's SDPA (flash)."""
    b, hq, hk, tq, d = 1, 32, 8, 2048, 128
    q = mx.random.normal((b, hq, tq, d), stream=mx.cpu).astype(mx.bfloat16)
    k = mx.random.normal((b, hk, tq, d), stream=mx.cpu).astype(mx.bfloat16)
    v = mx.random.normal((b, hk, tq, d), stream=mx.cpu).astype(mx.bfloat16)
    q, k, v = (mx.add(a, 0, stream=mx.gpu) for a in (q, k, v))
    mx.eval(q, k, v)
    flops = 4 * b * hq * tq * tq * d / 2  # QK^T and PV over the causal half
    t = bench(lambda: mx.eval(mx.fast.scaled_dot_product_attention(q, k, v, scale=d**-0.5, mask="causal")))
    tt = None
    if torch is not None:
        tq_, tk_, tv_ = (torch.randn(b, h, tq, d, device="cuda", dtype=torch.bfloat16) for h in (hq, hk, hk))
        sdpa = torch.nn.functional.scaled_dot_product_attention
        tt = torch_time(lambda: sdpa(tq_, tk_, tv_, is_causal=True, enable_gqa=True))
    return ("causal attention bf16 2048x128 (TFLOP/s)", t, flops / t / 1e12, tt, (tt / t) if tt else None)


def linalg_rows(n=1024):
    """float32 factorisations of one n x n matrix through cuSOLVER, against
    torch.linalg on the same card and against the host LAPACK that ran them
    before (the CPU stream)."""
    x = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    spd_np = x @ x.T + n * np.eye(n, dtype=np.float32)
    a, spd = mx.array(x + n * np.eye(n, dtype=np.float32)), mx.array(spd_np)
    b = mx.array(np.ones((n, 16), np.float32))
    la = mx.linalg
    cases = [
        ("inv", lambda s: la.inv(a, stream=s), lambda t: torch.linalg.inv(t["a"])),
        ("solve (16 rhs)", lambda s: la.solve(a, b, stream=s), lambda t: torch.linalg.solve(t["a"], t["b"])),
        ("cholesky", lambda s: la.cholesky(spd, stream=s), lambda t: torch.linalg.cholesky(t["spd"])),
        ("qr", lambda s: la.qr(a, stream=s), lambda t: torch.linalg.qr(t["a"])),
        ("eigh", lambda s: la.eigh(spd, stream=s), lambda t: torch.linalg.eigh(t["spd"])),
        ("svd", lambda s: la.svd(a, stream=s), lambda t: torch.linalg.svd(t["a"])),
    ]
    tens = {}
    if torch is not None:
        tens = {k: torch.from_numpy(np.array(v)).cuda() for k, v in (("a", a), ("spd", spd), ("b", b))}
    rows = []
    for name, f, tf in cases:
        t = bench(lambda: mx.eval(f(mx.gpu)), reps=5, warmup=1)
        tt = torch_time(lambda: tf(tens)) if torch is not None else None
        host = bench(lambda: mx.eval(f(mx.cpu)), reps=2, warmup=1)
        rows.append((f"linalg {name} f32 {n}^2 (host {host * 1e3:.0f} ms)", t, None, tt, (tt / t) if tt else None))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=[], help="run the cases whose names contain one of these")
    args = ap.parse_args()

    def want(name):
        return not args.only or any(w in name for w in args.only)

    n = 1 << 28
    rows = []
    x = mx.random.uniform(shape=(n,), dtype=mx.float32, stream=mx.cpu)
    x = mx.add(x, 0, stream=mx.gpu)
    y = mx.add(x, 1, stream=mx.gpu)
    mx.eval(x, y)
    gb = n * 4 / 1e9
    tx = ty = None
    if torch is not None:
        tx = torch.rand(n, device="cuda")
        ty = tx + 1
        copy_s = torch_time(lambda: tx.clone())
        copy_bw = 2 * gb / copy_s
        rows.append(("copy (torch clone)", copy_s, 2 * gb / copy_s, None, 1.0))
    else:
        copy_bw = None
    cases = [
        ("x + y", lambda: mx.add(x, y), lambda: tx + ty, 3 * gb),
        ("x * 2", lambda: mx.multiply(x, 2.0), lambda: tx * 2.0, 2 * gb),
        ("exp(x)", lambda: mx.exp(x), lambda: torch.exp(tx), 2 * gb),
        ("tanh(x)", lambda: mx.tanh(x), lambda: torch.tanh(tx), 2 * gb),
        ("x.astype(f16)", lambda: x.astype(mx.float16), lambda: tx.half(), 1.5 * gb),
        ("sum(x)", lambda: mx.sum(x), lambda: tx.sum(), gb),
        ("max(x)", lambda: mx.max(x), lambda: tx.max(), gb),
        ("sum(x.reshape(16384,-1), axis=1)", lambda: mx.sum(x.reshape(16384, -1), axis=1),
         lambda: tx.view(16384, -1).sum(1), gb),
        ("sum(x.reshape(-1,4096), axis=0)", lambda: mx.sum(x.reshape(-1, 4096), axis=0),
         lambda: tx.view(-1, 4096).sum(0), gb),
    ]
    for name, f_lmx, f_torch, bytes_moved in cases:
        if not want(name):
            continue
        t = lmx_time(f_lmx)
        tt = torch_time(f_torch) if torch is not None else None
        rows.append((name, t, bytes_moved / t, tt, (tt / t) if tt else None))
    del x, y
    # cuFFT behind both: complex64 4096 x 4096, along the rows and down the columns.
    zc = (np.random.standard_normal((4096, 4096)) + 1j * np.random.standard_normal((4096, 4096))).astype(np.complex64)
    z = mx.array(zc)
    tz = torch.from_numpy(zc).cuda() if torch is not None else None
    for axis in (-1, 0) if want("fft") else ():
        t = lmx_time(lambda: mx.fft.fft(z, axis=axis, stream=mx.gpu))
        tt = torch_time(lambda: torch.fft.fft(tz, dim=axis)) if torch is not None else None
        rows.append((f"fft complex64 4096^2 axis {axis}", t, 2 * zc.nbytes / 1e9 / t, tt, (tt / t) if tt else None))
    del z, tz
    for dt, tdt in (("bfloat16", "bfloat16"), ("float16", "float16"), ("float32", "float32")):
        if not want(f"matmul {dt}"):
            continue
        m = 8192
        a = mx.random.normal((m, m), stream=mx.cpu).astype(getattr(mx, dt))
        b = mx.random.normal((m, m), stream=mx.cpu).astype(getattr(mx, dt))
        a, b = mx.add(a, 0, stream=mx.gpu), mx.add(b, 0, stream=mx.gpu)
        mx.eval(a, b)
        flops = 2 * m**3
        t = bench(lambda: mx.eval(mx.matmul(a, b)), reps=10)
        tt = None
        if torch is not None:
            ta = torch.randn(m, m, device="cuda", dtype=getattr(torch, tdt))
            tb = torch.randn(m, m, device="cuda", dtype=getattr(torch, tdt))
            tt = torch_time(lambda: ta @ tb)
        rows.append((f"matmul {dt} 8192^3 (TFLOP/s)", t, flops / t / 1e12, tt, (tt / t) if tt else None))
    if want("attention"):
        rows.append(attention_row())
    if want("linalg"):
        rows.extend(linalg_rows())
    print(f"device: {mx.device_info(mx.gpu)['device_name']}")
    print(f"{'case':40s} {'lmx ms':>9s} {'GB/s|TF':>9s} {'% copy':>7s} {'torch ms':>9s} {'torch/lmx':>9s}")
    for name, t, rate, tt, ratio in rows:
        pct = f"{100 * rate / copy_bw:6.1f}%" if copy_bw and rate and "TFLOP" not in name else ""
        shown = f"{rate:9.1f}" if rate else ""
        print(f"{name:40s} {t * 1e3:9.3f} {shown:>9s} {pct:>7s} {(tt or 0) * 1e3:9.3f} {ratio or 0:9.2f}")


if __name__ == "__main__":
    main()
