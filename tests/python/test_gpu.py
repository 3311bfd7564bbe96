"""The GPU device: availability, unified memory, and CPU-vs-GPU parity of
every primitive with a CUDA kernel. Skipped where no GPU is present (CI); run
on the lent GPU machine by benchmarks/gpu_check.sh."""

import numpy as np
import pytest

from conftest import BACKEND, mx

pytestmark = pytest.mark.skipif(
    BACKEND != "lmx" or not mx.is_available(mx.gpu), reason="needs lmx built with CUDA and an NVIDIA GPU"
)

rng = np.random.default_rng(0)

GPU_DTYPES = ["bool_", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
              "float16", "bfloat16", "float32"]  # fmt: skip
FLOATS = ["float16", "bfloat16", "float32"]


def rand(shape, dtype):
    if dtype == "bool_":
        return mx.array(rng.random(shape) > 0.5)
    if dtype.startswith(("int", "uint")):
        lo = 0 if dtype.startswith("u") else -20
        return mx.array(rng.integers(lo, 20, size=shape)).astype(getattr(mx, dtype))
    return mx.array(rng.standard_normal(shape).astype(np.float32)).astype(getattr(mx, dtype))


def same(gpu, cpu, dtype, tol=None):
    assert gpu.dtype == cpu.dtype and gpu.shape == cpu.shape
    g = np.array(gpu.astype(mx.float32) if gpu.dtype == mx.bfloat16 else gpu)
    c = np.array(cpu.astype(mx.float32) if cpu.dtype == mx.bfloat16 else cpu)
    if g.dtype.kind in "biu":
        np.testing.assert_array_equal(g, c)
    else:
        rtol = tol or {"float16": 2e-3, "bfloat16": 1e-2}.get(str(dtype), 2e-6)
        np.testing.assert_allclose(g, c, rtol=rtol, atol=rtol, equal_nan=True)


def identical(gpu, cpu):
    assert gpu.dtype == cpu.dtype and gpu.shape == cpu.shape
    as_np = lambda a: np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a)  # noqa: E731
    np.testing.assert_array_equal(as_np(gpu), as_np(cpu))


def runs_without_host_fallback(script, timeout=120, **env):
    """Runs `script` in a child process under LMX_GPU_STRICT=1 (any host
    fallback an error): it must exit 0 and print only "ok"."""
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, LMX_GPU_STRICT="1", **env),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def on_gpu_and_cpu(make):
    """make(stream) -> list of arrays, evaluated on each device: (gpu results, cpu results)."""
    results = []
    for s in (mx.gpu, mx.cpu):
        r = make(s)
        mx.eval(r)
        results.append(r)
    return results


def test_device_and_info():
    assert mx.cuda.is_available()
    assert mx.device_count(mx.gpu) == 1
    info = mx.device_info(mx.gpu)
    assert info["memory_size"] > 0 and info["architecture"].startswith("sm_")
    assert mx.default_device() == mx.gpu  # the GPU wins when present, as in MLX


def test_unified_memory_round_trips():
    x = mx.arange(1000, stream=mx.cpu)           # host-resident
    y = mx.multiply(x, 3, stream=mx.gpu)        # copied in once, computed on the GPU
    z = mx.add(y, 1, stream=mx.cpu)             # copied out once, computed on the CPU
    w = mx.subtract(z, y, stream=mx.gpu)        # back again
    np.testing.assert_array_equal(np.array(w), np.ones(1000))
    np.testing.assert_array_equal(np.array(y), np.arange(1000) * 3)


def test_mixed_streams_random_graph_matches_cpu():
    ops = [mx.add, mx.multiply, mx.subtract, mx.maximum]
    s_gpu2 = mx.new_stream(mx.gpu)
    for trial in range(5):
        a = rand((64, 33), "float32")
        b = rand((64, 33), "float32")
        streams = [mx.cpu, mx.gpu, s_gpu2]
        x, ref = a, a
        for i in range(20):
            op = ops[(trial + i) % len(ops)]
            x = op(x, b, stream=streams[(i * 7 + trial) % 3])
            ref = op(ref, b, stream=mx.cpu)
            if i % 5 == 4:
                x = mx.sum(x, axis=1, keepdims=True, stream=streams[i % 3]) * 0.01 + b
                ref = mx.sum(ref, axis=1, keepdims=True, stream=mx.cpu) * 0.01 + b
        mx.eval(x, ref)
        same(x, ref, "float32", tol=1e-5)


def test_host_reads_wait_for_their_batch_while_later_batches_queue():
    # Each step's batch ends without waiting for its kernels: reading step i
    # must wait for them, with step i+1 already queued (a decode loop).
    w = rand((512, 512), "float32") * 0.05
    x = rand((4, 512), "float32")
    ref = np.array(x)
    wn = np.array(w)
    steps = [mx.tanh(x @ w, stream=mx.gpu)]
    mx.async_eval(steps[0])
    for i in range(12):
        nxt = mx.tanh(steps[-1] @ w, stream=mx.gpu)
        mx.async_eval(nxt)
        ref = np.tanh(ref @ wn)
        same(steps[-1], mx.array(ref), "float32", tol=1e-4)  # a host read of step i
        steps.append(nxt)


def test_host_reads_from_other_threads_match_cpu():
    import threading

    a = rand((256, 256), "float32")
    outs, errors = {}, []

    def read(k):
        try:
            y = mx.exp(mx.tanh(a * (k + 1), stream=mx.gpu), stream=mx.gpu)
            mx.async_eval(y)
            outs[k] = np.array(y)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(4):
        np.testing.assert_allclose(outs[k], np.exp(np.tanh(np.array(a) * (k + 1))), rtol=1e-5)


def test_device_errors_reach_the_next_wait():
    x = rand((6, 7), "float32")
    # Found by a kernel after its batch has ended: item (a host read) raises.
    y = mx.take(x, mx.array([9]), axis=0, stream=mx.gpu).sum(stream=mx.gpu)
    mx.async_eval(y)
    with pytest.raises(IndexError, match="out of bounds"):
        y.item()
    # mx.synchronize raises it too, once.
    mx.async_eval(mx.take(x, mx.array([0, 7]), axis=1, stream=mx.gpu))
    with pytest.raises(IndexError, match="out of bounds"):
        mx.synchronize()
    mx.synchronize()
    assert mx.take(x, mx.array([5]), axis=0, stream=mx.gpu).shape == (1, 7)


UNARY = ["abs", "negative", "square", "sign", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh",
         "sigmoid", "erf", "erfinv", "floor", "ceil", "round", "log1p", "expm1", "arctan", "isnan",
         "logical_not", "reciprocal", "sinh", "arcsinh"]  # fmt: skip


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("dtype", FLOATS + ["int32", "uint8", "bool_"])
def test_unary_parity(op, dtype):
    f = getattr(mx, op)
    x = rand((37, 41), dtype)
    if op in ("log", "sqrt", "rsqrt", "log1p", "reciprocal") and dtype in FLOATS:
        x = mx.abs(x) + 0.5
    if op == "erfinv" and dtype in FLOATS:
        x = mx.tanh(x)
    try:
        cpu = f(x, stream=mx.cpu)
        mx.eval(cpu)
    except ValueError:
        with pytest.raises(ValueError):
            mx.eval(f(x, stream=mx.gpu))
        return
    same(f(x, stream=mx.gpu), cpu, dtype)
    # Strided input (a transposed view) takes the strided kernel.
    same(f(x.T, stream=mx.gpu), f(x.T, stream=mx.cpu), dtype)


BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "equal", "less",
          "greater_equal", "logical_and", "floor_divide", "remainder", "arctan2", "logaddexp",
          "bitwise_and", "left_shift"]  # fmt: skip


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_binary_parity(op, dtype):
    f = getattr(mx, op)
    a, b = rand((33, 65), dtype), rand((33, 65), dtype)
    if op in ("floor_divide", "remainder", "divide") and dtype not in FLOATS:
        b = mx.where(b == 0, mx.array(1, dtype=b.dtype), b)
    if op == "left_shift":
        b = mx.abs(b) % 4 if dtype not in ("bool_",) else b
    if op == "power" and dtype not in FLOATS:
        b = mx.abs(b) % 3
    try:
        cpu = f(a, b, stream=mx.cpu)
        mx.eval(cpu)
    except ValueError:
        with pytest.raises(ValueError):
            mx.eval(f(a, b, stream=mx.gpu))
        return
    same(f(a, b, stream=mx.gpu), cpu, dtype)
    # Broadcasting: a row against a matrix, and a scalar.
    same(f(a, b[:1], stream=mx.gpu), f(a, b[:1], stream=mx.cpu), dtype)
    same(f(a[:, :1], b, stream=mx.gpu), f(a[:, :1], b, stream=mx.cpu), dtype)


