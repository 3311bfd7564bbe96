"""Optimizers and learning-rate schedules: the counterpart of ``mlx.optimizers``."""

from lmx.optimizers.optimizers import *  # noqa: F401,F403
from lmx.optimizers.schedulers import *  # noqa: F401,F403
