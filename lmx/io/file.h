// What every file-format reader and writer in lmx/io shares: a memory-mapped
// input file that tensors may alias, a bounds-checked little-endian reader
// whose errors name the op and the file, and whole-file writes.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "lmx/array.h"

namespace lmx::io {

// The bytes of a file being loaded. Opened from a path, the whole file is
// mapped copy-on-write: arrays built on it alias its pages (no copy, read
// lazily by the kernel), and writes to such an array (a donated buffer) never
// reach the file. The bytes live while any alias does.
class InputFile {
 public:
  // `op` prefixes errors, e.g. "load_safetensors".
  static std::shared_ptr<InputFile> open(const std::string& path, const std::string& op);
  // Bytes already in memory (a Python file object's contents); `name` stands
  // for the file in error messages.
  static std::shared_ptr<InputFile> from_bytes(std::string bytes, std::string name);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  InputFile(std::string path, char* data, size_t size, bool mapped)
      : path_(std::move(path)), data_(data), size_(size), mapped_(mapped) {}
  std::string path_;
  std::string owned_;  // from_bytes
  char* data_;
  size_t size_;
  bool mapped_;
};

// An evaluated array whose buffer is `bytes` inside `file` (no copy); the
// bytes must be aligned for the dtype.
array alias_mapped(const std::shared_ptr<InputFile>& file, const char* bytes, Shape shape, Dtype dtype);
// An evaluated, uninitialised row-major array to be filled through data<T>().
array empty_host(Shape shape, Dtype dtype);

// One host buffer holding many arrays side by side, each at a 64-byte
// aligned offset, for a loader that converts many tensors: together they
// are one allocation large enough for huge pages (see runtime/allocator),
// where tensors of their own took 4 KiB pages each, and a decode step that
// streams them all paid a TLB miss per page. The buffer lives while any of
// its arrays does.
class HostArena {
 public:
  // Room for arrays of these byte sizes (in any order).
  static size_t room(size_t bytes) { return (bytes + 63) & ~size_t{63}; }
  explicit HostArena(size_t capacity);
  // An evaluated, uninitialised row-major array in the next free bytes.
  array take(Shape shape, Dtype dtype);

 private:
  std::shared_ptr<Data> buffer_;
  size_t capacity_, used_ = 0;
};
// An evaluated row-major array holding a copy of `bytes` (any alignment).
array copy_bytes(const char* bytes, Shape shape, Dtype dtype);

// Thrown for a file whose contents are malformed: "[op] path: what".
[[noreturn]] void malformed(const std::string& op, const std::string& source, const std::string& what);

// Reads little-endian values from a byte range; reading past its end is a
// malformed-file error, never an out-of-bounds read.
class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string op, std::string source)
      : bytes_(bytes), op_(std::move(op)), source_(std::move(source)) {}

  template <typename T>
  T read() {
    T v;
    std::memcpy(&v, take(sizeof(T), "a value"), sizeof(T));
    return v;
  }
  // `what` names the field in the error message when the bytes run out.
  const char* take(size_t n, const char* what);
  std::string_view view(size_t n, const char* what) { return {take(n, what), n}; }
  void seek(size_t pos);
  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  [[noreturn]] void fail(const std::string& what) const { malformed(op_, source_, what); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  std::string op_, source_;
};

// Appends little-endian values to a byte string.
template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// `path` ending in `ext` (e.g. ".npz"): appended when it is not already there.
std::string with_extension(std::string path, std::string_view ext);

// Writes `bytes` to `path`, replacing it; errors name `op` and the path.
void write_file(const std::string& path, std::string_view bytes, const std::string& op);
// The whole contents of `path`.
std::string read_file(const std::string& path, const std::string& op);

// The bytes of `a` (evaluated) in row-major order.
std::string to_bytes(array a);

}  // namespace lmx::io
