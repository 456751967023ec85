#include "analytics/traces.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "analytics/critical_path.h"
#include "common/strings.h"

namespace ariadne::analytics {

namespace {

constexpr size_t kMaxStrings = 100'000;
constexpr std::string_view kUserNode = "user";

bool IsCallee(model::SpanKind k) {
  return k == model::SpanKind::kServer || k == model::SpanKind::kConsumer;
}
bool IsCaller(model::SpanKind k) {
  return k == model::SpanKind::kClient || k == model::SpanKind::kProducer;
}

// The uninstrumented peer a client span names, and what kind it is.
std::pair<std::string_view, ConnectionType> Peer(const model::SpanBatch& b, uint32_t row) {
  std::string_view peer_service, db_name, db_system, messaging_system;
  const model::Range r = b.span_attributes[row];
  for (uint32_t i = r.first; i < r.first + r.count; ++i) {
    const model::KeyValue& kv = b.attributes[i];
    if (kv.value.type != model::ValueType::kString || kv.value.bytes.empty()) continue;
    if (kv.key == "peer.service") peer_service = kv.value.bytes;
    else if (kv.key == "db.name" || kv.key == "db.namespace") db_name = kv.value.bytes;
    else if (kv.key == "db.system" || kv.key == "db.system.name") db_system = kv.value.bytes;
    else if (kv.key == "messaging.system") messaging_system = kv.value.bytes;
  }
  ConnectionType type = ConnectionType::kVirtual;
  if (!db_system.empty()) {
    type = ConnectionType::kDatabase;
  } else if (!messaging_system.empty() || b.kind[row] == model::SpanKind::kProducer) {
    type = ConnectionType::kMessaging;
  }
  // Tempo's default peer attributes, in its order.
  for (std::string_view name : {peer_service, db_name, db_system, messaging_system}) {
    if (!name.empty()) return {name, type};
  }
  return {{}, type};
}

}  // namespace

std::string_view ConnectionTypeName(ConnectionType t) {
  switch (t) {
    case ConnectionType::kDirect: return "";
    case ConnectionType::kDatabase: return "database";
    case ConnectionType::kMessaging: return "messaging_system";
    case ConnectionType::kVirtual: return "virtual_node";
  }
  return "";
}

TraceAnalytics::TraceAnalytics(TraceOptions options, SeriesStore* store)
    : options_(std::move(options)), store_(store) {
  absl::MutexLock lock(&mu_);
  Intern("");  // id 0: none
}

uint32_t TraceAnalytics::Intern(std::string_view s) {
  auto it = string_ids_.find(AbslView(s));
  if (it != string_ids_.end()) return it->second;
  if (strings_.size() >= kMaxStrings) s = "other";
  it = string_ids_.find(AbslView(s));
  if (it != string_ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  string_ids_.emplace(std::string(s), id);
  return id;
}

void TraceAnalytics::Push(const model::SpanBatch& b, const std::vector<double>& weights,
                          uint64_t now) {
  absl::MutexLock lock(&mu_);
  const model::TraceId* last_id = nullptr;
  Pending* last = nullptr;
  // Service ids by resource: one interning per resource, not per span.
  std::vector<uint32_t> service_of(b.resources.size(), UINT32_MAX);
  for (uint32_t row = 0; row < b.size(); ++row) {
    if (!(weights[row] > 0)) continue;
    if (last_id == nullptr || std::memcmp(last_id->data(), b.trace_id[row].data(), 16) != 0) {
      last_id = &b.trace_id[row];
      last = &pending_[b.trace_id[row]];
      if (last->last != now || last->spans.empty()) order_.emplace_back(b.trace_id[row], now);
      last->last = now;
    }
    Span& s = last->spans.emplace_back();
    last->min_end = std::min(last->min_end, b.end_unix_nano[row]);
    std::memcpy(&s.id, b.span_id[row].data(), sizeof(s.id));
    std::memcpy(&s.parent, b.parent_span_id[row].data(), sizeof(s.parent));
    s.start = b.start_unix_nano[row];
    s.end = std::max(b.end_unix_nano[row], b.start_unix_nano[row]);
    uint32_t& service = service_of[b.scopes[b.scope[row]].resource];
    if (service == UINT32_MAX) service = Intern(store::ServiceOf(b, row));
    s.service = service;
    s.kind = b.kind[row];
    s.error = b.status_code[row] == model::StatusCode::kError;
    s.weight = static_cast<float>(weights[row]);
    if (IsCaller(s.kind)) {
      auto [peer, type] = Peer(b, row);
      if (!peer.empty()) s.peer = Intern(peer);
      s.peer_type = type;
    }
    ++pending_spans_;
  }
}

void TraceAnalytics::Complete(uint64_t now, int64_t first_open_step, bool all) {
  absl::MutexLock lock(&mu_);
  while (!order_.empty()) {
    const auto [id, pushed] = order_.front();
    const bool over = pending_spans_ > options_.max_pending_spans;
    if (!all && !over && pushed + options_.idle_nanos > now) break;
    order_.pop_front();
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.last != pushed) continue;  // stale entry
    if (over && !all && pushed + options_.idle_nanos > now) ++stats_.completed_early;
    std::vector<Span> spans = std::move(it->second.spans);
    pending_.erase(it);
    pending_spans_ -= spans.size();
    Analyze(spans, first_open_step);
  }
}

size_t TraceAnalytics::TraceIdHash::operator()(const model::TraceId& id) const {
  uint64_t a, b;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  return absl::Hash<uint64_t>{}(a ^ (b * 0x9e3779b97f4a7c15ull));
}

int64_t TraceAnalytics::MinPendingStep() const {
  absl::MutexLock lock(&mu_);
  uint64_t min_end = UINT64_MAX;
  for (const auto& [id, p] : pending_) min_end = std::min(min_end, p.min_end);
  return min_end == UINT64_MAX ? std::numeric_limits<int64_t>::max()
                               : static_cast<int64_t>(min_end / store_->step_nanos());
}

void TraceAnalytics::AddEdge(uint32_t client, uint32_t server, ConnectionType type,
                             double server_seconds, double client_seconds, bool failed,
                             double weight, int64_t step) {
  const uint64_t key = static_cast<uint64_t>(client) << 34 | static_cast<uint64_t>(server) << 4 |
                       static_cast<uint64_t>(type);
  auto it = edges_.find(key);
  if (it == edges_.end()) {
    if (edges_.size() >= options_.max_edges) {
      ++stats_.dropped_edges;
      return;
    }
    auto e = std::make_unique<Edge>();
    e->labels = {{"client", strings_[client]},
                 {"connection_type", std::string(ConnectionTypeName(type))},
                 {"server", strings_[server]}};
    e->server_buckets.assign(options_.buckets_seconds.size() + 1, 0);
    e->client_buckets.assign(options_.buckets_seconds.size() + 1, 0);
    it = edges_.emplace(key, std::move(e)).first;
    absl::MutexLock names(&edge_names_mu_);
    edge_names_.emplace_back(strings_[client], strings_[server]);
  }
  Edge& e = *it->second;
  auto bucket = [&](double v) { return BucketIndex(options_.buckets_seconds, v); };
  e.requests += weight;
  if (failed) e.failed += weight;
  e.server_sum += server_seconds * weight;
  e.client_sum += client_seconds * weight;
  e.server_buckets[bucket(server_seconds)] += weight;
  e.client_buckets[bucket(client_seconds)] += weight;
  if (step >= 0) e.red.Add(step, server_seconds, failed, weight);
}

void TraceAnalytics::Analyze(std::vector<Span>& spans, int64_t first_open_step) {
  if (spans.empty()) return;
  // Duplicates (a batch sent twice) count once.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.id != b.id ? a.id < b.id : a.start < b.start;
  });
  spans.erase(std::unique(spans.begin(), spans.end(),
                          [](const Span& a, const Span& b) { return a.id == b.id; }),
              spans.end());
  std::vector<PathSpan> path(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    path[i].start = spans[i].start;
    path[i].end = spans[i].end;
    if (spans[i].parent == 0) continue;
    auto it = std::lower_bound(spans.begin(), spans.end(), spans[i].parent,
                               [](const Span& s, uint64_t id) { return s.id < id; });
    if (it != spans.end() && it->id == spans[i].parent) {
      path[i].parent = static_cast<int32_t>(it - spans.begin());
    }
  }
  const int32_t root = PickRoot(path);
  if (root < 0) return;  // a cycle of parents: nothing sensible to say
  const Span& r = spans[static_cast<size_t>(root)];
  const double weight = r.weight;
  const int64_t step = static_cast<int64_t>(r.end / store_->step_nanos());
  const int64_t series_step = step >= first_open_step ? step : -1;
  if (series_step < 0) ++stats_.late_traces;
  const double duration = static_cast<double>(r.end - r.start) / 1e9;
  ++stats_.completed_traces;
  traces_total_ += weight;
  trace_seconds_total_ += duration * weight;
  if (series_step >= 0) {
    trace_red_.Add(series_step, duration, r.error, weight);
    auto ts = std::find_if(trace_steps_.begin(), trace_steps_.end(),
                           [&](const TraceStep& t) { return t.step == series_step; });
    if (ts == trace_steps_.end()) {
      trace_steps_.push_back(TraceStep{series_step, 0});
      ts = trace_steps_.end() - 1;
    }
    ts->duration_seconds += duration * weight;
  }

  // Service-graph edges.
  std::vector<bool> paired(spans.size(), false);
  const uint32_t user = Intern(kUserNode);
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& s = spans[i];
    if (!IsCallee(s.kind)) continue;
    const double server_seconds = static_cast<double>(s.end - s.start) / 1e9;
    const int32_t p = path[i].parent;
    const ConnectionType type = s.kind == model::SpanKind::kConsumer ? ConnectionType::kMessaging
                                                                     : ConnectionType::kDirect;
    if (p >= 0) {
      const Span& c = spans[static_cast<size_t>(p)];
      if (IsCaller(c.kind)) {
        paired[static_cast<size_t>(p)] = true;
        AddEdge(c.service, s.service, type, server_seconds,
                static_cast<double>(c.end - c.start) / 1e9, c.error || s.error, s.weight,
                series_step);
      } else if (c.service != s.service) {
        AddEdge(c.service, s.service, type, server_seconds, server_seconds, s.error, s.weight,
                series_step);
      }
    } else if (s.parent == 0) {
      AddEdge(user, s.service, ConnectionType::kVirtual, server_seconds, server_seconds, s.error,
              s.weight, series_step);
    } else {
      ++stats_.unpaired_spans;
    }
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& c = spans[i];
    if (!IsCaller(c.kind) || paired[i]) continue;
    if (c.peer == 0) {
      ++stats_.unpaired_spans;
      continue;
    }
    const double seconds = static_cast<double>(c.end - c.start) / 1e9;
    AddEdge(c.service, c.peer, c.peer_type, seconds, seconds, c.error, c.weight, series_step);
  }

  // Critical path and self time per service.
  const std::vector<PathSegment> segments = CriticalPath(path, static_cast<uint32_t>(root));
  const std::vector<uint64_t> self = SelfTimes(path);
  auto service_step = [&](uint32_t service) -> std::pair<Service*, ServiceSteps*> {
    auto it = services_.find(service);
    if (it == services_.end()) {
      if (services_.size() >= options_.max_services) return {nullptr, nullptr};
      it = services_.emplace(service, Service{}).first;
    }
    Service& svc = it->second;
    if (series_step < 0) return {&svc, nullptr};
    for (ServiceSteps& st : svc.open) {
      if (st.step == series_step) return {&svc, &st};
    }
    svc.open.push_back(ServiceSteps{series_step});
    return {&svc, &svc.open.back()};
  };
  for (const PathSegment& seg : segments) {
    auto [svc, st] = service_step(spans[seg.span].service);
    const double seconds = static_cast<double>(seg.end - seg.start) / 1e9 * weight;
    if (svc != nullptr) svc->critical_path_seconds += seconds;
    if (st != nullptr) st->critical_path_seconds += seconds;
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    auto [svc, st] = service_step(spans[i].service);
    const double seconds = static_cast<double>(self[i]) / 1e9 * spans[i].weight;
    if (svc != nullptr) svc->self_seconds += seconds;
    if (st != nullptr) {
      st->self_seconds += seconds;
      st->spans += spans[i].weight;
    }
  }
}

