"""Every layer of ``lmx.nn``; each theme lives in its own module."""

# Each layer module is listed here once it exists.
from lmx.nn.layers.base import Module  # noqa: F401
from lmx.nn.layers.activations import *  # noqa: F401,F403
