"""GPU throughput of lmx against PyTorch on the same card, in the same run.

Elementwise ops and reductions over 2^28 float32 elements are compared with
the measured device-to-device copy bandwidth (torch's clone); FFTs of a
complex64 4096 x 4096 array with torch.fft; matmul with torch.matmul at
8192^3 in bfloat16, float16 and float32. Prints one table.
"""

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


def main():
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
        t = lmx_time(f_lmx)
        tt = torch_time(f_torch) if torch is not None else None
        rows.append((name, t, bytes_moved / t, tt, (tt / t) if tt else None))
    del x, y
    # cuFFT behind both: complex64 4096 x 4096, along the rows and down the columns.
    zc = (np.random.standard_normal((4096, 4096)) + 1j * np.random.standard_normal((4096, 4096))).astype(np.complex64)
    z = mx.array(zc)
    tz = torch.from_numpy(zc).cuda() if torch is not None else None
    for axis in (-1, 0):
        t = lmx_time(lambda: mx.fft.fft(z, axis=axis, stream=mx.gpu))
        tt = torch_time(lambda: torch.fft.fft(tz, dim=axis)) if torch is not None else None
        rows.append((f"fft complex64 4096^2 axis {axis}", t, 2 * zc.nbytes / 1e9 / t, tt, (tt / t) if tt else None))
    del z, tz
    for dt, tdt in (("bfloat16", "bfloat16"), ("float16", "float16"), ("float32", "float32")):
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
    print(f"device: {mx.device_info(mx.gpu)['device_name']}")
    print(f"{'case':40s} {'lmx ms':>9s} {'GB/s|TF':>9s} {'% copy':>7s} {'torch ms':>9s} {'torch/lmx':>9s}")
    for name, t, rate, tt, ratio in rows:
        pct = f"{100 * rate / copy_bw:6.1f}%" if copy_bw and "TFLOP" not in name else ""
        print(f"{name:40s} {t * 1e3:9.3f} {rate:9.1f} {pct:>7s} {(tt or 0) * 1e3:9.3f} {ratio or 0:9.2f}")


if __name__ == "__main__":
    main()
