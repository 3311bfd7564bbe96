"""Phi-3: Llama's block with fused projections (qkv_proj, gate_up_proj), partial rotary
embeddings and LongRoPE ("longrope" / "su") context extension."""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

import lmx.core as mx
import lmx.nn as nn

from . import llama
from .activations import swiglu
from .base import BaseModelArgs, scaled_dot_product_attention
from .rope_utils import initialize_rope


@dataclass
class ModelArgs(BaseModelArgs):
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    rms_norm_eps: float
    vocab_size: int
    num_key_value_heads: Optional[int] = None
    rope_theta: float = 10000
    rope_traditional: bool = False
    rope_scaling: Optional[Dict[str, Union[float, str, List[float]]]] = None
    partial_rotary_factor: float = 1.0
    max_position_embeddings: int = 131072
    original_max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False

    def __post_init__(self):
        llama.complete_attention_args(self)
        if self.rope_scaling:
            kind = self.rope_scaling.get("type") or self.rope_scaling.get("rope_type")
            if kind in ("longrope", "su"):
                missing = {"short_factor", "long_factor"} - set(self.rope_scaling)
                if missing:
                    raise ValueError(f"[phi3] rope_scaling of type '{kind}' needs {sorted(missing)}.")


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        dim = args.hidden_size
        self.n_heads = args.num_attention_heads
        self.n_kv_heads = args.num_key_value_heads
        self.head_dim = dim // self.n_heads
        self.scale = self.head_dim**-0.5
        self.qkv_proj = nn.Linear(dim, (self.n_heads + 2 * self.n_kv_heads) * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, dim, bias=False)
        scaling = args.rope_scaling
        if scaling is not None:
            # LongRoPE reads the pre-extension context length from the top-level config.
            scaling = {"original_max_position_embeddings": args.original_max_position_embeddings, **scaling}
        self.rope = initialize_rope(
            int(self.head_dim * args.partial_rotary_factor),
            args.rope_theta,
            args.rope_traditional,
            scaling,
            args.max_position_embeddings,
        )

    def __call__(self, x, mask=None, cache: Optional[Any] = None):
        B, L, _ = x.shape
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        queries, keys, values = mx.split(self.qkv_proj(x), [q_size, q_size + kv_size], axis=-1)
        queries = queries.reshape(B, L, self.n_heads, -1).transpose(0, 2, 1, 3)
        keys = keys.reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        values = values.reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        offset = cache.offset if cache is not None else 0
        queries, keys = self.rope(queries, offset=offset), self.rope(keys, offset=offset)
        if cache is not None:
            keys, values = cache.update_and_fetch(keys, values)
        output = scaled_dot_product_attention(queries, keys, values, cache=cache, scale=self.scale, mask=mask)
        return self.o_proj(output.transpose(0, 2, 1, 3).reshape(B, L, -1))


class MLP(nn.Module):
    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.gate_up_proj = nn.Linear(dim, 2 * hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)

    def __call__(self, x):
        gate, up = mx.split(self.gate_up_proj(x), 2, axis=-1)
        return self.down_proj(swiglu(gate, up))


def _block(args, _):
    return llama.TransformerBlock(
        args, attention=Attention(args), mlp=MLP(args.hidden_size, args.intermediate_size)
    )


class Model(llama.Model):
    def __init__(self, args: ModelArgs):
        super().__init__(args, _block)
