"""Text generation with mlx_lm's API: ``generate_step``, ``stream_generate``, ``generate`` and
the ``python -m lmx.lm.generate`` command line.

The prompt is run through the model in chunks of ``prefill_step_size`` tokens (bounded
memory for long prompts); decoding then computes step n + 1 while step n's token is handed
to the caller, so Python work overlaps the model's.
"""

import argparse
import contextlib
import functools
import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator, List, Optional, Tuple, Union

import lmx.core as mx

from .models import cache as cache_module
from .compiled_decode import CompiledDecoder, use_compiled_decode
from .models.cache import QuantizedKVCache, load_prompt_cache
from .sample_utils import make_sampler
from .tokenizer_utils import TokenizerWrapper

__all__ = [
    "BatchResponse",
    "BatchStats",
    "GenerationResponse",
    "batch_generate",
    "generate",
    "generate_step",
    "maybe_quantize_kv_cache",
    "speculative_generate_step",
    "stream_generate",
]

DEFAULT_PROMPT = "hello"
DEFAULT_MAX_TOKENS = 100
DEFAULT_TEMP = 0.0
DEFAULT_TOP_P = 1.0
DEFAULT_MIN_P = 0.0
DEFAULT_TOP_K = 0
DEFAULT_XTC_PROBABILITY = 0.0
DEFAULT_XTC_THRESHOLD = 0.1
DEFAULT_MIN_TOKENS_TO_KEEP = 1
DEFAULT_SEED = None
DEFAULT_MODEL = None  # lmx.lm.utils.load(None) resolves the bundled default model
DEFAULT_PREFILL_STEP_SIZE = 2048
DEFAULT_QUANTIZED_KV_START = 5000

# Generation runs on its own stream so that it never waits behind unrelated work.
generation_stream = mx.new_stream(mx.default_device())


@contextlib.contextmanager
def wired_limit(model, streams=None):
    """mlx_lm's context for pinning model memory on Apple silicon; nothing to pin here."""
    yield


@dataclass
class GenerationResponse:
    """One step of ``stream_generate``.

    text: the new text segment; token: the token id; logprobs: the (vocab,) log-probabilities
    it was drawn from; from_draft: whether a draft model proposed it; prompt_tokens /
    prompt_tps: prompt length and processing speed; generation_tokens / generation_tps: tokens
    generated so far and their speed; peak_memory: in GB; finish_reason: "length", "stop" or None.
    """

    text: str
    token: int
    logprobs: mx.array
    from_draft: bool
    prompt_tokens: int
    prompt_tps: float
    generation_tokens: int
    generation_tps: float
    peak_memory: float
    finish_reason: Optional[str] = None


def maybe_quantize_kv_cache(prompt_cache, quantized_kv_start, kv_group_size, kv_bits):
    """Swap the caches for quantised ones once they hold more than ``quantized_kv_start`` tokens."""
    if kv_bits is None or not prompt_cache:
        return
    if isinstance(prompt_cache[0], QuantizedKVCache) or prompt_cache[0].offset <= quantized_kv_start:
        return
    for i, c in enumerate(prompt_cache):
        if hasattr(c, "to_quantized"):
            prompt_cache[i] = c.to_quantized(group_size=kv_group_size, bits=kv_bits)


def _as_token_array(prompt, name):
    if isinstance(prompt, (list, tuple)):
        prompt = mx.array(prompt)
    if not isinstance(prompt, mx.array):
        raise TypeError(
            f"[{name}] prompt must be an array or a list of token ids, got {type(prompt).__name__}."
        )
    if prompt.ndim != 1 or prompt.size == 0:
        raise ValueError(
            f"[{name}] prompt must be a non-empty 1-D array of token ids, got shape {tuple(prompt.shape)}."
        )
    return prompt


