#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "decode/decode.h"
#include "decode/decode_internal.h"
#include "decode/decode_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::decode {
namespace {

using testing::DumpBatch;
using testing::DumpRequest;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace pb_collector = opentelemetry::proto::collector::trace::v1;
namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_trace = opentelemetry::proto::trace::v1;
using KeyValues = google::protobuf::RepeatedPtrField<pb_common::KeyValue>;

std::string Id(size_t size, uint8_t seed) {
  std::string id(size, '\0');
  for (size_t i = 0; i < size; ++i) id[i] = static_cast<char>(seed + i);
  return id;
}

pb_common::AnyValue* Add(KeyValues* kvs, const std::string& key) {
  pb_common::KeyValue* kv = kvs->Add();
  kv->set_key(key);
  return kv->mutable_value();
}

// OTLP/JSON with every field and value type; FullProto() is the same request.
constexpr std::string_view kFullJson = R"json({
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          {"key": "service.name", "value": {"stringValue": "checkout"}},
          {"key": "host.name", "value": {"stringValue": "h1"}}
        ],
        "droppedAttributesCount": 3
      },
      "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
      "scopeSpans": [
        {
          "scope": {
            "name": "io.opentelemetry.http",
            "version": "1.2.3",
            "attributes": [{"key": "scope.attr", "value": {"boolValue": true}}],
            "droppedAttributesCount": 1
          },
          "schemaUrl": "https://example.com/scope-schema",
          "spans": [
            {
              "traceId": "0102030405060708090A0B0C0D0E0F10",
              "spanId": "0102030405060708",
              "traceState": "vendor=abc",
              "parentSpanId": "4041424344454647",
              "flags": 769,
              "name": "GET /cart",
              "kind": "SPAN_KIND_SERVER",
              "startTimeUnixNano": "1700000000123456789",
              "endTimeUnixNano": 1700000000223456789,
              "attributes": [
                {"key": "string", "value": {"stringValue": "h\u00e9llo \u2713 \"q\""}},
                {"key": "bool", "value": {"boolValue": false}},
                {"key": "int_str", "value": {"intValue": "-42"}},
                {"key": "int_num", "value": {"intValue": 9223372036854775807}},
                {"key": "int_min", "value": {"intValue": "-9223372036854775808"}},
                {"key": "double", "value": {"doubleValue": 3.25}},
                {"key": "double_int", "value": {"doubleValue": 2}},
                {"key": "double_str", "value": {"doubleValue": "0.5"}},
                {"key": "inf", "value": {"doubleValue": "Infinity"}},
                {"key": "ninf", "value": {"doubleValue": "-Infinity"}},
                {"key": "bytes", "value": {"bytesValue": "AAH/"}},
                {"key": "empty", "value": {}},
                {"key": "no_value"},
                {"key": "null_value", "value": null},
                {"key": "array", "value": {"arrayValue": {"values": [
                  {"stringValue": "a"},
                  {"intValue": 7},
                  {"arrayValue": {"values": [{"boolValue": true}, {"doubleValue": 0.5}]}},
                  {"kvlistValue": {"values": [{"key": "x", "value": {"intValue": "1"}}]}},
                  {}
                ]}}},
                {"key": "kvlist", "value": {"kvlistValue": {"values": [
                  {"key": "k1", "value": {"stringValue": "v1"}},
                  {"key": "k2", "value": {"kvlistValue": {"values": [
                    {"key": "k3", "value": {"bytesValue": "ECA="}}
                  ]}}}
                ]}}},
                {"key": "empty_array", "value": {"arrayValue": {}}},
                {"key": "empty_kvlist", "value": {"kvlistValue": {"values": []}}},
                {"key": "after_nested", "value": {"stringValue": "still contiguous"}}
              ],
              "droppedAttributesCount": 2,
              "events": [
                {
                  "timeUnixNano": "1700000000150000000",
                  "name": "exception",
                  "attributes": [
                    {"key": "exception.type", "value": {"stringValue": "IOError"}},
                    {"key": "nested", "value": {"arrayValue": {"values": [{"intValue": "5"}]}}}
                  ],
                  "droppedAttributesCount": 5
                },
                {}
              ],
              "droppedEventsCount": 4,
              "links": [
                {
                  "traceId": "808182838485868788898a8b8c8d8e8f",
                  "spanId": "9091929394959697",
                  "traceState": "l=0",
                  "attributes": [{"key": "lk", "value": {"intValue": 1}}],
                  "droppedAttributesCount": 7,
                  "flags": 256
                }
              ],
              "droppedLinksCount": 5,
              "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
              "someFutureField": {"nested": [1, 2, 3]}
            },
            {
              "traceId": "02030405060708090a0b0c0d0e0f1011",
              "spanId": "0203040506070809",
              "parentSpanId": "",
              "name": "span-2",
              "kind": 1,
              "status": {"code": 1}
            }
          ]
        },
        {
          "scope": {"name": "lib-b"},
          "spans": [
            {
              "traceId": "030405060708090a0b0c0d0e0f101112",
              "spanId": "030405060708090a",
              "name": "span-3",
              "kind": "3",
              "status": {}
            }
          ]
        }
      ]
    },
    {
      "resource": {
        "attributes": [{"key": "host.name", "value": {"stringValue": "h2"}}]
      },
      "scopeSpans": [
        {
          "spans": [
            {
              "traceId": "0405060708090a0b0c0d0e0f10111213",
              "spanId": "0405060708090a0b",
              "name": "span-4",
              "kind": "SPAN_KIND_PRODUCER",
              "startTimeUnixNano": 5,
              "endTimeUnixNano": "6"
            }
          ]
        }
      ]
    }
  ]
})json";

