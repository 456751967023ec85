#include "analytics/analytics.h"

#include <limits>

namespace ariadne::analytics {

Analytics::Analytics(AnalyticsOptions options, std::function<uint64_t()> wall_nanos)
    : options_(std::move(options)),
      wall_nanos_(std::move(wall_nanos)),
      series_(options_.series),
      span_metrics_(options_.span_metrics, &series_),
      traces_(options_.traces, &series_),
      clock_(options_.max_future_nanos) {}

Analytics::~Analytics() { Stop(); }

void Analytics::PushSpans(const model::SpanBatch& batch) {
  if (batch.empty()) return;
  const uint64_t wall = wall_nanos_();
  const uint64_t step_nanos = series_.step_nanos();
  std::vector<double> weights(batch.size());
  std::vector<int64_t> steps(batch.size());
  uint64_t now = 0;
  uint64_t late = 0, future = 0;
  {
    absl::MutexLock lock(&clock_mu_);
    for (uint32_t row = 0; row < batch.size(); ++row) {
      const uint64_t end = std::max(batch.end_unix_nano[row], batch.start_unix_nano[row]);
      if (!clock_.Observe(end, wall)) {
        steps[row] = SpanMetrics::kNotInSeries;
        ++future;
        continue;
      }
      const int64_t step = static_cast<int64_t>(end / step_nanos);
      if (step < first_open_step_) {
        steps[row] = SpanMetrics::kNotInSeries;
        ++late;
      } else {
        steps[row] = step;
      }
    }
    now = clock_.Now(wall);
    if (started_nanos_ == 0) {
      uint64_t first = UINT64_MAX;
      for (uint32_t row = 0; row < batch.size(); ++row) {
        if (steps[row] >= 0) first = std::min(first, static_cast<uint64_t>(steps[row]) * step_nanos);
      }
      if (first != UINT64_MAX) started_nanos_ = first;
    }
  }
  for (uint32_t row = 0; row < batch.size(); ++row) {
    weights[row] = batch.trace_state[row].empty() ? 1.0 : AdjustedCount(batch.trace_state[row]);
  }
  spans_ += batch.size();
  if (late > 0) late_spans_ += late;
  if (future > 0) future_spans_ += future;
  span_metrics_.Push(batch, weights, steps);
  traces_.Push(batch, weights, now);
}

void Analytics::Tick(bool all) {
  std::lock_guard<std::mutex> tick(tick_mu_);
  const uint64_t wall = wall_nanos_();
  const uint64_t step_nanos = series_.step_nanos();
  uint64_t now;
  {
    absl::MutexLock lock(&clock_mu_);
    now = clock_.Now(wall);
  }
  auto finished_before = [&](uint64_t delay) -> int64_t {
    if (all) return std::numeric_limits<int64_t>::max();
    return now > delay ? static_cast<int64_t>((now - delay) / step_nanos) : 0;
  };
  const int64_t span_steps = finished_before(options_.lateness_nanos);
  const int64_t clock_trace_steps =
      finished_before(options_.lateness_nanos + options_.traces.idle_nanos);
  // Raise the late boundary first, so no span lands in a step being written.
  {
    absl::MutexLock lock(&clock_mu_);
    if (!all) first_open_step_ = std::max(first_open_step_, span_steps);
  }
  // A trace counts in the step of its root's end, known once it completes:
  // steps a pending trace may still land in stay open, and a trace is late
  // only if its step was written by an earlier Tick.
  traces_.Complete(now, all ? std::numeric_limits<int64_t>::min() : trace_written_before_, all);
  const int64_t trace_steps = std::min(clock_trace_steps, traces_.MinPendingStep());
  trace_written_before_ = std::max(trace_written_before_, trace_steps);
  span_metrics_.Finish(span_steps);
  traces_.Finish(trace_steps);
  // Series can only go stale when a new step begins.
  const int64_t step = static_cast<int64_t>(now / step_nanos);
  if (step != last_drop_step_) {
    last_drop_step_ = step;
    series_.DropStale();
  }
}

void Analytics::Enqueue(std::shared_ptr<const model::SpanBatch> batch) {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    if (running_ && queue_.size() < max_queued_) {
      queue_.push_back(std::move(batch));
      if (queue_.size() == 1) thread_cv_.notify_one();
      return;
    }
    if (running_) inline_batches_.fetch_add(1, std::memory_order_relaxed);
  }
  PushSpans(*batch);
}

void Analytics::Start(std::chrono::milliseconds interval, size_t max_queued_batches) {
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  running_ = true;
  max_queued_ = max_queued_batches;
  thread_ = std::thread([this, interval] {
    auto next_tick = std::chrono::steady_clock::now() + interval;
    std::unique_lock<std::mutex> lock(thread_mu_);
    for (;;) {
      thread_cv_.wait_until(lock, next_tick, [this] { return stopping_ || !queue_.empty(); });
      while (!queue_.empty()) {
        std::shared_ptr<const model::SpanBatch> batch = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        PushSpans(*batch);
        batch.reset();
        lock.lock();
        if (std::chrono::steady_clock::now() >= next_tick) break;
      }
      if (stopping_ && queue_.empty()) break;
      if (std::chrono::steady_clock::now() >= next_tick) {
        lock.unlock();
        Tick();
        lock.lock();
        next_tick = std::chrono::steady_clock::now() + interval;
      }
    }
    running_ = false;
  });
}

