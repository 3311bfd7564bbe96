"""nn.RNN, nn.GRU and nn.LSTM against step-by-step NumPy recurrences with explicit weights."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")

D, H, L, N = 3, 4, 5, 2


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def set_random_parameters(layer, rng):
    params = {
        k: mx.array(rng.uniform(-1, 1, v.shape).astype(np.float32)) for k, v in layer.parameters().items()
    }
    layer.update(params)
    return {k: to_numpy(v).astype(np.float64) for k, v in params.items()}


def ref_rnn(p, x, h=None, nonlinearity=np.tanh):
    h = np.zeros(x.shape[:-2] + (H,)) if h is None else h
    out = []
    for t in range(x.shape[-2]):
        h = nonlinearity(x[..., t, :] @ p["Wxh"].T + h @ p["Whh"].T + p.get("bias", 0))
        out.append(h)
    return np.stack(out, axis=-2)


def ref_gru(p, x, h=None):
    h = np.zeros(x.shape[:-2] + (H,)) if h is None else h
    b, bhn = p.get("b", np.zeros(3 * H)), p.get("bhn", np.zeros(H))
    wx, wh = np.split(p["Wx"], 3), np.split(p["Wh"], 3)
    bx = np.split(b, 3)
    out = []
    for t in range(x.shape[-2]):
        xt = x[..., t, :]
        r = sigmoid(xt @ wx[0].T + h @ wh[0].T + bx[0])
        z = sigmoid(xt @ wx[1].T + h @ wh[1].T + bx[1])
        n = np.tanh(xt @ wx[2].T + bx[2] + r * (h @ wh[2].T + bhn))
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out, axis=-2)


def ref_lstm(p, x, h=None, c=None):
    h = np.zeros(x.shape[:-2] + (H,)) if h is None else h
    c = np.zeros(x.shape[:-2] + (H,)) if c is None else c
    hs, cs = [], []
    for t in range(x.shape[-2]):
        gates = x[..., t, :] @ p["Wx"].T + h @ p["Wh"].T + p.get("bias", 0)
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, axis=-2), np.stack(cs, axis=-2)


def inputs(rng, batched):
    shape = (N, L, D) if batched else (L, D)
    hshape = (N, H) if batched else (H,)
    return (rng.normal(size=s).astype(np.float32) for s in (shape, hshape, hshape))


def close(got, expected):
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-5, atol=1e-5)


# ---- parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shapes",
    [
        ("RNN", {"Wxh": (H, D), "Whh": (H, H), "bias": (H,)}),
        ("GRU", {"Wx": (3 * H, D), "Wh": (3 * H, H), "b": (3 * H,), "bhn": (H,)}),
        ("LSTM", {"Wx": (4 * H, D), "Wh": (4 * H, H), "bias": (4 * H,)}),
    ],
)
def test_recurrent_parameters(name, shapes):
    layer = getattr(nn, name)(D, H)
    params = layer.parameters()
    assert {k: v.shape for k, v in params.items()} == shapes
    for v in params.values():
        # U(-1/sqrt(H), 1/sqrt(H)) for weights and biases alike.
        assert np.abs(to_numpy(v)).max() <= 1 / math.sqrt(H)
    without_bias = getattr(nn, name)(D, H, bias=False).parameters()
    assert set(without_bias) == {k for k in shapes if k.startswith("W")}


# ---- outputs ----------------------------------------------------------------------


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_matches_numpy(batched, bias, rng):
    layer = nn.RNN(D, H, bias=bias)
    p = set_random_parameters(layer, rng)
    x, h0, _ = inputs(rng, batched)
    y = layer(mx.array(x))
    assert y.shape == ((N, L, H) if batched else (L, H))
    close(y, ref_rnn(p, x))
    close(layer(mx.array(x), mx.array(h0)), ref_rnn(p, x, h0))


def test_rnn_custom_nonlinearity(rng):
    layer = nn.RNN(D, H, nonlinearity=nn.relu)
    p = set_random_parameters(layer, rng)
    x, h0, _ = inputs(rng, True)
    close(layer(mx.array(x), mx.array(h0)), ref_rnn(p, x, h0, lambda v: np.maximum(v, 0)))


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_matches_numpy(batched, bias, rng):
    layer = nn.GRU(D, H, bias=bias)
    p = set_random_parameters(layer, rng)
    x, h0, _ = inputs(rng, batched)
    y = layer(mx.array(x))
    assert y.shape == ((N, L, H) if batched else (L, H))
    close(y, ref_gru(p, x))
    close(layer(mx.array(x), mx.array(h0)), ref_gru(p, x, h0))


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_matches_numpy(batched, bias, rng):
    layer = nn.LSTM(D, H, bias=bias)
    p = set_random_parameters(layer, rng)
    x, h0, c0 = inputs(rng, batched)
    for args in [(), (h0,), (h0, c0)]:
        hidden, cell = layer(mx.array(x), *(mx.array(a) for a in args))
        assert hidden.shape == cell.shape == ((N, L, H) if batched else (L, H))
        ref_hidden, ref_cell = ref_lstm(p, x, *args)
        close(hidden, ref_hidden)
        close(cell, ref_cell)
    hidden, cell = layer(mx.array(x), cell=mx.array(c0))
    close(cell, ref_lstm(p, x, None, c0)[1])


# ---- gradients ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_recurrent_gradients_match_finite_differences(name, rng):
    layer = getattr(nn, name)(D, H)
    set_random_parameters(layer, rng)
    x = mx.array(rng.normal(size=(N, L, D)).astype(np.float32))

    def loss(params):
        layer.update(params)
        out = layer(x)
        return mx.sum(out[0] if name == "LSTM" else out) / 10

    params = layer.trainable_parameters()
    grads = mx.grad(loss)(params)
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in params.items()}
    for key in params:
        direction = mx.array(rng.normal(size=params[key].shape).astype(np.float32))
        eps = 1e-2
        plus = dict(params, **{key: params[key] + eps * direction})
        minus = dict(params, **{key: params[key] - eps * direction})
        numeric = (float(loss(plus)) - float(loss(minus))) / (2 * eps)
        assert float(mx.sum(grads[key] * direction)) == pytest.approx(numeric, rel=2e-2, abs=2e-3)
        layer.update(params)


# ---- errors -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_recurrent_rejects_wrong_feature_size(name):
    layer = getattr(nn, name)(D, H)
    with pytest.raises(ValueError):
        layer(mx.zeros((N, L, D + 1)))
    with pytest.raises(ValueError):
        layer(mx.zeros((N, L, D)), mx.zeros((N, H + 1)))


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_recurrent_rejects_an_empty_sequence(name):
    with pytest.raises(ValueError):
        getattr(nn, name)(D, H)(mx.zeros((N, 0, D)))
