"""grad, value_and_grad, vjp and jvp: every differentiable op against central
finite differences in float64, the vjp/jvp transpose identity, composition,
pytrees and argument handling, and a small network trained by hand."""

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

F64 = mx.float64
# MLX's CPU float64 exp/sin/erf/... are only float32-accurate, so against MLX
# the differences use a wider step and the comparison a wider tolerance.
EPS, RTOL = (1e-6, 1e-6) if BACKEND == "lmx" else (1e-3, 2e-3)


def arr(x):
    return mx.array(np.asarray(x, dtype=np.float64), dtype=F64)


def finite_difference_grads(fun, inputs, eps=EPS):
    """Central differences of the scalar fun(*inputs) for each input."""
    grads = []
    base = [np.array(to_numpy(x), dtype=np.float64) for x in inputs]
    for k, x in enumerate(base):
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            def at(delta):
                moved = [b.copy() for b in base]
                moved[k][idx] += delta
                return float(to_numpy(fun(*[arr(m) for m in moved])))
            g[idx] = (at(eps) - at(-eps)) / (2 * eps)
        grads.append(g)
    return grads


def check_grads(op, inputs, rng, rtol=RTOL, atol=1e-8):
    """Contracts op's output with fixed random weights and compares grads."""
    out_shape = op(*inputs).shape
    w = arr(rng.standard_normal(out_shape))

    def loss(*xs):
        return mx.sum(op(*xs) * w)

    argnums = tuple(range(len(inputs)))
    got = mx.grad(loss, argnums=argnums)(*inputs)
    got = got if isinstance(got, tuple) else (got,)  # one argument comes back bare
    want = finite_difference_grads(loss, inputs)
    for g, e in zip(got, want):
        assert g.shape == e.shape and g.dtype == F64
        np.testing.assert_allclose(to_numpy(g), e, rtol=rtol, atol=atol)


def rand(rng, shape, lo=-2.0, hi=2.0):
    return arr(rng.uniform(lo, hi, size=shape))


def away_from(rng, shape, lo, hi, avoid=(), gap=0.2):
    """Uniform values with |x - a| > gap for each a in avoid (kinks, poles)."""
    x = rng.uniform(lo, hi, size=shape)
    for a in avoid:
        near = np.abs(x - a) < gap
        x[near] = a + gap * np.sign(x[near] - a + 1e-12) * 1.5
    return arr(x)


# name -> (function of arrays, input makers)
UNARY = {
    "abs": (mx.abs, lambda r: away_from(r, (2, 3), -2, 2, [0])),
    "negative": (mx.negative, lambda r: rand(r, (2, 3))),
    "square": (mx.square, lambda r: rand(r, (2, 3))),
    "sqrt": (mx.sqrt, lambda r: rand(r, (2, 3), 0.5, 3)),
    "rsqrt": (mx.rsqrt, lambda r: rand(r, (2, 3), 0.5, 3)),
    "reciprocal": (mx.reciprocal, lambda r: rand(r, (2, 3), 0.5, 3)),
    "exp": (mx.exp, lambda r: rand(r, (2, 3))),
    "expm1": (mx.expm1, lambda r: rand(r, (2, 3))),
    "log": (mx.log, lambda r: rand(r, (2, 3), 0.5, 3)),
    "log2": (mx.log2, lambda r: rand(r, (2, 3), 0.5, 3)),
    "log10": (mx.log10, lambda r: rand(r, (2, 3), 0.5, 3)),
    "log1p": (mx.log1p, lambda r: rand(r, (2, 3), -0.5, 3)),
    "sin": (mx.sin, lambda r: rand(r, (2, 3))),
    "cos": (mx.cos, lambda r: rand(r, (2, 3))),
    "tan": (mx.tan, lambda r: rand(r, (2, 3), -1.2, 1.2)),
    "arcsin": (mx.arcsin, lambda r: rand(r, (2, 3), -0.8, 0.8)),
    "arccos": (mx.arccos, lambda r: rand(r, (2, 3), -0.8, 0.8)),
    "arctan": (mx.arctan, lambda r: rand(r, (2, 3))),
    "sinh": (mx.sinh, lambda r: rand(r, (2, 3))),
    "cosh": (mx.cosh, lambda r: rand(r, (2, 3))),
    "tanh": (mx.tanh, lambda r: rand(r, (2, 3))),
    "arcsinh": (mx.arcsinh, lambda r: rand(r, (2, 3))),
    "arccosh": (mx.arccosh, lambda r: rand(r, (2, 3), 1.2, 3)),
    "arctanh": (mx.arctanh, lambda r: rand(r, (2, 3), -0.8, 0.8)),
    "erf": (mx.erf, lambda r: rand(r, (2, 3))),
    "erfinv": (mx.erfinv, lambda r: rand(r, (2, 3), -0.8, 0.8)),
    "sigmoid": (mx.sigmoid, lambda r: rand(r, (2, 3))),
    "degrees": (mx.degrees, lambda r: rand(r, (2, 3))),
    "radians": (mx.radians, lambda r: rand(r, (2, 3))),
}

