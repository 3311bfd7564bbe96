// Affine quantisation on the CPU. Quantising follows MLX's arithmetic
// exactly (float32, the same divisions and round-half-even) so packed
// weights match MLX bit for bit. Products with quantised weights take one of
// two paths: a fused matrix-vector kernel for few rows of x (decode), and
// dequantise-to-float tiles fed to sgemm for many rows (prefill).

#include <algorithm>
#include <cmath>
#include <vector>

#include "lmx/backend/cpu/blas.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/quantize_math.h"
#include "lmx/primitives/quantized.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// Rows of x up to which the fused matrix-vector kernel beats dequantise+gemm.
constexpr int kQmvMaxRows = 8;
// Packed rows of w the decode path handles per widening of their scales.
constexpr size_t kQmvRowBlock = 32;
// Elements of float weights dequantised at once for gemm (~8 MiB).
constexpr int64_t kTileElems = int64_t{1} << 21;

// The packed bytes of each row of a (..., cols) uint32 array.
size_t packed_row_bytes(const array& w) { return static_cast<size_t>(w.shape(-1)) * 4; }

// Scales or biases, row-major in their own dtype when that is a float type
// (a model's are often float16 or bfloat16). Widening them whole to float32
// on every call cost more than the product itself in SmolLM2's decode, so
// each worker widens just the groups it is about to use.
class GroupParams {
 public:
  GroupParams(const array& a, array& scratch) {
    const bool keep = a.dtype() == float32 || a.dtype() == float16 || a.dtype() == bfloat16;
    dtype_ = keep ? a.dtype() : float32;
    bytes_ = cpu::row_major<char>(a, dtype_, scratch);
  }
  // `count` values from element `offset` as float32: in place, or widened
  // into `buffer`.
  const float* floats(int64_t offset, int64_t count, float* buffer) const {
    if (dtype_ == float32) return reinterpret_cast<const float*>(bytes_) + offset;
    cpu::convert_contiguous(bytes_ + offset * dtype_.size(), dtype_, buffer, float32, count);
    return buffer;
  }
  // Asks for `count` values from element `offset` to be brought into cache.
  void prefetch(int64_t offset, int64_t count) const {
    const char* p = bytes_ + offset * dtype_.size();
    for (int64_t at = 0; at < count * static_cast<int64_t>(dtype_.size()); at += 64) __builtin_prefetch(p + at);
  }

 private:
  const char* bytes_;
  Dtype dtype_ = float32;
};

// x's m rows as the decode kernel reads them: each group's sum, and for 4
// bits the rows rearranged by affine_qmv_prepare.
struct QmvDecodeX {
  QmvDecodeX(const float* x, int64_t m, int64_t k, int bits, int group)
      : m(static_cast<int>(m)), k(static_cast<int>(k)), bits(bits), group(group), groups(k / group),
        xsum(m * groups), prepared(bits == 4 ? m * k : 0) {
    LMX_CPU_KERNEL(affine_qmv_prepare, x, k, this->m, this->k, bits, group, xsum.data(), prepared.data());
    rows = bits == 4 ? prepared.data() : x;
  }
  int m, k, bits, group;
  int64_t groups;
  std::vector<float> xsum, prepared;
  const float* rows;
};

// One transposed packed matrix of a decode product: its rows of row_bytes,
// its scales and biases from element s0, and its float32 output (m, n).
struct QmvMatrix {
  const uint8_t* w;
  int64_t row_bytes;
  const GroupParams *scales, *biases;
  int64_t s0;
  float* y;
  int64_t n;
};

// y[:, j] for the matrix's rows j in [j0, j1), in blocks of kQmvRowBlock
// rows: one widening of their scales and biases a block, the next block's
// brought into cache meanwhile.
void qmv_rows(const QmvDecodeX& x, const QmvMatrix& a, size_t j0, size_t j1) {
  const int64_t groups = x.groups;
  std::vector<float> s_rows(kQmvRowBlock * groups), b_rows(kQmvRowBlock * groups);
  for (size_t b0 = j0; b0 < j1; b0 += kQmvRowBlock) {
    const size_t b1 = std::min<size_t>(j1, b0 + kQmvRowBlock);
    if (b1 < j1) {
      const size_t next = std::min<size_t>(j1 - b1, kQmvRowBlock) * groups;
      a.scales->prefetch(a.s0 + b1 * groups, next);
      a.biases->prefetch(a.s0 + b1 * groups, next);
    }
    const float* s = a.scales->floats(a.s0 + b0 * groups, (b1 - b0) * groups, s_rows.data());
    const float* b = a.biases->floats(a.s0 + b0 * groups, (b1 - b0) * groups, b_rows.data());
    LMX_CPU_KERNEL(affine_qmv, a.w + b0 * a.row_bytes, a.row_bytes, b1 - b0, x.rows, x.k, x.m, x.k, x.bits,
                   x.group, s, b, x.xsum.data(), groups, a.y + b0, a.n);
  }
}

}  // namespace

