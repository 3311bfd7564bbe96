"""Rebuild a llama.cpp GGUF file's tokenizer with the ``tokenizers`` package.

Two tokenizer models are supported, as llama.cpp names them in ``tokenizer.ggml.model``:
"gpt2" (byte-level BPE: tokens + merges, with the pre-tokenizer regexes llama.cpp
uses for ``tokenizer.ggml.pre``) and "llama" (SentencePiece BPE: tokens + scores with
byte fallback). Control tokens become special tokens; user-defined ones are matched
verbatim in the text as llama.cpp does.
"""

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

__all__ = ["build_raw_tokenizer", "build_tokenizer"]

# llama.cpp's token types (tokenizer.ggml.token_type)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3 = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = _LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
_DIGIT = r"\p{N}"
# llama.cpp's fallback for files without a known pre-tokenizer name
_DEFAULT = (r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]")

# tokenizer.ggml.pre -> (regexes applied in turn, BPE ignore_merges), after llama.cpp's table.
_PRE_TOKENIZERS = {
    "default": (_DEFAULT, False),
    **{name: ((_GPT2,), False) for name in ("gpt-2", "mpt", "olmo", "jais", "trillion")},
    **{
        name: ((_DIGIT, _GPT2), False)
        for name in ("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b")
    },
    **{name: ((_LLAMA3,), True) for name in ("llama3", "llama-bpe", "llama-v3", "dbrx", "smaug-bpe")},
    **{name: ((_QWEN2,), False) for name in ("qwen2", "stablelm2", "deepseek-r1-qwen", "hunyuan")},
}


def _token_list(metadata, key, required=True):
    value = metadata.get(key)
    if value is None:
        if required:
            raise ValueError(f"[load_gguf_model] The GGUF metadata lacks '{key}' needed for the tokenizer.")
        return None
    return value if isinstance(value, list) else value.tolist()


def _token_id(metadata, name, size):
    value = metadata.get(f"tokenizer.ggml.{name}_token_id")
    if value is None:
        return None
    value = int(value.item() if hasattr(value, "item") else value)
    if not 0 <= value < size:
        raise ValueError(
            f"[load_gguf_model] tokenizer.ggml.{name}_token_id {value} is outside the vocabulary."
        )
    return value


def _flag(metadata, key, default):
    value = metadata.get(key)
    return default if value is None else bool(value.item() if hasattr(value, "item") else value)


def _byte_level_bpe(metadata, tokens):
    pre = metadata.get("tokenizer.ggml.pre", "default")
    if pre not in _PRE_TOKENIZERS:
        raise ValueError(
            f"[load_gguf_model] Unsupported GGUF pre-tokenizer '{pre}' (tokenizer.ggml.pre); supported: "
            f"{', '.join(sorted(_PRE_TOKENIZERS))}."
        )
    regexes, ignore_merges = _PRE_TOKENIZERS[pre]
    merges = []
    for merge in _token_list(metadata, "tokenizer.ggml.merges"):
        left, space, right = merge.partition(" ")
        if not space:
            raise ValueError(f"[load_gguf_model] Malformed BPE merge {merge!r} in tokenizer.ggml.merges.")
        merges.append((left, right))
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab, merges, ignore_merges=ignore_merges))
    splits = [pre_tokenizers.Split(Regex(regex), behavior="isolated") for regex in regexes]
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _sentencepiece_merges(tokens, scores, types):
    """BPE merges equivalent to SentencePiece's score-ordered merging: every split of a
    vocabulary piece into two pieces, ordered by the merged piece's score."""
    index = {token: i for i, token in enumerate(tokens) if types[i] in (NORMAL, USER_DEFINED, UNUSED)}
    merges = []
    for token, i in index.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in index and right in index:
                merges.append((-scores[i], index[left], index[right], left, right))
    merges.sort()
    return [(left, right) for *_, left, right in merges]


