"""The CPU kernels are built once per instruction set (baseline x86-64, AVX2,
AVX-512) and the best the CPU supports runs by default, so the ordinary
suite only exercises one build. Here every build this CPU can run computes
the same battery of kernels in a child process (LMX_CPU_ISA), and the
results must agree."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "lmx", reason="lmx's per-ISA kernel builds")

BATTERY = r"""
import json, sys
import numpy as np
import lmx.core as mx
rng = np.random.default_rng(0)
x = mx.array(rng.uniform(-30, 30, (37, 129)).astype(np.float32))
h = x.astype(mx.float16)
i = mx.array(rng.integers(-1000, 1000, (37, 129)).astype(np.int32))
w = mx.array(rng.standard_normal((64, 256)).astype(np.float32))
wq, s, b = mx.quantize(w, 64, 4)
w8 = mx.quantize(w, 32, 8)
wh = w.astype(mx.float16)
v = mx.array(rng.standard_normal((3, 256)).astype(np.float32))
results = {
    "exp": mx.exp(x / 4), "tanh": mx.tanh(x / 8), "sigmoid": mx.sigmoid(x), "sin": mx.sin(x),
    "add_bcast": x + x[:1], "mul_half": h * h, "max": x.max(axis=1), "min0": x.min(axis=0),
    "argmax": x.argmax(axis=1), "argmin0": i.argmin(axis=0), "sum": x.sum(axis=0), "isum": i.sum(axis=1),
    "transpose": x.T * 1, "astype": h.astype(mx.float32), "cast_int": x.astype(mx.int16),
    "dequantize": mx.dequantize(wq, s, b, 64, 4), "qmm": mx.quantized_matmul(v, wq, s, b, True, 64, 4),
    "qmm_t": mx.quantized_matmul(v[:, :64], wq, s, b, False, 64, 4),
    "qmm8": mx.quantized_matmul(v[:1], *w8, True, 32, 8),
    "qmm3": mx.quantized_matmul(v[:1], *mx.quantize(w, 64, 3), True, 64, 3),
    "qmm6": mx.quantized_matmul(v[:2], *mx.quantize(w, 64, 6), True, 64, 6),
    "dequantize5": mx.dequantize(*mx.quantize(w, 32, 5), 32, 5),
    "qmm_half_scales": mx.quantized_matmul(v[:2].astype(mx.float16), *mx.quantize(wh, 32, 4), True, 32, 4),
    "matvec_half": v[:1].astype(mx.float16) @ wh.T,
}
out = {k: np.array(r.astype(mx.float32)).tolist() for k, r in results.items()}
json.dump({"isa": sys.argv[1], "results": out}, sys.stdout)
"""


def run(isa):
    env = dict(os.environ, LMX_CPU_ISA=isa)
    proc = subprocess.run([sys.executable, "-c", BATTERY, isa], capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        if "lacks" in proc.stderr or "not built" in proc.stderr:
            return None  # this CPU (or this build) has no such kernels
        raise AssertionError(proc.stderr)
    return json.loads(proc.stdout)["results"]


def test_every_instruction_set_computes_the_same():
    outputs = {isa: run(isa) for isa in ("baseline", "avx2", "avx512")}
    outputs = {k: v for k, v in outputs.items() if v is not None}
    assert "baseline" in outputs
    ref = outputs["baseline"]
    # Fused multiply-adds and wider accumulators change the last bits of long
    # sums (the 256-term quantized products): compare at float32 precision
    # relative to the terms' scale.
    for isa, got in outputs.items():
        for name in ref:
            np.testing.assert_allclose(np.array(got[name]), np.array(ref[name]), rtol=1e-5, atol=5e-5,
                                       err_msg=f"{name} differs between baseline and {isa}")


def test_unknown_instruction_set_is_a_clear_error():
    env = dict(os.environ, LMX_CPU_ISA="sse9")
    proc = subprocess.run([sys.executable, "-c", "import lmx.core as mx; mx.eval(mx.exp(mx.ones(3)))"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "LMX_CPU_ISA" in proc.stderr
