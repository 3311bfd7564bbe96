// Row kernels of the fused normalisation and attention passes (built per
// ISA): each row is a few hundred floats, so the work is lane arithmetic
// with one horizontal sum or maximum per row, and exp on lanes.
#include "lmx/backend/cpu/kernels/fused_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lmx/backend/cpu/simd.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

using simd::splat_f;
using simd::VF;
constexpr int64_t kLanes = simd::kFloatLanes;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

using simd::load;
using simd::load_part;
using simd::store;
using simd::store_part;

inline float lane_sum(VF v) {
  float s = 0.0f;
  for (int64_t k = 0; k < kLanes; ++k) s += v[k];
  return s;
}

inline float lane_max(VF v) {
  float s = v[0];
  for (int64_t k = 1; k < kLanes; ++k) s = v[k] > s ? v[k] : s;
  return s;
}

// The mean of a row (0 when not centring) and its reciprocal standard
// deviation about it, two passes over values that sit in L1.
void moments(const float* x, int64_t d, bool centre, float eps, float& mu, float& rstd) {
  mu = 0.0f;
  if (centre) {
    VF acc = splat_f(0.0f);
    int64_t j = 0;
    for (; j + kLanes <= d; j += kLanes) acc += load(x + j);
    if (j < d) acc += load_part(x + j, d - j, 0.0f);
    mu = lane_sum(acc) / static_cast<float>(d);
  }
  const VF m = splat_f(mu);
  VF acc = splat_f(0.0f);
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes) {
    const VF c = load(x + j) - m;
    acc += c * c;
  }
  if (j < d) {
    const VF c = load_part(x + j, d - j, mu) - m;
    acc += c * c;
  }
  rstd = 1.0f / std::sqrt(lane_sum(acc) / static_cast<float>(d) + eps);
}

}  // namespace

void norm_rows(const float* x, const float* w, const float* b, bool centre, float eps, int64_t rows, int64_t d,
               float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    float mu, rstd;
    moments(xr, d, centre, eps, mu, rstd);
    const VF m = splat_f(mu), s = splat_f(rstd);
    for (int64_t j = 0; j < d; j += kLanes) {
      const int64_t n = std::min(kLanes, d - j);
      const bool whole = n == kLanes;
      // The normalised value is formed before the weight multiplies it, as
      // in the fallback (which rounds it to the output type there).
      VF t = ((whole ? load(xr + j) : load_part(xr + j, n, 0.0f)) - m) * s;
      t *= whole ? load(w + j) : load_part(w + j, n, 0.0f);
      if (centre) t += whole ? load(b + j) : load_part(b + j, n, 0.0f);
      whole ? store(yr + j, t) : store_part(yr + j, t, n);
    }
  }
}

// With x̂ = (x - mean) * rstd and g = dy * w:
//   layer norm: dx = rstd * (g - mean(g) - x̂ * mean(g * x̂))
//   RMS norm:   dx = rstd * (g - x̂ * mean(g * x̂))
// and dw += dy * x̂, db += dy.
void norm_vjp_rows(const float* x, const float* w, const float* dy, bool centre, float eps, int64_t rows, int64_t d,
                   float* dx, float* dw, float* db) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    const float* gr = dy + r * d;
    float* dxr = dx + r * d;
    float mu, rstd;
    moments(xr, d, centre, eps, mu, rstd);
    const VF m = splat_f(mu), s = splat_f(rstd);
    VF sum_g = splat_f(0.0f), sum_gx = splat_f(0.0f);
    for (int64_t j = 0; j < d; j += kLanes) {
      const int64_t n = std::min(kLanes, d - j);
      const bool whole = n == kLanes;
      const VF xh = ((whole ? load(xr + j) : load_part(xr + j, n, mu)) - m) * s;
      const VF up = whole ? load(gr + j) : load_part(gr + j, n, 0.0f);
      const VF g = up * (whole ? load(w + j) : load_part(w + j, n, 0.0f));
      sum_g += g;
      sum_gx += g * xh;
      const VF dwv = (whole ? load(dw + j) : load_part(dw + j, n, 0.0f)) + up * xh;
      whole ? store(dw + j, dwv) : store_part(dw + j, dwv, n);
      if (centre) {
        const VF dbv = (whole ? load(db + j) : load_part(db + j, n, 0.0f)) + up;
        whole ? store(db + j, dbv) : store_part(db + j, dbv, n);
      }
    }
    const VF mean_g = splat_f(centre ? lane_sum(sum_g) / static_cast<float>(d) : 0.0f);
    const VF mean_gx = splat_f(lane_sum(sum_gx) / static_cast<float>(d));
    for (int64_t j = 0; j < d; j += kLanes) {
      const int64_t n = std::min(kLanes, d - j);
      const bool whole = n == kLanes;
      const VF xh = ((whole ? load(xr + j) : load_part(xr + j, n, mu)) - m) * s;
      const VF g = (whole ? load(gr + j) : load_part(gr + j, n, 0.0f)) *
                   (whole ? load(w + j) : load_part(w + j, n, 0.0f));
      const VF out = s * (g - mean_g - xh * mean_gx);
      whole ? store(dxr + j, out) : store_part(dxr + j, out, n);
    }
  }
}

