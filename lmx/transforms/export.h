// Exporting traced functions to a file and importing them back, in another
// process: the simplified (and fused) program of each traced signature.
//
// File format, version 1 (all integers little-endian):
//   "LMXFN\0" u32 version, u32 number of traces, then per trace:
//   u8 shapeless, u32 positional inputs, u32 keyword names + (u32 length, bytes) each,
//   u32 inputs, u32 values + per value: u8 kind (0 input, 1 constant, 2 node output),
//     u8 dtype index, u32 ndim + i32 dims, and for a constant its row-major bytes,
//   u32 nodes + per node: u32 + input values, u32 + output values, primitive tag and parameters,
//   u32 outputs + values.
// A malformed, truncated or newer file raises std::invalid_argument naming it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lmx/transforms/compile.h"

namespace lmx {

struct ExportedTrace {
  std::shared_ptr<CompiledGraph> graph;
  int num_positional = 0;              // inputs before the keyword ones
  std::vector<std::string> keywords;   // names of the remaining inputs, in order
};

// Writes the traces to `path`. Throws std::invalid_argument naming a
// primitive that has no export rule.
void export_traces(const std::string& path, const std::vector<ExportedTrace>& traces);
// Reads them back; nodes run on the default device at the time of the call.
std::vector<ExportedTrace> import_traces(const std::string& path);

// The graph that computes `outputs`, in Graphviz dot syntax.
std::string graph_to_dot(const std::vector<array>& outputs);

}  // namespace lmx
