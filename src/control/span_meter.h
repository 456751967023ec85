// SpanMeter: what the controller measures from spans, per service and per
// control interval — the only view of the application it has.
//
// For each SERVER span (one invocation of an instrumented service): its
// service (the resource's service.name), its duration and its self time:
// the part of the span not covered by its children. The simulated services,
// like most asynchronous servers, do their own work first and then make
// their calls, so self time = duration - (last child end - first child
// start): the time queued for a worker plus the service time, without the
// time spent waiting for callees. A caller that merely waits on a slow
// callee therefore shows no more self time; the callee does.
//
// Children are CLIENT spans whose parent is the server span; they end (and
// are exported) before their parent, so when a SERVER span arrives its
// children's window is complete. The windows of parents not seen yet are
// kept in a map bounded by `max_pending` (the oldest half is dropped when it
// is full: a parent lost with a crashed replica never arrives).
//
// Per interval it keeps counts and sums, and a bounded reservoir of self
// times per service for the tail quantile: memory does not grow with the
// number of spans. Root SERVER spans (no parent) count requests.
//
// Threading: not thread-safe; PushSpans and TakeInterval from one thread
// (the simulation's, in the evaluation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "model/span_batch.h"

namespace ariadne::control {

struct ServiceObservation {
  std::string service;
  int64_t spans = 0;         // SERVER spans that ended in the interval
  double rate = 0;           // spans / interval seconds (calls/s)
  double mean_self_s = 0;    // mean self time (queueing + service)
  double tail_self_s = 0;    // its `tail_quantile` (nearest rank over the reservoir)
  double self_cv2 = 1;       // squared coefficient of variation of the self time
  double mean_duration_s = 0;
  int64_t errors = 0;        // spans with status ERROR
};

struct IntervalObservation {
  double seconds = 0;        // length of the interval
  int64_t requests = 0;      // root SERVER spans
  std::vector<ServiceObservation> services;  // services with spans, sorted by name
  // Since the meter was created: SERVER spans per root span, an upper bound
  // of the server visits on a request's critical path.
  double visits_per_request = 0;
};

class SpanMeter {
 public:
  explicit SpanMeter(double tail_quantile = 0.95, size_t reservoir = 2048,
                     size_t max_pending = 1 << 20);

  // Adds a decoded batch.
  void PushSpans(const model::SpanBatch& batch);

  // What was pushed since the previous call, as an interval of `seconds`,
  // and starts the next interval.
  IntervalObservation TakeInterval(double seconds);

  size_t PendingForTest() const { return pending_.size(); }

 private:
  struct Window {
    uint64_t first_start = 0;
    uint64_t last_end = 0;
  };
  struct Acc {
    int64_t spans = 0;
    int64_t errors = 0;
    int64_t seen = 0;  // for reservoir sampling
    double sum_self = 0;
    double sum_self2 = 0;
    double sum_duration = 0;
    std::vector<float> reservoir;
  };
  uint64_t NextRandom();

  double tail_quantile_;
  size_t reservoir_;
  size_t max_pending_;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  absl::flat_hash_map<uint64_t, Window> pending_;  // parent span id -> children's window
  absl::node_hash_map<std::string, Acc> acc_;  // nodes: pointers stay valid
  int64_t requests_ = 0;
  int64_t total_server_spans_ = 0;
  int64_t total_requests_ = 0;
};

}  // namespace ariadne::control
