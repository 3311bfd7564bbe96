#include "lmx/array.h"

#include <mutex>
#include <stdexcept>
#include <string>

#include "lmx/backend/cpu/copy.h"
#include "lmx/primitives/primitive.h"
#include "lmx/runtime/gpu.h"
#include "lmx/runtime/scheduler.h"
#include "lmx/transforms/eval.h"

namespace lmx {

Data::~Data() {
  if (device_ptr) gpu::release_device(*this);
  if (release) release(buffer);
  else cpu_allocator().free(buffer);
}

size_t shape_size(const Shape& shape) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[array] Negative dimensions are not allowed.");
    if (d != 0 && n > SIZE_MAX / static_cast<size_t>(d))
      throw std::invalid_argument("[array] Shape is too large.");
    n *= static_cast<size_t>(d);
  }
  return n;
}

Strides row_major_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  return s;
}

array::Desc::Desc(Shape s, Dtype t) : shape(std::move(s)), dtype(t) {
  size = shape_size(shape);
  strides = row_major_strides(shape);
}

array::Desc::~Desc() {
  // Unlink the graph above this node without recursion: nodes whose only
  // owner is this subgraph are moved onto an explicit stack and emptied there.
  std::vector<std::shared_ptr<Desc>> stack;
  auto take_inputs = [&stack](std::vector<array>& ins) {
    for (auto& in : ins)
      if (in.desc_ && in.desc_.use_count() == 1) stack.push_back(std::move(in.desc_));
    ins.clear();
  };
  take_inputs(inputs);
  while (!stack.empty()) {
    auto d = std::move(stack.back());
    stack.pop_back();
    take_inputs(d->inputs);
  }
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Data> data, Strides strides)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  if (data) {
    if (!strides.empty()) desc_->strides = std::move(strides);
    desc_->data = std::move(data);
    desc_->data_size = desc_->size;
    desc_->status = Status::available;
  }
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs)
    : desc_(std::make_shared<Desc>(std::move(shape), dtype)) {
  desc_->primitive = std::move(primitive);
  desc_->inputs = std::move(inputs);
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  auto meta = std::make_shared<std::vector<std::pair<Shape, Dtype>>>();
  for (size_t i = 0; i < shapes.size(); ++i) meta->emplace_back(shapes[i], dtypes[i]);
  std::vector<array> outs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outs.emplace_back(std::move(shapes[i]), dtypes[i], primitive, inputs);
    outs.back().desc_->position = static_cast<int>(i);
    outs.back().desc_->output_meta = meta;
  }
  for (auto& a : outs)
    for (auto& b : outs)
      if (a.desc_ != b.desc_) a.desc_->siblings.push_back(b.desc_);
  return outs;
}

ShapeElem array::shape(int dim) const {
  int n = ndim();
  if (dim < -n || dim >= n)
    throw std::out_of_range("[array::shape] Dimension " + std::to_string(dim) +
                            " is out of range for an array with " + std::to_string(n) + " dimensions.");
  return desc_->shape[dim < 0 ? dim + n : dim];
}

std::vector<array> array::outputs() const {
  if (desc_->siblings.empty()) return {*this};
  std::vector<array> outs(desc_->siblings.size() + 1);
  outs[desc_->position] = *this;
  for (auto& w : desc_->siblings) {
    // Other outputs are siblings of each other in the same order everywhere;
    // a dropped one is rebuilt as a scratch array the primitive can write into.
    if (auto d = w.lock()) {
      array a;
      a.desc_ = std::move(d);
      outs[a.desc_->position] = std::move(a);
    }
  }
  bool rebuilt = false;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i].valid()) {
      auto& [shape, dtype] = (*desc_->output_meta)[i];
      outs[i] = array(shape, dtype, desc_->primitive, desc_->inputs);
      outs[i].desc_->position = static_cast<int>(i);
      outs[i].desc_->output_meta = desc_->output_meta;
      rebuilt = true;
    }
  }
  if (rebuilt) {
    // Relink all outputs as siblings, so that a rebuilt one used in a new
    // graph (a vjp rule reading an output nobody kept) evaluates the whole
    // primitive like any other output.
    static std::mutex relink;
    std::lock_guard lk(relink);
    for (auto& a : outs) {
      a.desc_->siblings.clear();
      for (auto& b : outs)
        if (a.desc_ != b.desc_) a.desc_->siblings.push_back(b.desc_);
    }
  }
  return outs;
}

