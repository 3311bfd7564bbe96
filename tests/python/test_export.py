"""export_function / import_function / exporter / export_to_dot: round trips
(also in a fresh process), several traces, keyword arguments, shapeless
traces, and malformed files rejected with clear errors, never a crash."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

MODULE = "mlx.core" if BACKEND == "mlx" else "lmx.core"


def fun(x, y):
    z = mx.exp(-x * 0.5) * y + 1
    return z, mx.sum(z, axis=0), mx.matmul(x, y.T)


def args(n=3, m=4):
    rng = np.random.default_rng(n * 10 + m)
    return (mx.array(rng.standard_normal((n, m)).astype(np.float32)),
            mx.array(rng.standard_normal((n, m)).astype(np.float32)))


def check(got, want, rtol=1e-5):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=rtol, atol=rtol / 10)


def test_round_trip(tmp_path):
    path = str(tmp_path / "f.mlxfn")
    x, y = args()
    mx.export_function(path, fun, x, y)
    imported = mx.import_function(path)
    out = imported(x, y)
    assert isinstance(out, tuple)
    check(out, fun(x, y))
    x2, y2 = args()
    check(imported(x2 * 2, y2), fun(x2 * 2, y2))


def test_round_trip_in_a_fresh_process(tmp_path):
    path = str(tmp_path / "f.mlxfn")
    x, y = args()
    mx.export_function(path, fun, x, y=y)
    np.save(tmp_path / "x.npy", to_numpy(x))
    np.save(tmp_path / "y.npy", to_numpy(y))
    code = (f"import numpy as np, {MODULE} as mx\n"
            f"f = mx.import_function({path!r})\n"
            f"x = mx.array(np.load({str(tmp_path / 'x.npy')!r})); y = mx.array(np.load({str(tmp_path / 'y.npy')!r}))\n"
            f"np.save({str(tmp_path / 'out.npy')!r}, np.array(f(x, y=y)[0]))\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), to_numpy(fun(x, y)[0]), rtol=1e-5, atol=1e-6)


def test_exporter_holds_several_traces(tmp_path):
    path = str(tmp_path / "f.mlxfn")
    with mx.exporter(path, fun) as exp:
        exp(*args(3, 4))
        exp(*args(2, 5))
    imported = mx.import_function(path)
    for n, m in ((3, 4), (2, 5)):
        check(imported(*args(n, m)), fun(*args(n, m)))
    with pytest.raises(ValueError):
        imported(*args(6, 6))


def test_keyword_arguments_must_match(tmp_path):
    path = str(tmp_path / "f.mlxfn")
    x, y = args()
    mx.export_function(path, fun, x, y=y)
    imported = mx.import_function(path)
    check(imported(x, y=y), fun(x, y))
    with pytest.raises(ValueError):
        imported(x, y)


def test_shapeless_export(tmp_path):
    path = str(tmp_path / "f.mlxfn")
    g = lambda x: mx.tanh(x) * 2 + 1
    mx.export_function(path, g, mx.ones((3,)), shapeless=True)
    imported = mx.import_function(path)
    for n in (1, 7, 100):
        x = mx.arange(n, dtype=mx.float32) / 10
        check(imported(x), (g(x),))


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX's CPU build aborts replaying this shapeless import")
def test_shapeless_export_of_reductions(tmp_path):
    # The squeeze after a reduction without keepdims is its own node in a
    # shapeless trace; it round-trips through the file.
    path = str(tmp_path / "r.mlxfn")
    g = lambda x: mx.sum(x, axis=1) + mx.softmax(x, axis=-1).max(axis=(0, 1)) + mx.argmax(x, axis=1)  # noqa: E731
    mx.export_function(path, g, mx.ones((2, 3, 4)), shapeless=True)
    imported = mx.import_function(path)
    for shape in [(2, 3, 4), (5, 1, 2), (1, 6, 3)]:
        x = mx.array(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        check(imported(x), (g(x),))


def test_export_to_dot(tmp_path):
    x, y = args()
    z = fun(x, y)[0]
    path = tmp_path / "g.dot"
    mx.export_to_dot(str(path), z)
    text = path.read_text()
    assert "digraph" in text and "exp" in text.lower()


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own error messages and format")
def test_unexportable_primitive_is_named(tmp_path):
    # as_strided's view of arbitrary memory has no place in a portable file.
    with pytest.raises(ValueError, match="as_strided"):
        mx.export_function(str(tmp_path / "f.mlxfn"), lambda x: mx.as_strided(x, (2, 2), (1, 1)), mx.eye(3))


def ordering(x, i):
    return (mx.sort(x, axis=1), mx.argsort(x, axis=0), mx.topk(x, 2, axis=1), mx.cumsum(x, axis=1),
            mx.cummax(x, axis=0, reverse=True), mx.cumprod(x, axis=1, inclusive=False), mx.take(x, i, axis=1),
            x[i], mx.take_along_axis(x, mx.argsort(x, axis=1), 1), x.at[i].add(1.0), x.at[i].maximum(x[i] * 2),
            mx.put_along_axis(x, mx.argsort(x, axis=0), -x, 0))


def ordering_args(seed):
    rng = np.random.default_rng(seed)
    return (mx.array(rng.standard_normal((5, 6)).astype(np.float32)),
            mx.array(rng.integers(-5, 5, size=(4,)).astype(np.int32)))


def round_trips(tmp_path, fun, make_args, rtol=1e-5):
    """fun exported with make_args(0) and imported gives fun's results for other arguments too."""
    path = str(tmp_path / "f.mlxfn")
    mx.export_function(path, fun, *make_args(0))
    imported = mx.import_function(path)
    for seed in (0, 1):
        check(imported(*make_args(seed)), fun(*make_args(seed)), rtol)


