"""Gather and scatter: take, take_along_axis, put_along_axis, integer-array and
boolean-mask reads and writes through [], the .at[] updates, the dynamic
slice/slice_update, and the exception types raised for bad indices.

Plain int/slice/None/Ellipsis indexing lives in test_array_api.py."""

import numpy as np
import pytest

from conftest import NP, ALL_DTYPES, BACKEND, INT_DTYPES, mx, to_numpy, tolerance, dt, rand_mx

LAYOUTS = ["contig", "transposed", "strided", "broadcast"]
A = np.array
S = np.s_


def make(rng, shape, name="float32", layout="contig", **kw):
    """A random array of `shape` laid out contiguously, transposed, strided or broadcast."""
    if layout == "transposed":
        a, ref = rand_mx(rng, shape[::-1], name, **kw)
        return a.T, ref.T
    if layout == "strided":
        a, ref = rand_mx(rng, tuple(2 * s for s in shape), name, **kw)
        key = tuple(slice(None, None, 2 - 4 * (i % 2)) for i in range(len(shape)))
        return a[key], ref[key]
    if layout == "broadcast":
        a, ref = rand_mx(rng, (1,) + tuple(shape[1:]), name, **kw)
        return mx.broadcast_to(a, shape), np.broadcast_to(ref, shape)
    return rand_mx(rng, shape, name, **kw)


def ix(x, name="int32"):
    """An mx index array from a NumPy/list integer array."""
    return mx.array(np.asarray(x).astype(NP[name]), dtype=dt(name))


def mx_key(key, name="int32"):
    """A NumPy indexing key with its integer arrays turned into mx arrays."""
    if isinstance(key, tuple):
        return tuple(mx_key(k, name) for k in key)
    return ix(key, name) if isinstance(key, np.ndarray) else key


def check(out, expected, name="float32", exact=True):
    expected = np.asarray(expected)
    assert out.dtype == dt(name), (out.dtype, name)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    if exact:
        np.testing.assert_array_equal(to_numpy(out), expected)
    else:
        rtol, atol = tolerance(name)
        np.testing.assert_allclose(to_numpy(out), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- take


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ALL_DTYPES)
def test_take(rng, name, layout):
    a, ref = make(rng, (4, 5, 3), name, layout)
    idx = rng.integers(-5, 5, (2, 3))
    for axis in (0, 1, 2, -1, -3):
        i = idx % ref.shape[axis] - (idx < 0) * ref.shape[axis]  # keep in range, some negative
        check(mx.take(a, ix(i), axis=axis), np.take(ref, i, axis=axis), name)
    flat = rng.integers(-60, 60, (7,))
    check(mx.take(a, ix(flat)), np.take(ref, flat), name)
    check(mx.take(a, ix(flat), axis=None), np.take(ref, flat), name)


@pytest.mark.parametrize("iname", INT_DTYPES)
def test_take_index_dtypes(rng, iname):
    a, ref = make(rng, (6, 7))
    i = rng.integers(-6 if iname[0] == "i" else 0, 6, (3, 2))
    check(mx.take(a, ix(i, iname), axis=0), np.take(ref, i, axis=0))
    check(mx.take(a, ix(i, iname), axis=1), np.take(ref, i, axis=1))
    check(a[ix(i, iname)], ref[i])
    check(a[:, ix(i, iname)], ref[:, i])


def test_take_scalar_and_noncontiguous_index(rng):
    a, ref = make(rng, (4, 5))
    check(mx.take(a, 2, axis=0), ref[2])
    check(mx.take(a, 3, axis=1), ref[:, 3])
    check(mx.take(a, -2, axis=1), ref[:, -2])
    check(mx.take(a, 13), np.take(ref, 13))  # 0-d result
    for i in (1, -1, -4):  # a 0-d array index drops the axis like an int
        check(mx.take(a, mx.array(i), axis=1), ref[:, i])
        check(mx.take(a, mx.array(i)), np.take(ref, i))
    i = rng.integers(0, 5, (3, 4))
    check(mx.take(a, ix(i).T, axis=1), np.take(ref, i.T, axis=1))
    check(mx.take(a, ix(i)[::2, ::-1] % 4, axis=0), np.take(ref, i[::2, ::-1] % 4, axis=0))
    ib = mx.broadcast_to(ix([[3], [0]]), (2, 5))
    check(mx.take(a, ib, axis=1), np.take(ref, np.broadcast_to([[3], [0]], (2, 5)), axis=1))


