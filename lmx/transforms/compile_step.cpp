#include "lmx/transforms/compile_step.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "lmx/runtime/gpu.h"
#include "lmx/transforms/autodiff.h"
#include "lmx/transforms/vmap.h"

namespace lmx {

namespace {

using Program = CompiledGraph::Program;

// Calls that build the program's nodes before the first recording: the
// first call meets its shapes (kernel choices, compiled fused kernels,
// library workspaces), and that set-up cannot all be captured.
constexpr int kWarmCalls = 2;
// A call whose inputs no longer fit the recording (an input read in place
// now lives elsewhere) records again; past this many recordings the calls
// go back to the program's nodes.
constexpr int kMaxRecordings = 4;
// Shorter programs save too little host time to be worth a recording.
constexpr size_t kMinNodes = 8;
// Outputs left in the recording's memory are copied out on every launch,
// since the next launch rewrites them: a recording pays while those copies
// are small next to the host time it saves (a few microseconds a node).
constexpr size_t kCopyBytesPerNode = size_t{256} << 10;

// How an array lies in its buffer.
struct Layout {
  Strides strides;
  Flags flags;
  size_t data_size = 0;
  int64_t offset = 0;  // bytes from the buffer's start

  static Layout of(const array& a) { return {a.strides(), a.flags(), a.data_size(), a.offset_bytes()}; }
  // The same strides, flags and extent (the offset aside).
  bool same_shape_in_buffer(const Layout& o) const {
    return strides == o.strides && data_size == o.data_size && flags.contiguous == o.flags.contiguous &&
           flags.row_contiguous == o.flags.row_contiguous && flags.col_contiguous == o.flags.col_contiguous;
  }
};

// Runs the program's nodes one after another on this thread, each
// primitive's eval_gpu as the stream's worker would run it. A value is let
// go of after its last use, so the nodes donate buffers as they would when
// evaluated one by one. Returns the program's outputs.
std::vector<array> run_program(const Program& p, const std::vector<size_t>& last_use, std::vector<array> inputs) {
  std::vector<array> vals(p.values.size());
  for (size_t i = 0; i < inputs.size(); ++i) vals[i] = std::move(inputs[i]);
  auto value = [&](int v) { return vals[v].valid() ? vals[v] : p.values[v].constant; };
  for (size_t k = 0; k < p.nodes.size(); ++k) {
    const auto& n = p.nodes[k];
    std::vector<array> ins;
    ins.reserve(n.inputs.size());
    for (int v : n.inputs) ins.push_back(value(v));
    for (int v : n.inputs)
      if (last_use[v] == k) vals[v] = array();
    auto outs = compile_passes::apply(p, n.outputs, n.primitive, std::move(ins));
    n.primitive->eval_gpu(outs[0].inputs(), outs);
    for (auto& o : outs) o.set_status(array::Status::available);
    outs[0].detach();
    for (size_t j = 0; j < outs.size(); ++j) vals[n.outputs[j]] = std::move(outs[j]);
  }
  std::vector<array> result;
  for (int v : p.outputs) result.push_back(value(v));
  return result;
}

}  // namespace

class StepReplay {
 public:
  StepReplay(std::shared_ptr<const Program> program, Stream stream)
      : program_(std::move(program)), stream_(stream), slot_(program_->num_inputs, 0) {
    const Program& p = *program_;
    last_use_.assign(p.values.size(), 0);
    for (size_t k = 0; k < p.nodes.size(); ++k)
      for (int v : p.nodes[k].inputs) last_use_[v] = k;
    for (int v : p.outputs) last_use_[v] = std::numeric_limits<size_t>::max();
    for (size_t v = 0; v < p.values.size(); ++v)
      if (p.values[v].constant.valid()) constants_.push_back(static_cast<int>(v));
  }

  const std::shared_ptr<const Program>& program() const { return program_; }
  const Stream& stream() const { return stream_; }
  const std::vector<int>& constants() const { return constants_; }

