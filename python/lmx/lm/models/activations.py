"""Activations the model files share, compiled so that each is one fused
kernel rather than a chain of elementwise ops (as mlx-lm does)."""

from functools import partial

import lmx.core as mx
import lmx.nn as nn


@partial(mx.compile, shapeless=True)
def swiglu(gate, x):
    """silu(gate) * x: the gated activation of SwiGLU MLPs."""
    return nn.silu(gate) * x
