// array: a cheap handle to a node of the lazy graph. Ops build nodes; eval
// fills their buffers. Views share a buffer through Data and differ in
// shape, strides and offset.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "lmx/dtype.h"
#include "lmx/runtime/allocator.h"
#include "lmx/runtime/device.h"

namespace lmx {

using ShapeElem = int32_t;
using Shape = std::vector<ShapeElem>;
using Strides = std::vector<int64_t>;

class Primitive;
class array;
struct StreamQueue;

// Completion marker of a scheduled node: done once its stream has finished
// task number `seq`.
struct Event {
  std::shared_ptr<StreamQueue> queue;
  uint64_t seq = 0;
  bool valid() const { return queue != nullptr; }
  bool done() const;
  void wait() const;
};

struct Data;
namespace gpu {
// Makes the host copy of d's bytes current (defined by the GPU backend).
void copy_to_host(Data& d);
}  // namespace gpu

// Owns the bytes of one allocation; freed when the last view goes.
//
// Unified memory: the bytes may have a host copy (buffer) and a device copy
// (device_ptr, managed by the GPU backend); `residency` says which copies are
// current. A read on one side copies from the other once; a write on one side
// makes the other copy stale. Without a GPU backend only the host copy exists.
struct Data {
  static constexpr uint8_t kOnHost = 1, kOnDevice = 2;
  Buffer buffer;                         // host bytes; ptr null while they live only on a GPU
  std::function<void(Buffer)> release;  // empty: return to the CPU allocator
  size_t nbytes = 0;                     // size of the bytes, in either copy
  std::atomic<uint8_t> residency{kOnHost};
  void* device_ptr = nullptr;
  void* device_stream = nullptr;  // the backend stream that last used device_ptr
  // The backend's record of the batch of kernels that last wrote device_ptr
  // (null: none, or nothing to wait for): a host read of the bytes waits for
  // that batch alone, not for whatever the stream has queued since.
  std::shared_ptr<void> device_writer;
  explicit Data(Buffer b, std::function<void(Buffer)> r = {})
      : buffer(b), release(std::move(r)), nbytes(b.size) {}
  ~Data();
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

  bool on_host() const { return residency.load(std::memory_order_acquire) & kOnHost; }
  bool on_device() const { return residency.load(std::memory_order_acquire) & kOnDevice; }
  // After a host-side producer ran: if it could have written (the host copy
  // was current), the device copy is stale now.
  void host_may_have_written() {
    if (residency.load(std::memory_order_acquire) == (kOnHost | kOnDevice))
      residency.store(kOnHost, std::memory_order_release);
  }
};

struct Flags {
  bool contiguous = true;      // elements fill [0, data_size) with no gaps (any order)
  bool row_contiguous = true;  // C order
  bool col_contiguous = true;  // Fortran order
};

class array {
  struct Desc;  // defined below; named here for Weak

 public:
  // scheduling: a graph walk has taken the node but not yet handed it to
  // its stream with an event (async_eval's walk runs on a background
  // thread); scheduled: its event is set, which readers may then wait on.
  enum class Status : uint8_t { unscheduled, scheduling, scheduled, available };

  array() = default;
  // Scalars and host data: evaluated at construction.
  template <typename T>
    requires requires { dtype_of<T>::value; }
  explicit array(T value, Dtype dtype = dtype_of<T>::value);
  template <typename T>
  array(const T* data, Shape shape, Dtype dtype = dtype_of<T>::value);
  template <typename T>
  array(std::initializer_list<T> values, Dtype dtype = dtype_of<T>::value);
  // An allocated, uninitialised buffer (used by backends and loaders).
  array(Shape shape, Dtype dtype, std::shared_ptr<Data> data, Strides strides = {});
  // A lazy node.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  // Several outputs of one primitive, which become each other's siblings.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);

  // Metadata (valid without evaluation).
  const Shape& shape() const { return desc_->shape; }
  ShapeElem shape(int dim) const;  // negative dims count from the end
  const Strides& strides() const { return desc_->strides; }
  int64_t strides(int dim) const { return desc_->strides.at(dim); }
  int ndim() const { return static_cast<int>(desc_->shape.size()); }
  size_t size() const { return desc_->size; }
  Dtype dtype() const { return desc_->dtype; }
  size_t itemsize() const { return desc_->dtype.size(); }
  size_t nbytes() const { return size() * itemsize(); }
  bool valid() const { return desc_ != nullptr; }
  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }

  // Graph.
  bool has_primitive() const { return desc_->primitive != nullptr; }
  Primitive& primitive() const { return *desc_->primitive; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return desc_->primitive; }
  std::vector<array>& inputs() const { return desc_->inputs; }
  // All outputs of this node's primitive in output order (this one included);
  // outputs nobody holds any more are recreated as scratch arrays.
  std::vector<array> outputs() const;
  bool has_siblings() const { return !desc_->siblings.empty(); }
  int output_index() const { return desc_->position; }
  // Identifies one application of a primitive: equal for all outputs of a
  // multi-output node, distinct between nodes even when they share one
  // Primitive object (compiled functions replay theirs).
  uintptr_t node_id() const {
    return has_siblings() ? reinterpret_cast<uintptr_t>(desc_->output_meta.get()) : id();
  }
  // Forget the graph above this array (after evaluation, or to stop gradients).
  void detach();

  // Evaluation state.
  Status status() const { return desc_->status.load(std::memory_order_acquire); }
  void set_status(Status s) const { desc_->status.store(s, std::memory_order_release); }
  // Moves the status from `from` to `to` unless something else changed it.
  void advance_status(Status from, Status to) const { desc_->status.compare_exchange_strong(from, to, std::memory_order_acq_rel); }
  bool is_available() const;
  const Event& event() const { return desc_->event; }
  void set_event(Event e) const { desc_->event = std::move(e); }
  // A failure while computing this node, rethrown to whoever waits for it.
  std::exception_ptr error() const { return desc_->error; }
  void set_error(std::exception_ptr e) const { desc_->error = std::move(e); }
  void eval();   // evaluates and waits
  void wait();   // waits for a scheduled evaluation

