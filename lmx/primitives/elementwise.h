// Elementwise primitives: one class per arity, parameterised by an op code
// from the op tables, so kernels and (later) fusion see one uniform family.
#pragma once

#include "lmx/primitives/elementwise_table.h"
#include "lmx/primitives/primitive.h"

namespace lmx {

#define LMX_ENUM_ENTRY(Name, pyname, types, result) Name,
enum class UnaryOp { LMX_UNARY_OPS(LMX_ENUM_ENTRY) };
enum class BinaryOp { LMX_BINARY_OPS(LMX_ENUM_ENTRY) };
#undef LMX_ENUM_ENTRY

const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);

// The output shape of an elementwise node replayed by a shapeless compiled
// function: that of its operands, which must all still be equal (the trace
// broadcast only the operands whose shapes differed then).
Shape elementwise_output_shape(const std::vector<array>& inputs, const std::string& op);

class Unary : public UnaryPrimitive {
 public:
  Unary(Stream s, UnaryOp op) : UnaryPrimitive(s), op_(op) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return op_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

class Binary : public UnaryPrimitive {
 public:
  Binary(Stream s, BinaryOp op) : UnaryPrimitive(s), op_(op) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return op_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  BinaryOp op() const { return op_; }

 private:
  BinaryOp op_;
};

// where(condition, x, y): inputs are already broadcast and x, y share a dtype.
class Select : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return "where"; }
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const Select*>(&o); }
};

// Conversion to the output's dtype (astype); also a plain copy.
class AsType : public UnaryPrimitive {
 public:
  using UnaryPrimitive::UnaryPrimitive;
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return "astype"; }
  bool is_equivalent(const Primitive& o) const override { return dynamic_cast<const AsType*>(&o); }
};

}  // namespace lmx
