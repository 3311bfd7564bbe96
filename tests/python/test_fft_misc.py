"""mx.fft vs numpy.fft, window functions vs NumPy, and .npy save/load.

MLX's FFTs compute in single precision: every complex result is complex64
(also for float64 input) and irfft* returns float32. All three norms
('backward', 'ortho', 'forward') are supported. number_of_elements is not in
this MLX build, so it is not specified here.
"""

import io
import pathlib

import numpy as np
import pytest

from conftest import ALL_DTYPES, mx, to_numpy

LENGTHS = list(range(1, 65)) + [97, 128, 251, 1000, 4096]
NORMS = ["backward", "ortho", "forward"]


def crandn(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def randn(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def check(got, expected, rtol=1e-5):
    """Shape, dtype (complex64 or float32) and max error relative to max |expected|."""
    expected = np.asarray(expected)
    assert got.dtype == (mx.complex64 if np.iscomplexobj(expected) else mx.float32)
    g = to_numpy(got)
    assert g.shape == expected.shape
    if expected.size:
        scale = max(np.abs(expected).max(), 1e-30)
        assert np.abs(g - expected).max() <= rtol * scale


# ---- 1-D transforms over many lengths ------------------------------------------

@pytest.mark.parametrize("n", LENGTHS)
def test_fft_lengths(n, rng):
    z, x = crandn(rng, (3, n)), randn(rng, (3, n))
    check(mx.fft.fft(mx.array(z)), np.fft.fft(z.astype(np.complex128)))
    check(mx.fft.ifft(mx.array(z)), np.fft.ifft(z.astype(np.complex128)))
    check(mx.fft.fft(mx.array(x)), np.fft.fft(x.astype(np.float64)))
    check(mx.fft.rfft(mx.array(x)), np.fft.rfft(x.astype(np.float64)))
    h = np.fft.rfft(x).astype(np.complex64)
    check(mx.fft.irfft(mx.array(h), n=n), np.fft.irfft(h.astype(np.complex128), n=n))


# ---- norms -----------------------------------------------------------------------

# name: (input shape, real input?, kwargs)
TRANSFORMS = {
    "fft": ((4, 12), False, {}), "ifft": ((4, 12), False, {}),
    "rfft": ((4, 12), True, {}), "irfft": ((4, 7), False, {"n": 12}),
    "fft2": ((3, 6, 5), False, {}), "ifft2": ((3, 6, 5), False, {}),
    "rfft2": ((3, 6, 5), True, {}), "irfft2": ((3, 6, 5), False, {}),
    "fftn": ((3, 4, 5), False, {}), "ifftn": ((3, 4, 5), False, {}),
    "rfftn": ((3, 4, 6), True, {}), "irfftn": ((3, 4, 6), False, {}),
}


@pytest.mark.parametrize("norm", [None, *NORMS])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_fft_norm(name, norm, rng):
    shape, real, kw = TRANSFORMS[name]
    a = randn(rng, shape) if real else crandn(rng, shape)
    if norm is not None:
        kw = {**kw, "norm": norm}
    wide = a.astype(np.float64 if real else np.complex128)
    check(getattr(mx.fft, name)(mx.array(a), **kw), getattr(np.fft, name)(wide, **kw))


def test_fft_invalid_norm():
    for fn in (mx.fft.fft, mx.fft.irfft, mx.fft.fftn, mx.fft.rfft2):
        with pytest.raises(ValueError):
            fn(mx.ones((4, 4)), norm="unitary")


# ---- n / s, axes -----------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 5, 8, 12, 13, 31])
def test_fft_n_crops_or_zero_pads(n, rng):
    z, x = crandn(rng, (2, 12)), randn(rng, (2, 12))
    check(mx.fft.fft(mx.array(z), n=n), np.fft.fft(z, n=n))
    check(mx.fft.ifft(mx.array(z), n=n), np.fft.ifft(z, n=n))
    check(mx.fft.rfft(mx.array(x), n=n), np.fft.rfft(x, n=n))
    h = np.fft.rfft(x).astype(np.complex64)  # 7 bins: irfft crops or pads them to n // 2 + 1
    check(mx.fft.irfft(mx.array(h), n=n), np.fft.irfft(h, n=n))


@pytest.mark.parametrize("m", [2, 5, 8, 9])
def test_irfft_default_n_is_2_m_minus_1(m, rng):
    h = crandn(rng, (3, m))
    got = mx.fft.irfft(mx.array(h))
    assert got.shape == (3, 2 * (m - 1))
    check(got, np.fft.irfft(h))
    # The n-D inverses apply the same default to the last axis only.
    assert mx.fft.irfft2(mx.array(h)).shape == (3, 2 * (m - 1))
    assert mx.fft.irfftn(mx.array(h), axes=[0]).shape == (4, m)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_fft_batched_axes(axis, rng):
    z, x = crandn(rng, (5, 6, 7)), randn(rng, (5, 6, 7))
    check(mx.fft.fft(mx.array(z), axis=axis), np.fft.fft(z, axis=axis))
    check(mx.fft.ifft(mx.array(z), n=9, axis=axis), np.fft.ifft(z, n=9, axis=axis))
    check(mx.fft.rfft(mx.array(x), axis=axis), np.fft.rfft(x, axis=axis))
    check(mx.fft.irfft(mx.array(z), axis=axis), np.fft.irfft(z, axis=axis))


# (s, axes) for a (4, 6, 5) input; None leaves the argument out.
ND_CASES = [
    (None, None), (None, [0]), (None, [2, 0]), (None, [-1, -3]), (None, [0, 1, 2]),
    ([3, 8], [0, 2]), ([4, 4, 4], [0, 1, 2]), ([7], [1]), ([2, 3], [-1, -2]),
]


@pytest.mark.parametrize("s,axes", ND_CASES, ids=str)
def test_fftn_s_axes(s, axes, rng):
    z, x = crandn(rng, (4, 6, 5)), randn(rng, (4, 6, 5))
    kw = {k: v for k, v in (("s", s), ("axes", axes)) if v is not None}
    check(mx.fft.fftn(mx.array(z), **kw), np.fft.fftn(z, **kw))
    check(mx.fft.ifftn(mx.array(z), **kw), np.fft.ifftn(z, **kw))
    check(mx.fft.rfftn(mx.array(x), **kw), np.fft.rfftn(x, **kw))
    # irfftn: the last listed axis holds the half spectrum.
    check(mx.fft.irfftn(mx.array(z), **kw), np.fft.irfftn(z, **kw))


@pytest.mark.parametrize("s,axes", [(None, None), ([3, 8], None), (None, (0, 2)),
                                    ([5, 4], (2, 1)), (None, (-1, -3))], ids=str)
def test_fft2_s_axes(s, axes, rng):
    # The 2-D functions default to axes (-2, -1); s alone applies to those.
    z, x = crandn(rng, (4, 6, 5)), randn(rng, (4, 6, 5))
    kw = {k: v for k, v in (("s", s), ("axes", axes)) if v is not None}
    for name, a in (("fft2", z), ("ifft2", z), ("rfft2", x), ("irfft2", z)):
        check(getattr(mx.fft, name)(mx.array(a), **kw), getattr(np.fft, name)(a, **kw))


def test_irfftn_roundtrip(rng):
    x = randn(rng, (3, 6, 7))
    back = mx.fft.irfftn(mx.fft.rfftn(mx.array(x)), s=[3, 6, 7], axes=[0, 1, 2])
    check(back, x.astype(np.float64), rtol=1e-5)
    assert mx.fft.irfftn(mx.fft.rfftn(mx.array(x))).shape == (3, 6, 6)  # default: 2 * (4 - 1)


# ---- layouts and dtypes -------------------------------------------------------------

def test_fft_non_contiguous(rng):
    zb, xb = crandn(rng, (8, 10, 6)), randn(rng, (8, 10, 6))
    views = [lambda v: v.transpose(2, 0, 1), lambda v: v[::2, 1::3], lambda v: v[::-1, :, ::-1],
             lambda v: v.swapaxes(0, 2)[1:5]]
    for view in views:
        z, x = view(zb), view(xb)
        mz, mxr = view(mx.array(zb)), view(mx.array(xb))
        check(mx.fft.fft(mz), np.fft.fft(z))
        check(mx.fft.fft2(mz, axes=(0, 2)), np.fft.fft2(z, axes=(0, 2)))
        check(mx.fft.rfftn(mxr), np.fft.rfftn(x))
        check(mx.fft.irfft(mz, axis=0), np.fft.irfft(z, axis=0))
    bz = mx.broadcast_to(mx.array(zb[:1, :1]), (4, 3, 6))
    check(mx.fft.fft(bz, axis=0), np.fft.fft(np.broadcast_to(zb[:1, :1], (4, 3, 6)), axis=0))


@pytest.mark.parametrize("dtype", ["bool_", "uint8", "int32", "int64", "float16", "bfloat16",
                                   "float32", "float64", "complex64"])
def test_fft_dtypes(dtype, rng):
    # Everything goes through complex64 / float32 (there is no complex128).
    a = mx.array(rng.integers(0, 2, (3, 8)).astype(np.float32)).astype(getattr(mx, dtype))
    ref = to_numpy(a).astype(np.complex128)
    check(mx.fft.fft(a), np.fft.fft(ref))
    check(mx.fft.ifftn(a), np.fft.ifftn(ref))
    # rfft of a complex input uses its real part.
    check(mx.fft.rfft(a), np.fft.rfft(ref.real))
    check(mx.fft.irfft(a), np.fft.irfft(ref))


def test_rfft_of_complex_drops_imaginary_part(rng):
    z = crandn(rng, (9,))
    check(mx.fft.rfft(mx.array(z)), np.fft.rfft(z.real))
    check(mx.fft.rfftn(mx.array(z.reshape(3, 3))), np.fft.rfftn(z.real.reshape(3, 3)))


def test_fft_empty_batch():
    assert mx.fft.fft(mx.ones((0, 4))).shape == (0, 4)
    assert mx.fft.rfft(mx.ones((0, 4))).shape == (0, 3)


FFT_ERRORS = {
    # ValueError: bad sizes / argument combinations.
    "n_zero": (ValueError, lambda: mx.fft.fft(mx.ones(8), n=0)),
    "n_negative": (ValueError, lambda: mx.fft.rfft(mx.ones(8), n=-2)),
    "empty_axis": (ValueError, lambda: mx.fft.fft(mx.ones(0))),
    "irfft_default_n_zero": (ValueError, lambda: mx.fft.irfft(mx.ones(1, dtype=mx.complex64))),
    "s_without_axes": (ValueError, lambda: mx.fft.fftn(mx.ones((2, 3)), s=[4])),
    "irfftn_s_without_axes": (ValueError, lambda: mx.fft.irfftn(mx.ones((2, 3)), s=[2, 4])),
    "s_axes_length": (ValueError, lambda: mx.fft.fftn(mx.ones((2, 3)), s=[4, 5], axes=[0])),
    "rfft2_s_length": (ValueError, lambda: mx.fft.rfft2(mx.ones((2, 4)), s=[2, 4, 4])),
    "duplicate_axes": (ValueError, lambda: mx.fft.fftn(mx.ones((2, 3)), axes=[0, 0])),
    # IndexError: an axis the array doesn't have.
    "axis_out_of_range": (IndexError, lambda: mx.fft.fft(mx.ones(8), axis=1)),
    "negative_axis_out_of_range": (IndexError, lambda: mx.fft.fft(mx.ones(4), axis=-2)),
    "scalar_input": (IndexError, lambda: mx.fft.fft(mx.array(1.0))),
    "fft2_of_1d": (IndexError, lambda: mx.fft.fft2(mx.ones(4))),
    "fftn_axes_out_of_range": (IndexError, lambda: mx.fft.fftn(mx.ones((4, 3)), axes=[2])),
}


@pytest.mark.parametrize("name", list(FFT_ERRORS))
def test_fft_errors(name):
    exc, fn = FFT_ERRORS[name]
    with pytest.raises(exc):
        mx.eval(fn())


# ---- fftfreq, rfftfreq, fftshift, ifftshift ---------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 8, 9, 100])
@pytest.mark.parametrize("d", [1.0, 0.5, 0.1, 3])
def test_fftfreq(n, d):
    for name in ("fftfreq", "rfftfreq"):
        got = getattr(mx.fft, name)(n, d)
        assert got.dtype == mx.float32
        np.testing.assert_allclose(to_numpy(got), getattr(np.fft, name)(n, d), rtol=1e-6, atol=1e-7)
    assert mx.fft.fftfreq(n).shape == (n,) and mx.fft.rfftfreq(n).shape == (n // 2 + 1,)


def test_fftfreq_errors():
    for fn in (mx.fft.fftfreq, mx.fft.rfftfreq):
        for n in (0, -3):
            with pytest.raises(ValueError):
                fn(n)
        with pytest.raises(ValueError):
            fn(4, 0.0)


SHIFT_CASES = [((7,), None), ((8,), None), ((3, 4), None), ((3, 4), 1), ((3, 4), [0]),
               ((3, 4), -1), ((5, 4, 3), (0, 2)), ((5, 4, 3), [-1, -2]), ((1, 6), None),
               ((0, 3), None)]


@pytest.mark.parametrize("shape,axes", SHIFT_CASES, ids=str)
def test_fftshift(shape, axes):
    a = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    kw = {} if axes is None else {"axes": axes}
    for name in ("fftshift", "ifftshift"):
        got = getattr(mx.fft, name)(mx.array(a), **kw)
        assert got.dtype == mx.int32  # the dtype is kept
        np.testing.assert_array_equal(to_numpy(got), getattr(np.fft, name)(a, **kw))
    roundtrip = mx.fft.ifftshift(mx.fft.fftshift(mx.array(a), **kw), **kw)
    np.testing.assert_array_equal(to_numpy(roundtrip), a)


def test_fftshift_dtypes_views_and_errors():
    h = mx.arange(10).astype(mx.float16)[::2]
    assert mx.fft.fftshift(h).dtype == mx.float16
    expected = np.fft.fftshift(np.arange(0, 10, 2))
    np.testing.assert_array_equal(to_numpy(mx.fft.fftshift(h)), expected)
    assert mx.fft.fftshift(mx.array(3)).item() == 3  # 0-d: unchanged
    for fn in (mx.fft.fftshift, mx.fft.ifftshift):
        with pytest.raises(IndexError):
            fn(mx.arange(5), axes=1)
        with pytest.raises(IndexError):
            fn(mx.ones((2, 3)), axes=[0, -3])


# ---- windows -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 8, 51, 256])
def test_windows(name, m):
    # Symmetric windows (both endpoints included), like NumPy's.
    got = getattr(mx, name)(m)
    assert got.dtype == mx.float32 and got.shape == (m,)
    np.testing.assert_allclose(to_numpy(got), getattr(np, name)(m), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows_degenerate_lengths(name):
    assert to_numpy(getattr(mx, name)(1)).tolist() == [1.0]
    for m in (0, -1, -5):
        got = getattr(mx, name)(m)
        assert got.shape == (0,) and got.dtype == mx.float32


# ---- save / load of .npy --------------------------------------------------------------

def _sample(dtype):
    vals = np.array([[0, 1, 2], [3, 5, 7]])
    if dtype == "complex64":
        return mx.array((vals - 2j * vals).astype(np.complex64))
    return mx.array(vals).astype(getattr(mx, dtype))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_save_load_roundtrip(dtype, tmp_path):
    a = _sample(dtype)
    path = str(tmp_path / "a.npy")
    mx.save(path, a)
    b = mx.load(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    assert mx.array_equal(a, b).item()
    if dtype == "bfloat16":
        # NumPy has no bfloat16: the header says 2-byte void ('<V2').
        raw = np.load(path)
        assert raw.dtype.kind == "V" and raw.dtype.itemsize == 2
    else:
        np.testing.assert_array_equal(np.load(path), to_numpy(a))


@pytest.mark.parametrize("dtype", [d for d in ALL_DTYPES if d != "bfloat16"])
def test_load_numpy_files(dtype, tmp_path):
    ref = to_numpy(_sample(dtype))
    for i, arr in enumerate([ref, np.asfortranarray(ref), ref.T.copy(), ref[0, 0], ref[:0]]):
        path = tmp_path / f"n{i}.npy"
        np.save(path, arr)
        got = mx.load(str(path))
        assert got.dtype == getattr(mx, dtype) and got.shape == arr.shape
        np.testing.assert_array_equal(to_numpy(got), arr)


def test_save_load_layouts_and_files(tmp_path):
    base = mx.arange(24).reshape(2, 3, 4)
    views = [base.transpose(2, 0, 1), base[:, ::2, 1::2], base[::-1],
             mx.broadcast_to(base[:1], (3, 3, 4)), mx.array(2.5), mx.zeros((0, 3))]
    for i, v in enumerate(views):
        path = str(tmp_path / f"v{i}.npy")
        mx.save(path, v)
        np.testing.assert_array_equal(np.load(path), to_numpy(v))
        assert mx.array_equal(mx.load(path), v).item()
    # A missing .npy suffix is appended; pathlib paths and file objects work.
    mx.save(str(tmp_path / "plain"), base)
    assert (tmp_path / "plain.npy").exists() and not (tmp_path / "plain").exists()
    mx.save(tmp_path / "p.npy", base)
    assert mx.array_equal(mx.load(pathlib.Path(tmp_path / "p.npy")), base).item()
    buf = io.BytesIO()
    mx.save(buf, base)
    buf.seek(0)
    np.testing.assert_array_equal(np.load(buf), to_numpy(base))
    with open(tmp_path / "p.npy", "rb") as f:
        assert mx.array_equal(mx.load(f), base).item()
    # Big-endian data is byte-swapped on load; special values survive.
    np.save(tmp_path / "be.npy", np.arange(5, dtype=">i4"))
    assert to_numpy(mx.load(str(tmp_path / "be.npy"))).tolist() == [0, 1, 2, 3, 4]
    special = mx.array([np.nan, np.inf, -np.inf, -0.0])
    mx.save(str(tmp_path / "sp.npy"), special)
    back = to_numpy(mx.load(str(tmp_path / "sp.npy")))
    assert np.isnan(back[0]) and back[1:].tolist() == [np.inf, -np.inf, 0.0] and np.signbit(back[3])


def test_load_errors(tmp_path):
    with pytest.raises(RuntimeError):
        mx.load(str(tmp_path / "missing.npy"))
    (tmp_path / "junk.npy").write_bytes(b"not an npy file at all")
    with pytest.raises(RuntimeError):
        mx.load(str(tmp_path / "junk.npy"))
    for i, arr in enumerate([np.arange(3, dtype=np.complex128), np.array(["a", "b"])]):
        np.save(tmp_path / f"u{i}.npy", arr)
        with pytest.raises(ValueError):  # no such MLX dtype
            mx.load(str(tmp_path / f"u{i}.npy"))
    np.save(tmp_path / "ok.npy", np.ones(2, np.float32))
    (tmp_path / "ok.bin").write_bytes((tmp_path / "ok.npy").read_bytes())
    with pytest.raises(ValueError):  # the format comes from the extension
        mx.load(str(tmp_path / "ok.bin"))
    assert to_numpy(mx.load(str(tmp_path / "ok.bin"), format="npy")).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        mx.load(str(tmp_path / "ok.npy"), format="xyz")
    with pytest.raises(ValueError):  # .npy files carry no metadata
        mx.load(str(tmp_path / "ok.npy"), return_metadata=True)


def np_stft(x, n_fft, hop, window, center, pad_mode, onesided):
    w = np.zeros(n_fft)
    left = (n_fft - len(window)) // 2
    w[left : left + len(window)] = window
    if center:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode=pad_mode)
    frames = 1 + (x.shape[-1] - n_fft) // hop
    f = np.stack([x[..., i * hop : i * hop + n_fft] * w for i in range(frames)], axis=-2)
    spec = np.fft.rfft(f, axis=-1) if onesided else np.fft.fft(f, axis=-1)
    return np.swapaxes(spec, -1, -2)


@pytest.mark.parametrize(
    "n_fft,hop,win,center,pad_mode",
    [(16, 4, 16, True, "reflect"), (16, 5, 12, True, "constant"), (15, 3, 15, False, "reflect"), (8, 2, 6, True, "edge")],
)
def test_stft_and_istft_round_trip(rng, n_fft, hop, win, center, pad_mode):
    x = rng.standard_normal((2, 90)).astype(np.float32)
    window = np.hanning(win + 2)[1:-1].astype(np.float32)  # no zeros: invertible
    np_mode = {"edge": "edge", "reflect": "reflect", "constant": "constant"}[pad_mode]
    spec = mx.fft.stft(mx.array(x), n_fft=n_fft, hop_length=hop, win_length=win, window=mx.array(window),
                       center=center, pad_mode=pad_mode)
    ref = np_stft(x, n_fft, hop, window, center, np_mode, True)
    assert spec.shape == ref.shape and spec.dtype == mx.complex64
    np.testing.assert_allclose(np.array(spec), ref, rtol=1e-4, atol=1e-4)
    back = mx.fft.istft(spec, n_fft=n_fft, hop_length=hop, win_length=win, window=mx.array(window), center=center,
                        length=90 if center else None)
    covered = back.shape[-1]
    np.testing.assert_allclose(np.array(back), x[..., :covered], rtol=1e-4, atol=1e-4)


def test_stft_complex_input_is_two_sided(rng):
    x = (rng.standard_normal(40) + 1j * rng.standard_normal(40)).astype(np.complex64)
    spec = mx.fft.stft(mx.array(x), n_fft=8, hop_length=2)
    assert spec.shape == (8, 21)
    np.testing.assert_allclose(np.array(spec), np_stft(x, 8, 2, np.ones(8), True, "reflect", False), rtol=1e-4,
                               atol=1e-4)
    with pytest.raises(ValueError):
        mx.fft.stft(mx.ones(10), n_fft=16, center=False)  # shorter than one frame
    with pytest.raises(ValueError):
        mx.fft.stft(mx.ones(64), n_fft=16, win_length=20)
