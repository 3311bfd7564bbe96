#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the C++ and Python tests
# from that one build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd build && ctest --output-on-failure -j 2)
PYTHONPATH="$PWD/python" .venv/bin/python -m pytest -q tests/python
# compile's tests once more with every fused CPU chain run as a generated
# kernel (by default only large chains are, once compiled in the background).
LMX_CPU_JIT=always PYTHONPATH="$PWD/python" .venv/bin/python -m pytest -q tests/python/test_compile.py
