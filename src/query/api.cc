#include "query/api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "analytics/critical_path.h"
#include "control/autoscaler.h"
#include "common/strings.h"
#include "encode/encode.h"
#include "encode/jaeger_json.h"
#include "query/metrics_api.h"
#include "query/params.h"
#include "query/static_files.h"

namespace ariadne::query {

using serve::HttpRequest;
using serve::HttpResponse;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

// Jaeger's envelope: {"data": ..., "total", "limit", "offset", "errors"}.
template <typename WriteData>
HttpResponse JaegerEnvelope(size_t total, WriteData write_data) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("data");
  write_data(w);
  w.Key("total");
  w.Uint64(total);
  w.Key("limit");
  w.Uint(0);
  w.Key("offset");
  w.Uint(0);
  w.Key("errors");
  w.Null();
  w.EndObject();
  return Json(200, sb.GetString());
}

HttpResponse JaegerError(int status, std::string_view message) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("data");
  w.Null();
  w.Key("total");
  w.Uint(0);
  w.Key("limit");
  w.Uint(0);
  w.Key("offset");
  w.Uint(0);
  w.Key("errors");
  w.StartArray();
  w.StartObject();
  w.Key("code");
  w.Int(status);
  w.Key("msg");
  Str(w, message);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return Json(status, sb.GetString());
}

// Jaeger v3's error body (grpc-gateway style).
HttpResponse V3Error(int status, std::string_view message) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("httpCode");
  w.Int(status);
  w.Key("message");
  Str(w, message);
  w.EndObject();
  w.EndObject();
  return Json(status, sb.GetString());
}

// The storage backend could not answer (a remote database down or refusing
// the query): 503, so that clients retry, with what failed.
HttpResponse StoreError(const absl::Status& status) {
  return JaegerError(503, absl::StrCat("the span store failed: ", status.ToString()));
}
HttpResponse V3StoreError(const absl::Status& status) {
  return V3Error(503, absl::StrCat("the span store failed: ", status.ToString()));
}

absl::StatusOr<std::optional<model::SpanKind>> ParseKind(std::string_view s) {
  if (s.empty()) return std::optional<model::SpanKind>();
  for (auto k :
       {model::SpanKind::kUnspecified, model::SpanKind::kInternal, model::SpanKind::kServer,
        model::SpanKind::kClient, model::SpanKind::kProducer, model::SpanKind::kConsumer}) {
    if (s == model::SpanKindShortName(k) || s == model::SpanKindName(k)) return std::optional(k);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown span kind \"", std::string(s),
                   "\" (use server, client, producer, consumer, internal or SPAN_KIND_*)"));
}

// [{"name": ..., "spanKind": "server"}, ...]: the shape of both Jaeger APIs.
void WriteOperations(const std::vector<store::Operation>& ops, JsonWriter& w) {
  w.StartArray();
  for (const auto& op : ops) {
    w.StartObject();
    w.Key("name");
    Str(w, op.name);
    w.Key("spanKind");
    Str(w, model::SpanKindShortName(op.kind));
    w.EndObject();
  }
  w.EndArray();
}

// The first non-empty parameter among `names` (to accept both camelCase and
// snake_case spellings).
std::string_view AnyParam(const HttpRequest& r, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    std::string_view v = r.Param(n);
    if (!v.empty()) return v;
  }
  return {};
}

bool ParseTraceId(std::string_view hex, model::TraceId* id) {
  return model::ParseTraceIdLenient(hex, id) && !model::IsZero(*id);
}

}  // namespace

QueryApi::QueryApi(const store::StorageBackend* head, ApiOptions options)
    : head_(head), options_(std::move(options)) {}

HttpResponse QueryApi::ErrorResponse(int status, std::string message, std::string_view) {
  return JaegerError(status, message);
}

void QueryApi::Handle(HttpRequest request, serve::Responder respond) { respond(Route(request)); }

