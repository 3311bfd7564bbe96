"""Quantized Linear and Embedding layers, and ``quantize`` to swap them into a model.

The packed weights are stored under MLX's parameter names (``weight`` as uint32,
``scales`` and, in affine mode, ``biases``; ``bias`` for the Linear offset), so
weights saved by MLX's quantized layers load unchanged. As in MLX the layers are
frozen when built: quantized weights are not trained.
"""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_array, check_features, check_positive_int
from lmx.nn.layers.base import Module
from lmx.utils import tree_map_with_path

__all__ = ["QQLinear", "QuantizedEmbedding", "QuantizedLinear", "quantize"]

# (group_size, bits) used when they are left out, per quantization mode (MLX's defaults).
_MODE_DEFAULTS = {
    "affine": (64, 4),
    "mxfp4": (32, 4),
    "nvfp4": (16, 4),
    "mxfp8": (32, 8),
}


def _resolve_config(group_size, bits, mode, layer):
    """(group_size, bits) with the mode's defaults filled in; ValueError for an unknown mode.
    Whether the mode and sizes are supported is left to ``mx.quantize``."""
    if mode not in _MODE_DEFAULTS:
        raise ValueError(
            f"[{layer}] Invalid quantization mode {mode!r}. Valid modes are: {', '.join(_MODE_DEFAULTS)}."
        )
    default_group_size, default_bits = _MODE_DEFAULTS[mode]
    group_size = default_group_size if group_size is None else group_size
    bits = default_bits if bits is None else bits
    check_positive_int(group_size, "group_size", layer)
    check_positive_int(bits, "bits", layer)
    return group_size, bits


class _QuantizedMatrix(Module):
    """Shared storage of a quantized ``(rows, columns)`` matrix: packed ``weight``,
    ``scales`` and (affine mode) ``biases``, plus the configuration to unpack them."""

    def _set_quantized(self, matrix, group_size, bits, mode):
        self.group_size, self.bits, self.mode = group_size, bits, mode
        packed = mx.quantize(matrix, group_size, bits, mode=mode)
        self.weight, self.scales = packed[0], packed[1]
        if len(packed) > 2:
            self.biases = packed[2]

    @property
    def _columns(self):
        """Columns of the unquantized matrix, from the packed width."""
        return self["weight"].shape[1] * 32 // self.bits

    def _config(self):
        return {"group_size": self.group_size, "bits": self.bits, "mode": self.mode}

    def _config_repr(self):
        return f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}"

    def _matmul(self, x):
        """``x @ W.T`` with the dequantized matrix ``W``, without materialising it."""
        # Members by item, as Linear: this runs per layer per token.
        return mx.quantized_matmul(
            x,
            self["weight"],
            self["scales"],
            self.get("biases"),
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )


class QuantizedLinear(_QuantizedMatrix):
    """``y = x W^T + b`` with ``W`` (``output_dims, input_dims``) stored quantized
    (see ``mx.quantize``). ``group_size`` and ``bits`` default to the mode's
    (64 and 4 for affine). Usually built from a trained layer with
    :meth:`from_linear` or :func:`quantize`. A new layer is wholly frozen."""

    def __init__(
        self,
        input_dims,
        output_dims,
        bias=True,
        group_size=None,
        bits=None,
        mode="affine",
    ):
        super().__init__()
        check_positive_int(input_dims, "input_dims", "QuantizedLinear")
        check_positive_int(output_dims, "output_dims", "QuantizedLinear")
        group_size, bits = _resolve_config(group_size, bits, mode, "QuantizedLinear")
        scale = math.sqrt(1.0 / input_dims)
        weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        self._set_quantized(weight, group_size, bits, mode)
        if bias:
            self.bias = mx.zeros((output_dims,))
        self.freeze()

    @classmethod
    def from_linear(cls, linear_layer, group_size=None, bits=None, mode="affine"):
        """A quantized copy of ``linear_layer`` (its ``weight`` and optional ``bias``)."""
        if not isinstance(getattr(linear_layer, "weight", None), mx.array) or linear_layer.weight.ndim != 2:
            raise ValueError("[QuantizedLinear] from_linear expects a layer with a 2-D 'weight' array.")
        group_size, bits = _resolve_config(group_size, bits, mode, "QuantizedLinear")
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer._set_quantized(linear_layer.weight, group_size, bits, mode)
        # As MLX: only the quantized matrix is frozen; a copied bias stays trainable.
        layer.freeze()
        if "bias" in linear_layer:
            layer.bias = linear_layer.bias
        return layer

    def _extra_repr(self):
        return (
            f"input_dims={self._columns}, output_dims={self.weight.shape[0]}, bias={'bias' in self}, "
            f"{self._config_repr()}"
        )

    def __call__(self, x):
        check_features(x, self._columns, "QuantizedLinear")
        y = self._matmul(x)
        return y + self["bias"] if "bias" in self else y


