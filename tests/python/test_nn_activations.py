"""nn activations: each function against a NumPy reference (float32, float16, bfloat16), the
Module classes against the functions, gradients against finite differences, stability at
large |x|, and bad arguments."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy, tolerance

nn = backend_module("nn")

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _softplus(x):
    return np.logaddexp(x, 0)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _glu(x, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    return a * _sigmoid(b)


# name -> (NumPy reference in float64, keyword arguments passed to both).
REFERENCES = {
    "relu": (lambda x: np.maximum(x, 0), {}),
    "relu6": (lambda x: np.clip(x, 0, 6), {}),
    "relu2": (lambda x: np.maximum(x, 0) ** 2, {}),
    "leaky_relu": (lambda x, negative_slope: np.where(x > 0, x, negative_slope * x), {"negative_slope": 0.2}),
    "elu": (lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), {"alpha": 1.5}),
    "celu": (lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha)), {"alpha": 2.0}),
    "selu": (lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))), {}),
    "gelu": (lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), {}),
    "gelu_approx": (lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))), {}),
    "gelu_fast_approx": (lambda x: x * _sigmoid(1.702 * x), {}),
    "silu": (lambda x: x * _sigmoid(x), {}),
    "mish": (lambda x: x * np.tanh(_softplus(x)), {}),
    "sigmoid": (_sigmoid, {}),
    "log_sigmoid": (lambda x: -_softplus(-x), {}),
    "hard_tanh": (
        lambda x, min_val, max_val: np.clip(x, min_val, max_val),
        {"min_val": -0.5, "max_val": 2.0},
    ),
    "hardswish": (lambda x: x * np.clip(x + 3, 0, 6) / 6, {}),
    "hard_shrink": (lambda x, lambd: np.where(np.abs(x) > lambd, x, 0), {"lambd": 0.7}),
    "softshrink": (lambda x, lambd: np.where(np.abs(x) > lambd, x - np.sign(x) * lambd, 0), {"lambd": 0.7}),
    "softplus": (_softplus, {}),
    "softsign": (lambda x: x / (1 + np.abs(x)), {}),
    "softmax": (_softmax, {"axis": 0}),
    "softmin": (lambda x, axis: _softmax(-x, axis), {"axis": 0}),
    "log_softmax": (_log_softmax, {"axis": 0}),
    "tanh": (np.tanh, {}),
    "glu": (_glu, {"axis": 0}),
}

FLOATS = ["float32", "float16", "bfloat16"]


def _inputs(rng, shape=(6, 8)):
    return rng.normal(scale=3.0, size=shape)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_function_matches_numpy(name, dtype, rng):
    reference, kwargs = REFERENCES[name]
    x = mx.array(_inputs(rng).astype(np.float32)).astype(getattr(mx, dtype))
    expected = reference(to_numpy(x).astype(np.float64), **kwargs)
    out = getattr(nn, name)(x, **kwargs)
    assert out.dtype == x.dtype and out.shape == expected.shape
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=rtol, atol=max(atol, 1e-5))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu", "softplus", "selu"])
def test_functions_use_their_defaults(name, rng):
    """The same reference with MLX's default arguments (no keywords)."""
    x = mx.array(_inputs(rng).astype(np.float32))
    expected = REFERENCES[name][0](to_numpy(x).astype(np.float64))
    np.testing.assert_allclose(to_numpy(getattr(nn, name)(x)), expected, rtol=1e-5, atol=1e-6)


