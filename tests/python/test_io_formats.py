"""Save/load round trips for every format and dtype, and interchange with
the reference implementations: NumPy (.npy/.npz), the `safetensors`
package and the `gguf` package."""

import io
import os

import numpy as np
import pytest

from conftest import ALL_DTYPES, BACKEND, NP, dt, mx, rand_mx, to_numpy

GGUF_TENSOR_DTYPES = ["int8", "int16", "int32", "float16", "float32"]
SAFETENSORS_DTYPES = [n for n in ALL_DTYPES if n != "float64"]
if BACKEND == "lmx":  # both formats have these types too; MLX's writers refuse them
    GGUF_TENSOR_DTYPES += ["int64", "float64", "bfloat16"]
    SAFETENSORS_DTYPES.append("float64")


def assert_same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def arrays_of_every_dtype(rng, names=ALL_DTYPES):
    return {name: rand_mx(rng, (2, 3), name)[0] for name in names}


# --- npy / npz ---------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_npy_round_trip_and_numpy_interchange(tmp_path, rng, name):
    a, ref = rand_mx(rng, (3, 4), name)
    path = str(tmp_path / "a.npy")
    mx.save(path, a)
    assert_same(mx.load(path), a)
    if name != "bfloat16":  # NumPy has no bfloat16
        np.testing.assert_array_equal(np.load(path), ref)
        np.save(path, ref)
        assert_same(mx.load(path), a)


def test_npy_non_contiguous_zero_d_and_empty(tmp_path):
    for a in (mx.arange(12).reshape(3, 4).T, mx.array(3.5), mx.zeros((0, 3))):
        path = str(tmp_path / "a.npy")
        mx.save(path, a)
        np.testing.assert_array_equal(np.load(path), np.array(a))
        assert_same(mx.load(path), a)


def test_npy_fortran_order_and_big_endian_from_numpy(tmp_path):
    x = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(tmp_path / "f.npy", x)
    np.testing.assert_array_equal(np.array(mx.load(str(tmp_path / "f.npy"))), x)
    np.save(tmp_path / "b.npy", x.astype(">i4"))
    np.testing.assert_array_equal(np.array(mx.load(str(tmp_path / "b.npy"))), x.astype(np.int32))


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip_every_dtype(tmp_path, rng, compressed):
    arrays = arrays_of_every_dtype(rng)
    save = mx.savez_compressed if compressed else mx.savez
    path = str(tmp_path / "a.npz")
    save(path, **arrays)
    back = mx.load(path)
    assert set(back) == set(arrays)
    for k in arrays:
        assert_same(back[k], arrays[k])
    with np.load(path) as z:
        for k in arrays:
            if k != "bfloat16":
                np.testing.assert_array_equal(z[k], to_numpy(arrays[k]))


def test_savez_names_positional_arrays_and_appends_extension(tmp_path):
    mx.savez(str(tmp_path / "p"), mx.arange(3), mx.ones(2), named=mx.zeros(1))
    back = mx.load(str(tmp_path / "p.npz"))
    assert sorted(back) == ["arr_0", "arr_1", "named"]
    np.testing.assert_array_equal(np.array(back["arr_1"]), np.ones(2))


def test_npz_written_by_numpy(tmp_path, rng):
    x, y = rng.standard_normal((4, 5)).astype(np.float32), np.arange(7, dtype=np.int64)
    np.savez(tmp_path / "u.npz", x=x, y=y)
    np.savez_compressed(tmp_path / "c.npz", x=x, y=y)
    for f in ("u.npz", "c.npz"):
        back = mx.load(str(tmp_path / f))
        np.testing.assert_array_equal(np.array(back["x"]), x)
        np.testing.assert_array_equal(np.array(back["y"]), y)


