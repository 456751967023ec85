#include "cli/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/tenant.h"
#include "query/params.h"

namespace ariadne::cli {

namespace {

template <typename T>
absl::Status Read(const YAML::Node& node, const std::string& key, T* out) {
  try {
    *out = node.as<T>();
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config key ", key, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status LoadAnalytics(const YAML::Node& node, const std::string& path, ServerConfig* c) {
  for (const auto& w : node) {
    const std::string k = w.first.as<std::string>();
    const std::string full = "analytics." + k;
    absl::Status s;
    if (k == "enabled") {
      s = Read(w.second, full, &c->analytics_enabled);
    } else if (k == "step") {
      s = Read(w.second, full, &c->analytics_step);
    } else if (k == "window") {
      s = Read(w.second, full, &c->analytics_window);
    } else if (k == "lateness") {
      s = Read(w.second, full, &c->analytics_lateness);
    } else if (k == "trace_idle") {
      s = Read(w.second, full, &c->trace_idle);
    } else if (k == "max_pending_spans") {
      s = Read(w.second, full, &c->max_pending_spans);
    } else if (k == "max_series") {
      s = Read(w.second, full, &c->analytics_max_series);
    } else if (k == "span_metrics") {
      for (const auto& m : w.second) {
        const std::string mk = m.first.as<std::string>();
        const std::string mfull = full + "." + mk;
        if (mk == "dimensions") {
          s = Read(m.second, mfull, &c->span_metrics_dimensions);
        } else if (mk == "collector_names") {
          s = Read(m.second, mfull, &c->span_metrics_collector_names);
        } else if (mk == "max_series") {
          s = Read(m.second, mfull, &c->span_metrics_max_series);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key ", mfull, " (known: dimensions, collector_names, max_series)"));
        }
        if (!s.ok()) return s;
      }
    } else if (k == "prometheus") {
      for (const auto& m : w.second) {
        const std::string mk = m.first.as<std::string>();
        const std::string mfull = full + "." + mk;
        if (mk == "url") {
          s = Read(m.second, mfull, &c->prometheus_url);
        } else if (mk == "interval") {
          s = Read(m.second, mfull, &c->prometheus_interval);
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": unknown key ", mfull, " (known: url, interval)"));
        }
        if (!s.ok()) return s;
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown key ", full,
          " (known: enabled, step, window, lateness, trace_idle, max_pending_spans, max_series, "
          "span_metrics, prometheus)"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LoadAutoscaler(const YAML::Node& node, const std::string& path, ServerConfig* c) {
  for (const auto& w : node) {
    const std::string k = w.first.as<std::string>();
    const std::string full = "autoscaler." + k;
    absl::Status s;
    if (k == "enabled") {
      s = Read(w.second, full, &c->autoscaler_enabled);
    } else if (k == "tenant") {
      s = Read(w.second, full, &c->autoscaler_tenant);
    } else if (k == "interval") {
      s = Read(w.second, full, &c->autoscaler_interval);
    } else if (k == "slo") {
      s = Read(w.second, full, &c->autoscaler_slo);
    } else if (k == "slo_quantile") {
      s = Read(w.second, full, &c->autoscaler_slo_quantile);
    } else if (k == "min_replicas") {
      s = Read(w.second, full, &c->autoscaler_min_replicas);
    } else if (k == "max_replicas") {
      s = Read(w.second, full, &c->autoscaler_max_replicas);
    } else if (k == "workers") {
      s = Read(w.second, full, &c->autoscaler_workers);
    } else if (k == "startup_delay") {
      s = Read(w.second, full, &c->autoscaler_startup_delay);
    } else if (k == "services") {
      s = Read(w.second, full, &c->autoscaler_services);
    } else if (k == "dry_run") {
      s = Read(w.second, full, &c->autoscaler_dry_run);
    } else if (k == "keda_listen") {
      s = Read(w.second, full, &c->keda_addr);
    } else if (k == "kubernetes") {
      for (const auto& m : w.second) {
        const std::string mk = m.first.as<std::string>();
        const std::string mfull = full + "." + mk;
        if (mk == "url") {
          s = Read(m.second, mfull, &c->kubernetes_url);
        } else if (mk == "namespace") {
          s = Read(m.second, mfull, &c->kubernetes_namespace);
        } else if (mk == "token_file") {
          s = Read(m.second, mfull, &c->kubernetes_token_file);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key ", mfull, " (known: url, namespace, token_file)"));
        }
        if (!s.ok()) return s;
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown key ", full,
          " (known: enabled, interval, slo, slo_quantile, min_replicas, max_replicas, workers, "
          "startup_delay, services, dry_run, keda_listen, kubernetes)"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LoadTls(const YAML::Node& node, const std::string& path, ServerConfig* c) {
  for (const auto& w : node) {
    const std::string k = w.first.as<std::string>();
    const std::string full = "tls." + k;
    absl::Status s;
    if (k == "cert_file") {
      s = Read(w.second, full, &c->tls_cert_file);
    } else if (k == "key_file") {
      s = Read(w.second, full, &c->tls_key_file);
    } else if (k == "client_ca_file") {
      s = Read(w.second, full, &c->tls_client_ca_file);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown key ", full, " (known: cert_file, key_file, client_ca_file)"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LoadAuth(const YAML::Node& node, const std::string& path, ServerConfig* c) {
  for (const auto& w : node) {
    const std::string k = w.first.as<std::string>();
    std::vector<std::string>* field = k == "ingest_tokens"        ? &c->ingest_tokens
                                      : k == "ingest_token_files" ? &c->ingest_token_files
                                      : k == "query_tokens"       ? &c->query_tokens
                                      : k == "query_token_files"  ? &c->query_token_files
                                      : k == "admin_tokens"       ? &c->admin_tokens
                                      : k == "admin_token_files"  ? &c->admin_token_files
                                                                  : nullptr;
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown key auth.", k,
          " (known: ingest_tokens, ingest_token_files, query_tokens, query_token_files, "
          "admin_tokens, admin_token_files)"));
    }
    // Read names the key but not the value: a token must not reach a log.
    if (auto s = Read(w.second, "auth." + k, field); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Whether `path` can be opened for reading now; the error names `key`.
absl::Status CheckReadable(const std::string& key, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": cannot read \"", path, "\": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status ValidateScaleOut(const ServerConfig& c) {
  if (c.storage_backend != "embedded" && c.storage_backend != "clickhouse") {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage.backend must be embedded or clickhouse, not \"", c.storage_backend, "\""));
  }
  if (c.storage_backend == "clickhouse") {
    if (c.clickhouse_url.empty()) {
      return absl::InvalidArgumentError("clickhouse.url must be set with storage.backend clickhouse");
    }
    if (c.clickhouse_database.empty() ||
        c.clickhouse_database.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
            std::string::npos ||
        c.clickhouse_database.size() > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("clickhouse.database must be [A-Za-z0-9_]{1,64}, not \"",
                       c.clickhouse_database, "\""));
    }
    if (c.clickhouse_max_queue_bytes < (1u << 20)) {
      return absl::InvalidArgumentError("clickhouse.max_queue_bytes must be at least 1 MiB");
    }
    if (!c.clickhouse_password_file.empty()) {
      if (auto s = CheckReadable("clickhouse.password_file", c.clickhouse_password_file);
          !s.ok()) {
        return s;
      }
    }
  }
  static constexpr std::string_view kRoles[] = {"receive", "ingest", "query", "analyze",
                                                "control"};
  if (c.roles.empty()) {
    return absl::InvalidArgumentError(
        "roles must name at least one of receive, ingest, query, analyze, control");
  }
  for (const std::string& r : c.roles) {
    if (std::find(std::begin(kRoles), std::end(kRoles), r) == std::end(kRoles)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "roles: unknown role \"", r, "\" (known: receive, ingest, query, analyze, control)"));
    }
  }
  auto has = [&c](std::string_view r) { return HasRole(c, r); };
  const bool kafka = !c.kafka_brokers.empty();
  if (kafka) {
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{
                                         "kafka.topic", &c.kafka_topic},
                                     {"kafka.group", &c.kafka_group},
                                     {"kafka.analyze_group", &c.kafka_analyze_group}}) {
      if (value->empty()) {
        return absl::InvalidArgumentError(absl::StrCat(key, " must not be empty"));
      }
    }
    if (c.kafka_group == c.kafka_analyze_group) {
      return absl::InvalidArgumentError(
          "kafka.group and kafka.analyze_group must differ: analyze nodes read every batch, "
          "not a share of the ingesters'");
    }
    if (c.kafka_max_inflight_bytes < c.max_request_bytes) {
      return absl::InvalidArgumentError(
          "kafka.max_inflight_bytes must be at least limits.max_request_bytes");
    }
  } else {
    // Without Kafka the receivers store what they receive themselves, and
    // only a process that stores can read its own embedded store.
    if (has("receive") && !has("ingest")) {
      return absl::InvalidArgumentError(
          "roles: receive without ingest needs kafka.brokers (where else would the spans go?)");
    }
    if (has("ingest") && !has("receive")) {
      return absl::InvalidArgumentError(
          "roles: ingest without receive needs kafka.brokers (there is nothing to consume)");
    }
    if (has("analyze") && !has("ingest")) {
      return absl::InvalidArgumentError(
          "roles: analyze without ingest needs kafka.brokers (analytics reads what is stored "
          "here, or its own Kafka consumer group)");
    }
  }
  if (c.storage_backend == "embedded") {
    // The embedded store is one process's files: querying it from another
    // process, or ingesting in several, needs ClickHouse.
    if (has("query") && !has("ingest")) {
      return absl::InvalidArgumentError(
          "roles: query without ingest needs storage.backend clickhouse (the embedded store is "
          "read by the process that writes it)");
    }
    if (has("analyze") && !has("ingest")) {
      return absl::InvalidArgumentError(
          "roles: analyze without ingest needs storage.backend clickhouse (the root-cause "
          "ranker reads traces from the store)");
    }
  }
  if (has("control") && !has("analyze")) {
    return absl::InvalidArgumentError(
        "roles: control needs analyze in the same process (the autoscaler reads the spans "
        "analytics sees)");
  }
  return absl::OkStatus();
}

}  // namespace

bool HasRole(const ServerConfig& c, std::string_view role) {
  return std::find(c.roles.begin(), c.roles.end(), role) != c.roles.end();
}

absl::Status LoadYamlConfig(const std::string& path, ServerConfig* c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read config ", path, ": ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(path, ": must be a map"));
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    absl::Status s;
    if (key == "data_dir") {
      s = Read(v, key, &c->data_dir);
    } else if (key == "log_level") {
      s = Read(v, key, &c->log_level);
    } else if (key == "http_threads") {
      s = Read(v, key, &c->http_threads);
    } else if (key == "listen_file") {
      s = Read(v, key, &c->listen_file);
    } else if (key == "listen") {
      for (const auto& l : v) {
        const std::string k = l.first.as<std::string>();
        std::string* field = k == "otlp_grpc"   ? &c->otlp_grpc_addr
                             : k == "otlp_http" ? &c->otlp_http_addr
                             : k == "zipkin"    ? &c->zipkin_addr
                             : k == "query"     ? &c->query_addr
                                                : nullptr;
        if (field == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key listen.", k, " (known: otlp_grpc, otlp_http, zipkin, query)"));
        }
        if (s = Read(l.second, "listen." + k, field); !s.ok()) return s;
      }
    } else if (key == "wal") {
      for (const auto& w : v) {
        const std::string k = w.first.as<std::string>();
        if (k == "sync") {
          s = Read(w.second, "wal.sync", &c->wal_sync);
        } else if (k == "batch_window") {
          s = Read(w.second, "wal.batch_window", &c->wal_batch_window);
        } else if (k == "segment_bytes") {
          s = Read(w.second, "wal.segment_bytes", &c->wal_segment_bytes);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key wal.", k, " (known: sync, batch_window, segment_bytes)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "storage") {
      for (const auto& w : v) {
        const std::string k = w.first.as<std::string>();
        if (k == "block_duration") {
          s = Read(w.second, "storage.block_duration", &c->block_duration);
        } else if (k == "block_cut_bytes") {
          s = Read(w.second, "storage.block_cut_bytes", &c->block_cut_bytes);
        } else if (k == "retention") {
          s = Read(w.second, "storage.retention", &c->retention);
        } else if (k == "max_bytes") {
          s = Read(w.second, "storage.max_bytes", &c->storage_max_bytes);
        } else if (k == "compaction_max_inputs") {
          s = Read(w.second, "storage.compaction_max_inputs", &c->compaction_max_inputs);
        } else if (k == "compaction_target_bytes") {
          s = Read(w.second, "storage.compaction_target_bytes", &c->compaction_target_bytes);
        } else if (k == "backend") {
          s = Read(w.second, "storage.backend", &c->storage_backend);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key storage.", k,
              " (known: backend, block_duration, block_cut_bytes, retention, max_bytes, "
              "compaction_max_inputs, compaction_target_bytes)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "clickhouse") {
      for (const auto& w : v) {
        const std::string k = w.first.as<std::string>();
        const std::string full = "clickhouse." + k;
        if (k == "url") {
          s = Read(w.second, full, &c->clickhouse_url);
        } else if (k == "database") {
          s = Read(w.second, full, &c->clickhouse_database);
        } else if (k == "user") {
          s = Read(w.second, full, &c->clickhouse_user);
        } else if (k == "password_file") {
          s = Read(w.second, full, &c->clickhouse_password_file);
        } else if (k == "max_queue_bytes") {
          s = Read(w.second, full, &c->clickhouse_max_queue_bytes);
        } else if (k == "ttl_days") {
          s = Read(w.second, full, &c->clickhouse_ttl_days);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key ", full,
              " (known: url, database, user, password_file, max_queue_bytes, ttl_days)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "kafka") {
      for (const auto& w : v) {
        const std::string k = w.first.as<std::string>();
        const std::string full = "kafka." + k;
        if (k == "brokers") {
          s = Read(w.second, full, &c->kafka_brokers);
        } else if (k == "topic") {
          s = Read(w.second, full, &c->kafka_topic);
        } else if (k == "group") {
          s = Read(w.second, full, &c->kafka_group);
        } else if (k == "analyze_group") {
          s = Read(w.second, full, &c->kafka_analyze_group);
        } else if (k == "max_inflight_bytes") {
          s = Read(w.second, full, &c->kafka_max_inflight_bytes);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key ", full,
              " (known: brokers, topic, group, analyze_group, max_inflight_bytes)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "roles") {
      s = Read(v, key, &c->roles);
    } else if (key == "analytics") {
      if (s = LoadAnalytics(v, path, c); !s.ok()) return s;
    } else if (key == "detection") {
      for (const auto& d : v) {
        const std::string k = d.first.as<std::string>();
        if (k == "threshold") {
          s = Read(d.second, "detection.threshold", &c->detection_threshold);
        } else if (k == "alertmanager_urls") {
          s = Read(d.second, "detection.alertmanager_urls", &c->alertmanager_urls);
        } else if (k == "webhook_urls") {
          s = Read(d.second, "detection.webhook_urls", &c->webhook_urls);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": unknown key detection.", k,
              " (known: threshold, alertmanager_urls, webhook_urls)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "ui") {
      for (const auto& u : v) {
        const std::string k = u.first.as<std::string>();
        if (k == "dir") {
          s = Read(u.second, "ui.dir", &c->ui_dir);
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": unknown key ui.", k, " (known: dir)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "autoscaler") {
      if (s = LoadAutoscaler(v, path, c); !s.ok()) return s;
    } else if (key == "tls") {
      if (s = LoadTls(v, path, c); !s.ok()) return s;
    } else if (key == "auth") {
      if (s = LoadAuth(v, path, c); !s.ok()) return s;
    } else if (key == "tenants") {
      for (const auto& t : v) {
        const std::string k = t.first.as<std::string>();
        const std::string full = "tenants." + k;
        if (k == "enabled") {
          s = Read(t.second, full, &c->tenants_enabled);
        } else if (k == "header") {
          s = Read(t.second, full, &c->tenant_header);
        } else if (k == "max") {
          s = Read(t.second, full, &c->max_tenants);
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": unknown key ", full, " (known: enabled, header, max)"));
        }
        if (!s.ok()) return s;
      }
    } else if (key == "limits") {
      for (const auto& l : v) {
        const std::string k = l.first.as<std::string>();
        const std::string full = "limits." + k;
        if (k == "max_request_bytes") {
          s = Read(l.second, full, &c->max_request_bytes);
        } else if (k == "max_inflight_bytes") {
          s = Read(l.second, full, &c->max_inflight_bytes);
        } else if (k == "max_head_bytes") {
          s = Read(l.second, full, &c->max_head_bytes);
        } else if (k == "max_connections") {
          s = Read(l.second, full, &c->max_connections);
        } else if (k == "spans_per_second") {
          s = Read(l.second, full, &c->spans_per_second);
        } else if (k == "burst_spans") {
          s = Read(l.second, full, &c->burst_spans);
        } else if (k == "max_attributes_per_span") {
          s = Read(l.second, full, &c->limits.max_attributes_per_span);
        } else if (k == "max_events_per_span") {
          s = Read(l.second, full, &c->limits.max_events_per_span);
        } else if (k == "max_links_per_span") {
          s = Read(l.second, full, &c->limits.max_links_per_span);
        } else if (k == "max_attribute_value_bytes") {
          s = Read(l.second, full, &c->limits.max_attribute_value_bytes);
        } else if (k == "max_value_depth") {
          s = Read(l.second, full, &c->limits.max_value_depth);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(path, ": unknown key ", full));
        }
        if (!s.ok()) return s;
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown key ", key,
          " (known: data_dir, listen, listen_file, wal, storage, clickhouse, kafka, roles, analytics, detection, limits, "
          "ui, autoscaler, tls, auth, http_threads, log_level)"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Validate(const ServerConfig& c) {
  if (auto p = wal::ParseSyncPolicy(c.wal_sync); !p.ok()) return p.status();
  if (auto d = query::ParseDurationNanos(c.wal_batch_window); !d.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("wal.batch_window: ", d.status().message()));
  }
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{
                                       "storage.block_duration", &c.block_duration},
                                   {"storage.retention", &c.retention}}) {
    auto d = query::ParseDurationNanos(*value);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", d.status().message()));
    if (*d <= 0) return absl::InvalidArgumentError(absl::StrCat(key, " must be positive"));
  }
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{
                                       "analytics.step", &c.analytics_step},
                                   {"analytics.window", &c.analytics_window},
                                   {"analytics.trace_idle", &c.trace_idle},
                                   {"analytics.prometheus.interval", &c.prometheus_interval}}) {
    auto d = query::ParseDurationNanos(*value);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", d.status().message()));
    if (*d <= 0) return absl::InvalidArgumentError(absl::StrCat(key, " must be positive"));
  }
  if (auto d = query::ParseDurationNanos(c.analytics_lateness); !d.ok() || *d < 0) {
    return absl::InvalidArgumentError("analytics.lateness must be a duration >= 0");
  }
  if (*query::ParseDurationNanos(c.analytics_window) <
      *query::ParseDurationNanos(c.analytics_step)) {
    return absl::InvalidArgumentError("analytics.window must be at least analytics.step");
  }
  if (!(c.detection_threshold > 0 && c.detection_threshold <= 1)) {
    return absl::InvalidArgumentError("detection.threshold must be in (0, 1]");
  }
  if (c.compaction_max_inputs > 1024) {
    return absl::InvalidArgumentError("storage.compaction_max_inputs must be at most 1024");
  }
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{
                                       "autoscaler.interval", &c.autoscaler_interval},
                                   {"autoscaler.slo", &c.autoscaler_slo}}) {
    auto d = query::ParseDurationNanos(*value);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", d.status().message()));
    if (*d <= 0) return absl::InvalidArgumentError(absl::StrCat(key, " must be positive"));
  }
  if (auto d = query::ParseDurationNanos(c.autoscaler_startup_delay); !d.ok() || *d < 0) {
    return absl::InvalidArgumentError("autoscaler.startup_delay must be a duration >= 0");
  }
  if (!(c.autoscaler_slo_quantile > 0 && c.autoscaler_slo_quantile < 1)) {
    return absl::InvalidArgumentError("autoscaler.slo_quantile must be in (0, 1)");
  }
  if (c.autoscaler_min_replicas < 0 || c.autoscaler_max_replicas < 1 ||
      c.autoscaler_max_replicas > 10000 ||
      c.autoscaler_min_replicas > c.autoscaler_max_replicas) {
    return absl::InvalidArgumentError(
        "autoscaler: need 0 <= min_replicas <= max_replicas <= 10000 and max_replicas >= 1");
  }
  if (c.autoscaler_workers < 1 || c.autoscaler_workers > 100000) {
    return absl::InvalidArgumentError("autoscaler.workers must be between 1 and 100000");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("data_dir must not be empty");
  if (auto s = ValidateScaleOut(c); !s.ok()) return s;
  if (c.http_threads < 1 || c.http_threads > 256) {
    return absl::InvalidArgumentError("http_threads must be between 1 and 256");
  }
  if (c.max_request_bytes == 0 || c.max_inflight_bytes < c.max_request_bytes) {
    return absl::InvalidArgumentError(
        "limits.max_inflight_bytes must be at least limits.max_request_bytes (> 0)");
  }
  return ValidateSecurity(c);
}

absl::Status ValidateSecurity(const ServerConfig& c) {
  if (c.spans_per_second < 0 || c.burst_spans < 0) {
    return absl::InvalidArgumentError(
        "limits.spans_per_second and limits.burst_spans must not be negative");
  }
  if (c.tenants_enabled) {
    if (c.tenant_header.empty() ||
        c.tenant_header.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != std::string::npos) {
      return absl::InvalidArgumentError(
          "tenants.header must be a header name (letters, digits and '-')");
    }
    if (c.max_tenants == 0) return absl::InvalidArgumentError("tenants.max must be at least 1");
    if (c.storage_backend != "embedded" || !c.kafka_brokers.empty()) {
      return absl::InvalidArgumentError(
          "tenants.enabled needs storage.backend embedded and no kafka.brokers (tenants on "
          "ClickHouse and Kafka are not built yet; docs/security.md#tenants)");
    }
    if (!c.autoscaler_tenant.empty()) {
      if (auto s = ValidateTenantId(c.autoscaler_tenant); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("autoscaler.tenant: ", s.message()));
      }
    }
  } else if (!c.autoscaler_tenant.empty()) {
    return absl::InvalidArgumentError("autoscaler.tenant is set but tenants.enabled is not");
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        c.tls_cert_file.empty() ? "tls.key_file is set without tls.cert_file"
                                : "tls.cert_file is set without tls.key_file");
  }
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.client_ca_file needs tls.cert_file and tls.key_file (client certificates are "
        "asked for in a TLS handshake)");
  }
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{
                                       "tls.cert_file", &c.tls_cert_file},
                                   {"tls.key_file", &c.tls_key_file},
                                   {"tls.client_ca_file", &c.tls_client_ca_file}}) {
    if (value->empty()) continue;
    if (auto s = CheckReadable(key, *value); !s.ok()) return s;
  }
  for (const auto& [key, tokens] : {std::pair<const char*, const std::vector<std::string>*>{
                                        "auth.ingest_tokens", &c.ingest_tokens},
                                    {"auth.query_tokens", &c.query_tokens},
                                    {"auth.admin_tokens", &c.admin_tokens}}) {
    for (const std::string& t : *tokens) {
      // The token itself is never part of a message.
      if (t.empty() || t.find_first_of(" \t\r\n") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": a token is empty or contains whitespace"));
      }
    }
  }
  for (const auto& [key, files] : {std::pair<const char*, const std::vector<std::string>*>{
                                       "auth.ingest_token_files", &c.ingest_token_files},
                                   {"auth.query_token_files", &c.query_token_files},
                                   {"auth.admin_token_files", &c.admin_token_files}}) {
    for (const std::string& f : *files) {
      if (f.empty()) return absl::InvalidArgumentError(absl::StrCat(key, ": a file name is empty"));
      if (auto s = CheckReadable(key, f); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace ariadne::cli
