"""Reductions (sum, max, mean, var, argmax, logsumexp, softmax, ...) vs NumPy."""

import numpy as np
import pytest

from conftest import ALL_DTYPES, INT_DTYPES, NP, mx, to_numpy, tolerance

INTLIKE = {"bool_", *INT_DTYPES}
NAN, INF = float("nan"), float("inf")


def mx_dtype(name):
    return getattr(mx, name)


def dtype_name(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def np_dtype(name):
    return {"bool_": np.bool_, "bfloat16": np.float32}.get(name) or np.dtype(name).type


def _sum_dtype(d):
    # MLX accumulates small integers in 32 bits, keeping signedness.
    if d in ("bool_", "int8", "int16", "int32"):
        return "int32"
    if d in ("uint8", "uint16", "uint32"):
        return "uint32"
    return d


def _float_dtype(d):
    return "float32" if d in INTLIKE else d


def _var_dtype(d):
    return "float32" if d in INTLIKE or d == "complex64" else d


def _axes_tuple(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _softmax(x, axis):
    e = np.exp(x - (np.max(x, axis=axis, keepdims=True) if x.dtype.kind == "f" else 0))
    return e / np.sum(e, axis=axis, keepdims=True)


def _arg(fn):
    def ref(x, axis, keepdims):
        if axis is None:
            r = fn(x.reshape(-1))
            return np.reshape(r, (1,) * x.ndim) if keepdims else r
        return fn(x, axis=axis, keepdims=keepdims)

    return ref


def _plain(fn):
    return lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims)


# name: (reference(x, axis, keepdims), output dtype rule, data kind, tuple_axes)
# data kinds: "small" small ints (exact sums), "unit" values with |x| in
# [0.5, 1.5] (stable products), "sparse" many zeros, "ties" repeated values.
REDUCTIONS = {
    "sum": (_plain(np.sum), _sum_dtype, "small", True),
    "prod": (_plain(np.prod), _sum_dtype, "unit", True),
    "max": (_plain(np.max), lambda d: d, "small", True),
    "min": (_plain(np.min), lambda d: d, "small", True),
    "mean": (_plain(np.mean), _float_dtype, "small", True),
    "var": (_plain(np.var), _var_dtype, "small", True),
    "std": (_plain(np.std), _var_dtype, "small", True),
    "all": (_plain(np.all), lambda d: "bool_", "sparse", True),
    "any": (_plain(np.any), lambda d: "bool_", "sparse", True),
    "argmax": (_arg(np.argmax), lambda d: "uint32", "ties", False),
    "argmin": (_arg(np.argmin), lambda d: "uint32", "ties", False),
    "logsumexp": (_logsumexp, _float_dtype, "small", True),
    "count_nonzero": (_plain(np.count_nonzero), lambda d: "int32", "sparse", True),
}
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)]


def make_data(rng, dtype, kind, shape):
    """(mx array, exact NumPy copy) for a data kind."""
    if dtype == "bool_":
        x = rng.random(shape) < (0.8 if kind == "sparse" else 0.5)
    elif kind == "unit":
        if dtype in INTLIKE:
            x = np.where(rng.random(shape) < 0.8, 1, 2)  # mostly 1s, a few 2s
        else:
            x = rng.uniform(0.5, 1.5, shape)
        if not dtype.startswith("u"):
            x = x * rng.choice([-1, 1], shape)
    elif kind == "sparse":
        x = rng.integers(1, 4, shape) * (rng.random(shape) < 0.8)
    elif kind == "ties":
        x = rng.integers(0, 4, shape)
    elif dtype in INTLIKE:
        lo = 0 if dtype.startswith("u") else -10
        x = rng.integers(lo, 11, shape)
    else:
        x = rng.uniform(-3, 3, shape)
    if dtype == "complex64" and kind != "sparse":
        x = x + 1j * (
            rng.integers(0, 3, shape) if kind == "ties" else rng.uniform(-1, 1, shape)
        )
    elif dtype == "complex64":
        x = x + 1j * x * (rng.random(shape) < 0.5)
    a = mx.array(np.asarray(x)).astype(mx_dtype(dtype))
    return a, to_numpy(a)


