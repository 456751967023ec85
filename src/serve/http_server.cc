#include "serve/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <limits>
#include <optional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "serve/tls.h"

namespace ariadne::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexDigit(s[i + 1]);
      const int lo = HexDigit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "application/json; charset=utf-8" -> "application/json"
std::string MediaType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  return Lower(t);
}

void ParseTarget(std::string_view target, HttpRequest* req) {
  const size_t q = target.find('?');
  req->path = PercentDecode(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    req->params.emplace_back(PercentDecode(key, true), PercentDecode(value, true));
  }
}

}  // namespace

std::string_view HttpRequest::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

bool HttpRequest::HasParam(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return true;
  }
  return false;
}

std::vector<std::string_view> HttpRequest::Params(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : params) {
    if (k == name) out.push_back(v);
  }
  return out;
}

HttpResponse HttpHandler::ErrorResponse(int status, std::string message, std::string_view) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message);
  r.body.push_back('\n');
  return r;
}

absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", std::string(address), "\" has no port (want host:port)"));
  }
  std::string host(address.substr(0, colon));
  std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", std::string(address), "\" has an invalid port"));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

namespace {

struct Shared {
  std::string name;
  HttpHandler* handler;
  HttpServerOptions options;
  std::shared_ptr<std::atomic<int64_t>> active;
  std::atomic<uint32_t> connections{0};
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection. Stream is PlainStream or TlsStream; with TLS the session
// begins with the handshake and ends with a close_notify.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(tcp::socket&& socket, std::shared_ptr<Shared> shared,
          std::shared_ptr<asio::ssl::context> tls)
      : tls_(std::move(tls)),
        stream_(MakeStream(std::move(socket), tls_.get())),
        shared_(std::move(shared)) {
    // Beast reads into the free space of this buffer; a small one means a
    // system call (and a timer reset) per few hundred bytes of body.
    buffer_.reserve(kReadBufferBytes);
  }

