"""Device, stream and memory helpers of ``mlx.core`` that are plain Python here."""

import os
import platform
import types
from typing import Any, Union

from lmx import _core

_wired_limit = 0

# What ops accept as an array: arrays, Python scalars, nested sequences and
# buffer/DLPack objects (for type annotations, as MLX's ArrayLike).
ArrayLike = Union[_core.array, bool, int, float, complex, list, tuple, Any]


def new_thread_unsafe_stream(device):
    """A new stream usable from any thread (every lmx stream is)."""
    return _core.new_stream(device)


class StreamContext:
    """Makes ``s`` (a Stream or a Device) the default for ops inside a ``with`` block."""

    def __init__(self, s):
        # Checked here, not on entering the block, so a bad argument fails at the call.
        if not isinstance(s, (_core.Stream, _core.ThreadLocalStream, _core.Device, _core.DeviceType)):
            raise TypeError(
                f"stream() takes a Stream, ThreadLocalStream, Device or DeviceType, not {type(s).__name__}."
            )
        self._target = s
        self._saved = []

    def __enter__(self):
        s = self._target
        if isinstance(s, _core.ThreadLocalStream):
            s = _core._thread_stream(s)  # the entering thread's own stream
        old_device = _core.default_device()
        if isinstance(s, _core.Stream):
            old_stream = _core.default_stream(s.device)
            _core.set_default_device(s.device)
            _core.set_default_stream(s)
        else:
            old_stream = None
            _core.set_default_device(s if isinstance(s, _core.Device) else _core.Device(s))
        self._saved.append((old_device, old_stream))
        return self

    def __exit__(self, *exc):
        old_device, old_stream = self._saved.pop()
        if old_stream is not None:
            _core.set_default_stream(old_stream)
        _core.set_default_device(old_device)
        return False


def stream(s):
    """A context manager that makes ``s`` (a Stream or a Device) the default."""
    return StreamContext(s)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(d=None):
    """Properties of a device (default: the default device) as a dict."""
    d = _core.default_device() if d is None else d
    if isinstance(d, _core.DeviceType):
        d = _core.Device(d)
    if not isinstance(d, _core.Device):
        raise TypeError(f"[device_info] Expected a Device or DeviceType, got {type(d).__name__}.")
    if d.type != _core.cpu:
        if not _core.is_available(d):
            raise ValueError("[device_info] No GPU is available: lmx was built without CUDA or no NVIDIA device was found.")
        return _core._gpu_device_info()
    info = {"architecture": platform.machine(), "device_name": _cpu_name()}
    try:
        info["memory_size"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        pass
    return info


def set_wired_limit(limit):
    """Records the wired-memory limit and returns the previous one. Wiring is a
    macOS (Metal) feature: on Linux the value has no effect, as in MLX there."""
    global _wired_limit
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError(f"[set_wired_limit] The limit must be a non-negative integer, got {limit!r}.")
    previous, _wired_limit = _wired_limit, limit
    return previous


def get_array_buffer_size(*arrays):
    """Bytes of the buffers behind ``arrays`` (each shared buffer counted once)."""
    sizes = {}
    for a in arrays:
        if not isinstance(a, _core.array):
            raise TypeError(f"[get_array_buffer_size] Expected arrays, got {type(a).__name__}.")
        address, size = a._buffer_info()
        if address:
            sizes[address] = size
    return sum(sizes.values())


def _availability_module(name, doc, is_available):
    m = types.ModuleType(f"lmx.core.{name}", doc)
    m.is_available = is_available
    return m


metal = _availability_module("metal", "Apple's Metal backend: never available in lmx.", lambda: False)
cuda = _availability_module(
    "cuda", "The CUDA backend: available when lmx was built with CUDA and an NVIDIA GPU is present.",
    lambda: _core.is_available(_core.gpu))

__all__ = ["ArrayLike", "new_thread_unsafe_stream", "StreamContext", "stream", "device_info", "set_wired_limit", "get_array_buffer_size", "metal", "cuda"]
