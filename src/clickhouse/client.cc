#include "clickhouse/client.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace ariadne::clickhouse {

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

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

bool ClickHouseRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:        // refused, reset, 5xx, retryable codes
    case absl::StatusCode::kDeadlineExceeded:   // timeout (the insert may have landed: dedup)
    case absl::StatusCode::kResourceExhausted:  // 429
      return true;
    default:
      return false;
  }
}

absl::StatusOr<ClickHouseClient> ClickHouseClient::Create(ClickHouseOptions options) {
  auto url = ParseHttpUrl(options.url, "ClickHouse URL");
  if (!url.ok()) return url.status();
  if (options.timeout.count() <= 0) {
    return absl::InvalidArgumentError("ClickHouse timeout must be positive");
  }
  return ClickHouseClient(std::move(options), *std::move(url));
}

absl::StatusOr<std::string> ClickHouseClient::Send(std::string target_query, std::string body,
                                                    std::string_view what,
                                                    std::stop_token stop) const {
  HttpRequest req;
  req.method = HttpMethod::kPost;
  std::string target = url_.path.empty() ? "/" : url_.path;
  target += "?";
  if (!url_.query.empty()) absl::StrAppend(&target, url_.query, "&");
  if (!options_.user.empty()) absl::StrAppend(&target, "user=", UrlEncode(options_.user), "&");
  if (!options_.password.empty()) {
    absl::StrAppend(&target, "password=", UrlEncode(options_.password), "&");
  }
  target += target_query;
  req.target = std::move(target);
  req.body = std::move(body);
  req.content_type = "application/octet-stream";
  req.accept = "*/*";
  auto answer = SendHttp(url_, req, options_.timeout, stop, options_.max_answer_bytes);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat("clickhouse ", AbslView(what), ": ", answer.status().message()));
  }
  if (answer->status < 200 || answer->status >= 300) {
    return ClickHouseError(answer->status, answer->body, what);
  }
  return std::move(answer->body);
}

absl::StatusOr<std::string> ClickHouseClient::Query(std::string_view sql,
                                                    std::stop_token stop) const {
  // The statement's first words name it in errors.
  std::string_view what = sql.substr(0, std::min<size_t>(sql.size(), 60));
  // wait_end_of_query: the server buffers the answer, so an exception in
  // the middle of a long result is an error status, not a 200 whose body
  // ends in error text.
  return Send("wait_end_of_query=1", std::string(sql), what, stop);
}

absl::Status ClickHouseClient::Insert(std::string_view insert, std::string rows,
                                      std::stop_token stop) const {
  std::string_view what = insert.substr(0, std::min<size_t>(insert.size(), 60));
  auto r = Send(absl::StrCat("query=", UrlEncode(insert)), std::move(rows), what, stop);
  return r.status();
}

absl::StatusOr<std::string> ClickHouseClient::Version() const {
  auto v = Query("SELECT version() FORMAT TabSeparated");
  if (!v.ok()) return v.status();
  std::string s = *std::move(v);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace ariadne::clickhouse
