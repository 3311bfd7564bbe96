"""Malformed files: every reader rejects truncated, corrupted or
inconsistent files with an error naming the file, never a crash, hang or
garbage. Seeds live in io_corpus/ (written by the reference libraries, see
io_corpus/make_corpus.py); mutations are drawn from a fixed seed."""

import json
import os
import struct

import numpy as np
import pytest

from conftest import BACKEND, mx

pytestmark = pytest.mark.skipif(BACKEND != "lmx", reason="tests lmx's own parsers")

CORPUS = os.path.join(os.path.dirname(__file__), "io_corpus")
SEEDS = ["seed.npy", "seed.npz", "seed_compressed.npz", "seed.safetensors", "seed.gguf"]
REJECTED = (ValueError, RuntimeError)


def seed_bytes(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return f.read()


def load_bytes(tmp_path, data, ext, name="f"):
    path = str(tmp_path / f"{name}.{ext}")
    with open(path, "wb") as f:
        f.write(data)
    out = mx.load(path)
    mx.eval(out)
    return out


def assert_rejected(tmp_path, data, ext, fragment=None):
    with pytest.raises(REJECTED) as info:
        load_bytes(tmp_path, data, ext)
    assert f".{ext}" in str(info.value)  # the error names the file
    if fragment:
        assert fragment in str(info.value)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeds_load(tmp_path, seed):
    load_bytes(tmp_path, seed_bytes(seed), seed.rsplit(".", 1)[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_every_truncation_is_rejected(tmp_path, seed):
    data, ext = seed_bytes(seed), seed.rsplit(".", 1)[1]
    # GGUF files end in alignment padding, which a reader may not miss.
    tail = 32 if ext == "gguf" else 0
    for n in range(0, len(data) - tail):
        assert_rejected(tmp_path, data[:n], ext)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_mutations_load_or_raise(tmp_path, seed):
    data, ext = seed_bytes(seed), seed.rsplit(".", 1)[1]
    rng = np.random.default_rng(sum(data) % 2**32)
    interesting = [0, 1, 0x7F, 0x80, 0xFF]
    for _ in range(400):
        b = bytearray(data)
        kind = rng.integers(4)
        if kind == 0:  # overwrite a few bytes
            for _ in range(rng.integers(1, 8)):
                b[rng.integers(len(b))] = rng.integers(256)
        elif kind == 1:  # boundary values
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(len(b))] = interesting[rng.integers(len(interesting))]
        elif kind == 2:  # drop a chunk
            i = rng.integers(len(b))
            del b[i : i + rng.integers(1, 16)]
        else:  # duplicate a chunk
            i = rng.integers(len(b))
            b[i:i] = b[i : i + rng.integers(1, 16)]
        try:
            load_bytes(tmp_path, bytes(b), ext)
        except REJECTED:
            pass


# --- hand-made malformed files --------------------------------------------------


def safetensors_file(header, data=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def test_safetensors_specific_defects(tmp_path):
    ok = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    load_bytes(tmp_path, safetensors_file(ok, bytes(8)), "safetensors")
    assert_rejected(tmp_path, struct.pack("<Q", 1 << 40) + b"{}", "safetensors", "header length")
    assert_rejected(tmp_path, safetensors_file(ok, bytes(4)), "safetensors", "past the end")
    bad_dtype = {"a": {"dtype": "F7", "shape": [2], "data_offsets": [0, 8]}}
    assert_rejected(tmp_path, safetensors_file(bad_dtype, bytes(8)), "safetensors", "F7")
    wrong_size = {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}
    assert_rejected(tmp_path, safetensors_file(wrong_size, bytes(12)), "safetensors")
    overlap = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    assert_rejected(tmp_path, safetensors_file(overlap, bytes(12)), "safetensors", "overlap")
    assert_rejected(tmp_path, struct.pack("<Q", 5) + b"[1,2]", "safetensors", "JSON object")
    assert_rejected(tmp_path, struct.pack("<Q", 4) + b"{oops", "safetensors")
    neg = {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}
    assert_rejected(tmp_path, safetensors_file(neg, bytes(8)), "safetensors")
    huge = {"a": {"dtype": "F32", "shape": [2**31, 2**31, 2**31], "data_offsets": [0, 8]}}
    assert_rejected(tmp_path, safetensors_file(huge, bytes(8)), "safetensors")
    meta = {"__metadata__": {"k": 1}, **ok}
    assert_rejected(tmp_path, safetensors_file(meta, bytes(8)), "safetensors", "metadata")


def gguf_string(s):
    s = s.encode()
    return struct.pack("<Q", len(s)) + s


def gguf_file(tensors, kv=b"", n_kv=0, version=3, magic=b"GGUF", pad_to=32):
    """tensors: list of (name, dims innermost first, ggml type, offset)."""
    out = magic + struct.pack("<IQQ", version, len(tensors), n_kv) + kv
    for name, dims, t, off in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", t, off)
    return out + bytes(-len(out) % pad_to)


def test_gguf_specific_defects(tmp_path):
    f32 = 0
    load_bytes(tmp_path, gguf_file([("a", [4], f32, 0)]) + bytes(16), "gguf")
    assert_rejected(tmp_path, gguf_file([("a", [4], f32, 0)], magic=b"GGUX") + bytes(16), "gguf", "magic")
    assert_rejected(tmp_path, gguf_file([("a", [4], f32, 0)], version=1) + bytes(16), "gguf", "version")
    assert_rejected(tmp_path, gguf_file([("a", [4], f32, 64)]) + bytes(16), "gguf", "past the end")
    overlap = [("a", [4], f32, 0), ("b", [4], f32, 8)]
    assert_rejected(tmp_path, gguf_file(overlap) + bytes(32), "gguf", "overlap")
    assert_rejected(tmp_path, gguf_file([("a", [4], 99, 0)]) + bytes(16), "gguf", "type 99")
    assert_rejected(tmp_path, gguf_file([("a", [4] * 40, f32, 0)]) + bytes(16), "gguf", "dimensions")
    assert_rejected(tmp_path, gguf_file([("a", [2**40, 2**40], f32, 0)]) + bytes(16), "gguf")
    q4_0 = 2  # 32-element blocks: 20 elements do not split into blocks
    assert_rejected(tmp_path, gguf_file([("a", [20], q4_0, 0)]) + bytes(32), "gguf", "blocks")
    dup = [("a", [4], f32, 0), ("a", [4], f32, 32)]
    assert_rejected(tmp_path, gguf_file(dup) + bytes(48), "gguf", "twice")
    long_key = struct.pack("<Q", 1 << 60) + b"k"
    assert_rejected(tmp_path, gguf_file([], kv=long_key, n_kv=1), "gguf", "truncated")
    huge_array = gguf_string("k") + struct.pack("<IIQ", 9, 4, 1 << 60)
    assert_rejected(tmp_path, gguf_file([], kv=huge_array, n_kv=1), "gguf", "truncated")
    bad_bool = gguf_string("k") + struct.pack("<IB", 7, 2)
    assert_rejected(tmp_path, gguf_file([], kv=bad_bool, n_kv=1), "gguf", "bool")
    odd_alignment = gguf_string("general.alignment") + struct.pack("<II", 4, 3)
    assert_rejected(tmp_path, gguf_file([], kv=odd_alignment, n_kv=1), "gguf", "alignment")


def test_npy_and_npz_specific_defects(tmp_path):
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    assert_rejected(tmp_path, npy + bytes(12), "npy")
    header = b"{'descr': '<q9', 'fortran_order': False, 'shape': (3,), }"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    assert_rejected(tmp_path, npy + bytes(12), "npy", "q9")
    assert_rejected(tmp_path, b"PK" + bytes(40), "npz")
    # A flipped payload byte fails the entry's CRC check.
    data = bytearray(seed_bytes("seed.npz"))
    data[data.index(b"\x93NUMPY") + 100] ^= 0xFF
    assert_rejected(tmp_path, bytes(data), "npz", "CRC")
