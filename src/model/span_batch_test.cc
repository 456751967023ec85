#include "model/span_batch.h"

#include <gtest/gtest.h>

namespace ariadne::model {
namespace {

TEST(SpanBatchTest, ViewsSurviveMove) {
  SpanBatch batch;
  std::string_view adopted = batch.Adopt(std::string("short"));  // SSO-sized
  std::string_view copied = batch.Copy("copied string");
  uint32_t row = batch.AddSpan();
  batch.name[row] = adopted;
  batch.status_message[row] = copied;
  SpanBatch moved = std::move(batch);
  EXPECT_EQ(moved.name[0], "short");
  EXPECT_EQ(moved.status_message[0], "copied string");
  EXPECT_EQ(moved.size(), 1u);
}

TEST(SpanBatchTest, PopSpanRemovesEveryColumn) {
  SpanBatch batch;
  batch.AddSpan();
  batch.AddSpan();
  batch.PopSpan();
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.scope.size(), 1u);
  EXPECT_EQ(batch.status_message.size(), 1u);
}

TEST(SpanBatchTest, ArenaGrowsPastOneBlock) {
  SpanBatch batch;
  std::string big(40000, 'x');
  std::string_view a = batch.Copy("abc");
  std::string_view b = batch.Copy(big);
  EXPECT_EQ(a, "abc");
  EXPECT_EQ(b, big);
  EXPECT_GE(batch.MemoryBytes(), big.size());
}

TEST(HexTest, RoundTrip) {
  TraceId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i * 17);
  std::string hex = ToHex(id);
  EXPECT_EQ(hex.size(), 32u);
  TraceId back{};
  ASSERT_TRUE(ParseHexId(hex, back));
  EXPECT_EQ(back, id);
  EXPECT_FALSE(ParseHexId(hex.substr(1), back));
  EXPECT_FALSE(ParseHexId(std::string(32, 'g'), back));
}

TEST(HexTest, LenientPadsShortJaegerIds) {
  TraceId id{};
  ASSERT_TRUE(ParseTraceIdLenient("abc", &id));
  EXPECT_EQ(ToHex(id), std::string(29, '0') + "abc");
  EXPECT_FALSE(ParseTraceIdLenient("", &id));
  EXPECT_FALSE(ParseTraceIdLenient(std::string(33, 'a'), &id));
}

}  // namespace
}  // namespace ariadne::model

#include "model/value_format.h"

namespace ariadne::model {
namespace {

TEST(ValueFormatTest, ScalarsArraysAndKvLists) {
  SpanBatch b;
  AnyValue s = AnyValue::String("a\"b");
  AnyValue i = AnyValue::Int(-42);
  AnyValue d = AnyValue::Double(1.5);
  AnyValue t = AnyValue::Bool(true);
  b.array_items = {s, i, d, t};
  AnyValue arr = AnyValue::Array({0, 4});
  b.attributes.push_back({"k", i});
  AnyValue kv = AnyValue::KvList({0, 1});
  EXPECT_EQ(ValueToString(b, s), "a\"b");
  EXPECT_EQ(ValueToString(b, i), "-42");
  EXPECT_EQ(ValueToString(b, d), "1.5");
  EXPECT_EQ(ValueToString(b, t), "true");
  EXPECT_EQ(ValueToString(b, arr), "[\"a\\\"b\",-42,1.5,true]");
  EXPECT_EQ(ValueToString(b, kv), "{\"k\":-42}");
}

TEST(ValueFormatTest, Base64) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace ariadne::model