def test_compressed_npz_is_smaller_for_redundant_data(tmp_path):
    a = mx.zeros((256, 256))
    mx.savez(str(tmp_path / "u.npz"), a=a)
    mx.savez_compressed(str(tmp_path / "c.npz"), a=a)
    assert os.path.getsize(tmp_path / "c.npz") < os.path.getsize(tmp_path / "u.npz") / 10


def test_file_objects(tmp_path):
    a = mx.arange(10).reshape(2, 5)
    if BACKEND == "lmx":  # MLX insists on a file object with a name
        buf = io.BytesIO()
        mx.save(buf, a)
        buf.seek(0)
        assert_same(mx.load(buf), a)
    with open(tmp_path / "f.npz", "wb") as f:
        mx.savez(f, a=a)
    with open(tmp_path / "f.npz", "rb") as f:
        assert_same(mx.load(f)["a"], a)


# --- safetensors ------------------------------------------------------------


def test_safetensors_round_trip_every_dtype_with_metadata(tmp_path, rng):
    arrays = arrays_of_every_dtype(rng, SAFETENSORS_DTYPES)
    path = str(tmp_path / "a.safetensors")
    mx.save_safetensors(path, arrays, {"format": "mlx", "note": "ü"})
    back, meta = mx.load(path, return_metadata=True)
    assert meta == {"format": "mlx", "note": "ü"}
    for k in arrays:
        assert_same(back[k], arrays[k])


def test_safetensors_interchange_with_the_reference_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    names = [n for n in SAFETENSORS_DTYPES if n not in ("bfloat16", "complex64")]
    arrays = arrays_of_every_dtype(rng, names)
    path = str(tmp_path / "a.safetensors")
    mx.save_safetensors(path, arrays)
    theirs = st.load_file(path)
    for k in names:
        np.testing.assert_array_equal(theirs[k], to_numpy(arrays[k]))
    st.save_file({k: to_numpy(v) for k, v in arrays.items()}, path, metadata={"m": "1"})
    back, meta = mx.load(path, return_metadata=True)
    assert meta == {"m": "1"}
    for k in names:
        assert_same(back[k], arrays[k])


def test_safetensors_loaded_arrays_outlive_the_file_and_never_write_it(tmp_path):
    path = str(tmp_path / "a.safetensors")
    mx.save_safetensors(path, {"w": mx.arange(1000, dtype=mx.float32)})
    w = mx.load(path)["w"]
    y = w + 1  # the last reference: lmx may donate w's (mapped) buffer to y
    del w
    mx.eval(y)
    np.testing.assert_array_equal(np.array(mx.load(path)["w"]), np.arange(1000))
    os.remove(path)
    np.testing.assert_array_equal(np.array(y), np.arange(1000) + 1)


def test_safetensors_odd_offsets_load_correctly(tmp_path, rng):
    # A one-byte tensor first puts the float32 at an odd offset.
    st = pytest.importorskip("safetensors.numpy")
    x = rng.standard_normal(9).astype(np.float32)
    st.save_file({"a": np.ones(3, np.uint8), "b": x}, str(tmp_path / "o.safetensors"))
    np.testing.assert_array_equal(np.array(mx.load(str(tmp_path / "o.safetensors"))["b"]), x)


def test_save_safetensors_rejects_bad_arguments(tmp_path):
    with pytest.raises((TypeError, ValueError)):
        mx.save_safetensors(str(tmp_path / "x.safetensors"), [mx.ones(2)])
    with pytest.raises((TypeError, ValueError)):
        mx.save_safetensors(str(tmp_path / "x.safetensors"), {"a": mx.ones(2)}, {"k": 3})


# --- gguf -------------------------------------------------------------------


