#include "common/admission.h"

#include <gtest/gtest.h>

namespace ariadne {
namespace {

TEST(AdmissionTest, ReservesWithinBudget) {
  Admission a(100);
  EXPECT_TRUE(a.TryAcquire(60));
  EXPECT_FALSE(a.TryAcquire(50));
  EXPECT_TRUE(a.TryAcquire(40));
  EXPECT_EQ(a.used(), 100u);
  a.Release(60);
  EXPECT_TRUE(a.TryAcquire(50));
}

TEST(AdmissionTest, OversizeRequestOnlyWhenIdle) {
  Admission a(100);
  EXPECT_TRUE(a.TryAcquire(500));
  EXPECT_FALSE(a.TryAcquire(1));
  a.Release(500);
  EXPECT_TRUE(a.TryAcquire(1));
  EXPECT_FALSE(a.TryAcquire(500));
}

}  // namespace
}  // namespace ariadne