  bool take_call() {
    return !given_up_.load(std::memory_order_acquire) && calls_.fetch_add(1, std::memory_order_relaxed) >= kWarmCalls;
  }

  void eval(const std::vector<array>& inputs, std::vector<array>& outputs) {
    std::lock_guard lk(mu_);
    auto held = step_handles(inputs, outputs);
    detail::StepInputHandles handles(held);
    if (recording_) {
      if (fits(*recording_, inputs)) return launch(*recording_, inputs, outputs);
      recording_.reset();
    }
    if (!given_up_.load(std::memory_order_relaxed) && recordings_ < kMaxRecordings) {
      ++recordings_;
      if ((recording_ = record(inputs))) return launch(*recording_, inputs, outputs);
    }
    // Something in the program cannot be recorded, or its inputs keep
    // moving: this call runs its nodes here, later calls build them.
    given_up_.store(true, std::memory_order_release);
    run_here(inputs, outputs);
  }

 private:
  struct Input {
    Layout layout;
    // Read in place: the device address the graph reads. Otherwise each
    // launch first copies the input into `slot`, memory of the recording.
    const void* address = nullptr;
    std::shared_ptr<Data> slot;
  };
  struct Output {
    enum class Source { input, constant, recording } source;
    int input = -1;        // Source::input: which
    array constant;        // Source::constant: the program's constant
    std::shared_ptr<Data> kept;  // Source::recording: the buffer the graph writes
    Layout layout;
  };
  struct Recording {
    std::unique_ptr<gpu::StepGraph> graph;
    std::vector<Input> inputs;
    std::vector<Output> outputs;
  };

  // The step node's own handles on each input: one per output that still
  // holds the node's inputs, times the input's repeats in the list.
  static std::vector<std::pair<uintptr_t, long>> step_handles(const std::vector<array>& inputs,
                                                              const std::vector<array>& outputs) {
    long lists = 0;
    for (auto& o : outputs) lists += o.inputs().size() == inputs.size();
    std::unordered_map<uintptr_t, long> repeats;
    for (auto& in : inputs) ++repeats[in.id()];
    std::vector<std::pair<uintptr_t, long>> held;
    held.reserve(repeats.size());
    for (auto& [id, n] : repeats) held.emplace_back(id, n * lists);
    return held;
  }

  // A slot takes an input's elements as one run of bytes from its first
  // element on, laid out as in the input: its elements must fill that run.
  static bool copyable(const array& a) {
    if (!a.flags().contiguous || a.data_size() != a.size()) return false;
    for (int64_t st : a.strides())
      if (st < 0) return false;
    return true;
  }

  // Nobody but the step holds `a` (inside the step's StepInputHandles): the
  // graph may overwrite it. A copy stands for the node that would consume it.
  static bool donatable(const array& a) {
    array consumer = a;
    return consumer.is_donatable();
  }

  bool fits(const Recording& r, const std::vector<array>& inputs) {
    bool fit = true;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      const Input& in = r.inputs[i];
      Layout now = Layout::of(inputs[i]);
      if (!now.same_shape_in_buffer(in.layout)) {
        slot_[i] = 1;
        fit = false;
      } else if (!in.slot && (now.offset != in.layout.offset || !donatable(inputs[i]) ||
                              gpu::device_address(inputs[i], stream_) != in.address)) {
        slot_[i] = 1;  // the next recording copies it in
        fit = false;
      }
    }
    return fit;
  }

