"""compile: compiled and uncompiled results agree (every fusable op, dtypes,
layouts), tracing happens once per signature, shapeless re-use, captured
state, random state, composition with the other transforms, and errors."""

from functools import partial

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

lmx_only = pytest.mark.skipif(BACKEND != "lmx", reason="inspects lmx's compiled graphs")


def assert_same(a, b, exact=True):
    a, b = to_numpy(a), to_numpy(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def gelu_chain(x):
    # ten elementwise ops
    y = 0.5 * x * (1.0 + mx.erf(x / 1.4142135))
    return mx.tanh(y) * mx.sigmoid(y) + mx.exp(-mx.abs(y))


UNARY = ["abs", "negative", "square", "sqrt", "rsqrt", "exp", "expm1", "log", "log1p", "sin", "cos", "tanh",
         "sigmoid", "erf", "floor", "ceil", "round", "sign", "arctan", "sinh", "log2"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "logaddexp", "arctan2",
          "remainder", "floor_divide"]


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_unary_chains_match(op, dtype):
    rng = np.random.default_rng(0)
    x = mx.array(rng.uniform(0.1, 3.0, (37, 29)).astype(np.float32)).astype(getattr(mx, dtype))

    def f(x):
        return getattr(mx, op)(x * 0.75 + 0.25) - x

    assert_same(mx.compile(f)(x), f(x))


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_binary_chains_match(op, dtype):
    if dtype == "int32" and op in ("divide", "logaddexp", "arctan2", "power"):
        pytest.skip("float-only op")
    rng = np.random.default_rng(1)
    x = mx.array(rng.uniform(1, 5, (1000,)).astype(np.float32)).astype(getattr(mx, dtype))
    y = mx.array(rng.uniform(1, 5, (1000,)).astype(np.float32)).astype(getattr(mx, dtype))

    def f(x, y):
        return getattr(mx, op)(x + 1, y * 2) * x

    assert_same(mx.compile(f)(x, y), f(x, y))


def test_select_comparisons_and_casts_match():
    rng = np.random.default_rng(2)
    x = mx.array(rng.standard_normal((64, 65)).astype(np.float32))

    def f(x):
        m = (x > 0) & (x < 1.5)
        y = mx.where(m, x * 3, -x)
        return y.astype(mx.float16) * 2, mx.logical_not(m), (y > 1).astype(mx.int32) + 7

    for a, b in zip(mx.compile(f)(x), f(x)):
        assert_same(a, b)


@pytest.mark.parametrize("dtype", ["bool_", "int8", "float16", "float32", "int64", "complex64"])
def test_fused_select_of_every_width(dtype):
    # One to eight bytes a value, a random condition, values that are not
    # single bits (the fused select picks by mask).
    rng = np.random.default_rng(4)
    t = getattr(mx, dtype)
    c = mx.array(rng.random(1001) < 0.5)
    x = mx.array(rng.integers(-100, 100, 1001)).astype(t)
    y = mx.array(rng.integers(-100, 100, 1001)).astype(t)

    def f(c, x, y):
        return mx.where(mx.logical_not(c), y, x), mx.where(c, x, y) == x

    for a, b in zip(mx.compile(f)(c, x, y), f(c, x, y)):
        assert_same(a, b)
    np.testing.assert_array_equal(to_numpy(mx.compile(f)(c, x, y)[0]), np.where(to_numpy(c), to_numpy(x), to_numpy(y)))


def test_long_chain_large_input_matches():
    # SIMD and scalar exp/tanh/erf may differ in the last bit, and where each
    # applies depends on how the work is split: compare to 1 ulp.
    x = mx.array(np.random.default_rng(3).standard_normal(300_007).astype(np.float32))
    assert_same(mx.compile(gelu_chain)(x), gelu_chain(x), exact=False)


def test_strided_and_broadcast_inputs():
    rng = np.random.default_rng(4)
    a = mx.array(rng.standard_normal((40, 30)).astype(np.float32))
    col = mx.array(rng.standard_normal((40, 1)).astype(np.float32))
    row = mx.array(rng.standard_normal((30,)).astype(np.float32))

    def f(a, c, r):
        return mx.exp(a * c - r) + mx.sin(a.T).T

    cf = mx.compile(f)
    assert_same(cf(a, col, row), f(a, col, row))
    assert_same(cf(a.T.T, col, row), f(a, col, row))
    sliced = mx.array(rng.standard_normal((80, 60)).astype(np.float32))[::2, 1::2]
    assert_same(cf(sliced, col, row), f(sliced, col, row))


def test_inputs_are_not_overwritten():
    x = mx.array(np.arange(5000, dtype=np.float32))
    before = to_numpy(x).copy()
    y = mx.compile(lambda x: mx.exp(x * 1e-3) + 1)(x)
    mx.eval(y)
    np.testing.assert_array_equal(to_numpy(x), before)


def test_traces_once_per_signature():
    traces = []

    def f(x, y):
        traces.append(1)
        return x * y + 1

    cf = mx.compile(f)
    x = mx.ones((3, 4))
    for _ in range(3):
        cf(x, x)
    assert len(traces) == 1
    cf(mx.ones((2, 4)), mx.ones((2, 4)))  # new shape
    assert len(traces) == 2
    cf(x.astype(mx.float16), x.astype(mx.float16))  # new dtype
    assert len(traces) == 3
    cf(x, x)
    assert len(traces) == 3
    # compiling the same function again reuses the traces
    mx.compile(f)(x, x)
    assert len(traces) == 3


def test_constants_and_trees_key_the_cache():
    traces = []

    def f(d, scale, flag=False):
        traces.append(1)
        out = {"a": d["x"] * scale, "b": [d["y"] + scale]}
        return (out, -d["x"]) if flag else out

    cf = mx.compile(f)
    d = {"x": mx.array([1.0, 2.0]), "y": mx.array([3.0])}
    r = cf(d, 2.0)
    np.testing.assert_allclose(to_numpy(r["a"]), [2, 4])
    np.testing.assert_allclose(to_numpy(r["b"][0]), [5])
    r = cf(d, 3.0)
    np.testing.assert_allclose(to_numpy(r["a"]), [3, 6])
    assert len(traces) == 2
    out, neg = cf(d, 3.0, flag=True)
    np.testing.assert_allclose(to_numpy(neg), [-1, -2])
    assert len(traces) == 3
    cf(d, 3.0)
    assert len(traces) == 3


def test_shapeless_reuses_the_trace():
    traces = []

    def f(x, y):
        traces.append(1)
        return mx.exp(x) * 2.0 + y

    cf = mx.compile(f, shapeless=True)
    for n in (3, 7, 100):
        x = mx.arange(n, dtype=mx.float32) / n
        y = mx.array(0.5)
        assert_same(cf(x, y), f(x, y), exact=False)
    assert len(traces) == 4  # three compiled calls traced once, plus the direct calls
    cf(mx.ones((2, 3)), mx.array(1.0))  # new number of dimensions
    assert len(traces) == 5


def test_shapeless_reshape_infers_at_each_call():
    traces = []

    def f(x):
        traces.append(1)
        return x.reshape(2, -1) * 2

    cf = mx.compile(f, shapeless=True)
    for n in (4, 6, 10):
        x = mx.arange(n, dtype=mx.float32)
        assert_same(cf(x), x.reshape(2, -1) * 2)
    assert len(traces) == 1
    with pytest.raises(ValueError):
        cf(mx.arange(5, dtype=mx.float32))  # 5 does not split in two rows


SHAPELESS_REDUCTIONS = {
    "sum_without_keepdims": lambda x: mx.sum(mx.exp(x), axis=1) * 2,
    "mean_keepdims": lambda x: x - mx.mean(x, axis=-1, keepdims=True),
    "softmax": lambda x: mx.softmax(x, axis=-1),
    "logsumexp_and_max_of_all": lambda x: mx.logsumexp(x) + mx.max(x),
    "var_std": lambda x: mx.var(x, axis=0) + mx.std(x, axis=(0, 2)).sum(),
    "argmax": lambda x: mx.argmax(x, axis=1).astype(mx.float32) + mx.argmin(x, axis=1) * mx.argmax(x, axis=1),
    "argmax_keepdims": lambda x: mx.argmax(x, axis=2, keepdims=True) * x,
    "rms_norm_by_hand": lambda x: x * mx.rsqrt(mx.mean(x * x, axis=-1, keepdims=True) + 1e-5),
    "sort_scan": lambda x: mx.cumsum(mx.sort(x, axis=1), axis=0) + mx.cummax(x, axis=2),
    # chains ending in trailing reductions (fused with them)
    "fused_row_sum": lambda x: mx.sum(mx.tanh(x) * x + 1, axis=-1),
    "fused_max_of_all": lambda x: mx.max(mx.exp(x) - x),
    "fused_min_keepdims": lambda x: x + mx.min(x * x - 2, axis=(1, 2), keepdims=True),
}


@pytest.mark.parametrize("name", list(SHAPELESS_REDUCTIONS))
def test_shapeless_reductions_replay_at_new_shapes(name, rng):
    traces = []

    def f(x):
        traces.append(1)
        return SHAPELESS_REDUCTIONS[name](x)

    if BACKEND == "mlx" and name == "var_std":
        pytest.skip("MLX's CPU build aborts replaying var/std shapeless")
    cf = mx.compile(f, shapeless=True)
    for k, shape in enumerate([(2, 3, 4), (3, 5, 2), (1, 4, 6)]):
        x = mx.array(rng.standard_normal(shape).astype(np.float32))
        assert_same(cf(x), SHAPELESS_REDUCTIONS[name](x), exact=False)
        if k == 0:
            first_traces = len(traces)
    assert len(traces) == first_traces  # no new trace for new shapes


def test_grad_and_vmap_of_a_shapeless_reduction(rng):
    f = lambda x: mx.sum(mx.exp(x), axis=1) - mx.mean(x, axis=0).sum()  # noqa: E731
    cf = mx.compile(f, shapeless=True)
    for shape in [(3, 4), (5, 2)]:
        x = mx.array(rng.standard_normal(shape).astype(np.float32))
        assert_same(mx.grad(lambda a: cf(a).sum())(x), mx.grad(lambda a: f(a).sum())(x), exact=False)
        xb = mx.array(rng.standard_normal((2, *shape)).astype(np.float32))
        assert_same(mx.vmap(cf)(xb), mx.vmap(f)(xb), exact=False)


@lmx_only
def test_shapeless_trace_fuses_a_chain_with_its_trailing_reduction():
    x = mx.ones((4, 10))
    g = mx._core._CompiledGraph(lambda xs: [mx.sum(mx.exp(xs[0]) * 2 + 1, axis=-1)], [x], True)
    assert g.num_fused == 1 and g.num_nodes == 2  # the fused chain and reduction, then the squeeze
    g = mx._core._CompiledGraph(lambda xs: [mx.max(mx.tanh(xs[0]) * xs[0], keepdims=True)], [x], True)
    assert g.num_fused == 1 and g.num_nodes == 1


@lmx_only
def test_shapeless_trace_fuses_constants_met_by_intermediates():
    # A shapeless trace broadcasts each constant against the value beside it
    # (an intermediate here); those broadcasts fold into the fused node.
    x = mx.ones((4, 10))
    g = mx._core._CompiledGraph(lambda xs: [xs[0] * (1 + mx.erf(xs[0] / 1.4142135)) / 2], [x], True)
    assert g.num_fused == 1 and g.num_nodes == 1
    # Two smaller arrays broadcast against each other stay broadcasts (each
    # reads the other for its shape), the chain after them still fuses.
    a, b = mx.ones((4, 1)), mx.ones((1, 10))
    g = mx._core._CompiledGraph(lambda xs: [mx.exp(xs[0] + xs[1]) * 2 - 1], [a, b], True)
    assert g.num_fused == 1 and g.num_nodes == 3


SHAPELESS_BROADCASTS = {
    "constant_row": (lambda x, y: mx.exp(x) * mx.array([1.0, 2.0, 3.0]) + 1, [((2, 3), (1,)), ((5, 3), (1,))]),
    "column_input": (lambda x, y: mx.tanh(x) * y + 1, [((4, 10), (4, 1)), ((6, 7), (6, 1)), ((1, 3), (1, 1))]),
    "row_and_column": (lambda x, y: mx.exp(x + y) * 2 - 1, [((4, 1), (1, 10)), ((2, 1), (1, 3))]),
    "scalar_input": (lambda x, y: (x * y + 0.5).sum(axis=-1), [((3, 8), ()), ((5, 2), ())]),
}


@pytest.mark.parametrize("name", list(SHAPELESS_BROADCASTS))
def test_shapeless_fused_broadcasts_replay_at_new_shapes(name, rng):
    f, shapes = SHAPELESS_BROADCASTS[name]
    cf = mx.compile(f, shapeless=True)
    for xs, ys in shapes:
        x = mx.array(rng.standard_normal(xs).astype(np.float32))
        y = mx.array(rng.standard_normal(ys).astype(np.float32))
        assert_same(cf(x, y), f(x, y), exact=False)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3000), (5, 0)])
