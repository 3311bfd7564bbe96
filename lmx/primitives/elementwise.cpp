#include "lmx/primitives/elementwise.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "lmx/ops/ops.h"

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

// ---- differentiation rules ----

namespace {

array scalar(double v, const array& like) { return array(v, like.dtype()); }

}  // namespace

// Operands arrive broadcast to the output's shape. Operands that had equal
// shapes when traced were not broadcast, so they must stay equal.
Shape elementwise_output_shape(const std::vector<array>& inputs, const std::string& op) {
  for (auto& in : inputs)
    if (in.shape() != inputs[0].shape())
      throw std::invalid_argument("[compile] The operands of '" + op + "' had one shape when the shapeless function "
                                  "was traced but now have shapes " + shape_string(inputs[0].shape()) + " and " +
                                  shape_string(in.shape()) + ". Compile it without shapeless=True.");
  return inputs[0].shape();
}

std::vector<Shape> Unary::output_shapes(const std::vector<array>& inputs) { return {inputs[0].shape()}; }
std::vector<Shape> Binary::output_shapes(const std::vector<array>& inputs) {
  return {elementwise_output_shape(inputs, name())};
}
std::vector<Shape> Select::output_shapes(const std::vector<array>& inputs) {
  return {elementwise_output_shape(inputs, name())};
}
std::vector<Shape> AsType::output_shapes(const std::vector<array>& inputs) { return {inputs[0].shape()}; }

std::vector<array> Unary::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cotangents[0];
  const array& y = outputs[0];
  auto one = [&] { return scalar(1.0, x); };
  array d;
  switch (op_) {
    // 0 at 0, as MLX; conj(z) / |z| for complex z (the rules' bilinear convention).
    case UnaryOp::Abs: d = multiply(g, x.dtype() == complex64 ? conjugate(sign(x)) : sign(x)); break;
    case UnaryOp::Negative: d = negative(g); break;
    case UnaryOp::Square: d = multiply(g, multiply(scalar(2.0, x), x)); break;
    case UnaryOp::Sqrt: d = divide(g, multiply(scalar(2.0, x), y)); break;
    case UnaryOp::Rsqrt: d = multiply(g, multiply(scalar(-0.5, x), divide(y, x))); break;
    case UnaryOp::Reciprocal: d = negative(multiply(g, square(y))); break;
    case UnaryOp::Exp: d = multiply(g, y); break;
    case UnaryOp::Expm1: d = multiply(g, add(y, one())); break;
    case UnaryOp::Log: d = divide(g, x); break;
    case UnaryOp::Log2: d = divide(g, multiply(x, scalar(M_LN2, x))); break;
    case UnaryOp::Log10: d = divide(g, multiply(x, scalar(M_LN10, x))); break;
    case UnaryOp::Log1p: d = divide(g, add(x, one())); break;
    case UnaryOp::Sin: d = multiply(g, cos(x)); break;
    case UnaryOp::Cos: d = negative(multiply(g, sin(x))); break;
    case UnaryOp::Tan: d = multiply(g, add(one(), square(y))); break;
    case UnaryOp::ArcSin: d = multiply(g, rsqrt(subtract(one(), square(x)))); break;
    case UnaryOp::ArcCos: d = negative(multiply(g, rsqrt(subtract(one(), square(x))))); break;
    case UnaryOp::ArcTan: d = divide(g, add(one(), square(x))); break;
    case UnaryOp::Sinh: d = multiply(g, cosh(x)); break;
    case UnaryOp::Cosh: d = multiply(g, sinh(x)); break;
    case UnaryOp::Tanh: d = multiply(g, subtract(one(), square(y))); break;
    case UnaryOp::ArcSinh: d = multiply(g, rsqrt(add(square(x), one()))); break;
    case UnaryOp::ArcCosh: d = multiply(g, rsqrt(subtract(square(x), one()))); break;
    case UnaryOp::ArcTanh: d = divide(g, subtract(one(), square(x))); break;
    case UnaryOp::Erf: d = multiply(g, multiply(scalar(M_2_SQRTPI, x), exp(negative(square(x))))); break;
    case UnaryOp::ErfInv: d = multiply(g, multiply(scalar(0.5 * std::sqrt(M_PI), x), exp(square(y)))); break;
    case UnaryOp::Sigmoid: d = multiply(g, multiply(y, subtract(one(), y))); break;
    case UnaryOp::Conjugate: d = conjugate(g); break;
    case UnaryOp::Real: d = astype(g, x.dtype()); break;
    case UnaryOp::Imag: d = multiply(astype(g, x.dtype()), array(complex64_t(0.0f, -1.0f), x.dtype())); break;
    // Piecewise constant or not numeric: the derivative is zero.
    case UnaryOp::Sign: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round: case UnaryOp::LogicalNot:
    case UnaryOp::BitwiseInvert: case UnaryOp::IsNaN: case UnaryOp::IsInf: case UnaryOp::IsPosInf:
    case UnaryOp::IsNegInf: case UnaryOp::IsFinite:
      d = zeros_like(x);
      break;
  }
  return {d};
}

