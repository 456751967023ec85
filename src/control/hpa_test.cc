#include "control/hpa.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ariadne::control {
namespace {

// A ready pod started long ago with a sample of `cores` (request 1 core).
HpaPod Ready(const std::string& name, double cores, double now = 1000) {
  HpaPod p;
  p.name = name;
  p.ready = true;
  p.has_metric = true;
  p.cpu_cores = cores;
  p.metric_time_s = now;
  p.metric_window_s = 15;
  p.cpu_request = 1;
  p.start_s = 0;
  p.ready_transition_s = 10;
  return p;
}

std::vector<HpaPod> Pods(int n, double cores, double now = 1000) {
  std::vector<HpaPod> v;
  for (int i = 0; i < n; ++i) v.push_back(Ready(absl::StrCat("p", i), cores, now));
  return v;
}

TEST(HpaFormulaTest, CeilOfCurrentTimesRatio) {
  HpaOptions o;  // target 70 %
  // 3 pods at 90 %: ceil(3 x 0.9 / 0.7) = ceil(3.857) = 4.
  EXPECT_EQ(ResourceReplicas(o, 3, Pods(3, 0.9), 1000).replicas, 4);
  // 4 pods at 35 %: ceil(4 x 0.5) = 2.
  EXPECT_EQ(ResourceReplicas(o, 4, Pods(4, 0.35), 1000).replicas, 2);
}

TEST(HpaFormulaTest, Tolerance) {
  HpaOptions o;
  // Ratio 0.76 / 0.7 = 1.086: within 0.1, no change.
  EXPECT_EQ(ResourceReplicas(o, 5, Pods(5, 0.76), 1000).replicas, 5);
  // Ratio 0.78 / 0.7 = 1.114: beyond it.
  EXPECT_EQ(ResourceReplicas(o, 5, Pods(5, 0.78), 1000).replicas, 6);
  // Ratio 0.64 / 0.7 = 0.914: within.
  EXPECT_EQ(ResourceReplicas(o, 5, Pods(5, 0.64), 1000).replicas, 5);
}

TEST(HpaFormulaTest, UnreadyPodsCountAsZeroOnScaleUp) {
  HpaOptions o;
  std::vector<HpaPod> pods = Pods(2, 1.4);  // ratio 2
  HpaPod starting = Ready("new", 0.0);
  starting.ready = false;
  starting.start_s = 990;  // within the initialisation period
  pods.push_back(starting);
  // Second pass: (1.4 + 1.4 + 0) / 3 = 0.933 -> ratio 1.333 -> ceil(4) = 4.
  EXPECT_EQ(ResourceReplicas(o, 3, pods, 1000).replicas, 4);
}

TEST(HpaFormulaTest, MissingPodsOnScaleDownCountAsFull) {
  HpaOptions o;
  std::vector<HpaPod> pods = Pods(2, 0.2);  // ratio 0.286: down
  HpaPod fresh = Ready("fresh", 0);
  fresh.has_metric = false;
  pods.push_back(fresh);
  // (0.2 + 0.2 + 1.0) / 3 = 0.467 -> ratio 0.667 -> ceil(2.0) = 2.
  EXPECT_EQ(ResourceReplicas(o, 3, pods, 1000).replicas, 2);
}

TEST(HpaFormulaTest, RecentlyReadyPodsAreUnready) {
  HpaOptions o;
  std::vector<HpaPod> pods = Pods(1, 1.4, 100);
  HpaPod fresh = Ready("fresh", 0.1, 100);
  fresh.start_s = 60;
  fresh.ready_transition_s = 95;  // its sample's window began before it was ready
  pods.push_back(fresh);
  // First pass over one pod: ratio 2, up with one unready pod at 0 %:
  // (1.4 + 0) / 2 = 0.7 -> ratio 1.0 -> within tolerance: keep 2.
  EXPECT_EQ(ResourceReplicas(o, 2, pods, 100).replicas, 2);
}

TEST(HpaFormulaTest, TerminatingPodsIgnored) {
  HpaOptions o;
  std::vector<HpaPod> pods = Pods(2, 0.7);
  HpaPod gone = Ready("gone", 0);
  gone.terminating = true;
  pods.push_back(gone);
  EXPECT_EQ(ResourceReplicas(o, 3, pods, 1000).replicas, 3);  // 2 ready at target: ratio 1
}

TEST(HpaTest, ScaleDownStabilisation) {
  Hpa hpa(HpaOptions{});
  // High load at t = 0 asks for 10 (up to the rate limit: max(2 x 4, 4 + 4) = 8).
  Decision d = hpa.Sync(0, "svc", 4, Pods(4, 1.75));
  EXPECT_EQ(d.desired, 8);
  // Then the load falls away: the 10 recommended at t = 0 holds for 300 s.
  d = hpa.Sync(15, "svc", 8, Pods(8, 0.1));
  EXPECT_EQ(d.desired, 8);  // the window's maximum (10) holds the current 8
  d = hpa.Sync(285, "svc", 8, Pods(8, 0.1));
  EXPECT_EQ(d.desired, 8);
  // After 300 s the largest recommendation in the window is the low one.
  d = hpa.Sync(301, "svc", 8, Pods(8, 0.1));
  EXPECT_EQ(d.desired, 2);  // ceil(8 x 0.1 / 0.7) = 2
}

TEST(HpaTest, ScaleUpPolicies) {
  Hpa hpa(HpaOptions{});
  // From 2 pods at 700 %: +4 pods beats +100 %: 6.
  EXPECT_EQ(hpa.Sync(0, "a", 2, Pods(2, 7.0)).desired, 6);
  // From 10 pods at 700 %: +100 % beats +4: 20.
  EXPECT_EQ(hpa.Sync(0, "b", 10, Pods(10, 7.0)).desired, 20);
  // Within the same 15 s period the replicas added count: no more.
  EXPECT_EQ(hpa.Sync(5, "b", 20, Pods(20, 7.0)).desired, 20);
  // A full period later, from 20: 40.
  EXPECT_EQ(hpa.Sync(15, "b", 20, Pods(20, 7.0)).desired, 40);
  // Bounds.
  HpaOptions o;
  o.max_replicas = 30;
  Hpa bounded(o);
  EXPECT_EQ(bounded.Sync(0, "c", 20, Pods(20, 7.0)).desired, 30);
}

}  // namespace
}  // namespace ariadne::control
