"""Identity, Linear and Bilinear layers."""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_features, check_positive_int
from lmx.nn.layers.base import Module

__all__ = ["Bilinear", "Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged; constructor arguments are accepted and ignored
    (so it can stand in for any layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __call__(self, x):
        return x


def _uniform(scale, shape):
    return mx.random.uniform(low=-scale, high=scale, shape=shape)


class Linear(Module):
    """``y = x W^T + b`` with ``W`` of shape ``(output_dims, input_dims)``; ``W`` and ``b``
    start from U(-k, k), ``k = 1 / sqrt(input_dims)``."""

    def __init__(self, input_dims, output_dims, bias=True):
        super().__init__()
        check_positive_int(input_dims, "input_dims", "Linear")
        check_positive_int(output_dims, "output_dims", "Linear")
        scale = math.sqrt(1.0 / input_dims)
        self.weight = _uniform(scale, (output_dims, input_dims))
        if bias:
            self.bias = _uniform(scale, (output_dims,))

    def _extra_repr(self):
        return f"input_dims={self.weight.shape[1]}, output_dims={self.weight.shape[0]}, bias={'bias' in self}"

    def __call__(self, x):
        # Members by item: attribute access to a member goes through __getattr__
        # after a failed normal lookup, a cost paid per layer per token.
        weight = self["weight"]
        check_features(x, weight.shape[1], "Linear")
        if "bias" in self:
            return mx.addmm(self["bias"], x, weight.T)
        return x @ weight.T

    def to_quantized(self, group_size=None, bits=None, mode="affine", quantize_input=False):
        """A :class:`QuantizedLinear` holding this layer's weights quantized, or with
        ``quantize_input`` a :class:`QQLinear` (input and weight quantized)."""
        # Imported here: the quantized layers build on this module.
        from lmx.nn.layers.quantized import QQLinear, QuantizedLinear, check_activation_mode

        if quantize_input:
            check_activation_mode(mode, "Linear")
            return QQLinear.from_linear(self, group_size, bits, mode)
        return QuantizedLinear.from_linear(self, group_size, bits, mode)


class Bilinear(Module):
    """``y_i = x_2^T W_i x_1 + b_i`` with ``W`` of shape ``(output_dims, input2_dims,
    input1_dims)``; ``W`` and ``b`` start from U(-k, k), ``k = 1 / sqrt(input1_dims)``.
    Both inputs share their leading (batch) shape."""

    def __init__(self, input1_dims, input2_dims, output_dims, bias=True):
        super().__init__()
        for value, name in (
            (input1_dims, "input1_dims"),
            (input2_dims, "input2_dims"),
            (output_dims, "output_dims"),
        ):
            check_positive_int(value, name, "Bilinear")
        scale = math.sqrt(1.0 / input1_dims)
        self.weight = _uniform(scale, (output_dims, input2_dims, input1_dims))
        if bias:
            self.bias = _uniform(scale, (output_dims,))

    def _extra_repr(self):
        out, in2, in1 = self.weight.shape
        return f"input1_dims={in1}, input2_dims={in2}, output_dims={out}, bias={'bias' in self}"

    def __call__(self, x1, x2):
        out, in2, in1 = self.weight.shape
        check_features(x1, in1, "Bilinear")
        check_features(x2, in2, "Bilinear")
        batch = tuple(x1.shape[:-1])
        if tuple(x2.shape[:-1]) != batch:
            raise ValueError(
                f"[Bilinear] The inputs must share their leading dimensions, got shapes "
                f"{tuple(x1.shape)} and {tuple(x2.shape)}."
            )
        # (N, in1) -> (N, out, in2) through one matmul, then contract in2 with x2.
        z = x1.reshape(-1, in1) @ self.weight.reshape(out * in2, in1).T
        y = (z.reshape(-1, out, in2) @ x2.reshape(-1, in2, 1)).reshape(*batch, out)
        return y + self.bias if "bias" in self else y