pb_trace::Span* AddSpan(pb_trace::ScopeSpans* ss, uint8_t seed) {
  pb_trace::Span* span = ss->add_spans();
  span->set_trace_id(Id(16, seed));
  span->set_span_id(Id(8, seed));
  span->set_name("span-" + std::to_string(seed));
  return span;
}

pb_collector::ExportTraceServiceRequest FullProto() {
  pb_collector::ExportTraceServiceRequest request;
  pb_trace::ResourceSpans* rs0 = request.add_resource_spans();
  rs0->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  KeyValues* res_attrs = rs0->mutable_resource()->mutable_attributes();
  Add(res_attrs, "service.name")->set_string_value("checkout");
  Add(res_attrs, "host.name")->set_string_value("h1");
  rs0->mutable_resource()->set_dropped_attributes_count(3);

  pb_trace::ScopeSpans* ss0 = rs0->add_scope_spans();
  ss0->set_schema_url("https://example.com/scope-schema");
  ss0->mutable_scope()->set_name("io.opentelemetry.http");
  ss0->mutable_scope()->set_version("1.2.3");
  Add(ss0->mutable_scope()->mutable_attributes(), "scope.attr")->set_bool_value(true);
  ss0->mutable_scope()->set_dropped_attributes_count(1);

  pb_trace::Span* s = AddSpan(ss0, 1);
  s->set_trace_state("vendor=abc");
  s->set_parent_span_id(Id(8, 0x40));
  s->set_flags(769);
  s->set_name("GET /cart");
  s->set_kind(pb_trace::Span::SPAN_KIND_SERVER);
  s->set_start_time_unix_nano(1700000000123456789ULL);
  s->set_end_time_unix_nano(1700000000223456789ULL);
  KeyValues* a = s->mutable_attributes();
  Add(a, "string")->set_string_value("h\xc3\xa9llo \xe2\x9c\x93 \"q\"");
  Add(a, "bool")->set_bool_value(false);
  Add(a, "int_str")->set_int_value(-42);
  Add(a, "int_num")->set_int_value(std::numeric_limits<int64_t>::max());
  Add(a, "int_min")->set_int_value(std::numeric_limits<int64_t>::min());
  Add(a, "double")->set_double_value(3.25);
  Add(a, "double_int")->set_double_value(2);
  Add(a, "double_str")->set_double_value(0.5);
  Add(a, "inf")->set_double_value(std::numeric_limits<double>::infinity());
  Add(a, "ninf")->set_double_value(-std::numeric_limits<double>::infinity());
  Add(a, "bytes")->set_bytes_value(std::string("\x00\x01\xff", 3));
  Add(a, "empty");
  a->Add()->set_key("no_value");
  a->Add()->set_key("null_value");
  pb_common::ArrayValue* array = Add(a, "array")->mutable_array_value();
  array->add_values()->set_string_value("a");
  array->add_values()->set_int_value(7);
  pb_common::ArrayValue* inner = array->add_values()->mutable_array_value();
  inner->add_values()->set_bool_value(true);
  inner->add_values()->set_double_value(0.5);
  Add(array->add_values()->mutable_kvlist_value()->mutable_values(), "x")->set_int_value(1);
  array->add_values();
  pb_common::KeyValueList* kvlist = Add(a, "kvlist")->mutable_kvlist_value();
  Add(kvlist->mutable_values(), "k1")->set_string_value("v1");
  Add(Add(kvlist->mutable_values(), "k2")->mutable_kvlist_value()->mutable_values(), "k3")
      ->set_bytes_value("\x10\x20");
  Add(a, "empty_array")->mutable_array_value();
  Add(a, "empty_kvlist")->mutable_kvlist_value();
  Add(a, "after_nested")->set_string_value("still contiguous");
  s->set_dropped_attributes_count(2);
  pb_trace::Span::Event* e = s->add_events();
  e->set_time_unix_nano(1700000000150000000ULL);
  e->set_name("exception");
  Add(e->mutable_attributes(), "exception.type")->set_string_value("IOError");
  Add(e->mutable_attributes(), "nested")->mutable_array_value()->add_values()->set_int_value(5);
  e->set_dropped_attributes_count(5);
  s->add_events();
  s->set_dropped_events_count(4);
  pb_trace::Span::Link* l = s->add_links();
  l->set_trace_id(Id(16, 0x80));
  l->set_span_id(Id(8, 0x90));
  l->set_trace_state("l=0");
  Add(l->mutable_attributes(), "lk")->set_int_value(1);
  l->set_dropped_attributes_count(7);
  l->set_flags(256);
  s->set_dropped_links_count(5);
  s->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_ERROR);
  s->mutable_status()->set_message("boom");

  pb_trace::Span* s2 = AddSpan(ss0, 2);
  s2->set_kind(pb_trace::Span::SPAN_KIND_INTERNAL);
  s2->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_OK);

  pb_trace::ScopeSpans* ss1 = rs0->add_scope_spans();
  ss1->mutable_scope()->set_name("lib-b");
  AddSpan(ss1, 3)->set_kind(pb_trace::Span::SPAN_KIND_CLIENT);

  pb_trace::ResourceSpans* rs1 = request.add_resource_spans();
  Add(rs1->mutable_resource()->mutable_attributes(), "host.name")->set_string_value("h2");
  pb_trace::Span* s4 = AddSpan(rs1->add_scope_spans(), 4);
  s4->set_kind(pb_trace::Span::SPAN_KIND_PRODUCER);
  s4->set_start_time_unix_nano(5);
  s4->set_end_time_unix_nano(6);
  return request;
}

