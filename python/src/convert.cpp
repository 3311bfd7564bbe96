#include "convert.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/complex.h>

#include <complex>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace lmx::py {

bool is_array(nb::handle obj) { return nb::isinstance<array>(obj); }

namespace {

bool is_py_bool(nb::handle o) { return PyBool_Check(o.ptr()); }
bool is_py_int(nb::handle o) { return PyLong_Check(o.ptr()) && !PyBool_Check(o.ptr()); }
bool is_py_float(nb::handle o) { return PyFloat_Check(o.ptr()); }
bool is_py_complex(nb::handle o) { return PyComplex_Check(o.ptr()); }
bool is_py_scalar(nb::handle o) { return PyBool_Check(o.ptr()) || PyLong_Check(o.ptr()) || is_py_float(o) || is_py_complex(o); }

// Python ints beyond int64 are accepted up to uint64's range.
struct PyInt {
  int64_t value = 0;
  uint64_t uvalue = 0;
  bool is_unsigned_only = false;
};

PyInt read_int(nb::handle o) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(o.ptr(), &overflow);
  if (overflow == 0) return {v, static_cast<uint64_t>(v), false};
  if (overflow > 0) {
    unsigned long long u = PyLong_AsUnsignedLongLong(o.ptr());
    if (!PyErr_Occurred()) return {0, u, true};
    PyErr_Clear();
  }
  throw std::invalid_argument("[array] Python integer is out of range for a 64-bit integer.");
}

array int_array(const PyInt& v, Dtype t) {
  return v.is_unsigned_only ? array(v.uvalue, t) : array(v.value, t);
}

Dtype default_int_dtype(const PyInt& v) {
  if (v.is_unsigned_only) return uint64;
  return v.value >= std::numeric_limits<int32_t>::min() && v.value <= std::numeric_limits<int32_t>::max() ? int32 : int64;
}

array scalar_to_array(nb::handle o, std::optional<Dtype> dtype) {
  if (is_py_bool(o)) return array(o.ptr() == Py_True, dtype.value_or(bool_));
  if (is_py_int(o)) {
    PyInt v = read_int(o);
    return int_array(v, dtype.value_or(default_int_dtype(v)));
  }
  if (is_py_float(o)) return array(PyFloat_AsDouble(o.ptr()), dtype.value_or(float32));
  Py_complex c = PyComplex_AsCComplex(o.ptr());
  return array(complex64_t(static_cast<float>(c.real), static_cast<float>(c.imag)), dtype.value_or(complex64));
}

// ---- nested sequences ----

struct NestedInfo {
  Shape shape;
  int kind = 0;  // 0 bool, 1 int, 2 float, 3 complex
  bool has_arrays = false;
  bool int64_needed = false;
  int leaf_depth = -1;  // depth of the scalars seen so far
};

bool is_sequence(nb::handle o) { return PyList_Check(o.ptr()) || PyTuple_Check(o.ptr()); }

void scan(nb::handle o, int depth, NestedInfo& info) {
  if (is_sequence(o)) {
    nb::sequence seq = nb::borrow<nb::sequence>(o);
    ShapeElem n = static_cast<ShapeElem>(nb::len(seq));
    if (info.leaf_depth != -1 && depth >= info.leaf_depth)
      throw std::invalid_argument("[array] Initialization encountered non-uniform length.");
    if (static_cast<int>(info.shape.size()) == depth) info.shape.push_back(n);
    else if (static_cast<int>(info.shape.size()) < depth || info.shape[depth] != n)
      throw std::invalid_argument("[array] Initialization encountered non-uniform length.");
    for (nb::handle item : seq) scan(item, depth + 1, info);
    return;
  }
  if (static_cast<int>(info.shape.size()) != depth)
    throw std::invalid_argument("[array] Initialization encountered non-uniform length.");
  if (is_array(o)) {
    info.has_arrays = true;
    return;
  }
  info.leaf_depth = depth;  // arrays may sit beside lists; scalars may not
  if (is_py_bool(o)) return;
  if (is_py_int(o)) {
    info.kind = std::max(info.kind, 1);
    PyInt v = read_int(o);
    if (default_int_dtype(v) != int32) info.int64_needed = true;
  } else if (is_py_float(o)) {
    info.kind = std::max(info.kind, 2);
  } else if (is_py_complex(o)) {
    info.kind = 3;
  } else {
    throw std::invalid_argument(std::string("[array] Cannot convert an object of type ") +
                                nb::type_name(o.type()).c_str() + " to an array element.");
  }
}

