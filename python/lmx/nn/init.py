"""Parameter initialisers (``mlx.nn.init``)."""
