// Matrix products: a (..., M, K), b (..., K, N) -> (..., M, N), batch dims
// already broadcast to be equal; or b (K, N), one matrix shared by every
// batch entry of a (nn.Linear's weight: no broadcast node per call). A
// backend reads the shared case through matmul_rhs (backend/common/layout.h).
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
