"""Loss functions (``mlx.nn.losses``)."""
