"""Array creation: mx.array, arange/linspace, full/zeros/ones(_like), eye & co.,
meshgrid, copies, astype, view, contiguous and as_strided."""

import array as pyarray
import copy

import numpy as np
import pytest

from conftest import NP, ALL_DTYPES, BACKEND, FLOAT_DTYPES, mx, to_numpy, dt

# NumPy dtype with the same bits, for comparing raw memory (bfloat16 has no NumPy twin).
BITS = {**NP, "bfloat16": np.uint16}


def rand_np(rng, shape, name, nonneg=False):
    if name == "bool_":
        return rng.random(shape) > 0.5
    if name.startswith("uint"):
        return rng.integers(0, 100, shape).astype(NP[name])
    if name.startswith("int"):
        return rng.integers(0 if nonneg else -50, 50, shape).astype(NP[name])
    x = rng.standard_normal(shape) * 10
    x = np.abs(x) if nonneg else x
    if name == "complex64":
        return (x + 1j * rng.standard_normal(shape)).astype(np.complex64)
    return x.astype(NP[name])


def rand_mx(rng, shape, name, nonneg=False):
    """(mx array of dtype `name`, its exact value as a NumPy array)."""
    a = mx.array(rand_np(rng, shape, name, nonneg), dtype=dt(name))
    return a, to_numpy(a)


# ---------------------------------------------------------------- mx.array from Python


@pytest.mark.parametrize(
    "value, dtype, shape",
    [
        (1, "int32", ()), (1.5, "float32", ()), (True, "bool_", ()), (1 + 2j, "complex64", ()),
        ([1, 2], "int32", (2,)), ((1, 2), "int32", (2,)), ([1, 2.5], "float32", (2,)),
        ([True, 2], "int32", (2,)), ([True, False], "bool_", (2,)), ([1, 2j], "complex64", (2,)),
        ([[1, 2], [3.5, 4]], "float32", (2, 2)), ([[[1]]], "int32", (1, 1, 1)),
        ([], "float32", (0,)), ([[]], "float32", (1, 0)), (2**40, "int64", ()),
        ([1, 2**40], "int64", (2,)), (-(2**31) - 1, "int64", ()), (2**31, "int64", ()),
        (float("nan"), "float32", ()),
    ],
)  # fmt: skip
def test_array_from_python_inference(value, dtype, shape):
    a = mx.array(value)
    assert a.dtype == dt(dtype)
    assert a.shape == shape
    expected = np.array(value, dtype=NP[dtype])
    np.testing.assert_array_equal(to_numpy(a), expected)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_array_from_python_with_dtype(name):
    a = mx.array([[0, 1, 2], [3, 4, 5]], dtype=dt(name))
    assert a.dtype == dt(name) and a.shape == (2, 3)
    np.testing.assert_array_equal(
        to_numpy(a), np.arange(6).reshape(2, 3).astype(NP[name])
    )
    assert mx.array(3, dt(name)).dtype == dt(name)  # dtype is also positional


def test_array_from_python_conversions():
    np.testing.assert_array_equal(
        np.array(mx.array([1.7, -1.7], dtype=mx.int32)), [1, -1]
    )
    np.testing.assert_array_equal(
        np.array(mx.array([-1, 300], dtype=mx.uint8)), [255, 44]
    )
    np.testing.assert_array_equal(
        np.array(mx.array([True, False], mx.float32)), [1.0, 0.0]
    )
    assert mx.array(1 + 2j, dtype=mx.float32).item() == 1.0
    assert mx.array(2.5, dtype=mx.complex64).item() == 2.5 + 0j
    assert mx.array(1.5, dtype=mx.float64).item() == 1.5


