"""Token-by-token decoding as one compiled step, replayed for every token.

Plain decoding rebuilds the model's graph in Python for each token: on a GPU that build, not
the device, bounds the token rate (a Qwen3-4B-shaped model spends several milliseconds a token
in Python and keeps the GPU about a third busy). Here the step is traced once with
``mx.compile`` and each token replays the recorded graph from C++.

A trace is fixed in shape, so the step works on *static* caches: each layer's keys and values
sit in a buffer with room for every token of the generation, the position is an array input
(rope takes array offsets; the new keys land through ``slice_update`` at that position), and
attention runs over the whole buffer with a mask hiding the positions not yet written. The
caches the caller passed stay valid ``KVCache``s throughout: they hold the (larger) buffers and
their ``offset`` advances with every token, as in plain decoding.

The weights are captured by the trace, so a decoder is made for one generation and dropped.
"""

import os

import lmx.core as mx
from lmx import _core

from .models.cache import KVCache

__all__ = ["CompiledDecoder", "use_compiled_decode"]

# Below this many tokens the one-off trace costs more than replaying saves.
MIN_TOKENS = 16


def _setting():
    value = os.environ.get("LMX_COMPILED_DECODE", "auto")
    if value not in ("auto", "0", "1"):
        raise ValueError(f"[generate_step] LMX_COMPILED_DECODE must be auto, 0 or 1, got {value!r}.")
    return value


def use_compiled_decode(prompt_cache, max_tokens, plain_step_needed):
    """Whether ``generate_step`` decodes through a CompiledDecoder.

    ``plain_step_needed``: the step does something per token in Python (logits processors, a
    cache that may be quantised) and must stay uncompiled. LMX_COMPILED_DECODE=0 turns the
    compiled path off, 1 uses it for any generation it can serve (short ones too), and auto
    (the default) for generations of at least MIN_TOKENS tokens.
    """
    setting = _setting()
    if setting == "0" or plain_step_needed or _core._compile_mode() == "disabled":
        return False
    if max_tokens < 0 or (setting == "auto" and max_tokens < MIN_TOKENS):
        return False
    if not prompt_cache or any(type(c) is not KVCache or c.keys is None for c in prompt_cache):
        return False  # rotating, quantised and batched caches keep their own update rules
    return len({c.offset for c in prompt_cache}) == 1


class _StepCache:
    """A layer's cache as the traced step sees it: a fixed-size buffer and an array offset."""

    def __init__(self, keys, values, offset):
        self.keys, self.values, self.offset = keys, values, offset

    def update_and_fetch(self, keys, values):
        start = self.offset.reshape(1)
        self.keys = mx.slice_update(self.keys, keys.astype(self.keys.dtype), start, axes=(2,))
        self.values = mx.slice_update(self.values, values.astype(self.values.dtype), start, axes=(2,))
        return self.keys, self.values

    def make_mask(self, N, return_array=False, window_size=None):
        # Query i sits at offset + i and sees the written keys up to itself; the rest of the
        # buffer is hidden. Always an array: the positions are known only at run time.
        keys = mx.arange(self.keys.shape[2])[None]
        queries = (self.offset + mx.arange(N))[:, None]
        mask = queries >= keys
        if window_size is not None:
            mask = mask & (queries < keys + window_size)
        return mask


class CompiledDecoder:
    """Decodes one token per call through a compiled step over ``caches`` (plain KVCaches
    holding the same number of tokens), with room for ``max_tokens`` more tokens.

    Calling it with the last token (shape (1,)) returns the next token's log-probabilities,
    shape (1, vocab), and advances every cache by one token.
    """

    def __init__(self, model, caches, max_tokens):
        self._caches = caches
        used = caches[0].offset
        capacity = -(-(used + max_tokens) // KVCache.step) * KVCache.step
        for c in caches:
            have = c.keys.shape[2]
            if have < capacity:
                pad = lambda x: mx.zeros((*x.shape[:2], capacity - have, x.shape[3]), dtype=x.dtype)
                c.keys = mx.concatenate([c.keys, pad(c.keys)], axis=2)
                c.values = mx.concatenate([c.values, pad(c.values)], axis=2)
        self._capacity = capacity
        self._offset = mx.array(used, dtype=mx.int32)

        def step(tokens, offset, *buffers):
            views = [_StepCache(buffers[2 * i], buffers[2 * i + 1], offset) for i in range(len(caches))]
            logits = model(tokens[None], cache=views)[:, -1, :]
            logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
            new_buffers = [b for v in views for b in (v.keys, v.values)]
            return (logprobs, offset + 1, *new_buffers)

        self._step = mx.compile(step)

    def __call__(self, tokens):
        caches = self._caches
        if caches[0].offset >= self._capacity:
            raise ValueError(
                f"[generate_step] The compiled decoder has room for {self._capacity} tokens and is full."
            )
        buffers = [b for c in caches for b in (c.keys, c.values)]
        logprobs, self._offset, *buffers = self._step(tokens, self._offset, *buffers)
        for i, c in enumerate(caches):
            c.keys, c.values = buffers[2 * i], buffers[2 * i + 1]
            c.offset += 1
        return logprobs