def test_default_arguments_of_parametrised_functions():
    x = mx.array([-3.0, -0.4, -0.6, 0.3, 0.6, 1.5, 8.0])
    xn = to_numpy(x).astype(np.float64)
    cases = [
        (nn.leaky_relu(x), np.where(xn > 0, xn, 0.01 * xn)),
        (nn.elu(x), np.where(xn > 0, xn, np.expm1(xn))),
        (nn.celu(x), np.where(xn > 0, xn, np.expm1(xn))),
        (nn.hard_tanh(x), np.clip(xn, -1, 1)),
        (nn.hard_shrink(x), np.where(np.abs(xn) > 0.5, xn, 0)),
        (nn.softshrink(x), np.where(np.abs(xn) > 0.5, xn - np.sign(xn) * 0.5, 0)),
        (nn.softmax(x), _softmax(xn)),
        (nn.glu(mx.array([[1.0, 2.0, -1.0, 3.0]])), _glu(np.array([[1.0, 2.0, -1.0, 3.0]]))),
    ]
    for out, expected in cases:
        np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-5, atol=1e-6)


def test_step_is_one_at_and_above_the_threshold():
    x = mx.array([-1.0, -1e-6, 0.0, 1e-6, 0.5, 2.0])
    assert nn.step(x).tolist() == [0, 0, 1, 1, 1, 1]
    assert nn.step(x, 0.5).tolist() == [0, 0, 0, 0, 1, 1]
    assert nn.step(x, threshold=-1.0).tolist() == [1] * 6


def test_prelu_function_broadcasts_alpha_over_the_last_axis(rng):
    x = mx.array(_inputs(rng, (4, 3)).astype(np.float32))
    alpha = mx.array([0.1, 0.5, 2.0])
    xn = to_numpy(x)
    expected = np.maximum(xn, 0) + to_numpy(alpha) * np.minimum(xn, 0)
    np.testing.assert_allclose(to_numpy(nn.prelu(x, alpha)), expected, rtol=1e-6)


def test_softmax_family_along_other_axes(rng):
    x = mx.array(_inputs(rng, (3, 4, 5)).astype(np.float32))
    xn = to_numpy(x).astype(np.float64)
    for axis in (0, 1, -1):
        np.testing.assert_allclose(
            to_numpy(nn.softmax(x, axis=axis)), _softmax(xn, axis), rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            to_numpy(nn.softmin(x, axis=axis)), _softmax(-xn, axis), rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            to_numpy(nn.log_softmax(x, axis=axis)), _log_softmax(xn, axis), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(to_numpy(nn.glu(mx.concatenate([x, x], axis=axis), axis=axis)),
                                   _glu(np.concatenate([xn, xn], axis=axis), axis), rtol=1e-5, atol=1e-6)  # fmt: skip


# ----- stability -----------------------------------------------------------------------

LARGE = np.array([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0])


@pytest.mark.parametrize(
    "name",
    ["softplus", "log_sigmoid", "sigmoid", "mish", "silu", "elu", "celu", "selu", "gelu", "gelu_approx",
     "gelu_fast_approx", "softsign", "tanh", "log_softmax", "softmax", "softmin"],
)  # fmt: skip
def test_finite_and_accurate_for_large_inputs(name):
    reference, kwargs = REFERENCES[name]
    out = to_numpy(getattr(nn, name)(mx.array(LARGE.astype(np.float32)), **kwargs))
    expected = reference(LARGE, **kwargs)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["softplus", "log_sigmoid", "sigmoid", "mish", "silu", "log_softmax"])
def test_gradient_finite_for_large_inputs(name):
    grad = mx.grad(lambda v: getattr(nn, name)(v).sum())(mx.array(LARGE.astype(np.float32)))
    assert np.all(np.isfinite(to_numpy(grad)))


def test_half_precision_softplus_does_not_overflow():
    # exp(20) overflows float16; the logaddexp form must not.
    out = nn.softplus(mx.array([-20.0, 20.0, 60000.0], dtype=mx.float16))
    assert out.dtype == mx.float16
    np.testing.assert_allclose(
        to_numpy(out).astype(np.float64), [2.06e-9, 20.0, 60000.0], rtol=2e-3, atol=1e-6
    )
    assert to_numpy(nn.log_sigmoid(mx.array([-20.0], dtype=mx.float16)))[0] == pytest.approx(-20.0, rel=2e-3)


# ----- gradients -----------------------------------------------------------------------

