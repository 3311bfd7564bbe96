// eval_gpu of every primitive. Those with CUDA kernels launch them on the
// stream's CUDA stream; the rest run their CPU kernels on the host copy of
// the bytes (unified memory moves them), which keeps every op usable on the
// GPU device while its kernel is still to be written. LMX_GPU_STRICT=1 turns
// that host fallback into an error, to list what still lacks a kernel.
#include <cstdlib>
#include <stdexcept>

#include "lmx/backend/common/layout.h"
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/kernels.h"
#include "lmx/fast/primitives.h"
#include "lmx/primitives/conv.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/factorization.h"
#include "lmx/primitives/fft.h"
#include "lmx/primitives/index.h"
#include "lmx/primitives/linalg.h"
#include "lmx/primitives/distributed.h"
#include "lmx/primitives/quantized.h"
#include "lmx/primitives/random.h"
#include "lmx/primitives/reduce.h"
#include "lmx/primitives/shape.h"
#include "lmx/primitives/sort.h"
#include "lmx/transforms/eval.h"

namespace lmx {

namespace {

cudaStream_t cuda_stream(const Primitive& p) { return cu::stream_of(p.stream()); }

}  // namespace

bool cu::gpu_strict() {
  static bool s = [] {
    const char* e = std::getenv("LMX_GPU_STRICT");
    return e && *e && *e != '0';
  }();
  return s;
}

namespace {

void on_host(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (cu::gpu_strict()) throw std::runtime_error("[" + p.name() + "] has no GPU kernel yet (LMX_GPU_STRICT is set).");
  // A graph could not replay host work: what the host computes would be
  // baked into it (inputs already on the host are read without a wait).
  cu::pause_capture(cuda_stream(p), "a host fallback");
  detail::eval_on_host(p, inputs, outputs);
}

void on_host(UnaryPrimitive& p, const std::vector<array>& inputs, array& out) {
  std::vector<array> outs{out};
  on_host(static_cast<Primitive&>(p), inputs, outs);
}

}  // namespace

// ---- elementwise ----

void Unary::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::unary(op_, inputs[0], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void Binary::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::binary(op_, inputs[0], inputs[1], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void Select::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::select(inputs[0], inputs[1], inputs[2], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void AsType::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (inputs[0].dtype() == complex64 || out.dtype() == complex64) return on_host(*this, inputs, out);
  cu::copy_to_new(inputs[0], out, cuda_stream(*this));
}

// ---- views, copies and assembly ----

void Broadcast::eval_gpu(const std::vector<array>& inputs, array& out) { broadcast_view(inputs[0], out); }

void Reshape::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!reshape_view(inputs[0], out)) cu::copy_to_new(inputs[0], out, cuda_stream(*this));
}

void Squeeze::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!reshape_view(inputs[0], out)) cu::copy_to_new(inputs[0], out, cuda_stream(*this));
}

void StopGradient::eval_gpu(const std::vector<array>& inputs, array& out) { out.copy_shared_buffer(inputs[0]); }

void Contiguous::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  if (in.flags().row_contiguous || (allow_col_major_ && in.flags().col_contiguous)) out.copy_shared_buffer(in);
  else cu::copy_to_new(in, out, cuda_stream(*this));
}

void View::eval_gpu(const std::vector<array>& inputs, array& out) {
  array in = cu::row_contiguous(inputs[0], cuda_stream(*this));
  out.copy_shared_buffer(in, row_major_strides(out.shape()), Flags{}, out.size());
}

void Transpose::eval_gpu(const std::vector<array>& inputs, array& out) { transpose_view(inputs[0], out, axes_); }

void Slice::eval_gpu(const std::vector<array>& inputs, array& out) { slice_view(inputs[0], out, start_, strides_); }

void AsStrided::eval_gpu(const std::vector<array>& inputs, array& out) {
  as_strided_view(cu::row_contiguous(inputs[0], cuda_stream(*this)), out, strides_, offset_);
}

void SliceUpdate::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& src = inputs[0];
  const array& upd = inputs[1];
  if (src.dtype() == complex64) return on_host(*this, inputs, out);
  auto st = cuda_stream(*this);
  cu::copy_to_new(src, out, st);
  if (upd.size() == 0) return;
  Window w = window(out.strides(), start_, strides_);
  char* base = static_cast<char*>(cu::device_write(out)) + w.offset * static_cast<int64_t>(out.itemsize());
  cu::copy_to_strided(upd, base, out.dtype(), w.strides, st);
}

