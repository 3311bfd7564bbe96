// Per-ISA row kernels of mx.fast's fused primitives and of the fused
// backward passes: normalisation (layer and RMS norm), attention's score
// rows, and the windows of a max/min reduction's gradient. They sit apart
// from kernels.h so that only their two callers (backend/cpu/fast.cpp and
// extreme_grad.cpp) depend on them. Everything is float32, row-major, rows
// `ld*` apart.
#pragma once

#include <cstdint>

#include "lmx/backend/cpu/kernels/per_isa.h"

#define LMX_CPU_FUSED_ROW_ENTRY_POINTS                                                                      \
  /* y = (x - mean) * rstd * w + b per row of d values (layer norm); with centre false the mean is 0 and \
     b is unused (RMS norm) */                                                                            \
  void norm_rows(const float* x, const float* w, const float* b, bool centre, float eps, int64_t rows,      \
                 int64_t d, float* y);                                                                      \
  /* norm_rows's backward for the same rows: dx per row, and dw (and db when centre) summed over the rows  \
     into the given accumulators */                                                                       \
  void norm_vjp_rows(const float* x, const float* w, const float* dy, bool centre, float eps, int64_t rows, \
                     int64_t d, float* dx, float* dw, float* db);                                           \
  /* attention probabilities in place for `rows` score rows of n keys (lds apart): each score scaled, the \
     row's additive mask added (mask + r * mask_ld, when mask), keys from limit0 + r on hidden (when      \
     causal), then a softmax whose normaliser also counts exp(*sink) (when sink). A row that sees no key  \
     (and no sink) becomes zeros */                                                                       \
  void attention_probs(float* s, int64_t lds, int64_t rows, int64_t n, float scale, const float* mask,       \
                       int64_t mask_ld, bool causal, int64_t limit0, const float* sink);                   \
  /* attention's score gradients in place: dp = p * (dp - delta[r]) * scale, delta[r] being the dot of the \
     output's row and its cotangent's */                                                                  \
  void attention_dscores(const float* p, int64_t ldp, float* dp, int64_t lddp, const float* delta,           \
                         int64_t rows, int64_t n, float scale);                                             \
  /* a max/min reduction's gradient for n adjacent outputs (y, g) whose windows are the n adjacent values \
     at each x + window[i], i < windows: dx there = g / (ties in the window) where x equals y, else 0 */  \
  void extreme_grad_rows(const float* x, const int64_t* window, int64_t windows, const float* y,            \
                         const float* g, int64_t n, float* dx);

LMX_CPU_DECLARE_PER_ISA(LMX_CPU_FUSED_ROW_ENTRY_POINTS)
