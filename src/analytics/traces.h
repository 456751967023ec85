// Whole-trace analytics: spans are gathered per trace until the trace has
// been idle for a while, then each completed trace yields
//   - its service-graph edges (a client span paired with the server span it
//     called, inside the trace, so sharding and sampling do not break pairs;
//     uninstrumented peers become virtual nodes from peer.service, db.name,
//     db.system; a root server span is called by the virtual node "user"),
//   - its critical path and each service's share of it and self time.
// Results are Prometheus counters/histograms under Grafana Tempo's
// service-graph names and per-step series in the SeriesStore. See
// docs/analytics.md.
//
// Threading: every method may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "analytics/red.h"
#include "analytics/series_store.h"
#include "model/span_batch.h"
#include "store/query.h"

namespace ariadne::analytics {

struct TraceOptions {
  uint64_t idle_nanos = 10'000'000'000ull;  // a trace is complete after this long without spans
  size_t max_pending_spans = 4'000'000;     // beyond: the oldest traces complete early
  size_t max_edges = 10'000;                // service-graph label combinations kept
  size_t max_services = 10'000;             // services with critical-path series
  // traces_service_graph_request_{server,client}_seconds buckets: Tempo's defaults.
  std::vector<double> buckets_seconds = {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8};
};

// How an edge's server was found (label connection_type).
enum class ConnectionType : uint8_t { kDirect = 0, kDatabase, kMessaging, kVirtual };
std::string_view ConnectionTypeName(ConnectionType t);  // "", "database", ...

struct TraceStats {
  size_t pending_traces = 0;
  size_t pending_spans = 0;
  uint64_t completed_traces = 0;
  uint64_t completed_early = 0;   // by max_pending_spans
  uint64_t unpaired_spans = 0;    // client spans with no server and no peer attribute, and
                                  // server spans whose parent is missing from the trace
  uint64_t dropped_edges = 0;     // edges over max_edges
  uint64_t late_traces = 0;       // completed after their step was finished
  size_t memory_bytes = 0;
};

class TraceAnalytics {
 public:
  TraceAnalytics(TraceOptions options, SeriesStore* store);

  // Adds the spans of `batch` (rows with weights[row] > 0) at event time `now`.
  void Push(const model::SpanBatch& batch, const std::vector<double>& weights, uint64_t now);

  // Completes the traces idle since before `now - idle` (every pending trace
  // if `all`), counting them in the steps of their roots' ends; a trace whose
  // step is before `first_open_step` (already written) only counts in the
  // Prometheus metrics.
  void Complete(uint64_t now, int64_t first_open_step, bool all = false);
  // The earliest step a pending trace can still count in (INT64_MAX if none
  // is pending): steps from it on must stay open.
  int64_t MinPendingStep() const;
  // Writes every open step < before_step into the series store:
  //   edge_calls_per_second, edge_error_ratio, edge_latency_seconds{quantile},
  //   edge_latency_mean_seconds {client, server, connection_type};
  //   critical_path_share, self_time_mean_seconds {service};
  //   trace_calls_per_second, trace_error_ratio, trace_latency_seconds{quantile},
  //   trace_latency_mean_seconds {}.
  void Finish(int64_t before_step);

  // Edges with their request counts in [start, end) event time, from the
  // series store (what /api/dependencies answers).
  std::vector<store::Dependency> Dependencies(uint64_t start_nanos, uint64_t end_nanos) const;

  // Every (client, server) edge seen so far. Safe to call from a series
  // store listener while this object writes series (its own small lock).
  std::vector<std::pair<std::string, std::string>> Edges() const;

  void AppendMetrics(std::string* out) const;
  TraceStats stats() const;

  // One span as kept while its trace is pending (strings interned).
  struct Span {
    uint64_t id = 0;      // the span id's 8 bytes as one number
    uint64_t parent = 0;  // 0: none
    uint64_t start = 0;
    uint64_t end = 0;
    uint32_t service = 0;  // interned
    uint32_t peer = 0;     // interned virtual peer name, 0: none
    float weight = 1;
    model::SpanKind kind = model::SpanKind::kUnspecified;
    bool error = false;
    ConnectionType peer_type = ConnectionType::kVirtual;
  };

 private:
  struct Pending {
    std::vector<Span> spans;
    uint64_t last = 0;                // event time of the last push
    uint64_t min_end = UINT64_MAX;    // earliest span end: the root ends no earlier
  };
  struct Edge {
    Labels labels;  // client, server, connection_type
    double requests = 0;
    double failed = 0;
    double server_sum = 0;
    double client_sum = 0;
    std::vector<double> server_buckets;
    std::vector<double> client_buckets;
    RedAccumulator red;  // server-side latency per step
  };
  struct ServiceSteps {
    int64_t step = 0;
    double critical_path_seconds = 0;
    double self_seconds = 0;
    double spans = 0;
  };
  struct Service {
    double critical_path_seconds = 0;
    double self_seconds = 0;
    std::vector<ServiceSteps> open;
  };
  struct TraceStep {
    int64_t step = 0;
    double duration_seconds = 0;
  };

  uint32_t Intern(std::string_view s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Analyze(std::vector<Span>& spans, int64_t first_open_step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddEdge(uint32_t client, uint32_t server, ConnectionType type, double server_seconds,
               double client_seconds, bool failed, double weight, int64_t step)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TraceOptions options_;
  SeriesStore* const store_;
  mutable absl::Mutex mu_;
  // Trace ids are random: half of one is as good a hash as all of it.
  struct TraceIdHash {
    size_t operator()(const model::TraceId& id) const;
  };
  absl::flat_hash_map<model::TraceId, Pending, TraceIdHash> pending_ ABSL_GUARDED_BY(mu_);
  // Traces in the order they were last pushed to: (trace, that push's time);
  // an entry is stale if the trace was pushed to again later.
  std::deque<std::pair<model::TraceId, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  size_t pending_spans_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> strings_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> string_ids_ ABSL_GUARDED_BY(mu_);
  // Keyed by client << 34 | server << 4 | connection type (interned ids < 2^30).
  absl::flat_hash_map<uint64_t, std::unique_ptr<Edge>> edges_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, Service> services_ ABSL_GUARDED_BY(mu_);
  RedAccumulator trace_red_ ABSL_GUARDED_BY(mu_);
  std::vector<TraceStep> trace_steps_ ABSL_GUARDED_BY(mu_);
  double traces_total_ ABSL_GUARDED_BY(mu_) = 0;
  double trace_seconds_total_ ABSL_GUARDED_BY(mu_) = 0;
  TraceStats stats_ ABSL_GUARDED_BY(mu_);
  // A copy of the edges' (client, server) names, under its own lock, taken
  // after mu_ when an edge is added.
  mutable absl::Mutex edge_names_mu_;
  std::vector<std::pair<std::string, std::string>> edge_names_ ABSL_GUARDED_BY(edge_names_mu_);
};

}  // namespace ariadne::analytics
