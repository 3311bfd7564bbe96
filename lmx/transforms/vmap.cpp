#include "lmx/transforms/vmap.h"

#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "lmx/ops/ops.h"
#include "lmx/primitives/primitive.h"
#include "lmx/transforms/graph.h"

namespace lmx {

// The fallback rule: this primitive on each slice, results stacked on axis 0.
std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>& outputs) {
  int size = -1;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) size = inputs[i].shape(axes[i]);
  const auto& prim = outputs[0].primitive_ptr();
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) shapes.push_back(o.shape()), dtypes.push_back(o.dtype());
  std::vector<std::vector<array>> per_output(outputs.size());
  for (int b = 0; b < size; ++b) {
    std::vector<array> ins;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (axes[i] < 0) {
        ins.push_back(inputs[i]);
        continue;
      }
      Shape start(inputs[i].ndim(), 0), stop = inputs[i].shape(), step(inputs[i].ndim(), 1);
      start[axes[i]] = b, stop[axes[i]] = b + 1;
      ins.push_back(squeeze(slice(inputs[i], start, stop, step), {axes[i]}));
    }
    std::vector<array> outs = outputs.size() == 1
                                  ? std::vector<array>{array(shapes[0], dtypes[0], prim, std::move(ins))}
                                  : array::make_arrays(shapes, dtypes, prim, ins);
    for (size_t k = 0; k < outs.size(); ++k) per_output[k].push_back(outs[k]);
  }
  std::vector<array> stacked;
  for (size_t k = 0; k < per_output.size(); ++k) {
    if (size > 0) {
      stacked.push_back(stack(per_output[k], 0));
    } else {  // an empty batch: nothing to stack
      Shape empty = shapes[k];
      empty.insert(empty.begin(), 0);
      stacked.push_back(zeros(empty, dtypes[k]));
    }
  }
  return {stacked, std::vector<int>(outputs.size(), 0)};
}

std::vector<array> vmap(const ArrayFn& fun, const std::vector<array>& inputs, const std::vector<int>& in_axes,
                        const std::vector<int>& out_axes_in) {
  if (in_axes.size() != inputs.size())
    throw std::invalid_argument("[vmap] Got " + std::to_string(in_axes.size()) + " in_axes for " +
                                std::to_string(inputs.size()) + " inputs.");
  int size = -1;
  std::vector<int> axes(inputs.size(), -1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (in_axes[i] < 0 && in_axes[i] != -1)
      throw std::invalid_argument("[vmap] in_axes must be non-negative or None.");
    if (in_axes[i] == -1) continue;
    if (in_axes[i] >= inputs[i].ndim())
      throw std::out_of_range("[vmap] in_axes " + std::to_string(in_axes[i]) + " is out of range for an input with " +
                                  std::to_string(inputs[i].ndim()) + " dimensions.");
    axes[i] = in_axes[i];
    int n = inputs[i].shape(axes[i]);
    if (size >= 0 && n != size)
      throw std::invalid_argument("[vmap] Inconsistent sizes along the mapped axes: " + std::to_string(size) +
                                  " and " + std::to_string(n) + ".");
    size = n;
  }
  if (size < 0) throw std::invalid_argument("[vmap] At least one input must be mapped (in_axes all None).");

  // Trace fun on one slice of each mapped input; the tracer nodes stand for
  // the whole batch when the graph is rewritten below.
  std::vector<array> tracers;
  std::unordered_map<uintptr_t, std::pair<array, int>> batched;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] < 0) {
      tracers.push_back(inputs[i]);
      continue;
    }
    Shape start(inputs[i].ndim(), 0), stop = inputs[i].shape(), step(inputs[i].ndim(), 1);
    stop[axes[i]] = 1;
    // Of an empty batch no slice exists; the tracer only needs its shape.
    Shape slice_shape = inputs[i].shape();
    slice_shape.erase(slice_shape.begin() + axes[i]);
    array t = size > 0 ? copy(squeeze(slice(inputs[i], start, stop, step), {axes[i]}))
                       : copy(zeros(slice_shape, inputs[i].dtype()));
    batched.emplace(t.id(), std::make_pair(inputs[i], axes[i]));
    tracers.push_back(t);
  }
  std::vector<array> outputs;
  {
    detail::TransformTrace trace;
    outputs = fun(tracers);
  }
  if (out_axes_in.size() != outputs.size() && out_axes_in.size() != 1)
    throw std::invalid_argument("[vmap] Got " + std::to_string(out_axes_in.size()) + " out_axes for " +
                                std::to_string(outputs.size()) + " outputs.");

  std::unordered_set<uintptr_t> done;  // nodes (not primitives: compiled replays share those)
  for (auto& node : detail::graph_tape(outputs)) {
    if (batched.count(node.id()) || done.count(node.node_id())) continue;
    auto& ins = node.inputs();
    std::vector<array> bins;
    std::vector<int> baxes;
    bool any = false;
    for (auto& in : ins) {
      auto it = batched.find(in.id());
      if (it != batched.end()) {
        bins.push_back(it->second.first), baxes.push_back(it->second.second), any = true;
      } else {
        bins.push_back(in), baxes.push_back(-1);
      }
    }
    if (!any) continue;
    done.insert(node.node_id());
    auto outs = node.outputs();
    auto [bouts, bout_axes] = node.primitive().vmap(bins, baxes, outs);
    for (size_t k = 0; k < outs.size(); ++k) batched.emplace(outs[k].id(), std::make_pair(bouts[k], bout_axes[k]));
  }

  std::vector<array> results;
  for (size_t j = 0; j < outputs.size(); ++j) {
    int out_axis = out_axes_in.size() == 1 ? out_axes_in[0] : out_axes_in[j];
    int nd = outputs[j].ndim() + 1;
    if (out_axis < -nd || out_axis >= nd)
      throw std::invalid_argument("[vmap] out_axes " + std::to_string(out_axis) + " is out of range for an output with " +
                                  std::to_string(nd) + " dimensions.");
    if (out_axis < 0) out_axis += nd;
    auto it = batched.find(outputs[j].id());
    if (it == batched.end()) {
      // An output that does not depend on the mapped inputs repeats.
      Shape shape = outputs[j].shape();
      shape.insert(shape.begin() + out_axis, size);
      results.push_back(broadcast_to(expand_dims(outputs[j], {out_axis}), shape));
    } else {
      results.push_back(moveaxis(it->second.first, it->second.second, out_axis));
    }
  }
  return results;
}

}  // namespace lmx
