"""Compiled steps (transforms/compile_step.cpp): on a GPU, a compiled
function's calls after the first two run as one node whose kernels are
recorded once as a CUDA graph and launched again on later calls. Results
must be those of the program's nodes run one by one (LMX_CUDA_STEP_GRAPHS=0),
earlier results must survive later launches, inputs that move or are still
held elsewhere must be handled, and grad and vmap must give what they give
without steps.
Skipped where no GPU is present (CI)."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKEND, mx
from lm_helpers import SMALL_QWEN3_SCRIPT

pytestmark = pytest.mark.skipif(
    BACKEND != "lmx" or not mx.is_available(mx.gpu), reason="needs lmx built with CUDA and an NVIDIA GPU"
)

rng = np.random.default_rng(7)


def chain(x, w):
    """Enough nodes (matmuls, norms, elementwise, reductions) to be recorded."""
    h = x
    for _ in range(4):
        h = mx.tanh(h @ w) * 0.5 + h
        h = h / mx.sqrt(mx.mean(h * h, axis=-1, keepdims=True) + 1e-5)
    return h, mx.sum(h, axis=0)


def reference(x, w):
    with mx.stream(mx.cpu):
        return chain(mx.array(np.array(x)), mx.array(np.array(w)))


def close(a, b, tol=2e-5):
    np.testing.assert_allclose(np.array(a), np.array(b), rtol=tol, atol=tol)


def test_every_call_matches_and_earlier_results_survive():
    w = mx.array(rng.standard_normal((32, 32)).astype(np.float32) / 6)
    f = mx.compile(chain)
    xs = [mx.array(rng.standard_normal((16, 32)).astype(np.float32)) for _ in range(8)]
    results = [f(x, w) for x in xs]  # lazy: later calls are queued before earlier ones run
    mx.eval(results)
    for x, (h, s) in zip(xs, results):
        rh, rs = reference(x, w)
        close(h, rh)
        close(s, rs)
    # Launching the recording again must leave the results already handed out alone.
    kept = [np.array(h) for h, _ in results]
    for x in xs:
        mx.eval(f(x + 1, w))
    for k, (h, _) in zip(kept, results):
        np.testing.assert_array_equal(np.array(h), k)


def step_update(buf, tok, pos):
    """A cache-like update in place plus some work: buf is read and written."""
    row = mx.tanh(tok * 2.0) + mx.sum(buf, axis=0, keepdims=True) * 0.01
    for _ in range(4):
        row = mx.sin(row) * 0.9 + row * 0.1
    new = mx.slice_update(buf, row, pos.reshape(1), axes=(0,))
    return new, mx.max(new, axis=0), pos + 1


def test_buffer_passed_back_is_updated_in_place_like_the_nodes():
    f = mx.compile(step_update)
    buf = mx.zeros((12, 8))
    pos = mx.array(0, dtype=mx.int32)
    ref_buf = np.zeros((12, 8), np.float32)
    for i in range(10):
        tok = mx.array(rng.standard_normal((1, 8)).astype(np.float32))
        buf, top, pos = f(buf, tok, pos)
        row = np.tanh(np.array(tok) * 2.0) + ref_buf.sum(axis=0, keepdims=True) * 0.01
        for _ in range(4):
            row = np.sin(row) * 0.9 + row * 0.1
        ref_buf[i] = row[0]
        close(buf, ref_buf, 1e-5)
        close(top, ref_buf.max(axis=0), 1e-5)
        assert pos.item() == i + 1


def test_an_input_still_held_elsewhere_is_not_overwritten():
    f = mx.compile(step_update)
    buf = mx.zeros((12, 8))
    pos = mx.array(0, dtype=mx.int32)
    history = []
    for i in range(8):
        tok = mx.full((1, 8), float(i + 1))
        history.append(buf)  # every version stays referenced
        buf, _, pos = f(buf, tok, pos)
        mx.eval(buf)
    for i, old in enumerate(history):
        # Version i has rows [0, i) written and the rest still zero.
        assert np.all(np.array(old)[i:] == 0), i
    assert np.all(np.array(buf)[:8] != 0)


def test_inputs_that_move_or_change_layout():
    w = mx.array(rng.standard_normal((32, 32)).astype(np.float32) / 6)
    f = mx.compile(chain)
    base = mx.array(rng.standard_normal((32, 16)).astype(np.float32))
    for i in range(7):
        x = base.T if i % 2 else mx.array(np.array(base.T))  # a transposed view, then a dense copy
        x = x * (1 + i * 0.1)
        h, s = f(x, w)
        rh, rs = reference(x, w)
        close(h, rh)
        close(s, rs)


def test_views_that_are_not_dense_as_inputs():
    # Reversed rows (negative strides) and a column slice of a wider array: a slot cannot
    # hold them as they lie, so these calls keep the program's nodes; the results stay right.
    w = mx.array(rng.standard_normal((32, 32)).astype(np.float32) / 6)
    f = mx.compile(chain)
    wide = mx.array(rng.standard_normal((16, 96)).astype(np.float32))
    views = [lambda: wide[:, :32] * 1.0, lambda: wide[::-1, :32], lambda: wide[:, 40:72]]
    for i in range(9):
        x = views[0]() if i < 4 else views[i % 3]()  # recorded on a dense input first
        h, s = f(x, w)
        rh, rs = reference(x, w)
        close(h, rh)
        close(s, rs)


def test_grad_and_vmap_of_a_function_whose_calls_are_steps():
    w = mx.array(rng.standard_normal((32, 32)).astype(np.float32) / 6)
    f = mx.compile(chain)
    x = mx.array(rng.standard_normal((16, 32)).astype(np.float32))
    for _ in range(3):
        mx.eval(f(x, w))  # the calls after these are steps
    loss = lambda x, w: mx.sum(f(x, w)[1] ** 2)  # noqa: E731
    plain = lambda x, w: mx.sum(chain(x, w)[1] ** 2)  # noqa: E731
    for _ in range(2):
        gx, gw = mx.grad(loss, argnums=(0, 1))(x, w)
        px, pw = mx.grad(plain, argnums=(0, 1))(x, w)
        close(gx, px, 1e-4)
        close(gw, pw, 1e-4)
    xs = mx.array(rng.standard_normal((3, 16, 32)).astype(np.float32))
    batched = mx.vmap(lambda x: f(x, w)[1])(xs)
    for b in range(3):
        close(batched[b], chain(xs[b], w)[1])


def test_a_program_that_cannot_be_recorded_still_runs():
    # A segmented sort cannot be captured: the step runs its nodes, and later calls build them.
    def f(x):
        y = mx.sort(mx.exp(x) * 2 - 1, axis=-1)
        for _ in range(4):
            y = mx.tanh(y) + y * 0.5
        return y

    g = mx.compile(f)
    for _ in range(6):
        x = mx.array(rng.standard_normal((8, 64)).astype(np.float32))
        with mx.stream(mx.cpu):
            expected = f(mx.array(np.array(x)))
        close(g(x), expected, 1e-5)


def test_an_index_out_of_bounds_inside_a_step_is_raised_and_the_next_call_works():
    def f(x, idx):
        y = mx.take(x, idx, axis=0)
        for _ in range(4):
            y = mx.tanh(y) * 2 + 1
        return y

    g = mx.compile(f)
    x = mx.array(rng.standard_normal((10, 4)).astype(np.float32))
    good = mx.array([1, 3, 9], dtype=mx.int32)
    for _ in range(4):
        close(g(x, good), f(x, good), 1e-6)
    with pytest.raises(Exception, match=r"out of bounds"):
        mx.eval(g(x, mx.array([1, 30, 2], dtype=mx.int32)))
    close(g(x, good), f(x, good), 1e-6)


def test_repeated_steps_hold_steady_memory():
    w = mx.array(rng.standard_normal((64, 64)).astype(np.float32) / 8)
    f = mx.compile(chain)
    x = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    memory = []
    for i in range(40):
        h, _ = f(x, w)
        x = h * 0.5
        mx.eval(x)
        if i in (10, 35):
            mx.synchronize()
            memory.append(mx.get_active_memory())
    assert memory[0] == memory[1], memory


# A small model decoding through lmx.lm's compiled decoder (a compiled step
# per token) with and without step graphs: the same tokens and log-probabilities.
DECODE = SMALL_QWEN3_SCRIPT + r"""
from lmx.lm.generate import generate_step

