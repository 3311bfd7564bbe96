"""Element-wise unary operations, checked against NumPy.

Each op is described once in OPS; the tests walk the (op, dtype) matrix: every
pair either computes the NumPy reference (and MLX's output dtype) or raises the
exception MLX raises for it.
"""

import math

import numpy as np
import pytest

from conftest import ALL_DTYPES, BACKEND, mx, to_numpy, tolerance

INTLIKE = {
    "bool_",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
}
NP_DTYPE = {
    "bool_": np.bool_,
    "float16": np.float16,
    "bfloat16": np.float32,
    "float32": np.float32,
    "float64": np.float64,
    "complex64": np.complex64,
}
NAN, INF = float("nan"), float("inf")

_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_dtype(name):
    return NP_DTYPE.get(name) or np.dtype(name).type


def mx_dtype(name):
    return getattr(mx, name)


def dtype_name(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def _ref_sign(x):
    if np.iscomplexobj(x):
        mag = np.abs(x)
        return np.where(mag == 0, 0, x / np.where(mag == 0, 1, mag))
    # MLX's sign(nan) is 0, NumPy's is nan.
    return np.where(np.isnan(x), 0, np.sign(x)) if x.dtype.kind == "f" else np.sign(x)


def _ref_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ref_isposinf(x):
    # MLX compares with +inf, which for complex means (inf + 0j).
    return x == np.inf if np.iscomplexobj(x) else np.isposinf(x)


def _ref_isneginf(x):
    return x == -np.inf if np.iscomplexobj(x) else np.isneginf(x)


def _ref_invert(x):
    return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)


def _ref_erfinv(x):
    """Inverse of math.erf by Newton's method (monotone from 0 for |x| < 1)."""
    y = np.zeros_like(x, dtype=np.float64)
    inside = np.abs(x) < 1
    for _ in range(100):
        step = (_erf(y) - x) / (2 / math.sqrt(math.pi) * np.exp(-(y**2)))
        y = np.where(inside, y - step, y)
    edge = np.where(np.abs(x) == 1, np.sign(x) * np.inf, np.nan)
    return np.where(inside, y, edge)


# Largest finite value, which nan_to_num substitutes for +-inf by default.
FINFO_MAX = {
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
    "float32": float(np.finfo(np.float32).max),
    "float64": float(np.finfo(np.float64).max),
}


# name: (reference, kind, (lo, hi) for real inputs, complex_ok)
#   kind "same": output dtype = input dtype; "float": bool/int inputs give
#   float32; "bool": output is bool.  complex_ok: False -> ValueError.
OPS = {
    "abs": (np.abs, "same", (-5, 5), True),
    "sign": (_ref_sign, "same", (-5, 5), True),
    "negative": (np.negative, "same", (-5, 5), True),
    "square": (np.square, "same", (-10, 10), True),
    "sqrt": (np.sqrt, "float", (0, 10), True),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), "float", (0.1, 10), True),
    "reciprocal": (lambda x: 1.0 / x, "float", (0.2, 5), True),
    "exp": (np.exp, "float", (-5, 5), True),
    "expm1": (np.expm1, "float", (-3, 3), False),
    "log": (np.log, "float", (0.1, 10), True),
    "log2": (np.log2, "float", (0.1, 10), True),
    "log10": (np.log10, "float", (0.1, 10), True),
    "log1p": (np.log1p, "float", (-0.9, 10), True),
    "sin": (np.sin, "float", (-5, 5), True),
    "cos": (np.cos, "float", (-5, 5), True),
    "tan": (np.tan, "float", (-1.4, 1.4), True),
    "arcsin": (np.arcsin, "float", (-0.95, 0.95), True),
    "arccos": (np.arccos, "float", (-0.95, 0.95), True),
    "arctan": (np.arctan, "float", (-5, 5), True),
    "sinh": (np.sinh, "float", (-4, 4), True),
    "cosh": (np.cosh, "float", (-4, 4), True),
    "tanh": (np.tanh, "float", (-4, 4), True),
    "arcsinh": (np.arcsinh, "float", (-5, 5), True),
    "arccosh": (np.arccosh, "float", (1.1, 10), True),
    "arctanh": (np.arctanh, "float", (-0.9, 0.9), True),
    "degrees": (lambda x: x * (180.0 / np.pi), "float", (-5, 5), True),
    "radians": (lambda x: x * (np.pi / 180.0), "float", (-200, 200), True),
    "erf": (_erf, "float", (-3, 3), False),
    "erfinv": (_ref_erfinv, "float", (-0.99, 0.99), False),
    "sigmoid": (_ref_sigmoid, "float", (-6, 6), False),
    "floor": (np.floor, "same", (-10, 10), False),
    "ceil": (np.ceil, "same", (-10, 10), False),
    "round": (np.round, "same", (-10, 10), True),
    "logical_not": (np.logical_not, "bool", (-2, 2), True),
    "bitwise_invert": (_ref_invert, "same", (-100, 100), False),
    "isnan": (np.isnan, "bool", (-5, 5), True),
    "isinf": (np.isinf, "bool", (-5, 5), True),
    "isfinite": (np.isfinite, "bool", (-5, 5), True),
    "isposinf": (_ref_isposinf, "bool", (-5, 5), True),
    "isneginf": (_ref_isneginf, "bool", (-5, 5), True),
    "nan_to_num": (None, "same", (-5, 5), False),  # see reference()
    "real": (np.real, "same", (-5, 5), True),
    "imag": (np.imag, "same", (-5, 5), True),
    "conjugate": (np.conjugate, "same", (-5, 5), True),
    "stop_gradient": (lambda x: x, "same", (-5, 5), True),
}
# Ops whose inputs get nan/inf sprinkled in (they are about special values).
SPECIALS = {
    "isnan",
    "isinf",
    "isfinite",
    "isposinf",
    "isneginf",
    "nan_to_num",
    "logical_not",
}
# (op, dtype) pairs MLX rejects beyond the complex_ok column, with the exception.
REJECTED = {("negative", "bool_"): ValueError}
if BACKEND == "mlx":  # an MLX gap lmx does not share
    REJECTED[("nan_to_num", "float64")] = ValueError
