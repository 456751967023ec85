// Building blocks the processors share: a latency sketch for quantiles, the
// per-step rate/errors/duration accumulator, the event clock, and
// Prometheus text helpers.
//
// Threading: none of these lock; their owners do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/series_store.h"
#include "common/prom_text.h"

namespace ariadne::analytics {

// Counts in logarithmic buckets (relative accuracy about 1%) so a quantile
// of a step's latencies costs memory proportional to the spread of the
// values, not their number. Values are seconds; below 1 µs counts as 0.
class QuantileSketch {
 public:
  void Add(double seconds, double weight) { AddIndex(Index(seconds), weight); }
  // The bucket of a value (kZero below 1 µs), to add one value to several
  // sketches for the price of one logarithm.
  static constexpr int32_t kZero = INT32_MIN;
  static int32_t Index(double seconds);
  void AddIndex(int32_t index, double weight);
  // The q-quantile (0 <= q <= 1) within about 1%; NaN if empty.
  double Quantile(double q) const;
  // Adds every value of `other`.
  void Merge(const QuantileSketch& other);
  double count() const { return total_; }
  size_t MemoryBytes() const { return counts_.capacity() * sizeof(float); }

 private:
  int32_t offset_ = 0;          // bucket index of counts_[0]
  std::vector<float> counts_;   // dense between the lowest and highest bucket seen
  double zero_ = 0;             // weight of values below 1 µs
  double total_ = 0;
};

// The quantiles every latency series is kept at (label `quantile`).
inline constexpr double kQuantiles[] = {0.5, 0.75, 0.9, 0.95, 0.99};
inline constexpr std::string_view kQuantileLabels[] = {"0.5", "0.75", "0.9", "0.95", "0.99"};

// One step's requests: weighted count, errors, latency.
struct RedStep {
  int64_t step = 0;
  double calls = 0;
  double errors = 0;
  double seconds_sum = 0;
  QuantileSketch latency;
};

// Accumulates RED per step for one key while steps are open, and writes a
// finished step into the series store as
//   <prefix>calls_per_second, <prefix>error_ratio,
//   <prefix>latency_seconds{quantile=...}, <prefix>latency_mean_seconds
// under the key's labels.
class RedAccumulator {
 public:
  void Add(int64_t step, double seconds, bool error, double weight) {
    Add(step, seconds, QuantileSketch::Index(seconds), error, weight);
  }
  // With the value's QuantileSketch::Index already known.
  void Add(int64_t step, double seconds, int32_t index, bool error, double weight);
  // Writes and forgets every open step < `before_step`.
  void Finish(int64_t before_step, SeriesStore* store, std::string_view prefix,
              const Labels& labels);
  // Adds the open steps < before_step into `out` (one RedStep per step).
  void MergeInto(int64_t before_step, std::vector<RedStep>* out) const;
  bool empty() const { return open_.empty(); }
  size_t MemoryBytes() const;

 private:
  std::vector<RedStep> open_;  // few: the steps still accepting spans
};

// Writes one finished step of `red` into `store` (see RedAccumulator).
void WriteRedStep(const RedStep& red, SeriesStore* store, std::string_view prefix,
                  const Labels& labels);

// Event time for analytics: the newest span end seen, and between spans it
// runs on with the wall clock, so steps finish when traffic stops and a
// simulator that runs faster than real time is followed at its own pace.
// Before the first span it stands at 0 (so a simulation of the past that
// starts now is followed, not declared late). A span ending more than
// `max_future` past the wall clock is not believed.
class EventClock {
 public:
  explicit EventClock(uint64_t max_future_nanos) : max_future_(max_future_nanos) {}
  // False (and nothing changes) if `end_nanos` is too far in the future.
  bool Observe(uint64_t end_nanos, uint64_t wall_nanos);
  uint64_t Now(uint64_t wall_nanos) const;

 private:
  const uint64_t max_future_;
  uint64_t newest_ = 0;       // newest span end seen
  uint64_t newest_wall_ = 0;  // wall time when it was seen
};

// Adjusted count of a span from its W3C tracestate's OpenTelemetry entry:
// `ot=th:<hex>` (rejection threshold, probability 1 - th/2^56) or the older
// `ot=p:<n>` (probability 2^-n). 1 when absent or malformed.
double AdjustedCount(std::string_view trace_state);

// Prometheus exposition helpers: a number as Prometheus reads it exactly
// (shortest round-trip form, "+Inf", "NaN"), and a label value escaped.
using ::ariadne::AppendLabelValue;  // common/prom_text.h
using ::ariadne::AppendNumber;
// "name{a="x",b="y"} value\n" (labels may be empty).
void AppendSample(std::string* out, std::string_view name, const Labels& labels, double value);
void AppendFamily(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help);
// A histogram's _bucket (cumulative, with le), _sum and _count samples;
// `counts` has one entry per bound plus the +Inf bucket, not cumulative.
void AppendHistogram(std::string* out, std::string_view name, const Labels& labels,
                     const std::vector<double>& bounds, const std::vector<double>& counts,
                     double sum, double count);
// The bucket of `v`: the first bound >= v (Prometheus buckets are
// upper-inclusive), bounds.size() for +Inf.
size_t BucketIndex(const std::vector<double>& bounds, double v);
// A Prometheus label name from an attribute key ("http.method" -> "http_method").
std::string LabelName(std::string_view attribute_key);

}  // namespace ariadne::analytics