// Rewrites every object key of `json` from lowerCamelCase to snake_case.
std::string SnakeCaseKeys(std::string_view json) {
  std::string out;
  size_t i = 0;
  while (i < json.size()) {
    if (json[i] != '"') {
      out.push_back(json[i++]);
      continue;
    }
    size_t end = i + 1;
    while (json[end] != '"') end += json[end] == '\\' ? 2 : 1;
    std::string_view token = json.substr(i, end + 1 - i);
    size_t next = end + 1;
    while (next < json.size() && json[next] == ' ') ++next;
    if (next < json.size() && json[next] == ':') {
      for (char c : token) {
        if (c >= 'A' && c <= 'Z') {
          out.push_back('_');
          out.push_back(static_cast<char>(c - 'A' + 'a'));
        } else {
          out.push_back(c);
        }
      }
    } else {
      out.append(token);
    }
    i = end + 1;
  }
  return out;
}

absl::StatusOr<model::SpanBatch> Decode(std::string_view json, DecodeStats* stats,
                                        const Limits& limits = Limits()) {
  return DecodeOtlpJson(std::string(json), limits, stats);
}

// A request with one span whose fields are `span_fields` (JSON members).
std::string OneSpan(std::string_view span_fields) {
  return internal::Cat(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)", span_fields, "}]}]}]}");
}
constexpr std::string_view kIds =
    R"("traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708")";