for _d in ["float16", "bfloat16", "float32", "float64"]:
    REJECTED[("bitwise_invert", _d)] = ValueError


def expected_error(op, dtype):
    if dtype == "complex64" and not OPS[op][3]:
        return ValueError
    return REJECTED.get((op, dtype))


def out_dtype(op, dtype):
    kind = OPS[op][1]
    if kind == "bool":
        return "bool_"
    if dtype == "complex64" and op in ("abs", "real", "imag"):
        return "float32"
    if kind == "float" and dtype in INTLIKE:
        return "float32"
    return dtype


def make_input(rng, dtype, shape, lo, hi, specials=False):
    """(mx array, exact NumPy copy) with values in [lo, hi]."""
    if dtype == "bool_":
        x = rng.random(shape) < 0.5
    elif dtype in INTLIKE:
        info = np.iinfo(dtype)
        ilo, ihi = max(math.ceil(lo), info.min), min(math.floor(hi), info.max)
        x = rng.integers(ilo, ihi, size=shape, endpoint=True).astype(dtype)
    elif dtype == "complex64":
        re = rng.uniform(-2, 2, shape)
        im = rng.uniform(0.2, 1.5, shape) * rng.choice([-1, 1], shape)
        x = (re + 1j * im).astype(np.complex64)
        if specials and x.size >= 4:
            x.flat[:4] = [
                complex(NAN, 0),
                complex(INF, 0),
                complex(-INF, 1),
                complex(1, INF),
            ]
    else:
        x = rng.uniform(lo, hi, shape).astype(np.float32)
        if specials and x.size >= 4:
            x.flat[:4] = [NAN, INF, -INF, -0.0]
    a = mx.array(x).astype(mx_dtype(dtype))
    return a, to_numpy(a)


def reference(op, x, dtype):
    """NumPy result for op on the exact input values x (held as dtype)."""
    ref, kind = OPS[op][:2]
    if op == "nan_to_num":
        if dtype in INTLIKE:
            return x
        x = x.astype(np.float64)
        return np.nan_to_num(
            x, nan=0.0, posinf=FINFO_MAX[dtype], neginf=-FINFO_MAX[dtype]
        )
    if dtype == "complex64":
        x = x.astype(np.complex128)
    elif dtype == "bool_" and kind == "same" and op != "bitwise_invert":
        return np.asarray(ref(x.astype(np.int64))).astype(bool)
    elif dtype not in INTLIKE or kind == "float":
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):  # out-of-domain bool/int inputs give inf/nan
        return ref(x)


# MLX's CPU float64 exp/sin/cos/erf/erfinv/sigmoid are only float32-accurate
# (and exp overflows past ~88); inputs stay in range and the tolerance is wider.
FLOAT64_APPROX = {"exp", "sin", "cos", "erf", "erfinv", "sigmoid"}


def check_result(got, expected, out, op=None):
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


