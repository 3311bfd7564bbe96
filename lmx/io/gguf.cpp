#include "lmx/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>

#include "lmx/io/file.h"
#include "lmx/io/gguf_quants.h"

namespace lmx::io {

namespace {

constexpr const char* kLoad = "load_gguf";
constexpr const char* kSave = "save_gguf";
constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read little-endian
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 8;

// Metadata value types of the GGUF specification.
enum class Meta : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

// The dtype of each numeric metadata type; nullopt for string/array/unknown.
std::optional<Dtype> meta_dtype(uint32_t t) {
  switch (static_cast<Meta>(t)) {
    case Meta::u8: return uint8;
    case Meta::i8: return int8;
    case Meta::u16: return uint16;
    case Meta::i16: return int16;
    case Meta::u32: return uint32;
    case Meta::i32: return int32;
    case Meta::f32: return float32;
    case Meta::boolean: return bool_;
    case Meta::u64: return uint64;
    case Meta::i64: return int64;
    case Meta::f64: return float64;
    default: return std::nullopt;
  }
}

std::optional<Meta> meta_type_of(Dtype t) {
  for (uint32_t m = 0; m <= static_cast<uint32_t>(Meta::f64); ++m)
    if (auto d = meta_dtype(m); d && *d == t) return static_cast<Meta>(m);
  return std::nullopt;
}

std::optional<ggml::Type> tensor_type_of(Dtype t) {
  switch (t.val()) {
    case Dtype::Val::float32: return ggml::Type::F32;
    case Dtype::Val::float16: return ggml::Type::F16;
    case Dtype::Val::bfloat16: return ggml::Type::BF16;
    case Dtype::Val::float64: return ggml::Type::F64;
    case Dtype::Val::int8: return ggml::Type::I8;
    case Dtype::Val::int16: return ggml::Type::I16;
    case Dtype::Val::int32: return ggml::Type::I32;
    case Dtype::Val::int64: return ggml::Type::I64;
    default: return std::nullopt;
  }
}

Dtype plain_dtype(ggml::Type t) {
  switch (t) {
    case ggml::Type::F16: return float16;
    case ggml::Type::BF16: return bfloat16;
    case ggml::Type::F64: return float64;
    case ggml::Type::I8: return int8;
    case ggml::Type::I16: return int16;
    case ggml::Type::I32: return int32;
    case ggml::Type::I64: return int64;
    default: return float32;
  }
}

std::string read_string(ByteReader& r) {
  uint64_t n = r.read<uint64_t>();
  return std::string(r.view(n, "a string"));
}

// A bool must be 0 or 1 for the kernels; any other byte is a malformed file.
void check_bools(const uint8_t* p, size_t n, ByteReader& r) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] > 1) r.fail("a bool metadata value is neither 0 nor 1.");
}

GGUFMetaData read_value(ByteReader& r, uint32_t type) {
  if (auto dt = meta_dtype(type)) {
    const char* p = r.take(dt->size(), "a metadata value");
    if (*dt == bool_) check_bools(reinterpret_cast<const uint8_t*>(p), 1, r);
    return copy_bytes(p, {}, *dt);
  }
  if (type == static_cast<uint32_t>(Meta::string)) return read_string(r);
  if (type != static_cast<uint32_t>(Meta::array)) r.fail("unknown metadata type " + std::to_string(type) + ".");
  uint32_t item = r.read<uint32_t>();
  uint64_t n = r.read<uint64_t>();
  if (item == static_cast<uint32_t>(Meta::string)) {
    if (n > r.remaining() / 8) r.fail("truncated file: a string array runs past its end.");
    std::vector<std::string> out;
    out.reserve(n);
    for (uint64_t i = 0; i < n; ++i) out.push_back(read_string(r));
    return out;
  }
  auto dt = meta_dtype(item);
  if (!dt) r.fail("metadata arrays of type " + std::to_string(item) + " are not supported.");
  if (n > r.remaining() / dt->size() || n > static_cast<uint64_t>(std::numeric_limits<ShapeElem>::max()))
    r.fail("truncated file: a metadata array runs past its end.");
  const char* p = r.take(n * dt->size(), "a metadata array");
  if (*dt == bool_) check_bools(reinterpret_cast<const uint8_t*>(p), n, r);
  return copy_bytes(p, {static_cast<ShapeElem>(n)}, *dt);
}