def wide(x, dtype):
    if dtype == "complex64":
        return x.astype(np.complex128)
    if dtype in INTLIKE:
        return x.astype(np.int64)
    return x.astype(np.float64)


# MLX's CPU float64 exp is only float32-accurate, and so are these.
FLOAT64_APPROX = {"logsumexp", "softmax"}


def check(got, expected, out, op=None):
    assert dtype_name(got.dtype) == out
    got_np = to_numpy(got)
    assert got_np.shape == np.shape(expected)
    if out in INTLIKE:
        np.testing.assert_array_equal(
            got_np, np.asarray(expected).astype(np_dtype(out))
        )
    else:
        rtol, atol = tolerance(out)
        if out == "float64" and op in FLOAT64_APPROX:
            rtol, atol = 2e-6, 2e-7
        np.testing.assert_allclose(got_np, expected, rtol=rtol, atol=atol)


def reference(op, x, dtype, axis, keepdims):
    ref = REDUCTIONS[op][0]
    if op in ("max", "min", "all", "any", "argmax", "argmin", "count_nonzero"):
        return ref(x if dtype in INTLIKE else wide(x, dtype), axis, keepdims)
    return ref(wide(x, dtype), axis, keepdims)


def mlx_int_bug(op, dtype, axis):
    """Combinations where MLX 0.32 gives wrong results, left untested.

    logsumexp of bool/unsigned input over anything but the last axis returns
    inf or garbage (x - max wraps), and softmax of bool/int input over anything
    but the last axis keeps the integer dtype and returns zeros.
    """
    if op == "logsumexp" and (dtype == "bool_" or dtype.startswith("u")):
        return axis not in (-1, 2)
    if op == "softmax" and dtype in INTLIKE:
        return axis not in (-1, 2)
    return False