def _prefill(model, prompt_cache, tokens, step_size, quantize_cache, progress, total):
    """Run all but the last token of ``tokens`` through the model in chunks; returns the rest."""
    done = total - tokens.size
    while tokens.size > 1:
        n = min(step_size, tokens.size - 1)
        model(tokens[:n][None], cache=prompt_cache)
        quantize_cache(prompt_cache)
        mx.eval([c.state for c in prompt_cache])
        done += n
        progress(done, total)
        tokens = tokens[n:]
        mx.clear_cache()
    return tokens


def generate_step(
    prompt: mx.array,
    model,
    *,
    max_tokens: int = 256,
    sampler: Optional[Callable[[mx.array], mx.array]] = None,
    logits_processors: Optional[List[Callable[[mx.array, mx.array], mx.array]]] = None,
    max_kv_size: Optional[int] = None,
    prompt_cache: Optional[Any] = None,
    prefill_step_size: int = 2048,
    kv_bits: Optional[int] = None,
    kv_group_size: int = 64,
    quantized_kv_start: int = DEFAULT_QUANTIZED_KV_START,
    prompt_progress_callback: Optional[Callable[[int, int], None]] = None,
    input_embeddings: Optional[mx.array] = None,
) -> Generator[Tuple[int, mx.array], None, None]:
    """Yield ``(token, logprobs)`` for each generated token, ``max_tokens`` at most (-1: no limit).

    ``prompt_cache`` (from make_prompt_cache) is updated in place, so a later call can continue
    the conversation; ``logits_processors`` see every token so far (prompt included).
    """
    if input_embeddings is not None:
        raise NotImplementedError("[generate_step] input_embeddings are not supported by lmx.lm models yet.")
    prompt = _as_token_array(prompt, "generate_step")
    if not isinstance(prefill_step_size, int) or prefill_step_size < 1:
        raise ValueError(
            f"[generate_step] prefill_step_size must be a positive integer, got {prefill_step_size!r}."
        )
    if prompt_cache is None:
        prompt_cache = cache_module.make_prompt_cache(model, max_kv_size=max_kv_size)
    elif not hasattr(model, "make_cache") and len(prompt_cache) != len(model.layers):
        raise ValueError(
            f"[generate_step] prompt_cache has {len(prompt_cache)} entries, "
            f"the model {len(model.layers)} layers."
        )
    progress = prompt_progress_callback or (lambda *_: None)
    quantize_cache = functools.partial(
        maybe_quantize_kv_cache,
        quantized_kv_start=quantized_kv_start,
        kv_group_size=kv_group_size,
        kv_bits=kv_bits,
    )
    sampler = sampler or (lambda logprobs: mx.argmax(logprobs, axis=-1))
    seen = prompt if logits_processors else None  # every token so far, for the processors

    def step(tokens):
        nonlocal seen
        logits = model(tokens[None], cache=prompt_cache)[:, -1, :]
        if logits_processors:
            for processor in logits_processors:
                logits = processor(seen, logits)
        quantize_cache(prompt_cache)
        logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        token = sampler(logprobs)
        if logits_processors:
            seen = mx.concatenate([seen, token.reshape(-1).astype(seen.dtype)])
        return token, logprobs.squeeze(0)

    total = prompt.size
    with mx.stream(generation_stream):
        progress(0, total)
        rest = _prefill(model, prompt_cache, prompt, prefill_step_size, quantize_cache, progress, total)
        token, logprobs = step(rest)
    mx.async_eval(token, logprobs)

    # lmx's fast path: the per-token steps replay one compiled graph (compiled_decode.py).
    plain_step_needed = bool(logits_processors) or kv_bits is not None
    if use_compiled_decode(prompt_cache, max_tokens, plain_step_needed):
        with mx.stream(generation_stream):
            decoder = CompiledDecoder(model, prompt_cache, max_tokens)

        def step(tokens):
            logprobs = decoder(tokens)
            return sampler(logprobs), logprobs.squeeze(0)

    n = 0
    while True:
        if n != max_tokens:
            with mx.stream(generation_stream):
                next_token, next_logprobs = step(token)
            mx.async_eval(next_token, next_logprobs)
        if n == 0:
            mx.eval(token)
            progress(total, total)
        if n == max_tokens:
            break
        yield token.item(), logprobs
        if n % 256 == 0:
            mx.clear_cache()
        token, logprobs = next_token, next_logprobs
        n += 1


