// The server's configuration: defaults, overridden by a YAML file, then by
// ARIADNE_* environment variables, then by command-line flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "decode/decode.h"
#include "wal/wal.h"

namespace ariadne::cli {

struct ServerConfig {
  std::string data_dir = "./data";
  // Listen addresses; loopback unless told otherwise.
  std::string otlp_grpc_addr = "127.0.0.1:4317";
  std::string otlp_http_addr = "127.0.0.1:4318";
  std::string zipkin_addr = "127.0.0.1:9411";
  std::string query_addr = "127.0.0.1:16686";
  // If set, a JSON file with the bound addresses, written once serving.
  std::string listen_file;

  std::string wal_sync = "batch";  // always | batch | none
  std::string wal_batch_window = "2ms";
  uint64_t wal_segment_bytes = 64ull << 20;

  uint64_t max_request_bytes = 16ull << 20;
  uint64_t max_inflight_bytes = 256ull << 20;
  // Ingest is refused (retryable) while the head holds more; 0 = half of the
  // machine's memory.
  uint64_t max_head_bytes = 0;
  uint32_t max_connections = 1024;
  decode::Limits limits;
  // Ingest rate limit in spans per second, per tenant (the whole server
  // without tenants); 0 = none. Burst: the bucket size (0 = one second).
  double spans_per_second = 0;
  double burst_spans = 0;

  // Tenants (docs/security.md#tenants): each tenant named by `tenant_header`
  // has its own log, head, blocks, analytics, incidents and query view under
  // <data_dir>/tenants/<id>; at most `max_tenants` of them.
  bool tenants_enabled = false;
  std::string tenant_header = "X-Scope-OrgID";
  uint32_t max_tenants = 100;

  // The block store (docs/storage.md): the head is cut into a block when its
  // oldest batch is this old or it holds this much; blocks are kept this
  // long and, if max_bytes > 0, within that many bytes.
  std::string block_duration = "15m";
  uint64_t block_cut_bytes = 256ull << 20;
  std::string retention = "14d";
  uint64_t storage_max_bytes = 0;
  // Compaction (docs/storage.md): up to this many blocks of one level,
  // adjacent in time and together at most compaction_target_bytes, are
  // merged into one; 0 or 1 turns compaction off.
  uint32_t compaction_max_inputs = 8;
  uint64_t compaction_target_bytes = 1ull << 30;

  // Where spans are stored (docs/clickhouse.md): "embedded" (the
  // write-ahead log, head and blocks under data_dir) or "clickhouse" (a
  // ClickHouse database; no log, head or blocks).
  std::string storage_backend = "embedded";
  std::string clickhouse_url = "http://127.0.0.1:8123";
  std::string clickhouse_database = "ariadne";
  std::string clickhouse_user;
  std::string clickhouse_password_file;  // first line is the password; "" for none
  uint64_t clickhouse_max_queue_bytes = 256ull << 20;
  uint32_t clickhouse_ttl_days = 0;  // 0: keep forever

  // Scale-out (docs/scaling.md). The roles this process plays, a subset of
  // receive, ingest, query, analyze, control (all by default).
  std::vector<std::string> roles = {"receive", "ingest", "query", "analyze", "control"};
  // Kafka between receivers and ingesters: empty brokers = none (receivers
  // store locally). Receivers publish admitted batches to `kafka_topic`;
  // ingesters consume it in group `kafka_group`; analyze nodes without
  // local ingest consume it in group `kafka_analyze_group`.
  std::string kafka_brokers;
  std::string kafka_topic = "ariadne-spans";
  std::string kafka_group = "ariadne-ingest";
  std::string kafka_analyze_group = "ariadne-analyze";
  uint64_t kafka_max_inflight_bytes = 64ull << 20;  // consumer: bytes handed to storage, unacked

  // Analytics (docs/analytics.md): span metrics, service graph, critical
  // path, and the series store they write.
  bool analytics_enabled = true;
  std::string analytics_step = "10s";
  std::string analytics_window = "6h";
  std::string analytics_lateness = "15s";
  std::string trace_idle = "10s";
  uint64_t max_pending_spans = 4'000'000;
  uint64_t analytics_max_series = 200'000;
  std::vector<std::string> span_metrics_dimensions;
  bool span_metrics_collector_names = false;
  uint64_t span_metrics_max_series = 20'000;
  // A Prometheus server whose CPU and memory series join the series store
  // (empty: none), and how often it is read.
  std::string prometheus_url;
  std::string prometheus_interval = "30s";

  // Detection (docs/detection.md): a verdict at or above this score is an
  // anomaly (the threshold NAB's standard profile chose).
  double detection_threshold = 0.78;
  // Where incidents are pushed: Alertmanager base URLs (POST /api/v2/alerts)
  // and webhook URLs (the incident as JSON), http:// only for now.
  std::vector<std::string> alertmanager_urls;
  std::vector<std::string> webhook_urls;

  // The web UI's built files (docs/ui.md), served on the query listener.
  std::string ui_dir = ARIADNE_DEFAULT_UI_DIR;

  // The autoscaler (docs/autoscaling.md): off unless enabled. It decides the
  // replicas of `autoscaler_services` (each "name" or "name:workers"; empty:
  // every service seen in SERVER spans) every `autoscaler_interval`, and
  // applies them through the Kubernetes scale subresource when a URL is
  // given ("in-cluster": the pod's service account), and/or hands them to
  // KEDA through the external scaler on `keda_addr`.
  bool autoscaler_enabled = false;
  std::string autoscaler_interval = "15s";
  std::string autoscaler_slo = "200ms";
  double autoscaler_slo_quantile = 0.99;
  int autoscaler_min_replicas = 1;
  int autoscaler_max_replicas = 100;
  int autoscaler_workers = 1;  // concurrency per replica unless a service says
  std::string autoscaler_startup_delay = "30s";
  std::vector<std::string> autoscaler_services;
  // With tenants: the tenant whose services the autoscaler scales (its
  // spans feed it, its queries see the decisions); "" = no autoscaler.
  std::string autoscaler_tenant;
  bool autoscaler_dry_run = false;
  std::string kubernetes_url;
  std::string kubernetes_namespace;  // "": default, or the pod's own in-cluster
  std::string kubernetes_token_file;
  std::string keda_addr;

  // TLS on every listener (docs/security.md): a certificate chain and key
  // (PEM), and optionally the CA client certificates must chain to (then
  // they are required). Empty: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Bearer tokens per scope (docs/security.md): static tokens (YAML only,
  // so they do not show in `ps`) and files of one token per line, re-read
  // when they change. A scope with neither is open.
  std::vector<std::string> ingest_tokens;
  std::vector<std::string> ingest_token_files;
  std::vector<std::string> query_tokens;
  std::vector<std::string> query_token_files;
  std::vector<std::string> admin_tokens;
  std::vector<std::string> admin_token_files;

  int http_threads = 2;
  std::string log_level = "info";
  int shutdown_grace_seconds = 20;
};

// Applies the keys of a YAML file to `config`; unknown keys are an error
// naming the key, so a typo is not silently ignored.
absl::Status LoadYamlConfig(const std::string& path, ServerConfig* config);

// Checks values that flags and YAML cannot check by type, and that the TLS
// and token files named can be read (ValidateSecurity).
absl::Status Validate(const ServerConfig& config);
absl::Status ValidateSecurity(const ServerConfig& config);

// Whether `config.roles` has `role`.
bool HasRole(const ServerConfig& config, std::string_view role);

}  // namespace ariadne::cli
