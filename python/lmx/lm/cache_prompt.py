"""Run a prompt through a model once and save its KV cache: ``python -m lmx.lm.cache_prompt
--model PATH --prompt TEXT --prompt-cache-file FILE``. ``python -m lmx.lm.generate
--prompt-cache-file FILE --prompt MORE`` then continues from it without recomputing the prompt.

With a chat template the cached text is the opening of a user message holding the prompt;
the later prompt continues that message.
"""

import argparse
import json
import sys
import time

import lmx.core as mx

from .generate import add_kv_quantization_arguments, add_model_arguments, maybe_quantize_kv_cache
from .models.cache import make_prompt_cache, save_prompt_cache


def setup_arg_parser():
    parser = argparse.ArgumentParser(
        description="Cache the state of a prompt to be reused with lmx.lm.generate"
    )
    add_model_arguments(parser)
    parser.add_argument("--eos-token", type=str, default=None, help="End of sequence token for the tokenizer")
    parser.add_argument(
        "--max-kv-size", type=int, default=None, help="Maximum key-value cache size (rotating)"
    )
    parser.add_argument("--prompt-cache-file", required=True, help="The file to save the prompt cache in")
    parser.add_argument(
        "--prompt", required=True, help="Message to be processed by the model ('-' reads stdin)"
    )
    add_kv_quantization_arguments(parser)
    parser.add_argument(
        "--prefill-step-size", type=int, default=2048, help="Prompt tokens processed at a time"
    )
    return parser


def cached_prompt_tokens(tokenizer, prompt):
    """The tokens to cache: the opening of a user message holding ``prompt`` (chat models)."""
    if tokenizer.has_chat_template:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, continue_final_message=True
        )
        return tokenizer.encode(text, add_special_tokens=False)
    return tokenizer.encode(prompt)


def main(argv=None):
    args = setup_arg_parser().parse_args(argv)
    from .utils import load

    tokenizer_config = {"eos_token": args.eos_token} if args.eos_token is not None else {}
    model, tokenizer = load(args.model, adapter_path=args.adapter_path, tokenizer_config=tokenizer_config)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    tokens = mx.array(cached_prompt_tokens(tokenizer, prompt))

    cache = make_prompt_cache(model, args.max_kv_size)
    tic = time.perf_counter()
    for start in range(0, tokens.size, args.prefill_step_size):
        model(tokens[start : start + args.prefill_step_size][None], cache=cache)
        maybe_quantize_kv_cache(cache, args.quantized_kv_start, args.kv_group_size, args.kv_bits)
        mx.eval([c.state for c in cache])
        done = min(start + args.prefill_step_size, tokens.size)
        print(f"Processed {done:6d} tokens ({done / (time.perf_counter() - tic):6.2f} tok/s)", flush=True)
    print(f"Peak memory: {mx.get_peak_memory() / 1e9:.3f} GB")
    print("Saving...")
    metadata = {
        "model": args.model or "",
        "chat_template": json.dumps(getattr(tokenizer, "chat_template", None)),
        "tokenizer_config": json.dumps(tokenizer_config),
    }
    save_prompt_cache(args.prompt_cache_file, cache, metadata)


if __name__ == "__main__":
    main()
