// Detection: a SeriesDetector for every series analytics writes that is
// worth watching, fed by the series store as each step is written, with the
// latest verdicts and the anomalies (verdicts at or above the threshold)
// kept for /metrics (ariadne_anomaly_score) and GET /api/v1/anomalies.
//
// Watched (docs/detection.md): service-level calls_per_second, error_ratio,
// latency_seconds{quantile="0.95"}, critical_path_share,
// self_time_mean_seconds, edge_error_ratio, edge_latency_seconds{quantile=
// "0.95"}, cpu_cores and memory_bytes. Per-operation series are not watched
// (their number grows with the application; root-cause ranking reads them
// from the store when an incident needs them).
//
// Threading: OnValue may be called from any thread (one mutex); the rest too.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "analytics/series_store.h"
#include "detect/detector.h"

namespace ariadne::detect {

struct DetectionOptions {
  DetectorOptions detector;
  // A verdict at or above this is an anomaly. The default is the score of a
  // point one in a million of a calm (normal) series' points reaches (4.9
  // deviations; about one false point per series in four months of 10 s
  // steps). NAB's standard profile, which charges a false alarm 0.11 of a
  // detection, chose 0.61 (docs/evaluation.md); an on-call engineer pays
  // more for one.
  double threshold = 0.78;
  size_t max_series = 50'000;    // detectors kept; beyond, new series are not watched
  size_t max_anomalies = 10'000; // anomalies remembered (oldest dropped)
};

struct Anomaly {
  std::string series;             // series name
  analytics::Labels labels;
  uint64_t time_nanos = 0;        // the step
  double value = 0;
  Verdict verdict;
};

// Whether a series is one Detection watches.
bool Watched(std::string_view name, const analytics::Labels& labels);

class Detection {
 public:
  explicit Detection(DetectionOptions options = {});

  // The SeriesStore listener.
  void OnValue(std::string_view name, const analytics::Labels& labels, uint64_t time_nanos,
               double value);

  // Anomalies with time in [start, end], oldest first.
  std::vector<Anomaly> Anomalies(uint64_t start_nanos, uint64_t end_nanos) const;
  // ariadne_anomaly_score{series=..., <labels>} for every watched series,
  // plus ariadne_anomalies_total.
  std::string MetricsText() const;
  size_t watched() const;

  // Called (outside the lock) with every anomaly, and with the newest step
  // time seen whenever it moves on (incidents hang off these).
  // `on_ongoing` gets the points of a series already reported as anomalous
  // that are still outside the normal range it had before the anomaly.
  void SetListeners(std::function<void(const Anomaly&)> on_anomaly,
                    std::function<void(uint64_t)> on_time,
                    std::function<void(const Anomaly&)> on_ongoing = {}) {
    on_anomaly_ = std::move(on_anomaly);
    on_time_ = std::move(on_time);
    on_ongoing_ = std::move(on_ongoing);
  }

 private:
  struct Watch {
    std::string name;
    analytics::Labels labels;
    SeriesDetector detector;
    Verdict last;
    uint64_t last_time = 0;
    // After an anomaly: the normal range before it; while values stay
    // outside it the series is still anomalous (the detector itself adapts
    // to a new level within its window).
    bool alarmed = false;
    double normal_low = 0;
    double normal_high = 0;
  };
  const DetectionOptions options_;
  std::function<void(const Anomaly&)> on_anomaly_;
  std::function<void(uint64_t)> on_time_;
  std::function<void(const Anomaly&)> on_ongoing_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
  std::deque<Anomaly> anomalies_ ABSL_GUARDED_BY(mu_);
  uint64_t anomalies_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unwatched_ ABSL_GUARDED_BY(mu_) = 0;  // over max_series
  uint64_t newest_time_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ariadne::detect
