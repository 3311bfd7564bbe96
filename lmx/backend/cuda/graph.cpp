// CUDA graphs for the batches of nodes a GPU stream's worker runs (see
// cuda.h): capture in segments, the cache of executable graphs that later
// captures update in place, and the lock that keeps other threads from
// queueing work on a stream while it is being captured; and the event that
// marks each batch's end for the readers of what it wrote.
#include <cuda.h>
#include <cuda_runtime.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lmx/backend/cuda/cuda.h"
#include "lmx/runtime/env.h"
#include "lmx/runtime/gpu.h"
#include "lmx/runtime/hash.h"
#include "lmx/transforms/eval_profile.h"

namespace lmx::cu {

namespace {

// LMX_CUDA_GRAPHS: 1 (the default) captures a batch once it has been seen
// before, so a one-off graph never pays for instantiation; 0 launches every
// kernel on its own; `always` captures every batch (for tests). Captured
// kernels cost the host ~0.5 us to record against ~2.8 us to launch, while
// ending, updating and launching each segment costs ~30 us and the device
// waits while a segment is recorded: decode gains (figures below).
enum class GraphMode { off, repeated, always };

GraphMode graph_mode() {
  static const GraphMode mode = [] {
    const char* env = std::getenv("LMX_CUDA_GRAPHS");
    std::string v = env ? env : "";
    // On by default since decode measured faster with them: Qwen3-4B shape
    // on an H200, graphs on against off in one run, 175.5 against 146.3
    // tok/s in bf16 and 174.5 against 161.2 at 4 bits (benchmarks/gpu_lm.py).
    if (v == "0") return GraphMode::off;
    if (v.empty() || v == "1") return GraphMode::repeated;
    if (v == "always") return GraphMode::always;
    throw std::invalid_argument("[cuda] LMX_CUDA_GRAPHS must be 0, 1 or always, got '" + v + "'.");
  }();
  return mode;
}

// Nodes per segment (LMX_CUDA_GRAPH_NODES, default 32). The device starts
// on a segment only once it is launched: short segments let it work while
// the host records the next one; long ones spread the cost of ending a
// capture and launching it over more kernels.
int segment_nodes() {
  static const int n = [] {
    const char* env = std::getenv("LMX_CUDA_GRAPH_NODES");
    int v = env ? std::atoi(env) : 0;
    return v > 0 ? v : 32;
  }();
  return n;
}

// A batch whose captures keep failing to update the graph recorded for it
// (its kernels differ from run to run) goes back to plain launches:
// instantiating a graph costs more than launching its kernels.
constexpr int kMaxFailedUpdates = 3;
// Executable graphs kept per stream: a decode step of a 36-layer LLM is
// ~1100 nodes, ~35 segments of 32.
constexpr size_t kMaxExecs = 256;
// Distinct batches remembered per stream before the record starts over.
constexpr size_t kMaxBatchesSeen = 4096;

// What the graphs did, printed at exit under LMX_EVAL_PROFILE=1.
struct GraphStats {
  std::atomic<uint64_t> batches{0}, captured_batches{0}, segments{0}, kernels{0}, updates{0}, refused{0},
      instantiations{0}, end_ns{0}, begin_ns{0}, end_capture_ns{0}, signature_ns{0}, exec_ns{0}, launch_ns{0},
      steps_recorded{0}, step_launches{0};
  std::mutex mu;
  std::map<std::string, uint64_t> pauses, step_refusals;
  void report() {
    if (!detail::EvalProfile::active() || (batches == 0 && steps_recorded == 0)) return;
    std::fprintf(stderr,
                 "lmx CUDA graphs: %llu of %llu GPU batches captured; %llu segments of %.1f graph nodes on average; "
                 "%llu updated in place, %llu instantiated (%llu could not be updated); %.1f us per segment to end "
                 "capture, update and launch\n",
                 (unsigned long long)captured_batches, (unsigned long long)batches, (unsigned long long)segments,
                 segments ? double(kernels) / double(segments) : 0.0, (unsigned long long)updates,
                 (unsigned long long)instantiations, (unsigned long long)refused,
                 segments ? double(end_ns) / 1e3 / double(segments) : 0.0);
    if (segments)
      std::fprintf(stderr,
                   "  per segment: %.1f us to begin capture, %.1f to end it, %.1f to fingerprint, %.1f to update or "
                   "instantiate, %.1f to launch\n",
                   double(begin_ns) / 1e3 / double(segments), double(end_capture_ns) / 1e3 / double(segments),
                   double(signature_ns) / 1e3 / double(segments), double(exec_ns) / 1e3 / double(segments),
                   double(launch_ns) / 1e3 / double(segments));
    for (auto& [why, n] : pauses) std::fprintf(stderr, "  segments ended early by %s: %llu\n", why.c_str(), (unsigned long long)n);
    if (steps_recorded || !step_refusals.empty()) {
      std::fprintf(stderr, "lmx compiled steps: %llu recorded as CUDA graphs, %llu launches\n",
                   (unsigned long long)steps_recorded, (unsigned long long)step_launches);
      for (auto& [why, n] : step_refusals)
        std::fprintf(stderr, "  steps not recorded because of %s: %llu\n", why.c_str(), (unsigned long long)n);
    }
  }
};

uint64_t ns_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

GraphStats& stats() {
  static auto* s = new GraphStats();  // never destroyed: workers may still count at exit
  static struct Reporter {
    ~Reporter() { s->report(); }
  } reporter;
  return *s;
}

// Reading a kernel node's function and cluster shape takes the driver API:
// the runtime's own query refuses kernels that cuBLAS or NVRTC code launched.
// Looked up at run time, so lmx does not link the driver library (CI has none).
struct DriverGraphApi {
  CUresult (*get_params)(CUgraphNode, CUDA_KERNEL_NODE_PARAMS*) = nullptr;
  CUresult (*get_attribute)(CUgraphNode, CUkernelNodeAttrID, CUkernelNodeAttrValue*) = nullptr;
  bool available() const { return get_params && get_attribute; }
};

const DriverGraphApi& driver_graph_api() {
  static const DriverGraphApi api = [] {
    DriverGraphApi a;
    // Without them (an old driver) batches are not captured at all.
    auto find = [](const char* symbol, void** fn) {
      cudaDriverEntryPointQueryResult status;
      if (cudaGetDriverEntryPointByVersion(symbol, fn, 12000, cudaEnableDefault, &status) != cudaSuccess ||
          status != cudaDriverEntryPointSuccess) {
        cudaGetLastError();
        *fn = nullptr;
      }
    };
    find("cuGraphKernelNodeGetParams", reinterpret_cast<void**>(&a.get_params));
    find("cuGraphKernelNodeGetAttribute", reinterpret_cast<void**>(&a.get_attribute));
    return a;
  }();
  return api;
}

// The end of one batch on the device, kept by every buffer the batch wrote
// (Data::device_writer): `ended` once the worker has queued all of the
// batch's work, after which `event` completes when the device has run it.
struct BatchEnd {
  cudaEvent_t event = nullptr;  // set before `ended`; null: nothing to wait for
  std::atomic<bool> ended{false};
  BatchEnd() = default;
  BatchEnd(const BatchEnd&) = delete;
  BatchEnd& operator=(const BatchEnd&) = delete;
  ~BatchEnd() {
    if (event) cudaEventDestroy(event);  // at exit the runtime may be gone: nothing to report
  }
};

// Thrown through a compiled step's run when it does something a capture
// cannot record (see gpu::record_step). Not a std::exception, so that the
// handlers primitives keep for library errors let it pass.
struct StepRefused {
  const char* why;
};

class StreamGraphs;
// The stream this thread is capturing, if any.
thread_local StreamGraphs* tl_capturing = nullptr;
// The stream whose batch this thread's worker is running.
thread_local StreamGraphs* tl_batch = nullptr;

class StreamGraphs {
 public:
  explicit StreamGraphs(cudaStream_t st) : st_(st) {}
  cudaStream_t stream() const { return st_; }

