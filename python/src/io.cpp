// mx.save / mx.load for .npy files (paths or file objects).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

#include "convert.h"
#include "lmx/io/npy.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

bool is_path(nb::handle f) { return PyUnicode_Check(f.ptr()) || nb::hasattr(f, "__fspath__"); }

std::string path_of(nb::handle f) {
  nb::object p = nb::steal(PyOS_FSPath(f.ptr()));
  if (!p.is_valid()) throw nb::python_error();
  return nb::cast<std::string>(p);
}

std::string extension(const std::string& path) {
  auto dot = path.find_last_of('.');
  auto slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return path.substr(dot + 1);
}

}  // namespace

void init_io(nb::module_& m) {
  m.def(
      "save",
      [](nb::handle file, const array& a) {
        if (is_path(file)) {
          io::save_npy(path_of(file), a);
          return;
        }
        if (!nb::hasattr(file, "write")) throw nb::type_error("[save] file must be a path or a writable file object.");
        std::string bytes = io::to_npy(a);
        file.attr("write")(nb::bytes(bytes.data(), bytes.size()));
      },
      "file"_a, "arr"_a);
  m.def(
      "load",
      [](nb::handle file, std::optional<std::string> format, bool return_metadata, S) {
        std::string fmt = format.value_or(is_path(file) ? extension(path_of(file)) : "npy");
        if (fmt != "npy")
          throw std::invalid_argument("[load] Only the .npy format is available in lmx so far, got '" + fmt + "'.");
        if (return_metadata) throw std::invalid_argument("[load] .npy files carry no metadata.");
        if (is_path(file)) return io::load_npy(path_of(file));
        if (!nb::hasattr(file, "read")) throw nb::type_error("[load] file must be a path or a readable file object.");
        nb::bytes data = nb::cast<nb::bytes>(file.attr("read")());
        return io::from_npy(std::string(data.c_str(), data.size()), "<file object>");
      },
      "file"_a, "format"_a = nb::none(), "return_metadata"_a = false, nb::kw_only(), "stream"_a = nb::none());
}

}  // namespace lmx::py
