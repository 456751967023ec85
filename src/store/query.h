// What the store answers: the query types shared by the head, the blocks
// and the storage backends, and the one definition of when a span matches a
// trace search (so that every part of the store answers alike).
//
// Threading: plain values and pure functions.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/span_batch.h"

namespace ariadne::store {

// What a trace search asks for. All conditions must hold for one span of the
// trace (as Jaeger's search does); empty fields match anything.
struct TraceQuery {
  std::string service;
  std::string operation;
  std::optional<model::SpanKind> kind;
  // key=value conditions on span attributes or its resource's attributes.
  // The keys "error" (true/false) and "span.kind" (server, client, ...) and
  // "otel.status_code" (OK, ERROR, UNSET) match the span's status and kind.
  std::vector<std::pair<std::string, std::string>> tags;
  uint64_t min_duration_nano = 0;
  uint64_t max_duration_nano = std::numeric_limits<uint64_t>::max();
  uint64_t start_min_nano = 0;  // span start in [start_min, start_max]
  uint64_t start_max_nano = std::numeric_limits<uint64_t>::max();
  size_t limit = 20;
};

struct Operation {
  std::string name;
  model::SpanKind kind = model::SpanKind::kUnspecified;
  friend bool operator==(const Operation&, const Operation&) = default;
};

struct Dependency {
  std::string parent;
  std::string child;
  uint64_t call_count = 0;
};

// Name used for spans whose resource has no service.name.
inline constexpr std::string_view kUnknownService = "unknown_service";

// The displayed service name of a span ("unknown_service" if unset).
std::string_view ServiceOf(const model::SpanBatch& batch, uint32_t row);

// Whether span `row` meets every condition of `query` (service, operation,
// kind, tags, duration and start range; not the limit).
bool SpanMatches(const model::SpanBatch& batch, uint32_t row, const TraceQuery& query);

}  // namespace ariadne::store