BINARY = {
    "add": (mx.add, None), "subtract": (mx.subtract, None), "multiply": (mx.multiply, None),
    "divide": (mx.divide, (0.5, 3)), "power": (mx.power, (0.5, 2)), "maximum": (mx.maximum, None),
    "minimum": (mx.minimum, None), "arctan2": (mx.arctan2, (0.5, 2)), "logaddexp": (mx.logaddexp, None),
    "remainder": (mx.remainder, (0.5, 2)),
}  # fmt: skip


def unary_case(name, rng):
    fn, make = UNARY[name]
    return fn, [make(rng)]


def binary_case(name, rng):
    fn, rng_range = BINARY[name]
    lo, hi = rng_range or (-2, 2)
    a = rand(rng, (2, 3), lo, hi)
    b = rand(rng, (3,), lo, hi)
    if name in ("maximum", "minimum"):
        b = arr(to_numpy(b) + 0.3)  # no ties: the derivative is defined
    if name == "remainder":
        a, b = rand(rng, (2, 3), 0.1, 0.9), arr([1.3, 1.7, 2.1])  # away from the jumps
    return fn, [a, b]


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_grads(name, rng):
    check_grads(*unary_case(name, rng), rng)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_grads_with_broadcasting(name, rng):
    check_grads(*binary_case(name, rng), rng)


SHAPE_AND_REDUCE = {
    "reshape": (lambda x: x.reshape(3, 4), (2, 6)),
    "transpose": (lambda x: mx.transpose(x, (2, 0, 1)), (2, 3, 2)),
    "broadcast_to": (lambda x: mx.broadcast_to(x, (4, 2, 3)), (2, 1)),
    "slice": (lambda x: x[1:, ::2], (3, 5)),
    "slice_negative_step": (lambda x: x[::-2, 3:0:-1], (4, 5)),
    "int_index": (lambda x: x[1, :, None], (3, 4)),
    "concatenate": (lambda x: mx.concatenate([x, x * 2, x[:1]], axis=0), (2, 3)),
    "stack": (lambda x: mx.stack([x, mx.sin(x)], axis=1), (2, 3)),
    "split": (lambda x: mx.split(x, [1, 3], axis=1)[1], (2, 4)),
    "pad": (lambda x: mx.pad(x, [(1, 2), (0, 1)]), (2, 3)),
    "pad_edge": (lambda x: mx.pad(x, 2, mode="edge"), (3,)),
    "flip_roll": (lambda x: mx.roll(x[::-1], 2, axis=1), (2, 4)),
    "repeat_tile": (lambda x: mx.tile(mx.repeat(x, 2, axis=0), (1, 2)), (2, 2)),
    "swap_move": (lambda x: mx.moveaxis(mx.swapaxes(x, 0, 2), 0, 1), (2, 3, 4)),
    "diagonal": (lambda x: mx.diagonal(x, 1), (3, 4)),
    "sum": (lambda x: mx.sum(x, axis=1), (3, 4)),
    "sum_all_keepdims": (lambda x: mx.sum(x, keepdims=True), (3, 4)),
    "prod": (lambda x: mx.prod(x, axis=0), (3, 4)),
    "mean": (lambda x: mx.mean(x, axis=(0, 2)), (2, 3, 4)),
    "var": (lambda x: mx.var(x, axis=1, ddof=1), (3, 4)),
    "std": (lambda x: mx.std(x), (3, 4)),
    "max": (lambda x: mx.max(x, axis=1), (3, 4)),
    "min": (lambda x: mx.min(x, axis=0), (3, 4)),
    "logsumexp": (lambda x: mx.logsumexp(x, axis=1), (3, 4)),
    "softmax": (lambda x: mx.softmax(x, axis=-1), (3, 4)),
    "cumsum": (lambda x: mx.cumsum(x, axis=1), (3, 4)),
    "cumsum_reverse_exclusive": (lambda x: mx.cumsum(x, axis=0, reverse=True, inclusive=False), (3, 4)),
    "sort": (lambda x: mx.sort(x, axis=1), (3, 4)),
    "where": (lambda x: mx.where(x > 0.1, x * 3, mx.exp(x)), (3, 4)),
    "clip": (lambda x: mx.clip(x, -0.5, 0.7), (3, 4)),
    "astype_roundtrip": (lambda x: x.astype(mx.float32).astype(mx.float64) * 0 + x, (3,)),
}


