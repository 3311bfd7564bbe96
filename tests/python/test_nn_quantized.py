"""QuantizedLinear, QuantizedEmbedding and nn.quantize: outputs against a dequantize + NumPy
reference, parameter trees and freezing as MLX's, weights saved by MLX loading unchanged,
and bad input."""

import importlib

import numpy as np
import pytest
from conftest import BACKEND, backend_module, mx, to_numpy

nn = backend_module("nn")
tree_flatten = backend_module("utils").tree_flatten

CONFIGS = [(32, 2), (32, 8), (64, 3), (64, 4), (128, 6), (64, 5)]


def linear_with_weights(rng, input_dims, output_dims, bias=True, dtype=mx.float32):
    layer = nn.Linear(input_dims, output_dims, bias=bias)
    layer.weight = mx.array(rng.standard_normal((output_dims, input_dims)).astype(np.float32)).astype(dtype)
    if bias:
        layer.bias = mx.array(rng.standard_normal(output_dims).astype(np.float32)).astype(dtype)
    return layer


def dequantized(layer):
    """The layer's matrix unpacked by mx.dequantize, as float32 NumPy."""
    w = mx.dequantize(
        layer.weight,
        layer.scales,
        layer.biases,
        group_size=layer.group_size,
        bits=layer.bits,
        mode=layer.mode,
    )
    return to_numpy(w.astype(mx.float32))


def shapes_and_dtypes(module):
    return {
        name: (tuple(p.shape), str(p.dtype).split(".")[-1]) for name, p in tree_flatten(module.parameters())
    }


# ----- QuantizedLinear -----------------------------------------------------------------------


