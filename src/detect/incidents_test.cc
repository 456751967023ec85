#include "detect/incidents.h"

#include <gtest/gtest.h>

namespace ariadne::detect {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

// The tests of grouping and lifecycle confirm every incident at once.
IncidentOptions Immediate() {
  IncidentOptions o;
  o.confirm_window_nanos = 0;
  return o;
}

Anomaly Make(std::string series, analytics::Labels labels, uint64_t t, double score) {
  Anomaly a;
  a.series = std::move(series);
  a.labels = std::move(labels);
  a.time_nanos = t;
  a.value = 1;
  a.verdict.score = score;
  a.verdict.reason = Reason::kOutlier;
  return a;
}

TEST(IncidentTest, ConnectedAnomaliesCloseInTimeAreOneIncident) {
  std::vector<Incident> changes;
  IncidentManager m(
      Immediate(), [] {
        return std::vector<std::pair<std::string, std::string>>{
            {"frontend", "cart"}, {"cart", "redis"}, {"frontend", "ads"}};
      },
      [&](const Incident& i) { changes.push_back(i); });
  // redis fails first, then its caller cart, then the edge frontend -> cart.
  m.OnAnomaly(Make("error_ratio", {{"service", "redis"}}, kT0, 0.9));
  m.OnAnomaly(Make("error_ratio", {{"service", "cart"}}, kT0 + 10 * kSec, 0.99));
  m.OnAnomaly(Make("edge_error_ratio", {{"client", "frontend"}, {"server", "cart"}}, kT0 + 20 * kSec, 0.95));
  // Unrelated and later: ads is a neighbour of frontend, which is involved
  // only as a client... still connected, so the same incident.
  m.OnAnomaly(Make("latency_seconds", {{"service", "ads"}}, kT0 + 90 * kSec, 0.85));
  // A service with no edge to any of them opens a second incident.
  m.OnAnomaly(Make("cpu_cores", {{"service", "batch"}}, kT0 + 100 * kSec, 0.9));
  auto all = m.Incidents(false);
  ASSERT_EQ(all.size(), 2u);
  const Incident& first = all[1];  // newest first
  EXPECT_EQ(first.anomaly_count, 4);
  EXPECT_TRUE(first.open);
  ASSERT_GE(first.ranking.size(), 3u);
  EXPECT_EQ(first.ranking[0].service, "redis");  // changed first
  EXPECT_EQ(first.ranking[1].service, "cart");
  EXPECT_EQ(first.ranking.back().service, "frontend");  // only as a client
  EXPECT_FALSE(first.ranking.back().own);
  EXPECT_EQ(all[0].ranking[0].service, "batch");
  EXPECT_EQ(changes.size(), 5u);

  // Quiet for the quiet period: both resolve.
  m.Advance(kT0 + 100 * kSec + 4 * 60 * kSec);
  EXPECT_EQ(m.Incidents(true).size(), 2u);
  m.Advance(kT0 + 100 * kSec + 5 * 60 * kSec);
  EXPECT_EQ(m.Incidents(true).size(), 0u);
  EXPECT_EQ(changes.size(), 7u);
  EXPECT_FALSE(changes.back().open);
  // A new anomaly after resolution opens a new incident.
  m.OnAnomaly(Make("error_ratio", {{"service", "redis"}}, kT0 + 600 * kSec, 0.9));
  EXPECT_EQ(m.Incidents(true).size(), 1u);
  EXPECT_EQ(m.Incidents(true)[0].id, 3u);
}

TEST(IncidentTest, AnAnomalyThatConnectsTwoIncidentsMergesThem) {
  IncidentManager m(Immediate(), [] {
    return std::vector<std::pair<std::string, std::string>>{{"a", "b"}, {"b", "c"}};
  });
  m.OnAnomaly(Make("error_ratio", {{"service", "a"}}, kT0, 0.9));
  m.OnAnomaly(Make("error_ratio", {{"service", "c"}}, kT0 + 10 * kSec, 0.9));
  ASSERT_EQ(m.Incidents(true).size(), 2u);  // a and c are not neighbours
  m.OnAnomaly(Make("error_ratio", {{"service", "b"}}, kT0 + 20 * kSec, 0.9));
  const auto open = m.Incidents(true);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].id, 1u);
  EXPECT_EQ(open[0].anomaly_count, 3);
  // c is the deepest anomalous callee.
  EXPECT_EQ(open[0].ranking[0].service, "c");
}

