// Dtype objects, categories, finfo/iinfo and constants.
#include <cstdio>
#include <nanobind/operators.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

#include <cmath>
#include <limits>
#include <variant>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

nb::object float_limit(Dtype t, int which) {  // 0 min, 1 max, 2 eps, 3 smallest normal
  switch (t.val()) {
    case Dtype::Val::float16: {
      const double v[] = {-65504.0, 65504.0, 0.0009765625, 6.103515625e-05};
      return nb::float_(v[which]);
    }
    case Dtype::Val::bfloat16: {
      const double v[] = {-3.3895313892515355e38, 3.3895313892515355e38, 0.0078125, 1.1754943508222875e-38};
      return nb::float_(v[which]);
    }
    case Dtype::Val::float64: {
      const double v[] = {std::numeric_limits<double>::lowest(), std::numeric_limits<double>::max(),
                          std::numeric_limits<double>::epsilon(), std::numeric_limits<double>::min()};
      return nb::float_(v[which]);
    }
    default: {
      const double v[] = {std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::epsilon(), std::numeric_limits<float>::min()};
      return nb::float_(v[which]);
    }
  }
}

struct FInfo {
  Dtype dtype;
};
struct IInfo {
  Dtype dtype;
};

nb::object int_limit(Dtype t, bool max) {
  int bits = t.size() * 8;
  if (is_unsigned(t)) {
    if (!max) return nb::int_(0);
    return nb::steal(PyLong_FromUnsignedLongLong(bits == 64 ? ~0ULL : (1ULL << bits) - 1));
  }
  long long hi = bits == 64 ? std::numeric_limits<long long>::max() : (1LL << (bits - 1)) - 1;
  return nb::int_(max ? hi : -hi - 1);
}

}  // namespace

void init_dtypes(nb::module_& m) {
  nb::class_<Dtype>(m, "Dtype", "An element type of arrays.")
      .def_prop_ro("size", &Dtype::size)
      .def("__repr__", [](const Dtype& t) { return "lmx.core." + dtype_name(t); })
      .def("__eq__", [](const Dtype& a, nb::handle b) { return nb::isinstance<Dtype>(b) && a == nb::cast<Dtype>(b); })
      .def("__hash__", [](const Dtype& t) { return static_cast<int>(t.val()); });
  const std::pair<const char*, Dtype> names[] = {
      {"bool_", bool_},     {"uint8", uint8},       {"uint16", uint16},   {"uint32", uint32}, {"uint64", uint64},
      {"int8", int8},       {"int16", int16},       {"int32", int32},     {"int64", int64},   {"float16", float16},
      {"bfloat16", bfloat16}, {"float32", float32}, {"float64", float64}, {"complex64", complex64}};
  for (auto& [n, t] : names) m.attr(n) = t;

  nb::enum_<DtypeCategory>(m, "DtypeCategory")
      .value("complexfloating", DtypeCategory::complexfloating)
      .value("floating", DtypeCategory::floating)
      .value("inexact", DtypeCategory::inexact)
      .value("signedinteger", DtypeCategory::signedinteger)
      .value("unsignedinteger", DtypeCategory::unsignedinteger)
      .value("integer", DtypeCategory::integer)
      .value("number", DtypeCategory::number)
      .value("generic", DtypeCategory::generic);
  for (const char* c : {"complexfloating", "floating", "inexact", "signedinteger", "unsignedinteger", "integer",
                        "number", "generic"})
    m.attr(c) = m.attr("DtypeCategory").attr(c);

  m.def("issubdtype", [](nb::handle a, nb::handle b) {
    bool a_dtype = nb::isinstance<Dtype>(a), b_dtype = nb::isinstance<Dtype>(b);
    if (a_dtype && b_dtype) return nb::cast<Dtype>(a) == nb::cast<Dtype>(b);
    if (a_dtype) return issubdtype(nb::cast<Dtype>(a), nb::cast<DtypeCategory>(b));
    if (b_dtype) return false;  // a category is never a subtype of a concrete dtype
    return issubdtype(nb::cast<DtypeCategory>(a), nb::cast<DtypeCategory>(b));
  });

  nb::class_<FInfo>(m, "finfo")
      .def("__init__",
           [](FInfo* self, Dtype t) {
             if (!is_inexact(t))
               throw std::invalid_argument("[finfo] dtype " + dtype_name(t) + " is not inexact.");
             new (self) FInfo{is_complex(t) ? float32 : t};
           })
      .def_prop_ro("min", [](const FInfo& f) { return float_limit(f.dtype, 0); })
      .def_prop_ro("max", [](const FInfo& f) { return float_limit(f.dtype, 1); })
      .def_prop_ro("eps", [](const FInfo& f) { return float_limit(f.dtype, 2); })
      .def_prop_ro("smallest_normal", [](const FInfo& f) { return float_limit(f.dtype, 3); })
      .def_prop_ro("bits", [](const FInfo& f) { return f.dtype.size() * 8; })
      .def_prop_ro("dtype", [](const FInfo& f) { return f.dtype; })
      .def("__repr__", [](const FInfo& f) {
        // Six significant digits, as MLX prints them: finfo(min=-65504, max=65504, ...).
        auto g = [](double v) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", v);
          return std::string(buf);
        };
        return "finfo(min=" + g(nb::cast<double>(float_limit(f.dtype, 0))) +
               ", max=" + g(nb::cast<double>(float_limit(f.dtype, 1))) +
               ", dtype=" + dtype_name(f.dtype) + ")";
      });
  nb::class_<IInfo>(m, "iinfo")
      .def("__init__",
           [](IInfo* self, Dtype t) {
             if (!is_integral(t) || t == bool_)
               throw std::invalid_argument("[iinfo] Only integer types supported but " + dtype_name(t) +
                                           " was provided");
             new (self) IInfo{t};
           })
      .def_prop_ro("min", [](const IInfo& f) { return int_limit(f.dtype, false); })
      .def_prop_ro("max", [](const IInfo& f) { return int_limit(f.dtype, true); })
      .def_prop_ro("bits", [](const IInfo& f) { return f.dtype.size() * 8; })
      .def_prop_ro("dtype", [](const IInfo& f) { return f.dtype; })
      .def("__repr__", [](const IInfo& f) {
        return "iinfo(min=" + std::string(nb::str(int_limit(f.dtype, false)).c_str()) +
               ", max=" + nb::str(int_limit(f.dtype, true)).c_str() + ", dtype=" + dtype_name(f.dtype) + ")";
      });

  m.attr("pi") = M_PI;
  m.attr("e") = M_E;
  m.attr("euler_gamma") = 0.5772156649015329;
  m.attr("inf") = std::numeric_limits<double>::infinity();
  m.attr("nan") = std::numeric_limits<double>::quiet_NaN();
  m.attr("newaxis") = nb::none();
}

}  // namespace lmx::py
