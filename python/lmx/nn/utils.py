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
    """Averages ``gradients`` (a tree of arrays, the same structure on every process)
    over the processes of ``group`` (default: the global group).

    Small arrays travel together: leaves are flattened and concatenated until a batch
    reaches ``all_reduce_size`` bytes, and each batch takes one ``all_sum`` (with
    ``all_reduce_size <= 0`` every array goes alone). ``communication_type``, when
    given, is the dtype the batches travel in; results come back in each gradient's
    own dtype. ``communication_stream`` runs the sums on that stream."""
    from lmx.utils import tree_flatten, tree_unflatten

    group = group if group is not None else mx.distributed.init()
    size = group.size()
    if size == 1:
        return gradients
    leaves = tree_flatten(gradients)
    stream = {"stream": communication_stream} if communication_stream is not None else {}

    def average(arrays):
        wire = [a.reshape(-1) if communication_type is None else a.reshape(-1).astype(communication_type) for a in arrays]
        flat = wire[0] if len(wire) == 1 else mx.concatenate(wire)
        total = mx.distributed.all_sum(flat, group=group, **stream) / size
        out, at = [], 0
        for a in arrays:
            out.append(total[at : at + a.size].reshape(a.shape).astype(a.dtype))
            at += a.size
        return out

    averaged, batch, batch_bytes = [], [], 0
    for _, g in leaves:
        batch.append(g)
        batch_bytes += g.nbytes
        if all_reduce_size <= 0 or batch_bytes >= all_reduce_size:
            averaged += average(batch)
            batch, batch_bytes = [], 0
    if batch:
        averaged += average(batch)
    return tree_unflatten([(k, a) for (k, _), a in zip(leaves, averaged)])
