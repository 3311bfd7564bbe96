#include "lmx/transforms/autodiff.h"

#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "lmx/ops/ops.h"
#include "lmx/primitives/primitive.h"
#include "lmx/primitives/shape.h"
#include "lmx/transforms/graph.h"

namespace lmx {

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&,
                                  const std::vector<array>&) {
  throw std::invalid_argument("[vjp] The primitive '" + name() + "' has no vjp rule (needed by grad, vjp and jvp).");
}

namespace {

using CotangentFn = std::function<std::vector<array>(const std::vector<array>& outputs)>;

thread_local bool forward_mode = false;
thread_local int transform_traces = 0;

// Sets the mode for the rules one reverse pass applies, restoring it after
// (rules may run nested transforms of their own).
struct ModeScope {
  bool saved;
  explicit ModeScope(bool forward) : saved(forward_mode) { forward_mode = forward; }
  ~ModeScope() { forward_mode = saved; }
};

// The reverse pass. `seed` gives the output cotangents once the outputs
// (and so their shapes) are known.
std::pair<std::vector<array>, std::vector<array>> vjp_impl(const ArrayFn& fun, const std::vector<array>& primals,
                                                           const CotangentFn& seed, bool forward = false) {
  // Each primal enters through a fresh copy node: the backward pass stops
  // there, and only what depends on these nodes is differentiated.
  std::vector<array> tracers;
  for (auto& p : primals) tracers.push_back(copy(p));
  std::vector<array> outputs;
  {
    detail::TransformTrace trace;
    outputs = fun(tracers);
  }
  std::vector<array> cotangents = seed(outputs);

  auto tape = detail::graph_tape(outputs);
  // Nodes that depend on a tracer; stop_gradient cuts the dependence.
  std::unordered_set<uintptr_t> active;
  for (auto& t : tracers) active.insert(t.id());
  for (auto& node : tape) {
    if (active.count(node.id()) || dynamic_cast<const StopGradient*>(&node.primitive())) continue;
    for (auto& in : node.inputs())
      if (active.count(in.id())) {
        for (auto& o : node.outputs()) active.insert(o.id());
        break;
      }
  }

  std::unordered_map<uintptr_t, array> cot;
  auto accumulate = [&](const array& target, const array& c) {
    array v = c.dtype() == target.dtype() ? c : astype(c, target.dtype());
    auto it = cot.find(target.id());
    if (it == cot.end()) cot.emplace(target.id(), v);
    else it->second = add(it->second, v);
  };
  for (size_t i = 0; i < outputs.size(); ++i)
    if (active.count(outputs[i].id())) accumulate(outputs[i], cotangents[i]);

  // A multi-output primitive's rule runs once, at its earliest output in the
  // tape: every consumer of every sibling comes later in the tape, so by then
  // (walking backwards) all of their cotangents have arrived.
  std::unordered_map<uintptr_t, size_t> first_sibling;
  for (size_t i = 0; i < tape.size(); ++i)
    if (tape[i].has_siblings()) first_sibling.emplace(tape[i].node_id(), i);
  std::unordered_set<uintptr_t> tracer_ids;
  for (auto& t : tracers) tracer_ids.insert(t.id());
  for (size_t pos = tape.size(); pos-- > 0;) {
    array node = tape[pos];
    tape[pos] = array();  // release the forward node as soon as its rule is built
    if (tracer_ids.count(node.id()) || !active.count(node.id())) continue;
    if (node.has_siblings() && first_sibling.at(node.node_id()) != pos) continue;
    auto outs = node.outputs();
    std::vector<array> out_cots;
    bool any = false;
    for (auto& o : outs) {
      auto c = cot.find(o.id());
      if (c != cot.end()) {
        out_cots.push_back(c->second);
        cot.erase(c);
        any = true;
      } else {
        out_cots.push_back(zeros_like(o));
      }
    }
    if (!any) continue;
    auto& ins = node.inputs();
    std::vector<int> argnums;
    for (size_t i = 0; i < ins.size(); ++i)
      if (active.count(ins[i].id())) argnums.push_back(static_cast<int>(i));
    if (argnums.empty()) continue;
    std::vector<array> in_cots;
    {
      ModeScope mode(forward);
      in_cots = node.primitive().vjp(ins, out_cots, argnums, outs);
    }
    // An invalid (empty) array means "no gradient flows to this input".
    for (size_t k = 0; k < argnums.size(); ++k)
      if (in_cots[k].valid()) accumulate(ins[argnums[k]], in_cots[k]);
  }

  std::vector<array> grads;
  for (size_t i = 0; i < tracers.size(); ++i) {
    auto c = cot.find(tracers[i].id());
    grads.push_back(c != cot.end() ? c->second : zeros_like(primals[i]));
  }
  return {outputs, grads};
}

}  // namespace

