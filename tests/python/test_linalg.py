"""mx.linalg vs numpy.linalg.

Factorizations are checked through what defines them (Q @ R == A, A @ V ==
V @ diag(w), ...) as their factors are unique only up to signs or phases.
MLX runs most linalg only on a CPU stream, so calls pass stream=mx.cpu.
Inputs are well conditioned (R + n*I, R @ R^H + n*I): tolerances are a fixed
multiple of the dtype's epsilon.
"""

import numpy as np
import pytest

from conftest import mx, to_numpy

LA = mx.linalg
CPU = {"stream": mx.cpu}
INF = float("inf")
EPS = {"float32": 2.0**-23, "float64": 2.0**-52, "complex64": 2.0**-23}
REAL = {"float32": "float32", "float64": "float64", "complex64": "float32"}

FUNCTIONS = {
    "norm", "qr", "svd", "inv", "tri_inv", "cholesky", "cholesky_inv", "pinv", "lu",
    "lu_factor", "solve", "solve_triangular", "cross", "eig", "eigvals", "eigh",
    "eigvalsh", "det", "slogdet",
}
SQUARE = [(5, 5), (2, 3, 4, 4)]
RECT = [(5, 5), (6, 4), (4, 6), (2, 3, 5, 3)]
TRANSPOSED = pytest.mark.parametrize("transposed", [False, True], ids=["contig", "transposed"])


def dname(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def arr(x, dtype="float32", transposed=False):
    """x as an mx array of dtype; transposed makes it a non-contiguous view."""
    x = np.swapaxes(x, -1, -2) if transposed else np.asarray(x)
    # mx.array(float64 data) alone would round to float32.
    a = mx.array(x, dtype=mx.float64) if dtype == "float64" else mx.array(x).astype(getattr(mx, dtype))
    return a.swapaxes(-1, -2) if transposed else a


def ref(a):
    """Widened NumPy copy of an mx array: the exact input the reference sees."""
    x = to_numpy(a)
    return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)


def mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


def is_identity(x, dtype):
    close(x, np.broadcast_to(np.eye(x.shape[-1]), x.shape), dtype)


def rand(rng, shape, dtype):
    x = rng.uniform(-1, 1, shape)
    return x + 1j * rng.uniform(-1, 1, shape) if dtype == "complex64" else x


def general(rng, shape, dtype="float32"):
    """Square, diagonally dominated, so the condition number is O(1)."""
    return rand(rng, shape, dtype) + shape[-1] * np.eye(shape[-1])


def spd(rng, shape, dtype="float32"):
    x = rand(rng, shape, dtype)
    return x @ mH(x) + shape[-1] * np.eye(shape[-1])


def close(got, expected, dtype, k=256):
    """got (mx or NumPy) within k eps of expected, relative to its magnitude."""
    got = ref(got) if isinstance(got, mx.array) else got
    expected = np.asarray(expected)
    assert got.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected), initial=0)))
    np.testing.assert_allclose(got, expected, rtol=k * EPS[dtype], atol=k * EPS[dtype] * scale)


def raises(exc, fn, *args, **kwargs):
    with pytest.raises(exc):  # MLX raises some errors only on evaluation
        mx.eval(fn(*args, **kwargs))


def dtypes(*arrays):
    return [dname(a.dtype) for a in arrays]


def test_inventory():
    public = {n for n in dir(LA) if not n.startswith("_")}
    assert not FUNCTIONS - public, f"missing: {sorted(FUNCTIONS - public)}"
    assert not public - FUNCTIONS, f"untested: {sorted(public - FUNCTIONS)}"


# ---- norm -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ord", [None, 2, 1, INF, -INF, 0, 3, 0.5, -1, -2.5])
def test_norm_vector(rng, ord, dtype):
    a = arr(rng.uniform(-2, 2, (7,)), dtype)
    got = LA.norm(a, ord)
    assert dname(got.dtype) == dtype and got.shape == ()
    close(got, np.linalg.norm(ref(a), ord), dtype, k=16)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, -1, (1,), [2]])
