"""Large language models on lmx, with mlx_lm's API: ``from lmx.lm import load, generate``.

``generate`` and ``convert`` are imported eagerly, as in mlx_lm: they share their names with
submodules, and a lazy lookup would hand out the submodule once it had been imported. A piece
that fails to import is reported when its name is used, not when the package is imported.
"""

__all__ = ["batch_generate", "convert", "generate", "load", "stream_generate"]

_unavailable = {}  # public name -> the ImportError that kept it out

try:
    from .generate import batch_generate, generate, stream_generate
except ImportError as e:  # pragma: no cover - only while a dependency is missing
    _unavailable.update(dict.fromkeys(("batch_generate", "generate", "stream_generate"), e))
try:
    from .utils import load
except ImportError as e:  # pragma: no cover
    _unavailable["load"] = e
try:
    from .convert import convert
except ImportError as e:  # pragma: no cover
    _unavailable["convert"] = e


def __getattr__(name):
    if name in _unavailable:
        raise ImportError(f"[lmx.lm] {name!r} is unavailable: {_unavailable[name]}") from _unavailable[name]
    raise AttributeError(f"module 'lmx.lm' has no attribute {name!r}")
