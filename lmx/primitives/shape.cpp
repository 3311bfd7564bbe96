// Differentiation rules of the data-movement primitives: each moves the
// cotangent back the way the data came.
#include "lmx/primitives/shape.h"

#include <limits>
#include <numeric>

#include "lmx/ops/ops.h"
#include "lmx/ops/utils.h"
#include "lmx/primitives/index.h"

namespace lmx {

namespace {

// Stops of a strided window in slice() terms, from its start, step and size.
Shape window_stops(const Shape& start, const Shape& step, const Shape& size) {
  Shape stop(start.size());
  for (size_t i = 0; i < start.size(); ++i) {
    ShapeElem last = start[i] + (size[i] - 1) * step[i];
    stop[i] = step[i] > 0 ? last + 1 : last - 1;
    // -1 would wrap around in slice() terms: spell "before the front".
    if (stop[i] < 0) stop[i] = std::numeric_limits<ShapeElem>::min() / 2;
  }
  return stop;
}

}  // namespace

std::vector<array> Broadcast::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  // Sum over the added leading dims and the stretched size-1 dims. The
  // operands that only give the shape (shapeless compile) get no gradient.
  const array& x = primals[0];
  const array& g = cotangents[0];
  int extra = g.ndim() - x.ndim();
  std::vector<int> axes;
  for (int d = 0; d < g.ndim(); ++d)
    if (d < extra || (x.shape(d - extra) == 1 && g.shape(d) != 1)) axes.push_back(d);
  std::vector<array> out;
  for (int a : argnums) {
    if (a != 0) {
      out.emplace_back();
      continue;
    }
    array r = axes.empty() ? g : sum(g, axes, true);
    out.push_back(reshape(r, x.shape()));
  }
  return out;
}

std::vector<Shape> Broadcast::output_shapes(const std::vector<array>& inputs) {
  if (inputs.size() < 2)
    throw std::invalid_argument(
        "[compile] broadcast_to to a fixed shape cannot infer its output shape, so this function cannot be "
        "compiled with shapeless=True.");
  Shape shape;
  for (auto& in : inputs) shape = broadcast_shapes(shape, in.shape(), "broadcast_to");
  return {shape};
}

std::vector<Shape> Reshape::output_shapes(const std::vector<array>& inputs) {
  if (!requested_) return Primitive::output_shapes(inputs);  // raises
  return {reshape_target(inputs[0].size(), *requested_)};
}

std::vector<Shape> StopGradient::output_shapes(const std::vector<array>& inputs) { return {inputs[0].shape()}; }

std::vector<Shape> Squeeze::output_shapes(const std::vector<array>& inputs) {
  return {squeezed_shape(inputs[0].shape(), axes_)};
}

std::vector<array> Squeeze::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>&) {
  return {expand_dims(cotangents[0], axes_)};
}

std::vector<array> Reshape::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>&) {
  return {reshape(cotangents[0], primals[0].shape())};
}

std::vector<array> StopGradient::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0])};
}

std::vector<array> View::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>& outputs) {
  return Primitive::vjp(primals, cotangents, argnums, outputs);  // reinterpreting bytes has no derivative
}

std::vector<array> Contiguous::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                   const std::vector<int>&, const std::vector<array>&) {
  return {cotangents[0]};
}

std::vector<array> Transpose::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  std::vector<int> inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = static_cast<int>(i);
  return {transpose(cotangents[0], inverse)};
}

std::vector<array> Slice::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cotangents[0];
  if (g.size() == 0) return {zeros_like(x)};
  return {slice_update(zeros_like(x), g, start_, window_stops(start_, strides_, outputs[0].shape()), strides_)};
}

std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& upd = primals[1];
  const array& g = cotangents[0];
  std::vector<array> out;
  if (upd.size() == 0) {
    for (int arg : argnums) out.push_back(arg == 0 ? g : zeros_like(upd));
    return out;
  }
  Shape stop = window_stops(start_, strides_, upd.shape());
  for (int arg : argnums) {
    if (arg == 0) out.push_back(slice_update(g, zeros_like(upd), start_, stop, strides_));
    else out.push_back(slice(g, start_, stop, strides_));
  }
  return out;
}

// Each output element reads the (row-major) input at offset + sum_d i_d *
// stride_d: send the cotangent back there, adding where reads overlap.
std::vector<array> AsStrided::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const Shape& shape = outputs[0].shape();
  array flat_index = array(static_cast<int64_t>(offset_));
  for (size_t d = 0; d < shape.size(); ++d) {
    Shape r(shape.size(), 1);
    r[d] = shape[d];
    array along = multiply(arange(0, shape[d], 1, int64), array(static_cast<int64_t>(strides_[d])));
    flat_index = add(flat_index, reshape(along, r));
  }
  flat_index = broadcast_to(flat_index, shape);
  array grad = scatter(zeros({static_cast<ShapeElem>(x.size())}, x.dtype()), {flat_index}, cotangents[0], {0},
                       ScatterMode::Add);
  return {reshape(grad, x.shape())};
}

