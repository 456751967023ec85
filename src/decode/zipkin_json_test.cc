#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "decode/decode.h"
#include "decode/decode_internal.h"
#include "decode/decode_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ariadne::decode {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::StatusOr<model::SpanBatch> Decode(std::string_view json, DecodeStats* stats,
                                        const Limits& limits = Limits()) {
  return DecodeZipkinJson(std::string(json), limits, stats);
}

// "key=value" for each attribute of `range` (ints as i:N), in order.
std::vector<std::string> Attrs(const model::SpanBatch& b, model::Range range) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < range.count; ++i) {
    const model::KeyValue& kv = b.attributes.at(range.first + i);
    switch (kv.value.type) {
      case model::ValueType::kString:
        out.push_back(internal::Cat(kv.key, "=", kv.value.bytes));
        break;
      case model::ValueType::kInt:
        out.push_back(internal::Cat(kv.key, "=i:", kv.value.int_value));
        break;
      default:
        out.push_back(internal::Cat(kv.key, "=?"));
    }
  }
  return out;
}

constexpr std::string_view kFull = R"json([
  {
    "traceId": "463ac35c9f6413ad48485a3953bb6124",
    "id": "A2FB4A1D1A96D312",
    "parentId": "0020000000000001",
    "name": "get /api",
    "kind": "SERVER",
    "timestamp": 1700000000123456,
    "duration": 2500,
    "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080},
    "remoteEndpoint": {"serviceName": "browser", "ipv6": "::1", "port": 52000},
    "annotations": [
      {"timestamp": 1700000000124000, "value": "wr"},
      {"timestamp": 1700000000125000, "value": "ws"}
    ],
    "tags": {
      "http.method": "GET",
      "http.status_code": "200",
      "otel.scope.name": "io.otel.http",
      "otel.scope.version": "1.0",
      "otel.status_code": "ERROR",
      "otel.status_description": "bad thing",
      "error": "true",
      "count": 5,
      "ratio": 0.5,
      "flag": true,
      "nothing": null
    },
    "debug": true,
    "shared": false
  }
])json";

TEST(ZipkinJsonTest, MapsEveryField) {
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(kFull, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 0);
  ASSERT_EQ(batch->size(), 1u);
  const model::SpanBatch& b = *batch;
  EXPECT_EQ(model::ToHex(b.trace_id[0]), "463ac35c9f6413ad48485a3953bb6124");
  EXPECT_EQ(model::ToHex(b.span_id[0]), "a2fb4a1d1a96d312");
  EXPECT_EQ(model::ToHex(b.parent_span_id[0]), "0020000000000001");
  EXPECT_EQ(b.name[0], "get /api");
  EXPECT_EQ(b.kind[0], model::SpanKind::kServer);
  EXPECT_EQ(b.start_unix_nano[0], 1700000000123456000u);
  EXPECT_EQ(b.end_unix_nano[0], 1700000000123456000u + 2500000u);
  EXPECT_EQ(b.status_code[0], model::StatusCode::kError);
  EXPECT_EQ(b.status_message[0], "bad thing");
  EXPECT_EQ(b.trace_state[0], "");
  EXPECT_EQ(b.flags[0], 0u);
  EXPECT_THAT(Attrs(b, b.span_attributes[0]),
              ::testing::ElementsAre("http.method=GET", "http.status_code=200", "count=5",
                                     "ratio=0.5", "flag=true", "peer.service=browser",
                                     "net.peer.ip=::1", "net.peer.port=i:52000"));
  ASSERT_EQ(b.span_events[0].count, 2u);
  EXPECT_EQ(b.events[b.span_events[0].first].name, "wr");
  EXPECT_EQ(b.events[b.span_events[0].first].time_unix_nano, 1700000000124000000u);
  EXPECT_EQ(b.events[b.span_events[0].first + 1].name, "ws");
  EXPECT_EQ(b.span_links[0].count, 0u);

  ASSERT_EQ(b.scopes.size(), 1u);
  EXPECT_EQ(b.scopes[0].name, "io.otel.http");
  EXPECT_EQ(b.scopes[0].version, "1.0");
  ASSERT_EQ(b.resources.size(), 1u);
  EXPECT_EQ(b.service(0), "frontend");
  EXPECT_THAT(Attrs(b, b.resources[0].attributes),
              ::testing::ElementsAre("service.name=frontend", "net.host.ip=10.0.0.1",
                                     "net.host.port=i:8080"));
}