# Points away from every kink (0, +-0.5, +-0.7, +-1, +-3, 6).
SMOOTH_POINTS = np.array([-2.7, -1.3, -0.85, -0.3, 0.15, 0.8, 1.6, 2.2])


@pytest.mark.parametrize(
    "name",
    ["relu", "relu2", "leaky_relu", "elu", "celu", "selu", "gelu", "gelu_approx", "gelu_fast_approx", "silu",
     "mish", "sigmoid", "log_sigmoid", "hard_tanh", "hardswish", "softshrink", "softplus", "softsign", "tanh"],
)  # fmt: skip
def test_elementwise_gradient_matches_finite_differences(name):
    reference, kwargs = REFERENCES[name]
    h = 1e-6
    expected = (reference(SMOOTH_POINTS + h, **kwargs) - reference(SMOOTH_POINTS - h, **kwargs)) / (2 * h)
    grad = mx.grad(lambda v: getattr(nn, name)(v, **kwargs).sum())(mx.array(SMOOTH_POINTS.astype(np.float32)))
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "glu"])
def test_vector_gradient_matches_finite_differences(name, rng):
    reference, kwargs = REFERENCES[name]
    x = rng.normal(size=(4, 3))
    weights = rng.normal(size=reference(x, **kwargs).shape)

    def objective_np(v):
        return (reference(v, **kwargs) * weights).sum()

    h = 1e-6
    expected = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        expected[i] = (objective_np(x + step) - objective_np(x - step)) / (2 * h)
    w = mx.array(weights.astype(np.float32))
    grad = mx.grad(lambda v: (getattr(nn, name)(v, **kwargs) * w).sum())(mx.array(x.astype(np.float32)))
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-4, atol=1e-5)


def test_prelu_gradient_with_respect_to_alpha(rng):
    x = mx.array(_inputs(rng, (5, 3)).astype(np.float32))
    grad = mx.grad(lambda a: nn.prelu(x, a).sum())(mx.array([0.25, 0.25, 0.25]))
    np.testing.assert_allclose(to_numpy(grad), np.minimum(to_numpy(x), 0).sum(axis=0), rtol=1e-5)


# ----- modules -------------------------------------------------------------------------

# (class, constructor arguments, function, its keyword arguments)
MODULES = [
    ("ReLU", {}, "relu", {}),
    ("ReLU6", {}, "relu6", {}),
    ("ReLU2", {}, "relu2", {}),
    ("LeakyReLU", {"negative_slope": 0.3}, "leaky_relu", {"negative_slope": 0.3}),
    ("ELU", {"alpha": 0.7}, "elu", {"alpha": 0.7}),
    ("CELU", {"alpha": 1.7}, "celu", {"alpha": 1.7}),
    ("SELU", {}, "selu", {}),
    ("GELU", {}, "gelu", {}),
    ("GELU", {"approx": "precise"}, "gelu_approx", {}),
    ("GELU", {"approx": "tanh"}, "gelu_approx", {}),
    ("GELU", {"approx": "fast"}, "gelu_fast_approx", {}),
    ("GLU", {"axis": 0}, "glu", {"axis": 0}),
    ("SiLU", {}, "silu", {}),
    ("Mish", {}, "mish", {}),
    ("Sigmoid", {}, "sigmoid", {}),
    ("LogSigmoid", {}, "log_sigmoid", {}),
    ("HardTanh", {}, "hard_tanh", {}),
    ("Hardswish", {}, "hardswish", {}),
    ("HardShrink", {"lambd": 1.1}, "hard_shrink", {"lambd": 1.1}),
    ("Softshrink", {"lambd": 1.1}, "softshrink", {"lambd": 1.1}),
    ("Softplus", {}, "softplus", {}),
    ("Softsign", {}, "softsign", {}),
    ("Softmax", {}, "softmax", {}),
    ("Softmin", {}, "softmin", {}),
    ("LogSoftmax", {}, "log_softmax", {}),
    ("Step", {"threshold": 0.4}, "step", {"threshold": 0.4}),
    ("Tanh", {}, "tanh", {}),
]


