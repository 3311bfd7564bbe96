"""Llama (and Mistral, which shares its layout): pre-norm decoder with RMSNorm, RoPE, GQA and a SwiGLU MLP."""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

import lmx.core as mx
import lmx.nn as nn

from .activations import swiglu
from .base import BaseModelArgs, create_attention_mask, scaled_dot_product_attention
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
    head_dim: Optional[int] = None
    max_position_embeddings: Optional[int] = None
    num_key_value_heads: Optional[int] = None
    attention_bias: bool = False
    mlp_bias: bool = False
    rope_theta: float = 10000
    rope_traditional: bool = False
    rope_scaling: Optional[Dict[str, Union[float, str]]] = None
    tie_word_embeddings: bool = True
    rope_parameters: Optional[Dict[str, Union[float, str]]] = None

    def __post_init__(self):
        complete_attention_args(self)


def complete_attention_args(args):
    """Default the key/value head count to the query heads and check the config's attention fields."""
    # transformers >= 5 nests rope_theta and the scaling under rope_parameters.
    rope_parameters = getattr(args, "rope_parameters", None)
    if rope_parameters:
        args.rope_theta = rope_parameters.get("rope_theta", args.rope_theta)
        if (rope_parameters.get("rope_type") or rope_parameters.get("type") or "default") != "default":
            args.rope_scaling = rope_parameters
    if args.num_key_value_heads is None:
        args.num_key_value_heads = args.num_attention_heads
    if args.num_key_value_heads <= 0 or args.num_attention_heads % args.num_key_value_heads != 0:
        raise ValueError(
            f"[{args.model_type}] num_attention_heads ({args.num_attention_heads}) must be a multiple of "
            f"num_key_value_heads ({args.num_key_value_heads})."
        )
    scaling = getattr(args, "rope_scaling", None)
    if scaling and (scaling.get("rope_type") or scaling.get("type")) in ("linear", "llama3", "yarn"):
        if "factor" not in scaling:
            raise ValueError(f"[{args.model_type}] rope_scaling must contain 'factor'.")


class Attention(nn.Module):
    """Multi-head attention with grouped key/value heads and RoPE.

    Variants of other architectures: ``qkv_bias`` / ``o_bias`` override ``attention_bias``
    (Qwen2 biases q/k/v only) and ``qk_norm`` adds per-head RMSNorms of queries and keys (Qwen3).
    """

    def __init__(self, args, qkv_bias=None, o_bias=None, qk_norm=False):
        super().__init__()
        dim = args.hidden_size
        self.n_heads = args.num_attention_heads
        self.n_kv_heads = args.num_key_value_heads
        self.head_dim = getattr(args, "head_dim", None) or args.hidden_size // self.n_heads
        self.scale = self.head_dim**-0.5
        attention_bias = getattr(args, "attention_bias", False)
        qkv_bias = attention_bias if qkv_bias is None else qkv_bias
        o_bias = attention_bias if o_bias is None else o_bias
        self.q_proj = nn.Linear(dim, self.n_heads * self.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(dim, self.n_kv_heads * self.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, dim, bias=o_bias)
        self.qk_norm = qk_norm
        if qk_norm:
            self.q_norm = nn.RMSNorm(self.head_dim, eps=args.rms_norm_eps)
            self.k_norm = nn.RMSNorm(self.head_dim, eps=args.rms_norm_eps)
        self.rope = initialize_rope(
            self.head_dim,
            args.rope_theta,
            getattr(args, "rope_traditional", False),
            args.rope_scaling,
            args.max_position_embeddings,
        )

    def __call__(self, x: mx.array, mask=None, cache: Optional[Any] = None) -> mx.array:
        B, L, _ = x.shape
        queries = self.q_proj(x).reshape(B, L, self.n_heads, -1)
        keys = self.k_proj(x).reshape(B, L, self.n_kv_heads, -1)
        values = self.v_proj(x).reshape(B, L, self.n_kv_heads, -1).transpose(0, 2, 1, 3)
        if self.qk_norm:
            queries, keys = self.q_norm(queries), self.k_norm(keys)
        queries, keys = queries.transpose(0, 2, 1, 3), keys.transpose(0, 2, 1, 3)
        if cache is not None:
            queries = self.rope(queries, offset=cache.offset)
            keys = self.rope(keys, offset=cache.offset)
            keys, values = cache.update_and_fetch(keys, values)
        else:
            queries = self.rope(queries)
            keys = self.rope(keys)
        output = scaled_dot_product_attention(queries, keys, values, cache=cache, scale=self.scale, mask=mask)
        return self.o_proj(output.transpose(0, 2, 1, 3).reshape(B, L, -1))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, dim, hidden_dim, bias=False):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=bias)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=bias)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=bias)

    def __call__(self, x) -> mx.array:
        return self.down_proj(swiglu(self.gate_proj(x), self.up_proj(x)))


def rms_norm(args):
    """The default norm factory: RMSNorm over the hidden size with the config's epsilon."""
    return nn.RMSNorm(args.hidden_size, eps=args.rms_norm_eps)


class TransformerBlock(nn.Module):
    """Pre-norm block; other architectures pass their own attention / MLP / norm modules."""

    def __init__(self, args, attention=None, mlp=None, make_norm=rms_norm):
        super().__init__()
        self.self_attn = attention if attention is not None else Attention(args)
        self.mlp = (
            mlp
            if mlp is not None
            else MLP(args.hidden_size, args.intermediate_size, bias=getattr(args, "mlp_bias", False))
        )
        self.input_layernorm = make_norm(args)
        self.post_attention_layernorm = make_norm(args)

    def __call__(self, x: mx.array, mask=None, cache: Optional[Any] = None) -> mx.array:
        h = x + self.self_attn(self.input_layernorm(x), mask, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    """Embedding, blocks and final norm; ``make_block(args, layer_index)`` builds each block."""

    def __init__(self, args, make_block=None, make_norm=rms_norm):
        super().__init__()
        make_block = make_block or (lambda block_args, _: TransformerBlock(block_args))
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = [make_block(args, i) for i in range(args.num_hidden_layers)]
        self.norm = make_norm(args)

    def __call__(self, inputs: mx.array, cache=None, input_embeddings: Optional[mx.array] = None):
        h = input_embeddings if input_embeddings is not None else self.embed_tokens(inputs)
        if cache is None:
            cache = [None] * len(self.layers)
        mask = create_attention_mask(h, cache[0])
        for layer, layer_cache in zip(self.layers, cache):
            h = layer(h, mask, cache=layer_cache)
        return self.norm(h)


class Model(nn.Module):
    """Causal LM head over :class:`LlamaModel` (tied to the embedding unless ``tie_word_embeddings`` is off)."""

    def __init__(self, args, make_block=None, make_norm=rms_norm):
        super().__init__()
        self.args = args
        self.model_type = args.model_type
        self.model = LlamaModel(args, make_block, make_norm)
        if not args.tie_word_embeddings:
            self.lm_head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)

    def __call__(self, inputs: mx.array, cache=None, input_embeddings: Optional[mx.array] = None):
        out = self.model(inputs, cache, input_embeddings)
        if self.args.tie_word_embeddings:
            return self.model.embed_tokens.as_linear(out)
        return self.lm_head(out)

    def sanitize(self, weights):
        # HF checkpoints may carry precomputed rotary tables; tied models may still ship lm_head.
        weights = {k: v for k, v in weights.items() if "self_attn.rotary_emb.inv_freq" not in k}
        if self.args.tie_word_embeddings:
            weights.pop("lm_head.weight", None)
        return weights

    @property
    def layers(self):
        return self.model.layers
