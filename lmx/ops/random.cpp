#include "lmx/ops/random.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "lmx/ops/linalg.h"
#include "lmx/primitives/random.h"

namespace lmx::random {

namespace {

// The library's own store: a variable behind a mutex.
GlobalKeyStore default_store() {
  struct State {
    std::mutex mu;
    array key = random::key(0);
  };
  auto st = std::make_shared<State>();
  return {[st](const KeyStep& step) {
            std::lock_guard lk(st->mu);
            auto [next, use] = step(st->key);
            st->key = next;
            return use;
          },
          [st](const array& k) {
            std::lock_guard lk(st->mu);
            st->key = k;
          }};
}

std::mutex store_mu;

GlobalKeyStore& global_store() {
  static GlobalKeyStore store = default_store();
  return store;
}

GlobalKeyStore current_store() {
  std::lock_guard lk(store_mu);
  return global_store();
}

void check_key(const array& k, const char* op) {
  if (k.dtype() != uint32 || k.shape() != Shape{2})
    throw std::invalid_argument(std::string("[random::") + op + "] A key is a uint32 array of shape (2,), got " +
                                dtype_name(k.dtype()) + " " + shape_string(k.shape()) + ".");
}

// The key to use: the given one, or a fresh half of the global key.
array next_key(const std::optional<array>& k, const char* op) {
  if (k) {
    check_key(*k, op);
    return *k;
  }
  return current_store().advance([](const array& k) {
    array parts = random::split(k, 2);
    array next = reshape(slice(parts, {0, 0}, {1, 2}, {1, 1}), {2});
    array use = reshape(slice(parts, {1, 0}, {2, 2}, {1, 1}), {2});
    return std::make_pair(next, use);
  });
}

void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape)
    if (d < 0) throw std::invalid_argument(std::string("[random::") + op + "] Negative dimensions are not allowed.");
}

void check_float(Dtype t, const char* op) {
  if (!is_inexact(t) || is_complex(t))
    throw std::invalid_argument(std::string("[random::") + op + "] Needs a floating point dtype, got " +
                                dtype_name(t) + ".");
}

// A bound's shape must broadcast to the sample shape.
array fit_bound(const array& b, const Shape& shape, const char* op, S s) {
  if (b.ndim() > static_cast<int>(shape.size()) || broadcast_shapes(b.shape(), shape, op) != shape)
    throw std::invalid_argument(std::string("[random::") + op + "] A bound of shape " + shape_string(b.shape()) +
                                " does not broadcast to the sample shape " + shape_string(shape) + ".");
  return b;
}

array nextafter_below_one(Dtype t) {
  switch (t.val()) {
    case Dtype::Val::float16: return array(1.0 - std::ldexp(1.0, -11), float16);
    case Dtype::Val::bfloat16: return array(1.0 - std::ldexp(1.0, -8), bfloat16);
    case Dtype::Val::float64: return array(std::nextafter(1.0, 0.0), float64);
    default: return array(std::nextafter(1.0f, 0.0f));
  }
}

// uniform(0, 1) in dtype: word / (2^32 - 1) in float32, kept below 1.
array unit(const Shape& shape, Dtype t, const array& k, S s) {
  array u = divide(astype(bits(shape, k, s), float32, s), array(4294967295.0f), s);
  return minimum(astype(u, t, s), nextafter_below_one(t), s);
}

// lo + u * (hi - lo) with u = unit(...), every step rounded in dtype (as MLX).
array scaled_unit(const array& lo, const array& hi, const Shape& shape, Dtype t, const array& k, S s) {
  return add(lo, multiply(unit(shape, t, k, s), subtract(hi, lo, s), s), s);
}

// uniform(nextafter(-1, 0), 1) in t: the input of normal and laplace.
array symmetric_unit(const Shape& shape, Dtype t, const array& k, S s) {
  return scaled_unit(array(-1.0 + std::ldexp(1.0, -24), t), array(1.0, t), shape, t, k, s);
}

}  // namespace

array key(uint64_t seed) {
  uint32_t v[2] = {static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed & 0xffffffffu)};
  return array(v, Shape{2}, uint32);
}

void seed(uint64_t s) { current_store().set(key(s)); }

void set_global_key_store(GlobalKeyStore store) {
  std::lock_guard lk(store_mu);
  global_store() = store.advance ? std::move(store) : default_store();
}

array bits(const Shape& shape, const std::optional<array>& k, S s) {
  check_shape(shape, "bits");
  array kk = next_key(k, "bits");
  return array(shape, uint32, std::make_shared<RandomBits>(to_stream(s)), {kk});
}

