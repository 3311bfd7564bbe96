// compile's fused elementwise kernels on the CPU. Two ways to run a chain:
//
// - Generated C++ (fused_kernel.h), compiled at run time by the system's
//   compiler (jit.h): every value goes through the whole chain in
//   registers. By default a chain is compiled in the background the first
//   time it runs over kJitMinElements or more, and runs this way once ready.
// - A tile interpreter, for everything else (small chains, the wait for the
//   compiler, no compiler, LMX_CPU_JIT=0): the output is walked in row-major
//   tiles small enough that every live intermediate stays in cache; each
//   step runs the op's dense span kernel (the one the unfused op uses, SIMD
//   included) over the tile. It needs no compiler and costs nothing on the
//   first call, but each step loads and stores its tile.
//
// Measured on a 2-core AVX-512 VM (benchmarks/compile.py, 1e7 float32): a
// tanh-GELU chain took 16-17 ms uncompiled, 5.7-5.9 ms interpreted (bound
// by the steps' tile traffic) and 3.1-3.2 ms generated. Both ways compute
// what the separate ops compute, bit for bit alike (the same functors and
// SIMD forms, no contraction across steps).
#include <algorithm>
#include <climits>
#include <limits>
#include <stdexcept>
#include <cstring>
#include <vector>

#include "lmx/backend/common/cast.h"
#include "lmx/backend/common/reduce_ops.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/backend/cpu/fused_kernel.h"
#include "lmx/backend/cpu/isa.h"
#include "lmx/backend/cpu/jit.h"
#include "lmx/backend/cpu/simd_ops.h"
#include "lmx/backend/cpu/kernels/kernels.h"
#include "lmx/primitives/compiled.h"
#include "lmx/runtime/thread_pool.h"

