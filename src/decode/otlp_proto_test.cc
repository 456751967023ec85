#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "decode/decode.h"
#include "decode/decode_internal.h"
#include "decode/decode_test_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
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
std::string TraceId(uint8_t seed) { return Id(16, seed); }
std::string SpanId(uint8_t seed) { return Id(8, seed); }

pb_common::AnyValue* Add(KeyValues* kvs, const std::string& key) {
  pb_common::KeyValue* kv = kvs->Add();
  kv->set_key(key);
  return kv->mutable_value();
}

// Every AnyValue type, nested arrays and kvlists, and the corner cases.
void AddAllValueTypes(KeyValues* kvs) {
  Add(kvs, "string")->set_string_value("h\xc3\xa9llo \xe2\x9c\x93");
  Add(kvs, "empty_string")->set_string_value("");
  Add(kvs, "bool_true")->set_bool_value(true);
  Add(kvs, "bool_false")->set_bool_value(false);
  Add(kvs, "int")->set_int_value(-42);
  Add(kvs, "int_max")->set_int_value(std::numeric_limits<int64_t>::max());
  Add(kvs, "int_min")->set_int_value(std::numeric_limits<int64_t>::min());
  Add(kvs, "double")->set_double_value(3.25);
  Add(kvs, "double_neg_zero")->set_double_value(-0.0);
  Add(kvs, "double_inf")->set_double_value(std::numeric_limits<double>::infinity());
  Add(kvs, "bytes")->set_bytes_value(std::string("\x00\x01\xff", 3));
  Add(kvs, "empty_value");  // AnyValue present, no oneof set
  kvs->Add()->set_key("no_value");
  pb_common::ArrayValue* array = Add(kvs, "array")->mutable_array_value();
  array->add_values()->set_string_value("a");
  array->add_values()->set_int_value(7);
  pb_common::ArrayValue* inner = array->add_values()->mutable_array_value();
  inner->add_values()->set_bool_value(true);
  inner->add_values()->set_double_value(0.5);
  pb_common::KeyValueList* in_array = array->add_values()->mutable_kvlist_value();
  Add(in_array->mutable_values(), "x")->set_int_value(1);
  Add(in_array->mutable_values(), "y")->mutable_array_value();
  array->add_values();  // empty AnyValue in an array
  pb_common::KeyValueList* kvlist = Add(kvs, "kvlist")->mutable_kvlist_value();
  Add(kvlist->mutable_values(), "k1")->set_string_value("v1");
  pb_common::KeyValueList* nested = Add(kvlist->mutable_values(), "k2")->mutable_kvlist_value();
  Add(nested->mutable_values(), "k3")->set_bytes_value("\x10\x20");
  Add(kvs, "empty_array")->mutable_array_value();
  Add(kvs, "empty_kvlist")->mutable_kvlist_value();
  Add(kvs, "after_nested")->set_string_value("still contiguous");
}

pb_trace::Span* AddSpan(pb_trace::ScopeSpans* ss, uint8_t seed) {
  pb_trace::Span* span = ss->add_spans();
  span->set_trace_id(TraceId(seed));
  span->set_span_id(SpanId(seed));
  span->set_name("span-" + std::to_string(seed));
  return span;
}

