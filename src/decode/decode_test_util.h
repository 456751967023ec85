// Test helpers for the decoders: a canonical text form of a SpanBatch and of
// an OTLP request, so a test can check every field of every decoded span
// against the message it was built from with one comparison.
#pragma once

#include <string>

#include "model/span_batch.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::decode::testing {

// One block per span, in batch order; each block repeats the span's scope
// and resource, and lists attributes with nested values resolved.
std::string DumpBatch(const model::SpanBatch& batch);

// The same text for the spans of `request`, in request order, as a decoder
// that keeps every field must produce.
std::string DumpRequest(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request);

}  // namespace ariadne::decode::testing