namespace lmx {

namespace {

constexpr size_t kTile = 256;  // elements: 2 KiB per slot at most
constexpr size_t kSlotBytes = kTile * 8;

// How the kernel reads one input: straight from its buffer when it is laid
// out row-major like the output, from a tile filled once when it is one
// broadcast value, else gathered tile by tile.
struct InputAccess {
  enum class Mode { dense, scalar, strided } mode;
  const char* base;
  size_t itemsize;
  Shape shape;      // collapsed, for strided inputs
  Strides strides;
};

InputAccess access_of(const array& in, const Shape& out_shape) {
  InputAccess a{InputAccess::Mode::strided, static_cast<const char*>(in.raw_ptr()), in.itemsize(), {}, {}};
  if (in.shape() == out_shape && in.flags().row_contiguous && in.data_size() == in.size()) {
    a.mode = InputAccess::Mode::dense;
  } else if (in.data_size() == 1) {
    a.mode = InputAccess::Mode::scalar;
  } else {
    // The input's strides, aligned right and 0 where it broadcasts.
    a.shape = out_shape;
    Strides st(out_shape.size(), 0);
    int lead = static_cast<int>(out_shape.size()) - in.ndim();
    for (int d = 0; d < in.ndim(); ++d)
      if (in.shape(d) != 1) st[lead + d] = in.strides(d);
    std::vector<Strides> strides = {st};
    collapse_dims(a.shape, strides);
    a.strides = strides[0];
  }
  return a;
}

template <typename T>
void gather_typed(const InputAccess& in, size_t start, size_t len, T* dst) {
  const T* src = reinterpret_cast<const T*>(in.base);
  int nd = static_cast<int>(in.shape.size());
  std::vector<int64_t> idx(nd);
  int64_t off = 0;
  size_t rem = start;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = static_cast<int64_t>(rem % in.shape[d]);
    rem /= in.shape[d];
    off += idx[d] * in.strides[d];
  }
  const int64_t inner = in.shape[nd - 1], step = in.strides[nd - 1];
  size_t done = 0;
  while (done < len) {
    size_t run = std::min<size_t>(len - done, static_cast<size_t>(inner - idx[nd - 1]));
    for (size_t i = 0; i < run; ++i) dst[done + i] = src[off + static_cast<int64_t>(i) * step];
    done += run;
    off += static_cast<int64_t>(run) * step;
    idx[nd - 1] += static_cast<int64_t>(run);
    // Carry into the outer dimensions.
    for (int d = nd - 1; d > 0 && idx[d] == in.shape[d]; --d) {
      off -= idx[d] * in.strides[d];
      idx[d] = 0;
      ++idx[d - 1];
      off += in.strides[d - 1];
    }
  }
}

// Elements [start, start + len) of the input in row-major order, into dst.
void gather(const InputAccess& in, size_t start, size_t len, void* dst) {
  switch (in.itemsize) {
    case 1: gather_typed(in, start, len, static_cast<uint8_t*>(dst)); break;
    case 2: gather_typed(in, start, len, static_cast<uint16_t*>(dst)); break;
    case 4: gather_typed(in, start, len, static_cast<uint32_t*>(dst)); break;
    default: gather_typed(in, start, len, static_cast<uint64_t*>(dst)); break;
  }
}

void fill_repeat(const char* value, size_t itemsize, size_t n, char* dst) {
  for (size_t i = 0; i < n; ++i) std::memcpy(dst + i * itemsize, value, itemsize);
}

// T is an unsigned integer of the value's width: the pick is a mask, with
// no branch (a branch on a random condition, such as relu's backward, cost
// 2.7 ms over 1.6M floats) and vectorises. The condition's byte is compared
// with 0: a bool viewed from other bytes may hold any value.
template <typename T>
void select_typed(const bool* c, const T* x, const T* y, T* out, size_t n) {
  const auto* cb = reinterpret_cast<const uint8_t*>(c);
  for (size_t i = 0; i < n; ++i) {
    const T keep = static_cast<T>(0) - static_cast<T>(cb[i] != 0);  // all ones where true
    out[i] = (x[i] & keep) | (y[i] & static_cast<T>(~keep));
  }
}

void select_span(size_t itemsize, const bool* c, const void* x, const void* y, void* out, size_t n) {
  switch (itemsize) {
    case 1: select_typed(c, static_cast<const uint8_t*>(x), static_cast<const uint8_t*>(y), static_cast<uint8_t*>(out), n); break;
    case 2: select_typed(c, static_cast<const uint16_t*>(x), static_cast<const uint16_t*>(y), static_cast<uint16_t*>(out), n); break;
    case 4: select_typed(c, static_cast<const uint32_t*>(x), static_cast<const uint32_t*>(y), static_cast<uint32_t*>(out), n); break;
    default: select_typed(c, static_cast<const uint64_t*>(x), static_cast<const uint64_t*>(y), static_cast<uint64_t*>(out), n); break;
  }
}

// Scratch tiles for the step results: a step's slot gets a tile that no
// later step still needs, so long programs stay within a few tiles.
struct TilePlan {
  std::vector<int> tile_of;  // per slot: scratch tile index (-1 for inputs)
  int num_tiles = 0;
};

TilePlan plan_tiles(const std::vector<FusedStep>& steps, const std::vector<int>& output_slots, int num_inputs) {
  int slots = num_inputs + static_cast<int>(steps.size());
  std::vector<int> last_use(slots, -1);
  for (size_t i = 0; i < steps.size(); ++i)
    for (int k = 0; k < steps[i].arity(); ++k) last_use[steps[i].args[k]] = static_cast<int>(i);
  for (int s : output_slots) last_use[s] = INT_MAX;
  TilePlan plan;
  plan.tile_of.assign(slots, -1);
  std::vector<int> free_tiles;
  for (size_t i = 0; i < steps.size(); ++i) {
    int slot = num_inputs + static_cast<int>(i);
    if (free_tiles.empty()) {
      plan.tile_of[slot] = plan.num_tiles++;
    } else {
      plan.tile_of[slot] = free_tiles.back();
      free_tiles.pop_back();
    }
    for (int k = 0; k < steps[i].arity(); ++k) {
      int a = steps[i].args[k];
      bool repeated = false;
      for (int j = 0; j < k; ++j) repeated |= steps[i].args[j] == a;
      if (a >= num_inputs && last_use[a] == static_cast<int>(i) && !repeated) free_tiles.push_back(plan.tile_of[a]);
    }
  }
  return plan;
}

// Gives each output a buffer: an input's buffer when it may be donated (the
// tile of an input is read before the tile of an output is written), else a
// new row-major one. Returns which outputs got a new buffer.
std::vector<bool> allocate_outputs(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<bool> donated(inputs.size(), false), fresh;
  for (auto& out : outputs) {
    bool done = false;
    for (size_t i = 0; i < inputs.size() && !done; ++i) {
      const array& in = inputs[i];
      if (!donated[i] && in.dtype() == out.dtype() && in.shape() == out.shape() && in.flags().row_contiguous &&
          in.data_size() == in.size() && in.is_donatable()) {
        out.copy_shared_buffer(in);
        donated[i] = done = true;
      }
    }
    if (!done) cpu::allocate(out);
    fresh.push_back(!done);
  }
  return fresh;
}

}  // namespace

