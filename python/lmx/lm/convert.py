"""Convert a Hugging Face model folder or a llama.cpp GGUF file to an mlx_lm folder.

The output folder (config.json with its "quantization" entry when quantized,
model*.safetensors, tokenizer files) loads with ``lmx.lm.load`` and with ``mlx_lm.load``.

    python -m lmx.lm.convert --hf-path PATH --mlx-path OUT [-q --q-bits 4 --q-group-size 64]
    python -m lmx.lm.convert --gguf FILE.gguf --mlx-path OUT [-d] [--dtype float16]

A GGUF file keeps its own quantization (group size 32, 4 or 8 bits per layer) unless
``--dequantize`` or ``-q`` (dequantise, then quantize anew) is given.
"""

import argparse
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import lmx.core as mx

__all__ = ["convert", "gguf_quantization_config", "main", "save_gguf_tokenizer"]

DTYPES = ("float16", "bfloat16", "float32")
Q_MODES = ("affine", "mxfp4", "nvfp4", "mxfp8")
# Files of a Hugging Face folder that describe its tokenizer, copied as they are.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "tokenizer.model", "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json",
    "generation_config.json",
)  # fmt: skip


def _utils():
    from lmx.lm import utils

    return utils


def gguf_quantization_config(quantization):
    """mlx_lm's "quantization" entry for per-layer GGUF quantization: the most common
    (group_size, bits) at the top, layers quantized otherwise listed with their own."""
    common = Counter((q["group_size"], q["bits"]) for q in quantization.values()).most_common(1)[0][0]
    default = {"group_size": common[0], "bits": common[1]}
    overrides = {path: q for path, q in quantization.items() if q != default}
    return {**default, "mode": "affine", **overrides}


def _dequantize_weights(weights, quantization, dtype):
    """Weights dict with every quantized layer's triplet replaced by its float matrix."""
    plain = {}
    for name, value in weights.items():
        module, _, suffix = name.rpartition(".")
        if module in quantization:
            if suffix in ("scales", "biases"):
                continue
            if suffix == "weight":
                # dequantise in float32 (float16 would round w = scale * q + bias), then back
                # to the scales' type unless a dtype is asked for later
                q, scales = quantization[module], weights[f"{module}.scales"]
                biases = weights.get(f"{module}.biases")
                value = mx.dequantize(
                    value, scales.astype(mx.float32), None if biases is None else biases.astype(mx.float32),
                    group_size=q["group_size"], bits=q["bits"],
                )  # fmt: skip
                if dtype is None or dtype != mx.float32:
                    value = value.astype(scales.dtype)
        plain[name] = value
    return plain


def _cast_floating(weights, dtype, quantization):
    """Floating weights other than quantization scales/biases cast to ``dtype``."""
    out = {}
    for name, value in weights.items():
        module, _, suffix = name.rpartition(".")
        quant_part = module in quantization and suffix in ("scales", "biases")
        if not quant_part and mx.issubdtype(value.dtype, mx.floating):
            value = value.astype(dtype)
        out[name] = value
    return out


def save_gguf_tokenizer(metadata, mlx_path, model_max_length=None):
    """Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json for the
    GGUF file's tokenizer (loadable by the tokenizers package and transformers)."""
    from lmx.lm.gguf_tokenizer import build_raw_tokenizer

    tokenizer, config = build_raw_tokenizer(metadata)
    mlx_path = Path(mlx_path)
    tokenizer.save(str(mlx_path / "tokenizer.json"))
    specials = {
        f"{n}_token": config[f"{n}_token"] for n in ("bos", "eos", "unk", "pad") if f"{n}_token" in config
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "add_bos_token": config["add_bos_token"],
        "add_eos_token": config["add_eos_token"],
        "clean_up_tokenization_spaces": False,
    }
    if model_max_length:
        tokenizer_config["model_max_length"] = model_max_length
    if "chat_template" in config:
        tokenizer_config["chat_template"] = config["chat_template"]
    with open(mlx_path / "tokenizer_config.json", "w") as f:
        json.dump(tokenizer_config, f, indent=2, ensure_ascii=False)
    with open(mlx_path / "special_tokens_map.json", "w") as f:
        json.dump(specials, f, indent=2, ensure_ascii=False)


def _gguf_model(gguf_path, dtype, dequantize):
    """(model, config, metadata) of a GGUF file; quantized layers kept unless ``dequantize``."""
    from lmx.lm import gguf

    tensors, metadata = gguf.read_gguf(gguf_path)
    config = gguf.model_config_from_metadata(metadata, tensors)
    weights, quantization = gguf.gguf_to_hf(tensors, config)
    if dequantize:
        weights = _dequantize_weights(weights, quantization, dtype and getattr(mx, dtype))
        quantization = {}
    if dtype is not None:
        weights = _cast_floating(weights, getattr(mx, dtype), quantization)
    model = gguf.build_model(config, weights, quantization)
    if quantization:
        config["quantization"] = gguf_quantization_config(quantization)
        config["quantization_config"] = config["quantization"]
    config["torch_dtype"] = dtype or "float16"
    return model, config, metadata


