// The matrix-product family: matmul and the products written in terms of it.
#include <algorithm>
#include <numeric>
#include <cmath>
#include <stdexcept>

#include "lmx/ops/ops.h"
#include "lmx/primitives/linalg.h"

namespace lmx {

array matmul(const array& a_in, const array& b_in, S s) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0)
    throw std::invalid_argument("[matmul] Got 0 dimension input. Inputs must have at least one dimension.");
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  // lmx also multiplies integer matrices exactly (wrapping like NumPy, where
  // MLX refuses them); only bool has no product.
  if (t == bool_)
    throw std::invalid_argument("[matmul] Boolean matrices are not supported; cast them to a numeric type.");
  // 1-D operands become a row (a) or a column (b) and lose that axis again.
  array a = a_in.ndim() == 1 ? reshape(a_in, {1, a_in.shape(0)}, s) : a_in;
  array b = b_in.ndim() == 1 ? reshape(b_in, {b_in.shape(0), 1}, s) : b_in;
  if (a.shape(-1) != b.shape(-2))
    throw std::invalid_argument("[matmul] Last dimension of first input with shape " + shape_string(a_in.shape()) +
                                " must match second to last dimension of second input with shape " +
                                shape_string(b_in.shape()) + ".");
  Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  auto prep = [&](array x) {
    if (x.dtype() != t) x = astype(x, t, s);
    Shape full = batch;
    full.push_back(x.shape(-2));
    full.push_back(x.shape(-1));
    return x.shape() == full ? x : broadcast_to(x, full, s);
  };
  a = prep(a);
  // A (K, N) matrix against batched a stays one matrix: the primitive shares
  // it over the batch (see primitives/linalg.h) instead of a broadcast node.
  const bool shared_rhs = b.ndim() == 2 && a.ndim() > 2;
  if (shared_rhs) {
    if (b.dtype() != t) b = astype(b, t, s);
  } else {
    b = prep(b);
  }
  Shape out_shape = batch;
  out_shape.push_back(a.shape(-2));
  out_shape.push_back(b.shape(-1));
  array out(out_shape, t, std::make_shared<Matmul>(to_stream(s)), {a, b});
  if (a_in.ndim() == 1 || b_in.ndim() == 1) {
    Shape squeezed = batch;
    if (a_in.ndim() != 1) squeezed.push_back(a.shape(-2));
    if (b_in.ndim() != 1) squeezed.push_back(b.shape(-1));
    out = reshape(out, squeezed, s);
  }
  return out;
}