def test_take_empty_and_zero_dim(rng):
    a, ref = make(rng, (3, 4))
    check(mx.take(a, ix(np.zeros((0,), int)), axis=1), ref[:, :0])
    check(mx.take(a, ix(np.zeros((2, 0), int)), axis=0), np.zeros((2, 0, 4)))
    check(mx.take(mx.zeros((0, 3)), ix([2, 0]), axis=1), np.zeros((0, 2)))
    check(mx.take(mx.array(5), ix([0, 0, 0])), [5, 5, 5], "int32")
    check(mx.take(mx.array(2.5), 0), 2.5)
    with pytest.raises(ValueError):  # non-empty take from an empty axis
        mx.take(mx.zeros((0, 3)), ix([0]), axis=0)


# ---------------------------------------------------------------- take_along_axis / put_along_axis


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ALL_DTYPES)
def test_take_along_axis(rng, name, layout):
    a, ref = make(rng, (3, 4, 5), name, layout)
    for axis in (0, 1, 2, -1):
        shape = list(ref.shape)
        shape[axis] = 6
        for s in (shape, [n if d == axis % 3 else 1 for d, n in enumerate(shape)]):  # broadcast
            i = rng.integers(-ref.shape[axis], ref.shape[axis], s)
            check(mx.take_along_axis(a, ix(i), axis=axis), np.take_along_axis(ref, i, axis), name)
    i = rng.integers(-60, 60, (9,))
    check(mx.take_along_axis(a, ix(i, "int64"), axis=None), np.take_along_axis(ref, i, None), name)
    i = rng.integers(0, 5, (3, 4, 2))
    check(mx.take_along_axis(a, ix(i, "uint8")), np.take_along_axis(ref, i, -1), name)  # axis=-1


def put_ref(ref, i, v, axis):
    out = np.array(ref, copy=True)
    np.put_along_axis(out, i, v, axis)
    return out


def unique_indices(rng, shape, axis, n):
    """Indices along `axis` with no duplicates within a line, some negative."""
    perm = np.argsort(rng.random(shape[:axis] + (n,) + shape[axis + 1 :]), axis=axis)
    i = np.take(perm, np.arange(shape[axis]), axis=axis)
    return np.where(rng.random(i.shape) > 0.5, i - n, i)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ALL_DTYPES)
def test_put_along_axis(rng, name, layout):
    a, ref = make(rng, (3, 4, 5), name, layout)
    for axis in (0, 1, 2):
        shape = list(ref.shape)
        shape[axis] = 2
        i = unique_indices(rng, tuple(shape), axis, ref.shape[axis])
        v, vref = rand_mx(rng, tuple(shape), name)
        check(mx.put_along_axis(a, ix(i), v, axis=axis), put_ref(ref, i, vref, axis), name)
        vs, vsref = rand_mx(rng, (1,) * 3, name)  # values broadcast against the indices
        check(mx.put_along_axis(a, ix(i), vs, axis=axis), put_ref(ref, i, vsref, axis), name)
    v, vref = rand_mx(rng, (3,), name)
    exp = put_ref(ref.reshape(-1), A([5, -1, 0]), vref, None).reshape(3, 4, 5)
    check(mx.put_along_axis(a, ix([5, -1, 0]), v, axis=None), exp, name)
    assert np.array_equal(to_numpy(a), ref)  # the input is untouched


def test_along_axis_details(rng):
    b, bref = make(rng, (1, 4))  # a size-1 axis of the input broadcasts against the indices
    i = rng.integers(0, 4, (3, 2))
    check(mx.take_along_axis(b, ix(i), axis=1), np.take_along_axis(bref, i, 1))
    check(mx.take_along_axis(b, ix(i).T[:1], axis=1), np.take_along_axis(bref, i.T[:1], 1))
    check(mx.take_along_axis(b, ix(np.zeros((1, 0), int)), axis=1), np.zeros((1, 0)))
    a, ref = make(rng, (3, 4))
    i = A([[0], [3], [-1]])
    # Indices broadcast over the other axes, values broadcast against the indices.
    check(mx.put_along_axis(a, ix([[1, 2]]), mx.array([[7.0, 8.0]]), axis=1),
          put_ref(ref, A([[1, 2]] * 3), A([[7.0, 8.0]]), 1))  # fmt: skip
    # Values are cast to the destination dtype.
    z = mx.zeros((3, 4), mx.int32)
    out = mx.put_along_axis(z, ix(i), mx.array([[1.7], [-2.5], [3.0]]), axis=1)
    check(out, put_ref(np.zeros((3, 4), np.int32), i, A([[1], [-2], [3]]), 1), "int32")
    # Default axis is None: the destination is flattened.
    exp = put_ref(ref.reshape(-1), A([0, 11]), 9.0, None).reshape(3, 4)
    check(mx.put_along_axis(a, ix([0, 11]), mx.array(9.0)), exp)
    # Duplicate destinations: the last value wins.
    v = mx.array([[1.0, 2.0, 3.0, 4.0]])
    check(mx.put_along_axis(mx.zeros((2, 4)), ix([[0, 0, 0, 2]]), v, axis=1), [[3, 0, 4, 0]] * 2)


