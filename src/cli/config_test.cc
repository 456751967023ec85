#include "cli/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace ariadne::cli {
namespace {

std::string WriteTemp(const std::string& content) {
  char path[] = "/tmp/ariadne-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << content;
  return path;
}

TEST(ConfigTest, YamlOverridesDefaults) {
  std::string path = WriteTemp(R"(
data_dir: /srv/ariadne
listen:
  otlp_grpc: 0.0.0.0:4317
  query: 127.0.0.1:0
wal:
  sync: always
  batch_window: 5ms
limits:
  max_request_bytes: 1024
  max_inflight_bytes: 4096
  max_attributes_per_span: 7
http_threads: 3
)");
  ServerConfig c;
  ASSERT_TRUE(LoadYamlConfig(path, &c).ok());
  std::remove(path.c_str());
  EXPECT_EQ(c.data_dir, "/srv/ariadne");
  EXPECT_EQ(c.otlp_grpc_addr, "0.0.0.0:4317");
  EXPECT_EQ(c.otlp_http_addr, "127.0.0.1:4318");  // untouched default
  EXPECT_EQ(c.query_addr, "127.0.0.1:0");
  EXPECT_EQ(c.wal_sync, "always");
  EXPECT_EQ(c.max_request_bytes, 1024u);
  EXPECT_EQ(c.limits.max_attributes_per_span, 7u);
  EXPECT_EQ(c.http_threads, 3);
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ConfigTest, UnknownKeyIsNamed) {
  std::string path = WriteTemp("wal:\n  synk: always\n");
  ServerConfig c;
  absl::Status s = LoadYamlConfig(path, &c);
  std::remove(path.c_str());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("wal.synk"), std::string::npos);
}

TEST(ConfigTest, BadValuesAreRefused) {
  std::string path = WriteTemp("http_threads: many\n");
  ServerConfig c;
  EXPECT_FALSE(LoadYamlConfig(path, &c).ok());
  std::remove(path.c_str());
  c = ServerConfig{};
  c.wal_sync = "sometimes";
  EXPECT_FALSE(Validate(c).ok());
  c = ServerConfig{};
  c.wal_batch_window = "soon";
  EXPECT_FALSE(Validate(c).ok());
  c = ServerConfig{};
  c.max_inflight_bytes = c.max_request_bytes - 1;
  EXPECT_FALSE(Validate(c).ok());
}