def _sentencepiece_bpe(metadata, tokens, types):
    scores = _token_list(metadata, "tokenizer.ggml.scores")
    if len(scores) != len(tokens):
        raise ValueError(
            "[load_gguf_model] tokenizer.ggml.scores and tokenizer.ggml.tokens differ in length."
        )
    unk = _token_id(metadata, "unknown", len(tokens))
    vocab = {token: index for index, token in enumerate(tokens)}
    model = models.BPE(
        vocab,
        _sentencepiece_merges(tokens, scores, types),
        unk_token=None if unk is None else tokens[unk],
        byte_fallback=BYTE in types,
        fuse_unk=True,
    )
    tokenizer = Tokenizer(model)
    steps = [normalizers.Replace(" ", "\u2581")]
    if _flag(metadata, "tokenizer.ggml.add_space_prefix", True):
        steps.insert(0, normalizers.Prepend("\u2581"))
        strip = [decoders.Strip(" ", 1, 0)]
    else:
        strip = []
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), *strip]
    )
    return tokenizer


def build_raw_tokenizer(metadata):
    """(tokenizers.Tokenizer, config) from GGUF metadata; config holds the special tokens,
    ``add_bos_token``/``add_eos_token`` and the chat template as tokenizer_config.json would."""
    kind = metadata.get("tokenizer.ggml.model")
    tokens = _token_list(metadata, "tokenizer.ggml.tokens")
    types = _token_list(metadata, "tokenizer.ggml.token_type", required=False) or [NORMAL] * len(tokens)
    if len(types) != len(tokens):
        raise ValueError(
            "[load_gguf_model] tokenizer.ggml.token_type and tokenizer.ggml.tokens differ in length."
        )
    if kind == "gpt2":
        tokenizer = _byte_level_bpe(metadata, tokens)
    elif kind == "llama":
        tokenizer = _sentencepiece_bpe(metadata, tokens, types)
    else:
        raise ValueError(
            f"[load_gguf_model] Unsupported GGUF tokenizer model {kind!r} (tokenizer.ggml.model); "
            "supported: 'gpt2', 'llama'."
        )

    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t, k in zip(tokens, types) if k == USER_DEFINED]
    )
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types) if k == CONTROL]
    )

    config = {}
    for name in ("bos", "eos", "unk", "pad"):
        token_id = _token_id(metadata, {"unk": "unknown", "pad": "padding"}.get(name, name), len(tokens))
        if token_id is not None:
            config[f"{name}_token"] = tokens[token_id]
            config[f"{name}_token_id"] = token_id
    config["add_bos_token"] = _flag(metadata, "tokenizer.ggml.add_bos_token", kind == "llama")
    config["add_eos_token"] = _flag(metadata, "tokenizer.ggml.add_eos_token", False)
    template = metadata.get("tokenizer.chat_template")
    if isinstance(template, str):
        config["chat_template"] = template

    added = [name for name in ("bos", "eos") if config[f"add_{name}_token"] and f"{name}_token" in config]
    if added:
        before = "bos" in added
        after = "eos" in added
        parts = ([config["bos_token"]] if before else []), ([config["eos_token"]] if after else [])
        single = [*parts[0], "$A:0", *parts[1]]
        pair = single + [*parts[0], "$B:1", *parts[1]]
        specials = [(config[f"{name}_token"], config[f"{name}_token_id"]) for name in added]
        tokenizer.post_processor = processors.TemplateProcessing(
            single=" ".join(single), pair=" ".join(pair), special_tokens=specials
        )
    return tokenizer, config


def build_tokenizer(metadata, tokenizer_config=None):
    """The lmx.lm TokenizerWrapper of a GGUF file's tokenizer."""
    from lmx.lm.tokenizer_utils import TokenizerWrapper

    tokenizer, config = build_raw_tokenizer(metadata)
    for key in tokenizer_config or {}:
        # a token given by name replaces the file's id for it
        if key.endswith("_token") and f"{key}_id" not in tokenizer_config:
            config.pop(f"{key}_id", None)
    config.update(tokenizer_config or {})
    return TokenizerWrapper.from_tokenizer(tokenizer, config)
