// The fused mx.fast kernels on the CPU. Everything is computed in float32
// from row-major copies (the inputs' own memory when they already are).
// Attention takes one of two paths: a per-query streaming loop when there are
// few queries (decode), and sgemm over blocks of queries otherwise (prefill).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "lmx/backend/cpu/blas.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/fused_rows.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/fast/primitives.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx::fast {

namespace {

// Layer norm (`centre`) or RMS norm of x's rows into `out` (its own dtype),
// computed in float32.
void norm_forward(const std::vector<array>& inputs, bool centre, float eps, array& out) {
  array xs, ws, bs;
  const float* x = cpu::row_major<float>(inputs[0], float32, xs);
  const float* w = cpu::row_major<float>(inputs[1], float32, ws);
  const float* b = centre ? cpu::row_major<float>(inputs[2], float32, bs) : nullptr;
  const int64_t d = inputs[0].shape(-1), rows = d ? static_cast<int64_t>(inputs[0].size()) / d : 0;
  cpu::allocate(out);
  const bool direct = out.dtype() == float32;
  parallel_for(rows, 8 * d, [&](size_t r0, size_t r1) {
    const int64_t n = static_cast<int64_t>(r1 - r0);
    std::vector<float> staged(direct ? 0 : n * d);
    float* y = direct ? out.data<float>() + r0 * d : staged.data();
    LMX_CPU_KERNEL(norm_rows, x + r0 * d, w, b, centre, eps, n, d, y);
    if (!direct)
      cpu::convert_contiguous(y, float32, static_cast<char*>(out.raw_ptr()) + r0 * d * out.itemsize(), out.dtype(),
                              n * d);
  });
}

// Writes n float32 values into `out`, allocating it, in its own dtype.
void store_float32(const float* values, size_t n, array& out) {
  cpu::allocate(out);
  cpu::convert_contiguous(values, float32, out.raw_ptr(), out.dtype(), n);
}

}  // namespace

void RMSNorm::eval_cpu(const std::vector<array>& inputs, array& out) { norm_forward(inputs, false, eps_, out); }

void LayerNorm::eval_cpu(const std::vector<array>& inputs, array& out) { norm_forward(inputs, true, eps_, out); }

// The sum as the add primitive computes it, then the norm of that rounded sum:
// the same values as the two nodes it replaces.
void AddRMSNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  Binary(stream(), BinaryOp::Add).eval_cpu({inputs[0], inputs[1]}, outputs[1]);
  norm_forward({outputs[1], inputs[2]}, false, eps_, outputs[0]);
}

void NormVJP::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array xs, ws, gs;
  const float* x = cpu::row_major<float>(inputs[0], float32, xs);
  const float* w = cpu::row_major<float>(inputs[1], float32, ws);
  const float* g = cpu::row_major<float>(inputs[2], float32, gs);
  const int64_t d = inputs[0].shape(-1), rows = d ? static_cast<int64_t>(inputs[0].size()) / d : 0;
  array& dx = outputs[0];
  const bool direct = dx.dtype() == float32;
  cpu::allocate(dx);
  std::vector<float> staged(direct ? 0 : rows * d);
  float* dxf = direct ? dx.data<float>() : staged.data();
  // dweight, then dbias, summed over the rows
  const std::vector<float> total = parallel_sum(rows, 16 * d, 2 * d, [&](size_t r0, size_t r1, float* sums) {
    LMX_CPU_KERNEL(norm_vjp_rows, x + r0 * d, w, g + r0 * d, centre_, eps_, static_cast<int64_t>(r1 - r0), d,
                   dxf + r0 * d, sums, sums + d);
  });
  if (!direct) cpu::convert_contiguous(staged.data(), float32, dx.raw_ptr(), dx.dtype(), staged.size());
  store_float32(total.data(), d, outputs[1]);
  if (centre_) store_float32(total.data() + d, d, outputs[2]);
}

