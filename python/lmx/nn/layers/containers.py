"""Sequential: layers applied one after the other."""

from lmx.nn.layers.base import Module

__all__ = ["Sequential"]


class Sequential(Module):
    """Calls its layers (modules or any callables) in order, each on the previous output.
    They are kept in the member ``layers``, so their parameters are ``layers.0...``."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
