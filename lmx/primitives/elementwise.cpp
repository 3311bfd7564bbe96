#include "lmx/primitives/elementwise.h"

namespace lmx {

#define LMX_NAME_ENTRY(Name, pyname, types, result) pyname,
static const char* const kUnaryNames[] = {LMX_UNARY_OPS(LMX_NAME_ENTRY)};
static const char* const kBinaryNames[] = {LMX_BINARY_OPS(LMX_NAME_ENTRY)};
#undef LMX_NAME_ENTRY

const char* op_name(UnaryOp op) { return kUnaryNames[static_cast<int>(op)]; }
const char* op_name(BinaryOp op) { return kBinaryNames[static_cast<int>(op)]; }

bool Unary::is_equivalent(const Primitive& o) const {
  auto* u = dynamic_cast<const Unary*>(&o);
  return u && u->op_ == op_;
}

bool Binary::is_equivalent(const Primitive& o) const {
  auto* b = dynamic_cast<const Binary*>(&o);
  return b && b->op_ == op_;
}

}  // namespace lmx
