"""MLX's array-API spellings and small helpers (acos, pow, trunc, minmax,
isdtype, can_cast, asarray, matrix_transpose, windows)."""

import numpy as np
import pytest

from conftest import mx, to_numpy

ALIASES = [("acos", "arccos"), ("acosh", "arccosh"), ("asin", "arcsin"), ("asinh", "arcsinh"),
           ("atan", "arctan"), ("atanh", "arctanh")]  # fmt: skip


@pytest.mark.parametrize("alias,name", ALIASES)
def test_unary_aliases(alias, name, rng):
    x = mx.array(rng.uniform(0.1, 0.9, size=(3, 4)).astype(np.float32))
    if name == "arccosh":
        x = x + 1.5
    np.testing.assert_array_equal(to_numpy(getattr(mx, alias)(x)), to_numpy(getattr(mx, name)(x)))


def test_binary_aliases_and_cumulative():
    a, b = mx.array([1, 2, 8]), mx.array([1, 2, 3])
    assert mx.pow(a, b).tolist() == [1, 4, 512]
    assert mx.bitwise_left_shift(a, b).tolist() == [2, 8, 64]
    assert mx.bitwise_right_shift(a, b).tolist() == [0, 0, 1]
    assert abs(mx.atan2(mx.array(1.0), mx.array(1.0)).item() - np.pi / 4) < 1e-6
    assert mx.cumulative_sum(a).tolist() == [1, 3, 11] and mx.cumulative_prod(a).tolist() == [1, 2, 16]


def test_trunc_positive_minmax():
    x = mx.array([-1.7, -0.5, 0.5, 2.5])
    np.testing.assert_array_equal(to_numpy(mx.trunc(x)), np.trunc(to_numpy(x)))
    assert mx.trunc(mx.array([3, -2])).tolist() == [3, -2]
    assert mx.positive(x).tolist() == x.tolist()
    lo, hi = mx.minmax(mx.array([[3, 1], [2, 5]]), axis=0)
    assert lo.tolist() == [2, 1] and hi.tolist() == [3, 5]


def test_matrix_transpose_and_empty():
    assert mx.matrix_transpose(mx.ones((2, 3, 4))).shape == (2, 4, 3)
    assert mx.empty((2, 3)).shape == (2, 3) and mx.empty_like(mx.ones((4,), mx.int8)).dtype == mx.int8


def test_isdtype_and_can_cast():
    assert mx.isdtype(mx.float32, "real floating") and not mx.isdtype(mx.int8, "real floating")
    assert mx.isdtype(mx.uint8, "unsigned integer") and mx.isdtype(mx.int8, "signed integer")
    assert mx.isdtype(mx.complex64, ("bool", "complex floating")) and mx.isdtype(mx.int16, mx.int16)
    assert mx.isdtype(mx.int32, "numeric") and not mx.isdtype(mx.bool_, "numeric")
    assert mx.can_cast(mx.int32, mx.float32) and not mx.can_cast(mx.float32, mx.int32)
    assert not mx.can_cast(mx.uint8, mx.int8) and mx.can_cast(mx.array([1], mx.int8), mx.int16)


def test_asarray():
    a = mx.array([1.0, 2.0])
    assert mx.asarray(a).tolist() == a.tolist() and mx.asarray(a).dtype == a.dtype
    b = mx.asarray([1, 2], dtype=mx.float16)
    assert b.dtype == mx.float16 and b.tolist() == [1.0, 2.0]
    c = mx.asarray(np.arange(3, dtype=np.int16))
    assert c.dtype == mx.int16 and c.tolist() == [0, 1, 2]


@pytest.mark.parametrize("name", ["bartlett", "hanning", "hamming", "blackman"])
@pytest.mark.parametrize("m", [0, 1, 2, 7, 12])
def test_windows(name, m):
    got = getattr(mx, name)(m)
    assert got.dtype == mx.float32 and got.shape == (m,)
    np.testing.assert_allclose(to_numpy(got), getattr(np, name)(m), atol=1e-6)


@pytest.mark.parametrize("sub", ["", "linalg", "fft", "random", "distributed"])
def test_every_public_name_of_mlx_core_exists(sub):
    """Every public name of MLX's mlx.core (and its submodules) is in lmx.core."""
    mlx = pytest.importorskip("mlx.core")
    theirs, ours = (mlx, mx) if not sub else (getattr(mlx, sub), getattr(mx, sub))
    missing = sorted(n for n in dir(theirs) if not n.startswith("_") and not hasattr(ours, n))
    assert missing == []
