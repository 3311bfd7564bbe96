// Conversions between Python objects and lmx arrays.
#pragma once

#include <nanobind/nanobind.h>

#include <optional>

#include "lmx/lmx.h"

namespace nb = nanobind;

namespace lmx::py {

// Any array-like (array, scalar, nested sequence, buffer, DLPack) -> array.
// `dtype` forces the result type.
array to_array(nb::handle obj, std::optional<Dtype> dtype = {});

// An operand of an op whose partner is an array: Python scalars are "weak"
// and take the partner's dtype where that keeps their kind.
array to_array_like(nb::handle obj, Dtype partner);

// Both operands of a binary op, with weak-scalar promotion.
std::pair<array, array> to_arrays(nb::handle a, nb::handle b);

bool is_array(nb::handle obj);

// Objects exposing the buffer protocol or DLPack; nullopt if obj has neither.
// NumPy's float64 becomes float32 (as MLX's array() does) unless keep_float64.
std::optional<array> buffer_to_array(nb::handle obj, std::optional<Dtype> dtype, bool keep_float64);

// array -> Python scalar / nested lists.
nb::object to_scalar(array& a);
nb::object to_list(array& a);

// A parameter that accepts anything array-like (scalars, lists, buffers).
struct ArrayLike {
  array value;
  operator const array&() const { return value; }
};

}  // namespace lmx::py

namespace nanobind::detail {
template <>
struct type_caster<lmx::py::ArrayLike> {
  NB_TYPE_CASTER(lmx::py::ArrayLike, const_name("array"))
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    try {
      value.value = lmx::py::to_array(src);
      return true;
    } catch (...) {
      PyErr_Clear();
      return false;
    }
  }
  static handle from_cpp(const lmx::py::ArrayLike& v, rv_policy p, cleanup_list* c) noexcept {
    return make_caster<lmx::array>::from_cpp(v.value, p, c);
  }
};
}  // namespace nanobind::detail