HttpResponse QueryApi::Route(const HttpRequest& r) {
  std::string_view path = r.path;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (r.method != "GET" && r.method != "HEAD") {
    HttpResponse out = JaegerError(405, "the query API answers GET requests only");
    out.headers.emplace_back("Allow", "GET, HEAD");
    return out;
  }
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
  if (path == "/readyz") {
    if (ready_.load()) return {200, "text/plain; charset=utf-8", "ready\n", {}};
    return {503, "text/plain; charset=utf-8", "replaying the write-ahead log\n", {}};
  }
  if (path == "/metrics") {
    return {200,
            "text/plain; version=0.0.4; charset=utf-8",
            options_.metrics_text ? options_.metrics_text() : std::string(),
            {}};
  }
  constexpr std::string_view kV3 = "/api/v3/";
  if (path.substr(0, kV3.size()) == kV3) {
    std::string_view rest = path.substr(kV3.size());
    if (rest == "services") return V3Services();
    if (rest == "operations") return V3Operations(r);
    if (rest == "traces") return V3Traces(r);
    if (rest.substr(0, 7) == "traces/") return V3Trace(rest.substr(7));
    return V3Error(404, absl::StrCat("no such endpoint ", AbslView(path)));
  }
  constexpr std::string_view kV1Traces = "/api/v1/traces/";
  constexpr std::string_view kCriticalPath = "/critical-path";
  if (path.starts_with(kV1Traces) && path.ends_with(kCriticalPath) &&
      path.size() > kV1Traces.size() + kCriticalPath.size()) {
    return CriticalPath(path.substr(kV1Traces.size(),
                                    path.size() - kV1Traces.size() - kCriticalPath.size()));
  }
  if (path == "/api/v1/anomalies") return Anomalies(r);
  if (path == "/api/v1/incidents") return Incidents(r);
  if (path == "/api/v1/decisions") return Decisions(r);
  if (path == "/api/v1/autoscaler") return AutoscalerState();
  if (path == "/api/v1/series" || path.starts_with("/api/v1/series/")) {
    return SeriesEndpoint(path.substr(std::string_view("/api/v1/series").size()), r);
  }
  constexpr std::string_view kMetrics = "/api/metrics/";
  if (path.starts_with(kMetrics)) return MetricsEndpoint(path.substr(kMetrics.size()), r);
  constexpr std::string_view kApi = "/api/";
  if (path.substr(0, kApi.size()) == kApi) {
    std::string_view rest = path.substr(kApi.size());
    if (rest == "services") return Services();
    if (rest.substr(0, 9) == "services/" && rest.size() > 20 &&
        rest.substr(rest.size() - 11) == "/operations") {
      return Operations(rest.substr(9, rest.size() - 20), "", true);
    }
    if (rest == "operations") return Operations(r.Param("service"), r.Param("spanKind"), false);
    if (rest == "traces") return Traces(r);
    if (rest.substr(0, 7) == "traces/") return Trace(rest.substr(7));
    if (rest == "dependencies") return Dependencies(r);
    return JaegerError(404, absl::StrCat("no such endpoint ", AbslView(path)));
  }
  if (options_.ui != nullptr && path != "/api") return options_.ui->Serve(r.path);
  return JaegerError(404, absl::StrCat("no such endpoint ", AbslView(path),
                                       " (see /api/services, /api/traces, /api/v3/...)"));
}

HttpResponse QueryApi::Services() const {
  auto found = head_->Services();
  if (!found.ok()) return StoreError(found.status());
  const std::vector<std::string>& services = *found;
  return JaegerEnvelope(services.size(), [&](JsonWriter& w) {
    w.StartArray();
    for (const auto& s : services) Str(w, s);
    w.EndArray();
  });
}

HttpResponse QueryApi::Operations(std::string_view service, std::string_view kind_text,
                                  bool names_only) const {
  auto kind = ParseKind(kind_text);
  if (!kind.ok()) return JaegerError(400, StdView(kind.status().message()));
  if (!names_only && service.empty()) return JaegerError(400, "parameter service is required");
  auto found = head_->Operations(service, *kind);
  if (!found.ok()) return StoreError(found.status());
  const std::vector<store::Operation>& ops = *found;
  if (names_only) {
    // Distinct names (an operation may appear under several kinds).
    std::vector<std::string_view> names;
    for (const auto& op : ops) {
      if (names.empty() || names.back() != op.name) names.push_back(op.name);
    }
    return JaegerEnvelope(names.size(), [&](JsonWriter& w) {
      w.StartArray();
      for (auto n : names) Str(w, n);
      w.EndArray();
    });
  }
  return JaegerEnvelope(ops.size(), [&](JsonWriter& w) { WriteOperations(ops, w); });
}

