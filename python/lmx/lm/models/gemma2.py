"""Gemma 2: Gemma with soft-capped attention and output logits, sandwich norms around attention and
MLP, query scaling by query_pre_attn_scalar, and sliding-window attention on every other layer
(even layers, as Hugging Face's implementation)."""

import math
from dataclasses import dataclass
from typing import Any, Optional

import lmx.core as mx
import lmx.nn as nn

from . import gemma, llama
from .base import BaseModelArgs, create_attention_mask, create_causal_mask


@dataclass
class ModelArgs(BaseModelArgs):
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    head_dim: int
    rms_norm_eps: float
    vocab_size: int
    num_key_value_heads: Optional[int] = None
    rope_theta: float = 10000
    rope_traditional: bool = False
    attn_logit_softcapping: Optional[float] = 50.0
    final_logit_softcapping: Optional[float] = 30.0
    query_pre_attn_scalar: float = 144.0
    sliding_window: Optional[int] = None
    max_position_embeddings: Optional[int] = None
    rope_scaling: Optional[dict] = None

    def __post_init__(self):
        llama.complete_attention_args(self)


def softcap(x, cap):
    """cap * tanh(x / cap): smoothly bounds x to (-cap, cap)."""
    return mx.tanh(x / cap) * cap


def softcapped_attention(queries, keys, values, scale, mask, cap):
    """Attention whose scores are soft-capped before the softmax (the fused kernel cannot do that)."""
    B, n_heads, L, D = queries.shape
    n_kv_heads, S = keys.shape[1], keys.shape[2]
    repeats = n_heads // n_kv_heads
    queries = (queries * scale).reshape(B, n_kv_heads, repeats, L, D)
    keys, values = mx.expand_dims(keys, 2), mx.expand_dims(values, 2)
    scores = queries @ keys.swapaxes(-1, -2)
    if cap is not None:
        scores = softcap(scores, cap)
    if isinstance(mask, str):
        mask = create_causal_mask(L, S - L)
    if mask is not None:
        if mask.dtype == mx.bool_:
            scores = mx.where(mask, scores, mx.finfo(scores.dtype).min)
        else:
            scores = scores + mask
    scores = mx.softmax(scores, axis=-1, precise=True)
    return (scores @ values).reshape(B, n_heads, L, -1)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        dim = args.hidden_size
        self.n_heads = args.num_attention_heads
        self.n_kv_heads = args.num_key_value_heads
        self.head_dim = args.head_dim
        self.scale = 1.0 / math.sqrt(args.query_pre_attn_scalar)
        self.attn_logit_softcapping = args.attn_logit_softcapping
        self.q_proj = nn.Linear(dim, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, dim, bias=False)
        self.rope = nn.RoPE(self.head_dim, traditional=args.rope_traditional, base=args.rope_theta)

    def __call__(self, x, mask=None, cache: Optional[Any] = None):
        B, L, _ = x.shape
        queries = self.q_proj(x).reshape(B, L, self.n_heads, -1).transpose(0, 2, 1, 3)
        keys = self.k_proj(x).reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        values = self.v_proj(x).reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        offset = cache.offset if cache is not None else 0
        queries, keys = self.rope(queries, offset=offset), self.rope(keys, offset=offset)
        if cache is not None:
            if hasattr(cache, "bits"):
                raise ValueError("[gemma2] Soft-capped attention does not support a quantized KV cache.")
            keys, values = cache.update_and_fetch(keys, values)
        output = softcapped_attention(queries, keys, values, self.scale, mask, self.attn_logit_softcapping)
        return self.o_proj(output.transpose(0, 2, 1, 3).reshape(B, L, -1))


class TransformerBlock(nn.Module):
    """Norms before and after both the attention and the MLP (the "after" one before the residual add)."""

    def __init__(self, args: ModelArgs, attention=None):
        super().__init__()
        self.self_attn = attention if attention is not None else Attention(args)
        self.mlp = gemma.MLP(args.hidden_size, args.intermediate_size)
        eps = args.rms_norm_eps
        self.input_layernorm = gemma.RMSNorm(args.hidden_size, eps=eps)
        self.post_attention_layernorm = gemma.RMSNorm(args.hidden_size, eps=eps)
        self.pre_feedforward_layernorm = gemma.RMSNorm(args.hidden_size, eps=eps)
        self.post_feedforward_layernorm = gemma.RMSNorm(args.hidden_size, eps=eps)

    def __call__(self, x, mask=None, cache: Optional[Any] = None):
        h = x + self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), mask, cache))
        return h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))


def make_layer_caches(model, is_sliding):
    """A KVCache per global layer and a RotatingKVCache of the window per sliding layer."""
    from .cache import KVCache, RotatingKVCache

    window = model.args.sliding_window
    return [
        RotatingKVCache(max_size=window) if window is not None and is_sliding(i) else KVCache()
        for i in range(len(model.layers))
    ]


class GemmaModel(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = [TransformerBlock(args) for _ in range(args.num_hidden_layers)]
        self.norm = gemma.RMSNorm(args.hidden_size, eps=args.rms_norm_eps)

    def __call__(self, inputs, cache=None, input_embeddings=None):
        h = gemma.scaled_embeddings(
            self.embed_tokens, inputs, self.args.hidden_size, input_embeddings, scale_dtype=None
        )
        if cache is None:
            cache = [None] * len(self.layers)
        window = self.args.sliding_window
        global_mask = create_attention_mask(h, cache[1] if len(cache) > 1 else cache[0])
        sliding_mask = global_mask
        if window is not None:
            sliding_mask = create_attention_mask(h, cache[0], window_size=window)
        for i, (layer, layer_cache) in enumerate(zip(self.layers, cache)):
            h = layer(h, sliding_mask if is_sliding_layer(i) else global_mask, layer_cache)
        return self.norm(h)


def is_sliding_layer(index):
    return index % 2 == 0


class Model(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.model_type = args.model_type
        self.final_logit_softcapping = args.final_logit_softcapping
        self.model = GemmaModel(args)

    def __call__(self, inputs, cache=None, input_embeddings=None):
        out = self.model.embed_tokens.as_linear(self.model(inputs, cache, input_embeddings))
        if self.final_logit_softcapping is not None:
            out = softcap(out, self.final_logit_softcapping)
        return out

    def sanitize(self, weights):
        return {k: v for k, v in weights.items() if k != "lm_head.weight" and "rotary_emb.inv_freq" not in k}

    def make_cache(self):
        return make_layer_caches(self, is_sliding_layer)

    @property
    def layers(self):
        return self.model.layers
