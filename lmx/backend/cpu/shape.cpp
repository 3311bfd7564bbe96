// CPU evaluation of view, copy and assembly primitives.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/common/layout.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/shape.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// A row-contiguous version of `in` (itself when it already is).
array row_contiguous(const array& in) {
  if (in.flags().row_contiguous) return in;
  array tmp(in.shape(), in.dtype(), std::shared_ptr<Data>{});
  cpu::allocate(tmp);
  cpu::copy_to_strided(in, tmp.raw_ptr(), tmp.dtype(), tmp.strides());
  return tmp;
}

// Fills n elements at ptr (row-contiguous) with the value of a 0-d array.
void fill(void* ptr, Dtype t, const array& value, size_t n) {
  dispatch_all(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    cpu::convert_contiguous(value.raw_ptr(), value.dtype(), &v, t, 1);
    T* p = static_cast<T*>(ptr);
    parallel_for(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) p[i] = v;
    });
  });
}

}  // namespace

void Broadcast::eval_cpu(const std::vector<array>& inputs, array& out) { broadcast_view(inputs[0], out); }

void Reshape::eval_cpu(const std::vector<array>& inputs, array& out) {
  if (!reshape_view(inputs[0], out)) cpu::copy_to_new(inputs[0], out);
}

void StopGradient::eval_cpu(const std::vector<array>& inputs, array& out) {
  out.copy_shared_buffer(inputs[0]);
}

void Contiguous::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  if (in.flags().row_contiguous || (allow_col_major_ && in.flags().col_contiguous)) out.copy_shared_buffer(in);
  else cpu::copy_to_new(in, out);
}

void View::eval_cpu(const std::vector<array>& inputs, array& out) {
  array in = row_contiguous(inputs[0]);
  out.copy_shared_buffer(in, row_major_strides(out.shape()), Flags{}, out.size());
}

void AsType::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::copy_to_new(inputs[0], out);
}

void Transpose::eval_cpu(const std::vector<array>& inputs, array& out) { transpose_view(inputs[0], out, axes_); }

void Slice::eval_cpu(const std::vector<array>& inputs, array& out) {
  slice_view(inputs[0], out, start_, strides_);
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& src = inputs[0];
  const array& upd = inputs[1];
  cpu::copy_to_new(src, out);
  if (upd.size() == 0) return;
  Window w = window(out.strides(), start_, strides_);
  char* base = static_cast<char*>(out.raw_ptr()) + w.offset * static_cast<int64_t>(out.itemsize());
  cpu::copy_to_strided(upd, base, out.dtype(), w.strides);
}

void AsStrided::eval_cpu(const std::vector<array>& inputs, array& out) {
  as_strided_view(row_contiguous(inputs[0]), out, strides_, offset_);
}

void Concatenate::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  int64_t offset = 0;
  const Strides& s = out.strides();
  for (auto& in : inputs) {
    char* base = static_cast<char*>(out.raw_ptr()) + offset * s[axis_] * static_cast<int64_t>(out.itemsize());
    cpu::copy_to_strided(in, base, out.dtype(), s);
    offset += in.shape(axis_);
  }
}

void Pad::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  fill(out.raw_ptr(), out.dtype(), inputs[1], out.size());
  if (inputs[0].size() == 0) return;
  int64_t offset = window(out.strides(), low_).offset;
  char* base = static_cast<char*>(out.raw_ptr()) + offset * static_cast<int64_t>(out.itemsize());
  cpu::copy_to_strided(inputs[0], base, out.dtype(), out.strides());
}

void Arange::eval_cpu(const std::vector<array>&, array& out) {
  cpu::allocate(out);
  dispatch_real(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      // Integer ranges step exactly (doubles lose precision past 2^53).
      auto start = static_cast<int64_t>(start_), step = static_cast<int64_t>(step_);
      for (size_t i = 0; i < out.size(); ++i) p[i] = static_cast<T>(start + static_cast<int64_t>(i) * step);
    } else {
      for (size_t i = 0; i < out.size(); ++i) p[i] = cast_value<T>(start_ + static_cast<double>(i) * step_);
    }
  });
}

void Select::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& cond = inputs[0];
  const array& x = inputs[1];
  const array& y = inputs[2];
  cpu::allocate(out);
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Shape shape = out.shape();
    std::vector<Strides> strides = {cond.strides(), x.strides(), y.strides(), out.strides()};
    collapse_dims(shape, strides);
    const bool* c = cond.data<bool>();
    const T* xp = x.data<T>();
    const T* yp = y.data<T>();
    T* d = out.data<T>();
    const int64_t sc = strides[0].back(), sx = strides[1].back(), sy = strides[2].back();
    // Unit or zero inner strides (dense operands, broadcast values, a mask
    // broadcast over batch and heads) get loops of their own, and every loop
    // picks by indexing with the condition: the compiler branched on it,
    // which mispredicted half the time on a random condition (where over
    // 524k dense floats took 2 ms).
    auto run = [&](auto c_step, auto x_step, auto y_step) {
      auto span = [&](const int64_t* off, int64_t n) {
        // Bytes, compared with 0: a bool viewed from other bytes may hold any value.
        const uint8_t* cr = reinterpret_cast<const uint8_t*>(c + off[0]);
        const T *xr = xp + off[1], *yr = yp + off[2];
        T* dr = d + off[3];
        for (int64_t i = 0; i < n; ++i) {
          const T pick[2] = {yr[i * y_step], xr[i * x_step]};  // indexed by the condition: no branch
          dr[i] = pick[cr[i * c_step] != 0];
        }
      };
      if (shape.size() == 1) {  // one row (all dense): threads split its elements
        parallel_for(shape[0], 1, [&](size_t b, size_t e) {
          const int64_t i = static_cast<int64_t>(b);
          const int64_t off[4] = {i * sc, i * sx, i * sy, i * strides[3].back()};
          span(off, static_cast<int64_t>(e - b));
        });
      } else {
        parallel_for(outer_rows(shape), shape.back(),
                     [&](size_t b, size_t e) { for_each_row_range<4>(shape, strides, b, e, span); });
      }
    };
    using One = std::integral_constant<int64_t, 1>;
    using Zero = std::integral_constant<int64_t, 0>;
    if (sc == 1 && sx == 1 && sy == 1) run(One{}, One{}, One{});
    else if (sc == 1 && sx == 0 && sy == 1) run(One{}, Zero{}, One{});
    else if (sc == 1 && sx == 1 && sy == 0) run(One{}, One{}, Zero{});
    else if (sc == 1 && sx == 0 && sy == 0) run(One{}, Zero{}, Zero{});
    else run(sc, sx, sy);
  });
}

}  // namespace lmx
