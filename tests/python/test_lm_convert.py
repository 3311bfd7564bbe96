"""lmx.lm.convert: GGUF files and Hugging Face folders to mlx_lm folders.

The converted folders are loaded back with lmx.lm.load (and with mlx_lm.load when it
is installed) and must give the logits of the model they came from.
"""

import importlib
import json

import numpy as np
import pytest
from conftest import BACKEND

if BACKEND == "mlx":
    pytest.skip(
        "lmx.lm.convert is tested against lmx.lm (mlx_lm is used as an oracle)", allow_module_level=True
    )

pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

import lmx.core as mx
from lm_gguf_helpers import TOKENS, Q, make_tiny_gguf, reference_model
from lmx.lm import load
from lmx.lm.gguf import load_gguf_model

# lmx.lm exports the convert function under the module's name, as mlx_lm does
lm_convert = importlib.import_module("lmx.lm.convert")


def logits_of(model):
    return np.array(model(mx.array(TOKENS)).astype(mx.float32))


def mlx_lm_logits(path):
    """Logits of the folder loaded by mlx_lm on MLX, or None when they are not installed."""
    try:
        import mlx.core as mlx_core
        import mlx_lm
    except ImportError:
        return None
    model, _ = mlx_lm.load(str(path))
    return np.array(model(mlx_core.array(TOKENS)).astype(mlx_core.float32))


@pytest.fixture
def tiny_gguf(tmp_path, rng):
    return lambda qtype, tied=True, **kwargs: make_tiny_gguf(tmp_path, rng, qtype, tied, **kwargs)


def read_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("qtype,bits", [(Q.Q8_0, 8), (Q.Q4_1, 4)])
def test_gguf_keeps_its_quantization(tiny_gguf, tmp_path, qtype, bits):
    path, _ = tiny_gguf(qtype, tied=False)
    out = tmp_path / "converted"
    lm_convert.convert(gguf_path=path, mlx_path=str(out))
    config = read_json(out / "config.json")
    assert config["quantization"]["group_size"] == 32 and config["quantization"]["bits"] == bits
    assert config["quantization_config"] == config["quantization"]
    expected = logits_of(load_gguf_model(path)[0])
    model, tokenizer = load(str(out))
    assert model.model.layers[1].mlp.down_proj.bits == bits
    np.testing.assert_array_equal(logits_of(model), expected)
    oracle = mlx_lm_logits(out)
    if oracle is not None:
        np.testing.assert_allclose(oracle, expected, rtol=0, atol=1e-3 * np.abs(expected).max())
    assert tokenizer.encode("the and<|im_end|>") == load_gguf_model(path)[1].encode("the and<|im_end|>")
    tokenizer_config = read_json(out / "tokenizer_config.json")
    assert tokenizer_config["eos_token"] == "<|im_end|>" and "chat_template" in tokenizer_config


def test_gguf_dequantize_and_dtype(tiny_gguf, tmp_path):
    path, dequantised = tiny_gguf(Q.Q4_0)
    out = tmp_path / "float"
    lm_convert.main(["--gguf", path, "--mlx-path", str(out), "-d", "--dtype", "float32"])
    config = read_json(out / "config.json")
    assert "quantization" not in config and config["torch_dtype"] == "float32"
    model, _ = load(str(out))
    assert model.model.layers[0].self_attn.q_proj.weight.dtype == mx.float32
    expected = logits_of(reference_model(dequantised))
    np.testing.assert_allclose(logits_of(model), expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    oracle = mlx_lm_logits(out)
    if oracle is not None:
        np.testing.assert_allclose(oracle, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_gguf_requantized(tiny_gguf, tmp_path):
    path, dequantised = tiny_gguf(Q.Q8_0)
    out = tmp_path / "q4"
    lm_convert.main(["--gguf", path, "--mlx-path", str(out), "-q", "--q-bits", "4", "--q-group-size", "32"])
    config = read_json(out / "config.json")
    assert config["quantization"] == {"group_size": 32, "bits": 4, "mode": "affine"}
    model, _ = load(str(out))
    assert model.model.layers[0].mlp.up_proj.bits == 4
    expected = logits_of(reference_model(dequantised))
    # 4-bit weights: close to the float model, not equal
    error = np.abs(logits_of(model) - expected).max()
    assert 0 < error < 0.25 * np.abs(expected).max()


def test_hf_folder_quantized(tiny_gguf, tmp_path):
    path, dequantised = tiny_gguf(Q.F32)
    hf = tmp_path / "hf"
    lm_convert.convert(str(path), str(hf))  # a .gguf as hf_path is accepted too
    out = tmp_path / "hf-q"
    lm_convert.convert(str(hf), str(out), quantize=True, q_group_size=32, q_bits=8, dtype="float32")
    config = read_json(out / "config.json")
    assert config["quantization"]["bits"] == 8 and config["quantization"]["group_size"] == 32
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (out / name).read_bytes() == (hf / name).read_bytes()
    model, _ = load(str(out))
    expected = logits_of(reference_model(dequantised))
    np.testing.assert_allclose(logits_of(model), expected, rtol=0, atol=2e-2 * np.abs(expected).max())


def test_convert_rejects_bad_arguments(tiny_gguf, tmp_path):
    path, _ = tiny_gguf(Q.F32)
    (tmp_path / "exists").mkdir()
    with pytest.raises(ValueError, match=r"\[convert\] Cannot save to .*already exists"):
        lm_convert.convert(gguf_path=path, mlx_path=str(tmp_path / "exists"))
    with pytest.raises(ValueError, match=r"\[convert\] Give exactly one"):
        lm_convert.convert(mlx_path=str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"\[convert\] dtype must be one of"):
        lm_convert.convert(gguf_path=path, mlx_path=str(tmp_path / "b"), dtype="int8")
    with pytest.raises(ValueError, match=r"\[convert\] Choose either quantize or dequantize"):
        lm_convert.convert(gguf_path=path, mlx_path=str(tmp_path / "c"), quantize=True, dequantize=True)
    with pytest.raises(ValueError, match=r"neither a model folder nor a \.gguf file"):
        lm_convert.convert(str(tmp_path / "nowhere"), str(tmp_path / "d"))
    with pytest.raises(SystemExit):
        lm_convert.main(["--mlx-path", str(tmp_path / "e")])  # no source
    assert not any((tmp_path / name).exists() for name in "abcde")
