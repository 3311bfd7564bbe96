#include "lmx/ops/utils.h"

#include <algorithm>
#include <stdexcept>

namespace lmx {

Stream to_stream(const StreamOrDevice& s) {
  if (auto* st = std::get_if<Stream>(&s)) {
    check_stream(*st, "stream");
    return *st;
  }
  if (auto* t = std::get_if<ThreadLocalStream>(&s)) return stream_from_thread_local(*t);
  if (auto* d = std::get_if<Device>(&s)) return default_stream(*d);
  return default_stream(default_device());
}

int normalize_axis(int axis, int ndim, const std::string& op) {
  if (axis < -ndim || axis >= ndim)
    throw std::out_of_range("[" + op + "] Axis " + std::to_string(axis) +
                                " is out of bounds for array with " + std::to_string(ndim) + " dimensions.");
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const std::string& op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw std::invalid_argument("[" + op + "] Received duplicate axes.");
  return out;
}

std::vector<int> all_axes(int ndim) {
  std::vector<int> a(ndim);
  for (int i = 0; i < ndim; ++i) a[i] = i;
  return a;
}

std::string shape_string(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    ShapeElem da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    ShapeElem db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument("[" + op + "] Shapes " + shape_string(a) + " and " + shape_string(b) +
                                  " cannot be broadcast.");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace lmx
