// ClickHouseClient: statements over ClickHouse's HTTP interface.
//
// Each call is one POST on a new connection (common/http_client.h): the
// statement in the body for queries, or in the `query` URL parameter with
// the rows (RowBinary) in the body for inserts. An exception ClickHouse
// reports (any non-2xx answer) becomes a Status carrying its error code and
// text; transport failures keep http_client's codes.
//
// Which errors are worth another try (ClickHouseRetryable): connection
// refused or reset, timeouts, HTTP 502/503/504 without a ClickHouse code,
// and the ClickHouse codes for overload and transient server trouble (too
// many parts or queries, memory limit, network and socket errors, read-only
// replica, ...). A syntax error or an unknown table is not: it would fail
// again the same way.
//
// Threading: const methods may be called from any number of threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/http_client.h"

namespace ariadne::clickhouse {

struct ClickHouseOptions {
  std::string url = "http://127.0.0.1:8123";  // the HTTP interface
  std::string user;                           // "" for the server's default user
  std::string password;
  std::chrono::milliseconds timeout{30000};       // per statement, connect to last byte
  size_t max_answer_bytes = size_t{512} << 20;    // largest answer read
};

class ClickHouseClient {
 public:
  // InvalidArgument if the URL is not a plain http:// URL.
  static absl::StatusOr<ClickHouseClient> Create(ClickHouseOptions options);

  // Runs a statement and returns ClickHouse's answer (in the FORMAT the
  // statement asks for; empty for DDL).
  absl::StatusOr<std::string> Query(std::string_view sql, std::stop_token stop = {}) const;
  // Runs `insert` ("INSERT INTO t (cols) FORMAT RowBinary") with `rows` as
  // its data. OK only once ClickHouse has confirmed the insert.
  absl::Status Insert(std::string_view insert, std::string rows, std::stop_token stop = {}) const;
  // SELECT version(): "18.16.1", "23.8.2.7", ...
  absl::StatusOr<std::string> Version() const;

  const ClickHouseOptions& options() const { return options_; }

 private:
  ClickHouseClient(ClickHouseOptions options, HttpUrl url)
      : options_(std::move(options)), url_(std::move(url)) {}
  absl::StatusOr<std::string> Send(std::string target_query, std::string body,
                                   std::string_view what, std::stop_token stop) const;

  ClickHouseOptions options_;
  HttpUrl url_;
};

// The Status for a non-2xx answer of ClickHouse: the code ("Code: 60, ..."
// or "Code: 60. DB::Exception: ...") and an excerpt of the text in the
// message; Unavailable for the retryable codes, NotFound for unknown
// table/database, InvalidArgument for syntax and type errors, else from the
// HTTP status (HttpStatusCode), Internal for a plain 500.
absl::Status ClickHouseError(int http_status, std::string_view body, std::string_view what);
// ClickHouse's error code in an exception text, or -1.
int ClickHouseErrorCode(std::string_view body);
// Whether an error of this client is worth another try (see above).
bool ClickHouseRetryable(const absl::Status& status);

// Percent-encoding for a URL query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace ariadne::clickhouse
