// mx.save / savez / savez_compressed / save_safetensors / save_gguf and
// mx.load: paths or Python file objects, the format from the extension.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lmx/io/file.h"
#include "lmx/io/gguf.h"
#include "lmx/io/npy.h"
#include "lmx/io/npz.h"
#include "lmx/io/safetensors.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

using ArrayMap = std::map<std::string, array>;

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

// Writes `bytes` to a writable file object; `op` names the caller in errors.
void write_to(nb::handle file, const std::string& bytes, const char* op) {
  if (!nb::hasattr(file, "write"))
    throw nb::type_error((std::string("[") + op + "] file must be a path or a writable file object.").c_str());
  file.attr("write")(nb::bytes(bytes.data(), bytes.size()));
}

// Saves through `to_bytes` to a path (with `suffix` appended when missing)
// or a file object.
template <typename ToBytes>
void save_to(nb::handle file, const char* suffix, const char* op, ToBytes to_bytes) {
  std::string bytes = to_bytes();
  if (!is_path(file)) return write_to(file, bytes, op);
  io::write_file(io::with_extension(path_of(file), suffix), bytes, op);
}

ArrayMap array_dict(nb::handle d, const char* op) {
  if (!nb::isinstance<nb::dict>(d))
    throw nb::type_error((std::string("[") + op + "] arrays must be a dict of str to array.").c_str());
  ArrayMap out;
  for (auto [k, v] : nb::borrow<nb::dict>(d)) {
    if (!PyUnicode_Check(k.ptr())) throw nb::type_error((std::string("[") + op + "] keys must be strings.").c_str());
    out.emplace(nb::cast<std::string>(k), to_array(v));
  }
  return out;
}

// savez's positional arrays are named arr_0, arr_1, ...; keywords keep their names.
ArrayMap savez_dict(nb::args args, nb::kwargs kwargs, const char* op) {
  ArrayMap out;
  for (size_t i = 0; i < args.size(); ++i) out.emplace("arr_" + std::to_string(i), to_array(args[i]));
  for (auto [k, v] : kwargs) {
    auto name = nb::cast<std::string>(k);
    if (!out.emplace(name, to_array(v)).second)
      throw std::invalid_argument(std::string("[") + op + "] Cannot use un-named variables and keyword " + name + ".");
  }
  return out;
}

io::GGUFMetaData gguf_value(const std::string& key, nb::handle v) {
  if (PyUnicode_Check(v.ptr())) return nb::cast<std::string>(v);
  if (nb::isinstance<nb::list>(v) || nb::isinstance<nb::tuple>(v)) {
    std::vector<std::string> out;
    for (auto item : v) {
      if (!PyUnicode_Check(item.ptr()))
        throw std::invalid_argument("[save_gguf] Metadata '" + key + "': lists may only hold strings.");
      out.push_back(nb::cast<std::string>(item));
    }
    return out;
  }
  if (is_array(v)) return nb::cast<array>(v);
  throw std::invalid_argument("[save_gguf] Metadata '" + key + "' must be a str, a list of str or an array.");
}

nb::object gguf_metadata_to_python(const io::GGUFMetaMap& meta) {
  nb::dict out;
  for (const auto& [k, v] : meta) {
    if (auto* a = std::get_if<array>(&v)) out[k.c_str()] = nb::cast(*a);
    else if (auto* s = std::get_if<std::string>(&v)) out[k.c_str()] = nb::cast(*s);
    else if (auto* l = std::get_if<std::vector<std::string>>(&v)) out[k.c_str()] = nb::cast(*l);
  }
  return out;
}

// The input as bytes the loaders can alias: a mapped path, or a file
// object's contents.
std::shared_ptr<io::InputFile> open_input(nb::handle file) {
  if (is_path(file)) return io::InputFile::open(path_of(file), "load");
  if (!nb::hasattr(file, "read")) throw nb::type_error("[load] file must be a path or a readable file object.");
  nb::bytes data = nb::cast<nb::bytes>(file.attr("read")());
  std::string name = "<file object>";
  if (nb::hasattr(file, "name") && PyUnicode_Check(file.attr("name").ptr())) name = nb::cast<std::string>(file.attr("name"));
  return io::InputFile::from_bytes(std::string(data.c_str(), data.size()), name);
}