// Several resources and scopes, every field of every message set somewhere.
pb_collector::ExportTraceServiceRequest FullRequest() {
  pb_collector::ExportTraceServiceRequest request;

  pb_trace::ResourceSpans* rs0 = request.add_resource_spans();
  rs0->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  Add(rs0->mutable_resource()->mutable_attributes(), "service.name")->set_string_value("checkout");
  Add(rs0->mutable_resource()->mutable_attributes(), "host.name")->set_string_value("h1");
  AddAllValueTypes(rs0->mutable_resource()->mutable_attributes());
  rs0->mutable_resource()->set_dropped_attributes_count(3);

  pb_trace::ScopeSpans* ss0 = rs0->add_scope_spans();
  ss0->set_schema_url("https://example.com/scope-schema");
  ss0->mutable_scope()->set_name("io.opentelemetry.http");
  ss0->mutable_scope()->set_version("1.2.3");
  AddAllValueTypes(ss0->mutable_scope()->mutable_attributes());
  ss0->mutable_scope()->set_dropped_attributes_count(1);

  pb_trace::Span* full = AddSpan(ss0, 1);
  full->set_trace_state("vendor=abc,other=1");
  full->set_parent_span_id(SpanId(0x40));
  full->set_flags(0x301);
  full->set_name("GET /cart");
  full->set_kind(pb_trace::Span::SPAN_KIND_SERVER);
  full->set_start_time_unix_nano(1700000000123456789ULL);
  full->set_end_time_unix_nano(1700000000223456789ULL);
  AddAllValueTypes(full->mutable_attributes());
  full->set_dropped_attributes_count(2);
  for (int i = 0; i < 2; ++i) {
    pb_trace::Span::Event* event = full->add_events();
    event->set_time_unix_nano(1700000000150000000ULL + i);
    event->set_name(i == 0 ? "exception" : "retry");
    Add(event->mutable_attributes(), "exception.type")->set_string_value("IOError");
    AddAllValueTypes(event->mutable_attributes());
    event->set_dropped_attributes_count(i + 5);
  }
  full->add_events();  // an event with no fields at all
  full->set_dropped_events_count(4);
  for (int i = 0; i < 2; ++i) {
    pb_trace::Span::Link* link = full->add_links();
    link->set_trace_id(TraceId(0x80 + i));
    link->set_span_id(SpanId(0x90 + i));
    link->set_trace_state("l=" + std::to_string(i));
    AddAllValueTypes(link->mutable_attributes());
    link->set_dropped_attributes_count(7);
    link->set_flags(0x100 + i);
  }
  full->set_dropped_links_count(5);
  full->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_ERROR);
  full->mutable_status()->set_message("boom");

  pb_trace::Span* root = AddSpan(ss0, 2);
  root->set_kind(pb_trace::Span::SPAN_KIND_INTERNAL);

  pb_trace::ScopeSpans* ss1 = rs0->add_scope_spans();
  ss1->mutable_scope()->set_name("lib-b");
  pb_trace::Span* client = AddSpan(ss1, 3);
  client->set_kind(pb_trace::Span::SPAN_KIND_CLIENT);
  client->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_OK);
  client->set_parent_span_id(SpanId(1));

  // No service.name, no scope message at all.
  pb_trace::ResourceSpans* rs1 = request.add_resource_spans();
  Add(rs1->mutable_resource()->mutable_attributes(), "host.name")->set_string_value("h2");
  pb_trace::ScopeSpans* ss2 = rs1->add_scope_spans();
  AddSpan(ss2, 4)->set_kind(pb_trace::Span::SPAN_KIND_PRODUCER);
  pb_trace::Span* consumer = AddSpan(ss2, 5);
  consumer->set_kind(pb_trace::Span::SPAN_KIND_CONSUMER);
  consumer->set_name("\xe6\xb3\xa8\xe6\x96\x87 \xf0\x9f\x9b\x92");

  // service.name that is not a string: Resource::service_name stays "".
  pb_trace::ResourceSpans* rs2 = request.add_resource_spans();
  Add(rs2->mutable_resource()->mutable_attributes(), "service.name")->set_int_value(5);
  AddSpan(rs2->add_scope_spans(), 6);
  return request;
}

absl::StatusOr<model::SpanBatch> Decode(const std::string& body, DecodeStats* stats,
                                        const Limits& limits = Limits()) {
  return DecodeOtlpProto(body, limits, stats);
}

// Hand-made wire format, for what the generated classes cannot write.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Field(uint32_t field, const std::string& bytes) {
  return Varint(field << 3 | 2) + Varint(bytes.size()) + bytes;
}
// A request with one resource, one scope and the given span bytes.
std::string RequestWithSpan(const std::string& span) { return Field(1, Field(2, Field(2, span))); }

TEST(OtlpProtoTest, DecodesEveryField) {
  const pb_collector::ExportTraceServiceRequest request = FullRequest();
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(DumpBatch(*batch), DumpRequest(request));
  EXPECT_EQ(stats.accepted_spans, 6);
  EXPECT_EQ(stats.rejected_spans, 0);
  EXPECT_EQ(stats.error_message, "");
}