@pytest.mark.parametrize("ord", [None, 2, 1, INF, -INF, 0, 3])
def test_norm_vector_axis(rng, ord, axis, keepdims):
    a = arr(rng.uniform(-2, 2, (3, 4, 5)))
    got = LA.norm(a, ord, axis=axis, keepdims=keepdims)
    axis = tuple(axis) if isinstance(axis, list) else axis
    close(got, np.linalg.norm(ref(a), ord, axis=axis, keepdims=keepdims), "float32", k=16)


@TRANSPOSED
@pytest.mark.parametrize("shape", [(3, 4), (5, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, INF, -INF])
def test_norm_matrix(rng, ord, dtype, shape, transposed):
    a = arr(rng.uniform(-2, 2, shape), dtype, transposed)
    got = LA.norm(a, ord, **CPU)  # 2, -2 and 'nuc' take an SVD
    assert dname(got.dtype) == dtype and got.shape == ()
    close(got, np.linalg.norm(ref(a), ord), dtype, k=64)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [(0, 2), (2, 0), (-1, 1)])
@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, 2, -2, INF, -INF])
def test_norm_matrix_axes(rng, ord, axis, keepdims):
    a = arr(rng.uniform(-2, 2, (2, 3, 4)))
    got = LA.norm(a, ord, axis=axis, keepdims=keepdims, **CPU)
    close(got, np.linalg.norm(ref(a), ord, axis=axis, keepdims=keepdims), "float32", k=64)


def test_norm_special_cases(rng):
    a = arr(rng.uniform(-2, 2, (2, 3, 4)))
    close(LA.norm(a), np.sqrt(np.sum(ref(a) ** 2)), "float32", k=16)  # no ord: flattened 2-norm
    assert LA.norm(a, keepdims=True).shape == (1, 1, 1)
    assert LA.norm(mx.array(-3.0)).item() == 3.0
    assert LA.norm(mx.zeros((0,))).item() == 0.0
    zero = mx.array([3.0, 0.0, -4.0])  # ord 0 counts nonzeros; negative ords give 0
    assert [LA.norm(zero, o).item() for o in (0, -1, -INF, INF, 1)] == [2.0, 0.0, 0.0, 4.0, 7.0]
    raises(ValueError, LA.norm, mx.array(3.0), 1)  # a scalar takes no ord


@pytest.mark.parametrize("dtype,out", [
    ("bool_", "float32"), ("uint8", "float32"), ("int32", "float32"), ("float16", "float16"),
    ("bfloat16", "bfloat16"), ("float64", "float64"), ("complex64", "float32"),
])
@pytest.mark.parametrize("ord", [None, "fro"])
def test_norm_result_dtype(ord, dtype, out):
    x = np.array([[3, 0], [0, 4]]) * (1j if dtype == "complex64" else 1)
    got = LA.norm(arr(x, dtype), ord)
    assert dname(got.dtype) == out
    expected = np.sqrt(2) if dtype == "bool_" else 5.0
    assert abs(to_numpy(got.astype(mx.float32)).item() - expected) < 2e-2


def test_norm_complex(rng):
    x = rand(rng, (3, 4), "complex64")
    a = arr(x, "complex64")
    for ord in ["fro", "nuc", None]:
        got = LA.norm(a, ord, **CPU)
        assert dname(got.dtype) == "float32"
        close(got, np.linalg.norm(ref(a), ord), "float32", k=64)
    # MLX quirk: a complex vector p-norm (p not None/2) keeps the complex dtype.
    got = LA.norm(a[0], 1)
    assert dname(got.dtype) == "complex64"
    close(got, np.linalg.norm(ref(a)[0], 1) + 0j, "complex64", k=16)


@pytest.mark.parametrize("args,kwargs,exc", [
    ((2,), {}, ValueError),                  # ord without axis on 3-D
    (("fro",), {}, ValueError),
    ((), {"axis": (0, 1, 2)}, ValueError),   # more than two axes
    (("fro",), {"axis": 0}, ValueError),     # matrix ord on one axis
    (("nuc",), {"axis": 1}, ValueError),
    ((3,), {"axis": (0, 1)}, ValueError),    # no such matrix ord
    ((0,), {"axis": (0, 1)}, ValueError),
    (("abc",), {"axis": (0, 1)}, ValueError),
    ((), {"axis": (1, 1)}, ValueError),      # duplicate axes
    ((), {"axis": 5}, IndexError),
    ((), {"axis": (0, 5)}, IndexError),
])
def test_norm_errors(args, kwargs, exc):
    raises(exc, LA.norm, mx.ones((2, 3, 4)), *args, **kwargs, **CPU)


