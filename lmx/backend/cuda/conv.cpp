// Convolution nodes on the GPU through cuDNN: channels-last x (N, *in, C),
// w (O, *kernel, C) and y (N, *out, O) are cuDNN's tensors and filters with
// channels-last strides as they are, so nothing is transposed. The forward
// pass, the input gradient (backward data) and the weight gradient (backward
// filter) run:
// - through cuDNN's graph API: one finalized execution plan per geometry,
//   from the first engine of its heuristics that builds, kept and run with
//   a variant pack of the call's pointers;
// - else (no engine, or LMX_CUDNN_GRAPH=0) through the legacy API, with the
//   algorithm that ran fastest when cuDNN timed them all on the geometry's
//   first call. On an H200 that path reached 0.2-1.1x PyTorch's speed on
//   single ResNet forward layers: each call costs tens of microseconds of
//   host time, and its kernels are older ones.
// float32 runs without TF32 (or any other reduced precision), as lmx's
// float32 products; float16 and bfloat16 accumulate in float32 on tensor
// cores. cuDNN calls are not recorded into CUDA graphs (the segment in
// flight is ended first). Built only when CMake finds cuDNN (LMX_WITH_CUDNN).
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/backend/cuda/library_handles.h"
#include "lmx/primitives/conv.h"
#include "lmx/runtime/gpu.h"

#if LMX_WITH_CUDNN

#include <cudnn.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "lmx/runtime/env.h"

