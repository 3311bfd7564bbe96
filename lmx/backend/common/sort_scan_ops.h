// The rules of sort and scan shared by the CPU and CUDA kernels: the
// order-preserving radix keys (NaN last) and the identity and step of each
// scan type.
#pragma once

#include <cstring>
#include <limits>
#include <type_traits>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/primitives/sort.h"

namespace lmx {
inline namespace LMX_ISA_NS {

// Radix sort keys: unsigned integers whose order is the sort order. Floats
// flip their sign bit (negatives all bits); every NaN maps to the largest
// key so NaNs sort last, and -0.0 shares +0.0's key (they compare equal, so
// a stable sort keeps their input order).
template <typename T>
constexpr bool radix_sortable_v = !is_complex_v<T> && sizeof(T) <= 8;

template <typename T>
using radix_key_t = std::conditional_t<sizeof(T) == 1, uint8_t,
                                       std::conditional_t<sizeof(T) == 2, uint16_t,
                                                          std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;

template <typename T>
LMX_HD radix_key_t<T> radix_key(T v) {
  using K = radix_key_t<T>;
  K bits;
  std::memcpy(&bits, &v, sizeof(T));
  constexpr K sign = K(1) << (8 * sizeof(T) - 1);
  if constexpr (std::is_same_v<T, bool> || std::is_unsigned_v<T>) {
    return bits;
  } else if constexpr (std::is_integral_v<T>) {
    return bits ^ sign;
  } else {
    // On the bits, without branches (a random sign mispredicts every other
    // key): magnitudes above infinity's are NaN, a zero magnitude is +-0.
    constexpr K inf = sizeof(T) == 8   ? K(0x7ff0000000000000ull)
                      : sizeof(T) == 4 ? K(0x7f800000u)
                      : std::is_same_v<T, bfloat16_t> ? K(0x7f80u)
                                                      : K(0x7c00u);
    const K magnitude = static_cast<K>(bits & ~sign);
    const K flip = static_cast<K>(K(0) - static_cast<K>(bits >> (8 * sizeof(T) - 1))) | sign;
    K key = static_cast<K>(bits ^ flip);
    key = magnitude == 0 ? sign : key;
    return magnitude > inf ? static_cast<K>(~K(0)) : key;
  }
}

// The value whose radix_key is k (NaN keys give a quiet NaN).
template <typename T>
LMX_HD T from_radix_key(radix_key_t<T> k) {
  using K = radix_key_t<T>;
  constexpr K sign = K(1) << (8 * sizeof(T) - 1);
  K bits;
  if constexpr (std::is_same_v<T, bool> || std::is_unsigned_v<T>) {
    bits = k;
  } else if constexpr (std::is_integral_v<T>) {
    bits = k ^ sign;
  } else {
    if (k == static_cast<K>(~K(0))) return T(std::numeric_limits<float>::quiet_NaN());
    bits = (k & sign) ? static_cast<K>(k & ~sign) : static_cast<K>(~k);
  }
  T v;
  std::memcpy(static_cast<void*>(&v), &bits, sizeof(T));  // T may be a half type
  return v;
}

template <typename Acc>
LMX_HD Acc scan_identity(ScanType type) {
  switch (type) {
    case ScanType::Sum: return Acc(0);
    case ScanType::Prod: return Acc(1);
    case ScanType::Max:
      if constexpr (is_complex_v<Acc>) return Acc(-INFINITY, -INFINITY);
      else if constexpr (std::is_floating_point_v<Acc>) return -std::numeric_limits<Acc>::infinity();
      else return std::numeric_limits<Acc>::lowest();
    case ScanType::Min:
      if constexpr (is_complex_v<Acc>) return Acc(INFINITY, INFINITY);
      else if constexpr (std::is_floating_point_v<Acc>) return std::numeric_limits<Acc>::infinity();
      else return std::numeric_limits<Acc>::max();
    case ScanType::LogAddExp:
      if constexpr (is_complex_v<Acc>) return Acc(-INFINITY, 0.0f);
      else if constexpr (std::is_floating_point_v<Acc>) return -std::numeric_limits<Acc>::infinity();
      else return Acc(0);
  }
  return Acc(0);
}

template <typename Acc>
LMX_HD Acc scan_step(ScanType type, Acc acc, Acc x) {
  switch (type) {
    case ScanType::Sum: return scalar::Add{}(acc, x);
    case ScanType::Prod: return scalar::Multiply{}(acc, x);
    case ScanType::Max: return scalar::Maximum{}(acc, x);
    case ScanType::Min: return scalar::Minimum{}(acc, x);
    case ScanType::LogAddExp:
      if constexpr (std::is_floating_point_v<Acc> || is_complex_v<Acc>) return scalar::LogAddExp{}(acc, x);
      else return acc;
  }
  return acc;
}

}  // namespace LMX_ISA_NS
}  // namespace lmx
