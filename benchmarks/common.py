"""Timing helpers shared by the benchmark scripts (not tests)."""

import time

try:
    import mlx.core as mlx
except ImportError:  # MLX's Linux build is optional
    mlx = None


def best_of(fn, repeat):
    """Fastest of `repeat` timed calls, after one warm-up call."""
    fn()  # warm-up (allocator cache, thread pool)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
