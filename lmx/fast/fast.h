// mx.fast: fused versions of the operations transformer inference spends its
// time in. Each runs as one kernel; its gradient, jvp and vmap come from the
// same computation written with ordinary ops (see primitives.h), so training
// works through them.
#pragma once

#include <optional>
#include <string>

#include "lmx/array.h"
#include "lmx/ops/utils.h"

namespace lmx::fast {

// x / sqrt(mean(x^2, -1) + eps) * weight, statistics in float32.
array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s = {});

// (x - mean) / sqrt(var + eps) * weight + bias over the last axis.
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s = {});

// Rotary position encoding of x (B, ..., T, D): feature pair j of position
// offset + t turns by (offset + t) * scale * inv_freq[j], where inv_freq[j] is
// base^(-2j/dims) or 1 / freqs[j]. `offset` is an integer scalar or one
// offset per batch entry (B,).
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs = {}, StreamOrDevice s = {});

// softmax(q k^T * scale + mask) v for q (B, Hq, Tq, D), k (B, Hk, Tk, D),
// v (B, Hk, Tk, Dv), Hq a multiple of Hk. mask_mode: "" (none), "causal"
// (the last query aligned with the last key) or "array" (`mask`, boolean or
// additive, broadcastable to (B, Hq, Tq, Tk)). `sinks` (Hq,) adds one logit
// per head to each softmax denominator.
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::string& mask_mode = "", const std::optional<array>& mask = {},
                                   const std::optional<array>& sinks = {}, StreamOrDevice s = {});

}  // namespace lmx::fast