def test_round_trip_of_sorts_scans_and_indexing(tmp_path):
    round_trips(tmp_path, ordering, ordering_args)


def test_round_trip_of_ffts(tmp_path):
    def transforms(x):
        return mx.fft.fft(x), mx.fft.ifft(x, n=9, axis=0), mx.fft.rfft(x), mx.fft.irfft(mx.fft.rfft(x)), mx.fft.fft2(x)

    rng = np.random.default_rng(2)
    path = str(tmp_path / "f.mlxfn")
    x = mx.array(rng.standard_normal((6, 10)).astype(np.float32))
    mx.export_function(path, transforms, x)
    imported = mx.import_function(path)
    for scale in (1, 3):
        got, want = imported(x * scale), transforms(x * scale)
        for g, w in zip(got, want):
            np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_fft_and_pad_nodes_are_rejected(tmp_path):
    path, bad = tmp_path / "f.mlxfn", tmp_path / "bad.mlxfn"
    x = mx.ones((6, 10))
    mx.export_function(str(path), lambda x: mx.fft.ifft(x, n=9, axis=0), x)
    good = path.read_bytes()
    # the fft's axis, then the pad's first low width (after its count), past the array
    for tag, skip in [(b"fft", 0), (b"pad", 4)]:
        at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag) + skip
        bad.write_bytes(good[:at] + (9).to_bytes(4, "little") + good[at + 4:])
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(x), seed=2)


def test_round_trip_of_random_draws(tmp_path):
    def draws(key):
        return (mx.random.normal((3, 4), key=key), mx.random.uniform(shape=(5,), key=key),
                mx.random.randint(0, 100, (2, 2), key=key))

    path = str(tmp_path / "f.mlxfn")
    mx.export_function(path, draws, mx.random.key(3))
    imported = mx.import_function(path)
    for seed in (3, 11):
        check(imported(mx.random.key(seed)), draws(mx.random.key(seed)))