rows = []
for token, logprobs in generate_step(mx.array([5, 17, 42, 7, 99, 3]), model, max_tokens=24):
    rows.append(np.array(logprobs.astype(mx.float32)))
np.save(out, np.stack(rows))
"""


def run_decode(bits, steps, tmp_path):
    out = str(tmp_path / f"{bits}-{steps}.npy")
    env = dict(os.environ, LMX_CUDA_STEP_GRAPHS=steps, LMX_DEFAULT_DEVICE="gpu", LMX_COMPILED_DECODE="1",
               LMX_EVAL_PROFILE="1")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", DECODE, str(bits), out], capture_output=True, text=True, env=env,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(out), proc.stderr


@pytest.mark.parametrize("bits", [0, 4])
def test_compiled_decode_is_identical_with_and_without_step_graphs(bits, tmp_path):
    nodes, report = run_decode(bits, "0", tmp_path)
    assert "compiled steps" not in report
    stepped, report = run_decode(bits, "1", tmp_path)
    np.testing.assert_array_equal(stepped, nodes)
    # The decode really went through one recording, launched for nearly every token.
    found = re.search(r"lmx compiled steps: (\d+) recorded as CUDA graphs, (\d+) launches", report)
    assert found, report[-3000:]
    recorded, launches = map(int, found.groups())
    assert 1 <= recorded <= 2 and launches >= 18, report[-3000:]


def test_bad_setting_is_a_clear_error():
    code = "import lmx.core as mx; f = mx.compile(lambda x: x + 1); print(f(mx.ones(3)).tolist())"
    env = dict(os.environ, LMX_CUDA_STEP_GRAPHS="maybe")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode != 0
    assert "LMX_CUDA_STEP_GRAPHS must be 0 or 1" in proc.stderr
