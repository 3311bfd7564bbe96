"""Writes the seed files of tests/python/test_io_fuzz.py with the reference
libraries (NumPy, safetensors, gguf), so the corpus does not depend on lmx.
Run from this folder: python make_corpus.py. The files are small and
committed; re-running gives the same bytes."""

import zipfile

import numpy as np

rng = np.random.default_rng(7)

np.save("seed.npy", rng.standard_normal((3, 4)).astype(np.float32))
np.savez("seed.npz", a=np.arange(6, dtype=np.int16).reshape(2, 3), b=np.linspace(0, 1, 5))
np.savez_compressed("seed_compressed.npz", a=rng.standard_normal(40).astype(np.float32), b=np.eye(3, dtype=np.uint8))
# zipfile stamps the current time: pin it so the bytes are reproducible.
for name in ("seed.npz", "seed_compressed.npz"):
    with zipfile.ZipFile(name) as z:
        entries = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(name, "w") as z:
        for info, data in entries:
            info.date_time = (2026, 1, 1, 0, 0, 0)
            z.writestr(info, data)

from safetensors.numpy import save_file  # noqa: E402

save_file(
    {"w": rng.standard_normal((4, 3)).astype(np.float32), "i": np.arange(5, dtype=np.int64), "h": np.ones(3, np.float16)},
    "seed.safetensors",
    metadata={"format": "np"},
)

import gguf  # noqa: E402

w = gguf.GGUFWriter("seed.gguf", "llama")
w.add_uint32("llama.block_count", 2)
w.add_float32("llama.rope.freq_base", 10000.0)
w.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
w.add_array("tokenizer.ggml.scores", [0.5, 0.25, 0.125])
w.add_tensor("f32.weight", rng.standard_normal((2, 32)).astype(np.float32))
q8 = gguf.quants.quantize(rng.standard_normal((2, 32)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
w.add_tensor("q8.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
k = rng.integers(0, 256, (1, 144), dtype=np.uint8)
k[:, :4] = np.frombuffer(np.array([0.01, 0.002], np.float16).tobytes(), np.uint8)
w.add_tensor("q4k.weight", k, raw_dtype=gguf.GGMLQuantizationType.Q4_K)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
