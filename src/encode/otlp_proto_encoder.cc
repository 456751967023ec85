// OTLP protobuf encoder.
//
// Two passes over the spans: the first computes the encoded size of every
// message, the second writes them with a protozero writer into an output
// sized exactly once, each nested message's length written up front. Nothing
// is moved afterwards (an unknown-size submessage would reserve five bytes
// for its length and shift its whole body back when closed, at every nesting
// level) and nothing is allocated per span.
// The *Size functions below must mirror the Write* functions exactly: debug
// builds assert it for every message, and the tests parse the output with
// the generated protobuf classes and re-serialize it byte for byte.

#include <array>
#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "encode/encode.h"
#include "encode/span_groups.h"
#include "model/otlp_fields.h"
#include "protozero/basic_pbf_writer.hpp"
#include "protozero/buffer_fixed.hpp"

namespace ariadne::encode {
namespace {

using model::AnyValue;
using model::Event;
using model::KeyValue;
using model::Link;
using model::Range;
using model::Resource;
using model::Scope;
using model::SpanBatch;
using model::ValueType;
using protozero::pbf_tag_type;
// The output is sized before writing, so the writer works on a fixed buffer:
// no std::string capacity checks per byte.
using pbf_writer = protozero::basic_pbf_writer<protozero::fixed_size_buffer_adaptor>;

// Field numbers: model/otlp_fields.h.
namespace request = model::otlp_field::request;
namespace resource_spans = model::otlp_field::resource_spans;
namespace resource = model::otlp_field::resource;
namespace scope_spans = model::otlp_field::scope_spans;
namespace scope = model::otlp_field::scope;
namespace span = model::otlp_field::span;
namespace event = model::otlp_field::event;
namespace link = model::otlp_field::link;
namespace status = model::otlp_field::status;
namespace any_value = model::otlp_field::any_value;
namespace key_value = model::otlp_field::key_value;
using model::otlp_field::kListValues;

// ---------------------------------------------------------------------------
// Sizes.

constexpr size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
constexpr size_t TagSize(pbf_tag_type field) { return VarintSize(uint64_t{field} << 3); }

// A length-delimited field with a payload of `len` bytes (always present).
constexpr size_t LenFieldSize(pbf_tag_type field, size_t len) {
  return TagSize(field) + VarintSize(len) + len;
}
// Proto3 scalars: absent when zero / empty.
constexpr size_t StringFieldSize(pbf_tag_type field, std::string_view s) {
  return s.empty() ? 0 : LenFieldSize(field, s.size());
}
constexpr size_t VarintFieldSize(pbf_tag_type field, uint64_t v) {
  return v == 0 ? 0 : TagSize(field) + VarintSize(v);
}
constexpr size_t Fixed64FieldSize(pbf_tag_type field, uint64_t v) {
  return v == 0 ? 0 : TagSize(field) + 8;
}
constexpr size_t Fixed32FieldSize(pbf_tag_type field, uint32_t v) {
  return v == 0 ? 0 : TagSize(field) + 4;
}

size_t KeyValueSize(const SpanBatch& b, const KeyValue& kv);
size_t AnyValueSize(const SpanBatch& b, const AnyValue& v);

// Size of an ArrayValue / KeyValueList message.
size_t ArrayBodySize(const SpanBatch& b, const AnyValue& v) {
  size_t n = 0;
  for (uint32_t i = 0; i < v.children.count; ++i) {
    n += LenFieldSize(kListValues, AnyValueSize(b, b.array_items[v.children.first + i]));
  }
  return n;
}
size_t KvListBodySize(const SpanBatch& b, const AnyValue& v) {
  size_t n = 0;
  for (uint32_t i = 0; i < v.children.count; ++i) {
    n += LenFieldSize(kListValues, KeyValueSize(b, b.attributes[v.children.first + i]));
  }
  return n;
}

// Size of the AnyValue message (its oneof field, present even when the value
// is the type's default, as protobuf writes a set oneof).
size_t AnyValueSize(const SpanBatch& b, const AnyValue& v) {
  switch (v.type) {
    case ValueType::kEmpty:
      return 0;
    case ValueType::kString:
      return LenFieldSize(any_value::kString, v.bytes.size());
    case ValueType::kBool:
      return TagSize(any_value::kBool) + 1;
    case ValueType::kInt:
      return TagSize(any_value::kInt) + VarintSize(static_cast<uint64_t>(v.int_value));
    case ValueType::kDouble:
      return TagSize(any_value::kDouble) + 8;
    case ValueType::kBytes:
      return LenFieldSize(any_value::kBytes, v.bytes.size());
    case ValueType::kArray:
      return LenFieldSize(any_value::kArray, ArrayBodySize(b, v));
    case ValueType::kKvList:
      return LenFieldSize(any_value::kKvList, KvListBodySize(b, v));
  }
  return 0;
}

// A KeyValue with an empty value leaves the value field out.
size_t KeyValueSize(const SpanBatch& b, const KeyValue& kv) {
  size_t n = StringFieldSize(key_value::kKey, kv.key);
  if (kv.value.type != ValueType::kEmpty) {
    n += LenFieldSize(key_value::kValue, AnyValueSize(b, kv.value));
  }
  return n;
}

// Size of a repeated KeyValue field.
size_t AttributesSize(const SpanBatch& b, pbf_tag_type field, Range r) {
  size_t n = 0;
  for (uint32_t i = 0; i < r.count; ++i) {
    n += LenFieldSize(field, KeyValueSize(b, b.attributes[r.first + i]));
  }
  return n;
}

size_t EventSize(const SpanBatch& b, const Event& e) {
  return Fixed64FieldSize(event::kTimeUnixNano, e.time_unix_nano) +
         StringFieldSize(event::kName, e.name) +
         AttributesSize(b, event::kAttributes, e.attributes) +
         VarintFieldSize(event::kDroppedAttributesCount, e.dropped_attributes_count);
}

size_t LinkSize(const SpanBatch& b, const Link& l) {
  return LenFieldSize(link::kTraceId, l.trace_id.size()) +
         LenFieldSize(link::kSpanId, l.span_id.size()) +
         StringFieldSize(link::kTraceState, l.trace_state) +
         AttributesSize(b, link::kAttributes, l.attributes) +
         VarintFieldSize(link::kDroppedAttributesCount, l.dropped_attributes_count) +
         Fixed32FieldSize(link::kFlags, l.flags);
}

size_t StatusSize(const SpanBatch& b, uint32_t row) {
  return StringFieldSize(status::kMessage, b.status_message[row]) +
         VarintFieldSize(status::kCode, static_cast<uint64_t>(b.status_code[row]));
}

size_t SpanSize(const SpanBatch& b, uint32_t row) {
  size_t n = LenFieldSize(span::kTraceId, b.trace_id[row].size()) +
             LenFieldSize(span::kSpanId, b.span_id[row].size()) +
             StringFieldSize(span::kTraceState, b.trace_state[row]);
  if (!model::IsZero(b.parent_span_id[row])) {
    n += LenFieldSize(span::kParentSpanId, b.parent_span_id[row].size());
  }
  n += StringFieldSize(span::kName, b.name[row]) +
       VarintFieldSize(span::kKind, static_cast<uint64_t>(b.kind[row])) +
       Fixed64FieldSize(span::kStartTimeUnixNano, b.start_unix_nano[row]) +
       Fixed64FieldSize(span::kEndTimeUnixNano, b.end_unix_nano[row]) +
       AttributesSize(b, span::kAttributes, b.span_attributes[row]) +
       VarintFieldSize(span::kDroppedAttributesCount, b.dropped_attributes_count[row]);
  const Range events = b.span_events[row];
  for (uint32_t i = 0; i < events.count; ++i) {
    n += LenFieldSize(span::kEvents, EventSize(b, b.events[events.first + i]));
  }
  n += VarintFieldSize(span::kDroppedEventsCount, b.dropped_events_count[row]);
  const Range links = b.span_links[row];
  for (uint32_t i = 0; i < links.count; ++i) {
    n += LenFieldSize(span::kLinks, LinkSize(b, b.links[links.first + i]));
  }
  n += VarintFieldSize(span::kDroppedLinksCount, b.dropped_links_count[row]);
  if (const size_t status = StatusSize(b, row); status != 0) {
    n += LenFieldSize(span::kStatus, status);
  }
  n += Fixed32FieldSize(span::kFlags, b.flags[row]);
  return n;
}

size_t ResourceSize(const SpanBatch& b, const Resource& r) {
  return AttributesSize(b, resource::kAttributes, r.attributes) +
         VarintFieldSize(resource::kDroppedAttributesCount, r.dropped_attributes_count);
}

size_t ScopeSize(const SpanBatch& b, const Scope& s) {
  return StringFieldSize(scope::kName, s.name) + StringFieldSize(scope::kVersion, s.version) +
         AttributesSize(b, scope::kAttributes, s.attributes) +
         VarintFieldSize(scope::kDroppedAttributesCount, s.dropped_attributes_count);
}

// An empty message is left out where the field is optional (resource, scope,
// status); elsewhere it is written with a zero length.
size_t OptionalMessageSize(pbf_tag_type field, size_t size) {
  return size == 0 ? 0 : LenFieldSize(field, size);
}

// ---------------------------------------------------------------------------
// Writers. Each mirrors the Size function of the same message.
//
// One protozero writer writes every field into the exactly-sized buffer.
// A nested message's tag and length (known from the Size functions) go
// straight into the buffer and its fields follow through the same writer, so
// there is no per-message open/close work. (protozero's own known-size
// sub-writers are not usable here: in 1.7 a parent whose known-size
// submessage was closed trips protozero's assertions on its next field.)
class Output {
 public:
  explicit Output(protozero::fixed_size_buffer_adaptor* buffer) : buffer_(buffer), w_(*buffer) {}

