"""Sorting, selection and scans vs NumPy.

Covers sort, argsort, partition, argpartition, topk, searchsorted, median,
cumsum, cumprod, cummax, cummin, logcumsumexp and diff.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ALL_DTYPES, BACKEND, INT_DTYPES, mx, to_numpy, tolerance

INTLIKE = {"bool_", *INT_DTYPES}
FLOATS = ["float16", "bfloat16", "float32", "float64"]
NAN, INF = float("nan"), float("inf")


def dtype_name(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def _float_out(d):
    """Result dtype of median/logcumsumexp: bool and integers give float32."""
    return "float32" if d in INTLIKE else d


def requires(name):
    """Functions newer than some MLX builds: skipped there, required of lmx."""
    return pytest.mark.skipif(
        BACKEND == "mlx" and not hasattr(mx, name), reason=f"mlx lacks {name}"
    )


# ---- Data ------------------------------------------------------------------

def make(rng, dtype, shape, kind="small"):
    """(mx array, exact NumPy copy).

    kinds: "ties" values in 0..3 (many repeats), "small" small integers (exact
    sums in every dtype), "pow2" factors from {1, 2, 1/2, -1} (exact products),
    "real" uniform floats.
    """
    unsigned = dtype.startswith("u")
    if dtype == "bool_":
        x = rng.random(shape) < 0.5
    elif kind == "ties":
        x = rng.integers(0, 4, shape)
    elif kind == "pow2":
        choices = [1, 1, 1, 2] if dtype in INTLIKE else [1, 1, 2, 0.5]
        x = rng.choice(choices, shape)
        if not unsigned:
            x = x * rng.choice([1, 1, 1, -1], shape)
    elif kind == "real" and dtype not in INTLIKE:
        x = rng.uniform(-3, 3, shape)
    else:
        x = rng.integers(0 if unsigned else -10, 11, shape)
    if dtype == "complex64":
        x = x + 1j * (rng.integers(0, 3, shape) if kind != "pow2" else 0)
    a = mx.array(np.asarray(x)).astype(getattr(mx, dtype))
    return a, to_numpy(a)


LAYOUTS = ["contiguous", "transposed", "strided"]


def make_layout(rng, dtype, layout, kind="small"):
    """A (3, 4, 5) operand stored contiguously, as a transpose, or strided."""
    if layout == "contiguous":
        return make(rng, dtype, (3, 4, 5), kind)
    if layout == "transposed":
        a, x = make(rng, dtype, (5, 3, 4), kind)
        return mx.transpose(a, (1, 2, 0)), x.transpose(1, 2, 0)
    a, x = make(rng, dtype, (6, 4, 10), kind)
    return a[::2, :, ::-2], x[::2, :, ::-2]


def flat_axis(x, axis):
    """(array, non-negative axis); axis=None means the flattened array."""
    return (x.reshape(-1), 0) if axis is None else (x, axis % x.ndim)


def check_exact(got, expected, out_dtype):
    assert dtype_name(got.dtype) == out_dtype
    got_np = to_numpy(got)
    assert got_np.shape == np.shape(expected)
    np.testing.assert_array_equal(got_np, expected)


# ---- sort / argsort --------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("axis", ["default", None, 0, 1, -1, -2], ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_sort_and_argsort(dtype, axis, layout, rng):
    a, x = make_layout(rng, dtype, layout, "ties")
    kw = {} if axis == "default" else {"axis": axis}  # the default is -1
    xf, ax = flat_axis(x, kw.get("axis", -1))
    check_exact(mx.sort(a, **kw), np.sort(xf, axis=ax), dtype)
    # Ties keep their input order: MLX's sort is stable.
    expected = np.argsort(xf, axis=ax, kind="stable")
    check_exact(mx.argsort(a, **kw), expected, "uint32")


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float16", "float32", "int64"])
def test_argsort_stable_on_long_rows(dtype, rng):
    a, x = make(rng, dtype, (3, 5000), "ties")
    for axis in (0, 1):
        expected = np.argsort(x, axis=axis, kind="stable")
        check_exact(mx.argsort(a, axis=axis), expected, "uint32")
        check_exact(mx.argsort(a.T, axis=1 - axis), expected.T, "uint32")


# Rows from 65536 keys are cut into one bucket per thread by sampled
# splitters and the buckets sorted in parallel: the data kinds below stress
# the split (all keys in one bucket, splitters equal to many keys, a sorted
# sample) and the special float values that sort through keys.
LONG_ROW_KINDS = ["random", "ties", "equal", "sorted", "reversed", "special"]


def long_row(rng, dtype, kind, n):
    if kind == "random":
        x = rng.standard_normal(n) * 1000
    elif kind == "ties":
        x = rng.integers(0, 4, n)
    elif kind == "equal":
        x = np.full(n, 3)
    elif kind == "sorted":
        x = np.arange(n) % 30000
    elif kind == "reversed":
        x = np.arange(n)[::-1] % 30000
    else:
        x = rng.standard_normal(n)
        if dtype.startswith("float"):
            picks = rng.choice(n, 400, replace=False)
            x[picks[:100]], x[picks[100:200]] = np.nan, -0.0
            x[picks[200:300]], x[picks[300:]] = np.inf, -np.inf
    x = np.asarray(x)
    if not dtype.startswith("float"):
        x = np.round(x)
    return x.astype(np.float64 if dtype == "bfloat16" else dtype)


def check_long_rows(rng, dtype, kind, n, layout):
    x = long_row(rng, dtype, kind, n)
    a = mx.array(x).astype(getattr(mx, dtype))
    ref = to_numpy(a).astype(np.float64) if dtype in FLOATS else to_numpy(a)
    if layout == "strided":  # a column of a (n, 2) array: stride 2
        a = mx.stack([a, a], axis=1)[:, 1]
    order = np.argsort(ref, kind="stable")
    got = to_numpy(mx.sort(a))
    np.testing.assert_array_equal(got, ref[order])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ref[order]))
    check_exact(mx.argsort(a), order, "uint32")


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("kind", LONG_ROW_KINDS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int16", "int32", "uint64"])
def test_long_rows_sorted_in_buckets(rng, dtype, kind, layout):
    check_long_rows(rng, dtype, kind, 70001, layout)


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_several_long_rows(rng, layout):
    # Rows enough to share the threads out (each sorted whole) and fewer
    # (each cut into buckets), along the last axis and along the first; and
    # a row of exactly 65536 keys, where the buckets start.
    for rows, n in [(3, 70001), (1, 65536), (2, 65536)]:
        x = rng.standard_normal((rows, n)).astype(np.float32)
        x[:, ::7] = np.round(x[:, ::7])  # ties
        if layout == "columns":
            x = np.ascontiguousarray(x.T)
        axis = 1 if layout == "rows" else 0
        a = mx.array(x)
        np.testing.assert_array_equal(to_numpy(mx.sort(a, axis=axis)), np.sort(x, axis=axis))
        check_exact(mx.argsort(a, axis=axis), np.argsort(x, axis=axis, kind="stable"), "uint32")


@pytest.mark.skipif(BACKEND != "lmx", reason="LMX_NUM_THREADS is lmx's")
@pytest.mark.parametrize("threads", [2, 3])
def test_long_rows_sorted_in_buckets_per_thread_count(threads):
    # One bucket per kernel thread: two take the vectorised split, more the
    # counted scatter; whatever this machine has, both run here.
    script = (
        "import numpy as np, test_sort_scan as t\n"
        "for dtype in ['float32', 'int64', 'float64', 'int16', 'float16', 'int32']:\n"
        "    for kind in t.LONG_ROW_KINDS:\n"
        "        t.check_long_rows(np.random.default_rng(1), dtype, kind, 100003, 'contiguous')\n"
    )
    env = dict(os.environ, LMX_NUM_THREADS=str(threads))
    # The CPU's threads are under test (and float64 is CPU-only): the GPU, the
    # default where there is one, is set aside.
    env["LMX_DEFAULT_DEVICE"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("dtype", FLOATS)
def test_sort_nan_last_and_signed_zero_ties(dtype):
    values = [3.0, NAN, 1.0, -INF, -NAN, INF, 0.0, -0.0]
    a = mx.array(values).astype(getattr(mx, dtype))
    # NaNs (of either sign) sort to the end, keeping their order; 0.0 and
    # -0.0 compare equal so they stay in input order.
    order = [3, 6, 7, 2, 0, 5, 1, 4]
    check_exact(mx.argsort(a), order, "uint32")
    got = to_numpy(mx.sort(a))
    np.testing.assert_array_equal(got, np.array(values)[order])
    assert list(np.signbit(got[1:3])) == [False, True]


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
@pytest.mark.parametrize("n", [40, 1000, 5000])
def test_signed_zeros_tie_in_long_rows(rng, dtype, n):
    # Long rows take the vectorised sort, which keys values: the zeros still
    # tie, keeping their input order and their signs.
    x = rng.standard_normal(n).astype(np.float32)
    zeros = rng.choice(n, n // 4, replace=False)
    x[zeros] = np.where(rng.random(n // 4) < 0.5, -0.0, 0.0)
    a = mx.array(x).astype(getattr(mx, dtype))
    ref = to_numpy(a).astype(np.float64)
    order = np.argsort(ref, kind="stable")
    check_exact(mx.argsort(a), order, "uint32")
    got = to_numpy(mx.sort(a))
    np.testing.assert_array_equal(got, ref[order])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ref[order]))


@pytest.mark.parametrize("n", [5, 40, 1000, 5000])
def test_infinities_in_rows_of_any_length(rng, n):
    x = rng.standard_normal((3, n)).astype(np.float32)
    x[0, rng.choice(n, max(1, n // 10), replace=False)] = np.inf
    x[1, rng.choice(n, max(1, n // 10), replace=False)] = -np.inf
    x[2, :2] = [np.inf, -np.inf]
    np.testing.assert_array_equal(np.array(mx.sort(mx.array(x), axis=1)), np.sort(x, axis=1))
    check_exact(mx.argsort(mx.array(x), axis=1), np.argsort(x, axis=1, kind="stable"), "uint32")


def test_sort_complex_is_lexicographic():
    a = mx.array([1 + 2j, 1 - 1j, -1 + 5j, 0j, 1 + 0j])
    check_exact(mx.argsort(a), [2, 3, 1, 4, 0], "uint32")
    check_exact(mx.sort(a), np.sort(to_numpy(a)), "complex64")


EXTREMES = {
    "int64": [2**63 - 1, -(2**63), 0, -1, 5], "uint64": [2**64 - 1, 0, 2**63, 5],
    "uint32": [2**32 - 1, 0, 2**31, 5], "int8": [127, -128, 0, -1],
}


@pytest.mark.parametrize("dtype", list(EXTREMES))
def test_sort_integer_extremes(dtype):
    x = np.array(EXTREMES[dtype], dtype=dtype)
    check_exact(mx.sort(mx.array(x)), np.sort(x), dtype)


@pytest.mark.parametrize("fn", [mx.sort, mx.argsort])
def test_sort_0d_empty_and_bad_arguments(fn):
    s = mx.array(3.0)
    with pytest.raises(IndexError):
        fn(s)  # the default axis -1 does not exist
    with pytest.raises(TypeError):
        fn([3, 1, 2])
    with pytest.raises(TypeError):
        fn(mx.array([3, 1]), axis=0.0)
    check_exact(mx.sort(s, axis=None), [3.0], "float32")
    check_exact(mx.argsort(s, axis=None), [0], "uint32")
    for axis in (None, 0, -1):
        got = mx.sort(mx.zeros((0, 3)), axis=axis)
        assert got.shape == ((0,) if axis is None else (0, 3))
    got = mx.argsort(mx.zeros((3, 0)))
    assert got.shape == (3, 0) and got.dtype == mx.uint32


SELECT_FNS = {
    "sort": lambda a, axis: mx.sort(a, axis=axis),
    "argsort": lambda a, axis: mx.argsort(a, axis=axis),
    "partition": lambda a, axis: mx.partition(a, 1, axis=axis),
    "argpartition": lambda a, axis: mx.argpartition(a, 1, axis=axis),
    "topk": lambda a, axis: mx.topk(a, 1, axis=axis),
}


@pytest.mark.parametrize("fn", list(SELECT_FNS))
@pytest.mark.parametrize("axis", [2, -3])
def test_sort_family_axis_out_of_range(fn, axis):
    with pytest.raises(IndexError):
        SELECT_FNS[fn](mx.ones((2, 3)), axis)


# ---- partition / argpartition / topk ---------------------------------------

def check_partitioned(out, x, kth, axis):
    """out is x rearranged with the kth-smallest at kth, smaller before it."""
    n = x.shape[axis]
    k = kth % n
    s = np.sort(x, axis=axis)
    np.testing.assert_array_equal(np.sort(out, axis=axis), s)  # a permutation
    pivot = np.take(s, [k], axis=axis)
    np.testing.assert_array_equal(np.take(out, [k], axis=axis), pivot)
    assert np.all(np.take(out, range(k), axis=axis) <= pivot)
    assert np.all(np.take(out, range(k + 1, n), axis=axis) >= pivot)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kth", [0, 2, -1])
@pytest.mark.parametrize("axis", [None, 0, -1], ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_partition_and_argpartition(dtype, axis, kth, layout, rng):
    a, x = make_layout(rng, dtype, layout, "ties")
    xf, ax = flat_axis(x, axis)
    got = mx.partition(a, kth, axis=axis)
    assert dtype_name(got.dtype) == dtype
    check_partitioned(to_numpy(got), xf, kth, ax)
    idx = mx.argpartition(a, kth, axis=axis)
    assert idx.dtype == mx.uint32
    idx = to_numpy(idx).astype(np.int64)
    ar = np.arange(xf.shape[ax]).reshape([-1 if i == ax else 1 for i in range(xf.ndim)])
    np.testing.assert_array_equal(np.sort(idx, axis=ax), np.broadcast_to(ar, idx.shape))
    check_partitioned(np.take_along_axis(xf, idx, axis=ax), xf, kth, ax)


def test_partition_nan_is_largest():
    got = to_numpy(mx.partition(mx.array([3.0, NAN, 1.0, 5.0, 2.0]), 3))
    assert got[3] == 5.0 and np.isnan(got[4])
    assert sorted(got[:3]) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("fn", [mx.partition, mx.argpartition])
def test_partition_kth_range(fn):
    a = mx.array([3, 1, 2])
    for kth in (-3, -1, 0, 2):
        mx.eval(fn(a, kth))
    for kth in (3, -4):
        with pytest.raises(ValueError):
            fn(a, kth)
    with pytest.raises(ValueError):
        fn(mx.zeros((3, 0)), 0)
    with pytest.raises(IndexError):
        fn(mx.array(1.0), 0)
    assert fn(mx.array(1.0), 0, axis=None).shape == (1,)
    with pytest.raises(TypeError):
        fn(a, 1.5)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_topk(dtype, axis, k, layout, rng):
    a, x = make_layout(rng, dtype, layout, "ties")
    xf, ax = flat_axis(x, axis)
    got = mx.topk(a, k, axis=axis)
    assert dtype_name(got.dtype) == dtype
    # The k largest, in no particular order.
    n = xf.shape[ax]
    expected = np.take(np.sort(xf, axis=ax), range(n - k, n), axis=ax)
    np.testing.assert_array_equal(np.sort(to_numpy(got), axis=ax), expected)


def test_topk_details():
    assert to_numpy(mx.topk(mx.array([[1, 5, 3], [4, 0, 9]]), 1)).tolist() == [[5], [9]]
    got = mx.topk(mx.array([[1, 5, 3], [4, 0, 9]]), 2, axis=None)
    assert sorted(to_numpy(got).tolist()) == [5, 9]
    got = to_numpy(mx.topk(mx.array([3.0, NAN, 1.0, 5.0]), 2))
    assert np.isnan(got).sum() == 1 and 5.0 in got  # NaN counts as largest
    a = mx.array([1, 2, 3])
    for k in (4, -1):
        with pytest.raises(ValueError):
            mx.topk(a, k)
    with pytest.raises(IndexError):
        mx.topk(mx.array(3.0), 1)
    assert to_numpy(mx.topk(mx.array(3.0), 1, axis=None)).tolist() == [3.0]
    assert mx.topk(mx.zeros((3, 0)), 0).shape == (3, 0)


# ---- searchsorted ----------------------------------------------------------

@requires("searchsorted")
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_searchsorted(dtype, side, rng):
    seq, s = make(rng, dtype, (12,), "ties")
    seq = mx.sort(seq)
    s = np.sort(s)
    vals, v = make(rng, dtype, (3, 4), "small")
    got = mx.searchsorted(seq, vals, side=side)
    check_exact(got, np.searchsorted(s, v, side=side), "uint32")
    # Strided sequence and transposed values.
    got = mx.searchsorted(seq[::2], vals.T, side=side)
    check_exact(got, np.searchsorted(s[::2], v.T, side=side), "uint32")


@requires("searchsorted")
def test_searchsorted_special_cases_and_errors():
    seq = mx.array([1, 2, 2, 4])
    got = mx.searchsorted(seq, mx.array(2))
    assert got.shape == () and to_numpy(got) == 1
    # NaN sorts last, so it goes after everything but NaNs.
    fseq = mx.array([1.0, 2.0, NAN])
    vals = mx.array([NAN, 3.0, INF])
    check_exact(mx.searchsorted(fseq, vals), [2, 2, 2], "uint32")
    check_exact(mx.searchsorted(fseq, vals, side="right"), [3, 2, 2], "uint32")
    # Operands are compared in their promoted type.
    half = mx.array([0.1, 0.2, 0.3], dtype=mx.float16)
    check_exact(mx.searchsorted(half, mx.array([0.2])), [2], "uint32")
    small = mx.array([1, 2, 3], dtype=mx.int8)
    check_exact(mx.searchsorted(small, mx.array([200, -200])), [3, 0], "uint32")
    check_exact(mx.searchsorted(mx.zeros((0,)), mx.array([0.0, 1.0])), [0, 0], "uint32")
    assert mx.searchsorted(seq, mx.zeros((0, 2))).shape == (0, 2)
    with pytest.raises(ValueError):
        mx.searchsorted(seq, mx.array([1]), side="middle")
    for bad in (mx.ones((2, 2)), mx.array(1)):
        with pytest.raises(ValueError):
            mx.searchsorted(bad, mx.array([1]))
    with pytest.raises(TypeError):
        mx.searchsorted(seq, 2)


# ---- median ----------------------------------------------------------------

MEDIAN_AXES = [None, 0, 1, -1, (0, 2), (1, -1)]


@requires("median")
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", MEDIAN_AXES, ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_median(dtype, axis, keepdims, rng):
    a, x = make_layout(rng, dtype, "transposed", "small")
    got = mx.median(a, axis=axis, keepdims=keepdims)
    out = _float_out(dtype)
    assert dtype_name(got.dtype) == out
    wide = x.astype(np.complex128 if dtype == "complex64" else np.float64)
    expected = np.median(wide, axis=axis, keepdims=keepdims)
    got_np = to_numpy(got)
    assert got_np.shape == expected.shape
    np.testing.assert_allclose(got_np, expected, *tolerance(out))


@requires("median")
def test_median_special_values_and_errors():
    def med(values, dtype=mx.float32, **kw):
        return to_numpy(mx.median(mx.array(values, dtype=dtype), **kw))

    assert np.isnan(med([1.0, NAN, 3.0]))
    np.testing.assert_array_equal(med([[1.0, NAN], [2.0, 5.0]], axis=1), [NAN, 3.5])
    assert med([1.0, 2.0, INF, INF]) == INF
    assert med([1.0, 2.0, -INF, INF]) == 1.5
    # Integers are converted to float before averaging: no overflow.
    assert med([250, 252], mx.uint8) == 251.0
    assert med([2**31 - 1] * 2, mx.int32) == np.float32(2**31 - 1)
    assert med([True, False, True, False], mx.bool_) == 0.5
    got = mx.median(mx.array(3.0))
    assert got.shape == () and to_numpy(got) == 3.0
    assert mx.median(mx.zeros((0, 3)), axis=1).shape == (0,)
    with pytest.raises(ValueError):
        mx.median(mx.zeros((0,)))
    with pytest.raises(ValueError):
        mx.median(mx.zeros((3, 0)), axis=1)
    for axis in (2, -3):
        with pytest.raises(IndexError):
            mx.median(mx.ones((2, 3)), axis=axis)
    with pytest.raises(ValueError):
        mx.median(mx.ones((2, 3)), axis=(0, -2))


# ---- cumsum / cumprod / cummax / cummin / logcumsumexp ---------------------

def _extreme(sign):
    """Identity of exclusive cummax (sign=-1) / cummin (+1): the dtype's limit."""
    def identity(dtype):
        if dtype == "bool_":
            return sign > 0
        if dtype in INT_DTYPES:
            return np.iinfo(dtype).max if sign > 0 else np.iinfo(dtype).min
        return complex(sign * INF, sign * INF) if dtype == "complex64" else sign * INF

    return identity


