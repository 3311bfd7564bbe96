// Gather on the GPU: each output element resolves its index position to a
// source offset (bounds checked, negatives wrapped) and copies the element of
// the remaining axes' block. Elements move as bytes, so every dtype works.
#include "lmx/backend/cuda/elementwise.cuh"

namespace lmx::cu {

namespace {

constexpr int kMaxIndexArrays = 8;

struct GatherIndices {
  int count;
  const int64_t* idx[kMaxIndexArrays];
  int64_t dim[kMaxIndexArrays], stride[kMaxIndexArrays];
  int axis[kMaxIndexArrays];
};

// Index values as int64; unsigned ones past INT64_MAX saturate (out of bounds).
template <typename I>
struct ToIndex {
  __device__ int64_t operator()(I v) const {
    if constexpr (std::is_unsigned_v<I>)
      if (static_cast<uint64_t>(v) > static_cast<uint64_t>(INT64_MAX)) return INT64_MAX;
    return static_cast<int64_t>(v);
  }
};

template <typename T>
__global__ void gather_kernel(const T* __restrict__ src, T* __restrict__ dst, GatherIndices g, Layout<1> rest,
                              int64_t block, int64_t n, DeviceError* err) {
  LMX_GRID_STRIDE(e, n) {
    int64_t p = e / block, r = e % block;
    int64_t off = 0;
    bool ok = true;
    for (int j = 0; j < g.count; ++j) {
      int64_t v = g.idx[j][p];
      if (v < -g.dim[j] || v >= g.dim[j]) {
        ok = false;
        if (atomicCAS(&err->code, 0, kGatherIndex) == 0) {
          err->axis = g.axis[j], err->index = v, err->size = g.dim[j];
        }
        break;
      }
      off += (v < 0 ? v + g.dim[j] : v) * g.stride[j];
    }
    int64_t ro[1];
    strided_offsets(rest, r, ro);
    dst[e] = ok ? src[off + ro[0]] : T{};
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

bool gather(const array& src, const std::vector<array>& idx, const std::vector<int>& axes, array& out,
            cudaStream_t st) {
  if (idx.size() > kMaxIndexArrays) return false;
  allocate(out, st);
  int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return true;
  std::vector<array> keep;  // the int64 copies live until the kernel is queued
  GatherIndices g{};
  g.count = static_cast<int>(idx.size());
  for (size_t j = 0; j < idx.size(); ++j) {
    keep.push_back(as_int64_index(idx[j], st));
    g.idx[j] = static_cast<const int64_t*>(device_read(keep.back(), st));
    g.dim[j] = src.shape(axes[j]);
    g.stride[j] = src.strides()[axes[j]];
    g.axis[j] = axes[j];
  }
  // The source axes not addressed by indices, walked row-major per position.
  std::vector<bool> used(src.ndim(), false);
  for (int a : axes) used[a] = true;
  Shape rshape;
  std::vector<Strides> rstrides(1);
  for (int d = 0; d < src.ndim(); ++d)
    if (!used[d]) rshape.push_back(src.shape(d)), rstrides[0].push_back(src.strides()[d]);
  collapse_dims(rshape, rstrides);
  if (rshape.empty()) rshape = {1}, rstrides = {{0}};
  if (static_cast<int>(rshape.size()) > kMaxDims) return false;
  Layout<1> rest;
  rest.ndim = static_cast<int>(rshape.size());
  int64_t block = 1;
  for (int d = 0; d < rest.ndim; ++d) rest.shape[d] = rshape[d], rest.strides[0][d] = rstrides[0][d], block *= rshape[d];
  const void* s = device_read(src, st);
  void* d = device_write(out);
  auto launch = [&](auto zero) {
    using T = decltype(zero);
    gather_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(static_cast<const T*>(s), static_cast<T*>(d), g, rest,
                                                           block, n, device_error());
  };
  switch (src.itemsize()) {
    case 1: launch(uint8_t{}); break;
    case 2: launch(uint16_t{}); break;
    case 4: launch(uint32_t{}); break;
    default: launch(uint64_t{}); break;
  }
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace lmx::cu