void RoPE::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& x = inputs[0];
  array os, fs;
  const int32_t* offsets = cpu::row_major<int32_t>(inputs[1], int32, os);
  const float* inv_freq = cpu::row_major<float>(inputs[2], float32, fs);
  const int64_t d = x.shape(-1), t = x.shape(-2), batch = x.shape(0), half = dims_ / 2;
  const int64_t rows_per_batch = batch ? static_cast<int64_t>(x.size()) / d / batch : 0;
  const int64_t n_offsets = inputs[1].size();
  // cos/sin for every (batch offset, position, pair): heads share them.
  std::vector<float> cos_t(n_offsets * t * half), sin_t(n_offsets * t * half);
  for (int64_t b = 0; b < n_offsets; ++b)
    for (int64_t p = 0; p < t; ++p)
      for (int64_t j = 0; j < half; ++j) {
        const float angle = static_cast<float>(offsets[b] + p) * scale_ * inv_freq[j];
        cos_t[(b * t + p) * half + j] = std::cos(angle);
        sin_t[(b * t + p) * half + j] = std::sin(angle);
      }
  array xs;
  const float* in = cpu::row_major<float>(x, float32, xs);
  cpu::allocate(out);
  const bool direct = out.dtype() == float32;
  const int64_t rows = static_cast<int64_t>(x.size()) / std::max<int64_t>(d, 1);
  parallel_for(rows, 4 * d, [&](size_t r0, size_t r1) {
    std::vector<float> tmp(direct ? 0 : d);
    for (size_t r = r0; r < r1; ++r) {
      const float* src = in + r * d;
      float* y = direct ? out.data<float>() + r * d : tmp.data();
      const int64_t b = n_offsets == 1 ? 0 : static_cast<int64_t>(r) / rows_per_batch;
      const int64_t p = static_cast<int64_t>(r) % t;
      const float* c = cos_t.data() + (b * t + p) * half;
      const float* s = sin_t.data() + (b * t + p) * half;
      for (int64_t j = 0; j < half; ++j) {
        const int64_t i1 = traditional_ ? 2 * j : j, i2 = traditional_ ? 2 * j + 1 : j + half;
        const float x1 = src[i1], x2 = src[i2];
        y[i1] = x1 * c[j] - x2 * s[j];
        y[i2] = x1 * s[j] + x2 * c[j];
      }
      for (int64_t i = dims_; i < d; ++i) y[i] = src[i];
      if (!direct)
        cpu::convert_contiguous(tmp.data(), float32, static_cast<char*>(out.raw_ptr()) + r * d * out.itemsize(),
                                out.dtype(), d);
    }
  });
}

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Queries per (batch, head) up to which the streaming kernel is used.
constexpr int64_t kStreamingMaxQueries = 8;
// Keys below which decode attention does not cut a run of heads' keys into
// splits for more threads.
constexpr int64_t kMinSplitKeys = 128;
// Queries handled per sgemm block in the prefill path.
constexpr int64_t kQueryBlock = 128;

// exp(s - mx) in place for a row of scores, mx being the largest of them and
// `floor`; returns their sum and sets mx. A row all -inf (masked out)
// becomes zeros with sum 0 and mx -inf. `exp_span` is the per-ISA
// exponential: libm's, one value at a time, was a fifth of decode
// attention's time.
float exp_shifted(float* s, int64_t n, float floor, float& mx, cpu::UnarySpanFn exp_span) {
  mx = floor;
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, s[j]);
  if (mx == kNegInf) {
    std::fill(s, s + n, 0.0f);
    return 0.0f;
  }
  for (int64_t j = 0; j < n; ++j) s[j] -= mx;
  exp_span(s, s, n);
  float total = 0.0f;
  for (int64_t j = 0; j < n; ++j) total += s[j];
  return total;
}

