#include "lmx/distributed/ops.h"

#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/distributed.h"

namespace lmx::distributed {

namespace {

using Kind = DistributedOp::Kind;

Group resolve(const OptGroup& g) { return g ? *g : init(); }

array make(const Group& g, Kind kind, ReduceOp op, int peer, Shape shape, Dtype dtype, std::vector<array> inputs,
           StreamOrDevice s) {
  return array(std::move(shape), dtype, std::make_shared<DistributedOp>(to_stream(s), g, kind, op, peer),
               std::move(inputs));
}

array reduce(const array& x, const OptGroup& group, ReduceOp op, const char* name, StreamOrDevice s) {
  Group g = resolve(group);
  if (op != ReduceOp::sum && is_complex(x.dtype()))
    throw std::invalid_argument(std::string("[") + name + "] complex64 has no order.");
  if (g.size() == 1) return x;
  return make(g, Kind::all_reduce, op, -1, x.shape(), x.dtype(), {x}, s);
}

void check_peer(const Group& g, int peer, const char* op, const char* what) {
  if (g.size() == 1)
    throw std::invalid_argument(std::string("[") + op + "] Cannot " + op + " " + what + " a singleton group.");
  if (peer < 0 || peer >= g.size() || peer == g.rank())
    throw std::invalid_argument(std::string("[") + op + "] Invalid " + (std::string(op) == "send" ? "dst" : "src") +
                                " " + std::to_string(peer) + " for rank " + std::to_string(g.rank()) +
                                " of a group of " + std::to_string(g.size()) + ".");
}

}  // namespace

array all_sum(const array& x, const OptGroup& group, StreamOrDevice s) {
  return reduce(x, group, ReduceOp::sum, "all_sum", s);
}
array all_max(const array& x, const OptGroup& group, StreamOrDevice s) {
  return reduce(x, group, ReduceOp::max, "all_max", s);
}
array all_min(const array& x, const OptGroup& group, StreamOrDevice s) {
  return reduce(x, group, ReduceOp::min, "all_min", s);
}

array all_gather(const array& x, const OptGroup& group, StreamOrDevice s) {
  Group g = resolve(group);
  if (g.size() == 1) return x;
  array in = x.ndim() == 0 ? reshape(x, {1}, s) : x;
  Shape shape = in.shape();
  shape[0] *= g.size();
  return make(g, Kind::all_gather, ReduceOp::sum, -1, shape, x.dtype(), {in}, s);
}

array sum_scatter(const array& x, const OptGroup& group, StreamOrDevice s) {
  Group g = resolve(group);
  if (g.size() == 1) return x;
  if (x.ndim() == 0 || x.shape(0) % g.size() != 0)
    throw std::invalid_argument("[sum_scatter] The first axis (shape " + shape_string(x.shape()) +
                                ") must split evenly over the group's " + std::to_string(g.size()) + " processes.");
  Shape shape = x.shape();
  shape[0] /= g.size();
  return make(g, Kind::reduce_scatter, ReduceOp::sum, -1, shape, x.dtype(), {x}, s);
}

array send(const array& x, int dst, const OptGroup& group, StreamOrDevice s) {
  Group g = resolve(group);
  check_peer(g, dst, "send", "to");
  return make(g, Kind::send, ReduceOp::sum, dst, x.shape(), x.dtype(), {x}, s);
}

array recv(const Shape& shape, Dtype dtype, int src, const OptGroup& group, StreamOrDevice s) {
  Group g = resolve(group);
  check_peer(g, src, "recv", "from");
  for (auto d : shape)
    if (d < 0) throw std::invalid_argument("[recv] Negative dimensions are not allowed: " + shape_string(shape) + ".");
  return make(g, Kind::recv, ReduceOp::sum, src, shape, dtype, {}, s);
}

array recv_like(const array& x, int src, const OptGroup& group, StreamOrDevice s) {
  return recv(x.shape(), x.dtype(), src, group, s);
}

}  // namespace lmx::distributed