TEST(IncidentTest, StaysOpenWhileItsSeriesAreStillAnomalous) {
  IncidentManager m(Immediate(), [] { return std::vector<std::pair<std::string, std::string>>{}; });
  m.OnAnomaly(Make("error_ratio", {{"service", "a"}}, kT0, 0.9));
  for (uint64_t t = 10; t <= 600; t += 10) {
    m.OnOngoing(Make("error_ratio", {{"service", "a"}}, kT0 + t * kSec, 0.9));
    m.Advance(kT0 + t * kSec);
  }
  EXPECT_EQ(m.Incidents(true).size(), 1u);
  m.Advance(kT0 + 600 * kSec + 5 * 60 * kSec);
  EXPECT_EQ(m.Incidents(true).size(), 0u);
}

TEST(IncidentTest, FarApartInTimeAreSeparate) {
  IncidentManager m(Immediate(), [] { return std::vector<std::pair<std::string, std::string>>{}; });
  m.OnAnomaly(Make("error_ratio", {{"service", "a"}}, kT0, 0.9));
  m.OnAnomaly(Make("error_ratio", {{"service", "a"}}, kT0 + 301 * kSec, 0.9));
  EXPECT_EQ(m.Incidents(false).size(), 2u);
}

TEST(IncidentTest, ALoneBlipIsNotAnIncident) {
  int changes = 0;
  IncidentManager m({}, [] { return std::vector<std::pair<std::string, std::string>>{{"a", "b"}}; },
                    [&](const Incident&) { ++changes; });
  m.OnAnomaly(Make("error_ratio", {{"service", "a"}}, kT0, 0.9));
  EXPECT_TRUE(m.Incidents(false).empty());
  EXPECT_EQ(changes, 0);
  // Nothing else within a minute: dropped, and a fault that starts later
  // opens its own incident instead of joining the blip's.
  m.Advance(kT0 + 70 * kSec);
  m.OnAnomaly(Make("error_ratio", {{"service", "b"}}, kT0 + 90 * kSec, 0.9));
  m.OnAnomaly(Make("latency_seconds", {{"service", "b"}}, kT0 + 100 * kSec, 0.9));
  const auto all = m.Incidents(false);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, 1u);
  EXPECT_EQ(all[0].opened_nanos, kT0 + 90 * kSec);
  EXPECT_EQ(all[0].anomaly_count, 2);
  EXPECT_EQ(changes, 1);
  EXPECT_NE(m.MetricsText().find("ariadne_incidents_total 1"), std::string::npos) << m.MetricsText();
}

TEST(IncidentTest, ASeriesStillAnomalousAStepLaterConfirms) {
  int changes = 0;
  IncidentManager m({}, [] { return std::vector<std::pair<std::string, std::string>>{}; },
                    [&](const Incident&) { ++changes; });
  m.OnAnomaly(Make("error_ratio", {{"service", "a"}}, kT0, 0.9));
  m.OnOngoing(Make("error_ratio", {{"service", "other"}}, kT0 + 10 * kSec, 0.9));
  EXPECT_TRUE(m.Incidents(false).empty());
  m.OnOngoing(Make("error_ratio", {{"service", "a"}}, kT0 + 10 * kSec, 0.9));
  const auto all = m.Incidents(true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].opened_nanos, kT0);
  EXPECT_EQ(changes, 1);
}

}  // namespace
}  // namespace ariadne::detect
