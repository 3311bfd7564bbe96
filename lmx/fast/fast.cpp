#include "lmx/fast/fast.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "lmx/fast/primitives.h"
#include "lmx/ops/ops.h"
#include "lmx/transforms/vmap.h"

namespace lmx::fast {

// --- the transforms of every fused primitive come from its fallback -------

namespace {

// The cotangents of inputs `argnums` out of all of them.
std::vector<array> pick(const std::vector<array>& grads, const std::vector<int>& argnums) {
  std::vector<array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}

}  // namespace

std::vector<array> fallback_vjp(const Fallback& fallback, const std::vector<array>& primals,
                                const std::vector<array>& cotangents, const std::vector<int>& argnums) {
  return pick(detail::vjp_bilinear(fallback, primals, cotangents).second, argnums);
}

std::pair<std::vector<array>, std::vector<int>> fallback_vmap(const Fallback& fallback, const std::vector<array>& inputs,
                                                              const std::vector<int>& axes, size_t outputs) {
  return {lmx::vmap(fallback, inputs, axes, std::vector<int>(outputs, 0)), std::vector<int>(outputs, 0)};
}

std::vector<array> Fused::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>& argnums, const std::vector<array>&) {
  return fallback_vjp(fallback_, primals, cotangents, argnums);
}

std::pair<std::vector<array>, std::vector<int>> Fused::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes,
                                                            const std::vector<array>&) {
  return fallback_vmap(fallback_, inputs, axes, 1);
}

std::vector<array> FusedMultiOutput::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>&) {
  return fallback_vjp(fallback_, primals, cotangents, argnums);
}

std::pair<std::vector<array>, std::vector<int>> FusedMultiOutput::vmap(const std::vector<array>& inputs,
                                                                       const std::vector<int>& axes,
                                                                       const std::vector<array>& outputs) {
  return fallback_vmap(fallback_, inputs, axes, outputs.size());
}

namespace {

void check_floating(const array& a, const std::string& op, const char* what) {
  if (!is_floating_point(a.dtype()))
    throw std::invalid_argument("[" + op + "] " + what + " must be floating point, got " + dtype_name(a.dtype()) + ".");
}

void check_feature_vector(const std::optional<array>& a, const array& x, const std::string& op, const char* what) {
  if (a && (a->ndim() != 1 || a->shape(0) != x.shape(-1)))
    throw std::invalid_argument("[" + op + "] " + what + " must have shape (" + std::to_string(x.shape(-1)) +
                                ",) to match the last axis of x, got " + shape_string(a->shape()) + ".");
}

Dtype out_type(const array& x, const std::optional<array>& a, const std::optional<array>& b = {}) {
  Dtype t = x.dtype();
  if (a) t = promote_types(t, a->dtype());
  if (b) t = promote_types(t, b->dtype());
  return t;
}

}  // namespace

// --- rms_norm / layer_norm --------------------------------------------------

namespace {

// Inputs are x and weight, both already in the output dtype.
Fallback rms_norm_fallback(float eps) {
  return [eps](const std::vector<array>& in) {
    array xf = astype(in[0], float32);
    array r = rsqrt(add(mean(square(xf), {-1}, true), array(eps)));
    return std::vector<array>{multiply(astype(multiply(xf, r), in[0].dtype()), in[1])};
  };
}

// Inputs are x, weight and bias, all already in the output dtype.
Fallback layer_norm_fallback(float eps) {
  return [eps](const std::vector<array>& in) {
    array xf = astype(in[0], float32);
    array centred = subtract(xf, mean(xf, {-1}, true));
    array r = rsqrt(add(mean(square(centred), {-1}, true), array(eps)));
    return std::vector<array>{add(multiply(astype(multiply(centred, r), in[0].dtype()), in[1]), in[2])};
  };
}

}  // namespace

std::shared_ptr<Primitive> make_rms_norm(Stream s, float eps) {
  return std::make_shared<RMSNorm>(s, rms_norm_fallback(eps), eps);
}

std::shared_ptr<Primitive> make_add_rms_norm(Stream s, float eps) {
  Fallback fallback = [eps](const std::vector<array>& in) {
    array sum = add(in[0], in[1]);
    return std::vector<array>{rms_norm_fallback(eps)({sum, in[2]})[0], sum};
  };
  return std::make_shared<AddRMSNorm>(s, std::move(fallback), eps);
}

std::shared_ptr<Primitive> make_layer_norm(Stream s, float eps) {
  return std::make_shared<LayerNorm>(s, layer_norm_fallback(eps), eps);
}