  // ---- the stream's worker ----
  void begin_batch(uint64_t key) {
    end_segment();  // left open only if the last batch ended by an escaping exception
    node_ = 0, batch_key_ = key, want_ = false, failed_ = nullptr;
    end_ = std::make_shared<BatchEnd>();
    ++stats().batches;
    GraphMode mode;
    try {
      mode = graph_mode();
    } catch (...) {
      failed_ = std::current_exception();  // reported on the batch's outputs by finish()
      return;
    }
    if (mode == GraphMode::off || !driver_graph_api().available()) return;
    if (mode == GraphMode::always) {
      want_ = true;
    } else {
      if (batches_.size() >= kMaxBatchesSeen) batches_.clear();
      Seen& seen = batches_[key];
      want_ = seen.runs++ > 0 && seen.failed_updates < kMaxFailedUpdates;
    }
    if (want_) ++stats().captured_batches;
  }

  void begin_node() {
    uint32_t index = node_++;
    if (!want_) return;
    if (tl_capturing == this) {
      if (++segment_nodes_ < segment_nodes()) return;
      end_segment();
    }
    segment_key_ = hash_combine(batch_key_, index);
    segment_nodes_ = 0;
    std::lock_guard lk(mu_);
    auto t0 = std::chrono::steady_clock::now();
    cudaError_t began = cudaStreamBeginCapture(st_, cudaStreamCaptureModeRelaxed);
    stats().begin_ns += ns_since(t0);
    if (began != cudaSuccess) {
      cudaGetLastError();  // nothing recorded, nothing lost: launch one by one
      want_ = false;
      return;
    }
    capturing_ = true;
    tl_capturing = this;
  }