void Fp8Convert::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  const size_t n = out.size();
  if (to_fp8_) {
    array xs;
    const float* x = cpu::row_major<float>(inputs[0], float32, xs);
    auto* y = out.data<uint8_t>();
    parallel_for(n, 16, [&](size_t a, size_t b) {
      for (size_t i = a; i < b; ++i) y[i] = quant::float_to_e4m3(x[i]);
    });
    return;
  }
  array bs;
  const auto* bytes = cpu::row_major<uint8_t>(inputs[0], uint8, bs);
  float table[256];
  for (int i = 0; i < 256; ++i) table[i] = quant::e4m3_to_float(static_cast<uint8_t>(i));
  std::vector<float> y(n);
  for (size_t i = 0; i < n; ++i) y[i] = table[bytes[i]];
  cpu::convert_contiguous(y.data(), float32, out.raw_ptr(), out.dtype(), n);
}

void AffineQuantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array w_scratch;
  const float* w = cpu::row_major<float>(inputs[0], float32, w_scratch);
  array &wq = outputs[0], &scales = outputs[1], &biases = outputs[2];
  for (auto& o : outputs) cpu::allocate(o);
  size_t groups = scales.size();
  std::vector<float> s(groups), b(groups);
  auto* packed = wq.data<uint8_t>();
  size_t group_bytes = static_cast<size_t>(group_size_) * bits_ / 8;
  parallel_for(groups, 8 * group_size_, [&](size_t g0, size_t g1) {
    for (size_t g = g0; g < g1; ++g)
      quant::affine_quantize_group(w + g * group_size_, group_size_, bits_, packed + g * group_bytes, s[g], b[g]);
  });
  cpu::convert_contiguous(s.data(), float32, scales.raw_ptr(), scales.dtype(), groups);
  cpu::convert_contiguous(b.data(), float32, biases.raw_ptr(), biases.dtype(), groups);
}

void AffineDequantize::eval_cpu(const std::vector<array>& inputs, array& out) {
  array ws, ss, bs;
  const auto* w = cpu::row_major<uint32_t>(inputs[0], uint32, ws);
  const GroupParams scales(inputs[1], ss), biases(inputs[2], bs);
  const size_t rows = inputs[0].size() / inputs[0].shape(-1);
  const size_t row_bytes = packed_row_bytes(inputs[0]);
  const int64_t k = out.shape(-1), groups = k / group_size_;
  const bool in_float = out.dtype() == float32;
  cpu::allocate(out);
  const auto* bytes = reinterpret_cast<const uint8_t*>(w);
  parallel_for(rows, 4 * k, [&](size_t r0, size_t r1) {
    std::vector<float> ones(in_float ? 0 : groups, 1.0f), zeros(in_float ? 0 : groups, 0.0f), q(in_float ? 0 : k);
    std::vector<float> s_row(groups), b_row(groups);
    for (size_t r = r0; r < r1; ++r) {
      const float* s = scales.floats(r * groups, groups, s_row.data());
      const float* b = biases.floats(r * groups, groups, b_row.data());
      if (in_float) {
        LMX_CPU_KERNEL(affine_dequantize, bytes + r * row_bytes, s, b, bits_, group_size_, k,
                       out.data<float>() + r * k);
        continue;
      }
      // Other dtypes: round scale * q to the dtype, then the sum, as MLX
      // computes in the output's own precision.
      LMX_CPU_KERNEL(affine_dequantize, bytes + r * row_bytes, ones.data(), zeros.data(), bits_, group_size_, k,
                     q.data());
      auto round_row = [&](auto tag) {
        using T = typename decltype(tag)::type;
        for (int64_t i = 0; i < k; ++i) q[i] = quant::affine_value<T>(q[i], s[i / group_size_], b[i / group_size_]);
      };
      if (out.dtype() == float16) round_row(TypeTag<float16_t>{});
      else if (out.dtype() == bfloat16) round_row(TypeTag<bfloat16_t>{});
      else round_row(TypeTag<float>{});
      cpu::convert_contiguous(q.data(), float32, static_cast<char*>(out.raw_ptr()) + r * k * out.itemsize(),
                              out.dtype(), k);
    }
  });
}