TEST(OtlpProtoTest, BuildsResourceAndScopeTables) {
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(FullRequest().SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 6u);
  ASSERT_EQ(batch->resources.size(), 3u);
  ASSERT_EQ(batch->scopes.size(), 4u);
  EXPECT_EQ(batch->resources[0].service_name, "checkout");
  EXPECT_EQ(batch->resources[1].service_name, "");
  EXPECT_EQ(batch->resources[2].service_name, "");
  EXPECT_EQ(batch->scopes[0].resource, 0u);
  EXPECT_EQ(batch->scopes[1].resource, 0u);
  EXPECT_EQ(batch->scopes[2].resource, 1u);
  EXPECT_EQ(batch->scopes[3].resource, 2u);
  EXPECT_EQ(batch->scope[0], 0u);
  EXPECT_EQ(batch->scope[2], 1u);
  EXPECT_EQ(batch->scope[5], 3u);
  EXPECT_EQ(batch->service(0), "checkout");
  EXPECT_EQ(batch->service(3), "");
  EXPECT_EQ(batch->kind[0], model::SpanKind::kServer);
  EXPECT_EQ(batch->status_code[0], model::StatusCode::kError);
  EXPECT_EQ(batch->status_message[0], "boom");
  EXPECT_EQ(batch->flags[0], 0x301u);
  EXPECT_EQ(batch->duration_nano(0), 100000000u);
  EXPECT_TRUE(model::IsZero(batch->parent_span_id[1]));
  EXPECT_EQ(batch->span_events[0].count, 3u);
  EXPECT_EQ(batch->span_links[0].count, 2u);
  EXPECT_EQ(batch->scopes[0].name, "io.opentelemetry.http");
  EXPECT_EQ(batch->scopes[0].version, "1.2.3");
  EXPECT_EQ(batch->resources[0].schema_url, "https://opentelemetry.io/schemas/1.21.0");
}

