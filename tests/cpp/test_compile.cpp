// compile from C++: one trace per signature, fused chains, equal results.
#include <gtest/gtest.h>

#include "lmx/lmx.h"

using namespace lmx;

namespace {

std::vector<array> activation(const std::vector<array>& xs) {
  const array& x = xs[0];
  array y = multiply(multiply(x, array(0.5f)), add(array(1.0f), tanh(multiply(x, array(0.8f)))));
  return {y, exp(negative(y))};
}

}  // namespace

TEST(Compile, TracesOncePerSignatureAndMatchesEager) {
  int traces = 0;
  ArrayFn counted = [&](const std::vector<array>& xs) {
    ++traces;
    return activation(xs);
  };
  ArrayFn f = compile(counted);
  array x = arange(-5.0, 5.0, 0.01, float32);
  for (int i = 0; i < 3; ++i) {
    auto got = f({x});
    auto want = activation({x});
    eval(got);
    eval(want);
    for (size_t k = 0; k < got.size(); ++k)
      for (size_t j = 0; j < x.size(); ++j) ASSERT_FLOAT_EQ(got[k].data<float>()[j], want[k].data<float>()[j]);
  }
  EXPECT_EQ(traces, 1);
  f({arange(0.0, 1.0, 0.5, float32)});
  EXPECT_EQ(traces, 2);
}

TEST(Compile, ChainsBecomeOneFusedNode) {
  CompiledGraph g(activation, {zeros({100}, float32)}, false);
  EXPECT_EQ(g.num_nodes(), 1u);  // both outputs leave one fused node
  EXPECT_EQ(g.num_fused(), 1u);
  EXPECT_NE(g.to_dot().find("Compiled("), std::string::npos);
}

TEST(Compile, EvaluatingAnInputWhileTracingThrows) {
  ArrayFn bad = [](const std::vector<array>& xs) {
    array s = sum(xs[0], {0}, false);
    s.eval();
    return std::vector<array>{s};
  };
  EXPECT_THROW(compile(bad)({ones({3}, float32)}), std::invalid_argument);
}

TEST(Export, RoundTripsThroughAFile) {
  auto g = std::make_shared<CompiledGraph>(activation, std::vector<array>{zeros({5}, float32)}, false);
  std::string path = ::testing::TempDir() + "/lmx_export_test.lmxfn";
  export_traces(path, {{g, 1, {}}});
  auto traces = import_traces(path);
  ASSERT_EQ(traces.size(), 1u);
  array x = arange(0.0, 5.0, 1.0, float32);
  auto got = (*traces[0].graph)({x});
  auto want = activation({x});
  eval(got);
  eval(want);
  for (size_t k = 0; k < got.size(); ++k)
    for (size_t j = 0; j < 5; ++j) EXPECT_FLOAT_EQ(got[k].data<float>()[j], want[k].data<float>()[j]);
}
