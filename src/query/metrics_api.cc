#include "query/metrics_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/red.h"
#include "common/strings.h"
#include "model/span_batch.h"
#include "query/params.h"

namespace ariadne::query {

using analytics::Labels;
using analytics::Point;
using analytics::Series;
using analytics::SeriesStore;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kMilli = 1'000'000;
constexpr uint64_t kHour = 3600 * kSecond;
// Largest millisecond parameter accepted (about 300 years): keeps nanoseconds in range.
constexpr uint64_t kMaxMillis = 10'000'000'000'000ull;

void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Unix seconds as a JSON number: an integer when whole.
void WriteSeconds(JsonWriter& w, uint64_t nanos) {
  if (nanos % kSecond == 0) {
    w.Uint64(nanos / kSecond);
  } else {
    w.Double(static_cast<double>(nanos) / 1e9);
  }
}

bool AllDigits(std::string_view s) { return s.find_first_not_of("0123456789") == std::string_view::npos; }

// "12", "12.5", ".5", "12." in `unit`s, as a multiple of 1/unit (nanoseconds
// for unit = 1 s); nullopt if malformed or out of range.
std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t unit) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if ((whole.empty() && frac.empty()) || !AllDigits(whole) || !AllDigits(frac)) return std::nullopt;
  uint64_t w = 0;
  if (!whole.empty()) {
    auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), w);
    if (ec != std::errc() || end != whole.data() + whole.size()) return std::nullopt;
  }
  if (w > std::numeric_limits<uint64_t>::max() / unit) return std::nullopt;
  uint64_t f = 0;
  uint64_t scale = unit / 10;
  for (char c : frac) {
    if (scale == 0) break;
    f += static_cast<uint64_t>(c - '0') * scale;
    scale /= 10;
  }
  if (w * unit > std::numeric_limits<uint64_t>::max() - f) return std::nullopt;
  return w * unit + f;
}

uint64_t RoundUp(uint64_t v, uint64_t multiple) {
  const uint64_t r = v % multiple;
  return r == 0 ? v : v - r + multiple;
}

// The output points of a query: buckets `width` wide (a multiple of the
// store's step), the first starting at the first step at or after `start`,
// the last starting at or before `end`. A bucket is labelled with its start.
struct Grid {
  uint64_t first = 0;
  uint64_t width = 0;
  size_t count = 0;
  uint64_t Start(size_t i) const { return first + i * width; }
};

Grid MakeGrid(uint64_t start, uint64_t end, uint64_t store_step, uint64_t step) {
  Grid g;
  g.width = std::max(store_step, RoundUp(step, store_step));
  g.first = RoundUp(start, store_step);
  if (g.first <= end) g.count = static_cast<size_t>((end - g.first) / g.width) + 1;
  return g;
}

const std::string* FindLabel(const Labels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<uint64_t> ParseUnixSecondsOrRfc3339(std::string_view text) {
  if (auto n = ParseDecimal(text, kSecond)) return *n;
  // Only non-numeric text goes to the RFC 3339 parser (it reads digits as µs).
  if (text.find_first_not_of("0123456789.") != std::string_view::npos) {
    if (auto t = ParseTimeNanos(text); t.ok()) return *t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", AbslView(text),
                   "\" is not a time (Unix seconds like 1700000000.5, or RFC 3339 like "
                   "2026-11-24T01:02:03Z)"));
}

std::string FormatRfc3339(uint64_t unix_nanos) {
  const std::time_t secs = static_cast<std::time_t>(unix_nanos / kSecond);
  const uint32_t frac = static_cast<uint32_t>(unix_nanos % kSecond);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac != 0) {
    if (frac % 1'000'000 == 0) {
      n = static_cast<size_t>(std::snprintf(buf, sizeof(buf), ".%03u", frac / 1'000'000));
    } else if (frac % 1000 == 0) {
      n = static_cast<size_t>(std::snprintf(buf, sizeof(buf), ".%06u", frac / 1000));
    } else {
      n = static_cast<size_t>(std::snprintf(buf, sizeof(buf), ".%09u", frac));
    }
    out.append(buf, n);
  }
  out.push_back('Z');
  return out;
}

// ---- The native series API ----

