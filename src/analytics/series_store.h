// SeriesStore: the time series analytics derives, at a fixed step, in
// memory rings covering a window (docs/analytics.md).
//
// A series is a name plus labels (sorted by label name); its values are one
// float per step, the step that starts at t = k * step. Each series keeps a
// ring of window / step slots, so memory is bounded by the number of series
// times the window, and the number of series by `max_series`. A value older
// than the ring's reach (relative to the series' newest step) is refused.
// Detection, the UI and the APIs read from here; processors write finished
// steps into it, and a Prometheus client writes resource series.
//
// Threading: every method may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace ariadne::analytics {

// Label name -> value, sorted by name, names unique.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Sorts `labels` by name (stable for equal names) so it can be used as a key.
void SortLabels(Labels* labels);

struct SeriesOptions {
  uint64_t step_nanos = 10'000'000'000ull;          // 10 s
  uint64_t window_nanos = 6 * 3600'000'000'000ull;  // 6 h
  size_t max_series = 200'000;
};

struct Point {
  uint64_t time_nanos = 0;  // start of the step
  double value = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

struct Series {
  std::string name;
  Labels labels;
  std::vector<Point> points;  // ascending time
};

struct SeriesStoreStats {
  size_t series = 0;
  size_t memory_bytes = 0;  // rings, keys and index
  uint64_t refused_new_series = 0;  // Set()s refused by max_series
  uint64_t refused_old_points = 0;  // Set()s older than the ring's reach
};

class SeriesStore {
 public:
  explicit SeriesStore(SeriesOptions options = {});
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  uint64_t step_nanos() const { return options_.step_nanos; }
  uint64_t window_nanos() const { return options_.window_nanos; }
  // Number of steps a ring holds.
  size_t capacity() const { return capacity_; }

  // Sets the value of series (name, labels) for the step that contains
  // `time_nanos`, creating the series if needed. `labels` must be sorted
  // (SortLabels). Returns false, and counts why, if the series limit is
  // reached or the step is out of the ring's reach. Steps between the
  // previous newest step and this one are left empty (no value).
  bool Set(std::string_view name, const Labels& labels, uint64_t time_nanos, double value);

  // Series named `name` whose labels match every matcher, with their values
  // in [start_nanos, end_nanos]. A matcher matches a label with the same name
  // and value; a matcher with an empty value matches series WITHOUT that
  // label. Series with no value in the range are left out. Sorted by labels.
  std::vector<Series> Query(std::string_view name, const Labels& matchers, uint64_t start_nanos,
                            uint64_t end_nanos) const;

  // Distinct series names, sorted.
  std::vector<std::string> Names() const;
  // Distinct values of label `label` among series named `name`, sorted.
  std::vector<std::string> LabelValues(std::string_view name, std::string_view label) const;

  // Drops series whose newest value is older than the window, measured from
  // the newest step of any series (called periodically).
  void DropStale();

  // Called with every value Set() accepts, after it is stored, outside the
  // store's lock (detection subscribes here). Set before values arrive.
  using Listener = std::function<void(std::string_view name, const Labels& labels,
                                      uint64_t time_nanos, double value)>;
  void SetListener(Listener listener) { listener_ = std::move(listener); }

  SeriesStoreStats stats() const;

 private:
  struct Ring {
    std::string name;
    Labels labels;
    int64_t newest = -1;         // newest step index with a slot written, -1: none
    std::unique_ptr<float[]> values;  // capacity_ slots, NaN = empty
  };
  static std::string Key(std::string_view name, const Labels& labels);
  bool Matches(const Ring& ring, const Labels& matchers) const;

  const SeriesOptions options_;
  const size_t capacity_;
  Listener listener_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Ring>> rings_ ABSL_GUARDED_BY(mu_);
  int64_t newest_step_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t refused_new_series_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_old_points_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ariadne::analytics