array addmm(const array& c, const array& a, const array& b, float alpha, float beta, S s) {
  array ab = matmul(a, b, s);
  if (c.ndim() > ab.ndim() || broadcast_shapes(c.shape(), ab.shape(), "addmm") != ab.shape())
    throw std::invalid_argument("[addmm] c with shape " + shape_string(c.shape()) +
                                " does not broadcast to the product's shape " + shape_string(ab.shape()) + ".");
  // alpha and beta scale like Python scalars: they keep a float dtype and
  // keep integers integral when they are whole numbers.
  auto scaled = [&](const array& x, float f) {
    if (f == 1.0f) return x;
    bool whole = std::floor(f) == f;
    Dtype t = is_inexact(x.dtype()) || whole ? x.dtype() : float32;
    return multiply(astype(x, t, s), array(f, t), s);
  };
  ab = scaled(ab, alpha);
  if (beta == 0.0f) return ab;
  return add(scaled(c, beta), ab, s);
}

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b,
                S s) {
  if (axes_a.size() != axes_b.size())
    throw std::invalid_argument("[tensordot] Both operands need the same number of contracted axes.");
  auto ax_a = normalize_axes(axes_a, a.ndim(), "tensordot");
  std::vector<int> ax_b;
  for (int ax : axes_b) ax_b.push_back(normalize_axis(ax, b.ndim(), "tensordot"));
  // Keep the pairing: order b's axes like the (sorted) axes of a.
  std::vector<int> order(axes_a.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<int> a_norm;
  for (int ax : axes_a) a_norm.push_back(normalize_axis(ax, a.ndim(), "tensordot"));
  std::sort(order.begin(), order.end(), [&](int i, int j) { return a_norm[i] < a_norm[j]; });
  std::vector<int> ca, cb;
  for (int i : order) {
    ca.push_back(a_norm[i]);
    cb.push_back(ax_b[i]);
    if (a.shape(a_norm[i]) != b.shape(ax_b[i]))
      throw std::invalid_argument("[tensordot] Contracted dimensions of size " + std::to_string(a.shape(a_norm[i])) +
                                  " and " + std::to_string(b.shape(ax_b[i])) + " differ.");
  }
  std::vector<bool> in_a(a.ndim(), false), in_b(b.ndim(), false);
  for (int x : ca) in_a[x] = true;
  for (int x : cb) {
    if (in_b[x]) throw std::invalid_argument("[tensordot] An axis of b is contracted twice.");
    in_b[x] = true;
  }
  std::vector<int> perm_a, perm_b;
  Shape free_a, free_b;
  ShapeElem m = 1, n = 1, k = 1;
  for (int i = 0; i < a.ndim(); ++i)
    if (!in_a[i]) perm_a.push_back(i), free_a.push_back(a.shape(i)), m *= a.shape(i);
  for (int x : ca) perm_a.push_back(x), k *= a.shape(x);
  for (int x : cb) perm_b.push_back(x);
  for (int i = 0; i < b.ndim(); ++i)
    if (!in_b[i]) perm_b.push_back(i), free_b.push_back(b.shape(i)), n *= b.shape(i);
  array am = reshape(transpose(a, perm_a, s), {m, k}, s);
  array bm = reshape(transpose(b, perm_b, s), {k, n}, s);
  Shape out = free_a;
  out.insert(out.end(), free_b.begin(), free_b.end());
  return reshape(matmul(am, bm, s), out, s);
}

array tensordot(const array& a, const array& b, int axes, S s) {
  if (axes < 0 || axes > a.ndim() || axes > b.ndim())
    throw std::invalid_argument("[tensordot] axes must be between 0 and the operands' ranks.");
  std::vector<int> aa, bb;
  for (int i = 0; i < axes; ++i) {
    aa.push_back(a.ndim() - axes + i);
    bb.push_back(i);
  }
  return tensordot(a, b, aa, bb, s);
}

array inner(const array& a, const array& b, S s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape(-1) != b.shape(-1))
    throw std::invalid_argument("[inner] Last dimensions " + std::to_string(a.shape(-1)) + " and " +
                                std::to_string(b.shape(-1)) + " differ.");
  return tensordot(a, b, {a.ndim() - 1}, {b.ndim() - 1}, s);
}

array outer(const array& a, const array& b, S s) {
  array x = reshape(a, {static_cast<ShapeElem>(a.size()), 1}, s);
  array y = reshape(b, {1, static_cast<ShapeElem>(b.size())}, s);
  return multiply(x, y, s);
}

array kron(const array& a, const array& b, S s) {
  if (a.size() == 0 || b.size() == 0) throw std::invalid_argument("[kron] Inputs cannot be empty.");
  int nd = std::max(a.ndim(), b.ndim());
  Shape sa(nd - a.ndim(), 1), sb(nd - b.ndim(), 1);
  sa.insert(sa.end(), a.shape().begin(), a.shape().end());
  sb.insert(sb.end(), b.shape().begin(), b.shape().end());
  // Interleave: a's axes at even positions, b's at odd, then merge pairs.
  Shape ea, eb, out;
  for (int i = 0; i < nd; ++i) {
    ea.push_back(sa[i]), ea.push_back(1);
    eb.push_back(1), eb.push_back(sb[i]);
    out.push_back(sa[i] * sb[i]);
  }
  return reshape(multiply(reshape(a, ea, s), reshape(b, eb, s), s), out, s);
}

array vecdot(const array& a, const array& b, int axis, S s) {
  if (a.ndim() == 0 || b.ndim() == 0)
    throw std::invalid_argument("[vecdot] Inputs must have at least one dimension.");
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "vecdot");
  int ax = normalize_axis(axis, static_cast<int>(shape.size()), "vecdot");
  // conj(a) . b along the axis, with sum's result types.
  return sum(multiply(conjugate(a, s), b, s), {ax}, false, s);
}