# ---------------------------------------------------------------- reads with integer arrays

# An int before an array index with a slice between: reads move the array
# dimensions to the front like NumPy, writes do not (see test_write_int_then_array).
INT_SLICE_ARRAY = S[1, :, A([0, 5])]
ADV_KEYS = [
    A([0, 3, -1]), A([[1, 0], [-2, 3]]), S[A([0, 2]), A([4, -1])], S[:, A([1, 4]), 2:5],
    S[A([3, 1]), :, A([5, 0])], INT_SLICE_ARRAY, S[:, 1, A([0, 5])], S[A([2, 0]), 1],
    S[A([[0], [3]]), A([1, 2, 4])], S[A([[0], [3]]), ::2, A([1, 2, 4])],
    S[None, A([1, 2]), ..., A([0, 1])], S[..., A([5, 0, 2])], S[A([2, 0]), None, ::-1, 3],
    S[::-1, A([1, 3, 0]), 1::2], S[A(1), :, A([0, 2])], S[A(2), A(3)], S[A(0), A(1), A(2)],
    S[:, A(-1), A([[0, 1]])], S[A([0, 1, 2]), A([[1], [3]]), A([4, 5, 0])],
    S[-1, A([-1, -5]), A([0])], S[np.zeros(0, int)], S[:, np.zeros((2, 0), int), 1],
    S[A([1, 0]), None, None, A([2, 3])],
]  # fmt: skip


@pytest.mark.parametrize("key", ADV_KEYS, ids=repr)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_read_advanced(rng, key, layout):
    a, ref = make(rng, (4, 5, 6), "float32", layout)
    check(a[mx_key(key)], ref[key])


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_read_advanced_dtypes(rng, name):
    a, ref = make(rng, (4, 5, 6), name, "strided")
    for key in (ADV_KEYS[1], ADV_KEYS[4], ADV_KEYS[9], ADV_KEYS[16]):
        for iname in ("int64", "int8"):
            check(a[mx_key(key, iname)], ref[key], name)


def test_read_index_sources(rng):
    a, ref = make(rng, (4, 5, 6))
    # Python lists (nested ones too) are converted to integer arrays.
    for key in ([0, 2], [[3], [-1]], S[[0, 1], [2, 3]], S[[0, 2], ..., [-1, 0]], S[1, [4, 0], :]):
        check(a[key], ref[key])
    # NumPy scalars and 0-d NumPy arrays act as ints, also next to mx index arrays.
    check(a[np.int64(2)], ref[2])
    check(a[np.array(3)], ref[3])
    check(a[np.int32(1), :, ix([0, 5])], ref[1, :, [0, 5]])
    # mx index arrays may themselves be non-contiguous.
    i = rng.integers(0, 5, (3, 4))
    check(a[:, ix(i).T], ref[:, i.T])
    check(a[ix(i)[::2, ::-1] % 4], ref[i[::2, ::-1] % 4])
    check(a[mx.broadcast_to(ix([1, 3]), (2, 2)), 0], ref[np.broadcast_to([1, 3], (2, 2)), 0])
    check(mx.zeros((0, 3))[:, ix([2, 0])], np.zeros((0, 2)))  # empty source


def test_read_unsupported_keys():
    a = mx.arange(12).reshape(3, 4)
    # Boolean masks are not supported on reads (NumPy would select).
    for key in ([True, False, True], mx.array([True, False, True]), mx.array(True), a > 5):
        with pytest.raises(ValueError):
            a[key]
    # NumPy arrays with dimensions are rejected as index objects.
    for key in (np.array([0, 1]), np.array([True, False, True]), S[np.array([0]), 1]):
        with pytest.raises(ValueError):
            a[key]
    with pytest.raises(ValueError):  # an empty list makes a float32 array
        a[[]]


