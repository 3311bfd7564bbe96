"""Token samplers and logits processors with mlx_lm's names and semantics.

A sampler maps log-probabilities (B, vocab) to token ids (B,). Filters (top-k, top-p, min-p,
XTC) set the log-probability of excluded tokens to -inf before a categorical draw at the
given temperature. A logits processor maps (tokens so far, logits) to new logits.
"""

import math
from functools import partial
from typing import Callable, Dict, List, Optional

import lmx.core as mx

__all__ = [
    "apply_min_p",
    "apply_top_k",
    "apply_top_p",
    "apply_xtc",
    "categorical_sampling",
    "greedy_sampler",
    "make_frequency_penalty",
    "make_logits_processors",
    "make_presence_penalty",
    "make_repetition_penalty",
    "make_sampler",
]

Sampler = Callable[[mx.array], mx.array]
LogitsProcessor = Callable[[mx.array, mx.array], mx.array]


def greedy_sampler(logprobs: mx.array) -> mx.array:
    return mx.argmax(logprobs, axis=-1)


def categorical_sampling(logits: mx.array, temp: float) -> mx.array:
    return mx.random.categorical(logits * (1 / temp))


def _undo_sort(sorted_values, order):
    """Values given in ``order`` (argsort indices along the last axis) put back in place."""
    inverse = mx.argsort(order, axis=-1)
    return mx.take_along_axis(sorted_values, inverse, axis=-1)


def apply_top_k(logprobs: mx.array, top_k: int) -> mx.array:
    """Keep the ``top_k`` most likely tokens."""
    vocab = logprobs.shape[-1]
    if not isinstance(top_k, int) or not 0 < top_k < vocab:
        raise ValueError(f"[apply_top_k] top_k must be an integer in [1, {vocab - 1}], got {top_k!r}.")
    dropped = mx.argpartition(-logprobs, kth=top_k - 1, axis=-1)[..., top_k:]
    return mx.put_along_axis(logprobs, dropped, mx.array(-float("inf"), logprobs.dtype), axis=-1)


def apply_top_p(logprobs: mx.array, top_p: float) -> mx.array:
    """Nucleus sampling: keep the most likely tokens whose probabilities sum to ``top_p``.

    In ascending order a token is kept when the mass up to and including it exceeds 1 - top_p.
    """
    order = mx.argsort(logprobs, axis=-1)
    ascending = mx.take_along_axis(mx.exp(logprobs), order, axis=-1)
    mass = _undo_sort(mx.cumsum(ascending, axis=-1), order)
    return mx.where(mass > 1 - top_p, logprobs, -float("inf"))


def apply_min_p(logprobs: mx.array, min_p: float, min_tokens_to_keep: int = 1) -> mx.array:
    """Keep tokens at least ``min_p`` times as likely as the most likely one (and always the
    ``min_tokens_to_keep`` most likely)."""
    if not 0 <= min_p <= 1.0:
        raise ValueError(f"[apply_min_p] min_p must be in [0, 1], got {min_p}.")
    if not isinstance(min_tokens_to_keep, int) or min_tokens_to_keep < 1:
        raise ValueError(
            f"[apply_min_p] min_tokens_to_keep must be a positive integer, got {min_tokens_to_keep!r}."
        )
    order = mx.argsort(-logprobs, axis=-1)
    descending = mx.take_along_axis(logprobs, order, axis=-1)
    threshold = descending[..., :1] + math.log(min_p) if min_p > 0 else None
    if threshold is None:
        return logprobs
    rank = mx.arange(descending.shape[-1])
    drop = (descending < threshold) & (rank >= min_tokens_to_keep)
    return _undo_sort(mx.where(drop, -float("inf"), descending), order)


def apply_xtc(
    logits: mx.array, xtc_probability: float, xtc_threshold: float, xtc_special_tokens: List[int]
) -> mx.array:
    """Exclude Top Choices: with probability ``xtc_probability`` drop every token above
    ``xtc_threshold`` probability except the least likely of them; special tokens stay."""
    if not 0 <= xtc_threshold <= 0.5:
        raise ValueError(f"[apply_xtc] xtc_threshold must be in [0, 0.5], got {xtc_threshold}.")
    if not 0 <= xtc_probability <= 1.0:
        raise ValueError(f"[apply_xtc] xtc_probability must be in [0, 1], got {xtc_probability}.")
    probs = mx.softmax(logits, axis=-1)
    above = mx.where(probs > xtc_threshold, probs, mx.inf)
    mask = probs > mx.min(above, axis=-1, keepdims=True)
    if xtc_special_tokens:
        keep = mx.zeros((logits.shape[-1],), dtype=mx.bool_)
        keep[mx.array(list(xtc_special_tokens))] = True
        mask = mask & ~keep
    excluded = mx.where(mask, -float("inf"), logits)
    return mx.where(mx.random.uniform(0, 1) > xtc_probability, logits, excluded)


