"""lmx.lm.compiled_decode: generate_step's replayed compiled step over static caches gives the
tokens and log-probabilities of plain decoding, for every architecture it serves, leaves the
caller's caches as plain decoding would, and stays out of the way where it cannot serve."""

import importlib

import numpy as np
import pytest
from conftest import BACKEND, mx
from test_lm_models import CONFIGS, build_model_folder

pytestmark = pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own decoding path")

if BACKEND == "lmx":
    compiled_decode = importlib.import_module("lmx.lm.compiled_decode")
    generate_mod = importlib.import_module("lmx.lm.generate")  # lmx.lm.generate is also a function
    lm_utils = importlib.import_module("lmx.lm.utils")
    cache_mod = importlib.import_module("lmx.lm.models.cache")

PROMPT = [5, 17, 3, 99, 42, 7, 64]


@pytest.fixture
def decoders(monkeypatch):
    """The CompiledDecoders generate_step makes, in order."""
    made = []

    class Recorded(compiled_decode.CompiledDecoder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(generate_mod, "CompiledDecoder", Recorded)
    return made


def decode(monkeypatch, model, setting, n, prompt=PROMPT, **kwargs):
    monkeypatch.setenv("LMX_COMPILED_DECODE", setting)
    out = list(generate_mod.generate_step(mx.array(prompt), model, max_tokens=n, **kwargs))
    return [t for t, _ in out], np.stack([np.array(lp.astype(mx.float32)) for _, lp in out])


def load(tmp_path, arch):
    model, _ = lm_utils.load_model(build_model_folder(tmp_path / arch, CONFIGS[arch]))
    return model


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_matches_plain_decoding(tmp_path, monkeypatch, decoders, arch):
    model = load(tmp_path, arch)
    plain_tokens, plain_logprobs = decode(monkeypatch, model, "0", 20)
    assert not decoders
    tokens, logprobs = decode(monkeypatch, model, "1", 20)
    serves = all(type(c) is cache_mod.KVCache for c in cache_mod.make_prompt_cache(model))
    assert len(decoders) == (1 if serves else 0)
    assert tokens == plain_tokens
    np.testing.assert_allclose(logprobs, plain_logprobs, rtol=1e-4, atol=1e-4)


def test_caller_cache_continues_like_plain_decoding(tmp_path, monkeypatch, decoders):
    model = load(tmp_path, "qwen3")
    runs = {}
    for setting in ("0", "1"):
        cache = cache_mod.make_prompt_cache(model)
        first, _ = decode(monkeypatch, model, setting, 17, prompt_cache=cache)
        assert all(c.offset == len(PROMPT) + 17 for c in cache)
        # The caches stay plain KVCaches: a second turn (here plain) reads what the first wrote.
        second, logprobs = decode(monkeypatch, model, "0", 5, prompt=[first[-1], 11], prompt_cache=cache)
        runs[setting] = (first, second, logprobs)
    assert len(decoders) == 1
    assert runs["1"][:2] == runs["0"][:2]
    np.testing.assert_allclose(runs["1"][2], runs["0"][2], rtol=1e-4, atol=1e-4)


def test_auto_serves_long_generations_only(tmp_path, monkeypatch, decoders):
    model = load(tmp_path, "llama")
    decode(monkeypatch, model, "auto", compiled_decode.MIN_TOKENS - 1)
    assert not decoders
    decode(monkeypatch, model, "auto", compiled_decode.MIN_TOKENS)
    assert len(decoders) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(logits_processors=[lambda tokens, logits: logits]),
        dict(kv_bits=8, kv_group_size=32, quantized_kv_start=0),
        dict(max_kv_size=64),
    ],
    ids=["logits_processors", "quantized_cache", "rotating_cache"],
)
def test_plain_step_where_it_cannot_serve(tmp_path, monkeypatch, decoders, kwargs):
    model = load(tmp_path, "qwen3")  # head_dim 32: a whole quantisation group
    decode(monkeypatch, model, "1", 17, **kwargs)
    assert not decoders


def test_disabled_compile_decodes_plainly(tmp_path, monkeypatch, decoders):
    model = load(tmp_path, "llama")
    mx.disable_compile()
    try:
        tokens, _ = decode(monkeypatch, model, "1", 17)
    finally:
        mx.enable_compile()
    assert not decoders
    assert tokens == decode(monkeypatch, model, "0", 17)[0]


def test_bad_setting_is_named(tmp_path, monkeypatch):
    model = load(tmp_path, "llama")
    with pytest.raises(ValueError, match="LMX_COMPILED_DECODE"):
        decode(monkeypatch, model, "yes", 17)


def test_full_decoder_refuses_another_token(tmp_path):
    model = load(tmp_path, "llama")
    cache = cache_mod.make_prompt_cache(model)
    model(mx.array(PROMPT)[None], cache=cache)
    room = cache_mod.KVCache.step - len(PROMPT)
    decoder = compiled_decode.CompiledDecoder(model, cache, room)
    token = mx.array([1])
    for _ in range(room):
        token = mx.argmax(decoder(token), axis=-1)
    assert cache[0].offset == cache_mod.KVCache.step
    with pytest.raises(ValueError, match="full"):
        decoder(token)
