"""lmx.lm architectures and loading (models/*.py, utils.py).

Every architecture gets a tiny random model folder in Hugging Face layout (config.json +
safetensors with the checkpoint's parameter names). The checks: lmx.lm's logits equal
mlx_lm's for the same folder (when mlx_lm is installed), decoding one token at a time
through a KV cache equals the full-sequence logits, quantised models saved and reloaded
give the logits of the in-memory quantised model, and bad folders get clear errors.
Under LMX_TEST_BACKEND=mlx the same tests run on mlx_lm itself.
"""

import importlib
import json
import re

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

if BACKEND == "mlx":
    pytest.importorskip("mlx_lm")
    lm_utils = importlib.import_module("mlx_lm.utils")
    lm_cache = importlib.import_module("mlx_lm.models.cache")
    lm_base = importlib.import_module("mlx_lm.models.base")
else:
    lm_utils = importlib.import_module("lmx.lm.utils")
    lm_cache = importlib.import_module("lmx.lm.models.cache")
    lm_base = importlib.import_module("lmx.lm.models.base")

only_lmx = pytest.mark.skipif(
    BACKEND != "lmx", reason="checks lmx.lm's own errors and its agreement with mlx_lm"
)

COMMON = dict(
    hidden_size=64,
    num_hidden_layers=2,
    intermediate_size=96,
    num_attention_heads=4,
    num_key_value_heads=2,
    rms_norm_eps=1e-5,
    vocab_size=128,
    max_position_embeddings=256,
)

CONFIGS = {
    "llama": dict(COMMON, model_type="llama", tie_word_embeddings=False, rope_theta=10000.0),
    "llama_tied_bias": dict(
        COMMON, model_type="llama", tie_word_embeddings=True, attention_bias=True, mlp_bias=True, head_dim=32
    ),
    "llama3_scaling": dict(
        COMMON,
        model_type="llama",
        tie_word_embeddings=False,
        rope_theta=500000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32,
        },
    ),
    "llama_linear_scaling": dict(
        COMMON, model_type="llama", tie_word_embeddings=False, rope_scaling={"type": "linear", "factor": 2.0}
    ),
    "mistral": dict(COMMON, model_type="mistral", tie_word_embeddings=False, rope_theta=1000000.0),
    "qwen2": dict(COMMON, model_type="qwen2", tie_word_embeddings=True),
    "qwen2_untied": dict(COMMON, model_type="qwen2", tie_word_embeddings=False, rope_theta=10000.0),
    "qwen3": dict(COMMON, model_type="qwen3", head_dim=32, tie_word_embeddings=False, rope_theta=1000000.0),
    "qwen3_yarn": dict(
        COMMON,
        model_type="qwen3",
        head_dim=32,
        tie_word_embeddings=True,
        rope_theta=1000000.0,
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64},
    ),
}
GEMMA = dict(COMMON, hidden_size=96, intermediate_size=128, head_dim=16, rms_norm_eps=1e-6)
CONFIGS.update(
    {
        "gemma": dict(GEMMA, model_type="gemma"),
        "gemma2": dict(
            GEMMA,
            model_type="gemma2",
            query_pre_attn_scalar=16,
            attn_logit_softcapping=2.0,
            final_logit_softcapping=5.0,
            sliding_window=4096,
        ),
        "gemma2_window": dict(GEMMA, model_type="gemma2", query_pre_attn_scalar=24, sliding_window=3),
        "gemma3_text": dict(
            GEMMA,
            model_type="gemma3_text",
            query_pre_attn_scalar=16,
            sliding_window=3,
            sliding_window_pattern=2,
            rope_scaling={"rope_type": "linear", "factor": 2.0},
        ),
    }
)
CONFIGS.update(
    {
        "phi3": dict(COMMON, model_type="phi3"),
        "phi3_longrope": dict(
            COMMON,
            model_type="phi3",
            tie_word_embeddings=True,
            partial_rotary_factor=0.5,
            original_max_position_embeddings=64,
            rope_scaling={
                "type": "longrope",
                "short_factor": [1.0, 1.5, 2.0, 3.0],
                "long_factor": [1.0, 2.0, 4.0, 8.0],
            },
        ),
        "starcoder2": dict(COMMON, model_type="starcoder2", norm_epsilon=1e-5),
        "starcoder2_untied": dict(
            COMMON, model_type="starcoder2", tie_word_embeddings=False, rope_theta=10000.0
        ),
    }
)
MOE = dict(COMMON, num_hidden_layers=3)
CONFIGS.update(
    {
        "mixtral": dict(MOE, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2),
        "qwen3_moe": dict(
            MOE,
            model_type="qwen3_moe",
            head_dim=16,
            num_experts=8,
            num_experts_per_tok=3,
            moe_intermediate_size=64,
            decoder_sparse_step=1,
            mlp_only_layers=[1],
            norm_topk_prob=True,
            rope_theta=1000000.0,
            tie_word_embeddings=False,
        ),
        "qwen3_moe_unnormalised": dict(
            MOE,
            model_type="qwen3_moe",
            head_dim=32,
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            decoder_sparse_step=2,
            mlp_only_layers=[],
            norm_topk_prob=False,
            rope_theta=1000000.0,
            tie_word_embeddings=True,
        ),
    }
)
# mlx_lm's gemma2 attends to all keys in every layer; lmx.lm windows the even layers as HF does.
DIFFERS_FROM_MLX_LM = {"gemma2_window"}

