"""Tokenizers for lmx.lm, with mlx_lm's ``TokenizerWrapper``, streaming detokenizers and ``load``.

A model folder's ``tokenizer.json`` is read with the ``tokenizers`` package; its
``tokenizer_config.json`` (special tokens, BOS handling, chat template) and
``chat_template.jinja`` complete it. ``Tokenizer`` offers the Hugging Face-style calls
generation code uses (encode, decode, apply_chat_template, ...); ``TokenizerWrapper`` adds
the end-of-sequence set and a streaming detokenizer, as mlx_lm's wrapper does.
"""

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

__all__ = [
    "BPEStreamingDetokenizer",
    "NaiveStreamingDetokenizer",
    "SPMStreamingDetokenizer",
    "StreamingDetokenizer",
    "Tokenizer",
    "TokenizerWrapper",
    "load",
]


# ---------------------------------------------------------------------------------------------
# UTF-8 helpers


def _utf8_length(lead):
    """Length of the UTF-8 sequence a lead byte announces (0 for a continuation/invalid byte)."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _split_incomplete_utf8(data: bytes):
    """(text of the complete part, bytes of a trailing sequence that may still be completed).

    Bytes that can never become valid UTF-8 are decoded as U+FFFD, as ``bytes.decode``
    with errors="replace" would; only a genuinely unfinished last character is held back.
    """
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if 0x80 <= byte <= 0xBF:  # continuation: keep looking for its lead byte
            continue
        need = _utf8_length(byte)
        if need > back:
            tail = data[-back:]
            # The tail is only worth waiting for if it is a valid prefix of some character.
            try:
                tail.decode("utf-8")
            except UnicodeDecodeError as e:
                if e.reason == "unexpected end of data":
                    return data[:-back].decode("utf-8", errors="replace"), tail
        break
    return data.decode("utf-8", errors="replace"), b""


@lru_cache(maxsize=1)
def _byte_level_decoder():
    """GPT-2's reversible map from the printable characters byte-level BPE uses back to bytes."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    )
    chars = {b: b for b in printable}
    shift = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + shift
            shift += 1
    return {chr(c): b for b, c in chars.items()}


def _clean_up_tokenization(text):
    """Hugging Face's clean-up of spaces before punctuation and English contractions."""
    for before, after in (
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ):  # fmt: skip
        text = text.replace(before, after)
    return text


# ---------------------------------------------------------------------------------------------
# Streaming detokenizers


class StreamingDetokenizer:
    """Turns tokens into text one at a time without ever emitting a broken character.

    ``text`` is everything decoded so far, ``last_segment`` the part not returned before,
    ``tokens`` the tokens added since ``reset``; ``finalize`` flushes what was held back.
    """

    def reset(self):
        raise NotImplementedError

    def add_token(self, token):
        raise NotImplementedError

    def finalize(self):
        raise NotImplementedError

    @property
    def last_segment(self):
        text = self.text
        segment = text[self.offset :]
        self.offset = len(text)
        return segment


class NaiveStreamingDetokenizer(StreamingDetokenizer):
    """Decodes the pending tokens with the tokenizer itself; works for any tokenizer.

    Text is held back while it ends in U+FFFD (an unfinished character) and committed at
    each newline so that decoding cost stays bounded by the line length.
    """

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.reset()

    def reset(self):
        self.offset = 0
        self.tokens = []
        self._committed = ""
        self._pending = []
        self._pending_text = ""

    def add_token(self, token):
        self._pending.append(token)
        self.tokens.append(token)

    def finalize(self):
        self._committed += self._tokenizer.decode(self._pending)
        self._pending = []
        self._pending_text = ""

    @property
    def text(self):
        if self._pending:
            decoded = self._tokenizer.decode(self._pending)
            if decoded.endswith("\n"):
                self._committed += decoded
                self._pending = []
                decoded = ""
            elif decoded.endswith("\ufffd"):
                return self._committed + self._pending_text
            self._pending_text = decoded
        return self._committed + self._pending_text


