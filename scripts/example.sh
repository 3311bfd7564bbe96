#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PYTHONPATH="$PWD/python" .venv/bin/python examples/basics.py
