// Copies between layouts with dtype conversion, fills and ranges.
#include <cstring>
#include <stdexcept>

#include "lmx/backend/common/layout.h"
#include "lmx/backend/cuda/elementwise.cuh"

namespace lmx::cu {

namespace {

template <typename In, typename Out>
struct CastFn {
  __device__ Out operator()(In x) const { return cast_value<Out>(x); }
};

template <typename In, typename Out>
__global__ void copy_general(const In* __restrict__ src, Out* __restrict__ dst, Layout<2> L, int64_t n) {
  LMX_GRID_STRIDE(i, n) {
    int64_t off[2];
    strided_offsets(L, i, off);
    dst[off[1]] = cast_value<Out>(src[off[0]]);
  }
}

template <typename T>
__global__ void fill_kernel(T* dst, T value, int64_t n) {
  LMX_GRID_STRIDE(i, n) dst[i] = value;
}

template <typename T>
__global__ void arange_int(T* dst, int64_t start, int64_t step, int64_t n) {
  LMX_GRID_STRIDE(i, n) dst[i] = static_cast<T>(start + i * step);
}

template <typename T>
__global__ void arange_float(T* dst, double start, double step, int64_t n) {
  LMX_GRID_STRIDE(i, n) dst[i] = cast_value<T>(start + static_cast<double>(i) * step);
}

struct ParamBytes {
  unsigned char bytes[kMaxParamCopy];
};

__global__ void copy_param_bytes(unsigned char* dst, ParamBytes src, unsigned n) {
  for (unsigned i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src.bytes[i];
}

// Every stored dtype but float64 (CPU-only); complex64 is copied as bytes.
template <typename F>
void dispatch_copy(Dtype t, F&& f) {
  if (t == complex64) return f(TypeTag<complex64_t>{});
  if (!dispatch_gpu(t, f)) throw std::invalid_argument(std::string("[copy] Unsupported dtype ") + dtype_name(t) + " on the GPU.");
}

}  // namespace

void copy_to_strided(const array& src, void* dst, Dtype dst_type, const Strides& dst_strides, cudaStream_t st) {
  if (src.size() == 0) return;
  const void* sp = device_read(src, st);
  bool dense = src.flags().row_contiguous && dst_strides == row_major_strides(src.shape());
  dispatch_copy(src.dtype(), [&](auto in_tag) {
    using In = typename decltype(in_tag)::type;
    dispatch_copy(dst_type, [&](auto out_tag) {
      using Out = typename decltype(out_tag)::type;
      if constexpr (is_complex_v<Out> && !is_complex_v<In>) {
        throw std::invalid_argument("[astype] Conversion to complex64 runs on the CPU.");
      } else if constexpr (is_complex_v<In> && !is_complex_v<Out>) {
        throw std::invalid_argument("[astype] Conversion from complex64 runs on the CPU.");
      } else {
        auto* s = static_cast<const In*>(sp);
        auto* d = static_cast<Out*>(dst);
        int64_t n = static_cast<int64_t>(src.size());
        if (dense) {
          constexpr int V = std::min(vec_width<In>(), vec_width<Out>());
          if (aligned_to(s, sizeof(In) * V) && aligned_to(d, sizeof(Out) * V))
            map_dense<CastFn<In, Out>, Out, V><<<blocks_for(n / V + 1), kThreads, 0, st>>>({}, d, n, 0u, s);
          else
            map_dense<CastFn<In, Out>, Out, 1><<<blocks_for(n), kThreads, 0, st>>>({}, d, n, 0u, s);
          return;
        }
        for_each_layout<2>(src.shape(), {src.strides(), dst_strides}, [&](const Layout<2>& L, const int64_t* base) {
          int64_t m = 1;
          for (int i = 0; i < L.ndim; ++i) m *= L.shape[i];
          copy_general<In, Out><<<blocks_for(m), kThreads, 0, st>>>(s + base[0], d + base[1], L, m);
        });
      }
    });
  });
  LMX_CUDA_CHECK(cudaGetLastError());
}

void copy_host_bytes(void* dst, const void* src, size_t n, cudaStream_t st) {
  if (n == 0) return;
  if (n > kMaxParamCopy) throw std::logic_error("[copy] copy_host_bytes copies at most kMaxParamCopy bytes.");
  ParamBytes p;
  std::memcpy(p.bytes, src, n);
  copy_param_bytes<<<1, 64, 0, st>>>(static_cast<unsigned char*>(dst), p, static_cast<unsigned>(n));
  LMX_CUDA_CHECK(cudaGetLastError());
}

void copy_to_new(const array& src, array& out, cudaStream_t st) {
  if (src.dtype() == out.dtype() && src.size() == out.size() && src.flags().row_contiguous) {
    device_read(src, st);
    if (src.is_donatable() && src.data_size() == src.size()) {
      allocate_like(src, out, st, true);
      return;
    }
  }
  allocate(out, st);
  copy_to_strided(src, device_write(out), out.dtype(), row_major_strides(src.shape()), st);
}

array row_contiguous(const array& in, Dtype t, cudaStream_t st) {
  if (in.dtype() == t && in.flags().row_contiguous) return in;
  array tmp(in.shape(), t, std::shared_ptr<Data>{});
  copy_to_new(in, tmp, st);
  return tmp;
}

array row_contiguous(const array& in, cudaStream_t st) { return row_contiguous(in, in.dtype(), st); }

array axis_last_view(const array& a, int axis, std::vector<int>& inverse) {
  const int nd = a.ndim();
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d)
    if (d != axis) perm.push_back(d);
  perm.push_back(axis);
  inverse.assign(nd, 0);
  Shape shape(nd);
  for (int i = 0; i < nd; ++i) inverse[perm[i]] = i, shape[i] = a.shape(perm[i]);
  if (axis == nd - 1) return a;
  array v(shape, a.dtype(), std::shared_ptr<Data>{});
  transpose_view(a, v, perm);
  return v;
}

void fill(void* dst, Dtype t, const array& value, size_t n, cudaStream_t st) {
  if (n == 0) return;
  dispatch_copy(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    array v = value;
    T host_value;
    copy_to_host(v, &host_value, t);
    fill_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(static_cast<T*>(dst), host_value, static_cast<int64_t>(n));
  });
  LMX_CUDA_CHECK(cudaGetLastError());
}

void arange(array& out, double start, double step, cudaStream_t st) {
  allocate(out, st);
  int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  bool ok = dispatch_gpu(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(device_write(out));
    // Integer ranges step exactly (doubles lose precision past 2^53).
    if constexpr (std::is_integral_v<T>)
      arange_int<T><<<blocks_for(n), kThreads, 0, st>>>(p, static_cast<int64_t>(start), static_cast<int64_t>(step), n);
    else
      arange_float<T><<<blocks_for(n), kThreads, 0, st>>>(p, start, step, n);
  });
  if (!ok) throw std::invalid_argument(std::string("[arange] Unsupported dtype ") + dtype_name(out.dtype()) + " on the GPU.");
  LMX_CUDA_CHECK(cudaGetLastError());
}

}  // namespace lmx::cu
