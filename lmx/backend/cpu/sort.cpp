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
#include "lmx/runtime/allocator.h"
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
// A buffer for a row's keys (or keys and their sorted copy): this thread's,
// reused from row to row, up to kReusedRow keys (short rows are where an
// allocation per row shows); beyond, one from lmx's allocator, whose cache
// hands the same pages back call after call (a fresh vector is zeroed and
// faulted in page by page, which serialised two threads sorting long rows).
constexpr size_t kReusedRow = size_t{1} << 16;
template <typename K>
class RowBuffer {
 public:
  explicit RowBuffer(size_t n) {
    if (n <= kReusedRow) {
      thread_local std::vector<K> reused;
      if (reused.size() < n) reused.resize(n);
      data_ = reused.data();
    } else {
      own_ = cpu_allocator().malloc(n * sizeof(K));
      data_ = static_cast<K*>(own_.ptr);
    }
  }
  ~RowBuffer() {
    if (own_.ptr) cpu_allocator().free(own_);
  }
  RowBuffer(const RowBuffer&) = delete;
  RowBuffer& operator=(const RowBuffer&) = delete;
  K* data() const { return data_; }

 private:
  Buffer own_;
  K* data_ = nullptr;
};

// A row at least this long sorts on every kernel thread (below it, the
// buckets' counting and scattering cost more than the second thread saves),
// unless the array has enough rows to keep the threads busy one row each.
constexpr size_t kParallelSortMin = size_t{1} << 16;

bool split_row(size_t n, bool rows_fill_threads) {
  return n >= kParallelSortMin && !rows_fill_threads && kernel_threads() > 1;
}

