// Maps a runtime Dtype to its C++ type. Kernels instantiate only the types an
// op accepts: each helper below names the set it covers.
#pragma once

#include <stdexcept>
#include <string>

#include "lmx/dtype.h"
#include "lmx/backend/common/isa_namespace.h"

namespace lmx {

inline namespace LMX_ISA_NS {

template <typename T>
struct TypeTag {
  using type = T;
};

#define LMX_CASE(V, T) \
  case Dtype::Val::V:  \
    return f(TypeTag<T>{});

[[noreturn]] inline void unsupported_dtype(const char* what, Dtype t) {
  throw std::invalid_argument(std::string("[") + what + "] Unsupported dtype " + dtype_name(t) + ".");
}

template <typename F>
decltype(auto) dispatch_all(Dtype t, F&& f) {
  switch (t.val()) {
    LMX_CASE(bool_, bool)
    LMX_CASE(uint8, uint8_t)
    LMX_CASE(uint16, uint16_t)
    LMX_CASE(uint32, uint32_t)
    LMX_CASE(uint64, uint64_t)
    LMX_CASE(int8, int8_t)
    LMX_CASE(int16, int16_t)
    LMX_CASE(int32, int32_t)
    LMX_CASE(int64, int64_t)
    LMX_CASE(float16, float16_t)
    LMX_CASE(bfloat16, bfloat16_t)
    LMX_CASE(float32, float)
    LMX_CASE(float64, double)
    LMX_CASE(complex64, complex64_t)
  }
  unsupported_dtype("dispatch", t);
}

// Every type but complex64 (ordering, bit and integer ops).
template <typename F>
decltype(auto) dispatch_real(Dtype t, F&& f) {
  switch (t.val()) {
    LMX_CASE(bool_, bool)
    LMX_CASE(uint8, uint8_t)
    LMX_CASE(uint16, uint16_t)
    LMX_CASE(uint32, uint32_t)
    LMX_CASE(uint64, uint64_t)
    LMX_CASE(int8, int8_t)
    LMX_CASE(int16, int16_t)
    LMX_CASE(int32, int32_t)
    LMX_CASE(int64, int64_t)
    LMX_CASE(float16, float16_t)
    LMX_CASE(bfloat16, bfloat16_t)
    LMX_CASE(float32, float)
    LMX_CASE(float64, double)
    default: unsupported_dtype("dispatch", t);
  }
}

// Floating point and complex types.
template <typename F>
decltype(auto) dispatch_inexact(Dtype t, F&& f) {
  switch (t.val()) {
    LMX_CASE(float16, float16_t)
    LMX_CASE(bfloat16, bfloat16_t)
    LMX_CASE(float32, float)
    LMX_CASE(float64, double)
    LMX_CASE(complex64, complex64_t)
    default: unsupported_dtype("dispatch", t);
  }
}

// Real floating point types.
template <typename F>
decltype(auto) dispatch_float(Dtype t, F&& f) {
  switch (t.val()) {
    LMX_CASE(float16, float16_t)
    LMX_CASE(bfloat16, bfloat16_t)
    LMX_CASE(float32, float)
    LMX_CASE(float64, double)
    default: unsupported_dtype("dispatch", t);
  }
}

// bool and integer types.
template <typename F>
decltype(auto) dispatch_integral(Dtype t, F&& f) {
  switch (t.val()) {
    LMX_CASE(bool_, bool)
    LMX_CASE(uint8, uint8_t)
    LMX_CASE(uint16, uint16_t)
    LMX_CASE(uint32, uint32_t)
    LMX_CASE(uint64, uint64_t)
    LMX_CASE(int8, int8_t)
    LMX_CASE(int16, int16_t)
    LMX_CASE(int32, int32_t)
    LMX_CASE(int64, int64_t)
    default: unsupported_dtype("dispatch", t);
  }
}

#undef LMX_CASE

}  // namespace LMX_ISA_NS
}  // namespace lmx
