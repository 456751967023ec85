#include "sim/otlp_response.h"

#include <protozero/exception.hpp>
#include <protozero/pbf_reader.hpp>

#include "absl/status/status.h"

namespace ariadne::sim {

absl::StatusOr<ExportResult> ParseExportResponse(std::string_view protobuf) {
  ExportResult out;
  try {
    protozero::pbf_reader message(protobuf.data(), protobuf.size());
    while (message.next()) {
      if (message.tag() != 1 || message.wire_type() != protozero::pbf_wire_type::length_delimited) {
        message.skip();
        continue;
      }
      protozero::pbf_reader partial = message.get_message();
      while (partial.next()) {
        if (partial.tag() == 1 && partial.wire_type() == protozero::pbf_wire_type::varint) {
          out.rejected_spans = partial.get_int64();
        } else if (partial.tag() == 2 &&
                   partial.wire_type() == protozero::pbf_wire_type::length_delimited) {
          out.error_message = partial.get_string();
        } else {
          partial.skip();
        }
      }
    }
  } catch (const protozero::exception& e) {
    return absl::InvalidArgumentError(
        std::string("malformed ExportTraceServiceResponse: ") + e.what());
  }
  return out;
}

}  // namespace ariadne::sim
