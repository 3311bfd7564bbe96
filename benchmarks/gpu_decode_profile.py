"""Where a decode step's time goes on the GPU: building the graph in Python
versus evaluating it, per token, for a random-weight Qwen3-4B-shaped model
(bfloat16 and 4-bit). Prints milliseconds per token of each part.

    python benchmarks/gpu_decode_profile.py [--layers 36] [--tokens 32] [--bits 0 4]

With LMX_EVAL_PROFILE=1 the process also prints, at exit, the host time
evaluation spent per primitive.

With --kernels it prints instead the device time per kernel of one decode
step, or with --prefill N of one forward pass over N prompt tokens, through
PyTorch's profiler (CUPTI records every kernel of the process, lmx's
included).

With --profiler-range the last token's evaluation runs between
cudaProfilerStart and cudaProfilerStop, so that

    ncu --profile-from-start off --clock-control none --cache-control none \
        --metrics gpu__time_duration.sum --csv python benchmarks/gpu_decode_profile.py \
        --profiler-range --bits 0 > kernels.csv
    python benchmarks/ncu_kernel_table.py kernels.csv

lists the device time of every kernel of one decode token.
"""

import argparse
import ctypes
import statistics
import time

import numpy as np

import lmx.core as mx
import lmx.nn as nn
from lmx.lm.models import qwen3
from lmx.lm.models.cache import make_prompt_cache

from gpu_lm import SHAPES

QWEN3_4B = SHAPES["qwen3-4b"]


def cuda_profiler(start):
    """cudaProfilerStart/Stop of the CUDA runtime lmx loaded (for ncu --profile-from-start off)."""
    cudart = ctypes.CDLL("libcudart.so.13", mode=ctypes.RTLD_GLOBAL)
    rc = (cudart.cudaProfilerStart if start else cudart.cudaProfilerStop)()
    if rc != 0:
        raise RuntimeError(f"cudaProfiler{'Start' if start else 'Stop'} returned {rc}")


def kernel_table(run, top=30):
    """Device time per kernel name of run(), longest first."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    run()  # warm: kernel choices, memory pools
    with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None)
        if us is None:
            us = e.self_cuda_time_total
        if us > 0:
            rows.append((us, e.count, e.key))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print(f"device time {total / 1e3:.2f} ms in {sum(r[1] for r in rows)} kernels")
    print(f"{'ms':>8s} {'%':>6s} {'count':>6s}  kernel")
    for us, count, name in rows[:top]:
        print(f"{us / 1e3:8.3f} {100 * us / total:6.1f} {count:6d}  {name[:110]}")
    # A stretch from the middle of the step in launch order: one layer's kernels, one after another.
    ordered = sorted((e.time_range.start, e.time_range.end, e.name) for e in prof.events()
                     if e.device_type.name == "CUDA")
    middle = len(ordered) // 2
    print("kernels in launch order from the middle of the step (us):")
    for start, end, name in ordered[middle : middle + 40]:
        print(f"  {end - start:7.1f}  {name[:100]}")


def make_model(cfg, bits):
    model = qwen3.Model(qwen3.ModelArgs(**cfg))
    model.set_dtype(mx.bfloat16)
    if bits:
        nn.quantize(model, group_size=64, bits=bits)
    mx.eval(model.parameters())
    return model


def kernels_of_step(cfg, bits, prefill, compiled=False):
    model = make_model(cfg, bits)
    if prefill:
        prompt = mx.array(np.random.default_rng(0).integers(0, cfg["vocab_size"], (1, prefill)))
        kernel_table(lambda: mx.eval(model(prompt, cache=make_prompt_cache(model))))
        return
    cache = make_prompt_cache(model)
    mx.eval(model(mx.array([[1, 2, 3, 4, 5, 6, 7, 8]]), cache=cache))
    y = mx.array([[3]])

    def step():
        nonlocal y
        y = mx.argmax(model(y, cache=cache)[:, -1], axis=-1)[None]
        mx.eval(y)

    if compiled:  # the step generate_step replays (lmx.lm.compiled_decode)
        from lmx.lm.compiled_decode import CompiledDecoder

        decoder = CompiledDecoder(model, cache, 64)
        y = mx.array([3])

        def step():
            nonlocal y
            y = mx.argmax(decoder(y), axis=-1)
            mx.eval(y)

    for _ in range(4):  # past graph recording and kernel compiles
        step()
    kernel_table(step, top=60)


def profile(cfg, tokens, bits, profiler_range=False):
    model = make_model(cfg, bits)
    cache = make_prompt_cache(model)
    y = mx.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    mx.eval(model(y, cache=cache))
    y = mx.array([[3]])
    build, run = [], []
    for i in range(tokens):
        last = profiler_range and i == tokens - 1
        t0 = time.perf_counter()
        tok = mx.argmax(model(y, cache=cache)[:, -1], axis=-1)
        t1 = time.perf_counter()
        if last:
            cuda_profiler(True)
        mx.eval(tok)
        if last:
            cuda_profiler(False)
        t2 = time.perf_counter()
        build.append(t1 - t0)
        run.append(t2 - t1)
        y = tok[None]
    ms = lambda v: statistics.median(v) * 1e3  # noqa: E731
    return ms(build), ms(run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=QWEN3_4B["num_hidden_layers"])
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--bits", type=int, nargs="*", default=[0, 4], help="0 for bfloat16")
    ap.add_argument("--profiler-range", action="store_true",
                    help="wrap the last token's evaluation in cudaProfilerStart/Stop")
    ap.add_argument("--kernels", action="store_true", help="print the device time per kernel of one step")
    ap.add_argument("--compiled", action="store_true", help="with --kernels: the compiled decode step")
    ap.add_argument("--prefill", type=int, default=0, help="with --kernels: a forward pass over this many tokens")
    args = ap.parse_args()
    cfg = dict(QWEN3_4B, num_hidden_layers=args.layers)
    if args.kernels:
        for bits in args.bits:
            print(f"Qwen3-4B shape, {args.layers} layers, {'bf16' if not bits else f'{bits}-bit'}: "
                  + (f"prefill of {args.prefill} tokens" if args.prefill
                     else "one compiled decode step" if args.compiled else "one decode step"))
            kernels_of_step(cfg, bits, args.prefill, args.compiled)
            mx.clear_cache()
        return
    print(f"Qwen3-4B shape, {args.layers} layers: ms per token (median of {args.tokens})")
    print(f"{'weights':10s} {'build graph':>12s} {'eval (sync)':>12s}")
    for bits in args.bits:
        b, r = profile(cfg, args.tokens, bits, args.profiler_range)
        print(f"{('bf16' if not bits else f'{bits}-bit'):10s} {b:12.2f} {r:12.2f}")
        mx.clear_cache()


if __name__ == "__main__":
    main()