TEST(ZipkinJsonTest, KindsAndDefaults) {
  constexpr std::string_view kJson = R"([
    {"traceId":"0000000000000001","id":"0000000000000001","kind":"CLIENT"},
    {"traceId":"0000000000000001","id":"0000000000000002","kind":"PRODUCER"},
    {"traceId":"0000000000000001","id":"0000000000000003","kind":"CONSUMER"},
    {"traceId":"0000000000000001","id":"0000000000000004","kind":"server"},
    {"traceId":"0000000000000001","id":"0000000000000005","parentId":null},
    {"traceId":"0000000000000001","id":"0000000000000006","parentId":""}
  ])";
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(kJson, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 6u) << stats.error_message;
  EXPECT_EQ(batch->kind[0], model::SpanKind::kClient);
  EXPECT_EQ(batch->kind[1], model::SpanKind::kProducer);
  EXPECT_EQ(batch->kind[2], model::SpanKind::kConsumer);
  EXPECT_EQ(batch->kind[3], model::SpanKind::kServer);
  EXPECT_EQ(batch->kind[4], model::SpanKind::kInternal);
  // A 64-bit trace id is left-padded with zeros.
  EXPECT_EQ(model::ToHex(batch->trace_id[0]), "00000000000000000000000000000001");
  EXPECT_TRUE(model::IsZero(batch->parent_span_id[4]));
  EXPECT_TRUE(model::IsZero(batch->parent_span_id[5]));
  EXPECT_EQ(batch->start_unix_nano[4], 0u);
  EXPECT_EQ(batch->status_code[4], model::StatusCode::kUnset);
  // No localEndpoint: one resource with no service.
  ASSERT_EQ(batch->resources.size(), 1u);
  EXPECT_EQ(batch->resources[0].attributes.count, 0u);
  EXPECT_EQ(batch->service(0), "");
}

TEST(ZipkinJsonTest, GroupsSpansIntoResourcesAndScopes) {
  constexpr std::string_view kJson = R"([
    {"traceId":"0000000000000001","id":"0000000000000001",
     "localEndpoint":{"serviceName":"frontend"}},
    {"traceId":"0000000000000001","id":"0000000000000002",
     "localEndpoint":{"serviceName":"backend","ipv4":"10.0.0.2"}},
    {"traceId":"0000000000000001","id":"0000000000000003",
     "localEndpoint":{"serviceName":"frontend"},
     "tags":{"otel.library.name":"lib","otel.library.version":"2"}},
    {"traceId":"0000000000000001","id":"0000000000000004",
     "localEndpoint":{"serviceName":"frontend"}},
    {"traceId":"0000000000000001","id":"0000000000000005",
     "localEndpoint":{}},
    {"traceId":"0000000000000001","id":"0000000000000006",
     "localEndpoint":{"serviceName":"backend","ipv4":"10.0.0.2"},
     "tags":{"otel.scope.name":"s","otel.library.name":"ignored"}}
  ])";
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(kJson, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 6u);
  ASSERT_EQ(batch->resources.size(), 3u);
  EXPECT_EQ(batch->resources[0].service_name, "frontend");
  EXPECT_EQ(batch->resources[1].service_name, "backend");
  EXPECT_EQ(batch->resources[2].service_name, "");
  ASSERT_EQ(batch->scopes.size(), 5u);
  EXPECT_EQ(batch->scope[0], batch->scope[3]);
  EXPECT_EQ(batch->scopes[batch->scope[2]].name, "lib");
  EXPECT_EQ(batch->scopes[batch->scope[2]].version, "2");
  EXPECT_EQ(batch->scopes[batch->scope[2]].resource, 0u);
  EXPECT_EQ(batch->scopes[batch->scope[5]].name, "s");
  EXPECT_EQ(batch->scopes[batch->scope[5]].resource, 1u);
  EXPECT_EQ(batch->service(1), "backend");
  EXPECT_EQ(batch->service(4), "");
  EXPECT_EQ(batch->span_attributes[2].count, 0u);
}

