"""Training helpers of ``mlx.nn``: value_and_grad over a model, average_gradients."""

__all__ = []
