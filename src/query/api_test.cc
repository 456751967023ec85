#include "query/api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>

#include "analytics/analytics.h"
#include "query/metrics_api.h"
#include "store/head.h"

namespace ariadne::query {
namespace {

using model::SpanBatch;
using model::SpanKind;

// A head with two traces: frontend -> cart (trace 1, an error in cart) and
// frontend alone (trace 2).
class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = std::make_shared<SpanBatch>();
    AddResource(b.get(), "frontend");
    AddResource(b.get(), "cart");
    AddSpan(b.get(), 0, 1, 1, 0, "GET /cart", SpanKind::kServer, 1'000'000'000, 300'000'000);
    AddSpan(b.get(), 1, 1, 2, 1, "GetCart", SpanKind::kServer, 1'100'000'000, 100'000'000);
    b->status_code[1] = model::StatusCode::kError;
    AddSpan(b.get(), 0, 2, 3, 0, "GET /", SpanKind::kServer, 5'000'000'000, 10'000'000);
    head_.Append(b);
    options_.now_nanos = [this] { return clock_; };
    options_.metrics_text = [] { return std::string("ariadne_up 1\n"); };
    api_ = std::make_unique<QueryApi>(&head_, options_);
    api_->SetReady(true);
  }

  // Recreates the API with analytics (10 s steps, a 1 h window) whose wall
  // clock, also the API's, is now `now`.
  analytics::Analytics& EnableAnalytics(uint64_t now) {
    clock_ = now;
    analytics::AnalyticsOptions o;
    o.series.step_nanos = 10 * kSec;
    o.series.window_nanos = 3600 * kSec;
    o.lateness_nanos = 5 * kSec;
    o.traces.idle_nanos = 5 * kSec;
    api_.reset();
    analytics_ = std::make_unique<analytics::Analytics>(o, [this] { return clock_; });
    options_.analytics = analytics_.get();
    api_ = std::make_unique<QueryApi>(&head_, options_);
    api_->SetReady(true);
    return *analytics_;
  }

  static void AddResource(SpanBatch* b, std::string_view service) {
    model::Resource r;
    r.service_name = b->Copy(service);
    b->resources.push_back(r);
    model::Scope s;
    s.resource = static_cast<uint32_t>(b->resources.size() - 1);
    b->scopes.push_back(s);
  }
  static void AddSpan(SpanBatch* b, uint32_t scope, uint8_t trace, uint8_t span, uint8_t parent,
                      std::string_view name, SpanKind kind, uint64_t start, uint64_t duration) {
    const uint32_t row = b->AddSpan();
    b->trace_id[row][15] = trace;
    b->span_id[row][7] = span;
    if (parent) b->parent_span_id[row][7] = parent;
    b->name[row] = b->Copy(name);
    b->kind[row] = kind;
    b->start_unix_nano[row] = start;
    b->end_unix_nano[row] = start + duration;
    b->scope[row] = scope;
  }

  // GET `target`; returns the status and parses the body into `doc`.
  int Get(std::string_view target, rapidjson::Document* doc = nullptr) {
    serve::HttpRequest req;
    req.method = "GET";
    const size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) {
      std::string_view query = target.substr(q + 1);
      while (!query.empty()) {
        const size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        const size_t eq = pair.find('=');
        req.params.emplace_back(
            std::string(pair.substr(0, eq)),
            eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
        query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
      }
    }
    serve::HttpResponse res;
    api_->Handle(std::move(req), [&res](serve::HttpResponse r) { res = std::move(r); });
    body_ = res.body;
    if (doc != nullptr) {
      doc->Parse(res.body.c_str());
      EXPECT_FALSE(doc->HasParseError()) << res.body;
    }
    return res.status;
  }

  static std::string Tid(int n) {
    return std::string(30, '0') + (n < 10 ? "0" : "") + std::to_string(n);
  }

  static constexpr uint64_t kSec = 1'000'000'000;

  uint64_t clock_ = 10 * kSec;
  store::Head head_;
  ApiOptions options_;
  std::unique_ptr<analytics::Analytics> analytics_;  // outlives api_
  std::unique_ptr<QueryApi> api_;
  std::string body_;
};

TEST_F(QueryApiTest, ServicesAndOperations) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/services", &d), 200);
  ASSERT_EQ(d["data"].Size(), 2u);
  EXPECT_STREQ(d["data"][0].GetString(), "cart");
  EXPECT_TRUE(d["errors"].IsNull());
  ASSERT_EQ(Get("/api/services/frontend/operations", &d), 200);
  ASSERT_EQ(d["data"].Size(), 2u);
  EXPECT_STREQ(d["data"][0].GetString(), "GET /");
  ASSERT_EQ(Get("/api/operations?service=cart&spanKind=server", &d), 200);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_STREQ(d["data"][0]["spanKind"].GetString(), "server");
  EXPECT_EQ(Get("/api/operations?service=cart&spanKind=sideways", &d), 400);
  ASSERT_EQ(Get("/api/v3/services", &d), 200);
  EXPECT_EQ(d["services"].Size(), 2u);
  ASSERT_EQ(Get("/api/v3/operations?service=cart&span_kind=server", &d), 200);
  EXPECT_EQ(d["operations"].Size(), 1u);
  ASSERT_EQ(Get("/api/v3/operations?service=cart&spanKind=client", &d), 200);
  EXPECT_EQ(d["operations"].Size(), 0u);
}

TEST_F(QueryApiTest, TraceByIdInBothModels) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/traces/" + Tid(1), &d), 200);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_EQ(d["data"][0]["spans"].Size(), 2u);
  EXPECT_EQ(Get("/api/traces/" + Tid(9), &d), 404);
  EXPECT_EQ(d["errors"][0]["code"].GetInt(), 404);
  EXPECT_EQ(Get("/api/traces/not-hex", &d), 400);
  ASSERT_EQ(Get("/api/v3/traces/" + Tid(1), &d), 200);
  EXPECT_EQ(d["result"]["resourceSpans"].Size(), 2u);
  EXPECT_EQ(Get("/api/v3/traces/" + Tid(9), &d), 404);
  EXPECT_EQ(d["error"]["httpCode"].GetInt(), 404);
}

// A backend that cannot answer (a remote database down).
class FailingStore : public store::StorageBackend {
 public:
  absl::StatusOr<std::vector<model::SpanRef>> GetTrace(const model::TraceId&) const override {
    return absl::UnavailableError("clickhouse: connection refused");
  }
  absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const store::TraceQuery&) const override {
    return absl::UnavailableError("clickhouse: connection refused");
  }
  absl::StatusOr<std::vector<std::string>> Services() const override {
    return absl::UnavailableError("clickhouse: connection refused");
  }
  absl::StatusOr<std::vector<store::Operation>> Operations(
      std::string_view, std::optional<model::SpanKind>) const override {
    return absl::UnavailableError("clickhouse: connection refused");
  }
  absl::StatusOr<std::vector<store::Dependency>> Dependencies(uint64_t, uint64_t) const override {
    return absl::UnavailableError("clickhouse: connection refused");
  }
};

