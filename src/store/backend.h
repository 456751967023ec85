// StorageBackend: what the query API and analytics read spans through.
//
// The embedded store (head + blocks, embedded.h) implements it today; a
// ClickHouse backend can sit beside it. The head alone implements it too
// (tests, and a server whose blocks are off).
//
// Errors: the read methods return a Status when the backend cannot answer
// (a remote database down or refusing the query); the embedded store and the
// head always answer. Callers report the error rather than an empty answer.
//
// Threading: every method may be called concurrently with ingest and with
// each other.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/span_batch.h"
#include "store/query.h"

namespace ariadne::store {

class StorageBackend {
 public:
  virtual ~StorageBackend() = default;

  // The spans of one trace, deduplicated by span id, ordered by start time.
  virtual absl::StatusOr<std::vector<model::SpanRef>> GetTrace(
      const model::TraceId& trace_id) const = 0;
  // Traces that match, as (newest matching span start, id), newest first,
  // at most query.limit.
  virtual absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const TraceQuery& query) const = 0;
  // Ids of FindTraces, in its order.
  absl::StatusOr<std::vector<model::TraceId>> FindTraceIds(const TraceQuery& query) const {
    auto found = FindTraces(query);
    if (!found.ok()) return found.status();
    std::vector<model::TraceId> out;
    out.reserve(found->size());
    for (const auto& [start, id] : *found) out.push_back(id);
    return out;
  }
  virtual absl::StatusOr<std::vector<std::string>> Services() const = 0;  // sorted
  // Operations of a service (all kinds if `kind` is empty), sorted by name.
  virtual absl::StatusOr<std::vector<Operation>> Operations(
      std::string_view service, std::optional<model::SpanKind> kind) const = 0;
  // Caller service -> callee service edges, for spans started in the range.
  virtual absl::StatusOr<std::vector<Dependency>> Dependencies(uint64_t start_nano,
                                                               uint64_t end_nano) const = 0;
};

}  // namespace ariadne::store