def test_round_trip_of_quantized_matmul(tmp_path):
    rng = np.random.default_rng(5)
    w = mx.array(rng.standard_normal((32, 128)).astype(np.float32))
    wq, scales, biases = mx.quantize(w, group_size=64, bits=4)
    mx.eval(wq, scales, biases)

    def layer(x):  # the quantized weights travel as constants
        return mx.quantized_matmul(x, wq, scales, biases, transpose=True, group_size=64, bits=4)

    def product(x, wq, scales, biases):
        return mx.quantized_matmul(x, wq, scales, biases, transpose=True, group_size=64, bits=4)

    x = mx.array(rng.standard_normal((3, 128)).astype(np.float32))
    x3 = mx.array(rng.standard_normal((2, 3, 128)).astype(np.float32))  # a batch against the one matrix
    for i, (f, args) in enumerate([(layer, (x,)), (product, (x, wq, scales, biases)), (layer, (x3,))]):
        path = str(tmp_path / f"f{i}.mlxfn")
        mx.export_function(path, f, *args)
        check([mx.import_function(path)(*args)[0]], [f(*args)])
        doubled = (args[0] * 2,) + args[1:]
        check([mx.import_function(path)(*doubled)[0]], [f(*doubled)])


def fast_block(x, w, b, k, v, offsets, mask, sinks):
    # A transformer's fused ops: norms, rope with int and per-batch offsets,
    # and attention without a mask, causal, with an additive and a boolean
    # mask, and with sinks.
    h = mx.fast.rms_norm(x, w, 1e-5) + mx.fast.layer_norm(x, w, b, 1e-4) + mx.fast.layer_norm(x, None, None, 1e-5)
    q = mx.fast.rope(h, 8, traditional=False, base=10000.0, scale=1.0, offset=3)
    q = q + mx.fast.rope(h, 6, traditional=True, base=None, scale=0.5, offset=offsets, freqs=mx.arange(1.0, 4.0))
    return (q, mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3),
            mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask="causal"),
            mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=mask),
            mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=mask > 0),
            mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=mask, sinks=sinks))


def fast_args(seed):
    rng = np.random.default_rng(seed)
    f = lambda *shape: mx.array(rng.standard_normal(shape).astype(np.float32))  # noqa: E731
    return (f(2, 4, 3, 8), f(8), f(8), f(2, 2, 5, 8), f(2, 2, 5, 8), mx.array([0, 4]), f(2, 4, 3, 5), f(4))


def test_round_trip_of_fast_ops(tmp_path):
    round_trips(tmp_path, fast_block, fast_args)


def fast_grads(x, w, b, k, v, offsets, mask, sinks):
    # The gradients of norms and attention (lmx's fused backward nodes), with
    # grouped heads, each mask kind, and sinks (the composed backward).
    def loss(x, w, b, k, v):
        h = mx.fast.layer_norm(x, w, b, 1e-4) + mx.fast.rms_norm(x, w, 1e-5)
        outs = [mx.fast.scaled_dot_product_attention(h, k, v, scale=0.3, mask=m, sinks=sk)
                for m, sk in ((None, None), ("causal", None), (mask, None), (mask > 0, None), (None, sinks))]
        return sum((o * o).sum() for o in outs)

    return mx.grad(loss, argnums=(0, 1, 2, 3, 4))(x, w, b, k[:, :1], v[:, :1])


def test_round_trip_of_fused_backward_passes(tmp_path):
    round_trips(tmp_path, fast_grads, fast_args)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_fused_backward_nodes_are_rejected(tmp_path):
    path, bad = tmp_path / "f.mlxfn", tmp_path / "bad.mlxfn"
    mx.export_function(str(path), fast_grads, *fast_args(0))
    good = path.read_bytes()
    # the norm node's centring flag and an attention node's mask flag
    # flipped: their inputs no longer match
    for tag, skip in ((b"norm_vjp", 8), (b"attention_vjp", 8 + 1)):
        at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag) + skip
        bad.write_bytes(good[:at] + bytes([good[at] ^ 1]) + good[at + 1:])
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(*fast_args(0)), seed=4)


