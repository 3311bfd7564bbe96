// The factorisations on the GPU through cuSOLVER (and the triangular solve
// through cuBLAS), float32; complex64 runs on the host. cuSOLVER is
// column-major: the bytes of a row-major matrix are its transpose to
// cuSOLVER. Each kind uses that where it saves a copy (an inverse of A^T read
// row-major is A^-1; the upper triangle of a symmetric A is the lower one of
// A^T) and transposes through the strided copy where it does not. Matrices
// of a batch are solved one after another. Singular or unconverged matrices
// raise the CPU backend's errors, which costs reading the solver's status
// back (the stream waits); Cholesky and LU report nothing, as on the CPU.
#include <cublas_v2.h>
#include <cusolverDn.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "lmx/backend/common/layout.h"
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/device_util.cuh"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/backend/cuda/library_handles.h"
#include "lmx/primitives/factorization.h"

namespace lmx::cu {

namespace {

// ---- small kernels over a batch of row-major matrices ----

__global__ void set_identity_kernel(float* a, int64_t batch, int n) {
  const int64_t size = int64_t{n} * n;
  LMX_GRID_STRIDE(i, batch * size) {
    const int64_t e = i % size;
    a[i] = e / n == e % n ? 1.0f : 0.0f;
  }
}

// Zeroes the part below (keep_upper) or above the diagonal of rows x cols matrices.
__global__ void zero_triangle_kernel(float* a, int64_t batch, int rows, int cols, bool keep_upper) {
  const int64_t size = int64_t{rows} * cols;
  LMX_GRID_STRIDE(i, batch * size) {
    const int64_t e = i % size, r = e / cols, c = e % cols;
    if (keep_upper ? c < r : c > r) a[i] = 0.0f;
  }
}

// One thread per matrix: cuSOLVER's 1-based row swaps to the 0-based pivots
// and to perm with A = L[perm] @ U (the inverse of the order the swaps make).
__global__ void lu_pivots_kernel(const int* ipiv, int64_t batch, int k, int m, int* order, uint32_t* piv,
                                 uint32_t* perm) {
  LMX_GRID_STRIDE(b, batch) {
    int* ord = order + b * m;
    for (int i = 0; i < m; ++i) ord[i] = i;
    for (int i = 0; i < k; ++i) {
      const int j = ipiv[b * k + i] - 1;
      piv[b * k + i] = static_cast<uint32_t>(j);
      const int t = ord[i];
      ord[i] = ord[j];
      ord[j] = t;
    }
    for (int i = 0; i < m; ++i) perm[b * m + ord[i]] = static_cast<uint32_t>(i);
  }
}

// Marks (info[b] = 1) each matrix with a zero on its diagonal: singular for
// a triangular solve, as LAPACK's trtrs reports.
__global__ void zero_diagonal_kernel(const float* a, int64_t batch, int n, int* info) {
  LMX_GRID_STRIDE(i, batch * n) {
    const int64_t b = i / n, d = i % n;
    if (a[b * n * n + d * n + d] == 0.0f) info[b] = 1;
  }
}

// One thread per eigenvector: geev's real output (n real parts, then n
// imaginary ones; column-major vectors, a conjugate pair's real and
// imaginary parts in columns j and j+1) to complex eigenvalues and
// row-major complex eigenvector columns, as the CPU backend unpacks them.
__global__ void eig_unpack_kernel(const float* w, const float* vr, int64_t batch, int n, float2* vals, float2* vecs) {
  LMX_GRID_STRIDE(t, batch * n) {
    const int64_t b = t / n;
    const int j = static_cast<int>(t % n);
    const float* wr = w + b * 2 * n;
    const float* wi = wr + n;
    vals[t] = make_float2(wr[j], wi[j]);
    if (!vecs) continue;
    const float* v = vr + b * n * n;
    float2* out = vecs + b * n * n;
    // The pair's first column holds the real parts, its second the imaginary ones.
    const bool first = wi[j] > 0 && j + 1 < n, second = wi[j] < 0 && j > 0;
    const int re = second ? j - 1 : j;
    for (int i = 0; i < n; ++i) {
      const float im = first ? v[(j + 1) * n + i] : second ? -v[j * n + i] : 0.0f;
      out[int64_t{i} * n + j] = make_float2(v[re * n + i], im);
    }
  }
}

// ---- cuSOLVER plumbing ----

void check(cusolverStatus_t s, const std::string& op, const char* what) {
  if (s != CUSOLVER_STATUS_SUCCESS)
    throw std::runtime_error("[" + op + "] " + what + " failed (cuSOLVER status " +
                             std::to_string(static_cast<int>(s)) + ").");
}

cusolverDnHandle_t handle_for(cudaStream_t st, const std::string& op) {
  return handle_per_stream<cusolverDnHandle_t>(st, [&](cudaStream_t s) {
    cusolverDnHandle_t h = nullptr;
    check(cusolverDnCreate(&h), op, "cusolverDnCreate");
    if (cusolverStatus_t status = cusolverDnSetStream(h, s); status != CUSOLVER_STATUS_SUCCESS) {
      cusolverDnDestroy(h);
      check(status, op, "cusolverDnSetStream");
    }
    return h;
  });
}

// A cuBLAS handle per CUDA stream, for the triangular solve (the matmul
// path keeps its own, rebound under a lock).
cublasHandle_t blas_for(cudaStream_t st, const std::string& op) {
  return handle_per_stream<cublasHandle_t>(st, [&](cudaStream_t s) {
    cublasHandle_t h = nullptr;
    cublasStatus_t status = cublasCreate(&h);
    if (status == CUBLAS_STATUS_SUCCESS && (status = cublasSetStream(h, s)) != CUBLAS_STATUS_SUCCESS) cublasDestroy(h);
    if (status != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error("[" + op + "] creating a cuBLAS handle failed (status " +
                               std::to_string(static_cast<int>(status)) + ").");
    return h;
  });
}

array fresh(const Shape& shape, cudaStream_t st) {
  array a(shape, float32, std::shared_ptr<Data>{});
  allocate(a, st);
  return a;
}

// A new row-contiguous device copy of a (never a's own buffer: the solvers
// overwrite their matrix).
array copy_of(const array& a, cudaStream_t st) {
  array c = fresh(a.shape(), st);
  copy_to_strided(a, device_write(c), float32, c.strides(), st);
  return c;
}

// a with its last two axes swapped (each matrix transposed), as a view.
array transposed(const array& a) {
  std::vector<int> axes(a.ndim());
  for (int d = 0; d < a.ndim(); ++d) axes[d] = d;
  std::swap(axes[a.ndim() - 2], axes[a.ndim() - 1]);
  Shape s = a.shape();
  std::swap(s[a.ndim() - 2], s[a.ndim() - 1]);
  array v(s, a.dtype(), std::shared_ptr<Data>{});
  transpose_view(a, v, axes);
  return v;
}

// The first rows x cols block of each matrix of a, as a view.
array top_left(const array& a, int rows, int cols) {
  Shape s = a.shape();
  s[a.ndim() - 2] = rows;
  s[a.ndim() - 1] = cols;
  array v(s, a.dtype(), std::shared_ptr<Data>{});
  slice_view(a, v, Shape(a.ndim(), 0), {});
  return v;
}

// A copy of the symmetric A whose triangle that cuSOLVER's
// lower fill reads is the one the op reads: A itself transposed for A's lower
// triangle, A's bytes (cuSOLVER's A^T) for its upper one. Lower fill because
// cuSOLVER's potrf runs 2.4x faster with it than with upper fill (H200,
// n = 1024 and 4096).
array lower_fill_copy(const array& a, bool upper, cudaStream_t st) { return copy_of(upper ? a : transposed(a), st); }

// Writes src (any layout, out's shape) into out's row-contiguous buffer.
void store(const array& src, array& out, cudaStream_t st) {
  copy_to_strided(src, device_write(out), out.dtype(), out.strides(), st);
}

float* f32(array& a) { return static_cast<float*>(device_write(a)); }

// Per-matrix solver status, read back once all matrices are queued.
class Infos {
 public:
  Infos(size_t n, cudaStream_t st) : n_(n), st_(st), dev_(std::max<size_t>(n, 1) * sizeof(int), st) {
    LMX_CUDA_CHECK(cudaMemsetAsync(dev_.as<int>(), 0, std::max<size_t>(n, 1) * sizeof(int), st));
  }
  int* at(size_t b) const { return dev_.as<int>() + b; }
  // Raises `what` when a matrix's status is positive (the stream waits).
  void raise_if_failed(const std::string& op, const char* what) const {
    std::vector<int> host(n_);
    if (n_ == 0) return;
    LMX_CUDA_CHECK(cudaMemcpyAsync(host.data(), dev_.as<int>(), n_ * sizeof(int), cudaMemcpyDeviceToHost, st_));
    LMX_CUDA_CHECK(cudaStreamSynchronize(st_));
    for (int v : host)
      if (v > 0) throw std::runtime_error("[" + op + "] " + what);
  }

 private:
  size_t n_;
  cudaStream_t st_;
  Scratch dev_;
};

Scratch workspace(int floats, cudaStream_t st) { return Scratch(static_cast<size_t>(std::max(floats, 1)) * 4, st); }

// LU factors of each n x n matrix of w in place (cuSOLVER's view: of w^T).
void getrf_all(cusolverDnHandle_t h, array& w, int n, size_t batch, Scratch& ipiv, const Infos& info,
               const std::string& op, cudaStream_t st) {
  float* a = f32(w);
  int lwork = 0;
  check(cusolverDnSgetrf_bufferSize(h, n, n, a, n, &lwork), op, "getrf_bufferSize");
  Scratch work = workspace(lwork, st);
  for (size_t b = 0; b < batch; ++b)
    check(cusolverDnSgetrf(h, n, n, a + b * n * n, n, work.as<float>(), ipiv.as<int>() + b * n, info.at(b)), op,
          "getrf");
}

// A^-1 B for each matrix: the LU of A's bytes (cuSOLVER's A^T), solved
// transposed so that it is A's. B column-major (n x nrhs) in x, in place.
void solve_all(cusolverDnHandle_t h, const array& a, float* x, int n, int nrhs, size_t batch, cublasOperation_t op_t,
               const std::string& op, cudaStream_t st) {
  array lu = copy_of(a, st);
  Scratch ipiv(std::max<size_t>(batch * n, 1) * sizeof(int), st);
  Infos info(batch, st);
  getrf_all(h, lu, n, batch, ipiv, info, op, st);
  const float* l = static_cast<const float*>(device_write(lu));
  Infos solved(batch, st);  // getrs reports only bad arguments; getrf's status must survive
  for (size_t b = 0; b < batch; ++b)
    check(cusolverDnSgetrs(h, op_t, n, nrhs, l + b * n * n, n, ipiv.as<int>() + b * n, x + b * n * nrhs, n,
                           solved.at(b)),
          op, "getrs");
  info.raise_if_failed(op, "The matrix is singular.");
}

}  // namespace

bool factorization(const Factorization& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                   cudaStream_t st) {
  const FactorKind kind = p.kind();
  if (inputs[0].dtype() != float32) return false;
  const std::string op = p.name();
  const array& a = inputs[0];
  const int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  const size_t batch = m * n == 0 ? 0 : a.size() / (static_cast<size_t>(m) * n);
  // cuSOLVER is not recorded into CUDA graphs, and the status reads wait.
  pause_capture(st, "cuSOLVER");
  for (auto& o : outputs) allocate(o, st);
  if (batch == 0) return true;
  cusolverDnHandle_t h = handle_for(st, op);

  switch (kind) {
    case FactorKind::Inverse: {
      // (A^T)^-1 in cuSOLVER's view is A^-1 read row-major.
      set_identity_kernel<<<blocks_for(static_cast<int64_t>(batch) * n * n), kThreads, 0, st>>>(f32(outputs[0]),
                                                                                               batch, n);
      solve_all(h, a, f32(outputs[0]), n, n, batch, CUBLAS_OP_N, op, st);
      return true;
    }
    case FactorKind::Solve: {
      const array& rhs = inputs[1];
      if (rhs.ndim() == a.ndim()) {
        // B (n, nrhs) row-major, transposed for cuSOLVER, solved, transposed back.
        const int nrhs = rhs.shape(-1);
        array x = copy_of(transposed(rhs), st);
        solve_all(h, a, f32(x), n, nrhs, batch, CUBLAS_OP_T, op, st);
        store(transposed(x), outputs[0], st);
      } else {
        store(rhs, outputs[0], st);
        solve_all(h, a, f32(outputs[0]), n, 1, batch, CUBLAS_OP_T, op, st);
      }
      return true;
    }
    case FactorKind::SolveTriangular: {
      // X^T A^T = B^T in cuBLAS's view, where the row-major A's bytes are
      // A^T (its other triangle) and X's and B's are X^T and B^T: solved in
      // place in the output, no transposes.
      const int nrhs = outputs[0].shape(-1);
      array w = copy_of(a, st);
      store(inputs[1], outputs[0], st);
      Infos info(batch, st);
      zero_diagonal_kernel<<<blocks_for(static_cast<int64_t>(batch) * n), kThreads, 0, st>>>(f32(w), batch, n,
                                                                                            info.at(0));
      cublasHandle_t blas = blas_for(st, op);
      const float one = 1.0f;
      const cublasFillMode_t fill = p.upper() ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
      for (size_t b = 0; b < batch; ++b) {
        cublasStatus_t s = cublasStrsm(blas, CUBLAS_SIDE_RIGHT, fill, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, nrhs, n, &one,
                                       f32(w) + b * n * n, n, f32(outputs[0]) + b * n * nrhs, std::max(nrhs, 1));
        if (s != CUBLAS_STATUS_SUCCESS)
          throw std::runtime_error("[" + op + "] cublasStrsm failed (status " + std::to_string(static_cast<int>(s)) +
                                   ").");
      }
      info.raise_if_failed(op, "The matrix is singular.");
      return true;
    }
    case FactorKind::TriInverse: {
      // The triangle the op reads, the other zeroed, inverted in place: the
      // inverse of cuSOLVER's A^T is A^-1 read row-major.
      store(a, outputs[0], st);
      float* x = f32(outputs[0]);
      zero_triangle_kernel<<<blocks_for(static_cast<int64_t>(batch) * n * n), kThreads, 0, st>>>(x, batch, n, n,
                                                                                                 p.upper());
      const cublasFillMode_t fill = p.upper() ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
      size_t device_bytes = 0, host_bytes = 0;
      check(cusolverDnXtrtri_bufferSize(h, fill, CUBLAS_DIAG_NON_UNIT, n, CUDA_R_32F, x, n, &device_bytes,
                                        &host_bytes),
            op, "trtri_bufferSize");
      Scratch work(std::max<size_t>(device_bytes, 1), st);
      std::vector<char> host_work(std::max<size_t>(host_bytes, 1));
      Infos info(batch, st);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnXtrtri(h, fill, CUBLAS_DIAG_NON_UNIT, n, CUDA_R_32F, x + b * n * n, n, work.as<void>(),
                               device_bytes, host_work.data(), host_bytes, info.at(b)),
              op, "trtri");
      info.raise_if_failed(op, "The matrix is singular.");
      return true;
    }
    case FactorKind::Eig: {
      // geev on the transposed copy (cuSOLVER's view of it is A), with real
      // outputs unpacked to complex ones as the CPU backend does.
      array w = copy_of(transposed(a), st);
      float* x = f32(w);
      const bool vectors = p.vectors();
      const cusolverEigMode_t jobvr = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
      Scratch values(batch * 2 * n * sizeof(float), st);
      Scratch vr(vectors ? batch * n * n * sizeof(float) : sizeof(float), st);
      cusolverDnParams_t params = nullptr;
      check(cusolverDnCreateParams(&params), op, "cusolverDnCreateParams");
      struct Destroy {
        cusolverDnParams_t p;
        ~Destroy() { cusolverDnDestroyParams(p); }
      } destroy{params};
      size_t device_bytes = 0, host_bytes = 0;
      check(cusolverDnXgeev_bufferSize(h, params, CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, CUDA_R_32F, x, n, CUDA_R_32F,
                                       values.as<float>(), CUDA_R_32F, nullptr, 1, CUDA_R_32F, vr.as<float>(), n,
                                       CUDA_R_32F, &device_bytes, &host_bytes),
            op, "geev_bufferSize");
      Scratch work(std::max<size_t>(device_bytes, 1), st);
      std::vector<char> host_work(std::max<size_t>(host_bytes, 1));
      Infos info(batch, st);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnXgeev(h, params, CUSOLVER_EIG_MODE_NOVECTOR, jobvr, n, CUDA_R_32F, x + b * n * n, n, CUDA_R_32F,
                              values.as<float>() + b * 2 * n, CUDA_R_32F, nullptr, 1, CUDA_R_32F,
                              vectors ? vr.as<float>() + b * n * n : vr.as<float>(), n, CUDA_R_32F, work.as<void>(),
                              device_bytes, host_work.data(), host_bytes, info.at(b)),
              op, "geev");
      eig_unpack_kernel<<<blocks_for(static_cast<int64_t>(batch) * n), kThreads, 0, st>>>(
          values.as<float>(), vr.as<float>(), batch, n, static_cast<float2*>(device_write(outputs[0])),
          vectors ? static_cast<float2*>(device_write(outputs[1])) : nullptr);
      info.raise_if_failed(op, "The eigensolver did not converge.");
      return true;
    }
    case FactorKind::Cholesky: {
      // For L, cuSOLVER's L of the transposed copy, transposed back; for U,
      // its L of A's bytes (A^T), which read row-major is U.
      const bool transpose = !p.upper();
      array w = lower_fill_copy(a, p.upper(), st);
      float* x = f32(w);
      int lwork = 0;
      check(cusolverDnSpotrf_bufferSize(h, CUBLAS_FILL_MODE_LOWER, n, x, n, &lwork), op, "potrf_bufferSize");
      Scratch work = workspace(lwork, st);
      Infos info(batch, st);  // a failed pivot leaves a partial factor, as LAPACK's
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnSpotrf(h, CUBLAS_FILL_MODE_LOWER, n, x + b * n * n, n, work.as<float>(), lwork, info.at(b)),
              op, "potrf");
      store(transpose ? transposed(w) : w, outputs[0], st);
      zero_triangle_kernel<<<blocks_for(static_cast<int64_t>(batch) * n * n), kThreads, 0, st>>>(
          f32(outputs[0]), batch, n, n, p.upper());
      return true;
    }
    case FactorKind::Eigh: {
      // Eigenvalues straight to the output; eigenvectors come as cuSOLVER's
      // columns, so transposed into the row-major output.
      array w = lower_fill_copy(a, p.upper(), st);
      float* x = f32(w);
      float* vals = f32(outputs[0]);
      const cusolverEigMode_t jobz = p.vectors() ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
      int lwork = 0;
      const cublasFillMode_t lower = CUBLAS_FILL_MODE_LOWER;
      check(cusolverDnSsyevd_bufferSize(h, jobz, lower, n, x, n, vals, &lwork), op, "syevd_bufferSize");
      Scratch work = workspace(lwork, st);
      Infos info(batch, st);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnSsyevd(h, jobz, lower, n, x + b * n * n, n, vals + b * n, work.as<float>(), lwork,
                               info.at(b)),
              op, "syevd");
      info.raise_if_failed(op, "The eigensolver did not converge.");
      if (p.vectors()) store(transposed(w), outputs[1], st);
      return true;
    }
    case FactorKind::SVD: {
      // On A's bytes (cuSOLVER's A^T = U' S V'^T): A = V' S U'^T, so Vt is
      // U' read row-major and U is V' transposed. Jacobi SVD: any m, n.
      array w = copy_of(a, st);
      float* x = f32(w);
      const bool vectors = p.vectors();
      // V' (m x m each), and U' (n x n each) straight into Vt. Without
      // vectors both go to one matrix's worth of scratch, reused.
      array vprime = fresh(vectors ? outputs[0].shape() : Shape{m, m}, st);
      array unused = fresh(vectors ? Shape{1} : Shape{n, n}, st);
      float* s = f32(outputs[vectors ? 1 : 0]);
      float* uprime = vectors ? f32(outputs[2]) : f32(unused);
      const cusolverEigMode_t jobz = vectors ? CUSOLVER_EIG_MODE_VECTOR : CUSOLVER_EIG_MODE_NOVECTOR;
      gesvdjInfo_t params = nullptr;
      check(cusolverDnCreateGesvdjInfo(&params), op, "cusolverDnCreateGesvdjInfo");
      struct Destroy {
        gesvdjInfo_t p;
        ~Destroy() { cusolverDnDestroyGesvdjInfo(p); }
      } destroy{params};
      int lwork = 0;
      check(cusolverDnSgesvdj_bufferSize(h, jobz, 0, n, m, x, n, s, uprime, n, f32(vprime), m, &lwork, params), op,
            "gesvdj_bufferSize");
      Scratch work = workspace(lwork, st);
      Infos info(batch, st);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnSgesvdj(h, jobz, 0, n, m, x + b * m * n, n, s + b * k, vectors ? uprime + b * n * n : uprime,
                                n, f32(vprime) + (vectors ? b * m * m : 0), m, work.as<float>(), lwork, info.at(b),
                                params),
              op, "gesvdj");
      info.raise_if_failed(op, "The SVD did not converge.");
      if (vectors) store(transposed(vprime), outputs[0], st);
      return true;
    }
    case FactorKind::QR: {
      // A transposed into cuSOLVER's layout; R is the upper triangle of its
      // first k rows, Q the first k columns that orgqr forms.
      array w = copy_of(transposed(a), st);  // (…, n, m): cuSOLVER's m x n A
      float* x = f32(w);
      Scratch tau(std::max<size_t>(batch * k, 1) * sizeof(float), st);
      int lwork = 0, lwork_q = 0;
      check(cusolverDnSgeqrf_bufferSize(h, m, n, x, m, &lwork), op, "geqrf_bufferSize");
      check(cusolverDnSorgqr_bufferSize(h, m, k, k, x, m, tau.as<float>(), &lwork_q), op, "orgqr_bufferSize");
      Scratch work = workspace(std::max(lwork, lwork_q), st);
      Infos info(batch, st);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnSgeqrf(h, m, n, x + b * m * n, m, tau.as<float>() + b * k, work.as<float>(),
                               std::max(lwork, lwork_q), info.at(b)),
              op, "geqrf");
      array a_view = transposed(w);  // A-shaped: element (i, j) of cuSOLVER's matrix
      store(top_left(a_view, k, n), outputs[1], st);
      zero_triangle_kernel<<<blocks_for(static_cast<int64_t>(batch) * k * n), kThreads, 0, st>>>(
          f32(outputs[1]), batch, k, n, true);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnSorgqr(h, m, k, k, x + b * m * n, m, tau.as<float>() + b * k, work.as<float>(),
                               std::max(lwork, lwork_q), info.at(b)),
              op, "orgqr");
      store(top_left(a_view, m, k), outputs[0], st);
      return true;
    }
    case FactorKind::LU: {
      // A transposed into cuSOLVER's layout, factored, and the packed L\U
      // transposed back; a zero pivot is no error, as LAPACK's.
      array w = copy_of(transposed(a), st);
      float* x = f32(w);
      int lwork = 0;
      check(cusolverDnSgetrf_bufferSize(h, m, n, x, m, &lwork), op, "getrf_bufferSize");
      Scratch work = workspace(lwork, st);
      Scratch ipiv(std::max<size_t>(batch * k, 1) * sizeof(int), st);
      Scratch order(std::max<size_t>(batch * m, 1) * sizeof(int), st);
      Infos info(batch, st);
      for (size_t b = 0; b < batch; ++b)
        check(cusolverDnSgetrf(h, m, n, x + b * m * n, m, work.as<float>(), ipiv.as<int>() + b * k, info.at(b)), op,
              "getrf");
      store(transposed(w), outputs[0], st);
      lu_pivots_kernel<<<blocks_for(static_cast<int64_t>(batch)), kThreads, 0, st>>>(
          ipiv.as<int>(), batch, k, m, order.as<int>(), static_cast<uint32_t*>(device_write(outputs[1])),
          static_cast<uint32_t*>(device_write(outputs[2])));
      return true;
    }
    default: return false;
  }
}

}  // namespace lmx::cu
