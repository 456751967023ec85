// Zipkin v2 JSON (POST /api/v2/spans) -> SpanBatch, with the simdjson DOM.
//
// The body is a JSON array of span objects. Mapping:
//
//   Zipkin v2 field                  SpanBatch
//   -------------------------------  -----------------------------------------
//   traceId (16 or 32 hex)           trace_id (16 digits: left-padded with 0s)
//   id (16 hex)                      span_id
//   parentId (16 hex, optional)      parent_span_id (absent/"": root)
//   name                             name
//   kind CLIENT/SERVER/PRODUCER/     kind CLIENT/SERVER/PRODUCER/CONSUMER
//        CONSUMER (any case)         (absent: SPAN_KIND_INTERNAL)
//   timestamp (us)                   start_unix_nano = timestamp * 1000
//   duration (us)                    end_unix_nano = start + duration * 1000
//   localEndpoint.serviceName        resource attribute "service.name" and
//                                    Resource::service_name (absent: "")
//   localEndpoint.ipv4 / .ipv6       resource attribute "net.host.ip" (ipv4
//                                    if both are given)
//   localEndpoint.port (> 0)         resource attribute "net.host.port" (int)
//   remoteEndpoint.serviceName       span attribute "peer.service"
//   remoteEndpoint.ipv4 / .ipv6      span attribute "net.peer.ip" (ipv4 first)
//   remoteEndpoint.port (> 0)        span attribute "net.peer.port" (int)
//   tags {k: v}                      span attributes, string values (numbers
//                                    and booleans are kept as their text),
//                                    except:
//     otel.status_code OK/ERROR        status_code (other values stay a tag)
//     otel.status_description          status_message
//     error                            status ERROR (unless otel.status_code
//                                      says otherwise), its value the message
//                                      unless otel.status_description is set
//     otel.scope.name or               scope name (otel.scope.* wins)
//       otel.library.name
//     otel.scope.version or            scope version
//       otel.library.version
//   annotations [{timestamp, value}] events (time = timestamp * 1000,
//                                    name = value)
//   debug, shared                    ignored
//
// One Resource per distinct local endpoint (service name, ip, port) and one
// Scope per (resource, scope name, scope version), in order of first use.
//
// Errors: a body that is not JSON, not an array of objects, or has a value
// of the wrong JSON type is malformed (InvalidArgument, nothing kept). Bad
// ids, overflowing times and limits reject the span only.

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "decode/decode.h"
#include "decode/decode_internal.h"
#include "decode/json_util.h"
#include "decode/utf8.h"

namespace ariadne::decode {
namespace {

using internal::NumberResult;
using model::AnyValue;
using model::Range;
using model::SpanBatch;
using model::ValueType;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

struct Endpoint {
  std::string_view service_name;
  std::string_view ip;  // ipv4, or ipv6 if there is no ipv4
  uint32_t port = 0;
};

// A tag that becomes a span attribute; views of the parser's buffers.
struct Tag {
  std::string_view key;
  std::string_view text;
};

struct Annotation {
  uint64_t time_unix_nano = 0;
  std::string_view value;
};

class ZipkinDecoder {
 public:
  ZipkinDecoder(const Limits& limits, size_t body_bytes, SpanBatch* batch, DecodeStats* stats)
      : limits_(limits), body_bytes_(body_bytes), batch_(*batch), rejections_(stats) {}

  // Walks the document into the batch. False if it is malformed; then
  // malformed() says where and why.
  [[nodiscard]] bool Run(element root);
  const std::string& malformed() const { return malformed_; }

