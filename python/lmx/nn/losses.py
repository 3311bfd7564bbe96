"""Loss functions (``mlx.nn.losses``).

Every loss takes ``reduction`` = "none" | "mean" | "sum"; "mean" is a plain mean over all
elements of the (optionally weighted) per-element loss, as in MLX.
"""

import math

import lmx.core as mx

__all__ = [
    "binary_cross_entropy",
    "cosine_similarity_loss",
    "cross_entropy",
    "gaussian_nll_loss",
    "hinge_loss",
    "huber_loss",
    "kl_div_loss",
    "l1_loss",
    "log_cosh_loss",
    "margin_ranking_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
    "triplet_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, name):
    # Checked before any work so that a typo fails fast, whatever the inputs.
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"[{name}] Invalid reduction {reduction!r}. Must be one of {_REDUCTIONS}.")


def _reduce(loss, reduction):
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    return loss


def _check_same_shape(name, first, second, first_name, second_name):
    if first.shape != second.shape:
        raise ValueError(
            f"[{name}] {first_name} shape {first.shape} does not match {second_name} shape {second.shape}."
        )


def _apply_weights(loss, weights, name):
    # Weights are per element of the unreduced loss; MLX does not broadcast them.
    if weights is None:
        return loss
    if weights.shape != loss.shape:
        raise ValueError(
            f"[{name}] Weights with shape {weights.shape} is not the same as output loss "
            f"with shape {loss.shape}."
        )
    return loss * weights


def _normalize_axis(axis, ndim, name):
    if not -ndim <= axis < ndim:
        raise ValueError(f"[{name}] Invalid axis {axis} for an array with {ndim} dimensions.")
    return axis % ndim


def _pick_along_axis(values, indices, axis):
    """values[..., indices[...], ...] along `axis`: the entry each class index selects."""
    picked = mx.take_along_axis(values, mx.expand_dims(indices, axis), axis=axis)
    return mx.squeeze(picked, axis)


def _check_class_indices(name, targets, scores, axis):
    expected = scores.shape[:axis] + scores.shape[axis + 1 :]
    if targets.shape != expected:
        raise ValueError(
            f"[{name}] Targets shape {targets.shape} does not match logits shape {scores.shape}."
        )
    if not mx.issubdtype(targets.dtype, mx.integer):
        raise ValueError(f"[{name}] Class-index targets must have an integer dtype, got {targets.dtype}.")


def cross_entropy(logits, targets, weights=None, axis=-1, label_smoothing=0.0, reduction="none"):
    """Cross entropy between ``logits`` (unnormalised) and ``targets`` given as class indices
    (the logits' shape without ``axis``) or as probabilities (the logits' shape)."""
    name = "cross_entropy"
    _check_reduction(reduction, name)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"[{name}] Label smoothing must be in [0, 1), got {label_smoothing}.")
    axis = _normalize_axis(axis, logits.ndim, name)
    log_normalizer = mx.logsumexp(logits, axis=axis)
    if targets.ndim == logits.ndim:
        _check_same_shape(name, targets, logits, "Targets", "logits")
        if label_smoothing > 0:
            targets = targets * (1.0 - label_smoothing) + label_smoothing / logits.shape[axis]
        # -sum(t * log_softmax(x)) without materialising log_softmax's subtraction twice.
        loss = mx.sum(targets * (mx.expand_dims(log_normalizer, axis) - logits), axis=axis)
    else:
        _check_class_indices(name, targets, logits, axis)
        target_score = _pick_along_axis(logits, targets, axis)
        if label_smoothing > 0:
            # (1 - s) * CE(one_hot) + s * CE(uniform) folded into one score.
            mean_score = mx.mean(logits, axis=axis)
            target_score = (1.0 - label_smoothing) * target_score + label_smoothing * mean_score
        loss = log_normalizer - target_score
    loss = _apply_weights(loss, weights, name)
    return _reduce(loss, reduction)


def binary_cross_entropy(inputs, targets, weights=None, with_logits=True, reduction="mean"):
    """Binary cross entropy; ``inputs`` are logits (``with_logits=True``) or probabilities,
    whose logarithms are clipped at -100 so that 0 and 1 give a finite loss."""
    name = "binary_cross_entropy"
    _check_reduction(reduction, name)
    _check_same_shape(name, inputs, targets, "Inputs", "targets")
    if with_logits:
        # log(1 + e^x) - t*x, stable for large |x|.
        loss = mx.logaddexp(0.0, inputs) - inputs * targets
    else:
        log_p = mx.maximum(mx.log(inputs), -100.0)
        log_not_p = mx.maximum(mx.log(1.0 - inputs), -100.0)
        loss = -(targets * log_p + (1.0 - targets) * log_not_p)
    loss = _apply_weights(loss, weights, name)
    return _reduce(loss, reduction)


def nll_loss(inputs, targets, axis=-1, reduction="none"):
    """Negative log likelihood of class-index ``targets`` under log-probabilities ``inputs``."""
    name = "nll_loss"
    _check_reduction(reduction, name)
    axis = _normalize_axis(axis, inputs.ndim, name)
    _check_class_indices(name, targets, inputs, axis)
    return _reduce(-_pick_along_axis(inputs, targets, axis), reduction)