@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_where_astype_copies(dtype):
    c = rand((20, 30), "bool_")
    x, y = rand((20, 30), dtype), rand((1, 30), dtype)
    same(mx.where(c, x, y, stream=mx.gpu), mx.where(c, x, y, stream=mx.cpu), dtype)
    for t in GPU_DTYPES:
        same(x.astype(getattr(mx, t), stream=mx.gpu), x.astype(getattr(mx, t), stream=mx.cpu), t)
    for s in (mx.gpu, mx.cpu):
        with mx.stream(s):
            r = [mx.contiguous(x.T), mx.concatenate([x, x[:3]], axis=0), mx.pad(x, [(1, 2), (0, 3)]),
                 x[::2, 1::3], mx.reshape(x.T, (-1,)), mx.broadcast_to(y, (4, 20, 30)), mx.swapaxes(x, 0, 1) + 0]  # fmt: skip
            upd = mx.array(x)
            upd[2:5, ::4] = y[:, ::4][:, :8] if dtype != "bool_" else True
            r.append(upd)
            mx.eval(r)
        if s == mx.gpu:
            gpu_r = r
    for g, c in zip(gpu_r, r):
        same(g, c, dtype)


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min", "all", "any", "mean"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool_"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (1, 2)])
def test_reduce_parity(op, dtype, axis):
    f = getattr(mx, op)
    x = rand((7, 129, 33), dtype)
    if op == "prod" and dtype in FLOATS:
        x = 1 + 0.01 * x
    tol = {"sum": 1e-4, "mean": 1e-4, "prod": 1e-4}.get(op) if dtype == "float32" else None
    try:
        cpu = f(x, axis=axis, stream=mx.cpu)
        mx.eval(cpu)
    except ValueError:
        return
    same(f(x, axis=axis, stream=mx.gpu), cpu, dtype, tol=tol)
    same(f(x.transpose(2, 0, 1), axis=axis, stream=mx.gpu), f(x.transpose(2, 0, 1), axis=axis, stream=mx.cpu),
         dtype, tol=tol)


def test_large_all_reduce_and_nan():
    x = mx.ones((1 << 22,), dtype=mx.float32, stream=mx.gpu)
    assert mx.sum(x, stream=mx.gpu).item() == float(1 << 22)
    y = mx.array([1.0, float("nan"), 3.0])
    assert np.isnan(mx.max(y, stream=mx.gpu).item())


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shapes", [((64, 32), (32, 48)), ((3, 5, 7), (3, 7, 9)), ((2, 1, 4, 6), (1, 3, 6, 5)), ((1, 16), (16, 1))])
def test_matmul_parity(dtype, shapes):
    a, b = rand(shapes[0], dtype), rand(shapes[1], dtype)
    tol = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5}[dtype]
    same(mx.matmul(a, b, stream=mx.gpu), mx.matmul(a, b, stream=mx.cpu), dtype, tol=tol)
    # Transposed operands are read in place.
    at, bt = mx.swapaxes(a, -1, -2), mx.swapaxes(b, -1, -2)
    same(mx.matmul(mx.swapaxes(at, -1, -2), mx.swapaxes(bt, -1, -2), stream=mx.gpu), mx.matmul(a, b, stream=mx.cpu),
         dtype, tol=tol)


def test_ops_without_kernels_still_run_on_gpu_streams():
    # Gather, sort and friends run through the host until their kernels land.
    x = rand((50,), "float32")
    idx = mx.array([3, 1, 4, 1, 5])
    np.testing.assert_array_equal(np.array(mx.take(x, idx, stream=mx.gpu)), np.array(x)[[3, 1, 4, 1, 5]])
    np.testing.assert_array_equal(np.array(mx.sort(x, stream=mx.gpu)), np.sort(np.array(x)))
    assert mx.argmax(x, stream=mx.gpu).item() == int(np.argmax(np.array(x)))


def test_float64_is_cpu_only():
    x = mx.array([1.0, 2.0], dtype=mx.float64)
    with pytest.raises(ValueError, match="float64"):
        mx.eval(mx.add(x, x, stream=mx.gpu))
    assert mx.add(x, x, stream=mx.cpu).tolist() == [2.0, 4.0]


def test_memory_api_counts_device_buffers_and_oom_recovers():
    mx.synchronize()
    before = mx.get_active_memory()
    x = mx.add(mx.zeros((1 << 26,), dtype=mx.float32), 1, stream=mx.gpu)  # a real buffer, not a broadcast
    mx.eval(x)
    assert mx.get_active_memory() - before >= (1 << 28)
    del x
    mx.synchronize()
    assert mx.get_active_memory() - before < (1 << 26)
    with pytest.raises(RuntimeError):
        mx.eval(mx.add(mx.zeros((1 << 16, 1 << 30), dtype=mx.uint8), 1, stream=mx.gpu))
    # The device is still usable after the failed allocation.
    assert mx.sum(mx.ones((10,), stream=mx.gpu), stream=mx.gpu).item() == 10
    mx.clear_cache()


def test_fast_ops_match_cpu():
    x = rand((2, 5, 64), "float32")
    w = rand((64,), "float32")
    b = rand((64,), "float32")
    q, k, v = rand((2, 4, 3, 16), "float32"), rand((2, 2, 6, 16), "float32"), rand((2, 2, 6, 16), "float32")
    mask = np.tril(np.ones((3, 6), dtype=bool), 3)
    mask[0] = False  # row 0 sees no key at all
    mask = mx.array(mask)
    for s in (mx.gpu, mx.cpu):
        with mx.stream(s):
            r = [mx.fast.rms_norm(x, w, 1e-5), mx.fast.layer_norm(x, w, b, 1e-5),
                 mx.fast.rope(x.reshape(2, 1, 5, 64), 64, traditional=False, base=10000.0, scale=1.0, offset=3)]  # fmt: skip
            r.append(mx.fast.scaled_dot_product_attention(q, k, v, scale=0.25, mask=mask))
            r.append(mx.fast.scaled_dot_product_attention(q, k, v, scale=0.25, mask="causal"))
            mx.eval(r)
        if s == mx.gpu:
            gpu_r = r
    for g, c in zip(gpu_r, r):
        same(g, c, "float32", tol=1e-5)
    assert not np.isnan(np.array(gpu_r[3])).any()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("d", [8, 12, 128, 520, 2560, 4104, 8192, 8200])
def test_norms_of_every_row_width_match_cpu(dtype, d):
    # Widths up to 8192 in multiples of 8 take the kernel that gives a row
    # one to eight warps; the others the block-per-row one.
    x = rand((3, 13, d), dtype) * 3 + 1
    w, b = rand((d,), dtype), rand((d,), dtype)
    gpu_r, cpu_r = on_gpu_and_cpu(lambda s: [mx.fast.rms_norm(x, w, 1e-5, stream=s),
                                             mx.fast.layer_norm(x, w, b, 1e-5, stream=s),
                                             mx.fast.rms_norm(x[:, 2:7], w, 1e-5, stream=s)])  # fmt: skip
    for g, c in zip(gpu_r, cpu_r):
        same(g, c, dtype, tol={"float32": 1e-5}.get(dtype))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int32"])