TEST_F(QueryApiTest, StoreFailuresAre503WithTheReason) {
  FailingStore failing;
  api_ = std::make_unique<QueryApi>(&failing, options_);
  api_->SetReady(true);
  rapidjson::Document d;
  for (const std::string& target :
       {std::string("/api/services"), std::string("/api/services/cart/operations"),
        std::string("/api/operations?service=cart"), std::string("/api/traces?service=cart"),
        "/api/traces/" + Tid(1), std::string("/api/dependencies?endTs=10000&lookback=10000"),
        "/api/v1/traces/" + Tid(1) + "/critical-path"}) {
    ASSERT_EQ(Get(target, &d), 503) << target;
    ASSERT_TRUE(d["errors"].IsArray()) << body_;
    EXPECT_EQ(d["errors"][0]["code"].GetInt(), 503);
    EXPECT_NE(std::string(d["errors"][0]["msg"].GetString()).find("connection refused"),
              std::string::npos)
        << body_;
  }
  for (const std::string& target :
       {std::string("/api/v3/services"), std::string("/api/v3/operations?service=cart"),
        std::string("/api/v3/traces?query.service_name=cart"), "/api/v3/traces/" + Tid(1)}) {
    ASSERT_EQ(Get(target, &d), 503) << target;
    EXPECT_EQ(d["error"]["httpCode"].GetInt(), 503) << body_;
  }
  api_.reset();
}

TEST_F(QueryApiTest, JaegerSearchParameters) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/traces?service=frontend", &d), 200);
  EXPECT_EQ(d["data"].Size(), 2u);
  ASSERT_EQ(Get("/api/traces?service=frontend&minDuration=100ms", &d), 200);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_EQ(std::string(d["data"][0]["traceID"].GetString()), Tid(1));
  ASSERT_EQ(Get(R"(/api/traces?tags={"error":"true"})", &d), 200);
  EXPECT_EQ(d["data"].Size(), 1u);
  ASSERT_EQ(Get("/api/traces?service=cart&tag=error:true", &d), 200);
  EXPECT_EQ(d["data"].Size(), 1u);
  // start/end in microseconds: only trace 2 started after 4 s.
  ASSERT_EQ(Get("/api/traces?start=4000000&end=6000000", &d), 200);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_EQ(std::string(d["data"][0]["traceID"].GetString()), Tid(2));
  // lookback is counted back from now (10 s): 2 s back finds nothing.
  ASSERT_EQ(Get("/api/traces?lookback=2s", &d), 200);
  EXPECT_EQ(d["data"].Size(), 0u);
  ASSERT_EQ(Get("/api/traces?limit=1", &d), 200);
  EXPECT_EQ(d["data"].Size(), 1u);
  EXPECT_EQ(Get("/api/traces?minDuration=fast", &d), 400);
  EXPECT_NE(body_.find("minDuration"), std::string::npos);
  EXPECT_EQ(Get("/api/traces?traceID=" + Tid(1) + "&traceID=" + Tid(2), &d), 200);
  EXPECT_EQ(d["data"].Size(), 2u);
}

TEST_F(QueryApiTest, V3SearchAcceptsSnakeAndCamelCase) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/v3/traces?query.service_name=cart", &d), 200);
  // The whole trace comes back: both its resources.
  EXPECT_EQ(d["result"]["resourceSpans"].Size(), 2u);
  ASSERT_EQ(Get("/api/v3/traces?query.serviceName=frontend&query.durationMin=200ms", &d), 200);
  EXPECT_EQ(d["result"]["resourceSpans"].Size(), 2u);  // trace 1 only
  ASSERT_EQ(Get("/api/v3/traces?query.service_name=frontend"
                "&query.start_time_min=1970-01-01T00:00:04Z",
                &d),
            200);
  ASSERT_EQ(d["result"]["resourceSpans"].Size(), 1u);
  EXPECT_EQ(Get("/api/v3/traces?query.start_time_min=tomorrow", &d), 400);
  EXPECT_EQ(d["error"]["httpCode"].GetInt(), 400);
}

