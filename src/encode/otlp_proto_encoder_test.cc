#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "encode/encode.h"
#include "encode/test_batches.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::encode {
namespace {

namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_trace = opentelemetry::proto::trace::v1;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using testing::BatchA;
using testing::BatchB;
using testing::MixedRefs;

template <size_t N>
std::string Bytes(const std::array<uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

void ExpectKeyValuesEq(const model::SpanBatch& b, model::Range r,
                       const google::protobuf::RepeatedPtrField<pb_common::KeyValue>& pb);

// Compares a value of the batch with its protobuf form, recursively.
void ExpectValueEq(const model::SpanBatch& b, const model::AnyValue& v,
                   const pb_common::AnyValue& pb) {
  switch (v.type) {
    case model::ValueType::kEmpty:
      EXPECT_EQ(pb.value_case(), pb_common::AnyValue::VALUE_NOT_SET);
      break;
    case model::ValueType::kString:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kStringValue);
      EXPECT_EQ(pb.string_value(), v.bytes);
      break;
    case model::ValueType::kBool:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kBoolValue);
      EXPECT_EQ(pb.bool_value(), v.bool_value);
      break;
    case model::ValueType::kInt:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kIntValue);
      EXPECT_EQ(pb.int_value(), v.int_value);
      break;
    case model::ValueType::kDouble:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kDoubleValue);
      if (std::isnan(v.double_value)) {
        EXPECT_TRUE(std::isnan(pb.double_value()));
      } else {
        EXPECT_EQ(pb.double_value(), v.double_value);
      }
      break;
    case model::ValueType::kBytes:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kBytesValue);
      EXPECT_EQ(pb.bytes_value(), v.bytes);
      break;
    case model::ValueType::kArray:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kArrayValue);
      ASSERT_EQ(pb.array_value().values_size(), static_cast<int>(v.children.count));
      for (uint32_t i = 0; i < v.children.count; ++i) {
        ExpectValueEq(b, b.array_items[v.children.first + i], pb.array_value().values(i));
      }
      break;
    case model::ValueType::kKvList:
      ASSERT_EQ(pb.value_case(), pb_common::AnyValue::kKvlistValue);
      ExpectKeyValuesEq(b, v.children, pb.kvlist_value().values());
      break;
  }
}

void ExpectKeyValuesEq(const model::SpanBatch& b, model::Range r,
                       const google::protobuf::RepeatedPtrField<pb_common::KeyValue>& pb) {
  ASSERT_EQ(pb.size(), static_cast<int>(r.count));
  for (uint32_t i = 0; i < r.count; ++i) {
    const model::KeyValue& kv = b.attributes[r.first + i];
    SCOPED_TRACE(std::string(kv.key));
    EXPECT_EQ(pb[i].key(), kv.key);
    EXPECT_EQ(pb[i].has_value(), kv.value.type != model::ValueType::kEmpty);
    ExpectValueEq(b, kv.value, pb[i].value());
  }
}