@pytest.mark.parametrize("shape,axis", [((1, 151936), -1), ((3, 5000), 1), ((70000, 2), 0), ((2, 2049), -1)])
def test_argreduce_of_long_axes_matches_cpu(dtype, shape, axis):
    # Few outputs over a long axis split the axis over many blocks: the first
    # extreme must still win across pieces, ties and NaNs included.
    v = rng.integers(-3, 4, size=shape).astype(np.float32)
    if dtype != "int32":
        v.flat[rng.integers(0, v.size, 3)] = np.nan
    x = mx.array(v).astype(getattr(mx, dtype))
    gpu_r, cpu_r = on_gpu_and_cpu(lambda s: [mx.argmax(x, axis=axis, stream=s), mx.argmin(x, axis=axis, stream=s),
                                             mx.argmax(mx.abs(x), axis=axis, stream=s)])  # fmt: skip
    for g, c in zip(gpu_r, cpu_r):
        identical(g, c)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("x_shape", [(1, 1, 64), (2, 3, 64), (4, 64), (1, 64), (8, 1, 64)])
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_decode_shaped_products_match_cpu(dtype, x_shape, n):
    # x @ w.T with at most 8 rows of x runs as a matrix-vector kernel, also
    # when matmul broadcasts the weight over x's batch dims.
    x, w = rand(x_shape, dtype), rand((n, 64), dtype)
    w3 = rand((2, n, 64), dtype)

    def products(s):
        r = [mx.matmul(x, w.T, stream=s), mx.matmul(mx.swapaxes(x, -1, -2).T if x.ndim == 2 else x, w.T, stream=s)]
        if x.ndim == 3 and x.shape[0] in (1, 2):
            r.append(mx.matmul(x, mx.swapaxes(w3, -1, -2)[: x.shape[0]], stream=s))  # a batched weight
        return r

    gpu_r, cpu_r = on_gpu_and_cpu(products)
    for g, c in zip(gpu_r, cpu_r):
        same(g, c, dtype, tol={"float32": 1e-5}.get(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("rows, k, ns", [
    (1, 2560, (4096, 1024, 1024)),  # q, k, v projections of a decode step: one launch
    (1, 2560, (9728, 9728)),  # gate and up
    (3, 64, (40, 8, 8, 16)),  # several rows of x, four weights
    (1, 60, (16, 16)),  # K not a whole number of 8-value chunks: a product each
])  # fmt: skip
def test_compiled_sibling_products_match_cpu(dtype, rows, k, ns):
    # compile groups matmuls of one x with several weights (MatmulGroup); the GPU runs them
    # as one matrix-vector kernel over all the weights.
    x = rand((1, rows, k), dtype)
    ws = [rand((n, k), dtype) for n in ns]
    f = mx.compile(lambda x, *ws: [x @ w.T for w in ws])
    with mx.stream(mx.gpu):
        gpu_r = f(x, *ws)
        mx.eval(gpu_r)
    with mx.stream(mx.cpu):
        cpu_r = [x @ w.T for w in ws]
    for g, c in zip(gpu_r, cpu_r):
        same(g, c, dtype, tol={"float32": 1e-4}.get(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bits, rows, k, ns", [
    (4, 1, 2560, (4096, 1024, 1024)),  # a 4-bit decode step's q, k and v: one launch
    (4, 1, 2560, (9728, 9728)),  # gate and up
    (3, 3, 256, (40, 8, 8, 16)),  # several rows of x, four matrices
    (8, 9, 128, (16, 16)),  # too many rows for the matrix-vector kernel: dequantise + gemm each
])  # fmt: skip
def test_compiled_quantized_siblings_match_cpu(dtype, bits, rows, k, ns):
    # compile groups quantised products of one x (QuantizedMatmulGroup); the GPU runs them
    # as one matrix-vector kernel over all the matrices.
    x = rand((1, rows, k), dtype)
    mats = [a for n in ns for a in _qmm_operands(dtype, bits, 64, n, k)]

    def products(x, *m):
        return [mx.quantized_matmul(x, *m[i : i + 3], group_size=64, bits=bits) for i in range(0, len(m), 3)]

    with mx.stream(mx.gpu):
        gpu_r = mx.compile(products)(x, *mats)
        mx.eval(gpu_r)
    with mx.stream(mx.cpu):
        cpu_r = products(x, *mats)
    for g, c in zip(gpu_r, cpu_r):
        scale = float(np.abs(np.array(c.astype(mx.float32))).max())
        same(g, c, dtype, tol={"float32": 2e-5, "float16": 4e-3, "bfloat16": 2e-2}[dtype] * max(scale, 1.0))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("d", [2560, 24, 20])  # the one-pass kernel; rows not whole vectors: add, then norm
def test_compiled_residual_norms_match_cpu(dtype, d):
    # compile makes each residual add and the RMS norm of its sum one AddRMSNorm node.
    def block(x, r, w1, w2):
        h = x + r
        out = h + mx.fast.rms_norm(h, w1, 1e-5)
        return [h, out, mx.fast.rms_norm(out, w2, 1e-6)]

    args = [rand((2, 3, d), dtype), rand((2, 3, d), dtype), rand((d,), dtype), rand((d,), dtype)]
    with mx.stream(mx.gpu):
        gpu_r = mx.compile(block)(*args)
        mx.eval(gpu_r)
    with mx.stream(mx.cpu):
        cpu_r = block(*args)
    for g, c in zip(gpu_r, cpu_r):
        same(g, c, dtype, tol={"float32": 1e-5}.get(dtype))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("k,n", [(2560, 1000), (2560, 4096), (4096, 2560)])
def test_long_decode_products_match_cpu(dtype, k, n):
    # The shapes that pick each number of chunks in flight per lane (4, 1, 2).
    x, w = rand((1, 1, k), dtype), rand((n, k), dtype)
    same(mx.matmul(x, w.T, stream=mx.gpu), mx.matmul(x, w.T, stream=mx.cpu), dtype, tol={"float32": 1e-4}.get(dtype))


def _complex(shape):
    return mx.array((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64))


def spectra_match(gpu_r, cpu_r):
    # cuFFT computes in float32, the CPU in double: errors grow with the magnitudes.
    for g, c in zip(gpu_r, cpu_r):
        scale = float(np.abs(np.array(c)).max()) + 1.0
        np.testing.assert_allclose(np.array(g), np.array(c), rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "shape,axis", [((8,), -1), ((3, 1000), -1), ((1031, 3), 0), ((5, 7, 12), 1), ((2, 1, 6), 1), ((10, 6, 3), 1)]
)
def test_fft_on_every_axis_matches_cpu(shape, axis):
    # One-axis transforms (cuFFT) on innermost axes, on strided axes read in
    # place (up to 8 blocks of lines) or copied innermost (more blocks), with
    # power-of-two, composite and prime lengths, cropped and padded, forward
    # and inverse.
    x = _complex(shape)
    n = shape[axis]
    spectra_match(*on_gpu_and_cpu(lambda s: [
        mx.fft.fft(x, axis=axis, stream=s), mx.fft.ifft(x, axis=axis, stream=s),
        mx.fft.fft(x, n=n + 3, axis=axis, stream=s), mx.fft.fft(x, n=max(n - 1, 1), axis=axis, stream=s),
        mx.fft.fft(mx.swapaxes(x, 0, -1), axis=axis, stream=s)]))  # fmt: skip


def test_real_and_n_dimensional_ffts_match_cpu():
    x = rand((6, 10, 16), "float32")
    gpu_r, cpu_r = on_gpu_and_cpu(lambda s: [
        mx.fft.rfft(x, stream=s), mx.fft.irfft(mx.fft.rfft(x, stream=s), n=16, stream=s),
        mx.fft.fft2(x, stream=s), mx.fft.ifftn(x, axes=[0, 2], stream=s), mx.fft.rfftn(x, stream=s)])  # fmt: skip
    spectra_match(gpu_r, cpu_r)
    # The round trip gives x back.
    np.testing.assert_allclose(np.array(gpu_r[1]), np.array(x), atol=1e-4)


def test_gather_and_argreduce_on_gpu():
    x = rand((6, 7, 8), "float16")
    idx = mx.array([[0, -1], [5, 2]])
    for s in (mx.gpu, mx.cpu):
        with mx.stream(s):
            r = [x[idx], x[:, idx], x[idx, :, idx], mx.take(x, mx.array([3, 0]), axis=2), mx.argmax(x, axis=1),
                 mx.argmin(x, axis=0), mx.argmax(mx.array([1.0, float("nan"), 2.0, float("nan")]))]  # fmt: skip
            mx.eval(r)
        if s == mx.gpu:
            gpu_r = r
    for g, c in zip(gpu_r, r):
        same(g, c, str(c.dtype).split(".")[-1])
    with pytest.raises(IndexError, match="out of bounds"):
        mx.eval(mx.take(x, mx.array([6]), axis=0, stream=mx.gpu))
    # The device stays usable after the failed gather.
    assert mx.take(x, mx.array([5]), axis=0, stream=mx.gpu).shape == (1, 7, 8)


@pytest.mark.parametrize("itype", ["int8", "uint8", "int16", "int32", "uint32", "int64", "uint64"])
def test_gather_and_scatter_take_every_index_type(itype):
    # int32, uint32 and int64 indices are read in place, the others converted; a strided
    # (transposed) index array is converted too.
    x = rand((9, 5), "bfloat16")
    idx = mx.array(np.array([[7, 0, 3], [2, 8, 1]])).astype(getattr(mx, itype))
    upd = rand((3, 5), "bfloat16")
    for s in (mx.gpu, mx.cpu):
        with mx.stream(s):
            r = [x[idx], x[idx.T], mx.take(x, idx[0], axis=0)]
            y = mx.array(x)
            y[idx[1]] = upd
            r.append(y)
            mx.eval(r)
        if s == mx.gpu:
            gpu_r = r
    for g, c in zip(gpu_r, r):
        same(g, c, "bfloat16")
    if itype in ("uint32", "uint64"):  # past the signed range: out of bounds, not negative
        with pytest.raises(IndexError, match="out of bounds"):
            big = np.array([2**32 - 1 if itype == "uint32" else 2**63 + 5], dtype=itype)
            mx.eval(mx.take(x, mx.array(big), axis=0, stream=mx.gpu))


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4097])
def test_random_numbers_identical_to_cpu(n):
    key = mx.random.key(7)
    sub = mx.random.split(key, 3)[1]  # a view of a split key
    for k in (key, sub):
        # randint maps the raw words through exact integer arithmetic.
        g = mx.random.randint(0, 1 << 30, (n,), key=k, stream=mx.gpu)
        c = mx.random.randint(0, 1 << 30, (n,), key=k, stream=mx.cpu)
        np.testing.assert_array_equal(np.array(g), np.array(c))
    same(mx.random.normal((64, 3), key=key, stream=mx.gpu), mx.random.normal((64, 3), key=key, stream=mx.cpu),
         "float32", tol=1e-5)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("tq", [1, 4, 20])
