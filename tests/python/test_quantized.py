"""Affine quantisation: quantize/dequantize/quantized_matmul/gather_qmm
against a NumPy reference of MLX's documented scheme, bit-for-bit agreement
with MLX's own build where it is importable, gradients, and bad input."""

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

BITS = [1, 2, 3, 4, 5, 6, 8]
GROUPS = [32, 64, 128]


def np_quantize(w, group, bits):
    """The reference: float32 arithmetic, round half to even, values packed
    LSB-first into a bit stream read as uint32 words."""
    g = w.astype(np.float32).reshape(-1, group)
    n = np.float32(2**bits - 1)
    hi, lo = g.max(1, keepdims=True), g.min(1, keepdims=True)
    s = np.maximum((hi - lo) / n, np.float32(1e-7))
    b = lo
    if bits > 1:  # anchor the grid on the edge of larger magnitude
        min_edge = np.abs(lo) > np.abs(hi)
        s = np.where(min_edge, s, -s)
        edge = np.where(min_edge, lo, hi)
        q0 = np.round(edge / s)
        s = np.where(q0 != 0, edge / np.where(q0 != 0, q0, 1), s).astype(np.float32)
        b = np.where(q0 == 0, np.float32(0), edge)
    q = np.clip(np.round((g - b) / s), 0, n).astype(np.uint64)
    bits_le = ((q[..., None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
    packed = np.packbits(bits_le.reshape(-1), bitorder="little").view(np.uint32)
    rows = w.shape[:-1]
    return packed.reshape(*rows, -1), s.reshape(*rows, -1), b.reshape(*rows, -1), q.reshape(w.shape)


def np_dequantize(q, s, b, group):
    return (q.reshape(*q.shape[:-1], -1, group) * s[..., None] + b[..., None]).reshape(q.shape)


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("group", GROUPS)
def test_quantize_matches_reference(rng, bits, group):
    w = rng.standard_normal((6, 256)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), group, bits)
    ref_wq, ref_s, ref_b, q = np_quantize(w, group, bits)
    assert wq.dtype == mx.uint32 and wq.shape == (6, 256 * bits // 32)
    np.testing.assert_array_equal(np.array(wq), ref_wq)
    np.testing.assert_array_equal(np.array(s), ref_s)
    np.testing.assert_array_equal(np.array(b), ref_b)
    deq = np.array(mx.dequantize(wq, s, b, group, bits))
    np.testing.assert_allclose(deq, np_dequantize(q, ref_s, ref_b, group), rtol=1e-6, atol=1e-6)
    if bits == 8:  # a fine grid: the round trip is close
        assert np.abs(deq - w).max() < 0.01 * (w.max() - w.min())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_inputs_quantize_in_float32_and_keep_their_dtype(rng, dtype):
    w = mx.array(rng.standard_normal((4, 128)).astype(np.float32)).astype(getattr(mx, dtype))
    wq, s, b = mx.quantize(w)
    assert s.dtype == b.dtype == w.dtype
    ref_wq, ref_s, ref_b, _ = np_quantize(to_numpy(w), 64, 4)
    np.testing.assert_array_equal(np.array(wq), ref_wq)
    np.testing.assert_allclose(to_numpy(s), ref_s, rtol=1e-2)
    assert mx.dequantize(wq, s, b).dtype == w.dtype
    assert mx.dequantize(wq, s, b, dtype=mx.float32).dtype == mx.float32


def test_constant_and_zero_groups_round_trip_exactly():
    w = mx.array(np.concatenate([np.zeros((1, 64)), np.full((1, 64), 3.5), np.full((1, 64), -2.0)]).astype(np.float32))
    np.testing.assert_array_equal(np.array(mx.dequantize(*mx.quantize(w))), np.array(w))


def test_batched_weights_quantize_row_by_row(rng):
    w = rng.standard_normal((2, 3, 64)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w))
    assert wq.shape == (2, 3, 8) and s.shape == (2, 3, 1)
    np.testing.assert_array_equal(np.array(wq).reshape(6, 8), np_quantize(w.reshape(6, 64), 64, 4)[0])


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
@pytest.mark.parametrize("rows", [1, 3, 8, 9, 40])
@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_matches_dense_product(rng, bits, rows, transpose):
    group = 32
    k, n = (256, 48) if transpose else (48, 256)
    w = rng.standard_normal((n, k) if transpose else (k, n)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), group, bits)
    dense = np.array(mx.dequantize(wq, s, b, group, bits)).astype(np.float64)
    x = rng.standard_normal((rows, k)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, s, b, transpose=transpose, group_size=group, bits=bits)
    ref = x.astype(np.float64) @ (dense.T if transpose else dense)
    assert y.shape == (rows, n)
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_quantized_matmul_half_precision(rng, dtype):
    t = getattr(mx, dtype)
    w = mx.array(rng.standard_normal((64, 128)).astype(np.float32)).astype(t)
    wq, s, b = mx.quantize(w)
    x = mx.array(rng.standard_normal((2, 128)).astype(np.float32)).astype(t)
    y = mx.quantized_matmul(x, wq, s, b)
    assert y.dtype == t
    ref = to_numpy(x).astype(np.float64) @ to_numpy(mx.dequantize(wq, s, b)).astype(np.float64).T
    np.testing.assert_allclose(to_numpy(y), ref, rtol=5e-2, atol=5e-1)


def test_quantized_matmul_broadcasts_batches_and_vectors(rng):
    w = mx.array(rng.standard_normal((5, 16, 64)).astype(np.float32))
    wq, s, b = mx.quantize(w)
    dense = np.array(mx.dequantize(wq, s, b))
    x = rng.standard_normal((2, 1, 3, 64)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, s, b)
    assert y.shape == (2, 5, 3, 16)
    np.testing.assert_allclose(np.array(y), x @ np.swapaxes(dense, -1, -2), rtol=1e-4, atol=1e-4)
    v = rng.standard_normal(64).astype(np.float32)
    wq2, s2, b2 = mx.quantize(w[0])
    out = mx.quantized_matmul(mx.array(v), wq2, s2, b2)
    assert out.shape == (16,)


@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_batch_against_one_matrix(rng, transpose):
    # nn.QuantizedLinear's case: x (B, L, K) against one 2-D weight, for
    # decode-sized and prefill-sized row counts, and its gradients.
    w = mx.array(rng.standard_normal((64, 128) if transpose else (128, 64)).astype(np.float32))
    wq, s, b = mx.quantize(w, 32, 4)
    dense = np.array(mx.dequantize(wq, s, b, 32, 4))
    mat = dense.T if transpose else dense
    for shape in [(2, 1, 128), (2, 3, 5, 128), (1, 40, 128)]:
        x = rng.standard_normal(shape).astype(np.float32)
        y = mx.quantized_matmul(mx.array(x), wq, s, b, transpose=transpose, group_size=32, bits=4)
        assert y.shape == shape[:-1] + (64,)
        np.testing.assert_allclose(np.array(y), x @ mat, rtol=1e-4, atol=1e-3)
    x = mx.array(rng.standard_normal((2, 3, 128)).astype(np.float32))
    c = mx.array(rng.standard_normal((2, 3, 64)).astype(np.float32))

    def f(x, s, b):
        return (mx.quantized_matmul(x, wq, s, b, transpose=transpose, group_size=32, bits=4) * c).sum()

    def f2(x, s, b):  # the same rows, folded by hand
        y = mx.quantized_matmul(x.reshape(6, 128), wq, s, b, transpose=transpose, group_size=32, bits=4)
        return (y * c.reshape(6, 64)).sum()

    for got, want in zip(mx.grad(f, argnums=(0, 1, 2))(x, s, b), mx.grad(f2, argnums=(0, 1, 2))(x, s, b)):
        assert got.shape == want.shape
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bits", [3, 4, 8])
@pytest.mark.parametrize("scale_dtype", ["float32", "float16", "bfloat16"])
def test_decode_product_over_many_rows(rng, bits, scale_dtype):
    # One row of x against a weight big enough to be split over threads, of a
    # row count that is no multiple of the kernels' blocks of rows, with the
    # 16-bit scales and biases that models carry.
    n, k, group = 203, 1024, 32
    w = mx.array(rng.standard_normal((n, k)).astype(np.float32))
    wq, s, b = mx.quantize(w, group, bits)
    s, b = s.astype(getattr(mx, scale_dtype)), b.astype(getattr(mx, scale_dtype))
    dense = to_numpy(mx.dequantize(wq, s.astype(mx.float32), b.astype(mx.float32), group, bits)).astype(np.float64)
    x = rng.standard_normal((1, k)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, s, b, transpose=True, group_size=group, bits=bits)
    np.testing.assert_allclose(to_numpy(y), x.astype(np.float64) @ dense.T, rtol=1e-4, atol=1e-3)


def test_gather_qmm_selects_matrices(rng):
    w = mx.array(rng.standard_normal((4, 8, 64)).astype(np.float32))
    wq, s, b = mx.quantize(w)
    dense = np.array(mx.dequantize(wq, s, b))
    x = rng.standard_normal((3, 1, 64)).astype(np.float32)
    idx = mx.array([2, 0, 3])
    y = mx.gather_qmm(mx.array(x), wq, s, b, rhs_indices=idx)
    ref = np.stack([x[i] @ dense[j].T for i, j in enumerate([2, 0, 3])])
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)


