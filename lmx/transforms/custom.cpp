#include "lmx/transforms/custom.h"

#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/primitive.h"

namespace lmx {

namespace {

// inputs: (primals..., outputs of fun...); its outputs are fun's outputs
// (sharing their buffers), with the user's rules for the transforms.
class CustomTransforms : public Primitive {
 public:
  CustomTransforms(Stream s, ArrayFn fun, size_t num_primals, CustomVjpFn vjp, CustomJvpFn jvp, CustomVmapFn vmap)
      : Primitive(s),
        fun_(std::move(fun)),
        num_primals_(num_primals),
        vjp_(std::move(vjp)),
        jvp_(std::move(jvp)),
        vmap_(std::move(vmap)) {}

  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override { forward(inputs, outputs); }
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override { forward(inputs, outputs); }
  std::string name() const override { return "custom_function"; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override {
    std::vector<array> inputs(primals.begin(), primals.begin() + num_primals_);
    // Each transform uses its own rule when given, else the derivative of
    // the function itself (as MLX): jvp (computed here as the transpose of
    // this rule) the jvp rule, grad/vjp the vjp rule.
    std::vector<array> grads;
    bool forward = detail::in_forward_mode();
    if (forward && jvp_) {
      // The transpose of the linear map t -> J t is u -> J^T u.
      std::vector<array> zero_tangents;
      for (auto& p : inputs) zero_tangents.push_back(zeros_like(p));
      ArrayFn linear = [&](const std::vector<array>& t) { return jvp_(inputs, t); };
      grads = detail::vjp_bilinear(linear, zero_tangents, cotangents).second;
    } else if (!forward && vjp_) {
      // The user's rule is in MLX's (public) convention for complex values.
      grads = detail::conjugate_complex(vjp_(inputs, detail::conjugate_complex(cotangents), outputs));
    } else {
      grads = detail::vjp_bilinear(fun_, inputs, cotangents).second;
    }
    if (grads.size() != num_primals_)
      throw std::invalid_argument("[custom_function] The vjp returned " + std::to_string(grads.size()) +
                                  " cotangents for " + std::to_string(num_primals_) + " primals.");
    std::vector<array> out;
    for (int arg : argnums) {
      // fun's outputs are inputs only to carry their values: nothing flows
      // back into fun's own graph (the rule replaces it).
      if (arg >= static_cast<int>(num_primals_)) out.push_back(array());
      else out.push_back(grads[arg]);
    }
    return out;
  }

  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs, const std::vector<int>& axes,
                                                       const std::vector<array>& outputs) override {
    if (vmap_) return vmap_(std::vector<array>(inputs.begin(), inputs.begin() + num_primals_),
                            std::vector<int>(axes.begin(), axes.begin() + num_primals_));
    // fun's outputs were already batched through fun's own graph.
    std::vector<array> outs(inputs.begin() + num_primals_, inputs.end());
    std::vector<int> out_axes(axes.begin() + num_primals_, axes.end());
    for (size_t i = 0; i < outs.size(); ++i)
      if (out_axes[i] < 0) return Primitive::vmap(inputs, axes, outputs);
    return {outs, out_axes};
  }

 private:
  void forward(const std::vector<array>& inputs, std::vector<array>& outputs) {
    for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[num_primals_ + i]);
  }

  ArrayFn fun_;
  size_t num_primals_;
  CustomVjpFn vjp_;
  CustomJvpFn jvp_;
  CustomVmapFn vmap_;
};

// inputs: (arrays..., dependencies...); outputs share the arrays' buffers,
// but only once the dependencies have been computed.
class Depends : public Primitive {
 public:
  Depends(Stream s, size_t n) : Primitive(s), n_(n) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override { forward(inputs, outputs); }
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override { forward(inputs, outputs); }
  std::string name() const override { return "depends"; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>&) override {
    std::vector<array> out;
    for (int arg : argnums)
      out.push_back(arg < static_cast<int>(n_) ? cotangents[arg] : array());
    return out;
  }

 private:
  void forward(const std::vector<array>& inputs, std::vector<array>& outputs) {
    for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[i]);
  }
  size_t n_;
};

}  // namespace

std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies) {
  if (inputs.empty()) return {};
  std::vector<array> all = inputs;
  all.insert(all.end(), dependencies.begin(), dependencies.end());
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& x : inputs) shapes.push_back(x.shape()), dtypes.push_back(x.dtype());
  auto prim = std::make_shared<Depends>(to_stream({}), inputs.size());
  if (inputs.size() == 1) return {array(shapes[0], dtypes[0], prim, all)};
  return array::make_arrays(shapes, dtypes, prim, all);
}

std::vector<array> custom_function(const ArrayFn& fun, const std::vector<array>& primals, CustomVjpFn vjp,
                                   CustomJvpFn jvp, CustomVmapFn vmap) {
  std::vector<array> outputs = fun(primals);
  if (!vjp && !jvp && !vmap) return outputs;
  std::vector<array> inputs = primals;
  inputs.insert(inputs.end(), outputs.begin(), outputs.end());
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) shapes.push_back(o.shape()), dtypes.push_back(o.dtype());
  auto prim = std::make_shared<CustomTransforms>(to_stream({}), fun, primals.size(), std::move(vjp),
                                                 std::move(jvp), std::move(vmap));
  if (outputs.size() == 1) return {array(shapes[0], dtypes[0], prim, inputs)};
  return array::make_arrays(shapes, dtypes, prim, inputs);
}

std::vector<array> checkpoint(const ArrayFn& fun, const std::vector<array>& primals) {
  CustomVjpFn recompute = [fun](const std::vector<array>& p, const std::vector<array>& c, const std::vector<array>&) {
    // The recomputation waits for the cotangents, so it runs when the
    // backward pass reaches it instead of holding its results from the start.
    return lmx::vjp(fun, depends(p, c), c).second;
  };
  return custom_function(fun, primals, recompute);
}

}  // namespace lmx