def speculative_generate_step(
    prompt: mx.array,
    model,
    draft_model,
    *,
    num_draft_tokens: int = 2,
    max_tokens: int = 256,
    sampler: Optional[Callable[[mx.array], mx.array]] = None,
    logits_processors: Optional[List[Callable[[mx.array, mx.array], mx.array]]] = None,
    prompt_cache: Optional[Any] = None,
    prefill_step_size: int = 512,
    kv_bits: Optional[int] = None,
    kv_group_size: int = 64,
    quantized_kv_start: int = DEFAULT_QUANTIZED_KV_START,
) -> Generator[Tuple[int, mx.array, bool], None, None]:
    """Speculative decoding: ``draft_model`` proposes ``num_draft_tokens`` tokens, ``model``
    checks them in one pass and keeps the prefix it agrees with (plus its own next token).

    Yields ``(token, logprobs, from_draft)``. ``prompt_cache`` holds the main model's caches
    followed by the draft model's; every cache must be trimmable.
    """
    prompt = _as_token_array(prompt, "speculative_generate_step")
    n_main = len(model.layers)
    if prompt_cache is None:
        main_cache = cache_module.make_prompt_cache(model)
        draft_cache = cache_module.make_prompt_cache(draft_model)
    else:
        main_cache, draft_cache = prompt_cache[:n_main], prompt_cache[n_main:]
    if not cache_module.can_trim_prompt_cache(main_cache + draft_cache):
        raise ValueError("[speculative_generate_step] Speculative decoding needs trimmable caches.")
    sampler = sampler or (lambda logprobs: mx.argmax(logprobs, axis=-1))
    quantize_cache = functools.partial(
        maybe_quantize_kv_cache,
        quantized_kv_start=quantized_kv_start,
        kv_group_size=kv_group_size,
        kv_bits=kv_bits,
    )
    seen = prompt

    def sample(logits, history):
        """Sample each position of (1, L, vocab) logits; position i sees ``history`` plus the
        tokens sampled before it (equal to the drafts wherever they are accepted)."""
        tokens, all_logprobs = [], []
        for i in range(logits.shape[1]):
            row = logits[:, i, :]
            for processor in logits_processors or []:
                row = processor(history, row)
            logprobs = row - mx.logsumexp(row, axis=-1, keepdims=True)
            token = sampler(logprobs).reshape(-1).astype(history.dtype)
            history = mx.concatenate([history, token])
            tokens.append(token)
            all_logprobs.append(logprobs.squeeze(0))
        return mx.concatenate(tokens), all_logprobs

    def forward(net, cache, tokens):
        logits = net(tokens[None], cache=cache)
        quantize_cache(cache)
        return logits

    def noop(*_):
        pass

    with mx.stream(generation_stream):
        pending = _prefill(model, main_cache, prompt, prefill_step_size, quantize_cache, noop, prompt.size)
        _prefill(draft_model, draft_cache, prompt, prefill_step_size, quantize_cache, noop, prompt.size)
    # Invariant: each cache holds every token but its ``pending`` ones.
    draft_pending = pending
    n = 0
    while max_tokens == -1 or n < max_tokens:
        k = num_draft_tokens if max_tokens == -1 else min(num_draft_tokens, max_tokens - n - 1)
        with mx.stream(generation_stream):
            drafts = []
            draft_input, history = draft_pending, seen
            for _ in range(k):
                token, _ = sample(forward(draft_model, draft_cache, draft_input)[:, -1:, :], history)
                history = mx.concatenate([history, token])
                drafts.append(token)
                draft_input = token
            drafts = mx.concatenate(drafts) if drafts else mx.zeros((0,), dtype=pending.dtype)
            logits = forward(model, main_cache, mx.concatenate([pending, drafts]))[:, -(k + 1) :, :]
            tokens, logprobs = sample(logits, seen)
        chosen, proposed = tokens.tolist(), drafts.tolist()
        accepted = 0
        while accepted < k and chosen[accepted] == proposed[accepted]:
            accepted += 1
        for i in range(accepted + 1):
            yield chosen[i], logprobs[i], i < accepted
            n += 1
            if n == max_tokens:
                return
        seen = mx.concatenate([seen, tokens[: accepted + 1]])
        # The main cache saw pending + all k drafts; keep the accepted ones.
        cache_module.trim_prompt_cache(main_cache, k - accepted)
        pending = tokens[accepted : accepted + 1]
        # The draft cache saw draft_pending + drafts 1..k-1.
        if k == 0:
            draft_pending = mx.concatenate([draft_pending, pending])
        elif accepted == k:
            draft_pending = mx.concatenate([drafts[-1:], pending])
        else:
            cache_module.trim_prompt_cache(draft_cache, k - 1 - accepted)
            draft_pending = pending


