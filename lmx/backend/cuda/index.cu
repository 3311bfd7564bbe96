// Gather and scatter on the GPU: each element resolves its index position
// to an offset (bounds checked, negatives wrapped) within the block of the
// remaining axes. Gather moves bytes, so every dtype works. Scatter's add,
// prod, max and min modes combine with atomics, through the host's functors
// (so results agree with it up to the order of float additions and
// products); scatter-replace moves bytes too, each thread taking one element
// of the block through the index positions in order, so the last of repeated
// indices wins as on the host.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>

#include "lmx/backend/cuda/elementwise.cuh"
#include "lmx/primitives/index.h"

namespace lmx::cu {

namespace {

constexpr int kMaxIndexArrays = 8;

// How an index array's elements are read: the common integer types in
// place, any other converted to int64 first.
enum class IndexKind : int8_t { int64, int32, uint32 };

struct GatherIndices {
  int count;
  const void* idx[kMaxIndexArrays];
  int64_t dim[kMaxIndexArrays], stride[kMaxIndexArrays];
  int axis[kMaxIndexArrays];
  IndexKind kind[kMaxIndexArrays];
};

__device__ inline int64_t index_value(const GatherIndices& g, int j, int64_t p) {
  switch (g.kind[j]) {
    case IndexKind::int32: return static_cast<const int32_t*>(g.idx[j])[p];
    case IndexKind::uint32: return static_cast<const uint32_t*>(g.idx[j])[p];
    default: return static_cast<const int64_t*>(g.idx[j])[p];
  }
}

// Index values as int64; unsigned ones past INT64_MAX saturate (out of bounds).
template <typename I>
struct ToIndex {
  __device__ int64_t operator()(I v) const {
    if constexpr (std::is_unsigned_v<I>)
      if (static_cast<uint64_t>(v) > static_cast<uint64_t>(INT64_MAX)) return INT64_MAX;
    return static_cast<int64_t>(v);
  }
};

// Offset of index position p (false and the error recorded when out of bounds).
__device__ inline bool index_offset(const GatherIndices& g, int64_t p, int code, DeviceError* err, int64_t& off) {
  off = 0;
  for (int j = 0; j < g.count; ++j) {
    int64_t v = index_value(g, j, p);
    if (v < -g.dim[j] || v >= g.dim[j]) {
      if (atomicCAS(&err->code, 0, code) == 0) err->axis = g.axis[j], err->index = v, err->size = g.dim[j];
      return false;
    }
    off += (v < 0 ? v + g.dim[j] : v) * g.stride[j];
  }
  return true;
}

// *p = op(*p, v) as one atomic step. Adds use the hardware's atomic add
// where it has one for T; every other case is a compare-and-swap loop on the
// aligned 32- or 64-bit word that holds *p (a 1- or 2-byte T shares its word
// with neighbours, which the loop leaves as it found them; device buffers
// are whole multiples of 16 bytes, so the word never reaches past one).
template <typename T, typename Op>
__device__ inline void atomic_combine(T* p, T v, Op op) {
  if constexpr (std::is_same_v<Op, scalar::Add> && std::is_same_v<T, float16_t>) {
    atomicAdd(reinterpret_cast<__half*>(p), __ushort_as_half(v.bits));
  } else if constexpr (std::is_same_v<Op, scalar::Add> && std::is_same_v<T, bfloat16_t>) {
    atomicAdd(reinterpret_cast<__nv_bfloat16*>(p), __ushort_as_bfloat16(v.bits));
  } else if constexpr (std::is_same_v<Op, scalar::Add> && (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>)) {
    // two's complement: signed and unsigned add alike
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  } else if constexpr (std::is_same_v<Op, scalar::Add> &&
                       (std::is_same_v<T, float> || std::is_same_v<T, int32_t> || std::is_same_v<T, uint32_t>)) {
    atomicAdd(p, v);
  } else if constexpr (sizeof(T) == 8) {
    auto* word = reinterpret_cast<unsigned long long*>(p);
    unsigned long long seen = *word, expected;
    do {
      expected = seen;
      T cur, next;
      memcpy(&cur, &expected, sizeof(T));
      next = cast_value<T>(op(cur, v));
      unsigned long long bits;
      memcpy(&bits, &next, sizeof(T));
      if (bits == expected) return;
      seen = atomicCAS(word, expected, bits);
    } while (seen != expected);
  } else {
    static_assert(sizeof(T) <= 4);
    const uintptr_t address = reinterpret_cast<uintptr_t>(p);
    auto* word = reinterpret_cast<unsigned int*>(address & ~uintptr_t{3});
    const unsigned shift = static_cast<unsigned>(address & 3) * 8;
    const unsigned low = sizeof(T) == 4 ? 0xffffffffu : (1u << (8 * sizeof(T))) - 1;
    unsigned seen = *word, expected;
    do {
      expected = seen;
      unsigned cur_bits = (expected >> shift) & low, next_bits = 0;
      T cur, next;
      memcpy(&cur, &cur_bits, sizeof(T));
      next = cast_value<T>(op(cur, v));
      memcpy(&next_bits, &next, sizeof(T));
      const unsigned replaced = (expected & ~(low << shift)) | (next_bits << shift);
      if (replaced == expected) return;
      seen = atomicCAS(word, expected, replaced);
    } while (seen != expected);
  }
}

template <typename T, typename Op>
__global__ void scatter_combine_kernel(T* __restrict__ dst, const T* __restrict__ upd, GatherIndices g,
                                       Layout<1> rest, int64_t block, int64_t n, int error_code, DeviceError* err) {
  LMX_GRID_STRIDE(e, n) {
    int64_t p = e / block, r = e % block, off;
    if (!index_offset(g, p, error_code, err, off)) continue;
    int64_t ro[1];
    strided_offsets(rest, r, ro);
    atomic_combine(dst + off + ro[0], upd[e], Op{});
  }
}

// Thread r writes element r of every position's block, positions in order:
// writes to one address come from one thread, in index order.
template <typename T>
__global__ void scatter_replace_kernel(T* __restrict__ dst, const T* __restrict__ upd, GatherIndices g,
                                       Layout<1> rest, int64_t block, int64_t positions, DeviceError* err) {
  pdl_begin();
  LMX_GRID_STRIDE(r, block) {
    int64_t ro[1];
    strided_offsets(rest, r, ro);
    for (int64_t p = 0; p < positions; ++p) {
      int64_t off;
      if (index_offset(g, p, kScatterIndex, err, off)) dst[off + ro[0]] = upd[p * block + r];
    }
  }
}

template <typename T>
__global__ void gather_kernel(const T* __restrict__ src, T* __restrict__ dst, GatherIndices g, Layout<1> rest,
                              int64_t block, int64_t n, DeviceError* err) {
  LMX_GRID_STRIDE(e, n) {
    int64_t p = e / block, r = e % block, off;
    bool ok = index_offset(g, p, kGatherIndex, err, off);
    int64_t ro[1];
    strided_offsets(rest, r, ro);
    dst[e] = ok ? src[off + ro[0]] : T{};
  }
}

// Kernels that only move elements run on unsigned integers of the item's
// size: `launch` gets a zero of that type.
template <typename F>
void by_item_bits(size_t itemsize, F&& launch) {
  switch (itemsize) {
    case 1: launch(uint8_t{}); break;
    case 2: launch(uint16_t{}); break;
    case 4: launch(uint32_t{}); break;
    default: launch(uint64_t{}); break;
  }
}

// idx as a row-contiguous int64 device array.
array as_int64_index(const array& ix, cudaStream_t st) {
  array out(ix.shape(), int64, std::shared_ptr<Data>{});
  allocate(out, st);
  bool ok = dispatch_gpu(ix.dtype(), [&](auto tag) {
    using I = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<I> && !std::is_same_v<I, bool>) {
      const I* p = static_cast<const I*>(device_read(ix, st));
      launch_map<int64_t>(ToIndex<I>{}, out, st, std::pair{&ix, p});
    }
  });
  if (!ok) throw std::invalid_argument("[gather] Indices must be integers.");
  return out;
}

}  // namespace

