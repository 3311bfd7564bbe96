"""nn.losses: every loss against a NumPy reference for each reduction, the weights and
label-smoothing options, stability for large inputs, gradients, and bad arguments."""

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")
losses = nn.losses

REDUCTIONS = ["none", "mean", "sum"]


def _reduce(values, reduction):
    return {"none": values, "mean": np.mean(values), "sum": np.sum(values)}[reduction]


def _log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _check(out, expected, rtol=1e-5, atol=1e-6):
    expected = np.asarray(expected)
    assert out.shape == expected.shape
    np.testing.assert_allclose(to_numpy(out), expected, rtol=rtol, atol=atol)


def _f32(x):
    return mx.array(np.asarray(x, dtype=np.float32))


@pytest.fixture
def logits(rng):
    return rng.normal(scale=2.0, size=(6, 5)).astype(np.float32)


# ----- cross entropy --------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_class_indices(logits, rng, reduction):
    targets = rng.integers(0, 5, size=6)
    expected = -np.take_along_axis(_log_softmax(logits.astype(np.float64)), targets[:, None], -1)[:, 0]
    out = losses.cross_entropy(_f32(logits), mx.array(targets.astype(np.int32)), reduction=reduction)
    _check(out, _reduce(expected, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probabilities(logits, rng, reduction):
    probs = rng.random((6, 5))
    probs /= probs.sum(-1, keepdims=True)
    expected = -(probs * _log_softmax(logits.astype(np.float64))).sum(-1)
    _check(losses.cross_entropy(_f32(logits), _f32(probs), reduction=reduction), _reduce(expected, reduction))


def test_cross_entropy_default_reduction_is_none(logits):
    assert losses.cross_entropy(_f32(logits), mx.zeros((6,), dtype=mx.int32)).shape == (6,)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_label_smoothing_and_weights(logits, rng, reduction):
    targets = rng.integers(0, 5, size=6)
    weights = rng.random(6)
    smoothing = 0.3
    smoothed = np.full((6, 5), smoothing / 5) + (1 - smoothing) * np.eye(5)[targets]
    expected = -(smoothed * _log_softmax(logits.astype(np.float64))).sum(-1) * weights
    out = losses.cross_entropy(
        _f32(logits), mx.array(targets.astype(np.int32)), weights=_f32(weights),
        label_smoothing=smoothing, reduction=reduction,
    )  # fmt: skip
    _check(out, _reduce(expected, reduction))
    # The same smoothing applies to one-hot probability targets.
    out_probs = losses.cross_entropy(
        _f32(logits), _f32(np.eye(5)[targets]), weights=_f32(weights), label_smoothing=smoothing,
        reduction=reduction,
    )  # fmt: skip
    _check(out_probs, _reduce(expected, reduction))


def test_cross_entropy_along_another_axis(logits, rng):
    targets = rng.integers(0, 5, size=(6,))
    expected = -np.take_along_axis(_log_softmax(logits.astype(np.float64)), targets[:, None], -1)[:, 0]
    out = losses.cross_entropy(_f32(logits.T), mx.array(targets.astype(np.int32)), axis=0)
    _check(out, expected)
    batched = rng.normal(size=(2, 5, 3)).astype(np.float32)  # classes on axis 1
    idx = rng.integers(0, 5, size=(2, 3))
    ref = -np.take_along_axis(_log_softmax(batched.astype(np.float64), axis=1), idx[:, None, :], 1)[:, 0, :]
    _check(losses.cross_entropy(_f32(batched), mx.array(idx.astype(np.int32)), axis=1), ref)


def test_cross_entropy_is_stable_for_large_logits():
    logits = _f32([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    out = losses.cross_entropy(logits, mx.array([1, 2]))
    # float32 spacing at 1000 is 6e-5, so the second entry is known to ~1e-4.
    _check(out, [2000.0, 1.0 + np.log1p(np.exp(-1.0))], rtol=1e-6, atol=2e-4)


def test_cross_entropy_half_precision(logits, rng):
    targets = rng.integers(0, 5, size=6)
    expected = -np.take_along_axis(
        _log_softmax(logits.astype(np.float16).astype(np.float64)), targets[:, None], -1
    )
    out = losses.cross_entropy(mx.array(logits.astype(np.float16)), mx.array(targets.astype(np.int32)))
    assert out.dtype == mx.float16
    np.testing.assert_allclose(to_numpy(out).astype(np.float64), expected[:, 0], rtol=1e-2, atol=1e-2)


def test_cross_entropy_gradient_is_softmax_minus_one_hot(logits, rng):
    targets = rng.integers(0, 5, size=6)
    grad = mx.grad(lambda x: losses.cross_entropy(x, mx.array(targets.astype(np.int32)), reduction="sum"))(
        _f32(logits)
    )
    expected = np.exp(_log_softmax(logits.astype(np.float64))) - np.eye(5)[targets]
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-5, atol=1e-6)


def test_cross_entropy_bad_arguments(logits):
    x = _f32(logits)
    with pytest.raises(ValueError):  # class indices of the wrong shape
        losses.cross_entropy(x, mx.zeros((5,), dtype=mx.int32))
    with pytest.raises(ValueError):  # probabilities of the wrong shape
        losses.cross_entropy(x, mx.zeros((6, 4)))
    with pytest.raises(ValueError):  # weights must match the unreduced loss
        losses.cross_entropy(x, mx.zeros((6,), dtype=mx.int32), weights=mx.ones((5,)))
    for smoothing in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError):
            losses.cross_entropy(x, mx.zeros((6,), dtype=mx.int32), label_smoothing=smoothing)
    with pytest.raises((ValueError, RuntimeError)):  # class indices must be integers
        mx.eval(losses.cross_entropy(x, mx.zeros((6,))))


# ----- binary cross entropy --------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(rng, reduction):
    x = rng.normal(scale=3.0, size=(4, 7))
    t = (rng.random((4, 7)) > 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    _check(losses.binary_cross_entropy(_f32(x), _f32(t), reduction=reduction), _reduce(expected, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_probabilities_and_weights(rng, reduction):
    p = rng.uniform(0.05, 0.95, size=(8,))
    t = (rng.random(8) > 0.5).astype(np.float64)
    w = rng.random(8)
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * w
    out = losses.binary_cross_entropy(
        _f32(p), _f32(t), weights=_f32(w), with_logits=False, reduction=reduction
    )
    _check(out, _reduce(expected, reduction))


def test_binary_cross_entropy_default_reduction_is_mean(rng):
    assert losses.binary_cross_entropy(_f32(rng.normal(size=5)), _f32(np.ones(5))).shape == ()


def test_binary_cross_entropy_clips_log_probabilities_at_minus_100():
    out = losses.binary_cross_entropy(_f32([0.0, 1.0, 0.0, 1.0]), _f32([1, 0, 0, 1]), with_logits=False,
                                      reduction="none")  # fmt: skip
    _check(out, [100.0, 100.0, 0.0, 0.0])


def test_binary_cross_entropy_logits_stable_and_gradient(rng):
    big = _f32([1000.0, -1000.0, 50.0, -50.0])
    out = losses.binary_cross_entropy(big, _f32([0, 1, 1, 0]), reduction="none")
    _check(out, [1000.0, 1000.0, 0.0, 0.0], atol=1e-6)
    x = rng.normal(size=6)
    t = (rng.random(6) > 0.5).astype(np.float64)
    grad = mx.grad(lambda v: losses.binary_cross_entropy(v, _f32(t), reduction="sum"))(_f32(x))
    np.testing.assert_allclose(to_numpy(grad), 1 / (1 + np.exp(-x)) - t, rtol=1e-5, atol=1e-6)


def test_binary_cross_entropy_bad_shapes():
    with pytest.raises(ValueError):
        losses.binary_cross_entropy(mx.zeros((3,)), mx.zeros((4,)))
    with pytest.raises(ValueError):  # no broadcasting between inputs and targets
        losses.binary_cross_entropy(mx.zeros((1, 2)), mx.zeros((2, 1)))
    with pytest.raises(ValueError):
        losses.binary_cross_entropy(mx.zeros((3,)), mx.zeros((3,)), weights=mx.ones((2,)))


# ----- nll and kl ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(logits, rng, reduction):
    logp = _log_softmax(logits.astype(np.float64))
    targets = rng.integers(0, 5, size=6)
    expected = -np.take_along_axis(logp, targets[:, None], -1)[:, 0]
    out = losses.nll_loss(_f32(logp), mx.array(targets.astype(np.int32)), reduction=reduction)
    _check(out, _reduce(expected, reduction))
    along_rows = losses.nll_loss(
        _f32(logp.T), mx.array(targets.astype(np.int32)), axis=0, reduction=reduction
    )
    _check(along_rows, _reduce(expected, reduction))


def test_nll_loss_bad_targets(logits):
    with pytest.raises(ValueError):
        losses.nll_loss(_f32(logits), mx.zeros((4,), dtype=mx.int32))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_kl_div_loss(logits, rng, reduction):
    inputs = _log_softmax(logits.astype(np.float64))
    targets = _log_softmax(rng.normal(size=(6, 5)))
    expected = (np.exp(targets) * (targets - inputs)).sum(-1)
    _check(losses.kl_div_loss(_f32(inputs), _f32(targets), reduction=reduction), _reduce(expected, reduction))
    along_rows = (np.exp(targets) * (targets - inputs)).sum(0)
    _check(losses.kl_div_loss(_f32(inputs), _f32(targets), axis=0), along_rows)


# ----- regression losses -------------------------------------------------------------------


def _smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d**2 / beta, a - 0.5 * beta)


def _huber(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d**2, delta * (a - 0.5 * delta))


# name -> (reference of (predictions - targets), keyword arguments, MLX's default reduction)
ELEMENTWISE = {
    "l1_loss": (np.abs, {}, "mean"),
    "mse_loss": (np.square, {}, "mean"),
    "smooth_l1_loss": (lambda d: _smooth_l1(d, 1.0), {}, "mean"),
    "huber_loss": (lambda d: _huber(d, 1.0), {}, "none"),
    "log_cosh_loss": (lambda d: np.log(np.cosh(d)), {}, "none"),
}
ELEMENTWISE_WITH_OPTIONS = {
    "smooth_l1_loss": (lambda d: _smooth_l1(d, 0.4), {"beta": 0.4}),
    "huber_loss": (lambda d: _huber(d, 2.5), {"delta": 2.5}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_regression_losses(name, reduction, rng):
    reference, kwargs, _ = ELEMENTWISE[name]
    pred, target = rng.normal(scale=2.0, size=(2, 5, 4))
    expected = reference(pred.astype(np.float32).astype(np.float64) - target.astype(np.float32))
    out = getattr(losses, name)(_f32(pred), _f32(target), reduction=reduction, **kwargs)
    _check(out, _reduce(expected, reduction), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_regression_default_reductions(name, rng):
    reference, _, default = ELEMENTWISE[name]
    pred, target = rng.normal(size=(2, 3, 4)).astype(np.float32)
    expected = reference(pred.astype(np.float64) - target)
    _check(getattr(losses, name)(_f32(pred), _f32(target)), _reduce(expected, default), atol=1e-5)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_WITH_OPTIONS))
def test_regression_loss_options_and_gradient(name, rng):
    reference, kwargs = ELEMENTWISE_WITH_OPTIONS[name]
    # Differences away from the branch points (beta = 0.4, delta = 2.5).
    diffs = np.array([-4.0, -1.7, -0.3, -0.05, 0.1, 0.25, 1.1, 3.3])
    target = rng.normal(size=diffs.shape)
    pred = diffs + target
    out = getattr(losses, name)(_f32(pred), _f32(target), reduction="none", **kwargs)
    _check(out, reference(diffs), atol=1e-5)
    h = 1e-6
    expected_grad = (reference(diffs + h) - reference(diffs - h)) / (2 * h)
    grad = mx.grad(lambda p: getattr(losses, name)(p, _f32(target), reduction="sum", **kwargs))(_f32(pred))
    np.testing.assert_allclose(to_numpy(grad), expected_grad, rtol=1e-4, atol=1e-4)


def test_log_cosh_loss_is_finite_for_large_errors():
    out = losses.log_cosh_loss(_f32([100.0, -100.0, 1000.0, 0.0]), mx.zeros((4,)))
    _check(out, [100 - np.log(2), 100 - np.log(2), 1000 - np.log(2), 0.0], rtol=1e-6)


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "smooth_l1_loss"])
def test_regression_losses_need_equal_shapes(name):
    with pytest.raises(ValueError):
        getattr(losses, name)(mx.zeros((2, 3)), mx.zeros((3,)))


def test_huber_and_log_cosh_broadcast_like_mlx():
    out = losses.huber_loss(mx.zeros((2, 3)), _f32([0.5, 2.0, -3.0]))
    _check(out, np.broadcast_to(_huber(np.array([0.5, 2.0, -3.0]), 1.0), (2, 3)))
    assert losses.log_cosh_loss(mx.zeros((2, 3)), mx.zeros((3,))).shape == (2, 3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss(rng, reduction):
    mean, target = rng.normal(size=(2, 4, 3))
    var = rng.uniform(0.1, 2.0, size=(4, 3))
    var[0, 0] = 1e-9  # clamped to eps
    eps = 1e-3
    clamped = np.maximum(var.astype(np.float32), eps)
    base = 0.5 * (np.log(clamped) + (mean.astype(np.float32) - target.astype(np.float32)) ** 2 / clamped)
    out = losses.gaussian_nll_loss(_f32(mean), _f32(target), _f32(var), eps=eps, reduction=reduction)
    _check(out, _reduce(base, reduction), rtol=1e-5, atol=1e-5)
    full = losses.gaussian_nll_loss(
        _f32(mean), _f32(target), _f32(var), full=True, eps=eps, reduction=reduction
    )
    _check(full, _reduce(base + 0.5 * np.log(2 * np.pi), reduction), rtol=1e-5, atol=1e-5)


def test_gaussian_nll_loss_default_is_mean_and_bad_shapes():
    assert losses.gaussian_nll_loss(mx.zeros((3,)), mx.ones((3,)), mx.ones((3,))).shape == ()
    with pytest.raises(ValueError):
        losses.gaussian_nll_loss(mx.zeros((2, 3)), mx.zeros((3,)), mx.ones((2, 3)))
    with pytest.raises(ValueError):
        losses.gaussian_nll_loss(mx.zeros((2, 3)), mx.zeros((2, 3)), mx.ones((3,)))


# ----- ranking and similarity -------------------------------------------------------------


def _triplet(a, p, n, axis, norm, margin, eps):
    def dist(u, v):
        return (np.sum(np.abs(u - v) ** norm, axis=axis) + eps) ** (1 / norm)

    return np.maximum(dist(a, p) - dist(a, n) + margin, 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_loss(rng, reduction):
    a, p, n = (rng.normal(size=(5, 4)).astype(np.float64) for _ in range(3))
    expected = _triplet(a, p, n, -1, 2, 1.0, 1e-6)
    _check(losses.triplet_loss(_f32(a), _f32(p), _f32(n), reduction=reduction), _reduce(expected, reduction))
    options = {"axis": 0, "p": 3, "margin": 0.5, "eps": 1e-3}
    expected = _triplet(a, p, n, 0, 3, 0.5, 1e-3)
    _check(losses.triplet_loss(_f32(a), _f32(p), _f32(n), reduction=reduction, **options),
           _reduce(expected, reduction), rtol=1e-5, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_and_margin_ranking(rng, reduction):
    x1, x2 = rng.normal(size=(2, 7))
    y = np.where(rng.random(7) > 0.5, 1.0, -1.0)
    _check(losses.hinge_loss(_f32(x1), _f32(y), reduction=reduction),
           _reduce(np.maximum(1 - x1 * y, 0), reduction))  # fmt: skip
    expected = np.maximum(-y * (x1 - x2) + 0.3, 0)
    out = losses.margin_ranking_loss(_f32(x1), _f32(x2), _f32(y), margin=0.3, reduction=reduction)
    _check(out, _reduce(expected, reduction))
    _check(losses.margin_ranking_loss(_f32(x1), _f32(x2), _f32(y)), np.maximum(-y * (x1 - x2), 0))


def test_margin_ranking_needs_equal_shapes():
    with pytest.raises(ValueError):
        losses.margin_ranking_loss(mx.zeros((3,)), mx.zeros((2,)), mx.ones((3,)))
    with pytest.raises(ValueError):
        losses.margin_ranking_loss(mx.zeros((3,)), mx.zeros((3,)), mx.ones((2,)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_similarity_loss(rng, reduction):
    x1, x2 = rng.normal(size=(2, 4, 6))
    x1[0] = 0.0  # a zero vector: the eps floor gives 0, not NaN

    def cosine(axis, eps):
        dot = (x1 * x2).sum(axis)
        norms = np.linalg.norm(x1, axis=axis) * np.linalg.norm(x2, axis=axis)
        return dot / np.maximum(norms, eps)

    _check(losses.cosine_similarity_loss(_f32(x1), _f32(x2), reduction=reduction),
           _reduce(cosine(1, 1e-8), reduction))  # fmt: skip
    _check(losses.cosine_similarity_loss(_f32(x1), _f32(x2), axis=0, eps=0.5, reduction=reduction),
           _reduce(cosine(0, 0.5), reduction))  # fmt: skip


# ----- reductions --------------------------------------------------------------------------

# Minimal valid arguments of every loss, to check that each rejects a bad reduction.
_X, _T = mx.zeros((2, 3)), mx.zeros((2,), dtype=mx.int32)
VALID_CALLS = {
    "cross_entropy": (_X, _T),
    "binary_cross_entropy": (_X, _X),
    "nll_loss": (_X, _T),
    "l1_loss": (_X, _X),
    "mse_loss": (_X, _X),
    "smooth_l1_loss": (_X, _X),
    "huber_loss": (_X, _X),
    "log_cosh_loss": (_X, _X),
    "kl_div_loss": (_X, _X),
    "gaussian_nll_loss": (_X, _X, mx.ones((2, 3))),
    "triplet_loss": (_X, _X, _X),
    "hinge_loss": (_X, _X),
    "cosine_similarity_loss": (_X, _X),
    "margin_ranking_loss": (_X, _X, _X),
}


@pytest.mark.parametrize("name", sorted(VALID_CALLS))
def test_every_loss_rejects_an_unknown_reduction(name):
    fn = getattr(losses, name)
    for reduction in ("none", "mean", "sum"):
        mx.eval(fn(*VALID_CALLS[name], reduction=reduction))
    for bad in ("avg", "Mean", None, ""):
        with pytest.raises(ValueError, match="reduction"):
            fn(*VALID_CALLS[name], reduction=bad)
