#include "lmx/backend/cpu/fused_kernel.h"

#include <sstream>
#include <stdexcept>

#include "lmx/backend/common/kernel_source.h"
#include "lmx/backend/cpu/simd_ops.h"

namespace lmx::cpu {

namespace {

// The C++ type of a slot, or null for complex64, which the generator leaves
// out (see fused_kernel_supported).
const char* type_name(Dtype t) { return t == complex64 ? nullptr : element_type_name(t); }

// "s<slot>": a slot's array in the generated block.
std::string slot_name(int slot) {
  std::string name = "s";
  name += std::to_string(slot);
  return name;
}

}  // namespace

bool fused_kernel_supported(const Compiled& c, const std::vector<Dtype>& input_types) {
  return chain_types_named(c, input_types, type_name);
}

std::string fused_kernel_key(const Compiled& c, const std::vector<Dtype>& input_types,
                             const std::vector<bool>& single_value, const std::vector<int>& power_exponent) {
  std::string key;
  auto put = [&key](int v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(static_cast<int>(input_types.size()));
  for (size_t i = 0; i < input_types.size(); ++i) put(static_cast<int>(input_types[i].val()) * 2 + single_value[i]);
  put(static_cast<int>(c.steps().size()));
  for (size_t t = 0; t < c.steps().size(); ++t) {
    const FusedStep& s = c.steps()[t];
    for (int v : {static_cast<int>(s.kind), s.op, s.args[0], s.args[1], s.args[2], static_cast<int>(s.dtype.val()),
                  power_exponent[t]})
      put(v);
  }
  for (int slot : c.output_slots()) put(slot);
  return key;
}

std::string fused_kernel_source(const Compiled& c, const std::vector<Dtype>& input_types,
                                const std::vector<bool>& single_value, const std::vector<int>& power_exponent) {
  const int nin = static_cast<int>(input_types.size());
  const auto& steps = c.steps();
  const auto& outs = c.output_slots();
  std::vector<std::string> slot_type;
  for (auto t : input_types) slot_type.push_back(type_name(t));
  for (auto& s : steps) slot_type.push_back(type_name(s.dtype));
  std::ostringstream k;
  k << "#include \"lmx/backend/cpu/fused_prelude.h\"\n"
    << "using namespace lmx;\nnamespace fused = lmx::cpu::fused;\n\n";
  // The operands: a pointer per input read per element, the value of each
  // single-value input, a pointer per output.
  k << "struct Operands {\n";
  for (int i = 0; i < nin; ++i) {
    if (single_value[i]) k << "  " << slot_type[i] << " in" << i << ";\n";
    else k << "  const " << slot_type[i] << "* in" << i << ";\n";
  }
  for (size_t o = 0; o < outs.size(); ++o) k << "  " << slot_type[outs[o]] << "* out" << o << ";\n";
  k << "};\n\n";
  // One block of L elements from element i: every step over the block.
  k << "template <int L>\nLMX_FUSED_INLINE void block(const Operands& p, size_t i, size_t m = L) {\n";
  for (int i = 0; i < nin; ++i) {
    k << "  " << slot_type[i] << " s" << i << "[L];\n";
    if (single_value[i]) k << "  fused::splat(p.in" << i << ", s" << i << ");\n";
    else k << "  fused::load(p.in" << i << " + i, s" << i << ", m);\n";
  }
  for (size_t t = 0; t < steps.size(); ++t) {
    const FusedStep& s = steps[t];
    const int slot = nin + static_cast<int>(t);
    const std::string& out = slot_type[slot];
    const std::string& in = slot_type[s.args[0]];
    const std::string a = slot_name(s.args[0]), d = slot_name(slot);
    k << "  " << out << " " << d << "[L];\n  ";
    switch (s.kind) {
      case FusedStep::Kind::unary:
        k << "fused::unary<scalar::" << functor_name(static_cast<UnaryOp>(s.op)) << ", " << in << ", " << out
          << ">(" << a << ", " << d << ");\n";
        break;
      case FusedStep::Kind::binary:
        if (power_exponent[t] != kNoSmallPower)
          k << "fused::power<" << power_exponent[t] << ">(" << a << ", " << d << ");\n";
        else
          k << "fused::binary<scalar::" << functor_name(static_cast<BinaryOp>(s.op)) << ", " << in << ", " << out
            << ">(" << a << ", " << slot_name(s.args[1]) << ", " << d << ");\n";
        break;
      case FusedStep::Kind::select:
        k << "fused::select(" << a << ", " << slot_name(s.args[1]) << ", " << slot_name(s.args[2]) << ", " << d
          << ");\n";
        break;
      case FusedStep::Kind::cast: k << "fused::cast(" << a << ", " << d << ");\n"; break;
    }
  }
  for (size_t o = 0; o < outs.size(); ++o) k << "  fused::store(s" << outs[o] << ", p.out" << o << " + i, m);\n";
  k << "}\n\n";
  k << "extern \"C\" __attribute__((visibility(\"default\"))) void " << kFusedKernelName
    << "(const void* const* in, void* const* out, size_t n) {\n  const Operands p{";
  for (int i = 0; i < nin; ++i) {
    if (single_value[i] && input_types[i] == bool_) k << "*static_cast<const uint8_t*>(in[" << i << "]) != 0, ";
    else if (single_value[i]) k << "*static_cast<const " << slot_type[i] << "*>(in[" << i << "]), ";
    else k << "static_cast<const " << slot_type[i] << "*>(in[" << i << "]), ";
  }
  for (size_t o = 0; o < outs.size(); ++o)
    k << "static_cast<" << slot_type[outs[o]] << "*>(out[" << o << "])" << (o + 1 < outs.size() ? ", " : "");
  k << "};\n  size_t i = 0;\n"
    << "  for (; i + fused::kBlock <= n; i += fused::kBlock) block<fused::kBlock>(p, i);\n"
    << "  for (; i + fused::kLanes <= n; i += fused::kLanes) block<fused::kLanes>(p, i);\n"
    << "  if (i < n) block<fused::kLanes>(p, i, n - i);\n}\n";
  return k.str();
}

}  // namespace lmx::cpu