@pytest.mark.parametrize("cls,args,fn,fn_kwargs", MODULES, ids=[f"{m[0]}-{m[2]}" for m in MODULES])
def test_module_equals_function(cls, args, fn, fn_kwargs, rng):
    x = mx.array(_inputs(rng, (4, 6)).astype(np.float32))
    layer = getattr(nn, cls)(**args)
    assert isinstance(layer, nn.Module)
    assert layer.parameters() == {}
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(getattr(nn, fn)(x, **fn_kwargs)))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="foo"):
        nn.GELU(approx="foo")


def test_prelu_module_has_a_learnable_slope(rng):
    layer = nn.PReLU(num_parameters=3, init=0.1)
    params = layer.parameters()
    assert list(params) == ["weight"]
    assert params["weight"].shape == (3,) and params["weight"].dtype == mx.float32
    np.testing.assert_allclose(to_numpy(params["weight"]), [0.1] * 3, rtol=1e-7)
    x = mx.array(_inputs(rng, (4, 3)).astype(np.float32))
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(nn.prelu(x, layer.weight)))

    default = nn.PReLU()
    assert default.weight.shape == (1,)
    np.testing.assert_allclose(to_numpy(default.weight), [0.25])

    # The slope is what training updates: the gradient flows to it through the module.
    def loss(params):
        layer.update(params)
        return layer(x).sum()

    grads = mx.grad(loss)(layer.trainable_parameters())
    np.testing.assert_allclose(to_numpy(grads["weight"]), np.minimum(to_numpy(x), 0).sum(axis=0), rtol=1e-5)


# ----- bad input ------------------------------------------------------------------------


def test_glu_needs_an_even_axis():
    with pytest.raises(ValueError):
        nn.glu(mx.zeros((2, 3)))
    with pytest.raises(ValueError):
        nn.GLU(axis=0)(mx.zeros((3, 2)))


def test_gelu_derivatives_jvp_vmap_and_dtype():
    # gelu's fused derivative: the first and second derivatives against
    # phi(x) = exp(-x^2 / 2) / sqrt(2 pi): gelu' = Phi + x phi, gelu'' = phi (2 - x^2)
    x = SMOOTH_POINTS
    phi = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    xm = mx.array(x.astype(np.float32))
    first = mx.grad(lambda v: nn.gelu(v).sum())
    np.testing.assert_allclose(to_numpy(first(xm)), 0.5 * (1 + _erf(x / np.sqrt(2))) + x * phi, rtol=1e-5, atol=1e-6)
    second = mx.grad(lambda v: first(v).sum())(xm)
    np.testing.assert_allclose(to_numpy(second), phi * (2 - x * x), rtol=1e-4, atol=1e-5)
    tangent = mx.array(np.linspace(-1, 1, x.size).astype(np.float32))
    out, jvp = mx.jvp(nn.gelu, [xm], [tangent])
    np.testing.assert_allclose(to_numpy(jvp[0]), to_numpy(first(xm) * tangent), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(to_numpy(out[0]), to_numpy(nn.gelu(xm)), rtol=0, atol=0)
    batch = mx.stack([xm, -xm, 2 * xm])
    np.testing.assert_allclose(to_numpy(mx.vmap(nn.gelu)(batch)), to_numpy(nn.gelu(batch)), rtol=0, atol=0)
    np.testing.assert_allclose(to_numpy(mx.vmap(first)(batch)), to_numpy(mx.stack([first(r) for r in batch])),
                               rtol=1e-6, atol=1e-7)
    g16 = mx.grad(lambda v: nn.gelu(v).sum())(xm.astype(mx.float16))
    assert g16.dtype == mx.float16
    np.testing.assert_allclose(to_numpy(g16).astype(np.float64), to_numpy(first(xm)), rtol=3e-3, atol=3e-3)
