"""mlx.optimizers: every optimizer's updates over several steps against a float64
NumPy implementation of its rule (each option that changes the maths), the
state tree (structure, dtypes, save/restore), partial and mismatched gradient
trees, MultiOptimizer routing, clip_grad_norm, argument errors, and training
a small linear regression."""

import functools

import numpy as np
import pytest

from conftest import backend_module, mx, to_numpy

optim = backend_module("optimizers")
utils = backend_module("utils")

# A parameter tree with nesting, a list, a vector and >2-D tensors (Adafactor
# factors and Muon flattens those), given as (dotted path, shape).
PARAM_SHAPES = [("w", (4, 3)), ("b", (3,)), ("blocks.0.k", (2, 3, 5)), ("blocks.1.k", (5, 2))]
F32_EPS = np.finfo(np.float32).eps


def as_tree(arrays):
    """An mx parameter tree (float32) from {path: NumPy array}."""
    return utils.tree_unflatten([(k, mx.array(np.asarray(v, dtype=np.float32))) for k, v in arrays.items()])


def float32_values(rng, scale=1.0):
    """{path: float64 array} of random values exactly representable in float32."""
    return {k: (scale * rng.normal(size=s)).astype(np.float32).astype(np.float64) for k, s in PARAM_SHAPES}


def flat_numpy(tree):
    return {k: to_numpy(v).astype(np.float64) for k, v in utils.tree_flatten(tree)}


# ---------------------------------------------------------------------------
# NumPy references: reference(p, g, state, t, **options) -> new p, for step
# t = 1, 2, ... of one parameter; `state` is a dict the reference owns. The
# keyword defaults are MLX's documented defaults.


def zeros_for(state, p, *names):
    for name in names:
        state.setdefault(name, np.zeros_like(p))


