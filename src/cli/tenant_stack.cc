#include "cli/tenant_stack.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/prom_text.h"
#include "common/strings.h"
#include "common/tenant.h"
#include "control/autoscaler.h"
#include "decode/decode.h"
#include "query/params.h"
#include "spdlog/spdlog.h"

namespace ariadne::cli {

namespace {

// Replays the log into the head. Records were validated when they were
// admitted, so replay does not apply the (possibly since lowered) limits.
// Records the blocks already cover (sequence number <= `covered`) are skipped.
absl::Status Replay(wal::Wal* log, store::Head* head, uint64_t covered) {
  const decode::Limits unlimited = decode::Limits::Admitted();
  uint64_t spans = 0, undecodable = 0, skipped = 0;
  wal::ReplayStats stats;
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = log->Replay(
      [&](uint64_t seq, std::string_view payload) {
        if (seq <= covered) {
          ++skipped;
          return;
        }
        decode::DecodeStats ds;
        auto batch = decode::DecodeOtlpProto(std::string(payload), unlimited, &ds);
        if (!batch.ok()) {
          ++undecodable;
          spdlog::warn("wal record {} does not decode, skipped: {}", seq,
                       StdView(batch.status().message()));
          return;
        }
        spans += batch->size();
        head->Append(std::make_shared<const model::SpanBatch>(std::move(*batch)));
      },
      &stats);
  if (!s.ok()) return s;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info(
      "replayed {} records ({} spans) from {} segments in {:.2f}s; {} already in blocks, {} "
      "corrupt records skipped, {} torn bytes truncated, {} undecodable",
      stats.records - skipped, spans, stats.segments, seconds, skipped, stats.corrupt_records,
      stats.truncated_bytes, undecodable);
  return absl::OkStatus();
}

std::string StorageMetricsText(const store::BlockSet& blocks, const store::Flusher& flusher) {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    absl::StrAppend(&out, "# HELP ", AbslView(name), " ", AbslView(help), "\n# TYPE ", AbslView(name),
                    " ", AbslView(type), "\n");
  };
  const store::BlockSetStats bs = blocks.stats();
  const store::FlusherStats fs = flusher.stats();
  family("ariadne_blocks", "gauge", "Blocks on disk that queries read.");
  absl::StrAppend(&out, "ariadne_blocks ", bs.blocks, "\n");
  family("ariadne_blocks_bytes", "gauge", "Bytes of the blocks on disk.");
  absl::StrAppend(&out, "ariadne_blocks_bytes ", bs.bytes, "\n");
  family("ariadne_blocks_spans", "gauge", "Spans held in blocks.");
  absl::StrAppend(&out, "ariadne_blocks_spans ", bs.spans, "\n");
  family("ariadne_blocks_memory_bytes", "gauge",
         "Memory the open blocks hold (bloom filters, indexes, caches).");
  absl::StrAppend(&out, "ariadne_blocks_memory_bytes ", bs.memory_bytes, "\n");
  family("ariadne_blocks_damaged_total", "counter",
         "Blocks found damaged (CRC or structure) and skipped by queries.");
  absl::StrAppend(&out, "ariadne_blocks_damaged_total ", bs.damaged, "\n");
  family("ariadne_blocks_retention_removed_total", "counter", "Blocks deleted by retention.");
  absl::StrAppend(&out, "ariadne_blocks_retention_removed_total ", bs.retention_removed, "\n");
  family("ariadne_blocks_written_total", "counter", "Blocks cut from the head.");
  absl::StrAppend(&out, "ariadne_blocks_written_total ", fs.blocks_written, "\n");
  family("ariadne_blocks_flushed_spans_total", "counter", "Spans moved from the head to blocks.");
  absl::StrAppend(&out, "ariadne_blocks_flushed_spans_total ", fs.spans_flushed, "\n");
  family("ariadne_blocks_flush_failures_total", "counter",
         "Failed attempts to cut the head into a block (retried).");
  absl::StrAppend(&out, "ariadne_blocks_flush_failures_total ", fs.failures, "\n");
  family("ariadne_blocks_last_flush_seconds", "gauge", "How long the last block took to write.");
  absl::StrAppend(&out, "ariadne_blocks_last_flush_seconds ", fs.last_flush_seconds, "\n");
  family("ariadne_blocks_compactions_total", "counter",
         "Blocks written by compacting smaller blocks.");
  absl::StrAppend(&out, "ariadne_blocks_compactions_total ", fs.compactions, "\n");
  family("ariadne_blocks_compaction_failures_total", "counter",
         "Failed attempts to compact blocks (retried).");
  absl::StrAppend(&out, "ariadne_blocks_compaction_failures_total ", fs.compaction_failures, "\n");
  family("ariadne_wal_segments_removed_total", "counter",
         "Log segments deleted because blocks cover them.");
  absl::StrAppend(&out, "ariadne_wal_segments_removed_total ", fs.wal_segments_removed, "\n");
  return out;
}

// The log's and the head's metrics.
std::string LogHeadMetricsText(const wal::Wal& log, const store::Head& head,
                               uint64_t max_head_bytes) {
  std::string out;
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    out.append(name).append(" ").append(type).append("\n");
  };
  const wal::Stats ws = log.stats();
  family("ariadne_wal_records_total", "counter", "Records appended to the write-ahead log.");
  absl::StrAppend(&out, "ariadne_wal_records_total ", ws.appended_records, "\n");
  family("ariadne_wal_bytes_total", "counter", "Bytes appended to the write-ahead log.");
  absl::StrAppend(&out, "ariadne_wal_bytes_total ", ws.appended_bytes, "\n");
  family("ariadne_wal_fsyncs_total", "counter", "fsync calls made by the write-ahead log.");
  absl::StrAppend(&out, "ariadne_wal_fsyncs_total ", ws.fsyncs, "\n");
  family("ariadne_wal_sync_duration_seconds", "histogram",
         "How long the write-ahead log's fdatasync calls took (log sync latency).");
  {
    uint64_t cumulative = 0, count = 0;
    for (uint64_t c : ws.sync_buckets) count += c;
    for (size_t i = 0; i < ws.sync_buckets.size(); ++i) {
      cumulative += ws.sync_buckets[i];
      const std::string le =
          i < wal::kSyncBucketsSeconds.size() ? absl::StrCat(wal::kSyncBucketsSeconds[i]) : "+Inf";
      absl::StrAppend(&out, "ariadne_wal_sync_duration_seconds_bucket{le=\"", le, "\"} ",
                      cumulative, "\n");
    }
    absl::StrAppend(&out, "ariadne_wal_sync_duration_seconds_sum ", ws.sync_seconds_sum, "\n");
    absl::StrAppend(&out, "ariadne_wal_sync_duration_seconds_count ", count, "\n");
  }
  family("ariadne_wal_queued_bytes", "gauge",
         "Bytes appended to the write-ahead log and not yet acknowledged (log queue).");
  absl::StrAppend(&out, "ariadne_wal_queued_bytes ", ws.queued_bytes, "\n");
  const store::HeadStats hs = head.stats();
  family("ariadne_head_spans", "gauge", "Spans held in the head.");
  absl::StrAppend(&out, "ariadne_head_spans ", hs.spans, "\n");
  family("ariadne_head_traces", "gauge", "Traces held in the head.");
  absl::StrAppend(&out, "ariadne_head_traces ", hs.traces, "\n");
  family("ariadne_head_memory_bytes", "gauge", "Approximate bytes of memory the head holds.");
  absl::StrAppend(&out, "ariadne_head_memory_bytes ", hs.memory_bytes, "\n");
  family("ariadne_head_oldest_batch_age_seconds", "gauge",
         "Age of the oldest batch in the head: how far block flushing is behind.");
  {
    const auto oldest = head.OldestAppend();
    const double age =
        oldest ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *oldest).count()
               : 0.0;
    absl::StrAppend(&out, "ariadne_head_oldest_batch_age_seconds ", age, "\n");
  }
  family("ariadne_head_memory_limit_bytes", "gauge",
         "Head size at which ingest is refused (limits.max_head_bytes).");
  absl::StrAppend(&out, "ariadne_head_memory_limit_bytes ", max_head_bytes, "\n");
  return out;
}

