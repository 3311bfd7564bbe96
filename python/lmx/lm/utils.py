"""Loading, quantising and saving models: the counterpart of ``mlx_lm.utils``.

A model is a local folder in Hugging Face layout (``config.json`` + ``*.safetensors``,
optionally sharded with ``model.safetensors.index.json``), or a llama.cpp ``.gguf`` file.
The architecture module is chosen by ``config["model_type"]`` (``lmx.lm.models.<type>``).
Nothing is ever downloaded.
"""

import copy
import glob
import importlib
import json
import os
import pkgutil
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Type, Union

import lmx.core as mx
import lmx.nn as nn
from lmx.nn.layers.quantized import _MODE_DEFAULTS
from lmx.utils import tree_flatten, tree_map

__all__ = [
    "MODEL_REMAPPING",
    "get_model_path",
    "load",
    "load_config",
    "load_model",
    "load_tokenizer",
    "make_shards",
    "quantize_model",
    "save_config",
    "save_model",
    "supported_model_types",
]

# Architectures that are another one under a different name.
MODEL_REMAPPING = {
    "mistral": "llama",
}

# Default (group_size, bits) of each quantisation mode: nn.quantize's.
QUANTIZATION_DEFAULTS = _MODE_DEFAULTS

_WEIGHT_INDEX = "model.safetensors.index.json"
_MAX_SHARD_BYTES = 5 << 30


def supported_model_types():
    """The ``model_type`` values lmx.lm can build (module names and their aliases)."""
    from lmx.lm import models

    modules = {
        info.name
        for info in pkgutil.iter_modules(models.__path__)
        if info.name not in ("base", "cache", "rope_utils", "switch_layers")
    }
    return sorted(modules | {alias for alias, target in MODEL_REMAPPING.items() if target in modules})


