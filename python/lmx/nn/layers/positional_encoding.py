"""Positional encodings: rotary (``RoPE``), sinusoidal and ALiBi attention biases."""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_array
from lmx.nn.layers.base import Module

__all__ = ["RoPE", "SinusoidalPositionalEncoding", "ALiBi"]


def _check_even_dims(dims, layer):
    if not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0 or dims % 2:
        raise ValueError(f"[{layer}] dims must be a positive even integer but got {dims!r}.")


class RoPE(Module):
    """Rotary positional encoding of the first ``dims`` features of ``x`` (``..., L, D``).

    Feature pair ``j`` of position ``p`` (``offset + index along L``) is rotated by the
    angle ``p * scale * base ** (-2j / dims)``. The default pairs feature ``j`` with
    ``j + dims / 2``; ``traditional=True`` pairs neighbours ``2j`` and ``2j + 1``.
    Features past ``dims`` pass through unchanged.
    """

    def __init__(self, dims, traditional=False, base=10000, scale=1.0):
        super().__init__()
        _check_even_dims(dims, "RoPE")
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset=0):
        check_array(x, "RoPE")
        if x.ndim < 3:
            raise ValueError(f"[RoPE] Input must have at least 3 dimensions but got shape {tuple(x.shape)}.")
        if self.dims > x.shape[-1]:
            raise ValueError(
                f"[RoPE] dims ({self.dims}) must not exceed the input's last dimension ({x.shape[-1]})."
            )
        if isinstance(offset, mx.array) and offset.ndim > 1:
            raise ValueError(
                f"[RoPE] offset must be an integer, a scalar or a 1-D array, got shape {offset.shape}."
            )
        # The fused kernel, as MLX: angles in float32, result in x's dtype.
        return mx.fast.rope(
            x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale, offset=offset
        )


class SinusoidalPositionalEncoding(Module):
    """Embeds each value of ``x`` (e.g. positions) into ``dims`` features
    ``scale * [sin(x * f), cos(x * f)]`` (cosines first with ``cos_first``), where the
    ``dims / 2`` frequencies ``f`` run geometrically from ``max_freq`` down to ``min_freq``
    (times ``2 pi`` with ``full_turns``). ``scale`` defaults to ``sqrt(2 / dims)``."""

    def __init__(self, dims, min_freq=0.0001, max_freq=1, scale=None, cos_first=False, full_turns=False):
        super().__init__()
        _check_even_dims(dims, "SinusoidalPositionalEncoding")
        if not (min_freq > 0 and max_freq > 0):
            raise ValueError(
                f"[SinusoidalPositionalEncoding] min_freq and max_freq must be positive but got "
                f"{min_freq} and {max_freq}."
            )
        log_frequencies = mx.linspace(math.log(max_freq), math.log(min_freq), dims // 2)
        sigmas = mx.exp(log_frequencies)
        if full_turns:
            sigmas = sigmas * (2 * math.pi)
        self._sigmas = sigmas
        self.scale = scale or math.sqrt(2 / dims)
        self.cos_first = cos_first

    def __call__(self, x):
        phases = (x if isinstance(x, mx.array) else mx.array(x))[..., None] * self._sigmas
        sin, cos = mx.sin(phases), mx.cos(phases)
        parts = [cos, sin] if self.cos_first else [sin, cos]
        return mx.concatenate(parts, axis=-1) * self.scale


class ALiBi(Module):
    """Attention with Linear Biases: adds ``-slope_h * |i - j|`` to the attention score of
    query ``i`` (counted from ``offset``) and key ``j`` in head ``h``."""

    @staticmethod
    def create_alibi_slope(num_heads, dtype=mx.float32):
        """The ``(num_heads, 1, 1)`` head slopes of the ALiBi paper: ``2 ** (-8 k / n)`` for
        a power of two ``n``; otherwise the slopes of the largest power of two below, then
        every other slope of twice that power."""
        if not isinstance(num_heads, int) or isinstance(num_heads, bool) or num_heads < 1:
            raise ValueError(f"[ALiBi] num_heads must be a positive integer but got {num_heads!r}.")

        def geometric(n):
            return [2.0 ** (-8.0 * k / n) for k in range(1, n + 1)]

        power = 2 ** math.floor(math.log2(num_heads))
        slopes = geometric(power) + geometric(2 * power)[0::2][: num_heads - power]
        return mx.array(slopes, dtype=dtype).reshape(num_heads, 1, 1)

    @staticmethod
    def create_alibi_matrix(q_sequence_length, k_sequence_length, num_heads, offset=0, dtype=mx.float32):
        """The ``(1, num_heads, q_sequence_length - offset, k_sequence_length)`` bias for the
        queries at positions ``offset .. q_sequence_length - 1``."""
        queries = mx.arange(offset, q_sequence_length)
        keys = mx.arange(0, k_sequence_length)
        distance = -mx.abs(queries[:, None] - keys[None, :]).astype(dtype)
        return (distance * ALiBi.create_alibi_slope(num_heads, dtype))[None]

    def __call__(self, attention_scores, offset=0, mask=None):
        """``attention_scores`` (``B, H, L_q, L_k``) plus the ALiBi bias (and ``mask``)."""
        if not isinstance(attention_scores, mx.array) or attention_scores.ndim < 2:
            raise ValueError("[ALiBi] attention_scores must be an array of shape (B, num_heads, L_q, L_k).")
        bias = ALiBi.create_alibi_matrix(
            q_sequence_length=attention_scores.shape[-2] + offset,
            k_sequence_length=attention_scores.shape[-1],
            num_heads=attention_scores.shape[1],
            offset=offset,
            dtype=attention_scores.dtype,
        )
        if mask is not None:
            bias = bias + mask
        return attention_scores + bias
