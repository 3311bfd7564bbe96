"""Arrays, ops, devices and evaluation: the counterpart of ``mlx.core``."""

import contextlib as _contextlib

from lmx._core import *  # noqa: F401,F403
from lmx._core import __all__ as _core_all
from lmx import _core
from lmx.core import _array_methods
from lmx.core._array_methods import ArrayAt
from lmx.core._transforms import checkpoint, custom_function, grad, jvp, value_and_grad, vjp, vmap
from lmx.core._aliases import *  # noqa: F401,F403
from lmx.core._aliases import __all__ as _aliases_all

_array_methods.install()


def stream(s):
    """Makes ``s`` (a Stream or a Device) the default for ops inside the block."""
    # Checked here, not on entering the block, so a bad argument fails at the call.
    if not isinstance(s, (_core.Stream, _core.Device, _core.DeviceType)):
        raise TypeError(f"stream() takes a Stream, Device or DeviceType, not {type(s).__name__}.")
    return _stream_context(s)


@_contextlib.contextmanager
def _stream_context(s):
    old_device = _core.default_device()
    if isinstance(s, _core.Stream):
        old_stream = _core.default_stream(s.device)
        _core.set_default_device(s.device)
        _core.set_default_stream(s)
    else:
        device = s if isinstance(s, _core.Device) else _core.Device(s)
        old_stream = None
        _core.set_default_device(device)
    try:
        yield
    finally:
        if old_stream is not None:
            _core.set_default_stream(old_stream)
        _core.set_default_device(old_device)


__all__ = list(_core_all) + list(_aliases_all) + ["stream", "ArrayAt", "grad", "value_and_grad", "vjp", "jvp", "vmap", "custom_function", "checkpoint"]