void write_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void write_value(std::string& out, const std::string& key, const GGUFMetaData& v) {
  if (auto* s = std::get_if<std::string>(&v)) {
    put<uint32_t>(out, static_cast<uint32_t>(Meta::string));
    write_string(out, *s);
  } else if (auto* list = std::get_if<std::vector<std::string>>(&v)) {
    put<uint32_t>(out, static_cast<uint32_t>(Meta::array));
    put<uint32_t>(out, static_cast<uint32_t>(Meta::string));
    put<uint64_t>(out, list->size());
    for (const auto& s : *list) write_string(out, s);
  } else if (auto* a = std::get_if<array>(&v)) {
    auto type = meta_type_of(a->dtype());
    if (!type) throw std::invalid_argument("[save_gguf] Metadata '" + key + "' has a dtype GGUF cannot store.");
    if (a->ndim() > 1) throw std::invalid_argument("[save_gguf] Cannot save arrays with more than one dimension.");
    if (a->ndim() == 1) {
      put<uint32_t>(out, static_cast<uint32_t>(Meta::array));
      put<uint32_t>(out, static_cast<uint32_t>(*type));
      put<uint64_t>(out, a->size());
    } else {
      put<uint32_t>(out, static_cast<uint32_t>(*type));
    }
    out += to_bytes(*a);
  } else {
    throw std::invalid_argument("[save_gguf] Metadata '" + key + "' has no value.");
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct TensorInfo {
  std::string name;
  Shape shape;  // row-major: GGUF lists dimensions innermost first
  ggml::TypeInfo type;
  uint64_t offset, bytes;
};

TensorInfo read_tensor_info(ByteReader& r) {
  TensorInfo t;
  t.name = read_string(r);
  uint32_t n_dims = r.read<uint32_t>();
  if (n_dims > kMaxDims) r.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions.");
  t.shape.resize(n_dims);
  uint64_t count = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    uint64_t d = r.read<uint64_t>();
    if (d > static_cast<uint64_t>(std::numeric_limits<ShapeElem>::max()) || (d && count > UINT64_MAX / 2 / d))
      r.fail("tensor '" + t.name + "' has an impossible dimension.");
    t.shape[n_dims - 1 - i] = static_cast<ShapeElem>(d);
    count *= d;
  }
  uint32_t id = r.read<uint32_t>();
  auto info = ggml::type_info(id);
  if (!info) r.fail("tensor '" + t.name + "' has GGML type " + std::to_string(id) + ", which lmx cannot read.");
  t.type = *info;
  if (n_dims == 0 || t.shape.back() % t.type.block_elems != 0)
    r.fail("tensor '" + t.name + "' (" + t.type.name + ") does not split into whole blocks.");
  t.offset = r.read<uint64_t>();
  t.bytes = count / t.type.block_elems * t.type.block_bytes;
  return t;
}

// The shapes of an affine-converted tensor's packed weights and of its scales
// (and biases).
std::pair<Shape, Shape> affine_shapes(const TensorInfo& t) {
  Shape groups = t.shape, packed = t.shape;
  groups.back() /= ggml::kAffineGroup;
  packed.back() = packed.back() * t.type.bits / 32;
  return {packed, groups};
}

// Bytes the converted tensors take in one HostArena.
size_t converted_bytes(const std::vector<TensorInfo>& tensors) {
  size_t total = 0;
  for (const auto& t : tensors)
    if (t.type.storage == ggml::Storage::affine) {
      auto [packed, groups] = affine_shapes(t);
      total += HostArena::room(shape_size(packed) * 4) + 2 * HostArena::room(shape_size(groups) * 2);
    }
  return total;
}

void add_tensor(std::map<std::string, array>& out, const TensorInfo& t, const char* bytes,
                const std::shared_ptr<InputFile>& file, HostArena& arena, ByteReader& r) {
  auto claim = [&](const std::string& name, array a) {
    if (!out.emplace(name, std::move(a)).second) r.fail("the tensor name '" + name + "' appears twice.");
  };
  const auto* blocks = reinterpret_cast<const uint8_t*>(bytes);
  size_t n_blocks = t.bytes / t.type.block_bytes;
  switch (t.type.storage) {
    case ggml::Storage::plain: {
      Dtype dt = plain_dtype(t.type.type);
      bool aligned = reinterpret_cast<uintptr_t>(bytes) % dt.size() == 0;
      claim(t.name, aligned ? alias_mapped(file, bytes, t.shape, dt) : copy_bytes(bytes, t.shape, dt));
      return;
    }
    case ggml::Storage::affine: {
      auto [packed, groups] = affine_shapes(t);
      array w = arena.take(packed, uint32), s = arena.take(groups, float16), b = arena.take(groups, float16);
      ggml::to_affine(t.type.type, blocks, n_blocks, w.data<uint8_t>(), s.data<float16_t>(), b.data<float16_t>());
      const std::string suffix = ".weight";
      bool has_suffix = t.name.size() > suffix.size() &&
                        t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0;
      std::string base = has_suffix ? t.name.substr(0, t.name.size() - suffix.size()) : t.name;
      claim(t.name, w);
      claim(base + ".scales", s);
      claim(base + ".biases", b);
      return;
    }
    case ggml::Storage::dequantize: {
      array a = empty_host(t.shape, float16);
      ggml::dequantize(t.type.type, blocks, n_blocks, a.data<float16_t>());
      claim(t.name, a);
      return;
    }
  }
}

}  // namespace

