#include "receive/gzip.h"

#include <gtest/gtest.h>

namespace ariadne::receive {
namespace {

TEST(GzipTest, RoundTrip) {
  std::string data(100000, 'a');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>('a' + i % 26);
  auto out = Gunzip(Gzip(data), 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, data);
}

TEST(GzipTest, TruncatedIsInvalidArgument) {
  std::string z = Gzip(std::string(10000, 'x') + "tail");
  auto out = Gunzip(z.substr(0, z.size() / 2), 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("truncated"), std::string::npos);
}

TEST(GzipTest, GarbageIsInvalidArgument) {
  auto out = Gunzip("definitely not gzip", 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GzipTest, BombIsStoppedAtTheLimit) {
  std::string z = Gzip(std::string(10 << 20, '\0'));
  auto out = Gunzip(z, 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(out.status().message().find("max_request_bytes"), std::string::npos);
}

}  // namespace
}  // namespace ariadne::receive
