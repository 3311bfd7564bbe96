"""Runtime: lazy evaluation, eval/async_eval, devices and streams, memory API."""

import gc
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import BACKEND, mx

N = 1 << 22  # float32 elements in a "big" array: 16 MiB
BIG = N * 4


def settle():
    mx.synchronize()
    gc.collect()


@pytest.fixture
def memory():
    """Runs a test with a clean cache and restores the limits afterwards."""
    settle()
    mx.clear_cache()
    mem_limit = mx.get_memory_limit()
    cache_limit = mx.set_cache_limit(1 << 40)
    mx.set_cache_limit(cache_limit)
    yield
    settle()
    mx.set_memory_limit(mem_limit)
    mx.set_cache_limit(cache_limit)
    mx.clear_cache()


# ---------------------------------------------------------------- eval / async_eval


def lazy_tree():
    a = mx.arange(6).reshape(2, 3)
    tree = {
        "x": a * 2,
        "y": [a + 1, (mx.sum(a), a.T - 1)],
        "z": ({"w": mx.exp(a.astype(mx.float32))},),
    }
    expected = {
        "x": np.arange(6).reshape(2, 3) * 2,
        "y": [np.arange(6).reshape(2, 3) + 1, (15, np.arange(6).reshape(2, 3).T - 1)],
        "z": ({"w": np.exp(np.arange(6, dtype=np.float32).reshape(2, 3))},),
    }
    return tree, expected


def check_tree(tree, expected):
    if isinstance(tree, dict):
        assert tree.keys() == expected.keys()
        for k in tree:
            check_tree(tree[k], expected[k])
    elif isinstance(tree, (list, tuple)):
        assert type(tree) is type(expected) and len(tree) == len(expected)
        for t, e in zip(tree, expected):
            check_tree(t, e)
    else:
        np.testing.assert_allclose(np.array(tree), expected, rtol=1e-6)


@pytest.mark.parametrize("fn", ["eval", "async_eval"])
def test_eval_pytrees(fn):
    tree, expected = lazy_tree()
    f = getattr(mx, fn)
    assert f(tree) is None
    if fn == "async_eval":
        mx.eval(tree)
    check_tree(tree, expected)
    # Several arguments, repeated arrays and non-array leaves are fine.
    a = mx.array([1, 2]) + 1
    assert f(a, [a, {"k": a, "n": 3, "s": "text"}], (None,)) is None
    assert f() is None
    mx.synchronize()
    assert a.tolist() == [2, 3]


@pytest.mark.parametrize("fn", ["eval", "async_eval"])
def test_eval_allocates_result(fn, memory):
    base = mx.get_active_memory()
    x = mx.ones((N,)) * 2
    assert mx.get_active_memory() - base < BIG // 2  # still lazy
    getattr(mx, fn)(x)
    mx.synchronize()
    assert mx.get_active_memory() - base >= BIG
    assert x[5].item() == 2.0
    del x
    settle()
    assert mx.get_active_memory() - base < BIG // 2


IMPLICIT = {
    "item": lambda x: x[:1].sum().item(),
    "tolist": lambda x: x.tolist(),
    "repr": repr,
    "str": str,
    "numpy": np.array,
    "bool": lambda x: bool(x[:1].sum()),
    "memoryview": memoryview,
    "int": lambda x: int(x[3]),
}


@pytest.mark.parametrize("how", list(IMPLICIT))
def test_implicit_eval(how, memory):
    base = mx.get_active_memory()
    x = mx.ones((N,)) * 2 + mx.arange(N).astype(mx.float32)
    assert mx.get_active_memory() - base < BIG // 2
    IMPLICIT[how](x)
    mx.synchronize()
    assert mx.get_active_memory() - base >= BIG  # x now holds its data
    assert x[3].item() == 5.0 and x[-1].item() == N + 1


def test_implicit_eval_values():
    x = mx.arange(5) * 3 - 1
    assert x.tolist() == [-1, 2, 5, 8, 11]
    y = mx.sum(mx.arange(5) * 3 - 1)
    assert y.item() == 25 and int(y) == 25 and bool(y > 20)
    z = mx.arange(3).astype(mx.float32) / 2
    assert repr(z) == "array([0, 0.5, 1], dtype=float32)"
    np.testing.assert_array_equal(
        np.array(mx.arange(4).reshape(2, 2).T * 2), [[0, 4], [2, 6]]
    )


def test_long_chain_of_adds():
    # A graph 1,000,000 nodes deep must be evaluated (and freed) without
    # recursing on the C stack. MLX takes about 10 s here.
    start = time.monotonic()
    x = mx.array(0, mx.int32)
    for _ in range(1_000_000):
        x = x + 1
    assert x.item() == 1_000_000
    assert time.monotonic() - start < 120


