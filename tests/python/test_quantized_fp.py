"""The floating-point block quantisation modes (mxfp4, mxfp8, nvfp4):
quantize/dequantize against a NumPy reference of the OCP MX and NVFP4
formats, quantized_matmul, gather_qmm, qqmm and gather_qqmm, their
gradients, and bad input.

MLX's CPU build rounds e2m1 ties toward zero and drops the sign of values
that round to zero; its GPU kernels (and lmx) follow the spec: ties to even,
sign kept. Random data has no exact ties, so value checks run against both
backends; the tie and packing-bit checks run on lmx only."""

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

MODES = {"mxfp4": (32, 4), "mxfp8": (32, 8), "nvfp4": (16, 4)}
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)
lmx_only = pytest.mark.skipif(BACKEND != "lmx", reason="MLX's CPU build rounds ties toward zero")


def e4m3_table():
    """The magnitudes of the finite non-negative e4m3 codes 0..126."""
    c = np.arange(127)
    e, m = c >> 3, c & 7
    return np.where(e == 0, m * 2.0**-9, (8 + m) * 2.0 ** (e - 10)).astype(np.float32)


E4M3 = e4m3_table()


def nearest_code(v, table):
    """Codes of the nearest table magnitudes, ties to the even code, with
    the sign in the format's top bit (4-bit: 0x8, 8-bit: 0x80); beyond the
    largest magnitude, the largest."""
    v = np.asarray(v, np.float32)
    a = np.minimum(np.abs(v), table[-1])  # saturating
    dist = np.abs(a[..., None] - table)
    best = dist.min(-1, keepdims=True)
    ties = dist == best
    idx = np.argmax(ties, -1)
    two = ties.sum(-1) > 1
    idx = np.where(two & (idx % 2 == 1), idx + 1, idx)  # ties: the even neighbour
    sign = 0x8 if len(table) == 8 else 0x80
    return np.where(np.signbit(v), idx | sign, idx).astype(np.uint8)


def decode(codes, bits):
    table = E2M1 if bits == 4 else E4M3
    sign = 0x8 if bits == 4 else 0x80
    mag = table[codes & (sign - 1)]
    return np.where(codes & sign, -mag, mag).astype(np.float32)


def np_fp_quantize(w, mode, global_scale=None):
    """Reference codes, scale codes and packed words of w (..., K)."""
    group, bits = MODES[mode]
    g = w.astype(np.float32).reshape(-1, group)
    amax = np.abs(g).max(1)
    if mode == "nvfp4":
        enc = np.float32(2688) / np.float32(global_scale) if global_scale is not None else np.float32(1)
        scode = nearest_code(amax / np.float32(6) * enc, E4M3)
        s = decode(scode, 8)
        # a group too small for e4m3 (zero scale): zeros of the values' signs
        v = np.where(s[:, None] == 0, np.copysign(np.float32(0), g), g / np.where(s == 0, 1, s)[:, None] * enc)
    else:
        x = amax / np.float32(6 if bits == 4 else 448)
        mant, e = np.frexp(x)
        e = np.where(mant == 0.5, e - 1, e)
        e = np.where(x == 0, 0, np.clip(e, -127, 127))
        scode = (e + 127).astype(np.uint8)
        v = (g / np.ldexp(np.float32(1), e).astype(np.float32)[:, None]).astype(np.float32)
    codes = nearest_code(v, E2M1 if bits == 4 else E4M3)
    per_word = 32 // bits
    words = codes.reshape(-1, per_word).astype(np.uint32) << (bits * np.arange(per_word, dtype=np.uint32))
    packed = np.bitwise_or.reduce(words, axis=1).reshape(*w.shape[:-1], -1)
    return codes.reshape(w.shape), scode.reshape(*w.shape[:-1], -1), packed


def np_fp_dequantize(codes, scode, mode, global_scale=None):
    group, bits = MODES[mode]
    if mode == "nvfp4":
        factor = decode(scode, 8)
        if global_scale is not None:
            factor = factor * (np.float32(global_scale) / np.float32(2688))
    else:
        factor = np.ldexp(np.float32(1), scode.astype(np.int32) - 127).astype(np.float32)
    vals = decode(codes, bits).reshape(*codes.shape[:-1], -1, group) * factor[..., None]
    return vals.reshape(codes.shape)


