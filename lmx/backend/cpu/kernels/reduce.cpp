// CPU reductions (built per ISA): a row reduction when the reduced elements are adjacent in
// memory, a column reduction (accumulating whole output rows) when the kept
// elements are, and a general strided walk otherwise.
#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <memory>
#include <tuple>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/dispatch.h"
#include "lmx/backend/common/elementwise_ops.h"
#include "lmx/backend/common/reduce_ops.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/backend/cpu/lines.h"
#include "lmx/backend/cpu/simd.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx::cpu::LMX_KERNELS_NS {

namespace {

// Max/min over a contiguous run of a native type go through explicit SIMD
// lanes (their NaN-aware selects defeat the auto-vectoriser).
template <typename Op, typename In, typename Acc>
constexpr int simd_extreme_kind() {
  if constexpr (!std::is_same_v<In, Acc> || !std::is_arithmetic_v<In> || std::is_same_v<In, bool>) return 0;
  else if constexpr (std::is_same_v<Op, MaxOp<Acc>>) return 1;
  else if constexpr (std::is_same_v<Op, MinOp<Acc>>) return -1;
  else return 0;
}

// Splits the input's dimensions into kept and reduced groups (each collapsed).
struct ReducePlan {
  Shape kept_shape, red_shape;
  std::vector<Strides> kept_strides;  // {input, output}
  std::vector<Strides> red_strides;   // {input}
};

ReducePlan plan_reduce(const array& in, const array& out, const std::vector<int>& axes) {
  ReducePlan p;
  p.kept_strides.resize(2);
  p.red_strides.resize(1);
  std::vector<bool> reduced(in.ndim(), false);
  for (int a : axes) reduced[a] = true;
  for (int i = 0; i < in.ndim(); ++i) {
    if (reduced[i]) {
      p.red_shape.push_back(in.shape(i));
      p.red_strides[0].push_back(in.strides()[i]);
    } else {
      p.kept_shape.push_back(in.shape(i));
      p.kept_strides[0].push_back(in.strides()[i]);
      p.kept_strides[1].push_back(out.strides()[i]);
    }
  }
  collapse_dims(p.kept_shape, p.kept_strides);
  collapse_dims(p.red_shape, p.red_strides);
  return p;
}

template <typename In, typename Out, typename Acc, typename Op>
void reduce_typed(const array& in, array& out, const std::vector<int>& axes) {
  cpu::allocate(out);
  Op op;
  Out* dst = out.data<Out>();
  const In* src = in.data<In>();
  if (in.size() == 0) {
    for (size_t i = 0; i < out.size(); ++i) dst[i] = cast_value<Out>(Op::init());
    return;
  }
  ReducePlan p = plan_reduce(in, out, axes);
  int64_t red_inner_stride = p.red_strides[0].back();
  int64_t kept_inner_stride = p.kept_strides[0].back();
  int64_t kept_inner = p.kept_shape.back();
  bool column = red_inner_stride != 1 && kept_inner_stride == 1 && kept_inner > 1;
  // One contiguous run of elements folded into acc.
  auto reduce_run = [&op](const In* s, int64_t m, Acc acc) -> Acc {
    constexpr int kExtreme = simd_extreme_kind<Op, In, Acc>();
    if constexpr (kExtreme != 0) {
      auto [v, nan] = cpu::simd::extreme<(kExtreme > 0)>(s, m, acc);
      if constexpr (std::is_floating_point_v<Acc>) return nan ? std::numeric_limits<Acc>::quiet_NaN() : v;
      else return v;
    } else {
      // 32 lanes: several vector registers.
      return fold_in_lanes<32>(op, m, acc, [s](int64_t i) { return cast_value<Acc>(s[i]); });
    }
  };
  if (!column) {
    // One output element at a time, reducing its (strided) elements.
    size_t n_out = out.size();
    size_t red_count = in.size() / std::max<size_t>(n_out, 1);
    // A whole array that is one contiguous run (the sum of a vector, a
    // loss): threads fold fixed-size chunks, combined in order, so the result
    // does not depend on the thread count. (Splitting the outputs alone left
    // it on one thread: half the memory bandwidth at 1e7 floats.)
    constexpr int64_t kChunk = int64_t{1} << 16;
    if (n_out == 1 && p.red_shape.size() == 1 && red_inner_stride == 1 && p.red_shape[0] >= 2 * kChunk) {
      const int64_t m = p.red_shape[0], chunks = (m + kChunk - 1) / kChunk;
      std::unique_ptr<Acc[]> part(new Acc[chunks]);  // not std::vector: vector<bool> has no addressable elements
      parallel_for(static_cast<size_t>(chunks), kChunk, [&](size_t b, size_t e) {
        for (size_t c = b; c < e; ++c) {
          const int64_t lo = static_cast<int64_t>(c) * kChunk;
          part[c] = reduce_run(src + lo, std::min(kChunk, m - lo), Op::init());
        }
      });
      Acc acc = Op::init();
      for (int64_t c = 0; c < chunks; ++c) acc = op(acc, part[c]);
      dst[0] = cast_value<Out>(acc);
      return;
    }
    // Offsets of each output element come from the kept walk. Threads split
    // the output elements, not the kept walk's outer rows: a sum over the
    // last axis of (2048, 128) has one outer row, and ran on one thread.
    parallel_for(n_out, red_count, [&](size_t b, size_t e) {
      const size_t inner = static_cast<size_t>(kept_inner);
      for_each_row_range<2>(p.kept_shape, p.kept_strides, b / inner, (e + inner - 1) / inner,
                            [&, row = b / inner](const int64_t* off, int64_t n) mutable {
        // This row's outputs are [first, first + n); the chunk's are [b, e).
        const int64_t first = static_cast<int64_t>(row * inner);
        const int64_t k0 = std::max<int64_t>(0, static_cast<int64_t>(b) - first);
        const int64_t k1 = std::min<int64_t>(n, static_cast<int64_t>(e) - first);
        ++row;
        for (int64_t k = k0; k < k1; ++k) {
          const In* base = src + off[0] + k * kept_inner_stride;
          Acc acc = Op::init();
          for_each_row<1>(p.red_shape, p.red_strides, [&](const int64_t* roff, int64_t m) {
            const In* s = base + roff[0];
            if (red_inner_stride == 1) {
              acc = reduce_run(s, m, acc);
            } else {
              for (int64_t i = 0; i < m; ++i) acc = op(acc, cast_value<Acc>(s[i * red_inner_stride]));
            }
          });
          dst[off[1] + k * p.kept_strides[1].back()] = cast_value<Out>(acc);
        }
      });
    });
    return;
  }
  // Column reduction: accumulate contiguous runs of kept elements. Threads
  // split the outer rows and blocks of columns (a sum over axis 0 of
  // (10000, 1000) has one outer row); each column still folds its rows in
  // order, so the split does not change the result.
  constexpr int64_t kColumnBlock = 256;
  Shape outer_shape(p.kept_shape.begin(), p.kept_shape.end() - 1);
  std::vector<Strides> outer_strides = {
      Strides(p.kept_strides[0].begin(), p.kept_strides[0].end() - 1),
      Strides(p.kept_strides[1].begin(), p.kept_strides[1].end() - 1)};
  // The outer kept dims walked as single-element "rows".
  outer_shape.push_back(1);
  outer_strides[0].push_back(1);
  outer_strides[1].push_back(1);
  const size_t outer = outer_rows(p.kept_shape);
  const int64_t col_blocks = (kept_inner + kColumnBlock - 1) / kColumnBlock;
  const int64_t out_inner_stride = p.kept_strides[1].back();
  const size_t red_count = in.size() / std::max<size_t>(out.size(), 1);
  parallel_for(outer * col_blocks, std::min(kColumnBlock, kept_inner) * red_count, [&](size_t b, size_t e) {
    // Not std::vector: vector<bool> has no addressable elements.
    std::unique_ptr<Acc[]> acc(new Acc[std::min(kColumnBlock, kept_inner)]);
    for (size_t w = b; w < e; ++w) {
      const int64_t k0 = static_cast<int64_t>(w % col_blocks) * kColumnBlock;
      const int64_t k1 = std::min(kept_inner, k0 + kColumnBlock);
      const size_t o = w / col_blocks;
      for_each_row_range<2>(outer_shape, outer_strides, o, o + 1, [&](const int64_t* off, int64_t) {
        std::fill(acc.get(), acc.get() + (k1 - k0), Op::init());
        for_each_row<1>(p.red_shape, p.red_strides, [&](const int64_t* roff, int64_t m) {
          for (int64_t r = 0; r < m; ++r) {
            const In* s = src + off[0] + roff[0] + r * red_inner_stride + k0;
            for (int64_t k = 0; k < k1 - k0; ++k) acc[k] = op(acc[k], cast_value<Acc>(s[k]));
          }
        });
        for (int64_t k = k0; k < k1; ++k) dst[off[1] + k * out_inner_stride] = cast_value<Out>(acc[k - k0]);
      });
    }
  });
}

}  // namespace

