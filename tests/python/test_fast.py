"""mx.fast: fused rms_norm, layer_norm, rope and scaled_dot_product_attention
against NumPy references; gradients and vmap against the same maths written
with ordinary ops; bad input."""

import math

import numpy as np
import pytest

from conftest import mx, to_numpy


def np_rms(x, w, eps):
    x = x.astype(np.float64)
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * (1 if w is None else w)


def np_layer_norm(x, w, b, eps):
    x = x.astype(np.float64)
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def np_rope(x, dims, traditional, base, scale, offset, freqs=None):
    x = x.astype(np.float64)
    t = x.shape[-2]
    half = dims // 2
    inv = 1.0 / freqs if freqs is not None else base ** (-np.arange(half) / half)
    off = np.asarray(offset, dtype=np.float64).reshape(-1, *([1] * (x.ndim - 1)))
    pos = (np.arange(t).reshape(t, 1) + off) * scale  # (B or 1, 1.., T, 1)
    ang = pos * inv
    c, s = np.cos(ang), np.sin(ang)
    y = x.copy()
    i1 = np.arange(0, dims, 2) if traditional else np.arange(half)
    i2 = i1 + 1 if traditional else i1 + half
    x1, x2 = x[..., i1], x[..., i2]
    y[..., i1] = x1 * c - x2 * s
    y[..., i2] = x1 * s + x2 * c
    return y


def np_attention(q, k, v, scale, mask=None, sinks=None):
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    groups = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, groups, axis=1), np.repeat(v, groups, axis=1)
    s = q @ np.swapaxes(k, -1, -2) * scale
    tq, tk = s.shape[-2:]
    if isinstance(mask, str):
        s = np.where(np.arange(tk)[None] <= np.arange(tq)[:, None] + tk - tq, s, -np.inf)
    elif mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    if sinks is not None:
        sink = np.broadcast_to(sinks.reshape(1, -1, 1, 1), (*s.shape[:-1], 1))
        s = np.concatenate([sink, s], -1)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if sinks is not None:
        p = p[..., 1:]
    return p @ v


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(7,), (3, 64), (2, 5, 33)])
@pytest.mark.parametrize("weighted", [True, False])
def test_rms_norm(rng, shape, weighted):
    x, w = f32(rng, *shape), f32(rng, shape[-1])
    y = mx.fast.rms_norm(mx.array(x), mx.array(w) if weighted else None, 1e-5)
    np.testing.assert_allclose(np.array(y), np_rms(x, w if weighted else None, 1e-5), rtol=1e-5, atol=1e-5)


