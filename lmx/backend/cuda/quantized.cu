// Affine and floating-point block quantisation on the GPU, with the packing
// and arithmetic of the CPU kernels (backend/common/quantize_math.h). In the
// affine modes each row of w is one little-endian bit stream, so every run
// of 32 values is exactly `bits` uint32 words.
//
// quantized_matmul takes one of two paths:
//  - decode (few rows of x, w transposed): a fused matrix-vector kernel that
//    streams the packed weights once. 4-bit matrices with 16-bit x take the
//    tensor-core kernel of qmv_mma.cu; the others this file's general one:
//    each lane takes 32-value chunks of R rows of w, unpacks levels with
//    shifts and a float-bit trick (no integer conversions), and uses
//    sum_i (s q_i + b) x_i = s * sum q_i x_i + b * sum x_i per chunk, so the
//    x-side work is shared by the R rows. Warps of a block split K when rows
//    are few and long.
//  - otherwise: dequantise w into the output's dtype and let cuBLAS multiply
//    (tensor cores for the prefill of many rows).
#include "lmx/backend/common/layout.h"
#include "lmx/backend/common/quantize_math.h"
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/backend/cuda/qmv.cuh"

namespace lmx::cu {

namespace {

// The 32-value chunk's `Bits` packed words, loaded as wide as their
// alignment allows (rows of 32-value chunks keep it: see the callers).
template <int Bits>
__device__ inline void load_chunk(const uint32_t* __restrict__ p, uint32_t (&w)[Bits]) {
  if constexpr (Bits % 4 == 0) {
#pragma unroll
    for (int i = 0; i < Bits / 4; ++i) {
      uint4 v = reinterpret_cast<const uint4*>(p)[i];
      w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
    }
  } else if constexpr (Bits % 2 == 0) {
#pragma unroll
    for (int i = 0; i < Bits / 2; ++i) {
      uint2 v = reinterpret_cast<const uint2*>(p)[i];
      w[2 * i] = v.x, w[2 * i + 1] = v.y;
    }
  } else {
#pragma unroll
    for (int i = 0; i < Bits; ++i) w[i] = p[i];
  }
}

// Level j of a chunk as a float. j is a compile-time constant after
// unrolling, so this is a (funnel) shift and a mask; OR-ing the level into the
// mantissa of 2^23 and subtracting 2^23 converts it exactly without an I2F.
template <int Bits>
__device__ inline float level(const uint32_t (&w)[Bits], int j) {
  constexpr uint32_t mask = (1u << Bits) - 1;
  const int p = j * Bits, word = p >> 5, shift = p & 31;
  uint32_t v = shift + Bits > 32 ? __funnelshift_r(w[word], w[word + 1], shift) : w[word] >> shift;
  return __uint_as_float(0x4b000000u | (v & mask)) - 8388608.0f;
}

template <typename T, int Bits>
__global__ void dequantize_kernel(const uint32_t* __restrict__ w, const T* __restrict__ scales,
                                  const T* __restrict__ biases, T* __restrict__ out, int64_t chunks, int group) {
  const int chunks_per_group = group / 32;
  LMX_GRID_STRIDE(c, chunks) {
    uint32_t q[Bits];
    load_chunk<Bits>(w + c * Bits, q);
    const int64_t g = c / chunks_per_group;
    const float s = to_float(scales[g]), b = to_float(biases[g]);
    Vec<T, 8>* dst = reinterpret_cast<Vec<T, 8>*>(out + c * 32);
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      Vec<T, 8> v;
#pragma unroll
      for (int j = 0; j < 8; ++j) v.v[j] = T(quant::affine_value<T>(level<Bits>(q, p * 8 + j), s, b));
      dst[p] = v;
    }
  }
}

template <typename T>
__global__ void quantize_kernel(const T* __restrict__ w, uint8_t* __restrict__ packed, T* __restrict__ scales,
                                T* __restrict__ biases, int64_t groups, int group, int bits) {
  float vals[128];
  LMX_GRID_STRIDE(g, groups) {
    for (int i = 0; i < group; ++i) vals[i] = to_float(w[g * group + i]);
    float s, b;
    quant::affine_quantize_group(vals, group, bits, packed + g * group * bits / 8, s, b);
    scales[g] = from_float<T>(s);
    biases[g] = from_float<T>(b);
  }
}

template <typename T>
__global__ void to_fp8_kernel(const T* __restrict__ x, uint8_t* __restrict__ y, int64_t n) {
  LMX_GRID_STRIDE(i, n) y[i] = quant::float_to_e4m3(to_float(x[i]));
}

template <typename T>
__global__ void from_fp8_kernel(const uint8_t* __restrict__ x, T* __restrict__ y, int64_t n) {
  LMX_GRID_STRIDE(i, n) y[i] = from_float<T>(quant::e4m3_to_float(x[i]));
}

// ---- floating-point block modes (mxfp4, mxfp8, nvfp4) ----
// The group format for a kernel: nvfp4's global scale, when present, is
// read from device memory (no host round trip to learn it).
__device__ inline quant::FpGroupFormat fp_format(int bits, bool power_of_two, const float* global) {
  return {bits, power_of_two, global != nullptr, global ? *global : 0.0f};
}

// One thread per group (16 or 32 values), as fp_quantize_group works.
template <typename T>
__global__ void fp_quantize_kernel(const T* __restrict__ w, uint8_t* __restrict__ packed,
                                   uint8_t* __restrict__ scales, int64_t groups, int group, int bits,
                                   bool power_of_two, const float* __restrict__ global) {
  const quant::FpGroupFormat f = fp_format(bits, power_of_two, global);
  float vals[32];
  uint8_t codes[32];
  LMX_GRID_STRIDE(g, groups) {
    for (int i = 0; i < group; ++i) vals[i] = to_float(w[g * group + i]);
    scales[g] = quant::fp_quantize_group(vals, group, f, codes);
    quant::pack_fp_codes(codes, group, bits, packed + g * group * bits / 8);
  }
}

// One thread per 8 values (a 4-byte word of e2m1 codes or two words of
// e4m3), written as one vector store.
template <typename T>
__global__ void fp_dequantize_kernel(const uint32_t* __restrict__ packed, const uint8_t* __restrict__ scales,
                                     T* __restrict__ out, int64_t spans, int group, int bits, bool power_of_two,
                                     const float* __restrict__ global) {
  const quant::FpGroupFormat f = fp_format(bits, power_of_two, global);
  LMX_GRID_STRIDE(c, spans) {
    const float factor = f.scale_factor(scales[c * 8 / group]);
    // The span's bytes, loaded as words, then unpacked by the shared rule.
    uint32_t words[2];
    words[0] = packed[bits == 4 ? c : 2 * c];
    words[1] = bits == 4 ? 0 : packed[2 * c + 1];
    const auto* bytes = reinterpret_cast<const uint8_t*>(words);
    Vec<T, 8> v;
#pragma unroll
    for (int j = 0; j < 8; ++j) v.v[j] = from_float<T>(f.element(quant::unpack_fp_code(bytes, j, bits)) * factor);
    reinterpret_cast<Vec<T, 8>*>(out)[c] = v;
  }
}

// Quantise and decode again in one pass (qqmm's operands), a group a thread.
template <typename T>
__global__ void fp_round_trip_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t groups, int group,
                                     int bits, bool power_of_two, const float* __restrict__ global) {
  const quant::FpGroupFormat f = fp_format(bits, power_of_two, global);
  float vals[32];
  uint8_t codes[32];
  LMX_GRID_STRIDE(g, groups) {
    for (int i = 0; i < group; ++i) vals[i] = to_float(x[g * group + i]);
    const float factor = f.scale_factor(quant::fp_quantize_group(vals, group, f, codes));
    for (int i = 0; i < group; ++i) out[g * group + i] = from_float<T>(f.element(codes[i]) * factor);
  }
}