namespace {

// Fills a TraceQuery from Jaeger's /api/traces parameters.
absl::Status JaegerSearch(const HttpRequest& r, uint64_t now, size_t default_limit,
                          size_t max_limit, store::TraceQuery* q) {
  q->service = std::string(r.Param("service"));
  q->operation = std::string(r.Param("operation"));
  if (q->operation == "all") q->operation.clear();  // what the Jaeger UI sends for "all"
  if (auto kind = ParseKind(r.Param("spanKind")); kind.ok()) {
    q->kind = *kind;
  } else {
    return kind.status();
  }
  for (std::string_view tags : r.Params("tags")) {
    if (auto s = ParseTagsJson(tags, &q->tags); !s.ok()) return s;
  }
  for (std::string_view tag : r.Params("tag")) {
    if (auto s = ParseTagPair(tag, &q->tags); !s.ok()) return s;
  }
  auto duration = [&](std::string_view name, uint64_t* out) -> absl::Status {
    std::string_view v = r.Param(name);
    if (v.empty()) return absl::OkStatus();
    auto d = ParseDurationNanos(v);
    if (!d.ok())
      return absl::InvalidArgumentError(absl::StrCat(AbslView(name), ": ", d.status().message()));
    *out = *d;
    return absl::OkStatus();
  };
  if (auto s = duration("minDuration", &q->min_duration_nano); !s.ok()) return s;
  if (auto s = duration("maxDuration", &q->max_duration_nano); !s.ok()) return s;
  uint64_t end = now;
  if (std::string_view v = r.Param("end"); !v.empty()) {
    auto us = ParseUint(v);
    if (!us.ok()) return absl::InvalidArgumentError(absl::StrCat("end: ", us.status().message()));
    end = *us * 1000;
    q->start_max_nano = end;
  }
  if (std::string_view v = r.Param("start"); !v.empty()) {
    auto us = ParseUint(v);
    if (!us.ok()) return absl::InvalidArgumentError(absl::StrCat("start: ", us.status().message()));
    q->start_min_nano = *us * 1000;
  } else if (std::string_view lb = r.Param("lookback"); !lb.empty() && lb != "custom") {
    auto d = ParseDurationNanos(lb);
    if (!d.ok())
      return absl::InvalidArgumentError(absl::StrCat("lookback: ", d.status().message()));
    q->start_min_nano = end > *d ? end - *d : 0;
  }
  q->limit = default_limit;
  if (std::string_view v = r.Param("limit"); !v.empty()) {
    auto n = ParseUint(v);
    if (!n.ok()) return absl::InvalidArgumentError(absl::StrCat("limit: ", n.status().message()));
    q->limit = *n;
  }
  if (q->limit == 0 || q->limit > max_limit) q->limit = max_limit;
  return absl::OkStatus();
}

}  // namespace

HttpResponse QueryApi::Traces(const HttpRequest& r) const {
  std::vector<model::TraceId> ids;
  // ?traceID=a&traceID=b fetches those traces (the Jaeger UI's compare view).
  for (std::string_view hex : r.Params("traceID")) {
    model::TraceId id;
    if (!ParseTraceId(hex, &id)) {
      return JaegerError(400, absl::StrCat("traceID \"", std::string(hex),
                                           "\" is not a hex trace id of up to 32 digits"));
    }
    ids.push_back(id);
  }
  if (ids.empty()) {
    store::TraceQuery q;
    const uint64_t now = options_.now_nanos ? options_.now_nanos() : 0;
    if (auto s = JaegerSearch(r, now, options_.default_limit, options_.max_limit, &q); !s.ok()) {
      return JaegerError(400, StdView(s.message()));
    }
    auto found = head_->FindTraceIds(q);
    if (!found.ok()) return StoreError(found.status());
    ids = *std::move(found);
  }
  std::vector<std::vector<model::SpanRef>> traces;
  for (const auto& id : ids) {
    auto spans = head_->GetTrace(id);
    if (!spans.ok()) return StoreError(spans.status());
    if (!spans->empty()) traces.push_back(*std::move(spans));
  }
  return JaegerEnvelope(traces.size(), [&](JsonWriter& w) {
    w.StartArray();
    for (const auto& t : traces) encode::WriteJaegerTrace(t, &w);
    w.EndArray();
  });
}

