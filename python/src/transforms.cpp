// Bindings of the function transforms (lmx/transforms/autodiff.h). They take
// Python callables over flat lists of arrays; pytrees, argnums and argnames
// are handled in python/lmx/core/_transforms.py.
#include <nanobind/stl/function.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <mutex>

#include "convert.h"
#include "lmx/transforms/autodiff.h"
#include "lmx/transforms/compile.h"
#include "lmx/transforms/export.h"
#include "lmx/transforms/custom.h"
#include "lmx/transforms/vmap.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

// References dropped on threads without the GIL, released later by the
// interpreter's main thread. Blocking for the GIL there could deadlock: the
// thread that holds it may be waiting for that very stream to finish.
std::mutex deferred_mutex;
std::vector<PyObject*> deferred;

int release_deferred(void*) {
  std::vector<PyObject*> batch;
  {
    std::lock_guard<std::mutex> lock(deferred_mutex);
    batch.swap(deferred);
  }
  for (PyObject* o : batch) Py_DECREF(o);
  return 0;
}

// A Python object kept by C++ closures that may outlive the call that made
// them: primitives (custom_function rules) are released on a stream worker
// after evaluation, where the GIL is not held.
class PyRef {
 public:
  explicit PyRef(nb::object o) : o_(std::move(o)) {}
  ~PyRef() {
    if (!Py_IsInitialized()) {
      o_.release();  // the interpreter is gone: leak rather than touch it
      return;
    }
    if (PyGILState_Check()) {
      o_.reset();
      return;
    }
    bool schedule;
    {
      std::lock_guard<std::mutex> lock(deferred_mutex);
      schedule = deferred.empty();
      deferred.push_back(o_.release().ptr());
    }
    // Needs neither the GIL nor a thread state. Should the queue be full, the
    // next keep() (which runs under the GIL) releases the backlog.
    if (schedule) Py_AddPendingCall(release_deferred, nullptr);
  }
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  const nb::object& get() const { return o_; }

 private:
  nb::object o_;
};

std::shared_ptr<PyRef> keep(nb::object o) {
  release_deferred(nullptr);
  return std::make_shared<PyRef>(std::move(o));
}

// A Python function of a list of arrays returning a list of arrays.
ArrayFn array_fn(nb::callable fn) {
  auto f = keep(fn);
  return [f](const std::vector<array>& xs) {
    nb::gil_scoped_acquire gil;
    nb::list args;
    for (auto& x : xs) args.append(nb::cast(x));
    nb::object out = f->get()(args);
    std::vector<array> r;
    for (nb::handle h : out) {
      if (!is_array(h))
        throw nb::type_error(("[transforms] The function must return arrays, got " +
                              std::string(nb::type_name(h.type()).c_str()) + ".").c_str());
      r.push_back(nb::cast<array>(h));
    }
    return r;
  };
}

std::vector<array> arrays_from(nb::handle out, const char* what) {
  std::vector<array> r;
  for (nb::handle h : out) {
    if (!is_array(h))
      throw nb::type_error(("[custom_function] The " + std::string(what) + " must return arrays, got " +
                            std::string(nb::type_name(h.type()).c_str()) + ".").c_str());
    r.push_back(nb::cast<array>(h));
  }
  return r;
}

nb::list list_of(const std::vector<array>& xs) {
  nb::list l;
  for (auto& x : xs) l.append(nb::cast(x));
  return l;
}

}  // namespace

