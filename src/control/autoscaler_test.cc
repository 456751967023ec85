#include "control/autoscaler.h"

#include <cstring>
#include <map>

#include "gtest/gtest.h"

namespace ariadne::control {
namespace {

// `n` root SERVER spans of `service`, each `ms` long, spread over one second.
model::SpanBatch Load(const char* service, int n, double ms, uint64_t first_id) {
  model::SpanBatch b;
  model::Resource r;
  r.service_name = service;
  b.resources.push_back(r);
  model::Scope sc;
  sc.resource = 0;
  b.scopes.push_back(sc);
  for (int i = 0; i < n; ++i) {
    const uint32_t row = b.AddSpan();
    b.scope[row] = 0;
    b.kind[row] = model::SpanKind::kServer;
    const uint64_t id = first_id + static_cast<uint64_t>(i);
    std::memcpy(b.span_id[row].data(), &id, sizeof id);
    const double start_ms = 1000.0 * i / n;
    b.start_unix_nano[row] = static_cast<uint64_t>(1e12 + start_ms * 1e6);
    b.end_unix_nano[row] = static_cast<uint64_t>(1e12 + (start_ms + ms) * 1e6);
  }
  return b;
}

// A cluster in memory: what a Kubernetes API server would hold, with pods
// ready at once.
class MemoryCluster : public Actuator {
 public:
  std::string_view name() const override { return "memory"; }
  bool CanRead() const override { return true; }
  bool CanWrite() const override { return true; }
  absl::StatusOr<ReplicaCounts> Read(std::string_view service) override {
    if (down) return absl::UnavailableError("connection refused");
    auto it = replicas.find(std::string(service));
    if (it == replicas.end()) return absl::NotFoundError("deployment not found");
    return ReplicaCounts{it->second, it->second};
  }
  absl::Status Write(std::string_view service, int32_t n) override {
    writes.emplace_back(std::string(service), n);
    replicas[std::string(service)] = n;
    return absl::OkStatus();
  }
  std::map<std::string, int32_t> replicas;
  std::vector<std::pair<std::string, int32_t>> writes;
  bool down = false;
};

AutoscalerOptions Options() {
  AutoscalerOptions o;
  o.controller.interval_s = 1;
  o.controller.scale_down_window_s = 2;
  o.startup_delay_s = 0;
  return o;
}

TEST(AutoscalerTest, ScalesABusyServiceThroughTheActuatorAndRecordsWhy) {
  MemoryCluster cluster;
  cluster.replicas = {{"cart", 1}};
  Autoscaler a(Options(), &cluster);
  // 400 calls/s of 10 ms each: more than one single-worker replica can do.
  for (int step = 0; step < 3; ++step) {
    a.PushSpans(Load("cart", 400, 10, 1'000'000 * static_cast<uint64_t>(step + 1)));
    a.Step(100 + step, 1);
  }
  ASSERT_FALSE(cluster.writes.empty());
  EXPECT_GT(cluster.replicas["cart"], 1);
  auto desired = a.Desired("cart");
  ASSERT_TRUE(desired.ok()) << desired.status();
  EXPECT_EQ(*desired, cluster.replicas["cart"]);
  auto changes = a.Decisions("", /*changes_only=*/true, 100);
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes.front().service, "cart");
  EXPECT_GT(changes.front().desired, changes.front().current);
  EXPECT_NE(changes.front().reason.find("scale up"), std::string::npos) << changes.front().reason;
  EXPECT_EQ(a.Decisions("cart", false, 100).size(), 3u);
  EXPECT_TRUE(a.Decisions("other", false, 100).empty());
  EXPECT_EQ(a.Decisions("", false, 2).size(), 2u);
  // Newest first.
  auto all = a.Decisions("", false, 100);
  EXPECT_GT(all.front().time_s, all.back().time_s);

  const std::string metrics = a.MetricsText();
  EXPECT_NE(metrics.find(absl::StrCat("ariadne_autoscaler_desired_replicas{service=\"cart\"} ",
                                      *desired, "\n")),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ariadne_autoscaler_decisions_total{service=\"cart\",action=\"up\"}"),
            std::string::npos);