# ---------------------------------------------------------------- writes with integer arrays


@pytest.mark.parametrize("key", [k for k in ADV_KEYS if k is not INT_SLICE_ARRAY], ids=repr)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_write_advanced(rng, key, layout):
    a, ref = make(rng, (4, 5, 6), "float32", layout)
    ref = ref.copy()
    v, vref = rand_mx(rng, ref[key].shape)
    a[mx_key(key)] = v
    ref[key] = vref
    check(a, ref)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_write_advanced_dtypes_and_broadcast(rng, name):
    a, ref = make(rng, (4, 5, 6), name, "transposed")
    ref = ref.copy()
    for k, vshape in ((4, (5,)), (8, ()), (3, (1, 3)), (9, (3, 1))):
        key = ADV_KEYS[k]
        v, vref = rand_mx(rng, vshape, name)
        a[mx_key(key, "int16")] = v
        ref[key] = vref
        check(a, ref, name)
    a[[0, 3], 1] = 1  # Python scalar
    ref[[0, 3], 1] = 1
    check(a, ref, name)


def test_write_int_then_array(rng):
    # a[1, :, idx] = v lays v out as a[1][:, idx] (slice dimension first), unlike
    # NumPy and unlike the read a[1, :, idx], which puts the index dimension first.
    a, ref = make(rng, (4, 5, 6))
    assert a[mx_key(INT_SLICE_ARRAY)].shape == (2, 5)
    v, vref = rand_mx(rng, (5, 2))
    out = a.at[mx_key(INT_SLICE_ARRAY)].add(v)
    a[mx_key(INT_SLICE_ARRAY)] = v
    ref, ref2 = ref.copy(), ref.copy()
    ref[1][:, [0, 5]] = vref
    ref2[1][:, [0, 5]] += vref
    check(a, ref)
    check(out, ref2, exact=False)
    b = mx.zeros((2, 3, 4, 5))  # the same with the int further in
    b[:, 1, :, ix([0, 2, 4])] = mx.broadcast_to(mx.arange(4.0)[:, None], (4, 3))
    exp = np.zeros((2, 3, 4, 5), np.float32)
    exp[:, 1][:, :, [0, 2, 4]] = np.arange(4.0)[:, None]
    check(b, exp)


def test_write_duplicates_last_wins():
    # MLX documents duplicate writes as unspecified; its CPU scatter applies them in order.
    a = mx.zeros((5,), mx.int32)
    a[ix([1, 3, 1, 1])] = ix([10, 20, 30, 40])
    check(a, [0, 40, 0, 20, 0], "int32")
    b = mx.zeros((3, 2), mx.int32)
    b[[2, 0, 2]] = ix([[1, 2], [3, 4], [5, 6]])
    check(b, [[3, 4], [0, 0], [5, 6]], "int32")
    c = mx.zeros((300,), mx.int32)
    c[ix(np.full(300, 7))] = mx.arange(300)
    assert c[7].item() == 299


def test_write_value_conversion(rng):
    a = mx.zeros((3, 4), mx.int32)
    a[ix([0, 2]), 1:3] = mx.array([1.9, -2.7])  # float values truncate into int arrays
    a[[1], ix([0])] = 5.8
    check(a, [[0, 1, -2, 0], [5, 0, 0, 0], [0, 1, -2, 0]], "int32")
    b = mx.zeros((2, 3), mx.float32)
    b[ix([1])] = np.array([1, 2, 3])  # NumPy values are fine (only NumPy *indices* are not)
    b[ix([0])] = mx.ones((1, 1, 1, 3))  # leading singleton dims of the value are dropped
    check(b, [[1, 1, 1], [1, 2, 3]])
    c = mx.zeros((2,), mx.bool_)
    c[ix([1])] = 2
    check(c, [False, True], "bool_")
    d = mx.zeros((2,), mx.float32)
    d[ix([0])] = mx.array([3 + 4j])  # complex into real keeps the real part
    check(d, [3, 0])
    with pytest.raises(ValueError):  # a list value is not converted
        a[ix([0])] = [1, 2, 3, 4]
    with pytest.raises(ValueError):
        mx.zeros((2,), mx.int8)[ix([0])] = 300


def test_write_after_read(rng):
    a, ref = make(rng, (4, 3))
    b = a[ix([0, 1])]  # taken (lazily) before the write: keeps the old values
    a[ix([1, 2])] = 0.5
    check(b, ref[[0, 1]])