void Concatenate::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (out.dtype() == complex64) return on_host(*this, inputs, out);
  auto st = cuda_stream(*this);
  cu::allocate(out, st);
  int64_t offset = 0;
  const Strides& s = out.strides();
  for (auto& in : inputs) {
    char* base = static_cast<char*>(cu::device_write(out)) + offset * s[axis_] * static_cast<int64_t>(out.itemsize());
    cu::copy_to_strided(in, base, out.dtype(), s, st);
    offset += in.shape(axis_);
  }
}

void Pad::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (out.dtype() == complex64) return on_host(*this, inputs, out);
  auto st = cuda_stream(*this);
  cu::allocate(out, st);
  cu::fill(cu::device_write(out), out.dtype(), inputs[1], out.size(), st);
  if (inputs[0].size() == 0) return;
  int64_t offset = window(out.strides(), low_).offset;
  char* base = static_cast<char*>(cu::device_write(out)) + offset * static_cast<int64_t>(out.itemsize());
  cu::copy_to_strided(inputs[0], base, out.dtype(), out.strides(), st);
}

void Arange::eval_gpu(const std::vector<array>&, array& out) { cu::arange(out, start_, step_, cuda_stream(*this)); }

// ---- reductions and matmul ----

void Reduce::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::reduce(type_, axes_, inputs[0], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void Matmul::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::matmul(inputs[0], matmul_rhs(inputs[0], inputs[1]), out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void MatmulGroup::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto st = cuda_stream(*this);
  const std::vector<array> weights(inputs.begin() + 1, inputs.end());
  if (cu::gemv_group(inputs[0], weights, outputs, st)) return;
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!cu::matmul(inputs[0], matmul_rhs(inputs[0], weights[i]), outputs[i], st)) return on_host(*this, inputs, outputs);
}

void ArgReduce::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::arg_reduce(type_ == ArgReduceType::ArgMax, axis_, inputs[0], out, cuda_stream(*this)))
    on_host(*this, inputs, out);
}

// ---- indexing ----

void Gather::eval_gpu(const std::vector<array>& inputs, array& out) {
  std::vector<array> idx(inputs.begin() + 1, inputs.end());
  if (!cu::gather(inputs[0], idx, axes_, out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void RandomBits::eval_gpu(const std::vector<array>& inputs, array& out) {
  cu::random_bits(inputs[0], out, cuda_stream(*this));
}

void Scatter::eval_gpu(const std::vector<array>& inputs, array& out) {
  std::vector<array> idx(inputs.begin() + 2, inputs.end());
  if (mode_ == ScatterMode::Replace ? cu::scatter_replace(inputs[0], inputs[1], idx, axes_, out, cuda_stream(*this))
                                    : cu::scatter_combine(mode_, inputs[0], inputs[1], idx, axes_, out,
                                                          cuda_stream(*this)))
    return;
  on_host(*this, inputs, out);
}

// ---- sorts and scans ----

void Sort::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::sort(inputs[0], axis_, indices_, out, cuda_stream(*this))) on_host(*this, inputs, out);
}

void Scan::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::scan(type_, axis_, reverse_, inclusive_, inputs[0], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

// ---- quantisation ----

void AffineDequantize::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::affine_dequantize(inputs[0], inputs[1], inputs[2], group_size_, bits_, out, cuda_stream(*this)))
    on_host(*this, inputs, out);
}

void QuantizedMatmul::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::quantized_matmul(inputs[0], inputs[1], inputs[2], inputs[3], group_size_, bits_, transpose_, out,
                            cuda_stream(*this)))
    on_host(*this, inputs, out);
}

void QuantizedMatmulGroup::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto st = cuda_stream(*this);
  const std::vector<array> mats(inputs.begin() + 1, inputs.end());
  if (cu::quantized_matmul_group(inputs[0], mats, group_size_, bits_, outputs, st)) return;
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!cu::quantized_matmul(inputs[0], mats[3 * i], mats[3 * i + 1], mats[3 * i + 2], group_size_, bits_, true,
                              outputs[i], st))
      return on_host(*this, inputs, outputs);
}

void Fp8Convert::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::fp8_convert(to_fp8_, inputs[0], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

// The fp block modes: nvfp4's global scale is the last input when present.
void FpQuantize::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!cu::fp_quantize(inputs[0], global_scale() ? &inputs.back() : nullptr, group_size(), bits(),
                       mode() != FpMode::nvfp4, outputs[0], outputs[1], cuda_stream(*this)))
    on_host(*this, inputs, outputs);
}
void FpDequantize::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::fp_dequantize(inputs[0], inputs[1], global_scale() ? &inputs.back() : nullptr, group_size(), bits(),
                         mode() != FpMode::nvfp4, out, cuda_stream(*this)))
    on_host(*this, inputs, out);
}
void FpRoundTrip::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::fp_round_trip(inputs[0], global_scale() ? &inputs.back() : nullptr, group_size(), bits(),
                         mode() != FpMode::nvfp4, out, cuda_stream(*this)))
    on_host(*this, inputs, out);
}