def shape_and_reduce_case(name, rng):
    fn, shape = SHAPE_AND_REDUCE[name]
    x = rand(rng, shape)
    if name in ("max", "min", "sort", "clip", "where"):
        # Distinct values away from the clip/where thresholds: no ties or kinks.
        v = rng.permutation(np.prod(shape)).reshape(shape) / 3.0 - 1.9
        v[np.abs(v - 0.1) < 0.05] += 0.2
        v[np.abs(v + 0.5) < 0.05] += 0.2
        v[np.abs(v - 0.7) < 0.05] += 0.2
        x = arr(v)
    return fn, [x]


@pytest.mark.parametrize("name", list(SHAPE_AND_REDUCE))
def test_shape_and_reduction_grads(name, rng):
    check_grads(*shape_and_reduce_case(name, rng), rng)


PRODUCTS_AND_INDEXING = {
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    "matmul_batched_broadcast": (lambda a, b: mx.matmul(a, b), [(2, 1, 2, 3), (3, 3, 2)]),
    "matmul_vector": (lambda a, b: mx.matmul(a, b), [(3,), (3, 2)]),
    "tensordot": (lambda a, b: mx.tensordot(a, b, axes=([0, 2], [1, 0])), [(2, 3, 4), (4, 2, 5)]),
    "inner_outer": (lambda a, b: mx.outer(mx.inner(a, b), b), [(2, 3), (3,)]),
    "kron": (lambda a, b: mx.kron(a, b), [(2, 2), (1, 3)]),
    "addmm": (lambda a, b: mx.addmm(a[:, :2], a, b, alpha=0.5, beta=2.0), [(2, 3), (3, 2)]),
}


def product_case(name, rng):
    fn, shapes = PRODUCTS_AND_INDEXING[name]
    return fn, [rand(rng, s) for s in shapes]


@pytest.mark.parametrize("name", list(PRODUCTS_AND_INDEXING))
def test_product_grads(name, rng):
    check_grads(*product_case(name, rng), rng)


def test_gather_and_scatter_grads(rng):
    idx = mx.array([2, 0, 2, 1])
    check_grads(lambda x: mx.take(x, idx, axis=1), [rand(rng, (2, 3))], rng)
    check_grads(lambda x: x[idx, 1:], [rand(rng, (3, 3))], rng)
    check_grads(lambda x: x[mx.array([[0], [2]]), mx.array([1, 0])], [rand(rng, (3, 2))], rng)
    check_grads(lambda x: mx.take_along_axis(x, mx.array([[1, 0, 1]]), axis=0), [rand(rng, (2, 3))], rng)
    # Writes: the overwritten source elements get no gradient, the values do.
    check_grads(lambda x, v: x.at[mx.array([0, 2])].add(v), [rand(rng, (3, 2)), rand(rng, (2, 2))], rng)

    def write(x, v):
        y = x * 1
        y[mx.array([1, 2]), 0] = v
        return y

    check_grads(write, [rand(rng, (3, 2)), rand(rng, (2,))], rng)

    def window(x, v):
        y = x * 1
        y[1:, ::2] = v
        return y

    check_grads(window, [rand(rng, (3, 4)), rand(rng, (2, 2))], rng)