void reduce(ReduceType type, const std::vector<int>& axes, const array& in, array& out) {
  switch (type) {
    case ReduceType::And:
    case ReduceType::Or:
      dispatch_all(in.dtype(), [&](auto tag) {
        using In = typename decltype(tag)::type;
        if (type == ReduceType::And) reduce_typed<In, bool, bool, AndOp>(in, out, axes);
        else reduce_typed<In, bool, bool, OrOp>(in, out, axes);
      });
      return;
    case ReduceType::Sum:
    case ReduceType::Prod:
      dispatch_all(in.dtype(), [&](auto tag) {
        using In = typename decltype(tag)::type;
        dispatch_all(out.dtype(), [&](auto otag) {
          using Out = typename decltype(otag)::type;
          if constexpr (std::is_same_v<Out, In> || (std::is_integral_v<In> && std::is_integral_v<Out>)) {
            using Acc = acc_t<Out>;
            if (type == ReduceType::Sum) reduce_typed<In, Out, Acc, SumOp<Acc>>(in, out, axes);
            else reduce_typed<In, Out, Acc, ProdOp<Acc>>(in, out, axes);
          } else {
            unsupported_dtype("sum", in.dtype());
          }
        });
      });
      return;
    case ReduceType::Max:
    case ReduceType::Min:
      dispatch_all(in.dtype(), [&](auto tag) {
        using In = typename decltype(tag)::type;
        using Acc = acc_t<In>;
        if (type == ReduceType::Max) reduce_typed<In, In, Acc, MaxOp<Acc>>(in, out, axes);
        else reduce_typed<In, In, Acc, MinOp<Acc>>(in, out, axes);
      });
      return;
  }
}