def test_grad_and_vmap_of_a_shapeless_fused_reduction(rng, shape):
    f = lambda x: mx.sum(mx.tanh(x) * x + 1, axis=-1)  # noqa: E731
    cf = mx.compile(f, shapeless=True)
    cf(mx.ones((7, 9)))  # traced at another shape first
    x = mx.array(rng.standard_normal(shape).astype(np.float32))
    assert_same(cf(x), f(x), exact=False)
    assert_same(mx.grad(lambda a: cf(a).sum())(x), mx.grad(lambda a: f(a).sum())(x), exact=False)
    xb = mx.array(rng.standard_normal((2, *shape)).astype(np.float32))
    assert_same(mx.vmap(cf)(xb), mx.vmap(f)(xb), exact=False)


@lmx_only  # MLX replays a fixed broadcast at the traced shape
def test_shapeless_rejects_shape_specific_functions():
    cf = mx.compile(lambda x: mx.broadcast_to(x, (2, 3)) * 2, shapeless=True)
    with pytest.raises(ValueError, match="broadcast_to"):
        cf(mx.ones((3,)))


def test_state_inputs_and_outputs():
    state = [mx.array(1.0)]

    @partial(mx.compile, inputs=state, outputs=state)
    def f(x):
        state[0] = state[0] * x
        return state[0] + 1

    assert f(mx.array(2.0)).item() == 3.0
    assert state[0].item() == 2.0
    assert f(mx.array(3.0)).item() == 7.0
    assert state[0].item() == 6.0