std::shared_ptr<Primitive> make_norm_vjp(Stream s, float eps, bool centre) {
  // Inputs x, weight, cotangent; a layer norm's bias only shifts the output,
  // so zeros stand in for it.
  Fallback fallback = [eps, centre](const std::vector<array>& in) {
    if (!centre) return detail::vjp_bilinear(rms_norm_fallback(eps), {in[0], in[1]}, {in[2]}).second;
    return detail::vjp_bilinear(layer_norm_fallback(eps), {in[0], in[1], zeros_like(in[1])}, {in[2]}).second;
  };
  return std::make_shared<NormVJP>(s, fallback, eps, centre);
}

std::vector<array> norm_vjp(const array& x, const array& w, const array& cotangent, float eps, bool centre, Stream s) {
  const std::string op = centre ? "layer_norm_vjp" : "rms_norm_vjp";
  if (x.ndim() == 0 || !is_floating_point(x.dtype()) || w.dtype() != x.dtype() || cotangent.shape() != x.shape())
    throw std::invalid_argument("[" + op + "] Expected a floating point x of at least one dimension, a weight of its "
                                "dtype and a cotangent of its shape.");
  check_feature_vector(w, x, op, "weight");
  std::vector<Shape> shapes{x.shape(), w.shape()};
  if (centre) shapes.push_back(w.shape());
  std::vector<Dtype> dtypes(shapes.size(), x.dtype());
  return array::make_arrays(shapes, dtypes, make_norm_vjp(s, eps, centre), {x, w, astype(cotangent, x.dtype(), s)});
}

std::vector<array> RMSNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  return pick(norm_vjp(primals[0], primals[1], cotangents[0], eps_, false, stream()), argnums);
}

std::vector<array> LayerNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  return pick(norm_vjp(primals[0], primals[1], cotangents[0], eps_, true, stream()), argnums);
}

array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  if (x.ndim() == 0) throw std::invalid_argument("[rms_norm] x must have at least one dimension.");
  check_floating(x, "rms_norm", "x");
  check_feature_vector(weight, x, "rms_norm", "weight");
  Dtype t = out_type(x, weight);
  array w = weight ? astype(*weight, t, s) : ones({x.shape(-1)}, t, s);
  return array(x.shape(), t, make_rms_norm(to_stream(s), eps), {astype(x, t, s), w});
}

array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s) {
  if (x.ndim() == 0) throw std::invalid_argument("[layer_norm] x must have at least one dimension.");
  check_floating(x, "layer_norm", "x");
  check_feature_vector(weight, x, "layer_norm", "weight");
  check_feature_vector(bias, x, "layer_norm", "bias");
  Dtype t = out_type(x, weight, bias);
  array w = weight ? astype(*weight, t, s) : ones({x.shape(-1)}, t, s);
  array b = bias ? astype(*bias, t, s) : zeros({x.shape(-1)}, t, s);
  return array(x.shape(), t, make_layer_norm(to_stream(s), eps), {astype(x, t, s), w, b});
}

// --- rope -------------------------------------------------------------------

namespace {

// The default inverse frequencies base^(-j / half), j < half, in float32:
// made once per (half, base) and shared by every call, so a decode step
// neither recomputes them nor copies them to the GPU again.
array default_inv_freq(int half, float base) {
  static std::mutex mu;
  static auto* made = new std::map<std::pair<int, float>, array>();  // never destroyed: arrays may outlive statics
  std::lock_guard lk(mu);
  auto [it, fresh] = made->try_emplace({half, base});
  if (fresh) {
    const float step = -std::log(base) / static_cast<float>(half);
    std::vector<float> v(half);
    for (int j = 0; j < half; ++j) v[j] = std::exp(static_cast<float>(j) * step);
    it->second = array(v.data(), {half}, float32);
  }
  return it->second;
}

}  // namespace

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  if (x.ndim() < 3)
    throw std::invalid_argument("[rope] Input must have at least 3 dimensions (B, ..., T, D), got " +
                                shape_string(x.shape()) + ".");
  check_floating(x, "rope", "x");
  if (dims <= 0 || dims % 2 != 0 || dims > x.shape(-1))
    throw std::invalid_argument("[rope] dims must be even, positive and at most the last axis (" +
                                std::to_string(x.shape(-1)) + "), got " + std::to_string(dims) + ".");
  if (base.has_value() == freqs.has_value())
    throw std::invalid_argument("[rope] Exactly one of base and freqs must be given.");
  if (!is_integral(offset.dtype()) || offset.dtype() == bool_ || offset.ndim() > 1 ||
      (offset.ndim() == 1 && offset.shape(0) != x.shape(0)))
    throw std::invalid_argument("[rope] offset must be an integer or an integer array of shape () or (" +
                                std::to_string(x.shape(0)) + ",), got " + shape_string(offset.shape()) + ".");
  const int half = dims / 2;
  array inv_freq;
  if (freqs) {
    if (freqs->ndim() != 1 || freqs->shape(0) != half)
      throw std::invalid_argument("[rope] freqs must have shape (" + std::to_string(half) + ",), got " +
                                  shape_string(freqs->shape()) + ".");
    inv_freq = reciprocal(astype(*freqs, float32, s), s);
  } else {
    inv_freq = default_inv_freq(half, *base);
  }
  return array(x.shape(), x.dtype(), make_rope(to_stream(s), dims, traditional, scale),
               {x, astype(offset, int32, s), inv_freq});
}