def stream_generate(
    model,
    tokenizer,
    prompt: Union[str, mx.array, List[int]],
    max_tokens: int = 256,
    draft_model=None,
    **kwargs,
) -> Generator[GenerationResponse, None, None]:
    """Yield a ``GenerationResponse`` per generated token, the last with its ``finish_reason``.

    ``prompt`` is a string (encoded, with BOS unless it already starts with it) or token ids;
    ``kwargs`` go to ``generate_step`` (or ``speculative_generate_step`` with a draft model).
    """
    if not isinstance(tokenizer, TokenizerWrapper):
        tokenizer = TokenizerWrapper(tokenizer)
    if isinstance(prompt, str):
        bos = getattr(tokenizer, "bos_token", None)
        add_special_tokens = bos is None or not prompt.startswith(bos)
        prompt = tokenizer.encode(prompt, add_special_tokens=add_special_tokens)
    prompt = _as_token_array(prompt, "stream_generate")

    detokenizer = tokenizer.detokenizer
    kwargs["max_tokens"] = max_tokens
    if draft_model is None:
        kwargs.pop("num_draft_tokens", None)
        tokens = ((token, logprobs, False) for token, logprobs in generate_step(prompt, model, **kwargs))
    else:
        kwargs.pop("max_kv_size", None)
        kwargs.pop("prompt_progress_callback", None)
        tokens = speculative_generate_step(prompt, model, draft_model, **kwargs)

    def response(text, token, logprobs, from_draft, n, finish_reason=None):
        return GenerationResponse(
            text=text,
            token=token,
            logprobs=logprobs,
            from_draft=from_draft,
            prompt_tokens=prompt.size,
            prompt_tps=prompt_tps,
            generation_tokens=n + 1,
            generation_tps=(n + 1) / (time.perf_counter() - tic),
            peak_memory=mx.get_peak_memory() / 1e9,
            finish_reason=finish_reason,
        )

    with wired_limit(model, [generation_stream]):
        tic = time.perf_counter()
        prompt_tps = 0.0
        token = logprobs = None
        from_draft = False
        n = -1
        for n, (token, logprobs, from_draft) in enumerate(tokens):
            if n == 0:
                prompt_tps = prompt.size / (time.perf_counter() - tic)
                tic = time.perf_counter()
            if token in tokenizer.eos_token_ids:
                break
            detokenizer.add_token(token)
            if n + 1 == max_tokens:
                break
            yield response(detokenizer.last_segment, token, logprobs, from_draft, n)
        if n < 0:
            return  # max_tokens == 0: nothing generated
        detokenizer.finalize()
        reason = "stop" if token in tokenizer.eos_token_ids else "length"
        yield response(detokenizer.last_segment, token, logprobs, from_draft, n, reason)