# ---------------------------------------------------------------- boolean-mask writes


MASK_CASES = [  # (array shape, mask shape, value shape or "n": (n_true, *rest))
    ((3, 4), (3, 4), ()), ((3, 4), (3, 4), "n"), ((3, 4), (3,), ()), ((3, 4), (3,), (4,)),
    ((3, 4), (3,), (1,)), ((3, 4), (3,), "n"), ((2, 3, 4), (2, 3), (4,)), ((2, 3, 4), (2, 3), "n"),
    ((2, 3, 4), (2,), (3, 1)), ((2, 3, 4), (2,), "n"), ((5,), (5,), ()), ((0, 4), (0,), (4,)),
]  # fmt: skip


@pytest.mark.parametrize("shape, mshape, vshape", MASK_CASES, ids=repr)
@pytest.mark.parametrize("name", ["float32", "int8", "bool_", "bfloat16", "complex64"])
def test_write_mask(rng, shape, mshape, vshape, name):
    a, ref = make(rng, shape, name, "transposed" if len(shape) > 1 else "contig")
    ref = ref.copy()
    m = rng.random(mshape) > 0.4
    if vshape == "n":
        vshape = (int(m.sum()),) + shape[len(mshape) :]
    v, vref = rand_mx(rng, vshape, name)
    a[mx.array(m)] = v
    ref[m] = vref
    check(a, ref, name)


def test_write_mask_forms(rng):
    base = np.arange(12, dtype=np.int32).reshape(3, 4)
    m = A([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 0]], bool)
    for mask in (mx.array(m.T).T, mx.array(m[:, ::-1].copy())[:, ::-1]):  # non-contiguous masks
        a = mx.array(base)
        a[mask] = -1
        check(a, np.where(m, -1, base), "int32")
    forms = [([True, False, True], [0, 2]), (mx.array(True), [0, 1, 2]), (True, [0, 1, 2]),
             (False, []), (mx.array(False), []), (A([False, True, True]), [1, 2])]  # fmt: skip
    for key, rows in forms:  # a NumPy bool array is accepted here, unlike NumPy int arrays
        a = mx.array(base)
        a[key] = 7
        ref = base.copy()
        ref[rows] = 7
        check(a, ref, "int32")


def test_write_mask_sequential_source():
    # With one dimension more than the unmasked tail, the value is a source that is
    # read in order: extra rows are ignored, and too few fail when evaluated.
    a = mx.zeros((3, 4), mx.int32)
    a[mx.array([True, False, True])] = mx.arange(20).reshape(5, 4)
    check(a, [[0, 1, 2, 3], [0] * 4, [4, 5, 6, 7]], "int32")
    b = mx.zeros((4,), mx.int32)
    b[mx.array([False, True, True, False])] = ix([5, 6, 7])
    check(b, [0, 5, 6, 0], "int32")
    for shape, mask in (((3, 4), [True, False, True]), ((3,), [True, True, False])):
        c, value = mx.zeros(shape), mx.ones((1,) + shape[1:])
        # NumPy would broadcast the single row; MLX fails at evaluation with a
        # RuntimeError, lmx with an IndexError naming the missing row.
        with pytest.raises(RuntimeError if BACKEND == "mlx" else IndexError):
            c[mx.array(mask)] = value
            mx.eval(c)


def test_write_mask_errors():
    a = mx.zeros((3, 4))
    for mask in ([True, False], [[True, False]], [[True] * 4]):  # must equal the leading shape
        with pytest.raises(ValueError):
            a[mx.array(mask)] = 1
    for value in (mx.ones((3, 4)), mx.ones((1, 8))):  # too many value dims for a full mask
        with pytest.raises(ValueError):
            a[mx.array([[True] * 4] * 3)] = value
    for value in (mx.ones((2, 2, 4)), mx.ones((3,))):  # too many dims / tail does not broadcast
        with pytest.raises(ValueError):
            a[mx.array([True, False, True])] = value


# ---------------------------------------------------------------- .at[] updates

AT_OPS = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
    "divide": np.divide, "maximum": np.maximum, "minimum": np.minimum,
}  # fmt: skip
AT_DTYPES = [n for n in ALL_DTYPES if n != "bool_"]