void QuantizedMatmul::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array &x_in = inputs[0], &w_in = inputs[1];
  array xs, ws, ss, bs;
  const float* x = cpu::row_major<float>(x_in, float32, xs);
  const auto* w = reinterpret_cast<const uint8_t*>(cpu::row_major<uint32_t>(w_in, uint32, ws));
  const GroupParams scales(inputs[2], ss), biases(inputs[3], bs);
  array f32 = out.dtype() == float32 ? out : array(out.shape(), float32, std::shared_ptr<Data>{});
  cpu::allocate(f32);
  float* y = f32.data<float>();

  // A 2-D w serves every row of x: x's batch dims fold into its rows (x is
  // row-major here), so the decode path takes a whole batch at once.
  const int64_t k = x_in.shape(-1), n = out.shape(-1);
  const int64_t m = w_in.ndim() == 2 && k ? static_cast<int64_t>(x_in.size()) / k : x_in.shape(-2);
  const int64_t w_rows = w_in.shape(-2), row_bytes = static_cast<int64_t>(packed_row_bytes(w_in));
  const int64_t s_cols = inputs[2].shape(-1);
  const int64_t batch = m ? static_cast<int64_t>(x_in.size()) / (m * k != 0 ? m * k : 1) : 0;
  const int64_t w_vals = transpose_ ? k : n;  // values per packed row
  for (int64_t bi = 0; bi < batch && k > 0; ++bi) {
    const float* xb = x + bi * m * k;
    const uint8_t* wb = w + bi * w_rows * row_bytes;
    const int64_t sb = bi * w_rows * s_cols;  // the batch's first scale and bias
    float* yb = y + bi * m * n;
    if (transpose_ && m <= kQmvMaxRows) {
      // Decode: each output column is one packed row of w against x's rows.
      const QmvDecodeX dx(xb, m, k, bits_, group_size_);
      const QmvMatrix mat{wb, row_bytes, &scales, &biases, sb, yb, n};
      parallel_for(n, 2 * k * m, [&](size_t n0, size_t n1) { qmv_rows(dx, mat, n0, n1); });
    } else if (!transpose_ && m <= kQmvMaxRows) {
      // Decode with w (K, N): accumulate x[r, k] * dequantised row k, each
      // thread owning a range of whole groups of columns.
      std::fill(yb, yb + m * n, 0.0f);
      const int64_t col_groups = n / group_size_;
      parallel_for(col_groups, 3 * k * group_size_, [&](size_t g0, size_t g1) {
        const int64_t c0 = g0 * group_size_, cols = (g1 - g0) * group_size_;
        std::vector<float> row(cols), s_row(g1 - g0), b_row(g1 - g0);
        for (int64_t kk = 0; kk < k; ++kk) {
          LMX_CPU_KERNEL(affine_dequantize, wb + kk * row_bytes + c0 * bits_ / 8,
                         scales.floats(sb + kk * s_cols + g0, g1 - g0, s_row.data()),
                         biases.floats(sb + kk * s_cols + g0, g1 - g0, b_row.data()), bits_, group_size_, cols,
                         row.data());
          for (int64_t r = 0; r < m; ++r) {
            float a = xb[r * k + kk];
            float* dst = yb + r * n + c0;
            for (int64_t c = 0; c < cols; ++c) dst[c] += a * row[c];
          }
        }
      });
    } else {
      // Prefill: dequantise row tiles of w to float and let sgemm do the rest.
      const int64_t tile_rows = std::max<int64_t>(16, kTileElems / std::max<int64_t>(w_vals, 1));
      std::vector<float> tile(std::min(tile_rows, w_rows) * w_vals);
      for (int64_t r0 = 0; r0 < w_rows; r0 += tile_rows) {
        const int64_t rows = std::min(tile_rows, w_rows - r0);
        parallel_for(rows, 2 * w_vals, [&](size_t a, size_t b) {
          std::vector<float> s_row(s_cols), b_row(s_cols);
          for (size_t r = a; r < b; ++r) {
            const int64_t at = sb + (r0 + r) * s_cols;
            LMX_CPU_KERNEL(affine_dequantize, wb + (r0 + r) * row_bytes, scales.floats(at, s_cols, s_row.data()),
                           biases.floats(at, s_cols, b_row.data()), bits_, group_size_, w_vals,
                           tile.data() + r * w_vals);
          }
        });
        const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
        const int ri = static_cast<int>(rows);
        if (transpose_)  // y[:, r0:r0+rows] = x @ tile^T
          cpu::gemm<float>(false, true, mi, ri, ki, 1.0f, xb, ki, tile.data(), ki, 0.0f, yb + r0, ni);
        else  // y += x[:, r0:r0+rows] @ tile
          cpu::gemm<float>(false, false, mi, ni, ri, 1.0f, xb + r0, ki, tile.data(), ni, r0 == 0 ? 0.0f : 1.0f, yb,
                           ni);
      }
    }
  }
  if (k == 0) std::fill(y, y + f32.size(), 0.0f);
  if (out.dtype() != float32) {
    cpu::allocate(out);
    cpu::convert_contiguous(y, float32, out.raw_ptr(), out.dtype(), out.size());
  }
}

