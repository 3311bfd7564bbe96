// compile's fused elementwise chains on the GPU: a kernel generated for each
// program (its steps, dtypes and how each input is read), compiled once with
// NVRTC (backend/cuda/jit.h) and reused for every shape. Each thread computes
// its elements through the whole chain in registers: only the inputs are read
// and only the outputs written. A chain ending in its reduction reduces the
// values as it computes them (lmx_fused_reduce), so they are never stored.
// Programs the generator does not cover (complex numbers) run as their
// separate kernels.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "lmx/backend/common/kernel_source.h"
#include "lmx/backend/common/strided.h"
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/fused_source.h"
#include "lmx/backend/cuda/jit.h"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/primitives/compiled.h"
#include "lmx/transforms/eval.h"

namespace lmx {

namespace {

// The element type's name in kernel source, or null where the generator has
// no kernel for it (float64 is CPU-only; complex64 keeps the separate kernels).
const char* type_name(Dtype t) { return t == float64 || t == complex64 ? nullptr : element_type_name(t); }

using Access = cu::FusedAccess;

// Generated kernels are launched dependent (cu::launch_dependent): each
// begins as device_util.cuh's pdl_begin does.
constexpr const char* kPdlBegin =
    "#if __CUDA_ARCH__ >= 900\n"
    "  asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");\n"
    "  asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");\n"
    "#endif\n";

// Elements per thread: eight independent loads in flight per thread reached
// 93% of the copy bandwidth on an H200 for a float32 chain (four: 88%).
constexpr int kPerThread = 8;

struct Plan {
  std::vector<Access> access;
  Shape shape;                   // collapsed, for strided inputs
  std::vector<Strides> strides;  // per strided input, over `shape`
};

Plan plan_inputs(const std::vector<array>& inputs, const Shape& out_shape) {
  Plan p;
  std::vector<Strides> sets = {row_major_strides(out_shape)};
  for (auto& in : inputs) {
    if (in.shape() == out_shape && in.flags().row_contiguous && in.data_size() == in.size()) {
      p.access.push_back(Access::dense);
    } else if (in.data_size() == 1) {
      p.access.push_back(Access::scalar);
    } else {
      p.access.push_back(Access::strided);
      Strides st(out_shape.size(), 0);
      int lead = static_cast<int>(out_shape.size()) - in.ndim();
      for (int d = 0; d < in.ndim(); ++d)
        if (in.shape(d) != 1) st[lead + d] = in.strides(d);
      sets.push_back(std::move(st));
    }
  }
  if (sets.size() > 1) {
    p.shape = out_shape;
    collapse_dims(p.shape, sets);
    p.strides.assign(sets.begin() + 1, sets.end());
  }
  return p;
}

// Elements per thread of the vectorised kernel (16 bytes of the widest
// input or output), or 1 for the element-wise one: vectors need every input
// dense or one value, an element count they divide, and every buffer
// aligned to its vector. Two-byte elements read one at a time left a SwiGLU
// of prefill size at ~40% of the copy bandwidth.
int vector_width(const std::vector<array>& inputs, const Plan& plan, const std::vector<const void*>& in_ptr,
                 const std::vector<array>& outputs, const std::vector<void*>& out_ptr) {
  size_t widest = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (plan.access[i] == Access::strided) return 1;
    if (plan.access[i] == Access::dense) widest = std::max(widest, inputs[i].itemsize());
  }
  for (auto& o : outputs) widest = std::max(widest, o.itemsize());
  const int vec = widest ? static_cast<int>(16 / widest) : 1;
  if (vec < 2 || outputs[0].size() % vec != 0) return 1;
  auto aligned = [&](const void* p, size_t itemsize) { return reinterpret_cast<uintptr_t>(p) % (itemsize * vec) == 0; };
  for (size_t i = 0; i < inputs.size(); ++i)
    if (plan.access[i] == Access::dense && !aligned(in_ptr[i], inputs[i].itemsize())) return 1;
  for (size_t o = 0; o < outputs.size(); ++o)
    if (!aligned(out_ptr[o], outputs[o].itemsize())) return 1;
  return vec;
}

}  // namespace