TEST(OtlpProtoTest, AcceptsDeprecatedInstrumentationLibrarySpans) {
  pb_collector::ExportTraceServiceRequest expected;
  pb_trace::ResourceSpans* rs = expected.add_resource_spans();
  Add(rs->mutable_resource()->mutable_attributes(), "service.name")->set_string_value("old-sdk");
  pb_trace::ScopeSpans* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("old-library");
  ss->mutable_scope()->set_version("0.9");
  ss->set_schema_url("schema");
  AddSpan(ss, 9)->set_kind(pb_trace::Span::SPAN_KIND_SERVER);
  AddSpan(ss, 10);

  // ResourceSpans field 1000 (reserved in the .proto, so written by hand).
  pb_trace::ResourceSpans only_resource = *rs;
  only_resource.clear_scope_spans();
  const std::string resource_spans = only_resource.SerializeAsString() + Varint(1000 << 3 | 2) +
                                     Varint(ss->ByteSizeLong()) + ss->SerializeAsString();
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(Field(1, resource_spans), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(DumpBatch(*batch), DumpRequest(expected));
  EXPECT_EQ(stats.accepted_spans, 2);
}

TEST(OtlpProtoTest, SkipsUnknownFields) {
  pb_collector::ExportTraceServiceRequest request = FullRequest();
  auto add_unknown = [](google::protobuf::Message* m) {
    google::protobuf::UnknownFieldSet* u = m->GetReflection()->MutableUnknownFields(m);
    u->AddVarint(50, 12345);
    u->AddFixed32(51, 7);
    u->AddFixed64(52, 8);
    u->AddLengthDelimited(53, "unknown");
  };
  add_unknown(&request);
  pb_trace::ResourceSpans* rs = request.mutable_resource_spans(0);
  add_unknown(rs);
  add_unknown(rs->mutable_resource());
  add_unknown(rs->mutable_scope_spans(0));
  add_unknown(rs->mutable_scope_spans(0)->mutable_scope());
  pb_trace::Span* span = rs->mutable_scope_spans(0)->mutable_spans(0);
  add_unknown(span);
  add_unknown(span->mutable_status());
  add_unknown(span->mutable_events(0));
  add_unknown(span->mutable_links(0));
  add_unknown(span->mutable_attributes(0));
  add_unknown(span->mutable_attributes(0)->mutable_value());

  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(DumpBatch(*batch), DumpRequest(request));
}

TEST(OtlpProtoTest, OneofLastValueWins) {
  pb_trace::Span span;
  span.set_trace_id(TraceId(1));
  span.set_span_id(SpanId(1));
  const std::string value = Field(1, "text") + Varint(3 << 3 | 0) + Varint(99);  // then int_value
  const std::string kv = Field(1, "k") + Field(2, value);
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch =
      Decode(RequestWithSpan(span.SerializeAsString() + Field(9, kv)), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->attributes.size(), 1u);
  EXPECT_EQ(batch->attributes[0].value.type, model::ValueType::kInt);
  EXPECT_EQ(batch->attributes[0].value.int_value, 99);
}

TEST(OtlpProtoTest, EmptyBodyIsAnEmptyRequest) {
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode("", &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->empty());
  EXPECT_EQ(stats.accepted_spans, 0);
}

TEST(OtlpProtoTest, UnknownEnumValuesReadAsDefault) {
  pb_trace::Span span;
  span.set_trace_id(TraceId(1));
  span.set_span_id(SpanId(1));
  const std::string bytes = span.SerializeAsString() + Varint(6 << 3) + Varint(77) +
                            Field(15, Varint(3 << 3) + Varint(9));
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(RequestWithSpan(bytes), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(batch->kind[0], model::SpanKind::kUnspecified);
  EXPECT_EQ(batch->status_code[0], model::StatusCode::kUnset);
}

TEST(OtlpProtoTest, RejectsNonProtobuf) {
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(R"({"resourceSpans": []})", &stats);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(batch.status().message()), StartsWith("malformed protobuf: "));
  EXPECT_EQ(stats.accepted_spans, 0);
}

TEST(OtlpProtoTest, TruncatedRequestNamesTheElement) {
  pb_trace::Span span;
  span.set_trace_id(TraceId(1));
  span.set_span_id(SpanId(1));
  // An attribute whose length runs past the end of the span.
  const std::string bytes = span.SerializeAsString() + Varint(9 << 3 | 2) + Varint(40) + "abc";
  absl::StatusOr<model::SpanBatch> batch = Decode(RequestWithSpan(bytes), nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(batch.status().message()),
            "malformed protobuf: truncated message in "
            "resource_spans[0].scope_spans[0].spans[0]");
}

TEST(OtlpProtoTest, EveryPrefixDecodesOrFailsCleanly) {
  const std::string body = FullRequest().SerializeAsString();
  int failures = 0;
  for (size_t n = 0; n < body.size(); ++n) {
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(body.substr(0, n), &stats);
    if (!batch.ok()) {
      ++failures;
      EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(batch.status().message()), StartsWith("malformed protobuf: "));
      EXPECT_THAT(std::string(batch.status().message()), HasSubstr(" in resource_spans["));
    }
  }
  EXPECT_GT(failures, 0);
}

