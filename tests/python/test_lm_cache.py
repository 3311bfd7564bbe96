"""KV caches of lmx.lm.models.cache (mlx_lm.models.cache under LMX_TEST_BACKEND=mlx).

Keys are filled with their token position so the tests can read back which tokens a cache
kept, and check it against the eviction rule written here in NumPy.
"""

import importlib

import numpy as np
import pytest
from conftest import BACKEND, mx

if BACKEND == "mlx":
    cache_mod = pytest.importorskip("mlx_lm.models.cache")
else:
    cache_mod = importlib.import_module("lmx.lm.models.cache")


def positions(start, n, heads=2, dim=4):
    """(1, heads, n, dim) keys whose every entry is the token position."""
    x = np.arange(start, start + n, dtype=np.float32)[None, None, :, None]
    return np.broadcast_to(x, (1, heads, n, dim)).copy()


def feed(cache, lengths, heads=2, dim=4):
    """Push chunks of the given lengths; returns the last fetched keys/values as NumPy."""
    pos = 0
    for n in lengths:
        k = positions(pos, n, heads, dim)
        keys, values = cache.update_and_fetch(mx.array(k), mx.array(-k))
        pos += n
    return np.array(keys), np.array(values)


def test_kvcache_fetch_returns_everything_so_far():
    cache = cache_mod.KVCache()
    assert cache.offset == 0 and cache.empty()
    keys, values = feed(cache, [5, 1, 3])
    assert keys.shape == (1, 2, 9, 4)
    np.testing.assert_array_equal(keys, positions(0, 9))
    np.testing.assert_array_equal(values, -positions(0, 9))
    assert cache.offset == 9 and cache.size() == 9 and not cache.empty()


def test_kvcache_grows_in_whole_steps():
    cache = cache_mod.KVCache()
    step = cache_mod.KVCache.step
    feed(cache, [3])
    assert cache.keys.shape[2] == step
    keys, _ = feed(cache, [step])  # crosses the first buffer's end
    # the used part is kept and whole steps are appended
    assert cache.keys.shape[2] == 3 + step
    assert keys.shape[2] == step + 3
    np.testing.assert_array_equal(keys[..., 3:, :], positions(0, step))


def test_kvcache_dtype_and_head_dims_follow_input():
    cache = cache_mod.KVCache()
    k = mx.zeros((2, 3, 4, 8), dtype=mx.float16)
    v = mx.zeros((2, 3, 4, 5), dtype=mx.float16)
    keys, values = cache.update_and_fetch(k, v)
    assert keys.dtype == mx.float16 and keys.shape == (2, 3, 4, 8) and values.shape == (2, 3, 4, 5)


def test_kvcache_trim():
    cache = cache_mod.KVCache()
    feed(cache, [6])
    assert cache.is_trimmable()
    assert cache.trim(2) == 2 and cache.offset == 4
    assert cache.trim(10) == 4 and cache.offset == 0
    cache = cache_mod.KVCache()
    feed(cache, [6])
    keys, _ = cache.update_and_fetch(mx.array(positions(100, 1)), mx.array(positions(100, 1)))
    assert cache.trim(3) == 3
    keys, _ = cache.update_and_fetch(mx.array(positions(50, 2)), mx.array(positions(50, 2)))
    np.testing.assert_array_equal(np.array(keys)[0, 0, :, 0], [0, 1, 2, 3, 50, 51])


def kept_positions(lengths, max_size, keep):
    """Token positions a rotating cache returns after the last chunk, in NumPy terms: a
    single token sees the kept prefix and the newest max_size - keep tokens; a chunk of n
    sees the kept prefix, the newest max_size - 1 - keep older tokens and itself."""
    total = sum(lengths)
    last = lengths[-1]
    if last == 1:
        recent = max_size - keep
        if total <= max_size:
            return list(range(total))
        return list(range(keep)) + list(range(total - recent, total))
    older = total - last
    if older <= max_size - 1:
        return list(range(total))
    room = max_size - 1 - keep
    return list(range(keep)) + list(range(older - room, older)) + list(range(older, total))


