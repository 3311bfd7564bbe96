"""Optimizers (``mlx.optimizers``).

An optimizer keeps its state in one tree, ``optimizer.state``: the step count
(``"step"``, a uint64 scalar), its scheduled or fixed hyperparameters
(``"learning_rate"``...) and, under each parameter's key path, a dict of that
parameter's buffers. The tree is plain dicts, lists and arrays, so
``tree_flatten(optimizer.state)`` can be saved and ``tree_unflatten`` of the
loaded pairs assigned back to ``optimizer.state`` to resume.
"""

import numbers
from typing import Callable, List, Optional, Tuple, Union

import lmx.core as mx
from lmx.utils import tree_flatten, tree_map, tree_merge, tree_reduce

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adagrad", "AdaDelta", "Adam", "AdamW", "Adamax", "Lion",
    "Adafactor", "Muon", "MultiOptimizer", "clip_grad_norm",
]  # fmt: skip

LearningRate = Union[float, Callable[[mx.array], mx.array]]


def _is_sequence(tree):
    return isinstance(tree, (list, tuple))


def _child_path(path, key):
    return f"{path}.{key}" if path else str(key)


def _require(condition, owner, message):
    if not condition:
        raise ValueError(f"[{owner}] {message}")


def _check_betas(owner, betas, upper_name="beta"):
    _require(len(betas) == 2, owner, f"betas must hold two coefficients, got {list(betas)}.")
    for i, beta in enumerate(betas):
        _require(0.0 <= beta < 1.0, owner, f"{upper_name}{i + 1} must be in [0, 1), got {beta}.")


