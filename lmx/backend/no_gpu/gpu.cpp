// The GPU interface of the core for builds without a GPU backend: no device,
// and every buffer lives on the host.
#include <stdexcept>

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
size_t cache_memory() { return 0; }
void clear_cache() {}
std::vector<std::pair<std::string, InfoValue>> device_info() { return {}; }

}  // namespace lmx::gpu