namespace lmx::cu {

namespace {

void check(cudnnStatus_t s, const std::string& op, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error("[" + op + "] cuDNN's " + what + " failed: " + cudnnGetErrorString(s) + ".");
}

cudnnHandle_t handle_for(cudaStream_t st, const std::string& op) {
  return handle_per_stream<cudnnHandle_t>(st, [&](cudaStream_t s) {
    cudnnHandle_t h = nullptr;
    check(cudnnCreate(&h), op, "cudnnCreate");
    if (cudnnStatus_t status = cudnnSetStream(h, s); status != CUDNN_STATUS_SUCCESS) {
      cudnnDestroy(h);
      check(status, op, "cudnnSetStream");
    }
    return h;
  });
}

cudnnDataType_t data_type(Dtype t) {
  if (t == float16) return CUDNN_DATA_HALF;
  if (t == bfloat16) return CUDNN_DATA_BFLOAT16;
  return CUDNN_DATA_FLOAT;
}

// cuDNN takes 2 or 3 spatial dims: a 1-d convolution is a 2-d one of height 1.
std::vector<int> spatial(const Shape& s) {
  std::vector<int> d(s.begin() + 1, s.end() - 1);
  if (d.size() == 1) d.insert(d.begin(), 1);
  return d;
}
std::vector<int> spatial(const std::vector<int>& v, int pad_value) {
  std::vector<int> d = v;
  if (d.size() == 1) d.insert(d.begin(), pad_value);
  return d;
}

// The geometry of one call: its kind, dtype, the three shapes by role,
// strides, padding and dilations (the graph API's plans are also kept per
// handle and pointer alignment).
using GeometryKey = std::tuple<ConvKind, int, Shape, Shape, Shape, std::vector<int>, std::vector<int>,
                               std::vector<int>>;

// ---- the legacy API ----

// The descriptors of one convolution, destroyed with it.
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Descriptors(const Shape& xs, const Shape& ws, const Shape& ys, const ConvParams& p, Dtype t, const std::string& op) {
    const cudnnDataType_t type = data_type(t);
    check(cudnnCreateTensorDescriptor(&x), op, "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&y), op, "cudnnCreateTensorDescriptor");
    check(cudnnCreateFilterDescriptor(&w), op, "cudnnCreateFilterDescriptor");
    check(cudnnCreateConvolutionDescriptor(&conv), op, "cudnnCreateConvolutionDescriptor");
    // cuDNN orders dims N, C, spatial... whatever the memory format.
    auto dims = [](const Shape& s) {
      std::vector<int> d = {static_cast<int>(s[0]), static_cast<int>(s.back())};
      for (int v : spatial(s)) d.push_back(v);
      return d;
    };
    std::vector<int> xd = dims(xs), yd = dims(ys), wd = dims(ws);
    check(cudnnSetTensorNdDescriptorEx(x, CUDNN_TENSOR_NHWC, type, static_cast<int>(xd.size()), xd.data()), op,
          "cudnnSetTensorNdDescriptorEx");
    check(cudnnSetTensorNdDescriptorEx(y, CUDNN_TENSOR_NHWC, type, static_cast<int>(yd.size()), yd.data()), op,
          "cudnnSetTensorNdDescriptorEx");
    check(cudnnSetFilterNdDescriptor(w, type, CUDNN_TENSOR_NHWC, static_cast<int>(wd.size()), wd.data()), op,
          "cudnnSetFilterNdDescriptor");
    std::vector<int> pad = spatial(p.pad_lo, 0), stride = spatial(p.stride, 1), dilation = spatial(p.dilation, 1);
    check(cudnnSetConvolutionNdDescriptor(conv, static_cast<int>(pad.size()), pad.data(), stride.data(),
                                          dilation.data(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          op, "cudnnSetConvolutionNdDescriptor");
    // FMA math keeps TF32 off for float32; half types may use tensor cores.
    check(cudnnSetConvolutionMathType(conv, t == float32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH), op,
          "cudnnSetConvolutionMathType");
  }
  ~Descriptors() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

// The algorithm (its math type and workspace bytes) chosen for one geometry.
struct Choice {
  int algo;
  cudnnMathType_t math;
  size_t workspace;
};

// The fastest algorithm that runs in the descriptor's precision: for
// float32, one of FMA math only (no TF32).
template <typename Perf, typename Query>
Choice fastest(Query query, Dtype t, const std::string& op) {
  Perf perf[16];
  int count = 0;
  check(query(perf, 16, &count), op, "algorithm search");
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && (t != float32 || perf[i].mathType == CUDNN_FMA_MATH))
      return {static_cast<int>(perf[i].algo), perf[i].mathType, perf[i].memory};
  throw std::runtime_error("[" + op + "] cuDNN offers no algorithm for this convolution's geometry and dtype.");
}

Choice choose(ConvKind kind, cudnnHandle_t h, const Descriptors& d, const GeometryKey& key, Dtype t,
              const std::string& op) {
  static std::mutex mu;
  static auto* chosen = new std::map<GeometryKey, Choice>();  // never destroyed: workers may run at exit
  {
    std::lock_guard lk(mu);
    if (auto it = chosen->find(key); it != chosen->end()) return it->second;
  }
  Choice c;
  switch (kind) {
    case ConvKind::forward:
      c = fastest<cudnnConvolutionFwdAlgoPerf_t>(
          [&](auto* perf, int n, int* count) {
            return cudnnFindConvolutionForwardAlgorithm(h, d.x, d.w, d.conv, d.y, n, count, perf);
          },
          t, op);
      break;
    case ConvKind::input_grad:
      c = fastest<cudnnConvolutionBwdDataAlgoPerf_t>(
          [&](auto* perf, int n, int* count) {
            return cudnnFindConvolutionBackwardDataAlgorithm(h, d.w, d.y, d.conv, d.x, n, count, perf);
          },
          t, op);
      break;
    case ConvKind::weight_grad:
      c = fastest<cudnnConvolutionBwdFilterAlgoPerf_t>(
          [&](auto* perf, int n, int* count) {
            return cudnnFindConvolutionBackwardFilterAlgorithm(h, d.x, d.y, d.conv, d.w, n, count, perf);
          },
          t, op);
      break;
  }
  std::lock_guard lk(mu);
  chosen->emplace(key, c);
  return c;
}

// The three tensors by role (whichever two are the inputs) and their pointers.
struct Roles {
  ConvKind kind;
  const Shape &xs, &ws, &ys;
  const void *a, *b;  // the node's inputs: x, w (forward); dy, w (input grad); x, dy (weight grad)
  void* out;
};

void run_legacy(cudnnHandle_t h, const Roles& r, const ConvParams& params, Dtype t, cudaStream_t st,
                const std::string& op) {
  const ConvKind kind = r.kind;
  const Shape &xs = r.xs, &ws = r.ws, &ys = r.ys;
  const void *ap = r.a, *bp = r.b;
  void* o = r.out;
  Descriptors d(xs, ws, ys, params, t, op);
  const GeometryKey key{kind, static_cast<int>(t.val()), xs, ws, ys, params.stride, params.pad_lo, params.dilation};
  const Choice c = choose(kind, h, d, key, t, op);
  check(cudnnSetConvolutionMathType(d.conv, c.math), op, "cudnnSetConvolutionMathType");
  const float one = 1.0f, zero = 0.0f;  // float scaling factors for every data type here
  // The workspace size as the search reported it (asking cuDNN again costs
  // as much host time as the convolution's own call).
  const size_t bytes = c.workspace;
  Scratch work(bytes, st);
  switch (kind) {
    case ConvKind::forward: {
      const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(c.algo);
      check(cudnnConvolutionForward(h, &one, d.x, ap, d.w, bp, d.conv, algo, work.as<void>(), bytes, &zero, d.y, o), op,
            "cudnnConvolutionForward");
      break;
    }
    case ConvKind::input_grad: {  // a = g (y-shaped), b = w
      const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo);
      check(cudnnConvolutionBackwardData(h, &one, d.w, bp, d.y, ap, d.conv, algo, work.as<void>(), bytes, &zero, d.x,
                                         o),
            op, "cudnnConvolutionBackwardData");
      break;
    }
    case ConvKind::weight_grad: {  // a = x, b = g (y-shaped)
      const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo);
      check(cudnnConvolutionBackwardFilter(h, &one, d.x, ap, d.y, bp, d.conv, algo, work.as<void>(), bytes, &zero,
                                           d.w, o),
            op, "cudnnConvolutionBackwardFilter");
      break;
    }
  }
}

// ---- the graph API ----

// LMX_CUDNN_GRAPH=0 runs every convolution through the legacy API.
bool graph_api_enabled() {
  static const bool on = env_switch("LMX_CUDNN_GRAPH", true, "conv");
  return on;
}

// A backend descriptor, destroyed with its owner.
class Backend {
 public:
  Backend(cudnnBackendDescriptorType_t type, const std::string& op) {
    check(cudnnBackendCreateDescriptor(type, &d_), op, "cudnnBackendCreateDescriptor");
  }
  Backend(Backend&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  ~Backend() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  cudnnBackendDescriptor_t get() const { return d_; }
  cudnnBackendDescriptor_t release() { return std::exchange(d_, nullptr); }
  // Sets an attribute of n values; a failure throws, naming it.
  template <typename T>
  Backend& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, const T* values, int64_t n,
               const std::string& op) {
    cudnnStatus_t s = cudnnBackendSetAttribute(d_, name, type, n, values);
    if (s != CUDNN_STATUS_SUCCESS) check(s, op, ("setting backend attribute " + std::to_string(int(name))).c_str());
    return *this;
  }
  cudnnStatus_t finalize() { return cudnnBackendFinalize(d_); }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// The tensors' ids in an operation and in the variant pack.
constexpr int64_t kX = 'x', kW = 'w', kY = 'y';

// A channels-last (N, *spatial, C) tensor or (O, *kernel, C) filter as cuDNN
// sees it: dims (N, C, *spatial), channels-last strides.
Backend tensor(const Shape& s, int64_t uid, Dtype t, int64_t alignment, const std::string& op) {
  std::vector<int64_t> dims = {s[0], s.back()};
  for (int v : spatial(s)) dims.push_back(v);
  std::vector<int64_t> strides(dims.size());
  strides[1] = 1;
  int64_t step = dims[1];
  for (size_t i = dims.size() - 1; i >= 2; --i) strides[i] = step, step *= dims[i];
  strides[0] = step;
  const cudnnDataType_t type = data_type(t);
  const auto n = static_cast<int64_t>(dims.size());
  Backend d(CUDNN_BACKEND_TENSOR_DESCRIPTOR, op);
  d.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, &type, 1, op)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, dims.data(), n, op)
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, strides.data(), n, op)
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, &uid, 1, op)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, &alignment, 1, op);
  check(d.finalize(), op, "finalizing a tensor descriptor");
  return d;
}

