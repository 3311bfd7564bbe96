// Convolution nodes on the GPU through cuDNN: channels-last x (N, *in, C),
// w (O, *kernel, C) and y (N, *out, O) are cuDNN's NHWC tensors and filters
// as they are, so nothing is transposed. The forward pass, the input
// gradient (backward data) and the weight gradient (backward filter) each
// take the algorithm that ran fastest when cuDNN timed them all on the
// geometry's first call (cudnnFind...; its heuristics' first pick ran 2-8x
// slower than PyTorch's on ResNet forward layers, H200). The choice is kept
// per geometry. float32 runs without TF32, as lmx's float32
// products; float16 and bfloat16 accumulate in float32 on tensor cores.
// cuDNN calls are not recorded into CUDA graphs (the segment in flight is
// ended first). Built only when CMake finds cuDNN (LMX_WITH_CUDNN).
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/kernels.h"
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
#include <vector>

namespace lmx::cu {

namespace {

void check(cudnnStatus_t s, const std::string& op, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error("[" + op + "] cuDNN's " + what + " failed: " + cudnnGetErrorString(s) + ".");
}

// One handle per CUDA stream (a handle carries its stream); never freed, as
// the streams.
cudnnHandle_t handle_for(cudaStream_t st, const std::string& op) {
  static std::mutex mu;
  static auto* handles = new std::map<cudaStream_t, cudnnHandle_t>();
  std::lock_guard lk(mu);
  auto [it, fresh] = handles->try_emplace(st, cudnnHandle_t{});
  if (fresh) {
    cudnnStatus_t s = cudnnCreate(&it->second);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnSetStream(it->second, st);
    if (s != CUDNN_STATUS_SUCCESS) {
      if (it->second) cudnnDestroy(it->second);
      handles->erase(it);
      check(s, op, "cudnnCreate");
    }
  }
  return it->second;
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

using GeometryKey = std::tuple<ConvKind, int, Shape, Shape, Shape, std::vector<int>, std::vector<int>,
                               std::vector<int>>;

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
  return true;
}

}  // namespace lmx::cu

bool lmx::gpu::convolution_available() { return is_available(); }

#else  // built without cuDNN: convolutions on GPU streams are built from ops (ops/conv.cpp)

bool lmx::cu::convolution(const Convolution&, const array&, const array&, array&, cudaStream_t) { return false; }

bool lmx::gpu::convolution_available() { return false; }

#endif
