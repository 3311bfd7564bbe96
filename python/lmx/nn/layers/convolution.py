"""Convolutions over channels-last inputs: ``Conv1d`` (NLC), ``Conv2d`` (NHWC), ``Conv3d`` (NDHWC)."""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_positive_int
from lmx.nn.layers._spatial import as_tuple, check_at_least, check_channels_last_input
from lmx.nn.layers.base import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d"]


def init_conv_parameters(module, in_channels, out_channels, kernel_size, groups, bias):
    """Sets ``weight`` (``out_channels, *kernel_size, in_channels / groups``) drawn from
    U(-s, s) with ``s = sqrt(1 / fan_in)``, and a zero ``bias`` when asked for."""
    layer = type(module).__name__
    for value, name in ((in_channels, "in_channels"), (out_channels, "out_channels"), (groups, "groups")):
        check_positive_int(value, name, layer)
    if in_channels % groups != 0:
        raise ValueError(
            f"[{layer}] The number of input channels ({in_channels}) must be divisible by the "
            f"number of groups ({groups})."
        )
    if out_channels % groups != 0:
        raise ValueError(
            f"[{layer}] The number of output channels ({out_channels}) must be divisible by the "
            f"number of groups ({groups})."
        )
    fan_in = in_channels // groups * math.prod(kernel_size)
    scale = math.sqrt(1 / fan_in)
    module.weight = mx.random.uniform(
        low=-scale, high=scale, shape=(out_channels, *kernel_size, in_channels // groups)
    )
    if bias:
        module.bias = mx.zeros((out_channels,))


def spatial_repr(values, spatial_dims):
    """How MLX prints a per-axis setting: a bare int in 1-D, a tuple otherwise."""
    return values[0] if spatial_dims == 1 else values


class _Conv(Module):
    """A convolution with ``_spatial_dims`` spatial axes, channels last."""

    _spatial_dims = 0
    _op = None

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias):
        super().__init__()
        layer, n = type(self).__name__, self._spatial_dims
        kernel_size = as_tuple(kernel_size, n, "kernel_size", layer)
        stride = as_tuple(stride, n, "stride", layer)
        padding = as_tuple(padding, n, "padding", layer)
        check_at_least(kernel_size, 1, "kernel_size", layer)
        check_at_least(stride, 1, "stride", layer)
        check_at_least(padding, 0, "padding", layer)
        check_at_least(as_tuple(dilation, n, "dilation", layer), 1, "dilation", layer)
        init_conv_parameters(self, in_channels, out_channels, kernel_size, groups, bias)
        self.stride = spatial_repr(stride, n)
        self.padding = spatial_repr(padding, n)
        self.dilation = dilation
        self.groups = groups

    @property
    def _in_channels(self):
        return self.weight.shape[-1] * self.groups

    def _extra_repr(self):
        groups = f"groups={self.groups}, " if self._spatial_dims < 3 else ""
        return (
            f"{self._in_channels}, {self.weight.shape[0]}, "
            f"kernel_size={spatial_repr(self.weight.shape[1:-1], self._spatial_dims)}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"{groups}bias={'bias' in self}"
        )

    def __call__(self, x):
        check_channels_last_input(x, self._spatial_dims, self._in_channels, type(self).__name__)
        y = self._op(x, self.weight, self.stride, self.padding, self.dilation, self.groups)
        return y + self.bias if "bias" in self else y


class Conv1d(_Conv):
    """1-D convolution over ``NLC`` inputs; ``weight`` is ``(out_channels, kernel_size, in_channels / groups)``."""

    _spatial_dims = 1
    _op = staticmethod(mx.conv1d)

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)


class Conv2d(_Conv):
    """2-D convolution over ``NHWC`` inputs; ``weight`` is ``(out_channels, KH, KW, in_channels / groups)``."""

    _spatial_dims = 2
    _op = staticmethod(mx.conv2d)

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)


class Conv3d(_Conv):
    """3-D convolution over ``NDHWC`` inputs; ``weight`` is ``(out_channels, KD, KH, KW, in_channels)``."""

    _spatial_dims = 3
    _op = staticmethod(mx.conv3d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 1, bias)