def test_gguf_round_trip_with_metadata(tmp_path, rng):
    arrays = {n: rand_mx(rng, (2, 3), n)[0] for n in GGUF_TENSOR_DTYPES}
    meta = {
        "name": "tiny",
        "tokens": ["a", "bb", ""],
        "count": mx.array(3, dtype=mx.uint32),
        "scale": mx.array(0.5),
        "flags": mx.array([True, False]),
        "ids": mx.array([1, 2, 3], dtype=mx.int64),
    }
    path = str(tmp_path / "a.gguf")
    mx.save_gguf(path, arrays, meta)
    back, m = mx.load(path, return_metadata=True)
    for k in arrays:
        assert_same(back[k], arrays[k])
    assert m["name"] == "tiny" and m["tokens"] == ["a", "bb", ""]
    for k in ("count", "scale", "flags", "ids"):
        assert_same(m[k], meta[k])


def test_save_gguf_rejects_what_gguf_cannot_hold(tmp_path):
    path = str(tmp_path / "x.gguf")
    # lmx raises ValueError (bad argument); MLX raises RuntimeError.
    with pytest.raises((ValueError, RuntimeError)):
        mx.save_gguf(path, {"a": mx.ones(2, dtype=mx.uint32)})
    with pytest.raises((ValueError, RuntimeError)):
        mx.save_gguf(path, {"a": mx.ones(2)}, {"m": mx.ones((2, 2))})


def test_gguf_written_by_lmx_reads_in_the_gguf_package(tmp_path, rng):
    gguf = pytest.importorskip("gguf")
    a, ref = rand_mx(rng, (3, 5), "float32")
    path = str(tmp_path / "a.gguf")
    mx.save_gguf(path, {"w": a}, {"arch": "x", "n": mx.array(7, dtype=mx.uint32)})
    r = gguf.GGUFReader(path)
    t = r.tensors[0]
    assert t.name == "w" and t.tensor_type == gguf.GGMLQuantizationType.F32
    np.testing.assert_array_equal(np.asarray(t.data).reshape(3, 5), ref)
    assert bytes(r.fields["arch"].parts[-1]).decode() == "x"
    assert int(r.fields["n"].parts[-1][0]) == 7


