// Reductions on the GPU. Reduced elements adjacent in memory (rows) go to a
// block per row, split into chunks with a second pass when there are few
// rows; any other layout (columns, general) gives each output a thread that
// walks its reduced elements, so neighbouring threads read neighbouring kept
// elements.
#include <algorithm>

#include "lmx/backend/common/reduce_ops.h"
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

// Block b reduces chunk (b % chunks) of row (b / chunks): `len` contiguous
// elements from the row's start (kept layout `L`, one operand: the input).
template <typename In, typename Out, typename Acc, typename Op>
__global__ void row_reduce(const In* __restrict__ src, Out* __restrict__ dst, Layout<1> L, int64_t rows,
                           int64_t row_len, int64_t chunks, int64_t chunk_len) {
  Op op;
  for (int64_t b = blockIdx.x; b < rows * chunks; b += gridDim.x) {
    int64_t row = b / chunks, chunk = b % chunks;
    int64_t off[1];
    strided_offsets(L, row, off);
    const In* p = src + off[0];
    int64_t lo = chunk * chunk_len, hi = min(row_len, lo + chunk_len);
    // Four independent accumulators keep four loads in flight per thread.
    Acc a0 = Op::init(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = lo + threadIdx.x, step = blockDim.x;
    for (; i + 3 * step < hi; i += 4 * step) {
      a0 = op(a0, cast_value<Acc>(p[i]));
      a1 = op(a1, cast_value<Acc>(p[i + step]));
      a2 = op(a2, cast_value<Acc>(p[i + 2 * step]));
      a3 = op(a3, cast_value<Acc>(p[i + 3 * step]));
    }
    for (; i < hi; i += step) a0 = op(a0, cast_value<Acc>(p[i]));
    Acc acc = block_reduce<Acc>(op(op(a0, a1), op(a2, a3)), op);
    if (threadIdx.x == 0) dst[b] = cast_value<Out>(acc);
  }
}

// Thread (i, c) reduces chunk c of output i's reduced elements: kept layout
// K gives its input offset (operand 0) and output offset (operand 1); R
// walks the reduced elements. With several chunks the results are partials,
// written chunk-major (c * n_out + i) for a second pass.
template <typename In, typename Out, typename Acc, typename Op>
__global__ void strided_reduce(const In* __restrict__ src, Out* __restrict__ dst, Layout<2> K, Layout<1> R,
                               int64_t n_out, int64_t n_red, int64_t chunks, int64_t chunk_len) {
  Op op;
  LMX_GRID_STRIDE(t, n_out * chunks) {
    int64_t i = t % n_out, c = t / n_out;
    int64_t ko[2];
    strided_offsets(K, i, ko);
    const In* p = src + ko[0];
    int64_t lo = c * chunk_len, hi = min(n_red, lo + chunk_len);
    Acc acc = Op::init();
    if (R.ndim == 1) {
      int64_t s = R.strides[0][0];
      for (int64_t r = lo; r < hi; ++r) acc = op(acc, cast_value<Acc>(p[r * s]));
    } else {
      for (int64_t r = lo; r < hi; ++r) {
        int64_t ro[1];
        strided_offsets(R, r, ro);
        acc = op(acc, cast_value<Acc>(p[ro[0]]));
      }
    }
    if (chunks == 1) dst[ko[1]] = cast_value<Out>(acc);
    else dst[t] = cast_value<Out>(acc);
  }
}

// False (nothing launched) when the layout has more non-adjacent dims than
// the kernels take; the caller then reduces on the host.
template <typename In, typename Out, typename Acc, typename Op>
bool reduce_typed(const array& in, array& out, const std::vector<int>& axes, cudaStream_t st) {
  int64_t n_out = static_cast<int64_t>(out.size());
  // Split dims into kept and reduced groups, as the CPU kernel does.
  std::vector<bool> reduced(in.ndim(), false);
  for (int a : axes) reduced[a] = true;
  Shape kept_shape, red_shape;
  Strides kept_in, kept_out, red_in;
  for (int i = 0; i < in.ndim(); ++i) {
    if (reduced[i]) {
      red_shape.push_back(in.shape(i));
      red_in.push_back(in.strides()[i]);
    } else {
      kept_shape.push_back(in.shape(i));
      kept_in.push_back(in.strides()[i]);
      kept_out.push_back(out.strides()[i]);
    }
  }
  std::vector<Strides> rs = {red_in};
  collapse_dims(red_shape, rs);
  int64_t n_red = 1;
  for (auto d : red_shape) n_red *= d;
  if (red_shape.empty()) red_shape = {1}, rs = {{0}};
  if (kept_shape.empty()) kept_shape = {1}, kept_in = {0}, kept_out = {0};

  // Rows long enough for a block each; short ones go a thread each below.
  bool rows = red_shape.size() == 1 && rs[0][0] == 1 && n_red >= 64;
  Layout<1> K1, R;
  Layout<2> K2;
  if (rows ? !collapsed_layout<1>(kept_shape, {kept_in}, K1)
           : !(collapsed_layout<2>(kept_shape, {kept_in, kept_out}, K2) && collapsed_layout<1>(red_shape, rs, R)))
    return false;
  const In* src = static_cast<const In*>(device_read(in, st));
  allocate(out, st);
  if (n_out == 0) return true;
  Out* dst = static_cast<Out*>(device_write(out));
  if (rows) {
    // Enough blocks to fill the device: split long rows into chunks.
    int64_t want = int64_t{device_props().multiProcessorCount} * 32;
    int64_t chunks = n_out >= want ? 1 : std::min<int64_t>((want + n_out - 1) / n_out, (n_red + 4095) / 4096);
    chunks = std::max<int64_t>(chunks, 1);
    int64_t chunk_len = (n_red + chunks - 1) / chunks;
    unsigned grid = static_cast<unsigned>(std::min<int64_t>(n_out * chunks, int64_t{1} << 20));
    if (chunks == 1) {
      row_reduce<In, Out, Acc, Op><<<grid, kThreads, 0, st>>>(src, dst, K1, n_out, n_red, 1, chunk_len);
    } else {
      Scratch partials(sizeof(Acc) * n_out * chunks, st);
      Acc* partial = partials.as<Acc>();
      row_reduce<In, Acc, Acc, Op><<<grid, kThreads, 0, st>>>(src, partial, K1, n_out, n_red, chunks, chunk_len);
      Layout<1> P = layout_of<1>({static_cast<ShapeElem>(n_out)}, {{chunks}});
      row_reduce<Acc, Out, Acc, Op><<<static_cast<unsigned>(std::min<int64_t>(n_out, 1 << 20)), kThreads, 0, st>>>(
          partial, dst, P, n_out, chunks, 1, chunks);
    }
  } else {
    // Few outputs over many elements: split the reduced range so that the
    // device has enough threads, then reduce the partials the same way.
    int64_t want = int64_t{device_props().multiProcessorCount} * 2048;
    int64_t chunks = n_out >= want ? 1 : std::min<int64_t>((want + n_out - 1) / n_out, (n_red + 63) / 64);
    chunks = std::max<int64_t>(chunks, 1);
    int64_t chunk_len = (n_red + chunks - 1) / chunks;
    if (chunks == 1) {
      strided_reduce<In, Out, Acc, Op><<<blocks_for(n_out), kThreads, 0, st>>>(src, dst, K2, R, n_out, n_red, 1, n_red);
    } else {
      Scratch partials(sizeof(Acc) * n_out * chunks, st);
      Acc* partial = partials.as<Acc>();
      strided_reduce<In, Acc, Acc, Op><<<blocks_for(n_out * chunks), kThreads, 0, st>>>(src, partial, K2, R, n_out,
                                                                                         n_red, chunks, chunk_len);
      Layout<2> KP = layout_of<2>({static_cast<ShapeElem>(n_out)}, {{1}, {1}});
      Layout<1> RP = layout_of<1>({static_cast<ShapeElem>(chunks)}, {{n_out}});
      strided_reduce<Acc, Out, Acc, Op><<<blocks_for(n_out), kThreads, 0, st>>>(partial, dst, KP, RP, n_out, chunks, 1,
                                                                                 chunks);
    }
  }
  LMX_CUDA_CHECK(cudaGetLastError());
  return true;
}

// Output types a sum or product can have for input In (sum_result_type).
template <typename F>
bool dispatch_sum_out(Dtype in, Dtype out, F&& f) {
  if (in == out) return dispatch_gpu(out, f);
  switch (out.val()) {
    case Dtype::Val::int32: f(TypeTag<int32_t>{}); return true;
    case Dtype::Val::uint32: f(TypeTag<uint32_t>{}); return true;
    case Dtype::Val::int64: f(TypeTag<int64_t>{}); return true;
    case Dtype::Val::uint64: f(TypeTag<uint64_t>{}); return true;
    default: return false;
  }
}

// (value, index) of the first extreme element, NaN counting as the most
// extreme (the first NaN wins), as the CPU kernel and NumPy.
template <bool IsMax, typename C>
__device__ inline bool arg_better(C v, uint32_t i, C best, uint32_t best_i) {
  if constexpr (std::is_floating_point_v<C>) {
    bool vn = v != v, bn = best != best;
    if (vn || bn) return vn && (!bn || i < best_i);
  }
  if (v == best) return i < best_i;
  return IsMax ? v > best : v < best;
}

// Combines each lane's (best, best_i) over the warp: lane 0 gets the warp's.
template <bool IsMax, typename C>
__device__ inline void warp_combine_best(C& best, uint32_t& best_i) {
  const int lane = threadIdx.x % 32;
  for (int d = 16; d > 0; d /= 2) {
    C v = shfl_down(best, d);
    uint32_t vi = __shfl_down_sync(0xffffffffu, best_i, d);
    if (lane + d < 32 && arg_better<IsMax>(v, vi, best, best_i)) best = v, best_i = vi;
  }
}

// The first extreme of elements first, first + step, ... (< len) of a line
// `stride` apart, combined over the warp: lane 0 holds the warp's best.
// Elements carry their index plus `base`. Loads go out kUnroll at a time,
// ahead of the comparisons that depend on them: one at a time, each would
// wait out a full memory latency.
template <bool IsMax, typename In, typename C>
__device__ inline void warp_arg_best(const In* p, int64_t first, int64_t step, int64_t len, int64_t stride, C& best,
                                     uint32_t& best_i, int64_t base = 0) {
  constexpr int kUnroll = 8;
  best = static_cast<C>(p[0]);
  best_i = static_cast<uint32_t>(base);
  for (int64_t i0 = first; i0 < len; i0 += kUnroll * step) {
    C v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = i0 + u * step;
      v[u] = i < len ? static_cast<C>(p[i * stride]) : best;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const auto at = static_cast<uint32_t>(base + i0 + u * step);
      if (i0 + u * step < len && arg_better<IsMax>(v[u], at, best, best_i)) best = v[u], best_i = at;
    }
  }
  warp_combine_best<IsMax>(best, best_i);
}

