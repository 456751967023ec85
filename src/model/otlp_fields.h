// Field numbers of the OTLP trace messages (proto/opentelemetry/proto/**),
// shared by the protobuf decoder (src/decode/otlp_proto.cc) and encoder
// (src/encode/otlp_proto_encoder.cc). They are the wire contract.
#pragma once

#include <cstdint>

namespace ariadne::model::otlp_field {

namespace request {  // ExportTraceServiceRequest (and TracesData)
inline constexpr uint32_t kResourceSpans = 1;
}  // namespace request
namespace resource_spans {
inline constexpr uint32_t kResource = 1;
inline constexpr uint32_t kScopeSpans = 2;
inline constexpr uint32_t kSchemaUrl = 3;
// Deprecated InstrumentationLibrarySpans, laid out like ScopeSpans.
inline constexpr uint32_t kInstrumentationLibrarySpans = 1000;
}  // namespace resource_spans
namespace resource {
inline constexpr uint32_t kAttributes = 1;
inline constexpr uint32_t kDroppedAttributesCount = 2;
}  // namespace resource
namespace scope_spans {
inline constexpr uint32_t kScope = 1;
inline constexpr uint32_t kSpans = 2;
inline constexpr uint32_t kSchemaUrl = 3;
}  // namespace scope_spans
namespace scope {  // InstrumentationScope
inline constexpr uint32_t kName = 1;
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kAttributes = 3;
inline constexpr uint32_t kDroppedAttributesCount = 4;
}  // namespace scope
namespace span {
inline constexpr uint32_t kTraceId = 1;
inline constexpr uint32_t kSpanId = 2;
inline constexpr uint32_t kTraceState = 3;
inline constexpr uint32_t kParentSpanId = 4;
inline constexpr uint32_t kName = 5;
inline constexpr uint32_t kKind = 6;
inline constexpr uint32_t kStartTimeUnixNano = 7;
inline constexpr uint32_t kEndTimeUnixNano = 8;
inline constexpr uint32_t kAttributes = 9;
inline constexpr uint32_t kDroppedAttributesCount = 10;
inline constexpr uint32_t kEvents = 11;
inline constexpr uint32_t kDroppedEventsCount = 12;
inline constexpr uint32_t kLinks = 13;
inline constexpr uint32_t kDroppedLinksCount = 14;
inline constexpr uint32_t kStatus = 15;
inline constexpr uint32_t kFlags = 16;
}  // namespace span
namespace event {
inline constexpr uint32_t kTimeUnixNano = 1;
inline constexpr uint32_t kName = 2;
inline constexpr uint32_t kAttributes = 3;
inline constexpr uint32_t kDroppedAttributesCount = 4;
}  // namespace event
namespace link {
inline constexpr uint32_t kTraceId = 1;
inline constexpr uint32_t kSpanId = 2;
inline constexpr uint32_t kTraceState = 3;
inline constexpr uint32_t kAttributes = 4;
inline constexpr uint32_t kDroppedAttributesCount = 5;
inline constexpr uint32_t kFlags = 6;
}  // namespace link
namespace status {
inline constexpr uint32_t kMessage = 2;
inline constexpr uint32_t kCode = 3;
}  // namespace status
namespace key_value {
inline constexpr uint32_t kKey = 1;
inline constexpr uint32_t kValue = 2;
}  // namespace key_value
namespace any_value {  // the oneof's members
inline constexpr uint32_t kString = 1;
inline constexpr uint32_t kBool = 2;
inline constexpr uint32_t kInt = 3;
inline constexpr uint32_t kDouble = 4;
inline constexpr uint32_t kArray = 5;
inline constexpr uint32_t kKvList = 6;
inline constexpr uint32_t kBytes = 7;
}  // namespace any_value
// ArrayValue.values and KeyValueList.values.
inline constexpr uint32_t kListValues = 1;

}  // namespace ariadne::model::otlp_field
