#include "lmx/primitives/compiled.h"

#include <cstring>

#include "lmx/ops/utils.h"
#include "lmx/primitives/shape.h"
#include "lmx/transforms/compile.h"
#include "lmx/transforms/vmap.h"

namespace lmx {

std::string Compiled::name() const {
  std::string s = "Compiled(";
  for (size_t i = 0; i < steps_.size(); ++i) {
    const FusedStep& st = steps_[i];
    if (i) s += ",";
    switch (st.kind) {
      case FusedStep::Kind::unary: s += op_name(static_cast<UnaryOp>(st.op)); break;
      case FusedStep::Kind::binary: s += op_name(static_cast<BinaryOp>(st.op)); break;
      case FusedStep::Kind::select: s += "where"; break;
      case FusedStep::Kind::cast: s += "astype"; break;
    }
  }
  s += ")";
  if (reduction_) s += std::string("->") + reduce_name(reduction_->type);
  return s;
}

bool Compiled::is_equivalent(const Primitive& o) const {
  auto* c = dynamic_cast<const Compiled*>(&o);
  if (!c || c->steps_.size() != steps_.size() || c->output_slots_ != output_slots_) return false;
  if (c->reduction_.has_value() != reduction_.has_value()) return false;
  if (reduction_ && (c->reduction_->type != reduction_->type || c->reduction_->axes != reduction_->axes ||
                     c->reduction_->shape != reduction_->shape || c->reduction_->shapeless != reduction_->shapeless))
    return false;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const FusedStep &a = steps_[i], &b = c->steps_[i];
    if (a.kind != b.kind || a.op != b.op || a.dtype != b.dtype ||
        std::memcmp(a.args, b.args, sizeof a.args) != 0)
      return false;
  }
  return true;
}

std::vector<array> Compiled::expand(const std::vector<array>& inputs, const Shape& shape) const {
  std::vector<array> slots;
  for (auto& in : inputs)
    slots.push_back(in.shape() == shape ? in
                                        : array(shape, in.dtype(), std::make_shared<Broadcast>(stream()), {in}));
  for (const FusedStep& s : steps_) {
    const array& a = slots[s.args[0]];
    std::shared_ptr<Primitive> p;
    std::vector<array> ins = {a};
    switch (s.kind) {
      case FusedStep::Kind::unary: p = std::make_shared<Unary>(stream(), static_cast<UnaryOp>(s.op)); break;
      case FusedStep::Kind::binary:
        p = std::make_shared<Binary>(stream(), static_cast<BinaryOp>(s.op));
        ins.push_back(slots[s.args[1]]);
        break;
      case FusedStep::Kind::select:
        p = std::make_shared<Select>(stream());
        ins.push_back(slots[s.args[1]]), ins.push_back(slots[s.args[2]]);
        break;
      case FusedStep::Kind::cast: p = std::make_shared<AsType>(stream()); break;
    }
    slots.emplace_back(shape, s.dtype, std::move(p), std::move(ins));
  }
  std::vector<array> outs;
  for (int s : output_slots_) outs.push_back(slots[s]);
  if (reduction_) {
    const array& v = outs[0];
    outs[0] = array(kept_shape(shape, reduction_->axes), v.dtype(),
                    std::make_shared<Reduce>(stream(), reduction_->type, reduction_->axes), {v});
  }
  return outs;
}

namespace {

// The shape a shapeless replay gives a fused node: its inputs broadcast
// together. They hold every value the traced chain read for a shape (its
// inputs at the chain's shape and the arrays of the broadcasts it absorbed,
// compile_fuse.cpp), so this is the shape the unfused ops would give.
Shape replayed_chain_shape(const std::vector<array>& inputs, const std::string& op) {
  Shape shape;
  for (auto& in : inputs) shape = broadcast_shapes(shape, in.shape(), op);
  return shape;
}

}  // namespace

Shape Compiled::chain_shape(const std::vector<array>& inputs, const std::vector<array>& outputs) const {
  if (!reduction_) return outputs[0].shape();
  return reduction_->shapeless ? replayed_chain_shape(inputs, name()) : reduction_->shape;
}

std::vector<array> Compiled::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const Shape shape = chain_shape(primals, outputs);
  const size_t np = primals.size();
  // The vjp of the expanded chain, on primals then cotangents.
  ArrayFn backward = [this, shape, argnums, np](const std::vector<array>& in) {
    std::vector<array> all(in.begin(), in.begin() + np), active;
    const std::vector<array> cot(in.begin() + np, in.end());
    for (int a : argnums) active.push_back(all[a]);
    ArrayFn f = [&](const std::vector<array>& xs) {
      for (size_t k = 0; k < argnums.size(); ++k) all[argnums[k]] = xs[k];
      return expand(all, shape);
    };
    return detail::vjp_bilinear(f, active, cot).second;
  };
  std::vector<array> ins = primals;
  ins.insert(ins.end(), cotangents.begin(), cotangents.end());
  // Differentiating the expanded chain recomputes its forward ops: unfused,
  // that cost more than fusing the forward saved (the transformer LM's GELU,
  // forward and backward: 2.6 ms plain, 3.6 compiled). So the backward is
  // compiled too, once per signature. Inside another trace it stays plain:
  // the outer compile fuses it.
  if (detail::in_compile_trace() || compile_mode() != CompileMode::enabled) return backward(ins);
  std::shared_ptr<CompiledGraph> graph;
  {
    std::lock_guard lk(backward_mu_);
    for (auto& b : backward_)
      if (b.argnums == argnums && b.graph->accepts(ins)) graph = b.graph;
    if (!graph) {
      graph = std::make_shared<CompiledGraph>(backward, ins, false);
      constexpr size_t kMaxSignatures = 8;  // a shapeless forward meets many shapes
      if (backward_.size() == kMaxSignatures) backward_.erase(backward_.begin());
      backward_.push_back({argnums, graph});
    }
  }
  return (*graph)(ins);
}

std::pair<std::vector<array>, std::vector<int>> Compiled::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes,
                                                               const std::vector<array>& outputs) {
  // Inside, xs are one example's inputs: a shapeless chain's shape follows them.
  ArrayFn f = [this, &outputs](const std::vector<array>& xs) { return expand(xs, chain_shape(xs, outputs)); };
  auto outs = lmx::vmap(f, inputs, axes, {0});
  return {outs, std::vector<int>(outs.size(), 0)};
}

std::vector<Shape> Compiled::output_shapes(const std::vector<array>& inputs) {
  // Only shapeless replays ask (a fixed program knows its shapes).
  if (reduction_) return {kept_shape(chain_shape(inputs, {}), reduction_->axes)};
  return std::vector<Shape>(output_slots_.size(), replayed_chain_shape(inputs, name()));
}

}  // namespace lmx