constexpr int kQmvThreads = 128;

// y[., n] for rows n0 .. n0 + R of the block's matrix against the m <= MR
// rows of x. A block's warps form warps_n groups (each its own R rows) of
// warps_k warps that split the row's chunks and add up through shared
// memory. (Loading two or four chunks ahead per lane made no difference on
// an H200: this kernel is bound by its integer and float instructions, about
// five per value and row, not by memory latency.)
template <typename T, int Bits, int MR, int R>
__global__ void __launch_bounds__(kQmvThreads) qmv_kernel(QmvArgs<T> a, int warps_k) {
  pdl_begin();
  int s = 0;
  while (s + 1 < a.count && blockIdx.x >= a.first_block[s + 1]) ++s;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wk = warp % warps_k, wn = warp / warps_k, warps_n = kQmvThreads / 32 / warps_k;
  const int64_t n = a.n[s];
  const int64_t n0 = ((int64_t{blockIdx.x} - a.first_block[s]) * warps_n + wn) * R;
  const int64_t batch = blockIdx.y;
  const T* x = a.x + batch * a.x_batch;
  const uint32_t* w = a.w[s] + batch * a.w_batch;
  const T* scales = a.scales[s] + batch * a.s_batch;
  const T* biases = a.biases[s] + batch * a.b_batch;
  const int chunks = a.k / 32, groups = a.k / a.group, chunks_per_group = a.group / 32;
  const int64_t row_words = int64_t{chunks} * Bits;

  float acc[MR][R] = {};
  if (n0 < n) {
    for (int c = wk * 32 + lane; c < chunks; c += warps_k * 32) {
      uint32_t q[R][Bits];
      float sc[R], bi[R];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t row = n0 + r < n ? n0 + r : n0;  // past the end: a row whose result is dropped
        load_chunk<Bits>(w + row * row_words + int64_t{c} * Bits, q[r]);
        const int64_t g = row * groups + c / chunks_per_group;
        sc[r] = to_float(scales[g]);
        bi[r] = to_float(biases[g]);
      }
      float dot[MR][R] = {}, xsum[MR] = {};
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        float lv[R][8];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
          for (int j = 0; j < 8; ++j) lv[r][j] = level<Bits>(q[r], p * 8 + j);
#pragma unroll
        for (int i = 0; i < MR; ++i) {
          if (i < a.m) {
            float xv[8];
            load8_float(x + int64_t{i} * a.k + c * 32 + p * 8, xv);
#pragma unroll
            for (int j = 0; j < 8; ++j) {
              xsum[i] += xv[j];
#pragma unroll
              for (int r = 0; r < R; ++r) dot[i][r] = fmaf(lv[r][j], xv[j], dot[i][r]);
            }
          }
        }
      }
#pragma unroll
      for (int i = 0; i < MR; ++i)
#pragma unroll
        for (int r = 0; r < R; ++r) acc[i][r] += sc[r] * dot[i][r] + bi[r] * xsum[i];
    }
  }
  T* y = a.y[s] + batch * a.y_batch;
  sum_split_rows<kQmvThreads>(acc, warps_k, [&](int i, int r, float v) {
    if (i < a.m && n0 + r < n) y[int64_t{i} * n + n0 + r] = from_float<T>(v);
  });
}

