#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the main example: an MLP
# trained on Fashion-MNIST (examples/mnist/run.sh installs Debian's
# dataset-fashion-mnist package when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash examples/mnist/run.sh --model mlp --epochs 2