def test_stop_gradient_and_non_differentiable_ops(rng):
    x = rand(rng, (4,))
    g = mx.grad(lambda v: mx.sum(mx.stop_gradient(v) * v))(x)
    np.testing.assert_allclose(to_numpy(g), to_numpy(x))
    g = mx.grad(lambda v: mx.sum(mx.floor(v) + mx.sign(v) + (v > 0)))(x)
    np.testing.assert_array_equal(to_numpy(g), np.zeros(4))
    g = mx.grad(lambda v: mx.sum(v * mx.argmax(v)))(x)
    np.testing.assert_allclose(to_numpy(g), np.full(4, int(np.argmax(to_numpy(x)))))


SCANS = ["cumprod", "cummax", "cummin", "logcumsumexp"]


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("name", SCANS)
def test_scan_grads(name, axis, reverse, inclusive, rng):
    check_grads(*scan_case(name, axis, reverse, inclusive, rng), rng)


def scan_case(name, axis, reverse, inclusive, rng):
    scan = getattr(mx, name)
    # Distinct values (no ties for the running extremes), some negative.
    v = rng.permutation(12).reshape(3, 4) / 4.0 - 1.3

    def fn(x):
        y = scan(x, axis=axis, reverse=reverse, inclusive=inclusive)
        return mx.where(mx.isinf(y), 0.0, y)  # an exclusive scan starts at +-inf for the extremes

    return fn, [arr(v)]


@pytest.mark.parametrize("name", SCANS)
def test_scan_second_derivatives(name, rng):
    # The rules are built from differentiable ops: their own gradients (a
    # Hessian-vector product here) match finite differences.
    scan = getattr(mx, name)
    w = arr(rng.standard_normal((2, 5)))
    v = rng.permutation(10).reshape(2, 5) / 4.0 - 1.1

    def first(x):
        return mx.grad(lambda a: mx.sum(mx.sin(scan(a, axis=1, reverse=True)) * w))(x)

    check_grads(first, [arr(v)], rng, rtol=max(RTOL, 1e-5), atol=1e-8 if BACKEND == "lmx" else 1e-4)


@pytest.mark.parametrize("reverse", [False, True])
def test_cumprod_grads_through_zeros(reverse, rng):
    # Rows with no zero, one, and several: positions after a row's first
    # zero (in scan order) get nothing, the first zero the product around it.
    v = rng.uniform(0.5, 1.5, (3, 6)) * rng.choice([-1, 1], (3, 6))
    v[1, 2] = 0.0
    v[2, [1, 3, 4]] = 0.0
    check_grads(lambda x: mx.cumprod(x, axis=1, reverse=reverse), [arr(v)], rng)
    # Second order (prod's own gradient is a pair of cumprods).
    x = arr(v[1])
    hess_row = mx.grad(lambda a: mx.grad(lambda b: mx.prod(b))(a)[0])(x)
    want = np.array([np.prod(np.delete(v[1], [0, j])) if j else 0.0 for j in range(6)])
    np.testing.assert_allclose(to_numpy(hess_row), want, rtol=1e-9, atol=1e-12)