  std::unique_ptr<Recording> record(const std::vector<array>& inputs) {
    const Program& p = *program_;
    const Stream& s = stream_;
    // What the program reads from outside must be on the device for this
    // stream first: uploads and waits for other streams cannot be recorded.
    for (int v : constants_) gpu::device_address(p.values[v].constant, s);
    auto r = std::make_unique<Recording>();
    size_t n = static_cast<size_t>(p.num_inputs);
    r->inputs.resize(n);
    std::vector<array> ins(n);
    for (size_t i = 0; i < n; ++i) {
      r->inputs[i].layout = Layout::of(inputs[i]);
      if (!slot_[i] && donatable(inputs[i])) {
        r->inputs[i].address = gpu::device_address(inputs[i], s);
        ins[i] = inputs[i];
      } else if (!copyable(inputs[i])) {
        return nullptr;  // a view a slot cannot hold as it is
      }
    }
    std::vector<array> outs;
    r->graph = gpu::record_step(s, [&] {
      for (size_t i = 0; i < n; ++i) {
        if (ins[i].valid()) continue;
        // A slot is allocated inside the recording: its memory belongs to it.
        const array& a = inputs[i];
        auto& slot = r->inputs[i].slot = gpu::device_buffer(a.data_size() * a.itemsize(), s);
        ins[i] = array(a.shape(), a.dtype(), slot);
        ins[i].set_data(slot, a.data_size(), a.strides(), a.flags());
      }
      outs = run_program(p, last_use_, std::move(ins));
    });
    if (!r->graph) return nullptr;
    // Where each output's bytes are.
    size_t copied = 0;
    for (auto& o : outs) {
      Output out{Output::Source::recording, -1, {}, {}, Layout::of(o)};
      const Data* d = o.data_shared_ptr().get();
      if (out.layout.offset % static_cast<int64_t>(o.itemsize()) != 0) return nullptr;
      for (size_t i = 0; i < n && out.input < 0; ++i)
        if (!r->inputs[i].slot && inputs[i].data_shared_ptr().get() == d) out.input = static_cast<int>(i);
      if (out.input >= 0) {
        out.source = Output::Source::input;
      } else {
        for (int v : constants_)
          if (p.values[v].constant.data_shared_ptr().get() == d) out.constant = p.values[v].constant;
        if (out.constant.valid()) {
          out.source = Output::Source::constant;
        } else if (r->graph->owns(d->device_ptr) && d->nbytes <= size_t{std::numeric_limits<ShapeElem>::max()}) {
          out.kept = o.data_shared_ptr();
          copied += d->nbytes;
        } else {
          return nullptr;  // bytes from somewhere a launch cannot account for
        }
      }
      r->outputs.push_back(std::move(out));
    }
    if (copied > kCopyBytesPerNode * p.nodes.size()) return nullptr;
    return r;
  }

  void launch(const Recording& r, const std::vector<array>& inputs, std::vector<array>& outputs) {
    const Stream& s = stream_;
    std::vector<gpu::DeviceCopy> copies;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      const Input& in = r.inputs[i];
      if (in.slot)
        copies.push_back({in.slot->device_ptr, gpu::device_address(inputs[i], s),
                          inputs[i].data_size() * inputs[i].itemsize()});
    }
    gpu::launch_step(*r.graph, s, copies);
    // Inputs read in place may have been overwritten (they were donated).
    for (size_t i = 0; i < r.inputs.size(); ++i)
      if (!r.inputs[i].slot) gpu::mark_device_written(*inputs[i].data_shared_ptr(), s);
    for (size_t k = 0; k < outputs.size(); ++k) {
      const Output& o = r.outputs[k];
      array& out = outputs[k];
      auto place = [&](const array& buffer) {
        out.copy_shared_buffer(buffer, o.layout.strides, o.layout.flags, o.layout.data_size,
                               (o.layout.offset - buffer.offset_bytes()) / static_cast<int64_t>(out.itemsize()));
      };
      switch (o.source) {
        case Output::Source::input:
          place(inputs[o.input]);
          break;
        case Output::Source::constant:
          place(o.constant);
          break;
        case Output::Source::recording: {
          // The next launch rewrites the recording's buffer: the caller gets a copy.
          size_t bytes = o.kept->nbytes;
          auto fresh = gpu::device_buffer(bytes, s);
          gpu::copy_on_device(fresh->device_ptr, o.kept->device_ptr, bytes, s);
          place(array(Shape{static_cast<ShapeElem>(bytes)}, uint8, std::move(fresh)));
          break;
        }
      }
    }
  }

  void run_here(const std::vector<array>& inputs, std::vector<array>& outputs) {
    auto outs = run_program(*program_, last_use_,
                            std::vector<array>(inputs.begin(), inputs.begin() + program_->num_inputs));
    for (size_t k = 0; k < outputs.size(); ++k) outputs[k].copy_shared_buffer(outs[k]);
  }

  const std::shared_ptr<const Program> program_;
  const Stream stream_;
  std::vector<size_t> last_use_;  // per value: the last node that reads it
  std::vector<int> constants_;    // the values that are constants
  std::atomic<int> calls_{0};
  std::atomic<bool> given_up_{false};
  std::mutex mu_;  // the rest: one call evaluates at a time
  std::vector<char> slot_;  // per input: copy it in (it was not donatable, or moved)
  int recordings_ = 0;
  std::unique_ptr<Recording> recording_;
};