namespace {

// The index arrays (dense int32, uint32 and int64 ones as they are, others
// converted to int64 and kept alive in `keep`: a conversion is a kernel of
// its own, once per cache write of every decode step) and the layout of the
// remaining axes of `a`; false when they exceed what the kernels take.
bool index_plan(const array& a, const std::vector<array>& idx, const std::vector<int>& axes, cudaStream_t st,
                std::vector<array>& keep, GatherIndices& g, Layout<1>& rest, int64_t& block) {
  if (idx.size() > kMaxIndexArrays) return false;
  g = GatherIndices{};
  g.count = static_cast<int>(idx.size());
  for (size_t j = 0; j < idx.size(); ++j) {
    const array& ix = idx[j];
    const Dtype t = ix.dtype();
    if ((t == int32 || t == uint32 || t == int64) && ix.flags().row_contiguous && ix.data_size() == ix.size()) {
      g.kind[j] = t == int32 ? IndexKind::int32 : t == uint32 ? IndexKind::uint32 : IndexKind::int64;
      g.idx[j] = device_read(ix, st);
    } else {
      keep.push_back(as_int64_index(ix, st));
      g.kind[j] = IndexKind::int64;
      g.idx[j] = device_read(keep.back(), st);
    }
    g.dim[j] = a.shape(axes[j]);
    g.stride[j] = a.strides()[axes[j]];
    g.axis[j] = axes[j];
  }
  std::vector<bool> used(a.ndim(), false);
  for (int ax : axes) used[ax] = true;
  Shape rshape;
  std::vector<Strides> rstrides(1);
  for (int d = 0; d < a.ndim(); ++d)
    if (!used[d]) rshape.push_back(a.shape(d)), rstrides[0].push_back(a.strides()[d]);
  if (rshape.empty()) rshape = {1}, rstrides = {{0}};
  block = static_cast<int64_t>(shape_size(rshape));
  return collapsed_layout<1>(rshape, rstrides, rest);
}

}  // namespace