TEST_F(QueryApiTest, Dependencies) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/dependencies?endTs=10000&lookback=10000", &d), 200);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_STREQ(d["data"][0]["parent"].GetString(), "frontend");
  EXPECT_STREQ(d["data"][0]["child"].GetString(), "cart");
  EXPECT_EQ(d["data"][0]["callCount"].GetUint64(), 1u);
  ASSERT_EQ(Get("/api/dependencies?endTs=10000&lookback=1000", &d), 200);
  EXPECT_EQ(d["data"].Size(), 0u);
}

TEST_F(QueryApiTest, Anomalies) {
  EXPECT_EQ(Get("/api/v1/anomalies"), 503);  // no detection
  detect::Detection detection;
  options_.detection = &detection;
  clock_ = 1'700'010'000 * kSec;
  api_ = std::make_unique<QueryApi>(&head_, options_);
  const analytics::Labels labels = {{"service", "cart"}, {"span_kind", "SPAN_KIND_SERVER"}};
  for (uint64_t i = 0; i < 200; ++i) {
    const double v = 100 + (i % 2 == 0 ? 1 : -1) + (i == 150 ? 80 : 0);
    detection.OnValue("calls_per_second", labels, 1'700'000'000 * kSec + i * 10 * kSec, v);
  }
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/v1/anomalies?start=1700000000&end=1700010000", &d), 200);
  ASSERT_EQ(d["anomalies"].Size(), 1u);
  const auto& a = d["anomalies"][0];
  EXPECT_STREQ(a["series"].GetString(), "calls_per_second");
  EXPECT_STREQ(a["labels"]["service"].GetString(), "cart");
  EXPECT_STREQ(a["time"].GetString(), "2023-11-14T22:38:20Z");
  EXPECT_EQ(a["value"].GetDouble(), 181);
  EXPECT_STREQ(a["reason"].GetString(), "outlier");
  EXPECT_GT(a["score"].GetDouble(), 0.78);
  EXPECT_LT(a["expected_high"].GetDouble(), 181);
  // The default window is the last hour: the anomaly is older.
  ASSERT_EQ(Get("/api/v1/anomalies", &d), 200);
  EXPECT_EQ(d["anomalies"].Size(), 0u);
  EXPECT_EQ(Get("/api/v1/anomalies?start=yesterday"), 400);
}

TEST_F(QueryApiTest, OperationalEndpoints) {
  EXPECT_EQ(Get("/healthz"), 200);
  EXPECT_EQ(Get("/readyz"), 200);
  api_->SetReady(false);
  EXPECT_EQ(Get("/readyz"), 503);
  EXPECT_EQ(Get("/metrics"), 200);
  EXPECT_EQ(body_, "ariadne_up 1\n");
  EXPECT_EQ(Get("/api/nope"), 404);
}


TEST_F(QueryApiTest, CriticalPath) {
  rapidjson::Document d;
  // Trace 1: frontend GET /cart [1.0 s, 1.3 s) waits on cart GetCart [1.1 s, 1.2 s).
  ASSERT_EQ(Get("/api/v1/traces/" + Tid(1) + "/critical-path", &d), 200);
  EXPECT_EQ(d["duration_ns"].GetUint64(), 300'000'000u);
  ASSERT_EQ(d["segments"].Size(), 3u);
  EXPECT_STREQ(d["segments"][0]["service"].GetString(), "frontend");
  EXPECT_EQ(d["segments"][0]["duration_ns"].GetUint64(), 100'000'000u);
  EXPECT_STREQ(d["segments"][1]["service"].GetString(), "cart");
  EXPECT_EQ(d["segments"][1]["start_offset_ns"].GetUint64(), 100'000'000u);
  EXPECT_STREQ(d["segments"][2]["operation"].GetString(), "GET /cart");
  ASSERT_EQ(d["services"].Size(), 2u);
  EXPECT_STREQ(d["services"][0]["service"].GetString(), "frontend");
  EXPECT_NEAR(d["services"][0]["share"].GetDouble(), 2.0 / 3, 1e-9);
  EXPECT_EQ(d["self_time_ns"]["0000000000000001"].GetUint64(), 200'000'000u);
  EXPECT_EQ(Get("/api/v1/traces/" + Tid(9) + "/critical-path"), 404);
  EXPECT_EQ(Get("/api/v1/traces/xyz/critical-path"), 400);
}

// ---- Analytics series ----

constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z, a 10 s step boundary
const std::string kT0Ms = "1700000000000";

std::string Ms(uint64_t nanos) { return std::to_string(nanos / 1'000'000); }

// Series written straight into the store, six 10 s steps from kT0:
//   api    server             2 calls/s, errors 50% in the first three steps,
//                             latency (p50, p75, p90, p95, p99) = (1..5) x 0.1 s x (step + 1)
//   api    server  "GET /"    1.5 calls/s, the same errors, latency (1..5) x 0.1 s
//   api    server  "POST /"   0.5 calls/s, the same errors, latency (1..5) x 0.2 s
//   api    client             10 calls/s, no errors, latency (1..5) x 0.01 s
//   other  server             7 calls/s, no errors, latency (1..5) x 0.05 s
class QueryApiSeriesTest : public QueryApiTest {
 protected:
  void SetUp() override {
    QueryApiTest::SetUp();
    // Analytics saw its first span an hour before kT0; the clock is now 10
    // min past kT0, so the series cover the hour before (from kT0 - 50 min).
    EnableAnalytics(kT0 - 3600 * kSec);
    SpanBatch first;
    AddResource(&first, "warmup");
    AddSpan(&first, 0, 1, 1, 0, "op", SpanKind::kServer, kT0 - 3600 * kSec, 1'000'000);
    analytics_->PushSpans(first);
    clock_ = kT0 + 600 * kSec;
    ASSERT_EQ(analytics_->SeriesStartNanos() / (10 * kSec), (kT0 - 3000 * kSec) / (10 * kSec));
    for (uint64_t j = 0; j < 6; ++j) {
      const uint64_t t = kT0 + j * 10 * kSec;
      const double err = j < 3 ? 0.5 : 0;
      Red("api", "SPAN_KIND_SERVER", "", t, 2, err, 0.1 * static_cast<double>(j + 1));
      Red("api", "SPAN_KIND_SERVER", "GET /", t, 1.5, err, 0.1);
      Red("api", "SPAN_KIND_SERVER", "POST /", t, 0.5, err, 0.2);
      Red("api", "SPAN_KIND_CLIENT", "", t, 10, 0, 0.01);
      Red("other", "SPAN_KIND_SERVER", "", t, 7, 0, 0.05);
    }
  }

  void Red(const std::string& service, const std::string& kind, const std::string& op,
           uint64_t t, double calls, double error_ratio, double latency) {
    analytics::SeriesStore& store = analytics_->series();
    analytics::Labels l = {{"service", service}, {"span_kind", kind}};
    if (!op.empty()) l.emplace_back("operation", op);
    analytics::SortLabels(&l);
    ASSERT_TRUE(store.Set("calls_per_second", l, t, calls));
    ASSERT_TRUE(store.Set("error_ratio", l, t, error_ratio));
    for (size_t i = 0; i < std::size(analytics::kQuantileLabels); ++i) {
      analytics::Labels lq = l;
      lq.emplace_back("quantile", std::string(analytics::kQuantileLabels[i]));
      analytics::SortLabels(&lq);
      ASSERT_TRUE(store.Set("latency_seconds", lq, t, latency * static_cast<double>(i + 1)));
    }
  }

  // The values of metrics[i] of a Jaeger MetricFamily.
  static std::vector<double> Values(const rapidjson::Value& family, size_t i) {
    std::vector<double> out;
    for (const auto& p : family["metrics"][static_cast<rapidjson::SizeType>(i)]["metricPoints"].GetArray()) {
      out.push_back(p["gaugeValue"]["doubleValue"].GetDouble());
    }
    return out;
  }
  static void ExpectValues(const std::vector<double>& got, const std::vector<double>& want) {
    ASSERT_EQ(got.size(), want.size());
    // The store keeps floats.
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-6 * std::max(1.0, std::fabs(want[i]))) << i;
    }
  }
};

