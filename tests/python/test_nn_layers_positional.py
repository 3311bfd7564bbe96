"""nn.RoPE, nn.SinusoidalPositionalEncoding and nn.ALiBi against NumPy."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")


def ref_rope(x, dims, traditional=False, base=10000, scale=1.0, offset=0):
    """Rotates feature pairs of x (..., L, D) by (offset + position) * scale * base^(-2j/dims)."""
    x = x.astype(np.float64)
    positions = np.asarray(offset, dtype=np.float64).reshape(-1, *[1] * (x.ndim - 2)) + np.arange(x.shape[-2])
    angles = positions[..., None] * scale * base ** (-np.arange(0, dims, 2) / dims)
    cos, sin = np.cos(angles), np.sin(angles)
    part = x[..., :dims]
    if traditional:
        a, b = part[..., 0::2], part[..., 1::2]
    else:
        a, b = part[..., : dims // 2], part[..., dims // 2 :]
    ra, rb = a * cos - b * sin, a * sin + b * cos
    out = np.empty(np.broadcast_shapes(part.shape, ra.shape[:-1] + (dims,)))
    if traditional:
        out[..., 0::2], out[..., 1::2] = ra, rb
    else:
        out[..., : dims // 2], out[..., dims // 2 :] = ra, rb
    rest = np.broadcast_to(x[..., dims:], out.shape[:-1] + (x.shape[-1] - dims,))
    return np.concatenate([out, rest], axis=-1)


# ---- RoPE -------------------------------------------------------------------------


@pytest.mark.parametrize("traditional", [False, True])
@pytest.mark.parametrize(
    "dims, base, scale, offset",
    [(12, 10000, 1.0, 0), (8, 10000, 1.0, 3), (8, 500, 0.5, 2), (4, 10000, 2.0, 7)],
)
def test_rope_matches_numpy(traditional, dims, base, scale, offset, rng):
    x = rng.normal(size=(2, 3, 5, 12)).astype(np.float32)
    rope = nn.RoPE(dims, traditional=traditional, base=base, scale=scale)
    y = rope(mx.array(x), offset=offset)
    assert y.shape == x.shape and y.dtype == mx.float32
    ref = ref_rope(x, dims, traditional, base, scale, offset)
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-5, atol=1e-5)


def test_rope_offset_array_per_batch_element(rng):
    x = rng.normal(size=(2, 1, 4, 8)).astype(np.float32)
    y = nn.RoPE(8)(mx.array(x), offset=mx.array([1, 5]))
    np.testing.assert_allclose(to_numpy(y), ref_rope(x, 8, offset=[1, 5]), rtol=1e-5, atol=1e-5)
    y = nn.RoPE(8)(mx.array(x), offset=mx.array(3))
    np.testing.assert_allclose(to_numpy(y), ref_rope(x, 8, offset=3), rtol=1e-5, atol=1e-5)


def test_rope_keeps_half_precision(rng):
    x = rng.normal(size=(1, 2, 6, 8)).astype(np.float32)
    y = nn.RoPE(8, traditional=True)(mx.array(x).astype(mx.float16), offset=1)
    assert y.dtype == mx.float16
    np.testing.assert_allclose(to_numpy(y), ref_rope(x, 8, True, offset=1), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("traditional", [False, True])
def test_rope_gradient_is_the_inverse_rotation(traditional, rng):
    x = rng.normal(size=(2, 5, 10)).astype(np.float32)
    g = rng.normal(size=x.shape).astype(np.float32)
    rope = nn.RoPE(6, traditional=traditional, base=100)
    grad = mx.grad(lambda a: mx.sum(rope(a, offset=2) * mx.array(g)))(mx.array(x))
    # A rotation's transpose rotates by minus the angle.
    expected = ref_rope(g, 6, traditional, base=100, scale=-1.0, offset=2)
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-5, atol=1e-5)


def test_rope_rejects_bad_inputs():
    with pytest.raises(ValueError):
        nn.RoPE(8)(mx.zeros((5, 8)))
    with pytest.raises(ValueError):
        nn.RoPE(16)(mx.zeros((1, 5, 8)))
    with pytest.raises(ValueError):
        nn.RoPE(7)(mx.zeros((1, 5, 8)))


# ---- SinusoidalPositionalEncoding -------------------------------------------------


def ref_sinusoidal(x, dims, min_freq=1e-4, max_freq=1.0, scale=None, cos_first=False, full_turns=False):
    frequencies = np.geomspace(max_freq, min_freq, dims // 2)
    if full_turns:
        frequencies = frequencies * 2 * np.pi
    phases = x.astype(np.float64)[..., None] * frequencies
    parts = [np.cos(phases), np.sin(phases)] if cos_first else [np.sin(phases), np.cos(phases)]
    return np.concatenate(parts, axis=-1) * (math.sqrt(2 / dims) if scale is None else scale)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"cos_first": True},
        {"full_turns": True, "scale": 1.0},
        {"min_freq": 0.01, "max_freq": 2.0, "scale": 3.0},
    ],
)
def test_sinusoidal_matches_numpy(kwargs, rng):
    x = rng.uniform(0, 50, size=(3, 7)).astype(np.float32)
    y = nn.SinusoidalPositionalEncoding(8, **kwargs)(mx.array(x))
    assert y.shape == (3, 7, 8) and y.dtype == mx.float32
    np.testing.assert_allclose(to_numpy(y), ref_sinusoidal(x, 8, **kwargs), rtol=1e-4, atol=1e-5)


def test_sinusoidal_of_integer_positions_and_two_dims():
    y = nn.SinusoidalPositionalEncoding(2, scale=1.0)(mx.arange(4))
    assert y.dtype == mx.float32
    np.testing.assert_allclose(to_numpy(y), ref_sinusoidal(np.arange(4), 2, scale=1.0), atol=1e-6)


def test_sinusoidal_has_no_trainable_parameters():
    assert nn.SinusoidalPositionalEncoding(16).parameters() == {}


def test_sinusoidal_rejects_odd_dims():
    with pytest.raises(ValueError):
        nn.SinusoidalPositionalEncoding(7)(mx.zeros((3,)))


# ---- ALiBi ------------------------------------------------------------------------


def ref_alibi_slopes(num_heads):
    """The ALiBi paper's recipe for any number of heads."""

    def power_of_two(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start**k for k in range(1, n + 1)]

    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_two(closest) + power_of_two(2 * closest)[0::2][: num_heads - closest]


