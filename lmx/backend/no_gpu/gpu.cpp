// The GPU interface of the core for builds without a GPU backend: no device,
// and every buffer lives on the host.
#include <stdexcept>
#include <string>

#include "lmx/array.h"
#include "lmx/runtime/gpu.h"

namespace lmx::gpu {

bool is_available() { return false; }
int device_count() { return 0; }

void copy_to_host(Data&) {
  // Unreachable: without a backend no buffer is ever device-resident.
  throw std::logic_error("[copy_to_host] lmx was built without GPU support.");
}
void release_device(Data&) {}
void begin_batch(const Stream&, uint64_t) {}
void begin_node(const Stream&) {}
void finish(const Stream&) {}
void wait_for_writer(Data&) {}
void synchronize(const Stream&) {}
bool convolution_available() { return false; }
bool step_graphs_enabled() { return false; }
// Unreachable: compile records steps only on GPU streams.
[[noreturn]] static void no_gpu(const char* what) {
  throw std::logic_error(std::string("[") + what + "] lmx was built without GPU support.");
}
std::unique_ptr<StepGraph> record_step(const Stream&, const std::function<void()>&) { no_gpu("record_step"); }
void launch_step(StepGraph&, const Stream&, const std::vector<DeviceCopy>&) { no_gpu("launch_step"); }
const void* device_address(const array&, const Stream&) { no_gpu("device_address"); }
void copy_on_device(void*, const void*, size_t, const Stream&) { no_gpu("copy_on_device"); }
std::shared_ptr<Data> device_buffer(size_t, const Stream&) { no_gpu("device_buffer"); }
void mark_device_written(Data&, const Stream&) { no_gpu("mark_device_written"); }
size_t cache_memory() { return 0; }
void clear_cache() {}
std::vector<std::pair<std::string, InfoValue>> device_info() { return {}; }

}  // namespace lmx::gpu
