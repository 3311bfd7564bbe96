"""Convolution forward, gradients, second derivatives and vmap: float32 on the
CPU (lmx's convolution nodes: blocked im2col and gemm with their own backward
passes) against float64 (built from strided windows and matmuls), over
strides, asymmetric padding, dilation, 1-3 spatial dims, transposed
convolutions, single channels and sizes past one block of pixels."""

import numpy as np
import pytest

from conftest import BACKEND, mx, to_numpy

# (x shape, w shape, keyword arguments of conv_general)
CASES = {
    "1d": ((2, 11, 3), (4, 3, 3), dict(stride=1, padding=1)),
    "1d_strided_dilated": ((3, 17, 2), (5, 3, 2), dict(stride=2, padding=([2], [1]), kernel_dilation=2)),
    "2d": ((2, 9, 8, 3), (4, 3, 3, 3), dict(stride=1, padding=1)),
    "2d_asymmetric": ((2, 10, 7, 2), (3, 2, 3, 2), dict(stride=(2, 1), padding=([0, 2], [1, 0]))),
    "2d_single_channel": ((3, 12, 12, 1), (6, 3, 3, 1), dict(stride=1, padding=1)),
    "2d_many_pixels": ((4, 30, 30, 5), (7, 3, 3, 5), dict(stride=1, padding=1)),
    "2d_kernel_1x1": ((2, 6, 5, 8), (3, 1, 1, 8), dict(stride=1, padding=0)),
    # over 64 output channels (sgemm, not the narrow kernels), in several
    # blocks of pixels per thread, the last one short
    "2d_wide_sgemm_blocks": ((6, 31, 33, 64), (80, 3, 3, 64), dict(stride=1, padding=1)),
    "3d": ((2, 5, 6, 4, 2), (3, 2, 3, 2, 2), dict(stride=(1, 2, 1), padding=1)),
    "2d_transpose_flip": ((2, 7, 6, 3), (4, 3, 3, 3), dict(stride=1, padding=2, flip=True)),
}


def conv(x, w, kwargs):
    # padding: one int for every side, or ([low per dim], [high per dim])
    return mx.conv_general(x, w, **kwargs)


def inputs(rng, case):
    xs, ws, kwargs = CASES[case]
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    return x, w, kwargs


def as_mx(a, dtype):
    return mx.array(a.astype(np.float64 if dtype == "float64" else np.float32), dtype=getattr(mx, dtype))


@pytest.fixture(autouse=True)
def cpu_stream():
    # float64 is CPU-only; the float32 path under test is the CPU's.
    with mx.stream(mx.cpu):
        yield


def check(a, b, tol=2e-4):
    np.testing.assert_allclose(to_numpy(a.astype(mx.float32)), to_numpy(b.astype(mx.float32)), rtol=tol, atol=tol)


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX has no float64 convolution to compare against")
@pytest.mark.parametrize("case", list(CASES))
def test_forward_and_gradients_against_the_window_path(case, rng):
    x, w, kwargs = inputs(rng, case)
    results = {}
    for dtype in ("float32", "float64"):
        xm, wm = as_mx(x, dtype), as_mx(w, dtype)
        y = conv(xm, wm, kwargs)
        g = as_mx(rng.standard_normal(y.shape), dtype) if dtype == "float32" else results["float32"][3].astype(mx.float64)
        gx, gw = mx.grad(lambda a, b: (conv(a, b, kwargs) * g).sum(), argnums=(0, 1))(xm, wm)
        results[dtype] = (y, gx, gw, g)
    for a, b in zip(results["float32"][:3], results["float64"][:3]):
        assert a.shape == b.shape
        check(a, b)


