"""Element-wise binary operations, type promotion and broadcasting vs NumPy."""

import math

import numpy as np
import pytest

from conftest import ALL_DTYPES, BACKEND, INT_DTYPES, mx, to_numpy, tolerance

INTLIKE = {"bool_", *INT_DTYPES}
FLOATS = {"float16", "bfloat16", "float32", "float64"}
NAN, INF = float("nan"), float("inf")
eq = np.testing.assert_array_equal

SHORT = {
    "b": "bool_", "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
    "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "f16": "float16",
    "bf16": "bfloat16", "f32": "float32", "f64": "float64", "c64": "complex64",
}  # fmt: skip

# Result dtype of a binary op on two arrays (rows: lhs, columns: rhs), as MLX
# promotes them.  Unlike NumPy: floats never widen because of an integer
# operand (int32 + float16 -> float16), uint64 with a signed int gives
# float32, float16 with bfloat16 gives float32, anything with complex64 stays
# complex64.
PROMOTION_TABLE = """
       b   u8  u16  u32  u64   i8  i16  i32  i64  f16 bf16  f32  f64  c64
  b    b   u8  u16  u32  u64   i8  i16  i32  i64  f16 bf16  f32  f64  c64
  u8  u8   u8  u16  u32  u64  i16  i16  i32  i64  f16 bf16  f32  f64  c64
 u16 u16  u16  u16  u32  u64  i32  i32  i32  i64  f16 bf16  f32  f64  c64
 u32 u32  u32  u32  u32  u64  i64  i64  i64  i64  f16 bf16  f32  f64  c64
 u64 u64  u64  u64  u64  u64  f32  f32  f32  f32  f16 bf16  f32  f64  c64
  i8  i8  i16  i32  i64  f32   i8  i16  i32  i64  f16 bf16  f32  f64  c64
 i16 i16  i16  i32  i64  f32  i16  i16  i32  i64  f16 bf16  f32  f64  c64
 i32 i32  i32  i32  i64  f32  i32  i32  i32  i64  f16 bf16  f32  f64  c64
 i64 i64  i64  i64  i64  f32  i64  i64  i64  i64  f16 bf16  f32  f64  c64
 f16 f16  f16  f16  f16  f16  f16  f16  f16  f16  f16  f32  f32  f64  c64
bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16  f32 bf16  f32  f64  c64
 f32 f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f64  c64
 f64 f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  c64
 c64 c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64
"""


def _parse_promotion():
    lines = PROMOTION_TABLE.strip().splitlines()
    cols = [SHORT[c] for c in lines[0].split()]
    table = {}
    for line in lines[1:]:
        row, *cells = line.split()
        for col, cell in zip(cols, cells):
            table[SHORT[row], col] = SHORT[cell]
    return table


PROMOTE = _parse_promotion()


def mx_dtype(name):
    return getattr(mx, name)


