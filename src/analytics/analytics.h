// Analytics: every processor fed every admitted span batch (PushSpans), the
// series store they write, and the clock that decides when a step is done.
//
//   PushSpans ─┬─ SpanMetrics     (RED per service/operation; Tempo's names)
//              └─ TraceAnalytics  (trace assembly → service graph, critical path)
//   Tick (every second): completes idle traces, writes finished steps into
//   the SeriesStore, drops stale series.
// In the server, batches reach PushSpans through Enqueue: analytics' own
// thread runs both, so the threads answering clients only queue a pointer.
//
// A step [k·step, (k+1)·step) of span-derived series is finished once the
// event clock (red.h) passes its end plus `lateness`; trace-derived series
// wait the trace idle timeout on top, and for pending traces that may still land
// in them. Spans for a finished step still count
// in the Prometheus counters but not in the series (ariadne_analytics_late_spans_total).
//
// Threading: PushSpans may be called from any number of threads; Tick from
// one; the rest from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "analytics/red.h"
#include "analytics/series_store.h"
#include "analytics/span_metrics.h"
#include "analytics/traces.h"
#include "model/span_batch.h"
#include "store/query.h"

namespace ariadne::analytics {

struct AnalyticsOptions {
  SeriesOptions series;
  SpanMetricsOptions span_metrics;
  TraceOptions traces;
  uint64_t lateness_nanos = 15'000'000'000ull;  // how long a step waits for late spans
  // Spans ending further than this past the wall clock do not move the
  // event clock and are left out of the series (clocks gone wrong).
  uint64_t max_future_nanos = 24 * 3600'000'000'000ull;
};

struct AnalyticsStats {
  uint64_t spans = 0;
  uint64_t late_spans = 0;    // counted in Prometheus, not in the series
  uint64_t future_spans = 0;  // beyond max_future
  uint64_t event_now_nanos = 0;
};

class Analytics {
 public:
  // `wall_nanos`: Unix nanoseconds now (tests pass a fake clock).
  Analytics(AnalyticsOptions options, std::function<uint64_t()> wall_nanos);
  ~Analytics();
  Analytics(const Analytics&) = delete;
  Analytics& operator=(const Analytics&) = delete;

  // The PushSpans contract: called with every batch once it is stored; CPU
  // only, never blocks on I/O.
  void PushSpans(const model::SpanBatch& batch);
  // PushSpans on analytics' own thread (once Start()ed), so the threads
  // that answer clients only queue the batch. While `max_queued_batches`
  // wait, the caller runs PushSpans itself: analytics never drops a batch,
  // and when it cannot keep up it slows ingest down rather than growing a
  // queue. Before Start() (and after Stop()) it runs PushSpans inline.
  void Enqueue(std::shared_ptr<const model::SpanBatch> batch);

  // Completes idle traces and finishes due steps (Start() calls it every
  // `interval`). With `all`, completes every pending trace and finishes every
  // open step (tests, shutdown).
  void Tick(bool all = false);
  // Starts analytics' thread: queued batches, and Tick every `interval`.
  // Stop() processes what is queued, then joins it.
  void Start(std::chrono::milliseconds interval = std::chrono::milliseconds(1000),
             size_t max_queued_batches = 256);
  void Stop();

  SeriesStore& series() { return series_; }
  const SeriesStore& series() const { return series_; }
  // Service-graph edges in [start, end) from the series (for /api/dependencies).
  std::vector<store::Dependency> Dependencies(uint64_t start_nanos, uint64_t end_nanos) const {
    return traces_.Dependencies(start_nanos, end_nanos);
  }
  // Every service-graph edge seen so far, (client, server); callable from a
  // series store listener.
  std::vector<std::pair<std::string, std::string>> Edges() const { return traces_.Edges(); }
  // Oldest time the series cover: the start of the ring's reach, or the
  // step of the first span analytics saw, whichever is later (UINT64_MAX
  // before the first span).
  uint64_t SeriesStartNanos() const;

  // The Prometheus exposition of every processor and of analytics' own health.
  std::string MetricsText() const;
  AnalyticsStats stats() const;
  SpanMetricsStats span_metrics_stats() const { return span_metrics_.stats(); }
  TraceStats trace_stats() const { return traces_.stats(); }

 private:
  const AnalyticsOptions options_;
  const std::function<uint64_t()> wall_nanos_;
  SeriesStore series_;
  SpanMetrics span_metrics_;
  TraceAnalytics traces_;

  mutable absl::Mutex clock_mu_;
  EventClock clock_ ABSL_GUARDED_BY(clock_mu_);
  // Steps before this are finished (span-derived series).
  int64_t first_open_step_ ABSL_GUARDED_BY(clock_mu_) = -1;
  uint64_t started_nanos_ ABSL_GUARDED_BY(clock_mu_) = 0;  // see SeriesStartNanos
  std::atomic<uint64_t> spans_{0}, late_spans_{0}, future_spans_{0};

  std::mutex tick_mu_;  // one Tick at a time
  // Trace-derived steps before this are written (guarded by tick_mu_).
  int64_t trace_written_before_ = std::numeric_limits<int64_t>::min();
  int64_t last_drop_step_ = -1;  // guarded by tick_mu_
  mutable std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool running_ = false;   // guarded by thread_mu_
  bool stopping_ = false;  // guarded by thread_mu_
  size_t max_queued_ = 0;  // guarded by thread_mu_
  std::deque<std::shared_ptr<const model::SpanBatch>> queue_;  // guarded by thread_mu_
  std::thread thread_;
  std::atomic<uint64_t> inline_batches_{0};  // run by the caller: the queue was full
};

}  // namespace ariadne::analytics
