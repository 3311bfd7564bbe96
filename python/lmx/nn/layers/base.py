"""``Module``, the base class of every layer (``mlx.nn.Module``).

A module is a ``dict`` of its members: arrays are parameters, other modules
(directly or inside lists and dicts) are children. Other attributes (ints,
strings, flags) live in the ordinary ``__dict__`` and are not part of the tree.
Members are read and written as attributes (``model.layers[0].weight``).
"""

import os
from textwrap import indent

import lmx.core as mx
from lmx.utils import tree_flatten, tree_unflatten

__all__ = ["Module"]

# Values that make an attribute a member of the module's tree.
_TREE_TYPES = (mx.array, dict, list, tuple)


class Module(dict):
    """Base class of layers and models; subclasses define ``__call__``."""

    def __init__(self):
        self._no_grad = set()
        self._training = True

    # ----- members as attributes -------------------------------------------------

    def __getattr__(self, key):
        # Only reached when normal lookup fails, so methods and __dict__ win.
        if key in self:
            return self[key]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def __setattr__(self, key, value):
        if isinstance(value, _TREE_TYPES):
            self.__dict__.pop(key, None)
            self[key] = value
        else:
            # A member replaced by a plain value (e.g. ``bias = None``) leaves the tree.
            self.pop(key, None)
            object.__setattr__(self, key, value)

    def __delattr__(self, key):
        if key in self:
            del self[key]
        else:
            object.__delattr__(self, key)

    # ----- representation ---------------------------------------------------------

    def _extra_repr(self):
        return ""

    def __repr__(self):
        children = tree_flatten(self.children(), is_leaf=self.is_module)
        text = f"{type(self).__name__}({self._extra_repr()}"
        for name, child in children:
            text += "\n" + indent(f"({name}): {child!r}", "  ")
        return text + ("\n)" if children else ")")

    # ----- state ------------------------------------------------------------------

    @property
    def training(self):
        """Whether the module is in training mode (see :meth:`train`)."""
        return self._training

    @property
    def state(self):
        """The module's whole tree (parameters, children and other members): the module itself."""
        return self

    # ----- filters ----------------------------------------------------------------

    @staticmethod
    def is_module(value):
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module, key, value):
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value):
        return isinstance(value, (dict, list, mx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value):
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    def filter_and_map(self, filter_fn, map_fn=None, is_leaf_fn=None):
        """The subtree of members for which ``filter_fn(module, key, value)`` holds,
        with ``map_fn`` applied to its leaves.

        ``key`` is the member's dotted path inside the module that owns it (a
        member ``blocks = [a, {"y": w}]`` is seen as ``blocks``, ``blocks.0``,
        ``blocks.1.y``). Submodules are entered with their own keys. A filtered-out
        list or dict element stays as an empty dict so positions are kept.
        ``is_leaf_fn`` (default: anything but a module, dict or list) stops the descent.
        """
        map_fn = map_fn or (lambda x: x)
        is_leaf_fn = is_leaf_fn or (lambda m, k, v: not isinstance(v, (Module, dict, list)))
        walker = _FilterMap(filter_fn, map_fn, is_leaf_fn)
        return {k: walker.unwrap(self, k, v) for k, v in self.items() if filter_fn(self, k, v)}

    # ----- trees of parameters and modules ------------------------------------------

    def parameters(self):
        """All parameters (arrays of public members, recursively) as a tree of dicts and lists."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self):
        """The parameters that are not frozen."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self):
        """The direct submodules, in the tree of members that holds them."""
        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module))

    def leaf_modules(self):
        """The submodules that have no children, in the tree of members that holds them."""

        def is_leaf_module(module, key, value):
            return isinstance(value, Module) and not tree_flatten(value.children(), is_leaf=self.is_module)

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    def _walk_modules(self):
        # Depth first with an explicit stack (MLX's order: last child first). A module's
        # children are read after it is yielded, so a visitor may replace them.
        stack = [("", self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            prefix = "." + name if name else ""
            stack.extend(tree_flatten(module.children(), prefix=prefix, is_leaf=self.is_module))

    def named_modules(self):
        """``(dotted_name, module)`` for this module (name ``""``) and every submodule."""
        return list(self._walk_modules())

    def modules(self):
        """This module and every submodule, in :meth:`named_modules` order."""
        return [m for _, m in self._walk_modules()]

    # ----- updating -----------------------------------------------------------------

    def update(self, parameters, strict=True):
        """Replaces parameters with the arrays of ``parameters`` (a tree shaped like
        :meth:`parameters`, possibly partial). With ``strict``, a key the module lacks
        or a value whose kind differs from the member's raises ValueError."""
        _TreeUpdate("update", "parameter", lambda v: isinstance(v, mx.array), strict).run(self, parameters)
        return self

    def update_modules(self, modules, strict=True):
        """Replaces submodules with the modules of ``modules`` (a tree shaped like
        :meth:`children`, possibly partial); strict as in :meth:`update`."""
        _TreeUpdate("update_modules", "sub-module", self.is_module, strict).run(self, modules)
        return self

    def apply(self, map_fn, filter_fn=None):
        """Replaces each parameter selected by ``filter_fn`` (default: all) with ``map_fn(parameter)``."""
        self.update(self.filter_and_map(filter_fn or self.valid_parameter_filter, map_fn))
        return self

    def apply_to_modules(self, apply_fn):
        """Calls ``apply_fn(name, module)`` on this module and every submodule."""
        for name, module in self._walk_modules():
            apply_fn(name, module)
        return self

    def set_dtype(self, dtype, predicate=lambda t: mx.issubdtype(t, mx.floating)):
        """Casts the parameters whose dtype satisfies ``predicate`` (default: floating
        point ones; None: all) to ``dtype``."""
        predicate = predicate or (lambda t: True)
        self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)

    # ----- training mode and freezing -------------------------------------------------

    def train(self, mode=True):
        """Sets training mode (``mode=True``) or evaluation mode on every module."""
        mode = bool(mode)
        self.apply_to_modules(lambda _, m: m._set_training_mode(mode))
        return self

    def _set_training_mode(self, mode):
        """Records the mode; layers that keep other state per mode (QQLinear) extend it."""
        object.__setattr__(self, "_training", mode)

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def freeze(self, *, recurse=True, keys=None, strict=False):
        """Excludes parameters from :meth:`trainable_parameters`.

        ``keys`` (a name or a list; dotted paths for arrays inside containers)
        selects the local members to freeze, default all local parameters; with
        ``recurse`` every submodule does the same. ``strict`` raises KeyError for a
        key that no affected module has."""
        self._set_frozen("freeze", True, recurse, keys, strict)
        return self

    def unfreeze(self, *, recurse=True, keys=None, strict=False):
        """Makes frozen parameters trainable again; arguments as in :meth:`freeze`
        (without ``keys``, everything local is unfrozen)."""
        self._set_frozen("unfreeze", False, recurse, keys, strict)
        return self

    def _local_parameter_keys(self):
        local = self.filter_and_map(
            lambda m, k, v: m.valid_parameter_filter(m, k, v) and not isinstance(v, Module)
        )
        return [k for k, _ in tree_flatten(local)]

    def _set_frozen(self, caller, frozen, recurse, keys, strict):
        modules = self.modules() if recurse else [self]
        if isinstance(keys, str):
            keys = [keys]
        if keys is not None:
            keys = list(keys)
            if strict:
                for key in keys:
                    if not any(key in m or key in m._local_parameter_keys() for m in modules):
                        raise KeyError(f"[{caller}] Module doesn't contain member {key}.")
        for module in modules:
            if frozen:
                module._no_grad.update(module._local_parameter_keys() if keys is None else keys)
            elif keys is None:
                module._no_grad.clear()
            else:
                module._no_grad.difference_update(keys)

    # ----- weights on disk --------------------------------------------------------------

    def load_weights(self, file_or_weights, strict=True):
        """Loads parameters from a ``.npz``/``.safetensors`` file (via ``mx.load``) or
        from a list of ``(dotted_name, array)`` pairs (or a dict of them).

        With ``strict``, the names must be exactly those of :meth:`parameters` and
        each array must have its parameter's shape, otherwise ValueError."""
        if isinstance(file_or_weights, (str, os.PathLike)):
            path = os.fspath(file_or_weights)
            loaded = mx.load(path)
            if not isinstance(loaded, dict):
                raise ValueError(f"[load_weights] {path} holds a single array, not named weights.")
            weights = list(loaded.items())
        elif isinstance(file_or_weights, dict):
            weights = list(file_or_weights.items())
        else:
            weights = list(file_or_weights)
        for pair in weights:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
                raise TypeError(f"[load_weights] Expected (name, array) pairs, got {pair!r:.80}.")
        if strict:
            _check_weights(dict(tree_flatten(self.parameters())), weights)
        self.update(tree_unflatten(weights), strict=False)
        return self

    def save_weights(self, file):
        """Saves :meth:`parameters` to ``file``: ``.npz`` (``mx.savez``) or ``.safetensors``
        (``mx.save_safetensors``), keyed by dotted names."""
        path = os.fspath(file)
        weights = dict(tree_flatten(self.parameters()))
        if path.endswith(".npz"):
            mx.savez(path, **weights)
        elif path.endswith(".safetensors"):
            mx.save_safetensors(path, weights)
        else:
            raise ValueError(
                f"[save_weights] Unsupported file extension for {path}; use '.npz' or '.safetensors'."
            )


def _check_weights(expected, weights):
    """Raises ValueError unless ``weights`` names exactly the ``expected`` parameters
    with arrays of their shapes."""
    given = dict(weights)
    extra = sorted(set(given) - set(expected))
    if extra:
        raise ValueError(f"[load_weights] Received {len(extra)} parameters not in model: {', '.join(extra)}.")
    missing = sorted(set(expected) - set(given))
    if missing:
        raise ValueError(f"[load_weights] Missing {len(missing)} parameters: {', '.join(missing)}.")
    for name, value in given.items():
        if not isinstance(value, mx.array):
            raise ValueError(
                f"[load_weights] Expected an array for parameter {name}, got {type(value).__name__}."
            )
        if tuple(value.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"[load_weights] Expected shape {tuple(expected[name].shape)} but received shape "
                f"{tuple(value.shape)} for parameter {name}."
            )


class _FilterMap:
    """The recursion of :meth:`Module.filter_and_map`."""

    def __init__(self, filter_fn, map_fn, is_leaf_fn):
        self.filter_fn, self.map_fn, self.is_leaf_fn = filter_fn, map_fn, is_leaf_fn

    def unwrap(self, owner, key, value):
        if self.is_leaf_fn(owner, key, value):
            return self.map_fn(value)
        if isinstance(value, Module):
            return {k: self.unwrap(value, k, v) for k, v in value.items() if self.filter_fn(value, k, v)}
        if isinstance(value, dict):
            return {k: self._element(owner, f"{key}.{k}", v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._element(owner, f"{key}.{i}", v) for i, v in enumerate(value)]
        raise TypeError(f"[filter_and_map] Unexpected leaf of type {type(value).__name__} at '{key}'.")

    def _element(self, owner, key, value):
        return self.unwrap(owner, key, value) if self.filter_fn(owner, key, value) else {}


class _TreeUpdate:
    """Writes the leaves of a source tree into a module's members in place (the
    recursion of :meth:`Module.update` and :meth:`Module.update_modules`)."""

    def __init__(self, caller, what, is_value, strict):
        self.caller, self.what, self.is_value, self.strict = caller, what, is_value, strict

    def run(self, module, source):
        if isinstance(source, (dict, list)) and len(source) == 0:
            return  # tree_unflatten([]) is [], and an empty update changes nothing
        if not isinstance(source, dict):
            raise TypeError(f"[{self.caller}] Expected a dict of {self.what}s, got {type(source).__name__}.")
        self._into_dict(module, source, "")

    def _fail(self, message):
        if self.strict:
            raise ValueError(f"[{self.caller}] {message}")

    def _into_dict(self, target, source, path):
        for key, new in source.items():
            where = f"{path}{key}"
            if key not in target:
                self._fail(f'Module does not have {self.what} named "{where}".')
                continue
            target[key] = self._merge(target[key], new, where)

    def _into_list(self, target, source, path):
        for i, new in enumerate(source):
            if i >= len(target):
                self._fail(f'List index {i} of "{path}" is out of bounds for a list of length {len(target)}.')
                continue
            target[i] = self._merge(target[i], new, f"{path}.{i}")

    def _merge(self, current, new, where):
        """The value that replaces ``current`` (``current`` itself when updated in place)."""
        if self.is_value(new):
            if self.is_value(current):
                return new
        elif isinstance(new, (dict, list)) and len(new) == 0:
            return current  # an empty subtree (e.g. a filler of tree_unflatten) changes nothing
        elif isinstance(new, dict) and isinstance(current, dict):
            self._into_dict(current, new, where + ".")
            return current
        elif isinstance(new, list) and isinstance(current, list):
            self._into_list(current, new, where)
            return current
        self._fail(
            f'Received invalid type {type(new).__name__} for "{where}", which holds {type(current).__name__}.'
        )
        return current