@pytest.mark.parametrize("keep", [0, 2])
@pytest.mark.parametrize(
    "lengths",
    [
        [1] * 20,
        [5, 1, 1, 1, 1, 1, 1, 1],
        [12, 1, 1, 1],
        [3, 3, 3, 3],
        [5, 1, 1, 1, 1, 1, 4],
        [10, 1, 1, 1, 6],
    ],
)
def test_rotating_cache_keeps_prefix_and_recent_tokens(lengths, keep):
    max_size = 8
    cache = cache_mod.RotatingKVCache(max_size=max_size, keep=keep)
    keys, values = feed(cache, lengths)
    got = keys[0, 0, :, 0]
    expected = kept_positions(lengths, max_size, keep)
    assert sorted(got.tolist()) == expected
    # the kept prefix stays at the front of the buffer
    np.testing.assert_array_equal(got[:keep], np.arange(keep))
    np.testing.assert_array_equal(values, -keys)
    assert cache.offset == sum(lengths)
    assert cache.is_trimmable() == (sum(lengths) < max_size)


def test_rotating_cache_trim_before_full():
    cache = cache_mod.RotatingKVCache(max_size=8)
    feed(cache, [3, 1])
    assert cache.trim(2) == 2 and cache.offset == 2
    keys, _ = cache.update_and_fetch(mx.array(positions(40, 1)), mx.array(positions(40, 1)))
    np.testing.assert_array_equal(np.array(keys)[0, 0, :, 0], [0, 1, 40])


def causal_reference(N, offset, window=None):
    q = np.arange(offset, offset + N)[:, None]
    k = np.arange(offset + N)[None]
    mask = q >= k
    if window is not None:
        mask &= q < k + window
    return mask


def test_kvcache_masks():
    cache = cache_mod.KVCache()
    feed(cache, [3])
    assert cache.make_mask(1, return_array=False, window_size=None) is None
    assert cache.make_mask(4, return_array=False, window_size=None) == "causal"
    np.testing.assert_array_equal(
        np.array(cache.make_mask(4, return_array=True, window_size=None)), causal_reference(4, 3)
    )
    np.testing.assert_array_equal(
        np.array(cache.make_mask(4, return_array=False, window_size=2)), causal_reference(4, 3, 2)
    )


def test_rotating_cache_masks():
    cache = cache_mod.RotatingKVCache(max_size=8)
    feed(cache, [3])
    assert cache.make_mask(4) == "causal"
    assert cache.make_mask(1) is None
    feed(cache, [4])  # 7 tokens: a chunk of 4 now reaches beyond the window
    np.testing.assert_array_equal(np.array(cache.make_mask(4)), causal_reference(4, 7, 8))
    feed(cache, [1] * 5)  # 12 tokens, ring full; the next write lands at slot 12 % 8 = 4
    mask = np.array(cache.make_mask(1, window_size=3))
    # the window's three slots end at the slot the new token will take
    np.testing.assert_array_equal(np.nonzero(mask)[0], [2, 3, 4])


