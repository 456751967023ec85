// Encoders: spans -> OTLP protobuf and OTLP/JSON.
//
// Each takes a list of span references (possibly from many batches, in any
// order) and writes them grouped by resource and scope, keeping every field.
// EncodeOtlpProto(batch) of a decoded batch decodes back to an equal batch.
//
// Threading: pure functions; call them from any thread.
#pragma once

#include <span>
#include <string>

#include "model/span_batch.h"

namespace ariadne::encode {

// Appends an ExportTraceServiceRequest (protobuf) with the given spans.
void EncodeOtlpProto(std::span<const model::SpanRef> spans, std::string* out);
// Appends the whole batch as an ExportTraceServiceRequest (protobuf).
void EncodeOtlpProto(const model::SpanBatch& batch, std::string* out);

// Appends the spans as an OTLP/JSON TracesData object:
// {"resourceSpans":[...]} with hex ids and 64-bit integers as strings.
void EncodeOtlpJson(std::span<const model::SpanRef> spans, std::string* out);

}  // namespace ariadne::encode
