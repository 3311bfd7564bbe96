"""LLM decode and prefill on the GPU: a random-weight model shaped like
Qwen3-4B or Llama-3-8B (bfloat16) in lmx against transformers on the same
card, in the same run: eager, and with torch.compile (static KV cache,
CUDA graphs: transformers' documented fast path). Weights are random (models
cannot be carried to the GPU machine); speed does not depend on their values.

    python benchmarks/gpu_lm.py [--shape qwen3-4b|llama3-8b] [--layers N]
                                [--tokens 64] [--prompt 2048] [--no-compile-peer]
"""

import argparse
import time

import numpy as np

import lmx.core as mx
from lmx.lm.generate import generate_step
from lmx.lm.models import llama, qwen3

SHAPES = {
    "qwen3-4b": dict(model_type="qwen3", hidden_size=2560, num_hidden_layers=36, intermediate_size=9728,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-6,
                     vocab_size=151936, rope_theta=1000000, tie_word_embeddings=True),
    "llama3-8b": dict(model_type="llama", hidden_size=4096, num_hidden_layers=32, intermediate_size=14336,
                      num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-5,
                      vocab_size=128256, rope_theta=500000, tie_word_embeddings=False),
}  # fmt: skip
LMX_MODELS = {"qwen3": qwen3, "llama": llama}


