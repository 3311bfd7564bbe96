"""Mixtral: Llama/Mistral attention with a sparse mixture of SwiGLU experts in place of the MLP
(softmax over the router's top-k logits weights the chosen experts)."""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

import lmx.core as mx
import lmx.nn as nn

from . import llama
from .base import BaseModelArgs
from .switch_layers import SwitchGLU, stack_experts


@dataclass
class ModelArgs(BaseModelArgs):
    model_type: str
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_experts_per_tok: int = 2
    num_key_value_heads: Optional[int] = 8
    num_local_experts: int = 8
    rms_norm_eps: float = 1e-5
    rope_theta: float = 1e6
    rope_traditional: bool = False
    rope_scaling: Optional[Dict[str, Union[float, str]]] = None
    tie_word_embeddings: bool = False
    head_dim: Optional[int] = None
    max_position_embeddings: Optional[int] = None

    def __post_init__(self):
        llama.complete_attention_args(self)
        if not 0 < self.num_experts_per_tok <= self.num_local_experts:
            raise ValueError(
                f"[mixtral] num_experts_per_tok ({self.num_experts_per_tok}) must be between 1 and "
                f"num_local_experts ({self.num_local_experts})."
            )


def top_k_experts(router_logits, k):
    """Indices of the k largest router logits per token, in no particular order."""
    return mx.stop_gradient(mx.argpartition(-router_logits, kth=k - 1, axis=-1)[..., :k])


class SparseMoeBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.num_experts_per_tok = args.num_experts_per_tok
        self.gate = nn.Linear(args.hidden_size, args.num_local_experts, bias=False)
        self.switch_mlp = SwitchGLU(args.hidden_size, args.intermediate_size, args.num_local_experts)

    def __call__(self, x):
        router_logits = self.gate(x)
        indices = top_k_experts(router_logits, self.num_experts_per_tok)
        scores = mx.softmax(mx.take_along_axis(router_logits, indices, axis=-1), axis=-1, precise=True)
        return (self.switch_mlp(x, indices) * scores[..., None]).sum(axis=-2)


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.self_attn = llama.Attention(args)
        self.block_sparse_moe = SparseMoeBlock(args)
        self.input_layernorm = llama.rms_norm(args)
        self.post_attention_layernorm = llama.rms_norm(args)

    def __call__(self, x, mask=None, cache: Optional[Any] = None):
        h = x + self.self_attn(self.input_layernorm(x), mask, cache)
        return h + self.block_sparse_moe(self.post_attention_layernorm(h))


class Model(llama.Model):
    def __init__(self, args: ModelArgs):
        super().__init__(args, lambda block_args, _: TransformerBlock(block_args))

    def sanitize(self, weights):
        weights = super().sanitize(weights)
        # HF names the experts' gate, down and up projections w1, w2, w3.
        names = {"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}
        for layer in range(self.args.num_hidden_layers):
            prefix = f"model.layers.{layer}.block_sparse_moe"
            stack_experts(weights, prefix, self.args.num_local_experts, names)
        return weights
