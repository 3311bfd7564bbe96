#include "lmx/transforms/export.h"

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "lmx/fast/fast.h"
#include "lmx/fast/primitives.h"
#include "lmx/ops/ops.h"
#include "lmx/ops/quantized.h"
#include "lmx/ops/linalg.h"
#include "lmx/primitives/compiled.h"
#include "lmx/primitives/conv.h"
#include "lmx/primitives/factorization.h"
#include "lmx/primitives/fft.h"
#include "lmx/primitives/index.h"
#include "lmx/primitives/linalg.h"
#include "lmx/primitives/quantized.h"
#include "lmx/primitives/random.h"
#include "lmx/primitives/reduce.h"
#include "lmx/primitives/shape.h"
#include "lmx/primitives/sort.h"
#include "lmx/transforms/compile_program.h"
#include "lmx/transforms/eval.h"

namespace lmx {

namespace {

using Program = CompiledGraph::Program;

constexpr char kMagic[6] = {'L', 'M', 'X', 'F', 'N', '\0'};
constexpr uint32_t kVersion = 1;

class Writer {
 public:
  void u8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i32(int32_t v) { raw(&v, 4); }
  void i64(int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  template <typename T>
  void ints(const std::vector<T>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (auto x : v) i64(static_cast<int64_t>(x));
  }
  void raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(std::string data, std::string path) : data_(std::move(data)), path_(std::move(path)) {}
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("[import_function] " + path_ + ": " + why);
  }
  void raw(void* p, size_t n) {
    if (n > data_.size() - pos_) fail("the file is truncated.");
    std::memcpy(p, data_.data() + pos_, n);
    pos_ += n;
  }
  template <typename T>
  T read() {
    T v;
    raw(&v, sizeof v);
    return v;
  }
  uint8_t u8() { return read<uint8_t>(); }
  uint32_t u32() { return read<uint32_t>(); }
  int32_t i32() { return read<int32_t>(); }
  int64_t i64() { return read<int64_t>(); }
  double f64() { return read<double>(); }
  // A count of items of at least `min_bytes` each, checked against what is left.
  uint32_t count(size_t min_bytes = 1) {
    uint32_t n = u32();
    if (n > (data_.size() - pos_) / (min_bytes ? min_bytes : 1) + 1) fail("a count runs past the end of the file.");
    return n;
  }
  std::string str() {
    uint32_t n = count();
    std::string s(n, '\0');
    raw(s.data(), n);
    return s;
  }
  template <typename T>
  std::vector<T> ints() {
    uint32_t n = count(8);
    std::vector<T> v;
    for (uint32_t i = 0; i < n; ++i) v.push_back(static_cast<T>(i64()));
    return v;
  }
  bool done() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string data_;
  size_t pos_ = 0;
  std::string path_;
};

Dtype read_dtype(Reader& r) {
  uint8_t i = r.u8();
  if (i >= Dtype::count) r.fail("unknown dtype code " + std::to_string(i) + ".");
  return dtype_from_index(i);
}

// ---- the primitives that can be exported: one writer and one reader each ----

void write_primitive(Writer& w, const Primitive& p) {
  if (auto* u = dynamic_cast<const Unary*>(&p)) {
    w.str("unary"), w.u32(static_cast<uint32_t>(u->op()));
  } else if (auto* b = dynamic_cast<const Binary*>(&p)) {
    w.str("binary"), w.u32(static_cast<uint32_t>(b->op()));
  } else if (dynamic_cast<const Select*>(&p)) {
    w.str("where");
  } else if (dynamic_cast<const AsType*>(&p)) {
    w.str("astype");
  } else if (dynamic_cast<const Broadcast*>(&p)) {
    w.str("broadcast_to");
  } else if (dynamic_cast<const StopGradient*>(&p)) {
    w.str("stop_gradient");
  } else if (auto* sq = dynamic_cast<const Squeeze*>(&p)) {
    w.str("squeeze"), w.ints(sq->axes());
  } else if (auto* rs = dynamic_cast<const Reshape*>(&p)) {
    w.str("reshape"), w.u8(rs->requested().has_value());
    if (rs->requested()) w.ints(*rs->requested());
  } else if (auto* c = dynamic_cast<const Contiguous*>(&p)) {
    w.str("contiguous"), w.u8(c->allow_col_major());
  } else if (auto* t = dynamic_cast<const Transpose*>(&p)) {
    w.str("transpose"), w.ints(t->axes());
  } else if (auto* s = dynamic_cast<const Slice*>(&p)) {
    w.str("slice"), w.ints(s->start()), w.ints(s->strides());
  } else if (auto* pd = dynamic_cast<const Pad*>(&p)) {
    w.str("pad"), w.ints(pd->low());
  } else if (auto* su = dynamic_cast<const SliceUpdate*>(&p)) {
    w.str("slice_update"), w.ints(su->start()), w.ints(su->strides());
  } else if (auto* c = dynamic_cast<const Concatenate*>(&p)) {
    w.str("concatenate"), w.i32(c->axis());
  } else if (auto* r = dynamic_cast<const Reduce*>(&p)) {
    w.str("reduce"), w.u8(static_cast<uint8_t>(r->type())), w.ints(r->axes());
  } else if (auto* eg = dynamic_cast<const ExtremeGrad*>(&p)) {
    w.str("extreme_grad"), w.ints(eg->axes());
  } else if (auto* a = dynamic_cast<const ArgReduce*>(&p)) {
    w.str("arg_reduce"), w.u8(static_cast<uint8_t>(a->type())), w.i32(a->axis());
  } else if (dynamic_cast<const Matmul*>(&p)) {
    w.str("matmul");
  } else if (dynamic_cast<const MatmulGroup*>(&p)) {
    w.str("matmul_group");
  } else if (auto* cv = dynamic_cast<const Convolution*>(&p)) {
    const ConvParams& cp = cv->params();
    w.str("convolution"), w.u8(static_cast<uint8_t>(cv->kind()));
    w.ints(cp.stride), w.ints(cp.pad_lo), w.ints(cp.pad_hi), w.ints(cp.dilation);
  } else if (auto* so = dynamic_cast<const Sort*>(&p)) {
    w.str("sort"), w.i32(so->axis()), w.u8(so->indices());
  } else if (auto* sc = dynamic_cast<const Scan*>(&p)) {
    w.str("scan"), w.u8(static_cast<uint8_t>(sc->type())), w.i32(sc->axis()), w.u8(sc->reverse()),
        w.u8(sc->inclusive());
  } else if (auto* g = dynamic_cast<const Gather*>(&p)) {
    w.str("gather"), w.ints(g->axes());
  } else if (auto* sc = dynamic_cast<const Scatter*>(&p)) {
    w.str("scatter"), w.u8(static_cast<uint8_t>(sc->mode())), w.ints(sc->axes());
  } else if (auto* ft = dynamic_cast<const FFT*>(&p)) {
    w.str("fft"), w.i32(ft->axis()), w.u8(ft->inverse());
  } else if (dynamic_cast<const RandomBits*>(&p)) {
    w.str("random_bits");
  } else if (auto* ar = dynamic_cast<const Arange*>(&p)) {
    w.str("arange"), w.f64(ar->start()), w.f64(ar->step());
  } else if (auto* q = dynamic_cast<const QuantizedMatmul*>(&p)) {
    w.str("quantized_matmul"), w.i32(q->group_size()), w.i32(q->bits()), w.u8(q->transpose());
  } else if (auto* qg = dynamic_cast<const QuantizedMatmulGroup*>(&p)) {
    w.str("quantized_matmul_group"), w.i32(qg->group_size()), w.i32(qg->bits());
  } else if (auto* aq = dynamic_cast<const AffineQuantize*>(&p)) {
    w.str("quantize"), w.i32(aq->group_size()), w.i32(aq->bits());
  } else if (auto* dq = dynamic_cast<const AffineDequantize*>(&p)) {
    w.str("dequantize"), w.i32(dq->group_size()), w.i32(dq->bits());
  } else if (auto* fq = dynamic_cast<const FpQuantBase*>(&p)) {
    w.str(p.name()), w.u8(static_cast<uint8_t>(fq->mode())), w.u8(fq->global_scale());
  } else if (auto* f8 = dynamic_cast<const Fp8Convert*>(&p)) {
    w.str(f8->name());
  } else if (auto* fz = dynamic_cast<const Factorization*>(&p)) {
    w.str("factorization"), w.u8(static_cast<uint8_t>(fz->kind())), w.u8(fz->upper()), w.u8(fz->vectors());
  } else if (auto* rn = dynamic_cast<const fast::RMSNorm*>(&p)) {
    w.str("rms_norm"), w.f64(rn->eps());
  } else if (auto* ln = dynamic_cast<const fast::LayerNorm*>(&p)) {
    w.str("layer_norm"), w.f64(ln->eps());
  } else if (auto* ro = dynamic_cast<const fast::RoPE*>(&p)) {
    w.str("rope"), w.i32(ro->dims()), w.u8(ro->traditional()), w.f64(ro->scale());
  } else if (auto* at = dynamic_cast<const fast::ScaledDotProductAttention*>(&p)) {
    w.str("scaled_dot_product_attention"), w.f64(at->scale()), w.u8(at->causal()), w.u8(at->has_mask()),
        w.u8(at->has_sinks());
  } else if (auto* nv = dynamic_cast<const fast::NormVJP*>(&p)) {
    w.str("norm_vjp"), w.f64(nv->eps()), w.u8(nv->centre());
  } else if (auto* an = dynamic_cast<const fast::AddRMSNorm*>(&p)) {
    w.str("add_rms_norm"), w.f64(an->eps());
  } else if (auto* av = dynamic_cast<const fast::AttentionVJP*>(&p)) {
    w.str("attention_vjp"), w.f64(av->scale()), w.u8(av->causal()), w.u8(av->has_mask());
  } else if (auto* f = dynamic_cast<const Compiled*>(&p)) {
    // A chain ending in a reduction has a tag of its own: readers that
    // predate it stop at an unknown primitive instead of misreading it.
    w.str(f->reduction() ? "compiled_reduction" : "compiled");
    w.u32(static_cast<uint32_t>(f->steps().size()));
    for (const FusedStep& s : f->steps()) {
      w.u8(static_cast<uint8_t>(s.kind)), w.u32(static_cast<uint32_t>(s.op));
      for (int a : s.args) w.i32(a);
      w.u8(static_cast<uint8_t>(s.dtype.val()));
    }
    w.ints(f->output_slots());
    if (const auto& red = f->reduction()) w.u8(static_cast<uint8_t>(red->type)), w.ints(red->axes), w.ints(red->shape);
  } else {
    throw std::invalid_argument("[export_function] The primitive '" + p.name() +
                                "' cannot be exported yet (lmx exports elementwise ops, fused chains, reductions, "
                                "matmul, convolution, max/min gradients, quantized_matmul, quantize, dequantize (every mode), the fp8 conversions, the linalg factorizations and solves, sorts, scans, "
                                "gather, scatter, slice_update, pad, fft, random bits, arange, "
                                "the shape ops, and mx.fast's rms_norm, layer_norm, rope and attention, with their "
                                "fused backward passes).");
  }
}

template <typename E>
E read_enum(Reader& r, uint32_t v, uint32_t count, const char* what) {
  if (v >= count) r.fail(std::string("unknown ") + what + " code " + std::to_string(v) + ".");
  return static_cast<E>(v);
}

#define LMX_COUNT_ENTRY(Name, pyname, types, result) +1
constexpr uint32_t kUnaryCount = 0 LMX_UNARY_OPS(LMX_COUNT_ENTRY);
constexpr uint32_t kBinaryCount = 0 LMX_BINARY_OPS(LMX_COUNT_ENTRY);
#undef LMX_COUNT_ENTRY

// `shapeless`: the primitive belongs to a trace that replays at new shapes.
std::shared_ptr<Primitive> read_primitive(Reader& r, Stream s, size_t num_inputs, bool shapeless) {
  const std::string tag = r.str();
  if (tag == "unary") return std::make_shared<Unary>(s, read_enum<UnaryOp>(r, r.u32(), kUnaryCount, "unary op"));
  if (tag == "binary") return std::make_shared<Binary>(s, read_enum<BinaryOp>(r, r.u32(), kBinaryCount, "binary op"));
  if (tag == "where") return std::make_shared<Select>(s);
  if (tag == "astype") return std::make_shared<AsType>(s);
  if (tag == "broadcast_to") return std::make_shared<Broadcast>(s);
  if (tag == "stop_gradient") return std::make_shared<StopGradient>(s);
  if (tag == "squeeze") return std::make_shared<Squeeze>(s, r.ints<int>());
  if (tag == "reshape") {
    std::optional<Shape> requested;
    if (r.u8()) requested = r.ints<ShapeElem>();
    return std::make_shared<Reshape>(s, requested);
  }
  if (tag == "contiguous") return std::make_shared<Contiguous>(s, r.u8() != 0);
  if (tag == "transpose") return std::make_shared<Transpose>(s, r.ints<int>());
  if (tag == "slice") {
    auto start = r.ints<ShapeElem>();
    return std::make_shared<Slice>(s, start, r.ints<ShapeElem>());
  }
  if (tag == "pad") return std::make_shared<Pad>(s, r.ints<ShapeElem>());
  if (tag == "slice_update") {
    auto start = r.ints<ShapeElem>();
    return std::make_shared<SliceUpdate>(s, start, r.ints<ShapeElem>());
  }
  if (tag == "concatenate") return std::make_shared<Concatenate>(s, r.i32());
  if (tag == "reduce") {
    auto type = read_enum<ReduceType>(r, r.u8(), 6, "reduction");
    return std::make_shared<Reduce>(s, type, r.ints<int>());
  }
  if (tag == "arg_reduce") {
    auto type = read_enum<ArgReduceType>(r, r.u8(), 2, "arg reduction");
    return std::make_shared<ArgReduce>(s, type, r.i32());
  }
  if (tag == "matmul") return std::make_shared<Matmul>(s);
  if (tag == "matmul_group") return std::make_shared<MatmulGroup>(s);
  if (tag == "extreme_grad") return std::make_shared<ExtremeGrad>(s, r.ints<int>());
  if (tag == "convolution") {
    auto kind = read_enum<ConvKind>(r, r.u8(), static_cast<uint32_t>(ConvKind::weight_grad) + 1, "convolution kind");
    ConvParams cp;
    cp.stride = r.ints<int>(), cp.pad_lo = r.ints<int>(), cp.pad_hi = r.ints<int>(), cp.dilation = r.ints<int>();
    return std::make_shared<Convolution>(s, kind, std::move(cp));
  }
  // (Fields are read into locals first: argument evaluation order is unspecified.)
  if (tag == "sort") {
    int axis = r.i32();
    bool indices = r.u8() != 0;
    return std::make_shared<Sort>(s, axis, indices);
  }
  if (tag == "scan") {
    auto type = read_enum<ScanType>(r, r.u8(), 5, "scan");
    int axis = r.i32();
    bool reverse = r.u8() != 0;
    bool inclusive = r.u8() != 0;
    return std::make_shared<Scan>(s, type, axis, reverse, inclusive);
  }
  if (tag == "gather") return std::make_shared<Gather>(s, r.ints<int>());
  if (tag == "scatter") {
    auto mode = read_enum<ScatterMode>(r, r.u8(), 5, "scatter mode");
    return std::make_shared<Scatter>(s, r.ints<int>(), mode);
  }
  if (tag == "random_bits") return std::make_shared<RandomBits>(s);
  if (tag == "fft") {
    int axis = r.i32();
    bool inverse = r.u8() != 0;
    return std::make_shared<FFT>(s, axis, inverse);
  }
  if (tag == "arange") {
    double start = r.f64(), step = r.f64();
    return std::make_shared<Arange>(s, start, step);
  }
  if (tag == "quantized_matmul") {
    int group = r.i32(), bits = r.i32();
    bool transpose = r.u8() != 0;
    return std::make_shared<QuantizedMatmul>(s, group, bits, transpose);
  }
  if (tag == "quantized_matmul_group") {
    int group = r.i32(), bits = r.i32();
    return std::make_shared<QuantizedMatmulGroup>(s, group, bits);
  }
  if (tag == "fp_quantize" || tag == "fp_dequantize" || tag == "fp_round_trip") {
    auto mode = read_enum<FpMode>(r, r.u8(), static_cast<uint32_t>(FpMode::nvfp4) + 1, "fp quantization mode");
    bool global = r.u8() != 0;
    if (tag == "fp_quantize") return std::make_shared<FpQuantize>(s, mode, global);
    if (tag == "fp_dequantize") return std::make_shared<FpDequantize>(s, mode, global);
    return std::make_shared<FpRoundTrip>(s, mode, global);
  }
  if (tag == "to_fp8" || tag == "from_fp8") return std::make_shared<Fp8Convert>(s, tag == "to_fp8");
  if (tag == "quantize" || tag == "dequantize") {
    int group = r.i32(), bits = r.i32();
    if (tag == "quantize") return std::make_shared<AffineQuantize>(s, group, bits);
    return std::make_shared<AffineDequantize>(s, group, bits);
  }
  if (tag == "factorization") {
    auto kind = read_enum<FactorKind>(r, r.u8(), static_cast<uint32_t>(FactorKind::SolveTriangular) + 1,
                                      "factorization");
    bool upper = r.u8() != 0, vectors = r.u8() != 0;
    return std::make_shared<Factorization>(s, kind, upper, vectors);
  }
  if (tag == "rms_norm") return fast::make_rms_norm(s, static_cast<float>(r.f64()));
  if (tag == "add_rms_norm") return fast::make_add_rms_norm(s, static_cast<float>(r.f64()));
  if (tag == "layer_norm") return fast::make_layer_norm(s, static_cast<float>(r.f64()));
  if (tag == "norm_vjp") {
    float eps = static_cast<float>(r.f64());
    return fast::make_norm_vjp(s, eps, r.u8() != 0);
  }
  if (tag == "attention_vjp") {
    float scale = static_cast<float>(r.f64());
    bool causal = r.u8() != 0, has_mask = r.u8() != 0;
    return fast::make_attention_vjp(s, scale, causal, has_mask);
  }
  if (tag == "rope") {
    int dims = r.i32();
    bool traditional = r.u8() != 0;
    float scale = static_cast<float>(r.f64());
    return fast::make_rope(s, dims, traditional, scale);
  }
  if (tag == "scaled_dot_product_attention") {
    float scale = static_cast<float>(r.f64());
    bool causal = r.u8() != 0, has_mask = r.u8() != 0, has_sinks = r.u8() != 0;
    return fast::make_attention(s, scale, causal, has_mask, has_sinks);
  }
  if (tag == "compiled" || tag == "compiled_reduction") {
    uint32_t n = r.count(18);
    std::vector<FusedStep> steps;
    for (uint32_t i = 0; i < n; ++i) {
      FusedStep st{};
      st.kind = read_enum<FusedStep::Kind>(r, r.u8(), 4, "fused step");
      st.op = static_cast<int>(r.u32());
      if ((st.kind == FusedStep::Kind::unary && static_cast<uint32_t>(st.op) >= kUnaryCount) ||
          (st.kind == FusedStep::Kind::binary && static_cast<uint32_t>(st.op) >= kBinaryCount))
        r.fail("unknown op code in a fused step.");
      for (int& a : st.args) a = r.i32();
      for (int k = 0; k < st.arity(); ++k)
        if (st.args[k] < 0 || static_cast<size_t>(st.args[k]) >= num_inputs + i)
          r.fail("a fused step reads a slot that does not exist yet.");
      st.dtype = read_dtype(r);
      steps.push_back(st);
    }
    auto outs = r.ints<int>();
    for (int o : outs)
      if (o < static_cast<int>(num_inputs) || static_cast<size_t>(o) >= num_inputs + n)
        r.fail("a fused node returns a slot it does not compute.");
    std::optional<FusedReduction> reduction;
    if (tag == "compiled_reduction") {
      auto type = read_enum<ReduceType>(r, r.u8(), 6, "reduction");
      auto axes = r.ints<int>();
      auto shape = r.ints<ShapeElem>();
      if (type != ReduceType::Sum && type != ReduceType::Max && type != ReduceType::Min)
        r.fail("a fused reduction that is not a sum, max or min.");
      if (outs.size() != 1 || axes.empty() || axes.size() > shape.size())
        r.fail("a fused reduction's output or axes do not fit its chain.");
      for (size_t i = 0; i < axes.size(); ++i)
        if (axes[i] != static_cast<int>(shape.size() - axes.size() + i))
          r.fail("a fused reduction over axes that are not the trailing ones.");
      for (auto d : shape)
        if (d < 0) r.fail("a negative dimension.");
      reduction = FusedReduction{type, std::move(axes), Shape(shape.begin(), shape.end()), shapeless};
    }
    return std::make_shared<Compiled>(s, std::move(steps), std::move(outs), std::move(reduction));
  }
  r.fail("unknown primitive '" + tag + "' (written by a newer lmx?).");
}

void write_program(Writer& w, const Program& p) {
  std::vector<bool> node_output(p.values.size(), false);
  for (auto& n : p.nodes)
    for (int v : n.outputs) node_output[v] = true;
  w.u32(static_cast<uint32_t>(p.num_inputs));
  w.u32(static_cast<uint32_t>(p.values.size()));
  for (size_t v = 0; v < p.values.size(); ++v) {
    const auto& val = p.values[v];
    uint8_t kind = p.is_input(static_cast<int>(v)) ? 0 : node_output[v] ? 2 : 1;
    w.u8(kind), w.u8(static_cast<uint8_t>(val.dtype.val()));
    w.u32(static_cast<uint32_t>(val.shape.size()));
    for (auto d : val.shape) w.i32(d);
    if (kind == 1) {
      array c = val.constant;
      c.eval();
      std::string bytes(c.nbytes(), '\0');
      copy_to_host(c, bytes.data(), c.dtype());
      w.raw(bytes.data(), bytes.size());
    }
  }
  w.u32(static_cast<uint32_t>(p.nodes.size()));
  for (auto& n : p.nodes) {
    w.ints(n.inputs);
    w.ints(n.outputs);
    write_primitive(w, *n.primitive);
  }
  w.ints(p.outputs);
}

// The result type an elementwise op gives for input type t (the op tables'
// result column), so a file cannot make a kernel write past its output.
#define LMX_RESULT_ENTRY(Name, pyname, types, result) #result,
const char* const kUnaryResult[] = {LMX_UNARY_OPS(LMX_RESULT_ENTRY)};
const char* const kBinaryResult[] = {LMX_BINARY_OPS(LMX_RESULT_ENTRY)};
#undef LMX_RESULT_ENTRY

Dtype result_type(const char* rule, Dtype t) {
  std::string r = rule;
  if (r == "Bool") return bool_;
  if (r == "RealPart" && t == complex64) return float32;
  return t;
}

// The shape and dtype the op that builds a primitive gives for inputs of the
// file's shapes and dtypes (placeholders without data: ops only build
// nodes), so a node is checked against the op's own rules; the op's
// complaint, if any, says why the file is wrong.
template <typename Op>
std::pair<Shape, Dtype> op_result(Reader& r, const Program& p, const Program::Node& n, Op&& op) {
  std::vector<array> ph;
  for (int v : n.inputs) ph.emplace_back(p.values[v].shape, p.values[v].dtype, std::shared_ptr<Data>{});
  try {
    array out = op(ph);
    return {out.shape(), out.dtype()};
  } catch (const std::exception& e) {
    r.fail("a '" + n.primitive->name() + "' node is inconsistent: " + e.what());
  }
}

// For primitives with several outputs: the node the op builds from
// placeholders of the file node's inputs (`op` returns one of its outputs)
// must have the file node's outputs, in number, shapes and dtypes, and a
// primitive `same` accepts as the file's.
template <typename Op, typename Same>
void check_outputs_by_op(Reader& r, const Program& p, const Program::Node& n, Op&& op, Same&& same) {
  std::vector<array> ph;
  for (int v : n.inputs) ph.emplace_back(p.values[v].shape, p.values[v].dtype, std::shared_ptr<Data>{});
  std::vector<array> outs;
  try {
    outs = op(ph).outputs();
  } catch (const std::exception& e) {
    r.fail("a '" + n.primitive->name() + "' node is inconsistent: " + e.what());
  }
  bool ok = outs.size() == n.outputs.size() && outs[0].has_primitive() && same(outs[0].primitive());
  for (size_t i = 0; ok && i < outs.size(); ++i)
    ok = outs[i].shape() == p.values[n.outputs[i]].shape && outs[i].dtype() == p.values[n.outputs[i]].dtype;
  if (!ok) r.fail("a '" + n.primitive->name() + "' node has inputs or outputs its primitive cannot produce.");
}

// nvfp4's global scale among a node's placeholder inputs (at `at`), if any.
std::optional<array> global_input(const std::vector<array>& in, bool has, size_t at) {
  return has ? std::optional<array>(in[at]) : std::nullopt;
}

// The op that builds a factorization node of this kind from its inputs.
array factorization_by_op(const Factorization& f, const std::vector<array>& in) {
  const std::string uplo = f.upper() ? "U" : "L";
  switch (f.kind()) {
    case FactorKind::Inverse: return linalg::inv(in[0]);
    case FactorKind::TriInverse: return linalg::tri_inv(in[0], f.upper());
    case FactorKind::Cholesky: return linalg::cholesky(in[0], f.upper());
    case FactorKind::QR: return linalg::qr(in[0]).first;
    case FactorKind::SVD: return linalg::svd(in[0], f.vectors())[0];
    case FactorKind::Eigh: return f.vectors() ? linalg::eigh(in[0], uplo).first : linalg::eigvalsh(in[0], uplo);
    case FactorKind::Eig: return f.vectors() ? linalg::eig(in[0]).first : linalg::eigvals(in[0]);
    case FactorKind::LU: return linalg::lu_factor(in[0]).first;
    case FactorKind::Solve: return linalg::solve(in[0], in[1]);
    case FactorKind::SolveTriangular: return linalg::solve_triangular(in[0], in[1], f.upper());
  }
  throw std::invalid_argument("unknown factorization");
}

// Checks that a node read from a file is one its kernels can run: the
// number of inputs, and shapes and dtypes consistent with the primitive.
void validate_node(Reader& r, const Program& p, const Program::Node& n) {
  auto shape = [&](int v) -> const Shape& { return p.values[v].shape; };
  auto dtype = [&](int v) { return p.values[v].dtype; };
  const Primitive& prim = *n.primitive;
  const size_t nin = n.inputs.size();
  const int out = n.outputs[0];
  auto need = [&](bool ok) {
    if (!ok) r.fail("a '" + prim.name() + "' node has inputs or outputs its primitive cannot produce.");
  };
  // Axes stored in a file are already normalised: one check for all of them.
  auto axis_in = [](int a, const Shape& sh) { return a >= 0 && static_cast<size_t>(a) < sh.size(); };
  auto same_shapes = [&]() {
    for (int v : n.inputs) need(shape(v) == shape(out));
  };
  // NumPy's rule: `from` lines up with the trailing dims of `to`, each equal or 1.
  auto broadcasts_to = [](const Shape& from, const Shape& to) {
    if (from.size() > to.size()) return false;
    for (size_t d = 0; d < from.size(); ++d)
      if (from[d] != 1 && from[d] != to[to.size() - from.size() + d]) return false;
    return true;
  };
  // Slice and slice_update: a window of `window` elements from `start`
  // every `strides` lies inside `in` on every axis.
  auto window_inside = [&](const Shape& start, const Shape& strides, const Shape& window, const Shape& in) {
    need(start.size() == in.size() && strides.size() == in.size() && window.size() == in.size());
    for (size_t d = 0; d < in.size(); ++d) {
      if (window[d] == 0) continue;
      int64_t first = start[d], last = first + int64_t{window[d] - 1} * strides[d];
      need(first >= 0 && first < in[d] && last >= 0 && last < in[d]);
    }
  };
  // Gather and scatter: one in-range, distinct axis of the source per index
  // array, the index arrays (from input `first` on) already broadcast.
  auto check_index_axes = [&](const std::vector<int>& axes, size_t first) {
    need(!axes.empty() && nin == axes.size() + first);
    const size_t nd = shape(n.inputs[0]).size();
    std::vector<bool> seen(nd, false);
    for (int a : axes) {
      need(axis_in(a, shape(n.inputs[0])) && !seen[a]);
      seen[a] = true;
    }
    for (size_t i = first + 1; i < nin; ++i) need(shape(n.inputs[i]) == shape(n.inputs[first]));
  };
  if (auto* u = dynamic_cast<const Unary*>(&prim)) {
    need(nin == 1), same_shapes();
    need(dtype(out) == result_type(kUnaryResult[static_cast<int>(u->op())], dtype(n.inputs[0])));
  } else if (auto* b = dynamic_cast<const Binary*>(&prim)) {
    need(nin == 2), same_shapes(), need(dtype(n.inputs[0]) == dtype(n.inputs[1]));
    Dtype in = dtype(n.inputs[0]);
    Dtype want = result_type(kBinaryResult[static_cast<int>(b->op())], in);
    need(dtype(out) == want);
  } else if (dynamic_cast<const Select*>(&prim)) {
    need(nin == 3), same_shapes(), need(dtype(n.inputs[0]) == bool_);
    need(dtype(n.inputs[1]) == dtype(out) && dtype(n.inputs[2]) == dtype(out));
  } else if (dynamic_cast<const AsType*>(&prim) || dynamic_cast<const Contiguous*>(&prim)) {
    need(nin == 1), same_shapes();
  } else if (dynamic_cast<const StopGradient*>(&prim)) {
    need(nin == 1), same_shapes(), need(dtype(n.inputs[0]) == dtype(out));
  } else if (dynamic_cast<const Broadcast*>(&prim)) {
    need(nin >= 1 && dtype(n.inputs[0]) == dtype(out));
    for (int v : n.inputs) need(broadcasts_to(shape(v), shape(out)));
  } else if (auto* sq = dynamic_cast<const Squeeze*>(&prim)) {
    need(nin == 1 && dtype(n.inputs[0]) == dtype(out));
    try {  // squeeze's own rule: increasing axes of size 1
      need(squeezed_shape(shape(n.inputs[0]), sq->axes()) == shape(out));
    } catch (const std::invalid_argument&) {
      need(false);
    }
  } else if (dynamic_cast<const Reshape*>(&prim)) {
    need(nin == 1 && shape_size(shape(n.inputs[0])) == shape_size(shape(out)) && dtype(n.inputs[0]) == dtype(out));
  } else if (auto* t = dynamic_cast<const Transpose*>(&prim)) {
    const Shape& in = shape(n.inputs[0]);
    need(nin == 1 && t->axes().size() == in.size() && shape(out).size() == in.size());
    std::vector<bool> seen(in.size(), false);
    for (size_t d = 0; d < in.size(); ++d) {
      int a = t->axes()[d];
      need(axis_in(a, in) && !seen[a]);
      seen[a] = true;
      need(shape(out)[d] == in[a]);
    }
  } else if (auto* sl = dynamic_cast<const Slice*>(&prim)) {
    need(nin == 1 && dtype(n.inputs[0]) == dtype(out));
    window_inside(sl->start(), sl->strides(), shape(out), shape(n.inputs[0]));
  } else if (auto* pd = dynamic_cast<const Pad*>(&prim)) {
    // inputs: the array, the scalar fill value (in its dtype); the array
    // sits at `low` inside the output.
    const Shape& in = shape(n.inputs[0]);
    need(nin == 2 && shape(n.inputs[1]).empty() && dtype(n.inputs[1]) == dtype(out) && dtype(n.inputs[0]) == dtype(out));
    need(pd->low().size() == in.size() && shape(out).size() == in.size());
    for (size_t d = 0; d < in.size(); ++d) need(pd->low()[d] >= 0 && int64_t{pd->low()[d]} + in[d] <= shape(out)[d]);
  } else if (auto* su = dynamic_cast<const SliceUpdate*>(&prim)) {
    // inputs: src, the update (already the window's shape and src's dtype)
    need(nin == 2 && shape(out) == shape(n.inputs[0]) && dtype(out) == dtype(n.inputs[0]) &&
         dtype(n.inputs[1]) == dtype(out));
    window_inside(su->start(), su->strides(), shape(n.inputs[1]), shape(out));
  } else if (auto* c = dynamic_cast<const Concatenate*>(&prim)) {
    int ax = c->axis();
    need(nin >= 1 && axis_in(ax, shape(out)));
    int64_t total = 0;
    for (int v : n.inputs) {
      need(shape(v).size() == shape(out).size() && dtype(v) == dtype(out));
      for (size_t d = 0; d < shape(v).size(); ++d)
        if (static_cast<int>(d) != ax) need(shape(v)[d] == shape(out)[d]);
      total += shape(v)[ax];
    }
    need(total == shape(out)[ax]);
  } else if (auto* red = dynamic_cast<const Reduce*>(&prim)) {
    const Shape& in = shape(n.inputs[0]);
    need(nin == 1 && shape(out).size() == in.size());
    Shape kept = in;
    for (int a : red->axes()) {
      need(axis_in(a, in));
      kept[a] = 1;
    }
    need(kept == shape(out));
  } else if (auto* ar = dynamic_cast<const ArgReduce*>(&prim)) {
    const Shape& in = shape(n.inputs[0]);
    need(nin == 1 && axis_in(ar->axis(), in) && dtype(out) == uint32);
    Shape kept = in;
    kept[ar->axis()] = 1;
    need(kept == shape(out));
  } else if (auto* eg = dynamic_cast<const ExtremeGrad*>(&prim)) {
    // inputs: x, then y and g with the reduced axes kept; distinct, in-range axes
    need(nin == 3);
    std::vector<bool> seen(shape(n.inputs[0]).size(), false);
    for (int a : eg->axes()) {
      need(a >= 0 && static_cast<size_t>(a) < seen.size() && !seen[a]);
      seen[a] = true;
    }
    auto [sh, dt] = op_result(
        r, p, n, [&](auto& in) { return extreme_grad(in[0], in[1], in[2], eg->axes(), to_stream({})); });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* cv = dynamic_cast<const Convolution*>(&prim)) {
    // inputs: (x, w), (g, w) or (x, g) by kind, all float32; the output's
    // shape must follow from them (the builders check the geometry)
    need(nin == 2);
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      switch (cv->kind()) {
        case ConvKind::forward: return convolution(in[0], in[1], cv->params());
        case ConvKind::input_grad: return convolution_input_grad(in[0], in[1], shape(out), cv->params());
        case ConvKind::weight_grad: return convolution_weight_grad(in[0], in[1], shape(out), cv->params());
      }
      throw std::invalid_argument("unknown convolution kind");
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (dynamic_cast<const Matmul*>(&prim)) {
    need(nin == 2);
    const Shape &a = shape(n.inputs[0]), &b = shape(n.inputs[1]), &o = shape(out);
    // b has a's batch dims, or is one (K, N) matrix shared by the batch.
    const bool shared = b.size() == 2 && a.size() > 2;
    need(a.size() >= 2 && (a.size() == b.size() || shared) && o.size() == a.size() &&
         dtype(n.inputs[0]) == dtype(out) && dtype(n.inputs[1]) == dtype(out));
    size_t k = a.size(), kb = b.size();
    need(a[k - 1] == b[kb - 2] && o[k - 2] == a[k - 2] && o[k - 1] == b[kb - 1]);
    for (size_t d = 0; d + 2 < k; ++d) need(a[d] == o[d] && (shared || b[d] == o[d]));
  } else if (dynamic_cast<const MatmulGroup*>(&prim)) {
    // (a, b_1 .. b_n) -> each member's matmul, a (..., M, K), each b_i one (K, N_i) matrix of a's dtype.
    need(nin >= 2 && nin <= MatmulGroup::kMaxMatrices + 1 && n.outputs.size() == nin - 1);
    for (size_t i = 1; i < nin; ++i) {
      need(shape(n.inputs[i]).size() == 2 && dtype(n.inputs[i]) == dtype(n.inputs[0]));
      auto [sh, dt] = op_result(r, p, n, [&](auto& in) { return matmul(in[0], in[i]); });
      need(sh == shape(n.outputs[i - 1]) && dt == dtype(n.outputs[i - 1]));
    }
  } else if (auto* so = dynamic_cast<const Sort*>(&prim)) {
    const int ax = so->axis();
    need(nin == 1 && axis_in(ax, shape(out)));
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) { return so->indices() ? argsort(in[0], ax) : sort(in[0], ax); });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* sc = dynamic_cast<const Scan*>(&prim)) {
    // The scan ops convert their input to the result's dtype first.
    const int ax = sc->axis();
    need(nin == 1 && axis_in(ax, shape(out))), same_shapes();
    need(dtype(n.inputs[0]) == dtype(out));
  } else if (auto* g = dynamic_cast<const Gather*>(&prim)) {
    // inputs: src, indices...
    check_index_axes(g->axes(), 1);
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      return gather(in[0], std::vector<array>(in.begin() + 1, in.end()), g->axes());
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* sc = dynamic_cast<const Scatter*>(&prim)) {
    // inputs: src, updates (already broadcast and cast to src's dtype), indices...
    check_index_axes(sc->axes(), 2);
    auto [block, dt] = op_result(r, p, n, [&](auto& in) {
      return gather(in[0], std::vector<array>(in.begin() + 2, in.end()), sc->axes());
    });
    need(shape(n.inputs[1]) == block && dtype(n.inputs[1]) == dt);
    need(shape(out) == shape(n.inputs[0]) && dtype(out) == dtype(n.inputs[0]));
  } else if (auto* ft = dynamic_cast<const FFT*>(&prim)) {
    // complex64 along one axis; the mx.fft functions build the rest from ops.
    need(nin == 1 && axis_in(ft->axis(), shape(out))), same_shapes();
    need(dtype(n.inputs[0]) == complex64 && dtype(out) == complex64);
  } else if (dynamic_cast<const RandomBits*>(&prim)) {
    need(nin == 1 && shape(n.inputs[0]) == Shape{2} && dtype(n.inputs[0]) == uint32 && dtype(out) == uint32);
  } else if (dynamic_cast<const Arange*>(&prim)) {
    need(nin == 0 && shape(out).size() == 1 && dtype(out) != bool_ && !is_complex(dtype(out)));
  } else if (auto* f = dynamic_cast<const Factorization*>(&prim)) {
    const bool solve = f->kind() == FactorKind::Solve || f->kind() == FactorKind::SolveTriangular;
    // A solve's b is already (..., N, K) with a's batch: the op adds nothing around the node.
    need(nin == (solve ? 2u : 1u) && (!solve || shape(n.inputs[1]).size() >= 2));
    check_outputs_by_op(r, p, n, [&](auto& in) { return factorization_by_op(*f, in); }, [&](const Primitive& q) {
      auto* g = dynamic_cast<const Factorization*>(&q);
      return g && g->kind() == f->kind() && g->upper() == f->upper() && g->vectors() == f->vectors();
    });
  } else if (auto* aq = dynamic_cast<const AffineQuantize*>(&prim)) {
    need(nin == 1);
    check_outputs_by_op(r, p, n, [&](auto& in) { return quantize(in[0], aq->group_size(), aq->bits())[0]; },
                        [](const Primitive& q) { return dynamic_cast<const AffineQuantize*>(&q) != nullptr; });
  } else if (auto* dq = dynamic_cast<const AffineDequantize*>(&prim)) {
    need(nin == 3);
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      return dequantize(in[0], in[1], in[2], dq->group_size(), dq->bits(), "affine", {}, dtype(out));
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* fq = dynamic_cast<const FpQuantize*>(&prim)) {
    need(nin == 1u + fq->global_scale());
    check_outputs_by_op(
        r, p, n,
        [&](auto& in) {
          return quantize(in[0], {}, {}, to_string(fq->mode()), global_input(in, fq->global_scale(), 1))[0];
        },
        [&](const Primitive& q) { return fq->is_equivalent(q); });
  } else if (auto* fd = dynamic_cast<const FpDequantize*>(&prim)) {
    need(nin == 2u + fd->global_scale());
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      return dequantize(in[0], in[1], std::nullopt, {}, {}, to_string(fd->mode()),
                        global_input(in, fd->global_scale(), 2), dtype(out));
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* f8 = dynamic_cast<const Fp8Convert*>(&prim)) {
    // a floating array to its uint8 e4m3 codes, or codes to a floating dtype
    need(nin == 1), same_shapes();
    const Dtype in = dtype(n.inputs[0]);
    need(f8->to_fp8() ? is_floating_point(in) && dtype(out) == uint8 : in == uint8 && is_floating_point(dtype(out)));
  } else if (auto* fr = dynamic_cast<const FpRoundTrip*>(&prim)) {
    // x [, global scale] -> x's shape and dtype, quantised in groups along the last axis
    need(nin == 1u + fr->global_scale());
    const Shape& x = shape(n.inputs[0]);
    need(shape(out) == x && dtype(out) == dtype(n.inputs[0]) && is_floating_point(dtype(out)) && !x.empty() &&
         x.back() % fr->group_size() == 0);
    if (fr->global_scale()) need(shape(n.inputs[1]).empty() && dtype(n.inputs[1]) == float32);
  } else if (auto* q = dynamic_cast<const QuantizedMatmul*>(&prim)) {
    need(nin == 4 && shape(out).size() >= 2);
    // The kernels read the operands' batch dims as the output's (the op
    // broadcasts them before building the node), or w, scales and biases are
    // one 2-D matrix for every row of x.
    const size_t batch = shape(out).size() - 2;
    const bool shared = shape(n.inputs[1]).size() == 2;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Shape& v = shape(n.inputs[i]);
      if (shared && i > 0) need(v.size() == 2);
      else need(v.size() == shape(out).size() && std::equal(v.begin(), v.begin() + batch, shape(out).begin()));
    }
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      return quantized_matmul(in[0], in[1], in[2], in[3], q->transpose(), q->group_size(), q->bits(), "affine");
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* qg = dynamic_cast<const QuantizedMatmulGroup*>(&prim)) {
    // (x, (w_i, scales_i, biases_i) ...) -> each member's quantized_matmul, w_i 2-D and transposed.
    const size_t members = n.outputs.size();
    need(members >= 1 && members <= QuantizedMatmulGroup::kMaxMatrices && nin == 1 + 3 * members);
    for (size_t i = 0; i < members; ++i) {
      need(shape(n.inputs[3 * i + 1]).size() == 2);
      auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
        return quantized_matmul(in[0], in[3 * i + 1], in[3 * i + 2], in[3 * i + 3], true, qg->group_size(),
                                qg->bits(), "affine");
      });
      need(sh == shape(n.outputs[i]) && dt == dtype(n.outputs[i]));
    }
  } else if (auto* rn = dynamic_cast<const fast::RMSNorm*>(&prim)) {
    // inputs: x and the weight, already in the output's dtype
    need(nin == 2 && dtype(n.inputs[0]) == dtype(out) && dtype(n.inputs[1]) == dtype(out));
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) { return fast::rms_norm(in[0], in[1], rn->eps()); });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* an = dynamic_cast<const fast::AddRMSNorm*>(&prim)) {
    // inputs: x, r and the weight, in one floating dtype; outputs: the norm of x + r, and x + r
    need(nin == 3 && n.outputs.size() == 2 && shape(n.inputs[1]) == shape(n.inputs[0]));
    for (int v : n.inputs) need(dtype(v) == dtype(out));
    need(shape(n.outputs[1]) == shape(n.inputs[0]) && dtype(n.outputs[1]) == dtype(out));
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) { return fast::rms_norm(in[0], in[2], an->eps()); });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* ln = dynamic_cast<const fast::LayerNorm*>(&prim)) {
    need(nin == 3);
    for (int v : n.inputs) need(dtype(v) == dtype(out));
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) { return fast::layer_norm(in[0], in[1], in[2], ln->eps()); });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* ro = dynamic_cast<const fast::RoPE*>(&prim)) {
    // inputs: x, the int32 offset (scalar or (B,)), the float32 inverse frequencies (dims / 2,)
    need(nin == 3 && dtype(n.inputs[1]) == int32 && dtype(n.inputs[2]) == float32 &&
         shape(n.inputs[2]) == Shape{ro->dims() / 2});
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      return fast::rope(in[0], ro->dims(), ro->traditional(), std::nullopt, ro->scale(), in[1], reciprocal(in[2]));
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* at = dynamic_cast<const fast::ScaledDotProductAttention*>(&prim)) {
    // inputs: q, k, v in the output's dtype, then the float32 additive mask
    // of the scores' shape, then the float32 sinks
    need(!(at->causal() && at->has_mask()) && nin == static_cast<size_t>(3 + at->has_mask() + at->has_sinks()));
    for (int i = 0; i < 3; ++i) need(dtype(n.inputs[i]) == dtype(out));
    for (size_t i = 3; i < nin; ++i) need(dtype(n.inputs[i]) == float32);
    if (at->has_mask()) {
      const Shape &q = shape(n.inputs[0]), &k = shape(n.inputs[1]);
      need(q.size() == 4 && k.size() == 4 && shape(n.inputs[3]) == Shape{q[0], q[1], q[2], k[2]});
    }
    auto [sh, dt] = op_result(r, p, n, [&](auto& in) {
      std::optional<array> mask, sinks;
      if (at->has_mask()) mask = in[3];
      if (at->has_sinks()) sinks = in[3 + at->has_mask()];
      return fast::scaled_dot_product_attention(in[0], in[1], in[2], at->scale(),
                                                at->causal() ? "causal" : at->has_mask() ? "array" : "", mask, sinks);
    });
    need(sh == shape(out) && dt == dtype(out));
  } else if (auto* nv = dynamic_cast<const fast::NormVJP*>(&prim)) {
    // inputs: x, the weight and the output's cotangent, in one dtype
    need(nin == 3);
    check_outputs_by_op(
        r, p, n, [&](auto& in) { return fast::norm_vjp(in[0], in[1], in[2], nv->eps(), nv->centre(), to_stream({}))[0]; },
        [&](const Primitive& q) {
          auto* m = dynamic_cast<const fast::NormVJP*>(&q);
          return m && m->centre() == nv->centre();
        });
  } else if (auto* av = dynamic_cast<const fast::AttentionVJP*>(&prim)) {
    // inputs: q, k, v, the float32 mask of the scores' shape, the output and its cotangent
    need(nin == 5u + av->has_mask() && !(av->causal() && av->has_mask()));
    check_outputs_by_op(
        r, p, n,
        [&](auto& in) { return fast::attention_vjp(in, av->scale(), av->causal(), av->has_mask(), to_stream({}))[0]; },
        [](const Primitive& q) { return dynamic_cast<const fast::AttentionVJP*>(&q) != nullptr; });
    need(dtype(n.inputs.back()) == dtype(n.inputs[0]));
  } else if (auto* f = dynamic_cast<const Compiled*>(&prim)) {
    need(nin >= 1);
    std::vector<Dtype> slot;
    for (int v : n.inputs) slot.push_back(dtype(v));
    for (auto& st : f->steps()) {
      if (st.kind == FusedStep::Kind::unary)
        need(st.dtype == result_type(kUnaryResult[st.op], slot[st.args[0]]));
      if (st.kind == FusedStep::Kind::binary)
        need(slot[st.args[0]] == slot[st.args[1]] &&
             st.dtype == result_type(kBinaryResult[st.op], slot[st.args[0]]));
      if (st.kind == FusedStep::Kind::select)
        need(slot[st.args[0]] == bool_ && slot[st.args[1]] == st.dtype && slot[st.args[2]] == st.dtype);
      slot.push_back(st.dtype);
    }
    // The chain's own shape: the output's, or before its reduction.
    const Shape chain = f->reduction() ? f->reduction()->shape : shape(out);
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      const Shape want = f->reduction() ? kept_shape(chain, f->reduction()->axes) : chain;
      need(dtype(n.outputs[o]) == slot[f->output_slots()[o]] && shape(n.outputs[o]) == want);
    }
    if (f->reduction()) need(is_floating_point(dtype(out)) && dtype(out) != float64);
    for (int v : n.inputs) need(broadcasts_to(shape(v), chain));
    // A shapeless replay broadcasts the inputs together for the chain's
    // shape (each broadcasts to it, checked above).
    if (f->reduction() && f->reduction()->shapeless) {
      Shape together;
      for (int v : n.inputs) together = broadcast_shapes(together, shape(v), "import_function");
      need(together == chain);
    }
  }
}

