"""Matrix products vs NumPy.

matmul and @, addmm, tensordot, inner, outer, vecdot, kron, einsum and
einsum_path, plus the fused block_masked_mm, gather_mm, segmented_mm and
hadamard_transform.
"""

import math

import numpy as np
import pytest

from conftest import ALL_DTYPES, BACKEND, INT_DTYPES, mx, to_numpy

INTLIKE = ["bool_", *INT_DTYPES]
# matmul accepts inexact dtypes only.
MATMUL_DTYPES = ["float16", "bfloat16", "float32", "float64", "complex64"]
EPS = {"float16": 2**-10, "bfloat16": 2**-7, "float32": 2**-23, "float64": 2**-52,
       "complex64": 2**-23}


def dtype_name(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def requires(name):
    """Functions newer than some MLX builds: skipped there, required of lmx."""
    return pytest.mark.skipif(
        BACKEND == "mlx" and not hasattr(mx, name), reason=f"mlx lacks {name}"
    )


def wide(x):
    kinds = {"c": np.complex128, "f": np.float64, "b": np.bool_}
    return x.astype(kinds.get(x.dtype.kind, np.int64))


def make(rng, dtype, shape):
    """(mx array, NumPy copy widened for an exact reference)."""
    if dtype == "bool_":
        x = rng.random(shape) < 0.5
    elif dtype in INT_DTYPES:
        x = rng.integers(0 if dtype.startswith("u") else -3, 4, shape)
    else:
        x = rng.uniform(-1, 1, shape)
        if dtype == "complex64":
            x = x + 1j * rng.uniform(-1, 1, shape)
    a = mx.array(np.asarray(x)).astype(getattr(mx, dtype))
    return a, wide(to_numpy(a))


def check_close(got, expected, dtype, k=1, mag=1.0):
    """Compare a sum of k products of O(1) numbers (times mag) with NumPy.

    The rounding error of such a sum grows like sqrt(k) in units of the
    dtype's epsilon, so the absolute allowance scales with sqrt(k).
    """
    assert dtype_name(got.dtype) == dtype
    got_np = to_numpy(got)
    assert got_np.shape == np.shape(expected)
    if dtype in INTLIKE:
        np.testing.assert_array_equal(got_np, np.asarray(expected).astype(got_np.dtype))
        return
    eps = EPS[dtype]
    factor = 4 if dtype in ("float16", "bfloat16") else 64
    atol = factor * eps * math.sqrt(max(k, 1)) * mag
    np.testing.assert_allclose(got_np, expected, rtol=2 * eps, atol=atol)


def _contracted(x, y, out):
    """Number of products summed per output element of a contraction."""
    return round(math.sqrt(x.size * y.size / max(np.size(out), 1)))


# ---- matmul ----------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4,)),  # 1-D @ 1-D: a 0-d dot product
    ((4,), (4, 5)),  # 1-D left operand: a row vector, then squeezed
    ((3, 4), (4,)),  # 1-D right operand: a column vector, then squeezed
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # batch dims broadcast
    ((3, 4), (2, 4, 5)),
    ((1, 3, 4), (2, 4, 5)),
    ((1, 1), (1, 1)),
    ((33, 65), (65, 17)),
    ((9, 300), (300, 7)),
    ((0, 4), (4, 5)),
    ((3, 0), (0, 5)),  # K = 0: zeros
    ((0,), (0,)),
    ((2, 0, 3, 4), (4, 5)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", MATMUL_DTYPES)
def test_matmul(dtype, shapes, rng):
    (a, x), (b, y) = make(rng, dtype, shapes[0]), make(rng, dtype, shapes[1])
    expected = np.matmul(x, y)
    check_close(mx.matmul(a, b), expected, dtype, k=shapes[0][-1])
    check_close(a @ b, expected, dtype, k=shapes[0][-1])


# name: (a base shape, b base shape, view of a, view of b); m is np or mx.
VIEWS = {
    "transposed": ((4, 3), (5, 4), lambda m, v: v.T, lambda m, v: v.T),
    "strided": ((6, 8), (8, 10), lambda m, v: v[::2, ::2], lambda m, v: v[::2, 1::2]),
    "reversed": ((3, 4), (4, 5), lambda m, v: v[::-1], lambda m, v: v[:, ::-1]),
    "batch_swapped": ((2, 4, 3), (2, 5, 4), lambda m, v: m.swapaxes(v, -1, -2),
                      lambda m, v: m.swapaxes(v, -1, -2)),
    "batch_permuted": ((3, 2, 4), (4, 2, 5), lambda m, v: m.transpose(v, (1, 0, 2)),
                       lambda m, v: m.transpose(v, (1, 0, 2))),
    "broadcast_view": ((2, 3, 4), (4, 5), lambda m, v: v,
                       lambda m, v: m.broadcast_to(v, (2, 4, 5))),
    "row_slice": ((5, 4), (4, 9), lambda m, v: v[1:4], lambda m, v: v[:, 2:7]),
}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64"])
def test_matmul_non_contiguous(dtype, view, rng):
    sa, sb, va, vb = VIEWS[view]
    (a, x), (b, y) = make(rng, dtype, sa), make(rng, dtype, sb)
    a, x, b, y = va(mx, a), va(np, x), vb(mx, b), vb(np, y)
    check_close(a @ b, x @ y, dtype, k=x.shape[-1])


# Integers are fine next to an inexact operand; note float64 + complex64.
PROMOTIONS = [
    ("int32", "float16", "float16"), ("uint8", "bfloat16", "bfloat16"),
    ("int64", "float16", "float16"), ("bool_", "float32", "float32"),
    ("float16", "bfloat16", "float32"), ("float32", "float64", "float64"),
    ("bfloat16", "float64", "float64"), ("float64", "complex64", "complex64"),
    ("float32", "complex64", "complex64"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("m,n,k", [(301, 67, 129), (67, 301, 129), (9, 700, 97)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_large_products_split_over_threads(m, n, k, ta, tb, dtype, rng):
    # Products past the split threshold are cut into blocks of C's rows (tall
    # C) or columns (wide C) run side by side: every transpose, and operands
    # that are column slices of wider arrays (leading dims past the width).
    def operand(rows, cols, t):
        x = rng.standard_normal((cols, rows + 5) if t else (rows, cols + 5))
        if dtype == "complex64":
            x = x + 1j * rng.standard_normal(x.shape)
        x = x.astype(dtype)
        xm = mx.array(x, dtype=getattr(mx, dtype))
        return (x[:, :rows].T, xm[:, :rows].T) if t else (x[:, :cols], xm[:, :cols])

    a, am = operand(m, k, ta)
    b, bm = operand(k, n, tb)
    tol = 1e-4 if dtype != "float64" else 1e-10
    np.testing.assert_allclose(to_numpy(am @ bm), a @ b, rtol=tol, atol=tol * k)


@pytest.mark.parametrize("da,db,out", PROMOTIONS)
def test_matmul_mixed_dtypes_promote(da, db, out, rng):
    (a, x), (b, y) = make(rng, da, (3, 4)), make(rng, db, (4, 2))
    got = mx.matmul(a, b)
    assert dtype_name(got.dtype) == out
    np.testing.assert_allclose(to_numpy(got), x @ y, rtol=2e-2, atol=5e-2)


@pytest.mark.parametrize("dtype", INTLIKE)
def test_matmul_rejects_integer_and_bool(dtype):
    a = mx.ones((2, 3), dtype=getattr(mx, dtype))
    if BACKEND == "lmx" and dtype != "bool_":
        # lmx multiplies integer matrices exactly (MLX refuses them).
        for fn in (mx.matmul, lambda p, q: p @ q):
            got = fn(a, a.T)
            assert got.dtype == a.dtype and to_numpy(got).tolist() == [[3, 3], [3, 3]]
        return
    for fn in (mx.matmul, lambda p, q: p @ q):
        with pytest.raises(ValueError):
            fn(a, a.T)
    with pytest.raises(ValueError):
        mx.matmul(mx.ones((2, 0), dtype=a.dtype), mx.ones((0, 2), dtype=a.dtype))


def test_matmul_half_precision_accumulates_in_float32():
    # Summing 4096 ones in float16 (or 1024 in bfloat16) would stall at 2048 (256).
    for dtype, k in ((mx.float16, 4096), (mx.bfloat16, 1024)):
        got = mx.ones((1, k), dtype=dtype) @ mx.ones((k, 1), dtype=dtype)
        assert got.dtype == dtype and to_numpy(got).item() == k


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
@pytest.mark.parametrize("x_shape,n", [((1, 1, 256), 300), ((2, 3, 100), 7), ((8, 64), 1), ((1, 13), 5),
                                       ((9, 24), 6), ((2, 1, 40), 3)], ids=str)
def test_matmul_decode_shaped(dtype, x_shape, n, rng):
    # x @ w.T: a few rows stream the weight row by row (16-bit weights as
    # they are; k with and without a tail of 8; the weight broadcast over x's
    # batch); more rows (9) and a batched weight take gemm. Both accumulate
    # in float32 and round once.
    k = x_shape[-1]
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    xa, wa = mx.array(x).astype(getattr(mx, dtype)), mx.array(w).astype(getattr(mx, dtype))
    as64 = lambda a: to_numpy(a.astype(mx.float32)).astype(np.float64)  # noqa: E731
    want = as64(xa) @ as64(wa).T
    got = xa @ wa.T
    assert got.dtype == getattr(mx, dtype) and got.shape == want.shape
    eps = max(EPS[dtype], 2**-20)  # float32: summation order moves the last bits
    tol = dict(rtol=2 * eps, atol=8 * eps * math.sqrt(k))
    np.testing.assert_allclose(to_numpy(got.astype(mx.float32)), want, **tol)
    if len(x_shape) == 3:  # one weight per batch entry
        w3 = mx.stack([wa] * x_shape[0])
        np.testing.assert_allclose(to_numpy((xa @ mx.swapaxes(w3, -1, -2)).astype(mx.float32)), want, **tol)


@pytest.mark.parametrize(
    "sa,sb",
    [((2, 3), (4, 3)), ((3,), (4,)), ((), (3,)), ((3,), ()), ((4, 2, 2, 3), (5, 3, 2))],
    ids=str,
)
def test_matmul_shape_errors(sa, sb):
    a, b = mx.ones(sa), mx.ones(sb)
    with pytest.raises(ValueError):
        mx.matmul(a, b)
    with pytest.raises(ValueError):
        a @ b


def test_matmul_rejects_non_arrays():
    a = mx.ones((2, 3))
    for other in ([[1.0], [2.0], [3.0]], np.ones((3, 1), np.float32), 2.0):
        with pytest.raises(TypeError):
            mx.matmul(a, other)
        with pytest.raises(TypeError):
            a @ other


# ---- addmm -----------------------------------------------------------------

# (a shape, b shape, c shape): c broadcasts to the product's shape.
ADDMM_SHAPES = [
    ((3, 4), (4, 5), (3, 5)), ((3, 4), (4, 5), (5,)), ((3, 4), (4, 5), ()),
    ((3, 4), (4, 5), (3, 1)), ((2, 3, 4), (4, 5), (3, 5)),
    ((2, 3, 4), (2, 4, 5), (2, 1, 5)), ((4,), (4, 5), (5,)), ((3, 4), (4,), (3,)),
    ((4,), (4,), ()), ((3, 0), (0, 5), (3, 5)), ((17, 70), (70, 9), (9,)),
]


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5), (-1.5, 0.0), (0.0, 2.0)])
@pytest.mark.parametrize("shapes", ADDMM_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", MATMUL_DTYPES)
def test_addmm(dtype, shapes, alpha, beta, rng):
    (c, z), (a, x), (b, y) = (make(rng, dtype, s) for s in (shapes[2], shapes[0], shapes[1]))
    got = mx.addmm(c, a, b, alpha=alpha, beta=beta)
    expected = alpha * np.matmul(x, y) + beta * z
    check_close(got, expected, dtype, k=shapes[0][-1], mag=abs(alpha) + abs(beta))


def test_addmm_defaults_dtypes_and_errors(rng):
    (c, z), (a, x), (b, y) = (make(rng, "float32", s) for s in ((2, 2), (2, 3), (3, 2)))
    check_close(mx.addmm(c, a, b), x @ y + z, "float32", k=3)
    check_close(mx.addmm(c, a, b, 3, 2), 3 * (x @ y) + 2 * z, "float32", k=3, mag=5)
    ones = mx.ones((2, 2), dtype=mx.int32)
    assert mx.addmm(ones, a, b).dtype == mx.float32  # integer c promotes
    assert mx.addmm(c, ones, ones).dtype == mx.float32
    assert mx.addmm(c, a.astype(mx.float16), b.astype(mx.float16)).dtype == mx.float32
    if BACKEND == "lmx":
        assert mx.addmm(ones, ones, ones).tolist() == [[3, 3], [3, 3]]  # exact integers
    else:
        with pytest.raises(ValueError):
            mx.addmm(ones, ones, ones)  # integer result
    for cs, sa, sb in [((3,), (3,), (3,)), ((5, 2, 2), (2, 3), (3, 2)),
                       ((3, 2), (2, 3), (3, 2)), ((2, 2), (2, 3), (4, 2))]:
        with pytest.raises(ValueError):
            mx.addmm(mx.ones(cs), mx.ones(sa), mx.ones(sb))
    with pytest.raises(TypeError):
        mx.addmm(1.0, a, b)


# ---- tensordot / inner / outer / vecdot / kron ------------------------------

TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 5), 1),
    ((2, 3), (4, 5), 0),
    ((3,), (3,), 1),
    ((2, 3, 4), (4, 3, 5), [[1, 2], [1, 0]]),
    ((2, 3, 4), (4, 3, 5), [[-2, -1], [1, 0]]),
    ((2, 3, 4), (4, 3, 5), ([2], [0])),
    ((4, 3), (4, 5), [[0], [0]]),
]


@pytest.mark.parametrize("case", TENSORDOT_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float16", "float32", "complex64"])
def test_tensordot(dtype, case, rng):
    sa, sb, axes = case
    (a, x), (b, y) = make(rng, dtype, sa), make(rng, dtype, sb)
    expected = np.tensordot(x, y, axes=axes)
    k = _contracted(x, y, expected)
    check_close(mx.tensordot(a, b, axes=axes), expected, dtype, k=k)
    if axes == 2:
        check_close(mx.tensordot(a, b), expected, dtype, k=k)  # default axes=2


def test_tensordot_errors():
    a, b = mx.ones((2, 3, 4)), mx.ones((4, 3, 5))
    for axes in ([[1], [0]], [[1, 2], [1]], 4, -1):
        with pytest.raises(ValueError):
            mx.tensordot(a, b, axes=axes)
    with pytest.raises(TypeError):
        mx.tensordot(a, b, axes=[1, 0])
    ints = (mx.ones((2, 3), dtype=mx.int32), mx.ones((3,), dtype=mx.int32))
    if BACKEND == "lmx":
        assert mx.tensordot(*ints, axes=1).tolist() == [3, 3]
    else:
        with pytest.raises(ValueError):  # contracts with matmul: no integers
            mx.tensordot(*ints, axes=1)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 3), (3,)),
                                   ((2, 2, 3), (4, 3)), ((), (3,))], ids=str)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64"])