 private:
  // False to stop: the request is malformed (malformed_ set) or the span is
  // rejected (a problem was noted).
  [[nodiscard]] bool Span(element e);
  [[nodiscard]] bool ReadEndpoint(element e, std::string_view what, Endpoint* out);
  [[nodiscard]] bool ReadString(element e, std::string_view what, std::string_view* out);
  [[nodiscard]] bool ReadUint64(element e, std::string_view what, uint64_t* out);
  [[nodiscard]] bool ReadId(element e, std::string_view what, bool trace, uint8_t* out);
  // Text of a tag value; numbers and booleans are formatted into the batch.
  [[nodiscard]] bool TagText(element e, std::string_view key, std::string_view* out);
  uint32_t ResourceFor(const Endpoint& local);
  uint32_t ScopeFor(uint32_t resource, std::string_view name, std::string_view version);
  void AddString(std::string_view key, std::string_view value);
  void AddInt(std::string_view key, int64_t value);

  [[nodiscard]] bool Malformed(std::string_view problem) {
    malformed_ = internal::Cat("malformed Zipkin JSON: ", path_.ToString(), ": ", problem);
    return false;
  }
  [[nodiscard]] bool WrongType(element e, std::string_view want, std::string_view what) {
    return Malformed(internal::Cat(what, ": expected ", want, ", got ", internal::JsonTypeName(e)));
  }
  [[nodiscard]] bool Reject(std::string_view problem) {
    return rejections_.Note(path_, trace_id_, problem);
  }

  const Limits& limits_;
  const size_t body_bytes_;
  SpanBatch& batch_;
  internal::Rejections rejections_;
  internal::Path path_;
  std::string malformed_;
  std::string_view trace_id_;
  model::TraceId trace_id_storage_{};
  // Keys are views of strings the batch owns.
  absl::flat_hash_map<std::tuple<std::string_view, std::string_view, uint32_t>, uint32_t>
      resources_;
  absl::flat_hash_map<std::tuple<uint32_t, std::string_view, std::string_view>, uint32_t> scopes_;
  // Scratch, reused across spans.
  std::vector<Tag> tags_;
  std::vector<Annotation> annotations_;
};

bool ZipkinDecoder::Run(element root) {
  array spans;
  if (root.get_array().get(spans) != simdjson::SUCCESS) {
    return Malformed(
        internal::Cat("expected an array of spans, got ", internal::JsonTypeName(root)));
  }
  // {"traceId":"<16 hex>","id":"<16 hex>"} is the smallest valid span.
  internal::ReserveSpans(spans.size(), body_bytes_, 50, &batch_);
  int64_t index = 0;
  for (element e : spans) {
    path_.Push("spans", index++);
    const size_t rows = batch_.size();
    const internal::TableMark mark = internal::Mark(batch_);
    if (Span(e)) {
      rejections_.Accept();
    } else {
      if (!malformed_.empty()) return false;
      if (batch_.size() > rows) batch_.PopSpan();
      internal::Rollback(mark, &batch_);
      rejections_.Commit(1);
    }
    path_.Truncate(0);
  }
  return true;
}

bool ZipkinDecoder::ReadString(element e, std::string_view what, std::string_view* out) {
  if (e.get_string().get(*out) != simdjson::SUCCESS) {
    return WrongType(e, "a string", what);
  }
  if (!IsValidUtf8(*out)) {
    return Reject(internal::Cat(what, " is not valid UTF-8"));
  }
  return true;
}

bool ZipkinDecoder::ReadUint64(element e, std::string_view what, uint64_t* out) {
  switch (internal::ToUint64(e, out)) {
    case NumberResult::kOk:
      return true;
    case NumberResult::kWrongType:
      return WrongType(e, "a number", what);
    case NumberResult::kBadValue:
      break;
  }
  return Reject(internal::Cat(what, " is not an unsigned 64-bit integer"));
}

bool ZipkinDecoder::ReadId(element e, std::string_view what, bool trace, uint8_t* out) {
  std::string_view hex;
  if (e.get_string().get(hex) != simdjson::SUCCESS) {
    return WrongType(e, "a string", what);
  }
  bool ok = false;
  if (trace) {
    if (hex.size() != 16 && hex.size() != 32) {
      return Reject(internal::Cat(what, " has ", hex.size(), " hex digits, must be 16 or 32"));
    }
    model::TraceId id{};
    ok = model::ParseTraceIdLenient(hex, &id);
    std::copy(id.begin(), id.end(), out);
  } else {
    if (hex.size() != 16) {
      return Reject(internal::Cat(what, " has ", hex.size(), " hex digits, must be 16"));
    }
    ok = model::ParseHexId(hex, std::span<uint8_t>(out, 8));
  }
  if (!ok) {
    return Reject(internal::Cat(what, " is not hex: ", internal::Quote(hex)));
  }
  const size_t size = trace ? 16 : 8;
  if (std::all_of(out, out + size, [](uint8_t b) { return b == 0; })) {
    return Reject(internal::Cat(what, " is all zero"));
  }
  return true;
}

bool ZipkinDecoder::ReadEndpoint(element e, std::string_view what, Endpoint* out) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) {
    return WrongType(e, "an object", what);
  }
  std::string_view ipv4, ipv6;
  for (auto field : o) {
    if (field.value.is_null()) continue;
    const std::string_view key = field.key;
    bool ok = true;
    if (key == "serviceName") {
      ok = ReadString(field.value, "serviceName", &out->service_name);
    } else if (key == "ipv4") {
      ok = ReadString(field.value, "ipv4", &ipv4);
    } else if (key == "ipv6") {
      ok = ReadString(field.value, "ipv6", &ipv6);
    } else if (key == "port") {
      uint64_t port = 0;
      ok = ReadUint64(field.value, "port", &port);
      if (ok && port > 65535) {
        ok = Reject(internal::Cat(what, ".port ", port, " is over 65535"));
      }
      out->port = static_cast<uint32_t>(port);
    }
    if (!ok) return false;
  }
  out->ip = ipv4.empty() ? ipv6 : ipv4;
  return true;
}