namespace {

template <bool IsMax, typename C>
bool arg_better(C v, C best) {
  if constexpr (is_complex_v<C>) return IsMax ? scalar::lex_less(best, v) : scalar::lex_less(v, best);
  else return IsMax ? v > best : v < best;
}

// Index of the first extreme element (the first NaN, if any, as NumPy) along
// a strided run: the general walk.
template <bool IsMax, typename In, typename C>
uint32_t arg_reduce_strided(const In* s, int64_t len, int64_t stride) {
  uint32_t best_i = 0;
  C best = static_cast<C>(s[0]);
  if constexpr (std::is_floating_point_v<C>)
    if (std::isnan(best)) return 0;
  for (int64_t i = 1; i < len; ++i) {
    C v = static_cast<C>(s[i * stride]);
    if constexpr (std::is_floating_point_v<C>)
      if (std::isnan(v)) return static_cast<uint32_t>(i);
    if (arg_better<IsMax>(v, best)) {
      best = v;
      best_i = static_cast<uint32_t>(i);
    }
  }
  return best_i;
}

// The first index in [0, m) of s holding `value` (which it holds). Native
// types compare whole registers, four at a time, before the scalar search
// in the span that has it: the scalar scan alone cost argmax of 1e5 floats
// a third of its time.
template <typename In, typename C>
int64_t first_equal(const In* s, int64_t m, C value) {
  int64_t i = 0;
  if constexpr (std::is_same_v<In, C> && std::is_arithmetic_v<C> && !std::is_same_v<C, bool>) {
    using V = typename cpu::simd::Lanes<C>::V;
    constexpr int64_t N = cpu::simd::Lanes<C>::N;
    const V target = cpu::simd::splat(value);
    for (; i + 4 * N <= m; i += 4 * N) {
      const auto eq = (cpu::simd::load(s + i) == target) | (cpu::simd::load(s + i + N) == target) |
                      (cpu::simd::load(s + i + 2 * N) == target) | (cpu::simd::load(s + i + 3 * N) == target);
      uint64_t words[sizeof eq / 8], any = 0;
      std::memcpy(words, &eq, sizeof eq);
      for (uint64_t w : words) any |= w;
      if (any) break;
    }
  }
  for (;; ++i)
    if (static_cast<C>(s[i]) == value) return i;
}

// The same over a contiguous run, in blocks: each block's extreme (and NaN
// flag) is found with vectorisable lane-wise compares, and only the winning
// block is searched for the first index holding the extreme. Blocks are
// long enough that combining a block's lanes costs little beside its
// compares (at 512 elements argmax of 1e5 floats took 1.6x max's time).
template <bool IsMax, typename In, typename C>
uint32_t arg_reduce_contiguous(const In* s, int64_t len) {
  constexpr int64_t kBlock = 4096;
  C best{};
  int64_t best_block = -1;
  for (int64_t blk = 0; blk < len; blk += kBlock) {
    int64_t m = std::min(kBlock, len - blk);
    const In* p = s + blk;
    C bm;
    bool any_nan = false;
    if constexpr (std::is_same_v<In, C> && !std::is_same_v<C, bool>) {
      std::tie(bm, any_nan) = cpu::simd::extreme<IsMax>(p, m, static_cast<C>(p[0]));
    } else {
      bm = static_cast<C>(p[0]);
      for (int64_t i = 1; i < m; ++i) {
        C v = static_cast<C>(p[i]);
        if (arg_better<IsMax>(v, bm)) bm = v;
        if constexpr (std::is_floating_point_v<C>) any_nan |= v != v;
      }
    }
    if (any_nan) return static_cast<uint32_t>(blk) + arg_reduce_strided<IsMax, In, C>(p, m, 1);
    if (best_block < 0 || arg_better<IsMax>(bm, best)) best = bm, best_block = blk;
  }
  return static_cast<uint32_t>(best_block + first_equal(s + best_block, std::min(kBlock, len - best_block), best));
}

// One long contiguous run split over the threads: each chunk's first extreme
// (or first NaN), combined in chunk order so the first index still wins.
template <bool IsMax, typename In, typename C>
uint32_t arg_reduce_parallel(const In* s, int64_t len) {
  constexpr int64_t kChunks = 16;
  const int64_t chunk = (len + kChunks - 1) / kChunks;
  uint32_t found[kChunks];
  parallel_for(kChunks, static_cast<size_t>(chunk), [&](size_t b, size_t e) {
    for (size_t c = b; c < e; ++c) {
      int64_t lo = static_cast<int64_t>(c) * chunk, n = std::min(chunk, len - lo);
      found[c] = n > 0 ? static_cast<uint32_t>(lo) + arg_reduce_contiguous<IsMax, In, C>(s + lo, n) : 0;
    }
  });
  uint32_t best_i = found[0];
  C best = static_cast<C>(s[best_i]);
  for (int64_t c = 0; c < kChunks && c * chunk < len; ++c) {
    C v = static_cast<C>(s[found[c]]);
    if constexpr (std::is_floating_point_v<C>)
      if (v != v) return found[c];  // earlier chunks held no NaN
    if (arg_better<IsMax>(v, best)) best = v, best_i = found[c];
  }
  return best_i;
}

}  // namespace

