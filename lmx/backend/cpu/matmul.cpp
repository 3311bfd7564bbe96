// Matmul on the CPU: OpenBLAS gemm for float32/float64/complex64 (16-bit
// floats through float32, rounded once), an exact loop for integers.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/layout.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/blas.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/primitives/linalg.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// How gemm reads one operand's matrices: their element offsets per batch
// entry, the transpose flag and the leading dimension.
struct GemmOperand {
  std::vector<int64_t> offsets;
  bool transposed = false;
  int64_t ld = 0;
  array storage;  // the array the offsets point into
};

// Offsets of each batch entry's matrix within x (batch dims may be broadcast).
std::vector<int64_t> batch_offsets(const array& x) {
  Shape shape(x.shape().begin(), x.shape().end() - 2);
  std::vector<Strides> strides = {Strides(x.strides().begin(), x.strides().end() - 2)};
  std::vector<int64_t> out;
  if (shape.empty()) return {0};
  collapse_dims(shape, strides);
  for_each_row<1>(shape, strides, [&](const int64_t* off, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out.push_back(off[0] + i * strides[0].back());
  });
  return out;
}

// Uses x's layout when each matrix is row- or column-major with unit inner
// stride; otherwise (or when the dtype must change) copies to row-major.
GemmOperand gemm_operand(const array& x, Dtype compute) {
  int64_t rows = x.shape(-2), cols = x.shape(-1);
  int64_t rs = x.strides()[x.ndim() - 2], cs = x.strides()[x.ndim() - 1];
  GemmOperand g;
  if (x.dtype() == compute) {
    if (cs == 1 && (rs >= cols || rows == 1)) {
      g.storage = x, g.ld = std::max<int64_t>(rows == 1 ? cols : rs, 1);
      g.offsets = batch_offsets(x);
      return g;
    }
    if (rs == 1 && (cs >= rows || cols == 1)) {
      g.storage = x, g.transposed = true, g.ld = std::max<int64_t>(cols == 1 ? rows : cs, 1);
      g.offsets = batch_offsets(x);
      return g;
    }
  }
  array c(x.shape(), compute, std::shared_ptr<Data>{});
  cpu::allocate(c);
  cpu::copy_to_strided(x, c.raw_ptr(), compute, row_major_strides(x.shape()));
  g.storage = c, g.ld = std::max<int64_t>(cols, 1);
  size_t batch = x.size() / std::max<int64_t>(rows * cols, 1);
  for (size_t i = 0; i < batch; ++i) g.offsets.push_back(static_cast<int64_t>(i) * rows * cols);
  return g;
}

// True when the rows of every batch entry of a row-major operand follow
// one another at its row stride, so that (batch..., m, k) reads as one
// (batch * m, k) matrix.
bool rows_fold(const GemmOperand& g, const array& x) {
  if (g.transposed || g.offsets.size() < 2) return false;
  if (g.storage.id() != x.id()) return true;  // a fresh row-major copy
  int64_t expected = g.ld * x.shape(-2);
  for (int d = x.ndim() - 3; d >= 0; --d) {
    if (x.shape(d) == 1) continue;
    if (x.strides()[d] != expected) return false;
    expected *= x.shape(d);
  }
  return true;
}

template <typename T>
void blas_matmul(const array& a, const array& b, T* dst, int m, int n, int k) {
  Dtype t = dtype_of<T>::value;
  GemmOperand ga = gemm_operand(a, t), gb = gemm_operand(b, t);
  const T* ap = ga.storage.template data<T>();
  const T* bp = gb.storage.template data<T>();
  size_t batch = ga.offsets.size();
  // A batch of inputs against one shared matrix (nn.Linear on (B, L, D)) is
  // one tall product: 32 separate 64-row gemms against a 512x128 weight ran
  // 1.6x slower than the single 2048-row one.
  const bool shared_b = std::all_of(gb.offsets.begin(), gb.offsets.end(),
                                    [&](int64_t o) { return o == gb.offsets[0]; });
  if (shared_b && rows_fold(ga, a) && static_cast<int64_t>(m) * static_cast<int64_t>(batch) <= INT32_MAX) {
    m *= static_cast<int>(batch);
    ga.offsets.resize(1), gb.offsets.resize(1);
    batch = 1;
  }
  auto product = [&](size_t i, auto gemm_fn) {
    gemm_fn(ga.transposed, gb.transposed, m, n, k, T(1), ap + ga.offsets[i], static_cast<int>(ga.ld),
            bp + gb.offsets[i], static_cast<int>(gb.ld), T(0), dst + i * static_cast<size_t>(m) * n, n);
  };
  // A batch of 128 attention-sized 64x32x64 products took 0.21 ms one after
  // another against torch's 0.12; side by side, 0.11.
  if (cpu::gemms_side_by_side(static_cast<int64_t>(batch))) {
    parallel_for(batch, static_cast<size_t>(m) * n * k, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) product(i, cpu::gemm_one_thread<T>);
    });
  } else {
    for (size_t i = 0; i < batch; ++i) product(i, cpu::gemm<T>);
  }
}

