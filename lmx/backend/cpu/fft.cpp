// A mixed-radix Stockham FFT (radices 4, 2, 3, 5, 7; out of place, no bit
// reversal) with Bluestein's chirp-z algorithm for lengths with larger prime
// factors, so every length is O(n log n). Lines are transformed in double
// precision; a single long line splits each stage's butterflies over threads.
#include <cmath>
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

// Plain complex arithmetic: std::complex's operator* guards infinities with
// a library call per product (C99 Annex G), which dominates an FFT.
struct cd {
  double re, im;
};
inline cd operator+(cd a, cd b) { return {a.re + b.re, a.im + b.im}; }
inline cd operator-(cd a, cd b) { return {a.re - b.re, a.im - b.im}; }
inline cd operator*(cd a, cd b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
inline cd scale(cd a, double s) { return {a.re * s, a.im * s}; }
inline cd conj(cd a) { return {a.re, -a.im}; }
// a * (sign i): a quarter turn in the transform's direction.
inline cd quarter(cd a, int sign) { return sign < 0 ? cd{a.im, -a.re} : cd{-a.im, a.re}; }

cd unit(double angle) { return {std::cos(angle), std::sin(angle)}; }

struct Stage {
  int radix, span;      // span: the length of the sub-transforms this stage combines (Ns)
  std::vector<cd> tw;   // tw[r * span + j] = w^(r j / (span * radix)), r in [1, radix)
};

struct Plan {
  int n = 0, sign = -1;
  std::vector<Stage> stages;  // empty with Bluestein
  std::vector<cd> w_radix;    // roots of unity for the generic radix-7 butterfly
  // Bluestein: chirp, FFT of the padded conjugate chirp, and the power-of-two plans.
  bool bluestein = false;
  int m = 0;
  std::vector<cd> chirp, kernel;
  std::shared_ptr<const Plan> inner_fwd, inner_inv;
};

std::shared_ptr<const Plan> get_plan(int n, int sign);

// The DFT of the r values in v, in place (r in 2, 3, 4, 5, 7).
inline void butterfly(cd* v, int r, int sign) {
  switch (r) {
    case 2: {
      cd a = v[0], b = v[1];
      v[0] = a + b, v[1] = a - b;
      return;
    }
    case 4: {
      cd a = v[0] + v[2], b = v[0] - v[2], c = v[1] + v[3], d = quarter(v[1] - v[3], sign);
      v[0] = a + c, v[1] = b + d, v[2] = a - c, v[3] = b - d;
      return;
    }
    case 3: {
      const double s3 = sign * 0.86602540378443864676;  // sin(2 pi / 3) in the transform's direction
      cd t = v[1] + v[2], d = v[1] - v[2];
      cd m = v[0] - scale(t, 0.5);
      cd rot = {-d.im * s3, d.re * s3};
      v[0] = v[0] + t, v[1] = m + rot, v[2] = m - rot;
      return;
    }
    default: {
      // Direct DFT with the radix's roots (5 and 7 are rare next to 2, 3, 4).
      cd in[7], out[7];
      for (int j = 0; j < r; ++j) in[j] = v[j];
      for (int q = 0; q < r; ++q) {
        cd acc = in[0];
        for (int j = 1; j < r; ++j) acc = acc + in[j] * unit(sign * 2.0 * M_PI * ((j * q) % r) / r);
        out[q] = acc;
      }
      for (int q = 0; q < r; ++q) v[q] = out[q];
    }
  }
}

// One Stockham stage: x (n values) -> y, combining radix sub-transforms of
// length span into sub-transforms of length span * radix.
void run_stage(const Stage& st, int n, int sign, const cd* x, cd* y, bool threads) {
  const int r = st.radix, span = st.span, stride = n / r, groups = stride / span;
  auto groups_range = [&](size_t g0, size_t g1) {
    cd v[8];
    for (size_t g = g0; g < g1; ++g)
      for (int j = 0; j < span; ++j) {
        const int src = static_cast<int>(g) * span + j, dst = static_cast<int>(g) * span * r + j;
        v[0] = x[src];
        for (int q = 1; q < r; ++q) v[q] = x[src + q * stride] * st.tw[q * span + j];
        butterfly(v, r, sign);
        for (int q = 0; q < r; ++q) y[dst + q * span] = v[q];
      }
  };
  if (threads) parallel_for(groups, static_cast<size_t>(span) * r * 8, groups_range);
  else groups_range(0, groups);
}

// out = DFT(in); `scratch` holds n values. in and out may not alias.
void run_plan(const Plan& p, const cd* in, cd* out, cd* scratch, bool threads) {
  if (!p.bluestein) {
    if (p.stages.empty()) {
      out[0] = in[0];
      return;
    }
    // Ping-pong between out and scratch so the last stage lands in out.
    cd* bufs[2] = {out, scratch};
    int k = static_cast<int>(p.stages.size());
    const cd* src = in;
    for (int i = 0; i < k; ++i) {
      cd* dst = bufs[(k - 1 - i) % 2];
      run_stage(p.stages[i], p.n, p.sign, src, dst, threads);
      src = dst;
    }
    return;
  }
  // X_k = conj(c_k) * sum_j (x_j conj(c_j)) c_(k-j), c_j = exp(-sign * pi i j^2 / n),
  // the sum being a circular convolution of length m computed with FFTs.
  std::vector<cd> a(p.m, cd{0, 0}), fa(p.m), tmp(p.m);
  for (int j = 0; j < p.n; ++j) a[j] = in[j] * conj(p.chirp[j]);
  run_plan(*p.inner_fwd, a.data(), fa.data(), tmp.data(), threads);
  for (int k = 0; k < p.m; ++k) fa[k] = fa[k] * p.kernel[k];
  run_plan(*p.inner_inv, fa.data(), a.data(), tmp.data(), threads);
  for (int k = 0; k < p.n; ++k) out[k] = scale(conj(p.chirp[k]) * a[k], 1.0 / p.m);
}

std::shared_ptr<const Plan> make_plan(int n, int sign) {
  auto p = std::make_shared<Plan>();
  p->n = n, p->sign = sign;
  std::vector<int> radices;
  int rest = n;
  for (int r : {4, 2, 3, 5, 7})
    while (rest % r == 0) radices.push_back(r), rest /= r;
  if (rest == 1) {
    int span = 1;
    for (int r : radices) {
      Stage st{r, span, {}};
      st.tw.resize(static_cast<size_t>(r) * span);
      for (int q = 1; q < r; ++q)
        for (int j = 0; j < span; ++j)
          st.tw[q * span + j] = unit(sign * 2.0 * M_PI * static_cast<double>(q) * j / (static_cast<double>(span) * r));
      p->stages.push_back(std::move(st));
      span *= r;
    }
    return p;
  }
  p->bluestein = true;
  p->m = 1;
  while (p->m < 2 * n - 1) p->m *= 2;
  p->chirp.resize(n);
  for (int j = 0; j < n; ++j) {
    // j^2 mod 2n keeps the angle exact for large j.
    long long jj = static_cast<long long>(j) * j % (2LL * n);
    p->chirp[j] = unit(-sign * M_PI * static_cast<double>(jj) / n);
  }
  p->inner_fwd = get_plan(p->m, -1);
  p->inner_inv = get_plan(p->m, +1);
  std::vector<cd> b(p->m, cd{0, 0}), tmp(p->m);
  b[0] = p->chirp[0];
  for (int j = 1; j < n; ++j) b[j] = b[p->m - j] = p->chirp[j];
  p->kernel.resize(p->m);
  run_plan(*p->inner_fwd, b.data(), p->kernel.data(), tmp.data(), false);
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
  const int64_t n = in.shape(axis_);
  auto plan = get_plan(static_cast<int>(n), inverse_ ? +1 : -1);
  // One line: its stages use the threads; many lines: the lines do.
  const bool one_line = static_cast<int64_t>(in.size()) == n;
  cpu::for_each_line<complex64_t, complex64_t>(
      in, out, axis_, 8 * 16, [&](const complex64_t* s, int64_t is, complex64_t* d, int64_t os, int64_t len) {
        thread_local std::vector<cd> line, res, scratch;
        line.resize(len), res.resize(len), scratch.resize(len);
        for (int64_t i = 0; i < len; ++i) line[i] = {s[i * is].real(), s[i * is].imag()};
        run_plan(*plan, line.data(), res.data(), scratch.data(), one_line);
        for (int64_t i = 0; i < len; ++i)
          d[i * os] = complex64_t(static_cast<float>(res[i].re), static_cast<float>(res[i].im));
      });
}

}  // namespace lmx
