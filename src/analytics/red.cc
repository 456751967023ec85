#include "analytics/red.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace ariadne::analytics {

namespace {

constexpr double kGamma = 1.02;  // bucket i holds (gamma^(i-1), gamma^i]
const double kLogGamma = std::log(kGamma);
constexpr double kMinSeconds = 1e-6;

}  // namespace

int32_t QuantileSketch::Index(double seconds) {
  if (!(seconds >= kMinSeconds)) return kZero;  // also NaN
  return static_cast<int32_t>(std::ceil(std::log(seconds) / kLogGamma));
}

void QuantileSketch::AddIndex(int32_t index, double weight) {
  if (!(weight > 0)) return;
  total_ += weight;
  if (index == kZero) {
    zero_ += weight;
    return;
  }
  if (counts_.empty()) {
    offset_ = index;
    counts_.push_back(0);
  } else if (index < offset_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - index), 0.0f);
    offset_ = index;
  } else if (index >= offset_ + static_cast<int32_t>(counts_.size())) {
    counts_.resize(static_cast<size_t>(index - offset_ + 1), 0.0f);
  }
  counts_[static_cast<size_t>(index - offset_)] += static_cast<float>(weight);
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  total_ += other.total_;
  zero_ += other.zero_;
  if (other.counts_.empty()) return;
  const int32_t lo = other.offset_;
  const int32_t hi = other.offset_ + static_cast<int32_t>(other.counts_.size()) - 1;
  if (counts_.empty()) {
    offset_ = lo;
    counts_.assign(other.counts_.begin(), other.counts_.end());
    return;
  }
  if (lo < offset_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - lo), 0.0f);
    offset_ = lo;
  }
  if (hi >= offset_ + static_cast<int32_t>(counts_.size())) {
    counts_.resize(static_cast<size_t>(hi - offset_ + 1), 0.0f);
  }
  for (size_t i = 0; i < other.counts_.size(); ++i) {
    counts_[static_cast<size_t>(lo - offset_) + i] += other.counts_[i];
  }
}

double QuantileSketch::Quantile(double q) const {
  if (!(total_ > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double rank = std::clamp(q, 0.0, 1.0) * total_;
  double seen = zero_;
  if (seen >= rank && zero_ > 0) return 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The middle of the bucket in relative terms.
      const double upper = std::pow(kGamma, offset_ + static_cast<int32_t>(i));
      return 2 * upper / (1 + kGamma);
    }
  }
  return counts_.empty() ? 0 : 2 * std::pow(kGamma, offset_ + counts_.size() - 1) / (1 + kGamma);
}

void RedAccumulator::Add(int64_t step, double seconds, int32_t index, bool error,
                         double weight) {
  RedStep* s = nullptr;
  for (RedStep& open : open_) {
    if (open.step == step) {
      s = &open;
      break;
    }
  }
  if (s == nullptr) {
    s = &open_.emplace_back();
    s->step = step;
  }
  s->calls += weight;
  if (error) s->errors += weight;
  s->seconds_sum += seconds * weight;
  s->latency.AddIndex(index, weight);
}

void WriteRedStep(const RedStep& red, SeriesStore* store, std::string_view prefix,
                  const Labels& labels) {
  const uint64_t t = static_cast<uint64_t>(red.step) * store->step_nanos();
  const double step_seconds = static_cast<double>(store->step_nanos()) / 1e9;
  std::string name(prefix);
  const size_t base = name.size();
  auto named = [&](std::string_view suffix) -> const std::string& {
    name.resize(base);
    name.append(suffix);
    return name;
  };
  store->Set(named("calls_per_second"), labels, t, red.calls / step_seconds);
  if (!(red.calls > 0)) return;
  store->Set(named("error_ratio"), labels, t, red.errors / red.calls);
  store->Set(named("latency_mean_seconds"), labels, t, red.seconds_sum / red.calls);
  Labels with_quantile = labels;
  with_quantile.emplace_back("quantile", "");
  SortLabels(&with_quantile);
  auto slot = std::find_if(with_quantile.begin(), with_quantile.end(),
                           [](const auto& l) { return l.first == "quantile"; });
  for (size_t i = 0; i < std::size(kQuantiles); ++i) {
    slot->second = std::string(kQuantileLabels[i]);
    store->Set(named("latency_seconds"), with_quantile, t, red.latency.Quantile(kQuantiles[i]));
  }
}

void RedAccumulator::Finish(int64_t before_step, SeriesStore* store, std::string_view prefix,
                            const Labels& labels) {
  if (open_.empty()) return;
  std::sort(open_.begin(), open_.end(),
            [](const RedStep& a, const RedStep& b) { return a.step < b.step; });
  size_t done = 0;
  while (done < open_.size() && open_[done].step < before_step) {
    WriteRedStep(open_[done], store, prefix, labels);
    ++done;
  }
  open_.erase(open_.begin(), open_.begin() + static_cast<ptrdiff_t>(done));
}

