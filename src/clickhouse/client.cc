#include "clickhouse/client.h"

#include "absl/strings/str_cat.h"
#include "clickhouse/response.h"
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

// ClickHouseErrorCode and ClickHouseError, the reading of an exception
// answer: response.cc.

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
  return ParseVersionAnswer(*v);
}

}  // namespace ariadne::clickhouse