def run_op(op, a):
    return getattr(mx, op)(a)


SUPPORTED = [(op, d) for op in OPS for d in ALL_DTYPES if expected_error(op, d) is None]
UNSUPPORTED = [(op, d) for op in OPS for d in ALL_DTYPES if expected_error(op, d)]


@pytest.mark.parametrize("op,dtype", SUPPORTED)
def test_unary_values(op, dtype, rng):
    lo, hi = OPS[op][2]
    a, x = make_input(rng, dtype, (4, 5), lo, hi, specials=op in SPECIALS)
    check_result(run_op(op, a), reference(op, x, dtype), out_dtype(op, dtype), op)


@pytest.mark.parametrize("op,dtype", UNSUPPORTED)
def test_unary_rejected_dtype(op, dtype):
    a = mx.array([1, 0, 1]).astype(mx_dtype(dtype))
    with pytest.raises(expected_error(op, dtype)):
        mx.eval(run_op(op, a))


def primary_dtype(op):
    return "int32" if op == "bitwise_invert" else "float32"


LAYOUTS = {
    "transposed": lambda a: mx.transpose(a),
    "strided": lambda a: a[::2, 1::2],
    "reversed": lambda a: a[::-1],
    "broadcast": lambda a: mx.broadcast_to(a[:1], (3, 6)),
    "swapped_3d": lambda a: mx.swapaxes(mx.reshape(a, (2, 3, 6)), 0, 2),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("op", list(OPS))
def test_unary_non_contiguous(op, layout, rng):
    lo, hi = OPS[op][2]
    dtype = primary_dtype(op)
    a, _ = make_input(rng, dtype, (6, 6), lo, hi, specials=op in SPECIALS)
    view = LAYOUTS[layout](a)
    x = to_numpy(view)
    assert x.shape == view.shape
    check_result(run_op(op, view), reference(op, x, dtype), out_dtype(op, dtype), op)


@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3)])
@pytest.mark.parametrize("op", list(OPS))
def test_unary_scalar_and_empty(op, shape, rng):
    lo, hi = OPS[op][2]
    dtype = primary_dtype(op)
    a, x = make_input(rng, dtype, shape, lo, hi)
    got = run_op(op, a)
    assert got.shape == shape
    check_result(got, reference(op, x, dtype), out_dtype(op, dtype), op)


@pytest.mark.parametrize(
    "op,value,expected",
    [
        ("exp", INF, INF),
        ("exp", -INF, 0.0),
        ("exp", 1000.0, INF),
        ("log", 0.0, -INF),
        ("log", -1.0, NAN),
        ("log", INF, INF),
        ("sqrt", -1.0, NAN),
        ("sqrt", INF, INF),
        ("log1p", -1.0, -INF),
        ("arcsin", 1.5, NAN),
        ("arccosh", 0.5, NAN),
        ("arctanh", 1.0, INF),
        ("arctanh", -1.0, -INF),
        ("sigmoid", -INF, 0.0),
        ("sigmoid", INF, 1.0),
        ("tanh", 100.0, 1.0),
        ("tanh", -100.0, -1.0),
        ("erfinv", 1.0, INF),
        ("erfinv", -1.0, -INF),
        ("erfinv", 0.0, 0.0),
        ("erfinv", 1.5, NAN),
        ("sign", NAN, 0.0),
        ("floor", -INF, -INF),
        ("abs", -INF, INF),
        ("expm1", 1e-10, 1e-10),
        ("log1p", 1e-10, 1e-10),
        ("reciprocal", 0.0, INF),
        ("rsqrt", 0.0, INF),
    ],
)
def test_unary_special_values(op, value, expected):
    got = to_numpy(getattr(mx, op)(mx.array([value], dtype=mx.float32)))
    np.testing.assert_allclose(got, [expected], rtol=1e-6, atol=0)


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX's CPU exp overflows early: exp(88.1) = 1.8e38 gives inf there")
def test_exp_float32_over_its_whole_range():
    # The vectorised exp builds 2^n itself: check the edges where that can go
    # wrong (the overflow threshold, the slide into subnormals, NaN), on a
    # dense contiguous array so the SIMD path runs.
    x = np.concatenate(
        [
            np.linspace(-110.0, 89.0, 20001, dtype=np.float32),
            np.float32([88.72283, 88.72284, 88.7229, -87.33654, -87.34, -103.97, -104.0, -150.0]),
            np.float32([0.0, -0.0, np.inf, -np.inf, np.nan]),
        ]
    )
    got = to_numpy(mx.exp(mx.array(x)))
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64))
    normal = want < np.finfo(np.float32).max
    np.testing.assert_allclose(got[normal], want[normal], rtol=3e-7, atol=np.finfo(np.float32).tiny)
    assert np.all(np.isposinf(got[want > np.finfo(np.float32).max]))
    assert np.isnan(got[-1])
    # Masked softmax scores: far-below values (the dtype's lowest, -inf)
    # between ordinary ones, and a lone subnormal result among them.
    lowest = np.finfo(np.float32).min
    row = np.tile(np.float32([0.5, lowest, -3.0, -np.inf, -1e30, 2.0, -500.0, -0.25]), 40)
    row[37] = -95.0
    got = to_numpy(mx.exp(mx.array(row)))
    want = np.exp(row.astype(np.float64))
    assert np.all(got[row < -104] == 0)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=np.finfo(np.float32).tiny)