PROMPT = [[3, 17, 101, 5, 64, 9, 127, 42]]


def np_weights(model, seed=0):
    """Random NumPy weights with the names and shapes of ``model``'s parameters."""
    rng = np.random.default_rng(seed)
    flat = dict(_flatten(model.parameters()))
    weights = {}
    for name, value in flat.items():
        shape = tuple(value.shape)
        if re.search(r"norm[^.]*\.weight$", name):
            weights[name] = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif name.endswith("embed_tokens.weight"):
            weights[name] = (0.5 * rng.standard_normal(shape)).astype(np.float32)
        else:
            weights[name] = (0.15 * rng.standard_normal(shape)).astype(np.float32)
    return weights


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten(v, f"{prefix}{k}.")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _flatten(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], tree


def hf_layout(config, weights):
    """The checkpoint as Hugging Face ships it: per-expert MoE matrices, extra buffers."""
    out = {}
    for name, value in weights.items():
        moe = re.match(r"(.*)\.switch_mlp\.(\w+)\.weight$", name)
        if moe:
            projection = moe.group(2)
            if config["model_type"] == "mixtral":
                projection = {"gate_proj": "w1", "down_proj": "w2", "up_proj": "w3"}[projection]
            for e in range(value.shape[0]):
                out[f"{moe.group(1)}.experts.{e}.{projection}.weight"] = value[e]
        else:
            out[name] = value
    if config["model_type"] in ("llama", "mistral", "qwen2"):
        # Old HF checkpoints carry rotary tables.
        out["model.layers.0.self_attn.rotary_emb.inv_freq"] = np.ones(8, np.float32)
    if config["model_type"] in ("llama", "mistral", "qwen2", "qwen3") and config.get(
        "tie_word_embeddings", True
    ):
        # Tied checkpoints may still ship lm_head.
        out["lm_head.weight"] = out["model.embed_tokens.weight"]
    return out


def build_model_folder(path, config, seed=0):
    """Write config.json and model.safetensors of a random model; return the folder."""
    model_class, args_class = lm_utils._get_classes(config)
    model = model_class(args_class.from_dict(config))
    weights = hf_layout(config, np_weights(model, seed))
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "config.json", "w") as f:
        json.dump(config, f)
    mx.save_safetensors(
        str(path / "model.safetensors"),
        {k: mx.array(v) for k, v in weights.items()},
        metadata={"format": "mlx"},
    )
    return path


def logits(model, tokens, cache=None):
    out = model(mx.array(tokens), cache=cache)
    return to_numpy(out.astype(mx.float32))


@pytest.fixture(params=sorted(CONFIGS))
def arch(request):
    return request.param


# ----- agreement with mlx_lm ------------------------------------------------------------------


