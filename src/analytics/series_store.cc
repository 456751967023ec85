#include "analytics/series_store.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ariadne::analytics {

void SortLabels(Labels* labels) {
  std::stable_sort(labels->begin(), labels->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

SeriesStore::SeriesStore(SeriesOptions options)
    : options_(options),
      capacity_(std::max<size_t>(1, options.step_nanos == 0
                                        ? 1
                                        : options.window_nanos / options.step_nanos)) {}

std::string SeriesStore::Key(std::string_view name, const Labels& labels) {
  // 0xFF never occurs in UTF-8, so the key is unambiguous.
  std::string key(name);
  for (const auto& [k, v] : labels) {
    key.push_back('\xff');
    key.append(k);
    key.push_back('\xfe');
    key.append(v);
  }
  return key;
}

bool SeriesStore::Set(std::string_view name, const Labels& labels, uint64_t time_nanos,
                      double value) {
  const int64_t step = static_cast<int64_t>(time_nanos / options_.step_nanos);
  const int64_t cap = static_cast<int64_t>(capacity_);
  {
    absl::MutexLock lock(&mu_);
    std::string key = Key(name, labels);
    auto it = rings_.find(key);
    if (it == rings_.end()) {
      if (rings_.size() >= options_.max_series) {
        ++refused_new_series_;
        return false;
      }
      auto ring = std::make_unique<Ring>();
      ring->name = std::string(name);
      ring->labels = labels;
      ring->values = std::make_unique<float[]>(capacity_);
      std::fill_n(ring->values.get(), capacity_, std::numeric_limits<float>::quiet_NaN());
      it = rings_.emplace(std::move(key), std::move(ring)).first;
    }
    Ring& r = *it->second;
    if (r.newest >= 0 && step <= r.newest - cap) {
      ++refused_old_points_;
      return false;
    }
    if (step > r.newest) {
      // Clear the slots the ring moves over (at most all of them).
      const int64_t from = r.newest < 0 ? step : std::max(r.newest + 1, step - cap + 1);
      for (int64_t s = from; s < step; ++s) {
        r.values[static_cast<size_t>(s % cap)] = std::numeric_limits<float>::quiet_NaN();
      }
      r.newest = step;
    }
    r.values[static_cast<size_t>(step % cap)] = static_cast<float>(value);
    newest_step_ = std::max(newest_step_, step);
  }
  if (listener_) listener_(name, labels, static_cast<uint64_t>(step) * options_.step_nanos, value);
  return true;
}

bool SeriesStore::Matches(const Ring& ring, const Labels& matchers) const {
  for (const auto& [k, v] : matchers) {
    const std::string& name = k;  // (clang 14 cannot capture a structured binding)
    auto it = std::find_if(ring.labels.begin(), ring.labels.end(),
                           [&name](const auto& l) { return l.first == name; });
    if (v.empty()) {
      if (it != ring.labels.end()) return false;
    } else if (it == ring.labels.end() || it->second != v) {
      return false;
    }
  }
  return true;
}

std::vector<Series> SeriesStore::Query(std::string_view name, const Labels& matchers,
                                       uint64_t start_nanos, uint64_t end_nanos) const {
  std::vector<Series> out;
  if (end_nanos < start_nanos) return out;
  const int64_t cap = static_cast<int64_t>(capacity_);
  // Steps whose start lies in [start, end].
  const int64_t first = static_cast<int64_t>((start_nanos + options_.step_nanos - 1) /
                                             options_.step_nanos);
  const int64_t last = static_cast<int64_t>(end_nanos / options_.step_nanos);
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [key, ring] : rings_) {
    if (ring->name != name || ring->newest < 0 || !Matches(*ring, matchers)) continue;
    const int64_t lo = std::max(first, ring->newest - cap + 1);
    const int64_t hi = std::min(last, ring->newest);
    Series s;
    for (int64_t step = lo; step <= hi; ++step) {
      const float v = ring->values[static_cast<size_t>(step % cap)];
      if (std::isnan(v)) continue;
      s.points.push_back(Point{static_cast<uint64_t>(step) * options_.step_nanos, v});
    }
    if (s.points.empty()) continue;
    s.name = ring->name;
    s.labels = ring->labels;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const Series& a, const Series& b) { return a.labels < b.labels; });
  return out;
}

std::vector<std::string> SeriesStore::Names() const {
  std::vector<std::string> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [key, ring] : rings_) out.push_back(ring->name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> SeriesStore::LabelValues(std::string_view name,
                                                  std::string_view label) const {
  std::vector<std::string> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [key, ring] : rings_) {
      if (ring->name != name) continue;
      for (const auto& [k, v] : ring->labels) {
        if (k == label) out.push_back(v);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SeriesStore::DropStale() {
  absl::MutexLock lock(&mu_);
  const int64_t cap = static_cast<int64_t>(capacity_);
  absl::erase_if(rings_, [&](const auto& entry) {
    return entry.second->newest <= newest_step_ - cap;
  });
}

SeriesStoreStats SeriesStore::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  SeriesStoreStats s;
  s.series = rings_.size();
  s.refused_new_series = refused_new_series_;
  s.refused_old_points = refused_old_points_;
  size_t bytes = rings_.capacity() * (sizeof(std::string) + sizeof(void*) + 1);
  for (const auto& [key, ring] : rings_) {
    bytes += key.capacity() + sizeof(Ring) + ring->name.capacity() + capacity_ * sizeof(float);
    for (const auto& [k, v] : ring->labels) bytes += sizeof(k) * 2 + k.capacity() + v.capacity();
  }
  s.memory_bytes = bytes;
  return s;
}

}  // namespace ariadne::analytics