TEST(OtlpJsonTest, DecodesEveryField) {
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(kFullJson, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(DumpBatch(*batch), DumpRequest(FullProto()));
  EXPECT_EQ(stats.accepted_spans, 4);
  EXPECT_EQ(stats.rejected_spans, 0);
  EXPECT_EQ(stats.error_message, "");
  EXPECT_EQ(batch->resources.size(), 2u);
  EXPECT_EQ(batch->scopes.size(), 3u);
  EXPECT_EQ(batch->service(0), "checkout");
  EXPECT_EQ(batch->service(3), "");
}

TEST(OtlpJsonTest, AcceptsSnakeCaseKeys) {
  const std::string snake = SnakeCaseKeys(kFullJson);
  ASSERT_THAT(snake, HasSubstr(R"("resource_spans")"));
  ASSERT_THAT(snake, HasSubstr(R"("start_time_unix_nano")"));
  ASSERT_THAT(snake, HasSubstr(R"("string_value")"));
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(snake, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(DumpBatch(*batch), DumpRequest(FullProto()));
}

TEST(OtlpJsonTest, AgreesWithProtobufDecoder) {
  DecodeStats json_stats, proto_stats;
  absl::StatusOr<model::SpanBatch> from_json = Decode(kFullJson, &json_stats);
  absl::StatusOr<model::SpanBatch> from_proto =
      DecodeOtlpProto(FullProto().SerializeAsString(), Limits(), &proto_stats);
  ASSERT_TRUE(from_json.ok());
  ASSERT_TRUE(from_proto.ok());
  EXPECT_EQ(DumpBatch(*from_json), DumpBatch(*from_proto));
}

TEST(OtlpJsonTest, NaNDoubles) {
  absl::StatusOr<model::SpanBatch> batch = Decode(
      OneSpan(internal::Cat(kIds, R"(,"attributes":[{"key":"n","value":{"doubleValue":"NaN"}}])")),
      nullptr);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->attributes.size(), 1u);
  EXPECT_EQ(batch->attributes[0].value.type, model::ValueType::kDouble);
  EXPECT_TRUE(std::isnan(batch->attributes[0].value.double_value));
}

TEST(OtlpJsonTest, EnumsAsNamesOrNumbers) {
  struct Case {
    std::string kind;
    model::SpanKind want;
  };
  for (const Case& c : std::vector<Case>{
           {R"("SPAN_KIND_UNSPECIFIED")", model::SpanKind::kUnspecified},
           {R"("SPAN_KIND_INTERNAL")", model::SpanKind::kInternal},
           {R"("SPAN_KIND_SERVER")", model::SpanKind::kServer},
           {R"("SPAN_KIND_CLIENT")", model::SpanKind::kClient},
           {R"("SPAN_KIND_PRODUCER")", model::SpanKind::kProducer},
           {R"("SPAN_KIND_CONSUMER")", model::SpanKind::kConsumer},
           {"5", model::SpanKind::kConsumer},
           {R"("2")", model::SpanKind::kServer},
           {"42", model::SpanKind::kUnspecified},
       }) {
    absl::StatusOr<model::SpanBatch> batch =
        Decode(OneSpan(internal::Cat(kIds, R"(,"kind":)", c.kind,
                                     R"(,"status":{"code":"STATUS_CODE_OK"})")),
               nullptr);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->size(), 1u) << c.kind;
    EXPECT_EQ(batch->kind[0], c.want) << c.kind;
    EXPECT_EQ(batch->status_code[0], model::StatusCode::kOk);
  }
}

TEST(OtlpJsonTest, AcceptsInstrumentationLibrarySpans) {
  constexpr std::string_view kOld = R"({"resourceSpans":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"old"}}]},
    "instrumentationLibrarySpans":[{
      "instrumentationLibrary":{"name":"lib","version":"0.1"},
      "spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}]
    }]}]})";
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(kOld, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(batch->service(0), "old");
  EXPECT_EQ(batch->scopes[0].name, "lib");
  EXPECT_EQ(batch->scopes[0].version, "0.1");
}

TEST(OtlpJsonTest, EmptyObjectIsAnEmptyRequest) {
  for (std::string_view json :
       {"{}", R"({"resourceSpans":[]})", R"({"resourceSpans":null})", R"({"somethingElse":[1]})"}) {
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(json, &stats);
    ASSERT_TRUE(batch.ok()) << json << ": " << batch.status();
    EXPECT_TRUE(batch->empty());
  }
}

