// JSON helpers shared by the OTLP/JSON and Zipkin decoders (simdjson DOM).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ariadne::decode::internal {

// A parsed JSON document. Small documents reuse a per-thread parser (its
// buffers stay allocated between requests); large ones get their own so a
// single big request does not pin its memory in the thread.
class JsonDocument {
 public:
  JsonDocument() = default;
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  // Parses `*body`, which gets simdjson's padding appended (so the parser
  // reads it in place). InvalidArgument "invalid JSON: ..." if it is not
  // JSON (including invalid UTF-8).
  [[nodiscard]] absl::Status Parse(std::string* body);
  // The root; valid until the document is destroyed or parses again.
  simdjson::dom::element root() const { return root_; }

 private:
  std::unique_ptr<simdjson::dom::parser> own_parser_;
  simdjson::dom::element root_;
};

// True if `key` is the lowerCamelCase field name `camel` or its snake_case
// form ("traceId" matches "traceId" and "trace_id").
[[nodiscard]] bool FieldIs(std::string_view key, std::string_view camel);

// "object", "array", "string", "number", "boolean" or "null".
std::string_view JsonTypeName(simdjson::dom::element e);

// Outcome of reading a number from JSON.
enum class NumberResult {
  kOk,
  kWrongType,  // neither a number nor a string: the request has a bad shape
  kBadValue,   // a string that is not a number, or out of range
};

// Unsigned or signed 64-bit integer: a JSON number (an integral double is
// accepted) or a string of decimal digits.
[[nodiscard]] NumberResult ToUint64(simdjson::dom::element e, uint64_t* out);
[[nodiscard]] NumberResult ToInt64(simdjson::dom::element e, int64_t* out);
// Double: a JSON number or a string, including "NaN", "Infinity" and
// "-Infinity".
[[nodiscard]] NumberResult ToDouble(simdjson::dom::element e, double* out);

}  // namespace ariadne::decode::internal