void ExpectSpanEq(const model::SpanBatch& b, uint32_t row, const pb_trace::Span& pb) {
  SCOPED_TRACE("span " + std::string(b.name[row]));
  EXPECT_EQ(pb.trace_id(), Bytes(b.trace_id[row]));
  EXPECT_EQ(pb.span_id(), Bytes(b.span_id[row]));
  if (model::IsZero(b.parent_span_id[row])) {
    EXPECT_EQ(pb.parent_span_id(), "");
  } else {
    EXPECT_EQ(pb.parent_span_id(), Bytes(b.parent_span_id[row]));
  }
  EXPECT_EQ(pb.trace_state(), b.trace_state[row]);
  EXPECT_EQ(pb.flags(), b.flags[row]);
  EXPECT_EQ(pb.name(), b.name[row]);
  EXPECT_EQ(static_cast<int>(pb.kind()), static_cast<int>(b.kind[row]));
  EXPECT_EQ(pb.start_time_unix_nano(), b.start_unix_nano[row]);
  EXPECT_EQ(pb.end_time_unix_nano(), b.end_unix_nano[row]);
  ExpectKeyValuesEq(b, b.span_attributes[row], pb.attributes());
  EXPECT_EQ(pb.dropped_attributes_count(), b.dropped_attributes_count[row]);
  const model::Range events = b.span_events[row];
  ASSERT_EQ(pb.events_size(), static_cast<int>(events.count));
  for (uint32_t i = 0; i < events.count; ++i) {
    const model::Event& e = b.events[events.first + i];
    EXPECT_EQ(pb.events(i).time_unix_nano(), e.time_unix_nano);
    EXPECT_EQ(pb.events(i).name(), e.name);
    ExpectKeyValuesEq(b, e.attributes, pb.events(i).attributes());
    EXPECT_EQ(pb.events(i).dropped_attributes_count(), e.dropped_attributes_count);
  }
  EXPECT_EQ(pb.dropped_events_count(), b.dropped_events_count[row]);
  const model::Range links = b.span_links[row];
  ASSERT_EQ(pb.links_size(), static_cast<int>(links.count));
  for (uint32_t i = 0; i < links.count; ++i) {
    const model::Link& l = b.links[links.first + i];
    EXPECT_EQ(pb.links(i).trace_id(), Bytes(l.trace_id));
    EXPECT_EQ(pb.links(i).span_id(), Bytes(l.span_id));
    EXPECT_EQ(pb.links(i).trace_state(), l.trace_state);
    ExpectKeyValuesEq(b, l.attributes, pb.links(i).attributes());
    EXPECT_EQ(pb.links(i).dropped_attributes_count(), l.dropped_attributes_count);
    EXPECT_EQ(pb.links(i).flags(), l.flags);
  }
  EXPECT_EQ(pb.dropped_links_count(), b.dropped_links_count[row]);
  EXPECT_EQ(static_cast<int>(pb.status().code()), static_cast<int>(b.status_code[row]));
  EXPECT_EQ(pb.status().message(), b.status_message[row]);
  EXPECT_EQ(pb.has_status(),
            b.status_code[row] != model::StatusCode::kUnset || !b.status_message[row].empty());
}

void ExpectResourceEq(const model::SpanBatch& b, uint32_t index,
                      const pb_trace::ResourceSpans& pb) {
  const model::Resource& r = b.resources[index];
  ExpectKeyValuesEq(b, r.attributes, pb.resource().attributes());
  EXPECT_EQ(pb.resource().dropped_attributes_count(), r.dropped_attributes_count);
  EXPECT_EQ(pb.schema_url(), r.schema_url);
}

void ExpectScopeEq(const model::SpanBatch& b, uint32_t index, const pb_trace::ScopeSpans& pb) {
  const model::Scope& s = b.scopes[index];
  EXPECT_EQ(pb.scope().name(), s.name);
  EXPECT_EQ(pb.scope().version(), s.version);
  ExpectKeyValuesEq(b, s.attributes, pb.scope().attributes());
  EXPECT_EQ(pb.scope().dropped_attributes_count(), s.dropped_attributes_count);
  EXPECT_EQ(pb.schema_url(), s.schema_url);
}

ExportTraceServiceRequest Parse(const std::string& bytes) {
  ExportTraceServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(bytes));
  // Protobuf writes fields in number order and leaves defaults out; so do
  // we, so re-serializing must give the same bytes.
  EXPECT_EQ(req.SerializeAsString(), bytes);
  return req;
}

