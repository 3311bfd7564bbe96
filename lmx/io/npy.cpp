#include "lmx/io/npy.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "lmx/io/file.h"
#include "lmx/ops/ops.h"

namespace lmx::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

std::string descr(Dtype t) {
  switch (t.val()) {
    case Dtype::Val::bool_: return "|b1";
    case Dtype::Val::uint8: return "|u1";
    case Dtype::Val::int8: return "|i1";
    case Dtype::Val::uint16: return "<u2";
    case Dtype::Val::int16: return "<i2";
    case Dtype::Val::uint32: return "<u4";
    case Dtype::Val::int32: return "<i4";
    case Dtype::Val::uint64: return "<u8";
    case Dtype::Val::int64: return "<i8";
    case Dtype::Val::float16: return "<f2";
    case Dtype::Val::bfloat16: return "<V2";  // NumPy has no bfloat16; MLX writes raw 2-byte records
    case Dtype::Val::float32: return "<f4";
    case Dtype::Val::float64: return "<f8";
    case Dtype::Val::complex64: return "<c8";
  }
  return "";
}

[[noreturn]] void bad(const std::string& source, const std::string& what) { malformed("load", source, what); }

// The value of `key` in the header dict (a Python literal), as text.
std::string field(const std::string& header, const std::string& key, const std::string& source) {
  auto k = header.find("'" + key + "'");
  if (k == std::string::npos) bad(source, "the .npy header has no '" + key + "'.");
  auto colon = header.find(':', k);
  if (colon == std::string::npos) bad(source, "malformed .npy header.");
  size_t v = header.find_first_not_of(' ', colon + 1);
  if (v == std::string::npos) bad(source, "malformed .npy header.");
  size_t end;
  if (header[v] == '\'') {
    end = header.find('\'', v + 1);
    if (end == std::string::npos) bad(source, "malformed .npy header.");
    return header.substr(v + 1, end - v - 1);
  }
  if (header[v] == '(') {
    end = header.find(')', v);
    if (end == std::string::npos) bad(source, "malformed .npy header.");
    return header.substr(v, end - v + 1);
  }
  end = header.find_first_of(",}", v);
  return header.substr(v, end - v);
}

// "(2, 3)", "(5,)" or "()": each dimension a non-negative integer.
Shape parse_shape(const std::string& text, const std::string& source) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') bad(source, "malformed shape '" + text + "'.");
  Shape shape;
  std::string item;
  auto flush = [&] {
    if (item.empty()) return;
    long long d = item.size() > 12 ? -1 : std::stoll(item);
    if (d < 0 || d > std::numeric_limits<ShapeElem>::max())
      bad(source, "a dimension of shape '" + text + "' is too large.");
    shape.push_back(static_cast<ShapeElem>(d));
    item.clear();
  };
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') item.push_back(c);
    else if (c == ',') {
      if (item.empty()) bad(source, "malformed shape '" + text + "'.");
      flush();
    } else if (c != ' ' && c != 'L') bad(source, "malformed shape '" + text + "'.");
  }
  flush();
  return shape;
}

}  // namespace

std::string to_npy(array a) {
  a.eval();
  std::ostringstream dict;
  dict << "{'descr': '" << descr(a.dtype()) << "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < a.ndim(); ++i) dict << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) dict << ",";
  dict << "), }";
  std::string header = dict.str();
  // Magic (6) + version (2) + length (2 or 4) + header, padded to 64 bytes with '\n' last.
  size_t prefix = 10;
  bool v2 = header.size() + prefix + 1 > 65535;
  if (v2) prefix = 12;
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back(static_cast<char>(v2 ? 2 : 1));
  out.push_back(0);
  uint32_t len = static_cast<uint32_t>(header.size());
  for (int i = 0; i < (v2 ? 4 : 2); ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += header;
  size_t start = out.size();
  out.resize(start + a.nbytes());
  copy_to_host(a, out.data() + start, a.dtype());
  return out;
}

array from_npy(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) bad(source, "not a .npy file (bad magic string).");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t len_bytes = major == 1 ? 2 : 4;
  if (major < 1 || major > 3) bad(source, "unsupported .npy version " + std::to_string(major) + ".");
  if (bytes.size() < 8 + len_bytes) bad(source, "truncated .npy header.");
  size_t hlen = 0;
  for (size_t i = 0; i < len_bytes; ++i) hlen |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  size_t data_start = 8 + len_bytes + hlen;
  if (bytes.size() < data_start) bad(source, "truncated .npy header.");
  std::string header = bytes.substr(8 + len_bytes, hlen);
  std::string d = field(header, "descr", source);
  bool fortran = field(header, "fortran_order", source).find("True") != std::string::npos;
  std::string shape_text = field(header, "shape", source);
  Shape shape = parse_shape(shape_text, source);
  if (d.size() < 3) bad(source, "malformed dtype descriptor '" + d + "'.");
  char order = d[0], kind = d[1];
  int size = std::atoi(d.c_str() + 2);
  Dtype t = float32;
  if (kind == 'b' && size == 1) t = bool_;
  else if (kind == 'u' && size == 1) t = uint8;
  else if (kind == 'u' && size == 2) t = uint16;
  else if (kind == 'u' && size == 4) t = uint32;
  else if (kind == 'u' && size == 8) t = uint64;
  else if (kind == 'i' && size == 1) t = int8;
  else if (kind == 'i' && size == 2) t = int16;
  else if (kind == 'i' && size == 4) t = int32;
  else if (kind == 'i' && size == 8) t = int64;
  else if (kind == 'f' && size == 2) t = float16;
  else if (kind == 'f' && size == 4) t = float32;
  else if (kind == 'f' && size == 8) t = float64;
  else if (kind == 'c' && size == 8) t = complex64;
  else if (kind == 'V' && size == 2) t = bfloat16;
  else throw std::invalid_argument("[load] " + source + ": unsupported dtype '" + d + "'.");
  size_t count = shape_size(shape);
  if (count > (bytes.size() - data_start) / t.size()) bad(source, "the data is shorter than its shape says.");
  std::vector<char> data(bytes.begin() + data_start, bytes.begin() + data_start + count * t.size());
  if (order == '>' && t.size() > 1) {
    // Big-endian file: swap each element (complex: each float separately).
    size_t unit = t == complex64 ? 4 : t.size();
    for (size_t i = 0; i < data.size(); i += unit) std::reverse(data.begin() + i, data.begin() + i + unit);
  }
  Strides strides = row_major_strides(shape);
  if (fortran) {
    int64_t st = 1;
    for (int i = 0; i < static_cast<int>(shape.size()); ++i) strides[i] = st, st *= shape[i];
  }
  return copy_from_host(data.data(), t, shape, strides, t);
}

void save_npy(std::string path, const array& a) {
  write_file(with_extension(path, ".npy"), to_npy(a), "save");
}

array load_npy(const std::string& path) { return from_npy(read_file(path, "load"), path); }

}  // namespace lmx::io
