"""Methods of ``array`` that forward to the op of the same name, as in MLX.

They are defined once here, in terms of the ops, rather than bound twice in C++.
"""

from lmx import _core as _c


def _reshape(self, *shape, stream=None):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return _c.reshape(self, list(shape), stream=stream)


def _transpose(self, *axes, stream=None):
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return _c.transpose(self, list(axes) if axes else None, stream=stream)


def _reduction(name):
    op = getattr(_c, name)

    def method(self, axis=None, keepdims=False, *, stream=None):
        return op(self, axis, keepdims, stream=stream)

    method.__name__ = name
    return method


def _unary(name):
    op = getattr(_c, name)

    def method(self, *, stream=None):
        return op(self, stream=stream)

    method.__name__ = name
    return method


def _forward(name):
    op = getattr(_c, name)

    def method(self, *args, **kwargs):
        return op(self, *args, **kwargs)

    method.__name__ = name
    return method


def install():
    cls = _c.array
    cls.reshape = _reshape
    cls.transpose = _transpose
    for name in ["sum", "prod", "max", "min", "all", "any", "mean", "logsumexp"]:
        setattr(cls, name, _reduction(name))
    for name in ["abs", "exp", "log", "log2", "log10", "log1p", "sin", "cos", "sqrt", "rsqrt", "square",
                 "reciprocal", "conj", "conjugate"]:
        setattr(cls, name, _unary(name))
    for name in ["var", "std", "argmax", "argmin", "flatten", "squeeze", "swapaxes", "moveaxis", "split",
                 "diagonal", "diag", "round", "view", "softmax"]:
        setattr(cls, name, _forward(name))
    cls.real = property(lambda self: _c.real(self))
    cls.imag = property(lambda self: _c.imag(self))
    cls.__str__ = cls.__repr__