def test_array_from_list_of_arrays():
    a = mx.array([mx.array([1.0, 2.0]), mx.array([3, 4])])
    assert a.dtype == mx.float32 and a.tolist() == [[1, 2], [3, 4]]
    b = mx.array([mx.array([1, 2], mx.int8), mx.array([3, 4], mx.int16)])
    assert b.dtype == mx.int16 and b.tolist() == [[1, 2], [3, 4]]
    # Python ints inside a list count as int32, not as weak scalars.
    assert mx.array([mx.array(1, mx.int8), 2]).dtype == mx.int32
    assert mx.array([1, mx.array(2.5)]).dtype == mx.float32
    assert mx.array([mx.array([1, 2]), [3, 4]]).tolist() == [[1, 2], [3, 4]]
    c = mx.array(mx.array([1, 2]), dtype=mx.float16)
    assert c.dtype == mx.float16 and c.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "value, exc",
    [
        ([[1, 2], [3]], ValueError), ([1, [2]], ValueError), ([[1], 2], ValueError),
        ("abc", ValueError), ([1, "a"], ValueError), (None, TypeError),
    ],
)  # fmt: skip
def test_array_from_python_errors(value, exc):
    with pytest.raises(exc):
        mx.array(value)


def test_array_from_ragged_arrays_error():
    with pytest.raises(ValueError):
        mx.array([mx.array([1, 2]), mx.array([3])])


# ---------------------------------------------------------------- mx.array from NumPy & buffers

NP_SOURCES = [
    (np.bool_, "bool_"), (np.uint8, "uint8"), (np.uint16, "uint16"), (np.uint32, "uint32"),
    (np.uint64, "uint64"), (np.int8, "int8"), (np.int16, "int16"), (np.int32, "int32"),
    (np.int64, "int64"), (np.float16, "float16"), (np.float32, "float32"),
    (np.float64, "float32"), (np.complex64, "complex64"), (np.complex128, "complex64"),
]  # fmt: skip


@pytest.mark.parametrize("np_dtype, name", NP_SOURCES)
@pytest.mark.parametrize(
    "layout", ["contig", "0d", "empty", "transposed", "stepped", "broadcast"]
)
def test_array_from_numpy(rng, np_dtype, name, layout):
    # MLX turns float64 -> float32 and complex128 -> complex64 unless dtype= asks otherwise.
    gen = {np.float64: "float64", np.complex128: "complex64"}.get(np_dtype, name)
    base = rand_np(rng, (4, 6), gen).astype(np_dtype)
    src = {
        "contig": base, "0d": base[1, 2].reshape(()), "empty": base[:0],
        "transposed": base.T, "stepped": base[::2, 1::3],
        "broadcast": np.broadcast_to(base[:1], (3, 6)),
    }[layout]  # fmt: skip
    a = mx.array(src)
    assert a.dtype == dt(name)
    assert a.shape == src.shape
    np.testing.assert_array_equal(np.array(a), src.astype(NP[name]))


def test_array_from_numpy_scalars():
    assert mx.array(np.float32(2.5)).dtype == mx.float32
    assert mx.array(np.float64(2.5)).dtype == mx.float32
    assert mx.array(np.float16(1.5)).dtype == mx.float16
    assert mx.array(np.int64(3)).dtype == mx.int64
    assert mx.array(np.uint8(3)).dtype == mx.uint8
    assert mx.array(np.bool_(True)).item() is True
    assert mx.array(np.complex64(1j)).item() == 1j


def test_array_from_numpy_with_dtype(rng):
    src = rng.standard_normal((3, 4))
    a = mx.array(src, dtype=mx.float64)
    assert a.dtype == mx.float64
    np.testing.assert_array_equal(np.array(a), src)
    b = mx.array(src, dtype=mx.float16)
    assert b.dtype == mx.float16
    np.testing.assert_array_equal(np.array(b), src.astype(np.float16))
    c = mx.array(np.array([1.9, -1.9]), dtype=mx.int32)
    np.testing.assert_array_equal(np.array(c), [1, -1])