def test_captured_arrays_are_constants_without_state():
    w = [mx.array(2.0)]
    cf = mx.compile(lambda x: x * w[0])
    assert cf(mx.array(3.0)).item() == 6.0
    w[0] = mx.array(10.0)
    assert cf(mx.array(3.0)).item() == 6.0  # traced with the old value, as MLX documents


def test_random_without_state_repeats_and_with_state_advances():
    f = lambda: mx.random.uniform(shape=(4,))
    cf = mx.compile(f)
    a, b = to_numpy(cf()), to_numpy(cf())
    np.testing.assert_array_equal(a, b)

    mx.random.seed(7)
    eager = [to_numpy(f()) for _ in range(3)]
    mx.random.seed(7)
    sf = mx.compile(f, inputs=mx.random.state, outputs=mx.random.state)
    comp = [to_numpy(sf()) for _ in range(3)]
    for e, c in zip(eager, comp):
        np.testing.assert_array_equal(e, c)
    assert not np.array_equal(comp[0], comp[1])


def test_evaluating_inside_compile_raises():
    def f(x):
        if x.sum().item() > 0:
            return x
        return -x

    with pytest.raises(ValueError):
        mx.compile(f)(mx.ones(3))


def test_bad_argument_types_raise():
    class Thing:
        pass

    with pytest.raises(ValueError):
        mx.compile(lambda x, t: x)(mx.ones(2), Thing())
    with pytest.raises(TypeError):
        mx.compile(3)