std::unique_ptr<Program> read_program(Reader& r, Stream s, bool shapeless) {
  auto p = std::make_unique<Program>();
  p->num_inputs = static_cast<int>(r.u32());
  uint32_t nvals = r.count(6);
  if (static_cast<uint32_t>(p->num_inputs) > nvals) r.fail("more inputs than values.");
  std::vector<uint8_t> kinds;
  for (uint32_t v = 0; v < nvals; ++v) {
    uint8_t kind = r.u8();
    if (kind > 2 || (kind == 0) != (v < static_cast<uint32_t>(p->num_inputs))) r.fail("a value has a bad kind.");
    Program::Value val{{}, read_dtype(r), {}};
    uint32_t nd = r.count(4);
    // Element counts stay far below overflow (2^48), so no size computed
    // from a shape wraps around to a small buffer.
    constexpr uint64_t kMaxElements = uint64_t{1} << 48;
    uint64_t elements = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      int32_t e = r.i32();
      if (e < 0) r.fail("a negative dimension.");
      if (e > 0 && elements > kMaxElements / static_cast<uint64_t>(e)) r.fail("a value has too many elements.");
      elements *= static_cast<uint64_t>(e);
      val.shape.push_back(e);
    }
    if (kind == 1) {
      size_t nbytes = shape_size(val.shape) * val.dtype.size();
      if (nbytes > r.remaining()) r.fail("a constant runs past the end of the file.");
      std::string bytes(nbytes, '\0');
      r.raw(bytes.data(), nbytes);
      val.constant = copy_from_host(bytes.data(), val.dtype, val.shape, row_major_strides(val.shape), val.dtype);
    }
    kinds.push_back(kind);
    p->values.push_back(std::move(val));
  }
  // Every value a node reads must exist by then; each node output is made once.
  std::vector<bool> defined(nvals, false);
  for (uint32_t v = 0; v < nvals; ++v) defined[v] = kinds[v] != 2;
  uint32_t nnodes = r.count(8);
  for (uint32_t i = 0; i < nnodes; ++i) {
    Program::Node n;
    n.inputs = r.ints<int>();
    n.outputs = r.ints<int>();
    for (int v : n.inputs)
      if (v < 0 || static_cast<uint32_t>(v) >= nvals || !defined[v]) r.fail("a node reads an undefined value.");
    if (n.outputs.empty()) r.fail("a node without outputs.");
    for (int v : n.outputs) {
      if (v < 0 || static_cast<uint32_t>(v) >= nvals || defined[v]) r.fail("a node writes a value twice.");
      defined[v] = true;
    }
    std::shared_ptr<Primitive> prim = read_primitive(r, s, n.inputs.size(), shapeless);
    // Factorizations, quantize, matmul groups and the fused backward passes
    // have several outputs, which validate_node counts; other
    // primitives fix the count.
    auto* c = dynamic_cast<Compiled*>(prim.get());
    const bool counted_later = dynamic_cast<Factorization*>(prim.get()) || dynamic_cast<AffineQuantize*>(prim.get()) ||
                               dynamic_cast<FpQuantize*>(prim.get()) || dynamic_cast<MatmulGroup*>(prim.get()) ||
                               dynamic_cast<QuantizedMatmulGroup*>(prim.get()) ||
                               dynamic_cast<fast::FusedMultiOutput*>(prim.get());
    if (!counted_later && (c ? c->output_slots().size() : 1) != n.outputs.size())
      r.fail("a node's outputs do not match its primitive.");
    n.primitive = std::move(prim);
    validate_node(r, *p, n);
    p->nodes.push_back(std::move(n));
  }
  p->outputs = r.ints<int>();
  for (int v : p->outputs)
    if (v < 0 || static_cast<uint32_t>(v) >= nvals || !defined[v]) r.fail("an output is undefined.");
  return p;
}

}  // namespace