// Calls f(std::integral_constant<int, bits>) for the supported bit widths.
template <typename F>
void dispatch_bits(int bits, F&& f) {
  switch (bits) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 8: return f(std::integral_constant<int, 8>{});
  }
  throw std::invalid_argument("[quantize] Unsupported bits " + std::to_string(bits) + ".");
}

// `a` row-contiguous in dtype t with its first element 16-byte aligned, so
// the kernels' vector loads may read it.
array aligned_dense(const array& a, Dtype t, cudaStream_t st) {
  array d = row_contiguous(a, t, st);
  if (aligned_to(device_read(d, st), 16)) return d;
  array fresh(a.shape(), t, std::shared_ptr<Data>{});
  allocate(fresh, st);
  copy_to_strided(d, device_write(fresh), t, fresh.strides(), st);
  return fresh;
}

// Rows of w per warp: 4 for one row of x, 2 for up to kQmvMaxRows.
constexpr int kQmvWarpRowsOne = 4, kQmvWarpRowsMany = 2;

// The general kernel over args' matrices (set by the caller).
template <typename T, int Bits>
void launch_qmv(QmvArgs<T> args, int64_t batch, cudaStream_t st) {
  const int chunks = args.k / 32;
  int64_t rows = 0;
  for (int s = 0; s < args.count; ++s) rows += args.n[s];
  // Split K over up to 4 warps when a row has many chunks (long rows,
  // usually few of them), so every lane still has two or more; and further
  // while the grid would have under two blocks per multiprocessor, where
  // idle lanes cost less than idle multiprocessors (4-bit 2560x1024 on an
  // H100: 6.5 us with one warp per row, 4.6 with four).
  int warps_k = split_k_warps(chunks);
  const int64_t rows_per_warp = args.m == 1 ? kQmvWarpRowsOne : kQmvWarpRowsMany;
  while (warps_k < 4 && rows * batch < int64_t{2} * device_props().multiProcessorCount *
                                           (kQmvThreads / 32 / warps_k) * rows_per_warp)
    warps_k *= 2;
  auto go = [&](auto mr, auto r) {
    constexpr int MR = decltype(mr)::value, R = decltype(r)::value;
    deal_blocks(args, kQmvThreads / 32 / warps_k * R);
    for_batch_slices(args, batch, [&](const QmvArgs<T>& part, dim3 grid) {
      launch_dependent(qmv_kernel<T, Bits, MR, R>, grid, kQmvThreads, 0, st, part, warps_k);
    });
  };
  if (args.m == 1) go(std::integral_constant<int, 1>{}, std::integral_constant<int, kQmvWarpRowsOne>{});
  else go(std::integral_constant<int, kQmvMaxRows>{}, std::integral_constant<int, kQmvWarpRowsMany>{});
}