  // Ends the capture in progress, if any, and launches what it recorded.
  // Other threads may queue work on the stream again only once the segment
  // is launched, so theirs lands after it. A failure is kept for finish():
  // the kernels of the segment are lost and every output of the batch must
  // report it; the batch is not captured again.
  void end_segment() noexcept {
    if (tl_capturing != this) return;
    tl_capturing = nullptr;
    auto t0 = std::chrono::steady_clock::now();
    cudaError_t err;
    {
      std::lock_guard lk(mu_);
      try {
        err = launch_capture();
      } catch (...) {  // the bookkeeping could not allocate
        err = cudaErrorMemoryAllocation;
      }
      capturing_ = false;
    }
    idle_.notify_all();
    stats().end_ns += ns_since(t0);
    if (err == cudaSuccess) return;
    cudaGetLastError();
    want_ = false;
    if (auto b = batches_.find(batch_key_); b != batches_.end()) b->second.failed_updates = kMaxFailedUpdates;
    if (failed_) return;
    try {
      failed_ = std::make_exception_ptr(std::runtime_error(
          std::string("[cuda] recording the batch's kernels as a CUDA graph failed (") + cudaGetErrorString(err) +
          "); its results are lost. Set LMX_CUDA_GRAPHS=0 to launch kernels one by one."));
    } catch (...) {
      failed_ = std::current_exception();
    }
  }

  // Marks the batch's end on the stream with an event that its buffers'
  // readers wait for (see BatchEnd), without waiting for it here.
  void finish() {
    end_segment();
    want_ = false;
    // An executable graph destroyed while launched is freed once it has run.
    for (auto e : retired_) cudaGraphExecDestroy(e);
    retired_.clear();
    auto end = std::exchange(end_, nullptr);
    auto failed = std::exchange(failed_, nullptr);
    cudaError_t err = cudaSuccess;
    cudaEvent_t ev = nullptr;
    if (!synchronous_batches() && end && cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess &&
        cudaEventRecord(ev, st_) != cudaSuccess) {
      cudaEventDestroy(ev);
      ev = nullptr;
    }
    // Without an event (LMX_CUDA_SYNC, or recording failed) the batch is
    // waited for here, so that its readers need not wait.
    if (!ev) err = cudaStreamSynchronize(st_);
    if (end) {
      end->event = ev;
      end->ended.store(true, std::memory_order_release);
    }
    if (err != cudaSuccess) throw_cuda_error("ending a batch", err);
    if (failed) std::rethrow_exception(failed);
  }

  // The batch this stream's worker is running (null between batches).
  const std::shared_ptr<BatchEnd>& batch_end() const { return end_; }

