#include "control/queueing.h"

#include <cmath>

#include "gtest/gtest.h"

namespace ariadne::control {
namespace {

TEST(ErlangCTest, KnownValues) {
  EXPECT_NEAR(ErlangC(1, 0.5), 0.5, 1e-12);          // M/M/1: P(wait) = rho
  EXPECT_NEAR(ErlangC(2, 1.0), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(ErlangC(4, 3.2), 0.596432, 1e-6);
  EXPECT_NEAR(ErlangC(10, 8.0), 0.409180, 1e-6);
  EXPECT_EQ(ErlangC(4, 4.0), 1.0);                   // unstable
  EXPECT_EQ(ErlangC(4, 0.0), 0.0);
  // Large c stays finite and in [0, 1].
  const double big = ErlangC(2000, 1950);
  EXPECT_GT(big, 0.0);
  EXPECT_LT(big, 1.0);
}

TEST(MeanWaitTest, MatchesMmc) {
  // examples/sim/mmc.yaml: c = 4, S = 10 ms, 320/s: response 17.46 ms.
  const double w = MeanWait(320, 0.010, 4, 1.0);
  EXPECT_NEAR((w + 0.010) * 1e3, 17.455, 0.01);
  // M/D/c (cv^2 = 0) waits half as long under Allen-Cunneen.
  EXPECT_NEAR(MeanWait(320, 0.010, 4, 0.0), w / 2, 1e-12);
  EXPECT_TRUE(std::isinf(MeanWait(400, 0.010, 4)));
}

TEST(WaitTailTest, ExponentialTail) {
  // M/M/1, rho 0.5, S = 1: P(W > t) = 0.5 exp(-0.5 t).
  EXPECT_NEAR(WaitTailProbability(0.5, 1.0, 1, 2.0), 0.5 * std::exp(-1.0), 1e-12);
  EXPECT_NEAR(WaitQuantile(0.5, 1.0, 1, 0.99), std::log(0.5 / 0.01) / 0.5, 1e-9);
  EXPECT_EQ(WaitQuantile(0.5, 1.0, 1, 0.4), 0.0);  // most arrivals do not wait
}

TEST(SmallestServersTest, ErlangCStaffing) {
  // 10/s, S = 1 s, P(W > 0.2 s) <= 2 %: 16 servers (15 gives 3.75 %).
  EXPECT_EQ(SmallestServers(10, 1.0, 1.0, 0.2, 0.98, 1.0, 1, 100), 16);
  // The utilisation bound alone: 10 erlangs at <= 50 % -> 20.
  EXPECT_EQ(SmallestServers(10, 1.0, 1.0, 100, 0.0, 0.5, 1, 100), 20);
  EXPECT_EQ(SmallestServers(0, 1.0, 1.0, 0.2, 0.99, 0.8, 3, 100), 3);
  EXPECT_EQ(SmallestServers(1000, 1.0, 1.0, 0.2, 0.99, 0.8, 1, 50), 50);  // capped
}

TEST(SmallestReplicasTest, PerReplicaQueues) {
  // 1 worker per replica, S = 10 ms, 250/s: at <= 80 % that is 4 replicas
  // (62.5/s each, rho 0.625) if the tail allows: P(W > 50 ms) = 0.625
  // exp(-(100 - 62.5) 0.05) = 0.096 > 1 %, so more are needed.
  const int n = SmallestReplicas(250, 0.010, 1.0, 1, 0.050, 0.99, 0.8, 1, 100);
  EXPECT_GT(n, 4);
  const double per = 250.0 / n;
  EXPECT_LE(WaitTailProbability(per, 0.010, 1, 0.050), 0.01);
  EXPECT_GT(WaitTailProbability(250.0 / (n - 1), 0.010, 1, 0.050), 0.01);
}

TEST(ServiceTimeFromResponseTest, InvertsTheQueue) {
  const double s = 0.010;
  const double response = s + MeanWait(320, s, 4, 1.0);
  EXPECT_NEAR(ServiceTimeFromResponse(320, response, 4, 1.0), s, 1e-9);
  EXPECT_NEAR(ServiceTimeFromResponse(0, 0.02, 4), 0.02, 1e-12);
  // A response far beyond saturation: the estimate stays below c / rate.
  EXPECT_LT(ServiceTimeFromResponse(320, 10.0, 4), 4.0 / 320);
  EXPECT_GT(ServiceTimeFromResponse(320, 10.0, 4), 0.0124);
}

}  // namespace
}  // namespace ariadne::control