TEST(ZipkinJsonTest, StatusFromTags) {
  constexpr std::string_view kJson = R"([
    {"traceId":"0000000000000001","id":"0000000000000001",
     "tags":{"error":"timeout"}},
    {"traceId":"0000000000000001","id":"0000000000000002",
     "tags":{"error":"", "otel.status_description":"described"}},
    {"traceId":"0000000000000001","id":"0000000000000003",
     "tags":{"otel.status_code":"OK"}},
    {"traceId":"0000000000000001","id":"0000000000000004",
     "tags":{"otel.status_code":"weird"}},
    {"traceId":"0000000000000001","id":"0000000000000005",
     "tags":{"otel.status_code":"OK","error":"ignored"}}
  ])";
  absl::StatusOr<model::SpanBatch> batch = Decode(kJson, nullptr);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 5u);
  EXPECT_EQ(batch->status_code[0], model::StatusCode::kError);
  EXPECT_EQ(batch->status_message[0], "timeout");
  EXPECT_EQ(batch->status_code[1], model::StatusCode::kError);
  EXPECT_EQ(batch->status_message[1], "described");
  EXPECT_EQ(batch->status_code[2], model::StatusCode::kOk);
  EXPECT_EQ(batch->status_code[3], model::StatusCode::kUnset);
  EXPECT_THAT(Attrs(*batch, batch->span_attributes[3]),
              ::testing::ElementsAre("otel.status_code=weird"));
  EXPECT_EQ(batch->status_code[4], model::StatusCode::kOk);
  EXPECT_EQ(batch->status_message[4], "");
  for (uint32_t row : {0u, 1u, 2u, 4u}) {
    EXPECT_EQ(batch->span_attributes[row].count, 0u) << row;
  }
}

TEST(ZipkinJsonTest, EmptyArray) {
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode("[]", &stats);
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->empty());
}

