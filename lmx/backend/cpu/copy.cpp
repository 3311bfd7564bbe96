#include "lmx/backend/cpu/copy.h"

#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/kernels.h"

namespace lmx::cpu {

void allocate(array& out) {
  out.set_data(std::make_shared<Data>(cpu_allocator().malloc(out.nbytes())));
}

void convert_contiguous(const void* src, Dtype st, void* dst, Dtype dt, size_t n) {
  LMX_CPU_KERNEL(convert_contiguous, src, st, dst, dt, n);
}

void copy_to_strided(const array& src, void* dst, Dtype dt, const Strides& dst_strides) {
  LMX_CPU_KERNEL(copy_to_strided, src, dst, dt, dst_strides);
}

void copy_to_new(const array& src, array& out) {
  if (src.dtype() == out.dtype() && src.is_donatable() && src.size() == out.size()) {
    out.copy_shared_buffer(src, row_major_strides(out.shape()), Flags{}, out.size());
    return;
  }
  allocate(out);
  copy_to_strided(src, out.raw_ptr(), out.dtype(), row_major_strides(src.shape()));
}

}  // namespace lmx::cpu
