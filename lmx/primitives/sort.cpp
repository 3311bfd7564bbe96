#include "lmx/primitives/sort.h"

#include "lmx/ops/ops.h"

namespace lmx {

std::string Scan::name() const {
  switch (type_) {
    case ScanType::Sum: return "cumsum";
    case ScanType::Prod: return "cumprod";
    case ScanType::Max: return "cummax";
    case ScanType::Min: return "cummin";
    case ScanType::LogAddExp: return "logcumsumexp";
  }
  return "scan";
}

// Sorted values take their cotangent back to the positions they came from.
std::vector<array> Sort::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  if (indices_) return {zeros_like(x)};
  return {put_along_axis(zeros_like(x), argsort(x, axis_), cotangents[0], axis_)};
}

// A running sum's cotangent is the running sum of the cotangent the other
// way; the other scans have no rule yet.
std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>& outputs) {
  if (type_ != ScanType::Sum) return Primitive::vjp(primals, cotangents, argnums, outputs);
  return {cumsum(cotangents[0], axis_, !reverse_, inclusive_)};
}

}  // namespace lmx