def test_disable_and_enable_compile():
    calls = []

    def f(x):
        calls.append(1)
        return x + 1

    cf = mx.compile(f)
    x = mx.ones(2)
    cf(x), cf(x)
    assert len(calls) == 1
    mx.disable_compile()
    try:
        cf(x), cf(x)
        assert len(calls) == 3
    finally:
        mx.enable_compile()
    cf(x)
    assert len(calls) == 3


def test_grad_of_compiled_and_compiled_grad():
    x = mx.array(np.linspace(-2, 2, 11).astype(np.float32))
    loss = lambda x: gelu_chain(x).sum()
    g_ref = to_numpy(mx.grad(loss)(x))
    np.testing.assert_allclose(to_numpy(mx.grad(mx.compile(loss))(x)), g_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(mx.compile(mx.grad(loss))(x)), g_ref, rtol=1e-5, atol=1e-6)
    # second order through a compiled function
    g2 = mx.grad(lambda x: mx.grad(mx.compile(loss))(x).sum())(x)
    g2_ref = mx.grad(lambda x: mx.grad(loss)(x).sum())(x)
    np.testing.assert_allclose(to_numpy(g2), to_numpy(g2_ref), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's graph of the backward")
def test_backward_of_a_fused_chain_is_fused_too():
    # Differentiating a fused chain recomputes its forward: that backward is
    # compiled as well (once per signature), so it is fused nodes, not a
    # chain of separate ones; its values match the uncompiled gradient.
    import io

    x = mx.array(np.linspace(-2, 2, 64).astype(np.float32))
    chain = mx.compile(gelu_chain, shapeless=True)
    g = mx.grad(lambda x: chain(x).sum())
    for n in (64, 65):  # a second shape: a second backward signature
        xs = x if n == 64 else mx.concatenate([x, x[:1]])
        out = g(xs)
        dot = io.StringIO()
        mx.export_to_dot(dot, out)
        assert "Compiled(" in dot.getvalue()
        np.testing.assert_allclose(to_numpy(out), to_numpy(mx.grad(lambda x: gelu_chain(x).sum())(xs)),
                                   rtol=1e-5, atol=1e-6)


def test_vmap_and_compile_compose():
    x = mx.array(np.random.default_rng(5).standard_normal((6, 9)).astype(np.float32))
    ref = to_numpy(mx.vmap(gelu_chain)(x))
    np.testing.assert_allclose(to_numpy(mx.vmap(mx.compile(gelu_chain))(x)), ref, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(mx.compile(mx.vmap(gelu_chain))(x)), ref, rtol=1e-6)


@pytest.mark.parametrize("mapped", [0, 1])
def test_vmap_of_shapeless_compile_with_an_unmapped_scalar(mapped):
    # A shapeless trace broadcasts the scalar against the other operand; only
    # that operand is mapped.
    f = mx.compile(lambda x, t: t * x + t, shapeless=True)
    batch = mx.array(np.arange(12, dtype=np.float32).reshape(3, 4))
    args = [batch, mx.array(2.0)] if mapped == 0 else [mx.array(2.0), batch]
    axes = (0, None) if mapped == 0 else (None, 0)
    want = 2 * to_numpy(batch) + 2 if mapped == 0 else 3 * to_numpy(batch)
    np.testing.assert_array_equal(to_numpy(mx.vmap(f, in_axes=axes)(*args)), want)


def test_nested_compiled_functions():
    inner = mx.compile(lambda x: mx.exp(x) + 1)
    outer = mx.compile(lambda x: inner(x) * inner(2 * x))
    x = mx.array([0.1, 0.2, 0.3])
    assert_same(outer(x), (mx.exp(x) + 1) * (mx.exp(2 * x) + 1))


def test_identity_and_constant_outputs():
    c = mx.array([1, 2, 3])
    cf = mx.compile(lambda x: (x, c, x + 0))
    x = mx.array([4, 5, 6])
    a, b, d = cf(x)
    assert_same(a, x)
    assert_same(b, c)
    assert_same(d, x)


def test_compiled_training_step_matches_eager():
    import importlib

    nn = importlib.import_module("mlx.nn" if BACKEND == "mlx" else "lmx.nn")
    optim = importlib.import_module("mlx.optimizers" if BACKEND == "mlx" else "lmx.optimizers")
    rng = np.random.default_rng(6)
    X = mx.array(rng.standard_normal((32, 8)).astype(np.float32))
    Y = mx.array(rng.standard_normal((32, 1)).astype(np.float32))

    def make():
        mx.random.seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 1))
        return model, optim.Adam(learning_rate=1e-2)

    def loss_fn(model, x, y):
        return nn.losses.mse_loss(model(x), y)

    losses = {}
    for compiled in (False, True):
        model, opt = make()
        mx.eval(model.parameters())
        grad_fn = nn.value_and_grad(model, loss_fn)

        def step(x, y):
            loss, grads = grad_fn(model, x, y)
            opt.update(model, grads)
            return loss

        if compiled:
            state = [model.state, opt.state]
            step = partial(mx.compile, inputs=state, outputs=state)(step)
        out = []
        for _ in range(5):
            loss = step(X, Y)
            mx.eval(loss, model.parameters(), opt.state)
            out.append(loss.item())
        losses[compiled] = out
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)
    assert losses[True][-1] < losses[True][0]