// Sorts src[0, n) into dst: without a split, a copy (none when src == dst)
// and sort_keys in place; with one (src and dst distinct), the row is cut
// into one bucket per kernel thread by splitters sampled from it (a counting
// pass, then a scatter from src into dst, both split over the threads), and
// the buckets sort in parallel. Keys that compare equal are identical bits
// (sort_keys' callers ensure it), so which bucket ties land in does not
// change the result.
template <typename K>
void sort_keys_into(const K* src, K* dst, size_t n, bool split) {
  if (!split) {
    if (src != dst) std::memcpy(dst, src, n * sizeof(K));
    LMX_CPU_KERNEL(sort_keys, dst, n);
    return;
  }
  const size_t buckets = static_cast<size_t>(kernel_threads());
  // buckets - 1 splitters, evenly spaced in a sorted sample of the row.
  std::vector<K> sample(64 * buckets);
  for (size_t i = 0; i < sample.size(); ++i) sample[i] = src[i * (n / sample.size())];
  std::sort(sample.begin(), sample.end());
  std::vector<K> splitters(buckets - 1);
  for (size_t b = 1; b < buckets; ++b) splitters[b - 1] = sample[b * sample.size() / buckets];
  // A key's bucket: how many splitters are <= it.
  auto bucket_of = [&](K key) {
    return static_cast<size_t>(std::upper_bound(splitters.begin(), splitters.end(), key) - splitters.begin());
  };
  // The row in one chunk per thread: each chunk's count per bucket, then
  // where each chunk's part of each bucket starts in dst. Two buckets (two
  // threads) split by one vectorised comparison (split_keys); more count and
  // scatter through per-bucket counters. A pass costs about a copy's 4 per
  // key towards the pool's threshold.
  std::vector<size_t> at(buckets * buckets, 0);  // [chunk][bucket]
  // pass(row, len, counters) on each chunk, the chunks split over the threads.
  auto each_chunk = [&](auto pass) {
    parallel_for(buckets, 4 * (n / buckets), [&](size_t c0, size_t c1) {
      for (size_t c = c0; c < c1; ++c) {
        const size_t begin = c * n / buckets, end = (c + 1) * n / buckets;
        pass(src + begin, end - begin, &at[c * buckets]);
      }
    });
  };
  each_chunk([&](const K* row, size_t len, size_t* count) {
    if (buckets == 2) {
      size_t high = 0;
      for (size_t i = 0; i < len; ++i) high += !(row[i] < splitters[0]);
      count[0] = len - high, count[1] = high;
    } else {
      for (size_t i = 0; i < len; ++i) ++count[bucket_of(row[i])];
    }
  });
  std::vector<size_t> bucket_start(buckets + 1, 0);
  for (size_t b = 0, total = 0; b < buckets; ++b) {
    bucket_start[b] = total;
    for (size_t c = 0; c < buckets; ++c) {
      size_t count = at[c * buckets + b];
      at[c * buckets + b] = total;
      total += count;
    }
  }
  bucket_start[buckets] = n;
  each_chunk([&](const K* row, size_t len, size_t* cursor) {
    if (buckets == 2) {
      LMX_CPU_KERNEL(split_keys, row, len, splitters[0], dst + cursor[0], dst + cursor[1]);
    } else {
      for (size_t i = 0; i < len; ++i) dst[cursor[bucket_of(row[i])]++] = row[i];
    }
  });
  parallel_for(buckets, n / buckets * 16, [&](size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; ++b)
      LMX_CPU_KERNEL(sort_keys, dst + bucket_start[b], bucket_start[b + 1] - bucket_start[b]);
  });
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
// their input order. `rows_fill_threads`: other rows keep the threads busy,
// so a long row is not split. False: not handled.
template <typename T, bool Indices, typename D>
bool vqsort_row(const T* s, int64_t ss, D* d, int64_t ds, int64_t n, bool rows_fill_threads) {
  using K = radix_key_t<T>;
  const bool split = split_row(static_cast<size_t>(n), rows_fill_threads);
  // With a split, a buffer holds the keys and then their sorted copy.
  const size_t buffer_rows = split ? 2 : 1;
  if constexpr (!Indices && (std::is_same_v<T, float> || std::is_same_v<T, double>)) {
    // Floats sort as themselves into the output row, unless a NaN (no
    // order), a -0.0 (it must tie with 0.0 in input order) or an infinity
    // (Highway 1.0's short-array sort pads with the largest finite value)
    // needs keys.
    if (ds == 1) {
      bool special = false;
      for (int64_t i = 0; i < n; ++i) {
        T v = s[i * ss];
        special |= !std::isfinite(v) || (v == 0 && std::signbit(v));
      }
      if (!special) {
        if (ss == 1) {
          sort_keys_into(s, d, static_cast<size_t>(n), split);
        } else {
          RowBuffer<T> gathered(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) gathered.data()[i] = s[i * ss];
          sort_keys_into(gathered.data(), d, static_cast<size_t>(n), split);
        }
        return true;
      }
    }
  }
  if constexpr (!Indices && sizeof(K) >= 2) {
    RowBuffer<K> buffer(buffer_rows * static_cast<size_t>(n));
    K* keys = buffer.data();
    bool negative_zero = false;
    for (int64_t i = 0; i < n; ++i) {
      keys[i] = radix_key(s[i * ss]);
      if constexpr (!std::is_integral_v<T>)
        negative_zero |= static_cast<compute_t<T>>(s[i * ss]) == 0 && std::signbit(static_cast<compute_t<T>>(s[i * ss]));
    }
    K* sorted = split ? keys + n : keys;
    sort_keys_into(keys, sorted, static_cast<size_t>(n), split);
    for (int64_t i = 0; i < n; ++i) d[i * ds] = from_radix_key<T>(sorted[i]);
    if (negative_zero) restore_zero_signs(s, ss, d, ds, n);
    return true;
  } else if constexpr (Indices && sizeof(K) <= 4) {
    RowBuffer<uint64_t> buffer(buffer_rows * static_cast<size_t>(n));
    uint64_t* packed = buffer.data();
    for (int64_t i = 0; i < n; ++i) packed[i] = (uint64_t{radix_key(s[i * ss])} << 32) | static_cast<uint64_t>(i);
    uint64_t* sorted = split ? packed + n : packed;
    sort_keys_into(packed, sorted, static_cast<size_t>(n), split);
    for (int64_t i = 0; i < n; ++i) d[i * ds] = static_cast<uint32_t>(sorted[i]);
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
void sort_row(const T* s, int64_t ss, std::conditional_t<Indices, uint32_t, T>* d, int64_t ds, int64_t n,
              bool rows_fill_threads) {
  if constexpr (radix_sortable_v<T>) {
#ifdef LMX_HAVE_VQSORT
    if (n > 1 && vqsort_row<T, Indices>(s, ss, d, ds, n, rows_fill_threads)) return;
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
    const int64_t len = in.shape(axis_);
    const bool rows_fill_threads = out.size() / static_cast<size_t>(len) >= static_cast<size_t>(kernel_threads());
    if (indices_)
      cpu::for_each_line<T, uint32_t>(in, out, axis_, 16, [&](const T* s, int64_t ss, uint32_t* d, int64_t ds, int64_t n) {
        sort_row<T, true>(s, ss, d, ds, n, rows_fill_threads);
      });
    else
      cpu::for_each_line<T, T>(in, out, axis_, 16, [&](const T* s, int64_t ss, T* d, int64_t ds, int64_t n) {
        sort_row<T, false>(s, ss, d, ds, n, rows_fill_threads);
      });
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
