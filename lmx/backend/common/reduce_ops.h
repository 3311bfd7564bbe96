// The reduction operators (init value and combine step) shared by the CPU and
// CUDA kernels. 16-bit floats accumulate in float32.
#pragma once

#include <cmath>
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

}  // namespace LMX_ISA_NS
}  // namespace lmx