def test_attention_decode_kernel_matches_cpu(dtype, tq):
    # K/V as views into a larger cache (as mlx_lm's KVCache hands them over).
    cache_k, cache_v = rand((1, 2, 64, 32), dtype), rand((1, 2, 64, 32), dtype)
    k, v = cache_k[:, :, :37], cache_v[:, :, :37]
    q = rand((1, 8, tq, 32), dtype)
    sinks = rand((8,), "float32")
    tol = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5}[dtype]
    for kw in ({}, {"mask": "causal"}, {"sinks": sinks}, {"mask": rand((1, 8, tq, 37), dtype)}):
        g = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.17, stream=mx.gpu, **kw)
        c = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.17, stream=mx.cpu, **kw)
        same(g, c, dtype, tol=tol)
    x = rand((2, 3, tq, 48), dtype)
    for trad in (False, True):
        for off in (5, mx.array([3, 9])):
            g = mx.fast.rope(x, 32, traditional=trad, base=500.0, scale=0.5, offset=off, stream=mx.gpu)
            c = mx.fast.rope(x, 32, traditional=trad, base=500.0, scale=0.5, offset=off, stream=mx.cpu)
            same(g, c, dtype, tol=tol)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("hq, hk, tq, tk, d, dv", [
    (32, 8, 1, 1000, 128, 128),  # a decode step of an 8B-class model, many chunks
    (4, 2, 3, 77, 18, 18),  # features not a whole number of vectors: the one-value path
    (2, 1, 2, 300, 512, 64),  # heads wider than a warp's slices, values narrower than keys
])  # fmt: skip
def test_attention_decode_kernel_shapes_match_cpu(dtype, hq, hk, tq, tk, d, dv):
    q, k, v = rand((1, hq, tq, d), dtype), rand((1, hk, tk, d), dtype), rand((1, hk, tk, dv), dtype)
    # A static cache's mask (compiled decode): the first positions written, the rest hidden.
    written = mx.array(np.arange(tk) < tk - 5)[None]
    tol = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5}[dtype]
    for kw in ({}, {"mask": "causal"}, {"mask": written}, {"sinks": rand((hq,), "float32")}):
        g = mx.fast.scaled_dot_product_attention(q, k, v, scale=d**-0.5, stream=mx.gpu, **kw)
        c = mx.fast.scaled_dot_product_attention(q, k, v, scale=d**-0.5, stream=mx.cpu, **kw)
        same(g, c, dtype, tol=tol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_rope_reads_strided_views_in_place(dtype):
    # The transposed (B, T, H, D) -> (B, H, T, D) view an attention layer
    # hands over, a 3-D input, an input whose middle dims do not collapse to
    # one stride (copied first), and more heads than one thread takes.
    cases = [rand((2, 7, 12, 64), dtype).transpose(0, 2, 1, 3), rand((3, 9, 32), dtype),
             rand((2, 5, 3, 4, 6, 32), dtype).transpose(0, 3, 1, 2, 4, 5)[:, :, :, 1:]]  # fmt: skip
    tol = {"float16": 2e-3, "bfloat16": 1e-2, "float32": 1e-5}[dtype]
    for x in cases:
        for trad in (False, True):
            for off in (3, mx.array(list(range(x.shape[0])))):
                kw = dict(traditional=trad, base=10000.0, scale=1.0, offset=off)
                g = mx.fast.rope(x, 16, stream=mx.gpu, **kw)
                c = mx.fast.rope(x, 16, stream=mx.cpu, **kw)
                same(g, c, dtype, tol=tol)


def worst_row_error(gpu, cpu):
    """The largest relative error of one output row (a query's attention)."""
    g = np.array(gpu.astype(mx.float32)).reshape(-1, gpu.shape[-1])
    c = np.array(cpu.astype(mx.float32)).reshape(-1, cpu.shape[-1])
    return float((np.linalg.norm(g - c, axis=1) / (np.linalg.norm(c, axis=1) + 1e-3)).max())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("tq,tk", [(9, 9), (64, 64), (100, 100), (70, 200), (130, 77)])
def test_prefill_attention_kernel_matches_cpu(dtype, d, tq, tk):
    # Query and key counts off the 64-row tiles, a causal diagonal that is not
    # the main one (queries after cached keys, and more queries than keys, whose
    # first rows see nothing), grouped query heads, and K/V as views into a
    # larger cache as mlx_lm's KVCache hands them over.
    cache_k, cache_v = rand((2, 2, tk + 56, d), dtype), rand((2, 2, tk + 56, d), dtype)
    k, v = cache_k[:, :, :tk], cache_v[:, :, :tk]
    q = rand((2, 6, tq, d), dtype)
    scale = d**-0.5
    keep = rng.random((tq, tk)) > 0.3
    keep[tq // 2] = False  # a row that sees nothing
    bool_mask = mx.array(keep)
    cases = [{}, {"mask": "causal"}, {"sinks": rand((6,), "float32")}, {"mask": bool_mask},
             {"mask": rand((1, 6, tq, tk), dtype)}, {"mask": "causal", "sinks": rand((6,), "float32")}]  # fmt: skip
    limit = {"float16": 5e-3, "bfloat16": 2e-2}[dtype]
    for kw in cases:
        g = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, stream=mx.gpu, **kw)
        c = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, stream=mx.cpu, **kw)
        assert g.dtype == c.dtype and g.shape == c.shape
        assert worst_row_error(g, c) < limit, kw


def test_prefill_attention_falls_back_where_the_kernel_does_not_reach():
    # Head dims without a tensor-core kernel and float32 take the matmul path.
    for dtype, d in (("bfloat16", 96), ("float32", 64)):
        q, k, v = rand((1, 2, 33, d), dtype), rand((1, 2, 40, d), dtype), rand((1, 2, 40, d), dtype)
        g = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.1, mask="causal", stream=mx.gpu)
        c = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.1, mask="causal", stream=mx.cpu)
        assert worst_row_error(g, c) < 2e-2


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32", "int64", "uint32"])
def test_scatter_add_with_repeated_indices(dtype):
    x = rand((9, 5), dtype)
    idx = mx.array([0, 3, 3, -1, 3])
    upd = rand((5, 5), dtype)
    with mx.stream(mx.gpu):
        g = x.at[idx].add(upd)
        mx.eval(g)
    with mx.stream(mx.cpu):
        c = x.at[idx].add(upd)
        mx.eval(c)
    same(g, c, dtype, tol={"float16": 2e-2, "bfloat16": 5e-2}.get(dtype, 1e-5))
    # The embedding gradient goes through scatter-add.
    table = rand((20, 8), "float32")
    ids = mx.array([[1, 5, 1], [19, 0, 5]])
    grad = mx.grad(lambda t: (t[ids] ** 2).sum())
    with mx.stream(mx.gpu):
        gg = grad(table)
        mx.eval(gg)
    with mx.stream(mx.cpu):
        gc = grad(table)
        mx.eval(gc)
    same(gg, gc, "float32", tol=1e-5)
    with pytest.raises(IndexError, match="out of bounds"):
        with mx.stream(mx.gpu):
            mx.eval(x.at[mx.array([9])].add(upd[:1]))


def _scatter(mode, x, idx, upd, stream):
    with mx.stream(stream):
        return getattr(x.at[idx], mode)(upd)


@pytest.mark.parametrize("mode", ["add", "multiply", "maximum", "minimum"])
@pytest.mark.parametrize("dtype", GPU_DTYPES)
def test_scatter_modes_combine_repeated_indices_atomically(mode, dtype):
    # 300 index positions over 9 rows of 5: many threads update one element,
    # and 1- and 2-byte elements share their 32-bit word with neighbours that
    # other threads update at the same time.
    x = rand((9, 5), dtype)
    idx = mx.array(rng.integers(-9, 9, size=300))
    upd = rand((300, 5), dtype)
    if mode == "multiply" and dtype in FLOATS:  # keep 300 factors' products finite and away from zero
        upd = (mx.abs(upd.astype(mx.float32)) * 0.02 + 0.99).astype(getattr(mx, dtype))
    g, c = on_gpu_and_cpu(lambda s: [_scatter(mode, x, idx, upd, s)])
    g, c = g[0], c[0]
    # Float sums and products are taken in another order than on the host.
    tol = {"add": {"float16": 2e-2, "bfloat16": 0.25, "float32": 1e-4}, "multiply": {"float16": 2e-2, "bfloat16": 0.1,
                                                                                     "float32": 1e-4}}
    if mode in tol and dtype in FLOATS:
        same(g, c, dtype, tol=tol[mode][dtype])
    else:
        identical(g, c)