def generate(model, tokenizer, prompt: Union[str, List[int]], verbose: bool = False, **kwargs) -> str:
    """The whole generated text; with ``verbose`` it is printed as it comes, followed by the
    prompt and generation speeds and the peak memory."""
    if verbose:
        print("=" * 10)
    text = ""
    response = None
    for response in stream_generate(model, tokenizer, prompt, **kwargs):
        if verbose:
            print(response.text, end="", flush=True)
        text += response.text
    if verbose:
        print()
        print("=" * 10)
        if not text or response is None:
            print("No text generated for this prompt")
            return text
        print(f"Prompt: {response.prompt_tokens} tokens, {response.prompt_tps:.3f} tokens-per-sec")
        print(
            f"Generation: {response.generation_tokens} tokens, {response.generation_tps:.3f} tokens-per-sec"
        )
        print(f"Peak memory: {response.peak_memory:.3f} GB")
    return text


@dataclass
class BatchStats:
    """Counts and timings of one ``batch_generate`` call (times in seconds, memory in GB)."""

    prompt_tokens: int = 0
    prompt_time: float = 0.0
    generation_tokens: int = 0
    generation_steps: int = 0
    decode_time: float = 0.0
    wall_time: float = 0.0
    peak_memory: float = 0.0

    @property
    def prompt_tps(self):
        return self.prompt_tokens / self.prompt_time if self.prompt_time > 0 else 0.0

    @property
    def generation_time(self):
        return self.decode_time

    @property
    def generation_tps(self):
        return self.generation_tokens / self.decode_time if self.decode_time > 0 else 0.0

    @property
    def decode_tps(self):
        return self.generation_steps / self.decode_time if self.decode_time > 0 else 0.0

    @property
    def overhead_time(self):
        return max(self.wall_time - self.prompt_time - self.decode_time, 0.0)


@dataclass
class BatchResponse:
    """``texts`` per prompt, ``stats``, and on request the caches, token ids and the
    log-probability of each generated token."""

    texts: List[str]
    stats: BatchStats
    caches: Optional[List[Any]] = None
    token_ids: Optional[List[List[int]]] = None
    logprobs: Optional[List[List[float]]] = None


