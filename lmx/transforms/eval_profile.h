// LMX_EVAL_PROFILE=1: the host time evaluation spends per primitive (its
// kernel launches included, the GPU's own running time not), summed by
// primitive name and printed to stderr at exit. It shows where a step made
// of many small nodes, such as an LLM decode step, spends its time.
// LMX_EVAL_PROFILE=shapes keys each row by the node's input shapes too, so
// the one slow matmul among many stands out.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lmx/array.h"

namespace lmx::detail {

class EvalProfile {
 public:
  // The profile when LMX_EVAL_PROFILE is set, else null (checked once).
  static EvalProfile* active();
  // The row a node's time goes to: its primitive's name, with the input
  // shapes under LMX_EVAL_PROFILE=shapes.
  std::string key(const std::string& name, const std::vector<array>& inputs) const;
  void add(const std::string& what, std::chrono::steady_clock::duration spent);

 private:
  explicit EvalProfile(bool by_shape) : by_shape_(by_shape) {}
  bool by_shape_;
};

// Adds the time from construction to destruction under `what`, when profiling.
class EvalTimer {
 public:
  // `what` must outlive the timer (a string literal).
  explicit EvalTimer(const char* what) : profile_(EvalProfile::active()), label_(what) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  EvalTimer(EvalProfile* p, std::string what) : profile_(p), label_(nullptr), name_(std::move(what)) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~EvalTimer() {
    if (profile_) profile_->add(label_ ? std::string(label_) : name_, std::chrono::steady_clock::now() - start_);
  }
  EvalTimer(const EvalTimer&) = delete;
  EvalTimer& operator=(const EvalTimer&) = delete;

 private:
  EvalProfile* profile_;
  const char* label_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace lmx::detail