def test_array_from_numpy_is_a_copy():
    src = np.arange(3, dtype=np.int32)
    a = mx.array(src)
    src[0] = 9
    assert a.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "make, dtype, values",
    [
        (lambda: b"abc", "uint8", [97, 98, 99]),
        (lambda: bytearray(b"ab"), "uint8", [97, 98]),
        (lambda: memoryview(b"xyz"), "uint8", [120, 121, 122]),
        (lambda: memoryview(np.arange(3, dtype=np.int16)), "int16", [0, 1, 2]),
        (lambda: memoryview(np.arange(6, dtype=np.int32)[::2]), "int32", [0, 2, 4]),
        (lambda: memoryview(np.arange(4, dtype=np.float64)), "float32", [0, 1, 2, 3]),
        (lambda: pyarray.array("h", [1, -2]), "int16", [1, -2]),
        (lambda: pyarray.array("q", [5, 6]), "int64", [5, 6]),
        (lambda: pyarray.array("d", [1.5, 2.0]), "float32", [1.5, 2.0]),
    ],
)
def test_array_from_buffer(make, dtype, values):
    a = mx.array(make())
    assert a.dtype == dt(dtype)
    assert a.tolist() == values


def test_array_from_2d_buffer_and_copy_semantics():
    a = mx.array(memoryview(np.arange(6, dtype=np.float32).reshape(2, 3)))
    assert a.shape == (2, 3) and a.tolist() == [[0, 1, 2], [3, 4, 5]]
    buf = bytearray(b"abc")
    b = mx.array(buf)
    buf[0] = 0
    assert b.tolist() == [97, 98, 99]


# ---------------------------------------------------------------- arange / linspace


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((5,), {}), ((2, 7), {}), ((2, 7, 2), {}), ((7, 2, -2), {}), ((10, 0, -1), {}),
        ((5, 2), {}), ((0,), {}), ((-3,), {}), ((5.0,), {}), ((0.5, 3), {}),
        ((0, 1, 0.25), {}), ((1, 0, -0.3), {}), ((0, 1, 0.1), {}), ((0.5, 10.2, 0.7), {}),
        ((-1.5, 2.5, 0.25), {}), ((0.001, 1.0, 0.013), {}), ((0, 5, 1.0), {}),
        ((), {"start": 1, "stop": 4}), ((), {"stop": 4}), ((2, 7), {"step": 2}),
        ((2**31, 2**31 + 3), {}),
    ],
)  # fmt: skip
def test_arange_forms(args, kwargs):
    a = mx.arange(*args, **kwargs)
    vals = list(args) + [kwargs[k] for k in ("start", "stop", "step") if k in kwargs]
    is_float = any(isinstance(v, float) for v in vals)
    big = any(abs(v) >= 2**31 for v in vals)
    assert a.dtype == (mx.float32 if is_float else mx.int64 if big else mx.int32)
    start = kwargs.get("start", args[0] if len(args) > 1 else 0)
    stop = kwargs.get("stop", args[1] if len(args) > 1 else args[0] if args else None)
    step = kwargs.get("step", args[2] if len(args) > 2 else 1)
    expected = np.arange(start, stop, step, dtype=np.float32 if is_float else np.int64)
    assert a.shape == expected.shape
    np.testing.assert_allclose(np.array(a), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in ALL_DTYPES if n != "bool_"])
def test_arange_dtype(name):
    a = mx.arange(0, 10, 2, dtype=dt(name))
    assert a.dtype == dt(name)
    np.testing.assert_array_equal(to_numpy(a), np.arange(0, 10, 2).astype(NP[name]))
    b = (
        mx.arange(1, 0, -0.25, dt(name))
        if name in FLOAT_DTYPES
        else mx.arange(6, 0, -2, dt(name))
    )
    expected = np.arange(1, 0, -0.25) if name in FLOAT_DTYPES else np.arange(6, 0, -2)
    np.testing.assert_array_equal(to_numpy(b), expected.astype(NP[name]))


def test_arange_errors():
    with pytest.raises(ValueError):
        mx.arange(0, 5, 0)
    with pytest.raises(ValueError):
        mx.arange(5, dtype=mx.bool_)


