"""grad, value_and_grad, vjp and jvp over Python functions of pytrees, on
top of the C++ transforms (which see flat lists of arrays)."""

from lmx import _core
from lmx.core._tree import flatten, unflatten


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def vjp(fun, primals, cotangents):
    """Returns (fun(*primals) as a list, the cotangents of the primals)."""
    outputs, vjps = _core._vjp(lambda xs: _as_list(fun(*xs)), list(primals), list(cotangents))
    return outputs, vjps


def jvp(fun, primals, tangents):
    """Returns (fun(*primals) as a list, the tangents of the outputs)."""
    outputs, jvps = _core._jvp(lambda xs: _as_list(fun(*xs)), list(primals), list(tangents))
    return outputs, jvps


def _normalize_args(argnums, argnames):
    if isinstance(argnames, str):
        argnames = (argnames,)
    argnames = tuple(argnames)
    if argnums is None:
        argnums = 0 if not argnames else ()
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"[grad] argnums must be non-negative integers, got {argnums!r}.")
    if len(set(nums)) != len(nums):
        raise ValueError(f"[grad] argnums contains duplicates: {argnums!r}.")
    return nums, single, argnames


def value_and_grad(fun, argnums=None, argnames=()):
    """Returns a function computing (fun(*args, **kwargs), gradients of its
    first output with respect to the selected arguments)."""
    nums, single, argnames = _normalize_args(argnums, argnames)

    def wrapper(*args, **kwargs):
        if nums and max(nums) >= len(args):
            raise ValueError(f"[grad] Can't compute the gradient of argument index {max(nums)} because the "
                             f"function is called with only {len(args)} positional arguments.")
        for name in argnames:
            if name not in kwargs:
                raise ValueError(f"[grad] Can't compute the gradient of keyword argument '{name}' because the "
                                 "function is called without it.")
        selected = ([args[i] for i in nums], {n: kwargs[n] for n in argnames})
        leaves, treedef = flatten(selected)
        out_def = []

        def flat_fun(xs):
            sel_args, sel_kwargs = unflatten(treedef, xs)
            new_args = list(args)
            for i, v in zip(nums, sel_args):
                new_args[i] = v
            new_kwargs = dict(kwargs)
            new_kwargs.update(sel_kwargs)
            out = fun(*new_args, **new_kwargs)
            out_leaves, d = flatten(out)
            if not out_leaves:
                raise ValueError("[grad] The function must return an array (or a tuple starting with one).")
            out_def.append(d)
            return out_leaves

        outputs, grads = _core._value_and_grad(flat_fun, leaves, list(range(len(leaves))))
        value = unflatten(out_def[-1], outputs)
        g_args, g_kwargs = unflatten(treedef, grads)
        # One selected argument gives its gradient bare, even for argnums=(0,) (as MLX).
        g = g_args[0] if single or len(g_args) == 1 else tuple(g_args)
        if argnames:
            return value, (g, g_kwargs)
        return value, g

    return wrapper


