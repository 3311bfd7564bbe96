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
  HWY_ALIGN K buffer[hwy::SortConstants::BufNum<K>(HWY_LANES(K))] = {};
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

}  // namespace

void sort_keys(uint16_t* keys, size_t n) { sort_ascending(keys, n); }
void sort_keys(uint32_t* keys, size_t n) { sort_ascending(keys, n); }
void sort_keys(uint64_t* keys, size_t n) { sort_ascending(keys, n); }
void sort_keys(float* keys, size_t n) { sort_ascending(keys, n); }
void sort_keys(double* keys, size_t n) { sort_ascending(keys, n); }

}  // namespace lmx::cpu::LMX_KERNELS_NS
