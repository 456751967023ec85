#include "encode/jaeger_json.h"

#include <gtest/gtest.h>

#include <string>

#include "encode/test_batches.h"
#include "rapidjson/document.h"

namespace ariadne::encode {
namespace {

using rapidjson::Value;
using testing::BatchA;
using testing::BatchB;
using testing::MixedRefs;

constexpr char kFffd[] = "\xEF\xBF\xBD";

// Writes {"data":[trace]} as jaeger-query does and parses it back.
rapidjson::Document WriteAndParse(std::span<const model::SpanRef> spans, std::string* json) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("data");
  w.StartArray();
  WriteJaegerTrace(spans, &w);
  w.EndArray();
  w.EndObject();
  EXPECT_TRUE(w.IsComplete());
  json->assign(buffer.GetString(), buffer.GetSize());
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json->c_str(), json->size());
  EXPECT_FALSE(doc.HasParseError()) << "offset " << doc.GetErrorOffset() << ": " << *json;
  return doc;
}

std::string Str(const Value& v) {
  EXPECT_TRUE(v.IsString());
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : "";
}

// The tag `key` of a tags/fields array; fails if absent or repeated.
const Value& Tag(const Value& tags, std::string_view key) {
  static const Value kNull;
  const Value* found = nullptr;
  for (const Value& tag : tags.GetArray()) {
    if (Str(tag["key"]) != key) continue;
    EXPECT_EQ(found, nullptr) << "repeated tag " << key;
    found = &tag;
  }
  if (found == nullptr) {
    ADD_FAILURE() << "no tag " << key;
    return kNull;
  }
  return *found;
}

bool HasTag(const Value& tags, std::string_view key) {
  for (const Value& tag : tags.GetArray()) {
    if (Str(tag["key"]) == key) return true;
  }
  return false;
}

void ExpectTag(const Value& tags, std::string_view key, std::string_view type,
               std::string_view value) {
  const Value& tag = Tag(tags, key);
  if (!tag.IsObject()) return;
  EXPECT_EQ(Str(tag["type"]), type) << key;
  EXPECT_EQ(Str(tag["value"]), value) << key;
}

void ExpectRef(const Value& ref, std::string_view type, std::string_view trace_id,
               std::string_view span_id) {
  EXPECT_EQ(Str(ref["refType"]), type);
  EXPECT_EQ(Str(ref["traceID"]), trace_id);
  EXPECT_EQ(Str(ref["spanID"]), span_id);
}

constexpr char kTraceA[] = "0102030405060708090a0b0c0d0e0f10";

