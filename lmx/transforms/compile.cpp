#include "lmx/transforms/compile.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "lmx/ops/utils.h"
#include "lmx/runtime/scheduler.h"
#include "lmx/primitives/compiled.h"
#include "lmx/transforms/compile_program.h"
#include "lmx/transforms/compile_step.h"
#include "lmx/transforms/graph.h"

namespace lmx {

std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument("[compile] The primitive '" + name() +
                              "' cannot infer its output shapes for new input shapes, so a function using it "
                              "cannot be compiled with shapeless=True.");
}

namespace {

CompileMode initial_mode() {
  for (const char* var : {"LMX_DISABLE_COMPILE", "MLX_DISABLE_COMPILE"}) {
    const char* v = std::getenv(var);
    if (v && *v && std::strcmp(v, "0") != 0) return CompileMode::disabled;
  }
  return CompileMode::enabled;
}

std::atomic<CompileMode>& mode_flag() {
  static std::atomic<CompileMode> mode{initial_mode()};
  return mode;
}

thread_local int trace_depth = 0;
thread_local int shapeless_depth = 0;

// Marks the calling thread as tracing for the scope's lifetime.
struct TraceScope {
  bool shapeless;
  explicit TraceScope(bool s) : shapeless(s) {
    ++trace_depth;
    if (shapeless) ++shapeless_depth;
  }
  ~TraceScope() {
    --trace_depth;
    if (shapeless) --shapeless_depth;
  }
};

// The stand-in for an input while a function is traced: it has a shape and
// a dtype but no value, so evaluating anything that depends on it is an error.
class Placeholder : public Primitive {
 public:
  using Primitive::Primitive;
  void eval_cpu(const std::vector<array>&, std::vector<array>&) override { fail(); }
  void eval_gpu(const std::vector<array>&, std::vector<array>&) override { fail(); }
  std::string name() const override { return "compile_input"; }

 private:
  [[noreturn]] static void fail() {
    throw std::invalid_argument(
        "[compile] Attempting to evaluate an array that depends on the inputs of a function being compiled "
        "(for example with item(), tolist(), eval() or print()) is not allowed: compile traces the function "
        "without values. Move the evaluation out of the compiled function.");
  }
};

using Program = CompiledGraph::Program;

// Records the traced graph as a program. Nodes already evaluated or scheduled
// (and arrays without a primitive) become constants.
std::unique_ptr<Program> build_program(const std::vector<array>& placeholders, const std::vector<array>& outputs,
                                       bool shapeless) {
  // Which nodes are scheduled decides what becomes a constant: work that
  // async_eval handed over must have been scheduled first.
  scheduler::wait_for_deferred();
  auto p = std::make_unique<Program>();
  std::unordered_map<uintptr_t, int> value_of;
  std::unordered_set<uintptr_t> placeholder_ids;
  p->num_inputs = static_cast<int>(placeholders.size());
  for (auto& in : placeholders) {
    value_of.emplace(in.id(), static_cast<int>(p->values.size()));
    placeholder_ids.insert(in.id());
    p->values.push_back({in.shape(), in.dtype(), {}});
  }
  auto value_for = [&](const array& a) {
    auto it = value_of.find(a.id());
    if (it != value_of.end()) return it->second;
    int v = static_cast<int>(p->values.size());
    p->values.push_back({a.shape(), a.dtype(), a});
    value_of.emplace(a.id(), v);
    return v;
  };
  auto traced = [&](const array& a) {
    return a.has_primitive() && a.status() == array::Status::unscheduled && !placeholder_ids.count(a.id());
  };
  for (auto& node : detail::graph_tape(outputs, traced)) {
    if (value_of.count(node.id())) continue;  // a sibling recorded this node already
    Program::Node n{node.primitive_ptr(), {}, {}};
    for (auto& in : node.inputs()) n.inputs.push_back(value_for(in));
    auto outs = node.outputs();
    if (shapeless) {
      auto shapes = node.primitive().output_shapes(node.inputs());
      for (size_t i = 0; i < outs.size(); ++i)
        if (shapes.at(i) != outs[i].shape())
          throw std::logic_error("[compile] The primitive '" + node.primitive().name() +
                                 "' infers output shape " + shape_string(shapes[i]) + " but produced " +
                                 shape_string(outs[i].shape()) + ".");
    }
    for (auto& o : outs) {
      int v = static_cast<int>(p->values.size());
      p->values.push_back({o.shape(), o.dtype(), {}});
      value_of.emplace(o.id(), v);
      n.outputs.push_back(v);
    }
    p->nodes.push_back(std::move(n));
  }
  for (auto& o : outputs) p->outputs.push_back(value_for(o));
  return p;
}

bool same_signature(const std::vector<array>& a, const std::vector<Program::Value>& b, bool shapeless) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].dtype() != b[i].dtype) return false;
    if (shapeless ? a[i].ndim() != static_cast<int>(b[i].shape.size()) : a[i].shape() != b[i].shape) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Program> compile_passes::record(const std::vector<array>& outputs) {
  return build_program({}, outputs, false);
}

