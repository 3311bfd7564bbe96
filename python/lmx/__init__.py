"""lmx: MLX's programming model for Linux CPUs and NVIDIA GPUs."""

__version__ = "0.1.0"
