// What a simulation run produced: end-to-end latency, errors, SLO
// violations, replica-seconds and CPU per service, and a per-minute timeline
// (the raw material of autoscaling comparisons), as text and JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/sink.h"

namespace ariadne::sim {

struct LatencyStats {
  int64_t count = 0;
  int64_t errors = 0;
  int64_t slo_violations = 0;  // over the latency objective, or failed
  double mean_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

struct MinuteStats {
  double start_seconds = 0;
  LatencyStats latency;
  std::vector<int> ready_replicas;  // per service, at the end of the minute
  std::vector<double> cpu_cores;    // per service, mean over the minute
};

struct ServiceSummary {
  std::string name;
  double replica_seconds = 0;        // pods existing (starting, ready, draining, down)
  double ready_replica_seconds = 0;
  double cpu_seconds = 0;
  int64_t calls = 0;                 // invocations that reached the service
  int64_t errors = 0;                // invocations that failed there (own or downstream)
  int64_t refused = 0;               // no ready replica or a full queue
  int max_replicas = 0;
  int final_replicas = 0;
};

struct RequestTypeSummary {
  std::string name;
  LatencyStats latency;
};

struct Summary {
  std::string topology;
  uint64_t seed = 0;
  double sim_seconds = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;  // of the whole process
  int64_t spans = 0;
  double slo_ms = 0;
  LatencyStats latency;    // every request that finished
  int64_t unfinished = 0;  // arrived but still in flight when the run ended
  double slo_violations_per_minute = 0;
  std::vector<RequestTypeSummary> request_types;
  std::vector<ServiceSummary> services;
  std::vector<MinuteStats> minutes;
  int faults = 0;
  SinkStats sink;

  std::string ToJson() const;  // one JSON object
  std::string ToText() const;  // a few human-readable lines and a table
};

// Quantile (0..1) of unsorted samples, by nearest rank; sorts `v`.
double Quantile(std::vector<float>* v, double q);

}  // namespace ariadne::sim