def _get_classes(config: dict):
    """(Model, ModelArgs) of the architecture named by ``config["model_type"]``."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise ValueError("[load_model] config.json has no 'model_type' string.")
    module_name = MODEL_REMAPPING.get(model_type, model_type)
    supported = supported_model_types()
    if module_name not in supported:
        raise ValueError(
            f"[load_model] Model type '{model_type}' is not supported; supported types: {', '.join(supported)}."
        )
    module = importlib.import_module(f"lmx.lm.models.{module_name}")
    return module.Model, module.ModelArgs


def get_model_path(path_or_hf_repo, revision: Optional[str] = None) -> Path:
    """The local folder (or .gguf file) of a model. Hub repositories are not downloaded."""
    if not isinstance(path_or_hf_repo, (str, os.PathLike)):
        raise TypeError(f"[get_model_path] Expected a path, got {type(path_or_hf_repo).__name__}.")
    model_path = Path(path_or_hf_repo).expanduser()
    if not model_path.exists():
        raise FileNotFoundError(
            f"[get_model_path] Model path '{path_or_hf_repo}' does not exist. lmx.lm cannot download models: "
            "pass a local folder in Hugging Face layout (config.json + *.safetensors) or a .gguf file."
        )
    return model_path


def load_config(model_path) -> dict:
    """The parsed ``config.json`` of a model folder."""
    config_path = Path(model_path) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"[load_config] No config.json in '{model_path}'.")
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"[load_config] {config_path} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise ValueError(f"[load_config] {config_path} must hold a JSON object.")
    return config


def _weight_files(model_path: Path):
    """The safetensors files of a folder: the shards an index names, else every *.safetensors."""
    index_path = model_path / _WEIGHT_INDEX
    if index_path.is_file():
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map", {})
        files = sorted({model_path / name for name in weight_map.values()})
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"[load_model] {index_path} names missing shards: {', '.join(missing)}.")
        if files:
            return files
    files = sorted(Path(p) for p in glob.glob(str(model_path / "*.safetensors")))
    if not files:
        raise FileNotFoundError(
            f"[load_model] No safetensors weights (*.safetensors) found in '{model_path}'."
        )
    return files


def _check_quantization(quantization, where):
    if not isinstance(quantization, dict):
        raise ValueError(f"[{where}] The 'quantization' config must be an object, got {quantization!r}.")
    mode = quantization.get("mode", "affine")
    if mode not in QUANTIZATION_DEFAULTS:
        raise ValueError(
            f"[{where}] Unknown quantization mode '{mode}'; expected one of {', '.join(QUANTIZATION_DEFAULTS)}."
        )
    for key in ("group_size", "bits"):
        value = quantization.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"[{where}] quantization '{key}' must be a positive integer, got {value!r}.")


def _apply_quantization(model, quantization, weights):
    """Swap the layers a saved quantised model has quantised, so its weights load into them."""
    _check_quantization(quantization, "load_model")

    def class_predicate(path, module):
        override = quantization.get(path)
        if override is not None:
            # Per-layer entry: False (kept in float) or {"group_size", "bits"[, "mode"]}.
            return override
        if not hasattr(module, "to_quantized"):
            return False
        return f"{path}.scales" in weights

    nn.quantize(
        model,
        group_size=quantization["group_size"],
        bits=quantization["bits"],
        mode=quantization.get("mode", "affine"),
        class_predicate=class_predicate,
    )


def load_model(
    model_path,
    lazy: bool = False,
    strict: bool = True,
    model_config: Optional[Dict[str, Any]] = None,
    get_model_classes: Callable[[dict], Tuple[Type[nn.Module], Type]] = _get_classes,
    trust_remote_code: bool = False,
) -> Tuple[nn.Module, dict]:
    """Build the model of a local folder and load its weights: ``(model, config)``.

    ``model_config`` entries override config.json. With ``lazy`` the weights stay
    unevaluated (memory-mapped) until first use. ``trust_remote_code`` is accepted for
    mlx_lm compatibility; lmx.lm only runs its own architectures.
    """
    model_path = Path(model_path)
    if not model_path.is_dir():
        raise FileNotFoundError(f"[load_model] '{model_path}' is not a model folder.")
    config = load_config(model_path)
    if model_config:
        config.update(model_config)

    weights = {}
    for weight_file in _weight_files(model_path):
        weights.update(mx.load(str(weight_file)))

    model_class, model_args_class = get_model_classes(config)
    try:
        model_args = model_args_class.from_dict(config)
    except TypeError as e:
        # A required field (hidden_size, ...) is absent from config.json.
        raise ValueError(
            f"[load_model] config.json in '{model_path}' does not describe a '{config['model_type']}' model: {e}"
        ) from None
    model = model_class(model_args)
    if hasattr(model, "sanitize"):
        weights = model.sanitize(weights)

    quantization = config.get("quantization")
    if quantization is not None:
        _apply_quantization(model, quantization, weights)
    else:
        foreign = config.get("quantization_config")
        if isinstance(foreign, dict) and foreign.get("quant_method") not in (None, "mlx"):
            raise ValueError(
                f"[load_model] '{model_path}' is quantized with '{foreign['quant_method']}', which lmx.lm "
                "cannot load; convert the float model with lmx.lm.convert -q instead."
            )

    try:
        model.load_weights(list(weights.items()), strict=strict)
    except ValueError as e:
        raise ValueError(
            f"[load_model] Weights in '{model_path}' do not fit the '{config['model_type']}' model: {e}"
        ) from None
    if not lazy:
        mx.eval(model.parameters())
    model.eval()
    return model, config


def load_tokenizer(model_path, tokenizer_config_extra=None, eos_token_ids=None):
    """The tokenizer of a model folder (``lmx.lm.tokenizer_utils.load``)."""
    from lmx.lm import tokenizer_utils

    return tokenizer_utils.load(model_path, tokenizer_config_extra or {}, eos_token_ids=eos_token_ids)


def load_adapters(model: nn.Module, adapter_path: str) -> nn.Module:
    """Apply fine-tuned LoRA adapters from ``adapter_path`` (needs ``lmx.lm.tuner``)."""
    try:
        from lmx.lm.tuner.utils import load_adapters as tuner_load_adapters
    except ImportError:
        raise NotImplementedError(
            "[load_adapters] lmx.lm has no LoRA tuner yet; adapters cannot be loaded."
        ) from None
    adapter_path = Path(adapter_path)
    if not adapter_path.exists():
        raise FileNotFoundError(f"[load_adapters] Adapter path '{adapter_path}' does not exist.")
    return tuner_load_adapters(model, str(adapter_path))


def load(
    path_or_hf_repo: Optional[str] = None,
    tokenizer_config: Optional[Dict[str, Any]] = None,
    model_config: Optional[Dict[str, Any]] = None,
    adapter_path: Optional[str] = None,
    lazy: bool = False,
    return_config: bool = False,
    revision: Optional[str] = None,
    trust_remote_code: bool = False,
):
    """Load ``(model, tokenizer)`` (and the config with ``return_config``) from a local folder.

    A path ending in ``.gguf``, or None (the default model), goes to ``lmx.lm.gguf``.
    """
    if path_or_hf_repo is None or str(path_or_hf_repo).lower().endswith(".gguf"):
        from lmx.lm import gguf

        if path_or_hf_repo is not None:
            get_model_path(path_or_hf_repo)
        model, tokenizer = gguf.load_gguf_model(
            path_or_hf_repo,
            tokenizer_config=tokenizer_config or {},
            model_config=model_config or {},
            lazy=lazy,
        )
        if adapter_path is not None:
            model = load_adapters(model, adapter_path)
            model.eval()
        if return_config:
            args = getattr(model, "args", None)
            return model, tokenizer, dict(vars(args)) if args is not None else {}
        return model, tokenizer

    model_path = get_model_path(path_or_hf_repo, revision=revision)
    if not model_path.is_dir():
        raise ValueError(
            f"[load] '{model_path}' is neither a model folder (config.json + *.safetensors) nor a .gguf file."
        )
    model, config = load_model(model_path, lazy, model_config=model_config)
    if adapter_path is not None:
        model = load_adapters(model, adapter_path)
        model.eval()
    tokenizer = load_tokenizer(model_path, tokenizer_config, eos_token_ids=config.get("eos_token_id"))
    if return_config:
        return model, tokenizer, config
    return model, tokenizer


def make_shards(weights: dict, max_file_size_gb: int = 5) -> list:
    """Split a dict of arrays into dicts of at most ``max_file_size_gb`` gigabytes each."""
    limit = max_file_size_gb << 30
    shards, shard, shard_size = [], {}, 0
    for name, value in weights.items():
        if shard and shard_size + value.nbytes > limit:
            shards.append(shard)
            shard, shard_size = {}, 0
        shard[name] = value
        shard_size += value.nbytes
    shards.append(shard)
    return shards


def save_model(save_path: Union[str, Path], model: nn.Module, *, donate_model: bool = False) -> None:
    """Write the model's parameters as safetensors shards plus ``model.safetensors.index.json``."""
    save_path = Path(save_path)
    save_path.mkdir(parents=True, exist_ok=True)
    weights = dict(tree_flatten(model.parameters()))
    if donate_model:
        # Drop the model's references so each array's memory can go once written.
        model.update(tree_map(lambda _: mx.array([]), model.parameters()))
    shards = make_shards(weights)
    count = len(shards)
    weight_map = {}
    for i, shard in enumerate(shards):
        name = "model.safetensors" if count == 1 else f"model-{i + 1:05d}-of-{count:05d}.safetensors"
        mx.save_safetensors(str(save_path / name), shard, metadata={"format": "mlx"})
        weight_map.update({key: name for key in shard})
    index = {
        "metadata": {"total_size": sum(v.nbytes for v in weights.values())},
        "weight_map": dict(sorted(weight_map.items())),
    }
    with open(save_path / _WEIGHT_INDEX, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=4)