TEST(OtlpJsonTest, RejectsInvalidJson) {
  for (std::string_view json : {"", "not json", "{", R"({"resourceSpans":[}])", "\x0a\x00\x01"}) {
    absl::StatusOr<model::SpanBatch> batch = Decode(json, nullptr);
    ASSERT_FALSE(batch.ok()) << json;
    EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(batch.status().message()), StartsWith("invalid JSON: "));
  }
}

TEST(OtlpJsonTest, RejectsInvalidUtf8Document) {
  absl::StatusOr<model::SpanBatch> batch =
      Decode(OneSpan(internal::Cat(kIds, ",\"name\":\"a\xff\"")), nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(batch.status().message()), HasSubstr("UTF-8"));
}

TEST(OtlpJsonTest, WrongShapeNamesThePath) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[]", "malformed OTLP/JSON: request: expected an object, got array"},
      {R"({"resourceSpans":{}})",
       "malformed OTLP/JSON: resourceSpans: expected an array, got object"},
      {R"({"resourceSpans":[1]})",
       "malformed OTLP/JSON: resourceSpans[0]: expected an object, got "
       "number"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{}, "x"]}]}]})",
       "malformed OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[1]: "
       "expected an object, got string"},
      {OneSpan(R"("traceId":12)"),
       "malformed OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[0]: "
       "traceId: expected a string, got number"},
      {OneSpan(internal::Cat(kIds, R"(,"attributes":{})")),
       "malformed OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[0]."
       "attributes: expected an array, got object"},
      {OneSpan(internal::Cat(kIds, R"(,"attributes":[{"key":"a","value":{"intValue":true}}])")),
       "malformed OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[0]."
       "attributes[0].value: intValue: expected a number or string, got "
       "boolean"},
      {OneSpan(internal::Cat(kIds, R"(,"startTimeUnixNano":[1])")),
       "malformed OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[0]: "
       "startTimeUnixNano: expected a number or string, got array"},
      {R"({"resourceSpans":[{"resource":{"attributes":[{"key":1}]}}]})",
       "malformed OTLP/JSON: resourceSpans[0].resource.attributes[0]: key: "
       "expected a string, got number"},
  };
  for (const Case& c : cases) {
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(c.json, &stats);
    ASSERT_FALSE(batch.ok()) << c.json;
    EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(batch.status().message()), c.message);
    EXPECT_EQ(stats.accepted_spans, 0);
  }
}