@pytest.mark.parametrize(
    "dtype", ["bool_", "int32", "float16", "bfloat16", "float32", "float64"]
)
def test_erfinv_inverts_erf(dtype, rng):
    a, x = make_input(rng, dtype, (50,), -0.99, 0.99)
    got = mx.erfinv(a)
    assert dtype_name(got.dtype) == out_dtype("erf", dtype)
    rtol, atol = tolerance(out_dtype("erf", dtype))
    back = _erf(to_numpy(got).astype(np.float64))
    np.testing.assert_allclose(
        back, x.astype(np.float64), rtol=rtol, atol=max(atol, 1e-5)
    )
    if dtype != "bool_":
        # The round trip through erf also holds within MLX.
        np.testing.assert_allclose(
            to_numpy(mx.erf(got)), x, rtol=2 * rtol, atol=max(atol, 1e-5)
        )


@pytest.mark.parametrize("decimals", [-2, -1, 0, 1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint16"])
def test_round_decimals(dtype, decimals, rng):
    if dtype in INTLIKE:
        x = rng.integers(0, 10_000, size=(40,)).astype(dtype)
    else:
        x = (rng.uniform(-1000, 1000, size=(40,))).astype(dtype)
    got = mx.round(mx.array(x, dtype=mx_dtype(dtype)), decimals)
    assert dtype_name(got.dtype) == dtype
    expected = np.round(x, decimals)
    if dtype in INTLIKE:
        np.testing.assert_array_equal(to_numpy(got), expected)
    else:
        # MLX scales float64 by a float32 power of ten: ~1e-8 relative error.
        rtol = 1e-7 if dtype == "float64" and decimals else tolerance(dtype)[0]
        np.testing.assert_allclose(to_numpy(got), expected, rtol=rtol, atol=0)


def test_round_half_to_even():
    x = mx.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5, 0.49999997])
    np.testing.assert_array_equal(to_numpy(mx.round(x)), [0, 2, 2, -0.0, -2, 4, 0])
    np.testing.assert_array_equal(
        to_numpy(mx.round(mx.array([-155, 145, 123]), -1)), [-160, 140, 120]
    )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_nan_to_num_arguments(dtype):
    a = mx.array([NAN, INF, -INF, 1.5, -2.0]).astype(mx_dtype(dtype))
    finfo_max = {
        "float16": 65504.0,
        "bfloat16": 3.3895313892515355e38,
        "float32": 3.4028234663852886e38,
    }
    default = to_numpy(mx.nan_to_num(a)).astype(np.float64)
    np.testing.assert_array_equal(
        default, [0.0, finfo_max[dtype], -finfo_max[dtype], 1.5, -2.0]
    )
    custom = mx.nan_to_num(a, nan=5.0, posinf=7.0, neginf=-9.0)
    assert dtype_name(custom.dtype) == dtype
    np.testing.assert_array_equal(to_numpy(custom), [5.0, 7.0, -9.0, 1.5, -2.0])
    positional = mx.nan_to_num(a, 0.25)
    np.testing.assert_array_equal(to_numpy(positional)[[0, 3]], [0.25, 1.5])
    only_posinf = to_numpy(mx.nan_to_num(a, posinf=3.0))
    np.testing.assert_array_equal(only_posinf[:3], [0.0, 3.0, -finfo_max[dtype]])


def test_nan_to_num_integers_unchanged():
    a = mx.array([1, -2, 3], dtype=mx.int16)
    got = mx.nan_to_num(a, nan=5.0)
    assert got.dtype == mx.int16
    np.testing.assert_array_equal(to_numpy(got), [1, -2, 3])