class Optimizer:
    """The base of every optimizer. A subclass defines ``init_single(parameter, state)``,
    which fills one parameter's (empty) state dict, and ``apply_single(gradient,
    parameter, state)``, which returns the parameter's new value and updates its state."""

    def __init__(self, schedulers=None):
        self._initialized = False
        self._state = {"step": mx.array(0, mx.uint64)}
        self._schedulers = dict(schedulers or {})

    def _owner(self):
        return type(self).__name__

    # -- public API --------------------------------------------------------

    def update(self, model, gradients):
        """Applies the gradients to ``model`` (an ``nn.Module``) in place."""
        model.update(self.apply_gradients(gradients, model))

    def init(self, parameters):
        """Creates the state of every parameter in ``parameters`` that has none yet;
        state already present (e.g. restored from a file) is kept."""
        if not isinstance(parameters, dict):
            raise TypeError(
                f"[{self._owner()}] parameters must be a dict or an nn.Module, "
                f"got {type(parameters).__name__}."
            )
        self._init_tree(parameters, self._state, "")
        self._initialized = True

    def apply_gradients(self, gradients: dict, parameters: dict):
        """Returns the updated parameters for the leaves of ``gradients`` (which may
        cover only part of ``parameters``) and advances the step count by one."""
        if not isinstance(gradients, dict):
            raise TypeError(f"[{self._owner()}] gradients must be a dict, got {type(gradients).__name__}.")
        if not self._initialized:
            self.init(gradients)
        # Schedules see the number of updates done before this one.
        for name, schedule in self._schedulers.items():
            self._state[name] = self._as_array(name, schedule(self.step))
        self._state["step"] = self.step + 1
        return self._apply_tree(gradients, parameters, self._state, "")

    def init_single(self, parameter: mx.array, state: dict):
        raise NotImplementedError(f"[{self._owner()}] Subclasses of Optimizer must define init_single.")

    def apply_single(self, gradient: mx.array, parameter: mx.array, state: dict):
        raise NotImplementedError(f"[{self._owner()}] Subclasses of Optimizer must define apply_single.")

    @property
    def state(self):
        return self._state

    @state.setter
    def state(self, state):
        if not isinstance(state, dict) or "step" not in state:
            raise ValueError(f"[{self._owner()}] The state must be a dict with a 'step' entry.")
        self._state = state
        self._initialized = False

    @property
    def step(self):
        return self._state["step"]

    @property
    def learning_rate(self):
        if "learning_rate" not in self._state:
            raise KeyError(f"[{self._owner()}] This optimizer has no learning rate.")
        return self._state["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self._state["learning_rate"] = self._as_array("learning_rate", learning_rate)

    # -- helpers for subclasses -------------------------------------------

    def _maybe_schedule(self, name, value):
        """Stores a hyperparameter in the state; a callable is a schedule, evaluated
        at the current step now and before every update."""
        if callable(value):
            self._schedulers[name] = value
            value = value(self.step)
        self._state[name] = self._as_array(name, value)

    def _as_array(self, name, value):
        if isinstance(value, mx.array):
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, bool):  # NumPy scalars too
            return mx.array(value)
        raise ValueError(
            f"[{self._owner()}] {name} must be a number, an array or a callable of the step, "
            f"got {type(value).__name__}."
        )

    def _lr_like(self, gradient):
        """The learning rate in the gradient's dtype, so half-precision training stays half."""
        return self.learning_rate.astype(gradient.dtype)

    # -- tree walks ----------------------------------------------------------

    def _init_tree(self, params, state, path):
        """Returns ``state`` completed to cover ``params`` (dicts are filled in place)."""
        if _is_sequence(params) or isinstance(params, dict):
            is_dict = isinstance(params, dict)
            if state is None:
                state = {} if is_dict else []
            if (is_dict and not isinstance(state, dict)) or (not is_dict and not _is_sequence(state)):
                raise ValueError(
                    f"[{self._owner()}] The optimizer state at '{path or '<root>'}' does not match "
                    "the parameters' structure."
                )
            if is_dict:
                for key, child in params.items():
                    state[key] = self._init_tree(child, state.get(key), _child_path(path, key))
                return state
            state = list(state) + [None] * (len(params) - len(state))
            for i, child in enumerate(params):
                state[i] = self._init_tree(child, state[i], _child_path(path, i))
            return state
        if state is None:
            state = {}
        if not isinstance(state, dict):
            raise ValueError(
                f"[{self._owner()}] The optimizer state at '{path}' is not a parameter's state "
                "(is a parameter named like an optimizer entry such as 'step'?)."
            )
        if not state:
            self.init_single(params, state)
        return state

    def _apply_tree(self, grads, params, state, path):
        if not (_is_sequence(grads) or isinstance(grads, dict)):
            return self.apply_single(grads, params, state)
        keys = list(grads.keys()) if isinstance(grads, dict) else range(len(grads))
        values = [
            self._apply_tree(
                grads[key],
                self._matching_child(params, grads, key, path, "parameters"),
                self._matching_child(
                    state, grads, key, path, "optimizer state (call init() with every parameter)"
                ),
                _child_path(path, key),
            )
            for key in keys
        ]
        if isinstance(grads, dict):
            return dict(zip(keys, values))
        return list(values) if isinstance(grads, list) else tuple(values)

    def _matching_child(self, tree, grads, key, path, what):
        if isinstance(grads, dict):
            present = isinstance(tree, dict) and key in tree
        else:
            present = _is_sequence(tree) and key < len(tree)
        if not present:
            raise KeyError(
                f"[{self._owner()}] The gradient '{_child_path(path, key)}' has no matching entry "
                f"in the {what}."
            )
        return tree[key]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, dampening and
    L2 weight decay added to the gradient."""

    def __init__(
        self,
        learning_rate: LearningRate,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
    ):
        _require(
            not nesterov or (momentum > 0 and dampening == 0),
            "SGD",
            "Nesterov momentum requires a momentum and zero dampening.",
        )
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dampening = dampening
        self.nesterov = nesterov

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        if self.weight_decay != 0:
            gradient = gradient + self.weight_decay * parameter
        lr = self._lr_like(gradient)
        if self.momentum <= 0:
            return parameter - lr * gradient
        velocity = self.momentum * state["v"] + (1 - self.dampening) * gradient
        state["v"] = velocity
        direction = gradient + self.momentum * velocity if self.nesterov else velocity
        return parameter - lr * direction


class RMSprop(Optimizer):
    """Divides the gradient by a running root mean square of recent gradients."""

    def __init__(self, learning_rate: LearningRate, alpha: float = 0.99, eps: float = 1e-8):
        _require(alpha >= 0, "RMSprop", f"alpha must be >= 0, got {alpha}.")
        _require(eps > 0, "RMSprop", f"eps must be > 0, got {eps}.")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.alpha = alpha
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        v = self.alpha * state["v"] + (1 - self.alpha) * mx.square(gradient)
        state["v"] = v
        return parameter - self._lr_like(gradient) * gradient / (mx.sqrt(v) + self.eps)


class Adagrad(Optimizer):
    """Divides the gradient by the root of the sum of all squared gradients so far."""

    def __init__(self, learning_rate: LearningRate, eps: float = 1e-8):
        _require(eps > 0, "Adagrad", f"eps must be > 0, got {eps}.")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        v = state["v"] + mx.square(gradient)
        state["v"] = v
        return parameter - self._lr_like(gradient) * gradient / (mx.sqrt(v) + self.eps)


class AdaDelta(Optimizer):
    """Scales the gradient by the ratio of running RMS of past updates ("u") and of
    past gradients ("v")."""

    def __init__(self, learning_rate: LearningRate, rho: float = 0.9, eps: float = 1e-6):
        _require(rho >= 0, "AdaDelta", f"rho must be >= 0, got {rho}.")
        _require(eps > 0, "AdaDelta", f"eps must be > 0, got {eps}.")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.rho = rho
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)
        state["u"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        rho, eps = self.rho, self.eps
        v = rho * state["v"] + (1 - rho) * mx.square(gradient)
        delta = mx.sqrt(state["u"] + eps) / mx.sqrt(v + eps) * gradient
        state["v"] = v
        state["u"] = rho * state["u"] + (1 - rho) * mx.square(delta)
        return parameter - self._lr_like(gradient) * delta


@mx.compile
def _adam_update(parameter, gradient, m, v, lr, b1, b2, eps, decay):
    """AdamW's decoupled decay (none when ``decay`` is 0), then Adam's update
    without bias correction: the new parameter, m and v. Compiled (one trace
    per parameter shape and dtype) into one fused pass over the four arrays:
    op by op, the LM example's AdamW step took 2.7 ms, fused 1.6."""
    if decay:
        parameter = parameter * (1 - lr * decay)
    m = b1 * m + (1 - b1) * gradient
    v = b2 * v + (1 - b2) * mx.square(gradient)
    return parameter - lr * m / (mx.sqrt(v) + eps), m, v