TEST(OtlpJsonTest, RejectsBadValuesPerSpan) {
  struct Case {
    std::string fields;
    std::string message_end;
  };
  const std::string good_trace = R"("traceId":"0102030405060708090a0b0c0d0e0f10")";
  const std::vector<Case> cases = {
      {R"("traceId":"0102","spanId":"0102030405060708")",
       "spans[0]: traceId has 4 hex digits, must be 32"},
      {R"("traceId":"00000000000000000000000000000000","spanId":"0102030405060708")",
       "spans[0]: traceId is all zero"},
      {R"("traceId":"zz02030405060708090a0b0c0d0e0f10","spanId":"0102030405060708")",
       "spans[0]: traceId is not hex: \"zz02030405060708090a0b0c0d0e0f10\""},
      {R"("traceId":"","spanId":"0102030405060708")",
       "spans[0]: traceId has 0 hex digits, must be 32"},
      {R"("spanId":"0102030405060708")", "spans[0]: traceId is missing"},
      {good_trace + R"(,"spanId":"0102030405")",
       "(trace 0102030405060708090a0b0c0d0e0f10): spanId has 10 hex digits, "
       "must be 16"},
      {good_trace, "(trace 0102030405060708090a0b0c0d0e0f10): spanId is missing"},
      {internal::Cat(kIds, R"(,"parentSpanId":"01")"), "parentSpanId has 2 hex digits, must be 16"},
      {internal::Cat(kIds, R"(,"kind":"SERVER")"), "kind \"SERVER\" is not a known value"},
      {internal::Cat(kIds, R"(,"startTimeUnixNano":"soon")"),
       "startTimeUnixNano is not an unsigned 64-bit integer"},
      {internal::Cat(kIds, R"(,"startTimeUnixNano":-1)"),
       "startTimeUnixNano is not an unsigned 64-bit integer"},
      {internal::Cat(kIds, R"(,"flags":4294967296)"), "flags is over 2^32-1"},
      {internal::Cat(kIds,
                     R"(,"attributes":[{"key":"i","value":{"intValue":"9223372036854775808"}}])"),
       "attribute \"i\" intValue is not a 64-bit integer"},
      {internal::Cat(kIds, R"(,"attributes":[{"key":"d","value":{"doubleValue":"abc"}}])"),
       "attribute \"d\" doubleValue is not a number"},
      {internal::Cat(kIds, R"(,"attributes":[{"key":"b","value":{"bytesValue":"!!"}}])"),
       "attribute \"b\" bytesValue is not base64"},
      {internal::Cat(kIds, R"(,"links":[{"traceId":"0102030405060708090a0b0c0d0e0f10"}])"),
       "links[0] (trace 0102030405060708090a0b0c0d0e0f10): spanId is missing"},
      {internal::Cat(kIds, R"(,"name":"\udc00")"), "name is not valid UTF-8"},
  };
  for (const Case& c : cases) {
    DecodeStats stats;
    const std::string json = internal::Cat(
        R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)", c.fields, "},{",
        R"("traceId":"0a0b0c0d0e0f10111213141516171819","spanId":"0a0b0c0d0e0f1011","name":"good")",
        "}]}]}]}");
    absl::StatusOr<model::SpanBatch> batch = Decode(json, &stats);
    if (!batch.ok() && absl::StrContains(c.fields, "udc00")) {
      // simdjson may refuse a lone surrogate escape outright: also fine.
      EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(batch.ok()) << c.fields << ": " << batch.status();
    EXPECT_EQ(stats.accepted_spans, 1) << c.fields;
    EXPECT_EQ(stats.rejected_spans, 1) << c.fields;
    EXPECT_TRUE(absl::EndsWith(stats.error_message, c.message_end)) << stats.error_message;
    ASSERT_EQ(batch->size(), 1u);
    EXPECT_EQ(batch->name[0], "good");
  }
}

TEST(OtlpJsonTest, UpperCaseHexAndEmptyParent) {
  absl::StatusOr<model::SpanBatch> batch = Decode(
      OneSpan(
          R"("traceId":"ABCDEF0102030405060708090A0B0C0D","spanId":"AbCdEf0102030405","parentSpanId":"")"),
      nullptr);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(model::ToHex(batch->trace_id[0]), "abcdef0102030405060708090a0b0c0d");
  EXPECT_EQ(model::ToHex(batch->span_id[0]), "abcdef0102030405");
  EXPECT_TRUE(model::IsZero(batch->parent_span_id[0]));
}