// One step, resolved for this evaluation: its span kernel and, for binary
// steps, whether an operand is a broadcast value read in place.
struct StepExec {
  FusedStep::Kind kind;
  cpu::UnarySpanFn unary = nullptr;
  cpu::BinarySpanFn binary = nullptr;
  Dtype in_type, out_type;
  size_t itemsize = 0;
};

namespace {

// A program resolved for one evaluation over `shape`: how each input is
// read, each step's kernel, and the scratch tiles.
struct ChainExec {
  int num_inputs = 0;
  std::vector<Dtype> slot_type;
  std::vector<InputAccess> access;
  std::vector<StepExec> exec;
  std::vector<bool> needs_fill;  // broadcast values that need a repeated tile
  TilePlan plan;
};

ChainExec prepare(const std::vector<FusedStep>& steps, const std::vector<int>& output_slots,
                  const std::vector<array>& inputs, const Shape& shape) {
  ChainExec c;
  c.num_inputs = static_cast<int>(inputs.size());
  for (auto& in : inputs) c.slot_type.push_back(in.dtype());
  for (auto& s : steps) c.slot_type.push_back(s.dtype);
  for (auto& in : inputs) c.access.push_back(access_of(in, shape));
  auto is_scalar = [&](int slot) { return slot < c.num_inputs && c.access[slot].mode == InputAccess::Mode::scalar; };
  // Resolve each step's kernel once. A binary step reads one broadcast value
  // in place; any other use of a broadcast value needs it repeated in a tile.
  c.needs_fill.assign(c.num_inputs, false);
  for (const FusedStep& s : steps) {
    StepExec e{s.kind, nullptr, nullptr, c.slot_type[s.args[0]], s.dtype, static_cast<size_t>(s.dtype.size())};
    switch (s.kind) {
      case FusedStep::Kind::unary: e.unary = LMX_CPU_KERNEL(unary_span_fn, static_cast<UnaryOp>(s.op), e.in_type); break;
      case FusedStep::Kind::binary: {
        bool a = is_scalar(s.args[0]), b = is_scalar(s.args[1]);
        int mode = a && !b ? 1 : b && !a ? 2 : 0;
        if (a && b) c.needs_fill[s.args[0]] = c.needs_fill[s.args[1]] = true;
        e.binary = LMX_CPU_KERNEL(binary_span_fn, static_cast<BinaryOp>(s.op), e.in_type, mode);
        break;
      }
      default:
        for (int k = 0; k < s.arity(); ++k)
          if (is_scalar(s.args[k])) c.needs_fill[s.args[k]] = true;
        break;
    }
    c.exec.push_back(e);
  }
  c.plan = plan_tiles(steps, output_slots, c.num_inputs);
  return c;
}

// p rounded up to 64 bytes, so that no vector load of a scratch buffer
// straddles two cache lines.
char* align64(void* p) { return reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63}); }

// One worker's scratch tiles (one per plan tile, then one per input that
// needs its own) and where each slot's values of the current tile are.
struct ChainState {
  std::vector<double> scratch;
  std::vector<const char*> ptr;
  std::vector<void*> outs;  // a generated kernel's output pointers (kept: a tile's call allocates nothing)