class _BytesStreamingDetokenizer(StreamingDetokenizer):
    """Shared machinery of detokenizers that map each token to bytes and join them."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self._bytes_of = tokenizer.token_bytes
        self.reset()

    def reset(self):
        self.offset = 0
        self.tokens = []
        self.text = ""
        self._unfinished = b""

    def _append_text(self, text):
        self.text += text

    def add_token(self, token):
        self.tokens.append(token)
        text, self._unfinished = _split_incomplete_utf8(self._unfinished + self._bytes_of(token))
        if text:
            self._append_text(text)

    def finalize(self):
        if self._unfinished:
            self._append_text(self._unfinished.decode("utf-8", errors="replace"))
            self._unfinished = b""


class SPMStreamingDetokenizer(_BytesStreamingDetokenizer):
    """SentencePiece vocabularies: "▁" is a space, "<0xNN>" pieces are raw bytes.

    With ``trim_space`` the space SentencePiece puts before the first word is dropped.
    """

    def __init__(self, tokenizer, trim_space=True):
        self.trim_space = trim_space
        super().__init__(tokenizer)

    def _append_text(self, text):
        if not self.text and self.trim_space and text.startswith(" "):
            text = text[1:]
        self.text += text


class BPEStreamingDetokenizer(_BytesStreamingDetokenizer):
    """Byte-level BPE vocabularies (GPT-2, Llama 3, Qwen ...): each piece spells raw bytes."""

    def __init__(self, tokenizer):
        self.clean_spaces = bool(getattr(tokenizer, "clean_up_tokenization_spaces", False))
        super().__init__(tokenizer)

    def _append_text(self, text):
        self.text += text
        if self.clean_spaces:
            # punctuation may arrive in a later token than its space: clean the whole text
            self.text = _clean_up_tokenization(self.text)


# ---------------------------------------------------------------------------------------------
# Tokenizer: tokenizers.Tokenizer + tokenizer_config.json


def _token_content(value):
    """The string of a special-token entry of tokenizer_config.json (a string or an AddedToken dict)."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def _raise_exception(message):
    from jinja2.exceptions import TemplateError

    raise TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


@lru_cache(maxsize=16)
def _compile_template(source):
    # Same environment as Hugging Face's apply_chat_template: a sandbox, trimmed blocks,
    # loop controls, tojson and the two helper functions templates call.
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