void attention_probs(float* s, int64_t lds, int64_t rows, int64_t n, float scale, const float* mask, int64_t mask_ld,
                     bool causal, int64_t limit0, const float* sink) {
  const VF sc = splat_f(scale);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s + r * lds;
    const float* mrow = mask ? mask + r * mask_ld : nullptr;
    const int64_t seen = causal ? std::clamp<int64_t>(limit0 + r, 0, n) : n;
    // Scaled and masked scores, and their maximum (the sink's logit counts).
    VF vmax = splat_f(kNegInf);
    int64_t j = 0;
    for (; j + kLanes <= seen; j += kLanes) {
      VF v = load(row + j) * sc;
      if (mrow) v += load(mrow + j);
      store(row + j, v);
      vmax = v > vmax ? v : vmax;
    }
    float mx = std::max(lane_max(vmax), sink ? *sink : kNegInf);
    for (; j < seen; ++j) {
      row[j] = row[j] * scale + (mrow ? mrow[j] : 0.0f);
      mx = std::max(mx, row[j]);
    }
    if (mx == kNegInf) {  // no key is visible: zeros
      std::fill(row, row + n, 0.0f);
      continue;
    }
    const VF vm = splat_f(mx);
    VF acc = splat_f(0.0f);
    j = 0;
    for (; j + kLanes <= seen; j += kLanes) {
      const VF e = simd::exp(load(row + j) - vm);
      store(row + j, e);
      acc += e;
    }
    float total = lane_sum(acc);
    for (; j < seen; ++j) total += (row[j] = std::exp(row[j] - mx));
    if (sink) total += std::exp(*sink - mx);
    const float inv = 1.0f / total;
    for (j = 0; j < seen; ++j) row[j] *= inv;
    std::fill(row + seen, row + n, 0.0f);
  }
}

void attention_dscores(const float* p, int64_t ldp, float* dp, int64_t lddp, const float* delta, int64_t rows,
                       int64_t n, float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * ldp;
    float* dr = dp + r * lddp;
    const float dl = delta[r];
    for (int64_t j = 0; j < n; ++j) dr[j] = pr[j] * (dr[j] - dl) * scale;
  }
}

void extreme_grad_rows(const float* x, const int64_t* window, int64_t windows, const float* y, const float* g,
                       int64_t n, float* dx) {
  using VI = simd::VI;
  const VI one = (VI)splat_f(1.0f);
  for (int64_t c = 0; c < n; c += kLanes) {
    const int64_t m = std::min(kLanes, n - c);
    const bool whole = m == kLanes;
    auto get = [&](const float* p) { return whole ? load(p + c) : load_part(p + c, m, 0.0f); };
    const VF yv = get(y);
    VF count = splat_f(0.0f);
    for (int64_t w = 0; w < windows; ++w) count += (VF)(one & (get(x + window[w]) == yv));
    const VI share = (VI)(get(g) / count);
    for (int64_t w = 0; w < windows; ++w) {
      const VF out = (VF)(share & (get(x + window[w]) == yv));  // the share where tied with y, else +0
      whole ? store(dx + window[w] + c, out) : store_part(dx + window[w] + c, out, m);
    }
  }
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
