"""nn.MultiHeadAttention and the Transformer layers against NumPy references that read
the layers' parameter trees (set to random values first)."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")
utils = backend_module("utils")

B, L, S, D, HEADS = 2, 4, 5, 8, 2


def randomize(model, rng, scale=0.5):
    """Sets every parameter to N(0, scale^2) values; returns the tree as float64 NumPy."""
    model.update(utils.tree_map(lambda a: mx.array((rng.normal(size=a.shape) * scale).astype(np.float32)),
                                model.parameters()))  # fmt: skip
    return utils.tree_map(lambda a: to_numpy(a).astype(np.float64), model.parameters())


def normal(rng, *shape):
    return rng.normal(size=shape).astype(np.float32)


# ---- NumPy reference -------------------------------------------------------------------


def linear(p, x):
    return x @ p["weight"].T + p.get("bias", 0)


def layer_norm(p, x, eps=1e-5):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def attention(p, q, k, v, mask, heads):
    def split(a):
        return a.reshape(a.shape[0], a.shape[1], heads, -1).transpose(0, 2, 1, 3)

    q, k, v = (
        split(linear(p["query_proj"], q)),
        split(linear(p["key_proj"], k)),
        split(linear(p["value_proj"], v)),
    )
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if mask is not None and mask.dtype == bool:
        scores = np.where(mask, scores, -np.inf)
    elif mask is not None:
        scores = scores + mask
    out = (softmax(scores) @ v).transpose(0, 2, 1, 3)
    return linear(p["out_proj"], out.reshape(out.shape[0], out.shape[1], -1))


def relu(x):
    return np.maximum(x, 0)


def mlp(p, x, act):
    return linear(p["linear2"], act(linear(p["linear1"], x)))


def encoder_layer(p, x, mask, norm_first, act=relu):
    if norm_first:
        y = layer_norm(p["ln1"], x)
        x = x + attention(p["attention"], y, y, y, mask, HEADS)
        return x + mlp(p, layer_norm(p["ln2"], x), act)
    x = layer_norm(p["ln1"], x + attention(p["attention"], x, x, x, mask, HEADS))
    return layer_norm(p["ln2"], x + mlp(p, x, act))


def decoder_layer(p, x, memory, x_mask, memory_mask, norm_first, act=relu):
    if norm_first:
        y = layer_norm(p["ln1"], x)
        x = x + attention(p["self_attention"], y, y, y, x_mask, HEADS)
        y = layer_norm(p["ln2"], x)
        x = x + attention(p["cross_attention"], y, memory, memory, memory_mask, HEADS)
        return x + mlp(p, layer_norm(p["ln3"], x), act)
    x = layer_norm(p["ln1"], x + attention(p["self_attention"], x, x, x, x_mask, HEADS))
    x = layer_norm(p["ln2"], x + attention(p["cross_attention"], x, memory, memory, memory_mask, HEADS))
    return layer_norm(p["ln3"], x + mlp(p, x, act))


def encoder(p, x, mask, norm_first):
    for layer in p["layers"]:
        x = encoder_layer(layer, x, mask, norm_first)
    return layer_norm(p["ln"], x)


def decoder(p, x, memory, x_mask, memory_mask, norm_first):
    for layer in p["layers"]:
        x = decoder_layer(layer, x, memory, x_mask, memory_mask, norm_first)
    return layer_norm(p["ln"], x)


def close(got, expected, tol=1e-5):
    np.testing.assert_allclose(to_numpy(got), expected, rtol=tol, atol=tol)


# ---- MultiHeadAttention ----------------------------------------------------------------


def test_attention_parameters():
    shapes = {k: v.shape for k, v in utils.tree_flatten(nn.MultiHeadAttention(D, HEADS).parameters())}
    assert shapes == {f"{n}_proj.weight": (D, D) for n in ("query", "key", "value", "out")}
    layer = nn.MultiHeadAttention(
        D, HEADS, query_input_dims=3, key_input_dims=4, value_dims=6, value_output_dims=5, bias=True
    )
    shapes = {k: v.shape for k, v in utils.tree_flatten(layer.parameters())}
    assert shapes == {
        "query_proj.weight": (D, 3), "query_proj.bias": (D,),
        "key_proj.weight": (D, 4), "key_proj.bias": (D,),
        # value_input_dims defaults to key_input_dims.
        "value_proj.weight": (6, 4), "value_proj.bias": (6,),
        "out_proj.weight": (5, 6), "out_proj.bias": (5,),
    }  # fmt: skip


@pytest.mark.parametrize("bias", [False, True])
def test_attention_matches_numpy(bias, rng):
    layer = nn.MultiHeadAttention(D, HEADS, bias=bias)
    p = randomize(layer, rng)
    q, k, v = normal(rng, B, L, D), normal(rng, B, S, D), normal(rng, B, S, D)
    y = layer(mx.array(q), mx.array(k), mx.array(v))
    assert y.shape == (B, L, D)
    close(y, attention(p, q, k, v, None, HEADS))


def test_attention_with_different_input_and_value_dims(rng):
    layer = nn.MultiHeadAttention(
        6,
        3,
        query_input_dims=4,
        key_input_dims=5,
        value_input_dims=7,
        value_dims=9,
        value_output_dims=2,
        bias=True,
    )
    p = randomize(layer, rng)
    q, k, v = normal(rng, B, L, 4), normal(rng, B, S, 5), normal(rng, B, S, 7)
    y = layer(mx.array(q), mx.array(k), mx.array(v))
    assert y.shape == (B, L, 2)
    close(y, attention(p, q, k, v, None, 3))


def test_attention_masks(rng):
    layer = nn.MultiHeadAttention(D, HEADS)
    p = randomize(layer, rng)
    q, k, v = normal(rng, B, L, D), normal(rng, B, S, D), normal(rng, B, S, D)
    additive = normal(rng, L, S)
    close(
        layer(mx.array(q), mx.array(k), mx.array(v), mx.array(additive)),
        attention(p, q, k, v, additive, HEADS),
    )
    per_head = normal(rng, B, HEADS, L, S)
    close(
        layer(mx.array(q), mx.array(k), mx.array(v), mx.array(per_head)),
        attention(p, q, k, v, per_head, HEADS),
    )
    boolean = rng.random((B, 1, L, S)) > 0.4
    boolean[..., 0] = True  # every query sees at least one key
    close(
        layer(mx.array(q), mx.array(k), mx.array(v), mx.array(boolean)), attention(p, q, k, v, boolean, HEADS)
    )
    causal = nn.MultiHeadAttention.create_additive_causal_mask(L)
    x = normal(rng, B, L, D)
    close(
        layer(mx.array(x), mx.array(x), mx.array(x), causal),
        attention(p, x, x, x, np.triu(np.full((L, L), -1e30), 1), HEADS),
    )
    # "causal" aligns the last query with the last key.
    allowed = np.arange(L)[:, None] + (S - L) >= np.arange(S)[None, :]
    close(layer(mx.array(q), mx.array(k), mx.array(v), "causal"), attention(p, q, k, v, allowed, HEADS))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_additive_causal_mask(dtype):
    dt = getattr(mx, dtype)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(4, dt)
    assert mask.shape == (4, 4) and mask.dtype == dt
    lowest = float(mx.finfo(dt).min)
    expected = np.where(np.arange(4)[:, None] < np.arange(4)[None, :], lowest, 0.0)
    np.testing.assert_array_equal(to_numpy(mask.astype(mx.float32)), expected.astype(np.float32))


def test_attention_in_half_precision(rng):
    layer = nn.MultiHeadAttention(D, HEADS)
    p = randomize(layer, rng)
    layer.set_dtype(mx.float16)
    x = normal(rng, B, L, D)
    xh = mx.array(x).astype(mx.float16)
    y = layer(xh, xh, xh)
    assert y.dtype == mx.float16
    close(y, attention(p, x, x, x, None, HEADS), tol=3e-2)


def test_attention_gradients(rng):
    layer = nn.MultiHeadAttention(D, HEADS, bias=True)
    randomize(layer, rng)
    x = mx.array(normal(rng, B, L, D))
    loss_and_grad = nn.value_and_grad(layer, lambda a: mx.sum(layer(a, a, a) ** 2))
    _, grads = loss_and_grad(x)
    flat = dict(utils.tree_flatten(grads))
    assert {k: v.shape for k, v in flat.items()} == {
        k: v.shape for k, v in utils.tree_flatten(layer.parameters())
    }
    assert all(float(mx.abs(g).sum()) > 0 for g in flat.values())


def test_attention_rejects_bad_arguments():
    with pytest.raises(ValueError):
        nn.MultiHeadAttention(8, 3)
    layer = nn.MultiHeadAttention(D, HEADS)
    with pytest.raises(ValueError):
        layer(mx.zeros((B, L, D + 1)), mx.zeros((B, S, D)), mx.zeros((B, S, D)))
    with pytest.raises(ValueError):
        layer(mx.zeros((B, L, D)), mx.zeros((B, S, D)), mx.zeros((B, S + 1, D)))


# ---- Transformer layers ------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_matches_numpy(norm_first, rng):
    layer = nn.TransformerEncoderLayer(D, HEADS, norm_first=norm_first)
    p = randomize(layer, rng)
    assert p["linear1"]["weight"].shape == (4 * D, D)
    x = normal(rng, B, L, D)
    mask = to_numpy(nn.MultiHeadAttention.create_additive_causal_mask(L))
    close(layer(mx.array(x), mx.array(mask)), encoder_layer(p, x, mask, norm_first))


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_matches_numpy(norm_first, rng):
    layer = nn.TransformerDecoderLayer(D, HEADS, mlp_dims=12, norm_first=norm_first)
    p = randomize(layer, rng)
    assert p["linear1"]["weight"].shape == (12, D)
    x, memory, memory_mask = normal(rng, B, L, D), normal(rng, B, S, D), normal(rng, L, S)
    mask = to_numpy(nn.MultiHeadAttention.create_additive_causal_mask(L))
    y = layer(mx.array(x), mx.array(memory), mx.array(mask), mx.array(memory_mask))
    close(y, decoder_layer(p, x, memory, mask, memory_mask, norm_first))


def test_layer_with_custom_activation(rng):
    layer = nn.TransformerEncoderLayer(D, HEADS, activation=mx.tanh)
    p = randomize(layer, rng)
    x = normal(rng, B, L, D)
    close(layer(mx.array(x), None), encoder_layer(p, x, None, True, act=np.tanh))


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_and_decoder_stacks_match_numpy(norm_first, rng):
    enc = nn.TransformerEncoder(2, D, HEADS, norm_first=norm_first)
    dec = nn.TransformerDecoder(2, D, HEADS, norm_first=norm_first)
    pe, pd = randomize(enc, rng), randomize(dec, rng)
    assert len(pe["layers"]) == 2 and set(pe) == {"layers", "ln"}
    x, memory = normal(rng, B, L, D), normal(rng, B, S, D)
    mask = to_numpy(nn.MultiHeadAttention.create_additive_causal_mask(L))
    close(enc(mx.array(x), mx.array(mask)), encoder(pe, x, mask, norm_first))
    close(
        dec(mx.array(x), mx.array(memory), mx.array(mask), None),
        decoder(pd, x, memory, mask, None, norm_first),
    )


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_matches_numpy(norm_first, rng):
    model = nn.Transformer(
        D, HEADS, num_encoder_layers=2, num_decoder_layers=1, mlp_dims=12, norm_first=norm_first
    )
    p = randomize(model, rng)
    assert len(p["encoder"]["layers"]) == 2 and len(p["decoder"]["layers"]) == 1
    src, tgt = normal(rng, B, S, D), normal(rng, B, L, D)
    src_mask, memory_mask = normal(rng, S, S), normal(rng, L, S)
    tgt_mask = to_numpy(nn.MultiHeadAttention.create_additive_causal_mask(L))
    y = model(mx.array(src), mx.array(tgt), mx.array(src_mask), mx.array(tgt_mask), mx.array(memory_mask))
    memory = encoder(p["encoder"], src, src_mask, norm_first)
    close(y, decoder(p["decoder"], tgt, memory, tgt_mask, memory_mask, norm_first))


def test_transformer_default_sizes():
    model = nn.Transformer()
    flat = dict(utils.tree_flatten(model.parameters()))
    assert sum(k.endswith("attention.query_proj.weight") for k in flat) == 6 + 2 * 6
    assert flat["encoder.layers.5.linear1.weight"].shape == (2048, 512)


def test_transformer_custom_encoder_and_decoder(rng):
    class FirstArgument(nn.Module):
        def __call__(self, x, *masks):
            return x

    model = nn.Transformer(D, HEADS, 1, 1, custom_encoder=FirstArgument())
    assert isinstance(model.encoder, FirstArgument)
    p = randomize(model, rng)
    src, tgt = normal(rng, B, S, D), normal(rng, B, L, D)
    y = model(mx.array(src), mx.array(tgt), None, None, None)
    close(y, decoder(p["decoder"], tgt, src, None, None, True))
    model = nn.Transformer(D, HEADS, 1, 1, custom_decoder=FirstArgument())
    assert isinstance(model.decoder, FirstArgument)
    close(model(mx.array(src), mx.array(tgt), None, None, None), tgt)


def test_dropout_only_in_training(rng):
    layer = nn.TransformerEncoderLayer(D, HEADS, dropout=0.5)
    p = randomize(layer, rng)
    x = normal(rng, B, L, D)
    layer.eval()
    close(layer(mx.array(x), None), encoder_layer(p, x, None, True))
    layer.train()
    trained = to_numpy(layer(mx.array(x), None))
    assert not np.allclose(trained, encoder_layer(p, x, None, True), atol=1e-3)


def test_checkpointed_stack_has_the_same_values_and_gradients(rng):
    plain = nn.TransformerEncoder(2, D, HEADS)
    checkpointed = nn.TransformerEncoder(2, D, HEADS, checkpoint=True)
    randomize(plain, rng)
    checkpointed.update(plain.parameters())
    x = mx.array(normal(rng, B, L, D))
    mask = nn.MultiHeadAttention.create_additive_causal_mask(L)
    results = []
    for model in (plain, checkpointed):
        loss, grads = nn.value_and_grad(model, lambda a, model=model: mx.sum(model(a, mask) ** 2))(x)
        results.append((float(loss), dict(utils.tree_flatten(grads))))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    assert results[0][1].keys() == results[1][1].keys()
    for key, g in results[0][1].items():
        np.testing.assert_allclose(to_numpy(results[1][1][key]), to_numpy(g), rtol=1e-4, atol=1e-5)


def test_transformer_gradients_reach_every_parameter(rng):
    model = nn.Transformer(D, HEADS, 1, 1, mlp_dims=16)
    randomize(model, rng)
    src, tgt = mx.array(normal(rng, B, S, D)), mx.array(normal(rng, B, L, D))
    mask = nn.MultiHeadAttention.create_additive_causal_mask(L)
    _, grads = nn.value_and_grad(model, lambda s, t: mx.sum(model(s, t, None, mask, None) ** 2))(src, tgt)
    flat = dict(utils.tree_flatten(grads))
    assert {k: v.shape for k, v in flat.items()} == {
        k: v.shape for k, v in utils.tree_flatten(model.parameters())
    }
    assert all(float(mx.abs(g).sum()) > 0 for g in flat.values())