  // ---- a compiled step's recording (gpu::record_step) ----
  // Starts capturing the stream for a step, once the segment in flight is
  // launched; false when capture cannot start.
  bool begin_step() {
    end_segment();
    std::lock_guard lk(mu_);
    if (cudaStreamBeginCapture(st_, cudaStreamCaptureModeRelaxed) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    capturing_ = true;
    tl_capturing = this;
    step_refused_ = nullptr;
    recording_step_ = true;
    return true;
  }
  // Ends the step's capture: its graph, or null when the capture failed or
  // the step was refused (refused_why() says why).
  cudaGraph_t end_step() noexcept {
    tl_capturing = nullptr;
    recording_step_ = false;
    cudaGraph_t graph = nullptr;
    {
      std::lock_guard lk(mu_);
      if (cudaStreamEndCapture(st_, &graph) != cudaSuccess) {
        cudaGetLastError();
        graph = nullptr;
      }
      capturing_ = false;
    }
    idle_.notify_all();
    if (graph && step_refused_) {
      cudaGraphDestroy(graph);
      graph = nullptr;
    }
    return graph;
  }
  bool recording_step() const { return recording_step_; }
  const char* refused_why() const { return step_refused_; }
  // Something the step does cannot be captured: the recording is abandoned
  // (and stays so, should a handler swallow the exception).
  [[noreturn]] void refuse_step(const char* why) {
    step_refused_ = why;
    throw StepRefused{why};
  }

  // ---- any thread ----
  std::unique_lock<std::mutex> lock_if_idle() {
    std::unique_lock lk(mu_);
    if (capturing_) return {};
    return lk;
  }

  std::unique_lock<std::mutex> lock_when_idle() {
    if (tl_capturing == this) {
      if (recording_step_) refuse_step("a wait for the stream");
      end_segment();
    }
    std::unique_lock lk(mu_);
    idle_.wait(lk, [&] { return !capturing_; });
    return lk;
  }

 private:
  // Under mu_: ends the capture and launches the recorded graph.
  cudaError_t launch_capture() {
    cudaGraph_t graph = nullptr;
    auto t = std::chrono::steady_clock::now();
    // Each phase's time goes to its own counter (LMX_EVAL_PROFILE's report).
    auto lap = [&t](std::atomic<uint64_t>& counter) {
      counter += ns_since(t);
      t = std::chrono::steady_clock::now();
    };
    cudaError_t err = cudaStreamEndCapture(st_, &graph);
    lap(stats().end_capture_ns);
    if (err == cudaSuccess) {
      uint64_t signature = 0;
      size_t nodes = 0;
      err = graph_signature(graph, signature, nodes);
      lap(stats().signature_ns);
      if (err == cudaSuccess && nodes > 0) {
        cudaGraphExec_t exec = nullptr;
        err = executable(graph, signature, exec);
        lap(stats().exec_ns);
        if (err == cudaSuccess) err = cudaGraphLaunch(exec, st_);
        lap(stats().launch_ns);
        ++stats().segments;
        stats().kernels += nodes;
      }
    }
    if (graph) cudaGraphDestroy(graph);
    return err;
  }

  // Fingerprints a captured graph: its nodes' types, in order, and for each
  // kernel its function and cluster shape. Updating an executable graph in
  // place is only trusted between graphs of equal fingerprints, which differ
  // in kernel arguments and grid sizes alone; CUDA would accept some other
  // changes (a kernel's function) but not carry over every launch attribute.
  static cudaError_t graph_signature(cudaGraph_t graph, uint64_t& signature, size_t& count) {
    static thread_local std::vector<cudaGraphNode_t> nodes;
    cudaError_t err = cudaGraphGetNodes(graph, nullptr, &count);
    if (err != cudaSuccess || count == 0) return err;
    nodes.resize(count);
    if ((err = cudaGraphGetNodes(graph, nodes.data(), &count)) != cudaSuccess) return err;
    const DriverGraphApi& api = driver_graph_api();
    uint64_t h = count;
    for (size_t i = 0; i < count; ++i) {
      cudaGraphNodeType type;
      if ((err = cudaGraphNodeGetType(nodes[i], &type)) != cudaSuccess) return err;
      h = hash_combine(h, static_cast<uint64_t>(type));
      if (type != cudaGraphNodeTypeKernel) continue;
      CUDA_KERNEL_NODE_PARAMS p{};
      CUlaunchAttributeValue cluster{};
      if (api.get_params(nodes[i], &p) != CUDA_SUCCESS ||
          api.get_attribute(nodes[i], CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, &cluster) != CUDA_SUCCESS)
        return cudaErrorUnknown;
      h = hash_combine(h, reinterpret_cast<uintptr_t>(p.func));
      h = hash_combine(h, reinterpret_cast<uintptr_t>(p.kern));
      h = hash_combine(h, (uint64_t{cluster.clusterDim.x} << 32) ^ (uint64_t{cluster.clusterDim.y} << 16) ^ cluster.clusterDim.z);
    }
    signature = h;
    return cudaSuccess;
  }

  // The executable graph for this segment: the one recorded for it before,
  // updated in place when the new capture has its fingerprint (cheap: only
  // arguments changed), or a new instantiation.
  cudaError_t executable(cudaGraph_t graph, uint64_t signature, cudaGraphExec_t& exec) {
    auto it = execs_.find(segment_key_);
    if (it != execs_.end()) {
      cudaGraphExecUpdateResultInfo info;
      if (it->second.signature == signature && cudaGraphExecUpdate(it->second.exec, graph, &info) == cudaSuccess) {
        it->second.last_use = ++clock_;
        exec = it->second.exec;
        ++stats().updates;
        return cudaSuccess;
      }
      cudaGetLastError();
      ++stats().refused;
      if (auto b = batches_.find(batch_key_); b != batches_.end()) ++b->second.failed_updates;
      retired_.push_back(it->second.exec);
      execs_.erase(it);
    }
    cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    if (err != cudaSuccess) return err;
    ++stats().instantiations;
    if (execs_.size() >= kMaxExecs) {
      auto oldest = execs_.begin();
      for (auto i = execs_.begin(); i != execs_.end(); ++i)
        if (i->second.last_use < oldest->second.last_use) oldest = i;
      retired_.push_back(oldest->second.exec);  // it may still be running
      execs_.erase(oldest);
    }
    execs_[segment_key_] = {exec, signature, ++clock_};
    return cudaSuccess;
  }

  struct Exec {
    cudaGraphExec_t exec;
    uint64_t signature, last_use;
  };
  struct Seen {
    uint32_t runs = 0, failed_updates = 0;
  };

  cudaStream_t st_;
  std::mutex mu_;  // held while capture starts, and until an ended segment is launched
  std::condition_variable idle_;
  bool capturing_ = false;  // guarded by mu_
  // The worker's own state.
  bool want_ = false;
  bool recording_step_ = false;
  const char* step_refused_ = nullptr;
  uint32_t node_ = 0;
  int segment_nodes_ = 0;
  uint64_t batch_key_ = 0, segment_key_ = 0, clock_ = 0;
  std::exception_ptr failed_;
  std::shared_ptr<BatchEnd> end_;
  std::unordered_map<uint64_t, Exec> execs_;
  std::vector<cudaGraphExec_t> retired_;
  std::unordered_map<uint64_t, Seen> batches_;
};

StreamGraphs& graphs_of(cudaStream_t st) {
  static std::mutex mu;
  static auto* all = new std::unordered_map<cudaStream_t, std::unique_ptr<StreamGraphs>>();  // never destroyed
  std::lock_guard lk(mu);
  auto& g = (*all)[st];
  if (!g) g = std::make_unique<StreamGraphs>(st);
  return *g;
}

}  // namespace

void pause_capture(cudaStream_t st, const char* why) {
  if (!tl_capturing || tl_capturing->stream() != st) return;
  if (tl_capturing->recording_step()) tl_capturing->refuse_step(why);
  tl_capturing->end_segment();
  std::lock_guard lk(stats().mu);
  ++stats().pauses[why];
}

bool capturing_here(cudaStream_t st) { return tl_capturing && tl_capturing->stream() == st; }

std::unique_lock<std::mutex> lock_if_idle(cudaStream_t st) { return graphs_of(st).lock_if_idle(); }

std::unique_lock<std::mutex> lock_when_idle(cudaStream_t st) { return graphs_of(st).lock_when_idle(); }

void finish_stream(cudaStream_t st) {
  StreamGraphs& g = graphs_of(st);
  if (tl_batch == &g) tl_batch = nullptr;
  g.finish();
}

// LMX_CUDA_SYNC=1: the end of every batch waits for its kernels, as before
// batches ended asynchronously. A debugging aid: an error a kernel reports
// (an index out of bounds) then lands on the outputs of the batch that made
// it, instead of being raised by the next wait.
bool synchronous_batches() {
  static const bool sync = env_switch("LMX_CUDA_SYNC", false, "cuda");
  return sync;
}

std::shared_ptr<void> batch_writing(cudaStream_t st) {
  if (!tl_batch || tl_batch->stream() != st) return nullptr;
  return tl_batch->batch_end();
}

bool wait_for_batch(const std::shared_ptr<void>& batch) {
  auto* end = static_cast<const BatchEnd*>(batch.get());
  if (!end || !end->ended.load(std::memory_order_acquire)) return false;
  if (end->event) LMX_CUDA_CHECK(cudaEventSynchronize(end->event));
  return true;
}

void drain_stream(cudaStream_t st) {
  if (!st) return;  // no device work was ever queued for the bytes
  auto idle = lock_when_idle(st);
  LMX_CUDA_CHECK(cudaStreamSynchronize(st));
}

}  // namespace lmx::cu

namespace lmx::gpu {

void begin_batch(const Stream& s, uint64_t key) {
  try {
    cu::tl_batch = &cu::graphs_of(cu::stream_of(s));
  } catch (...) {
    cu::tl_batch = nullptr;  // the batch's first kernel meets the same failure and reports it
    return;
  }
  cu::tl_batch->begin_batch(key);
}

void begin_node(const Stream&) {
  if (cu::tl_batch) cu::tl_batch->begin_node();
}

namespace {

class RecordedStep final : public StepGraph {
 public:
  RecordedStep(cudaGraphExec_t exec, std::unique_ptr<cu::StepMemory> memory)
      : exec_(exec), memory_(std::move(memory)) {}
  // A graph destroyed while launched is freed once it has run; the memory
  // goes back to the cache, where reuse is ordered after the stream's work.
  ~RecordedStep() override { cudaGraphExecDestroy(exec_); }
  bool owns(const void* p) const override { return memory_->owns(p); }
  cudaGraphExec_t exec() const { return exec_; }