def make_sampler(
    temp: float = 0.0,
    top_p: float = 0.0,
    min_p: float = 0.0,
    min_tokens_to_keep: int = 1,
    top_k: int = 0,
    xtc_probability: float = 0.0,
    xtc_threshold: float = 0.1,
    xtc_special_tokens: Optional[List[int]] = None,
) -> Sampler:
    """A sampler: argmax at ``temp`` 0, else the enabled filters in mlx_lm's order (top-p,
    min-p, XTC, top-k), then a categorical draw at temperature ``temp``."""
    if temp < 0:
        raise ValueError(f"[make_sampler] temp must be non-negative, got {temp}.")
    if temp == 0:
        return greedy_sampler
    filters = []
    if 0 < top_p < 1.0:
        filters.append(partial(apply_top_p, top_p=top_p))
    if min_p != 0.0:
        filters.append(partial(apply_min_p, min_p=min_p, min_tokens_to_keep=min_tokens_to_keep))
    if xtc_probability > 0.0:
        filters.append(
            partial(
                apply_xtc,
                xtc_probability=xtc_probability,
                xtc_threshold=xtc_threshold,
                xtc_special_tokens=list(xtc_special_tokens or []),
            )
        )
    if top_k > 0:
        filters.append(partial(apply_top_k, top_k=top_k))

    def sampler(logprobs):
        for f in filters:
            logprobs = f(logprobs)
        return categorical_sampling(logprobs, temp)

    return sampler


def _recent(tokens, context_size):
    return tokens[-context_size:] if context_size else tokens


def make_repetition_penalty(penalty: float, context_size: int = 20) -> LogitsProcessor:
    """Divide positive (multiply negative) logits of the last ``context_size`` tokens by ``penalty``."""
    if not isinstance(penalty, (int, float)) or penalty < 0:
        raise ValueError(f"[make_repetition_penalty] penalty must be a non-negative number, got {penalty!r}.")

    def repetition_penalty_processor(tokens, logits):
        if len(tokens) > 0:
            recent = _recent(tokens, context_size)
            selected = logits[:, recent]
            selected = mx.where(selected < 0, selected * penalty, selected / penalty)
            logits[:, recent] = selected
        return logits

    return repetition_penalty_processor


def make_presence_penalty(penalty: float, context_size: int = 20) -> LogitsProcessor:
    """Subtract ``penalty`` once from the logit of every token seen in the last ``context_size``."""

    def presence_penalty_processor(tokens, logits):
        if len(tokens) > 0:
            recent = _recent(tokens, context_size)
            logits[:, recent] = logits[:, recent] - penalty  # repeated indices assign the same value
        return logits

    return presence_penalty_processor


def make_frequency_penalty(penalty: float, context_size: int = 20) -> LogitsProcessor:
    """Subtract ``penalty`` times the count of each token in the last ``context_size``."""

    def frequency_penalty_processor(tokens, logits):
        if len(tokens) > 0:
            recent = _recent(tokens, context_size)
            counts = mx.zeros((logits.shape[-1],), dtype=logits.dtype).at[recent].add(1)
            logits = logits - penalty * counts
        return logits

    return frequency_penalty_processor


def make_logits_processors(
    logit_bias: Optional[Dict[int, float]] = None,
    repetition_penalty: Optional[float] = None,
    repetition_context_size: Optional[int] = 20,
    presence_penalty: Optional[float] = None,
    presence_context_size: Optional[int] = 20,
    frequency_penalty: Optional[float] = None,
    frequency_context_size: Optional[int] = 20,
) -> List[LogitsProcessor]:
    """The processors the arguments ask for: additive ``logit_bias`` {token: bias}, then the penalties."""
    processors = []
    if logit_bias:
        indices = mx.array(list(logit_bias.keys()))
        values = mx.array(list(logit_bias.values()))

        def logit_bias_processor(_, logits):
            logits[:, indices] = logits[:, indices] + values
            return logits

        processors.append(logit_bias_processor)
    if repetition_penalty and repetition_penalty != 0.0:
        processors.append(make_repetition_penalty(repetition_penalty, repetition_context_size))
    if presence_penalty and presence_penalty != 0.0:
        processors.append(make_presence_penalty(presence_penalty, presence_context_size))
    if frequency_penalty and frequency_penalty != 0.0:
        processors.append(make_frequency_penalty(frequency_penalty, frequency_context_size))
    return processors
