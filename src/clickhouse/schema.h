// The ClickHouse schema of Ariadne's spans (docs/format/clickhouse.md), the
// SQL that reads it, and the rows that fill it.
//
//  - ServerFeatures: what the server's version allows (LowCardinality,
//    column codecs, TTL, skipping indexes); 18.16 (Debian 12) has none.
//  - SchemaStatements / EnsureSchema: the DDL for those features, and its
//    application with a schema_version table so later versions can migrate.
//  - EncodeSpanRows: a batch as RowBinary rows of the spans table.
//  - FindTracesSql, ...: the read statements (pure, unit-tested).
//
// Threading: pure functions, except EnsureSchema (one call at a time per
// database).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clickhouse/client.h"
#include "model/span_batch.h"
#include "store/query.h"

namespace ariadne::clickhouse {

// The schema this code writes and reads; EnsureSchema migrates older ones.
inline constexpr uint32_t kSchemaVersion = 1;

struct ServerFeatures {
  int major = 0;
  int minor = 0;
  bool low_cardinality = false;  // LowCardinality(String): 19.9+
  bool codecs = false;           // CODEC(Delta, ZSTD(n)): 19.10+ (Delta needs 19.10)
  bool ttl = false;              // table TTL: 19.6+
  bool skip_indexes = false;     // INDEX ... TYPE bloom_filter without the experimental flag: 20.3+
};

// Features of a server from its version() text ("18.16.1", "23.8.2.7").
// InvalidArgument if the text does not start with "major.minor".
absl::StatusOr<ServerFeatures> FeaturesForVersion(std::string_view version);

struct SchemaOptions {
  std::string database = "ariadne";  // [A-Za-z0-9_]+
  // Days spans are kept, by their start day; 0 keeps them forever. Needs
  // TTL (19.6+): on older servers EnsureSchema ignores it with a warning
  // (drop old partitions by hand; one partition a day).
  uint32_t ttl_days = 0;
};

// InvalidArgument unless the name is [A-Za-z0-9_]{1,64} (it is written into
// statements unquoted).
absl::Status ValidateDatabaseName(std::string_view name);

// The statements that create schema version kSchemaVersion from nothing
// (every one IF NOT EXISTS), for a server with `features`.
std::vector<std::string> SchemaStatements(const SchemaOptions& options,
                                          const ServerFeatures& features);

// Creates the database and tables if missing, migrates an older schema
// version, and returns the server's features. FailedPrecondition if the
// database holds a newer schema than this code knows.
absl::StatusOr<ServerFeatures> EnsureSchema(const ClickHouseClient& client,
                                            const SchemaOptions& options);

// The column list of the spans table in RowBinary insert order, and the
// INSERT statement for EncodeSpanRows' rows.
std::string InsertSpansSql(std::string_view database);
// Appends one RowBinary row per span of `batch` (spans table columns).
void EncodeSpanRows(const model::SpanBatch& batch, std::string* out);

// A ClickHouse string literal: quotes, with ' and \ escaped and bytes
// outside printable ASCII as \xHH (so any bytes survive exactly).
std::string Quote(std::string_view s);
// toFixedString(unhex('...'), N): an id as a FixedString literal.
std::string IdLiteral(std::span<const uint8_t> id);
// 'YYYY-MM-DD' of a day number (days since 1970-01-01).
std::string DateLiteral(uint32_t day);
// The last day every server's Date handles: 2105-12-31 (18.16's date
// tables end in 2105, although a Date holds up to 2149).
inline constexpr uint16_t kLastDay = 49672;
// The Date column's day of a start time: days since the epoch, at most
// kLastDay (later spans all land on that day).
uint16_t DayOf(uint64_t unix_nano);

// The WHERE conditions that hold exactly for the rows SpanMatches accepts
// ("1" if none).
std::string SpanConditionsSql(const store::TraceQuery& query);
// (trace_id FixedString(16), newest UInt64) rows, newest first, as RowBinary.
std::string FindTracesSql(std::string_view database, const store::TraceQuery& query);
// (min_date, max_date, count) of a trace in trace_index, as RowBinary.
std::string TraceRangeSql(std::string_view database, const model::TraceId& id);
// The OTLP blobs of a trace's spans within the days [first_day, last_day].
std::string TraceSpansSql(std::string_view database, const model::TraceId& id,
                          uint16_t first_day, uint16_t last_day);
// Distinct services, sorted, as RowBinary strings.
std::string ServicesSql(std::string_view database);
// (name, kind) of a service's operations, sorted, as RowBinary.
std::string OperationsSql(std::string_view database, std::string_view service,
                          std::optional<model::SpanKind> kind);
// (parent service, child service, calls) for children started in
// [start_nano, end_nano], as RowBinary.
std::string DependenciesSql(std::string_view database, uint64_t start_nano, uint64_t end_nano);

}  // namespace ariadne::clickhouse
