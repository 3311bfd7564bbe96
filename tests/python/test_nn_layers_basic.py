"""Basic layers (Identity, Linear, Bilinear, Sequential, Embedding, dropout, normalisation)
against NumPy references, plus shapes, modes, gradients and bad input."""

import importlib
import math

import numpy as np
import pytest
from conftest import BACKEND, backend_module, mx, to_numpy

nn = backend_module("nn")
tree_flatten = backend_module("utils").tree_flatten


def arr(x, dtype=None):
    return mx.array(x) if dtype is None else mx.array(x, dtype=dtype)


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def set_params(layer, rng):
    """Gives every parameter of ``layer`` known random values; returns them as NumPy."""
    values = {}
    for name, p in tree_flatten(layer.parameters()):
        values[name] = randn(rng, *p.shape)
    layer.update({k: arr(v) for k, v in values.items()})
    return values


def close(actual, expected, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(to_numpy(actual), expected, rtol=rtol, atol=atol)


def grads_match_parameters(layer, loss_fn, *inputs):
    """nn.value_and_grad gives finite gradients shaped like the trainable parameters."""
    loss, grads = nn.value_and_grad(layer, loss_fn)(*inputs)
    expected = tree_flatten(layer.trainable_parameters())
    got = tree_flatten(grads)
    assert [k for k, _ in got] == [k for k, _ in expected]
    for (name, g), (_, p) in zip(got, expected):
        assert g.shape == p.shape, name
        assert np.all(np.isfinite(to_numpy(g))), name
    return loss, grads


# ----- Identity, Linear, Bilinear ---------------------------------------------------------


def test_identity_returns_its_input():
    x = mx.ones((2, 3))
    assert nn.Identity(4, name="ignored")(x) is x
    assert nn.Identity().parameters() == {}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)])
def test_linear_matches_numpy(rng, bias, shape):
    layer = nn.Linear(5, 3, bias=bias)
    assert set(layer.parameters()) == ({"weight", "bias"} if bias else {"weight"})
    assert layer.weight.shape == (3, 5)
    p = set_params(layer, rng)
    x = randn(rng, *shape)
    expected = x @ p["weight"].T + (p["bias"] if bias else 0)
    y = layer(arr(x))
    assert y.shape == shape[:-1] + (3,)
    close(y, expected)


def test_linear_initialisation_is_bounded_by_one_over_sqrt_fan_in():
    layer = nn.Linear(16, 64)
    bound = 1 / math.sqrt(16)
    for p in (layer.weight, layer.bias):
        values = to_numpy(p)
        assert np.all(np.abs(values) <= bound) and values.std() > bound / 4
    assert layer.weight.dtype == mx.float32


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_numpy(rng, bias):
    layer = nn.Bilinear(4, 3, 5, bias=bias)
    assert layer.weight.shape == (5, 3, 4)
    p = set_params(layer, rng)
    x1, x2 = randn(rng, 2, 6, 4), randn(rng, 2, 6, 3)
    expected = np.einsum("...k,ojk,...j->...o", x1, p["weight"], x2) + (p["bias"] if bias else 0)
    y = layer(arr(x1), arr(x2))
    assert y.shape == (2, 6, 5)
    close(y, expected, rtol=1e-4)
    close(layer(arr(x1[0, 0]), arr(x2[0, 0])), expected[0, 0], rtol=1e-4)  # unbatched


def test_bilinear_initialisation_bound_uses_input1_dims():
    layer = nn.Bilinear(9, 100, 4)
    assert np.all(np.abs(to_numpy(layer.weight)) <= 1 / 3) and np.all(np.abs(to_numpy(layer.bias)) <= 1 / 3)
    assert np.abs(to_numpy(layer.weight)).max() > 0.25


def test_linear_and_bilinear_reprs():
    assert repr(nn.Linear(2, 3)) == "Linear(input_dims=2, output_dims=3, bias=True)"
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(input_dims=2, output_dims=3, bias=False)"
    assert repr(nn.Bilinear(2, 3, 4)) == "Bilinear(input1_dims=2, input2_dims=3, output_dims=4, bias=True)"