def random_weights(rng, shape, spread=True):
    w = rng.standard_normal(shape).astype(np.float32)
    if spread:  # groups of very different magnitudes
        w *= np.exp(rng.uniform(-8, 8, shape[:-1] + (1,))).astype(np.float32)
    return w


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(4, 64), (3, 2, 32), (8, 256)])
def test_quantize_matches_reference(rng, mode, shape):
    group, bits = MODES[mode]
    w = random_weights(rng, shape)
    out = mx.quantize(mx.array(w), mode=mode)
    assert len(out) == 2
    wq, scales = out
    assert wq.dtype == mx.uint32 and wq.shape == shape[:-1] + (shape[-1] * bits // 32,)
    assert scales.dtype == mx.uint8 and scales.shape == shape[:-1] + (shape[-1] // group,)
    codes, scode, packed = np_fp_quantize(w, mode)
    np.testing.assert_array_equal(np.array(scales), scode)
    deq = mx.dequantize(wq, scales, mode=mode)
    assert deq.dtype == mx.bfloat16  # the scales are codes: MLX's default
    ref = np_fp_dequantize(codes, scode, mode)
    np.testing.assert_array_equal(np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32)), ref)
    if BACKEND == "lmx":
        np.testing.assert_array_equal(np.array(wq), packed)


@lmx_only  # bfloat16 values often fall on e2m1 ties
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_inputs_quantize_their_values(rng, mode, dtype):
    w = mx.array(random_weights(rng, (4, 128))).astype(getattr(mx, dtype))
    wq, scales = mx.quantize(w, mode=mode)
    codes, scode, _ = np_fp_quantize(to_numpy(w), mode)
    np.testing.assert_array_equal(np.array(scales), scode)
    deq = mx.dequantize(wq, scales, mode=mode, dtype=getattr(mx, dtype))
    assert deq.dtype == getattr(mx, dtype)
    ref = np_fp_dequantize(codes, scode, mode).astype(np.float32)
    np.testing.assert_allclose(to_numpy(deq), ref, rtol=1e-2, atol=0)  # rounded once, to the output dtype


@lmx_only
def test_packing_and_ties_follow_the_spec():
    # Scale 1 (largest magnitude 6): the values are their own e2m1 codes.
    vals = [6, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, -0.25, -2.5, 0.1, 0.3, 5.9, -6, 2.25, 2.75]
    w = np.zeros((1, 32), np.float32)
    w[0, :16] = vals
    w[0, 16] = 6
    for mode in ("mxfp4", "nvfp4"):
        wq, scales = mx.quantize(mx.array(w), mode=mode)
        got = np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32))[0, :16]
        # ties go to the even code: 0.75 -> 1, 1.75 -> 2, 3.5 -> 4, 5 -> 4
        expect = [6, 0, 1, 1, 2, 2, 4, 4, -0.0, -2, 0, 0.5, 6, -6, 2, 3]
        np.testing.assert_array_equal(got, expect)
        assert np.signbit(got[8])
        # first value in the low nibble; -0.25 keeps its sign (code 8)
        assert np.array(wq)[0, 0] == 0x66442207
        assert np.array(wq)[0, 1] == 0x54F710C8
    w8 = np.zeros((1, 32), np.float32)
    w8[0, :4] = [448, 1.0, -2.0, 0.0]
    wq, scales = mx.quantize(mx.array(w8), mode="mxfp8")
    assert np.array(scales)[0, 0] == 127  # 448 fits e4m3 unscaled
    assert np.array(wq)[0, 0] == 0x00C0387E  # one byte per value, first lowest


@pytest.mark.parametrize("mode", MODES)
def test_scale_rules_at_the_edges(mode):
    group, bits = MODES[mode]
    top = 6.0 if bits == 4 else 448.0
    for amax in [top, top * 1.0001, top / 2, top * 2, 0.75, 1e-30, 1e30]:
        if BACKEND != "lmx" and mode == "nvfp4" and amax == 1e30:
            continue  # MLX's CPU build gives a saturated nvfp4 value 0, not 6 * 448
        w = np.zeros((1, group * 2), np.float32)
        w[0, 0] = amax
        wq, scales = mx.quantize(mx.array(w), mode=mode)
        codes, scode, _ = np_fp_quantize(w, mode)
        np.testing.assert_array_equal(np.array(scales), scode, err_msg=f"amax={amax}")
        got = np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32))
        np.testing.assert_array_equal(got, np_fp_dequantize(codes, scode, mode), err_msg=f"amax={amax}")
    # An all-zero group decodes to zeros.
    wq, scales = mx.quantize(mx.zeros((2, 64)), mode=mode)
    assert not np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32)).any()