namespace detail {
std::vector<array> conjugate_complex(std::vector<array> xs) {
  for (auto& x : xs)
    if (x.valid() && x.dtype() == complex64) x = conjugate(x);
  return xs;
}

std::pair<std::vector<array>, std::vector<array>> vjp_bilinear(const ArrayFn& fun, const std::vector<array>& primals,
                                                               const std::vector<array>& cotangents) {
  return vjp_impl(fun, primals, [&](const std::vector<array>& outputs) {
    if (cotangents.size() != outputs.size())
      throw std::invalid_argument("[vjp] Got " + std::to_string(cotangents.size()) + " cotangents for " +
                                  std::to_string(outputs.size()) + " outputs.");
    for (size_t i = 0; i < outputs.size(); ++i)
      if (cotangents[i].shape() != outputs[i].shape())
        throw std::invalid_argument("[vjp] Cotangent " + std::to_string(i) + " has shape " +
                                    shape_string(cotangents[i].shape()) + " but the output has shape " +
                                    shape_string(outputs[i].shape()) + ".");
    return cotangents;
  });
}
}  // namespace detail

// MLX's convention for complex values: u -> conj(u times the derivative),
// which is the bilinear pass conjugated on the way in and out.
std::pair<std::vector<array>, std::vector<array>> vjp(const ArrayFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  auto [outputs, grads] = detail::vjp_bilinear(fun, primals, detail::conjugate_complex(cotangents));
  return {outputs, detail::conjugate_complex(std::move(grads))};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const ArrayFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (tangents.size() != primals.size())
    throw std::invalid_argument("[jvp] Got " + std::to_string(tangents.size()) + " tangents for " +
                                std::to_string(primals.size()) + " primals.");
  for (size_t i = 0; i < primals.size(); ++i)
    if (tangents[i].shape() != primals[i].shape())
      throw std::invalid_argument("[jvp] Tangent " + std::to_string(i) + " has shape " +
                                  shape_string(tangents[i].shape()) + " but the primal has shape " +
                                  shape_string(primals[i].shape()) + ".");
  // The vjp at fixed primals is linear in the output cotangents u:
  // vjp(u) = J^T u. Its own vjp with cotangent t is J t.
  std::vector<array> outputs = fun(primals);
  std::vector<array> zeros_out;
  for (auto& o : outputs) zeros_out.push_back(zeros_like(o));
  ArrayFn pullback = [&](const std::vector<array>& u) {
    return vjp_impl(fun, primals, [&](const std::vector<array>&) { return u; }, /*forward=*/true).second;
  };
  auto out_tangents = detail::vjp_bilinear(pullback, zeros_out, tangents).second;
  return {outputs, out_tangents};
}

std::pair<std::vector<array>, std::vector<array>> value_and_grad(const ArrayFn& fun,
                                                                 const std::vector<array>& primals,
                                                                 const std::vector<int>& argnums) {
  for (int a : argnums) {
    if (a < 0 || a >= static_cast<int>(primals.size()))
      throw std::invalid_argument("[grad] argnum " + std::to_string(a) + " is out of range for " +
                                  std::to_string(primals.size()) + " arguments.");
    if (!is_inexact(primals[a].dtype()))
      throw std::invalid_argument("[grad] Cannot differentiate with respect to argument " + std::to_string(a) +
                                  " of type " + dtype_name(primals[a].dtype()) +
                                  ": gradients need a floating point or complex input.");
  }
  // Only primals[argnums] are traced; the others pass through as constants.
  std::vector<array> traced;
  for (int a : argnums) traced.push_back(primals[a]);
  std::vector<array> outputs;
  ArrayFn partial = [&](const std::vector<array>& xs) {
    std::vector<array> all = primals;
    for (size_t k = 0; k < argnums.size(); ++k) all[argnums[k]] = xs[k];
    outputs = fun(all);
    if (outputs.empty() || outputs[0].size() != 1)
      throw std::invalid_argument("[grad] The function must return a scalar (an array of size 1) first, got " +
                                  (outputs.empty() ? std::string("nothing") : "shape " + shape_string(outputs[0].shape())) +
                                  ".");
    return std::vector<array>{outputs[0]};  // later outputs are carried along, not differentiated
  };
  auto grads = vjp_impl(partial, traced, [](const std::vector<array>& outs) {
                 return std::vector<array>{ones_like(outs[0])};
               }).second;
  return {outputs, detail::conjugate_complex(std::move(grads))};
}

namespace detail {
bool in_forward_mode() { return forward_mode; }
TransformTrace::TransformTrace() { ++transform_traces; }
TransformTrace::~TransformTrace() { --transform_traces; }
bool in_transform_trace() { return transform_traces > 0; }
}  // namespace detail

}  // namespace lmx