def dtype_name(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def np_dtype(name):
    return {"bool_": np.bool_, "bfloat16": np.float32}.get(name) or np.dtype(name).type


def as_mx(x, dtype):
    return mx.array(np.asarray(x)).astype(mx_dtype(dtype))


def _logaddexp(x, y):
    if np.iscomplexobj(x):
        return np.log(np.exp(x) + np.exp(y))
    return np.logaddexp(x, y)


def _floor_divide(x, y):
    return np.floor_divide(x, y) if x.dtype.kind in "biu" else np.floor(x / y)


def _remainder(x, y):
    return np.remainder(x, y) if x.dtype.kind in "biu" else x - y * np.floor(x / y)


# name: (reference, kind, input sampler, complex_ok)
#   kind "same": result has the promoted dtype; "float": integer results become
#   float32; "bool": result is bool.  complex_ok False -> ValueError.
# Samplers: "any" general values, "nonzero" rhs away from 0, "near_int" rhs
# nonzero and x / y away from integers, "pow" base/exponent ranges, "small"
# small integers so that ties and equalities occur, "bits" the full integer
# range, "shift" shift amounts within the bit width.
OPS = {
    "add": (np.add, "same", "any", True),
    "subtract": (np.subtract, "same", "any", True),
    "multiply": (np.multiply, "same", "any", True),
    "divide": (np.divide, "float", "nonzero", True),
    "floor_divide": (_floor_divide, "same", "near_int", None),  # complex untested
    "remainder": (_remainder, "same", "near_int", False),
    "power": (np.power, "same", "pow", True),
    "maximum": (np.maximum, "same", "small", True),
    "minimum": (np.minimum, "same", "small", True),
    "arctan2": (np.arctan2, "float", "any", False),
    "logaddexp": (_logaddexp, "float", "any", True),
    "equal": (np.equal, "bool", "small", True),
    "not_equal": (np.not_equal, "bool", "small", True),
    "less": (np.less, "bool", "small", True),
    "less_equal": (np.less_equal, "bool", "small", True),
    "greater": (np.greater, "bool", "small", True),
    "greater_equal": (np.greater_equal, "bool", "small", True),
    "logical_and": (np.logical_and, "bool", "small", True),
    "logical_or": (np.logical_or, "bool", "small", True),
    "logical_xor": (np.logical_xor, "bool", "small", True),
    "bitwise_and": (np.bitwise_and, "same", "bits", False),
    "bitwise_or": (np.bitwise_or, "same", "bits", False),
    "bitwise_xor": (np.bitwise_xor, "same", "bits", False),
    "left_shift": (np.left_shift, "same", "shift", False),
    "right_shift": (np.right_shift, "same", "shift", False),
}
BITWISE = {"bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift"}
# MLX's CPU float64 logaddexp goes through a float32-accurate exp.
FLOAT64_APPROX = {"logaddexp"}


def expected_error(op, dtype):
    if op in BITWISE and dtype not in INTLIKE:
        # Raised eagerly, at graph construction; MLX raises RuntimeError for this
        # bad input where lmx follows its rule of ValueError for bad input.
        return RuntimeError if BACKEND == "mlx" else ValueError
    if dtype == "complex64" and OPS[op][3] is False:
        return ValueError
    return None


def result_dtype(op, lhs, rhs):
    kind = OPS[op][1]
    if kind == "bool":
        return "bool_"
    out = PROMOTE[lhs, rhs]
    if kind == "float" and out in INTLIKE:
        return "float32"
    if op in ("left_shift", "right_shift") and out == "bool_":
        return "uint8"
    return out


def _ints(rng, dtype, lo, hi, shape):
    info = np.iinfo(dtype)
    lo, hi = max(lo, info.min), min(hi, info.max)
    return rng.integers(lo, hi, size=shape, dtype=dtype, endpoint=True)


def sample(rng, sampler, dtype, shape):
    """Exact (lhs, rhs) NumPy inputs for dtype (bfloat16 values pre-rounded)."""
    if dtype == "bool_":
        x = rng.random(shape) < 0.5
        nonzero = sampler in ("nonzero", "near_int")
        return x, np.ones(shape, bool) if nonzero else rng.random(shape) < 0.5
    ints = dtype in INTLIKE
    if sampler == "small":
        x, y = (_ints(rng, dtype if ints else "int8", -3, 3, shape) for _ in range(2))
    elif sampler == "any" and ints:
        x, y = (_ints(rng, dtype, -20, 20, shape) for _ in range(2))
    elif sampler == "any":
        x, y = rng.uniform(-4, 4, shape), rng.uniform(-4, 4, shape)
    elif sampler in ("nonzero", "near_int") and ints:
        x, y = _ints(rng, dtype, -100, 100, shape), _ints(rng, dtype, 1, 9, shape)
        if np.iinfo(dtype).min < 0:
            y = (y * rng.choice([-1, 1], shape)).astype(dtype)
    elif sampler in ("nonzero", "near_int"):
        y = rng.uniform(0.5, 4, shape) * rng.choice([-1, 1], shape)
        x = rng.uniform(-4, 4, shape)
        if sampler == "near_int":  # keep x / y at least 0.1 away from integers
            x = y * (rng.integers(-5, 6, shape) + rng.uniform(0.1, 0.9, shape))
    elif sampler == "pow" and ints:
        x, y = _ints(rng, dtype, -3, 3, shape), _ints(rng, dtype, 0, 4, shape)
    elif sampler == "pow":
        x, y = rng.uniform(0.5, 3, shape), rng.uniform(-2, 2, shape)
    elif sampler == "bits":
        x, y = (_ints(rng, dtype, -(2**63), 2**64 - 1, shape) for _ in range(2))
    elif sampler == "shift":
        x, y = (
            _ints(rng, dtype, -16, 16, shape),
            _ints(rng, dtype, 0, np.iinfo(dtype).bits - 6, shape),
        )
    if dtype == "complex64":
        x = x + 1j * rng.uniform(-2, 2, shape)
        y = y + 1j * (
            rng.integers(-2, 3, shape)
            if sampler == "small"
            else rng.uniform(-2, 2, shape)
        )
    if not ints:
        x, y = to_numpy(as_mx(x, dtype)), to_numpy(as_mx(y, dtype))
    return np.asarray(x).astype(np_dtype(dtype)), np.asarray(y).astype(np_dtype(dtype))


def reference(op, x, y, dtype):
    ref, kind = OPS[op][:2]
    if dtype == "complex64":
        return ref(x.astype(np.complex128), y.astype(np.complex128))
    if dtype == "bool_":
        if op in ("left_shift", "right_shift"):
            return ref(x.astype(np.uint8), y.astype(np.uint8))
        if kind == "same" and op not in BITWISE:
            return ref(x.astype(np.int64), y.astype(np.int64)).astype(bool)
    if dtype in INTLIKE and kind != "float":
        return ref(x, y)
    return ref(x.astype(np.float64), y.astype(np.float64))


def check_result(got, expected, out, op=None):
    assert dtype_name(got.dtype) == out
    got_np = to_numpy(got)
    assert got_np.shape == np.shape(expected)
    if out in INTLIKE:
        eq(got_np, np.asarray(expected).astype(np_dtype(out)))
    else:
        rtol, atol = tolerance(out)
        if out == "float64" and op in FLOAT64_APPROX:
            rtol, atol = 2e-6, 2e-7
        np.testing.assert_allclose(got_np, expected, rtol=rtol, atol=atol)


SUPPORTED = [
    (op, d)
    for op in OPS
    for d in ALL_DTYPES
    if expected_error(op, d) is None and not (d == "complex64" and OPS[op][3] is None)
]
UNSUPPORTED = [(op, d) for op in OPS for d in ALL_DTYPES if expected_error(op, d)]


@pytest.mark.parametrize("op,dtype", SUPPORTED)
def test_binary_same_dtype(op, dtype, rng):
    x, y = sample(rng, OPS[op][2], dtype, (4, 6))
    got = getattr(mx, op)(as_mx(x, dtype), as_mx(y, dtype))
    check_result(got, reference(op, x, y, dtype), result_dtype(op, dtype, dtype), op)


@pytest.mark.parametrize("op,dtype", UNSUPPORTED)
def test_binary_rejected_dtype(op, dtype):
    a = mx.array([1, 2, 3]).astype(mx_dtype(dtype))
    with pytest.raises(expected_error(op, dtype)):
        mx.eval(getattr(mx, op)(a, a))


PROMOTION_OPS = ["add", "multiply", "maximum", "divide", "power", "less", "arctan2", "bitwise_or"]  # fmt: skip


@pytest.mark.parametrize("op", PROMOTION_OPS)
@pytest.mark.parametrize("lhs", ALL_DTYPES)
def test_binary_mixed_dtypes(op, lhs, rng):
    """Every rhs dtype against lhs: promoted result dtype and values."""
    for rhs in ALL_DTYPES:
        # uint64 with a signed int promotes to float32, so bitwise ops reject it.
        errs = [expected_error(op, d) for d in (lhs, rhs, PROMOTE[lhs, rhs])]
        err = next(filter(None, errs), None)
        # Small non-negative integers are exact in every dtype.
        x = rng.integers(0, 2 if "bool_" in (lhs, rhs) else 6, size=(3, 4))
        y = rng.integers(1, 2 if "bool_" in (lhs, rhs) else 4, size=(3, 4))
        a, b = as_mx(x, lhs), as_mx(y, rhs)
        if err is not None:
            with pytest.raises(err):
                mx.eval(getattr(mx, op)(a, b))
            continue
        out = result_dtype(op, lhs, rhs)
        wide = PROMOTE[lhs, rhs]
        x, y = x.astype(np_dtype(wide)), y.astype(np_dtype(wide))
        expected = reference(op, x, y, wide)
        check_result(getattr(mx, op)(a, b), expected, out, op)


def weak_result(dtype, scalar):
    """Dtype of array(dtype) (op) Python scalar: the scalar adapts when it can."""
    rank = {bool: 0, int: 1, float: 2, complex: 3}[type(scalar)]
    kind = [dtype == "bool_", dtype in INTLIKE, dtype in FLOATS, True].index(True)
    if kind >= rank:
        return dtype
    return {1: "int32", 2: "float32", 3: "complex64"}[rank]


SCALAR_CASES = [
    (op, scalar)
    for op in ["add", "subtract", "multiply", "maximum", "less"]
    for scalar in [True, 2, 2.5, 1.5 - 2j]
    if not (op == "maximum" and isinstance(scalar, complex))
]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("op,scalar", SCALAR_CASES, ids=str)
def test_python_scalar_operands(op, scalar, dtype, rng):
    x = rng.integers(0, 2 if dtype == "bool_" else 5, size=(2, 3))
    a = as_mx(x, dtype)
    arith = weak_result(dtype, scalar)
    out = "bool_" if op == "less" else arith
    wide = np.float64 if arith in FLOATS else np.int64
    wide = np.complex128 if arith == "complex64" else wide
    fn = getattr(np, op)
    for got, expected in [
        (getattr(mx, op)(a, scalar), fn(x.astype(wide), wide(scalar))),
        (getattr(mx, op)(scalar, a), fn(wide(scalar), x.astype(wide))),
    ]:
        if out == "bool_" and op != "less":
            expected = expected != 0
        check_result(got, expected, out)


def test_two_python_scalars():
    for s1, s2, dtype in [
        (1, 2, "int32"),
        (1.0, 2, "float32"),
        (True, 2, "int32"),
        (True, False, "bool_"),
    ]:
        got = mx.add(s1, s2)
        assert got.shape == () and dtype_name(got.dtype) == dtype
        assert to_numpy(got) == s1 + s2


def test_zero_dim_arrays_are_not_weak():
    assert (mx.array(2) + mx.array([1], dtype=mx.int8)).dtype == mx.int32
    assert (mx.array(2.5) + mx.array([1], dtype=mx.float16)).dtype == mx.float32
    assert (2.5 + mx.array([1], dtype=mx.float16)).dtype == mx.float16


@pytest.mark.parametrize(
    "dtype,scalar", [("int8", 1000), ("uint8", -1), ("int32", 2**40), ("int16", -40000)]
)
def test_python_scalar_overflow_raises(dtype, scalar):
    a = mx.array([1], dtype=mx_dtype(dtype))
    with pytest.raises(ValueError):
        mx.add(a, scalar)


BROADCAST_SHAPES = [
    ((3, 1), (1, 4)), ((5,), (2, 3, 5)), ((), (3,)), ((2, 3), ()),
    ((2, 1, 4), (3, 1)), ((1,), (0,)), ((2, 0), (2, 1)), ((0, 3), (3,)),
]  # fmt: skip
BROADCAST_OPS = ["add", "subtract", "divide", "maximum", "less", "arctan2", "logical_xor", "power"]  # fmt: skip


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", BROADCAST_OPS)
def test_broadcasting(op, shapes, rng):
    xs, ys = shapes
    x = sample(rng, OPS[op][2], "float32", xs)[0]
    y = sample(rng, OPS[op][2], "float32", ys)[1]
    got = getattr(mx, op)(mx.array(x), mx.array(y))
    assert got.shape == np.broadcast_shapes(xs, ys)
    check_result(
        got, reference(op, x, y, "float32"), result_dtype(op, "float32", "float32")
    )


@pytest.mark.parametrize("op", list(OPS) + ["divmod"])
@pytest.mark.parametrize(
    "shapes", [((2, 3), (3, 2)), ((3,), (4,)), ((2, 3, 4), (2, 4))], ids=str
)
def test_shape_mismatch_raises(op, shapes):
    dtype = mx.int32
    a, b = mx.ones(shapes[0], dtype=dtype), mx.ones(shapes[1], dtype=dtype)
    with pytest.raises(ValueError):
        mx.eval(getattr(mx, op)(a, b))


def _strided(x):
    base = np.zeros((2 * x.shape[0], 3 * x.shape[1]), x.dtype)
    base[::2, 1::3] = x
    return mx.array(base)[::2, 1::3]


# Each builds a non-contiguous MLX view whose values are exactly x.
LAYOUTS = {
    "transposed": lambda x: mx.transpose(mx.array(x.T.copy())),
    "strided": _strided,
    "reversed": lambda x: mx.array(x[::-1, ::-1].copy())[::-1, ::-1],
    "broadcast": lambda x: mx.broadcast_to(mx.array(x[:1]), x.shape),
}
NON_CONTIGUOUS_OPS = ["add", "multiply", "floor_divide", "remainder", "maximum", "greater", "bitwise_xor", "arctan2"]  # fmt: skip


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("op", NON_CONTIGUOUS_OPS)
def test_non_contiguous_operands(op, layout, rng):
    dtype = "int32" if op in BITWISE else "float32"
    x, y = sample(rng, OPS[op][2], dtype, (6, 5))
    if layout == "broadcast":
        x, y = np.broadcast_to(x[:1], x.shape), np.broadcast_to(y[:1], y.shape)
    a = LAYOUTS[layout](x)
    assert a.shape == x.shape
    expected = reference(op, x, y, dtype)
    check_result(
        getattr(mx, op)(a, mx.array(np.ascontiguousarray(y))),
        expected,
        dtype_out(op, dtype),
    )
    # both operands non-contiguous
    check_result(getattr(mx, op)(a, LAYOUTS[layout](y)), expected, dtype_out(op, dtype))
    check_result(
        getattr(mx, op)(mx.array(np.ascontiguousarray(y)), a),
        reference(op, y, x, dtype),
        dtype_out(op, dtype),
    )


def dtype_out(op, dtype):
    return result_dtype(op, dtype, dtype)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float32", "float64"])
def test_remainder_and_floor_divide_signs(dtype):
    a = as_mx([7, -7, 7, -7, 6, -6], dtype)
    b = as_mx([3, 3, -3, -3, 3, -3], dtype)
    eq(to_numpy(mx.remainder(a, b)), [1, 2, -2, -1, 0, 0])
    eq(to_numpy(mx.floor_divide(a, b)), [2, -3, -3, 2, 2, 2])
    eq(to_numpy(a % b), [1, 2, -2, -1, 0, 0])
    eq(to_numpy(a // b), [2, -3, -3, 2, 2, 2])


def test_float_remainder_fractional():
    a = mx.array([5.5, -5.5, 5.5, -5.5])
    b = mx.array([2.0, 2.0, -2.0, -2.0])
    np.testing.assert_allclose(to_numpy(mx.remainder(a, b)), [1.5, 0.5, -0.5, -1.5])


@pytest.mark.parametrize(
    "dtype", ["bool_", "int8", "uint8", "int32", "float16", "float32"]
)
def test_divmod(dtype, rng):
    x, y = sample(rng, "near_int", dtype, (3, 5))
    q, r = mx.divmod(as_mx(x, dtype), as_mx(y, dtype))
    check_result(q, reference("floor_divide", x, y, dtype), dtype)
    check_result(r, reference("remainder", x, y, dtype), dtype)


def test_divmod_complex_raises():
    a = mx.array([1 + 1j])
    with pytest.raises(ValueError):
        mx.divmod(a, a)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64", "uint64"])
def test_integer_division_by_zero_does_not_crash(dtype):
    a = as_mx([1, 0, 5], dtype)
    z = as_mx([0, 0, 0], dtype)
    for op in ("floor_divide", "remainder"):
        got = getattr(mx, op)(a, z)
        mx.eval(got)
        assert got.dtype == mx_dtype(dtype) and got.shape == (3,)
    got = to_numpy(mx.divide(a, z))
    assert got.dtype == np.float32
    assert got[0] == INF and np.isnan(got[1])


def test_integer_power():
    got = mx.power(mx.array([2, 3, -2, 5]), mx.array([10, 3, 3, 0]))
    assert got.dtype == mx.int32
    eq(to_numpy(got), [1024, 27, -8, 1])
    eq(
        to_numpy(mx.power(mx.array([2], dtype=mx.int8), mx.array([7], dtype=mx.int8))),
        [-128],
    )
    # Negative integer exponents do not raise (NumPy does); 2**-1 truncates to 0.
    neg = mx.power(mx.array([2, 3, 10]), mx.array([-1, -2, -1]))
    assert neg.dtype == mx.int32
    eq(to_numpy(neg), [0, 0, 0])


def test_float_power_specials():
    got = to_numpy(
        mx.power(mx.array([-2.0, 2.0, 0.0, 4.0]), mx.array([0.5, -1.0, -1.0, 0.5]))
    )
    assert np.isnan(got[0])
    eq(got[1:], [0.5, INF, 2.0])
    assert (mx.array([2, 3]) ** 2.0).dtype == mx.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("exponent", [2, 3, 4, 1, 0, -1, 2.5])
def test_constant_exponents(exponent, dtype, rng):
    # Small integer exponents are multiplications on the CPU: the same values
    # as pow, within an ulp, specials included.
    x = np.concatenate([rng.standard_normal(1000) * 10, [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -3.0]])
    x = x.astype(dtype)
    got = to_numpy(mx.array(x, dtype=getattr(mx, dtype)) ** exponent)
    with np.errstate(all="ignore"):
        want = np.power(x, np.asarray(exponent, dtype=dtype))
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, equal_nan=True)
    assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))


