#!/usr/bin/env bash
# Installs Debian's fortunes when missing, builds lmx when it is not built yet
# (scripts/setup.sh), then trains and samples; arguments go to train.py, e.g.
#   bash examples/transformer_lm/run.sh --steps 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
bash examples/apt_install.sh fortunes
compgen -G "python/lmx/_core*.so" >/dev/null && [ -x .venv/bin/python ] || bash scripts/setup.sh
PYTHONPATH="$PWD/python" .venv/bin/python examples/transformer_lm/train.py "$@"
