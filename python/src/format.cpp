#include "format.h"

#include <iomanip>
#include <sstream>

namespace lmx::py {

namespace {

int print_precision = -1;  // digits after the point; -1: six significant digits

// As MLX: every axis longer than 2 * kEdgeItems shows only its ends.
constexpr ShapeElem kEdgeItems = 3;

void format_element(std::ostringstream& os, const array& a, const char* p) {
  switch (a.dtype().val()) {
    case Dtype::Val::bool_: os << (*reinterpret_cast<const bool*>(p) ? "True" : "False"); break;
    case Dtype::Val::uint8: os << static_cast<unsigned>(*reinterpret_cast<const uint8_t*>(p)); break;
    case Dtype::Val::uint16: os << *reinterpret_cast<const uint16_t*>(p); break;
    case Dtype::Val::uint32: os << *reinterpret_cast<const uint32_t*>(p); break;
    case Dtype::Val::uint64: os << *reinterpret_cast<const uint64_t*>(p); break;
    case Dtype::Val::int8: os << static_cast<int>(*reinterpret_cast<const int8_t*>(p)); break;
    case Dtype::Val::int16: os << *reinterpret_cast<const int16_t*>(p); break;
    case Dtype::Val::int32: os << *reinterpret_cast<const int32_t*>(p); break;
    case Dtype::Val::int64: os << *reinterpret_cast<const int64_t*>(p); break;
    case Dtype::Val::float16: os << static_cast<float>(*reinterpret_cast<const float16_t*>(p)); break;
    case Dtype::Val::bfloat16: os << static_cast<float>(*reinterpret_cast<const bfloat16_t*>(p)); break;
    case Dtype::Val::float32: os << *reinterpret_cast<const float*>(p); break;
    case Dtype::Val::float64: os << *reinterpret_cast<const double*>(p); break;
    case Dtype::Val::complex64: {
      auto c = *reinterpret_cast<const complex64_t*>(p);
      os << c.real() << (c.imag() >= 0 || std::isnan(c.imag()) ? "+" : "-") << std::abs(c.imag()) << "j";
      break;
    }
  }
}

void format_dim(std::ostringstream& os, const array& a, const char* p, int dim, int indent) {
  if (dim == a.ndim()) {
    format_element(os, a, p);
    return;
  }
  os << "[";
  ShapeElem n = a.shape()[dim];
  int64_t step = a.strides()[dim] * static_cast<int64_t>(a.itemsize());
  bool cut = n > 2 * kEdgeItems;
  for (ShapeElem i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      os << (dim + 1 == a.ndim() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - kEdgeItems;
    }
    format_dim(os, a, p + i * step, dim + 1, indent + 1);
    if (i + 1 < n) os << (dim + 1 == a.ndim() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

}  // namespace

int get_print_precision() { return print_precision; }
void set_print_precision(int precision) { print_precision = precision < 0 ? -1 : precision; }

std::string format_array(array& a) {
  a.eval();
  std::ostringstream os;
  if (print_precision >= 0) os << std::fixed << std::setprecision(print_precision);
  os << "array(";
  format_dim(os, a, static_cast<const char*>(a.raw_ptr()), 0, 6);
  os << ", dtype=" << dtype_name(a.dtype()) << ")";
  return os.str();
}

}  // namespace lmx::py
