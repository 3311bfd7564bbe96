"""mlx.utils tree functions: nested lists, tuples and dicts with dotted keys."""

from collections import namedtuple

import numpy as np
import pytest
from conftest import BACKEND, backend_module, mx, to_numpy

utils = backend_module("utils")
nn = backend_module("nn")

Point = namedtuple("Point", "x y")
TREE = {"a": [1, (2, 3)], "b": {"c": 4, "d": [5, {"e": 6}]}}


def test_tree_map_keeps_structure_and_types():
    out = utils.tree_map(lambda x: x * 10, TREE)
    assert out == {"a": [10, (20, 30)], "b": {"c": 40, "d": [50, {"e": 60}]}}
    assert type(out["a"][1]) is tuple
    assert utils.tree_map(lambda x: x + 1, Point(1, 2)) == Point(2, 3)
    assert utils.tree_map(lambda x: x + 1, 5) == 6
    assert utils.tree_map(lambda x: x, []) == [] and utils.tree_map(lambda x: x, {}) == {}


def test_tree_map_with_rest_trees():
    other = {"a": [10, (20, 30)], "b": {"c": 40, "d": [50, {"e": 60}]}, "extra": 0}
    out = utils.tree_map(lambda x, y, z: x + y + z, TREE, other, other)
    assert out == utils.tree_map(lambda x: 21 * x, TREE)
    with pytest.raises((KeyError, IndexError)):
        utils.tree_map(lambda x, y: x + y, {"a": 1}, {"b": 2})


def test_tree_map_is_leaf_stops_descent():
    out = utils.tree_map(len, {"a": [1, 2, 3], "b": [[1], [2, 3]]}, is_leaf=lambda x: isinstance(x, list))
    assert out == {"a": 3, "b": 2}


