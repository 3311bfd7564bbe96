"""mlx.optimizers schedules: values against their formulas for Python int steps and
the uint64 step arrays optimizers pass, clamping past the end, joining, argument
errors, and the step count a schedule sees when it is an optimizer's learning rate."""

import math

import numpy as np
import pytest

from conftest import backend_module, mx, to_numpy

optim = backend_module("optimizers")

STEPS = range(0, 13)


def value(x):
    return float(to_numpy(x)) if isinstance(x, mx.array) else float(x)


def step_kinds(step):
    """The same step as a Python int, as the optimizer's uint64 counter, and as int32."""
    return [step, mx.array(step, mx.uint64), mx.array(step, mx.int32)]


def cosine(init, decay_steps, end, step):
    return end + 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps)) * (init - end)


def linear(init, end, steps, step):
    return init + (end - init) * min(step, steps) / steps


# (schedule, its formula as a function of an int step)
SCHEDULES = {
    "exponential": (lambda: optim.exponential_decay(0.1, 0.8), lambda s: 0.1 * 0.8**s),
    "step": (lambda: optim.step_decay(0.1, 0.5, 3), lambda s: 0.1 * 0.5 ** (s // 3)),
    "cosine": (lambda: optim.cosine_decay(0.1, 8), lambda s: cosine(0.1, 8, 0.0, s)),
    "cosine-end": (lambda: optim.cosine_decay(0.1, 5, end=0.02), lambda s: cosine(0.1, 5, 0.02, s)),
    "linear-up": (lambda: optim.linear_schedule(0.0, 0.1, 4), lambda s: linear(0.0, 0.1, 4, s)),
    "linear-down": (lambda: optim.linear_schedule(0.3, 0.1, 6), lambda s: linear(0.3, 0.1, 6, s)),
    "warmup-cosine": (
        lambda: optim.join_schedules([optim.linear_schedule(0.0, 0.1, 3), optim.cosine_decay(0.1, 6)], [3]),
        lambda s: linear(0.0, 0.1, 3, s) if s < 3 else cosine(0.1, 6, 0.0, s - 3),
    ),
    "three-pieces": (
        lambda: optim.join_schedules(
            [
                optim.linear_schedule(0.0, 0.1, 2),
                optim.exponential_decay(0.1, 0.5),
                optim.linear_schedule(0.2, 0.0, 4),
            ],
            [2, 5],
        ),
        lambda s: (
            linear(0.0, 0.1, 2, s)
            if s < 2
            else (0.1 * 0.5 ** (s - 2) if s < 5 else linear(0.2, 0.0, 4, s - 5))
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_values(name):
    make, formula = SCHEDULES[name]
    schedule = make()
    for step in STEPS:
        for kind in step_kinds(step):
            np.testing.assert_allclose(
                value(schedule(kind)), formula(step), rtol=1e-5, atol=1e-8, err_msg=f"{kind!r}"
            )


def test_schedules_clamp_after_their_last_step():
    assert value(optim.cosine_decay(1.0, 10, end=0.25)(mx.array(1000, mx.uint64))) == pytest.approx(0.25)
    assert value(optim.linear_schedule(1.0, 3.0, 10)(mx.array(1000, mx.uint64))) == pytest.approx(3.0)


def test_join_schedules_restarts_the_step_at_each_boundary():
    joined = optim.join_schedules([lambda s: mx.array(-1.0), lambda s: s * 1.0], [4])
    assert [value(joined(mx.array(s, mx.uint64))) for s in range(7)] == [-1, -1, -1, -1, 0, 1, 2]


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.step_decay(0.1, 0.5, 0),
        lambda: optim.cosine_decay(0.1, 0),
        lambda: optim.linear_schedule(0.0, 0.1, 0),
        lambda: optim.join_schedules([], []),
        lambda: optim.join_schedules([optim.cosine_decay(0.1, 5)], [3]),
        lambda: optim.join_schedules([optim.cosine_decay(0.1, 5)] * 3, [3]),
    ],
)
def test_bad_schedule_arguments_raise(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_as_learning_rate_sees_updates_done_so_far(name):
    """Update t (t = 1, 2, ...) uses the schedule at t - 1; the state then holds that rate."""
    make, formula = SCHEDULES[name]
    opt = optim.SGD(learning_rate=make())
    np.testing.assert_allclose(value(opt.learning_rate), formula(0), rtol=1e-5, atol=1e-8)
    params = {"p": mx.zeros((2,))}
    grads = {"p": mx.ones((2,))}
    travelled = 0.0
    for t in range(1, 10):
        params = opt.apply_gradients(grads, params)
        travelled += formula(t - 1)
        np.testing.assert_allclose(
            to_numpy(params["p"]), [-travelled] * 2, rtol=1e-5, atol=1e-7, err_msg=f"step {t}"
        )
        np.testing.assert_allclose(value(opt.learning_rate), formula(t - 1), rtol=1e-5, atol=1e-8)
        assert value(opt.step) == t


def test_schedule_drives_adam_learning_rate():
    """Adam's first update moves each coordinate by about the learning rate; it must be schedule(0)."""
    opt = optim.Adam(learning_rate=optim.exponential_decay(0.2, 0.5))
    params = {"p": mx.zeros((3,))}
    steps = []
    for _ in range(3):
        new = opt.apply_gradients({"p": mx.ones((3,))}, params)
        steps.append(float(to_numpy(params["p"] - new["p"])[0]))
        params = new
    # With a constant gradient m / sqrt(v) stays (1 - b1^t) / sqrt(1 - b2^t) without bias correction.
    ratios = [(1 - 0.9**t) / math.sqrt(1 - 0.999**t) for t in (1, 2, 3)]
    rates = [0.2, 0.1, 0.05]
    np.testing.assert_allclose(steps, [lr * r for lr, r in zip(rates, ratios)], rtol=1e-4)
