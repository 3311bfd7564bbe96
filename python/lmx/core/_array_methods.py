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


class ArrayAt:
    """``x.at[index]``: out-of-place updates where repeated indices accumulate."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    def __getitem__(self, index):
        return _AtUpdate(self._array, index)


class _AtUpdate:  # noqa: D101 - ArrayAt's [] result
    __slots__ = ("_array", "_index")

    def __init__(self, array, index):
        self._array, self._index = array, index

    def _apply(self, value, mode):
        return _c._index_update(self._array, self._index, value, mode)

    def add(self, value):
        return self._apply(value, "add")

    def subtract(self, value):
        if self._array.dtype == _c.bool_:
            raise ValueError("[at.subtract] Subtraction is not defined for boolean arrays.")
        return self._apply(_c.negative(_c.array(value) if not isinstance(value, _c.array) else value), "add")

    def multiply(self, value):
        return self._apply(value, "multiply")

    def divide(self, value):
        return self._apply(_c.reciprocal(_c.array(value) if not isinstance(value, _c.array) else value), "multiply")

    def maximum(self, value):
        return self._apply(value, "maximum")

    def minimum(self, value):
        return self._apply(value, "minimum")


class ArrayIterator:
    """Iterates over the first axis of an array, one slice at a time."""

    def __init__(self, a):
        if a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        self._array, self._i, self._n = a, 0, a.shape[0]

    def __iter__(self):
        return self

    def __next__(self):
        if self._i >= self._n:
            raise StopIteration
        self._i += 1
        return self._array[self._i - 1]


def install():
    cls = _c.array
    cls.__iter__ = lambda self: ArrayIterator(self)
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
    cls.at = property(ArrayAt)
    cls.real = property(lambda self: _c.real(self))
    cls.imag = property(lambda self: _c.imag(self))
    cls.__str__ = cls.__repr__
