"""Quick runs of the examples' code (examples/mnist, examples/transformer_lm) on
small synthetic data, so breakage shows without Debian's data packages."""

import gzip
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from examples.mnist import fashion_mnist
from examples.mnist import train as mnist_train
from examples.transformer_lm import fortunes
from examples.transformer_lm import train as lm_train


def quiet(*_):
    pass


def write_idx(path, array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_read_idx_round_trips_and_rejects_bad_files(tmp_path, rng):
    images = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "images.gz", images)
    np.testing.assert_array_equal(fashion_mnist.read_idx(tmp_path / "images.gz"), images)
    values = rng.standard_normal((3, 4)).astype(np.float32)
    write_idx(tmp_path / "floats.gz", values, type_code=0x0D)
    np.testing.assert_array_equal(fashion_mnist.read_idx(tmp_path / "floats.gz"), values)

    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match=r"\[read_idx\].*bad\.gz.*magic"):
        fashion_mnist.read_idx(tmp_path / "bad.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array([10], ">u4").tobytes() + b"\x00" * 3)
    with pytest.raises(ValueError, match=r"\[read_idx\].*short\.gz.*expected"):
        fashion_mnist.read_idx(tmp_path / "short.gz")


def test_load_reads_the_four_files_and_names_a_missing_folder(tmp_path, rng):
    for name, n in (("train", 6), ("t10k", 4)):
        write_idx(
            tmp_path / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        )
        write_idx(tmp_path / f"{name}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    train_x, train_y, test_x, test_y = fashion_mnist.load(tmp_path)
    assert train_x.shape == (6, 28, 28, 1) and test_x.shape == (4, 28, 28, 1)
    assert train_x.dtype == np.float32 and 0.0 <= train_x.min() and train_x.max() <= 1.0
    assert train_y.shape == (6,) and test_y.shape == (4,)
    with pytest.raises(FileNotFoundError, match=r"\[load\].*dataset-fashion-mnist"):
        fashion_mnist.load(tmp_path / "missing")


def test_mlp_learns_synthetic_fashion_mnist():
    *train_set, test_x, test_y = fashion_mnist.synthetic(600, 200)
    _, history = mnist_train.train(
        BACKEND, "mlp", train_set, (test_x, test_y), epochs=1, batch_size=50, lr=1e-3, log=quiet
    )
    assert history[0] > 0.8  # chance is 0.1


def test_cnn_trains_on_synthetic_fashion_mnist():
    *train_set, test_x, test_y = fashion_mnist.synthetic(256, 128)
    model, history = mnist_train.train(
        BACKEND, "cnn", train_set, (test_x, test_y), epochs=2, batch_size=32, lr=1e-3, log=quiet
    )
    assert history[-1] > 0.6
    mx = mnist_train.load_backend(BACKEND)[0]
    assert model(mx.array(test_x[:3])).shape == (3, 10)


def test_build_model_names_unknown_kinds():
    nn = mnist_train.load_backend(BACKEND)[1]
    with pytest.raises(ValueError, match=r"\[build_model\].*'resnet'"):
        mnist_train.build_model(nn, "resnet")


def test_read_fortunes_cleans_and_splits(tmp_path):
    (tmp_path / "jokes").write_text("First\tone.\n%\nSe_\bcond\xe9 one.\n%\n\n%\nThird.\n")
    (tmp_path / "jokes.dat").write_bytes(b"\x00\x01index")
    (tmp_path / "jokes.u8").symlink_to(tmp_path / "jokes")
    (tmp_path / "empty").mkdir()
    assert fortunes.read_fortunes(tmp_path) == ["First one.", "Second one.", "Third."]
    with pytest.raises(FileNotFoundError, match=r"\[read_fortunes\].*fortunes"):
        fortunes.read_fortunes(tmp_path / "empty")


def test_char_corpus_batches_are_shifted_windows(rng):
    corpus = fortunes.CharCorpus([f"doc {i}" for i in range(10)], val_fraction=0.2)
    assert corpus.decode(corpus.encode("doc 7")) == "doc 7"
    assert "doc 4" in corpus.decode(corpus.val) and "doc 4" not in corpus.decode(corpus.train)
    x, y = corpus.batch("train", 3, 5, rng)
    assert x.shape == y.shape == (3, 5)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match=r"\[CharCorpus\].*val"):
        corpus.batch("val", 1, 100, rng)


def pattern_corpus():
    """Documents with a learnable pattern: a model must beat the uniform guess."""
    words = ["alpha", "beta", "gamma", "delta"]
    return fortunes.CharCorpus([" ".join(words[(i + j) % 4] for j in range(12)) for i in range(40)])


TINY_LM = {
    "batch_size": 16,
    "context": 16,
    "dims": 32,
    "num_heads": 2,
    "num_layers": 1,
    "lr": 1e-2,
    "warmup": 5,
    "eval_batches": 2,
}


def test_transformer_lm_loss_falls_and_samples():
    corpus = pattern_corpus()
    model, history = lm_train.train(BACKEND, corpus, steps=60, eval_every=30, log=quiet, **TINY_LM)
    assert [h[0] for h in history] == [30, 60]
    assert history[1][2] < history[0][2] < math.log(len(corpus.vocab))
    assert history[1][2] < 0.4 * math.log(len(corpus.vocab))
    mx = lm_train.load_backend(BACKEND)[0]
    model.eval()
    text = lm_train.sample(mx, model, corpus, "gamma ", 20, 0.8, 16)
    assert text.startswith("gamma ") and len(text) == 26 and set(text) <= set(corpus.vocab)
    with pytest.raises(ValueError, match=r"\[CharTransformer\].*context"):
        model(mx.zeros((1, 17), dtype=mx.uint32))


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with MLX")
def test_transformer_lm_training_follows_mlx():
    # Same seed, same (bit-exact) initial weights: the losses agree to float rounding.
    pytest.importorskip("mlx.core")
    corpus = pattern_corpus()
    runs = [
        lm_train.train(backend, corpus, steps=20, eval_every=10, log=quiet, **TINY_LM)[1]
        for backend in ("lmx", "mlx")
    ]
    np.testing.assert_allclose(np.array(runs[0]), np.array(runs[1]), rtol=1e-3)
