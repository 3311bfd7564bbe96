// Convolution on the CPU: im2col one block of output pixels at a time (the
// block's patch matrix stays in cache) and a product per block. The input
// gradient folds each block's patch gradients back into the image; the
// weight gradient sums patch matrix^T x output gradient over the blocks.
// Products with at most kNarrowChannels output channels run in the per-ISA
// narrow gemm kernels, wider ones in OpenBLAS.
#include <algorithm>
#include <cstring>
#include <vector>

#include "lmx/backend/cpu/blas.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/narrow_gemm.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/primitives/conv.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// Output channels up to which the narrow kernels beat OpenBLAS (a CNN's
// 16- and 32-channel layers ran at half of torch's speed through sgemm).
constexpr int64_t kNarrowChannels = 64;
using cpu::narrow_gemm_padded;

// One convolution's sizes. Spatial dims are right-aligned in three (unused
// leading ones are size 1), so that the last is always the contiguous one.
struct Geometry {
  int64_t n = 0, cin = 0, cout = 0;
  int64_t in[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dilation[3] = {1, 1, 1};
  int64_t kernel_size = 1, patch = 0, out_pixels = 1, in_pixels = 1;
};

Geometry geometry(const Shape& x, const Shape& w, const Shape& y, const ConvParams& p) {
  Geometry g;
  const size_t nd = p.stride.size(), off = 3 - nd;
  g.n = x[0], g.cin = x.back(), g.cout = w[0];
  for (size_t i = 0; i < nd; ++i) {
    g.in[off + i] = x[i + 1], g.kernel[off + i] = w[i + 1], g.out[off + i] = y[i + 1];
    g.stride[off + i] = p.stride[i], g.pad[off + i] = p.pad_lo[i], g.dilation[off + i] = p.dilation[i];
  }
  for (int i = 0; i < 3; ++i) g.kernel_size *= g.kernel[i], g.out_pixels *= g.out[i], g.in_pixels *= g.in[i];
  g.patch = g.kernel_size * g.cin;
  return g;
}

// Calls run(row, patch offset, input offset or -1 for padding, length) for
// the stretches of output pixel rows [r0, r0 + rows)' patches: a kernel row
// whose taps all fall inside the input is one stretch (its input pixels are
// adjacent in channels-last memory), other taps one each.
template <typename Fn>
void for_each_stretch(const Geometry& g, int64_t r0, int64_t rows, Fn run) {
  int64_t rem = r0;
  int64_t o[3];
  o[2] = rem % g.out[2], rem /= g.out[2];
  o[1] = rem % g.out[1], rem /= g.out[1];
  o[0] = rem % g.out[0];
  int64_t b = rem / g.out[0];
  const int64_t row_len = g.kernel[2] * g.cin;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base2 = o[2] * g.stride[2] - g.pad[2];
    const bool whole_row = g.dilation[2] == 1 && base2 >= 0 && base2 + g.kernel[2] <= g.in[2];
    int64_t at = 0;  // position in the patch
    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      const int64_t i0 = o[0] * g.stride[0] - g.pad[0] + k0 * g.dilation[0];
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1, at += row_len) {
        const int64_t i1 = o[1] * g.stride[1] - g.pad[1] + k1 * g.dilation[1];
        if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1]) {
          run(r, at, int64_t{-1}, row_len);
          continue;
        }
        const int64_t line = ((b * g.in[0] + i0) * g.in[1] + i1) * g.in[2];
        if (whole_row) {
          run(r, at, (line + base2) * g.cin, row_len);
          continue;
        }
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
          const int64_t i2 = base2 + k2 * g.dilation[2];
          run(r, at + k2 * g.cin, i2 >= 0 && i2 < g.in[2] ? (line + i2) * g.cin : int64_t{-1}, g.cin);
        }
      }
    }
    if (++o[2] == g.out[2]) {
      o[2] = 0;
      if (++o[1] == g.out[1]) {
        o[1] = 0;
        if (++o[0] == g.out[0]) o[0] = 0, ++b;
      }
    }
  }
}