TEST(ConfigTest, AutoscalerKeys) {
  std::string path = WriteTemp(R"(
autoscaler:
  enabled: true
  interval: 5s
  slo: 300ms
  services: [cartservice, "checkoutservice:4"]
  keda_listen: 127.0.0.1:9999
  kubernetes: {url: http://127.0.0.1:8001, namespace: shop, token_file: /t}
ui:
  dir: /srv/ui
)");
  ServerConfig c;
  ASSERT_TRUE(LoadYamlConfig(path, &c).ok());
  std::remove(path.c_str());
  EXPECT_TRUE(c.autoscaler_enabled);
  EXPECT_EQ(c.autoscaler_interval, "5s");
  EXPECT_EQ(c.autoscaler_slo, "300ms");
  EXPECT_EQ(c.autoscaler_services, (std::vector<std::string>{"cartservice", "checkoutservice:4"}));
  EXPECT_EQ(c.keda_addr, "127.0.0.1:9999");
  EXPECT_EQ(c.kubernetes_url, "http://127.0.0.1:8001");
  EXPECT_EQ(c.kubernetes_namespace, "shop");
  EXPECT_EQ(c.kubernetes_token_file, "/t");
  EXPECT_EQ(c.ui_dir, "/srv/ui");
  EXPECT_TRUE(Validate(c).ok());
  path = WriteTemp("autoscaler:\n  kubernetes: {server: x}\n");
  absl::Status s = LoadYamlConfig(path, &c);
  std::remove(path.c_str());
  EXPECT_NE(std::string(s.message()).find("autoscaler.kubernetes.server"), std::string::npos);
  for (auto bad : {+[](ServerConfig* c) { c->autoscaler_interval = "0s"; },
                   +[](ServerConfig* c) { c->autoscaler_slo = "fast"; },
                   +[](ServerConfig* c) { c->autoscaler_slo_quantile = 1; },
                   +[](ServerConfig* c) { c->autoscaler_min_replicas = 5, c->autoscaler_max_replicas = 4; },
                   +[](ServerConfig* c) { c->autoscaler_workers = 0; }}) {
    ServerConfig b;
    bad(&b);
    EXPECT_FALSE(Validate(b).ok());
  }
}

TEST(ConfigTest, TenantKeysAreReadAndChecked) {
  const std::string path = testing::TempDir() + "/tenants.yaml";
  std::ofstream(path) << "tenants:\n  enabled: true\n  header: X-Tenant\n  max: 7\n"
                         "limits:\n  spans_per_second: 500\n  burst_spans: 1000\n"
                         "autoscaler:\n  tenant: acme\n";
  ServerConfig c;
  ASSERT_TRUE(LoadYamlConfig(path, &c).ok());
  EXPECT_TRUE(c.tenants_enabled);
  EXPECT_EQ(c.tenant_header, "X-Tenant");
  EXPECT_EQ(c.max_tenants, 7u);
  EXPECT_EQ(c.spans_per_second, 500);
  EXPECT_EQ(c.burst_spans, 1000);
  EXPECT_EQ(c.autoscaler_tenant, "acme");
  EXPECT_TRUE(Validate(c).ok()) << Validate(c);
  auto refused = [](auto change) {
    ServerConfig b;
    b.tenants_enabled = true;
    change(&b);
    return !Validate(b).ok();
  };
  EXPECT_TRUE(refused([](ServerConfig* b) { b->tenant_header = "X Tenant"; }));
  EXPECT_TRUE(refused([](ServerConfig* b) { b->max_tenants = 0; }));
  EXPECT_TRUE(refused([](ServerConfig* b) { b->autoscaler_tenant = "../x"; }));
  EXPECT_TRUE(refused([](ServerConfig* b) { b->kafka_brokers = "127.0.0.1:9092"; }));
  EXPECT_TRUE(refused([](ServerConfig* b) { b->spans_per_second = -1; }));
  ServerConfig no_tenants;
  no_tenants.autoscaler_tenant = "acme";
  EXPECT_FALSE(Validate(no_tenants).ok());
}

TEST(ConfigTest, ExampleFileLoadsAndMatchesTheDefaults) {
  ServerConfig c;
  ASSERT_TRUE(LoadYamlConfig(ARIADNE_SOURCE_DIR "/ariadne.example.yaml", &c).ok());
  const ServerConfig defaults;
  EXPECT_EQ(c.data_dir, defaults.data_dir);
  EXPECT_EQ(c.otlp_grpc_addr, defaults.otlp_grpc_addr);
  EXPECT_EQ(c.query_addr, defaults.query_addr);
  EXPECT_EQ(c.wal_sync, defaults.wal_sync);
  EXPECT_EQ(c.wal_batch_window, defaults.wal_batch_window);
  EXPECT_EQ(c.wal_segment_bytes, defaults.wal_segment_bytes);
  EXPECT_EQ(c.max_request_bytes, defaults.max_request_bytes);
  EXPECT_EQ(c.max_inflight_bytes, defaults.max_inflight_bytes);
  EXPECT_EQ(c.max_head_bytes, defaults.max_head_bytes);
  EXPECT_EQ(c.max_connections, defaults.max_connections);
  EXPECT_EQ(c.spans_per_second, defaults.spans_per_second);
  EXPECT_EQ(c.burst_spans, defaults.burst_spans);
  EXPECT_EQ(c.tenants_enabled, defaults.tenants_enabled);
  EXPECT_EQ(c.tenant_header, defaults.tenant_header);
  EXPECT_EQ(c.max_tenants, defaults.max_tenants);
  EXPECT_EQ(c.autoscaler_tenant, defaults.autoscaler_tenant);
  EXPECT_EQ(c.autoscaler_enabled, defaults.autoscaler_enabled);
  EXPECT_EQ(c.autoscaler_interval, defaults.autoscaler_interval);
  EXPECT_EQ(c.autoscaler_slo, defaults.autoscaler_slo);
  EXPECT_EQ(c.autoscaler_max_replicas, defaults.autoscaler_max_replicas);
  EXPECT_EQ(c.autoscaler_startup_delay, defaults.autoscaler_startup_delay);
  EXPECT_EQ(c.kubernetes_url, defaults.kubernetes_url);
  EXPECT_EQ(c.ui_dir, defaults.ui_dir);
  EXPECT_EQ(c.limits.max_attributes_per_span, defaults.limits.max_attributes_per_span);
  EXPECT_EQ(c.limits.max_value_depth, defaults.limits.max_value_depth);
  EXPECT_EQ(c.http_threads, defaults.http_threads);
  EXPECT_EQ(c.compaction_max_inputs, defaults.compaction_max_inputs);
  EXPECT_EQ(c.compaction_target_bytes, defaults.compaction_target_bytes);
  // Security is commented out in the example: nothing is required.
  EXPECT_EQ(c.tls_cert_file, defaults.tls_cert_file);
  EXPECT_EQ(c.ingest_tokens, defaults.ingest_tokens);
  EXPECT_EQ(c.query_token_files, defaults.query_token_files);
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ConfigTest, TlsAndAuthKeys) {
  const std::string cert = WriteTemp("cert");
  const std::string key = WriteTemp("key");
  const std::string tokens = WriteTemp("t1\n");
  std::string path = WriteTemp("tls:\n  cert_file: " + cert + "\n  key_file: " + key +
                               "\nauth:\n  ingest_tokens: [a1, a2]\n  ingest_token_files: [" +
                               tokens + "]\n  query_tokens: [q1]\n  admin_token_files: [" +
                               tokens + "]\n");
  ServerConfig c;
  absl::Status s = LoadYamlConfig(path, &c);
  std::remove(path.c_str());
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(c.tls_cert_file, cert);
  EXPECT_EQ(c.tls_key_file, key);
  EXPECT_EQ(c.tls_client_ca_file, "");
  EXPECT_EQ(c.ingest_tokens, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(c.ingest_token_files, std::vector<std::string>{tokens});
  EXPECT_EQ(c.query_tokens, std::vector<std::string>{"q1"});
  EXPECT_TRUE(c.query_token_files.empty());
  EXPECT_TRUE(c.admin_tokens.empty());
  EXPECT_EQ(c.admin_token_files, std::vector<std::string>{tokens});
  EXPECT_TRUE(Validate(c).ok()) << Validate(c);

  path = WriteTemp("auth:\n  ingest_token: [x]\n");
  s = LoadYamlConfig(path, &c);
  std::remove(path.c_str());
  EXPECT_NE(std::string(s.message()).find("auth.ingest_token"), std::string::npos) << s;
  path = WriteTemp("tls:\n  cert: x\n");
  s = LoadYamlConfig(path, &c);
  std::remove(path.c_str());
  EXPECT_NE(std::string(s.message()).find("tls.cert"), std::string::npos) << s;

  auto message = [](const ServerConfig& b) { return std::string(Validate(b).message()); };
  ServerConfig b;
  b.tls_cert_file = cert;  // without a key
  EXPECT_NE(message(b).find("tls.cert_file is set without tls.key_file"), std::string::npos);
  b = ServerConfig{};
  b.tls_key_file = key;
  EXPECT_NE(message(b).find("tls.key_file is set without tls.cert_file"), std::string::npos);
  b = ServerConfig{};
  b.tls_client_ca_file = cert;
  EXPECT_NE(message(b).find("tls.client_ca_file"), std::string::npos);
  b = ServerConfig{};
  b.tls_cert_file = cert;
  b.tls_key_file = "/nonexistent/key.pem";
  EXPECT_NE(message(b).find("tls.key_file: cannot read \"/nonexistent/key.pem\""),
            std::string::npos)
      << message(b);
  b = ServerConfig{};
  b.query_token_files = {"/nonexistent/tokens"};
  EXPECT_NE(message(b).find("auth.query_token_files"), std::string::npos) << message(b);
  b = ServerConfig{};
  b.admin_tokens = {"has space"};
  EXPECT_NE(message(b).find("auth.admin_tokens"), std::string::npos);
  EXPECT_EQ(message(b).find("has space"), std::string::npos);  // never echoed
  b = ServerConfig{};
  b.ingest_tokens = {""};
  EXPECT_FALSE(Validate(b).ok());
  for (const std::string& f : {cert, key, tokens}) std::remove(f.c_str());
}

TEST(ConfigTest, NothingSecuredByDefault) {
  const ServerConfig c;
  EXPECT_TRUE(c.tls_cert_file.empty());
  EXPECT_TRUE(c.ingest_tokens.empty() && c.ingest_token_files.empty());
  EXPECT_TRUE(c.query_tokens.empty() && c.query_token_files.empty());
  EXPECT_TRUE(c.admin_tokens.empty() && c.admin_token_files.empty());
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ConfigTest, ScaleOutKeys) {
  std::string path = WriteTemp(R"(
storage:
  backend: clickhouse
clickhouse:
  url: http://ch:8123
  database: spans_1
  user: ariadne
  max_queue_bytes: 8388608
  ttl_days: 7
roles: [receive, query]
kafka:
  brokers: k0:9092,k1:9092
  topic: t
  group: g
  analyze_group: a
  max_inflight_bytes: 33554432
)");
  ServerConfig c;
  ASSERT_TRUE(LoadYamlConfig(path, &c).ok());
  std::remove(path.c_str());
  EXPECT_EQ(c.storage_backend, "clickhouse");
  EXPECT_EQ(c.clickhouse_url, "http://ch:8123");
  EXPECT_EQ(c.clickhouse_database, "spans_1");
  EXPECT_EQ(c.clickhouse_user, "ariadne");
  EXPECT_EQ(c.clickhouse_max_queue_bytes, 8u << 20);
  EXPECT_EQ(c.clickhouse_ttl_days, 7u);
  EXPECT_EQ(c.roles, (std::vector<std::string>{"receive", "query"}));
  EXPECT_EQ(c.kafka_brokers, "k0:9092,k1:9092");
  EXPECT_EQ(c.kafka_topic, "t");
  EXPECT_EQ(c.kafka_group, "g");
  EXPECT_EQ(c.kafka_analyze_group, "a");
  EXPECT_EQ(c.kafka_max_inflight_bytes, 32u << 20);
  EXPECT_TRUE(Validate(c).ok()) << Validate(c);

  std::string bad = WriteTemp("kafka:\n  partitions: 3\n");
  absl::Status s = LoadYamlConfig(bad, &c);
  std::remove(bad.c_str());
  EXPECT_NE(s.message().find("kafka.partitions"), absl::string_view::npos) << s;
}

TEST(ConfigTest, RoleCombinationsAreValidated) {
  auto check = [](std::vector<std::string> roles, std::string backend, std::string brokers) {
    ServerConfig c;
    c.roles = std::move(roles);
    c.storage_backend = std::move(backend);
    c.kafka_brokers = std::move(brokers);
    return Validate(c);
  };
  EXPECT_TRUE(check({"receive", "ingest", "query", "analyze", "control"}, "embedded", "").ok());
  EXPECT_TRUE(check({"receive", "ingest", "query", "analyze", "control"}, "embedded", "k:9092").ok());
  EXPECT_TRUE(check({"receive"}, "clickhouse", "k:9092").ok());
  EXPECT_TRUE(check({"ingest"}, "clickhouse", "k:9092").ok());
  EXPECT_TRUE(check({"query"}, "clickhouse", "").ok());
  EXPECT_TRUE(check({"query", "analyze"}, "clickhouse", "k:9092").ok());
  auto message = [&](std::vector<std::string> roles, std::string backend, std::string brokers) {
    return std::string(check(std::move(roles), std::move(backend), std::move(brokers)).message());
  };
  EXPECT_NE(message({"receive"}, "embedded", "").find("receive without ingest needs kafka.brokers"),
            std::string::npos);
  EXPECT_NE(message({"ingest"}, "clickhouse", "").find("ingest without receive"), std::string::npos);
  EXPECT_NE(message({"query"}, "embedded", "").find("query without ingest needs storage.backend"),
            std::string::npos);
  EXPECT_NE(message({"analyze"}, "clickhouse", "").find("analyze without ingest needs kafka"),
            std::string::npos);
  EXPECT_NE(message({"receive", "ingest", "control"}, "embedded", "").find("control needs analyze"),
            std::string::npos);
  EXPECT_NE(message({"bogus"}, "embedded", "").find("unknown role \"bogus\""), std::string::npos);
  EXPECT_NE(message({}, "embedded", "").find("at least one"), std::string::npos);
  EXPECT_NE(message({"receive", "ingest"}, "cassandra", "").find("storage.backend must be"),
            std::string::npos);
  ServerConfig c;
  c.storage_backend = "clickhouse";
  c.clickhouse_database = "a-b";
  EXPECT_NE(std::string(Validate(c).message()).find("clickhouse.database"), std::string::npos);
  c.clickhouse_database = "ok";
  c.kafka_brokers = "k:9092";
  c.kafka_analyze_group = c.kafka_group;
  EXPECT_NE(std::string(Validate(c).message()).find("must differ"), std::string::npos);
}

}  // namespace
}  // namespace ariadne::cli
