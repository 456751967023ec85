// Hand-built batches for the encoder tests (test-only header).
//
// BatchA: two resources, three scopes (one of them empty), four spans:
//   row 0  scope 0 (lib-a, resource 0 "svc-a")  every field set, every
//          value type, nested arrays and kvlists, a 20 kB string
//   row 1  scope 1 (lib-b, resource 1 "svc-b")  minimal root span, status OK
//   row 2  scope 0                               client span, child of row 0
//   row 3  scope 2 (empty scope, resource 0)     only a status message
// BatchB: one resource (same content as A's resource 0, but another batch),
//   one scope, one span (row 0) whose strings hold quotes, backslashes,
//   control characters and non-ASCII text. With invalid_utf8 the span name
//   and an attribute hold invalid UTF-8 too (for the JSON encoders; the
//   decoders never let such a span through, and protobuf would reject it).
#pragma once

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "model/span_batch.h"

namespace ariadne::encode::testing {

inline model::TraceId MakeTraceId(uint8_t seed) {
  model::TraceId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed + i);
  return id;
}
inline model::SpanId MakeSpanId(uint8_t seed) {
  model::SpanId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed * 16 + i);
  return id;
}

// Helpers that append to the side tables and return the range.
class Builder {
 public:
  explicit Builder(model::SpanBatch* b) : b_(b) {}

  model::AnyValue Str(std::string_view s) {
    model::AnyValue v;
    v.type = model::ValueType::kString;
    v.bytes = b_->Copy(s);
    return v;
  }
  static model::AnyValue Bool(bool x) {
    model::AnyValue v;
    v.type = model::ValueType::kBool;
    v.bool_value = x;
    return v;
  }
  static model::AnyValue Int(int64_t x) {
    model::AnyValue v;
    v.type = model::ValueType::kInt;
    v.int_value = x;
    return v;
  }
  static model::AnyValue Double(double x) {
    model::AnyValue v;
    v.type = model::ValueType::kDouble;
    v.double_value = x;
    return v;
  }
  model::AnyValue Bytes(std::string_view s) {
    model::AnyValue v;
    v.type = model::ValueType::kBytes;
    v.bytes = b_->Copy(s);
    return v;
  }
  // Children must be built before the container (they are appended first).
  model::AnyValue Array(const std::vector<model::AnyValue>& items) {
    model::AnyValue v;
    v.type = model::ValueType::kArray;
    v.children.first = static_cast<uint32_t>(b_->array_items.size());
    v.children.count = static_cast<uint32_t>(items.size());
    for (const auto& item : items) b_->array_items.push_back(item);
    return v;
  }
  model::AnyValue KvList(const std::vector<std::pair<std::string, model::AnyValue>>& kvs) {
    model::AnyValue v;
    v.type = model::ValueType::kKvList;
    v.children = Attrs(kvs);
    return v;
  }
  model::Range Attrs(const std::vector<std::pair<std::string, model::AnyValue>>& kvs) {
    model::Range r{static_cast<uint32_t>(b_->attributes.size()), static_cast<uint32_t>(kvs.size())};
    for (const auto& [k, v] : kvs) b_->attributes.push_back({b_->Copy(k), v});
    return r;
  }
  std::string_view S(std::string_view s) { return b_->Copy(s); }

 private:
  model::SpanBatch* b_;
};