Backend convolution_descriptor(const ConvParams& p, const std::string& op) {
  auto wide = [](const std::vector<int>& v) { return std::vector<int64_t>(v.begin(), v.end()); };
  const std::vector<int64_t> pre = wide(spatial(p.pad_lo, 0)), post = wide(spatial(p.pad_hi, 0)),
                             stride = wide(spatial(p.stride, 1)), dilation = wide(spatial(p.dilation, 1));
  const int64_t n = static_cast<int64_t>(pre.size());
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  Backend d(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, op);
  d.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, &compute, 1, op)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, &mode, 1, op)
      .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, &n, 1, op)
      .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, dilation.data(), n, op)
      .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, stride.data(), n, op)
      .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, pre.data(), n, op)
      .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, post.data(), n, op);
  check(d.finalize(), op, "finalizing a convolution descriptor");
  return d;
}

// The operation of one kind over x, w and y (dx, dw, dy for the gradients).
Backend operation(ConvKind kind, const Backend& conv, const Backend& x, const Backend& w, const Backend& y,
                  const std::string& op) {
  struct Names {
    cudnnBackendDescriptorType_t type;
    cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
  };
  static const Names forward{CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
                             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
                             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
                             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
                             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
                             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
                             CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y};
  static const Names data{CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
                          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
                          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
                          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
                          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
                          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
                          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY};
  static const Names filter{CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
                            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
                            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
                            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
                            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
                            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
                            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY};
  const Names& n = kind == ConvKind::forward ? forward : kind == ConvKind::input_grad ? data : filter;
  const float one = 1.0f, zero = 0.0f;
  const cudnnBackendDescriptor_t c = conv.get(), xd = x.get(), wd = w.get(), yd = y.get();
  Backend d(n.type, op);
  d.set(n.alpha, CUDNN_TYPE_FLOAT, &one, 1, op)
      .set(n.beta, CUDNN_TYPE_FLOAT, &zero, 1, op)
      .set(n.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, &c, 1, op)
      .set(n.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, &xd, 1, op)
      .set(n.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, &wd, 1, op)
      .set(n.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, &yd, 1, op);
  check(d.finalize(), op, "finalizing a convolution operation");
  return d;
}

