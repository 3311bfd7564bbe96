"""Transposed convolutions over channels-last inputs: ``ConvTranspose1d`` (NLC),
``ConvTranspose2d`` (NHWC), ``ConvTranspose3d`` (NDHWC)."""

import lmx.core as mx
from lmx.nn.layers._spatial import as_tuple, check_at_least, check_channels_last_input
from lmx.nn.layers.base import Module
from lmx.nn.layers.convolution import init_conv_parameters, spatial_repr

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvTranspose(Module):
    """A transposed convolution with ``_spatial_dims`` spatial axes, channels last;
    ``weight`` is ``(out_channels, *kernel_size, in_channels)``."""

    _spatial_dims = 0
    _op = None

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        output_padding=0,
        bias=True,
    ):
        super().__init__()
        layer, n = type(self).__name__, self._spatial_dims
        kernel_size = as_tuple(kernel_size, n, "kernel_size", layer)
        stride = as_tuple(stride, n, "stride", layer)
        padding = as_tuple(padding, n, "padding", layer)
        output_padding = as_tuple(output_padding, n, "output_padding", layer)
        check_at_least(kernel_size, 1, "kernel_size", layer)
        check_at_least(stride, 1, "stride", layer)
        check_at_least(padding, 0, "padding", layer)
        check_at_least(output_padding, 0, "output_padding", layer)
        check_at_least(as_tuple(dilation, n, "dilation", layer), 1, "dilation", layer)
        init_conv_parameters(self, in_channels, out_channels, kernel_size, 1, bias)
        self.stride = spatial_repr(stride, n)
        self.padding = spatial_repr(padding, n)
        self.output_padding = spatial_repr(output_padding, n)
        self.dilation = dilation

    @property
    def _in_channels(self):
        return self.weight.shape[-1]

    def _extra_repr(self):
        return (
            f"{self._in_channels}, {self.weight.shape[0]}, "
            f"kernel_size={spatial_repr(self.weight.shape[1:-1], self._spatial_dims)}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"output_padding={self.output_padding}, bias={'bias' in self}"
        )

    def __call__(self, x):
        check_channels_last_input(x, self._spatial_dims, self._in_channels, type(self).__name__)
        y = self._op(x, self.weight, self.stride, self.padding, self.dilation, self.output_padding)
        return y + self.bias if "bias" in self else y


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution over ``NLC`` inputs."""

    _spatial_dims = 1
    _op = staticmethod(mx.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution over ``NHWC`` inputs."""

    _spatial_dims = 2
    _op = staticmethod(mx.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution over ``NDHWC`` inputs."""

    _spatial_dims = 3
    _op = staticmethod(mx.conv_transpose3d)