array gather_mm(const array& a, const array& b, const std::optional<array>& lhs_indices,
                const std::optional<array>& rhs_indices, S s) {
  if (a.ndim() < 2 || b.ndim() < 2)
    throw std::invalid_argument("[gather_mm] Inputs must have at least two dimensions.");
  // Each operand's batch dims are flattened into one axis of matrices that
  // the indices select from; the index arrays broadcast against each other.
  auto matrices = [&](const array& x) {
    ShapeElem batch = 1;
    for (int d = 0; d < x.ndim() - 2; ++d) batch *= x.shape(d);
    return reshape(x, {batch, x.shape(-2), x.shape(-1)}, s);
  };
  std::vector<array> idx;
  if (lhs_indices) idx.push_back(*lhs_indices);
  if (rhs_indices) idx.push_back(*rhs_indices);
  for (auto& i : idx)
    if (!is_integral(i.dtype()) || i.dtype() == bool_)
      throw std::invalid_argument("[gather_mm] Indices must be integers, got " + dtype_name(i.dtype()) + ".");
  if (idx.size() == 2) broadcast_shapes(idx[0].shape(), idx[1].shape(), "gather_mm");
  array x = lhs_indices ? take(matrices(a), *lhs_indices, 0, s) : a;
  array y = rhs_indices ? take(matrices(b), *rhs_indices, 0, s) : b;
  return matmul(x, y, s);
}

array segmented_mm(const array& a, const array& b, const array& segments, S s) {
  if (segments.ndim() == 0 || segments.shape(-1) != 2)
    throw std::invalid_argument("[segmented_mm] Segments must have shape (..., 2), got " +
                                shape_string(segments.shape()) + ".");
  if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0))
    throw std::invalid_argument("[segmented_mm] Expected a (M, K) and b (K, N) with matching K.");
  // Column k of a (row k of b) counts for a segment when start <= k < end.
  ShapeElem k = a.shape(1);
  array pos = arange(0, k, 1, int64, s);
  array starts = astype(take(segments, array(0), -1, s), int64, s);
  array ends = astype(take(segments, array(1), -1, s), int64, s);
  array mask = logical_and(greater_equal(pos, expand_dims(starts, {-1}, s), s),
                           less(pos, expand_dims(ends, {-1}, s), s), s);  // (..., K)
  array am = multiply(a, astype(expand_dims(mask, {-2}, s), a.dtype(), s), s);  // (..., M, K)
  return matmul(am, b, s);
}

array block_masked_mm(const array& a, const array& b, int block_size, const std::optional<array>& mask_out,
                      const std::optional<array>& mask_lhs, const std::optional<array>& mask_rhs, S s) {
  if (!is_inexact(promote_types(a.dtype(), b.dtype())))
    throw std::invalid_argument("[block_masked_mm] Only floating point inputs are supported.");
  if (block_size <= 0) throw std::invalid_argument("[block_masked_mm] block_size must be positive.");
  // A block mask applies to every element of its block (ragged edge blocks
  // cover what is left); float masks scale.
  auto expand = [&](const array& m, ShapeElem rows, ShapeElem cols, Dtype t) {
    array e = repeat(repeat(m, block_size, m.ndim() - 2, s), block_size, m.ndim() - 1, s);
    Shape start(e.ndim(), 0), stop = e.shape(), step(e.ndim(), 1);
    stop[e.ndim() - 2] = rows, stop[e.ndim() - 1] = cols;
    return astype(slice(e, start, stop, step, s), t, s);
  };
  Dtype t = promote_types(a.dtype(), b.dtype());
  array x = mask_lhs ? multiply(a, expand(*mask_lhs, a.shape(-2), a.shape(-1), t), s) : a;
  array y = mask_rhs ? multiply(b, expand(*mask_rhs, b.shape(-2), b.shape(-1), t), s) : b;
  array out = matmul(x, y, s);
  if (mask_out) out = multiply(out, expand(*mask_out, out.shape(-2), out.shape(-1), out.dtype()), s);
  return out;
}

