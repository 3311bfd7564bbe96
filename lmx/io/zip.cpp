#include "lmx/io/zip.h"

#include <zlib.h>

#include <limits>
#include <set>
#include <stdexcept>

#include "lmx/io/file.h"

namespace lmx::io {

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentral = 0x06054b50;
constexpr uint32_t kZip64EndOfCentral = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kSaturated32 = 0xffffffff;
constexpr uint16_t kVersionZip64 = 45, kVersionDeflate = 20;
constexpr uint16_t kStored = 0, kDeflated = 8;

uint32_t crc_of(std::string_view s) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large entries in pieces.
  for (size_t i = 0; i < s.size();) {
    uInt n = static_cast<uInt>(std::min<size_t>(s.size() - i, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(s.data() + i), n);
    i += n;
  }
  return static_cast<uint32_t>(crc);
}

std::string deflate_raw(std::string_view in) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("[savez_compressed] zlib could not start a deflate stream.");
  std::string out;
  size_t consumed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    uInt chunk = static_cast<uInt>(std::min<size_t>(in.size() - consumed, 1u << 30));
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
    z.avail_in = chunk;
    bool last = consumed + chunk == in.size();
    do {
      size_t old = out.size();
      out.resize(old + (1 << 16));
      z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
      z.avail_out = 1 << 16;
      rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      out.resize(old + (1 << 16) - z.avail_out);
    } while (z.avail_out == 0 || (last && rc != Z_STREAM_END));
    consumed += chunk - z.avail_in;
  }
  deflateEnd(&z);
  return out;
}

std::string inflate_raw(std::string_view in, size_t expected, ByteReader& r) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) r.fail("zlib could not start an inflate stream.");
  // One spare byte: inflate never starts without room, and an entry longer
  // than its recorded size shows up as out_done > expected.
  std::string out(expected + 1, '\0');
  size_t in_done = 0, out_done = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    uInt in_chunk = static_cast<uInt>(std::min<size_t>(in.size() - in_done, 1u << 30));
    uInt out_chunk = static_cast<uInt>(std::min<size_t>(out.size() - out_done, 1u << 30));
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_done));
    z.avail_in = in_chunk;
    z.next_out = reinterpret_cast<Bytef*>(out.data() + out_done);
    z.avail_out = out_chunk;
    rc = inflate(&z, Z_NO_FLUSH);  // Z_BUF_ERROR once no progress is possible
    in_done += in_chunk - z.avail_in;
    out_done += out_chunk - z.avail_out;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || out_done != expected) r.fail("a compressed entry is corrupt or its size is wrong.");
  out.resize(expected);
  return out;
}

// Sizes and offsets that do not fit 32 bits live in the ZIP64 extra field, in
// this order, each present only when its 32-bit slot is saturated.
void read_zip64_extra(std::string_view extra, uint64_t& size, uint64_t& csize, uint64_t& offset, ByteReader& r) {
  ByteReader e(extra, "", "");
  while (e.remaining() >= 4) {
    uint16_t id = e.read<uint16_t>(), len = e.read<uint16_t>();
    if (len > e.remaining()) r.fail("a ZIP extra field runs past its record.");
    if (id != kZip64ExtraId) {
      e.take(len, "");
      continue;
    }
    ByteReader z(e.view(len, ""), "", "");
    auto field = [&](uint64_t& v) {
      if (v != kSaturated32) return;
      if (z.remaining() < 8) r.fail("a ZIP64 extra field is too short.");
      v = z.read<uint64_t>();
    };
    field(size);
    field(csize);
    field(offset);
  }
}

}  // namespace