std::vector<array> Concatenate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& g = cotangents[0];
  std::vector<array> out;
  Shape offsets(primals.size() + 1, 0);
  for (size_t i = 0; i < primals.size(); ++i) offsets[i + 1] = offsets[i] + primals[i].shape(axis_);
  for (int arg : argnums) {
    Shape start(g.ndim(), 0), stop = g.shape(), step(g.ndim(), 1);
    start[axis_] = offsets[arg];
    stop[axis_] = offsets[arg + 1];
    out.push_back(slice(g, start, stop, step));
  }
  return out;
}

std::vector<array> Pad::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];
  const array& g = cotangents[0];
  Shape start = low_, stop(x.ndim()), step(x.ndim(), 1);
  for (int i = 0; i < x.ndim(); ++i) stop[i] = low_[i] + x.shape(i);
  array inner = slice(g, start, stop, step);
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(inner);
    else out.push_back(subtract(sum(g, {}), sum(inner, {})));  // every padded element is the fill value
  }
  return out;
}

// ---- batching rules: the mapped axis moves to the front ----

namespace {
array front(const array& x, int axis) { return axis == 0 ? x : moveaxis(x, axis, 0); }
Shape with_front(int size, const Shape& s) {
  Shape out = s;
  out.insert(out.begin(), size);
  return out;
}
}  // namespace

std::pair<std::vector<array>, std::vector<int>> Broadcast::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>& outputs) {
  const Shape& target = outputs[0].shape();
  if (axes[0] < 0) {
    // Only a shape reference is mapped (a shapeless trace's broadcast lists
    // the operands it broadcasts against): the value repeats over the batch.
    int size = 0;
    for (size_t i = 1; i < inputs.size(); ++i)
      if (axes[i] >= 0) size = inputs[i].shape(axes[i]);
    return {{broadcast_to(inputs[0], with_front(size, target))}, {0}};
  }
  // Align the unbatched dims to the right of the target, keep B in front.
  array x = front(inputs[0], axes[0]);
  Shape r = x.shape();
  r.insert(r.begin() + 1, target.size() - (x.ndim() - 1), 1);
  return {{broadcast_to(reshape(x, r), with_front(x.shape(0), target))}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Reshape::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>& outputs) {
  array x = front(inputs[0], axes[0]);
  return {{reshape(x, with_front(x.shape(0), outputs[0].shape()))}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Squeeze::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes,
                                                              const std::vector<array>&) {
  array x = front(inputs[0], axes[0]);
  std::vector<int> shifted;
  for (int a : axes_) shifted.push_back(a + 1);
  return {{squeeze(x, shifted)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> StopGradient::vmap(const std::vector<array>& inputs,
                                                                   const std::vector<int>& axes,
                                                                   const std::vector<array>&) {
  return {{stop_gradient(inputs[0])}, {axes[0]}};
}

std::pair<std::vector<array>, std::vector<int>> Contiguous::vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes,
                                                                 const std::vector<array>&) {
  return {{contiguous(inputs[0], allow_col_major_)}, {axes[0]}};
}

std::pair<std::vector<array>, std::vector<int>> View::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  return Primitive::vmap(inputs, axes, outputs);
}

std::pair<std::vector<array>, std::vector<int>> Transpose::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>&) {
  std::vector<int> perm = {0};
  for (int a : axes_) perm.push_back(a + 1);
  return {{transpose(front(inputs[0], axes[0]), perm)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> Slice::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes,
                                                            const std::vector<array>& outputs) {
  array x = front(inputs[0], axes[0]);
  Shape start = start_, step = strides_;
  start.insert(start.begin(), 0);
  step.insert(step.begin(), 1);
  return {{array(with_front(x.shape(0), outputs[0].shape()), x.dtype(),
                 std::make_shared<Slice>(stream(), std::move(start), std::move(step)), {x})},
          {0}};
}

std::pair<std::vector<array>, std::vector<int>> Concatenate::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes,
                                                                  const std::vector<array>&) {
  int size = 1;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) size = inputs[i].shape(axes[i]);
  std::vector<array> parts;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) parts.push_back(front(inputs[i], axes[i]));
    else parts.push_back(broadcast_to(expand_dims(inputs[i], {0}), with_front(size, inputs[i].shape())));
  }
  return {{concatenate(parts, axis_ + 1)}, {0}};
}

}  // namespace lmx