void init_transforms(nb::module_& m) {
  m.def("_vjp", [](nb::callable f, const std::vector<array>& primals, const std::vector<array>& cotangents) {
    return vjp(array_fn(f), primals, cotangents);
  });
  m.def("_jvp", [](nb::callable f, const std::vector<array>& primals, const std::vector<array>& tangents) {
    return jvp(array_fn(f), primals, tangents);
  });
  m.def("_vmap", [](nb::callable f, const std::vector<array>& inputs, const std::vector<int>& in_axes,
                    const std::vector<int>& out_axes) { return vmap(array_fn(f), inputs, in_axes, out_axes); });
  // Rules are Python callables over flat lists (or None); see custom_function in
  // python/lmx/core/_transforms.py.
  m.def("_custom_function", [](nb::callable f, const std::vector<array>& primals, nb::object vjp_fn,
                               nb::object jvp_fn, nb::object vmap_fn) {
    CustomVjpFn vjp;
    CustomJvpFn jvp;
    CustomVmapFn vmap;
    if (!vjp_fn.is_none())
      vjp = [r = keep(vjp_fn)](const std::vector<array>& p, const std::vector<array>& c, const std::vector<array>& o) {
        nb::gil_scoped_acquire gil;
        return arrays_from(r->get()(list_of(p), list_of(c), list_of(o)), "vjp");
      };
    if (!jvp_fn.is_none())
      jvp = [r = keep(jvp_fn)](const std::vector<array>& p, const std::vector<array>& t) {
        nb::gil_scoped_acquire gil;
        return arrays_from(r->get()(list_of(p), list_of(t)), "jvp");
      };
    if (!vmap_fn.is_none())
      vmap = [r = keep(vmap_fn)](const std::vector<array>& in, const std::vector<int>& axes) {
        nb::gil_scoped_acquire gil;
        auto vmap_fn = r->get();
        nb::list ax;
        for (int a : axes) ax.append(a < 0 ? nb::object(nb::none()) : nb::object(nb::int_(a)));
        nb::tuple r = nb::cast<nb::tuple>(vmap_fn(list_of(in), ax));
        std::vector<int> out_axes;
        for (nb::handle h : r[1]) out_axes.push_back(h.is_none() ? -1 : nb::cast<int>(h));
        return std::make_pair(arrays_from(r[0], "vmap"), out_axes);
      };
    return custom_function(array_fn(f), primals, vjp, jvp, vmap);
  }, "fun"_a, "primals"_a, "vjp"_a.none(), "jvp"_a.none(), "vmap"_a.none());
  m.def(
      "depends",
      [](nb::handle inputs, nb::handle deps) -> nb::object {
        auto as_list = [](nb::handle h) {
          if (is_array(h)) return std::vector<array>{nb::cast<array>(h)};
          return nb::cast<std::vector<array>>(h);
        };
        auto out = depends(as_list(inputs), as_list(deps));
        if (is_array(inputs)) return nb::cast(out[0]);
        return nb::cast(out);
      },
      "inputs"_a, "dependencies"_a);
  m.def("_checkpoint", [](nb::callable f, const std::vector<array>& primals) { return checkpoint(array_fn(f), primals); });
  // compile: python/lmx/core/_compile.py handles pytrees, constants, captured
  // state and the cache; a _CompiledGraph is one traced signature.
  nb::class_<CompiledGraph>(m, "_CompiledGraph")
      .def("__init__",
           [](CompiledGraph* self, nb::callable f, const std::vector<array>& examples, bool shapeless) {
             new (self) CompiledGraph(array_fn(f), examples, shapeless);
           })
      .def("__call__", &CompiledGraph::operator())
      .def("accepts", &CompiledGraph::accepts)
      .def_prop_ro("num_nodes", &CompiledGraph::num_nodes)
      .def_prop_ro("num_fused", &CompiledGraph::num_fused)
      .def("to_dot", &CompiledGraph::to_dot);
  // export_function / import_function: python/lmx/core/_export.py.
  using Trace = std::tuple<std::shared_ptr<CompiledGraph>, int, std::vector<std::string>>;
  m.def("_export_traces", [](const std::string& path, const std::vector<Trace>& traces) {
    std::vector<ExportedTrace> ts;
    for (auto& [g, n, kw] : traces) ts.push_back({g, n, kw});
    export_traces(path, ts);
  });
  m.def("_import_traces", [](const std::string& path) {
    std::vector<Trace> out;
    for (auto& t : import_traces(path)) out.emplace_back(t.graph, t.num_positional, t.keywords);
    return out;
  });
  m.def("_graph_to_dot", [](const std::vector<array>& outputs) { return graph_to_dot(outputs); });
  m.def("_compile_mode", []() {
    switch (compile_mode()) {
      case CompileMode::disabled: return "disabled";
      case CompileMode::no_simplify: return "no_simplify";
      case CompileMode::no_fuse: return "no_fuse";
      default: return "enabled";
    }
  });
  m.def("_in_compile_trace", []() { return detail::in_compile_trace(); });
  m.def("_set_compile_mode", [](const std::string& mode) {
    if (mode == "disabled") set_compile_mode(CompileMode::disabled);
    else if (mode == "no_simplify") set_compile_mode(CompileMode::no_simplify);
    else if (mode == "no_fuse") set_compile_mode(CompileMode::no_fuse);
    else if (mode == "enabled") set_compile_mode(CompileMode::enabled);
    else
      throw nb::value_error(("[set_compile_mode] Unknown mode '" + mode +
                             "'; expected 'disabled', 'no_simplify', 'no_fuse' or 'enabled'.").c_str());
  });
  m.def("_value_and_grad", [](nb::callable f, const std::vector<array>& primals, const std::vector<int>& argnums) {
    return value_and_grad(array_fn(f), primals, argnums);
  });
}

}  // namespace lmx::py