TEST(OtlpProtoTest, WrongWireTypeIsMalformed) {
  // trace_id (bytes) sent as a varint.
  const std::string span = Varint(1 << 3 | 0) + Varint(5);
  absl::StatusOr<model::SpanBatch> batch = Decode(RequestWithSpan(span), nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(std::string(batch.status().message()),
            "malformed protobuf: field 1 has wire type varint, expected "
            "length-delimited in resource_spans[0].scope_spans[0].spans[0]");

  // start_time_unix_nano (fixed64) sent as fixed32.
  const std::string span2 = Varint(7 << 3 | 5) + std::string(4, '\0');
  batch = Decode(RequestWithSpan(span2), nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_THAT(std::string(batch.status().message()),
              HasSubstr("field 7 has wire type fixed32, expected fixed64"));

  // Groups (wire types 3 and 4) are not supported by OTLP at all.
  batch = Decode(Varint(1 << 3 | 3), nullptr);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(std::string(batch.status().message()),
            "malformed protobuf: unknown wire type in request");
}

TEST(OtlpProtoTest, RejectsSpansWithBadIds) {
  pb_collector::ExportTraceServiceRequest request;
  pb_trace::ScopeSpans* ss = request.add_resource_spans()->add_scope_spans();
  AddSpan(ss, 1);                                    // good
  AddSpan(ss, 2)->set_span_id(std::string(5, 'x'));  // first problem
  AddSpan(ss, 3)->set_trace_id(std::string(15, 'x'));
  AddSpan(ss, 4)->set_trace_id(std::string(16, '\0'));
  AddSpan(ss, 5)->set_span_id(std::string(8, '\0'));
  AddSpan(ss, 6)->clear_span_id();
  AddSpan(ss, 7)->set_parent_span_id("abc");
  AddSpan(ss, 8)->add_links()->set_trace_id(TraceId(1));  // no link span id
  pb_trace::Span::Link* link = AddSpan(ss, 9)->add_links();
  link->set_trace_id(TraceId(1));
  link->set_span_id(std::string(8, '\0'));
  AddSpan(ss, 10)->set_parent_span_id(SpanId(1));  // good

  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 2);
  EXPECT_EQ(stats.rejected_spans, 8);
  EXPECT_EQ(stats.error_message,
            "resource_spans[0].scope_spans[0].spans[1] (trace "
            "02030405060708090a0b0c0d0e0f1011): span_id is 5 bytes, must be "
            "8");
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ(batch->name[0], "span-1");
  EXPECT_EQ(batch->name[1], "span-10");
  EXPECT_TRUE(batch->links.empty());
}

TEST(OtlpProtoTest, IdProblemMessages) {
  struct Case {
    std::function<void(pb_trace::Span*)> mutate;
    std::string message_end;
  };
  const std::vector<Case> cases = {
      {[](pb_trace::Span* s) { s->set_trace_id(std::string(15, 'x')); },
       "spans[0]: trace_id is 15 bytes, must be 16"},
      {[](pb_trace::Span* s) { s->set_trace_id(std::string(16, '\0')); },
       "spans[0]: trace_id is all zero"},
      {[](pb_trace::Span* s) { s->set_span_id(std::string(8, '\0')); }, "): span_id is all zero"},
      {[](pb_trace::Span* s) { s->set_parent_span_id("abc"); },
       "): parent_span_id is 3 bytes, must be 0 or 8"},
      {[](pb_trace::Span* s) { s->add_links()->set_trace_id(TraceId(1)); },
       ".links[0] (trace 0102030405060708090a0b0c0d0e0f10): span_id is 0 "
       "bytes, must be 8"},
      {[](pb_trace::Span* s) {
         pb_trace::Span::Link* l = s->add_links();
         l->set_trace_id(std::string(16, '\0'));
         l->set_span_id(SpanId(2));
       },
       ".links[0] (trace 0102030405060708090a0b0c0d0e0f10): trace_id is all "
       "zero"},
  };
  for (const Case& c : cases) {
    pb_collector::ExportTraceServiceRequest request;
    c.mutate(AddSpan(request.add_resource_spans()->add_scope_spans(), 1));
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ(stats.rejected_spans, 1);
    EXPECT_TRUE(absl::EndsWith(stats.error_message, c.message_end)) << stats.error_message;
  }
}

TEST(OtlpProtoTest, RejectsInvalidUtf8) {
  google::protobuf::LogSilencer quiet;  // we serialize invalid UTF-8
  const std::string bad = "ok\xc3(";
  const std::vector<std::pair<std::function<void(pb_trace::Span*)>, std::string>> cases = {
      {[&](pb_trace::Span* s) { s->set_name(bad); }, "name is not valid UTF-8"},
      {[&](pb_trace::Span* s) { s->set_trace_state(bad); }, "trace_state is not valid UTF-8"},
      {[&](pb_trace::Span* s) { s->mutable_status()->set_message(bad); },
       "status.message is not valid UTF-8"},
      {[&](pb_trace::Span* s) { Add(s->mutable_attributes(), bad)->set_int_value(1); },
       ".attributes[0] (trace 0102030405060708090a0b0c0d0e0f10): key is "
       "not valid UTF-8"},
      {[&](pb_trace::Span* s) { Add(s->mutable_attributes(), "k")->set_string_value(bad); },
       "attribute \"k\" value is not valid UTF-8"},
      {[&](pb_trace::Span* s) {
         pb_common::ArrayValue* a = Add(s->mutable_attributes(), "arr")->mutable_array_value();
         a->add_values()->set_string_value("fine");
         a->add_values()->mutable_kvlist_value()->add_values()->set_key(bad);
       },
       ".attributes[0].values[1].values[0] (trace "
       "0102030405060708090a0b0c0d0e0f10): key is not valid UTF-8"},
      {[&](pb_trace::Span* s) { s->add_events()->set_name(bad); },
       "events[0] (trace 0102030405060708090a0b0c0d0e0f10): name is not "
       "valid UTF-8"},
      {[&](pb_trace::Span* s) {
         pb_trace::Span::Link* l = s->add_links();
         l->set_trace_id(TraceId(3));
         l->set_span_id(SpanId(3));
         l->set_trace_state(bad);
       },
       "links[0] (trace 0102030405060708090a0b0c0d0e0f10): trace_state "
       "is not valid UTF-8"},
  };
  for (const auto& [mutate, message_end] : cases) {
    pb_collector::ExportTraceServiceRequest request;
    pb_trace::ScopeSpans* ss = request.add_resource_spans()->add_scope_spans();
    mutate(AddSpan(ss, 1));
    AddSpan(ss, 2);
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ(stats.accepted_spans, 1);
    EXPECT_EQ(stats.rejected_spans, 1);
    EXPECT_TRUE(absl::EndsWith(stats.error_message, message_end)) << stats.error_message;
    ASSERT_EQ(batch->size(), 1u);
    EXPECT_EQ(batch->name[0], "span-2");
  }
}

TEST(OtlpProtoTest, ResourceProblemRejectsAllItsSpans) {
  google::protobuf::LogSilencer quiet;  // we serialize invalid UTF-8
  pb_collector::ExportTraceServiceRequest request;
  pb_trace::ResourceSpans* bad = request.add_resource_spans();
  Add(bad->mutable_resource()->mutable_attributes(), "service.name")->set_string_value("bad");
  Add(bad->mutable_resource()->mutable_attributes(), "k\xff")->set_string_value("v");
  AddSpan(bad->add_scope_spans(), 1);
  AddSpan(bad->mutable_scope_spans(0), 2);
  AddSpan(bad->add_scope_spans(), 3);
  pb_trace::ResourceSpans* good = request.add_resource_spans();
  Add(good->mutable_resource()->mutable_attributes(), "service.name")->set_string_value("good");
  AddSpan(good->add_scope_spans(), 4);

  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 3);
  EXPECT_EQ(stats.error_message,
            "resource_spans[0].resource.attributes[1]: key is not valid UTF-8 "
            "(rejected the resource's 3 spans)");
  ASSERT_EQ(batch->resources.size(), 1u);
  EXPECT_EQ(batch->resources[0].service_name, "good");
  EXPECT_EQ(batch->attributes.size(), 1u);  // the bad resource's are gone
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(batch->service(0), "good");
}

