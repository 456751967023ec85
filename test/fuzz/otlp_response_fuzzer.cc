// libFuzzer target: ParseExportResponse (sim/otlp_response.h), the sinks'
// reading of the collector's ExportTraceServiceResponse, on arbitrary bytes.
// It must answer a result or InvalidArgument with a message, never crash; a
// result's error_message is a slice of the input; parsing is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sim/otlp_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<ariadne::sim::ExportResult> result =
      ariadne::sim::ParseExportResponse(bytes);
  if (!result.ok()) {
    if (result.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    if (result.status().message().empty()) std::abort();
    return 0;
  }
  if (result->error_message.size() > size) std::abort();
  if (!result->error_message.empty() && bytes.find(result->error_message) == bytes.npos) {
    std::abort();
  }
  if (size == 0 && (result->rejected_spans != 0 || !result->error_message.empty())) std::abort();
  const absl::StatusOr<ariadne::sim::ExportResult> again = ariadne::sim::ParseExportResponse(bytes);
  if (!again.ok() || again->rejected_spans != result->rejected_spans ||
      again->error_message != result->error_message) {
    std::abort();
  }
  return 0;
}