@pytest.mark.parametrize("num_heads", [1, 2, 3, 4, 5, 6, 8, 12, 16])
def test_alibi_slopes(num_heads):
    slopes = nn.ALiBi.create_alibi_slope(num_heads)
    assert slopes.shape == (num_heads, 1, 1)
    np.testing.assert_allclose(to_numpy(slopes).ravel(), ref_alibi_slopes(num_heads), rtol=1e-6)


def ref_alibi_matrix(q_len, k_len, num_heads, offset=0):
    distance = -np.abs(np.arange(offset, q_len)[:, None] - np.arange(k_len)[None, :])
    return (np.array(ref_alibi_slopes(num_heads))[:, None, None] * distance)[None]


def test_alibi_matrix():
    m = nn.ALiBi.create_alibi_matrix(6, 7, 3, offset=2)
    assert m.shape == (1, 3, 4, 7) and m.dtype == mx.float32
    np.testing.assert_allclose(to_numpy(m), ref_alibi_matrix(6, 7, 3, offset=2), rtol=1e-6)
    assert nn.ALiBi.create_alibi_matrix(2, 3, 2, dtype=mx.float16).dtype == mx.float16


def test_alibi_adds_the_bias_and_the_mask(rng):
    scores = rng.normal(size=(2, 4, 3, 6)).astype(np.float32)
    mask = rng.normal(size=(3, 6)).astype(np.float32)
    y = nn.ALiBi()(mx.array(scores), offset=2, mask=mx.array(mask))
    np.testing.assert_allclose(to_numpy(y), scores + ref_alibi_matrix(5, 6, 4, offset=2) + mask, rtol=1e-6)
    y = nn.ALiBi()(mx.array(scores))
    np.testing.assert_allclose(to_numpy(y), scores + ref_alibi_matrix(3, 6, 4), rtol=1e-6)
    assert nn.ALiBi()(mx.array(scores).astype(mx.float16)).dtype == mx.float16
    assert nn.ALiBi().parameters() == {}