TEST(OtlpJsonTest, ResourceProblemRejectsAllItsSpans) {
  constexpr std::string_view kJson = R"({"resourceSpans":[
    {"resource":{"attributes":[{"key":"b","value":{"bytesValue":"%%%"}}]},
     "scopeSpans":[{"spans":[
       {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"},
       {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0202030405060708"}]}]},
    {"scopeSpans":[{"spans":[
       {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0302030405060708"}]}]}]})";
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(kJson, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 2);
  EXPECT_EQ(stats.error_message,
            "resourceSpans[0].resource.attributes[0].value: attribute \"b\" "
            "bytesValue is not base64 (rejected the resource's 2 spans)");
  EXPECT_EQ(batch->resources.size(), 1u);
  EXPECT_TRUE(batch->attributes.empty());
}

std::string ManyAttributes(int n) {
  std::string attrs;
  for (int i = 0; i < n; ++i) {
    internal::Append(&attrs, i ? "," : "", R"({"key":"k)", i, R"(","value":{"intValue":)", i, "}}");
  }
  return attrs;
}

TEST(OtlpJsonTest, RejectsTenThousandAttributes) {
  const std::string json = internal::Cat(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)", kIds, R"(,"attributes":[)",
      ManyAttributes(10000), "]},{",
      R"("traceId":"0a0b0c0d0e0f10111213141516171819","spanId":"0a0b0c0d0e0f1011","attributes":[)",
      ManyAttributes(3), "]}]}]}]}");
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(json, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 1);
  EXPECT_EQ(stats.error_message,
            "resourceSpans[0].scopeSpans[0].spans[0] (trace "
            "0102030405060708090a0b0c0d0e0f10): span has 10000 attributes, "
            "over the limit of 1024 (limits.max_attributes_per_span)");
  EXPECT_EQ(batch->attributes.size(), 3u);
}

TEST(OtlpJsonTest, AppliesLimits) {
  Limits limits;
  limits.max_attributes_per_span = 2;
  limits.max_events_per_span = 1;
  limits.max_links_per_span = 1;
  limits.max_attribute_value_bytes = 4;
  limits.max_value_depth = 1;
  const std::string link =
      R"({"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"})";
  struct Case {
    std::string fields;
    std::string message_end;
  };
  const std::vector<Case> cases = {
      {R"("attributes":[{"key":"a"},{"key":"b"},{"key":"c"}])",
       "span has 3 attributes, over the limit of 2 "
       "(limits.max_attributes_per_span)"},
      {R"("events":[{},{}])",
       "span has 2 events, over the limit of 1 (limits.max_events_per_span)"},
      {internal::Cat(R"("links":[)", link, ",", link, "]"),
       "span has 2 links, over the limit of 1 (limits.max_links_per_span)"},
      {R"("attributes":[{"key":"s","value":{"stringValue":"12345"}}])",
       "attribute \"s\" value is 5 bytes, over the limit of 4 "
       "(limits.max_attribute_value_bytes)"},
      {R"("attributes":[{"key":"b","value":{"bytesValue":"AAAAAAA="}}])",
       "attribute \"b\" value is 5 bytes, over the limit of 4 "
       "(limits.max_attribute_value_bytes)"},
      {R"("attributes":[{"key":"d","value":{"arrayValue":{"values":[{"arrayValue":{}}]}}}])",
       "attribute \"d\" value nests deeper than 1 levels "
       "(limits.max_value_depth)"},
      {R"("attributes":[{"key":"d","value":{"arrayValue":{"values":[{"intValue":1}]}}}])", ""},
  };
  for (const Case& c : cases) {
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch =
        Decode(OneSpan(internal::Cat(kIds, ",", c.fields)), &stats, limits);
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (c.message_end.empty()) {
      EXPECT_EQ(stats.accepted_spans, 1) << stats.error_message;
    } else {
      EXPECT_EQ(stats.rejected_spans, 1) << c.fields;
      EXPECT_TRUE(absl::EndsWith(stats.error_message, c.message_end)) << stats.error_message;
    }
  }
}

TEST(OtlpJsonTest, PartialSuccessRollsBackSideTables) {
  // The second span fails in its link, after its attributes and events were
  // added; the third is fine.
  const std::string json = internal::Cat(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[)",
      R"({"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708",)",
      R"("attributes":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":1}]}}}]},)",
      R"({"traceId":"0202030405060708090a0b0c0d0e0f10","spanId":"0202030405060708",)",
      R"("attributes":[{"key":"b","value":{"kvlistValue":{"values":[{"key":"c"}]}}}],)",
      R"("events":[{"name":"e","attributes":[{"key":"x"}]}],)",
      R"("links":[{"traceId":"01","spanId":"0102030405060708"}]},)",
      R"({"traceId":"0302030405060708090a0b0c0d0e0f10","spanId":"0302030405060708",)",
      R"("attributes":[{"key":"z"}]})", "]}]}]}");
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(json, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 2);
  EXPECT_EQ(stats.rejected_spans, 1);
  EXPECT_EQ(stats.error_message,
            "resourceSpans[0].scopeSpans[0].spans[1].links[0] (trace "
            "0202030405060708090a0b0c0d0e0f10): traceId has 2 hex digits, "
            "must be 32");
  ASSERT_EQ(batch->size(), 2u);
  ASSERT_EQ(batch->attributes.size(), 2u);
  EXPECT_EQ(batch->attributes[0].key, "a");
  EXPECT_EQ(batch->attributes[1].key, "z");
  EXPECT_EQ(batch->array_items.size(), 1u);
  EXPECT_TRUE(batch->events.empty());
  EXPECT_TRUE(batch->links.empty());
  EXPECT_EQ(batch->span_attributes[1].first, 1u);
}

}  // namespace
}  // namespace ariadne::decode
