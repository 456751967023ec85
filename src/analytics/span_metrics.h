// Span metrics: calls, errors and latency per service, span name, span kind
// and status code (plus configured attribute dimensions), as Prometheus
// counters and histograms under Grafana Tempo's metrics-generator names
// (optionally also the OpenTelemetry Collector spanmetrics connector's), and
// as per-step series in the SeriesStore. See docs/analytics.md.
//
// Threading: Push, Finish and AppendMetrics may be called from any thread
// (one mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "analytics/red.h"
#include "analytics/series_store.h"
#include "model/span_batch.h"

namespace ariadne::analytics {

struct SpanMetricsOptions {
  // traces_spanmetrics_latency buckets (seconds): Tempo's defaults.
  std::vector<double> buckets_seconds = {0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128,
                                         0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384};
  // Also export traces_span_metrics_calls_total and
  // traces_span_metrics_duration_milliseconds (the Collector's names, which
  // Jaeger's Monitor tab queries) with these buckets (milliseconds).
  bool collector_names = false;
  std::vector<double> collector_buckets_ms = {2,   4,   6,    8,    10,   50,   100,   200,
                                              400, 800, 1000, 1400, 2000, 5000, 10000, 15000};
  // Extra labels: span (then resource) attribute keys; label name with
  // characters other than [a-zA-Z0-9_] replaced by '_'.
  std::vector<std::string> dimensions;
  // Label combinations kept; the rest go to one overflow series labelled
  // otel_metric_overflow="true" (and are not in the series store).
  size_t max_series = 20000;
};

struct SpanMetricsStats {
  size_t series = 0;         // label combinations exported
  size_t memory_bytes = 0;   // their counters, histograms and open steps
  uint64_t overflow_spans = 0;
};

class SpanMetrics {
 public:
  SpanMetrics(SpanMetricsOptions options, SeriesStore* store);

  // Counts the spans of `batch` whose `step[row]` is not kExcluded;
  // weights[row] is the span's adjusted count. A step of kNotInSeries
  // counts in the Prometheus metrics but not in the series store (a late
  // span whose step is finished).
  static constexpr int64_t kExcluded = -2;
  static constexpr int64_t kNotInSeries = -1;
  void Push(const model::SpanBatch& batch, const std::vector<double>& weights,
            const std::vector<int64_t>& steps);

  // Writes every open step < before_step into the series store:
  //   calls_per_second, error_ratio, latency_seconds{quantile},
  //   latency_mean_seconds
  // labelled {service, span_kind} and {service, span_kind, operation}.
  void Finish(int64_t before_step);

  void AppendMetrics(std::string* out) const;
  SpanMetricsStats stats() const;

 private:
  // Per-step RED of one series. Spans are added to the per-operation
  // accumulators only; a service-level one merges its `parts` when a step
  // is finished (one sketch update per span, not two).
  struct SeriesAcc {
    Labels labels;
    RedAccumulator red;
    std::vector<SeriesAcc*> parts;  // service level: its operations
    bool linked = false;            // operation level: in its service's parts
  };
  struct Entry {
    Labels labels;  // service, span_name, span_kind, status_code, dimensions (sorted)
    double calls = 0;
    double seconds_sum = 0;
    std::vector<double> buckets;  // per bucket, not cumulative; last is +Inf
    std::vector<double> collector_buckets;
    // The identity again (the map's keys move on rehash), for the per-batch memo.
    std::string service_name;
    std::string span_name;
    uint8_t kind = 0;
    uint8_t status = 0;
    SeriesAcc* service = nullptr;    // {service, span_kind}
    SeriesAcc* operation = nullptr;  // {service, span_kind, operation}
  };
  // An entry's identity; looked up by KeyView without building strings.
  struct Key {
    std::string service;
    std::string name;
    uint8_t kind = 0;
    uint8_t status = 0;
    std::vector<std::string> dims;
  };
  struct KeyView {
    std::string_view service;
    std::string_view name;
    uint8_t kind = 0;
    uint8_t status = 0;
    const std::vector<std::string>* dims = nullptr;  // null: no dimensions
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const KeyView& k) const;
    size_t operator()(const Key& k) const;
  };
  struct KeyEq {
    using is_transparent = void;
    static bool Equal(const Key& a, const KeyView& b);
    bool operator()(const Key& a, const Key& b) const;
    bool operator()(const Key& a, const KeyView& b) const { return Equal(a, b); }
    bool operator()(const KeyView& a, const Key& b) const { return Equal(b, a); }
  };
  Entry* Lookup(const model::SpanBatch& batch, uint32_t row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SeriesAcc* Acc(std::string key, Labels labels) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SpanMetricsOptions options_;
  SeriesStore* const store_;
  std::vector<std::string> dimension_labels_;
  mutable absl::Mutex mu_;
  std::vector<std::string> dims_ ABSL_GUARDED_BY(mu_);  // scratch
  absl::flat_hash_map<Key, std::unique_ptr<Entry>, KeyHash, KeyEq> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<SeriesAcc>> accs_ ABSL_GUARDED_BY(mu_);
  Entry overflow_ ABSL_GUARDED_BY(mu_);
  uint64_t overflow_spans_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ariadne::analytics
