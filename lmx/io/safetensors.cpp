#include "lmx/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "lmx/io/file.h"

namespace lmx::io {

namespace {

using json = nlohmann::json;

constexpr const char* kLoad = "load_safetensors";
constexpr const char* kSave = "save_safetensors";
// The reference implementation refuses larger headers; so do we, before parsing.
constexpr uint64_t kMaxHeader = 100'000'000;

const std::pair<const char*, Dtype> kDtypeNames[] = {
    {"BOOL", bool_},     {"U8", uint8},     {"I8", int8},       {"U16", uint16},  {"I16", int16},
    {"U32", uint32},     {"I32", int32},    {"U64", uint64},    {"I64", int64},   {"F16", float16},
    {"BF16", bfloat16},  {"F32", float32},  {"F64", float64},   {"C64", complex64},
};

const char* name_of(Dtype t) {
  for (const auto& [name, d] : kDtypeNames)
    if (d == t) return name;
  throw std::invalid_argument("[save_safetensors] Unsupported dtype.");
}

struct Entry {
  std::string name;
  Dtype dtype;
  Shape shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const json& v, uint64_t data_size, const ByteReader& r) {
  auto where = " of tensor '" + name + "'";
  if (!v.is_object()) r.fail("the header entry" + where + " is not an object.");
  auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
  if (dt == v.end() || sh == v.end() || off == v.end() || !dt->is_string() || !sh->is_array() || !off->is_array())
    r.fail("the header entry" + where + " needs a dtype string, a shape list and data_offsets.");
  Entry e{name, float32, {}, 0, 0};
  auto dname = dt->get<std::string>();
  auto known = std::find_if(std::begin(kDtypeNames), std::end(kDtypeNames), [&](auto& p) { return dname == p.first; });
  if (known == std::end(kDtypeNames)) r.fail("unsupported dtype '" + dname + "'" + where + ".");
  e.dtype = known->second;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<ShapeElem>::max()))
      r.fail("the shape" + where + " holds something other than a dimension.");
    e.shape.push_back(static_cast<ShapeElem>(d.get<uint64_t>()));
  }
  if (off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
    r.fail("the data_offsets" + where + " are not two offsets.");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size) r.fail("the data_offsets" + where + " point past the end of the file.");
  size_t count;
  try {
    count = shape_size(e.shape);
  } catch (const std::invalid_argument&) {
    r.fail("the shape" + where + " is too large.");
  }
  if (count > (e.end - e.begin) / e.dtype.size() || e.end - e.begin != count * e.dtype.size())
    r.fail("the byte range" + where + " does not match its shape and dtype.");
  return e;
}

}  // namespace

std::string to_safetensors(const std::map<std::string, array>& arrays, const StringMap& metadata) {
  // Widest dtypes first keeps every tensor aligned for its type (the format
  // forbids gaps between tensors), so loads can alias the mapped file.
  std::vector<std::pair<std::string, array>> order(arrays.begin(), arrays.end());
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second.itemsize() > b.second.itemsize(); });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (auto& [name, a] : order) {
    if (name == "__metadata__") throw std::invalid_argument("[save_safetensors] '__metadata__' is a reserved name.");
    header[name] = {{"dtype", name_of(a.dtype())}, {"shape", a.shape()}, {"data_offsets", {offset, offset + a.nbytes()}}};
    offset += a.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string out;
  put<uint64_t>(out, text.size());
  out += text;
  for (auto& [name, a] : order) out += to_bytes(a);
  return out;
}

void save_safetensors(std::string path, const std::map<std::string, array>& arrays, const StringMap& metadata) {
  write_file(with_extension(path, ".safetensors"), to_safetensors(arrays, metadata), kSave);
}

std::pair<std::map<std::string, array>, StringMap> load_safetensors(const std::string& path) {
  return load_safetensors(InputFile::open(path, kLoad));
}

std::pair<std::map<std::string, array>, StringMap> load_safetensors(const std::shared_ptr<InputFile>& file) {
  ByteReader r({file->data(), file->size()}, kLoad, file->path());
  uint64_t header_size = r.read<uint64_t>();
  if (header_size > kMaxHeader || header_size > r.remaining()) r.fail("the header length is larger than the file.");
  std::string_view text = r.view(header_size, "the header");
  json header = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) r.fail("the header is not a JSON object.");
  const char* data = file->data() + r.pos();
  uint64_t data_size = r.remaining();

  StringMap metadata;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_null()) continue;  // MLX writes null when there is no metadata
      if (!it->is_object()) r.fail("__metadata__ is not an object.");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) r.fail("the metadata value of '" + m.key() + "' is not a string.");
        metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(it.key(), *it, data_size, r));
  }
  std::vector<const Entry*> by_offset;
  for (auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      r.fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap.");

  std::map<std::string, array> arrays;
  for (auto& e : entries) {
    const char* bytes = data + e.begin;
    array a;
    if (e.dtype == bool_) {
      // Only 0 and 1 are valid bools for the kernels: normalise, don't alias.
      a = empty_host(e.shape, bool_);
      auto* out = a.data<bool>();
      for (uint64_t i = 0; i < e.end - e.begin; ++i) out[i] = bytes[i] != 0;
    } else if (reinterpret_cast<uintptr_t>(bytes) % e.dtype.size() == 0) {
      a = alias_mapped(file, bytes, e.shape, e.dtype);
    } else {
      a = copy_bytes(bytes, e.shape, e.dtype);  // misaligned in the file: one copy
    }
    arrays.emplace(e.name, std::move(a));
  }
  return {std::move(arrays), std::move(metadata)};
}

}  // namespace lmx::io
