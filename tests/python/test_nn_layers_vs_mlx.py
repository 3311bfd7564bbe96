"""lmx's structured layers against MLX's own, given the same weights and inputs.

The other test_nn_layers_* files check each layer against NumPy under both backends;
this one runs only for lmx (with MLX importable) and compares whole layers with
mlx.nn directly: parameter trees, repr, outputs and parameter gradients.
"""

import numpy as np
import pytest
from conftest import BACKEND

if BACKEND == "mlx":
    pytest.skip("compares lmx with MLX; nothing to compare under the MLX backend", allow_module_level=True)
mlx_core = pytest.importorskip("mlx.core")
mlx_nn = pytest.importorskip("mlx.nn")
mlx_utils = pytest.importorskip("mlx.utils")

import lmx.core as lmx_core  # noqa: E402
import lmx.nn as lmx_nn  # noqa: E402
import lmx.utils as lmx_utils  # noqa: E402

BACKENDS = {
    "mlx": (mlx_core, mlx_nn, mlx_utils),
    "lmx": (lmx_core, lmx_nn, lmx_utils),
}


def as_input(value, core):
    if isinstance(value, np.ndarray):
        return core.array(value)
    return value


# (layer, constructor args, constructor kwargs, call inputs: NumPy arrays or plain values,
#  call kwargs). Arrays are drawn once and fed to both libraries.
def cases(rng):
    def normal(*shape):
        return rng.normal(size=shape).astype(np.float32)

    causal = np.triu(np.full((4, 4), -1e9, dtype=np.float32), 1)
    return [
        ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "groups": 2}, [normal(2, 9, 4)], {}),
        ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}, [normal(2, 7, 8, 4)], {}),
        ("Conv3d", (3, 4, 2), {"padding": 1, "bias": False}, [normal(1, 4, 5, 3, 3)], {}),
        ("ConvTranspose1d", (3, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1}, [normal(2, 5, 3)], {}),
        ("ConvTranspose2d", (3, 4, (2, 3)), {"stride": 2, "dilation": 2}, [normal(1, 4, 5, 3)], {}),
        ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, [normal(1, 2, 3, 2, 2)], {}),
        ("MaxPool1d", (3, 2, 1), {}, [normal(2, 9, 3)], {}),
        ("AvgPool2d", ((2, 3), (1, 2), (1, 1)), {}, [normal(2, 6, 7, 3)], {}),
        ("MaxPool3d", (2,), {}, [normal(1, 4, 4, 6, 2)], {}),
        ("AvgPool3d", (2, 1, 1), {}, [normal(1, 3, 4, 5, 2)], {}),
        ("Upsample", (2.5,), {"mode": "nearest"}, [normal(1, 5, 4, 2)], {}),
        ("Upsample", ((1.5, 0.5),), {"mode": "linear"}, [normal(1, 5, 6, 2)], {}),
        ("Upsample", (1.75,), {"mode": "cubic", "align_corners": True}, [normal(2, 4, 3)], {}),
        ("Upsample", (0.4,), {"mode": "cubic", "antialias": True}, [normal(1, 11, 12, 2)], {}),
        ("Upsample", (2,), {"mode": "linear", "antialias": True}, [normal(1, 3, 4, 5, 1)], {}),
        ("RoPE", (8,), {"traditional": True, "base": 1000}, [normal(2, 2, 5, 10)], {"offset": 3}),
        ("RoPE", (10,), {"scale": 0.25}, [normal(2, 5, 10)], {}),
        ("SinusoidalPositionalEncoding", (16,), {"cos_first": True, "full_turns": True}, [normal(3, 5)], {}),
        ("ALiBi", (), {}, [normal(2, 6, 3, 7)], {"offset": 4}),
        ("RNN", (4, 5), {}, [normal(2, 6, 4), normal(2, 5)], {}),
        ("GRU", (4, 5), {}, [normal(6, 4)], {}),
        ("LSTM", (4, 5), {"bias": False}, [normal(2, 6, 4), normal(2, 5), normal(2, 5)], {}),
        ("MultiHeadAttention", (8, 2), {"bias": True, "value_dims": 6},
         [normal(2, 4, 8), normal(2, 5, 8), normal(2, 5, 8), normal(4, 5)], {}),
        ("TransformerEncoderLayer", (8, 2), {"mlp_dims": 12}, [normal(2, 4, 8), causal], {}),
        ("TransformerDecoderLayer", (8, 2), {"norm_first": False}, [normal(2, 4, 8), normal(2, 5, 8), causal, None], {}),
        ("Transformer", (8, 2, 2, 1), {"mlp_dims": 16}, [normal(2, 5, 8), normal(2, 4, 8), None, causal, None], {}),
    ]  # fmt: skip


def build(core, nn, utils, name, args, kwargs, params):
    layer = getattr(nn, name)(*args, **kwargs)
    if params is not None:
        layer.update(utils.tree_map(lambda a: core.array(a), params))
    return layer


def leaves(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("index", range(len(cases(np.random.default_rng(0)))))
def test_layer_matches_mlx(index):
    rng = np.random.default_rng(index)
    name, args, kwargs, inputs, call_kwargs = cases(rng)[index]
    reference = build(*BACKENDS["mlx"], name, args, kwargs, None)
    # Random weights (not MLX's init) so every parameter matters; both get the same ones.
    params = mlx_utils.tree_map(
        lambda a: rng.normal(size=a.shape).astype(np.float32) * 0.5, reference.parameters()
    )
    layers = {key: build(*BACKENDS[key], name, args, kwargs, params) for key in BACKENDS}

    shapes = {
        key: [(k, tuple(v.shape)) for k, v in BACKENDS[key][2].tree_flatten(layer.parameters())]
        for key, layer in layers.items()
    }
    assert sorted(shapes["lmx"]) == sorted(shapes["mlx"])
    if name != "RNN":  # RNN's repr shows the nonlinearity function object
        assert repr(layers["lmx"]) == repr(layers["mlx"])

    results = {}
    for key, (core, nn, utils) in BACKENDS.items():
        layer = layers[key]
        call_inputs = [as_input(v, core) for v in inputs]
        out = leaves(layer(*call_inputs, **call_kwargs))
        weights = [core.array(rng_weights) for rng_weights in _loss_weights(out)]
        grads = None
        if layer.parameters():

            def loss(*a, layer=layer, weights=weights, core=core):
                return sum(core.sum(o * w) for o, w in zip(leaves(layer(*a, **call_kwargs)), weights))

            _, grads = nn.value_and_grad(layer, loss)(*call_inputs)
            grads = {k: np.array(v) for k, v in utils.tree_flatten(grads)}
        results[key] = ([np.array(o) for o in out], grads)

    for got, expected in zip(results["lmx"][0], results["mlx"][0]):
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    if results["mlx"][1] is not None:
        assert results["lmx"][1].keys() == results["mlx"][1].keys()
        for key, expected in results["mlx"][1].items():
            np.testing.assert_allclose(results["lmx"][1][key], expected, rtol=1e-3, atol=1e-3)


def _loss_weights(out):
    """Fixed pseudo-random weights for <output, w>, identical for both libraries."""
    rng = np.random.default_rng(1234)
    return [rng.normal(size=o.shape).astype(np.float32) for o in out]
