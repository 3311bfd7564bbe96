"""compile over Python functions of pytrees: the arguments are split into
arrays (traced) and constants (part of the cache key), captured state is
passed in and written back, and each signature's traced graph is cached.
The tracing, simplification and fusion happen in C++ (lmx/transforms/compile.h)."""

import functools
import weakref

from lmx import _core
from lmx.core._tree import flatten, unflatten

# Constants a compiled function may take besides arrays; their values key the cache.
_CONSTANT_TYPES = (bool, int, float, complex, str, type(None))


def disable_compile():
    """Makes compile return functions that run uncompiled (as MLX's
    ``disable_compile``; the LMX_DISABLE_COMPILE environment variable does
    the same at start-up)."""
    _core._set_compile_mode("disabled")


def enable_compile():
    """Turns compilation back on after ``disable_compile``."""
    _core._set_compile_mode("enabled")


def set_compile_mode(mode):
    """One of "disabled", "no_simplify" (no merging of repeated work),
    "no_fuse" (no fused kernels) or "enabled"."""
    _core._set_compile_mode(getattr(mode, "name", mode))


def _key_of(treedef):
    """A hashable form of a treedef, with its constants checked."""
    if not isinstance(treedef, tuple):  # an array leaf
        return 0
    kind, items = treedef
    if kind is None:
        if not isinstance(items, _CONSTANT_TYPES):
            raise ValueError(
                "[compile] Function arguments must be trees of arrays or constants (bools, ints, floats, complex "
                f"numbers, strings or None), but received type {type(items).__module__}.{type(items).__qualname__}.")
        return (None, type(items), items)
    if kind is dict:
        return (dict, tuple((k, _key_of(v)) for k, v in items))
    return (kind, tuple(_key_of(t) for t in items))


def _state_slots(tree, slots):
    """The (container, key) of every array leaf of a state tree, in flatten
    order, so the leaves can be replaced in place."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if isinstance(v, _core.array):
                slots.append((tree, k))
            else:
                _state_slots(v, slots)
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            if isinstance(v, _core.array):
                slots.append((tree, i))
            else:
                _state_slots(v, slots)
    elif isinstance(tree, tuple):
        for v in tree:
            if isinstance(v, _core.array):
                raise ValueError("[compile] Captured state must hold its arrays in lists and dicts (which can be "
                                 "updated in place), not tuples.")
            _state_slots(v, slots)
    return slots


def _write(slots, values):
    for (container, key), v in zip(slots, values):
        container[key] = v


class _Compiled:
    """The callable compile returns."""

    def __init__(self, fun, inputs, outputs, shapeless, cache):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._inputs = inputs
        self._outputs = outputs
        self._shapeless = shapeless
        self._cache = cache
        # The common call: positional arrays only, no captured state. Keyed
        # by their dtypes and shapes (ndims when shapeless) and the device, it
        # skips flattening the arguments and building the general key, which
        # cost ~4 us of a ~6 us call (compiled activations run per layer per
        # token).
        self._array_args_cache = {}

    def __get__(self, obj, objtype=None):
        # Decorated methods bind like functions.
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        # Inside another function being compiled, the call is traced inline:
        # the outer graph is simplified and fused as a whole (a nested
        # compiled node would be opaque to its fusion, e.g. nn.silu's kernel
        # could not take the multiply that follows it).
        if _core._compile_mode() == "disabled" or _core._in_compile_trace():
            return self._fun(*args, **kwargs)
        fast_key = None
        if not kwargs and self._inputs is None and self._outputs is None and all(
            type(a) is _core.array for a in args
        ):
            shapes = tuple(a.ndim for a in args) if self._shapeless else tuple(a.shape for a in args)
            fast_key = (tuple(a.dtype for a in args), shapes, _core.default_device())
            entry = self._array_args_cache.get(fast_key)
            if entry is not None:
                graph, out_def, n_out = entry
                return unflatten(out_def, graph(list(args))[:n_out])
        leaves, treedef = flatten((args, kwargs))
        in_slots = _state_slots(self._inputs, []) if self._inputs is not None else []
        state_in = [c[k] for c, k in in_slots]
        all_in = leaves + state_in
        sig = tuple((a.dtype, a.ndim if self._shapeless else tuple(a.shape)) for a in all_in)
        key = (_key_of(treedef), len(state_in), sig, repr(_core.default_device()))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(treedef, len(leaves), in_slots, all_in)
            self._cache[key] = entry
        if fast_key is not None:
            self._array_args_cache[fast_key] = entry
        graph, out_def, n_out = entry
        results = graph(all_in)
        if self._outputs is not None:
            out_slots = _state_slots(self._outputs, [])
            if len(out_slots) != len(results) - n_out:
                raise ValueError("[compile] The captured output state changed structure since the function was "
                                 "traced.")
            _write(out_slots, results[n_out:])
        return unflatten(out_def, results[:n_out])

    def _trace(self, treedef, n_args, in_slots, all_in):
        info = {}

        def flat_fun(xs):
            _write(in_slots, xs[n_args:])  # the function reads its state through the placeholders
            args, kwargs = unflatten(treedef, xs[:n_args])
            out_leaves, out_def = flatten(self._fun(*args, **kwargs))
            _key_of(out_def)
            info["def"], info["n"] = out_def, len(out_leaves)
            state_out = []
            if self._outputs is not None:
                state_out = [c[k] for c, k in _state_slots(self._outputs, [])]
            return out_leaves + state_out

        originals = all_in[n_args:]
        try:
            graph = _core._CompiledGraph(flat_fun, all_in, self._shapeless)
        finally:
            # Placeholders must not stay in the state: put the real arrays back
            # (output state gets the results after the call).
            _write(in_slots, originals)
        return graph, info["def"], info["n"]


# Caches shared by every compile of the same function with the same options,
# so `compile(fun)(x)` in a loop traces once, as in MLX; dropped with the function.
_caches = {}


def _cache_for(fun, inputs, outputs, shapeless):
    key = (id(fun), id(inputs), id(outputs), shapeless)
    cache = _caches.get(key)
    if cache is not None:
        return cache
    cache = {}
    try:
        weakref.finalize(fun, _caches.pop, key, None)
    except TypeError:  # not weakly referenceable: the cache lives with the wrapper
        return cache
    _caches[key] = cache
    return cache


def compile(fun, inputs=None, outputs=None, shapeless=False):
    """Returns a function computing the same outputs as ``fun``, traced once
    per input signature (array dtypes and shapes -- with ``shapeless`` only
    their number of dimensions --, the tree structure and constant arguments)
    into a simplified graph whose elementwise chains run as fused kernels.

    ``inputs`` and ``outputs`` are trees (lists and dicts) of state the
    function reads and updates implicitly, such as a model's parameters and
    an optimizer's state: the arrays in ``inputs`` are traced like
    arguments, and after each call the arrays of ``outputs`` are replaced by
    their new values."""
    if not callable(fun):
        raise TypeError(f"[compile] Expected a callable, got {type(fun).__name__}.")
    return _Compiled(fun, inputs, outputs, bool(shapeless), _cache_for(fun, inputs, outputs, bool(shapeless)))