def test_layer_norm_with_and_without_affine(rng):
    x, w, b = f32(rng, 4, 48), f32(rng, 48), f32(rng, 48)
    for ww, bb in [(w, b), (None, b), (w, None), (None, None)]:
        y = mx.fast.layer_norm(mx.array(x), None if ww is None else mx.array(ww), None if bb is None else mx.array(bb), 1e-5)
        np.testing.assert_allclose(np.array(y), np_layer_norm(x, ww, bb, 1e-5), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_norms_in_half_precision(rng, dtype):
    t = getattr(mx, dtype)
    x, w = mx.array(f32(rng, 3, 64)).astype(t), mx.array(f32(rng, 64)).astype(t)
    y = mx.fast.rms_norm(x, w, 1e-5)
    assert y.dtype == t
    np.testing.assert_allclose(to_numpy(y), np_rms(to_numpy(x), to_numpy(w), 1e-5), rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("traditional", [False, True])
@pytest.mark.parametrize("dims", [32, 16])
@pytest.mark.parametrize("offset", [0, 5])
def test_rope(rng, traditional, dims, offset):
    x = f32(rng, 2, 3, 7, 32)
    y = mx.fast.rope(mx.array(x), dims, traditional=traditional, base=10000.0, scale=0.5, offset=offset)
    np.testing.assert_allclose(np.array(y), np_rope(x, dims, traditional, 10000.0, 0.5, offset), rtol=1e-4, atol=1e-4)


def test_rope_per_batch_offsets_and_custom_frequencies(rng):
    x = f32(rng, 2, 4, 3, 16)
    y = mx.fast.rope(mx.array(x), 16, traditional=False, base=500.0, scale=1.0, offset=mx.array([2, 11]))
    np.testing.assert_allclose(np.array(y), np_rope(x, 16, False, 500.0, 1.0, [2, 11]), rtol=1e-4, atol=1e-4)
    freqs = np.linspace(1, 50, 8).astype(np.float32)
    y = mx.fast.rope(mx.array(x), 16, traditional=True, base=None, scale=1.0, offset=3, freqs=mx.array(freqs))
    np.testing.assert_allclose(np.array(y), np_rope(x, 16, True, None, 1.0, 3, freqs), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tq,tk", [(1, 1), (1, 20), (5, 12), (40, 40), (30, 70)])
@pytest.mark.parametrize("mask", [None, "causal", "bool", "additive"])
def test_attention(rng, tq, tk, mask):
    q, k, v = f32(rng, 2, 4, tq, 16), f32(rng, 2, 2, tk, 16), f32(rng, 2, 2, tk, 8)
    m = mask
    if mask == "bool":
        m = rng.random((tq, tk)) > 0.3
        m[:, 0] = True
    elif mask == "additive":
        m = f32(rng, 2, 1, tq, tk)
    arg = mx.array(m) if isinstance(m, np.ndarray) else m
    y = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(k), mx.array(v), scale=0.25, mask=arg)
    assert y.shape == (2, 4, tq, 8)
    np.testing.assert_allclose(np.array(y), np_attention(q, k, v, 0.25, m), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tq", [1, 24])
def test_attention_sinks(rng, tq):
    q, k, v = f32(rng, 1, 4, tq, 8), f32(rng, 1, 4, 24, 8), f32(rng, 1, 4, 24, 8)
    sinks = f32(rng, 4)
    y = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(k), mx.array(v), scale=0.5, mask="causal",
                                             sinks=mx.array(sinks))
    np.testing.assert_allclose(np.array(y), np_attention(q, k, v, 0.5, "causal", sinks), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tq", [1, 2])
@pytest.mark.parametrize("mask", ["causal", "additive"])
@pytest.mark.parametrize("dv", [72, 96])
def test_attention_decode_grouped_heads_split_over_threads(rng, tq, mask, dv):
    # Decode shapes big enough to be split over threads, cutting through the
    # runs of query heads that share a key head; value widths of wide sweeps,
    # single vectors and single columns; sinks.
    q, k, v = f32(rng, 1, 9, tq, 64), f32(rng, 1, 3, 700, 64), f32(rng, 1, 3, 700, dv)
    m = "causal" if mask == "causal" else f32(rng, 1, 9, tq, 700)
    sinks = f32(rng, 9)
    arg = mx.array(m) if isinstance(m, np.ndarray) else m
    y = mx.fast.scaled_dot_product_attention(mx.array(q), mx.array(k), mx.array(v), scale=0.125, mask=arg,
                                             sinks=mx.array(sinks))
    np.testing.assert_allclose(np.array(y), np_attention(q, k, v, 0.125, m, sinks), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("tq", [1, 3])
def test_attention_decode_reads_half_precision_cache_views(rng, dtype, tq):
    # A half-precision KV cache's filled prefix, as decode reads it (the CPU
    # reads it in place, without widening it first).
    t = getattr(mx, dtype)
    q, k, v = f32(rng, 1, 6, tq, 64), f32(rng, 1, 2, 300, 64), f32(rng, 1, 2, 300, 40)
    cast = lambda a: mx.array(a).astype(t)  # noqa: E731
    kc = mx.concatenate([cast(k), mx.zeros((1, 2, 20, 64), dtype=t)], axis=2)[:, :, :300]
    vc = mx.concatenate([cast(v), mx.zeros((1, 2, 20, 40), dtype=t)], axis=2)[:, :, :300]
    y = mx.fast.scaled_dot_product_attention(cast(q), kc, vc, scale=0.125, mask="causal")
    assert y.dtype == t
    ref = np_attention(*(to_numpy(cast(a)).astype(np.float32) for a in (q, k, v)), 0.125, "causal")
    np.testing.assert_allclose(to_numpy(y).astype(np.float32), ref, rtol=2e-2, atol=2e-2)


def test_attention_half_precision_keeps_dtype(rng):
    q = mx.array(f32(rng, 1, 2, 10, 16)).astype(mx.float16)
    y = mx.fast.scaled_dot_product_attention(q, q, q, scale=0.25, mask="causal")
    assert y.dtype == mx.float16
    ref = np_attention(*(to_numpy(q),) * 3, 0.25, "causal")
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-2, atol=1e-2)


# --- gradients and vmap: the fused kernels against the same maths in ops ----


def composed_rms(x, w):
    return x * mx.rsqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w


def composed_attention(q, k, v):
    s = (q @ k.swapaxes(-1, -2)) * 0.3
    t = s.shape[-1]
    s = mx.where(mx.tril(mx.ones((t, t), dtype=mx.bool_)), s, -math.inf)
    return mx.softmax(s, axis=-1) @ v


def test_gradients_match_composed_ops(rng):
    x, w = mx.array(f32(rng, 3, 16)), mx.array(f32(rng, 16))
    c = mx.array(f32(rng, 3, 16))
    fused = mx.grad(lambda x, w: (mx.fast.rms_norm(x, w, 1e-5) * c).sum(), argnums=(0, 1))(x, w)
    plain = mx.grad(lambda x, w: (composed_rms(x, w) * c).sum(), argnums=(0, 1))(x, w)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-4)
    q, k, v = (mx.array(f32(rng, 1, 2, 6, 8)) for _ in range(3))
    fused = mx.grad(lambda q, k, v: (mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask="causal") ** 2).sum(),
                    argnums=(0, 1, 2))(q, k, v)
    plain = mx.grad(lambda q, k, v: (composed_attention(q, k, v) ** 2).sum(), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-4)
    x4 = mx.array(f32(rng, 1, 2, 5, 8))
    g = mx.grad(lambda x: (mx.fast.rope(x, 8, traditional=False, base=100.0, scale=1.0, offset=2) * x4).sum())(x4)
    # rope is a rotation: the gradient of <R x, c> is R^T c, i.e. rotating c backwards.
    back = np_rope(np.array(x4), 8, False, 100.0, -1.0, 2)
    np.testing.assert_allclose(np.array(g), back, rtol=1e-4, atol=1e-4)


def test_fully_masked_rows_stay_finite_forward_and_backward(rng):
    # Left padding in batched generation masks every key of some rows.
    q, k, v = (mx.array(f32(rng, 1, 2, 4, 8)) for _ in range(3))
    mask = np.tril(np.ones((4, 4), dtype=bool))
    mask[0] = False
    m = mx.array(mask)
    y = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=m)
    g = mx.grad(lambda q: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=m).sum())(q)
    assert np.isfinite(np.array(y)).all() and np.isfinite(np.array(g)).all()