@pytest.mark.parametrize(
    "start, stop, num",
    [(0, 1, 5), (0, 1, 7), (-3, 5, 100), (5, -5, 11), (1, 1, 4), (0, 1, 1), (0, 1, 0)],
)
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace(start, stop, num, endpoint):
    a = mx.linspace(start, stop, num, endpoint=endpoint)
    assert a.dtype == mx.float32
    expected = np.linspace(start, stop, num, endpoint=endpoint, dtype=np.float32)
    assert a.shape == expected.shape
    np.testing.assert_allclose(np.array(a), expected, rtol=1e-6, atol=1e-6)


def test_linspace_default_num_and_dtype():
    assert mx.linspace(0, 1).shape == (50,)
    np.testing.assert_array_equal(
        np.array(mx.linspace(0, 10, 5, dtype=mx.int32)), [0, 2, 5, 7, 10]
    )
    a = mx.linspace(0, 1, 3, dtype=mx.float64)
    assert a.dtype == mx.float64 and a.tolist() == [0.0, 0.5, 1.0]
    assert mx.linspace(0, 1, 3, dtype=mx.float16).dtype == mx.float16
    with pytest.raises(ValueError):
        mx.linspace(0, 1, -1)


# ---------------------------------------------------------------- full / zeros / ones / *_like


@pytest.mark.parametrize(
    "vals, dtype", [(7, "int32"), (7.5, "float32"), (True, "bool_"), (1j, "complex64")]
)
def test_full_infers_dtype(vals, dtype):
    a = mx.full((2, 3), vals)
    assert a.dtype == dt(dtype) and a.shape == (2, 3)
    np.testing.assert_array_equal(np.array(a), np.full((2, 3), vals, dtype=NP[dtype]))


# bool is left out: an int value with dtype=bool gives int32 (test_full_dtype_quirks).
@pytest.mark.parametrize("name", [n for n in ALL_DTYPES if n != "bool_"])
def test_full_int_value_with_dtype(name):
    a = mx.full((3,), 3, dtype=dt(name))
    assert a.dtype == dt(name)
    np.testing.assert_array_equal(to_numpy(a), np.full((3,), 3, dtype=NP[name]))


def test_full_shapes_and_array_values(rng):
    assert mx.full(3, 2).shape == (3,)
    assert mx.full([2], 1).shape == (2,)
    assert mx.full((), 3).shape == ()
    assert mx.full((0, 2), 3).shape == (0, 2)
    row = rng.standard_normal(4).astype(np.float32)
    a = mx.full((3, 4), mx.array(row))
    np.testing.assert_array_equal(np.array(a), np.broadcast_to(row, (3, 4)))
    b = mx.full((2,), mx.array(2, mx.int8))
    assert b.dtype == mx.int8 and b.tolist() == [2, 2]
    c = mx.full((2, 2), 1.5, dtype=mx.float16)
    assert c.dtype == mx.float16 and c.tolist() == [[1.5, 1.5], [1.5, 1.5]]


def test_full_dtype():
    if BACKEND == "mlx":
        # MLX 0.32: dtype= only steers how a Python scalar is converted: a float
        # value with a non-floating dtype stays float32, and an array value
        # ignores dtype altogether.
        assert mx.full((2,), 3.7, dtype=mx.int32).dtype == mx.float32
        assert mx.full((2,), 2.5, dtype=mx.complex64).dtype == mx.float32
        assert mx.full((2,), 3, dtype=mx.bool_).dtype == mx.int32
        assert mx.full((2,), 1j, dtype=mx.float32).dtype == mx.complex64
        assert mx.full((2,), mx.array(3), dtype=mx.float32).dtype == mx.int32
        assert mx.full((2,), True, dtype=mx.float16).dtype == mx.float16
        return
    # lmx does what MLX's documentation says: the result has dtype.
    a = mx.full((2,), 3.7, dtype=mx.int32)
    assert a.dtype == mx.int32 and a.tolist() == [3, 3]
    b = mx.full((2,), 2.5, dtype=mx.complex64)
    assert b.dtype == mx.complex64 and b.tolist() == [2.5 + 0j] * 2
    assert mx.full((2,), 3, dtype=mx.bool_).tolist() == [True, True]
    c = mx.full((2,), mx.array(3), dtype=mx.float32)
    assert c.dtype == mx.float32 and c.tolist() == [3.0, 3.0]
    assert mx.full((2,), True, dtype=mx.float16).tolist() == [1.0, 1.0]