HttpResponse QueryApi::Trace(std::string_view hex) const {
  model::TraceId id;
  if (!ParseTraceId(hex, &id)) {
    return JaegerError(400, absl::StrCat("trace id \"", std::string(hex),
                                         "\" is not a hex trace id of up to 32 digits"));
  }
  auto found = head_->GetTrace(id);
  if (!found.ok()) return StoreError(found.status());
  const std::vector<model::SpanRef>& spans = *found;
  if (spans.empty()) return JaegerError(404, "trace not found");
  return JaegerEnvelope(1, [&](JsonWriter& w) {
    w.StartArray();
    encode::WriteJaegerTrace(spans, &w);
    w.EndArray();
  });
}

// Where a trace's time went: the critical path (the chain of spans its
// end-to-end latency waited on), each service's share of it, and each
// span's self time. Times are nanoseconds; segment starts are offsets from
// the root span's start.
HttpResponse QueryApi::CriticalPath(std::string_view hex) const {
  model::TraceId id;
  if (!ParseTraceId(hex, &id)) {
    return JaegerError(400, absl::StrCat("trace id \"", std::string(hex),
                                         "\" is not a hex trace id of up to 32 digits"));
  }
  auto found = head_->GetTrace(id);
  if (!found.ok()) return StoreError(found.status());
  const std::vector<model::SpanRef>& spans = *found;
  if (spans.empty()) return JaegerError(404, "trace not found");
  const std::vector<analytics::PathSpan> path_spans = analytics::ToPathSpans(spans);
  const int32_t root = analytics::PickRoot(path_spans);
  if (root < 0) return JaegerError(422, "the trace has no root span (every span has a parent in it)");
  const auto segments = analytics::CriticalPath(path_spans, static_cast<uint32_t>(root));
  const auto self = analytics::SelfTimes(path_spans);
  const uint64_t origin = path_spans[root].start;
  const uint64_t total = path_spans[root].end - path_spans[root].start;
  auto service_of = [&](uint32_t i) { return store::ServiceOf(*spans[i].batch, spans[i].row); };
  std::vector<std::pair<std::string, uint64_t>> by_service;
  for (const auto& seg : segments) {
    const std::string_view svc = service_of(seg.span);
    auto it = std::find_if(by_service.begin(), by_service.end(),
                           [&](const auto& e) { return e.first == svc; });
    if (it == by_service.end()) {
      by_service.emplace_back(std::string(svc), 0);
      it = by_service.end() - 1;
    }
    it->second += seg.end - seg.start;
  }
  std::sort(by_service.begin(), by_service.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("traceID");
  Str(w, model::ToHex(id));
  w.Key("duration_ns");
  w.Uint64(total);
  w.Key("root_span_id");
  Str(w, model::ToHex(spans[root].batch->span_id[spans[root].row]));
  w.Key("segments");
  w.StartArray();
  for (const auto& seg : segments) {
    const model::SpanBatch& b = *spans[seg.span].batch;
    const uint32_t row = spans[seg.span].row;
    w.StartObject();
    w.Key("span_id");
    Str(w, model::ToHex(b.span_id[row]));
    w.Key("service");
    Str(w, service_of(seg.span));
    w.Key("operation");
    Str(w, b.name[row]);
    w.Key("start_offset_ns");
    w.Uint64(seg.start - origin);
    w.Key("duration_ns");
    w.Uint64(seg.end - seg.start);
    w.EndObject();
  }
  w.EndArray();
  w.Key("services");
  w.StartArray();
  for (const auto& [svc, ns] : by_service) {
    w.StartObject();
    w.Key("service");
    Str(w, svc);
    w.Key("critical_path_ns");
    w.Uint64(ns);
    w.Key("share");
    w.Double(total > 0 ? static_cast<double>(ns) / static_cast<double>(total) : 0.0);
    w.EndObject();
  }
  w.EndArray();
  w.Key("self_time_ns");
  w.StartObject();
  for (uint32_t i = 0; i < spans.size(); ++i) {
    const std::string key = model::ToHex(spans[i].batch->span_id[spans[i].row]);
    w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    w.Uint64(self[i]);
  }
  w.EndObject();
  w.EndObject();
  return Json(200, sb.GetString());
}

namespace {

constexpr std::string_view kAnalyticsDisabled =
    "analytics is disabled (see analytics.enabled), so there are no series to query";

}  // namespace

// /api/v1/series, /api/v1/series/names, /api/v1/series/labels (`rest` is
// what follows /api/v1/series).
HttpResponse QueryApi::SeriesEndpoint(std::string_view rest, const HttpRequest& r) const {
  if (rest != "" && rest != "/names" && rest != "/labels") {
    return JaegerError(404, absl::StrCat("no such endpoint /api/v1/series", AbslView(rest),
                                         " (see /api/v1/series, /api/v1/series/names, "
                                         "/api/v1/series/labels)"));
  }
  if (options_.analytics == nullptr) return JaegerError(503, kAnalyticsDisabled);
  if (rest == "/names") return Json(200, SeriesNamesJson(*options_.analytics));
  absl::StatusOr<std::string> body =
      rest == "/labels"
          ? SeriesLabelValuesJson(*options_.analytics, r)
          : SeriesJson(*options_.analytics, r, options_.now_nanos ? options_.now_nanos() : 0);
  if (!body.ok()) return JaegerError(400, StdView(body.status().message()));
  return Json(200, *std::move(body));
}

// Jaeger's Service Performance Monitoring API: /api/metrics/{latencies,
// calls, errors, minstep}.
HttpResponse QueryApi::MetricsEndpoint(std::string_view which, const HttpRequest& r) const {
  std::optional<JaegerMetric> metric;
  if (which == "latencies") metric = JaegerMetric::kLatencies;
  if (which == "calls") metric = JaegerMetric::kCalls;
  if (which == "errors") metric = JaegerMetric::kErrors;
  if (!metric && which != "minstep") {
    return JaegerError(404, absl::StrCat("no such endpoint /api/metrics/", AbslView(which),
                                         " (see latencies, calls, errors, minstep)"));
  }
  // 501 is what Jaeger answers without a metrics store; its UI then shows
  // the Monitor tab's "not configured" page instead of an error.
  if (options_.analytics == nullptr) return JaegerError(501, kAnalyticsDisabled);
  if (!metric) {  // minstep: the store's step in milliseconds
    const uint64_t step_ms = options_.analytics->series().step_nanos() / 1000000;
    return JaegerEnvelope(0, [&](JsonWriter& w) { w.Uint64(step_ms); });
  }
  auto body = JaegerMetricsJson(*options_.analytics, *metric, r,
                                options_.now_nanos ? options_.now_nanos() : 0);
  if (!body.ok()) return JaegerError(400, StdView(body.status().message()));
  return Json(200, *std::move(body));
}

namespace {

void WriteAnomaly(JsonWriter& w, const detect::Anomaly& a) {
  w.StartObject();
  w.Key("series");
  Str(w, a.series);
  w.Key("labels");
  w.StartObject();
  for (const auto& [k, v] : a.labels) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    Str(w, v);
  }
  w.EndObject();
  w.Key("time");
  Str(w, FormatRfc3339(a.time_nanos));
  w.Key("value");
  w.Double(a.value);
  w.Key("score");
  w.Double(a.verdict.score);
  w.Key("expected_low");
  w.Double(a.verdict.expected_low);
  w.Key("expected_high");
  w.Double(a.verdict.expected_high);
  w.Key("reason");
  Str(w, detect::ReasonName(a.verdict.reason));
  w.EndObject();
}

}  // namespace

