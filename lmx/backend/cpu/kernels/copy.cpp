// Copy and dtype-conversion loops (built per ISA).
#include <cstring>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

template <typename From, typename To>
void convert_run(const From* src, To* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = cast_value<To>(src[i]);
}

template <typename From, typename To>
void copy_strided_typed(const From* src, const Strides& ss, To* dst, const Strides& ds, const Shape& shape) {
  Shape sh = shape;
  std::vector<Strides> strides = {ss, ds};
  collapse_dims(sh, strides);
  size_t rows = outer_rows(sh);
  int64_t inner = sh.back();
  parallel_for(rows, inner, [&](size_t b, size_t e) {
    for_each_row_range<2>(sh, strides, b, e, [&](const int64_t* off, int64_t n) {
      const From* s = src + off[0];
      To* d = dst + off[1];
      int64_t si = strides[0].back(), di = strides[1].back();
      if (si == 1 && di == 1) {
        if constexpr (std::is_same_v<From, To>) std::memcpy(d, s, n * sizeof(To));
        else convert_run(s, d, n);
      } else if (si == 0 && di == 1) {
        To v = cast_value<To>(*s);
        for (int64_t i = 0; i < n; ++i) d[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * di] = cast_value<To>(s[i * si]);
      }
    });
  });
}

}  // namespace

void convert_contiguous(const void* src, Dtype st, void* dst, Dtype dt, size_t n) {
  dispatch_all(st, [&](auto s) {
    using From = typename decltype(s)::type;
    dispatch_all(dt, [&](auto d) {
      using To = typename decltype(d)::type;
      convert_run(static_cast<const From*>(src), static_cast<To*>(dst), n);
    });
  });
}

void copy_to_strided(const array& src, void* dst, Dtype dt, const Strides& dst_strides) {
  if (src.size() == 0) return;
  dispatch_all(src.dtype(), [&](auto s) {
    using From = typename decltype(s)::type;
    dispatch_all(dt, [&](auto d) {
      using To = typename decltype(d)::type;
      copy_strided_typed(src.data<From>(), src.strides(), static_cast<To*>(dst), dst_strides, src.shape());
    });
  });
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