def l1_loss(predictions, targets, reduction="mean"):
    """Mean absolute error."""
    name = "l1_loss"
    _check_reduction(reduction, name)
    _check_same_shape(name, predictions, targets, "Predictions", "targets")
    return _reduce(mx.abs(predictions - targets), reduction)


def mse_loss(predictions, targets, reduction="mean"):
    """Mean squared error."""
    name = "mse_loss"
    _check_reduction(reduction, name)
    _check_same_shape(name, predictions, targets, "Predictions", "targets")
    return _reduce(mx.square(predictions - targets), reduction)


def smooth_l1_loss(predictions, targets, beta=1.0, reduction="mean"):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere."""
    name = "smooth_l1_loss"
    _check_reduction(reduction, name)
    _check_same_shape(name, predictions, targets, "Predictions", "targets")
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(inputs, targets, delta=1.0, reduction="none"):
    """0.5 a^2 where |a| <= delta, delta (|a| - 0.5 delta) elsewhere (inputs and targets broadcast)."""
    _check_reduction(reduction, "huber_loss")
    errors = inputs - targets
    abs_errors = mx.abs(errors)
    quadratic = mx.minimum(abs_errors, delta)
    # 0.5 q^2 + delta (|a| - q) is both branches at once, and smooth for the gradient.
    loss = 0.5 * mx.square(quadratic) + delta * (abs_errors - quadratic)
    return _reduce(loss, reduction)


def log_cosh_loss(inputs, targets, reduction="none"):
    """log(cosh(inputs - targets)), computed as logaddexp(d, -d) - log 2 so large |d| stays finite."""
    _check_reduction(reduction, "log_cosh_loss")
    errors = inputs - targets
    loss = mx.logaddexp(errors, -errors) - math.log(2.0)
    return _reduce(loss, reduction)


def kl_div_loss(inputs, targets, axis=-1, reduction="none"):
    """KL(targets || inputs) for log-probabilities: sum(exp(t) * (t - x)) over ``axis``."""
    _check_reduction(reduction, "kl_div_loss")
    loss = mx.sum(mx.exp(targets) * (targets - inputs), axis=axis)
    return _reduce(loss, reduction)


def gaussian_nll_loss(inputs, targets, vars, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log likelihood with predicted means ``inputs`` and variances ``vars``
    (clamped below at ``eps``); ``full`` adds the constant 0.5 log(2 pi)."""
    name = "gaussian_nll_loss"
    _check_reduction(reduction, name)
    _check_same_shape(name, inputs, targets, "Inputs", "targets")
    _check_same_shape(name, inputs, vars, "Inputs", "vars")
    variance = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(variance) + mx.square(targets - inputs) / variance)
    if full:
        loss = loss + 0.5 * math.log(2.0 * math.pi)
    return _reduce(loss, reduction)


def _pairwise_distance(a, b, axis, p, eps):
    # eps inside the root keeps the gradient finite when a == b.
    return mx.power(mx.sum(mx.power(mx.abs(a - b), p), axis=axis) + eps, 1.0 / p)


def triplet_loss(anchors, positives, negatives, axis=-1, p=2, margin=1.0, eps=1e-6, reduction="none"):
    """max(||a - p||_p - ||a - n||_p + margin, 0) over ``axis``."""
    _check_reduction(reduction, "triplet_loss")
    positive_distance = _pairwise_distance(anchors, positives, axis, p, eps)
    negative_distance = _pairwise_distance(anchors, negatives, axis, p, eps)
    loss = mx.maximum(positive_distance - negative_distance + margin, 0.0)
    return _reduce(loss, reduction)


def hinge_loss(inputs, targets, reduction="none"):
    """max(1 - inputs * targets, 0), targets in {-1, 1}."""
    _check_reduction(reduction, "hinge_loss")
    return _reduce(mx.maximum(1.0 - inputs * targets, 0.0), reduction)


def cosine_similarity_loss(x1, x2, axis=1, eps=1e-8, reduction="none"):
    """x1 . x2 / max(||x1|| ||x2||, eps) along ``axis``."""
    _check_reduction(reduction, "cosine_similarity_loss")
    dot = mx.sum(x1 * x2, axis=axis)
    norm1 = mx.sqrt(mx.sum(mx.square(x1), axis=axis))
    norm2 = mx.sqrt(mx.sum(mx.square(x2), axis=axis))
    loss = dot / mx.maximum(norm1 * norm2, eps)
    return _reduce(loss, reduction)


def margin_ranking_loss(inputs1, inputs2, targets, margin=0.0, reduction="none"):
    """max(-targets * (inputs1 - inputs2) + margin, 0), targets in {-1, 1}."""
    name = "margin_ranking_loss"
    _check_reduction(reduction, name)
    if not (inputs1.shape == inputs2.shape == targets.shape):
        raise ValueError(
            f"[{name}] The shapes of the arguments do not match. The provided shapes are "
            f"inputs1.shape={inputs1.shape}, inputs2.shape={inputs2.shape}, and targets.shape={targets.shape}."
        )
    loss = mx.maximum(margin - targets * (inputs1 - inputs2), 0.0)
    return _reduce(loss, reduction)
