#include "analytics/critical_path.h"

#include <gtest/gtest.h>

namespace ariadne::analytics {
namespace {

using Segs = std::vector<PathSegment>;

// Times in milliseconds for readability.
PathSpan S(uint64_t start, uint64_t end, int32_t parent = -1) { return {start, end, parent}; }

TEST(CriticalPathTest, Sequential) {
  // root [0,100): a [10,30), b [40,90)
  std::vector<PathSpan> t = {S(0, 100), S(10, 30, 0), S(40, 90, 0)};
  EXPECT_EQ(CriticalPath(t, 0), (Segs{{0, 0, 10}, {1, 10, 30}, {0, 30, 40}, {2, 40, 90}, {0, 90, 100}}));
  EXPECT_EQ(SelfTimes(t), (std::vector<uint64_t>{30, 20, 50}));
}

TEST(CriticalPathTest, ParallelFanOutWaitsForTheLastToFinish) {
  // root [0,100): a [10,50), b [10,80), c [10,30) in parallel; b's child d [20,70)
  std::vector<PathSpan> t = {S(0, 100), S(10, 50, 0), S(10, 80, 0), S(10, 30, 0), S(20, 70, 2)};
  EXPECT_EQ(CriticalPath(t, 0), (Segs{{0, 0, 10}, {2, 10, 20}, {4, 20, 70}, {2, 70, 80}, {0, 80, 100}}));
  // Self time of the root: 100 - union([10,80)) = 30.
  EXPECT_EQ(SelfTimes(t)[0], 30u);
}

TEST(CriticalPathTest, SequenceThenParallel) {
  // root [0,100): a [0,20); then b [20,60) and c [20,90) in parallel
  std::vector<PathSpan> t = {S(0, 100), S(0, 20, 0), S(20, 60, 0), S(20, 90, 0)};
  EXPECT_EQ(CriticalPath(t, 0), (Segs{{1, 0, 20}, {3, 20, 90}, {0, 90, 100}}));
}

TEST(CriticalPathTest, AsyncChildOutlivingItsParentIsCutAtTheParentsEnd) {
  // root [0,100): a [10,40) calls an async b [30,500) (fire and forget).
  std::vector<PathSpan> t = {S(0, 100), S(10, 40, 0), S(30, 500, 1)};
  EXPECT_EQ(CriticalPath(t, 0), (Segs{{0, 0, 10}, {1, 10, 30}, {2, 30, 40}, {0, 40, 100}}));
  // a's self time counts b only up to a's end.
  EXPECT_EQ(SelfTimes(t)[1], 20u);
}

TEST(CriticalPathTest, ClockSkewBetweenServices) {
  // The callee's clock runs 15 ms behind: its span seems to start before
  // its caller's. It is fitted to start with the caller.
  std::vector<PathSpan> t = {S(100, 200), S(110, 190, 0), S(95, 170, 1)};
  EXPECT_EQ(CriticalPath(t, 0), (Segs{{0, 100, 110}, {2, 110, 170}, {1, 170, 190}, {0, 190, 200}}));
  // A child entirely outside its parent (badly skewed) is not on the path.
  std::vector<PathSpan> u = {S(100, 200), S(300, 400, 0)};
  EXPECT_EQ(CriticalPath(u, 0), (Segs{{0, 100, 200}}));
}

TEST(CriticalPathTest, PathCoversTheRootExactly) {
  std::vector<PathSpan> t = {S(0, 1000)};
  for (int i = 0; i < 50; ++i) {
    t.push_back(S(static_cast<uint64_t>(i * 17 % 900), static_cast<uint64_t>(i * 17 % 900 + 80 + i),
                  static_cast<int32_t>(i % 7 == 0 ? 0 : (i * 3) % (t.size()))));
  }
  const Segs path = CriticalPath(t, 0);
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(path.front().start, 0u);
  EXPECT_EQ(path.back().end, 1000u);
  for (size_t i = 1; i < path.size(); ++i) EXPECT_EQ(path[i].start, path[i - 1].end);
}

TEST(CriticalPathTest, PickRoot) {
  std::vector<PathSpan> t = {S(10, 20, 2), S(0, 50), S(0, 100), S(5, 100)};
  EXPECT_EQ(PickRoot(t), 2);
  EXPECT_EQ(PickRoot(std::vector<PathSpan>{}), -1);
}

}  // namespace
}  // namespace ariadne::analytics