@only_lmx
def test_logits_match_mlx_lm(tmp_path, arch):
    mlx_lm_utils = pytest.importorskip("mlx_lm.utils")
    mlx_core = pytest.importorskip("mlx.core")
    if arch in DIFFERS_FROM_MLX_LM:
        pytest.skip("mlx_lm's gemma2 ignores sliding windows")
    folder = build_model_folder(tmp_path / arch, CONFIGS[arch])
    model, config = lm_utils.load_model(folder)
    reference, _ = mlx_lm_utils.load_model(folder)
    expected = np.array(reference(mlx_core.array(PROMPT)))
    got = logits(model, PROMPT)
    assert got.shape == (1, len(PROMPT[0]), CONFIGS[arch]["vocab_size"])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@only_lmx
def test_quantized_mlx_lm_folder_matches(tmp_path, arch):
    mlx_lm_utils = pytest.importorskip("mlx_lm.utils")
    mlx_core = pytest.importorskip("mlx.core")
    if arch in DIFFERS_FROM_MLX_LM:
        pytest.skip("mlx_lm's gemma2 ignores sliding windows")
    folder = build_model_folder(tmp_path / "float", CONFIGS[arch])
    reference, config = mlx_lm_utils.load_model(folder)

    def predicate(path, module):
        # One per-layer override, as mlx_lm's mixed-precision recipes write them.
        return {"group_size": 32, "bits": 8} if path.endswith("layers.0.self_attn.o_proj") else True

    reference, quantized_config = mlx_lm_utils.quantize_model(
        reference, config, 32, 4, quant_predicate=predicate
    )
    quantized = tmp_path / "q4"
    mlx_lm_utils.save_model(quantized, reference)
    mlx_lm_utils.save_config(quantized_config, quantized / "config.json")
    model, _ = lm_utils.load_model(quantized)
    np.testing.assert_allclose(
        logits(model, PROMPT), np.array(reference(mlx_core.array(PROMPT))), rtol=1e-4, atol=1e-4
    )


# ----- self-consistency (both backends, NumPy-built weights) ----------------------------------


def test_incremental_cache_matches_full_sequence(tmp_path, arch):
    model, _ = lm_utils.load_model(build_model_folder(tmp_path / arch, CONFIGS[arch]))
    full = logits(model, PROMPT)
    cache = lm_cache.make_prompt_cache(model)
    steps = [logits(model, [PROMPT[0][:3]], cache=cache)]
    # A two-token chunk after a prefix exercises the causal mask with an offset.
    steps.append(logits(model, [PROMPT[0][3:5]], cache=cache))
    for token in PROMPT[0][5:]:
        steps.append(logits(model, [[token]], cache=cache))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-4, atol=1e-4)


def test_batch_rows_are_independent(tmp_path, arch):
    model, _ = lm_utils.load_model(build_model_folder(tmp_path / arch, CONFIGS[arch]))
    other = [[t * 7 % 128 for t in PROMPT[0]]]
    both = logits(model, PROMPT + other)
    np.testing.assert_allclose(both[:1], logits(model, PROMPT), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(both[1:], logits(model, other), rtol=1e-4, atol=1e-4)


def test_quantize_save_and_reload(tmp_path, arch):
    config = CONFIGS[arch]
    model, loaded_config = lm_utils.load_model(build_model_folder(tmp_path / "float", config))
    float_logits = logits(model, PROMPT)
    model, quantized_config = lm_utils.quantize_model(model, loaded_config, 32, 4)
    recorded = quantized_config["quantization"]
    assert {k: recorded[k] for k in ("group_size", "bits", "mode")} == {
        "group_size": 32,
        "bits": 4,
        "mode": "affine",
    }
    # Per-layer entries are the model's own overrides (8-bit MoE routers).
    overrides = {k: v for k, v in recorded.items() if k not in ("group_size", "bits", "mode")}
    assert all(k.endswith("mlp.gate") and v == {"group_size": 64, "bits": 8} for k, v in overrides.items())
    assert bool(overrides) == config["model_type"].endswith("_moe")
    in_memory = logits(model, PROMPT)
    # 4-bit weights change the logits (and may flip MoE routing), but not beyond recognition.
    assert not np.allclose(in_memory, float_logits, atol=1e-5)
    assert np.corrcoef(in_memory.ravel(), float_logits.ravel())[0, 1] > 0.8

    out = tmp_path / "q4"
    lm_utils.save_model(out, model)
    lm_utils.save_config(quantized_config, out / "config.json")
    with open(out / "config.json") as f:
        assert json.load(f)["quantization"]["bits"] == 4
    reloaded, _ = lm_utils.load_model(out)
    np.testing.assert_allclose(logits(reloaded, PROMPT), in_memory, rtol=1e-5, atol=1e-5)


def test_model_config_overrides_and_lazy_load(tmp_path):
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    model, config = lm_utils.load_model(folder, lazy=True, model_config={"rope_theta": 123.0})
    assert config["rope_theta"] == 123.0
    eager, _ = lm_utils.load_model(folder)
    # A different rotary base changes every position but the first.
    a, b = logits(model, PROMPT), logits(eager, PROMPT)
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a[:, 1:], b[:, 1:], atol=1e-4)


