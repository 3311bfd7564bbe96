// Kernel launchers of the CUDA backend, called by its primitives. Each takes
// arrays whose inputs may be host- or device-resident (device_read moves
// them) and leaves its output device-resident.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "lmx/array.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/factorization.h"
#include "lmx/primitives/reduce.h"
#include "lmx/primitives/sort.h"

namespace lmx {
enum class ScatterMode;
class Convolution;
}

namespace lmx::cu {

// copy.cu
// Copies src (any layout) to device memory at dst laid out with dst_strides
// (elements of dst_type), converting dtype.
void copy_to_strided(const array& src, void* dst, Dtype dst_type, const Strides& dst_strides, cudaStream_t st);
// out = a row-contiguous copy of src in out's dtype (donating src's buffer when it may).
void copy_to_new(const array& src, array& out, cudaStream_t st);
// `in` itself when it is row-contiguous (and of dtype t), else a
// row-contiguous device copy of it converted to t.
array row_contiguous(const array& in, cudaStream_t st);
array row_contiguous(const array& in, Dtype t, cudaStream_t st);
// A view of `a` with `axis` moved last; `inverse` gets the permutation that
// moves it back (for transpose_view of a result laid out like the view).
array axis_last_view(const array& a, int axis, std::vector<int>& inverse);
// n row-contiguous elements at dst set to the 0-d array value.
void fill(void* dst, Dtype t, const array& value, size_t n, cudaStream_t st);
void arange(array& out, double start, double step, cudaStream_t st);

// unary.cu, binary.cu: false when the dtype has no GPU kernel (complex64),
// so the caller runs the primitive on the host instead.
bool unary(UnaryOp op, const array& in, array& out, cudaStream_t st);
bool binary(BinaryOp op, const array& a, const array& b, array& out, cudaStream_t st);
bool select(const array& cond, const array& x, const array& y, array& out, cudaStream_t st);

// reduce.cu: false (nothing launched) for dtypes or layouts the kernels do not
// take; the caller then reduces on the host.
bool reduce(ReduceType type, const std::vector<int>& axes, const array& in, array& out, cudaStream_t st);

// Folds float partial results, `chunks` consecutive ones per row, into out
// (float32, float16 or bfloat16, already allocated; one value per row) as a
// sum, max or min: the second pass of compile's fused reductions.
void fold_partials(ReduceType type, const float* partial, int64_t rows, int64_t chunks, array& out,
                   cudaStream_t st);

// Index of the first extreme element along `axis` (uint32; kept with size 1).
bool arg_reduce(bool is_max, int axis, const array& in, array& out, cudaStream_t st);

// index.cu: false when the gather has more index arrays or dims than the kernel takes.
bool gather(const array& src, const std::vector<array>& idx, const std::vector<int>& axes, array& out,
            cudaStream_t st);

// random.cu: the uint32 words of random_bits for a (2,) uint32 key.
void random_bits(const array& key, array& out, cudaStream_t st);

// fast.cu: rms_norm (b null) or layer_norm over the last axis of the
// row-contiguous x, with row-contiguous weight (and bias) of out's dtype.
bool norm(const array& x, const array& w, const array* b, float eps, array& out, cudaStream_t st);
// sum = x + r and out = rms_norm(sum, w) in one pass over row-contiguous x
// and r (AddRMSNorm); false (nothing done) where the one-pass kernel does not
// reach (rows not whole 16-byte vectors, or too long for its registers).
bool add_norm(const array& x, const array& r, const array& w, float eps, array& out, array& sum, cudaStream_t st);

// fast.cu: rope over the last axis of x (unit feature stride read in place,
// other layouts copied first; int32 offsets, float32 inverse frequencies);
// false for dtypes without a kernel.
bool rope(const array& x, const array& offsets, const array& inv_freq, int dims, bool traditional, float scale,
          array& out, cudaStream_t st);
// fast.cu: attention (B, H, T, D layouts): up to 8 queries per head in a
// decode kernel, more through flash_attention; false when the case belongs to
// the matmul path.
bool attention(const array& q, const array& k, const array& v, const array* mask, const array* sinks, float scale,
               bool causal, array& out, cudaStream_t st);

// flash_attention.cu: float16/bfloat16 attention on the tensor cores for
// head dims 64 and 128 (unit feature strides, 16-byte-aligned rows); false for
// other cases.
bool flash_attention(const array& q, const array& k, const array& v, const array* mask, const array* sinks,
                     float scale, bool causal, array& out, cudaStream_t st);

// linalg.cu: the float32 factorisations and solves through cuSOLVER (the
// triangular solve through cuBLAS); false for other dtypes.
bool factorization(const Factorization& p, const std::vector<array>& inputs, std::vector<array>& outputs,
                   cudaStream_t st);

// conv.cpp: a Convolution node (forward, input or weight gradient) through
// cuDNN; false when lmx was built without cuDNN.
bool convolution(const Convolution& p, const array& a, const array& b, array& out, cudaStream_t st);

// fft.cpp: the unnormalised complex64 transform along axis (cuFFT); false
// for other dtypes or lines or batches past cuFFT's int sizes.
bool fft(const array& in, int axis, bool inverse, array& out, cudaStream_t st);

// index.cu: scatter with ScatterMode::Add, Prod, Max or Min (atomic
// updates) for every GPU dtype; false for complex64 (the caller uses the host).
bool scatter_combine(ScatterMode mode, const array& src, const array& updates, const std::vector<array>& idx,
                     const std::vector<int>& axes, array& out, cudaStream_t st);
// index.cu: scatter with ScatterMode::Replace for every dtype (the last of
// repeated indices wins); false when there are more than
// kMaxSerialPositions index positions and fewer elements per position.
constexpr int64_t kMaxSerialPositions = 1024;
bool scatter_replace(const array& src, const array& updates, const std::vector<array>& idx,
                     const std::vector<int>& axes, array& out, cudaStream_t st);

// gemv.cu: out = a @ b for at most kGemvMaxRows rows of a (its batch dims
// folded) and b the transpose of a row-contiguous 2-D weight; false (nothing
// done) for any other case.
constexpr int kGemvMaxRows = 8;
bool gemv(const array& a, const array& b, array& out, cudaStream_t st);
// outs[i] = a @ bs[i] for several such weights in one launch (MatmulGroup);
// false (nothing done) unless gemv takes every one of them.
bool gemv_group(const array& a, const std::vector<array>& bs, std::vector<array>& outs, cudaStream_t st);

// matmul.cpp: float32/float16/bfloat16 through cuBLAS (gemv's cases through
// gemv); false for other dtypes.
bool matmul(const array& a, const array& b, array& out, cudaStream_t st);

// sort.cu: sorted values (or their uint32 positions) along `axis`, stably,
// NaN last; scans along `axis` (out's dtype: the input is converted first).
bool sort(const array& in, int axis, bool indices, array& out, cudaStream_t st);
bool scan(ScanType type, int axis, bool reverse, bool inclusive, const array& in, array& out, cudaStream_t st);

// quantized.cu: affine quantisation (MLX's packing) and fp8 conversion of
// float32/float16/bfloat16 arrays; false for other dtypes.
bool affine_quantize(const array& w, int group, int bits, array& wq, array& scales, array& biases, cudaStream_t st);
bool affine_dequantize(const array& w, const array& scales, const array& biases, int group, int bits, array& out,
                       cudaStream_t st);
// x (..., M, K) against packed w whose batch dims match x's: a fused
// matrix-vector kernel for few rows of x, else dequantise + cuBLAS.
bool quantized_matmul(const array& x, const array& w, const array& scales, const array& biases, int group,
                      int bits, bool transpose, array& out, cudaStream_t st);
// outs[i] = x @ dequantised(w_i).T for mats = (w_1, scales_1, biases_1, ...),
// each 2-D, in one matrix-vector launch (QuantizedMatmulGroup); false
// (nothing done) unless x has few enough rows for it.
bool quantized_matmul_group(const array& x, const std::vector<array>& mats, int group, int bits,
                            std::vector<array>& outs, cudaStream_t st);
bool fp8_convert(bool to_fp8, const array& in, array& out, cudaStream_t st);
// The fp block modes (quantize_math.h's FpGroupFormat): `global` is nvfp4's
// per-tensor scale or null; `power_of_two` the mx modes' e8m0 scales.
bool fp_quantize(const array& w, const array* global, int group, int bits, bool power_of_two, array& wq,
                 array& scales, cudaStream_t st);
bool fp_dequantize(const array& w, const array& scales, const array* global, int group, int bits,
                   bool power_of_two, array& out, cudaStream_t st);
bool fp_round_trip(const array& x, const array* global, int group, int bits, bool power_of_two, array& out,
                   cudaStream_t st);

}  // namespace lmx::cu
