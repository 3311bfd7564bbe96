// Matrix products. Inputs arrive with equal (already broadcast) batch dims:
// a (..., M, K), b (..., K, N) -> (..., M, N).
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

class Matmul : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override { return "matmul"; }
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Matmul*>(&o); }
};

}  // namespace lmx
