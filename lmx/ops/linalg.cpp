// mx.linalg: norms and products written with ops, factorisations through
// the Factorization primitive.
#include "lmx/ops/linalg.h"

#include <cmath>
#include <stdexcept>

#include "lmx/primitives/factorization.h"

namespace lmx::linalg {

namespace {

// MLX's dtypes: float32/float64, plus complex64 where allow_complex.
void check_matrix(const array& a, const char* op, bool square = true, bool allow_complex = false) {
  if (a.ndim() < 2)
    throw std::invalid_argument(std::string("[linalg::") + op + "] Arrays must have at least two dimensions, got " +
                                std::to_string(a.ndim()) + ".");
  if (square && a.shape(-1) != a.shape(-2))
    throw std::invalid_argument(std::string("[linalg::") + op + "] Matrices must be square, got shape " +
                                shape_string(a.shape()) + ".");
  Dtype t = a.dtype();
  if (t != float32 && t != float64 && !(allow_complex && t == complex64))
    throw std::invalid_argument(std::string("[linalg::") + op + "] Arrays must be float32 or float64" +
                                (allow_complex ? " or complex64" : "") + ", got " + dtype_name(t) + ".");
}

std::vector<array> factor(const array& a, FactorKind kind, std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                          bool upper, bool vectors, S s, std::vector<array> extra = {}) {
  std::vector<array> inputs = {a};
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  auto prim = std::make_shared<Factorization>(to_stream(s), kind, upper, vectors);
  if (shapes.size() == 1) return {array(shapes[0], dtypes[0], prim, inputs)};
  return array::make_arrays(std::move(shapes), dtypes, prim, inputs);
}

Shape with_last(const array& a, std::initializer_list<ShapeElem> last, int drop = 2) {
  Shape s(a.shape().begin(), a.shape().end() - drop);
  s.insert(s.end(), last.begin(), last.end());
  return s;
}

Dtype real_dtype(Dtype t) { return t == complex64 ? float32 : t; }

std::vector<array> lu_outputs(const array& a, S s) {
  ShapeElem m = a.shape(-2), k = std::min(m, a.shape(-1));
  return factor(a, FactorKind::LU, {a.shape(), with_last(a, {k}), with_last(a, {m})}, {a.dtype(), uint32, uint32},
                false, true, s);
}

// a with axes (r, c) moved last, in that order.
array matrices_last(const array& a, int r, int c, S s) {
  std::vector<int> perm;
  for (int d = 0; d < a.ndim(); ++d)
    if (d != r && d != c) perm.push_back(d);
  perm.push_back(r), perm.push_back(c);
  return transpose(a, perm, s);
}

}  // namespace

array inv(const array& a, S s) {
  check_matrix(a, "inv");
  return factor(a, FactorKind::Inverse, {a.shape()}, {a.dtype()}, false, true, s)[0];
}

array tri_inv(const array& a, bool upper, S s) {
  check_matrix(a, "tri_inv");
  return factor(a, FactorKind::TriInverse, {a.shape()}, {a.dtype()}, upper, true, s)[0];
}

array cholesky(const array& a, bool upper, S s) {
  check_matrix(a, "cholesky");
  return factor(a, FactorKind::Cholesky, {a.shape()}, {a.dtype()}, upper, true, s)[0];
}

array cholesky_inv(const array& l, bool upper, S s) {
  // (L L^H)^-1 = L^-H L^-1 from the Cholesky factor.
  check_matrix(l, "cholesky_inv");
  array li = tri_inv(l, upper, s);
  array lih = conjugate(swapaxes(li, -1, -2, s), s);
  return upper ? matmul(li, lih, s) : matmul(lih, li, s);
}

std::pair<array, array> qr(const array& a, S s) {
  check_matrix(a, "qr", false);
  ShapeElem m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  auto out = factor(a, FactorKind::QR, {with_last(a, {m, k}), with_last(a, {k, n})}, {a.dtype(), a.dtype()}, false,
                    true, s);
  return {out[0], out[1]};
}

std::vector<array> svd(const array& a, bool compute_uv, S s) {
  check_matrix(a, "svd", false, true);
  ShapeElem m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Dtype r = real_dtype(a.dtype());
  if (!compute_uv) return factor(a, FactorKind::SVD, {with_last(a, {k})}, {r}, false, false, s);
  return factor(a, FactorKind::SVD, {with_last(a, {m, m}), with_last(a, {k}), with_last(a, {n, n})},
                {a.dtype(), r, a.dtype()}, false, true, s);
}

std::pair<array, array> eigh(const array& a, const std::string& uplo, S s) {
  check_matrix(a, "eigh", true, true);
  if (uplo != "L" && uplo != "U") throw std::invalid_argument("[linalg::eigh] UPLO must be 'L' or 'U'.");
  auto out = factor(a, FactorKind::Eigh, {with_last(a, {a.shape(-1)}), a.shape()}, {real_dtype(a.dtype()), a.dtype()},
                    uplo == "U", true, s);
  return {out[0], out[1]};
}

array eigvalsh(const array& a, const std::string& uplo, S s) {
  check_matrix(a, "eigvalsh", true, true);
  if (uplo != "L" && uplo != "U") throw std::invalid_argument("[linalg::eigvalsh] UPLO must be 'L' or 'U'.");
  return factor(a, FactorKind::Eigh, {with_last(a, {a.shape(-1)})}, {real_dtype(a.dtype())}, uplo == "U", false, s)[0];
}

std::pair<array, array> eig(const array& a, S s) {
  check_matrix(a, "eig", true, true);
  auto out = factor(a, FactorKind::Eig, {with_last(a, {a.shape(-1)}), a.shape()}, {complex64, complex64}, false,
                    true, s);
  return {out[0], out[1]};
}

array eigvals(const array& a, S s) {
  check_matrix(a, "eigvals", true, true);
  return factor(a, FactorKind::Eig, {with_last(a, {a.shape(-1)})}, {complex64}, false, false, s)[0];
}

std::pair<array, array> lu_factor(const array& a, S s) {
  check_matrix(a, "lu_factor", false);
  auto out = lu_outputs(a, s);
  return {out[0], out[1]};
}

std::vector<array> lu(const array& a, S s) {
  check_matrix(a, "lu", false);
  auto out = lu_outputs(a, s);
  ShapeElem m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  auto part = [&](const array& x, ShapeElem rows, ShapeElem cols) {
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    sp[x.ndim() - 2] = rows, sp[x.ndim() - 1] = cols;
    return slice(x, st, sp, step, s);
  };
  // L: unit lower triangle (m, k); U: upper triangle (k, n).
  array l = add(tril(part(out[0], m, k), -1, s), eye(m, k, 0, a.dtype(), s), s);
  array u = triu(part(out[0], k, n), 0, s);
  return {out[2], l, u};
}

namespace {

// A X = B for matrices A (..., N, N) and B a vector (N,) or matrices
// (..., N, K), batch dims broadcast (as MLX), in the promoted dtype.
array solve_with(FactorKind kind, const array& a, const array& b, bool upper, const char* op, S s) {
  if (!is_inexact(a.dtype())) check_matrix(a, op);
  Dtype t = promote_types(a.dtype(), b.dtype());
  check_matrix(astype(a, t, s), op);
  bool vector = b.ndim() == 1;
  array bm = vector ? expand_dims(b, {-1}, s) : b;
  if (bm.ndim() < 2 || bm.shape(-2) != a.shape(-1))
    throw std::invalid_argument(std::string("[linalg::") + op + "] Shapes " + shape_string(a.shape()) + " and " +
                                shape_string(b.shape()) + " do not match.");
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(bm.shape().begin(), bm.shape().end() - 2);
  Shape batch = broadcast_shapes(ab, bb, std::string("linalg::") + op);
  Shape as = batch, bs = batch;
  as.push_back(a.shape(-2)), as.push_back(a.shape(-1));
  bs.push_back(bm.shape(-2)), bs.push_back(bm.shape(-1));
  array x = factor(broadcast_to(astype(a, t, s), as, s), kind, {bs}, {t}, upper, true, s,
                   {broadcast_to(astype(bm, t, s), bs, s)})[0];
  return vector ? squeeze(x, {-1}, s) : x;
}

}  // namespace

array solve(const array& a, const array& b, S s) { return solve_with(FactorKind::Solve, a, b, false, "solve", s); }

array solve_triangular(const array& a, const array& b, bool upper, S s) {
  return solve_with(FactorKind::SolveTriangular, a, b, upper, "solve_triangular", s);
}

array pinv(const array& a, S s) {
  // V diag(1/sigma) U^H over the singular values above a relative cutoff.
  check_matrix(a, "pinv", false);
  auto usv = svd(a, true, s);
  ShapeElem m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  auto cols = [&](const array& x, ShapeElem count) {
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    sp[x.ndim() - 1] = count;
    return slice(x, st, sp, step, s);
  };
  auto rows = [&](const array& x, ShapeElem count) {
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    sp[x.ndim() - 2] = count;
    return slice(x, st, sp, step, s);
  };
  array u = cols(usv[0], k), sv = usv[1], vt = rows(usv[2], k);
  Dtype r = real_dtype(a.dtype());
  double eps = r == float64 ? 2.220446049250313e-16 : 1.1920929e-07;
  array cutoff = multiply(max(sv, {-1}, true, s), array(eps * std::max(m, n), r), s);
  array inv_s = where(greater(sv, cutoff, s), reciprocal(sv, s), zeros_like(sv, {}, s), s);
  array v = conjugate(swapaxes(vt, -1, -2, s), s);
  array uh = conjugate(swapaxes(u, -1, -2, s), s);
  return matmul(multiply(v, astype(expand_dims(inv_s, {-2}, s), a.dtype(), s), s), uh, s);
}

namespace {

// det and slogdet: small matrices (n <= 3) by their closed formulas in any
// real float dtype (integers in float32), as MLX; larger ones through the LU.
array prepare_det(const array& a, const char* op, S s) {
  if (a.ndim() < 2 || a.shape(-1) != a.shape(-2))
    throw std::invalid_argument(std::string("[linalg::") + op + "] Expected square matrices, got shape " +
                                shape_string(a.shape()) + ".");
  if (is_complex(a.dtype()))
    throw std::invalid_argument(std::string("[linalg::") + op + "] complex64 input is not supported.");
  array x = is_inexact(a.dtype()) ? a : astype(a, float32, s);
  if (x.shape(-1) > 3) check_matrix(x, op);
  return x;
}

array closed_det(const array& x, S s) {
  ShapeElem n = x.shape(-1);
  Shape batch(x.shape().begin(), x.shape().end() - 2);
  if (n == 0) return ones(batch, x.dtype(), s);
  auto e = [&](int i, int j) {
    Shape st(x.ndim(), 0), sp = x.shape(), step(x.ndim(), 1);
    st[x.ndim() - 2] = i, sp[x.ndim() - 2] = i + 1, st[x.ndim() - 1] = j, sp[x.ndim() - 1] = j + 1;
    return reshape(slice(x, st, sp, step, s), batch, s);
  };
  if (n == 1) return e(0, 0);
  if (n == 2) return subtract(multiply(e(0, 0), e(1, 1), s), multiply(e(0, 1), e(1, 0), s), s);
  auto m2 = [&](int a, int b, int c, int d) { return subtract(multiply(e(1, a), e(2, b), s), multiply(e(1, c), e(2, d), s), s); };
  return add(subtract(multiply(e(0, 0), m2(1, 2, 2, 1), s), multiply(e(0, 1), m2(0, 2, 2, 0), s), s),
             multiply(e(0, 2), m2(0, 1, 1, 0), s), s);
}

// The LU's sign flip from its row swaps.
array swap_sign(const array& piv, Dtype t, S s) {
  ShapeElem k = piv.shape(-1);
  array swaps = sum(astype(not_equal(piv, arange(0, k, 1, uint32, s), s), int32, s), {-1}, false, s);
  return subtract(array(1, t), astype(multiply(remainder(swaps, array(2), s), array(2), s), t, s), s);
}

}  // namespace

std::pair<array, array> slogdet(const array& a, S s) {
  array x = prepare_det(a, "slogdet", s);
  if (x.shape(-1) <= 3) {
    array d = closed_det(x, s);
    return {sign(d, s), log(abs(d, s), s)};
  }
  auto [lu, piv] = lu_factor(x, s);
  array d = diagonal(lu, 0, -2, -1, s);
  array logdet = sum(log(abs(d, s), s), {-1}, false, s);
  array sgn = multiply(prod(sign(d, s), {-1}, false, s), swap_sign(piv, x.dtype(), s), s);
  return {sgn, logdet};
}

array det(const array& a, S s) {
  array x = prepare_det(a, "det", s);
  if (x.shape(-1) <= 3) return closed_det(x, s);
  auto [lu, piv] = lu_factor(x, s);
  return multiply(prod(diagonal(lu, 0, -2, -1, s), {-1}, false, s), swap_sign(piv, x.dtype(), s), s);
}

array cross(const array& a_in, const array& b_in, int axis, S s) {
  // A 2-vector is a 3-vector with z = 0.
  auto widen = [&](const array& v) {
    if (v.ndim() == 0) throw std::invalid_argument("[linalg::cross] Inputs must have at least one dimension.");
    int ax = normalize_axis(axis, v.ndim(), "linalg::cross");
    if (v.shape(ax) == 2) {
      std::vector<std::pair<int, int>> w(v.ndim(), {0, 0});
      w[ax] = {0, 1};
      return pad(v, w, zeros({}, v.dtype(), s), "constant", s);
    }
    return v;
  };
  array a = widen(a_in), b = widen(b_in);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), "linalg::cross");
  int ax = normalize_axis(axis, static_cast<int>(shape.size()), "linalg::cross");
  if (a.shape(ax - static_cast<int>(shape.size()) + a.ndim()) != 3 ||
      b.shape(ax - static_cast<int>(shape.size()) + b.ndim()) != 3)
    throw std::invalid_argument("[linalg::cross] The axis must have size 2 or 3 in both inputs.");
  array x = broadcast_to(a, shape, s), y = broadcast_to(b, shape, s);
  auto comp = [&](const array& v, int i) { return take(v, array(i), ax, s); };
  array c0 = subtract(multiply(comp(x, 1), comp(y, 2), s), multiply(comp(x, 2), comp(y, 1), s), s);
  array c1 = subtract(multiply(comp(x, 2), comp(y, 0), s), multiply(comp(x, 0), comp(y, 2), s), s);
  array c2 = subtract(multiply(comp(x, 0), comp(y, 1), s), multiply(comp(x, 1), comp(y, 0), s), s);
  return stack({c0, c1, c2}, ax, s);
}

