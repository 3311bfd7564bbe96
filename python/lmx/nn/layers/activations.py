"""Activation functions of ``mlx.nn``: each as a function and as a Module.

Python scalars in the formulas keep the input's floating dtype (MLX's promotion), so
float16 and bfloat16 inputs give float16 and bfloat16 outputs.
"""

import math
from functools import partial

import lmx.core as mx
from lmx.nn.layers.base import Module

__all__ = [
    "celu", "elu", "gelu", "gelu_approx", "gelu_fast_approx", "glu", "hard_shrink", "hard_tanh",
    "hardswish", "leaky_relu", "log_sigmoid", "log_softmax", "mish", "prelu", "relu", "relu2",
    "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus", "softshrink", "softsign",
    "step", "tanh",
    "CELU", "ELU", "GELU", "GLU", "HardShrink", "HardTanh", "Hardswish", "LeakyReLU", "LogSigmoid",
    "LogSoftmax", "Mish", "PReLU", "ReLU", "ReLU2", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax",
    "Softmin", "Softplus", "Softshrink", "Softsign", "Step", "Tanh",
]  # fmt: skip

# Activations compiled to one fused kernel whatever the input's shape, as in
# MLX, where that measured faster forward and backward (a grad recomputes the
# fused forward's intermediates): silu's forward and backward over 1e6 values
# took 1.73 ms plain and 0.96 compiled. gelu_approx, mish and hardswish
# measured slower compiled (a grad differentiates the traced ops one by one),
# so they run as separate ops; gelu has a fused derivative of its own.
_fused = partial(mx.compile, shapeless=True)

# SELU's constants (Klambauer et al. 2017), to full double precision.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

# ----- functions ----------------------------------------------------------------------


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return mx.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return mx.tanh(x)


def relu(x):
    """max(x, 0)."""
    return mx.maximum(x, 0)


def relu6(x):
    """min(max(x, 0), 6)."""
    return mx.minimum(mx.maximum(x, 0), 6.0)


def relu2(x):
    """max(x, 0)^2."""
    return mx.square(relu(x))


def leaky_relu(x, negative_slope=0.01):
    """max(negative_slope * x, x)."""
    return mx.maximum(negative_slope * x, x)


def prelu(x, alpha):
    """max(0, x) + alpha * min(0, x), ``alpha`` broadcast against x."""
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


def _expm1_of_negative_part(x, scale=1.0):
    # exp(x / scale) - 1 on x <= 0 and 0 elsewhere: the positive side never reaches exp,
    # so a large x cannot overflow to inf and turn the (masked) gradient into NaN. `where`
    # rather than `minimum` so that x = 0 gets the exponential branch's slope, not a tie's.
    return mx.expm1(mx.where(x > 0, 0, x) / scale)


def elu(x, alpha=1.0):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""
    return mx.where(x > 0, x, alpha * _expm1_of_negative_part(x))


def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return mx.where(x > 0, x, alpha * _expm1_of_negative_part(x, alpha))


def selu(x):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


# Each of the two kernels below compiles to one fused node.
@_fused
def _gelu(x):
    half = x * 0.5
    return half + half * mx.erf(x * (1 / math.sqrt(2)))


@_fused
def _gelu_slope_times(x, t):
    # t * d/dx [x Phi(x)] = t * (Phi(x) + x phi(x)), phi the standard normal
    # density: t/2 + t/2 erf(x / sqrt 2) + t x exp(-x^2 / 2) / sqrt(2 pi)
    half = t * 0.5
    density = (x * (1 / math.sqrt(2 * math.pi))) * mx.exp(x * (x * -0.5))
    return half + half * mx.erf(x * (1 / math.sqrt(2))) + t * density


@mx.custom_function
def gelu(x):
    """x * Phi(x), Phi the standard normal CDF."""
    return _gelu(x)


# The derivative as one fused kernel over x and the cotangent: through the
# separate ops of the forward, one training step's three gelus over
# (32, 64, 512) took 9.7 ms of the LM example's step, about 15 passes over
# memory each.
@gelu.vjp
def _gelu_vjp(x, cotangent, output):
    return _gelu_slope_times(x, cotangent)


@gelu.jvp
def _gelu_jvp(x, tangent):
    return _gelu_slope_times(x, tangent)


@gelu.vmap
def _gelu_vmap(x, axis):
    return _gelu(x), axis


def gelu_approx(x):
    """0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): within 5e-4 of gelu on [-6, 6]."""
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


@_fused
def gelu_fast_approx(x):
    """x * sigmoid(1.702 x): within 0.015 of gelu on [-6, 6]."""
    return x * mx.sigmoid(1.702 * x)