def test_inner(dtype, sa, sb, rng):
    (a, x), (b, y) = make(rng, dtype, sa), make(rng, dtype, sb)
    expected = np.inner(x, y)
    check_close(mx.inner(a, b), expected, dtype, k=_contracted(x, y, expected))


def test_inner_integers_and_errors():
    i = mx.array([1, 2, 3])
    check_close(mx.inner(mx.array(2), i), [2, 4, 6], "int32")  # 0-d: a product
    if BACKEND == "lmx":
        assert mx.inner(i, i).item() == 14  # exact integer products
    else:
        with pytest.raises(ValueError):
            mx.inner(i, i)  # contracts with matmul: no integers
    with pytest.raises(ValueError):
        mx.inner(mx.ones((2, 3)), mx.ones((2,)))


@pytest.mark.parametrize("sa,sb", [((3,), (2,)), ((3, 2), (2,)), ((), (2,)), ((0,), (2,))],
                         ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_outer(dtype, sa, sb, rng):
    (a, x), (b, y) = make(rng, dtype, sa), make(rng, dtype, sb)
    check_close(mx.outer(a, b), np.outer(x, y), dtype)  # inputs are flattened


def _sum_dtype(d):
    return {"bool_": "int32", "int8": "int32", "int16": "int32", "uint8": "uint32",
            "uint16": "uint32"}.get(d, d)


@requires("vecdot")
@pytest.mark.parametrize("sa,sb,axis", [((2, 3), (2, 3), -1), ((2, 3), (1, 3), -1),
                                        ((2, 3), (2, 1), 0), ((3,), (3,), 0),
                                        ((2, 3, 4), (2, 3, 4), 1)], ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_vecdot(dtype, sa, sb, axis, rng):
    (a, x), (b, y) = make(rng, dtype, sa), make(rng, dtype, sb)
    if dtype == "bool_":
        x, y = x.astype(np.int64), y.astype(np.int64)
    # The first operand is conjugated; integers sum with sum's promotions.
    expected = np.sum(np.conj(x) * y, axis=axis)
    check_close(mx.vecdot(a, b, axis=axis), expected, _sum_dtype(dtype), k=4)


@requires("vecdot")
def test_vecdot_complex_and_errors():
    got = mx.vecdot(mx.array([1 + 2j, 3j]), mx.array([2 + 1j, 1 - 1j]))
    assert to_numpy(got).item() == 1 - 6j
    with pytest.raises(ValueError):
        mx.vecdot(mx.ones((2, 3)), mx.ones((2, 4)))
    with pytest.raises(ValueError):
        mx.vecdot(mx.array(2.0), mx.array(3.0))
    with pytest.raises(IndexError):
        mx.vecdot(mx.ones((2, 3)), mx.ones((2, 3)), axis=2)


@pytest.mark.parametrize("sa,sb", [((2, 2), (2, 2)), ((2,), (2, 3)), ((), (2, 2)),
                                   ((2, 2, 2), (3,)), ((), ()), ((2, 3), (3, 1, 2))], ids=str)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_kron(dtype, sa, sb, rng):
    (a, x), (b, y) = make(rng, dtype, sa), make(rng, dtype, sb)
    check_close(mx.kron(a, b), np.kron(x, y), dtype)


def test_kron_promotes_and_rejects_empty():
    got = mx.kron(mx.array([1, 2], dtype=mx.uint8), mx.array([1.5, 2.0]))
    check_close(got, [1.5, 2.0, 3.0, 4.0], "float32")
    with pytest.raises(ValueError):
        mx.kron(mx.ones((2, 0)), mx.ones((3, 2)))


# ---- einsum ----------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", (2, 3), (3, 4)),
    ("ij,jk", (2, 3), (3, 4)),  # implicit output: once-used indices, sorted
    ("ba,cb", (2, 3), (4, 2)),
    ("ij,jk->ki", (2, 3), (3, 4)),
    ("ij, jk -> ik", (2, 3), (3, 4)),
    ("Ab,bC->AC", (2, 3), (3, 4)),
    ("ii", (3, 3)),  # trace
    ("ii->i", (3, 3)),  # diagonal
    ("iij->j", (3, 3, 2)),
    ("ij->", (2, 3)),
    ("ij->j", (2, 3)),
    ("ji", (2, 3)),  # implicit transpose
    ("ijk->kji", (3, 3, 2)),
    ("i,i", (3,), (3,)),
    ("i,j", (3,), (2,)),
    ("i,i->i", (3,), (3,)),
    ("ij,ij->i", (2, 3), (2, 3)),
    ("bij,bjk->bik", (5, 2, 3), (5, 3, 4)),
    ("...ij,...jk->...ik", (5, 2, 3), (5, 3, 4)),
    ("...ij,...jk", (5, 2, 3), (3, 4)),
    ("i...->...", (5, 2, 3)),
    ("...i->...", (5, 2, 3)),
    ("ij...,jk...->ik...", (2, 3, 5), (3, 4, 5)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)),
    ("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5)),
    ("i,->i", (3,), ()),
    (",->", (), ()),
]


@pytest.mark.parametrize("case", EINSUM_CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "complex64"])
def test_einsum(dtype, case, rng):
    subscripts, *shapes = case
    ops = [make(rng, dtype, s) for s in shapes]
    got = mx.einsum(subscripts, *(a for a, _ in ops))
    expected = np.einsum(subscripts, *(x for _, x in ops))
    check_close(got, expected, dtype, k=15)


