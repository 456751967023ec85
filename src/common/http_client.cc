// SendHttp (http_client.h) is a synchronous client built on Beast's
// asynchronous operations: each exchange has its own io_context, run on the
// calling thread step by step (resolve, connect, write, read), so that
//  - the tcp_stream's expiry (set once, to now + timeout) bounds connect,
//    write and read together, and
//  - a std::stop_token can abandon the exchange from another thread
//    (io_context::stop() is thread-safe; the operations in flight are then
//    destroyed, never run, with the io_context).
#include "common/http_client.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace ariadne {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

http::verb Verb(HttpMethod method) {
  switch (method) {
    case HttpMethod::kPost:
      return http::verb::post;
    case HttpMethod::kPut:
      return http::verb::put;
    case HttpMethod::kPatch:
      return http::verb::patch;
    case HttpMethod::kGet:
      break;
  }
  return http::verb::get;
}

// Beyond the deadline, how long the io_context may run so that the stream's
// own expiry (which reports beast::error::timeout) fires first.
constexpr std::chrono::milliseconds kExpiryMargin(500);

}  // namespace

// ---------------------------------------------------------------------------
// URLs.

std::string HttpUrl::HostPort() const {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

std::string HttpUrl::ToString() const {
  return absl::StrCat("http://", HostPort(), path, query.empty() ? "" : "?", query);
}

std::string HttpUrl::Target() const {
  return absl::StrCat(path.empty() ? "/" : path, query.empty() ? "" : "?", query);
}

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url, std::string_view what) {
  const std::string quoted = absl::StrCat(AbslView(what), " \"", AbslView(url), "\"");
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(quoted, ": expected http://host[:port][/path]"));
  }
  const std::string scheme = absl::AsciiStrToLower(AbslView(url.substr(0, scheme_end)));
  if (scheme == "https") {
    return absl::InvalidArgumentError(absl::StrCat(
        quoted, ": https is not supported yet (TLS is later work); use an http:// URL"));
  }
  if (scheme != "http") {
    return absl::InvalidArgumentError(
        absl::StrCat(quoted, ": unsupported scheme \"", scheme, "\" (only http:// is supported)"));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(quoted, ": a fragment is not allowed"));
  }
  HttpUrl out;
  const size_t query_start = rest.find('?');
  if (query_start != std::string_view::npos) {
    out.query = std::string(rest.substr(query_start + 1));
    rest = rest.substr(0, query_start);
  }
  const size_t path_start = rest.find('/');
  const std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos) out.path = std::string(rest.substr(path_start));
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(quoted, ": credentials in the URL are not supported"));
  }
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(quoted, ": unterminated IPv6 address"));
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat(quoted, ": unexpected characters after the IPv6 address"));
      }
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat(quoted, ": no host"));
  if (has_port) {
    uint32_t number = 0;
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || !absl::SimpleAtoi(AbslView(port), &number) || number == 0 || number > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(quoted, ": port \"", AbslView(port), "\" is not a number in 1..65535"));
    }
    out.port = static_cast<uint16_t>(number);
  }
  out.host = std::string(host);
  return out;
}

// ---------------------------------------------------------------------------
// The exchange.

namespace {

absl::StatusOr<HttpAnswer> Exchange(const HttpUrl& url, const HttpRequest& request,
                                    std::chrono::milliseconds timeout, std::stop_token stop,
                                    size_t max_answer_bytes) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string shown = url.ToString();
  // Declared before the io_context, so that they outlive the handlers the
  // io_context destroys (never runs) if the exchange is abandoned.
  beast::error_code ec;
  bool done = false;
  tcp::resolver::results_type resolved;
  std::vector<tcp::endpoint> endpoints;
  http::request<http::string_body> message{Verb(request.method), request.target, 11};
  http::response_parser<http::string_body> parser;
  beast::flat_buffer buffer;
  asio::io_context io{1};
  std::stop_callback on_stop(stop, [&io] { io.stop(); });

