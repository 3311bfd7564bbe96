"""Recurrent layers over ``(N, L, D)`` or unbatched ``(L, D)`` sequences: ``RNN``, ``GRU``, ``LSTM``.

Each returns the hidden state after every step (``N, L, H`` or ``L, H``). The input
projections of all steps are one matrix product before the loop; only the hidden
state's product runs step by step. Weights and biases start as U(-1/sqrt(H), 1/sqrt(H)).
"""

import math

import lmx.core as mx
from lmx.nn.layers._checks import check_array, check_positive_int
from lmx.nn.layers.base import Module

__all__ = ["RNN", "GRU", "LSTM"]


class _Recurrent(Module):
    """Shared argument checks and input projection of the recurrent layers."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        check_positive_int(input_size, "input_size", type(self).__name__)
        check_positive_int(hidden_size, "hidden_size", type(self).__name__)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self._scale = 1 / math.sqrt(hidden_size)

    def _uniform(self, *shape):
        return mx.random.uniform(low=-self._scale, high=self._scale, shape=shape)

    def _extra_repr(self):
        return f"input_dims={self.input_size}, hidden_size={self.hidden_size}, bias={self._has_bias()}"

    def _project_inputs(self, x, weight, bias_name, states):
        """``x @ weight.T (+ bias)`` for every step, after checking ``x`` and the initial ``states``."""
        layer = type(self).__name__
        check_array(x, layer)
        if x.ndim < 2 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"[{layer}] Expected input of shape (N, L, {self.input_size}) or (L, {self.input_size}) "
                f"but got {tuple(x.shape)}."
            )
        if x.shape[-2] == 0:
            raise ValueError(f"[{layer}] The input sequence is empty (shape {tuple(x.shape)}).")
        for name, state in states.items():
            if state is not None and (
                not isinstance(state, mx.array) or state.shape[-1:] != (self.hidden_size,)
            ):
                shape = tuple(state.shape) if isinstance(state, mx.array) else type(state).__name__
                raise ValueError(
                    f"[{layer}] Expected {name} with last dimension {self.hidden_size} but got {shape}."
                )
        if bias_name in self:
            return mx.addmm(self[bias_name], x, weight.T)
        return x @ weight.T


class RNN(_Recurrent):
    """Elman recurrence ``h_t = nonlinearity(W_xh x_t + W_hh h_{t-1} + bias)``
    (``nonlinearity`` defaults to ``tanh``)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity=None):
        super().__init__(input_size, hidden_size)
        if nonlinearity is not None and not callable(nonlinearity):
            raise ValueError(f"[RNN] nonlinearity must be callable or None but got {nonlinearity!r}.")
        self.nonlinearity = nonlinearity or mx.tanh
        self.Wxh = self._uniform(hidden_size, input_size)
        self.Whh = self._uniform(hidden_size, hidden_size)
        if bias:
            self.bias = self._uniform(hidden_size)

    def _has_bias(self):
        return "bias" in self

    def _extra_repr(self):
        return (
            f"input_dims={self.input_size}, hidden_size={self.hidden_size}, "
            f"nonlinearity={self.nonlinearity}, bias={self._has_bias()}"
        )

    def __call__(self, x, hidden=None):
        inputs = self._project_inputs(x, self.Wxh, "bias", {"hidden": hidden})
        states = []
        for t in range(inputs.shape[-2]):
            pre_activation = inputs[..., t, :]
            if hidden is not None:
                pre_activation = pre_activation + hidden @ self.Whh.T
            hidden = self.nonlinearity(pre_activation)
            states.append(hidden)
        return mx.stack(states, axis=-2)


class GRU(_Recurrent):
    """Gated recurrent unit; the rows of ``Wx``/``Wh``/``b`` are the reset, update and
    candidate gates, and ``bhn`` biases the hidden state's candidate term:

    ``r, z = sigmoid(W_x{r,z} x + W_h{r,z} h + b_{r,z})``,
    ``n = tanh(W_xn x + b_n + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.
    """

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size)
        self.Wx = self._uniform(3 * hidden_size, input_size)
        self.Wh = self._uniform(3 * hidden_size, hidden_size)
        if bias:
            self.b = self._uniform(3 * hidden_size)
            self.bhn = self._uniform(hidden_size)

    def _has_bias(self):
        return "b" in self

    def __call__(self, x, hidden=None):
        inputs = self._project_inputs(x, self.Wx, "b", {"hidden": hidden})
        size = self.hidden_size
        bias_hn = self.bhn if "bhn" in self else 0
        states = []
        for t in range(inputs.shape[-2]):
            x_rz, x_n = inputs[..., t, : 2 * size], inputs[..., t, 2 * size :]
            if hidden is None:
                rz, h_n = mx.sigmoid(x_rz), bias_hn
            else:
                h_proj = hidden @ self.Wh.T
                rz, h_n = mx.sigmoid(x_rz + h_proj[..., : 2 * size]), h_proj[..., 2 * size :] + bias_hn
            reset, update = rz[..., :size], rz[..., size:]
            candidate = mx.tanh(x_n + reset * h_n)
            hidden = (
                (1 - update) * candidate if hidden is None else (1 - update) * candidate + update * hidden
            )
            states.append(hidden)
        return mx.stack(states, axis=-2)


class LSTM(_Recurrent):
    """Long short-term memory; the rows of ``Wx``/``Wh``/``bias`` are the input, forget,
    cell and output gates. Returns ``(hidden states, cell states)``, one per step."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size)
        self.Wx = self._uniform(4 * hidden_size, input_size)
        self.Wh = self._uniform(4 * hidden_size, hidden_size)
        if bias:
            self.bias = self._uniform(4 * hidden_size)

    def _has_bias(self):
        return "bias" in self

    def __call__(self, x, hidden=None, cell=None):
        inputs = self._project_inputs(x, self.Wx, "bias", {"hidden": hidden, "cell": cell})
        size = self.hidden_size
        hidden_states, cell_states = [], []
        for t in range(inputs.shape[-2]):
            gates = inputs[..., t, :]
            if hidden is not None:
                gates = gates + hidden @ self.Wh.T
            input_gate = mx.sigmoid(gates[..., :size])
            forget_gate = mx.sigmoid(gates[..., size : 2 * size])
            cell_input = mx.tanh(gates[..., 2 * size : 3 * size])
            output_gate = mx.sigmoid(gates[..., 3 * size :])
            cell = input_gate * cell_input if cell is None else forget_gate * cell + input_gate * cell_input
            hidden = output_gate * mx.tanh(cell)
            hidden_states.append(hidden)
            cell_states.append(cell)
        return mx.stack(hidden_states, axis=-2), mx.stack(cell_states, axis=-2)