def best_rate(tokens, run, repeats=3):
    """Tokens per second of the fastest of `repeats` timed runs after an
    untimed one (which meets the long prompt's shapes first: kernel choices,
    memory pool growth)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return tokens / best

def lmx_decode(cfg, prompt, tokens, bits=None):
    arch = LMX_MODELS[cfg["model_type"]]
    model = arch.Model(arch.ModelArgs(**cfg))
    model.set_dtype(mx.bfloat16)
    if bits:
        import lmx.nn as nn

        nn.quantize(model, group_size=64, bits=bits)
    mx.eval(model.parameters())
    nbytes = sum(v.nbytes for _, v in __import__("lmx.utils", fromlist=["x"]).tree_flatten(model.parameters()))
    p = mx.array(prompt)
    # Warm-up (kernels, caches), then timed decode. The warm-up is long enough to take the
    # compiled decode path (lmx.lm.compiled_decode), whose fused kernels a fresh machine
    # compiles once (NVRTC, seconds; cached on disk after).
    for _ in generate_step(p[:16], model, max_tokens=16):
        pass
    t0 = time.perf_counter()
    gen = generate_step(p[:16], model, max_tokens=tokens)
    tok, _ = next(gen)
    mx.eval(tok)
    t1 = time.perf_counter()
    n = 1
    for tok, _ in gen:
        n += 1
    mx.eval(tok)
    t2 = time.perf_counter()
    decode_tps = (n - 1) / (t2 - t1)
    # Prefill: one forward pass over the long prompt.
    from lmx.lm.models.cache import make_prompt_cache

    prefill_tps = best_rate(len(prompt), lambda: mx.eval(model(p[None], cache=make_prompt_cache(model))))
    return decode_tps, prefill_tps, nbytes


def torch_model(cfg):
    import torch
    import transformers

    names = {"qwen3": ("Qwen3Config", "Qwen3ForCausalLM"), "llama": ("LlamaConfig", "LlamaForCausalLM")}
    conf_cls, model_cls = (getattr(transformers, n) for n in names[cfg["model_type"]])
    conf = conf_cls(hidden_size=cfg["hidden_size"], num_hidden_layers=cfg["num_hidden_layers"],
                    intermediate_size=cfg["intermediate_size"], num_attention_heads=cfg["num_attention_heads"],
                    num_key_value_heads=cfg["num_key_value_heads"], head_dim=cfg["head_dim"],
                    vocab_size=cfg["vocab_size"], rms_norm_eps=cfg["rms_norm_eps"],
                    tie_word_embeddings=cfg["tie_word_embeddings"])  # fmt: skip
    with torch.device("cuda"):
        return model_cls(conf).to(torch.bfloat16).eval()


def torch_decode(cfg, prompt, tokens, compiled=False):
    """transformers' generate, greedy. Compiled: a static KV cache, with
    which generate compiles its decoding forward under torch.compile
    (mode="reduce-overhead": CUDA graphs), as transformers documents for fast
    decoding. Compilation and capture happen in the warm-up calls; the cache
    keeps the size of the longest call, so the timed calls reuse the graphs."""
    import torch

    model = torch_model(cfg)
    extra = dict(cache_implementation="static") if compiled else {}
    ids = torch.tensor(prompt, device="cuda")[None]

    def run(n):
        model.generate(ids[:, :16], max_new_tokens=n, min_new_tokens=n, do_sample=False, **extra)
        torch.cuda.synchronize()

    with torch.no_grad():
        for _ in range(3 if compiled else 1):  # compile, then replay warm
            run(tokens)
        t0 = time.perf_counter()
        run(1)
        t1 = time.perf_counter()
        run(tokens)
        t2 = time.perf_counter()
        decode_tps = (tokens - 1) / ((t2 - t1) - (t1 - t0))
        prefill_tps = float("nan")
        if not compiled:

            def prefill():
                model(ids)
                torch.cuda.synchronize()

            prefill_tps = best_rate(ids.shape[1], prefill)
    del model
    torch.cuda.empty_cache()
    return decode_tps, prefill_tps


def torch_copy_gbps(n=1 << 28):
    """Device-to-device copy bandwidth (bytes read + written per second)."""
    import torch

    x = torch.rand(n, device="cuda")
    for _ in range(3):
        x.clone()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        x.clone()
    torch.cuda.synchronize()
    return 2 * n * 4 * 20 / (time.perf_counter() - t0) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-4b")
    ap.add_argument("--layers", type=int, default=0, help="override the shape's layer count")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--bits", type=int, nargs="*", default=[4], help="also run lmx quantized to these bits")
    ap.add_argument("--no-peer", action="store_true", help="skip transformers (for lmx-only comparisons)")
    ap.add_argument("--no-compile-peer", action="store_true", help="skip transformers under torch.compile")
    ap.add_argument("--copy-gbps", type=float, default=0.0, help="measured copy bandwidth (GB/s) for the limit")
    args = ap.parse_args()
    cfg = dict(SHAPES[args.shape])
    if args.layers:
        cfg["num_hidden_layers"] = args.layers
    if not args.copy_gbps:
        try:
            args.copy_gbps = torch_copy_gbps()
        except Exception as e:  # torch missing
            print(f"(no copy bandwidth: {e})")
    prompt = np.random.default_rng(0).integers(0, cfg["vocab_size"], size=args.prompt).tolist()
    rows = []
    d, p, nbytes = lmx_decode(cfg, prompt, args.tokens)
    rows.append(("lmx bf16", d, p, nbytes))
    mx.clear_cache()
    for bits in args.bits:
        d, p, qbytes = lmx_decode(cfg, prompt, args.tokens, bits)
        rows.append((f"lmx {bits}-bit (g64)", d, p, qbytes))
        mx.clear_cache()
    peers = [] if args.no_peer else [("transformers eager bf16", False)]
    if not args.no_peer and not args.no_compile_peer:
        peers.append(("transformers torch.compile bf16", True))
    for name, compiled in peers:
        try:
            td, tp = torch_decode(cfg, prompt, args.tokens, compiled)
            rows.append((name, td, tp, nbytes))
        except Exception as e:  # transformers missing, too old, or compile failed
            print(f"({name} unavailable: {type(e).__name__}: {e})")
    print(f"model: {args.shape} shape, {cfg['num_hidden_layers']} layers, {nbytes / 1e9:.2f} GB of bf16 weights; "
          f"copy bandwidth {args.copy_gbps:.0f} GB/s")
    print(f"{'engine':28s} {'weights GB':>10s} {'decode tok/s':>13s} {'limit tok/s':>12s} {'of limit':>9s} "
          f"{'prefill tok/s':>14s}")
    for name, d, p, b in rows:
        limit = args.copy_gbps * 1e9 / b if args.copy_gbps else float("nan")
        print(f"{name:28s} {b / 1e9:10.2f} {d:13.1f} {limit:12.0f} {d / limit:9.0%} {p:14.1f}")


if __name__ == "__main__":
    main()
