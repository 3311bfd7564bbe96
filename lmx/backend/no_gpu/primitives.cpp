// eval_gpu for builds without CUDA. Ops refuse GPU streams up front (no GPU
// device exists), so these only guard against misuse from C++.
#include <stdexcept>

#include "lmx/fast/primitives.h"
#include "lmx/primitives/compiled.h"
#include "lmx/primitives/conv.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/factorization.h"
#include "lmx/primitives/fft.h"
#include "lmx/primitives/random.h"
#include "lmx/primitives/index.h"
#include "lmx/primitives/linalg.h"
#include "lmx/primitives/distributed.h"
#include "lmx/primitives/quantized.h"
#include "lmx/primitives/reduce.h"
#include "lmx/primitives/shape.h"
#include "lmx/primitives/sort.h"

namespace lmx {

#define LMX_NO_GPU(Class)                                                             \
  void Class::eval_gpu(const std::vector<array>&, array&) {                          \
    throw std::runtime_error("[" + name() + "] lmx was built without GPU support."); \
  }

// The same for primitives with several outputs.
#define LMX_NO_GPU_MULTI(Class)                                                       \
  void Class::eval_gpu(const std::vector<array>&, std::vector<array>&) {             \
    throw std::runtime_error("[" + name() + "] lmx was built without GPU support."); \
  }

LMX_NO_GPU(Unary)
LMX_NO_GPU(Binary)
LMX_NO_GPU(Select)
LMX_NO_GPU(AsType)
LMX_NO_GPU(Broadcast)
LMX_NO_GPU(Reshape)
LMX_NO_GPU(StopGradient)
LMX_NO_GPU(Squeeze)
LMX_NO_GPU(Contiguous)
LMX_NO_GPU(View)
LMX_NO_GPU(Transpose)
LMX_NO_GPU(Slice)
LMX_NO_GPU(SliceUpdate)
LMX_NO_GPU(AsStrided)
LMX_NO_GPU(Concatenate)
LMX_NO_GPU(Pad)
LMX_NO_GPU(Matmul)
LMX_NO_GPU(Convolution)
LMX_NO_GPU(ExtremeGrad)
LMX_NO_GPU(Gather)
LMX_NO_GPU(Scatter)
LMX_NO_GPU(Sort)
LMX_NO_GPU(AffineDequantize)
LMX_NO_GPU(QuantizedMatmul)
LMX_NO_GPU(Fp8Convert)
LMX_NO_GPU(FpDequantize)
LMX_NO_GPU(FpRoundTrip)
LMX_NO_GPU(DistributedOp)
LMX_NO_GPU(fast::RMSNorm)
LMX_NO_GPU(fast::LayerNorm)
LMX_NO_GPU(fast::RoPE)
LMX_NO_GPU(fast::ScaledDotProductAttention)
LMX_NO_GPU(Scan)
LMX_NO_GPU(FFT)
LMX_NO_GPU(RandomBits)
LMX_NO_GPU(Arange)
LMX_NO_GPU(Reduce)
LMX_NO_GPU(ArgReduce)

LMX_NO_GPU_MULTI(fast::NormVJP)
LMX_NO_GPU_MULTI(fast::AddRMSNorm)
LMX_NO_GPU_MULTI(fast::AttentionVJP)
LMX_NO_GPU_MULTI(Factorization)
LMX_NO_GPU_MULTI(AffineQuantize)
LMX_NO_GPU_MULTI(FpQuantize)
LMX_NO_GPU_MULTI(MatmulGroup)
LMX_NO_GPU_MULTI(QuantizedMatmulGroup)
LMX_NO_GPU_MULTI(Compiled)

}  // namespace lmx
