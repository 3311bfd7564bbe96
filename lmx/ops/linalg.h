// mx.linalg: norms, factorisations, inverses and solves, batched over the
// leading dims (ops/linalg.cpp).
#pragma once

#include <string>
#include <variant>

#include "lmx/ops/ops.h"

namespace lmx::linalg {

// A norm order: a number (inf allowed) or "fro" / "nuc".
using Ord = std::variant<double, std::string>;

array norm(const array& a, const std::optional<Ord>& ord = {}, const std::optional<std::vector<int>>& axis = {},
           bool keepdims = false, S s = {});
std::pair<array, array> qr(const array& a, S s = {});
// [U, S, Vt] (full matrices), or [S] without compute_uv.
std::vector<array> svd(const array& a, bool compute_uv = true, S s = {});
array inv(const array& a, S s = {});
array tri_inv(const array& a, bool upper = false, S s = {});
array cholesky(const array& a, bool upper = false, S s = {});
array cholesky_inv(const array& l, bool upper = false, S s = {});
array pinv(const array& a, S s = {});
// Packed LU and the 0-based pivot rows (LAPACK's getrf).
std::pair<array, array> lu_factor(const array& a, S s = {});
// (p, L, U) with A = L[p] @ U: p a uint32 row permutation, L unit lower (M, K), U upper (K, N).
std::vector<array> lu(const array& a, S s = {});
array solve(const array& a, const array& b, S s = {});
array solve_triangular(const array& a, const array& b, bool upper = false, S s = {});
array cross(const array& a, const array& b, int axis = -1, S s = {});
std::pair<array, array> eig(const array& a, S s = {});
array eigvals(const array& a, S s = {});
std::pair<array, array> eigh(const array& a, const std::string& uplo = "L", S s = {});
array eigvalsh(const array& a, const std::string& uplo = "L", S s = {});
array det(const array& a, S s = {});
// (sign, log|det|)
std::pair<array, array> slogdet(const array& a, S s = {});

}  // namespace lmx::linalg
