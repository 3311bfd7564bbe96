"""Spatial resampling of channels-last inputs (``N, *spatial, C``): ``Upsample`` and
the functions ``upsample_nearest``, ``upsample_linear`` and ``upsample_cubic``.

Each spatial axis is resampled on its own (bilinear = linear along H, then along W).
An output position ``i`` reads input position ``(i - (out - 1) / 2) / scale + (n - 1) / 2``
(the grids share their centre), or ``i * (n - 1) / (out - 1)`` with ``align_corners``;
linear and cubic interpolation are weighted sums of a few neighbouring input samples
("taps"), with indices clamped at the borders.
"""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_array
from lmx.nn.layers.base import Module

__all__ = ["Upsample", "upsample_nearest", "upsample_linear", "upsample_cubic"]

_MODES = ("nearest", "linear", "cubic")


def _scales(x, scale_factor, caller):
    """One positive float scale per spatial axis of ``x``, after checking ``x``'s rank."""
    check_array(x, caller)
    spatial_dims = x.ndim - 2
    if spatial_dims < 1:
        raise ValueError(
            f"[{caller}] The input should have at least 1 spatial dimension which means it should be "
            f"at least 3D (N, *spatial, C) but {x.ndim}D was provided."
        )
    if isinstance(scale_factor, (tuple, list)):
        if len(scale_factor) != spatial_dims:
            raise ValueError(
                f"[{caller}] One scale per spatial dimension is required but scale_factor={tuple(scale_factor)} "
                f"and the number of spatial dimensions were {spatial_dims}."
            )
        scales = tuple(float(s) for s in scale_factor)
    else:
        scales = (float(scale_factor),) * spatial_dims
    if not all(s > 0 and math.isfinite(s) for s in scales):
        raise ValueError(f"[{caller}] scale_factor must be positive and finite but got {scale_factor}.")
    for n, s in zip(x.shape[1:-1], scales):
        if math.floor(n * s) < 1:
            raise ValueError(f"[{caller}] scale_factor {s} leaves no output sample of a spatial size of {n}.")
    return scales


def _source_positions(n, out, scale, align_corners):
    """The (fractional) input position each of the ``out`` outputs reads, float32."""
    i = mx.arange(out, dtype=mx.float32)
    if align_corners:
        return i * ((n - 1) / (out - 1)) if out > 1 else mx.zeros((out,))
    return (i - (out - 1) / 2) / scale + (n - 1) / 2


def _nearest_indices(n, out, scale):
    ratio = n / out
    i = mx.arange(out, dtype=mx.float32)
    # Shrinking takes the first sample of each block; growing rounds (half to even) the
    # position of the output sample's centre.
    position = mx.floor(i * ratio) if scale < 1 else mx.round((i + 0.5) * ratio - 0.5)
    return mx.clip(position, 0, n - 1).astype(mx.int32)


def _linear_kernel(d):
    return mx.maximum(1 - mx.abs(d), 0)


def _cubic_kernel(a):
    """Keys' cubic convolution kernel with coefficient ``a``."""

    def kernel(d):
        d = mx.abs(d)
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return mx.where(d <= 1, near, mx.where(d < 2, far, 0))

    return kernel


def _interpolation_taps(n, out, scale, align_corners, kernel, radius):
    """``(indices, weights)``, each ``(out, 2 * radius)``: the neighbours of every source position."""
    position = _source_positions(n, out, scale, align_corners)[:, None]
    base = mx.floor(position)
    offsets = mx.arange(1 - radius, radius + 1, dtype=mx.float32)
    taps = base + offsets
    weights = kernel(position - taps)
    return mx.clip(taps, 0, n - 1).astype(mx.int32), weights


def _antialias_taps(n, out, scale, kernel, radius):
    """``(indices, weights)`` of antialiased resampling: on a downscale the kernel is stretched
    by ``1 / scale`` so it averages every input sample it covers; taps outside the input
    are dropped (not clamped) and the weights renormalised."""
    position = _source_positions(n, out, scale, False)[:, None]
    stretch = min(scale, 1.0)
    support = radius / stretch
    count = math.ceil(2 * support) + 1
    taps = mx.floor(position - support) + 1 + mx.arange(count, dtype=mx.float32)
    inside = (taps >= 0) & (taps <= n - 1)
    weights = mx.where(inside, kernel((taps - position) * stretch), 0)
    weights = weights / mx.sum(weights, axis=1, keepdims=True)
    return mx.clip(taps, 0, n - 1).astype(mx.int32), weights