def test_linear_and_bilinear_reject_mismatched_inputs():
    with pytest.raises(ValueError):
        nn.Linear(2, 3)(mx.ones((4, 5)))
    with pytest.raises(ValueError):
        nn.Bilinear(2, 3, 4)(mx.ones((5, 3)), mx.ones((5, 3)))
    with pytest.raises(ValueError):
        nn.Bilinear(2, 3, 4)(mx.ones((7, 5, 2)), mx.ones((5, 3)))


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX fails with ZeroDivisionError or a shape error instead")
def test_layers_reject_non_positive_sizes():
    for make in (
        lambda: nn.Linear(0, 3),
        lambda: nn.Linear(3, -1),
        lambda: nn.Bilinear(2, 0, 1),
        lambda: nn.Embedding(0, 4),
        lambda: nn.LayerNorm(0),
        lambda: nn.BatchNorm(-2),
    ):
        with pytest.raises(ValueError, match=r"^\["):
            make()
    with pytest.raises(TypeError, match="Linear"):
        nn.Linear(2, 2)([1.0, 2.0])


# ----- Sequential -------------------------------------------------------------------------


def test_sequential_applies_layers_in_order(rng):
    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    p1, p2 = set_params(first, rng), set_params(second, rng)
    model = nn.Sequential(first, lambda h: h * 2, second)
    x = randn(rng, 5, 3)
    expected = (2 * (x @ p1["weight"].T + p1["bias"])) @ p2["weight"].T + p2["bias"]
    close(model(arr(x)), expected)
    assert [k for k, _ in tree_flatten(model.parameters())] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    assert model.layers[0] is first
    assert "(layers.2): Linear(input_dims=4, output_dims=2, bias=True)" in repr(model)


def test_empty_sequential_is_identity():
    x = mx.ones((2,))
    assert nn.Sequential()(x) is x


# ----- Embedding -------------------------------------------------------------------------


def test_embedding_lookup_and_as_linear(rng):
    layer = nn.Embedding(10, 4)
    assert repr(layer) == "Embedding(10, 4)"
    p = set_params(layer, rng)
    idx = rng.integers(0, 10, (2, 3))
    out = layer(arr(idx, mx.int32))
    assert out.shape == (2, 3, 4)
    close(out, p["weight"][idx], rtol=0, atol=0)
    x = randn(rng, 5, 4)
    close(layer.as_linear(arr(x)), x @ p["weight"].T)


def test_embedding_initialisation_scale():
    weight = to_numpy(nn.Embedding(200, 16).weight)
    assert abs(weight.std() - 0.25) < 0.02 and abs(weight.mean()) < 0.02


def test_embedding_rejects_float_indices():
    with pytest.raises(ValueError):
        nn.Embedding(10, 4)(mx.array([1.0, 2.0]))


# ----- Dropout -------------------------------------------------------------------------------


def test_dropout_in_training_zeroes_and_rescales(rng):
    x = randn(rng, 200, 500)
    y = to_numpy(nn.Dropout(0.3)(arr(x)))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.01  # 100,000 draws


def test_dropout_is_identity_in_eval_mode_and_for_p_zero(rng):
    x = arr(randn(rng, 4, 5))
    layer = nn.Dropout(0.5)
    assert layer.eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


@pytest.mark.parametrize("p", [1, 1.5, -0.1])
def test_dropout_rejects_bad_probabilities(p):
    for layer in (nn.Dropout, nn.Dropout2d, nn.Dropout3d):
        with pytest.raises(ValueError):
            layer(p)


@pytest.mark.parametrize(
    "layer_type, shape",
    [
        ("Dropout2d", (3, 4, 5, 16)),
        ("Dropout2d", (4, 5, 16)),
        ("Dropout3d", (2, 3, 4, 5, 16)),
        ("Dropout3d", (3, 4, 5, 16)),
    ],
)
def test_channel_dropout_drops_whole_channels(rng, layer_type, shape):
    layer = getattr(nn, layer_type)(0.5)
    x = np.abs(randn(rng, *shape)) + 0.1  # never zero, so zeros come from the mask
    y = to_numpy(layer(arr(x)))
    spatial = (-3, -2) if layer_type == "Dropout2d" else (-4, -3, -2)
    kept = (y != 0).all(axis=spatial)
    dropped = (y == 0).all(axis=spatial)
    assert np.all(kept | dropped) and kept.any() and dropped.any()
    mask = np.expand_dims(kept, spatial)
    np.testing.assert_allclose(y, np.where(mask, x * 2, 0), rtol=1e-6)
    x_arr = arr(x)
    assert layer.eval()(x_arr) is x_arr