// A warp per output: lanes stride over the axis, then combine by shuffles.
template <bool IsMax, typename In>
__global__ void arg_reduce_kernel(const In* __restrict__ src, uint32_t* __restrict__ dst, Layout<2> K, int64_t n_out,
                                  int64_t len, int64_t stride) {
  using C = compute_t<In>;
  int lane = threadIdx.x % 32;
  int64_t warp = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32;
  int64_t warps = int64_t{gridDim.x} * blockDim.x / 32;
  for (int64_t o = warp; o < n_out; o += warps) {
    int64_t ko[2];
    strided_offsets(K, o, ko);
    const In* p = src + ko[0];
    C best;
    uint32_t best_i;
    warp_arg_best<IsMax>(p, lane, 32, len, stride, best, best_i);
    if (lane == 0) dst[ko[1]] = best_i;
  }
}

// For few outputs over a long axis (the argmax of a decode step's logits),
// the axis splits into gridDim.x pieces, one block each; block (piece,
// output) writes its piece's best to best_v/best_at[output][piece], and
// arg_reduce_pieces_kernel picks among the pieces.
template <bool IsMax, typename In, typename C = compute_t<In>>
__global__ void arg_reduce_piece_kernel(const In* __restrict__ src, C* __restrict__ best_v,
                                        uint32_t* __restrict__ best_at, Layout<2> K, int64_t len, int64_t stride,
                                        int64_t piece) {
  __shared__ C warp_v[kThreads / 32];
  __shared__ uint32_t warp_at[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t o = blockIdx.y, first = int64_t{blockIdx.x} * piece;
  int64_t ko[2];
  strided_offsets(K, o, ko);
  C best;
  uint32_t best_i;
  const int64_t piece_len = piece < len - first ? piece : len - first;
  warp_arg_best<IsMax>(src + ko[0] + first * stride, threadIdx.x, blockDim.x, piece_len, stride, best, best_i, first);
  if (lane == 0) warp_v[warp] = best, warp_at[warp] = best_i;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w)
      if (arg_better<IsMax>(warp_v[w], warp_at[w], best, best_i)) best = warp_v[w], best_i = warp_at[w];
    best_v[o * gridDim.x + blockIdx.x] = best;
    best_at[o * gridDim.x + blockIdx.x] = best_i;
  }
}

