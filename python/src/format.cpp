#include "format.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace lmx::py {

namespace {

int print_precision = -1;  // digits after the point; -1: six significant digits

// As MLX: every axis longer than 2 * kEdgeItems shows only its ends.
constexpr ShapeElem kEdgeItems = 3;

// Formatting goes through snprintf, not iostreams: no locale state is
// involved, so the repr cannot depend on what else the process loaded.
void append_float(std::string& out, double v) {
  char buf[64];
  if (print_precision >= 0) std::snprintf(buf, sizeof buf, "%.*f", print_precision, v);
  else std::snprintf(buf, sizeof buf, "%g", v);  // six significant digits, as MLX
  out += buf;
}

template <typename T>
void append_int(std::string& out, T v) {
  out += std::to_string(v);
}

void format_element(std::string& out, const array& a, const char* p) {
  switch (a.dtype().val()) {
    case Dtype::Val::bool_: out += *reinterpret_cast<const bool*>(p) ? "True" : "False"; break;
    case Dtype::Val::uint8: append_int(out, static_cast<unsigned>(*reinterpret_cast<const uint8_t*>(p))); break;
    case Dtype::Val::uint16: append_int(out, *reinterpret_cast<const uint16_t*>(p)); break;
    case Dtype::Val::uint32: append_int(out, *reinterpret_cast<const uint32_t*>(p)); break;
    case Dtype::Val::uint64: append_int(out, *reinterpret_cast<const uint64_t*>(p)); break;
    case Dtype::Val::int8: append_int(out, static_cast<int>(*reinterpret_cast<const int8_t*>(p))); break;
    case Dtype::Val::int16: append_int(out, *reinterpret_cast<const int16_t*>(p)); break;
    case Dtype::Val::int32: append_int(out, *reinterpret_cast<const int32_t*>(p)); break;
    case Dtype::Val::int64: append_int(out, *reinterpret_cast<const int64_t*>(p)); break;
    case Dtype::Val::float16: append_float(out, static_cast<float>(*reinterpret_cast<const float16_t*>(p))); break;
    case Dtype::Val::bfloat16: append_float(out, static_cast<float>(*reinterpret_cast<const bfloat16_t*>(p))); break;
    case Dtype::Val::float32: append_float(out, *reinterpret_cast<const float*>(p)); break;
    case Dtype::Val::float64: append_float(out, *reinterpret_cast<const double*>(p)); break;
    case Dtype::Val::complex64: {
      auto c = *reinterpret_cast<const complex64_t*>(p);
      append_float(out, c.real());
      out += c.imag() >= 0 || std::isnan(c.imag()) ? "+" : "-";
      append_float(out, std::abs(c.imag()));
      out += "j";
      break;
    }
  }
}

void format_dim(std::string& out, const array& a, const char* p, int dim, int indent) {
  if (dim == a.ndim()) {
    format_element(out, a, p);
    return;
  }
  out += "[";
  ShapeElem n = a.shape()[dim];
  int64_t step = a.strides()[dim] * static_cast<int64_t>(a.itemsize());
  bool cut = n > 2 * kEdgeItems;
  std::string row_break = ",\n" + std::string(indent + 1, ' ');
  for (ShapeElem i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      out += dim + 1 == a.ndim() ? std::string("..., ") : "..." + row_break;
      i = n - kEdgeItems;
    }
    format_dim(out, a, p + i * step, dim + 1, indent + 1);
    if (i + 1 < n) out += dim + 1 == a.ndim() ? std::string(", ") : row_break;
  }
  out += "]";
}

}  // namespace

int get_print_precision() { return print_precision; }
void set_print_precision(int precision) { print_precision = precision < 0 ? -1 : precision; }

std::string format_array(array& a) {
  a.eval();
  std::string out = "array(";
  format_dim(out, a, static_cast<const char*>(a.raw_ptr()), 0, 6);
  out += ", dtype=" + dtype_name(a.dtype()) + ")";
  return out;
}

}  // namespace lmx::py