std::string write_zip(const std::vector<ZipEntry>& entries, bool compress) {
  std::string out, central;
  for (const auto& e : entries) {
    std::string body = compress ? deflate_raw(e.contents) : e.contents;
    uint32_t crc = crc_of(e.contents);
    uint64_t offset = out.size();
    bool big = e.contents.size() >= kSaturated32 || body.size() >= kSaturated32 || offset >= kSaturated32;
    uint16_t method = compress ? kDeflated : kStored;
    uint16_t version = big ? kVersionZip64 : kVersionDeflate;
    // Local header: with ZIP64 both sizes move to the extra field.
    put<uint32_t>(out, kLocalHeader);
    put<uint16_t>(out, version);
    put<uint16_t>(out, 0);  // flags
    put<uint16_t>(out, method);
    put<uint32_t>(out, 0);  // DOS time and date: left at zero
    put<uint32_t>(out, crc);
    put<uint32_t>(out, big ? kSaturated32 : static_cast<uint32_t>(body.size()));
    put<uint32_t>(out, big ? kSaturated32 : static_cast<uint32_t>(e.contents.size()));
    put<uint16_t>(out, static_cast<uint16_t>(e.name.size()));
    put<uint16_t>(out, big ? 20 : 0);
    out += e.name;
    if (big) {
      put<uint16_t>(out, kZip64ExtraId);
      put<uint16_t>(out, 16);
      put<uint64_t>(out, e.contents.size());
      put<uint64_t>(out, body.size());
    }
    out += body;
    // Central directory record.
    put<uint32_t>(central, kCentralHeader);
    put<uint16_t>(central, version);  // made by
    put<uint16_t>(central, version);  // needed
    put<uint16_t>(central, 0);
    put<uint16_t>(central, method);
    put<uint32_t>(central, 0);
    put<uint32_t>(central, crc);
    put<uint32_t>(central, big ? kSaturated32 : static_cast<uint32_t>(body.size()));
    put<uint32_t>(central, big ? kSaturated32 : static_cast<uint32_t>(e.contents.size()));
    put<uint16_t>(central, static_cast<uint16_t>(e.name.size()));
    put<uint16_t>(central, big ? 28 : 0);
    put<uint16_t>(central, 0);  // comment
    put<uint16_t>(central, 0);  // disk
    put<uint16_t>(central, 0);  // internal attributes
    put<uint32_t>(central, 0);  // external attributes
    put<uint32_t>(central, big ? kSaturated32 : static_cast<uint32_t>(offset));
    central += e.name;
    if (big) {
      put<uint16_t>(central, kZip64ExtraId);
      put<uint16_t>(central, 24);
      put<uint64_t>(central, e.contents.size());
      put<uint64_t>(central, body.size());
      put<uint64_t>(central, offset);
    }
  }
  uint64_t central_offset = out.size();
  out += central;
  bool big = central_offset >= kSaturated32 || central.size() >= kSaturated32 || entries.size() >= 0xffff;
  if (big) {
    uint64_t zip64_end = out.size();
    put<uint32_t>(out, kZip64EndOfCentral);
    put<uint64_t>(out, 44);  // size of the rest of this record
    put<uint16_t>(out, kVersionZip64);
    put<uint16_t>(out, kVersionZip64);
    put<uint32_t>(out, 0);
    put<uint32_t>(out, 0);
    put<uint64_t>(out, entries.size());
    put<uint64_t>(out, entries.size());
    put<uint64_t>(out, central.size());
    put<uint64_t>(out, central_offset);
    put<uint32_t>(out, kZip64Locator);
    put<uint32_t>(out, 0);
    put<uint64_t>(out, zip64_end);
    put<uint32_t>(out, 1);
  }
  put<uint32_t>(out, kEndOfCentral);
  put<uint16_t>(out, 0);
  put<uint16_t>(out, 0);
  put<uint16_t>(out, big ? 0xffff : static_cast<uint16_t>(entries.size()));
  put<uint16_t>(out, big ? 0xffff : static_cast<uint16_t>(entries.size()));
  put<uint32_t>(out, big ? kSaturated32 : static_cast<uint32_t>(central.size()));
  put<uint32_t>(out, big ? kSaturated32 : static_cast<uint32_t>(central_offset));
  put<uint16_t>(out, 0);
  return out;
}