@lmx_only
def test_elementwise_chains_fuse_into_one_node():
    x = mx.ones((10,))
    g = mx._core._CompiledGraph(lambda xs: [gelu_chain(xs[0])], [x], False)
    assert g.num_fused == 1
    assert g.num_nodes == 1  # the broadcasts of the scalar constants fold into it


@lmx_only
def test_repeated_work_and_constants_merge():
    x = mx.ones((10,))
    f = lambda xs: [mx.exp(xs[0] * 2) + mx.exp(xs[0] * 2)]
    def traced(mode):
        mx.set_compile_mode(mode)
        try:
            return mx._core._CompiledGraph(f, [x], False)
        finally:
            mx.enable_compile()

    g = traced("no_fuse")
    # one broadcast of the merged constant 2, one multiply, one exp, one add
    assert g.num_nodes == 4 and g.num_fused == 0
    g = traced("no_simplify")
    assert g.num_fused == 1 and g.num_nodes == 1


@lmx_only
def test_intermediate_outputs_leave_the_fused_node():
    x = mx.array(np.linspace(-1, 1, 50).astype(np.float32))
    f = lambda x: (mx.exp(x) * 2, mx.exp(x) * 2 + 1)
    for a, b in zip(mx.compile(f)(x), f(x)):
        assert_same(a, b)
    g = mx._core._CompiledGraph(lambda xs: list(f(xs[0])), [x], False)
    assert g.num_fused == 1


@lmx_only
def test_set_compile_mode_rejects_unknown_modes():
    with pytest.raises(ValueError):
        mx.set_compile_mode("fast")


# ---- chains ending in a reduction ----


@lmx_only
def test_a_chain_ending_in_a_trailing_reduction_fuses_with_it():
    check_reduction_fusion()


def check_reduction_fusion():
    x = mx.ones((4, 10))
    traced = lambda f: mx._core._CompiledGraph(lambda xs: [f(xs[0])], [x], False)  # noqa: E731
    # keepdims: no squeeze node after the reduction
    g = traced(lambda x: mx.sum(mx.exp(x) * 2 + 1, axis=-1, keepdims=True))
    assert g.num_fused == 1 and g.num_nodes == 1
    g = traced(lambda x: mx.max(mx.tanh(x) * x, keepdims=True))  # every axis
    assert g.num_fused == 1 and g.num_nodes == 1
    # A leading axis, a value also returned, and an integer chain keep the
    # reduction as a node of its own.
    assert traced(lambda x: mx.sum(mx.exp(x) * 2, axis=0, keepdims=True)).num_nodes == 2
    chain = lambda x: mx.exp(x) * 2  # noqa: E731
    g = mx._core._CompiledGraph(lambda xs: [chain(xs[0]), mx.sum(chain(xs[0]), axis=-1, keepdims=True)], [x], False)
    assert g.num_nodes == 2
    xi = mx.ones((4, 10), dtype=mx.int32)
    g = mx._core._CompiledGraph(lambda xs: [mx.sum(xs[0] * 3 + 1, axis=-1, keepdims=True)], [xi], False)
    assert g.num_nodes == 2


