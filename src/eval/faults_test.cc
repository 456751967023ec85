#include "eval/faults.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "sim/topology.h"

namespace ariadne::eval {
namespace {

constexpr sim::Nanos kS = sim::kSecond;

FaultCase Case(std::string service, sim::Nanos start, sim::Nanos duration) {
  FaultCase c;
  c.topology = "hotrod";
  c.service = std::move(service);
  c.fault.start = start;
  c.fault.duration = duration;
  return c;
}

ObservedIncident Incident(sim::Nanos opened, sim::Nanos noticed,
                          std::vector<std::string> ranking = {},
                          std::vector<std::string> rca_ranking = {}) {
  ObservedIncident i;
  i.opened = opened;
  i.noticed = noticed;
  i.ranking = std::move(ranking);
  i.rca_ranking = std::move(rca_ranking);
  return i;
}

TEST(FaultScoreTest, IncidentsAreTruePositivesInsideTheWindowAndItsGrace) {
  SuiteSettings s;  // warm-up 600 s, grace 120 s
  const FaultCase c = Case("cart", 615 * kS, 300 * kS);  // [615, 915) s
  CaseRun run;
  run.incidents = {
      Incident(300 * kS, 320 * kS),  // shown during the warm-up: not counted
      Incident(590 * kS, 610 * kS),  // shown before the fault: FP
      // Opened a step before the start, shown after it: the first TP, delay 0.
      Incident(610 * kS, 640 * kS, {"frontend", "cart"}, {"cart", "frontend"}),
      Incident(800 * kS, 820 * kS, {"cart"}, {"cart"}),  // TP, not the first
      Incident(1030 * kS, 1040 * kS),                    // TP: within end + 2 min
      Incident(1040 * kS, 1050 * kS),                    // FP: after the grace
  };
  const CaseScore score = ScoreCase(c, run, s);
  EXPECT_EQ(score.incidents, 5);
  EXPECT_EQ(score.true_positives, 3);
  EXPECT_EQ(score.false_positives, 2);
  EXPECT_TRUE(score.detected);
  EXPECT_DOUBLE_EQ(score.delay_s, 0);
  EXPECT_DOUBLE_EQ(score.notice_delay_s, 25);
  EXPECT_EQ(score.rank, 2);
  EXPECT_EQ(score.rca_rank, 1);
}

TEST(FaultScoreTest, NetworkDelayCountsTheCalleeAndTheCaller) {
  FaultCase c = Case("payment", 700 * kS, 200 * kS);
  c.caller = "checkout";
  CaseRun run;
  run.incidents = {Incident(730 * kS, 755 * kS, {"frontend", "checkout", "payment"}, {"x"})};
  const CaseScore score = ScoreCase(c, run, SuiteSettings{});
  EXPECT_TRUE(score.detected);
  EXPECT_DOUBLE_EQ(score.delay_s, 30);
  EXPECT_DOUBLE_EQ(score.notice_delay_s, 55);
  EXPECT_EQ(score.rank, 2);
  EXPECT_EQ(score.rca_rank, 0);  // not ranked at all
}

TEST(FaultScoreTest, SummaryArithmetic) {
  std::vector<CaseScore> scores(3);
  scores[0] = {.incidents = 2, .true_positives = 1, .false_positives = 1, .detected = true,
               .delay_s = 10, .notice_delay_s = 30, .rank = 1, .rca_rank = 2};
  scores[1] = {.incidents = 1, .true_positives = 1, .false_positives = 0, .detected = true,
               .delay_s = 30, .notice_delay_s = 50, .rank = 4, .rca_rank = 1};
  scores[2] = {.incidents = 1, .true_positives = 0, .false_positives = 1};  // missed
  const GroupScores g = Summarize(scores);
  EXPECT_EQ(g.faults, 3);
  EXPECT_EQ(g.detected, 2);
  EXPECT_EQ(g.incidents, 4);
  EXPECT_DOUBLE_EQ(g.precision, 0.5);
  EXPECT_DOUBLE_EQ(g.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(g.f1, 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3));
  EXPECT_DOUBLE_EQ(g.median_delay_s, 20);
  EXPECT_DOUBLE_EQ(g.p90_delay_s, 30);  // nearest rank: the 2nd of 2
  EXPECT_DOUBLE_EQ(g.median_notice_s, 40);
  EXPECT_DOUBLE_EQ(g.ac1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(g.ac3, 1.0 / 3);
  EXPECT_DOUBLE_EQ(g.avg5, (1.0 + 0.4) / 3);  // rank 1: 5/5, rank 4: 2/5, missed: 0
  EXPECT_DOUBLE_EQ(g.rca_ac1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(g.rca_ac3, 2.0 / 3);
  EXPECT_DOUBLE_EQ(g.rca_avg5, (0.8 + 1.0) / 3);
  const GroupScores none = Summarize({});
  EXPECT_EQ(none.f1, 0);
  EXPECT_EQ(none.median_delay_s, -1);
}

TEST(FaultSuiteTest, EveryTopologyAndTypeFromTheSeed) {
  auto suite = GenerateFaultSuite(SuiteOptions{});
  ASSERT_TRUE(suite.ok()) << suite.status();
  const size_t topologies = sim::BuiltinTopologyNames().size();
  ASSERT_EQ(suite->size(), topologies * 7 * 3);
  ASSERT_GE(suite->size(), 60u);
  std::set<std::pair<std::string, int>> kinds;
  for (const FaultCase& c : *suite) {
    kinds.insert({c.topology, static_cast<int>(c.fault.type)});
    const SuiteSettings s;
    EXPECT_GE(c.fault.start, s.warmup);
    EXPECT_LE(c.fault.start, s.warmup + s.max_start_offset);
    EXPECT_GE(c.fault.duration, s.min_duration);
    EXPECT_LE(c.fault.duration, s.max_duration);
    EXPECT_EQ(c.run_duration, c.fault.end() + s.tail);
    EXPECT_GE(c.rps, s.min_rps);
    EXPECT_LE(c.rps, s.max_rps);
    EXPECT_FALSE(c.service.empty());
    EXPECT_EQ(c.caller.empty(), c.fault.type != sim::Fault::Type::kNetworkDelay);
  }
  EXPECT_EQ(kinds.size(), topologies * 7);
  // A subset selects the same cases; another seed draws others.
  SuiteOptions some;
  some.topologies = {"train-ticket"};
  some.types = {sim::Fault::Type::kErrors};
  auto subset = GenerateFaultSuite(some);
  ASSERT_TRUE(subset.ok());
  ASSERT_EQ(subset->size(), 3u);
  auto same = std::find_if(suite->begin(), suite->end(), [](const FaultCase& c) {
    return c.topology == "train-ticket" && c.fault.type == sim::Fault::Type::kErrors;
  });
  ASSERT_NE(same, suite->end());
  EXPECT_EQ((*subset)[0].service, same->service);
  EXPECT_EQ((*subset)[0].fault.start, same->fault.start);
  EXPECT_EQ((*subset)[0].sim_seed, same->sim_seed);
  SuiteOptions other;
  other.seed = 2;
  auto reseeded = GenerateFaultSuite(other);
  ASSERT_TRUE(reseeded.ok());
  int differ = 0;
  for (size_t i = 0; i < suite->size(); ++i) {
    differ += (*reseeded)[i].fault.start != (*suite)[i].fault.start;
  }
  EXPECT_GT(differ, static_cast<int>(suite->size()) / 2);
  some.topologies = {"no-such-topology"};
  EXPECT_FALSE(GenerateFaultSuite(some).ok());
  EXPECT_FALSE(ParseFaultType("meltdown").ok());
  EXPECT_EQ(*ParseFaultType("network_delay"), sim::Fault::Type::kNetworkDelay);
}

// Short runs of hotrod: the suite's warm-up, short faults, a light load.
SuiteSettings ShortSettings() {
  SuiteSettings s;
  s.warmup = 600 * kS;
  s.max_start_offset = 30 * kS;
  s.min_duration = 150 * kS;
  s.max_duration = 150 * kS;
  s.tail = 150 * kS;
  s.min_rps = s.max_rps = 20;
  return s;
}

TEST(FaultRunTest, AStrongLatencyFaultIsDetectedAndItsServiceRanked) {
  const SuiteSettings s = ShortSettings();
  auto topology = sim::LoadTopology("hotrod");
  ASSERT_TRUE(topology.ok());
  FaultCase c = Case("customer", 630 * kS, 150 * kS);
  c.fault.type = sim::Fault::Type::kLatency;
  c.fault.service = topology->FindService("customer");
  c.fault.latency = 300 * sim::kMillisecond;
  c.rps = 20;
  c.sim_seed = 11;
  c.run_duration = c.fault.end() + s.tail;
  auto run = RunFaultCase(c, s);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_GT(run->spans, 0);
  const CaseScore score = ScoreCase(c, *run, s);
  std::ostringstream why;
  for (const ObservedIncident& i : run->incidents) {
    why << "incident opened " << i.opened / kS << " s, first " << i.first_anomaly << ", ranking";
    for (const std::string& r : i.ranking) why << " " << r;
    why << "; traces";
    for (const std::string& r : i.rca_ranking) why << " " << r;
    why << "\n";
  }
  // Detection saw the fault: an incident took anomalies inside its window.
  // It may have opened earlier: an incident still open when a fault starts
  // takes the fault's anomalies (a failure mode docs/evaluation.md reports),
  // and the strict score then counts the fault as missed.
  bool covered = false;
  for (const ObservedIncident& i : run->incidents) {
    covered |= i.opened <= c.fault.end() + s.grace && i.last_anomaly >= c.fault.start;
  }
  ASSERT_TRUE(covered) << why.str();
  if (!score.detected) return;
  EXPECT_LE(score.delay_s, 60) << why.str();
  EXPECT_GE(score.notice_delay_s, score.delay_s);
  // IncidentManager's first ranking often misses it (docs/evaluation.md); the
  // trace-based ranking finds it.
  EXPECT_TRUE(score.rca_rank >= 1 && score.rca_rank <= 3) << why.str();
}

TEST(FaultRunTest, ASmallSuiteRunsEndToEnd) {
  SuiteOptions o;
  o.topologies = {"hotrod"};
  o.types = {sim::Fault::Type::kErrors, sim::Fault::Type::kCrash};
  o.per_type = 1;
  o.settings = ShortSettings();
  auto suite = GenerateFaultSuite(o);
  ASSERT_TRUE(suite.ok()) << suite.status();
  ASSERT_EQ(suite->size(), 2u);
  std::vector<CaseRun> runs;
  std::vector<CaseScore> scores;
  for (const FaultCase& c : *suite) {
    auto run = RunFaultCase(c, o.settings);
    ASSERT_TRUE(run.ok()) << run.status();
    scores.push_back(ScoreCase(c, *run, o.settings));
    runs.push_back(*std::move(run));
    EXPECT_FALSE(ProgressLine(c, runs.back(), scores.back()).empty());
  }
  std::ostringstream report;
  WriteFaultReport(*suite, scores, report);
  EXPECT_NE(report.str().find("| all | 2 |"), std::string::npos) << report.str();
  EXPECT_NE(report.str().find("| errors | 1 |"), std::string::npos) << report.str();
  EXPECT_NE(report.str().find("| hotrod | 2 |"), std::string::npos) << report.str();
  const std::string json = FaultReportJson(o, *suite, runs, scores);
  EXPECT_NE(json.find("\"type\":\"crash\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"overall\":{\"faults\":2,"), std::string::npos) << json;
}

}  // namespace
}  // namespace ariadne::eval
