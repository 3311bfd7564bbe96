// Differentiation rules of the quantisation primitives. The packed integer
// weights get no gradient; x, the scales and the biases do.
#include "lmx/primitives/quantized.h"

#include <stdexcept>

#include "lmx/backend/common/quantize_math.h"  // nvfp4's global-scale constant
#include "lmx/ops/ops.h"
#include "lmx/ops/quantized.h"
#include "lmx/primitives/grouped.h"

namespace lmx {

namespace {

// Sums the last axis of d (..., V) over groups of `group`: (..., V / group).
array group_sum(const array& d, int group) {
  Shape split = d.shape();
  split.back() /= group;
  split.push_back(group);
  return sum(reshape(d, split), {-1});
}

// The quantised integers of w as float32 (scale 1, bias 0).
array integers(const array& w, const array& scales, int group, int bits) {
  return dequantize(w, ones_like(scales, float32), zeros_like(scales, float32), group, bits, "affine", {}, float32);
}

}  // namespace

std::vector<array> AffineDequantize::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>&) {
  array d = astype(cotangents[0], float32);
  std::vector<array> out;
  for (int a : argnums) {
    if (a == 0) out.emplace_back();  // packed integers: no gradient
    else if (a == 1)
      out.push_back(astype(group_sum(multiply(d, integers(primals[0], primals[1], group_size_, bits_)), group_size_),
                           primals[1].dtype()));
    else out.push_back(astype(group_sum(d, group_size_), primals[2].dtype()));
  }
  return out;
}

std::vector<array> QuantizedMatmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                        const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &w = primals[1], &scales = primals[2], &biases = primals[3];
  const array& d = cotangents[0];
  std::vector<array> out;
  std::optional<std::vector<array>> sb;
  for (int a : argnums) {
    if (a == 0) {
      out.push_back(astype(quantized_matmul(d, w, scales, biases, !transpose_, group_size_, bits_), x.dtype()));
    } else if (a == 1) {
      out.emplace_back();
    } else {
      if (!sb) {
        // The gradient of the dense matrix w stands for, in w's own layout:
        // (N, K) = d^T x when transposed, else (K, N) = x^T d.
        array xf = astype(x, float32), df = astype(d, float32);
        if (w.ndim() == 2 && x.ndim() > 2) {  // a w shared by x's batch: sum over it
          xf = reshape(xf, {-1, xf.shape(-1)});
          df = reshape(df, {-1, df.shape(-1)});
        }
        array dense = transpose_ ? matmul(swapaxes(df, -1, -2), xf) : matmul(swapaxes(xf, -1, -2), df);
        array q = integers(w, scales, group_size_, bits_);
        sb = std::vector<array>{astype(group_sum(multiply(dense, q), group_size_), scales.dtype()),
                                astype(group_sum(dense, group_size_), biases.dtype())};
      }
      out.push_back((*sb)[a - 2]);
    }
  }
  return out;
}

// Each output is a QuantizedMatmul of (x, w_i, scales_i, biases_i): their rules.
std::vector<array> QuantizedMatmulGroup::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                             const std::vector<int>& argnums, const std::vector<array>&) {
  QuantizedMatmul product = member();
  return grouped_vjp(primals, cotangents, argnums, 3, [&](const auto& operands, const array& d, const auto& nums) {
    return product.vjp(operands, {d}, nums, {});
  });
}

std::vector<array> FpDequantize::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                     const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int a : argnums) {
    if (a < 2) {
      out.emplace_back();  // packed codes and integer scales: no gradient
      continue;
    }
    // The values are code * scale * g / 2688: linear in the global scale g.
    array plain = dequantize(primals[0], primals[1], std::nullopt, group_size(), bits(), to_string(mode()), {},
                             float32);
    array d = sum(multiply(astype(cotangents[0], float32), plain), all_axes(plain.ndim()));
    out.push_back(divide(d, array(quant::kNvfp4GlobalRange)));
  }
  return out;
}

std::vector<array> FpRoundTrip::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  // Straight through the rounding: the output stands for x itself, so the
  // global scale (typically a function of x, its largest magnitude) gets
  // no gradient.
  std::vector<array> out;
  for (int a : argnums)
    out.push_back(a == 0 ? astype(cotangents[0], primals[0].dtype()) : zeros_like(primals[a]));
  return out;
}

}  // namespace lmx
