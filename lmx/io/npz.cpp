#include "lmx/io/npz.h"

#include "lmx/io/file.h"
#include "lmx/io/npy.h"
#include "lmx/io/zip.h"

namespace lmx::io {

std::string to_npz(const std::map<std::string, array>& arrays, bool compress) {
  std::vector<ZipEntry> entries;
  for (const auto& [name, a] : arrays) entries.push_back({name + ".npy", to_npy(a)});
  return write_zip(entries, compress);
}

std::map<std::string, array> from_npz(std::string_view bytes, const std::string& source) {
  std::map<std::string, array> out;
  for (auto& e : read_zip(bytes, "load", source)) {
    std::string name = e.name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    out.emplace(name, from_npy(e.contents, source + "[" + e.name + "]"));
  }
  return out;
}

void save_npz(std::string path, const std::map<std::string, array>& arrays, bool compress) {
  write_file(with_extension(path, ".npz"), to_npz(arrays, compress), compress ? "savez_compressed" : "savez");
}

std::map<std::string, array> load_npz(const std::string& path) {
  auto file = InputFile::open(path, "load");
  return from_npz({file->data(), file->size()}, path);
}

}  // namespace lmx::io