def sgd_reference(p, g, s, t, learning_rate, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
    g = g + weight_decay * p
    if momentum <= 0:
        return p - learning_rate * g
    zeros_for(s, p, "v")
    s["v"] = momentum * s["v"] + (1 - dampening) * g
    return p - learning_rate * (g + momentum * s["v"] if nesterov else s["v"])


def rmsprop_reference(p, g, s, t, learning_rate, alpha=0.99, eps=1e-8):
    zeros_for(s, p, "v")
    s["v"] = alpha * s["v"] + (1 - alpha) * g**2
    return p - learning_rate * g / (np.sqrt(s["v"]) + eps)


def adagrad_reference(p, g, s, t, learning_rate, eps=1e-8):
    zeros_for(s, p, "v")
    s["v"] = s["v"] + g**2
    return p - learning_rate * g / (np.sqrt(s["v"]) + eps)


def adadelta_reference(p, g, s, t, learning_rate, rho=0.9, eps=1e-6):
    zeros_for(s, p, "v", "u")
    s["v"] = rho * s["v"] + (1 - rho) * g**2
    delta = np.sqrt(s["u"] + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s["u"] + (1 - rho) * delta**2
    return p - learning_rate * delta


def adam_reference(p, g, s, t, learning_rate, betas=(0.9, 0.999), eps=1e-8, bias_correction=False):
    b1, b2 = betas
    zeros_for(s, p, "m", "v")
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g**2
    m, v = s["m"], s["v"]
    if bias_correction:
        m, v = m / (1 - b1**t), v / (1 - b2**t)
    return p - learning_rate * m / (np.sqrt(v) + eps)


def adamw_reference(p, g, s, t, learning_rate, weight_decay=0.01, **adam_options):
    return adam_reference(p * (1 - learning_rate * weight_decay), g, s, t, learning_rate, **adam_options)


def adamax_reference(p, g, s, t, learning_rate, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    zeros_for(s, p, "m", "v")
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = np.maximum(b2 * s["v"], np.abs(g))
    return p - learning_rate * s["m"] / (s["v"] + eps)


def lion_reference(p, g, s, t, learning_rate, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas
    zeros_for(s, p, "m")
    direction = np.sign(b1 * s["m"] + (1 - b1) * g)
    s["m"] = b2 * s["m"] + (1 - b2) * g
    return p * (1 - learning_rate * weight_decay) - learning_rate * direction


def rms(x):
    return np.sqrt(np.mean(x * x))


def adafactor_reference(
    p, g, s, t, learning_rate=None, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta_1=None,
    weight_decay=0.0, scale_parameter=True, relative_step=True, warmup_init=False,
):  # fmt: skip
    if relative_step:
        step_size = min(1e-6 * t if warmup_init else 1e-2, 1 / np.sqrt(t))
    else:
        step_size = learning_rate
    if scale_parameter:
        step_size *= max(eps[1], rms(p))
    beta_2 = 1 - t**decay_rate
    squared = g**2 + eps[0]
    if p.ndim >= 2:
        # Factored second moment: running means over the last axis (rows) and the
        # second-to-last (columns); the estimate is outer(row, col) / mean(row).
        s.setdefault("row", np.zeros(p.shape[:-1]))
        s.setdefault("col", np.zeros(p.shape[:-2] + p.shape[-1:]))
        s["row"] = beta_2 * s["row"] + (1 - beta_2) * squared.mean(-1)
        s["col"] = beta_2 * s["col"] + (1 - beta_2) * squared.mean(-2)
        estimate = s["row"][..., :, None] * s["col"][..., None, :] / s["row"].mean(-1)[..., None, None]
    else:
        zeros_for(s, p, "v")
        s["v"] = beta_2 * s["v"] + (1 - beta_2) * squared
        estimate = s["v"]
    update = g / np.sqrt(estimate)
    update = step_size * update / max(1.0, rms(update) / clip_threshold)
    if beta_1 is not None:
        zeros_for(s, p, "m")
        s["m"] = beta_1 * s["m"] + (1 - beta_1) * update
        update = s["m"]
    return p * (1 - weight_decay * step_size) - update


def newton_schulz_reference(x, steps):
    a, b, c = 3.4445, -4.7750, 2.0315
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def muon_reference(p, g, s, t, learning_rate, momentum=0.95, weight_decay=0.01, nesterov=True, ns_steps=5):
    g = g + weight_decay * p
    zeros_for(s, p, "v")
    s["v"] = momentum * s["v"] + (1 - momentum) * g
    update = (1 - momentum) * g + momentum * s["v"] if nesterov else s["v"]
    if p.ndim < 2:
        return p - learning_rate * update
    update = newton_schulz_reference(update.reshape(p.shape[0], -1), ns_steps).reshape(p.shape)
    return p - learning_rate * max(1.0, p.shape[-2] / p.shape[-1]) ** 0.5 * update


REFERENCES = {
    "SGD": sgd_reference, "RMSprop": rmsprop_reference, "Adagrad": adagrad_reference,
    "AdaDelta": adadelta_reference, "Adam": adam_reference, "AdamW": adamw_reference,
    "Adamax": adamax_reference, "Lion": lion_reference, "Adafactor": adafactor_reference,
    "Muon": muon_reference,
}  # fmt: skip

# (optimizer, constructor arguments, scale of the parameters). Each entry turns
# on an option that changes the update; small parameter scales keep Adafactor's
# tiny warm-up and clipped steps measurable in float32.
CASES = [
    ("SGD", dict(learning_rate=0.1), 1.0),
    ("SGD", dict(learning_rate=0.1, weight_decay=0.3), 1.0),
    ("SGD", dict(learning_rate=0.1, momentum=0.9), 1.0),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, dampening=0.3), 1.0),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True), 1.0),
    ("SGD", dict(learning_rate=0.1, momentum=0.8, nesterov=True, weight_decay=0.2), 1.0),
    ("SGD", dict(learning_rate=0.1, momentum=0.8, dampening=0.5, weight_decay=0.2), 1.0),
    ("RMSprop", dict(learning_rate=0.01), 1.0),
    ("RMSprop", dict(learning_rate=0.01, alpha=0.5, eps=0.1), 1.0),
    ("Adagrad", dict(learning_rate=0.1), 1.0),
    ("Adagrad", dict(learning_rate=0.1, eps=0.5), 1.0),
    ("AdaDelta", dict(learning_rate=1.0), 1.0),
    ("AdaDelta", dict(learning_rate=0.5, rho=0.5, eps=1e-2), 1.0),
    ("Adam", dict(learning_rate=0.01), 1.0),
    ("Adam", dict(learning_rate=0.01, betas=[0.5, 0.8], eps=0.1), 1.0),
    ("Adam", dict(learning_rate=0.01, bias_correction=True), 1.0),
    ("Adam", dict(learning_rate=0.01, betas=(0.7, 0.9), eps=0.3, bias_correction=True), 1.0),
    ("AdamW", dict(learning_rate=0.01), 1.0),
    ("AdamW", dict(learning_rate=0.05, weight_decay=0.5, betas=[0.8, 0.95], eps=0.1), 1.0),
    ("AdamW", dict(learning_rate=0.05, weight_decay=0.5, bias_correction=True), 1.0),
    ("Adamax", dict(learning_rate=0.05), 1.0),
    ("Adamax", dict(learning_rate=0.01, betas=[0.5, 0.7], eps=0.2), 1.0),
    ("Lion", dict(learning_rate=0.01), 1.0),
    ("Lion", dict(learning_rate=0.01, betas=[0.5, 0.8], weight_decay=0.5), 1.0),
    ("Adafactor", dict(), 1.0),
    ("Adafactor", dict(beta_1=0.9), 1.0),
    ("Adafactor", dict(weight_decay=0.5), 1.0),
    ("Adafactor", dict(scale_parameter=False), 1.0),
    ("Adafactor", dict(warmup_init=True, scale_parameter=False), 1e-4),
    ("Adafactor", dict(relative_step=False, learning_rate=0.05), 1.0),
    ("Adafactor", dict(clip_threshold=0.05, scale_parameter=False), 1e-2),
    ("Adafactor", dict(decay_rate=-0.5, eps=(1e-2, 0.5)), 1.0),
    ("Adafactor", dict(eps=(1e-30, 1e-2)), 1e-4),  # parameters small enough that eps[1] bounds their scale
    ("Adafactor", dict(relative_step=False, learning_rate=0.05, scale_parameter=False, beta_1=0.5,
                       weight_decay=0.2), 1.0),
    ("Muon", dict(learning_rate=0.05), 1.0),
    ("Muon", dict(learning_rate=0.05, nesterov=False, weight_decay=0.0), 1.0),
    ("Muon", dict(learning_rate=0.05, momentum=0.5, weight_decay=0.2, ns_steps=3), 1.0),
]  # fmt: skip