void RedAccumulator::MergeInto(int64_t before_step, std::vector<RedStep>* out) const {
  for (const RedStep& s : open_) {
    if (s.step >= before_step) continue;
    auto it = std::find_if(out->begin(), out->end(),
                           [&](const RedStep& o) { return o.step == s.step; });
    if (it == out->end()) {
      out->emplace_back();
      it = out->end() - 1;
      it->step = s.step;
    }
    it->calls += s.calls;
    it->errors += s.errors;
    it->seconds_sum += s.seconds_sum;
    it->latency.Merge(s.latency);
  }
}

size_t RedAccumulator::MemoryBytes() const {
  size_t bytes = open_.capacity() * sizeof(RedStep);
  for (const RedStep& s : open_) bytes += s.latency.MemoryBytes();
  return bytes;
}

bool EventClock::Observe(uint64_t end_nanos, uint64_t wall_nanos) {
  if (end_nanos > wall_nanos + max_future_) return false;
  if (end_nanos > Now(wall_nanos)) {
    newest_ = end_nanos;
    newest_wall_ = wall_nanos;
  }
  return true;
}

uint64_t EventClock::Now(uint64_t wall_nanos) const {
  if (newest_ == 0) return 0;  // no span yet: no time has passed
  return newest_ + (wall_nanos > newest_wall_ ? wall_nanos - newest_wall_ : 0);
}

double AdjustedCount(std::string_view ts) {
  // Find the "ot" list member: members are separated by ',', OWS allowed.
  size_t pos = 0;
  while (pos < ts.size()) {
    size_t end = ts.find(',', pos);
    if (end == std::string_view::npos) end = ts.size();
    std::string_view member = ts.substr(pos, end - pos);
    while (!member.empty() && (member.front() == ' ' || member.front() == '\t')) {
      member.remove_prefix(1);
    }
    pos = end + 1;
    if (!member.starts_with("ot=")) continue;
    member.remove_prefix(3);
    // Sub-keys separated by ';', each "key:value".
    size_t p = 0;
    while (p <= member.size()) {
      size_t e = member.find(';', p);
      if (e == std::string_view::npos) e = member.size();
      std::string_view kv = member.substr(p, e - p);
      p = e + 1;
      if (kv.starts_with("th:")) {
        std::string_view hex = kv.substr(3);
        if (hex.empty() || hex.size() > 14) return 1;
        uint64_t t = 0;
        auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), t, 16);
        if (ec != std::errc() || ptr != hex.data() + hex.size()) return 1;
        t <<= 4 * (14 - hex.size());  // trailing zeros are omitted
        const double reject = static_cast<double>(t) / 72057594037927936.0;  // 2^56
        return reject < 1 ? 1 / (1 - reject) : 1;
      }
      if (kv.starts_with("p:")) {
        std::string_view n = kv.substr(2);
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
        if (ec != std::errc() || ptr != n.data() + n.size() || v > 62) return 1;
        return std::ldexp(1.0, static_cast<int>(v));
      }
      if (e == member.size()) break;
    }
    return 1;
  }
  return 1;
}

void AppendSample(std::string* out, std::string_view name, const Labels& labels, double value) {
  out->append(name);
  if (!labels.empty()) {
    out->push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out->push_back(',');
      first = false;
      out->append(k).append("=\"");
      AppendLabelValue(out, v);
      out->push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
  AppendNumber(out, value);
  out->push_back('\n');
}

void AppendFamily(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out->append(name).append(" ").append(type).append("\n");
}

void AppendHistogram(std::string* out, std::string_view name, const Labels& labels,
                     const std::vector<double>& bounds, const std::vector<double>& counts,
                     double sum, double count) {
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  const std::string bucket = std::string(name) + "_bucket";
  double cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts[i];
    with_le.back().second.clear();
    if (i < bounds.size()) {
      AppendNumber(&with_le.back().second, bounds[i]);
    } else {
      with_le.back().second = "+Inf";
    }
    AppendSample(out, bucket, with_le, cumulative);
  }
  AppendSample(out, std::string(name) + "_sum", labels, sum);
  AppendSample(out, std::string(name) + "_count", labels, count);
}

size_t BucketIndex(const std::vector<double>& bounds, double v) {
  // Prometheus buckets are upper-inclusive: the first bound >= v.
  return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
}

std::string LabelName(std::string_view key) {
  std::string out;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  return out;
}

}  // namespace ariadne::analytics
