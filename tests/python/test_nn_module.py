"""nn.Module: the tree of members, parameters, freezing, updates, modes, weights on disk."""

import numpy as np
import pytest
from conftest import BACKEND, backend_module, mx, to_numpy

nn = backend_module("nn")
utils = backend_module("utils")
tree_flatten = utils.tree_flatten


class Dense(nn.Module):
    """A small layer with a known set of members, independent of nn's layers."""

    def __init__(self, n_in, n_out, bias=True):
        super().__init__()
        self.weight = mx.zeros((n_out, n_in))
        if bias:
            self.bias = mx.zeros((n_out,))
        self.n_in = n_in  # a plain attribute, not part of the tree

    def _extra_repr(self):
        return f"n_in={self.n_in}"

    def __call__(self, x):
        y = x @ self.weight.T
        return y + self.bias if "bias" in self else y


class Act(nn.Module):
    def __call__(self, x):
        return mx.maximum(x, 0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Dense(2, 3)
        self.blocks = [Dense(3, 3), {"inner": Dense(3, 1), "scale": mx.ones((2,))}]
        self.offset = mx.zeros((4,))
        self._private = mx.ones((1,))
        self.pair = (mx.ones((1,)), mx.ones((2,)))
        self.numbers = [1, 2]
        self.name = "net"


def keys(tree):
    return [k for k, _ in tree_flatten(tree)]


# ----- members -------------------------------------------------------------------------


def test_members_are_dict_entries_and_attributes():
    net = Net()
    assert isinstance(net, dict)
    assert set(net.keys()) == {"first", "blocks", "offset", "_private", "pair", "numbers"}
    assert net.blocks[1]["inner"] is net["blocks"][1]["inner"]
    assert net.first.weight is net["first"]["weight"]
    assert net.name == "net" and "name" not in net
    assert net.state is net


def test_setting_a_plain_value_removes_the_member():
    layer = Dense(2, 2)
    layer.bias = None
    assert "bias" not in layer and layer.bias is None
    layer.extra = [mx.ones((1,))]
    assert "extra" in layer
    del layer.extra
    assert "extra" not in layer
    layer.count = 5
    layer.count = mx.ones((1,))
    assert "count" in layer and "count" not in layer.__dict__


def test_missing_attribute_names_the_class():
    with pytest.raises(AttributeError, match="Dense"):
        _ = Dense(1, 1).nothing


def test_base_module_is_not_callable():
    with pytest.raises(TypeError):
        nn.Module()(mx.ones((1,)))


# ----- trees ---------------------------------------------------------------------------


def test_parameters_tree():
    params = Net().parameters()
    assert set(params) == {"first", "blocks", "offset", "numbers"}  # no _private, no tuple
    assert set(params["first"]) == {"weight", "bias"}
    assert isinstance(params["blocks"], list) and set(params["blocks"][1]) == {"inner", "scale"}
    assert params["numbers"] == [{}, {}]  # non-array list items keep their place, empty
    assert keys(params) == [
        "first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
        "blocks.1.inner.weight", "blocks.1.inner.bias", "blocks.1.scale", "offset",
    ]  # fmt: skip
    assert type(params) is dict and type(params["first"]) is dict


def test_children_and_leaf_modules():
    net = Net()
    children = net.children()
    assert children["first"] is net.first
    assert children["blocks"][0] is net.blocks[0]
    assert children["blocks"][1]["inner"] is net.blocks[1]["inner"]
    assert "offset" not in children

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Net()
            self.act = Act()

    outer = Outer()
    leaves = tree_flatten(outer.leaf_modules(), is_leaf=nn.Module.is_module)
    assert [k for k, _ in leaves] == ["net.first", "net.blocks.0", "net.blocks.1.inner", "act"]
    assert leaves[-1][1] is outer.act


def test_named_modules_order_is_last_child_first_depth_first():
    net = Net()
    names = [name for name, _ in net.named_modules()]
    # A stack: the root, then its children are pushed in order and popped last first.
    assert names == ["", "blocks.1.inner", "blocks.0", "first"]
    assert [m for _, m in net.named_modules()] == [net, net.blocks[1]["inner"], net.blocks[0], net.first]
    assert all(a is b for a, b in zip(net.modules(), [m for _, m in net.named_modules()]))

    class Chain(nn.Module):
        def __init__(self, *layers):
            super().__init__()
            self.layers = list(layers)

    chain = Chain(Dense(1, 1), Act(), Chain(Dense(1, 1)))
    expected = ["", "layers.2", "layers.2.layers.0", "layers.1", "layers.0"]
    assert [name for name, _ in chain.named_modules()] == expected


def test_filter_and_map():
    net = Net()
    shapes = net.filter_and_map(
        lambda m, k, v: isinstance(v, (mx.array, dict, list)) and k != "offset",
        map_fn=lambda x: x.shape if isinstance(x, mx.array) else x,
    )
    assert shapes["first"]["weight"] == (3, 2)
    assert shapes["blocks"][1]["scale"] == (2,)
    assert "offset" not in shapes
    # The filter sees dotted keys for elements of containers.
    seen = []
    net.filter_and_map(lambda m, k, v: seen.append(k) or True)
    assert "blocks.1.scale" in seen and "blocks.0" in seen


# ----- freezing -------------------------------------------------------------------------


def test_freeze_and_unfreeze_everything():
    net = Net()
    all_keys = keys(net.parameters())
    assert keys(net.trainable_parameters()) == all_keys
    assert net.freeze() is net
    assert keys(net.trainable_parameters()) == []
    assert keys(net.parameters()) == all_keys  # frozen parameters are still parameters
    assert net.unfreeze() is net
    assert keys(net.trainable_parameters()) == all_keys


def test_freeze_without_recursion_freezes_local_parameters_only():
    net = Net()
    net.freeze(recurse=False)
    assert keys(net.trainable_parameters()) == [
        "first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
        "blocks.1.inner.weight", "blocks.1.inner.bias",
    ]  # fmt: skip


def test_freeze_and_unfreeze_by_keys():
    net = Net()
    net.freeze(keys="bias")
    assert "first.bias" not in keys(net.trainable_parameters())
    assert "first.weight" in keys(net.trainable_parameters())
    net.freeze()
    net.unfreeze(keys=["bias"])
    assert keys(net.trainable_parameters()) == ["first.bias", "blocks.0.bias", "blocks.1.inner.bias"]
    net.unfreeze()
    net.freeze(keys="blocks.1.scale", recurse=False)
    assert "blocks.1.scale" not in keys(net.trainable_parameters())
    assert len(keys(net.trainable_parameters())) == len(keys(net.parameters())) - 1


def test_freeze_strict_rejects_unknown_keys():
    net = Net()
    with pytest.raises(KeyError, match="nope"):
        net.freeze(keys="nope", strict=True)
    with pytest.raises(KeyError, match="weight"):
        net.freeze(keys="weight", strict=True, recurse=False)
    net.freeze(keys="weight", strict=True)  # a submodule has it
    with pytest.raises(KeyError, match="nope"):
        net.unfreeze(keys=["nope"], strict=True)
    net.freeze(keys="nope")  # not strict: ignored
    assert "first.bias" in keys(net.trainable_parameters())


# ----- updates --------------------------------------------------------------------------


def test_update_replaces_parameters_in_place():
    net = Net()
    blocks = net.blocks
    new_w = mx.ones((3, 3))
    assert net.update({"blocks": [{"weight": new_w}], "offset": mx.full((4,), 2.0)}) is net
    assert net.blocks is blocks and net.blocks[0].weight is new_w
    assert np.array_equal(to_numpy(net.offset), np.full(4, 2.0, np.float32))
    # Shapes are not checked by update.
    net.update({"offset": mx.zeros((7,))})
    assert net.offset.shape == (7,)


def test_update_with_tree_map_of_parameters():
    net = Net()
    net.update(utils.tree_map(lambda p: p + 1, net.parameters()))
    assert np.array_equal(to_numpy(net.first.weight), np.ones((3, 2), np.float32))
    assert np.array_equal(to_numpy(net.blocks[1]["scale"]), np.full(2, 2.0, np.float32))


def test_update_strict_errors():
    net = Net()
    with pytest.raises(ValueError, match="nope"):
        net.update({"nope": mx.ones((1,))})
    with pytest.raises(ValueError):
        net.update({"offset": 3})
    with pytest.raises(ValueError):
        net.update({"offset": {"a": mx.ones((1,))}})
    with pytest.raises(ValueError):
        net.update({"first": mx.ones((1,))})
    with pytest.raises(ValueError):
        net.update({"blocks": [{}, {}, {"weight": mx.ones((1,))}]})
    before = keys(net.parameters())
    net.update({"nope": mx.ones((1,)), "blocks": [{}, {}, {}]}, strict=False)
    assert keys(net.parameters()) == before


def test_update_modules():
    net = Net()
    replacement = Dense(5, 5)
    net.update_modules({"first": replacement, "blocks": [{}, {"inner": Act()}]})
    assert net.first is replacement and isinstance(net.blocks[1]["inner"], Act)
    with pytest.raises(ValueError):
        net.update_modules({"offset": Dense(1, 1)})
    with pytest.raises(ValueError):
        net.update_modules({"first": mx.ones((2,))})
    with pytest.raises(ValueError, match="nope"):
        net.update_modules({"nope": Dense(1, 1)})
    net.update_modules({"nope": Dense(1, 1)}, strict=False)
    assert "nope" not in net


# ----- modes and mapping ---------------------------------------------------------------


def test_train_and_eval_reach_every_module():
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not net.training and not any(m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())
    net.train(False)
    assert not net.blocks[1]["inner"].training


def test_apply_and_apply_to_modules():
    net = Net()
    assert net.apply(lambda p: p + 3) is net
    assert np.all(to_numpy(net.blocks[1]["inner"].weight) == 3)
    assert np.all(to_numpy(net._private) == 1)  # not a parameter
    net.first.apply(lambda p: p * 0, filter_fn=lambda m, k, v: k == "bias")
    assert np.all(to_numpy(net.first.bias) == 0) and np.all(to_numpy(net.first.weight) == 3)
    visited = []
    assert net.apply_to_modules(lambda name, m: visited.append((name, type(m).__name__))) is net
    assert visited == [("", "Net"), ("blocks.1.inner", "Dense"), ("blocks.0", "Dense"), ("first", "Dense")]


def test_set_dtype_casts_floating_parameters_only():
    layer = Dense(2, 2)
    layer.steps = mx.array([1, 2], dtype=mx.int32)
    layer.set_dtype(mx.float16)
    assert layer.weight.dtype == mx.float16 and layer.bias.dtype == mx.float16
    assert layer.steps.dtype == mx.int32
    layer.set_dtype(mx.float32, predicate=lambda t: t == mx.int32)
    assert layer.steps.dtype == mx.float32 and layer.weight.dtype == mx.float16


# ----- repr -----------------------------------------------------------------------------


def test_repr_lists_children_indented():
    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Dense(1, 2)
            self.group = {"q": [Act(), Net()]}

        def _extra_repr(self):
            return "depth=2"

    text = repr(Outer())
    lines = text.split("\n")
    assert lines[0] == "Outer(depth=2"
    assert lines[1] == "  (a): Dense(n_in=1)"
    assert lines[2] == "  (group.q.0): Act()"
    assert lines[3] == "  (group.q.1): Net("
    assert lines[4] == "    (first): Dense(n_in=2)"
    assert lines[-2] == "  )" and lines[-1] == ")"
    assert repr(Act()) == "Act()" and repr(nn.Module()) == "Module()"


# ----- weights --------------------------------------------------------------------------


def _random_weights(module, rng):
    return [
        (k, mx.array(rng.standard_normal(v.shape).astype(np.float32)))
        for k, v in tree_flatten(module.parameters())
    ]


def test_load_weights_from_pairs(rng):
    net = Net()
    weights = _random_weights(net, rng)
    assert net.load_weights(weights) is net
    for (k, v), (k2, v2) in zip(tree_flatten(net.parameters()), weights):
        assert k == k2 and np.array_equal(to_numpy(v), to_numpy(v2))


def test_load_weights_strict_errors(rng):
    net = Net()
    weights = _random_weights(net, rng)
    with pytest.raises(ValueError, match="offset"):
        net.load_weights([w for w in weights if w[0] != "offset"])
    with pytest.raises(ValueError, match="extra"):
        net.load_weights(weights + [("extra", mx.ones((1,)))])
    bad_shape = [(k, mx.ones((9,)) if k == "first.bias" else v) for k, v in weights]
    with pytest.raises(ValueError, match="first.bias"):
        net.load_weights(bad_shape)
    with pytest.raises(ValueError, match="first.bias"):
        net.load_weights([(k, 3 if k == "first.bias" else v) for k, v in weights])
    # Not strict: partial and extra weights are fine, shapes unchecked.
    net.load_weights([("offset", mx.full((4,), 5.0)), ("extra", mx.ones((1,)))], strict=False)
    assert np.all(to_numpy(net.offset) == 5)


def _has_weight_files():
    return hasattr(mx, "savez") and hasattr(mx, "save_safetensors")


@pytest.mark.skipif(
    not _has_weight_files(), reason="mx.savez / mx.save_safetensors are not in this core build yet"
)
@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_save_and_load_weights_round_trip(tmp_path, rng, ext):
    net = Net()
    net.load_weights(_random_weights(net, rng))
    path = str(tmp_path / f"weights.{ext}")
    net.save_weights(path)
    stored = mx.load(path)
    assert sorted(stored) == sorted(keys(net.parameters()))
    fresh = Net()
    fresh.load_weights(path)
    for (k, v), (k2, v2) in zip(tree_flatten(net.parameters()), tree_flatten(fresh.parameters())):
        assert k == k2 and np.array_equal(to_numpy(v), to_numpy(v2))


def test_save_weights_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        Net().save_weights(str(tmp_path / "weights.bin"))


# ----- nn.value_and_grad, checkpoint, average_gradients ----------------------------------


def _dense_with_values(rng, n_in=3, n_out=2):
    layer = Dense(n_in, n_out)
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    b = rng.standard_normal(n_out).astype(np.float32)
    layer.update({"weight": mx.array(w), "bias": mx.array(b)})
    return layer, w, b


def test_value_and_grad_of_a_model(rng):
    layer, w, b = _dense_with_values(rng)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)

    def loss_fn(inputs, targets, scale=1.0):
        return scale * ((layer(inputs) - targets) ** 2).sum()

    loss, grads = nn.value_and_grad(layer, loss_fn)(mx.array(x), mx.array(y), scale=2.0)
    residual = x @ w.T + b - y
    assert np.isclose(loss.item(), 2.0 * (residual**2).sum(), rtol=1e-5)
    assert set(grads) == {"weight", "bias"}
    assert np.allclose(to_numpy(grads["weight"]), 4.0 * residual.T @ x, rtol=1e-4, atol=1e-5)
    assert np.allclose(to_numpy(grads["bias"]), 4.0 * residual.sum(0), rtol=1e-4, atol=1e-5)
    # The model keeps its parameters' values and stays usable afterwards.
    assert np.allclose(to_numpy(layer.weight), w) and np.allclose(
        to_numpy(layer(mx.array(x))), x @ w.T + b, atol=1e-5
    )


