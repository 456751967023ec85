// HttpServer's authentication hook and TLS, against a real listener on
// 127.0.0.1. Certificates are made at test time with the openssl CLI in a
// temporary directory.
#include "serve/http_server.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "serve/tls.h"

namespace ariadne::serve {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

class RecordingHandler : public HttpHandler {
 public:
  void Handle(HttpRequest request, Responder respond) override {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(request));
    }
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ok";
    respond(std::move(r));
  }
  std::vector<HttpRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

// A server on its own io_context thread.
class TestServer {
 public:
  explicit TestServer(HttpServerOptions options)
      : server_(io_, "test", &handler_, std::move(options)) {
    EXPECT_TRUE(server_.Listen("127.0.0.1:0").ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    server_.StopAccepting();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_.port(); }
  RecordingHandler& handler() { return handler_; }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  RecordingHandler handler_;
  HttpServer server_;
  std::thread thread_;
};

// Sends `request` on a plain connection and reads until the server closes
// (or the response's Connection: close). Returns what was read.
std::string RawExchange(uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {  // bounded; ends at EOF
    const size_t n = socket.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

TEST(HttpServerAuthTest, RefusedBeforeTheBodyIsRead) {
  auto tokens = TokenSet::Create({"ingest", {"s3cret"}, {}});
  ASSERT_TRUE(tokens.ok());
  std::atomic<int> asked{0};
  HttpServerOptions o;
  o.max_body_bytes = 32 << 20;
  o.authorize = [&](std::string_view path, std::string_view authorization, std::string_view) {
    ++asked;
    return (*tokens)->Check(authorization);
  };
  TestServer server(o);
  // A 16 MB body is announced and never sent: the answer comes anyway, so
  // the server did not wait for (or buffer) the body.
  const std::string response =
      RawExchange(server.port(),
                  "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Authorization: Bearer wrong\r\nContent-Length: 16000000\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 401", 0), 0u) << response;
  EXPECT_NE(response.find("WWW-Authenticate: Bearer"), std::string::npos) << response;
  EXPECT_NE(response.find("unauthorized"), std::string::npos) << response;
  EXPECT_EQ(response.find("s3cret"), std::string::npos);
  // Without any Authorization header too.
  const std::string none = RawExchange(
      server.port(), "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 16000000\r\n\r\n");
  EXPECT_EQ(none.rfind("HTTP/1.1 401", 0), 0u) << none;
  EXPECT_TRUE(server.handler().requests().empty());
  EXPECT_EQ(asked.load(), 2);

  const std::string ok =
      RawExchange(server.port(),
                  "POST /v1/traces?x=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                  "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  auto seen = server.handler().requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].authorization, "Bearer s3cret");
  EXPECT_EQ(seen[0].body, "{}");
}

TEST(HttpServerAuthTest, TheTenantHeaderReachesAuthorizeAndTheHandler) {
  std::mutex mu;
  std::vector<std::string> tenants;
  HttpServerOptions o;
  o.tenant_header = "X-Scope-OrgID";
  o.authorize = [&](std::string_view, std::string_view, std::string_view tenant) {
    std::lock_guard lock(mu);
    tenants.emplace_back(tenant);
    return tenant != "evil";
  };
  TestServer server(o);
  const std::string ok = RawExchange(
      server.port(),
      "GET /api/services HTTP/1.1\r\nHost: x\r\nx-scope-orgid: acme\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  const std::string refused = RawExchange(
      server.port(),
      "GET /api/services HTTP/1.1\r\nHost: x\r\nX-Scope-OrgID: evil\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(refused.rfind("HTTP/1.1 401", 0), 0u) << refused;
  auto seen = server.handler().requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].tenant, "acme");
  std::lock_guard lock(mu);
  EXPECT_EQ(tenants, (std::vector<std::string>{"acme", "evil"}));
}