def running_extreme_sources(x, pick, reverse, inclusive):
    """Where each output of cummax/cummin reads from, in MLX's convention: the
    last position (in scan order) equal to the running extreme; -1 for an
    exclusive scan's first output, which reads nothing."""
    n = len(x)
    order = list(range(n))[::-1] if reverse else list(range(n))
    src = np.full(n, -1)
    best, at = None, -1
    for k, i in enumerate(order):
        if not inclusive:
            src[i] = at
        if best is None or pick(x[i], best) or x[i] == best:
            best, at = (x[i] if best is None or pick(x[i], best) else best), i
        if inclusive:
            src[i] = at
    return src


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extreme_ties_send_the_gradient_to_the_last_equal_input(name, reverse, inclusive):
    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 5.0, 0.0, 0.0, 5.0])
    g = np.arange(1.0, 10.0)
    pick = np.greater if name == "cummax" else np.less
    src = running_extreme_sources(x, pick, reverse, inclusive)
    want = np.zeros_like(x)
    for i, j in enumerate(src):
        if j >= 0:
            want[j] += g[i]
    fn = getattr(mx, name)
    _, (got,) = mx.vjp(lambda a: fn(a, reverse=reverse, inclusive=inclusive), [mx.array(x)], [mx.array(g)])
    np.testing.assert_array_equal(to_numpy(got), want)


def test_scatter_extreme_grads(rng):
    idx = mx.array([0, 2, 0])
    for op, pick in (("maximum", np.maximum), ("minimum", np.minimum)):
        # Distinct values: finite differences hold.
        check_grads(lambda x, u: getattr(x.at[idx], op)(u), [rand(rng, (4, 2)), rand(rng, (3, 2))], rng)
        # Ties: every value equal to its position's result takes the whole cotangent.
        x, u = np.array([1.5, -2.0, 3.0, 0.5]), np.array([2.0, 3.0, 4.0])
        gx, gu = mx.grad(lambda a, b: getattr(a.at[idx], op)(b).sum(), argnums=(0, 1))(mx.array(x), mx.array(u))
        result = x.copy()
        for i, j in enumerate([0, 2, 0]):
            result[j] = pick(result[j], u[i])
        np.testing.assert_array_equal(to_numpy(gx), (x == result).astype(float))
        np.testing.assert_array_equal(to_numpy(gu), (u == result[[0, 2, 0]]).astype(float))


def test_scatter_prod_grad_raises_naming_the_primitive():
    with pytest.raises((ValueError, RuntimeError), match="scatter_prod"):
        mx.grad(lambda a: a.at[mx.array([0, 0])].multiply(mx.array([2.0, 3.0])).sum())(mx.array([1.0, 2.0]))


# ---------------------------------------------------------------- conventions (as MLX)


def test_kink_conventions():
    one = mx.array(1.0)
    assert mx.grad(lambda a: mx.maximum(a, 1.0))(one).item() == 0.0  # ties go to b
    assert mx.grad(lambda b: mx.maximum(mx.array(1.0), b))(one).item() == 1.0
    assert mx.grad(lambda a: mx.minimum(a, 1.0))(one).item() == 0.0
    assert mx.grad(mx.abs)(mx.array(0.0)).item() == 0.0
    ties = mx.grad(lambda a: mx.max(a))(mx.array([1.0, 3.0, 3.0]))
    assert ties.tolist() == [0.0, 0.5, 0.5]  # tied maxima share the gradient
    assert mx.grad(lambda a: mx.prod(a))(mx.array([1.0, 0.0, 3.0])).tolist() == [0.0, 3.0, 0.0]


# ---------------------------------------------------------------- vjp / jvp


JVP_CASES = [
    (lambda x, y: [mx.sin(x) * y, mx.sum(x @ y.T)], [(2, 3), (2, 3)]),
    (lambda x, y: [mx.softmax(x * y, axis=0)], [(3,), (3,)]),
    (lambda x, y: [mx.cumsum(x, axis=0)[1:] + mx.take(y, mx.array([0, 0]), axis=0)], [(3, 2), (2, 2)]),
]
if BACKEND == "lmx":  # MLX has no jvp for these scans
    JVP_CASES.append((lambda x, y: [mx.cumprod(x, axis=0, reverse=True) * mx.cummax(y, axis=1),
                                    mx.logcumsumexp(x, axis=1, inclusive=False)[:, 1:]], [(3, 2), (3, 2)]))