def batch_generate(
    model,
    tokenizer,
    prompts: List[List[int]],
    prompt_caches: Optional[List[List[Any]]] = None,
    max_tokens: Union[int, List[int]] = 128,
    verbose: bool = False,
    return_prompt_caches: bool = False,
    return_token_ids: bool = False,
    return_logprobs: bool = False,
    **kwargs,
) -> BatchResponse:
    """Generate for several token-id prompts at once: left-padded into one batch, each
    sequence stopping at an end-of-sequence token or its own ``max_tokens``.

    ``kwargs``: ``sampler`` (applied to the (B, vocab) log-probabilities), ``logits_processors``
    (applied per sequence) and ``prefill_step_size``.
    """
    if prompt_caches is not None:
        raise NotImplementedError("[batch_generate] Starting from prompt_caches is not supported yet.")
    if not prompts or not all(isinstance(p, (list, tuple)) and len(p) > 0 for p in prompts):
        raise ValueError("[batch_generate] prompts must be a non-empty list of non-empty token id lists.")
    unknown = set(kwargs) - {"sampler", "logits_processors", "prefill_step_size"}
    if unknown:
        raise TypeError(f"[batch_generate] Unsupported arguments: {sorted(unknown)}.")
    if not isinstance(tokenizer, TokenizerWrapper):
        tokenizer = TokenizerWrapper(tokenizer)
    B = len(prompts)
    limits = [max_tokens] * B if isinstance(max_tokens, int) else list(max_tokens)
    if len(limits) != B:
        raise ValueError(f"[batch_generate] {len(limits)} max_tokens values for {B} prompts.")
    if hasattr(model, "make_cache") and any(type(c) is not cache_module.KVCache for c in model.make_cache()):
        raise NotImplementedError(
            "[batch_generate] Models with sliding-window or special caches are not batched yet."
        )
    sampler = kwargs.get("sampler") or (lambda logprobs: mx.argmax(logprobs, axis=-1))
    processors = kwargs.get("logits_processors") or []
    step_size = kwargs.get("prefill_step_size", DEFAULT_PREFILL_STEP_SIZE)

    wall = time.perf_counter()
    mx.reset_peak_memory()
    length = max(len(p) for p in prompts)
    padding = [length - len(p) for p in prompts]
    batch = mx.array([[0] * pad + list(p) for pad, p in zip(padding, prompts)])
    caches = [cache_module.BatchKVCache(padding) for _ in model.layers]
    histories = [list(p) for p in prompts]
    outputs = [[] for _ in range(B)]
    logprob_lists = [[] for _ in range(B)]
    done = [limit <= 0 for limit in limits]

    def step(inputs):
        logits = model(inputs, cache=caches)[:, -1, :]
        if processors:
            rows = []
            for i in range(B):
                row = logits[i : i + 1]
                for processor in processors:
                    row = processor(mx.array(histories[i]), row)
                rows.append(row)
            logits = mx.concatenate(rows, axis=0)
        logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        return sampler(logprobs), logprobs

    with mx.stream(generation_stream):
        tic = time.perf_counter()
        done_prefill = 0
        while length - done_prefill > 1:
            n = min(step_size, length - done_prefill - 1)
            model(batch[:, done_prefill : done_prefill + n], cache=caches)
            mx.eval([c.state for c in caches])
            done_prefill += n
        tokens, logprobs = step(batch[:, done_prefill:])
        mx.eval(tokens, logprobs)
        prompt_time = time.perf_counter() - tic

        tic = time.perf_counter()
        steps = generated = 0
        while not all(done):
            values = tokens.tolist()
            for i, token in enumerate(values):
                if done[i]:
                    continue
                generated += 1  # an end-of-sequence token counts as generated, as in mlx_lm
                if token in tokenizer.eos_token_ids:
                    done[i] = True
                    continue
                outputs[i].append(token)
                histories[i].append(token)
                if return_logprobs:
                    logprob_lists[i].append(logprobs[i, token].item())  # the chosen token's
                if len(outputs[i]) >= limits[i]:
                    done[i] = True
            steps += 1
            if verbose:
                print(f"[batch_generate] Finished processing {sum(done)}/{B} ...", end="\r", flush=True)
            if all(done):
                break
            tokens, logprobs = step(tokens[:, None].astype(batch.dtype))
            mx.eval(tokens, logprobs)
        decode_time = time.perf_counter() - tic

    stats = BatchStats(
        prompt_tokens=sum(len(p) for p in prompts),
        prompt_time=prompt_time,
        generation_tokens=generated,
        generation_steps=steps,
        decode_time=decode_time,
        wall_time=time.perf_counter() - wall,
        peak_memory=mx.get_peak_memory() / 1e9,
    )
    if verbose:
        print(f"[batch_generate] Finished processing {B}/{B}")
        print(f"[batch_generate] Prompt: {stats.prompt_tokens} tokens, {stats.prompt_tps:.3f} tokens-per-sec")
        print(
            f"[batch_generate] Generation: {stats.generation_tokens} tokens, "
            f"{stats.generation_tps:.3f} tokens-per-sec"
        )
        print(f"[batch_generate] Peak memory: {stats.peak_memory:.3f} GB")
    return BatchResponse(
        texts=[tokenizer.decode(o) for o in outputs],
        stats=stats,
        caches=caches if return_prompt_caches else None,
        token_ids=outputs if return_token_ids else None,
        logprobs=logprob_lists if return_logprobs else None,
    )


# ---------------------------------------------------------------------------------------------
# Command line


def str2bool(value):
    if isinstance(value, bool):
        return value
    if value.lower() in ("true", "t", "yes", "y", "1"):
        return True
    if value.lower() in ("false", "f", "no", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"Boolean value expected, got {value!r}.")