TEST(OtlpProtoEncoderTest, GroupsSpansFromTwoBatchesByResourceAndScope) {
  auto a = BatchA();
  auto b = BatchB();
  const std::vector<model::SpanRef> refs = MixedRefs(a, b);
  std::string out = "prefix";
  EncodeOtlpProto(refs, &out);
  ASSERT_EQ(out.substr(0, 6), "prefix");  // appends
  const ExportTraceServiceRequest req = Parse(out.substr(6));

  // A/resource 0 {A/scope 0: rows 0, 2; A/scope 2: row 3},
  // A/resource 1 {A/scope 1: row 1}, B/resource 0 {B/scope 0: row 0}.
  ASSERT_EQ(req.resource_spans_size(), 3);
  const auto& rs0 = req.resource_spans(0);
  ExpectResourceEq(*a, 0, rs0);
  ASSERT_EQ(rs0.scope_spans_size(), 2);
  ExpectScopeEq(*a, 0, rs0.scope_spans(0));
  ASSERT_EQ(rs0.scope_spans(0).spans_size(), 2);
  ExpectSpanEq(*a, 0, rs0.scope_spans(0).spans(0));
  ExpectSpanEq(*a, 2, rs0.scope_spans(0).spans(1));
  ExpectScopeEq(*a, 2, rs0.scope_spans(1));
  EXPECT_FALSE(rs0.scope_spans(1).has_scope());  // empty scope left out
  ASSERT_EQ(rs0.scope_spans(1).spans_size(), 1);
  ExpectSpanEq(*a, 3, rs0.scope_spans(1).spans(0));

  const auto& rs1 = req.resource_spans(1);
  ExpectResourceEq(*a, 1, rs1);
  ASSERT_EQ(rs1.scope_spans_size(), 1);
  ExpectScopeEq(*a, 1, rs1.scope_spans(0));
  ASSERT_EQ(rs1.scope_spans(0).spans_size(), 1);
  ExpectSpanEq(*a, 1, rs1.scope_spans(0).spans(0));

  const auto& rs2 = req.resource_spans(2);
  ExpectResourceEq(*b, 0, rs2);
  ASSERT_EQ(rs2.scope_spans_size(), 1);
  ExpectScopeEq(*b, 0, rs2.scope_spans(0));
  ASSERT_EQ(rs2.scope_spans(0).spans_size(), 1);
  ExpectSpanEq(*b, 0, rs2.scope_spans(0).spans(0));
}

