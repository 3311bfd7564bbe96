"""Flattening nested lists/tuples/dicts of arrays (pytrees) to a flat list of
arrays and back. Leaves that are not arrays are kept as constants."""

from lmx._core import array

_LEAF = object()


def flatten(tree):
    """Returns (arrays, treedef): the arrays in depth-first order and a
    description that `unflatten` fills back in."""
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    if isinstance(tree, array):
        leaves.append(tree)
        return _LEAF
    if isinstance(tree, (list, tuple)):
        return (type(tree), [_flatten(t, leaves) for t in tree])
    if isinstance(tree, dict):
        return (dict, [(k, _flatten(v, leaves)) for k, v in tree.items()])
    return (None, tree)


def unflatten(treedef, leaves):
    it = iter(leaves)
    return _unflatten(treedef, it)


def _unflatten(treedef, it):
    if treedef is _LEAF:
        return next(it)
    kind, items = treedef
    if kind is None:
        return items
    if kind is dict:
        return {k: _unflatten(v, it) for k, v in items}
    values = [_unflatten(t, it) for t in items]
    if kind is list:
        return values
    if hasattr(kind, "_fields"):  # namedtuple
        return kind(*values)
    return kind(values)