void set_compile_mode(CompileMode mode) { mode_flag().store(mode); }
CompileMode compile_mode() { return mode_flag().load(); }
void disable_compile() { set_compile_mode(CompileMode::disabled); }
void enable_compile() { set_compile_mode(CompileMode::enabled); }

namespace detail {
bool in_shapeless_trace() { return shapeless_depth > 0; }
bool in_compile_trace() { return trace_depth > 0; }
}  // namespace detail

CompiledGraph::CompiledGraph(const ArrayFn& fun, const std::vector<array>& examples, bool shapeless)
    : shapeless_(shapeless), device_(default_device()) {
  std::vector<array> placeholders;
  for (auto& e : examples) {
    placeholders.emplace_back(e.shape(), e.dtype(), std::make_shared<Placeholder>(default_stream(device_)),
                              std::vector<array>{});
  }
  std::vector<array> outputs;
  {
    TraceScope scope(shapeless);
    outputs = fun(placeholders);
  }
  program_ = build_program(placeholders, outputs, shapeless);
  CompileMode mode = compile_mode();
  if (mode == CompileMode::enabled || mode == CompileMode::no_fuse) {
    compile_passes::merge_constants(*program_);
    compile_passes::merge_equivalent_nodes(*program_);
  }
  compile_passes::remove_dead_code(*program_);
  if (mode == CompileMode::enabled || mode == CompileMode::no_simplify) {
    compile_passes::fuse_elementwise(*program_, shapeless);
    compile_passes::fuse_reductions(*program_, shapeless);
    if (!shapeless) {  // the nodes these make have no shapeless replay rule
      compile_passes::group_sibling_matmuls(*program_);
      compile_passes::fuse_residual_norms(*program_);
    }
    compile_passes::remove_dead_code(*program_);  // renumbers the values fusion left unused
  }
  prepare_steps();
}

CompiledGraph::CompiledGraph(std::unique_ptr<Program> program, bool shapeless, Device device)
    : program_(std::move(program)), shapeless_(shapeless), device_(device) {
  prepare_steps();
}

void CompiledGraph::prepare_steps() { steps_ = compile_passes::step_replay(program_, device_, shapeless_); }

CompiledGraph::~CompiledGraph() = default;

bool CompiledGraph::accepts(const std::vector<array>& inputs) const {
  return inputs.size() == static_cast<size_t>(program_->num_inputs) && default_device() == device_ &&
         same_signature(inputs, program_->values, shapeless_);
}

std::vector<array> CompiledGraph::operator()(const std::vector<array>& inputs) const {
  if (!accepts(inputs))
    throw std::invalid_argument("[compile] The inputs do not match the signature the function was traced with.");
  if (auto step = compile_passes::step_call(steps_, inputs); !step.empty()) return step;
  return compile_passes::replay(*program_, inputs, shapeless_);
}