def test_einsum_integers():
    m = mx.array([[1, 2], [3, 4]], dtype=mx.int8)
    check_close(mx.einsum("ii->i", m), [1, 4], "int8")  # no contraction needed
    check_close(mx.einsum("ij->i", m), [3, 7], "int32")  # a sum: sum's dtype
    check_close(mx.einsum("ij,ij->ij", m, m), [[1, 4], [9, 16]], "int8")
    if BACKEND == "lmx":  # exact integer contractions (MLX refuses them)
        check_close(mx.einsum("ij,jk->ik", m, m), [[7, 10], [15, 22]], "int8")
        return
    with pytest.raises(ValueError):
        mx.einsum("ij,jk->ik", m, m)  # contractions use matmul


@pytest.mark.parametrize(
    "subscripts,shapes",
    [
        ("ij,jk->ik", [(2, 3)]),  # too few operands
        ("ijk,jk->ik", [(2, 3), (3, 4)]),  # subscripts vs ndim
        ("ij,jk->iik", [(2, 3), (3, 4)]),  # repeated output index
        ("ij,jk->ik", [(2, 3), (4, 4)]),  # size mismatch
        ("ij,jk->il", [(2, 3), (3, 4)]),  # output index absent from inputs
    ],
)
def test_einsum_errors(subscripts, shapes):
    with pytest.raises(ValueError):
        mx.einsum(subscripts, *(mx.ones(s) for s in shapes))