def test_long_unevaluated_chain_is_freed():
    x = mx.array(0.0)
    for _ in range(300_000):
        x = x * 1.0 + 1.0
    del x  # dropping the whole graph at once must not overflow the stack
    gc.collect()
    y = mx.array(1.0) + 1
    assert y.item() == 2.0


# ---------------------------------------------------------------- devices


def test_devices():
    assert isinstance(mx.cpu, mx.DeviceType) and mx.cpu == mx.DeviceType.cpu
    d = mx.Device(mx.cpu)
    assert isinstance(d, mx.Device) and d.type == mx.cpu
    assert (
        d == mx.cpu and d == mx.Device(mx.cpu, 0) and d == mx.Device(mx.DeviceType.cpu)
    )
    assert repr(d) == "Device(cpu, 0)"
    assert mx.Device(mx.gpu).type == mx.gpu and mx.Device(mx.gpu) != d
    assert mx.device_count(mx.cpu) >= 1
    assert isinstance(mx.default_device(), mx.Device)
    with pytest.raises(TypeError):
        mx.Device("cpu")


def test_set_default_device():
    old = mx.default_device()
    try:
        assert mx.set_default_device(mx.cpu) is None
        assert mx.default_device() == mx.Device(mx.cpu)
        assert (mx.arange(3) + 1).tolist() == [1, 2, 3]
        mx.set_default_device(mx.Device(mx.cpu))
        assert mx.default_device() == mx.cpu
    finally:
        mx.set_default_device(old)
    assert mx.default_device() == old


def test_gpu_availability():
    if mx.is_available(mx.gpu):
        assert mx.default_stream(mx.gpu).device == mx.gpu
    else:
        assert mx.device_count(mx.gpu) == 0
        with pytest.raises(ValueError):
            mx.default_stream(mx.gpu)
        with pytest.raises(ValueError):
            mx.new_stream(mx.gpu)
        with pytest.raises(ValueError):
            mx.set_default_device(mx.gpu)
        with pytest.raises(ValueError):
            mx.add(mx.array(1), 1, stream=mx.gpu)
        assert mx.default_device() == mx.cpu


# ---------------------------------------------------------------- streams


def test_streams():
    s0 = mx.default_stream(mx.cpu)
    assert isinstance(s0, mx.Stream) and s0.device == mx.cpu
    assert s0 == mx.default_stream(mx.Device(mx.cpu))
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.Device(mx.cpu))
    assert s1 != s0 and s2 != s1 and s1.device == s2.device == mx.cpu
    assert repr(s0).startswith("Stream(Device(cpu, 0), ")
    assert mx.synchronize() is None
    assert mx.synchronize(s1) is None
    with pytest.raises(TypeError):
        mx.Stream(mx.cpu)


@pytest.mark.parametrize("kind", ["stream", "new_stream", "device", "device_type"])
def test_ops_take_stream_argument(rng, kind):
    s = {
        "stream": mx.default_stream(mx.cpu),
        "new_stream": mx.new_stream(mx.cpu),
        "device": mx.Device(mx.cpu),
        "device_type": mx.cpu,
    }[kind]
    x = rng.standard_normal((5, 7)).astype(np.float32)
    a = mx.array(x)
    out = mx.add(a, 1.5, stream=s)
    out = mx.multiply(out, out.T.T, stream=s)
    total = mx.sum(out, axis=1, stream=s)
    np.testing.assert_allclose(np.array(total), ((x + 1.5) ** 2).sum(1), rtol=1e-5)
    np.testing.assert_array_equal(np.array(mx.arange(4, stream=s)), np.arange(4))
    np.testing.assert_array_equal(
        np.array(a.astype(mx.int32, stream=s)), x.astype(np.int32)
    )
    np.testing.assert_array_equal(np.array(mx.zeros((2,), stream=s)), [0, 0])


def test_bad_stream_argument():
    with pytest.raises(TypeError):
        mx.add(mx.array(1), 1, stream="cpu")
    with pytest.raises(TypeError):
        mx.stream("x")


def test_stream_context():
    s = mx.new_stream(mx.cpu)
    before = mx.default_stream(mx.cpu)
    with mx.stream(s):
        assert mx.default_stream(mx.cpu) == s
        x = mx.arange(10) * 2
        inner = mx.new_stream(mx.cpu)
        with mx.stream(inner):
            assert mx.default_stream(mx.cpu) == inner
            y = x + 1
        assert mx.default_stream(mx.cpu) == s
    assert mx.default_stream(mx.cpu) == before
    assert y.tolist() == list(range(1, 20, 2))
    with mx.stream(mx.cpu):
        assert mx.default_device() == mx.cpu
        assert (mx.ones((3,)) * 4).tolist() == [4.0] * 3
    with pytest.raises(RuntimeError), mx.stream(s):
        raise RuntimeError("propagates")
    assert mx.default_stream(mx.cpu) == before  # restored after an exception


