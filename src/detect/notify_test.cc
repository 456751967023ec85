// Tests of notify.h (and of common/http_client.h's URL parsing):
//  - AlertmanagerJson's shape, escaping and refusals;
//  - PostAlertmanager and PostWebhook against a small Beast/asio server on
//    127.0.0.1:0 that records what it receives (the JSON is parsed back),
//    answers 500, or never answers (timeout);
//  - Notifier: every URL, retries, giving up, logging once, the bounded
//    drop-oldest queue, re-sending open alerts, a prompt Stop();
//  - at the edge, a REAL Alertmanager (Debian's prometheus-alertmanager, or
//    $ALERTMANAGER_BIN) on an ephemeral 127.0.0.1 port with a temporary
//    storage directory, no clustering and a null receiver: an alert posted
//    is read back from GET /api/v2/alerts. Those tests fail, never skip, if it
//    cannot be started.
//
// Threading: the test server accepts on a thread of its own and answers
// each connection on another; the rest runs on the test's thread.
#include "detect/notify.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/http_client.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

namespace ariadne::detect {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

uint64_t WallNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Polls `done` every 10 ms until it holds or `timeout` passes.
template <typename F>
bool WaitFor(F done, milliseconds timeout = milliseconds(10'000)) {
  const auto deadline = steady_clock::now() + timeout;
  while (!done()) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// The string members of a JSON object, as a map (others are skipped).
std::map<std::string, std::string> StringMap(const rapidjson::Value& object) {
  std::map<std::string, std::string> out;
  if (!object.IsObject()) return out;
  for (const auto& m : object.GetObject()) {
    if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
  }
  return out;
}

std::vector<std::string> MemberNames(const rapidjson::Value& object) {
  std::vector<std::string> out;
  for (const auto& m : object.GetObject()) out.emplace_back(m.name.GetString());
  return out;
}

// ---------------------------------------------------------------------------
// A small HTTP server on 127.0.0.1:0 (Beast): records each request and
// answers it with the next reply (the last one repeats).

struct ServerReply {
  int status = 200;
  std::string body;
  bool hang = false;  // read the request, never answer (until the server stops)
};

class TestServer {
 public:
  using Reply = ServerReply;
  struct Request {
    std::string method;
    std::string target;
    std::string content_type;
    std::string body;
  };

  explicit TestServer(std::vector<Reply> replies = {Reply{}})
      : replies_(std::move(replies)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    io_thread_ = std::thread([this] { io_.run(); });
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  ~TestServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    asio::post(io_, [this] {
      beast::error_code ignored;  // closing a listening socket: nothing to lose
      acceptor_.close(ignored);
    });
    io_thread_.join();
    std::vector<std::thread> connections;
    {
      std::lock_guard lock(mu_);
      connections.swap(connections_);
    }
    for (std::thread& t : connections) t.join();
  }

  int port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port()); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed
      std::lock_guard lock(mu_);
      if (stopping_) return;
      connections_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
      Accept();
    });
  }

  void Serve(tcp::socket socket) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    Reply reply;
    {
      std::unique_lock lock(mu_);
      Request r;
      r.method = std::string(request.method_string());
      r.target = std::string(request.target());
      if (auto it = request.find(http::field::content_type); it != request.end()) {
        r.content_type = std::string(it->value());
      }
      r.body = request.body();
      requests_.push_back(std::move(r));
      reply = replies_[std::min(next_++, replies_.size() - 1)];
      if (reply.hang) {
        cv_.wait(lock, [this] { return stopping_; });
        return;
      }
    }
    http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
    response.set(http::field::content_type, "application/json");
    response.body() = reply.body;
    response.keep_alive(false);
    response.prepare_payload();
    http::write(socket, response, ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }

  const std::vector<Reply> replies_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread io_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  size_t next_ = 0;
  std::vector<Request> requests_;
  std::vector<std::thread> connections_;
};

// A port nothing listens on (bound, then closed; good enough on loopback).
int FreePort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

