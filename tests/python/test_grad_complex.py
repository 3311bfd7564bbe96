"""Gradients of complex and FFT functions, in MLX's convention: the gradient
of a real loss L(z) with z = x + iy is dL/dx + i dL/dy, and vjp maps a
cotangent u to conj(u times the derivative). Checked against central finite
differences of NumPy's complex128 functions (lmx computes in complex64)."""

import numpy as np
import pytest

from conftest import mx, to_numpy

EPS = 1e-6
TOL = 2e-3


def fd_gradient(loss, z):
    """dL/dx + i dL/dy (or dL/dx for a real z) of NumPy's real loss(z)."""
    g = np.zeros(z.shape, dtype=np.complex128 if np.iscomplexobj(z) else np.float64)
    for idx in np.ndindex(z.shape):
        e = np.zeros(z.shape)
        e[idx] = EPS
        g[idx] = (loss(z + e) - loss(z - e)) / (2 * EPS)
        if np.iscomplexobj(z):
            g[idx] += 1j * (loss(z + 1j * e) - loss(z - 1j * e)) / (2 * EPS)
    return g


def check(lmx_loss, np_loss, z):
    got = mx.grad(lmx_loss)(mx.array(z.astype(np.complex64 if np.iscomplexobj(z) else np.float32)))
    want = fd_gradient(np_loss, z)
    np.testing.assert_allclose(to_numpy(got), want, rtol=TOL, atol=TOL)


def cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


W = np.array([0.5 - 1.0j, 2.0 + 0.5j, -1.0 + 0.25j])

# name -> (lmx loss, NumPy loss); z has shape (3,)
ELEMENTWISE = {
    "multiply": (lambda z: mx.sum(mx.real(z * mx.array(W.astype(np.complex64)))), lambda z: np.sum(np.real(z * W))),
    "imag_of_product": (lambda z: mx.sum(mx.imag(z * mx.array(W.astype(np.complex64)))),
                        lambda z: np.sum(np.imag(z * W))),
    "divide": (lambda z: mx.sum(mx.real(mx.array(W.astype(np.complex64)) / z)), lambda z: np.sum(np.real(W / z))),
    "square_exp": (lambda z: mx.sum(mx.real(mx.exp(mx.square(z) * 0.3))), lambda z: np.sum(np.real(np.exp(z**2 * 0.3)))),
    "log_sqrt": (lambda z: mx.sum(mx.imag(mx.log(z)) + mx.real(mx.sqrt(z))),
                 lambda z: np.sum(np.imag(np.log(z)) + np.real(np.sqrt(z)))),
    "sin": (lambda z: mx.sum(mx.real(mx.sin(z))), lambda z: np.sum(np.real(np.sin(z)))),
    "abs": (lambda z: mx.sum(mx.abs(z)), lambda z: np.sum(np.abs(z))),
    "conjugate": (lambda z: mx.sum(mx.imag(mx.conjugate(z) * mx.array(W.astype(np.complex64)))),
                  lambda z: np.sum(np.imag(np.conj(z) * W))),
    "matmul": (lambda z: mx.sum(mx.real(z.reshape(1, 3) @ mx.array(W.reshape(3, 1).astype(np.complex64)))),
               lambda z: np.sum(np.real(z.reshape(1, 3) @ W.reshape(3, 1)))),
    "abs_squared": (lambda z: mx.sum(mx.real(z * mx.conjugate(z))), lambda z: np.sum(np.abs(z) ** 2)),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_complex_gradients(name, rng):
    lmx_loss, np_loss = ELEMENTWISE[name]
    check(lmx_loss, np_loss, cplx(rng, (3,)) + 1.5)


FFTS = {
    "fft": (lambda m, z: m.fft.fft(z), True),
    "ifft": (lambda m, z: m.fft.ifft(z), True),
    "fft_padded": (lambda m, z: m.fft.fft(z, n=7), True),
    "fft_truncated": (lambda m, z: m.fft.fft(z, n=4), True),
    "fft2": (lambda m, z: m.fft.fft2(z.reshape(2, 3)), True),
    "rfft": (lambda m, z: m.fft.rfft(z), False),
    "rfft_odd": (lambda m, z: m.fft.rfft(z, n=5), False),
    "fft_of_real": (lambda m, z: m.fft.fft(z), False),
}


@pytest.mark.parametrize("name", list(FFTS))
def test_fft_gradients(name, rng):
    fn, complex_input = FFTS[name]
    z = cplx(rng, (6,)) if complex_input else rng.standard_normal(6)
    out_shape = fn(np, z).shape
    w = cplx(rng, out_shape)
    wm = mx.array(w.astype(np.complex64))
    # A weighted sum of the real and imaginary parts and of the magnitudes.
    check(lambda a: mx.sum(mx.real(fn(mx, a) * wm) + mx.abs(fn(mx, a))),
          lambda a: np.sum(np.real(fn(np, a) * w) + np.abs(fn(np, a))), z)


@pytest.mark.parametrize("name", ["irfft", "irfft_n"])
def test_irfft_gradients(name, rng):
    n = None if name == "irfft" else 8
    z = cplx(rng, (4,))
    w = rng.standard_normal(6 if n is None else n)
    wm = mx.array(w.astype(np.float32))
    # The imaginary parts of the first and last (Nyquist) bins do not reach
    # the output: their gradient is zero, as finite differences show.
    check(lambda a: mx.sum(mx.fft.irfft(a, n=n) * wm), lambda a: np.sum(np.fft.irfft(a, n=n) * w), z)


def test_vjp_conjugates_complex_cotangents(rng):
    # vjp(u) = conj(u times the derivative): for z -> w z that is u conj(w).
    z, w, u = cplx(rng, (3,)), cplx(rng, (3,)), cplx(rng, (3,))
    wm = mx.array(w.astype(np.complex64))
    _, (got,) = mx.vjp(lambda a: [a * wm], [mx.array(z.astype(np.complex64))], [mx.array(u.astype(np.complex64))])
    np.testing.assert_allclose(to_numpy(got), u * np.conj(w), rtol=1e-5, atol=1e-5)


def test_custom_vjp_rules_use_the_same_convention(rng):
    # A custom_function whose rule is written in MLX's convention gives the
    # same gradient as the plain function.
    w = mx.array(cplx(rng, (3,)).astype(np.complex64))

    @mx.custom_function
    def times_w(a):
        return a * w

    @times_w.vjp
    def times_w_vjp(primals, cotangent, output):
        return cotangent * mx.conjugate(w)

    z = mx.array(cplx(rng, (3,)).astype(np.complex64))
    want = mx.grad(lambda a: mx.sum(mx.abs(a * w) ** 2))(z)
    got = mx.grad(lambda a: mx.sum(mx.abs(times_w(a)) ** 2))(z)
    np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-5)


def test_jvp_of_holomorphic_functions_is_the_derivative_times_the_tangent(rng):
    z, t = cplx(rng, (3,)), cplx(rng, (3,))
    _, (jt,) = mx.jvp(lambda a: [mx.exp(a) * a], [mx.array(z.astype(np.complex64))], [mx.array(t.astype(np.complex64))])
    np.testing.assert_allclose(to_numpy(jt), (np.exp(z) * z + np.exp(z)) * t, rtol=1e-4, atol=1e-4)
