"""Embedding: a table of vectors indexed by integers."""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_array, check_features, check_positive_int
from lmx.nn.layers.base import Module

__all__ = ["Embedding"]


class Embedding(Module):
    """Maps integer indices to rows of ``weight`` (``num_embeddings, dims``), drawn from
    N(0, 1 / dims)."""

    def __init__(self, num_embeddings, dims):
        super().__init__()
        check_positive_int(num_embeddings, "num_embeddings", "Embedding")
        check_positive_int(dims, "dims", "Embedding")
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=math.sqrt(1.0 / dims))

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        check_array(x, "Embedding")
        if not mx.issubdtype(x.dtype, mx.integer):
            raise ValueError(f"[Embedding] Indices must be integers, got dtype {x.dtype}.")
        return self.weight[x]

    def as_linear(self, x):
        """``x @ weight.T``: scores against every embedding (for tied input and output weights)."""
        check_features(x, self.weight.shape[1], "Embedding")
        return x @ self.weight.T

    def to_quantized(self, group_size=None, bits=None, mode="affine", quantize_input=False):
        """A :class:`QuantizedEmbedding` holding this table quantized."""
        # Imported here: the quantized layers build on this module.
        from lmx.nn.layers.quantized import QuantizedEmbedding

        if quantize_input:  # a lookup has no input to quantize (as in MLX)
            raise ValueError("[Embedding] Quantized input is not supported.")
        return QuantizedEmbedding.from_embedding(self, group_size, bits, mode)