class QuantizedEmbedding(_QuantizedMatrix):
    """An :class:`Embedding` whose table (``num_embeddings, dims``) is stored quantized;
    looked-up rows are dequantized on the fly."""

    def __init__(self, num_embeddings, dims, group_size=None, bits=None, mode="affine"):
        super().__init__()
        check_positive_int(num_embeddings, "num_embeddings", "QuantizedEmbedding")
        check_positive_int(dims, "dims", "QuantizedEmbedding")
        group_size, bits = _resolve_config(group_size, bits, mode, "QuantizedEmbedding")
        weight = mx.random.normal(shape=(num_embeddings, dims), scale=math.sqrt(1.0 / dims))
        self._set_quantized(weight, group_size, bits, mode)
        self.freeze()

    @classmethod
    def from_embedding(cls, embedding_layer, group_size=None, bits=None, mode="affine"):
        """A quantized copy of ``embedding_layer``'s table."""
        if (
            not isinstance(getattr(embedding_layer, "weight", None), mx.array)
            or embedding_layer.weight.ndim != 2
        ):
            raise ValueError("[QuantizedEmbedding] from_embedding expects a layer with a 2-D 'weight' array.")
        group_size, bits = _resolve_config(group_size, bits, mode, "QuantizedEmbedding")
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer._set_quantized(embedding_layer.weight, group_size, bits, mode)
        layer.freeze()
        return layer

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self._columns}, {self._config_repr()}"

    def __call__(self, x):
        check_array(x, "QuantizedEmbedding")
        if not mx.issubdtype(x.dtype, mx.integer):
            raise ValueError(f"[QuantizedEmbedding] Indices must be integers, got dtype {x.dtype}.")
        biases = self["biases"][x] if "biases" in self else None
        return mx.dequantize(self.weight[x], self.scales[x], biases, **self._config())

    def as_linear(self, x):
        """``x @ weight.T`` with the dequantized table: scores against every embedding
        (for tied input and output weights)."""
        check_features(x, self._columns, "QuantizedEmbedding")
        return self._matmul(x)


# The modes whose products quantize the input too (``mx.qqmm``), as in MLX.
_ACTIVATION_MODES = ("nvfp4", "mxfp8")


def check_activation_mode(mode, layer):
    if mode not in _ACTIVATION_MODES:
        raise ValueError(
            f"[{layer}] Quantized activations are only supported for the 'nvfp4' and 'mxfp8' modes, got {mode!r}."
        )


