#include "encode/jaeger_json.h"

#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "model/value_format.h"

namespace ariadne::encode {
namespace {

using internal::WriteJsonBase64;
using internal::WriteJsonHex;
using internal::WriteJsonString;
using model::AnyValue;
using model::KeyValue;
using model::Range;
using model::SpanBatch;
using model::ValueType;

constexpr std::string_view kRefTypeAttribute = "opentracing.ref_type";
constexpr std::string_view kUnknownService = "unknown_service";

template <size_t N>
void Key(JsonWriter* w, const char (&name)[N]) {
  w->Key(name, N - 1);
}

void StartTag(std::string_view key, std::string_view type, JsonWriter* w) {
  w->StartObject();
  Key(w, "key");
  WriteJsonString(w, key);
  Key(w, "type");
  w->String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
  Key(w, "value");
}

void WriteAttributeTags(const SpanBatch& b, Range r, JsonWriter* w) {
  for (uint32_t i = 0; i < r.count; ++i) WriteJaegerAttributeTag(b, b.attributes[r.first + i], w);
}

bool HasKey(const SpanBatch& b, Range r, std::string_view key) {
  for (uint32_t i = 0; i < r.count; ++i) {
    if (b.attributes[r.first + i].key == key) return true;
  }
  return false;
}

std::string_view RefType(const SpanBatch& b, const model::Link& link) {
  for (uint32_t i = 0; i < link.attributes.count; ++i) {
    const KeyValue& kv = b.attributes[link.attributes.first + i];
    if (kv.key == kRefTypeAttribute) {
      return kv.value.type == ValueType::kString && kv.value.bytes == "child_of" ? "CHILD_OF"
                                                                                 : "FOLLOWS_FROM";
    }
  }
  return "FOLLOWS_FROM";
}

void WriteReference(std::string_view ref_type, const model::TraceId& trace_id,
                    const model::SpanId& span_id, JsonWriter* w) {
  w->StartObject();
  Key(w, "refType");
  w->String(ref_type.data(), static_cast<rapidjson::SizeType>(ref_type.size()));
  Key(w, "traceID");
  WriteJsonHex(w, trace_id);
  Key(w, "spanID");
  WriteJsonHex(w, span_id);
  w->EndObject();
}

void WriteReferences(const SpanBatch& b, uint32_t row, JsonWriter* w) {
  const model::TraceId& trace_id = b.trace_id[row];
  const model::SpanId& parent = b.parent_span_id[row];
  const bool has_parent = !model::IsZero(parent);
  const Range links = b.span_links[row];
  const auto is_parent = [&](const model::Link& l) {
    return has_parent && l.trace_id == trace_id && l.span_id == parent;
  };
  Key(w, "references");
  w->StartArray();
  if (has_parent) {
    // A link to the parent decides the parent reference's type.
    std::string_view type = "CHILD_OF";
    for (uint32_t i = 0; i < links.count; ++i) {
      const model::Link& l = b.links[links.first + i];
      if (is_parent(l)) type = RefType(b, l);
    }
    WriteReference(type, trace_id, parent, w);
  }
  for (uint32_t i = 0; i < links.count; ++i) {
    const model::Link& l = b.links[links.first + i];
    if (is_parent(l)) continue;
    WriteReference(RefType(b, l), l.trace_id, l.span_id, w);
  }
  w->EndArray();
}

void WriteTags(const SpanBatch& b, uint32_t row, JsonWriter* w) {
  const model::Scope& scope = b.scopes[b.scope[row]];
  Key(w, "tags");
  w->StartArray();
  if (!scope.name.empty()) WriteJaegerStringTag("otel.scope.name", scope.name, w);
  if (!scope.version.empty()) WriteJaegerStringTag("otel.scope.version", scope.version, w);
  WriteAttributeTags(b, b.span_attributes[row], w);
  if (const std::string_view kind = model::SpanKindShortName(b.kind[row]); !kind.empty()) {
    WriteJaegerStringTag("span.kind", kind, w);
  }
  switch (b.status_code[row]) {
    case model::StatusCode::kOk:
      WriteJaegerStringTag("otel.status_code", "OK", w);
      break;
    case model::StatusCode::kError:
      WriteJaegerStringTag("otel.status_code", "ERROR", w);
      WriteJaegerBoolTag("error", true, w);
      break;
    case model::StatusCode::kUnset:
      break;
  }
  if (!b.status_message[row].empty()) {
    WriteJaegerStringTag("otel.status_description", b.status_message[row], w);
  }
  if (!b.trace_state[row].empty()) {
    WriteJaegerStringTag("w3c.tracestate", b.trace_state[row], w);
  }
  if (b.dropped_attributes_count[row] != 0) {
    WriteJaegerInt64Tag("otel.dropped_attributes_count", b.dropped_attributes_count[row], w);
  }
  if (b.dropped_events_count[row] != 0) {
    WriteJaegerInt64Tag("otel.dropped_events_count", b.dropped_events_count[row], w);
  }
  if (b.dropped_links_count[row] != 0) {
    WriteJaegerInt64Tag("otel.dropped_links_count", b.dropped_links_count[row], w);
  }
  w->EndArray();
}

void WriteLogs(const SpanBatch& b, uint32_t row, JsonWriter* w) {
  const Range events = b.span_events[row];
  Key(w, "logs");
  w->StartArray();
  for (uint32_t i = 0; i < events.count; ++i) {
    const model::Event& e = b.events[events.first + i];
    w->StartObject();
    Key(w, "timestamp");
    w->Uint64(e.time_unix_nano / 1000);
    Key(w, "fields");
    w->StartArray();
    if (!e.name.empty() && !HasKey(b, e.attributes, "event")) {
      WriteJaegerStringTag("event", e.name, w);
    }
    WriteAttributeTags(b, e.attributes, w);
    if (e.dropped_attributes_count != 0) {
      WriteJaegerInt64Tag("otel.dropped_attributes_count", e.dropped_attributes_count, w);
    }
    w->EndArray();
    w->EndObject();
  }
  w->EndArray();
}

void WriteProcessId(uint32_t index, JsonWriter* w) {
  char buf[16] = {'p'};
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf), index + 1);
  w->String(buf, static_cast<rapidjson::SizeType>(end - buf));
}

