#include "analytics/analytics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace ariadne::analytics {
namespace {

using model::SpanKind;
using model::StatusCode;
using ::testing::HasSubstr;

constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kMs = 1'000'000ull;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;  // a step boundary for 10 s steps

// Builds batches span by span: one resource per service.
class BatchBuilder {
 public:
  BatchBuilder() : b_(std::make_unique<model::SpanBatch>()) {}
  struct SpanSpec {
    std::string service;
    std::string name = "op";
    SpanKind kind = SpanKind::kServer;
    StatusCode status = StatusCode::kUnset;
    uint8_t trace = 1;
    uint8_t id = 1;
    uint8_t parent = 0;  // 0: root
    uint64_t start = kT0;
    uint64_t end = kT0 + 10 * kMs;
    std::vector<std::pair<std::string, std::string>> attributes;
    std::string trace_state;
  };
  void Add(const SpanSpec& s) {
    model::SpanBatch& b = *b_;
    uint32_t scope;
    auto it = scopes_.find(s.service);
    if (it == scopes_.end()) {
      model::Resource r;
      r.service_name = b.Copy(s.service);
      r.attributes.first = static_cast<uint32_t>(b.attributes.size());
      b.attributes.push_back({b.Copy("service.name"), model::AnyValue::String(r.service_name)});
      r.attributes.count = 1;
      b.resources.push_back(r);
      model::Scope sc;
      sc.resource = static_cast<uint32_t>(b.resources.size() - 1);
      b.scopes.push_back(sc);
      scope = static_cast<uint32_t>(b.scopes.size() - 1);
      scopes_[s.service] = scope;
    } else {
      scope = it->second;
    }
    const uint32_t row = b.AddSpan();
    b.trace_id[row] = Id16(s.trace);
    b.span_id[row] = Id8(s.trace, s.id);
    if (s.parent != 0) b.parent_span_id[row] = Id8(s.trace, s.parent);
    b.name[row] = b.Copy(s.name);
    b.kind[row] = s.kind;
    b.status_code[row] = s.status;
    b.start_unix_nano[row] = s.start;
    b.end_unix_nano[row] = s.end;
    b.scope[row] = scope;
    b.trace_state[row] = b.Copy(s.trace_state);
    b.span_attributes[row].first = static_cast<uint32_t>(b.attributes.size());
    for (const auto& [k, v] : s.attributes) {
      b.attributes.push_back({b.Copy(k), model::AnyValue::String(b.Copy(v))});
    }
    b.span_attributes[row].count = static_cast<uint32_t>(s.attributes.size());
  }
  model::SpanBatch& batch() { return *b_; }

  static model::TraceId Id16(uint8_t trace) {
    model::TraceId id{};
    id[0] = 0xab;
    id[15] = trace;
    return id;
  }
  static model::SpanId Id8(uint8_t trace, uint8_t span) {
    model::SpanId id{};
    id[0] = trace;
    id[7] = span;
    return id;
  }