def add_model_arguments(parser):
    """The model options shared by the generate, chat and cache_prompt command lines."""
    parser.add_argument(
        "--model",
        type=str,
        default=DEFAULT_MODEL,
        help="Model folder or .gguf file (default: the bundled model)",
    )
    parser.add_argument("--trust-remote-code", action="store_true", help="Accepted for mlx_lm compatibility")
    parser.add_argument(
        "--adapter-path", type=str, help="Optional path for trained adapter weights and config"
    )


def add_kv_quantization_arguments(parser):
    """The KV cache quantisation options shared by the generate and cache_prompt command lines."""
    parser.add_argument("--kv-bits", type=int, default=None, help="Bits for KV cache quantization")
    parser.add_argument("--kv-group-size", type=int, default=64, help="Group size for KV cache quantization")
    parser.add_argument(
        "--quantized-kv-start",
        type=int,
        default=DEFAULT_QUANTIZED_KV_START,
        help="Quantize the KV cache from this many tokens on (with --kv-bits)",
    )


def add_sampling_arguments(parser):
    """The sampling options shared by the generate and chat command lines."""
    parser.add_argument("--temp", type=float, default=DEFAULT_TEMP, help="Sampling temperature")
    parser.add_argument("--top-p", type=float, default=DEFAULT_TOP_P, help="Sampling top-p")
    parser.add_argument("--min-p", type=float, default=DEFAULT_MIN_P, help="Sampling min-p")
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="Sampling top-k")
    parser.add_argument(
        "--xtc-probability", type=float, default=DEFAULT_XTC_PROBABILITY, help="Probability of XTC sampling"
    )
    parser.add_argument(
        "--xtc-threshold",
        type=float,
        default=DEFAULT_XTC_THRESHOLD,
        help="Probability threshold of XTC sampling",
    )
    parser.add_argument(
        "--min-tokens-to-keep", type=int, default=DEFAULT_MIN_TOKENS_TO_KEEP, help="Tokens min-p always keeps"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="PRNG seed")
    parser.add_argument(
        "--max-kv-size", type=int, default=None, help="Maximum key-value cache size (rotating)"
    )


def sampler_from_args(args, special_tokens=()):
    return make_sampler(
        args.temp,
        args.top_p,
        args.min_p,
        args.min_tokens_to_keep,
        top_k=args.top_k,
        xtc_probability=args.xtc_probability,
        xtc_threshold=args.xtc_threshold,
        xtc_special_tokens=list(special_tokens),
    )


def setup_arg_parser():
    parser = argparse.ArgumentParser(description="LLM inference script")
    add_model_arguments(parser)
    parser.add_argument(
        "--extra-eos-token", type=str, default=(), nargs="+", help="Add tokens to the list of eos tokens"
    )
    parser.add_argument("--system-prompt", default=None, help="System prompt for the chat template")
    parser.add_argument(
        "--prompt",
        "-p",
        default=DEFAULT_PROMPT,
        help="Message to be processed by the model ('-' reads stdin)",
    )
    parser.add_argument("--prefill-response", default=None, help="Start of the assistant's response")
    parser.add_argument(
        "--max-tokens", "-m", type=int, default=DEFAULT_MAX_TOKENS, help="Maximum tokens to generate"
    )
    add_sampling_arguments(parser)
    parser.add_argument("--ignore-chat-template", action="store_true", help="Use the raw prompt")
    parser.add_argument(
        "--use-default-chat-template", action="store_true", help="Use the default chat template"
    )
    parser.add_argument(
        "--chat-template-config", default=None, help="JSON dict of apply_chat_template arguments"
    )
    parser.add_argument(
        "--verbose", type=str2bool, default=True, help="Print progress and statistics ('True'/'False')"
    )
    parser.add_argument(
        "--prefill-step-size",
        type=int,
        default=DEFAULT_PREFILL_STEP_SIZE,
        help="Prompt tokens processed at a time",
    )
    parser.add_argument(
        "--prompt-cache-file", type=str, default=None, help="A saved prompt cache to start from"
    )
    add_kv_quantization_arguments(parser)
    parser.add_argument("--draft-model", type=str, default=None, help="A model for speculative decoding")
    parser.add_argument("--num-draft-tokens", type=int, default=3, help="Tokens to draft per step")
    return parser


