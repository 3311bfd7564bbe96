#include "lmx/backend/common/kernel_cache.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

namespace lmx {

namespace fs = std::filesystem;

fs::path kernel_cache_root() {
  if (const char* v = std::getenv("LMX_KERNEL_CACHE")) return v;
  if (const char* v = std::getenv("XDG_CACHE_HOME")) return fs::path(v) / "lmx" / "kernels";
  if (const char* v = std::getenv("HOME")) return fs::path(v) / ".cache" / "lmx" / "kernels";
  return {};
}

fs::path temporary_sibling(const fs::path& file) {
  fs::path tmp = file;
  tmp += ".tmp" + std::to_string(::getpid()) + "." +
         std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  return tmp;
}

bool write_file_atomically(const fs::path& file, const std::string& bytes) {
  const fs::path tmp = temporary_sibling(file);
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
      out.close();
      fs::remove(tmp, ec);
      return false;
    }
  }
  fs::rename(tmp, file, ec);
  if (ec) fs::remove(tmp, ec);
  return !ec;
}

}  // namespace lmx