def test_two_streams_consumer(rng):
    s1, s2 = mx.new_stream(mx.cpu), mx.new_stream(mx.cpu)
    x = rng.standard_normal(1 << 18).astype(np.float32)
    a = mx.array(x)
    b = mx.multiply(a, 3.0, stream=s1)
    b = mx.exp(mx.abs(b), stream=s1)
    c = mx.add(b, 1.0, stream=s2)  # consumes s1's result on s2
    d = mx.sum(mx.sqrt(c, stream=s2), stream=s1)
    expected = np.sqrt(np.exp(np.abs(x * 3.0)) + 1.0)
    np.testing.assert_allclose(np.array(c), np.exp(np.abs(x * 3.0)) + 1.0, rtol=1e-5)
    np.testing.assert_allclose(d.item(), expected.sum(dtype=np.float64), rtol=1e-4)
    # Ping-pong between the streams many times.
    y = mx.array(0, mx.int32)
    for i in range(200):
        y = mx.add(y, i, stream=s1 if i % 2 else s2)
    mx.synchronize(s1)
    mx.synchronize(s2)
    assert y.item() == sum(range(200))


def run_in_thread(fn):
    """Runs fn on a new thread and returns its result (re-raising its error)."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_thread_local_stream(rng):
    tls = mx.new_thread_local_stream(mx.cpu)
    assert isinstance(tls, mx.ThreadLocalStream) and tls.device == mx.cpu
    assert repr(tls).startswith("ThreadLocalStream(Device(cpu, 0), ")
    with pytest.raises(TypeError):
        mx.ThreadLocalStream(mx.cpu)
    x = rng.standard_normal((4, 6)).astype(np.float32)

    def work():
        a = mx.array(x)
        out = mx.sum(mx.multiply(a, 2.0, stream=tls), axis=0, stream=tls)
        with mx.stream(tls):  # each thread enters its own stream
            mine = mx.default_stream(mx.cpu)
            more = mx.exp(a) + 1
        return np.array(out), np.array(more), mine

    main_out, main_more, main_stream = work()
    thread_out, thread_more, thread_stream = run_in_thread(work)
    for out, more in ((main_out, main_more), (thread_out, thread_more)):
        np.testing.assert_allclose(out, (2 * x).sum(0), rtol=1e-5)
        np.testing.assert_allclose(more, np.exp(x) + 1, rtol=1e-5)
    assert main_stream != thread_stream
    # The same thread gets the same stream each time.
    with mx.stream(tls):
        assert mx.default_stream(mx.cpu) == main_stream


def test_a_stream_context_belongs_to_its_thread():
    s = mx.new_stream(mx.cpu)
    outside = run_in_thread(lambda: mx.default_stream(mx.cpu))
    with mx.stream(s):
        assert mx.default_stream(mx.cpu) == s
        # Another thread keeps its own default while this one is in the context.
        other = run_in_thread(lambda: (mx.default_stream(mx.cpu), (mx.arange(3) * 2).tolist()))
        assert other[0] != s and other[1] == [0, 2, 4]
    assert mx.default_stream(mx.cpu) != s
    assert outside != s


def test_clear_streams_destroys_the_threads_streams():
    # Run on a thread of its own: MLX's clear_streams also destroys the
    # calling thread's default stream.
    def work():
        s = mx.new_stream(mx.cpu)
        ready = mx.add(mx.arange(5), 1, stream=s)
        mx.eval(ready)
        pending = mx.multiply(ready, 3, stream=s)
        mx.async_eval(pending)  # queued work finishes before the stream goes
        mx.clear_streams()
        with pytest.raises((ValueError, RuntimeError), match="Stream"):
            mx.eval(mx.add(mx.array(1), 1, stream=s))
        return ready.tolist(), pending.tolist()

    ready, pending = run_in_thread(work)
    assert ready == [1, 2, 3, 4, 5] and pending == [3, 6, 9, 12, 15]
    # Other threads' streams are untouched.
    assert (mx.arange(3) + 1).tolist() == [1, 2, 3]


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX's clear_streams also destroys the thread's default stream")
def test_eval_on_a_destroyed_stream_leaves_its_inputs_usable():
    def work():
        s = mx.new_stream(mx.cpu)
        x = mx.arange(4.0) * 2  # pending on the default stream
        y = mx.exp(x, stream=s)
        mx.clear_streams()
        with pytest.raises(ValueError, match="clear_streams"):
            mx.eval(y)
        mx.synchronize(mx.cpu)
        return x.tolist()

    assert run_in_thread(work) == [0.0, 2.0, 4.0, 6.0]


def test_async_eval_pipeline_reads_each_step_while_the_next_is_queued():
    # A decode loop's shape: step i+1 is built on step i and handed to
    # async_eval before step i is read. Every read sees its own step.
    x = mx.arange(8, dtype=mx.float32)
    state, seen = x, []
    step = state * 2 + 1
    mx.async_eval(step)
    for i in range(20):
        following = mx.sin(step) + step
        mx.async_eval(following)
        seen.append(step.tolist())
        step = following
    expected = np.arange(8, dtype=np.float32) * 2 + 1
    for values in seen:
        np.testing.assert_allclose(values, expected, rtol=1e-5)
        expected = np.sin(expected) + expected


def test_async_eval_from_many_threads():
    # Graphs handed to async_eval by several threads at once (each also
    # reads results the others' scheduling may still be handling).
    def work(k):
        y = mx.full((4,), float(k))
        for _ in range(200):
            y = y + 1
        mx.async_eval(y)
        z = y * 2
        mx.async_eval(z)
        return y.tolist(), z.tolist()

    results = {}
    threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, work(k))) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(6):
        assert results[k] == ([k + 200.0] * 4, [2 * (k + 200.0)] * 4)


def test_compile_captures_what_async_eval_has_handed_over():
    x = mx.arange(5, dtype=mx.float32)
    y = x * 3
    mx.async_eval(y)
    f = mx.compile(lambda a: a + y)
    assert f(x).tolist() == [0.0, 4.0, 8.0, 12.0, 16.0]
    assert y.tolist() == [0.0, 3.0, 6.0, 9.0, 12.0]


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX's clear_streams also destroys the thread's default stream")
def test_async_eval_scheduling_error_is_raised_by_the_wait():
    # lmx walks async_eval's graph on a background thread: a graph that
    # cannot be scheduled (a destroyed stream) fails when it is waited for.
    def work():
        s = mx.new_stream(mx.cpu)
        y = mx.exp(mx.arange(3.0), stream=s)
        mx.clear_streams()
        try:
            mx.async_eval(y)  # raises here only with LMX_ASYNC_SCHEDULE=0
        except ValueError as e:
            assert "clear_streams" in str(e)
        with pytest.raises(ValueError, match="clear_streams"):
            mx.eval(y)

    run_in_thread(work)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's scheduling knob")
@pytest.mark.parametrize("setting,ok", [("0", True), ("1", True), ("", True), ("yes", False)])
def test_async_schedule_setting(setting, ok):
    # LMX_ASYNC_SCHEDULE=0 walks async_eval's graph on the caller's thread:
    # the same results either way; a malformed value is an error naming it.
    code = f"""
