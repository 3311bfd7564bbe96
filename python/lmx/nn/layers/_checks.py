"""Argument checks shared by the dense layers (linear, embedding, dropout, normalisation)."""

import lmx.core as mx


def check_positive_int(value, name, layer):
    """Raises ValueError unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"[{layer}] '{name}' must be a positive integer, got {value!r}.")


def check_array(x, layer):
    if not isinstance(x, mx.array):
        raise TypeError(f"[{layer}] Expected an array input, got {type(x).__name__}.")


def check_features(x, features, layer, min_ndim=1):
    """Raises unless ``x`` is an array with at least ``min_ndim`` axes whose last axis has ``features`` entries."""
    # Layers call this once per forward pass (decode: hundreds of times per
    # token), so the passing case returns after the cheapest tests.
    if isinstance(x, mx.array) and x.ndim >= min_ndim and x.ndim and x.shape[-1] == features:
        return
    check_array(x, layer)
    if x.ndim < min_ndim:
        raise ValueError(
            f"[{layer}] Expected an input with at least {min_ndim} dimensions but got shape {tuple(x.shape)}."
        )
    if x.shape[-1] != features:
        raise ValueError(
            f"[{layer}] Expected {features} features in the last axis of the input but got shape {tuple(x.shape)}."
        )