@pytest.mark.parametrize("mode", ["maximum", "minimum"])
def test_scatter_max_and_min_let_nan_win_and_report_bad_indices(mode):
    x = mx.array([[1.0, 2.0], [3.0, 4.0]])
    upd = mx.array([[float("nan"), 0.0], [5.0, -1.0], [2.0, float("inf")]])
    idx = mx.array([0, 0, 1])
    g, c = on_gpu_and_cpu(lambda s: [_scatter(mode, x, idx, upd, s)])
    identical(g[0], c[0])
    assert np.isnan(np.array(g[0])[0, 0])
    with pytest.raises(IndexError, match=f"scatter_{mode[:3]}.*Index 2 is out of bounds"):
        mx.eval(_scatter(mode, x, mx.array([2]), upd[:1], mx.gpu))
    # The stream stays usable.
    identical(_scatter(mode, x, idx, upd, mx.gpu), _scatter(mode, x, idx, upd, mx.cpu))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32", "int64", "uint8", "bool_", "complex64"])
def test_scatter_replace_keeps_the_last_repeated_index(dtype):
    x = rand((9, 5), "float32").astype(getattr(mx, dtype))
    upd = rand((5, 5), "float32").astype(getattr(mx, dtype))
    idx = mx.array([0, 3, 3, -1, 3])
    g, c = mx.array(x), mx.array(x)
    with mx.stream(mx.gpu):
        g[idx] = upd
        mx.eval(g)
    with mx.stream(mx.cpu):
        c[idx] = upd
        mx.eval(c)
    host = lambda a: np.array(a.astype(mx.float32) if dtype == "bfloat16" else a)  # noqa: E731
    assert np.array_equal(host(g), host(c))
    assert np.array_equal(host(g)[3], host(upd)[4])


def test_scatter_replace_dynamic_slice_update_and_errors():
    # The static KV cache's write: a window at a position known on the device.
    cache = mx.zeros((1, 4, 16, 8), dtype=mx.bfloat16)
    new = rand((1, 4, 1, 8), "bfloat16")
    for pos in (0, 7, 15):
        with mx.stream(mx.gpu):
            g = mx.slice_update(cache, new, mx.array([pos]), axes=(2,))
            mx.eval(g)
        expect = np.zeros((1, 4, 16, 8), np.float32)
        expect[:, :, pos] = np.array(new.astype(mx.float32))[:, :, 0]
        assert np.array_equal(np.array(g.astype(mx.float32)), expect)
    # Many positions over one element each run on the host, with the same answer.
    x, ids = mx.zeros((5000,)), mx.array(np.arange(3000) % 2000)
    vals = mx.arange(3000).astype(mx.float32)
    with mx.stream(mx.gpu):
        g = mx.array(x)
        g[ids] = vals
        mx.eval(g)
    assert np.array_equal(np.array(g)[:2000], np.concatenate([np.arange(2000, 3000), np.arange(1000, 2000)]))
    with pytest.raises(IndexError, match="Index 9 is out of bounds"):
        with mx.stream(mx.gpu):
            y = rand((9, 5), "float32")
            y[mx.array([9])] = rand((1, 5), "float32")
            mx.eval(y)


# ---- convolutions (cuDNN) against the CPU's ----

CONV_CASES = [  # (input shape, weight shape, conv_general keywords)
    ((2, 17, 5), (4, 3, 5), dict(stride=2, padding=1)),
    ((2, 9, 11, 3), (8, 3, 3, 3), dict(stride=1, padding=1)),
    ((1, 12, 10, 4), (6, 5, 3, 4), dict(stride=(2, 1), padding=([2, 0], [1, 1]), kernel_dilation=(1, 2))),
    ((2, 6, 7, 5, 3), (4, 3, 2, 3, 3), dict(stride=1, padding=(1, 0, 1))),
    ((2, 8, 8, 4), (6, 3, 3, 2), dict(padding=1, groups=2)),  # groups: built from windows
    ((1, 5, 5, 3), (2, 3, 3, 3), dict(padding=1, input_dilation=2)),  # likewise
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("dtype", FLOATS)
def test_convolution_and_its_gradients_match_cpu(case, dtype):
    xs, ws, kw = CONV_CASES[case]
    x32, w32 = rand(xs, "float32"), rand(ws, "float32")
    x, w = x32.astype(getattr(mx, dtype)), w32.astype(getattr(mx, dtype))

    def conv(a, b):
        return mx.conv_general(a, b, **kw)

    def loss(a, b):
        return (conv(a, b).astype(mx.float32) * mx.cos(mx.arange(conv(a, b).size).reshape(conv(a, b).shape))).sum()

    grad = mx.grad(loss, argnums=(0, 1))
    with mx.stream(mx.gpu):
        g = [conv(x, w), *grad(x, w)]
        mx.eval(g)
    with mx.stream(mx.cpu):  # the CPU's float32 result of the same (rounded) values
        c = [conv(x.astype(mx.float32), w.astype(mx.float32)), *grad(x.astype(mx.float32), w.astype(mx.float32))]
        mx.eval(c)
    tol = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 4e-2}[dtype]
    for got, want in zip(g, c):
        assert got.dtype == x.dtype and got.shape == want.shape
        got, want = np.array(got.astype(mx.float32)), np.array(want)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))


@pytest.mark.parametrize("graph_api", ["1", "0"])
def test_convolution_runs_through_cudnn_without_host_fallback(graph_api):
    # LMX_GPU_STRICT turns a host fallback into an error: the forward pass and
    # both gradients, 1 to 3 spatial dims, each float dtype, through cuDNN's
    # graph API and (LMX_CUDNN_GRAPH=0) its legacy one, against the CPU.
    script = """
import numpy as np
import lmx.core as mx
for dtype in (mx.float32, mx.float16, mx.bfloat16):
    for xs, ws in (((2, 9, 3), (4, 3, 3)), ((2, 9, 9, 3), (4, 3, 3, 3)), ((1, 5, 5, 5, 2), (3, 3, 3, 3, 2))):
        x, w = mx.random.normal(xs).astype(dtype), mx.random.normal(ws).astype(dtype)
        f = lambda a, b: mx.conv_general(a, b, stride=2, padding=([1] * (len(xs) - 2), [0] * (len(xs) - 2)))
        g = lambda a, b: mx.grad(lambda a, b: (f(a, b).astype(mx.float32) ** 2).sum(), argnums=(0, 1))(a, b)
        with mx.stream(mx.gpu):
            got = [f(x, w), *g(x, w)]
            mx.eval(got)
        with mx.stream(mx.cpu):
            want = [f(x.astype(mx.float32), w.astype(mx.float32)), *g(x.astype(mx.float32), w.astype(mx.float32))]
            mx.eval(want)
        tol = 1e-4 if dtype == mx.float32 else 5e-2
        for a, b in zip(got, want):
            a, b = np.array(a.astype(mx.float32)), np.array(b)
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * (1 + np.abs(b).max()))
print("ok")
"""
    runs_without_host_fallback(script, timeout=180, LMX_CUDNN_GRAPH=graph_api)


# ---- compile: generated fused kernels against the CPU's ----