void CompiledStep::eval_cpu(const std::vector<array>&, std::vector<array>&) {
  throw std::logic_error("[compiled_step] A compiled step runs on GPU streams only.");
}

void CompiledStep::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  replay_->eval(inputs, outputs);
}

namespace {
ArrayFn program_function(std::shared_ptr<const Program> program) {
  return [program = std::move(program)](const std::vector<array>& xs) {
    return compile_passes::replay(*program, xs, false);
  };
}
}  // namespace

std::vector<array> CompiledStep::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                     const std::vector<int>& argnums, const std::vector<array>&) {
  size_t n = static_cast<size_t>(replay_->program()->num_inputs);
  std::vector<array> xs(primals.begin(), primals.begin() + n);
  auto grads = lmx::vjp(program_function(replay_->program()), xs, cotangents).second;
  std::vector<array> out;
  for (int a : argnums) out.push_back(static_cast<size_t>(a) < n ? grads[a] : array());  // constants: none
  return out;
}

std::pair<std::vector<array>, std::vector<int>> CompiledStep::vmap(const std::vector<array>& inputs,
                                                                   const std::vector<int>& axes,
                                                                   const std::vector<array>&) {
  size_t n = static_cast<size_t>(replay_->program()->num_inputs);
  std::vector<array> xs(inputs.begin(), inputs.begin() + n);
  std::vector<int> x_axes(axes.begin(), axes.begin() + n);
  auto outs = lmx::vmap(program_function(replay_->program()), xs, x_axes, {0});
  return {outs, std::vector<int>(outs.size(), 0)};
}

std::shared_ptr<StepReplay> compile_passes::step_replay(const std::shared_ptr<const Program>& program,
                                                        const Device& device, bool shapeless) {
  const Program& p = *program;
  if (shapeless || device.type != Device::Type::gpu || !gpu::step_graphs_enabled()) return nullptr;
  if (p.nodes.size() < kMinNodes || p.outputs.empty()) return nullptr;
  Stream stream = p.nodes[0].primitive->stream();
  if (stream.device.type != Device::Type::gpu) return nullptr;
  for (auto& n : p.nodes)
    if (!(n.primitive->stream() == stream)) return nullptr;
  return std::make_shared<StepReplay>(program, stream);
}

std::vector<array> compile_passes::step_call(const std::shared_ptr<StepReplay>& replay,
                                             const std::vector<array>& inputs) {
  // Under a transform the program's nodes are what it differentiates or
  // batches; a step node's rules would run the program a second time.
  if (!replay || detail::in_transform_trace() || !replay->take_call()) return {};
  const Program& p = *replay->program();
  auto primitive = std::make_shared<CompiledStep>(replay->stream(), replay);
  // The program's constants are not the node's inputs, but one still being
  // computed must be waited for like one: it joins them.
  std::vector<array> deps = inputs;
  for (int v : replay->constants()) {
    const array& c = p.values[v].constant;
    if (c.error()) return {};  // the program's nodes report it
    if (!c.is_available()) deps.push_back(c);
  }
  return compile_passes::apply(p, p.outputs, primitive, std::move(deps));
}

}  // namespace lmx
