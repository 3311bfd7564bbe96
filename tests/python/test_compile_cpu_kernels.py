"""compile's generated CPU kernels (C++ compiled at run time by the system
compiler, lmx/backend/cpu/jit.h): with LMX_CPU_JIT=always every fused chain
runs as one. They must give exactly what the tile interpreter
(LMX_CPU_JIT=0) gives, which runs each step through the unfused op's own
kernel: every op and dtype, single values, broadcasts, reductions, donated
buffers and the tails of odd sizes. Also: compiler failures, bad settings,
the on-disk cache, and the switch from interpreter to kernel in the default
(background) mode."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

pytestmark = pytest.mark.skipif(BACKEND != "lmx", reason="lmx's CPU kernel generator")


@pytest.fixture(autouse=True)
def on_cpu():
    saved = mx.default_device()
    mx.set_default_device(mx.cpu)
    yield
    mx.set_default_device(saved)


def run(mode, fun, *args):
    """fun compiled afresh, evaluated with LMX_CPU_JIT=mode, as NumPy arrays."""
    saved = os.environ.get("LMX_CPU_JIT")
    os.environ["LMX_CPU_JIT"] = mode
    try:
        out = mx.compile(fun)(*args)
        out = out if isinstance(out, tuple) else (out,)
        mx.eval(*out)
        return [to_numpy(o) for o in out]
    finally:
        if saved is None:
            del os.environ["LMX_CPU_JIT"]
        else:
            os.environ["LMX_CPU_JIT"] = saved


def assert_kernel_matches(fun, *args, reference=True):
    """The generated kernel's results equal the interpreter's bit for bit, and
    (reference) the uncompiled function's within rounding."""
    generated, interpreted = run("always", fun, *args), run("0", fun, *args)
    assert len(generated) == len(interpreted)
    for g, i in zip(generated, interpreted):
        assert g.dtype == i.dtype and g.shape == i.shape
        np.testing.assert_array_equal(g, i)
    if reference:
        eager = fun(*args)
        eager = eager if isinstance(eager, tuple) else (eager,)
        for g, e in zip(generated, eager):
            e = to_numpy(e)
            if np.issubdtype(e.dtype, np.inexact):
                np.testing.assert_allclose(g.astype(np.complex128 if np.iscomplexobj(e) else np.float64),
                                           e, rtol=2e-2 if e.dtype.itemsize == 2 else 1e-5, atol=1e-6,
                                           equal_nan=True)
            else:
                np.testing.assert_array_equal(g, e)


def every_op_chain(unary, binary):
    """One fused chain with every op as a member and an output: each op's
    result also feeds a running sum (which keeps them in one group)."""
    def f(x, y):
        outs = [getattr(mx, op)(x) for op in unary] + [getattr(mx, op)(x, y) for op in binary]
        acc = x
        for o in outs:
            acc = acc + o.astype(x.dtype)
        return (acc, *outs)
    return f


FLOAT_UNARY = ["abs", "sign", "negative", "square", "sqrt", "rsqrt", "reciprocal", "exp", "expm1", "log", "log2",
               "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
               "arcsinh", "arccosh", "arctanh", "erf", "erfinv", "sigmoid", "floor", "ceil", "round",
               "logical_not", "isnan", "isinf", "isposinf", "isneginf", "isfinite"]
FLOAT_BINARY = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power", "maximum", "minimum",
                "arctan2", "logaddexp", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
                "logical_and", "logical_or"]
INT_UNARY = ["abs", "sign", "negative", "square", "logical_not", "bitwise_invert"]
INT_BINARY = ["add", "subtract", "multiply", "floor_divide", "remainder", "maximum", "minimum", "equal", "less",
              "greater_equal", "logical_and", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
              "right_shift"]


def float_operands(dtype, n=1037):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, n).astype(np.float32)
    x[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 0.5, -0.5, 1.0]
    y = rng.uniform(-2, 2, n).astype(np.float32)
    return mx.array(x).astype(dtype), mx.array(y).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_every_float_op(dtype):
    x, y = float_operands(getattr(mx, dtype))
    assert_kernel_matches(every_op_chain(FLOAT_UNARY, FLOAT_BINARY), x, y, reference=False)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64", "int8"])
def test_every_integer_op(dtype):
    rng = np.random.default_rng(1)
    x = mx.array(rng.integers(0, 100, 1037)).astype(getattr(mx, dtype))
    y = mx.array(rng.integers(1, 7, 1037)).astype(getattr(mx, dtype))
    assert_kernel_matches(every_op_chain(INT_UNARY, INT_BINARY), x, y)


def test_complex_chains_keep_the_interpreter():
    # The generator leaves complex64 out (the compiler's complex arithmetic
    # rounds differently from the ahead-of-time kernels): same results.
    rng = np.random.default_rng(2)
    x = mx.array((rng.standard_normal(517) + 1j * rng.standard_normal(517)).astype(np.complex64))
    y = mx.array((rng.standard_normal(517) + 1j * rng.standard_normal(517)).astype(np.complex64))
    ops = every_op_chain(["negative", "square", "exp", "sqrt", "conjugate", "sin"],
                         ["add", "subtract", "multiply", "divide", "equal"])
    assert_kernel_matches(ops, x, y)


def test_bool_operands_selects_and_casts():
    rng = np.random.default_rng(3)
    x = mx.array(rng.standard_normal(999).astype(np.float32))
    mask = mx.array(rng.integers(0, 2, 999).astype(bool))

    def f(x, mask):
        keep = mx.logical_and(mask, x > -1)
        z = mx.where(keep, mx.exp(x), -x)
        return z.astype(mx.int32) * 3 + mask.astype(mx.int32), mx.logical_or(keep, x > 2)

    assert_kernel_matches(f, x, mask)