// Decode (few rows of x): x prepared once, and the members' rows dealt out to
// the workers as one range, so that small matrices (k and v projections)
// share a parallel_for with the rest. Otherwise each member's product.
void QuantizedMatmulGroup::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& x_in = inputs[0];
  const size_t count = outputs.size();
  const int64_t k = x_in.shape(-1), m = k ? static_cast<int64_t>(x_in.size()) / k : 0;
  if (m == 0 || m > kQmvMaxRows) {
    QuantizedMatmul product = member();
    for (size_t i = 0; i < count; ++i)
      product.eval_cpu({x_in, inputs[3 * i + 1], inputs[3 * i + 2], inputs[3 * i + 3]}, outputs[i]);
    return;
  }
  array xs;
  const QmvDecodeX dx(cpu::row_major<float>(x_in, float32, xs), m, k, bits_, group_size_);
  std::vector<array> ws(count), ss(count), bs(count), f32(count);
  std::vector<GroupParams> scales, biases;
  scales.reserve(count), biases.reserve(count);  // the matrices point at them
  std::vector<QmvMatrix> mats;
  std::vector<int64_t> first{0};  // member i owns rows [first[i], first[i + 1]) of the joint range
  for (size_t i = 0; i < count; ++i) {
    const array& w = inputs[3 * i + 1];
    const auto* packed = reinterpret_cast<const uint8_t*>(cpu::row_major<uint32_t>(w, uint32, ws[i]));
    scales.emplace_back(inputs[3 * i + 2], ss[i]);
    biases.emplace_back(inputs[3 * i + 3], bs[i]);
    f32[i] = outputs[i].dtype() == float32 ? outputs[i] : array(outputs[i].shape(), float32, std::shared_ptr<Data>{});
    cpu::allocate(f32[i]);
    const int64_t n = outputs[i].shape(-1);
    mats.push_back({packed, static_cast<int64_t>(packed_row_bytes(w)), &scales[i], &biases[i], 0,
                    f32[i].data<float>(), n});
    first.push_back(first.back() + n);
  }
  parallel_for(first.back(), 2 * k * m, [&](size_t r0, size_t r1) {
    for (size_t i = 0; i < count; ++i) {
      const int64_t lo = std::max<int64_t>(r0, first[i]), hi = std::min<int64_t>(r1, first[i + 1]);
      if (lo < hi) qmv_rows(dx, mats[i], lo - first[i], hi - first[i]);
    }
  });
  for (size_t i = 0; i < count; ++i) {
    if (outputs[i].dtype() == float32) continue;
    cpu::allocate(outputs[i]);
    cpu::convert_contiguous(f32[i].data<float>(), float32, outputs[i].raw_ptr(), outputs[i].dtype(), f32[i].size());
  }
}

}  // namespace lmx
