// The simulated cluster as an autoscaler sees it: deployments with desired,
// existing and ready replicas, and pods with their CPU and memory. The scale
// API and /metrics (scale_api.h) read it; the engine implements it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace ariadne::sim {

struct DeploymentStatus {
  std::string name;              // the service name
  int32_t spec_replicas = 0;     // desired (last scale command or initial)
  int32_t status_replicas = 0;   // pods that exist and are not terminating
  int32_t ready_replicas = 0;    // pods past their start-up delay and not crashed
  double cpu_request_cores = 0;  // per pod
  double memory_limit_bytes = 0; // per pod
  int64_t generation = 1;        // +1 for each change of spec_replicas
};

struct PodStatus {
  std::string deployment;
  std::string pod;               // "cartservice-5d8f7c9b6d-x2k4p"
  bool ready = false;
  bool terminating = false;      // draining after a scale-down
  double cpu_seconds_total = 0;  // cumulative busy time of its workers
  double memory_working_set_bytes = 0;
  int32_t restarts = 0;
};

struct ClusterSnapshot {
  std::string k8s_namespace;
  double sim_seconds = 0;        // simulated time of the snapshot
  int64_t unix_millis = 0;       // its timestamp in the emitted spans' clock
  std::vector<DeploymentStatus> deployments;
  std::vector<PodStatus> pods;
};

// Thread-safe: called from HTTP threads while the simulation runs.
class ClusterControl {
 public:
  virtual ~ClusterControl() = default;
  virtual ClusterSnapshot Snapshot() const = 0;
  // Sets a deployment's desired replicas; applied by the simulation at its
  // next step. NotFound for an unknown deployment, InvalidArgument for < 0
  // or more than the simulator allows.
  virtual absl::Status SetReplicas(std::string_view deployment, int32_t replicas) = 0;
};

}  // namespace ariadne::sim