// A warp per output picks the best of its `pieces` candidates.
template <bool IsMax, typename C>
__global__ void arg_reduce_pieces_kernel(const C* __restrict__ best_v, const uint32_t* __restrict__ best_at,
                                         uint32_t* __restrict__ dst, Layout<2> K, int64_t n_out, int pieces) {
  const int lane = threadIdx.x % 32;
  const int64_t o = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32;
  if (o >= n_out) return;
  C best = best_v[o * pieces];
  uint32_t best_i = best_at[o * pieces];
  for (int j = lane; j < pieces; j += 32)
    if (arg_better<IsMax>(best_v[o * pieces + j], best_at[o * pieces + j], best, best_i))
      best = best_v[o * pieces + j], best_i = best_at[o * pieces + j];
  warp_combine_best<IsMax>(best, best_i);
  if (lane == 0) {
    int64_t ko[2];
    strided_offsets(K, o, ko);
    dst[ko[1]] = best_i;
  }
}

template <bool IsMax, typename In>
void launch_arg_reduce_pieces(const In* src, uint32_t* dst, const Layout<2>& K, int64_t n_out, int64_t len,
                              int64_t stride, cudaStream_t st) {
  using C = compute_t<In>;
  // About two blocks per multiprocessor over all outputs, each with at least
  // 8 elements per thread.
  const int64_t target = std::max<int64_t>(1, 2 * device_props().multiProcessorCount / n_out);
  const int pieces = static_cast<int>(std::clamp<int64_t>(len / (8 * kThreads), 1, std::min<int64_t>(target, 1024)));
  const int64_t piece = (len + pieces - 1) / pieces;
  Scratch values(sizeof(C) * n_out * pieces, st), at(sizeof(uint32_t) * n_out * pieces, st);
  arg_reduce_piece_kernel<IsMax, In><<<dim3(pieces, static_cast<unsigned>(n_out)), kThreads, 0, st>>>(
      src, values.as<C>(), at.as<uint32_t>(), K, len, stride, piece);
  arg_reduce_pieces_kernel<IsMax, C><<<blocks_for(n_out * 32), kThreads, 0, st>>>(values.as<C>(),
                                                                                  at.as<uint32_t>(), dst, K, n_out,
                                                                                  pieces);
}

}  // namespace

