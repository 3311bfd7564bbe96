// Rules every op shares: where it runs, axis normalisation, broadcasting.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "lmx/array.h"

namespace lmx {

// An op's `stream=` argument: nothing (the default stream of the default
// device), a stream, or a device (its default stream).
using StreamOrDevice = std::variant<std::monostate, Stream, Device, ThreadLocalStream>;
Stream to_stream(const StreamOrDevice& s);

// Maps a possibly negative axis into [0, ndim); throws ValueError naming the op.
int normalize_axis(int axis, int ndim, const std::string& op);
// Normalises, sorts and checks that no axis repeats.
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const std::string& op);
std::vector<int> all_axes(int ndim);

// NumPy broadcasting of two shapes; throws ValueError naming the op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& op = "broadcast_shapes");

// broadcast_to(a, shape) for an operand of an op that broadcasts `operands`
// together (a among them). While a shapeless compile traces, the broadcast
// also records the operands, so its shape follows theirs on replay.
array broadcast_operand(const array& a, const Shape& shape, const std::vector<array>& operands,
                        StreamOrDevice s);

// The shape reshape gives an array of `size` elements for a requested shape
// that may hold one -1 (inferred); throws ValueError when it does not fit.
Shape reshape_target(size_t size, Shape shape);

// `shape` without the given axes (increasing, in range), each of size 1;
// throws ValueError otherwise. squeeze's rule, at trace and at replay.
Shape squeezed_shape(const Shape& shape, const std::vector<int>& axes);

std::string shape_string(const Shape& s);  // "(2,3)"

}  // namespace lmx
