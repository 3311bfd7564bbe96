"""Key/value caches for autoregressive decoding, with mlx_lm's classes and helpers.

Every cache stores keys and values as (B, n_kv_heads, S, head_dim) and hands attention the
keys/values seen so far from ``update_and_fetch``. ``state`` (the arrays in use) and
``meta_state`` (counters as strings) describe a cache and ``from_state`` rebuilds one;
``save_prompt_cache`` writes files in mlx_lm's current layout.
"""

from typing import Any, Dict, List, Optional

import lmx.core as mx
from lmx.utils import tree_flatten, tree_map, tree_unflatten

__all__ = [
    "BatchKVCache",
    "KVCache",
    "QuantizedKVCache",
    "RotatingKVCache",
    "can_trim_prompt_cache",
    "create_attention_mask",
    "load_prompt_cache",
    "make_prompt_cache",
    "save_prompt_cache",
    "trim_prompt_cache",
]


def create_attention_mask(N: int, offset: int, return_array: bool, window_size: Optional[int]):
    """Mask for N new queries after ``offset`` cached tokens: None, "causal" or a boolean array."""
    if N == 1:
        return None
    if return_array or window_size is not None:
        from .base import create_causal_mask  # base imports nothing from here; lazy keeps it so

        return create_causal_mask(N, offset, window_size=window_size)
    return "causal"


def _check_kv(name, keys, values):
    if keys.ndim != 4 or values.ndim != 4:
        raise ValueError(
            f"[{name}.update_and_fetch] keys and values must be (B, n_kv_heads, S, head_dim), "
            f"got shapes {tuple(keys.shape)} and {tuple(values.shape)}."
        )
    if keys.shape[:3] != values.shape[:3]:
        raise ValueError(
            f"[{name}.update_and_fetch] keys {tuple(keys.shape)} and values {tuple(values.shape)} "
            "disagree on batch, heads or length."
        )


def _grow(buffer, prev, incoming, step):
    """``buffer`` cut to its ``prev`` used rows, then extended along axis 2 by enough whole
    steps to take ``incoming``."""
    n_steps = (step + incoming.shape[2] - 1) // step
    shape = (*incoming.shape[:2], n_steps * step, incoming.shape[3])
    fresh = mx.zeros(shape, dtype=incoming.dtype)
    if buffer is None:
        return fresh
    if prev % step != 0:
        buffer = buffer[..., :prev, :]
    return mx.concatenate([buffer, fresh], axis=2)


class _BaseCache:
    @property
    def state(self):
        return []

    @state.setter
    def state(self, v):
        if v is not None and len(v) > 0:
            raise ValueError(f"[{type(self).__name__}] This cache has no state but one was given.")

    # Integer attributes that meta_state carries as strings, in mlx_lm's order.
    _meta_fields = ()

    @property
    def meta_state(self):
        if not self._meta_fields:
            return ""
        return tuple(str(getattr(self, name)) for name in self._meta_fields)

    @meta_state.setter
    def meta_state(self, v):
        if not self._meta_fields:
            if v is not None and len(v) > 0:
                raise ValueError(f"[{type(self).__name__}] This cache has no meta state but one was given.")
            return
        if len(v) != len(self._meta_fields):
            raise ValueError(
                f"[{type(self).__name__}] meta_state needs {len(self._meta_fields)} values "
                f"({', '.join(self._meta_fields)}), got {len(v)}."
            )
        for name, value in zip(self._meta_fields, v):
            setattr(self, name, int(value))

    def is_trimmable(self):
        return False

    def size(self):
        return 0

    @property
    def nbytes(self):
        return sum(a.nbytes for _, a in tree_flatten(self.state))

    def empty(self):
        return True

    @classmethod
    def from_state(cls, state, meta_state):
        """A cache of this class holding ``state`` / ``meta_state`` (bypasses __init__)."""
        obj = cls.__new__(cls)
        obj.state = state
        obj.meta_state = meta_state
        return obj