# Transposed convolutions of one group run as the input gradient of the
# forward convolution (a convolution node) in float32; float64 takes windows.
TRANSPOSE_CASES = {
    "1d": ((2, 7, 3), (4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    "2d": ((2, 5, 6, 3), (4, 3, 2, 3), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    "2d_padding_past_the_kernel": ((2, 9, 4, 2), (3, 3, 3, 2), dict(stride=1, padding=(3, 1))),
    "3d": ((1, 3, 4, 3, 2), (3, 2, 3, 2, 2), dict(stride=2, padding=1, output_padding=1)),
}


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX has no float64 convolution to compare against")
@pytest.mark.parametrize("case", list(TRANSPOSE_CASES))
def test_conv_transpose_and_gradients_against_the_window_path(case, rng):
    xs, ws, kwargs = TRANSPOSE_CASES[case]
    f = {3: mx.conv_transpose1d, 4: mx.conv_transpose2d, 5: mx.conv_transpose3d}[len(xs)]
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    results, g = {}, None
    for dtype in ("float32", "float64"):
        xm, wm = as_mx(x, dtype), as_mx(w, dtype)
        y = f(xm, wm, **kwargs)
        g = rng.standard_normal(y.shape) if g is None else g
        gm = as_mx(g, dtype)
        gx, gw = mx.grad(lambda a, b: (f(a, b, **kwargs) * gm).sum(), argnums=(0, 1))(xm, wm)
        results[dtype] = (y, gx, gw)
    for a, b in zip(results["float32"], results["float64"]):
        assert a.shape == b.shape
        check(a, b)


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX has no float64 convolution to compare against")
@pytest.mark.parametrize("case", ["1d_strided_dilated", "2d_asymmetric", "3d"])
def test_second_derivatives(case, rng):
    # d/dw of |d loss / dx|^2 and d/dx of |d loss / dw|^2: every vjp of the
    # three convolution nodes.
    x, w, kwargs = inputs(rng, case)

    def both(dtype):
        xm, wm = as_mx(x, dtype), as_mx(w, dtype)
        loss = lambda a, b: (conv(a, b, kwargs) ** 2).sum()  # noqa: E731
        gx = mx.grad(lambda b: (mx.grad(loss, argnums=0)(xm, b) ** 2).sum())(wm)
        gw = mx.grad(lambda a: (mx.grad(loss, argnums=1)(a, wm) ** 2).sum())(xm)
        return gx, gw

    for a, b in zip(both("float32"), both("float64")):
        check(a, b, tol=2e-3 * float(mx.abs(b).max()))


def test_vmap_over_images_and_weights(rng):
    x, w, kwargs = inputs(rng, "2d")
    xs = mx.array(rng.standard_normal((3, *x.shape)).astype(np.float32))
    wm = mx.array(w.astype(np.float32))
    mapped = mx.vmap(lambda a: conv(a, wm, kwargs))(xs)
    check(mapped, mx.stack([conv(xs[i], wm, kwargs) for i in range(3)]), tol=1e-5)
    ws = mx.array(rng.standard_normal((2, *w.shape)).astype(np.float32))
    xm = mx.array(x.astype(np.float32))
    mapped = mx.vmap(lambda b: conv(xm, b, kwargs))(ws)
    check(mapped, mx.stack([conv(xm, ws[i], kwargs) for i in range(2)]), tol=1e-5)


@pytest.mark.skipif(BACKEND == "mlx", reason="MLX's convolution fails on empty arrays")
def test_empty_batch_and_channels(rng):
    for xs, ws in (((0, 5, 5, 2), (3, 3, 3, 2)), ((2, 5, 5, 0), (3, 3, 3, 0)), ((2, 5, 5, 2), (0, 3, 3, 2))):
        x, w = mx.zeros(xs), mx.ones(ws)
        y = mx.conv2d(x, w, padding=1)
        assert y.shape == (xs[0], 5, 5, ws[0]) and not np.any(to_numpy(y))
        gx, gw = mx.grad(lambda a, b: mx.conv2d(a, b, padding=1).sum(), argnums=(0, 1))(x, w)
        assert gx.shape == xs and gw.shape == ws
        assert not np.any(to_numpy(gx)) and not np.any(to_numpy(gw))
