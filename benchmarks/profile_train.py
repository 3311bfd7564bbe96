"""Where the time of benchmarks/train.py's training steps goes: each step split
into graph building, forward, backward and optimizer update, and each layer's
forward and forward+backward timed alone on its real input shapes — lmx next to
PyTorch (when importable), so the layers that lag most stand out.

    PYTHONPATH=python python benchmarks/profile_train.py
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from common import best_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from examples.pick_backend import load_backend

try:
    import torch
except ImportError:
    torch = None

B, L, D, HEADS, VOCAB, LAYERS = 32, 64, 128, 4, 96, 3  # the LM of benchmarks/train.py
N = 128  # the CNN's batch


def float_input(shape):
    return ("float", shape)


def token_input(shape, high):
    return ("int", shape, high)


def attention(lib, nn):
    """Causal self-attention as the example's block calls it."""
    if lib == "torch":

        class Attention(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = nn.MultiheadAttention(D, HEADS, bias=False, batch_first=True)
                self.register_buffer("mask", torch.triu(torch.full((L, L), float("-inf")), diagonal=1))

            def forward(self, x):
                return self.inner(x, x, x, attn_mask=self.mask, need_weights=False)[0]
    else:

        class Attention(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = nn.MultiHeadAttention(D, HEADS)

            def __call__(self, x):
                mask = nn.MultiHeadAttention.create_additive_causal_mask(L).astype(x.dtype)
                return self.inner(x, x, x, mask=mask)

    return Attention()


def cross_entropy(lib, nn):
    if lib == "torch":

        class CrossEntropy(nn.Module):
            def forward(self, logits, targets):
                return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    else:

        class CrossEntropy(nn.Module):
            def __call__(self, logits, targets):
                return nn.losses.cross_entropy(logits, targets, reduction="mean")

    return CrossEntropy()


def embedding(lib, nn):
    return nn.Embedding(VOCAB, D)


def linear(i, o):
    return lambda lib, nn: nn.Linear(i, o)


def conv(i, o):
    return lambda lib, nn: nn.Conv2d(i, o, 3, padding=1)


# (name, uses per training step, module factory (lib, nn), inputs in MLX's layout, image layout?)
PIECES = [
    ("cnn conv 1->16 28x28", 1, conv(1, 16), [float_input((N, 28, 28, 1))], True),
    ("cnn relu 28x28x16", 1, lambda lib, nn: nn.ReLU(), [float_input((N, 28, 28, 16))], True),
    ("cnn maxpool 28x28x16", 1, lambda lib, nn: nn.MaxPool2d(2, 2), [float_input((N, 28, 28, 16))], True),
    ("cnn conv 16->32 14x14", 1, conv(16, 32), [float_input((N, 14, 14, 16))], True),
    ("cnn relu 14x14x32", 1, lambda lib, nn: nn.ReLU(), [float_input((N, 14, 14, 32))], True),
    ("cnn maxpool 14x14x32", 1, lambda lib, nn: nn.MaxPool2d(2, 2), [float_input((N, 14, 14, 32))], True),
    ("cnn linear 1568->128", 1, linear(1568, 128), [float_input((N, 1568))], False),
    ("cnn linear 128->10", 1, linear(128, 10), [float_input((N, 128))], False),
    ("cnn cross_entropy", 1, cross_entropy, [float_input((N, 10)), token_input((N,), 10)], False),
    ("lm embedding", 1, embedding, [token_input((B, L), VOCAB)], False),
    ("lm layer_norm", 2 * LAYERS + 1, lambda lib, nn: nn.LayerNorm(D), [float_input((B, L, D))], False),
    ("lm attention (causal)", LAYERS, attention, [float_input((B, L, D))], False),
    ("lm linear 128->512", LAYERS, linear(D, 4 * D), [float_input((B, L, D))], False),
    ("lm gelu", LAYERS, lambda lib, nn: nn.GELU(), [float_input((B, L, 4 * D))], False),
    ("lm linear 512->128", LAYERS, linear(4 * D, D), [float_input((B, L, 4 * D))], False),
    ("lm linear 128->96", 1, linear(D, VOCAB), [float_input((B, L, D))], False),
    ("lm cross_entropy", 1, cross_entropy, [float_input((B, L, VOCAB)), token_input((B, L), VOCAB)], False),
]


def numpy_inputs(specs, rng):
    return [
        rng.standard_normal(s[1]).astype(np.float32)
        if s[0] == "float"
        else rng.integers(0, s[2], s[1]).astype(np.int64)
        for s in specs
    ]


def time_mlx_like(backend, factory, inputs, repeat):
    """(forward s, forward + backward s) of one layer on lmx or MLX: the backward
    pass is the vjp w.r.t. its parameters and its float inputs."""
    mx, nn, _ = load_backend(backend)
    module = factory(backend, nn)
    xs = [mx.array(x) if x.dtype == np.float32 else mx.array(x.astype(np.uint32)) for x in inputs]
    floats = [i for i, x in enumerate(inputs) if x.dtype == np.float32]
    params = module.trainable_parameters()
    mx.eval(params, xs)

    def f(params, *float_xs):
        module.update(params)
        args = list(xs)
        for i, x in zip(floats, float_xs):
            args[i] = x
        return module(*args)

    # The vjp with a cotangent of ones, through grad (MLX's vjp takes arrays, not trees).
    gradient = mx.grad(lambda *a: mx.sum(f(*a)), argnums=tuple(range(1 + len(floats))))
    forward = best_of(lambda: mx.eval(module(*xs)), repeat)
    backward = best_of(lambda: mx.eval(gradient(params, *[xs[i] for i in floats])), repeat)
    return forward, backward


def time_torch(factory, inputs, image, repeat):
    module = factory("torch", torch.nn)

    def to_torch(x):
        if x.dtype == np.float32 and image:
            x = x.transpose(0, 3, 1, 2).copy()  # NHWC -> NCHW
        t = torch.from_numpy(x)
        return t.requires_grad_() if t.is_floating_point() else t

    xs = [to_torch(x) for x in inputs]
    forward = best_of(lambda: module(*xs), repeat)
    backward = best_of(lambda: module(*xs).sum().backward(), repeat)
    return forward, backward


def phases_of(mx, nn, optim, model, x, y, repeat):
    """Seconds of each phase of one training step of ``model`` on ``(x, y)``."""
    mx.eval(model.parameters())

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    optimizer = optim.Adam(learning_rate=1e-3)
    _, grads = loss_and_grad(model, x, y)
    mx.eval(grads)
    optimizer.update(model, grads)  # creates the optimizer state
    mx.eval(model.parameters(), optimizer.state)

    def build():
        t0 = time.perf_counter()
        out = loss_and_grad(model, x, y)
        elapsed = time.perf_counter() - t0
        mx.eval(out)
        return elapsed

    def update():
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)

    build()
    return {
        "build graph": min(build() for _ in range(repeat)),
        "forward": best_of(lambda: mx.eval(loss_fn(model, x, y)), repeat),
        "forward+backward": best_of(lambda: mx.eval(loss_and_grad(model, x, y)), repeat),
        "optimizer update": best_of(update, repeat),
    }


def step_phases(backend, repeat):
    """Phases of the two example training steps on lmx or MLX: building the
    graph (Python), forward, forward+backward, optimizer update."""
    from examples.mnist import train as mnist_example
    from examples.transformer_lm import train as lm_example

    mx, nn, optim = load_backend(backend)
    rng = np.random.default_rng(0)
    cnn = mnist_example.build_model(nn, "cnn")
    lm = lm_example.build_model(nn, VOCAB, D, HEADS, LAYERS, L)
    images = mx.array(rng.random((N, 28, 28, 1), dtype=np.float32))
    classes = mx.array(rng.integers(0, 10, N).astype(np.uint32))
    tokens = [mx.array(rng.integers(0, VOCAB, (B, L)).astype(np.uint32)) for _ in range(2)]
    return {
        "cnn": phases_of(mx, nn, optim, cnn, images, classes, repeat),
        "lm": phases_of(mx, nn, optim, lm, *tokens, repeat),
    }


def report(backend="lmx", repeat=5):
    print(f"\nphases of one training step on {backend} (ms)")
    for name, phases in step_phases(backend, repeat).items():
        print(f"  {name}: " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in phases.items()))
    peer = torch is not None
    print(
        f"\nlayers alone ({backend} vs torch, ms per call; 'step' = fwd+bwd x uses per step; "
        "'slower' = lmx step time / torch step time)"
    )
    print(
        f"{'piece':24} {'uses':>4} {'fwd':>7} {'fwd+bwd':>8} {'step':>7}"
        + (f" {'torch fwd':>9} {'fwd+bwd':>8} {'step':>7} {'slower':>6}" if peer else "")
    )
    rng = np.random.default_rng(0)
    for name, uses, factory, specs, image in PIECES:
        inputs = numpy_inputs(specs, rng)
        forward, backward = time_mlx_like(backend, factory, inputs, repeat)
        row = f"{name:24} {uses:4d} {forward * 1e3:7.2f} {backward * 1e3:8.2f} {backward * uses * 1e3:7.2f}"
        if peer:
            t_forward, t_backward = time_torch(factory, inputs, image, repeat)
            row += (
                f" {t_forward * 1e3:9.2f} {t_backward * 1e3:8.2f} {t_backward * uses * 1e3:7.2f}"
                f" {backward / t_backward:6.1f}"
            )
        print(row, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("lmx", "mlx"), default="lmx")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    report(args.backend, args.repeat)


if __name__ == "__main__":
    main()