// The services an incident names, likeliest cause first: the trace-based
// ranking once there is one; until then the first one.
std::vector<std::string> LikeliestCauses(const detect::Incident& i) {
  std::vector<std::string> services;
  for (const detect::RcaCandidate& c : i.root_causes) services.push_back(c.service);
  if (services.empty()) {
    for (const detect::RankedService& r : i.ranking) services.push_back(r.service);
  }
  return services;
}

// An incident as an Alertmanager alert: one alert per incident (its labels
// never change, so an update replaces the alert); the likeliest cause is an
// annotation, since the ranking changes as the incident grows.
detect::Alert IncidentAlert(const detect::Incident& i, const std::string& tenant) {
  detect::Alert a;
  a.labels["alertname"] = "AriadneIncident";
  if (!tenant.empty()) a.labels["tenant"] = tenant;
  a.labels["incident"] = absl::StrCat(i.id);
  a.labels["severity"] = "warning";
  const std::vector<std::string> services = LikeliestCauses(i);
  if (!services.empty()) a.annotations["service"] = services.front();
  a.annotations["summary"] = absl::StrCat("Incident ", i.id, ": ", i.anomaly_count,
                                          " anomalies; likeliest cause first: ",
                                          absl::StrJoin(services, ", "));
  if (!i.root_causes.empty()) {
    a.annotations["description"] = i.root_causes.front().explanation;
    if (!i.root_causes.front().exemplar_trace_ids.empty()) {
      a.annotations["trace_id"] = i.root_causes.front().exemplar_trace_ids.front();
    }
  } else if (!i.ranking.empty()) {
    a.annotations["description"] = i.ranking.front().evidence;
  }
  a.starts_at_nanos = i.opened_nanos;
  a.ends_at_nanos = i.open ? 0 : i.resolved_nanos;
  return a;
}

