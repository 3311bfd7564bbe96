"""nn.Upsample and the upsample_nearest / upsample_linear / upsample_cubic functions
against a NumPy reference that builds each axis' (out x in) interpolation matrix."""

import math

import numpy as np
import pytest
from conftest import backend_module, mx, to_numpy

nn = backend_module("nn")
upsample = backend_module("nn.layers.upsample")


def keys_kernel(d, a):
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def triangle_kernel(d):
    return max(0.0, 1 - abs(d))


def source_position(i, n, out, scale, align_corners):
    """The input coordinate output ``i`` reads: centre-aligned grids, or corner-aligned."""
    if align_corners:
        return i * (n - 1) / (out - 1) if out > 1 else 0.0
    return (i - (out - 1) / 2) / scale + (n - 1) / 2


def axis_matrix(n, scale, mode, align_corners=False, antialias=False):
    out = math.floor(n * scale)
    m = np.zeros((out, n))
    for i in range(out):
        if mode == "nearest":
            # Computed in float32 like the layer: shrinking takes the first sample of each
            # block, growing rounds the centre's position half to even.
            r = np.float32(n / out)
            if scale < 1:
                j = np.floor(np.float32(i) * r)
            else:
                j = np.rint((np.float32(i) + np.float32(0.5)) * r - np.float32(0.5))
            m[i, int(np.clip(j, 0, n - 1))] = 1
            continue
        p = source_position(i, n, out, scale, align_corners)
        kernel = (
            triangle_kernel if mode == "linear" else (lambda d: keys_kernel(d, -0.5 if antialias else -0.75))
        )
        if antialias:
            # The kernel is stretched by 1/scale on a downscale; taps past the borders are
            # dropped and the rest renormalised.
            stretch = min(scale, 1.0)
            w = np.array([kernel((j - p) * stretch) for j in range(n)])
            m[i] = w / w.sum()
        else:
            for j in range(math.floor(p) - 1, math.floor(p) + 3):
                m[i, min(max(j, 0), n - 1)] += kernel(p - j)
    return m


def ref_upsample(x, scales, mode, align_corners=False, antialias=False):
    y = x.astype(np.float64)
    for axis, s in enumerate(scales, start=1):
        m = axis_matrix(y.shape[axis], s, mode, align_corners, antialias)
        y = np.moveaxis(np.tensordot(m, np.moveaxis(y, axis, 0), axes=1), 0, axis)
    return y


SCALES_1D = [0.3, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 2, 2.3, 3]
SHAPES = [(2, 7, 3), (1, 10, 2), (2, 5, 4, 2), (1, 4, 4, 5, 1)]


@pytest.mark.parametrize("mode, align_corners", [("nearest", False), ("linear", False), ("linear", True),
                                                 ("cubic", False), ("cubic", True)])  # fmt: skip
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("scale", SCALES_1D)
def test_upsample_matches_numpy(mode, align_corners, shape, scale, rng):
    x = rng.normal(size=shape).astype(np.float32)
    scales = (scale,) * (len(shape) - 2)
    y = nn.Upsample(scale_factor=scale, mode=mode, align_corners=align_corners)(mx.array(x))
    ref = ref_upsample(x, scales, mode, align_corners)
    assert y.shape == ref.shape
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("scales", [(2, 0.5), (1.5, 3), (0.75, 1.25)])
def test_upsample_one_scale_per_axis(mode, scales, rng):
    x = rng.normal(size=(2, 6, 4, 3)).astype(np.float32)
    y = nn.Upsample(scale_factor=scales, mode=mode)(mx.array(x))
    np.testing.assert_allclose(to_numpy(y), ref_upsample(x, scales, mode), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 0.6, 0.75, 1.5, 2])
def test_upsample_antialias_matches_numpy(mode, scale, rng):
    x = rng.normal(size=(2, 12, 9, 2)).astype(np.float32)
    y = nn.Upsample(scale_factor=scale, mode=mode, antialias=True)(mx.array(x))
    ref = ref_upsample(x, (scale, scale), mode, antialias=True)
    assert y.shape == ref.shape
    np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-5, atol=1e-5)


def test_upsample_documented_examples():
    x = mx.arange(1, 5).reshape((1, 2, 2, 1))
    nearest = nn.Upsample(scale_factor=2, mode="nearest")(x)
    assert nearest.dtype == mx.int32
    np.testing.assert_array_equal(
        to_numpy(nearest).squeeze(), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    )
    linear = nn.Upsample(scale_factor=2, mode="linear")(x)
    assert linear.dtype == mx.float32
    np.testing.assert_allclose(
        to_numpy(linear).squeeze(),
        [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]],
    )
    corners = nn.Upsample(scale_factor=2, mode="linear", align_corners=True)(x)
    third = 1 / 3
    np.testing.assert_allclose(
        to_numpy(corners).squeeze(),
        [
            [1, 1 + third, 2 - third, 2],
            [2 - third, 2, 2 + third, 3 - third],
            [2 + third, 3 - third, 3, 3 + third],
            [3, 3 + third, 4 - third, 4],
        ],
        rtol=1e-6,
    )


def test_upsample_functions(rng):
    x = rng.normal(size=(1, 5, 4, 2)).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_allclose(
        to_numpy(upsample.upsample_nearest(a, (2.0, 1.5))), ref_upsample(x, (2, 1.5), "nearest"), atol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(upsample.upsample_linear(a, (1.5, 2.0), align_corners=True)),
        ref_upsample(x, (1.5, 2), "linear", align_corners=True),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        to_numpy(upsample.upsample_cubic(a, (0.5, 0.5), antialias=True)),
        ref_upsample(x, (0.5, 0.5), "cubic", antialias=True),
        atol=1e-5,
    )


def test_upsample_dtypes():
    x = mx.arange(12).reshape(1, 3, 4, 1)
    assert nn.Upsample(2)(x.astype(mx.float16)).dtype == mx.float16
    assert nn.Upsample(2)(x.astype(mx.uint8)).dtype == mx.uint8
    assert nn.Upsample(2, mode="linear")(x).dtype == mx.float32
    assert nn.Upsample(2, mode="cubic")(x).dtype == mx.float32


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_upsample_gradient_is_the_transposed_interpolation(mode, rng):
    x = rng.normal(size=(1, 4, 3, 2)).astype(np.float32)
    scales = (1.5, 2.0)
    g = rng.normal(size=ref_upsample(x, scales, mode).shape).astype(np.float32)
    grad = mx.grad(lambda a: mx.sum(nn.Upsample(scales, mode=mode)(a) * mx.array(g)))(mx.array(x))
    mh, mw = (axis_matrix(n, s, mode) for n, s in zip(x.shape[1:3], scales))
    expected = np.einsum("ih,jw,nijc->nhwc", mh, mw, g.astype(np.float64))
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-5, atol=1e-5)


def test_upsample_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bilinear"):
        nn.Upsample(2, mode="bilinear")
    with pytest.raises(ValueError):
        nn.Upsample(2, mode="nearest", antialias=True)
    with pytest.raises(ValueError):
        nn.Upsample(0.5, mode="linear", align_corners=True, antialias=True)
    with pytest.raises(ValueError):
        nn.Upsample((2, 2))(mx.zeros((1, 4, 1)))
    with pytest.raises(ValueError):
        nn.Upsample(2)(mx.zeros((4, 1)))


def test_upsample_repr():
    assert (
        repr(nn.Upsample(2, mode="linear"))
        == "Upsample(scale_factor=2.0, mode='linear', align_corners=False)"
    )