TEST(HttpServerAuthTest, AuthorizeSeesTheDecodedPath) {
  std::mutex mu;
  std::vector<std::string> paths;
  HttpServerOptions o;
  o.authorize = [&](std::string_view path, std::string_view, std::string_view) {
    std::lock_guard lock(mu);
    paths.emplace_back(path);
    return path == "/healthz";
  };
  TestServer server(o);
  EXPECT_EQ(RawExchange(server.port(),
                        "GET /health%7A?probe=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .rfind("HTTP/1.1 200", 0),
            0u);
  EXPECT_EQ(RawExchange(server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .rfind("HTTP/1.1 401", 0),
            0u);
  std::lock_guard lock(mu);
  EXPECT_EQ(paths, (std::vector<std::string>{"/healthz", "/metrics"}));
}

// ---------------------------------------------------------------------------
// TLS

class Certs {
 public:
  Certs() {
    char tmpl[] = "/tmp/ariadne-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Run(absl::StrCat("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ariadne-test-ca",
                     " -keyout ", P("ca.key"), " -out ", P("ca.pem")));
    MakeServer(1001);
    // A client certificate signed by the CA.
    Run(absl::StrCat("req -newkey rsa:2048 -nodes -subj /CN=client -keyout ", P("client.key"),
                     " -out ", P("client.csr")));
    Run(absl::StrCat("x509 -req -in ", P("client.csr"), " -CA ", P("ca.pem"), " -CAkey ",
                     P("ca.key"), " -set_serial 2001 -days 2 -out ", P("client.pem")));
  }
  ~Certs() { std::filesystem::remove_all(dir_); }

  // A server certificate for 127.0.0.1 with the given serial, written over
  // server.pem/server.key by renaming (as cert-manager and certbot do).
  void MakeServer(int serial) {
    const std::string tag = std::to_string(serial);
    Run(absl::StrCat("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout ",
                     P("server.key." + tag), " -out ", P("server.csr")));
    const std::string ext = P("ext.cnf");
    std::system(absl::StrCat("echo subjectAltName=IP:127.0.0.1 > ", ext).c_str());
    Run(absl::StrCat("x509 -req -in ", P("server.csr"), " -CA ", P("ca.pem"), " -CAkey ",
                     P("ca.key"), " -set_serial ", serial, " -days 2 -extfile ", ext, " -out ",
                     P("server.pem." + tag)));
    std::filesystem::rename(P("server.key." + tag), P("server.key"));
    std::filesystem::rename(P("server.pem." + tag), P("server.pem"));
  }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }
  TlsFiles Files(bool client_ca) const {
    return {P("server.pem"), P("server.key"), client_ca ? P("ca.pem") : ""};
  }

 private:
  void Run(const std::string& args) {
    const std::string cmd = absl::StrCat(OPENSSL_BIN, " ", args, " >/dev/null 2>&1");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::string dir_;
};

struct TlsResult {
  bool handshake_ok = false;
  long serial = -1;      // of the server's certificate
  std::string response;  // what an HTTP GET read
};

// A TLS client that trusts the test CA, optionally with a client certificate.
TlsResult TlsGet(uint16_t port, const Certs& certs, bool client_cert, const std::string& path) {
  TlsResult out;
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(certs.P("ca.pem"));
  ctx.set_verify_mode(ssl::verify_peer);
  if (client_cert) {
    ctx.use_certificate_chain_file(certs.P("client.pem"));
    ctx.use_private_key_file(certs.P("client.key"), ssl::context::pem);
  }
  ssl::stream<tcp::socket> stream(io, ctx);
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  boost::system::error_code ec;
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return out;
  out.handshake_ok = true;
  if (X509* cert = SSL_get1_peer_certificate(stream.native_handle())) {
    out.serial = ASN1_INTEGER_get(X509_get_serialNumber(cert));
    X509_free(cert);
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  asio::write(stream, asio::buffer(request), ec);
  if (ec) return out;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    const size_t n = stream.read_some(asio::buffer(buf), ec);
    out.response.append(buf, n);
    if (ec) break;
  }
  return out;
}