template <typename T>
void fill_flat(nb::handle o, std::vector<T>& out) {
  if (is_sequence(o)) {
    for (nb::handle item : nb::borrow<nb::sequence>(o)) fill_flat(item, out);
    return;
  }
  if constexpr (std::is_same_v<T, std::complex<double>>) {
    Py_complex c = PyComplex_AsCComplex(o.ptr());
    out.emplace_back(c.real, c.imag);
  } else if constexpr (std::is_same_v<T, double>) {
    out.push_back(PyFloat_AsDouble(o.ptr()));
  } else {
    out.push_back(static_cast<T>(read_int(o).value));
  }
}

array nested_to_array(nb::handle o, std::optional<Dtype> dtype) {
  NestedInfo info;
  scan(o, 0, info);
  if (info.has_arrays) {
    // Lists of arrays (or mixed) stack element-wise.
    std::vector<array> items;
    for (nb::handle item : nb::borrow<nb::sequence>(o)) items.push_back(to_array(item, dtype));
    if (items.empty()) return zeros({0}, dtype.value_or(float32));
    return stack(items, 0);
  }
  size_t n = shape_size(info.shape);
  Strides strides = row_major_strides(info.shape);
  switch (info.kind) {
    case 0: {
      std::vector<int64_t> v;
      v.reserve(n);
      fill_flat(o, v);
      std::vector<uint8_t> b(v.begin(), v.end());
      Dtype t = dtype.value_or(n == 0 ? float32 : bool_);
      return copy_from_host(b.data(), bool_, info.shape, strides, t);
    }
    case 1: {
      std::vector<int64_t> v;
      v.reserve(n);
      fill_flat(o, v);
      return copy_from_host(v.data(), int64, info.shape, strides, dtype.value_or(info.int64_needed ? int64 : int32));
    }
    case 2: {
      std::vector<double> v;
      v.reserve(n);
      fill_flat(o, v);
      return copy_from_host(v.data(), float64, info.shape, strides, dtype.value_or(float32));
    }
    default: {
      std::vector<std::complex<double>> v;
      v.reserve(n);
      fill_flat(o, v);
      std::vector<complex64_t> c(v.begin(), v.end());
      return copy_from_host(c.data(), complex64, info.shape, strides, dtype.value_or(complex64));
    }
  }
}

// ---- buffers and DLPack (NumPy, PyTorch, memoryview, ...) ----

