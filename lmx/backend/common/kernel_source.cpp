#include "lmx/backend/common/kernel_source.h"

namespace lmx {

namespace {

#define LMX_FUNCTOR_NAME(Name, pyname, types, result) #Name,
const char* const kUnaryFunctors[] = {LMX_UNARY_OPS(LMX_FUNCTOR_NAME)};
const char* const kBinaryFunctors[] = {LMX_BINARY_OPS(LMX_FUNCTOR_NAME)};
#undef LMX_FUNCTOR_NAME

}  // namespace

const char* element_type_name(Dtype t) {
  switch (t.val()) {
    case Dtype::Val::bool_: return "bool";
    case Dtype::Val::uint8: return "uint8_t";
    case Dtype::Val::uint16: return "uint16_t";
    case Dtype::Val::uint32: return "uint32_t";
    case Dtype::Val::uint64: return "uint64_t";
    case Dtype::Val::int8: return "int8_t";
    case Dtype::Val::int16: return "int16_t";
    case Dtype::Val::int32: return "int32_t";
    case Dtype::Val::int64: return "int64_t";
    case Dtype::Val::float16: return "float16_t";
    case Dtype::Val::bfloat16: return "bfloat16_t";
    case Dtype::Val::float32: return "float";
    case Dtype::Val::float64: return "double";
    case Dtype::Val::complex64: return "complex64_t";
  }
  return "";
}

const char* functor_name(UnaryOp op) { return kUnaryFunctors[static_cast<int>(op)]; }
const char* functor_name(BinaryOp op) { return kBinaryFunctors[static_cast<int>(op)]; }

}  // namespace lmx
