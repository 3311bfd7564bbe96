#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh, which also installs the default model,
# SmolLM2-135M-Instruct), then runs the main example: the LLM answers a
# question, offline, on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PYTHONPATH="$PWD/python" .venv/bin/python -m lmx.lm.generate --prompt "Why is the sky blue?" --max-tokens 200
