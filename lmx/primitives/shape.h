// Primitives that move or reinterpret data: views (which share the input's
// buffer) and the copies that assemble arrays from parts.
#pragma once

#include <optional>

#include "lmx/primitives/primitive.h"

namespace lmx {

// A parameterless primitive; the optional last argument adds declarations
// (LMX_DECLARE_OUTPUT_SHAPES for those shapeless compile can replay).
#define LMX_SIMPLE_PRIMITIVE(Class, pyname, ...)                                      \
  class Class : public UnaryPrimitive {                                               \
   public:                                                                            \
    using UnaryPrimitive::UnaryPrimitive;                                             \
    LMX_DECLARE_EVAL                                                                  \
    LMX_DECLARE_VJP                                                                   \
    LMX_DECLARE_VMAP                                                                  \
    __VA_ARGS__                                                                       \
    std::string name() const override { return pyname; }                             \
    bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Class*>(&o); } \
  };

// Reinterprets the bytes as the output dtype (element size may change the last dim).
LMX_SIMPLE_PRIMITIVE(View, "view")
// View with stride 0 along broadcast dimensions (output shape is the node's).
// Inputs after the first are only there for shapeless compile: the operands
// the first is broadcast against, so the shape can be recomputed from them.
LMX_SIMPLE_PRIMITIVE(Broadcast, "broadcast_to", LMX_DECLARE_OUTPUT_SHAPES)
// Identity that stops gradients; shares the input's buffer.
LMX_SIMPLE_PRIMITIVE(StopGradient, "stop_gradient", LMX_DECLARE_OUTPUT_SHAPES)
#undef LMX_SIMPLE_PRIMITIVE

// A view when the layout allows it, else a row-contiguous copy. Built by a
// shapeless compile trace, it keeps the requested shape (with its -1) so the
// output shape follows the input's at replay.
class Reshape : public UnaryPrimitive {
 public:
  explicit Reshape(Stream s, std::optional<Shape> requested = {})
      : UnaryPrimitive(s), requested_(std::move(requested)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return "reshape"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* r = dynamic_cast<const Reshape*>(&o);
    return r && r->requested_ == requested_;
  }
  const std::optional<Shape>& requested() const { return requested_; }

 private:
  std::optional<Shape> requested_;  // none: the node's shape is fixed
};

// Drops size-1 axes (a view). Made by squeeze in a shapeless compile trace,
// where the output shape must follow the input's at replay, which a
// reshape's fixed target would not (a reduction without keepdims).
class Squeeze : public UnaryPrimitive {
 public:
  Squeeze(Stream s, std::vector<int> axes) : UnaryPrimitive(s), axes_(std::move(axes)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return "squeeze"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* q = dynamic_cast<const Squeeze*>(&o);
    return q && q->axes_ == axes_;
  }
  const std::vector<int>& axes() const { return axes_; }

 private:
  std::vector<int> axes_;  // sorted, non-negative
};

// Row-contiguous copy unless already row-contiguous (or column-contiguous,
// when the caller accepts that layout).
class Contiguous : public UnaryPrimitive {
 public:
  Contiguous(Stream s, bool allow_col_major) : UnaryPrimitive(s), allow_col_major_(allow_col_major) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override { return "contiguous"; }
  bool allow_col_major() const { return allow_col_major_; }
  bool is_equivalent(const Primitive& o) const override {
    auto* c = dynamic_cast<const Contiguous*>(&o);
    return c && c->allow_col_major_ == allow_col_major_;
  }

 private:
  bool allow_col_major_;
};

class Transpose : public UnaryPrimitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : UnaryPrimitive(s), axes_(std::move(axes)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override { return "transpose"; }
  const std::vector<int>& axes() const { return axes_; }
  bool is_equivalent(const Primitive& o) const override {
    auto* t = dynamic_cast<const Transpose*>(&o);
    return t && t->axes_ == axes_;
  }

 private:
  std::vector<int> axes_;
};

// Strided window: out[i] = in[start + i * step] per axis (steps may be negative).
class Slice : public UnaryPrimitive {
 public:
  Slice(Stream s, Shape start, Shape strides) : UnaryPrimitive(s), start_(std::move(start)), strides_(std::move(strides)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override { return "slice"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* q = dynamic_cast<const Slice*>(&o);
    return q && q->start_ == start_ && q->strides_ == strides_;
  }

  const Shape& start() const { return start_; }
  const Shape& strides() const { return strides_; }

 private:
  Shape start_, strides_;
};

// inputs: (src, update) -> src with the window replaced by update (already
// broadcast to the window's shape and cast to src's dtype).
class SliceUpdate : public UnaryPrimitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape strides) : UnaryPrimitive(s), start_(std::move(start)), strides_(std::move(strides)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "slice_update"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* q = dynamic_cast<const SliceUpdate*>(&o);
    return q && q->start_ == start_ && q->strides_ == strides_;
  }
  const Shape& start() const { return start_; }
  const Shape& strides() const { return strides_; }

 private:
  Shape start_, strides_;
};

class AsStrided : public UnaryPrimitive {
 public:
  AsStrided(Stream s, Strides strides, int64_t offset) : UnaryPrimitive(s), strides_(std::move(strides)), offset_(offset) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "as_strided"; }

 private:
  Strides strides_;
  int64_t offset_;
};

class Concatenate : public UnaryPrimitive {
 public:
  Concatenate(Stream s, int axis) : UnaryPrimitive(s), axis_(axis) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  std::string name() const override { return "concatenate"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* c = dynamic_cast<const Concatenate*>(&o);
    return c && c->axis_ == axis_;
  }

  int axis() const { return axis_; }

 private:
  int axis_;
};

// inputs: (src, fill value 0-d) -> src placed at offset `low` in a tensor of
// the output's shape filled with the value.
class Pad : public UnaryPrimitive {
 public:
  Pad(Stream s, Shape low) : UnaryPrimitive(s), low_(std::move(low)) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "pad"; }
  const Shape& low() const { return low_; }

 private:
  Shape low_;
};

// start, start + step, ... filling the output (no inputs).
class Arange : public UnaryPrimitive {
 public:
  Arange(Stream s, double start, double step) : UnaryPrimitive(s), start_(start), step_(step) {}
  LMX_DECLARE_EVAL
  std::string name() const override { return "arange"; }
  // The shape and dtype (which CSE also compares) give the stop.
  bool is_equivalent(const Primitive& o) const override {
    auto* r = dynamic_cast<const Arange*>(&o);
    return r && r->start_ == start_ && r->step_ == step_;
  }
  double start() const { return start_; }
  double step() const { return step_; }

 private:
  double start_, step_;
};

}  // namespace lmx