std::shared_ptr<Primitive> make_rope(Stream s, int dims, bool traditional, float scale) {
  // Inputs are x, the int32 offset (scalar or (B,)) and the float32 inverse frequencies.
  Fallback fallback = [dims, traditional, scale](const std::vector<array>& in) {
    const array &x = in[0], &off = in[1], &inv = in[2];
    const int half = dims / 2, ndim = x.ndim();
    const ShapeElem T = x.shape(-2);
    // Positions (B or 1, 1..., T, 1) in float32.
    Shape pos_shape(ndim, 1);
    pos_shape[ndim - 2] = T;
    array pos = reshape(arange(0, T, 1, float32), pos_shape);
    Shape off_shape(ndim, 1);
    if (off.ndim() == 1) off_shape[0] = off.shape(0);
    pos = multiply(add(pos, reshape(astype(off, float32), off_shape)), array(scale));
    array angle = multiply(pos, inv);  // (..., T, half)
    array c = cos(angle), sn = sin(angle);
    array xf = astype(x, float32);
    Shape start(ndim, 0), stop = x.shape(), unit(ndim, 1);
    auto part = [&](int lo, int hi, int step) {
      Shape a = start, b = stop, st = unit;
      a.back() = lo, b.back() = hi, st.back() = step;
      return slice(xf, a, b, st);
    };
    array x1 = traditional ? part(0, dims, 2) : part(0, half, 1);
    array x2 = traditional ? part(1, dims, 2) : part(half, dims, 1);
    array y1 = subtract(multiply(x1, c), multiply(x2, sn));
    array y2 = add(multiply(x1, sn), multiply(x2, c));
    array rotated = traditional ? reshape(stack({y1, y2}, -1), [&] {
      Shape sh = x.shape();
      sh.back() = dims;
      return sh;
    }())
                                : concatenate({y1, y2}, -1);
    if (dims < x.shape(-1)) rotated = concatenate({rotated, part(dims, x.shape(-1), 1)}, -1);
    return std::vector<array>{astype(rotated, x.dtype())};
  };
  return std::make_shared<RoPE>(s, fallback, dims, traditional, scale);
}

// --- scaled_dot_product_attention ---------------------------------------------

