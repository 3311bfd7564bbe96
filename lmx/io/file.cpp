#include "lmx/io/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>

#include "lmx/runtime/allocator.h"

namespace lmx::io {

std::shared_ptr<InputFile> InputFile::open(const std::string& path, const std::string& op) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("[" + op + "] Cannot open " + path + ": " + std::strerror(errno) + ".");
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("[" + op + "] " + path + " is not a regular file.");
  }
  size_t size = static_cast<size_t>(st.st_size);
  char* data = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw std::runtime_error("[" + op + "] Cannot map " + path + ": " + std::strerror(err) + ".");
    }
    data = static_cast<char*>(p);
  }
  ::close(fd);  // the mapping keeps the file's pages
  return std::shared_ptr<InputFile>(new InputFile(path, data, size, true));
}

std::shared_ptr<InputFile> InputFile::from_bytes(std::string bytes, std::string name) {
  auto f = std::shared_ptr<InputFile>(new InputFile(std::move(name), nullptr, 0, false));
  f->owned_ = std::move(bytes);
  // Arrays may alias these bytes like a mapping's: keep them 16-byte aligned
  // by construction (std::string's heap buffer is malloc-aligned).
  f->data_ = f->owned_.data();
  f->size_ = f->owned_.size();
  return f;
}

InputFile::~InputFile() {
  if (mapped_ && data_) munmap(data_, size_);
}

array alias_mapped(const std::shared_ptr<InputFile>& file, const char* bytes, Shape shape, Dtype dtype) {
  size_t n = shape_size(shape) * dtype.size();
  auto data = std::make_shared<Data>(Buffer{const_cast<char*>(bytes), n}, [file](Buffer) {});
  return array(std::move(shape), dtype, std::move(data));
}

array empty_host(Shape shape, Dtype dtype) {
  size_t n = shape_size(shape) * dtype.size();
  return array(std::move(shape), dtype, std::make_shared<Data>(cpu_allocator().malloc(n)));
}

HostArena::HostArena(size_t capacity) : capacity_(capacity) {
  if (capacity) buffer_ = std::make_shared<Data>(cpu_allocator().malloc(capacity));
}

array HostArena::take(Shape shape, Dtype dtype) {
  size_t n = shape_size(shape) * dtype.size();
  if (n == 0) return empty_host(std::move(shape), dtype);  // takes no room (and an arena may have none)
  if (room(n) > capacity_ - used_) throw std::logic_error("[HostArena] An array does not fit in the room asked for.");
  char* p = static_cast<char*>(buffer_->buffer.ptr) + used_;
  used_ += room(n);
  auto data = std::make_shared<Data>(Buffer{p, n}, [keep = buffer_](Buffer) {});
  return array(std::move(shape), dtype, std::move(data));
}

array copy_bytes(const char* bytes, Shape shape, Dtype dtype) {
  array a = empty_host(std::move(shape), dtype);
  std::memcpy(a.data<char>(), bytes, a.nbytes());
  return a;
}

void malformed(const std::string& op, const std::string& source, const std::string& what) {
  throw std::runtime_error("[" + op + "] " + source + ": " + what);
}

const char* ByteReader::take(size_t n, const char* what) {
  if (n > remaining()) fail(std::string("truncated file: ") + what + " runs past its end.");
  const char* p = bytes_.data() + pos_;
  pos_ += n;
  return p;
}

void ByteReader::seek(size_t pos) {
  if (pos > bytes_.size()) fail("an offset points past the end of the file.");
  pos_ = pos;
}

std::string with_extension(std::string path, std::string_view ext) {
  if (path.size() < ext.size() || path.compare(path.size() - ext.size(), ext.size(), ext) != 0) path += ext;
  return path;
}

void write_file(const std::string& path, std::string_view bytes, const std::string& op) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("[" + op + "] Cannot open " + path + " for writing.");
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) throw std::runtime_error("[" + op + "] Writing " + path + " failed.");
}

std::string read_file(const std::string& path, const std::string& op) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("[" + op + "] Cannot open " + path + ".");
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string to_bytes(array a) {
  a.eval();
  std::string out(a.nbytes(), '\0');
  copy_to_host(a, out.data(), a.dtype());
  return out;
}

}  // namespace lmx::io