array split(const array& k, int num, S s) {
  check_key(k, "split");
  if (num < 0) throw std::invalid_argument("[random::split] num must be non-negative.");
  return reshape(bits({2 * num}, k, s), {num, 2}, s);
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype, const std::optional<array>& k,
              S s) {
  check_shape(shape, "uniform");
  check_float(dtype, "uniform");
  array kk = next_key(k, "uniform");
  array lo = astype(fit_bound(low, shape, "uniform", s), dtype, s);
  array hi = astype(fit_bound(high, shape, "uniform", s), dtype, s);
  return scaled_unit(lo, hi, shape, dtype, kk, s);
}

array normal(const Shape& shape_in, Dtype dtype, const std::optional<array>& loc, const std::optional<array>& scale,
             const std::optional<array>& k, S s) {
  check_shape(shape_in, "normal");
  if (is_complex(dtype)) {
    // (real, imaginary) pairs of standard normals, each of variance 1/2.
    Shape pairs = shape_in;
    pairs.push_back(2);
    array z = normal(pairs, float32, {}, {}, k, s);
    array re = take(z, array(0), -1, s), im = take(z, array(1), -1, s);
    array c = multiply(add(astype(re, complex64, s),
                           multiply(astype(im, complex64, s), array(complex64_t(0.0f, 1.0f), complex64), s), s),
                       array(static_cast<float>(M_SQRT1_2), complex64), s);
    if (scale) c = multiply(astype(*scale, complex64, s), c, s);
    if (loc) c = add(astype(*loc, complex64, s), c, s);
    return c;
  }
  check_float(dtype, "normal");
  // The sample has `shape`; the result broadcasts with loc and scale.
  Shape shape = shape_in, out_shape = shape_in;
  if (loc) out_shape = broadcast_shapes(out_shape, loc->shape(), "random::normal");
  if (scale) out_shape = broadcast_shapes(out_shape, scale->shape(), "random::normal");
  array kk = next_key(k, "normal");
  // sqrt(2) erfinv(u), u uniform in (-1, 1) in float32 (float64: in float64).
  array u = symmetric_unit(shape, dtype == float64 ? float64 : float32, kk, s);
  array e = astype(erfinv(u, s), dtype, s);
  array sc = array(M_SQRT2, dtype);
  if (scale) sc = multiply(sc, astype(*scale, dtype, s), s);
  array out = multiply(sc, e, s);
  return loc ? add(out, astype(*loc, dtype, s), s) : out;
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype, const std::optional<array>& k,
              S s) {
  check_shape(shape, "randint");
  if (!is_integral(dtype) || dtype == bool_)
    throw std::invalid_argument("[random::randint] Needs an integer dtype, got " + dtype_name(dtype) + ".");
  array kk = next_key(k, "randint");
  array lo = astype(fit_bound(low, shape, "randint", s), float32, s);
  array hi = astype(fit_bound(high, shape, "randint", s), float32, s);
  array v = floor(scaled_unit(lo, hi, shape, float32, kk, s), s);
  v = maximum(minimum(v, subtract(hi, array(1.0f), s), s), lo, s);
  return astype(broadcast_to(v, shape, s), dtype, s);
}

array bernoulli(const array& p, const std::optional<Shape>& shape_in, const std::optional<array>& k, S s) {
  if (!is_inexact(p.dtype()))
    throw std::invalid_argument("[random::bernoulli] p must be floating point, got " + dtype_name(p.dtype()) + ".");
  Shape shape = shape_in.value_or(p.shape());
  check_shape(shape, "bernoulli");
  fit_bound(p, shape, "bernoulli", s);
  array kk = next_key(k, "bernoulli");
  return less(unit(shape, float32, kk, s), p, s);
}

array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape_in, Dtype dtype,
                       const std::optional<array>& k, S s) {
  check_float(dtype, "truncated_normal");
  Shape shape = shape_in ? *shape_in : broadcast_shapes(lower.shape(), upper.shape(), "random::truncated_normal");
  check_shape(shape, "truncated_normal");
  array lo = astype(fit_bound(lower, shape, "truncated_normal", s), dtype, s);
  array hi = astype(fit_bound(upper, shape, "truncated_normal", s), dtype, s);
  array sqrt1_2 = array(M_SQRT1_2, float32);
  array lc = astype(erf(multiply(astype(lo, float32, s), sqrt1_2, s), s), dtype, s);
  array uc = astype(erf(multiply(astype(hi, float32, s), sqrt1_2, s), s), dtype, s);
  array u = uniform(lc, uc, shape, dtype, k, s);
  array x = multiply(array(M_SQRT2, dtype), erfinv(u, s), s);
  return maximum(minimum(x, hi, s), lo, s);
}