// Whether an engine computes float32 in full precision: none of TF32 tensor
// cores, inputs converted down, or reductions in lower precision.
bool full_precision(const Backend& config, const std::string& op) {
  Backend engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, op);
  cudnnBackendDescriptor_t e = engine.get();
  int64_t n = 0;
  if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &e) !=
      CUDNN_STATUS_SUCCESS)
    return false;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  if (cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n, notes) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < n; ++i)
    if (notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
        notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)
      return false;
  return true;
}

// A finalized execution plan and its workspace; plan null when no engine
// builds one for the geometry (the legacy API runs it then).
struct GraphPlan {
  cudnnBackendDescriptor_t plan = nullptr;
  int64_t workspace = 0;
};

GraphPlan build_graph_plan(cudnnHandle_t h, const Roles& r, const ConvParams& params, Dtype t, int64_t alignment,
                           const std::string& op) {
  const Backend x = tensor(r.xs, kX, t, alignment, op), w = tensor(r.ws, kW, t, alignment, op),
                y = tensor(r.ys, kY, t, alignment, op);
  const Backend conv = convolution_descriptor(params, op);
  const Backend operation_d = operation(r.kind, conv, x, w, y, op);
  const cudnnBackendDescriptor_t ops = operation_d.get();
  Backend graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, op);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, &ops, 1, op)
      .set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, &h, 1, op);
  if (graph.finalize() != CUDNN_STATUS_SUCCESS) return {};
  const cudnnBackendDescriptor_t g = graph.get();
  const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  Backend heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, op);
  heuristics.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, &g, 1, op)
      .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, &mode, 1, op);
  if (heuristics.finalize() != CUDNN_STATUS_SUCCESS) return {};
  int64_t count = 0;
  if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                               &count, nullptr) != CUDNN_STATUS_SUCCESS ||
      count <= 0)
    return {};
  std::vector<Backend> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, op);
    raw.push_back(configs.back().get());
  }
  if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                               &count, raw.data()) != CUDNN_STATUS_SUCCESS)
    return {};
  // The heuristics' order, first engine that builds (as PyTorch's default).
  for (int64_t i = 0; i < count; ++i) {
    if (t == float32 && !full_precision(configs[i], op)) continue;
    Backend plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, op);
    const cudnnBackendDescriptor_t config = configs[i].get();
    plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, &h, 1, op)
        .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, &config, 1, op);
    if (plan.finalize() != CUDNN_STATUS_SUCCESS) continue;
    int64_t workspace = 0, n = 0;
    if (cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
                                 &workspace) != CUDNN_STATUS_SUCCESS)
      continue;
    return {plan.release(), workspace};
  }
  return {};
}

