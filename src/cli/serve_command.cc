#include "cli/serve_command.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clickhouse/backend.h"
#include "clickhouse/client.h"
#include "clickhouse/schema.h"
#include "clickhouse/writer.h"
#include "kafka/consumer.h"
#include "kafka/publisher.h"
#include "analytics/analytics.h"
#include "analytics/prom_client.h"
#include "detect/detection.h"
#include "detect/incidents.h"
#include "detect/root_cause.h"
#include "detect/notify.h"
#include "common/admission.h"
#include "common/auth.h"
#include "common/rate_limit.h"
#include "common/strings.h"
#include "cli/tenant_stack.h"
#include "absl/strings/ascii.h"
#include "control/autoscaler.h"
#include "control/keda_scaler.h"
#include "control/kube_scale.h"
#include "decode/decode.h"
#include "query/api.h"
#include "query/params.h"
#include "query/static_files.h"
#include "receive/clickhouse_sink.h"
#include "receive/http_receivers.h"
#include "receive/ingest.h"
#include "receive/otlp_grpc.h"
#include "serve/http_server.h"
#include "serve/tls.h"
#include "spdlog/spdlog.h"
#include "store/block_set.h"
#include "store/embedded.h"
#include "store/flusher.h"
#include "store/head.h"
#include "wal/wal.h"

namespace ariadne::cli {

namespace {

uint64_t NowNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.good()) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

// The receivers' counters (`sink`: what they hand batches to, null without
// the receive role) and the admission budget.
std::string ReceiverMetricsText(const receive::SpanSink* sink, const Admission& admission) {
  std::string out;
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    out.append(name).append(" ").append(type).append("\n");
  };
  struct Counter {
    std::string_view name;
    std::string_view help;
    const std::atomic<uint64_t> receive::IngestCounters::*field;
  };
  const Counter counters[] = {
      {"ariadne_receiver_requests_total", "Export requests received.",
       &receive::IngestCounters::requests},
      {"ariadne_receiver_accepted_spans_total", "Spans accepted and stored.",
       &receive::IngestCounters::accepted_spans},
      {"ariadne_receiver_rejected_spans_total", "Invalid spans rejected (partial success).",
       &receive::IngestCounters::rejected_spans},
      {"ariadne_receiver_malformed_requests_total", "Requests refused as malformed.",
       &receive::IngestCounters::malformed_requests},
      {"ariadne_receiver_refused_requests_total",
       "Requests refused because of overload, a rate limit, a tenant or a log failure.",
       &receive::IngestCounters::refused_requests},
      {"ariadne_receiver_rate_limited_requests_total",
       "Requests refused because their tenant was over limits.spans_per_second.",
       &receive::IngestCounters::rate_limited_requests},
      {"ariadne_receiver_tenant_refused_requests_total",
       "Requests refused for a missing or invalid tenant, or no room for a new one.",
       &receive::IngestCounters::unknown_tenant_requests},
  };
  for (const Counter& c : counters) {
    if (sink == nullptr) break;
    const receive::SpanSink& ingester = *sink;
    family(c.name, "counter", c.help);
    for (size_t p = 0; p < static_cast<size_t>(receive::Protocol::kCount); ++p) {
      const auto protocol = static_cast<receive::Protocol>(p);
      out.append(c.name).append("{protocol=\"").append(receive::ProtocolName(protocol));
      absl::StrAppend(&out, "\"} ", (ingester.counters(protocol).*(c.field)).load(), "\n");
    }
  }
  family("ariadne_admission_inflight_bytes", "gauge",
         "Bytes of requests admitted and not yet answered.");
  absl::StrAppend(&out, "ariadne_admission_inflight_bytes ", admission.used(), "\n");
  family("ariadne_admission_limit_bytes", "gauge", "Admission budget (limits.max_inflight_bytes).");
  absl::StrAppend(&out, "ariadne_admission_limit_bytes ", admission.limit(), "\n");
  return out;
}

std::string PrometheusPullMetricsText(const analytics::ResourcePullerStats& s) {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, uint64_t v) {
    absl::StrAppend(&out, "# HELP ", AbslView(name), " ", AbslView(help), "\n# TYPE ",
                    AbslView(name), " counter\n", AbslView(name), " ", v, "\n");
  };
  counter("ariadne_prometheus_pulls_total", "Reads of resource series from analytics.prometheus.url.",
          s.pulls);
  counter("ariadne_prometheus_pull_failures_total", "Reads of resource series that failed.",
          s.failures);
  counter("ariadne_prometheus_samples_total", "Resource samples written into the series store.",
          s.samples_written);
  return out;
}