  explicit ChainState(const ChainExec& c)
      : scratch(((c.plan.num_tiles + c.num_inputs) * kSlotBytes + 64) / sizeof(double)), ptr(c.slot_type.size()) {
    for (int i = 0; i < c.num_inputs; ++i) {
      const InputAccess& a = c.access[i];
      if (a.mode != InputAccess::Mode::scalar) continue;
      if (c.needs_fill[i]) {
        fill_repeat(a.base, a.itemsize, kTile, tile(c.plan.num_tiles + i));
        ptr[i] = tile(c.plan.num_tiles + i);
      } else {
        ptr[i] = a.base;  // read in place by binary steps
      }
    }
  }
  char* tile(int t) { return align64(scratch.data()) + static_cast<size_t>(t) * kSlotBytes; }
};

// Points st.ptr at each input's values for elements [start, start + len)
// (len <= kTile for strided inputs): dense ones in place, strided ones
// gathered into their tile; single values stay where ChainState put them.
// next_len > 0 asks for the next tile of each dense input in advance: the
// hardware prefetcher alone falls behind when reads come in tile-sized bursts.
void place_inputs(const ChainExec& c, ChainState& st, size_t start, size_t len, size_t next_len) {
  for (int i = 0; i < c.num_inputs; ++i) {
    const InputAccess& a = c.access[i];
    if (a.mode == InputAccess::Mode::dense) {
      st.ptr[i] = a.base + start * a.itemsize;
      const char* next = st.ptr[i] + len * a.itemsize;
      for (size_t b = 0; b < next_len * a.itemsize; b += 64) __builtin_prefetch(next + b);
    } else if (a.mode == InputAccess::Mode::strided) {
      char* own = st.tile(c.plan.num_tiles + i);
      gather(a, start, len, own);
      st.ptr[i] = own;
    }
  }
}

// Runs a generated kernel over elements [start, start + len): output o goes
// to st.outs[o] (set by the caller), at which st.ptr then points.
void call_kernel(const ChainExec& c, ChainState& st, const std::vector<int>& output_slots, cpu::FusedKernelFn kernel,
                 size_t start, size_t len, size_t next_len) {
  place_inputs(c, st, start, len, next_len);
  for (size_t o = 0; o < output_slots.size(); ++o) st.ptr[output_slots[o]] = static_cast<const char*>(st.outs[o]);
  kernel(reinterpret_cast<const void* const*>(st.ptr.data()), st.outs.data(), len);
}

// Computes elements [start, start + len) of the chain, and points st.ptr at
// its slots' values. With a generated kernel the chain runs in one call
// that writes output o at out_ptr[o] + start (or, without out_ptr, scratch
// tile o). Else the steps run one by one over the tile, each writing its
// slot's tile or, for a slot direct_output maps to an output, that output.
void run_tile(const ChainExec& c, ChainState& st, const std::vector<FusedStep>& steps,
              const std::vector<int>& output_slots, cpu::FusedKernelFn kernel, size_t start, size_t len,
              size_t next_len, const std::vector<int>& direct_output, const std::vector<char*>& out_ptr) {
  if (kernel) {
    st.outs.resize(output_slots.size());
    for (size_t o = 0; o < output_slots.size(); ++o)
      st.outs[o] = out_ptr.empty() ? st.tile(static_cast<int>(o))
                                   : out_ptr[o] + start * c.slot_type[output_slots[o]].size();
    call_kernel(c, st, output_slots, kernel, start, len, next_len);
    return;
  }
  place_inputs(c, st, start, len, next_len);
  auto direct = [&](int slot) { return direct_output.empty() ? -1 : direct_output[slot]; };
  for (size_t k = 0; k < steps.size(); ++k) {
    const FusedStep& s = steps[k];
    const StepExec& e = c.exec[k];
    const int slot = c.num_inputs + static_cast<int>(k);
    const int d = direct(slot);
    char* dst = d >= 0 ? out_ptr[d] + start * e.itemsize : st.tile(c.plan.tile_of[slot]);
    switch (e.kind) {
      case FusedStep::Kind::unary: e.unary(st.ptr[s.args[0]], dst, len); break;
      case FusedStep::Kind::binary: e.binary(st.ptr[s.args[0]], st.ptr[s.args[1]], dst, len); break;
      case FusedStep::Kind::select:
        select_span(e.itemsize, reinterpret_cast<const bool*>(st.ptr[s.args[0]]), st.ptr[s.args[1]],
                    st.ptr[s.args[2]], dst, len);
        break;
      case FusedStep::Kind::cast: cpu::convert_contiguous(st.ptr[s.args[0]], e.in_type, dst, e.out_type, len); break;
    }
    st.ptr[slot] = dst;
  }
}

