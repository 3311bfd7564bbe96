// The reduction operators (init value and combine step) shared by the CPU and
// CUDA kernels. 16-bit floats accumulate in float32.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/common/isa_namespace.h"

namespace lmx {

inline namespace LMX_ISA_NS {

template <typename T>
using acc_t = compute_t<T>;

template <typename Acc>
struct SumOp {
  LMX_HD static Acc init() { return Acc(0); }
  LMX_HD Acc operator()(Acc a, Acc x) const { return a + x; }
};
template <typename Acc>
struct ProdOp {
  LMX_HD static Acc init() { return Acc(1); }
  LMX_HD Acc operator()(Acc a, Acc x) const {
    if constexpr (std::is_same_v<Acc, bool>) return a && x;
    else return a * x;
  }
};
template <typename Acc>
struct MaxOp {
  LMX_HD static Acc init() {
    if constexpr (is_complex_v<Acc>) return Acc(-INFINITY, -INFINITY);
    else if constexpr (std::is_floating_point_v<Acc>) return -std::numeric_limits<Acc>::infinity();
    else return std::numeric_limits<Acc>::lowest();
  }
  LMX_HD Acc operator()(Acc a, Acc x) const {
    // Branch-free so row reductions vectorise; a NaN, once in, stays in.
    if constexpr (std::is_floating_point_v<Acc>) return (x > a || x != x) ? x : a;
    else return scalar::Maximum{}(a, x);
  }
};
template <typename Acc>
struct MinOp {
  LMX_HD static Acc init() {
    if constexpr (is_complex_v<Acc>) return Acc(INFINITY, INFINITY);
    else if constexpr (std::is_floating_point_v<Acc>) return std::numeric_limits<Acc>::infinity();
    else return std::numeric_limits<Acc>::max();
  }
  LMX_HD Acc operator()(Acc a, Acc x) const {
    if constexpr (std::is_floating_point_v<Acc>) return (x < a || x != x) ? x : a;
    else return scalar::Minimum{}(a, x);
  }
};
struct AndOp {
  LMX_HD static bool init() { return true; }
  LMX_HD bool operator()(bool a, bool x) const { return a && x; }
};
struct OrOp {
  LMX_HD static bool init() { return false; }
  LMX_HD bool operator()(bool a, bool x) const { return a || x; }
};

// Folds value(0), ..., value(n - 1) into acc (host code). Lanes independent
// partial accumulators break the dependency chain, so the loop vectorises
// without reassociating one chain (no -ffast-math) and the adds overlap
// their latency.
template <int Lanes, typename Op, typename Acc, typename Value>
inline Acc fold_in_lanes(Op op, int64_t n, Acc acc, Value value) {
  Acc part[Lanes];
  for (auto& p : part) p = Op::init();
  int64_t i = 0;
  for (; i + Lanes <= n; i += Lanes)
    for (int k = 0; k < Lanes; ++k) part[k] = op(part[k], value(i + k));
  for (; i < n; ++i) acc = op(acc, value(i));
  for (auto& p : part) acc = op(acc, p);
  return acc;
}

}  // namespace LMX_ISA_NS
}  // namespace lmx