TEST(OtlpProtoEncoderTest, WritesEveryFieldWithExpectedValues) {
  auto a = BatchA();
  const std::vector<model::SpanRef> refs = {{a, 0}};
  std::string out;
  EncodeOtlpProto(refs, &out);
  const ExportTraceServiceRequest req = Parse(out);
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  EXPECT_EQ(rs.schema_url(), "https://schema/r0");
  ASSERT_EQ(rs.resource().attributes_size(), 2);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "svc-a");
  EXPECT_EQ(rs.resource().attributes(1).value().int_value(), 42);
  EXPECT_EQ(rs.resource().dropped_attributes_count(), 3u);
  const auto& ss = rs.scope_spans(0);
  EXPECT_EQ(ss.scope().name(), "lib-a");
  EXPECT_EQ(ss.scope().version(), "1.0");
  EXPECT_TRUE(ss.scope().attributes(0).value().bool_value());
  EXPECT_EQ(ss.scope().dropped_attributes_count(), 1u);
  EXPECT_EQ(ss.schema_url(), "https://schema/s0");

  const pb_trace::Span& s = ss.spans(0);
  EXPECT_EQ(s.trace_id(), Bytes(testing::MakeTraceId(1)));
  EXPECT_EQ(s.span_id(), Bytes(testing::MakeSpanId(1)));
  EXPECT_EQ(s.parent_span_id(), Bytes(testing::MakeSpanId(9)));
  EXPECT_EQ(s.trace_state(), "vendor=value");
  EXPECT_EQ(s.flags(), 0x301u);
  EXPECT_EQ(s.name(), "GET /users");
  EXPECT_EQ(s.kind(), pb_trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(s.start_time_unix_nano(), 1700000000123456789ull);
  EXPECT_EQ(s.end_time_unix_nano(), 1700000000223456789ull);
  EXPECT_EQ(s.dropped_attributes_count(), 2u);
  EXPECT_EQ(s.dropped_events_count(), 4u);
  EXPECT_EQ(s.dropped_links_count(), 5u);
  EXPECT_EQ(s.status().code(), pb_trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(s.status().message(), "it failed");

  const auto attr = [&](std::string_view key) -> const pb_common::AnyValue& {
    for (const auto& kv : s.attributes()) {
      if (kv.key() == key) return kv.value();
    }
    ADD_FAILURE() << "no attribute " << key;
    return pb_common::AnyValue::default_instance();
  };
  EXPECT_EQ(attr("str").string_value(), "hello");
  // Set oneof fields are written even with default values.
  EXPECT_EQ(attr("empty_str").value_case(), pb_common::AnyValue::kStringValue);
  EXPECT_EQ(attr("bool_false").value_case(), pb_common::AnyValue::kBoolValue);
  EXPECT_FALSE(attr("bool_false").bool_value());
  EXPECT_EQ(attr("int_neg").int_value(), -5);
  EXPECT_EQ(attr("int_zero").value_case(), pb_common::AnyValue::kIntValue);
  EXPECT_EQ(attr("int_max").int_value(), INT64_MAX);
  EXPECT_EQ(attr("double").double_value(), 1.5);
  EXPECT_EQ(attr("double_zero").value_case(), pb_common::AnyValue::kDoubleValue);
  EXPECT_TRUE(std::isnan(attr("nan").double_value()));
  EXPECT_EQ(attr("inf").double_value(), INFINITY);
  EXPECT_EQ(attr("neg_inf").double_value(), -INFINITY);
  EXPECT_EQ(attr("bytes").bytes_value(), std::string("\x00\xff\x10", 3));
  EXPECT_EQ(attr("empty").value_case(), pb_common::AnyValue::VALUE_NOT_SET);
  const auto& array = attr("array").array_value();
  ASSERT_EQ(array.values_size(), 5);
  EXPECT_EQ(array.values(0).int_value(), 1);
  EXPECT_EQ(array.values(1).string_value(), "x");
  ASSERT_EQ(array.values(2).array_value().values_size(), 2);
  EXPECT_TRUE(array.values(2).array_value().values(0).bool_value());
  EXPECT_EQ(array.values(2).array_value().values(1).double_value(), -0.25);
  EXPECT_EQ(array.values(3).kvlist_value().values(0).key(), "k");
  EXPECT_EQ(array.values(3).kvlist_value().values(0).value().double_value(), 2.5);
  EXPECT_EQ(array.values(4).value_case(), pb_common::AnyValue::VALUE_NOT_SET);
  const auto& kvlist = attr("kvlist").kvlist_value();
  ASSERT_EQ(kvlist.values_size(), 2);
  EXPECT_EQ(kvlist.values(0).value().string_value(), "v");
  EXPECT_EQ(kvlist.values(1).key(), "nested");
  EXPECT_EQ(kvlist.values(1).value().kvlist_value().values(0).key(), "deep");
  EXPECT_EQ(kvlist.values(1).value().kvlist_value().values(0).value().int_value(), -7);
  EXPECT_EQ(attr("empty_array").value_case(), pb_common::AnyValue::kArrayValue);
  EXPECT_EQ(attr("empty_kvlist").value_case(), pb_common::AnyValue::kKvlistValue);
  EXPECT_EQ(attr("big").string_value(), std::string(20000, 'z'));
  EXPECT_EQ(attr("").string_value(), "empty key");

  ASSERT_EQ(s.events_size(), 3);
  EXPECT_EQ(s.events(0).time_unix_nano(), 1700000000150000000ull);
  EXPECT_EQ(s.events(0).name(), "exception");
  EXPECT_EQ(s.events(0).attributes(0).value().string_value(), "boom");
  EXPECT_EQ(s.events(0).dropped_attributes_count(), 6u);
  EXPECT_EQ(s.events(1).time_unix_nano(), 0u);
  EXPECT_EQ(s.events(1).name(), "marker");
  ASSERT_EQ(s.links_size(), 2);
  EXPECT_EQ(s.links(0).trace_id(), Bytes(testing::MakeTraceId(7)));
  EXPECT_EQ(s.links(0).span_id(), Bytes(testing::MakeSpanId(7)));
  EXPECT_EQ(s.links(0).trace_state(), "a=b");
  EXPECT_EQ(s.links(0).attributes(0).value().string_value(), "batch");
  EXPECT_EQ(s.links(0).dropped_attributes_count(), 8u);
  EXPECT_EQ(s.links(0).flags(), 0x101u);
  EXPECT_EQ(s.links(1).flags(), 0u);
}

TEST(OtlpProtoEncoderTest, WholeBatchOverload) {
  auto a = BatchA();
  std::string out;
  EncodeOtlpProto(*a, &out);
  const ExportTraceServiceRequest req = Parse(out);
  ASSERT_EQ(req.resource_spans_size(), 2);
  ASSERT_EQ(req.resource_spans(0).scope_spans_size(), 2);
  ExpectSpanEq(*a, 0, req.resource_spans(0).scope_spans(0).spans(0));
  ExpectSpanEq(*a, 2, req.resource_spans(0).scope_spans(0).spans(1));
  ExpectSpanEq(*a, 3, req.resource_spans(0).scope_spans(1).spans(0));
  ExpectSpanEq(*a, 1, req.resource_spans(1).scope_spans(0).spans(0));

  // Same bytes as encoding references to every row in order.
  std::vector<model::SpanRef> refs;
  for (uint32_t row = 0; row < a->size(); ++row) refs.push_back({a, row});
  std::string via_refs;
  EncodeOtlpProto(refs, &via_refs);
  EXPECT_EQ(via_refs, out);
}

TEST(OtlpProtoEncoderTest, EmptyInputWritesEmptyRequest) {
  std::string out;
  EncodeOtlpProto(std::span<const model::SpanRef>(), &out);
  EXPECT_TRUE(out.empty());
  model::SpanBatch empty;
  EncodeOtlpProto(empty, &out);
  EXPECT_TRUE(out.empty());
}

TEST(OtlpProtoEncoderTest, MinimalSpanOmitsDefaults) {
  model::SpanBatch b;
  b.resources.emplace_back();
  b.scopes.emplace_back();
  const uint32_t row = b.AddSpan();
  b.trace_id[row] = testing::MakeTraceId(1);
  b.span_id[row] = testing::MakeSpanId(1);
  std::string out;
  EncodeOtlpProto(b, &out);
  // resource_spans { scope_spans { spans { trace_id, span_id } } }, nothing else.
  const size_t span_size = 2 + 16 + 2 + 8;
  const size_t scope_spans_size = 2 + span_size;
  const size_t resource_spans_size = 2 + scope_spans_size;
  EXPECT_EQ(out.size(), 2 + resource_spans_size);
  const ExportTraceServiceRequest req = Parse(out);
  EXPECT_FALSE(req.resource_spans(0).has_resource());
  EXPECT_FALSE(req.resource_spans(0).scope_spans(0).has_scope());
  EXPECT_FALSE(req.resource_spans(0).scope_spans(0).spans(0).has_status());
}

TEST(OtlpProtoEncoderTest, LargeBatchRoundTripsThroughProtobuf) {
  // Many spans with long strings: multi-byte lengths at every level.
  model::SpanBatch b;
  testing::Builder x(&b);
  model::Resource r;
  r.attributes = x.Attrs({{"service.name", x.Str("svc")}});
  b.resources.push_back(r);
  model::Scope s;
  s.name = x.S(std::string(300, 's'));
  b.scopes.push_back(s);
  for (int i = 0; i < 500; ++i) {
    const uint32_t row = b.AddSpan();
    b.trace_id[row] = testing::MakeTraceId(static_cast<uint8_t>(i));
    b.span_id[row] = testing::MakeSpanId(static_cast<uint8_t>(i));
    b.name[row] = x.S(std::string(static_cast<size_t>(i), 'n'));
    b.start_unix_nano[row] = static_cast<uint64_t>(i) << 40;
    b.span_attributes[row] = x.Attrs(
        {{"i", testing::Builder::Int(-i)}, {"arr", x.Array({x.Str(std::string(200, 'a'))})}});
  }
  std::string out;
  EncodeOtlpProto(b, &out);
  const ExportTraceServiceRequest req = Parse(out);
  ASSERT_EQ(req.resource_spans(0).scope_spans(0).spans_size(), 500);
  for (uint32_t i = 0; i < 500; ++i) {
    ExpectSpanEq(b, i, req.resource_spans(0).scope_spans(0).spans(static_cast<int>(i)));
  }
}

}  // namespace
}  // namespace ariadne::encode