import {mx.__name__} as mx
y = mx.arange(6, dtype=mx.float32)
out = []
try:
    for i in range(30):
        nxt = y * 0.5 + i
        mx.async_eval(nxt)
        out.append(y.sum().item())
        y = nxt
    print("sums", out[-1])
except ValueError as e:
    print("error", e)
"""
    env = dict(os.environ, LMX_TEST_BACKEND=BACKEND, LMX_ASYNC_SCHEDULE=setting)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if ok:
        y = np.arange(6, dtype=np.float32)
        for i in range(29):
            y = y * 0.5 + i
        assert f"sums {float(y.sum())}" in proc.stdout
    else:
        assert "error" in proc.stdout and "LMX_ASYNC_SCHEDULE" in proc.stdout


# ---------------------------------------------------------------- memory


def test_memory_counters(memory):
    for f in (mx.get_active_memory, mx.get_peak_memory, mx.get_cache_memory):
        assert isinstance(f(), int) and f() >= 0
    base = mx.get_active_memory()
    x = mx.zeros((N,), mx.float32)
    mx.eval(x)
    active = mx.get_active_memory()
    assert active - base >= BIG
    assert mx.get_peak_memory() >= active
    del x
    settle()
    assert mx.get_active_memory() <= active - BIG
    assert mx.get_peak_memory() >= active  # the peak remembers


def test_reset_peak_memory(memory):
    x = mx.ones((N,))
    mx.eval(x)
    assert mx.get_peak_memory() >= BIG
    del x
    settle()
    assert mx.reset_peak_memory() is None
    assert mx.get_peak_memory() < BIG
    y = mx.ones((2 * N,))
    mx.eval(y)
    assert mx.get_peak_memory() >= 2 * BIG
    assert mx.get_peak_memory() >= mx.get_active_memory()


def test_clear_cache(memory):
    x = mx.ones((N,)) + 1
    mx.eval(x)
    del x
    settle()
    assert mx.get_cache_memory() >= 0
    assert mx.clear_cache() is None
    assert mx.get_cache_memory() == 0
    y = mx.ones((N,))
    mx.eval(y)
    assert y[0].item() == 1.0  # the allocator still works after clearing


def test_cache_limit(memory):
    prev = mx.set_cache_limit(0)
    assert isinstance(prev, int) and prev >= 0
    x = mx.ones((N,)) * 3
    mx.eval(x)
    del x
    settle()
    assert mx.get_cache_memory() == 0  # nothing may be kept with a zero limit
    assert mx.set_cache_limit(prev) == 0


def test_memory_limit(memory):
    old = mx.get_memory_limit()
    assert isinstance(old, int) and old > 0
    assert mx.set_memory_limit(1 << 30) == old  # returns the previous limit
    assert mx.get_memory_limit() == 1 << 30
    assert mx.set_memory_limit(old) == 1 << 30
    assert mx.get_memory_limit() == old


def test_shape_too_large_for_int32():
    # MLX shapes are 32-bit: a dimension >= 2**31 is refused up front.
    with pytest.raises(OverflowError):
        mx.zeros((1 << 40,), mx.float32)


# MLX (0.32, CPU) dies with SIGSEGV when the allocation fails: this checks
# that lmx raises instead, so it runs for lmx only. It runs in a child process
# so that a crash shows up as a failed test instead of killing pytest.
@pytest.mark.skipif(BACKEND != "lmx", reason="MLX segfaults on a failed allocation")
def test_impossible_allocation_raises():
    code = f"""
