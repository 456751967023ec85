#include "control/autoscale_eval.h"

#include <cstdio>

#include "gtest/gtest.h"

namespace ariadne::control {
namespace {

constexpr const char* kShop = R"(
name: shop
network: {mean: 0.2ms, cv: 0.5}
defaults: {workers: 2, startup_delay: 10s, replicas: 1}
services:
  - name: web
    protocol: http
    operations:
      - {name: home, time: {dist: exponential, mean: 2ms}, calls: [api.Get]}
  - name: api
    operations:
      - {name: Get, time: {dist: exponential, mean: 8ms}}
requests:
  - {name: home, call: web.home}
)";

RunSpec StepLoad() {
  RunSpec r;
  r.scenario = "step";
  r.topology_name = "shop";
  auto t = sim::ParseTopology(kShop);
  EXPECT_TRUE(t.ok()) << t.status();
  r.topology = *t;
  r.base_rps = 50;
  r.profile_spec = "step:400@3m";  // 50/s, then 400/s from 3 min
  r.duration = 12 * 60 * sim::kSecond;
  r.seed = 7;
  r.slo_s = 0.2;
  return r;
}

// Direction changes of a replica series (up then down or down then up).
int Reversals(const std::vector<std::pair<double, int>>& series, double from_s) {
  int reversals = 0, direction = 0, prev = -1;
  for (const auto& [t, n] : series) {
    if (t < from_s) {
      prev = n;
      continue;
    }
    if (prev >= 0 && n != prev) {
      const int d = n > prev ? 1 : -1;
      if (direction != 0 && d != direction) ++reversals;
      direction = d;
    }
    prev = n;
  }
  return reversals;
}

TEST(AutoscaleEvalTest, ControllerFollowsAStepAndSettles) {
  const RunSpec spec = StepLoad();
  auto r = RunAutoscale(spec, "ariadne");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->replicas.empty());
  // Before the step: api needs 1 replica (0.4 busy workers), web 1.
  int before = 0;
  for (const auto& [t, n] : r->replicas) {
    if (t >= 120 && t < 180) before = n;
  }
  EXPECT_EQ(before, 2);
  // After: api has 3.2 busy workers -> at least 3 replicas of 2 workers
  // (<= 80 %), web 0.8 -> at least 1.
  const int after = r->replicas.back().second;
  EXPECT_GE(after, 4);
  EXPECT_LE(after, 8);
  // Settles: from 2 minutes after the step it only steps down (the
  // overshoot of the transient given back, a bounded step at a time), and
  // from 4.5 minutes after it, it does not move.
  EXPECT_EQ(Reversals(r->replicas, 300), 0);
  for (size_t i = 1; i < r->replicas.size(); ++i) {
    const auto& [t, n] = r->replicas[i];
    if (t >= 300) EXPECT_LE(n, r->replicas[i - 1].second) << t;
    if (t >= 450) EXPECT_EQ(n, r->replicas[i - 1].second) << t;
  }
  // The step costs at most a couple of minutes over the objective.
  EXPECT_LE(r->slo_violation_minutes, 2);
  // Every change is recorded with a reason.
  ASSERT_FALSE(r->decisions.empty());
  for (const Decision& d : r->decisions) {
    EXPECT_FALSE(d.reason.empty());
    if (::testing::Test::HasFailure()) std::fprintf(stderr, "%s\n", DecisionJson(d).c_str());
  }
}

TEST(AutoscaleEvalTest, HpaFollowsTheStep) {
  const RunSpec spec = StepLoad();
  auto r = RunAutoscale(spec, "hpa");
  ASSERT_TRUE(r.ok()) << r.status();
  // 3.2 + 0.8 busy cores at 70 % of 1-core requests: about 6 pods.
  EXPECT_GE(r->replicas.back().second, 5);
  EXPECT_EQ(Reversals(r->replicas, 300), 0);
}

TEST(AutoscaleEvalTest, StaticSizingFromCalibration) {
  auto t = sim::ParseTopology(kShop);
  ASSERT_TRUE(t.ok());
  auto c = Calibrate(*t, 50, 120 * sim::kSecond, 3);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->calls_per_request[0], 1.0, 1e-9);
  EXPECT_NEAR(c->calls_per_request[1], 1.0, 1e-9);
  EXPECT_NEAR(c->service_time_s[1], 0.008, 0.0015);
  // 400/s: api 3.2 busy / (2 x 0.7) -> 3; web 0.8 / 1.4 -> 1.
  const std::vector<int> n = StaticReplicas(*t, *c, 400);
  EXPECT_EQ(n[0], 1);
  EXPECT_EQ(n[1], 3);
}

TEST(AutoscaleEvalTest, SuiteSpecsAndReports) {
  AutoscaleSuiteOptions o;
  auto runs = MakeAutoscaleRuns(o);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ(runs->size(), 8u);
  for (const RunSpec& r : *runs) {
    if (r.scenario != "fault") {
      EXPECT_GT(r.peak_rps, r.mean_rps);
    }
    if (r.scenario == "spike") EXPECT_NEAR(r.peak_rps / r.base_rps, 5.0, 1e-9);
    if (r.scenario == "fault") {
      ASSERT_EQ(r.faults.size(), 1u);
      const std::string target = r.topology.services[r.faults[0].service].name;
      EXPECT_TRUE(target == "recommendationservice" || target == "home-timeline-service")
          << target;
    }
  }
  o.scenarios = {"nope"};
  EXPECT_FALSE(MakeAutoscaleRuns(o).ok());

  RunResult a;
  a.scenario = "spike";
  a.topology = "shop";
  a.policy = "ariadne";
  a.replica_seconds = 100;
  a.replicas = {{0, 1}, {15, 2}};
  a.p99 = {{0, 12.5}};
  RunResult h = a;
  h.policy = "hpa";
  h.replica_seconds = 200;
  h.slo_violation_minutes = 3;
  const std::vector<RunResult> rs = {a, h};
  const std::string md = AutoscaleMarkdown(AutoscaleSuiteOptions{}, rs);
  EXPECT_NE(md.find("ariadne vs hpa: replica-seconds -50 %"), std::string::npos) << md;
  const std::string json = AutoscaleJson(AutoscaleSuiteOptions{}, rs);
  EXPECT_NE(json.find("\"ariadne\":{"), std::string::npos);
  EXPECT_NE(json.find("\"slo_violation_minutes\":3"), std::string::npos);
  const std::string svg = AutoscaleSvg("spike", "shop", rs, 200);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("polyline"), std::string::npos);
}

}  // namespace
}  // namespace ariadne::control