// Integer products accumulate in the element type (wrapping, as NumPy).
template <typename T>
void integer_matmul(const array& a, const array& b, T* dst, int m, int n, int k) {
  GemmOperand ga = gemm_operand(a, a.dtype()), gb = gemm_operand(b, b.dtype());
  const T* ap = ga.storage.template data<T>();
  const T* bp = gb.storage.template data<T>();
  size_t batch = ga.offsets.size();
  parallel_for(batch * m, static_cast<size_t>(n) * k, [&](size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; ++r) {
      size_t bi = r / m, i = r % m;
      const T* A = ap + ga.offsets[bi];
      const T* B = bp + gb.offsets[bi];
      T* C = dst + r * n;
      std::fill(C, C + n, T(0));
      for (int p = 0; p < k; ++p) {
        T av = ga.transposed ? A[p * ga.ld + i] : A[i * ga.ld + p];
        for (int j = 0; j < n; ++j) C[j] += av * (gb.transposed ? B[j * gb.ld + p] : B[p * gb.ld + j]);
      }
    }
  });
}

// Rows of a (its batch dims folded in) up to which the weight is streamed
// row by row (a 16-bit one in its own width) rather than handed to gemm.
constexpr int64_t kMatvecMaxRows = 8;

// out = a @ b for a few rows of a against b = w.T of a row-contiguous (n, k)
// float32/bfloat16/float16 w shared by every batch entry (nn.Linear in
// decode): float32 accumulation, rounded once. False when the case is not that.
bool matvec(const array& a, const array& b, array& out) {
  const Dtype t = out.dtype();
  if ((t != float32 && t != bfloat16 && t != float16) || b.dtype() != t) return false;
  const int64_t k = a.shape(-1), n = b.shape(-1);
  const int64_t rows = k ? static_cast<int64_t>(a.size()) / k : 0;
  if (rows < 1 || rows > kMatvecMaxRows || !is_shared_transposed_weight(b)) return false;
  array xs;
  const float* x = cpu::row_major<float>(a, float32, xs);
  const auto* w = static_cast<const char*>(b.raw_ptr());
  const size_t row_bytes = static_cast<size_t>(k) * t.size();
  std::vector<float> staged(t == float32 ? 0 : rows * n);
  float* y = t == float32 ? out.data<float>() : staged.data();
  parallel_for(n, 2 * k * rows, [&](size_t j0, size_t j1) {
    LMX_CPU_KERNEL(matvec_rows, w + j0 * row_bytes, t, k, j1 - j0, x, k, static_cast<int>(rows), k, y + j0, n);
  });
  if (t != float32) cpu::convert_contiguous(staged.data(), float32, out.raw_ptr(), t, staged.size());
  return true;
}

}  // namespace

void MatmulGroup::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  Matmul product(stream());
  for (size_t i = 0; i < outputs.size(); ++i) product.eval_cpu({inputs[0], inputs[i + 1]}, outputs[i]);
}

void Matmul::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array b = matmul_rhs(a, inputs[1]);
  cpu::allocate(out);
  int m = a.shape(-2), k = a.shape(-1), n = b.shape(-1);
  if (out.size() == 0) return;
  if (k == 0) {
    std::memset(out.raw_ptr(), 0, out.nbytes());
    return;
  }
  Dtype t = out.dtype();
  switch (t.val()) {
    case Dtype::Val::float32:
      if (!matvec(a, b, out)) blas_matmul<float>(a, b, out.data<float>(), m, n, k);
      return;
    case Dtype::Val::float64: blas_matmul<double>(a, b, out.data<double>(), m, n, k); return;
    case Dtype::Val::complex64: blas_matmul<complex64_t>(a, b, out.data<complex64_t>(), m, n, k); return;
    case Dtype::Val::float16:
    case Dtype::Val::bfloat16: {
      if (matvec(a, b, out)) return;
      // Widen to float32, multiply there, round once into the output.
      array wide(out.shape(), float32, std::shared_ptr<Data>{});
      cpu::allocate(wide);
      blas_matmul<float>(a, b, wide.data<float>(), m, n, k);
      cpu::convert_contiguous(wide.raw_ptr(), float32, out.raw_ptr(), t, out.size());
      return;
    }
    default:
      dispatch_integral(t, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (!std::is_same_v<T, bool>) integer_matmul<T>(a, b, out.data<T>(), m, n, k);
      });
  }
}

}  // namespace lmx