  // The load goes: after the scale-down window it scales down, step by step.
  const int32_t peak = cluster.replicas["cart"];
  for (int step = 3; step < 12; ++step) a.Step(100 + step, 1);
  EXPECT_LT(cluster.replicas["cart"], peak);
}

TEST(AutoscalerTest, WithoutAReaderItAssumesItsDecisionsAreFollowed) {
  Autoscaler a(Options(), nullptr);
  EXPECT_EQ(a.Desired("cart").status().code(), absl::StatusCode::kNotFound);
  a.PushSpans(Load("cart", 400, 10, 1));
  a.Step(100, 1);
  auto first = a.Desired("cart");
  ASSERT_TRUE(first.ok());
  EXPECT_GT(*first, 1);
  a.PushSpans(Load("cart", 400, 10, 100000));
  a.Step(101, 1);
  auto d = a.Decisions("cart", false, 1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].current, *first);  // the previous decision, not the initial 1
  EXPECT_EQ(d[0].inputs.ready, *first);
  EXPECT_EQ(a.actuator_name(), "none");
}

TEST(AutoscalerTest, OnlyTheListedServicesAreManaged) {
  MemoryCluster cluster;
  cluster.replicas = {{"cart", 2}, {"frontend", 1}};
  AutoscalerOptions o = Options();
  o.services = {{"cart", 4}};
  Autoscaler a(o, &cluster);
  a.PushSpans(Load("frontend", 400, 10, 1));
  a.Step(100, 1);
  // cart had no spans but is listed: decided, with its own workers.
  auto services = a.Services();
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].service, "cart");
  ASSERT_TRUE(services[0].last.has_value());
  EXPECT_EQ(services[0].last->inputs.workers, 4);
  EXPECT_EQ(services[0].last->inputs.rate, 0);
  EXPECT_EQ(a.Desired("frontend").status().code(), absl::StatusCode::kNotFound);
  for (const auto& [service, n] : cluster.writes) EXPECT_NE(service, "frontend");
}

TEST(AutoscalerTest, ActuatorErrorsSkipTheServiceAndAreShown) {
  MemoryCluster cluster;  // knows no deployment
  Autoscaler a(Options(), &cluster);
  a.PushSpans(Load("cart", 100, 10, 1));
  a.Step(100, 1);
  EXPECT_TRUE(a.Decisions("", false, 10).empty());
  auto services = a.Services();
  ASSERT_EQ(services.size(), 1u);
  EXPECT_NE(services[0].error.find("deployment not found"), std::string::npos);
  EXPECT_NE(a.MetricsText().find("ariadne_autoscaler_actuator_errors_total{service=\"cart\"} 1\n"),
            std::string::npos);
  // The deployment appears: decisions resume and the error clears.
  cluster.replicas["cart"] = 1;
  a.Step(101, 1);
  EXPECT_EQ(a.Decisions("", false, 10).size(), 1u);
  EXPECT_TRUE(a.Services()[0].error.empty());
}

TEST(AutoscalerTest, RunsOnItsOwnThreadUntilStopped) {
  AutoscalerOptions o = Options();
  o.controller.interval_s = 0.02;
  Autoscaler a(o, nullptr);
  a.PushSpans(Load("cart", 100, 10, 1));
  a.Start();
  for (int i = 0; i < 500 && a.Decisions("", false, 1).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  a.Stop();
  EXPECT_FALSE(a.Decisions("", false, 1).empty());
  a.Stop();  // idempotent
}

TEST(AutoscalerTest, ParsesManagedServices) {
  auto s = ParseManagedService("cartservice", 2);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->first, "cartservice");
  EXPECT_EQ(s->second, 2);
  s = ParseManagedService("checkout:8", 1);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->second, 8);
  for (const char* bad : {"", ":3", "x:", "x:0", "x:abc", "x:3y", "x:1000000"}) {
    EXPECT_FALSE(ParseManagedService(bad, 1).ok()) << bad;
  }
}

}  // namespace
}  // namespace ariadne::control
