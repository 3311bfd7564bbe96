// Differentiation rules of the factorisations (real matrices).
#include "lmx/primitives/factorization.h"

#include "lmx/ops/linalg.h"

namespace lmx {

namespace {

array mT(const array& x) { return swapaxes(x, -1, -2); }

// The lower (or upper) triangle of x, the rest zero.
array triangle(const array& x, bool upper) { return upper ? triu(x, 0) : tril(x, 0); }

}  // namespace

std::vector<array> Factorization::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                      const std::vector<int>& argnums, const std::vector<array>& outputs) {
  if (is_complex(primals[0].dtype())) return Primitive::vjp(primals, cotangents, argnums, outputs);
  const array& a = primals[0];
  switch (kind_) {
    case FactorKind::Inverse: {
      // d(A^-1) = -A^-1 dA A^-1  =>  dA = -Y^T g Y^T
      array yT = mT(outputs[0]);
      return {negative(matmul(matmul(yT, cotangents[0]), yT))};
    }
    case FactorKind::TriInverse: {
      array yT = mT(outputs[0]);
      return {triangle(negative(matmul(matmul(yT, cotangents[0]), yT)), upper_)};
    }
    case FactorKind::Solve:
    case FactorKind::SolveTriangular: {
      // X = A^-1 B: dB = A^-T g, dA = -dB X^T.
      const array& x = outputs[0];
      bool tri = kind_ == FactorKind::SolveTriangular;
      array db = tri ? linalg::solve_triangular(mT(a), cotangents[0], !upper_) : linalg::solve(mT(a), cotangents[0]);
      std::vector<array> out;
      for (int arg : argnums) {
        if (arg == 1) {
          out.push_back(db);
        } else {
          array da = negative(matmul(db, mT(x)));
          out.push_back(tri ? triangle(da, upper_) : da);
        }
      }
      return out;
    }
    case FactorKind::Cholesky: {
      // A = L L^T: dA = sym(L^-T Phi(L^T dL) L^-1), Phi = lower triangle
      // with the diagonal halved.
      array l = upper_ ? mT(outputs[0]) : outputs[0];
      array gl = upper_ ? mT(cotangents[0]) : cotangents[0];
      array phi = tril(matmul(mT(l), gl), 0);
      array eye_n = eye(a.shape(-1), a.shape(-1), 0, a.dtype());
      phi = subtract(phi, multiply(multiply(phi, eye_n), array(0.5, a.dtype())));
      array linv = linalg::tri_inv(l, false);
      array s = matmul(matmul(mT(linv), phi), linv);
      return {multiply(add(s, mT(s)), array(0.5, a.dtype()))};
    }
    case FactorKind::Eigh: {
      if (!vectors_) {
        // Eigenvalues only: dA = V diag(gw) V^T, with V from a full solve.
        array v = linalg::eigh(a, upper_ ? "U" : "L").second;
        array da = matmul(multiply(v, expand_dims(cotangents[0], {-2})), mT(v));
        return {multiply(add(da, mT(da)), array(0.5, a.dtype()))};
      }
      // A = V diag(w) V^T: dA = V (diag(gw) + F o (V^T gV)) V^T, F_ij = 1/(w_j - w_i).
      const array& w = outputs[0];
      const array& v = outputs[1];
      array diff = subtract(expand_dims(w, {-2}), expand_dims(w, {-1}));  // w_j - w_i
      array eye_n = eye(a.shape(-1), a.shape(-1), 0, bool_);
      array f = where(eye_n, zeros_like(diff), reciprocal(where(eye_n, ones_like(diff), diff)));
      array inner = add(multiply(f, matmul(mT(v), cotangents[1])),
                        multiply(astype(eye_n, a.dtype()), expand_dims(cotangents[0], {-1})));
      array da = matmul(matmul(v, inner), mT(v));
      return {multiply(add(da, mT(da)), array(0.5, a.dtype()))};
    }
    case FactorKind::QR: {
      // A = QR (M >= N): gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q,
      // copyltu mirroring M's lower triangle onto its upper one.
      if (a.shape(-2) < a.shape(-1))
        throw std::invalid_argument("[qr] The gradient of QR is only defined here for M >= N (tall or square).");
      const array &q = outputs[0], &r = outputs[1];
      const array &gq = cotangents[0], &gr = cotangents[1];
      array m = subtract(matmul(r, mT(gr)), matmul(mT(gq), q));
      array lower = tril(m, -1);
      array copyltu = add(add(lower, mT(lower)), multiply(m, eye(m.shape(-1), m.shape(-1), 0, m.dtype())));
      array b = add(gq, matmul(q, copyltu));
      // b R^-T = (R^-1 b^T)^T
      return {mT(linalg::solve_triangular(r, mT(b), true))};
    }
    case FactorKind::SVD: {
      const int64_t m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
      auto cols = [](const array& x, int64_t c) {  // x[..., :, :c]
        Shape start(x.ndim(), 0), stop = x.shape(), step(x.ndim(), 1);
        stop.back() = c;
        return slice(x, start, stop, step);
      };
      if (!vectors_) {
        // Singular values only: gA = U diag(gS) V^T with the thin factors.
        auto usv = linalg::svd(a, true);
        array u = cols(usv[0], k), v = cols(mT(usv[2]), k);
        return {matmul(multiply(u, expand_dims(cotangents[0], {-2})), mT(v))};
      }
      // Thin A = U S V^T (Townsend, "Differentiating the singular value
      // decomposition"): gA = U [diag(gS) + J S + S K] V^T
      //   + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T),
      // J = F o (U^T gU - gU^T U), K = F o (V^T gV - gV^T V), F_ij = 1/(s_j^2 - s_i^2).
      array u = cols(outputs[0], k), sv = outputs[1], v = cols(mT(outputs[2]), k);
      array gu = cols(cotangents[0], k), gs = cotangents[1], gv = cols(mT(cotangents[2]), k);
      array s2 = square(sv);
      array diff = subtract(expand_dims(s2, {-2}), expand_dims(s2, {-1}));  // s_j^2 - s_i^2
      array eye_k = eye(k, k, 0, bool_);
      array f = where(eye_k, zeros_like(diff), reciprocal(where(eye_k, ones_like(diff), diff)));
      array utgu = matmul(mT(u), gu), vtgv = matmul(mT(v), gv);
      array j = multiply(f, subtract(utgu, mT(utgu)));
      array kk = multiply(f, subtract(vtgv, mT(vtgv)));
      array inner = add(multiply(astype(eye_k, a.dtype()), expand_dims(gs, {-1})),
                        add(multiply(j, expand_dims(sv, {-2})), multiply(expand_dims(sv, {-1}), kk)));
      array ga = matmul(matmul(u, inner), mT(v));
      array inv_s = reciprocal(sv);
      if (m > k) {
        array proj = subtract(gu, matmul(u, utgu));  // (I - U U^T) gU
        ga = add(ga, matmul(multiply(proj, expand_dims(inv_s, {-2})), mT(v)));
      }
      if (n > k) {
        array proj = subtract(gv, matmul(v, vtgv));  // (I - V V^T) gV
        ga = add(ga, matmul(multiply(u, expand_dims(inv_s, {-2})), mT(proj)));
      }
      return {ga};
    }
    case FactorKind::LU: {
      // A = B[p] with B = L U (L unit lower, U upper, packed in one matrix):
      // gB = L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T, and gA = gB[p].
      const int64_t n = a.shape(-1);
      if (a.shape(-2) != n) throw std::invalid_argument("[lu] The gradient of LU is only defined for square matrices.");
      const array &packed = outputs[0], &perm = outputs[2];
      array eye_n = eye(n, n, 0, a.dtype());
      array l = add(tril(packed, -1), eye_n), u = triu(packed, 0);
      const array& g = cotangents[0];
      array inner = add(tril(matmul(mT(l), tril(g, -1)), -1), triu(matmul(triu(g, 0), mT(u)), 0));
      array y = linalg::solve_triangular(mT(l), inner, true);        // L^-T inner
      array gb = mT(linalg::solve_triangular(u, mT(y), true));       // (U^-1 y^T)^T = y U^-T
      array rows = expand_dims(astype(perm, int32), {-1});
      return {take_along_axis(gb, broadcast_to(rows, gb.shape()), -2)};
    }
    default: return Primitive::vjp(primals, cotangents, argnums, outputs);
  }
}

}  // namespace lmx
