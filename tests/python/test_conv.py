"""Convolutions vs a direct NumPy reference.

conv1d/2d/3d, conv_general (stride, symmetric and (low, high) padding, kernel
and input dilation, groups, flip), conv_transpose1d/2d/3d and convolve.

MLX is channels-last: input (N, *spatial, C_in), weight (C_out, *kernel,
C_in / groups), output (N, *out_spatial, C_out). conv* is a cross-correlation
(the kernel is not flipped) unless conv_general's flip=True.
"""

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from conftest import BACKEND, mx, to_numpy

# MLX's CPU backend convolves float64 at float32 precision, so float64 gets
# float32's allowance here (lmx may do better).
EPS = {"float16": 2**-10, "bfloat16": 2**-7, "float32": 2**-23, "float64": 2**-23}


# ---- NumPy reference ---------------------------------------------------------

def _tup(v, d):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d


def _pads(padding, d):
    """(low, high) per spatial dim from an int, a per-dim list or a (lo, hi) pair."""
    if isinstance(padding, tuple) and len(padding) == 2 and isinstance(padding[0], (list, tuple)):
        return tuple(padding[0]), tuple(padding[1])
    p = _tup(padding, d)
    return p, p


def ref_conv(x, w, stride=1, padding=0, kdil=1, idil=1, groups=1, flip=False):
    """out[n, o, g*og + j] = sum_{k, c} xpad[n, o*s + k*kdil, g*cg + c] * w[g*og + j, k, c]."""
    d = x.ndim - 2
    stride, kdil, idil = _tup(stride, d), _tup(kdil, d), _tup(idil, d)
    lo, hi = _pads(padding, d)
    n, c = x.shape[0], x.shape[-1]
    # Input dilation puts idil - 1 zeros between neighbours; padding comes after.
    xd = np.zeros((n, *[(s - 1) * i + 1 for s, i in zip(x.shape[1:-1], idil)], c))
    xd[(slice(None), *[slice(None, None, i) for i in idil])] = x
    # Negative padding crops (only tested without input dilation).
    xd = xd[(slice(None), *[slice(max(-l, 0), xd.shape[i + 1] - max(-h, 0))
                            for i, (l, h) in enumerate(zip(lo, hi))])]
    xp = np.pad(xd, [(0, 0), *[(max(l, 0), max(h, 0)) for l, h in zip(lo, hi)], (0, 0)])
    if flip:
        w = w[(slice(None), *[slice(None, None, -1)] * d)]
    k = w.shape[1:-1]
    span = [(kk - 1) * kd + 1 for kk, kd in zip(k, kdil)]
    win = sliding_window_view(xp, span, axis=tuple(range(1, d + 1)))
    win = win[(slice(None), *[slice(None, None, s) for s in stride], slice(None),
               *[slice(None, None, kd) for kd in kdil])]  # (N, *O, C, *K)
    out_sp = win.shape[1:1 + d]
    cout, cg = w.shape[0], c // groups
    win = win.reshape(n, *out_sp, groups, cg, *k)
    wg = w.reshape(groups, cout // groups, *k, cg)
    ks = "pqr"[:d]
    out = np.einsum(f"n{ks.upper()}gc{ks},go{ks}c->n{ks.upper()}go", win, wg)
    return out.reshape(n, *out_sp, cout)


def transpose_out_size(i, k, s, p, dil, op):
    return (i - 1) * s - 2 * p + dil * (k - 1) + op + 1


def ref_conv_transpose(x, w, stride=1, padding=0, dil=1, out_pad=0, groups=1):
    """Scatter form: y_full[i*s + k*dil] += x[i] . w[:, k], then y = y_full[p : p + O]."""
    d = x.ndim - 2
    stride, padding, dil, out_pad = (_tup(v, d) for v in (stride, padding, dil, out_pad))
    n, c = x.shape[0], x.shape[-1]
    isz, k, cout = x.shape[1:-1], w.shape[1:-1], w.shape[0]
    cg, og = c // groups, cout // groups
    full = [(i - 1) * s + dl * (kk - 1) + 1 for i, s, dl, kk in zip(isz, stride, dil, k)]
    osz = [transpose_out_size(*a) for a in zip(isz, k, stride, padding, dil, out_pad)]
    y = np.zeros((n, *[max(f, p + o) for f, p, o in zip(full, padding, osz)], cout))
    xg = x.reshape(n, *isz, groups, cg)
    wg = w.reshape(groups, og, *k, cg)
    for kidx in np.ndindex(*k):
        part = np.einsum("n...gc,goc->n...go", xg, wg[(slice(None), slice(None), *kidx)])
        sl = tuple(slice(kk * dl, kk * dl + (i - 1) * s + 1, s)
                   for kk, dl, i, s in zip(kidx, dil, isz, stride))
        y[(slice(None), *sl)] += part.reshape(n, *isz, cout)
    return y[(slice(None), *[slice(p, p + o) for p, o in zip(padding, osz)])]


# ---- helpers -----------------------------------------------------------------

def make(rng, shape, dtype="float32"):
    """(mx array, float64 NumPy copy of exactly its values)."""
    a = mx.array(rng.uniform(-1, 1, shape).astype(np.float32)).astype(getattr(mx, dtype))
    return a, to_numpy(a).astype(np.float64)


def check(got, expected, dtype="float32", k=1):
    """k: products summed per output element; the error bound grows like sqrt(k)."""
    assert got.dtype == getattr(mx, dtype)
    g = to_numpy(got).astype(np.float64)
    assert g.shape == expected.shape
    eps = EPS[dtype]
    atol = (4 if dtype in ("float16", "bfloat16") else 64) * eps * math.sqrt(max(k, 1))
    np.testing.assert_allclose(g, expected, rtol=2 * eps, atol=atol)


# ---- conv1d / conv2d / conv3d --------------------------------------------------

# (input shape, C_out, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    ((1, 8, 3), 4, (3,), 1, 0, 1, 1),
    ((2, 11, 4), 6, (3,), 2, 1, 1, 1),
    ((3, 16, 6), 4, (4,), 3, 2, 2, 2),
    ((2, 9, 4), 4, (5,), 1, 2, 1, 4),        # depthwise
    ((2, 9, 4), 8, (3,), 1, 1, 1, 4),        # depthwise, channel multiplier 2
    ((1, 5, 2), 3, (5,), 1, 0, 1, 1),        # kernel as long as the input
    ((2, 4, 3), 2, (1,), 1, 0, 1, 1),        # 1-wide kernel
    ((1, 6, 7, 3), 5, (3, 3), 1, 1, 1, 1),
    ((2, 9, 8, 4), 6, (3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((2, 10, 10, 6), 6, (3, 3), 2, 1, 1, 6),  # depthwise 2-D
    ((1, 5, 6, 8), 4, (2, 3), (1, 2), (0, 2), (2, 1), 4),
    ((1, 4, 4, 2), 3, (4, 4), 1, 0, 1, 1),
    ((1, 5, 6, 4, 3), 4, (3, 2, 2), 1, 0, 1, 1),
    ((2, 6, 5, 7, 2), 3, (2, 3, 3), (2, 1, 2), (1, 1, 0), (1, 1, 2), 1),
]
CONV_FN = {1: mx.conv1d, 2: mx.conv2d, 3: mx.conv3d}


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_nd(case, rng):
    shape, cout, k, stride, pad, dil, groups = case
    d = len(k)
    (x, xn), (w, wn) = make(rng, shape), make(rng, (cout, *k, shape[-1] // groups))
    got = CONV_FN[d](x, w, stride=stride, padding=pad, dilation=dil, groups=groups)
    expected = ref_conv(xn, wn, stride, pad, dil, groups=groups)
    check(got, expected, k=math.prod(k) * shape[-1] // groups)
    # conv_general with the same arguments agrees.
    got = mx.conv_general(x, w, stride=stride, padding=pad, kernel_dilation=dil, groups=groups)
    check(got, expected, k=math.prod(k) * shape[-1] // groups)


def test_conv_output_shape_formula():
    # out = (in + 2p - dil*(k-1) - 1) // stride + 1 per spatial dim.
    x, w = mx.ones((2, 17, 13, 3)), mx.ones((5, 4, 3, 3))
    got = mx.conv2d(x, w, stride=(3, 2), padding=(2, 1), dilation=(2, 3))
    assert got.shape == (2, (17 + 4 - 6 - 1) // 3 + 1, (13 + 2 - 6 - 1) // 2 + 1, 5)
    assert mx.conv1d(mx.ones((0, 9, 2)), mx.ones((3, 2, 2))).shape == (0, 8, 3)


# ---- conv_general ------------------------------------------------------------

# (input shape, C_out, kernel, stride, padding, kernel_dilation, input_dilation, groups, flip)
GENERAL_CASES = [
    ((2, 10, 4), 3, (3,), 2, ([1], [3]), 2, 3, 1, True),
    ((1, 7, 2), 2, (2,), 1, ([0], [2]), 1, 2, 2, False),
    ((2, 8, 6), 4, (3,), 1, 1, 1, 1, 2, True),
    ((2, 7, 8, 6), 6, (3, 2), (2, 1), ([1, 0], [2, 3]), (1, 2), (2, 1), 3, True),
    ((1, 5, 5, 2), 3, (3, 3), 1, ([2, 0], [0, 2]), 1, 1, 1, False),
    ((1, 4, 6, 3), 2, (2, 3), (1, 2), [1, 2], 1, (3, 2), 1, False),
    ((2, 4, 5, 3, 2), 3, (2, 3, 2), (1, 2, 1), ([1, 0, 2], [0, 2, 1]), (2, 1, 1),
     (1, 2, 2), 1, True),
]


@pytest.mark.parametrize("case", GENERAL_CASES, ids=str)
def test_conv_general(case, rng):
    shape, cout, k, stride, pad, kdil, idil, groups, flip = case
    (x, xn), (w, wn) = make(rng, shape), make(rng, (cout, *k, shape[-1] // groups))
    got = mx.conv_general(x, w, stride=stride, padding=pad, kernel_dilation=kdil,
                          input_dilation=idil, groups=groups, flip=flip)
    check(got, ref_conv(xn, wn, stride, pad, kdil, idil, groups, flip),
          k=math.prod(k) * shape[-1] // groups)


def test_conv_general_flip_is_true_convolution(rng):
    (x, _), (w, _) = make(rng, (2, 7, 6, 3)), make(rng, (4, 3, 2, 3))
    flipped = mx.conv_general(x, w, padding=1, flip=True)
    check(flipped, to_numpy(mx.conv_general(x, w[:, ::-1, ::-1, :], padding=1)).astype(float), k=18)
    assert not np.allclose(to_numpy(flipped), to_numpy(mx.conv_general(x, w, padding=1)))


def test_conv_general_argument_forms(rng):
    (x, xn), (w, wn) = make(rng, (1, 8, 9, 2)), make(rng, (3, 3, 3, 2))
    # A scalar applies to every spatial dim; a list is per dim; a pair of lists is (low, high).
    check(mx.conv_general(x, w, stride=2, padding=1), ref_conv(xn, wn, 2, 1), k=18)
    check(mx.conv_general(x, w, stride=[2, 1], padding=[1, 2]),
          ref_conv(xn, wn, (2, 1), (1, 2)), k=18)
    check(mx.conv_general(x, w, padding=([1, 1], [1, 1])),
          to_numpy(mx.conv_general(x, w, padding=1)).astype(float), k=18)
    # Negative padding crops the input.
    check(mx.conv_general(x, w, padding=([-1, 0], [-2, 1])),
          ref_conv(xn, wn, padding=([-1, 0], [-2, 1])), k=18)


# ---- conv_transpose ------------------------------------------------------------

# (input shape, C_out, kernel, stride, padding, dilation, output_padding, groups)
TRANSPOSE_CASES = [
    ((2, 5, 6), 4, (3,), 1, 0, 1, 0, 1),
    ((1, 5, 6), 4, (3,), 2, 1, 1, 1, 1),
    ((2, 5, 6), 4, (3,), 3, 2, 2, 0, 1),
    ((2, 6, 4), 4, (3,), 2, 1, 1, 1, 2),
    ((2, 6, 4), 4, (2,), 2, 0, 1, 0, 4),      # depthwise
    ((2, 10, 3), 4, (3,), 1, 3, 1, 0, 1),     # padding beyond dil*(k-1) crops
    ((1, 4, 5, 4), 6, (2, 2), (2, 3), (1, 0), (1, 2), (1, 2), 2),
    ((2, 3, 4, 3), 2, (3, 3), 2, 1, 1, 1, 1),
    ((1, 4, 4, 6), 12, (3, 3), 2, 0, 1, 0, 6),
    ((2, 3, 4, 2, 4), 3, (3, 2, 3), (2, 1, 3), (1, 0, 1), (1, 2, 1), (1, 0, 2), 1),
    ((1, 2, 2, 2, 2), 2, (2, 2, 2), 1, 0, 1, 0, 1),
]
TRANSPOSE_FN = {1: mx.conv_transpose1d, 2: mx.conv_transpose2d, 3: mx.conv_transpose3d}


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv_transpose(case, rng):
    shape, cout, k, stride, pad, dil, opad, groups = case
    d = len(k)
    (x, xn), (w, wn) = make(rng, shape), make(rng, (cout, *k, shape[-1] // groups))
    got = TRANSPOSE_FN[d](x, w, stride=stride, padding=pad, dilation=dil,
                          output_padding=opad, groups=groups)
    sizes = zip(shape[1:-1], k, *(_tup(v, d) for v in (stride, pad, dil, opad)))
    assert got.shape == (shape[0], *[transpose_out_size(*a) for a in sizes], cout)
    check(got, ref_conv_transpose(xn, wn, stride, pad, dil, opad, groups),
          k=math.prod(k) * shape[-1] // groups)


def test_conv_transpose_output_padding_not_capped_by_stride(rng):
    # MLX accepts output_padding >= stride: the extra positions are zeros' worth.
    (x, xn), (w, wn) = make(rng, (2, 5, 3)), make(rng, (2, 3, 3))
    got = mx.conv_transpose1d(x, w, stride=2, output_padding=4)
    assert got.shape == (2, 15, 2)
    check(got, ref_conv_transpose(xn, wn, 2, 0, 1, 4), k=9)


def test_conv_transpose_is_adjoint_of_conv(rng):
    # <conv(x, W), y> == <x, conv_transpose(y, W')>, W' = W with C_in and C_out swapped.
    (x, xn), (w, wn) = make(rng, (2, 9, 8, 3)), make(rng, (4, 3, 2, 3))
    y_shape = mx.conv2d(x, w, stride=2, padding=1, dilation=(1, 2)).shape
    y, yn = make(rng, y_shape)
    xt = mx.conv_transpose2d(y, mx.transpose(w, (3, 1, 2, 0)), stride=2, padding=1,
                             dilation=(1, 2), output_padding=(0, 1))
    assert xt.shape == x.shape
    lhs = float((ref_conv(xn, wn, 2, 1, (1, 2)) * yn).sum())
    np.testing.assert_allclose(float((xn * to_numpy(xt)).sum()), lhs, rtol=1e-4, atol=1e-4)


# ---- dtypes, layouts ------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_conv_dtypes(dtype, rng):
    (x, xn), (w, wn) = make(rng, (2, 9, 8, 6), dtype), make(rng, (4, 3, 3, 3), dtype)
    check(mx.conv2d(x, w, padding=1, groups=2), ref_conv(xn, wn, padding=1, groups=2), dtype, k=27)
    (x, xn), (w, wn) = make(rng, (2, 30, 16), dtype), make(rng, (8, 7, 16), dtype)
    check(mx.conv1d(x, w, stride=2), ref_conv(xn, wn, 2), dtype, k=112)
    check(mx.conv_transpose1d(x, w, stride=2), ref_conv_transpose(xn, wn, 2), dtype, k=112)
    check(mx.convolve(x[0, :, 0], w[0, :, 0]), np.convolve(xn[0, :, 0], wn[0, :, 0]), dtype, k=7)


def test_conv_float64(rng):
    # MLX's CPU backend has float64 kernels only for unit-stride, undilated,
    # ungrouped forward convolutions (others raise ValueError at eval), so
    # only those are specified here.
    (x, xn), (w, wn) = make(rng, (2, 30, 16), "float64"), make(rng, (8, 7, 16), "float64")
    check(mx.conv1d(x, w, padding=2), ref_conv(xn, wn, padding=2), "float64", k=112)
    (x, xn), (w, wn) = make(rng, (2, 9, 8, 6), "float64"), make(rng, (4, 3, 3, 6), "float64")
    check(mx.conv2d(x, w, padding=1), ref_conv(xn, wn, padding=1), "float64", k=54)
    (x, xn), (w, wn) = make(rng, (1, 5, 5, 5, 4), "float64"), make(rng, (3, 3, 3, 3, 4), "float64")
    check(mx.conv3d(x, w), ref_conv(xn, wn), "float64", k=108)
    check(mx.convolve(x[0, 0, 0, :, 0], w[0, 0, 0, :, 0]),
          np.convolve(xn[0, 0, 0, :, 0], wn[0, 0, 0, :, 0]), "float64", k=3)


def test_conv_mixed_dtypes_promote(rng):
    (x, xn), (w, wn) = make(rng, (1, 6, 2), "float16"), make(rng, (3, 2, 2))
    got = mx.conv1d(x, w)
    assert got.dtype == mx.float32
    check(got, ref_conv(xn, wn), k=4)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool_", "complex64"])
def test_conv_rejects_non_real_float(dtype):
    dt = getattr(mx, dtype)
    x, w = mx.ones((1, 5, 2), dtype=dt), mx.ones((1, 2, 2), dtype=dt)
    with pytest.raises(ValueError):
        mx.conv1d(x, w)
    with pytest.raises(ValueError):
        mx.conv1d(x, mx.ones((1, 2, 2)))
    with pytest.raises(ValueError):
        mx.convolve(x[0, :, 0], w[0, :, 0])


def test_conv_non_contiguous(rng):
    (xb, xbn), (wb, wbn) = make(rng, (9, 2, 4)), make(rng, (4, 3, 5))
    x, w = mx.transpose(xb, (1, 0, 2)), mx.transpose(wb, (2, 1, 0))
    expected = ref_conv(xbn.transpose(1, 0, 2), wbn.transpose(2, 1, 0), padding=1)
    check(mx.conv1d(x, w, padding=1), expected, k=12)
    (xb, xbn), (wb, wbn) = make(rng, (2, 12, 10, 8)), make(rng, (6, 4, 4, 4))
    x, xn = xb[:, ::2, 1::2, ::2], xbn[:, ::2, 1::2, ::2]
    w, wn = wb[::-1, 1:, ::-1, :2], wbn[::-1, 1:, ::-1, :2]
    check(mx.conv2d(x, w, groups=2), ref_conv(xn, wn, groups=2), k=18)
    check(mx.conv_transpose2d(x, w, stride=2, groups=2),
          ref_conv_transpose(xn, wn, 2, groups=2), k=18)
    xc = mx.broadcast_to(xb[:1, :1], (3, 5, 10, 8))  # stride-0 view
    check(mx.conv2d(xc, wb[:, :3, :3], groups=2),
          ref_conv(np.broadcast_to(xbn[:1, :1], (3, 5, 10, 8)), wbn[:, :3, :3], groups=2), k=36)
    a, an = make(rng, (20,))
    check(mx.convolve(a[::3], a[::-4]), np.convolve(an[::3], an[::-4]), k=5)


# ---- convolve ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(5, 3), (3, 5), (6, 4), (4, 6), (7, 7), (1, 1), (1, 4),
                                 (4, 1), (8, 2), (2, 9), (64, 9)])
def test_convolve(n, m, mode, rng):
    # Same as numpy.convolve: a true convolution; the shorter input slides.
    (a, an), (v, vn) = make(rng, (n,)), make(rng, (m,))
    check(mx.convolve(a, v, mode=mode), np.convolve(an, vn, mode), k=min(n, m))


def test_convolve_default_mode_is_full(rng):
    (a, an), (v, vn) = make(rng, (6,)), make(rng, (3,))
    check(mx.convolve(a, v), np.convolve(an, vn), k=3)


# ---- errors --------------------------------------------------------------------

X1, W1 = (2, 10, 6), (4, 3, 6)
ERRORS = {
    "channel_mismatch": lambda: mx.conv1d(mx.ones(X1), mx.ones((4, 3, 5))),
    "channel_mismatch_2d": lambda: mx.conv2d(mx.ones((1, 5, 5, 3)), mx.ones((2, 2, 2, 4))),
    "groups_not_dividing_cin": lambda: mx.conv1d(mx.ones(X1), mx.ones((4, 3, 2)), groups=4),
    "groups_not_dividing_cout": lambda: mx.conv1d(mx.ones(X1), mx.ones((3, 3, 3)), groups=2),
    "weight_cin_not_cin_over_groups": lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), groups=2),
    "input_without_batch": lambda: mx.conv1d(mx.ones((10, 6)), mx.ones(W1)),
    "weight_ndim": lambda: mx.conv1d(mx.ones(X1), mx.ones((4, 6))),
    "weight_ndim_2d": lambda: mx.conv2d(mx.ones((1, 4, 4, 6)), mx.ones((4, 2, 6))),
    "conv2d_of_3d_input": lambda: mx.conv2d(mx.ones(X1), mx.ones(W1)),
    "conv3d_of_4d_input": lambda: mx.conv3d(mx.ones((1, 4, 4, 6)), mx.ones((4, 2, 2, 6))),
    "general_1d_input": lambda: mx.conv_general(mx.ones(5), mx.ones(3)),
    "general_4_spatial_dims": lambda: mx.conv_general(mx.ones((1, 3, 3, 3, 3, 1)),
                                                      mx.ones((1, 2, 2, 2, 2, 1))),
    "kernel_larger_than_input": lambda: mx.conv1d(mx.ones((1, 3, 2)), mx.ones((1, 5, 2))),
    "dilated_kernel_too_large": lambda: mx.conv1d(mx.ones((1, 5, 2)), mx.ones((1, 3, 2)),
                                                  dilation=3),
    "kernel_larger_2d": lambda: mx.conv2d(mx.ones((1, 5, 2, 1)), mx.ones((1, 2, 5, 1)), padding=1),
    "stride_zero": lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), stride=0),
    "stride_negative": lambda: mx.conv2d(mx.ones((1, 5, 5, 6)), mx.ones((4, 3, 3, 6)),
                                         stride=(1, -1)),
    "dilation_zero": lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), dilation=0),
    "input_dilation_zero": lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), input_dilation=0),
    "stride_list_length": lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), stride=[1, 1]),
    "padding_list_length": lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), padding=[1, 1]),
    "groups_in_3d": lambda: mx.conv3d(mx.ones((1, 4, 4, 4, 4)), mx.ones((2, 2, 2, 2, 2)), groups=2),
    "transpose_channel_mismatch": lambda: mx.conv_transpose1d(mx.ones(X1), mx.ones((4, 3, 5))),
    "transpose_groups": lambda: mx.conv_transpose1d(mx.ones(X1), mx.ones((4, 3, 2)), groups=4),
    "transpose_ndim": lambda: mx.conv_transpose2d(mx.ones(X1), mx.ones(W1)),
    "transpose_over_cropped": lambda: mx.conv_transpose1d(mx.ones((1, 2, 1)), mx.ones((1, 2, 1)),
                                                          padding=3),
    "transpose_groups_in_3d": lambda: mx.conv_transpose3d(mx.ones((1, 3, 3, 3, 4)),
                                                          mx.ones((2, 2, 2, 2, 2)), groups=2),
    "convolve_2d": lambda: mx.convolve(mx.ones((5, 2)), mx.ones(3)),
    "convolve_0d": lambda: mx.convolve(mx.array(2.0), mx.ones(3)),
    "convolve_empty": lambda: mx.convolve(mx.ones(0), mx.ones(3)),
    "convolve_mode": lambda: mx.convolve(mx.ones(5), mx.ones(3), mode="circular"),
}


# MLX's own limits (no groups > 1 in 3-D, at most 3 spatial dims); lmx's
# convolution has neither, so these are errors only against MLX.
MLX_LIMITS = {"general_4_spatial_dims", "groups_in_3d", "transpose_groups_in_3d"}


@pytest.mark.parametrize("name", list(ERRORS))
def test_conv_errors(name):
    # MLX raises ValueError for every invalid convolution.
    if BACKEND == "lmx" and name in MLX_LIMITS:
        assert mx.eval(ERRORS[name]()) is None
        return
    with pytest.raises(ValueError):
        mx.eval(ERRORS[name]())