class _CountedCache(_BaseCache):
    """A cache whose first ``_filled()`` tokens are in use, in order, so trimming just lowers
    the count. The count is ``offset`` unless a subclass says otherwise."""

    def _filled(self):
        return self.offset

    def _advance(self, n):
        self.offset += n

    def size(self):
        return self._filled()

    def empty(self):
        return self.keys is None

    def is_trimmable(self):
        return True

    def trim(self, n):
        n = min(self._filled(), n)
        self._advance(-n)
        return n

    def make_mask(self, N: int, return_array: bool = False, window_size: Optional[int] = None):
        return create_attention_mask(N, self.offset, return_array=return_array, window_size=window_size)


class _GrowingKVCache(_CountedCache):
    """Keys/values in buffers grown ``step`` tokens at a time so decoding rarely reallocates."""

    step = 256

    def update_and_fetch(self, keys, values):
        _check_kv(type(self).__name__, keys, values)
        prev = self._filled()
        S = keys.shape[2]
        if self.keys is None or prev + S > self.keys.shape[2]:
            self.keys = _grow(self.keys, prev, keys, self.step)
            self.values = _grow(self.values, prev, values, self.step)
        self._advance(S)
        self.keys[..., prev : prev + S, :] = keys
        self.values[..., prev : prev + S, :] = values
        return self.keys_and_values()

    def keys_and_values(self):
        if self.keys is None:
            return None, None
        n = self._filled()
        return self.keys[..., :n, :], self.values[..., :n, :]


class KVCache(_GrowingKVCache):
    """The plain growing cache; ``offset`` counts the tokens stored."""

    def __init__(self):
        self.keys = None
        self.values = None
        self.offset = 0

    @property
    def state(self):
        if self.keys is None:
            return []
        if self.offset == self.keys.shape[2]:
            return self.keys, self.values
        return self.keys_and_values()

    @state.setter
    def state(self, v):
        if v is None or len(v) == 0:
            self.keys = self.values = None
            self.offset = 0
            return
        self.keys, self.values = v
        self.offset = self.keys.shape[2]

    def to_quantized(self, group_size: int = 64, bits: int = 4) -> "QuantizedKVCache":
        quantized = QuantizedKVCache(group_size=group_size, bits=bits)
        quantized.offset = self.offset
        if self.keys is not None:
            quantized.keys = mx.quantize(self.keys, group_size=group_size, bits=bits)
            quantized.values = mx.quantize(self.values, group_size=group_size, bits=bits)
        return quantized


