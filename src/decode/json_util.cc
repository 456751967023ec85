#include "decode/json_util.h"

#include <cctype>
#include <cmath>
#include <limits>

#include "absl/strings/numbers.h"
#include "decode/decode_internal.h"

namespace ariadne::decode::internal {

namespace {

// Documents up to this size are parsed with the per-thread parser.
constexpr size_t kSharedParserMaxBytes = 8 << 20;

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Largest double below 2^64 and 2^63, for range checks of integral doubles.
constexpr double kTwoPow64 = 18446744073709551616.0;
constexpr double kTwoPow63 = 9223372036854775808.0;

}  // namespace

absl::Status JsonDocument::Parse(std::string* body) {
  const size_t size = body->size();
  body->append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::parser* parser = &ThreadParser();
  if (size > kSharedParserMaxBytes) {
    own_parser_ = std::make_unique<simdjson::dom::parser>();
    parser = own_parser_.get();
  }
  const simdjson::error_code error =
      parser->parse(body->data(), size, /*realloc_if_needed=*/false).get(root_);
  body->resize(size);
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        internal::Cat("invalid JSON: ", simdjson::error_message(error)));
  }
  return absl::OkStatus();
}

bool FieldIs(std::string_view key, std::string_view camel) {
  if (key.size() == camel.size()) return key == camel;
  // snake_case: every upper-case letter of `camel` is '_' + lower case.
  size_t i = 0;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      if (i + 1 >= key.size() || key[i] != '_' || key[i + 1] != c - 'A' + 'a') {
        return false;
      }
      i += 2;
    } else {
      if (i >= key.size() || key[i] != c) return false;
      ++i;
    }
  }
  return i == key.size();
}

std::string_view JsonTypeName(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

NumberResult ToUint64(simdjson::dom::element e, uint64_t* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::UINT64:
      *out = e.get_uint64().value_unsafe();
      return NumberResult::kOk;
    case simdjson::dom::element_type::INT64: {
      const int64_t v = e.get_int64().value_unsafe();
      if (v < 0) return NumberResult::kBadValue;
      *out = static_cast<uint64_t>(v);
      return NumberResult::kOk;
    }
    case simdjson::dom::element_type::DOUBLE: {
      const double v = e.get_double().value_unsafe();
      if (!(v >= 0 && v < kTwoPow64) || std::trunc(v) != v) {
        return NumberResult::kBadValue;
      }
      *out = static_cast<uint64_t>(v);
      return NumberResult::kOk;
    }
    case simdjson::dom::element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (s.empty() || s[0] == '-' || s[0] == '+' || !absl::SimpleAtoi(AbslView(s), out)) {
        return NumberResult::kBadValue;
      }
      return NumberResult::kOk;
    }
    default:
      return NumberResult::kWrongType;
  }
}

NumberResult ToInt64(simdjson::dom::element e, int64_t* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      *out = e.get_int64().value_unsafe();
      return NumberResult::kOk;
    case simdjson::dom::element_type::UINT64:
      // simdjson only uses UINT64 for values above INT64_MAX.
      return NumberResult::kBadValue;
    case simdjson::dom::element_type::DOUBLE: {
      const double v = e.get_double().value_unsafe();
      if (!(v >= -kTwoPow63 && v < kTwoPow63) || std::trunc(v) != v) {
        return NumberResult::kBadValue;
      }
      *out = static_cast<int64_t>(v);
      return NumberResult::kOk;
    }
    case simdjson::dom::element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (s.empty() || s[0] == '+' || !absl::SimpleAtoi(AbslView(s), out)) {
        return NumberResult::kBadValue;
      }
      return NumberResult::kOk;
    }
    default:
      return NumberResult::kWrongType;
  }
}

NumberResult ToDouble(simdjson::dom::element e, double* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::DOUBLE:
      *out = e.get_double().value_unsafe();
      return NumberResult::kOk;
    case simdjson::dom::element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      return NumberResult::kOk;
    case simdjson::dom::element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return NumberResult::kOk;
    case simdjson::dom::element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "Infinity") {
        *out = std::numeric_limits<double>::infinity();
      } else if (s == "-Infinity") {
        *out = -std::numeric_limits<double>::infinity();
      } else if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ||
                 !absl::SimpleAtod(AbslView(s), out)) {
        return NumberResult::kBadValue;
      }
      return NumberResult::kOk;
    }
    default:
      return NumberResult::kWrongType;
  }
}

}  // namespace ariadne::decode::internal
