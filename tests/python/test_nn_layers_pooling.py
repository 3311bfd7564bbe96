"""nn.MaxPool1d/2d/3d and nn.AvgPool1d/2d/3d against a NumPy window-by-window reference."""

import itertools

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")


def as_tuple(v, d):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d


def ref_pool(x, kind, kernel, stride=None, padding=0):
    """Window by window: max pads with -inf, average pads with zeros and counts them."""
    d = x.ndim - 2
    kernel = as_tuple(kernel, d)
    stride = kernel if stride is None else as_tuple(stride, d)
    padding = as_tuple(padding, d)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, [(0, 0), *((p, p) for p in padding), (0, 0)], constant_values=fill)
    out = [(n - k) // s + 1 for n, k, s in zip(xp.shape[1:-1], kernel, stride)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for pos in itertools.product(*(range(o) for o in out)):
        window = xp[(slice(None), *(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, kernel)))]
        axes = tuple(range(1, d + 1))
        y[(slice(None), *pos)] = window.max(axis=axes) if kind == "max" else window.mean(axis=axes)
    return y


def layer(kind, d, *args, **kwargs):
    return getattr(nn, f"{'Max' if kind == 'max' else 'Avg'}Pool{d}d")(*args, **kwargs)


# (input shape, kernel, stride, padding)
CASES = [
    ((2, 8, 3), 2, None, 0),
    ((2, 9, 3), 3, 2, 1),
    ((1, 10, 2), 4, 1, 2),
    ((1, 7, 1), 2, 3, 0),
    ((2, 6, 7, 3), 2, None, 0),
    ((1, 8, 9, 2), (3, 2), (2, 1), (1, 0)),
    ((1, 5, 5, 1), 3, 1, 1),
    ((2, 4, 5, 6, 2), 2, None, 0),
    ((1, 5, 6, 4, 1), (3, 2, 2), (1, 2, 1), (1, 1, 0)),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_pooling_matches_numpy(kind, case, rng):
    shape, kernel, stride, padding = case
    x = rng.normal(size=shape).astype(np.float32)
    pool = layer(kind, len(shape) - 2, kernel, stride=stride, padding=padding)
    y = pool(mx.array(x))
    ref = ref_pool(x.astype(np.float64), kind, kernel, stride, padding)
    assert y.shape == ref.shape
    assert y.dtype == mx.float32
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_of_a_transposed_input(kind, rng):
    x = rng.normal(size=(2, 3, 6, 5)).astype(np.float32)
    xt = mx.array(x).transpose(0, 2, 1, 3)  # (2, 6, 3, 5), not row-contiguous
    y = layer(kind, 2, (2, 2), stride=1)(xt)
    np.testing.assert_allclose(
        to_numpy(y), ref_pool(x.transpose(0, 2, 1, 3), kind, 2, 1), rtol=1e-6, atol=1e-6
    )


def test_stride_defaults_to_kernel_size():
    assert layer("max", 2, 3)(mx.zeros((1, 9, 7, 1))).shape == (1, 3, 2, 1)
    assert layer("avg", 1, 2)(mx.zeros((1, 9, 1))).shape == (1, 4, 1)


def test_max_pooling_keeps_integer_and_half_dtypes():
    x = mx.arange(5).reshape(1, 5, 1)
    y = nn.MaxPool1d(3, stride=2, padding=1)(x)
    assert y.dtype == mx.int32
    np.testing.assert_array_equal(to_numpy(y).ravel(), [1, 3, 4])
    assert nn.MaxPool1d(2)(x.astype(mx.float16)).dtype == mx.float16
    assert nn.AvgPool1d(2)(x.astype(mx.float16)).dtype == mx.float16


def test_average_pooling_counts_the_zero_padding():
    x = mx.arange(1, 6, dtype=mx.float32).reshape(1, 5, 1)
    np.testing.assert_allclose(to_numpy(nn.AvgPool1d(3, stride=2, padding=1)(x)).ravel(), [1.0, 3.0, 3.0])


def test_max_pooling_ignores_the_padding():
    x = -mx.arange(1, 6, dtype=mx.float32).reshape(1, 5, 1)
    np.testing.assert_allclose(to_numpy(nn.MaxPool1d(3, stride=2, padding=1)(x)).ravel(), [-1.0, -2.0, -4.0])


def test_pooling_gradients(rng):
    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    # Average: each input receives 1/|window| from every window that covers it.
    grad = mx.grad(lambda a: mx.sum(nn.AvgPool2d(3, stride=1, padding=1)(a)))(mx.array(x))
    cover = np.zeros(x.shape)
    for i, j in itertools.product(range(6), range(6)):
        cover[:, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] += 1 / 9
    np.testing.assert_allclose(to_numpy(grad), cover, rtol=1e-6, atol=1e-6)
    # Max (non-overlapping windows, distinct values): a one at every window's argmax.
    grad = mx.grad(lambda a: mx.sum(nn.MaxPool2d(2)(a)))(mx.array(x))
    windows = x.reshape(2, 3, 2, 3, 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(2, 3, 3, 2, 4)
    expected = (windows == windows.max(axis=-1, keepdims=True)).astype(np.float32)
    expected = expected.reshape(2, 3, 3, 2, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(x.shape)
    np.testing.assert_array_equal(to_numpy(grad), expected)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_rejects_bad_arguments(kind):
    with pytest.raises(ValueError, match="kernel_size"):
        layer(kind, 1, 0)
    with pytest.raises(ValueError, match="stride"):
        layer(kind, 2, 2, stride=0)
    with pytest.raises(ValueError, match="padding"):
        layer(kind, 1, 2, padding=-1)
    with pytest.raises(ValueError, match="kernel_size"):
        layer(kind, 2, (2, 2, 2))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_rejects_input_of_the_wrong_rank(kind):
    with pytest.raises(ValueError):
        layer(kind, 2, 2)(mx.zeros((3, 3, 1)))
    with pytest.raises(ValueError):
        layer(kind, 1, 2)(mx.zeros((1, 4, 4, 1)))


def test_pooling_repr():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.AvgPool1d(3, 2, 1)) == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))"
