// The `lmx._core` extension, re-exported as `lmx.core`.
#include <nanobind/stl/string.h>

#include <stdexcept>

#include "convert.h"

namespace lmx::py {
void init_dtypes(nb::module_& m);
void init_runtime(nb::module_& m);
void init_array(nb::module_& m);
void init_ops(nb::module_& m);
void init_matmul(nb::module_& m);
void init_indexing(nb::module_& m);
void init_sort(nb::module_& m);
void init_transforms(nb::module_& m);
void init_linalg(nb::module_& m);
void init_conv(nb::module_& m);
void init_fft(nb::module_& m);
void init_fast(nb::module_& m);
void init_io(nb::module_& m);
void init_quantized(nb::module_& m);
void init_random(nb::module_& m);
void init_distributed(nb::module_& m);
}  // namespace lmx::py

NB_MODULE(_core, m) {
  m.doc() = "lmx core: lazy arrays, ops, devices and evaluation.";
  // C++ out_of_range -> IndexError; invalid_argument -> ValueError (nanobind's default).
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const std::out_of_range& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    }
  });
  lmx::py::init_dtypes(m);
  lmx::py::init_runtime(m);
  lmx::py::init_array(m);
  lmx::py::init_ops(m);
  lmx::py::init_matmul(m);
  lmx::py::init_indexing(m);
  lmx::py::init_sort(m);
  lmx::py::init_transforms(m);
  lmx::py::init_linalg(m);
  lmx::py::init_conv(m);
  lmx::py::init_fft(m);
  lmx::py::init_fast(m);
  lmx::py::init_io(m);
  lmx::py::init_quantized(m);
  lmx::py::init_random(m);
  lmx::py::init_distributed(m);
  nb::list names;
  for (auto [k, v] : nb::borrow<nb::dict>(m.attr("__dict__"))) {
    std::string name = nb::cast<std::string>(k);
    if (!name.empty() && name[0] != '_') names.append(k);
  }
  m.attr("__all__") = names;
}
