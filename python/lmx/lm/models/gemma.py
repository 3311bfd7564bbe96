"""Gemma: Llama-like blocks with (1 + w) RMSNorm, GeGLU MLP, sqrt(hidden)-scaled embeddings, tied output."""

from dataclasses import dataclass
from typing import Any, Optional

import lmx.core as mx
import lmx.nn as nn

from . import llama
from .base import BaseModelArgs, create_attention_mask


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
    max_position_embeddings: Optional[int] = None
    rope_scaling: Optional[dict] = None

    def __post_init__(self):
        llama.complete_attention_args(self)


class RMSNorm(nn.Module):
    """Gemma's RMSNorm: checkpoints store w and the scale applied is 1 + w."""

    def __init__(self, dims: int, eps: float = 1e-6):
        super().__init__()
        self.weight = mx.ones((dims,))
        self.eps = eps

    def __call__(self, x):
        return mx.fast.rms_norm(x, 1.0 + self.weight, self.eps)


class MLP(nn.Module):
    """GeGLU. Gemma 2 and 3 use the tanh approximation of GELU (HF's gelu_pytorch_tanh); Gemma's
    config says "gelu", which mlx_lm evaluates exactly."""

    def __init__(self, dim, hidden_dim, activation=nn.gelu_approx):
        super().__init__()
        self.activation = activation
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)

    def __call__(self, x):
        return self.down_proj(self.activation(self.gate_proj(x)) * self.up_proj(x))


def scaled_embeddings(embed_tokens, inputs, hidden_size, input_embeddings=None, scale_dtype=mx.bfloat16):
    """Token embeddings times sqrt(hidden_size).

    The scale is rounded to ``scale_dtype`` first: the released checkpoints ran in bfloat16 and
    mlx_lm rounds it so for Gemma 3; None (Gemma, Gemma 2) rounds to the activations' dtype, as HF.
    """
    h = input_embeddings if input_embeddings is not None else embed_tokens(inputs)
    scale = mx.array(hidden_size**0.5, dtype=scale_dtype or h.dtype)
    return h * scale.astype(h.dtype)


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.self_attn = llama.Attention(args)
        self.mlp = MLP(args.hidden_size, args.intermediate_size, activation=nn.gelu)
        self.input_layernorm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)

    def __call__(self, x, mask=None, cache: Optional[Any] = None):
        h = x + self.self_attn(self.input_layernorm(x), mask, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class GemmaModel(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = [TransformerBlock(args) for _ in range(args.num_hidden_layers)]
        self.norm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)

    def __call__(self, inputs, cache=None, input_embeddings=None):
        h = scaled_embeddings(
            self.embed_tokens, inputs, self.args.hidden_size, input_embeddings, scale_dtype=None
        )
        if cache is None:
            cache = [None] * len(self.layers)
        mask = create_attention_mask(h, cache[0])
        for layer, layer_cache in zip(self.layers, cache):
            h = layer(h, mask, layer_cache)
        return self.norm(h)


class Model(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.model_type = args.model_type
        self.model = GemmaModel(args)

    def __call__(self, inputs, cache=None, input_embeddings=None):
        return self.model.embed_tokens.as_linear(self.model(inputs, cache, input_embeddings))

    def sanitize(self, weights):
        # The output layer is the embedding; drop a copy some exports still carry.
        return {k: v for k, v in weights.items() if k != "lm_head.weight" and "rotary_emb.inv_freq" not in k}

    @property
    def layers(self):
        return self.model.layers