TEST(OtlpProtoTest, ScopeProblemRejectsItsSpans) {
  google::protobuf::LogSilencer quiet;  // we serialize invalid UTF-8
  pb_collector::ExportTraceServiceRequest request;
  pb_trace::ResourceSpans* rs = request.add_resource_spans();
  pb_trace::ScopeSpans* bad = rs->add_scope_spans();
  bad->mutable_scope()->set_version("\xed\xa0\x80");  // a surrogate
  AddSpan(bad, 1);
  AddSpan(bad, 2);
  AddSpan(rs->add_scope_spans(), 3);

  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 2);
  EXPECT_EQ(stats.error_message,
            "resource_spans[0].scope_spans[0].scope: version is not valid "
            "UTF-8 (rejected the scope's 2 spans)");
  ASSERT_EQ(batch->scopes.size(), 1u);
  EXPECT_EQ(batch->scope[0], 0u);
}

TEST(OtlpProtoTest, RejectsTenThousandAttributes) {
  pb_collector::ExportTraceServiceRequest request;
  pb_trace::ScopeSpans* ss = request.add_resource_spans()->add_scope_spans();
  pb_trace::Span* big = AddSpan(ss, 1);
  for (int i = 0; i < 10000; ++i) {
    Add(big->mutable_attributes(), "k" + std::to_string(i))->set_int_value(i);
  }
  Add(AddSpan(ss, 2)->mutable_attributes(), "small")->set_bool_value(true);

  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 1);
  EXPECT_EQ(stats.rejected_spans, 1);
  EXPECT_EQ(stats.error_message,
            "resource_spans[0].scope_spans[0].spans[0] (trace "
            "0102030405060708090a0b0c0d0e0f10): span has 10000 attributes, "
            "over the limit of 1024 (limits.max_attributes_per_span)");
  ASSERT_EQ(batch->size(), 1u);
  ASSERT_EQ(batch->attributes.size(), 1u);
  EXPECT_EQ(batch->attributes[0].key, "small");
  EXPECT_EQ(batch->span_attributes[0].first, 0u);
}