def test_ops_on_broadcast_values_stay_one_value():
    # Every operand one value broadcast: the result holds one value too, and
    # behaves as the full array everywhere after.
    a = mx.broadcast_to(mx.array(2.0), (3, 4))
    b = mx.broadcast_to(mx.array([[5.0]]), (3, 4))
    for r in (a * b - 1, mx.exp(a), -b):
        assert r.shape == (3, 4)
        full = to_numpy(r)
        assert full.shape == (3, 4) and np.all(full == full.flat[0])
    c = a * b - 1
    eq(to_numpy(c + mx.arange(4)), np.full((3, 4), 9.0) + np.arange(4))
    eq(to_numpy(c[1:, ::2]), np.full((2, 2), 9.0))
    eq(to_numpy(c.sum(axis=0)), np.full(4, 27.0))
    eq(to_numpy(c.reshape(12)), np.full(12, 9.0))
    # The gradient of x ** 3 (its vjp computes 3 - 1 on the broadcast exponent).
    x = mx.array(np.linspace(-2, 2, 9, dtype=np.float32))
    np.testing.assert_allclose(to_numpy(mx.grad(lambda x: (x**3).sum())(x)), 3 * to_numpy(x) ** 2, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_propagate_nan(op, dtype):
    a = mx.array([NAN, 1.0, NAN, 2.0]).astype(mx_dtype(dtype))
    b = mx.array([1.0, NAN, NAN, 3.0]).astype(mx_dtype(dtype))
    got = to_numpy(getattr(mx, op)(a, b))
    assert np.isnan(got[:3]).all()
    assert got[3] == (3.0 if op == "maximum" else 2.0)


def test_complex_ordering_is_lexicographic():
    a = mx.array([1 + 5j, 2 + 0j, 1 + 1j])
    b = mx.array([2 + 0j, 1 + 5j, 1 + 2j])
    eq(to_numpy(mx.maximum(a, b)), [2, 2, 1 + 2j])
    eq(to_numpy(mx.less(a, b)), [True, False, True])


def test_nan_comparisons():
    a, b = mx.array([NAN, NAN, 1.0]), mx.array([NAN, 1.0, NAN])
    eq(to_numpy(mx.equal(a, b)), [False, False, False])
    eq(to_numpy(mx.not_equal(a, b)), [True, True, True])
    for op in ("less", "less_equal", "greater", "greater_equal"):
        eq(to_numpy(getattr(mx, op)(a, b)), [False, False, False])
    # NaN is truthy for logical ops
    eq(to_numpy(mx.logical_and(a, mx.array([1.0, 0.0, 1.0]))), [True, False, True])


def test_bool_arithmetic():
    t, f = mx.array([True, True, False, False]), mx.array([True, False, True, False])
    eq(to_numpy(mx.add(t, f)), [True, True, True, False])
    eq(to_numpy(mx.subtract(t, f)), [False, True, True, False])
    eq(to_numpy(mx.multiply(t, f)), [True, False, False, False])
    eq(to_numpy(mx.divide(t, t)), [1.0, 1.0, NAN, NAN])
    got = mx.left_shift(mx.array([True]), mx.array([True]))
    assert got.dtype == mx.uint8 and to_numpy(got)[0] == 2


def test_shifts():
    eq(
        to_numpy(mx.right_shift(mx.array([-8, 8, -1]), mx.array([1, 2, 5]))),
        [-4, 2, -1],
    )
    eq(to_numpy(mx.left_shift(mx.array([100, -100], dtype=mx.int8), 2)), [-112, 112])
    eq(to_numpy(mx.right_shift(mx.array([200], dtype=mx.uint8), 3)), [25])
    eq(to_numpy(mx.array([1, 2]) << 3), [8, 16])


ISCLOSE_A = [1.0, NAN, INF, -INF, 1e10, 0.0, 1.0, 100.0, NAN, INF]
ISCLOSE_B = [1.000001, NAN, INF, INF, 1.00001e10, 1e-9, 1.1, 101.0, 1.0, 1e38]


ISCLOSE_KWARGS = [{}, {"equal_nan": True}, {"rtol": 0.0, "atol": 0.2}, {"rtol": 0.05}, {"rtol": 0.0, "atol": 0.0}]  # fmt: skip


@pytest.mark.parametrize("kwargs", ISCLOSE_KWARGS, ids=str)
def test_isclose(kwargs):
    a, b = np.array(ISCLOSE_A, np.float32), np.array(ISCLOSE_B, np.float32)
    got = mx.isclose(mx.array(a), mx.array(b), **kwargs)
    assert got.dtype == mx.bool_
    eq(to_numpy(got), np.isclose(a, b, **kwargs))
    # broadcasting and allclose agree with the element-wise result
    assert mx.isclose(mx.array(a), mx.array(1.0)).shape == a.shape
    want = bool(np.all(np.isclose(a, b, **kwargs)))
    assert bool(mx.allclose(mx.array(a), mx.array(b), **kwargs)) == want


def test_isclose_is_relative_to_b(rng):
    # |a - b| <= atol + rtol * |b|: asymmetric in a and b, like NumPy.
    assert np.isclose(10.0, 11.0, rtol=0.095) != np.isclose(11.0, 10.0, rtol=0.095)
    for a, b in [(10.0, 11.0), (11.0, 10.0)]:
        got = mx.isclose(mx.array([a]), mx.array([b]), rtol=0.095, atol=0)
        assert bool(got[0]) == np.isclose(a, b, rtol=0.095, atol=0)
    x = rng.normal(size=(20,)).astype(np.float32)
    y = x + rng.normal(scale=1e-5, size=(20,)).astype(np.float32)
    eq(to_numpy(mx.isclose(mx.array(x), mx.array(y))), np.isclose(x, y))
    eq(to_numpy(mx.isclose(mx.array([1, 2]), mx.array([1, 3]))), [True, False])


def test_allclose_result_and_errors():
    x = mx.array([1.0, 2.0])
    got = mx.allclose(x, x + 1e-7)
    assert isinstance(got, mx.array) and got.shape == () and got.dtype == mx.bool_
    assert bool(got)
    assert not bool(mx.allclose(x, x + 1))
    assert bool(mx.allclose(x, mx.broadcast_to(x, (3, 2))))
    nan = mx.array([NAN])
    assert not bool(mx.allclose(nan, nan))
    assert bool(mx.allclose(nan, nan, equal_nan=True))
    with pytest.raises(ValueError):
        mx.allclose(x, mx.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        mx.isclose(x, mx.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize(
    "a,b,kwargs,expected",
    [
        ([1, 2], [1, 2], {}, True),
        ([1, 2], [1.0, 2.0], {}, True),
        ([1, 2], [1, 3], {}, False),
        ([1, 2], [1, 2, 3], {}, False),
        ([1, 2], [[1, 2]], {}, False),
        ([[1, 2], [1, 2]], [1, 2], {}, False),
        ([NAN, 1.0], [NAN, 1.0], {}, False),
        ([NAN, 1.0], [NAN, 1.0], {"equal_nan": True}, True),
        ([], [], {}, True),
        ([True, False], [1, 0], {}, True),
    ],
)
def test_array_equal(a, b, kwargs, expected):
    got = mx.array_equal(mx.array(a), mx.array(b), **kwargs)
    assert got.shape == () and got.dtype == mx.bool_
    assert bool(got) is expected


WHERE_DTYPES = [("float32", "float32"), ("int8", "uint8"), ("int8", "float16"), ("bool_", "int32"), ("complex64", "float32")]  # fmt: skip


@pytest.mark.parametrize("xdt,ydt", WHERE_DTYPES)
def test_where(xdt, ydt, rng):
    cond = rng.random((3, 4)) < 0.5
    x = rng.integers(0, 2 if xdt == "bool_" else 9, size=(3, 4))
    y = rng.integers(0, 9, size=(1, 4))
    got = mx.where(mx.array(cond), as_mx(x, xdt), as_mx(y, ydt))
    out = PROMOTE[xdt, ydt]
    check_result(got, np.where(cond, x, y).astype(np_dtype(out)), out)


def test_where_conditions_scalars_and_broadcast(rng):
    cond = np.array([1, 0, 2])  # non-bool condition: nonzero is true
    got = mx.where(mx.array(cond), mx.array([1, 2, 3]), 0.5)
    check_result(got, np.where(cond, [1, 2, 3], 0.5), "float32")
    got = mx.where(mx.array([True, False]), 1, 2)
    check_result(got, [1, 2], "int32")
    c = rng.random((2, 1, 3)) < 0.5
    x, y = rng.normal(size=(4, 1)).astype(np.float32), np.float32(7.0)
    got = mx.where(mx.array(c), mx.array(x), mx.array(y))
    check_result(got, np.where(c, x, y), "float32")
    got = mx.where(mx.array([True]), mx.array([1], dtype=mx.float16), 2.5)
    assert got.dtype == mx.float16
    with pytest.raises(ValueError):
        mx.where(mx.array([True, False, True]), mx.array([1, 2]), 0)
    with pytest.raises(ValueError):
        mx.where(mx.array([True]), mx.array([1], dtype=mx.int8), 300)


@pytest.mark.parametrize("layout", ["dense", "scalar_x", "scalar_y", "broadcast_cond", "strided"])
def test_where_large_random_conditions(layout, rng):
    # Enough elements that threads split them; a random condition (no branch
    # pattern to learn); each operand layout the kernel has a loop for.
    n = (4, 300, 500)
    c = rng.random(n) < 0.5
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    cm, xm, ym = mx.array(c), mx.array(x), mx.array(y)
    if layout == "scalar_x":
        x, xm = np.float32(2.5), 2.5
    elif layout == "scalar_y":
        y, ym = np.float32(-1.5), -1.5
    elif layout == "broadcast_cond":
        c = c[:1]
        cm = mx.array(c)
    elif layout == "strided":
        c, x, y = c[:, :, ::2], x[:, :, ::2], y[:, :, ::2]
        cm, xm, ym = cm[:, :, ::2], xm[:, :, ::2], ym[:, :, ::2]
    np.testing.assert_array_equal(to_numpy(mx.where(cm, xm, ym)), np.where(c, x, y))


def test_where_condition_viewed_from_bytes():
    # A bool array viewed from bytes other than 0 and 1: nonzero is true.
    b = mx.view(mx.array(np.array([0, 1, 2, 255] * 50, dtype=np.uint8)), mx.bool_)
    got = to_numpy(mx.where(b, mx.ones(200), mx.zeros(200)))
    np.testing.assert_array_equal(got, np.array([0, 1, 1, 1] * 50, dtype=np.float32))


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int32", "float16", "bfloat16", "float32", "float64"]
)
@pytest.mark.parametrize("bounds", [(2, 6), (2, None), (None, 6), (6, 2)], ids=str)
def test_clip_scalars(dtype, bounds, rng):
    x = rng.integers(0, 10, size=(4, 5))
    got = mx.clip(as_mx(x, dtype), *bounds)
    lo, hi = bounds
    expected = x if lo is None else np.maximum(x, lo)
    expected = expected if hi is None else np.minimum(expected, hi)
    check_result(got, expected.astype(np_dtype(dtype)), dtype)


def test_clip_arrays_and_promotion(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    lo = rng.normal(size=(4,)).astype(np.float32) - 0.5
    hi = lo + 1
    got = mx.clip(mx.array(x), mx.array(lo), mx.array(hi))
    check_result(got, np.clip(x, lo, hi), "float32")
    got = mx.clip(
        mx.array([1, 5, 9], dtype=mx.uint8), mx.array([2, 6, 0], dtype=mx.uint8), 7
    )
    check_result(got, [2, 6, 7], "uint8")
    got = mx.clip(mx.array([1, 5, 9], dtype=mx.int8), 2.5, 6.5)
    check_result(got, [2.5, 5, 6.5], "float32")
    got = mx.clip(mx.array([1, 2], dtype=mx.int8), mx.array([0], dtype=mx.int16), 5)
    assert got.dtype == mx.int16
    nan_in = to_numpy(mx.clip(mx.array([NAN, 1.0]), 0.0, 0.5))
    assert np.isnan(nan_in[0]) and nan_in[1] == 0.5
    with pytest.raises(ValueError):
        mx.clip(mx.array([1, 2]), None, None)


def test_operators_match_functions(rng):
    x = rng.integers(1, 50, size=(3, 4)).astype(np.int32)
    y = rng.integers(1, 7, size=(3, 4)).astype(np.int32)
    a, b = mx.array(x), mx.array(y)
    pairs = [
        (a + b, x + y), (a - b, x - y), (a * b, x * y), (a // b, x // y), (a % b, x % y),
        (a ** (b % 4), x ** (y % 4)), (a & b, x & y), (a | b, x | y), (a ^ b, x ^ y), (a >> b, x >> y),
        (a == b, x == y), (a != b, x != y), (a < b, x < y), (a <= b, x <= y),
        (a > b, x > y), (a >= b, x >= y), (3 - a, 3 - x), (2 ** (b % 5), 2 ** (y % 5)),
    ]  # fmt: skip
    for got, expected in pairs:
        eq(to_numpy(got), expected)
    np.testing.assert_allclose(to_numpy(a / b), x / y, rtol=1e-6)
    assert math.isclose(float(to_numpy(mx.array(7) / 2)), 3.5)
