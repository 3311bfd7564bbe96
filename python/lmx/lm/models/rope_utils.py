"""Rotary position embeddings and the context-extension schemes of HF configs' ``rope_scaling``.

``initialize_rope`` picks the variant from ``rope_scaling["type"]`` / ``["rope_type"]``:
default, linear, llama3, yarn, longrope (also spelled "su"). Every variant ends in
``mx.fast.rope``; the schemes differ only in their per-pair frequencies and an optional
magnitude scale on the rotated features.
"""

import math
from typing import Optional

import lmx.core as mx
import lmx.nn as nn

__all__ = ["Llama3RoPE", "SuScaledRoPE", "YarnRoPE", "initialize_rope", "rope_periods"]

SUPPORTED_ROPE_TYPES = ("default", "linear", "llama3", "yarn", "longrope", "su")


def rope_periods(dims, base):
    """base ** (2j / dims) for each feature pair j: the angle of position p is p / period."""
    return base ** (mx.arange(0, dims, 2, dtype=mx.float32) / dims)


class _FrequencyRoPE(nn.Module):
    """RoPE with precomputed per-pair periods and a scale applied to the rotated features."""

    def __init__(self, dims, traditional, periods, magnitude=1.0):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self._freqs = periods
        self.magnitude = magnitude

    def __call__(self, x, offset=0):
        if self.magnitude != 1.0:
            # Only the rotated features are scaled; features past dims pass through.
            head = x[..., : self.dims] * self.magnitude
            x = head if self.dims == x.shape[-1] else mx.concatenate([head, x[..., self.dims :]], axis=-1)
        return mx.fast.rope(
            x, self.dims, traditional=self.traditional, base=None, scale=1.0, offset=offset, freqs=self._freqs
        )


class _PlainRoPE(nn.Module):
    """Standard RoPE (theta = base); ``scale`` < 1 is linear position interpolation."""

    def __init__(self, dims, traditional=False, base=10000.0, scale=1.0):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def __call__(self, x, offset=0):
        return mx.fast.rope(
            x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale, offset=offset
        )


class Llama3RoPE(_FrequencyRoPE):
    """Llama 3.1's scheme: long wavelengths stretched by ``factor``, short ones kept, a smooth blend between."""

    def __init__(
        self, dims, max_position_embeddings=2048, traditional=False, base=10000, scaling_config=None
    ):
        factor = scaling_config["factor"]
        low_freq_factor = scaling_config.get("low_freq_factor", 1.0)
        high_freq_factor = scaling_config.get("high_freq_factor", 4.0)
        old_context_len = scaling_config.get("original_max_position_embeddings", 8192)
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor

        periods = rope_periods(dims, base)
        wavelengths = 2 * math.pi * periods
        stretched = mx.where(wavelengths > low_freq_wavelen, periods * factor, periods)
        is_medium = (wavelengths > high_freq_wavelen) & (wavelengths < low_freq_wavelen)
        smooth = (old_context_len / wavelengths - low_freq_factor) / (high_freq_factor - low_freq_factor)
        blended = stretched / ((1 - smooth) / factor + smooth)
        super().__init__(dims, traditional, mx.where(is_medium, blended, stretched))


def _yarn_mscale(scale, mscale):
    return 0.1 * mscale * math.log(scale) + 1.0 if scale > 1 else 1.0


class YarnRoPE(_FrequencyRoPE):
    """YaRN: interpolate low frequencies, extrapolate high ones, ramp between; attention magnitude fix."""

    def __init__(
        self,
        dims,
        traditional=False,
        max_position_embeddings=2048,
        base=10000,
        scaling_factor=1.0,
        original_max_position_embeddings=4096,
        beta_fast=32,
        beta_slow=1,
        mscale=1,
        mscale_all_dim=0,
    ):
        def correction_dim(num_rotations):
            return (
                dims
                * math.log(original_max_position_embeddings / (num_rotations * 2 * math.pi))
                / (2 * math.log(base))
            )

        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), dims - 1)
        if low == high:
            high += 0.001  # avoid a zero-width ramp
        ramp = mx.clip((mx.arange(dims // 2, dtype=mx.float32) - low) / (high - low), 0, 1)
        extrapolation_weight = 1 - ramp
        extrapolated = rope_periods(dims, base)
        interpolated = scaling_factor * extrapolated
        periods = (interpolated * extrapolated) / (
            interpolated * extrapolation_weight + extrapolated * (1 - extrapolation_weight)
        )
        magnitude = _yarn_mscale(scaling_factor, mscale) / _yarn_mscale(scaling_factor, mscale_all_dim)
        super().__init__(dims, traditional, periods, magnitude)


class SuScaledRoPE(_FrequencyRoPE):
    """Phi-3's LongRoPE ("su"): per-pair rescaled periods and a magnitude set by the context extension."""

    def __init__(
        self,
        dims,
        base=10000.0,
        max_position_embeddings=131072,
        original_max_position_embeddings=4096,
        short_factor=1.0,
        long_factor=1.0,
        short_mscale=None,
        long_mscale=None,
    ):
        periods = mx.array(long_factor, dtype=mx.float32) * rope_periods(dims, base)
        factor = max_position_embeddings / original_max_position_embeddings
        if long_mscale is None:
            long_mscale = (
                math.sqrt(1 + math.log(factor) / math.log(original_max_position_embeddings))
                if factor > 1
                else 1.0
            )
        super().__init__(dims, False, periods, long_mscale)


def initialize_rope(
    dims,
    base,
    traditional,
    scaling_config: Optional[dict] = None,
    max_position_embeddings: Optional[int] = None,
):
    """The RoPE module an HF config describes (``rope_theta`` = base, ``rope_scaling`` = scaling_config)."""
    rope_type = "default"
    if scaling_config is not None:
        rope_type = scaling_config.get("type") or scaling_config.get("rope_type") or "default"

    if rope_type in ("default", "linear"):
        scale = 1.0
        if rope_type == "linear":
            scale = 1.0 / scaling_config["factor"]
        return _PlainRoPE(dims, traditional=traditional, base=base, scale=scale)
    if rope_type == "llama3":
        return Llama3RoPE(
            dims,
            max_position_embeddings=max_position_embeddings,
            traditional=traditional,
            base=base,
            scaling_config=scaling_config,
        )
    if rope_type == "yarn":
        options = {
            key: scaling_config[key]
            for key in (
                "original_max_position_embeddings",
                "beta_fast",
                "beta_slow",
                "mscale",
                "mscale_all_dim",
            )
            if key in scaling_config
        }
        return YarnRoPE(
            dims,
            traditional=traditional,
            max_position_embeddings=max_position_embeddings,
            base=base,
            scaling_factor=scaling_config["factor"],
            **options,
        )
    if rope_type in ("longrope", "su"):
        return SuScaledRoPE(
            dims,
            base=base,
            max_position_embeddings=max_position_embeddings,
            original_max_position_embeddings=scaling_config["original_max_position_embeddings"],
            short_factor=scaling_config["short_factor"],
            long_factor=scaling_config["long_factor"],
        )
    raise ValueError(
        f"[initialize_rope] Unsupported rope_scaling type '{rope_type}'; supported: {', '.join(SUPPORTED_ROPE_TYPES)}."
    )
