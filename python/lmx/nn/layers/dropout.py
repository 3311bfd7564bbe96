"""Dropout layers: zero elements (or whole channels) during training and rescale the rest."""

import lmx.core as mx
from lmx.nn.layers._checks import check_array
from lmx.nn.layers.base import Module

__all__ = ["Dropout", "Dropout2d", "Dropout3d"]


class _ChannelDropout(Module):
    """Shared rule: in training mode, keep each group of elements with probability
    ``1 - p`` and scale kept ones by ``1 / (1 - p)``; in evaluation mode, do nothing.
    ``spatial_axes`` (None: every element is its own group) are the axes a group spans."""

    spatial_axes = None
    allowed_ndims = None

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"[{type(self).__name__}] The dropout probability {p} is not in [0, 1).")
        self._p, self._p_1 = p, 1 - p

    def _extra_repr(self):
        return f"p={self._p}"

    def __call__(self, x):
        name = type(self).__name__
        check_array(x, name)
        if self.allowed_ndims is not None and x.ndim not in self.allowed_ndims:
            expected = " or ".join(str(n) for n in self.allowed_ndims)
            raise ValueError(
                f"[{name}] Received input with {x.ndim} dimensions. Expected {expected} dimensions."
            )
        if self._p_1 == 1 or not self.training:
            return x
        mask_shape = list(x.shape)
        for axis in self.spatial_axes or ():
            mask_shape[axis] = 1
        keep = mx.random.bernoulli(self._p_1, mask_shape)
        return (keep * x) * (1 / self._p_1)


class Dropout(_ChannelDropout):
    """Zeroes each element with probability ``p`` during training."""


class Dropout2d(_ChannelDropout):
    """Zeroes whole channels of ``(N, H, W, C)`` or ``(H, W, C)`` inputs with probability ``p``
    during training (neighbouring pixels are correlated, so per-element dropout would not
    regularise)."""

    spatial_axes = (-3, -2)
    allowed_ndims = (3, 4)


class Dropout3d(_ChannelDropout):
    """Zeroes whole channels of ``(N, D, H, W, C)`` or ``(D, H, W, C)`` inputs with probability
    ``p`` during training."""

    spatial_axes = (-4, -3, -2)
    allowed_ndims = (4, 5)
