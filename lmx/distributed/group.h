// Process groups for distributed work (mx.distributed): the group a process
// belongs to, and the communicator behind it that moves bytes between its
// processes. Without a launcher's environment a process is a group of one,
// in which every collective is the identity (as in MLX).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "lmx/dtype.h"

namespace lmx::distributed {

enum class ReduceOp : uint8_t { sum, max, min };

// Moves data between the processes of a group. Calls block until this
// process's part is done; every process of the group makes the same
// collective calls in the same order. Failures (a peer gone, a socket
// error) throw std::runtime_error naming the backend.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;
  // data (n elements) <- the elementwise reduction of every process's data;
  // every process gets the same bits.
  virtual void all_reduce(void* data, size_t n, Dtype dtype, ReduceOp op) = 0;
  // out (size * bytes) <- every process's `bytes` at `in`, by rank.
  virtual void all_gather(const void* in, void* out, size_t bytes) = 0;
  // out (n_out elements) <- this rank's n_out-element slice of the reduction
  // of every process's in (size * n_out elements).
  virtual void reduce_scatter(const void* in, void* out, size_t n_out, Dtype dtype, ReduceOp op) = 0;
  virtual void send(const void* data, size_t bytes, int dst) = 0;
  virtual void recv(void* data, size_t bytes, int src) = 0;
};

class Group {
 public:
  Group() = default;  // this process alone
  explicit Group(std::shared_ptr<Communicator> comm) : comm_(std::move(comm)) {}
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int size() const { return comm_ ? comm_->size() : 1; }
  // Splits into subgroups by color, ordered by key (no backend of lmx has it
  // yet: it raises, naming the backend).
  Group split(int color, int key = -1) const;
  // Null for a group of one.
  Communicator* communicator() const { return comm_.get(); }

 private:
  std::shared_ptr<Communicator> comm_;
};

// Whether lmx can create a backend of this name ("any", "ring"; "mpi",
// "nccl" and "jaccl" are not built).
bool is_available(const std::string& backend = "any");

// Creates the global group from the launcher's environment (MLX_RANK and
// MLX_HOSTFILE, as mlx.launch and lmx.launch set them), once; later calls
// return it. Without that environment: a group of this process alone, or,
// when strict, std::runtime_error.
Group init(bool strict = false, const std::string& backend = "any");

}  // namespace lmx::distributed
