#include "clickhouse/response.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "clickhouse/client.h"
#include "clickhouse/row_binary.h"
#include "common/http_client.h"
#include "common/strings.h"

namespace ariadne::clickhouse {

namespace {

absl::Status Malformed(std::string_view what) {
  return absl::InternalError(
      absl::StrCat("clickhouse: malformed RowBinary answer to the ", AbslView(what), " query"));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string ParseVersionAnswer(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  return std::string(body);
}

absl::StatusOr<ServerVersion> ParseVersionNumbers(std::string_view version) {
  ServerVersion v;
  const char* p = version.data();
  const char* end = p + version.size();
  auto not_version = [version] {
    return absl::InvalidArgumentError(
        absl::StrCat("ClickHouse version \"", AbslView(version), "\" is not major.minor..."));
  };
  // from_chars would take a sign; a version has none.
  if (p == end || !IsDigit(*p)) return not_version();
  auto r1 = std::from_chars(p, end, v.major);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '.') return not_version();
  if (r1.ptr + 1 == end || !IsDigit(r1.ptr[1])) return not_version();
  auto r2 = std::from_chars(r1.ptr + 1, end, v.minor);
  if (r2.ec != std::errc()) return not_version();
  return v;
}

absl::StatusOr<uint32_t> ParseSchemaVersionAnswer(std::string_view body) {
  std::string_view text = body;
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.ends_with('\r')) text.remove_suffix(1);
  if (text == "\\N") return 0;  // max() of no rows under aggregate_functions_null_for_empty
  uint32_t version = 0;
  const char* end = text.data() + text.size();
  auto r = std::from_chars(text.data(), end, version);
  if (text.empty() || !IsDigit(text.front()) || r.ec != std::errc() || r.ptr != end) {
    return absl::InternalError(
        absl::StrCat("clickhouse: malformed TSV answer to the schema version query: ",
                     BodyExcerpt(body, 100)));
  }
  return version;
}

absl::StatusOr<TraceRange> ParseTraceRange(std::string_view body) {
  RowBinaryReader r(body);
  TraceRange range;
  // One row: an aggregate without GROUP BY answers exactly one.
  if (!r.UInt16(&range.first_day) || !r.UInt16(&range.last_day) || !r.UInt64(&range.rows) ||
      !r.done()) {
    return Malformed("trace range");
  }
  return range;
}

absl::StatusOr<std::string> ParseTraceSpans(std::string_view body) {
  std::string request;
  request.reserve(body.size());
  RowBinaryReader r(body);
  while (!r.done()) {  // each row consumes at least its length byte
    std::string_view blob;
    if (!r.String(&blob)) return Malformed("trace spans");
    request.append(blob);
  }
  return request;
}

absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> ParseFindTraces(
    std::string_view body) {
  std::vector<std::pair<uint64_t, model::TraceId>> out;
  RowBinaryReader r(body);
  while (!r.done()) {  // each row consumes 24 bytes
    model::TraceId id;
    uint64_t newest = 0;
    if (!r.Fixed(id.data(), id.size()) || !r.UInt64(&newest)) return Malformed("trace search");
    out.emplace_back(newest, id);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseServices(std::string_view body) {
  std::vector<std::string> out;
  RowBinaryReader r(body);
  while (!r.done()) {
    std::string_view s;
    if (!r.String(&s)) return Malformed("services");
    out.emplace_back(s);
  }
  return out;
}

absl::StatusOr<std::vector<store::Operation>> ParseOperations(std::string_view body) {
  std::vector<store::Operation> out;
  RowBinaryReader r(body);
  while (!r.done()) {
    std::string_view name;
    uint8_t k = 0;
    if (!r.String(&name) || !r.UInt8(&k) || k > static_cast<uint8_t>(model::SpanKind::kConsumer)) {
      return Malformed("operations");
    }
    out.push_back({std::string(name), static_cast<model::SpanKind>(k)});
  }
  return out;
}

absl::StatusOr<std::vector<store::Dependency>> ParseDependencies(std::string_view body) {
  std::vector<store::Dependency> out;
  RowBinaryReader r(body);
  while (!r.done()) {
    std::string_view parent, child;
    uint64_t calls = 0;
    if (!r.String(&parent) || !r.String(&child) || !r.UInt64(&calls)) {
      return Malformed("dependencies");
    }
    out.push_back({std::string(parent), std::string(child), calls});
  }
  return out;
}

// The exception answers (client.h).

int ClickHouseErrorCode(std::string_view body) {
  const size_t at = body.find("Code: ");
  if (at == std::string_view::npos) return -1;
  const char* first = body.data() + at + 6;
  const char* last = body.data() + body.size();
  int code = -1;
  auto [end, ec] = std::from_chars(first, last, code);
  if (ec != std::errc() || end == first) return -1;
  return code;
}

namespace {

// ClickHouse error codes (src/Common/ErrorCodes.cpp) that say "not now"
// rather than "never".
bool RetryableCode(int code) {
  switch (code) {
    case 159:  // TIMEOUT_EXCEEDED
    case 164:  // READONLY (a replica in read-only mode for a while)
    case 202:  // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:  // NO_FREE_CONNECTION
    case 209:  // SOCKET_TIMEOUT
    case 210:  // NETWORK_ERROR
    case 241:  // MEMORY_LIMIT_EXCEEDED
    case 242:  // TABLE_IS_READ_ONLY
    case 252:  // TOO_MANY_PARTS
    case 285:  // TOO_FEW_LIVE_REPLICAS
    case 319:  // UNKNOWN_STATUS_OF_INSERT
    case 425:  // SYSTEM_ERROR
    case 999:  // KEEPER_EXCEPTION
      return true;
    default:
      return false;
  }
}

bool InvalidCode(int code) {
  switch (code) {
    case 6:    // CANNOT_PARSE_TEXT
    case 27:   // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    case 33:   // CANNOT_READ_ALL_DATA (a malformed RowBinary body)
    case 43:   // ILLEGAL_TYPE_OF_ARGUMENT
    case 44:   // ILLEGAL_COLUMN
    case 47:   // UNKNOWN_IDENTIFIER
    case 53:   // TYPE_MISMATCH
    case 62:   // SYNTAX_ERROR
    case 115:  // UNKNOWN_SETTING
    case 386:  // NO_COMMON_TYPE
      return true;
    default:
      return false;
  }
}

// Marks a Status as retryable in its payload-free way: the message says so
// and the code is Unavailable.
constexpr std::string_view kRetryableTag = " (retryable)";

}  // namespace

absl::Status ClickHouseError(int http_status, std::string_view body, std::string_view what) {
  const int code = ClickHouseErrorCode(body);
  std::string message = absl::StrCat("clickhouse ", AbslView(what), ": HTTP ", http_status);
  if (code >= 0) absl::StrAppend(&message, ", code ", code);
  absl::StrAppend(&message, ": ", BodyExcerpt(body, 400));
  if (code >= 0 && RetryableCode(code)) {
    return absl::UnavailableError(absl::StrCat(message, AbslView(kRetryableTag)));
  }
  if (code == 60 || code == 81) return absl::NotFoundError(message);  // UNKNOWN_TABLE/DATABASE
  if (code >= 0 && InvalidCode(code)) return absl::InvalidArgumentError(message);
  if (code < 0) {
    if (HttpRetryable(http_status)) {
      return absl::UnavailableError(absl::StrCat(message, AbslView(kRetryableTag)));
    }
    return absl::Status(HttpStatusCode(http_status), message);
  }
  // Another ClickHouse exception: whatever it is, trying again will not help.
  return absl::InternalError(message);
}

}  // namespace ariadne::clickhouse