void TraceAnalytics::Finish(int64_t before_step) {
  absl::MutexLock lock(&mu_);
  // In label order, so that the store's listeners (detection, incidents) see
  // a step's values in the same order in every run.
  std::vector<Edge*> edges;
  edges.reserve(edges_.size());
  for (auto& [key, e] : edges_) edges.push_back(e.get());
  std::sort(edges.begin(), edges.end(), [](const Edge* a, const Edge* b) { return a->labels < b->labels; });
  for (Edge* e : edges) e->red.Finish(before_step, store_, "edge_", e->labels);
  trace_red_.Finish(before_step, store_, "trace_", {});
  std::vector<std::pair<const std::string*, Service*>> services;
  services.reserve(services_.size());
  for (auto& [id, svc] : services_) services.emplace_back(&strings_[id], &svc);
  std::sort(services.begin(), services.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (auto& [name, svc_ptr] : services) {
    Service& svc = *svc_ptr;
    const Labels labels = {{"service", *name}};
    std::erase_if(svc.open, [&](const ServiceSteps& st) {
      if (st.step >= before_step) return false;
      const uint64_t t = static_cast<uint64_t>(st.step) * store_->step_nanos();
      double total = 0;
      for (const TraceStep& ts : trace_steps_) {
        if (ts.step == st.step) total = ts.duration_seconds;
      }
      if (total > 0) store_->Set("critical_path_share", labels, t, st.critical_path_seconds / total);
      if (st.spans > 0) store_->Set("self_time_mean_seconds", labels, t, st.self_seconds / st.spans);
      return true;
    });
  }
  std::erase_if(trace_steps_, [&](const TraceStep& ts) { return ts.step < before_step; });
}

std::vector<store::Dependency> TraceAnalytics::Dependencies(uint64_t start_nanos,
                                                           uint64_t end_nanos) const {
  std::vector<store::Dependency> out;
  if (end_nanos <= start_nanos) return out;
  const double step_seconds = static_cast<double>(store_->step_nanos()) / 1e9;
  for (const Series& s : store_->Query("edge_calls_per_second", {}, start_nanos, end_nanos - 1)) {
    double calls = 0;
    for (const Point& p : s.points) calls += p.value * step_seconds;
    store::Dependency d;
    for (const auto& [k, v] : s.labels) {
      if (k == "client") d.parent = v;
      if (k == "server") d.child = v;
    }
    d.call_count = static_cast<uint64_t>(std::llround(calls));
    if (d.call_count == 0) continue;
    auto same = std::find_if(out.begin(), out.end(), [&](const store::Dependency& o) {
      return o.parent == d.parent && o.child == d.child;
    });
    if (same != out.end()) {
      same->call_count += d.call_count;
    } else {
      out.push_back(std::move(d));
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> TraceAnalytics::Edges() const {
  absl::MutexLock lock(&edge_names_mu_);
  return edge_names_;
}

void TraceAnalytics::AppendMetrics(std::string* out) const {
  absl::MutexLock lock(&mu_);
  AppendFamily(out, "traces_service_graph_request_total", "counter",
               "Requests between two nodes of the service graph (adjusted for sampling).");
  for (const auto& [k, e] : edges_) {
    AppendSample(out, "traces_service_graph_request_total", e->labels, e->requests);
  }
  AppendFamily(out, "traces_service_graph_request_failed_total", "counter",
               "Failed requests between two nodes of the service graph.");
  for (const auto& [k, e] : edges_) {
    AppendSample(out, "traces_service_graph_request_failed_total", e->labels, e->failed);
  }
  AppendFamily(out, "traces_service_graph_request_server_seconds", "histogram",
               "Time the server side of an edge took, in seconds.");
  for (const auto& [k, e] : edges_) {
    AppendHistogram(out, "traces_service_graph_request_server_seconds", e->labels,
                    options_.buckets_seconds, e->server_buckets, e->server_sum, e->requests);
  }
  AppendFamily(out, "traces_service_graph_request_client_seconds", "histogram",
               "Time the client side of an edge took, in seconds.");
  for (const auto& [k, e] : edges_) {
    AppendHistogram(out, "traces_service_graph_request_client_seconds", e->labels,
                    options_.buckets_seconds, e->client_buckets, e->client_sum, e->requests);
  }
  AppendFamily(out, "traces_service_graph_unpaired_spans_total", "counter",
               "Client spans with no server span or peer attribute, and server spans whose "
               "parent is missing from the trace.");
  AppendSample(out, "traces_service_graph_unpaired_spans_total", {}, stats_.unpaired_spans);
  AppendFamily(out, "traces_service_graph_dropped_edges_total", "counter",
               "Edge observations dropped because max_edges was reached.");
  AppendSample(out, "traces_service_graph_dropped_edges_total", {}, stats_.dropped_edges);
  AppendFamily(out, "ariadne_traces_completed_total", "counter",
               "Traces completed (idle for the completion timeout) and analysed.");
  AppendSample(out, "ariadne_traces_completed_total", {}, stats_.completed_traces);
  AppendFamily(out, "ariadne_traces_completed_early_total", "counter",
               "Traces completed before their idle timeout because max_pending_spans was reached.");
  AppendSample(out, "ariadne_traces_completed_early_total", {}, stats_.completed_early);
  AppendFamily(out, "ariadne_trace_duration_seconds_total", "counter",
               "Sum of completed traces' durations (adjusted for sampling).");
  AppendSample(out, "ariadne_trace_duration_seconds_total", {}, trace_seconds_total_);
  AppendFamily(out, "ariadne_critical_path_seconds_total", "counter",
               "Seconds each service spent on its traces' critical paths.");
  for (const auto& [id, svc] : services_) {
    AppendSample(out, "ariadne_critical_path_seconds_total", {{"service", strings_[id]}},
                 svc.critical_path_seconds);
  }
  AppendFamily(out, "ariadne_self_time_seconds_total", "counter",
               "Seconds each service's spans spent on their own work (not waiting on children).");
  for (const auto& [id, svc] : services_) {
    AppendSample(out, "ariadne_self_time_seconds_total", {{"service", strings_[id]}},
                 svc.self_seconds);
  }
  AppendFamily(out, "ariadne_analytics_pending_traces", "gauge",
               "Traces waiting for their completion timeout.");
  AppendSample(out, "ariadne_analytics_pending_traces", {}, static_cast<double>(pending_.size()));
  AppendFamily(out, "ariadne_analytics_pending_spans", "gauge",
               "Spans of traces waiting for their completion timeout.");
  AppendSample(out, "ariadne_analytics_pending_spans", {}, static_cast<double>(pending_spans_));
}

TraceStats TraceAnalytics::stats() const {
  absl::MutexLock lock(&mu_);
  TraceStats s = stats_;
  s.pending_traces = pending_.size();
  s.pending_spans = pending_spans_;
  size_t bytes = pending_.capacity() * (sizeof(model::TraceId) + sizeof(Pending)) +
                 order_.size() * sizeof(order_.front());
  for (const auto& [id, p] : pending_) bytes += p.spans.capacity() * sizeof(Span);
  for (const auto& [k, e] : edges_) bytes += sizeof(k) + sizeof(Edge) + e->red.MemoryBytes();
  s.memory_bytes = bytes;
  return s;
}

}  // namespace ariadne::analytics
