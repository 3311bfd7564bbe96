#!/usr/bin/env bash
# Builds lmx with its CUDA backend and runs, in one go, the GPU tests, the
# whole Python suite with the GPU as default device, and the GPU benchmarks;
# prints a summary. Meant for the lent GPU machine (no network there: it uses
# the toolkit, cmake, ninja, nanobind and pytest already installed). Logs go
# to $OUT (or ./gpu_logs).
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:-$PWD/gpu_logs}
mkdir -p "$LOG"
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1

t0=$(date +%s)
if ! { cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLMX_BUILD_TESTS=OFF \
         -DPython_EXECUTABLE="$(command -v "$PY")" && ninja -C build-gpu; } >"$LOG/build.log" 2>&1; then
  tail -40 "$LOG/build.log"
  exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"

"$PY" -c "import lmx.core as mx; print(mx.device_info(mx.gpu))"
# GPU_TESTS_K narrows the GPU tests to a pytest -k expression.
"$PY" -m pytest -q -p no:cacheprovider tests/python/test_gpu*.py ${GPU_TESTS_K:+-k "$GPU_TESTS_K"} \
  >"$LOG/gpu_tests.log" 2>&1
echo "GPU tests: $(tail -1 "$LOG/gpu_tests.log")"
grep -E "^(FAILED|ERROR)" "$LOG/gpu_tests.log" | head -20
# The same tests with every batch recorded as a CUDA graph, not only repeated ones.
if [ "${GPU_CHECK_GRAPHS_ALWAYS:-1}" = 1 ]; then
  LMX_CUDA_GRAPHS=always "$PY" -m pytest -q -p no:cacheprovider tests/python/test_gpu.py \
    ${GPU_TESTS_K:+-k "$GPU_TESTS_K"} >"$LOG/gpu_tests_graphs.log" 2>&1
  echo "GPU tests, LMX_CUDA_GRAPHS=always: $(tail -1 "$LOG/gpu_tests_graphs.log")"
  grep -E "^(FAILED|ERROR)" "$LOG/gpu_tests_graphs.log" | head -20
fi

if [ "${GPU_CHECK_FULL_SUITE:-1}" = 1 ]; then
  # Three processes over the test files dealt out in turn: a fresh machine
  # compiles each fused kernel once (NVRTC), which left one process at 65%
  # of the suite after 300 s; three took 160 s. float64 tests report as
  # skipped there (conftest: the GPU has no double precision, as in MLX).
  mapfile -t files < <(ls tests/python/test_*.py | grep -v "/test_gpu")
  for shard in 0 1 2; do
    mine=()
    for i in "${!files[@]}"; do (( i % 3 == shard )) && mine+=("${files[$i]}"); done
    LMX_DEFAULT_DEVICE=gpu timeout "${GPU_SUITE_TIMEOUT:-420}" "$PY" -m pytest -q -p no:cacheprovider -rf \
      --tb=line "${mine[@]}" >"$LOG/suite_gpu_default_$shard.log" 2>&1 &
  done
  wait
  for shard in 0 1 2; do
    echo "suite with LMX_DEFAULT_DEVICE=gpu, shard $shard: $(tail -1 "$LOG/suite_gpu_default_$shard.log")"
  done
  grep -h -E "^FAILED" "$LOG"/suite_gpu_default_*.log | head -30
fi

# GPU_CHECK_BENCH picks the benchmarks (default: the main ones; also gemv, decode_profile, timeline).
BENCH=" ${GPU_CHECK_BENCH:-compile ops lm overhead train} "
[[ $BENCH == *" compile "* ]] &&
  "$PY" benchmarks/compile.py --gpu --n "${GPU_COMPILE_N:-268435456}" 2>&1 | tee "$LOG/gpu_compile.log"
[[ $BENCH == *" ops "* ]] && "$PY" benchmarks/gpu_ops.py 2>&1 | tee "$LOG/gpu_bench.log"
if [[ $BENCH == *" lm "* ]]; then
  copy=$(grep "copy (torch clone)" "$LOG/gpu_bench.log" 2>/dev/null | awk "{print \$5}")
  # GPU_LM_SHAPES: model shapes to run (gpu_lm.py --shape); GPU_LM_LAYERS overrides their depth.
  for shape in ${GPU_LM_SHAPES:-qwen3-4b}; do
    "$PY" benchmarks/gpu_lm.py --shape "$shape" ${GPU_LM_LAYERS:+--layers "$GPU_LM_LAYERS"} \
      --copy-gbps "${copy:-0}" ${GPU_LM_ARGS:-} 2>&1 | tee "$LOG/gpu_lm_$shape.log"
  done
fi
[[ $BENCH == *" gemv "* ]] && "$PY" benchmarks/gpu_gemv.py 2>&1 | tee "$LOG/gpu_gemv.log"
[[ $BENCH == *" decode_profile "* ]] &&
  "$PY" benchmarks/gpu_decode_profile.py 2>&1 | tee "$LOG/gpu_decode_profile.log"
[[ $BENCH == *" timeline "* ]] &&
  "$PY" benchmarks/gpu_decode_timeline.py 2>&1 | tee "$LOG/gpu_decode_timeline.log"
[[ $BENCH == *" overhead "* ]] && "$PY" benchmarks/gpu_overhead.py 2>&1 | tee "$LOG/gpu_overhead.log"
[[ $BENCH == *" train "* ]] && "$PY" benchmarks/train.py --gpu --steps 20 2>&1 | tee "$LOG/gpu_train.log"
