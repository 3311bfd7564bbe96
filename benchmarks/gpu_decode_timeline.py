"""Who waits for whom in pipelined GPU decode: a random-weight
Qwen3-4B-shaped model (bfloat16, or quantized with --bits) decoding as generate_step does (token t+1's
graph is built and queued before token t is read), measured two ways.

Host phases, per token (medians): building the graph in Python, async_eval
(scheduling it onto the stream's worker), and the wait in item() for the
token before. A wait near zero means the Python thread bounds decode; a long
one means the worker or the device does. Like generate_step, it decodes
through lmx.lm.compiled_decode unless LMX_COMPILED_DECODE=0.

Device timeline (PyTorch's profiler records lmx's kernels through CUPTI):
the share of the time the GPU was running a kernel, and the idle gaps
between kernels by size. Gaps of a few microseconds are the cost of a kernel
boundary; long ones are the device waiting for the host.

    python benchmarks/gpu_decode_timeline.py [--layers 36] [--tokens 48] [--bits 4] [--host-only]
"""

import argparse
import collections
import statistics
import time

import lmx.core as mx

from gpu_decode_profile import QWEN3_4B, make_model


def host_phases(model, tokens):
    """Medians in ms of (build, async_eval, item wait, whole step) over `tokens` steps."""
    from lmx.lm.models.cache import make_prompt_cache

    cache = make_prompt_cache(model)

    def step(ids):
        logits = model(ids[None], cache=cache)[:, -1, :]
        logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        return mx.argmax(logprobs, axis=-1), logprobs

    token, logprobs = step(mx.array(list(range(16))))
    mx.async_eval(token, logprobs)
    # As generate_step: the later steps replay a compiled step where LMX_COMPILED_DECODE allows.
    from lmx.lm.compiled_decode import CompiledDecoder, use_compiled_decode

    if use_compiled_decode(cache, tokens, plain_step_needed=False):
        decoder = CompiledDecoder(model, cache, tokens)

        def step(ids):
            logprobs = decoder(ids)
            return mx.argmax(logprobs, axis=-1), logprobs

    rows = []
    for _ in range(tokens):
        t0 = time.perf_counter()
        next_token, next_logprobs = step(token)
        t1 = time.perf_counter()
        mx.async_eval(next_token, next_logprobs)
        t2 = time.perf_counter()
        token.item()
        t3 = time.perf_counter()
        rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        token = next_token
    rows = rows[len(rows) // 4 :]  # past the first steps' kernel loading and graph recording
    return [statistics.median(r[i] for r in rows) * 1e3 for i in range(4)]


def device_timeline(model, tokens):
    """Kernel intervals (start, end, name) in us of decoding `tokens` tokens, prefill left out."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from lmx.lm.generate import generate_step

    prompt = mx.array(list(range(16)))
    for _ in generate_step(prompt, model, max_tokens=4):  # warm
        pass
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in generate_step(prompt, model, max_tokens=tokens):
            pass
        torch.cuda.synchronize()
    kernels = sorted(
        (e.time_range.start, e.time_range.end, e.name) for e in prof.events() if e.device_type.name == "CUDA"
    )
    return kernels[len(kernels) // 4 :]  # the prompt's forward pass and the first steps come first


def summarise(kernels):
    # Each step ends in one argmax (its last kernel): the steps in the window.
    steps = max(1, sum("arg_reduce_pieces_kernel<" in name or "arg_reduce_kernel<" in name for _, _, name in kernels))
    start, end = kernels[0][0], max(k[1] for k in kernels)
    busy, last_end, gaps = 0.0, start, []
    for s, e, _ in kernels:
        if s > last_end:
            gaps.append(s - last_end)
        busy += max(0.0, e - max(s, last_end))
        last_end = max(last_end, e)
    span = end - start
    print(f"device: busy {busy / 1e3:.2f} of {span / 1e3:.2f} ms ({100 * busy / span:.0f}%), "
          f"{busy / 1e3 / steps:.2f} ms of kernels a token, {len(kernels) / steps:.0f} kernels a token")
    sizes = collections.OrderedDict((("< 5 us", 5), ("5-50 us", 50), (">= 50 us", float("inf"))))
    lower = 0
    for label, upper in sizes.items():
        mine = [g for g in gaps if lower <= g < upper]
        print(f"  idle gaps {label:>9s}: {len(mine) / steps:6.1f} a token, {sum(mine) / 1e3 / steps:.2f} ms a token")
        lower = upper
    # Where the kernel time goes: each kernel (template arguments dropped) per token. A kernel
    # launched dependent starts while the one before runs, so its time includes some of that one's.
    per_kernel = collections.defaultdict(lambda: [0, 0.0])
    for s, e, name in kernels:
        short = name.replace("(anonymous namespace)::", "").replace("void ", "").replace("lmx::cu::", "")
        entry = per_kernel[short.split("<")[0].split("(")[0][:60]]
        entry[0] += 1
        entry[1] += e - s
    print(f"  {'kernel':60s} {'a token':>8s} {'us each':>8s} {'us a token':>10s}")
    for name, (count, total) in sorted(per_kernel.items(), key=lambda kv: -kv[1][1])[:20]:
        print(f"  {name:60s} {count / steps:8.1f} {total / count:8.2f} {total / steps:10.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=QWEN3_4B["num_hidden_layers"])
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--host-only", action="store_true", help="skip the device timeline (and PyTorch)")
    ap.add_argument("--bits", type=int, default=0, help="quantize the model to these bits (0: bfloat16)")
    args = ap.parse_args()
    model = make_model(dict(QWEN3_4B, num_hidden_layers=args.layers), args.bits)
    build, schedule, wait, total = host_phases(model, args.tokens)
    weights = f"{args.bits}-bit" if args.bits else "bf16"
    print(f"Qwen3-4B shape, {args.layers} layers, {weights}, pipelined decode: ms per token (medians)")
    print(f"  build {build:.2f}, async_eval {schedule:.2f}, item wait {wait:.2f}, step {total:.2f} "
          f"({1e3 / total:.0f} tok/s)")
    if not args.host_only:
        summarise(device_timeline(model, args.tokens))


if __name__ == "__main__":
    main()
