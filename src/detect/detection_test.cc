#include "detect/detection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace ariadne::detect {
namespace {

using ::testing::HasSubstr;
constexpr uint64_t kStep = 10'000'000'000ull;
constexpr uint64_t kT0 = 1'700'000'000ull * 1'000'000'000ull;

TEST(DetectionTest, WatchesServiceSeriesFromTheStoreAndRecordsAnomalies) {
  analytics::SeriesStore store({.step_nanos = kStep, .window_nanos = 3600 * kStep});
  Detection detection;
  store.SetListener([&](std::string_view name, const analytics::Labels& labels, uint64_t t,
                        double v) { detection.OnValue(name, labels, t, v); });
  const analytics::Labels service = {{"service", "cart"}, {"span_kind", "SPAN_KIND_SERVER"}};
  const analytics::Labels operation = {
      {"operation", "Get"}, {"service", "cart"}, {"span_kind", "SPAN_KIND_SERVER"}};
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(100, 3);
  for (uint64_t i = 0; i < 500; ++i) {
    const double v = noise(rng) + (i == 450 ? 60 : 0);
    store.Set("calls_per_second", service, kT0 + i * kStep, v);
    store.Set("calls_per_second", operation, kT0 + i * kStep, v);  // not watched
  }
  EXPECT_EQ(detection.watched(), 1u);
  const auto anomalies = detection.Anomalies(0, UINT64_MAX);
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].series, "calls_per_second");
  EXPECT_EQ(anomalies[0].labels, service);
  EXPECT_EQ(anomalies[0].time_nanos, kT0 + 450 * kStep);
  EXPECT_EQ(anomalies[0].verdict.reason, Reason::kOutlier);
  EXPECT_GT(anomalies[0].value, anomalies[0].verdict.expected_high);
  const std::string text = detection.MetricsText();
  EXPECT_THAT(text, HasSubstr(R"(ariadne_anomaly_score{series="calls_per_second",service="cart",span_kind="SPAN_KIND_SERVER"} )"));
  EXPECT_THAT(text, HasSubstr("ariadne_anomalies_total 1\n"));
  // A step written again is not a new point.
  store.Set("calls_per_second", service, kT0 + 499 * kStep, 1000);
  EXPECT_EQ(detection.Anomalies(0, UINT64_MAX).size(), 1u);
}

TEST(DetectionTest, WhatIsWatched) {
  EXPECT_TRUE(Watched("error_ratio", {{"service", "a"}, {"span_kind", "SPAN_KIND_SERVER"}}));
  EXPECT_FALSE(Watched("error_ratio", {{"operation", "x"}, {"service", "a"}}));
  EXPECT_TRUE(Watched("latency_seconds", {{"quantile", "0.95"}, {"service", "a"}}));
  EXPECT_FALSE(Watched("latency_seconds", {{"quantile", "0.5"}, {"service", "a"}}));
  EXPECT_TRUE(Watched("cpu_cores", {{"service", "a"}}));
  EXPECT_TRUE(Watched("edge_latency_seconds", {{"client", "a"}, {"quantile", "0.95"}, {"server", "b"}}));
  EXPECT_FALSE(Watched("trace_calls_per_second", {}));
}

}  // namespace
}  // namespace ariadne::detect