// An incident for webhooks: {"id", "state", "opened_unix_nano", "tenant" (with tenants),
// "anomaly_count", "ranking": [services, likeliest first], "root_causes":
// [the trace-based candidates with evidence, as on GET /api/v1/incidents]}.
std::string IncidentWebhookJson(const detect::Incident& i, const std::string& tenant) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  if (!tenant.empty()) {
    w.Key("tenant");
    w.String(tenant.data(), static_cast<rapidjson::SizeType>(tenant.size()));
  }
  w.Key("id");
  w.Uint64(i.id);
  w.Key("state");
  w.String(i.open ? "open" : "resolved");
  w.Key("opened_unix_nano");
  w.Uint64(i.opened_nanos);
  w.Key("anomaly_count");
  w.Int(i.anomaly_count);
  w.Key("ranking");
  w.StartArray();
  for (const std::string& s : LikeliestCauses(i)) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  w.EndArray();
  w.Key("root_causes");
  const std::string causes = detect::RcaCandidatesJson(i.root_causes);
  w.RawValue(causes.data(), causes.size(), rapidjson::kArrayType);
  w.EndObject();
  return sb.GetString();
}

// The store of a tenant that has sent nothing: every answer is empty.
class EmptyBackend : public store::StorageBackend {
 public:
  absl::StatusOr<std::vector<model::SpanRef>> GetTrace(const model::TraceId&) const override {
    return std::vector<model::SpanRef>{};
  }
  absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const store::TraceQuery&) const override {
    return std::vector<std::pair<uint64_t, model::TraceId>>{};
  }
  absl::StatusOr<std::vector<std::string>> Services() const override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::vector<store::Operation>> Operations(
      std::string_view, std::optional<model::SpanKind>) const override {
    return std::vector<store::Operation>{};
  }
  absl::StatusOr<std::vector<store::Dependency>> Dependencies(uint64_t, uint64_t) const override {
    return std::vector<store::Dependency>{};
  }
};

uint64_t Millis(const std::string& duration) {
  return static_cast<uint64_t>(*query::ParseDurationNanos(duration) / 1000000);
}

}  // namespace

