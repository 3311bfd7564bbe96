// The Python `array` class.
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <new>
#include <stdexcept>

#include "convert.h"
#include "format.h"
#include "indexing.h"

namespace lmx::py {

using namespace nb::literals;

namespace {

nb::tuple shape_tuple(const array& a) {
  nb::list l;
  for (auto d : a.shape()) l.append(d);
  return nb::tuple(l);
}

void eval_nogil(array& a) {
  nb::gil_scoped_release nogil;
  a.eval();
}

nb::dlpack::dtype dlpack_of(Dtype t) {
  using C = nb::dlpack::dtype_code;
  C code;
  switch (t.kind()) {
    case Dtype::Kind::b: code = C::Bool; break;
    case Dtype::Kind::u: code = C::UInt; break;
    case Dtype::Kind::i: code = C::Int; break;
    case Dtype::Kind::c: code = C::Complex; break;
    default: code = t == bfloat16 ? C::Bfloat : C::Float;
  }
  return nb::dlpack::dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(t.size() * 8), 1};
}

// A zero-copy ndarray over an evaluated array; the capsule keeps its buffer alive.
template <typename... Args>
nb::ndarray<Args...> as_ndarray(array& a) {
  eval_nogil(a);
  auto* keep = new array(a);
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<array*>(p); });
  std::vector<size_t> shape(a.shape().begin(), a.shape().end());
  std::vector<int64_t> strides(a.strides().begin(), a.strides().end());
  return nb::ndarray<Args...>(a.raw_ptr(), a.ndim(), shape.data(), owner, strides.data(), dlpack_of(a.dtype()));
}

const char* buffer_format(Dtype t) {
  switch (t.val()) {
    case Dtype::Val::bool_: return "?";
    case Dtype::Val::uint8: return "B";
    case Dtype::Val::uint16: return "H";
    case Dtype::Val::uint32: return "I";
    case Dtype::Val::uint64: return "Q";
    case Dtype::Val::int8: return "b";
    case Dtype::Val::int16: return "h";
    case Dtype::Val::int32: return "i";
    case Dtype::Val::int64: return "q";
    case Dtype::Val::float16: return "e";
    case Dtype::Val::float32: return "f";
    case Dtype::Val::float64: return "d";
    case Dtype::Val::complex64: return "Zf";
    // bfloat16 has no PEP 3118 code. Its non-standard name (as MLX reports)
    // lets raw-byte users through while NumPy refuses rather than misreads.
    default: return "bfloat16";
  }
}

struct BufferInfo {
  array keep;
  std::vector<Py_ssize_t> shape, strides;
};

// Sets the Python error nanobind would raise for the C++ exception being
// handled: the buffer protocol's hooks are called by CPython directly, outside
// nanobind's translation (a GPU float64 error surfaced as RuntimeError there
// and as ValueError everywhere else).
void set_error_from_current_exception() {
  try {
    throw;
  } catch (nb::python_error& e) {
    e.restore();
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::domain_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::length_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const std::range_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::overflow_error& e) {
    PyErr_SetString(PyExc_OverflowError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
}

int array_getbuffer(PyObject* self, Py_buffer* view, int flags) {
  try {
    array& a = *nb::inst_ptr<array>(self);
    const char* fmt = buffer_format(a.dtype());
    {
      nb::gil_scoped_release nogil;
      a.eval();
    }
    auto* info = new BufferInfo{a, {}, {}};
    for (int i = 0; i < a.ndim(); ++i) {
      info->shape.push_back(a.shape()[i]);
      info->strides.push_back(a.strides()[i] * static_cast<Py_ssize_t>(a.itemsize()));
    }
    view->buf = a.raw_ptr();
    view->obj = self;
    Py_INCREF(self);
    view->len = static_cast<Py_ssize_t>(a.nbytes());
    view->readonly = 1;  // buffers may be shared with other arrays
    view->itemsize = static_cast<Py_ssize_t>(a.itemsize());
    view->format = (flags & PyBUF_FORMAT) ? const_cast<char*>(fmt) : nullptr;
    view->ndim = a.ndim();
    view->shape = info->shape.data();
    view->strides = info->strides.data();
    view->suboffsets = nullptr;
    view->internal = info;
    if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE) {
      PyErr_SetString(PyExc_BufferError, "lmx arrays are read-only through the buffer protocol");
      delete info;
      Py_DECREF(self);
      view->obj = nullptr;
      return -1;
    }
    return 0;
  } catch (...) {
    set_error_from_current_exception();
    return -1;
  }
}

void array_releasebuffer(PyObject*, Py_buffer* view) { delete static_cast<BufferInfo*>(view->internal); }

PyType_Slot array_slots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(array_getbuffer)},
                             {Py_bf_releasebuffer, reinterpret_cast<void*>(array_releasebuffer)},
                             {0, nullptr}};