def test_full_errors():
    with pytest.raises(ValueError):
        mx.full((-1,), 1)
    with pytest.raises(ValueError):
        mx.full((2, 3), mx.array([1, 2]))
    with pytest.raises(ValueError):
        mx.full((2,), 300, dtype=mx.int8)
    with pytest.raises(ValueError):
        mx.full((2,), "x")


@pytest.mark.parametrize("name", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (2, 3)])
def test_zeros_ones(name, shape):
    z, o = mx.zeros(shape, dt(name)), mx.ones(shape, dtype=dt(name))
    assert z.dtype == o.dtype == dt(name)
    np.testing.assert_array_equal(to_numpy(z), np.zeros(shape, NP[name]))
    np.testing.assert_array_equal(to_numpy(o), np.ones(shape, NP[name]))


def test_zeros_ones_defaults_and_errors():
    assert mx.zeros(3).dtype == mx.float32 and mx.zeros(3).shape == (3,)
    assert mx.ones([2, 2]).shape == (2, 2)
    with pytest.raises(ValueError):
        mx.zeros((-2,))
    with pytest.raises(ValueError):
        mx.ones((2, -1))


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_like_functions(rng, name):
    base, _ = rand_mx(rng, (3, 4), name)
    for x in (
        base,
        base.T,
        base[::2, 1::2],
        base[1, 1],
        mx.broadcast_to(base[:1], (2, 4)),
    ):
        z, o, f = mx.zeros_like(x), mx.ones_like(x), mx.full_like(x, 1)
        for a, v in ((z, 0), (o, 1), (f, 1)):
            assert a.dtype == x.dtype and a.shape == x.shape
            np.testing.assert_array_equal(to_numpy(a), np.full(x.shape, v, NP[name]))


def test_like_functions_dtype_and_values():
    x = mx.array([1, 2], mx.int8)
    assert mx.zeros_like(x, dtype=mx.float16).dtype == mx.float16
    assert mx.ones_like(x, mx.float32).dtype == mx.float32
    f = mx.full_like(x, 3.5)  # cast into x's dtype
    assert f.dtype == mx.int8 and f.tolist() == [3, 3]
    g = mx.full_like(x, 3.5, dtype=mx.float32)
    assert g.dtype == mx.float32 and g.tolist() == [3.5, 3.5]
    h = mx.full_like(mx.array([1.0, 2.0]), mx.array([5, 6]))
    assert h.dtype == mx.float32 and h.tolist() == [5.0, 6.0]
    with pytest.raises(ValueError):
        mx.full_like(x, 300)


# ---------------------------------------------------------------- eye / identity / tri / tril / triu


@pytest.mark.parametrize(
    "n, m, k",
    [
        (3, None, 0),
        (2, 3, 0),
        (3, 2, -1),
        (3, None, 1),
        (4, 6, 2),
        (3, None, 5),
        (0, None, 0),
        (2, 0, 0),
    ],
)
def test_eye(n, m, k):
    a = mx.eye(n, m, k)
    assert a.dtype == mx.float32
    expected = np.eye(n, m, k, dtype=np.float32)
    assert a.shape == expected.shape
    np.testing.assert_array_equal(np.array(a), expected)
    np.testing.assert_array_equal(np.array(mx.eye(n, m=m, k=k)), expected)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_eye_identity_tri_dtype(name):
    e, i, t = (
        mx.eye(3, dtype=dt(name)),
        mx.identity(3, dt(name)),
        mx.tri(3, 4, -1, dt(name)),
    )
    assert e.dtype == i.dtype == t.dtype == dt(name)
    np.testing.assert_array_equal(to_numpy(e), np.eye(3, dtype=NP[name]))
    np.testing.assert_array_equal(to_numpy(i), np.identity(3, dtype=NP[name]))
    np.testing.assert_array_equal(to_numpy(t), np.tri(3, 4, -1, dtype=NP[name]))