absl::StatusOr<EmbeddedParts> OpenEmbedded(const ServerConfig& config, const std::string& dir,
                                           Executor post_to_io, uint64_t max_head_bytes,
                                           std::function<uint64_t()> head_bytes_in_use) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  EmbeddedParts p;
  wal::Options wal_options;
  wal_options.sync = *wal::ParseSyncPolicy(config.wal_sync);
  wal_options.batch_window = std::chrono::milliseconds(Millis(config.wal_batch_window));
  wal_options.segment_bytes = config.wal_segment_bytes;
  auto log = wal::Wal::Open(dir + "/wal", wal_options);
  if (!log.ok()) {
    return absl::Status(log.status().code(), absl::StrCat("cannot open the write-ahead log: ",
                                                          log.status().message()));
  }
  p.log = *std::move(log);
  auto blocks = store::BlockSet::Open(dir + "/blocks");
  if (!blocks.ok()) {
    return absl::Status(blocks.status().code(),
                        absl::StrCat("cannot open the blocks: ", blocks.status().message()));
  }
  p.blocks = *std::move(blocks);
  p.head = std::make_unique<store::Head>();
  p.store = std::make_unique<store::EmbeddedStore>(p.head.get(), p.blocks.get());
  p.ingester = std::make_unique<receive::Ingester>(p.log.get(), p.head.get(), std::move(post_to_io),
                                                   max_head_bytes, std::move(head_bytes_in_use));
  store::FlusherOptions fo;
  fo.block_duration = std::chrono::milliseconds(Millis(config.block_duration));
  fo.cut_bytes = config.block_cut_bytes;
  fo.retention = std::chrono::milliseconds(Millis(config.retention));
  fo.max_bytes = config.storage_max_bytes;
  fo.compaction.max_inputs = config.compaction_max_inputs;
  fo.compaction.target_block_bytes = config.compaction_target_bytes;
  p.flusher = std::make_unique<store::Flusher>(
      p.head.get(), p.blocks.get(),
      [ing = p.ingester.get()]() -> absl::StatusOr<store::HeadCut> {
        auto cut = ing->Cut();
        if (!cut.ok()) return cut.status();
        return store::HeadCut{cut->epoch, cut->wal_seq};
      },
      [wal = p.log.get()](uint64_t seq) { return wal->RemoveThrough(seq); }, fo);
  return p;
}

absl::Status ReplayEmbedded(EmbeddedParts& parts) {
  return Replay(parts.log.get(), parts.head.get(), parts.blocks->covered_wal_seq());
}

std::string EmbeddedMetricsText(const EmbeddedParts& parts, uint64_t max_head_bytes) {
  return LogHeadMetricsText(*parts.log, *parts.head, max_head_bytes) +
         StorageMetricsText(*parts.blocks, *parts.flusher);
}

void Analysis::Start() {
  if (analytics) analytics->Start();
}

void Analysis::Stop() {
  if (root_causes) root_causes->Stop();
  if (analytics) analytics->Stop();
}

std::string Analysis::MetricsText() const {
  std::string text;
  if (analytics) text += analytics->MetricsText();
  if (detection) text += detection->MetricsText();
  if (incidents) text += incidents->MetricsText();
  return text;
}

