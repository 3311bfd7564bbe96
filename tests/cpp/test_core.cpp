// Core runtime: graph building, evaluation order, donation, streams, allocator.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "lmx/lmx.h"

using namespace lmx;

TEST(Graph, OpsAreLazyUntilEval) {
  array a({1.0f, 2.0f, 3.0f});
  array b = add(a, a);
  EXPECT_TRUE(b.has_primitive());
  EXPECT_FALSE(b.is_available());
  b.eval();
  EXPECT_TRUE(b.is_available());
  EXPECT_FALSE(b.has_primitive());  // detached after evaluation
  EXPECT_FLOAT_EQ(b.data<float>()[2], 6.0f);
}

TEST(Graph, SharedSubgraphEvaluatesOnce) {
  array x = arange(0, 10, 1, float32);
  array y = multiply(x, x);
  array z = add(y, y);
  array w = subtract(z, y);
  eval({w, z});
  EXPECT_FLOAT_EQ(w.data<float>()[3], 9.0f);
  EXPECT_FLOAT_EQ(z.data<float>()[3], 18.0f);
}

TEST(Graph, MillionNodeChainNeitherOverflowsNorRecurses) {
  array x(0.0f);
  for (int i = 0; i < 1000000; ++i) x = add(x, array(1.0f));
  EXPECT_FLOAT_EQ(x.item<float>(), 1000000.0f);
  array y(0.0f);
  for (int i = 0; i < 1000000; ++i) y = add(y, array(1.0f));
  y = array();  // destroying an unevaluated million-node graph is iterative too
}

TEST(Eval, IntermediateBufferIsDonated) {
  array a = full({1 << 16}, array(1.0f), float32);
  a.eval();
  // exp(a) is an intermediate with one consumer: negative() may reuse its buffer.
  array e = exp(a);
  array n = negative(e);
  e = array();
  n.eval();
  array u = negative(a);  // `a` is still held: no donation
  u.eval();
  EXPECT_NE(u.raw_ptr(), a.raw_ptr());
  EXPECT_FLOAT_EQ(n.data<float>()[0], -std::exp(1.0f));
}

// A compiled step's node keeps handles on its inputs while it runs their
// program (transforms/compile_step.cpp); StepInputHandles discounts exactly
// those, on the thread that opened the scope, and only while it is open.
TEST(Eval, StepInputHandlesDiscountOnlyTheStepsOwnHandles) {
  array x({1.0f, 2.0f, 3.0f});
  x.eval();
  array step_handle = x;  // the step node's own
  array consumer = x;     // the node that would overwrite it
  EXPECT_FALSE(consumer.is_donatable());
  // Three handles: the step's, the consumer's and x itself, held by "the user".
  std::vector<std::pair<uintptr_t, long>> held{{x.id(), 1}};
  {
    detail::StepInputHandles scope(held);
    EXPECT_FALSE(consumer.is_donatable());  // x is still held
    x = array();
    EXPECT_TRUE(consumer.is_donatable());
    std::thread([&] { EXPECT_FALSE(consumer.is_donatable()); }).join();  // another thread's checks are its own
  }
  EXPECT_FALSE(consumer.is_donatable());
  step_handle = array();
  EXPECT_TRUE(consumer.is_donatable());
}

TEST(Eval, IntermediatesAreReleased) {
  clear_cache();
  size_t before = get_active_memory();
  array a = ones({1 << 20}, float32);
  array b = exp(a);
  array c = sum(b, {}, false);
  a = array();
  b = array();
  c.eval();
  // Only c's 4 bytes (rounded to the allocator's bucket) stay active.
  EXPECT_LT(get_active_memory(), before + 1024);
}

TEST(Eval, KernelErrorsReachTheCaller) {
  array big = zeros({1 << 20, 1 << 20}, float32);  // 4 TiB
  EXPECT_THROW(big.eval(), std::runtime_error);
  array ok = add(array(1), array(2));
  EXPECT_EQ(ok.item<int>(), 3);
}

TEST(Streams, CrossStreamDependencyWaitsForProducer) {
  Stream s1 = new_stream(Device::cpu), s2 = new_stream(Device::cpu);
  array a = arange(0, 1 << 10, 1, float32, s1);
  array b = multiply(a, array(2.0f), s1);
  array c = sum(b, {}, false, s2);
  double n = 1 << 10;
  EXPECT_DOUBLE_EQ(c.item<float>(), static_cast<float>(n * (n - 1)));
  synchronize();
}

