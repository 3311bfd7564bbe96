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

// Batching: the mapped axis moves to the front and the sorted/scanned axis shifts.
std::pair<std::vector<array>, std::vector<int>> Sort::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  array x = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  return {{array(x.shape(), outputs[0].dtype(), std::make_shared<Sort>(stream(), axis_ + 1, indices_), {x})}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Scan::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  array x = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  return {{array(x.shape(), outputs[0].dtype(),
                 std::make_shared<Scan>(stream(), type_, axis_ + 1, reverse_, inclusive_), {x})},
          {0}};
}

}  // namespace lmx
