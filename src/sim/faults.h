// Labeled faults: what goes wrong, where, and when (see docs/sim.md).
//
// Each fault is applied by the engine exactly within [start, start+duration)
// of simulated time and written as one line of ground truth JSON.
//
// Threading: immutable after parsing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/topology.h"

namespace ariadne::sim {

struct Fault {
  enum class Type {
    kLatency,        // `latency` added to the service time of service[/operation]
    kSlowdown,       // service time of service[/operation] multiplied by `factor`
    kErrors,         // service[/operation] fails with probability `rate`
    kCpuSaturation,  // service's rate divided by `factor`; its CPU usage pinned at its workers
    kCrash,          // `replicas` replicas of service crash and stay down for the duration
    kLeak,           // service time of service grows by `rate` per second of replica uptime;
                     // memory grows by `leak_bytes_per_second`; at the memory limit the
                     // replica restarts (and the growth starts again from zero)
    kNetworkDelay,   // `latency` added to each direction of caller -> callee calls
  };
  std::string id;          // from the YAML, or "f1", "f2", ... in order
  Type type = Type::kLatency;
  int service = -1;        // all but kNetworkDelay
  int operation = -1;      // kLatency, kSlowdown, kErrors: -1 = every operation
  int caller = -1;         // kNetworkDelay
  int callee = -1;         // kNetworkDelay
  Nanos start = 0;
  Nanos duration = 0;
  Nanos latency = 0;       // kLatency, kNetworkDelay
  double factor = 1;       // kSlowdown, kCpuSaturation (> 1)
  double rate = 0;         // kErrors: probability in (0, 1]; kLeak: growth per second
  int replicas = 1;        // kCrash
  double leak_bytes_per_second = 0;  // kLeak

  Nanos end() const { return start + duration; }
};

std::string_view FaultTypeName(Fault::Type type);  // "latency", "cpu_saturation", ...

// Parses a faults YAML document:
//   faults:
//     - {type: latency, service: cartservice, operation: GetCart, start: 10m,
//        duration: 5m, latency: 200ms}
// Errors name the entry and key; unknown services/operations are errors.
absl::StatusOr<std::vector<Fault>> ParseFaults(std::string_view yaml, const Topology& topology);

// One JSON object (no newline) of ground truth for `fault`:
// {"id":..,"type":..,"service":..,"operation":..,"caller":..,"callee":..,
//  "start":"RFC 3339","end":"RFC 3339","start_unix_nano":..,"end_unix_nano":..,
//  "params":{...}}; absent targets are omitted. `epoch_unix_nano` is the wall
// time of simulated time 0.
std::string FaultTruthJson(const Fault& fault, const Topology& topology, int64_t epoch_unix_nano);

}  // namespace ariadne::sim
