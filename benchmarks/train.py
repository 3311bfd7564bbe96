"""Training-step throughput of the two examples' models — the Fashion-MNIST CNN
and the character transformer LM — on lmx, PyTorch (CPU) and MLX, whichever are
importable, measured in the same run on the same batch shapes. Prints steps/s
and lmx_steps_per_s / peer_steps_per_s (above 1 means lmx is faster).

    PYTHONPATH=python python benchmarks/train.py [--profile] [--gpu]

``--gpu`` runs PyTorch on CUDA (lmx uses its default device, the GPU when one
is present), for the GPU machine.

``--profile`` also times the pieces of lmx's steps (forward, backward,
optimizer update, and each layer's forward and backward on its own). Not a test.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from examples.mnist import train as mnist_example
from examples.pick_backend import load_backend
from examples.transformer_lm import train as lm_example

try:
    import torch
except ImportError:  # PyTorch is an optional peer
    torch = None

CNN_BATCH = 128
LM = {"batch_size": 32, "context": 64, "dims": 128, "num_heads": 4, "num_layers": 3, "vocab_size": 96}


def cnn_batch(rng):
    x = rng.random((CNN_BATCH, 28, 28, 1), dtype=np.float32)
    return x, rng.integers(0, 10, CNN_BATCH).astype(np.uint32)


def lm_batch(rng):
    tokens = rng.integers(0, LM["vocab_size"], (LM["batch_size"], LM["context"] + 1)).astype(np.uint32)
    return tokens[:, :-1], tokens[:, 1:]


def mlx_like_steps(backend, batches, compiled=False):
    """``{name: step()}`` for lmx or MLX, built with the examples' own code; each
    call runs one training step and evaluates it."""
    mx, nn, optim = load_backend(backend)
    mx.random.seed(0)
    (cnn_x, cnn_y), (lm_x, lm_y) = batches
    cnn = mnist_example.build_model(nn, "cnn")
    lm = lm_example.build_model(
        nn, LM["vocab_size"], LM["dims"], LM["num_heads"], LM["num_layers"], LM["context"]
    )
    steps = {}
    for name, model, optimizer, make, x, y in (
        (
            "fashion-mnist cnn",
            cnn,
            optim.Adam(learning_rate=1e-3),
            mnist_example.make_train_step,
            cnn_x,
            cnn_y,
        ),
        (
            "transformer lm",
            lm,
            optim.AdamW(learning_rate=1e-3, weight_decay=0.01),
            lambda *a: lm_example.make_train_step(*a)[0],
            lm_x,
            lm_y,
        ),
    ):
        step = make(mx, nn, model, optimizer)
        if compiled:
            # the documented pattern for compiled training steps
            state = [model.state, optimizer.state, mx.random.state]
            step = mx.compile(step, inputs=state, outputs=state)
        x, y = mx.array(x), mx.array(y)

        def run(step=step, model=model, optimizer=optimizer, x=x, y=y):
            mx.eval(step(x, y), model.parameters(), optimizer.state)

        steps[name] = run
    return steps


def torch_steps(batches, device="cpu"):
    """The same two models and optimizers in PyTorch (NCHW images)."""
    nn = torch.nn
    torch.manual_seed(0)
    (cnn_x, cnn_y), (lm_x, lm_y) = batches
    cnn = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * 32, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    dims, context = LM["dims"], LM["context"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention_norm = nn.LayerNorm(dims)
            self.attention = nn.MultiheadAttention(dims, LM["num_heads"], bias=False, batch_first=True)
            self.mlp_norm = nn.LayerNorm(dims)
            self.mlp = nn.Sequential(nn.Linear(dims, 4 * dims), nn.GELU(), nn.Linear(4 * dims, dims))

        def forward(self, x, mask):
            h = self.attention_norm(x)
            x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.mlp_norm(x))

    class CharTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = nn.Embedding(LM["vocab_size"], dims)
            self.position_embedding = nn.Embedding(context, dims)
            self.blocks = nn.ModuleList(Block() for _ in range(LM["num_layers"]))
            self.norm = nn.LayerNorm(dims)
            self.head = nn.Linear(dims, LM["vocab_size"])

        def forward(self, tokens):
            x = self.token_embedding(tokens) + self.position_embedding.weight[: tokens.shape[1]]
            mask = torch.triu(torch.full((tokens.shape[1],) * 2, float("-inf"), device=tokens.device), diagonal=1)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.norm(x))

    lm = CharTransformer()
    cnn.to(device)
    lm.to(device)
    steps = {}
    for name, model, optimizer, x, y in (
        (
            "fashion-mnist cnn",
            cnn,
            torch.optim.Adam(cnn.parameters(), lr=1e-3),
            torch.from_numpy(cnn_x.transpose(0, 3, 1, 2).copy()),
            torch.from_numpy(cnn_y.astype(np.int64)),
        ),
        (
            "transformer lm",
            lm,
            torch.optim.AdamW(lm.parameters(), lr=1e-3, weight_decay=0.01),
            torch.from_numpy(lm_x.astype(np.int64)),
            torch.from_numpy(lm_y.astype(np.int64)),
        ),
    ):

        x, y = x.to(device), y.to(device)

        def run(model=model, optimizer=optimizer, x=x, y=y):
            optimizer.zero_grad()
            logits = model(x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            optimizer.step()
            if device != "cpu":
                torch.cuda.synchronize()

        steps[name] = run
    return steps


def interleaved_steps_per_second(runs, steps, repeat):
    """Best steps/s of each ``run`` (one training step each), timing them in
    turn ``repeat`` times so a busy machine slows them alike."""
    for run in runs:
        run()  # first-step allocations and optimizer state
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            t0 = time.perf_counter()
            for _ in range(steps):
                run()
            best[i] = min(best[i], time.perf_counter() - t0)
    return [steps / t for t in best]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="steps per timed repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also time the pieces of lmx's steps")
    parser.add_argument("--gpu", action="store_true", help="PyTorch on CUDA (the GPU machine)")
    parser.add_argument("--compile", action="store_true", help="lmx and MLX steps under mx.compile")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batches = (cnn_batch(rng), lm_batch(rng))

    peers = {}
    if torch is not None:
        where = "cuda" if args.gpu else f"{torch.get_num_threads()} threads"
        peers[f"torch {torch.__version__} ({where})"] = torch_steps(batches, "cuda" if args.gpu else "cpu")
    else:
        print("PyTorch is not importable: skipped (pip install torch)")
    try:
        peers["mlx"] = mlx_like_steps("mlx", batches, args.compile)
    except ImportError:
        print("MLX is not importable: skipped (pip install mlx)")
    lmx = mlx_like_steps("lmx", batches, args.compile)

    print(
        f"cnn batch {CNN_BATCH} of 28x28x1; lm batch {LM['batch_size']}x{LM['context']} tokens, "
        f"{LM['num_layers']} layers of {LM['dims']} dims; {args.repeat} x {args.steps} steps each, best kept"
    )
    print(f"{'model':18} {'lib':28} {'steps/s':>9} {'lmx/peer':>9}")
    for name, run in lmx.items():
        ours, *theirs = interleaved_steps_per_second(
            [run, *(steps[name] for steps in peers.values())], args.steps, args.repeat
        )
        print(f"{name:18} {'lmx':28} {ours:9.2f}")
        for peer, rate in zip(peers, theirs):
            print(f"{'':18} {peer:28} {rate:9.2f} {ours / rate:9.2f}", flush=True)
    if args.profile:
        import profile_train

        profile_train.report("lmx", args.repeat)


if __name__ == "__main__":
    main()