def test_channel_dropout_rejects_wrong_ranks():
    with pytest.raises(ValueError):
        nn.Dropout2d()(mx.ones((3, 3)))
    with pytest.raises(ValueError):
        nn.Dropout2d()(mx.ones((1, 2, 3, 3, 3)))
    with pytest.raises(ValueError):
        nn.Dropout3d()(mx.ones((3, 3, 3)))


def test_dropout_gradient_is_the_mask(rng):
    layer = nn.Dropout(0.4)

    def fn(x):
        y = layer(x)
        return y.sum(), y

    (_, y), grad = mx.value_and_grad(fn)(mx.ones((50,)))
    np.testing.assert_allclose(to_numpy(grad), to_numpy(y), rtol=1e-6)


# ----- normalisation: NumPy references -----------------------------------------------------


def np_standardize(x, axes, eps=1e-5):
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def np_group_norm(x, groups, pytorch_compatible, eps=1e-5):
    b, c = x.shape[0], x.shape[-1]
    if pytorch_compatible:
        return np_standardize(x.reshape(b, -1, groups, c // groups), (1, 3), eps).reshape(x.shape)
    return np_standardize(x.reshape(b, -1, groups), 1, eps).reshape(x.shape)


@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, True)])
def test_layer_norm(rng, affine, bias):
    layer = nn.LayerNorm(6, eps=1e-4, affine=affine, bias=bias)
    expected_params = {"weight", "bias"} if affine and bias else ({"weight"} if affine else set())
    assert set(layer.parameters()) == expected_params
    p = set_params(layer, rng)
    x = randn(rng, 3, 4, 6) * 3 + 1
    expected = np_standardize(x, -1, 1e-4) * p.get("weight", 1) + p.get("bias", 0)
    close(layer(arr(x)), expected, rtol=1e-4, atol=1e-5)


def test_layer_norm_defaults():
    layer = nn.LayerNorm(4)
    assert np.all(to_numpy(layer.weight) == 1) and np.all(to_numpy(layer.bias) == 0)
    assert repr(layer) == "LayerNorm(4, eps=1e-05, affine=True)"


def test_rms_norm(rng):
    layer = nn.RMSNorm(5, eps=1e-3)
    assert np.all(to_numpy(layer.weight) == 1)
    p = set_params(layer, rng)
    x = randn(rng, 2, 3, 5)
    expected = x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + 1e-3) * p["weight"]
    close(layer(arr(x)), expected, rtol=1e-4)


@pytest.mark.parametrize("pytorch_compatible", [False, True])
@pytest.mark.parametrize("shape", [(2, 12), (2, 5, 12), (2, 3, 4, 12)])
def test_group_norm(rng, pytorch_compatible, shape):
    layer = nn.GroupNorm(3, 12, pytorch_compatible=pytorch_compatible)
    p = set_params(layer, rng)
    x = randn(rng, *shape) * 2 - 1
    expected = np_group_norm(x, 3, pytorch_compatible) * p["weight"] + p["bias"]
    close(layer(arr(x)), expected, rtol=1e-4, atol=1e-5)
    plain = nn.GroupNorm(3, 12, affine=False, pytorch_compatible=pytorch_compatible)
    assert plain.parameters() == {}
    close(plain(arr(x)), np_group_norm(x, 3, pytorch_compatible), rtol=1e-4, atol=1e-5)