def conv_grads(x, w):
    # Convolutions with strides, dilation and asymmetric padding, and their
    # input and weight gradients (lmx's three convolution nodes on the CPU).
    def loss(x, w):
        y = mx.conv_general(x, w, stride=(2, 1), padding=([1, 0], [2, 1]), kernel_dilation=(1, 2))
        return (y * y).sum() + mx.conv2d(x, w, padding=1).sum()

    return (mx.conv2d(x, w, padding=1), *mx.grad(loss, argnums=(0, 1))(x, w))


def conv_args(seed):
    rng = np.random.default_rng(seed)
    return (mx.array(rng.standard_normal((2, 7, 8, 3)).astype(np.float32)),
            mx.array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)))


def test_round_trip_of_convolutions(tmp_path):
    round_trips(tmp_path, conv_grads, conv_args)


def extreme_grads(x):
    # max and min gradients over several axes (lmx's fused extreme_grad nodes)
    return (mx.grad(lambda a: (mx.max(a, axis=(0, 2)) ** 2).sum() + mx.min(a, axis=1).sum())(x),)


def test_round_trip_of_max_min_gradients(tmp_path):
    round_trips(tmp_path, extreme_grads,
                lambda seed: (mx.array(np.random.default_rng(seed).integers(-2, 3, (3, 4, 5)).astype(np.float32)),))


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_convolution_nodes_are_rejected(tmp_path):
    path, bad = tmp_path / "f.mlxfn", tmp_path / "bad.mlxfn"
    with mx.stream(mx.cpu):  # convolution nodes are the CPU's (the GPU builds convolutions from ops)
        mx.export_function(str(path), conv_grads, *conv_args(0))
    good = path.read_bytes()
    tag = b"convolution"
    at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag)
    # another kind (its shapes no longer fit), then a stride of 0
    for patched in (good[:at] + bytes([(good[at] + 1) % 3]) + good[at + 1:],
                    good[:at + 1 + 4] + (0).to_bytes(8, "little", signed=True) + good[at + 1 + 4 + 8:]):
        bad.write_bytes(patched)
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(*conv_args(0)), seed=5)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_fast_nodes_are_rejected(tmp_path):
    path, bad = tmp_path / "f.mlxfn", tmp_path / "bad.mlxfn"
    mx.export_function(str(path), fast_block, *fast_args(0))
    good = path.read_bytes()
    # rope's dims (odd, then past the last axis), and an attention node whose
    # mask flag is flipped (its inputs no longer match)
    tag = b"rope"
    at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag)
    for dims in (7, 20):
        bad.write_bytes(good[:at] + dims.to_bytes(4, "little") + good[at + 4:])
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    tag = b"scaled_dot_product_attention"
    at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag) + 8 + 1  # past the scale and causal flag
    bad.write_bytes(good[:at] + bytes([good[at] ^ 1]) + good[at + 1:])
    with pytest.raises(ValueError, match="import_function"):
        mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(*fast_args(0)), seed=3)


def survives_corruption(good, bad, run, seed):
    """300 random 3-byte corruptions of a good file: each import gives an
    error or a working function, never a crash."""
    rng = np.random.default_rng(seed)
    for _ in range(300):
        data = bytearray(good)
        for k in rng.integers(0, len(data), 3):
            data[k] = rng.integers(0, 256)
        bad.write_bytes(bytes(data))
        try:
            mx.eval(run(mx.import_function(str(bad))))
        except (ValueError, TypeError, RuntimeError, IndexError):
            pass


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_ordering_nodes_are_rejected(tmp_path):
    path = tmp_path / "f.mlxfn"
    mx.export_function(str(path), ordering, *ordering_args(0))
    good = path.read_bytes()
    bad = tmp_path / "bad.mlxfn"
    # An axis past the array's dims, after each node's tag (a length, then the name).
    for tag in [b"sort", b"scan", b"gather", b"scatter"]:
        at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag)
        at += {b"scan": 1, b"gather": 4, b"scatter": 5}.get(tag, 0)  # the scan type, scatter mode, axes' count
        bad.write_bytes(good[:at] + (9).to_bytes(4, "little") + good[at + 4:])
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    x, i = ordering_args(0)
    survives_corruption(good, bad, lambda f: f(x, i), seed=1)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own error messages and format")
