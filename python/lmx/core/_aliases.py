"""MLX's array-API spellings and small functions built from other ops."""

import contextlib
import math

from lmx import _core as _c

# The Python array API's names for existing ops.
acos, acosh, asin, asinh = _c.arccos, _c.arccosh, _c.arcsin, _c.arcsinh
atan, atan2, atanh = _c.arctan, _c.arctan2, _c.arctanh
bitwise_left_shift, bitwise_right_shift, pow = _c.left_shift, _c.right_shift, _c.power
cumulative_sum, cumulative_prod = _c.cumsum, _c.cumprod
empty, empty_like = _c.zeros, _c.zeros_like  # lmx always initialises memory
matrix_norm = _c.linalg.norm


@contextlib.contextmanager
def printoptions(precision=-1):
    """Sets the repr's float precision for the block (set_printoptions)."""
    old = _c.get_printoptions().precision
    _c.set_printoptions(precision)
    try:
        yield
    finally:
        _c.set_printoptions(old)


def positive(a, /, *, stream=None):
    """+a: a copy of a."""
    return _c.copy(a, stream=stream)


def trunc(a, /, *, stream=None):
    """Rounds toward zero."""
    if not _c.issubdtype(a.dtype, _c.inexact):
        return _c.copy(a, stream=stream)
    return _c.where(_c.less(a, 0, stream=stream), _c.ceil(a, stream=stream), _c.floor(a, stream=stream),
                    stream=stream)


def matrix_transpose(a, /, *, stream=None):
    """Swaps the last two axes."""
    return _c.swapaxes(a, -1, -2, stream=stream)


def minmax(a, /, axis=None, keepdims=False, *, stream=None):
    """(min, max) over the axes."""
    return (_c.min(a, axis=axis, keepdims=keepdims, stream=stream),
            _c.max(a, axis=axis, keepdims=keepdims, stream=stream))


def asarray(a, dtype=None, *, copy=None):
    """a as an array, copying only when asked or needed."""
    if isinstance(a, _c.array) and (dtype is None or a.dtype == dtype) and not copy:
        return a
    if copy is False and not isinstance(a, _c.array):
        raise ValueError("[asarray] Converting this object needs a copy.")
    return _c.array(a, dtype=dtype)


_KINDS = {
    "bool": lambda d: d == _c.bool_,
    "signed integer": lambda d: _c.issubdtype(d, _c.signedinteger),
    "unsigned integer": lambda d: _c.issubdtype(d, _c.unsignedinteger),
    "integral": lambda d: _c.issubdtype(d, _c.integer),
    "real floating": lambda d: _c.issubdtype(d, _c.floating),
    "complex floating": lambda d: _c.issubdtype(d, _c.complexfloating),
    "numeric": lambda d: d != _c.bool_,
}


def isdtype(dtype, kind):
    """Whether dtype is of the given kind (a dtype, a kind name, or a tuple of them)."""
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, _c.Dtype):
        return dtype == kind
    if kind not in _KINDS:
        raise ValueError(f"[isdtype] Unknown kind {kind!r}.")
    return _KINDS[kind](dtype)


def can_cast(from_, to):
    """Whether promotion of from_ with to gives to (a value-preserving cast)."""
    d = from_.dtype if isinstance(from_, _c.array) else from_
    return _c.result_type(d, to) == to


def _cosine_window(m, coeffs, stream):
    """sum_k (-1)^k c_k cos(2 pi k n / (m - 1)), n = 0 .. m-1 (NumPy's windows)."""
    if m < 1:
        return _c.zeros((0,), stream=stream)
    if m == 1:
        return _c.ones((1,), stream=stream)
    phase = _c.multiply(_c.arange(m, dtype=_c.float32, stream=stream), 2 * math.pi / (m - 1), stream=stream)
    out = _c.full((m,), coeffs[0], stream=stream)
    for k, c in enumerate(coeffs[1:], start=1):
        term = _c.multiply(_c.cos(_c.multiply(phase, float(k), stream=stream), stream=stream), c, stream=stream)
        out = _c.add(out, term, stream=stream) if k % 2 == 0 else _c.subtract(out, term, stream=stream)
    return out


def bartlett(M, *, stream=None):
    """The triangular window (NumPy's bartlett)."""
    if M < 1:
        return _c.zeros((0,), stream=stream)
    if M == 1:
        return _c.ones((1,), stream=stream)
    n = _c.arange(M, dtype=_c.float32, stream=stream)
    tri = _c.abs(_c.subtract(_c.multiply(n, 2.0 / (M - 1), stream=stream), 1.0, stream=stream), stream=stream)
    return _c.subtract(1.0, tri, stream=stream)


def hanning(M, *, stream=None):
    return _cosine_window(M, (0.5, 0.5), stream)


def hamming(M, *, stream=None):
    return _cosine_window(M, (0.54, 0.46), stream)


def blackman(M, *, stream=None):
    return _cosine_window(M, (0.42, 0.5, 0.08), stream)


__all__ = [
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_left_shift", "bitwise_right_shift",
    "pow", "cumulative_sum", "cumulative_prod", "empty", "empty_like", "matrix_norm", "positive", "trunc",
    "matrix_transpose", "minmax", "printoptions", "asarray", "isdtype", "can_cast", "bartlett", "hanning", "hamming", "blackman",
]  # fmt: skip