absl::StatusOr<std::string> SeriesJson(const analytics::Analytics& analytics,
                                       const serve::HttpRequest& r, uint64_t now_nanos) {
  const SeriesStore& store = analytics.series();
  const std::string_view name = r.Param("name");
  if (name.empty()) {
    return absl::InvalidArgumentError(
        "parameter name is required (the series names are at /api/v1/series/names)");
  }
  uint64_t end = now_nanos;
  if (std::string_view v = r.Param("end"); !v.empty()) {
    auto t = ParseUnixSecondsOrRfc3339(v);
    if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("end: ", t.status().message()));
    end = *t;
  }
  uint64_t start = end > kHour ? end - kHour : 0;
  if (std::string_view v = r.Param("start"); !v.empty()) {
    auto t = ParseUnixSecondsOrRfc3339(v);
    if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("start: ", t.status().message()));
    start = *t;
  }
  if (start > end) return absl::InvalidArgumentError("start: after end");
  uint64_t step = store.step_nanos();
  if (std::string_view v = r.Param("step"); !v.empty()) {
    std::optional<uint64_t> parsed = ParseDecimal(v, kSecond);  // bare number: seconds
    if (!parsed && v.find_first_not_of("0123456789.") != std::string_view::npos) {
      if (auto d = ParseDurationNanos(v); d.ok()) parsed = *d;
    }
    if (!parsed || *parsed == 0 || *parsed > kMaxMillis * kMilli) {
      return absl::InvalidArgumentError(
          absl::StrCat("step: \"", AbslView(v),
                       "\" is not a positive duration (seconds like 60, or 1m, 30s)"));
    }
    step = *parsed;
  }
  Labels matchers;
  for (const auto& [k, v] : r.params) {
    if (k == "name" || k == "start" || k == "end" || k == "step") continue;
    if (k.empty()) return absl::InvalidArgumentError("a label matcher needs a label name");
    if (FindLabel(matchers, k) != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          AbslView(k), ": label matcher given twice (a series has one value per label)"));
    }
    matchers.emplace_back(k, v);
  }
  analytics::SortLabels(&matchers);

  const Grid grid = MakeGrid(start, end, store.step_nanos(), step);
  const bool aggregate = grid.width > store.step_nanos();
  const std::vector<Series> series =
      grid.count == 0 ? std::vector<Series>() : store.Query(name, matchers, start, end);

  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("step_seconds");
  WriteSeconds(w, grid.width);
  w.Key("series");
  w.StartArray();
  std::vector<std::pair<uint64_t, double>> points;
  for (const Series& s : series) {
    points.clear();
    if (!aggregate) {
      for (const Point& p : s.points) {
        if (std::isfinite(p.value)) points.emplace_back(p.time_nanos, p.value);
      }
    } else {
      // The mean of the values present in each bucket.
      size_t current = grid.count;
      double sum = 0;
      size_t n = 0;
      auto flush = [&] {
        if (n > 0) points.emplace_back(grid.Start(current), sum / static_cast<double>(n));
        sum = 0;
        n = 0;
      };
      for (const Point& p : s.points) {
        if (!std::isfinite(p.value) || p.time_nanos < grid.first) continue;
        const size_t bucket = static_cast<size_t>((p.time_nanos - grid.first) / grid.width);
        if (bucket != current) {
          flush();
          current = bucket;
        }
        sum += p.value;
        ++n;
      }
      flush();
    }
    if (points.empty()) continue;
    w.StartObject();
    w.Key("name");
    Str(w, s.name);
    w.Key("labels");
    w.StartObject();
    for (const auto& [k, v] : s.labels) {
      w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      Str(w, v);
    }
    w.EndObject();
    w.Key("points");
    w.StartArray();
    for (const auto& [t, v] : points) {
      w.StartArray();
      WriteSeconds(w, t);
      w.Double(v);
      w.EndArray();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string SeriesNamesJson(const analytics::Analytics& analytics) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("names");
  w.StartArray();
  for (const std::string& n : analytics.series().Names()) Str(w, n);
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

absl::StatusOr<std::string> SeriesLabelValuesJson(const analytics::Analytics& analytics,
                                                  const serve::HttpRequest& r) {
  const std::string_view name = r.Param("name");
  const std::string_view label = r.Param("label");
  if (name.empty()) return absl::InvalidArgumentError("parameter name is required");
  if (label.empty()) return absl::InvalidArgumentError("parameter label is required");
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("values");
  w.StartArray();
  for (const std::string& v : analytics.series().LabelValues(name, label)) Str(w, v);
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

// ---- Jaeger's SPM metrics API ----

namespace {

absl::Status ParamError(std::string_view param, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("unable to parse param '", AbslView(param), "': ", AbslView(message)));
}

// Go's strconv.ParseBool, which Jaeger uses.
std::optional<bool> ParseGoBool(std::string_view s) {
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (s == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (s == f) return false;
  }
  return std::nullopt;
}

// Jaeger's span kind names (any case), and the OpenTelemetry names, as the
// series' span_kind label value.
std::optional<std::string_view> SpanKindLabel(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto k : {model::SpanKind::kUnspecified, model::SpanKind::kInternal,
                 model::SpanKind::kServer, model::SpanKind::kClient, model::SpanKind::kProducer,
                 model::SpanKind::kConsumer}) {
    const std::string_view otel = model::SpanKindName(k);  // SPAN_KIND_SERVER
    std::string short_name(otel.substr(std::string_view("SPAN_KIND_").size()));
    for (char& c : short_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == short_name || s == otel) return otel;
  }
  return std::nullopt;
}

struct JaegerParams {
  std::vector<std::string> services;
  bool group_by_operation = false;
  std::vector<std::string> span_kinds;  // series label values (SPAN_KIND_SERVER, ...)
  uint64_t end = 0;                     // Unix nanoseconds
  uint64_t lookback = kHour;            // Jaeger's defaults
  uint64_t step = 5 * kSecond;
  uint64_t rate_per = 600 * kSecond;
  size_t quantile = 0;  // index into kQuantiles (latencies)
};

absl::StatusOr<JaegerParams> ParseJaegerParams(const serve::HttpRequest& r, bool latencies,
                                               uint64_t now_nanos) {
  JaegerParams p;
  for (std::string_view s : r.Params("service")) {
    if (!s.empty()) p.services.emplace_back(s);
  }
  std::sort(p.services.begin(), p.services.end());
  p.services.erase(std::unique(p.services.begin(), p.services.end()), p.services.end());
  if (p.services.empty()) return ParamError("service", "please provide at least one service name");

  if (latencies) {
    const std::string_view v = r.Param("quantile");
    double q = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), q);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
      return ParamError("quantile", absl::StrCat("\"", AbslView(v), "\" is not a number"));
    }
    size_t i = 0;
    while (i < std::size(analytics::kQuantiles) && std::fabs(analytics::kQuantiles[i] - q) > 1e-9) {
      ++i;
    }
    if (i == std::size(analytics::kQuantiles)) {
      std::string kept;
      for (std::string_view l : analytics::kQuantileLabels) {
        absl::StrAppend(&kept, kept.empty() ? "" : ", ", AbslView(l));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "quantile ", AbslView(v), " is not available: latency is kept at quantiles ", kept));
    }
    p.quantile = i;
  }

  if (std::string_view v = r.Param("groupByOperation"); !v.empty()) {
    auto b = ParseGoBool(v);
    if (!b) {
      return ParamError("groupByOperation",
                        absl::StrCat("\"", AbslView(v), "\" is not a boolean (true or false)"));
    }
    p.group_by_operation = *b;
  }

  const std::vector<std::string_view> kinds = r.Params("spanKind");
  if (kinds.empty()) p.span_kinds.emplace_back(model::SpanKindName(model::SpanKind::kServer));
  for (std::string_view k : kinds) {
    auto label = SpanKindLabel(k);
    if (!label) {
      return ParamError("spanKind",
                        absl::StrCat("unsupported span kind: '", AbslView(k),
                                     "' (use unspecified, internal, server, client, producer "
                                     "or consumer)"));
    }
    p.span_kinds.emplace_back(*label);
  }
  std::sort(p.span_kinds.begin(), p.span_kinds.end());
  p.span_kinds.erase(std::unique(p.span_kinds.begin(), p.span_kinds.end()), p.span_kinds.end());

  // Milliseconds: endTs (a time), lookback, step, ratePer (durations).
  struct Millis {
    std::string_view name;
    uint64_t* out;
  };
  p.end = now_nanos;
  for (const Millis& m : {Millis{"endTs", &p.end}, Millis{"lookback", &p.lookback},
                          Millis{"step", &p.step}, Millis{"ratePer", &p.rate_per}}) {
    const std::string_view v = r.Param(m.name);
    if (v.empty()) continue;
    auto n = ParseUint(v);
    if (!n.ok()) return ParamError(m.name, StdView(n.status().message()));
    if (*n > kMaxMillis) return ParamError(m.name, absl::StrCat(*n, " ms is out of range"));
    *m.out = *n * kMilli;
  }
  if (p.step == 0) return ParamError("step", "the step must be positive");
  return p;
}

