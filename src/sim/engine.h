// The discrete-event simulation of a microservice application.
//
// Requests arrive (Poisson, following a rate profile), pick a request type
// by the mix and walk its call graph: each call crosses the network, waits in
// the FIFO queue of one ready replica of the callee (round-robin), holds a
// worker for its service time, then makes its own calls step by step
// (sequentially or in parallel groups), and answers. Spans are recorded as a
// real instrumented service would send them: a SERVER span per invocation of
// an instrumented service (from arrival at the replica to the answer, so
// queueing shows) and a CLIENT span per attempt of each call. Replicas start,
// become ready after a start-up delay, drain when removed, crash and restart;
// faults change service times, errors, CPU and the network within their
// windows. The run is deterministic for a seed: events at the same instant
// are processed in the order they were scheduled.
//
// Threading: Run() on one thread. Snapshot() and SetReplicas() (the
// ClusterControl face for the scale API) from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sim/cluster.h"
#include "sim/faults.h"
#include "sim/profile.h"
#include "sim/sink.h"
#include "sim/summary.h"
#include "sim/topology.h"

namespace ariadne::sim {

struct SimOptions {
  uint64_t seed = 1;
  Nanos duration = 600 * kSecond;
  RateProfile profile = RateProfile::Constant(100);
  // Pacing: 0 = as fast as possible; otherwise simulated seconds per wall
  // second (1 = real time).
  double speed = 1;
  int64_t epoch_unix_nano = 0;     // wall-clock time of simulated time 0
  std::vector<Fault> faults;
  Nanos slo = 500 * kMillisecond;  // end-to-end latency objective
  int batch_spans = 2048;          // spans per export request
  Nanos flush_interval = kSecond;  // paced runs: export at least this often (wall)
  int max_replicas = 1000;         // per service, for scale commands
  bool fault_attributes = false;   // label affected spans with sim.fault.id
  int32_t scope_version = 0;       // unused; reserved
};

struct Progress {
  Nanos sim_time = 0;
  Nanos duration = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t spans = 0;
};

class Engine : public ClusterControl {
 public:
  // `sink` may be null (no spans are encoded: summary only).
  Engine(const Topology& topology, SimOptions options, SpanSink* sink);
  ~Engine() override;

  // Runs to the end of the duration (or until *stop), then returns the
  // summary. `progress` is called about once per wall second.
  Summary Run(const std::atomic<bool>* stop = nullptr,
              std::function<void(const Progress&)> progress = nullptr);

  ClusterSnapshot Snapshot() const override;
  absl::Status SetReplicas(std::string_view deployment, int32_t replicas) override;

  // Called on the simulation thread once per simulated `interval`, before
  // the events of that instant; for in-process controllers and tests.
  void SetTicker(Nanos interval, std::function<void(Engine&, Nanos now)> ticker);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace ariadne::sim
