"""Trains an MLP or a small CNN on Fashion-MNIST and reports test accuracy.

    PYTHONPATH=python python examples/mnist/train.py --model mlp --epochs 2
    python examples/mnist/train.py --backend mlx     # the same code on MLX

Written against MLX's API: ``--backend`` only changes the imports.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fashion_mnist
from pick_backend import BACKENDS, load_backend


def build_model(nn, kind):
    """``"mlp"``: 784-512-10 with ReLU. ``"cnn"``: two 3x3 conv + max-pool
    stages (16 and 32 channels) and a 128-unit hidden layer."""

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(28 * 28, 512)
            self.out = nn.Linear(512, 10)

        def __call__(self, x):
            x = x.reshape(x.shape[0], -1)
            return self.out(nn.relu(self.hidden(x)))

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.hidden = nn.Linear(7 * 7 * 32, 128)
            self.out = nn.Linear(128, 10)

        def __call__(self, x):
            x = self.pool(nn.relu(self.conv1(x)))  # (N, 14, 14, 16)
            x = self.pool(nn.relu(self.conv2(x)))  # (N, 7, 7, 32)
            x = x.reshape(x.shape[0], -1)
            return self.out(nn.relu(self.hidden(x)))

    models = {"mlp": MLP, "cnn": CNN}
    if kind not in models:
        raise ValueError(f"[build_model] Unknown model {kind!r}; expected one of {tuple(models)}.")
    return models[kind]()


def batches(images, labels, batch_size, rng=None):
    """Mini-batches as NumPy slices; shuffled when ``rng`` is given."""
    order = np.arange(len(labels)) if rng is None else rng.permutation(len(labels))
    for start in range(0, len(labels), batch_size):
        index = order[start : start + batch_size]
        yield images[index], labels[index]


def make_train_step(mx, nn, model, optimizer):
    """One optimisation step on a batch; returns the (lazy) mean loss."""

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    return step


def accuracy(mx, model, images, labels, batch_size=1000):
    correct = 0
    for x, y in batches(images, labels, batch_size):
        correct += int(mx.sum(mx.argmax(model(mx.array(x)), axis=1) == mx.array(y)).item())
    return correct / len(labels)


def train(backend, kind, train_set, test_set, epochs, batch_size, lr, seed=0, log=print):
    """Trains a fresh model; returns ``(model, [test accuracy per epoch])``."""
    mx, nn, optim = load_backend(backend)
    mx.random.seed(seed)
    model = build_model(nn, kind)
    mx.eval(model.parameters())
    optimizer = optim.Adam(learning_rate=lr)
    step = make_train_step(mx, nn, model, optimizer)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        start, total, count = time.perf_counter(), 0.0, 0
        for x, y in batches(*train_set, batch_size, rng):
            loss = step(mx.array(x), mx.array(y))
            mx.eval(loss, model.parameters(), optimizer.state)
            total += loss.item() * len(y)
            count += len(y)
        seconds = time.perf_counter() - start
        model.eval()
        history.append(accuracy(mx, model, *test_set))
        log(
            f"epoch {epoch}: train loss {total / count:.4f}, test accuracy {history[-1]:.4f}, {seconds:.1f} s"
        )
    return model, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--backend", choices=BACKENDS, default="lmx")
    parser.add_argument(
        "--data", default=str(fashion_mnist.DEFAULT_ROOT), help="folder with the four .gz IDX files"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train_x, train_y, test_x, test_y = fashion_mnist.load(args.data)
    print(
        f"Fashion-MNIST: {len(train_y)} train, {len(test_y)} test images; "
        f"{args.model} on {args.backend}, batch {args.batch_size}, Adam lr {args.lr}"
    )
    start = time.perf_counter()
    _, history = train(
        args.backend,
        args.model,
        (train_x, train_y),
        (test_x, test_y),
        args.epochs,
        args.batch_size,
        args.lr,
        args.seed,
    )
    print(f"final test accuracy {history[-1]:.4f} after {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
