// Ordering along one axis: sorts and cumulative scans.
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

// Sorted values (or, with `indices`, the uint32 positions that sort them,
// stable for ties) along `axis`. NaNs sort last; complex values order
// lexicographically.
class Sort : public UnaryPrimitive {
 public:
  Sort(Stream s, int axis, bool indices) : UnaryPrimitive(s), axis_(axis), indices_(indices) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override { return indices_ ? "argsort" : "sort"; }
  int axis() const { return axis_; }
  bool indices() const { return indices_; }

 private:
  int axis_;
  bool indices_;
};

enum class ScanType { Sum, Prod, Max, Min, LogAddExp };

// Running reduction along `axis`, optionally from the end (`reverse`) and
// excluding each element itself (`inclusive` false: starts at the identity).
class Scan : public UnaryPrimitive {
 public:
  Scan(Stream s, ScanType type, int axis, bool reverse, bool inclusive)
      : UnaryPrimitive(s), type_(type), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  LMX_DECLARE_VMAP
  LMX_DECLARE_OUTPUT_SHAPES
  std::string name() const override;
  ScanType type() const { return type_; }
  int axis() const { return axis_; }
  bool reverse() const { return reverse_; }
  bool inclusive() const { return inclusive_; }

 private:
  ScanType type_;
  int axis_;
  bool reverse_, inclusive_;
};

}  // namespace lmx