# ---- QR and SVD -------------------------------------------------------------


@TRANSPOSED
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_qr(rng, dtype, shape, transposed):
    a = arr(rand(rng, shape, dtype), dtype, transposed)
    q, r = LA.qr(a, **CPU)
    (m, n), k = shape[-2:], min(shape[-2:])
    assert q.shape == (*shape[:-2], m, k) and r.shape == (*shape[:-2], k, n)  # reduced
    assert dtypes(q, r) == [dtype, dtype]
    Q, R = ref(q), ref(r)
    close(Q @ R, ref(a), dtype)
    is_identity(mH(Q) @ Q, dtype)
    assert np.all(np.tril(R, -1) == 0)


@TRANSPOSED
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_svd(rng, dtype, shape, transposed):
    a = arr(rand(rng, shape, dtype), dtype, transposed)
    u, s, vt = LA.svd(a, **CPU)
    (m, n), k = shape[-2:], min(shape[-2:])
    batch = shape[:-2]
    assert (u.shape, s.shape, vt.shape) == ((*batch, m, m), (*batch, k), (*batch, n, n))
    assert dtypes(u, s, vt) == [dtype, REAL[dtype], dtype]
    U, S, Vt = ref(u), ref(s), ref(vt)
    close(S, np.linalg.svd(ref(a), compute_uv=False), dtype)
    assert np.all(np.diff(S, axis=-1) <= 0) and np.all(S >= 0)
    close((U[..., :k] * S[..., None, :]) @ Vt[..., :k, :], ref(a), dtype)
    is_identity(mH(U) @ U, dtype)
    is_identity(Vt @ mH(Vt), dtype)
    s_only = LA.svd(a, compute_uv=False, **CPU)
    assert isinstance(s_only, mx.array) and dname(s_only.dtype) == REAL[dtype]
    close(s_only, S, dtype)


# ---- inverses ---------------------------------------------------------------


@TRANSPOSED
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inv(rng, dtype, shape, transposed):
    a = arr(general(rng, shape), dtype, transposed)
    got = LA.inv(a, **CPU)
    assert dname(got.dtype) == dtype and got.shape == shape
    close(got, np.linalg.inv(ref(a)), dtype)


@TRANSPOSED
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tri_inv(rng, dtype, shape, upper, transposed):
    a = arr(general(rng, shape), dtype, transposed)  # the other triangle is ignored
    tri = np.triu if upper else np.tril
    got = LA.tri_inv(a, upper=upper, **CPU)
    assert dname(got.dtype) == dtype
    close(got, np.linalg.inv(tri(ref(a))), dtype)
    assert np.all((np.tril(ref(got), -1) if upper else np.triu(ref(got), 1)) == 0)


def with_junk(x, upper):
    """x with 9s in the triangle a triangular-reading routine must ignore."""
    junk = np.full(x.shape, 9 + 9j if np.iscomplexobj(x) else 9.0)
    return np.triu(x) + np.tril(junk, -1) if upper else np.tril(x) + np.triu(junk, 1)


@TRANSPOSED
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cholesky(rng, dtype, shape, upper, transposed):
    p = spd(rng, shape)
    got = LA.cholesky(arr(with_junk(p, upper), dtype, transposed), upper=upper, **CPU)
    assert dname(got.dtype) == dtype and got.shape == shape
    lower = np.linalg.cholesky(ref(arr(p, dtype)))  # unique: positive diagonal
    close(got, mH(lower) if upper else lower, dtype)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cholesky_inv(rng, dtype, shape, upper):
    lower = np.linalg.cholesky(spd(rng, shape))
    factor = arr(np.swapaxes(lower, -1, -2) if upper else lower, dtype)
    got = LA.cholesky_inv(factor, upper=upper, **CPU)
    assert dname(got.dtype) == dtype and got.shape == shape
    f = ref(factor)
    close(got, np.linalg.inv(mH(f) @ f if upper else f @ mH(f)), dtype)