// GET /api/v1/incidents?state=open|all: incidents, newest first, each with
// its ranked services and its anomalies.
HttpResponse QueryApi::Decisions(const HttpRequest& r) const {
  if (options_.autoscaler == nullptr) {
    return JaegerError(503, "the autoscaler is disabled (autoscaler.enabled)");
  }
  size_t limit = 1000;
  if (std::string_view v = r.Param("limit"); !v.empty()) {
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || ptr != v.data() + v.size() || n == 0) {
      return JaegerError(400, "limit: must be a positive integer");
    }
    limit = static_cast<size_t>(std::min<uint64_t>(n, options_.autoscaler->options().max_decisions));
  }
  const std::string_view changes = r.Param("changes");
  if (!changes.empty() && changes != "true" && changes != "false") {
    return JaegerError(400, "changes: must be true or false");
  }
  const auto decisions =
      options_.autoscaler->Decisions(r.Param("service"), changes == "true", limit);
  std::string body = "{\"decisions\":[";
  for (size_t i = 0; i < decisions.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += control::DecisionJson(decisions[i]);
  }
  body += "]}";
  return Json(200, std::move(body));
}

HttpResponse QueryApi::AutoscalerState() const {
  if (options_.autoscaler == nullptr) {
    return JaegerError(503, "the autoscaler is disabled (autoscaler.enabled)");
  }
  const control::Autoscaler& a = *options_.autoscaler;
  std::string body = absl::StrCat(
      "{\"actuator\":\"", a.actuator_name(), "\",\"interval_s\":", a.options().controller.interval_s,
      ",\"slo_s\":", a.options().controller.slo_s,
      ",\"slo_quantile\":", a.options().controller.slo_quantile, ",\"services\":[");
  bool first = true;
  for (const auto& s : a.Services()) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("service");
    Str(w, s.service);
    w.Key("error");
    Str(w, s.error);
    w.EndObject();
    std::string item(sb.GetString(), sb.GetSize());
    item.pop_back();  // the closing brace: the last decision follows
    absl::StrAppend(&body, first ? "" : ",", item, ",\"last\":",
                    s.last ? control::DecisionJson(*s.last) : "null", "}");
    first = false;
  }
  body += "]}";
  return Json(200, std::move(body));
}