def grad(fun, argnums=None, argnames=()):
    """Returns a function computing the gradients of fun's (scalar) output."""
    vg = value_and_grad(fun, argnums, argnames)

    def wrapper(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapper


def _leaf_axes(spec, tree, what):
    """Per-array axes for `tree` from `spec`: an int/None for the whole tree,
    or a tree of the same structure (a prefix, as MLX allows)."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(flatten(tree)[0])
    if isinstance(spec, (list, tuple)) and isinstance(tree, (list, tuple)) and len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _leaf_axes(s, t, what)]
    if isinstance(spec, dict) and isinstance(tree, dict) and spec.keys() == tree.keys():
        return [a for k in tree for a in _leaf_axes(spec[k], tree[k], what)]
    raise ValueError(f"[vmap] {what} {spec!r} does not match the structure of the arguments.")


def vmap(fun, in_axes=0, out_axes=0):
    """Returns a function mapping `fun` over axis `in_axes` of its arguments
    and stacking the results along `out_axes`."""

    def wrapper(*args):
        spec = in_axes if isinstance(in_axes, (list, tuple)) else [in_axes] * len(args)
        if len(spec) != len(args):
            raise ValueError(f"[vmap] in_axes has {len(spec)} entries for {len(args)} arguments.")
        leaves, treedef = flatten(list(args))
        axes = _leaf_axes(list(spec), list(args), "in_axes")
        flat_axes = []
        for x, a in zip(leaves, axes):
            if a is not None and a < 0:
                a += x.ndim
            flat_axes.append(-1 if a is None else a)
        out_def = []

        def flat_fun(xs):
            out = fun(*unflatten(treedef, xs))
            out_leaves, d = flatten(out)
            out_def.append((d, out))
            return out_leaves

        # Every output comes back mapped on axis 0, then moves where asked.
        outs = _core._vmap(flat_fun, leaves, flat_axes, [0])
        d, out = out_def[-1]
        for o, a in zip(outs, _leaf_axes(out_axes, out, "out_axes")):
            if a is None:
                raise ValueError("[vmap] out_axes must be integers.")
        outs = [o if a == 0 else _core.moveaxis(o, 0, a) for o, a in zip(outs, _leaf_axes(out_axes, out, "out_axes"))]
        return unflatten(d, outs)

    return wrapper


class custom_function:
    """Wraps a function so that transforms use the rules given with the
    ``vjp``, ``jvp`` and ``vmap`` decorators (each optional) instead of
    differentiating or batching the function's own operations."""

    def __init__(self, fun):
        self._fun = fun
        self._vjp = self._jvp = self._vmap = None
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__name__ = getattr(fun, "__name__", "custom_function")

    def vjp(self, fun):
        """``fun(primals, cotangent, output)`` returns the primals' cotangents."""
        self._vjp = fun
        return fun

    def jvp(self, fun):
        """``fun(primals, tangents)`` returns the output tangents."""
        self._jvp = fun
        return fun

    def vmap(self, fun):
        """``fun(inputs, axes)`` returns (outputs, output axes)."""
        self._vmap = fun
        return fun

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise ValueError("[custom_function] Keyword arguments are not supported; pass them positionally.")
        leaves, treedef = flatten(list(args))
        out_def = []

        def flat_fun(xs):
            out = self._fun(*unflatten(treedef, xs))
            out_leaves, d = flatten(out)
            out_def.append(d)
            return out_leaves

        def primals_of(xs):
            # One argument is passed bare, several as a tuple (as MLX).
            values = unflatten(treedef, xs)
            return values[0] if len(values) == 1 else tuple(values)

        vjp_rule = jvp_rule = vmap_rule = None
        if self._vjp is not None:
            def vjp_rule(primals, cotangents, outputs):
                d = out_def[0]
                grads = self._vjp(primals_of(primals), unflatten(d, cotangents), unflatten(d, outputs))
                return flatten(list(grads) if isinstance(grads, tuple) else [grads])[0]
        if self._jvp is not None:
            def jvp_rule(primals, tangents):
                return flatten(self._jvp(primals_of(primals), primals_of(tangents)))[0]
        if self._vmap is not None:
            def vmap_rule(inputs, axes):
                outs, out_axes = self._vmap(primals_of(inputs), axes[0] if len(axes) == 1 else tuple(axes))
                flat_outs = flatten(outs)[0]
                if not isinstance(out_axes, (list, tuple)):
                    out_axes = [out_axes] * len(flat_outs)
                return flat_outs, list(out_axes)

        outs = _core._custom_function(flat_fun, leaves, vjp_rule, jvp_rule, vmap_rule)
        return unflatten(out_def[0], outs)


def checkpoint(fun):
    """Returns fun, differentiated by recomputing it in the backward pass
    (less memory held between the forward and backward passes)."""

    def wrapper(*args):
        leaves, treedef = flatten(list(args))
        out_def = []

        def flat_fun(xs):
            out = fun(*unflatten(treedef, xs))
            out_leaves, d = flatten(out)
            out_def.append(d)
            return out_leaves

        outs = _core._checkpoint(flat_fun, leaves)
        return unflatten(out_def[0], outs)

    return wrapper