 private:
  std::unique_ptr<model::SpanBatch> b_;
  std::map<std::string, uint32_t> scopes_;
};

// A fake wall clock.
struct FakeClock {
  uint64_t now = kT0;
  std::function<uint64_t()> fn() {
    return [this] { return now; };
  }
};

double Value(const SeriesStore& store, std::string_view name, const Labels& matchers,
             uint64_t t) {
  auto s = store.Query(name, matchers, t, t);
  if (s.size() != 1 || s[0].points.size() != 1) return std::nan("");
  return s[0].points[0].value;
}

TEST(SeriesStoreTest, SetQueryAndMatchers) {
  SeriesStore store({.step_nanos = 10 * kSec, .window_nanos = 100 * kSec, .max_series = 3});
  Labels a = {{"service", "a"}};
  Labels a_op = {{"operation", "x"}, {"service", "a"}};
  EXPECT_TRUE(store.Set("calls", a, kT0, 1));
  EXPECT_TRUE(store.Set("calls", a, kT0 + 15 * kSec, 2));  // step kT0+10s
  EXPECT_TRUE(store.Set("calls", a_op, kT0, 5));
  auto all = store.Query("calls", {{"service", "a"}}, kT0, kT0 + 20 * kSec);
  ASSERT_EQ(all.size(), 2u);
  // Empty matcher value: the label must be absent.
  auto service_level = store.Query("calls", {{"operation", ""}}, kT0, kT0 + 20 * kSec);
  ASSERT_EQ(service_level.size(), 1u);
  EXPECT_EQ(service_level[0].points,
            (std::vector<Point>{{kT0, 1}, {kT0 + 10 * kSec, 2}}));
  EXPECT_TRUE(store.Set("other", a, kT0, 1));
  EXPECT_FALSE(store.Set("fourth", a, kT0, 1));  // max_series
  EXPECT_EQ(store.stats().refused_new_series, 1u);
  EXPECT_EQ(store.Names(), (std::vector<std::string>{"calls", "other"}));
  EXPECT_EQ(store.LabelValues("calls", "operation"), (std::vector<std::string>{"x"}));
}

TEST(SeriesStoreTest, RingForgetsWhatFallsOutOfTheWindow) {
  SeriesStore store({.step_nanos = 10 * kSec, .window_nanos = 50 * kSec});
  ASSERT_EQ(store.capacity(), 5u);
  for (int i = 0; i < 8; ++i) store.Set("x", {}, kT0 + i * 10 * kSec, i);
  auto s = store.Query("x", {}, 0, kT0 + 100 * kSec);
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0].points.size(), 5u);
  EXPECT_EQ(s[0].points.front().value, 3);
  EXPECT_EQ(s[0].points.back().value, 7);
  EXPECT_FALSE(store.Set("x", {}, kT0 + 2 * 10 * kSec, 0));  // out of reach
  EXPECT_TRUE(store.Set("x", {}, kT0 + 4 * 10 * kSec, 40));  // inside: overwrites
  // A jump leaves the skipped steps empty.
  store.Set("x", {}, kT0 + 10 * 10 * kSec, 10);
  s = store.Query("x", {}, 0, kT0 + 100 * kSec);
  EXPECT_EQ(s[0].points, (std::vector<Point>{
                             {kT0 + 60 * kSec, 6}, {kT0 + 70 * kSec, 7}, {kT0 + 100 * kSec, 10}}));
  // Stale series are dropped.
  store.Set("y", {}, kT0 + 20 * 10 * kSec, 1);
  store.DropStale();
  EXPECT_EQ(store.Names(), (std::vector<std::string>{"y"}));
}

TEST(QuantileSketchTest, WithinOnePercent) {
  QuantileSketch q;
  for (int i = 1; i <= 10000; ++i) q.Add(i * 0.001, 1);  // 1 ms .. 10 s uniform
  for (double p : {0.5, 0.9, 0.99}) {
    const double want = p * 10.0;
    EXPECT_NEAR(q.Quantile(p), want, want * 0.011) << p;
  }
  EXPECT_TRUE(std::isnan(QuantileSketch().Quantile(0.5)));
}

TEST(AdjustedCountTest, OpenTelemetryTraceState) {
  EXPECT_EQ(AdjustedCount(""), 1);
  EXPECT_EQ(AdjustedCount("ot=th:0"), 1);
  EXPECT_EQ(AdjustedCount("ot=th:8"), 2);   // rejects half
  EXPECT_EQ(AdjustedCount("ot=th:c"), 4);   // rejects three quarters
  EXPECT_EQ(AdjustedCount("vendor=x, ot=rv:0123;th:e"), 8);
  EXPECT_EQ(AdjustedCount("ot=p:3"), 8);
  EXPECT_EQ(AdjustedCount("ot=th:zz"), 1);
  EXPECT_EQ(AdjustedCount("ot=th:123456789012345"), 1);  // too long
}

class AnalyticsTest : public ::testing::Test {
 protected:
  AnalyticsOptions Options() {
    AnalyticsOptions o;
    o.series.step_nanos = 10 * kSec;
    o.series.window_nanos = 3600 * kSec;
    o.lateness_nanos = 5 * kSec;
    o.traces.idle_nanos = 5 * kSec;
    return o;
  }
  FakeClock clock_;
};