@lmx_only
@pytest.mark.parametrize("mode", MODES)
def test_non_finite_groups_decode_as_nan(mode):
    group, _ = MODES[mode]
    w = np.ones((3, group), np.float32)
    w[0, 1], w[1, 2] = np.nan, np.inf
    wq, scales = mx.quantize(mx.array(w), mode=mode)
    got = np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32))
    assert np.isnan(got[:2]).all()
    codes, scode, _ = np_fp_quantize(w[2:], mode)  # the finite group is unaffected
    np.testing.assert_array_equal(got[2:], np_fp_dequantize(codes, scode, mode))


def test_nvfp4_global_scale(rng):
    w = random_weights(rng, (4, 64), spread=False) * np.float32(1e-4)  # e4m3 alone would flush these groups
    g = np.float32(np.abs(w).max())
    wq, scales = mx.quantize(mx.array(w), mode="nvfp4", global_scale=mx.array(g))
    codes, scode, _ = np_fp_quantize(w, "nvfp4", g)
    np.testing.assert_array_equal(np.array(scales), scode)
    deq = np.array(mx.dequantize(wq, scales, mode="nvfp4", global_scale=mx.array(g), dtype=mx.float32))
    np.testing.assert_array_equal(deq, np_fp_dequantize(codes, scode, "nvfp4", g))
    assert np.abs(deq - w).max() <= np.abs(w).max() / 4
    # Without it the same small values all round to zero.
    wq0, s0 = mx.quantize(mx.array(w), mode="nvfp4")
    assert not np.array(mx.dequantize(wq0, s0, mode="nvfp4", dtype=mx.float32)).any()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_is_the_decoded_product(rng, mode, transpose):
    w = random_weights(rng, (64, 96) if transpose else (96, 64), spread=False)
    wq, scales = mx.quantize(mx.array(w), mode=mode)
    dense = np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32))
    x = rng.standard_normal((2, 5, 96)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, scales, transpose=transpose, mode=mode)
    assert y.dtype == mx.float32 and y.shape == (2, 5, 64)
    np.testing.assert_allclose(np.array(y), x @ (dense.T if transpose else dense), rtol=1e-4, atol=1e-4)
    xh = mx.array(x).astype(mx.bfloat16)
    yh = mx.quantized_matmul(xh, wq, scales, transpose=transpose, mode=mode)
    assert yh.dtype == mx.bfloat16
    np.testing.assert_allclose(to_numpy(yh), to_numpy(xh) @ (dense.T if transpose else dense), rtol=3e-2, atol=3e-1)


@pytest.mark.parametrize("mode", MODES)
def test_gather_qmm_selects_matrices(rng, mode):
    w = random_weights(rng, (3, 16, 64), spread=False)
    wq, scales = mx.quantize(mx.array(w), mode=mode)
    dense = np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32))
    x = rng.standard_normal((4, 1, 64)).astype(np.float32)
    idx = np.array([2, 0, 2, 1], np.uint32)
    y = mx.gather_qmm(mx.array(x), wq, scales, rhs_indices=mx.array(idx), mode=mode)
    ref = np.stack([x[i] @ dense[idx[i]].T for i in range(4)])
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)


def round_trip(a, mode, g=None):
    kw = {"global_scale": mx.array(np.float32(g))} if g is not None else {}
    q = mx.quantize(mx.array(a), mode=mode, **kw)
    return np.array(mx.dequantize(*q, mode=mode, dtype=mx.float32, **kw))


@pytest.mark.parametrize("mode", MODES)
def test_qqmm_with_a_quantized_weight_vector_case(rng, mode):
    # The case MLX's CPU build runs: one row of x against a quantized w.
    w = random_weights(rng, (48, 64), spread=False)
    wq, scales = mx.quantize(mx.array(w), mode=mode)
    x = rng.standard_normal((1, 64)).astype(np.float32)
    y = mx.qqmm(mx.array(x), wq, scales, mode=mode)
    assert y.dtype == mx.float32 and y.shape == (1, 48)
    ref = round_trip(x, mode) @ np.array(mx.dequantize(wq, scales, mode=mode, dtype=mx.float32)).T
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-5, atol=1e-5)