// A decode product: the tensor-core kernel where it applies, else the general one.
template <typename T>
void run_qmv(const QmvArgs<T>& args, int64_t batch, int bits, cudaStream_t st) {
  if constexpr (!std::is_same_v<T, float>)
    if (launch_qmv_mma(args, batch, bits, st)) return;
  dispatch_bits(bits, [&](auto bits_c) { launch_qmv<T, decltype(bits_c)::value>(args, batch, st); });
}

// Whether a's matrices are row-contiguous (rows `cols` apart).
bool dense_matrices(const array& a) {
  const int nd = a.ndim();
  return a.strides()[nd - 1] == 1 && (a.shape(-2) == 1 || a.strides()[nd - 2] == a.shape(-1));
}

// `a` as the matrix-vector kernel reads it: dtype t, dense matrices at a
// uniform batch stride (set here), 16-byte aligned matrices. Broadcast
// batch dims stay views.
array qmv_operand(const array& a, Dtype t, cudaStream_t st, int64_t& batch_stride) {
  if (a.dtype() == t && dense_matrices(a) && uniform_batch_stride(a, batch_stride) &&
      (batch_stride * static_cast<int64_t>(a.itemsize())) % 16 == 0 && aligned_to(device_read(a, st), 16))
    return a;
  array d = aligned_dense(a, t, st);
  batch_stride = d.ndim() > 2 ? d.shape(-2) * d.shape(-1) : 0;
  return d;
}

}  // namespace