  pbf_writer& w() { return w_; }
  size_t size() const { return buffer_->size(); }

  // Writes message `field` whose body, `size` bytes, `write_body` then writes.
  template <typename WriteBody>
  void Message(pbf_tag_type field, size_t size, WriteBody&& write_body) {
    protozero::add_varint_to_buffer(
        buffer_,
        (uint64_t{field} << 3) | static_cast<uint32_t>(protozero::pbf_wire_type::length_delimited));
    protozero::add_varint_to_buffer(buffer_, size);
    [[maybe_unused]] const size_t body_start = buffer_->size();
    write_body();
    assert(buffer_->size() - body_start == size);  // Size and Write functions agree
  }

  void String(pbf_tag_type field, std::string_view s) {
    if (!s.empty()) w_.add_string(field, s.data(), s.size());
  }
  template <size_t N>
  void Id(pbf_tag_type field, const std::array<uint8_t, N>& id) {
    w_.add_bytes(field, reinterpret_cast<const char*>(id.data()), N);
  }
  void Uint32(pbf_tag_type field, uint32_t v) {
    if (v != 0) w_.add_uint32(field, v);
  }
  void Fixed64(pbf_tag_type field, uint64_t v) {
    if (v != 0) w_.add_fixed64(field, v);
  }
  void Fixed32(pbf_tag_type field, uint32_t v) {
    if (v != 0) w_.add_fixed32(field, v);
  }
  void Enum(pbf_tag_type field, int32_t v) {
    if (v != 0) w_.add_enum(field, v);
  }

