#include "lmx/backend/common/strided.h"

namespace lmx {

void collapse_dims(Shape& shape, std::vector<Strides>& strides) {
  Shape out_shape;
  std::vector<Strides> out_strides(strides.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out_shape.empty();
    for (size_t k = 0; merge && k < strides.size(); ++k)
      merge = out_strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      out_shape.back() *= shape[d];
      for (size_t k = 0; k < strides.size(); ++k) out_strides[k].back() = strides[k][d];
    } else {
      out_shape.push_back(shape[d]);
      for (size_t k = 0; k < strides.size(); ++k) out_strides[k].push_back(strides[k][d]);
    }
  }
  if (out_shape.empty()) {
    out_shape.push_back(shape_size(shape) == 0 ? 0 : 1);
    for (auto& s : out_strides) s.push_back(1);
  }
  // A zero-size dimension anywhere empties the whole range.
  for (auto d : shape)
    if (d == 0) {
      out_shape = {0};
      for (auto& s : out_strides) s = {1};
      break;
    }
  shape = std::move(out_shape);
  strides = std::move(out_strides);
}

bool uniform_batch_stride(const array& x, int64_t& stride) {
  Shape shape(x.shape().begin(), x.shape().end() - 2);
  std::vector<Strides> strides = {Strides(x.strides().begin(), x.strides().end() - 2)};
  collapse_dims(shape, strides);
  int64_t batch = 1;
  for (auto d : shape) batch *= d;
  if (batch <= 1) return stride = 0, true;
  if (shape.size() != 1) return false;
  stride = strides[0][0];
  return true;
}

bool is_shared_transposed_weight(const array& b) {
  const int nd = b.ndim();
  if (nd < 2) return false;
  for (int i = 0; i < nd - 2; ++i)
    if (b.shape(i) != 1 && b.strides()[i] != 0) return false;
  return b.strides()[nd - 2] == 1 && (b.shape(-1) <= 1 || b.strides()[nd - 1] == b.shape(-2));
}

}  // namespace lmx