void Analytics::Stop() {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t Analytics::SeriesStartNanos() const {
  uint64_t now, started;
  {
    absl::MutexLock lock(&clock_mu_);
    if (started_nanos_ == 0) return UINT64_MAX;  // no span yet
    now = clock_.Now(wall_nanos_());
    started = started_nanos_;
  }
  const uint64_t reach = now > series_.window_nanos() ? now - series_.window_nanos() : 0;
  return std::max(reach, started);
}

AnalyticsStats Analytics::stats() const {
  AnalyticsStats s;
  s.spans = spans_.load();
  s.late_spans = late_spans_.load();
  s.future_spans = future_spans_.load();
  absl::MutexLock lock(&clock_mu_);
  s.event_now_nanos = clock_.Now(wall_nanos_());
  return s;
}

std::string Analytics::MetricsText() const {
  std::string out;
  span_metrics_.AppendMetrics(&out);
  traces_.AppendMetrics(&out);
  const SpanMetricsStats sm = span_metrics_.stats();
  const TraceStats ts = traces_.stats();
  const SeriesStoreStats ss = series_.stats();
  {
    size_t queued;
    {
      std::lock_guard<std::mutex> lock(thread_mu_);
      queued = queue_.size();
    }
    AppendFamily(&out, "ariadne_analytics_queued_batches", "gauge",
                 "Stored batches waiting for analytics' thread.");
    AppendSample(&out, "ariadne_analytics_queued_batches", {}, static_cast<double>(queued));
    AppendFamily(&out, "ariadne_analytics_inline_batches_total", "counter",
                 "Batches analysed on the ingest thread because analytics' queue was full "
                 "(analytics is not keeping up and slows ingest down).");
    AppendSample(&out, "ariadne_analytics_inline_batches_total", {},
                 static_cast<double>(inline_batches_.load()));
  }
  AppendFamily(&out, "ariadne_analytics_spans_total", "counter", "Spans fed to analytics.");
  AppendSample(&out, "ariadne_analytics_spans_total", {}, static_cast<double>(spans_.load()));
  AppendFamily(&out, "ariadne_analytics_late_spans_total", "counter",
               "Spans that arrived after their step was finished: in the Prometheus counters, "
               "not in the series store.");
  AppendSample(&out, "ariadne_analytics_late_spans_total", {},
               static_cast<double>(late_spans_.load()));
  AppendFamily(&out, "ariadne_analytics_future_spans_total", "counter",
               "Spans ending implausibly far in the future (left out of the series).");
  AppendSample(&out, "ariadne_analytics_future_spans_total", {},
               static_cast<double>(future_spans_.load()));
  AppendFamily(&out, "ariadne_analytics_late_traces_total", "counter",
               "Traces completed after their step was finished.");
  AppendSample(&out, "ariadne_analytics_late_traces_total", {},
               static_cast<double>(ts.late_traces));
  AppendFamily(&out, "ariadne_analytics_span_metrics_series", "gauge",
               "Label combinations of traces_spanmetrics_*.");
  AppendSample(&out, "ariadne_analytics_span_metrics_series", {}, static_cast<double>(sm.series));
  AppendFamily(&out, "ariadne_analytics_span_metrics_overflow_spans_total", "counter",
               "Spans counted in the overflow series (span_metrics.max_series reached).");
  AppendSample(&out, "ariadne_analytics_span_metrics_overflow_spans_total", {},
               static_cast<double>(sm.overflow_spans));
  AppendFamily(&out, "ariadne_analytics_series", "gauge", "Series in the series store.");
  AppendSample(&out, "ariadne_analytics_series", {}, static_cast<double>(ss.series));
  AppendFamily(&out, "ariadne_analytics_series_memory_bytes", "gauge",
               "Memory of the series store's rings and keys.");
  AppendSample(&out, "ariadne_analytics_series_memory_bytes", {},
               static_cast<double>(ss.memory_bytes));
  AppendFamily(&out, "ariadne_analytics_series_refused_total", "counter",
               "Series values refused: over analytics.max_series, or older than the window.");
  AppendSample(&out, "ariadne_analytics_series_refused_total", {{"reason", "max_series"}},
               static_cast<double>(ss.refused_new_series));
  AppendSample(&out, "ariadne_analytics_series_refused_total", {{"reason", "too_old"}},
               static_cast<double>(ss.refused_old_points));
  AppendFamily(&out, "ariadne_analytics_memory_bytes", "gauge",
               "Memory of the processors' state (span metrics, pending traces, edges).");
  AppendSample(&out, "ariadne_analytics_memory_bytes", {},
               static_cast<double>(sm.memory_bytes + ts.memory_bytes));
  return out;
}

}  // namespace ariadne::analytics
