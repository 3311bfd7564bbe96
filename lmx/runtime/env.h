// Reading lmx's environment settings: one parser, one error message.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lmx {

// An on/off setting: unset or empty gives `fallback`; otherwise it must be
// 0 or 1 (anything else is an error naming `op` and the variable).
inline bool env_switch(const char* name, bool fallback, const char* op) {
  const char* env = std::getenv(name);
  std::string v = env ? env : "";
  if (v.empty()) return fallback;
  if (v == "0" || v == "1") return v == "1";
  throw std::invalid_argument(std::string("[") + op + "] " + name + " must be 0 or 1, got '" + v + "'.");
}

}  // namespace lmx