def _resample_axis(x, axis, indices, weights):
    """``y[..., i, ...] = sum_t weights[i, t] * x[..., indices[i, t], ...]`` along ``axis``."""
    shape = [1] * x.ndim
    shape[axis] = indices.shape[0]
    result = None
    for t in range(indices.shape[1]):
        term = mx.take(x, indices[:, t], axis=axis) * weights[:, t].reshape(shape)
        result = term if result is None else result + term
    return result


def _interpolate(x, scale_factor, align_corners, antialias, kernel_of, radius, caller):
    if antialias and align_corners:
        raise ValueError(
            f"[{caller}] antialias=True with align_corners=True is not supported. "
            "Use align_corners=False for antialiased interpolation."
        )
    scales = _scales(x, scale_factor, caller)
    kernel = kernel_of(antialias)
    for axis, scale in enumerate(scales, start=1):
        n = x.shape[axis]
        out = math.floor(n * scale)
        if antialias:
            indices, weights = _antialias_taps(n, out, scale, kernel, radius)
        else:
            indices, weights = _interpolation_taps(n, out, scale, align_corners, kernel, radius)
        x = _resample_axis(x, axis, indices, weights)
    return x


def upsample_nearest(x, scale_factor):
    """Nearest-neighbour resampling of ``x`` (``N, *spatial, C``) by one scale per spatial axis."""
    for axis, scale in enumerate(_scales(x, scale_factor, "upsample_nearest"), start=1):
        n = x.shape[axis]
        x = mx.take(x, _nearest_indices(n, math.floor(n * scale), scale), axis=axis)
    return x


def upsample_linear(x, scale_factor, align_corners=False, antialias=False):
    """(Multi-)linear resampling of ``x`` (``N, *spatial, C``) by one scale per spatial axis.
    With ``antialias`` a downscaled axis averages all the inputs under the stretched kernel."""
    return _interpolate(
        x, scale_factor, align_corners, antialias, lambda _: _linear_kernel, 1, "upsample_linear"
    )


def upsample_cubic(x, scale_factor, align_corners=False, antialias=False):
    """(Multi-)cubic resampling of ``x`` (``N, *spatial, C``): Keys' kernel with ``a = -0.75``,
    or ``a = -0.5`` (and a stretched kernel on downscaled axes) with ``antialias``."""
    return _interpolate(
        x,
        scale_factor,
        align_corners,
        antialias,
        lambda antialias: _cubic_kernel(-0.5 if antialias else -0.75),
        2,
        "upsample_cubic",
    )


class Upsample(Module):
    """Resamples the spatial axes (``1 .. ndim - 2``) of a channels-last input by
    ``scale_factor`` (one float for all axes, or one per axis) with ``mode`` "nearest",
    "linear" or "cubic"; the output size along an axis is ``floor(size * scale)``."""

    def __init__(self, scale_factor, mode="nearest", align_corners=False, antialias=False):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"[Upsample] Got unsupported upsampling algorithm: {mode}")
        if antialias and mode == "nearest":
            raise ValueError("[Upsample] Antialiasing is not supported for nearest neighbor upsampling")
        if antialias and align_corners:
            raise ValueError(
                "[Upsample] antialias=True with align_corners=True is not supported. "
                "Use align_corners=False for antialiased interpolation."
            )
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.antialias = antialias

    def _extra_repr(self):
        antialias = ", antialias=True" if self.antialias else ""
        return (
            f"scale_factor={self.scale_factor}, mode={self.mode!r}, "
            f"align_corners={self.align_corners}{antialias}"
        )

    def __call__(self, x):
        if self.mode == "nearest":
            return upsample_nearest(x, self.scale_factor)
        resample = upsample_linear if self.mode == "linear" else upsample_cubic
        return resample(x, self.scale_factor, self.align_corners, self.antialias)