TEST(JaegerJsonTest, WritesTraceSpansAndProcesses) {
  auto a = BatchA();
  auto b = BatchB();
  const std::vector<model::SpanRef> refs = MixedRefs(a, b);  // A0, A1, B0, A2, A3
  std::string json;
  const rapidjson::Document doc = WriteAndParse(refs, &json);
  const Value& trace = doc["data"][0];
  EXPECT_EQ(Str(trace["traceID"]), kTraceA);
  EXPECT_TRUE(trace["warnings"].IsNull());
  const Value& spans = trace["spans"];
  ASSERT_EQ(spans.Size(), 5u);  // in the given order

  // A0: every field.
  const Value& s0 = spans[0];
  EXPECT_EQ(Str(s0["traceID"]), kTraceA);
  EXPECT_EQ(Str(s0["spanID"]), "1011121314151617");
  EXPECT_EQ(s0["flags"].GetUint(), 1u);  // W3C flags byte of 0x301
  EXPECT_EQ(Str(s0["operationName"]), "GET /users");
  EXPECT_EQ(s0["startTime"].GetUint64(), 1700000000123456ull);
  EXPECT_EQ(s0["duration"].GetUint64(), 100000u);
  EXPECT_EQ(Str(s0["processID"]), "p1");
  EXPECT_TRUE(s0["warnings"].IsNull());
  const Value& refs0 = s0["references"];
  ASSERT_EQ(refs0.Size(), 3u);
  ExpectRef(refs0[0], "CHILD_OF", kTraceA, "9091929394959697");
  ExpectRef(refs0[1], "FOLLOWS_FROM", "0708090a0b0c0d0e0f10111213141516", "7071727374757677");
  ExpectRef(refs0[2], "CHILD_OF", "08090a0b0c0d0e0f1011121314151617", "8081828384858687");

  const Value& tags = s0["tags"];
  // Scope tags come first, then the attributes.
  EXPECT_EQ(Str(tags[0]["key"]), "otel.scope.name");
  EXPECT_EQ(Str(tags[0]["value"]), "lib-a");
  EXPECT_EQ(Str(tags[1]["key"]), "otel.scope.version");
  EXPECT_EQ(Str(tags[2]["key"]), "str");
  ExpectTag(tags, "str", "string", "hello");
  ExpectTag(tags, "empty_str", "string", "");
  EXPECT_EQ(Str(Tag(tags, "bool_false")["type"]), "bool");
  EXPECT_FALSE(Tag(tags, "bool_false")["value"].GetBool());
  EXPECT_TRUE(Tag(tags, "bool_true")["value"].GetBool());
  EXPECT_EQ(Str(Tag(tags, "int_neg")["type"]), "int64");
  EXPECT_EQ(Tag(tags, "int_neg")["value"].GetInt64(), -5);
  EXPECT_EQ(Tag(tags, "int_max")["value"].GetInt64(), INT64_MAX);
  EXPECT_EQ(Str(Tag(tags, "double")["type"]), "float64");
  EXPECT_EQ(Tag(tags, "double")["value"].GetDouble(), 1.5);
  ExpectTag(tags, "nan", "string", "NaN");
  ExpectTag(tags, "inf", "string", "Infinity");
  ExpectTag(tags, "neg_inf", "string", "-Infinity");
  ExpectTag(tags, "bytes", "binary", "AP8Q");
  ExpectTag(tags, "empty", "string", "");
  ExpectTag(tags, "array", "string", R"([1,"x",[true,-0.25],{"k":2.5},null])");
  ExpectTag(tags, "kvlist", "string", R"({"inner":"v","nested":{"deep":-7}})");
  ExpectTag(tags, "empty_array", "string", "[]");
  ExpectTag(tags, "empty_kvlist", "string", "{}");
  ExpectTag(tags, "span.kind", "string", "server");
  ExpectTag(tags, "otel.status_code", "string", "ERROR");
  EXPECT_EQ(Str(Tag(tags, "error")["type"]), "bool");
  EXPECT_TRUE(Tag(tags, "error")["value"].GetBool());
  ExpectTag(tags, "otel.status_description", "string", "it failed");
  ExpectTag(tags, "w3c.tracestate", "string", "vendor=value");
  EXPECT_EQ(Tag(tags, "otel.dropped_attributes_count")["value"].GetInt64(), 2);
  EXPECT_EQ(Tag(tags, "otel.dropped_events_count")["value"].GetInt64(), 4);
  EXPECT_EQ(Tag(tags, "otel.dropped_links_count")["value"].GetInt64(), 5);
  EXPECT_EQ(tags.Size(), 2u + 20u + 8u);

  const Value& logs = s0["logs"];
  ASSERT_EQ(logs.Size(), 3u);
  EXPECT_EQ(logs[0]["timestamp"].GetUint64(), 1700000000150000ull);
  const Value& f0 = logs[0]["fields"];
  ASSERT_EQ(f0.Size(), 4u);
  ExpectTag(f0, "event", "string", "exception");
  EXPECT_EQ(Str(f0[0]["key"]), "event");  // the name comes first
  ExpectTag(f0, "exception.message", "string", "boom");
  EXPECT_EQ(Tag(f0, "retry")["value"].GetInt64(), 3);
  EXPECT_EQ(Tag(f0, "otel.dropped_attributes_count")["value"].GetInt64(), 6);
  EXPECT_EQ(logs[1]["timestamp"].GetUint64(), 0u);
  ASSERT_EQ(logs[1]["fields"].Size(), 1u);
  ExpectTag(logs[1]["fields"], "event", "string", "marker");
  // The event's own "event" attribute wins over its name.
  ASSERT_EQ(logs[2]["fields"].Size(), 1u);
  ExpectTag(logs[2]["fields"], "event", "string", "from-attr");

  // A1: minimal root in the second process.
  const Value& s1 = spans[1];
  EXPECT_EQ(Str(s1["processID"]), "p2");
  EXPECT_EQ(s1["flags"].GetUint(), 0u);
  EXPECT_EQ(s1["references"].Size(), 0u);
  EXPECT_EQ(s1["duration"].GetUint64(), 0u);  // end before start
  EXPECT_EQ(s1["startTime"].GetUint64(), 1u);
  EXPECT_EQ(s1["logs"].Size(), 0u);
  ASSERT_EQ(s1["tags"].Size(), 2u);
  ExpectTag(s1["tags"], "otel.scope.name", "string", "lib-b");
  ExpectTag(s1["tags"], "otel.status_code", "string", "OK");
  EXPECT_FALSE(HasTag(s1["tags"], "error"));
  EXPECT_FALSE(HasTag(s1["tags"], "span.kind"));

  // B0: another batch, another process even with the same resource content.
  const Value& s2 = spans[2];
  EXPECT_EQ(Str(s2["processID"]), "p3");
  ExpectTag(s2["tags"], "span.kind", "string", "producer");
  ASSERT_EQ(s2["references"].Size(), 1u);
  ExpectRef(s2["references"][0], "CHILD_OF", kTraceA, "2021222324252627");

  // A2: its link to the parent turns the parent reference into FOLLOWS_FROM.
  const Value& s3 = spans[3];
  EXPECT_EQ(Str(s3["processID"]), "p1");
  ASSERT_EQ(s3["references"].Size(), 1u);
  ExpectRef(s3["references"][0], "FOLLOWS_FROM", kTraceA, "1011121314151617");
  EXPECT_EQ(s3["startTime"].GetUint64(), 1700000000130000ull);
  EXPECT_EQ(s3["duration"].GetUint64(), 10000u);  // 10000999 ns, truncated
  ExpectTag(s3["tags"], "span.kind", "string", "client");
  ExpectTag(s3["tags"], "db.system", "string", "postgresql");

  // A3: empty scope (no scope tags), status message without code.
  const Value& s4 = spans[4];
  EXPECT_EQ(Str(s4["processID"]), "p1");
  ASSERT_EQ(s4["tags"].Size(), 2u);
  ExpectTag(s4["tags"], "span.kind", "string", "internal");
  ExpectTag(s4["tags"], "otel.status_description", "string", "note");

  const Value& processes = trace["processes"];
  ASSERT_EQ(processes.MemberCount(), 3u);
  EXPECT_EQ(Str(processes["p1"]["serviceName"]), "svc-a");
  const Value& p1_tags = processes["p1"]["tags"];
  ASSERT_EQ(p1_tags.Size(), 2u);  // service.name is not repeated as a tag
  EXPECT_EQ(Str(p1_tags[0]["key"]), "host.id");
  EXPECT_EQ(Str(p1_tags[0]["type"]), "int64");
  EXPECT_EQ(p1_tags[0]["value"].GetInt64(), 42);
  EXPECT_EQ(Tag(p1_tags, "otel.dropped_attributes_count")["value"].GetInt64(), 3);
  EXPECT_EQ(Str(processes["p2"]["serviceName"]), "svc-b");
  EXPECT_EQ(processes["p2"]["tags"].Size(), 0u);
  EXPECT_EQ(Str(processes["p3"]["serviceName"]), "svc-a");
  EXPECT_EQ(processes["p3"]["tags"].Size(), 1u);
}

