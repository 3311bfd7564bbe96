// Sort, argsort and scans on the CPU: each row along the axis is gathered,
// processed, and written to a row-contiguous output; rows run in parallel.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/common/sort_scan_ops.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/kernels/sort_keys.h"
#include "lmx/backend/cpu/lines.h"
#include "lmx/primitives/sort.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

// Strict weak order of the sort: NaN after everything; complex lexicographic.
template <typename T>
bool sort_less(T a, T b) {
  if constexpr (is_complex_v<T>) {
    return scalar::lex_less(a, b);
  } else if constexpr (is_half_v<T>) {
    return sort_less(static_cast<float>(a), static_cast<float>(b));
  } else if constexpr (std::is_floating_point_v<T>) {
    return a < b || (!std::isnan(a) && std::isnan(b));
  } else {
    return a < b;
  }
}

#ifdef LMX_HAVE_VQSORT
// A buffer for a row's keys: this thread's, reused from row to row, for
// rows up to kReusedRow (short rows are where an allocation per row shows);
// a longer row's own, in `own`.
constexpr int64_t kReusedRow = int64_t{1} << 16;
template <typename K>
K* row_buffer(int64_t n, std::vector<K>& own) {
  thread_local std::vector<K> buffer;
  std::vector<K>& use = n <= kReusedRow ? buffer : own;
  if (use.size() < static_cast<size_t>(n)) use.resize(n);
  return use.data();
}

// -0.0 and +0.0 share a key, so sorted keys give every zero as +0.0; the
// zeros, equal and in input order, get their own signs back.
template <typename T, typename D>
void restore_zero_signs(const T* s, int64_t ss, D* d, int64_t ds, int64_t n) {
  auto is_zero = [](T v) { return static_cast<compute_t<T>>(v) == 0; };
  int64_t first = 0;
  while (first < n && !is_zero(d[first * ds])) ++first;
  for (int64_t i = 0, at = first; i < n && at < n; ++i)
    if (is_zero(s[i * ss])) d[at++ * ds] = s[i * ss];
}

// Sorts a row through Highway's vectorised quicksort (sort_keys) when the
// type allows: values by their order-preserving keys (NaN last), and
// stable indices of types up to 32 bits as key << 32 | index, so ties keep
// their input order. False: not handled.
template <typename T, bool Indices, typename D>
bool vqsort_row(const T* s, int64_t ss, D* d, int64_t ds, int64_t n) {
  using K = radix_key_t<T>;
  if constexpr (!Indices && (std::is_same_v<T, float> || std::is_same_v<T, double>)) {
    // Floats sort as themselves into the output row, unless a NaN (no
    // order), a -0.0 (it must tie with 0.0 in input order) or an infinity
    // (Highway 1.0's short-array sort pads with the largest finite value)
    // needs keys.
    if (ds == 1) {
      bool special = false;
      for (int64_t i = 0; i < n; ++i) {
        d[i] = s[i * ss];
        special |= !std::isfinite(d[i]) || (d[i] == 0 && std::signbit(d[i]));
      }
      if (!special) {
        LMX_CPU_KERNEL(sort_keys, d, static_cast<size_t>(n));
        return true;
      }
    }
  }
  if constexpr (!Indices && sizeof(K) >= 2) {
    std::vector<K> own;
    K* keys = row_buffer<K>(n, own);
    bool negative_zero = false;
    for (int64_t i = 0; i < n; ++i) {
      keys[i] = radix_key(s[i * ss]);
      if constexpr (!std::is_integral_v<T>)
        negative_zero |= static_cast<compute_t<T>>(s[i * ss]) == 0 && std::signbit(static_cast<compute_t<T>>(s[i * ss]));
    }
    LMX_CPU_KERNEL(sort_keys, keys, static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) d[i * ds] = from_radix_key<T>(keys[i]);
    if (negative_zero) restore_zero_signs(s, ss, d, ds, n);
    return true;
  } else if constexpr (Indices && sizeof(K) <= 4) {
    std::vector<uint64_t> own;
    uint64_t* packed = row_buffer<uint64_t>(n, own);
    for (int64_t i = 0; i < n; ++i) packed[i] = (uint64_t{radix_key(s[i * ss])} << 32) | static_cast<uint64_t>(i);
    LMX_CPU_KERNEL(sort_keys, packed, static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) d[i * ds] = static_cast<uint32_t>(packed[i]);
    return true;
  }
  return false;
}
#endif

// Rows up to this long sort by insertion (when vqsort cannot take them).
constexpr int64_t kShortRow = 16;

