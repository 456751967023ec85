// ariadne: one binary, subcommands for each role.
//   ariadne serve   run the server (receivers, log, head, query API)
//   ariadne query   read traces from a running server
//   ariadne fsck    check a data directory's blocks and log
//   ariadne sim     simulate a microservice application (docs/sim.md)
//   ariadne eval    evaluations (docs/evaluation.md)
//   ariadne bench   measure ingest (see bench/README.md)
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>

#include "cli/autoscale_command.h"
#include "cli/config.h"
#include "cli/eval_command.h"
#include "cli/fsck_command.h"
#include "cli/query_command.h"
#include "cli/serve_command.h"
#include "kafka/mock_cluster.h"
#include "sim/sim_command.h"
#include "spdlog/cfg/env.h"
#include "spdlog/spdlog.h"

#ifdef ARIADNE_WITH_BENCH
#include "bench/ingest_bench.h"
#endif

namespace ariadne::cli {
namespace {

// The YAML file named by --config/-c or ARIADNE_CONFIG, found before the
// flags are parsed so that flags and environment override it.
std::string FindConfigPath(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) return argv[i + 1];
    if (a.substr(0, 9) == "--config=") return std::string(a.substr(9));
  }
  const char* env = std::getenv("ARIADNE_CONFIG");
  return env != nullptr ? env : "";
}