array gumbel(const Shape& shape, Dtype dtype, const std::optional<array>& k, S s) {
  check_float(dtype, "gumbel");
  check_shape(shape, "gumbel");
  array kk = next_key(k, "gumbel");
  double tiny = dtype == float16 ? std::ldexp(1.0, -14) : dtype == float64 ? std::numeric_limits<double>::min()
                                                                           : std::ldexp(1.0, -126);
  array u = maximum(unit(shape, dtype, kk, s), array(tiny, dtype), s);
  return negative(log(negative(log(u, s), s), s), s);
}

array laplace(const Shape& shape, Dtype dtype, float loc, float scale, const std::optional<array>& k, S s) {
  check_float(dtype, "laplace");
  check_shape(shape, "laplace");
  array kk = next_key(k, "laplace");
  array u = symmetric_unit(shape, float32, kk, s);
  array x = multiply(sign(u, s), log1p(negative(abs(u, s), s), s), s);
  return astype(add(array(loc), multiply(array(scale), x, s), s), dtype, s);
}

array categorical(const array& logits, int axis, const std::optional<Shape>& shape, std::optional<int> num_samples,
                  const std::optional<array>& k, S s) {
  int nd = logits.ndim();
  int ax = normalize_axis(axis, nd, "random::categorical");
  if (shape && num_samples)
    throw std::invalid_argument("[random::categorical] Give at most one of shape and num_samples.");
  if (num_samples) {
    if (*num_samples < 0) throw std::invalid_argument("[random::categorical] num_samples must be non-negative.");
    Shape gshape = logits.shape();
    gshape.push_back(*num_samples);
    array g = gumbel(gshape, float32, k, s);
    return argmax(add(expand_dims(logits, {-1}, s), g, s), ax, false, s);
  }
  if (!shape) return argmax(add(logits, gumbel(logits.shape(), float32, k, s), s), ax, false, s);
  // The category axis sits at the same position from the end as in logits.
  int from_end = ax - nd;
  Shape gshape = *shape;
  int pos = static_cast<int>(gshape.size()) + from_end + 1;
  if (pos < 0 || pos > static_cast<int>(gshape.size()))
    throw std::invalid_argument("[random::categorical] shape is not compatible with the logits.");
  gshape.insert(gshape.begin() + pos, logits.shape(ax));
  Shape b;
  try {
    b = broadcast_shapes(logits.shape(), gshape, "random::categorical");
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[random::categorical] shape " + shape_string(*shape) +
                                " does not broadcast with the logits' batch shape.");
  }
  if (b != gshape)
    throw std::invalid_argument("[random::categorical] shape " + shape_string(*shape) +
                                " does not broadcast with the logits' batch shape.");
  return argmax(add(logits, gumbel(gshape, float32, k, s), s), from_end, false, s);
}

array permutation(int n, const std::optional<array>& k, S s) {
  if (n < 0) throw std::invalid_argument("[random::permutation] n must be non-negative.");
  return argsort(bits({n}, k, s), 0, s);
}

array permutation(const array& x, int axis, const std::optional<array>& k, S s) {
  int ax = normalize_axis(axis, x.ndim(), "random::permutation");
  return take(x, permutation(x.shape(ax), k, s), ax, s);
}

array multivariate_normal(const array& mean, const array& cov, const Shape& shape, Dtype dtype,
                          const std::optional<array>& k, S s) {
  if (dtype != float32) throw std::invalid_argument("[random::multivariate_normal] Only float32 is supported.");
  if (mean.ndim() < 1) throw std::invalid_argument("[random::multivariate_normal] mean must have at least one dimension.");
  if (cov.ndim() < 2 || cov.shape(-1) != cov.shape(-2))
    throw std::invalid_argument("[random::multivariate_normal] cov must be square matrices.");
  ShapeElem n = mean.shape(-1);
  if (cov.shape(-1) != n)
    throw std::invalid_argument("[random::multivariate_normal] mean and cov sizes differ.");
  Shape mb(mean.shape().begin(), mean.shape().end() - 1), cb(cov.shape().begin(), cov.shape().end() - 2);
  Shape batch = broadcast_shapes(broadcast_shapes(mb, cb, "random::multivariate_normal"), shape,
                                 "random::multivariate_normal");
  if (batch != shape && !shape.empty())
    throw std::invalid_argument("[random::multivariate_normal] shape " + shape_string(shape) +
                                " does not match the batch shape of mean and cov.");
  Shape zs = batch;
  zs.push_back(n);
  array z = normal(zs, float32, {}, {}, k, s);
  // The symmetric square root U diag(sqrt S) V^T of cov.
  auto usv = linalg::svd(astype(cov, float32, s), true, s);
  array root = matmul(multiply(usv[0], expand_dims(sqrt(usv[1], s), {-2}, s), s), usv[2], s);
  array y = squeeze(matmul(expand_dims(z, {-2}, s), root, s), {-2}, s);
  return add(astype(mean, float32, s), y, s);
}

}  // namespace lmx::random