def _wide(x):
    return x.astype({"c": np.complex128, "f": np.float64}.get(x.dtype.kind, x.dtype))


def _acc_sum(x, axis):
    return np.cumsum(x.astype(np.int32) if x.dtype == np.bool_ else _wide(x), axis=axis)


def _acc_prod(x, axis):
    if x.dtype == np.bool_:  # bool stays bool: a running logical and
        return np.logical_and.accumulate(x, axis=axis)
    return np.cumprod(_wide(x), axis=axis)


def _acc_logsumexp(x, axis):
    if x.dtype.kind == "c":
        return np.log(np.cumsum(np.exp(x.astype(np.complex128)), axis=axis))
    return np.logaddexp.accumulate(x.astype(np.float64), axis=axis)


# name: (accumulate(x, axis), identity(out dtype), out dtype rule, data kind)
SCANS = {
    "cumsum": (_acc_sum, lambda d: 0, lambda d: "int32" if d == "bool_" else d, "small"),
    "cumprod": (_acc_prod, lambda d: 1, lambda d: d, "pow2"),
    "cummax": (np.maximum.accumulate, _extreme(-1), lambda d: d, "small"),
    "cummin": (np.minimum.accumulate, _extreme(1), lambda d: d, "small"),
    "logcumsumexp": (_acc_logsumexp, lambda d: -INF, _float_out, "real"),
}


