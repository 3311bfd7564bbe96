"""Multi-head attention and the Transformer of "Attention Is All You Need": encoder and
decoder layers, their stacks, and the encoder-decoder model (inputs ``B, L, dims``)."""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_positive_int
from lmx.nn.layers.activations import relu
from lmx.nn.layers.base import Module
from lmx.nn.layers.dropout import Dropout
from lmx.nn.layers.linear import Linear
from lmx.nn.layers.normalization import LayerNorm
from lmx.nn.utils import checkpoint as checkpoint_module

__all__ = [
    "MultiHeadAttention",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]


def _check_divisible(name, value, num_heads):
    if value % num_heads != 0:
        raise ValueError(
            f"[MultiHeadAttention] {name} ({value}) must be divisible by the number of heads "
            f"({num_heads}): ({value} % {num_heads}) != 0."
        )


class MultiHeadAttention(Module):
    """Projects queries, keys and values (``B, L, *_input_dims``), attends with
    ``num_heads`` heads of ``dims / num_heads`` features and projects the result to
    ``value_output_dims``. ``mask`` is additive, boolean or "causal", broadcastable to
    ``(B, num_heads, L_queries, L_keys)``."""

    def __init__(
        self,
        dims,
        num_heads,
        query_input_dims=None,
        key_input_dims=None,
        value_input_dims=None,
        value_dims=None,
        value_output_dims=None,
        bias=False,
    ):
        super().__init__()
        check_positive_int(num_heads, "num_heads", "MultiHeadAttention")
        query_input_dims = query_input_dims or dims
        key_input_dims = key_input_dims or dims
        value_input_dims = value_input_dims or key_input_dims
        value_dims = value_dims or dims
        value_output_dims = value_output_dims or dims
        _check_divisible("dims", dims, num_heads)
        _check_divisible("value_dims", value_dims, num_heads)
        self.num_heads = num_heads
        self.query_proj = Linear(query_input_dims, dims, bias=bias)
        self.key_proj = Linear(key_input_dims, dims, bias=bias)
        self.value_proj = Linear(value_input_dims, value_dims, bias=bias)
        self.out_proj = Linear(value_dims, value_output_dims, bias=bias)

    def _check_inputs(self, queries, keys, values):
        for name, x, proj in (
            ("queries", queries, self.query_proj),
            ("keys", keys, self.key_proj),
            ("values", values, self.value_proj),
        ):
            expected = proj.weight.shape[1]
            if not isinstance(x, mx.array) or x.ndim != 3 or x.shape[-1] != expected:
                shape = tuple(x.shape) if isinstance(x, mx.array) else type(x).__name__
                raise ValueError(
                    f"[MultiHeadAttention] Expected {name} of shape (B, L, {expected}) but got {shape}."
                )
        if keys.shape[1] != values.shape[1]:
            raise ValueError(
                f"[MultiHeadAttention] keys and values must have the same length but got "
                f"{keys.shape[1]} and {values.shape[1]}."
            )

    def __call__(self, queries, keys, values, mask=None):
        self._check_inputs(queries, keys, values)

        def split_heads(x):
            batch, length, features = x.shape
            return x.reshape(batch, length, self.num_heads, features // self.num_heads).transpose(0, 2, 1, 3)

        queries = split_heads(self.query_proj(queries))
        keys = split_heads(self.key_proj(keys))
        values = split_heads(self.value_proj(values))
        if isinstance(mask, str) and mask != "causal":
            raise ValueError(f"[MultiHeadAttention] Unsupported mask '{mask}'; use 'causal' or an array.")
        # The fused kernel, as MLX: causal masks align the last query with the last key,
        # a boolean mask's False blocks a key, and the softmax runs in float32.
        scale = math.sqrt(1 / queries.shape[-1])
        heads = mx.fast.scaled_dot_product_attention(queries, keys, values, scale=scale, mask=mask)
        batch, _, length, _ = heads.shape
        return self.out_proj(heads.transpose(0, 2, 1, 3).reshape(batch, length, -1))

    @staticmethod
    def create_additive_causal_mask(N, dtype=mx.float32):
        """``(N, N)``: zero where key ``j <= i``, the dtype's lowest finite value elsewhere."""
        indices = mx.arange(N)
        blocked = indices[:, None] < indices[None, :]
        return blocked.astype(dtype) * mx.finfo(dtype).min


class TransformerEncoderLayer(Module):
    """Self-attention then an MLP (``dims -> mlp_dims -> dims``, default ``mlp_dims = 4 dims``),
    each with a residual connection and a LayerNorm before (``norm_first``) or after it."""

    def __init__(self, dims, num_heads, mlp_dims=None, dropout=0.0, activation=relu, norm_first=True):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout2(self.activation(self.linear1(x))))

    def __call__(self, x, mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.attention(y, y, y, mask))
            return x + self._mlp(self.ln2(x))
        x = self.ln1(x + self.dropout1(self.attention(x, x, x, mask)))
        return self.ln2(x + self._mlp(x))


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's ``memory``, then an MLP; each with a
    residual connection and a LayerNorm before (``norm_first``) or after it."""

    def __init__(self, dims, num_heads, mlp_dims=None, dropout=0.0, activation=relu, norm_first=True):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.self_attention = MultiHeadAttention(dims, num_heads)
        self.cross_attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.ln3 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout3(self.activation(self.linear1(x))))

    def __call__(self, x, memory, x_mask, memory_mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.self_attention(y, y, y, x_mask))
            y = self.ln2(x)
            x = x + self.dropout2(self.cross_attention(y, memory, memory, memory_mask))
            return x + self._mlp(self.ln3(x))
        x = self.ln1(x + self.dropout1(self.self_attention(x, x, x, x_mask)))
        x = self.ln2(x + self.dropout2(self.cross_attention(x, memory, memory, memory_mask)))
        return self.ln3(x + self._mlp(x))


class _LayerStack(Module):
    """``num_layers`` layers followed by a final LayerNorm; with ``checkpoint`` each layer
    recomputes its activations in the backward pass instead of keeping them."""

    _layer_type = None

    def __init__(
        self,
        num_layers,
        dims,
        num_heads,
        mlp_dims=None,
        dropout=0.0,
        activation=relu,
        norm_first=True,
        checkpoint=False,
    ):
        super().__init__()
        self.layers = [
            self._layer_type(dims, num_heads, mlp_dims, dropout, activation, norm_first)
            for _ in range(num_layers)
        ]
        self.ln = LayerNorm(dims)
        self.checkpoint = checkpoint

    def _run(self, x, *args):
        for layer in self.layers:
            x = checkpoint_module(layer)(x, *args) if self.checkpoint else layer(x, *args)
        return self.ln(x)


class TransformerEncoder(_LayerStack):
    """A stack of :class:`TransformerEncoderLayer` and a final LayerNorm."""

    _layer_type = TransformerEncoderLayer

    def __call__(self, x, mask):
        return self._run(x, mask)


class TransformerDecoder(_LayerStack):
    """A stack of :class:`TransformerDecoderLayer` and a final LayerNorm."""

    _layer_type = TransformerDecoderLayer

    def __call__(self, x, memory, x_mask, memory_mask):
        return self._run(x, memory, x_mask, memory_mask)


class Transformer(Module):
    """Encoder-decoder Transformer: ``decoder(tgt, encoder(src, src_mask), tgt_mask, memory_mask)``.
    ``custom_encoder`` / ``custom_decoder`` replace the default stacks (called the same way)."""

    def __init__(
        self,
        dims=512,
        num_heads=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
        mlp_dims=None,
        dropout=0.0,
        activation=relu,
        custom_encoder=None,
        custom_decoder=None,
        norm_first=True,
        checkpoint=False,
    ):
        super().__init__()
        # "is None", not "or": a module without members is an empty (falsy) dict.
        if custom_encoder is None:
            custom_encoder = TransformerEncoder(
                num_encoder_layers, dims, num_heads, mlp_dims, dropout, activation, norm_first, checkpoint
            )
        if custom_decoder is None:
            custom_decoder = TransformerDecoder(
                num_decoder_layers, dims, num_heads, mlp_dims, dropout, activation, norm_first, checkpoint
            )
        self.encoder = custom_encoder
        self.decoder = custom_decoder

    def __call__(self, src, tgt, src_mask, tgt_mask, memory_mask):
        memory = self.encoder(src, src_mask)
        return self.decoder(tgt, memory, tgt_mask, memory_mask)