class RotatingKVCache(_BaseCache):
    """Keeps the first ``keep`` tokens and the most recent ones, at most ``max_size`` in all.

    Single-token steps write in place into a ring buffer; multi-token updates put the buffer
    back in temporal order and concatenate, keeping max_size - 1 old tokens so that every new
    token still sees max_size keys.
    """

    step = 256
    _meta_fields = ("keep", "max_size", "offset", "_idx")

    def __init__(self, max_size, keep=0):
        if not isinstance(max_size, int) or max_size <= 0:
            raise ValueError(f"[RotatingKVCache] max_size must be a positive integer, got {max_size!r}.")
        if not isinstance(keep, int) or not 0 <= keep < max_size:
            raise ValueError(f"[RotatingKVCache] keep must be in [0, max_size), got {keep!r}.")
        self.keep = keep
        self.max_size = max_size
        self.keys = None
        self.values = None
        self.offset = 0
        self._idx = 0

    def _trim(self, trim_size, v, append=None):
        """Drop ``trim_size`` tokens right after the kept prefix, then append ``append``."""
        parts = [v[..., : self.keep, :], v[..., trim_size + self.keep :, :]] if trim_size > 0 else [v]
        if append is not None:
            parts.append(append)
        return mx.concatenate(parts, axis=2)

    def _temporal_order(self, v):
        """The ring buffer rearranged oldest-to-newest (kept prefix first)."""
        if self._idx == v.shape[2]:
            return v
        if self._idx < self.offset:
            return mx.concatenate(
                [v[..., : self.keep, :], v[..., self._idx :, :], v[..., self.keep : self._idx, :]], axis=2
            )
        return v[..., : self._idx, :]

    def _update_concat(self, keys, values):
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            self.keys = self._temporal_order(self.keys)
            self.values = self._temporal_order(self.values)
            self._idx = self.keys.shape[2]
            trim_size = self._idx - self.max_size + 1
            self.keys = self._trim(trim_size, self.keys, keys)
            self.values = self._trim(trim_size, self.values, values)
        self.offset += keys.shape[2]
        self._idx = self.keys.shape[2]
        return self.keys, self.values

    def _update_in_place(self, keys, values):
        prev = self.offset
        S = keys.shape[2]
        if self.keys is None or (prev >= self.keys.shape[2] and self.keys.shape[2] < self.max_size):
            new_size = min(self.step, self.max_size - prev)
            k_new = mx.zeros((*keys.shape[:2], new_size, keys.shape[3]), dtype=keys.dtype)
            v_new = mx.zeros((*values.shape[:2], new_size, values.shape[3]), dtype=values.dtype)
            if self.keys is not None:
                self.keys = mx.concatenate([self.keys, k_new], axis=2)
                self.values = mx.concatenate([self.values, v_new], axis=2)
            else:
                self.keys, self.values = k_new, v_new
            self._idx = prev

        # A previous multi-token update may have left more than max_size tokens.
        trim_size = self.keys.shape[2] - self.max_size
        if trim_size > 0:
            self.keys = self._trim(trim_size, self.keys)
            self.values = self._trim(trim_size, self.values)
            self._idx = self.max_size

        if self._idx == self.max_size:
            self._idx = self.keep  # wrap around, never overwriting the kept prefix

        self.keys[..., self._idx : self._idx + S, :] = keys
        self.values[..., self._idx : self._idx + S, :] = values
        self.offset += S
        self._idx += S

        if self.offset < self.max_size:
            return self.keys[..., : self.offset, :], self.values[..., : self.offset, :]
        return self.keys, self.values

    def update_and_fetch(self, keys, values):
        _check_kv("RotatingKVCache", keys, values)
        if keys.shape[2] == 1:
            return self._update_in_place(keys, values)
        return self._update_concat(keys, values)

    def keys_and_values(self):
        if self.keys is None:
            return None, None
        if self.offset < self.keys.shape[2]:
            return self.keys[..., : self.offset, :], self.values[..., : self.offset, :]
        return self.keys, self.values

    def size(self):
        return min(self.offset, self.max_size)

    def empty(self):
        return self.keys is None

    @property
    def state(self):
        if self.keys is None:
            return []
        return self.keys_and_values()

    @state.setter
    def state(self, v):
        if v is None or len(v) == 0:
            self.keys = self.values = None
            return
        self.keys, self.values = v

    def is_trimmable(self):
        # Once tokens were evicted they cannot be brought back.
        return self.offset < self.max_size

    def trim(self, n):
        n = min(self.offset, n)
        self.offset -= n
        self._idx -= n
        return n

    def to_quantized(self, group_size: int = 64, bits: int = 4):
        raise NotImplementedError(
            "[RotatingKVCache.to_quantized] Quantizing a rotating cache is not supported."
        )

    def make_mask(self, N: int, window_size: Optional[int] = None, return_array: bool = False):
        from .base import create_causal_mask

        if N > 1:
            window_size = window_size or self.max_size
            offset = min(self.max_size - 1, self.offset)
            if offset + N > window_size or return_array:
                return create_causal_mask(N, offset, window_size=window_size)
            return "causal"
        if window_size is None:
            return None
        # A window narrower than the ring: mark the window_size slots ending where the new
        # token will be written.
        if self.offset >= window_size and self.max_size > window_size:
            idx = self._idx if self._idx < self.max_size else 0
            size = min(self.max_size, self.offset + 1)
            mask = mx.arange(size) >= (size - window_size)
            return mx.roll(mask, shift=idx + 1)
        return None