def build_prompt(
    tokenizer,
    prompt,
    system_prompt=None,
    ignore_chat_template=False,
    prefill_response=None,
    continues_cache=False,
    **template_kwargs,
):
    """Token ids for ``prompt``: through the chat template when the tokenizer has one.

    With ``continues_cache`` the prompt continues a user message whose opening is already in
    a saved prompt cache (see lmx.lm.cache_prompt): only the text after that opening is encoded.
    """
    if ignore_chat_template or not tokenizer.has_chat_template:
        return tokenizer.encode(prompt, add_special_tokens=not continues_cache)
    messages = [] if system_prompt is None else [{"role": "system", "content": system_prompt}]
    messages.append({"role": "user", "content": prompt})
    prefill = prefill_response is not None
    if prefill:
        messages.append({"role": "assistant", "content": prefill_response})

    def render(messages):
        return tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=not prefill,
            continue_final_message=prefill,
            **template_kwargs,
        )

    text = render(messages)
    if continues_cache:
        marker = "<query>"
        probe = render(
            [
                *messages[: -1 - prefill],
                {"role": "user", "content": marker},
                *messages[len(messages) - prefill :],
            ]
        )
        text = text[probe.index(marker) :]
    return tokenizer.encode(text, add_special_tokens=False)


def main(argv=None):
    args = setup_arg_parser().parse_args(argv)
    from .utils import load  # the model registry, only needed by the command line

    if args.seed is not None:
        mx.random.seed(args.seed)
    prompt_cache = None
    tokenizer_config = {}
    if args.prompt_cache_file is not None:
        prompt_cache, metadata = load_prompt_cache(args.prompt_cache_file, return_metadata=True)
        # the cache belongs to the model and tokenizer settings it was made with
        args.model = args.model or metadata.get("model") or None
        tokenizer_config = json.loads(metadata.get("tokenizer_config", "{}"))
        if isinstance(prompt_cache[0], QuantizedKVCache) and (
            args.kv_bits != prompt_cache[0].bits or args.kv_group_size != prompt_cache[0].group_size
        ):
            raise SystemExit("[generate] --kv-bits/--kv-group-size must match the quantized prompt cache.")
    model, tokenizer = load(args.model, adapter_path=args.adapter_path, tokenizer_config=tokenizer_config)
    for eos_token in args.extra_eos_token:
        tokenizer.add_eos_token(eos_token)
    if args.use_default_chat_template and tokenizer.chat_template is None:
        tokenizer.chat_template = getattr(tokenizer, "default_chat_template", None)

    prompt = args.prompt.replace("\\n", "\n").replace("\\t", "\t")
    if prompt == "-":
        prompt = sys.stdin.read()
    template_kwargs = json.loads(args.chat_template_config) if args.chat_template_config else {}
    prompt = build_prompt(
        tokenizer,
        prompt,
        args.system_prompt,
        args.ignore_chat_template,
        args.prefill_response,
        continues_cache=prompt_cache is not None,
        **template_kwargs,
    )

    draft_model = None
    if args.draft_model is not None:
        draft_model, _ = load(args.draft_model)
    response = generate(
        model,
        tokenizer,
        prompt,
        max_tokens=args.max_tokens,
        verbose=args.verbose,
        sampler=sampler_from_args(args),
        max_kv_size=args.max_kv_size,
        prompt_cache=prompt_cache,
        prefill_step_size=args.prefill_step_size,
        kv_bits=args.kv_bits,
        kv_group_size=args.kv_group_size,
        quantized_kv_start=args.quantized_kv_start,
        draft_model=draft_model,
        num_draft_tokens=args.num_draft_tokens,
    )
    if not args.verbose:
        print(response)


if __name__ == "__main__":
    main()