array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::string& mask_mode, const std::optional<array>& mask,
                                   const std::optional<array>& sinks, StreamOrDevice s) {
  const std::string op = "scaled_dot_product_attention";
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4)
    throw std::invalid_argument("[" + op + "] q, k and v must be 4-dimensional (B, heads, T, D), got " +
                                shape_string(q.shape()) + ", " + shape_string(k.shape()) + " and " +
                                shape_string(v.shape()) + ".");
  for (const auto* a : {&q, &k, &v}) check_floating(*a, op, "q, k and v");
  if (q.shape(-1) != k.shape(-1))
    throw std::invalid_argument("[" + op + "] q and k must have the same last dimension, got " +
                                shape_string(q.shape()) + " and " + shape_string(k.shape()) + ".");
  if (k.shape(0) != v.shape(0) || k.shape(1) != v.shape(1) || k.shape(2) != v.shape(2))
    throw std::invalid_argument("[" + op + "] k and v must agree in batch, heads and length, got " +
                                shape_string(k.shape()) + " and " + shape_string(v.shape()) + ".");
  if (q.shape(0) != k.shape(0))
    throw std::invalid_argument("[" + op + "] q and k must have the same batch size.");
  const int hq = q.shape(1), hk = k.shape(1);
  if (hk == 0 || hq % hk != 0)
    throw std::invalid_argument("[" + op + "] The number of query heads (" + std::to_string(hq) +
                                ") must be a multiple of the number of key/value heads (" + std::to_string(hk) +
                                ").");
  if (mask_mode != "" && mask_mode != "causal" && mask_mode != "array")
    throw std::invalid_argument("[" + op + "] Unsupported mask '" + mask_mode + "': use None, \"causal\" or an array.");
  if ((mask_mode == "array") != mask.has_value())
    throw std::invalid_argument("[" + op + "] mask_mode 'array' goes with a mask array.");
  Dtype t = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype());
  const ShapeElem B = q.shape(0), Tq = q.shape(2), Tk = k.shape(2);
  Shape score_shape{B, hq, Tq, Tk};
  std::vector<array> inputs{astype(q, t, s), astype(k, t, s), astype(v, t, s)};
  if (mask) {
    if (mask->ndim() > 4)
      throw std::invalid_argument("[" + op + "] The mask can have at most 4 dimensions, got " +
                                  shape_string(mask->shape()) + ".");
    if (broadcast_shapes(mask->shape(), score_shape, op) != score_shape)
      throw std::invalid_argument("[" + op + "] The mask " + shape_string(mask->shape()) +
                                  " does not broadcast to the scores' shape " + shape_string(score_shape) + ".");
    // Boolean masks keep where true; others are added to the scores.
    array additive = mask->dtype() == bool_
                         ? where(*mask, array(0.0f), array(-std::numeric_limits<float>::infinity()), s)
                         : astype(*mask, float32, s);
    inputs.push_back(broadcast_to(additive, score_shape, s));
  }
  if (sinks) {
    if (sinks->ndim() != 1 || sinks->shape(0) != hq)
      throw std::invalid_argument("[" + op + "] sinks must have shape (" + std::to_string(hq) + ",), got " +
                                  shape_string(sinks->shape()) + ".");
    inputs.push_back(astype(*sinks, float32, s));
  }
  const bool causal = mask_mode == "causal", has_mask = mask.has_value(), has_sinks = sinks.has_value();
  Shape out_shape{B, hq, Tq, v.shape(3)};
  return array(out_shape, t, make_attention(to_stream(s), scale, causal, has_mask, has_sinks), inputs);
}

namespace {

Fallback attention_fallback(float scale, bool causal, bool has_mask, bool has_sinks) {
  // Inputs are q, k, v in the output dtype, then the additive float32 mask
  // (B, Hq, Tq, Tk) when has_mask, then the float32 sinks (Hq,) when has_sinks.
  return [scale, causal, has_mask, has_sinks](const std::vector<array>& in) {
    const ShapeElem b = in[0].shape(0), tq = in[0].shape(2), tk = in[1].shape(2), d = in[0].shape(3);
    const ShapeElem hq = in[0].shape(1), hk = in[1].shape(1), groups = hq / hk;
    const Dtype t = in[0].dtype();
    // Query heads that share a key/value head sit together: (B, Hk, G, Tq, D).
    array qf = reshape(astype(in[0], float32), {b, hk, groups, tq, d});
    array kf = expand_dims(astype(in[1], float32), {2});
    array vf = expand_dims(astype(in[2], float32), {2});
    array scores = matmul(multiply(qf, array(scale)), swapaxes(kf, -1, -2));  // (B, Hk, G, Tq, Tk)
    if (has_mask) scores = add(scores, reshape(in[3], {b, hk, groups, tq, tk}));
    if (causal) {
      array qi = reshape(arange(0, tq, 1, int32), {tq, 1});
      array kj = reshape(arange(0, tk, 1, int32), {1, tk});
      array keep = less_equal(kj, add(qi, array(static_cast<int>(tk - tq))));
      scores = where(keep, scores, array(-std::numeric_limits<float>::infinity()));
    }
    array probs;
    if (has_sinks) {
      array sink = broadcast_to(reshape(in[has_mask ? 4 : 3], {1, hk, groups, 1, 1}), {b, hk, groups, tq, 1});
      array all = softmax(concatenate({sink, scores}, -1), {-1}, true);
      probs = slice(all, {0, 0, 0, 0, 1}, all.shape(), {1, 1, 1, 1, 1});
    } else {
      // A row with every key masked attends to nothing: zeros, as the fused
      // kernels give (softmax alone would give NaN).
      // (Their scores are zeroed first so that the backward pass sees no NaN.)
      array empty_row = equal(max(scores, {-1}, true), array(-std::numeric_limits<float>::infinity()));
      probs = where(empty_row, array(0.0f), softmax(where(empty_row, array(0.0f), scores), {-1}, true));
    }
    array out = matmul(probs, vf);  // (B, Hk, G, Tq, Dv)
    return std::vector<array>{astype(reshape(out, {b, hq, tq, out.shape(-1)}), t)};
  };
}

}  // namespace