// A value of a single-value input as its own type (float32 or float64).
double single_value_of(const InputAccess& a, Dtype t) {
  if (t == float32) {
    float v;
    std::memcpy(&v, a.base, sizeof v);
    return v;
  }
  double v;
  std::memcpy(&v, a.base, sizeof v);
  return v;
}

// The generated kernel for this evaluation of c over n elements, or null
// when the interpreter runs it (see jit.h for when).
cpu::FusedKernelFn generated_kernel(const Compiled& c, const ChainExec& chain, const std::vector<array>& inputs,
                                    size_t n) {
  const cpu::JitMode mode = cpu::jit_mode();
  if (mode == cpu::JitMode::off || (mode == cpu::JitMode::background && n < cpu::kJitMinElements) ||
      c.steps().empty())
    return nullptr;
  std::vector<Dtype> types;
  std::vector<bool> single;
  for (int i = 0; i < chain.num_inputs; ++i) {
    types.push_back(inputs[i].dtype());
    single.push_back(chain.access[i].mode == InputAccess::Mode::scalar);
  }
  if (!cpu::fused_kernel_supported(c, types)) return nullptr;
  // A power whose exponent is a single value is computed as its span kernel
  // computes it (binary_span in elementwise.h): by multiplication for
  // small_power's exponents, when the base is not a single value too.
  std::vector<int> power(c.steps().size(), cpu::kNoSmallPower);
  for (size_t t = 0; t < c.steps().size(); ++t) {
    const FusedStep& s = c.steps()[t];
    const bool is_float = s.dtype == float32 || s.dtype == float64;
    if (s.kind != FusedStep::Kind::binary || static_cast<BinaryOp>(s.op) != BinaryOp::Power || !is_float) continue;
    const int base = s.args[0], e = s.args[1];
    const bool single_base = base < chain.num_inputs && single[base];
    if (e < chain.num_inputs && single[e] && !single_base)
      power[t] = cpu::small_power(single_value_of(chain.access[e], s.dtype));
  }
  return reinterpret_cast<cpu::FusedKernelFn>(
      cpu::jit_function(cpu::fused_kernel_key(c, types, single, power),
                        [&] { return cpu::fused_kernel_source(c, types, single, power); }, cpu::kFusedKernelName,
                        mode == cpu::JitMode::always));
}

// A reduction's fold of n contiguous values into its float accumulator.
template <typename T, typename Op>
float fold_span(const void* data, size_t n, float acc) {
  const T* x = static_cast<const T*>(data);
  return fold_in_lanes<16>(Op{}, static_cast<int64_t>(n), acc, [x](int64_t i) { return cast_value<float>(x[i]); });
}

using FoldFn = float (*)(const void*, size_t, float);

template <typename T>
FoldFn fold_for(ReduceType type) {
  switch (type) {
    case ReduceType::Sum: return fold_span<T, SumOp<float>>;
    case ReduceType::Max: return fold_span<T, MaxOp<float>>;
    case ReduceType::Min: return fold_span<T, MinOp<float>>;
    default: throw std::logic_error("[compile] a fused reduction is a sum, max or min");
  }
}

template <typename T>
void store_float(void* out, size_t i, float v) {
  static_cast<T*>(out)[i] = cast_value<T>(v);
}

// A thread's buffer of `bytes`, 64-byte aligned as the scratch tiles.
struct KernelBuffer {
  std::vector<double> storage;
  explicit KernelBuffer(size_t bytes) : storage(bytes ? bytes / sizeof(double) + 9 : 0) {}
  char* data() { return align64(storage.data()); }
};

