#include "detect/detection.h"

#include <algorithm>
#include <optional>

#include "analytics/red.h"

namespace ariadne::detect {

namespace {

std::string_view LabelValue(const analytics::Labels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return {};
}

bool Has(const analytics::Labels& labels, std::string_view name) {
  return std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.first == name; });
}

std::string Key(std::string_view name, const analytics::Labels& labels) {
  std::string key(name);
  for (const auto& [k, v] : labels) {
    key.push_back('\xff');
    key.append(k);
    key.push_back('\xfe');
    key.append(v);
  }
  return key;
}

}  // namespace

bool Watched(std::string_view name, const analytics::Labels& labels) {
  if (name == "calls_per_second" || name == "error_ratio") return !Has(labels, "operation");
  if (name == "latency_seconds") {
    return !Has(labels, "operation") && LabelValue(labels, "quantile") == "0.95";
  }
  if (name == "critical_path_share" || name == "self_time_mean_seconds" || name == "cpu_cores" ||
      name == "memory_bytes" || name == "edge_error_ratio") {
    return true;
  }
  if (name == "edge_latency_seconds") return LabelValue(labels, "quantile") == "0.95";
  return false;
}

Detection::Detection(DetectionOptions options) : options_(std::move(options)) {}

void Detection::OnValue(std::string_view name, const analytics::Labels& labels,
                        uint64_t time_nanos, double value) {
  if (!Watched(name, labels)) return;
  std::string key = Key(name, labels);
  std::optional<Anomaly> anomaly;
  std::optional<Anomaly> ongoing;
  bool time_moved = false;
  {
    absl::MutexLock lock(&mu_);
    if (time_nanos > newest_time_) {
      newest_time_ = time_nanos;
      time_moved = true;
    }
    auto it = watches_.find(key);
    if (it == watches_.end()) {
      if (watches_.size() >= options_.max_series) {
        ++unwatched_;
        return;
      }
      auto w = std::make_unique<Watch>();
      w->name = std::string(name);
      w->labels = labels;
      w->detector = SeriesDetector(options_.detector);
      it = watches_.emplace(std::move(key), std::move(w)).first;
    }
    Watch& w = *it->second;
    // A step written again (a re-read resource range) or out of order is not new.
    if (w.detector.points() > 0 && time_nanos <= w.last_time) return;
    w.last_time = time_nanos;
    w.last = w.detector.Update(static_cast<int64_t>(time_nanos / 1'000'000'000ull), value);
    if (w.last.score >= options_.threshold) {
      if (!w.alarmed) {
        // The verdict's range is the one before this point was learnt from.
        w.alarmed = true;
        w.normal_low = w.last.expected_low;
        w.normal_high = w.last.expected_high;
      }
      ++anomalies_total_;
      anomalies_.push_back(Anomaly{w.name, w.labels, time_nanos, value, w.last});
      while (anomalies_.size() > options_.max_anomalies) anomalies_.pop_front();
      anomaly = anomalies_.back();
    } else if (w.alarmed) {
      if (value < w.normal_low || value > w.normal_high) {
        if (on_ongoing_) ongoing = Anomaly{w.name, w.labels, time_nanos, value, w.last};
      } else {
        w.alarmed = false;  // back to normal
      }
    }
  }
  if (anomaly && on_anomaly_) on_anomaly_(*anomaly);
  if (ongoing) on_ongoing_(*ongoing);
  if (time_moved && on_time_) on_time_(time_nanos);
}

std::vector<Anomaly> Detection::Anomalies(uint64_t start_nanos, uint64_t end_nanos) const {
  absl::MutexLock lock(&mu_);
  std::vector<Anomaly> out;
  for (const Anomaly& a : anomalies_) {
    if (a.time_nanos >= start_nanos && a.time_nanos <= end_nanos) out.push_back(a);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Anomaly& a, const Anomaly& b) { return a.time_nanos < b.time_nanos; });
  return out;
}

size_t Detection::watched() const {
  absl::MutexLock lock(&mu_);
  return watches_.size();
}

std::string Detection::MetricsText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  analytics::AppendFamily(&out, "ariadne_anomaly_score", "gauge",
                          "The detector's latest score of each watched series (0-1; an anomaly "
                          "at or above the detection threshold).");
  for (const auto& [key, w] : watches_) {
    analytics::Labels labels = w->labels;
    labels.emplace_back("series", w->name);
    analytics::SortLabels(&labels);
    analytics::AppendSample(&out, "ariadne_anomaly_score", labels, w->last.score);
  }
  analytics::AppendFamily(&out, "ariadne_anomaly_threshold", "gauge",
                          "Score at or above which a verdict is an anomaly.");
  analytics::AppendSample(&out, "ariadne_anomaly_threshold", {}, options_.threshold);
  analytics::AppendFamily(&out, "ariadne_anomalies_total", "counter",
                          "Verdicts at or above the threshold.");
  analytics::AppendSample(&out, "ariadne_anomalies_total", {},
                          static_cast<double>(anomalies_total_));
  analytics::AppendFamily(&out, "ariadne_detection_series", "gauge", "Series watched.");
  analytics::AppendSample(&out, "ariadne_detection_series", {},
                          static_cast<double>(watches_.size()));
  analytics::AppendFamily(&out, "ariadne_detection_unwatched_total", "counter",
                          "New series not watched because detection.max_series was reached.");
  analytics::AppendSample(&out, "ariadne_detection_unwatched_total", {},
                          static_cast<double>(unwatched_));
  return out;
}

}  // namespace ariadne::detect
