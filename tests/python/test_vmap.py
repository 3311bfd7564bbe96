"""vmap against a Python loop over the mapped axis: each op family, mapped
axes in every position, unmapped (None) inputs, nested vmap, vmap of grad,
pytrees and errors."""

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy


def loop_reference(fun, args, in_axes, out_axis=0):
    size = next(a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = []
    for b in range(size):
        sliced = [a if ax is None else mx.take(a, mx.array(b), axis=ax) for a, ax in zip(args, in_axes)]
        outs.append(fun(*sliced))
    return mx.stack(outs, axis=out_axis)


# name -> (function, shapes of the unmapped arguments)
FUNCTIONS = {
    "unary": (lambda x: mx.exp(mx.sin(x)), [(3, 4)]),
    "binary_broadcast": (lambda x, y: x * y[:, None] - 1, [(3, 4), (3,)]),
    "where_astype": (lambda x: mx.where(x > 0, x, -x).astype(mx.float16), [(3, 4)]),
    "reductions": (lambda x: mx.sum(x, axis=1) + mx.max(x, axis=0)[:3] + mx.argmax(x, axis=1), [(3, 4)]),
    "reduce_all_keepdims": (lambda x: mx.logsumexp(x, keepdims=True) * mx.mean(x), [(3, 4)]),
    "reshape_transpose": (lambda x: x.reshape(2, 6).T + x.flatten()[:2], [(3, 4)]),
    "broadcast_to": (lambda x: mx.broadcast_to(x[:, :1], (2, 3, 4)), [(3, 4)]),
    "slices": (lambda x: x[::-1, 1:3] * x[0, :2], [(3, 4)]),
    "concat_pad": (lambda x: mx.pad(mx.concatenate([x, x[:1]], axis=0), [(1, 0), (0, 2)]), [(3, 4)]),
    "matmul": (lambda x, y: x @ y, [(3, 4), (4, 2)]),
    "matvec": (lambda x, y: x @ y, [(3, 4), (4,)]),
    "softmax": (lambda x: mx.softmax(x, axis=-1), [(3, 4)]),
    "sort_scan": (lambda x: mx.cumsum(mx.sort(x, axis=0), axis=1), [(3, 4)]),
    "take_gather": (lambda x: mx.take(x, mx.array([2, 0, 2]), axis=0) + x[mx.array([1, 1, 0])], [(3, 4)]),
    "scatter": (lambda x: x.at[mx.array([0, 0])].add(mx.ones((4,))), [(3, 4)]),
    "index_write": (lambda x: _write(x), [(3, 4)]),
    "scans": (lambda x: mx.cumprod(x, axis=1) + mx.cummax(x, axis=0, reverse=True) + mx.cummin(x, axis=1)
              + mx.logcumsumexp(x, axis=0, inclusive=False), [(3, 4)]),
    "argsort_topk": (lambda x: mx.argsort(x, axis=1).astype(mx.float32) + mx.topk(x, 2, axis=0)[:1], [(3, 4)]),
    "reductions_more": (lambda x: mx.prod(x, axis=1) + mx.min(x, axis=1) + mx.all(x > -1, axis=1)
                        + mx.any(x > 1, axis=1), [(3, 4)]),
    "scatter_modes": (lambda x: x.at[mx.array([0, 2, 0])].maximum(mx.zeros((4,)))
                      + x.at[mx.array([1, 1])].multiply(mx.full((4,), 2.0))
                      + x.at[mx.array([2])].minimum(mx.zeros((1, 4))), [(3, 4)]),
    "fft": (lambda x: mx.abs(mx.fft.fft(x, axis=0)) + mx.fft.irfft(mx.fft.rfft(x, axis=1), n=4, axis=1), [(3, 4)]),
    "linalg": (lambda x, y: mx.linalg.solve(x @ x.T + 3 * mx.eye(3), y, stream=mx.cpu)
               + mx.linalg.inv(x @ x.T + 3 * mx.eye(3), stream=mx.cpu) @ y, [(3, 3), (3, 2)]),
    "qr_cholesky": (lambda x: mx.linalg.qr(x, stream=mx.cpu)[1]
                    + mx.linalg.cholesky(x @ x.T + 3 * mx.eye(3), stream=mx.cpu), [(3, 3)]),
    "as_strided_view": (lambda x: mx.as_strided(x, (2, 3), (4, 1), 1)
                        + mx.view(x, mx.int32)[:2, :3].astype(mx.float32) * 0, [(3, 4)]),
    "quantized_matmul": (lambda x: mx.quantized_matmul(x, *_QUANTIZED, transpose=True, group_size=32, bits=4),
                         [(3, 64)]),
    "rope_norm": (lambda x: mx.fast.rope(x.reshape(1, 3, 4), 4, traditional=False, base=10000.0, scale=1.0,
                                         offset=0) + mx.fast.rms_norm(x, mx.ones((4,)), 1e-5), [(3, 4)]),
}

_QUANTIZED = mx.quantize(mx.array(np.random.default_rng(7).standard_normal((8, 64)).astype(np.float32)),
                         group_size=32, bits=4)


def _write(x):
    y = mx.zeros_like(x)
    y[1:, ::2] = x[:2, :2]
    return y


# MLX has no vmap for these primitives (LUF, QRF, AsStrided, QuantizedMatmul);
# lmx maps every primitive.
LMX_ONLY = {"linalg", "qr_cholesky", "as_strided_view", "quantized_matmul"}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_vmap_matches_loop(name, rng):
    if BACKEND != "lmx" and name in LMX_ONLY:
        pytest.skip("MLX has no vmap rule for this primitive")
    fun, shapes = FUNCTIONS[name]
    for mapped_pos in range(3):
        args, axes = [], []
        for k, s in enumerate(shapes):
            if k == 1 and mapped_pos == 2:  # the second argument shared by all slices
                args.append(mx.array(rng.standard_normal(s).astype(np.float32)))
                axes.append(None)
                continue
            ax = min(mapped_pos, len(s))
            full = list(s)
            full.insert(ax, 5)
            args.append(mx.array(rng.standard_normal(full).astype(np.float32)))
            axes.append(ax)
        got = mx.vmap(fun, in_axes=tuple(axes))(*args)
        want = loop_reference(fun, args, axes)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-6)


