// Sorts and scans along one axis on the GPU. Sorting moves the axis last,
// turns values into the order-preserving radix keys the CPU uses too (NaN
// last), and runs CUB's stable radix sorts (one segment) or segmented sorts
// (many rows) on key/position pairs. Scans run a block per contiguous row
// (CUB block scans, carried from tile to tile) or a thread per strided line.
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include "lmx/backend/common/layout.h"
#include "lmx/backend/common/sort_scan_ops.h"
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

void check_cub(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw_cuda_error(what, e);
}

template <typename T>
__global__ void make_sort_keys(const T* __restrict__ in, radix_key_t<T>* __restrict__ keys,
                               uint32_t* __restrict__ pos, int64_t total, int64_t n) {
  LMX_GRID_STRIDE(i, total) {
    keys[i] = radix_key(in[i]);  // -0.0 and 0.0 share a key: they tie
    pos[i] = static_cast<uint32_t>(i % n);
  }
}

// The sorted values: each row's elements picked in sorted order (the keys
// lose the sign of zero and NaN payloads; the values keep them).
template <typename T>
__global__ void pick_sorted(const T* __restrict__ in, const uint32_t* __restrict__ pos, T* __restrict__ out,
                            int64_t total, int64_t n) {
  LMX_GRID_STRIDE(i, total) out[i] = in[(i / n) * n + pos[i]];
}

__global__ void segment_offsets(int64_t* off, int64_t rows, int64_t n) {
  LMX_GRID_STRIDE(i, rows + 1) off[i] = i * n;
}

// ---- scans ----

constexpr int kScanThreads = 256, kScanItems = 4;

template <ScanType Type, typename Acc>
struct ScanOp {
  __device__ Acc operator()(Acc a, Acc b) const { return scan_step<Acc>(Type, a, b); }
};

// One block per row of n contiguous elements; tiles of kScanThreads *
// kScanItems carry their total into the next.
template <ScanType Type, typename T>
__global__ void scan_rows_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t rows, int64_t n,
                                 bool reverse, bool inclusive) {
  using Acc = compute_t<T>;
  using BlockScan = cub::BlockScan<Acc, kScanThreads>;
  __shared__ typename BlockScan::TempStorage temp;
  const ScanOp<Type, Acc> op;
  const Acc identity = scan_identity<Acc>(Type);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* src = in + row * n;
    T* dst = out + row * n;
    Acc carry = identity;
    for (int64_t t0 = 0; t0 < n; t0 += kScanThreads * kScanItems) {
      Acc incl[kScanItems];
      Acc local = identity;
#pragma unroll
      for (int j = 0; j < kScanItems; ++j) {
        int64_t k = t0 + threadIdx.x * kScanItems + j;
        local = op(local, k < n ? static_cast<Acc>(src[reverse ? n - 1 - k : k]) : identity);
        incl[j] = local;
      }
      Acc prefix, total;
      BlockScan(temp).ExclusiveScan(local, prefix, identity, op, total);
      prefix = op(carry, prefix);
#pragma unroll
      for (int j = 0; j < kScanItems; ++j) {
        int64_t k = t0 + threadIdx.x * kScanItems + j;
        if (k < n)
          dst[reverse ? n - 1 - k : k] = static_cast<T>(inclusive ? op(prefix, incl[j])
                                                                  : (j == 0 ? prefix : op(prefix, incl[j - 1])));
      }
      carry = op(carry, total);
      __syncthreads();  // temp is reused by the next tile
    }
  }
}

// A thread per line of n elements `inner` apart (neighbouring threads read
// neighbouring elements).
template <ScanType Type, typename T>
__global__ void scan_lines_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t outer, int64_t n,
                                  int64_t inner, bool reverse, bool inclusive) {
  using Acc = compute_t<T>;
  const ScanOp<Type, Acc> op;
  LMX_GRID_STRIDE(line, outer * inner) {
    const int64_t base = (line / inner) * n * inner + line % inner;
    Acc acc = scan_identity<Acc>(Type);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = base + (reverse ? n - 1 - k : k) * inner;
      const Acc x = static_cast<Acc>(in[i]);
      if (inclusive) {
        acc = op(acc, x);
        out[i] = static_cast<T>(acc);
      } else {
        out[i] = static_cast<T>(acc);
        acc = op(acc, x);
      }
    }
  }
}