REDUCTION_CASES = [
    ((37, 50), -1),      # rows shorter than a tile: several rows a tile
    ((3, 5000), -1),     # rows longer than a tile: partial results per tile
    ((2, 3000), None),   # everything
    ((4, 30, 70), (1, 2)),
    ((0, 5), -1),        # no rows
    ((5, 0), -1),        # empty rows: the identity
]


@pytest.mark.parametrize("op", ["sum", "max", "min", "mean"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("shape,axis", REDUCTION_CASES)
def test_fused_reductions_match_uncompiled(op, dtype, shape, axis):
    if op in ("max", "min") and 0 in shape:
        return  # max and min of nothing raise, compiled or not
    rng = np.random.default_rng(sum(shape))
    x = mx.array(rng.standard_normal(shape).astype(np.float32)).astype(getattr(mx, dtype))
    b = mx.array(rng.standard_normal(shape[-1:]).astype(np.float32)).astype(getattr(mx, dtype))
    red = getattr(mx, op)

    def f(x, b):
        return red(mx.tanh(x) * 2 + b * x, axis=axis)

    got, want = mx.compile(f)(x, b), f(x, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = {"float32": 1e-5, "float16": 4e-3, "bfloat16": 3e-2}[dtype]
    np.testing.assert_allclose(to_numpy(got.astype(mx.float32)), to_numpy(want.astype(mx.float32)),
                               rtol=tol, atol=tol * 10)


def test_fused_max_keeps_nan():
    x = mx.array(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]] * 400, dtype=np.float32).reshape(2, -1))
    f = lambda x: mx.max(x * 2 - 1, axis=-1)  # noqa: E731
    got, want = to_numpy(mx.compile(f)(x)), to_numpy(f(x))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).all()


def test_fused_reduction_grad_and_vmap():
    x = mx.array(np.random.default_rng(1).standard_normal((6, 2000)).astype(np.float32))
    f = lambda x: mx.sum(mx.tanh(x) * x, axis=-1)  # noqa: E731
    loss = lambda x: mx.sum(f(x) * mx.arange(6))  # noqa: E731
    np.testing.assert_allclose(to_numpy(mx.grad(mx.compile(loss))(x)), to_numpy(mx.grad(loss)(x)), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(to_numpy(mx.vmap(mx.compile(f))(x[None])), to_numpy(f(x)[None]), rtol=1e-5)


@lmx_only
def test_equal_index_work_merges():
    # Writes of several buffers at one position known at run time (a static KV cache's keys
    # and values): the window indices are computed once, whatever the number of writes.
    def writes(xs):
        pos, bufs = xs[0], xs[1:]
        return [mx.slice_update(b, mx.ones((2, 1, 4)), pos, axes=(1,)) for b in bufs]

    pos = mx.array([3])
    one = mx._core._CompiledGraph(writes, [pos, mx.zeros((2, 8, 4))], False).num_nodes
    four = mx._core._CompiledGraph(writes, [pos] + [mx.zeros((2, 8, 4)) for _ in range(4)], False).num_nodes
    assert four - one == 3  # each further write adds only its scatter (its value is shared too)
    got = mx.compile(lambda p, a, b: [mx.slice_update(x, mx.ones((2, 1, 4)), p, axes=(1,)) for x in (a, b)])(
        pos, mx.zeros((2, 8, 4)), mx.ones((2, 8, 4))
    )
    assert np.array_equal(np.array(got[0])[:, 3], np.ones((2, 4))) and np.array(got[0]).sum() == 8
    assert np.array_equal(np.array(got[1]), np.ones((2, 8, 4)))


@lmx_only  # inspects the traced graph and the inner cache
def test_a_compiled_function_called_while_tracing_is_traced_inline():
    # As nn.silu inside a compiled model step: the inner function's ops join the outer graph,
    # so its chain and the multiply after it become one fused node, and the inner function
    # keeps no trace of its own.
    inner_traces = []

    def silu(x):
        inner_traces.append(1)
        return x * mx.sigmoid(x)

    inner = mx.compile(silu)
    outer = mx._core._CompiledGraph(lambda xs: [inner(xs[0]) * xs[1]], [mx.ones((4,)), mx.ones((4,))], False)
    assert outer.num_nodes == 1
    x, y = mx.array([-1.0, 0.0, 2.0]), mx.array([3.0, 2.0, 1.0])
    got = mx.compile(lambda a, b: inner(a) * b)(x, y)
    want = np.array(x) / (1 + np.exp(-np.array(x))) * np.array(y)
    assert np.allclose(np.array(got), want, atol=1e-6)
    assert len(inner._cache) == 0  # traced only inline
    assert np.allclose(np.array(inner(x)), want / np.array(y), atol=1e-6)
    assert len(inner._cache) == 1


def _projections(x, a, b, c):
    # An attention layer's q, k and v projections (nn.Linear computes x @ w.T).
    return [mx.tanh(x @ a.T), x @ b.T + 1, x @ c.T]


def _projection_args(rng):
    x = mx.array(rng.standard_normal((2, 1, 16)).astype(np.float32))
    return [x] + [mx.array(rng.standard_normal((n, 16)).astype(np.float32)) for n in (8, 4, 4)]


def test_sibling_matmuls_become_one_group(rng, tmp_path):
    args = _projection_args(rng)
    if BACKEND == "lmx":
        dot = mx._core._CompiledGraph(lambda xs: _projections(*xs), args, False).to_dot()
        assert dot.count("matmul_group") == 1 and '"matmul"' not in dot
    want = _projections(*args)
    got = mx.compile(_projections)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-5, atol=1e-6)
    # Gradients and batching through the group match the uncompiled function.
    def loss(*xs):
        return sum(mx.sum(o * o) for o in _projections(*xs))

    for g, w in zip(mx.grad(mx.compile(loss), argnums=(0, 1, 2, 3))(*args),
                    mx.grad(loss, argnums=(0, 1, 2, 3))(*args)):  # fmt: skip
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-4, atol=1e-5)
    batch = mx.array(rng.standard_normal((3, 2, 1, 16)).astype(np.float32))
    vm = mx.vmap(mx.compile(_projections), in_axes=(0, None, None, None))(batch, *args[1:])
    for i in range(3):
        for g, w in zip(vm, _projections(batch[i], *args[1:])):
            np.testing.assert_allclose(np.array(g[i]), np.array(w), rtol=1e-5, atol=1e-6)
    # An exported trace keeps the group and reads back.
    path = str(tmp_path / "proj.mlxfn")
    mx.export_function(path, _projections, *args)
    for g, w in zip(mx.import_function(path)(*args), want):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-5, atol=1e-6)