def test_out_axes_and_unmapped_outputs(rng):
    x = mx.array(rng.standard_normal((5, 3)).astype(np.float32))
    y, s = mx.vmap(lambda v: (v * 2, mx.sum(v)), out_axes=(1, 0))(x)
    np.testing.assert_allclose(to_numpy(y), to_numpy(x).T * 2)
    np.testing.assert_allclose(to_numpy(s), to_numpy(x).sum(axis=1), rtol=1e-6)
    c = mx.vmap(lambda v: mx.ones((2,)))(x)  # independent of the input: repeated
    assert c.shape == (5, 2)
    neg = mx.vmap(lambda v: v + 1, in_axes=-1, out_axes=-1)(x)
    np.testing.assert_allclose(to_numpy(neg), to_numpy(x) + 1)


def test_nested_vmap_and_per_example_grads(rng):
    a = mx.array(rng.standard_normal((4, 3)).astype(np.float32))
    b = mx.array(rng.standard_normal((5, 3)).astype(np.float32))
    pairwise = mx.vmap(mx.vmap(lambda u, v: mx.sum(u * v), in_axes=(None, 0)), in_axes=(0, None))(a, b)
    np.testing.assert_allclose(to_numpy(pairwise), to_numpy(a) @ to_numpy(b).T, rtol=1e-5, atol=1e-6)
    w = mx.array(rng.standard_normal((3,)).astype(np.float32))
    per_example = mx.vmap(mx.grad(lambda w, x: mx.sum(w * x) ** 2), in_axes=(None, 0))(w, a)
    an, wn = to_numpy(a), to_numpy(w)
    np.testing.assert_allclose(to_numpy(per_example), 2 * (an @ wn)[:, None] * an, rtol=1e-5, atol=1e-5)
    # grad through vmap
    g = mx.grad(lambda w: mx.sum(mx.vmap(lambda x: mx.tanh(mx.sum(w * x)))(a)))(w)
    want = (1 - np.tanh(an @ wn) ** 2) @ an
    np.testing.assert_allclose(to_numpy(g), want, rtol=1e-5, atol=1e-6)


def test_vmap_pytrees(rng):
    params = {"w": mx.ones((3,)), "b": mx.array(1.0)}
    xs = mx.array(rng.standard_normal((4, 3)).astype(np.float32))
    out = mx.vmap(lambda p, x: {"y": mx.sum(p["w"] * x) + p["b"]}, in_axes=({"w": None, "b": None}, 0))(params, xs)
    np.testing.assert_allclose(to_numpy(out["y"]), to_numpy(xs).sum(axis=1) + 1, rtol=1e-6)


def test_vmap_errors():
    x, y = mx.ones((3, 2)), mx.ones((4, 2))
    with pytest.raises(ValueError):
        mx.vmap(lambda a, b: a + b)(x, y)  # mismatched sizes
    with pytest.raises(IndexError):
        mx.vmap(lambda a: a, in_axes=2)(x)  # axis out of range
    with pytest.raises(ValueError):
        mx.vmap(lambda a, b: a + b, in_axes=(0,))(x, x)  # in_axes length


@pytest.mark.parametrize("name", ["unary", "fft", "sort_scan", "matmul", "scans", "concat_pad"])
def test_vmap_over_an_empty_batch(name, rng):
    # A mapped axis of size 0 gives outputs with a batch of 0 and the per-slice
    # shapes and dtypes, through dedicated rules and the slice-and-stack
    # fallback alike.
    fun, shapes = FUNCTIONS[name]
    args = [mx.array(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    one = fun(*args)
    empty = [mx.zeros((0, *s)) if k == 0 else a for k, (s, a) in enumerate(zip(shapes, args))]
    got = mx.vmap(fun, in_axes=(0,) + (None,) * (len(args) - 1))(*empty)
    assert got.shape == (0, *one.shape) and got.dtype == one.dtype

