// The simplifying passes of compile: constants and repeated work merged,
// dead nodes dropped. Each rewrites the program in place.
#include <cstring>
#include <map>
#include <string>
#include <typeinfo>
#include <unordered_map>

#include "lmx/transforms/compile_program.h"

namespace lmx::compile_passes {

namespace {

// Points every use of value v at replacement[v].
void apply_replacements(Program& p, const std::vector<int>& replacement) {
  for (auto& n : p.nodes)
    for (int& v : n.inputs) v = replacement[v];
  for (int& v : p.outputs) v = replacement[v];
}

std::vector<int> identity_map(const Program& p) {
  std::vector<int> m(p.values.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<int>(i);
  return m;
}

// Small evaluated row-major constants are compared by their bytes.
constexpr size_t kMaxMergedConstantBytes = 1024;

bool mergeable(const array& c) {
  return c.is_available() && c.nbytes() <= kMaxMergedConstantBytes &&
         c.flags().row_contiguous && c.data_size() == c.size();
}

}  // namespace

std::vector<int> producers(const Program& p) {
  std::vector<int> producer(p.values.size(), -1);
  for (size_t i = 0; i < p.nodes.size(); ++i)
    for (int v : p.nodes[i].outputs) producer[v] = static_cast<int>(i);
  return producer;
}

void merge_constants(Program& p) {
  std::vector<int> replacement = identity_map(p);
  std::map<std::string, int> seen;  // dtype, shape and bytes -> first constant
  bool changed = false;
  for (size_t v = 0; v < p.values.size(); ++v) {
    const array& c = p.values[v].constant;
    if (!c.valid() || !mergeable(c)) continue;
    std::string key = dtype_name(c.dtype());
    for (auto d : c.shape()) key += "," + std::to_string(d);
    key += ":";
    key.append(static_cast<const char*>(c.raw_ptr()), c.nbytes());
    auto [it, inserted] = seen.emplace(std::move(key), static_cast<int>(v));
    if (!inserted) replacement[v] = it->second, changed = true;
  }
  if (changed) apply_replacements(p, replacement);
}

void merge_equivalent_nodes(Program& p) {
  std::vector<int> replacement = identity_map(p);
  // (primitive type, inputs) -> earlier nodes with them
  std::map<std::pair<std::string, std::vector<int>>, std::vector<size_t>> seen;
  std::vector<Program::Node> kept;
  for (auto& n : p.nodes) {
    for (int& v : n.inputs) v = replacement[v];
    auto key = std::make_pair(std::string(typeid(*n.primitive).name()), n.inputs);
    auto& candidates = seen[key];
    bool merged = false;
    for (size_t k : candidates) {
      const Program::Node& m = kept[k];
      if (m.outputs.size() != n.outputs.size() || !m.primitive->is_equivalent(*n.primitive)) continue;
      bool same = true;
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        const auto &a = p.values[m.outputs[o]], &b = p.values[n.outputs[o]];
        same &= a.shape == b.shape && a.dtype == b.dtype;
      }
      if (!same) continue;
      for (size_t o = 0; o < n.outputs.size(); ++o) replacement[n.outputs[o]] = m.outputs[o];
      merged = true;
      break;
    }
    if (merged) continue;
    candidates.push_back(kept.size());
    kept.push_back(std::move(n));
  }
  p.nodes = std::move(kept);
  for (int& v : p.outputs) v = replacement[v];
}

void remove_dead_code(Program& p) {
  std::vector<bool> live(p.values.size(), false);
  for (int v : p.outputs) live[v] = true;
  std::vector<bool> keep(p.nodes.size(), false);
  for (size_t i = p.nodes.size(); i-- > 0;) {
    for (int v : p.nodes[i].outputs) keep[i] = keep[i] || live[v];
    if (keep[i])
      for (int v : p.nodes[i].inputs) live[v] = true;
  }
  // Renumber: inputs keep their numbers, then the constants and node
  // outputs still in use, in their old order.
  std::vector<int> renumber(p.values.size(), -1);
  std::vector<Program::Value> values;
  auto take = [&](int v) {
    renumber[v] = static_cast<int>(values.size());
    values.push_back(std::move(p.values[v]));
  };
  for (int v = 0; v < p.num_inputs; ++v) take(v);
  std::vector<bool> node_output(p.values.size(), false);
  for (auto& n : p.nodes)
    for (int v : n.outputs) node_output[v] = true;
  for (size_t v = p.num_inputs; v < p.values.size(); ++v)
    if (live[v] && !node_output[v]) take(static_cast<int>(v));  // constants
  std::vector<Program::Node> nodes;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    if (!keep[i]) continue;
    for (int v : p.nodes[i].outputs) take(v);
    nodes.push_back(std::move(p.nodes[i]));
  }
  for (auto& n : nodes) {
    for (int& v : n.inputs) v = renumber[v];
    for (int& v : n.outputs) v = renumber[v];
  }
  for (int& v : p.outputs) v = renumber[v];
  p.values = std::move(values);
  p.nodes = std::move(nodes);
}

}  // namespace lmx::compile_passes