def test_eye_identity_errors():
    with pytest.raises(ValueError):
        mx.eye(-1)
    with pytest.raises(ValueError):
        mx.identity(-1)
    assert mx.identity(0).shape == (0, 0)


@pytest.mark.parametrize(
    "n, m, k", [(3, None, 0), (2, 3, 0), (3, 3, 1), (3, None, -1), (4, 2, 0), (1, 1, 0)]
)
def test_tri(n, m, k):
    a = mx.tri(n, m, k)
    np.testing.assert_array_equal(np.array(a), np.tri(n, m, k, dtype=np.float32))
    assert mx.tri(n, m, k=k).dtype == mx.float32


@pytest.mark.parametrize(
    "name", ["bool_", "int32", "uint8", "float16", "bfloat16", "float32", "complex64"]
)
@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 5])
@pytest.mark.parametrize(
    "layout", ["square", "wide", "batched", "transposed", "stepped"]
)
def test_tril_triu(rng, name, k, layout):
    shape = {"square": (4, 4), "wide": (3, 5), "batched": (2, 3, 4)}.get(layout, (5, 6))
    a, ref = rand_mx(rng, shape, name)
    if layout == "transposed":
        a, ref = a.T, ref.T
    elif layout == "stepped":
        a, ref = a[::2, 1::2], ref[::2, 1::2]
    lo, up = mx.tril(a, k), mx.triu(a, k=k)
    assert lo.dtype == up.dtype == a.dtype
    np.testing.assert_array_equal(to_numpy(lo), np.tril(ref, k))
    np.testing.assert_array_equal(to_numpy(up), np.triu(ref, k))


def test_tril_triu_need_2d():
    with pytest.raises(ValueError):
        mx.tril(mx.arange(3))
    with pytest.raises(ValueError):
        mx.triu(mx.array(1))


# ---------------------------------------------------------------- meshgrid

MESH_INPUTS = [
    ([1, 2, 3], [4, 5]), ([1, 2], [3, 4, 5], [6, 7, 8, 9]), ([1.5, 2.5],), ([[1, 2]], [3]),
    (1, [1, 2]), ([1, 2], [1.5]),
]  # fmt: skip


@pytest.mark.parametrize("inputs", MESH_INPUTS)
@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(inputs, indexing, sparse):
    arrays = [mx.array(x) for x in inputs]
    out = mx.meshgrid(*arrays, indexing=indexing, sparse=sparse)
    expected = np.meshgrid(
        *[np.array(a) for a in arrays], indexing=indexing, sparse=sparse
    )
    assert len(out) == len(expected)
    for o, e, a in zip(out, expected, arrays):
        assert o.dtype == a.dtype and o.shape == e.shape
        np.testing.assert_array_equal(np.array(o), e)


def test_meshgrid_defaults_and_errors():
    a, b = mx.array([1, 2, 3]), mx.array([4, 5])
    x, y = mx.meshgrid(a, b)
    assert x.shape == y.shape == (2, 3)  # xy by default
    assert mx.meshgrid() == ()
    with pytest.raises(ValueError):
        mx.meshgrid(a, b, indexing="xx")


# ---------------------------------------------------------------- copy / astype


@pytest.mark.parametrize("make", [copy.copy, copy.deepcopy, mx.array])
def test_copies_are_independent(make):
    a = mx.array([[1, 2], [3, 4]])
    b = make(a)
    assert b.dtype == a.dtype and b.tolist() == a.tolist()
    b[0, 0] = 9
    assert a.tolist() == [[1, 2], [3, 4]]
    a[1] = 0
    assert b.tolist() == [[9, 2], [3, 4]]