def _fused_cases():
    def act(x, y):
        z = 0.5 * x * (1.0 + mx.erf(x * 0.70710677))
        return mx.tanh(z) * mx.sigmoid(y) + mx.exp(-mx.abs(z))

    def mixed(x, y):
        m = x > y
        return mx.where(m, x * 2, y - 1).astype(mx.float16), m, (x + y) / 3

    def ints(x, y):
        return ((x * 3 + y) // 2) % 7, (x & 6) | (y ^ 3)

    return {"act": act, "mixed": mixed, "ints": ints}


def compiled_on_cpu_and_gpu(f, *args):
    """f compiled and evaluated on each device's stream: (cpu result, gpu result)."""
    results = []
    for device in (mx.cpu, mx.gpu):
        with mx.stream(device):
            results.append(mx.compile(f)(*args))
            mx.eval(results[-1])
    return tuple(results)


@pytest.mark.parametrize("case", ["act", "mixed"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", ["dense", "broadcast", "transposed", "scalar", "offset"])
@pytest.mark.parametrize("shape", [(33, 65), (32, 64)])  # the second takes the vector loads where dense
def test_compiled_chains_match_cpu(case, dtype, layout, shape):
    f = _fused_cases()[case]
    m, n = shape
    x = rand(shape, dtype)
    # "offset": a dense view one element into its buffer (misaligned for vectors).
    y = {"dense": rand(shape, dtype), "broadcast": rand((n,), dtype), "scalar": rand((), dtype),
         "transposed": rand((n, m), dtype).T, "offset": rand((m * n + 1,), dtype)[1:].reshape(shape)}[layout]
    cpu, gpu = compiled_on_cpu_and_gpu(f, x, y)
    cpu, gpu = (list(cpu) if isinstance(cpu, tuple) else [cpu]), (list(gpu) if isinstance(gpu, tuple) else [gpu])
    for g, c in zip(gpu, cpu):
        same(g, c, g.dtype, tol={"float16": 1e-2, "bfloat16": 5e-2}.get(dtype, 1e-5))


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64"])
def test_compiled_integer_chains_match_cpu(dtype):
    f = _fused_cases()["ints"]
    x, y = rand((1000, 7), dtype), rand((1000, 7), dtype)
    with mx.stream(mx.cpu):
        cpu = mx.compile(f)(x, y)
    with mx.stream(mx.gpu):
        gpu = mx.compile(f)(x, y)
    for g, c in zip(gpu, cpu):
        same(g, c, g.dtype)


# Row lengths for each way the fused reduction kernel shares out a row: a
# thread (< 32), a warp (< 1024), a block, and a block per piece of a row
# when rows are few (then a second kernel folds the pieces).
FUSED_REDUCTION_SHAPES = [((300, 7), -1), ((37, 50), -1), ((64, 1000), -1), ((3, 5000), -1), ((2, 300000), -1),
                          ((1 << 20,), None), ((4, 30, 70), (1, 2)), ((0, 5), -1), ((5, 0), -1)]


@pytest.mark.parametrize("op", ["sum", "max", "min", "mean"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", FUSED_REDUCTION_SHAPES)
@pytest.mark.parametrize("layout", ["dense", "broadcast", "transposed"])
def test_compiled_reductions_match_cpu(op, dtype, shape, axis, layout):
    if op in ("max", "min") and 0 in shape:
        return  # max and min of nothing raise
    x = rand(shape, dtype)
    b = {"dense": rand(shape, dtype), "broadcast": rand(shape[-1:], dtype),
         "transposed": rand(shape[::-1], dtype).T}[layout]
    red = getattr(mx, op)
    f = lambda x, b: red(mx.tanh(x) * 2 + b * x, axis=axis)  # noqa: E731
    cpu, gpu = compiled_on_cpu_and_gpu(f, x, b)
    # sums of many values in another order: relative to the sum's magnitude
    n = max(1, int(np.prod(shape)) // max(1, int(np.prod(cpu.shape))))
    tol = {"float16": 1e-2, "bfloat16": 5e-2}.get(dtype, 1e-5 * max(1.0, np.sqrt(n) / 10))
    same(gpu, cpu, dtype, tol=tol)


def test_compiled_reduction_is_one_kernel_on_gpu_and_keeps_nan():
    x = mx.array(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]] * 4000, dtype=np.float32).reshape(2, -1))
    f = lambda x: mx.max(x * 2 - 1, axis=-1)  # noqa: E731
    with mx.stream(mx.gpu):
        g = mx._core._CompiledGraph(lambda xs: [f(xs[0])], [x], False)
        assert g.num_fused == 1 and g.num_nodes == 2  # the fused chain and reduction, then the squeeze
        assert np.isnan(np.array(mx.compile(f)(x))).all()
        y = mx.array(np.linspace(-3, 3, 6000, dtype=np.float32).reshape(2, -1))
        np.testing.assert_allclose(np.array(mx.compile(f)(y)), np.array(f(y)), rtol=1e-6)


def test_shapeless_compiled_reduction_on_gpu():
    f = lambda x: mx.sum(mx.exp(x) * 0.5 + 1, axis=-1)  # noqa: E731
    with mx.stream(mx.gpu):
        cf = mx.compile(f, shapeless=True)
        for shape in [(4, 10), (3, 3000), (1, 100)]:
            x = rand(shape, "float32")
            np.testing.assert_allclose(np.array(cf(x)), np.array(f(x)), rtol=1e-5)


def test_compiled_large_chain_and_grad_on_gpu():
    x = rand((1 << 20,), "float32")
    f = lambda x: (mx.tanh(x) * mx.sigmoid(x) + mx.exp(-mx.abs(x))).sum()
    with mx.stream(mx.gpu):
        v, g = mx.value_and_grad(mx.compile(f))(x)
        v_ref, g_ref = mx.value_and_grad(f)(x)
    np.testing.assert_allclose(v.item(), v_ref.item(), rtol=1e-5)
    np.testing.assert_allclose(np.array(g), np.array(g_ref), rtol=1e-5, atol=1e-6)


# ---- quantisation ----


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("group_size", [32, 64, 128])
def test_quantize_dequantize_bit_identical_to_cpu(dtype, bits, group_size):
    w = rand((24, 256), dtype)
    wq_g, s_g, b_g = mx.quantize(w, group_size, bits, stream=mx.gpu)
    wq_c, s_c, b_c = mx.quantize(w, group_size, bits, stream=mx.cpu)
    np.testing.assert_array_equal(np.array(wq_g), np.array(wq_c))
    identical(s_g, s_c)
    identical(b_g, b_c)
    g = mx.dequantize(wq_c, s_c, b_c, group_size, bits, stream=mx.gpu)
    c = mx.dequantize(wq_c, s_c, b_c, group_size, bits, stream=mx.cpu)
    if dtype == "float32":  # one fused multiply-add or two roundings
        same(g, c, dtype, tol=1e-6)
    else:
        identical(g, c)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", ["mxfp4", "mxfp8", "nvfp4", "nvfp4_global"])
def test_fp_quantize_modes_bit_identical_to_cpu(dtype, mode):
    kw = {}
    if mode == "nvfp4_global":
        mode, kw = "nvfp4", {"global_scale": mx.array(np.float32(3.5))}
    x = np.concatenate([rng.standard_normal((6, 192)) * 4, rng.standard_normal((2, 192)) * 1e-3])
    x[1, 5], x[2, 40], x[3, 70] = np.nan, np.inf, -np.inf  # groups that decode as NaN
    w = mx.array(x.astype(np.float32)).astype(getattr(mx, dtype))[:, 32:]  # a view with an offset
    wq_g, s_g = mx.quantize(w, mode=mode, stream=mx.gpu, **kw)
    wq_c, s_c = mx.quantize(w, mode=mode, stream=mx.cpu, **kw)
    np.testing.assert_array_equal(np.array(wq_g), np.array(wq_c))
    np.testing.assert_array_equal(np.array(s_g), np.array(s_c))
    for out in FLOATS:
        g = mx.dequantize(wq_c, s_c, mode=mode, dtype=getattr(mx, out), stream=mx.gpu, **kw)
        identical(g, mx.dequantize(wq_c, s_c, mode=mode, dtype=getattr(mx, out), stream=mx.cpu, **kw))
    # qqmm quantises both operands on the way (the round-trip node).
    y = rand((3, 160), dtype)
    qkw = {"global_scale_x": kw["global_scale"], "global_scale_w": kw["global_scale"]} if kw else {}
    g = mx.qqmm(y, w[:4], mode=mode, stream=mx.gpu, **qkw)
    c = mx.qqmm(y, w[:4], mode=mode, stream=mx.cpu, **qkw)
    same(g, c, dtype, tol={"float32": 1e-5, "float16": 4e-3, "bfloat16": 2e-2}[dtype] * 50)


def _qmm_operands(dtype, bits, group_size, n, k, batch=()):
    w = rand(batch + (n, k), dtype)
    wq, s, b = mx.quantize(w, group_size, bits, stream=mx.cpu)
    return wq, s, b


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("m", [1, 3, 8, 9, 40])
def test_quantized_matmul_matches_cpu(dtype, bits, m):
    # k long enough that the matrix-vector kernel splits it over warps; n not
    # a multiple of the rows a warp takes.
    n, k, gs = 70, 1024, 64
    wq, s, b = _qmm_operands(dtype, bits, gs, n, k)
    x = rand((m, k), dtype)
    for transpose in (True, False):
        w_args = (wq, s, b) if transpose else _qmm_operands(dtype, bits, gs, k, 128)
        g = mx.quantized_matmul(x, *w_args, transpose=transpose, group_size=gs, bits=bits, stream=mx.gpu)
        c = mx.quantized_matmul(x, *w_args, transpose=transpose, group_size=gs, bits=bits, stream=mx.cpu)
        scale = float(np.abs(np.array(c.astype(mx.float32))).max())
        same(g, c, dtype, tol={"float32": 2e-5, "float16": 4e-3, "bfloat16": 2e-2}[dtype] * max(scale, 1.0))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("bits", [3, 4])
@pytest.mark.parametrize("group_size", [32, 128])
@pytest.mark.parametrize("k, n, m", [(2048, 4500, 1), (9728, 130, 2), (4096, 20, 8), (2176, 40, 1)])
def test_quantized_decode_kernels_match_cpu(dtype, bits, group_size, k, n, m):
    # 4 bits take the tensor-core kernel (a tile of 16 rows, x's rows as its columns), 3 the
    # general one: many rows, long rows split over a block's warps, fewer rows than a tile;
    # K not a whole number of 256-value stages: the general kernel for 4 bits too.
    wq, s, b = _qmm_operands(dtype, bits, group_size, n, k)
    x = rand((m, k), dtype)
    g = mx.quantized_matmul(x, wq, s, b, group_size=group_size, bits=bits, stream=mx.gpu)
    c = mx.quantized_matmul(x, wq, s, b, group_size=group_size, bits=bits, stream=mx.cpu)
    scale = float(np.abs(np.array(c.astype(mx.float32))).max())
    same(g, c, dtype, tol={"float16": 4e-3, "bfloat16": 2e-2}[dtype] * max(scale, 1.0))


@pytest.mark.parametrize("group_size", [32, 128])
def test_quantized_matmul_batched_broadcast_and_views(group_size):
    wq, s, b = _qmm_operands("bfloat16", 4, group_size, 48, 256, batch=(3,))
    x = rand((2, 1, 5, 256), "bfloat16")  # batch (2, 1) broadcast against w's (3,)
    xt = mx.swapaxes(rand((2, 3, 256, 1), "bfloat16"), -1, -2)  # one row per matrix, through a view
    x_off = rand((1, 257), "bfloat16")[:, 1:]  # a row starting at an odd element
    wq2, s2, b2 = _qmm_operands("bfloat16", 4, group_size, 40, 256)
    for st in (mx.gpu, mx.cpu):
        with mx.stream(st):
            r = [mx.quantized_matmul(x, wq, s, b, group_size=group_size, bits=4),
                 mx.quantized_matmul(xt, wq, s, b, group_size=group_size, bits=4),
                 mx.quantized_matmul(x_off, wq2, s2, b2, group_size=group_size, bits=4),
                 mx.quantized_matmul(x_off, wq2[::2], s2[::2], b2[::2], group_size=group_size, bits=4),
                 mx.gather_qmm(x[0, 0, :2][:, None], wq, s, b, rhs_indices=mx.array([2, 0]),
                               group_size=group_size, bits=4)]  # fmt: skip
            mx.eval(r)
        if st == mx.gpu:
            gpu_r = r
    for g, c in zip(gpu_r, r):
        same(g, c, "bfloat16", tol=3e-2)


def test_quantized_matmul_mixed_dtypes_and_empty():
    wq, s, b = _qmm_operands("bfloat16", 4, 64, 32, 128)
    x = rand((2, 128), "float32")  # float32 x with bfloat16 scales: computed in float32
    g = mx.quantized_matmul(x, wq, s, b, stream=mx.gpu)
    assert g.dtype == mx.float32
    same(g, mx.quantized_matmul(x, wq, s, b, stream=mx.cpu), "float32", tol=1e-4)
    assert mx.quantized_matmul(mx.zeros((0, 128)), wq, s, b, stream=mx.gpu).shape == (0, 32)


def test_fp8_round_trip_matches_cpu():
    x = mx.array(np.concatenate([rng.standard_normal(1000).astype(np.float32) * 100,
                                 [0.0, -0.0, 448.0, 500.0, -1e9, np.inf, np.nan, 1e-3, 2**-9]]).astype(np.float32))  # fmt: skip
    for dtype in FLOATS:
        xd = x.astype(getattr(mx, dtype))
        g, c = mx.to_fp8(xd, stream=mx.gpu), mx.to_fp8(xd, stream=mx.cpu)
        np.testing.assert_array_equal(np.array(g), np.array(c))
        identical(mx.from_fp8(c, getattr(mx, dtype), stream=mx.gpu), mx.from_fp8(c, getattr(mx, dtype), stream=mx.cpu))


# ---- sorts and scans ----


@pytest.mark.parametrize("dtype", GPU_DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_sort_and_argsort_match_cpu(dtype, axis):
    x = rand((33, 70, 5), dtype)  # few distinct integers: stability shows in argsort
    if dtype in FLOATS:
        x = mx.where(mx.array(rng.random((33, 70, 5)) < 0.05), mx.array(float("nan")), x).astype(x.dtype)
    for op in (mx.sort, mx.argsort):
        identical(op(x, axis=axis, stream=mx.gpu), op(x, axis=axis, stream=mx.cpu))


def test_sort_one_long_row_topk_and_partition():
    x = rand((200_003,), "float32")
    identical(mx.sort(x, stream=mx.gpu), mx.sort(x, stream=mx.cpu))
    identical(mx.argsort(x, stream=mx.gpu), mx.argsort(x, stream=mx.cpu))
    logits = rand((2, 151_936), "bfloat16")
    identical(mx.topk(logits, 40, axis=-1, stream=mx.gpu), mx.topk(logits, 40, axis=-1, stream=mx.cpu))
    p = mx.argpartition(logits, 7, axis=-1, stream=mx.gpu)
    kth = np.sort(np.array(logits.astype(mx.float32)), axis=-1)[:, 7]
    vals = np.take_along_axis(np.array(logits.astype(mx.float32)), np.array(p), axis=-1)
    assert (vals[:, :7] <= kth[:, None]).all() and (vals[:, 7] == kth).all()


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32", "int8", "uint8"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_scans_match_cpu(op, dtype, axis):
    if op == "logcumsumexp" and dtype not in FLOATS:
        pytest.skip("logcumsumexp is for floats")
    x = rand((3, 1500, 4), dtype)  # a row longer than one block's tile
    if op == "cumprod":
        x = (x.astype(mx.float32) / 64 + 1).astype(x.dtype) if dtype in FLOATS else mx.clip(x, 0 if dtype.startswith("u") else -1, 2).astype(x.dtype)
    for reverse in (False, True):
        for inclusive in (True, False):
            g = getattr(mx, op)(x, axis=axis, reverse=reverse, inclusive=inclusive, stream=mx.gpu)
            c = getattr(mx, op)(x, axis=axis, reverse=reverse, inclusive=inclusive, stream=mx.cpu)
            if op in ("cummax", "cummin") or dtype not in FLOATS:
                identical(g, c)
            else:  # a tree of partial sums rounds differently from the running sum
                scale = float(np.nanmax(np.abs(np.array(c.astype(mx.float32)))))
                same(g, c, dtype, tol={"float32": 1e-4, "float16": 1e-2, "bfloat16": 4e-2}[dtype] * max(1, scale) / 4)


@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "int32"])
def test_argmax_of_few_long_rows_matches_cpu(dtype):
    # A block per output: ties keep the first index, a NaN wins.
    x = np.round(rng.standard_normal((3, 151_936)) * 3).astype(np.float32)
    x[0, [5, 70_000]] = 50  # a tie: the first wins
    if dtype != "int32":
        x[2, [9, 100_000]] = np.nan
    a = mx.array(x).astype(getattr(mx, dtype))
    for op in (mx.argmax, mx.argmin):
        identical(op(a, axis=-1, stream=mx.gpu), op(a, axis=-1, stream=mx.cpu))
        identical(op(a[:, ::2], axis=-1, stream=mx.gpu), op(a[:, ::2], axis=-1, stream=mx.cpu))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("m", [1, 2, 8, 9])
def test_matrix_vector_products_match_cpu(dtype, m):
    # x @ w.T with few rows of x takes the matrix-vector kernel; unaligned or
    # non-transposed weights take cuBLAS: every case agrees with the CPU.
    w = rand((300, 2048), dtype)
    x = rand((m, 2048), dtype)
    x3 = rand((2, 3, 1032), dtype)
    w_odd = rand((40, 1033), dtype)[:, 1:]  # rows not 16-byte aligned
    for st in (mx.gpu, mx.cpu):
        with mx.stream(st):
            r = [x @ w.T, x3 @ w[:, :1032].T, x3[:, :1] @ w_odd.T, x @ w[:5].T, x[:, :300] @ w[:, :300]]
            mx.eval(r)
        if st == mx.gpu:
            gpu_r = r
    for g, c in zip(gpu_r, r):
        scale = float(np.abs(np.array(c.astype(mx.float32))).max())
        same(g, c, dtype, tol={"float32": 2e-5, "float16": 4e-3, "bfloat16": 2e-2}[dtype] * max(scale, 1.0))


# ---- linalg through cuSOLVER ----

LA = mx.linalg


def _np(a):
    return np.array(a).astype(np.float64)


def _well_conditioned(shape):
    n = shape[-1]
    return mx.array((rng.standard_normal(shape) + n * np.eye(n)).astype(np.float32))


def _spd(shape):
    x = rng.standard_normal(shape).astype(np.float32)
    return mx.array(x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1], dtype=np.float32))


