// Sorts of unsigned keys for this ISA build (see sort_keys.h).
#include "lmx/backend/cpu/kernels/sort_keys.h"

#include <algorithm>

#include "lmx/backend/common/isa_namespace.h"

#ifdef LMX_HAVE_VQSORT
#include <hwy/highway.h>
#include <hwy/contrib/sort/traits-inl.h>
#include <hwy/contrib/sort/vqsort-inl.h>
#include <hwy/contrib/sort/vqsort.h>
#endif

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

#ifdef LMX_HAVE_VQSORT
// From this many keys the prebuilt library sorts faster (it dispatches to
// the best target this CPU has, e.g. AVX-512 with VBMI2), and its entropy
// call is lost in the sort's own time.
constexpr size_t kLibrarySortMin = 1024;

template <typename K>
void library_sort(K* keys, size_t n) {
  thread_local hwy::Sorter sorter;
  sorter(keys, n, hwy::SortAscending());
}
#endif

template <typename K>
void sort_ascending(K* keys, size_t n) {
#if defined(LMX_HAVE_VQSORT) && VQSORT_ENABLED && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
  if (n >= kLibrarySortMin) return library_sort(keys, n);
  // hn::Sort's steps (Highway 1.0), with the pivot generator seeded here
  // rather than from the system's entropy on every call.
  namespace hn = hwy::HWY_NAMESPACE;
  using Traits = hn::detail::SharedTraits<hn::detail::TraitsLane<hn::detail::OrderAscending<K>>>;
  const hn::SortTag<K> d;
  const Traits st;
  // Left uninitialised (Highway zeroes it, a kilobyte per call): the base
  // case copies the keys in and pads every lane it then reads.
  HWY_ALIGN K buffer[hwy::SortConstants::BufNum<K>(HWY_LANES(K))];
  if (hn::detail::HandleSpecialCases(d, st, keys, n)) return;
  hn::detail::Generator rng(static_cast<uint64_t>(n) * 0x9E3779B97F4A7C15ull);
  const size_t max_levels = 2 * hwy::CeilLog2(n) + 4;  // then heap sort: N log N at worst
  hn::detail::Recurse(d, st, keys, keys + n, n, buffer, rng, max_levels);
#elif defined(LMX_HAVE_VQSORT)
  library_sort(keys, n);  // this build's flags have no vector target
#else
  std::sort(keys, keys + n);
#endif
}

template <typename K>
size_t split_below(const K* src, size_t n, K pivot, K* low, K* high) {
  size_t below = 0, above = 0, i = 0;
#if defined(LMX_HAVE_VQSORT) && HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
  // Each vector's keys below the pivot and the others, compressed to the
  // front and stored without touching what lies past them (the next part
  // may belong to another thread). x86 only: there CompressBlendedStore
  // stores just the selected lanes; NEON's loads, blends and stores back
  // the whole vector, which could overwrite another thread's keys.
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::ScalableTag<K> d;
  const size_t lanes = hn::Lanes(d);
  const auto vpivot = hn::Set(d, pivot);
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(d, src + i);
    const auto is_below = hn::Lt(v, vpivot);
    below += hn::CompressBlendedStore(v, is_below, d, low + below);
    above += hn::CompressBlendedStore(v, hn::Not(is_below), d, high + above);
  }
#endif
  // Branch-free: a random split mispredicts every other key.
  for (; i < n; ++i) {
    const K key = src[i];
    const bool is_below = key < pivot;
    *(is_below ? low + below : high + above) = key;
    below += is_below;
    above += !is_below;
  }
  return below;
}

}  // namespace

#define LMX_CPU_SORT_KEYS_DEFINE(K)                                                                          \
  void sort_keys(K* keys, size_t n) { sort_ascending(keys, n); }                                          \
  size_t split_keys(const K* src, size_t n, K pivot, K* low, K* high) {                                   \
    return split_below(src, n, pivot, low, high);                                                         \
  }
LMX_CPU_SORT_KEYS_DEFINE(uint16_t)
LMX_CPU_SORT_KEYS_DEFINE(uint32_t)
LMX_CPU_SORT_KEYS_DEFINE(uint64_t)
LMX_CPU_SORT_KEYS_DEFINE(float)
LMX_CPU_SORT_KEYS_DEFINE(double)

}  // namespace lmx::cpu::LMX_KERNELS_NS
