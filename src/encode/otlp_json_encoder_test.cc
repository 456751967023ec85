#include <gtest/gtest.h>

#include <string>

#include "encode/encode.h"
#include "encode/json_util.h"
#include "encode/test_batches.h"
#include "rapidjson/document.h"

namespace ariadne::encode {
namespace {

using rapidjson::Value;
using testing::BatchA;
using testing::BatchB;
using testing::MixedRefs;

constexpr char kFffd[] = "\xEF\xBF\xBD";

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document doc;
  // Validating the encoding proves the output is valid UTF-8.
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.c_str(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << "offset " << doc.GetErrorOffset() << ": " << json;
  return doc;
}

std::string Str(const Value& v) {
  EXPECT_TRUE(v.IsString());
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : "";
}

// The value of attribute `key` in an OTLP/JSON attribute array.
const Value& Attr(const Value& attributes, std::string_view key) {
  static const Value kNull;
  for (const Value& kv : attributes.GetArray()) {
    if (Str(kv["key"]) == key) return kv["value"];
  }
  ADD_FAILURE() << "no attribute " << key;
  return kNull;
}

TEST(OtlpJsonEncoderTest, GroupsAndWritesEveryField) {
  auto a = BatchA();
  auto b = BatchB();
  const std::vector<model::SpanRef> refs = MixedRefs(a, b);
  std::string out = "x";
  EncodeOtlpJson(refs, &out);
  ASSERT_EQ(out[0], 'x');  // appends
  const rapidjson::Document doc = Parse(out.substr(1));
  ASSERT_TRUE(doc.IsObject());
  const Value& rss = doc["resourceSpans"];
  ASSERT_EQ(rss.Size(), 3u);

  // Resource 0 of A.
  const Value& rs0 = rss[0];
  const Value& res = rs0["resource"];
  ASSERT_EQ(res["attributes"].Size(), 2u);
  EXPECT_EQ(Str(res["attributes"][0]["key"]), "service.name");
  EXPECT_EQ(Str(res["attributes"][0]["value"]["stringValue"]), "svc-a");
  EXPECT_EQ(Str(res["attributes"][1]["value"]["intValue"]), "42");
  EXPECT_EQ(res["droppedAttributesCount"].GetUint(), 3u);
  EXPECT_EQ(Str(rs0["schemaUrl"]), "https://schema/r0");
  ASSERT_EQ(rs0["scopeSpans"].Size(), 2u);
  const Value& ss0 = rs0["scopeSpans"][0];
  EXPECT_EQ(Str(ss0["scope"]["name"]), "lib-a");
  EXPECT_EQ(Str(ss0["scope"]["version"]), "1.0");
  EXPECT_EQ(Str(ss0["scope"]["attributes"][0]["key"]), "scope.attr");
  EXPECT_TRUE(ss0["scope"]["attributes"][0]["value"]["boolValue"].GetBool());
  EXPECT_EQ(ss0["scope"]["droppedAttributesCount"].GetUint(), 1u);
  EXPECT_EQ(Str(ss0["schemaUrl"]), "https://schema/s0");
  ASSERT_EQ(ss0["spans"].Size(), 2u);

  // Row 0: every field.
  const Value& s = ss0["spans"][0];
  EXPECT_EQ(Str(s["traceId"]), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(Str(s["spanId"]), "1011121314151617");
  EXPECT_EQ(Str(s["parentSpanId"]), "9091929394959697");
  EXPECT_EQ(Str(s["traceState"]), "vendor=value");
  EXPECT_EQ(s["flags"].GetUint(), 0x301u);
  EXPECT_EQ(Str(s["name"]), "GET /users");
  EXPECT_EQ(s["kind"].GetInt(), 2);
  EXPECT_EQ(Str(s["startTimeUnixNano"]), "1700000000123456789");
  EXPECT_EQ(Str(s["endTimeUnixNano"]), "1700000000223456789");
  EXPECT_EQ(s["droppedAttributesCount"].GetUint(), 2u);
  EXPECT_EQ(s["droppedEventsCount"].GetUint(), 4u);
  EXPECT_EQ(s["droppedLinksCount"].GetUint(), 5u);
  EXPECT_EQ(Str(s["status"]["message"]), "it failed");
  EXPECT_EQ(s["status"]["code"].GetInt(), 2);

  const Value& attrs = s["attributes"];
  EXPECT_EQ(attrs.Size(), 20u);
  EXPECT_EQ(Str(Attr(attrs, "str")["stringValue"]), "hello");
  EXPECT_EQ(Str(Attr(attrs, "empty_str")["stringValue"]), "");
  EXPECT_FALSE(Attr(attrs, "bool_false")["boolValue"].GetBool());
  EXPECT_TRUE(Attr(attrs, "bool_true")["boolValue"].GetBool());
  EXPECT_EQ(Str(Attr(attrs, "int_neg")["intValue"]), "-5");
  EXPECT_EQ(Str(Attr(attrs, "int_zero")["intValue"]), "0");
  EXPECT_EQ(Str(Attr(attrs, "int_max")["intValue"]), "9223372036854775807");
  EXPECT_EQ(Attr(attrs, "double")["doubleValue"].GetDouble(), 1.5);
  EXPECT_EQ(Attr(attrs, "double_zero")["doubleValue"].GetDouble(), 0.0);
  EXPECT_EQ(Str(Attr(attrs, "nan")["doubleValue"]), "NaN");
  EXPECT_EQ(Str(Attr(attrs, "inf")["doubleValue"]), "Infinity");
  EXPECT_EQ(Str(Attr(attrs, "neg_inf")["doubleValue"]), "-Infinity");
  EXPECT_EQ(Str(Attr(attrs, "bytes")["bytesValue"]), "AP8Q");  // 00 ff 10
  EXPECT_TRUE(Attr(attrs, "empty").IsObject());
  EXPECT_EQ(Attr(attrs, "empty").MemberCount(), 0u);
  const Value& array = Attr(attrs, "array")["arrayValue"]["values"];
  ASSERT_EQ(array.Size(), 5u);
  EXPECT_EQ(Str(array[0]["intValue"]), "1");
  EXPECT_EQ(Str(array[1]["stringValue"]), "x");
  EXPECT_TRUE(array[2]["arrayValue"]["values"][0]["boolValue"].GetBool());
  EXPECT_EQ(array[2]["arrayValue"]["values"][1]["doubleValue"].GetDouble(), -0.25);
  EXPECT_EQ(Str(array[3]["kvlistValue"]["values"][0]["key"]), "k");
  EXPECT_EQ(array[3]["kvlistValue"]["values"][0]["value"]["doubleValue"].GetDouble(), 2.5);
  EXPECT_EQ(array[4].MemberCount(), 0u);
  const Value& kvlist = Attr(attrs, "kvlist")["kvlistValue"]["values"];
  ASSERT_EQ(kvlist.Size(), 2u);
  EXPECT_EQ(Str(kvlist[0]["key"]), "inner");
  EXPECT_EQ(Str(kvlist[0]["value"]["stringValue"]), "v");
  EXPECT_EQ(Str(kvlist[1]["value"]["kvlistValue"]["values"][0]["key"]), "deep");
  EXPECT_EQ(Str(kvlist[1]["value"]["kvlistValue"]["values"][0]["value"]["intValue"]), "-7");
  EXPECT_EQ(Attr(attrs, "empty_array")["arrayValue"]["values"].Size(), 0u);
  EXPECT_EQ(Attr(attrs, "empty_kvlist")["kvlistValue"]["values"].Size(), 0u);
  EXPECT_EQ(Str(Attr(attrs, "big")["stringValue"]).size(), 20000u);
  EXPECT_EQ(Str(Attr(attrs, "")["stringValue"]), "empty key");

  const Value& events = s["events"];
  ASSERT_EQ(events.Size(), 3u);
  EXPECT_EQ(Str(events[0]["timeUnixNano"]), "1700000000150000000");
  EXPECT_EQ(Str(events[0]["name"]), "exception");
  EXPECT_EQ(Str(events[0]["attributes"][0]["value"]["stringValue"]), "boom");
  EXPECT_EQ(Str(events[0]["attributes"][1]["value"]["intValue"]), "3");
  EXPECT_EQ(events[0]["droppedAttributesCount"].GetUint(), 6u);
  EXPECT_EQ(Str(events[1]["timeUnixNano"]), "0");
  EXPECT_EQ(Str(events[1]["name"]), "marker");
  EXPECT_FALSE(events[1].HasMember("attributes"));
  EXPECT_FALSE(events[1].HasMember("droppedAttributesCount"));

  const Value& links = s["links"];
  ASSERT_EQ(links.Size(), 2u);
  EXPECT_EQ(Str(links[0]["traceId"]), "0708090a0b0c0d0e0f10111213141516");
  EXPECT_EQ(Str(links[0]["spanId"]), "7071727374757677");
  EXPECT_EQ(Str(links[0]["traceState"]), "a=b");
  EXPECT_EQ(Str(links[0]["attributes"][0]["value"]["stringValue"]), "batch");
  EXPECT_EQ(links[0]["droppedAttributesCount"].GetUint(), 8u);
  EXPECT_EQ(links[0]["flags"].GetUint(), 0x101u);
  EXPECT_FALSE(links[1].HasMember("flags"));
  EXPECT_FALSE(links[1].HasMember("traceState"));

  // Row 2 follows row 0 in the same scope.
  EXPECT_EQ(Str(ss0["spans"][1]["name"]), "SELECT");
  EXPECT_EQ(ss0["spans"][1]["kind"].GetInt(), 3);

  // Row 3: empty scope, status with a message only.
  const Value& ss1 = rs0["scopeSpans"][1];
  EXPECT_TRUE(ss1["scope"].IsObject());
  EXPECT_EQ(ss1["scope"].MemberCount(), 0u);
  EXPECT_FALSE(ss1.HasMember("schemaUrl"));
  const Value& s3 = ss1["spans"][0];
  EXPECT_EQ(Str(s3["name"]), "compute");
  EXPECT_EQ(Str(s3["status"]["message"]), "note");
  EXPECT_FALSE(s3["status"].HasMember("code"));

  // Resource 1 of A: row 1, minimal.
  const Value& rs1 = rss[1];
  EXPECT_FALSE(rs1.HasMember("schemaUrl"));
  EXPECT_FALSE(rs1["resource"].HasMember("droppedAttributesCount"));
  const Value& ss = rs1["scopeSpans"][0];
  EXPECT_EQ(Str(ss["scope"]["name"]), "lib-b");
  EXPECT_FALSE(ss["scope"].HasMember("version"));
  const Value& s1 = ss["spans"][0];
  EXPECT_EQ(Str(s1["spanId"]), "2021222324252627");
  for (const char* absent :
       {"parentSpanId", "traceState", "flags", "kind", "attributes", "droppedAttributesCount",
        "events", "droppedEventsCount", "links", "droppedLinksCount"}) {
    EXPECT_FALSE(s1.HasMember(absent)) << absent;
  }
  EXPECT_EQ(Str(s1["startTimeUnixNano"]), "1000");
  EXPECT_EQ(s1["status"]["code"].GetInt(), 1);
  EXPECT_FALSE(s1["status"].HasMember("message"));

  // Batch B.
  const Value& rs2 = rss[2];
  EXPECT_EQ(Str(rs2["scopeSpans"][0]["scope"]["name"]), "lib-c");
  const Value& sb = rs2["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(Str(sb["name"]), "say \"hi\"\\\n\t\x01 caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(Str(sb["attributes"][0]["key"]), "q\"key");
  EXPECT_EQ(Str(sb["attributes"][0]["value"]["stringValue"]), "line1\nline2\x1f\x7f");
  EXPECT_EQ(sb["kind"].GetInt(), 4);
}

TEST(OtlpJsonEncoderTest, EscapesQuotesAndControlCharacters) {
  auto b = BatchB();
  const std::vector<model::SpanRef> refs = {{b, 0}};
  std::string out;
  EncodeOtlpJson(refs, &out);
  EXPECT_NE(out.find(R"("name":"say \"hi\"\\\n\t\u0001 caf)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("key":"q\"key")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(line1\nline2\u001F)"), std::string::npos) << out;
  Parse(out);
}

TEST(OtlpJsonEncoderTest, ReplacesInvalidUtf8) {
  auto b = BatchB(/*invalid_utf8=*/true);
  const std::vector<model::SpanRef> refs = {{b, 0}};
  std::string out;
  EncodeOtlpJson(refs, &out);
  const rapidjson::Document doc = Parse(out);
  const Value& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(Str(span["name"]),
            std::string("say \"hi\"\\\n\t\x01 ") + kFffd + kFffd + " ok " + kFffd);
  EXPECT_EQ(Str(span["attributes"][0]["key"]), std::string("bad") + kFffd + "(key");
  std::string expected = "caf\xc3\xa9 ";
  for (int i = 0; i < 3; ++i) expected += kFffd;  // ED A0 80: a surrogate
  expected += " ";
  for (int i = 0; i < 4; ++i) expected += kFffd;  // F4 90 80 80: above U+10FFFF
  expected += " end";
  EXPECT_EQ(Str(span["attributes"][0]["value"]["stringValue"]), expected);
}

TEST(OtlpJsonEncoderTest, EmptyInput) {
  std::string out;
  EncodeOtlpJson({}, &out);
  EXPECT_EQ(out, R"({"resourceSpans":[]})");
}

TEST(SanitizeUtf8Test, ValidTextIsReturnedAsIs) {
  std::string scratch;
  const std::string_view valid = "ascii caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  const std::string_view out = internal::SanitizeUtf8(valid, &scratch);
  EXPECT_EQ(out.data(), valid.data());
  EXPECT_TRUE(scratch.empty());
}

TEST(SanitizeUtf8Test, ReplacesMaximalSubparts) {
  const auto sanitize = [](std::string_view s) {
    std::string scratch;
    return std::string(internal::SanitizeUtf8(s, &scratch));
  };
  const std::string r = kFffd;
  EXPECT_EQ(sanitize("\x80"), r);                        // lone continuation
  EXPECT_EQ(sanitize("a\xc0\xafz"), "a" + r + r + "z");  // overlong lead C0
  EXPECT_EQ(sanitize("\xe0\x80\x80"), r + r + r);        // overlong 3-byte
  EXPECT_EQ(sanitize("\xe2\x82"), r);                    // truncated at end
  EXPECT_EQ(sanitize("\xe2\x82x"), r + "x");             // truncated before ASCII
  EXPECT_EQ(sanitize("\xf0\x9f\x98"), r);                // truncated 4-byte
  EXPECT_EQ(sanitize("\xf5\x80"), r + r);                // lead above F4
  EXPECT_EQ(sanitize("\xff"), r);
  EXPECT_EQ(sanitize(std::string_view("\0\xff", 2)), std::string("\0", 1) + r);
}

}  // namespace
}  // namespace ariadne::encode
