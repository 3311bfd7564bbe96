// CPU evaluation of view, copy and assembly primitives.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/kernels.h"
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

void Squeeze::eval_cpu(const std::vector<array>& inputs, array& out) {
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
  LMX_CPU_KERNEL(select, inputs[0], inputs[1], inputs[2], out);
}

}  // namespace lmx