import {mx.__name__} as mx
try:
    a = mx.zeros((1 << 20, 1 << 20), mx.float32)  # 4 TiB
    mx.eval(a)
except (RuntimeError, MemoryError) as e:
    print("raised", type(e).__name__)
b = mx.ones((4,)) + 1
print("alive", b.tolist())
"""
    env = dict(os.environ, LMX_TEST_BACKEND=BACKEND)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "raised" in proc.stdout
    assert "alive [2.0, 2.0, 2.0, 2.0]" in proc.stdout


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's scheduling knob")
@pytest.mark.parametrize("cap,ok", [("1", True), ("3", True), ("0", False), ("many", False)])
def test_eval_batch_nodes_setting(cap, ok):
    # The scheduler hands a stream's nodes over in pieces that grow up to
    # LMX_EVAL_BATCH_NODES: any cap gives the same results, even pieces of a
    # single node across two streams; a malformed one is an error naming it.
    code = f"""
import {mx.__name__} as mx
s = mx.new_stream(mx.default_device())
x = mx.arange(10, dtype=mx.float32)
y = x
for i in range(300):
    y = y + 1 if i % 7 else mx.multiply(y, 1, stream=s)
try:
    print("sum", y.sum().item())
except ValueError as e:
    print("error", e)
"""
    env = dict(os.environ, LMX_TEST_BACKEND=BACKEND, LMX_EVAL_BATCH_NODES=cap)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if ok:
        assert "sum " + str(float(sum(range(10)) + 10 * (300 - 43))) in proc.stdout
    else:
        assert "error" in proc.stdout and "LMX_EVAL_BATCH_NODES" in proc.stdout


def test_device_info_wired_limit_and_buffer_sizes():
    info = mx.device_info()
    assert isinstance(info, dict) and "architecture" in info and "device_name" in info
    previous = mx.set_wired_limit(0)
    assert mx.set_wired_limit(previous) == 0
    a = mx.arange(6, dtype=mx.float32).reshape(3, 2)
    view = a[1:]
    mx.eval(a, view)
    size = mx.get_array_buffer_size(a, view)
    assert size >= a.nbytes  # one shared buffer, counted once (its allocation may be rounded up)
    b = mx.ones(4)
    mx.eval(b)
    assert mx.get_array_buffer_size(a, b) > size
    assert mx.metal.is_available() in (True, False)


def test_iterating_an_array_walks_its_first_axis():
    a = mx.arange(6).reshape(3, 2)
    rows = list(a)
    assert len(rows) == 3 and rows[2].tolist() == [4, 5]
    with pytest.raises(TypeError):
        iter(mx.array(1))
    with mx.stream(mx.cpu):
        assert mx.default_device() == mx.cpu