std::vector<array> Binary::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& a = primals[0];
  const array& b = primals[1];
  const array& g = cotangents[0];
  const array& y = outputs[0];
  auto zero = [&] { return zeros_like(a); };
  std::vector<array> out;
  for (int arg : argnums) {
    bool lhs = arg == 0;
    array d;
    switch (op_) {
      case BinaryOp::Add: d = g; break;
      case BinaryOp::Subtract: d = lhs ? g : negative(g); break;
      case BinaryOp::Multiply: d = multiply(g, lhs ? b : a); break;
      case BinaryOp::Divide: d = lhs ? divide(g, b) : negative(divide(multiply(g, a), square(b))); break;
      case BinaryOp::Power:
        // d/da a^b = b a^(b-1); d/db a^b = a^b log a (0 where a^b is 0).
        d = lhs ? multiply(g, multiply(b, power(a, subtract(b, scalar(1.0, b)))))
                : multiply(g, where(equal(y, zero()), zero(), multiply(y, log(a))));
        break;
      // Ties send the gradient to b, as MLX. A select reads the comparison's
      // bytes once, where a product with it cast to g's type took two more
      // passes (relu's backward in a CNN).
      case BinaryOp::Maximum: d = where(lhs ? greater(a, b) : less_equal(a, b), g, scalar(0.0, g)); break;
      case BinaryOp::Minimum: d = where(lhs ? less(a, b) : greater_equal(a, b), g, scalar(0.0, g)); break;
      case BinaryOp::ArcTan2: {
        array r = add(square(a), square(b));
        d = lhs ? divide(multiply(g, b), r) : negative(divide(multiply(g, a), r));
        break;
      }
      case BinaryOp::LogAddExp: d = multiply(g, sigmoid(lhs ? subtract(a, b) : subtract(b, a))); break;
      case BinaryOp::Remainder: d = lhs ? g : negative(multiply(g, floor_divide(a, b))); break;
      // Piecewise constant, boolean or integer-only results. Listed, not a
      // default: a new op must state its rule.
      case BinaryOp::FloorDivide: case BinaryOp::Equal: case BinaryOp::NotEqual: case BinaryOp::Less:
      case BinaryOp::LessEqual: case BinaryOp::Greater: case BinaryOp::GreaterEqual: case BinaryOp::NaNEqual:
      case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr: case BinaryOp::BitwiseAnd: case BinaryOp::BitwiseOr:
      case BinaryOp::BitwiseXor: case BinaryOp::LeftShift: case BinaryOp::RightShift:
        d = zeros_like(primals[arg]);
        break;
    }
    if (!d.valid()) throw std::logic_error(std::string("[vjp] No rule for binary op ") + op_name(op_) + ".");
    out.push_back(d);
  }
  return out;
}

std::vector<array> Select::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = primals[0];
  const array& g = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(zeros_like(c));
    else if (arg == 1) out.push_back(where(c, g, zeros_like(g)));
    else out.push_back(where(c, zeros_like(g), g));
  }
  return out;
}

std::vector<array> AsType::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>&) {
  return {astype(cotangents[0], primals[0].dtype())};
}


// ---- batching rules ----

namespace {

// Mapped inputs with their mapped axis moved to the front; unmapped ones
// broadcast along a new front axis; all to one shape (B, *unbatched shape).
std::vector<array> batch_front(const std::vector<array>& inputs, const std::vector<int>& axes, const Shape& shape) {
  int size = 1;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) size = inputs[i].shape(axes[i]);
  Shape full = shape;
  full.insert(full.begin(), size);
  std::vector<array> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    array x = axes[i] >= 0 ? moveaxis(inputs[i], axes[i], 0) : expand_dims(inputs[i], {0});
    out.push_back(x.shape() == full ? x : broadcast_to(x, full));
  }
  return out;
}

// The same elementwise primitive over front-batched inputs.
std::pair<std::vector<array>, std::vector<int>> elementwise_vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes,
                                                                 const std::vector<array>& outputs) {
  auto ins = batch_front(inputs, axes, outputs[0].shape());
  Shape shape = ins[0].shape();
  return {{array(shape, outputs[0].dtype(), outputs[0].primitive_ptr(), std::move(ins))}, {0}};
}

}  // namespace

#define LMX_ELEMENTWISE_VMAP(Class)                                                                      \
  std::pair<std::vector<array>, std::vector<int>> Class::vmap(                                           \
      const std::vector<array>& inputs, const std::vector<int>& axes, const std::vector<array>& outputs) { \
    return elementwise_vmap(inputs, axes, outputs);                                                      \
  }
LMX_ELEMENTWISE_VMAP(Unary)
LMX_ELEMENTWISE_VMAP(Binary)
LMX_ELEMENTWISE_VMAP(Select)
LMX_ELEMENTWISE_VMAP(AsType)
#undef LMX_ELEMENTWISE_VMAP

}  // namespace lmx