HttpResponse QueryApi::Incidents(const HttpRequest& r) const {
  if (options_.incidents == nullptr) {
    return JaegerError(503, "detection is disabled (it needs analytics.enabled)");
  }
  const std::string_view state = r.Param("state");
  if (!state.empty() && state != "open" && state != "all") {
    return JaegerError(400, "state: must be open or all");
  }
  const auto incidents = options_.incidents->Incidents(state == "open");
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("incidents");
  w.StartArray();
  for (const detect::Incident& i : incidents) {
    w.StartObject();
    w.Key("id");
    w.Uint64(i.id);
    w.Key("state");
    Str(w, i.open ? "open" : "resolved");
    w.Key("opened");
    Str(w, FormatRfc3339(i.opened_nanos));
    w.Key("last_anomaly");
    Str(w, FormatRfc3339(i.last_anomaly_nanos));
    if (!i.open) {
      w.Key("resolved");
      Str(w, FormatRfc3339(i.resolved_nanos));
    }
    w.Key("max_score");
    w.Double(i.max_score);
    w.Key("anomaly_count");
    w.Int(i.anomaly_count);
    w.Key("ranking");
    w.StartArray();
    for (const detect::RankedService& s : i.ranking) {
      w.StartObject();
      w.Key("service");
      Str(w, s.service);
      w.Key("first_anomaly");
      Str(w, FormatRfc3339(s.first_anomaly_nanos));
      w.Key("max_score");
      w.Double(s.max_score);
      w.Key("anomalies");
      w.Int(s.anomalies);
      w.Key("own_series");
      w.Bool(s.own);
      w.Key("evidence");
      Str(w, s.evidence);
      w.EndObject();
    }
    w.EndArray();
    // The trace-based ranking (detect/rca.h), once made.
    w.Key("root_causes");
    const std::string causes = detect::RcaCandidatesJson(i.root_causes);
    w.RawValue(causes.data(), causes.size(), rapidjson::kArrayType);
    if (i.root_causes_nanos != 0) {
      w.Key("root_causes_at");
      Str(w, FormatRfc3339(i.root_causes_nanos));
    }
    w.Key("anomalies");
    w.StartArray();
    for (const detect::Anomaly& a : i.anomalies) WriteAnomaly(w, a);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, sb.GetString());
}