bool ZipkinDecoder::TagText(element e, std::string_view key, std::string_view* out) {
  switch (e.type()) {
    case element_type::STRING:
      *out = e.get_string().value_unsafe();
      if (!IsValidUtf8(*out)) {
        return Reject(internal::Cat("tag ", internal::Quote(key), " value is not valid UTF-8"));
      }
      return true;
    case element_type::BOOL:
      *out = e.get_bool().value_unsafe() ? "true" : "false";
      return true;
    case element_type::INT64:
      *out = batch_.Copy(internal::Cat(e.get_int64().value_unsafe()));
      return true;
    case element_type::UINT64:
      *out = batch_.Copy(internal::Cat(e.get_uint64().value_unsafe()));
      return true;
    case element_type::DOUBLE:
      *out = batch_.Copy(internal::Cat(e.get_double().value_unsafe()));
      return true;
    default:
      break;
  }
  return WrongType(e, "a string", internal::Cat("tags.", key));
}

uint32_t ZipkinDecoder::ResourceFor(const Endpoint& local) {
  const auto key = std::make_tuple(local.service_name, local.ip, local.port);
  if (auto it = resources_.find(key); it != resources_.end()) {
    return it->second;
  }
  model::Resource resource;
  resource.attributes.first = static_cast<uint32_t>(batch_.attributes.size());
  if (!local.service_name.empty()) {
    AddString("service.name", local.service_name);
  }
  if (!local.ip.empty()) AddString("net.host.ip", local.ip);
  if (local.port != 0) AddInt("net.host.port", local.port);
  resource.attributes.count =
      static_cast<uint32_t>(batch_.attributes.size() - resource.attributes.first);
  resource.service_name = internal::FindServiceName(batch_, resource.attributes);
  const auto index = static_cast<uint32_t>(batch_.resources.size());
  batch_.resources.push_back(resource);
  // The stored key views the batch's copies, not the parser's buffer.
  const model::KeyValue* attrs = batch_.attributes.data() + resource.attributes.first;
  std::string_view ip;
  for (uint32_t i = 0; i < resource.attributes.count; ++i) {
    if (attrs[i].key == "net.host.ip") ip = attrs[i].value.bytes;
  }
  resources_.emplace(std::make_tuple(resource.service_name, ip, local.port), index);
  return index;
}