TEST(OtlpProtoTest, AppliesLimits) {
  Limits limits;
  limits.max_attributes_per_span = 3;
  limits.max_events_per_span = 2;
  limits.max_links_per_span = 1;
  limits.max_attribute_value_bytes = 10;
  limits.max_value_depth = 2;

  auto nest = [](pb_common::AnyValue* v, int levels) {
    for (int i = 0; i < levels; ++i) v = v->mutable_array_value()->add_values();
    v->set_int_value(1);
  };
  struct Case {
    std::function<void(pb_trace::Span*)> mutate;
    std::string message_end;  // "" if the span is accepted
  };
  const std::vector<Case> cases = {
      {[](pb_trace::Span* s) {
         for (int i = 0; i < 3; ++i) Add(s->mutable_attributes(), "a");
       },
       ""},
      {[](pb_trace::Span* s) {
         for (int i = 0; i < 4; ++i) Add(s->mutable_attributes(), "a");
       },
       "span has 4 attributes, over the limit of 3 "
       "(limits.max_attributes_per_span)"},
      {[](pb_trace::Span* s) {
         for (int i = 0; i < 3; ++i) s->add_events();
       },
       "span has 3 events, over the limit of 2 (limits.max_events_per_span)"},
      {[](pb_trace::Span* s) {
         for (int i = 0; i < 2; ++i) {
           s->add_links()->set_trace_id(TraceId(1));
           s->mutable_links(i)->set_span_id(SpanId(1));
         }
       },
       "span has 2 links, over the limit of 1 (limits.max_links_per_span)"},
      {[](pb_trace::Span* s) {
         for (int i = 0; i < 4; ++i) Add(s->add_events()->mutable_attributes(), "a");
       },
       "span has 4 events, over the limit of 2 (limits.max_events_per_span)"},
      {[](pb_trace::Span* s) {
         pb_trace::Span::Event* e = s->add_events();
         for (int i = 0; i < 4; ++i) Add(e->mutable_attributes(), "a");
       },
       "events[0] (trace 0102030405060708090a0b0c0d0e0f10): event has 4 "
       "attributes, over the limit of 3 (limits.max_attributes_per_span)"},
      {[](pb_trace::Span* s) {
         Add(s->mutable_attributes(), "s")->set_string_value("0123456789");
         Add(s->mutable_attributes(), "b")->set_bytes_value("0123456789");
       },
       ""},
      {[](pb_trace::Span* s) {
         Add(s->mutable_attributes(), "http.url")->set_string_value("01234567890");
       },
       "attribute \"http.url\" value is 11 bytes, over the limit of 10 "
       "(limits.max_attribute_value_bytes)"},
      {[](pb_trace::Span* s) { Add(s->mutable_attributes(), "b")->set_bytes_value("01234567890"); },
       "attribute \"b\" value is 11 bytes, over the limit of 10 "
       "(limits.max_attribute_value_bytes)"},
      {[&](pb_trace::Span* s) { nest(Add(s->mutable_attributes(), "d"), 2); }, ""},
      {[&](pb_trace::Span* s) { nest(Add(s->mutable_attributes(), "d"), 3); },
       "attribute \"d\" value nests deeper than 2 levels "
       "(limits.max_value_depth)"},
  };
  for (const Case& c : cases) {
    pb_collector::ExportTraceServiceRequest request;
    c.mutate(AddSpan(request.add_resource_spans()->add_scope_spans(), 1));
    DecodeStats stats;
    absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats, limits);
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (c.message_end.empty()) {
      EXPECT_EQ(stats.accepted_spans, 1) << stats.error_message;
      EXPECT_EQ(DumpBatch(*batch), DumpRequest(request));
    } else {
      EXPECT_EQ(stats.rejected_spans, 1);
      EXPECT_TRUE(absl::EndsWith(stats.error_message, c.message_end)) << stats.error_message;
      EXPECT_TRUE(batch->empty());
    }
  }
}