@pytest.mark.parametrize("exponent", [2.0, 3.0, 4.0, 1.0, 0.0, -1.0, 2.5])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_power_by_a_single_value(exponent, dtype):
    x, _ = float_operands(getattr(mx, dtype), 301)
    assert_kernel_matches(lambda x: (x * 1.5) ** exponent + 1, x)
    assert_kernel_matches(lambda x: mx.power(mx.array(exponent, getattr(mx, dtype)), x * 0.5) - 1, x)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 63, 64, 65, 255, 257, 4099])
def test_every_length(n):
    x = mx.array(np.linspace(-4, 4, n, dtype=np.float32))

    def f(x):
        return 0.5 * x * (1 + mx.tanh(0.7978846 * (x + 0.044715 * x ** 3))) + mx.erf(x) * mx.sigmoid(x)

    assert_kernel_matches(f, x)


def test_broadcast_and_single_value_inputs():
    rng = np.random.default_rng(4)
    x = mx.array(rng.standard_normal((37, 300)).astype(np.float32))
    row = mx.array(rng.standard_normal(300).astype(np.float32))
    col = mx.array(rng.standard_normal((37, 1)).astype(np.float32))
    s = mx.array(2.5)
    assert_kernel_matches(lambda x, r, c, s: mx.tanh(x * r + c) * s - x.T.T, x, row, col, s)
    # A transposed view: read through strides.
    assert_kernel_matches(lambda x: mx.exp(x.T) * 2 + 1, x)


# Generated kernels compute up to 16 tiles of 256 values a call before the
# fold: rows of one tile or less, rows of a few tiles, rows of more than 16
# tiles (several calls a row, the last partial).
@pytest.mark.parametrize("shape,reduce", [((64, 1000), "sum"), ((640, 10), "max"), ((3, 5000), "min"),
                                          ((2, 3, 333), "sum"), ((2, 8200), "max"), ((5000, 3), "sum")])
def test_chains_ending_in_reductions(shape, reduce):
    x = mx.array(np.random.default_rng(5).standard_normal(shape).astype(np.float32))
    assert_kernel_matches(lambda x: getattr(mx, reduce)(mx.exp(x * 0.5) * x - 1, axis=-1), x)
    # A transposed input is gathered a tile at a time instead.
    xt = mx.array(np.random.default_rng(6).standard_normal(shape[::-1]).astype(np.float32))
    assert_kernel_matches(lambda x: getattr(mx, reduce)(mx.exp(x.T * 0.5) * x.T - 1, axis=-1), xt)


def test_donated_input_is_written_in_place():
    x = mx.array(np.random.default_rng(6).standard_normal(10_000).astype(np.float32))

    def f(x):
        y = x + 1  # a fresh buffer the chain's output may take over
        return mx.sigmoid(y) * y - 2, mx.exp(-y)

    assert_kernel_matches(f, x)


def test_a_failing_compiler_raises_and_leaves_lmx_usable(monkeypatch):
    x = mx.array(np.arange(100, dtype=np.float32))
    monkeypatch.setenv("LMX_CXX", "/nonexistent/lmx-test-c++")
    with pytest.raises(RuntimeError, match=r"\[compile\] the C\+\+ compiler '/nonexistent/lmx-test-c\+\+'"):
        run("always", lambda x: mx.exp(x) * 2 + 1, x)
    monkeypatch.delenv("LMX_CXX")
    assert_kernel_matches(lambda x: mx.exp(x) * 2 + 1, x)


def test_a_bad_setting_is_named():
    x = mx.array(np.arange(10, dtype=np.float32))
    with pytest.raises(ValueError, match="LMX_CPU_JIT must be 0, 1 or always, got 'sometimes'"):
        run("sometimes", lambda x: mx.exp(x) * 2 + 1, x)


def test_background_mode_switches_to_the_kernel_with_the_same_results():
    # Large enough for the default mode to compile in the background; the
    # interpreter answers until the kernel is ready, with the same values.
    x = mx.array(np.random.default_rng(7).standard_normal(1 << 16).astype(np.float32))

    def f(x):
        return mx.erf(x * 0.7) * x + mx.tanh(x) - 0.25

    expected = run("0", f, x)[0]
    compiled = mx.compile(f)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        np.testing.assert_array_equal(to_numpy(compiled(x)), expected)
        time.sleep(0.05)


def test_kernels_and_headers_are_cached_on_disk(tmp_path):
    script = textwrap.dedent("""
        import numpy as np, lmx.core as mx
        mx.set_default_device(mx.cpu)  # (a GPU, where present, is the default)
        x = mx.array(np.arange(1000, dtype=np.float32))
        print(float(mx.compile(lambda x: (mx.exp(x * 0.001) * 3 - x).sum())(x)))
    """)
    env = dict(os.environ, LMX_KERNEL_CACHE=str(tmp_path), LMX_CPU_JIT="always")
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    libraries = sorted((tmp_path / "cpu").glob("*.so"))
    assert len(libraries) == 1
    assert list((tmp_path / "cpu").glob("include-*/lmx/backend/cpu/fused_prelude.h"))
    stamp = libraries[0].stat().st_mtime_ns
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert second.stdout == first.stdout
    assert libraries[0].stat().st_mtime_ns == stamp  # loaded, not compiled again
