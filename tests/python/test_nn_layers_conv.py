"""nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d: parameters, outputs against the NumPy
references of test_conv.py with the layer's weights set explicitly, gradients, errors."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy
from test_conv import ref_conv, ref_conv_transpose

nn = backend_module("nn")

CONV = {1: "Conv1d", 2: "Conv2d", 3: "Conv3d"}
CONV_TRANSPOSE = {1: "ConvTranspose1d", 2: "ConvTranspose2d", 3: "ConvTranspose3d"}


def set_random_parameters(layer, rng):
    """Replaces every parameter with uniform(-1, 1) values; returns them as float64 NumPy."""
    params = {
        k: mx.array(rng.uniform(-1, 1, v.shape).astype(np.float32)) for k, v in layer.parameters().items()
    }
    layer.update(params)
    return {k: to_numpy(v).astype(np.float64) for k, v in params.items()}


def random_input(rng, shape):
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    return mx.array(x), x.astype(np.float64)


def as_tuple(v, d):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d


# ---- parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "d, c_in, c_out, kernel, groups",
    [(1, 6, 8, 3, 1), (1, 6, 9, 3, 3), (2, 6, 8, (3, 2), 2), (2, 4, 4, 3, 4), (3, 4, 5, 2, 1)],
)
def test_conv_parameters_shapes_and_init(d, c_in, c_out, kernel, groups):
    kwargs = {"groups": groups} if groups != 1 else {}
    layer = getattr(nn, CONV[d])(c_in, c_out, kernel, **kwargs)
    k = as_tuple(kernel, d)
    assert set(layer.parameters()) == {"weight", "bias"}
    assert layer.weight.shape == (c_out, *k, c_in // groups)
    assert layer.weight.dtype == mx.float32
    np.testing.assert_array_equal(to_numpy(layer.bias), np.zeros(c_out))
    # U(-s, s) with s = sqrt(1 / fan_in), fan_in = in_channels / groups * prod(kernel).
    scale = math.sqrt(1 / (c_in // groups * math.prod(k)))
    w = to_numpy(layer.weight)
    assert np.abs(w).max() <= scale
    assert np.abs(w).max() > 0.5 * scale


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_transpose_parameters_shapes_and_init(d):
    layer = getattr(nn, CONV_TRANSPOSE[d])(4, 6, 3)
    assert layer.weight.shape == (6, *(3,) * d, 4)
    assert layer.bias.shape == (6,)
    scale = math.sqrt(1 / (4 * 3**d))
    w = to_numpy(layer.weight)
    assert np.abs(w).max() <= scale and np.abs(w).max() > 0.5 * scale


@pytest.mark.parametrize("name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d"])
def test_conv_without_bias(name, rng):
    layer = getattr(nn, name)(3, 2, 2, bias=False)
    assert set(layer.parameters()) == {"weight"}
    d = int(name[-2])
    x, xn = random_input(rng, (1, *(4,) * d, 3))
    w = set_random_parameters(layer, rng)["weight"]
    ref = ref_conv_transpose(xn, w) if "Transpose" in name else ref_conv(xn, w)
    np.testing.assert_allclose(to_numpy(layer(x)), ref, rtol=1e-5, atol=1e-5)


# ---- outputs against NumPy ----------------------------------------------------------

# (input shape, out channels, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 9, 4), 6, 3, 1, 0, 1, 1),
    ((2, 11, 4), 6, 3, 2, 1, 1, 1),
    ((1, 16, 6), 4, 4, 3, 2, 2, 2),
    ((2, 9, 4), 8, 3, 1, 1, 1, 4),
    ((1, 5, 2), 3, 5, 1, 0, 1, 1),
    ((2, 7, 6, 3), 5, 3, 1, 1, 1, 1),
    ((1, 9, 8, 4), 6, (3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((2, 6, 6, 6), 6, 3, 2, 1, 2, 6),
    ((1, 5, 6, 4, 2), 3, 2, 1, 0, 1, 1),
    ((1, 7, 6, 5, 3), 4, (3, 2, 2), (2, 1, 2), (1, 1, 0), (1, 2, 1), 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_matches_numpy(case, rng):
    shape, c_out, kernel, stride, padding, dilation, groups = case
    d = len(shape) - 2
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation}
    if groups != 1:
        kwargs["groups"] = groups
    layer = getattr(nn, CONV[d])(shape[-1], c_out, kernel, **kwargs)
    params = set_random_parameters(layer, rng)
    x, xn = random_input(rng, shape)
    y = layer(x)
    ref = ref_conv(xn, params["weight"], stride, padding, dilation, 1, groups) + params["bias"]
    assert y.shape == ref.shape
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-5, atol=1e-5)


# (input shape, out channels, kernel, stride, padding, dilation, output padding)
CONV_TRANSPOSE_CASES = [
    ((2, 5, 3), 4, 3, 1, 0, 1, 0),
    ((2, 5, 3), 4, 3, 2, 1, 1, 1),
    ((1, 6, 2), 3, 4, 3, 2, 2, 0),
    ((2, 4, 5, 3), 2, 3, 2, 1, 1, 1),
    ((1, 3, 4, 2), 3, (2, 3), (1, 2), (0, 1), (2, 1), (0, 1)),
    ((1, 3, 2, 3, 2), 2, 2, 2, 0, 1, 0),
    ((1, 2, 3, 3, 2), 3, (2, 1, 3), (1, 2, 2), (1, 0, 1), (1, 1, 2), (0, 1, 1)),
]


@pytest.mark.parametrize("case", CONV_TRANSPOSE_CASES, ids=str)
def test_conv_transpose_matches_numpy(case, rng):
    shape, c_out, kernel, stride, padding, dilation, output_padding = case
    d = len(shape) - 2
    layer = getattr(nn, CONV_TRANSPOSE[d])(
        shape[-1],
        c_out,
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        output_padding=output_padding,
    )
    params = set_random_parameters(layer, rng)
    x, xn = random_input(rng, shape)
    y = layer(x)
    ref = ref_conv_transpose(xn, params["weight"], stride, padding, dilation, output_padding) + params["bias"]
    assert y.shape == ref.shape
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_output_shapes(d, stride, padding, dilation):
    layer = getattr(nn, CONV[d])(2, 3, 3, stride=stride, padding=padding, dilation=dilation)
    size = 9
    expected = (size + 2 * padding - dilation * 2 - 1) // stride + 1
    assert layer(mx.zeros((2, *(size,) * d, 2))).shape == (2, *(expected,) * d, 3)
    tlayer = getattr(nn, CONV_TRANSPOSE[d])(2, 3, 3, stride=stride, padding=padding, dilation=dilation)
    expected = (size - 1) * stride - 2 * padding + dilation * 2 + 1
    assert tlayer(mx.zeros((2, *(size,) * d, 2))).shape == (2, *(expected,) * d, 3)


def test_conv_half_precision_follows_the_parameters(rng):
    layer = nn.Conv2d(3, 4, 3, padding=1)
    params = set_random_parameters(layer, rng)
    layer.set_dtype(mx.float16)
    x, xn = random_input(rng, (1, 5, 5, 3))
    y = layer(x.astype(mx.float16))
    assert y.dtype == mx.float16
    ref = ref_conv(xn, params["weight"], 1, 1) + params["bias"]
    np.testing.assert_allclose(to_numpy(y), ref, rtol=2e-2, atol=2e-2)


# ---- gradients ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
)
def test_conv_gradients_are_exact_for_a_linear_loss(name, rng):
    """The loss <layer(x), g> is linear in the parameters, so <grad, v> = L(p + v) - L(p)."""
    d = int(name[-2])
    layer = getattr(nn, name)(3, 4, 2, stride=2, padding=1)
    params = {k: mx.array(v.astype(np.float32)) for k, v in set_random_parameters(layer, rng).items()}
    x, _ = random_input(rng, (2, *(5,) * d, 3))
    g = mx.array(rng.uniform(-1, 1, layer(x).shape).astype(np.float32))

    def loss(p):
        layer.update(p)
        return mx.sum(layer(x) * g)

    grads = mx.grad(loss)(params)
    assert set(grads) == {"weight", "bias"}
    for k, value in params.items():
        assert grads[k].shape == value.shape
    step = {k: mx.array(rng.uniform(-1, 1, v.shape).astype(np.float32)) for k, v in params.items()}
    moved = {k: params[k] + step[k] for k in params}
    directional = sum(float(mx.sum(grads[k] * step[k])) for k in params)
    difference = float(loss(moved)) - float(loss(params))
    assert directional == pytest.approx(difference, rel=1e-4, abs=1e-3)
    # The bias gradient of <y, g> is g summed over every axis but the channels.
    np.testing.assert_allclose(
        to_numpy(grads["bias"]), to_numpy(g).sum(axis=tuple(range(g.ndim - 1))), rtol=1e-5, atol=1e-5
    )


# ---- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
)
def test_conv_rejects_wrong_channel_count_or_rank(name):
    d = int(name[-2])
    layer = getattr(nn, name)(3, 4, 2)
    with pytest.raises(ValueError):
        layer(mx.zeros((1, *(5,) * d, 2)))
    with pytest.raises(ValueError):
        layer(mx.zeros((*(5,) * d, 3)))


def test_conv_rejects_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match="groups"):
        nn.Conv1d(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(5, 4, 3, groups=2)


def test_conv_rejects_kernel_larger_than_padded_input():
    with pytest.raises(ValueError):
        nn.Conv1d(2, 2, 7)(mx.zeros((1, 5, 2)))


def test_conv_rejects_zero_stride():
    with pytest.raises(ValueError):
        nn.Conv2d(2, 2, 3, stride=0)(mx.zeros((1, 5, 5, 2)))


def test_conv_repr():
    assert repr(nn.Conv1d(6, 8, 3)) == (
        "Conv1d(6, 8, kernel_size=3, stride=1, padding=0, dilation=1, groups=1, bias=True)"
    )
    assert repr(nn.Conv2d(6, 8, 3, groups=2, bias=False)) == (
        "Conv2d(6, 8, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=1, groups=2, bias=False)"
    )
    assert repr(nn.ConvTranspose2d(6, 8, 3, output_padding=1)) == (
        "ConvTranspose2d(6, 8, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=1, "
        "output_padding=(1, 1), bias=True)"
    )