@pytest.mark.parametrize("case", range(len(JVP_CASES)))
def test_vjp_jvp_transpose_identity(case, rng):
    fun, shapes = JVP_CASES[case]
    primals = [rand(rng, s) for s in shapes]
    outs = fun(*primals)
    u = [rand(rng, s) for s in shapes]
    v = [rand(rng, o.shape) for o in outs]
    outs_j, ju = mx.jvp(fun, primals, u)
    outs_v, jtv = mx.vjp(fun, primals, v)
    for a, b in zip(outs_j, outs_v):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b))
    lhs = sum(float(mx.sum(a * b)) for a, b in zip(v, ju))
    rhs = sum(float(mx.sum(a * b)) for a, b in zip(jtv, u))
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs))


def test_jvp_matches_finite_differences(rng):
    x, t = rand(rng, (2, 3)), rand(rng, (2, 3))

    def f(v):
        return mx.tanh(v) * mx.exp(v[::-1])

    _, (jt,) = mx.jvp(f, [x], [t])
    fd = (to_numpy(f(x + EPS * t)) - to_numpy(f(x - EPS * t))) / (2 * EPS)
    np.testing.assert_allclose(to_numpy(jt), fd, rtol=RTOL, atol=1e-9)


def test_vjp_jvp_argument_errors():
    x = mx.array([1.0, 2.0])
    with pytest.raises(ValueError):
        mx.vjp(lambda a: a * 2, [x], [mx.array([1.0, 2.0, 3.0])])  # cotangent shape
    with pytest.raises(ValueError):
        mx.vjp(lambda a: a * 2, [x], [])  # cotangent count
    with pytest.raises(ValueError):
        mx.jvp(lambda a: a * 2, [x], [mx.array(1.0)])  # tangent shape


# ---------------------------------------------------------------- composition


def test_multi_output_primitives_collect_every_output_cotangent(rng):
    # split is one primitive with several outputs; each output's use counts.
    x = arr(rng.standard_normal(6))

    def f(x):
        a, b, c = mx.split(x, 3)
        return (a * 1.0).sum() + (b * 2.0).sum() + (c * c).sum()

    want = np.concatenate([np.ones(2), 2 * np.ones(2), 2 * to_numpy(x)[4:]])
    np.testing.assert_allclose(to_numpy(mx.grad(f)(x)), want, rtol=1e-12)


def test_higher_order_grads():
    x = mx.array(0.7, dtype=F64)
    d1 = mx.grad(lambda v: mx.sin(v) * v**3)
    d2 = mx.grad(d1)
    d3 = mx.grad(d2)
    v = 0.7
    tol = 1e-11 if BACKEND == "lmx" else 1e-5
    assert abs(d1(x).item() - (np.cos(v) * v**3 + 3 * v**2 * np.sin(v))) < tol
    want2 = -np.sin(v) * v**3 + 6 * v**2 * np.cos(v) + 6 * v * np.sin(v)
    assert abs(d2(x).item() - want2) < tol
    want3 = -np.cos(v) * v**3 - 9 * v**2 * np.sin(v) + 18 * v * np.cos(v) + 6 * np.sin(v)
    assert abs(d3(x).item() - want3) < tol


def test_jvp_of_vjp_is_hessian_vector_product(rng):
    x, t = rand(rng, (3,)), rand(rng, (3,))

    def grad_f(v):
        return mx.grad(lambda w: mx.sum(mx.exp(w) * w[::-1]))(v)

    _, (hvp,) = mx.jvp(grad_f, [x], [t])
    xn, tn = to_numpy(x), to_numpy(t)
    # f = sum exp(w_i) w_{n-1-i}: H_ii = exp(w_i) w_{n-1-i}, H_{i,n-1-i} += exp(w_i) + exp(w_{n-1-i})
    n = len(xn)
    h = np.diag(np.exp(xn) * xn[::-1])
    for i in range(n):
        h[i, n - 1 - i] += np.exp(xn[i]) + np.exp(xn[n - 1 - i])
    np.testing.assert_allclose(to_numpy(hvp), h @ tn, rtol=1e-10 if BACKEND == "lmx" else 1e-5)