@pytest.mark.parametrize("src", ALL_DTYPES)
@pytest.mark.parametrize("dst", ALL_DTYPES)
def test_astype(rng, src, dst):
    # A negative float -> unsigned conversion is undefined behaviour in C++.
    a, ref = rand_mx(rng, (3, 5), src, nonneg=dst.startswith("uint"))
    for x, r in (
        (a, ref),
        (a.T, ref.T),
        (a[::2, ::-2], ref[::2, ::-2]),
        (a[1, 2], ref[1, 2]),
    ):
        out = x.astype(dt(dst))
        assert out.dtype == dt(dst) and out.shape == r.shape
        expected = (
            r.real
            if (src == "complex64" and dst != "complex64" and dst != "bool_")
            else r
        )
        expected = expected.astype(NP[dst])
        if dst == "bfloat16":
            np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-2, atol=1e-2)
        else:
            np.testing.assert_array_equal(to_numpy(out), expected)


def test_astype_semantics():
    np.testing.assert_array_equal(
        np.array(mx.array([1.7, -1.7, 3.99]).astype(mx.int32)), [1, -1, 3]
    )
    np.testing.assert_array_equal(
        np.array(mx.array([0.5, 0, -2]).astype(mx.bool_)), [True, False, True]
    )
    np.testing.assert_array_equal(
        np.array(mx.array([-1, 300, 70000]).astype(mx.int8)),
        np.array([-1, 300, 70000]).astype(np.int8),
    )
    assert mx.array([2.7 - 1j]).astype(mx.float32).tolist() == [2.700000047683716]
    assert mx.astype(mx.array([1, 2]), mx.float16).dtype == mx.float16
    assert mx.array([1]).astype(dtype=mx.int8).dtype == mx.int8
    assert np.isinf(np.array(mx.array([65520.0]).astype(mx.float16))).all()


# ---------------------------------------------------------------- view


SAME_SIZE = [
    ("uint8", "int8"), ("int16", "uint16"), ("int16", "float16"), ("float16", "bfloat16"),
    ("bfloat16", "int16"), ("int32", "float32"), ("float32", "uint32"), ("int64", "float64"),
    ("float64", "complex64"), ("complex64", "uint64"), ("uint64", "int64"),
]  # fmt: skip
RESIZE = [
    ("uint8", "int16"), ("int8", "float32"), ("uint16", "int64"), ("float16", "complex64"),
    ("int32", "int8"), ("float32", "bfloat16"), ("float64", "uint16"), ("complex64", "float32"),
    ("bfloat16", "uint8"), ("int64", "int32"),
]  # fmt: skip


def bits_mx(rng, shape, name):
    """Array of dtype `name` holding random bits, with those bits as NumPy."""
    raw = rng.integers(
        0, 256, shape[:-1] + (shape[-1] * np.dtype(BITS[name]).itemsize,)
    )
    raw = raw.astype(np.uint8)
    return mx.array(raw).view(dt(name)), raw.view(BITS[name])


def as_bits(a, name):
    """Raw bits of `a` as NumPy, going through an unsigned view (NaN-proof)."""
    unsigned = {1: mx.uint8, 2: mx.uint16, 4: mx.uint32, 8: mx.uint64}[a.itemsize]
    return np.array(a.view(unsigned)).view(BITS[name])


@pytest.mark.parametrize("src, dst", SAME_SIZE + RESIZE)
@pytest.mark.parametrize("layout", ["contig", "transposed", "sliced", "3d"])
def test_view(rng, src, dst, layout):
    shape = (4, 3, 8) if layout == "3d" else (8, 8)
    a, bits = bits_mx(rng, shape, src)
    if layout == "transposed":
        a, bits = a.swapaxes(0, 1), bits.swapaxes(0, 1)
    elif layout == "sliced":
        a, bits = a[::2, :4], bits[::2, :4]
    out = a.view(dt(dst))
    expected = np.ascontiguousarray(bits).view(BITS[dst])
    assert out.dtype == dt(dst) and out.shape == expected.shape
    np.testing.assert_array_equal(as_bits(out, dst), expected)
    np.testing.assert_array_equal(as_bits(mx.view(a, dt(dst)), dst), expected)