@lmx_only
@pytest.mark.parametrize("mode", MODES)
def test_qqmm_general_case(rng, mode):
    w = random_weights(rng, (24, 64), spread=False)
    x = rng.standard_normal((2, 7, 64)).astype(np.float32)
    y = mx.qqmm(mx.array(x), mx.array(w), mode=mode)  # w quantised on the fly
    ref = round_trip(x.reshape(-1, 64), mode).reshape(x.shape) @ round_trip(w, mode).T
    assert y.shape == (2, 7, 24)
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-5, atol=1e-5)
    if mode == "nvfp4":
        gx, gw = np.abs(x).max(), np.abs(w).max()
        y = mx.qqmm(mx.array(x), mx.array(w), mode=mode, global_scale_x=mx.array(gx), global_scale_w=mx.array(gw))
        ref = round_trip(x.reshape(-1, 64), mode, gx).reshape(x.shape) @ round_trip(w, mode, gw).T
        np.testing.assert_allclose(np.array(y), ref, rtol=1e-5, atol=1e-5)


@lmx_only
def test_qqmm_gradients_pass_straight_through(rng):
    w = rng.standard_normal((16, 32)).astype(np.float32)
    x = rng.standard_normal((3, 32)).astype(np.float32)
    c = rng.standard_normal((3, 16)).astype(np.float32)

    def loss(x, w):
        return (mx.qqmm(x, w, mode="mxfp8") * mx.array(c)).sum()

    gx, gw = mx.grad(loss, argnums=(0, 1))(mx.array(x), mx.array(w))
    np.testing.assert_allclose(np.array(gx), c @ round_trip(w, "mxfp8"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(gw), c.T @ round_trip(x, "mxfp8"), rtol=1e-5, atol=1e-5)


@lmx_only
def test_qqmm_gradient_with_global_scales_of_the_operands(rng):
    # nvfp4's global scales are usually the operands' largest magnitudes: the
    # rounding (and so the scales) pass straight through.
    w = rng.standard_normal((16, 32)).astype(np.float32)
    x = rng.standard_normal((3, 32)).astype(np.float32)

    def loss(x):
        wm = mx.array(w)
        return mx.qqmm(x, wm, mode="nvfp4", global_scale_x=mx.abs(x).max(), global_scale_w=mx.abs(wm).max()).sum()

    gx = mx.grad(loss)(mx.array(x))
    expected = np.ones((3, 16), np.float32) @ round_trip(w, "nvfp4", np.abs(w).max())
    np.testing.assert_allclose(np.array(gx), expected, rtol=1e-5, atol=1e-5)


@lmx_only
def test_flushed_nvfp4_values_keep_their_sign():
    w = np.full((1, 16), -1e-6, np.float32)  # e4m3 flushes the scale to zero
    wq, scales = mx.quantize(mx.array(w), mode="nvfp4")
    assert np.array(scales)[0, 0] == 0
    got = np.array(mx.dequantize(wq, scales, mode="nvfp4", dtype=mx.float32))
    assert (got == 0).all() and np.signbit(got).all()
    g = mx.array(np.float32(0.0))  # a global scale of zero scales nothing: NaN, not unscaled values
    wq, scales = mx.quantize(mx.array(w), mode="nvfp4", global_scale=g)
    assert np.isnan(np.array(mx.dequantize(wq, scales, mode="nvfp4", global_scale=g, dtype=mx.float32))).all()


@lmx_only
def test_gather_qqmm_selects_matrices(rng):
    w = random_weights(rng, (3, 8, 32), spread=False)
    wq, scales = mx.quantize(mx.array(w), mode="mxfp8")
    x = rng.standard_normal((4, 2, 32)).astype(np.float32)
    idx = np.array([1, 1, 0, 2], np.uint32)
    y = mx.gather_qqmm(mx.array(x), wq, scales, rhs_indices=mx.array(idx), mode="mxfp8")
    dense = np.array(mx.dequantize(wq, scales, mode="mxfp8", dtype=mx.float32))
    ref = np.stack([round_trip(x[i], "mxfp8") @ dense[idx[i]].T for i in range(4)])
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-5, atol=1e-5)


