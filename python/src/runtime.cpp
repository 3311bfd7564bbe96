// Devices, streams, evaluation and memory.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lmx/runtime/gpu.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

// Arrays found in a pytree (lists, tuples, dicts; other leaves are ignored).
void collect_arrays(nb::handle tree, std::vector<array>& out) {
  if (is_array(tree)) {
    out.push_back(nb::cast<array>(tree));
  } else if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr())) {
    for (nb::handle h : nb::borrow<nb::sequence>(tree)) collect_arrays(h, out);
  } else if (PyDict_Check(tree.ptr())) {
    for (auto [k, v] : nb::borrow<nb::dict>(tree)) collect_arrays(v, out);
  }
}

std::vector<array> arrays_of(nb::args args) {
  std::vector<array> out;
  for (nb::handle h : args) collect_arrays(h, out);
  return out;
}

}  // namespace

void init_runtime(nb::module_& m) {
  nb::enum_<Device::Type>(m, "DeviceType").value("cpu", Device::Type::cpu).value("gpu", Device::Type::gpu);
  m.attr("cpu") = m.attr("DeviceType").attr("cpu");
  m.attr("gpu") = m.attr("DeviceType").attr("gpu");

  nb::class_<Device>(m, "Device")
      .def(nb::init<Device::Type, int>(), "type"_a, "index"_a = 0)
      .def_ro("type", &Device::type)
      .def_ro("index", &Device::index)
      .def("__repr__", [](const Device& d) { return to_string(d); })
      .def("__eq__", [](const Device& a, nb::handle b) {
        if (nb::isinstance<Device>(b)) return a == nb::cast<Device>(b);
        if (nb::isinstance<Device::Type>(b)) return a == Device(nb::cast<Device::Type>(b));
        return false;
      })
      .def("__hash__", [](const Device& d) { return static_cast<int>(d.type) * 1000 + d.index; });
  nb::implicitly_convertible<Device::Type, Device>();

  nb::class_<Stream>(m, "Stream")
      .def_ro("device", &Stream::device)
      .def_ro("index", &Stream::index)
      .def("__repr__", [](const Stream& s) { return to_string(s); })
      .def("__eq__", [](const Stream& a, nb::handle b) { return nb::isinstance<Stream>(b) && a == nb::cast<Stream>(b); })
      .def("__hash__", [](const Stream& s) { return s.index; });

  nb::class_<ThreadLocalStream>(m, "ThreadLocalStream",
                                "A stream that will be unique per thread and can be used to run operations on a "
                                "given device.")
      .def_prop_ro("device", [](const ThreadLocalStream& s) { return s.device; })
      .def("__repr__", [](const ThreadLocalStream& s) { return to_string(s); })
      .def("__eq__", [](const ThreadLocalStream& a, nb::handle b) {
        return nb::isinstance<ThreadLocalStream>(b) && a.id == nb::cast<ThreadLocalStream>(b).id;
      })
      .def("__hash__", [](const ThreadLocalStream& s) { return s.id; });

  m.def("default_device", &default_device);
  m.def("set_default_device", &set_default_device, "device"_a);
  m.def("default_stream", &default_stream, "device"_a);
  m.def("set_default_stream", &set_default_stream, "stream"_a);
  m.def("new_stream", &new_stream, "device"_a);
  m.def("new_thread_local_stream", &new_thread_local_stream, "device"_a,
        "Make a new stream that will be unique per thread.");
  m.def("_thread_stream", &stream_from_thread_local, "stream"_a);
  m.def(
      "clear_streams",
      [] {
        nb::gil_scoped_release nogil;  // waits for the streams' queued work
        clear_streams();
      },
      "Destroy all streams created in current thread.");
  m.def("synchronize",
        [](StreamOrDevice s) {
          // None: every stream; a device: its default stream.
          if (std::holds_alternative<std::monostate>(s)) {
            nb::gil_scoped_release nogil;
            synchronize();
            return;
          }
          Stream target = to_stream(s);
          nb::gil_scoped_release nogil;
          synchronize(target);
        },
        "stream"_a = nb::none());
  m.def("is_available", [](const Device& d) { return d.type == Device::Type::cpu || gpu_available(); }, "device"_a);
  m.def("device_count", &device_count, "device_type"_a);
  m.def("_gpu_device_info", [] {
    nb::dict info;
    for (auto& [k, v] : gpu::device_info()) std::visit([&, &k = k](auto& x) { info[k.c_str()] = x; }, v);
    return info;
  });

  m.def("eval", [](nb::args args) {
    auto arrays = arrays_of(args);
    nb::gil_scoped_release nogil;
    eval(arrays);
  });
  m.def("async_eval", [](nb::args args) {
    auto arrays = arrays_of(args);
    nb::gil_scoped_release nogil;
    async_eval(arrays);
  });

  m.def(
      "from_dlpack",
      [](nb::handle obj, std::optional<bool> copy) {
        // CPU buffers are always copied in (as in MLX), so copy=False cannot be honoured.
        if (copy.has_value() && !*copy)
          throw std::invalid_argument("[from_dlpack] Importing a CPU buffer without a copy is not supported.");
        if (!nb::hasattr(obj, "__dlpack__") && !PyObject_CheckBuffer(obj.ptr()))
          throw nb::type_error("[from_dlpack] The object supports neither DLPack nor the buffer protocol.");
        auto a = buffer_to_array(obj, std::nullopt, false);
        if (!a) throw nb::type_error("[from_dlpack] The object's DLPack export could not be read.");
        return *a;
      },
      "x"_a, nb::kw_only(), "copy"_a = nb::none());

  m.def("get_active_memory", &get_active_memory);
  m.def("get_peak_memory", &get_peak_memory);
  m.def("reset_peak_memory", &reset_peak_memory);
  m.def("get_cache_memory", &get_cache_memory);
  m.def("set_memory_limit", &set_memory_limit, "limit"_a);
  m.def("get_memory_limit", &get_memory_limit);
  m.def("set_cache_limit", &set_cache_limit, "limit"_a);
  m.def("clear_cache", &clear_cache);
}

}  // namespace lmx::py
