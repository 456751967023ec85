// A small synchronous HTTP/1.1 client (Boost.Beast) for the calls Ariadne
// makes to its peers: one request per new connection, a timeout on the whole
// exchange, and a std::stop_token that abandons it from another thread.
// Plain http:// only; TLS is later work.
//
//  - ParseHttpUrl checks and splits "http://host[:port][/path][?query]".
//  - SendHttp sends one request and reads the whole answer (bounded). A
//    non-2xx answer is an answer, not an error: the caller knows what its
//    peer's statuses mean (HttpStatusCode and BodyExcerpt help it say so).
//
// Threading: everything here may be called from any thread, concurrently
// (each SendHttp has its own io_context, run on the calling thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne {

// An http:// URL, split.
struct HttpUrl {
  std::string host;    // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 80;  // 80 if the URL has none
  std::string path;    // "" or "/...", as written (trailing '/' kept)
  std::string query;   // after '?', "" if none

  // "host:port" (an IPv6 host in brackets): the Host header.
  std::string HostPort() const;
  // "http://host:port<path>[?query]".
  std::string ToString() const;
  // The request target for this URL itself: path ("/" if empty) and "?query".
  std::string Target() const;
};

// Parses "http://host[:port][/path][?query]". InvalidArgument, with `what`
// ("Alertmanager URL", "webhook URL", ...) and the URL in the message, for
// https:// (not supported yet: TLS is later work) and any other scheme, no
// scheme, credentials, a fragment, an empty host, or a port not in 1..65535.
[[nodiscard]] absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url,
                                                   std::string_view what = "URL");

enum class HttpMethod { kGet, kPost, kPut, kPatch };

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string target = "/";  // origin-form: "/path?query"
  std::string body;          // sent with Content-Length (POST, PUT, PATCH)
  std::string content_type;  // the Content-Type header, if not empty
  std::string accept = "application/json";
  std::string authorization;  // the Authorization header ("Bearer ..."), if not empty
};

// "GET", "POST", "PUT", "PATCH": for messages.
std::string_view HttpMethodName(HttpMethod method);

struct HttpAnswer {
  int status = 0;            // e.g. 200
  std::string content_type;  // "" if the answer has none
  std::string body;
};

// Largest answer body SendHttp reads unless told otherwise.
inline constexpr size_t kHttpMaxAnswerBytes = 4 << 20;

// Sends `request` to `url`'s host and port on a new connection and reads the
// whole answer. `timeout` (positive) bounds connect, send and read together
// (name resolution, for a host that is not an IP address, is bounded by the
// system resolver's own timeouts). Errors, each naming the step and the URL:
// Unavailable (refused, reset, resolve failed), DeadlineExceeded (timeout),
// Cancelled (`stop` requested: abandoned at once), ResourceExhausted (body
// over `max_answer_bytes`), InvalidArgument (timeout not positive), Internal
// (the system refused resources).
[[nodiscard]] absl::StatusOr<HttpAnswer> SendHttp(const HttpUrl& url, const HttpRequest& request,
                                                  std::chrono::milliseconds timeout,
                                                  std::stop_token stop = {},
                                                  size_t max_answer_bytes = kHttpMaxAnswerBytes);

// The Status code that an HTTP error status suggests: 400/422 InvalidArgument,
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 408/504
// DeadlineExceeded, 429 ResourceExhausted, other 5xx Unavailable, else Unknown.
absl::StatusCode HttpStatusCode(int http_status);

// Whether a failed exchange is worth another try: a transport error other
// than Cancelled/InvalidArgument, or an answer of 408, 429 or 5xx.
bool HttpRetryable(const absl::Status& transport_error);
bool HttpRetryable(int http_status);

// The start of `body` (at most `max_bytes`, whitespace-trimmed, control
// characters as '.', "..." if cut), or "(empty body)": for error messages.
std::string BodyExcerpt(std::string_view body, size_t max_bytes = 200);

}  // namespace ariadne