def test_group_norm_rejects_indivisible_features():
    with pytest.raises(ValueError):
        nn.GroupNorm(4, 6)


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm(rng, affine):
    layer = nn.InstanceNorm(3, affine=affine)
    assert set(layer.parameters()) == ({"weight", "bias"} if affine else set())
    p = set_params(layer, rng)
    x = randn(rng, 2, 4, 5, 3) * 3
    expected = np_standardize(x, (1, 2)) * p.get("weight", 1) + p.get("bias", 0)
    close(layer(arr(x)), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        layer(mx.ones((4, 3)))


def test_normalisation_of_half_precision_inputs(rng):
    x = randn(rng, 4, 8) * 4 + 2
    expected = np_standardize(x, -1)
    plain = nn.LayerNorm(8, affine=False)(arr(x, mx.float16))
    assert plain.dtype == mx.float16
    close(plain, expected, rtol=1e-2, atol=1e-2)
    affine = nn.LayerNorm(8)(arr(x, mx.float16))
    assert affine.dtype == mx.float32  # float32 parameters promote
    close(affine, expected, rtol=1e-2, atol=1e-2)
    assert nn.GroupNorm(2, 8, affine=False)(arr(x, mx.bfloat16)).dtype == mx.bfloat16


@pytest.mark.parametrize("layer", [nn.LayerNorm(4), nn.RMSNorm(4), nn.GroupNorm(2, 4), nn.BatchNorm(4)])
def test_normalisation_rejects_wrong_feature_count(layer):
    with pytest.raises(ValueError):
        layer(mx.ones((2, 3, 5)))


# ----- BatchNorm -----------------------------------------------------------------------------


def test_batch_norm_training_uses_batch_statistics_and_updates_running_ones(rng):
    layer = nn.BatchNorm(3, momentum=0.2)
    assert set(layer.parameters()) == {"weight", "bias", "running_mean", "running_var"}
    assert set(layer.trainable_parameters()) == {"weight", "bias"}
    weight, bias = randn(rng, 3), randn(rng, 3)
    layer.update({"weight": arr(weight), "bias": arr(bias)})
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(2):
        x = randn(rng, 8, 5, 3) * 2 + 3
        y = layer(arr(x))
        close(y, np_standardize(x, (0, 1)) * weight + bias, rtol=1e-4, atol=1e-5)
        running_mean = 0.8 * running_mean + 0.2 * x.mean((0, 1))
        running_var = 0.8 * running_var + 0.2 * x.var((0, 1), ddof=1)  # unbiased
        close(layer.running_mean, running_mean, rtol=1e-5)
        close(layer.running_var, running_var, rtol=1e-5)
    # Evaluation mode normalises with the running statistics and leaves them alone.
    layer.eval()
    x = randn(rng, 4, 3)
    expected = (x - running_mean) / np.sqrt(running_var + 1e-5) * weight + bias
    close(layer(arr(x)), expected, rtol=1e-4, atol=1e-5)
    close(layer.running_mean, running_mean, rtol=1e-5)


def test_batch_norm_without_running_stats_always_uses_the_batch(rng):
    layer = nn.BatchNorm(4, affine=False, track_running_stats=False)
    assert layer.parameters() == {}
    x = randn(rng, 2, 3, 3, 4)
    expected = np_standardize(x, (0, 1, 2))
    close(layer(arr(x)), expected, rtol=1e-4, atol=1e-5)
    close(layer.eval()(arr(x)), expected, rtol=1e-4, atol=1e-5)
    assert repr(layer) == "BatchNorm(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)"


def test_batch_norm_running_stats_stay_frozen():
    layer = nn.BatchNorm(3)
    layer.unfreeze()
    assert set(layer.trainable_parameters()) == {"weight", "bias"}
    layer.freeze()
    layer.unfreeze(keys=["running_mean"])
    assert set(layer.trainable_parameters()) == set()


def test_batch_norm_rejects_bad_inputs():
    layer = nn.BatchNorm(3)
    with pytest.raises(ValueError):
        layer(mx.ones((3,)))
    with pytest.raises(ValueError):
        layer(mx.ones((1, 1, 1, 1, 3)))
    with pytest.raises(ValueError):
        layer(mx.ones((1, 3)))  # one value per channel in training


# ----- gradients -------------------------------------------------------------------------------


def test_linear_and_bilinear_gradients(rng):
    x = arr(randn(rng, 4, 3))
    linear = nn.Linear(3, 2)
    grads_match_parameters(linear, lambda v: (linear(v) ** 2).sum(), x)
    bilinear = nn.Bilinear(3, 2, 5)
    x2 = arr(randn(rng, 4, 2))
    grads_match_parameters(bilinear, lambda a, b: bilinear(a, b).sum(), x, x2)


def test_sequential_gradients_follow_the_layers(rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Dropout(0.2), nn.Linear(4, 1))
    _, grads = grads_match_parameters(model, lambda v: model(v).sum(), arr(randn(rng, 6, 3)))
    assert isinstance(grads["layers"], list) and len(grads["layers"]) == 4


def test_embedding_gradient_accumulates_rows(rng):
    layer = nn.Embedding(6, 3)
    idx = np.array([[0, 2, 2], [5, 0, 2]])
    upstream = randn(rng, 2, 3, 3)
    _, grads = grads_match_parameters(layer, lambda i: (layer(i) * arr(upstream)).sum(), arr(idx, mx.int32))
    expected = np.zeros((6, 3), np.float32)
    np.add.at(expected, idx.reshape(-1), upstream.reshape(-1, 3))
    close(grads["weight"], expected)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.LayerNorm(5), (4, 5)),
        (lambda: nn.RMSNorm(5), (4, 5)),
        (lambda: nn.GroupNorm(1, 5), (4, 2, 5)),
        (lambda: nn.InstanceNorm(5, affine=True), (4, 2, 5)),
        (lambda: nn.BatchNorm(5), (4, 2, 5)),
    ],
)
def test_normalisation_weight_gradients(rng, make, shape):
    layer = make()
    x = randn(rng, *shape)
    upstream = randn(rng, *shape)
    _, grads = grads_match_parameters(layer, lambda v: (layer(v) * arr(upstream)).sum(), arr(x))
    # y = xhat * w + b, so dL/dw = sum(xhat * upstream) and dL/db = sum(upstream).
    axes = tuple(range(len(shape) - 1))
    name = type(layer).__name__
    if name == "RMSNorm":
        xhat = x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + 1e-5)
    elif name == "LayerNorm":
        xhat = np_standardize(x, -1)
    elif name == "GroupNorm":
        xhat = np_group_norm(x, 1, False)
    elif name == "InstanceNorm":
        xhat = np_standardize(x, (1,))
    else:
        xhat = np_standardize(x, (0, 1))
    close(grads["weight"], (xhat * upstream).sum(axes), rtol=1e-4, atol=1e-4)
    if "bias" in grads:
        close(grads["bias"], upstream.sum(axes), rtol=1e-4, atol=1e-4)