def assert_same_trajectory(got, want, start, t, where):
    """Compares parameters after t updates, relative to how far they moved: float32
    rounding of the parameters themselves is allowed on top."""
    moved = np.abs(want - start).max()
    rounding = 4 * t * F32_EPS * np.abs(start).max()
    assert rounding < 1e-2 * moved, f"{where}: the update is too small to check in float32"
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * moved + rounding, err_msg=where)


def check_against_reference(opt, reference, rng, scale=1.0, steps=4):
    start = float32_values(rng, scale)
    params, expected, states = as_tree(start), dict(start), {k: {} for k in start}
    for t in range(1, steps + 1):
        grads = float32_values(rng)
        params = opt.apply_gradients(as_tree(grads), params)
        got = flat_numpy(params)
        assert set(got) == set(start)
        for k in start:
            expected[k] = reference(expected[k], grads[k], states[k], t)
            assert_same_trajectory(got[k], expected[k], start[k], t, f"{k} after step {t}")
    assert int(to_numpy(opt.step)) == steps


@pytest.mark.parametrize("name,kwargs,scale", CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_updates_match_reference(name, kwargs, scale, rng):
    opt = getattr(optim, name)(**kwargs)
    check_against_reference(opt, functools.partial(REFERENCES[name], **kwargs), rng, scale)


@pytest.mark.parametrize("make_rate", [lambda: mx.array(0.1), lambda: np.float32(0.1)], ids=["mx", "numpy"])
def test_sgd_learning_rate_may_be_an_array_or_numpy_scalar(make_rate, rng):
    opt = optim.SGD(learning_rate=make_rate(), momentum=0.5)
    check_against_reference(opt, functools.partial(sgd_reference, learning_rate=0.1, momentum=0.5), rng)


def test_learning_rate_can_be_changed_between_steps(rng):
    start, grads = float32_values(rng), float32_values(rng)
    opt = optim.SGD(learning_rate=0.1)
    params = opt.apply_gradients(as_tree(grads), as_tree(start))
    opt.learning_rate = 0.5
    assert np.isclose(float(to_numpy(opt.learning_rate)), 0.5)
    params = opt.apply_gradients(as_tree(grads), params)
    for k, v in flat_numpy(params).items():
        np.testing.assert_allclose(v, start[k] - 0.6 * grads[k], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# The state tree

PER_PARAMETER_STATE = {
    "SGD": ["v"], "RMSprop": ["v"], "Adagrad": ["v"], "AdaDelta": ["v", "u"], "Adam": ["m", "v"],
    "AdamW": ["m", "v"], "Adamax": ["m", "v"], "Lion": ["m"], "Muon": ["v"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PER_PARAMETER_STATE))
def test_state_tree_mirrors_parameters(name, rng):
    opt = getattr(optim, name)(learning_rate=0.1)
    assert set(opt.state) == {"step", "learning_rate"}
    opt.init(as_tree(float32_values(rng)))
    flat = dict(utils.tree_flatten(opt.state))
    expected = {
        f"{path}.{buffer}": shape for path, shape in PARAM_SHAPES for buffer in PER_PARAMETER_STATE[name]
    }
    assert set(flat) == {"step", "learning_rate"} | set(expected)
    for key, shape in expected.items():
        assert flat[key].shape == shape and flat[key].dtype == mx.float32
        assert not np.any(to_numpy(flat[key])), key
    assert flat["step"].dtype == mx.uint64 and int(to_numpy(flat["step"])) == 0
    assert isinstance(opt.state["blocks"], list) and len(opt.state["blocks"]) == 2
    np.testing.assert_allclose(to_numpy(opt.learning_rate), 0.1, rtol=1e-7)


@pytest.mark.parametrize("beta_1", [None, 0.9])
def test_adafactor_state_is_factored_for_matrices(beta_1, rng):
    opt = optim.Adafactor(beta_1=beta_1)
    assert set(opt.state) == {"step"}  # no learning rate without one given
    opt.init(as_tree(float32_values(rng)))
    flat = {k: v.shape for k, v in utils.tree_flatten(opt.state)}
    expected = {"step": ()}
    for path, shape in PARAM_SHAPES:
        if len(shape) >= 2:
            expected[f"{path}.exp_avg_sq_row"] = shape[:-1]
            expected[f"{path}.exp_avg_sq_col"] = shape[:-2] + shape[-1:]
        else:
            expected[f"{path}.exp_avg_sq"] = shape
        if beta_1 is not None:
            expected[f"{path}.exp_avg"] = shape
    assert flat == expected


def test_step_counts_updates(rng):
    opt = optim.Adam(learning_rate=0.1)
    params = as_tree(float32_values(rng))
    for k in range(1, 4):
        params = opt.apply_gradients(as_tree(float32_values(rng)), params)
        assert opt.step.dtype == mx.uint64 and int(to_numpy(opt.step)) == k
        assert opt.state["step"] is opt.step


def copy_through_numpy(tree):
    """What saving and loading does to a state: flat (key, array) pairs, fresh arrays."""
    return utils.tree_unflatten([(k, mx.array(to_numpy(v))) for k, v in utils.tree_flatten(tree)])


def continue_training(opt, params, grads_seq):
    for grads in grads_seq:
        params = opt.apply_gradients(as_tree(grads), params)
    return flat_numpy(params)


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.Adam(learning_rate=optim.cosine_decay(0.1, 10), bias_correction=True),
        lambda: optim.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda: optim.Adafactor(beta_1=0.9),
        lambda: optim.Muon(learning_rate=optim.linear_schedule(0.0, 0.1, 5)),
    ],
    ids=["Adam-schedule", "SGD", "Adafactor", "Muon-schedule"],
)
def test_state_round_trip_resumes_training(make, rng):
    grads_seq = [float32_values(rng) for _ in range(5)]
    opt = make()
    params = as_tree(float32_values(rng))
    for grads in grads_seq[:2]:
        params = opt.apply_gradients(as_tree(grads), params)
    restored = make()
    restored.state = copy_through_numpy(opt.state)
    assert int(to_numpy(restored.step)) == 2 and restored.step.dtype == mx.uint64
    want = continue_training(opt, params, grads_seq[2:])
    got = continue_training(restored, params, grads_seq[2:])
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert int(to_numpy(restored.step)) == 5


