// Indexing with integer arrays. Both primitives take k index arrays of one
// common (already broadcast) shape I, each addressing one source axis.
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

// inputs: (src, idx_0, ..., idx_{k-1}) -> shape I + the source's other axes
// (in order): out[p, r] = src[idx_0[p] on axes[0], ..., r on the rest].
// Negative indices count from the end; others out of range raise IndexError.
class Gather : public UnaryPrimitive {
 public:
  Gather(Stream s, std::vector<int> axes) : UnaryPrimitive(s), axes_(std::move(axes)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "gather"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* g = dynamic_cast<const Gather*>(&o);
    return g && g->axes_ == axes_;
  }
  const std::vector<int>& axes() const { return axes_; }

 private:
  std::vector<int> axes_;
};

enum class ScatterMode { Replace, Add, Prod, Max, Min };

// inputs: (src, updates, idx_0, ..., idx_{k-1}) -> src with the blocks that
// Gather would read combined with `updates` (shape I + the other axes, cast
// to src's dtype). Repeated indices apply in order: the last write wins for
// Replace, the others accumulate.
class Scatter : public UnaryPrimitive {
 public:
  Scatter(Stream s, std::vector<int> axes, ScatterMode mode)
      : UnaryPrimitive(s), axes_(std::move(axes)), mode_(mode) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override;
  const std::vector<int>& axes() const { return axes_; }
  ScatterMode mode() const { return mode_; }
  bool is_equivalent(const Primitive& o) const override {
    auto* q = dynamic_cast<const Scatter*>(&o);
    return q && q->axes_ == axes_ && q->mode_ == mode_;
  }

 private:
  std::vector<int> axes_;
  ScatterMode mode_;
};

}  // namespace lmx