std::vector<ZipEntry> read_zip(std::string_view bytes, const std::string& op, const std::string& source) {
  ByteReader r(bytes, op, source);
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  constexpr size_t kEndSize = 22;
  if (bytes.size() < kEndSize) r.fail("not a zip archive (too short).");
  size_t end = std::string_view::npos;
  size_t lowest = bytes.size() > kEndSize + 0xffff ? bytes.size() - kEndSize - 0xffff : 0;
  for (size_t p = bytes.size() - kEndSize + 1; p-- > lowest;) {
    uint32_t sig;
    std::memcpy(&sig, bytes.data() + p, 4);
    if (sig == kEndOfCentral) {
      end = p;
      break;
    }
  }
  if (end == std::string_view::npos) r.fail("not a zip archive (no end-of-central-directory record).");
  r.seek(end + 10);
  uint64_t count = r.read<uint16_t>();
  uint64_t central_size = r.read<uint32_t>();
  uint64_t central_offset = r.read<uint32_t>();
  if (end >= 20) {
    uint32_t sig;
    std::memcpy(&sig, bytes.data() + end - 20, 4);
    if (sig == kZip64Locator) {
      r.seek(end - 20 + 8);
      r.seek(r.read<uint64_t>());
      if (r.read<uint32_t>() != kZip64EndOfCentral) r.fail("the ZIP64 end record is missing.");
      r.take(8 + 2 + 2 + 4 + 4 + 8, "the ZIP64 end record");
      count = r.read<uint64_t>();
      central_size = r.read<uint64_t>();
      central_offset = r.read<uint64_t>();
    }
  }
  if (central_offset > bytes.size() || central_size > bytes.size() - central_offset)
    r.fail("the central directory lies outside the file.");
  std::vector<ZipEntry> entries;
  std::set<std::string> names;
  r.seek(central_offset);
  for (uint64_t i = 0; i < count; ++i) {
    if (r.read<uint32_t>() != kCentralHeader) r.fail("a central directory record is corrupt.");
    r.take(6, "a central directory record");
    uint16_t method = r.read<uint16_t>();
    r.take(4, "a central directory record");
    uint32_t crc = r.read<uint32_t>();
    uint64_t csize = r.read<uint32_t>(), size = r.read<uint32_t>();
    uint16_t name_len = r.read<uint16_t>(), extra_len = r.read<uint16_t>(), comment_len = r.read<uint16_t>();
    r.take(8, "a central directory record");
    uint64_t offset = r.read<uint32_t>();
    std::string name(r.view(name_len, "an entry name"));
    read_zip64_extra(r.view(extra_len, "an extra field"), size, csize, offset, r);
    r.take(comment_len, "an entry comment");
    if (!names.insert(name).second) r.fail("the entry '" + name + "' appears twice.");
    // The local header repeats the name and may carry a different extra field.
    ByteReader local(bytes, op, source);
    local.seek(offset);
    if (local.read<uint32_t>() != kLocalHeader) r.fail("the local header of '" + name + "' is corrupt.");
    local.take(22, "a local header");
    uint16_t lname = local.read<uint16_t>(), lextra = local.read<uint16_t>();
    local.take(lname + size_t{lextra}, "a local header");
    std::string_view body = local.view(csize, "an entry's data");
    ZipEntry e{name, {}};
    if (method == kStored) {
      if (csize != size) r.fail("the stored entry '" + name + "' has inconsistent sizes.");
      e.contents.assign(body);
    } else if (method == kDeflated) {
      // A deflate stream expands at most ~1032x; reject absurd sizes before allocating.
      if (size / 1032 > csize + 1) r.fail("the entry '" + name + "' claims an impossible uncompressed size.");
      e.contents = inflate_raw(body, size, r);
    } else {
      r.fail("the entry '" + name + "' uses unsupported compression method " + std::to_string(method) + ".");
    }
    if (crc_of(e.contents) != crc) r.fail("the entry '" + name + "' fails its CRC check.");
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace lmx::io