TEST(OtlpProtoTest, DeepNestingIsBounded) {
  // A value nested far deeper than any limit: rejected, no stack overflow.
  std::string value = Varint(3 << 3) + Varint(1);
  for (int i = 0; i < 2000; ++i) value = Field(5, Field(1, value));
  pb_trace::Span span;
  span.set_trace_id(TraceId(1));
  span.set_span_id(SpanId(1));
  const std::string kv = Field(1, "deep") + Field(2, value);
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch =
      Decode(RequestWithSpan(span.SerializeAsString() + Field(9, kv)), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.rejected_spans, 1);
  EXPECT_THAT(stats.error_message, HasSubstr("value nests deeper than 16 levels"));
}

TEST(OtlpProtoTest, PartialSuccessKeepsGoodSpansAndFirstMessage) {
  google::protobuf::LogSilencer quiet;  // we serialize invalid UTF-8
  pb_collector::ExportTraceServiceRequest request = FullRequest();
  pb_trace::ScopeSpans* ss = request.mutable_resource_spans(0)->mutable_scope_spans(0);
  // A bad span after the good ones, failing late: its attributes, events
  // and array items must not stay in the side tables.
  pb_trace::Span* late = AddSpan(ss, 20);
  AddAllValueTypes(late->mutable_attributes());
  AddAllValueTypes(late->add_events()->mutable_attributes());
  pb_trace::Span::Link* link = late->add_links();
  link->set_trace_id(TraceId(1));
  link->set_span_id(SpanId(1));
  Add(link->mutable_attributes(), "bad")->set_string_value("\xc0\xaf");
  // A second bad span: counted, but its message is not the one kept.
  AddSpan(ss, 21)->set_trace_id("short");

  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(stats.accepted_spans, 6);
  EXPECT_EQ(stats.rejected_spans, 2);
  EXPECT_EQ(stats.error_message,
            "resource_spans[0].scope_spans[0].spans[2].links[0].attributes[0] "
            "(trace 1415161718191a1b1c1d1e1f20212223): attribute \"bad\" value "
            "is not valid UTF-8");
  // Same tables as without the bad spans.
  DecodeStats clean_stats;
  absl::StatusOr<model::SpanBatch> clean = Decode(FullRequest().SerializeAsString(), &clean_stats);
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(DumpBatch(*batch), DumpBatch(*clean));
  EXPECT_EQ(batch->attributes.size(), clean->attributes.size());
  EXPECT_EQ(batch->array_items.size(), clean->array_items.size());
  EXPECT_EQ(batch->events.size(), clean->events.size());
  EXPECT_EQ(batch->links.size(), clean->links.size());
}

TEST(OtlpProtoTest, ErrorMessageIsShortAndPrintable) {
  pb_collector::ExportTraceServiceRequest request;
  pb_trace::Span* span = AddSpan(request.add_resource_spans()->add_scope_spans(), 1);
  Add(span->mutable_attributes(), std::string(5000, '\x01') + "\"")
      ->set_string_value(std::string(70000, 'x'));
  DecodeStats stats;
  absl::StatusOr<model::SpanBatch> batch = Decode(request.SerializeAsString(), &stats);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(stats.rejected_spans, 1);
  EXPECT_LE(stats.error_message.size(), 300u);
  EXPECT_THAT(stats.error_message, HasSubstr("\\x01\\x01"));
  for (char c : stats.error_message) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
  }
}

TEST(OtlpProtoTest, ResetsStatsAndAcceptsNullStats) {
  DecodeStats stats;
  stats.accepted_spans = 99;
  stats.error_message = "old";
  ASSERT_TRUE(Decode(FullRequest().SerializeAsString(), &stats).ok());
  EXPECT_EQ(stats.accepted_spans, 6);
  EXPECT_EQ(stats.error_message, "");
  EXPECT_TRUE(Decode(FullRequest().SerializeAsString(), nullptr).ok());
}

}  // namespace
}  // namespace ariadne::decode
