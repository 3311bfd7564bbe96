"""Synthetic llama.cpp GGUF files for the lmx.lm tests: a tiny llama with random weights
written with the `gguf` package as llama.cpp's converter would (Q/K rows permuted,
matrices quantized), with a byte-level BPE or SentencePiece vocabulary."""

import gguf
import lmx.core as mx
import numpy as np

Q = gguf.GGMLQuantizationType

# Tiny llama: 4 query heads and 2 key/value heads of 16 dimensions.
DIMS = {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 96, "rope_theta": 10000.0, "eps": 1e-5}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("Ġ", "Ġ"),
          ("o", "n"), ("Ġa", "n"), ("Ġan", "d"), ("1", "2"), ("Ã", "©")]  # fmt: skip
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEXTS = [
    "the answer and the question",
    "Hello world! 12345 and 1212",
    "naïve café — 日本語 🙂\n\n  tabs\tand   spaces ",
    "<|im_start|>user\nhi<|im_end|>\n",
    "",
]


def byte_alphabet():
    """GPT-2's byte -> printable character table used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def bpe_vocabulary():
    tokens = SPECIALS + [byte_alphabet()[b] for b in range(256)]
    for left, right in MERGES:
        tokens.append(left + right)
    types = [3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS))
    return tokens, types, [f"{a} {b}" for a, b in MERGES]


def spm_vocabulary():
    """A small SentencePiece vocabulary: specials, 256 byte pieces, scored pieces."""
    pieces = ["▁", "a", "b", "c", "t", "h", "e", "▁t", "he", "▁the", "ab", "▁a", "▁ab", "abc", "cab"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    scores = [0.0] * (3 + 256) + [-float(i) for i in range(len(pieces))]
    return tokens, types, scores


def llamacpp_permute(rows, heads):
    """Row order llama.cpp's converter gives a Q/K projection (for interleaved rotary)."""
    index = np.arange(rows)
    return index.reshape(heads, 2, rows // heads // 2).swapaxes(1, 2).reshape(rows)


def random_hf_weights(rng, vocab, tied):
    d, h, kv, f = DIMS["hidden"], DIMS["heads"], DIMS["kv_heads"], DIMS["ffn"]
    hd = d // h

    def w(*shape):
        return rng.normal(0, 0.5 / np.sqrt(shape[-1]), shape).astype(np.float32)

    weights = {"model.embed_tokens.weight": w(vocab, d), "model.norm.weight": 1 + w(d) * 0.1}
    if not tied:
        weights["lm_head.weight"] = w(vocab, d)
    for i in range(DIMS["layers"]):
        p = f"model.layers.{i}."
        weights.update({
            p + "self_attn.q_proj.weight": w(h * hd, d), p + "self_attn.k_proj.weight": w(kv * hd, d),
            p + "self_attn.v_proj.weight": w(kv * hd, d), p + "self_attn.o_proj.weight": w(d, h * hd),
            p + "mlp.gate_proj.weight": w(f, d), p + "mlp.up_proj.weight": w(f, d),
            p + "mlp.down_proj.weight": w(d, f),
            p + "input_layernorm.weight": 1 + w(d) * 0.1, p + "post_attention_layernorm.weight": 1 + w(d) * 0.1,
        })  # fmt: skip
    return weights


GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
              "post_attention_layernorm": "ffn_norm"}  # fmt: skip


def gguf_name(hf_name):
    base = hf_name[: -len(".weight")]
    top = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
    if base in top:
        return top[base] + ".weight"
    _, _, layer, module = base.split(".", 3)
    return f"blk.{layer}.{GGUF_NAMES[module]}.weight"