def test_sharded_folder_loads(tmp_path):
    folder = build_model_folder(tmp_path / "one", CONFIGS["llama"])
    model, _ = lm_utils.load_model(folder)
    weights = mx.load(str(folder / "model.safetensors"))
    names = sorted(weights)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "config.json").write_text((folder / "config.json").read_text())
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :])):
        file = f"model-{i + 1:05d}-of-00002.safetensors"
        mx.save_safetensors(str(sharded / file), {k: weights[k] for k in part}, metadata={"format": "mlx"})
        weight_map.update({k: file for k in part})
    (sharded / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    reloaded, _ = lm_utils.load_model(sharded)
    np.testing.assert_array_equal(logits(reloaded, PROMPT), logits(model, PROMPT))


def test_model_interface(tmp_path):
    model, _ = lm_utils.load_model(build_model_folder(tmp_path / "m", CONFIGS["llama"]))
    assert len(model.layers) == 2
    assert model.model_type == "llama"
    assert model.args.num_key_value_heads == 2


# ----- base helpers ---------------------------------------------------------------------------


def np_causal_mask(n, offset=0, window=None):
    q = np.arange(offset, offset + n)[:, None]
    k = np.arange(offset + n)[None]
    mask = q >= k
    if window is not None:
        mask &= q < k + window
    return mask


@pytest.mark.parametrize("n,offset,window", [(1, 0, None), (4, 0, None), (3, 5, None), (6, 0, 3), (2, 4, 2)])
def test_create_causal_mask(n, offset, window):
    got = lm_base.create_causal_mask(n, offset, window_size=window)
    np.testing.assert_array_equal(np.array(got), np_causal_mask(n, offset, window))


def test_create_causal_mask_padding():
    got = np.array(
        lm_base.create_causal_mask(3, 1, left_padding=mx.array([0, 2]), right_padding=mx.array([1, 0]))
    )
    expected = np.broadcast_to(np_causal_mask(3, 1), (2, 1, 3, 4)).copy()
    expected[0, ..., 3:] = False  # right padding hides the last key of row 0
    expected[1, ..., :2] = False  # left padding hides the first two keys of row 1
    np.testing.assert_array_equal(got, expected)


def test_create_attention_mask():
    h = mx.zeros((1, 5, 8))
    assert lm_base.create_attention_mask(h) == "causal"
    assert lm_base.create_attention_mask(mx.zeros((1, 1, 8))) is None
    np.testing.assert_array_equal(
        np.array(lm_base.create_attention_mask(h, return_array=True)), np_causal_mask(5)
    )
    np.testing.assert_array_equal(
        np.array(lm_base.create_attention_mask(h, window_size=2)), np_causal_mask(5, window=2)
    )
    cache = lm_cache.KVCache()
    cache.update_and_fetch(mx.zeros((1, 2, 3, 8)), mx.zeros((1, 2, 3, 8)))
    np.testing.assert_array_equal(
        np.array(lm_base.create_attention_mask(h, cache, return_array=True)), np_causal_mask(5, 3)
    )


def np_attention(q, k, v, scale, mask):
    repeats = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, repeats, axis=1), np.repeat(v, repeats, axis=1)
    scores = scale * q @ k.swapaxes(-1, -2)
    scores = np.where(mask, scores, -np.inf)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    return (scores / scores.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("mask_kind", ["causal", "array", None])
def test_scaled_dot_product_attention_quantized_cache(rng, mask_kind):
    B, H, KV, L, S, D = 1, 4, 2, 3, 7, 64
    q = rng.standard_normal((B, H, L, D)).astype(np.float32)
    k = rng.standard_normal((B, KV, S, D)).astype(np.float32)
    v = rng.standard_normal((B, KV, S, D)).astype(np.float32)
    cache = lm_cache.QuantizedKVCache(group_size=32, bits=8)
    qk, qv = cache.update_and_fetch(mx.array(k), mx.array(v))
    dequantized = [np.array(mx.dequantize(*t, group_size=32, bits=8))[..., :S, :] for t in (qk, qv)]
    mask = {"causal": "causal", "array": mx.array(np_causal_mask(L, S - L)), None: None}[mask_kind]
    np_mask = np_causal_mask(L, S - L) if mask_kind else np.ones((L, S), bool)
    qk = tuple(t[..., :S, :] for t in qk)
    qv = tuple(t[..., :S, :] for t in qv)
    got = lm_base.scaled_dot_product_attention(mx.array(q), qk, qv, cache=cache, scale=D**-0.5, mask=mask)
    expected = np_attention(q, *dequantized, D**-0.5, np_mask)
    np.testing.assert_allclose(np.array(got), expected, rtol=1e-4, atol=1e-4)


def test_scaled_dot_product_attention_plain(rng):
    q = rng.standard_normal((1, 4, 5, 16)).astype(np.float32)
    k = rng.standard_normal((1, 2, 5, 16)).astype(np.float32)
    v = rng.standard_normal((1, 2, 5, 16)).astype(np.float32)
    got = lm_base.scaled_dot_product_attention(
        mx.array(q), mx.array(k), mx.array(v), cache=None, scale=0.25, mask="causal"
    )
    np.testing.assert_allclose(
        np.array(got), np_attention(q, k, v, 0.25, np_causal_mask(5)), rtol=1e-4, atol=1e-5
    )


def test_model_args_from_dict_ignores_unknown_keys():
    module = importlib.import_module(lm_utils.__name__.replace("utils", "models.llama"))
    args = module.ModelArgs.from_dict(
        dict(CONFIGS["llama"], architectures=["LlamaForCausalLM"], torch_dtype="bf16")
    )
    assert args.hidden_size == 64 and args.num_key_value_heads == 2


# ----- errors ---------------------------------------------------------------------------------


@only_lmx
def test_missing_paths_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot download"):
        lm_utils.get_model_path(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="cannot download"):
        lm_utils.load("org/some-model-on-the-hub")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        lm_utils.load_model(tmp_path / "empty")
    (tmp_path / "empty" / "config.json").write_text(json.dumps(CONFIGS["llama"]))
    with pytest.raises(FileNotFoundError, match="safetensors"):
        lm_utils.load_model(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        lm_utils.load_model(tmp_path / "bad")


@only_lmx
def test_unknown_model_type_lists_supported(tmp_path):
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    (folder / "config.json").write_text(json.dumps(dict(CONFIGS["llama"], model_type="not_a_model")))
    with pytest.raises(ValueError, match=r"not_a_model.*not supported.*llama.*mistral"):
        lm_utils.load_model(folder)


@only_lmx
def test_shape_mismatch_and_missing_weights(tmp_path):
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    (folder / "config.json").write_text(json.dumps(dict(CONFIGS["llama"], intermediate_size=80)))
    with pytest.raises(ValueError, match=r"\[load_model\].*shape.*mlp"):
        lm_utils.load_model(folder)
    (folder / "config.json").write_text(json.dumps(dict(CONFIGS["llama"], num_hidden_layers=3)))
    with pytest.raises(ValueError, match=r"Missing.*layers\.2"):
        lm_utils.load_model(folder)


@only_lmx
@pytest.mark.parametrize(
    "quantization,message",
    [
        ({"group_size": 32, "bits": 0}, "bits"),
        ({"group_size": "x", "bits": 4}, "group_size"),
        ({"group_size": 32, "bits": 4, "mode": "weird"}, "mode"),
        ("q4", "object"),
    ],
)
def test_bad_quantization_config(tmp_path, quantization, message):
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    (folder / "config.json").write_text(json.dumps(dict(CONFIGS["llama"], quantization=quantization)))
    with pytest.raises(ValueError, match=message):
        lm_utils.load_model(folder)


@only_lmx
def test_config_missing_fields_or_foreign_quantization(tmp_path):
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    config = {k: v for k, v in CONFIGS["llama"].items() if k != "hidden_size"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"\[load_model\].*'llama' model.*hidden_size"):
        lm_utils.load_model(folder)
    config = dict(CONFIGS["llama"], quantization_config={"quant_method": "gptq", "bits": 4})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="gptq"):
        lm_utils.load_model(folder)


@only_lmx
def test_bfloat16_checkpoint_matches_mlx_lm(tmp_path):
    mlx_lm_utils = pytest.importorskip("mlx_lm.utils")
    mlx_core = pytest.importorskip("mlx.core")
    folder = build_model_folder(tmp_path / "m", CONFIGS["qwen3"])
    weights = mx.load(str(folder / "model.safetensors"))
    mx.save_safetensors(
        str(folder / "model.safetensors"),
        {k: v.astype(mx.bfloat16) for k, v in weights.items()},
        metadata={"format": "mlx"},
    )
    model, _ = lm_utils.load_model(folder)
    assert model.model.layers[0].self_attn.q_proj.weight.dtype == mx.bfloat16
    reference, _ = mlx_lm_utils.load_model(folder)
    got = model(mx.array(PROMPT))
    assert got.dtype == mx.bfloat16
    expected = np.array(reference(mlx_core.array(PROMPT)).astype(mlx_core.float32))
    # Both compute in bfloat16; their roundings differ in places (different kernels).
    np.testing.assert_allclose(to_numpy(got), expected, rtol=0.05, atol=0.1)
    assert np.corrcoef(to_numpy(got).ravel(), expected.ravel())[0, 1] > 0.999


@only_lmx
def test_quantization_config_that_does_not_fit_the_weights(tmp_path):
    # Float weights with a config claiming 4-bit layers: the quantised layers find no scales.
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    config = dict(
        CONFIGS["llama"],
        quantization={
            "group_size": 32,
            "bits": 4,
            "model.layers.0.mlp.up_proj": {"group_size": 32, "bits": 4},
        },
    )
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"\[load_model\]"):
        lm_utils.load_model(folder)