@pytest.mark.skipif(not hasattr(mx, "savez"), reason="mx.savez is not available in this backend yet")
def test_state_round_trip_through_savez(tmp_path, rng):
    grads = float32_values(rng)
    opt = optim.AdamW(learning_rate=optim.exponential_decay(0.1, 0.9))
    params = opt.apply_gradients(as_tree(grads), as_tree(float32_values(rng)))
    path = str(tmp_path / "state.npz")
    mx.savez(path, **dict(utils.tree_flatten(opt.state)))
    restored = optim.AdamW(learning_rate=optim.exponential_decay(0.1, 0.9))
    restored.state = utils.tree_unflatten(list(mx.load(path).items()))
    want, got = opt.apply_gradients(as_tree(grads), params), restored.apply_gradients(as_tree(grads), params)
    for (k, a), (_, b) in zip(utils.tree_flatten(want), utils.tree_flatten(got)):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=k)


def test_init_keeps_existing_state(rng):
    opt = optim.Adam(learning_rate=0.1)
    params = as_tree(float32_values(rng))
    opt.apply_gradients(as_tree(float32_values(rng)), params)
    before = dict(utils.tree_flatten(opt.state))
    opt.init(params)
    after = dict(utils.tree_flatten(opt.state))
    assert set(before) == set(after)
    for k in before:
        np.testing.assert_array_equal(to_numpy(after[k]), to_numpy(before[k]), err_msg=k)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Lion", "Muon", "Adafactor"])