class QuantizedKVCache(_CountedCache):
    """Stores keys/values affine-quantised; ``update_and_fetch`` returns (packed, scales, biases)
    tuples for ``quantized_scaled_dot_product_attention``."""

    step = 256
    _meta_fields = ("step", "offset", "group_size", "bits")

    def __init__(self, group_size: int = 64, bits: int = 8):
        self.keys = None
        self.values = None
        self.offset = 0
        self.group_size = group_size
        self.bits = bits

    def update_and_fetch(self, keys, values):
        _check_kv("QuantizedKVCache", keys, values)
        B, n_kv_heads, S, k_dim = keys.shape
        v_dim = values.shape[3]
        prev = self.offset
        if self.keys is None or prev + S > self.keys[0].shape[2]:
            per_word = 32 // self.bits
            n_new = (self.step + S - 1) // self.step * self.step
            lead = (B, n_kv_heads, n_new)

            def fresh(dim):
                return (
                    mx.zeros((*lead, dim // per_word), dtype=mx.uint32),
                    mx.zeros((*lead, dim // self.group_size), dtype=keys.dtype),
                    mx.zeros((*lead, dim // self.group_size), dtype=keys.dtype),
                )

            def extend(x):
                x = x[..., :prev, :] if prev % self.step != 0 else x
                return mx.concatenate([x, mx.zeros((*lead, x.shape[3]), dtype=x.dtype)], axis=2)

            if self.keys is None:
                self.keys, self.values = fresh(k_dim), fresh(v_dim)
            else:
                self.keys, self.values = tree_map(extend, (self.keys, self.values))

        self.offset += S
        new_keys = mx.quantize(keys, group_size=self.group_size, bits=self.bits)
        new_values = mx.quantize(values, group_size=self.group_size, bits=self.bits)
        for buf, new in zip(self.keys + self.values, new_keys + new_values):
            buf[..., prev : self.offset, :] = new
        return self.keys_and_values()

    def keys_and_values(self):
        if self.keys is None:
            return None, None
        return tree_map(lambda x: x[..., : self.offset, :], (self.keys, self.values))

    @property
    def state(self):
        if self.keys is None:
            return []
        if self.offset == self.keys[0].shape[2]:
            return self.keys, self.values
        return self.keys_and_values()

    @state.setter
    def state(self, v):
        if v is None or len(v) == 0:
            self.keys = self.values = None
            return
        self.keys, self.values = (tuple(x) for x in v)


class BatchKVCache(_GrowingKVCache):
    """A KVCache for a batch of left-padded sequences of different lengths.

    ``offset`` is a per-sequence array of positions (negative inside the padding) for RoPE;
    masks hide each sequence's padding from its queries.
    """

    def __init__(self, left_padding: List[int]):
        if not left_padding or any((not isinstance(p, int)) or p < 0 for p in left_padding):
            raise ValueError(
                f"[BatchKVCache] left_padding must be non-negative integers, got {left_padding!r}."
            )
        self.keys = None
        self.values = None
        self.left_padding = mx.array(left_padding)
        self.offset = mx.array([-p for p in left_padding])
        self._idx = 0

    def _filled(self):
        return self._idx

    def _advance(self, n):
        self._idx += n
        self.offset = self.offset + n  # a new array: callers may hold the old offsets

    @property
    def state(self):
        if self.keys is None:
            return []
        keys, values = self.keys_and_values()
        return keys, values, self.offset, self.left_padding

    @state.setter
    def state(self, v):
        if v is None or len(v) == 0:
            self.keys = self.values = None
            self._idx = 0
            return
        self.keys, self.values, self.offset, self.left_padding = v
        self._idx = self.keys.shape[2]

    def filter(self, batch_indices):
        """Keep only the sequences at ``batch_indices`` (e.g. drop finished ones)."""
        index = mx.array(batch_indices)
        if self.keys is not None:
            self.keys, self.values = self.keys[index], self.values[index]
        self.offset = self.offset[index]
        self.left_padding = self.left_padding[index]

    def make_mask(self, N: int, return_array: bool = False, window_size: Optional[int] = None):
        from .base import create_causal_mask

        return create_causal_mask(N, self._idx, window_size=window_size, left_padding=self.left_padding)


def make_prompt_cache(model, max_kv_size: Optional[int] = None) -> List[Any]:
    """One cache per layer: the model's own ``make_cache()`` if it has one, else rotating caches
    of ``max_kv_size`` (keeping 4 tokens) or growing KVCaches."""
    if hasattr(model, "make_cache"):
        return model.make_cache()
    if not hasattr(model, "layers"):
        raise TypeError("[make_prompt_cache] The model has neither make_cache() nor layers.")
    num_layers = len(model.layers)
    if max_kv_size is not None:
        return [RotatingKVCache(max_size=max_kv_size, keep=4) for _ in range(num_layers)]
    return [KVCache() for _ in range(num_layers)]


# What a prompt-cache file records of each class, in mlx_lm's order: whole buffers plus the
# counters. Files hold arrays "i.j" (field j of cache i; quantised tuples as "i.j.t") and
# metadata "0.*" (the user's), "1.i" (class names) and "2.*" = ["", [array key, "scalar" or
# "none"], ...] marking the fields stored as 0-d arrays (ints) or empty placeholders (None).
_RECORD_FIELDS = {
    KVCache: ("keys", "values", "offset"),
    RotatingKVCache: ("keys", "values", "offset", "keep", "max_size", "_idx"),
    QuantizedKVCache: ("keys", "values", "offset", "group_size", "bits"),
    BatchKVCache: ("keys", "values", "offset", "left_padding", "_idx"),
}
_CACHE_CLASSES = {cls.__name__: cls for cls in _RECORD_FIELDS}


def save_prompt_cache(file_name: str, cache: List[Any], metadata: Optional[Dict[str, str]] = None):
    """Write the caches to a .safetensors file in mlx_lm's layout; string ``metadata`` travels along."""
    metadata = {} if metadata is None else metadata
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("[save_prompt_cache] metadata must map strings to strings.")
    arrays, markers = {}, [""]
    for i, c in enumerate(cache):
        if type(c) not in _RECORD_FIELDS:
            raise TypeError(f"[save_prompt_cache] Cannot save a {type(c).__name__}.")
        for j, field in enumerate(_RECORD_FIELDS[type(c)]):
            key, value = f"{i}.{j}", getattr(c, field)
            if value is None:
                arrays[key] = mx.zeros((0,))
                markers.append([key, "none"])
            elif isinstance(value, int):
                arrays[key] = mx.array(value)
                markers.append([key, "scalar"])
            elif isinstance(value, tuple):
                arrays.update({f"{key}.{t}": a for t, a in enumerate(value)})
            else:
                arrays[key] = value
    info = [metadata, [type(c).__name__ for c in cache], markers]
    mx.save_safetensors(file_name, arrays, dict(tree_flatten(info)))


def _cache_class(name, file_name):
    if name not in _CACHE_CLASSES:
        raise ValueError(f"[load_prompt_cache] Unknown cache class {name!r} in {file_name}.")
    return _CACHE_CLASSES[name]


def _load_records(arrays, info, file_name):
    metadata, class_names, markers = tree_unflatten(list(info.items()))
    for key, kind in markers[1:]:
        arrays[key] = None if kind == "none" else int(arrays[key].item())
    records = tree_unflatten(list(arrays.items())) if arrays else []
    cache = []
    for name, record in zip(class_names, records):
        cls = _cache_class(name, file_name)
        obj = cls.__new__(cls)
        for field, value in zip(_RECORD_FIELDS[cls], record):
            setattr(obj, field, tuple(value) if isinstance(value, list) else value)
        cache.append(obj)
    return cache, metadata


def _load_state_files(arrays, info, file_name):
    """Files of earlier mlx_lm versions: "i.j" state arrays, metadata [meta_states, user, class names]."""
    states = tree_unflatten(list(arrays.items())) if arrays else []
    meta_states, metadata, class_names = tree_unflatten(list(info.items()))
    cache = []
    for i, name in enumerate(class_names):
        state = states[i] if i < len(states) else []
        cache.append(_cache_class(name, file_name).from_state(state, meta_states[i]))
    return cache, metadata


def load_prompt_cache(file_name, return_metadata=False):
    """The caches saved by ``save_prompt_cache`` (this or earlier mlx_lm layouts), and the
    metadata when ``return_metadata``."""
    arrays, info = mx.load(file_name, return_metadata=True)
    if not info:
        return ([], {}) if return_metadata else []
    # mlx_lm's current layout starts its marker list with ""; earlier ones put class names there
    loader = _load_records if info.get("2.0") == "" else _load_state_files
    cache, metadata = loader(dict(arrays), info, file_name)
    if return_metadata:
        return cache, metadata
    return cache


def can_trim_prompt_cache(cache: List[Any]) -> bool:
    return all(c.is_trimmable() for c in cache)


def trim_prompt_cache(cache: List[Any], num_tokens: int) -> List[Any]:
    """Remove up to ``num_tokens`` most recent tokens from every cache; returns how many were removed."""
    if not can_trim_prompt_cache(cache) or len(cache) == 0:
        return 0
    trimmed = [c.trim(num_tokens) for c in cache]  # every cache, not just the first
    return trimmed[0]