std::shared_ptr<Primitive> make_attention(Stream s, float scale, bool causal, bool has_mask, bool has_sinks) {
  return std::make_shared<ScaledDotProductAttention>(s, attention_fallback(scale, causal, has_mask, has_sinks), scale,
                                                     causal, has_mask, has_sinks);
}

std::shared_ptr<Primitive> make_attention_vjp(Stream s, float scale, bool causal, bool has_mask) {
  // Inputs q, k, v, [mask], the output and its cotangent.
  Fallback fallback = [scale, causal, has_mask](const std::vector<array>& in) {
    const size_t n = 3 + has_mask;
    std::vector<array> primals(in.begin(), in.begin() + n);
    auto grads = detail::vjp_bilinear(attention_fallback(scale, causal, has_mask, false), primals, {in[n + 1]}).second;
    grads.resize(3);
    return grads;
  };
  return std::make_shared<AttentionVJP>(s, fallback, scale, causal, has_mask);
}

std::vector<array> attention_vjp(const std::vector<array>& inputs, float scale, bool causal, bool has_mask, Stream s) {
  const std::string op = "scaled_dot_product_attention_vjp";
  auto fail = [&](const std::string& what) { throw std::invalid_argument("[" + op + "] " + what); };
  if (inputs.size() != 5u + has_mask) fail("Expected q, k, v, " + std::string(has_mask ? "the mask, " : "") +
                                            "the output and its cotangent.");
  const array &q = inputs[0], &k = inputs[1], &v = inputs[2], &o = inputs[3 + has_mask], &g = inputs.back();
  for (const array* a : {&q, &k, &v, &o, &g})
    if (a->ndim() != 4 || !is_floating_point(a->dtype())) fail("Every input must be a 4-dimensional float array.");
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype() || o.dtype() != q.dtype())
    fail("q, k, v and the output must share one dtype.");
  const Shape out{q.shape(0), q.shape(1), q.shape(2), v.shape(3)};
  if (q.shape(3) != k.shape(3) || k.shape(0) != q.shape(0) || v.shape(0) != q.shape(0) || k.shape(1) != v.shape(1) ||
      k.shape(2) != v.shape(2) || k.shape(1) == 0 || q.shape(1) % k.shape(1) != 0 || o.shape() != out ||
      g.shape() != out)
    fail("Inconsistent shapes " + shape_string(q.shape()) + ", " + shape_string(k.shape()) + ", " +
         shape_string(v.shape()) + ", output " + shape_string(o.shape()) + ", cotangent " + shape_string(g.shape()) +
         ".");
  if (has_mask && (inputs[3].dtype() != float32 ||
                   inputs[3].shape() != Shape{q.shape(0), q.shape(1), q.shape(2), k.shape(2)}))
    fail("The mask must be float32 of the scores' shape.");
  std::vector<array> in = inputs;
  in.back() = astype(in.back(), in[0].dtype(), s);  // the cotangent, in the output's dtype
  return array::make_arrays({in[0].shape(), in[1].shape(), in[2].shape()}, {in[0].dtype(), in[1].dtype(), in[2].dtype()},
                            make_attention_vjp(s, scale, causal, has_mask), in);
}

std::vector<array> ScaledDotProductAttention::vjp(const std::vector<array>& primals,
                                                  const std::vector<array>& cotangents,
                                                  const std::vector<int>& argnums,
                                                  const std::vector<array>& outputs) {
  // The fused backward covers q, k and v; sinks and a mask that needs its
  // own gradient go through the fallback.
  const bool fused = !has_sinks_ && !outputs.empty() &&
                     std::all_of(argnums.begin(), argnums.end(), [](int a) { return a < 3; });
  if (!fused) return fallback_vjp(fallback(), primals, cotangents, argnums);
  std::vector<array> in(primals.begin(), primals.begin() + 3 + has_mask_);
  in.push_back(outputs[0]);
  in.push_back(cotangents[0]);
  return pick(attention_vjp(in, scale_, causal_, has_mask_, stream()), argnums);
}

}  // namespace lmx::fast
