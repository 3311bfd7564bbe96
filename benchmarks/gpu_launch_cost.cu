// Host cost of the ways to queue many tiny kernels on one CUDA stream: plain
// launches, stream capture into a graph, instantiating that graph, updating
// an existing executable graph with a new capture of the same shape, and
// launching the graph. Decides whether CUDA graphs pay for lmx's eval
// batches (a decode step is ~1000 small kernels). Build and run:
//   nvcc -O2 -arch=sm_90 benchmarks/gpu_launch_cost.cu -o /tmp/launch && /tmp/launch
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>

__global__ void tiny(float* p, int n, float v) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] += v;
}

#define CHECK(x)                                                                        \
  do {                                                                                  \
    cudaError_t e = (x);                                                                \
    if (e != cudaSuccess) {                                                             \
      std::printf("%s failed: %s\n", #x, cudaGetErrorString(e));                        \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)

using Clock = std::chrono::steady_clock;
static double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

int main() {
  constexpr int kNodes = 128, kReps = 50;
  float* p;
  CHECK(cudaMalloc(&p, 4096 * sizeof(float)));
  cudaStream_t st;
  CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  for (int i = 0; i < 1000; ++i) tiny<<<8, 256, 0, st>>>(p, 2048, 1.f);
  CHECK(cudaStreamSynchronize(st));

  // 1. Plain launches: host time to queue, then wall time to finish.
  double queue = 1e30, wall = 1e30;
  for (int r = 0; r < kReps; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < kNodes; ++i) tiny<<<8, 256, 0, st>>>(p, 2048, 1.f);
    double q = us_since(t0);
    CHECK(cudaStreamSynchronize(st));
    queue = std::min(queue, q), wall = std::min(wall, us_since(t0));
  }
  std::printf("plain launch:      %6.2f us/kernel queued, %6.2f us/kernel to finish\n", queue / kNodes, wall / kNodes);

  auto capture = [&](cudaGraph_t* g, float v) {
    cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
    for (int i = 0; i < kNodes; ++i) tiny<<<8 + (i % 3), 256, 0, st>>>(p, 2048, v);
    return cudaStreamEndCapture(st, g);
  };
  double cap = 1e30, inst = 1e30, upd = 1e30, launch = 1e30, gwall = 1e30;
  cudaGraphExec_t exec = nullptr;
  for (int r = 0; r < kReps; ++r) {
    cudaGraph_t g;
    auto t0 = Clock::now();
    CHECK(capture(&g, 1.f + r));
    cap = std::min(cap, us_since(t0));
    if (!exec) {
      t0 = Clock::now();
      CHECK(cudaGraphInstantiate(&exec, g, 0));
      inst = us_since(t0);
      cudaGraphExec_t tmp;
      auto t1 = Clock::now();
      CHECK(cudaGraphInstantiate(&tmp, g, 0));
      inst = std::min(inst, us_since(t1));
      cudaGraphExecDestroy(tmp);
    } else {
      t0 = Clock::now();
      cudaGraphExecUpdateResultInfo info;
      CHECK(cudaGraphExecUpdate(exec, g, &info));
      upd = std::min(upd, us_since(t0));
    }
    t0 = Clock::now();
    CHECK(cudaGraphLaunch(exec, st));
    launch = std::min(launch, us_since(t0));
    CHECK(cudaStreamSynchronize(st));
    gwall = std::min(gwall, us_since(t0));
    cudaGraphDestroy(g);
  }
  // Walking a captured graph's kernel nodes (what lmx fingerprints before
  // trusting an in-place update).
  {
    cudaGraph_t g;
    CHECK(capture(&g, 1.f));
    double walk = 1e30;
    for (int r = 0; r < kReps; ++r) {
      auto t0 = Clock::now();
      size_t n = 0;
      cudaGraphGetNodes(g, nullptr, &n);
      cudaGraphNode_t nodes[kNodes];
      cudaGraphGetNodes(g, nodes, &n);
      uintptr_t h = 0;
      for (size_t i = 0; i < n; ++i) {
        cudaGraphNodeType t;
        cudaGraphNodeGetType(nodes[i], &t);
        cudaKernelNodeParams p;
        cudaGraphKernelNodeGetParams(nodes[i], &p);
        cudaLaunchAttributeValue v;
        cudaGraphKernelNodeGetAttribute(nodes[i], cudaLaunchAttributeClusterDimension, &v);
        h ^= reinterpret_cast<uintptr_t>(p.func) + t + v.clusterDim.x;
      }
      walk = std::min(walk, us_since(t0));
      if (h == 1) std::printf(" ");
    }
    std::printf("node walk:         %6.2f us/kernel\n", walk / kNodes);
    cudaGraphDestroy(g);
  }
  std::printf("capture:           %6.2f us/kernel\n", cap / kNodes);
  std::printf("instantiate:       %6.2f us/kernel\n", inst / kNodes);
  std::printf("exec update:       %6.2f us/kernel\n", upd / kNodes);
  std::printf("graph launch:      %6.2f us/kernel queued, %6.2f us/kernel to finish\n", launch / kNodes,
              gwall / kNodes);
  std::printf("capture+update+launch: %6.2f us/kernel (plain launches: %6.2f)\n", (cap + upd + launch) / kNodes,
              queue / kNodes);
  return 0;
}
