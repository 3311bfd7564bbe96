"""Trains a small decoder-only transformer on Debian's fortunes, one token per
character, then samples from it.

    PYTHONPATH=python python examples/transformer_lm/train.py
    python examples/transformer_lm/train.py --backend mlx   # the same code on MLX

Written against MLX's API: ``--backend`` only changes the imports.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fortunes
from pick_backend import BACKENDS, load_backend


def build_model(nn, vocab_size, dims, num_heads, num_layers, context):
    """Pre-norm decoder blocks (causal self-attention, then a 4x GELU MLP) over
    token plus learned position embeddings."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention_norm = nn.LayerNorm(dims)
            self.attention = nn.MultiHeadAttention(dims, num_heads)
            self.mlp_norm = nn.LayerNorm(dims)
            self.mlp_in = nn.Linear(dims, 4 * dims)
            self.mlp_out = nn.Linear(4 * dims, dims)

        def __call__(self, x, mask):
            h = self.attention_norm(x)
            x = x + self.attention(h, h, h, mask=mask)
            return x + self.mlp_out(nn.gelu(self.mlp_in(self.mlp_norm(x))))

    class CharTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.context = context
            self.token_embedding = nn.Embedding(vocab_size, dims)
            self.position_embedding = nn.Embedding(context, dims)
            self.blocks = [Block() for _ in range(num_layers)]
            self.norm = nn.LayerNorm(dims)
            self.head = nn.Linear(dims, vocab_size)

        def __call__(self, tokens):
            length = tokens.shape[1]
            if length > self.context:
                raise ValueError(f"[CharTransformer] {length} tokens exceed the context of {self.context}.")
            positions = self.position_embedding.weight[:length]
            x = self.token_embedding(tokens) + positions
            mask = nn.MultiHeadAttention.create_additive_causal_mask(length).astype(x.dtype)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.norm(x))

    return CharTransformer()


def make_train_step(mx, nn, model, optimizer):
    """One optimisation step on a batch of token windows; returns the (lazy) loss."""

    def loss_fn(model, inputs, targets):
        return nn.losses.cross_entropy(model(inputs), targets, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def step(inputs, targets):
        loss, grads = loss_and_grad(model, inputs, targets)
        optimizer.update(model, grads)
        return loss

    return step, loss_fn


def sample(mx, model, corpus, prompt, length, temperature, context):
    """``length`` characters drawn after ``prompt``, recomputing the whole
    (at most ``context``-long) window for each one: simple, no KV cache."""
    tokens = list(corpus.encode(prompt))
    for _ in range(length):
        window = mx.array(np.array(tokens[-context:], dtype=np.uint32))[None]
        logits = model(window)[0, -1]
        tokens.append(mx.random.categorical(logits * (1.0 / temperature)).item())
    return corpus.decode(tokens)


def train(
    backend,
    corpus,
    *,
    steps,
    batch_size,
    context,
    dims,
    num_heads,
    num_layers,
    lr,
    warmup,
    eval_every,
    eval_batches,
    seed=0,
    log=print,
):
    """Trains a fresh model; returns ``(model, [(step, train loss, val loss)])``."""
    mx, nn, optim = load_backend(backend)
    mx.random.seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(nn, len(corpus.vocab), dims, num_heads, num_layers, context)
    mx.eval(model.parameters())
    warmup = min(warmup, steps)
    schedule = optim.join_schedules(
        [
            optim.linear_schedule(lr / 10, lr, max(warmup, 1)),
            optim.cosine_decay(lr, max(steps - warmup, 1), lr / 10),
        ],
        [warmup],
    )
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=0.01)
    step, loss_fn = make_train_step(mx, nn, model, optimizer)
    # One fixed set of validation windows, so successive numbers are comparable.
    val_rng = np.random.default_rng(seed + 1)
    val_batches = [corpus.batch("val", batch_size, context, val_rng) for _ in range(eval_batches)]

    def val_loss():
        losses = [loss_fn(model, mx.array(x), mx.array(y)) for x, y in val_batches]
        return sum(loss.item() for loss in losses) / len(losses)

    history, running, start = [], [], time.perf_counter()
    for i in range(1, steps + 1):
        x, y = corpus.batch("train", batch_size, context, rng)
        loss = step(mx.array(x), mx.array(y))
        mx.eval(loss, model.parameters(), optimizer.state)
        running.append(loss.item())
        if i % eval_every == 0 or i == steps:
            history.append((i, sum(running) / len(running), val_loss()))
            tokens_per_s = len(running) * batch_size * context / (time.perf_counter() - start)
            log(
                f"step {i:5d}: train loss {history[-1][1]:.3f}, val loss {history[-1][2]:.3f}, "
                f"{tokens_per_s:,.0f} tokens/s"
            )
            running, start = [], time.perf_counter()
    return model, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-batches", type=int, default=10)
    parser.add_argument("--sample-length", type=int, default=400)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--backend", choices=BACKENDS, default="lmx")
    parser.add_argument("--data", default=str(fortunes.DEFAULT_ROOT), help="folder of fortune files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus = fortunes.CharCorpus(fortunes.read_fortunes(args.data))
    print(
        f"fortunes: {len(corpus.train):,} train / {len(corpus.val):,} validation characters, "
        f"vocabulary {len(corpus.vocab)}; chance-level loss {math.log(len(corpus.vocab)):.3f}"
    )
    start = time.perf_counter()
    model, _ = train(
        args.backend,
        corpus,
        steps=args.steps,
        batch_size=args.batch_size,
        context=args.context,
        dims=args.dims,
        num_heads=args.heads,
        num_layers=args.layers,
        lr=args.lr,
        warmup=args.warmup,
        eval_every=args.eval_every,
        eval_batches=args.eval_batches,
        seed=args.seed,
    )
    print(f"trained in {time.perf_counter() - start:.1f} s; a sample at temperature {args.temperature}:\n")
    mx = load_backend(args.backend)[0]
    model.eval()
    print(sample(mx, model, corpus, args.prompt, args.sample_length, args.temperature, args.context))


if __name__ == "__main__":
    main()
