"""Tiny tokenizers and model folders for the lmx.lm tests, built locally (never downloaded).

``lm_module(name)`` is lmx.lm.<name>, or mlx_lm.<name> under LMX_TEST_BACKEND=mlx (the test
module is skipped when mlx_lm is not installed).
"""

import importlib
import json

import pytest
from conftest import BACKEND

# The start of a GPU test's child-process script: `model`, a small random Qwen3 in bfloat16,
# quantized to sys.argv[1] bits when nonzero; `out`, the file to write (sys.argv[2]).
SMALL_QWEN3_SCRIPT = r"""
import sys
import numpy as np
import lmx.core as mx
import lmx.nn as nn
from lmx.lm.models import qwen3

bits, out = int(sys.argv[1]), sys.argv[2]
mx.random.seed(3)
args = qwen3.ModelArgs(model_type="qwen3", hidden_size=128, num_hidden_layers=3, intermediate_size=256,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-6,
                       vocab_size=200, rope_theta=10000, tie_word_embeddings=True)
model = qwen3.Model(args)
model.set_dtype(mx.bfloat16)
if bits:
    nn.quantize(model, group_size=64, bits=bits)
mx.eval(model.parameters())
"""

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    "hello world, héllo wörld!",
    "the quick brown fox jumps over the lazy dog",
    "über naïve café ünïcode",
    "hello hello world the end",
] * 5


def lm_module(name):
    if BACKEND == "mlx":
        return pytest.importorskip(f"mlx_lm.{name}")
    return importlib.import_module(f"lmx.lm.{name}")


def byte_level_tokenizer(vocab_size=300):
    """A GPT-2 style byte-level BPE trained on CORPUS, with ChatML special tokens."""
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    )
    tok.train_from_iterator(CORPUS, trainer)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": "<|im_end|>",
        "bos_token": None,
        "pad_token": "<|endoftext|>",
        "chat_template": CHATML_TEMPLATE,
        "clean_up_tokenization_spaces": False,
    }
    return tok, config


def sentencepiece_tokenizer():
    """A Llama-2 style BPE over "▁"-joined pieces with <0xNN> byte fallback and a BOS."""
    tokenizers = pytest.importorskip("tokenizers")
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    pieces = [
        "▁",
        "h",
        "e",
        "l",
        "o",
        "w",
        "r",
        "d",
        "a",
        "c",
        "f",
        "é",
        "▁h",
        "▁he",
        "ll",
        "▁hell",
        "▁hello",
    ]
    pieces += ["▁w", "or", "▁wor", "ld", "▁world", "▁c", "▁ca", "▁caf", "▁café"]
    vocab = {t: i for i, t in enumerate(specials + byte_tokens + pieces)}
    merges = [
        ("▁", "h"), ("▁h", "e"), ("l", "l"), ("▁he", "ll"), ("▁hell", "o"), ("▁", "w"), ("o", "r"),
        ("▁w", "or"), ("l", "d"), ("▁wor", "ld"), ("▁", "c"), ("▁c", "a"), ("▁ca", "f"), ("▁caf", "é"),
    ]  # fmt: skip
    model = tokenizers.models.BPE(
        vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True
    )
    tok = tokenizers.Tokenizer(model)
    tok.normalizer = tokenizers.normalizers.Sequence(
        [tokenizers.normalizers.Prepend("▁"), tokenizers.normalizers.Replace(" ", "▁")]
    )
    tok.decoder = tokenizers.decoders.Sequence(
        [
            tokenizers.decoders.Replace("▁", " "),
            tokenizers.decoders.ByteFallback(),
            tokenizers.decoders.Fuse(),
            tokenizers.decoders.Strip(" ", 1, 0),
        ]
    )
    tok.add_special_tokens([tokenizers.AddedToken(t, special=True, normalized=False) for t in specials])
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "clean_up_tokenization_spaces": False,
    }
    return tok, config


def write_tokenizer_folder(path, tokenizer, config, extra_files=None):
    """Write tokenizer.json, tokenizer_config.json and any {name: dict or str} extras into ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    for name, content in (extra_files or {}).items():
        (path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def write_llama_folder(path, rng, vocab_size, tokenizer=None, tokenizer_config=None, **overrides):
    """A tiny random-weight llama model folder (config.json + model.safetensors [+ tokenizer]).

    Weights are drawn with ``rng`` in NumPy and saved by the backend under test.
    """
    import numpy as np
    from conftest import backend_module, mx

    config = {
        "model_type": "llama",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "intermediate_size": 48,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-5,
        "vocab_size": vocab_size,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "max_position_embeddings": 512,
    }
    config.update(overrides)
    llama = lm_module("models.llama")
    model = llama.Model(llama.ModelArgs.from_dict(config))
    weights = {
        name: mx.array(
            (rng.normal(size=p.shape) * (0.5 if p.ndim > 1 else 0.1) + (p.ndim == 1)).astype(np.float32)
        )
        for name, p in backend_module("utils").tree_flatten(model.parameters())
    }
    path.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(path / "model.safetensors"), weights)
    (path / "config.json").write_text(json.dumps(config))
    if tokenizer is not None:
        write_tokenizer_folder(path, tokenizer, tokenizer_config or {})
    return path
