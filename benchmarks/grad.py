"""value_and_grad of a 4-layer MLP (batch 256, width 1024) and of a 2-layer
transformer block stack, lmx against PyTorch CPU autograd and MLX's Linux
build when importable, measured in the same run. Prints milliseconds per
step and peer_time / lmx_time (above 1 means lmx is faster). Not a test.

    PYTHONPATH=python python benchmarks/grad.py [--repeat 10]
"""

import argparse

import numpy as np
from common import best_of, mlx

import lmx.core as mx
import lmx.nn as nn

try:
    import torch
except ImportError:  # PyTorch is an optional peer
    torch = None

BATCH, WIDTH, DEPTH = 256, 1024, 4
SEQ, DIM, HEADS, BLOCKS, TOKENS = 128, 256, 4, 2, 8  # the transformer case


def mlp_case(core, nn_mod, rng):
    layers = []
    for _ in range(DEPTH - 1):
        layers += [nn_mod.Linear(WIDTH, WIDTH), nn_mod.ReLU()]
    model = nn_mod.Sequential(*layers, nn_mod.Linear(WIDTH, 10))
    x = core.array(rng.standard_normal((BATCH, WIDTH)).astype(np.float32))
    y = core.array(rng.integers(0, 10, BATCH).astype(np.int32))
    loss = lambda m, x, y: nn_mod.losses.cross_entropy(m(x), y, reduction="mean")
    step = nn_mod.value_and_grad(model, loss)
    core.eval(model.parameters())
    return lambda: core.eval(step(model, x, y))


def transformer_case(core, nn_mod, rng):
    model = nn_mod.TransformerEncoder(BLOCKS, DIM, HEADS, mlp_dims=4 * DIM)
    x = core.array(rng.standard_normal((TOKENS, SEQ, DIM)).astype(np.float32))
    mask = nn_mod.MultiHeadAttention.create_additive_causal_mask(SEQ)
    loss = lambda m, x: (m(x, mask) ** 2).mean()
    step = nn_mod.value_and_grad(model, loss)
    core.eval(model.parameters())
    return lambda: core.eval(step(model, x))


def torch_mlp(rng):
    layers = []
    for _ in range(DEPTH - 1):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(WIDTH, 10))
    x = torch.tensor(rng.standard_normal((BATCH, WIDTH)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, BATCH))

    def step():
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()

    return step


def torch_transformer(rng):
    layer = torch.nn.TransformerEncoderLayer(DIM, HEADS, 4 * DIM, dropout=0.0, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, BLOCKS, enable_nested_tensor=False)
    x = torch.tensor(rng.standard_normal((TOKENS, SEQ, DIM)).astype(np.float32))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(SEQ)

    def step():
        model.zero_grad()
        loss = (model(x, mask=mask) ** 2).mean()
        loss.backward()

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if torch is not None:
        torch.set_num_threads(max(1, torch.get_num_threads()))
    cases = [
        ("mlp 4x1024, batch 256", mlp_case, torch_mlp),
        ("transformer 2 blocks", transformer_case, torch_transformer),
    ]
    print(f"{'case':24} {'lmx ms':>8} {'torch ms':>9} {'torch/lmx':>9} {'mlx ms':>8} {'mlx/lmx':>8}")
    for name, build, build_torch in cases:
        t_lmx = best_of(build(mx, nn, rng), args.repeat)
        row = f"{name:24} {t_lmx * 1e3:8.1f}"
        if torch is not None:
            t_torch = best_of(build_torch(rng), args.repeat)
            row += f" {t_torch * 1e3:9.1f} {t_torch / t_lmx:9.2f}"
        else:
            row += f" {'-':>9} {'-':>9}"
        if mlx is not None:
            import mlx.nn as mlx_nn

            t_mlx = best_of(build(mlx, mlx_nn, rng), args.repeat)
            row += f" {t_mlx * 1e3:8.1f} {t_mlx / t_lmx:8.2f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