// ClickHouse writer and Kafka counters, for the parts this process runs.
std::string ScaleOutMetricsText(const clickhouse::ClickHouseWriter* writer,
                                const kafka::KafkaPublisher* publisher,
                                const std::vector<std::pair<std::string, const kafka::KafkaConsumer*>>&
                                    consumers) {
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                    auto value) {
    absl::StrAppend(&out, "# HELP ", AbslView(name), " ", AbslView(help), "\n# TYPE ",
                    AbslView(name), " ", AbslView(type), "\n", AbslView(name), " ", value, "\n");
  };
  if (writer != nullptr) {
    const clickhouse::WriterStats w = writer->stats();
    metric("ariadne_clickhouse_acked_batches_total", "counter",
           "Batches ClickHouse confirmed.", w.acked_batches);
    metric("ariadne_clickhouse_acked_spans_total", "counter", "Spans ClickHouse confirmed.",
           w.acked_spans);
    metric("ariadne_clickhouse_failed_batches_total", "counter",
           "Batches acknowledged with a non-retryable error.", w.failed_batches);
    metric("ariadne_clickhouse_rejected_batches_total", "counter",
           "Batches refused because the writer's queue was full or it was stopping.",
           w.rejected_batches);
    metric("ariadne_clickhouse_inserts_total", "counter", "INSERTs ClickHouse confirmed.",
           w.inserts);
    metric("ariadne_clickhouse_insert_retries_total", "counter",
           "INSERT attempts that failed and were retried.", w.retries);
    metric("ariadne_clickhouse_queued_bytes", "gauge",
           "Batches' bytes waiting for ClickHouse (clickhouse.max_queue_bytes).", w.queued_bytes);
  }
  if (publisher != nullptr) {
    const kafka::PublisherStats p = publisher->stats();
    metric("ariadne_kafka_produced_total", "counter", "Batches Kafka confirmed (acks=all).",
           p.produced);
    metric("ariadne_kafka_produced_bytes_total", "counter", "Bytes of the batches Kafka confirmed.",
           p.bytes);
    metric("ariadne_kafka_produce_failures_total", "counter",
           "Batches whose delivery failed or timed out.", p.failed);
    metric("ariadne_kafka_produce_refused_total", "counter",
           "Batches refused because the producer's queue was full.", p.refused);
  }
  if (!consumers.empty()) {
    const std::pair<const char*, const char*> families[] = {
        {"ariadne_kafka_consumed_batches_total", "Batches consumed and stored, per group."},
        {"ariadne_kafka_consumed_spans_total", "Spans consumed and stored, per group."},
        {"ariadne_kafka_undecodable_total", "Messages skipped because they do not decode."},
        {"ariadne_kafka_store_retries_total", "Windows whose storage was refused and retried."},
        {"ariadne_kafka_commits_total", "Offset commits after storage."},
        {"ariadne_kafka_commit_failures_total", "Offset commits that failed (rebalance)."}};
    for (size_t f = 0; f < std::size(families); ++f) {
      absl::StrAppend(&out, "# HELP ", families[f].first, " ", families[f].second, "\n# TYPE ",
                      families[f].first, " counter\n");
      for (const auto& [group, consumer] : consumers) {
        const kafka::ConsumerStats c = consumer->stats();
        const uint64_t v[] = {c.messages, c.spans,   c.undecodable,
                              c.retries,  c.commits, c.commit_failures};
        absl::StrAppend(&out, families[f].first, "{group=\"", group, "\"} ", v[f], "\n");
      }
    }
  }
  return out;
}

// The query API's store on a process without the query role (it still
// serves /healthz, /readyz and /metrics on the query listener).
class NoQueryBackend : public store::StorageBackend {
 public:
  absl::StatusOr<std::vector<model::SpanRef>> GetTrace(const model::TraceId&) const override {
    return Refused();
  }
  absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const store::TraceQuery&) const override {
    return Refused();
  }
  absl::StatusOr<std::vector<std::string>> Services() const override { return Refused(); }
  absl::StatusOr<std::vector<store::Operation>> Operations(
      std::string_view, std::optional<model::SpanKind>) const override {
    return Refused();
  }
  absl::StatusOr<std::vector<store::Dependency>> Dependencies(uint64_t, uint64_t) const override {
    return Refused();
  }

 private:
  static absl::Status Refused() {
    return absl::FailedPreconditionError(
        "this process does not have the query role (roles); ask a query node");
  }
};

// With tenants, the sink the receivers count in: every batch is routed to
// its tenant's own (ReceiverOptions::route), none is submitted here.
class TenantCountingSink : public receive::SpanSink {
 public:
  void Submit(model::SpanBatch batch, std::string_view,
              std::function<void(absl::Status)> done) override {
    done(batch.empty() ? absl::OkStatus()
                       : absl::InternalError("a batch reached the tenants' counting sink unrouted"));
  }
};

// The sink of an analyze node without local ingest: what its own Kafka
// consumer group reads goes to analytics only (nothing is stored here), so
// it is "stored" at once.
class AnalyzeOnlySink : public receive::SpanSink {
 public:
  void Submit(model::SpanBatch batch, std::string_view, std::function<void(absl::Status)> done) override {
    auto shared = std::make_shared<const model::SpanBatch>(std::move(batch));
    done(absl::OkStatus());
    if (stored_listener_) stored_listener_(shared);
  }
};