Alert CartAlert(uint64_t starts_at_nanos = 1'700'000'000'123'000'000ull) {
  Alert alert;
  alert.labels = {{"alertname", "AriadneIncident"}, {"service", "cart"}, {"severity", "warning"}};
  alert.annotations = {{"summary", "cart: p99 latency 5x its baseline"},
                       {"description", "incident 7 since 12:00"}};
  alert.starts_at_nanos = starts_at_nanos;
  alert.generator_url = "http://127.0.0.1:16686/api/incidents/7";
  return alert;
}

// ---------------------------------------------------------------------------
// URLs (common/http_client.h).

TEST(NotifyHttpUrlTest, ParsesAndRefuses) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl("http://127.0.0.1:9093/am/?a=b");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 9093);
  EXPECT_EQ(url->path, "/am/");
  EXPECT_EQ(url->query, "a=b");
  EXPECT_EQ(url->Target(), "/am/?a=b");
  EXPECT_EQ(url->ToString(), "http://127.0.0.1:9093/am/?a=b");

  url = ParseHttpUrl("HTTP://[::1]");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->Target(), "/");
  EXPECT_EQ(url->HostPort(), "[::1]:80");

  const auto refused = [](std::string_view u) { return Message(ParseHttpUrl(u, "hook").status()); };
  EXPECT_THAT(refused("https://x:1"),
              AllOf(HasSubstr("hook \"https://x:1\""), HasSubstr("https is not supported yet")));
  EXPECT_THAT(refused("ftp://x"), HasSubstr("only http:// is supported"));
  EXPECT_THAT(refused("x:9093"), HasSubstr("expected http://"));
  EXPECT_THAT(refused("http://u:p@x"), HasSubstr("credentials"));
  EXPECT_THAT(refused("http://x/#f"), HasSubstr("fragment"));
  EXPECT_THAT(refused("http://:80"), HasSubstr("no host"));
  EXPECT_THAT(refused("http://x:0"), HasSubstr("1..65535"));
  EXPECT_THAT(refused("http://x:65536"), HasSubstr("1..65535"));
  EXPECT_THAT(refused("http://x:"), HasSubstr("1..65535"));
  EXPECT_THAT(refused("http://[::1"), HasSubstr("unterminated"));
}

// ---------------------------------------------------------------------------
// The JSON.

TEST(NotifyJsonTest, FormatsRfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1'700'000'000'123'999'999ull), "2023-11-14T22:13:20.123Z");
}

TEST(NotifyJsonTest, AlertmanagerV2Shape) {
  Alert open = CartAlert();
  Alert resolved = CartAlert();
  resolved.labels["service"] = "payment";
  resolved.ends_at_nanos = 1'700'000'060'000'000'000ull;
  resolved.generator_url.clear();
  resolved.annotations.clear();
  const absl::StatusOr<std::string> json = AlertmanagerJson({open, resolved});
  ASSERT_TRUE(json.ok()) << json.status();

  rapidjson::Document doc;
  doc.Parse(json->data(), json->size());
  ASSERT_FALSE(doc.HasParseError()) << *json;
  ASSERT_TRUE(doc.IsArray());
  ASSERT_EQ(doc.Size(), 2u);
  const rapidjson::Value& a = doc[0];
  EXPECT_THAT(MemberNames(a),
              UnorderedElementsAre("labels", "annotations", "startsAt", "generatorURL"));
  EXPECT_THAT(StringMap(a["labels"]),
              ElementsAre(Pair("alertname", "AriadneIncident"), Pair("service", "cart"),
                          Pair("severity", "warning")));
  EXPECT_THAT(StringMap(a["annotations"]),
              ElementsAre(Pair("description", "incident 7 since 12:00"),
                          Pair("summary", "cart: p99 latency 5x its baseline")));
  EXPECT_STREQ(a["startsAt"].GetString(), "2023-11-14T22:13:20.123Z");
  EXPECT_STREQ(a["generatorURL"].GetString(), "http://127.0.0.1:16686/api/incidents/7");

  const rapidjson::Value& b = doc[1];
  EXPECT_THAT(MemberNames(b), UnorderedElementsAre("labels", "annotations", "startsAt", "endsAt"));
  EXPECT_TRUE(b["annotations"].IsObject());
  EXPECT_EQ(b["annotations"].MemberCount(), 0u);
  EXPECT_STREQ(b["endsAt"].GetString(), "2023-11-14T22:14:20.000Z");

  Alert no_start;
  no_start.labels = {{"alertname", "x"}};
  EXPECT_EQ(*AlertmanagerJson({no_start}), R"([{"labels":{"alertname":"x"},"annotations":{}}])");
  EXPECT_EQ(*AlertmanagerJson({}), "[]");
}