template <typename F>
void dispatch_scan_type(ScanType t, F&& f) {
  switch (t) {
    case ScanType::Sum: return f(std::integral_constant<ScanType, ScanType::Sum>{});
    case ScanType::Prod: return f(std::integral_constant<ScanType, ScanType::Prod>{});
    case ScanType::Max: return f(std::integral_constant<ScanType, ScanType::Max>{});
    case ScanType::Min: return f(std::integral_constant<ScanType, ScanType::Min>{});
    case ScanType::LogAddExp: return f(std::integral_constant<ScanType, ScanType::LogAddExp>{});
  }
}

}  // namespace

bool sort(const array& in, int axis, bool indices, array& out, cudaStream_t st) {
  return dispatch_gpu(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using K = radix_key_t<T>;
    const int64_t total = static_cast<int64_t>(in.size());
    if (total == 0) return allocate(out, st);
    const int64_t n = in.shape(axis), rows = total / n;
    std::vector<int> inverse;
    array rows_view = axis_last_view(in, axis, inverse);
    array src = row_contiguous(rows_view, st);
    array sorted(rows_view.shape(), out.dtype(), std::shared_ptr<Data>{});
    allocate(sorted, st);

    Scratch keys_in(total * sizeof(K), st), keys_out(total * sizeof(K), st), pos_in(total * 4, st);
    Scratch pos_out(indices ? 0 : total * 4, st);
    uint32_t* positions = indices ? static_cast<uint32_t*>(device_write(sorted)) : pos_out.as<uint32_t>();
    make_sort_keys<T><<<blocks_for(total), kThreads, 0, st>>>(static_cast<const T*>(device_read(src, st)),
                                                               keys_in.as<K>(), pos_in.as<uint32_t>(), total, n);
    LMX_CUDA_CHECK(cudaGetLastError());
    Scratch offsets(rows > 1 ? (rows + 1) * sizeof(int64_t) : 0, st);
    if (rows > 1) segment_offsets<<<blocks_for(rows + 1), kThreads, 0, st>>>(offsets.as<int64_t>(), rows, n);
    auto run = [&](void* temp, size_t& bytes) {
      if (rows == 1)
        return cub::DeviceRadixSort::SortPairs(temp, bytes, keys_in.as<K>(), keys_out.as<K>(), pos_in.as<uint32_t>(),
                                               positions, total, 0, static_cast<int>(sizeof(K) * 8), st);
      return cub::DeviceSegmentedSort::StableSortPairs(temp, bytes, keys_in.as<K>(), keys_out.as<K>(),
                                                       pos_in.as<uint32_t>(), positions, total, rows,
                                                       offsets.as<int64_t>(), offsets.as<int64_t>() + 1, st);
    };
    // CUB's segmented sort reads its segment partition back to the host,
    // which a CUDA graph cannot record.
    if (rows > 1) pause_capture(st, "segmented sort");
    size_t temp_bytes = 0;
    check_cub(run(nullptr, temp_bytes), "[sort] CUB workspace query");
    Scratch temp(temp_bytes, st);
    check_cub(run(temp.as<void>(), temp_bytes), "[sort] CUB sort");
    if (!indices)
      pick_sorted<T><<<blocks_for(total), kThreads, 0, st>>>(static_cast<const T*>(device_read(src, st)),
                                                              positions, static_cast<T*>(device_write(sorted)), total,
                                                              n);
    LMX_CUDA_CHECK(cudaGetLastError());
    if (axis == in.ndim() - 1) out.copy_shared_buffer(sorted);
    else transpose_view(sorted, out, inverse);
  });
}

bool scan(ScanType type, int axis, bool reverse, bool inclusive, const array& in_arr, array& out, cudaStream_t st) {
  return dispatch_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Widening scans (small integers summed into int32) read the input
    // converted first, which is what the CPU's per-element cast does.
    array in = row_contiguous(in_arr, out.dtype(), st);
    allocate(out, st);
    const int64_t total = static_cast<int64_t>(out.size());
    if (total == 0) return;
    int64_t inner = 1;
    for (int d = axis + 1; d < out.ndim(); ++d) inner *= out.shape(d);
    const int64_t n = out.shape(axis), outer = total / (n * inner);
    const T* src = static_cast<const T*>(device_read(in, st));
    T* dst = static_cast<T*>(device_write(out));
    dispatch_scan_type(type, [&](auto type_c) {
      constexpr ScanType Type = decltype(type_c)::value;
      if (inner == 1)
        scan_rows_kernel<Type, T><<<blocks_for(outer, 1), kScanThreads, 0, st>>>(src, dst, outer, n, reverse,
                                                                                 inclusive);
      else
        scan_lines_kernel<Type, T><<<blocks_for(outer * inner), kThreads, 0, st>>>(src, dst, outer, n, inner,
                                                                                   reverse, inclusive);
    });
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace lmx::cu