inline std::shared_ptr<const model::SpanBatch> BatchA() {
  auto batch = std::make_shared<model::SpanBatch>();
  model::SpanBatch& b = *batch;
  Builder x(&b);

  model::Resource r0;
  r0.attributes = x.Attrs({{"service.name", x.Str("svc-a")}, {"host.id", Builder::Int(42)}});
  r0.dropped_attributes_count = 3;
  r0.schema_url = x.S("https://schema/r0");
  r0.service_name = x.S("svc-a");
  b.resources.push_back(r0);
  model::Resource r1;
  r1.attributes = x.Attrs({{"service.name", x.Str("svc-b")}});
  r1.service_name = x.S("svc-b");
  b.resources.push_back(r1);

  model::Scope s0;
  s0.name = x.S("lib-a");
  s0.version = x.S("1.0");
  s0.attributes = x.Attrs({{"scope.attr", Builder::Bool(true)}});
  s0.dropped_attributes_count = 1;
  s0.schema_url = x.S("https://schema/s0");
  s0.resource = 0;
  b.scopes.push_back(s0);
  model::Scope s1;
  s1.name = x.S("lib-b");
  s1.resource = 1;
  b.scopes.push_back(s1);
  model::Scope s2;  // every field at its default
  s2.resource = 0;
  b.scopes.push_back(s2);

  // Row 0: everything.
  uint32_t row = b.AddSpan();
  b.trace_id[row] = MakeTraceId(1);
  b.span_id[row] = MakeSpanId(1);
  b.parent_span_id[row] = MakeSpanId(9);
  b.trace_state[row] = x.S("vendor=value");
  b.flags[row] = 0x301;
  b.name[row] = x.S("GET /users");
  b.kind[row] = model::SpanKind::kServer;
  b.start_unix_nano[row] = 1700000000123456789ull;
  b.end_unix_nano[row] = 1700000000223456789ull;
  {
    model::AnyValue inner_array = x.Array({Builder::Bool(true), Builder::Double(-0.25)});
    model::AnyValue inner_kv = x.KvList({{"deep", Builder::Int(-7)}});
    model::AnyValue array = x.Array({Builder::Int(1), x.Str("x"), inner_array,
                                     x.KvList({{"k", Builder::Double(2.5)}}), model::AnyValue{}});
    model::AnyValue kvlist = x.KvList({{"inner", x.Str("v")}, {"nested", inner_kv}});
    b.span_attributes[row] = x.Attrs({
        {"str", x.Str("hello")},
        {"empty_str", x.Str("")},
        {"bool_false", Builder::Bool(false)},
        {"bool_true", Builder::Bool(true)},
        {"int_neg", Builder::Int(-5)},
        {"int_zero", Builder::Int(0)},
        {"int_max", Builder::Int(std::numeric_limits<int64_t>::max())},
        {"double", Builder::Double(1.5)},
        {"double_zero", Builder::Double(0.0)},
        {"nan", Builder::Double(std::nan(""))},
        {"inf", Builder::Double(INFINITY)},
        {"neg_inf", Builder::Double(-INFINITY)},
        {"bytes", x.Bytes(std::string("\x00\xff\x10", 3))},
        {"empty", model::AnyValue{}},
        {"array", array},
        {"kvlist", kvlist},
        {"empty_array", x.Array({})},
        {"empty_kvlist", x.KvList({})},
        {"big", x.Str(std::string(20000, 'z'))},
        {"", x.Str("empty key")},
    });
  }
  b.dropped_attributes_count[row] = 2;
  {
    model::Event e0;
    e0.time_unix_nano = 1700000000150000000ull;
    e0.name = x.S("exception");
    e0.attributes = x.Attrs({{"exception.message", x.Str("boom")}, {"retry", Builder::Int(3)}});
    e0.dropped_attributes_count = 6;
    model::Event e1;
    e1.name = x.S("marker");
    model::Event e2;  // has its own "event" attribute
    e2.time_unix_nano = 1700000000160000000ull;
    e2.name = x.S("named");
    e2.attributes = x.Attrs({{"event", x.Str("from-attr")}});
    b.span_events[row] = {static_cast<uint32_t>(b.events.size()), 3};
    b.events.push_back(e0);
    b.events.push_back(e1);
    b.events.push_back(e2);
  }
  b.dropped_events_count[row] = 4;
  {
    model::Link l0;
    l0.trace_id = MakeTraceId(7);
    l0.span_id = MakeSpanId(7);
    l0.trace_state = x.S("a=b");
    l0.attributes = x.Attrs({{"link.kind", x.Str("batch")}});
    l0.dropped_attributes_count = 8;
    l0.flags = 0x101;
    model::Link l1;  // minimal, marked child_of
    l1.trace_id = MakeTraceId(8);
    l1.span_id = MakeSpanId(8);
    l1.attributes = x.Attrs({{"opentracing.ref_type", x.Str("child_of")}});
    b.span_links[row] = {static_cast<uint32_t>(b.links.size()), 2};
    b.links.push_back(l0);
    b.links.push_back(l1);
  }
  b.dropped_links_count[row] = 5;
  b.status_code[row] = model::StatusCode::kError;
  b.status_message[row] = x.S("it failed");
  b.scope[row] = 0;

  // Row 1: minimal root span in the other resource.
  row = b.AddSpan();
  b.trace_id[row] = MakeTraceId(1);
  b.span_id[row] = MakeSpanId(2);
  b.name[row] = x.S("root");
  b.start_unix_nano[row] = 1000;
  b.end_unix_nano[row] = 999;  // negative duration clamps to 0
  b.status_code[row] = model::StatusCode::kOk;
  b.scope[row] = 1;

  // Row 2: back in scope 0.
  row = b.AddSpan();
  b.trace_id[row] = MakeTraceId(1);
  b.span_id[row] = MakeSpanId(3);
  b.parent_span_id[row] = MakeSpanId(1);
  b.name[row] = x.S("SELECT");
  b.kind[row] = model::SpanKind::kClient;
  b.start_unix_nano[row] = 1700000000130000000ull;
  b.end_unix_nano[row] = 1700000000140000999ull;
  b.span_attributes[row] = x.Attrs({{"db.system", x.Str("postgresql")}});
  {
    model::Link l;  // a link to the parent: turns the parent reference FOLLOWS_FROM
    l.trace_id = MakeTraceId(1);
    l.span_id = MakeSpanId(1);
    b.span_links[row] = {static_cast<uint32_t>(b.links.size()), 1};
    b.links.push_back(l);
  }
  b.scope[row] = 0;

  // Row 3: empty scope, status message only, internal kind.
  row = b.AddSpan();
  b.trace_id[row] = MakeTraceId(1);
  b.span_id[row] = MakeSpanId(4);
  b.parent_span_id[row] = MakeSpanId(1);
  b.name[row] = x.S("compute");
  b.kind[row] = model::SpanKind::kInternal;
  b.status_message[row] = x.S("note");
  b.scope[row] = 2;
  return batch;
}