TEST(NotifyJsonTest, EscapesStringsAndReplacesInvalidUtf8) {
  Alert alert;
  alert.labels = {{"alertname", "a\"b\\c\nd\te\x01"},
                  {"service", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"}};
  alert.annotations = {{"summary", "bad \xFF end \xC3"}, {"overlong", "\xC0\xAF \xED\xA0\x80"}};
  const absl::StatusOr<std::string> json = AlertmanagerJson({alert});
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(R"("a\"b\\c\nd\te\u0001")"));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json->data(), json->size());
  ASSERT_FALSE(doc.HasParseError()) << *json;
  EXPECT_THAT(StringMap(doc[0]["labels"]),
              ElementsAre(Pair("alertname", "a\"b\\c\nd\te\x01"),
                          Pair("service", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")));
  EXPECT_THAT(
      StringMap(doc[0]["annotations"]),
      ElementsAre(Pair("overlong", "\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"),
                  Pair("summary", "bad \xEF\xBF\xBD end \xEF\xBF\xBD")));
}

TEST(NotifyJsonTest, RefusesWhatAlertmanagerWouldRefuse) {
  Alert no_labels;
  EXPECT_THAT(Message(AlertmanagerJson({CartAlert(), no_labels}).status()),
              HasSubstr("alert 1: an alert needs at least one label"));
  Alert bad_name = CartAlert();
  bad_name.labels["1st"] = "x";
  EXPECT_THAT(Message(AlertmanagerJson({bad_name}).status()),
              HasSubstr("alert 0: label name \"1st\" is not valid"));
  Alert bad_annotation = CartAlert();
  bad_annotation.annotations["run-book"] = "x";
  EXPECT_THAT(Message(AlertmanagerJson({bad_annotation}).status()),
              HasSubstr("annotation name \"run-book\" is not valid"));
  Alert backwards = CartAlert();
  backwards.ends_at_nanos = backwards.starts_at_nanos - 1'000'000'000;
  const absl::Status status = AlertmanagerJson({backwards}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("before it starts"));
}

// ---------------------------------------------------------------------------
// One request.

TEST(NotifyPostTest, PostAlertmanagerSendsTheV2JsonUnderThePrefix) {
  TestServer server;
  const absl::Status status =
      PostAlertmanager(server.url() + "/am/", {CartAlert()}, milliseconds(5'000));
  ASSERT_TRUE(status.ok()) << status;
  const std::vector<TestServer::Request> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/am/api/v2/alerts");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].body, *AlertmanagerJson({CartAlert()}));
  rapidjson::Document doc;
  doc.Parse(requests[0].body.data(), requests[0].body.size());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_TRUE(doc.IsArray());
  ASSERT_EQ(doc.Size(), 1u);
  EXPECT_THAT(StringMap(doc[0]["labels"]),
              ElementsAre(Pair("alertname", "AriadneIncident"), Pair("service", "cart"),
                          Pair("severity", "warning")));
  EXPECT_FALSE(doc[0].HasMember("endsAt"));

  // Nothing to send: no request.
  ASSERT_TRUE(PostAlertmanager(server.url(), {}, milliseconds(5'000)).ok());
  EXPECT_EQ(server.count(), 1u);
}

TEST(NotifyPostTest, PostWebhookSendsTheBodyAsIs) {
  TestServer server({{204, ""}});
  const std::string body = R"({"incident":{"id":7,"service":"cart"},"state":"open"})";
  const absl::Status status =
      PostWebhook(server.url() + "/hooks/ariadne?token=abc", body, milliseconds(5'000));
  ASSERT_TRUE(status.ok()) << status;
  const std::vector<TestServer::Request> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/hooks/ariadne?token=abc");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].body, body);
}

TEST(NotifyPostTest, Non2xxIsAnErrorWithStatusAndBody) {
  TestServer server({{500, "  internal trouble: store down\n"}, {400, R"("invalid label set")"}});
  absl::Status status = PostAlertmanager(server.url(), {CartAlert()}, milliseconds(5'000));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(status),
              AllOf(HasSubstr("Alertmanager http://127.0.0.1:"), HasSubstr("/api/v2/alerts"),
                    HasSubstr("HTTP 500: internal trouble: store down")));
  status = PostWebhook(server.url() + "/hook", "{}", milliseconds(5'000));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("webhook http://127.0.0.1:"));
  EXPECT_THAT(Message(status), HasSubstr("/hook: HTTP 400: \"invalid label set\""));
}

TEST(NotifyPostTest, TimesOutWhenThePeerNeverAnswers) {
  TestServer server({{200, "", /*hang=*/true}});
  const auto start = steady_clock::now();
  const absl::Status status = PostAlertmanager(server.url(), {CartAlert()}, milliseconds(300));
  const auto took = steady_clock::now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(Message(status), AllOf(HasSubstr("Alertmanager: read from http://127.0.0.1:"),
                                     HasSubstr("timed out after 300 ms")));
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(3'000));
  EXPECT_EQ(server.count(), 1u);
}

TEST(NotifyPostTest, RefusedAndBadUrls) {
  const absl::Status refused = PostWebhook(absl::StrCat("http://127.0.0.1:", FreePort(), "/hook"),
                                           "{}", milliseconds(5'000));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(refused), HasSubstr("webhook: connect to http://127.0.0.1:"));

  const absl::Status https = PostAlertmanager("https://am:9093", {CartAlert()}, milliseconds(100));
  EXPECT_EQ(https.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(https), AllOf(HasSubstr("Alertmanager URL \"https://am:9093\""),
                                    HasSubstr("https is not supported yet")));
  EXPECT_THAT(Message(PostAlertmanager("http://am:9093/?x=1", {CartAlert()}, milliseconds(100))),
              HasSubstr("a query is not allowed"));
  EXPECT_THAT(Message(PostWebhook("am:9093/hook", "{}", milliseconds(100))),
              HasSubstr("webhook URL \"am:9093/hook\": expected http://"));
  EXPECT_THAT(Message(PostWebhook("http://127.0.0.1:1/hook", "{}", milliseconds(0))),
              HasSubstr("timeout must be positive"));
}

// ---------------------------------------------------------------------------
// Notifier.

NotifierOptions FastOptions() {
  NotifierOptions options;
  options.timeout = milliseconds(5'000);
  options.first_backoff = milliseconds(10);
  options.max_backoff = milliseconds(40);
  return options;
}

TEST(NotifierTest, SendsEachNotificationToEveryUrl) {
  TestServer am1;
  TestServer am2;
  TestServer hook;
  NotifierOptions options = FastOptions();
  options.alertmanager_urls = {am1.url(), am2.url() + "/prefix/"};
  options.webhook_urls = {hook.url() + "/hook"};
  Notifier notifier(options);
  ASSERT_TRUE(notifier.Start().ok());
  notifier.Notify({CartAlert()}, R"({"id":7})");
  ASSERT_TRUE(WaitFor([&] { return notifier.stats().sent == 3; })) << notifier.stats().last_error;
  EXPECT_EQ(am1.requests().at(0).target, "/api/v2/alerts");
  EXPECT_EQ(am1.requests().at(0).body, *AlertmanagerJson({CartAlert()}));
  EXPECT_EQ(am2.requests().at(0).target, "/prefix/api/v2/alerts");
  EXPECT_EQ(hook.requests().at(0).target, "/hook");
  EXPECT_EQ(hook.requests().at(0).body, R"({"id":7})");

  // Alerts only: no webhook request; webhook JSON only: no Alertmanager request.
  notifier.Notify({CartAlert()}, "");
  notifier.Notify({}, R"({"id":8})");
  ASSERT_TRUE(WaitFor([&] { return notifier.stats().sent == 6; })) << notifier.stats().last_error;
  EXPECT_EQ(am1.count(), 2u);
  EXPECT_EQ(am2.count(), 2u);
  ASSERT_EQ(hook.count(), 2u);
  EXPECT_EQ(hook.requests()[1].body, R"({"id":8})");
  const NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.open_alerts, 1u);
  EXPECT_EQ(stats.last_error, "");
}

TEST(NotifierTest, RetriesARetryableFailure) {
  TestServer server({{503, "busy"}, {200, ""}});
  NotifierOptions options = FastOptions();
  options.webhook_urls = {server.url()};
  Notifier notifier(options);
  ASSERT_TRUE(notifier.Start().ok());
  notifier.Notify({}, "{}");
  ASSERT_TRUE(WaitFor([&] { return notifier.stats().sent == 1; }));
  EXPECT_EQ(server.count(), 2u);
  EXPECT_EQ(notifier.stats().failed, 0u);
}

TEST(NotifierTest, GivesUpAfterMaxAttemptsAndLogsEachDistinctFailureOnce) {
  TestServer failing({{500, "down"}});
  TestServer refusing({{400, "bad"}});
  NotifierOptions options = FastOptions();
  options.webhook_urls = {failing.url(), refusing.url()};
  options.max_attempts = 3;
  Notifier notifier(options);

  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("notify_test", ring));
  ASSERT_TRUE(notifier.Start().ok());
  notifier.Notify({}, "{}");
  notifier.Notify({}, "{}");
  const bool done = WaitFor([&] { return notifier.stats().failed == 4; });
  notifier.Stop();
  const std::vector<std::string> logged = ring->last_formatted();
  spdlog::set_default_logger(previous);

  ASSERT_TRUE(done) << notifier.stats().failed;
  EXPECT_EQ(failing.count(), 6u);   // 3 attempts each: 500 is retryable
  EXPECT_EQ(refusing.count(), 2u);  // 400 is not
  const NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_THAT(stats.last_error, HasSubstr("HTTP 500: down"));  // the last to give up
  ASSERT_EQ(logged.size(), 2u) << absl::StrJoin(logged, "\n");
  EXPECT_THAT(logged, UnorderedElementsAre(
                          AllOf(HasSubstr("failed after 3 attempts"), HasSubstr("HTTP 500: down")),
                          AllOf(HasSubstr("failed after 1 attempt "), HasSubstr("HTTP 400: bad"))));
}

TEST(NotifierTest, DropsTheOldestWhenTheQueueIsFull) {
  TestServer server;
  NotifierOptions options = FastOptions();
  options.webhook_urls = {server.url()};
  options.max_queue = 2;
  Notifier notifier(options);
  for (int i = 0; i < 5; ++i) notifier.Notify({}, absl::StrCat(R"({"n":)", i, "}"));  // not started
  NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.queued, 2u);
  ASSERT_TRUE(notifier.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return notifier.stats().sent == 2; }));
  const std::vector<TestServer::Request> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, R"({"n":3})");
  EXPECT_EQ(requests[1].body, R"({"n":4})");
}

TEST(NotifierTest, ResendsOpenAlertsUntilTheyAreResolved) {
  TestServer server;
  NotifierOptions options = FastOptions();
  options.alertmanager_urls = {server.url()};
  options.resend_interval = milliseconds(100);
  Notifier notifier(options);
  ASSERT_TRUE(notifier.Start().ok());
  Alert other = CartAlert();
  other.labels["service"] = "payment";
  notifier.Notify({CartAlert(), other}, "");
  ASSERT_TRUE(WaitFor([&] { return server.count() >= 3; }));  // sent, then re-sent twice
  EXPECT_GE(notifier.stats().resends, 2u);
  for (const TestServer::Request& r : server.requests()) {
    EXPECT_EQ(r.body, *AlertmanagerJson({CartAlert(), other}));  // the same, startsAt too
  }

  Alert resolved = CartAlert();
  resolved.ends_at_nanos = resolved.starts_at_nanos + 60'000'000'000ull;
  notifier.Notify({resolved}, "");
  const std::string resolved_json = *AlertmanagerJson({resolved});
  ASSERT_TRUE(WaitFor([&] {
    for (const TestServer::Request& r : server.requests()) {
      if (r.body == resolved_json) return true;
    }
    return false;
  }));
  EXPECT_EQ(notifier.stats().open_alerts, 1u);
  // From now on only the payment alert is re-sent.
  const size_t seen = server.count();
  ASSERT_TRUE(WaitFor([&] { return server.count() >= seen + 3; }));
  const std::vector<TestServer::Request> requests = server.requests();
  EXPECT_EQ(requests.back().body, *AlertmanagerJson({other}));
  EXPECT_EQ(requests[requests.size() - 2].body, *AlertmanagerJson({other}));

  other.ends_at_nanos = other.starts_at_nanos + 1;
  notifier.Notify({other}, "");
  const std::string other_resolved = *AlertmanagerJson({other});
  ASSERT_TRUE(WaitFor([&] { return server.requests().back().body == other_resolved; }));
  std::this_thread::sleep_for(milliseconds(50));  // a round in flight may end
  const size_t after = server.count();
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(server.count(), after) << "nothing open: nothing re-sent";
  EXPECT_EQ(notifier.stats().open_alerts, 0u);
}

TEST(NotifierTest, StopIsPromptWhileARequestHangs) {
  TestServer server({{200, "", /*hang=*/true}});
  NotifierOptions options = FastOptions();
  options.alertmanager_urls = {server.url()};
  options.timeout = milliseconds(60'000);
  Notifier notifier(options);
  ASSERT_TRUE(notifier.Start().ok());
  notifier.Notify({CartAlert()}, "");
  notifier.Notify({CartAlert()}, "");
  ASSERT_TRUE(WaitFor([&] { return server.count() == 1; }));
  const auto start = steady_clock::now();
  notifier.Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(1'000));
  const NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_EQ(stats.failed, 0u);   // abandoned, not failed
  EXPECT_EQ(stats.dropped, 1u);  // the second, still queued
  notifier.Stop();               // again: a no-op
}

TEST(NotifierTest, RefusesInvalidAlertsAndBadOptions) {
  TestServer server;
  NotifierOptions options = FastOptions();
  options.alertmanager_urls = {server.url()};
  Notifier notifier(options);
  Alert bad = CartAlert();
  bad.labels["bad-name"] = "x";
  notifier.Notify({bad}, "{}");  // no webhook: the JSON is not queued either
  NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.invalid, 1u);
  EXPECT_EQ(stats.queued, 0u);
  notifier.Notify({bad, CartAlert()}, "");
  stats = notifier.stats();
  EXPECT_EQ(stats.invalid, 2u);
  EXPECT_EQ(stats.queued, 1u);
  ASSERT_TRUE(notifier.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return notifier.stats().sent == 1; }));
  EXPECT_EQ(server.requests().at(0).body, *AlertmanagerJson({CartAlert()}));

  NotifierOptions https = FastOptions();
  https.webhook_urls = {"https://hooks.example.com/x"};
  Notifier refused(https);
  const absl::Status status = refused.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("https is not supported yet"));
  NotifierOptions zero = FastOptions();
  zero.resend_interval = milliseconds(0);
  EXPECT_THAT(Message(Notifier::Validate(zero)), HasSubstr("resend_interval must be positive"));
}

// ---------------------------------------------------------------------------
// A real Alertmanager.

// An Alertmanager process with its own temporary directory (config, storage,
// log). The destructor stops it (SIGTERM, SIGKILL after 10 s) and deletes the
// directory.
class AlertmanagerProcess {
 public:
  AlertmanagerProcess() = default;
  AlertmanagerProcess(const AlertmanagerProcess&) = delete;
  AlertmanagerProcess& operator=(const AlertmanagerProcess&) = delete;
  ~AlertmanagerProcess() {
    Kill();
    if (!dir_.empty()) {
      std::error_code ignored;  // best effort: a leftover temp dir is not a test failure
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // Starts it and waits (bounded) until /-/ready answers 200. An error says
  // why, with the end of its log.
  absl::Status Start() {
    const char* env = std::getenv("ALERTMANAGER_BIN");
    const std::string binary =
        env != nullptr && *env != '\0' ? env : "/usr/bin/prometheus-alertmanager";
    if (access(binary.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no Alertmanager at ", binary,
          ": setup.sh installs Debian's prometheus-alertmanager package (apt-get install "
          "prometheus-alertmanager), or set ALERTMANAGER_BIN"));
    }
    std::string templ = std::filesystem::temp_directory_path() / "notify_test.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
    }
    dir_ = templ;
    const std::string config = dir_ + "/alertmanager.yml";
    {
      std::ofstream out(config);
      out << "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n";
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", config));
    }
    absl::Status last = absl::UnknownError("not started");
    for (int attempt = 0; attempt < 3; ++attempt) {  // another process may take the port
      last = StartOnce(binary, config);
      if (last.ok()) return last;
      Kill();
      if (!absl::StrContains(last.message(), "address already in use")) break;
    }
    return last;
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  // GET <url><path>: the answer's body; an error unless it is 200.
  absl::StatusOr<std::string> Get(const std::string& path) const {
    const absl::StatusOr<HttpUrl> base = ParseHttpUrl(url());
    if (!base.ok()) return base.status();
    HttpRequest request;
    request.target = path;
    const absl::StatusOr<HttpAnswer> answer = SendHttp(*base, request, milliseconds(5'000));
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) {
      return absl::UnknownError(
          absl::StrCat("GET ", path, ": HTTP ", answer->status, ": ", BodyExcerpt(answer->body)));
    }
    return answer->body;
  }

  std::string LogTail() const {
    std::ifstream in(dir_ + "/alertmanager.log");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string all = ss.str();
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

 private:
  absl::Status StartOnce(const std::string& binary, const std::string& config) {
    port_ = FreePort();
    const std::string address = absl::StrCat("127.0.0.1:", port_);
    const std::string log = dir_ + "/alertmanager.log";
    std::filesystem::remove_all(dir_ + "/data");
    std::vector<std::string> args = {binary,
                                     "--config.file=" + config,
                                     "--storage.path=" + dir_ + "/data",
                                     "--web.listen-address=" + address,
                                     "--cluster.listen-address=",
                                     "--log.level=info"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    if (pid == 0) {                      // the child: only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test
      if (getppid() != parent) _exit(127);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;

    const auto deadline = steady_clock::now() + std::chrono::seconds(30);
    while (steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::UnavailableError(absl::StrCat("Alertmanager exited (status ", status,
                                                   ") before it was ready; log:\n", LogTail()));
      }
      if (Get("/-/ready").ok()) return absl::OkStatus();
      std::this_thread::sleep_for(milliseconds(100));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("Alertmanager on ", address, " was not ready within 30 s; log:\n", LogTail()));
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);  // SIGKILL cannot be ignored: this returns
    pid_ = -1;
  }

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class NotifyRealAlertmanagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Status started = alertmanager_.Start();
    ASSERT_TRUE(started.ok()) << "cannot start Alertmanager: " << started;
  }

  // The alerts Alertmanager holds now (GET /api/v2/alerts), parsed.
  void GetAlerts(rapidjson::Document* doc) {
    const absl::StatusOr<std::string> body = alertmanager_.Get("/api/v2/alerts");
    ASSERT_TRUE(body.ok()) << body.status();
    doc->Parse(body->data(), body->size());
    ASSERT_FALSE(doc->HasParseError()) << *body;
    ASSERT_TRUE(doc->IsArray()) << *body;
  }

  AlertmanagerProcess alertmanager_;
};

TEST_F(NotifyRealAlertmanagerTest, PostedAlertIsReadBackThenResolved) {
  const uint64_t now = WallNanos();
  const Alert alert = CartAlert(now - 60'000'000'000ull);
  const absl::Status posted = PostAlertmanager(alertmanager_.url(), {alert}, milliseconds(5'000));
  ASSERT_TRUE(posted.ok()) << posted << "\n" << alertmanager_.LogTail();

  rapidjson::Document doc;
  ASSERT_NO_FATAL_FAILURE(GetAlerts(&doc));
  ASSERT_EQ(doc.Size(), 1u) << alertmanager_.LogTail();
  const rapidjson::Value& got = doc[0];
  EXPECT_THAT(StringMap(got["labels"]),
              ElementsAre(Pair("alertname", "AriadneIncident"), Pair("service", "cart"),
                          Pair("severity", "warning")));
  EXPECT_THAT(StringMap(got["annotations"]),
              ElementsAre(Pair("description", "incident 7 since 12:00"),
                          Pair("summary", "cart: p99 latency 5x its baseline")));
  ASSERT_TRUE(got.HasMember("startsAt"));
  EXPECT_EQ(std::string(got["startsAt"].GetString()), FormatRfc3339Millis(alert.starts_at_nanos));
  ASSERT_TRUE(got.HasMember("generatorURL"));
  EXPECT_STREQ(got["generatorURL"].GetString(), "http://127.0.0.1:16686/api/incidents/7");
  ASSERT_TRUE(got.HasMember("status") && got["status"].HasMember("state"));
  EXPECT_STREQ(got["status"]["state"].GetString(), "active");
  // Open: Alertmanager sets endsAt to now + resolve_timeout (5 min by default).
  ASSERT_TRUE(got.HasMember("endsAt"));
  EXPECT_GT(std::string(got["endsAt"].GetString()), FormatRfc3339Millis(now));

  // Resolved: Alertmanager no longer lists it.
  Alert resolved = alert;
  resolved.ends_at_nanos = WallNanos() - 1'000'000'000ull;
  ASSERT_TRUE(PostAlertmanager(alertmanager_.url(), {resolved}, milliseconds(5'000)).ok());
  ASSERT_NO_FATAL_FAILURE(GetAlerts(&doc));
  EXPECT_EQ(doc.Size(), 0u);
}

TEST_F(NotifyRealAlertmanagerTest, ItsRefusalIsAnErrorWithItsMessage) {
  // What AlertmanagerJson never sends, posted raw: Alertmanager's own answer.
  const absl::Status status = PostWebhook(alertmanager_.url() + "/api/v2/alerts",
                                          R"([{"labels":{}}])", milliseconds(5'000));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status), AllOf(HasSubstr("HTTP 400"), HasSubstr("at least one label")));
}

TEST_F(NotifyRealAlertmanagerTest, NotifierDeliversToAlertmanagerAndWebhook) {
  TestServer hook;
  NotifierOptions options = FastOptions();
  options.alertmanager_urls = {alertmanager_.url()};
  options.webhook_urls = {hook.url() + "/hook"};
  Notifier notifier(options);
  ASSERT_TRUE(notifier.Start().ok());
  Alert alert = CartAlert(WallNanos());
  notifier.Notify({alert}, R"({"incident":7})");
  ASSERT_TRUE(WaitFor([&] { return notifier.stats().sent == 2; }))
      << notifier.stats().last_error << "\n"
      << alertmanager_.LogTail();
  rapidjson::Document doc;
  ASSERT_NO_FATAL_FAILURE(GetAlerts(&doc));
  ASSERT_EQ(doc.Size(), 1u);
  EXPECT_THAT(StringMap(doc[0]["labels"]),
              ElementsAre(Pair("alertname", "AriadneIncident"), Pair("service", "cart"),
                          Pair("severity", "warning")));
  EXPECT_EQ(hook.requests().at(0).body, R"({"incident":7})");
}

}  // namespace
}  // namespace ariadne::detect
