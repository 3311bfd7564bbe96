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

// Products of one a (..., M, K) with several shared matrices b_i (K, N_i):
// output i is matmul(a, b_i). Only compile makes it, from sibling matmuls
// reading the same a (an attention layer's q, k and v projections, an MLP's
// gate and up): a backend can then stream every weight in one pass (the GPU's
// decode gemv: one launch instead of several, each small one too short to
// reach full bandwidth).
class MatmulGroup : public Primitive {
 public:
  using Primitive::Primitive;
  static constexpr int kMaxMatrices = 4;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override { return "matmul_group"; }
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const MatmulGroup*>(&o); }
};

}  // namespace lmx