// ---- distributed ----

// Collectives go through host memory (lmx has no NCCL backend yet).
void DistributedOp::eval_gpu(const std::vector<array>& inputs, array& out) { on_host(*this, inputs, out); }

void FFT::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::fft(inputs[0], axis_, inverse_, out, cuda_stream(*this))) on_host(*this, inputs, out);
}

// ---- mx.fast: fused kernels where they exist for the case, otherwise the
// fallback graph of ordinary ops, run on the GPU ----

namespace {

void run_fallback(const fast::Fused& p, const std::vector<array>& inputs, array& out) {
  auto result = p.fallback()(inputs);
  detail::eval_inline(result);
  out.copy_shared_buffer(result[0]);
}

void run_fallback(const fast::FusedMultiOutput& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto result = p.fallback()(inputs);
  detail::eval_inline(result);
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(result[i]);
}

}  // namespace

void fast::RMSNorm::eval_gpu(const std::vector<array>& inputs, array& out) {
  auto st = cuda_stream(*this);
  array x = cu::row_contiguous(inputs[0], st), w = cu::row_contiguous(inputs[1], st);
  if (!cu::norm(x, w, nullptr, eps_, out, st)) run_fallback(*this, inputs, out);
}

void fast::AddRMSNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto st = cuda_stream(*this);
  array x = cu::row_contiguous(inputs[0], st), r = cu::row_contiguous(inputs[1], st);
  array w = cu::row_contiguous(inputs[2], st);
  if (cu::add_norm(x, r, w, eps_, outputs[0], outputs[1], st)) return;
  if (cu::binary(BinaryOp::Add, x, r, outputs[1], st) && cu::norm(outputs[1], w, nullptr, eps_, outputs[0], st)) return;
  run_fallback(*this, inputs, outputs);
}

void fast::LayerNorm::eval_gpu(const std::vector<array>& inputs, array& out) {
  auto st = cuda_stream(*this);
  array x = cu::row_contiguous(inputs[0], st), w = cu::row_contiguous(inputs[1], st), b = cu::row_contiguous(inputs[2], st);
  if (!cu::norm(x, w, &b, eps_, out, st)) run_fallback(*this, inputs, out);
}


void fast::RoPE::eval_gpu(const std::vector<array>& inputs, array& out) {
  auto st = cuda_stream(*this);
  array offsets = cu::row_contiguous(inputs[1], st), inv_freq = cu::row_contiguous(inputs[2], st);
  if (!cu::rope(inputs[0], offsets, inv_freq, dims_, traditional_, scale_, out, st)) run_fallback(*this, inputs, out);
}

void fast::ScaledDotProductAttention::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array* mask = has_mask_ ? &inputs[3] : nullptr;
  const array* sinks = has_sinks_ ? &inputs[has_mask_ ? 4 : 3] : nullptr;
  if (!cu::attention(inputs[0], inputs[1], inputs[2], mask, sinks, scale_, causal_, out, cuda_stream(*this)))
    run_fallback(*this, inputs, out);
}

// The fused backward passes have no GPU kernels yet: their graphs of ops run
// there instead (what the vjp of the forward kernels built before).
void fast::NormVJP::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_fallback(*this, inputs, outputs);
}

void fast::AttentionVJP::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_fallback(*this, inputs, outputs);
}

// Convolution nodes reach GPU streams when the backend has cuDNN
// (gpu::convolution_available); without it they are made for CPU streams
// only, and one that meets the GPU (an imported graph) runs on the host.
void Convolution::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cu::convolution(*this, inputs[0], inputs[1], out, cuda_stream(*this))) on_host(*this, inputs, out);
}

// Likewise the fused max/min gradient (GPU reductions differentiate through ops).
void ExtremeGrad::eval_gpu(const std::vector<array>& inputs, array& out) { on_host(*this, inputs, out); }

void Factorization::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!cu::factorization(*this, inputs, outputs, cuda_stream(*this))) on_host(*this, inputs, outputs);
}

void AffineQuantize::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!cu::affine_quantize(inputs[0], group_size_, bits_, outputs[0], outputs[1], outputs[2], cuda_stream(*this)))
    on_host(*this, inputs, outputs);
}

}  // namespace lmx
