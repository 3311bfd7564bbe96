// The FFT primitive on the GPU through cuFFT: one unnormalised complex64
// transform along one axis (the op layer scales, crops and pads, and builds
// real and n-dimensional transforms from these). cuFFT takes lines `stride`
// apart within a line and `dist` apart between lines: in a row-contiguous
// array of shape (outer, n, inner) that is one plan of inner lines for each
// of the outer blocks. With many blocks of several lines each, the lines are
// instead copied innermost first and the result scattered back into the
// output's layout by the same strided copy.
#include <cufft.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/kernels.h"

namespace lmx::cu {

namespace {

void check(cufftResult r, const char* what) {
  if (r != CUFFT_SUCCESS) throw std::runtime_error(std::string("[fft] ") + what + " failed (cuFFT error " +
                                                   std::to_string(static_cast<int>(r)) + ").");
}

// Plans are costly to make (they allocate their work area), so they are kept,
// one per (length, lines, stride, dist, stream): a plan's work area must not
// be shared by transforms that may run at once on two streams. Never freed,
// as the streams.
cufftHandle plan_for(int n, int lines, int stride, int dist, cudaStream_t st) {
  static std::mutex mu;
  static auto* plans = new std::map<std::tuple<int, int, int, int, cudaStream_t>, cufftHandle>();
  std::lock_guard lk(mu);
  auto key = std::make_tuple(n, lines, stride, dist, st);
  if (auto it = plans->find(key); it != plans->end()) return it->second;
  // pause_capture may throw (a compiled step's recording is refused): the
  // plan is filed only once made.
  pause_capture(st, "cuFFT plan creation");
  int len = n;
  cufftHandle plan;
  check(cufftPlanMany(&plan, 1, &len, &len, stride, dist, &len, stride, dist, CUFFT_C2C, lines), "cufftPlanMany");
  cufftResult bound = cufftSetStream(plan, st);
  if (bound != CUFFT_SUCCESS) cufftDestroy(plan);
  check(bound, "cufftSetStream");
  plans->emplace(key, plan);
  return plan;
}

constexpr int64_t kMaxInt = (int64_t{1} << 31) - 1;

}  // namespace

bool fft(const array& in, int axis, bool inverse, array& out, cudaStream_t st) {
  if (in.dtype() != complex64 || out.dtype() != complex64) return false;
  const int64_t n = in.shape(axis);
  const int64_t lines = n ? static_cast<int64_t>(in.size()) / n : 0;
  if (n > kMaxInt || lines > kMaxInt) return false;
  allocate(out, st);
  if (out.size() == 0) return true;
  const int dir = inverse ? CUFFT_INVERSE : CUFFT_FORWARD;
  int64_t inner = 1;
  for (int d = axis + 1; d < in.ndim(); ++d) inner *= in.shape(d);
  const int64_t outer = lines / inner;
  // Blocks of lines read in place; a handful of launches at most.
  if (inner == 1 || outer <= 8) {
    array dense = row_contiguous(in, st);
    auto* src = static_cast<cufftComplex*>(const_cast<void*>(device_read(dense, st)));
    auto* dst = static_cast<cufftComplex*>(device_write(out));
    const int64_t blocks = inner == 1 ? 1 : outer, block_lines = inner == 1 ? lines : inner;
    cufftHandle plan = plan_for(static_cast<int>(n), static_cast<int>(block_lines), static_cast<int>(inner),
                                inner == 1 ? static_cast<int>(n) : 1, st);
    for (int64_t b = 0; b < blocks; ++b)
      check(cufftExecC2C(plan, src + b * n * inner, dst + b * n * inner, dir), "cufftExecC2C");
    return true;
  }
  // The lines innermost and dense, transformed, then written back through
  // out's strides: result's dim i is out's dim perm[i].
  std::vector<int> inverse_perm;
  array dense_lines = row_contiguous(axis_last_view(in, axis, inverse_perm), st);
  array result(dense_lines.shape(), complex64, std::shared_ptr<Data>{});
  allocate(result, st);
  cufftHandle plan = plan_for(static_cast<int>(n), static_cast<int>(lines), 1, static_cast<int>(n), st);
  check(cufftExecC2C(plan, static_cast<cufftComplex*>(const_cast<void*>(device_read(dense_lines, st))),
                     static_cast<cufftComplex*>(device_write(result)), dir),
        "cufftExecC2C");
  Strides dst_strides(result.ndim());
  for (int d = 0; d < out.ndim(); ++d) dst_strides[inverse_perm[d]] = out.strides()[d];
  copy_to_strided(result, device_write(out), complex64, dst_strides, st);
  return true;
}

}  // namespace lmx::cu