// Tiles a generated kernel computes in one call before the reduction folds
// them: per-call costs (placing inputs, the kernel's entry and its partial
// last block) spread over 16 tiles instead of one. GELU + row sum over 1e7
// float32 in rows of 1000 took 4.4-4.9 ms one tile a call, against 3.2 for
// the chain alone.
constexpr size_t kTilesPerCall = 16;

// A chain ending in a reduction over its trailing axes: rows of `row_len`
// values, each reduced as its tiles are computed. Rows shorter than a tile
// go several to a tile; longer ones are cut into tiles whose partial results
// are combined in order afterwards, so the result does not depend on how the
// work was split between threads, nor on whether a generated kernel (which
// computes up to kTilesPerCall tiles a call) or the interpreter ran it.
void eval_reduction(const Compiled& c, const std::vector<array>& inputs, array& out) {
  const FusedReduction& red = *c.reduction();
  const auto& steps = c.steps();
  const Shape shape = c.chain_shape(inputs, {out});
  const ChainExec chain = prepare(steps, c.output_slots(), inputs, shape);
  const cpu::FusedKernelFn kernel = generated_kernel(c, chain, inputs, static_cast<size_t>(shape_size(shape)));
  const Dtype t = out.dtype();
  FoldFn fold = t == float32 ? fold_for<float>(red.type) : t == float16 ? fold_for<float16_t>(red.type)
                                                                       : fold_for<bfloat16_t>(red.type);
  auto store = t == float32 ? store_float<float> : t == float16 ? store_float<float16_t> : store_float<bfloat16_t>;
  const float init = red.type == ReduceType::Sum ? 0.0f
                     : red.type == ReduceType::Max ? -std::numeric_limits<float>::infinity()
                                                   : std::numeric_limits<float>::infinity();
  cpu::allocate(out);
  void* dst = out.raw_ptr();
  const size_t rows = out.size();
  size_t row_len = 1;
  for (int a : red.axes) row_len *= static_cast<size_t>(shape[a]);
  const int root = c.output_slots()[0];
  const std::vector<int> no_direct;
  const std::vector<char*> no_out;
  if (row_len == 0 || rows == 0) {
    for (size_t r = 0; r < rows; ++r) store(dst, r, init);
    return;
  }
  // Generated kernels over dense inputs take several tiles a call, into a
  // buffer of the thread's own; strided inputs are gathered a tile at a time.
  const bool batched = kernel && std::none_of(chain.access.begin(), chain.access.end(), [](const InputAccess& a) {
                         return a.mode == InputAccess::Mode::strided;
                       });
  const size_t per_call = batched ? kTilesPerCall : 1;
  if (row_len <= kTile) {
    const size_t rows_per_tile = kTile / row_len, num_tiles = (rows + rows_per_tile - 1) / rows_per_tile;
    const size_t calls = (num_tiles + per_call - 1) / per_call;
    parallel_for(calls, per_call * kTile * steps.size(), [&](size_t cb, size_t ce) {
      ChainState st(chain);
      KernelBuffer buffer(batched ? per_call * kTile * t.size() : 0);
      for (size_t call = cb; call < ce; ++call) {
        const size_t r0 = call * per_call * rows_per_tile, r1 = std::min(rows, r0 + per_call * rows_per_tile);
        const char* values;
        if (batched) {
          st.outs.assign(1, buffer.data());
          call_kernel(chain, st, c.output_slots(), kernel, r0 * row_len, (r1 - r0) * row_len, 0);
          values = buffer.data();
        } else {
          run_tile(chain, st, steps, c.output_slots(), kernel, r0 * row_len, (r1 - r0) * row_len, 0, no_direct,
                   no_out);
          values = st.ptr[root];
        }
        for (size_t r = r0; r < r1; ++r) store(dst, r, fold(values + (r - r0) * row_len * t.size(), row_len, init));
      }
    });
    return;
  }
  const size_t tiles_per_row = (row_len + kTile - 1) / kTile, calls_per_row = (tiles_per_row + per_call - 1) / per_call;
  std::vector<float> partial(rows * tiles_per_row);
  parallel_for(rows * calls_per_row, per_call * kTile * steps.size(), [&](size_t cb, size_t ce) {
    ChainState st(chain);
    KernelBuffer buffer(batched ? per_call * kTile * t.size() : 0);
    for (size_t call = cb; call < ce; ++call) {
      const size_t r = call / calls_per_row, first = (call % calls_per_row) * per_call;
      const size_t last = std::min(tiles_per_row, first + per_call);
      const size_t off = first * kTile, len = std::min(last * kTile, row_len) - off;
      const char* values;
      if (batched) {
        st.outs.assign(1, buffer.data());
        call_kernel(chain, st, c.output_slots(), kernel, r * row_len + off, len, 0);
        values = buffer.data();
      } else {
        run_tile(chain, st, steps, c.output_slots(), kernel, r * row_len + off, len, 0, no_direct, no_out);
        values = st.ptr[root];
      }
      // Each tile's partial result, as if the tiles had been computed one by one.
      for (size_t tile = first; tile < last; ++tile) {
        const size_t at = (tile - first) * kTile;
        partial[r * tiles_per_row + tile] = fold(values + at * t.size(), std::min(kTile, len - at), init);
      }
    }
  });
  // Each row's partial results fold in order, like the values they came from.
  const FoldFn fold_partials = fold_for<float>(red.type);
  for (size_t r = 0; r < rows; ++r) store(dst, r, fold_partials(&partial[r * tiles_per_row], tiles_per_row, init));
}

}  // namespace

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (reduction_) {
    eval_reduction(*this, inputs, outputs[0]);
    return;
  }
  const ChainExec chain = prepare(steps_, output_slots_, inputs, outputs[0].shape());
  const size_t n = outputs[0].size();
  const cpu::FusedKernelFn kernel = generated_kernel(*this, chain, inputs, n);
  const std::vector<bool> fresh = allocate_outputs(inputs, outputs);
  std::vector<char*> out_ptr;
  for (auto& o : outputs) out_ptr.push_back(static_cast<char*>(o.raw_ptr()));
  // An interpreted step whose result is an output with a buffer of its own
  // writes there directly; a donated buffer is still being read, so its
  // output goes through a tile and is copied once the tile's steps are
  // done. (A generated kernel writes every output directly: it reads each
  // element's inputs before writing its outputs.)
  std::vector<int> direct_output(chain.slot_type.size(), -1);
  for (size_t o = 0; o < outputs.size(); ++o)
    if (fresh[o] && direct_output[output_slots_[o]] < 0) direct_output[output_slots_[o]] = static_cast<int>(o);

  const size_t num_tiles = (n + kTile - 1) / kTile;
  // A generated kernel over dense inputs takes a thread's whole range in one call.
  const bool whole_ranges = kernel && std::none_of(chain.access.begin(), chain.access.end(), [](const InputAccess& a) {
                              return a.mode == InputAccess::Mode::strided;
                            });
  parallel_for(num_tiles, kTile * steps_.size(), [&](size_t tb, size_t te) {
    ChainState st(chain);
    if (whole_ranges) {
      const size_t start = tb * kTile;
      run_tile(chain, st, steps_, output_slots_, kernel, start, std::min(n, te * kTile) - start, 0, direct_output,
               out_ptr);
      return;
    }
    for (size_t t = tb; t < te; ++t) {
      const size_t start = t * kTile, len = std::min(kTile, n - start);
      const size_t next_len = t + 1 < te ? std::min(kTile, n - start - len) : 0;
      run_tile(chain, st, steps_, output_slots_, kernel, start, len, next_len, direct_output, out_ptr);
      for (size_t o = 0; o < output_slots_.size(); ++o) {
        size_t itemsize = chain.slot_type[output_slots_[o]].size();
        char* dst = out_ptr[o] + start * itemsize;
        if (st.ptr[output_slots_[o]] != dst) std::memcpy(dst, st.ptr[output_slots_[o]], len * itemsize);
      }
    }
  });
}

}  // namespace lmx