TEST_F(AnalyticsTest, SpanMetricsUnderTempoNames) {
  auto o = Options();
  o.span_metrics.collector_names = true;
  Analytics a(o, clock_.fn());
  BatchBuilder b;
  // 4 server spans of "api" (one error), durations 1, 3, 3, 300 ms.
  const uint64_t durations[] = {1, 3, 3, 300};
  for (uint8_t i = 0; i < 4; ++i) {
    b.Add({.service = "api", .name = "GET /", .status = i == 0 ? StatusCode::kError : StatusCode::kUnset,
           .trace = static_cast<uint8_t>(i + 1), .id = 1, .end = kT0 + durations[i] * kMs});
  }
  a.PushSpans(b.batch());
  const std::string text = a.MetricsText();
  const std::string ok = R"(service="api",span_kind="SPAN_KIND_SERVER",span_name="GET /",status_code="STATUS_CODE_UNSET")";
  const std::string err = R"(service="api",span_kind="SPAN_KIND_SERVER",span_name="GET /",status_code="STATUS_CODE_ERROR")";
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_calls_total{" + ok + "} 3\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_calls_total{" + err + "} 1\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_bucket{" + ok + ",le=\"0.002\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_bucket{" + ok + ",le=\"0.004\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_bucket{" + ok + ",le=\"0.256\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_bucket{" + ok + ",le=\"0.512\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_bucket{" + ok + ",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_count{" + ok + "} 3\n"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_latency_sum{" + ok + "} 0.306\n"));
  EXPECT_THAT(text, HasSubstr("traces_span_metrics_calls_total{service_name=\"api\",span_kind="));
  EXPECT_THAT(text, HasSubstr("traces_span_metrics_duration_milliseconds_bucket{service_name=\"api\""));

  // Series: one step at kT0, finished once the clock passes its end + lateness.
  a.Tick();
  EXPECT_TRUE(a.series().Query("calls_per_second", {}, 0, UINT64_MAX).empty());
  clock_.now = kT0 + 16 * kSec;
  a.Tick();
  const Labels svc = {{"service", "api"}, {"span_kind", "SPAN_KIND_SERVER"}, {"operation", ""}};
  EXPECT_FLOAT_EQ(Value(a.series(), "calls_per_second", svc, kT0), 0.4);
  EXPECT_FLOAT_EQ(Value(a.series(), "error_ratio", svc, kT0), 0.25);
  Labels p99 = svc;
  p99.emplace_back("quantile", "0.99");
  EXPECT_NEAR(Value(a.series(), "latency_seconds", p99, kT0), 0.3, 0.003);
  Labels op = {{"service", "api"}, {"operation", "GET /"}};
  EXPECT_FLOAT_EQ(Value(a.series(), "calls_per_second", op, kT0), 0.4);

  // A span for the finished step counts in Prometheus, not in the series.
  BatchBuilder late;
  late.Add({.service = "api", .name = "GET /", .trace = 9});
  a.PushSpans(late.batch());
  EXPECT_EQ(a.stats().late_spans, 1u);
  EXPECT_THAT(a.MetricsText(), HasSubstr("traces_spanmetrics_calls_total{" + ok + "} 4\n"));
}

TEST_F(AnalyticsTest, ExtraDimensionsAndCardinalityLimit) {
  auto o = Options();
  o.span_metrics.dimensions = {"http.method"};
  o.span_metrics.max_series = 2;
  Analytics a(o, clock_.fn());
  BatchBuilder b;
  b.Add({.service = "a", .trace = 1, .attributes = {{"http.method", "GET"}}});
  b.Add({.service = "a", .trace = 2, .attributes = {{"http.method", "POST"}}});
  b.Add({.service = "a", .trace = 3, .attributes = {{"http.method", "PUT"}}});
  b.Add({.service = "b", .trace = 4});
  a.PushSpans(b.batch());
  const std::string text = a.MetricsText();
  EXPECT_THAT(text, HasSubstr(R"(traces_spanmetrics_calls_total{http_method="GET",service="a",)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_spanmetrics_calls_total{http_method="POST",service="a",)"));
  EXPECT_THAT(text, HasSubstr("traces_spanmetrics_calls_total{otel_metric_overflow=\"true\"} 2\n"));
  EXPECT_EQ(a.span_metrics_stats().overflow_spans, 2u);
}

// frontend (server) -> client span -> cart (server) -> client span with
// db.system -> redis (uninstrumented).
void AddShopTrace(BatchBuilder* b, uint8_t trace, const std::string& trace_state = "") {
  b->Add({.service = "frontend", .name = "GET /cart", .kind = SpanKind::kServer, .trace = trace,
          .id = 1, .start = kT0, .end = kT0 + 100 * kMs, .trace_state = trace_state});
  b->Add({.service = "frontend", .name = "cart.Get", .kind = SpanKind::kClient, .trace = trace,
          .id = 2, .parent = 1, .start = kT0 + 10 * kMs, .end = kT0 + 90 * kMs,
          .trace_state = trace_state});
  b->Add({.service = "cart", .name = "cart.Get", .kind = SpanKind::kServer,
          .status = StatusCode::kError, .trace = trace, .id = 3, .parent = 2,
          .start = kT0 + 15 * kMs, .end = kT0 + 85 * kMs, .trace_state = trace_state});
  b->Add({.service = "cart", .name = "HGET", .kind = SpanKind::kClient, .trace = trace, .id = 4,
          .parent = 3, .start = kT0 + 20 * kMs, .end = kT0 + 60 * kMs,
          .attributes = {{"db.system", "redis"}, {"peer.service", "redis-cart"}},
          .trace_state = trace_state});
}

TEST_F(AnalyticsTest, ServiceGraphPairsCallsInsideTheTrace) {
  Analytics a(Options(), clock_.fn());
  BatchBuilder first, second;
  AddShopTrace(&first, 1);
  // The same trace's spans can arrive in different batches.
  AddShopTrace(&second, 2);
  a.PushSpans(first.batch());
  a.PushSpans(second.batch());
  a.Tick();
  EXPECT_EQ(a.trace_stats().pending_traces, 2u);  // not idle yet
  clock_.now = kT0 + 6 * kSec;
  a.Tick();
  EXPECT_EQ(a.trace_stats().pending_traces, 0u);
  EXPECT_EQ(a.trace_stats().completed_traces, 2u);
  const std::string text = a.MetricsText();
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_total{client="user",connection_type="virtual_node",server="frontend"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_total{client="frontend",connection_type="",server="cart"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_failed_total{client="frontend",connection_type="",server="cart"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_total{client="cart",connection_type="database",server="redis-cart"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_failed_total{client="cart",connection_type="database",server="redis-cart"} 0)"));
  // Server side 70 ms, client side 80 ms: both in the 0.1 bucket.
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_server_seconds_bucket{client="frontend",connection_type="",server="cart",le="0.1"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_client_seconds_sum{client="frontend",connection_type="",server="cart"} 0.16)"));
  EXPECT_THAT(text, HasSubstr("traces_service_graph_unpaired_spans_total 0\n"));

  // Critical path: frontend 10+5+5+10 = 30 ms... of 100 ms; cart 5+25 = 30... see below.
  //   [0,10) frontend  [10,15) frontend client  [15,20) cart  [20,60) cart's db client
  //   [60,85) cart  [85,90) frontend client  [90,100) frontend
  // frontend: 10+5+5+10 = 30 ms; cart: 5+40+25 = 70 ms (the db call is a cart span).
  clock_.now = kT0 + 30 * kSec;
  a.Tick();
  EXPECT_NEAR(Value(a.series(), "critical_path_share", {{"service", "frontend"}}, kT0), 0.3, 1e-6);
  EXPECT_NEAR(Value(a.series(), "critical_path_share", {{"service", "cart"}}, kT0), 0.7, 1e-6);
  // Self time: frontend server 100-80 = 20, its client 80-70 = 10 -> mean 15 ms;
  // cart server 70-40 = 30, db client 40 -> mean 35 ms.
  EXPECT_NEAR(Value(a.series(), "self_time_mean_seconds", {{"service", "frontend"}}, kT0), 0.015, 1e-9);
  EXPECT_NEAR(Value(a.series(), "self_time_mean_seconds", {{"service", "cart"}}, kT0), 0.035, 1e-9);
  EXPECT_FLOAT_EQ(Value(a.series(), "edge_calls_per_second",
                         {{"client", "frontend"}, {"server", "cart"}}, kT0), 0.2);
  EXPECT_FLOAT_EQ(Value(a.series(), "trace_calls_per_second", {}, kT0), 0.2);
  // /api/dependencies from the graph.
  auto deps = a.Dependencies(kT0 - 60 * kSec, kT0 + 60 * kSec);
  std::map<std::pair<std::string, std::string>, uint64_t> got;
  for (const auto& d : deps) got[{d.parent, d.child}] = d.call_count;
  EXPECT_EQ(got, (std::map<std::pair<std::string, std::string>, uint64_t>{
                     {{"user", "frontend"}, 2}, {{"frontend", "cart"}, 2}, {{"cart", "redis-cart"}, 2}}));
}

TEST_F(AnalyticsTest, SampledTracesCountWithTheirAdjustedCount) {
  Analytics a(Options(), clock_.fn());
  BatchBuilder b;
  AddShopTrace(&b, 1, "ot=th:c");  // sampled at 1/4: stands for 4 traces
  AddShopTrace(&b, 2);
  a.PushSpans(b.batch());
  a.Tick(/*all=*/true);
  const std::string text = a.MetricsText();
  EXPECT_THAT(text, HasSubstr(R"(traces_service_graph_request_total{client="frontend",connection_type="",server="cart"} 5)"));
  EXPECT_THAT(text, HasSubstr(R"(traces_spanmetrics_calls_total{service="cart",span_kind="SPAN_KIND_SERVER",span_name="cart.Get",status_code="STATUS_CODE_ERROR"} 5)"));
}

TEST_F(AnalyticsTest, MissingParentsAndClientsWithoutPeerAreUnpaired) {
  Analytics a(Options(), clock_.fn());
  BatchBuilder b;
  b.Add({.service = "api", .kind = SpanKind::kServer, .trace = 1, .id = 2, .parent = 1});  // parent never arrives
  b.Add({.service = "api", .kind = SpanKind::kClient, .trace = 1, .id = 3, .parent = 2});  // no server, no peer
  a.PushSpans(b.batch());
  a.Tick(true);
  EXPECT_EQ(a.trace_stats().unpaired_spans, 2u);
}

TEST_F(AnalyticsTest, PendingSpansAreBounded) {
  auto o = Options();
  o.traces.max_pending_spans = 10;
  Analytics a(o, clock_.fn());
  BatchBuilder b;
  for (uint8_t t = 1; t <= 20; ++t) b.Add({.service = "api", .trace = t});
  a.PushSpans(b.batch());
  a.Tick();
  EXPECT_LE(a.trace_stats().pending_spans, 10u);
  EXPECT_EQ(a.trace_stats().completed_early, 10u);
}

TEST_F(AnalyticsTest, EventClockFollowsAFastSimulation) {
  Analytics a(Options(), clock_.fn());
  // Spans an hour ahead of the wall clock (a simulator running fast) move
  // the clock; the step is finished without waiting an hour.
  BatchBuilder b, c;
  b.Add({.service = "api", .trace = 1, .start = kT0 + 3600 * kSec, .end = kT0 + 3600 * kSec + kMs});
  c.Add({.service = "api", .trace = 2, .start = kT0 + 3620 * kSec, .end = kT0 + 3620 * kSec + kMs});
  a.PushSpans(b.batch());
  a.PushSpans(c.batch());
  a.Tick();
  EXPECT_FLOAT_EQ(Value(a.series(), "calls_per_second", {{"service", "api"}, {"operation", ""}},
                         kT0 + 3600 * kSec), 0.1);
  // A clock gone wrong (a year ahead) is not believed.
  BatchBuilder d;
  d.Add({.service = "api", .trace = 3, .start = kT0 + 365 * 24 * 3600 * kSec,
         .end = kT0 + 365 * 24 * 3600 * kSec + 1});
  a.PushSpans(d.batch());
  EXPECT_EQ(a.stats().future_spans, 1u);
  EXPECT_LT(a.stats().event_now_nanos, kT0 + 2 * 3600 * kSec);
}

TEST_F(AnalyticsTest, ASimulationOfThePastIsNotLate) {
  // The wall clock is an hour past the spans (a simulation run as fast as
  // possible ending now): before the first span the clock does not run, so
  // the spans are not late.
  clock_.now = kT0 + 3600 * kSec;
  Analytics a(Options(), clock_.fn());
  EXPECT_EQ(a.SeriesStartNanos(), UINT64_MAX);
  a.Tick();
  BatchBuilder b;
  b.Add({.service = "api", .trace = 1});
  a.PushSpans(b.batch());
  a.Tick(true);
  EXPECT_EQ(a.stats().late_spans, 0u);
  EXPECT_EQ(a.SeriesStartNanos(), kT0);
  EXPECT_FLOAT_EQ(Value(a.series(), "calls_per_second", {{"service", "api"}, {"operation", ""}}, kT0),
                  0.1);
}

TEST_F(AnalyticsTest, QueuedBatchesAreAllAnalysed) {
  Analytics a(Options(), clock_.fn());
  a.Start(std::chrono::milliseconds(5), /*max_queued_batches=*/2);
  for (uint8_t t = 1; t <= 50; ++t) {
    BatchBuilder b;
    AddShopTrace(&b, t);
    a.Enqueue(std::make_shared<const model::SpanBatch>(std::move(b.batch())));
  }
  a.Stop();  // processes what is queued
  a.Tick(/*all=*/true);
  EXPECT_EQ(a.stats().spans, 200u);
  EXPECT_EQ(a.trace_stats().completed_traces, 50u);
  EXPECT_THAT(a.MetricsText(), HasSubstr(R"(traces_service_graph_request_total{client="frontend",connection_type="",server="cart"} 50)"));
}

}  // namespace
}  // namespace ariadne::analytics
