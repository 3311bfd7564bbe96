#include "lmx/transforms/eval_profile.h"

#include "lmx/ops/utils.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

namespace lmx::detail {

namespace {

struct Entry {
  long long count = 0;
  double us = 0;
};

std::mutex& profile_mu() {
  static auto* m = new std::mutex();
  return *m;
}

std::map<std::string, Entry>& entries() {
  static auto* e = new std::map<std::string, Entry>();
  return *e;
}

void print_profile() {
  std::lock_guard lk(profile_mu());
  std::vector<std::pair<std::string, Entry>> rows(entries().begin(), entries().end());
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.us > b.second.us; });
  double total = 0;
  for (auto& [_, e] : rows) total += e.us;
  std::fprintf(stderr, "lmx eval profile (host time): %.1f ms in all\n%-48s %10s %12s %9s %6s\n", total / 1e3,
               "primitive", "calls", "total ms", "us/call", "share");
  for (auto& [name, e] : rows)
    std::fprintf(stderr, "%-48s %10lld %12.2f %9.2f %5.1f%%\n", name.c_str(), e.count, e.us / 1e3,
                 e.us / static_cast<double>(e.count), total > 0 ? 100.0 * e.us / total : 0.0);
}

}  // namespace

EvalProfile* EvalProfile::active() {
  static EvalProfile* p = [] {
    const char* v = std::getenv("LMX_EVAL_PROFILE");
    if (!v || !*v || *v == '0') return static_cast<EvalProfile*>(nullptr);
    std::atexit(print_profile);
    return new EvalProfile(std::string(v) == "shapes");
  }();
  return p;
}

std::string EvalProfile::key(const std::string& name, const std::vector<array>& inputs) const {
  if (!by_shape_) return name;
  std::string k = name;
  for (auto& in : inputs) k += " " + shape_string(in.shape());
  return k;
}

void EvalProfile::add(const std::string& what, std::chrono::steady_clock::duration spent) {
  double us = std::chrono::duration<double, std::micro>(spent).count();
  std::lock_guard lk(profile_mu());
  Entry& e = entries()[what];
  ++e.count;
  e.us += us;
}

}  // namespace lmx::detail