absl::StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("clickhouse.password_file: cannot read ", path));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * page_size : 8ull << 30;
}

// The threads that run the io_context; stopped and joined on every way out
// of RunServe, before the servers and handlers they use are destroyed.
class IoThreads {
 public:
  IoThreads(boost::asio::io_context& io, int n) : io_(io) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([&io] { io.run(); });
  }
  ~IoThreads() { Stop(); }
  void Stop() {
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  boost::asio::io_context& io_;
  std::vector<std::thread> threads_;
};

// Which token set guards a path on the query listener (docs/security.md):
// /metrics (and admin endpoints under /api/admin/) are admin, the API under
// /api is query; the probes and the web UI's files (the same for everybody,
// no data in them: the UI sends the token with its API calls) are open.
// Trailing slashes are dropped as the query API does when it routes, so
// that "/metrics/" cannot reach /metrics with a query token.
enum class QueryScope { kOpen, kQuery, kAdmin };

QueryScope ScopeOfQueryPath(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/metrics" || path == "/api/admin" || path.starts_with("/api/admin/")) {
    return QueryScope::kAdmin;
  }
  if (path == "/api" || path.starts_with("/api/")) return QueryScope::kQuery;
  return QueryScope::kOpen;  // /healthz, /readyz, the UI's files
}

std::string SecurityMetricsText(const std::vector<const TokenSet*>& sets,
                                const serve::TlsContext* tls) {
  std::string out =
      "# HELP ariadne_auth_rejected_total Requests refused for a missing or invalid bearer "
      "token.\n# TYPE ariadne_auth_rejected_total counter\n";
  for (const TokenSet* t : sets) {
    absl::StrAppend(&out, "ariadne_auth_rejected_total{scope=\"", t->scope(), "\"} ",
                    t->rejected(), "\n");
  }
  out +=
      "# HELP ariadne_auth_token_file_reloads_total Token files read again because they "
      "changed.\n# TYPE ariadne_auth_token_file_reloads_total counter\n";
  for (const TokenSet* t : sets) {
    absl::StrAppend(&out, "ariadne_auth_token_file_reloads_total{scope=\"", t->scope(), "\"} ",
                    t->reloads(), "\n");
  }
  if (tls != nullptr) {
    absl::StrAppend(&out,
                    "# HELP ariadne_tls_reloads_total Times the HTTP listeners' certificate "
                    "was loaded again because its files changed.\n"
                    "# TYPE ariadne_tls_reloads_total counter\nariadne_tls_reloads_total ",
                    tls->reloads(), "\n");
  }
  return out;
}

// Blocks until SIGTERM or SIGINT.
int WaitForSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

