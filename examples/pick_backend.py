"""Picks the array framework an example runs on: lmx, or MLX's own build.

The examples are written against MLX's API, so the same code runs on both;
only the imports differ.
"""

import importlib

BACKENDS = ("lmx", "mlx")


def load_backend(name):
    """Returns the ``(core, nn, optimizers)`` modules of backend ``name``."""
    if name not in BACKENDS:
        raise ValueError(f"[load_backend] Unknown backend {name!r}; expected one of {BACKENDS}.")
    return tuple(importlib.import_module(f"{name}.{part}") for part in ("core", "nn", "optimizers"))