void AddServeOptions(CLI::App* serve, ServerConfig* c) {
  serve->add_option("-c,--config", "YAML configuration file")->envname("ARIADNE_CONFIG");
  serve->add_option("--data-dir", c->data_dir, "Directory for the write-ahead log and data")
      ->envname("ARIADNE_DATA_DIR")
      ->capture_default_str();
  serve->add_option("--otlp-grpc-addr", c->otlp_grpc_addr, "OTLP/gRPC listen address")
      ->envname("ARIADNE_OTLP_GRPC_ADDR")
      ->capture_default_str();
  serve->add_option("--otlp-http-addr", c->otlp_http_addr, "OTLP/HTTP listen address")
      ->envname("ARIADNE_OTLP_HTTP_ADDR")
      ->capture_default_str();
  serve->add_option("--zipkin-addr", c->zipkin_addr, "Zipkin v2 listen address")
      ->envname("ARIADNE_ZIPKIN_ADDR")
      ->capture_default_str();
  serve->add_option("--query-addr", c->query_addr, "Query API and UI listen address")
      ->envname("ARIADNE_QUERY_ADDR")
      ->capture_default_str();
  serve
      ->add_option("--listen-file", c->listen_file,
                   "Write the bound addresses as JSON to this file once serving")
      ->envname("ARIADNE_LISTEN_FILE");
  serve->add_option("--wal-sync", c->wal_sync, "fsync policy: always, batch or none")
      ->envname("ARIADNE_WAL_SYNC")
      ->capture_default_str();
  serve
      ->add_option("--wal-batch-window", c->wal_batch_window,
                   "Longest wait for a group fsync under --wal-sync=batch")
      ->envname("ARIADNE_WAL_BATCH_WINDOW")
      ->capture_default_str();
  serve->add_option("--wal-segment-bytes", c->wal_segment_bytes, "Size at which a log segment ends")
      ->envname("ARIADNE_WAL_SEGMENT_BYTES")
      ->capture_default_str();
  serve
      ->add_option("--max-request-bytes", c->max_request_bytes,
                   "Largest request body, also after decompression")
      ->envname("ARIADNE_MAX_REQUEST_BYTES")
      ->capture_default_str();
  serve
      ->add_option("--max-inflight-bytes", c->max_inflight_bytes,
                   "Admission budget: request bytes being processed at once")
      ->envname("ARIADNE_MAX_INFLIGHT_BYTES")
      ->capture_default_str();
  serve
      ->add_option("--max-head-bytes", c->max_head_bytes,
                   "Refuse ingest (retryable) while the in-memory head holds more; 0 = half of RAM")
      ->envname("ARIADNE_MAX_HEAD_BYTES")
      ->capture_default_str();
  serve
      ->add_option("--spans-per-second", c->spans_per_second,
                   "Ingest rate limit per tenant (the server without tenants); 0 = none")
      ->envname("ARIADNE_SPANS_PER_SECOND")
      ->capture_default_str();
  serve
      ->add_option("--burst-spans", c->burst_spans,
                   "Spans a tenant may send at once above its rate; 0 = one second's worth")
      ->envname("ARIADNE_BURST_SPANS")
      ->capture_default_str();
  serve->add_flag("--tenants", c->tenants_enabled,
                  "Serve several tenants, each named by the tenant header, kept apart")
      ->envname("ARIADNE_TENANTS");
  serve->add_option("--tenant-header", c->tenant_header, "The header that names the tenant")
      ->envname("ARIADNE_TENANT_HEADER")
      ->capture_default_str();
  serve->add_option("--max-tenants", c->max_tenants, "Tenants kept at most")
      ->envname("ARIADNE_MAX_TENANTS")
      ->capture_default_str();
  serve->add_option("--block-duration", c->block_duration,
                    "Cut the in-memory head into a block when its oldest batch is this old")
      ->envname("ARIADNE_BLOCK_DURATION")
      ->capture_default_str();
  serve->add_option("--block-cut-bytes", c->block_cut_bytes,
                    "... or when the head holds this many bytes")
      ->envname("ARIADNE_BLOCK_CUT_BYTES")
      ->capture_default_str();
  serve->add_option("--retention", c->retention, "Delete blocks whose newest span is older")
      ->envname("ARIADNE_RETENTION")
      ->capture_default_str();
  serve->add_option("--storage-max-bytes", c->storage_max_bytes,
                    "Delete the oldest blocks while they hold more; 0 = no limit")
      ->envname("ARIADNE_STORAGE_MAX_BYTES")
      ->capture_default_str();
  serve->add_option("--compaction-max-inputs", c->compaction_max_inputs,
                    "Merge up to this many small blocks into one; 0 or 1 = no compaction")
      ->envname("ARIADNE_COMPACTION_MAX_INPUTS")
      ->capture_default_str();
  serve->add_option("--compaction-target-bytes", c->compaction_target_bytes,
                    "... whose bytes add up to at most this")
      ->envname("ARIADNE_COMPACTION_TARGET_BYTES")
      ->capture_default_str();
  serve->add_option("--storage", c->storage_backend, "Where spans are stored: embedded or clickhouse")
      ->envname("ARIADNE_STORAGE")
      ->capture_default_str();
  serve->add_option("--clickhouse-url", c->clickhouse_url, "ClickHouse HTTP interface")
      ->envname("ARIADNE_CLICKHOUSE_URL")
      ->capture_default_str();
  serve->add_option("--clickhouse-database", c->clickhouse_database, "ClickHouse database")
      ->envname("ARIADNE_CLICKHOUSE_DATABASE")
      ->capture_default_str();
  serve->add_option("--clickhouse-user", c->clickhouse_user, "ClickHouse user (default: server's)")
      ->envname("ARIADNE_CLICKHOUSE_USER");
  serve->add_option("--clickhouse-password-file", c->clickhouse_password_file,
                    "File whose first line is the ClickHouse password")
      ->envname("ARIADNE_CLICKHOUSE_PASSWORD_FILE");
  serve->add_option("--clickhouse-max-queue-bytes", c->clickhouse_max_queue_bytes,
                    "Batches waiting for ClickHouse before ingest is refused (429)")
      ->envname("ARIADNE_CLICKHOUSE_MAX_QUEUE_BYTES")
      ->capture_default_str();
  serve->add_option("--clickhouse-ttl-days", c->clickhouse_ttl_days,
                    "Days ClickHouse keeps spans (0: forever; needs ClickHouse 19.6+)")
      ->envname("ARIADNE_CLICKHOUSE_TTL_DAYS")
      ->capture_default_str();
  serve->add_option("--roles", c->roles,
                    "Roles of this process: receive,ingest,query,analyze,control (default all)")
      ->envname("ARIADNE_ROLES")
      ->delimiter(',');
  serve->add_option("--kafka-brokers", c->kafka_brokers,
                    "Kafka bootstrap servers (host:port,...); empty: no Kafka")
      ->envname("ARIADNE_KAFKA_BROKERS");
  serve->add_option("--kafka-topic", c->kafka_topic, "Topic of the span batches")
      ->envname("ARIADNE_KAFKA_TOPIC")
      ->capture_default_str();
  serve->add_option("--kafka-group", c->kafka_group, "Consumer group of the ingesters")
      ->envname("ARIADNE_KAFKA_GROUP")
      ->capture_default_str();
  serve->add_option("--kafka-analyze-group", c->kafka_analyze_group,
                    "Consumer group of analyze nodes without local ingest")
      ->envname("ARIADNE_KAFKA_ANALYZE_GROUP")
      ->capture_default_str();
  serve->add_option("--kafka-max-inflight-bytes", c->kafka_max_inflight_bytes,
                    "Consumed bytes handed to storage and not yet stored")
      ->envname("ARIADNE_KAFKA_MAX_INFLIGHT_BYTES")
      ->capture_default_str();
  serve->add_option("--analytics", c->analytics_enabled,
                    "Span metrics, service graph and critical path (true/false)")
      ->envname("ARIADNE_ANALYTICS")
      ->capture_default_str();
  serve->add_option("--analytics-step", c->analytics_step, "Step of the analytics series")
      ->envname("ARIADNE_ANALYTICS_STEP")
      ->capture_default_str();
  serve->add_option("--analytics-window", c->analytics_window,
                    "How far back the in-memory series reach")
      ->envname("ARIADNE_ANALYTICS_WINDOW")
      ->capture_default_str();
  serve->add_option("--analytics-lateness", c->analytics_lateness,
                    "How long a step waits for late spans before it is written")
      ->envname("ARIADNE_ANALYTICS_LATENESS")
      ->capture_default_str();
  serve->add_option("--trace-idle", c->trace_idle,
                    "A trace is complete (for the service graph and critical path) after this "
                    "long without new spans")
      ->envname("ARIADNE_TRACE_IDLE")
      ->capture_default_str();
  serve->add_option("--span-metrics-dimensions", c->span_metrics_dimensions,
                    "Extra span metrics labels from these attribute keys")
      ->envname("ARIADNE_SPAN_METRICS_DIMENSIONS")
      ->delimiter(',');
  serve->add_option("--span-metrics-collector-names", c->span_metrics_collector_names,
                    "Also export the OpenTelemetry Collector connector's metric names")
      ->envname("ARIADNE_SPAN_METRICS_COLLECTOR_NAMES")
      ->capture_default_str();
  serve->add_option("--prometheus-url", c->prometheus_url,
                    "Read CPU and memory per service from this Prometheus (http://host:port)")
      ->envname("ARIADNE_PROMETHEUS_URL");
  serve->add_option("--prometheus-interval", c->prometheus_interval,
                    "How often to read them")
      ->envname("ARIADNE_PROMETHEUS_INTERVAL")
      ->capture_default_str();
  serve->add_option("--detection-threshold", c->detection_threshold,
                    "A detector score at or above this is an anomaly (0-1]")
      ->envname("ARIADNE_DETECTION_THRESHOLD")
      ->capture_default_str();
  serve->add_option("--alertmanager-url", c->alertmanager_urls,
                    "Push incidents to this Alertmanager (http://host:port; repeatable)")
      ->envname("ARIADNE_ALERTMANAGER_URLS")
      ->delimiter(',');
  serve->add_option("--webhook-url", c->webhook_urls,
                    "POST every incident change as JSON to this URL (repeatable)")
      ->envname("ARIADNE_WEBHOOK_URLS")
      ->delimiter(',');
  serve->add_option("--ui-dir", c->ui_dir, "The web UI's built files (ui/dist)")
      ->envname("ARIADNE_UI_DIR")
      ->capture_default_str();
  serve->add_option("--autoscaler", c->autoscaler_enabled,
                    "Decide each service's replicas from its spans (true/false)")
      ->envname("ARIADNE_AUTOSCALER")
      ->capture_default_str();
  serve->add_option("--autoscaler-tenant", c->autoscaler_tenant,
                    "With --tenants: the tenant whose services the autoscaler scales")
      ->envname("ARIADNE_AUTOSCALER_TENANT");
  serve->add_option("--autoscaler-interval", c->autoscaler_interval, "The control interval")
      ->envname("ARIADNE_AUTOSCALER_INTERVAL")
      ->capture_default_str();
  serve->add_option("--autoscaler-slo", c->autoscaler_slo,
                    "End-to-end latency objective the replicas are sized for")
      ->envname("ARIADNE_AUTOSCALER_SLO")
      ->capture_default_str();
  serve->add_option("--autoscaler-slo-quantile", c->autoscaler_slo_quantile,
                    "... met by this share of requests")
      ->envname("ARIADNE_AUTOSCALER_SLO_QUANTILE")
      ->capture_default_str();
  serve->add_option("--autoscaler-min-replicas", c->autoscaler_min_replicas, "Fewest replicas")
      ->envname("ARIADNE_AUTOSCALER_MIN_REPLICAS")
      ->capture_default_str();
  serve->add_option("--autoscaler-max-replicas", c->autoscaler_max_replicas, "Most replicas")
      ->envname("ARIADNE_AUTOSCALER_MAX_REPLICAS")
      ->capture_default_str();
  serve->add_option("--autoscaler-workers", c->autoscaler_workers,
                    "Requests one replica works on at once, unless a service says")
      ->envname("ARIADNE_AUTOSCALER_WORKERS")
      ->capture_default_str();
  serve->add_option("--autoscaler-startup-delay", c->autoscaler_startup_delay,
                    "Time a new replica takes to become ready")
      ->envname("ARIADNE_AUTOSCALER_STARTUP_DELAY")
      ->capture_default_str();
  serve->add_option("--autoscaler-services", c->autoscaler_services,
                    "Services to scale, NAME or NAME:WORKERS (default: every service seen)")
      ->envname("ARIADNE_AUTOSCALER_SERVICES")
      ->delimiter(',');
  serve->add_option("--autoscaler-dry-run", c->autoscaler_dry_run,
                    "Decide and record, but change nothing (true/false)")
      ->envname("ARIADNE_AUTOSCALER_DRY_RUN")
      ->capture_default_str();
  serve->add_option("--kubernetes-url", c->kubernetes_url,
                    "Kubernetes API server (http://host:port) or in-cluster, for the scale "
                    "subresource")
      ->envname("ARIADNE_KUBERNETES_URL");
  serve->add_option("--kubernetes-namespace", c->kubernetes_namespace,
                    "Namespace of the deployments (default: default, or the pod's own)")
      ->envname("ARIADNE_KUBERNETES_NAMESPACE");
  serve->add_option("--kubernetes-token-file", c->kubernetes_token_file,
                    "Bearer token file for the API server (read on every call)")
      ->envname("ARIADNE_KUBERNETES_TOKEN_FILE");
  serve->add_option("--keda-addr", c->keda_addr,
                    "Serve the KEDA external scaler (gRPC) on this address")
      ->envname("ARIADNE_KEDA_ADDR");
  serve->add_option("--max-connections", c->max_connections, "Open connections per listener")
      ->envname("ARIADNE_MAX_CONNECTIONS")
      ->capture_default_str();
  serve
      ->add_option("--max-attributes-per-span", c->limits.max_attributes_per_span,
                   "Spans with more attributes are rejected")
      ->envname("ARIADNE_MAX_ATTRIBUTES_PER_SPAN")
      ->capture_default_str();
  // TLS and token files (docs/security.md). Static tokens are YAML only
  // (auth.*_tokens), so that they never show in `ps` or /proc/*/cmdline.
  serve->add_option("--tls-cert-file", c->tls_cert_file,
                    "TLS certificate chain (PEM) for every listener; reloaded when it changes")
      ->envname("ARIADNE_TLS_CERT_FILE");
  serve->add_option("--tls-key-file", c->tls_key_file, "TLS private key (PEM)")
      ->envname("ARIADNE_TLS_KEY_FILE");
  serve->add_option("--tls-client-ca-file", c->tls_client_ca_file,
                    "Require client certificates signed by these CAs (PEM)")
      ->envname("ARIADNE_TLS_CLIENT_CA_FILE");
  serve->add_option("--ingest-token-file", c->ingest_token_files,
                    "Bearer tokens for OTLP and Zipkin ingest, one a line (repeatable)")
      ->envname("ARIADNE_INGEST_TOKEN_FILE")
      ->delimiter(',');
  serve->add_option("--query-token-file", c->query_token_files,
                    "Bearer tokens for the query API and UI, one a line (repeatable)")
      ->envname("ARIADNE_QUERY_TOKEN_FILE")
      ->delimiter(',');
  serve->add_option("--admin-token-file", c->admin_token_files,
                    "Bearer tokens for /metrics, one a line (repeatable)")
      ->envname("ARIADNE_ADMIN_TOKEN_FILE")
      ->delimiter(',');
  serve->add_option("--http-threads", c->http_threads, "Threads serving HTTP")
      ->envname("ARIADNE_HTTP_THREADS")
      ->capture_default_str();
  serve->add_option("--log-level", c->log_level, "trace, debug, info, warn, error")
      ->envname("ARIADNE_LOG_LEVEL")
      ->capture_default_str();
}

}  // namespace
}  // namespace ariadne::cli

