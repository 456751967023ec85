// The collector's answer to an OTLP trace export: ExportTraceServiceResponse
// (opentelemetry/proto/collector/trace/v1/trace_service.proto), read with
// protozero. Its only field is partial_success (1), an
// ExportTracePartialSuccess with rejected_spans (1, int64) and error_message
// (2, string). An empty response (or one without partial_success) means
// every span was accepted.
//
// The sinks (sink.cc) call this on every 2xx HTTP body and every OK gRPC
// answer; it is network input, hence test/fuzz/otlp_response_fuzzer.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ariadne::sim {

struct ExportResult {
  int64_t rejected_spans = 0;  // as sent: may be negative or exceed the request's spans
  std::string error_message;
};

// Fields are read as protobuf merges them: the last occurrence of a scalar
// wins, also across repeated partial_success messages. Unknown fields and
// fields of an unexpected wire type are skipped. InvalidArgument if
// `protobuf` is not well-formed protobuf (truncated, bad wire type, tag 0,
// over-long varint).
absl::StatusOr<ExportResult> ParseExportResponse(std::string_view protobuf);

}  // namespace ariadne::sim
