// Collectives and point-to-point transfers between processes as graph nodes:
// they run when evaluated, on the group's communicator (on the host; a GPU
// stream's node copies through host memory).
#pragma once

#include "lmx/distributed/group.h"
#include "lmx/primitives/primitive.h"

namespace lmx {

class DistributedOp : public UnaryPrimitive {
 public:
  // all_reduce: x -> the reduction of every rank's x. all_gather: x -> every
  // rank's x stacked along axis 0. reduce_scatter: x -> this rank's slice
  // (axis 0) of the sum. send: x -> x, sent to `peer`. recv: () -> the array
  // `peer` sent.
  enum class Kind : uint8_t { all_reduce, all_gather, reduce_scatter, send, recv };

  DistributedOp(Stream s, distributed::Group group, Kind kind,
                distributed::ReduceOp op = distributed::ReduceOp::sum, int peer = -1)
      : UnaryPrimitive(s), group_(std::move(group)), kind_(kind), op_(op), peer_(peer) {}
  LMX_DECLARE_EVAL
  LMX_DECLARE_VJP
  std::string name() const override;
  Kind kind() const { return kind_; }
  const distributed::Group& group() const { return group_; }

 private:
  distributed::Group group_;
  Kind kind_;
  distributed::ReduceOp op_;
  int peer_;
};

}  // namespace lmx