 private:
  cudaGraphExec_t exec_;
  std::unique_ptr<cu::StepMemory> memory_;
};

}  // namespace

// LMX_CUDA_STEP_GRAPHS=0 keeps compiled calls as separate nodes (captured
// in segments like any other batch); LMX_CUDA_GRAPHS=0 turns both off.
bool step_graphs_enabled() {
  static const bool on = env_switch("LMX_CUDA_STEP_GRAPHS", true, "cuda") && cu::graph_mode() != cu::GraphMode::off;
  return on;
}

std::unique_ptr<StepGraph> record_step(const Stream& s, const std::function<void()>& run) {
  cudaStream_t st = cu::stream_of(s);
  cu::StreamGraphs& graphs = cu::graphs_of(st);
  cu::pause_capture(st, "a compiled step's own graph");
  auto memory = std::make_unique<cu::StepMemory>(st);
  cudaGraph_t graph = nullptr;
  {
    cu::StepMemory::Scope scope(*memory);
    if (!graphs.begin_step()) return nullptr;
    try {
      run();
    } catch (const cu::StepRefused&) {
      // refused_why() has the reason; the capture is discarded below
    } catch (...) {
      // An error from a call the capture broke (one no pause foresaw) is
      // the capture's: the step is not recorded, and its nodes, run outside
      // a capture, report any error of their own. Otherwise it is `run`'s.
      cudaGraph_t lost = graphs.end_step();
      if (lost) {
        cudaGraphDestroy(lost);
        throw;
      }
      std::lock_guard lk(cu::stats().mu);
      ++cu::stats().step_refusals["an error during the capture"];
      return nullptr;
    }
    graph = graphs.end_step();
  }
  auto& stats = cu::stats();
  if (!graph) {
    std::lock_guard lk(stats.mu);
    ++stats.step_refusals[graphs.refused_why() ? graphs.refused_why() : "a failed capture"];
    return nullptr;
  }
  cudaGraphExec_t exec = nullptr;
  cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::lock_guard lk(stats.mu);
    ++stats.step_refusals["a failed instantiation"];
    return nullptr;
  }
  ++stats.steps_recorded;
  return std::make_unique<RecordedStep>(exec, std::move(memory));
}

void launch_step(StepGraph& step, const Stream& s, const std::vector<DeviceCopy>& copies_first) {
  cudaStream_t st = cu::stream_of(s);
  // The segment the node began holds nothing yet: it ends empty, and the
  // copies go with the step's graph.
  cu::pause_capture(st, "a compiled step's own graph");
  for (auto& c : copies_first)
    if (c.bytes) LMX_CUDA_CHECK(cudaMemcpyAsync(c.dst, c.src, c.bytes, cudaMemcpyDeviceToDevice, st));
  LMX_CUDA_CHECK(cudaGraphLaunch(static_cast<RecordedStep&>(step).exec(), st));
  ++cu::stats().step_launches;
}

}  // namespace lmx::gpu
