// Gather and Scatter on the CPU: resolve each index position to a source
// offset, then move the block of the remaining axes.
#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/primitives/index.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// Element offsets into `src` of every index position (row-major over the
// indices' common shape), with bounds checked and negatives wrapped.
std::vector<int64_t> index_offsets(const array& src, const std::vector<int>& axes, const std::vector<array>& idx,
                                   const char* op) {
  size_t n = idx.empty() ? 1 : idx[0].size();
  std::vector<int64_t> offsets(n, 0);
  for (size_t j = 0; j < idx.size(); ++j) {
    const array& ix = idx[j];
    int ax = axes[j];
    int64_t dim = src.shape(ax), stride = src.strides()[ax];
    dispatch_integral(ix.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = ix.data<T>();
      size_t pos = 0;
      Shape shape = ix.shape();
      std::vector<Strides> strides = {ix.strides()};
      collapse_dims(shape, strides);  // keeps row-major order; never 0-d
      for_each_row<1>(shape, strides, [&](const int64_t* off, int64_t len) {
        for (int64_t i = 0; i < len; ++i, ++pos) {
          int64_t v = static_cast<int64_t>(p[off[0] + i * strides[0].back()]);
          if constexpr (std::is_unsigned_v<T>) {
            if (static_cast<uint64_t>(p[off[0] + i * strides[0].back()]) > static_cast<uint64_t>(INT64_MAX)) v = INT64_MAX;
          }
          if (v < -dim || v >= dim)
            throw std::out_of_range(std::string("[") + op + "] Index " + std::to_string(v) +
                                    " is out of bounds for axis " + std::to_string(ax) + " with size " +
                                    std::to_string(dim) + ".");
          if (v < 0) v += dim;
          offsets[pos] += v * stride;
        }
      });
    });
  }
  return offsets;
}

// The source axes not addressed by indices, as a (shape, strides) block.
void rest_block(const array& src, const std::vector<int>& axes, Shape& shape, Strides& strides) {
  std::vector<bool> used(src.ndim(), false);
  for (int a : axes) used[a] = true;
  for (int d = 0; d < src.ndim(); ++d)
    if (!used[d]) shape.push_back(src.shape(d)), strides.push_back(src.strides()[d]);
}

}  // namespace

namespace {

// Copies the block at each offset into consecutive row-major blocks of dst.
// Gather only moves bytes, so T is an unsigned type of the element's size.
template <typename T>
void gather_blocks(const T* src, T* dst, const std::vector<int64_t>& offsets, Shape shape, Strides strides) {
  size_t block = shape_size(shape);
  if (block == 1) {  // one element per index position: a plain gather loop
    parallel_for(offsets.size(), 1, [&](size_t b, size_t e) {
      for (size_t p = b; p < e; ++p) dst[p] = src[offsets[p]];
    });
    return;
  }
  std::vector<Strides> st = {std::move(strides)};
  collapse_dims(shape, st);
  parallel_for(offsets.size(), block, [&](size_t b, size_t e) {
    for (size_t p = b; p < e; ++p) {
      T* d = dst + p * block;
      const T* s = src + offsets[p];
      for_each_row<1>(shape, st, [&](const int64_t* off, int64_t len) {
        int64_t inner = st[0].back();
        if (inner == 1) std::memcpy(d, s + off[0], len * sizeof(T));
        else
          for (int64_t i = 0; i < len; ++i) d[i] = s[off[0] + i * inner];
        d += len;
      });
    }
  });
}

}  // namespace

namespace {

// take() of single elements along one axis with one contiguous index array:
// bounds check, wrap and copy in one parallel pass, without materialising
// the offsets. False when the gather has another form.
bool gather_elements(const array& src, int axis, const array& ix, array& out) {
  if (src.ndim() != 1 || !ix.flags().row_contiguous || ix.data_size() != ix.size()) return false;
  const int64_t dim = src.shape(0), stride = src.strides()[0];
  std::atomic<bool> bad{false};
  std::atomic<int64_t> bad_value{0};
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const T* s = static_cast<const T*>(src.raw_ptr());
    T* d = static_cast<T*>(out.raw_ptr());
    dispatch_integral(ix.dtype(), [&](auto tag) {
      using I = typename decltype(tag)::type;
      const I* p = ix.data<I>();
      parallel_for(ix.size(), 2, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) {
          int64_t v = static_cast<int64_t>(p[i]);
          if constexpr (std::is_unsigned_v<I>)
            if (static_cast<uint64_t>(p[i]) > static_cast<uint64_t>(INT64_MAX)) v = INT64_MAX;
          if (v < -dim || v >= dim) [[unlikely]] {
            if (!bad.exchange(true)) bad_value = v;
            d[i] = T{};
            continue;
          }
          d[i] = s[(v < 0 ? v + dim : v) * stride];
        }
      });
    });
  };
  switch (src.itemsize()) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
  if (bad)
    throw std::out_of_range("[gather] Index " + std::to_string(bad_value.load()) + " is out of bounds for axis " +
                            std::to_string(axis) + " with size " + std::to_string(dim) + ".");
  return true;
}

}  // namespace

void Gather::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& src = inputs[0];
  std::vector<array> idx(inputs.begin() + 1, inputs.end());
  cpu::allocate(out);
  if (out.size() == 0) return;
  if (idx.size() == 1 && gather_elements(src, axes_[0], idx[0], out)) return;
  auto offsets = index_offsets(src, axes_, idx, "gather");
  Shape rshape;
  Strides rstrides;
  rest_block(src, axes_, rshape, rstrides);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    gather_blocks(static_cast<const T*>(src.raw_ptr()), static_cast<T*>(out.raw_ptr()), offsets, rshape, rstrides);
  };
  switch (src.itemsize()) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
}

void Scatter::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& src = inputs[0];
  const array& upd = inputs[1];
  std::vector<array> idx(inputs.begin() + 2, inputs.end());
  cpu::copy_to_new(src, out);
  if (upd.size() == 0) return;
  auto offsets = index_offsets(out, axes_, idx, name().c_str());
  Shape rshape;
  Strides rstrides;
  rest_block(out, axes_, rshape, rstrides);
  size_t block = shape_size(rshape);
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = out.data<T>();
    // Updates as row-major blocks, one per index position.
    // Not std::vector: vector<bool> has no contiguous storage.
    std::unique_ptr<T[]> u(new T[upd.size()]);
    cpu::copy_to_strided(upd, u.get(), out.dtype(), row_major_strides(upd.shape()));
    std::vector<Strides> strides = {rstrides};
    Shape shape = rshape;
    collapse_dims(shape, strides);
    for (size_t p = 0; p < offsets.size(); ++p) {
      const T* up = u.get() + p * block;
      size_t k = 0;
      for_each_row<1>(shape, strides, [&](const int64_t* off, int64_t len) {
        T* d = dst + offsets[p] + off[0];
        int64_t st = strides[0].back();
        for (int64_t i = 0; i < len; ++i, ++k) {
          T& x = d[i * st];
          T v = up[k];
          switch (mode_) {
            case ScatterMode::Replace: x = v; break;
            case ScatterMode::Add: x = cast_value<T>(scalar::Add{}(x, v)); break;
            case ScatterMode::Prod: x = cast_value<T>(scalar::Multiply{}(x, v)); break;
            case ScatterMode::Max: x = cast_value<T>(scalar::Maximum{}(x, v)); break;
            case ScatterMode::Min: x = cast_value<T>(scalar::Minimum{}(x, v)); break;
          }
        }
      });
    }
  });
}

}  // namespace lmx
