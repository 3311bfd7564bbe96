"""Large language models on lmx, with mlx_lm's API: ``from lmx.lm import load, generate``.

The top-level names are resolved on first use so that importing ``lmx.lm`` (or one of its
submodules) does not load every model, tokenizer and converter up front.
"""

import importlib

__all__ = ["batch_generate", "convert", "generate", "load", "stream_generate"]

# public name -> submodule defining it
_EXPORTS = {
    "load": "utils",
    "generate": "generate",
    "stream_generate": "generate",
    "batch_generate": "generate",
    "convert": "convert",
}


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lmx.lm' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{module_name}")
    try:
        value = getattr(module, name)
    except AttributeError:
        raise AttributeError(
            f"[lmx.lm] {name!r} is not available: lmx.lm.{module_name} does not define it."
        ) from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