TEST(HttpServerTlsTest, ServesTlsAndRefusesPlaintext) {
  Certs certs;
  auto tls = TlsContext::Create(certs.Files(false));
  ASSERT_TRUE(tls.ok()) << tls.status();
  HttpServerOptions o;
  o.tls = *tls;
  TestServer server(o);
  TlsResult r = TlsGet(server.port(), certs, false, "/x");
  ASSERT_TRUE(r.handshake_ok);
  EXPECT_EQ(r.serial, 1001);
  EXPECT_EQ(r.response.rfind("HTTP/1.1 200", 0), 0u) << r.response;
  // A plaintext request gets no HTTP answer: the handshake fails, the
  // connection closes.
  const std::string plain =
      RawExchange(server.port(), "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(plain.find("HTTP/1.1"), std::string::npos) << plain;
  EXPECT_EQ(server.handler().requests().size(), 1u);
}

TEST(HttpServerTlsTest, NewCertificateWithoutRestart) {
  Certs certs;
  TlsContext::Options options;
  options.reload_interval = std::chrono::milliseconds(0);
  std::atomic<int> reloaded{0};
  options.on_reload = [&](const absl::Status& s) {
    if (s.ok()) ++reloaded;
  };
  auto tls = TlsContext::Create(certs.Files(false), options);
  ASSERT_TRUE(tls.ok()) << tls.status();
  HttpServerOptions o;
  o.tls = *tls;
  TestServer server(o);
  EXPECT_EQ(TlsGet(server.port(), certs, false, "/").serial, 1001);
  certs.MakeServer(1002);
  const TlsResult after = TlsGet(server.port(), certs, false, "/");
  EXPECT_TRUE(after.handshake_ok);
  EXPECT_EQ(after.serial, 1002);
  EXPECT_EQ(after.response.rfind("HTTP/1.1 200", 0), 0u) << after.response;
  EXPECT_GE(reloaded.load(), 1);
  EXPECT_GE((*tls)->reloads(), 1u);
}

TEST(HttpServerTlsTest, BrokenRenewalKeepsTheOldCertificate) {
  Certs certs;
  TlsContext::Options options;
  options.reload_interval = std::chrono::milliseconds(0);
  std::atomic<int> failed{0};
  options.on_reload = [&](const absl::Status& s) {
    if (!s.ok()) ++failed;
  };
  auto tls = TlsContext::Create(certs.Files(false), options);
  ASSERT_TRUE(tls.ok());
  HttpServerOptions o;
  o.tls = *tls;
  TestServer server(o);
  std::filesystem::copy_file(certs.P("client.pem"), certs.P("server.pem"),
                             std::filesystem::copy_options::overwrite_existing);
  // The key no longer matches: the old context serves on.
  const TlsResult r = TlsGet(server.port(), certs, false, "/");
  EXPECT_TRUE(r.handshake_ok);
  EXPECT_EQ(r.serial, 1001);
  EXPECT_GE(failed.load(), 1);
}

TEST(HttpServerTlsTest, ClientCertificateRequiredWithClientCa) {
  Certs certs;
  auto tls = TlsContext::Create(certs.Files(true));
  ASSERT_TRUE(tls.ok()) << tls.status();
  HttpServerOptions o;
  o.tls = *tls;
  TestServer server(o);
  const TlsResult with = TlsGet(server.port(), certs, true, "/");
  EXPECT_EQ(with.response.rfind("HTTP/1.1 200", 0), 0u) << with.response;
  // Without a client certificate: under TLS 1.3 the client's handshake may
  // complete before the server's verdict, but no answer ever comes.
  const TlsResult without = TlsGet(server.port(), certs, false, "/");
  EXPECT_EQ(without.response.find("HTTP/1.1"), std::string::npos) << without.response;
  EXPECT_EQ(server.handler().requests().size(), 1u);
}

TEST(HttpServerTlsTest, BadFilesAreNamed) {
  Certs certs;
  auto missing = TlsContext::Create({certs.P("nope.pem"), certs.P("server.key"), ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("tls.cert_file"), std::string::npos)
      << missing.status();
  auto mismatch = TlsContext::Create({certs.P("server.pem"), certs.P("client.key"), ""});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(std::string(mismatch.status().message()).find("does not match"), std::string::npos)
      << mismatch.status();
  auto no_ca = TlsContext::Create({certs.P("server.pem"), certs.P("server.key"), certs.P("x")});
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(std::string(no_ca.status().message()).find("tls.client_ca_file"), std::string::npos);
}

}  // namespace
}  // namespace ariadne::serve