namespace cu {

bool fused_types_supported(const Compiled& c, const std::vector<Dtype>& input_types) {
  return chain_types_named(c, input_types, type_name);
}

namespace {

// The statements computing every step of c for one element whose inputs are
// the values s0..s{nin-1}, in the order its span kernels compute them
// (backend/cpu/elementwise.h).
void write_chain(std::ostringstream& k, const Compiled& c, int nin, const std::vector<std::string>& slot_type) {
  for (size_t t = 0; t < c.steps().size(); ++t) {
    const FusedStep& s = c.steps()[t];
    const int slot = nin + static_cast<int>(t);
    const std::string& out = slot_type[slot];
    std::string a = "s";  // (not "s" + to_string: GCC 12 warns of a memcpy overlap there, wrongly)
    a += std::to_string(s.args[0]);
    const std::string& in = slot_type[s.args[0]];
    k << "    const " << out << " s" << slot << " = ";
    switch (s.kind) {
      case FusedStep::Kind::unary:
        k << "cast_value<" << out << ">(scalar::" << functor_name(static_cast<UnaryOp>(s.op)) << "{}(static_cast<compute_t<" << in << ">>("
          << a << ")));\n";
        break;
      case FusedStep::Kind::binary:
        k << "cast_value<" << out << ">(scalar::" << functor_name(static_cast<BinaryOp>(s.op)) << "{}(static_cast<compute_t<" << in
          << ">>(" << a << "), static_cast<compute_t<" << in << ">>(s" << s.args[1] << ")));\n";
        break;
      case FusedStep::Kind::select: k << a << " ? s" << s.args[1] << " : s" << s.args[2] << ";\n"; break;
      case FusedStep::Kind::cast: k << "cast_value<" << out << ">(" << a << ");\n"; break;
    }
  }
}

// What both kernel forms start with: the element types of the slots, the
// headers, the strided inputs' geometry and the kernel's first parameters.
struct KernelText {
  std::ostringstream k;
  std::vector<std::string> slot_type;
  int nin = 0, ns = 0;  // inputs, strided inputs
};

void begin_kernel(KernelText& t, const Compiled& c, const std::vector<Dtype>& input_types,
                  const std::vector<FusedAccess>& access, int nd, const char* name, const char* params,
                  const std::string& preamble = "") {
  t.nin = static_cast<int>(input_types.size());
  for (auto a : access) t.ns += a == FusedAccess::strided;
  for (auto ty : input_types) t.slot_type.push_back(type_name(ty));
  for (auto& s : c.steps()) t.slot_type.push_back(type_name(s.dtype));
  t.k << "#include \"lmx/backend/common/elementwise_ops.h\"\n#include \"lmx/backend/common/reduce_ops.h\"\n"
      << "using namespace lmx;\n";
  if (t.ns)
    t.k << "struct Geometry { long long shape[" << nd << "]; long long strides[" << t.ns << "][" << nd << "]; };\n";
  t.k << preamble << "extern \"C\" __global__ void " << name << "(" << params;
  if (t.ns) t.k << ", Geometry g";
  for (int i = 0; i < t.nin; ++i) t.k << ", const " << t.slot_type[i] << "* __restrict__ in" << i;
}

// Loads element `i` (an index over the chain's shape) of every input read
// per element into a<input>[u].
void write_loads(KernelText& t, const std::vector<FusedAccess>& access, int nd) {
  auto& k = t.k;
  if (t.ns) {
    k << "    long long rest = i";
    for (int j = 0; j < t.ns; ++j) k << ", o" << j << " = 0";
    k << ";\n    for (int d = " << nd - 1 << "; d >= 0; --d) {\n"
      << "      const long long x = rest % g.shape[d];\n      rest /= g.shape[d];\n";
    for (int j = 0; j < t.ns; ++j) k << "      o" << j << " += x * g.strides[" << j << "][d];\n";
    k << "    }\n";
  }
  for (int i = 0, j = 0; i < t.nin; ++i) {
    if (access[i] == FusedAccess::dense) k << "    a" << i << "[u] = in" << i << "[i];\n";
    if (access[i] == FusedAccess::strided) k << "    a" << i << "[u] = in" << i << "[o" << j++ << "];\n";
  }
}

// Declarations: one value per input read once, an array of `per_thread`
// loaded values per input read per element.
void declare_inputs(KernelText& t, const std::vector<FusedAccess>& access, int per_thread) {
  for (int i = 0; i < t.nin; ++i) {
    if (access[i] == FusedAccess::scalar)
      t.k << "  const " << t.slot_type[i] << " s" << i << " = in" << i << "[0];\n";
    else
      t.k << "  " << t.slot_type[i] << " a" << i << "[" << per_thread << "];\n";
  }
}

void name_loaded_inputs(KernelText& t, const std::vector<FusedAccess>& access) {
  for (int i = 0; i < t.nin; ++i)
    if (access[i] != FusedAccess::scalar) t.k << "    const " << t.slot_type[i] << " s" << i << " = a" << i << "[u];\n";
}

}  // namespace

std::string fused_kernel_source(const Compiled& c, const std::vector<Dtype>& input_types,
                                const std::vector<FusedAccess>& access, int nd, int vec) {
  KernelText t;
  std::string pack;
  if (vec > 1)
    pack = "template <typename T> struct alignas(sizeof(T) * " + std::to_string(vec) + ") Pack { T e[" +
           std::to_string(vec) + "]; };\n";
  begin_kernel(t, c, input_types, access, nd, "lmx_fused", "long long n", pack);
  if (vec > 1 && t.ns) throw std::invalid_argument("[compile] vector loads need dense inputs");
  auto& k = t.k;
  const auto& slot_type = t.slot_type;
  const int nin = t.nin;
  for (size_t o = 0; o < c.output_slots().size(); ++o)
    k << ", " << slot_type[c.output_slots()[o]] << "* __restrict__ out" << o;
  k << ") {\n" << kPdlBegin;
  if (vec > 1) {
    // Each thread: `vec` consecutive elements, one aligned load per input
    // and one store per output (n is a multiple of vec).
    for (int i = 0; i < nin; ++i)
      if (access[i] == FusedAccess::scalar) k << "  const " << slot_type[i] << " s" << i << " = in" << i << "[0];\n";
    k << "  const long long v = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
      << "  if (v * " << vec << " >= n) return;\n";
    for (int i = 0; i < nin; ++i)
      if (access[i] == FusedAccess::dense)
        k << "  const Pack<" << slot_type[i] << "> a" << i << " = reinterpret_cast<const Pack<" << slot_type[i]
          << ">*>(in" << i << ")[v];\n";
    for (size_t o = 0; o < c.output_slots().size(); ++o)
      k << "  Pack<" << slot_type[c.output_slots()[o]] << "> r" << o << ";\n";
    k << "#pragma unroll\n  for (int u = 0; u < " << vec << "; ++u) {\n";
    for (int i = 0; i < nin; ++i)
      if (access[i] == FusedAccess::dense) k << "    const " << slot_type[i] << " s" << i << " = a" << i << ".e[u];\n";
    write_chain(k, c, nin, slot_type);
    for (size_t o = 0; o < c.output_slots().size(); ++o) k << "    r" << o << ".e[u] = s" << c.output_slots()[o] << ";\n";
    k << "  }\n";
    for (size_t o = 0; o < c.output_slots().size(); ++o)
      k << "  reinterpret_cast<Pack<" << slot_type[c.output_slots()[o]] << ">*>(out" << o << ")[v] = r" << o << ";\n";
    k << "}\n";
    return k.str();
  }
  declare_inputs(t, access, kPerThread);
  k << "  const long long base = (long long)blockIdx.x * blockDim.x * " << kPerThread << " + threadIdx.x;\n";
  // All loads first, so each thread has kPerThread independent reads in
  // flight (the loads of one element cannot be hoisted past the previous
  // element's bounds check), then the chain and the stores.
  k << "#pragma unroll\n  for (int u = 0; u < " << kPerThread << "; ++u) {\n"
    << "    const long long i = base + (long long)u * blockDim.x;\n    if (i >= n) break;\n";
  write_loads(t, access, nd);
  k << "  }\n#pragma unroll\n  for (int u = 0; u < " << kPerThread << "; ++u) {\n"
    << "    const long long i = base + (long long)u * blockDim.x;\n    if (i >= n) break;\n";
  name_loaded_inputs(t, access);
  write_chain(k, c, nin, slot_type);
  for (size_t o = 0; o < c.output_slots().size(); ++o) k << "    out" << o << "[i] = s" << c.output_slots()[o] << ";\n";
  k << "  }\n}\n";
  return k.str();
}

std::string fused_reduce_source(const Compiled& c, const std::vector<Dtype>& input_types,
                                const std::vector<FusedAccess>& access, int nd, int group) {
  const FusedReduction& red = *c.reduction();
  if (group != 1 && group != 32 && group != kThreads)
    throw std::invalid_argument("[compile] a fused reduction's group is 1, 32 or a block");
  KernelText t;
  begin_kernel(t, c, input_types, access, nd, "lmx_fused_reduce",
               "long long rows, long long row_len, long long chunks, long long chunk_len");
  auto& k = t.k;
  const int root = c.output_slots()[0];
  const std::string out_type = t.slot_type[root];
  const char* op = red.type == ReduceType::Sum ? "SumOp" : red.type == ReduceType::Max ? "MaxOp" : "MinOp";
  k << ", " << out_type << "* __restrict__ out, float* __restrict__ partial) {\n"
    << kPdlBegin
    << "  const " << op << "<float> op;\n";
  declare_inputs(t, access, kPerThread);
  // Group b of `group` threads takes piece (b % chunks) of row (b / chunks);
  // its lanes stride through the piece kPerThread elements at a time, with
  // as many independent accumulators, loads first as in lmx_fused.
  k << "  constexpr int G = " << group << ";\n"
    << "  const long long lane = threadIdx.x % G;\n"
    << "  const long long num_groups = (long long)gridDim.x * (blockDim.x / G);\n"
    << "  for (long long b = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / G; b < rows * chunks;"
       " b += num_groups) {\n"
    << "    const long long row = b / chunks, lo = (b % chunks) * chunk_len;\n"
    << "    const long long hi = lo + chunk_len < row_len ? lo + chunk_len : row_len;\n"
    << "    float acc[" << kPerThread << "];\n"
    << "#pragma unroll\n    for (int u = 0; u < " << kPerThread << "; ++u) acc[u] = op.init();\n"
    << "    for (long long j = lo + lane; j < hi; j += " << kPerThread << " * G) {\n"
    << "#pragma unroll\n  for (int u = 0; u < " << kPerThread << "; ++u) {\n"
    << "    if (j + u * G >= hi) break;\n    const long long i = row * row_len + j + u * G;\n";
  write_loads(t, access, nd);
  k << "  }\n#pragma unroll\n  for (int u = 0; u < " << kPerThread << "; ++u) {\n"
    << "    if (j + u * G >= hi) break;\n";
  name_loaded_inputs(t, access);
  write_chain(k, c, t.nin, t.slot_type);
  k << "    acc[u] = op(acc[u], cast_value<float>(s" << root << "));\n  }\n    }\n"
    << "    float v = acc[0];\n#pragma unroll\n    for (int u = 1; u < " << kPerThread << "; ++u) v = op(v, acc[u]);\n";
  if (group >= 32)
    k << "    for (int d = 16; d > 0; d /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, d));\n";
  if (group > 32)
    k << "    __shared__ float warp_v[G / 32];\n"
      << "    if (lane % 32 == 0) warp_v[lane / 32] = v;\n    __syncthreads();\n"
      << "    if (lane < 32) {\n      v = lane < G / 32 ? warp_v[lane] : op.init();\n"
      << "      for (int d = 16; d > 0; d /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, d));\n    }\n"
      << "    __syncthreads();  // warp_v is reused by the next piece\n";
  k << "    if (lane == 0) {\n      if (chunks == 1) out[row] = cast_value<" << out_type << ">(v);\n"
    << "      else partial[b] = v;\n    }\n  }\n}\n";
  return k.str();
}

}  // namespace cu