array norm(const array& a, const std::optional<Ord>& ord, const std::optional<std::vector<int>>& axis_in,
           bool keepdims, S s) {
  std::vector<int> axes;
  if (axis_in) {
    if (axis_in->size() > 2) throw std::invalid_argument("[linalg::norm] axis must name one or two dimensions.");
    for (int ax : *axis_in) axes.push_back(normalize_axis(ax, a.ndim(), "linalg::norm"));
  } else if (ord) {
    if (a.ndim() > 2 || a.ndim() == 0)
      throw std::invalid_argument("[linalg::norm] An ord needs a 1-D or 2-D input or explicit axes.");
    for (int d = 0; d < a.ndim(); ++d) axes.push_back(d);
  }
  Dtype r = is_inexact(a.dtype()) ? real_dtype(a.dtype()) : float32;
  array mag = astype(abs(a, s), r, s);
  auto fro = [&](const std::vector<int>& ax) { return sqrt(sum(square(mag, s), ax, keepdims, s), s); };
  if (!ord) {
    // The 2-norm of the flattened array (or over the given axes).
    return fro(axes.empty() ? all_axes(a.ndim()) : axes);
  }
  // MLX quirk kept for compatibility: for complex input, vector norms other
  // than the 2-norm and the matrix 1-norm come back as complex64.
  auto complex_quirk = [&](array x) { return is_complex(a.dtype()) ? astype(x, complex64, s) : x; };
  if (axes.size() == 1) {
    std::vector<int> ax = axes;
    if (std::holds_alternative<std::string>(*ord))
      throw std::invalid_argument("[linalg::norm] String ords are for matrices.");
    double p = std::get<double>(*ord);
    if (p == 2) return fro(ax);
    if (p == INFINITY) return complex_quirk(max(mag, ax, keepdims, s));
    if (p == -INFINITY) return complex_quirk(min(mag, ax, keepdims, s));
    if (p == 0) return complex_quirk(astype(sum(not_equal(mag, zeros_like(mag, {}, s), s), ax, keepdims, s), r, s));
    if (p == 1) return complex_quirk(sum(mag, ax, keepdims, s));
    array pp = array(p, r);
    return complex_quirk(power(sum(power(mag, pp, s), ax, keepdims, s), reciprocal(pp, s), s));
  }
  if (axes.size() != 2) throw std::invalid_argument("[linalg::norm] axis must name one or two dimensions.");
  int r0 = axes[0], c0 = axes[1];
  if (r0 == c0) throw std::invalid_argument("[linalg::norm] The two axes must differ.");
  auto keep = [&](array x, std::vector<int> removed) {
    if (!keepdims) return x;
    std::sort(removed.begin(), removed.end());
    return expand_dims(x, removed, s);
  };
  if (std::holds_alternative<std::string>(*ord)) {
    const std::string& o = std::get<std::string>(*ord);
    if (o == "fro") return fro(axes);
    if (o == "nuc") {
      array m = matrices_last(a, r0, c0, s);
      return keep(sum(svd(astype(m, is_inexact(a.dtype()) ? a.dtype() : float32, s), false, s)[0], {-1}, false, s),
                  {r0, c0});
    }
    throw std::invalid_argument("[linalg::norm] Unknown matrix norm '" + o + "'.");
  }
  double p = std::get<double>(*ord);
  if (p == 1 || p == -1) {
    array colsum = sum(mag, {r0}, true, s);
    array v = p == 1 ? max(colsum, {c0}, true, s) : min(colsum, {c0}, true, s);
    if (p == 1) v = complex_quirk(v);
    return keepdims ? v : squeeze(v, {r0, c0}, s);
  }
  if (p == INFINITY || p == -INFINITY) {
    array rowsum = sum(mag, {c0}, true, s);
    array v = p > 0 ? max(rowsum, {r0}, true, s) : min(rowsum, {r0}, true, s);
    return keepdims ? v : squeeze(v, {r0, c0}, s);
  }
  if (p == 2 || p == -2) {
    array m = matrices_last(a, r0, c0, s);
    array sv = svd(astype(m, is_inexact(a.dtype()) ? a.dtype() : float32, s), false, s)[0];
    return keep(p > 0 ? max(sv, {-1}, false, s) : min(sv, {-1}, false, s), {r0, c0});
  }
  throw std::invalid_argument("[linalg::norm] Unsupported matrix norm order.");
}

}  // namespace lmx::linalg