def test_quantized_matmul_gradients(rng):
    w = mx.array(rng.standard_normal((8, 64)).astype(np.float32))
    wq, s, b = mx.quantize(w, 32, 4)
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    c = mx.array(rng.standard_normal((3, 8)).astype(np.float32))

    def f(x, s, b):
        return (mx.quantized_matmul(x, wq, s, b, group_size=32, bits=4) * c).sum()

    gx, gs, gb = mx.grad(f, argnums=(0, 1, 2))(x, s, b)
    q = np.array(mx.dequantize(wq, mx.ones_like(s), mx.zeros_like(b), 32, 4))  # the integers
    dense_grad = np.array(c).T @ np.array(x)  # d f / d W, (8, 64)
    np.testing.assert_allclose(np.array(gx), np.array(c) @ np.array(mx.dequantize(wq, s, b, 32, 4)), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(np.array(gs), (dense_grad * q).reshape(8, 2, 32).sum(-1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(gb), dense_grad.reshape(8, 2, 32).sum(-1), rtol=1e-4, atol=1e-4)


def test_bad_arguments_raise():
    w = mx.ones((4, 64))
    with pytest.raises(ValueError, match="group size"):
        mx.quantize(w, group_size=16)
    with pytest.raises(ValueError, match="bits"):
        mx.quantize(w, bits=7)
    with pytest.raises(ValueError, match="mode"):
        mx.quantize(w, mode="foo")
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((4, 48)))
    with pytest.raises(ValueError):
        mx.quantize(mx.ones((64,)))
    wq, s, b = mx.quantize(mx.ones((4, 128)))
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((3, 64)), wq, s, b)
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((3, 128)), wq, s[:, :1], b)
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((3, 128)), wq.astype(mx.int32), s, b)
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((3, 128)), wq, s, None)
    with pytest.raises(ValueError):
        mx.dequantize(wq, s, b, bits=3)