std::string to_gguf(const std::map<std::string, array>& arrays, const GGUFMetaMap& metadata) {
  std::string out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, kVersion);
  put<uint64_t>(out, arrays.size());
  put<uint64_t>(out, metadata.size());
  for (const auto& [key, value] : metadata) {
    write_string(out, key);
    write_value(out, key, value);
  }
  uint64_t offset = 0;
  for (const auto& [name, a] : arrays) {
    auto type = tensor_type_of(a.dtype());
    if (!type) throw std::invalid_argument("[save_gguf] Tensor '" + name + "' has a dtype GGUF cannot store.");
    if (a.ndim() == 0 || static_cast<uint32_t>(a.ndim()) > kMaxDims)
      throw std::invalid_argument("[save_gguf] Tensor '" + name + "' must have 1 to 8 dimensions.");
    write_string(out, name);
    put<uint32_t>(out, a.ndim());
    for (int i = a.ndim() - 1; i >= 0; --i) put<uint64_t>(out, a.shape(i));
    put<uint32_t>(out, static_cast<uint32_t>(*type));
    put<uint64_t>(out, offset);
    offset = align_up(offset + a.nbytes(), kDefaultAlignment);
  }
  out.resize(align_up(out.size(), kDefaultAlignment), '\0');
  for (const auto& [name, a] : arrays) {
    out += to_bytes(a);
    out.resize(align_up(out.size(), kDefaultAlignment), '\0');
  }
  return out;
}

void save_gguf(std::string path, const std::map<std::string, array>& arrays, const GGUFMetaMap& metadata) {
  write_file(with_extension(path, ".gguf"), to_gguf(arrays, metadata), kSave);
}

std::pair<std::map<std::string, array>, GGUFMetaMap> load_gguf(const std::string& path) {
  return load_gguf(InputFile::open(path, kLoad));
}

std::pair<std::map<std::string, array>, GGUFMetaMap> load_gguf(const std::shared_ptr<InputFile>& file) {
  ByteReader r({file->data(), file->size()}, kLoad, file->path());
  if (file->size() < 4 || r.read<uint32_t>() != kMagic) r.fail("not a GGUF file (bad magic).");
  uint32_t version = r.read<uint32_t>();
  if (version != 2 && version != 3)
    r.fail("unsupported GGUF version " + std::to_string(version) + " (lmx reads versions 2 and 3, little-endian).");
  uint64_t n_tensors = r.read<uint64_t>(), n_kv = r.read<uint64_t>();
  GGUFMetaMap metadata;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(r);
    uint32_t type = r.read<uint32_t>();
    if (!metadata.emplace(key, read_value(r, type)).second) r.fail("the metadata key '" + key + "' appears twice.");
  }
  uint64_t alignment = kDefaultAlignment;
  if (auto it = metadata.find("general.alignment"); it != metadata.end()) {
    auto* a = std::get_if<array>(&it->second);
    if (!a || a->dtype() != uint32 || a->ndim() != 0) r.fail("general.alignment is not a uint32.");
    alignment = a->item<uint32_t>();
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) r.fail("general.alignment is not a power of two.");
  }
  std::vector<TensorInfo> tensors;
  if (n_tensors > r.remaining() / 24) r.fail("truncated file: the tensor table runs past its end.");
  for (uint64_t i = 0; i < n_tensors; ++i) tensors.push_back(read_tensor_info(r));
  uint64_t data_start = align_up(r.pos(), alignment);
  if (data_start > file->size()) r.fail("truncated file: the tensor data is missing.");
  uint64_t data_size = file->size() - data_start;

  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      r.fail("tensor '" + t.name + "' lies past the end of the file.");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->bytes)
      r.fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap.");

  std::map<std::string, array> arrays;
  HostArena arena(converted_bytes(tensors));
  for (const auto& t : tensors) add_tensor(arrays, t, file->data() + data_start + t.offset, file, arena, r);
  return {std::move(arrays), std::move(metadata)};
}

}  // namespace lmx::io
