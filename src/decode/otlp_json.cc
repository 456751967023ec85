// OTLP/JSON -> SpanBatch, with the simdjson DOM.
//
// The encoding is the protobuf JSON mapping of ExportTraceServiceRequest with
// the OTLP exceptions: ids are hex strings, not base64; enum values may be
// integers or names. Accepted on top of the spec, as receivers commonly do:
// snake_case field names, 64-bit integers as numbers or strings, the old
// "instrumentationLibrarySpans"/"instrumentationLibrary" names. Unknown keys
// are ignored; null counts as absent.
//
// Two levels of errors, as decode.h describes:
//  - shape errors (a value of the wrong JSON type where the schema wants an
//    object, array, string, number or boolean) make the whole request
//    malformed: InvalidArgument with the JSON path, nothing kept;
//  - value errors (an id that is not hex of the right length, an enum name
//    that does not exist, a numeric string that does not parse, bad base64,
//    limits) reject the span (or the resource/scope and all its spans).
//
// simdjson unescapes strings into its own buffers, so every string kept is
// copied into the batch's arena.

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "decode/decode.h"
#include "decode/decode_internal.h"
#include "decode/json_util.h"
#include "decode/utf8.h"

namespace ariadne::decode {
namespace {

using internal::FieldIs;
using internal::NumberResult;
using model::AnyValue;
using model::Range;
using model::SpanBatch;
using model::ValueType;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Number of elements of `a` (simdjson saturates size() for huge arrays).
size_t Count(array a) {
  size_t n = a.size();
  if (n < 0xFFFFFF) return n;
  n = 0;
  for ([[maybe_unused]] element e : a) ++n;
  return n;
}

class JsonDecoder {
 public:
  JsonDecoder(const Limits& limits, size_t body_bytes, SpanBatch* batch, DecodeStats* stats)
      : limits_(limits),
        body_bytes_(body_bytes),
        max_depth_(std::min(limits.max_value_depth, internal::kMaxSupportedValueDepth)),
        batch_(*batch),
        rejections_(stats) {}

  // Walks the document into the batch. False if it is malformed; then
  // malformed() says where and why.
  [[nodiscard]] bool Run(element root);
  const std::string& malformed() const { return malformed_; }

 private:
  // Each returns false to stop: either the request is malformed
  // (malformed_ is set) or the current unit is rejected (a problem was
  // noted with rejections_).
  [[nodiscard]] bool ResourceSpans(element e);
  [[nodiscard]] bool Resource(element e, model::Resource* out);
  [[nodiscard]] bool ScopeSpans(element e, uint32_t resource);
  [[nodiscard]] bool Scope(element e, model::Scope* out);
  [[nodiscard]] bool Span(element e, uint32_t scope);
  [[nodiscard]] bool Event(element e, model::Event* out);
  [[nodiscard]] bool Link(element e, model::Link* out);
  [[nodiscard]] bool Status(element e, model::StatusCode* code, std::string_view* message);
  [[nodiscard]] bool Attributes(element e, std::string_view owner, Range* out);
  [[nodiscard]] bool KeyValues(array a, size_t count, const char* name, uint32_t depth, Range* out);
  [[nodiscard]] bool KeyValue(element e, uint32_t depth, model::KeyValue* out);
  [[nodiscard]] bool Value(element e, std::string_view key, uint32_t depth, AnyValue* out);

  // Typed accessors: false (malformed) if `e` has the wrong JSON type.
  [[nodiscard]] bool AsObject(element e, object* out);
  [[nodiscard]] bool AsArray(element e, array* out);
  [[nodiscard]] bool AsRawString(element e, std::string_view what, std::string_view* out);
  // A string kept in the batch: UTF-8 checked and copied.
  [[nodiscard]] bool AsString(element e, std::string_view what, std::string_view* out);
  [[nodiscard]] bool AsUint64(element e, std::string_view what, uint64_t* out);
  [[nodiscard]] bool AsUint32(element e, std::string_view what, uint32_t* out);
  // A hex id of `size` bytes; "" is absent (left zero) unless `required`.
  [[nodiscard]] bool AsId(element e, std::string_view what, size_t size, bool required,
                          uint8_t* out);
  template <typename Enum>
  [[nodiscard]] bool AsEnum(element e, std::string_view what, std::string_view (*name_of)(Enum),
                            Enum max, Enum* out);