@pytest.mark.parametrize("group_size,bits", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
def test_quantized_linear_matches_dequantized_matmul(rng, group_size, bits, bias):
    linear = linear_with_weights(rng, 128, 24, bias=bias)
    q = nn.QuantizedLinear.from_linear(linear, group_size=group_size, bits=bits)
    assert (q.group_size, q.bits, q.mode) == (group_size, bits, "affine")
    w = dequantized(q)
    # The quantized matrix is this layer's: within a quantization step of each entry.
    step = np.abs(to_numpy(linear.weight)).max() * 2 / (2**bits - 1)
    assert np.abs(w - to_numpy(linear.weight)).max() <= step
    x = rng.standard_normal((3, 5, 128)).astype(np.float32)
    expected = x @ w.T + (to_numpy(linear.bias) if bias else 0)
    y = q(mx.array(x))
    assert y.shape == (3, 5, 24) and y.dtype == mx.float32
    np.testing.assert_allclose(to_numpy(y), expected, rtol=1e-4, atol=1e-4)


def test_quantized_linear_defaults_and_half_precision(rng):
    q = nn.QuantizedLinear.from_linear(linear_with_weights(rng, 64, 16, dtype=mx.float16))
    assert (q.group_size, q.bits, q.mode) == (64, 4, "affine")
    assert q.scales.dtype == mx.float16 and q.biases.dtype == mx.float16 and q.bias.dtype == mx.float16
    x = rng.standard_normal((4, 64)).astype(np.float16)
    y = q(mx.array(x))
    assert y.dtype == mx.float16
    expected = x.astype(np.float32) @ dequantized(q).T + to_numpy(q.bias).astype(np.float32)
    np.testing.assert_allclose(to_numpy(y).astype(np.float32), expected, rtol=2e-2, atol=5e-2)


def test_quantized_linear_constructor_builds_a_frozen_layer():
    q = nn.QuantizedLinear(128, 16, group_size=32, bits=8)
    assert shapes_and_dtypes(q) == {
        "weight": ((16, 32), "uint32"),
        "scales": ((16, 4), "float32"),
        "biases": ((16, 4), "float32"),
        "bias": ((16,), "float32"),
    }
    np.testing.assert_array_equal(to_numpy(q.bias), np.zeros(16, np.float32))
    assert tree_flatten(q.trainable_parameters()) == []
    assert "bias" not in nn.QuantizedLinear(64, 8, bias=False)
    assert (
        repr(q)
        == "QuantizedLinear(input_dims=128, output_dims=16, bias=True, group_size=32, bits=8, mode=affine)"
    )
    # The random matrix is spread like Linear's, U(-1/sqrt(in), 1/sqrt(in)).
    w = dequantized(q)
    assert np.abs(w).max() <= 1.01 / np.sqrt(128) and w.std() > 0.2 / np.sqrt(128)


def test_quantized_linear_gradient_reaches_the_input(rng):
    q = nn.QuantizedLinear.from_linear(linear_with_weights(rng, 64, 8), bits=8)
    x = mx.array(rng.standard_normal((2, 64)).astype(np.float32))
    g = mx.grad(lambda x: (q(x) * mx.arange(8, dtype=mx.float32)).sum())(x)
    expected = np.tile(np.arange(8, dtype=np.float32) @ dequantized(q), (2, 1))
    np.testing.assert_allclose(to_numpy(g), expected, rtol=1e-4, atol=1e-4)


# ----- QuantizedEmbedding ----------------------------------------------------------------------


@pytest.mark.parametrize("group_size,bits", CONFIGS)
def test_quantized_embedding_lookup_and_as_linear(rng, group_size, bits):
    emb = nn.Embedding(50, 128)
    emb.weight = mx.array(rng.standard_normal((50, 128)).astype(np.float32))
    q = nn.QuantizedEmbedding.from_embedding(emb, group_size=group_size, bits=bits)
    table = dequantized(q)
    step = np.abs(to_numpy(emb.weight)).max() * 2 / (2**bits - 1)
    assert np.abs(table - to_numpy(emb.weight)).max() <= step
    idx = rng.integers(0, 50, (3, 7))
    np.testing.assert_allclose(to_numpy(q(mx.array(idx))), table[idx], rtol=1e-6, atol=1e-6)
    h = rng.standard_normal((2, 128)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(q.as_linear(mx.array(h))), h @ table.T, rtol=1e-4, atol=1e-4)


def test_quantized_embedding_constructor():
    q = nn.QuantizedEmbedding(100, 64)
    assert shapes_and_dtypes(q) == {
        "weight": ((100, 8), "uint32"),
        "scales": ((100, 1), "float32"),
        "biases": ((100, 1), "float32"),
    }
    assert tree_flatten(q.trainable_parameters()) == []
    assert repr(q) == "QuantizedEmbedding(100, 64, group_size=64, bits=4, mode=affine)"
    assert q(mx.array([3, 99])).shape == (2, 64)


def test_to_quantized_on_linear_and_embedding(rng):
    ql = linear_with_weights(rng, 64, 8).to_quantized(group_size=32, bits=8)
    qe = nn.Embedding(10, 64).to_quantized(bits=2)
    assert isinstance(ql, nn.QuantizedLinear) and (ql.group_size, ql.bits) == (32, 8)
    assert isinstance(qe, nn.QuantizedEmbedding) and (qe.group_size, qe.bits) == (64, 2)


# ----- nn.quantize ---------------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 64)
        self.blocks = [nn.Linear(64, 128), nn.Linear(128, 64, bias=False)]
        self.norm = nn.LayerNorm(64)
        self.head = {"out": nn.Linear(64, 20)}

    def __call__(self, x):
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return self.head["out"](self.norm(h))


def test_quantize_defaults_replace_linear_and_embedding(rng):
    model = Net()
    x = mx.array(rng.integers(0, 20, (2, 5)))
    nn.quantize(model, bits=8)
    assert isinstance(model.embed, nn.QuantizedEmbedding)
    assert all(isinstance(b, nn.QuantizedLinear) for b in model.blocks)
    assert isinstance(model.head["out"], nn.QuantizedLinear) and isinstance(model.norm, nn.LayerNorm)
    assert "bias" not in model.blocks[1]
    assert all(m.bits == 8 and m.group_size == 64 for m in (model.embed, model.blocks[0]))
    # The quantized matrices are frozen; the Linear biases and the LayerNorm stay trainable.
    assert sorted(n for n, _ in tree_flatten(model.trainable_parameters())) == [
        "blocks.0.bias",
        "head.out.bias",
        "norm.bias",
        "norm.weight",
    ]
    assert model(x).shape == (2, 5, 20)


def test_quantize_class_predicate_paths_bools_and_dicts():
    model = Net()
    seen = []

    def predicate(path, module):
        seen.append((path, type(module).__name__))
        if path == "blocks.0":
            return {"group_size": 32, "bits": 2}
        return isinstance(module, nn.Linear)

    nn.quantize(model, group_size=64, bits=3, class_predicate=predicate)
    assert sorted(seen) == [
        ("blocks.0", "Linear"),
        ("blocks.1", "Linear"),
        ("embed", "Embedding"),
        ("head.out", "Linear"),
        ("norm", "LayerNorm"),
    ]
    assert isinstance(model.embed, nn.Embedding)
    assert (model.blocks[0].group_size, model.blocks[0].bits) == (32, 2)
    assert (model.blocks[1].group_size, model.blocks[1].bits) == (64, 3)
    assert (model.head["out"].group_size, model.head["out"].bits) == (64, 3)


def test_quantize_reaches_custom_modules_with_to_quantized():
    class Doubled(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = mx.ones((2,))

        def to_quantized(self, group_size=None, bits=None, mode="affine", quantize_input=False):
            replacement = nn.Identity()
            replacement.seen = (group_size, bits, mode)
            return replacement

    model = nn.Sequential(Doubled(), nn.ReLU())
    nn.quantize(model, group_size=32, bits=2)
    assert isinstance(model.layers[0], nn.Identity) and model.layers[0].seen == (
        32,
        2,
        "affine",
    )


def test_quantize_bad_predicates():
    with pytest.raises(ValueError):
        nn.quantize(Net(), class_predicate=lambda p, m: "yes")
    with pytest.raises(ValueError):
        nn.quantize(Net(), class_predicate=lambda p, m: True)  # LayerNorm cannot be quantized
    with pytest.raises(TypeError):
        nn.quantize(Net(), class_predicate=lambda p, m: {"bits": 8, "colour": 1})


# ----- bad input ----------------------------------------------------------------------------------


def test_bad_configurations_raise():
    for kwargs in ({"bits": 7}, {"group_size": 16}, {"mode": "no-such-mode"}):
        with pytest.raises(ValueError):
            nn.QuantizedLinear(128, 8, **kwargs)
        with pytest.raises(ValueError):
            nn.QuantizedEmbedding(10, 128, **kwargs)
    with pytest.raises(ValueError):
        nn.QuantizedLinear(60, 8)  # 60 is not a multiple of the group size
    with pytest.raises(ValueError):
        nn.Linear(64, 8).to_quantized(quantize_input=True)
    with pytest.raises(ValueError):
        nn.quantize(Net(), group_size=32, bits=3, quantize_input=True)


def test_bad_inputs_raise():
    q = nn.QuantizedLinear(64, 8)
    with pytest.raises(ValueError):
        q(mx.ones((2, 63)))
    e = nn.QuantizedEmbedding(10, 64)
    with pytest.raises(ValueError):
        e(mx.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        e.as_linear(mx.ones((2, 32)))


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's error messages")
def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"\[QuantizedLinear\]"):
        nn.QuantizedLinear(64, 8)(mx.ones((2, 63)))
    with pytest.raises(ValueError, match=r"\[QuantizedEmbedding\]"):
        nn.QuantizedEmbedding(10, 64)(mx.array([1.0]))
    with pytest.raises(ValueError, match=r"\[QuantizedLinear\].*mode"):
        nn.QuantizedLinear(64, 8, mode="no-such-mode")
    with pytest.raises(ValueError, match=r"\[quantize\]"):
        nn.quantize(Net(), class_predicate=lambda p, m: 3.5)
    with pytest.raises(ValueError, match=r"\[QQLinear\].*'nvfp4' and 'mxfp8'"):
        nn.QQLinear(64, 8, mode="mxfp4")
    with pytest.raises(ValueError, match=r"\[QQLinear\].*bias"):
        nn.QQLinear.from_linear(nn.Linear(64, 8))
    with pytest.raises(ValueError, match=r"\[Embedding\]"):
        nn.Embedding(10, 64).to_quantized(quantize_input=True)


# ----- agreement with MLX --------------------------------------------------------------------------


@pytest.fixture
def mlx_nn():
    pytest.importorskip("mlx.core")
    return importlib.import_module("mlx.nn")


@pytest.mark.parametrize("group_size,bits", [(32, 4), (64, 8), (128, 3), (64, 6)])
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_trees_match_mlx(mlx_nn, group_size, bits, bias):
    mine = nn.QuantizedLinear(128, 40, bias=bias, group_size=group_size, bits=bits)
    theirs = mlx_nn.QuantizedLinear(128, 40, bias=bias, group_size=group_size, bits=bits)
    assert shapes_and_dtypes(mine) == shapes_and_dtypes(theirs)
    assert repr(mine) == repr(theirs)
    assert list(mine.parameters()) == list(theirs.parameters())  # same key order
    # from_linear freezes the quantized matrix only.
    for bias_of_source in (True, False):
        a = nn.QuantizedLinear.from_linear(nn.Linear(64, 8, bias=bias_of_source))
        b = mlx_nn.QuantizedLinear.from_linear(mlx_nn.Linear(64, 8, bias=bias_of_source))
        assert list(a.trainable_parameters()) == list(b.trainable_parameters())
    mine_e = nn.QuantizedEmbedding(30, 128, group_size=group_size, bits=bits)
    theirs_e = mlx_nn.QuantizedEmbedding(30, 128, group_size=group_size, bits=bits)
    assert shapes_and_dtypes(mine_e) == shapes_and_dtypes(theirs_e) and repr(mine_e) == repr(theirs_e)
    # Freezing: nothing trainable, everything after unfreeze.
    for a, b in ((mine, theirs), (mine_e, theirs_e)):
        assert tree_flatten(a.trainable_parameters()) == tree_flatten(b.trainable_parameters()) == []
        assert sorted(k for k, _ in tree_flatten(a.unfreeze().trainable_parameters())) == sorted(
            k for k, _ in tree_flatten(b.unfreeze().trainable_parameters())
        )


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_weights_saved_by_mlx_load_and_give_mlx_outputs(mlx_nn, rng, tmp_path, suffix):
    import mlx.core as mlx_mx

    source = mlx_nn.Linear(128, 32)
    source.set_dtype(mlx_mx.float16)
    theirs = mlx_nn.QuantizedLinear.from_linear(source, group_size=32, bits=4)
    theirs_e = mlx_nn.QuantizedEmbedding(40, 128, group_size=64, bits=8)
    path = tmp_path / f"linear{suffix}"
    path_e = tmp_path / f"embedding{suffix}"
    theirs.save_weights(str(path))
    theirs_e.save_weights(str(path_e))

    mine = nn.QuantizedLinear(128, 32, group_size=32, bits=4)
    mine.load_weights(str(path))
    mine_e = nn.QuantizedEmbedding(40, 128, group_size=64, bits=8)
    mine_e.load_weights(str(path_e))
    assert shapes_and_dtypes(mine) == shapes_and_dtypes(theirs)
    assert tree_flatten(mine.trainable_parameters()) == []

    x = rng.standard_normal((3, 128)).astype(np.float16)
    expected = np.array(theirs(mlx_mx.array(x))).astype(np.float32)
    np.testing.assert_allclose(to_numpy(mine(mx.array(x))).astype(np.float32), expected, rtol=1e-2, atol=2e-2)
    idx = rng.integers(0, 40, (2, 6))
    np.testing.assert_array_equal(to_numpy(mine_e(mx.array(idx))), np.array(theirs_e(mlx_mx.array(idx))))


def test_quantize_matches_mlx_quantize(mlx_nn, rng):
    """nn.quantize on the same float weights gives MLX's packed weights bit for bit."""
    import mlx.core as mlx_mx

    w = rng.standard_normal((16, 64)).astype(np.float32)
    mine, theirs = (
        nn.Sequential(nn.Linear(64, 16)),
        mlx_nn.Sequential(mlx_nn.Linear(64, 16)),
    )
    mine.layers[0].weight, theirs.layers[0].weight = mx.array(w), mlx_mx.array(w)
    nn.quantize(mine, group_size=32, bits=5)
    mlx_nn.quantize(theirs, group_size=32, bits=5)
    for (name, a), (_, b) in zip(tree_flatten(mine.parameters()), tree_flatten(theirs.parameters())):
        if name.endswith("weight"):
            np.testing.assert_array_equal(to_numpy(a), np.array(b), err_msg=name)


@pytest.mark.parametrize("mode", ["mxfp4", "mxfp8", "nvfp4"])
def test_fp_mode_layers_match_mlx(mlx_nn, rng, mode):
    """The floating-point modes: the same packed weights, scales and outputs as MLX's layers."""
    import mlx.core as mlx_mx

    w = rng.standard_normal((16, 64)).astype(np.float32)
    b = rng.standard_normal((16,)).astype(np.float32)
    mine, theirs = nn.Linear(64, 16), mlx_nn.Linear(64, 16)
    mine.weight, theirs.weight = mx.array(w), mlx_mx.array(w)
    mine.bias, theirs.bias = mx.array(b), mlx_mx.array(b)
    qm, qt = nn.QuantizedLinear.from_linear(mine, mode=mode), mlx_nn.QuantizedLinear.from_linear(theirs, mode=mode)
    assert shapes_and_dtypes(qm) == shapes_and_dtypes(qt)
    np.testing.assert_array_equal(np.array(qm.scales), np.array(qt.scales))
    x = rng.standard_normal((3, 64)).astype(np.float32)
    np.testing.assert_allclose(np.array(qm(mx.array(x))), np.array(qt(mlx_mx.array(x))), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX's CPU build runs qqmm only for one row of x")
@pytest.mark.parametrize("mode", ["nvfp4", "mxfp8"])
def test_qqlinear_trains_in_float_and_evaluates_quantized(rng, mode):
    w = rng.standard_normal((8, 64)).astype(np.float32)
    linear = nn.Linear(64, 8, bias=False)
    linear.weight = mx.array(w)
    layer = linear.to_quantized(mode=mode, quantize_input=True)
    assert isinstance(layer, nn.QQLinear) and layer.training and layer.weight.dtype == mx.float32
    x = mx.array(rng.standard_normal((2, 5, 64)).astype(np.float32))
    y_train = layer(x)
    assert y_train.shape == (2, 5, 8)
    # Training mode: the weight takes gradients, straight through the rounding.
    grads = nn.value_and_grad(layer, lambda m, x: m(x).sum())(layer, x)[1]
    assert grads["weight"].shape == (8, 64) and np.abs(np.array(grads["weight"])).sum() > 0
    layer.eval()
    assert layer.weight.dtype == mx.uint32 and "scales" in layer
    np.testing.assert_allclose(np.array(layer(x)), np.array(y_train), rtol=1e-5, atol=1e-5)
    assert "input_dims=64" in repr(layer)
    layer.train()  # decoded as mx.dequantize decodes (bfloat16 by default, as in MLX)
    assert mx.issubdtype(layer.weight.dtype, mx.floating) and "scales" not in layer
    model = nn.Sequential(nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 8, bias=False))
    nn.quantize(model, mode=mode, quantize_input=True)
    assert isinstance(model.layers[0], nn.QQLinear) and model(x).shape == (2, 5, 8)