@TRANSPOSED
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pinv(rng, dtype, shape, transposed):
    a = arr(rand(rng, shape, dtype), dtype, transposed)
    got = LA.pinv(a, **CPU)
    assert dname(got.dtype) == dtype and got.shape == (*shape[:-2], shape[-1], shape[-2])
    close(got, np.linalg.pinv(ref(a)), dtype, k=1024)


# ---- LU ---------------------------------------------------------------------


@TRANSPOSED
@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu(rng, dtype, shape, transposed):
    a = arr(rand(rng, shape, dtype), dtype, transposed)
    p, l, u = LA.lu(a, **CPU)
    (m, n), k = shape[-2:], min(shape[-2:])
    batch = shape[:-2]
    assert (p.shape, l.shape, u.shape) == ((*batch, m), (*batch, m, k), (*batch, k, n))
    assert dtypes(p, l, u) == ["uint32", dtype, dtype]
    P, L, U = to_numpy(p).astype(np.int64), ref(l), ref(u)
    assert np.all(np.sort(P, axis=-1) == np.arange(m))
    assert np.all(np.diagonal(L, axis1=-2, axis2=-1) == 1) and np.all(np.triu(L, 1) == 0)
    assert np.all(np.tril(U, -1) == 0)
    # A == L[p] @ U: row i of A is row p[i] of L @ U.
    close(np.take_along_axis(L, P[..., None], axis=-2) @ U, ref(a), dtype)


@pytest.mark.parametrize("shape", RECT)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu_factor(rng, dtype, shape):
    a = arr(rand(rng, shape, dtype), dtype)
    lu, piv = LA.lu_factor(a, **CPU)
    (m, n), k = shape[-2:], min(shape[-2:])
    assert lu.shape == shape and piv.shape == (*shape[:-2], k)
    assert dtypes(lu, piv) == [dtype, "uint32"]
    LU, PIV, A = ref(lu).reshape(-1, m, n), to_numpy(piv).reshape(-1, k), ref(a).reshape(-1, m, n)
    for packed, swaps, x in zip(LU, PIV, A):
        perm = np.arange(m)
        for i, j in enumerate(swaps):  # LAPACK-style 0-based row interchanges
            assert i <= j < m
            perm[[i, j]] = perm[[j, i]]
        lower = np.tril(packed[:, :k], -1) + np.eye(m, k)
        close(lower @ np.triu(packed[:k, :]), x[perm], dtype)


# ---- solvers ----------------------------------------------------------------

SOLVE_SHAPES = [((4, 4), (4,)), ((4, 4), (4, 3)), ((2, 3, 4, 4), (2, 3, 4, 2)), ((2, 4, 4), (2, 4, 1))]


