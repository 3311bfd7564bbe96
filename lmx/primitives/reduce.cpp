#include "lmx/primitives/reduce.h"

namespace lmx {

Dtype sum_result_type(Dtype in) {
  switch (in.val()) {
    case Dtype::Val::bool_: case Dtype::Val::int8: case Dtype::Val::int16: return int32;
    case Dtype::Val::uint8: case Dtype::Val::uint16: return uint32;
    default: return in;
  }
}

std::string Reduce::name() const {
  switch (type_) {
    case ReduceType::Sum: return "sum";
    case ReduceType::Prod: return "prod";
    case ReduceType::Max: return "max";
    case ReduceType::Min: return "min";
    case ReduceType::And: return "all";
    case ReduceType::Or: return "any";
  }
  return "reduce";
}

}  // namespace lmx
