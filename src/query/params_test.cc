#include "query/params.h"

#include <gtest/gtest.h>

namespace ariadne::query {
namespace {

TEST(ParamsTest, Durations) {
  EXPECT_EQ(*ParseDurationNanos("1.5s"), 1500000000u);
  EXPECT_EQ(*ParseDurationNanos("100ms"), 100000000u);
  EXPECT_EQ(*ParseDurationNanos("250us"), 250000u);
  EXPECT_EQ(*ParseDurationNanos("250\xC2\xB5s"), 250000u);
  EXPECT_EQ(*ParseDurationNanos("1h30m"), 5400000000000u);
  EXPECT_EQ(*ParseDurationNanos("42"), 42000u);  // bare number: microseconds
  EXPECT_FALSE(ParseDurationNanos("").ok());
  EXPECT_FALSE(ParseDurationNanos("5 parsecs").ok());
  EXPECT_FALSE(ParseDurationNanos("ms").ok());
  EXPECT_FALSE(ParseDurationNanos("1e400s").ok());
}

TEST(ParamsTest, Times) {
  EXPECT_EQ(*ParseTimeNanos("1700000000000000"), 1700000000000000000u);
  EXPECT_EQ(*ParseTimeNanos("1970-01-01T00:00:01Z"), 1000000000u);
  EXPECT_EQ(*ParseTimeNanos("2023-11-14T22:13:20.5Z"), 1700000000500000000u);
  EXPECT_EQ(*ParseTimeNanos("2023-11-15T00:13:20+02:00"), 1700000000000000000u);
  EXPECT_FALSE(ParseTimeNanos("yesterday").ok());
  EXPECT_FALSE(ParseTimeNanos("2023-13-14T22:13:20Z").ok());
}

TEST(ParamsTest, Tags) {
  std::vector<std::pair<std::string, std::string>> tags;
  ASSERT_TRUE(ParseTagsJson(R"({"http.status_code":500,"error":true,"k":"v"})", &tags).ok());
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0], (std::pair<std::string, std::string>{"http.status_code", "500"}));
  EXPECT_EQ(tags[1].second, "true");
  EXPECT_FALSE(ParseTagsJson("{bad", &tags).ok());
  EXPECT_FALSE(ParseTagsJson("[1]", &tags).ok());
  tags.clear();
  ASSERT_TRUE(ParseTagPair("http.url:http://x/y", &tags).ok());
  EXPECT_EQ(tags[0].second, "http://x/y");
  EXPECT_FALSE(ParseTagPair("novalue", &tags).ok());
}

}  // namespace
}  // namespace ariadne::query
