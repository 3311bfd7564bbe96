#include "lmx/dtype.h"

#include <stdexcept>

namespace lmx {

namespace {
constexpr int kSizes[Dtype::count] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8, 8};
constexpr const char* kNames[Dtype::count] = {
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
    "int32", "int64", "float16", "bfloat16", "float32", "float64", "complex64"};
int index(Dtype t) { return static_cast<int>(t.val()); }
}  // namespace

int Dtype::size() const { return kSizes[static_cast<int>(val_)]; }

Dtype::Kind Dtype::kind() const {
  switch (val_) {
    case Val::bool_: return Kind::b;
    case Val::uint8: case Val::uint16: case Val::uint32: case Val::uint64: return Kind::u;
    case Val::int8: case Val::int16: case Val::int32: case Val::int64: return Kind::i;
    case Val::complex64: return Kind::c;
    default: return Kind::f;
  }
}

std::string dtype_name(Dtype t) { return kNames[index(t)]; }

Dtype dtype_from_index(int i) {
  if (i < 0 || i >= Dtype::count) throw std::invalid_argument("[dtype] Invalid dtype index.");
  return Dtype(static_cast<Dtype::Val>(i));
}

bool is_floating_point(Dtype t) { return t.kind() == Dtype::Kind::f; }
bool is_complex(Dtype t) { return t.kind() == Dtype::Kind::c; }
bool is_unsigned(Dtype t) { return t.kind() == Dtype::Kind::u; }
bool is_integral(Dtype t) { return !is_floating_point(t) && !is_complex(t); }
bool is_inexact(Dtype t) { return is_floating_point(t) || is_complex(t); }

bool issubdtype(DtypeCategory a, DtypeCategory b) {
  using C = DtypeCategory;
  if (a == b || b == C::generic) return true;
  switch (b) {
    case C::number: return a != C::generic;
    case C::inexact: return a == C::floating || a == C::complexfloating;
    case C::integer: return a == C::signedinteger || a == C::unsignedinteger;
    default: return false;
  }
}

bool issubdtype(Dtype t, DtypeCategory c) {
  using C = DtypeCategory;
  switch (t.kind()) {
    case Dtype::Kind::b: return c == C::generic;  // bool is not a number in MLX
    case Dtype::Kind::u: return issubdtype(C::unsignedinteger, c);
    case Dtype::Kind::i: return issubdtype(C::signedinteger, c);
    case Dtype::Kind::f: return issubdtype(C::floating, c);
    case Dtype::Kind::c: return issubdtype(C::complexfloating, c);
  }
  return false;
}

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  auto ka = a.kind(), kb = b.kind();
  if (ka == Dtype::Kind::b) return b;
  if (kb == Dtype::Kind::b) return a;
  if (ka == Dtype::Kind::c || kb == Dtype::Kind::c) return complex64;
  if (ka == Dtype::Kind::f || kb == Dtype::Kind::f) {
    if (ka != kb) return ka == Dtype::Kind::f ? a : b;  // an integer adopts the float
    // Two different floats: the two 16-bit formats meet in float32.
    if (a.size() == 2 && b.size() == 2) return float32;
    return a.size() > b.size() ? a : b;
  }
  if (ka == kb) return a.size() > b.size() ? a : b;  // same signedness
  // Mixed signedness: a signed type wide enough to hold the unsigned one.
  Dtype u = ka == Dtype::Kind::u ? a : b;
  Dtype s = ka == Dtype::Kind::u ? b : a;
  if (u.size() < s.size()) return s;
  switch (u.size()) {
    case 1: return int16;
    case 2: return int32;
    case 4: return int64;
    default: return float32;  // uint64 with any signed integer, as in MLX
  }
}

Dtype to_inexact(Dtype t) { return is_inexact(t) ? t : float32; }

}  // namespace lmx