def test_batch_norm_under_value_and_grad_keeps_usable_running_stats(rng):
    layer = nn.BatchNorm(3)
    x = randn(rng, 6, 3)
    grads_match_parameters(layer, lambda v: (layer(v) * v).sum(), arr(x))
    close(layer.running_mean, 0.1 * x.mean(0), rtol=1e-5, atol=1e-7)
    assert set(layer.trainable_parameters()) == {"weight", "bias"}


# ----- parity with MLX's own build ----------------------------------------------------------------


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with MLX")
def test_initialisation_and_dropout_masks_match_mlx_for_the_same_seed():
    mlx_core = pytest.importorskip("mlx.core")
    mlx_nn = importlib.import_module("mlx.nn")
    mlx_flatten = importlib.import_module("mlx.utils").tree_flatten
    builders = [
        lambda n: n.Linear(3, 4),
        lambda n: n.Bilinear(2, 3, 4),
        lambda n: n.Embedding(5, 3),
        lambda n: n.Sequential(n.Linear(2, 2), n.Linear(2, 1, bias=False)),
    ]
    for build in builders:
        mx.random.seed(7)
        mlx_core.random.seed(7)
        ours, theirs = tree_flatten(build(nn).parameters()), mlx_flatten(build(mlx_nn).parameters())
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        for (k, a), (_, b) in zip(ours, theirs):
            # Uniform draws are bit-exact; normal draws (Embedding) agree to a few ulp.
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-6, err_msg=k)
    x = np.random.default_rng(1).standard_normal((2, 3, 3, 8)).astype(np.float32)
    for name in ("Dropout", "Dropout2d"):
        mx.random.seed(3)
        mlx_core.random.seed(3)
        ours = np.array(getattr(nn, name)(0.3)(mx.array(x)))
        theirs = np.array(getattr(mlx_nn, name)(0.3)(mlx_core.array(x)))
        np.testing.assert_array_equal(ours, theirs)
