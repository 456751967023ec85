#include "sim/profile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace ariadne::sim {
namespace {

constexpr Nanos kMin = 60 * kSecond;

TEST(RateProfileTest, Shapes) {
  auto constant = RateProfile::Parse("constant", 100, 10 * kMin);
  ASSERT_TRUE(constant.ok());
  EXPECT_DOUBLE_EQ(constant->RateAt(5 * kMin), 100);

  auto ramp = RateProfile::Parse("ramp:300", 100, 10 * kMin);
  ASSERT_TRUE(ramp.ok()) << ramp.status();
  EXPECT_DOUBLE_EQ(ramp->RateAt(0), 100);
  EXPECT_DOUBLE_EQ(ramp->RateAt(5 * kMin), 200);
  EXPECT_DOUBLE_EQ(ramp->RateAt(10 * kMin), 300);
  EXPECT_DOUBLE_EQ(ramp->MaxRate(10 * kMin), 300);

  auto step = RateProfile::Parse("step:300@5m,50@8m", 100, 10 * kMin);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_DOUBLE_EQ(step->RateAt(4 * kMin), 100);
  EXPECT_DOUBLE_EQ(step->RateAt(5 * kMin), 300);
  EXPECT_DOUBLE_EQ(step->RateAt(9 * kMin), 50);

  auto spike = RateProfile::Parse("spike:5x@2m+30s", 100, 10 * kMin);
  ASSERT_TRUE(spike.ok()) << spike.status();
  EXPECT_DOUBLE_EQ(spike->RateAt(2 * kMin - 1), 100);
  EXPECT_DOUBLE_EQ(spike->RateAt(2 * kMin + 10 * kSecond), 500);
  EXPECT_DOUBLE_EQ(spike->RateAt(3 * kMin), 100);
  EXPECT_DOUBLE_EQ(spike->MaxRate(10 * kMin), 500);

  auto diurnal = RateProfile::Parse("diurnal:0.5:1h", 100, 60 * kMin);
  ASSERT_TRUE(diurnal.ok()) << diurnal.status();
  EXPECT_NEAR(diurnal->RateAt(0), 50, 1e-9);
  EXPECT_NEAR(diurnal->RateAt(30 * kMin), 150, 1e-9);
  EXPECT_GE(diurnal->MaxRate(60 * kMin), 150);
}

TEST(RateProfileTest, Csv) {
  const std::string path = ::testing::TempDir() + "/rate.csv";
  {
    std::ofstream out(path);
    out << "seconds,rps\n0,10\n60,70\n";
  }
  auto csv = RateProfile::Parse("csv:" + path, 1, 10 * kMin);
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_DOUBLE_EQ(csv->RateAt(30 * kSecond), 40);
  EXPECT_DOUBLE_EQ(csv->RateAt(5 * kMin), 70);
  std::remove(path.c_str());
  EXPECT_FALSE(RateProfile::Parse("csv:" + path, 1, kMin).ok());
}

TEST(RateProfileTest, Errors) {
  for (const char* bad : {"wave", "ramp:x", "step:300", "step:300@soon", "diurnal:2", "spike:5@2m",
                          "spike:-1@1m+1m"}) {
    auto p = RateProfile::Parse(bad, 100, kMin);
    EXPECT_FALSE(p.ok()) << bad;
    if (!p.ok()) {
      EXPECT_NE(p.status().message().find("rate profile"), std::string::npos) << p.status();
    }
  }
}

}  // namespace
}  // namespace ariadne::sim