std::optional<Dtype> dlpack_dtype(const nb::dlpack::dtype& t) {
  using C = nb::dlpack::dtype_code;
  auto code = static_cast<C>(t.code);
  switch (code) {
    case C::Bool: return bool_;
    case C::Int:
      switch (t.bits) { case 8: return int8; case 16: return int16; case 32: return int32; case 64: return int64; }
      break;
    case C::UInt:
      switch (t.bits) { case 8: return uint8; case 16: return uint16; case 32: return uint32; case 64: return uint64; }
      break;
    case C::Float:
      switch (t.bits) { case 16: return float16; case 32: return float32; case 64: return float64; }
      break;
    case C::Bfloat:
      if (t.bits == 16) return bfloat16;
      break;
    case C::Complex:
      if (t.bits == 64) return complex64;
      break;
    default: break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<array> buffer_to_array(nb::handle obj, std::optional<Dtype> dtype, bool keep_float64) {
  nb::ndarray<nb::ro, nb::device::cpu> nd;
  if (!nb::try_cast(obj, nd, false)) return std::nullopt;
  auto t = dlpack_dtype(nd.dtype());
  Shape shape(nd.ndim());
  Strides strides(nd.ndim());
  for (size_t i = 0; i < nd.ndim(); ++i) {
    shape[i] = static_cast<ShapeElem>(nd.shape(i));
    strides[i] = nd.stride(i);
  }
  const void* data = nd.data();
  if (!t) {
    // complex128 (NumPy's default complex) has no lmx dtype: narrow it first.
    auto dt = nd.dtype();
    if (static_cast<nb::dlpack::dtype_code>(dt.code) == nb::dlpack::dtype_code::Complex && dt.bits == 128 &&
        nb::hasattr(obj, "astype"))
      return buffer_to_array(obj.attr("astype")("complex64"), dtype, keep_float64);
    throw std::invalid_argument("[array] Unsupported buffer element type.");
  }
  // NumPy's float64 default becomes float32, as in MLX, unless asked for.
  Dtype out = dtype.value_or(*t == float64 && !keep_float64 ? float32 : *t);
  return copy_from_host(data, *t, shape, strides, out);
}

array to_array(nb::handle obj, std::optional<Dtype> dtype) {
  if (is_array(obj)) {
    array a = nb::cast<array>(obj);
    return dtype ? astype(a, *dtype) : a;
  }
  if (is_py_scalar(obj)) return scalar_to_array(obj, dtype);
  if (is_sequence(obj)) return nested_to_array(obj, dtype);
  if (auto a = buffer_to_array(obj, dtype, false)) return *a;
  // Objects with __array__ but no buffer (rare) go through NumPy.
  if (nb::hasattr(obj, "__array__")) return to_array(obj.attr("__array__")(), dtype);
  throw std::invalid_argument(std::string("[array] Cannot convert an object of type ") +
                              nb::type_name(obj.type()).c_str() + " to an array.");
}

// NumPy scalars and 0-d NumPy arrays are weak operands too (as in MLX):
// `int8_array + np.int64(1)` stays int8.
static bool is_numpy_zero_dim(nb::handle o) {
  const char* name = Py_TYPE(o.ptr())->tp_name;
  if (std::strncmp(name, "numpy.", 6) != 0 || !nb::hasattr(o, "ndim")) return false;
  return nb::cast<int>(o.attr("ndim")) == 0;
}

array to_array_like(nb::handle obj, Dtype partner) {
  if (is_array(obj)) return nb::cast<array>(obj);
  if (!is_py_scalar(obj) && is_numpy_zero_dim(obj)) {
    nb::object item = obj.attr("item")();
    if (is_py_scalar(item)) return to_array_like(item, partner);
  }
  if (!is_py_scalar(obj)) return to_array(obj);
  if (is_py_bool(obj)) return array(obj.ptr() == Py_True, partner);  // bools adopt any partner
  if (is_py_int(obj)) {
    if (partner == bool_) return scalar_to_array(obj, std::nullopt);
    PyInt v = read_int(obj);
    if (is_integral(partner)) {
      // The value must fit the partner's integer type.
      bool fits = true;
      double lo, hi;
      switch (partner.val()) {
        case Dtype::Val::uint8: lo = 0; hi = 255; break;
        case Dtype::Val::uint16: lo = 0; hi = 65535; break;
        case Dtype::Val::uint32: lo = 0; hi = 4294967295.0; break;
        case Dtype::Val::uint64: lo = 0; hi = 18446744073709551615.0; break;
        case Dtype::Val::int8: lo = -128; hi = 127; break;
        case Dtype::Val::int16: lo = -32768; hi = 32767; break;
        case Dtype::Val::int32: lo = -2147483648.0; hi = 2147483647.0; break;
        default: lo = -9223372036854775808.0; hi = 9223372036854775807.0;
      }
      double d = v.is_unsigned_only ? static_cast<double>(v.uvalue) : static_cast<double>(v.value);
      fits = d >= lo && d <= hi;
      if (!fits)
        throw std::invalid_argument("Converting " + std::string(nb::str(obj).c_str()) + " to " + dtype_name(partner) +
                                    " would result in overflow.");
    }
    return int_array(v, partner);
  }
  if (is_py_float(obj)) return array(PyFloat_AsDouble(obj.ptr()), is_inexact(partner) ? partner : float32);
  Py_complex c = PyComplex_AsCComplex(obj.ptr());
  return array(complex64_t(static_cast<float>(c.real), static_cast<float>(c.imag)), complex64);
}

std::pair<array, array> to_arrays(nb::handle a, nb::handle b) {
  bool aa = is_array(a), ba = is_array(b);
  if (aa && ba) return {nb::cast<array>(a), nb::cast<array>(b)};
  if (aa) {
    array x = nb::cast<array>(a);
    return {x, to_array_like(b, x.dtype())};
  }
  if (ba) {
    array y = nb::cast<array>(b);
    return {to_array_like(a, y.dtype()), y};
  }
  return {to_array(a), to_array(b)};
}

// ---- array -> Python ----

namespace {

nb::object element(const array& a, const char* p) {
  switch (a.dtype().val()) {
    case Dtype::Val::bool_: return nb::bool_(*reinterpret_cast<const bool*>(p));
    case Dtype::Val::uint8: return nb::int_(*reinterpret_cast<const uint8_t*>(p));
    case Dtype::Val::uint16: return nb::int_(*reinterpret_cast<const uint16_t*>(p));
    case Dtype::Val::uint32: return nb::int_(*reinterpret_cast<const uint32_t*>(p));
    case Dtype::Val::uint64: return nb::steal(PyLong_FromUnsignedLongLong(*reinterpret_cast<const uint64_t*>(p)));
    case Dtype::Val::int8: return nb::int_(*reinterpret_cast<const int8_t*>(p));
    case Dtype::Val::int16: return nb::int_(*reinterpret_cast<const int16_t*>(p));
    case Dtype::Val::int32: return nb::int_(*reinterpret_cast<const int32_t*>(p));
    case Dtype::Val::int64: return nb::int_(*reinterpret_cast<const int64_t*>(p));
    case Dtype::Val::float16: return nb::float_(static_cast<float>(*reinterpret_cast<const float16_t*>(p)));
    case Dtype::Val::bfloat16: return nb::float_(static_cast<float>(*reinterpret_cast<const bfloat16_t*>(p)));
    case Dtype::Val::float32: return nb::float_(*reinterpret_cast<const float*>(p));
    case Dtype::Val::float64: return nb::float_(*reinterpret_cast<const double*>(p));
    case Dtype::Val::complex64: {
      auto c = *reinterpret_cast<const complex64_t*>(p);
      return nb::steal(PyComplex_FromDoubles(c.real(), c.imag()));
    }
  }
  return nb::none();
}

nb::object build_list(const array& a, const char* p, int dim) {
  if (dim == a.ndim()) return element(a, p);
  nb::list out;
  int64_t step = a.strides()[dim] * static_cast<int64_t>(a.itemsize());
  for (ShapeElem i = 0; i < a.shape()[dim]; ++i) out.append(build_list(a, p + i * step, dim + 1));
  return out;
}

void eval_released(array& a) {
  nb::gil_scoped_release nogil;
  a.eval();
}

}  // namespace

nb::object to_scalar(array& a) {
  if (a.size() != 1)
    throw std::invalid_argument("[convert] Only length-1 arrays can be converted to Python scalars.");
  eval_released(a);
  return element(a, static_cast<const char*>(a.raw_ptr()));
}

nb::object to_list(array& a) {
  eval_released(a);
  if (a.ndim() == 0) return element(a, static_cast<const char*>(a.raw_ptr()));
  return build_list(a, static_cast<const char*>(a.raw_ptr()), 0);
}

}  // namespace lmx::py