TEST_F(QueryApiSeriesTest, NativeSeries) {
  rapidjson::Document d;
  // operation= (empty): the label must be absent, so only the service-level series.
  ASSERT_EQ(Get("/api/v1/series?name=calls_per_second&service=api&span_kind=SPAN_KIND_SERVER"
                "&operation=&start=1700000000&end=1700000030",
                &d),
            200)
      << body_;
  EXPECT_EQ(d["step_seconds"].GetUint64(), 10u);
  ASSERT_EQ(d["series"].Size(), 1u);
  const auto& s = d["series"][0];
  EXPECT_STREQ(s["name"].GetString(), "calls_per_second");
  EXPECT_STREQ(s["labels"]["service"].GetString(), "api");
  EXPECT_STREQ(s["labels"]["span_kind"].GetString(), "SPAN_KIND_SERVER");
  EXPECT_FALSE(s["labels"].HasMember("operation"));
  ASSERT_EQ(s["points"].Size(), 4u);
  EXPECT_EQ(s["points"][0][0].GetUint64(), 1'700'000'000u);
  EXPECT_EQ(s["points"][0][1].GetDouble(), 2.0);
  EXPECT_EQ(s["points"][3][0].GetUint64(), 1'700'000'030u);

  // Every label value of api's server series: the service level and two operations.
  ASSERT_EQ(Get("/api/v1/series?name=calls_per_second&service=api&span_kind=SPAN_KIND_SERVER"
                "&start=1700000000&end=1700000030",
                &d),
            200);
  EXPECT_EQ(d["series"].Size(), 3u);

  // RFC 3339 and fractional seconds; start is inclusive.
  ASSERT_EQ(Get("/api/v1/series?name=calls_per_second&service=other"
                "&start=2023-11-14T22:13:20.5Z&end=1700000020.0",
                &d),
            200);
  ASSERT_EQ(d["series"].Size(), 1u);
  ASSERT_EQ(d["series"][0]["points"].Size(), 2u);  // 10 s and 20 s
  EXPECT_EQ(d["series"][0]["points"][0][0].GetUint64(), 1'700'000'010u);

  // Default window: the hour before now (kT0 + 10 min) holds all six steps.
  ASSERT_EQ(Get("/api/v1/series?name=calls_per_second&service=other", &d), 200);
  ASSERT_EQ(d["series"].Size(), 1u);
  EXPECT_EQ(d["series"][0]["points"].Size(), 6u);

  // step: the mean of each 30 s bucket (latency p50 of api: 0.1, 0.2, 0.3 | 0.4, 0.5, 0.6).
  ASSERT_EQ(Get("/api/v1/series?name=latency_seconds&service=api&span_kind=SPAN_KIND_SERVER"
                "&operation=&quantile=0.5&start=1700000000&end=1700000060&step=30s",
                &d),
            200);
  EXPECT_EQ(d["step_seconds"].GetUint64(), 30u);
  ASSERT_EQ(d["series"].Size(), 1u);
  const auto& points = d["series"][0]["points"];
  ASSERT_EQ(points.Size(), 2u);
  EXPECT_EQ(points[0][0].GetUint64(), 1'700'000'000u);
  EXPECT_NEAR(points[0][1].GetDouble(), 0.2, 1e-6);
  EXPECT_EQ(points[1][0].GetUint64(), 1'700'000'030u);
  EXPECT_NEAR(points[1][1].GetDouble(), 0.5, 1e-6);

  // Names and label values.
  ASSERT_EQ(Get("/api/v1/series/names", &d), 200);
  ASSERT_EQ(d["names"].Size(), 3u);
  EXPECT_STREQ(d["names"][0].GetString(), "calls_per_second");
  ASSERT_EQ(Get("/api/v1/series/labels?name=calls_per_second&label=operation", &d), 200);
  ASSERT_EQ(d["values"].Size(), 2u);
  EXPECT_STREQ(d["values"][0].GetString(), "GET /");
  ASSERT_EQ(Get("/api/v1/series/labels?name=calls_per_second&label=service", &d), 200);
  EXPECT_EQ(d["values"].Size(), 2u);
}

TEST_F(QueryApiSeriesTest, NativeSeriesBadParameters) {
  rapidjson::Document d;
  EXPECT_EQ(Get("/api/v1/series?service=api", &d), 400);
  EXPECT_NE(body_.find("name"), std::string::npos) << body_;
  EXPECT_EQ(d["errors"][0]["code"].GetInt(), 400);
  EXPECT_EQ(Get("/api/v1/series?name=x&start=yesterday"), 400);
  EXPECT_NE(body_.find("start"), std::string::npos) << body_;
  EXPECT_EQ(Get("/api/v1/series?name=x&end=12:00"), 400);
  EXPECT_NE(body_.find("end"), std::string::npos) << body_;
  EXPECT_EQ(Get("/api/v1/series?name=x&start=1700000100&end=1700000000"), 400);
  EXPECT_NE(body_.find("start"), std::string::npos) << body_;
  EXPECT_EQ(Get("/api/v1/series?name=x&step=0"), 400);
  EXPECT_NE(body_.find("step"), std::string::npos) << body_;
  EXPECT_EQ(Get("/api/v1/series?name=x&service=a&service=b"), 400);
  EXPECT_NE(body_.find("service"), std::string::npos) << body_;
  EXPECT_EQ(Get("/api/v1/series/labels?name=x"), 400);
  EXPECT_NE(body_.find("label"), std::string::npos) << body_;
  EXPECT_EQ(Get("/api/v1/series/other"), 404);
  // Nothing matches: an empty list, not an error.
  ASSERT_EQ(Get("/api/v1/series?name=nothing", &d), 200);
  EXPECT_EQ(d["series"].Size(), 0u);
}

TEST_F(QueryApiTest, SeriesAndMetricsWithoutAnalytics) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/v1/series?name=calls_per_second", &d), 503);
  EXPECT_EQ(d["errors"][0]["code"].GetInt(), 503);
  EXPECT_NE(std::string(d["errors"][0]["msg"].GetString()).find("analytics is disabled"),
            std::string::npos);
  EXPECT_EQ(Get("/api/v1/series/names"), 503);
  EXPECT_EQ(Get("/api/v1/series/labels?name=x&label=y"), 503);
  // Jaeger's code for "no metrics store", which its UI shows as "not configured".
  ASSERT_EQ(Get("/api/metrics/calls?service=a", &d), 501);
  EXPECT_NE(std::string(d["errors"][0]["msg"].GetString()).find("analytics is disabled"),
            std::string::npos);
  EXPECT_EQ(Get("/api/metrics/latencies?service=a&quantile=0.95"), 501);
  EXPECT_EQ(Get("/api/metrics/errors?service=a"), 501);
  EXPECT_EQ(Get("/api/metrics/minstep"), 501);
  EXPECT_EQ(Get("/api/metrics/nope"), 404);
}

TEST_F(QueryApiSeriesTest, JaegerCallRates) {
  rapidjson::Document d;
  const std::string end = "&endTs=" + Ms(kT0 + 50 * kSec);
  // 10 s points over the minute before kT0 + 50 s; nothing before kT0.
  ASSERT_EQ(Get("/api/metrics/calls?service=api" + end + "&lookback=60000&step=10000&ratePer=10000",
                &d),
            200)
      << body_;
  EXPECT_STREQ(d["name"].GetString(), "service_call_rate");
  EXPECT_STREQ(d["type"].GetString(), "GAUGE");
  EXPECT_STREQ(d["help"].GetString(), "calls/sec, grouped by service");
  ASSERT_EQ(d["metrics"].Size(), 1u);
  const auto& m = d["metrics"][0];
  ASSERT_EQ(m["labels"].Size(), 1u);
  EXPECT_STREQ(m["labels"][0]["name"].GetString(), "service_name");
  EXPECT_STREQ(m["labels"][0]["value"].GetString(), "api");
  ASSERT_EQ(m["metricPoints"].Size(), 6u);
  EXPECT_STREQ(m["metricPoints"][0]["timestamp"].GetString(), "2023-11-14T22:13:20Z");
  EXPECT_STREQ(m["metricPoints"][5]["timestamp"].GetString(), "2023-11-14T22:14:10Z");
  // Calls per second, whatever ratePer: it is the window of the rate.
  ExpectValues(Values(d, 0), {2, 2, 2, 2, 2, 2});

  // ratePer = 1 min: each point is the rate over the minute ending with it,
  // and the minute before kT0 had no calls.
  ASSERT_EQ(Get("/api/metrics/calls?service=api" + end + "&lookback=60000&step=10000&ratePer=60000",
                &d),
            200);
  ExpectValues(Values(d, 0), {2.0 / 6, 4.0 / 6, 6.0 / 6, 8.0 / 6, 10.0 / 6, 2});

  // 1 min points, 2 min windows. The first, [kT0 - 1 min, kT0 + 1 min): 12
  // calls in 2 min. The second, [kT0, kT0 + 2 min): the steps after the
  // newest one stored (kT0 + 50 s; not finished yet) do not dilute the rate.
  ASSERT_EQ(Get("/api/metrics/calls?service=api&endTs=" + Ms(kT0 + 90 * kSec) +
                    "&lookback=90000&step=60000&ratePer=120000",
                &d),
            200);
  ExpectValues(Values(d, 0), {1, 2});
  EXPECT_STREQ(d["metrics"][0]["metricPoints"][1]["timestamp"].GetString(), "2023-11-14T22:14:20Z");

  // Span kinds: server (default), client, or both added up.
  ASSERT_EQ(Get("/api/metrics/calls?service=api" + end +
                    "&lookback=60000&step=10000&ratePer=10000&spanKind=client",
                &d),
            200);
  ExpectValues(Values(d, 0), {10, 10, 10, 10, 10, 10});
  ASSERT_EQ(Get("/api/metrics/calls?service=api" + end +
                    "&lookback=60000&step=10000&ratePer=10000&spanKind=server&spanKind=CLIENT",
                &d),
            200);
  ExpectValues(Values(d, 0), {12, 12, 12, 12, 12, 12});
  ASSERT_EQ(Get("/api/metrics/calls?service=api" + end + "&spanKind=producer", &d), 200);
  EXPECT_EQ(d["metrics"].Size(), 0u);

  // Several services: one metric each.
  ASSERT_EQ(Get("/api/metrics/calls?service=other&service=api" + end +
                    "&lookback=60000&step=10000&ratePer=10000",
                &d),
            200);
  ASSERT_EQ(d["metrics"].Size(), 2u);
  EXPECT_STREQ(d["metrics"][1]["labels"][0]["value"].GetString(), "other");
  ExpectValues(Values(d, 1), {7, 7, 7, 7, 7, 7});

  // Only points in [endTs - lookback, endTs]: kT0 + 10 s and + 20 s.
  ASSERT_EQ(Get("/api/metrics/calls?service=api&endTs=" + Ms(kT0 + 20 * kSec) +
                    "&lookback=10000&step=10000&ratePer=10000",
                &d),
            200);
  ASSERT_EQ(d["metrics"][0]["metricPoints"].Size(), 2u);
  EXPECT_STREQ(d["metrics"][0]["metricPoints"][0]["timestamp"].GetString(), "2023-11-14T22:13:30Z");

  // Jaeger's defaults: 1 h back from now (kT0 + 10 min), a 5 s step (the
  // store's 10 s), a 10 min rate window. The last point's window [kT0 + 10 s,
  // kT0 + 10 min 10 s) holds five steps of calls, and the store has finished
  // no step after kT0 + 50 s.
  ASSERT_EQ(Get("/api/metrics/calls?service=api", &d), 200);
  ASSERT_EQ(d["metrics"].Size(), 1u);
  std::vector<double> v = Values(d, 0);
  ASSERT_EQ(v.size(), 61u);  // from kT0 (the first window with calls) to kT0 + 10 min
  EXPECT_NEAR(v.front(), 2.0 / 60, 1e-6);
  EXPECT_NEAR(v.back(), 2, 1e-6);
  EXPECT_STREQ(d["metrics"][0]["metricPoints"][60]["timestamp"].GetString(), "2023-11-14T22:23:20Z");

  // A service whose calls stopped: steps without a value count as no calls,
  // up to the newest step of any service.
  Red("quiet", "SPAN_KIND_SERVER", "", kT0, 6, 0, 0.1);
  ASSERT_EQ(Get("/api/metrics/calls?service=quiet" + end + "&lookback=0&step=10000&ratePer=60000",
                &d),
            200);
  ExpectValues(Values(d, 0), {1});
}

TEST_F(QueryApiSeriesTest, JaegerCallRatesByOperation) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/metrics/calls?service=api&groupByOperation=true&endTs=" +
                    Ms(kT0 + 50 * kSec) + "&lookback=60000&step=10000&ratePer=10000",
                &d),
            200);
  EXPECT_STREQ(d["name"].GetString(), "service_operation_call_rate");
  EXPECT_STREQ(d["help"].GetString(), "calls/sec, grouped by service & operation");
  ASSERT_EQ(d["metrics"].Size(), 2u);
  const auto& labels = d["metrics"][0]["labels"];
  ASSERT_EQ(labels.Size(), 2u);
  EXPECT_STREQ(labels[0]["name"].GetString(), "service_name");
  EXPECT_STREQ(labels[0]["value"].GetString(), "api");
  EXPECT_STREQ(labels[1]["name"].GetString(), "operation");
  EXPECT_STREQ(labels[1]["value"].GetString(), "GET /");
  ExpectValues(Values(d, 0), {1.5, 1.5, 1.5, 1.5, 1.5, 1.5});
  EXPECT_STREQ(d["metrics"][1]["labels"][1]["value"].GetString(), "POST /");
  ExpectValues(Values(d, 1), {0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
}

TEST_F(QueryApiSeriesTest, JaegerLatencies) {
  rapidjson::Document d;
  const std::string end = "&endTs=" + Ms(kT0 + 50 * kSec);
  // p95 of api's server spans: 4 x 0.1 s x (step + 1), in milliseconds.
  ASSERT_EQ(Get("/api/metrics/latencies?service=api&quantile=0.95" + end +
                    "&lookback=60000&step=10000&ratePer=10000",
                &d),
            200)
      << body_;
  EXPECT_STREQ(d["name"].GetString(), "service_latencies");
  EXPECT_STREQ(d["help"].GetString(), "0.95th quantile latency, grouped by service");
  ASSERT_EQ(d["metrics"].Size(), 1u);
  ExpectValues(Values(d, 0), {400, 800, 1200, 1600, 2000, 2400});

  // 30 s steps: the calls-weighted mean of the steps' quantiles (equal calls here).
  ASSERT_EQ(Get("/api/metrics/latencies?service=api&quantile=.95&endTs=" + Ms(kT0 + 50 * kSec) +
                    "&lookback=50000&step=30000&ratePer=0",
                &d),
            200);
  ExpectValues(Values(d, 0), {800, 2000});
  ASSERT_EQ(d["metrics"][0]["metricPoints"].Size(), 2u);
  EXPECT_STREQ(d["metrics"][0]["metricPoints"][1]["timestamp"].GetString(), "2023-11-14T22:13:50Z");

  // Server and client together, weighted by their calls: (0.4 x 2 + 0.04 x 10) / 12 s.
  ASSERT_EQ(Get("/api/metrics/latencies?service=api&quantile=0.95&spanKind=server&spanKind=client" +
                    end + "&lookback=60000&step=10000&ratePer=10000",
                &d),
            200);
  EXPECT_NEAR(Values(d, 0)[0], 100, 1e-4);

  // By operation; p50.
  ASSERT_EQ(Get("/api/metrics/latencies?service=api&quantile=0.5&groupByOperation=1" + end +
                    "&lookback=60000&step=10000&ratePer=10000",
                &d),
            200);
  EXPECT_STREQ(d["name"].GetString(), "service_operation_latencies");
  EXPECT_STREQ(d["help"].GetString(), "0.50th quantile latency, grouped by service & operation");
  ASSERT_EQ(d["metrics"].Size(), 2u);
  EXPECT_NEAR(Values(d, 0)[0], 100, 1e-4);
  EXPECT_NEAR(Values(d, 1)[0], 200, 1e-4);

  // Only the kept quantiles.
  EXPECT_EQ(Get("/api/metrics/latencies?service=api&quantile=0.8", &d), 400);
  const std::string msg = d["errors"][0]["msg"].GetString();
  EXPECT_NE(msg.find("0.5, 0.75, 0.9, 0.95, 0.99"), std::string::npos) << msg;
  EXPECT_EQ(Get("/api/metrics/latencies?service=api"), 400);
  EXPECT_NE(body_.find("quantile"), std::string::npos) << body_;
}

TEST_F(QueryApiSeriesTest, JaegerErrorRates) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/metrics/errors?service=api&endTs=" + Ms(kT0 + 50 * kSec) +
                    "&lookback=50000&step=30000&ratePer=30000",
                &d),
            200)
      << body_;
  EXPECT_STREQ(d["name"].GetString(), "service_error_rate");
  EXPECT_STREQ(d["help"].GetString(),
               "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service");
  // Half the calls failed in the first 30 s, none after: 0, not a gap.
  ExpectValues(Values(d, 0), {0.5, 0});
  // With the client calls (10/s, no errors): 3 errors/s of 36 calls/s.
  ASSERT_EQ(Get("/api/metrics/errors?service=api&spanKind=server&spanKind=client&endTs=" +
                    Ms(kT0 + 50 * kSec) + "&lookback=50000&step=30000&ratePer=30000",
                &d),
            200);
  ExpectValues(Values(d, 0), {1.0 / 12, 0});
}

