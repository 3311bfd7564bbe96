"""conv2d of ResNet-style layers, and two decoder-style conv_transpose2d
upsamplings (rows marked T), on the CPU against PyTorch (and MLX when
importable), measured in the same run: the forward pass, and forward plus
the gradients of input and weight. Prints peer_time / lmx_time ratios (above
1 means lmx is faster). Not a test.

--gpu runs lmx on its GPU and PyTorch on CUDA (cuDNN, TF32 off as lmx's
float32; --dtype bfloat16 for half precision), without MLX.

lmx and MLX take channels-last input (N, H, W, C) and weights (O, kh, kw, C);
PyTorch gets the same values in its channels_last memory format, which its
CPU convolutions prefer.
"""

import argparse

import numpy as np
from common import best_of, mlx

import lmx.core as mx

try:
    import torch
except ImportError:  # PyTorch is an optional peer
    torch = None

# (name, batch, height/width, in channels, out channels, kernel, stride,
# transposed: a decoder's upsampling conv_transpose2d)
LAYERS = [
    ("stem 7x7/2", 8, 112, 3, 64, 7, 2, False),
    ("res2 3x3", 8, 56, 64, 64, 3, 1, False),
    ("res3 3x3/2", 8, 56, 64, 128, 3, 2, False),
    ("res4 3x3", 8, 14, 256, 256, 3, 1, False),
    ("res 1x1", 8, 28, 128, 512, 1, 1, False),
    ("up 3x3/2 T", 8, 28, 64, 32, 3, 2, True),
    ("up 4x4/2 T", 8, 14, 128, 64, 4, 2, True),
]


def lmx_like(module, x, w, stride, pad, backward, dtype="float32", transposed=False):
    """A timed callable for lmx or MLX (same API)."""
    a, b = module.array(x).astype(getattr(module, dtype)), module.array(w).astype(getattr(module, dtype))
    if transposed:
        out_pad = stride - 1 if w.shape[1] % 2 else 0  # twice the input size

        def conv(a, b):
            return module.conv_transpose2d(a, b, stride=stride, padding=pad, output_padding=out_pad)
    else:
        def conv(a, b):
            return module.conv2d(a, b, stride=stride, padding=pad)
    if not backward:
        return lambda: module.eval(conv(a, b))
    grad = module.grad(lambda a, b: conv(a, b).sum(), argnums=(0, 1))
    return lambda: module.eval(grad(a, b))


def torch_fn(x, w, stride, pad, backward, device="cpu", dtype="float32", transposed=False):
    def tensor(v, axes=(0, 3, 1, 2)):
        t = torch.from_numpy(v.transpose(*axes).copy()).to(device=device, dtype=getattr(torch, dtype))
        return t.contiguous(memory_format=torch.channels_last)

    if transposed:  # PyTorch's transposed weight is (C_in, C_out, kh, kw)
        a, b = tensor(x), tensor(w, (3, 0, 1, 2))
        out_pad = stride - 1 if w.shape[1] % 2 else 0

        def conv(a, b, stride, padding):
            return torch.nn.functional.conv_transpose2d(a, b, stride=stride, padding=padding, output_padding=out_pad)
    else:
        a, b = tensor(x), tensor(w)
        conv = torch.nn.functional.conv2d
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if not backward:
        def run():
            with torch.no_grad():
                conv(a, b, stride=stride, padding=pad)
            sync()
        return run
    a.requires_grad_(True)
    b.requires_grad_(True)

    def run():
        a.grad = b.grad = None
        conv(a, b, stride=stride, padding=pad).sum().backward()
        sync()
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="PyTorch's threads (default: its own)")
    parser.add_argument("--gpu", action="store_true", help="lmx's GPU against PyTorch's CUDA (no MLX)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    global mlx
    if args.gpu:
        mx.set_default_device(mx.gpu)
        mlx = None
        if torch is not None:
            torch.backends.cudnn.allow_tf32 = False
    if torch is not None and args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cases = []  # (label, GFLOP, {engine: timed callable})
    for name, n, hw, cin, cout, k, stride, transposed in LAYERS:
        x = rng.standard_normal((n, hw, hw, cin)).astype(np.float32)
        w = (rng.standard_normal((cout, k, k, cin)) / np.sqrt(k * k * cin)).astype(np.float32)
        pad = k // 2 if not transposed else (k - 1) // 2
        # Every input pixel meets every kernel tap once, either way round.
        in_pixels = hw * hw if transposed else ((hw + 2 * pad - k) // stride + 1) ** 2
        flops = 2 * n * in_pixels * cout * k * k * cin
        for backward in (False, True):
            passes = 3 if backward else 1  # the input and weight gradients are each a conv's work
            fns = {"lmx": lmx_like(mx, x, w, stride, pad, backward, args.dtype, transposed)}
            if torch is not None:
                fns["torch"] = torch_fn(x, w, stride, pad, backward, "cuda" if args.gpu else "cpu", args.dtype,
                                        transposed)
            if mlx is not None:
                fns["mlx"] = lmx_like(mlx, x, w, stride, pad, backward, args.dtype, transposed)
            cases.append((f"{name:12} {'fwd+bwd' if backward else 'forward':8}", flops * passes / 1e9, fns))
    # One engine at a time over every layer: PyTorch's OpenMP threads spin
    # for a while after each call, which would slow whatever ran next.
    times = {}
    for engine in ("lmx", "torch", "mlx"):
        for i, (_, _, fns) in enumerate(cases):
            if engine in fns:
                times[engine, i] = best_of(fns[engine], args.repeat if engine != "mlx" else max(1, args.repeat // 2))
    header = f"{'layer':12} {'pass':8} {'GFLOP':>6} {'lmx ms':>8}"
    if torch is not None:
        header += f" {'torch ms':>9} {'torch/lmx':>9}"
    if mlx is not None:
        header += f" {'mlx ms':>8} {'mlx/lmx':>8}"
    print(header)
    for i, (label, gflop, fns) in enumerate(cases):
        t = times["lmx", i]
        row = f"{label} {gflop:6.2f} {t * 1e3:8.2f}"
        for engine, width in (("torch", 9), ("mlx", 8)):
            if engine in fns:
                tp = times[engine, i]
                row += f" {tp * 1e3:{width}.2f} {tp / t:{width}.2f}"
        print(row)

if __name__ == "__main__":
    main()
