"""Lists the public names of MLX's mlx.core (and its linalg, fft, random and distributed
modules) that lmx.core lacks. Needs MLX's Linux build (`pip install mlx`);
a development aid, not a test.

    PYTHONPATH=python python scripts/api_coverage.py
"""

import mlx.core as mlx

import lmx.core as lmx


def missing(theirs, ours):
    return sorted(n for n in dir(theirs) if not n.startswith("_") and not hasattr(ours, n))


def main():
    modules = {"mlx.core": (mlx, lmx)}
    for sub in ("linalg", "fft", "random", "distributed"):
        modules[f"mlx.core.{sub}"] = (getattr(mlx, sub), getattr(lmx, sub, None))
    for name, (theirs, ours) in modules.items():
        gone = missing(theirs, ours)
        total = len([n for n in dir(theirs) if not n.startswith("_")])
        print(f"{name}: {total - len(gone)}/{total} present")
        if gone:
            print("  missing: " + ", ".join(gone))


if __name__ == "__main__":
    main()