CASES = [
    (op, d, axis)
    for op, spec in REDUCTIONS.items()
    for d in ALL_DTYPES
    for axis in AXES
    if (spec[3] or not isinstance(axis, tuple)) and not mlx_int_bug(op, d, axis)
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op,dtype,axis", CASES, ids=str)
def test_reduction_values(op, dtype, axis, keepdims, rng):
    a, x = make_data(rng, dtype, REDUCTIONS[op][2], (2, 3, 4))
    got = getattr(mx, op)(a, axis=axis, keepdims=keepdims)
    check(got, reference(op, x, dtype, axis, keepdims), REDUCTIONS[op][1](dtype), op)


SOFTMAX_CASES = [
    (d, axis)
    for d in ALL_DTYPES
    for axis in [None, 0, -1, (0, 2)]
    if not mlx_int_bug("softmax", d, axis)
]


@pytest.mark.parametrize("precise", [False, True])
@pytest.mark.parametrize("dtype,axis", SOFTMAX_CASES, ids=str)
def test_softmax(dtype, axis, precise, rng):
    a, x = make_data(rng, dtype, "small", (2, 3, 4))
    got = mx.softmax(a, axis=axis, precise=precise)
    assert got.shape == a.shape
    axes = _axes_tuple(axis, 3)
    x = x.astype(np.complex128 if dtype == "complex64" else np.float64)
    check(got, _softmax(x, axes), _float_dtype(dtype), "softmax")
    if dtype != "complex64":
        total = to_numpy(mx.sum(got.astype(mx.float32), axis=axis))
        np.testing.assert_allclose(
            total, 1.0, rtol=max(tolerance(_float_dtype(dtype))[0], 1e-5) * 4
        )


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_large_reductions_over_the_last_axis(op, layout, rng):
    # Enough outputs that threads split them, at boundaries inside the kept
    # walk's rows (3 rows of 5001 outputs each).
    x = rng.standard_normal((3, 5001, 40)).astype(np.float32)
    a = mx.array(x)
    if layout == "transposed":
        x = np.swapaxes(x, 1, 2).copy()
        a = mx.swapaxes(mx.array(np.swapaxes(x, 1, 2)), 1, 2)  # a strided view of the same values
        axis = 1
    else:
        axis = -1
    got = to_numpy(getattr(mx, op)(a, axis=axis))
    np.testing.assert_allclose(got, getattr(np, op)(x, axis=axis), rtol=1e-4, atol=1e-3)


def test_softmax_stability():
    np.testing.assert_allclose(
        to_numpy(mx.softmax(mx.array([1000.0, 1000.0]))), [0.5, 0.5]
    )
    np.testing.assert_allclose(
        to_numpy(mx.softmax(mx.array([-INF, 0.0, 1.0]))),
        [0.0, 0.268941, 0.731059],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        to_numpy(mx.softmax(mx.array([-1000.0, 0.0]), precise=True)), [0.0, 1.0]
    )
    x = mx.array([[10.0, 11.0, 12.0]], dtype=mx.float16)
    got = mx.softmax(x, axis=-1, precise=True)
    assert got.dtype == mx.float16
    np.testing.assert_allclose(
        to_numpy(got), _softmax(np.array([[10.0, 11.0, 12.0]]), 1), rtol=1e-2, atol=1e-3
    )


def test_logsumexp_stability():
    cases = [
        ([-INF, -INF], -INF),
        ([INF, 1.0], INF),
        ([1000.0, 1000.0], 1000.0 + np.log(2)),
        ([-1000.0, -1000.0], -1000.0 + np.log(2)),
    ]
    for values, expected in cases:
        got = to_numpy(mx.logsumexp(mx.array(values)))
        np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize(
    "dtype", ["int32", "float16", "float32", "float64", "complex64"]
)
@pytest.mark.parametrize("axis", [None, 1, (0, 2)], ids=str)
def test_var_std_ddof(op, dtype, ddof, axis, rng):
    a, x = make_data(rng, dtype, "small", (3, 4, 5))
    got = getattr(mx, op)(a, axis=axis, ddof=ddof)
    expected = getattr(np, op)(wide(x, dtype), axis=axis, ddof=ddof)
    check(got, expected, _var_dtype(dtype))


def test_var_ddof_at_least_n_is_inf():
    x = mx.array([1.0, 2.0, 4.0])
    assert to_numpy(mx.var(x, ddof=3)) == INF
    assert to_numpy(mx.std(x, ddof=4)) == INF


def test_integer_accumulator_dtypes():
    assert to_numpy(mx.sum(mx.array([200, 200], dtype=mx.uint8))) == 400
    assert to_numpy(mx.sum(mx.array([-100, -100], dtype=mx.int8))) == -200
    assert to_numpy(mx.prod(mx.array([100, 100], dtype=mx.int8))) == 10000
    got = mx.sum(mx.array([True, True, False]))
    assert got.dtype == mx.int32 and to_numpy(got) == 2
    got = mx.mean(mx.array([True, True, False]))
    assert got.dtype == mx.float32 and np.isclose(to_numpy(got), 2 / 3)
    # int32 accumulates (and wraps) in int32; NumPy would widen to int64.
    got = mx.sum(mx.array([2**31 - 1, 1], dtype=mx.int32))
    assert got.dtype == mx.int32 and to_numpy(got) == -(2**31)
    got = mx.sum(mx.array([2**40, 2**40], dtype=mx.int64))
    assert got.dtype == mx.int64 and to_numpy(got) == 2**41


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_max_min_propagate_nan(op, dtype):
    a = mx.array([[1.0, NAN, 3.0], [4.0, 5.0, 6.0]]).astype(mx_dtype(dtype))
    got = to_numpy(getattr(mx, op)(a, axis=1))
    assert np.isnan(got[0]) and got[1] == (6.0 if op == "max" else 4.0)
    assert np.isnan(to_numpy(getattr(mx, op)(a)))
    assert np.isnan(to_numpy(mx.sum(a))) and np.isnan(to_numpy(mx.logsumexp(a)))


def test_argmax_argmin_ties_and_nan():
    x = mx.array([[1, 5, 5], [7, 7, 0]])
    np.testing.assert_array_equal(to_numpy(mx.argmax(x, axis=1)), [1, 0])
    np.testing.assert_array_equal(to_numpy(mx.argmin(x, axis=0)), [0, 0, 1])
    assert to_numpy(mx.argmax(x)) == 3  # first of the flattened maxima
    n = mx.array([1.0, NAN, 3.0, NAN])
    assert to_numpy(mx.argmax(n)) == 1 and to_numpy(mx.argmin(n)) == 1
    got = mx.argmax(mx.zeros((2, 3, 4)), keepdims=True)
    assert got.shape == (1, 1, 1) and got.dtype == mx.uint32


def test_complex_max_min_are_lexicographic():
    c = mx.array([1 + 2j, 3 - 1j, 1 + 5j, -2 + 0j])
    assert to_numpy(mx.max(c)) == 3 - 1j and to_numpy(mx.min(c)) == -2 + 0j
    assert to_numpy(mx.argmax(c)) == 1 and to_numpy(mx.argmin(c)) == 3


EMPTY_OK = [
    ("sum", None, 0.0, ()),
    ("sum", 0, [0.0, 0.0, 0.0], (3,)),
    ("prod", None, 1.0, ()),
    ("prod", 0, [1.0, 1.0, 1.0], (3,)),
    ("max", 1, [], (0,)),
    ("min", 1, [], (0,)),
    ("all", None, True, ()),
    ("any", None, False, ()),
    ("count_nonzero", None, 0, ()),
    ("mean", None, NAN, ()),
    ("var", 0, [NAN] * 3, (3,)),
    ("sum", 1, [], (0,)),
]


@pytest.mark.parametrize("op,axis,expected,shape", EMPTY_OK, ids=str)
def test_empty_reductions(op, axis, expected, shape):
    got = getattr(mx, op)(mx.zeros((0, 3)), axis=axis)
    assert got.shape == shape
    np.testing.assert_array_equal(to_numpy(got), np.reshape(expected, shape))


def test_empty_reductions_keep_dtype():
    assert mx.sum(mx.zeros((0,), dtype=mx.int8)).dtype == mx.int32
    assert mx.sum(mx.zeros((0,), dtype=mx.float16)).dtype == mx.float16
    assert to_numpy(mx.sum(mx.zeros((0,), dtype=mx.int8))) == 0
    got = mx.softmax(mx.zeros((0, 3)), axis=0)
    assert got.shape == (0, 3)


@pytest.mark.parametrize(
    "op,axis",
    [
        ("max", None),
        ("max", 0),
        ("min", None),
        ("min", 0),
        ("argmax", None),
        ("argmax", 0),
        ("argmax", 1),
        ("argmin", None),
        ("logsumexp", None),
        ("logsumexp", 0),
    ],
    ids=str,
)
def test_empty_reductions_raise(op, axis):
    # MLX refuses reductions without identity over zero elements (even argmax
    # along the non-empty axis of an empty array).
    with pytest.raises(ValueError):
        mx.eval(getattr(mx, op)(mx.zeros((0, 3)), axis=axis))


@pytest.mark.parametrize("op", list(REDUCTIONS) + ["softmax"])
@pytest.mark.parametrize("axis", [3, -4, 7])
def test_axis_out_of_range_raises(op, axis):
    with pytest.raises(IndexError):
        mx.eval(getattr(mx, op)(mx.ones((2, 3, 4)), axis=axis))


@pytest.mark.parametrize("op", [op for op, spec in REDUCTIONS.items() if spec[3]])
def test_duplicate_axes_raise(op):
    with pytest.raises(ValueError):
        mx.eval(getattr(mx, op)(mx.ones((2, 3, 4)), axis=(0, -3)))


def test_argmax_rejects_tuple_axis():
    with pytest.raises(TypeError):
        mx.argmax(mx.ones((2, 3)), axis=(0, 1))


def test_zero_dim_input():
    a = mx.array(3.5)
    assert to_numpy(mx.sum(a)) == 3.5 and mx.sum(a).shape == ()
    assert to_numpy(mx.argmax(a)) == 0
    assert to_numpy(mx.max(a, keepdims=True)) == 3.5
    with pytest.raises(IndexError):
        mx.sum(a, axis=0)


def test_empty_axis_tuple_is_identity(rng):
    x = rng.normal(size=(2, 3)).astype(np.float32)
    got = mx.sum(mx.array(x), axis=())
    assert got.shape == (2, 3)
    np.testing.assert_array_equal(to_numpy(got), x)


def test_large_float32_sum_accuracy(rng):
    x = rng.uniform(0, 1, 10**6).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_allclose(
        to_numpy(mx.sum(a)), x.astype(np.float64).sum(), rtol=1e-4
    )
    np.testing.assert_allclose(
        to_numpy(mx.mean(a)), x.astype(np.float64).mean(), rtol=1e-4
    )
    np.testing.assert_allclose(
        to_numpy(mx.var(a)), x.astype(np.float64).var(), rtol=1e-3
    )
    y = rng.normal(size=(1000, 1000)).astype(np.float32)
    b = mx.array(y)
    np.testing.assert_allclose(
        to_numpy(mx.sum(b, axis=0)),
        y.astype(np.float64).sum(axis=0),
        rtol=1e-4,
        atol=1e-3,
    )
    np.testing.assert_allclose(
        to_numpy(mx.logsumexp(b)),
        _logsumexp(y.astype(np.float64), None, False),
        rtol=1e-5,
    )
    assert to_numpy(mx.sum(mx.ones((10**6,)))) == 10**6
    assert to_numpy(mx.sum(mx.ones((10**6,), dtype=mx.int32))) == 10**6
    assert to_numpy(mx.argmax(b)) == np.argmax(y)


def test_float16_sum_accumulates_wider():
    # 10000 ones is exactly representable in float16; a float16 running sum
    # would stall at 2048.
    assert to_numpy(mx.sum(mx.ones((10000,), dtype=mx.float16))) == 10000
    assert to_numpy(mx.mean(mx.ones((10000,), dtype=mx.float16))) == 1


VIEWS = {
    "transposed": lambda a: mx.transpose(a, (2, 0, 1)),
    "strided": lambda a: a[:, ::2, 1::2],
    "reversed": lambda a: a[::-1, :, ::-1],
    "broadcast": lambda a: mx.broadcast_to(a[:1], (3, 4, 6)),
}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("axis", [None, 0, -1, (1, 2)], ids=str)
@pytest.mark.parametrize(
    "op",
    [
        "sum",
        "prod",
        "max",
        "argmin",
        "mean",
        "var",
        "all",
        "logsumexp",
        "count_nonzero",
    ],
)
def test_non_contiguous_input(op, axis, view, rng):
    if isinstance(axis, tuple) and not REDUCTIONS[op][3]:
        axis = 1
    a, _ = make_data(rng, "float32", REDUCTIONS[op][2], (3, 4, 6))
    v = VIEWS[view](a)
    x = to_numpy(v)
    assert x.shape == v.shape
    check(
        getattr(mx, op)(v, axis=axis),
        reference(op, x, "float32", axis, False),
        REDUCTIONS[op][1]("float32"),
    )
    if op == "logsumexp":
        got = mx.softmax(v, axis=axis)
        check(got, _softmax(x.astype(np.float64), _axes_tuple(axis, 3)), "float32")


def test_array_methods_match_functions(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_allclose(to_numpy(a.sum(axis=1)), x.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(a.mean(axis=0, keepdims=True)),
        x.mean(axis=0, keepdims=True),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(to_numpy(a.max(axis=0)), x.max(axis=0))
    np.testing.assert_array_equal(to_numpy(a.argmin(axis=1)), x.argmin(axis=1))
    np.testing.assert_allclose(
        to_numpy(a.var(ddof=1)), x.astype(np.float64).var(ddof=1), rtol=1e-5
    )
    assert bool(a.any()) and not bool((a > 100).all())


# Long rows take the blocked extreme search: ties across blocks, a NaN far
# from the start, and extremes in the ragged tail must all match NumPy.
@pytest.mark.parametrize("name", ["float32", "float16", "int32", "uint8", "float64"])
@pytest.mark.parametrize("n", [513, 4099, 9001, 12289])
def test_arg_extremes_long_rows(rng, name, n):
    x = rng.integers(0, 50, size=(3, n)).astype(np_dtype(name))
    x[0, n // 3] = x[0, n - 2] = 60  # a tie: the first wins
    x[1, :] = np.maximum(x[1, :], 1)
    x[1, n - 1] = 0  # the minimum sits in the ragged tail
    if name.startswith("float"):
        x[2, n - 5] = np.nan
        x[2, 7] = 70
    a = mx.array(x)
    for op in ("argmax", "argmin", "max", "min"):
        for axis in (1, None):
            got, want = to_numpy(getattr(mx, op)(a, axis=axis)), getattr(np, op)(x, axis=axis)
            np.testing.assert_array_equal(got, want)
    # The same rows seen with a stride: the general walk agrees.
    np.testing.assert_array_equal(to_numpy(mx.argmax(a.T, axis=0)), np.argmax(x.T, axis=0))


@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_argmax_of_long_vectors_keeps_first_index_and_first_nan(dtype):
    # Long single lines are split over threads; the first extreme must still win.
    rng = np.random.default_rng(3)
    n = (1 << 18) + 5
    a = (rng.standard_normal(n) * 100).astype(NP[dtype])
    a[[7, n // 3, n - 1]] = a.max()
    a[[11, n // 2]] = a.min()
    assert mx.argmax(mx.array(a)).item() == 7
    assert mx.argmin(mx.array(a)).item() == 11
    if dtype != "int32":
        a[[n // 2 + 1, n - 2]] = np.nan
        assert mx.argmax(mx.array(a)).item() == n // 2 + 1
        assert mx.argmin(mx.array(a)).item() == n // 2 + 1


# Whole-array reductions of long runs are folded in chunks by several
# threads, and column reductions split their columns in blocks: NaNs,
# extremes and the one differing element must be found in any chunk.
@pytest.mark.parametrize("name", ["float32", "int32", "uint8", "bool_"])
def test_chunked_whole_array_reductions(rng, name):
    n = 3 * (1 << 16) + 7
    x = rng.integers(1, 3, size=n).astype(np_dtype(name))
    a = mx.array(x)
    np.testing.assert_array_equal(to_numpy(mx.all(a)), np.all(x))
    y = x.copy()
    y[n - 3] = 0
    np.testing.assert_array_equal(to_numpy(mx.all(mx.array(y))), False)
    np.testing.assert_array_equal(to_numpy(mx.any(mx.array(np.zeros_like(y)))), False)
    if name == "bool_":
        return
    np.testing.assert_array_equal(to_numpy(mx.sum(a)), np.sum(x, dtype=to_numpy(mx.sum(a)).dtype))
    y[70000], y[190000] = 9, 0
    np.testing.assert_array_equal(to_numpy(mx.max(mx.array(y))), 9)
    np.testing.assert_array_equal(to_numpy(mx.min(mx.array(y))), 0)
    if name == "float32":
        y[150000] = np.nan
        assert np.isnan(to_numpy(mx.max(mx.array(y)))) and np.isnan(to_numpy(mx.sum(mx.array(y))))


@pytest.mark.parametrize("shape,axis", [((2000, 513), 0), ((3, 50, 700), 1), ((4, 6, 300), (0, 1)), ((7, 5, 2), 0)])
@pytest.mark.parametrize("op", ["sum", "max", "min", "prod"])
def test_column_reductions_in_blocks(rng, shape, axis, op):
    x = rng.integers(-3, 4, size=shape).astype(np.int32) if op != "prod" else rng.choice([-1, 1], size=shape).astype(np.int32)
    got = to_numpy(getattr(mx, op)(mx.array(x), axis=axis))
    np.testing.assert_array_equal(got, getattr(np, op)(x, axis=axis))
    xf = rng.standard_normal(shape).astype(np.float32)
    xf[(0,) * (len(shape) - 1) + (shape[-1] - 1,)] = np.nan  # the last column of the last block
    gotf = to_numpy(getattr(mx, op)(mx.array(xf), axis=axis))
    np.testing.assert_allclose(gotf, getattr(np, op)(xf.astype(np.float64), axis=axis), rtol=1e-4, atol=1e-3)