class Adam(Optimizer):
    """Adam: running means of the gradient ("m") and of its square ("v"); with
    ``bias_correction`` both are divided by ``1 - beta**step``."""

    def __init__(
        self,
        learning_rate: LearningRate,
        betas: List[float] = [0.9, 0.999],
        eps: float = 1e-8,
        bias_correction: bool = False,
    ):
        _check_betas(type(self).__name__, betas)
        _require(eps >= 0, type(self).__name__, f"eps must be >= 0, got {eps}.")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.eps = eps
        self.bias_correction = bias_correction

    def init_single(self, parameter, state):
        state["m"] = mx.zeros_like(parameter)
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        return self._adam_step(gradient, parameter, state, 0.0)

    def _adam_step(self, gradient, parameter, state, decay):
        b1, b2 = self.betas
        if not self.bias_correction:
            lr = self._lr_like(gradient)
            parameter, state["m"], state["v"] = _adam_update(
                parameter, gradient, state["m"], state["v"], lr, float(b1), float(b2), float(self.eps), float(decay)
            )
            return parameter
        if decay:
            parameter = parameter * (1 - self._lr_like(gradient) * decay)
        m = b1 * state["m"] + (1 - b1) * gradient
        v = b2 * state["v"] + (1 - b2) * mx.square(gradient)
        state["m"], state["v"] = m, v
        # The corrections are computed in float32: beta**step loses too much in half precision.
        step = self.step.astype(mx.float32)
        m_scale = (self.learning_rate / (1 - b1**step)).astype(gradient.dtype)
        v_scale = mx.rsqrt(1 - b2**step).astype(gradient.dtype)
        return parameter - m_scale * m / (mx.sqrt(v) * v_scale + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameter shrinks by ``lr * weight_decay``
    before the Adam step."""

    def __init__(
        self,
        learning_rate: LearningRate,
        betas: List[float] = [0.9, 0.999],
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        bias_correction: bool = False,
    ):
        super().__init__(learning_rate=learning_rate, betas=betas, eps=eps, bias_correction=bias_correction)
        self.weight_decay = weight_decay

    def apply_single(self, gradient, parameter, state):
        return self._adam_step(gradient, parameter, state, self.weight_decay)


class Adamax(Adam):
    """Adam with the infinity norm: "v" is the running maximum of ``|gradient|``."""

    def __init__(self, learning_rate: LearningRate, betas: List[float] = [0.9, 0.999], eps: float = 1e-8):
        super().__init__(learning_rate=learning_rate, betas=betas, eps=eps)

    def apply_single(self, gradient, parameter, state):
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * gradient
        v = mx.maximum(b2 * state["v"], mx.abs(gradient))
        state["m"], state["v"] = m, v
        return parameter - self._lr_like(gradient) * m / (v + self.eps)


class Lion(Optimizer):
    """Lion: steps by the sign of an interpolation of momentum and gradient; decoupled
    weight decay as AdamW."""

    def __init__(
        self, learning_rate: LearningRate, betas: List[float] = [0.9, 0.99], weight_decay: float = 0.0
    ):
        _check_betas("Lion", betas)
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.weight_decay = weight_decay

    def init_single(self, parameter, state):
        state["m"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        b1, b2 = self.betas
        lr = self._lr_like(gradient)
        direction = mx.sign(b1 * state["m"] + (1 - b1) * gradient)
        state["m"] = b2 * state["m"] + (1 - b2) * gradient
        if self.weight_decay > 0:
            parameter = parameter * (1 - lr * self.weight_decay)
        return parameter - lr * direction


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018). Parameters of two or more dimensions keep
    only row and column means of the squared gradient (over the last two axes);
    others keep a full running mean. The update is normalised to an RMS of at most
    ``clip_threshold``. With ``relative_step`` the step size is ``min(1e-2, 1/sqrt(step))``
    (``min(1e-6 * step, 1/sqrt(step))`` with ``warmup_init``) instead of the learning
    rate, and ``scale_parameter`` multiplies it by ``max(eps[1], RMS(parameter))``."""

    def __init__(
        self,
        learning_rate: Optional[LearningRate] = None,
        eps: Tuple[float, float] = (1e-30, 1e-3),
        clip_threshold: float = 1.0,
        decay_rate: float = -0.8,
        beta_1: Optional[float] = None,
        weight_decay: float = 0.0,
        scale_parameter: bool = True,
        relative_step: bool = True,
        warmup_init: bool = False,
    ):
        _require(len(eps) == 2, "Adafactor", f"eps must hold two values (eps_1, eps_2), got {eps}.")
        _require(
            learning_rate is not None or relative_step,
            "Adafactor",
            "A learning_rate is required when relative_step is False.",
        )
        super().__init__()
        if learning_rate is not None:
            self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps
        self.clip_threshold = clip_threshold
        self.decay_rate = decay_rate
        self.beta_1 = beta_1
        self.weight_decay = weight_decay
        self.scale_parameter = scale_parameter
        self.relative_step = relative_step
        self.warmup_init = warmup_init

    def init_single(self, parameter, state):
        shape = parameter.shape
        if parameter.ndim >= 2:
            state["exp_avg_sq_row"] = mx.zeros(shape[:-1], dtype=parameter.dtype)
            state["exp_avg_sq_col"] = mx.zeros(shape[:-2] + shape[-1:], dtype=parameter.dtype)
        else:
            state["exp_avg_sq"] = mx.zeros_like(parameter)
        if self.beta_1 is not None:
            state["exp_avg"] = mx.zeros_like(parameter)

    def _step_size(self, step, parameter):
        if self.relative_step:
            ceiling = 1e-6 * step if self.warmup_init else 1e-2
            size = mx.minimum(ceiling, mx.rsqrt(step))
        else:
            size = self.learning_rate.astype(mx.float32)
        if self.scale_parameter:
            size = mx.maximum(self.eps[1], _rms(parameter.astype(mx.float32))) * size
        return size

    def apply_single(self, gradient, parameter, state):
        dtype = gradient.dtype
        step = self.step.astype(mx.float32)
        step_size = self._step_size(step, parameter).astype(dtype)
        beta_2 = (1.0 - step**self.decay_rate).astype(dtype)
        squared = mx.square(gradient) + self.eps[0]
        if gradient.ndim >= 2:
            row = beta_2 * state["exp_avg_sq_row"] + (1 - beta_2) * mx.mean(squared, axis=-1)
            col = beta_2 * state["exp_avg_sq_col"] + (1 - beta_2) * mx.mean(squared, axis=-2)
            state["exp_avg_sq_row"], state["exp_avg_sq_col"] = row, col
            # Rank-1 estimate of the second moment: outer(row, col) / mean(row).
            row_factor = mx.rsqrt(row / mx.mean(row, axis=-1, keepdims=True))
            update = mx.expand_dims(row_factor, -1) * mx.expand_dims(mx.rsqrt(col), -2) * gradient
        else:
            v = beta_2 * state["exp_avg_sq"] + (1 - beta_2) * squared
            state["exp_avg_sq"] = v
            update = mx.rsqrt(v) * gradient
        update = update / mx.maximum(1.0, _rms(update) / self.clip_threshold)
        update = step_size * update
        if self.beta_1 is not None:
            update = self.beta_1 * state["exp_avg"] + (1 - self.beta_1) * update
            state["exp_avg"] = update
        if self.weight_decay != 0:
            parameter = parameter - self.weight_decay * step_size * parameter
        return parameter - update


def _rms(x):
    return mx.sqrt(mx.mean(mx.square(x)))


# Quintic Newton-Schulz coefficients of Muon's reference implementation (Jordan et al., 2024):
# chosen to push singular values towards 1 fast rather than to converge exactly.
_NEWTON_SCHULZ_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def _orthogonalize(matrix, steps):
    """Approximately ``U @ V.T`` of the SVD ``matrix = U S V.T`` by Newton-Schulz iteration."""
    a, b, c = _NEWTON_SCHULZ_COEFFICIENTS
    tall = matrix.shape[0] > matrix.shape[1]
    x = matrix.T if tall else matrix  # iterate on the wide side: the Gram matrix x @ x.T is smaller
    x = x / (mx.sqrt(mx.sum(mx.square(x))) + 1e-7)  # Frobenius norm 1 bounds the spectral norm by 1
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if tall else x


class Muon(Optimizer):
    """Muon: SGD momentum whose update, for parameters of two or more dimensions, is
    replaced by its orthogonalisation (Newton-Schulz iteration; higher-dimensional
    parameters such as convolution filters are flattened to ``(shape[0], -1)``), with
    the step scaled by ``sqrt(max(1, rows / cols))`` of the last two axes. Scalars and
    vectors take the plain momentum update. Weight decay is added to the gradient."""

    def __init__(
        self,
        learning_rate: LearningRate,
        momentum: float = 0.95,
        weight_decay: float = 0.01,
        nesterov: bool = True,
        ns_steps: int = 5,
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.ns_steps = ns_steps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        mu = self.momentum
        if self.weight_decay != 0:
            gradient = gradient + self.weight_decay * parameter
        velocity = mu * state["v"] + (1 - mu) * gradient
        state["v"] = velocity
        update = (1 - mu) * gradient + mu * velocity if self.nesterov else velocity
        lr = self._lr_like(gradient)
        if update.ndim >= 2:
            shape = update.shape
            update = _orthogonalize(update.reshape(shape[0], -1), self.ns_steps).reshape(shape)
            lr = lr * max(1.0, shape[-2] / shape[-1]) ** 0.5
        return parameter - lr * update


class MultiOptimizer(Optimizer):
    """Routes each parameter to one of several optimizers. ``filters[i](path, array)``
    (``path`` the dotted key, e.g. ``"layers.0.weight"``) claims a parameter for
    ``optimizers[i]``; the first filter that accepts it wins, and the last optimizer
    (which needs no filter) takes every parameter no filter accepted."""

    def __init__(self, optimizers, filters: list = []):
        super().__init__()
        _require(
            len(filters) == len(optimizers) - 1,
            "MultiOptimizer",
            f"Given {len(filters)} filters for {len(optimizers)} optimizers; {len(optimizers) - 1} needed.",
        )
        self.optimizers = list(optimizers)
        self.filters = list(filters) + [lambda path, array: True]

    def _split(self, tree):
        """One subtree of ``tree`` per optimizer, holding the leaves routed to it."""
        if len(self.optimizers) == 1:
            return [tree]
        owner = {
            path: next(i for i, keep in enumerate(self.filters) if keep(path, leaf))
            for path, leaf in tree_flatten(tree)
        }
        return [_select(tree, lambda path, i=i: owner[path] == i, "") for i in range(len(self.optimizers))]

    def init(self, parameters):
        for optimizer, part in zip(self.optimizers, self._split(parameters)):
            optimizer.init(part)

    def apply_gradients(self, gradients, parameters):
        updated = {}
        for optimizer, part in zip(self.optimizers, self._split(gradients)):
            updated = tree_merge(updated, optimizer.apply_gradients(part, parameters))
        return updated

    @property
    def state(self):
        return {"states": [optimizer.state for optimizer in self.optimizers]}

    @state.setter
    def state(self, state):
        if (
            not isinstance(state, dict)
            or "states" not in state
            or len(state["states"]) != len(self.optimizers)
        ):
            raise ValueError(
                f"[MultiOptimizer] The state must be a dict whose 'states' lists one state per optimizer "
                f"({len(self.optimizers)})."
            )
        for optimizer, part in zip(self.optimizers, state["states"]):
            optimizer.state = part

    @property
    def step(self):
        return self.optimizers[0].step

    @property
    def learning_rate(self):
        raise AttributeError(
            "[MultiOptimizer] Each optimizer has its own learning rate: use optimizers[i].learning_rate."
        )

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        raise AttributeError(
            "[MultiOptimizer] Each optimizer has its own learning rate: set optimizers[i].learning_rate."
        )


def _select(tree, wanted, path):
    """The part of ``tree`` whose leaves satisfy ``wanted(path)``. Lists keep their
    length (so indices still match the parameters), with ``{}`` where nothing is kept."""
    if isinstance(tree, dict):
        kept = {key: _select(child, wanted, _child_path(path, key)) for key, child in tree.items()}
        return {key: child for key, child in kept.items() if not _is_empty(child)}
    if _is_sequence(tree):
        kept = [_select(child, wanted, _child_path(path, i)) for i, child in enumerate(tree)]
        return {} if all(_is_empty(child) for child in kept) else kept
    return tree if wanted(path) else {}


def _is_empty(tree):
    return isinstance(tree, (dict, list, tuple)) and len(tree) == 0


def clip_grad_norm(grads, max_norm):
    """Scales all gradients by ``min(1, max_norm / (total_norm + 1e-6))``, where
    ``total_norm`` is the L2 norm of all of them together. Returns ``(clipped, total_norm)``."""

    def add_square_norm(total, g):
        # Half-precision squares are summed in float32 so the norm does not overflow.
        if g.dtype in (mx.float16, mx.bfloat16):
            g = g.astype(mx.float32)
        return total + mx.sum(mx.square(g))

    total_norm = mx.sqrt(tree_reduce(add_square_norm, grads, mx.array(0.0, mx.float32)))
    scale = mx.minimum(max_norm / (total_norm + 1e-6), 1.0)
    return tree_map(lambda g: g * scale.astype(g.dtype), grads), total_norm
