// ParseExportResponse against responses encoded by the generated protobuf
// classes, and against malformed bytes.
#include "sim/otlp_response.h"

#include <gtest/gtest.h>

#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::sim {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
using namespace std::string_literals;

TEST(ParseExportResponse, ReadsPartialSuccess) {
  collector::ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(7);
  response.mutable_partial_success()->set_error_message("span 3 has no trace id");
  const absl::StatusOr<ExportResult> result = ParseExportResponse(response.SerializeAsString());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rejected_spans, 7);
  EXPECT_EQ(result->error_message, "span 3 has no trace id");
}

TEST(ParseExportResponse, EmptyResponseRejectsNothing) {
  for (const std::string& bytes :
       {""s, collector::ExportTraceServiceResponse().SerializeAsString(), "\x0a\x00"s}) {
    const absl::StatusOr<ExportResult> result = ParseExportResponse(bytes);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->rejected_spans, 0);
    EXPECT_EQ(result->error_message, "");
  }
}

TEST(ParseExportResponse, WarningWithoutRejectedSpans) {
  collector::ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_error_message("deprecated attribute");
  const absl::StatusOr<ExportResult> result = ParseExportResponse(response.SerializeAsString());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rejected_spans, 0);
  EXPECT_EQ(result->error_message, "deprecated attribute");
}

TEST(ParseExportResponse, NegativeCountIsReadAsSent) {
  collector::ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(-1);
  const absl::StatusOr<ExportResult> result = ParseExportResponse(response.SerializeAsString());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rejected_spans, -1);  // the sink clamps it to the request's spans
}

TEST(ParseExportResponse, SkipsUnknownFieldsAndLastValueWins) {
  // field 5 varint 1 | partial_success{rejected 2, field 9 fixed32, message "a"}
  // | partial_success{rejected 3} | field 1 as a varint (wrong type: skipped).
  const std::string bytes =
      "\x28\x01"s
      "\x0a\x0a\x08\x02\x4d\x01\x02\x03\x04\x12\x01\x61"s
      "\x0a\x02\x08\x03"s
      "\x08\x05"s;
  const absl::StatusOr<ExportResult> result = ParseExportResponse(bytes);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rejected_spans, 3);
  EXPECT_EQ(result->error_message, "a");
}

TEST(ParseExportResponse, MalformedBytesAreAnError) {
  for (const std::string& bytes : {
           "\x0a\x05\x08"s,          // length beyond the end
           "\x0a\x02\x08"s,          // partial_success truncated
           "\x0a\x01\x08"s,          // varint cut off inside partial_success
           "\x0b"s,                  // wire type 3 (start group)
           "\x00\x00"s,              // tag 0
           "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s,  // over-long varint
           "\xff"s,                  // tag varint cut off
           "<html>bad gateway</html>"s,
       }) {
    const absl::StatusOr<ExportResult> result = ParseExportResponse(bytes);
    EXPECT_FALSE(result.ok()) << testing::PrintToString(bytes);
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(result.status().message().empty());
    }
  }
}

}  // namespace
}  // namespace ariadne::sim
