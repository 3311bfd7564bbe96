"""lmx.lm.tokenizer_utils (mlx_lm.tokenizer_utils under LMX_TEST_BACKEND=mlx) on tiny tokenizers
built here: loading a folder, encode/decode, end-of-sequence ids, chat templates and
streaming detokenizers that must never emit half a UTF-8 character."""

import json

import pytest
from conftest import BACKEND
from lm_helpers import (
    CHATML_TEMPLATE,
    byte_level_tokenizer,
    lm_module,
    sentencepiece_tokenizer,
    write_tokenizer_folder,
)

tokenizer_utils = lm_module("tokenizer_utils")

TEXTS = ["hello world", "hello 😀 wörld 日本 café!", "über naïve\n\ncafé 🎉🎉 the end", "a\u0301 e\u0308 ｡"]


@pytest.fixture
def bpe_folder(tmp_path):
    tok, config = byte_level_tokenizer()
    return write_tokenizer_folder(tmp_path / "bpe", tok, config)


@pytest.fixture
def spm_folder(tmp_path):
    tok, config = sentencepiece_tokenizer()
    return write_tokenizer_folder(tmp_path / "spm", tok, config)


def stream(detokenizer, ids):
    """Feed ids one at a time; returns the segments emitted (finalize's included)."""
    detokenizer.reset()
    segments = []
    for token in ids:
        detokenizer.add_token(token)
        segments.append(detokenizer.last_segment)
    detokenizer.finalize()
    segments.append(detokenizer.last_segment)
    return segments


def assert_valid_text(segments):
    for s in segments:
        assert "\ufffd" not in s, f"broken character emitted in {segments}"


@pytest.mark.parametrize("text", TEXTS)
def test_bpe_encode_decode_round_trip(bpe_folder, text):
    tokenizer = tokenizer_utils.load(bpe_folder)
    ids = tokenizer.encode(text)
    assert all(isinstance(i, int) for i in ids)
    assert tokenizer.decode(ids) == text


@pytest.mark.parametrize("text", TEXTS)
def test_bpe_streaming_matches_decode(bpe_folder, text):
    tokenizer = tokenizer_utils.load(bpe_folder)
    ids = tokenizer.encode(text)
    detokenizer = tokenizer.detokenizer
    assert type(detokenizer).__name__ == "BPEStreamingDetokenizer"
    segments = stream(detokenizer, ids)
    assert_valid_text(segments)
    assert "".join(segments) == tokenizer.decode(ids) == detokenizer.text
    assert detokenizer.tokens == ids


def test_emoji_split_across_tokens_is_held_back(bpe_folder):
    tokenizer = tokenizer_utils.load(bpe_folder)
    ids = tokenizer.encode("😀")
    assert len(ids) == 4  # one token per byte: nothing in the corpus merges them
    detokenizer = tokenizer.detokenizer
    detokenizer.reset()
    emitted = []
    for token in ids:
        detokenizer.add_token(token)
        emitted.append(detokenizer.last_segment)
    assert emitted == ["", "", "", "😀"]


@pytest.mark.parametrize("text", ["hello world café", "hello 😀 日本", "héllo"])
def test_sentencepiece_streaming_matches_decode(spm_folder, text):
    tokenizer = tokenizer_utils.load(spm_folder)
    ids = tokenizer.encode(text)
    assert ids[0] == tokenizer.bos_token_id  # add_bos_token
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    detokenizer = tokenizer.detokenizer
    assert type(detokenizer).__name__ == "SPMStreamingDetokenizer"
    segments = stream(detokenizer, ids[1:])
    assert_valid_text(segments)
    assert "".join(segments) == text


@pytest.mark.parametrize("text", TEXTS)
def test_naive_detokenizer_never_emits_broken_text(bpe_folder, text):
    tokenizer = tokenizer_utils.load(bpe_folder)
    ids = tokenizer.encode(text)
    segments = stream(tokenizer_utils.NaiveStreamingDetokenizer(tokenizer), ids)
    assert_valid_text(segments)
    assert "".join(segments) == text


def test_eos_token_ids_gather_configs(tmp_path):
    tok, config = byte_level_tokenizer()
    folder = write_tokenizer_folder(tmp_path / "m", tok, config)
    im_end = tok.token_to_id("<|im_end|>")
    endoftext = tok.token_to_id("<|endoftext|>")
    assert tokenizer_utils.load(folder).eos_token_ids == {im_end}
    assert tokenizer_utils.load(folder, eos_token_ids=[endoftext, im_end]).eos_token_ids == {
        endoftext,
        im_end,
    }


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx merges generation_config/config eos ids while loading")
def test_eos_token_ids_from_generation_config(tmp_path):
    tok, config = byte_level_tokenizer()
    start = tok.token_to_id("<|im_start|>")
    endoftext = tok.token_to_id("<|endoftext|>")
    folder = write_tokenizer_folder(
        tmp_path / "m",
        tok,
        config,
        {"generation_config.json": {"eos_token_id": [endoftext]}, "config.json": {"eos_token_id": start}},
    )
    tokenizer = tokenizer_utils.load(folder)
    assert tokenizer.eos_token_ids == {endoftext, start, tok.token_to_id("<|im_end|>")}
    tokenizer.add_eos_token("<|endoftext|>")
    tokenizer.eos_token_ids = [endoftext]
    assert tokenizer.eos_token_ids == {endoftext}


