"""Training helpers of ``mlx.nn``: value_and_grad over a model, average_gradients,
and (in this module only, as MLX) checkpoint."""

from functools import wraps

import lmx.core as mx

__all__ = ["average_gradients", "value_and_grad"]


def _with_parameters(model, fn):
    """``fn`` as a function of the model's trainable parameters first: it loads
    them into the model, then calls ``fn`` with the remaining arguments."""

    def call(parameters, *args, **kwargs):
        model.update(parameters)
        return fn(*args, **kwargs)

    return call


def value_and_grad(model, fn):
    """Returns a function computing ``(fn(*args, **kwargs), gradients)``, the
    gradients of ``fn``'s (first) output with respect to
    ``model.trainable_parameters()``, as a tree of the same shape."""
    value_and_grad_fn = mx.value_and_grad(_with_parameters(model, fn))

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return value_and_grad_fn(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module, fn=None):
    """Returns ``fn`` (default: the module's ``__call__``) made to recompute its
    intermediate values in the backward pass instead of keeping them, with the
    module's trainable parameters treated as inputs."""
    fn = module.__call__ if fn is None else fn
    call = _with_parameters(module, fn)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        # Keyword arguments are bound here: mx.checkpoint traces positional inputs.
        checkpointed = mx.checkpoint(lambda parameters, *inputs: call(parameters, *inputs, **kwargs))
        return checkpointed(module.trainable_parameters(), *args)

    return wrapped


def average_gradients(
    gradients, group=None, all_reduce_size=32 * 1024**2, communication_type=None, communication_stream=None
):
    """Averages ``gradients`` (a tree of arrays) over the processes of ``group``.

    lmx has no distributed backend yet, so every process is a group of one and the
    gradients come back unchanged (the grouping and casting options then have
    nothing to do). A group of several processes raises NotImplementedError."""
    size = 1 if group is None else group.size()
    if size == 1:
        return gradients
    raise NotImplementedError(
        "[average_gradients] Groups of more than one process are not available in lmx yet."
    )
