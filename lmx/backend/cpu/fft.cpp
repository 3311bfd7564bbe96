// A mixed-radix FFT (radices 2..7 by recursive decimation in time) with
// Bluestein's chirp-z algorithm for lengths with larger prime factors, so
// every length is O(n log n). Lines are transformed in double precision.
#include <cmath>
#include <complex>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/lines.h"
#include "lmx/primitives/fft.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

using C = std::complex<double>;

// exp(sign * 2 pi i k / n) for k in [0, n).
std::vector<C> roots(int n, int sign) {
  std::vector<C> w(n);
  for (int k = 0; k < n; ++k) w[k] = std::polar(1.0, sign * 2.0 * M_PI * static_cast<double>(k) / n);
  return w;
}

struct Plan {
  int n = 0, sign = -1;
  std::vector<int> radices;  // n = product of radices (all <= 7), empty with Bluestein
  std::vector<C> w;          // roots of unity of order n
  // Bluestein: chirp, FFT of the padded conjugate chirp, and the power-of-two plan.
  bool bluestein = false;
  int m = 0;
  std::vector<C> chirp, kernel;
  std::shared_ptr<const Plan> inner_fwd, inner_inv;
};

std::shared_ptr<const Plan> get_plan(int n, int sign);

// out[k] = sum_j in[j*s] w^(jk), by splitting into r decimated sub-sequences.
void transform(const Plan& p, const C* in, int s, C* out, int n, size_t level, int root_stride) {
  if (n == 1) {
    out[0] = in[0];
    return;
  }
  int r = p.radices[level], m = n / r;
  for (int j = 0; j < r; ++j) transform(p, in + j * s, s * r, out + j * m, m, level + 1, root_stride * r);
  C t[8];
  for (int k = 0; k < m; ++k) {
    for (int j = 0; j < r; ++j) t[j] = out[j * m + k] * p.w[static_cast<size_t>(j) * k * root_stride % p.n];
    for (int q = 0; q < r; ++q) {
      C acc = t[0];
      for (int j = 1; j < r; ++j) acc += t[j] * p.w[static_cast<size_t>(j) * q * m * root_stride % p.n];
      out[q * m + k] = acc;
    }
  }
}

void run_plan(const Plan& p, const C* in, C* out) {
  if (!p.bluestein) {
    transform(p, in, 1, out, p.n, 0, 1);
    return;
  }
  // X_k = conj(c_k) * sum_j (x_j conj(c_j)) c_(k-j), c_j = exp(-sign * pi i j^2 / n),
  // the sum being a circular convolution of length m computed with FFTs.
  std::vector<C> a(p.m, C(0)), fa(p.m), prod(p.m);
  for (int j = 0; j < p.n; ++j) a[j] = in[j] * std::conj(p.chirp[j]);
  run_plan(*p.inner_fwd, a.data(), fa.data());
  for (int k = 0; k < p.m; ++k) prod[k] = fa[k] * p.kernel[k];
  run_plan(*p.inner_inv, prod.data(), a.data());
  for (int k = 0; k < p.n; ++k) out[k] = std::conj(p.chirp[k]) * a[k] / static_cast<double>(p.m);
}

std::shared_ptr<const Plan> make_plan(int n, int sign) {
  auto p = std::make_shared<Plan>();
  p->n = n, p->sign = sign;
  int rest = n;
  for (int r : {4, 2, 3, 5, 7})
    while (rest % r == 0) p->radices.push_back(r), rest /= r;
  if (rest == 1) {
    p->w = roots(n, sign);
    return p;
  }
  p->radices.clear();
  p->bluestein = true;
  p->m = 1;
  while (p->m < 2 * n - 1) p->m *= 2;
  p->chirp.resize(n);
  for (int j = 0; j < n; ++j) {
    // j^2 mod 2n keeps the angle exact for large j.
    long long jj = static_cast<long long>(j) * j % (2LL * n);
    p->chirp[j] = std::polar(1.0, -sign * M_PI * static_cast<double>(jj) / n);
  }
  p->inner_fwd = get_plan(p->m, -1);
  p->inner_inv = get_plan(p->m, +1);
  std::vector<C> b(p->m, C(0));
  b[0] = p->chirp[0];
  for (int j = 1; j < n; ++j) b[j] = b[p->m - j] = p->chirp[j];
  p->kernel.resize(p->m);
  run_plan(*p->inner_fwd, b.data(), p->kernel.data());
  return p;
}

std::shared_ptr<const Plan> get_plan(int n, int sign) {
  static std::mutex mu;
  static std::unordered_map<long long, std::shared_ptr<const Plan>> cache;
  long long key = static_cast<long long>(n) * 2 + (sign > 0);
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto p = make_plan(n, sign);  // built outside the lock: Bluestein plans need inner plans
  std::lock_guard lk(mu);
  return cache.emplace(key, p).first->second;
}

}  // namespace

void FFT::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  auto plan = get_plan(in.shape(axis_), inverse_ ? +1 : -1);
  cpu::for_each_line<complex64_t, complex64_t>(
      in, out, axis_, 8 * 16, [&](const complex64_t* s, int64_t is, complex64_t* d, int64_t os, int64_t len) {
        thread_local std::vector<C> line, res;
        line.resize(len), res.resize(len);
        for (int64_t i = 0; i < len; ++i) line[i] = C(s[i * is].real(), s[i * is].imag());
        run_plan(*plan, line.data(), res.data());
        for (int64_t i = 0; i < len; ++i)
          d[i * os] = complex64_t(static_cast<float>(res[i].real()), static_cast<float>(res[i].imag()));
      });
}

}  // namespace lmx
