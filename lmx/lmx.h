// Umbrella header for C++ users of lmx.
#pragma once

#include "lmx/array.h"
#include "lmx/dtype.h"
#include "lmx/fast/fast.h"
#include "lmx/ops/fft.h"
#include "lmx/ops/linalg.h"
#include "lmx/ops/ops.h"
#include "lmx/ops/quantized.h"
#include "lmx/ops/random.h"
#include "lmx/runtime/allocator.h"
#include "lmx/runtime/device.h"
#include "lmx/transforms/autodiff.h"
#include "lmx/transforms/compile.h"
#include "lmx/transforms/export.h"
#include "lmx/transforms/custom.h"
#include "lmx/transforms/eval.h"
#include "lmx/transforms/vmap.h"