def test_value_and_grad_skips_frozen_parameters(rng):
    net = Net()
    net.freeze(keys="bias")
    net.freeze(keys="offset", recurse=False)

    def loss_fn(x):
        h = net.first(x)
        h = net.blocks[0](h) * 2
        return (net.blocks[1]["inner"](h) * net.blocks[1]["scale"]).sum() + net.offset.sum()

    _, grads = nn.value_and_grad(net, loss_fn)(mx.ones((4, 2)))
    assert keys(grads) == keys(net.trainable_parameters())
    assert "first.bias" not in keys(grads) and "offset" not in grads
    for (k, g), (_, p) in zip(tree_flatten(grads), tree_flatten(net.trainable_parameters())):
        assert g.shape == p.shape, k
    assert np.allclose(
        to_numpy(grads["blocks"][1]["scale"]),
        to_numpy(net.blocks[1]["inner"](net.blocks[0](net.first(mx.ones((4, 2)))) * 2).sum(0)),
        rtol=1e-5,
    )


def test_checkpoint_gives_the_same_gradients(rng):
    layer, w, b = _dense_with_values(rng)
    x = mx.array(rng.standard_normal((4, 3)).astype(np.float32))
    checkpointed = nn.utils.checkpoint(layer)
    assert np.allclose(to_numpy(checkpointed(x)), to_numpy(layer(x)))
    plain = mx.grad(lambda v: (layer(v) ** 2).sum())(x)
    recomputed = mx.grad(lambda v: (checkpointed(v) ** 2).sum())(x)
    assert np.allclose(to_numpy(plain), to_numpy(recomputed), rtol=1e-5, atol=1e-6)
    custom = nn.utils.checkpoint(layer, lambda v, power=2: (layer(v) ** power).sum())
    assert np.isclose(custom(x, power=3).item(), ((x.__array__() @ w.T + b) ** 3).sum(), rtol=1e-4)


def test_average_gradients_of_a_single_process_returns_them(rng):
    grads = {"w": mx.array(rng.standard_normal((3,)).astype(np.float32)), "b": [mx.ones((2,))]}
    out = nn.average_gradients(grads)
    assert keys(out) == keys(grads)
    for (_, a), (_, b) in zip(tree_flatten(out), tree_flatten(grads)):
        assert np.array_equal(to_numpy(a), to_numpy(b))
    out = nn.average_gradients(grads, None, 0)
    assert np.array_equal(to_numpy(out["w"]), to_numpy(grads["w"]))


@pytest.mark.skipif(
    BACKEND == "mlx", reason="MLX's strict update rejects the empty placeholder of a frozen dict entry"
)
def test_value_and_grad_with_a_frozen_array_inside_a_dict_member():
    net = Net()
    net.freeze(keys="blocks.1.scale", recurse=False)
    loss, grads = nn.value_and_grad(net, lambda x: (net.blocks[1]["scale"] * x).sum() + net.offset.sum())(
        mx.ones((2,))
    )
    assert loss.item() == 2.0 and grads["blocks"][1]["scale"] == {}
    assert np.all(to_numpy(grads["offset"]) == 1)