def test_vmap_matches_a_loop(rng):
    x, w = f32(rng, 4, 3, 16), f32(rng, 16)
    y = mx.vmap(lambda a: mx.fast.rms_norm(a, mx.array(w), 1e-5))(mx.array(x))
    np.testing.assert_allclose(np.array(y), np_rms(x, w, 1e-5), rtol=1e-5, atol=1e-5)


def test_bad_input_raises():
    x = mx.ones((2, 8))
    with pytest.raises(ValueError):
        mx.fast.rms_norm(x, mx.ones((7,)), 1e-5)
    with pytest.raises(ValueError):
        mx.fast.rms_norm(x.astype(mx.int32), None, 1e-5)
    with pytest.raises(ValueError):
        mx.fast.rope(x, 8, traditional=False, base=10000.0, scale=1.0, offset=0)  # not 3-d
    with pytest.raises(ValueError):
        mx.fast.rope(mx.ones((1, 2, 8)), 9, traditional=False, base=10000.0, scale=1.0, offset=0)
    q = mx.ones((1, 3, 4, 8))
    with pytest.raises(ValueError):
        mx.fast.scaled_dot_product_attention(q, mx.ones((1, 2, 4, 8)), mx.ones((1, 2, 4, 8)), scale=1.0)
    with pytest.raises(ValueError):
        mx.fast.scaled_dot_product_attention(q, q, q, scale=1.0, mask="banded")
    with pytest.raises(ValueError):
        mx.fast.scaled_dot_product_attention(q, q, q, scale=1.0, mask=mx.ones((5, 4), dtype=mx.bool_))


@pytest.mark.parametrize("tq", [1, 20])
def test_attention_reads_cache_views_in_place(rng, tq):
    # A KV cache's filled prefix is a strided view of a larger buffer, and
    # GQA heads may be broadcast: both must give the same result as copies.
    buf_k, buf_v = f32(rng, 2, 2, 48, 16), f32(rng, 2, 2, 48, 8)
    q = f32(rng, 2, 4, tq, 16)
    k, v = mx.array(buf_k)[:, :, :30], mx.array(buf_v)[:, :, :30]
    y = mx.fast.scaled_dot_product_attention(mx.array(q), k, v, scale=0.3, mask="causal")
    ref = np_attention(q, buf_k[:, :, :30], buf_v[:, :, :30], 0.3, "causal")
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)
    kb = mx.broadcast_to(mx.array(buf_k[:, :1, :30]), (2, 2, 30, 16))
    y = mx.fast.scaled_dot_product_attention(mx.array(q), kb, v, scale=0.3)
    ref = np_attention(q, np.broadcast_to(buf_k[:, :1, :30], (2, 2, 30, 16)), buf_v[:, :, :30], 0.3)
    np.testing.assert_allclose(np.array(y), ref, rtol=1e-4, atol=1e-4)
