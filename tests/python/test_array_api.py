"""The array object and dtypes: promotion, categories, finfo/iinfo, constants,
attributes, conversions (item/tolist/NumPy/buffer/DLPack/pickle), repr,
basic indexing and the Python operators."""

import operator
import pickle

import numpy as np
import pytest

from conftest import (
    ALL_DTYPES,
    BACKEND,
    FLOAT_DTYPES,
    INT_DTYPES,
    mx,
    to_numpy,
    tolerance,
    NP,
    dt,
    rand_mx,
)

SIZES = {
    "bool_": 1, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "int8": 1, "int16": 2,
    "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8,
    "complex64": 8,
}  # fmt: skip
NUMERIC = [n for n in ALL_DTYPES if n != "bool_"]


def views(a, ref):
    """A 2-D array and its value as contiguous, transposed, strided, 0-d and empty."""
    return [(a, ref), (a.T, ref.T), (a[::2, ::-1], ref[::2, ::-1]), (a[1, 1], ref[1, 1]), (a[:0], ref[:0])]  # fmt: skip


def assert_close(a, expected, name):
    rtol, atol = tolerance(name)
    assert a.dtype == dt(name), (a.dtype, name)
    assert a.shape == np.shape(expected)
    np.testing.assert_allclose(to_numpy(a), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_dtype_objects(name):
    d = dt(name)
    assert isinstance(d, mx.Dtype)
    assert d.size == SIZES[name]
    assert d == dt(name) and hash(d) == hash(dt(name))
    assert all(d != dt(o) for o in ALL_DTYPES if o != name)
    assert repr(d) == str(d) == f"{mx.__name__}.{name.rstrip('_')}"
    assert mx.zeros((2,), d).dtype == d


# Rows and columns in ALL_DTYPES order; entries are what `row + column` gives.
PROMOTION = """
     b   u8  u16  u32  u64   i8  i16  i32  i64  f16 bf16  f32  f64  c64
b    b   u8  u16  u32  u64   i8  i16  i32  i64  f16 bf16  f32  f64  c64
u8   u8  u8  u16  u32  u64  i16  i16  i32  i64  f16 bf16  f32  f64  c64
u16  u16 u16 u16  u32  u64  i32  i32  i32  i64  f16 bf16  f32  f64  c64
u32  u32 u32 u32  u32  u64  i64  i64  i64  i64  f16 bf16  f32  f64  c64
u64  u64 u64 u64  u64  u64  f32  f32  f32  f32  f16 bf16  f32  f64  c64
i8   i8  i16 i32  i64  f32   i8  i16  i32  i64  f16 bf16  f32  f64  c64
i16  i16 i16 i32  i64  f32  i16  i16  i32  i64  f16 bf16  f32  f64  c64
i32  i32 i32 i32  i64  f32  i32  i32  i32  i64  f16 bf16  f32  f64  c64
i64  i64 i64 i64  i64  f32  i64  i64  i64  i64  f16 bf16  f32  f64  c64
f16  f16 f16 f16  f16  f16  f16  f16  f16  f16  f16  f32  f32  f64  c64
bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 f32 bf16 f32  f64  c64
f32  f32 f32 f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f64  c64
f64  f64 f64 f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  c64
c64  c64 c64 c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64
"""
SHORT = dict(zip(PROMOTION.split("\n")[1].split(), ALL_DTYPES))
TABLE = {
    (SHORT[row[0]], b): SHORT[r]
    for row in (line.split() for line in PROMOTION.strip().split("\n")[1:])
    for b, r in zip(ALL_DTYPES, row[1:])
}


@pytest.mark.parametrize("a", ALL_DTYPES)
@pytest.mark.parametrize("b", ALL_DTYPES)
def test_promotion_table(a, b):
    expected = dt(TABLE[(a, b)])
    assert TABLE[(a, b)] == TABLE[(b, a)]
    assert mx.result_type(dt(a), dt(b)) == expected
    x, y = mx.ones((2,), dt(a)), mx.ones((3, 1), dt(b))
    assert mx.result_type(x, y) == expected
    assert (x + y).dtype == expected and (x * y).shape == (3, 2)
    assert mx.result_type(x, dt(b), mx.zeros((), dt(a))) == expected


def test_result_type_errors():
    assert mx.result_type(mx.int8) == mx.int8
    with pytest.raises(ValueError):
        mx.result_type()
    for bad in (1, 1.5, True, "a"):
        with pytest.raises(ValueError):
            mx.result_type(mx.int8, bad)


def weak_result(name, scalar):
    """dtype of `array(name) op scalar` for + - * with a Python scalar."""
    if isinstance(scalar, bool):
        return name
    if isinstance(scalar, int):
        return "int32" if name == "bool_" else name
    if isinstance(scalar, float):
        return name if name in FLOAT_DTYPES + ["complex64"] else "float32"
    return "complex64"


@pytest.mark.parametrize("name", ALL_DTYPES)
@pytest.mark.parametrize("scalar", [True, 2, 1.5, 1j])
def test_weak_python_scalars(rng, name, scalar):
    a, ref = rand_mx(rng, (5,), name, 0, 10)
    res = weak_result(name, scalar)
    for out, exp in ((a + scalar, ref + scalar), (scalar * a, scalar * ref)):
        assert_close(out, np.asarray(exp).astype(NP[res]), res)
    if not isinstance(scalar, bool) or name != "bool_":
        assert_close(scalar - a, np.asarray(scalar - ref.astype(NP[res])), res)


def test_weak_scalar_examples():
    assert (mx.ones((2,), mx.float16) + 1.0).dtype == mx.float16
    assert (mx.ones((2,), mx.int8) + 1).dtype == mx.int8
    assert (mx.ones((2,), mx.int32) + 1.5).dtype == mx.float32
    assert (mx.ones((2,), mx.int64) + 1.5).dtype == mx.float32
    assert (mx.ones((2,), mx.int8) + np.int64(1)).dtype == mx.int8
    assert (mx.ones((2,), mx.int32) + np.float64(1.5)).dtype == mx.float32
    # 0-d arrays are not weak.
    assert (mx.ones((2,), mx.int8) + mx.array(1)).dtype == mx.int32
    assert (mx.ones((2,), mx.float16) + 1e10).tolist() == [float("inf")] * 2


@pytest.mark.parametrize(
    "name, value", [("int8", 300), ("int8", 200), ("uint8", -1), ("uint8", 2**40)]
)
def test_weak_scalar_overflow(name, value):
    with pytest.raises(ValueError):
        mx.ones((2,), dt(name)) + value


CATEGORIES = [
    "floating",
    "integer",
    "signedinteger",
    "unsignedinteger",
    "complexfloating",
    "number",
    "inexact",
    "generic",
]
IN_CATEGORY = {
    "bool_": {"generic"},
    **{n: {"integer", "unsignedinteger", "number", "generic"} for n in INT_DTYPES if n[0] == "u"},
    **{n: {"integer", "signedinteger", "number", "generic"} for n in INT_DTYPES if n[0] == "i"},
    **{n: {"floating", "inexact", "number", "generic"} for n in FLOAT_DTYPES},
    "complex64": {"complexfloating", "inexact", "number", "generic"},
    "floating": {"floating", "inexact", "number", "generic"},
    "integer": {"integer", "number", "generic"},
    "signedinteger": {"signedinteger", "integer", "number", "generic"},
    "unsignedinteger": {"unsignedinteger", "integer", "number", "generic"},
    "complexfloating": {"complexfloating", "inexact", "number", "generic"},
    "number": {"number", "generic"},
    "inexact": {"inexact", "number", "generic"},
    "generic": {"generic"},
}  # fmt: skip


@pytest.mark.parametrize("name", ALL_DTYPES + CATEGORIES)
def test_issubdtype(name):
    x = getattr(mx, name)
    for cat in CATEGORIES:
        assert mx.issubdtype(x, getattr(mx, cat)) == (cat in IN_CATEGORY[name]), cat
    if name in ALL_DTYPES:
        assert mx.issubdtype(x, x)
        assert all(not mx.issubdtype(x, dt(o)) for o in ALL_DTYPES if o != name)
    else:
        assert not mx.issubdtype(x, mx.float32)


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo(name):
    f, ref = mx.finfo(dt(name)), np.finfo(NP[name])
    assert (f.min, f.max, f.eps) == (float(ref.min), float(ref.max), float(ref.eps))
    assert f.dtype == dt(name) and f.bits == ref.bits
    assert f.smallest_normal == float(ref.smallest_normal)


def test_finfo_bfloat16_complex_and_errors():
    f = mx.finfo(mx.bfloat16)
    assert f.max == -f.min == 3.3895313892515355e38 and f.eps == 2**-7 and f.bits == 16
    c = mx.finfo(mx.complex64)
    assert c.dtype == mx.float32 and c.max == float(np.finfo(np.float32).max)
    assert repr(mx.finfo(mx.float16)) == "finfo(min=-65504, max=65504, dtype=float16)"
    for bad in (mx.int32, mx.bool_):
        with pytest.raises(ValueError):
            mx.finfo(bad)


@pytest.mark.parametrize("name", INT_DTYPES)
def test_iinfo(name):
    i, ref = mx.iinfo(dt(name)), np.iinfo(NP[name])
    assert (i.min, i.max) == (int(ref.min), int(ref.max)) and i.dtype == dt(name)
    assert repr(i) == f"iinfo(min={ref.min}, max={ref.max}, dtype={name})"


@pytest.mark.parametrize("bad", ["float32", "bool_", "complex64"])
def test_iinfo_errors(bad):
    with pytest.raises(ValueError):
        mx.iinfo(dt(bad))


def test_constants():
    assert mx.pi == np.pi and mx.e == np.e and mx.euler_gamma == np.euler_gamma
    assert mx.inf == float("inf") and np.isnan(mx.nan) and mx.newaxis is None
    assert mx.arange(3)[mx.newaxis].shape == (1, 3)


# ---------------------------------------------------------------- attributes & conversions


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_attributes(rng, name):
    a, ref = rand_mx(rng, (2, 3, 4), name)
    cases = [
        (a, ref), (a[0, 0, 0], ref[0, 0, 0]), (a[:0], ref[:0]), (a.T, ref.T),
        (a[:, ::2, ::-3], ref[:, ::2, ::-3]), (mx.broadcast_to(a[0], (5, 3, 4)), np.broadcast_to(ref[0], (5, 3, 4))),
    ]  # fmt: skip
    for x, r in cases:
        assert x.shape == r.shape and isinstance(x.shape, tuple)
        assert (x.ndim, x.size, x.dtype) == (r.ndim, r.size, dt(name))
        assert x.itemsize == SIZES[name]
        assert x.nbytes == r.size * SIZES[name]
        assert x.T.shape == r.T.shape
        np.testing.assert_array_equal(to_numpy(x.T), r.T)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_item_and_tolist(rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    py = {"bool_": bool, "complex64": complex}.get(
        name, float if name in FLOAT_DTYPES else int
    )
    for x, r in views(a, ref)[:3] + [(a[:0], ref[:0]), (a[:, :0], ref[:, :0])]:
        lst = x.tolist()
        assert lst == r.tolist()
        assert all(type(v) is py for row in lst for v in row)
    for x in (a[1, 2], a[1:2, 2:3], a[1, 2:3]):
        v = x.item()
        assert type(v) is py and v == ref[1, 2].item()
    assert type(a[0, 0].tolist()) is py
    with pytest.raises(ValueError):
        a.item()
    with pytest.raises(ValueError):
        a[:0].item()


def test_item_extremes():
    assert mx.array(np.array([2**64 - 1], np.uint64)).item() == 2**64 - 1
    assert mx.array(np.array([-(2**63)], np.int64)).item() == -(2**63)
    assert mx.array(0.1, mx.bfloat16).item() == 0.10009765625
    assert mx.array(0.1, mx.float16).item() == float(np.float16(0.1))
    assert mx.array(0.1, mx.float64).item() == 0.1


def test_len_and_iteration(rng):
    a, ref = rand_mx(rng, (4, 3), "float32")
    assert len(a) == 4 and len(a.T) == 3 and len(mx.zeros((0, 3))) == 0
    rows = list(a)
    assert len(rows) == 4
    for row, r in zip(rows, ref):
        assert row.shape == (3,) and row.dtype == mx.float32
        np.testing.assert_array_equal(np.array(row), r)
    assert [c.tolist() for c in a.T] == ref.T.tolist()
    assert [x.item() for x in mx.array([1, 2, 3])] == [1, 2, 3]
    assert list(mx.zeros((0, 2))) == []
    with pytest.raises(TypeError):
        len(mx.array(1))
    with pytest.raises(TypeError):
        iter(mx.array(1))


def test_python_scalar_conversions():
    assert bool(mx.array(1)) is True and bool(mx.array([0])) is False
    assert bool(mx.array([[2.5]])) and not bool(mx.array(0j))
    assert int(mx.array(3.7)) == 3 and float(mx.array(3)) == 3.0
    assert float(mx.array([2.5])) == 2.5 and complex(mx.array(1j)) == 1j
    for x in (mx.array([1, 2]), mx.zeros((0,)), mx.ones((2, 2))):
        with pytest.raises(ValueError):
            bool(x)
        with pytest.raises(ValueError):
            int(x)


@pytest.mark.parametrize("name", [n for n in ALL_DTYPES if n != "bfloat16"])
def test_numpy_conversion(rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    for x, r in views(a, ref):
        for n in (np.array(x), np.asarray(x), x.__array__()):
            assert isinstance(n, np.ndarray) and n.dtype == NP[name]
            assert n.shape == r.shape
            np.testing.assert_array_equal(n, r)
    n = np.array(a)
    n[0, 0] = n[1, 1]
    assert a.tolist() == ref.tolist()  # np.array makes a copy
    if name != "complex64":
        np.testing.assert_array_equal(
            np.array(a, dtype=np.float64), ref.astype(np.float64)
        )


def test_numpy_conversion_bfloat16():
    with pytest.raises(ValueError):
        np.array(mx.array([1.0], mx.bfloat16))


FORMATS = {
    "bool_": "?", "uint8": "B", "uint16": "H", "uint32": "I", "uint64": "Q", "int8": "b",
    "int16": "h", "int32": "i", "int64": "q", "float16": "e", "float32": "f",
    "float64": "d", "complex64": "Zf",
}  # fmt: skip


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_buffer_protocol(rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    m = memoryview(a)
    assert m.shape == (3, 4) and m.itemsize == SIZES[name] and m.ndim == 2
    if name == "bfloat16":
        return  # MLX reports a non-standard format string for bfloat16
    assert m.format == FORMATS[name]
    bcast = (mx.broadcast_to(a[:1], (2, 4)), ref[:1].repeat(2, 0))
    for x, r in views(a, ref) + [bcast]:
        np.testing.assert_array_equal(np.asarray(memoryview(x)), r)
        assert memoryview(x).shape == r.shape


@pytest.mark.parametrize("name", [n for n in ALL_DTYPES if n != "bfloat16"])
def test_dlpack_to_numpy(rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    assert a.__dlpack_device__() == (1, 0)  # kDLCPU, device 0
    for x, r in views(a, ref):
        n = np.from_dlpack(x)
        assert n.dtype == NP[name] and n.shape == r.shape
        np.testing.assert_array_equal(n, r)


@pytest.mark.parametrize(
    "np_dtype, name",
    [(np.bool_, "bool_"), (np.uint8, "uint8"), (np.int16, "int16"), (np.uint32, "uint32"), (np.int64, "int64"), (np.uint64, "uint64"),
     (np.float16, "float16"), (np.float32, "float32"), (np.float64, "float32"), (np.complex64, "complex64")],
)  # fmt: skip
def test_from_dlpack(rng, np_dtype, name):
    src = np.abs(rng.standard_normal((3, 4)) * 10).astype(np_dtype)
    for s in (src, src.T, src[::2, 1::2], src[1, 1].reshape(())):
        a = mx.from_dlpack(s)  # float64 comes in as float32, as with mx.array
        assert a.dtype == dt(name) and a.shape == s.shape
        np.testing.assert_array_equal(np.array(a), s.astype(NP[name]))
    b = mx.from_dlpack(mx.array(src.astype(NP[name])))
    np.testing.assert_array_equal(np.array(b), src.astype(NP[name]))


def test_from_dlpack_copies():
    src = np.arange(3, dtype=np.float32)
    a, b = mx.from_dlpack(src), mx.from_dlpack(src, copy=True)
    src[0] = 9
    assert a.tolist() == b.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError):  # a CPU buffer is never imported in place
        mx.from_dlpack(src, copy=False)
    with pytest.raises(TypeError):
        mx.from_dlpack([1, 2])


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_pickle(rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    for x, r in views(a, ref):
        y = pickle.loads(pickle.dumps(x))
        # MLX pickles through NumPy, so its float64 comes back as float32;
        # lmx pickles the raw bytes and keeps the dtype.
        back = "float32" if name == "float64" and BACKEND == "mlx" else name
        assert isinstance(y, mx.array) and y.dtype == dt(back) and y.shape == r.shape
        np.testing.assert_array_equal(to_numpy(y), r.astype(NP[back]))


REPRS = [
    (lambda: mx.array([1, 2]), "array([1, 2], dtype=int32)"),
    (lambda: mx.array(3), "array(3, dtype=int32)"),
    (lambda: mx.array(-7, mx.int8), "array(-7, dtype=int8)"),
    (lambda: mx.array([1, 2], mx.uint64), "array([1, 2], dtype=uint64)"),
    (lambda: mx.array([1.5, 2]), "array([1.5, 2], dtype=float32)"),
    (lambda: mx.array(1.0), "array(1, dtype=float32)"),
    (lambda: mx.array(3.25), "array(3.25, dtype=float32)"),
    (lambda: mx.array([0.1, 1 / 3, 1e-5, 1e10]), "array([0.1, 0.333333, 1e-05, 1e+10], dtype=float32)"),
    (lambda: mx.array([123456789.0, 1e-3, 2e-4]), "array([1.23457e+08, 0.001, 0.0002], dtype=float32)"),
    (lambda: mx.array([1e5, 1e6, -2.5e-7]), "array([100000, 1e+06, -2.5e-07], dtype=float32)"),
    (lambda: mx.array([np.nan, np.inf, -np.inf, -0.0]), "array([nan, inf, -inf, -0], dtype=float32)"),
    (lambda: mx.array([True, False]), "array([True, False], dtype=bool)"),
    (lambda: mx.array(False), "array(False, dtype=bool)"),
    (lambda: mx.array([[1, 2], [3, 4]]), "array([[1, 2],\n       [3, 4]], dtype=int32)"),
    (lambda: mx.array([[True, False], [False, True]]), "array([[True, False],\n       [False, True]], dtype=bool)"),
    (lambda: mx.array([0.1, 1.5], mx.float16), "array([0.0999756, 1.5], dtype=float16)"),
    (lambda: mx.array(2.5, mx.float16), "array(2.5, dtype=float16)"),
    (lambda: mx.array([0.1, -2.25], mx.bfloat16), "array([0.100098, -2.25], dtype=bfloat16)"),
    (lambda: mx.array([[1.5, 2], [3, 4.25]], mx.float64), "array([[1.5, 2],\n       [3, 4.25]], dtype=float64)"),
    (lambda: mx.array([1 + 2j, -1.5 - 0.5j]), "array([1+2j, -1.5-0.5j], dtype=complex64)"),
    (lambda: mx.array([0.5, complex(0, -1)]), "array([0.5+0j, 0-1j], dtype=complex64)"),
    (lambda: mx.array(3 + 0j), "array(3+0j, dtype=complex64)"),
    (lambda: mx.array([]), "array([], dtype=float32)"),
    (lambda: mx.zeros((0, 2), mx.int32), "array([], dtype=int32)"),
    (lambda: mx.zeros((2, 0)), "array([[],\n       []], dtype=float32)"),
    (lambda: mx.arange(12).reshape(2, 2, 3), "array([[[0, 1, 2],\n        [3, 4, 5]],\n       [[6, 7, 8],\n        [9, 10, 11]]], dtype=int32)"),
    (lambda: mx.arange(12).reshape(3, 4).T, "array([[0, 4, 8],\n       [1, 5, 9],\n       [2, 6, 10],\n       [3, 7, 11]], dtype=int32)"),
    (lambda: mx.arange(6), "array([0, 1, 2, 3, 4, 5], dtype=int32)"),
    (lambda: mx.arange(7), "array([0, 1, 2, ..., 4, 5, 6], dtype=int32)"),
    (lambda: mx.arange(14).reshape(2, 7), "array([[0, 1, 2, ..., 4, 5, 6],\n       [7, 8, 9, ..., 11, 12, 13]], dtype=int32)"),
    (lambda: mx.arange(7).reshape(7, 1), "array([[0],\n       [1],\n       [2],\n       ...,\n       [4],\n       [5],\n       [6]], dtype=int32)"),
]  # fmt: skip


@pytest.mark.parametrize("make, text", REPRS)
def test_repr(make, text):
    assert repr(make()) == text
    assert str(make()) == text


# ---------------------------------------------------------------- basic indexing

S = np.s_
READ_KEYS = [
    0, -1, 3, S[1, 2], S[-1, -2, -3], S[0, 0, 0], S[:], S[1:3], S[::2], S[::-1], S[3:0:-2],
    S[-100:100], S[100:-100:-1], S[10:], S[..., 1], S[1, ...], S[...], S[..., None],
    S[None, ..., None], S[:, None, 1], S[None], S[1, ::-2, ...], S[1::2, None, ::-1, 0],
    S[..., 2:-1], S[:, -2], S[-3:-1, ..., ::-3], S[0, None, 1], (), np.int64(2),
]  # fmt: skip


@pytest.mark.parametrize("key", READ_KEYS, ids=repr)
@pytest.mark.parametrize("layout", ["contig", "transposed", "sliced", "broadcast"])
def test_index_read(rng, key, layout):
    a, ref = rand_mx(rng, (4, 5, 6), "float32")
    if layout == "transposed":
        a = mx.transpose(mx.array(ref.transpose(2, 0, 1)), (1, 2, 0))
    elif layout == "sliced":
        big = np.zeros((8, 10, 12), np.float32)
        big[::2, 1::2, ::2] = ref
        a = mx.array(big)[::2, 1::2, ::2]
    elif layout == "broadcast":
        a, ref = mx.broadcast_to(a[:1], (4, 5, 6)), np.broadcast_to(ref[:1], (4, 5, 6))
    out = a[key]
    assert out.shape == ref[key].shape and out.dtype == mx.float32
    np.testing.assert_array_equal(np.array(out), ref[key])


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_index_read_dtypes(rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    for key in (S[1], S[::-1, 1::2], S[None, ..., -1], S[2, 3]):
        assert a[key].dtype == dt(name)
        np.testing.assert_array_equal(to_numpy(a[key]), ref[key])


def test_index_with_array_scalar():
    assert mx.arange(5)[mx.array(2)].item() == 2


def test_index_zero_dim():
    a = mx.array(7)
    assert a[...].item() == 7 and a[()].item() == 7
    assert a[None].shape == (1,) and a[None, None].shape == (1, 1)


@pytest.mark.parametrize("key", [S[0, 0, 0, 0], S[..., ...], 1.5, "x", True], ids=repr)
def test_index_invalid(key):
    a = mx.zeros((2, 3, 4))
    with pytest.raises(ValueError):
        a[key]


def test_index_zero_dim_invalid():
    with pytest.raises(ValueError):
        mx.array(1)[0]


# MLX does not bounds-check integer indices (it reads stray memory or crashes)
# and dies with SIGFPE on a zero slice step, so these are checked for lmx only.
@pytest.mark.skipif(BACKEND != "lmx", reason="MLX reads out of bounds / crashes")
@pytest.mark.parametrize("key", [5, -6, S[0, 7], S[:, -8], S[1, 2, 6]], ids=repr)
def test_index_out_of_range(key):
    a = mx.zeros((5, 7, 6))
    with pytest.raises(IndexError):
        a[key]
    with pytest.raises(IndexError):
        a[key] = 1
    with pytest.raises(IndexError):
        mx.zeros((0, 3))[0]


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX dies with SIGFPE on a zero step")
def test_index_zero_step():
    with pytest.raises(ValueError):
        mx.arange(5)[::0]


WRITES = [
    (S[1:3], 5), (S[..., 0], "col"), (S[0], "row"), (S[:], "row"), (S[::-2], "row"),
    (S[:, None, 1], "col2"), (S[...], 3), (S[-1], 4), (S[1, 2], 7.9), (S[0], True),
    (S[2:, ::2], "block"), (S[2], "row2d"), (np.int64(1), 2),
]  # fmt: skip


@pytest.mark.parametrize("key, value", WRITES, ids=repr)
@pytest.mark.parametrize("name", ["int32", "float32", "float16", "uint8"])
def test_index_write(rng, key, value, name):
    a, ref = rand_mx(rng, (4, 3), name, 0, 10)
    val = {
        "col": np.arange(4), "row": np.arange(3) + 1, "col2": np.arange(4).reshape(4, 1),
        "block": np.arange(4).reshape(2, 2), "row2d": np.arange(3).reshape(1, 3),
    }.get(value, value)  # fmt: skip
    alias = a[1:]  # taken before the write: must keep the old values
    old = to_numpy(alias)
    a[key] = mx.array(val) if isinstance(val, np.ndarray) else val
    ref = ref.copy()
    ref[key] = np.asarray(val).astype(ref.dtype)
    assert a.dtype == dt(name)
    np.testing.assert_array_equal(to_numpy(a), ref)
    np.testing.assert_array_equal(to_numpy(alias), old)


def test_index_write_semantics():
    a = mx.arange(6).reshape(2, 3)
    b = a.T
    b[0] = 9
    assert a.tolist() == [[0, 1, 2], [3, 4, 5]]  # writes never reach other arrays
    assert b.tolist() == [[9, 9], [1, 4], [2, 5]]
    x = mx.array([1, 2])
    c = mx.broadcast_to(x, (3, 2))
    c[0] = 5
    assert c.tolist() == [[5, 5], [1, 2], [1, 2]] and x.tolist() == [1, 2]
    d = mx.zeros((2, 2), mx.int32)
    d[:] = mx.array([1.9, -1.9])
    assert d.tolist() == [[1, -1], [1, -1]]
    e = mx.zeros((4,), mx.int8)
    e[1:3] = np.array([7, 8])
    assert e.tolist() == [0, 7, 8, 0]
    with pytest.raises(ValueError):
        mx.zeros((2, 3))[0] = mx.array([1, 2])
    with pytest.raises(ValueError):
        mx.zeros((2, 3), mx.int8)[0, 0] = 300


# ---------------------------------------------------------------- operators

INPLACE = [
    ("+=", operator.iadd, NUMERIC), ("-=", operator.isub, NUMERIC), ("*=", operator.imul, NUMERIC),
    ("/=", operator.itruediv, FLOAT_DTYPES + ["complex64"]),
    ("//=", operator.ifloordiv, INT_DTYPES + ["float32", "float64"]),
    ("%=", operator.imod, INT_DTYPES + ["float32", "float64"]),
    ("**=", operator.ipow, INT_DTYPES + ["float32", "float64"]),
    ("&=", operator.iand, INT_DTYPES + ["bool_"]), ("|=", operator.ior, INT_DTYPES + ["bool_"]),
    ("^=", operator.ixor, INT_DTYPES + ["bool_"]),
    ("<<=", operator.ilshift, INT_DTYPES), (">>=", operator.irshift, INT_DTYPES),
]  # fmt: skip
INPLACE_CASES = [(s, f, n) for s, f, names in INPLACE for n in names]


@pytest.mark.parametrize(
    "sym, op, name", INPLACE_CASES, ids=[f"{c[0]}-{c[2]}" for c in INPLACE_CASES]
)
def test_inplace_operators(rng, sym, op, name):
    a, ref = rand_mx(rng, (3, 4), name, 1, 6)
    b, bref = rand_mx(rng, (4,), name, 1, 4 if sym in ("**=", "<<=", ">>=") else 6)
    x, y = a, a
    x = op(x, b)
    assert x is y  # updates the object in place
    with np.errstate(all="ignore"):
        expected = op(ref.copy(), bref)
    assert_close(x, expected, name)
    x = op(x, 2 if name != "bool_" else True)  # weak scalar keeps the dtype
    assert x.dtype == dt(name)


def test_inplace_dtype_changes():
    x = mx.array([1, 2, 3], mx.int8)
    x += 1.5
    assert x.dtype == mx.float32 and x.tolist() == [2.5, 3.5, 4.5]
    x = mx.array([7, 8], mx.int16)
    x -= mx.array([1], mx.int64)
    assert x.dtype == mx.int64 and x.tolist() == [6, 7]
    x = mx.zeros((2, 1))
    x += mx.ones((1, 3))
    assert x.shape == (2, 3)
    x = mx.array([1, 2, 3])
    with pytest.raises(ValueError):
        x /= 2
    x = mx.array([1.0, 2.0])
    with pytest.raises(ValueError):
        x &= 1


REFLECTED = [
    ("r+", lambda s, a: s + a), ("r-", lambda s, a: s - a), ("r*", lambda s, a: s * a),
    ("r/", lambda s, a: s / a), ("r//", lambda s, a: s // a), ("r%", lambda s, a: s % a),
    ("r**", lambda s, a: s**a),
]  # fmt: skip


REFLECTED_CASES = [
    (sym, op, name)
    for sym, op in REFLECTED
    for name in NUMERIC
    # floor is too sensitive to half-precision rounding to compare with NumPy
    if not (name in ("complex64", "float16", "bfloat16") and sym in ("r//", "r%"))
]


@pytest.mark.parametrize(
    "sym, op, name", REFLECTED_CASES, ids=[f"{c[0]}-{c[2]}" for c in REFLECTED_CASES]
)
@pytest.mark.parametrize("scalar", [2, 2.5])
def test_reflected_operators(rng, sym, op, name, scalar):
    a, ref = rand_mx(rng, (2, 5), name, 1, 4)
    out = op(scalar, a)
    res = weak_result(name, scalar)
    if sym == "r/" and res not in FLOAT_DTYPES + ["complex64"]:
        res = "float32"
    with np.errstate(all="ignore"):
        expected = op(np.asarray(scalar, dtype=NP[res]), ref.astype(NP[res]))
    assert_close(out, expected, res)


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize(
    "op", [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
)
def test_comparison_operators(rng, name, op):
    a, ref = rand_mx(rng, (3, 4), name, 0, 4)
    b, bref = rand_mx(rng, (4,), name, 0, 4)
    cases = [
        (a, b, ref, bref),
        (a.T, b[:3], ref.T, bref[:3]),
        (a, 2, ref, 2),
        (2, a, 2, ref),
        (a, a[0, 0], ref, ref[0, 0]),
    ]
    for x, y, rx, ry in cases:
        out = op(x, y)
        assert out.dtype == mx.bool_
        np.testing.assert_array_equal(np.array(out), op(rx, ry))
    with pytest.raises(ValueError):
        op(mx.array([1, 2]), mx.array([1, 2, 3]))


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_unary_operators(rng, name):
    a, ref = rand_mx(rng, (3, 4), name, -10, 10)
    for x, r in views(a, ref):
        if name == "bool_":
            with pytest.raises(ValueError):
                _ = -x
        else:
            with np.errstate(over="ignore"):
                assert_close(-x, -r, name)
        if name in INT_DTYPES or name == "bool_":
            assert_close(~x, ~r, name)
        else:
            with pytest.raises(ValueError):
                _ = ~x
        res = "float32" if name == "complex64" else name
        assert_close(abs(x), np.abs(r).astype(NP[res]), res)


def test_printoptions():
    a = mx.array([1 / 3, 123.456789, 1e-5, 2.0])
    assert repr(a) == "array([0.333333, 123.457, 1e-05, 2], dtype=float32)"
    try:
        mx.set_printoptions(precision=3)
        assert mx.get_printoptions().precision == 3
        assert repr(a) == "array([0.333, 123.457, 0.000, 2.000], dtype=float32)"
        assert repr(mx.arange(3)) == "array([0, 1, 2], dtype=int32)"  # integers unaffected
    finally:
        mx.set_printoptions()
    with mx.printoptions(precision=1):
        assert repr(a) == "array([0.3, 123.5, 0.0, 2.0], dtype=float32)"
    assert repr(a) == "array([0.333333, 123.457, 1e-05, 2], dtype=float32)"