TEST(ZipkinJsonTest, MalformedRequests) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{}",
       "malformed Zipkin JSON: request: expected an array of spans, got "
       "object"},
      {"[1]", "malformed Zipkin JSON: spans[0]: expected an object, got number"},
      {R"([{"traceId":1}])",
       "malformed Zipkin JSON: spans[0]: traceId: expected a string, got "
       "number"},
      {R"([{"traceId":"0000000000000001","id":"0000000000000001","tags":[]}])",
       "malformed Zipkin JSON: spans[0]: tags: expected an object, got array"},
      {R"([{"traceId":"0000000000000001","id":"0000000000000001","tags":{"a":{}}}])",
       "malformed Zipkin JSON: spans[0]: tags.a: expected a string, got "
       "object"},
      {R"([{"traceId":"0000000000000001","id":"0000000000000001","annotations":[1]}])",
       "malformed Zipkin JSON: spans[0].annotations[0]: expected an object, "
       "got number"},
      {R"([{"traceId":"0000000000000001","id":"0000000000000001","localEndpoint":"x"}])",
       "malformed Zipkin JSON: spans[0]: localEndpoint: expected an object, "
       "got string"},
      {R"([{"traceId":"0000000000000001","id":"0000000000000001","timestamp":true}])",
       "malformed Zipkin JSON: spans[0]: timestamp: expected a number, got "
       "boolean"},
  };
  for (const Case& c : cases) {
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(c.json, &stats);
    ASSERT_FALSE(batch.ok()) << c.json;
    EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(batch.status().message()), c.message);
  }
  absl::StatusOr<model::SpanBatch> batch = Decode("[{", nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_THAT(std::string(batch.status().message()), StartsWith("invalid JSON: "));
  batch = Decode("[{\"name\":\"\xc3\"}]", nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_THAT(std::string(batch.status().message()), StartsWith("invalid JSON: "));
}

TEST(ZipkinJsonTest, RejectsBadSpans) {
  struct Case {
    std::string fields;
    std::string message_end;
  };
  const std::vector<Case> cases = {
      {R"("traceId":"0123456789abcdef0123","id":"0000000000000001")",
       "spans[0]: traceId has 20 hex digits, must be 16 or 32"},
      {R"("traceId":"00000000000000000000000000000000","id":"0000000000000001")",
       "spans[0]: traceId is all zero"},
      {R"("traceId":"0000000000000001","id":"00001")",
       "(trace 00000000000000000000000000000001): id has 5 hex digits, must "
       "be 16"},
      {R"("traceId":"0000000000000001","id":"000000000000000g")",
       "id is not hex: \"000000000000000g\""},
      {R"("traceId":"0000000000000001")", "id is missing"},
      {R"("id":"0000000000000001")", "spans[0]: traceId is missing"},
      {R"("traceId":"0000000000000001","id":"0000000000000001","parentId":"1")",
       "parentId has 1 hex digits, must be 16"},
      {R"("traceId":"0000000000000001","id":"0000000000000001","kind":"BOGUS")",
       "kind \"BOGUS\" is not CLIENT, SERVER, PRODUCER or CONSUMER"},
      {R"("traceId":"0000000000000001","id":"0000000000000001","timestamp":18446744073709552)",
       "timestamp + duration overflows 64-bit nanoseconds"},
      {R"("traceId":"0000000000000001","id":"0000000000000001","timestamp":-5)",
       "timestamp is not an unsigned 64-bit integer"},
      {R"("traceId":"0000000000000001","id":"0000000000000001","remoteEndpoint":{"port":70000})",
       "remoteEndpoint.port 70000 is over 65535"},
  };
  for (const Case& c : cases) {
    DecodeStats stats;
    const std::string json =
        internal::Cat("[{", c.fields,
                      R"(},{"traceId":"0000000000000009","id":"0000000000000009","name":"good"}])");
    absl::StatusOr<model::SpanBatch> batch = Decode(json, &stats);
    ASSERT_TRUE(batch.ok()) << c.fields << ": " << batch.status();
    EXPECT_EQ(stats.accepted_spans, 1) << c.fields;
    EXPECT_EQ(stats.rejected_spans, 1) << c.fields;
    EXPECT_TRUE(absl::EndsWith(stats.error_message, c.message_end)) << stats.error_message;
    ASSERT_EQ(batch->size(), 1u);
    EXPECT_EQ(batch->name[0], "good");
  }
}

TEST(ZipkinJsonTest, AppliesLimits) {
  std::string tags;
  for (int i = 0; i < 10000; ++i) {
    internal::Append(&tags, i ? "," : "", "\"k", i, "\":\"v\"");
  }
  const std::string json = internal::Cat(
      R"([{"traceId":"0000000000000001","id":"0000000000000001","tags":{)", tags,
      R"(}},{"traceId":"0000000000000001","id":"0000000000000002","tags":{"a":"b"}}])");
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(json, &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 1);
  EXPECT_EQ(stats.error_message,
            "spans[0] (trace 00000000000000000000000000000001): span has 10000 "
            "attributes, over the limit of 1024 "
            "(limits.max_attributes_per_span)");
  // Only the good span's attribute and its resource are in the tables.
  EXPECT_EQ(batch->attributes.size(), 1u);

  Limits limits;
  limits.max_events_per_span = 1;
  limits.max_attribute_value_bytes = 3;
  batch = Decode(
      R"([{"traceId":"0000000000000001","id":"0000000000000001",
           "annotations":[{"value":"a"},{"value":"b"}]},
          {"traceId":"0000000000000001","id":"0000000000000002",
           "tags":{"long":"abcd"}}])",
      &stats, limits);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.rejected_spans, 2);
  EXPECT_THAT(stats.error_message, HasSubstr("span has 2 events, over the limit of 1 "
                                             "(limits.max_events_per_span)"));
}

}  // namespace
}  // namespace ariadne::decode