def _hf_model(hf_path, dtype, dequantize):
    utils = _utils()
    model, config = utils.load_model(Path(hf_path), lazy=True)
    if dequantize:
        if "quantization" not in config:
            raise ValueError("[convert] --dequantize was given but the model is not quantized.")
        if not hasattr(utils, "dequantize_model"):
            raise ValueError("[convert] Dequantizing a Hugging Face / MLX folder is not supported yet.")
        model = utils.dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    if dtype is not None:
        model.set_dtype(getattr(mx, dtype))
        config["torch_dtype"] = dtype
    return model, config


def convert(
    hf_path=None,
    mlx_path="mlx_model",
    quantize=False,
    q_group_size=None,
    q_bits=None,
    q_mode="affine",
    dtype=None,
    upload_repo=None,
    revision=None,
    dequantize=False,
    quant_predicate=None,
    trust_remote_code=False,
    gguf_path=None,
):
    """Writes ``mlx_path``: the model of ``hf_path`` (a local Hugging Face / MLX folder,
    or a .gguf file) or ``gguf_path``, optionally cast to ``dtype`` and quantized with
    ``q_group_size``/``q_bits``/``q_mode`` (mlx_lm's defaults for the mode when None)."""
    if upload_repo is not None or revision is not None:
        raise ValueError("[convert] lmx works offline: upload_repo and revision are not supported.")
    if (hf_path is None) == (gguf_path is None):
        raise ValueError("[convert] Give exactly one of hf_path (a folder or .gguf file) and gguf_path.")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"[convert] dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    if q_mode not in Q_MODES:
        raise ValueError(f"[convert] q_mode must be one of {', '.join(Q_MODES)}, got {q_mode!r}.")
    if quantize and dequantize:
        raise ValueError("[convert] Choose either quantize or dequantize.")
    source = os.fspath(gguf_path if gguf_path is not None else hf_path)
    mlx_path = Path(mlx_path)
    if mlx_path.exists():
        raise ValueError(
            f"[convert] Cannot save to '{mlx_path}': it already exists; delete it or choose another path."
        )
    from_gguf = source.endswith(".gguf") or gguf_path is not None
    if not from_gguf and not os.path.isdir(source):
        raise ValueError(
            f"[convert] '{source}' is neither a model folder nor a .gguf file (lmx works offline)."
        )

    if from_gguf:
        # a quantized GGUF is dequantised before quantizing anew
        model, config, metadata = _gguf_model(source, dtype, dequantize or quantize)
    else:
        model, config = _hf_model(source, dtype, dequantize)
        if quantize and "quantization" in config:
            raise ValueError(
                "[convert] The model is already quantized; pass dequantize=True to convert it back."
            )

    utils = _utils()
    if quantize:
        model, config = utils.quantize_model(
            model, config, q_group_size, q_bits, mode=q_mode, quant_predicate=quant_predicate
        )

    mlx_path.mkdir(parents=True)
    utils.save_model(mlx_path, model, donate_model=True)
    utils.save_config(config, config_path=mlx_path / "config.json")
    if from_gguf:
        save_gguf_tokenizer(metadata, mlx_path, config.get("max_position_embeddings"))
    else:
        for name in TOKENIZER_FILES:
            if os.path.isfile(os.path.join(source, name)):
                shutil.copy(os.path.join(source, name), mlx_path / name)
    return mlx_path


def _parser():
    parser = argparse.ArgumentParser(description="Convert a Hugging Face model or a GGUF file to MLX format.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--hf-path", "--model", dest="hf_path", help="Local Hugging Face / MLX model folder.")
    source.add_argument("--gguf", dest="gguf_path", help="A llama.cpp .gguf file (llama architecture).")
    parser.add_argument("--mlx-path", default="mlx_model", help="Where to save the MLX model.")
    parser.add_argument("-q", "--quantize", action="store_true", help="Generate a quantized model.")
    parser.add_argument("--q-group-size", type=int, default=None, help="Group size for quantization.")
    parser.add_argument("--q-bits", type=int, default=None, help="Bits per weight for quantization.")
    parser.add_argument("--q-mode", default="affine", choices=Q_MODES, help="The quantization mode.")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="Type of the non-quantized parameters.")
    parser.add_argument("-d", "--dequantize", action="store_true", help="Dequantize a quantized model.")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    path = convert(**vars(args))
    print(f"[INFO] Saved the MLX model to {path}")


if __name__ == "__main__":
    main()