  // Refers to an array without keeping it, or its buffer, alive: evaluation
  // uses it to report a failure on outputs it has already let go of.
  class Weak {
   public:
    array lock() const;  // an invalid array once every owner has dropped it
   private:
    friend class array;
    std::weak_ptr<Desc> desc_;
  };
  Weak weak() const;
  template <typename T>
  T item();

  // Data (valid once available).
  size_t data_size() const { return desc_->data_size; }
  const Flags& flags() const { return desc_->flags; }
  int64_t offset_bytes() const { return desc_->offset; }
  const std::shared_ptr<Data>& data_shared_ptr() const { return desc_->data; }
  Buffer& buffer() { return desc_->data->buffer; }
  template <typename T>
  T* data() { return reinterpret_cast<T*>(raw_ptr()); }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(raw_ptr()); }
  // Host address of the first element; fetches the bytes from the GPU first
  // when only the device copy is current.
  void* raw_ptr() const {
    Data& d = *desc_->data;
    if (!d.on_host()) [[unlikely]] gpu::copy_to_host(d);
    return static_cast<char*>(d.buffer.ptr) + desc_->offset;
  }
  // Gives this array a fresh buffer for a row-contiguous result.
  void set_data(std::shared_ptr<Data> data);
  void set_data(std::shared_ptr<Data> data, size_t data_size, Strides strides, Flags flags);
  // Makes this array a view of `other`'s buffer; `offset` counts elements of
  // this array's dtype from where `other` starts.
  void copy_shared_buffer(const array& other, Strides strides, Flags flags, size_t data_size,
                          int64_t offset = 0);
  void copy_shared_buffer(const array& other);  // same layout
  // True when `other` is this array's last user and its buffer may be reused.
  bool is_donatable() const;
  // How many handles refer to this array (its node's consumers, variables).
  long use_count() const { return desc_.use_count(); }

  bool operator==(const array&) const = delete;  // elementwise equal() is an op

 private:
  struct Desc {
    Shape shape;
    Strides strides;
    size_t size = 0;
    Dtype dtype;
    std::shared_ptr<Primitive> primitive;
    std::vector<array> inputs;
    std::vector<std::weak_ptr<Desc>> siblings;  // weak: siblings must not keep each other alive
    // Shapes and dtypes of all outputs, so a dropped sibling can be remade.
    std::shared_ptr<const std::vector<std::pair<Shape, Dtype>>> output_meta;
    int position = 0;
    std::atomic<Status> status{Status::unscheduled};
    Event event;
    std::exception_ptr error;
    std::shared_ptr<Data> data;
    int64_t offset = 0;  // bytes from the buffer's start
    size_t data_size = 0;
    Flags flags;
    Desc(Shape s, Dtype t);
    ~Desc();  // iterative, so a million-node chain does not overflow the stack
  };
  // Allocates a row-contiguous buffer and fills it from n host values of
  // type src_type, converting to this array's dtype.
  void init_from_host(const void* src, Dtype src_type);
  void read_item(void* dst, Dtype dst_type);
  friend class ArrayAccess;
  std::shared_ptr<Desc> desc_;
};

Strides row_major_strides(const Shape& shape);

// A new array of `dtype` holding a copy of host memory laid out with
// `strides` (in elements of src_type, possibly negative).
array copy_from_host(const void* src, Dtype src_type, const Shape& shape, const Strides& strides, Dtype dtype);
// Copies an evaluated array's elements, converted to dst_type, into
// row-major memory at dst.
void copy_to_host(const array& a, void* dst, Dtype dst_type);
size_t shape_size(const Shape& shape);  // product, checked for overflow

// ---- template definitions ----

template <typename T>
  requires requires { dtype_of<T>::value; }
array::array(T value, Dtype dtype) : array(Shape{}, dtype, std::shared_ptr<Data>{}) {
  init_from_host(&value, dtype_of<T>::value);
}

template <typename T>
array::array(const T* data, Shape shape, Dtype dtype) : array(std::move(shape), dtype, std::shared_ptr<Data>{}) {
  init_from_host(data, dtype_of<T>::value);
}

template <typename T>
array::array(std::initializer_list<T> values, Dtype dtype)
    : array(Shape{static_cast<ShapeElem>(values.size())}, dtype, std::shared_ptr<Data>{}) {
  init_from_host(std::data(values), dtype_of<T>::value);
}

template <typename T>
T array::item() {
  T out;
  read_item(&out, dtype_of<T>::value);
  return out;
}

namespace detail {
// A compiled step runs its program inside its own node (transforms/
// compile_step.cpp), and that node holds handles on the step's inputs until
// it is done. While the scope lives, the calling thread's donation checks
// discount those handles: an input nobody else holds may be donated to the
// program's nodes, as it would be were the program's nodes evaluated one by
// one. `held` maps an input's id() to the step node's handles on it.
class StepInputHandles {
 public:
  explicit StepInputHandles(const std::vector<std::pair<uintptr_t, long>>& held);
  ~StepInputHandles();
  StepInputHandles(const StepInputHandles&) = delete;
  StepInputHandles& operator=(const StepInputHandles&) = delete;
  // The handles to discount for the array with this id (0 outside a scope).
  static long discount(uintptr_t id);

 private:
  const std::vector<std::pair<uintptr_t, long>>* previous_;
};
}  // namespace detail

}  // namespace lmx