def test_grad_inside_eval_loop():
    w = mx.array([1.0, -2.0])
    for _ in range(3):
        g = mx.grad(lambda v: mx.sum(v * v))(w)
        w = w - 0.25 * g
        mx.eval(w)
    np.testing.assert_allclose(to_numpy(w), [0.125, -0.25])


# ---------------------------------------------------------------- pytrees and arguments


def test_pytrees_argnums_argnames():
    params = {"w": mx.array([1.0, 2.0]), "b": [mx.array(3.0), (mx.array(-1.0),)]}

    def loss(p, scale, *, bias):
        return mx.sum(p["w"] * p["b"][0]) * scale + p["b"][1][0] * bias

    g = mx.grad(loss)(params, 2.0, bias=mx.array(5.0))
    assert g["w"].tolist() == [6.0, 6.0] and g["b"][0].item() == 6.0 and g["b"][1][0].item() == 5.0
    assert isinstance(g["b"][1], tuple)
    (gp, gs), gk = mx.grad(loss, argnums=(0, 1), argnames="bias")(params, mx.array(2.0), bias=mx.array(5.0))
    assert gs.item() == 9.0 and gk["bias"].item() == -1.0
    value, g2 = mx.value_and_grad(lambda x, y: (mx.sum(x * y), x + 1), argnums=1)(mx.array([1.0, 2.0]),
                                                                                   mx.array([3.0, 4.0]))
    assert value[0].item() == 11.0 and value[1].tolist() == [2.0, 3.0] and g2.tolist() == [1.0, 2.0]


def test_grad_errors():
    x = mx.array([1.0, 2.0])
    with pytest.raises(ValueError):
        mx.grad(lambda v: v * 2)(x)  # not a scalar
    with pytest.raises(ValueError):
        mx.grad(lambda v, w: mx.sum(v), argnums=2)(x, x)  # argnum out of range
    with pytest.raises(ValueError):
        mx.grad(lambda v, w=None: mx.sum(v), argnames="w")(x)  # missing keyword
    if BACKEND == "lmx":  # MLX returns integer "gradients" for integer inputs
        with pytest.raises(ValueError):
            mx.grad(lambda v: mx.sum(v * 2))(mx.array([1, 2]))


# ---------------------------------------------------------------- end to end


def test_mlp_trained_by_sgd_fits_a_regression():
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, size=(64, 2)).astype(np.float32)
    ys = (np.sin(2 * xs[:, :1]) + xs[:, 1:] ** 2).astype(np.float32)
    x, y = mx.array(xs), mx.array(ys)
    params = {
        "w1": mx.array(rng.normal(scale=0.5, size=(2, 32)).astype(np.float32)),
        "b1": mx.zeros((32,)),
        "w2": mx.array(rng.normal(scale=0.2, size=(32, 1)).astype(np.float32)),
        "b2": mx.zeros((1,)),
    }

    def loss_fn(p):
        h = mx.tanh(x @ p["w1"] + p["b1"])
        return mx.mean(mx.square(h @ p["w2"] + p["b2"] - y))

    vg = mx.value_and_grad(loss_fn)
    first = None
    for _ in range(400):
        loss, g = vg(params)
        params = {k: params[k] - 0.2 * g[k] for k in params}
        mx.eval(params)
        first = first if first is not None else loss.item()
    assert loss.item() < 0.01 < first


# ---------------------------------------------------------------- linear algebra


def _spd(rng, n=3):
    m = rng.standard_normal((n, n))
    return arr(m @ m.T + n * np.eye(n))


