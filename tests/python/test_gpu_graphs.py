"""CUDA graphs (backend/cuda/graph.cpp): a batch of kernels recorded once and
replayed gives exactly what the same kernels launched one by one give; and a
batch that ends without waiting for its kernels (the default) gives what one
that waits (LMX_CUDA_SYNC=1) gives. The modes are read from the environment
once per process, so each case runs a script under each mode in a
subprocess and compares what they print. Skipped where no GPU is present
(CI)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKEND, mx
from lm_helpers import SMALL_QWEN3_SCRIPT

pytestmark = pytest.mark.skipif(
    BACKEND != "lmx" or not mx.is_available(mx.gpu), reason="needs lmx built with CUDA and an NVIDIA GPU"
)

MODES = ["0", "1", "always"]

# A small Qwen3 decoding greedily the way lmx.lm's generate does: the next
# step is queued with async_eval before the host reads the current logits,
# so host reads meet a stream that is being captured.
DECODE = SMALL_QWEN3_SCRIPT + r"""
from lmx.lm.models.cache import make_prompt_cache

cache = make_prompt_cache(model)

def step(tokens):
    logits = model(tokens, cache=cache)[:, -1].astype(mx.float32)
    return mx.argmax(logits, axis=-1), logits

nxt = step(mx.array([[5, 17, 42, 7, 99]]))
mx.async_eval(*nxt)
rows, memory = [], []
for i in range(24):
    tok, logits = nxt
    nxt = step(tok[None])
    mx.async_eval(*nxt)
    rows.append(np.array(logits))
    if i in (8, 20):
        mx.synchronize()
        memory.append(mx.get_active_memory())
np.save(out, np.stack(rows))
print("memory", *memory)
"""

# Work spread over two GPU streams and the CPU, with reads across them.
STREAMS = r"""
import sys
import numpy as np
import lmx.core as mx

out = sys.argv[2]
s2 = mx.new_stream(mx.gpu)
rng = np.random.default_rng(1)
x = mx.array(rng.standard_normal((64, 96)).astype(np.float32))
w = mx.array(rng.standard_normal((96, 96)).astype(np.float32))
rows = []
for i in range(10):
    a = mx.tanh(x @ w, stream=mx.gpu)
    b = mx.sum(a * 2 + 1, axis=0, stream=s2)
    c = mx.exp(-mx.abs(b), stream=mx.cpu)
    d = mx.add(a[:, :1], c, stream=mx.gpu)
    x = mx.softmax(d, axis=-1, stream=s2)[:, :96] * 96
    rows.append(np.array(x))
np.save(out, np.stack(rows))
print("memory")
"""


def run_script(script, mode, tmp_path, *args, sync="0"):
    out = str(tmp_path / f"{mode}-{sync}.npy")
    env = dict(os.environ, LMX_CUDA_GRAPHS=mode, LMX_DEFAULT_DEVICE="gpu", LMX_CUDA_SYNC=sync)
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args), out], capture_output=True, text=True,
                          env=env, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    memory = proc.stdout.split("memory", 1)[1].split()
    return np.load(out), memory


@pytest.mark.parametrize("bits", [0, 4])
def test_decode_is_identical_with_and_without_graphs(bits, tmp_path):
    plain, _ = run_script(DECODE, "0", tmp_path, bits)
    for mode in MODES[1:]:
        graphed, memory = run_script(DECODE, mode, tmp_path, bits)
        np.testing.assert_array_equal(graphed, plain, err_msg=f"LMX_CUDA_GRAPHS={mode}")
        # Replaying graphs leaks nothing: the same point of later steps holds
        # the same live memory.
        assert memory[0] == memory[1], memory


def test_streams_and_cpu_mixed_are_identical_with_graphs(tmp_path):
    plain, _ = run_script(STREAMS, "0", tmp_path, 0)
    for mode in MODES[1:]:
        graphed, _ = run_script(STREAMS, mode, tmp_path, 0)
        np.testing.assert_array_equal(graphed, plain, err_msg=f"LMX_CUDA_GRAPHS={mode}")


@pytest.mark.parametrize("var, value, message", [("LMX_CUDA_GRAPHS", "sometimes", "must be 0, 1 or always"),
                                                  ("LMX_CUDA_SYNC", "yes", "must be 0 or 1")])
def test_bad_setting_is_a_clear_error(var, value, message):
    env = dict(os.environ, **{var: value})
    code = "import lmx.core as mx; print(mx.add(mx.ones(3, stream=mx.gpu), 1, stream=mx.gpu).tolist())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode != 0
    assert f"{var} {message}" in proc.stderr


# Batches end without waiting for the device: a host read waits for the
# batch that wrote what it reads while later batches are being queued. The
# results must be those of batches that wait for their kernels.
@pytest.mark.parametrize("mode", ["0", "1"])
def test_batches_ending_asynchronously_match_synchronous_ones(mode, tmp_path):
    for script, args in ((DECODE, (0,)), (DECODE, (4,)), (STREAMS, (0,))):
        waited, _ = run_script(script, mode, tmp_path, *args, sync="1")
        queued, _ = run_script(script, mode, tmp_path, *args)
        np.testing.assert_array_equal(queued, waited, err_msg=f"LMX_CUDA_GRAPHS={mode}")
