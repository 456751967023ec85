#include "decode/decode_test_util.h"

#include <cstdio>
#include <string_view>

#include "absl/strings/escaping.h"
#include "decode/decode_internal.h"

namespace ariadne::decode::testing {
namespace {

namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_trace = opentelemetry::proto::trace::v1;

std::string Str(std::string_view s) {
  return internal::Cat("\"", absl::CEscape(AbslView(s)), "\"");
}

std::string Double(double d) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%a", d);
  return buf;
}

std::string Hex(std::string_view bytes) { return absl::BytesToHexString(AbslView(bytes)); }

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& id) {
  return model::ToHex(id);
}

// --- SpanBatch side ---

std::string Value(const model::SpanBatch& b, const model::AnyValue& v);

std::string KeyValues(const model::SpanBatch& b, model::Range r) {
  std::string out = "[";
  for (uint32_t i = 0; i < r.count; ++i) {
    const model::KeyValue& kv = b.attributes.at(r.first + i);
    internal::Append(&out, i ? ", " : "", Str(kv.key), "=", Value(b, kv.value));
  }
  return out + "]";
}

std::string Value(const model::SpanBatch& b, const model::AnyValue& v) {
  switch (v.type) {
    case model::ValueType::kEmpty:
      return "empty";
    case model::ValueType::kString:
      return internal::Cat("s:", Str(v.bytes));
    case model::ValueType::kBool:
      return v.bool_value ? "true" : "false";
    case model::ValueType::kInt:
      return internal::Cat("i:", v.int_value);
    case model::ValueType::kDouble:
      return internal::Cat("d:", Double(v.double_value));
    case model::ValueType::kBytes:
      return internal::Cat("b:", Hex(v.bytes));
    case model::ValueType::kArray: {
      std::string out = "array[";
      for (uint32_t i = 0; i < v.children.count; ++i) {
        internal::Append(&out, i ? ", " : "", Value(b, b.array_items.at(v.children.first + i)));
      }
      return out + "]";
    }
    case model::ValueType::kKvList:
      return internal::Cat("kvlist", KeyValues(b, v.children));
  }
  return "?";
}

// --- protobuf side ---

std::string Value(const pb_common::AnyValue& v);

std::string KeyValues(const google::protobuf::RepeatedPtrField<pb_common::KeyValue>& kvs) {
  std::string out = "[";
  for (int i = 0; i < kvs.size(); ++i) {
    internal::Append(&out, i ? ", " : "", Str(kvs[i].key()), "=",
                     kvs[i].has_value() ? Value(kvs[i].value()) : "empty");
  }
  return out + "]";
}

std::string Value(const pb_common::AnyValue& v) {
  switch (v.value_case()) {
    case pb_common::AnyValue::VALUE_NOT_SET:
      return "empty";
    case pb_common::AnyValue::kStringValue:
      return internal::Cat("s:", Str(v.string_value()));
    case pb_common::AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case pb_common::AnyValue::kIntValue:
      return internal::Cat("i:", v.int_value());
    case pb_common::AnyValue::kDoubleValue:
      return internal::Cat("d:", Double(v.double_value()));
    case pb_common::AnyValue::kBytesValue:
      return internal::Cat("b:", Hex(v.bytes_value()));
    case pb_common::AnyValue::kArrayValue: {
      std::string out = "array[";
      for (int i = 0; i < v.array_value().values_size(); ++i) {
        internal::Append(&out, i ? ", " : "", Value(v.array_value().values(i)));
      }
      return out + "]";
    }
    case pb_common::AnyValue::kKvlistValue:
      return internal::Cat("kvlist", KeyValues(v.kvlist_value().values()));
  }
  return "?";
}

std::string ServiceName(const google::protobuf::RepeatedPtrField<pb_common::KeyValue>& kvs) {
  for (const auto& kv : kvs) {
    if (kv.key() == "service.name" && kv.value().has_string_value()) {
      return kv.value().string_value();
    }
  }
  return "";
}

std::string PaddedId(const std::string& id, size_t size) {
  return id.empty() ? std::string(size, '\0') : id;
}

}  // namespace