std::vector<array> compile_passes::replay(const Program& p, const std::vector<array>& inputs, bool shapeless) {
  std::vector<array> vals(p.values.size());
  for (int i = 0; i < p.num_inputs; ++i) vals[i] = inputs[i];
  auto get = [&](int v) -> const array& {
    if (!vals[v].valid()) vals[v] = p.values[v].constant;  // constants are filled in on first use
    return vals[v];
  };
  for (auto& n : p.nodes) {
    std::vector<array> ins;
    ins.reserve(n.inputs.size());
    for (int v : n.inputs) ins.push_back(get(v));
    auto shapes = shapeless ? n.primitive->output_shapes(ins) : std::vector<Shape>{};
    auto outs = apply(p, n.outputs, n.primitive, std::move(ins), std::move(shapes));
    for (size_t k = 0; k < outs.size(); ++k) vals[n.outputs[k]] = std::move(outs[k]);
  }
  std::vector<array> outs;
  for (int v : p.outputs) outs.push_back(get(v));
  return outs;
}

std::vector<array> compile_passes::apply(const Program& p, const std::vector<int>& values,
                                         const std::shared_ptr<Primitive>& primitive, std::vector<array> inputs,
                                         std::vector<Shape> shapes) {
  if (shapes.empty())
    for (int v : values) shapes.push_back(p.values[v].shape);
  if (values.size() == 1) return {array(std::move(shapes[0]), p.values[values[0]].dtype, primitive, std::move(inputs))};
  std::vector<Dtype> dtypes;
  for (int v : values) dtypes.push_back(p.values[v].dtype);
  return array::make_arrays(std::move(shapes), dtypes, primitive, inputs);
}

size_t CompiledGraph::num_nodes() const { return program_->nodes.size(); }

size_t CompiledGraph::num_fused() const {
  size_t n = 0;
  for (auto& node : program_->nodes) n += dynamic_cast<const Compiled*>(node.primitive.get()) != nullptr;
  return n;
}

std::string CompiledGraph::to_dot() const { return compile_passes::to_dot(*program_); }

std::string compile_passes::to_dot(const Program& p) {
  std::ostringstream os;
  os << "digraph {\n  rankdir=LR;\n";
  for (size_t v = 0; v < p.values.size(); ++v) {
    bool input = p.is_input(static_cast<int>(v)), constant = p.values[v].constant.valid();
    os << "  v" << v << " [shape=" << (input ? "invdiamond" : constant ? "box" : "ellipse") << ", label=\""
       << (input ? "input " + std::to_string(v) : constant ? std::string("constant") : "v" + std::to_string(v))
       << "\\n" << shape_string(p.values[v].shape) << " " << dtype_name(p.values[v].dtype) << "\"];\n";
  }
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    os << "  n" << i << " [shape=record, label=\"" << p.nodes[i].primitive->name() << "\"];\n";
    for (int v : p.nodes[i].inputs) os << "  v" << v << " -> n" << i << ";\n";
    for (int v : p.nodes[i].outputs) os << "  n" << i << " -> v" << v << ";\n";
  }
  for (size_t k = 0; k < p.outputs.size(); ++k)
    os << "  out" << k << " [shape=diamond, label=\"output " << k << "\"];\n  v" << p.outputs[k] << " -> out" << k
       << ";\n";
  os << "}\n";
  return os.str();
}

ArrayFn compile(ArrayFn fun, bool shapeless) {
  struct Cache {
    std::mutex mu;
    std::vector<std::shared_ptr<CompiledGraph>> graphs;
  };
  auto cache = std::make_shared<Cache>();
  return [fun = std::move(fun), shapeless, cache](const std::vector<array>& inputs) {
    // Nested in another compile's trace, the function is traced inline, so
    // the outer graph is simplified and fused as a whole.
    if (compile_mode() == CompileMode::disabled || detail::in_compile_trace()) return fun(inputs);
    std::shared_ptr<CompiledGraph> graph;
    {
      std::lock_guard lk(cache->mu);
      for (auto& g : cache->graphs)
        if (g->accepts(inputs)) graph = g;
    }
    if (!graph) {
      graph = std::make_shared<CompiledGraph>(fun, inputs, shapeless);
      std::lock_guard lk(cache->mu);
      cache->graphs.push_back(graph);
    }
    return (*graph)(inputs);
  };
}

}  // namespace lmx
