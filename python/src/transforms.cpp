// Bindings of the function transforms (lmx/transforms/autodiff.h). They take
// Python callables over flat lists of arrays; pytrees, argnums and argnames
// are handled in python/lmx/core/_transforms.py.
#include <nanobind/stl/function.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lmx/transforms/autodiff.h"
#include "lmx/transforms/vmap.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

// A Python function of a list of arrays returning a list of arrays.
ArrayFn array_fn(nb::callable f) {
  return [f](const std::vector<array>& xs) {
    nb::list args;
    for (auto& x : xs) args.append(nb::cast(x));
    nb::object out = f(args);
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
  m.def("_value_and_grad", [](nb::callable f, const std::vector<array>& primals, const std::vector<int>& argnums) {
    return value_and_grad(array_fn(f), primals, argnums);
  });
}

}  // namespace lmx::py