def test_half_precision_parameters_stay_half(name):
    kwargs = {} if name == "Adafactor" else dict(learning_rate=0.01)
    if name == "Adam":
        kwargs["bias_correction"] = True
    opt = getattr(optim, name)(**kwargs)
    params = {"w": mx.ones((4, 3), mx.float16), "b": mx.ones((3,), mx.bfloat16)}
    grads = {"w": mx.full((4, 3), 0.5, mx.float16), "b": mx.full((3,), 0.5, mx.bfloat16)}
    new = opt.apply_gradients(grads, params)
    assert new["w"].dtype == mx.float16 and new["b"].dtype == mx.bfloat16
    for buffer in opt.state["w"].values():
        assert buffer.dtype == mx.float16
    assert np.all(to_numpy(new["w"]) < 1)  # it moved against the gradient


# ---------------------------------------------------------------------------
# Partial and mismatched gradient trees


def test_gradients_for_part_of_the_parameters(rng):
    values, grads = float32_values(rng), float32_values(rng)
    opt = optim.SGD(learning_rate=0.1)
    new = opt.apply_gradients({"w": mx.array(grads["w"].astype(np.float32))}, as_tree(values))
    assert list(new) == ["w"]
    np.testing.assert_allclose(to_numpy(new["w"]), values["w"] - 0.1 * grads["w"], rtol=1e-6, atol=1e-6)