def _close(got, want, tol=1e-4):
    got, want = _np(got), np.asarray(want, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (3, 33, 33), (2, 2, 4, 4)])
def test_inverse_solve_and_cholesky_match_cpu(shape):
    a, spd = _well_conditioned(shape), _spd(shape)
    b_mat = rand(shape[:-1] + (3,), "float32")
    b_vec = rand(shape[-1:], "float32")  # one right-hand side, shared by the batch
    # The row-major matrix is cuSOLVER's transpose: a transposed input reads
    # the other way and must agree too.
    gpu_r, cpu_r = on_gpu_and_cpu(lambda s: [
        LA.inv(a, stream=s), LA.inv(mx.swapaxes(a, -1, -2), stream=s),
        LA.solve(a, b_mat, stream=s), LA.solve(a, b_vec, stream=s),
        LA.cholesky(spd, stream=s), LA.cholesky(spd, upper=True, stream=s)])  # fmt: skip
    for g, c in zip(gpu_r, cpu_r):
        assert g.shape == c.shape and g.dtype == c.dtype
        _close(g, c)


@pytest.mark.parametrize("shape", [(6, 6), (2, 40, 40)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_matches_cpu(shape, uplo):
    # Not symmetric: only the UPLO triangle may be read, as LAPACK does.
    a = rand(shape, "float32")
    (w, v), (wc, vc) = on_gpu_and_cpu(lambda s: list(LA.eigh(a, UPLO=uplo, stream=s)))
    _close(w, wc)
    full = _np(a)
    tri = np.tril(full) if uplo == "L" else np.triu(full)
    sym = tri + np.swapaxes(tri, -1, -2) - np.einsum("...ii->...i", full)[..., None] * np.eye(shape[-1])
    V, W = _np(v), _np(w)
    _close(sym @ V, V * W[..., None, :], 1e-3)  # eigenvectors are the columns
    _close(np.swapaxes(V, -1, -2) @ V, np.broadcast_to(np.eye(shape[-1]), V.shape))
    _close(LA.eigvalsh(a, UPLO=uplo, stream=mx.gpu), wc)


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (3, 7), (2, 20, 12), (2, 3, 4, 9)])
def test_svd_and_qr_match_cpu(shape):
    a = rand(shape, "float32")
    m, n = shape[-2:]
    k = min(m, n)
    with mx.stream(mx.gpu):
        u, s, vt = LA.svd(a)
        s_only = LA.svd(a, compute_uv=False)
        q, r = LA.qr(a)
    s_cpu = LA.svd(a, compute_uv=False, stream=mx.cpu)
    assert (u.shape, s.shape, vt.shape) == (shape[:-2] + (m, m), shape[:-2] + (k,), shape[:-2] + (n, n))
    _close(s, s_cpu)
    _close(s_only, s_cpu)
    U, S, Vt, A = _np(u), _np(s), _np(vt), _np(a)
    _close((U[..., :, :k] * S[..., None, :]) @ Vt[..., :k, :], A)
    _close(np.swapaxes(U, -1, -2) @ U, np.broadcast_to(np.eye(m), U.shape))
    _close(Vt @ np.swapaxes(Vt, -1, -2), np.broadcast_to(np.eye(n), Vt.shape))
    assert q.shape == shape[:-2] + (m, k) and r.shape == shape[:-2] + (k, n)
    Q, R = _np(q), _np(r)
    _close(Q @ R, A)
    _close(np.swapaxes(Q, -1, -2) @ Q, np.broadcast_to(np.eye(k), shape[:-2] + (k, k)))
    assert np.all(np.tril(R, -1) == 0)
    # R is unique up to the sign of each row.
    _close(np.abs(R), np.abs(_np(LA.qr(a, stream=mx.cpu)[1])))