@pytest.mark.parametrize("subscripts,shapes", [("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
                                               ("ij,jk->ik", [(2, 3), (3, 4)])])
def test_einsum_path(subscripts, shapes):
    path, info = mx.einsum_path(subscripts, *(mx.ones(s) for s in shapes))
    assert isinstance(info, str) and subscripts in info
    assert len(path) == len(shapes) - 1
    remaining = len(shapes)
    for step in path:  # each step contracts operands still in the list
        assert all(0 <= i < remaining for i in step)
        remaining -= len(step) - 1
    assert remaining == 1


# ---- fused products --------------------------------------------------------

def _expand(mask, block, rows, cols):
    return np.repeat(np.repeat(mask, block, -2), block, -1)[..., :rows, :cols]


@requires("block_masked_mm")
@pytest.mark.parametrize("block", [32, 64])
@pytest.mark.parametrize("float_masks", [False, True])
def test_block_masked_mm(block, float_masks, rng):
    (a, x), (b, y) = make(rng, "float32", (2, 40, 70)), make(rng, "float32", (70, 20))
    nm, nk, nn = (-(-d // block) for d in (40, 70, 20))

    def mask(shape):
        m = rng.random(shape) < 0.6
        return m * rng.uniform(0.5, 2, shape) if float_masks else m

    mo, ml, mr = mask((2, nm, nn)) > 0, mask((2, nm, nk)), mask((nk, nn))
    got = mx.block_masked_mm(a, b, block, mx.array(mo), mx.array(ml), mx.array(mr))
    expected = (x * _expand(ml, block, 40, 70)) @ (y * _expand(mr, block, 70, 20))
    check_close(got, expected * _expand(mo, block, 40, 20), "float32", k=70, mag=4)
    check_close(mx.block_masked_mm(a, b, block), x @ y, "float32", k=70)
    with pytest.raises(ValueError):
        mx.block_masked_mm(a.astype(mx.int32), b.astype(mx.int32), block)


@requires("gather_mm")
def test_gather_mm(rng):
    (a, x), (b, y) = make(rng, "float32", (3, 2, 4)), make(rng, "float32", (5, 4, 3))
    li, ri = np.array([0, 2, 1, 2]), np.array([4, 1, 1, 0])
    expected = np.stack([x[i] @ y[j] for i, j in zip(li, ri)])
    for dt in (mx.uint32, mx.int32):
        got = mx.gather_mm(a, b, mx.array(li).astype(dt), mx.array(ri).astype(dt))
        check_close(got, expected, "float32", k=4)
    got = mx.gather_mm(a, b, mx.array(np.sort(li)), mx.array(ri), sorted_indices=True)
    check_close(got, np.stack([x[i] @ y[j] for i, j in zip(np.sort(li), ri)]), "float32", k=4)
    # Index arrays broadcast against each other; a missing one means no gather.
    got = mx.gather_mm(a, b, mx.array([[0], [2]]), mx.array([4, 1]))
    check_close(got, x[[[0], [2]]] @ y[[4, 1]], "float32", k=4)
    check_close(mx.gather_mm(a[0], b, None, mx.array(ri)), x[0] @ y[ri], "float32", k=4)
    check_close(mx.gather_mm(a, b[:3]), x @ y[:3], "float32", k=4)
    with pytest.raises(ValueError):
        mx.gather_mm(a, b, mx.array([0.0, 1.0]), mx.array(ri[:2]))
    with pytest.raises(ValueError):
        mx.gather_mm(a, b, mx.array([0, 1, 2]), mx.array(ri))


@requires("segmented_mm")
def test_segmented_mm(rng):
    (a, x), (b, y) = make(rng, "float32", (3, 10)), make(rng, "float32", (10, 4))
    segments = np.array([[0, 3], [3, 10], [2, 8], [5, 5], [7, 2]])
    expected = np.stack([x[:, s:e] @ y[s:e] for s, e in segments])  # e <= s: zeros
    got = mx.segmented_mm(a, b, mx.array(segments).astype(mx.uint32))
    check_close(got, expected, "float32", k=10)
    got = mx.segmented_mm(a, b, mx.array(segments.reshape(5, 1, 2)))
    check_close(got, expected.reshape(5, 1, 3, 4), "float32", k=10)
    with pytest.raises(ValueError):
        mx.segmented_mm(a, b, mx.array([0, 3, 10]))


def _sylvester(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@requires("hadamard_transform")
@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 256])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_hadamard_transform(dtype, n, rng):
    a, x = make(rng, dtype, (3, n))
    h, r = _sylvester(n), 1 / math.sqrt(n)  # the default scale is orthonormal
    check_close(mx.hadamard_transform(a), r * x @ h.T, dtype, k=n, mag=r)
    check_close(mx.hadamard_transform(a, scale=0.5), 0.5 * x @ h.T, dtype, k=n, mag=0.5)
    b, y = make(rng, dtype, (n, 2))  # a transposed (non-contiguous) operand
    check_close(mx.hadamard_transform(b.T), r * y.T @ h.T, dtype, k=n, mag=r)


@requires("hadamard_transform")
def test_hadamard_transform_other_sizes_and_errors():
    for n in (12, 20, 28, 40, 112):  # m * 2^k: still orthonormal, entries +-1/sqrt(n)
        t = to_numpy(mx.hadamard_transform(mx.eye(n)))
        np.testing.assert_allclose(t @ t.T, np.eye(n), atol=1e-5)
        np.testing.assert_allclose(np.abs(t) * math.sqrt(n), 1.0, rtol=1e-5)
    got = mx.hadamard_transform(mx.array([1, 1, 1, 1]))
    check_close(got, [2.0, 0.0, 0.0, 0.0], "float32")  # integers give float32
    check_close(mx.hadamard_transform(mx.ones((2, 4)).T), np.full((4, 2), [2 ** 0.5, 0]),
                "float32")
    for bad in (mx.ones((6,)), mx.ones((4,), dtype=mx.float64)):
        with pytest.raises(ValueError):  # MLX raises these when evaluating
            mx.eval(mx.hadamard_transform(bad))


def test_matmul_shared_matrix_against_a_batch_grad_and_vmap(rng):
    # x (..., M, K) @ w (K, N): the w every batch entry shares gets the sum of
    # the entries' gradients; vmap over x keeps w shared.
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((5, 6)).astype(np.float32)
    g = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)

    def loss(a, b):
        return mx.sum(mx.matmul(a, b) * mx.array(g))

    gx, gw = mx.grad(loss, argnums=(0, 1))(mx.array(x), mx.array(w))
    np.testing.assert_allclose(to_numpy(gx), g @ w.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(gw), np.einsum("abmk,abmn->kn", x, g), rtol=1e-5, atol=1e-4)
    out = mx.vmap(lambda a: a @ mx.array(w))(mx.array(x))
    np.testing.assert_allclose(to_numpy(out), x @ w, rtol=1e-5, atol=1e-5)
    # Through the transpose nn.Linear uses, with a 16-bit batch.
    wt = mx.array(w.T.copy()).astype(mx.bfloat16)
    got = mx.array(x).astype(mx.bfloat16) @ wt.T
    want = x.astype(np.float32) @ to_numpy(wt.astype(mx.float32)).T
    np.testing.assert_allclose(to_numpy(got.astype(mx.float32)), want, rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("a_axis", [None, 0, 2])
@pytest.mark.parametrize("b_axis", [0, 1, 2])
def test_vmap_over_a_shared_matrix(a_axis, b_axis, rng):
    # Inside vmap a batched a meets a 2-D b, the matrix shared over a's
    # batch; mapping b must pair each of its matrices with the same index of
    # the mapped axis, not with a's own batch dim (here of the same size).
    n = 3
    x = rng.standard_normal((n, n, 4, 5)).astype(np.float32)
    ws = rng.standard_normal((n, 5, 6)).astype(np.float32)
    xs = x if a_axis is None else np.moveaxis(np.stack([x + i for i in range(n)]), 0, a_axis)
    wm = np.moveaxis(ws, 0, b_axis)
    out = mx.vmap(lambda a, b: a @ b, in_axes=(a_axis, b_axis))(mx.array(xs), mx.array(wm))
    want = np.stack([(x if a_axis is None else x + i) @ ws[i] for i in range(n)])
    np.testing.assert_allclose(to_numpy(out), want, rtol=1e-5, atol=1e-4)


# Views of a (3, 4, 9, 7) batch whose matrices meet a shared (k, 6) matrix:
# those whose rows follow one another run as one tall product, the rest per
# batch entry; both must agree with NumPy.
BATCH_VIEWS = {
    "contiguous": lambda m, v: v,
    "column_slice": lambda m, v: v[..., :5],
    "batch_stride": lambda m, v: v[:, ::2],
    "batch_permuted": lambda m, v: m.swapaxes(v, 0, 1),
    "single_rows": lambda m, v: v[:, :, 4:5],
    "unit_batch_dim": lambda m, v: v[:1],
    "broadcast_batch": lambda m, v: m.broadcast_to(v[:1], (3, 4, 9, 7)),
    "transposed_rows": lambda m, v: m.swapaxes(v, -1, -2),
}


@pytest.mark.parametrize("view", list(BATCH_VIEWS))
@pytest.mark.parametrize("weight_transposed", [False, True])
def test_matmul_batch_against_shared_matrix_layouts(view, weight_transposed, rng):
    x = rng.standard_normal((3, 4, 9, 7)).astype(np.float32)
    xv, av = BATCH_VIEWS[view](np, x), BATCH_VIEWS[view](mx, mx.array(x))
    k = xv.shape[-1]
    w = rng.standard_normal((6, k) if weight_transposed else (k, 6)).astype(np.float32)
    wv = w.T if weight_transposed else w
    wm = mx.array(w).T if weight_transposed else mx.array(w)
    np.testing.assert_allclose(to_numpy(av @ wm), xv @ wv, rtol=1e-5, atol=1e-5)