@pytest.mark.parametrize("op", list(AT_OPS))
@pytest.mark.parametrize("name", AT_DTYPES)
def test_at_ops(rng, op, name):
    if op == "divide" and name in INT_DTYPES:
        pytest.skip("integer divide: see test_at_value_dtype")
    small = op in ("multiply", "divide")
    lo, hi = (1, 4) if small else (-20, 20)
    a, ref = make(rng, (6, 3), name, "strided", low=lo, high=hi)
    i = A([0, 5, 0, -1, 2, 0])  # index 0 three times, 5 twice (via -1)
    v, vref = rand_mx(rng, (6, 3), name, lo, hi)
    out = getattr(a.at[ix(i)], op)(v)
    ref = ref.copy()
    AT_OPS[op].at(ref, i, vref.astype(ref.dtype))
    check(out, ref, name, exact=False)
    s, sref = rand_mx(rng, (1,), name, lo, hi)  # broadcast value, two index arrays
    out = getattr(a.at[ix([1, 1, 4]), ix([2, 2, 0])], op)(s)
    ref2 = to_numpy(a).copy()
    AT_OPS[op].at(ref2, (A([1, 1, 4]), A([2, 2, 0])), sref[0])
    check(out, ref2, name, exact=False)


def test_at_accumulates_and_keeps_input():
    a = mx.zeros((4,), mx.float32)
    i = ix(np.zeros(1000, int))
    check(a.at[i].add(1.0), [1000, 0, 0, 0])
    check(mx.array([250], mx.uint8).at[ix([0, 0])].add(mx.array([5, 5], mx.uint8)), [4], "uint8")
    check(a, [0, 0, 0, 0])  # .at never modifies the array itself
    b = mx.zeros((3, 3))
    check(b.at[:, ix([0, 0, 2])].add(mx.array([[1.0], [2.0], [3.0]])),
          [[2, 0, 1], [4, 0, 2], [6, 0, 3]])  # fmt: skip
    check(b.at[[0, 0], 1].add(2.0), [[0, 4, 0], [0, 0, 0], [0, 0, 0]])  # list index
    # Without array indices .at works on the basic selection.
    c = mx.array([1.0, 2.0, 3.0, 4.0])
    check(c.at[1:3].add(2), [1, 4, 5, 4])
    check(c.at[...].multiply(2), [2, 4, 6, 8])
    check(c.at[-1].maximum(10), [1, 2, 3, 10])
    check(c.at[ix(np.zeros(0, int))].add(1), [1, 2, 3, 4])


def test_at_value_dtype():
    # The value is first cast to the array's dtype, then applied.
    a = mx.array([1, 2, 3, 4])
    check(a.at[ix([0, 0, 2])].add(2.7), [5, 2, 5, 4], "int32")
    check(a.at[ix([1])].multiply(mx.array(2.5)), [1, 4, 3, 4], "int32")
    check(mx.array([5], mx.int8).at[ix([0])].add(mx.array([2], mx.int64)), [7], "int8")
    check(mx.array([1, 2], mx.float16).at[ix([0, 0])].add(0.5), [2, 2], "float16")
    with pytest.raises(ValueError):
        mx.array([5], mx.int8).at[ix([0])].add(300)
    # divide multiplies by the reciprocal taken in the array's dtype: 1/v truncates to 0.
    a = mx.array([10, 20, 30])
    check(a.at[ix([0, 1])].divide(1), [10, 20, 30], "int32")
    check(a.at[ix([0, 1])].divide(-1), [-10, -20, 30], "int32")
    check(a.at[ix([0, 0])].divide(mx.array([2, 5])), [0, 20, 30], "int32")
    f = mx.array([10.0, 20.0])
    check(f.at[ix([0, 0])].divide(mx.array([2.0, 5.0])), [1, 20], exact=False)


def test_at_bool():
    a = mx.array([False, True, False])
    i = ix([0, 0, 1])
    v = mx.array([True, False, False])
    check(a.at[i].add(v), [True, True, False], "bool_")  # logical or
    check(a.at[i].multiply(v), [False, False, False], "bool_")  # logical and
    check(a.at[i].maximum(v), [True, True, False], "bool_")
    check(a.at[i].minimum(v), [False, False, False], "bool_")
    with pytest.raises(ValueError):
        a.at[i].subtract(v)


# ---------------------------------------------------------------- slice / slice_update


def test_indexing_functions_present():
    # The gather/scatter family this MLX build exposes (no scatter_* or masked_scatter).
    for name in ("take", "take_along_axis", "put_along_axis", "slice", "slice_update"):
        assert callable(getattr(mx, name))
    assert type(mx.zeros((1,)).at).__name__ == "ArrayAt"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ALL_DTYPES)
