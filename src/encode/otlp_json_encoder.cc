// OTLP/JSON encoder: the protobuf JSON mapping with the OTLP exceptions
// (trace and span ids as lower-case hex, enums as integers), i.e.
// lowerCamelCase field names, 64-bit integers as decimal strings, bytes as
// base64.
//
// As in protobuf's JSON printer, fields holding their default value are left
// out, with these exceptions, written always because readers expect them:
// traceId, spanId, startTimeUnixNano, endTimeUnixNano, timeUnixNano,
// "resource" and "scope" (possibly as {}), and the "values" of an array or
// kvlist value. An attribute with an empty value is written "value":{}.

#include <string>
#include <string_view>

#include "encode/encode.h"
#include "encode/json_util.h"
#include "encode/span_groups.h"

namespace ariadne::encode {
namespace {

using internal::WriteJsonBase64;
using internal::WriteJsonDouble;
using internal::WriteJsonHex;
using internal::WriteJsonInt64String;
using internal::WriteJsonString;
using internal::WriteJsonUint64String;
using model::AnyValue;
using model::KeyValue;
using model::Range;
using model::SpanBatch;
using model::ValueType;

template <size_t N>
void Key(JsonWriter* w, const char (&name)[N]) {
  w->Key(name, N - 1);
}

void WriteKeyValue(JsonWriter* w, const SpanBatch& b, const KeyValue& kv);

void WriteAnyValue(JsonWriter* w, const SpanBatch& b, const AnyValue& v) {
  w->StartObject();
  switch (v.type) {
    case ValueType::kEmpty:
      break;
    case ValueType::kString:
      Key(w, "stringValue");
      WriteJsonString(w, v.bytes);
      break;
    case ValueType::kBool:
      Key(w, "boolValue");
      w->Bool(v.bool_value);
      break;
    case ValueType::kInt:
      Key(w, "intValue");
      WriteJsonInt64String(w, v.int_value);
      break;
    case ValueType::kDouble:
      Key(w, "doubleValue");
      WriteJsonDouble(w, v.double_value);
      break;
    case ValueType::kBytes:
      Key(w, "bytesValue");
      WriteJsonBase64(w, v.bytes);
      break;
    case ValueType::kArray:
      Key(w, "arrayValue");
      w->StartObject();
      Key(w, "values");
      w->StartArray();
      for (uint32_t i = 0; i < v.children.count; ++i) {
        WriteAnyValue(w, b, b.array_items[v.children.first + i]);
      }
      w->EndArray();
      w->EndObject();
      break;
    case ValueType::kKvList:
      Key(w, "kvlistValue");
      w->StartObject();
      Key(w, "values");
      w->StartArray();
      for (uint32_t i = 0; i < v.children.count; ++i) {
        WriteKeyValue(w, b, b.attributes[v.children.first + i]);
      }
      w->EndArray();
      w->EndObject();
      break;
  }
  w->EndObject();
}

void WriteKeyValue(JsonWriter* w, const SpanBatch& b, const KeyValue& kv) {
  w->StartObject();
  Key(w, "key");
  WriteJsonString(w, kv.key);
  Key(w, "value");
  WriteAnyValue(w, b, kv.value);
  w->EndObject();
}

// "attributes":[...] if any, then "droppedAttributesCount" if non-zero.
void WriteAttributes(JsonWriter* w, const SpanBatch& b, Range attributes, uint32_t dropped) {
  if (attributes.count != 0) {
    Key(w, "attributes");
    w->StartArray();
    for (uint32_t i = 0; i < attributes.count; ++i) {
      WriteKeyValue(w, b, b.attributes[attributes.first + i]);
    }
    w->EndArray();
  }
  if (dropped != 0) {
    Key(w, "droppedAttributesCount");
    w->Uint(dropped);
  }
}

template <size_t N>
void WriteStringField(JsonWriter* w, const char (&name)[N], std::string_view s) {
  if (s.empty()) return;
  Key(w, name);
  WriteJsonString(w, s);
}

template <size_t N>
void WriteUintField(JsonWriter* w, const char (&name)[N], uint32_t v) {
  if (v == 0) return;
  Key(w, name);
  w->Uint(v);
}

void WriteSpan(JsonWriter* w, const SpanBatch& b, uint32_t row) {
  w->StartObject();
  Key(w, "traceId");
  WriteJsonHex(w, b.trace_id[row]);
  Key(w, "spanId");
  WriteJsonHex(w, b.span_id[row]);
  if (!model::IsZero(b.parent_span_id[row])) {
    Key(w, "parentSpanId");
    WriteJsonHex(w, b.parent_span_id[row]);
  }
  WriteStringField(w, "traceState", b.trace_state[row]);
  WriteUintField(w, "flags", b.flags[row]);
  WriteStringField(w, "name", b.name[row]);
  WriteUintField(w, "kind", static_cast<uint32_t>(b.kind[row]));
  Key(w, "startTimeUnixNano");
  WriteJsonUint64String(w, b.start_unix_nano[row]);
  Key(w, "endTimeUnixNano");
  WriteJsonUint64String(w, b.end_unix_nano[row]);
  WriteAttributes(w, b, b.span_attributes[row], b.dropped_attributes_count[row]);

  const Range events = b.span_events[row];
  if (events.count != 0) {
    Key(w, "events");
    w->StartArray();
    for (uint32_t i = 0; i < events.count; ++i) {
      const model::Event& e = b.events[events.first + i];
      w->StartObject();
      Key(w, "timeUnixNano");
      WriteJsonUint64String(w, e.time_unix_nano);
      WriteStringField(w, "name", e.name);
      WriteAttributes(w, b, e.attributes, e.dropped_attributes_count);
      w->EndObject();
    }
    w->EndArray();
  }
  WriteUintField(w, "droppedEventsCount", b.dropped_events_count[row]);

  const Range links = b.span_links[row];
  if (links.count != 0) {
    Key(w, "links");
    w->StartArray();
    for (uint32_t i = 0; i < links.count; ++i) {
      const model::Link& l = b.links[links.first + i];
      w->StartObject();
      Key(w, "traceId");
      WriteJsonHex(w, l.trace_id);
      Key(w, "spanId");
      WriteJsonHex(w, l.span_id);
      WriteStringField(w, "traceState", l.trace_state);
      WriteAttributes(w, b, l.attributes, l.dropped_attributes_count);
      WriteUintField(w, "flags", l.flags);
      w->EndObject();
    }
    w->EndArray();
  }
  WriteUintField(w, "droppedLinksCount", b.dropped_links_count[row]);

  if (b.status_code[row] != model::StatusCode::kUnset || !b.status_message[row].empty()) {
    Key(w, "status");
    w->StartObject();
    WriteStringField(w, "message", b.status_message[row]);
    WriteUintField(w, "code", static_cast<uint32_t>(b.status_code[row]));
    w->EndObject();
  }
  w->EndObject();
}

}  // namespace

void EncodeOtlpJson(std::span<const model::SpanRef> spans, std::string* out) {
  const internal::SpanGroups groups = internal::GroupSpans(spans);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(&w, "resourceSpans");
  w.StartArray();
  for (const internal::SpanGroups::ResourceGroup& rg : groups.resources) {
    const SpanBatch& rb = *rg.batch;
    const model::Resource& res = rb.resources[rg.resource];
    w.StartObject();
    Key(&w, "resource");
    w.StartObject();
    WriteAttributes(&w, rb, res.attributes, res.dropped_attributes_count);
    w.EndObject();
    Key(&w, "scopeSpans");
    w.StartArray();
    for (uint32_t s = rg.first_scope; s < rg.first_scope + rg.scope_count; ++s) {
      const internal::SpanGroups::ScopeGroup& sg = groups.scopes[s];
      const SpanBatch& sb = *sg.batch;
      const model::Scope& sc = sb.scopes[sg.scope];
      w.StartObject();
      Key(&w, "scope");
      w.StartObject();
      WriteStringField(&w, "name", sc.name);
      WriteStringField(&w, "version", sc.version);
      WriteAttributes(&w, sb, sc.attributes, sc.dropped_attributes_count);
      w.EndObject();
      Key(&w, "spans");
      w.StartArray();
      for (uint32_t i = sg.first_span; i < sg.first_span + sg.span_count; ++i) {
        WriteSpan(&w, *groups.spans[i].batch, groups.spans[i].row);
      }
      w.EndArray();
      WriteStringField(&w, "schemaUrl", sc.schema_url);
      w.EndObject();
    }
    w.EndArray();
    WriteStringField(&w, "schemaUrl", res.schema_url);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out->append(buffer.GetString(), buffer.GetSize());
}

}  // namespace ariadne::encode