LINALG = {
    "inv": (lambda a: mx.linalg.inv(a), "general"),
    "solve_matrix": (lambda a: mx.linalg.solve(a, mx.sin(a[:, :2])), "general"),
    "solve_vector": (lambda a: mx.linalg.solve(a, a[0]), "general"),
    "solve_triangular": (lambda a: mx.linalg.solve_triangular(mx.triu(a), a[:, :2], upper=True), "general"),
    "tri_inv": (lambda a: mx.linalg.tri_inv(mx.tril(a)), "general"),
    "cholesky": (lambda a: mx.linalg.cholesky((a + a.T) / 2), "spd"),
    "cholesky_upper": (lambda a: mx.linalg.cholesky((a + a.T) / 2, upper=True), "spd"),
    "eigh_values": (lambda a: mx.linalg.eigh((a + a.T) / 2)[0], "spd"),
    "eigh_vectors_squared": (lambda a: mx.linalg.eigh((a + a.T) / 2)[1] ** 2, "spd"),
    "eigvalsh": (lambda a: mx.linalg.eigvalsh((a + a.T) / 2), "spd"),
    # Rules that see several outputs' cotangents at once (all siblings used):
    "eigh_both": (lambda a: (lambda w, v: (v * w) @ v.T)(*mx.linalg.eigh((a + a.T) / 2)), "spd"),
    "qr": (lambda a: mx.concatenate(mx.linalg.qr(a), axis=0), "general"),
    "qr_tall": (lambda a: mx.concatenate(mx.linalg.qr(a[:, :2]), axis=0), "general"),
    "svd_values": (lambda a: mx.linalg.svd(a, compute_uv=False), "general"),
    "lu_factor": (lambda a: mx.linalg.lu_factor(a)[0], "general"),
    "lu": (lambda a: (lambda p, l, u: mx.concatenate([l, u], axis=0))(*mx.linalg.lu(a)), "general"),
    # Sign-invariant functions of the singular vectors, weighted by the values.
    "svd_vectors": (lambda a: (lambda u, s, vt: (u * s) @ u.T + (vt.T * s) @ vt)(*mx.linalg.svd(a)), "general"),
    "svd_wide": (
        lambda a: (lambda u, s, vt: mx.concatenate([((u * s) @ u.T).reshape(-1), ((vt[:2].T * s) @ vt[:2]).reshape(-1)]))(
            *mx.linalg.svd(a[:2])
        ),
        "general",
    ),
}


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX's linalg runs on the CPU stream only; checked for lmx")
@pytest.mark.parametrize("name", list(LINALG))
def test_linalg_grads(name, rng):
    check_grads(*linalg_case(name, rng), rng, rtol=1e-5, atol=1e-7)


def linalg_case(name, rng):
    fn, kind = LINALG[name]
    return fn, [_spd(rng) if kind == "spd" else arr(rng.standard_normal((3, 3)) + 3 * np.eye(3))]


# Every case above through jvp (computed as the transpose of the vjp, so a
# rule must be a linear graph in its cotangent for this to hold) against
# directional finite differences.
JVP_TABLES = {
    "unary": (UNARY, unary_case),
    "binary": (BINARY, binary_case),
    "shape_and_reduce": (SHAPE_AND_REDUCE, shape_and_reduce_case),
    "products": (PRODUCTS_AND_INDEXING, product_case),
    "scans": ({f"{n}-{r}-{i}": None for n in SCANS for r in (0, 1) for i in (0, 1)},
              lambda key, rng: scan_case(key.split("-")[0], 1, key.split("-")[1] == "1", key.split("-")[2] == "1", rng)),
    "linalg": (LINALG, linalg_case),
}


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX has no jvp rules for several of these primitives")
@pytest.mark.parametrize("table,name", [(t, n) for t, (cases, _) in JVP_TABLES.items() for n in cases])
def test_jvp_against_directional_finite_differences(table, name, rng):
    fn, inputs = JVP_TABLES[table][1](name, rng)
    tangents = [rand(rng, x.shape) for x in inputs]
    _, (jt,) = mx.jvp(lambda *xs: [fn(*xs)], inputs, tangents)

    def at(step):
        return to_numpy(fn(*[x + step * t for x, t in zip(inputs, tangents)]))

    fd = (at(EPS) - at(-EPS)) / (2 * EPS)
    np.testing.assert_allclose(to_numpy(jt), fd, rtol=1e-5, atol=1e-7)