// Stable LSD radix sort of (key, payload) pairs, 8 bits a pass; passes where
// every key shares the byte are skipped.
template <typename K, typename P>
void radix_sort(std::vector<K>& keys, std::vector<P>& payload) {
  size_t n = keys.size();
  std::vector<K> k2(n);
  std::vector<P> p2(n);
  for (size_t shift = 0; shift < 8 * sizeof(K); shift += 8) {
    size_t count[256] = {};
    for (size_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) & 0xff];
    if (count[(keys[0] >> shift) & 0xff] == n) continue;
    size_t pos[256], total = 0;
    for (int b = 0; b < 256; ++b) pos[b] = total, total += count[b];
    for (size_t i = 0; i < n; ++i) {
      size_t at = pos[(keys[i] >> shift) & 0xff]++;
      k2[at] = keys[i];
      p2[at] = payload[i];
    }
    keys.swap(k2);
    payload.swap(p2);
  }
}

// Sorts one strided row (values, or their stable order as uint32 indices).
template <typename T, bool Indices>
void sort_row(const T* s, int64_t ss, std::conditional_t<Indices, uint32_t, T>* d, int64_t ds, int64_t n) {
  if constexpr (radix_sortable_v<T>) {
#ifdef LMX_HAVE_VQSORT
    if (n > 1 && vqsort_row<T, Indices>(s, ss, d, ds, n)) return;
#endif
    if (n > 64) {
      std::vector<radix_key_t<T>> keys(n);
      for (int64_t i = 0; i < n; ++i) keys[i] = radix_key(s[i * ss]);
      if constexpr (Indices) {
        std::vector<uint32_t> idx(n);
        std::iota(idx.begin(), idx.end(), 0u);
        radix_sort(keys, idx);
        for (int64_t i = 0; i < n; ++i) d[i * ds] = idx[i];
      } else {
        std::vector<T> vals(n);
        for (int64_t i = 0; i < n; ++i) vals[i] = s[i * ss];
        radix_sort(keys, vals);
        for (int64_t i = 0; i < n; ++i) d[i * ds] = vals[i];
      }
      return;
    }
  }
  auto less = [&](uint32_t i, uint32_t j) { return sort_less(s[i * ss], s[j * ss]); };
  auto write = [&](const uint32_t* idx) {
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (Indices) d[i * ds] = idx[i];
      else d[i * ds] = s[idx[i] * ss];
    }
  };
  if (n <= kShortRow) {
    // Short rows: a stable insertion sort of indices on the stack.
    uint32_t idx[kShortRow];
    for (int64_t i = 0; i < n; ++i) {
      int64_t j = i;
      for (; j > 0 && less(static_cast<uint32_t>(i), idx[j - 1]); --j) idx[j] = idx[j - 1];
      idx[j] = static_cast<uint32_t>(i);
    }
    write(idx);
    return;
  }
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), less);
  write(idx.data());
}

}  // namespace

void Sort::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  dispatch_all(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (indices_) cpu::for_each_line<T, uint32_t>(in, out, axis_, 16, sort_row<T, true>);
    else cpu::for_each_line<T, T>(in, out, axis_, 16, sort_row<T, false>);
  });
}


void Scan::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  dispatch_all(in.dtype(), [&](auto itag) {
    using In = typename decltype(itag)::type;
    dispatch_all(out.dtype(), [&](auto otag) {
      using Out = typename decltype(otag)::type;
      // Sums of small integers widen (as sum does); otherwise In == Out.
      if constexpr (std::is_same_v<In, Out> || (std::is_integral_v<In> && std::is_integral_v<Out>)) {
        using Acc = std::conditional_t<is_half_v<Out>, float, Out>;
        ScanType type = type_;
        bool reverse = reverse_, inclusive = inclusive_;
        cpu::for_each_line<In, Out>(in, out, axis_, 1, [&](const In* s, int64_t ss, Out* d, int64_t ds, int64_t n) {
          Acc acc = scan_identity<Acc>(type);
          for (int64_t k = 0; k < n; ++k) {
            int64_t i = reverse ? n - 1 - k : k;
            Acc x = cast_value<Acc>(s[i * ss]);
            if (inclusive) {
              acc = scan_step(type, acc, x);
              d[i * ds] = cast_value<Out>(acc);
            } else {
              d[i * ds] = cast_value<Out>(acc);
              acc = scan_step(type, acc, x);
            }
          }
        });
      } else {
        unsupported_dtype(name().c_str(), in.dtype());
      }
    });
  });
}

}  // namespace lmx