@TRANSPOSED
@pytest.mark.parametrize("shapes", SOLVE_SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_solve(rng, dtype, shapes, transposed):
    a = arr(general(rng, shapes[0]), dtype, transposed)
    b = arr(rng.uniform(-1, 1, shapes[1]), dtype)
    got = LA.solve(a, b, **CPU)
    assert dname(got.dtype) == dtype and got.shape == shapes[1]
    close(got, np.linalg.solve(ref(a), ref(b)), dtype)


@TRANSPOSED
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shapes", [*SOLVE_SHAPES, ((2, 3, 4, 4), (4, 2))])  # last: a batched, b broadcast
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_solve_triangular(rng, dtype, shapes, upper, transposed):
    a = arr(general(rng, shapes[0]), dtype, transposed)  # the other triangle is ignored
    b = arr(rng.uniform(-1, 1, shapes[1]), dtype)
    got = LA.solve_triangular(a, b, upper=upper, **CPU)
    tri = (np.triu if upper else np.tril)(ref(a))
    assert dname(got.dtype) == dtype  # close() checks the shape
    close(got, np.linalg.solve(tri, ref(b)), dtype)


@pytest.mark.parametrize("fn", ["solve", "solve_triangular"])
def test_solve_promotes(fn):
    a = mx.eye(3) * 2
    assert dname(getattr(LA, fn)(a, mx.ones((3,), dtype=mx.int32), **CPU).dtype) == "float32"
    got = getattr(LA, fn)(a, mx.ones((3,), dtype=mx.float64), **CPU)
    assert dname(got.dtype) == "float64" and np.all(to_numpy(got) == 0.5)


@pytest.mark.parametrize("fn", ["solve", "solve_triangular"])
@pytest.mark.parametrize("a_shape,b_shape", [
    ((3, 4), (3,)), ((3,), (3,)), ((3, 3), (4,)), ((2, 3, 3), (2, 3)),  # last: b is not (..., n, k)
])
def test_solve_shape_errors(fn, a_shape, b_shape):
    raises(ValueError, getattr(LA, fn), mx.ones(a_shape), mx.ones(b_shape), **CPU)


# ---- cross ------------------------------------------------------------------


@pytest.mark.parametrize("a_shape,b_shape,axis", [
    ((3,), (3,), -1), ((4, 3), (4, 3), -1), ((2, 1, 3), (5, 3), -1), ((3, 5), (3, 5), 0),
    ((3,), (2,), -1), ((2,), (2,), -1), ((2, 4), (3, 4), 0),
])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "complex64"])
def test_cross(rng, dtype, a_shape, b_shape, axis):
    scale = 1 + 1j if dtype == "complex64" else 1
    a, b = (arr(rng.integers(-5, 6, s) * scale, dtype) for s in (a_shape, b_shape))
    got = LA.cross(a, b, axis=axis)

    def pad3(x):  # a 2-vector is a 3-vector with zero z
        return np.concatenate([x, 0 * x.take([0], axis)], axis) if x.shape[axis] == 2 else x

    expected = np.cross(pad3(ref(a)), pad3(ref(b)), axis=axis)
    assert dname(got.dtype) == dtype
    np.testing.assert_array_equal(ref(got), expected)  # small integers: exact


def test_cross_promotion_and_errors():
    got = LA.cross(mx.array([1, 0, 0]), mx.array([0.0, 1.0, 0.0]))
    assert dname(got.dtype) == "float32" and to_numpy(got).tolist() == [0, 0, 1]
    raises(ValueError, LA.cross, mx.ones((4,)), mx.ones((4,)))
    raises(ValueError, LA.cross, mx.ones((2, 3)), mx.ones((4, 3)))
    raises(IndexError, LA.cross, mx.ones((3, 2)), mx.ones((3, 2)), axis=5)


# ---- eigen ------------------------------------------------------------------


def assert_same_spectrum(got, expected, tol):
    """Eigenvalues agree as multisets (MLX's order is not NumPy's)."""
    got, expected = np.ravel(got), np.ravel(expected)
    assert got.size == expected.size
    for e in expected:
        assert np.min(np.abs(got - e)) < tol
    for g in got:
        assert np.min(np.abs(expected - g)) < tol


@TRANSPOSED
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_eig(rng, dtype, shape, transposed):
    a = arr(rand(rng, shape, dtype), dtype, transposed)
    w, v = LA.eig(a, **CPU)
    assert dtypes(w, v) == ["complex64", "complex64"]  # even for float64 input
    assert w.shape == shape[:-1] and v.shape == shape
    A, W, V = ref(a), ref(w), ref(v)
    if dtype == "complex64" and not np.allclose(A @ V, V * W[..., None, :], atol=1e-4):
        # MLX 0.32 returns the conjugated eigenvectors for complex input;
        # accept that as well as the correct ones.
        V = V.conj()
    close(A @ V, V * W[..., None, :], "complex64", k=64)
    close(np.linalg.norm(V, axis=-2), np.ones(shape[:-1]), "complex64", k=16)
    expected = np.linalg.eigvals(A).reshape(-1, shape[-1])
    for got_w, exp_w in zip(W.reshape(-1, shape[-1]), expected):
        assert_same_spectrum(got_w, exp_w, 1e-4)
    w_only = LA.eigvals(a, **CPU)
    assert dname(w_only.dtype) == "complex64" and w_only.shape == w.shape
    close(w_only, W, "complex64", k=64)


