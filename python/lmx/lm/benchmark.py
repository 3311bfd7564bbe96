"""Prompt-processing and generation speed of a model: ``python -m lmx.lm.benchmark -p 512 -g 128``.

Random prompt tokens are fed so that results do not depend on a tokenizer; generation ignores
end-of-sequence tokens so that exactly ``-g`` tokens are produced.
"""

import argparse
import time

import lmx.core as mx

from .generate import DEFAULT_PREFILL_STEP_SIZE, generate_step


def setup_arg_parser():
    parser = argparse.ArgumentParser(description="LLM benchmarking script")
    parser.add_argument(
        "--model", type=str, default=None, help="Model folder or .gguf file (default: bundled model)"
    )
    parser.add_argument("--prompt-tokens", "-p", type=int, default=512, help="Length of prompt")
    parser.add_argument("--generation-tokens", "-g", type=int, default=1024, help="Length of completion")
    parser.add_argument("--batch-size", "-b", type=int, default=1, help="Batch size (only 1 is supported)")
    parser.add_argument("--num-trials", "-n", type=int, default=5, help="Number of timing trials")
    parser.add_argument(
        "--prefill-step-size",
        type=int,
        default=DEFAULT_PREFILL_STEP_SIZE,
        help="Prompt tokens processed at a time",
    )
    parser.add_argument("--delay", type=int, default=0, help="Delay between trials in seconds")
    parser.add_argument("--trust-remote-code", action="store_true", help="Accepted for mlx_lm compatibility")
    return parser


def run_trial(model, prompt, generation_tokens, prefill_step_size=DEFAULT_PREFILL_STEP_SIZE):
    """(prompt tokens/s, generation tokens/s, peak memory in GB) of one generation."""
    mx.reset_peak_memory()
    tic = time.perf_counter()
    prompt_time = None
    n = 0
    for n, _ in enumerate(
        generate_step(prompt, model, max_tokens=generation_tokens, prefill_step_size=prefill_step_size), 1
    ):
        if prompt_time is None:
            prompt_time = time.perf_counter() - tic
            tic = time.perf_counter()
    generation_time = time.perf_counter() - tic
    # the first token comes out of the prompt pass; the speed counts the ones decoded after it
    generation_tps = (n - 1) / generation_time if n > 1 else 0.0
    return prompt.size / prompt_time, generation_tps, mx.get_peak_memory() / 1e9


def main(argv=None):
    args = setup_arg_parser().parse_args(argv)
    if args.batch_size != 1:
        raise SystemExit("[benchmark] Only --batch-size 1 is supported.")
    if args.prompt_tokens < 1 or args.generation_tokens < 1:
        raise SystemExit("[benchmark] --prompt-tokens and --generation-tokens must be positive.")
    from .utils import load

    model, tokenizer = load(args.model)
    mx.random.seed(0)
    vocab_size = len(tokenizer) if hasattr(tokenizer, "__len__") else 32000
    prompt = mx.random.randint(0, vocab_size, (args.prompt_tokens,))
    print(
        f"Running warmup.. (prompt {args.prompt_tokens} tokens, generation {args.generation_tokens} tokens)"
    )
    run_trial(model, prompt[: min(64, args.prompt_tokens)], 4, args.prefill_step_size)
    results = []
    for i in range(args.num_trials):
        prompt_tps, generation_tps, peak = run_trial(
            model, prompt, args.generation_tokens, args.prefill_step_size
        )
        results.append((prompt_tps, generation_tps, peak))
        print(
            f"Trial {i + 1}:  prompt_tps={prompt_tps:.3f}, generation_tps={generation_tps:.3f}, "
            f"peak_memory={peak:.3f}"
        )
        time.sleep(args.delay)
    averages = [sum(r[j] for r in results) / len(results) for j in range(3)]
    print(
        f"Averages: prompt_tps={averages[0]:.3f}, generation_tps={averages[1]:.3f}, "
        f"peak_memory={averages[2]:.3f}"
    )


if __name__ == "__main__":
    main()
