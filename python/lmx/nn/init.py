"""Parameter initialisers (``mlx.nn.init``).

Each function returns an initializer: a callable that takes an array and returns a new
array of the same shape (the input's values and dtype are ignored; ``dtype`` decides).
"""

import math

import lmx.core as mx

__all__ = [
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "normal",
    "orthogonal",
    "sparse",
    "uniform",
]


def constant(value, dtype=mx.float32):
    """Fill with ``value``."""

    def initializer(a):
        return mx.full(a.shape, value, dtype=dtype)

    return initializer


def normal(mean=0.0, std=1.0, dtype=mx.float32):
    """Samples of N(mean, std^2)."""

    def initializer(a):
        return mx.random.normal(shape=a.shape, dtype=dtype, loc=mean, scale=std)

    return initializer


def uniform(low=0.0, high=1.0, dtype=mx.float32):
    """Samples of U[low, high)."""

    def initializer(a):
        return mx.random.uniform(low, high, a.shape, dtype=dtype)

    return initializer


def identity(dtype=mx.float32):
    """The identity matrix; the array must be square."""

    def initializer(arr):
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"[identity] The input array must be a square matrix but got shape {arr.shape}.")
        return mx.eye(arr.shape[0], dtype=dtype)

    return initializer


def _fans(x, name):
    """(fan_in, fan_out) of a weight laid out as (out, *receptive_field, in), MLX's layout for
    Linear (out, in) and convolutions (out, *kernel, in)."""
    if x.ndim < 2:
        raise ValueError(
            f"[{name}] Glorot / He initialization requires at least 2 dimensional input "
            f"but input with {x.ndim} dimensions."
        )
    receptive_field = math.prod(x.shape[1:-1])
    return x.shape[-1] * receptive_field, x.shape[0] * receptive_field


def _he_fan(a, mode, name):
    fan_in, fan_out = _fans(a, name)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"[{name}] Invalid mode: {mode}. Valid modes are: fan_in, fan_out")


def _symmetric_uniform(shape, limit, dtype):
    return mx.random.uniform(-limit, limit, shape, dtype=dtype)


def glorot_normal(dtype=mx.float32):
    """N(0, sigma^2) with sigma = gain * sqrt(2 / (fan_in + fan_out))."""

    def initializer(a, gain=1.0):
        fan_in, fan_out = _fans(a, "glorot_normal")
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        return mx.random.normal(shape=a.shape, dtype=dtype, scale=std)

    return initializer


def glorot_uniform(dtype=mx.float32):
    """U[-limit, limit] with limit = gain * sqrt(6 / (fan_in + fan_out))."""

    def initializer(a, gain=1.0):
        fan_in, fan_out = _fans(a, "glorot_uniform")
        limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return _symmetric_uniform(a.shape, limit, dtype)

    return initializer


def he_normal(dtype=mx.float32):
    """N(0, sigma^2) with sigma = gain / sqrt(fan), fan chosen by ``mode``."""

    def initializer(a, mode="fan_in", gain=1.0):
        std = gain / math.sqrt(_he_fan(a, mode, "he_normal"))
        return mx.random.normal(shape=a.shape, dtype=dtype, scale=std)

    return initializer


def he_uniform(dtype=mx.float32):
    """U[-limit, limit] with limit = gain * sqrt(3 / fan), fan chosen by ``mode``."""

    def initializer(a, mode="fan_in", gain=1.0):
        limit = gain * math.sqrt(3.0 / _he_fan(a, mode, "he_uniform"))
        return _symmetric_uniform(a.shape, limit, dtype)

    return initializer


def _require_matrix(a, name):
    if a.ndim != 2:
        raise ValueError(
            f"[{name}] Only 2-D arrays are supported but got a {a.ndim}-D array of shape {a.shape}."
        )


def sparse(sparsity, mean=0.0, std=1.0, dtype=mx.float32):
    """N(mean, std^2) samples with ceil(sparsity * columns) zeros at random places in each row."""

    def initializer(a):
        _require_matrix(a, "sparse")
        zeros_per_row = math.ceil(sparsity * a.shape[1])
        values = mx.random.normal(shape=a.shape, dtype=dtype, loc=mean, scale=std)
        # Each entry's rank within its row under a random key: a uniformly random
        # choice of `zeros_per_row` columns per row, without a Python loop.
        ranks = mx.argsort(mx.argsort(mx.random.uniform(shape=a.shape), axis=1), axis=1)
        return mx.where(ranks < zeros_per_row, mx.zeros((), dtype=dtype), values)

    return initializer


def orthogonal(gain=1.0, dtype=mx.float32):
    """A (semi-)orthogonal matrix times ``gain``: orthonormal rows when rows <= columns,
    orthonormal columns otherwise; drawn uniformly (Haar) via QR of a Gaussian matrix."""

    def initializer(a):
        _require_matrix(a, "orthogonal")
        rows, cols = a.shape
        n = max(rows, cols)
        q, r = mx.linalg.qr(mx.random.normal(shape=(n, n)), stream=mx.cpu)
        # Fixing the signs of R's diagonal makes Q Haar-distributed instead of biased by QR.
        q = q * mx.sign(mx.diag(r))
        return (gain * q[:rows, :cols]).astype(dtype)

    return initializer