def test_eig_real_spectrum(rng):
    s = spd(rng, (4, 4))
    w = ref(LA.eigvals(arr(s), **CPU))
    assert np.all(np.abs(w.imag) < 1e-4)
    assert_same_spectrum(w, np.linalg.eigvalsh(s), 1e-4)


@TRANSPOSED
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("shape", SQUARE)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_eigh(rng, dtype, shape, uplo, transposed):
    h = spd(rng, shape, dtype) - 2 * shape[-1] * np.eye(shape[-1])  # indefinite
    a = arr(with_junk(h, uplo == "U"), dtype, transposed)
    w, v = LA.eigh(a, UPLO=uplo, **CPU)
    assert dtypes(w, v) == [REAL[dtype], dtype]
    assert w.shape == shape[:-1] and v.shape == shape
    H, W, V = ref(arr(h, dtype)), ref(w), ref(v)
    close(W, np.linalg.eigvalsh(H), dtype)  # ascending, like NumPy
    close(H @ V, V * W[..., None, :], dtype, k=1024)
    is_identity(mH(V) @ V, dtype)
    w_only = LA.eigvalsh(a, UPLO=uplo, **CPU)
    assert dname(w_only.dtype) == REAL[dtype]
    close(w_only, W, dtype)


# ---- determinants -----------------------------------------------------------


@TRANSPOSED
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), *SQUARE, (2, 3, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_det_slogdet(rng, dtype, shape, transposed):
    a = arr(rand(rng, shape, dtype) + 0.5 * np.eye(shape[-1]), dtype, transposed)
    det = LA.det(a, **CPU)
    sign, logabs = LA.slogdet(a, **CPU)
    assert det.shape == shape[:-2] and sign.shape == shape[:-2] and logabs.shape == shape[:-2]
    assert dtypes(det, sign, logabs) == [dtype] * 3
    exp_sign, exp_log = np.linalg.slogdet(ref(a))
    # MLX's float64 det is only float32-accurate once n > 3 (slogdet is not).
    close(det, np.linalg.det(ref(a)), "float32" if shape[-1] > 3 else dtype)
    np.testing.assert_array_equal(ref(sign), exp_sign)
    close(logabs, exp_log, dtype)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_det_exact_cases(n):
    perm = np.eye(n)[[1, 0, *range(2, n)]]
    assert LA.det(mx.array(perm), **CPU).item() == -1.0
    assert [x.item() for x in LA.slogdet(mx.array(perm), **CPU)] == [-1.0, 0.0]
    singular = np.ones((n, n))
    assert LA.det(mx.array(singular), **CPU).item() == 0.0
    assert [x.item() for x in LA.slogdet(mx.array(singular), **CPU)] == [0.0, -INF]
    ints = mx.array(2 * np.eye(n, dtype=np.int32))  # integers compute in float32
    assert dname(LA.det(ints, **CPU).dtype) == "float32" and LA.det(ints, **CPU).item() == 2.0**n
    assert LA.det(mx.zeros((0, 0)), **CPU).item() == 1.0
    assert [x.item() for x in LA.slogdet(mx.zeros((0, 0)), **CPU)] == [1.0, 0.0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_det_half_precision(dtype):
    # n <= 3 uses closed forms that keep the dtype; larger n needs an LU.
    a = arr(np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 1.0]]), dtype)
    det = LA.det(a, **CPU)
    assert dname(det.dtype) == dtype and det.astype(mx.float32).item() == 5.0
    assert dtypes(*LA.slogdet(a, **CPU)) == [dtype] * 2
    raises(ValueError, LA.det, arr(np.eye(4), dtype), **CPU)
    raises(ValueError, LA.slogdet, arr(np.eye(4), dtype), **CPU)


# ---- dtype and shape errors -------------------------------------------------

REAL_ONLY = ["qr", "inv", "tri_inv", "cholesky", "cholesky_inv", "pinv", "lu", "lu_factor"]
COMPLEX_OK = ["svd", "eig", "eigvals", "eigh", "eigvalsh"]
SQUARE_ONLY = ["inv", "tri_inv", "cholesky", "cholesky_inv", "eig", "eigvals", "eigh",
               "eigvalsh", "det", "slogdet"]