class QQLinear(Module):
    """``y = q(x) q(W)^T``: the input is quantized on the fly as well as the weight
    ``W`` (``output_dims, input_dims``), through ``mx.qqmm``, in mode ``"nvfp4"``
    (default) or ``"mxfp8"``; there is no bias.

    In training mode ``W`` stays in floating point and is quantized on each call, so
    it takes gradients (straight through the rounding). ``eval()`` stores it
    quantized (``weight`` as uint32 and ``scales``); ``train()`` decodes it back."""

    def __init__(self, input_dims, output_dims, group_size=None, bits=None, mode="nvfp4"):
        super().__init__()
        check_positive_int(input_dims, "input_dims", "QQLinear")
        check_positive_int(output_dims, "output_dims", "QQLinear")
        check_activation_mode(mode, "QQLinear")
        self.group_size, self.bits = _resolve_config(group_size, bits, mode, "QQLinear")
        self.mode = mode
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        self._quantized = False

    def _extra_repr(self):
        rows, columns = self.weight.shape
        if self._quantized:
            columns = columns * 32 // self.bits
        return (
            f"input_dims={columns}, output_dims={rows}, group_size={self.group_size}, "
            f"bits={self.bits}, mode={self.mode}"
        )

    def quantize(self):
        """Stores the weight quantized (what evaluation mode uses)."""
        if not self._quantized:
            self.weight, self.scales = mx.quantize(self.weight, self.group_size, self.bits, mode=self.mode)
            self._quantized = True

    def dequantize(self):
        """Stores the weight decoded to floating point (what training mode uses)."""
        if self._quantized:
            self.weight = mx.dequantize(
                self.weight, self.scales, group_size=self.group_size, bits=self.bits, mode=self.mode
            )
            del self.scales
            self._quantized = False

    def _set_training_mode(self, mode):
        super()._set_training_mode(mode)
        if mode:
            self.dequantize()
        else:
            self.quantize()

    def __call__(self, x):
        check_array(x, "QQLinear")
        return mx.qqmm(
            x, self["weight"], self.get("scales"), group_size=self.group_size, bits=self.bits, mode=self.mode
        )

    @classmethod
    def from_linear(cls, linear_layer, group_size=None, bits=None, mode="nvfp4"):
        """A QQLinear with ``linear_layer``'s weight, in its training mode."""
        if not isinstance(getattr(linear_layer, "weight", None), mx.array) or linear_layer.weight.ndim != 2:
            raise ValueError("[QQLinear] from_linear expects a layer with a 2-D 'weight' array.")
        if linear_layer.get("bias") is not None:
            raise ValueError("[QQLinear] QQLinear has no bias; the layer to convert has one.")
        output_dims, input_dims = linear_layer.weight.shape
        layer = cls(input_dims, output_dims, group_size, bits, mode)
        layer.weight = linear_layer.weight
        layer.train(linear_layer.training)
        return layer


def quantize(
    model,
    group_size=None,
    bits=None,
    *,
    mode="affine",
    quantize_input=False,
    class_predicate=None,
):
    """Replaces, in place, the leaf modules of ``model`` selected by ``class_predicate``
    with their quantized version (``module.to_quantized(...)``).

    ``class_predicate(path, module)`` returns True (quantize with ``group_size``,
    ``bits``, ``mode``), False (leave it), or a dict of keyword arguments for
    ``to_quantized``. By default every module with a ``to_quantized`` method
    (Linear, Embedding) is quantized."""
    if class_predicate is None:
        class_predicate = lambda _, module: hasattr(module, "to_quantized")
    defaults = {
        "group_size": group_size,
        "bits": bits,
        "mode": mode,
        "quantize_input": quantize_input,
    }

    def maybe_quantize(path, module):
        choice = class_predicate(path, module)
        if not choice:
            return module
        if choice is not True and not isinstance(choice, dict):
            raise ValueError(
                f"[quantize] class_predicate must return a bool or a dict of parameters for "
                f"to_quantized, got {type(choice).__name__} for '{path}'."
            )
        if not hasattr(module, "to_quantized"):
            raise ValueError(f"[quantize] Unable to quantize '{path}' of type {type(module).__name__}.")
        return module.to_quantized(**(defaults if choice is True else choice))

    leaves = tree_map_with_path(maybe_quantize, model.leaf_modules(), is_leaf=Module.is_module)
    model.update_modules(leaves)