namespace {

// The quadratic character of x modulo the prime q: 0, 1 or -1.
int legendre(int x, int q) {
  x = ((x % q) + q) % q;
  if (x == 0) return 0;
  for (int y = 1; y < q; ++y)
    if (y * y % q == x) return 1;
  return -1;
}

// A Hadamard matrix of order m in {12, 20, 28} from Paley's constructions:
// type I (I + C, q = m - 1 = 3 mod 4) for 12 and 20, type II (q = 13) for 28.
std::vector<float> paley_hadamard(int m) {
  auto conference = [](int q, bool antisymmetric) {
    // C = [[0, 1^T], [+-1, Q]] with Q[i][j] = legendre(j - i).
    int n = q + 1;
    std::vector<int> c(n * n, 0);
    for (int i = 1; i < n; ++i) {
      c[i] = 1;
      c[i * n] = antisymmetric ? -1 : 1;
      for (int j = 1; j < n; ++j) c[i * n + j] = legendre(j - i, q);
    }
    return c;
  };
  std::vector<float> h(m * m);
  if (m == 12 || m == 20) {
    auto c = conference(m - 1, true);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) h[i * m + j] = static_cast<float>(c[i * m + j] + (i == j));
    return h;
  }
  // Type II: H = C (x) [[1, -1], [-1, -1]] + I (x) [[1, 1], [1, -1]].
  const int q = 13, n = q + 1;
  auto c = conference(q, false);
  const int a[2][2] = {{1, -1}, {-1, -1}}, b[2][2] = {{1, 1}, {1, -1}};
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int u = 0; u < 2; ++u)
        for (int v = 0; v < 2; ++v)
          h[(2 * i + u) * m + 2 * j + v] = static_cast<float>(c[i * n + j] * a[u][v] + (i == j) * b[u][v]);
  return h;
}

}  // namespace

array hadamard_transform(const array& a, std::optional<float> scale, S s) {
  if (a.ndim() == 0) throw std::invalid_argument("[hadamard_transform] Input must have at least one dimension.");
  Dtype t = is_inexact(a.dtype()) ? a.dtype() : float32;
  if (t == float64 || t == complex64)
    throw std::invalid_argument("[hadamard_transform] Only float16, bfloat16 and float32 are supported.");
  const ShapeElem n = a.shape(-1);
  // n = m * 2^k with m in {1, 12, 20, 28}: H_n = H_m (x) H_{2^k}.
  int m = 0;
  for (int cand : {1, 12, 20, 28}) {
    ShapeElem p = n / cand;
    if (n > 0 && n % cand == 0 && (p & (p - 1)) == 0) {
      m = cand;
      break;
    }
  }
  if (m == 0)
    throw std::invalid_argument("[hadamard_transform] The last dimension must be m * 2^k with m in {1, 12, 20, 28}, "
                                "got " + std::to_string(n) + ".");
  const ShapeElem p = n / m;
  Shape lead(a.shape().begin(), a.shape().end() - 1);
  Shape rows = lead;
  rows.push_back(m), rows.push_back(p);
  // Sylvester butterflies over the 2^k axis in float32: pairs (u, v) -> (u + v, u - v).
  array x = reshape(astype(a, float32, s), rows, s);
  for (ShapeElem h = 1; h < p; h *= 2) {
    Shape sh = lead;
    sh.push_back(m), sh.push_back(p / (2 * h)), sh.push_back(2), sh.push_back(h);
    array y = reshape(x, sh, s);
    int ax = static_cast<int>(sh.size()) - 2;
    auto half = [&](int i) {
      Shape st(sh.size(), 0), sp = sh, step(sh.size(), 1);
      st[ax] = i, sp[ax] = i + 1;
      return slice(y, st, sp, step, s);
    };
    array u = half(0), v = half(1);
    x = reshape(concatenate({add(u, v, s), subtract(u, v, s)}, ax, s), rows, s);
  }
  if (m > 1) {
    auto hm = paley_hadamard(m);
    x = matmul(array(hm.data(), {m, m}, float32), x, s);
  }
  float sc = scale.value_or(1.0f / std::sqrt(static_cast<float>(n)));
  return astype(reshape(multiply(x, array(sc), s), a.shape(), s), t, s);
}

}  // namespace lmx
