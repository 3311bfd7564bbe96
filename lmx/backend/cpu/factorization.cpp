// LAPACK (through LAPACKE, row-major) for the factorisations: each matrix of
// the batch is copied to a contiguous buffer, factorised, and written out.
#include <lapacke.h>

#include <algorithm>
#include <complex>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "lmx/backend/cpu/blas.h"
#include "lmx/backend/cpu/copy.h"
#include "lmx/primitives/factorization.h"

namespace lmx {

namespace {

using cfloat = lapack_complex_float;

// Type-generic LAPACKE entry points.
lapack_int getrf(int m, int n, float* a, int lda, lapack_int* p) { return LAPACKE_sgetrf(LAPACK_ROW_MAJOR, m, n, a, lda, p); }
lapack_int getrf(int m, int n, double* a, int lda, lapack_int* p) { return LAPACKE_dgetrf(LAPACK_ROW_MAJOR, m, n, a, lda, p); }
lapack_int getrf(int m, int n, complex64_t* a, int lda, lapack_int* p) {
  return LAPACKE_cgetrf(LAPACK_ROW_MAJOR, m, n, reinterpret_cast<cfloat*>(a), lda, p);
}
lapack_int getri(int n, float* a, int lda, const lapack_int* p) { return LAPACKE_sgetri(LAPACK_ROW_MAJOR, n, a, lda, p); }
lapack_int getri(int n, double* a, int lda, const lapack_int* p) { return LAPACKE_dgetri(LAPACK_ROW_MAJOR, n, a, lda, p); }
lapack_int getri(int n, complex64_t* a, int lda, const lapack_int* p) {
  return LAPACKE_cgetri(LAPACK_ROW_MAJOR, n, reinterpret_cast<cfloat*>(a), lda, p);
}
lapack_int trtri(char uplo, int n, float* a) { return LAPACKE_strtri(LAPACK_ROW_MAJOR, uplo, 'N', n, a, n); }
lapack_int trtri(char uplo, int n, double* a) { return LAPACKE_dtrtri(LAPACK_ROW_MAJOR, uplo, 'N', n, a, n); }
lapack_int trtri(char uplo, int n, complex64_t* a) {
  return LAPACKE_ctrtri(LAPACK_ROW_MAJOR, uplo, 'N', n, reinterpret_cast<cfloat*>(a), n);
}
lapack_int potrf(char uplo, int n, float* a) { return LAPACKE_spotrf(LAPACK_ROW_MAJOR, uplo, n, a, n); }
lapack_int potrf(char uplo, int n, double* a) { return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, uplo, n, a, n); }
lapack_int potrf(char uplo, int n, complex64_t* a) {
  return LAPACKE_cpotrf(LAPACK_ROW_MAJOR, uplo, n, reinterpret_cast<cfloat*>(a), n);
}
lapack_int geqrf(int m, int n, float* a, float* tau) { return LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, a, n, tau); }
lapack_int geqrf(int m, int n, double* a, double* tau) { return LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, a, n, tau); }
lapack_int geqrf(int m, int n, complex64_t* a, complex64_t* tau) {
  return LAPACKE_cgeqrf(LAPACK_ROW_MAJOR, m, n, reinterpret_cast<cfloat*>(a), n, reinterpret_cast<cfloat*>(tau));
}
lapack_int orgqr(int m, int n, int k, float* a, int lda, const float* tau) {
  return LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, k, a, lda, tau);
}
lapack_int orgqr(int m, int n, int k, double* a, int lda, const double* tau) {
  return LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, k, a, lda, tau);
}
lapack_int orgqr(int m, int n, int k, complex64_t* a, int lda, const complex64_t* tau) {
  return LAPACKE_cungqr(LAPACK_ROW_MAJOR, m, n, k, reinterpret_cast<cfloat*>(a), lda,
                        reinterpret_cast<const cfloat*>(tau));
}
lapack_int gesdd(char jobz, int m, int n, float* a, float* s, float* u, float* vt) {
  return LAPACKE_sgesdd(LAPACK_ROW_MAJOR, jobz, m, n, a, n, s, u, m, vt, n);
}
lapack_int gesdd(char jobz, int m, int n, double* a, double* s, double* u, double* vt) {
  return LAPACKE_dgesdd(LAPACK_ROW_MAJOR, jobz, m, n, a, n, s, u, m, vt, n);
}
lapack_int gesdd(char jobz, int m, int n, complex64_t* a, float* s, complex64_t* u, complex64_t* vt) {
  return LAPACKE_cgesdd(LAPACK_ROW_MAJOR, jobz, m, n, reinterpret_cast<cfloat*>(a), n, s,
                        reinterpret_cast<cfloat*>(u), m, reinterpret_cast<cfloat*>(vt), n);
}
lapack_int syevd(char jobz, char uplo, int n, float* a, float* w) {
  return LAPACKE_ssyevd(LAPACK_ROW_MAJOR, jobz, uplo, n, a, n, w);
}
lapack_int syevd(char jobz, char uplo, int n, double* a, double* w) {
  return LAPACKE_dsyevd(LAPACK_ROW_MAJOR, jobz, uplo, n, a, n, w);
}
lapack_int syevd(char jobz, char uplo, int n, complex64_t* a, float* w) {
  return LAPACKE_cheevd(LAPACK_ROW_MAJOR, jobz, uplo, n, reinterpret_cast<cfloat*>(a), n, w);
}
lapack_int gesv(int n, int nrhs, float* a, lapack_int* p, float* b) {
  return LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, nrhs, a, n, p, b, nrhs);
}
lapack_int gesv(int n, int nrhs, double* a, lapack_int* p, double* b) {
  return LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, nrhs, a, n, p, b, nrhs);
}
lapack_int gesv(int n, int nrhs, complex64_t* a, lapack_int* p, complex64_t* b) {
  return LAPACKE_cgesv(LAPACK_ROW_MAJOR, n, nrhs, reinterpret_cast<cfloat*>(a), n, p, reinterpret_cast<cfloat*>(b),
                       nrhs);
}
lapack_int trtrs(char uplo, int n, int nrhs, const float* a, float* b) {
  return LAPACKE_strtrs(LAPACK_ROW_MAJOR, uplo, 'N', 'N', n, nrhs, a, n, b, nrhs);
}
lapack_int trtrs(char uplo, int n, int nrhs, const double* a, double* b) {
  return LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, uplo, 'N', 'N', n, nrhs, a, n, b, nrhs);
}
lapack_int trtrs(char uplo, int n, int nrhs, const complex64_t* a, complex64_t* b) {
  return LAPACKE_ctrtrs(LAPACK_ROW_MAJOR, uplo, 'N', 'N', n, nrhs, reinterpret_cast<const cfloat*>(a), n,
                        reinterpret_cast<cfloat*>(b), nrhs);
}
// Eigenvalues (and right eigenvectors, as columns) of a general matrix, as
// complex64 whatever the input type.
void geev(int n, float* a, bool vectors, complex64_t* w, complex64_t* v) {
  std::vector<float> wr(n), wi(n), vr(vectors ? static_cast<size_t>(n) * n : 1);
  lapack_int info = LAPACKE_sgeev(LAPACK_ROW_MAJOR, 'N', vectors ? 'V' : 'N', n, a, n, wr.data(), wi.data(), nullptr,
                                  n, vr.data(), n);
  if (info != 0) throw std::runtime_error("[linalg::eig] The eigensolver did not converge.");
  for (int j = 0; j < n; ++j) w[j] = complex64_t(wr[j], wi[j]);
  if (!vectors) return;
  // A conjugate pair (j, j+1) stores its vector's real and imaginary parts
  // in columns j and j+1.
  for (int j = 0; j < n; ++j) {
    bool pair_first = wi[j] != 0 && j + 1 < n && wi[j + 1] == -wi[j];
    for (int i = 0; i < n; ++i) {
      if (wi[j] == 0) v[i * n + j] = complex64_t(vr[i * n + j], 0);
      else if (pair_first) {
        v[i * n + j] = complex64_t(vr[i * n + j], vr[i * n + j + 1]);
        v[i * n + j + 1] = complex64_t(vr[i * n + j], -vr[i * n + j + 1]);
      }
    }
    if (pair_first) ++j;
  }
}
void geev(int n, double* a, bool vectors, complex64_t* w, complex64_t* v) {
  std::vector<double> wr(n), wi(n), vr(vectors ? static_cast<size_t>(n) * n : 1);
  lapack_int info = LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', vectors ? 'V' : 'N', n, a, n, wr.data(), wi.data(), nullptr,
                                  n, vr.data(), n);
  if (info != 0) throw std::runtime_error("[linalg::eig] The eigensolver did not converge.");
  for (int j = 0; j < n; ++j) w[j] = complex64_t(static_cast<float>(wr[j]), static_cast<float>(wi[j]));
  if (!vectors) return;
  for (int j = 0; j < n; ++j) {
    bool pair_first = wi[j] != 0 && j + 1 < n && wi[j + 1] == -wi[j];
    for (int i = 0; i < n; ++i) {
      float re = static_cast<float>(vr[i * n + j]);
      if (wi[j] == 0) v[i * n + j] = complex64_t(re, 0);
      else if (pair_first) {
        float im = static_cast<float>(vr[i * n + j + 1]);
        v[i * n + j] = complex64_t(re, im);
        v[i * n + j + 1] = complex64_t(re, -im);
      }
    }
    if (pair_first) ++j;
  }
}
void geev(int n, complex64_t* a, bool vectors, complex64_t* w, complex64_t* v) {
  std::vector<complex64_t> vr(vectors ? static_cast<size_t>(n) * n : 1);
  lapack_int info = LAPACKE_cgeev(LAPACK_ROW_MAJOR, 'N', vectors ? 'V' : 'N', n, reinterpret_cast<cfloat*>(a), n,
                                  reinterpret_cast<cfloat*>(w), nullptr, n, reinterpret_cast<cfloat*>(vr.data()), n);
  if (info != 0) throw std::runtime_error("[linalg::eig] The eigensolver did not converge.");
  if (vectors) std::memcpy(v, vr.data(), sizeof(complex64_t) * n * n);
}

