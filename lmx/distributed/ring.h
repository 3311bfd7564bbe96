// The "ring" backend: TCP connections between every pair of processes (so
// send and recv reach any rank), with ring algorithms for the collectives:
// each process talks only to its neighbours, and every link carries about
// 2 (n - 1) / n of the data of an all_reduce.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lmx/distributed/group.h"

namespace lmx::distributed {

// Connects process `rank` to the others: hosts[r] holds rank r's "host:port"
// addresses (the first is used), where r listens. Waits up to
// `timeout_seconds` for every peer; throws std::runtime_error otherwise.
std::shared_ptr<Communicator> connect_ring(int rank, const std::vector<std::vector<std::string>>& hosts,
                                           double timeout_seconds);

}  // namespace lmx::distributed
