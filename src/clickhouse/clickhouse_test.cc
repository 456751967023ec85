// The ClickHouse backend against a real clickhouse-server (started here on
// loopback ports with a temporary data directory; skipped only if no server
// binary is installed): the same spans loaded into the head and into
// ClickHouse through the writer give identical answers to every query the
// store and API tests ask, and a server crash during ingest loses nothing
// the writer acknowledged.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "clickhouse/backend.h"
#include "clickhouse/client.h"
#include "clickhouse/local_server.h"
#include "clickhouse/row_binary.h"
#include "clickhouse/schema.h"
#include "clickhouse/writer.h"
#include "common/temp_dir.h"
#include "encode/encode.h"
#include "query/api.h"
#include "store/head.h"

namespace ariadne::clickhouse {
namespace {

using model::SpanBatch;
using model::SpanKind;
using store::TraceQuery;

template <typename T>
T Ok(absl::StatusOr<T> answer) {
  EXPECT_TRUE(answer.ok()) << answer.status();
  if (!answer.ok()) return T();
  return *std::move(answer);
}

// Deterministic traces of 3-6 spans over five services (one without
// service.name), with typed span and resource attributes, events, links,
// status messages, every span kind and some errors.
std::shared_ptr<const SpanBatch> MakeBatch(uint32_t seed, int traces, uint64_t base_nano) {
  std::mt19937_64 rng(seed);
  auto b = std::make_shared<SpanBatch>();
  const char* services[] = {"frontend", "cart", "checkout", "payment", ""};
  const char* envs[] = {"prod", "prod", "staging", "prod", "dev"};
  for (int s = 0; s < 5; ++s) {
    model::Resource r;
    r.attributes = {static_cast<uint32_t>(b->attributes.size()), 0};
    if (*services[s] != '\0') {
      r.service_name = b->Copy(services[s]);
      b->attributes.push_back({"service.name", model::AnyValue::String(r.service_name)});
      ++r.attributes.count;
    }
    b->attributes.push_back({"deployment.environment", model::AnyValue::String(envs[s])});
    b->attributes.push_back({"host.cpus", model::AnyValue::Int(2 + s)});
    r.attributes.count += 2;
    r.schema_url = b->Copy("https://opentelemetry.io/schemas/1.21.0");
    b->resources.push_back(r);
    model::Scope sc;
    sc.resource = static_cast<uint32_t>(s);
    sc.name = b->Copy("test-scope");
    sc.version = b->Copy("1.2.3");
    b->scopes.push_back(sc);
  }
  const char* names[] = {"GET /", "GetCart", "PlaceOrder", "Charge", "SELECT"};
  const SpanKind kinds[] = {SpanKind::kClient, SpanKind::kServer, SpanKind::kInternal,
                            SpanKind::kProducer, SpanKind::kConsumer, SpanKind::kUnspecified};
  for (int t = 0; t < traces; ++t) {
    model::TraceId tid;
    for (auto& byte : tid) byte = static_cast<uint8_t>(rng());
    const int spans = 3 + static_cast<int>(rng() % 4);
    const uint64_t start = base_nano + rng() % 1'000'000'000;
    std::vector<model::SpanId> ids;
    for (int i = 0; i < spans; ++i) {
      const uint32_t row = b->AddSpan();
      model::SpanId sid;
      for (auto& byte : sid) byte = static_cast<uint8_t>(rng() | 1);
      b->trace_id[row] = tid;
      b->span_id[row] = sid;
      if (i > 0) b->parent_span_id[row] = ids[rng() % ids.size()];
      ids.push_back(sid);
      const int svc = i == 0 ? 0 : static_cast<int>(rng() % 5);
      b->scope[row] = static_cast<uint32_t>(svc);
      b->name[row] = b->Copy(names[i == 0 ? 0 : 1 + rng() % 4]);
      b->kind[row] = i == 0 ? SpanKind::kServer : kinds[rng() % 6];
      b->start_unix_nano[row] = start + static_cast<uint64_t>(i) * 1000;
      b->end_unix_nano[row] = b->start_unix_nano[row] + 1000 + rng() % 50'000'000;
      if (i == 1) b->trace_state[row] = b->Copy("vendor=abc");
      b->flags[row] = 1;
      const uint32_t first = static_cast<uint32_t>(b->attributes.size());
      const int code = rng() % 10 == 0 ? 500 : 200;
      b->attributes.push_back({"http.response.status_code", model::AnyValue::Int(code)});
      b->attributes.push_back(
          {"user.id", model::AnyValue::String(b->Copy("u" + std::to_string(rng() % 5000)))});
      b->attributes.push_back({"region", model::AnyValue::String(rng() % 2 ? "eu" : "us")});
      b->attributes.push_back({"sampled", model::AnyValue::Bool(rng() % 2 == 0)});
      b->attributes.push_back({"ratio", model::AnyValue::Double(0.25 * static_cast<double>(rng() % 8))});
      b->span_attributes[row] = {first, 5};
      if (code == 500) {
        b->status_code[row] = model::StatusCode::kError;
        b->status_message[row] = b->Copy("upstream said 500");
      } else if (rng() % 3 == 0) {
        b->status_code[row] = model::StatusCode::kOk;
      }
      if (rng() % 4 == 0) {  // an event with an attribute
        const uint32_t ea = static_cast<uint32_t>(b->attributes.size());
        b->attributes.push_back({"exception.type", model::AnyValue::String("Timeout")});
        model::Event e;
        e.time_unix_nano = b->start_unix_nano[row] + 10;
        e.name = b->Copy("exception");
        e.attributes = {ea, 1};
        b->span_events[row] = {static_cast<uint32_t>(b->events.size()), 1};
        b->events.push_back(e);
      }
      if (rng() % 5 == 0) {  // a link to another trace
        model::Link l;
        for (auto& byte : l.trace_id) byte = static_cast<uint8_t>(rng());
        for (auto& byte : l.span_id) byte = static_cast<uint8_t>(rng() | 1);
        l.trace_state = b->Copy("k=v");
        b->span_links[row] = {static_cast<uint32_t>(b->links.size()), 1};
        b->links.push_back(l);
      }
    }
  }
  return b;
}

constexpr uint64_t kBase = 1'700'000'000'000'000'000;
constexpr uint64_t kDay = 86'400'000'000'000ull;

std::vector<TraceQuery> Queries() {
  std::vector<TraceQuery> qs;
  TraceQuery q;
  q.limit = 1000;
  qs.push_back(q);  // everything
  q.service = "cart";
  qs.push_back(q);
  q.operation = "GetCart";
  qs.push_back(q);
  q.kind = SpanKind::kClient;
  qs.push_back(q);
  TraceQuery u;
  u.limit = 1000;
  u.service = std::string(store::kUnknownService);
  qs.push_back(u);
  u.service = "no-such-service";
  qs.push_back(u);
  TraceQuery k;
  k.limit = 1000;
  k.kind = SpanKind::kConsumer;
  qs.push_back(k);
  auto tags = [&qs](std::vector<std::pair<std::string, std::string>> t, size_t limit = 1000) {
    TraceQuery q;
    q.limit = limit;
    q.tags = std::move(t);
    qs.push_back(q);
  };
  tags({{"http.response.status_code", "500"}});
  tags({{"error", "true"}, {"region", "eu"}});
  tags({{"error", "false"}, {"service.name", "payment"}});
  tags({{"user.id", "u42"}});
  tags({{"user.id", "no-such-user"}});
  tags({{"sampled", "true"}, {"ratio", "0.5"}});
  tags({{"deployment.environment", "staging"}});  // a resource attribute
  tags({{"deployment.environment", "dev"}, {"host.cpus", "6"}});
  tags({{"span.kind", "producer"}});
  tags({{"span.kind", "UNSPECIFIED"}});
  tags({{"span.kind", "client"}, {"otel.status_code", "ERROR"}});
  tags({{"otel.status_code", "ok"}});
  tags({{"otel.status_code", "unset"}}, 10);
  TraceQuery d;
  d.limit = 1000;
  d.min_duration_nano = 20'000'000;
  d.max_duration_nano = 30'000'000;
  qs.push_back(d);
  d.service = "checkout";
  d.max_duration_nano = std::numeric_limits<uint64_t>::max();
  qs.push_back(d);
  TraceQuery w;
  w.limit = 7;
  w.start_min_nano = kBase + 2'000'000'000;
  w.start_max_nano = kBase + 4'500'000'000;
  qs.push_back(w);
  w.limit = 1000;
  qs.push_back(w);
  w.start_min_nano = kBase + 2 * kDay - 1;  // only the batch two days later
  w.start_max_nano = std::numeric_limits<uint64_t>::max();
  qs.push_back(w);
  TraceQuery n;
  n.limit = 5;  // the newest five, newest first
  qs.push_back(n);
  n.service = "payment";
  n.limit = 3;
  qs.push_back(n);
  return qs;
}

// The span as OTLP protobuf: equal bytes, equal span (every field).
std::string Dump(const model::SpanRef& r) {
  std::string out;
  encode::EncodeOtlpProto(std::span<const model::SpanRef>(&r, 1), &out);
  return out;
}

// GET `target` (params not URL-encoded) from `api`: status and body.
std::pair<int, std::string> Get(query::QueryApi& api, std::string_view target) {
  serve::HttpRequest req;
  req.method = "GET";
  const size_t q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view params = target.substr(q + 1);
    while (!params.empty()) {
      const size_t amp = params.find('&');
      std::string_view pair = params.substr(0, amp);
      const size_t eq = pair.find('=');
      req.params.emplace_back(std::string(pair.substr(0, eq)),
                              eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
      params = amp == std::string_view::npos ? "" : params.substr(amp + 1);
    }
  }
  serve::HttpResponse res;
  api.Handle(std::move(req), [&res](serve::HttpResponse r) { res = std::move(r); });
  return {res.status, res.body};
}

// One server for the whole suite (starting one takes seconds).
class ClickHouseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    binary_ = new std::string(LocalClickHouse::FindBinary());
    if (binary_->empty()) return;
    dir_ = new TempDir("ariadne-clickhouse-test");
    server_ = new LocalClickHouse();
    start_status_ = new absl::Status(server_->Start(*binary_, dir_->path() + "/server"));
  }
  static void TearDownTestSuite() {
    delete server_;  // stops it
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
    delete start_status_;
    start_status_ = nullptr;
    delete binary_;
    binary_ = nullptr;
  }
  void SetUp() override {
    if (binary_->empty()) {
      GTEST_SKIP() << "no ClickHouse server binary (/usr/bin/clickhouse or "
                      "/usr/sbin/clickhouse-server): install clickhouse-server to run this test";
    }
    ASSERT_TRUE(start_status_->ok()) << *start_status_;
    ClickHouseOptions o;
    o.url = server_->url();
    o.timeout = std::chrono::milliseconds(60000);
    auto c = ClickHouseClient::Create(o);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::make_unique<ClickHouseClient>(*std::move(c));
  }