def test_update_writes_into_the_model(rng):
    values, grads = float32_values(rng), float32_values(rng)
    model = as_tree(values)  # a dict: Optimizer.update calls model.update(new parameters)
    optim.SGD(learning_rate=0.1).update(model, as_tree(grads))
    for k, v in flat_numpy(model).items():
        np.testing.assert_allclose(v, values[k] - 0.1 * grads[k], rtol=1e-6, atol=1e-6)


def test_gradient_without_parameter_raises(rng):
    params = as_tree(float32_values(rng))
    grads = {"w": params["w"], "extra": params["b"]}
    with pytest.raises(KeyError, match="extra"):
        optim.Adam(learning_rate=0.1).apply_gradients(grads, params)


def test_gradient_list_longer_than_parameters_raises(rng):
    params = as_tree(float32_values(rng))
    grads = {"blocks": params["blocks"] + [{"k": params["w"]}]}
    with pytest.raises((KeyError, IndexError)):
        optim.SGD(learning_rate=0.1).apply_gradients(grads, params)


def test_gradient_without_state_raises(rng):
    params = as_tree(float32_values(rng))
    opt = optim.Adam(learning_rate=0.1)
    opt.init({"w": params["w"]})
    with pytest.raises(KeyError, match="b"):
        opt.apply_gradients(params, params)


# ---------------------------------------------------------------------------
# Argument errors


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.SGD(0.1, nesterov=True),
        lambda: optim.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True),
    ],
)
def test_sgd_nesterov_needs_momentum_without_dampening(make):
    with pytest.raises(ValueError, match="Nesterov"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.RMSprop(0.1, alpha=-0.1),
        lambda: optim.RMSprop(0.1, eps=0.0),
        lambda: optim.Adagrad(0.1, eps=-1e-8),
        lambda: optim.AdaDelta(0.1, rho=-0.5),
        lambda: optim.AdaDelta(0.1, eps=0.0),
        lambda: optim.Adam(0.1, betas=[1.0, 0.999]),
        lambda: optim.Adam(0.1, betas=[0.9, -0.1]),
        lambda: optim.Adam(0.1, eps=-1.0),
        lambda: optim.AdamW(0.1, betas=[0.9, 1.5]),
        lambda: optim.Adamax(0.1, betas=[-0.5, 0.9]),
        lambda: optim.Lion(0.1, betas=[0.9, 1.0]),
        lambda: optim.MultiOptimizer([optim.SGD(0.1)], [lambda path, a: True]),
        lambda: optim.MultiOptimizer(
            [optim.SGD(0.1), optim.Adam(0.1), optim.Lion(0.1)], [lambda path, a: True]
        ),
    ],
)
def test_bad_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make()


def test_adam_needs_two_betas(rng):
    params = as_tree(float32_values(rng))
    with pytest.raises((ValueError, IndexError)):  # lmx refuses at construction, MLX at the first update
        optim.Adam(0.1, betas=[0.9]).apply_gradients(params, params)


def test_adafactor_without_relative_step_needs_a_learning_rate(rng):
    params = as_tree(float32_values(rng))
    with pytest.raises((ValueError, KeyError)):  # lmx refuses at construction, MLX at the first update
        optim.Adafactor(relative_step=False).apply_gradients(params, params)


def test_learning_rate_of_wrong_type_raises():
    with pytest.raises(ValueError):
        optim.SGD(learning_rate="fast")


# ---------------------------------------------------------------------------
# Extending Optimizer


