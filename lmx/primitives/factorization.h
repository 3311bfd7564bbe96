// Matrix factorisations and solves (LAPACK on the CPU), batched over the
// leading dims of row-major (..., M, N) inputs.
#pragma once

#include "lmx/primitives/primitive.h"

namespace lmx {

enum class FactorKind {
  Inverse,         // A -> A^-1 (raises on a singular matrix)
  TriInverse,      // triangular A -> A^-1 (upper or lower)
  Cholesky,        // SPD A -> L (lower) or U (upper), the other triangle zero
  QR,              // A (M, N) -> Q (M, K), R (K, N), K = min(M, N)
  SVD,             // A (M, N) -> U (M, M), S (K), Vt (N, N); or only S
  Eigh,            // Hermitian A -> eigenvalues (ascending), eigenvectors (columns)
  Eig,             // general A -> complex eigenvalues, eigenvectors (columns)
  LU,              // A (M, N) -> LU packed, pivots (K) as 0-based row swaps, p (M) with A = L[p] @ U
  Solve,           // A, B -> A^-1 B (B (..., N) or (..., N, K))
  SolveTriangular  // triangular A, B -> A^-1 B
};

class Factorization : public Primitive {
 public:
  Factorization(Stream s, FactorKind kind, bool upper = false, bool vectors = true)
      : Primitive(s), kind_(kind), upper_(upper), vectors_(vectors) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::string name() const override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  FactorKind kind() const { return kind_; }
  bool upper() const { return upper_; }
  bool vectors() const { return vectors_; }

 private:
  FactorKind kind_;
  bool upper_;    // Cholesky/TriInverse/SolveTriangular: the upper triangle; Eigh: UPLO = 'U'
  bool vectors_;  // SVD: compute U and Vt; Eigh/Eig: compute eigenvectors
};

}  // namespace lmx
