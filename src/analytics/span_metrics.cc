#include "analytics/span_metrics.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "absl/hash/hash.h"
#include "common/strings.h"
#include "model/value_format.h"
#include "store/query.h"

namespace ariadne::analytics {

namespace {

// The value of attribute `key` on the span, else on its resource; "" if absent.
std::string AttributeValue(const model::SpanBatch& b, uint32_t row, std::string_view key) {
  const model::Range ranges[] = {b.span_attributes[row],
                                 b.resources[b.scopes[b.scope[row]].resource].attributes};
  for (const model::Range& r : ranges) {
    for (uint32_t i = r.first; i < r.first + r.count; ++i) {
      if (b.attributes[i].key == key) return model::ValueToString(b, b.attributes[i].value);
    }
  }
  return "";
}

}  // namespace

SpanMetrics::SpanMetrics(SpanMetricsOptions options, SeriesStore* store)
    : options_(std::move(options)), store_(store) {
  for (const std::string& d : options_.dimensions) dimension_labels_.push_back(LabelName(d));
  overflow_.labels = {{"otel_metric_overflow", "true"}};
  overflow_.buckets.assign(options_.buckets_seconds.size() + 1, 0);
  overflow_.collector_buckets.assign(options_.collector_buckets_ms.size() + 1, 0);
}

SpanMetrics::SeriesAcc* SpanMetrics::Acc(std::string key, Labels labels) {
  auto it = accs_.find(key);
  if (it == accs_.end()) {
    auto acc = std::make_unique<SeriesAcc>();
    SortLabels(&labels);
    acc->labels = std::move(labels);
    it = accs_.emplace(std::move(key), std::move(acc)).first;
  }
  return it->second.get();
}

size_t SpanMetrics::KeyHash::operator()(const KeyView& k) const {
  size_t h = absl::Hash<std::tuple<absl::string_view, absl::string_view, uint8_t, uint8_t>>{}(
      std::make_tuple(AbslView(k.service), AbslView(k.name), k.kind, k.status));
  if (k.dims != nullptr) {
    for (const std::string& d : *k.dims) {
      h = absl::Hash<std::pair<size_t, absl::string_view>>{}(std::make_pair(h, AbslView(d)));
    }
  }
  return h;
}

size_t SpanMetrics::KeyHash::operator()(const Key& k) const {
  return (*this)(KeyView{k.service, k.name, k.kind, k.status, k.dims.empty() ? nullptr : &k.dims});
}

bool SpanMetrics::KeyEq::Equal(const Key& a, const KeyView& b) {
  if (a.kind != b.kind || a.status != b.status || a.name != b.name || a.service != b.service) {
    return false;
  }
  if (b.dims == nullptr) return a.dims.empty();
  return a.dims == *b.dims;
}

bool SpanMetrics::KeyEq::operator()(const Key& a, const Key& b) const {
  return a.kind == b.kind && a.status == b.status && a.name == b.name && a.service == b.service &&
         a.dims == b.dims;
}

SpanMetrics::Entry* SpanMetrics::Lookup(const model::SpanBatch& b, uint32_t row) {
  KeyView view;
  view.service = store::ServiceOf(b, row);
  view.name = b.name[row];
  view.kind = static_cast<uint8_t>(b.kind[row]);
  view.status = static_cast<uint8_t>(b.status_code[row]);
  if (!options_.dimensions.empty()) {
    dims_.clear();
    for (const std::string& d : options_.dimensions) dims_.push_back(AttributeValue(b, row, d));
    view.dims = &dims_;
  }
  auto it = entries_.find(view);
  if (it != entries_.end()) return it->second.get();
  if (entries_.size() >= options_.max_series) return nullptr;
  const std::string_view kind = model::SpanKindName(b.kind[row]);
  const std::string_view status = model::StatusCodeName(b.status_code[row]);
  const std::string service(view.service);
  auto e = std::make_unique<Entry>();
  e->labels = {{"service", service},
               {"span_name", std::string(view.name)},
               {"span_kind", std::string(kind)},
               {"status_code", std::string(status)}};
  for (size_t i = 0; i < dims_.size() && view.dims != nullptr; ++i) {
    if (!dims_[i].empty()) e->labels.emplace_back(dimension_labels_[i], dims_[i]);
  }
  SortLabels(&e->labels);
  e->service_name = service;
  e->span_name = std::string(view.name);
  e->kind = view.kind;
  e->status = view.status;
  e->buckets.assign(options_.buckets_seconds.size() + 1, 0);
  if (options_.collector_names) {
    e->collector_buckets.assign(options_.collector_buckets_ms.size() + 1, 0);
  }
  std::string service_key = service + '\x1f' + std::string(kind);
  e->service = Acc(service_key, {{"service", service}, {"span_kind", std::string(kind)}});
  e->operation = Acc(service_key + '\x1f' + std::string(view.name),
                     {{"service", service},
                      {"span_kind", std::string(kind)},
                      {"operation", std::string(view.name)}});
  if (!e->operation->linked) {
    e->operation->linked = true;
    e->service->parts.push_back(e->operation);
  }
  Key key{service, std::string(view.name), view.kind, view.status,
          view.dims != nullptr ? dims_ : std::vector<std::string>{}};
  return entries_.emplace(std::move(key), std::move(e)).first->second.get();
}

void SpanMetrics::Push(const model::SpanBatch& b, const std::vector<double>& weights,
                       const std::vector<int64_t>& steps) {
  // A batch repeats a few (service, name, kind, status) many times: a small
  // direct-mapped memo with a cheap hash saves most full lookups (which
  // hash both strings). Only without dimensions, whose values vary per span.
  constexpr size_t kMemo = 64;
  std::array<Entry*, kMemo> memo{};
  const bool use_memo = options_.dimensions.empty();
  absl::MutexLock lock(&mu_);
  for (uint32_t row = 0; row < b.size(); ++row) {
    if (steps[row] == kExcluded) continue;
    const double w = weights[row];
    const double seconds = static_cast<double>(b.duration_nano(row)) / 1e9;
    Entry* e = nullptr;
    size_t slot = 0;
    if (use_memo) {
      const std::string_view name = b.name[row];
      const uint32_t resource = b.scopes[b.scope[row]].resource;
      uint64_t h = resource * 0x9e3779b97f4a7c15ull ^ name.size() ^
                   (static_cast<uint64_t>(b.kind[row]) << 8) ^
                   (static_cast<uint64_t>(b.status_code[row]) << 12);
      if (!name.empty()) {
        h ^= static_cast<uint64_t>(static_cast<uint8_t>(name.front())) << 16;
        h ^= static_cast<uint64_t>(static_cast<uint8_t>(name.back())) << 24;
        h ^= static_cast<uint64_t>(static_cast<uint8_t>(name[name.size() / 2])) << 32;
      }
      slot = (h * 0xff51afd7ed558ccdull) >> 58;  // 6 bits: kMemo slots
      Entry* m = memo[slot];
      if (m != nullptr && m->kind == static_cast<uint8_t>(b.kind[row]) &&
          m->status == static_cast<uint8_t>(b.status_code[row]) && m->span_name == name &&
          m->service_name == store::ServiceOf(b, row)) {
        e = m;
      }
    }
    if (e == nullptr) {
      e = Lookup(b, row);
      if (use_memo && e != nullptr) memo[slot] = e;
    }
    if (e == nullptr) {
      e = &overflow_;
      ++overflow_spans_;
    }
    e->calls += w;
    e->seconds_sum += seconds * w;
    e->buckets[BucketIndex(options_.buckets_seconds, seconds)] += w;
    if (options_.collector_names) {
      e->collector_buckets[BucketIndex(options_.collector_buckets_ms, seconds * 1000)] += w;
    }
    if (steps[row] >= 0 && e->service != nullptr) {
      const bool error = b.status_code[row] == model::StatusCode::kError;
      const int32_t index = QuantileSketch::Index(seconds);
      e->operation->red.Add(steps[row], seconds, index, error, w);
    }
  }
}

void SpanMetrics::Finish(int64_t before_step) {
  absl::MutexLock lock(&mu_);
  // In key order, so that the store's listeners (detection, incidents) see
  // a step's values in the same order in every run.
  std::vector<std::pair<const std::string*, SeriesAcc*>> ordered;
  ordered.reserve(accs_.size());
  for (auto& [key, acc] : accs_) ordered.emplace_back(&key, acc.get());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::vector<RedStep> merged;
  for (auto& [key, acc] : ordered) {
    if (acc->parts.empty()) continue;
    merged.clear();
    for (const SeriesAcc* part : acc->parts) part->red.MergeInto(before_step, &merged);
    std::sort(merged.begin(), merged.end(),
              [](const RedStep& a, const RedStep& b) { return a.step < b.step; });
    for (const RedStep& step : merged) WriteRedStep(step, store_, "", acc->labels);
  }
  for (auto& [key, acc] : ordered) {
    acc->red.Finish(before_step, store_, "", acc->labels);
  }
}

void SpanMetrics::AppendMetrics(std::string* out) const {
  absl::MutexLock lock(&mu_);
  std::vector<const Entry*> entries;
  entries.reserve(entries_.size() + 1);
  for (const auto& [key, e] : entries_) entries.push_back(e.get());
  if (overflow_.calls > 0) entries.push_back(&overflow_);
  AppendFamily(out, "traces_spanmetrics_calls_total", "counter",
               "Spans counted (adjusted for sampling), by service, span name, kind and status.");
  for (const Entry* e : entries) AppendSample(out, "traces_spanmetrics_calls_total", e->labels, e->calls);
  AppendFamily(out, "traces_spanmetrics_latency", "histogram", "Span duration in seconds.");
  for (const Entry* e : entries) {
    AppendHistogram(out, "traces_spanmetrics_latency", e->labels, options_.buckets_seconds,
                    e->buckets, e->seconds_sum, e->calls);
  }
  if (!options_.collector_names) return;
  // The Collector's connector calls the service label service_name.
  auto collector_labels = [](const Labels& labels) {
    Labels out = labels;
    for (auto& [k, v] : out) {
      if (k == "service") k = "service_name";
    }
    SortLabels(&out);
    return out;
  };
  AppendFamily(out, "traces_span_metrics_calls_total", "counter",
               "Spans counted (OpenTelemetry Collector spanmetrics connector names).");
  for (const Entry* e : entries) {
    AppendSample(out, "traces_span_metrics_calls_total", collector_labels(e->labels), e->calls);
  }
  AppendFamily(out, "traces_span_metrics_duration_milliseconds", "histogram",
               "Span duration in milliseconds (OpenTelemetry Collector spanmetrics connector names).");
  for (const Entry* e : entries) {
    AppendHistogram(out, "traces_span_metrics_duration_milliseconds", collector_labels(e->labels),
                    options_.collector_buckets_ms, e->collector_buckets, e->seconds_sum * 1000,
                    e->calls);
  }
}

SpanMetricsStats SpanMetrics::stats() const {
  absl::MutexLock lock(&mu_);
  SpanMetricsStats s;
  s.series = entries_.size();
  s.overflow_spans = overflow_spans_;
  size_t bytes = 0;
  for (const auto& [key, e] : entries_) {
    bytes += sizeof(Key) + key.service.capacity() + key.name.capacity() + sizeof(Entry) + (e->buckets.capacity() + e->collector_buckets.capacity()) * sizeof(double);
    for (const auto& [k, v] : e->labels) bytes += 2 * sizeof(std::string) + k.capacity() + v.capacity();
  }
  for (const auto& [key, acc] : accs_) bytes += key.capacity() + sizeof(SeriesAcc) + acc->red.MemoryBytes();
  s.memory_bytes = bytes;
  return s;
}

}  // namespace ariadne::analytics
