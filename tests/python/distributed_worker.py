"""One process of a distributed test (test_distributed.py launches several
with ``python -m lmx.launch``). Each case checks its results on every rank and
exits non-zero, with a message, when one is wrong."""

import sys

import numpy as np

import lmx.core as mx
import lmx.nn as nn

group = mx.distributed.init(strict=True)
rank, size = group.rank(), group.size()
dist = mx.distributed


def rank_data(shape, dtype, r):
    """Deterministic data of rank r (small integers: exact in every dtype)."""
    n = int(np.prod(shape))
    values = (np.arange(n) * 7 + 3 * r) % 23 - 11
    return mx.array(values.reshape(shape).astype(np.float32)).astype(dtype)


def check(got, expected, what):
    got = np.array(got.astype(mx.float32)) if got.dtype in (mx.bfloat16,) else np.array(got)
    if got.shape != np.shape(expected) or not np.array_equal(got, expected):
        sys.exit(f"rank {rank}: {what}: got {got.tolist()}, expected {np.asarray(expected).tolist()}")


def collectives():
    for dtype in (mx.float32, mx.int32, mx.float16, mx.bfloat16, mx.int64):
        for shape in ((10,), (3, 5), (), (0,), (2 * size + 1, 2), (40000,)):
            x = rank_data(shape, dtype, rank)
            every = [np.array(rank_data(shape, dtype, r).astype(mx.float32)) for r in range(size)]
            total = sum(every)  # small integers: exact in float32, as on a GPU (no float64 there)
            name = f"{dtype} {shape}"
            check(dist.all_sum(x).astype(mx.float32), total, "all_sum " + name)
            check(dist.all_max(x).astype(mx.float32), np.max(every, 0).astype(np.float32), "all_max " + name)
            check(dist.all_min(x).astype(mx.float32), np.min(every, 0).astype(np.float32), "all_min " + name)
            gathered = np.concatenate([np.reshape(e, (-1,) + np.shape(e)[1:]) if np.ndim(e) else e[None] for e in every])
            check(dist.all_gather(x).astype(mx.float32), gathered.astype(np.float32), "all_gather " + name)
            if len(shape) and shape[0] % size == 0:
                chunk = shape[0] // size
                check(dist.sum_scatter(x).astype(mx.float32), total[rank * chunk : (rank + 1) * chunk],
                      "sum_scatter " + name)
    # Every rank agrees on the bits of a float sum.
    noise = mx.random.normal((1000,), key=mx.random.key(rank))
    bits = dist.all_sum(noise).view(mx.uint32)
    check(dist.all_max(bits.astype(mx.int64)) - dist.all_min(bits.astype(mx.int64)), np.zeros(1000), "same bits")


def point_to_point():
    right, left = (rank + 1) % size, (rank - 1) % size
    x = rank_data((4, 3), mx.float32, rank)
    # Even ranks send first, odd ranks receive first: no two sends wait on each other.
    if rank % 2 == 0:
        mx.eval(dist.send(x, right))
        got = dist.recv_like(x, left)
    else:
        got = dist.recv((4, 3), mx.float32, left)
        mx.eval(got)
        mx.eval(dist.send(x, right))
    check(got, np.array(rank_data((4, 3), mx.float32, left)), "recv")


def gradients():
    x = mx.array(np.full((3,), rank + 1.0, np.float32))
    g = mx.grad(lambda x: (dist.all_sum(x) ** 2).sum())(x)
    s = sum(r + 1.0 for r in range(size))
    check(g, np.full((3,), 2 * s * size, np.float32), "grad of all_sum")
    g = mx.grad(lambda x: (dist.all_gather(x) * (rank + 1)).sum())(x)
    check(g, np.full((3,), s, np.float32), "grad of all_gather")
    tree = {"w": mx.full((5, 3), float(rank)), "b": [mx.full((7,), 2.0 * rank, mx.bfloat16)]}
    mean = (size - 1) / 2
    for batch in (0, 16, 1 << 20):
        avg = nn.average_gradients(tree, all_reduce_size=batch)
        check(avg["w"], np.full((5, 3), mean, np.float32), f"average_gradients w ({batch})")
        check(avg["b"][0], np.full((7,), 2 * mean, np.float32), f"average_gradients b ({batch})")
        assert avg["b"][0].dtype == mx.bfloat16


def peer_exits():
    # Rank 1 leaves; the others must get an error, not wait forever.
    if rank == 1:
        sys.exit(0)
    try:
        mx.eval(dist.all_sum(mx.ones((1 << 16,))))
    except RuntimeError as e:  # the peer's end closed, or a send to it broke
        if "[distributed] ring" not in str(e):
            sys.exit(f"rank {rank}: unexpected error {e}")
        print(f"rank {rank}: peer exit detected")
        return
    sys.exit(f"rank {rank}: all_sum with a departed peer did not raise")


def errors():
    for bad in (lambda: dist.send(mx.ones(3), rank), lambda: dist.recv((2,), mx.float32, size),
                lambda: dist.sum_scatter(mx.ones((size + 1,))) if size > 1 else None,
                lambda: dist.all_max(mx.ones(2, mx.complex64)), lambda: group.split(0)):
        try:
            bad()
        except ValueError:
            continue
        sys.exit(f"rank {rank}: a bad call did not raise ValueError")


{"collectives": collectives, "point_to_point": point_to_point, "gradients": gradients,
 "peer_exits": peer_exits, "errors": errors}[sys.argv[1]]()
print(f"rank {rank} of {size}: {sys.argv[1]} ok")