// GET /api/v1/anomalies?start=&end= (Unix seconds or RFC 3339; default the
// last hour): the detector's anomalies, oldest first.
HttpResponse QueryApi::Anomalies(const HttpRequest& r) const {
  if (options_.detection == nullptr) {
    return JaegerError(503, "detection is disabled (it needs analytics.enabled)");
  }
  const uint64_t now = options_.now_nanos ? options_.now_nanos() : 0;
  uint64_t end = now;
  uint64_t start = now > 3600'000'000'000ull ? now - 3600'000'000'000ull : 0;
  for (auto [name, field] : {std::pair{"start", &start}, std::pair{"end", &end}}) {
    if (std::string_view v = r.Param(name); !v.empty()) {
      auto t = ParseUnixSecondsOrRfc3339(v);
      if (!t.ok()) return JaegerError(400, absl::StrCat(name, ": ", t.status().message()));
      *field = *t;
    }
  }
  const auto anomalies = options_.detection->Anomalies(start, end);
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("anomalies");
  w.StartArray();
  for (const detect::Anomaly& a : anomalies) WriteAnomaly(w, a);
  w.EndArray();
  w.EndObject();
  return Json(200, sb.GetString());
}

HttpResponse QueryApi::Dependencies(const HttpRequest& r) const {
  uint64_t end_ms = options_.now_nanos ? options_.now_nanos() / 1000000 : 0;
  uint64_t lookback_ms = 24 * 3600 * 1000ull;  // Jaeger UI's default
  if (std::string_view v = r.Param("endTs"); !v.empty()) {
    auto n = ParseUint(v);
    if (!n.ok()) return JaegerError(400, absl::StrCat("endTs: ", n.status().message()));
    end_ms = *n;
  }
  if (std::string_view v = r.Param("lookback"); !v.empty()) {
    auto n = ParseUint(v);
    if (!n.ok()) return JaegerError(400, absl::StrCat("lookback: ", n.status().message()));
    lookback_ms = *n;
  }
  constexpr uint64_t kMaxMs = std::numeric_limits<uint64_t>::max() / 1000000 - 1;
  end_ms = std::min(end_ms, kMaxMs);
  const uint64_t start_ms = end_ms > lookback_ms ? end_ms - lookback_ms : 0;
  const uint64_t start = start_ms * 1000000, end = end_ms * 1000000;  // [start, end]
  std::vector<store::Dependency> deps;
  if (options_.analytics == nullptr) {
    auto found = head_->Dependencies(start, end);
    if (!found.ok()) return StoreError(found.status());
    deps = *std::move(found);
  } else {
    // The service graph where its series reach (from the first whole step
    // after they begin; nowhere before analytics' first span), the stored
    // spans before that; equal edges add up.
    const uint64_t step = options_.analytics->series().step_nanos();
    const uint64_t series_start = options_.analytics->SeriesStartNanos();
    const uint64_t split = series_start % step == 0 || series_start > UINT64_MAX - step
                               ? series_start
                               : (series_start / step + 1) * step;
    if (start < split) {
      auto found = head_->Dependencies(start, std::min(end, split - 1));
      if (!found.ok()) return StoreError(found.status());
      deps = *std::move(found);
    }
    if (end >= split) {
      for (auto& g : options_.analytics->Dependencies(std::max(start, split), end + 1)) {
        auto same = std::find_if(deps.begin(), deps.end(), [&](const store::Dependency& d) {
          return d.parent == g.parent && d.child == g.child;
        });
        if (same != deps.end()) {
          same->call_count += g.call_count;
        } else {
          deps.push_back(std::move(g));
        }
      }
    }
    std::sort(deps.begin(), deps.end(), [](const auto& a, const auto& b) {
      return std::tie(a.parent, a.child) < std::tie(b.parent, b.child);
    });
  }
  return JaegerEnvelope(deps.size(), [&](JsonWriter& w) {
    w.StartArray();
    for (const auto& d : deps) {
      w.StartObject();
      w.Key("parent");
      Str(w, d.parent);
      w.Key("child");
      Str(w, d.child);
      w.Key("callCount");
      w.Uint64(d.call_count);
      w.EndObject();
    }
    w.EndArray();
  });
}