void WriteProcessKey(uint32_t index, JsonWriter* w) {
  char buf[16] = {'p'};
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf), index + 1);
  w->Key(buf, static_cast<rapidjson::SizeType>(end - buf));
}

void WriteProcess(const SpanBatch& b, uint32_t resource, JsonWriter* w) {
  const model::Resource& res = b.resources[resource];
  w->StartObject();
  Key(w, "serviceName");
  WriteJsonString(w, res.service_name.empty() ? kUnknownService : res.service_name);
  Key(w, "tags");
  w->StartArray();
  for (uint32_t i = 0; i < res.attributes.count; ++i) {
    const KeyValue& kv = b.attributes[res.attributes.first + i];
    if (kv.key == "service.name") continue;
    WriteJaegerAttributeTag(b, kv, w);
  }
  if (res.dropped_attributes_count != 0) {
    WriteJaegerInt64Tag("otel.dropped_attributes_count", res.dropped_attributes_count, w);
  }
  w->EndArray();
  w->EndObject();
}

}  // namespace

void WriteJaegerAttributeTag(const SpanBatch& batch, const KeyValue& kv, JsonWriter* w) {
  const AnyValue& v = kv.value;
  switch (v.type) {
    case ValueType::kEmpty:
      StartTag(kv.key, "string", w);
      w->String("", 0);
      break;
    case ValueType::kString:
      StartTag(kv.key, "string", w);
      WriteJsonString(w, v.bytes);
      break;
    case ValueType::kBool:
      StartTag(kv.key, "bool", w);
      w->Bool(v.bool_value);
      break;
    case ValueType::kInt:
      StartTag(kv.key, "int64", w);
      w->Int64(v.int_value);
      break;
    case ValueType::kDouble:
      if (std::isfinite(v.double_value)) {
        StartTag(kv.key, "float64", w);
        w->Double(v.double_value);
      } else {
        StartTag(kv.key, "string", w);
        internal::WriteJsonDouble(w, v.double_value);  // "NaN", "Infinity", ...
      }
      break;
    case ValueType::kBytes:
      StartTag(kv.key, "binary", w);
      WriteJsonBase64(w, v.bytes);
      break;
    case ValueType::kArray:
    case ValueType::kKvList:
      StartTag(kv.key, "string", w);
      WriteJsonString(w, model::ValueToString(batch, v));
      break;
  }
  w->EndObject();
}

