// The elementwise op tables: one line per op, expanded into the primitive's
// op enum, its names, and the CPU/CUDA kernel instantiations.
#pragma once

// ---------------- op tables ----------------
// X(Name, "python name", kernel types, result)
//   kernel types: All, Real (no complex), Inexact (floats + complex), Float,
//                 Integral (bool + integers), Complex
//   result: Same (input type), Bool, RealPart (complex -> float32, else same)

#define LMX_UNARY_OPS(X)                        \
  X(Abs, "abs", All, RealPart)                  \
  X(Sign, "sign", All, Same)                    \
  X(Negative, "negative", All, Same)            \
  X(Square, "square", All, Same)                \
  X(Sqrt, "sqrt", Inexact, Same)                \
  X(Rsqrt, "rsqrt", Inexact, Same)              \
  X(Reciprocal, "reciprocal", Inexact, Same)    \
  X(Exp, "exp", Inexact, Same)                  \
  X(Expm1, "expm1", Float, Same)                \
  X(Log, "log", Inexact, Same)                  \
  X(Log2, "log2", Inexact, Same)                \
  X(Log10, "log10", Inexact, Same)              \
  X(Log1p, "log1p", Inexact, Same)              \
  X(Sin, "sin", Inexact, Same)                  \
  X(Cos, "cos", Inexact, Same)                  \
  X(Tan, "tan", Inexact, Same)                  \
  X(ArcSin, "arcsin", Inexact, Same)            \
  X(ArcCos, "arccos", Inexact, Same)            \
  X(ArcTan, "arctan", Inexact, Same)            \
  X(Sinh, "sinh", Inexact, Same)                \
  X(Cosh, "cosh", Inexact, Same)                \
  X(Tanh, "tanh", Inexact, Same)                \
  X(ArcSinh, "arcsinh", Inexact, Same)          \
  X(ArcCosh, "arccosh", Inexact, Same)          \
  X(ArcTanh, "arctanh", Inexact, Same)          \
  X(Erf, "erf", Float, Same)                    \
  X(ErfInv, "erfinv", Float, Same)              \
  X(Sigmoid, "sigmoid", Float, Same)            \
  X(Floor, "floor", Real, Same)                 \
  X(Ceil, "ceil", Real, Same)                   \
  X(Round, "round", All, Same)                  \
  X(LogicalNot, "logical_not", All, Bool)       \
  X(BitwiseInvert, "bitwise_invert", Integral, Same) \
  X(IsNaN, "isnan", All, Bool)                  \
  X(IsInf, "isinf", All, Bool)                  \
  X(IsPosInf, "isposinf", Real, Bool)           \
  X(IsNegInf, "isneginf", Real, Bool)           \
  X(IsFinite, "isfinite", All, Bool)            \
  X(Real, "real", Complex, RealPart)            \
  X(Imag, "imag", Complex, RealPart)            \
  X(Conjugate, "conjugate", Complex, Same)

#define LMX_BINARY_OPS(X)                              \
  X(Add, "add", All, Same)                             \
  X(Subtract, "subtract", All, Same)                   \
  X(Multiply, "multiply", All, Same)                   \
  X(Divide, "divide", Inexact, Same)                   \
  X(FloorDivide, "floor_divide", Real, Same)           \
  X(Remainder, "remainder", Real, Same)                \
  X(Power, "power", All, Same)                         \
  X(Maximum, "maximum", All, Same)                    \
  X(Minimum, "minimum", All, Same)                    \
  X(ArcTan2, "arctan2", Float, Same)                   \
  X(LogAddExp, "logaddexp", Inexact, Same)             \
  X(Equal, "equal", All, Bool)                         \
  X(NotEqual, "not_equal", All, Bool)                  \
  X(Less, "less", All, Bool)                          \
  X(LessEqual, "less_equal", All, Bool)               \
  X(Greater, "greater", All, Bool)                    \
  X(GreaterEqual, "greater_equal", All, Bool)         \
  X(NaNEqual, "nan_equal", Inexact, Bool)              \
  X(LogicalAnd, "logical_and", All, Bool)              \
  X(LogicalOr, "logical_or", All, Bool)                \
  X(BitwiseAnd, "bitwise_and", Integral, Same)         \
  X(BitwiseOr, "bitwise_or", Integral, Same)           \
  X(BitwiseXor, "bitwise_xor", Integral, Same)         \
  X(LeftShift, "left_shift", Integral, Same)           \
  X(RightShift, "right_shift", Integral, Same)