@only_lmx
def test_quantize_model_bad_arguments(tmp_path):
    model, config = lm_utils.load_model(build_model_folder(tmp_path / "m", CONFIGS["llama"]))
    with pytest.raises(ValueError, match="mode"):
        lm_utils.quantize_model(model, config, 32, 4, mode="nope")
    with pytest.raises(ValueError, match="bits"):
        lm_utils.quantize_model(model, config, 32, -1)


@only_lmx  # mlx_lm's gemma2 has no sliding window
def test_gemma2_sliding_window_limits_even_layers(tmp_path):
    folder = build_model_folder(tmp_path / "m", CONFIGS["gemma2_window"])
    windowed, _ = lm_utils.load_model(folder)
    full, _ = lm_utils.load_model(folder, model_config={"sliding_window": 4096})
    a, b = logits(windowed, PROMPT), logits(full, PROMPT)
    window = CONFIGS["gemma2_window"]["sliding_window"]
    # Positions that see no more than the window are unaffected; later ones are.
    np.testing.assert_allclose(a[:, :window], b[:, :window], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a[:, window:], b[:, window:], atol=1e-3)


@pytest.mark.parametrize("arch_name", ["mixtral", "qwen3_moe"])
def test_moe_long_prompt_sorts_tokens_by_expert(tmp_path, arch_name):
    # 40 tokens x top-k experts is past the size where tokens are sorted by expert; decoding one
    # token at a time takes the unsorted path. Both must agree.
    model, _ = lm_utils.load_model(build_model_folder(tmp_path / arch_name, CONFIGS[arch_name]))
    prompt = [[(7 * i + 3) % 128 for i in range(40)]]
    full = logits(model, prompt)
    cache = lm_cache.make_prompt_cache(model)
    steps = [logits(model, [[t]], cache=cache) for t in prompt[0]]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-4, atol=1e-4)
    # The same with quantized experts (gather_qmm).
    quantized, _ = lm_utils.quantize_model(lm_utils.load_model(tmp_path / arch_name)[0], {}, 32, 4)
    full_q = logits(quantized, prompt)
    cache = lm_cache.make_prompt_cache(quantized)
    steps = [logits(quantized, [[t]], cache=cache) for t in prompt[0]]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full_q, rtol=1e-4, atol=1e-4)
    mlx_lm_utils = pytest.importorskip("mlx_lm.utils")
    mlx_core = pytest.importorskip("mlx.core")
    if BACKEND == "lmx":
        reference, _ = mlx_lm_utils.load_model(tmp_path / arch_name)
        np.testing.assert_allclose(full, np.array(reference(mlx_core.array(prompt))), rtol=1e-4, atol=1e-4)