class Tokenizer:
    """A ``tokenizers.Tokenizer`` with the Hugging Face-style methods lmx.lm calls.

    ``config`` is a tokenizer_config.json dict: bos/eos/unk/pad tokens, add_bos_token,
    add_eos_token, clean_up_tokenization_spaces, chat_template.
    """

    def __init__(self, tokenizer, config: Optional[Dict[str, Any]] = None, name_or_path: str = ""):
        try:
            from tokenizers import Tokenizer as RawTokenizer
        except ImportError as e:  # pragma: no cover - dependency declared in pyproject
            raise ImportError(
                "[Tokenizer] The 'tokenizers' package is required: pip install tokenizers"
            ) from e
        if not isinstance(tokenizer, RawTokenizer):
            raise TypeError(f"[Tokenizer] Expected a tokenizers.Tokenizer, got {type(tokenizer).__name__}.")
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"[Tokenizer] config must be a dict, got {type(config).__name__}.")
        self._tokenizer = tokenizer
        self.config = dict(config or {})
        self.name_or_path = name_or_path
        self.chat_template = self.config.get("chat_template")
        self.clean_up_tokenization_spaces = bool(self.config.get("clean_up_tokenization_spaces", False))
        self._added = {i: t.content for i, t in tokenizer.get_added_tokens_decoder().items()}
        self._special_ids = {i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special}
        for name in ("bos", "eos", "unk", "pad"):
            token = _token_content(self.config.get(f"{name}_token"))
            token_id = self.config.get(f"{name}_token_id")
            if token is None and token_id is not None:
                token = tokenizer.id_to_token(token_id)
            elif token is not None and token_id is None:
                token_id = tokenizer.token_to_id(token)
            setattr(self, f"{name}_token", token)
            setattr(self, f"{name}_token_id", token_id)
        self._decoder_type = self._describe_decoder()

    @property
    def backend_tokenizer(self):
        return self._tokenizer

    @property
    def vocab_size(self):
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self):
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self):
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def vocab(self):
        return self.get_vocab()

    @property
    def all_special_ids(self):
        ids = set(self._special_ids)
        ids.update(getattr(self, f"{n}_token_id") for n in ("bos", "eos", "unk", "pad"))
        ids.discard(None)
        return sorted(ids)

    @property
    def all_special_tokens(self):
        return [self._tokenizer.id_to_token(i) for i in self.all_special_ids]

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self._tokenizer.token_to_id(tokens)
        return [self._tokenizer.token_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        return [self._tokenizer.id_to_token(i) for i in ids]

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        if not isinstance(text, str):
            raise TypeError(f"[Tokenizer.encode] Expected a string, got {type(text).__name__}.")
        ids = self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids
        if add_special_tokens:
            # tokenizer_config's add_bos/add_eos_token hold even without a post-processor.
            bos, eos = self.bos_token_id, self.eos_token_id
            if self.config.get("add_bos_token") and bos is not None and (not ids or ids[0] != bos):
                ids = [bos] + ids
            if self.config.get("add_eos_token") and eos is not None and (not ids or ids[-1] != eos):
                ids = ids + [eos]
        return ids

    def __call__(self, text, add_special_tokens: bool = True):
        if isinstance(text, str):
            return {"input_ids": self.encode(text, add_special_tokens)}
        return {"input_ids": [self.encode(t, add_special_tokens) for t in text]}

    def decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces=None) -> str:
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        elif hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        text = self._tokenizer.decode(list(token_ids), skip_special_tokens=skip_special_tokens)
        clean = (
            self.clean_up_tokenization_spaces
            if clean_up_tokenization_spaces is None
            else clean_up_tokenization_spaces
        )
        return _clean_up_tokenization(text) if clean else text

    def batch_decode(self, sequences, skip_special_tokens: bool = False):
        return [self.decode(s, skip_special_tokens=skip_special_tokens) for s in sequences]

    # -- streaming support -----------------------------------------------------------------

    def _describe_decoder(self):
        """ "bpe", "spm" (with or without a leading-space strip) or "other", from tokenizer.json's decoder."""
        decoder = json.loads(self._tokenizer.to_str()).get("decoder") or {}
        kinds = (
            [d.get("type") for d in decoder.get("decoders", [])] if decoder.get("type") == "Sequence" else []
        )
        if decoder.get("type") == "ByteLevel" or "ByteLevel" in kinds:
            return "bpe"
        replaces_space = any(
            d.get("type") == "Replace"
            and d.get("content") == " "
            and "▁" in json.dumps(d.get("pattern"), ensure_ascii=False)
            for d in decoder.get("decoders", [])
        )
        if replaces_space or decoder.get("type") == "Metaspace" or "Metaspace" in kinds:
            strips = any(
                d.get("type") == "Strip" and d.get("start", 0) > 0 for d in decoder.get("decoders", [])
            )
            return "spm-trim" if strips or decoder.get("type") == "Metaspace" else "spm"
        return "other"

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes a token stands for, as the streaming detokenizers join them."""
        table = self.__dict__.get("_bytes_table")
        if table is None:
            table = self.__dict__["_bytes_table"] = {}
        cached = table.get(token_id)
        if cached is not None:
            return cached
        piece = self._tokenizer.id_to_token(token_id)
        if piece is None:
            raise ValueError(
                f"[Tokenizer] Token id {token_id} is outside the vocabulary of {len(self)} tokens."
            )
        if token_id in self._added:
            data = self._added[token_id].encode("utf-8")
        elif self._decoder_type == "bpe":
            byte_of = _byte_level_decoder()
            data = b"".join(bytes([byte_of[c]]) if c in byte_of else c.encode("utf-8") for c in piece)
        elif self._decoder_type.startswith("spm"):
            if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                data = bytes([int(piece[3:5], 16)])
            else:
                data = piece.replace("▁", " ").encode("utf-8")
        else:
            data = self._tokenizer.decode([token_id], skip_special_tokens=False).encode("utf-8")
        table[token_id] = data
        return data

    def default_detokenizer(self):
        """The streaming detokenizer that suits this vocabulary."""
        if self._decoder_type == "bpe":
            return BPEStreamingDetokenizer(self)
        if self._decoder_type.startswith("spm"):
            return SPMStreamingDetokenizer(self, trim_space=self._decoder_type == "spm-trim")
        return NaiveStreamingDetokenizer(self)

    # -- chat templates -----------------------------------------------------------------------

    def _select_template(self, chat_template=None, tools=None):
        template = chat_template if chat_template is not None else self.chat_template
        if isinstance(template, list):  # [{"name": ..., "template": ...}, ...]
            named = {t["name"]: t["template"] for t in template}
            template = named.get("tool_use") if tools and "tool_use" in named else named.get("default")
        elif isinstance(template, dict):
            template = (
                template.get("tool_use") if tools and "tool_use" in template else template.get("default")
            )
        if template is None:
            raise ValueError(
                "[apply_chat_template] This tokenizer has no chat template; "
                "pass chat_template= or use the raw prompt."
            )
        return template

    def apply_chat_template(
        self,
        conversation,
        tools: Optional[List[Any]] = None,
        documents: Optional[List[Any]] = None,
        chat_template: Optional[str] = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool = False,
        tokenize: bool = True,
        return_dict: bool = False,
        **kwargs,
    ):
        """Render ``conversation`` (a list of {"role", "content"} dicts) with the Jinja chat template.

        Returns the token ids (``tokenize=True``, without adding special tokens again) or the text.
        """
        if not isinstance(conversation, (list, tuple)) or not all(isinstance(m, dict) for m in conversation):
            raise TypeError("[apply_chat_template] conversation must be a list of message dicts.")
        if add_generation_prompt and continue_final_message:
            raise ValueError(
                "[apply_chat_template] add_generation_prompt and continue_final_message are exclusive."
            )
        template = _compile_template(self._select_template(chat_template, tools))
        variables = {
            "bos_token": self.bos_token or "",
            "eos_token": self.eos_token or "",
            "unk_token": self.unk_token or "",
            "pad_token": self.pad_token or "",
        }
        variables.update(kwargs)
        text = template.render(
            messages=list(conversation),
            tools=tools,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
            **variables,
        )
        if continue_final_message:
            final = conversation[-1].get("content")
            if isinstance(final, str) and final.strip() in text:
                # cut after the final message so generation continues it
                end = text.rindex(final.strip()) + len(final.strip())
                text = text[:end]
        if not tokenize:
            return text
        ids = self.encode(text, add_special_tokens=False)
        return {"input_ids": ids} if return_dict else ids


# ---------------------------------------------------------------------------------------------
# TokenizerWrapper


class TokenizerWrapper:
    """mlx_lm's wrapper: the tokenizer's methods plus ``eos_token_ids``, ``detokenizer`` and
    chat-template helpers. Unknown attributes are looked up on the wrapped tokenizer."""

    def __init__(
        self,
        tokenizer,
        detokenizer_class=None,
        eos_token_ids: Optional[Union[int, Iterable[int]]] = None,
        chat_template=None,
        tool_call_start=None,
        tool_call_end=None,
        tool_parser=None,
        response_format: Optional[Dict[str, Any]] = None,
    ):
        if type(tokenizer).__module__.startswith("tokenizers"):
            tokenizer = Tokenizer(tokenizer)  # a bare tokenizers.Tokenizer gets the HF-style methods
        self._tokenizer = tokenizer
        self._detokenizer_class = detokenizer_class
        if isinstance(eos_token_ids, int):
            eos_token_ids = [eos_token_ids]
        if eos_token_ids is None:
            eos = getattr(tokenizer, "eos_token_id", None)
            eos_token_ids = [] if eos is None else [eos]
        self._eos_token_ids = set(eos_token_ids)
        if chat_template is not None:
            tokenizer.chat_template = chat_template
        self._tool_parser = tool_parser
        self._tool_call_start = tool_call_start
        self._tool_call_end = tool_call_end
        self._response_format = response_format
        vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
        self._think_start = "<think>" if "<think>" in vocab and "</think>" in vocab else None
        self._think_end = "</think>" if self._think_start else None

    @classmethod
    def from_tokenizer(
        cls, tokenizer, config: Optional[Dict[str, Any]] = None, eos_token_ids=None, name_or_path=""
    ):
        """Wrap an in-memory ``tokenizers.Tokenizer`` described by a tokenizer_config-style dict."""
        return cls(Tokenizer(tokenizer, config, name_or_path=name_or_path), eos_token_ids=eos_token_ids)

    def add_eos_token(self, token: Union[int, str]):
        """Also stop at ``token`` (an id or a token string)."""
        token_id = token
        if isinstance(token, str):
            token_id = self._tokenizer.convert_tokens_to_ids(token)
            if token_id is None:
                raise ValueError(f"[TokenizerWrapper.add_eos_token] Unknown token {token!r}.")
        self._eos_token_ids.add(token_id)

    @property
    def eos_token_ids(self):
        return self._eos_token_ids

    @eos_token_ids.setter
    def eos_token_ids(self, value):
        self._eos_token_ids = {value} if isinstance(value, int) else set(value)

    @property
    def detokenizer(self):
        """A fresh streaming detokenizer for this tokenizer."""
        if self._detokenizer_class is not None:
            return self._detokenizer_class(self._tokenizer)
        if hasattr(self._tokenizer, "default_detokenizer"):
            return self._tokenizer.default_detokenizer()
        return NaiveStreamingDetokenizer(self._tokenizer)

    @property
    def has_chat_template(self):
        return getattr(self._tokenizer, "chat_template", None) is not None

    @property
    def has_thinking(self):
        return self._think_start is not None

    @property
    def think_start(self):
        return self._think_start

    @property
    def think_end(self):
        return self._think_end

    @property
    def has_tool_calling(self):
        return self._tool_call_start is not None

    @property
    def tool_call_start(self):
        return self._tool_call_start

    @property
    def tool_call_end(self):
        return self._tool_call_end

    @property
    def tool_parser(self):
        return self._tool_parser

    def __getattr__(self, name):
        # only reached for names the wrapper lacks; _tokenizer itself is a normal attribute
        if name == "_tokenizer":
            raise AttributeError(name)
        return getattr(self._tokenizer, name)

    def __setattr__(self, name, value):
        if name.startswith("_") or name in type(self).__dict__:
            super().__setattr__(name, value)
        else:
            setattr(self._tokenizer, name, value)

    def __len__(self):
        return len(self._tokenizer)

    def __call__(self, *args, **kwargs):
        return self._tokenizer(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# load


def _read_json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _ids(value):
    if value is None:
        return []
    return [value] if isinstance(value, int) else [v for v in value if isinstance(v, int)]


def load(
    model_path,
    tokenizer_config_extra: Optional[Dict[str, Any]] = None,
    eos_token_ids=None,
    defaults: Optional[Dict[str, Any]] = None,
):
    """The TokenizerWrapper of a model folder (tokenizer.json + tokenizer_config.json).

    ``defaults`` fill tokenizer_config entries the folder lacks; ``tokenizer_config_extra``
    overrides them.

    The end-of-sequence set gathers the tokenizer's eos token, ``eos_token_id`` of
    generation_config.json and config.json, and ``eos_token_ids``.
    """
    try:
        from tokenizers import Tokenizer as RawTokenizer
    except ImportError as e:  # pragma: no cover
        raise ImportError(
            "[tokenizer_utils.load] The 'tokenizers' package is required: pip install tokenizers"
        ) from e
    model_path = Path(model_path)
    tokenizer_file = model_path / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise FileNotFoundError(f"[tokenizer_utils.load] No tokenizer.json in {model_path}.")
    raw = RawTokenizer.from_file(str(tokenizer_file))

    config = dict(defaults or {})
    if (model_path / "tokenizer_config.json").is_file():
        config.update(_read_json(model_path / "tokenizer_config.json"))
    if (model_path / "chat_template.jinja").is_file():
        config["chat_template"] = (model_path / "chat_template.jinja").read_text(encoding="utf-8")
    elif (model_path / "chat_template.json").is_file():
        config["chat_template"] = _read_json(model_path / "chat_template.json").get("chat_template")
    if (model_path / "special_tokens_map.json").is_file():
        for name, value in _read_json(model_path / "special_tokens_map.json").items():
            config.setdefault(name, value)
    config.update(tokenizer_config_extra or {})
    tokenizer = Tokenizer(raw, config, name_or_path=str(model_path))

    eos = set(_ids(eos_token_ids))
    for extra in ("generation_config.json", "config.json"):
        if (model_path / extra).is_file():
            eos.update(_ids(_read_json(model_path / extra).get("eos_token_id")))
    if tokenizer.eos_token_id is not None:
        eos.add(tokenizer.eos_token_id)
    return TokenizerWrapper(tokenizer, eos_token_ids=eos)
