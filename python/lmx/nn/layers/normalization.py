"""Normalisation layers: LayerNorm, RMSNorm, GroupNorm, InstanceNorm, BatchNorm.

Features are the last axis. Statistics of float16/bfloat16 inputs are computed in
float32; the normalised values keep the input's dtype before the affine transform.
LayerNorm and RMSNorm use the fused ``mx.fast`` kernels, as MLX does.
"""

import lmx.core as mx
from lmx.nn.layers._checks import check_array, check_features, check_positive_int
from lmx.nn.layers.base import Module

__all__ = ["BatchNorm", "GroupNorm", "InstanceNorm", "LayerNorm", "RMSNorm"]

_HALF_TYPES = (mx.float16, mx.bfloat16)


def _widen(x):
    return x.astype(mx.float32) if x.dtype in _HALF_TYPES else x


def _mean_and_var(x, axes):
    """Mean and (biased) variance of ``x`` (widened) over ``axes``, keeping dims."""
    x = _widen(x)
    return mx.mean(x, axis=axes, keepdims=True), mx.var(x, axis=axes, keepdims=True)


def _standardize(x, mean, var, eps):
    return ((_widen(x) - mean) * mx.rsqrt(var + eps)).astype(x.dtype)


def _affine(module, y):
    if "weight" in module:
        y = y * module.weight
    if "bias" in module:
        y = y + module.bias
    return y


class LayerNorm(Module):
    """``(x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` over the last axis; ``weight``
    starts at ones and ``bias`` at zeros (``affine=False``: neither; ``bias=False``: no bias)."""

    def __init__(self, dims, eps=1e-5, affine=True, bias=True):
        super().__init__()
        check_positive_int(dims, "dims", "LayerNorm")
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.dims, self.eps = dims, eps

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        check_features(x, self.dims, "LayerNorm")
        return mx.fast.layer_norm(x, self.get("weight"), self.get("bias"), self.eps)


class RMSNorm(Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last axis; ``weight`` starts at ones."""

    def __init__(self, dims, eps=1e-5):
        super().__init__()
        check_positive_int(dims, "dims", "RMSNorm")
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        weight = self["weight"]  # by item, as Linear: the fast path of a per-token call
        check_features(x, weight.shape[0], "RMSNorm")
        return mx.fast.rms_norm(x, weight, self.eps)


class GroupNorm(Module):
    """Normalises each sample over its spatial axes (all but the first and last) and a
    group of ``dims / num_groups`` features. Groups interleave features (feature ``c`` is in
    group ``c % num_groups``) unless ``pytorch_compatible``, where they are contiguous
    blocks as in PyTorch."""

    def __init__(self, num_groups, dims, eps=1e-5, affine=True, pytorch_compatible=False):
        super().__init__()
        check_positive_int(num_groups, "num_groups", "GroupNorm")
        check_positive_int(dims, "dims", "GroupNorm")
        if dims % num_groups:
            raise ValueError(
                f"[GroupNorm] The number of features ({dims}) must be evenly divisible by the number "
                f"of groups ({num_groups})."
            )
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.num_groups, self.dims, self.eps, self.pytorch_compatible = (
            num_groups,
            dims,
            eps,
            pytorch_compatible,
        )

    def _extra_repr(self):
        return (
            f"{self.num_groups}, {self.dims}, eps={self.eps}, affine={'weight' in self}, "
            f"pytorch_compatible={self.pytorch_compatible}"
        )

    def __call__(self, x):
        check_features(x, self.dims, "GroupNorm", min_ndim=2)
        groups = self.num_groups
        if self.pytorch_compatible:
            grouped, axes = x.reshape(x.shape[0], -1, groups, self.dims // groups), (1, 3)
        else:
            grouped, axes = x.reshape(x.shape[0], -1, groups), 1
        mean, var = _mean_and_var(grouped, axes)
        return _affine(self, _standardize(grouped, mean, var, self.eps).reshape(x.shape))


class InstanceNorm(Module):
    """Normalises each sample and feature over the spatial axes of ``(N, ..., C)`` inputs;
    with ``affine``, ``weight`` (ones) and ``bias`` (zeros) follow."""

    def __init__(self, dims, eps=1e-5, affine=False):
        super().__init__()
        check_positive_int(dims, "dims", "InstanceNorm")
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.dims, self.eps = dims, eps

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        check_features(x, self.dims, "InstanceNorm", min_ndim=3)
        mean, var = _mean_and_var(x, tuple(range(1, x.ndim - 1)))
        return _affine(self, _standardize(x, mean, var, self.eps))


_RUNNING_STATS = ["running_mean", "running_var"]


class BatchNorm(Module):
    """Normalises each feature over the batch and spatial axes of ``(N, C)``, ``(N, L, C)``
    or ``(N, H, W, C)`` inputs.

    In training mode the batch statistics are used and, with ``track_running_stats``, the
    running averages move by ``momentum`` towards the batch mean and unbiased variance. In
    evaluation mode the running averages are used (batch statistics without them). The
    running averages are state, never trainable."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        check_positive_int(num_features, "num_features", "BatchNorm")
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=_RUNNING_STATS, recurse=False)

    def unfreeze(self, *args, **kwargs):
        """As :meth:`Module.unfreeze`, but the running statistics stay frozen."""
        super().unfreeze(*args, **kwargs)
        if self.track_running_stats:
            self.freeze(keys=_RUNNING_STATS, recurse=False)
        return self

    def _extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={'weight' in self}, "
            f"track_running_stats={self.track_running_stats}"
        )

    def __call__(self, x):
        check_array(x, "BatchNorm")
        if x.ndim not in (2, 3, 4):
            raise ValueError(
                f"[BatchNorm] Expected input tensor to have 2, 3 or 4 dimensions, but got {x.ndim}."
            )
        check_features(x, self.num_features, "BatchNorm")
        if self.training or not self.track_running_stats:
            axes = tuple(range(x.ndim - 1))
            count = x.size // self.num_features
            if self.training and count < 2:
                raise ValueError("[BatchNorm] Training requires more than one value per channel.")
            mean, var = _mean_and_var(x, axes)
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, count)
        else:
            mean, var = self.running_mean, self.running_var
        return _affine(self, _standardize(x, mean, var, self.eps))

    def _update_running_stats(self, mean, var, count):
        # Running statistics are not differentiated through.
        mean = mx.stop_gradient(mean).reshape(-1)
        unbiased = mx.stop_gradient(var).reshape(-1) * (count / (count - 1))
        m = self.momentum
        self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(self.running_mean.dtype)
        self.running_var = ((1 - m) * self.running_var + m * unbiased).astype(self.running_var.dtype)