int main(int argc, char** argv) {
  using namespace ariadne::cli;
  // Signals are taken by sigwait in `serve`; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ServerConfig config;
  const std::string config_path = FindConfigPath(argc, argv);
  if (!config_path.empty()) {
    if (auto s = LoadYamlConfig(config_path, &config); !s.ok()) {
      std::fprintf(stderr, "ariadne: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }

  CLI::App app{"Ariadne: tracing, analytics and autoscaling for microservices"};
  app.set_version_flag("--version", std::string("ariadne ") + ARIADNE_VERSION);
  app.require_subcommand(1);
  CLI::App* serve = app.add_subcommand("serve", "Run the server");
  AddServeOptions(serve, &config);

  QueryCommand query;
  CLI::App* q = app.add_subcommand("query", "Read traces from a running server");
  q->require_subcommand(1);
  q->add_option("--server", query.server, "Query API base URL")
      ->envname("ARIADNE_SERVER")
      ->capture_default_str();
  CLI::App* q_trace = q->add_subcommand("trace", "Print one trace as a tree");
  q_trace->add_option("trace-id", query.trace_id, "Trace id (hex)")->required();
  CLI::App* q_search = q->add_subcommand("search", "Print matching traces as a table");
  q_search->add_option("--service", query.service, "Service name");
  q_search->add_option("--operation", query.operation, "Operation (span name)");
  q_search->add_option("--tag", query.tags, "key=value (repeatable)");
  q_search->add_option("--min-duration", query.min_duration, "e.g. 100ms");
  q_search->add_option("--max-duration", query.max_duration, "e.g. 2s");
  q_search->add_option("--lookback", query.lookback, "How far back, e.g. 1h")
      ->capture_default_str();
  q_search->add_option("--limit", query.limit, "Most traces shown")->capture_default_str();

  FsckOptions fsck_options;
  CLI::App* fsck = app.add_subcommand(
      "fsck", "Check every block and log segment of a data directory and report damage");
  fsck->add_option("--data-dir", fsck_options.data_dir, "The server's data directory")
      ->capture_default_str();
  fsck->add_flag("--json", fsck_options.json, "One JSON object per finding");

  ariadne::sim::SimCommandOptions sim_options;
  CLI::App* sim = app.add_subcommand(
      "sim", "Simulate a microservice application: real OTLP spans, a scale API, labeled faults");
  ariadne::sim::AddSimFlags(sim, &sim_options);

  EvalNabOptions eval_nab_options;
  CLI::App* eval_nab = AddEvalCommands(&app, &eval_nab_options);
  EvalFaultsOptions eval_faults_options;
  CLI::App* eval_faults = AddEvalFaultsCommand(&app, &eval_faults_options);
  EvalRcaOptions eval_rca_options;
  CLI::App* eval_rca = AddEvalRcaCommand(&app, &eval_rca_options);
  EvalAutoscaleOptions eval_autoscale_options;
  CLI::App* eval_autoscale = AddEvalAutoscaleCommand(&app, &eval_autoscale_options);

  // Development tools, not part of the documented interface.
  ariadne::kafka::MockClusterOptions kafka_mock_options;
  CLI::App* dev = app.add_subcommand("dev", "Development tools (tests)");
  dev->group("");  // hidden from --help
  dev->require_subcommand(1);
  CLI::App* kafka_mock =
      dev->add_subcommand("kafka-mock", "Run librdkafka's mock Kafka cluster until SIGTERM");
  kafka_mock->add_option("--brokers", kafka_mock_options.brokers, "Mock brokers")
      ->capture_default_str();
  kafka_mock->add_option("--topic", kafka_mock_options.topic, "Create this topic");
  kafka_mock->add_option("--partitions", kafka_mock_options.partitions, "Partitions of --topic")
      ->capture_default_str();
  kafka_mock->add_option("--listen-file", kafka_mock_options.listen_file,
                         "Write {\"bootstrap\": \"host:port,...\"} here once up");

#ifdef ARIADNE_WITH_BENCH
  ariadne::bench::IngestBenchOptions bench_options;
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  CLI::App* bench_ingest = bench->add_subcommand("ingest", "Measure ingest throughput");
  ariadne::bench::AddIngestBenchFlags(bench_ingest, &bench_options);
#endif

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) {
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    spdlog::cfg::load_env_levels();
    return RunServe(config);
  }
  if (kafka_mock->parsed()) return ariadne::kafka::RunKafkaMock(kafka_mock_options);
  if (q_trace->parsed()) return RunQueryTrace(query);
  if (q_search->parsed()) return RunQuerySearch(query);
  if (sim->parsed()) return ariadne::sim::RunSim(sim_options);
  if (fsck->parsed()) return RunFsck(fsck_options);
  if (eval_nab->parsed()) return RunEvalNab(eval_nab_options);
  if (eval_faults->parsed()) return RunEvalFaults(eval_faults_options);
  if (eval_rca->parsed()) return RunEvalRca(eval_rca_options);
  if (eval_autoscale->parsed()) return RunEvalAutoscale(eval_autoscale_options);
#ifdef ARIADNE_WITH_BENCH
  if (bench_ingest->parsed()) return ariadne::bench::RunIngestBench(bench_options);
#endif
  return 0;
}