void export_traces(const std::string& path, const std::vector<ExportedTrace>& traces) {
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(kVersion);
  w.u32(static_cast<uint32_t>(traces.size()));
  for (auto& t : traces) {
    w.u8(t.graph->shapeless());
    w.u32(static_cast<uint32_t>(t.num_positional));
    w.u32(static_cast<uint32_t>(t.keywords.size()));
    for (auto& k : t.keywords) w.str(k);
    write_program(w, t.graph->program());
  }
  std::ofstream out(path, std::ios::binary);
  if (!out || !out.write(w.bytes().data(), static_cast<std::streamsize>(w.bytes().size())))
    throw std::invalid_argument("[export_function] Cannot write " + path + ".");
}

std::vector<ExportedTrace> import_traces(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("[import_function] Cannot open " + path + ".");
  Reader r(std::string(std::istreambuf_iterator<char>(in), {}), path);
  char magic[6];
  r.raw(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) r.fail("not an lmx function file.");
  uint32_t version = r.u32();
  if (version != kVersion)
    r.fail("format version " + std::to_string(version) + " is not supported (this lmx reads version " +
           std::to_string(kVersion) + ").");
  const Device device = default_device();
  const Stream stream = default_stream(device);
  std::vector<ExportedTrace> traces(r.count(10));
  for (auto& t : traces) {
    bool shapeless = r.u8() != 0;
    t.num_positional = static_cast<int>(r.u32());
    uint32_t nk = r.count(4);
    for (uint32_t k = 0; k < nk; ++k) t.keywords.push_back(r.str());
    auto program = read_program(r, stream, shapeless);
    if (program->num_inputs != t.num_positional + static_cast<int>(t.keywords.size()))
      r.fail("the inputs do not match the argument names.");
    t.graph = std::make_shared<CompiledGraph>(std::move(program), shapeless, device);
  }
  if (!r.done()) r.fail("unexpected bytes after the last trace.");
  return traces;
}

std::string graph_to_dot(const std::vector<array>& outputs) {
  return compile_passes::to_dot(*compile_passes::record(outputs));
}

}  // namespace lmx
