"""StarCoder2: LayerNorm blocks with biased attention and a biased GELU MLP (c_fc / c_proj)."""

from dataclasses import dataclass
from typing import Optional

import lmx.nn as nn

from . import llama
from .base import BaseModelArgs


@dataclass
class ModelArgs(BaseModelArgs):
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: Optional[int] = None
    norm_epsilon: float = 1e-5
    vocab_size: int = 49152
    rope_theta: float = 100000
    tie_word_embeddings: bool = True
    max_position_embeddings: Optional[int] = None
    rope_scaling: Optional[dict] = None

    def __post_init__(self):
        llama.complete_attention_args(self)


class MLP(nn.Module):
    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.c_fc = nn.Linear(dim, hidden_dim, bias=True)
        self.c_proj = nn.Linear(hidden_dim, dim, bias=True)

    def __call__(self, x):
        # HF's config names gelu_pytorch_tanh; mlx_lm (whose exports this must reproduce) uses exact GELU.
        return self.c_proj(nn.gelu(self.c_fc(x)))


def _layer_norm(args):
    return nn.LayerNorm(args.hidden_size, eps=args.norm_epsilon)


def _block(args, _):
    return llama.TransformerBlock(
        args,
        attention=llama.Attention(args, qkv_bias=True, o_bias=True),
        mlp=MLP(args.hidden_size, args.intermediate_size),
        make_norm=_layer_norm,
    )


class Model(llama.Model):
    def __init__(self, args: ModelArgs):
        super().__init__(args, _block, _layer_norm)
