// The subset of the ZIP format that .npz files use: stored or deflated
// entries, with ZIP64 records for entries and archives past 4 GiB.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmx::io {

struct ZipEntry {
  std::string name;
  std::string contents;  // uncompressed
};

// The archive bytes; `compress` deflates each entry (zlib's default level).
std::string write_zip(const std::vector<ZipEntry>& entries, bool compress);

// Every entry of an archive, decompressed and CRC-checked; errors name `op`
// and `source`.
std::vector<ZipEntry> read_zip(std::string_view bytes, const std::string& op, const std::string& source);

}  // namespace lmx::io