// A (B, H, T, D) operand as a base pointer, its dtype and element strides.
// Views whose rows are contiguous (a KV cache's filled prefix, broadcast
// heads) are read in place; anything else is copied to row-major float32
// first. Decode reads float16 and bfloat16 in place too (`keep_16bit`):
// widening a half-precision cache whole on every step cost more than the
// attention itself; prefill's sgemm needs float32.
struct Heads {
  const char* p;
  Dtype dtype;
  int64_t sb, sh, st;
  // Row t of head h of batch b.
  const void* at(int64_t b, int64_t h, int64_t t = 0) const { return p + (b * sb + h * sh + t * st) * dtype.size(); }
};

// `rows_apart`: the row stride must be at least D (sgemm's ld needs it); a
// mask's rows may repeat (a stride of 0 over queries).
Heads heads_of(const array& a, array& scratch, bool keep_16bit, bool rows_apart = true) {
  const auto& st = a.strides();
  const int64_t d = a.shape(3);
  const bool native = a.dtype() == float32 || (keep_16bit && (a.dtype() == float16 || a.dtype() == bfloat16));
  if (native && (st[3] == 1 || d == 1) && (!rows_apart || st[2] >= d || a.shape(2) == 1))
    return {static_cast<const char*>(a.raw_ptr()), a.dtype(), st[0], st[1], a.shape(2) == 1 ? d : st[2]};
  const float* p = cpu::row_major<float>(a, float32, scratch);
  const int64_t t = a.shape(2), h = a.shape(1);
  return {reinterpret_cast<const char*>(p), float32, h * t * d, t * d, d};
}

}  // namespace

