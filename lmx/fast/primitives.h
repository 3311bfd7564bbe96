// The fused primitives of mx.fast. Each carries `fallback`: the same
// computation written with ordinary ops, which gives its vjp, jvp and vmap
// (differentiating the fused kernel itself would need one kernel per rule).
#pragma once

#include <functional>
#include <vector>

#include "lmx/primitives/primitive.h"

namespace lmx::fast {

using Fallback = std::function<std::vector<array>(const std::vector<array>&)>;

// The vjp and vmap of a fused computation, derived from its fallback.
std::vector<array> fallback_vjp(const Fallback& fallback, const std::vector<array>& primals,
                                const std::vector<array>& cotangents, const std::vector<int>& argnums);
std::pair<std::vector<array>, std::vector<int>> fallback_vmap(const Fallback& fallback, const std::vector<array>& inputs,
                                                              const std::vector<int>& axes, size_t outputs);

class Fused : public UnaryPrimitive {
 public:
  Fused(Stream s, Fallback fallback) : UnaryPrimitive(s), fallback_(std::move(fallback)) {}
  // The same computation as a graph of ordinary ops.
  const Fallback& fallback() const { return fallback_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs, const std::vector<int>& axes,
                                                       const std::vector<array>& outputs) override;

 private:
  Fallback fallback_;
};

// Inputs: x, weight (ones when none was given). Its vjp is NormVJP.
class RMSNorm : public Fused {
 public:
  RMSNorm(Stream s, Fallback f, float eps) : Fused(s, std::move(f)), eps_(eps) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "rms_norm"; }
  float eps() const { return eps_; }

 private:
  float eps_;
};

// A fused computation with several outputs: the fused backward passes.
class FusedMultiOutput : public Primitive {
 public:
  FusedMultiOutput(Stream s, Fallback fallback) : Primitive(s), fallback_(std::move(fallback)) {}
  const Fallback& fallback() const { return fallback_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs, const std::vector<int>& axes,
                                                       const std::vector<array>& outputs) override;

 private:
  Fallback fallback_;
};

#define LMX_DECLARE_EVAL_MULTI                                                             \
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override; \
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;

// Inputs: x, weight, bias (ones / zeros when not given). Its vjp is NormVJP.
class LayerNorm : public Fused {
 public:
  LayerNorm(Stream s, Fallback f, float eps) : Fused(s, std::move(f)), eps_(eps) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "layer_norm"; }
  float eps() const { return eps_; }

 private:
  float eps_;
};

// Inputs: x, offset (int32: scalar or (B,)), inverse frequencies (dims/2, float32).
class RoPE : public Fused {
 public:
  RoPE(Stream s, Fallback f, int dims, bool traditional, float scale)
      : Fused(s, std::move(f)), dims_(dims), traditional_(traditional), scale_(scale) {}
  LMX_DECLARE_EVAL
  std::string name() const override { return "rope"; }
  int dims() const { return dims_; }
  bool traditional() const { return traditional_; }
  float scale() const { return scale_; }

 private:
  int dims_;
  bool traditional_;
  float scale_;
};

// What attention's forward and backward nodes share: the scores' scale, a
// causal mask, and whether an additive float32 mask (B, Hq, Tq, Tk) follows
// q, k and v among the inputs.
class AttentionParams {
 public:
  AttentionParams(float scale, bool causal, bool has_mask) : scale_(scale), causal_(causal), has_mask_(has_mask) {}
  float scale() const { return scale_; }
  bool causal() const { return causal_; }
  bool has_mask() const { return has_mask_; }

 protected:
  float scale_;
  bool causal_, has_mask_;
};

// Inputs: q, k, v, then the mask when has_mask, then the sinks (Hq,) when
// has_sinks. Its vjp is AttentionVJP (the fallback's when there are sinks or
// the mask needs a gradient).
class ScaledDotProductAttention : public Fused, public AttentionParams {
 public:
  ScaledDotProductAttention(Stream s, Fallback f, float scale, bool causal, bool has_mask, bool has_sinks)
      : Fused(s, std::move(f)), AttentionParams(scale, causal, has_mask), has_sinks_(has_sinks) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override { return "scaled_dot_product_attention"; }
  bool has_sinks() const { return has_sinks_; }

 private:
  bool has_sinks_;
};

// The backward of layer norm (`centre`) or RMS norm. Inputs: x, weight, the
// output's cotangent (all in the output dtype); outputs: dx, dweight, and
// dbias for layer norm.
class NormVJP : public FusedMultiOutput {
 public:
  NormVJP(Stream s, Fallback f, float eps, bool centre) : FusedMultiOutput(s, std::move(f)), eps_(eps), centre_(centre) {}
  LMX_DECLARE_EVAL_MULTI
  std::string name() const override { return centre_ ? "layer_norm_vjp" : "rms_norm_vjp"; }
  float eps() const { return eps_; }
  bool centre() const { return centre_; }

 private:
  float eps_;
  bool centre_;
};

// rms_norm(x + r, weight) together with the sum x + r: compile makes it from
// a residual add whose sum an RMS norm reads (every pre-norm transformer
// block, twice), so the sum is read once and a launch saved. Inputs: x, r,
// weight (the sum's dtype); outputs: the normalised sum, the sum.
class AddRMSNorm : public FusedMultiOutput {
 public:
  AddRMSNorm(Stream s, Fallback f, float eps) : FusedMultiOutput(s, std::move(f)), eps_(eps) {}
  LMX_DECLARE_EVAL_MULTI
  std::string name() const override { return "add_rms_norm"; }
  bool is_equivalent(const Primitive& o) const override {
    auto* a = dynamic_cast<const AddRMSNorm*>(&o);
    return a && a->eps_ == eps_;
  }
  float eps() const { return eps_; }

 private:
  float eps_;
};

// The backward of attention without sinks. Inputs: q, k, v, the mask when
// has_mask, the output and its cotangent; outputs: dq, dk, dv. The CPU
// kernel recomputes the probabilities one block of queries at a time, so
// the (Tq, Tk) scores of every head are never held at once.
class AttentionVJP : public FusedMultiOutput, public AttentionParams {
 public:
  AttentionVJP(Stream s, Fallback f, float scale, bool causal, bool has_mask)
      : FusedMultiOutput(s, std::move(f)), AttentionParams(scale, causal, has_mask) {}
  LMX_DECLARE_EVAL_MULTI
  std::string name() const override { return "scaled_dot_product_attention_vjp"; }
};

// The primitives with their fallbacks, built from their parameters alone:
// the ops of fast.h make them, and so does import_function for a file that
// holds them.
std::shared_ptr<Primitive> make_rms_norm(Stream s, float eps);
std::shared_ptr<Primitive> make_add_rms_norm(Stream s, float eps);
std::shared_ptr<Primitive> make_layer_norm(Stream s, float eps);
std::shared_ptr<Primitive> make_rope(Stream s, int dims, bool traditional, float scale);
std::shared_ptr<Primitive> make_attention(Stream s, float scale, bool causal, bool has_mask, bool has_sinks);
std::shared_ptr<Primitive> make_norm_vjp(Stream s, float eps, bool centre);
std::shared_ptr<Primitive> make_attention_vjp(Stream s, float scale, bool causal, bool has_mask);

// The fused backward nodes themselves (for the vjp rules and import).
std::vector<array> norm_vjp(const array& x, const array& w, const array& cotangent, float eps, bool centre, Stream s);
std::vector<array> attention_vjp(const std::vector<array>& inputs, float scale, bool causal, bool has_mask, Stream s);

}  // namespace lmx::fast
