"""Gradients of max and min reductions (lmx runs float32 ones on the CPU as
one fused node per reduction): ties share the gradient equally, as in MLX,
over any axes, checked against float64 (the same rule built from ops), with
second derivatives and the pooling layers that use them."""

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

pytestmark = pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx's float32 kernel with its float64 ops")

CASES = [((4, 5, 6), (1,)), ((4, 5, 6), (2,)), ((4, 5, 6), (0, 2)), ((3, 4, 2, 5, 2, 7), (2, 4)),
         ((6, 7), None), ((2, 3, 40), (0, 1)), ((5, 1, 3), (1,))]


def tied(rng, shape):
    # Few distinct values, so windows hold ties.
    return rng.integers(-2, 3, shape).astype(np.float64)


@pytest.fixture(autouse=True)
def cpu_stream():
    with mx.stream(mx.cpu):  # float64 is CPU-only
        yield


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape,axes", CASES, ids=str)
def test_tied_gradients_against_float64(op, shape, axes, rng):
    x = tied(rng, shape)
    red = getattr(mx, op)
    w = rng.standard_normal(np.asarray(getattr(np, op)(x, axis=axes, keepdims=True)).shape)
    got, want = [
        mx.grad(lambda a: (red(a, axis=axes, keepdims=True) * mx.array(w.astype(dt))).sum())(
            mx.array(x.astype(dt)))
        for dt in (np.float32, np.float64)
    ]
    assert got.dtype == mx.float32
    np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-6, atol=1e-6)
    # the shares of each window add up to its cotangent
    np.testing.assert_allclose(to_numpy(got).sum(axis=axes, keepdims=True), w, rtol=1e-5, atol=1e-5)


def test_second_derivative_through_the_cotangent(rng):
    x = tied(rng, (3, 4, 5))
    h = rng.standard_normal((3, 4, 5))

    def outer(dt):
        xs = mx.array(x.astype(dt))
        inner = lambda s: mx.grad(lambda a: (mx.max(a, axis=1) * s).sum())(xs)  # noqa: E731
        return mx.grad(lambda s: (inner(s) * mx.array(h.astype(dt))).sum())(mx.ones((3, 5), dtype=xs.dtype))

    np.testing.assert_allclose(to_numpy(outer(np.float32)), to_numpy(outer(np.float64)), rtol=1e-5, atol=1e-5)


def test_nan_windows_get_no_gradient():
    x = mx.array([[1.0, np.nan, 3.0], [2.0, 5.0, 5.0]])
    g = to_numpy(mx.grad(lambda a: mx.max(a, axis=1).sum())(x))
    np.testing.assert_array_equal(g, [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5]])


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2)])
def test_max_pool_gradient_against_float64(kernel, stride, rng):
    import lmx.nn as nn

    pool = nn.MaxPool2d(kernel, stride)
    x = tied(rng, (2, 9, 8, 3))
    w = rng.standard_normal(pool(mx.array(x)).shape)
    got, want = [mx.grad(lambda a: (pool(a) * mx.array(w.astype(dt))).sum())(mx.array(x.astype(dt)))
                 for dt in (np.float32, np.float64)]
    np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-6, atol=1e-6)