TEST(Streams, ThreadLocalStreamsAreOwnedByTheirThread) {
  ThreadLocalStream tls = new_thread_local_stream(Device::cpu);
  Stream mine = stream_from_thread_local(tls);
  EXPECT_EQ(stream_from_thread_local(tls), mine);
  Stream theirs = mine, made_there = mine;
  bool destroyed_there = false;
  std::thread other([&] {
    theirs = stream_from_thread_local(tls);
    made_there = new_stream(Device::cpu);
    array a = add(arange(0, 4, 1, int32, tls), array(1), made_there);
    a.eval();
    clear_streams();
    try {
      check_stream(made_there, "test");
    } catch (const std::invalid_argument&) {
      destroyed_there = true;
    }
  });
  other.join();
  EXPECT_NE(theirs, mine);
  EXPECT_TRUE(destroyed_there);
  // The other thread's clear_streams left this thread's streams alone.
  EXPECT_NO_THROW(check_stream(mine, "test"));
  EXPECT_EQ(add(array(2), array(3), tls).item<int>(), 5);
  auto alive = get_streams();
  EXPECT_EQ(std::count(alive.begin(), alive.end(), made_there), 0);
  EXPECT_THROW(synchronize(made_there), std::invalid_argument);
}

TEST(Allocator, CacheAndPeakStatistics) {
  clear_cache();
  reset_peak_memory();
  {
    array a = zeros({1 << 18}, float32);
    a.eval();
    EXPECT_GE(get_active_memory(), size_t{1} << 20);
    EXPECT_GE(get_peak_memory(), get_active_memory());
  }
  EXPECT_GE(get_cache_memory(), size_t{1} << 20);
  clear_cache();
  EXPECT_EQ(get_cache_memory(), 0u);
  size_t old = set_memory_limit(123456789);
  EXPECT_EQ(get_memory_limit(), 123456789u);
  set_memory_limit(old);
}

TEST(Dtypes, PromotionFollowsMlx) {
  EXPECT_EQ(promote_types(uint8, int8), int16);
  EXPECT_EQ(promote_types(uint64, int32), float32);
  EXPECT_EQ(promote_types(float16, bfloat16), float32);
  EXPECT_EQ(promote_types(int64, float16), float16);
  EXPECT_EQ(promote_types(float64, complex64), complex64);
  EXPECT_EQ(promote_types(bool_, uint16), uint16);
}

TEST(Ops, BadArgumentsThrowNamedErrors) {
  array a = zeros({2, 3});
  try {
    reshape(a, {4, 2});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[reshape] Cannot reshape array of size 6 into shape (4,2).");
  }
  EXPECT_THROW(sum(a, {2}), std::out_of_range);
  EXPECT_THROW(add(a, zeros({4})), std::invalid_argument);
}

// Unified memory bookkeeping (exercised for real by the GPU tests): a host
// write makes a current device copy stale; a buffer whose only current copy
// is on the device keeps it (a host-side view never touched the bytes).
TEST(UnifiedMemory, HostWritesInvalidateOnlyWhenBothCopiesAreCurrent) {
  Data both(cpu_allocator().malloc(16));
  both.residency = Data::kOnHost | Data::kOnDevice;
  both.host_may_have_written();
  EXPECT_TRUE(both.on_host());
  EXPECT_FALSE(both.on_device());

  Data device_only(Buffer{});
  device_only.residency = Data::kOnDevice;
  device_only.host_may_have_written();
  EXPECT_FALSE(device_only.on_host());
  EXPECT_TRUE(device_only.on_device());
}

TEST(UnifiedMemory, CpuResultsLiveOnTheHost) {
  array y = multiply(arange(0, 8, 1, float32), array(2.0f));
  y.eval();
  EXPECT_TRUE(y.data_shared_ptr()->on_host());
  EXPECT_FALSE(y.data_shared_ptr()->on_device());
  EXPECT_EQ(y.data_shared_ptr()->device_ptr, nullptr);
}

TEST(Eval, InlineEvaluationRunsTheGraphOnTheCallingThread) {
  array x = arange(0, 6, 1, float32);
  array y = sum(multiply(x, x), {0}, false);
  detail::eval_inline({y});
  EXPECT_TRUE(y.is_available());
  EXPECT_FLOAT_EQ(y.item<float>(), 55.0f);
  // Errors surface as exceptions, as from eval.
  array bad = take(x, array({7}), 0);
  EXPECT_THROW(detail::eval_inline({bad}), std::out_of_range);
}