def write_gguf(path, tensors, gguf):
    """tensors: name -> (ndarray, raw ggml type or None)."""
    w = gguf.GGUFWriter(path, "llama")
    for name, (data, raw) in tensors.items():
        w.add_tensor(name, data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def dequantize_affine(w, scales, biases, bits):
    """MLX's affine layout back to floats: packed uint32, group size 32."""
    per_word = 32 // bits
    words = np.array(w).astype(np.uint64)
    shifts = np.arange(per_word, dtype=np.uint64) * bits
    q = (words[..., None] >> shifts) & ((1 << bits) - 1)
    q = q.reshape(*words.shape[:-1], -1).astype(np.float32)
    s = np.repeat(np.array(scales.astype(mx.float32)), 32, axis=-1)
    b = np.repeat(np.array(biases.astype(mx.float32)), 32, axis=-1)
    return q * s + b


@pytest.mark.parametrize("qtype", ["Q4_0", "Q4_1", "Q8_0"])
def test_gguf_affine_types_become_mlx_quantization(tmp_path, rng, qtype):
    gguf = pytest.importorskip("gguf")
    t = getattr(gguf.GGMLQuantizationType, qtype)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    q = gguf.quants.quantize(x, t)
    path = str(tmp_path / "q.gguf")
    write_gguf(path, {"blk.0.w.weight": (q, t)}, gguf)
    d = mx.load(path)
    assert sorted(d) == ["blk.0.w.biases", "blk.0.w.scales", "blk.0.w.weight"]
    bits = 8 if qtype == "Q8_0" else 4
    assert d["blk.0.w.weight"].dtype == mx.uint32 and d["blk.0.w.weight"].shape == (4, 64 * bits // 32)
    assert d["blk.0.w.scales"].shape == (4, 2) and d["blk.0.w.scales"].dtype == mx.float16
    ours = dequantize_affine(d["blk.0.w.weight"], d["blk.0.w.scales"], d["blk.0.w.biases"], bits)
    theirs = gguf.quants.dequantize(q, t)
    # The bias is rounded to float16 once (-8d, -128d are exact; Q4_1's m is stored as is).
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3)


def test_gguf_affine_types_match_mlx_bit_for_bit(tmp_path, rng):
    gguf = pytest.importorskip("gguf")
    mlx = pytest.importorskip("mlx.core")
    tensors = {}
    for i, name in enumerate(["Q4_0", "Q4_1", "Q8_0"]):
        t = getattr(gguf.GGMLQuantizationType, name)
        tensors[f"t{i}.weight"] = (gguf.quants.quantize(rng.standard_normal((3, 96)).astype(np.float32), t), t)
    path = str(tmp_path / "q.gguf")
    write_gguf(path, tensors, gguf)
    ours, theirs = mx.load(path), mlx.load(path)
    assert sorted(ours) == sorted(theirs)
    for k in ours:
        np.testing.assert_array_equal(np.array(ours[k]), np.array(theirs[k]))


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX cannot read these types; lmx dequantises them")
@pytest.mark.parametrize("qtype", ["Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"])
def test_gguf_other_quant_types_are_dequantized(tmp_path, rng, qtype):
    gguf = pytest.importorskip("gguf")
    t = getattr(gguf.GGMLQuantizationType, qtype)
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[t]
    rows, blocks_per_row = 3, 2
    raw = rng.integers(0, 256, (rows, blocks_per_row, block_bytes), dtype=np.uint8)
    # Random bytes would make some float16 super-scales inf/nan: set them to
    # ordinary values. Their place differs by format (start or end of a block).
    scale_offsets = {"Q5_0": [0], "Q5_1": [0, 2], "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2],
                     "Q5_K": [0, 2], "Q6_K": [208]}[qtype]  # fmt: skip
    for off in scale_offsets:
        vals = rng.uniform(0.001, 0.05, (rows, blocks_per_row)).astype(np.float16)
        raw[:, :, off:off + 2] = vals.view(np.uint8).reshape(rows, blocks_per_row, 2)
    raw = raw.reshape(rows, blocks_per_row * block_bytes)
    path = str(tmp_path / "k.gguf")
    write_gguf(path, {"w": (raw, t)}, gguf)
    w = mx.load(path)["w"]
    ref = gguf.quants.dequantize(raw, t)
    assert w.dtype == mx.float16 and w.shape == ref.shape == (rows, blocks_per_row * block_elems)
    np.testing.assert_allclose(np.array(w.astype(mx.float32)), ref, rtol=2e-3, atol=2e-3)


def test_gguf_plain_types_written_by_the_gguf_package(tmp_path, rng):
    gguf = pytest.importorskip("gguf")
    tensors = {
        "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f16": rng.standard_normal((5,)).astype(np.float16),
        "i32": rng.integers(-9, 9, (4, 2)).astype(np.int32),
    }
    path = str(tmp_path / "p.gguf")
    write_gguf(path, {k: (v, None) for k, v in tensors.items()}, gguf)
    back = mx.load(path)
    for k, v in tensors.items():
        np.testing.assert_array_equal(np.array(back[k]), v)


def test_load_rejects_unknown_formats_and_metadata_requests(tmp_path):
    mx.save(str(tmp_path / "a.npy"), mx.ones(2))
    with pytest.raises(ValueError):
        mx.load(str(tmp_path / "a.npy"), format="pickle")
    with pytest.raises(ValueError):
        mx.load(str(tmp_path / "a.npy"), return_metadata=True)
    with pytest.raises((RuntimeError, OSError, ValueError)):
        mx.load(str(tmp_path / "missing.safetensors"))


def test_safetensors_with_null_metadata_loads(tmp_path):
    # MLX writes "__metadata__": null when it has no metadata to save.
    import json
    import struct

    header = json.dumps({"__metadata__": None, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "n.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + np.array([1.5, 2.5], np.float32).tobytes())
    np.testing.assert_array_equal(np.array(mx.load(str(path))["a"]), [1.5, 2.5])