uint32_t ZipkinDecoder::ScopeFor(uint32_t resource, std::string_view name,
                                 std::string_view version) {
  if (auto it = scopes_.find(std::make_tuple(resource, name, version)); it != scopes_.end()) {
    return it->second;
  }
  model::Scope scope;
  scope.resource = resource;
  scope.name = batch_.Copy(name);
  scope.version = batch_.Copy(version);
  scope.attributes.first = static_cast<uint32_t>(batch_.attributes.size());
  const auto index = static_cast<uint32_t>(batch_.scopes.size());
  batch_.scopes.push_back(scope);
  scopes_.emplace(std::make_tuple(resource, scope.name, scope.version), index);
  return index;
}

void ZipkinDecoder::AddString(std::string_view key, std::string_view value) {
  model::KeyValue kv;
  kv.key = key;  // keys passed here are literals or batch-owned
  kv.value.type = ValueType::kString;
  kv.value.bytes = batch_.Copy(value);
  batch_.attributes.push_back(kv);
}

void ZipkinDecoder::AddInt(std::string_view key, int64_t value) {
  model::KeyValue kv;
  kv.key = key;
  kv.value.type = ValueType::kInt;
  kv.value.int_value = value;
  batch_.attributes.push_back(kv);
}

bool ZipkinDecoder::Span(element e) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) {
    return Malformed(internal::Cat("expected an object, got ", internal::JsonTypeName(e)));
  }
  trace_id_ = {};
  model::TraceId trace_id{};
  model::SpanId span_id{}, parent_span_id{};
  std::string_view name;
  model::SpanKind kind = model::SpanKind::kInternal;
  uint64_t timestamp = 0, duration = 0;
  Endpoint local, remote;
  object tags;
  array annotations;
  bool has_trace_id = false, has_span_id = false, has_tags = false, has_annotations = false;

  for (auto field : o) {
    const std::string_view key = field.key;
    const element v = field.value;
    if (v.is_null()) continue;
    bool ok = true;
    if (key == "traceId") {
      ok = ReadId(v, "traceId", true, trace_id.data());
      has_trace_id = true;
      if (ok) {
        trace_id_storage_ = trace_id;
        trace_id_ = std::string_view(reinterpret_cast<const char*>(trace_id_storage_.data()), 16);
      }
    } else if (key == "id") {
      ok = ReadId(v, "id", false, span_id.data());
      has_span_id = true;
    } else if (key == "parentId") {
      std::string_view hex;
      if (v.get_string().get(hex) == simdjson::SUCCESS && hex.empty()) {
        continue;
      }
      ok = ReadId(v, "parentId", false, parent_span_id.data());
    } else if (key == "name") {
      ok = ReadString(v, "name", &name);
    } else if (key == "kind") {
      std::string_view s;
      ok = ReadString(v, "kind", &s);
      if (!ok) return false;
      if (absl::EqualsIgnoreCase(AbslView(s), "CLIENT")) {
        kind = model::SpanKind::kClient;
      } else if (absl::EqualsIgnoreCase(AbslView(s), "SERVER")) {
        kind = model::SpanKind::kServer;
      } else if (absl::EqualsIgnoreCase(AbslView(s), "PRODUCER")) {
        kind = model::SpanKind::kProducer;
      } else if (absl::EqualsIgnoreCase(AbslView(s), "CONSUMER")) {
        kind = model::SpanKind::kConsumer;
      } else {
        ok = Reject(internal::Cat("kind ", internal::Quote(s),
                                  " is not CLIENT, SERVER, PRODUCER or "
                                  "CONSUMER"));
      }
    } else if (key == "timestamp") {
      ok = ReadUint64(v, "timestamp", &timestamp);
    } else if (key == "duration") {
      ok = ReadUint64(v, "duration", &duration);
    } else if (key == "localEndpoint") {
      ok = ReadEndpoint(v, "localEndpoint", &local);
    } else if (key == "remoteEndpoint") {
      ok = ReadEndpoint(v, "remoteEndpoint", &remote);
    } else if (key == "tags") {
      if (v.get_object().get(tags) != simdjson::SUCCESS) {
        return WrongType(v, "an object", "tags");
      }
      has_tags = true;
    } else if (key == "annotations") {
      if (v.get_array().get(annotations) != simdjson::SUCCESS) {
        return WrongType(v, "an array", "annotations");
      }
      has_annotations = true;
    }
    if (!ok) return false;
  }
  if (!has_trace_id) return Reject("traceId is missing");
  if (!has_span_id) return Reject("id is missing");

  constexpr uint64_t kMaxMicros = UINT64_MAX / 1000;
  if (timestamp > kMaxMicros || duration > kMaxMicros ||
      timestamp * 1000 > UINT64_MAX - duration * 1000) {
    return Reject("timestamp + duration overflows 64-bit nanoseconds");
  }

  // Tags: pick out the ones with a meaning, count the rest.
  std::string_view status_description, error_tag;
  std::string_view scope_name, library_name, scope_version, library_version;
  bool has_status_code = false, has_description = false, has_error = false;
  model::StatusCode status_code = model::StatusCode::kUnset;
  tags_.clear();
  if (has_tags) {
    for (auto field : tags) {
      if (field.value.is_null()) continue;
      const std::string_view key = field.key;
      std::string_view text;
      if (!TagText(field.value, key, &text)) return false;
      if (!IsValidUtf8(key)) return Reject("tag key is not valid UTF-8");
      if (text.size() > limits_.max_attribute_value_bytes) {
        return Reject(internal::Cat("tag ", internal::Quote(key), " value is ", text.size(),
                                    " bytes, over the limit of ", limits_.max_attribute_value_bytes,
                                    " (limits.max_attribute_value_bytes)"));
      }
      if (key == "otel.status_code") {
        if (absl::EqualsIgnoreCase(AbslView(text), "OK")) {
          status_code = model::StatusCode::kOk;
          has_status_code = true;
          continue;
        }
        if (absl::EqualsIgnoreCase(AbslView(text), "ERROR")) {
          status_code = model::StatusCode::kError;
          has_status_code = true;
          continue;
        }
        if (absl::EqualsIgnoreCase(AbslView(text), "UNSET")) {
          has_status_code = true;
          continue;
        }
        // Anything else stays an ordinary tag.
      } else if (key == "otel.status_description") {
        status_description = text;
        has_description = true;
        continue;
      } else if (key == "error") {
        error_tag = text;
        has_error = true;
        continue;
      } else if (key == "otel.scope.name") {
        scope_name = text;
        continue;
      } else if (key == "otel.library.name") {
        library_name = text;
        continue;
      } else if (key == "otel.scope.version") {
        scope_version = text;
        continue;
      } else if (key == "otel.library.version") {
        library_version = text;
        continue;
      }
      tags_.push_back({key, text});
    }
  }
  size_t attribute_count = tags_.size();
  if (!remote.service_name.empty()) ++attribute_count;
  if (!remote.ip.empty()) ++attribute_count;
  if (remote.port != 0) ++attribute_count;
  if (attribute_count > limits_.max_attributes_per_span) {
    return Reject(internal::TooMany("span", attribute_count, "attributes",
                                    limits_.max_attributes_per_span,
                                    "limits.max_attributes_per_span"));
  }
  const size_t event_count = has_annotations ? annotations.size() : 0;
  if (event_count > limits_.max_events_per_span) {
    return Reject(internal::TooMany("span", event_count, "events", limits_.max_events_per_span,
                                    "limits.max_events_per_span"));
  }
  // Annotations: read them all before touching the batch.
  annotations_.clear();
  if (has_annotations) {
    const int depth = path_.depth();
    int64_t index = 0;
    for (element a : annotations) {
      path_.Push("annotations", index++);
      object ao;
      if (a.get_object().get(ao) != simdjson::SUCCESS) {
        return Malformed(internal::Cat("expected an object, got ", internal::JsonTypeName(a)));
      }
      Annotation annotation;
      for (auto field : ao) {
        if (field.value.is_null()) continue;
        bool ok = true;
        if (field.key == "timestamp") {
          ok = ReadUint64(field.value, "timestamp", &annotation.time_unix_nano);
          if (ok && annotation.time_unix_nano > kMaxMicros) {
            ok = Reject("timestamp overflows 64-bit nanoseconds");
          }
          annotation.time_unix_nano *= 1000;
        } else if (field.key == "value") {
          ok = ReadString(field.value, "value", &annotation.value);
        }
        if (!ok) return false;
      }
      annotations_.push_back(annotation);
      path_.Truncate(depth);
    }
  }

  if (has_status_code) {
    // otel.status_code decides; "error" only supplies a message.
  } else if (has_error) {
    status_code = model::StatusCode::kError;
  }
  std::string_view status_message;
  if (has_description) {
    status_message = status_description;
  } else if (has_error && status_code == model::StatusCode::kError) {
    status_message = error_tag;
  }

  const uint32_t resource = ResourceFor(local);
  const uint32_t scope = ScopeFor(resource, scope_name.empty() ? library_name : scope_name,
                                  scope_version.empty() ? library_version : scope_version);

  const uint32_t row = batch_.AddSpan();
  batch_.trace_id[row] = trace_id;
  batch_.span_id[row] = span_id;
  batch_.parent_span_id[row] = parent_span_id;
  batch_.name[row] = batch_.Copy(name);
  batch_.kind[row] = kind;
  batch_.start_unix_nano[row] = timestamp * 1000;
  batch_.end_unix_nano[row] = timestamp * 1000 + duration * 1000;
  batch_.status_code[row] = status_code;
  batch_.status_message[row] = batch_.Copy(status_message);
  batch_.scope[row] = scope;

  Range attributes{static_cast<uint32_t>(batch_.attributes.size()), 0};
  for (const Tag& tag : tags_) AddString(batch_.Copy(tag.key), tag.text);
  if (!remote.service_name.empty()) {
    AddString("peer.service", remote.service_name);
  }
  if (!remote.ip.empty()) AddString("net.peer.ip", remote.ip);
  if (remote.port != 0) AddInt("net.peer.port", remote.port);
  attributes.count = static_cast<uint32_t>(batch_.attributes.size() - attributes.first);
  batch_.span_attributes[row] = attributes;

  const Range events{static_cast<uint32_t>(batch_.events.size()),
                     static_cast<uint32_t>(annotations_.size())};
  for (const Annotation& annotation : annotations_) {
    model::Event event;
    event.time_unix_nano = annotation.time_unix_nano;
    event.name = batch_.Copy(annotation.value);
    batch_.events.push_back(event);
  }
  batch_.span_events[row] = events;
  return true;
}

}  // namespace

absl::StatusOr<model::SpanBatch> DecodeZipkinJson(std::string body, const Limits& limits,
                                                  DecodeStats* stats) {
  DecodeStats unused_stats;
  if (stats == nullptr) stats = &unused_stats;
  *stats = DecodeStats{};

  internal::JsonDocument doc;
  if (absl::Status status = doc.Parse(&body); !status.ok()) return status;
  SpanBatch batch;
  ZipkinDecoder decoder(limits, body.size(), &batch, stats);
  if (!decoder.Run(doc.root())) {
    *stats = DecodeStats{};
    return absl::InvalidArgumentError(decoder.malformed());
  }
  return batch;
}

}  // namespace ariadne::decode