def test_subclass_hooks_and_scheduled_state(rng):
    class SignDescent(optim.Optimizer):
        """Steps by sign(g) * state["scale"], a per-parameter buffer, with a scheduled rate."""

        def __init__(self):
            super().__init__(schedulers={"rate": lambda step: 0.5 * (step + 1)})

        def init_single(self, parameter, state):
            state["scale"] = mx.ones_like(parameter)

        def apply_single(self, gradient, parameter, state):
            state["scale"] = state["scale"] * 2
            return parameter - self.state["rate"] * state["scale"] * mx.sign(gradient)

    values, grads = float32_values(rng), float32_values(rng)
    opt = SignDescent()
    params = as_tree(values)
    expected = dict(values)
    for t in range(1, 4):
        params = opt.apply_gradients(as_tree(grads), params)
        for k in expected:
            expected[k] = expected[k] - 0.5 * t * 2**t * np.sign(grads[k])
    for k, v in flat_numpy(params).items():
        np.testing.assert_allclose(v, expected[k], rtol=1e-6, atol=1e-6)
    assert np.isclose(float(to_numpy(opt.state["rate"])), 1.5)  # the rate of the third update: step 2


# ---------------------------------------------------------------------------
# MultiOptimizer


def is_matrix(path, array):
    return array.ndim == 2


def test_multi_optimizer_routes_by_filter(rng):
    start, grads_seq = float32_values(rng), [float32_values(rng) for _ in range(3)]
    multi = optim.MultiOptimizer(
        [
            optim.Adam(learning_rate=0.01),
            optim.SGD(learning_rate=0.1, momentum=0.9),
            optim.Lion(learning_rate=0.01),
        ],
        [is_matrix, lambda path, array: path.startswith("blocks")],
    )
    references = {
        "w": functools.partial(adam_reference, learning_rate=0.01),  # matrix
        "blocks.1.k": functools.partial(adam_reference, learning_rate=0.01),  # matrix (first filter wins)
        "blocks.0.k": functools.partial(sgd_reference, learning_rate=0.1, momentum=0.9),
        "b": functools.partial(lion_reference, learning_rate=0.01),  # no filter: the last optimizer
    }
    params, expected, states = as_tree(start), dict(start), {k: {} for k in start}
    for t, grads in enumerate(grads_seq, start=1):
        params = multi.apply_gradients(as_tree(grads), params)
        got = flat_numpy(params)
        assert set(got) == set(start)
        for k in start:
            expected[k] = references[k](expected[k], grads[k], states[k], t)
            assert_same_trajectory(got[k], expected[k], start[k], t, f"{k} after step {t}")
    first, second, last = (dict(utils.tree_flatten(s)) for s in multi.state["states"])
    assert {k for k in first if "." in k} == {"w.m", "w.v", "blocks.1.k.m", "blocks.1.k.v"}
    assert {k for k in second if "." in k} == {"blocks.0.k.v"}
    assert {k for k in last if "." in k} == {"b.m"}
    for state in (first, second, last):
        assert int(to_numpy(state["step"])) == 3


def test_multi_optimizer_state_round_trip(rng):
    def make():
        return optim.MultiOptimizer(
            [optim.Adam(learning_rate=0.01), optim.SGD(learning_rate=0.1, momentum=0.9)], [is_matrix]
        )

    grads_seq = [float32_values(rng) for _ in range(4)]
    multi, params = make(), as_tree(float32_values(rng))
    for grads in grads_seq[:2]:
        params = multi.apply_gradients(as_tree(grads), params)
    restored = make()
    restored.state = copy_through_numpy(multi.state)
    want = continue_training(multi, params, grads_seq[2:])
    got = continue_training(restored, params, grads_seq[2:])
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_multi_optimizer_single_optimizer_is_that_optimizer(rng):
    start, grads = float32_values(rng), float32_values(rng)
    alone = optim.Adam(learning_rate=0.01).apply_gradients(as_tree(grads), as_tree(start))
    wrapped = optim.MultiOptimizer([optim.Adam(learning_rate=0.01)]).apply_gradients(
        as_tree(grads), as_tree(start)
    )
    for (k, a), (_, b) in zip(utils.tree_flatten(alone), utils.tree_flatten(wrapped)):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=k)