template <typename T>
using real_of = std::conditional_t<std::is_same_v<T, complex64_t>, float, T>;

// A row-major contiguous copy of x in its own dtype.
array dense(const array& x) {
  array c(x.shape(), x.dtype(), std::shared_ptr<Data>{});
  cpu::allocate(c);
  cpu::copy_to_strided(x, c.raw_ptr(), x.dtype(), row_major_strides(x.shape()));
  return c;
}

// A numerical failure found while evaluating (singular matrix, no
// convergence) is a RuntimeError, as in MLX.
void check(lapack_int info, const std::string& op, const char* what) {
  if (info < 0) throw std::runtime_error("[" + op + "] LAPACK rejected argument " + std::to_string(-info) + ".");
  if (info > 0) throw std::runtime_error("[" + op + "] " + what);
}

template <typename T>
void zero_triangle(T* a, int n, bool keep_upper) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (keep_upper ? j < i : j > i) a[i * n + j] = T(0);
}

template <typename T>
void run(const Factorization& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  const std::string op = p.name();
  for (auto& o : outputs) cpu::allocate(o);
  array a = dense(inputs[0]);
  int m = a.shape(-2), n = a.shape(-1);
  size_t batch = a.size() / std::max<size_t>(static_cast<size_t>(m) * n, 1);
  if (a.size() == 0) batch = 0;
  T* ap = a.data<T>();
  char uplo = p.upper() ? 'U' : 'L';
  switch (p.kind()) {
    case FactorKind::Inverse: {
      T* out = outputs[0].data<T>();
      std::vector<lapack_int> piv(n);
      for (size_t b = 0; b < batch; ++b) {
        T* x = out + b * n * n;
        std::memcpy(x, ap + b * n * n, sizeof(T) * n * n);
        check(getrf(n, n, x, n, piv.data()), op, "The matrix is singular.");
        check(getri(n, x, n, piv.data()), op, "The matrix is singular.");
      }
      return;
    }
    case FactorKind::TriInverse: {
      T* out = outputs[0].data<T>();
      for (size_t b = 0; b < batch; ++b) {
        T* x = out + b * n * n;
        std::memcpy(x, ap + b * n * n, sizeof(T) * n * n);
        zero_triangle(x, n, p.upper());
        check(trtri(uplo, n, x), op, "The matrix is singular.");
      }
      return;
    }
    case FactorKind::Cholesky: {
      T* out = outputs[0].data<T>();
      for (size_t b = 0; b < batch; ++b) {
        T* x = out + b * n * n;
        std::memcpy(x, ap + b * n * n, sizeof(T) * n * n);
        // As MLX: a matrix that is not positive definite is not an error;
        // the factor stops where the failing pivot was (finite, not a factor).
        lapack_int info = potrf(uplo, n, x);
        if (info < 0) check(info, op, "");
        zero_triangle(x, n, p.upper());
      }
      return;
    }
    case FactorKind::QR: {
      int k = std::min(m, n);
      T* q = outputs[0].data<T>();
      T* r = outputs[1].data<T>();
      std::vector<T> tau(std::max(k, 1)), work(static_cast<size_t>(m) * n);
      for (size_t b = 0; b < batch; ++b) {
        std::memcpy(work.data(), ap + b * m * n, sizeof(T) * m * n);
        check(geqrf(m, n, work.data(), tau.data()), op, "QR failed.");
        T* rb = r + b * k * n;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < n; ++j) rb[i * n + j] = j >= i ? work[i * n + j] : T(0);
        // Q: the first k columns, formed in an (m, k) buffer.
        std::vector<T> qk(static_cast<size_t>(m) * k);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < k; ++j) qk[i * k + j] = work[i * n + j];
        check(orgqr(m, k, k, qk.data(), k, tau.data()), op, "QR failed.");
        std::memcpy(q + b * m * k, qk.data(), sizeof(T) * m * k);
      }
      return;
    }
    case FactorKind::SVD: {
      int k = std::min(m, n);
      using R = real_of<T>;
      std::vector<T> work(static_cast<size_t>(m) * n), u(static_cast<size_t>(m) * m), vt(static_cast<size_t>(n) * n);
      std::vector<R> s(std::max(k, 1));
      for (size_t b = 0; b < batch; ++b) {
        std::memcpy(work.data(), ap + b * m * n, sizeof(T) * m * n);
        check(gesdd(p.vectors() ? 'A' : 'N', m, n, work.data(), s.data(), u.data(), vt.data()), op,
              "The SVD did not converge.");
        if (p.vectors()) {
          std::memcpy(outputs[0].data<T>() + b * m * m, u.data(), sizeof(T) * m * m);
          std::memcpy(outputs[1].data<R>() + b * k, s.data(), sizeof(R) * k);
          std::memcpy(outputs[2].data<T>() + b * n * n, vt.data(), sizeof(T) * n * n);
        } else {
          std::memcpy(outputs[0].data<R>() + b * k, s.data(), sizeof(R) * k);
        }
      }
      return;
    }
    case FactorKind::Eigh: {
      using R = real_of<T>;
      std::vector<T> work(static_cast<size_t>(n) * n);
      for (size_t b = 0; b < batch; ++b) {
        std::memcpy(work.data(), ap + b * n * n, sizeof(T) * n * n);
        check(syevd(p.vectors() ? 'V' : 'N', uplo, n, work.data(), outputs[0].data<R>() + b * n), op,
              "The eigensolver did not converge.");
        if (p.vectors()) std::memcpy(outputs[1].data<T>() + b * n * n, work.data(), sizeof(T) * n * n);
      }
      return;
    }
    case FactorKind::LU: {
      T* out = outputs[0].data<T>();
      uint32_t* piv_out = outputs[1].data<uint32_t>();
      // Third output: p with A = L[p] @ U (the inverse of the row order the swaps make).
      uint32_t* perm_out = outputs[2].data<uint32_t>();
      int k = std::min(m, n);
      std::vector<lapack_int> piv(std::max(k, 1));
      std::vector<uint32_t> order(m);
      for (size_t b = 0; b < batch; ++b) {
        T* x = out + b * m * n;
        std::memcpy(x, ap + b * m * n, sizeof(T) * m * n);
        lapack_int info = getrf(m, n, x, n, piv.data());
        if (info < 0) check(info, op, "");
        for (int i = 0; i < m; ++i) order[i] = static_cast<uint32_t>(i);
        for (int i = 0; i < k; ++i) {
          piv_out[b * k + i] = static_cast<uint32_t>(piv[i] - 1);
          std::swap(order[i], order[piv[i] - 1]);
        }
        for (int i = 0; i < m; ++i) perm_out[b * m + order[i]] = static_cast<uint32_t>(i);
      }
      return;
    }
    case FactorKind::Solve:
    case FactorKind::SolveTriangular: {
      array rhs = dense(inputs[1]);
      int nrhs = rhs.ndim() == a.ndim() ? rhs.shape(-1) : 1;
      T* out = outputs[0].data<T>();
      std::vector<T> lhs(static_cast<size_t>(n) * n);
      std::vector<lapack_int> piv(n);
      for (size_t b = 0; b < batch; ++b) {
        T* x = out + b * n * nrhs;
        std::memcpy(x, rhs.data<T>() + b * n * nrhs, sizeof(T) * n * nrhs);
        std::memcpy(lhs.data(), ap + b * n * n, sizeof(T) * n * n);
        if (p.kind() == FactorKind::Solve) {
          check(gesv(n, nrhs, lhs.data(), piv.data(), x), op, "The matrix is singular.");
        } else {
          check(trtrs(uplo, n, nrhs, lhs.data(), x), op, "The matrix is singular.");
        }
      }
      return;
    }
    case FactorKind::Eig: {
      std::vector<T> work(static_cast<size_t>(n) * n);
      for (size_t b = 0; b < batch; ++b) {
        std::memcpy(work.data(), ap + b * n * n, sizeof(T) * n * n);
        geev(n, work.data(), p.vectors(), outputs[0].data<complex64_t>() + b * n,
             p.vectors() ? outputs[1].data<complex64_t>() + b * n * n : nullptr);
      }
      return;
    }
  }
}

}  // namespace

std::string Factorization::name() const {
  switch (kind_) {
    case FactorKind::Inverse: return "linalg::inv";
    case FactorKind::TriInverse: return "linalg::tri_inv";
    case FactorKind::Cholesky: return "linalg::cholesky";
    case FactorKind::QR: return "linalg::qr";
    case FactorKind::SVD: return "linalg::svd";
    case FactorKind::Eigh: return "linalg::eigh";
    case FactorKind::Eig: return "linalg::eig";
    case FactorKind::LU: return "linalg::lu_factor";
    case FactorKind::Solve: return "linalg::solve";
    case FactorKind::SolveTriangular: return "linalg::solve_triangular";
  }
  return "linalg";
}

void Factorization::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::LapackThreads threads;
  switch (inputs[0].dtype().val()) {
    case Dtype::Val::float32: run<float>(*this, inputs, outputs); return;
    case Dtype::Val::float64: run<double>(*this, inputs, outputs); return;
    case Dtype::Val::complex64: run<complex64_t>(*this, inputs, outputs); return;
    default: throw std::invalid_argument("[" + name() + "] Unsupported dtype " + dtype_name(inputs[0].dtype()) + ".");
  }
}

}  // namespace lmx
