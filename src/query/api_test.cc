#include "query/api.h"
#include "store/head.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

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
    ApiOptions options;
    options.now_nanos = [] { return uint64_t{10'000'000'000}; };
    options.metrics_text = [] { return std::string("ariadne_up 1\n"); };
    api_ = std::make_unique<QueryApi>(&head_, options);
    api_->SetReady(true);
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

  store::Head head_;
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

}  // namespace
}  // namespace ariadne::query