def chatml_reference(messages, add_generation_prompt):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "héllo 😀"}]


def test_chat_template_from_tokenizer_config(bpe_folder):
    tokenizer = tokenizer_utils.load(bpe_folder)
    assert tokenizer.has_chat_template
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert text == chatml_reference(MESSAGES, True)
    ids = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=False)
    assert list(ids) == tokenizer.encode(chatml_reference(MESSAGES, False), add_special_tokens=False)
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")


def test_chat_template_from_jinja_file(tmp_path):
    tok, config = byte_level_tokenizer()
    del config["chat_template"]
    template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }}\n{% endfor %}"
    )
    folder = write_tokenizer_folder(tmp_path / "m", tok, config, {"chat_template.jinja": template})
    tokenizer = tokenizer_utils.load(folder)
    assert tokenizer.apply_chat_template(MESSAGES, tokenize=False) == "[SYSTEM] be brief\n[USER] héllo 😀\n"


def test_no_chat_template(tmp_path):
    tok, config = byte_level_tokenizer()
    del config["chat_template"]
    tokenizer = tokenizer_utils.load(write_tokenizer_folder(tmp_path / "m", tok, config))
    assert not tokenizer.has_chat_template
    with pytest.raises(ValueError):
        tokenizer.apply_chat_template(MESSAGES, tokenize=False)


def test_tokenizer_config_extra_overrides(bpe_folder):
    tokenizer = tokenizer_utils.load(bpe_folder, tokenizer_config_extra={"eos_token": "<|endoftext|>"})
    assert tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>")


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's in-memory constructor and argument checks")
def test_from_in_memory_tokenizer_and_bad_input(tmp_path):
    tok, config = byte_level_tokenizer()
    wrapper = tokenizer_utils.TokenizerWrapper.from_tokenizer(tok, config)
    loaded = tokenizer_utils.load(write_tokenizer_folder(tmp_path / "m", tok, config))
    for text in TEXTS:
        assert wrapper.encode(text) == loaded.encode(text)
    assert wrapper.eos_token_ids == loaded.eos_token_ids
    assert wrapper.apply_chat_template(MESSAGES, tokenize=False) == chatml_reference(MESSAGES, False)
    bare = tokenizer_utils.TokenizerWrapper(tok)
    assert bare.encode(TEXTS[1]) == loaded.encode(TEXTS[1]) and bare.decode(loaded.encode("hi")) == "hi"
    with pytest.raises(TypeError, match=r"\[Tokenizer\]"):
        tokenizer_utils.TokenizerWrapper.from_tokenizer("not a tokenizer", config)
    with pytest.raises(TypeError, match=r"\[Tokenizer.encode\]"):
        wrapper.encode(123)
    with pytest.raises(FileNotFoundError, match=r"tokenizer.json"):
        tokenizer_utils.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        detokenizer = wrapper.detokenizer
        detokenizer.add_token(10**6)


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with mlx_lm / transformers")
@pytest.mark.parametrize("maker", [byte_level_tokenizer, sentencepiece_tokenizer])
def test_matches_mlx_lm(tmp_path, maker):
    reference = pytest.importorskip("mlx_lm.tokenizer_utils")
    tok, config = maker()
    config = dict(config, chat_template=CHATML_TEMPLATE)
    folder = write_tokenizer_folder(tmp_path / "m", tok, config)
    ours, theirs = tokenizer_utils.load(folder), reference.load(folder)
    assert ours.eos_token_ids == theirs.eos_token_ids
    for text in TEXTS + ["<s> hello", "<|im_start|>user"]:
        ids = theirs.encode(text)
        assert ours.encode(text) == ids
        assert ours.decode(ids) == theirs.decode(ids)
        # segment boundaries may differ (mlx_lm's BPE waits for the next word); the text may not
        assert "".join(stream(ours.detokenizer, ids)) == "".join(stream(theirs.detokenizer, ids))
    for gen in (False, True):
        assert ours.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=gen) == (
            theirs.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=gen)
        )
    assert json.loads(json.dumps(ours.apply_chat_template(MESSAGES))) == list(
        theirs.apply_chat_template(MESSAGES)
    )