  const auto handler = [&ec, &done](beast::error_code e, auto&&...) {
    ec = e;
    done = true;
  };
  // Runs the io_context until the operation just started completes; false
  // if the stop token or the deadline ended it.
  const auto step = [&]() -> bool {
    io.restart();
    if (stop.stop_requested()) return false;
    io.run_until(deadline + kExpiryMargin);
    return done;
  };
  const auto abandoned = [&](std::string_view what) {
    if (stop.stop_requested()) {
      return absl::CancelledError(absl::StrCat(AbslView(what), " ", shown, ": cancelled"));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(AbslView(what), " ", shown, ": timed out after ", timeout.count(), " ms"));
  };
  const auto failed = [&](std::string_view what) {
    if (ec == beast::error::timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat(AbslView(what), " ", shown, ": timed out after ", timeout.count(), " ms"));
    }
    if (ec == http::error::body_limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat(AbslView(what), " ", shown, ": answer over ", max_answer_bytes, " bytes"));
    }
    return absl::UnavailableError(absl::StrCat(AbslView(what), " ", shown, ": ", ec.message()));
  };

  // An IP address needs no resolver (whose thread a timeout cannot abandon).
  beast::error_code address_error;
  const asio::ip::address address = asio::ip::make_address(url.host, address_error);
  if (address_error) {
    tcp::resolver resolver(io);
    resolver.async_resolve(url.host, absl::StrCat(url.port),
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             resolved = std::move(r);
                             done = true;
                           });
    if (!step()) return abandoned("resolve");
    if (ec) return failed("resolve");
    for (const auto& entry : resolved) endpoints.push_back(entry.endpoint());
  } else {
    endpoints.emplace_back(address, url.port);
  }

  beast::tcp_stream stream(io);
  stream.expires_at(deadline);
  done = false;
  stream.async_connect(endpoints, handler);
  if (!step()) return abandoned("connect to");
  if (ec) return failed("connect to");

  message.set(http::field::host, url.HostPort());
  message.set(http::field::user_agent, "ariadne");
  if (!request.accept.empty()) message.set(http::field::accept, request.accept);
  if (!request.content_type.empty()) message.set(http::field::content_type, request.content_type);
  if (!request.authorization.empty()) {
    message.set(http::field::authorization, request.authorization);
  }
  message.keep_alive(false);
  if (request.method != HttpMethod::kGet || !request.body.empty()) {
    message.body() = request.body;
    message.prepare_payload();
  }
  done = false;
  http::async_write(stream, message, handler);
  if (!step()) return abandoned("send to");
  if (ec) return failed("send to");

  parser.body_limit(max_answer_bytes);
  done = false;
  http::async_read(stream, buffer, parser, handler);
  if (!step()) return abandoned("read from");
  if (ec) return failed("read from");

  beast::error_code ignored;  // the answer is complete; closing cannot lose it
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  HttpAnswer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  const auto content_type = parser.get().find(http::field::content_type);
  if (content_type != parser.get().end()) answer.content_type = std::string(content_type->value());
  answer.body = std::move(parser.get().body());
  return answer;
}

}  // namespace

absl::StatusOr<HttpAnswer> SendHttp(const HttpUrl& url, const HttpRequest& request,
                                    std::chrono::milliseconds timeout, std::stop_token stop,
                                    size_t max_answer_bytes) {
  if (timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP timeout must be positive, not ", timeout.count(), " ms"));
  }
  try {
    return Exchange(url, request, timeout, std::move(stop), max_answer_bytes);
  } catch (const std::exception& e) {  // Asio throws only if the system refuses it resources
    return absl::InternalError(absl::StrCat("HTTP exchange with ", url.ToString(), ": ", e.what()));
  }
}

// ---------------------------------------------------------------------------
// Helpers for callers.

std::string_view HttpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kPatch:
      return "PATCH";
    case HttpMethod::kGet:
      break;
  }
  return "GET";
}

absl::StatusCode HttpStatusCode(int http_status) {
  switch (http_status) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      return http_status >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kUnknown;
  }
}

bool HttpRetryable(const absl::Status& transport_error) {
  return !transport_error.ok() && transport_error.code() != absl::StatusCode::kCancelled &&
         transport_error.code() != absl::StatusCode::kInvalidArgument;
}

bool HttpRetryable(int http_status) {
  return http_status == 408 || http_status == 429 || http_status >= 500;
}

std::string BodyExcerpt(std::string_view body, size_t max_bytes) {
  const std::string_view trimmed = StdView(absl::StripAsciiWhitespace(AbslView(body)));
  if (trimmed.empty()) return "(empty body)";
  std::string out(trimmed.substr(0, max_bytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '.';
  }
  if (trimmed.size() > max_bytes) out += "...";
  return out;
}

}  // namespace ariadne