def glu(x, axis=-1):
    """a * sigmoid(b), where a and b are the two halves of ``x`` along ``axis``."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"[glu] Invalid axis {axis} for an array with {x.ndim} dimensions.")
    if x.shape[axis] % 2 != 0:
        raise ValueError(
            f"[glu] The size of axis {axis} must be even to split it in halves, got shape {x.shape}."
        )
    a, b = mx.split(x, 2, axis=axis)
    return a * mx.sigmoid(b)


@_fused
def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return x * mx.sigmoid(x)


def softplus(x):
    """log(1 + exp(x)), as logaddexp(x, 0) so that large |x| neither overflows nor loses digits."""
    return mx.logaddexp(x, 0)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for large |x|."""
    return -softplus(-x)


def mish(x):
    """x * tanh(softplus(x))."""
    return x * mx.tanh(softplus(x))


def softsign(x):
    """x / (1 + |x|)."""
    return x / (1 + mx.abs(x))


def hard_tanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]."""
    return mx.minimum(mx.maximum(x, min_val), max_val)


def hardswish(x):
    """x * min(max(x + 3, 0), 6) / 6."""
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


def hard_shrink(x, lambd=0.5):
    """x where |x| > lambd, 0 elsewhere."""
    return mx.where(mx.abs(x) > lambd, x, 0)


def softshrink(x, lambd=0.5):
    """x - sign(x) * lambd where |x| > lambd, 0 elsewhere."""
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return mx.softmax(x, axis=axis)


def softmin(x, axis=-1):
    """softmax(-x) along ``axis``."""
    return mx.softmax(-x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def step(x, threshold=0.0):
    """1 where x >= threshold, 0 elsewhere (int32, as MLX)."""
    return mx.where(x >= threshold, 1, 0)


# ----- modules ------------------------------------------------------------------------


def _module_of(function, class_name):
    """A parameter-free Module whose call applies `function` with its defaults."""

    def __call__(self, x):
        return function(x)

    cls = type(class_name, (Module,), {"__call__": __call__, "__module__": __name__})
    cls.__doc__ = f"Applies :func:`{function.__name__}` element-wise (see it for the formula)."
    return cls


ReLU = _module_of(relu, "ReLU")
ReLU6 = _module_of(relu6, "ReLU6")
ReLU2 = _module_of(relu2, "ReLU2")
SELU = _module_of(selu, "SELU")
SiLU = _module_of(silu, "SiLU")
Mish = _module_of(mish, "Mish")
Sigmoid = _module_of(sigmoid, "Sigmoid")
LogSigmoid = _module_of(log_sigmoid, "LogSigmoid")
HardTanh = _module_of(hard_tanh, "HardTanh")
Hardswish = _module_of(hardswish, "Hardswish")
Softplus = _module_of(softplus, "Softplus")
Softsign = _module_of(softsign, "Softsign")
Softmax = _module_of(softmax, "Softmax")
Softmin = _module_of(softmin, "Softmin")
LogSoftmax = _module_of(log_softmax, "LogSoftmax")
Tanh = _module_of(tanh, "Tanh")


class LeakyReLU(Module):
    """Applies :func:`leaky_relu` with the given ``negative_slope``."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    """Applies :func:`elu` with the given ``alpha``."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    """Applies :func:`celu` with the given ``alpha``."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class GLU(Module):
    """Applies :func:`glu` along ``axis``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def __call__(self, x):
        return glu(x, self.axis)


class HardShrink(Module):
    """Applies :func:`hard_shrink` with the given ``lambd``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return hard_shrink(x, self.lambd)


class Softshrink(Module):
    """Applies :func:`softshrink` with the given ``lambd``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return softshrink(x, self.lambd)


class Step(Module):
    """Applies :func:`step` at the given ``threshold``."""

    def __init__(self, threshold=0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x):
        return step(x, self.threshold)


_GELU_VARIANTS = {"none": gelu, "precise": gelu_approx, "tanh": gelu_approx, "fast": gelu_fast_approx}


class GELU(Module):
    """Applies :func:`gelu` (``approx="none"``), :func:`gelu_approx` (``"precise"``, or its
    PyTorch name ``"tanh"``) or :func:`gelu_fast_approx` (``"fast"``)."""

    def __init__(self, approx="none"):
        super().__init__()
        if approx not in _GELU_VARIANTS:
            raise ValueError(
                f"[GELU] The approximation should be in {list(_GELU_VARIANTS)} but {approx!r} was given"
            )
        self._act = _GELU_VARIANTS[approx]

    def __call__(self, x):
        return self._act(x)


class PReLU(Module):
    """:func:`prelu` with a learnable slope ``weight`` of ``num_parameters`` entries (1 shares one
    slope; otherwise one per entry of the last axis), initialised to ``init``."""

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x):
        return prelu(x, self.weight)