// Calls run(row, patch offset, first, end, input offset, step) for each
// kernel offset and each run of output pixels along the last spatial dim
// (a line) within rows [r0, r0 + rows): pixels row .. row + end of the line
// read that tap, those from `first` on at input offset + (j - first) * step
// up to `end` (the others read padding). Used where C_in is too small for a
// copy per tap to pay (a grayscale image's first layer).
template <typename Fn>
void for_each_line_tap(const Geometry& g, int64_t r0, int64_t rows, Fn run) {
  const int64_t end_row = r0 + rows;
  for (int64_t r = r0; r < end_row;) {
    const int64_t o2 = r % g.out[2], line = r / g.out[2];
    const int64_t o1 = line % g.out[1], o0 = line / g.out[1] % g.out[0], b = line / g.out[1] / g.out[0];
    const int64_t count = std::min(g.out[2] - o2, end_row - r);
    int64_t k = 0;
    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      const int64_t i0 = o0 * g.stride[0] - g.pad[0] + k0 * g.dilation[0];
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
        const int64_t i1 = o1 * g.stride[1] - g.pad[1] + k1 * g.dilation[1];
        const bool inside = i0 >= 0 && i0 < g.in[0] && i1 >= 0 && i1 < g.in[1];
        const int64_t base = ((b * g.in[0] + i0) * g.in[1] + i1) * g.in[2];
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2, ++k) {
          // pixel j of the run reads i2 = (o2 + j) * stride - pad + k2 * dilation
          const int64_t start = o2 * g.stride[2] - g.pad[2] + k2 * g.dilation[2];
          int64_t first = 0, end = 0;
          if (inside) {
            first = std::clamp<int64_t>((-start + g.stride[2] - 1) / g.stride[2], 0, count);
            end = std::clamp<int64_t>(start >= g.in[2] ? 0 : (g.in[2] - 1 - start) / g.stride[2] + 1, first, count);
          }
          run(r - r0, k * g.cin, count, first, end, (base + start + first * g.stride[2]) * g.cin,
              g.stride[2] * g.cin);
        }
      }
    }
    r += count;
  }
}

// Where a patch matrix's columns (rather than rows) are contiguous.
bool column_major_patches(const Geometry& g) { return g.cin < 4 && g.cout <= kNarrowChannels; }

// The patch matrix of rows [r0, r0 + rows): row r holds, per kernel offset,
// the C_in values its window reads (zeros over the padding). Row-major, or
// column-major (column stride `rows`) where column_major_patches says: a
// tap's run of pixels is then one contiguous stretch of a column.
void unfold(const float* x, const Geometry& g, int64_t r0, int64_t rows, float* patches) {
  if (column_major_patches(g)) {
    for_each_line_tap(g, r0, rows, [&](int64_t row, int64_t at, int64_t count, int64_t first, int64_t end,
                                       int64_t from, int64_t step) {
      for (int64_t c = 0; c < g.cin; ++c) {
        float* dst = patches + (at + c) * rows + row;
        std::fill(dst, dst + first, 0.0f);
        const float* src = x + from + c;
        if (step == 1) std::memcpy(dst + first, src, static_cast<size_t>(end - first) * sizeof(float));
        else
          for (int64_t j = first; j < end; ++j) dst[j] = src[(j - first) * step];
        std::fill(dst + end, dst + count, 0.0f);
      }
    });
    return;
  }
  for_each_stretch(g, r0, rows, [&](int64_t r, int64_t at, int64_t from, int64_t len) {
    float* dst = patches + r * g.patch + at;
    if (from < 0) std::fill(dst, dst + len, 0.0f);
    else std::memcpy(dst, x + from, static_cast<size_t>(len) * sizeof(float));
  });
}

