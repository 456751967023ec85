// Decoders: request bodies -> SpanBatch.
//
// Each decoder takes the (already decompressed) body by value, lets the batch
// adopt it so protobuf strings are views into it, and walks it once.
//
// Errors are reported at two levels, as OTLP asks:
//  - the whole request is malformed (not protobuf, not JSON, wrong shape):
//    the decoder returns InvalidArgument with a message naming the problem
//    and where it was found; nothing of the request is kept;
//  - a single span is invalid (bad id length, limit exceeded, invalid UTF-8):
//    the span is left out of the batch, DecodeStats::rejected_spans counts it
//    and DecodeStats::error_message describes the first such problem.
//
// Threading: the functions are pure; call them from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/span_batch.h"

namespace ariadne::decode {

// Limits applied to every span; a span over a limit is rejected and the
// message names the limit's configuration key.
struct Limits {
  uint32_t max_attributes_per_span = 1024;     // limits.max_attributes_per_span
  uint32_t max_events_per_span = 1024;         // limits.max_events_per_span
  uint32_t max_links_per_span = 1024;          // limits.max_links_per_span
  uint32_t max_attribute_value_bytes = 65536;  // limits.max_attribute_value_bytes
  uint32_t max_value_depth = 16;               // nesting of arrays/kvlists (limits.max_value_depth)

  // For decoding what a receiver already admitted (the log on replay, Kafka
  // messages): limits applied again, perhaps lowered since, must not drop
  // acknowledged spans. The depth stays bounded (the decoder recurses).
  static Limits Admitted() {
    return Limits{UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, 64};
  }
};

struct DecodeStats {
  int64_t accepted_spans = 0;
  int64_t rejected_spans = 0;
  std::string error_message;  // first per-span problem, "" if none
};

// OTLP ExportTraceServiceRequest (== TracesData) in protobuf encoding.
absl::StatusOr<model::SpanBatch> DecodeOtlpProto(std::string body, const Limits& limits,
                                                 DecodeStats* stats);

// OTLP ExportTraceServiceRequest in the OTLP/JSON encoding (lowerCamelCase
// field names, also accepting snake_case; hex ids; enum values as integers
// or names; 64-bit integers as strings or numbers).
absl::StatusOr<model::SpanBatch> DecodeOtlpJson(std::string body, const Limits& limits,
                                                DecodeStats* stats);

// Zipkin v2 JSON: an array of spans (POST /api/v2/spans).
absl::StatusOr<model::SpanBatch> DecodeZipkinJson(std::string body, const Limits& limits,
                                                  DecodeStats* stats);

}  // namespace ariadne::decode
