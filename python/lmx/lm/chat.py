"""Interactive chat with a model: ``python -m lmx.lm.chat [--model PATH]``.

The conversation lives in the prompt cache, so each turn only runs the new message through
the model. Commands: ``q`` quits, ``r`` resets the conversation, ``h`` shows the commands.
"""

import argparse

import lmx.core as mx

from .generate import (
    DEFAULT_PREFILL_STEP_SIZE,
    add_model_arguments,
    add_sampling_arguments,
    sampler_from_args,
    stream_generate,
)
from .models.cache import make_prompt_cache

DEFAULT_MAX_TOKENS = 256
HELP = "The command list:\n- 'q' to exit\n- 'r' to reset the chat\n- 'h' to display these commands"


def setup_arg_parser():
    parser = argparse.ArgumentParser(description="Chat with an LLM")
    add_model_arguments(parser)
    add_sampling_arguments(parser)
    parser.set_defaults(seed=0)
    parser.add_argument(
        "--prefill-step-size",
        type=int,
        default=DEFAULT_PREFILL_STEP_SIZE,
        help="Prompt tokens processed at a time",
    )
    parser.add_argument(
        "--max-tokens", "-m", type=int, default=DEFAULT_MAX_TOKENS, help="Maximum tokens per reply"
    )
    parser.add_argument("--system-prompt", default=None, help="System prompt for the chat template")
    return parser


def chat(model, tokenizer, args, read=input, write=print):
    """Run the read-reply loop until ``q`` or end of input; ``read``/``write`` are swappable for tests."""
    sampler = sampler_from_args(args)
    prompt_cache = make_prompt_cache(model, args.max_kv_size)
    write(HELP)
    while True:
        try:
            query = read(">> ")
        except EOFError:
            break
        if query == "q":
            break
        if query == "r":
            prompt_cache = make_prompt_cache(model, args.max_kv_size)
            continue
        if query == "h":
            write(HELP)
            continue
        messages = []
        # the system prompt opens the conversation only; later turns continue from the cache
        if args.system_prompt is not None and all(
            c.offset == 0 for c in prompt_cache if hasattr(c, "offset")
        ):
            messages.append({"role": "system", "content": args.system_prompt})
        messages.append({"role": "user", "content": query})
        if tokenizer.has_chat_template:
            prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        else:
            prompt = tokenizer.encode(query)
        for response in stream_generate(
            model,
            tokenizer,
            prompt,
            max_tokens=args.max_tokens,
            sampler=sampler,
            prompt_cache=prompt_cache,
            prefill_step_size=args.prefill_step_size,
        ):
            write(response.text, flush=True, end="")
        write()


def main(argv=None):
    args = setup_arg_parser().parse_args(argv)
    from .utils import load

    mx.random.seed(args.seed)
    model, tokenizer = load(args.model, adapter_path=args.adapter_path)
    print(f"[INFO] Starting chat session with {args.model or 'the default model'}.")
    chat(model, tokenizer, args)


if __name__ == "__main__":
    main()
