// A small asynchronous HTTP/1.1 server (Boost.Beast) shared by the OTLP/HTTP
// and Zipkin receivers and the query API.
//
// A handler receives a whole request and answers through a Responder it may
// call later, from any thread: ingest answers once the write-ahead log has
// the spans. Before a body is read its size is checked against the body limit
// (413) and reserved from the admission budget (429 with Retry-After if the
// budget is spent); the reservation is released when the answer is written.
//
// Authentication and TLS (docs/security.md): `authorize` decides from the
// path and the Authorization header, once the header is read and before the
// body is (or any budget reserved), so an unauthenticated client cannot make
// the server buffer a body: a refusal is a 401 with `WWW-Authenticate:
// Bearer` whose message is only "unauthorized", and the connection closes.
// With `tls` every connection starts with a TLS handshake (a plaintext
// client fails it and is disconnected); the context is taken per connection,
// so a renewed certificate applies to the connections that follow.
//
// Threading: handlers run on the io_context's threads; a Responder may be
// called from any thread, exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/admission.h"

namespace boost::asio {
class io_context;
}

namespace ariadne::serve {

class TlsContext;  // serve/tls.h

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, without the query string
  std::vector<std::pair<std::string, std::string>> params;  // decoded, in order
  std::string content_type;                                 // lower case, without parameters
  std::string content_encoding;                             // lower case
  std::string authorization;  // the Authorization header, as sent (auth is done by then)
  std::string tenant;  // the tenant header's value (HttpServerOptions::tenant_header), as sent
  std::string body;

  // First value of a query parameter, or "" if absent.
  std::string_view Param(std::string_view name) const;
  bool HasParam(std::string_view name) const;
  std::vector<std::string_view> Params(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Responder = std::function<void(HttpResponse)>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Runs on a server thread; must call `respond` exactly once, possibly later
  // and from another thread. Must not block on I/O.
  virtual void Handle(HttpRequest request, Responder respond) = 0;
  // The answer for a request refused before the handler saw it (401, 413,
  // 429, 503, 400 for unparseable HTTP), in the form the protocol expects.
  virtual HttpResponse ErrorResponse(int status, std::string message,
                                     std::string_view request_content_type);
};

struct HttpServerOptions {
  uint64_t max_body_bytes = 16 << 20;
  uint32_t max_connections = 1024;
  std::chrono::seconds idle_timeout{120};
  std::chrono::seconds retry_after{1};  // Retry-After when over admission
  Admission* admission = nullptr;       // not owned; null = no budget
  // Whether a request may go on: its path (percent-decoded, as
  // HttpRequest::path), Authorization header value ("" if none) and tenant
  // header value ("" if none or no tenant_header). Called on a server
  // thread before the body is read; null = every request may.
  std::function<bool(std::string_view path, std::string_view authorization,
                     std::string_view tenant)>
      authorize;
  // The header that names the tenant (e.g. "X-Scope-OrgID"); "" = none.
  std::string tenant_header;
  // TLS on this listener; null = plain HTTP.
  std::shared_ptr<TlsContext> tls;
};

// Parses "host:port", "[v6]:port" or ":port" (all interfaces).
absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view address);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, std::string name, HttpHandler* handler,
             HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. `address` as for ParseHostPort; port 0 picks
  // a free port (see port()).
  absl::Status Listen(std::string_view address);
  uint16_t port() const { return port_; }
  std::string address() const;  // "host:port" actually bound

  // Stops accepting new connections; requests already read are answered.
  void StopAccepting();
  // Requests read whose answers are not yet written.
  int64_t active_requests() const { return active_->load(); }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<std::atomic<int64_t>> active_;
  uint16_t port_ = 0;
};

}  // namespace ariadne::serve
