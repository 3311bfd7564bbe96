#include "lmx/distributed/group.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "lmx/distributed/ring.h"

namespace lmx::distributed {

namespace {

// Seconds a process waits for the others to connect (LMX_DISTRIBUTED_TIMEOUT).
double connect_timeout() {
  const char* env = std::getenv("LMX_DISTRIBUTED_TIMEOUT");
  double t = env ? std::atof(env) : 0.0;
  return t > 0 ? t : 60.0;
}

// MLX_HOSTFILE: a JSON list with one entry per rank, either "host:port" or a
// list of such addresses (mlx.launch's ring hostfile).
std::vector<std::vector<std::string>> read_hostfile(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("[distributed] Cannot open the hostfile '" + path + "' (MLX_HOSTFILE).");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw std::runtime_error("[distributed] The hostfile '" + path + "' is not valid JSON: " + e.what());
  }
  auto bad = [&] {
    return std::runtime_error("[distributed] The hostfile '" + path +
                              "' must be a JSON list with one entry per rank: \"host:port\" or a list of them.");
  };
  if (!j.is_array() || j.empty()) throw bad();
  std::vector<std::vector<std::string>> hosts;
  for (auto& entry : j) {
    std::vector<std::string> addresses;
    if (entry.is_string()) {
      addresses.push_back(entry.get<std::string>());
    } else if (entry.is_array() && !entry.empty()) {
      for (auto& a : entry) {
        if (!a.is_string()) throw bad();
        addresses.push_back(a.get<std::string>());
      }
    } else {
      throw bad();
    }
    hosts.push_back(std::move(addresses));
  }
  return hosts;
}

std::mutex init_mu;
std::optional<Group>& global() {
  static std::optional<Group> g;
  return g;
}

}  // namespace

Group Group::split(int, int) const {
  if (!comm_) throw std::invalid_argument("[distributed] Cannot split a group of one process.");
  throw std::invalid_argument("[distributed] The " + comm_->backend() + " backend cannot split groups.");
}

bool is_available(const std::string& backend) { return backend == "any" || backend == "ring"; }

Group init(bool strict, const std::string& backend) {
  if (backend != "any" && backend != "ring" && backend != "mpi" && backend != "nccl" && backend != "jaccl")
    throw std::invalid_argument("[distributed] Unknown backend '" + backend +
                                "'; expected any, ring, mpi, nccl or jaccl.");
  std::lock_guard lk(init_mu);
  if (global()) return *global();
  auto unavailable = [&](const std::string& why) {
    if (strict) throw std::runtime_error("[distributed] Couldn't initialize any backend: " + why);
    return Group();
  };
  if (!is_available(backend)) return unavailable("lmx has no " + backend + " backend (it has 'ring').");
  const char* hostfile = std::getenv("MLX_HOSTFILE");
  const char* rank_env = std::getenv("MLX_RANK");
  if (!hostfile || !rank_env)
    return unavailable("MLX_HOSTFILE and MLX_RANK are not set (launch with `python -m lmx.launch`).");
  auto hosts = read_hostfile(hostfile);
  char* end = nullptr;
  long rank = std::strtol(rank_env, &end, 10);
  if (*rank_env == '\0' || *end != '\0' || rank < 0 || rank >= static_cast<long>(hosts.size()))
    throw std::runtime_error("[distributed] MLX_RANK='" + std::string(rank_env) + "' is not a rank of the " +
                             std::to_string(hosts.size()) + " in '" + hostfile + "'.");
  Group g = hosts.size() == 1 ? Group() : Group(connect_ring(static_cast<int>(rank), hosts, connect_timeout()));
  global() = g;
  return g;
}

}  // namespace lmx::distributed