@pytest.mark.parametrize("name,dtype", [
    *[(f, d) for f in REAL_ONLY for d in ["float16", "bfloat16", "int32", "bool_", "complex64"]],
    *[(f, d) for f in COMPLEX_OK for d in ["float16", "bfloat16", "int32", "bool_"]],
    ("det", "complex64"), ("slogdet", "complex64"),
])
def test_rejected_dtypes(name, dtype):
    raises(ValueError, getattr(LA, name), arr(2 * np.eye(4), dtype), **CPU)


@pytest.mark.parametrize("fn", ["solve", "solve_triangular"])
@pytest.mark.parametrize("a_dtype,b_dtype", [
    ("float16", "float16"), ("bfloat16", "bfloat16"), ("complex64", "complex64"),
    ("int32", "int32"), ("float32", "complex64"),
])
def test_solve_rejected_dtypes(fn, a_dtype, b_dtype):
    a, b = arr(2 * np.eye(3), a_dtype), arr(np.ones(3), b_dtype)
    raises(ValueError, getattr(LA, fn), a, b, **CPU)


@pytest.mark.parametrize("shape", [(), (4,)])
@pytest.mark.parametrize("name", [*REAL_ONLY, *COMPLEX_OK, "det", "slogdet"])
def test_needs_two_dims(name, shape):
    raises(ValueError, getattr(LA, name), mx.ones(shape), **CPU)


@pytest.mark.parametrize("name", SQUARE_ONLY)
def test_needs_square(name):
    raises(ValueError, getattr(LA, name), mx.ones((3, 4)), **CPU)


# ---- singular and non-positive-definite input -------------------------------

SINGULAR = [[1.0, 2.0], [2.0, 4.0]]  # LU meets an exactly zero pivot
ZERO_DIAG = [[1.0, 0.0], [1.0, 0.0]]  # triangular with a zero on the diagonal


@pytest.mark.parametrize("call", [
    lambda: LA.inv(mx.array(SINGULAR), **CPU),
    lambda: LA.inv(mx.zeros((3, 3)), **CPU),
    lambda: LA.solve(mx.array(SINGULAR), mx.ones((2,)), **CPU),
    lambda: LA.tri_inv(mx.array(ZERO_DIAG), **CPU),
    lambda: LA.tri_inv(mx.array(ZERO_DIAG).T, upper=True, **CPU),
    lambda: LA.solve_triangular(mx.array(ZERO_DIAG), mx.ones((2,)), **CPU),
    lambda: LA.cholesky_inv(mx.array(ZERO_DIAG), **CPU),
], ids=["inv", "inv_zeros", "solve", "tri_inv", "tri_inv_upper", "solve_triangular", "cholesky_inv"])
def test_singular_raises_runtime_error(call):
    # MLX raises when the array is evaluated (LAPACK's info != 0), not when built.
    raises(RuntimeError, call)


def test_singular_factorizations_succeed():
    a = mx.array(SINGULAR)
    p, l, u = LA.lu(a, **CPU)
    U = ref(u)
    assert U[1, 1] == 0
    close(ref(l)[to_numpy(p).astype(np.int64)] @ U, ref(a), "float32")
    lu, piv = LA.lu_factor(a, **CPU)
    assert ref(lu)[1, 1] == 0
    close(LA.pinv(a, **CPU), np.linalg.pinv(ref(a)), "float32", k=64)
    assert np.all(to_numpy(LA.pinv(mx.zeros((3, 2)), **CPU)) == 0)
    # A positive semi-definite singular matrix factors with a zero pivot.
    close(LA.cholesky(mx.array([[4.0, 2.0], [2.0, 1.0]]), **CPU), [[2.0, 0.0], [1.0, 0.0]], "float32")


def test_cholesky_not_positive_definite_does_not_raise():
    # No error and no NaN: the factorization stops at the failing pivot, so
    # the result is finite but is not a factor of the input.
    a = mx.array([[1.0, 2.0], [2.0, 1.0]])
    got = ref(LA.cholesky(a, **CPU))
    assert got.shape == (2, 2) and np.all(np.isfinite(got))
    assert got[0, 0] == 1.0 and got[1, 0] == 2.0 and got[0, 1] == 0.0
    assert not np.allclose(got @ got.T, ref(a))