  // Waits (bounded: ~2 minutes of 100 ms polls) until the writer has
  // acknowledged `n` batches one way or the other.
  static bool WaitAcked(const ClickHouseWriter& w, uint64_t n) {
    for (int i = 0; i < 1200; ++i) {
      const WriterStats s = w.stats();
      if (s.acked_batches + s.failed_batches >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  static std::string* binary_;
  static TempDir* dir_;
  static LocalClickHouse* server_;
  static absl::Status* start_status_;
  std::unique_ptr<ClickHouseClient> client_;
};

std::string* ClickHouseTest::binary_ = nullptr;
TempDir* ClickHouseTest::dir_ = nullptr;
LocalClickHouse* ClickHouseTest::server_ = nullptr;
absl::Status* ClickHouseTest::start_status_ = nullptr;

TEST_F(ClickHouseTest, SchemaIsCreatedOnceAndVersioned) {
  SchemaOptions o;
  o.database = "schema_check";
  o.ttl_days = 30;  // a warning on servers without TTL, a TTL clause on newer
  auto f = EnsureSchema(*client_, o);
  ASSERT_TRUE(f.ok()) << f.status();
  auto again = EnsureSchema(*client_, o);  // idempotent
  ASSERT_TRUE(again.ok()) << again.status();
  auto versions = client_->Query("SELECT count(), max(version) FROM schema_check.schema_version FORMAT TSV");
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(*versions, "1\t1\n");
  // A newer schema than this code knows is refused, not touched.
  ASSERT_TRUE(client_->Query("INSERT INTO schema_check.schema_version (version) VALUES (99)").ok());
  auto newer = EnsureSchema(*client_, o);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition) << newer.status();
  auto version = client_->Version();
  ASSERT_TRUE(version.ok());
  std::printf("clickhouse-server %s: low_cardinality=%d codecs=%d ttl=%d skip_indexes=%d\n",
              version->c_str(), f->low_cardinality, f->codecs, f->ttl, f->skip_indexes);
}

TEST_F(ClickHouseTest, ErrorsCarryClickHouseText) {
  auto r = client_->Query("SELEKT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("code 62"), absl::string_view::npos) << r.status();
  r = client_->Query("SELECT * FROM no_such_db.no_such_table");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  // A backend over a missing database fails every read with a Status.
  ClickHouseBackend missing(client_.get(), "no_such_db");
  EXPECT_FALSE(missing.Services().ok());
  EXPECT_FALSE(missing.FindTraces(TraceQuery()).ok());
  // Nobody listening: Unavailable, retryable.
  ClickHouseOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  o.timeout = std::chrono::milliseconds(2000);
  auto down = ClickHouseClient::Create(o);
  ASSERT_TRUE(down.ok());
  auto refused = down->Query("SELECT 1");
  EXPECT_TRUE(ClickHouseRetryable(refused.status())) << refused.status();
}

TEST_F(ClickHouseTest, AnswersEqualTheHeads) {
  SchemaOptions so;
  so.database = "equal";
  ASSERT_TRUE(EnsureSchema(*client_, so).ok());
  store::Head head;
  WriterOptions wo;
  wo.database = "equal";
  wo.max_insert_bytes = 1 << 20;  // several inserts
  ClickHouseWriter writer(client_.get(), wo);
  std::vector<std::shared_ptr<const SpanBatch>> batches;
  // In time order (the head's limited search relies on it, as ingest
  // provides), with a client's retry right after its batch (stored twice)
  // and a batch on another day's partition.
  for (uint32_t i = 0; i < 6; ++i) {
    batches.push_back(MakeBatch(i, 150, kBase + i * 1'000'000'000ull));
    if (i == 2) batches.push_back(batches.back());
  }
  batches.push_back(MakeBatch(77, 60, kBase + 2 * kDay));
  absl::Mutex mu;
  std::vector<absl::Status> acks;
  uint64_t spans = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : batches) {
    head.Append(b);
    spans += b->size();
    ASSERT_TRUE(writer
                    .Enqueue(b,
                             [&](const absl::Status& s) {
                               absl::MutexLock l(&mu);
                               acks.push_back(s);
                             })
                    .ok());
  }
  ASSERT_TRUE(WaitAcked(writer, batches.size()));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("writer: %llu spans in %zu batches acknowledged in %.2f s (%.0f spans/s, %llu inserts)\n",
              static_cast<unsigned long long>(spans), batches.size(), secs,
              static_cast<double>(spans) / secs,
              static_cast<unsigned long long>(writer.stats().inserts));
  {
    absl::MutexLock l(&mu);
    ASSERT_EQ(acks.size(), batches.size());
    for (const absl::Status& s : acks) EXPECT_TRUE(s.ok()) << s;
  }
  ClickHouseBackend ch(client_.get(), "equal");
  size_t traces_checked = 0;
  for (const TraceQuery& q : Queries()) {
    const auto want = Ok(head.FindTraces(q));
    const auto got = Ok(ch.FindTraces(q));
    EXPECT_EQ(got, want) << "service=" << q.service << " op=" << q.operation
                         << " tags=" << q.tags.size() << " limit=" << q.limit
                         << " sql=" << FindTracesSql("equal", q);
    // Every trace of the small answers, the first 25 of the large ones.
    for (size_t t = 0; t < want.size() && t < 25; ++t) {
      const model::TraceId& id = want[t].second;
      const auto a = Ok(head.GetTrace(id));
      const auto b = Ok(ch.GetTrace(id));
      ASSERT_EQ(a.size(), b.size()) << model::ToHex(id);
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(Dump(a[i]), Dump(b[i])) << model::ToHex(id) << " span " << i;
      }
      ++traces_checked;
    }
  }
  EXPECT_GT(traces_checked, 300u);
  model::TraceId unknown{};
  unknown[0] = 1;
  EXPECT_TRUE(Ok(ch.GetTrace(unknown)).empty());

  EXPECT_EQ(Ok(ch.Services()), Ok(head.Services()));
  for (const std::string& svc : Ok(head.Services())) {
    EXPECT_EQ(Ok(ch.Operations(svc, std::nullopt)), Ok(head.Operations(svc, std::nullopt))) << svc;
    for (SpanKind k : {SpanKind::kServer, SpanKind::kClient, SpanKind::kUnspecified}) {
      EXPECT_EQ(Ok(ch.Operations(svc, k)), Ok(head.Operations(svc, k))) << svc;
    }
  }
  EXPECT_TRUE(Ok(ch.Operations("no-such-service", std::nullopt)).empty());

  // Dependencies: the head counts a retried span twice, ClickHouse once; so
  // compare against a head without the retry.
  store::Head once;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (i != 3) once.Append(batches[i]);  // batches[3] is the retry
  }
  auto same_deps = [&](uint64_t from, uint64_t to) {
    const auto a = Ok(once.Dependencies(from, to));
    const auto b = Ok(ch.Dependencies(from, to));
    ASSERT_EQ(a.size(), b.size()) << from << ".." << to;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].parent, b[i].parent);
      EXPECT_EQ(a[i].child, b[i].child);
      EXPECT_EQ(a[i].call_count, b[i].call_count) << a[i].parent << "->" << a[i].child;
    }
  };
  same_deps(0, std::numeric_limits<uint64_t>::max());
  same_deps(kBase + 1'000'000'000, kBase + 3'000'000'000);
  same_deps(kBase + 2 * kDay, kBase + 3 * kDay);
  EXPECT_FALSE(Ok(ch.Dependencies(0, std::numeric_limits<uint64_t>::max())).empty());

  // The query API over either store answers byte for byte alike (Jaeger
  // and v3 JSON: processes, grouping by resource, order).
  query::ApiOptions ao;
  ao.now_nanos = [] { return kBase + 3 * kDay; };
  query::QueryApi head_api(&once, ao);
  query::QueryApi ch_api(&ch, ao);
  const std::string start_us = std::to_string((kBase + 1'000'000'000) / 1000);
  const std::string end_us = std::to_string((kBase + 4'000'000'000) / 1000);
  std::vector<std::string> targets = {
      "/api/services",
      "/api/services/cart/operations",
      "/api/operations?service=checkout",
      "/api/operations?service=cart&spanKind=client",
      "/api/traces?service=cart&limit=20&lookback=custom&start=" + start_us + "&end=" + end_us,
      "/api/traces?service=payment&operation=Charge&minDuration=10ms&limit=5",
      "/api/traces?tags={\"error\":\"true\",\"deployment.environment\":\"prod\"}&limit=10",
      "/api/traces?tag=span.kind:producer&limit=10",
      "/api/dependencies?endTs=" + std::to_string((kBase + 3 * kDay) / 1'000'000) +
          "&lookback=" + std::to_string(4 * kDay / 1'000'000),
      "/api/v3/services",
      "/api/v3/operations?service=frontend",
      "/api/v3/traces?query.service_name=checkout&query.num_traces=1",
  };
  const auto newest = Ok(once.FindTraces(TraceQuery()));
  for (size_t t = 0; t < 5 && t < newest.size(); ++t) {
    const model::TraceId& id = newest[t].second;
    targets.push_back("/api/traces/" + model::ToHex(id));
    targets.push_back("/api/v3/traces/" + model::ToHex(id));
    targets.push_back("/api/v1/traces/" + model::ToHex(id) + "/critical-path");
  }
  for (const std::string& target : targets) {
    const auto [head_status, head_body] = Get(head_api, target);
    const auto [ch_status, ch_body] = Get(ch_api, target);
    EXPECT_EQ(head_status, 200) << target << ": " << head_body.substr(0, 300);
    EXPECT_EQ(ch_status, head_status) << target;
    EXPECT_EQ(ch_body, head_body) << target;
    EXPECT_GT(head_body.size(), 40u) << target << ": " << head_body;  // not an empty answer
  }
  // A v3 search of several traces: the same spans, but the head groups spans
  // of different traces that share a batch's resource into one
  // ResourceSpans, where ClickHouse's traces are separate batches.
  auto count = [](const std::string& body, std::string_view what) {
    size_t n = 0;
    for (size_t at = body.find(what); at != std::string::npos; at = body.find(what, at + 1)) ++n;
    return n;
  };
  const auto [hs, hb] = Get(head_api, "/api/v3/traces?query.service_name=checkout&query.num_traces=5");
  const auto [cs, cb] = Get(ch_api, "/api/v3/traces?query.service_name=checkout&query.num_traces=5");
  EXPECT_EQ(hs, 200);
  EXPECT_EQ(cs, 200);
  EXPECT_EQ(count(cb, "\"spanId\""), count(hb, "\"spanId\""));
  EXPECT_GT(count(hb, "\"spanId\""), 5u);
  writer.Stop();
}

// How fast the writer takes spans into ClickHouse here (printed, not
// asserted: the machine decides).
TEST_F(ClickHouseTest, WriterThroughput) {
  SchemaOptions so;
  so.database = "throughput";
  ASSERT_TRUE(EnsureSchema(*client_, so).ok());
  std::vector<std::shared_ptr<const SpanBatch>> batches;
  uint64_t spans = 0;
  for (uint32_t i = 0; i < 60; ++i) {
    batches.push_back(MakeBatch(500 + i, 200, kBase + i * 1'000'000'000ull));
    spans += batches.back()->size();
  }
  WriterOptions wo;
  wo.database = "throughput";
  ClickHouseWriter writer(client_.get(), wo);
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : batches) ASSERT_TRUE(writer.Enqueue(b, nullptr).ok());
  ASSERT_TRUE(WaitAcked(writer, batches.size()));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const WriterStats st = writer.stats();
  EXPECT_EQ(st.acked_batches, batches.size());
  EXPECT_EQ(st.acked_spans, spans);
  std::printf("writer throughput: %llu spans (%zu batches) in %.2f s = %.0f spans/s, %llu inserts\n",
              static_cast<unsigned long long>(spans), batches.size(), secs,
              static_cast<double>(spans) / secs, static_cast<unsigned long long>(st.inserts));
  writer.Stop();
}

TEST_F(ClickHouseTest, FullQueueAndStopPushBack) {
  // No server behind this client: nothing is ever confirmed.
  ClickHouseOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  o.timeout = std::chrono::milliseconds(1000);
  auto down = ClickHouseClient::Create(o);
  ASSERT_TRUE(down.ok());
  auto b = MakeBatch(5, 20, kBase);
  WriterOptions wo;
  wo.max_queue_bytes = b->MemoryBytes() * 2;
  wo.initial_backoff = std::chrono::milliseconds(10);
  ClickHouseWriter writer(&*down, wo);
  int failed = 0;
  auto ack = [&failed](const absl::Status& s) {
    if (!s.ok()) ++failed;  // sender thread / Stop: one at a time
  };
  ASSERT_TRUE(writer.Enqueue(b, ack).ok());
  ASSERT_TRUE(writer.Enqueue(b, ack).ok());
  absl::Status full = writer.Enqueue(b, ack);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  writer.Stop(std::chrono::milliseconds(200));
  EXPECT_EQ(failed, 2);  // acknowledged as not stored
  EXPECT_EQ(writer.Enqueue(b, ack).code(), absl::StatusCode::kUnavailable);
  const WriterStats s = writer.stats();
  EXPECT_EQ(s.acked_batches, 0u);
  EXPECT_EQ(s.failed_batches, 2u);
  EXPECT_EQ(s.rejected_batches, 2u);
  EXPECT_GT(s.retries, 0u);
}

TEST_F(ClickHouseTest, AcknowledgedBatchesSurviveAServerCrash) {
  SchemaOptions so;
  so.database = "crash";
  ASSERT_TRUE(EnsureSchema(*client_, so).ok());
  WriterOptions wo;
  wo.database = "crash";
  wo.max_insert_bytes = 256 << 10;  // small inserts: many in flight around the kill
  wo.initial_backoff = std::chrono::milliseconds(50);
  wo.max_backoff = std::chrono::milliseconds(500);
  // The writer's own client: short timeouts, as a server that vanished
  // mid-request must not hold it for long.
  ClickHouseOptions co = client_->options();
  co.timeout = std::chrono::milliseconds(5000);
  auto wc = ClickHouseClient::Create(co);
  ASSERT_TRUE(wc.ok());
  ClickHouseWriter writer(&*wc, wo);
  constexpr int kBatches = 40;
  std::vector<std::shared_ptr<const SpanBatch>> batches;
  for (int i = 0; i < kBatches; ++i) {
    batches.push_back(MakeBatch(1000 + i, 40, kBase + static_cast<uint64_t>(i) * 100'000'000));
  }
  absl::Mutex mu;
  std::map<int, absl::Status> acked;  // batch -> its acknowledgement
  auto enqueue = [&](int i) {
    return writer.Enqueue(batches[i], [&, i](const absl::Status& s) {
      absl::MutexLock l(&mu);
      acked.emplace(i, s);
    });
  };
  for (int i = 0; i < kBatches / 2; ++i) ASSERT_TRUE(enqueue(i).ok());
  // Kill the server once some batches are confirmed and others are not.
  for (int i = 0; i < 600 && writer.stats().acked_batches < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server_->Kill();
  std::set<int> acked_before_kill;
  {
    absl::MutexLock l(&mu);
    for (const auto& [i, s] : acked) {
      if (s.ok()) acked_before_kill.insert(i);
    }
  }
  for (int i = kBatches / 2; i < kBatches; ++i) ASSERT_TRUE(enqueue(i).ok());
  // While it is down the writer retries (bounded wait for a few failures).
  for (int i = 0; i < 100 && writer.stats().retries < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(writer.stats().retries, 1u);
  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE(WaitAcked(writer, kBatches));
  const WriterStats st = writer.stats();
  EXPECT_EQ(st.acked_batches, static_cast<uint64_t>(kBatches));
  EXPECT_EQ(st.failed_batches, 0u) << st.last_error;
  std::printf("crash test: %zu batches acknowledged before the kill, %llu retries, last error: %s\n",
              acked_before_kill.size(), static_cast<unsigned long long>(st.retries),
              st.last_error.c_str());
  EXPECT_FALSE(acked_before_kill.empty());
  EXPECT_LT(acked_before_kill.size(), static_cast<size_t>(kBatches));

  // Everything acknowledged is there, each span once (after read-time dedup).
  ClickHouseBackend ch(client_.get(), "crash");
  TraceQuery all;
  all.limit = 0;
  const auto found = Ok(ch.FindTraces(all));
  std::set<model::TraceId> found_ids;
  for (const auto& [start, id] : found) found_ids.insert(id);
  size_t spans_checked = 0;
  {
    absl::MutexLock l(&mu);
    ASSERT_EQ(acked.size(), static_cast<size_t>(kBatches));
    for (const auto& [i, s] : acked) {
      ASSERT_TRUE(s.ok()) << "batch " << i << ": " << s;
      const SpanBatch& b = *batches[i];
      std::map<model::TraceId, size_t> per_trace;
      for (uint32_t r = 0; r < b.size(); ++r) ++per_trace[b.trace_id[r]];
      for (const auto& [id, n] : per_trace) {
        EXPECT_TRUE(found_ids.contains(id)) << "batch " << i << " trace " << model::ToHex(id);
        if (acked_before_kill.contains(i) || i % 5 == 0) {  // every trace of some batches
          EXPECT_EQ(Ok(ch.GetTrace(id)).size(), n) << "batch " << i;
          spans_checked += n;
        }
      }
    }
  }
  EXPECT_GT(spans_checked, 0u);
  size_t total = 0;
  for (const auto& b : batches) total += b->size();
  auto distinct = client_->Query(
      "SELECT count() FROM (SELECT DISTINCT trace_id, span_id, kind FROM crash.spans) FORMAT TSV");
  ASSERT_TRUE(distinct.ok()) << distinct.status();
  EXPECT_EQ(*distinct, std::to_string(total) + "\n");
  writer.Stop();
}

}  // namespace
}  // namespace ariadne::clickhouse
