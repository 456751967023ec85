// The Jaeger query JSON model: one trace as jaeger-query's HTTP API returns
// it inside "data" (GET /api/traces/{id}, /api/traces?service=...), which is
// what the Jaeger UI reads.
//
// Mapping from OTLP, following Jaeger's OTLP -> Jaeger translation:
//  - ids: traceID as 32 lower-case hex digits, spanID as 16; the trace's id
//    is that of its first span;
//  - startTime / duration / log timestamps: microseconds (truncated);
//  - references: the parent as CHILD_OF first, then links as FOLLOWS_FROM
//    (CHILD_OF if the link has attribute opentracing.ref_type = "child_of";
//    a link to the parent only changes the parent reference's type);
//  - flags: the W3C trace flags (low byte of the OTLP flags; bit 0 = sampled,
//    as in Jaeger);
//  - tags, in order: otel.scope.name, otel.scope.version, the span's
//    attributes, span.kind ("server", "client", "producer", "consumer",
//    "internal"; none for unspecified), otel.status_code ("OK" / "ERROR"),
//    error = true (bool, for ERROR), otel.status_description (status
//    message), w3c.tracestate, then otel.dropped_attributes_count,
//    otel.dropped_events_count and otel.dropped_links_count when non-zero;
//  - attribute values: string, bool, int64, float64 and binary (base64) map
//    to the tag types of those names; arrays and kvlists become string tags
//    holding the value as compact JSON; an empty value becomes the string "";
//    NaN and infinities (not JSON numbers) become string tags;
//  - logs: one per event, fields {"event": name} (unless the name is empty
//    or the event has its own "event" attribute) then the event attributes,
//    then otel.dropped_attributes_count when non-zero; link attributes are
//    dropped (Jaeger references have none);
//  - processes: one per distinct (batch, resource), ids p1, p2, ... in order
//    of first appearance; serviceName = service.name ("unknown_service" if
//    empty); tags = the other resource attributes (and
//    otel.dropped_attributes_count when non-zero);
//  - "warnings" is null on spans and on the trace.
//
// Threading: pure functions; call them from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "encode/json_util.h"
#include "model/span_batch.h"

namespace ariadne::encode {

// Writes one trace object {"traceID","spans","processes","warnings"} with
// the given spans, in the given order.
void WriteJaegerTrace(std::span<const model::SpanRef> spans,
                      rapidjson::Writer<rapidjson::StringBuffer>* w);

// Tags: {"key":..,"type":..,"value":..}.
void WriteJaegerAttributeTag(const model::SpanBatch& batch, const model::KeyValue& kv,
                             rapidjson::Writer<rapidjson::StringBuffer>* w);
void WriteJaegerStringTag(std::string_view key, std::string_view value,
                          rapidjson::Writer<rapidjson::StringBuffer>* w);
void WriteJaegerBoolTag(std::string_view key, bool value,
                        rapidjson::Writer<rapidjson::StringBuffer>* w);
void WriteJaegerInt64Tag(std::string_view key, int64_t value,
                         rapidjson::Writer<rapidjson::StringBuffer>* w);

}  // namespace ariadne::encode