def write_llama_gguf(path, hf_weights, qtype, *, tokenizer="gpt2", pre="smollm", arch="llama", add_bos=None):
    """Writes `hf_weights` as a llama.cpp llama GGUF (Q/K rows permuted as its converter
    does, matrices stored as `qtype`). Returns the dequantised weights in HF order."""
    writer = gguf.GGUFWriter(path, arch)
    d, h = DIMS["hidden"], DIMS["heads"]
    writer.add_context_length(256)
    writer.add_embedding_length(d)
    writer.add_block_count(DIMS["layers"])
    writer.add_feed_forward_length(DIMS["ffn"])
    writer.add_head_count(h)
    writer.add_head_count_kv(DIMS["kv_heads"])
    writer.add_rope_dimension_count(d // h)
    writer.add_rope_freq_base(DIMS["rope_theta"])
    writer.add_layer_norm_rms_eps(DIMS["eps"])
    if tokenizer == "gpt2":
        tokens, types, merges = bpe_vocabulary()
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(pre)
        writer.add_token_merges(merges)
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
        writer.add_chat_template(CHAT_TEMPLATE)
    else:
        tokens, types, scores = spm_vocabulary()
        writer.add_tokenizer_model("llama")
        writer.add_token_scores(scores)
        writer.add_unk_token_id(0)
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
    if add_bos is not None:
        writer.add_add_bos_token(add_bos)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_vocab_size(len(tokens))

    dequantised = {}
    for name, value in hf_weights.items():
        if ".q_proj." in name or ".k_proj." in name:
            heads = h if ".q_proj." in name else DIMS["kv_heads"]
            order = llamacpp_permute(value.shape[0], heads)
        else:
            order = np.arange(value.shape[0])
        stored = value[order]
        if value.ndim == 2 and qtype != Q.F32:
            packed = gguf.quants.quantize(stored, qtype)
            writer.add_tensor(gguf_name(name), packed, raw_shape=packed.shape, raw_dtype=qtype)
            restored = np.empty_like(stored)
            restored[order] = gguf.quants.dequantize(packed, qtype)
        else:
            writer.add_tensor(gguf_name(name), stored)
            restored = value
        dequantised[name] = restored
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dequantised


def reference_model(dequantised):
    """The lmx.lm llama of the same configuration with plain float32 weights."""
    from lmx.lm.models import llama

    config = {
        "model_type": "llama", "hidden_size": DIMS["hidden"], "num_hidden_layers": DIMS["layers"],
        "intermediate_size": DIMS["ffn"], "num_attention_heads": DIMS["heads"],
        "num_key_value_heads": DIMS["kv_heads"], "rms_norm_eps": DIMS["eps"], "rope_theta": DIMS["rope_theta"],
        "vocab_size": dequantised["model.embed_tokens.weight"].shape[0],
        "tie_word_embeddings": "lm_head.weight" not in dequantised,
    }  # fmt: skip
    model = llama.Model(llama.ModelArgs.from_dict(config))
    model.load_weights([(k, mx.array(v)) for k, v in dequantised.items()])
    return model


def make_tiny_gguf(directory, rng, qtype, tied=True, **kwargs):
    """(path, dequantised HF weights) of a tiny llama GGUF written under `directory`."""
    spm = kwargs.get("tokenizer", "gpt2") != "gpt2"
    vocab = len(spm_vocabulary()[0] if spm else bpe_vocabulary()[0])
    weights = random_hf_weights(rng, vocab, tied)
    path = str(directory / f"tiny-{qtype.name}-{tied}-{kwargs.get('tokenizer', 'gpt2')}.gguf")
    return path, write_llama_gguf(path, weights, qtype, **kwargs)


# token ids inside both vocabularies
TOKENS = [[5, 80, 77, 74, 3, 261, 270, 99, 100, 101, 33, 2]]


def llama_cpp_model(path, **kwargs):
    """llama_cpp.Llama on `path` without llama.cpp's extra CPU buffer types: its AMX
    kernels crash (SIGSEGV) on virtual machines that advertise AMX but do not enable it."""
    import llama_cpp
    from llama_cpp import llama_cpp as low_level

    default_params = low_level.llama_model_default_params

    def without_extra_buffers():
        params = default_params()
        params.use_extra_bufts = False
        return params

    low_level.llama_model_default_params = without_extra_buffers
    try:
        return llama_cpp.Llama(model_path=path, verbose=False, **kwargs)
    finally:
        low_level.llama_model_default_params = default_params