// The reverse of unfold: adds each patch value into the input value it read.
void fold(const float* patches, const Geometry& g, int64_t r0, int64_t rows, float* dx) {
  if (g.cin < 4) {
    for_each_line_tap(g, r0, rows, [&](int64_t row, int64_t at, int64_t, int64_t first, int64_t end, int64_t from,
                                       int64_t step) {
      const float* src = patches + row * g.patch + at;
      for (int64_t j = first; j < end; ++j)
        for (int64_t c = 0; c < g.cin; ++c) dx[from + (j - first) * step + c] += src[j * g.patch + c];
    });
    return;
  }
  for_each_stretch(g, r0, rows, [&](int64_t r, int64_t at, int64_t from, int64_t len) {
    if (from < 0) return;
    const float* src = patches + r * g.patch + at;
    float* dst = dx + from;
    for (int64_t c = 0; c < len; ++c) dst[c] += src[c];
  });
}

// Output pixels per block of the narrow kernels: a patch block of about
// 128 KiB, so that it is still in L2 when the product reads it.
int64_t block_rows(const Geometry& g) {
  if (g.cout <= kNarrowChannels) return std::clamp<int64_t>(32768 / std::max<int64_t>(g.patch, 1), 16, 1024);
  // sgemm's blocks are bigger: OpenBLAS packs its whole other operand (the
  // weights, patch x C_out) on every call, which for a 16-row block of a
  // 3x3x256 layer cost more than the product. Blocks of about kBytes, their
  // count rounded up to a multiple of the threads.
  constexpr int64_t kBytes = int64_t{2} << 20;
  const int64_t total = g.n * g.out_pixels, threads = kernel_threads();
  int64_t blocks = std::max<int64_t>(1, total * g.patch * 4 / kBytes);
  blocks = (blocks + threads - 1) / threads * threads;
  return std::max<int64_t>(16, (total + blocks - 1) / blocks);
}