def save_config(config: dict, config_path: Union[str, Path]) -> None:
    """Write a model config as mlx_lm does: no ``_name_or_path``, top-level keys sorted."""
    config = dict(config)
    config.pop("_name_or_path", None)
    if "quantization" in config:
        config["quantization_config"] = config["quantization"]
    config = dict(sorted(config.items()))
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=4)


def quantize_model(
    model: nn.Module,
    config: dict,
    group_size: Optional[int] = None,
    bits: Optional[int] = None,
    mode: str = "affine",
    quant_predicate: Optional[Callable[[str, nn.Module], Union[bool, dict]]] = None,
) -> Tuple[nn.Module, dict]:
    """Quantise the model's quantisable layers in place; return it with the config recording how.

    ``quant_predicate(path, module)`` may return False (keep a layer in float) or a dict of
    per-layer ``group_size``/``bits`` (recorded under the layer's path in the config). Without
    one, the model's own ``quant_predicate`` (e.g. 8-bit MoE routers) applies if it has one.
    """
    if quant_predicate is None:
        quant_predicate = getattr(model, "quant_predicate", None)
    if mode not in QUANTIZATION_DEFAULTS:
        raise ValueError(
            f"[quantize_model] Unknown quantization mode '{mode}'; expected one of {', '.join(QUANTIZATION_DEFAULTS)}."
        )
    default_group_size, default_bits = QUANTIZATION_DEFAULTS[mode]
    group_size = default_group_size if group_size is None else group_size
    bits = default_bits if bits is None else bits
    quantization = {"group_size": group_size, "bits": bits, "mode": mode}
    _check_quantization(quantization, "quantize_model")
    quantized_config = copy.deepcopy(config)
    quantized_config["quantization"] = quantization

    def class_predicate(path, module):
        if not hasattr(module, "to_quantized"):
            return False
        if module.weight.shape[-1] % group_size != 0:
            return False
        decision = True if quant_predicate is None else quant_predicate(path, module)
        if isinstance(decision, dict):
            quantization[path] = decision
        return decision

    nn.quantize(model, group_size, bits, mode=mode, class_predicate=class_predicate)
    quantized_config["quantization_config"] = quantization
    return model, quantized_config