// One store step of a group (a service, or a service's operation), summed
// over the requested span kinds.
struct StepValues {
  double calls = 0;     // calls per second
  double weighted = 0;  // sum of value x calls per second (error ratio or latency)
  double weight = 0;    // sum of calls per second of the kinds with a value
};

// (service, operation); the operation is empty unless grouped by operation.
using GroupKey = std::pair<std::string, std::string>;

}  // namespace

absl::StatusOr<std::string> JaegerMetricsJson(const analytics::Analytics& analytics,
                                              JaegerMetric metric, const serve::HttpRequest& r,
                                              uint64_t now_nanos) {
  auto parsed = ParseJaegerParams(r, metric == JaegerMetric::kLatencies, now_nanos);
  if (!parsed.ok()) return parsed.status();
  const JaegerParams& p = *parsed;
  const SeriesStore& store = analytics.series();
  const uint64_t step = store.step_nanos();
  const uint64_t end = p.end;
  const uint64_t start = end > p.lookback ? end - p.lookback : 0;
  const Grid grid = MakeGrid(start, end, step, p.step);
  // Each point's value covers the `window` before its bucket's end: the
  // bucket itself, or ratePer if that is longer (Jaeger's rate window).
  const uint64_t window = std::max(grid.width, RoundUp(p.rate_per, step));
  const uint64_t fetch_start = grid.first + grid.width > window ? grid.first + grid.width - window : 0;

  const char* value_name = metric == JaegerMetric::kLatencies ? "latency_seconds"
                           : metric == JaegerMetric::kErrors  ? "error_ratio"
                                                              : nullptr;
  std::map<GroupKey, std::map<uint64_t, StepValues>> groups;
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  uint64_t newest = 0;
  for (const std::string& service : p.services) {
    for (const std::string& kind : p.span_kinds) {
      if (grid.count == 0) break;
      Labels base = {{"service", service}, {"span_kind", kind}};
      if (!p.group_by_operation) base.emplace_back("operation", "");  // absent
      analytics::SortLabels(&base);
      // Per-operation series have an operation label, per-service ones none.
      auto group_of = [&](const Series& s) -> std::optional<GroupKey> {
        const std::string* op = FindLabel(s.labels, "operation");
        if (p.group_by_operation != (op != nullptr)) return std::nullopt;
        return GroupKey(service, op != nullptr ? *op : std::string());
      };
      const std::vector<Series> calls = store.Query("calls_per_second", base, fetch_start, end);
      for (const Series& s : calls) {
        auto key = group_of(s);
        if (!key) continue;
        auto& steps = groups[*key];
        for (const Point& pt : s.points) {
          if (!std::isfinite(pt.value)) continue;
          steps[pt.time_nanos].calls += pt.value;
          oldest = std::min(oldest, pt.time_nanos);
          newest = std::max(newest, pt.time_nanos);
        }
      }
      if (value_name == nullptr) continue;
      Labels matchers = base;
      if (metric == JaegerMetric::kLatencies) {
        matchers.emplace_back("quantile", std::string(analytics::kQuantileLabels[p.quantile]));
        analytics::SortLabels(&matchers);
      }
      for (const Series& s : store.Query(value_name, matchers, fetch_start, end)) {
        auto key = group_of(s);
        if (!key) continue;
        // The calls of the same labels weigh the value.
        Labels own = s.labels;
        std::erase_if(own, [](const auto& l) { return l.first == "quantile"; });
        auto c = std::find_if(calls.begin(), calls.end(),
                              [&](const Series& cs) { return cs.labels == own; });
        if (c == calls.end()) continue;
        auto& steps = groups[*key];
        size_t j = 0;
        for (const Point& pt : s.points) {
          while (j < c->points.size() && c->points[j].time_nanos < pt.time_nanos) ++j;
          if (j == c->points.size()) break;
          if (c->points[j].time_nanos != pt.time_nanos) continue;
          const double weight = c->points[j].value;
          if (!std::isfinite(pt.value) || !std::isfinite(weight) || !(weight > 0)) continue;
          StepValues& sv = steps[pt.time_nanos];
          sv.weighted += pt.value * weight;
          sv.weight += weight;
        }
      }
    }
  }
  // A step without a calls value had no calls, but only since the series
  // began and up to the newest step the store has finished (the newest calls
  // value of any service, looked for in the last few minutes): the call
  // rate's denominator counts the steps in between.
  const uint64_t series_start = analytics.SeriesStartNanos() / step * step;
  const uint64_t lower = std::min(series_start, oldest);
  uint64_t upper = newest;
  if (oldest <= newest) {
    constexpr uint64_t kProbe = 300 * kSecond;
    const uint64_t probe_start = std::max(newest, end > kProbe ? end - kProbe : 0);
    for (const Series& s : store.Query("calls_per_second", {{"operation", ""}}, probe_start, end)) {
      if (!s.points.empty()) upper = std::max(upper, s.points.back().time_nanos);
    }
  }

  std::string name;
  std::string help;
  switch (metric) {
    case JaegerMetric::kLatencies: {
      name = "service_latencies";
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.2fth quantile latency, grouped by service",
                    analytics::kQuantiles[p.quantile]);
      help = buf;
      break;
    }
    case JaegerMetric::kCalls:
      name = "service_call_rate";
      help = "calls/sec, grouped by service";
      break;
    case JaegerMetric::kErrors:
      name = "service_error_rate";
      help = "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service";
      break;
  }
  if (p.group_by_operation) {
    name.replace(0, std::string_view("service").size(), "service_operation");
    help += " & operation";
  }

  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("name");
  Str(w, name);
  w.Key("type");
  Str(w, "GAUGE");
  w.Key("help");
  Str(w, help);
  w.Key("metrics");
  w.StartArray();
  std::vector<std::pair<uint64_t, double>> points;
  for (const auto& [key, steps] : groups) {
    points.clear();
    for (size_t i = 0; i < grid.count; ++i) {
      const uint64_t bucket_end = grid.Start(i) + grid.width;  // exclusive
      const uint64_t window_start = bucket_end > window ? bucket_end - window : 0;
      const uint64_t last = std::min(bucket_end - step, end);  // newest step start in the window
      double calls = 0, weighted = 0, weight = 0;
      bool any = false;
      for (auto it = steps.lower_bound(window_start); it != steps.end() && it->first <= last; ++it) {
        any = true;
        calls += it->second.calls;
        weighted += it->second.weighted;
        weight += it->second.weight;
      }
      if (!any) continue;
      double value;
      if (metric == JaegerMetric::kCalls) {
        const uint64_t from = std::max(window_start, lower);
        const uint64_t to = std::min(last, upper);
        if (to < from) continue;
        value = calls / static_cast<double>((to - from) / step + 1);
      } else {
        if (!(weight > 0)) continue;
        value = weighted / weight;
        if (metric == JaegerMetric::kLatencies) value *= 1000;  // seconds -> milliseconds
      }
      if (std::isfinite(value)) points.emplace_back(grid.Start(i), value);
    }
    if (points.empty()) continue;
    w.StartObject();
    w.Key("labels");
    w.StartArray();
    w.StartObject();
    w.Key("name");
    Str(w, "service_name");
    w.Key("value");
    Str(w, key.first);
    w.EndObject();
    if (p.group_by_operation) {
      w.StartObject();
      w.Key("name");
      Str(w, "operation");
      w.Key("value");
      Str(w, key.second);
      w.EndObject();
    }
    w.EndArray();
    w.Key("metricPoints");
    w.StartArray();
    for (const auto& [t, v] : points) {
      w.StartObject();
      w.Key("gaugeValue");
      w.StartObject();
      w.Key("doubleValue");
      w.Double(v);
      w.EndObject();
      w.Key("timestamp");
      Str(w, FormatRfc3339(t));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace ariadne::query