std::string DumpBatch(const model::SpanBatch& b) {
  std::string out;
  for (uint32_t row = 0; row < b.size(); ++row) {
    const model::Scope& scope = b.scopes.at(b.scope[row]);
    const model::Resource& res = b.resources.at(scope.resource);
    internal::Append(&out, "span trace=", Hex(b.trace_id[row]), " id=", Hex(b.span_id[row]),
                     " parent=", Hex(b.parent_span_id[row]), "\n");
    internal::Append(&out, "  state=", Str(b.trace_state[row]), " flags=", b.flags[row],
                     " name=", Str(b.name[row]), " kind=", static_cast<int>(b.kind[row]),
                     " start=", b.start_unix_nano[row], " end=", b.end_unix_nano[row], "\n");
    internal::Append(&out, "  attributes=", KeyValues(b, b.span_attributes[row]),
                     " dropped=", b.dropped_attributes_count[row], "\n");
    const model::Range events = b.span_events[row];
    for (uint32_t i = 0; i < events.count; ++i) {
      const model::Event& e = b.events.at(events.first + i);
      internal::Append(&out, "  event time=", e.time_unix_nano, " name=", Str(e.name),
                       " attributes=", KeyValues(b, e.attributes),
                       " dropped=", e.dropped_attributes_count, "\n");
    }
    internal::Append(&out, "  dropped_events=", b.dropped_events_count[row], "\n");
    const model::Range links = b.span_links[row];
    for (uint32_t i = 0; i < links.count; ++i) {
      const model::Link& l = b.links.at(links.first + i);
      internal::Append(&out, "  link trace=", Hex(l.trace_id), " id=", Hex(l.span_id),
                       " state=", Str(l.trace_state), " flags=", l.flags,
                       " attributes=", KeyValues(b, l.attributes),
                       " dropped=", l.dropped_attributes_count, "\n");
    }
    internal::Append(&out, "  dropped_links=", b.dropped_links_count[row], "\n");
    internal::Append(&out, "  status=", static_cast<int>(b.status_code[row]), " ",
                     Str(b.status_message[row]), "\n");
    internal::Append(&out, "  scope name=", Str(scope.name), " version=", Str(scope.version),
                     " attributes=", KeyValues(b, scope.attributes),
                     " dropped=", scope.dropped_attributes_count, " schema=", Str(scope.schema_url),
                     "\n");
    internal::Append(&out, "  resource service=", Str(res.service_name),
                     " attributes=", KeyValues(b, res.attributes),
                     " dropped=", res.dropped_attributes_count, " schema=", Str(res.schema_url),
                     "\n");
  }
  return out;
}

std::string DumpRequest(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request) {
  std::string out;
  for (const pb_trace::ResourceSpans& rs : request.resource_spans()) {
    for (const pb_trace::ScopeSpans& ss : rs.scope_spans()) {
      for (const pb_trace::Span& s : ss.spans()) {
        internal::Append(&out, "span trace=", Hex(s.trace_id()), " id=", Hex(s.span_id()),
                         " parent=", Hex(PaddedId(s.parent_span_id(), 8)), "\n");
        internal::Append(&out, "  state=", Str(s.trace_state()), " flags=", s.flags(),
                         " name=", Str(s.name()), " kind=", static_cast<int>(s.kind()),
                         " start=", s.start_time_unix_nano(), " end=", s.end_time_unix_nano(),
                         "\n");
        internal::Append(&out, "  attributes=", KeyValues(s.attributes()),
                         " dropped=", s.dropped_attributes_count(), "\n");
        for (const auto& e : s.events()) {
          internal::Append(&out, "  event time=", e.time_unix_nano(), " name=", Str(e.name()),
                           " attributes=", KeyValues(e.attributes()),
                           " dropped=", e.dropped_attributes_count(), "\n");
        }
        internal::Append(&out, "  dropped_events=", s.dropped_events_count(), "\n");
        for (const auto& l : s.links()) {
          internal::Append(&out, "  link trace=", Hex(l.trace_id()), " id=", Hex(l.span_id()),
                           " state=", Str(l.trace_state()), " flags=", l.flags(),
                           " attributes=", KeyValues(l.attributes()),
                           " dropped=", l.dropped_attributes_count(), "\n");
        }
        internal::Append(&out, "  dropped_links=", s.dropped_links_count(), "\n");
        internal::Append(&out, "  status=", static_cast<int>(s.status().code()), " ",
                         Str(s.status().message()), "\n");
        internal::Append(&out, "  scope name=", Str(ss.scope().name()),
                         " version=", Str(ss.scope().version()),
                         " attributes=", KeyValues(ss.scope().attributes()),
                         " dropped=", ss.scope().dropped_attributes_count(),
                         " schema=", Str(ss.schema_url()), "\n");
        internal::Append(&out, "  resource service=", Str(ServiceName(rs.resource().attributes())),
                         " attributes=", KeyValues(rs.resource().attributes()),
                         " dropped=", rs.resource().dropped_attributes_count(),
                         " schema=", Str(rs.schema_url()), "\n");
      }
    }
  }
  return out;
}

}  // namespace ariadne::decode::testing
