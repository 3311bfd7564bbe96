#include "lmx/primitives/index.h"

#include <stdexcept>

#include "lmx/ops/ops.h"

namespace lmx {

std::string Scatter::name() const {
  switch (mode_) {
    case ScatterMode::Replace: return "scatter";
    case ScatterMode::Add: return "scatter_add";
    case ScatterMode::Prod: return "scatter_prod";
    case ScatterMode::Max: return "scatter_max";
    case ScatterMode::Min: return "scatter_min";
  }
  return "scatter";
}

// Gathered elements send their cotangent back to where they were read
// (repeated indices add up). Index arrays have no gradient.
std::vector<array> Gather::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> idx(primals.begin() + 1, primals.end());
  std::vector<array> out;
  for (int arg : argnums)
    out.push_back(arg == 0 ? scatter(zeros_like(primals[0]), idx, cotangents[0], axes_, ScatterMode::Add)
                           : zeros_like(primals[arg]));
  return out;
}

std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) {
  if (mode_ == ScatterMode::Prod) return Primitive::vjp(primals, cotangents, argnums, outputs);
  const array& g = cotangents[0];
  std::vector<array> idx(primals.begin() + 2, primals.end());
  std::vector<array> out;
  if (mode_ == ScatterMode::Max || mode_ == ScatterMode::Min) {
    // Every value equal to its position's result takes that position's
    // whole cotangent (ties all do, as in MLX).
    const array& result = outputs[0];
    for (int arg : argnums) {
      const array zero = zeros({}, g.dtype());
      if (arg == 0) {
        out.push_back(where(equal(primals[0], result), g, zero));
      } else if (arg == 1) {
        const array updates = astype(primals[1], result.dtype());
        out.push_back(where(equal(updates, gather(result, idx, axes_)), gather(g, idx, axes_), zero));
      } else {
        out.push_back(zeros_like(primals[arg]));
      }
    }
    return out;
  }
  for (int arg : argnums) {
    if (arg == 0) {
      // Overwritten elements no longer influence the result.
      out.push_back(mode_ == ScatterMode::Add
                        ? g
                        : scatter(g, idx, zeros_like(primals[1]), axes_, ScatterMode::Replace));
    } else if (arg == 1) {
      out.push_back(gather(g, idx, axes_));
    } else {
      out.push_back(zeros_like(primals[arg]));
    }
  }
  return out;
}

}  // namespace lmx