TEST_F(QueryApiSeriesTest, JaegerMinStepAndBadParameters) {
  rapidjson::Document d;
  ASSERT_EQ(Get("/api/metrics/minstep", &d), 200);
  EXPECT_EQ(d["data"].GetUint64(), 10000u);
  EXPECT_TRUE(d["errors"].IsNull());

  struct Case {
    std::string query;
    std::string names;  // the parameter the message names
  };
  for (const Case& c : std::vector<Case>{
           {"/api/metrics/calls", "service"},
           {"/api/metrics/calls?service=", "service"},
           {"/api/metrics/calls?service=api&spanKind=sideways", "spanKind"},
           {"/api/metrics/calls?service=api&step=0", "step"},
           {"/api/metrics/calls?service=api&step=1s", "step"},
           {"/api/metrics/errors?service=api&endTs=-5", "endTs"},
           {"/api/metrics/errors?service=api&lookback=1h", "lookback"},
           {"/api/metrics/errors?service=api&ratePer=x", "ratePer"},
           {"/api/metrics/calls?service=api&groupByOperation=maybe", "groupByOperation"},
           {"/api/metrics/latencies?service=api&quantile=high", "quantile"},
       }) {
    ASSERT_EQ(Get(c.query, &d), 400) << c.query;
    EXPECT_EQ(d["errors"][0]["code"].GetInt(), 400);
    EXPECT_NE(std::string(d["errors"][0]["msg"].GetString()).find(c.names), std::string::npos)
        << c.query << ": " << body_;
  }
}

