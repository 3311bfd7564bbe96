// Bindings of mx.distributed (lmx/distributed/).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace lmx::py {

using namespace nb::literals;
using distributed::Group;
using OptGroup = std::optional<Group>;

void init_distributed(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("distributed", "Communication between processes (the ring backend).");

  nb::class_<Group>(m, "Group", "A group of independent lmx processes that can communicate.")
      .def("rank", &Group::rank, "The rank of this process in the group.")
      .def("size", &Group::size, "The number of processes in the group.")
      .def("split", &Group::split, "color"_a, "key"_a = -1,
           "Split the group into subgroups of the processes with the same color, ordered by key.");

  m.def("is_available", &distributed::is_available, "backend"_a = "any",
        "Whether lmx can create a communication backend of this name.");
  m.def(
      "init",
      [](bool strict, const std::string& backend) {
        nb::gil_scoped_release nogil;  // connecting waits for the other processes
        return distributed::init(strict, backend);
      },
      "strict"_a = false, "backend"_a = "any",
      "Initialize the communication backend and create the global communication group.");

  auto collective = [&](const char* name, array (*op)(const array&, const OptGroup&, StreamOrDevice),
                        const char* doc) {
    m.def(name, [op](const array& x, OptGroup group, S s) { return op(x, group, s); }, "x"_a, nb::kw_only(),
          "group"_a = nb::none(), "stream"_a = nb::none(), doc);
  };
  collective("all_sum", &distributed::all_sum, "All reduce sum: the sum of x over the processes of the group.");
  collective("all_max", &distributed::all_max, "All reduce max: the maximum of x over the processes of the group.");
  collective("all_min", &distributed::all_min, "All reduce min: the minimum of x over the processes of the group.");
  collective("all_gather", &distributed::all_gather,
             "Every process's x, concatenated along the first axis in rank order.");
  collective("sum_scatter", &distributed::sum_scatter,
             "This process's slice, along the first axis, of the sum of x over the group.");
  m.def(
      "send", [](const array& x, int dst, OptGroup group, S s) { return distributed::send(x, dst, group, s); },
      "x"_a, "dst"_a, nb::kw_only(), "group"_a = nb::none(), "stream"_a = nb::none(),
      "An array equal to x which, when evaluated, sends x to the process of rank dst.");
  m.def(
      "recv",
      [](const std::vector<ShapeElem>& shape, Dtype dtype, int src, OptGroup group, S s) {
        return distributed::recv(Shape(shape.begin(), shape.end()), dtype, src, group, s);
      },
      "shape"_a, "dtype"_a, "src"_a, nb::kw_only(), "group"_a = nb::none(), "stream"_a = nb::none(),
      "Receive an array of this shape and dtype from the process of rank src.");
  m.def(
      "recv_like",
      [](const array& x, int src, OptGroup group, S s) { return distributed::recv_like(x, src, group, s); }, "x"_a,
      "src"_a, nb::kw_only(), "group"_a = nb::none(), "stream"_a = nb::none(),
      "Receive an array with the shape and dtype of x from the process of rank src.");
}

}  // namespace lmx::py