void WriteJaegerStringTag(std::string_view key, std::string_view value, JsonWriter* w) {
  StartTag(key, "string", w);
  WriteJsonString(w, value);
  w->EndObject();
}

void WriteJaegerBoolTag(std::string_view key, bool value, JsonWriter* w) {
  StartTag(key, "bool", w);
  w->Bool(value);
  w->EndObject();
}

void WriteJaegerInt64Tag(std::string_view key, int64_t value, JsonWriter* w) {
  StartTag(key, "int64", w);
  w->Int64(value);
  w->EndObject();
}

void WriteJaegerTrace(std::span<const model::SpanRef> spans, JsonWriter* w) {
  // Processes: one per (batch, resource), numbered in order of appearance.
  absl::flat_hash_map<std::pair<const SpanBatch*, uint32_t>, uint32_t> process_ids;
  std::vector<std::pair<const SpanBatch*, uint32_t>> processes;

  w->StartObject();
  Key(w, "traceID");
  const model::SpanRef* first = nullptr;
  for (const model::SpanRef& ref : spans) {
    if (ref.batch != nullptr) {
      first = &ref;
      break;
    }
  }
  if (first != nullptr) {
    WriteJsonHex(w, first->batch->trace_id[first->row]);
  } else {
    w->String("", 0);
  }
  Key(w, "spans");
  w->StartArray();
  for (const model::SpanRef& ref : spans) {
    if (ref.batch == nullptr) continue;
    const SpanBatch& b = *ref.batch;
    const uint32_t row = ref.row;
    const uint32_t resource = b.scopes[b.scope[row]].resource;
    auto [it, inserted] = process_ids.try_emplace(std::make_pair(&b, resource),
                                                  static_cast<uint32_t>(processes.size()));
    if (inserted) processes.emplace_back(&b, resource);

    w->StartObject();
    Key(w, "traceID");
    WriteJsonHex(w, b.trace_id[row]);
    Key(w, "spanID");
    WriteJsonHex(w, b.span_id[row]);
    Key(w, "flags");
    w->Uint(b.flags[row] & 0xFF);
    Key(w, "operationName");
    WriteJsonString(w, b.name[row]);
    WriteReferences(b, row, w);
    Key(w, "startTime");
    w->Uint64(b.start_unix_nano[row] / 1000);
    Key(w, "duration");
    w->Uint64(b.duration_nano(row) / 1000);
    WriteTags(b, row, w);
    WriteLogs(b, row, w);
    Key(w, "processID");
    WriteProcessId(it->second, w);
    Key(w, "warnings");
    w->Null();
    w->EndObject();
  }
  w->EndArray();
  Key(w, "processes");
  w->StartObject();
  for (uint32_t i = 0; i < processes.size(); ++i) {
    WriteProcessKey(i, w);
    WriteProcess(*processes[i].first, processes[i].second, w);
  }
  w->EndObject();
  Key(w, "warnings");
  w->Null();
  w->EndObject();
}

}  // namespace ariadne::encode
