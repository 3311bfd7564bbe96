"""Gemma 3 (text): Gemma 2's sandwich-norm blocks with per-head q/k norms instead of soft-capping,
local sliding-window layers (their own RoPE base) interleaved with global layers every
``sliding_window_pattern`` layers (or as ``layer_types`` lists them)."""

import math
from dataclasses import dataclass
from typing import Any, List, Optional

import lmx.nn as nn

from . import gemma, gemma2, llama
from .base import BaseModelArgs, create_attention_mask, scaled_dot_product_attention
from .rope_utils import initialize_rope


@dataclass
class ModelArgs(BaseModelArgs):
    model_type: str
    hidden_size: int = 1152
    num_hidden_layers: int = 26
    intermediate_size: int = 6912
    num_attention_heads: int = 4
    head_dim: int = 256
    rms_norm_eps: float = 1.0e-6
    vocab_size: int = 262144
    num_key_value_heads: int = 1
    rope_theta: float = 1_000_000.0
    rope_local_base_freq: float = 10_000.0
    query_pre_attn_scalar: float = 256
    sliding_window: int = 512
    sliding_window_pattern: int = 6
    max_position_embeddings: int = 32768
    rope_scaling: Optional[dict] = None
    layer_types: Optional[List[str]] = None
    final_logit_softcapping: Optional[float] = None

    def __post_init__(self):
        llama.complete_attention_args(self)
        if self.layer_types is None:
            pattern = self.sliding_window_pattern
            self.layer_types = [
                "full_attention" if (i + 1) % pattern == 0 else "sliding_attention"
                for i in range(self.num_hidden_layers)
            ]
        if len(self.layer_types) != self.num_hidden_layers:
            raise ValueError(
                f"[gemma3_text] layer_types lists {len(self.layer_types)} layers, "
                f"num_hidden_layers is {self.num_hidden_layers}."
            )


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, is_sliding: bool):
        super().__init__()
        dim = args.hidden_size
        self.n_heads = args.num_attention_heads
        self.n_kv_heads = args.num_key_value_heads
        self.head_dim = args.head_dim
        self.scale = 1.0 / math.sqrt(args.query_pre_attn_scalar)
        self.is_sliding = is_sliding
        self.q_proj = nn.Linear(dim, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, dim, bias=False)
        self.q_norm = gemma.RMSNorm(self.head_dim, eps=args.rms_norm_eps)
        self.k_norm = gemma.RMSNorm(self.head_dim, eps=args.rms_norm_eps)
        # Local layers rotate with their own base and no context extension.
        if is_sliding:
            self.rope = initialize_rope(self.head_dim, args.rope_local_base_freq, False)
        else:
            self.rope = initialize_rope(
                self.head_dim, args.rope_theta, False, args.rope_scaling, args.max_position_embeddings
            )

    def __call__(self, x, mask=None, cache: Optional[Any] = None):
        B, L, _ = x.shape
        queries = self.q_norm(self.q_proj(x).reshape(B, L, self.n_heads, -1)).transpose(0, 2, 1, 3)
        keys = self.k_norm(self.k_proj(x).reshape(B, L, self.n_kv_heads, -1)).transpose(0, 2, 1, 3)
        values = self.v_proj(x).reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        offset = cache.offset if cache is not None else 0
        queries, keys = self.rope(queries, offset=offset), self.rope(keys, offset=offset)
        if cache is not None:
            keys, values = cache.update_and_fetch(keys, values)
        output = scaled_dot_product_attention(queries, keys, values, cache=cache, scale=self.scale, mask=mask)
        return self.o_proj(output.transpose(0, 2, 1, 3).reshape(B, L, -1))


class Gemma3Model(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = [
            gemma2.TransformerBlock(args, attention=Attention(args, kind == "sliding_attention"))
            for kind in args.layer_types
        ]
        self.norm = gemma.RMSNorm(args.hidden_size, eps=args.rms_norm_eps)

    def __call__(self, inputs, cache=None, input_embeddings=None):
        h = gemma.scaled_embeddings(self.embed_tokens, inputs, self.args.hidden_size, input_embeddings)
        if cache is None:
            cache = [None] * len(self.layers)
        sliding = [layer.self_attn.is_sliding for layer in self.layers]
        # Each kind's mask comes from a cache of that kind (windowed masks need the ring's layout).
        first_global = sliding.index(False) if False in sliding else None
        first_sliding = sliding.index(True) if True in sliding else None
        global_mask = create_attention_mask(h, cache[first_global]) if first_global is not None else None
        sliding_mask = None
        if first_sliding is not None:
            sliding_mask = create_attention_mask(
                h, cache[first_sliding], window_size=self.args.sliding_window
            )
        for layer, layer_cache, is_sliding in zip(self.layers, cache, sliding):
            h = layer(h, sliding_mask if is_sliding else global_mask, layer_cache)
        return self.norm(h)


class Model(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.model_type = args.model_type
        self.model = Gemma3Model(args)
        # Kept as its own layer (a copy of the embedding when the checkpoint ties them) so that
        # quantised exports that quantise it separately load unchanged.
        self.lm_head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)

    def __call__(self, inputs, cache=None, input_embeddings=None):
        out = self.lm_head(self.model(inputs, cache, input_embeddings))
        if self.args.final_logit_softcapping is not None:
            out = gemma2.softcap(out, self.args.final_logit_softcapping)
        return out

    def sanitize(self, weights):
        weights = {k: v for k, v in weights.items() if "rotary_emb.inv_freq" not in k}
        if "lm_head.weight" not in weights and "model.embed_tokens.weight" in weights:
            weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
        return weights

    def make_cache(self):
        return gemma2.make_layer_caches(self, lambda i: self.layers[i].self_attn.is_sliding)

    @property
    def layers(self):
        return self.model.layers