bool gather(const array& src, const std::vector<array>& idx, const std::vector<int>& axes, array& out,
            cudaStream_t st) {
  std::vector<array> keep;  // converted indices live until the kernel is queued
  GatherIndices g;
  Layout<1> rest;
  int64_t block;
  if (!index_plan(src, idx, axes, st, keep, g, rest, block)) return false;
  allocate(out, st);
  int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return true;
  const void* s = device_read(src, st);
  void* d = device_write(out);
  auto launch = [&](auto zero) {
    using T = decltype(zero);
    gather_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(static_cast<const T*>(s), static_cast<T*>(d), g, rest,
                                                           block, n, device_error());
  };
  by_item_bits(src.itemsize(), launch);
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool scatter_combine(ScatterMode mode, const array& src, const array& updates, const std::vector<array>& idx,
                     const std::vector<int>& axes, array& out, cudaStream_t st) {
  if (!dispatch_gpu(out.dtype(), [](auto) {})) return false;  // complex64
  // Offsets into out, which is row-contiguous (its strides are set already).
  std::vector<array> keep;
  GatherIndices g;
  Layout<1> rest;
  int64_t block;
  if (!index_plan(out, idx, axes, st, keep, g, rest, block)) return false;
  copy_to_new(src, out, st);
  int64_t n = static_cast<int64_t>(updates.size());
  if (n == 0) return true;
  // Updates as row-major blocks of out's dtype.
  array u = row_contiguous(updates, out.dtype(), st);
  const void* up = device_read(u, st);
  void* d = device_write(out);
  dispatch_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto launch = [&](auto op, int error_code) {
      scatter_combine_kernel<T, decltype(op)><<<blocks_for(n), kThreads, 0, st>>>(
          static_cast<T*>(d), static_cast<const T*>(up), g, rest, block, n, error_code, device_error());
    };
    switch (mode) {
      case ScatterMode::Add: launch(scalar::Add{}, kScatterAddIndex); break;
      case ScatterMode::Prod: launch(scalar::Multiply{}, kScatterProdIndex); break;
      case ScatterMode::Max: launch(scalar::Maximum{}, kScatterMaxIndex); break;
      case ScatterMode::Min: launch(scalar::Minimum{}, kScatterMinIndex); break;
      case ScatterMode::Replace: break;  // not a combining mode: scatter_replace
    }
  });
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace lmx::cu

namespace lmx::cu {

bool scatter_replace(const array& src, const array& updates, const std::vector<array>& idx,
                     const std::vector<int>& axes, array& out, cudaStream_t st) {
  std::vector<array> keep;
  GatherIndices g;
  Layout<1> rest;
  int64_t block;
  if (!index_plan(out, idx, axes, st, keep, g, rest, block)) return false;
  const int64_t n = static_cast<int64_t>(updates.size());
  const int64_t positions = block == 0 ? 0 : n / block;
  // Positions run one after another in each thread: many positions over a
  // small block (x.at[i].set(v) on a long vector) are left to the host.
  if (positions > kMaxSerialPositions && block < positions) return false;
  copy_to_new(src, out, st);
  if (n == 0) return true;
  array u = row_contiguous(updates, out.dtype(), st);
  const void* up = device_read(u, st);
  void* d = device_write(out);
  auto launch = [&](auto zero) {
    using T = decltype(zero);
    launch_dependent(scatter_replace_kernel<T>, blocks_for(block), kThreads, 0, st, static_cast<T*>(d),
                     static_cast<const T*>(up), g, rest, block, positions, device_error());
  };
  by_item_bits(out.itemsize(), launch);
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace lmx::cu
