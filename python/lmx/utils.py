"""Python trees (``mlx.utils``): nested lists, tuples and dicts whose other
values are leaves. Results are built from plain ``dict``/``list``/``tuple``
(namedtuples keep their type), so a subclass such as ``nn.Module`` comes back
as a ``dict``."""

from itertools import zip_longest

__all__ = ["tree_flatten", "tree_map", "tree_map_with_path", "tree_merge", "tree_reduce", "tree_unflatten"]


def _is_sequence(tree):
    return isinstance(tree, (list, tuple))


def _rebuild_sequence(like, values):
    """A sequence of `like`'s type holding `values` (namedtuples take fields)."""
    if isinstance(like, tuple) and hasattr(like, "_fields"):
        return type(like)(*values)
    return type(like)(values)


def tree_map(fn, tree, *rest, is_leaf=None):
    """Returns a tree shaped like ``tree`` whose leaves are ``fn(leaf, *others)``,
    ``others`` being the leaves at the same place in each tree of ``rest``
    (which may hold more than ``tree``)."""
    return tree_map_with_path(lambda _, *leaves: fn(*leaves), tree, *rest, is_leaf=is_leaf)


def _child_path(path, key):
    return f"{path}.{key}" if path else str(key)


def tree_map_with_path(fn, tree, *rest, is_leaf=None, path=None):
    """Like :func:`tree_map`, but ``fn(path, leaf, *others)`` also receives the
    leaf's dotted path (``"layers.0.weight"``; ``path`` prefixes it)."""
    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    if _is_sequence(tree):
        values = [
            tree_map_with_path(fn, child, *(r[i] for r in rest), is_leaf=is_leaf, path=_child_path(path, i))
            for i, child in enumerate(tree)
        ]
        return _rebuild_sequence(tree, values)
    if isinstance(tree, dict):
        return {
            k: tree_map_with_path(
                fn, child, *(r[k] for r in rest), is_leaf=is_leaf, path=_child_path(path, k)
            )
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(tree, prefix="", is_leaf=None, destination=None):
    """Returns the leaves of ``tree`` as ``(dotted_key, leaf)`` pairs, depth first.

    The first character of ``prefix`` is dropped (``prefix=".model"`` gives keys
    ``"model.0"``...). With ``destination`` a dict, the pairs are stored in it and
    it is returned; with a list, they are appended to it. Empty containers give
    no pairs."""
    if destination is None:
        destination = []
    if not isinstance(destination, (list, dict)):
        raise TypeError(
            f"[tree_flatten] destination must be a list or a dict, not {type(destination).__name__}."
        )
    add = (
        destination.__setitem__ if isinstance(destination, dict) else lambda k, v: destination.append((k, v))
    )
    _flatten_into(tree, prefix, is_leaf, add)
    return destination


def _flatten_into(tree, prefix, is_leaf, add):
    if is_leaf is None or not is_leaf(tree):
        if _is_sequence(tree):
            for i, child in enumerate(tree):
                _flatten_into(child, f"{prefix}.{i}", is_leaf, add)
            return
        if isinstance(tree, dict):
            for k, child in tree.items():
                _flatten_into(child, f"{prefix}.{k}", is_leaf, add)
            return
    add(prefix[1:], tree)


def tree_unflatten(tree):
    """Rebuilds a tree from ``(dotted_key, value)`` pairs (or a dict of them), the
    inverse of :func:`tree_flatten`. A level whose keys are all integers becomes a
    list ordered by index (missing indices hold empty dicts); any other level is a
    dict."""
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    return _unflatten_level(items, "")


def _unflatten_level(items, where):
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]
    children = {}
    for key, value in items:
        if not isinstance(key, str):
            raise TypeError(f"[tree_unflatten] Keys must be strings, got {key!r}.")
        head, _, tail = key.partition(".")
        if key == "":
            raise ValueError(f"[tree_unflatten] '{where or '<root>'}' is both a leaf and a subtree.")
        children.setdefault(head, []).append((tail, value))
    for head, child_items in children.items():
        if len(child_items) > 1 and any(k == "" for k, _ in child_items):
            path = _child_path(where, head)
            raise ValueError(
                f"[tree_unflatten] Key '{path}' appears more than once or is both a leaf and a subtree."
            )
    if all(head.isdigit() for head in children):
        by_index = {int(head): _unflatten_level(v, _child_path(where, head)) for head, v in children.items()}
        size = max(by_index, default=-1) + 1
        return [by_index.get(i, {}) for i in range(size)]
    return {head: _unflatten_level(v, _child_path(where, head)) for head, v in children.items()}


def tree_reduce(fn, tree, initializer=None, is_leaf=None):
    """Folds ``fn(accumulator, leaf)`` over the leaves of ``tree`` depth first. Without
    ``initializer`` the first leaf starts the accumulation; an empty tree then gives None."""
    acc = initializer
    started = initializer is not None
    for _, leaf in tree_flatten(tree, is_leaf=is_leaf):
        if started:
            acc = fn(acc, leaf)
        else:
            acc, started = leaf, True
    return acc


def _is_empty(tree):
    return tree is None or (isinstance(tree, (list, tuple, dict)) and len(tree) == 0)


def tree_merge(tree_a, tree_b, merge_fn=None):
    """A deep ``dict.update`` of two trees: where only one tree has something (None
    and empty containers count as nothing) that is kept; containers of the same
    kind merge element-wise (sequences take ``tree_a``'s type); two leaves at the
    same place go through ``merge_fn(a, b)``, and without it raise ValueError."""
    if _is_empty(tree_a):
        return tree_a if tree_b is None else tree_b
    if _is_empty(tree_b):
        return tree_a
    if _is_sequence(tree_a) and _is_sequence(tree_b):
        values = [tree_merge(a, b, merge_fn) for a, b in zip_longest(tree_a, tree_b)]
        return _rebuild_sequence(tree_a, values)
    if isinstance(tree_a, dict) and isinstance(tree_b, dict):
        merged = {k: tree_merge(v, tree_b.get(k), merge_fn) for k, v in tree_a.items()}
        merged.update((k, v) for k, v in tree_b.items() if k not in tree_a)
        return merged
    if merge_fn is None:
        raise ValueError(
            "[tree_merge] Both trees hold a value at the same place and no merge function was provided."
        )
    return merge_fn(tree_a, tree_b)
