// Parsing of query API parameters: durations, times and tag filters, in the
// forms Jaeger's API and UI send them. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ariadne::query {

// A Go-style duration: "1.5s", "100ms", "250us", "250µs", "42ns", "2m",
// "1h30m", "3d"; a bare number means microseconds (Jaeger's convention).
absl::StatusOr<uint64_t> ParseDurationNanos(std::string_view text);

// A non-negative decimal integer.
absl::StatusOr<uint64_t> ParseUint(std::string_view text);

// An RFC 3339 timestamp ("2026-11-24T01:02:03.456Z", "...+02:00") in Unix
// nanoseconds, or a decimal number of Unix microseconds.
absl::StatusOr<uint64_t> ParseTimeNanos(std::string_view text);

// Tags as a JSON object {"k":"v", "n": 5} (values turned into their text),
// appended to `out`.
absl::Status ParseTagsJson(std::string_view json,
                           std::vector<std::pair<std::string, std::string>>* out);
// One "key:value" (or "key=value") tag.
absl::Status ParseTagPair(std::string_view text,
                          std::vector<std::pair<std::string, std::string>>* out);

}  // namespace ariadne::query