// The largest power of two up to 16 dividing every pointer: engines that
// load 16 bytes at a time need their tensors aligned so.
int64_t common_alignment(std::initializer_list<const void*> pointers) {
  int64_t a = 16;
  for (const void* p : pointers)
    while (a > 1 && reinterpret_cast<uintptr_t>(p) % a != 0) a /= 2;
  return a;
}

// The plan kept for this stream's handle and geometry (built on first use).
const GraphPlan& graph_plan(cudnnHandle_t h, const Roles& r, const ConvParams& params, Dtype t,
                            const std::string& op) {
  using Key = std::tuple<cudnnHandle_t, GeometryKey, std::vector<int>, int64_t>;
  static std::mutex mu;
  static auto* plans = new std::map<Key, GraphPlan>();  // never destroyed: workers may run at exit
  const int64_t alignment = common_alignment({r.a, r.b, r.out});
  Key key{h, GeometryKey{r.kind, static_cast<int>(t.val()), r.xs, r.ws, r.ys, params.stride, params.pad_lo,
                         params.dilation},
          params.pad_hi, alignment};
  std::lock_guard lk(mu);
  auto it = plans->find(key);
  if (it == plans->end()) it = plans->emplace(key, build_graph_plan(h, r, params, t, alignment, op)).first;
  return it->second;
}

void run_graph_plan(cudnnHandle_t h, const GraphPlan& plan, const Roles& r, cudaStream_t st, const std::string& op) {
  Scratch work(static_cast<size_t>(plan.workspace), st);
  // The node's inputs and output by role.
  const void* x = r.kind == ConvKind::input_grad ? r.out : r.a;
  const void* w = r.kind == ConvKind::weight_grad ? r.out : r.b;
  const void* y = r.kind == ConvKind::forward ? r.out : r.kind == ConvKind::input_grad ? r.a : r.b;
  const int64_t uids[3] = {kX, kW, kY};
  void* data[3] = {const_cast<void*>(x), const_cast<void*>(w), const_cast<void*>(y)};
  void* workspace = work.as<void>();
  Backend pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, op);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, uids, 3, op)
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, data, 3, op)
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, &workspace, 1, op);
  check(pack.finalize(), op, "finalizing a variant pack");
  check(cudnnBackendExecute(h, plan.plan, pack.get()), op, "cudnnBackendExecute");
}

}  // namespace

bool convolution(const Convolution& p, const array& a_in, const array& b_in, array& out, cudaStream_t st) {
  const std::string op = p.name();
  const ConvKind kind = p.kind();
  const ConvParams& params = p.params();
  for (size_t i = 0; i < params.pad_lo.size(); ++i)
    if (params.pad_lo[i] != params.pad_hi[i])
      throw std::invalid_argument("[" + op + "] cuDNN takes equal padding on both sides of each dim.");
  const Dtype t = out.dtype();
  array a = row_contiguous(a_in, st), b = row_contiguous(b_in, st);
  // The three tensors by role, whichever two are the inputs.
  const Shape& xs = kind == ConvKind::input_grad ? out.shape() : a.shape();
  const Shape& ws = kind == ConvKind::weight_grad ? out.shape() : b.shape();
  const Shape& ys = kind == ConvKind::forward ? out.shape() : kind == ConvKind::input_grad ? a.shape() : b.shape();
  pause_capture(st, "cuDNN");
  allocate(out, st);
  if (out.size() == 0) return true;
  void* o = device_write(out);
  if (a.size() == 0 || b.size() == 0) {  // an empty sum: zeros
    LMX_CUDA_CHECK(cudaMemsetAsync(o, 0, out.nbytes(), st));
    return true;
  }
  const void* ap = device_read(a, st);
  const void* bp = device_read(b, st);
  cudnnHandle_t h = handle_for(st, op);
  const Roles roles{kind, xs, ws, ys, ap, bp, o};
  if (graph_api_enabled()) {
    const GraphPlan& plan = graph_plan(h, roles, params, t, op);
    if (plan.plan) {
      run_graph_plan(h, plan, roles, st, op);
      return true;
    }
  }
  run_legacy(h, roles, params, t, st, op);
  return true;
}

}  // namespace lmx::cu

bool lmx::gpu::convolution_available() { return is_available(); }

#else  // built without cuDNN: convolutions on GPU streams are built from ops (ops/conv.cpp)

bool lmx::cu::convolution(const Convolution&, const array&, const array&, array&, cudaStream_t) { return false; }

bool lmx::gpu::convolution_available() { return false; }

#endif