double FirstValue(const rapidjson::Value& family) {
  return family["metrics"][0]["metricPoints"][0]["gaugeValue"]["doubleValue"].GetDouble();
}

// Spans through analytics itself: span metrics and the service graph.
TEST_F(QueryApiTest, AnalyticsFromSpans) {
  analytics::Analytics& a = EnableAnalytics(3 * kSec);
  // frontend GET /cart (server, 100 ms at 20 s) -> its client call -> cart GetCart (server).
  SpanBatch b;
  AddResource(&b, "frontend");
  AddResource(&b, "cart");
  AddSpan(&b, 0, 7, 1, 0, "GET /cart", SpanKind::kServer, 20'000'000'000, 100'000'000);
  AddSpan(&b, 0, 7, 2, 1, "cart.Get", SpanKind::kClient, 20'010'000'000, 80'000'000);
  AddSpan(&b, 1, 7, 3, 2, "GetCart", SpanKind::kServer, 20'015'000'000, 70'000'000);
  a.PushSpans(b);
  a.Tick(/*all=*/true);

  rapidjson::Document d;
  ASSERT_EQ(Get("/api/metrics/calls?service=frontend&endTs=30000&lookback=30000&step=10000"
                "&ratePer=10000",
                &d),
            200);
  ASSERT_EQ(d["metrics"].Size(), 1u);
  ASSERT_EQ(d["metrics"][0]["metricPoints"].Size(), 1u);
  EXPECT_STREQ(d["metrics"][0]["metricPoints"][0]["timestamp"].GetString(), "1970-01-01T00:00:20Z");
  EXPECT_NEAR(FirstValue(d), 0.1, 1e-6);
  ASSERT_EQ(Get("/api/metrics/latencies?service=frontend&quantile=0.99&endTs=30000&lookback=30000",
                &d),
            200);
  EXPECT_NEAR(FirstValue(d), 100, 1.5);  // ms, within the sketch's 1%
  ASSERT_EQ(Get("/api/v1/series?name=calls_per_second&service=cart&operation=&start=0&end=60", &d),
            200);
  ASSERT_EQ(d["series"].Size(), 1u);
  EXPECT_EQ(d["series"][0]["points"][0][0].GetUint64(), 20u);

  // Dependencies: the series begin with the first span's step (20 s), so from
  // then on they come from the service graph (user -> frontend -> cart at
  // 20 s), before it from the stored spans (frontend -> cart at 1.1 s); the
  // same edge adds up.
  EXPECT_EQ(a.SeriesStartNanos(), 20 * kSec);
  ASSERT_EQ(Get("/api/dependencies?endTs=60000&lookback=60000", &d), 200);
  ASSERT_EQ(d["data"].Size(), 2u);
  EXPECT_STREQ(d["data"][0]["parent"].GetString(), "frontend");
  EXPECT_STREQ(d["data"][0]["child"].GetString(), "cart");
  EXPECT_EQ(d["data"][0]["callCount"].GetUint64(), 2u);
  EXPECT_STREQ(d["data"][1]["parent"].GetString(), "user");
  EXPECT_STREQ(d["data"][1]["child"].GetString(), "frontend");
  EXPECT_EQ(d["data"][1]["callCount"].GetUint64(), 1u);
  // Only before the series: the spans.
  ASSERT_EQ(Get("/api/dependencies?endTs=9000&lookback=9000", &d), 200);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_EQ(d["data"][0]["callCount"].GetUint64(), 1u);
  // After the spans' edge: the graph (and the stored spans from 15 s to 20 s: none).
  ASSERT_EQ(Get("/api/dependencies?endTs=60000&lookback=45000", &d), 200);
  ASSERT_EQ(d["data"].Size(), 2u);
  EXPECT_EQ(d["data"][0]["callCount"].GetUint64(), 1u);
}

TEST(QueryApiTimesTest, UnixSecondsRfc3339AndTimestamps) {
  EXPECT_EQ(*ParseUnixSecondsOrRfc3339("1700000000"), kT0);
  EXPECT_EQ(*ParseUnixSecondsOrRfc3339("1700000000.25"), kT0 + 250'000'000);
  EXPECT_EQ(*ParseUnixSecondsOrRfc3339("2023-11-14T22:13:20Z"), kT0);
  EXPECT_EQ(*ParseUnixSecondsOrRfc3339("2023-11-14T23:13:20+01:00"), kT0);
  EXPECT_FALSE(ParseUnixSecondsOrRfc3339("").ok());
  EXPECT_FALSE(ParseUnixSecondsOrRfc3339(".").ok());
  EXPECT_FALSE(ParseUnixSecondsOrRfc3339("1.2.3").ok());
  EXPECT_FALSE(ParseUnixSecondsOrRfc3339("99999999999999999999").ok());
  EXPECT_EQ(FormatRfc3339(kT0), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatRfc3339(kT0 + 500'000'000), "2023-11-14T22:13:20.500Z");
  EXPECT_EQ(FormatRfc3339(kT0 + 1'000), "2023-11-14T22:13:20.000001Z");
  EXPECT_EQ(FormatRfc3339(kT0 + 1), "2023-11-14T22:13:20.000000001Z");
}

}  // namespace
}  // namespace ariadne::query