bool affine_quantize(const array& w_in, int group, int bits, array& wq, array& scales, array& biases,
                     cudaStream_t st) {
  return dispatch_gpu_float(w_in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    array w = row_contiguous(w_in, st);
    for (array* o : {&wq, &scales, &biases}) allocate(*o, st);
    const int64_t groups = static_cast<int64_t>(scales.size());
    if (groups == 0) return;
    quantize_kernel<T><<<blocks_for(groups), kThreads, 0, st>>>(
        static_cast<const T*>(device_read(w, st)), static_cast<uint8_t*>(device_write(wq)),
        static_cast<T*>(device_write(scales)), static_cast<T*>(device_write(biases)), groups, group, bits);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool affine_dequantize(const array& w_in, const array& scales_in, const array& biases_in, int group, int bits,
                       array& out, cudaStream_t st) {
  return dispatch_gpu_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    array w = aligned_dense(w_in, uint32, st);
    array s = row_contiguous(scales_in, out.dtype(), st), b = row_contiguous(biases_in, out.dtype(), st);
    allocate(out, st);
    const int64_t chunks = static_cast<int64_t>(out.size() / 32);
    if (chunks == 0) return;
    dispatch_bits(bits, [&](auto bits_c) {
      constexpr int Bits = decltype(bits_c)::value;
      dequantize_kernel<T, Bits><<<blocks_for(chunks), kThreads, 0, st>>>(
          static_cast<const uint32_t*>(device_read(w, st)), static_cast<const T*>(device_read(s, st)),
          static_cast<const T*>(device_read(b, st)), static_cast<T*>(device_write(out)), chunks, group);
    });
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

namespace {
// The global scale as a device float32 scalar, or null.
const float* global_scale_ptr(const array* global, array& holder, cudaStream_t st) {
  if (!global) return nullptr;
  holder = row_contiguous(*global, float32, st);
  return static_cast<const float*>(device_read(holder, st));
}
}  // namespace

bool fp_quantize(const array& w_in, const array* global, int group, int bits, bool power_of_two, array& wq,
                 array& scales, cudaStream_t st) {
  return dispatch_gpu_float(w_in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    array w = row_contiguous(w_in, st), g;
    const float* gp = global_scale_ptr(global, g, st);
    allocate(wq, st);
    allocate(scales, st);
    const int64_t groups = static_cast<int64_t>(scales.size());
    if (groups == 0) return;
    fp_quantize_kernel<T><<<blocks_for(groups), kThreads, 0, st>>>(
        static_cast<const T*>(device_read(w, st)), static_cast<uint8_t*>(device_write(wq)),
        static_cast<uint8_t*>(device_write(scales)), groups, group, bits, power_of_two, gp);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool fp_dequantize(const array& w_in, const array& scales_in, const array* global, int group, int bits,
                   bool power_of_two, array& out, cudaStream_t st) {
  return dispatch_gpu_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    array w = aligned_dense(w_in, uint32, st), s = row_contiguous(scales_in, uint8, st), g;
    const float* gp = global_scale_ptr(global, g, st);
    allocate(out, st);
    const int64_t spans = static_cast<int64_t>(out.size() / 8);  // groups are 16 or 32 values
    if (spans == 0) return;
    fp_dequantize_kernel<T><<<blocks_for(spans), kThreads, 0, st>>>(
        static_cast<const uint32_t*>(device_read(w, st)), static_cast<const uint8_t*>(device_read(s, st)),
        static_cast<T*>(device_write(out)), spans, group, bits, power_of_two, gp);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool fp_round_trip(const array& x_in, const array* global, int group, int bits, bool power_of_two, array& out,
                   cudaStream_t st) {
  return dispatch_gpu_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    array x = row_contiguous(x_in, out.dtype(), st), g;
    const float* gp = global_scale_ptr(global, g, st);
    allocate(out, st);
    const int64_t groups = static_cast<int64_t>(out.size() / group);
    if (groups == 0) return;
    fp_round_trip_kernel<T><<<blocks_for(groups), kThreads, 0, st>>>(
        static_cast<const T*>(device_read(x, st)), static_cast<T*>(device_write(out)), groups, group, bits,
        power_of_two, gp);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool fp8_convert(bool to_fp8, const array& in_arr, array& out, cudaStream_t st) {
  return dispatch_gpu_float(to_fp8 ? in_arr.dtype() : out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    array in = row_contiguous(in_arr, st);
    allocate(out, st);
    const int64_t n = static_cast<int64_t>(out.size());
    if (n == 0) return;
    if (to_fp8)
      to_fp8_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(static_cast<const T*>(device_read(in, st)),
                                                             static_cast<uint8_t*>(device_write(out)), n);
    else
      from_fp8_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(static_cast<const uint8_t*>(device_read(in, st)),
                                                               static_cast<T*>(device_write(out)), n);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool quantized_matmul(const array& x_in, const array& w_in, const array& scales_in, const array& biases_in,
                      int group, int bits, bool transpose, array& out, cudaStream_t st) {
  const Dtype t = out.dtype();
  if (w_in.ndim() == 2 && x_in.ndim() > 2) {
    // One 2-D w serves every row of x: x's batch dims fold into its rows (the
    // matrix-vector kernel then takes a whole decode batch at once), and out
    // views the (rows, N) product.
    const ShapeElem k = x_in.shape(-1), rows = k ? static_cast<ShapeElem>(x_in.size() / k) : 0;
    array xc = row_contiguous(x_in, st);
    array x2({rows, k}, xc.dtype(), std::shared_ptr<Data>{});
    make_view(xc, x2, row_major_strides(x2.shape()));
    array y2({rows, out.shape(-1)}, t, std::shared_ptr<Data>{});
    if (!quantized_matmul(x2, w_in, scales_in, biases_in, group, bits, transpose, y2, st)) return false;
    make_view(y2, out, row_major_strides(out.shape()));
    return true;
  }
  return dispatch_gpu_float(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t m = x_in.shape(-2), k = x_in.shape(-1), n = out.shape(-1);
    if (out.size() == 0 || k == 0) {
      allocate(out, st);
      if (out.size()) LMX_CUDA_CHECK(cudaMemsetAsync(device_write(out), 0, out.nbytes(), st));
      return;
    }
    if (!transpose || m > kQmvMaxRows) {
      // Dequantise w (..., rows, values) into t, then a cuBLAS product with
      // it (transposed as a view when w holds rows of the output).
      Shape dq_shape = w_in.shape();
      dq_shape.back() = w_in.shape(-1) * 32 / bits;
      array dq(dq_shape, t, std::shared_ptr<Data>{});
      affine_dequantize(w_in, scales_in, biases_in, group, bits, dq, st);
      std::vector<int> undo;
      matmul(row_contiguous(x_in, t, st), transpose ? axis_last_view(dq, dq.ndim() - 2, undo) : dq, out, st);
      return;
    }
    QmvArgs<T> args{};
    array x = qmv_operand(x_in, t, st, args.x_batch);
    array w = qmv_operand(w_in, uint32, st, args.w_batch);
    array s = qmv_operand(scales_in, t, st, args.s_batch), b = qmv_operand(biases_in, t, st, args.b_batch);
    allocate(out, st);
    args.x = static_cast<const T*>(device_read(x, st));
    args.w[0] = static_cast<const uint32_t*>(device_read(w, st));
    args.scales[0] = static_cast<const T*>(device_read(s, st));
    args.biases[0] = static_cast<const T*>(device_read(b, st));
    args.y[0] = static_cast<T*>(device_write(out));
    args.n[0] = n, args.count = 1;
    args.m = static_cast<int>(m), args.k = static_cast<int>(k), args.group = group;
    args.y_batch = m * n;
    const int64_t batch = static_cast<int64_t>(out.size()) / (m * n);
    run_qmv(args, batch, bits, st);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

bool quantized_matmul_group(const array& x_in, const std::vector<array>& mats, int group, int bits,
                            std::vector<array>& outs, cudaStream_t st) {
  const size_t count = outs.size();
  if (count == 0 || count > static_cast<size_t>(kMaxQmvWeights) || mats.size() != 3 * count) return false;
  const Dtype t = x_in.dtype();
  const int64_t k = x_in.shape(-1);
  const int64_t m = k ? static_cast<int64_t>(x_in.size()) / k : 0;  // x's batch dims fold into its rows
  if (m < 1 || m > kQmvMaxRows || k % group != 0 || k % 32 != 0) return false;
  for (size_t i = 0; i < count; ++i) {
    const array &w = mats[3 * i], &s = mats[3 * i + 1], &b = mats[3 * i + 2];
    if (w.ndim() != 2 || outs[i].dtype() != t || s.dtype() != t || b.dtype() != t || outs[i].shape(-1) == 0 ||
        w.shape(-1) * 32 / bits != k)
      return false;
  }
  return dispatch_gpu_float(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    QmvArgs<T> args{};
    int64_t unused = 0;
    const array x = aligned_dense(x_in, t, st);
    args.x = static_cast<const T*>(device_read(x, st));
    std::vector<array> held;  // operands the kernel reads, kept alive until it is queued
    for (size_t i = 0; i < count; ++i) {
      held.push_back(qmv_operand(mats[3 * i], uint32, st, unused));
      held.push_back(qmv_operand(mats[3 * i + 1], t, st, unused));
      held.push_back(qmv_operand(mats[3 * i + 2], t, st, unused));
      allocate(outs[i], st);
      args.w[i] = static_cast<const uint32_t*>(device_read(held[3 * i], st));
      args.scales[i] = static_cast<const T*>(device_read(held[3 * i + 1], st));
      args.biases[i] = static_cast<const T*>(device_read(held[3 * i + 2], st));
      args.y[i] = static_cast<T*>(device_write(outs[i]));
      args.n[i] = outs[i].shape(-1);
    }
    args.count = static_cast<int>(count);
    args.m = static_cast<int>(m), args.k = static_cast<int>(k), args.group = group;
    run_qmv(args, 1, bits, st);
    LMX_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace lmx::cu