def test_dynamic_slice(rng, name, layout):
    a, ref = make(rng, (4, 5, 6), name, layout)
    check(mx.slice(a, ix([1, 2]), (0, 2), (2, 5, 3)), ref[1:3, :, 2:5], name)
    check(mx.slice(a, ix([3, 1], "int64"), (2, 0), (3, 2, 3)), ref[1:4, 0:2, 3:6], name)
    check(mx.slice(a, ix(2, "uint8"), (-2,), (4, 3, 6)), ref[:, 2:5], name)
    check(mx.slice(a, ix([1]), (0,), (0, 5, 6)), ref[1:1], name)
    u, uref = rand_mx(rng, (2, 5, 3), name)
    out = mx.slice_update(a, u, ix([2, 3]), (0, 2))
    exp = ref.copy()
    exp[2:4, :, 3:6] = uref
    check(out, exp, name)
    s, sref = rand_mx(rng, (1, 4), name)  # update broadcast to the slice
    out = mx.slice_update(a, s, ix([1, 0, 2], "int16"), (0, 1, 2))
    exp = ref.copy()
    exp[1:2, 0:1, 2:6] = sref
    check(out, exp, name)
    assert np.array_equal(to_numpy(a), ref)


def test_dynamic_slice_details():
    a = mx.arange(20).reshape(4, 5)
    out = mx.slice_update(a, mx.full((1, 5), 2.7), ix([2]), (0,))  # cast to the input dtype
    check(out, np.where(np.arange(4)[:, None] == 2, 2, np.arange(20).reshape(4, 5)), "int32")
    out = mx.slice_update(a.astype(mx.int8), mx.ones((1, 5), mx.int64), ix([0]), (0,))
    assert out.dtype == mx.int8
    check(mx.slice(a.T, ix([1, 1]), (0, 1), (2, 2)), [[6, 11], [7, 12]], "int32")


# ---------------------------------------------------------------- errors


def raises(exc, f):
    with pytest.raises(exc):
        mx.eval(f())


def _set(a, key, value):
    a[key] = value
    return a