bool arg_reduce(bool is_max, int axis, const array& in, array& out, cudaStream_t st) {
  Shape kept;
  Strides kin, kout;
  for (int i = 0; i < in.ndim(); ++i)
    if (i != axis) kept.push_back(in.shape(i)), kin.push_back(in.strides()[i]), kout.push_back(out.strides()[i]);
  if (kept.empty()) kept = {1}, kin = {0}, kout = {0};
  Layout<2> K;
  if (!collapsed_layout<2>(kept, {kin, kout}, K)) return false;
  allocate(out, st);
  int64_t n_out = static_cast<int64_t>(out.size());
  if (n_out == 0) return true;
  int64_t len = in.shape(axis), stride = in.strides()[axis];
  auto* dst = static_cast<uint32_t*>(device_write(out));
  bool ok = dispatch_gpu(in.dtype(), [&](auto tag) {
    using In = typename decltype(tag)::type;
    const In* src = static_cast<const In*>(device_read(in, st));
    // A warp per output while there are outputs enough to fill the GPU;
    // blocks per piece of the axis for a few long ones.
    if (n_out < 4 * int64_t{device_props().multiProcessorCount} && len >= 2048 && n_out <= 65535) {
      if (is_max) launch_arg_reduce_pieces<true>(src, dst, K, n_out, len, stride, st);
      else launch_arg_reduce_pieces<false>(src, dst, K, n_out, len, stride, st);
    } else {
      unsigned grid = blocks_for(n_out * 32);
      if (is_max) arg_reduce_kernel<true, In><<<grid, kThreads, 0, st>>>(src, dst, K, n_out, len, stride);
      else arg_reduce_kernel<false, In><<<grid, kThreads, 0, st>>>(src, dst, K, n_out, len, stride);
    }
  });
  LMX_CUDA_CHECK(cudaGetLastError());
  return ok;
}