std::string format_of(nb::handle file, const std::optional<std::string>& format) {
  if (format) return *format;
  if (is_path(file)) return extension(path_of(file));
  if (nb::hasattr(file, "name") && PyUnicode_Check(file.attr("name").ptr()))
    if (auto ext = extension(nb::cast<std::string>(file.attr("name"))); !ext.empty()) return ext;
  return "npy";
}

nb::object load(nb::handle file, std::optional<std::string> format, bool return_metadata) {
  std::string fmt = format_of(file, format);
  if (fmt != "npy" && fmt != "npz" && fmt != "safetensors" && fmt != "gguf")
    throw std::invalid_argument("[load] Invalid format '" + fmt + "': expected npy, npz, safetensors or gguf.");
  if (return_metadata && (fmt == "npy" || fmt == "npz"))
    throw std::invalid_argument("[load] metadata not supported for format " + fmt + ".");
  auto input = open_input(file);
  std::string_view bytes{input->data(), input->size()};
  if (fmt == "npy") return nb::cast(io::from_npy(std::string(bytes), input->path()));
  if (fmt == "npz") return nb::cast(io::from_npz(bytes, input->path()));
  if (fmt == "safetensors") {
    auto [arrays, meta] = io::load_safetensors(input);
    if (return_metadata) return nb::make_tuple(arrays, meta);
    return nb::cast(arrays);
  }
  auto [arrays, meta] = io::load_gguf(input);
  if (return_metadata) return nb::make_tuple(arrays, gguf_metadata_to_python(meta));
  return nb::cast(arrays);
}

}  // namespace

void init_io(nb::module_& m) {
  m.def(
      "save",
      [](nb::handle file, const ArrayLike& a) { save_to(file, ".npy", "save", [&] { return io::to_npy(a); }); },
      "file"_a, "arr"_a, "Saves an array to a binary file in .npy format.");
  m.def(
      "savez",
      [](nb::handle file, nb::args args, nb::kwargs kwargs) {
        auto arrays = savez_dict(args, kwargs, "savez");
        save_to(file, ".npz", "savez", [&] { return io::to_npz(arrays, false); });
      },
      "file"_a, "args"_a, "kwargs"_a, "Saves several arrays to a binary file in uncompressed .npz format.");
  m.def(
      "savez_compressed",
      [](nb::handle file, nb::args args, nb::kwargs kwargs) {
        auto arrays = savez_dict(args, kwargs, "savez_compressed");
        save_to(file, ".npz", "savez_compressed", [&] { return io::to_npz(arrays, true); });
      },
      "file"_a, "args"_a, "kwargs"_a, "Saves several arrays to a binary file in compressed .npz format.");
  m.def(
      "save_safetensors",
      [](nb::handle file, nb::handle arrays, std::optional<std::map<std::string, std::string>> metadata) {
        auto map = array_dict(arrays, "save_safetensors");
        save_to(file, ".safetensors", "save_safetensors",
                [&] { return io::to_safetensors(map, metadata.value_or(io::StringMap{})); });
      },
      "file"_a, "arrays"_a, "metadata"_a = nb::none(), "Saves a dict of arrays in the .safetensors format.");
  m.def(
      "save_gguf",
      [](nb::handle file, nb::handle arrays, std::optional<nb::dict> metadata) {
        auto map = array_dict(arrays, "save_gguf");
        io::GGUFMetaMap meta;
        if (metadata)
          for (auto [k, v] : *metadata) {
            auto key = nb::cast<std::string>(k);
            meta.emplace(key, gguf_value(key, v));
          }
        save_to(file, ".gguf", "save_gguf", [&] { return io::to_gguf(map, meta); });
      },
      "file"_a, "arrays"_a, "metadata"_a = nb::none(), "Saves a dict of arrays in the .gguf format.");
  m.def(
      "load",
      [](nb::handle file, std::optional<std::string> format, bool return_metadata, S) {
        return load(file, format, return_metadata);
      },
      "file"_a, "format"_a = nb::none(), "return_metadata"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Loads arrays from a .npy, .npz, .safetensors or .gguf file.");
}

}  // namespace lmx::py