def test_malformed_files_are_rejected(tmp_path):
    path = tmp_path / "f.mlxfn"
    x, y = args()
    mx.export_function(str(path), fun, x, y)
    good = path.read_bytes()
    bad = tmp_path / "bad.mlxfn"
    with pytest.raises(ValueError, match="Cannot open"):
        mx.import_function(str(tmp_path / "missing.mlxfn"))
    for data in [b"", b"garbage" * 10, good[:6] + b"\x09\x00\x00\x00" + good[10:]]:
        bad.write_bytes(data)
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    # every truncation, and random corruptions: an error or a working
    # function, never a crash
    for cut in range(0, len(good), 7):
        bad.write_bytes(good[:cut])
        with pytest.raises(ValueError):
            mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(x, y), seed=0)


def test_round_trip_of_a_batch_against_a_shared_matrix(tmp_path):
    # nn.Linear's product: a (B, L, K) batch against one (K, N) weight.
    path = str(tmp_path / "linear.mlxfn")
    rng = np.random.default_rng(3)
    x = mx.array(rng.standard_normal((2, 3, 4)).astype(np.float32))
    w = mx.array(rng.standard_normal((5, 4)).astype(np.float32))
    mx.export_function(path, lambda x, w: x @ w.T, x, w)
    check(mx.import_function(path)(x, w), (x @ w.T,))


def factorizations(a, b):
    cpu = mx.cpu  # MLX runs linalg on the CPU only
    at = mx.swapaxes(a, -1, -2)
    spd = a @ at + 4 * mx.eye(a.shape[-1])
    sym = a + at
    q, r = mx.linalg.qr(a, stream=cpu)
    u, s, vt = mx.linalg.svd(a, stream=cpu)
    w, v = mx.linalg.eigh(sym, stream=cpu)
    low = mx.linalg.cholesky(spd, stream=cpu)
    out = (q, r, mx.linalg.inv(a, stream=cpu), low, mx.linalg.cholesky(spd, upper=True, stream=cpu),
           mx.linalg.tri_inv(low, stream=cpu), mx.linalg.svd(a, compute_uv=False, stream=cpu), u @ vt * s.sum(),
           w, mx.abs(v), mx.linalg.eigvalsh(sym, UPLO="U", stream=cpu),
           mx.linalg.solve_triangular(low, b, upper=False, stream=cpu))
    if BACKEND == "mlx":
        return out  # MLX cannot serialize its LU primitive, which its solve also uses
    return out + (mx.linalg.solve(a, b, stream=cpu),) + mx.linalg.lu_factor(a, stream=cpu)


def factorization_args(seed):
    rng = np.random.default_rng(seed)
    return (mx.array(rng.standard_normal((2, 4, 4)).astype(np.float32) + 3 * np.eye(4, dtype=np.float32)),
            mx.array(rng.standard_normal((2, 4, 3)).astype(np.float32)))


def test_round_trip_of_factorizations_and_solves(tmp_path):
    # An imported function runs on the default device: with the GPU there,
    # cuSOLVER's factorisations (a Jacobi SVD) differ from LAPACK's in the
    # last bits.
    round_trips(tmp_path, factorizations, factorization_args, rtol=1e-4)


def quantizing(w, x):
    wq, scales, biases = mx.quantize(w, group_size=32, bits=4)
    return wq, scales, biases, mx.dequantize(wq, scales, biases, group_size=32, bits=4), x * 2


def fp8_converting(x):
    codes = mx.to_fp8(x)
    return codes, mx.from_fp8(codes, mx.float16), mx.from_fp8(mx.to_fp8(x * 3), mx.float32)