void fold_partials(ReduceType type, const float* partial, int64_t rows, int64_t chunks, array& out,
                   cudaStream_t st) {
  auto fold = [&](auto out_tag, auto op) {
    using Out = typename decltype(out_tag)::type;
    using Op = decltype(op);
    Layout<1> P = layout_of<1>({static_cast<ShapeElem>(rows)}, {{chunks}});
    row_reduce<float, Out, float, Op><<<static_cast<unsigned>(std::min<int64_t>(rows, 1 << 20)), kThreads, 0, st>>>(
        partial, static_cast<Out*>(device_write(out)), P, rows, chunks, 1, chunks);
  };
  auto with_op = [&](auto out_tag) {
    switch (type) {
      case ReduceType::Sum: return fold(out_tag, SumOp<float>{});
      case ReduceType::Max: return fold(out_tag, MaxOp<float>{});
      case ReduceType::Min: return fold(out_tag, MinOp<float>{});
      default: throw std::logic_error("[compile] a fused reduction is a sum, max or min");
    }
  };
  switch (out.dtype().val()) {
    case Dtype::Val::float32: with_op(TypeTag<float>{}); break;
    case Dtype::Val::float16: with_op(TypeTag<float16_t>{}); break;
    case Dtype::Val::bfloat16: with_op(TypeTag<bfloat16_t>{}); break;
    default: throw std::logic_error("[compile] a fused reduction's result is a floating type");
  }
  LMX_CUDA_CHECK(cudaGetLastError());
}

bool reduce(ReduceType type, const std::vector<int>& axes, const array& in, array& out, cudaStream_t st) {
  bool launched = false;  // a kernel for the dtypes exists and the layout fits it
  bool typed = false;
  switch (type) {
    case ReduceType::And:
    case ReduceType::Or:
      typed = dispatch_gpu(in.dtype(), [&](auto tag) {
        using In = typename decltype(tag)::type;
        if (type == ReduceType::And) launched = reduce_typed<In, bool, bool, AndOp>(in, out, axes, st);
        else launched = reduce_typed<In, bool, bool, OrOp>(in, out, axes, st);
      });
      break;
    case ReduceType::Sum:
    case ReduceType::Prod:
      typed = dispatch_gpu(in.dtype(), [&](auto tag) {
        using In = typename decltype(tag)::type;
        dispatch_sum_out(in.dtype(), out.dtype(), [&](auto otag) {
          using Out = typename decltype(otag)::type;
          if constexpr (std::is_same_v<Out, In> || (std::is_integral_v<In> && std::is_integral_v<Out>)) {
            using Acc = acc_t<Out>;
            if (type == ReduceType::Sum) launched = reduce_typed<In, Out, Acc, SumOp<Acc>>(in, out, axes, st);
            else launched = reduce_typed<In, Out, Acc, ProdOp<Acc>>(in, out, axes, st);
          }
        });
      });
      break;
    case ReduceType::Max:
    case ReduceType::Min:
      typed = dispatch_gpu(in.dtype(), [&](auto tag) {
        using In = typename decltype(tag)::type;
        using Acc = acc_t<In>;
        if (type == ReduceType::Max) launched = reduce_typed<In, In, Acc, MaxOp<Acc>>(in, out, axes, st);
        else launched = reduce_typed<In, In, Acc, MinOp<Acc>>(in, out, axes, st);
      });
      break;
  }
  return typed && launched;
}

}  // namespace lmx::cu