void ScaledDotProductAttention::eval_cpu(const std::vector<array>& inputs, array& out) {
  array qs, ks, vs, ms, ss;
  const float* q = cpu::row_major<float>(inputs[0], float32, qs);
  const bool decode = inputs[0].shape(2) <= kStreamingMaxQueries;
  const Heads k = heads_of(inputs[1], ks, decode), v = heads_of(inputs[2], vs, decode);
  // The additive float32 mask, a broadcast (B, H, Tq, Tk) view: read in place
  // (a causal mask broadcast over batch and heads is one Tq x Tk matrix).
  const std::optional<Heads> mask =
      has_mask_ ? std::optional(heads_of(inputs[3], ms, false, /*rows_apart=*/false)) : std::nullopt;
  const float* sinks = has_sinks_ ? cpu::row_major<float>(inputs[has_mask_ ? 4 : 3], float32, ss) : nullptr;
  const int64_t B = inputs[0].shape(0), hq = inputs[0].shape(1), tq = inputs[0].shape(2), d = inputs[0].shape(3);
  const int64_t hk = inputs[1].shape(1), tk = inputs[1].shape(2), dv = inputs[2].shape(3);
  const int64_t groups = hq / hk, shift = tk - tq;  // causal: key j is visible to query i if j <= i + shift
  array f32 = out.dtype() == float32 ? out : array(out.shape(), float32, std::shared_ptr<Data>{});
  cpu::allocate(f32);
  float* o = f32.data<float>();

  // Query row r = (b * hq + h) * tq + i's row of the mask.
  auto mask_row = [&](int64_t r) {
    return mask ? static_cast<const float*>(mask->at(r / (tq * hq), (r / tq) % hq, r % tq)) : nullptr;
  };
  const cpu::UnarySpanFn exp_span = LMX_CPU_KERNEL(unary_span_fn, UnaryOp::Exp, float32);
  // Scale and mask the scores of query i against keys [j0, j0 + n); m_row
  // is the query's row of the mask.
  auto mask_scores = [&](float* row, int64_t i, const float* m_row, int64_t j0, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      row[j] *= scale_;
      if (m_row) row[j] += m_row[j0 + j];
      if (causal_ && j0 + j > i + shift) row[j] = kNegInf;
    }
  };
  // Scale, mask and normalise a block of score rows, from query row r0.
  auto finish_scores = [&](float* s, int64_t r0, int64_t rows, const float* sink) {
    LMX_CPU_KERNEL(attention_probs, s, tk, rows, tk, scale_, mask_row(r0), mask ? mask->st : 0, causal_,
                   r0 % tq + shift + 1, sink);
  };

  if (decode) {
    // Decode. Rows r = (b * hq + h) * tq + i that read one key head form runs
    // of groups * tq (q, o and the mask are addressed by r alone). A run's
    // keys are cut into splits; a task scores one split for the whole run and
    // sums its values, reading that part of K and V once, and keeps each
    // row's max, normaliser and unnormalised output; the splits then merge
    // (flash decoding). Splitting keys gives every thread work when key
    // heads are few (SmolLM2 has 3) without two threads reading one head.
    // Both products run in the per-ISA kernels: this file is built for the
    // baseline ISA.
    const int64_t run = groups * tq, runs = B * hk;
    // Tasks come in a multiple of the threads where the keys allow: SmolLM2's
    // 3 key heads in 3 splits made 9 tasks, and one of two threads ran 5.
    const int64_t threads = kernel_threads(), most = std::max<int64_t>(1, tk / kMinSplitKeys);
    int64_t wanted = std::clamp<int64_t>(most, 1, (4 * threads + runs - 1) / runs);
    while ((runs * wanted) % threads != 0 && wanted < most) ++wanted;
    const int64_t per = std::max<int64_t>(1, (tk + wanted - 1) / wanted);  // keys a split
    const int64_t splits = (tk + per - 1) / per;
    std::vector<float> part_max(runs * splits * run), part_sum(runs * splits * run), part_out(runs * splits * run * dv);
    parallel_for(runs * splits, 2 * per * run * (d + dv), [&](size_t t0, size_t t1) {
      std::vector<float> scores(run * per);
      for (size_t t = t0; t < t1; ++t) {
        const int64_t r = static_cast<int64_t>(t / splits) * run, j0 = static_cast<int64_t>(t % splits) * per;
        const int64_t n = std::min(tk, j0 + per) - j0;
        const int64_t b = r / (tq * hq), kvh = (r / tq) % hq / groups;
        LMX_CPU_KERNEL(matvec_rows, k.at(b, kvh, j0), k.dtype, k.st, n, q + r * d, d, static_cast<int>(run), d,
                       scores.data(), per);
        for (int64_t x = 0; x < run; ++x) {
          float* row = scores.data() + x * per;
          mask_scores(row, (r + x) % tq, mask_row(r + x), j0, n);
          part_sum[t * run + x] = exp_shifted(row, n, kNegInf, part_max[t * run + x], exp_span);
        }
        LMX_CPU_KERNEL(vecmat, scores.data(), per, static_cast<int>(run), n, v.at(b, kvh, j0), v.dtype, v.st, dv,
                       part_out.data() + t * run * dv, dv);
      }
    });
    for (int64_t ri = 0; ri < runs; ++ri)
      for (int64_t x = 0; x < run; ++x) {
        const int64_t r = ri * run + x, h = (r / tq) % hq;
        float* orow = o + r * dv;
        auto part = [&](int64_t s) { return (ri * splits + s) * run + x; };
        float mx = sinks ? sinks[h] : kNegInf;
        for (int64_t s = 0; s < splits; ++s) mx = std::max(mx, part_max[part(s)]);
        std::fill(orow, orow + dv, 0.0f);
        if (mx == kNegInf) continue;  // every key masked: zeros
        float total = sinks ? std::exp(sinks[h] - mx) : 0.0f;
        for (int64_t s = 0; s < splits; ++s) {
          if (part_max[part(s)] == kNegInf) continue;
          const float w = std::exp(part_max[part(s)] - mx);
          total += w * part_sum[part(s)];
          const float* po = part_out.data() + part(s) * dv;
          for (int64_t c = 0; c < dv; ++c) orow[c] += w * po[c];
        }
        const float inv = 1.0f / total;
        for (int64_t c = 0; c < dv; ++c) orow[c] *= inv;
      }
  } else {
    // Prefill: blocks of queries through gemm. Heads go side by side on the
    // pool, each on one thread (a training batch of short sequences: 128
    // heads of 64 queries took 3.9 ms one after another); fewer heads than
    // threads go one at a time, each product split over the pool.
    const int64_t block = std::min(kQueryBlock, tq);
    auto run_heads = [&](size_t bh0, size_t bh1, auto gemm_fn) {
      std::vector<float> scores(block * tk);
      for (size_t bh = bh0; bh < bh1; ++bh) {
        const int64_t b = static_cast<int64_t>(bh) / hq, h = static_cast<int64_t>(bh) % hq;
        const int64_t r = static_cast<int64_t>(bh) * tq;  // the head's first query row
        const float* kh = static_cast<const float*>(k.at(b, h / groups));
        const float* vh = static_cast<const float*>(v.at(b, h / groups));
        const int st_k = static_cast<int>(k.st), st_v = static_cast<int>(v.st);
        for (int64_t i0 = 0; i0 < tq; i0 += block) {
          const int64_t rows = std::min(block, tq - i0);
          gemm_fn(false, true, rows, tk, d, 1.0f, q + (r + i0) * d, d, kh, st_k, 0.0f, scores.data(), tk);
          finish_scores(scores.data(), r + i0, rows, sinks ? sinks + h : nullptr);
          gemm_fn(false, false, rows, dv, tk, 1.0f, scores.data(), tk, vh, st_v, 0.0f, o + (r + i0) * dv, dv);
        }
      }
    };
    if (cpu::gemms_side_by_side(B * hq)) {
      parallel_for(B * hq, tq * tk * (d + dv),
                   [&](size_t bh0, size_t bh1) { run_heads(bh0, bh1, cpu::gemm_one_thread<float>); });
    } else {
      run_heads(0, B * hq, cpu::gemm<float>);
    }
  }
  if (out.dtype() != float32) {
    cpu::allocate(out);
    cpu::convert_contiguous(o, float32, out.raw_ptr(), out.dtype(), out.size());
  }
}