def fp8_args(seed):
    return (mx.array(np.random.default_rng(seed).standard_normal((4, 7)).astype(np.float32) * 100),)


@pytest.mark.skipif(BACKEND != "lmx", reason="MLX cannot export its fp8 conversions")
def test_round_trip_of_fp8_conversions(tmp_path):
    round_trips(tmp_path, fp8_converting, fp8_args)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_fp8_nodes_are_rejected(tmp_path):
    path, bad = tmp_path / "f.mlxfn", tmp_path / "bad.mlxfn"
    mx.export_function(str(path), lambda c: mx.from_fp8(c, mx.float32), mx.zeros((3,), dtype=mx.uint8))
    good = path.read_bytes()
    # from_fp8 read as to_fp8: its input is uint8 codes, not a floating array
    tag = b"from_fp8"
    at = good.index(len(tag).to_bytes(4, "little") + tag)
    bad.write_bytes(good[:at] + len(b"to_fp8").to_bytes(4, "little") + b"to_fp8" + good[at + 4 + len(tag):])
    with pytest.raises(ValueError, match="import_function"):
        mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(mx.zeros((3,), dtype=mx.uint8)), seed=5)


def test_round_trip_of_quantize_and_dequantize(tmp_path):
    def make(seed):
        rng = np.random.default_rng(seed)
        return (mx.array(rng.standard_normal((8, 64)).astype(np.float32)),
                mx.array(rng.standard_normal((3,)).astype(np.float32)))

    round_trips(tmp_path, quantizing, make)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's own format")
def test_malformed_factorization_nodes_are_rejected(tmp_path):
    path, bad = tmp_path / "f.mlxfn", tmp_path / "bad.mlxfn"
    a, b = factorization_args(0)
    mx.export_function(str(path), lambda a, b: mx.linalg.qr(a, stream=mx.cpu), a, b)
    good = path.read_bytes()
    tag = b"factorization"
    at = good.index(len(tag).to_bytes(4, "little") + tag) + 4 + len(tag)
    # an unknown kind; a kind whose op makes other outputs (inverse: one); vectors off
    for byte, value in [(0, 99), (0, 0), (2, 0)]:
        bad.write_bytes(good[: at + byte] + bytes([value]) + good[at + byte + 1 :])
        with pytest.raises(ValueError, match="import_function"):
            mx.import_function(str(bad))
    survives_corruption(good, bad, lambda f: f(a, b), seed=4)


def test_round_trip_of_a_chain_ending_in_a_reduction(tmp_path):
    # Compiled, the sum runs inside the fused chain; the file must carry it.
    path = str(tmp_path / "r.mlxfn")
    f = lambda x: mx.sum(mx.exp(x * 0.5) * 2 + 1, axis=-1)  # noqa: E731
    x, _ = args(5, 3000)
    mx.export_function(path, f, x)
    imported = mx.import_function(path)
    check(imported(x), [f(x)])
    if BACKEND == "lmx":
        assert b"compiled_reduction" in open(path, "rb").read()


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX's CPU build crashes replaying this shapeless import")
def test_shapeless_round_trip_of_a_chain_ending_in_a_reduction(tmp_path):
    # The fused node takes its chain's shape from its inputs at each call.
    path = str(tmp_path / "r.mlxfn")
    f = lambda x: mx.max(mx.tanh(x) * x - 1, axis=(1, 2)) + mx.sum(x * x, axis=-1).sum(axis=-1)  # noqa: E731
    mx.export_function(path, f, mx.ones((2, 3, 40)), shapeless=True)
    if BACKEND == "lmx":
        assert b"compiled_reduction" in open(path, "rb").read()
    imported = mx.import_function(path)
    for shape in [(2, 3, 40), (5, 2, 3000), (1, 1, 1)]:
        x = mx.array(np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32))
        check(imported(x), [f(x)])
