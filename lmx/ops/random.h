// mx.random (ops/random.cpp): key-based, splittable generators. Without a
// key, each call splits the global key (set by seed) and uses one half.
#pragma once

#include <functional>
#include <utility>

#include "lmx/ops/ops.h"

namespace lmx::random {

array key(uint64_t seed);
void seed(uint64_t seed);

// Where the global key lives. By default a variable of the library; the
// Python package keeps it in mx.random.state (a list), as MLX does, so that
// compile can capture it as state. `advance` must replace the key k by
// step(k).first and return step(k).second as one atomic update. An empty
// store restores the library's own.
using KeyStep = std::function<std::pair<array, array>(const array&)>;
struct GlobalKeyStore {
  std::function<array(const KeyStep&)> advance;
  std::function<void(const array&)> set;
};
void set_global_key_store(GlobalKeyStore store);
array split(const array& key, int num = 2, S s = {});
// Raw uint32 words.
array bits(const Shape& shape, const std::optional<array>& key = {}, S s = {});
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = {}, S s = {});
array normal(const Shape& shape, Dtype dtype = float32, const std::optional<array>& loc = {},
             const std::optional<array>& scale = {}, const std::optional<array>& key = {}, S s = {});
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = {}, S s = {});
array bernoulli(const array& p, const std::optional<Shape>& shape = {}, const std::optional<array>& key = {},
                S s = {});
array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape = {},
                       Dtype dtype = float32, const std::optional<array>& key = {}, S s = {});
array gumbel(const Shape& shape, Dtype dtype = float32, const std::optional<array>& key = {}, S s = {});
array laplace(const Shape& shape, Dtype dtype = float32, float loc = 0.0f, float scale = 1.0f,
              const std::optional<array>& key = {}, S s = {});
array categorical(const array& logits, int axis = -1, const std::optional<Shape>& shape = {},
                  std::optional<int> num_samples = {}, const std::optional<array>& key = {}, S s = {});
array permutation(int n, const std::optional<array>& key = {}, S s = {});
array permutation(const array& x, int axis = 0, const std::optional<array>& key = {}, S s = {});
array multivariate_normal(const array& mean, const array& cov, const Shape& shape = {}, Dtype dtype = float32,
                          const std::optional<array>& key = {}, S s = {});

}  // namespace lmx::random
