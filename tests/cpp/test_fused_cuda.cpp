// compile's generated GPU kernels: generated and compiled with NVRTC for
// sm_90 here, so CI (CUDA toolkit, no GPU) checks every op and element type
// the generator emits. Running them is tested on a GPU (test_gpu.py).
#ifdef LMX_TEST_CUDA
#include <gtest/gtest.h>

#include "lmx/backend/cuda/fused_source.h"

using namespace lmx;

namespace {

// Every op of the tables applied to an input of type t (where the op's type
// set allows it), combined into one output so nothing is dead.
std::vector<FusedStep> all_ops_program(Dtype t, bool integral, std::vector<int>& outputs) {
  std::vector<FusedStep> steps;
  auto push = [&](FusedStep s) {
    steps.push_back(s);
    outputs.push_back(1 + static_cast<int>(steps.size()) - 1);
  };
  // Whether an op with this type-set column of the tables takes type t.
  auto takes = [&](const std::string& set) {
    return set == "All" || set == "Real" || (integral ? set == "Integral" : set != "Integral" && set != "Complex");
  };
  auto result = [&](const std::string& rule) { return rule == "Bool" ? bool_ : t; };
  int u = 0, b = 0;
#define LMX_U(Name, py, types, res) \
  if (takes(#types)) push({FusedStep::Kind::unary, u, {0, 0, 0}, result(#res)}); \
  ++u;
#define LMX_B(Name, py, types, res) \
  if (takes(#types)) push({FusedStep::Kind::binary, b, {0, 0, 0}, result(#res)}); \
  ++b;
  LMX_UNARY_OPS(LMX_U)
  LMX_BINARY_OPS(LMX_B)
#undef LMX_U
#undef LMX_B
  return steps;
}

}  // namespace

TEST(FusedCuda, EveryOpAndTypeCompiles) {
  for (Dtype t : {float32, float16, bfloat16, int32, uint8, int64, bool_}) {
    bool integral = !(t == float32 || t == float16 || t == bfloat16);
    std::vector<int> outputs;
    auto steps = all_ops_program(t, integral, outputs);
    Compiled c(Stream(0, Device{Device::Type::gpu, 0}), steps, outputs);
    ASSERT_TRUE(cu::fused_types_supported(c, {t}));
    for (int vec : {1, 16 / static_cast<int>(t.size())}) {
      std::string src = cu::fused_kernel_source(c, {t}, {cu::FusedAccess::dense}, 0, vec);
      EXPECT_GT(cu::nvrtc_compile(src, "sm_90").size(), 0u) << dtype_name(t) << " vec " << vec;
    }
  }
}

TEST(FusedCuda, StridedScalarAndMixedInputsCompile) {
  // where(x > s, cast(x), y) with x strided, s one value, y dense
  std::vector<FusedStep> steps = {
      {FusedStep::Kind::binary, static_cast<int>(BinaryOp::Greater), {0, 1, 0}, bool_},
      {FusedStep::Kind::cast, 0, {0, 0, 0}, float16},
      {FusedStep::Kind::select, 0, {3, 4, 2}, float16},
  };
  Compiled c(Stream(0, Device{Device::Type::gpu, 0}), steps, {5, 3});
  std::string src = cu::fused_kernel_source(
      c, {float32, float32, float16}, {cu::FusedAccess::strided, cu::FusedAccess::scalar, cu::FusedAccess::dense}, 3);
  EXPECT_GT(cu::nvrtc_compile(src, "sm_90").size(), 0u);
  EXPECT_FALSE(cu::fused_types_supported(c, {complex64, float32, float16}));
  // Vector form: the strided input cannot take it; one value and dense ones can.
  EXPECT_THROW(cu::fused_kernel_source(c, {float32, float32, float16},
                                       {cu::FusedAccess::strided, cu::FusedAccess::scalar, cu::FusedAccess::dense}, 3,
                                       4),
               std::invalid_argument);
  src = cu::fused_kernel_source(c, {float32, float32, float16},
                                {cu::FusedAccess::dense, cu::FusedAccess::scalar, cu::FusedAccess::dense}, 0, 4);
  EXPECT_GT(cu::nvrtc_compile(src, "sm_90").size(), 0u);
}

TEST(FusedCuda, ReductionKernelsCompile) {
  // sum/max/min(tanh(x) * s + y) over rows, x strided, s one value, y dense,
  // for each way a row is shared out (a thread, a warp, a block)
  for (ReduceType type : {ReduceType::Sum, ReduceType::Max, ReduceType::Min}) {
    for (Dtype t : {float32, float16, bfloat16}) {
      std::vector<FusedStep> steps = {
          {FusedStep::Kind::unary, static_cast<int>(UnaryOp::Tanh), {0, 0, 0}, t},
          {FusedStep::Kind::binary, static_cast<int>(BinaryOp::Multiply), {3, 1, 0}, t},
          {FusedStep::Kind::binary, static_cast<int>(BinaryOp::Add), {4, 2, 0}, t},
      };
      Compiled c(Stream(0, Device{Device::Type::gpu, 0}), steps, {5}, FusedReduction{type, {1}, {4, 100}});
      for (int group : {1, 32, 256}) {
        std::string src = cu::fused_reduce_source(
            c, {t, t, t}, {cu::FusedAccess::strided, cu::FusedAccess::scalar, cu::FusedAccess::dense}, 2, group);
        EXPECT_GT(cu::nvrtc_compile(src, "sm_90").size(), 0u) << dtype_name(t) << " group " << group;
      }
    }
  }
  Compiled c(Stream(0, Device{Device::Type::gpu, 0}), {{FusedStep::Kind::unary, 0, {0, 0, 0}, float32}}, {1},
             FusedReduction{ReduceType::Sum, {0}, {8}});
  EXPECT_THROW(cu::fused_reduce_source(c, {float32}, {cu::FusedAccess::dense}, 0, 64), std::invalid_argument);
}

TEST(FusedCuda, CompileErrorsCarryTheLog) {
  EXPECT_THROW(cu::nvrtc_compile("this is not CUDA", "sm_90"), std::runtime_error);
}
#endif