def test_complex_parts(rng):
    x = (rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))).astype(np.complex64)
    a = mx.array(x)
    np.testing.assert_array_equal(to_numpy(mx.real(a)), x.real)
    np.testing.assert_array_equal(to_numpy(mx.imag(a)), x.imag)
    np.testing.assert_array_equal(to_numpy(mx.conjugate(a)), np.conj(x))
    np.testing.assert_allclose(to_numpy(mx.abs(a)), np.abs(x), rtol=1e-6)
    assert mx.real(a).dtype == mx.float32 and mx.imag(a).dtype == mx.float32
    np.testing.assert_array_equal(to_numpy(mx.imag(mx.array([3, 4]))), [0, 0])


def test_integer_wraparound():
    np.testing.assert_array_equal(
        to_numpy(mx.abs(mx.array([-128, 127], dtype=mx.int8))), [-128, 127]
    )
    np.testing.assert_array_equal(
        to_numpy(mx.negative(mx.array([1, 0], dtype=mx.uint8))), [255, 0]
    )
    np.testing.assert_array_equal(
        to_numpy(mx.square(mx.array([20], dtype=mx.int8))), [-112]
    )
    np.testing.assert_array_equal(
        to_numpy(mx.bitwise_invert(mx.array([0, 5], dtype=mx.uint16))), [65535, 65530]
    )


@pytest.mark.parametrize(
    "op,scalar,dtype,value",
    [
        ("sin", 1.0, "float32", math.sin(1.0)),
        ("abs", -3, "int32", 3),
        ("sqrt", 4, "float32", 2.0),
        ("sqrt", True, "float32", 1.0),
        ("abs", True, "bool_", True),
        ("negative", 2.5, "float32", -2.5),
    ],
)
def test_unary_python_scalar(op, scalar, dtype, value):
    got = getattr(mx, op)(scalar)
    assert got.shape == ()
    assert dtype_name(got.dtype) == dtype
    np.testing.assert_allclose(to_numpy(got), value, rtol=1e-6)


def test_operators_match_functions(rng):
    x = rng.integers(-50, 50, size=(3, 4)).astype(np.int32)
    a = mx.array(x)
    np.testing.assert_array_equal(to_numpy(-a), -x)
    np.testing.assert_array_equal(to_numpy(abs(a)), np.abs(x))
    np.testing.assert_array_equal(to_numpy(~a), ~x)
    np.testing.assert_array_equal(to_numpy(~(a > 0)), ~(x > 0))


def test_stop_gradient_blocks_gradient(rng):
    x = mx.array(rng.normal(size=(5,)).astype(np.float32))

    def f(v):
        return mx.sum(mx.stop_gradient(v) * v)

    grad = mx.grad(f)(x)
    # d/dv [sg(v) * v] = sg(v): only the non-stopped factor contributes.
    np.testing.assert_allclose(to_numpy(grad), to_numpy(x), rtol=1e-6)
    np.testing.assert_array_equal(
        to_numpy(mx.grad(lambda v: mx.sum(mx.stop_gradient(v)))(x)), np.zeros(5)
    )


# lmx only: MLX's CPU exp overflows past ~88.4 and its tanh/sigmoid are less
# accurate, while this checks lmx's vectorised kernels to float32 rounding.
@pytest.mark.skipif(BACKEND != "lmx", reason="checks lmx's vectorised kernels")
# Long float32 arrays take the vectorised exp/tanh/sigmoid; their edges
# (overflow, underflow, signed zero, NaN, the tanh switch at |x| = 0.625)
# must match the scalar results.
@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid"])
def test_vectorised_transcendentals(op, rng):
    edges = [np.inf, -np.inf, np.nan, 88.7, 88.72, 89.0, -87.3, -87.4, -100.0, 0.0, -0.0, 1e-8, -1e-8,
             0.624, 0.626, -0.624, -0.626, 10.0, -10.0, 20.0]  # fmt: skip
    x = np.concatenate([rng.normal(0, 6, 5000), edges]).astype(np.float32)
    got = to_numpy(getattr(mx, op)(mx.array(x))).astype(np.float64)
    xd = x.astype(np.float64)
    with np.errstate(over="ignore"):
        ref = {"exp": np.exp, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[op](xd)
        ref = ref.astype(np.float32).astype(np.float64)  # what float32 can hold (inf past its max)
    tiny = float(np.finfo(np.float32).tiny)
    normal = np.abs(ref) >= tiny  # below that the result may flush to zero
    np.testing.assert_allclose(got[normal], ref[normal], rtol=3e-7)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.all(np.abs(got[~normal & ~np.isnan(ref)]) <= tiny)