def scan_reference(op, x, axis, reverse, inclusive, out):
    acc, identity = SCANS[op][0], SCANS[op][1]
    x, axis = flat_axis(x, axis)
    if reverse:
        x = np.flip(x, axis)
    y = acc(x, axis)
    if not inclusive:
        first = np.full_like(np.take(y, [0], axis=axis), identity(out))
        y = np.concatenate([first, np.take(y, range(y.shape[axis] - 1), axis=axis)], axis)
    if reverse:
        y = np.flip(y, axis)
    return y


def check_scan(op, got, expected, out):
    assert dtype_name(got.dtype) == out
    got_np = to_numpy(got)
    assert got_np.shape == expected.shape
    if op != "logcumsumexp":  # exact data: every partial result is representable
        np.testing.assert_array_equal(got_np, expected.astype(got_np.dtype))
    else:
        rtol, atol = tolerance(out)
        if out == "float64":
            rtol, atol = 2e-6, 2e-7  # MLX's CPU float64 exp is float32-accurate
        np.testing.assert_allclose(got_np, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("op", list(SCANS))
def test_scan(op, dtype, axis, reverse, inclusive, rng):
    a, x = make(rng, dtype, (3, 4, 5), SCANS[op][3])
    out = SCANS[op][2](dtype)
    got = getattr(mx, op)(a, axis=axis, reverse=reverse, inclusive=inclusive)
    check_scan(op, got, scan_reference(op, x, axis, reverse, inclusive, out), out)


@pytest.mark.parametrize("layout", ["transposed", "strided"])
@pytest.mark.parametrize("dtype", ["int32", "float16", "float32"])
@pytest.mark.parametrize("op", list(SCANS))
def test_scan_non_contiguous(op, dtype, layout, rng):
    a, x = make_layout(rng, dtype, layout, SCANS[op][3])
    out = SCANS[op][2](dtype)
    for axis, reverse in [(0, False), (1, True), (-1, False)]:
        got = getattr(mx, op)(a, axis=axis, reverse=reverse)
        check_scan(op, got, scan_reference(op, x, axis, reverse, True, out), out)


@pytest.mark.parametrize("op", ["cumsum", "cummax"])
def test_scan_long_axis(op, rng):
    a, x = make(rng, "float32", (2, 3000))
    for arr, ref, axis in [(a, x, 0), (a, x, 1), (a.T, x.T, 0)]:
        for reverse in (False, True):
            got = getattr(mx, op)(arr, axis=axis, reverse=reverse)
            expected = scan_reference(op, ref, axis, reverse, True, "float32")
            check_scan(op, got, expected, "float32")


def test_many_lines_split_over_threads(rng):
    # Enough lines of work to split over the thread pool, in layouts whose
    # other axes collapse to one run of lines (contiguous) or to several
    # (every other row of a 3-D array): chunks then start mid-run.
    a, x = make(rng, "float32", (3, 100, 1000), "real")
    for arr, ref in [(a, x), (a[:, ::2, :], x[:, ::2, :]), (mx.swapaxes(a, 1, 2), x.swapaxes(1, 2))]:
        np.testing.assert_array_equal(to_numpy(mx.sort(arr, axis=-1)), np.sort(ref, axis=-1))
        np.testing.assert_array_equal(to_numpy(mx.argmax(arr, axis=-1)), np.argmax(ref, axis=-1))
        check_scan("cummax", mx.cummax(arr, axis=-1), scan_reference("cummax", ref, -1, False, True, "float32"),
                   "float32")


def test_scan_integer_wraps_in_input_dtype():
    # Unlike sum, cumsum keeps small integer dtypes and wraps.
    got = mx.cumsum(mx.array([100, 100, 100], dtype=mx.int8))
    check_exact(got, [100, -56, 44], "int8")
    check_exact(mx.cumsum(mx.array([200, 100], dtype=mx.uint8)), [200, 44], "uint8")
    check_exact(mx.cumprod(mx.array([16, 16], dtype=mx.uint8)), [16, 0], "uint8")


def test_scan_dtype_argument():
    a = mx.array([100, 100, 100], dtype=mx.int8)
    check_exact(mx.cumsum(a, dtype=mx.int32), [100, 200, 300], "int32")
    got = mx.cumprod(mx.array([1, 2, 3], dtype=mx.int8), dtype=mx.float32)
    check_exact(got, [1, 2, 6], "float32")
    # The input is cast first, then scanned.
    check_exact(mx.cumsum(mx.array([1.5, 2.7]), dtype=mx.int32), [1, 3], "int32")
    check_exact(mx.cumsum(mx.array([True, True]), dtype=mx.bool_), [1, 2], "int32")
    b = mx.array([True, True, False, True])
    check_exact(mx.cumprod(b), [True, True, False, False], "bool_")
    check_exact(mx.cumprod(b, dtype=mx.int32), [1, 1, 0, 0], "int32")


@pytest.mark.parametrize("op", ["cumsum", "cummax", "cummin", "logcumsumexp"])
def test_scan_propagates_nan(op):
    got = to_numpy(getattr(mx, op)(mx.array([1.0, NAN, 3.0, 0.0])))
    assert got[0] == 1.0 and np.isnan(got[1:]).all()


def test_logcumsumexp_stability():
    def lcse(values, **kw):
        return to_numpy(mx.logcumsumexp(mx.array(values), **kw))

    np.testing.assert_allclose(lcse([1000.0, 1000.0]), [1000.0, 1000.0 + np.log(2)])
    np.testing.assert_array_equal(lcse([-INF, -INF, 0.0]), [-INF, -INF, 0.0])
    np.testing.assert_array_equal(lcse([INF, 1.0]), [INF, INF])
    got = lcse([0.0, 1.0, 2.0], inclusive=False)
    np.testing.assert_allclose(got, [-INF, 0.0, np.log1p(np.e)], rtol=1e-6)


@pytest.mark.parametrize("op", list(SCANS))
def test_scan_shapes_and_errors(op):
    fn = getattr(mx, op)
    got = fn(mx.array(3.0))  # 0-d with axis=None flattens
    assert got.shape == (1,)
    for axis in (0, 1):
        assert fn(mx.zeros((0, 3)), axis=axis).shape == (0, 3)
    assert fn(mx.zeros((0, 3))).shape == (0,)
    for a, axis in [(mx.ones((2, 2)), 2), (mx.ones((2, 2)), -3), (mx.array(3.0), 0)]:
        with pytest.raises(IndexError):
            fn(a, axis=axis)
    with pytest.raises(TypeError):
        fn(mx.ones((2, 2)), axis=(0, 1))


# ---- diff ------------------------------------------------------------------

@requires("diff")
@pytest.mark.parametrize("n", [0, 1, 2, 5])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_diff(dtype, axis, n, rng):
    a, x = make_layout(rng, dtype, "transposed", "small")
    # NumPy also uses != for bool and wraps unsigned differences.
    check_exact(mx.diff(a, n=n, axis=axis), np.diff(x, n=n, axis=axis), dtype)


@requires("diff")
def test_diff_defaults_and_errors():
    check_exact(mx.diff(mx.array([[1, 4, 9], [16, 25, 36]])), [[3, 5], [9, 11]], "int32")
    check_exact(mx.diff(mx.array([True, False, False, True]), n=2), [True, True], "bool_")
    check_exact(mx.diff(mx.array([1, 0], dtype=mx.uint8)), [255], "uint8")
    assert mx.diff(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    with pytest.raises(ValueError):
        mx.diff(mx.array([1, 2]), n=-1)
    for a, axis in [(mx.ones((2, 2)), 2), (mx.ones((2, 2)), -3), (mx.array(3), -1)]:
        with pytest.raises(IndexError):
            mx.diff(a, axis=axis)
    with pytest.raises(TypeError):
        mx.diff(mx.array([1, 2]), n=1.0)


# ---- unique --------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int32", "uint8", "float32", "float16", "int64"])
def test_unique_against_numpy(dtype, rng):
    x = rng.integers(0, 7, size=(4, 5)).astype(dtype)
    a = mx.array(x)
    vals, idx, inv, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    k = len(vals)
    for size in (k, k + 3):
        got_v, got_i, got_inv, got_c = mx.unique(a, size, return_index=True, return_inverse=True,
                                                 return_counts=True, fill_value=-1 if dtype != "uint8" else 99)
        np.testing.assert_array_equal(to_numpy(got_v)[:k], vals)
        np.testing.assert_array_equal(to_numpy(got_i)[:k], idx)
        np.testing.assert_array_equal(to_numpy(got_inv), inv.reshape(x.shape))
        np.testing.assert_array_equal(to_numpy(got_c), np.concatenate([counts, np.zeros(size - k, int)]))
        assert got_i.dtype == mx.uint32 and got_inv.dtype == mx.uint32 and got_c.dtype == mx.int32


def test_unique_padding_truncation_and_errors():
    a = mx.array([3, 1, 3, 2, 1])
    assert mx.unique(a, 5).tolist() == [1, 2, 3, 1, 1]  # padded with the smallest value
    assert mx.unique(a, 2).tolist() == [1, 2]  # the smallest `size` values
    v, i = mx.unique(a, 4, return_index=True, fill_value=-1)
    assert v.tolist() == [1, 2, 3, -1] and i.tolist() == [1, 3, 0, 1]
    got = mx.unique(mx.array([1.0, NAN, 2.0, NAN]), 4, return_counts=True)
    assert np.isnan(to_numpy(got[0])[2:]).all() and got[1].tolist() == [1, 1, 1, 1]  # each NaN apart
    assert mx.unique(mx.zeros((0,)), 3, fill_value=5).tolist() == [5.0, 5.0, 5.0]
    with pytest.raises(ValueError):
        mx.unique(a, -1)
    with pytest.raises(ValueError):
        mx.unique(mx.zeros((0,)), 2)  # nothing to pad with