@pytest.mark.skipif(BACKEND != "lmx", reason="compares lmx with MLX")
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_bit_for_bit_with_mlx(rng, dtype):
    mlx = pytest.importorskip("mlx.core")
    for bits in BITS:
        for group in GROUPS:
            w = rng.standard_normal((4, 256)).astype(np.float32)
            ours = mx.quantize(mx.array(w).astype(getattr(mx, dtype)), group, bits)
            theirs = mlx.quantize(mlx.array(w).astype(getattr(mlx, dtype)), group, bits)
            for a, b in zip(ours, theirs):
                np.testing.assert_array_equal(to_numpy(a), np.array(b.astype(mlx.float32) if b.dtype != mlx.uint32 else b))
            d1 = mx.dequantize(*ours, group, bits).astype(mx.float32)
            d2 = mlx.dequantize(*theirs, group, bits).astype(mlx.float32)
            np.testing.assert_array_equal(np.array(d1), np.array(d2))


def np_from_e4m3(b):
    b = b.astype(np.int64)
    e, m = (b >> 3) & 15, b & 7
    v = np.where(e == 0, m * 2.0**-9, (8 + m) * 2.0 ** (e - 10))
    v = np.where((e == 15) & (m == 7), np.nan, v)
    return np.where(b & 0x80, -v, v)


def test_fp8_round_trip_and_rounding(rng):
    codes = mx.arange(256).astype(mx.uint8)
    values = np.array(mx.from_fp8(codes, mx.float32))
    np.testing.assert_array_equal(values, np_from_e4m3(np.arange(256)))
    finite = ~np.isnan(values)
    back = np.array(mx.to_fp8(mx.array(values[finite])))
    ref = np.arange(256)[finite]
    ref[ref == 0x80] = 0x80  # -0 stays -0
    np.testing.assert_array_equal(back, ref)
    # Nearest representable, ties to even, saturating at +-448.
    x = mx.array([1.0625, 1.1875, 500.0, -1e6, float("inf"), 2.0**-10, 3 * 2.0**-10])
    np.testing.assert_array_equal(np.array(mx.to_fp8(x)), [56, 58, 126, 254, 126, 0, 2])
    v = rng.standard_normal(1000).astype(np.float32) * 30
    got = np_from_e4m3(np.array(mx.to_fp8(mx.array(v))))
    table = np_from_e4m3(np.arange(127))
    best = np.abs(np.abs(v)[:, None] - table[None]).min(1)
    np.testing.assert_allclose(np.abs(np.abs(got) - np.abs(v)), best, atol=1e-6)
    assert mx.from_fp8(codes).dtype == mx.bfloat16
    with pytest.raises(ValueError):
        mx.to_fp8(mx.array([1, 2]))
    with pytest.raises(ValueError):
        mx.from_fp8(mx.array([1.0]))
