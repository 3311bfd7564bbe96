"""Qwen3: Llama's layout with an explicit head_dim and RMSNorm of each query and key head."""

from dataclasses import dataclass
from typing import Dict, Optional, Union

from . import llama
from .base import BaseModelArgs


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
    head_dim: Optional[int] = None
    max_position_embeddings: int = 32768
    rope_theta: float = 1000000
    rope_scaling: Optional[Dict[str, Union[float, str]]] = None
    rope_parameters: Optional[Dict[str, Union[float, str]]] = None
    tie_word_embeddings: bool = True
    attention_bias: bool = False

    def __post_init__(self):
        llama.complete_attention_args(self)


def _block(args, _):
    return llama.TransformerBlock(args, attention=llama.Attention(args, qk_norm=True))


class Model(llama.Model):
    def __init__(self, args: ModelArgs):
        super().__init__(args, _block)