  ~Session() {
    ReleaseReservation();
    shared_->connections.fetch_sub(1);
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->Handshake([self] { self->ReadHeader(); });
    });
  }

  // Answers without reading anything (too many connections) and closes.
  void RefuseAndClose(HttpResponse response) {
    asio::dispatch(stream_.get_executor(),
                   [self = this->shared_from_this(), r = std::move(response)]() mutable {
                     self->Handshake([self, r = std::move(r)]() mutable {
                       self->close_after_write_ = true;
                       self->Write(std::move(r), false);
                     });
                   });
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Runs `next` once the TLS handshake is done (at once without TLS). A
  // failed handshake (a plaintext client, an untrusted client certificate)
  // closes the connection: there is no channel to answer on.
  template <class Next>
  void Handshake(Next next) {
    if constexpr (kTls) {
      Lowest().expires_after(shared_->options.idle_timeout);
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this(), next = std::move(next)](beast::error_code ec) mutable {
            if (ec) return self->CloseSocket();
            self->handshake_done_ = true;
            next();
          });
    } else {
      next();
    }
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    // No body limit while reading the header, so that an oversize
    // Content-Length reaches OnHeader and gets a 413 in the protocol's form.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Lowest().expires_after(shared_->options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  static bool QuietReadError(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
           ec == beast::error::timeout || ec == asio::error::connection_reset ||
           ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) {
      if (!QuietReadError(ec)) {
        Refuse(400, absl::StrCat("unreadable HTTP request: ", ec.message()));
      } else {
        Close();
      }
      return;
    }
    auto& req = parser_->get();
    content_type_ = std::string(req[http::field::content_type]);
    // Authentication comes first: before the body is read or budget is
    // reserved, and before a limit is named to a stranger.
    if (shared_->options.authorize) {
      const std::string_view target = req.target();
      const std::string path = PercentDecode(target.substr(0, target.find('?')), false);
      const std::string_view tenant =
          shared_->options.tenant_header.empty()
              ? std::string_view()
              : std::string_view(req[shared_->options.tenant_header]);
      if (!shared_->options.authorize(path, req[http::field::authorization], tenant)) {
        HttpResponse r = shared_->handler->ErrorResponse(401, "unauthorized", content_type_);
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        close_after_write_ = true;
        Write(std::move(r), false);
        return;
      }
    }
    const auto length = parser_->content_length();
    const uint64_t max = shared_->options.max_body_bytes;
    if (length && *length > max) {
      Refuse(413, absl::StrCat("request body is ", *length, " bytes, over the limit of ", max,
                               " bytes (limits.max_request_bytes)"));
      return;
    }
    parser_->body_limit(max);
    const uint64_t want = length ? *length : (parser_->chunked() ? max : 0);
    if (want > 0 && shared_->options.admission != nullptr) {
      if (!shared_->options.admission->TryAcquire(want)) {
        HttpResponse r = shared_->handler->ErrorResponse(
            429, "server is overloaded: too much data in flight, retry later", content_type_);
        r.headers.emplace_back("Retry-After", std::to_string(shared_->options.retry_after.count()));
        close_after_write_ = true;
        Write(std::move(r), false);
        return;
      }
      reserved_ = want;
    }
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      Refuse(413,
             absl::StrCat("request body is over the limit of ", shared_->options.max_body_bytes,
                          " bytes (limits.max_request_bytes)"));
      return;
    }
    if (ec) {
      if (QuietReadError(ec) || ec == http::error::partial_message) {
        Close();
      } else {
        Refuse(400, absl::StrCat("unreadable HTTP request: ", ec.message()));
      }
      return;
    }
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    ParseTarget(msg.target(), &req);
    req.content_type = MediaType(msg[http::field::content_type]);
    req.content_encoding = Lower(msg[http::field::content_encoding]);
    req.authorization = std::string(msg[http::field::authorization]);
    if (!shared_->options.tenant_header.empty()) {
      req.tenant = std::string(msg[shared_->options.tenant_header]);
    }
    req.body = std::move(msg.body());
    Lowest().expires_never();
    shared_->active->fetch_add(1);
    counted_ = true;
    auto self = this->shared_from_this();
    shared_->handler->Handle(std::move(req), [self](HttpResponse response) {
      asio::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
        self->Write(std::move(r), self->keep_alive_);
      });
    });
  }

  void Refuse(int status, std::string message) {
    close_after_write_ = true;
    Write(shared_->handler->ErrorResponse(status, std::move(message), content_type_), false);
  }

  void Write(HttpResponse r, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "ariadne");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive && !close_after_write_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    Lowest().expires_after(shared_->options.idle_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->OnWrite(ec, res->keep_alive());
                      });
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    ReleaseReservation();
    if (counted_) {
      shared_->active->fetch_sub(1);
      counted_ = false;
    }
    if (ec || !keep_alive) return Close();
    ReadHeader();
  }

  void ReleaseReservation() {
    if (reserved_ > 0 && shared_->options.admission != nullptr) {
      shared_->options.admission->Release(reserved_);
    }
    reserved_ = 0;
  }

  // With TLS, a close_notify first (bounded by a short timeout), so that the
  // client can tell the end of the connection from a truncation.
  void Close() {
    if constexpr (kTls) {
      if (handshake_done_ && !shutting_down_) {
        shutting_down_ = true;
        Lowest().expires_after(std::chrono::seconds(5));
        stream_.async_shutdown(
            [self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
        return;
      }
    }
    CloseSocket();
  }

  void CloseSocket() {
    beast::error_code ignored;  // the peer may already be gone
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().socket().close(ignored);
  }

  // Declared before stream_, which is built with it: the context outlives the
  // connection even when a reload has replaced it for new ones.
  std::shared_ptr<asio::ssl::context> tls_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Shared> shared_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string content_type_;
  uint64_t reserved_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool counted_ = false;
  bool handshake_done_ = false;
  bool shutting_down_ = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(asio::io_context& io, std::shared_ptr<Shared> shared)
      : io_(io), acceptor_(asio::make_strand(io)), shared_(std::move(shared)) {}

  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound) {
    beast::error_code ec;
    auto ip = asio::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen host \"", host, "\""));
    tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat(shared_->name, ": cannot listen on ", host, ":", port, ": ", ec.message()));
    }
    *bound = acceptor_.local_endpoint().port();
    host_ = host;
    Accept();
    return absl::OkStatus();
  }

  void Stop() {
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;  // closing a closed acceptor is fine
      acceptor_.close(ignored);
    });
  }

  std::string host_;

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        const uint32_t n = shared_->connections.fetch_add(1) + 1;
        if (shared_->options.tls != nullptr) {
          Begin(std::make_shared<Session<TlsStream>>(std::move(s), shared_,
                                                     shared_->options.tls->Current()),
                n);
        } else {
          Begin(std::make_shared<Session<PlainStream>>(std::move(s), shared_, nullptr), n);
        }
      }
      Accept();
    });
  }

  template <class S>
  void Begin(std::shared_ptr<S> session, uint32_t connections) {
    if (connections > shared_->options.max_connections) {
      HttpResponse r = shared_->handler->ErrorResponse(
          503, "server is overloaded: too many connections, retry later", "");
      r.headers.emplace_back("Retry-After", std::to_string(shared_->options.retry_after.count()));
      session->RefuseAndClose(std::move(r));
    } else {
      session->Start();
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

HttpServer::HttpServer(asio::io_context& io, std::string name, HttpHandler* handler,
                       HttpServerOptions options)
    : active_(std::make_shared<std::atomic<int64_t>>(0)) {
  auto shared = std::make_shared<Shared>();
  shared->name = std::move(name);
  shared->handler = handler;
  shared->options = options;
  shared->active = active_;
  impl_ = std::make_unique<Impl>(io, std::move(shared));
}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::Listen(std::string_view address) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  return impl_->Listen(hp->first, hp->second, &port_);
}

std::string HttpServer::address() const {
  if (impl_->host_.find(':') != std::string::npos) {
    return absl::StrCat("[", impl_->host_, "]:", port_);
  }
  return absl::StrCat(impl_->host_, ":", port_);
}

void HttpServer::StopAccepting() { impl_->Stop(); }

}  // namespace ariadne::serve
