"""A character-level corpus from Debian's ``fortunes`` package: every fortune
file under /usr/share/games/fortunes, cleaned to printable ASCII."""

import re
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path("/usr/share/games/fortunes")


def clean(text):
    """Printable ASCII and newlines only: overstruck characters (``_\\bx`` for an
    underlined x) keep their last layer, tabs become spaces, other control or
    non-ASCII characters are dropped."""
    text = re.sub(".\b", "", text).replace("\t", " ")
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


def read_fortunes(root=DEFAULT_ROOT):
    """The fortunes of every file in ``root`` (the ``.dat`` indexes and ``.u8``
    variants skipped), each a string, in a fixed order."""
    root = Path(root)
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.is_symlink() and p.suffix == "")
    if not files:
        raise FileNotFoundError(
            f"[read_fortunes] No fortune files under {root}; install them with `apt-get install fortunes`."
        )
    fortunes = []
    for path in files:
        for fortune in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            fortune = clean(fortune).strip("\n%")
            if fortune:
                fortunes.append(fortune)
    return fortunes


class CharCorpus:
    """Text encoded as token ids, one per character, split into train and
    validation streams by whole documents (every ``1 / val_fraction``-th one)."""

    def __init__(self, documents, val_fraction=0.1):
        if not documents:
            raise ValueError("[CharCorpus] Needs at least one document.")
        self.vocab = sorted(set("".join(documents)) | {"\n"})
        self.index = {c: i for i, c in enumerate(self.vocab)}
        every = max(2, round(1 / val_fraction))
        val = [d for i, d in enumerate(documents) if i % every == every - 1]
        train = [d for i, d in enumerate(documents) if i % every != every - 1]
        # A blank line ends each document, so the model learns where fortunes stop.
        self.train = self.encode("\n\n".join(train) + "\n\n")
        self.val = self.encode("\n\n".join(val) + "\n\n")

    def encode(self, text):
        unknown = set(text) - self.index.keys()
        if unknown:
            raise ValueError(f"[CharCorpus] Characters not in the vocabulary: {sorted(unknown)}.")
        return np.array([self.index[c] for c in text], dtype=np.uint32)

    def decode(self, ids):
        return "".join(self.vocab[int(i)] for i in ids)

    def batch(self, split, batch_size, context, rng):
        """``(inputs, targets)``: ``batch_size`` random windows of ``context``
        tokens of ``split`` ("train" or "val"), targets shifted by one."""
        tokens = self.train if split == "train" else self.val
        if len(tokens) <= context:
            raise ValueError(
                f"[CharCorpus] The {split} text has {len(tokens)} tokens; needs more than {context}."
            )
        starts = rng.integers(0, len(tokens) - context, batch_size)
        windows = tokens[starts[:, None] + np.arange(context + 1)]
        return windows[:, :-1], windows[:, 1:]
