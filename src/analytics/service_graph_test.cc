// The service graph against the simulator's topologies: every built-in
// application is simulated, its spans decoded and fed to analytics, and the
// edges found must be exactly the topology's call edges (databases and
// caches as virtual nodes of type "database") plus "user" -> entry points.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "analytics/analytics.h"
#include "decode/decode.h"
#include "sim/engine.h"
#include "sim/topology.h"

namespace ariadne::analytics {
namespace {

// Decodes each request the engine ships and pushes it to analytics.
class AnalyticsSink : public sim::SpanSink {
 public:
  explicit AnalyticsSink(Analytics* a) : analytics_(a) {}
  void Send(std::string request, int64_t spans) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto batch = decode::DecodeOtlpProto(std::move(request), decode::Limits{}, nullptr);
    ASSERT_TRUE(batch.ok()) << batch.status();
    analytics_->PushSpans(*batch);
    stats_.spans_sent += spans;
  }
  absl::Status Close(std::chrono::milliseconds) override { return absl::OkStatus(); }
  sim::SinkStats stats() const override { return stats_; }

 private:
  std::mutex mu_;
  Analytics* analytics_;
  sim::SinkStats stats_;
};

using Edge = std::tuple<std::string, std::string, std::string>;  // client, server, type

// Edges parsed from the traces_service_graph_request_total lines of /metrics.
std::set<Edge> EdgesFromMetrics(const std::string& text) {
  std::set<Edge> out;
  const std::string prefix = "traces_service_graph_request_total{";
  size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    const size_t end = text.find('}', pos);
    std::string labels = text.substr(pos + prefix.size(), end - pos - prefix.size());
    std::map<std::string, std::string> m;
    size_t p = 0;
    while (p < labels.size()) {
      const size_t eq = labels.find('=', p);
      const size_t close = labels.find('"', eq + 2);
      m[labels.substr(p, eq - p)] = labels.substr(eq + 2, close - eq - 2);
      p = close + 2;
    }
    out.emplace(m["client"], m["server"], m["connection_type"]);
    pos = end;
  }
  return out;
}

std::set<Edge> TopologyEdges(const sim::Topology& t) {
  std::set<Edge> out;
  for (const sim::RequestType& r : t.requests) {
    out.emplace("user", t.services[r.service].name, "virtual_node");
  }
  for (const sim::Service& s : t.services) {
    for (const sim::Operation& op : s.operations) {
      for (const sim::Step& step : op.steps) {
        for (const sim::Call& call : step.calls) {
          const sim::Service& callee = t.services[call.service];
          std::string type = callee.instrumented ? ""
                             : callee.protocol == sim::Protocol::kDatabase ? "database"
                                                                           : "virtual_node";
          out.emplace(s.name, callee.name, type);
        }
      }
    }
  }
  return out;
}

class ServiceGraphTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ServiceGraphTest, EdgesAreTheTopologysCallEdges) {
  auto topology = sim::LoadTopology(GetParam());
  ASSERT_TRUE(topology.ok()) << topology.status();
  sim::SimOptions o;
  o.seed = 5;
  o.speed = 0;
  o.duration = 300 * sim::kSecond;
  o.profile = sim::RateProfile::Constant(50);
  o.epoch_unix_nano = 1'700'000'000'000'000'000;
  o.batch_spans = 1000;
  uint64_t wall = 1'700'000'000'000'000'000;
  Analytics analytics(AnalyticsOptions{}, [&] { return wall; });
  AnalyticsSink sink(&analytics);
  sim::Engine engine(*topology, o, &sink);
  const sim::Summary summary = engine.Run();
  analytics.Tick(/*all=*/true);
  EXPECT_EQ(analytics.trace_stats().completed_traces, static_cast<uint64_t>(summary.latency.count));
  EXPECT_EQ(analytics.trace_stats().unpaired_spans, 0u);
  const std::set<Edge> got = EdgesFromMetrics(analytics.MetricsText());
  const std::set<Edge> want = TopologyEdges(*topology);
  for (const Edge& e : want) {
    EXPECT_TRUE(got.count(e)) << "missing edge " << std::get<0>(e) << " -> " << std::get<1>(e)
                              << " (" << std::get<2>(e) << ")";
  }
  for (const Edge& e : got) {
    EXPECT_TRUE(want.count(e)) << "unexpected edge " << std::get<0>(e) << " -> " << std::get<1>(e)
                               << " (" << std::get<2>(e) << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Builtin, ServiceGraphTest,
                         ::testing::ValuesIn(sim::BuiltinTopologyNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace ariadne::analytics
