// Counter-based random bits: Threefry-2x32 (20 rounds) keyed by a (2,)
// uint32 key, laid out as MLX (and JAX) lay them out, so the same key gives
// the same numbers on every machine and thread count.
#pragma once

#include <cstdint>
#include <utility>

#include "lmx/primitives/primitive.h"

namespace lmx {

// input: key (2,) uint32 -> uint32 words filling the output shape.
class RandomBits : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "random_bits"; }
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const RandomBits*>(&o); }
};

}  // namespace lmx