namespace {

std::vector<Dtype> types_of(const std::vector<array>& inputs) {
  std::vector<Dtype> t;
  for (auto& in : inputs) t.push_back(in.dtype());
  return t;
}

bool generator_covers(const Compiled& c, const std::vector<array>& inputs, const Plan& plan) {
  return cu::jit_available() && plan.shape.size() <= static_cast<size_t>(cu::kMaxDims) &&
         cu::fused_types_supported(c, types_of(inputs));
}

// The program's kernel, found without writing its source again: the source
// is a function of the steps, the outputs, the reduction, the input types,
// how each input is read, the collapsed rank and the kernel's form (vector
// width, or threads per reduced piece), so those (as integers) are the key.
// Generating the source took most of a fused node's ~15 us of host time in
// a decode step (against ~6 us for a precompiled kernel's node).
cudaKernel_t fused_kernel(const Compiled& c, const std::vector<array>& inputs, const Plan& plan, int form) {
  const int32_t reduced = c.reduction() ? 1 + static_cast<int32_t>(c.reduction()->type) : 0;
  std::vector<int32_t> key = {static_cast<int32_t>(plan.shape.size()), static_cast<int32_t>(inputs.size()), form,
                              reduced};
  for (size_t i = 0; i < inputs.size(); ++i)
    key.push_back(static_cast<int32_t>(inputs[i].dtype().val()) * 4 + static_cast<int32_t>(plan.access[i]));
  for (const FusedStep& s : c.steps())
    key.insert(key.end(), {static_cast<int32_t>(s.kind), s.op, s.args[0], s.args[1], s.args[2],
                           static_cast<int32_t>(s.dtype.val())});
  key.push_back(-1);  // the steps end here
  key.insert(key.end(), c.output_slots().begin(), c.output_slots().end());
  static std::mutex mu;
  static std::map<std::vector<int32_t>, cudaKernel_t> known;
  {
    std::lock_guard lk(mu);
    if (auto it = known.find(key); it != known.end()) return it->second;
  }
  const int nd = static_cast<int>(plan.shape.size());
  cudaKernel_t kernel =
      reduced ? cu::jit_kernel("lmx_fused_reduce", cu::fused_reduce_source(c, types_of(inputs), plan.access, nd, form))
              : cu::jit_kernel("lmx_fused", cu::fused_kernel_source(c, types_of(inputs), plan.access, nd, form));
  std::lock_guard lk(mu);
  known.emplace(std::move(key), kernel);
  return kernel;
}

// The geometry argument of a kernel with strided inputs: the collapsed shape,
// then each strided input's strides over it.
std::vector<long long> geometry_of(const Plan& plan) {
  std::vector<long long> g(plan.shape.begin(), plan.shape.end());
  for (auto& s : plan.strides) g.insert(g.end(), s.begin(), s.end());
  return g;
}

// A chain ending in its reduction: rows of at least 1024 values go to a
// block each, cut into pieces when there are too few rows to fill the
// device (their float partial results are folded by a second kernel);
// rows of 32 to 1023 values go to a warp each, shorter ones to a thread.
void eval_fused_reduction(const Compiled& c, const std::vector<array>& inputs, array& out, const Shape& chain,
                          const Plan& plan, cudaStream_t st) {
  const FusedReduction& red = *c.reduction();
  long long row_len = 1;
  for (int a : red.axes) row_len *= chain[a];
  long long rows = static_cast<long long>(out.size());
  std::vector<const void*> in_ptr;
  for (auto& in : inputs) in_ptr.push_back(cu::device_read(in, st));
  cu::allocate(out, st);
  if (rows == 0) return;
  void* out_ptr = cu::device_write(out);
  const long long sms = cu::device_props().multiProcessorCount;
  const int group = row_len >= 1024 ? cu::kThreads : row_len >= 32 ? 32 : 1;
  long long chunks = 1;
  if (group == cu::kThreads && rows < sms * 8)  // eight blocks an SM keep enough loads in flight
    chunks = std::max<long long>(1, std::min((sms * 8 + rows - 1) / rows, (row_len + 4095) / 4096));
  long long chunk_len = (row_len + chunks - 1) / chunks;
  const long long pieces = rows * chunks, per_block = cu::kThreads / group;
  cu::Scratch partials(chunks > 1 ? sizeof(float) * pieces : 0, st);
  float* partial = chunks > 1 ? partials.as<float>() : nullptr;
  cudaKernel_t kernel = fused_kernel(c, inputs, plan, group);
  std::vector<long long> geometry = geometry_of(plan);
  std::vector<void*> args = {&rows, &row_len, &chunks, &chunk_len};
  if (!plan.strides.empty()) args.push_back(geometry.data());
  for (auto& p : in_ptr) args.push_back(&p);
  args.push_back(&out_ptr);
  args.push_back(&partial);
  dim3 grid(static_cast<unsigned>(std::min((pieces + per_block - 1) / per_block, sms * 64)));
  cu::launch_dependent(static_cast<const void*>(kernel), grid, dim3(cu::kThreads), 0, st, args.data());
  if (chunks > 1) cu::fold_partials(red.type, partial, rows, chunks, out, st);
}

}  // namespace