  // Counts the spans under a ResourceSpans/ScopeSpans object, leniently.
  int64_t CountSpansOfScope(element scope_spans);
  int64_t CountSpansOfResource(element resource_spans);

  [[nodiscard]] bool Malformed(std::string_view problem) {
    malformed_ = internal::Cat("malformed OTLP/JSON: ", path_.ToString(), ": ", problem);
    return false;
  }
  [[nodiscard]] bool Reject(std::string_view problem) {
    return rejections_.Note(path_, trace_id_, problem);
  }
  // `what` names the field when the path does not.
  [[nodiscard]] bool WrongType(element e, std::string_view want, std::string_view what = {}) {
    return Malformed(internal::Cat(what, what.empty() ? "" : ": ", "expected ", want, ", got ",
                                   internal::JsonTypeName(e)));
  }
  std::string ValueTooBig(std::string_view key, size_t size) const {
    return internal::Cat("attribute ", internal::Quote(key), " value is ", size,
                         " bytes, over the limit of ", limits_.max_attribute_value_bytes,
                         " (limits.max_attribute_value_bytes)");
  }

  const Limits& limits_;
  const size_t body_bytes_;
  const uint32_t max_depth_;
  SpanBatch& batch_;
  internal::Rejections rejections_;
  internal::Path path_;
  std::string malformed_;
  std::string_view trace_id_;  // raw bytes of the span being decoded
  model::TraceId trace_id_storage_{};
  std::string scratch_;  // base64 output
};

bool JsonDecoder::AsObject(element e, object* out) {
  if (e.get_object().get(*out) != simdjson::SUCCESS) {
    return WrongType(e, "an object");
  }
  return true;
}

bool JsonDecoder::AsArray(element e, array* out) {
  if (e.get_array().get(*out) != simdjson::SUCCESS) {
    return WrongType(e, "an array");
  }
  return true;
}

bool JsonDecoder::AsRawString(element e, std::string_view what, std::string_view* out) {
  if (e.get_string().get(*out) != simdjson::SUCCESS) {
    return WrongType(e, "a string", what);
  }
  return true;
}

bool JsonDecoder::AsString(element e, std::string_view what, std::string_view* out) {
  std::string_view s;
  if (!AsRawString(e, what, &s)) return false;
  if (!IsValidUtf8(s)) {
    return Reject(internal::Cat(what, " is not valid UTF-8"));
  }
  *out = batch_.Copy(s);
  return true;
}

bool JsonDecoder::AsUint64(element e, std::string_view what, uint64_t* out) {
  switch (internal::ToUint64(e, out)) {
    case NumberResult::kOk:
      return true;
    case NumberResult::kWrongType:
      return WrongType(e, "a number or string", what);
    case NumberResult::kBadValue:
      break;
  }
  return Reject(internal::Cat(what, " is not an unsigned 64-bit integer"));
}

bool JsonDecoder::AsUint32(element e, std::string_view what, uint32_t* out) {
  uint64_t v = 0;
  if (!AsUint64(e, what, &v)) return false;
  if (v > UINT32_MAX) {
    return Reject(internal::Cat(what, " is over 2^32-1"));
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

bool JsonDecoder::AsId(element e, std::string_view what, size_t size, bool required, uint8_t* out) {
  std::string_view hex;
  if (!AsRawString(e, what, &hex)) return false;
  if (hex.empty() && !required) return true;
  if (hex.size() != 2 * size) {
    return Reject(internal::Cat(what, " has ", hex.size(), " hex digits, must be ", 2 * size));
  }
  if (!model::ParseHexId(hex, std::span<uint8_t>(out, size))) {
    return Reject(internal::Cat(what, " is not hex: ", internal::Quote(hex)));
  }
  if (std::all_of(out, out + size, [](uint8_t b) { return b == 0; })) {
    return Reject(internal::Cat(what, " is all zero"));
  }
  return true;
}

template <typename Enum>
bool JsonDecoder::AsEnum(element e, std::string_view what, std::string_view (*name_of)(Enum),
                         Enum max, Enum* out) {
  if (e.type() == element_type::STRING) {
    const std::string_view s = e.get_string().value_unsafe();
    for (int v = 0; v <= static_cast<int>(max); ++v) {
      if (name_of(static_cast<Enum>(v)) == s) {
        *out = static_cast<Enum>(v);
        return true;
      }
    }
  }
  uint64_t v = 0;
  switch (internal::ToUint64(e, &v)) {
    case NumberResult::kOk:
      // Open enums: an unknown number reads as the default.
      *out = v <= static_cast<uint64_t>(max) ? static_cast<Enum>(v) : Enum{};
      return true;
    case NumberResult::kWrongType:
      return WrongType(e, "a number or string", what);
    case NumberResult::kBadValue:
      break;
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) s = {};
  return Reject(internal::Cat(what, " ", internal::Quote(s), " is not a known value"));
}

bool JsonDecoder::Run(element root) {
  object request;
  if (root.get_object().get(request) != simdjson::SUCCESS) {
    return Malformed(internal::Cat("expected an object, got ", internal::JsonTypeName(root)));
  }
  for (auto field : request) {
    if (!FieldIs(field.key, "resourceSpans") || field.value.is_null()) continue;
    array list;
    path_.Push("resourceSpans");
    if (!AsArray(field.value, &list)) return false;
    path_.Truncate(0);
    size_t spans = 0;
    for (element e : list) spans += static_cast<size_t>(CountSpansOfResource(e));
    // {"traceId":"<32 hex>","spanId":"<16 hex>"} is the smallest valid span.
    internal::ReserveSpans(spans, body_bytes_, 70, &batch_);
    int64_t index = 0;
    for (element e : list) {
      path_.Push("resourceSpans", index++);
      if (!ResourceSpans(e)) return false;
      path_.Truncate(0);
    }
  }
  return true;
}

int64_t JsonDecoder::CountSpansOfScope(element scope_spans) {
  object o;
  if (scope_spans.get_object().get(o) != simdjson::SUCCESS) return 0;
  int64_t n = 0;
  for (auto field : o) {
    array spans;
    if (FieldIs(field.key, "spans") && field.value.get_array().get(spans) == simdjson::SUCCESS) {
      n += static_cast<int64_t>(Count(spans));
    }
  }
  return n;
}

int64_t JsonDecoder::CountSpansOfResource(element resource_spans) {
  object o;
  if (resource_spans.get_object().get(o) != simdjson::SUCCESS) return 0;
  int64_t n = 0;
  for (auto field : o) {
    array list;
    if ((FieldIs(field.key, "scopeSpans") || FieldIs(field.key, "instrumentationLibrarySpans")) &&
        field.value.get_array().get(list) == simdjson::SUCCESS) {
      for (element e : list) n += CountSpansOfScope(e);
    }
  }
  return n;
}

bool JsonDecoder::ResourceSpans(element e) {
  object o;
  if (!AsObject(e, &o)) return false;
  const int depth = path_.depth();
  trace_id_ = {};
  const internal::TableMark mark = internal::Mark(batch_);
  model::Resource resource;
  bool ok = true;
  for (auto field : o) {
    if (field.value.is_null()) continue;
    if (FieldIs(field.key, "resource")) {
      path_.Push("resource");
      ok = Resource(field.value, &resource);
    } else if (FieldIs(field.key, "schemaUrl")) {
      ok = AsString(field.value, "schemaUrl", &resource.schema_url);
    }
    if (!ok) break;
    path_.Truncate(depth);
  }
  if (!ok) {
    if (!malformed_.empty()) return false;
    internal::Rollback(mark, &batch_);
    rejections_.Commit(CountSpansOfResource(e), "resource");
    return true;
  }
  const auto resource_index = static_cast<uint32_t>(batch_.resources.size());
  batch_.resources.push_back(resource);

  for (auto field : o) {
    const char* name = nullptr;
    if (FieldIs(field.key, "scopeSpans")) {
      name = "scopeSpans";
    } else if (FieldIs(field.key, "instrumentationLibrarySpans")) {
      name = "instrumentationLibrarySpans";
    } else {
      continue;
    }
    if (field.value.is_null()) continue;
    array list;
    path_.Push(name);
    if (!AsArray(field.value, &list)) return false;
    path_.Truncate(depth);
    int64_t index = 0;
    for (element scope_spans : list) {
      path_.Push(name, index++);
      if (!ScopeSpans(scope_spans, resource_index)) return false;
      path_.Truncate(depth);
    }
  }
  return true;
}

bool JsonDecoder::Resource(element e, model::Resource* out) {
  object o;
  if (!AsObject(e, &o)) return false;
  const int depth = path_.depth();
  for (auto field : o) {
    if (field.value.is_null()) continue;
    bool ok = true;
    if (FieldIs(field.key, "attributes")) {
      ok = Attributes(field.value, "resource", &out->attributes);
      out->service_name = internal::FindServiceName(batch_, out->attributes);
    } else if (FieldIs(field.key, "droppedAttributesCount")) {
      ok = AsUint32(field.value, "droppedAttributesCount", &out->dropped_attributes_count);
    }
    if (!ok) return false;
    path_.Truncate(depth);
  }
  return true;
}

bool JsonDecoder::ScopeSpans(element e, uint32_t resource) {
  object o;
  if (!AsObject(e, &o)) return false;
  const int depth = path_.depth();
  trace_id_ = {};
  const internal::TableMark mark = internal::Mark(batch_);
  model::Scope scope;
  scope.resource = resource;
  bool ok = true;
  for (auto field : o) {
    if (field.value.is_null()) continue;
    if (FieldIs(field.key, "scope")) {
      path_.Push("scope");
      ok = Scope(field.value, &scope);
    } else if (FieldIs(field.key, "instrumentationLibrary")) {
      path_.Push("instrumentationLibrary");
      ok = Scope(field.value, &scope);
    } else if (FieldIs(field.key, "schemaUrl")) {
      ok = AsString(field.value, "schemaUrl", &scope.schema_url);
    }
    if (!ok) break;
    path_.Truncate(depth);
  }
  if (!ok) {
    if (!malformed_.empty()) return false;
    internal::Rollback(mark, &batch_);
    rejections_.Commit(CountSpansOfScope(e), "scope");
    return true;
  }
  const auto scope_index = static_cast<uint32_t>(batch_.scopes.size());
  batch_.scopes.push_back(scope);

  for (auto field : o) {
    if (!FieldIs(field.key, "spans") || field.value.is_null()) continue;
    array spans;
    path_.Push("spans");
    if (!AsArray(field.value, &spans)) return false;
    path_.Truncate(depth);
    int64_t index = 0;
    for (element span : spans) {
      path_.Push("spans", index++);
      const size_t rows = batch_.size();
      const internal::TableMark span_mark = internal::Mark(batch_);
      if (Span(span, scope_index)) {
        rejections_.Accept();
      } else {
        if (!malformed_.empty()) return false;
        if (batch_.size() > rows) batch_.PopSpan();
        internal::Rollback(span_mark, &batch_);
        rejections_.Commit(1);
      }
      path_.Truncate(depth);
    }
  }
  return true;
}

bool JsonDecoder::Scope(element e, model::Scope* out) {
  object o;
  if (!AsObject(e, &o)) return false;
  const int depth = path_.depth();
  for (auto field : o) {
    if (field.value.is_null()) continue;
    bool ok = true;
    if (FieldIs(field.key, "name")) {
      ok = AsString(field.value, "name", &out->name);
    } else if (FieldIs(field.key, "version")) {
      ok = AsString(field.value, "version", &out->version);
    } else if (FieldIs(field.key, "attributes")) {
      ok = Attributes(field.value, "scope", &out->attributes);
    } else if (FieldIs(field.key, "droppedAttributesCount")) {
      ok = AsUint32(field.value, "droppedAttributesCount", &out->dropped_attributes_count);
    }
    if (!ok) return false;
    path_.Truncate(depth);
  }
  return true;
}

bool JsonDecoder::Span(element e, uint32_t scope) {
  object o;
  if (!AsObject(e, &o)) return false;
  trace_id_ = {};
  const int depth = path_.depth();

  model::TraceId trace_id{};
  model::SpanId span_id{}, parent_span_id{};
  std::string_view trace_state, name, status_message;
  uint32_t flags = 0, dropped_attributes = 0, dropped_events = 0, dropped_links = 0;
  uint64_t start = 0, end = 0;
  model::SpanKind kind = model::SpanKind::kUnspecified;
  model::StatusCode status_code = model::StatusCode::kUnset;
  element attributes, events, links;
  bool has_trace_id = false, has_span_id = false;
  bool has_attributes = false, has_events = false, has_links = false;

  // Scalars first; the lists after the span passed its cheap checks.
  for (auto field : o) {
    const std::string_view key = field.key;
    const element v = field.value;
    if (v.is_null()) continue;
    bool ok = true;
    if (FieldIs(key, "traceId")) {
      ok = AsId(v, "traceId", 16, true, trace_id.data());
      has_trace_id = true;
    } else if (FieldIs(key, "spanId")) {
      ok = AsId(v, "spanId", 8, true, span_id.data());
      has_span_id = true;
    } else if (FieldIs(key, "parentSpanId")) {
      ok = AsId(v, "parentSpanId", 8, false, parent_span_id.data());
    } else if (FieldIs(key, "traceState")) {
      ok = AsString(v, "traceState", &trace_state);
    } else if (FieldIs(key, "name")) {
      ok = AsString(v, "name", &name);
    } else if (FieldIs(key, "flags")) {
      ok = AsUint32(v, "flags", &flags);
    } else if (FieldIs(key, "kind")) {
      ok = AsEnum(v, "kind", &model::SpanKindName, model::SpanKind::kConsumer, &kind);
    } else if (FieldIs(key, "startTimeUnixNano")) {
      ok = AsUint64(v, "startTimeUnixNano", &start);
    } else if (FieldIs(key, "endTimeUnixNano")) {
      ok = AsUint64(v, "endTimeUnixNano", &end);
    } else if (FieldIs(key, "attributes")) {
      attributes = v;
      has_attributes = true;
    } else if (FieldIs(key, "droppedAttributesCount")) {
      ok = AsUint32(v, "droppedAttributesCount", &dropped_attributes);
    } else if (FieldIs(key, "events")) {
      events = v;
      has_events = true;
    } else if (FieldIs(key, "droppedEventsCount")) {
      ok = AsUint32(v, "droppedEventsCount", &dropped_events);
    } else if (FieldIs(key, "links")) {
      links = v;
      has_links = true;
    } else if (FieldIs(key, "droppedLinksCount")) {
      ok = AsUint32(v, "droppedLinksCount", &dropped_links);
    } else if (FieldIs(key, "status")) {
      path_.Push("status");
      ok = Status(v, &status_code, &status_message);
    }
    if (!ok) return false;
    path_.Truncate(depth);
    if (has_trace_id && trace_id_.empty()) {
      trace_id_storage_ = trace_id;
      trace_id_ = std::string_view(reinterpret_cast<const char*>(trace_id_storage_.data()), 16);
    }
  }
  if (!has_trace_id) return Reject("traceId is missing");
  if (!has_span_id) return Reject("spanId is missing");

  array attribute_list, event_list, link_list;
  size_t attribute_count = 0, event_count = 0, link_count = 0;
  if (has_attributes) {
    path_.Push("attributes");
    if (!AsArray(attributes, &attribute_list)) return false;
    path_.Truncate(depth);
    attribute_count = Count(attribute_list);
  }
  if (has_events) {
    path_.Push("events");
    if (!AsArray(events, &event_list)) return false;
    path_.Truncate(depth);
    event_count = Count(event_list);
  }
  if (has_links) {
    path_.Push("links");
    if (!AsArray(links, &link_list)) return false;
    path_.Truncate(depth);
    link_count = Count(link_list);
  }
  if (attribute_count > limits_.max_attributes_per_span) {
    return Reject(internal::TooMany("span", attribute_count, "attributes",
                                    limits_.max_attributes_per_span,
                                    "limits.max_attributes_per_span"));
  }
  if (event_count > limits_.max_events_per_span) {
    return Reject(internal::TooMany("span", event_count, "events", limits_.max_events_per_span,
                                    "limits.max_events_per_span"));
  }
  if (link_count > limits_.max_links_per_span) {
    return Reject(internal::TooMany("span", link_count, "links", limits_.max_links_per_span,
                                    "limits.max_links_per_span"));
  }

  const uint32_t row = batch_.AddSpan();
  batch_.trace_id[row] = trace_id;
  batch_.span_id[row] = span_id;
  batch_.parent_span_id[row] = parent_span_id;
  batch_.trace_state[row] = trace_state;
  batch_.flags[row] = flags;
  batch_.name[row] = name;
  batch_.kind[row] = kind;
  batch_.start_unix_nano[row] = start;
  batch_.end_unix_nano[row] = end;
  batch_.dropped_attributes_count[row] = dropped_attributes;
  batch_.dropped_events_count[row] = dropped_events;
  batch_.dropped_links_count[row] = dropped_links;
  batch_.status_code[row] = status_code;
  batch_.status_message[row] = status_message;
  batch_.scope[row] = scope;

  Range range;
  if (!KeyValues(attribute_list, attribute_count, "attributes", 0, &range)) {
    return false;
  }
  batch_.span_attributes[row] = range;

  range = {static_cast<uint32_t>(batch_.events.size()), static_cast<uint32_t>(event_count)};
  batch_.events.resize(range.first + range.count);
  uint32_t i = 0;
  if (has_events) {
    for (element event : event_list) {
      path_.Push("events", i);
      model::Event decoded;
      if (!Event(event, &decoded)) return false;
      batch_.events[range.first + i++] = decoded;
      path_.Truncate(depth);
    }
  }
  batch_.span_events[row] = range;

  range = {static_cast<uint32_t>(batch_.links.size()), static_cast<uint32_t>(link_count)};
  batch_.links.resize(range.first + range.count);
  i = 0;
  if (has_links) {
    for (element link : link_list) {
      path_.Push("links", i);
      model::Link decoded;
      if (!Link(link, &decoded)) return false;
      batch_.links[range.first + i++] = decoded;
      path_.Truncate(depth);
    }
  }
  batch_.span_links[row] = range;
  return true;
}

bool JsonDecoder::Status(element e, model::StatusCode* code, std::string_view* message) {
  object o;
  if (!AsObject(e, &o)) return false;
  for (auto field : o) {
    if (field.value.is_null()) continue;
    bool ok = true;
    if (FieldIs(field.key, "message")) {
      ok = AsString(field.value, "message", message);
    } else if (FieldIs(field.key, "code")) {
      ok = AsEnum(field.value, "code", &model::StatusCodeName, model::StatusCode::kError, code);
    }
    if (!ok) return false;
  }
  return true;
}

bool JsonDecoder::Event(element e, model::Event* out) {
  object o;
  if (!AsObject(e, &o)) return false;
  const int depth = path_.depth();
  for (auto field : o) {
    if (field.value.is_null()) continue;
    bool ok = true;
    if (FieldIs(field.key, "timeUnixNano")) {
      ok = AsUint64(field.value, "timeUnixNano", &out->time_unix_nano);
    } else if (FieldIs(field.key, "name")) {
      ok = AsString(field.value, "name", &out->name);
    } else if (FieldIs(field.key, "attributes")) {
      ok = Attributes(field.value, "event", &out->attributes);
    } else if (FieldIs(field.key, "droppedAttributesCount")) {
      ok = AsUint32(field.value, "droppedAttributesCount", &out->dropped_attributes_count);
    }
    if (!ok) return false;
    path_.Truncate(depth);
  }
  return true;
}

bool JsonDecoder::Link(element e, model::Link* out) {
  object o;
  if (!AsObject(e, &o)) return false;
  const int depth = path_.depth();
  bool has_trace_id = false, has_span_id = false;
  for (auto field : o) {
    if (field.value.is_null()) continue;
    bool ok = true;
    if (FieldIs(field.key, "traceId")) {
      ok = AsId(field.value, "traceId", 16, true, out->trace_id.data());
      has_trace_id = true;
    } else if (FieldIs(field.key, "spanId")) {
      ok = AsId(field.value, "spanId", 8, true, out->span_id.data());
      has_span_id = true;
    } else if (FieldIs(field.key, "traceState")) {
      ok = AsString(field.value, "traceState", &out->trace_state);
    } else if (FieldIs(field.key, "attributes")) {
      ok = Attributes(field.value, "link", &out->attributes);
    } else if (FieldIs(field.key, "droppedAttributesCount")) {
      ok = AsUint32(field.value, "droppedAttributesCount", &out->dropped_attributes_count);
    } else if (FieldIs(field.key, "flags")) {
      ok = AsUint32(field.value, "flags", &out->flags);
    }
    if (!ok) return false;
    path_.Truncate(depth);
  }
  if (!has_trace_id) return Reject("traceId is missing");
  if (!has_span_id) return Reject("spanId is missing");
  return true;
}

bool JsonDecoder::Attributes(element e, std::string_view owner, Range* out) {
  const int depth = path_.depth();
  array a;
  path_.Push("attributes");
  if (!AsArray(e, &a)) return false;
  path_.Truncate(depth);
  const size_t count = Count(a);
  if (count > limits_.max_attributes_per_span) {
    return Reject(internal::TooMany(owner, count, "attributes", limits_.max_attributes_per_span,
                                    "limits.max_attributes_per_span"));
  }
  return KeyValues(a, count, "attributes", 0, out);
}

bool JsonDecoder::KeyValues(array a, size_t count, const char* name, uint32_t depth, Range* out) {
  const auto first = static_cast<uint32_t>(batch_.attributes.size());
  *out = {first, static_cast<uint32_t>(count)};
  if (count == 0) return true;
  batch_.attributes.resize(first + count);
  const int path_depth = path_.depth();
  uint32_t i = 0;
  for (element e : a) {
    path_.Push(name, i);
    model::KeyValue kv;
    if (!KeyValue(e, depth, &kv)) return false;
    batch_.attributes[first + i++] = kv;
    path_.Truncate(path_depth);
  }
  return true;
}

bool JsonDecoder::KeyValue(element e, uint32_t depth, model::KeyValue* out) {
  object o;
  if (!AsObject(e, &o)) return false;
  element value;
  bool has_value = false;
  for (auto field : o) {
    if (field.value.is_null()) continue;
    if (FieldIs(field.key, "key")) {
      if (!AsString(field.value, "key", &out->key)) return false;
    } else if (FieldIs(field.key, "value")) {
      value = field.value;
      has_value = true;
    }
  }
  if (!has_value) return true;
  const int path_depth = path_.depth();
  path_.Push("value");
  if (!Value(value, out->key, depth, &out->value)) return false;
  path_.Truncate(path_depth);
  return true;
}

bool JsonDecoder::Value(element e, std::string_view key, uint32_t depth, AnyValue* out) {
  object o;
  if (!AsObject(e, &o)) return false;
  element nested;
  // A oneof: the last known key wins.
  for (auto field : o) {
    const std::string_view k = field.key;
    const element v = field.value;
    if (v.is_null()) continue;
    if (FieldIs(k, "stringValue")) {
      std::string_view s;
      if (!AsRawString(v, "stringValue", &s)) return false;
      if (s.size() > limits_.max_attribute_value_bytes) {
        return Reject(ValueTooBig(key, s.size()));
      }
      if (!IsValidUtf8(s)) {
        return Reject(
            internal::Cat("attribute ", internal::Quote(key), " value is not valid UTF-8"));
      }
      *out = {};
      out->type = ValueType::kString;
      out->bytes = batch_.Copy(s);
    } else if (FieldIs(k, "boolValue")) {
      bool b = false;
      if (v.get_bool().get(b) != simdjson::SUCCESS) {
        return WrongType(v, "a boolean", "boolValue");
      }
      *out = {};
      out->type = ValueType::kBool;
      out->bool_value = b;
    } else if (FieldIs(k, "intValue")) {
      int64_t n = 0;
      switch (internal::ToInt64(v, &n)) {
        case NumberResult::kOk:
          break;
        case NumberResult::kWrongType:
          return WrongType(v, "a number or string", "intValue");
        case NumberResult::kBadValue:
          return Reject(internal::Cat("attribute ", internal::Quote(key),
                                      " intValue is not a 64-bit integer"));
      }
      *out = {};
      out->type = ValueType::kInt;
      out->int_value = n;
    } else if (FieldIs(k, "doubleValue")) {
      double d = 0;
      switch (internal::ToDouble(v, &d)) {
        case NumberResult::kOk:
          break;
        case NumberResult::kWrongType:
          return WrongType(v, "a number or string", "doubleValue");
        case NumberResult::kBadValue:
          return Reject(
              internal::Cat("attribute ", internal::Quote(key), " doubleValue is not a number"));
      }
      *out = {};
      out->type = ValueType::kDouble;
      out->double_value = d;
    } else if (FieldIs(k, "bytesValue")) {
      std::string_view s;
      if (!AsRawString(v, "bytesValue", &s)) return false;
      if (!absl::Base64Unescape(AbslView(s), &scratch_) &&
          !absl::WebSafeBase64Unescape(AbslView(s), &scratch_)) {
        return Reject(
            internal::Cat("attribute ", internal::Quote(key), " bytesValue is not base64"));
      }
      if (scratch_.size() > limits_.max_attribute_value_bytes) {
        return Reject(ValueTooBig(key, scratch_.size()));
      }
      *out = {};
      out->type = ValueType::kBytes;
      out->bytes = batch_.Copy(scratch_);
    } else if (FieldIs(k, "arrayValue")) {
      *out = {};
      out->type = ValueType::kArray;
      nested = v;
    } else if (FieldIs(k, "kvlistValue")) {
      *out = {};
      out->type = ValueType::kKvList;
      nested = v;
    }
  }
  if (out->type != ValueType::kArray && out->type != ValueType::kKvList) {
    return true;
  }
  if (depth + 1 > max_depth_) {
    return Reject(internal::Cat("attribute ", internal::Quote(key), " value nests deeper than ",
                                limits_.max_value_depth, " levels (limits.max_value_depth)"));
  }
  // {"values": [...]}
  object list_object;
  if (!AsObject(nested, &list_object)) return false;
  array values;
  bool has_values = false;
  for (auto field : list_object) {
    if (!FieldIs(field.key, "values") || field.value.is_null()) continue;
    if (!AsArray(field.value, &values)) return false;
    has_values = true;
  }
  const size_t count = has_values ? Count(values) : 0;
  if (out->type == ValueType::kKvList) {
    return KeyValues(values, count, "values", depth + 1, &out->children);
  }
  const auto first = static_cast<uint32_t>(batch_.array_items.size());
  out->children = {first, static_cast<uint32_t>(count)};
  batch_.array_items.resize(first + count);
  const int path_depth = path_.depth();
  if (count == 0) return true;
  uint32_t i = 0;
  for (element item : values) {
    path_.Push("values", i);
    AnyValue decoded;
    if (!Value(item, key, depth + 1, &decoded)) return false;
    batch_.array_items[first + i++] = decoded;
    path_.Truncate(path_depth);
  }
  return true;
}

}  // namespace

absl::StatusOr<model::SpanBatch> DecodeOtlpJson(std::string body, const Limits& limits,
                                                DecodeStats* stats) {
  DecodeStats unused_stats;
  if (stats == nullptr) stats = &unused_stats;
  *stats = DecodeStats{};

  internal::JsonDocument doc;
  if (absl::Status status = doc.Parse(&body); !status.ok()) return status;
  SpanBatch batch;
  JsonDecoder decoder(limits, body.size(), &batch, stats);
  if (!decoder.Run(doc.root())) {
    *stats = DecodeStats{};
    return absl::InvalidArgumentError(decoder.malformed());
  }
  return batch;
}

}  // namespace ariadne::decode
