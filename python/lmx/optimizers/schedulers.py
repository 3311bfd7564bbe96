"""Learning-rate schedules (``mlx.optimizers``): functions of the optimizer's step
count that return the learning rate to use at that step. Pass one as an
optimizer's ``learning_rate`` and it is evaluated before every update, at the
number of updates done so far (0 for the first)."""

import math
from typing import Callable, List

import lmx.core as mx

__all__ = ["exponential_decay", "step_decay", "cosine_decay", "linear_schedule", "join_schedules"]


def _require_positive(fn_name, arg_name, value):
    if value < 1:
        raise ValueError(f"[{fn_name}] {arg_name} must be at least 1, got {value}.")


def exponential_decay(init: float, decay_rate: float) -> Callable:
    """``init * decay_rate ** step``."""

    def schedule(step):
        return init * decay_rate**step

    return schedule


def step_decay(init: float, decay_rate: float, step_size: int) -> Callable:
    """``init * decay_rate ** (step // step_size)``: the rate drops every ``step_size`` steps."""
    _require_positive("step_decay", "step_size", step_size)

    def schedule(step):
        return init * decay_rate ** (step // step_size)

    return schedule


def cosine_decay(init: float, decay_steps: int, end: float = 0.0) -> Callable:
    """Half a cosine from ``init`` down to ``end`` over ``decay_steps`` steps, then ``end``."""
    _require_positive("cosine_decay", "decay_steps", decay_steps)

    def schedule(step):
        progress = mx.minimum(step, decay_steps)
        weight = 0.5 * (1.0 + mx.cos((math.pi / decay_steps) * progress))
        return end + weight * (init - end)

    return schedule


def linear_schedule(init: float, end: float, steps: int) -> Callable:
    """A straight line from ``init`` to ``end`` over ``steps`` steps, then ``end``."""
    _require_positive("linear_schedule", "steps", steps)

    def schedule(step):
        progress = mx.minimum(step, steps)
        return progress * ((end - init) / steps) + init

    return schedule


def join_schedules(schedules: List[Callable], boundaries: List[int]) -> Callable:
    """``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` (which sees the step
    counted from that boundary) until ``boundaries[1]``, and so on."""
    if len(schedules) == 0:
        raise ValueError("[join_schedules] Must provide at least 1 schedule to join.")
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"[join_schedules] Received {len(boundaries)} boundaries for {len(schedules)} schedules; "
            f"expected {len(schedules) - 1}."
        )

    def schedule(step):
        rate = schedules[0](step)
        for boundary, later in zip(boundaries, schedules[1:]):
            # Both branches are evaluated; an unsigned step below the boundary wraps
            # around in `step - boundary`, but `where` discards that branch there.
            rate = mx.where(step < boundary, rate, later(step - boundary))
        return rate

    return schedule