// The backward of prefill-style attention, one key head's query heads at a
// time. For each block of queries it recomputes the probabilities P from
// the scores, then dV += P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dO * O))
// * scale, dQ = dS K and dK += dS^T Q: four products beside the two of the
// forward, and the probabilities of one block live at once. Key heads run
// side by side on the pool when there are enough of them (their dK and dV
// are each written by one task), else one at a time with the products split.
void AttentionVJP::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array qs, ks, vs, ms, os, gs;
  const Heads q = heads_of(inputs[0], qs, false), k = heads_of(inputs[1], ks, false);
  const Heads v = heads_of(inputs[2], vs, false);
  const std::optional<Heads> mask =
      has_mask_ ? std::optional(heads_of(inputs[3], ms, false, /*rows_apart=*/false)) : std::nullopt;
  const Heads o = heads_of(inputs[3 + has_mask_], os, false), g = heads_of(inputs[4 + has_mask_], gs, false);
  const int64_t B = inputs[0].shape(0), hq = inputs[0].shape(1), tq = inputs[0].shape(2), d = inputs[0].shape(3);
  const int64_t hk = inputs[1].shape(1), tk = inputs[1].shape(2), dv = inputs[2].shape(3);
  const int64_t groups = hq / hk, shift = tk - tq, block = std::max<int64_t>(1, std::min(kQueryBlock, tq));
  // float32 gradients, written in place when that is the output type.
  std::vector<std::vector<float>> staged(3);
  float* grad[3];
  for (int i = 0; i < 3; ++i) {
    cpu::allocate(outputs[i]);
    if (outputs[i].dtype() == float32) {
      grad[i] = outputs[i].data<float>();
    } else {
      staged[i].resize(outputs[i].size());
      grad[i] = staged[i].data();
    }
  }
  float *dq = grad[0], *dk = grad[1], *dvv = grad[2];
  std::fill(dk, dk + outputs[1].size(), 0.0f);
  std::fill(dvv, dvv + outputs[2].size(), 0.0f);
  const int lq = static_cast<int>(q.st), lk = static_cast<int>(k.st), lv = static_cast<int>(v.st);
  const int lg = static_cast<int>(g.st);
  auto run_key_heads = [&](size_t t0, size_t t1, auto gemm_fn) {
    std::vector<float> p(block * tk), dp(block * tk), delta(block);
    for (size_t t = t0; t < t1; ++t) {
      const int64_t b = static_cast<int64_t>(t) / hk, kh = static_cast<int64_t>(t) % hk;
      const float* kp = static_cast<const float*>(k.at(b, kh));
      const float* vp = static_cast<const float*>(v.at(b, kh));
      float* dkp = dk + (b * hk + kh) * tk * d;
      float* dvp = dvv + (b * hk + kh) * tk * dv;
      for (int64_t h = kh * groups; h < (kh + 1) * groups; ++h)
        for (int64_t i0 = 0; i0 < tq; i0 += block) {
          const int rows = static_cast<int>(std::min(block, tq - i0));
          const float* qb = static_cast<const float*>(q.at(b, h, i0));
          const float* gb = static_cast<const float*>(g.at(b, h, i0));
          const float* ob = static_cast<const float*>(o.at(b, h, i0));
          gemm_fn(false, true, rows, tk, d, 1.0f, qb, lq, kp, lk, 0.0f, p.data(), tk);
          LMX_CPU_KERNEL(attention_probs, p.data(), tk, rows, tk, scale_,
                         mask ? static_cast<const float*>(mask->at(b, h, i0)) : nullptr, mask ? mask->st : 0, causal_,
                         i0 + shift + 1, nullptr);
          gemm_fn(true, false, tk, dv, rows, 1.0f, p.data(), tk, gb, lg, 1.0f, dvp, dv);
          gemm_fn(false, true, rows, tk, dv, 1.0f, gb, lg, vp, lv, 0.0f, dp.data(), tk);
          for (int r = 0; r < rows; ++r) {
            float dot = 0.0f;
            for (int64_t c = 0; c < dv; ++c) dot += gb[r * g.st + c] * ob[r * o.st + c];
            delta[r] = dot;
          }
          LMX_CPU_KERNEL(attention_dscores, p.data(), tk, dp.data(), tk, delta.data(), rows, tk, scale_);
          gemm_fn(false, false, rows, d, tk, 1.0f, dp.data(), tk, kp, lk, 0.0f, dq + ((b * hq + h) * tq + i0) * d, d);
          gemm_fn(true, false, tk, d, rows, 1.0f, dp.data(), tk, qb, lq, 1.0f, dkp, d);
        }
    }
  };
  if (tq > 0 && tk > 0) {  // (with D = 0 the scores are 0 and dv still gets P^T dO)
    if (cpu::gemms_side_by_side(B * hk)) {
      parallel_for(B * hk, groups * tq * tk * (2 * d + 2 * dv),
                   [&](size_t t0, size_t t1) { run_key_heads(t0, t1, cpu::gemm_one_thread<float>); });
    } else {
      run_key_heads(0, B * hk, cpu::gemm<float>);
    }
  } else {
    std::fill(dq, dq + outputs[0].size(), 0.0f);
  }
  for (int i = 0; i < 3; ++i)
    if (!staged[i].empty())
      cpu::convert_contiguous(staged[i].data(), float32, outputs[i].raw_ptr(), outputs[i].dtype(), staged[i].size());
}

}  // namespace lmx::fast