int RunServe(const ServerConfig& config) {
  if (auto s = Validate(config); !s.ok()) {
    spdlog::error("invalid configuration: {}", StdView(s.message()));
    return 2;
  }
  // Authentication and TLS (docs/security.md), before anything is opened, so that a
  // bad certificate or token file fails fast.
  // With tenants, ingest and query tokens may be bound to one ("<tenant>:<token>").
  TokenSetOptions ingest_token_options{"ingest", config.ingest_tokens, config.ingest_token_files};
  ingest_token_options.tenant_bound = config.tenants_enabled;
  TokenSetOptions query_token_options{"query", config.query_tokens, config.query_token_files};
  query_token_options.tenant_bound = config.tenants_enabled;
  auto ingest_tokens = TokenSet::Create(ingest_token_options);
  auto query_tokens = TokenSet::Create(query_token_options);
  auto admin_tokens = TokenSet::Create({"admin", config.admin_tokens, config.admin_token_files});
  for (const auto* t : {&ingest_tokens, &query_tokens, &admin_tokens}) {
    if (!t->ok()) {
      spdlog::error("{}", StdView(t->status().message()));
      return 2;
    }
  }
  const serve::TlsFiles tls_files{config.tls_cert_file, config.tls_key_file,
                                  config.tls_client_ca_file};
  std::shared_ptr<serve::TlsContext> tls;
  if (tls_files.enabled()) {
    serve::TlsContext::Options o;
    o.on_reload = [](const absl::Status& s) {
      if (s.ok()) {
        spdlog::info("tls: certificate files changed; new HTTP connections use them");
      } else {
        spdlog::warn("tls: changed certificate files do not load, the previous ones stay: {}",
                     StdView(s.message()));
      }
    };
    auto t = serve::TlsContext::Create(tls_files, o);
    if (!t.ok()) {
      spdlog::error("{}", StdView(t.status().message()));
      return 2;
    }
    tls = *std::move(t);
  }
  spdlog::info("security: tls {}{}; tokens required for ingest: {}, query: {}, admin: {}",
               tls ? "on" : "off", !tls_files.client_ca_file.empty() ? " (client certificates)" : "",
               (*ingest_tokens)->open() ? "no" : "yes", (*query_tokens)->open() ? "no" : "yes",
               (*admin_tokens)->open() ? "no" : "yes");

  // Roles and storage (docs/scaling.md): what this process runs.
  const bool role_receive = HasRole(config, "receive");
  const bool role_ingest = HasRole(config, "ingest");
  const bool role_query = HasRole(config, "query");
  const bool role_analyze = HasRole(config, "analyze");
  const bool role_control = HasRole(config, "control");
  const bool use_kafka = !config.kafka_brokers.empty();
  const bool embedded = config.storage_backend == "embedded";
  const bool tenants = config.tenants_enabled;  // Validate: embedded, no Kafka
  // The server's own log, head and blocks (with tenants, each has its own).
  const bool embedded_here = embedded && role_ingest && !tenants;
  spdlog::info("roles: {}; storage: {}; kafka: {}; tenants: {}", absl::StrJoin(config.roles, ","),
               config.storage_backend, use_kafka ? config.kafka_brokers : "none",
               tenants ? absl::StrCat("up to ", config.max_tenants, " by ", config.tenant_header)
                       : "off");

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data dir {}: {}", config.data_dir, ec.message());
    return 1;
  }
  boost::asio::io_context io(config.http_threads);
  auto work = boost::asio::make_work_guard(io);
  auto post_to_io = [&io](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); };
  // After the log has a batch, the head append and the answer run on the I/O
  // threads, leaving the log's writer thread to write and sync.
  const uint64_t max_head_bytes =
      config.max_head_bytes != 0 ? config.max_head_bytes : PhysicalMemoryBytes() / 2;
  if (tenants && std::filesystem::exists(config.data_dir + "/wal", ec)) {
    spdlog::warn("{}/wal and /blocks hold spans stored without tenants; with tenants on they are "
                 "not served (docs/security.md#tenants)",
                 config.data_dir);
  }
  std::optional<EmbeddedParts> parts;
  if (embedded_here) {
    auto opened = OpenEmbedded(config, config.data_dir, post_to_io, max_head_bytes);
    if (!opened.ok()) {
      spdlog::error("{}", StdView(opened.status().message()));
      return 1;
    }
    parts.emplace(*std::move(opened));
  }
  // ClickHouse (docs/clickhouse.md): the schema is ensured before anything
  // listens; a server still starting up is waited for (bounded).
  std::optional<clickhouse::ClickHouseClient> ch_client;
  std::unique_ptr<clickhouse::ClickHouseWriter> ch_writer;
  std::unique_ptr<clickhouse::ClickHouseBackend> ch_backend;
  if (!embedded && (role_ingest || role_query || role_analyze)) {
    clickhouse::ClickHouseOptions co;
    co.url = config.clickhouse_url;
    co.user = config.clickhouse_user;
    if (!config.clickhouse_password_file.empty()) {
      auto password = ReadPasswordFile(config.clickhouse_password_file);
      if (!password.ok()) {
        spdlog::error("{}", StdView(password.status().message()));
        return 2;
      }
      co.password = *std::move(password);
    }
    auto client = clickhouse::ClickHouseClient::Create(co);
    if (!client.ok()) {
      spdlog::error("clickhouse.url: {}", StdView(client.status().message()));
      return 2;
    }
    ch_client.emplace(*std::move(client));
    clickhouse::SchemaOptions so;
    so.database = config.clickhouse_database;
    so.ttl_days = config.clickhouse_ttl_days;
    absl::Status schema = absl::UnknownError("not tried");
    for (int attempt = 0; attempt < 60; ++attempt) {  // about 30 s
      auto features = clickhouse::EnsureSchema(*ch_client, so);
      schema = features.status();
      if (schema.ok() || !clickhouse::ClickHouseRetryable(schema)) break;
      if (attempt == 0) {
        spdlog::warn("clickhouse at {} not reachable yet, retrying: {}", config.clickhouse_url,
                     StdView(schema.message()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!schema.ok()) {
      spdlog::error("cannot prepare the ClickHouse schema at {} (database {}): {}",
                    config.clickhouse_url, config.clickhouse_database, StdView(schema.message()));
      return 1;
    }
    if (role_ingest) {
      clickhouse::WriterOptions wo;
      wo.database = config.clickhouse_database;
      wo.max_queue_bytes = config.clickhouse_max_queue_bytes;
      ch_writer = std::make_unique<clickhouse::ClickHouseWriter>(&*ch_client, wo);
    }
    ch_backend =
        std::make_unique<clickhouse::ClickHouseBackend>(&*ch_client, config.clickhouse_database);
  }
  NoQueryBackend no_query;
  // What the root-cause ranker reads (any role that has a store).
  const store::StorageBackend* backend =
      parts ? static_cast<const store::StorageBackend*>(parts->store.get())
      : ch_backend   ? static_cast<const store::StorageBackend*>(ch_backend.get())
                     : &no_query;
  const store::StorageBackend* query_backend = role_query ? backend : &no_query;

  Admission admission(config.max_inflight_bytes);
  // The storage sink (ingest role): the log + head, or the ClickHouse writer;
  // with tenants, the receivers route each batch to its tenant's log + head
  // and this sink only counts.
  std::unique_ptr<receive::ClickHouseSink> ch_sink;
  TenantCountingSink tenant_counting_sink;
  receive::SpanSink* storage_sink = nullptr;
  if (embedded_here) {
    storage_sink = parts->ingester.get();
  } else if (tenants && role_ingest) {
    storage_sink = &tenant_counting_sink;
  } else if (ch_writer) {
    ch_sink = std::make_unique<receive::ClickHouseSink>(ch_writer.get(), post_to_io);
    storage_sink = ch_sink.get();
  }
  // What the receivers hand batches to: Kafka when configured, else storage.
  std::unique_ptr<kafka::KafkaPublisher> publisher;
  receive::SpanSink* receive_sink = nullptr;
  if (role_receive) {
    if (use_kafka) {
      kafka::PublisherOptions po;
      po.brokers = config.kafka_brokers;
      po.topic = config.kafka_topic;
      auto p = kafka::KafkaPublisher::Create(po, post_to_io);
      if (!p.ok()) {
        spdlog::error("{}", StdView(p.status().message()));
        return 2;
      }
      publisher = *std::move(p);
      receive_sink = publisher.get();
    } else {
      receive_sink = storage_sink;  // Validate: receive without Kafka has ingest
    }
  }
  // Kafka consumers: the ingest group into storage; an analyze node without
  // ingest reads every batch in a group of its own.
  AnalyzeOnlySink analyze_only_sink;
  std::unique_ptr<kafka::KafkaConsumer> ingest_consumer;
  std::unique_ptr<kafka::KafkaConsumer> analyze_consumer;
  if (use_kafka) {
    kafka::ConsumerOptions co;
    co.brokers = config.kafka_brokers;
    co.topic = config.kafka_topic;
    co.max_inflight_bytes = config.kafka_max_inflight_bytes;
    if (role_ingest) {
      co.group = config.kafka_group;
      auto c = kafka::KafkaConsumer::Create(co, storage_sink);
      if (!c.ok()) {
        spdlog::error("{}", StdView(c.status().message()));
        return 2;
      }
      ingest_consumer = *std::move(c);
    } else if (role_analyze && config.analytics_enabled) {
      co.group = config.kafka_analyze_group;
      auto c = kafka::KafkaConsumer::Create(co, &analyze_only_sink);
      if (!c.ok()) {
        spdlog::error("{}", StdView(c.status().message()));
        return 2;
      }
      analyze_consumer = *std::move(c);
    }
  }
  // Where analytics and the autoscaler see stored batches.
  receive::SpanSink* analyzed_sink = storage_sink != nullptr ? storage_sink
                                     : analyze_consumer     ? &analyze_only_sink
                                                            : nullptr;
  std::unique_ptr<detect::Notifier> notifier;  // incidents call it
  if (config.analytics_enabled && role_analyze &&
      (!config.alertmanager_urls.empty() || !config.webhook_urls.empty())) {
    detect::NotifierOptions n;
    n.alertmanager_urls = config.alertmanager_urls;
    n.webhook_urls = config.webhook_urls;
    if (auto s = detect::Notifier::Validate(n); !s.ok()) {
      spdlog::error("detection: {}", StdView(s.message()));
      return 2;
    }
    notifier = std::make_unique<detect::Notifier>(n);
  }
  // Analytics, detection, incidents and root causes; with tenants, each
  // tenant has its own (TenantRegistry).
  Analysis analysis;
  if (config.analytics_enabled && role_analyze && analyzed_sink != nullptr && !tenants) {
    analysis = BuildAnalysis(config, backend, notifier.get(), "");
  }
  // The autoscaler (docs/autoscaling.md#in-the-server) and its actuators.
  std::unique_ptr<control::KubeScaleClient> kube_client;
  std::unique_ptr<control::KubeActuator> kube_actuator;
  std::unique_ptr<control::Autoscaler> autoscaler;
  std::unique_ptr<control::KedaScaler> keda;
  if (tenants && config.autoscaler_enabled && config.autoscaler_tenant.empty()) {
    spdlog::warn("autoscaler: off, since with tenants it needs autoscaler.tenant");
  }
  if (config.autoscaler_enabled && role_control && analyzed_sink != nullptr &&
      (!tenants || !config.autoscaler_tenant.empty())) {
    control::AutoscalerOptions o;
    o.controller.interval_s =
        static_cast<double>(*query::ParseDurationNanos(config.autoscaler_interval)) / 1e9;
    o.controller.slo_s = static_cast<double>(*query::ParseDurationNanos(config.autoscaler_slo)) / 1e9;
    o.controller.slo_quantile = config.autoscaler_slo_quantile;
    o.controller.min_replicas = config.autoscaler_min_replicas;
    o.controller.max_replicas = config.autoscaler_max_replicas;
    o.default_workers = config.autoscaler_workers;
    o.startup_delay_s =
        static_cast<double>(*query::ParseDurationNanos(config.autoscaler_startup_delay)) / 1e9;
    o.initial_replicas = std::max(1, config.autoscaler_min_replicas);
    for (const std::string& item : config.autoscaler_services) {
      auto managed = control::ParseManagedService(item, config.autoscaler_workers);
      if (!managed.ok()) {
        spdlog::error("{}", StdView(managed.status().message()));
        return 2;
      }
      o.services.push_back(*std::move(managed));
    }
    if (!config.kubernetes_url.empty()) {
      absl::StatusOr<control::KubeScaleOptions> k;
      if (config.kubernetes_url == "in-cluster") {
        k = control::InClusterKubeScaleOptions(config.kubernetes_namespace);
      } else {
        k = control::KubeScaleOptions{};
        k->base_url = config.kubernetes_url;
        if (!config.kubernetes_namespace.empty()) k->k8s_namespace = config.kubernetes_namespace;
        k->token_file = config.kubernetes_token_file;
      }
      if (!k.ok()) {
        spdlog::error("autoscaler.kubernetes: {}", StdView(k.status().message()));
        return 2;
      }
      k->dry_run = config.autoscaler_dry_run;
      auto client = control::KubeScaleClient::Create(*std::move(k));
      if (!client.ok()) {
        spdlog::error("autoscaler.kubernetes: {}", StdView(client.status().message()));
        return 2;
      }
      kube_client = *std::move(client);
      // With KEDA in front, KEDA applies the decisions; Kubernetes is only read.
      kube_actuator =
          std::make_unique<control::KubeActuator>(kube_client.get(), config.keda_addr.empty());
    }
    autoscaler = std::make_unique<control::Autoscaler>(std::move(o), kube_actuator.get());
    if (!config.keda_addr.empty()) {
      control::KedaScalerOptions keda_options;
      keda_options.tls = tls_files;
      keda = std::make_unique<control::KedaScaler>(
          [a = autoscaler.get()](std::string_view service) { return a->Desired(service); },
          keda_options);
    }
  }
  analytics::Analytics* analytics = analysis.analytics.get();
  if ((analytics || autoscaler) && analyzed_sink != nullptr && !tenants) {
    analyzed_sink->SetStoredListener([a = analytics, s = autoscaler.get()](
                                   const std::shared_ptr<const model::SpanBatch>& batch) {
      if (a != nullptr) a->Enqueue(batch);
      if (s != nullptr) s->PushSpans(*batch);
    });
  }
  std::optional<query::StaticFiles> ui_files;
  if (!config.ui_dir.empty()) ui_files.emplace(config.ui_dir);
  std::unique_ptr<TenantRegistry> tenant_registry;
  if (tenants) {
    TenantRegistryOptions t;
    t.config = &config;
    t.post_to_io = post_to_io;
    t.max_head_bytes = max_head_bytes;
    t.notifier = notifier.get();
    t.autoscaler = autoscaler.get();
    t.now_nanos = NowNanos;
    tenant_registry = std::make_unique<TenantRegistry>(std::move(t));
  }
  // What takes the resource series from Prometheus: the analytics, or with
  // tenants the autoscaler's tenant's (opened now for it).
  analytics::Analytics* resource_target = analytics;
  if (tenant_registry && autoscaler) {
    auto t = tenant_registry->GetOrOpen(config.autoscaler_tenant);
    if (!t.ok()) {
      spdlog::error("{}", StdView(t.status().message()));
      return 1;
    }
    resource_target = (*t)->analysis().analytics.get();
  }

  // CPU and memory per service from the user's Prometheus join the series.
  std::optional<analytics::PromClient> prom_client;
  std::unique_ptr<analytics::ResourcePuller> resource_puller;
  if (resource_target != nullptr && !config.prometheus_url.empty()) {
    auto client = analytics::PromClient::Create(config.prometheus_url, std::chrono::seconds(10));
    if (!client.ok()) {
      spdlog::error("analytics.prometheus.url: {}", StdView(client.status().message()));
      return 2;
    }
    prom_client.emplace(*std::move(client));
    resource_puller = std::make_unique<analytics::ResourcePuller>(
        &*prom_client, analytics::DefaultResourceQueries(), &resource_target->series(), NowNanos);
  }
  receive::ReceiverOptions receiver_options;
  receiver_options.limits = config.limits;
  receiver_options.max_request_bytes = config.max_request_bytes;
  // Per-tenant ingest rate limits (the whole server's without tenants).
  RateLimiter rate_limiter({config.spans_per_second, config.burst_spans,
                            tenants ? 4 * size_t{config.max_tenants} : 1});
  if (rate_limiter.enabled()) receiver_options.rate_limiter = &rate_limiter;
  if (tenants) {
    receiver_options.tenant_metadata_key = absl::AsciiStrToLower(config.tenant_header);
    receiver_options.route = [r = tenant_registry.get()](
                                 std::string_view tenant) -> absl::StatusOr<receive::SpanSink*> {
      auto t = r->GetOrOpen(tenant);
      if (!t.ok()) return t.status();
      return (*t)->sink();
    };
  }

  query::ApiOptions api_options;
  api_options.now_nanos = NowNanos;
  api_options.metrics_text = [&] {
    std::string text = ReceiverMetricsText(receive_sink, admission);
    if (parts) text += EmbeddedMetricsText(*parts, max_head_bytes);
    if (tenant_registry) text += tenant_registry->MetricsText();
    std::vector<std::pair<std::string, const kafka::KafkaConsumer*>> consumers;
    if (ingest_consumer) consumers.emplace_back(config.kafka_group, ingest_consumer.get());
    if (analyze_consumer) consumers.emplace_back(config.kafka_analyze_group, analyze_consumer.get());
    text += ScaleOutMetricsText(ch_writer.get(), publisher.get(), consumers);
    text += analysis.MetricsText();
    if (resource_puller) text += PrometheusPullMetricsText(resource_puller->stats());
    if (autoscaler) text += autoscaler->MetricsText();
    text += SecurityMetricsText(
        {ingest_tokens->get(), query_tokens->get(), admin_tokens->get()}, tls.get());
    return text;
  };
  api_options.analytics = analytics;
  api_options.detection = analysis.detection.get();
  api_options.incidents = analysis.incidents.get();
  api_options.autoscaler = tenants ? nullptr : autoscaler.get();
  api_options.ui = ui_files ? &*ui_files : nullptr;
  // With tenants this API answers the probes, /metrics and the UI's files;
  // the router sends every other /api/ path to the tenant's own.
  query::QueryApi query_api(tenants ? tenant_registry->empty_store() : query_backend, api_options);
  std::optional<TenantQueryRouter> tenant_router;
  if (tenants) tenant_router.emplace(&query_api, tenant_registry.get(), config.tenant_header);
  serve::HttpHandler* query_handler =
      tenant_router ? static_cast<serve::HttpHandler*>(&*tenant_router) : &query_api;
  // Without the receive role the handlers exist but never listen.
  receive::SpanSink* handler_sink = receive_sink != nullptr ? receive_sink : &analyze_only_sink;
  receive::OtlpHttpHandler otlp_http(handler_sink, receiver_options);
  receive::ZipkinHandler zipkin(handler_sink, receiver_options);

  serve::HttpServerOptions ingest_http;
  ingest_http.max_body_bytes = config.max_request_bytes;
  ingest_http.max_connections = config.max_connections;
  ingest_http.admission = &admission;
  ingest_http.tls = tls;
  if (tenants) ingest_http.tenant_header = config.tenant_header;
  if (!(*ingest_tokens)->open()) {
    ingest_http.authorize = [t = ingest_tokens->get()](std::string_view,
                                                       std::string_view authorization,
                                                       std::string_view tenant) {
      return t->Check(authorization, tenant);
    };
  }
  serve::HttpServerOptions query_http;
  query_http.max_body_bytes = 1 << 20;
  query_http.max_connections = config.max_connections;
  query_http.tls = tls;
  if (tenants) query_http.tenant_header = config.tenant_header;
  if (!(*query_tokens)->open() || !(*admin_tokens)->open()) {
    query_http.authorize = [q = query_tokens->get(), a = admin_tokens->get()](
                               std::string_view path, std::string_view authorization,
                               std::string_view tenant) {
      switch (ScopeOfQueryPath(path)) {
        case QueryScope::kOpen:
          return true;
        case QueryScope::kAdmin:
          return a->Check(authorization);
        case QueryScope::kQuery:
          return q->Check(authorization, tenant);
      }
      return false;
    };
  }
  serve::HttpServer otlp_http_server(io, "otlp_http", &otlp_http, ingest_http);
  serve::HttpServer zipkin_server(io, "zipkin", &zipkin, ingest_http);
  serve::HttpServer query_server(io, "query", query_handler, query_http);
  receive::OtlpGrpcReceiver grpc(handler_sink, receiver_options, &admission,
                                 receive::GrpcSecurity{tls_files, ingest_tokens->get()});

  // The query API listens first, so /healthz and /readyz (503 until then)
  // answer while a long log is replayed; ingest listens once it is.
  if (auto s = query_server.Listen(config.query_addr); !s.ok()) {
    spdlog::error("{}", StdView(s.message()));
    return 1;
  }
  IoThreads threads(io, config.http_threads);
  if (parts) {
    if (auto s = ReplayEmbedded(*parts); !s.ok()) {
      spdlog::error("cannot replay the write-ahead log: {}", StdView(s.message()));
      return 1;
    }
  }
  if (tenant_registry) {
    if (auto s = tenant_registry->OpenExisting(); !s.ok()) {
      spdlog::error("{}", StdView(s.message()));
      return 1;
    }
  }
  if (role_receive) {
    for (auto [server, address] : {std::pair{&otlp_http_server, &config.otlp_http_addr},
                                   std::pair{&zipkin_server, &config.zipkin_addr}}) {
      if (auto s = server->Listen(*address); !s.ok()) {
        spdlog::error("{}", StdView(s.message()));
        return 1;
      }
    }
    if (auto s = grpc.Start(config.otlp_grpc_addr); !s.ok()) {
      spdlog::error("{}", StdView(s.message()));
      return 1;
    }
  }

  std::string keda_address;
  if (keda) {
    if (auto s = keda->Start(config.keda_addr); !s.ok()) {
      spdlog::error("autoscaler.keda_listen: {}", StdView(s.message()));
      return 1;
    }
    auto host = serve::ParseHostPort(config.keda_addr);
    keda_address = absl::StrCat(host.ok() ? host->first : "127.0.0.1", ":", keda->port());
    spdlog::info("KEDA external scaler on {}", keda_address);
  }

  auto grpc_host = serve::ParseHostPort(config.otlp_grpc_addr);
  const std::string grpc_address =
      role_receive ? absl::StrCat(grpc_host.ok() ? grpc_host->first : "127.0.0.1", ":", grpc.port())
                   : "";
  const std::string otlp_http_address = role_receive ? otlp_http_server.address() : "";
  const std::string zipkin_address = role_receive ? zipkin_server.address() : "";
  spdlog::info("ariadne serving: otlp_grpc={} otlp_http={} zipkin={} query={} data_dir={}",
               grpc_address, otlp_http_address, zipkin_address,
               query_server.address(), config.data_dir);
  if (!config.listen_file.empty()) {
    const std::string json =
        absl::StrCat("{\"otlp_grpc\":\"", grpc_address, "\",\"otlp_http\":\"",
                     otlp_http_address, "\",\"zipkin\":\"", zipkin_address,
                     "\",\"query\":\"", query_server.address(), "\"",
                     keda ? absl::StrCat(",\"keda\":\"", keda_address, "\"") : "", "}\n");
    if (auto s = WriteFileAtomically(config.listen_file, json); !s.ok()) {
      spdlog::error("{}", StdView(s.message()));
    }
  }
  if (parts) parts->flusher->Start();
  if (tenant_registry) tenant_registry->StartAll();
  if (ingest_consumer) ingest_consumer->Start();
  if (analyze_consumer) analyze_consumer->Start();
  if (notifier) {
    if (auto s = notifier->Start(); !s.ok()) {
      spdlog::error("detection: {}", StdView(s.message()));
      return 1;
    }
  }
  analysis.Start();
  if (autoscaler) {
    autoscaler->Start();
    spdlog::info("autoscaler: every {}, actuator {}{}", config.autoscaler_interval,
                 autoscaler->actuator_name(), config.autoscaler_dry_run ? " (dry run)" : "");
  }
  if (resource_puller) {
    resource_puller->Start(
        std::chrono::milliseconds(*query::ParseDurationNanos(config.prometheus_interval) / 1000000));
  }
  query_api.SetReady(true);

  const int sig = WaitForSignal();
  spdlog::info("received signal {}: stopping", sig);
  query_api.SetReady(false);
  otlp_http_server.StopAccepting();
  zipkin_server.StopAccepting();
  query_server.StopAccepting();
  if (role_receive) grpc.Shutdown(config.shutdown_grace_seconds);
  // Requests already read are answered once the log has them.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(config.shutdown_grace_seconds);
  while (otlp_http_server.active_requests() + zipkin_server.active_requests() +
                 query_server.active_requests() >
             0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Consumers finish (store and commit) the window they hold; then the
  // publisher waits for its delivery reports and the writer drains its
  // queue into ClickHouse, answering what it cannot send Unavailable.
  const auto grace = std::chrono::seconds(config.shutdown_grace_seconds);
  if (ingest_consumer) ingest_consumer->Stop(grace);
  if (analyze_consumer) analyze_consumer->Stop(grace);
  if (publisher) publisher->Stop(static_cast<int>(config.shutdown_grace_seconds) * 1000);
  if (ch_writer) ch_writer->Stop(grace);
  if (keda) keda->Shutdown(std::chrono::seconds(2));
  if (autoscaler) autoscaler->Stop();
  if (parts) parts->flusher->Stop();  // a block being written is finished first
  if (tenant_registry) tenant_registry->StopAll();
  if (resource_puller) resource_puller->Stop();
  analysis.Stop();
  if (notifier) notifier->Stop();
  int exit_code = 0;
  if (parts) {
    if (auto s = parts->log->Close(); !s.ok()) {
      spdlog::error("closing the write-ahead log: {}", StdView(s.message()));
      exit_code = 1;
    }
  }
  // Let the last answers go out, then stop the I/O threads.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  work.reset();
  threads.Stop();
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace ariadne::cli
