"""Mixture-of-experts layers: each token runs through the experts its router picked.

Expert weights are stacked on a leading axis, (num_experts, out, in), and applied with
``mx.gather_mm`` / ``mx.gather_qmm`` using the tokens' expert indices, so no expert's
weights are copied per token. Long batches are sorted by expert first so that each expert's
matrix is read once per run of tokens.
"""

import math

import lmx.core as mx
import lmx.nn as nn
from lmx.nn.layers.quantized import _resolve_config

from . import activations

__all__ = ["QuantizedSwitchLinear", "SwitchGLU", "SwitchLinear", "SwitchMLP", "stack_experts"]

# Sorting tokens by expert pays off once there are this many (token, expert) pairs.
_SORT_THRESHOLD = 64


def _sort_by_expert(x, indices):
    """Flatten the (token, expert) pairs and order them by expert: (x rows, indices, order)."""
    k = indices.shape[-1]
    flat = indices.flatten()
    order = mx.argsort(flat)
    rows = x.reshape(-1, *x.shape[-2:])
    return rows[order // k], flat[order], order


def _unsort(x, order, shape):
    """Undo :func:`_sort_by_expert` and restore the (..., k) layout of the indices."""
    x = x[mx.argsort(order)]
    return x.reshape(*shape, *x.shape[1:])


class SwitchLinear(nn.Module):
    """``num_experts`` linear layers; ``layer(x, indices)`` applies expert ``indices[...]`` to ``x``."""

    def __init__(self, input_dims: int, output_dims: int, num_experts: int, bias: bool = True):
        super().__init__()
        scale = math.sqrt(1 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(num_experts, output_dims, input_dims))
        if bias:
            self.bias = mx.zeros((num_experts, output_dims))

    @property
    def input_dims(self):
        return self.weight.shape[2]

    @property
    def output_dims(self):
        return self.weight.shape[1]

    @property
    def num_experts(self):
        return self.weight.shape[0]

    def __call__(self, x, indices, sorted_indices=False):
        x = mx.gather_mm(x, self.weight.swapaxes(-1, -2), rhs_indices=indices, sorted_indices=sorted_indices)
        if "bias" in self:
            x = x + mx.expand_dims(self.bias[indices], -2)
        return x

    def to_quantized(self, group_size=None, bits=None, mode="affine", quantize_input=False):
        if quantize_input:
            raise ValueError("[SwitchLinear.to_quantized] quantize_input is not supported.")
        return QuantizedSwitchLinear.from_switch_linear(self, group_size, bits, mode)


class QuantizedSwitchLinear(nn.Module):
    """:class:`SwitchLinear` with each expert's matrix stored quantized (``mx.quantize`` layout)."""

    def __init__(
        self, input_dims, output_dims, num_experts, bias=True, group_size=None, bits=None, mode="affine"
    ):
        super().__init__()
        self._set_weight(mx.zeros((num_experts, output_dims, input_dims)), group_size, bits, mode)
        if bias:
            self.bias = mx.zeros((num_experts, output_dims))
        self.freeze()

    def _set_weight(self, weight, group_size, bits, mode):
        self.group_size, self.bits = _resolve_config(group_size, bits, mode, "QuantizedSwitchLinear")
        self.mode = mode
        packed = mx.quantize(weight, self.group_size, self.bits, mode=mode)
        self.weight, self.scales = packed[0], packed[1]
        if len(packed) > 2:
            self.biases = packed[2]

    @classmethod
    def from_switch_linear(cls, layer, group_size=None, bits=None, mode="affine"):
        quantized = cls.__new__(cls)
        nn.Module.__init__(quantized)
        quantized._set_weight(layer.weight, group_size, bits, mode)
        quantized.freeze()
        if "bias" in layer:
            quantized.bias = layer.bias
        return quantized

    @property
    def num_experts(self):
        return self.weight.shape[0]

    def __call__(self, x, indices, sorted_indices=False):
        x = mx.gather_qmm(
            x,
            self.weight,
            self.scales,
            self.get("biases"),
            rhs_indices=indices,
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
            sorted_indices=sorted_indices,
        )
        if "bias" in self:
            x = x + mx.expand_dims(self.bias[indices], -2)
        return x


def swiglu(x, gate):
    return activations.swiglu(gate, x)


class SwitchGLU(nn.Module):
    """Gated experts: down(activation(up(x), gate(x))) with per-token expert choices.

    ``x`` (..., D) and ``indices`` (..., k) give (..., k, D): one output per chosen expert.
    """

    def __init__(self, input_dims, hidden_dims, num_experts, activation=swiglu, bias=False):
        super().__init__()
        self.gate_proj = SwitchLinear(input_dims, hidden_dims, num_experts, bias=bias)
        self.up_proj = SwitchLinear(input_dims, hidden_dims, num_experts, bias=bias)
        self.down_proj = SwitchLinear(hidden_dims, input_dims, num_experts, bias=bias)
        self.activation = activation

    def __call__(self, x, indices):
        return _run_experts(
            x,
            indices,
            lambda h, idx, s: self.down_proj(
                self.activation(self.up_proj(h, idx, s), self.gate_proj(h, idx, s)), idx, s
            ),
        )


class SwitchMLP(nn.Module):
    """Ungated experts: fc2(activation(fc1(x)))."""

    def __init__(self, input_dims, hidden_dims, num_experts, activation=nn.gelu_approx, bias=False):
        super().__init__()
        self.fc1 = SwitchLinear(input_dims, hidden_dims, num_experts, bias=bias)
        self.fc2 = SwitchLinear(hidden_dims, input_dims, num_experts, bias=bias)
        self.activation = activation

    def __call__(self, x, indices):
        return _run_experts(
            x, indices, lambda h, idx, s: self.fc2(self.activation(self.fc1(h, idx, s)), idx, s)
        )


def _run_experts(x, indices, experts):
    """Apply ``experts(rows, indices, sorted)`` to each (token, chosen expert) pair of x."""
    x = mx.expand_dims(x, (-2, -3))  # (..., 1, 1, D): one row matrix per token
    if indices.size >= _SORT_THRESHOLD:
        rows, flat_indices, order = _sort_by_expert(x, indices)
        out = experts(rows, flat_indices, True)
        out = _unsort(out, order, indices.shape)
    else:
        out = experts(x, indices, False)
    return out.squeeze(-2)


def stack_experts(weights, prefix, num_experts, names):
    """Replace HF's per-expert matrices ``{prefix}.experts.{e}.{src}.{param}`` by stacked
    ``{prefix}.switch_mlp.{dst}.{param}`` arrays, for each ``src -> dst`` of ``names``.

    Checkpoints already stacked (mlx_lm exports) are left alone.
    """
    for src, dst in names.items():
        for param in ("weight", "scales", "biases", "bias"):
            first = f"{prefix}.experts.0.{src}.{param}"
            if first not in weights:
                continue
            keys = [f"{prefix}.experts.{e}.{src}.{param}" for e in range(num_experts)]
            missing = [k for k in keys if k not in weights]
            if missing:
                raise ValueError(
                    f"[sanitize] Expert weights missing from the checkpoint: {', '.join(missing[:4])}."
                )
            weights[f"{prefix}.switch_mlp.{dst}.{param}"] = mx.stack([weights.pop(k) for k in keys])
    return weights
