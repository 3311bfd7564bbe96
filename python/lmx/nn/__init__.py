"""Neural-network layers, losses and initialisers: the counterpart of ``mlx.nn``."""

from lmx.nn.layers import *  # noqa: F401,F403
from lmx.nn import init, losses  # noqa: F401
from lmx.nn.utils import *  # noqa: F401,F403