HttpResponse QueryApi::V3Services() const {
  auto found = head_->Services();
  if (!found.ok()) return V3StoreError(found.status());
  const std::vector<std::string>& services = *found;
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("services");
  w.StartArray();
  for (const auto& s : services) Str(w, s);
  w.EndArray();
  w.EndObject();
  return Json(200, sb.GetString());
}

HttpResponse QueryApi::V3Operations(const HttpRequest& r) const {
  std::string_view service = AnyParam(r, {"service", "query.service_name", "query.serviceName"});
  if (service.empty()) return V3Error(400, "parameter service is required");
  auto kind = ParseKind(AnyParam(r, {"spanKind", "span_kind", "span.kind"}));
  if (!kind.ok()) return V3Error(400, StdView(kind.status().message()));
  auto found = head_->Operations(service, *kind);
  if (!found.ok()) return V3StoreError(found.status());
  const std::vector<store::Operation>& ops = *found;
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("operations");
  WriteOperations(ops, w);
  w.EndObject();
  return Json(200, sb.GetString());
}

namespace {

HttpResponse V3Result(std::span<const model::SpanRef> spans) {
  std::string body = "{\"result\":";
  encode::EncodeOtlpJson(spans, &body);
  body.push_back('}');
  return Json(200, std::move(body));
}

}  // namespace

HttpResponse QueryApi::V3Traces(const HttpRequest& r) const {
  store::TraceQuery q;
  q.service = std::string(AnyParam(r, {"query.service_name", "query.serviceName"}));
  q.operation = std::string(AnyParam(r, {"query.operation_name", "query.operationName"}));
  if (std::string_view attrs = AnyParam(r, {"query.attributes"}); !attrs.empty()) {
    if (auto s = ParseTagsJson(attrs, &q.tags); !s.ok()) return V3Error(400, StdView(s.message()));
  }
  struct TimeParam {
    std::initializer_list<std::string_view> names;
    uint64_t* out;
    bool is_duration;
  };
  const TimeParam params[] = {
      {{"query.start_time_min", "query.startTimeMin"}, &q.start_min_nano, false},
      {{"query.start_time_max", "query.startTimeMax"}, &q.start_max_nano, false},
      {{"query.duration_min", "query.durationMin"}, &q.min_duration_nano, true},
      {{"query.duration_max", "query.durationMax"}, &q.max_duration_nano, true},
  };
  for (const TimeParam& p : params) {
    std::string_view v = AnyParam(r, p.names);
    if (v.empty()) continue;
    auto parsed = p.is_duration ? ParseDurationNanos(v) : ParseTimeNanos(v);
    if (!parsed.ok()) {
      return V3Error(400,
                     absl::StrCat(AbslView(*p.names.begin()), ": ", parsed.status().message()));
    }
    *p.out = *parsed;
  }
  q.limit = options_.default_limit;
  std::string_view limit = AnyParam(
      r, {"query.num_traces", "query.numTraces", "query.search_depth", "query.searchDepth"});
  if (!limit.empty()) {
    auto n = ParseUint(limit);
    if (!n.ok()) return V3Error(400, absl::StrCat("query.num_traces: ", n.status().message()));
    q.limit = *n;
  }
  if (q.limit == 0 || q.limit > options_.max_limit) q.limit = options_.max_limit;
  std::vector<model::SpanRef> spans;
  auto ids = head_->FindTraceIds(q);
  if (!ids.ok()) return V3StoreError(ids.status());
  for (const auto& id : *ids) {
    auto t = head_->GetTrace(id);
    if (!t.ok()) return V3StoreError(t.status());
    spans.insert(spans.end(), t->begin(), t->end());
  }
  return V3Result(spans);
}

HttpResponse QueryApi::V3Trace(std::string_view hex) const {
  model::TraceId id;
  if (!ParseTraceId(hex, &id)) {
    return V3Error(400, absl::StrCat("trace id \"", std::string(hex),
                                     "\" is not a hex trace id of up to 32 digits"));
  }
  auto found = head_->GetTrace(id);
  if (!found.ok()) return V3StoreError(found.status());
  const std::vector<model::SpanRef>& spans = *found;
  if (spans.empty()) return V3Error(404, "trace not found");
  return V3Result(spans);
}

}  // namespace ariadne::query