def test_tree_map_on_arrays(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    out = utils.tree_map(lambda a: a * 2, {"w": [mx.array(x)]})
    assert np.allclose(to_numpy(out["w"][0]), 2 * x)


def test_tree_map_returns_plain_dict_for_a_module():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = mx.ones((2,))

    out = utils.tree_map(lambda a: a.shape, Holder())
    assert type(out) is dict and out == {"w": (2,)}


def test_tree_map_with_path():
    paths = utils.tree_map_with_path(lambda path, x: path, TREE)
    assert paths == {"a": ["a.0", ("a.1.0", "a.1.1")], "b": {"c": "b.c", "d": ["b.d.0", {"e": "b.d.1.e"}]}}
    assert utils.tree_map_with_path(lambda p, x: p, [1, {"k": 2}], path="root") == [
        "root.0",
        {"k": "root.1.k"},
    ]
    assert utils.tree_map_with_path(lambda p, x: p, 7) is None
    summed = utils.tree_map_with_path(lambda p, x, y: (p, x + y), [1, 2], [10, 20])
    assert summed == [("0", 11), ("1", 22)]


def test_tree_flatten_keys_and_order():
    flat = utils.tree_flatten(TREE)
    assert flat == [("a.0", 1), ("a.1.0", 2), ("a.1.1", 3), ("b.c", 4), ("b.d.0", 5), ("b.d.1.e", 6)]
    assert utils.tree_flatten([[[0]]]) == [("0.0.0", 0)]
    assert utils.tree_flatten(5) == [("", 5)]


def test_tree_flatten_prefix_drops_its_first_character():
    assert utils.tree_flatten([[[0]]], prefix=".hello") == [("hello.0.0.0", 0)]
    assert utils.tree_flatten([1], prefix="xy") == [("y.0", 1)]


def test_tree_flatten_empty_containers_and_none():
    assert utils.tree_flatten({"a": [], "b": {}, "c": None, "d": 1}) == [("c", None), ("d", 1)]
    assert utils.tree_flatten([]) == [] and utils.tree_flatten({}) == []


def test_tree_flatten_destination():
    assert utils.tree_flatten({"a": {"b": 1}}, destination={}) == {"a.b": 1}
    dest = [("z", 0)]
    out = utils.tree_flatten([1, 2], destination=dest)
    assert out is dest and dest == [("z", 0), ("0", 1), ("1", 2)]
    dest = {"z": 0}
    assert utils.tree_flatten({"q": 3}, destination=dest) is dest and dest == {"z": 0, "q": 3}


def test_tree_flatten_is_leaf():
    flat = utils.tree_flatten({"a": (1, 2), "b": [3]}, is_leaf=lambda x: isinstance(x, tuple))
    assert flat == [("a", (1, 2)), ("b.0", 3)]


def test_tree_unflatten_round_trip():
    tree = {"a": [1, {"b": 2, "c": [3, 4]}], "d": {"e": 5}}
    assert utils.tree_unflatten(utils.tree_flatten(tree)) == tree
    assert utils.tree_unflatten(dict(utils.tree_flatten(tree))) == tree
    assert utils.tree_unflatten([("hello.world", 42)]) == {"hello": {"world": 42}}


def test_tree_unflatten_lists_from_integer_keys():
    assert utils.tree_unflatten([("1", "b"), ("0", "a")]) == ["a", "b"]  # ordered by index
    assert utils.tree_unflatten([("a.2", 1)]) == {"a": [{}, {}, 1]}  # gaps are empty subtrees
    assert utils.tree_unflatten([("0", 1), ("a", 2)]) == {"0": 1, "a": 2}  # mixed keys: a dict
    assert utils.tree_unflatten([("10", 1), ("9", 2)]) == [{}] * 9 + [2, 1]


def test_tree_unflatten_of_nothing_and_of_a_root_leaf():
    assert utils.tree_unflatten([]) == []
    assert utils.tree_unflatten([("", 5)]) == 5


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX recurses without end on a repeated key")
def test_tree_unflatten_rejects_repeated_or_conflicting_keys():
    with pytest.raises(ValueError, match="'a'"):
        utils.tree_unflatten([("a", 1), ("a", 2)])
    with pytest.raises(ValueError, match="a.b"):
        utils.tree_unflatten([("a.b", 1), ("a.b", 2)])
    with pytest.raises(ValueError, match="'a'"):
        utils.tree_unflatten([("a", 1), ("a.b", 2)])


def test_tree_reduce():
    tree = {"a": [1, 2, 3], "b": [4, 5]}
    assert utils.tree_reduce(lambda acc, x: acc + x, tree, 0) == 15
    assert utils.tree_reduce(lambda acc, x: acc + x, tree) == 15  # first leaf starts
    assert utils.tree_reduce(lambda acc, x: acc * 10 + x, tree) == 12345  # depth-first order
    assert utils.tree_reduce(lambda acc, x: acc + x, {}) is None
    lists = utils.tree_reduce(
        lambda acc, x: acc + [x], {"a": [1, 2], "b": (3,)}, [], is_leaf=lambda x: isinstance(x, list)
    )
    assert lists == [[1, 2], 3]


def test_tree_reduce_on_arrays(rng):
    xs = [rng.standard_normal(3).astype(np.float32) for _ in range(3)]
    total = utils.tree_reduce(lambda acc, a: acc + a.sum(), {"p": [mx.array(x) for x in xs]}, mx.array(0.0))
    assert np.isclose(total.item(), sum(float(x.sum()) for x in xs), rtol=1e-5)


def test_tree_merge():
    merged = utils.tree_merge({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}, "e": 4})
    assert merged == {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    assert utils.tree_merge([1, {}], [{}, 2]) == [1, 2]
    assert utils.tree_merge([1, None], [None, 2]) == [1, 2]
    assert utils.tree_merge({}, [1]) == [1]
    assert utils.tree_merge(None, 3) == 3 and utils.tree_merge(0, None) == 0
    assert utils.tree_merge({}, {}) == {}
    assert utils.tree_merge([1], (None, 2)) == [1, 2]  # the first tree's type


def test_tree_merge_conflicts():
    for a, b in [({"a": 1}, {"a": 2}), ([1, 2], [3]), (1, 2), ({"a": 1}, [2])]:
        with pytest.raises(ValueError):
            utils.tree_merge(a, b)
    assert utils.tree_merge({"a": 1}, {"a": 2}, merge_fn=lambda x, y: x + y) == {"a": 3}
    assert utils.tree_merge([1, 2], [3, 4], merge_fn=lambda x, y: (x, y)) == [(1, 3), (2, 4)]
    assert utils.tree_merge({"a": 1}, [2], merge_fn=lambda x, y: "merged") == "merged"
