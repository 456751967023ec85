#include "common/rate_limit.h"

#include <gtest/gtest.h>

namespace ariadne {
namespace {

TEST(RateLimiterTest, RefillsAtTheRateUpToTheBurst) {
  double now = 100;
  RateLimiter limiter({.rate = 1000, .burst = 500}, [&] { return now; });
  EXPECT_TRUE(limiter.TryTake("a", 300));
  EXPECT_TRUE(limiter.TryTake("a", 200));
  double retry = -1;
  EXPECT_FALSE(limiter.TryTake("a", 100, &retry));
  EXPECT_NEAR(retry, 0.1, 1e-9);  // 100 tokens at 1000/s
  now += 0.1;
  EXPECT_TRUE(limiter.TryTake("a", 100));
  // Idle for long: the bucket is full again, not fuller.
  now += 60;
  EXPECT_TRUE(limiter.TryTake("a", 500));
  EXPECT_FALSE(limiter.TryTake("a", 1));
}

TEST(RateLimiterTest, KeysAreIndependent) {
  double now = 0;
  RateLimiter limiter({.rate = 10, .burst = 10}, [&] { return now; });
  EXPECT_TRUE(limiter.TryTake("tenant-a", 10));
  EXPECT_FALSE(limiter.TryTake("tenant-a", 1));
  EXPECT_TRUE(limiter.TryTake("tenant-b", 10));
}

TEST(RateLimiterTest, ABatchLargerThanTheBurstPassesWhenFullAndLeavesDebt) {
  double now = 0;
  RateLimiter limiter({.rate = 100, .burst = 100}, [&] { return now; });
  EXPECT_TRUE(limiter.TryTake("a", 250));  // full bucket: through, 150 in debt
  double retry = 0;
  EXPECT_FALSE(limiter.TryTake("a", 250, &retry));
  EXPECT_NEAR(retry, 2.5, 1e-9);  // from -150 to a full 100
  now += 2.5;
  EXPECT_TRUE(limiter.TryTake("a", 250));
}

TEST(RateLimiterTest, OffIsUnlimitedAndKeysAreBounded) {
  RateLimiter off({});
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.TryTake("a", 1e12));
  double now = 0;
  RateLimiter limiter({.rate = 1, .burst = 1, .max_keys = 3}, [&] { return now; });
  for (int i = 0; i < 100; ++i) {
    now += 1;
    limiter.TryTake("k" + std::to_string(i), 1);
  }
  EXPECT_EQ(limiter.keys(), 3u);
}

TEST(RateLimiterTest, HoldsTheAverageRateUnderAFlood) {
  double now = 0;
  RateLimiter limiter({.rate = 1000, .burst = 1000}, [&] { return now; });
  double taken = 0;
  // 10x the rate offered for 60 s, in requests of 100 every 10 ms.
  for (int i = 0; i < 6000; ++i) {
    now = i * 0.01;
    if (limiter.TryTake("t", 100)) taken += 100;
  }
  EXPECT_LE(taken, 1000 + 1000 * 60);
  EXPECT_GE(taken, 1000 * 59);
}

}  // namespace
}  // namespace ariadne