void arg_reduce(ArgReduceType type, int axis, const array& in, array& out) {
  cpu::allocate(out);
  dispatch_all(in.dtype(), [&](auto tag) {
    using In = typename decltype(tag)::type;
    using C = acc_t<In>;
    auto run = [&](auto is_max) {
      constexpr bool IsMax = decltype(is_max)::value;
      if constexpr (!is_complex_v<C>) {
        // A single long line (argmax of a whole vector): split it over the threads.
        if (out.size() == 1 && in.flags().row_contiguous && in.size() >= (size_t{1} << 17)) {
          *out.data<uint32_t>() = arg_reduce_parallel<IsMax, In, C>(in.data<In>(), static_cast<int64_t>(in.size()));
          return;
        }
      }
      for_each_line<In, uint32_t>(in, out, axis, 1, [](const In* s, int64_t stride, uint32_t* d, int64_t, int64_t len) {
        if constexpr (is_complex_v<C>) *d = arg_reduce_strided<IsMax, In, C>(s, len, stride);
        else *d = stride == 1 ? arg_reduce_contiguous<IsMax, In, C>(s, len) : arg_reduce_strided<IsMax, In, C>(s, len, stride);
      });
    };
    if (type == ArgReduceType::ArgMax) run(std::true_type{});
    else run(std::false_type{});
  });
}

}  // namespace lmx::cpu::LMX_KERNELS_NS