def dequantize_np(packed, scales, biases, group_size, bits):
    words = np.array(packed).astype(np.uint64)
    per_word = 32 // bits
    shifts = np.arange(per_word, dtype=np.uint64) * bits
    q = ((words[..., None] >> shifts) & ((1 << bits) - 1)).reshape(*words.shape[:-1], -1)
    q = q.reshape(*q.shape[:-1], -1, group_size).astype(np.float32)
    w = q * np.array(scales)[..., None] + np.array(biases)[..., None]
    return w.reshape(*w.shape[:-2], -1)


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_cache_round_trip(rng, bits):
    group_size = 32
    cache = cache_mod.QuantizedKVCache(group_size=group_size, bits=bits)
    chunks = [rng.normal(size=(1, 2, n, 64)).astype(np.float32) for n in (5, 1, 300)]
    for c in chunks:
        keys, values = cache.update_and_fetch(mx.array(c), mx.array(2 * c))
    assert isinstance(keys, tuple) and len(keys) == 3
    assert keys[0].dtype == mx.uint32 and keys[0].shape == (1, 2, 306, 64 * bits // 32)
    assert keys[1].shape == (1, 2, 306, 64 // group_size)
    assert cache.offset == 306
    full = np.concatenate(chunks, axis=2)
    k = dequantize_np(*keys, group_size, bits)
    v = dequantize_np(*values, group_size, bits)
    step = (full.max(-1) - full.min(-1)).max() / (2**bits - 1)
    np.testing.assert_allclose(k, full, atol=step)
    np.testing.assert_allclose(v, 2 * full, atol=2 * step)
    assert cache.trim(6) == 6 and cache.offset == 300


def test_kvcache_to_quantized():
    cache = cache_mod.KVCache()
    feed(cache, [5], dim=64)
    q = cache.to_quantized(group_size=64, bits=8)
    assert q.offset == 5 and q.bits == 8 and q.group_size == 64
    keys, _ = q.update_and_fetch(mx.array(positions(5, 1, dim=64)), mx.array(positions(5, 1, dim=64)))
    k = dequantize_np(*keys, 64, 8)
    np.testing.assert_allclose(k, positions(0, 6, dim=64), atol=1e-2)


class TinyModel:
    def __init__(self, n):
        self.layers = [object()] * n


def test_make_prompt_cache():
    caches = cache_mod.make_prompt_cache(TinyModel(3))
    assert len(caches) == 3 and all(type(c) is cache_mod.KVCache for c in caches)
    caches = cache_mod.make_prompt_cache(TinyModel(2), max_kv_size=16)
    assert all(type(c) is cache_mod.RotatingKVCache and c.max_size == 16 for c in caches)

    class WithOwnCache(TinyModel):
        def make_cache(self):
            return ["own"]

    assert cache_mod.make_prompt_cache(WithOwnCache(4)) == ["own"]


def test_trim_prompt_cache():
    caches = [cache_mod.KVCache(), cache_mod.KVCache()]
    for c in caches:
        feed(c, [7])
    assert cache_mod.can_trim_prompt_cache(caches)
    assert cache_mod.trim_prompt_cache(caches, 3) == 3
    assert [c.offset for c in caches] == [4, 4]
    full = cache_mod.RotatingKVCache(max_size=4)
    feed(full, [6])
    assert not cache_mod.can_trim_prompt_cache([full])
    assert cache_mod.trim_prompt_cache([full], 2) == 0 and full.offset == 6


def test_save_load_prompt_cache(tmp_path, rng):
    kv = cache_mod.KVCache()
    feed(kv, [5])
    rot = cache_mod.RotatingKVCache(max_size=6, keep=1)
    feed(rot, [4, 1, 1, 1, 1])
    quant = cache_mod.QuantizedKVCache(group_size=32, bits=4)
    quant.update_and_fetch(
        mx.array(rng.normal(size=(1, 2, 3, 32)).astype(np.float32)), mx.zeros((1, 2, 3, 32))
    )
    file = str(tmp_path / "prompt.safetensors")
    cache_mod.save_prompt_cache(file, [kv, rot, quant], {"model": "tiny", "note": "x"})
    loaded, metadata = cache_mod.load_prompt_cache(file, return_metadata=True)
    assert metadata == {"model": "tiny", "note": "x"}
    assert [type(c).__name__ for c in loaded] == ["KVCache", "RotatingKVCache", "QuantizedKVCache"]
    assert [c.offset for c in loaded] == [5, 8, 3]
    assert loaded[1].max_size == 6 and loaded[1].keep == 1 and loaded[2].bits == 4
    for before, after in zip([kv, rot, quant], loaded):
        new = positions(50, 1, dim=32 if before is quant else 4)
        want = before.update_and_fetch(mx.array(new), mx.array(new))
        got = after.update_and_fetch(mx.array(new), mx.array(new))
        for a, b in zip(_leaves(want), _leaves(got)):
            np.testing.assert_array_equal(np.array(a), np.array(b))
    assert len(cache_mod.load_prompt_cache(file)) == 3


def _leaves(tree):
    if isinstance(tree, (tuple, list)):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's own argument checks")
def test_bad_input():
    with pytest.raises(ValueError, match=r"\[RotatingKVCache\]"):
        cache_mod.RotatingKVCache(max_size=0)
    with pytest.raises(ValueError, match=r"\[RotatingKVCache\]"):
        cache_mod.RotatingKVCache(max_size=4, keep=4)
    with pytest.raises(ValueError, match=r"\[KVCache.update_and_fetch\]"):
        cache_mod.KVCache().update_and_fetch(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"\[KVCache.update_and_fetch\]"):
        cache_mod.KVCache().update_and_fetch(mx.zeros((1, 2, 3, 4)), mx.zeros((1, 2, 4, 4)))
    with pytest.raises(TypeError, match=r"\[save_prompt_cache\]"):
        cache_mod.save_prompt_cache("/nonexistent/x.safetensors", [], {"a": 1})


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with mlx_lm")
@pytest.mark.parametrize("keep", [0, 3])
def test_rotating_cache_matches_mlx_lm(keep):
    mlx_core = pytest.importorskip("mlx.core")
    ref = pytest.importorskip("mlx_lm.models.cache")
    ours = cache_mod.RotatingKVCache(max_size=8, keep=keep)
    theirs = ref.RotatingKVCache(max_size=8, keep=keep)
    pos = 0
    for n in [5, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1]:
        x = positions(pos, n)
        pos += n
        for window in (None, 3):
            want = theirs.make_mask(n, window_size=window)
            got = ours.make_mask(n, window_size=window)
            if want is None or isinstance(want, str):
                assert got == want
            else:
                np.testing.assert_array_equal(np.array(got), np.array(want))
        got, _ = ours.update_and_fetch(mx.array(x), mx.array(x))
        want, _ = theirs.update_and_fetch(mlx_core.array(x), mlx_core.array(x))
        np.testing.assert_array_equal(np.array(got), np.array(want))


def test_save_load_empty_and_unfilled_caches(tmp_path):
    file = str(tmp_path / "empty.safetensors")
    cache_mod.save_prompt_cache(file, [cache_mod.KVCache(), cache_mod.RotatingKVCache(max_size=4)])
    loaded = cache_mod.load_prompt_cache(file)
    assert [type(c).__name__ for c in loaded] == ["KVCache", "RotatingKVCache"]
    assert all(c.offset == 0 and c.empty() for c in loaded)
    keys, _ = loaded[0].update_and_fetch(mx.array(positions(0, 2)), mx.array(positions(0, 2)))
    np.testing.assert_array_equal(np.array(keys), positions(0, 2))


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's reader of earlier mlx_lm files")
def test_load_earlier_mlx_lm_layout(tmp_path):
    # earlier mlx_lm files: "i.j" state arrays; metadata 0 = meta states, 1 = user's, 2 = class names
    keys = positions(0, 5)
    file = str(tmp_path / "old.safetensors")
    arrays = {"0.0": mx.array(keys), "0.1": mx.array(-keys), "1.0": mx.array(keys), "1.1": mx.array(keys)}
    meta = {"0.0": "", "0.1.0": "2", "0.1.1": "8", "0.1.2": "5", "0.1.3": "5", "1.note": "old"}
    meta.update({"2.0": "KVCache", "2.1": "RotatingKVCache"})
    mx.save_safetensors(file, arrays, meta)
    loaded, metadata = cache_mod.load_prompt_cache(file, return_metadata=True)
    assert metadata == {"note": "old"}
    assert [c.offset for c in loaded] == [5, 5] and (loaded[1].keep, loaded[1].max_size) == (2, 8)
    fetched, values = loaded[0].update_and_fetch(mx.array(positions(5, 1)), mx.array(-positions(5, 1)))
    np.testing.assert_array_equal(np.array(fetched), positions(0, 6))
    np.testing.assert_array_equal(np.array(values), -positions(0, 6))


def mixed_caches(core, module, rng):
    kv = module.KVCache()
    kv.update_and_fetch(core.array(positions(0, 5)), core.array(positions(0, 5)))
    rot = module.RotatingKVCache(max_size=6, keep=2)
    for n in (4, 1, 1, 1, 1, 1):
        rot.update_and_fetch(core.array(positions(0, n)), core.array(positions(0, n)))
    quant = module.QuantizedKVCache(group_size=32, bits=4)
    x = rng.normal(size=(1, 2, 3, 32)).astype(np.float32)
    quant.update_and_fetch(core.array(x), core.array(x))
    return [kv, rot, quant, module.KVCache()]


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with mlx_lm")
@pytest.mark.parametrize("writer", ["lmx", "mlx_lm"])
def test_prompt_cache_files_interchange_with_mlx_lm(tmp_path, rng, writer):
    mlx_core = pytest.importorskip("mlx.core")
    reference = pytest.importorskip("mlx_lm.models.cache")
    sides = {"lmx": (mx, cache_mod), "mlx_lm": (mlx_core, reference)}
    reader = "mlx_lm" if writer == "lmx" else "lmx"
    file = str(tmp_path / "cache.safetensors")
    core, module = sides[writer]
    saved = mixed_caches(core, module, rng)
    module.save_prompt_cache(file, saved, {"model": "tiny"})
    core, module = sides[reader]
    loaded, metadata = module.load_prompt_cache(file, return_metadata=True)
    assert metadata == {"model": "tiny"}
    assert [type(c).__name__ for c in loaded] == [type(c).__name__ for c in saved]
    assert [c.offset for c in loaded] == [c.offset for c in saved]
    assert (loaded[1].keep, loaded[1].max_size, loaded[1]._idx) == (2, 6, saved[1]._idx)
    assert (loaded[2].group_size, loaded[2].bits) == (32, 4)
    for before, after in zip(saved[:3], loaded[:3]):
        want = before.keys_and_values() if hasattr(before, "keys_and_values") else None
        got = after.keys_and_values()
        for a, b in zip(_leaves(want), _leaves(got)):
            np.testing.assert_array_equal(np.array(a), np.array(b))
    assert loaded[3].offset == 0 and loaded[3].keys is None