ERRORS = [
    ("take float index", ValueError, lambda a: mx.take(a, mx.array([0.0]), axis=0)),
    ("take bool index", ValueError, lambda a: mx.take(a, mx.array([True]), axis=0)),
    ("take list index", TypeError, lambda a: mx.take(a, [0, 1], axis=0)),
    ("take float scalar", TypeError, lambda a: mx.take(a, 1.0, axis=0)),
    ("take axis", IndexError, lambda a: mx.take(a, ix([0]), axis=2)),
    ("take axis neg", IndexError, lambda a: mx.take(a, ix([0]), axis=-3)),
    ("take 0-d axis", IndexError, lambda a: mx.take(mx.array(1), ix([0]), axis=0)),
    ("along axis", IndexError, lambda a: mx.take_along_axis(a, ix([[0]]), axis=2)),
    ("along ndim", ValueError, lambda a: mx.take_along_axis(a, ix([0]), axis=1)),
    ("along None 2-d", ValueError, lambda a: mx.take_along_axis(a, ix([[0]]), axis=None)),
    ("along shape", ValueError, lambda a: mx.take_along_axis(a, ix(np.zeros((2, 1))), axis=1)),
    ("along list", TypeError, lambda a: mx.take_along_axis(a, [[0]], axis=1)),
    # MLX fails at evaluation with RuntimeError; lmx checks index dtypes up front.
    ("along float index", RuntimeError if BACKEND == "mlx" else ValueError, lambda a: mx.take_along_axis(a, mx.array([[0.0]]), axis=1)),
    ("put axis", IndexError, lambda a: mx.put_along_axis(a, ix([[0]]), mx.array(1.0), axis=-3)),
    ("put ndim", ValueError, lambda a: mx.put_along_axis(a, ix([0]), mx.array(1.0), axis=1)),
    ("put values", ValueError, lambda a: mx.put_along_axis(a, ix([[0]]), mx.ones((5, 5)), axis=1)),
    ("put scalar value", TypeError, lambda a: mx.put_along_axis(a, ix([[0]]), 1.0, axis=1)),
    ("put float index", RuntimeError if BACKEND == "mlx" else ValueError, lambda a: mx.put_along_axis(a, mx.array([[0.0]]), a, axis=1)),
    ("read float array", ValueError, lambda a: a[mx.array([0.0])]),
    ("read float 0-d", ValueError, lambda a: a[mx.array(1.0)]),
    ("read complex", ValueError, lambda a: a[mx.array([1j])]),
    ("read float list", ValueError, lambda a: a[[0, 1.0]]),
    ("read too many", ValueError, lambda a: a[ix([0]), ix([0]), ix([0])]),
    ("read too many mixed", ValueError, lambda a: a[0, ix([0]), 0]),
    ("read 0-d array", ValueError, lambda a: mx.array(3)[ix([0])]),
    ("read broadcast", ValueError, lambda a: a[ix([0, 1]), ix([0, 1, 2])]),
    ("read ragged list", ValueError, lambda a: a[[[0], [1, 2]]]),
    ("slice float start", ValueError, lambda a: mx.slice(a, mx.array([1.0]), (0,), (1, 4))),
    ("slice axis", IndexError, lambda a: mx.slice(a, ix([0]), (2,), (1, 4))),
    ("slice size", ValueError, lambda a: mx.slice(a, ix([0]), (0,), (4, 4))),
    ("slice size len", ValueError, lambda a: mx.slice(a, ix([0]), (0,), (1,))),
    ("slice starts", ValueError, lambda a: mx.slice(a, ix([0, 1]), (0,), (1, 4))),
    ("slice list", TypeError, lambda a: mx.slice(a, [0], (0,), (1, 4))),
    ("update float start", ValueError, lambda a: mx.slice_update(a, a[:1], mx.array([0.0]), (0,))),
    ("update axis", IndexError, lambda a: mx.slice_update(a, mx.ones((1, 4)), ix([0]), (3,))),
    ("update too big", ValueError, lambda a: mx.slice_update(a, mx.ones((4, 4)), ix([0]), (0,))),
    ("update scalar", TypeError, lambda a: mx.slice_update(a, 1.0, ix([0]), (0,))),
    ("write float index", ValueError, lambda a: _set(a, mx.array([0.0]), 1)),
    ("write numpy index", ValueError, lambda a: _set(a, np.array([0]), 1)),
    ("write empty list", ValueError, lambda a: _set(a, [], 1)),
    ("write too many", ValueError, lambda a: _set(a, (ix([0]), 0, 0), 1)),
    ("write shape", ValueError, lambda a: _set(a, ix([0, 2]), mx.ones((3,)))),
    ("write shape 2", ValueError, lambda a: _set(a, (slice(None), ix([0, 1])), mx.ones((2, 3)))),
    ("write broadcast", ValueError, lambda a: _set(a, (ix([0, 1]), ix([0, 1, 2])), 1)),
    ("at float index", ValueError, lambda a: a.at[mx.array([0.0])].add(1)),
    ("at numpy index", ValueError, lambda a: a.at[np.array([0])].add(1)),
    ("at too many", ValueError, lambda a: a.at[0, 0, 0].add(1)),
    ("at shape", ValueError, lambda a: a.at[ix([0, 1])].add(mx.ones((3,)))),
]  # fmt: skip


@pytest.mark.parametrize("exc, f", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(exc, f):
    raises(exc, lambda: f(mx.zeros((3, 4))))


# MLX does not bounds-check integer array indices (it reads or writes stray
# memory), so these are checked for lmx only.
OOB = [
    lambda a: mx.take(a, ix([0, 3]), axis=0), lambda a: mx.take(a, ix([-5]), axis=1),
    lambda a: mx.take(a, ix([12])), lambda a: mx.take(a, 4, axis=1),
    lambda a: mx.take_along_axis(a, ix([[4]]), axis=1),
    lambda a: mx.take_along_axis(a, ix([-13]), axis=None),
    lambda a: mx.put_along_axis(a, ix([[3]]), mx.array(1.0), axis=0),
    lambda a: a[ix([1, 3])], lambda a: a[:, ix([-5])], lambda a: a[ix([0]), ix([4])],
    lambda a: _set(a, ix([0, 3]), 1.0), lambda a: _set(a, (slice(None), ix([-5])), 1.0),
    lambda a: a.at[ix([3])].add(1), lambda a: a.at[:, ix([0, 4])].maximum(1),
]  # fmt: skip


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX does not bounds-check array indices")
@pytest.mark.parametrize("f", OOB)
def test_out_of_range_indices(f):
    raises(IndexError, lambda: f(mx.zeros((3, 4))))
