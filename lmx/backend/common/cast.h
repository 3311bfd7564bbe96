// The one element conversion rule used by every kernel (astype, mixed-type
// construction, item()): complex -> real keeps the real part, anything ->
// bool tests != 0, the 16-bit floats convert through float32.
#pragma once

#include <cstdint>
#include <type_traits>

#include "lmx/dtype.h"
#include "lmx/backend/common/isa_namespace.h"

namespace lmx {

inline namespace LMX_ISA_NS {

template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;
template <typename T>
inline constexpr bool is_complex_v = std::is_same_v<T, complex64_t>;
// The type arithmetic on T happens in: 16-bit floats compute (and
// accumulate) in float32 and are rounded once on store.
template <typename T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;

template <typename To, typename From>
LMX_HD inline To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_complex_v<From>) {
    if constexpr (std::is_same_v<To, bool>) return v.real() != 0.0f || v.imag() != 0.0f;
    else return cast_value<To>(v.real());
  } else if constexpr (is_half_v<From>) {
    return cast_value<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (is_half_v<To>) {
    return To(static_cast<float>(v));
  } else if constexpr (is_complex_v<To>) {
    return To(static_cast<float>(v), 0.0f);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To> && !std::is_same_v<To, uint64_t>) {
    // Through int64, so a negative float wraps into an unsigned type the same
    // way on every backend (a direct cast is undefined there: x86 wraps,
    // CUDA saturates).
    return static_cast<To>(static_cast<int64_t>(v));
  } else if constexpr (std::is_floating_point_v<From> && std::is_same_v<To, uint64_t>) {
    return v < From(0) ? static_cast<To>(static_cast<int64_t>(v)) : static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace LMX_ISA_NS
}  // namespace lmx
