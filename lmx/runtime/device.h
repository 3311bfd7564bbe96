// Devices and streams: where and in which order work runs.
#pragma once

#include <string>
#include <vector>

namespace lmx {

struct Device {
  enum class Type : int { cpu = 0, gpu = 1 };
  Type type;
  int index = 0;
  constexpr Device(Type t, int i = 0) : type(t), index(i) {}
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  static const Device cpu;
  static const Device gpu;
};

std::string to_string(const Device& d);  // "Device(cpu, 0)"

// True when a GPU backend is compiled in and a device is present.
bool gpu_available();
// Devices of a type this process can use: one CPU; GPUs only with a backend.
int device_count(Device::Type t);
const Device& default_device();
void set_default_device(const Device& d);

struct Stream {
  int index;
  Device device;
  Stream(int i, Device d) : index(i), device(d) {}
  bool operator==(const Stream& o) const { return index == o.index; }
  bool operator!=(const Stream& o) const { return index != o.index; }
};

std::string to_string(const Stream& s);
// The calling thread's default stream for a device: the one it set, else
// the process's (created on first use).
Stream default_stream(const Device& d);
// Makes `s` the calling thread's default stream for its device.
void set_default_stream(const Stream& s);
Stream new_stream(const Device& d);

// A stream that stands for a different stream on each thread that uses it
// (MLX's ThreadLocalStream): a thread's first use creates that thread's own
// in-order stream, which the thread then owns (clear_streams destroys it).
struct ThreadLocalStream {
  int id;
  Device device;
};
std::string to_string(const ThreadLocalStream& s);
ThreadLocalStream new_thread_local_stream(const Device& d);
// The calling thread's stream for `s`.
Stream stream_from_thread_local(const ThreadLocalStream& s);
// Destroys the streams the calling thread created (new_stream and its
// threads' instances of thread-local streams) once their queued work has
// run. Ops and evaluations on a destroyed stream raise; the process's
// default streams are never destroyed (a thread whose default was destroyed
// returns to the process's).
void clear_streams();
// Raises std::invalid_argument naming `op` when `s` was destroyed.
void check_stream(const Stream& s, const char* op);
// The streams that exist now (not destroyed), in creation order.
std::vector<Stream> get_streams();
// Blocks until all work queued on the stream (or on every stream) has run.
void synchronize(const Stream& s);
void synchronize();

}  // namespace lmx