def test_a_matmul_whose_matrix_needs_its_sibling_is_not_grouped(rng):
    # x @ a and x @ m read x, but m is computed from x @ a: one node for both would read its own output.
    def chained(x, a):
        y = x @ a
        return [y, x @ (y.T @ y)]

    x = mx.array(rng.standard_normal((1, 4)).astype(np.float32))
    a = mx.array(rng.standard_normal((4, 4)).astype(np.float32))
    if BACKEND == "lmx":
        assert "matmul_group" not in mx._core._CompiledGraph(lambda xs: chained(*xs), [x, a], False).to_dot()
    for g, w in zip(mx.compile(chained)(x, a), chained(x, a)):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-5, atol=1e-5)


def _quantized_projections(x, *mats, group_size=32, bits=4):
    # The q, k and v projections of a quantised layer (nn.QuantizedLinear): three products of one x.
    q, k, v = (mx.quantized_matmul(x, *mats[i : i + 3], transpose=True, group_size=group_size, bits=bits)
               for i in (0, 3, 6))  # fmt: skip
    return [mx.tanh(q), k + 1, v]


def _quantized_projection_args(rng, rows, dtype=mx.float32, bits=4):
    x = mx.array(rng.standard_normal((2, rows, 64)).astype(np.float32)).astype(dtype)
    mats = []
    for n in (16, 8, 8):
        w = mx.array(rng.standard_normal((n, 64)).astype(np.float32)).astype(dtype)
        mats += mx.quantize(w, group_size=32, bits=bits)
    return [x] + mats


@pytest.mark.parametrize("rows, dtype, bits", [(1, "float32", 4), (3, "bfloat16", 3), (5, "float32", 8)])
def test_sibling_quantized_products_become_one_group(rng, tmp_path, rows, dtype, bits):
    # rows 5 x 2 batch entries: more rows than the decode kernels take, so each member's own product.
    args = _quantized_projection_args(rng, rows, getattr(mx, dtype), bits)
    f = lambda *a: _quantized_projections(*a, bits=bits)  # noqa: E731
    if BACKEND == "lmx":
        dot = mx._core._CompiledGraph(lambda xs: f(*xs), args, False).to_dot()
        assert dot.count("quantized_matmul_group") == 1 and '"quantized_matmul"' not in dot
    want = f(*args)
    got = mx.compile(f)(*args)
    for g, w in zip(got, want):  # the same kernels on the same rows: identical
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.array_equal(np.array(g.astype(mx.float32)), np.array(w.astype(mx.float32)))
    path = str(tmp_path / "qproj.mlxfn")
    mx.export_function(path, f, *args)
    for g, w in zip(mx.import_function(path)(*args), want):
        assert np.array_equal(np.array(g.astype(mx.float32)), np.array(w.astype(mx.float32)))


