// The reading of ClickHouse's answers: pure functions from the body of an
// HTTP answer to values, kept apart from the transport (client.cc) and from
// the statements (schema.cc, backend.cc) so that they can be unit-tested
// without a server and fuzzed alone (test/fuzz/clickhouse_response_fuzzer.cc).
//
//  - ParseVersionAnswer, ParseVersionNumbers: `SELECT version() FORMAT
//    TabSeparated` ("23.8.2.7\n"), and the major.minor it starts with.
//  - ParseSchemaVersionAnswer: `SELECT max(version) ... FORMAT TSV`.
//  - ParseTraceRange, ParseTraceSpans, ParseFindTraces, ParseServices,
//    ParseOperations, ParseDependencies: the RowBinary rows (row_binary.h)
//    of the read statements of the same names in schema.h.
//  - ClickHouseErrorCode and ClickHouseError (declared in client.h): the
//    exception text of a non-2xx answer. They are defined in response.cc so
//    that the fuzz build takes them without the transport.
//
// Errors: Internal, "clickhouse: malformed ... answer to the <what> query",
// for a body that is not what the statement asks ClickHouse for (cut short,
// bytes left over, a value the schema cannot hold). Nothing is ever read
// past the end of the body, whatever its bytes.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/span_batch.h"
#include "store/query.h"

namespace ariadne::clickhouse {

// The answer to SELECT version(): its text without the line end ("18.16.1",
// "23.8.2.7"). Never fails: ParseVersionNumbers judges the text.
std::string ParseVersionAnswer(std::string_view body);

struct ServerVersion {
  int major = 0;
  int minor = 0;
};
// The major.minor a version text starts with ("23.8.2.7" -> 23, 8).
// InvalidArgument unless it starts with digits, '.', digits (in int range).
absl::StatusOr<ServerVersion> ParseVersionNumbers(std::string_view version);

// The answer to SELECT max(version) FROM <db>.schema_version FORMAT TSV: a
// number and a line end; 0 for an empty table (ClickHouse answers 0, or \N
// with aggregate_functions_null_for_empty).
absl::StatusOr<uint32_t> ParseSchemaVersionAnswer(std::string_view body);

// TraceRangeSql's one row: the days of a trace's spans and its index rows
// (days 0 and count 0 for a trace the index does not know).
struct TraceRange {
  uint16_t first_day = 0;
  uint16_t last_day = 0;
  uint64_t rows = 0;
};
absl::StatusOr<TraceRange> ParseTraceRange(std::string_view body);

// TraceSpansSql's rows (one OTLP blob each), concatenated: protobuf
// messages concatenated are one message with the repeated fields joined.
absl::StatusOr<std::string> ParseTraceSpans(std::string_view body);

// FindTracesSql's rows: (newest start, trace id), in the answer's order.
absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> ParseFindTraces(
    std::string_view body);

// ServicesSql's rows, in the answer's order.
absl::StatusOr<std::vector<std::string>> ParseServices(std::string_view body);

// OperationsSql's rows, in the answer's order. A kind beyond the OTLP
// kinds (0..5, all the writer stores) is malformed.
absl::StatusOr<std::vector<store::Operation>> ParseOperations(std::string_view body);

// DependenciesSql's rows, in the answer's order.
absl::StatusOr<std::vector<store::Dependency>> ParseDependencies(std::string_view body);

}  // namespace ariadne::clickhouse
