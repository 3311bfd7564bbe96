"""nn.init: shapes and dtypes, the statistics of each distribution on large arrays (generous
bounds), fan computation for convolution-shaped weights, sparsity per row, orthogonality,
identity, reproducibility under a seed, and bad arguments."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")
init = nn.init

FLOATS = ["float32", "float16", "bfloat16"]


def _sample(initializer, shape, *args, **kwargs):
    out = initializer(mx.zeros(shape), *args, **kwargs)
    assert out.shape == tuple(shape)
    return out, to_numpy(out).astype(np.float64)


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_initializer_returns_the_requested_dtype_and_shape(dtype):
    dt = getattr(mx, dtype)
    makers = [
        init.constant(0.5, dt), init.normal(dtype=dt), init.uniform(dtype=dt), init.glorot_normal(dt),
        init.glorot_uniform(dt), init.he_normal(dt), init.he_uniform(dt), init.sparse(0.5, dtype=dt),
        init.orthogonal(dtype=dt),
    ]  # fmt: skip
    for make in makers:
        # The input's dtype does not matter, only `dtype`.
        out = make(mx.zeros((6, 4), dtype=mx.int32))
        assert out.shape == (6, 4) and out.dtype == dt
    out = init.identity(dt)(mx.zeros((3, 3)))
    assert out.shape == (3, 3) and out.dtype == dt


def test_defaults_are_float32():
    for make in (init.normal(), init.uniform(), init.glorot_uniform(), init.he_normal(), init.orthogonal()):
        assert make(mx.zeros((4, 4), dtype=mx.float16)).dtype == mx.float32


def test_constant():
    out = init.constant(2.5)(mx.zeros((2, 3, 4)))
    assert out.dtype == mx.float32
    np.testing.assert_array_equal(to_numpy(out), np.full((2, 3, 4), 2.5))
    assert init.constant(-3, mx.int32)(mx.zeros((2,))).tolist() == [-3, -3]


def test_normal_statistics():
    _, values = _sample(init.normal(mean=1.5, std=0.5), (400, 500))
    assert values.mean() == pytest.approx(1.5, abs=0.01)
    assert values.std() == pytest.approx(0.5, rel=0.02)
    _, standard = _sample(init.normal(), (400, 500))
    assert abs(standard.mean()) < 0.01 and standard.std() == pytest.approx(1.0, rel=0.02)


def test_uniform_statistics():
    _, values = _sample(init.uniform(low=-2.0, high=3.0), (400, 500))
    assert values.min() >= -2.0 and values.max() <= 3.0
    assert values.min() < -1.99 and values.max() > 2.99
    assert values.mean() == pytest.approx(0.5, abs=0.02)
    assert values.std() == pytest.approx(5 / math.sqrt(12), rel=0.02)
    _, unit = _sample(init.uniform(), (100, 100))
    assert unit.min() >= 0.0 and unit.max() <= 1.0


def test_identity():
    out = init.identity()(mx.zeros((5, 5)))
    assert out.dtype == mx.float32
    np.testing.assert_array_equal(to_numpy(out), np.eye(5))


@pytest.mark.parametrize("shape", [(2, 3), (4,), (2, 2, 2)])
def test_identity_needs_a_square_matrix(shape):
    with pytest.raises(ValueError):
        init.identity()(mx.zeros(shape))


def _fans(shape):
    receptive_field = math.prod(shape[1:-1])
    return shape[-1] * receptive_field, shape[0] * receptive_field


# A Linear-shaped (out, in) weight and convolution-shaped (out, *kernel, in) weights.
SHAPES = [(300, 700), (128, 8, 8, 64), (256, 5, 96)]


@pytest.mark.parametrize("shape", SHAPES)
def test_glorot_normal_and_uniform(shape):
    fan_in, fan_out = _fans(shape)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    _, values = _sample(init.glorot_normal(), shape)
    assert abs(values.mean()) < 0.02 * std and values.std() == pytest.approx(std, rel=0.02)
    _, scaled = _sample(init.glorot_normal(), shape, gain=3.0)
    assert scaled.std() == pytest.approx(3.0 * std, rel=0.02)

    limit = math.sqrt(6.0 / (fan_in + fan_out))
    for gain in (1.0, 0.5):
        _, values = _sample(init.glorot_uniform(), shape, gain=gain)
        assert np.abs(values).max() <= gain * limit * (1 + 1e-6)
        assert np.abs(values).max() > 0.99 * gain * limit
        assert values.std() == pytest.approx(gain * limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_he_normal_and_uniform(shape, mode):
    fan_in, fan_out = _fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    for gain in (1.0, 2.0):
        _, values = _sample(init.he_normal(), shape, mode=mode, gain=gain)
        assert values.std() == pytest.approx(gain / math.sqrt(fan), rel=0.02)
        limit = gain * math.sqrt(3.0 / fan)
        _, values = _sample(init.he_uniform(), shape, mode=mode, gain=gain)
        assert np.abs(values).max() <= limit * (1 + 1e-6) and np.abs(values).max() > 0.99 * limit
        assert values.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


def test_he_default_mode_is_fan_in():
    _, values = _sample(init.he_normal(), (100, 2500))  # fan_in 2500, fan_out 100
    assert values.std() == pytest.approx(1 / 50, rel=0.03)


def test_glorot_and_he_reject_bad_input():
    for make in (init.glorot_normal(), init.glorot_uniform(), init.he_normal(), init.he_uniform()):
        for shape in ((), (7,)):
            with pytest.raises(ValueError):
                make(mx.zeros(shape))
    for make in (init.he_normal(), init.he_uniform()):
        with pytest.raises(ValueError, match="fan_avg"):
            make(mx.zeros((3, 3)), mode="fan_avg")


@pytest.mark.parametrize("sparsity,cols", [(0.3, 10), (0.35, 10), (0.05, 40), (0.5, 7), (0.0, 6), (1.0, 6)])
def test_sparse_zeroes_the_same_fraction_of_every_row(sparsity, cols):
    _, values = _sample(init.sparse(sparsity), (50, cols))
    zeros_per_row = (values == 0).sum(axis=1)
    np.testing.assert_array_equal(zeros_per_row, math.ceil(sparsity * cols))


def test_sparse_nonzero_statistics_and_random_positions():
    _, values = _sample(init.sparse(0.25, mean=2.0, std=0.5), (400, 400))
    kept = values[values != 0]
    assert kept.size == 400 * 300
    assert kept.mean() == pytest.approx(2.0, abs=0.01) and kept.std() == pytest.approx(0.5, rel=0.03)
    # Every column gets zeros at about the same rate: the positions are not fixed.
    zeros_per_column = (values == 0).mean(axis=0)
    assert zeros_per_column.min() > 0.1 and zeros_per_column.max() < 0.4


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)])
def test_sparse_needs_a_matrix(shape):
    with pytest.raises(ValueError):
        init.sparse(0.5)(mx.zeros(shape))


@pytest.mark.parametrize("shape", [(6, 6), (3, 8), (9, 4)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    out, q = _sample(init.orthogonal(gain=gain), shape)
    assert out.dtype == mx.float32
    rows, cols = shape
    gram = q @ q.T if rows <= cols else q.T @ q
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-5 * gain**2)


def test_orthogonal_is_random():
    first = to_numpy(init.orthogonal()(mx.zeros((4, 4))))
    second = to_numpy(init.orthogonal()(mx.zeros((4, 4))))
    assert not np.allclose(first, second)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_orthogonal_needs_a_matrix(shape):
    with pytest.raises(ValueError):
        init.orthogonal()(mx.zeros(shape))


@pytest.mark.parametrize(
    "make",
    [init.normal, init.uniform, init.glorot_normal, init.glorot_uniform, init.he_normal, init.he_uniform,
     lambda: init.sparse(0.5), init.orthogonal],
)  # fmt: skip
def test_random_initializers_follow_the_global_seed(make):
    mx.random.seed(7)
    first = to_numpy(make()(mx.zeros((8, 8))))
    mx.random.seed(7)
    again = to_numpy(make()(mx.zeros((8, 8))))
    different = to_numpy(make()(mx.zeros((8, 8))))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, different)