TEST(JaegerJsonTest, ResourceWithoutServiceName) {
  auto batch = std::make_shared<model::SpanBatch>();
  testing::Builder x(batch.get());
  model::Resource r;
  r.attributes = x.Attrs({{"host.name", x.Str("h1")}});
  batch->resources.push_back(r);
  batch->scopes.emplace_back();
  const uint32_t row = batch->AddSpan();
  batch->trace_id[row] = testing::MakeTraceId(3);
  batch->span_id[row] = testing::MakeSpanId(3);
  const std::vector<model::SpanRef> refs = {{batch, row}};
  std::string json;
  const rapidjson::Document doc = WriteAndParse(refs, &json);
  const Value& p1 = doc["data"][0]["processes"]["p1"];
  EXPECT_EQ(Str(p1["serviceName"]), "unknown_service");
  ExpectTag(p1["tags"], "host.name", "string", "h1");
  EXPECT_EQ(Str(doc["data"][0]["spans"][0]["operationName"]), "");
  EXPECT_EQ(doc["data"][0]["spans"][0]["tags"].Size(), 0u);
}

TEST(JaegerJsonTest, EscapesAndReplacesInvalidUtf8) {
  auto ok = BatchB();
  auto bad = BatchB(/*invalid_utf8=*/true);
  const std::vector<model::SpanRef> refs = {{ok, 0}, {bad, 0}};
  std::string json;
  const rapidjson::Document doc = WriteAndParse(refs, &json);
  EXPECT_NE(json.find(R"("operationName":"say \"hi\"\\\n\t\u0001 caf)"), std::string::npos);
  const Value& spans = doc["data"][0]["spans"];
  EXPECT_EQ(Str(spans[0]["operationName"]), "say \"hi\"\\\n\t\x01 caf\xc3\xa9 \xe2\x82\xac");
  ExpectTag(spans[0]["tags"], "q\"key", "string", "line1\nline2\x1f\x7f");
  EXPECT_EQ(Str(spans[1]["operationName"]),
            std::string("say \"hi\"\\\n\t\x01 ") + kFffd + kFffd + " ok " + kFffd);
  EXPECT_EQ(Str(spans[1]["tags"][1]["key"]), std::string("bad") + kFffd + "(key");
  EXPECT_EQ(Str(doc["data"][0]["processes"]["p2"]["serviceName"]), "svc-a");
}

TEST(JaegerJsonTest, EmptyTrace) {
  std::string json;
  const rapidjson::Document doc = WriteAndParse({}, &json);
  EXPECT_EQ(json, R"({"data":[{"traceID":"","spans":[],"processes":{},"warnings":null}]})");
}

TEST(JaegerJsonTest, TagHelpers) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  WriteJaegerStringTag("k", "v", &w);
  WriteJaegerBoolTag("b", false, &w);
  WriteJaegerInt64Tag("i", -3, &w);
  w.EndArray();
  EXPECT_EQ(std::string(buffer.GetString()), R"([{"key":"k","type":"string","value":"v"},)"
                                             R"({"key":"b","type":"bool","value":false},)"
                                             R"({"key":"i","type":"int64","value":-3}])");
}

}  // namespace
}  // namespace ariadne::encode