def test_grads_and_vmap_through_a_quantized_group(rng):
    args = _quantized_projection_args(rng, 1)

    def loss(*xs):
        return sum(mx.sum(o * o) for o in _quantized_projections(*xs))

    argnums = (0, 2, 3, 5, 9)  # x; the first member's scales and biases; the others' scales or biases
    for g, w in zip(mx.grad(mx.compile(loss), argnums=argnums)(*args), mx.grad(loss, argnums=argnums)(*args)):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-4, atol=1e-4)
    if BACKEND != "lmx":
        return  # MLX has no batching rule for quantized_matmul
    batch = mx.array(rng.standard_normal((3, 2, 1, 64)).astype(np.float32))
    in_axes = (0,) + (None,) * 9
    vm = mx.vmap(mx.compile(_quantized_projections), in_axes=in_axes)(batch, *args[1:])
    for i in range(3):
        for g, w in zip(vm, _quantized_projections(batch[i], *args[1:])):
            np.testing.assert_allclose(np.array(g[i]), np.array(w), rtol=1e-5, atol=1e-6)


def test_quantized_products_of_other_bits_are_not_grouped_together(rng):
    args = _quantized_projection_args(rng, 1)
    x, w8 = args[0], mx.quantize(mx.array(rng.standard_normal((8, 64)).astype(np.float32)), group_size=32, bits=8)

    def mixed(x, *m):
        return [mx.quantized_matmul(x, *m[0:3], group_size=32, bits=4),
                mx.quantized_matmul(x, *m[3:6], group_size=32, bits=8),
                mx.quantized_matmul(x, *m[6:9], group_size=32, bits=4)]  # fmt: skip

    mats = args[1:4] + list(w8) + args[4:7]
    if BACKEND == "lmx":
        dot = mx._core._CompiledGraph(lambda xs: mixed(*xs), [x] + mats, False).to_dot()
        assert dot.count("quantized_matmul_group") == 1 and dot.count('"quantized_matmul"') == 1
    for g, w in zip(mx.compile(mixed)(x, *mats), mixed(x, *mats)):
        assert np.array_equal(np.array(g), np.array(w))


def _pre_norm_block(x, r, w1, w2):
    # A pre-norm transformer block's residual stream: each sum is normalised and carried on.
    h = x + r
    out = h + mx.fast.rms_norm(h, w1, 1e-5)  # (a layer's output: not an elementwise chain)
    return [out, mx.fast.rms_norm(out, w2, 1e-6)]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_residual_adds_and_their_norms_become_one_node(rng, tmp_path, dtype):
    t = getattr(mx, dtype)
    args = [mx.array(rng.standard_normal(s).astype(np.float32)).astype(t) for s in ((2, 3, 16), (2, 3, 16), (16,), (16,))]
    if BACKEND == "lmx":
        dot = mx._core._CompiledGraph(lambda xs: _pre_norm_block(*xs), args, False).to_dot()
        assert dot.count("add_rms_norm") == 2 and '"rms_norm"' not in dot
    want = _pre_norm_block(*args)
    got = mx.compile(_pre_norm_block)(*args)
    for g, w in zip(got, want):  # the same kernels on the same rounded sums: identical
        assert np.array_equal(np.array(g.astype(mx.float32)), np.array(w.astype(mx.float32)))

    def loss(*xs):
        return sum(mx.sum(o.astype(mx.float32) ** 2) for o in _pre_norm_block(*xs))

    if dtype == "float32":
        for g, w in zip(mx.grad(mx.compile(loss), argnums=(0, 1, 2, 3))(*args),
                        mx.grad(loss, argnums=(0, 1, 2, 3))(*args)):  # fmt: skip
            np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-4, atol=1e-4)
        vm = mx.vmap(mx.compile(_pre_norm_block), in_axes=(0, 0, None, None))(*args)
        for i in range(2):
            for g, w in zip(vm, _pre_norm_block(args[0][i], args[1][i], *args[2:])):
                np.testing.assert_allclose(np.array(g[i]), np.array(w), rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "block.mlxfn")
    mx.export_function(path, _pre_norm_block, *args)
    for g, w in zip(mx.import_function(path)(*args), want):
        assert np.array_equal(np.array(g.astype(mx.float32)), np.array(w.astype(mx.float32)))


def test_a_broadcast_residual_gives_the_same_norm(rng):
    # The add's operands reach the fused node as broadcast views (a bias row here).
    x = mx.array(rng.standard_normal((3, 16)).astype(np.float32))
    b = mx.array(rng.standard_normal((16,)).astype(np.float32))
    w = mx.array(rng.standard_normal((16,)).astype(np.float32))
    f = lambda xs: [mx.fast.rms_norm(xs[0] + xs[1], xs[2], 1e-5), xs[0] + xs[1]]  # noqa: E731
    if BACKEND == "lmx":
        assert "add_rms_norm" in mx._core._CompiledGraph(f, [x, b, w], False).to_dot()
    for g, want in zip(mx.compile(lambda *a: f(a))(x, b, w), f([x, b, w])):
        np.testing.assert_allclose(np.array(g), np.array(want), rtol=1e-6, atol=1e-7)