 private:
  protozero::fixed_size_buffer_adaptor* buffer_;
  pbf_writer w_;
};

void WriteKeyValue(Output& o, const SpanBatch& b, const KeyValue& kv);

void WriteAnyValue(Output& o, const SpanBatch& b, const AnyValue& v) {
  pbf_writer& w = o.w();
  switch (v.type) {
    case ValueType::kEmpty:
      return;
    case ValueType::kString:
      w.add_string(any_value::kString, v.bytes.data(), v.bytes.size());
      return;
    case ValueType::kBool:
      w.add_bool(any_value::kBool, v.bool_value);
      return;
    case ValueType::kInt:
      w.add_int64(any_value::kInt, v.int_value);
      return;
    case ValueType::kDouble:
      w.add_double(any_value::kDouble, v.double_value);
      return;
    case ValueType::kBytes:
      w.add_bytes(any_value::kBytes, v.bytes.data(), v.bytes.size());
      return;
    case ValueType::kArray:
      o.Message(any_value::kArray, ArrayBodySize(b, v), [&] {
        for (uint32_t i = 0; i < v.children.count; ++i) {
          const AnyValue& item = b.array_items[v.children.first + i];
          o.Message(kListValues, AnyValueSize(b, item), [&] { WriteAnyValue(o, b, item); });
        }
      });
      return;
    case ValueType::kKvList:
      o.Message(any_value::kKvList, KvListBodySize(b, v), [&] {
        for (uint32_t i = 0; i < v.children.count; ++i) {
          const KeyValue& kv = b.attributes[v.children.first + i];
          o.Message(kListValues, KeyValueSize(b, kv), [&] { WriteKeyValue(o, b, kv); });
        }
      });
      return;
  }
}

void WriteKeyValue(Output& o, const SpanBatch& b, const KeyValue& kv) {
  o.String(key_value::kKey, kv.key);
  if (kv.value.type != ValueType::kEmpty) {
    o.Message(key_value::kValue, AnyValueSize(b, kv.value), [&] { WriteAnyValue(o, b, kv.value); });
  }
}

void WriteAttributes(Output& o, const SpanBatch& b, pbf_tag_type field, Range r) {
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = b.attributes[r.first + i];
    o.Message(field, KeyValueSize(b, kv), [&] { WriteKeyValue(o, b, kv); });
  }
}

void WriteEvent(Output& o, const SpanBatch& b, const Event& e) {
  o.Fixed64(event::kTimeUnixNano, e.time_unix_nano);
  o.String(event::kName, e.name);
  WriteAttributes(o, b, event::kAttributes, e.attributes);
  o.Uint32(event::kDroppedAttributesCount, e.dropped_attributes_count);
}

void WriteLink(Output& o, const SpanBatch& b, const Link& l) {
  o.Id(link::kTraceId, l.trace_id);
  o.Id(link::kSpanId, l.span_id);
  o.String(link::kTraceState, l.trace_state);
  WriteAttributes(o, b, link::kAttributes, l.attributes);
  o.Uint32(link::kDroppedAttributesCount, l.dropped_attributes_count);
  o.Fixed32(link::kFlags, l.flags);
}

void WriteSpan(Output& o, const SpanBatch& b, uint32_t row) {
  o.Id(span::kTraceId, b.trace_id[row]);
  o.Id(span::kSpanId, b.span_id[row]);
  o.String(span::kTraceState, b.trace_state[row]);
  if (!model::IsZero(b.parent_span_id[row])) o.Id(span::kParentSpanId, b.parent_span_id[row]);
  o.String(span::kName, b.name[row]);
  o.Enum(span::kKind, static_cast<int32_t>(b.kind[row]));
  o.Fixed64(span::kStartTimeUnixNano, b.start_unix_nano[row]);
  o.Fixed64(span::kEndTimeUnixNano, b.end_unix_nano[row]);
  WriteAttributes(o, b, span::kAttributes, b.span_attributes[row]);
  o.Uint32(span::kDroppedAttributesCount, b.dropped_attributes_count[row]);
  const Range events = b.span_events[row];
  for (uint32_t i = 0; i < events.count; ++i) {
    const Event& e = b.events[events.first + i];
    o.Message(span::kEvents, EventSize(b, e), [&] { WriteEvent(o, b, e); });
  }
  o.Uint32(span::kDroppedEventsCount, b.dropped_events_count[row]);
  const Range links = b.span_links[row];
  for (uint32_t i = 0; i < links.count; ++i) {
    const Link& l = b.links[links.first + i];
    o.Message(span::kLinks, LinkSize(b, l), [&] { WriteLink(o, b, l); });
  }
  o.Uint32(span::kDroppedLinksCount, b.dropped_links_count[row]);
  if (const size_t size = StatusSize(b, row); size != 0) {
    o.Message(span::kStatus, size, [&] {
      o.String(status::kMessage, b.status_message[row]);
      o.Enum(status::kCode, static_cast<int32_t>(b.status_code[row]));
    });
  }
  o.Fixed32(span::kFlags, b.flags[row]);
}

void Encode(const internal::SpanGroups& groups, std::string* buffer) {
  using ResourceGroup = internal::SpanGroups::ResourceGroup;
  using ScopeGroup = internal::SpanGroups::ScopeGroup;

  // Pass 1: sizes. Span sizes are kept (they are the bulk of the work);
  // resource and scope messages are small and sized again when written.
  std::vector<uint32_t> span_sizes(groups.spans.size());
  std::vector<size_t> scope_sizes(groups.scopes.size());
  std::vector<size_t> resource_sizes(groups.resources.size());
  size_t total = 0;
  for (size_t r = 0; r < groups.resources.size(); ++r) {
    const ResourceGroup& rg = groups.resources[r];
    const Resource& res = rg.batch->resources[rg.resource];
    size_t rs_size = OptionalMessageSize(resource_spans::kResource, ResourceSize(*rg.batch, res)) +
                     StringFieldSize(resource_spans::kSchemaUrl, res.schema_url);
    for (uint32_t s = rg.first_scope; s < rg.first_scope + rg.scope_count; ++s) {
      const ScopeGroup& sg = groups.scopes[s];
      const Scope& sc = sg.batch->scopes[sg.scope];
      size_t ss_size = OptionalMessageSize(scope_spans::kScope, ScopeSize(*sg.batch, sc)) +
                       StringFieldSize(scope_spans::kSchemaUrl, sc.schema_url);
      for (uint32_t i = sg.first_span; i < sg.first_span + sg.span_count; ++i) {
        const size_t size = SpanSize(*groups.spans[i].batch, groups.spans[i].row);
        assert(size <= UINT32_MAX);
        span_sizes[i] = static_cast<uint32_t>(size);
        ss_size += LenFieldSize(scope_spans::kSpans, size);
      }
      scope_sizes[s] = ss_size;
      rs_size += LenFieldSize(resource_spans::kScopeSpans, ss_size);
    }
    assert(rs_size <= UINT32_MAX);  // protobuf messages are limited to 2 GiB
    resource_sizes[r] = rs_size;
    total += LenFieldSize(request::kResourceSpans, rs_size);
  }

  // Pass 2: write into the exactly-sized output. (A mismatch with pass 1
  // would throw protozero::buffer_is_full, or trip the asserts.)
  const size_t start = buffer->size();
  buffer->resize(start + total);
  protozero::fixed_size_buffer_adaptor fixed(buffer->data() + start, total);
  Output o(&fixed);
  for (size_t r = 0; r < groups.resources.size(); ++r) {
    const ResourceGroup& rg = groups.resources[r];
    const SpanBatch& rb = *rg.batch;
    const Resource& res = rb.resources[rg.resource];
    o.Message(request::kResourceSpans, resource_sizes[r], [&] {
      if (const size_t size = ResourceSize(rb, res); size != 0) {
        o.Message(resource_spans::kResource, size, [&] {
          WriteAttributes(o, rb, resource::kAttributes, res.attributes);
          o.Uint32(resource::kDroppedAttributesCount, res.dropped_attributes_count);
        });
      }
      for (uint32_t s = rg.first_scope; s < rg.first_scope + rg.scope_count; ++s) {
        const ScopeGroup& sg = groups.scopes[s];
        const SpanBatch& sb = *sg.batch;
        const Scope& sc = sb.scopes[sg.scope];
        o.Message(resource_spans::kScopeSpans, scope_sizes[s], [&] {
          if (const size_t size = ScopeSize(sb, sc); size != 0) {
            o.Message(scope_spans::kScope, size, [&] {
              o.String(scope::kName, sc.name);
              o.String(scope::kVersion, sc.version);
              WriteAttributes(o, sb, scope::kAttributes, sc.attributes);
              o.Uint32(scope::kDroppedAttributesCount, sc.dropped_attributes_count);
            });
          }
          for (uint32_t i = sg.first_span; i < sg.first_span + sg.span_count; ++i) {
            const internal::SpanGroups::Span& sp = groups.spans[i];
            o.Message(scope_spans::kSpans, span_sizes[i], [&] { WriteSpan(o, *sp.batch, sp.row); });
          }
          o.String(scope_spans::kSchemaUrl, sc.schema_url);
        });
      }
      o.String(resource_spans::kSchemaUrl, res.schema_url);
    });
  }
  assert(o.size() == total);
  buffer->resize(start + o.size());
}

}  // namespace

void EncodeOtlpProto(std::span<const model::SpanRef> spans, std::string* out) {
  Encode(internal::GroupSpans(spans), out);
}

void EncodeOtlpProto(const model::SpanBatch& batch, std::string* out) {
  Encode(internal::GroupSpans(batch), out);
}

}  // namespace ariadne::encode
