"""Pieces shared by every architecture: config dataclasses, attention masks, attention.

Same names and signatures as ``mlx_lm.models.base`` so model code written for mlx_lm runs unchanged.
"""

import inspect
from dataclasses import dataclass
from typing import Optional

import lmx.core as mx

__all__ = [
    "BaseModelArgs",
    "create_attention_mask",
    "create_causal_mask",
    "quantized_scaled_dot_product_attention",
    "scaled_dot_product_attention",
]


@dataclass
class BaseModelArgs:
    @classmethod
    def from_dict(cls, params):
        """Build the args from a config dict, ignoring keys the architecture does not use."""
        if not isinstance(params, dict):
            raise TypeError(f"[{cls.__name__}.from_dict] Expected a dict, got {type(params).__name__}.")
        known = inspect.signature(cls).parameters
        return cls(**{k: v for k, v in params.items() if k in known})


def create_causal_mask(
    N: int,
    offset: int = 0,
    window_size: Optional[int] = None,
    right_padding: Optional[mx.array] = None,
    left_padding: Optional[mx.array] = None,
):
    """Boolean mask (True = attend) of N queries at positions offset.. over offset + N keys.

    With ``window_size`` a query sees only the last ``window_size`` keys (itself included).
    Per-batch ``right_padding`` / ``left_padding`` (shape (B,)) hide padded keys; the mask
    then has shape (B, 1, N, offset + N).
    """
    key_positions = mx.arange(offset + N)
    query_positions = mx.arange(offset, offset + N) if offset else key_positions
    query_positions = query_positions[:, None]
    key_positions = key_positions[None]
    mask = query_positions >= key_positions
    if window_size is not None:
        mask = mask & (query_positions < key_positions + window_size)
    if right_padding is not None:
        visible = key_positions < (offset + N - right_padding)[:, None]
        mask = mask & visible[:, None, None, :]
    if left_padding is not None:
        visible = key_positions >= left_padding[:, None]
        mask = mask & visible[:, None, None, :]
    return mask


def create_attention_mask(h, cache=None, window_size: Optional[int] = None, return_array: bool = False):
    """The mask for hidden states ``h`` (B, N, D) attending through ``cache``.

    None for a single token (it sees everything cached), "causal" for the fused kernel's own
    causal masking, or a boolean array when a window or ``return_array`` requires one.
    """
    N = h.shape[1]
    if cache is not None and hasattr(cache, "make_mask"):
        return cache.make_mask(N, return_array=return_array, window_size=window_size)
    if N == 1:
        return None
    offset = 0
    if cache is not None:
        offset = cache.offset
        # A rotating cache holds at most max_size keys: the window is the cache size.
        max_size = getattr(cache, "max_size", None)
        if max_size is not None:
            window_size = window_size or max_size
            offset = min(max_size - 1, offset)
    if return_array or (window_size is not None and offset + N > window_size):
        return create_causal_mask(N, offset, window_size=window_size)
    return "causal"


def quantized_scaled_dot_product_attention(
    queries, q_keys, q_values, scale: float, mask, group_size: int = 64, bits: int = 8
):
    """Attention over keys/values stored as (packed, scales, biases) affine-quantised tuples.

    queries: (B, n_heads, L, D); each of q_keys / q_values holds arrays of shape
    (B, n_kv_heads, S, ...). Grouped-query heads share their kv head.
    """
    B, n_q_heads, L, D = queries.shape
    n_kv_heads = q_keys[0].shape[-3]
    if n_q_heads % n_kv_heads != 0:
        raise ValueError(
            f"[quantized_scaled_dot_product_attention] {n_q_heads} query heads are not a multiple "
            f"of {n_kv_heads} key/value heads."
        )
    n_repeats = n_q_heads // n_kv_heads
    queries = queries * scale
    if n_repeats > 1:
        queries = mx.reshape(queries, (B, n_kv_heads, n_repeats, L, D))
        q_keys = tuple(mx.expand_dims(a, -3) for a in q_keys)
        q_values = tuple(mx.expand_dims(a, -3) for a in q_values)

    scores = mx.quantized_matmul(queries, *q_keys, transpose=True, group_size=group_size, bits=bits)
    if mask is not None:
        if isinstance(mask, str):
            if mask != "causal":
                raise ValueError(f"[quantized_scaled_dot_product_attention] Unknown mask '{mask}'.")
            S = scores.shape[-1]
            mask = create_causal_mask(L, S - L)
        if mask.dtype == mx.bool_:
            scores = mx.where(mask, scores, mx.finfo(scores.dtype).min)
        else:
            scores = scores + mask
    scores = mx.softmax(scores, axis=-1, precise=True)
    out = mx.quantized_matmul(scores, *q_values, transpose=False, group_size=group_size, bits=bits)
    if n_repeats > 1:
        out = mx.reshape(out, (B, n_q_heads, L, D))
    return out


def scaled_dot_product_attention(queries, keys, values, cache, scale: float, mask, sinks=None):
    """Fused attention, or the quantised path when ``cache`` stores quantised keys/values."""
    if hasattr(cache, "bits"):
        if sinks is not None:
            raise ValueError(
                "[scaled_dot_product_attention] Attention sinks are not supported with a quantized cache."
            )
        return quantized_scaled_dot_product_attention(
            queries, keys, values, scale=scale, mask=mask, group_size=cache.group_size, bits=cache.bits
        )
    if sinks is not None:
        return mx.fast.scaled_dot_product_attention(
            queries, keys, values, scale=scale, mask=mask, sinks=sinks
        )
    return mx.fast.scaled_dot_product_attention(queries, keys, values, scale=scale, mask=mask)
