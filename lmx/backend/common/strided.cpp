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

}  // namespace lmx