@lmx_only
def test_dequantize_gradient_in_the_global_scale(rng):
    w = rng.standard_normal((2, 32)).astype(np.float32)
    g = np.float32(np.abs(w).max())
    wq, scales = mx.quantize(mx.array(w), mode="nvfp4", global_scale=mx.array(g))

    def f(gs):
        return mx.dequantize(wq, scales, mode="nvfp4", global_scale=gs, dtype=mx.float32).sum()

    grad = mx.grad(f)(mx.array(g)).item()
    eps = np.float32(1e-2)
    numeric = (f(mx.array(g + eps)).item() - f(mx.array(g - eps)).item()) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3)


def test_bad_arguments_raise():
    w = mx.ones((4, 64))
    with pytest.raises(ValueError, match="group size 32"):
        mx.quantize(w, mode="mxfp4", group_size=64)
    with pytest.raises(ValueError, match="bits to be 4"):
        mx.quantize(w, mode="nvfp4", bits=8)
    with pytest.raises(ValueError, match="divisible"):
        mx.quantize(mx.ones((2, 16)), mode="mxfp8")
    with pytest.raises(ValueError, match="Global scale"):
        mx.quantize(w, mode="mxfp4", global_scale=mx.array(1.0))
    with pytest.raises(ValueError, match="float32"):
        mx.quantize(w, mode="nvfp4", global_scale=mx.array(1.0, mx.float16))
    with pytest.raises(ValueError, match="scalar"):
        mx.quantize(w, mode="nvfp4", global_scale=mx.array([1.0, 2.0]))
    wq, scales = mx.quantize(w, mode="mxfp4")
    with pytest.raises(ValueError, match="Biases"):
        mx.dequantize(wq, scales, scales, mode="mxfp4")
    with pytest.raises(ValueError, match="uint8"):
        mx.dequantize(wq, scales.astype(mx.float32), mode="mxfp4")
    with pytest.raises(ValueError):
        mx.dequantize(wq, scales[:, :1], mode="mxfp4")
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((2, 32)), wq, scales, mode="mxfp4")
    wq, scales = mx.quantize(w, mode="nvfp4")
    with pytest.raises(ValueError, match="either both"):
        mx.qqmm(mx.ones((1, 64)), wq, scales, mode="nvfp4", global_scale_x=mx.array(1.0))


@lmx_only
def test_qqmm_bad_arguments_raise():
    w = mx.ones((4, 64))
    wq, scales = mx.quantize(w, mode="mxfp8")
    with pytest.raises(ValueError, match="affine"):
        mx.qqmm(mx.ones((1, 64)), w, mode="affine")
    with pytest.raises(ValueError, match="Scales must be provided"):
        mx.qqmm(mx.ones((1, 64)), wq, mode="mxfp8")
    with pytest.raises(ValueError, match="not quantized"):
        mx.qqmm(mx.ones((1, 64)), w, scales, mode="mxfp8")
    with pytest.raises(ValueError, match="divisible"):
        mx.qqmm(mx.ones((1, 48)), w, mode="mxfp8")
    with pytest.raises(ValueError, match="does not match"):
        mx.qqmm(mx.ones((1, 32)), w, mode="mxfp8")
    with pytest.raises(ValueError, match="floating point"):
        mx.qqmm(mx.ones((1, 64), mx.int32), w, mode="mxfp8")


@lmx_only
def test_quantized_linear_layers_in_fp_modes(rng):
    import lmx.nn as nn

    for mode in MODES:
        layer = nn.Linear(64, 8)
        q = nn.QuantizedLinear.from_linear(layer, mode=mode)
        x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
        dense = mx.dequantize(q.weight, q.scales, mode=mode, dtype=mx.float32)
        np.testing.assert_allclose(np.array(q(x)), np.array(x @ dense.T + layer.bias), rtol=1e-4, atol=1e-4)


@lmx_only
def test_export_round_trip(tmp_path, rng):
    def f(w, x):
        wq, s = mx.quantize(w, mode="nvfp4", global_scale=mx.abs(w).max())
        y = mx.dequantize(wq, s, mode="nvfp4", global_scale=mx.abs(w).max(), dtype=mx.float32)
        return y, mx.qqmm(x, w, mode="mxfp4")

    w = mx.array(rng.standard_normal((8, 32)).astype(np.float32))
    x = mx.array(rng.standard_normal((2, 32)).astype(np.float32))
    path = str(tmp_path / "fp.mlxfn")
    mx.export_function(path, f, w, x)
    g = mx.import_function(path)
    for a, b in zip(g(w, x), f(w, x)):
        np.testing.assert_array_equal(np.array(a), np.array(b))