@pytest.mark.parametrize("shape", [(6, 6), (7, 4), (4, 7), (3, 5, 5)])
def test_lu_matches_cpu(shape):
    a = rand(shape, "float32")
    gpu_r, cpu_r = on_gpu_and_cpu(lambda s: [*LA.lu_factor(a, stream=s), *LA.lu(a, stream=s)])
    for g, c in zip(gpu_r, cpu_r):
        assert g.shape == c.shape and g.dtype == c.dtype
        if g.dtype == mx.uint32:
            identical(g, c)  # the same partial pivoting picks the same rows
        else:
            _close(g, c)


@pytest.mark.parametrize("shape", [(1, 1), (6, 6), (3, 33, 33)])
@pytest.mark.parametrize("upper", [False, True])
def test_triangular_inverse_and_solve_match_cpu(shape, upper):
    # Only the op's triangle is read: the other one holds noise.
    a = _well_conditioned(shape)
    b_mat = rand(shape[:-1] + (4,), "float32")
    b_vec = rand(shape[-1:], "float32")
    gpu_r, cpu_r = on_gpu_and_cpu(lambda s: [
        LA.tri_inv(a, upper=upper, stream=s), LA.tri_inv(mx.swapaxes(a, -1, -2), upper=upper, stream=s),
        LA.solve_triangular(a, b_mat, upper=upper, stream=s), LA.solve_triangular(a, b_vec, upper=upper, stream=s)])  # fmt: skip
    for g, c in zip(gpu_r, cpu_r):
        assert g.shape == c.shape and g.dtype == c.dtype
        _close(g, c)
    tri = np.triu if upper else np.tril
    assert np.all(_np(gpu_r[0]) == tri(_np(gpu_r[0])))  # the other triangle is zero
    _close(tri(_np(a)) @ _np(gpu_r[2]), _np(b_mat))


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (2, 24, 24)])
def test_eig_matches_cpu(shape):
    # Real matrices with complex conjugate pairs (a rotation block) and real eigenvalues.
    a = rand(shape, "float32")
    (w, v), (wc, vc) = on_gpu_and_cpu(lambda s: list(LA.eig(a, stream=s)))
    assert w.dtype == v.dtype == mx.complex64 and w.shape == wc.shape and v.shape == vc.shape
    as_complex = lambda x: np.array(x).astype(np.complex128)  # noqa: E731
    W, V, Wc, A = as_complex(w), as_complex(v), as_complex(wc), as_complex(a)
    # The same spectrum (each eigenvalue has one of the other's nearby; the order may differ).
    gap = np.abs(W[..., :, None] - Wc[..., None, :])
    assert gap.min(-1).max() < 2e-3 and gap.min(-2).max() < 2e-3
    resid = np.abs(A @ V - V * W[..., None, :]).max()
    assert resid < 1e-3 * (1 + np.abs(A).max()), resid
    np.testing.assert_allclose(np.linalg.norm(V, axis=-2), 1, atol=1e-4)  # unit columns, as LAPACK's
    only = as_complex(LA.eigvals(a, stream=mx.gpu))
    assert np.abs(only[..., :, None] - W[..., None, :]).min(-1).max() < 1e-4
    rot = mx.array([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    np.testing.assert_allclose(np.sort_complex(np.array(LA.eigvals(rot, stream=mx.gpu))), [-2j, 2j, 3], atol=1e-5)


def test_singular_matrices_raise_on_gpu():
    singular = mx.array([[1.0, 2.0], [2.0, 4.0]])
    for call in (lambda: LA.inv(singular, stream=mx.gpu), lambda: LA.inv(mx.zeros((2, 3, 3)), stream=mx.gpu),
                 lambda: LA.solve(singular, mx.ones((2,)), stream=mx.gpu),
                 lambda: LA.tri_inv(mx.array([[1.0, 0.0], [5.0, 0.0]]), stream=mx.gpu),
                 lambda: LA.solve_triangular(mx.array([[0.0, 1.0], [0.0, 1.0]]), mx.ones((2,)), upper=True,
                                             stream=mx.gpu)):
        with pytest.raises(RuntimeError, match="singular"):
            mx.eval(call())
    # Factorisations of singular matrices are no error, as on the CPU.
    lu, piv = LA.lu_factor(singular, stream=mx.gpu)
    assert _np(lu)[1, 1] == 0
    _close(LA.cholesky(mx.array([[4.0, 2.0], [2.0, 1.0]]), stream=mx.gpu), [[2.0, 0.0], [1.0, 0.0]])
    # The stream is usable afterwards.
    _close(LA.inv(mx.eye(3) * 2, stream=mx.gpu), np.eye(3) / 2)


def test_linalg_and_scatter_run_on_the_gpu_without_host_fallback():
    # LMX_GPU_STRICT turns any host fallback into an error: float32
    # factorisations must all have their cuSOLVER or cuBLAS path, and every
    # scatter mode its kernel.
    script = """
import lmx.core as mx
LA = mx.linalg
mx.set_default_device(mx.gpu)
a = mx.random.normal((3, 8, 8)) + 8 * mx.eye(8)
spd = a @ mx.swapaxes(a, -1, -2)
out = [LA.inv(a), LA.solve(a, mx.ones((3, 8, 2))), LA.cholesky(spd), *LA.eigh(spd), *LA.svd(a), *LA.qr(a),
       *LA.lu_factor(a), *LA.lu(a), LA.tri_inv(a), LA.solve_triangular(a, mx.ones((8,)), upper=True),
       *LA.eig(a), LA.eigvals(a)]
x, idx = mx.zeros((4, 3)), mx.array([0, 2, 2])
for dtype in (mx.float32, mx.bfloat16, mx.int8, mx.uint16, mx.int64, mx.bool_):
    y, upd = x.astype(dtype), mx.ones((3, 3), dtype=dtype)
    out += [y.at[idx].add(upd), y.at[idx].multiply(upd), y.at[idx].maximum(upd), y.at[idx].minimum(upd)]
mx.eval(out)
print("ok")
"""
    runs_without_host_fallback(script)
