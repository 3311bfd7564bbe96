#!/usr/bin/env bash
# Installs Debian's Fashion-MNIST when missing, builds lmx when it is not built
# yet (scripts/setup.sh), then trains; arguments go to train.py, e.g.
#   bash examples/mnist/run.sh --model cnn --epochs 3
set -euo pipefail
cd "$(dirname "$0")/../.."
bash examples/apt_install.sh dataset-fashion-mnist
compgen -G "python/lmx/_core*.so" >/dev/null && [ -x .venv/bin/python ] || bash scripts/setup.sh
PYTHONPATH="$PWD/python" .venv/bin/python examples/mnist/train.py "$@"