template <typename F>
auto binop(F f) {
  return [f](nb::handle a, nb::handle b) {
    auto [x, y] = to_arrays(a, b);
    return f(x, y, StreamOrDevice{});
  };
}
template <typename F>
auto rbinop(F f) {
  return [f](nb::handle a, nb::handle b) {
    auto [y, x] = to_arrays(b, a);
    return f(y, x, StreamOrDevice{});
  };
}
template <typename F>
auto ibinop(F f) {
  // In-place operators rebind this Python object's array, as MLX does.
  return [f](nb::handle self_h, nb::handle b) -> nb::object {
    auto [x, y] = to_arrays(self_h, b);
    nb::cast<array&>(self_h) = f(x, y, StreamOrDevice{});
    return nb::borrow(self_h);
  };
}

}  // namespace

struct PrintOptions {
  int precision;
};

void init_array(nb::module_& m) {
  nb::class_<PrintOptions>(m, "PrintOptions").def_ro("precision", &PrintOptions::precision);
  m.def("set_printoptions", [](int precision) { set_print_precision(precision); }, "precision"_a = -1);
  m.def("get_printoptions", [] { return PrintOptions{get_print_precision()}; });
  nb::class_<array>(m, "array", nb::type_slots(array_slots), "An N-dimensional array, evaluated lazily.")
      .def("__init__",
           [](array* self, nb::handle val, std::optional<Dtype> dtype) { new (self) array(to_array(val, dtype)); },
           "val"_a, "dtype"_a = nb::none())
      .def_prop_ro("shape", &shape_tuple)
      .def_prop_ro("ndim", &array::ndim)
      .def_prop_ro("size", &array::size)
      .def_prop_ro("dtype", &array::dtype)
      .def_prop_ro("nbytes", &array::nbytes)
      .def_prop_ro("itemsize", &array::itemsize)
      .def_prop_ro("T", [](const array& a) { return transpose(a); })
      .def("item", [](array& a) { return to_scalar(a); })
      .def("tolist", [](array& a) { return to_list(a); })
      .def("astype", [](const array& a, Dtype t, StreamOrDevice s) { return astype(a, t, s); }, "dtype"_a,
           "stream"_a = nb::none())
      .def("__repr__", [](array& a) { return format_array(a); })
      .def("__len__",
           [](const array& a) {
             if (a.ndim() == 0) throw nb::type_error("len() 0-dimensional array.");
             return a.shape(0);
           })
      .def("_buffer_info",
           [](array& a) {
             // (identity, bytes) of the evaluated buffer behind a, for get_array_buffer_size.
             a.eval();
             const auto& d = a.data_shared_ptr();
             return nb::make_tuple(reinterpret_cast<uintptr_t>(d.get()), d ? d->nbytes : 0);
           })
      .def("__bool__", [](array& a) { return nb::cast<bool>(nb::bool_(to_scalar(a))); })
      .def("__int__", [](array& a) { return nb::int_(to_scalar(a)); })
      .def("__float__", [](array& a) { return nb::float_(to_scalar(a)); })
      .def("__complex__", [](array& a) {
        nb::object v = to_scalar(a);
        return nb::steal(PyComplex_FromCComplex(PyComplex_AsCComplex(v.ptr())));
      })
      .def("__index__",
           [](array& a) {
             if (!is_integral(a.dtype())) throw nb::type_error("Only integer arrays can be used as an index.");
             return nb::int_(to_scalar(a));
           })
      .def("__hash__", [](const array& a) { return static_cast<Py_hash_t>(a.id()); })
      .def("__getitem__", [](const array& a, nb::handle idx) { return get_item(a, idx); }, "key"_a.none())
      .def("__setitem__", [](array& a, nb::handle idx, nb::handle v) { a = set_item(a, idx, v); }, "key"_a.none(),
           "value"_a.none())
      .def("__array__",
           [](array& a, nb::handle dtype, nb::handle copy) {
             if (a.dtype() == bfloat16)
               throw std::invalid_argument("[__array__] NumPy has no bfloat16; convert with astype(float32) first.");
             nb::object arr = nb::cast(as_ndarray<nb::numpy>(a));
             if (!dtype.is_none()) arr = arr.attr("astype")(dtype);
             return arr;
           },
           "dtype"_a = nb::none(), "copy"_a = nb::none())
      .def("__dlpack__",
           // With no framework tag nanobind hands out the DLPack capsule itself.
           [](array& a, nb::kwargs) { return nb::cast(as_ndarray<>(a)); })
      .def("__dlpack_device__", [](const array&) { return nb::make_tuple(1, 0); })  // kDLCPU
      .def("__getstate__",
           [](array& a) {
             eval_nogil(a);
             std::string bytes(a.nbytes(), '\0');
             copy_to_host(a, bytes.data(), a.dtype());
             return nb::make_tuple(nb::bytes(bytes.data(), bytes.size()), shape_tuple(a),
                                   static_cast<int>(a.dtype().val()));
           })
      .def("__setstate__",
           [](array& self, nb::tuple state) {
             nb::bytes data = nb::cast<nb::bytes>(state[0]);
             Shape shape = nb::cast<Shape>(state[1]);
             Dtype t = dtype_from_index(nb::cast<int>(state[2]));
             if (shape_size(shape) * t.size() != data.size())
               throw std::invalid_argument("[array.__setstate__] Pickled data does not match its shape.");
             new (&self) array(copy_from_host(data.c_str(), t, shape, row_major_strides(shape), t));
           })
      .def("__copy__", [](const array& a) { return copy(a); })
      .def("__deepcopy__", [](const array& a, nb::handle) { return copy(a); }, "memo"_a)
      // Arithmetic and comparison operators with weak Python scalars.
      .def("__add__", binop(static_cast<array (*)(const array&, const array&, S)>(&add)))
      .def("__radd__", rbinop(static_cast<array (*)(const array&, const array&, S)>(&add)))
      .def("__iadd__", ibinop(static_cast<array (*)(const array&, const array&, S)>(&add)))
      .def("__sub__", binop(&subtract))
      .def("__rsub__", rbinop(&subtract))
      .def("__isub__", ibinop(&subtract))
      .def("__mul__", binop(&multiply))
      .def("__rmul__", rbinop(&multiply))
      .def("__imul__", ibinop(&multiply))
      .def("__truediv__", binop(&divide))
      .def("__rtruediv__", rbinop(&divide))
      .def("__itruediv__",
           [](nb::handle self_h, nb::handle b) -> nb::object {
             // MLX: `x /= y` keeps x's identity, so it may not turn into a float.
             auto [x, y] = to_arrays(self_h, b);
             if (!is_inexact(x.dtype()))
               throw std::invalid_argument("[__itruediv__] In-place division cannot cast to non-floating point type.");
             nb::cast<array&>(self_h) = divide(x, y);
             return nb::borrow(self_h);
           })
      .def("__floordiv__", binop(&floor_divide))
      .def("__rfloordiv__", rbinop(&floor_divide))
      .def("__ifloordiv__", ibinop(&floor_divide))
      .def("__mod__", binop(&remainder))
      .def("__rmod__", rbinop(&remainder))
      .def("__imod__", ibinop(&remainder))
      .def("__divmod__", [](nb::handle a, nb::handle b) {
        auto [x, y] = to_arrays(a, b);
        auto [q, r] = divmod(x, y);
        return nb::make_tuple(q, r);
      })
      // @ takes arrays only (as MLX): anything else gives TypeError.
      .def("__matmul__",
           [](const array& a, nb::handle b) {
             if (!is_array(b)) throw nb::type_error("[matmul] The @ operator takes two lmx arrays.");
             return matmul(a, nb::cast<array>(b));
           })
      .def("__pow__", binop(&power))
      .def("__rpow__", rbinop(&power))
      .def("__ipow__", ibinop(&power))
      .def("__and__", binop(&bitwise_and))
      .def("__rand__", rbinop(&bitwise_and))
      .def("__iand__", ibinop(&bitwise_and))
      .def("__or__", binop(&bitwise_or))
      .def("__ror__", rbinop(&bitwise_or))
      .def("__ior__", ibinop(&bitwise_or))
      .def("__xor__", binop(&bitwise_xor))
      .def("__rxor__", rbinop(&bitwise_xor))
      .def("__ixor__", ibinop(&bitwise_xor))
      .def("__lshift__", binop(&left_shift))
      .def("__rlshift__", rbinop(&left_shift))
      .def("__ilshift__", ibinop(&left_shift))
      .def("__rshift__", binop(&right_shift))
      .def("__rrshift__", rbinop(&right_shift))
      .def("__irshift__", ibinop(&right_shift))
      .def("__eq__", binop(&equal))
      .def("__ne__", binop(&not_equal))
      .def("__lt__", binop(&less))
      .def("__le__", binop(&less_equal))
      .def("__gt__", binop(&greater))
      .def("__ge__", binop(&greater_equal))
      .def("__neg__", [](const array& a) { return negative(a); })
      .def("__pos__", [](const array& a) { return a; })
      .def("__abs__", [](const array& a) { return abs(a); })
      .def("__invert__", [](const array& a) {
        return a.dtype() == bool_ ? logical_not(a) : bitwise_invert(a);
      });
}

}  // namespace lmx::py