void array::detach() {
  for (auto& w : desc_->siblings)
    if (auto d = w.lock()) {
      d->inputs.clear();
      d->primitive = nullptr;
      d->siblings.clear();
    }
  desc_->inputs.clear();
  desc_->primitive = nullptr;
  desc_->siblings.clear();
}

bool array::is_available() const {
  auto s = status();
  if (s == Status::available) return true;
  // The event is read only once the status says it is set (see Status).
  if (s == Status::scheduled && desc_->event.valid() && desc_->event.done()) {
    set_status(Status::available);
    return true;
  }
  return false;
}

void array::eval() {
  if (!is_available()) lmx::eval({*this});
  if (desc_->error) std::rethrow_exception(desc_->error);
}

array::Weak array::weak() const {
  Weak w;
  w.desc_ = desc_;
  return w;
}

array array::Weak::lock() const {
  array a;
  a.desc_ = desc_.lock();
  return a;
}

void array::wait() {
  // Taken by a walk still running on async_eval's thread: its event comes
  // with the end of that walk.
  if (status() == Status::scheduling) scheduler::wait_for_deferred();
  if (!is_available()) {
    if (desc_->event.valid()) desc_->event.wait();
    set_status(Status::available);
  }
  if (desc_->error) std::rethrow_exception(desc_->error);
}

void array::set_data(std::shared_ptr<Data> data) {
  desc_->data = std::move(data);
  desc_->data_size = desc_->size;
  desc_->strides = row_major_strides(desc_->shape);
  desc_->flags = Flags{};
  desc_->offset = 0;
}

void array::set_data(std::shared_ptr<Data> data, size_t data_size, Strides strides, Flags flags) {
  desc_->data = std::move(data);
  desc_->data_size = data_size;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->offset = 0;
}

void array::copy_shared_buffer(const array& other, Strides strides, Flags flags, size_t data_size,
                               int64_t offset) {
  desc_->data = other.desc_->data;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->data_size = data_size;
  desc_->offset = other.desc_->offset + offset * static_cast<int64_t>(itemsize());
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

namespace {
thread_local const std::vector<std::pair<uintptr_t, long>>* tl_step_input_handles = nullptr;
}  // namespace

detail::StepInputHandles::StepInputHandles(const std::vector<std::pair<uintptr_t, long>>& held)
    : previous_(tl_step_input_handles) {
  tl_step_input_handles = &held;
}

detail::StepInputHandles::~StepInputHandles() { tl_step_input_handles = previous_; }

long detail::StepInputHandles::discount(uintptr_t id) {
  if (!tl_step_input_handles) return 0;
  for (auto& [held_id, n] : *tl_step_input_handles)
    if (held_id == id) return n;
  return 0;
}

bool array::is_donatable() const {
  // Only the consuming node refers to this array and only this array to its
  // buffer: nobody can observe the overwrite.
  long owners = desc_.use_count();
  if (owners > 1) owners -= detail::StepInputHandles::discount(id());
  return owners == 1 && desc_->data && desc_->data.use_count() == 1 &&
         desc_->flags.row_contiguous && desc_->data_size == desc_->size && !desc_->data->release;
}

void array::init_from_host(const void* src, Dtype src_type) {
  auto bytes = size() * itemsize();
  set_data(std::make_shared<Data>(cpu_allocator().malloc(bytes)));
  cpu::convert_contiguous(src, src_type, desc_->data->buffer.ptr, dtype(), size());
  set_status(Status::available);
}

void array::read_item(void* dst, Dtype dst_type) {
  if (size() != 1)
    throw std::invalid_argument("[item] Only arrays of size 1 can be converted to a scalar; this one has " +
                                std::to_string(size()) + " elements.");
  eval();
  cpu::convert_contiguous(raw_ptr(), dtype(), dst, dst_type, 1);
}

array copy_from_host(const void* src, Dtype src_type, const Shape& shape, const Strides& strides, Dtype dtype) {
  // Wrap the foreign memory without owning it, then copy-convert out of it.
  array view(shape, src_type, std::make_shared<Data>(Buffer{const_cast<void*>(src), 0}, [](Buffer) {}), strides);
  array out(shape, dtype, std::shared_ptr<Data>{});
  out.set_data(std::make_shared<Data>(cpu_allocator().malloc(out.nbytes())));
  cpu::copy_to_strided(view, out.raw_ptr(), dtype, out.strides());
  out.set_status(array::Status::available);
  return out;
}

void copy_to_host(const array& a, void* dst, Dtype dst_type) {
  cpu::copy_to_strided(a, dst, dst_type, row_major_strides(a.shape()));
}

}  // namespace lmx