Analysis BuildAnalysis(const ServerConfig& config, const store::StorageBackend* backend,
                       detect::Notifier* notifier, const std::string& tenant) {
  Analysis a;
  analytics::AnalyticsOptions o;
  o.series.step_nanos = static_cast<uint64_t>(*query::ParseDurationNanos(config.analytics_step));
  o.series.window_nanos = static_cast<uint64_t>(*query::ParseDurationNanos(config.analytics_window));
  o.series.max_series = config.analytics_max_series;
  o.lateness_nanos = static_cast<uint64_t>(*query::ParseDurationNanos(config.analytics_lateness));
  o.traces.idle_nanos = static_cast<uint64_t>(*query::ParseDurationNanos(config.trace_idle));
  o.traces.max_pending_spans = config.max_pending_spans;
  o.span_metrics.dimensions = config.span_metrics_dimensions;
  o.span_metrics.collector_names = config.span_metrics_collector_names;
  o.span_metrics.max_series = config.span_metrics_max_series;
  a.analytics = std::make_unique<analytics::Analytics>(o, [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  });
  detect::DetectionOptions d;
  d.threshold = config.detection_threshold;
  a.detection = std::make_unique<detect::Detection>(d);
  a.analytics->series().SetListener(
      [det = a.detection.get()](std::string_view name, const analytics::Labels& labels,
                                uint64_t t, double v) { det->OnValue(name, labels, t, v); });
  a.incidents = std::make_unique<detect::IncidentManager>(
      detect::IncidentOptions{}, [an = a.analytics.get()] { return an->Edges(); },
      [notifier, tenant](const detect::Incident& i) {
        if (notifier != nullptr) {
          notifier->Notify({IncidentAlert(i, tenant)}, IncidentWebhookJson(i, tenant));
        }
      });
  a.detection->SetListeners(
      [inc = a.incidents.get()](const detect::Anomaly& an) { inc->OnAnomaly(an); },
      [inc = a.incidents.get()](uint64_t t) { inc->Advance(t); },
      [inc = a.incidents.get()](const detect::Anomaly& an) { inc->OnOngoing(an); });
  a.root_causes = std::make_unique<detect::RootCauseRanker>(backend, &a.analytics->series(),
                                                            a.incidents.get());
  a.root_causes->Start();
  return a;
}

TenantRegistry::TenantRegistry(TenantRegistryOptions options)
    : options_(std::move(options)), empty_store_(std::make_unique<EmptyBackend>()) {
  query::ApiOptions api;
  api.now_nanos = options_.now_nanos;
  empty_api_ = std::make_unique<query::QueryApi>(empty_store_.get(), api);
  empty_api_->SetReady(true);
}

TenantRegistry::~TenantRegistry() { StopAll(); }

absl::StatusOr<std::unique_ptr<TenantStack>> TenantRegistry::Open(const std::string& id) {
  const ServerConfig& config = *options_.config;
  auto t = std::make_unique<TenantStack>();
  t->id_ = id;
  auto parts = OpenEmbedded(config, absl::StrCat(config.data_dir, "/tenants/", id),
                            options_.post_to_io, options_.max_head_bytes,
                            [this] { return HeadBytes(); });
  if (!parts.ok()) {
    return absl::UnavailableError(
        absl::StrCat("tenant ", id, ": ", parts.status().message()));
  }
  t->parts_ = *std::move(parts);
  if (auto s = ReplayEmbedded(t->parts_); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("tenant ", id, ": cannot replay its log: ",
                                               s.message()));
  }
  const bool analyze = config.analytics_enabled && HasRole(config, "analyze");
  if (analyze) {
    t->analysis_ = BuildAnalysis(config, t->parts_.store.get(), options_.notifier, id);
  }
  control::Autoscaler* autoscaler =
      id == config.autoscaler_tenant ? options_.autoscaler : nullptr;
  if (t->analysis_.analytics || autoscaler != nullptr) {
    t->parts_.ingester->SetStoredListener(
        [a = t->analysis_.analytics.get(),
         s = autoscaler](const std::shared_ptr<const model::SpanBatch>& batch) {
          if (a != nullptr) a->Enqueue(batch);
          if (s != nullptr) s->PushSpans(*batch);
        });
  }
  query::ApiOptions api;
  api.now_nanos = options_.now_nanos;
  api.analytics = t->analysis_.analytics.get();
  api.detection = t->analysis_.detection.get();
  api.incidents = t->analysis_.incidents.get();
  api.autoscaler = autoscaler;
  t->api_ = std::make_unique<query::QueryApi>(t->parts_.store.get(), api);
  t->api_->SetReady(true);
  spdlog::info("tenant {}: opened", id);
  return t;
}

void TenantRegistry::StartOne(TenantStack& t) {
  t.parts_.flusher->Start();
  t.analysis_.Start();
}

