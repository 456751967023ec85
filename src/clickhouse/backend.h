// ClickHouseBackend: the StorageBackend over a ClickHouse database that
// ClickHouseWriter fills (schema: docs/format/clickhouse.md).
//
// Every answer equals the embedded store's for the same spans: trace
// search is SpanMatches' conditions in SQL (all of them are expressible,
// see SpanConditionsSql), a trace is rebuilt from each span's OTLP blob,
// and rows a retried insert duplicated are dropped at read time (span id
// and kind, as the head does) until ClickHouse merges them away.
//
// Errors: a query ClickHouse fails or cannot be reached for returns its
// Status (the query API answers 503).
//
// Threading: as StorageBackend (each call is its own HTTP request).
#pragma once

#include <string>

#include "clickhouse/client.h"
#include "store/backend.h"

namespace ariadne::clickhouse {

class ClickHouseBackend : public store::StorageBackend {
 public:
  // `client` must outlive the backend; `database` as given to EnsureSchema.
  ClickHouseBackend(const ClickHouseClient* client, std::string database)
      : client_(client), database_(std::move(database)) {}

  absl::StatusOr<std::vector<model::SpanRef>> GetTrace(
      const model::TraceId& trace_id) const override;
  absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const store::TraceQuery& query) const override;
  absl::StatusOr<std::vector<std::string>> Services() const override;
  absl::StatusOr<std::vector<store::Operation>> Operations(
      std::string_view service, std::optional<model::SpanKind> kind) const override;
  absl::StatusOr<std::vector<store::Dependency>> Dependencies(uint64_t start_nano,
                                                              uint64_t end_nano) const override;

 private:
  const ClickHouseClient* const client_;
  const std::string database_;
};

}  // namespace ariadne::clickhouse