inline std::shared_ptr<const model::SpanBatch> BatchB(bool invalid_utf8 = false) {
  auto batch = std::make_shared<model::SpanBatch>();
  model::SpanBatch& b = *batch;
  Builder x(&b);
  model::Resource r;
  r.attributes = x.Attrs({{"service.name", x.Str("svc-a")}, {"host.id", Builder::Int(42)}});
  r.service_name = x.S("svc-a");
  b.resources.push_back(r);
  model::Scope s;
  s.name = x.S("lib-c");
  b.scopes.push_back(s);
  const uint32_t row = b.AddSpan();
  b.trace_id[row] = MakeTraceId(1);
  b.span_id[row] = MakeSpanId(5);
  b.parent_span_id[row] = MakeSpanId(2);
  if (invalid_utf8) {
    b.name[row] = x.S("say \"hi\"\\\n\t\x01 \xff\xfe ok \xe2\x82");
  } else {
    b.name[row] = x.S("say \"hi\"\\\n\t\x01 caf\xc3\xa9 \xe2\x82\xac");
  }
  b.kind[row] = model::SpanKind::kProducer;
  b.start_unix_nano[row] = 5000;
  b.end_unix_nano[row] = 9000;
  if (invalid_utf8) {
    b.span_attributes[row] =
        x.Attrs({{"bad\xc3\x28key", x.Str("caf\xc3\xa9 \xed\xa0\x80 \xf4\x90\x80\x80 end")}});
  } else {
    b.span_attributes[row] = x.Attrs({{"q\"key", x.Str("line1\nline2\x1f\x7f")}});
  }
  b.scope[row] = 0;
  return batch;
}

// The spans in the order A0, A1, B0, A2, A3: A's resource 0 first, then A's
// resource 1, then B's resource.
inline std::vector<model::SpanRef> MixedRefs(const std::shared_ptr<const model::SpanBatch>& a,
                                             const std::shared_ptr<const model::SpanBatch>& b) {
  return {{a, 0}, {a, 1}, {b, 0}, {a, 2}, {a, 3}};
}

}  // namespace ariadne::encode::testing
