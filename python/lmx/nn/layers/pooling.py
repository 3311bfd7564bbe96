"""Max and average pooling over channels-last inputs (NLC, NHWC, NDHWC).

Every pooling layer takes a view of all its windows at once and reduces the window
axes, so 1-D, 2-D and 3-D share one path. Windows that tile the input (stride equal
to the kernel, the default) are a reshape; overlapping ones a strided view
(``mx.as_strided``), whose gradient is a scatter and much slower.
"""

import math

import lmx.core as mx
from lmx.nn.layers._spatial import as_tuple, check_at_least, check_channels_last_input
from lmx.nn.layers.base import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d"]


def _sliding_windows(x, kernel_size, stride):
    """View of ``x`` (``N, *spatial, C``) as ``N, *out_spatial, *kernel_size, C``: every window."""
    spatial = x.shape[1:-1]
    out = [max(0, (size - k) // s + 1) for size, k, s in zip(spatial, kernel_size, stride)]
    # Row-major element strides of x; as_strided reads x in its logical order.
    strides = [1] * x.ndim
    for axis in range(x.ndim - 2, -1, -1):
        strides[axis] = strides[axis + 1] * x.shape[axis + 1]
    spatial_strides = strides[1:-1]
    window_shape = [x.shape[0], *out, *kernel_size, x.shape[-1]]
    window_strides = [strides[0], *(st * s for st, s in zip(spatial_strides, stride)), *spatial_strides, 1]
    return mx.as_strided(x, window_shape, window_strides)


def _tiled_windows(x, kernel_size):
    """``x`` (``N, *spatial, C``) cropped to whole windows and reshaped to
    ``N, o1, k1, o2, k2, ..., C``: the windows when they tile the input."""
    out = [size // k for size, k in zip(x.shape[1:-1], kernel_size)]
    if any(o * k != size for o, k, size in zip(out, kernel_size, x.shape[1:-1])):
        x = x[(slice(None), *(slice(0, o * k) for o, k in zip(out, kernel_size)))]
    shape = [x.shape[0]]
    for o, k in zip(out, kernel_size):
        shape += [o, k]
    return x.reshape(*shape, x.shape[-1])


class _Pool(Module):
    """Pooling over ``_spatial_dims`` axes: pads with ``_pad_value``, then reduces each window."""

    _spatial_dims = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        layer, n = type(self).__name__, self._spatial_dims
        self._kernel_size = as_tuple(kernel_size, n, "kernel_size", layer)
        self._stride = self._kernel_size if stride is None else as_tuple(stride, n, "stride", layer)
        self._padding = as_tuple(padding, n, "padding", layer)
        check_at_least(self._kernel_size, 1, "kernel_size", layer)
        check_at_least(self._stride, 1, "stride", layer)
        check_at_least(self._padding, 0, "padding", layer)

    def _extra_repr(self):
        return f"kernel_size={self._kernel_size}, stride={self._stride}, padding={self._padding}"

    def __call__(self, x):
        check_channels_last_input(x, self._spatial_dims, None, type(self).__name__)
        if any(self._padding):
            pad_width = [(0, 0), *((p, p) for p in self._padding), (0, 0)]
            x = mx.pad(x, pad_width, constant_values=self._pad_value)
        n = self._spatial_dims
        if self._stride == self._kernel_size:
            return self._reduce(_tiled_windows(x, self._kernel_size), tuple(range(2, 2 * n + 1, 2)))
        windows = _sliding_windows(x, self._kernel_size, self._stride)
        return self._reduce(windows, tuple(range(1 + n, 1 + 2 * n)))


class _MaxPool(_Pool):
    # Padding never wins a maximum (for integers -inf becomes the dtype's lowest value).
    _pad_value = -math.inf
    _reduce = staticmethod(mx.max)


class _AvgPool(_Pool):
    # Zero padding is counted in the window's mean, as MLX does.
    _pad_value = 0
    _reduce = staticmethod(mx.mean)


class MaxPool1d(_MaxPool):
    """Maximum of each ``kernel_size`` window of an ``NLC`` input (``stride`` defaults to ``kernel_size``)."""

    _spatial_dims = 1


class MaxPool2d(_MaxPool):
    """Maximum of each window of an ``NHWC`` input (``stride`` defaults to ``kernel_size``)."""

    _spatial_dims = 2


class MaxPool3d(_MaxPool):
    """Maximum of each window of an ``NDHWC`` input (``stride`` defaults to ``kernel_size``)."""

    _spatial_dims = 3


class AvgPool1d(_AvgPool):
    """Mean of each ``kernel_size`` window of an ``NLC`` input (``stride`` defaults to ``kernel_size``)."""

    _spatial_dims = 1


class AvgPool2d(_AvgPool):
    """Mean of each window of an ``NHWC`` input (``stride`` defaults to ``kernel_size``)."""

    _spatial_dims = 2


class AvgPool3d(_AvgPool):
    """Mean of each window of an ``NDHWC`` input (``stride`` defaults to ``kernel_size``)."""

    _spatial_dims = 3