absl::Status TenantRegistry::OpenExisting() {
  const std::string root = options_.config->data_dir + "/tenants";
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return absl::OkStatus();
  std::vector<std::string> ids;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (!entry.is_directory()) continue;
    std::string id = entry.path().filename().string();
    if (!ValidateTenantId(id).ok()) {
      spdlog::warn("{}: not a tenant id, ignored", entry.path().string());
      continue;
    }
    ids.push_back(std::move(id));
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", root, ": ", ec.message()));
  for (const std::string& id : ids) {
    auto t = GetOrOpen(id);
    if (!t.ok()) return t.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<TenantStack*> TenantRegistry::GetOrOpen(std::string_view id) {
  if (TenantStack* t = Find(id)) return t;
  if (id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no tenant: send the ", options_.config->tenant_header, " header"));
  }
  if (auto s = ValidateTenantId(id); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (auto it = tenants_.find(AbslView(id)); it != tenants_.end()) return it->second.get();
  if (stopped_) return absl::UnavailableError("the server is stopping");
  if (tenants_.size() >= options_.config->max_tenants) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server holds its maximum of ", options_.config->max_tenants, " tenants (tenants.max)"));
  }
  // Opened under the lock, so that a tenant's directory is opened once; a
  // new tenant's log is empty, so this is short (a long replay only happens
  // in OpenExisting, before ingest listens).
  auto opened = Open(std::string(id));
  if (!opened.ok()) return opened.status();
  TenantStack* t = opened->get();
  tenants_.emplace(std::string(id), *std::move(opened));
  order_.push_back(t);
  if (started_) StartOne(*t);
  return t;
}

TenantStack* TenantRegistry::Find(std::string_view id) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = tenants_.find(AbslView(id));
  return it == tenants_.end() ? nullptr : it->second.get();
}

void TenantRegistry::StartAll() {
  absl::MutexLock lock(&mu_);
  started_ = true;
  for (TenantStack* t : order_) StartOne(*t);
}

void TenantRegistry::StopAll() {
  std::vector<TenantStack*> all;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    all = order_;
  }
  for (TenantStack* t : all) {
    t->parts_.flusher->Stop();  // a block being written is finished first
    t->analysis_.Stop();
    if (auto s = t->parts_.log->Close(); !s.ok()) {
      spdlog::error("tenant {}: closing the write-ahead log: {}", t->id(), StdView(s.message()));
    }
  }
}

size_t TenantRegistry::size() {
  absl::ReaderMutexLock lock(&mu_);
  return tenants_.size();
}

uint64_t TenantRegistry::HeadBytes() {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t total = 0;
  for (const TenantStack* t : order_) total += t->parts_.head->memory_bytes();
  return total;
}

std::string TenantRegistry::MetricsText() {
  std::vector<std::pair<std::string, std::string>> parts;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (TenantStack* t : order_) {
      parts.emplace_back(t->id(), EmbeddedMetricsText(t->parts_, options_.max_head_bytes) +
                                      t->analysis_.MetricsText());
    }
  }
  std::string out = MergeLabeledExpositions("tenant", parts);
  absl::StrAppend(&out,
                  "# HELP ariadne_tenants Tenants this server holds.\n# TYPE ariadne_tenants "
                  "gauge\nariadne_tenants ",
                  parts.size(), "\n");
  return out;
}

void TenantQueryRouter::Handle(serve::HttpRequest request, serve::Responder respond) {
  std::string_view path = request.path;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const bool api = path == "/api" || path.starts_with("/api/");
  if (!api || path == "/api/admin" || path.starts_with("/api/admin/")) {
    server_->Handle(std::move(request), std::move(respond));  // probes, /metrics, UI files
    return;
  }
  if (request.tenant.empty()) {
    respond(server_->ErrorResponse(401, absl::StrCat("no tenant: send the ", header_, " header"),
                                   request.content_type));
    return;
  }
  if (auto s = ValidateTenantId(request.tenant); !s.ok()) {
    respond(server_->ErrorResponse(400, std::string(s.message()), request.content_type));
    return;
  }
  TenantStack* t = tenants_->Find(request.tenant);
  query::QueryApi* target = t != nullptr ? t->api() : tenants_->empty_api();
  target->Handle(std::move(request), std::move(respond));
}

}  // namespace ariadne::cli
