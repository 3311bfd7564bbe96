// Collectives on the CPU: the group's communicator works on row-major host
// buffers.
#include <cstring>

#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/row_major.h"
#include "lmx/primitives/distributed.h"

namespace lmx {

void DistributedOp::eval_cpu(const std::vector<array>& inputs, array& out) {
  distributed::Communicator* comm = group_.communicator();
  cpu::allocate(out);
  const size_t bytes = out.nbytes();
  if (kind_ == Kind::recv) {
    comm->recv(out.raw_ptr(), bytes, peer_);
    return;
  }
  array scratch;
  const array& x = inputs[0];
  const auto* in = cpu::row_major<char>(x, x.dtype(), scratch);
  switch (kind_) {
    case Kind::all_reduce:
      std::memcpy(out.raw_ptr(), in, bytes);
      comm->all_reduce(out.raw_ptr(), out.size(), out.dtype(), op_);
      break;
    case Kind::all_gather: comm->all_gather(in, out.raw_ptr(), x.nbytes()); break;
    case Kind::reduce_scatter: comm->reduce_scatter(in, out.raw_ptr(), out.size(), out.dtype(), op_); break;
    case Kind::send:
      comm->send(in, bytes, peer_);
      std::memcpy(out.raw_ptr(), in, bytes);
      break;
    case Kind::recv: break;
  }
}

}  // namespace lmx
