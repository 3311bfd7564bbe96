"""Qwen3-MoE: Qwen3 attention with sparse SwiGLU experts (softmax router, optionally renormalised
top-k weights) on the layers ``decoder_sparse_step`` / ``mlp_only_layers`` select, dense MLPs elsewhere."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import lmx.core as mx
import lmx.nn as nn

from . import llama
from .base import BaseModelArgs
from .mixtral import top_k_experts
from .switch_layers import SwitchGLU, stack_experts


@dataclass
class ModelArgs(BaseModelArgs):
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    num_experts: int
    num_experts_per_tok: int
    moe_intermediate_size: int
    rms_norm_eps: float
    vocab_size: int
    num_key_value_heads: Optional[int] = None
    head_dim: Optional[int] = None
    decoder_sparse_step: int = 1
    mlp_only_layers: List[int] = field(default_factory=list)
    rope_theta: float = 1000000
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 32768
    norm_topk_prob: bool = False
    rope_scaling: Optional[Dict[str, Union[float, str]]] = None
    rope_parameters: Optional[Dict[str, Union[float, str]]] = None

    def __post_init__(self):
        llama.complete_attention_args(self)
        if not 0 < self.num_experts_per_tok <= self.num_experts:
            raise ValueError(
                f"[qwen3_moe] num_experts_per_tok ({self.num_experts_per_tok}) must be between 1 and "
                f"num_experts ({self.num_experts})."
            )

    def is_sparse_layer(self, index):
        return (
            index not in self.mlp_only_layers
            and self.num_experts > 0
            and (index + 1) % self.decoder_sparse_step == 0
        )


class SparseMoeBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.top_k = args.num_experts_per_tok
        self.norm_topk_prob = args.norm_topk_prob
        self.gate = nn.Linear(args.hidden_size, args.num_experts, bias=False)
        self.switch_mlp = SwitchGLU(args.hidden_size, args.moe_intermediate_size, args.num_experts)

    def __call__(self, x):
        probabilities = mx.softmax(self.gate(x), axis=-1, precise=True)
        indices = top_k_experts(probabilities, self.top_k)
        scores = mx.take_along_axis(probabilities, indices, axis=-1)
        if self.norm_topk_prob:
            scores = scores / scores.sum(axis=-1, keepdims=True)
        return (self.switch_mlp(x, indices) * scores[..., None]).sum(axis=-2)


def _block(args, index):
    if args.is_sparse_layer(index):
        mlp = SparseMoeBlock(args)
    else:
        mlp = llama.MLP(args.hidden_size, args.intermediate_size)
    return llama.TransformerBlock(args, attention=llama.Attention(args, qk_norm=True), mlp=mlp)


class Model(llama.Model):
    def __init__(self, args: ModelArgs):
        super().__init__(args, _block)

    @property
    def quant_predicate(self):
        """Keep the routers at 8 bits: their small logit differences decide which experts run."""

        def predicate(path, _):
            return {"group_size": 64, "bits": 8} if path.endswith("mlp.gate") else True

        return predicate

    def sanitize(self, weights):
        weights = super().sanitize(weights)
        names = {name: name for name in ("gate_proj", "up_proj", "down_proj")}
        for layer in range(self.args.num_hidden_layers):
            if self.args.is_sparse_layer(layer):
                stack_experts(weights, f"model.layers.{layer}.mlp", self.args.num_experts, names)
        return weights
