// The 14 element types, their categories and MLX's promotion rules.
#pragma once

#include <complex>
#include <cstdint>
#include <string>

#include "lmx/half_types.h"

namespace lmx {

using complex64_t = std::complex<float>;

class Dtype {
 public:
  // Order matters: it is the order of the promotion rules' "rank" within a kind.
  enum class Val : uint8_t {
    bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
    float16, bfloat16, float32, float64, complex64,
  };
  enum class Kind : uint8_t { b, u, i, f, c };
  static constexpr int count = 14;

  constexpr Dtype(Val v = Val::float32) : val_(v) {}
  constexpr Val val() const { return val_; }
  int size() const;  // bytes per element
  Kind kind() const;
  constexpr bool operator==(const Dtype& o) const { return val_ == o.val_; }
  constexpr bool operator!=(const Dtype& o) const { return val_ != o.val_; }

 private:
  Val val_;
};

inline constexpr Dtype bool_{Dtype::Val::bool_};
inline constexpr Dtype uint8{Dtype::Val::uint8};
inline constexpr Dtype uint16{Dtype::Val::uint16};
inline constexpr Dtype uint32{Dtype::Val::uint32};
inline constexpr Dtype uint64{Dtype::Val::uint64};
inline constexpr Dtype int8{Dtype::Val::int8};
inline constexpr Dtype int16{Dtype::Val::int16};
inline constexpr Dtype int32{Dtype::Val::int32};
inline constexpr Dtype int64{Dtype::Val::int64};
inline constexpr Dtype float16{Dtype::Val::float16};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16};
inline constexpr Dtype float32{Dtype::Val::float32};
inline constexpr Dtype float64{Dtype::Val::float64};
inline constexpr Dtype complex64{Dtype::Val::complex64};

// The abstract categories of MLX's dtype hierarchy (mx.floating etc.).
enum class DtypeCategory {
  complexfloating, floating, inexact, signedinteger, unsignedinteger, integer, number, generic,
};

std::string dtype_name(Dtype t);   // "float32"
Dtype dtype_from_index(int i);     // inverse of static_cast<int>(t.val())
bool is_floating_point(Dtype t);   // float16/bfloat16/float32/float64
bool is_complex(Dtype t);
bool is_integral(Dtype t);         // signed, unsigned or bool
bool is_unsigned(Dtype t);
bool is_inexact(Dtype t);          // floating or complex
bool issubdtype(Dtype t, DtypeCategory c);
bool issubdtype(DtypeCategory a, DtypeCategory b);

// MLX's binary promotion: the dtype both operands are cast to.
Dtype promote_types(Dtype a, Dtype b);
// The float type an integer or bool input becomes for transcendental ops.
Dtype to_inexact(Dtype t);

// Compile-time map from C++ type to Dtype.
template <typename T> struct dtype_of;
#define LMX_DTYPE_OF(T, D) \
  template <> struct dtype_of<T> { static constexpr Dtype value = D; };
LMX_DTYPE_OF(bool, bool_)
LMX_DTYPE_OF(uint8_t, uint8)
LMX_DTYPE_OF(uint16_t, uint16)
LMX_DTYPE_OF(uint32_t, uint32)
LMX_DTYPE_OF(uint64_t, uint64)
LMX_DTYPE_OF(int8_t, int8)
LMX_DTYPE_OF(int16_t, int16)
LMX_DTYPE_OF(int32_t, int32)
LMX_DTYPE_OF(int64_t, int64)
LMX_DTYPE_OF(float16_t, float16)
LMX_DTYPE_OF(bfloat16_t, bfloat16)
LMX_DTYPE_OF(float, float32)
LMX_DTYPE_OF(double, float64)
LMX_DTYPE_OF(complex64_t, complex64)
#undef LMX_DTYPE_OF

}  // namespace lmx
