"""Optimizers and learning-rate schedules: the counterpart of ``mlx.optimizers``."""
