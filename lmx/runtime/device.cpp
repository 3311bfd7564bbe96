#include "lmx/runtime/device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "lmx/runtime/gpu.h"
#include "lmx/runtime/scheduler.h"

namespace lmx {

const Device Device::cpu{Device::Type::cpu, 0};
const Device Device::gpu{Device::Type::gpu, 0};

std::string to_string(const Device& d) {
  return std::string("Device(") + (d.type == Device::Type::cpu ? "cpu" : "gpu") + ", " +
         std::to_string(d.index) + ")";
}

std::string to_string(const Stream& s) {
  return "Stream(" + to_string(s.device) + ", " + std::to_string(s.index) + ")";
}

bool gpu_available() { return gpu::is_available(); }

// Streams address device index 0 only, so a present GPU counts as one.
int device_count(Device::Type t) { return t == Device::Type::cpu ? 1 : gpu_available() ? 1 : 0; }

namespace {

std::mutex state_mu;

struct StreamRegistry {
  std::vector<Stream> streams;          // by index
  std::vector<char> destroyed;          // by index: clear_streams ran for it
  std::vector<int> default_for_device;  // index into streams, per device type: every thread's default
  int thread_local_streams = 0;         // ids handed out so far
};

StreamRegistry& streams() {
  static auto* r = [] {
    auto* reg = new StreamRegistry();
    reg->streams.emplace_back(0, Device::cpu);
    reg->destroyed.push_back(0);
    reg->default_for_device = {0, -1};
    return reg;
  }();
  return *r;
}

// Streams this thread created, and its instances of thread-local streams
// (thread-local stream id -> stream index): what clear_streams destroys.
thread_local std::vector<int> created_here;
thread_local std::vector<std::pair<int, int>> thread_instances;
// This thread's own default stream per device type (set_default_stream), -1
// where it uses the process's.
thread_local int thread_default[2] = {-1, -1};

// Registers a new stream; the caller holds state_mu.
Stream add_stream(StreamRegistry& reg, const Device& d) {
  reg.streams.emplace_back(static_cast<int>(reg.streams.size()), d);
  reg.destroyed.push_back(0);
  return reg.streams.back();
}

Device initial_default_device() {
  // LMX_DEFAULT_DEVICE=cpu|gpu overrides the choice; otherwise the GPU wins when present.
  if (const char* env = std::getenv("LMX_DEFAULT_DEVICE")) {
    if (std::strcmp(env, "cpu") == 0) return Device::cpu;
    if (std::strcmp(env, "gpu") == 0 && gpu_available()) return Device::gpu;
  }
  return gpu_available() ? Device::gpu : Device::cpu;
}

Device& default_device_ref() {
  static Device d = initial_default_device();
  return d;
}

void check_device(const Device& d, const char* op) {
  if (d.type == Device::Type::gpu && !gpu_available())
    throw std::invalid_argument(std::string("[") + op + "] No GPU is available: lmx was built " +
                                "without CUDA or no NVIDIA device was found.");
  if (d.index != 0)
    throw std::invalid_argument(std::string("[") + op + "] Device index " + std::to_string(d.index) +
                                " is out of range.");
}

}  // namespace

const Device& default_device() {
  std::lock_guard lk(state_mu);
  return default_device_ref();
}

void set_default_device(const Device& d) {
  check_device(d, "set_default_device");
  std::lock_guard lk(state_mu);
  default_device_ref() = d;
}

Stream default_stream(const Device& d) {
  check_device(d, "default_stream");
  std::lock_guard lk(state_mu);
  auto& reg = streams();
  int t = static_cast<int>(d.type);
  if (thread_default[t] >= 0) return reg.streams[thread_default[t]];
  if (reg.default_for_device[t] < 0) reg.default_for_device[t] = add_stream(reg, d).index;
  return reg.streams[reg.default_for_device[t]];
}

void set_default_stream(const Stream& s) {
  check_device(s.device, "set_default_stream");
  check_stream(s, "set_default_stream");
  // As in MLX, the default of the calling thread only: a stream context in
  // one thread does not move another thread's work.
  thread_default[static_cast<int>(s.device.type)] = s.index;
}

Stream new_stream(const Device& d) {
  check_device(d, "new_stream");
  std::lock_guard lk(state_mu);
  Stream s = add_stream(streams(), d);
  created_here.push_back(s.index);
  return s;
}

std::string to_string(const ThreadLocalStream& s) {
  return "ThreadLocalStream(" + to_string(s.device) + ", " + std::to_string(s.id) + ")";
}

ThreadLocalStream new_thread_local_stream(const Device& d) {
  check_device(d, "new_thread_local_stream");
  std::lock_guard lk(state_mu);
  return {streams().thread_local_streams++, d};
}

Stream stream_from_thread_local(const ThreadLocalStream& s) {
  for (auto [id, index] : thread_instances)
    if (id == s.id) {
      std::lock_guard lk(state_mu);
      return streams().streams[index];
    }
  Stream mine = new_stream(s.device);
  thread_instances.emplace_back(s.id, mine.index);
  return mine;
}

void check_stream(const Stream& s, const char* op) {
  std::lock_guard lk(state_mu);
  auto& reg = streams();
  if (s.index < 0 || static_cast<size_t>(s.index) >= reg.streams.size() || reg.streams[s.index].device != s.device)
    throw std::invalid_argument(std::string("[") + op + "] " + to_string(s) + " does not exist.");
  if (reg.destroyed[s.index])
    throw std::invalid_argument(std::string("[") + op + "] " + to_string(s) +
                                " was destroyed by clear_streams().");
}

void clear_streams() {
  std::vector<Stream> mine;
  {
    std::lock_guard lk(state_mu);
    for (int index : created_here) mine.push_back(streams().streams[index]);
  }
  created_here.clear();
  thread_instances.clear();
  // Queued work runs to completion first, so no array waits on a stream
  // that no longer exists.
  for (auto& s : mine) synchronize(s);
  {
    std::lock_guard lk(state_mu);
    auto& reg = streams();
    for (auto& s : mine) {
      reg.destroyed[s.index] = 1;
      for (int& d : thread_default)
        if (d == s.index) d = -1;
    }
  }
  for (auto& s : mine) scheduler::release(s);
}

std::vector<Stream> get_streams() {
  std::lock_guard lk(state_mu);
  auto& reg = streams();
  std::vector<Stream> out;
  for (size_t i = 0; i < reg.streams.size(); ++i)
    if (!reg.destroyed[i]) out.push_back(reg.streams[i]);
  return out;
}

namespace {

// Everything queued on q has run, GPU kernels included.
void drain(StreamQueue& q) {
  q.wait_for(q.last_submitted());
  if (q.stream.device.type == Device::Type::gpu) gpu::synchronize(q.stream);
}

}  // namespace

// Work async_eval handed over but has not queued yet counts as queued.
void synchronize(const Stream& s) {
  check_stream(s, "synchronize");
  scheduler::wait_for_deferred();
  drain(*scheduler::queue(s));
}

void synchronize() {
  scheduler::wait_for_deferred();
  for (auto& q : scheduler::all_queues()) drain(*q);
}

}  // namespace lmx