// m (rows, cols) row-major, transposed with padded rows: (cols, narrow_gemm_padded(rows)).
std::vector<float> transposed_padded(const float* m, int64_t rows, int64_t cols) {
  const int64_t ld = narrow_gemm_padded(rows);
  std::vector<float> t(cols * ld, 0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t[j * ld + i] = m[i * cols + j];
  return t;
}

void forward(const float* x, const float* w, const Geometry& g, float* y) {
  const int64_t total = g.n * g.out_pixels, block = block_rows(g), blocks = (total + block - 1) / block;
  if (g.patch == 0) return std::fill(y, y + total * g.cout, 0.0f);
  const bool narrow = g.cout <= kNarrowChannels;
  // w (C_out, patch) as the narrow kernel's (patch, C_out) operand
  const std::vector<float> wt = narrow ? transposed_padded(w, g.cout, g.patch) : std::vector<float>();
  parallel_for(blocks, block * g.patch * g.cout, [&](size_t b0, size_t b1) {
    std::vector<float> patches(block * g.patch);
    for (size_t b = b0; b < b1; ++b) {
      const int64_t r0 = static_cast<int64_t>(b) * block, rows = std::min(block, total - r0);
      unfold(x, g, r0, rows, patches.data());
      const bool by_column = column_major_patches(g);
      if (narrow)
        LMX_CPU_KERNEL(narrow_gemm, patches.data(), by_column ? 1 : g.patch, by_column ? rows : 1, rows, g.patch,
                       wt.data(), narrow_gemm_padded(g.cout), g.cout, y + r0 * g.cout, g.cout);
      else
        cpu::gemm_one_thread<float>(false, true, static_cast<int>(rows), static_cast<int>(g.cout),
                                    static_cast<int>(g.patch), 1.0f, patches.data(), static_cast<int>(g.patch), w,
                                    static_cast<int>(g.patch), 0.0f, y + r0 * g.cout, static_cast<int>(g.cout));
    }
  });
}

// Images go to different threads, so that no two fold into the same pixels.
void input_grad(const float* dy, const float* w, const Geometry& g, float* dx) {
  std::fill(dx, dx + g.n * g.in_pixels * g.cin, 0.0f);
  if (g.cout == 0 || g.out_pixels == 0) return;
  const int64_t block = block_rows(g);
  const bool narrow = g.cout <= kNarrowChannels;
  // w (C_out, patch) with its rows padded, the narrow kernel's operand
  const int64_t ldw = narrow_gemm_padded(g.patch);
  std::vector<float> wp;
  if (narrow) {
    wp.assign(g.cout * ldw, 0.0f);
    for (int64_t o = 0; o < g.cout; ++o) std::copy_n(w + o * g.patch, g.patch, wp.data() + o * ldw);
  }
  parallel_for(g.n, g.out_pixels * g.patch * g.cout, [&](size_t i0, size_t i1) {
    std::vector<float> patches(block * g.patch);
    for (size_t img = i0; img < i1; ++img)
      for (int64_t p = 0; p < g.out_pixels; p += block) {
        const int64_t r0 = static_cast<int64_t>(img) * g.out_pixels + p, rows = std::min(block, g.out_pixels - p);
        if (narrow)
          LMX_CPU_KERNEL(narrow_gemm, dy + r0 * g.cout, g.cout, 1, rows, g.cout, wp.data(), ldw, g.patch,
                         patches.data(), g.patch);
        else
          cpu::gemm_one_thread<float>(false, false, static_cast<int>(rows), static_cast<int>(g.patch),
                                      static_cast<int>(g.cout), 1.0f, dy + r0 * g.cout, static_cast<int>(g.cout), w,
                                      static_cast<int>(g.patch), 0.0f, patches.data(), static_cast<int>(g.patch));
        fold(patches.data(), g, r0, rows, dx);
      }
  });
}

// Blocks of output pixels each sum into a matrix of their own
// (parallel_sum adds them in order): (patch, C_out) for the narrow kernel,
// transposed at the end, (C_out, patch) for sgemm.
void weight_grad(const float* x, const float* dy, const Geometry& g, float* dw) {
  const int64_t total = g.n * g.out_pixels, block = block_rows(g), blocks = (total + block - 1) / block;
  const bool narrow = g.cout <= kNarrowChannels;
  const int64_t ldc = narrow_gemm_padded(g.cout);
  const int64_t size = narrow ? g.patch * ldc : g.cout * g.patch;
  auto blocks_sum = [&](size_t b0, size_t b1, float* acc) {
    std::vector<float> patches(block * g.patch);
    for (size_t b = b0; b < b1; ++b) {
      const int64_t r0 = static_cast<int64_t>(b) * block, rows = std::min(block, total - r0);
      unfold(x, g, r0, rows, patches.data());
      const bool by_column = column_major_patches(g);
      if (narrow)
        LMX_CPU_KERNEL(narrow_gemm_tn, patches.data(), by_column ? 1 : g.patch, by_column ? rows : 1,
                       dy + r0 * g.cout, g.cout, rows, g.patch, g.cout, acc, ldc);
      else
        cpu::gemm_one_thread<float>(true, false, static_cast<int>(g.cout), static_cast<int>(g.patch),
                                    static_cast<int>(rows), 1.0f, dy + r0 * g.cout, static_cast<int>(g.cout),
                                    patches.data(), static_cast<int>(g.patch), 1.0f, acc, static_cast<int>(g.patch));
    }
  };
  const std::vector<float> sum = parallel_sum(blocks, block * g.patch * g.cout, size, blocks_sum);
  if (!narrow) return (void)std::copy(sum.begin(), sum.end(), dw);
  for (int64_t o = 0; o < g.cout; ++o)
    for (int64_t q = 0; q < g.patch; ++q) dw[o * g.patch + q] = sum[q * ldc + o];
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  array as, bs;
  const float* a = cpu::row_major<float>(inputs[0], float32, as);
  const float* b = cpu::row_major<float>(inputs[1], float32, bs);
  float* o = out.data<float>();
  switch (kind_) {
    case ConvKind::forward:
      if (out.size() == 0) return;
      if (inputs[0].size() == 0) return std::fill(o, o + out.size(), 0.0f);
      return forward(a, b, geometry(inputs[0].shape(), inputs[1].shape(), out.shape(), params_), o);
    case ConvKind::input_grad:
      return input_grad(a, b, geometry(out.shape(), inputs[1].shape(), inputs[0].shape(), params_), o);
    case ConvKind::weight_grad:
      return weight_grad(a, b, geometry(inputs[0].shape(), out.shape(), inputs[1].shape(), params_), o);
  }
}

}  // namespace lmx
