"""mx.random: key-based Threefry generator, bit-exact against a NumPy reference.

The reference below is written from the algorithm's public description
(Threefry-2x32, 20 rounds, Salmon et al. 2011 / Random123, as used by JAX) and
from experiments against MLX.  What was confirmed against MLX:

* key(seed) = [seed >> 32, seed & 0xFFFFFFFF] as uint32 (seed in [0, 2**64)).
* bits for n 32-bit words from key (k0, k1): counters 0..n-1, padded with one
  zero counter when n is odd, split in halves hi/lo; word pairs
  threefry(key, (lo[i], hi[i])) fill out[i] and out[i + h] (h = ceil(n/2)),
  then truncate to n.  split(key, num) = bits(2 * num).reshape(num, 2).
* The implicit key: each call takes (state, sub) = split(state); uses sub.
* uniform [0, 1): float32(bits) / float32(2**32 - 1), cast to dtype, clamped
  to the largest dtype value below 1; then low + u * (high - low) in dtype.
Exact (assert_array_equal): key, split, uniform, randint, bernoulli,
permutation, categorical.  To tolerance (transcendentals): normal,
truncated_normal, gumbel, laplace, multivariate_normal.
"""

import math

import numpy as np
import pytest

from conftest import mx, to_numpy

# --------------------------------------------------------------------------
# Reference implementation
# --------------------------------------------------------------------------
_ROT = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = np.uint32(0x1BD11BDA)


def threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds; vectorised over counters (x0, x1)."""
    k0, k1 = np.uint32(k0), np.uint32(k1)
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0 = np.asarray(x0, np.uint32) + ks[0]
    x1 = np.asarray(x1, np.uint32) + ks[1]
    for i in range(5):
        for r in _ROT[4 * (i % 2): 4 * (i % 2) + 4]:
            x0 = x0 + x1
            x1 = (x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def ref_key(seed):
    return np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)


def ref_bits(key, n):
    """n raw 32-bit words from a (2,) uint32 key."""
    h = (n + 1) // 2
    count = np.arange(2 * h, dtype=np.uint32)
    if n % 2:
        count[-1] = 0
    a, b = threefry2x32(key[0], key[1], count[:h], count[h:])
    return np.concatenate([a, b])[:n]


def ref_split(key, num=2):
    return ref_bits(key, 2 * num).reshape(num, 2)


def cast(x, dtype):
    """Round to `dtype`; bfloat16 (nearest even) is kept in float32."""
    if dtype != "bfloat16":
        return np.asarray(x).astype(dtype)
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def ref_unit(key, shape, dtype="float32"):
    """uniform(0, 1) in `dtype` (bfloat16 returned as float32 values)."""
    n = int(np.prod(shape, dtype=np.int64))
    u = ref_bits(key, n).astype(np.float32) / np.float32(2**32 - 1)
    below_one = {"float32": 1 - 2.0**-24, "float16": 1 - 2.0**-11, "bfloat16": 1 - 2.0**-8}[dtype]
    u = np.minimum(cast(u, dtype), cast(below_one, dtype))
    return u.reshape(shape)


def ref_uniform(key, low, high, shape, dtype="float32"):
    u = ref_unit(key, shape, dtype)
    lo, hi = cast(np.float32(low), dtype), cast(np.float32(high), dtype)
    return cast(lo + cast(u * cast(hi - lo, dtype), dtype), dtype)


def ref_randint(key, low, high, shape, dtype="int32"):
    lo, hi = np.float32(low), np.float32(high)
    v = np.floor(lo + ref_unit(key, shape) * (hi - lo))
    return np.maximum(np.minimum(v, hi - 1), lo).astype(dtype)


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def erfinv(y):
    """Accurate float64 inverse error function (Newton on erf / erfc)."""
    y = np.asarray(y, np.float64)
    a = np.abs(y)
    t = np.log1p(-a * a)
    c = 2 / (math.pi * 0.147) + t / 2
    x = np.sqrt(np.sqrt(c * c - t / 0.147) - c)  # Winitzki's approximation
    for _ in range(5):
        f = np.where(a < 0.5, _erf(x) - a, (1 - a) - _erfc(x))
        x = x - f / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return np.sign(y) * x


def norm_cdf(x):
    return 0.5 * _erfc(-np.asarray(x, np.float64) / math.sqrt(2))


SQRT2 = math.sqrt(2)
MINUS_ONE_UP = -1 + 2.0**-24  # nextafter(-1, 0) in float32


def ref_std_erfinv(key, shape):
    """erfinv(u) (float64) with u = uniform(nextafter(-1, 0), 1) in float32."""
    return erfinv(ref_uniform(key, MINUS_ONE_UP, 1.0, shape))


def ref_normal(key, shape, loc=0.0, scale=1.0):
    # MLX: loc + (sqrt2 * scale) * erfinv(u); the uniform is always float32.
    return loc + SQRT2 * scale * ref_std_erfinv(key, shape)


def ref_truncated_normal(key, lower, upper, shape, dtype="float32"):
    lc = cast(np.float32(math.erf(lower / SQRT2)), dtype)
    uc = cast(np.float32(math.erf(upper / SQRT2)), dtype)
    u = ref_uniform(key, lc, uc, shape, dtype)
    return np.clip(SQRT2 * erfinv(u), lower, upper)


def ref_gumbel(key, shape, dtype="float32"):
    tiny = {"float32": 2.0**-126, "float16": 2.0**-14, "bfloat16": 2.0**-126}[dtype]
    u = np.maximum(ref_unit(key, shape, dtype).astype(np.float64), tiny)
    return -np.log(-np.log(u))


def ref_laplace(key, shape, loc=0.0, scale=1.0):
    u = ref_uniform(key, MINUS_ONE_UP, 1.0, shape).astype(np.float64)
    return loc + scale * np.sign(u) * np.log1p(-np.abs(u))


def ref_categorical(key, logits, axis=-1, shape=None, num_samples=None):
    nd = logits.ndim
    ax = axis % nd
    if num_samples is not None:
        g = ref_gumbel(key, logits.shape + (num_samples,))
        return np.argmax(logits[..., None] + g, axis=ax)
    if shape is None:
        return np.argmax(logits + ref_gumbel(key, logits.shape), axis=ax)
    # the category axis sits at the same negative position as in `logits`
    pos = len(shape) + (ax - nd) + 1
    gshape = tuple(shape[:pos]) + (logits.shape[ax],) + tuple(shape[pos:])
    return np.argmax(logits + ref_gumbel(key, gshape), axis=ax - nd)


def ref_permutation(key, n):
    return np.argsort(ref_bits(key, n), kind="stable").astype(np.uint32)


def ref_multivariate_normal(key, mean, cov, shape):
    """mean + z @ sqrtm(cov), z ~ normal(batch + (n,)); sqrtm = U sqrt(S) U^T."""
    batch = np.broadcast_shapes(tuple(shape), mean.shape[:-1], cov.shape[:-2])
    n = mean.shape[-1]
    z = ref_normal(key, batch + (n,))
    w, v = np.linalg.eigh(cov.astype(np.float64))
    root = (v * np.sqrt(np.maximum(w, 0))[..., None, :]) @ np.swapaxes(v, -1, -2)
    return mean + np.einsum("...i,...ij->...j", z, root)


def ks_statistic(samples, cdf):
    x = np.sort(np.asarray(samples, np.float64).ravel())
    n, f = x.size, cdf(x)
    return max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max())


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
SEEDS = [0, 1, 42, 2**32 + 7, 2**64 - 1]
SHAPES = [(), (1,), (2,), (5,), (3, 5), (2, 3, 7), (0,), (4, 0, 2), (1001,)]
FLOATS = ["float32", "float16", "bfloat16"]
# (rtol, atol) for transcendental transforms computed in the given dtype
TOL = {"float32": (2e-6, 2e-6), "float16": (2e-3, 3e-3), "bfloat16": (1.6e-2, 2e-2)}


def K(seed):
    return mx.random.key(seed)


def close(actual, expected, dtype="float32"):
    rtol, atol = TOL[dtype]
    assert actual.dtype == getattr(mx, dtype)
    np.testing.assert_allclose(to_numpy(actual), expected, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------
# Threefry core, keys, split
# --------------------------------------------------------------------------
@pytest.mark.parametrize("key,ctr,out", [
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_reference_threefry_known_answers(key, ctr, out):
    # Random123's published known-answer vectors for threefry2x32_20
    a, b = threefry2x32(key[0], key[1], [ctr[0]], [ctr[1]])
    assert (int(a[0]), int(b[0])) == out


@pytest.mark.parametrize("seed", SEEDS + [5, 2**32, 2**32 - 1])
def test_key_layout(seed):
    k = mx.random.key(seed)
    assert k.dtype == mx.uint32 and k.shape == (2,)
    np.testing.assert_array_equal(np.array(k), ref_key(seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("num", [0, 1, 2, 3, 8])
def test_split_exact(seed, num):
    s = mx.random.split(K(seed), num)
    assert s.dtype == mx.uint32 and s.shape == (num, 2)
    np.testing.assert_array_equal(np.array(s), ref_split(ref_key(seed), num))


def test_split_default_and_known_value():
    s = mx.random.split(K(0))
    np.testing.assert_array_equal(
        np.array(s), [[4146024105, 967050713], [2718843009, 1272950319]])
    k0, k1 = mx.random.split(K(0))
    np.testing.assert_array_equal(np.array(k0), [4146024105, 967050713])


# --------------------------------------------------------------------------
# uniform
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_exact(seed, shape):
    u = mx.random.uniform(shape=shape, key=K(seed))
    assert u.shape == shape and u.dtype == mx.float32
    np.testing.assert_array_equal(np.array(u), ref_unit(ref_key(seed), shape))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("seed", [0, 42])
def test_uniform_dtypes_exact(dtype, seed):
    u = mx.random.uniform(shape=(257,), dtype=getattr(mx, dtype), key=K(seed))
    assert u.dtype == getattr(mx, dtype)
    np.testing.assert_array_equal(to_numpy(u), ref_unit(ref_key(seed), (257,), dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_clamped_below_one(dtype):
    # word 177 of this key is 0xFFFFFFD3; float32(word) / (2**32 - 1) rounds to 1
    u = to_numpy(mx.random.uniform(shape=(256,), dtype=getattr(mx, dtype), key=K(153374)))
    assert u[177] == {"float32": 1 - 2.0**-24, "float16": 1 - 2.0**-11,
                      "bfloat16": 1 - 2.0**-8}[dtype]
    assert u.max() < 1
    # with bounds there is no final clamp: low + u * (high - low) may round to high
    assert mx.random.uniform(2.0, 3.0, (256,), key=K(153374))[177].item() == 3.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_bounds_broadcast(dtype, rng):
    lo = (rng.normal(size=(3, 1)) * 10).astype(np.float32)
    hi = lo + rng.uniform(0.5, 50, size=(4,)).astype(np.float32)
    shape = (2, 3, 4)
    u = mx.random.uniform(mx.array(lo), mx.array(hi), shape, getattr(mx, dtype), K(7))
    assert u.shape == shape and u.dtype == getattr(mx, dtype)
    np.testing.assert_array_equal(to_numpy(u), ref_uniform(ref_key(7), lo, hi, shape, dtype))


def test_uniform_scalar_bounds_and_positional():
    u = mx.random.uniform(-2, 5, (100,), mx.float32, K(3))
    np.testing.assert_array_equal(np.array(u), ref_uniform(ref_key(3), -2, 5, (100,)))
    # integer bound arrays are promoted; output stays float32
    u = mx.random.uniform(mx.array([1, 2]), 3, (2,), key=K(3))
    assert u.dtype == mx.float32
    np.testing.assert_array_equal(np.array(u), ref_uniform(ref_key(3), np.array([1, 2]), 3, (2,)))
    # inverted bounds are not an error: low + u * (high - low)
    u = mx.random.uniform(2.0, 1.0, (4,), key=K(3))
    np.testing.assert_array_equal(np.array(u), ref_uniform(ref_key(3), 2.0, 1.0, (4,)))
    assert mx.random.uniform().shape == ()
    assert mx.random.uniform(shape=[2, 3]).shape == (2, 3)


# --------------------------------------------------------------------------
# Global (implicit) key
# --------------------------------------------------------------------------
IMPLICIT = {
    "uniform": lambda key: mx.random.uniform(shape=(3,), key=key),
    "normal": lambda key: mx.random.normal((3,), key=key),
    "randint": lambda key: mx.random.randint(0, 100, (3,), key=key),
    "bernoulli": lambda key: mx.random.bernoulli(0.5, (9,), key=key),
    "truncated_normal": lambda key: mx.random.truncated_normal(-1, 1, (3,), key=key),
    "gumbel": lambda key: mx.random.gumbel((3,), key=key),
    "laplace": lambda key: mx.random.laplace((3,), key=key),
    "categorical": lambda key: mx.random.categorical(mx.zeros((3, 10)), num_samples=4, key=key),
    "permutation": lambda key: mx.random.permutation(10, key=key),
    "multivariate_normal": lambda key: mx.random.multivariate_normal(
        mx.zeros((2,)), mx.eye(2), (3,), key=key),
}


@pytest.mark.parametrize("name", sorted(IMPLICIT))
def test_implicit_key_is_split_chain(name):
    # each call without key= does (state, sub) = split(state) and uses sub
    f = IMPLICIT[name]
    mx.random.seed(77)
    first, second = np.array(f(None)), np.array(f(None))
    state = K(77)
    for got in (first, second):
        state, sub = mx.random.split(state)
        np.testing.assert_array_equal(got, np.array(f(sub)))


def test_seed_resets_global_key():
    mx.random.seed(42)
    a = np.array(mx.random.uniform(shape=(5,)))
    b = np.array(mx.random.uniform(shape=(5,)))
    mx.random.seed(42)
    np.testing.assert_array_equal(np.array(mx.random.uniform(shape=(5,))), a)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, ref_unit(ref_split(ref_key(42))[1], (5,)))


def test_same_key_same_output_different_key_different_output():
    for f in IMPLICIT.values():
        np.testing.assert_array_equal(np.array(f(K(5))), np.array(f(K(5))))
    assert not np.array_equal(np.array(mx.random.normal((8,), key=K(5))),
                              np.array(mx.random.normal((8,), key=K(6))))


# --------------------------------------------------------------------------
# randint / bernoulli / permutation / categorical (exact)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("low,high", [(0, 10), (-5, 7), (-100, -3), (3, 4), (0, 2**31 - 1),
                                      (-(2**31), 2**31 - 1), (5, 5), (5, 2), (0.5, 10.7)])
def test_randint_exact(low, high):
    r = mx.random.randint(low, high, (1000,), key=K(11))
    assert r.dtype == mx.int32
    np.testing.assert_array_equal(np.array(r), ref_randint(ref_key(11), low, high, (1000,)))


def test_randint_high_is_excluded():
    # the uniform rounds to 3.0 at index 177; the result is clamped to high - 1
    r = np.array(mx.random.randint(2, 3, (256,), key=K(153374)))
    assert (r == 2).all()


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "uint16", "uint32", "int64", "uint64"])
def test_randint_dtypes(dtype):
    r = mx.random.randint(0, 100, (50,), dtype=getattr(mx, dtype), key=K(2))
    assert r.dtype == getattr(mx, dtype)
    np.testing.assert_array_equal(np.array(r), ref_randint(ref_key(2), 0, 100, (50,), dtype))


def test_randint_broadcast():
    lo, hi = np.array([0, 10, 100]), np.array([[5], [1000]])
    r = mx.random.randint(mx.array(lo), mx.array(hi), (2, 3), key=K(1))
    np.testing.assert_array_equal(np.array(r), ref_randint(ref_key(1), lo, hi, (2, 3)))


def test_bernoulli_exact(rng):
    p = rng.uniform(size=(40, 50)).astype(np.float32)
    b = mx.random.bernoulli(mx.array(p), key=K(5))  # shape defaults to p.shape
    assert b.dtype == mx.bool_ and b.shape == p.shape
    np.testing.assert_array_equal(np.array(b), ref_unit(ref_key(5), p.shape) < p)
    b = mx.random.bernoulli(0.3, (1000,), key=K(5))
    np.testing.assert_array_equal(np.array(b), ref_unit(ref_key(5), (1000,)) < np.float32(0.3))
    p16 = p[0].astype(np.float16)  # compared against a float32 uniform
    b = mx.random.bernoulli(mx.array(p16), key=K(5))
    np.testing.assert_array_equal(np.array(b), ref_unit(ref_key(5), (50,)) < p16)
    b = mx.random.bernoulli(mx.array([0.0, 1.0]), (3, 2), key=K(5))
    assert b.shape == (3, 2)
    np.testing.assert_array_equal(np.array(b), [[False, True]] * 3)
    assert mx.random.bernoulli(key=K(5)).shape == ()
    assert np.array(mx.random.bernoulli(2.0, (9,), key=K(5))).all()


@pytest.mark.parametrize("n", [0, 1, 5, 10, 101])
@pytest.mark.parametrize("seed", [0, 3])
def test_permutation_int_exact(n, seed):
    p = mx.random.permutation(n, key=K(seed))
    assert p.dtype == mx.uint32 and p.shape == (n,)
    np.testing.assert_array_equal(np.array(p), ref_permutation(ref_key(seed), n))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_permutation_array(axis):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = mx.random.permutation(mx.array(x), axis=axis, key=K(3))
    assert p.dtype == mx.float32 and p.shape == x.shape
    perm = ref_permutation(ref_key(3), x.shape[axis])
    np.testing.assert_array_equal(np.array(p), np.take(x, perm, axis=axis))


CATEGORICAL_CASES = [
    dict(), dict(axis=0), dict(num_samples=3), dict(axis=0, num_samples=2),
    dict(shape=(2, 4)), dict(axis=0, shape=(3, 5)), dict(shape=(6, 4)),
]


@pytest.mark.parametrize("kw", CATEGORICAL_CASES, ids=str)
def test_categorical_exact(kw, rng):
    logits = rng.normal(size=(4, 5)).astype(np.float32)
    c = mx.random.categorical(mx.array(logits), key=K(9), **kw)
    expected = ref_categorical(ref_key(9), logits, **kw)
    assert c.dtype == mx.uint32 and c.shape == expected.shape
    np.testing.assert_array_equal(np.array(c), expected)


def test_categorical_shapes():
    assert mx.random.categorical(mx.zeros((4,)), key=K(1)).shape == ()
    big = mx.array(np.array([0.0, 0.0, 50.0, 0.0], np.float32))
    assert (np.array(mx.random.categorical(big, num_samples=20, key=K(1))) == 2).all()


# --------------------------------------------------------------------------
# Float transforms (tolerance)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
@pytest.mark.parametrize("shape", [(), (3,), (2, 501), (0, 2)])
def test_normal_float32(seed, shape):
    close(mx.random.normal(shape, key=K(seed)), ref_normal(ref_key(seed), shape))


def test_normal_loc_scale_broadcast(rng):
    loc = rng.normal(size=(3,)).astype(np.float32)
    scale = rng.uniform(0.5, 3, size=(2, 1)).astype(np.float32)
    z = mx.random.normal((2, 3), loc=mx.array(loc), scale=mx.array(scale), key=K(4))
    close(z, ref_normal(ref_key(4), (2, 3), loc, scale))
    close(mx.random.normal((100,), loc=1.5, scale=3.0, key=K(4)),
          ref_normal(ref_key(4), (100,), 1.5, 3.0))
    # the result broadcasts with loc: a () sample is shared by every element
    z = np.array(mx.random.normal(loc=mx.array(loc), key=K(4)))
    assert z.shape == (3,)
    np.testing.assert_allclose(z - loc, np.full(3, z[0] - loc[0]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_normal_half(dtype):
    # erfinv of a float32 uniform is rounded to dtype, then scaled in dtype
    e = cast(cast(ref_std_erfinv(ref_key(11), (2000,)), "float32"), dtype)
    z = mx.random.normal((2000,), dtype=getattr(mx, dtype), loc=0.5, scale=3.0, key=K(11))
    s = cast(cast(SQRT2, dtype) * cast(3.0, dtype), dtype)
    close(z, cast(cast(0.5, dtype) + cast(s * e, dtype), dtype), dtype)


def test_normal_float64_and_complex():
    z = mx.random.normal((50,), dtype=mx.float64, key=K(4))
    assert z.dtype == mx.float64
    np.testing.assert_allclose(np.array(z), ref_normal(ref_key(4), (50,)), rtol=1e-6, atol=1e-6)
    # complex: (normal(shape + (2,)) viewed as complex) / sqrt(2), then loc + scale * z
    c = mx.random.normal((3,), dtype=mx.complex64, loc=1.0, scale=2.0, key=K(4))
    assert c.dtype == mx.complex64
    z2 = ref_normal(ref_key(4), (3, 2)) / SQRT2
    expected = 1.0 + 2.0 * (z2[:, 0] + 1j * z2[:, 1])
    np.testing.assert_allclose(np.array(c), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lower,upper", [(-1.0, 1.0), (0.5, 2.0), (-2.5, -0.5), (-10.0, 10.0)])
def test_truncated_normal_float32(lower, upper):
    t = mx.random.truncated_normal(lower, upper, (1000,), key=K(5))
    expected = ref_truncated_normal(ref_key(5), lower, upper, (1000,))
    np.testing.assert_allclose(np.array(t), expected, rtol=1e-5, atol=5e-6)
    assert lower <= np.array(t).min() and np.array(t).max() <= upper


def test_truncated_normal_clips_to_closed_bounds():
    # erf(6 / sqrt2) rounds to 1 in float32; u == 1 gives erfinv = inf, clipped
    t = np.array(mx.random.truncated_normal(5.0, 6.0, (3000,), key=K(5)))
    # the lowest draws land on or just above 5 (where depends on erf's last
    # bit, which the CPU's and CUDA's differ in)
    assert 5.0 <= t.min() < 5.05 and t.max() == 6.0 and np.isfinite(t).all()
    t = np.array(mx.random.truncated_normal(1.0, 0.0, (3,), key=K(5)))
    np.testing.assert_array_equal(t, [1.0, 1.0, 1.0])  # max(min(x, upper), lower)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_truncated_normal_half(dtype):
    t = mx.random.truncated_normal(-1.0, 2.0, (2000,), dtype=getattr(mx, dtype), key=K(4))
    close(t, ref_truncated_normal(ref_key(4), -1.0, 2.0, (2000,), dtype), dtype)


def test_truncated_normal_shapes():
    lo, hi = mx.array([0.0, 1.0]), mx.array([[1.0], [2.0], [3.0]])
    t = mx.random.truncated_normal(lo, hi, key=K(2))  # shape defaults to broadcast
    assert t.shape == (3, 2)
    t = np.array(t)
    assert (t >= np.array(lo)).all() and (t <= np.array(hi)).all()
    assert mx.random.truncated_normal(0.0, 1.0, key=K(2)).shape == ()


@pytest.mark.parametrize("dtype", FLOATS)
def test_gumbel(dtype):
    g = mx.random.gumbel((2000,), dtype=getattr(mx, dtype), key=K(4))
    close(g, ref_gumbel(ref_key(4), (2000,), dtype), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_laplace(dtype):
    # computed from a float32 uniform, the result is rounded to dtype
    lap = mx.random.laplace((2000,), dtype=getattr(mx, dtype), key=K(5))
    close(lap, cast(cast(ref_laplace(ref_key(5), (2000,)), "float32"), dtype), dtype)
    lap = mx.random.laplace((100,), loc=2.0, scale=3.0, key=K(5))
    close(lap, ref_laplace(ref_key(5), (100,), 2.0, 3.0))


def test_multivariate_normal(rng):
    a = rng.normal(size=(2, 3, 3))
    cov = (a @ np.swapaxes(a, 1, 2) + np.eye(3)).astype(np.float32)
    mean = np.array([[1.0, 2.0, 3.0]], np.float32)
    for shape in [(), (5, 2)]:
        s = mx.random.multivariate_normal(mx.array(mean), mx.array(cov), shape, key=K(4))
        expected = ref_multivariate_normal(ref_key(4), mean, cov, shape)
        assert s.dtype == mx.float32 and s.shape == expected.shape
        np.testing.assert_allclose(np.array(s), expected, rtol=1e-5, atol=2e-5)


# --------------------------------------------------------------------------
# Errors: the exception type MLX raises
# --------------------------------------------------------------------------
R = getattr(mx, "random", None)  # functions are looked up when a case runs
Z3, Z31, Z23 = mx.zeros((3,)), mx.zeros((3, 1)), mx.zeros((2, 3))
ERRORS = {
    "key_negative": (TypeError, lambda: R.key(-1)),
    "key_too_big": (TypeError, lambda: R.key(2**64)),
    "seed_negative": (TypeError, lambda: R.seed(-1)),
    "split_key_len3": (ValueError, lambda: R.split(mx.zeros((3,), mx.uint32))),
    "split_key_int32": (ValueError, lambda: R.split(mx.zeros((2,), mx.int32))),
    "split_key_2d": (ValueError, lambda: R.split(mx.zeros((1, 2), mx.uint32))),
    "split_negative": (ValueError, lambda: R.split(K(0), -1)),
    "uniform_batched_key": (ValueError, lambda: R.uniform(shape=(2,), key=R.split(K(0), 3))),
    "uniform_int_dtype": (ValueError, lambda: R.uniform(shape=(2,), dtype=mx.int32)),
    "uniform_bounds_vs_default_shape": (ValueError, lambda: R.uniform(Z31, mx.ones((4,)))),
    "uniform_bounds_vs_shape": (ValueError, lambda: R.uniform(Z31, mx.ones((4,)), (3,))),
    "uniform_negative_dim": (ValueError, lambda: R.uniform(shape=(-1,))),
    "randint_float32": (ValueError, lambda: R.randint(0, 10, (2,), dtype=mx.float32)),
    "randint_float16": (ValueError, lambda: R.randint(0, 10, (2,), dtype=mx.float16)),
    "randint_bounds_vs_shape": (ValueError, lambda: R.randint(0, mx.array([1, 2, 3]), (2,))),
    "randint_bounds_vs_default_shape": (ValueError, lambda: R.randint(0, mx.array([1, 2, 3]))),
    "bernoulli_int_p": (ValueError, lambda: R.bernoulli(mx.array([0, 1]))),
    "bernoulli_p_vs_shape": (ValueError, lambda: R.bernoulli(mx.zeros((3,)), (2,))),
    "normal_int_dtype": (ValueError, lambda: R.normal((2,), dtype=mx.int32)),
    "normal_negative_dim": (ValueError, lambda: R.normal((-2,))),
    "normal_loc_vs_shape": (ValueError, lambda: R.normal((2,), loc=mx.zeros((3,)))),
    "gumbel_int_dtype": (ValueError, lambda: R.gumbel((2,), dtype=mx.int32)),
    "laplace_int_dtype": (ValueError, lambda: R.laplace((2,), dtype=mx.int32)),
    "truncnorm_int_dtype": (ValueError, lambda: R.truncated_normal(0.0, 1.0, (2,), dtype=mx.int32)),
    "truncnorm_bounds_vs_shape": (ValueError, lambda: R.truncated_normal(Z3, 1.0, (2,))),
    "categorical_shape_and_num_samples": (
        ValueError, lambda: R.categorical(mx.zeros((3, 4)), shape=(3,), num_samples=2)),
    "categorical_bad_shape": (ValueError, lambda: R.categorical(mx.zeros((3, 4)), shape=(2,))),
    "categorical_bad_axis": (IndexError, lambda: R.categorical(mx.zeros((3, 4)), axis=2)),
    "permutation_negative": (ValueError, lambda: R.permutation(-1)),
    "mvn_float16": (ValueError, lambda: R.multivariate_normal(Z3, mx.eye(3), dtype=mx.float16)),
    "mvn_mean_cov_mismatch": (ValueError, lambda: R.multivariate_normal(mx.zeros((2,)), mx.eye(3))),
    "mvn_scalar_mean": (ValueError, lambda: R.multivariate_normal(mx.array(1.0), mx.eye(3))),
    "mvn_1d_cov": (ValueError, lambda: R.multivariate_normal(mx.zeros((3,)), mx.zeros((3,)))),
    "mvn_nonsquare_cov": (ValueError, lambda: R.multivariate_normal(Z3, mx.ones((3, 2)))),
    "mvn_shape_mismatch": (ValueError, lambda: R.multivariate_normal(Z23, mx.eye(3), (4,))),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors(name):
    exc, fn = ERRORS[name]
    with pytest.raises(exc):
        fn()


# --------------------------------------------------------------------------
# Distribution properties (independent of the exact bit stream)
# --------------------------------------------------------------------------
N = 20000
KS_MAX = 2.0 / math.sqrt(N)


def _laplace_cdf(x):
    return np.where(x < 0, 0.5 * np.exp(np.minimum(x, 0)), 1 - 0.5 * np.exp(-np.maximum(x, 0)))


def _tn_cdf(a, b):
    return lambda x: (norm_cdf(x) - norm_cdf(a)) / (norm_cdf(b) - norm_cdf(a))


DISTRIBUTIONS = {
    "uniform": (lambda k: mx.random.uniform(-1, 3, (N,), key=k), lambda x: (x + 1) / 4),
    "normal": (lambda k: mx.random.normal((N,), loc=1.0, scale=2.0, key=k),
               lambda x: norm_cdf((x - 1) / 2)),
    "gumbel": (lambda k: mx.random.gumbel((N,), key=k), lambda x: np.exp(-np.exp(-x))),
    "laplace": (lambda k: mx.random.laplace((N,), key=k), _laplace_cdf),
    "truncated_normal": (lambda k: mx.random.truncated_normal(-0.5, 2.0, (N,), key=k),
                         _tn_cdf(-0.5, 2.0)),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_ks_statistic(name):
    sample, cdf = DISTRIBUTIONS[name]
    assert ks_statistic(np.array(sample(K(123))), cdf) < KS_MAX


def test_moments_of_discrete_samplers():
    r = np.array(mx.random.randint(-3, 7, (N,), key=K(8)))
    counts = np.bincount(r + 3, minlength=10)
    assert r.min() == -3 and r.max() == 6
    assert np.abs(counts / N - 0.1).max() < 0.01
    b = np.array(mx.random.bernoulli(0.3, (N,), key=K(8)))
    assert abs(b.mean() - 0.3) < 0.01
    logits = np.log(np.array([0.1, 0.2, 0.7], np.float32))
    c = np.array(mx.random.categorical(mx.array(logits), num_samples=N, key=K(8)))
    assert np.abs(np.bincount(c, minlength=3) / N - [0.1, 0.2, 0.7]).max() < 0.015
    p = np.array(mx.random.permutation(1000, key=K(8)))
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))


def test_multivariate_normal_moments():
    cov = np.array([[2.0, 0.6], [0.6, 1.0]], np.float32)
    s = mx.random.multivariate_normal(mx.array([1.0, -1.0]), mx.array(cov), (N,), key=K(8))
    s = np.array(s)
    np.testing.assert_allclose(s.mean(0), [1.0, -1.0], atol=0.05)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.06)
