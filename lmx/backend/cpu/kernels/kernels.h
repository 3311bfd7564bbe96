// Entry points of the CPU kernels that are built once per instruction set
// (lmx::cpu::kernels_baseline, _avx2, _avx512). Callers go through
// LMX_CPU_KERNEL (backend/cpu/isa.h), which picks the build this CPU runs best.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lmx/array.h"
#include "lmx/primitives/elementwise.h"
#include "lmx/primitives/reduce.h"
#include "lmx/backend/cpu/kernels/per_isa.h"

namespace lmx::cpu {
using UnarySpanFn = void (*)(const void* x, void* out, size_t n);
using BinarySpanFn = void (*)(const void* x, const void* y, void* out, size_t n);

}  // namespace lmx::cpu

#define LMX_CPU_KERNEL_ENTRY_POINTS                                                              \
  void unary(UnaryOp op, const array& in, array& out);                                           \
  void binary(BinaryOp op, const array& a, const array& b, array& out);                          \
  void select(const array& cond, const array& x, const array& y, array& out);                    \
  /* the op over n dense elements of type `in` (compile's fused kernels); `scalar` says    \
     which operand is one value repeated (0 none, 1 the first, 2 the second) */              \
  UnarySpanFn unary_span_fn(UnaryOp op, Dtype in);                                               \
  BinarySpanFn binary_span_fn(BinaryOp op, Dtype in, int scalar_operand);                              \
  void reduce(ReduceType type, const std::vector<int>& axes, const array& in, array& out);       \
  void arg_reduce(ArgReduceType type, int axis, const array& in, array& out);                    \
  void convert_contiguous(const void* src, Dtype src_type, void* dst, Dtype dst_type, size_t n); \
  void copy_to_strided(const array& src, void* dst, Dtype dst_type, const Strides& dst_strides);           \
  /* n values (whole groups) of affine-packed w: out = scale * q + bias */                             \
  void affine_dequantize(const uint8_t* w, const float* scales, const float* biases, int bits, int group, \
                         size_t n, float* out);                                                          \
  /* affine_qmv's view of m rows of k values of x (row stride ldx): xsum[r * (k / group) + g], the sum  \
     of row r over group g, and for 4 bits xq (m rows of k) with each 32-value block rewritten for       \
     whole-byte unpacking (lo * x_even + hi * x_odd = lo * (x_even - x_odd / 16) + v * (x_odd / 16) for  \
     a byte v = lo + 16 hi: the block's 16 values x_even - x_odd / 16, then its 16 x_odd / 16) */        \
  void affine_qmv_prepare(const float* x, int64_t ldx, int m, int k, int bits, int group, float* xsum,    \
                          float* xq);                                                                      \
  /* out[r * ldo + j] = sum_k x[r, k] * (scale * q_jk + bias) for m rows of x against n packed rows of \
     w (w_stride bytes apart) of k values each; row j's scales and biases start at j * (k / group), and \
     xsum[r, g] is the sum of row r of x over group g. For 4 bits x is affine_qmv_prepare's xq */     \
  void affine_qmv(const uint8_t* w, int64_t w_stride, int64_t n, const float* x, int64_t ldx, int m, int k, \
                  int bits, int group, const float* scales, const float* biases, const float* xsum,          \
                  int64_t ldxsum, float* out, int64_t ldo);                                                   \
  /* out[r * ldo + j] = sum_k x[r, k] * w[j * ldw + k] for m rows of x against n rows of k float32,  \
     bfloat16 or float16 weights (w_type, ldw in elements): decode's products with a weight and decode  \
     attention's scores (rows of x: the query heads sharing one key head) */                          \
  void matvec_rows(const void* w, Dtype w_type, int64_t ldw, int64_t n, const float* x, int64_t ldx, int m, \
                   int64_t k, float* out, int64_t ldo);                                                     \
  /* out[r * ldo + c] = sum_j x[r * ldx + j] * a[j * lda + c] for c < cols, r < m: m vectors times the n  \
     rows of a float32, bfloat16 or float16 matrix (a_type), each row read once for all m (decode         \
     attention's weighted sum of values) */                                                               \
  void vecmat(const float* x, int64_t ldx, int m, int64_t n, const void* a, Dtype a_type, int64_t lda,        \
              int64_t cols, float* out, int64_t ldo);

LMX_CPU_DECLARE_PER_ISA(LMX_CPU_KERNEL_ENTRY_POINTS)