def test_view_values_and_errors():
    assert mx.array([1.0]).view(mx.int32).item() == 0x3F800000
    assert mx.array([1, 2], mx.int32).view(mx.int16).tolist() == [1, 0, 2, 0]
    assert mx.array([1, 2, 3, 4], mx.int16).view(mx.int32).tolist() == [131073, 262147]
    assert mx.array([True, False]).view(mx.uint8).tolist() == [1, 0]
    assert mx.array([1 + 2j]).view(mx.float32).tolist() == [1.0, 2.0]
    assert mx.array(1, mx.int32).view(mx.float32).shape == ()
    assert mx.zeros((0,)).view(mx.int8).shape == (0,)
    with pytest.raises(ValueError):
        mx.array([1, 2, 3], mx.int16).view(mx.int32)
    with pytest.raises(ValueError):
        mx.array(1, mx.int32).view(mx.int16)


# ---------------------------------------------------------------- contiguous / as_strided


@pytest.mark.parametrize(
    "name", ["int32", "float16", "bfloat16", "float64", "complex64"]
)
def test_contiguous(rng, name):
    a, ref = rand_mx(rng, (4, 6), name)
    item = a.itemsize
    cases = [
        (a, ref), (a.T, ref.T), (a[::2, 1::2], ref[::2, 1::2]),
        (mx.broadcast_to(a[:1], (3, 6)), np.broadcast_to(ref[:1], (3, 6))),
    ]  # fmt: skip
    for x, r in cases:
        c = mx.contiguous(x)
        assert c.dtype == x.dtype
        np.testing.assert_array_equal(to_numpy(c), r)
        if name != "bfloat16":  # bfloat16 has no PEP 3118 format
            assert memoryview(c).strides == (r.shape[1] * item, item)
    if name != "bfloat16":
        # A column-major array is left alone when allowed.
        assert memoryview(mx.contiguous(a.T, allow_col_major=True)).strides == (
            item,
            6 * item,
        )
        assert memoryview(mx.contiguous(a.T)).strides == (4 * item, item)


@pytest.mark.parametrize(
    "shape, strides, offset",
    [
        ((3, 3), (1, 1), 0),
        ((2, 3), (3, 1), 1),
        ((2, 2), (0, 1), 0),
        ((2,), (1,), 4),
        ((4, 2), (2, 5), 0),
        ((2, 3), (-1, 1), 2),
    ],
)
def test_as_strided(rng, shape, strides, offset):
    base = rng.standard_normal((3, 4)).astype(np.float32)
    for a, ref in (
        (mx.array(base), base),
        (mx.array(base).T, np.ascontiguousarray(base.T)),
    ):
        # The input is read as if it were row contiguous, whatever its layout.
        out = mx.as_strided(a, shape, strides, offset)
        flat = ref.reshape(-1)
        idx = offset + sum(np.indices(shape)[d] * s for d, s in enumerate(strides))
        np.testing.assert_array_equal(np.array(out), flat[idx])


def test_as_strided_defaults():
    a = mx.arange(6).reshape(2, 3)
    assert mx.as_strided(mx.arange(4)).tolist() == [0, 1, 2, 3]
    assert mx.as_strided(a.T).tolist() == [[0, 3], [1, 4], [2, 5]]
    assert mx.as_strided(mx.arange(6), (2, 2)).tolist() == [[0, 1], [2, 3]]
    assert mx.as_strided(mx.arange(6), shape=(2,), strides=(1,), offset=4).tolist() == [
        4,
        5,
    ]