def write_tiny_tokenizer(folder):
    """A word-level tokenizer.json whose ids are below the tiny models' vocabulary size."""
    tokenizers = pytest.importorskip("tokenizers")
    words = ["<unk>", "<s>", "</s>", "hello", "world", "tiny", "model"]
    tokenizer = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>")
    )
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(["<s>", "</s>"])
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": False,
            }
        )
    )


def test_load_returns_model_and_tokenizer(tmp_path):
    folder = build_model_folder(tmp_path / "m", dict(CONFIGS["qwen3"], eos_token_id=2))
    write_tiny_tokenizer(folder)
    model, tokenizer = lm_utils.load(str(folder))
    ids = tokenizer.encode("hello tiny world")
    assert ids[-3:] == [3, 5, 4]
    assert 2 in tokenizer.eos_token_ids
    assert logits(model, [ids]).shape == (1, len(ids), 128)
    model, tokenizer, config = lm_utils.load(
        str(folder), return_config=True, model_config={"rope_theta": 10.0}
    )
    assert config["rope_theta"] == 10.0 and model.args.rope_theta == 10.0


@only_lmx
def test_quantized_kv_cache_matches_mlx_lm(tmp_path):
    mlx_lm_utils = pytest.importorskip("mlx_lm.utils")
    mlx_lm_cache = pytest.importorskip("mlx_lm.models.cache")
    mlx_core = pytest.importorskip("mlx.core")
    # head_dim 32: one quantisation group per head.
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama_tied_bias"])
    model, _ = lm_utils.load_model(folder)
    reference, _ = mlx_lm_utils.load_model(folder)
    ours = [lm_cache.QuantizedKVCache(group_size=32, bits=8) for _ in model.layers]
    theirs = [mlx_lm_cache.QuantizedKVCache(group_size=32, bits=8) for _ in reference.layers]
    for chunk in ([PROMPT[0][:4]], [PROMPT[0][4:6]], [PROMPT[0][6:7]], [PROMPT[0][7:]]):
        got = logits(model, [chunk[0]], cache=ours)
        expected = np.array(reference(mlx_core.array([chunk[0]]), cache=theirs))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_quantized_kv_cache_close_to_float(tmp_path):
    model, _ = lm_utils.load_model(build_model_folder(tmp_path / "m", CONFIGS["qwen3"]))
    full = logits(model, PROMPT)
    cache = [lm_cache.QuantizedKVCache(group_size=32, bits=8) for _ in model.layers]
    steps = [logits(model, [PROMPT[0][:5]], cache=cache)]
    steps += [logits(model, [[t]], cache=cache) for t in PROMPT[0][5:]]
    # 8-bit keys and values: close, not equal.
    got = np.concatenate(steps, axis=1)
    np.testing.assert_allclose(got, full, rtol=0.05, atol=0.05)
    assert not np.array_equal(got[:, 5:], full[:, 5:])


@only_lmx
def test_load_dispatch_and_adapters(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot download"):
        lm_utils.load(str(tmp_path / "missing.gguf"))
    folder = build_model_folder(tmp_path / "m", CONFIGS["llama"])
    write_tiny_tokenizer(folder)
    with pytest.raises((NotImplementedError, FileNotFoundError), match="adapter"):
        lm_utils.load(str(folder), adapter_path=str(tmp_path / "no_adapters"))