# ---------------------------------------------------------------------------
# clip_grad_norm


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_clip_grad_norm(max_norm, rng):
    grads = float32_values(rng, scale=0.3)
    total = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    clipped, norm = optim.clip_grad_norm(as_tree(grads), max_norm)
    np.testing.assert_allclose(to_numpy(norm), total, rtol=1e-5)
    scale = min(1.0, max_norm / (total + 1e-6))
    got = flat_numpy(clipped)
    assert set(got) == set(grads) and isinstance(clipped["blocks"], list)
    for k, g in grads.items():
        np.testing.assert_allclose(got[k], g * scale, rtol=1e-5, atol=1e-7, err_msg=k)
    clipped_norm = np.sqrt(sum(np.sum(g**2) for g in got.values()))
    assert clipped_norm <= max_norm * (1 + 1e-5)


def test_clip_grad_norm_keeps_half_precision():
    clipped, norm = optim.clip_grad_norm({"a": mx.array([300.0, 400.0], mx.float16)}, 1.0)
    assert clipped["a"].dtype == mx.float16
    np.testing.assert_allclose(to_numpy(norm), 500.0, rtol=1e-3)
    np.testing.assert_allclose(to_numpy(clipped["a"]).astype(np.float64), [0.6, 0.8], rtol=2e-3)


# ---------------------------------------------------------------------------
# End to end: a linear regression


def regression_data(rng, n=64):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    true_w, true_b = np.array([[1.5], [-2.0], [0.5]], np.float32), np.float32(0.7)
    y = x @ true_w + true_b + 0.01 * rng.normal(size=(n, 1)).astype(np.float32)
    return mx.array(x), mx.array(y)


def test_adam_fits_linear_regression_with_a_parameter_dict(rng):
    x, y = regression_data(rng)

    def loss_fn(params):
        return mx.mean(mx.square(x @ params["w"] + params["b"] - y))

    params = {"w": mx.zeros((3, 1)), "b": mx.zeros((1,))}
    opt = optim.Adam(learning_rate=0.1)
    loss_and_grad = mx.value_and_grad(loss_fn)
    first, _ = loss_and_grad(params)
    for _ in range(200):
        loss, grads = loss_and_grad(params)
        params = opt.apply_gradients(grads, params)
        mx.eval(params, opt.state)
    assert float(to_numpy(loss)) < 1e-2 * float(to_numpy(first))


def test_adam_trains_nn_linear(rng):
    nn = backend_module("nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("nn.Linear is not available in this backend yet")
    x, y = regression_data(rng)
    model = nn.Linear(3, 1)
    opt = optim.Adam(learning_rate=0.1)

    def loss_fn(model):
        return mx.mean(mx.square(model(x) - y))

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    first, _ = loss_and_grad(model)
    for _ in range(200):
        loss, grads = loss_and_grad(model)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
    assert float(to_numpy(loss)) < 1e-2 * float(to_numpy(first))
    assert set(opt.state) == {"step", "learning_rate", "weight", "bias"}


def test_update_trains_a_module_and_leaves_frozen_parameters(rng):
    nn = backend_module("nn")
    x, y = regression_data(rng)

    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = mx.zeros((3, 1))
            self.bias = mx.zeros((1,))
            self.blocks = [{"scale": mx.ones((1,))}]

        def __call__(self, x):
            return (x @ self.weight + self.bias) * self.blocks[0]["scale"]

    model = Affine()
    model.freeze(keys=["blocks"])  # its gradients are left out, so the optimizer sees a subset
    opt = optim.AdamW(learning_rate=0.1, weight_decay=0.0)
    loss_and_grad = nn.value_and_grad(model, lambda m: mx.mean(mx.square(m(x) - y)))
    first, grads = loss_and_grad(model)
    assert "blocks" not in grads
    for _ in range(200):
        loss, grads = loss_and_grad(model)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state)
    assert float(to_numpy(loss)) < 1e-2 * float(to_numpy(first))
    assert to_numpy(model.blocks[0]["scale"]).tolist() == [1.0]
    assert set(opt.state) == {"step", "learning_rate", "weight", "bias"}
