"""Argument checks shared by the layers that work on channels-last spatial data
(convolutions, transposed convolutions, pooling)."""

from lmx.nn.layers._checks import check_array


def as_tuple(value, n, name, layer):
    """``value`` (an int, or a sequence of ``n`` ints) as a tuple of ``n`` ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if (
        isinstance(value, (tuple, list))
        and len(value) == n
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return tuple(value)
    raise ValueError(
        f"[{layer}] '{name}' must be an integer or a tuple containing {n} integers, got {value!r}."
    )


def check_at_least(values, minimum, name, layer):
    """Raises ValueError unless every entry of ``values`` is >= ``minimum``."""
    if any(v < minimum for v in values):
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"[{layer}] '{name}' must be {what} but got {values}.")


def check_channels_last_input(x, spatial_dims, channels, layer):
    """Raises ValueError unless ``x`` is ``(N, *spatial, C)`` with ``spatial_dims``
    spatial axes and, when ``channels`` is given, ``C == channels``."""
    check_array(x, layer)
    if x.ndim != spatial_dims + 2:
        layout = {1: "NLC", 2: "NHWC", 3: "NDHWC"}[spatial_dims]
        raise ValueError(
            f"[{layer}] Expected a {spatial_dims + 2}-D input ({layout}, channels last) "
            f"but got shape {tuple(x.shape)}."
        )
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(
            f"[{layer}] Expected {channels} input channels (the last axis) but got shape {tuple(x.shape)}."
        )