void Compiled::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Shape shape = chain_shape(inputs, outputs);
  Plan plan = plan_inputs(inputs, shape);
  if (!generator_covers(*this, inputs, plan)) {
    if (cu::gpu_strict()) throw std::runtime_error("[" + name() + "] has no generated GPU kernel (LMX_GPU_STRICT is set).");
    auto result = expand(inputs, shape);  // the separate kernels
    detail::eval_inline(result);
    for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(result[i]);
    return;
  }
  cudaStream_t st = cu::stream_of(stream());
  if (reduction()) {
    eval_fused_reduction(*this, inputs, outputs[0], shape, plan, st);
    return;
  }

  std::vector<const void*> in_ptr;
  for (auto& in : inputs) in_ptr.push_back(cu::device_read(in, st));
  // An output may take over a dense input's buffer: each thread reads an
  // element's inputs before it writes that element's outputs.
  std::vector<bool> donated(inputs.size(), false);
  for (auto& out : outputs) {
    bool done = false;
    for (size_t i = 0; i < inputs.size() && !done; ++i)
      if (!donated[i] && plan.access[i] == Access::dense && inputs[i].dtype() == out.dtype() &&
          inputs[i].is_donatable()) {
        cu::allocate_like(inputs[i], out, st, true);
        donated[i] = done = true;
      }
    if (!done) cu::allocate(out, st);
  }
  std::vector<void*> out_ptr;
  for (auto& out : outputs) out_ptr.push_back(cu::device_write(out));

  long long n = static_cast<long long>(outputs[0].size());
  if (n == 0) return;
  const int vec = vector_width(inputs, plan, in_ptr, outputs, out_ptr);
  cudaKernel_t kernel = fused_kernel(*this, inputs, plan, vec);
  std::vector<long long> geometry = geometry_of(plan);
  std::vector<void*> args = {&n};
  if (!plan.strides.empty()) args.push_back(geometry.data());
  for (auto& p : in_ptr) args.push_back(&p);
  for (auto& p : out_ptr) args.push_back(&p);
  long long per_block = static_cast<long long>(cu::kThreads) * (vec > 1 ? vec : kPerThread);
  dim3 grid(static_cast<unsigned>((n + per_block - 1) / per_block));
  cu::launch_dependent(static_cast<const void*>(kernel), grid, dim3(cu::kThreads), 0, st, args.data());
}

}  // namespace lmx
