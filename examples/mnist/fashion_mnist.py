"""Fashion-MNIST as NumPy arrays, read from the gzipped IDX files that Debian's
``dataset-fashion-mnist`` package installs."""

import gzip
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """One IDX file (gzipped or not) as a NumPy array of its stored shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"[read_idx] {path}: not an IDX file (bad magic number).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"[read_idx] {path}: {len(raw)} bytes, expected {expected} for shape {shape}.")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load(root=DEFAULT_ROOT):
    """``(train_images, train_labels, test_images, test_labels)``: images as
    float32 in [0, 1] with shape (N, 28, 28, 1) (MLX's channels-last layout),
    labels as uint32."""
    root = Path(root)
    if not (root / "train-images-idx3-ubyte.gz").exists():
        raise FileNotFoundError(
            f"[load] No Fashion-MNIST under {root}; install it with `apt-get install dataset-fashion-mnist`."
        )

    def images(name):
        return (read_idx(root / f"{name}-images-idx3-ubyte.gz").astype(np.float32) / 255.0)[..., None]

    def labels(name):
        return read_idx(root / f"{name}-labels-idx1-ubyte.gz").astype(np.uint32)

    return images("train"), labels("train"), images("t10k"), labels("t10k")


def synthetic(n_train, n_test, seed=0):
    """Fashion-MNIST-shaped ``(train_images, train_labels, test_images,
    test_labels)`` that a small model learns quickly: each class is a fixed
    template of random 4x4-pixel blocks plus noise. For tests without the Debian
    package."""
    rng = np.random.default_rng(seed)
    blocks = rng.random((len(CLASSES), 7, 7, 1), dtype=np.float32)
    templates = blocks.repeat(4, axis=1).repeat(4, axis=2)
    labels = rng.integers(0, len(CLASSES), n_train + n_test).astype(np.uint32)
    noise = 0.3 * rng.standard_normal((n_train + n_test, 28, 28, 1)).astype(np.float32)
    images = np.clip(templates[labels] + noise, 0.0, 1.0)
    return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]
