// Tests of prom_client.h:
//  - ParseQueryRangeResponse on crafted answers (matrix, vector, errors,
//    malformed JSON, wrong types, NaN/Inf);
//  - PromClient::Create's URL checks; PromClient and ResourcePuller against
//    small fake HTTP servers on loopback (URL encoding, non-200 answers,
//    timeout, cancellation, the ranges a puller asks for);
//  - at the edge, a REAL Prometheus (Debian's /usr/bin/prometheus, or
//    $PROMETHEUS_BIN) started on an ephemeral 127.0.0.1 port with temporary
//    storage, scraping itself every second. Those tests fail, never skip,
//    if it cannot be started.
//
// Threading: each fake server answers on a thread of its own; the rest runs
// on the test's thread.
#include "analytics/prom_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

namespace ariadne::analytics {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

uint64_t WallNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// ---------------------------------------------------------------------------
// ParseQueryRangeResponse.

TEST(PromResponseTest, Matrix) {
  const auto parsed = ParseQueryRangeResponse(R"({"status":"success","data":{
    "resultType":"matrix","result":[
      {"metric":{"job":"api","__name__":"up","instance":"a:1"},
       "values":[[1700000000.123,"1.5"],[1700000001,"0"],[1700000002,"1e+06"],
                 [1700000003,"-2.25"]]},
      {"metric":{},"values":[]}]},
    "warnings":["something"]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_THAT((*parsed)[0].labels,
              ElementsAre(Pair("__name__", "up"), Pair("instance", "a:1"), Pair("job", "api")));
  EXPECT_THAT((*parsed)[0].samples, ElementsAre(Pair(1700000000.123, 1.5), Pair(1700000001, 0),
                                                Pair(1700000002, 1e6), Pair(1700000003, -2.25)));
  EXPECT_TRUE((*parsed)[1].labels.empty());
  EXPECT_TRUE((*parsed)[1].samples.empty());
}

TEST(PromResponseTest, Vector) {
  const auto parsed = ParseQueryRangeResponse(R"({"status":"success","data":{
    "resultType":"vector","result":[
      {"metric":{"container":"cart"},"value":[1700000000.5,"0.25"]},
      {"metric":{"container":"web"},"value":[1700000000.5,"3"]}]}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_THAT((*parsed)[0].labels, ElementsAre(Pair("container", "cart")));
  EXPECT_THAT((*parsed)[0].samples, ElementsAre(Pair(1700000000.5, 0.25)));
  EXPECT_THAT((*parsed)[1].samples, ElementsAre(Pair(1700000000.5, 3)));
}

TEST(PromResponseTest, NaNAndInfinities) {
  const auto parsed = ParseQueryRangeResponse(R"({"status":"success","data":{
    "resultType":"matrix","result":[{"metric":{"a":"b"},
      "values":[[1,"NaN"],[2,"+Inf"],[3,"-Inf"],[4,"Inf"]]}]}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& samples = (*parsed)[0].samples;
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_TRUE(std::isnan(samples[0].second));
  EXPECT_EQ(samples[1].second, std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[2].second, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[3].second, std::numeric_limits<double>::infinity());
}

TEST(PromResponseTest, EmptyAndNullResults) {
  for (const char* body :
       {R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
        R"({"status":"success","data":{"resultType":"vector","result":null}})"}) {
    const auto parsed = ParseQueryRangeResponse(body);
    ASSERT_TRUE(parsed.ok()) << body << ": " << parsed.status();
    EXPECT_TRUE(parsed->empty());
  }
}

TEST(PromResponseTest, NativeHistogramsOnlyHaveNoSamples) {
  const auto parsed = ParseQueryRangeResponse(R"({"status":"success","data":{
    "resultType":"matrix","result":[{"metric":{"a":"b"},"histograms":[[1,{"count":"1"}]]}]}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_TRUE((*parsed)[0].samples.empty());
}

TEST(PromResponseTest, ErrorStatusCarriesTypeAndText) {
  const auto parsed = ParseQueryRangeResponse(
      R"({"status":"error","errorType":"bad_data","error":"1:3: parse error: unexpected end"})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(parsed.status()),
              AllOf(HasSubstr("bad_data"), HasSubstr("1:3: parse error: unexpected end")));
  const auto payload = parsed.status().GetPayload(AbslView(kPromErrorTypePayload));
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(std::string(*payload), "bad_data");

  const auto timeout = ParseQueryRangeResponse(
      R"({"status":"error","errorType":"timeout","error":"query timed out"})");
  EXPECT_EQ(timeout.status().code(), absl::StatusCode::kDeadlineExceeded);
  const auto bare = ParseQueryRangeResponse(R"({"status":"error"})");
  EXPECT_EQ(bare.status().code(), absl::StatusCode::kUnknown);
  EXPECT_FALSE(bare.status().message().empty());
}

TEST(PromResponseTest, MalformedJson) {
  for (const char* body : {"", "{", "not json", "{\"status\":\"success\"", "\xff\xfe",
                           "<html>502 Bad Gateway</html>"}) {
    const auto parsed = ParseQueryRangeResponse(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(Message(parsed.status()), HasSubstr("not JSON")) << body;
  }
}

TEST(PromResponseTest, WrongShapesNameWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([1,2])", "must be a JSON object, not an array"},
      {R"({"data":{}})", "missing field \"status\""},
      {R"({"status":1})", "status: must be a string, not a number"},
      {R"({"status":"maybe"})", "\"maybe\" is neither"},
      {R"({"status":"success"})", "missing field \"data\""},
      {R"({"status":"success","data":[]})", "data: must be an object, not an array"},
      {R"({"status":"success","data":{"result":[]}})", "missing field \"resultType\""},
      {R"({"status":"success","data":{"resultType":"scalar","result":[1,"2"]}})",
       "\"scalar\" is not supported"},
      {R"({"status":"success","data":{"resultType":"matrix"}})", "missing field \"result\""},
      {R"({"status":"success","data":{"resultType":"matrix","result":{}}})",
       "data.result: must be an array, not an object"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[1]}})",
       "data.result[0]: must be an object, not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":[]}]}})",
       "data.result[0].metric: must be an object, not an array"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":1}}]}})",
       "data.result[0].metric.a: must be a string, not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"x","a":"y"},"values":[]}]}})",
       "label \"a\" appears twice"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})",
       "data.result[0]: missing field \"values\""},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":{}}]}})",
       "data.result[0].values: must be an array, not an object"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1"],[1,"2",3]]}]}})",
       "data.result[0].values[1]: must be [time, \"value\"], not an array of 3 elements"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1"],5]}]}})",
       "data.result[0].values[1]: must be an array"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[["1","1"]]}]}})",
       "data.result[0].values[0][0]: must be a number (unix seconds), not a string"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,1]]}]}})",
       "data.result[0].values[0][1]: must be a string (the sample value), not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"abc"]]}]}})",
       "data.result[0].values[0][1]: \"abc\" is not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,""]]}]}})",
       "\"\" is not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1.5x"]]}]}})",
       "\"1.5x\" is not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1," 1"]]}]}})",
       "\" 1\" is not a number"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
       "data.result[0]: missing field \"value\""},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}})",
       "data.result[0].value: must be [time, \"value\"], not an array of 1 elements"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[null,"1"]}]}})",
       "data.result[0].value[0]: must be a number (unix seconds), not null"},
  };
  for (const auto& [body, expected] : cases) {
    const auto parsed = ParseQueryRangeResponse(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(Message(parsed.status()),
                AllOf(HasSubstr("invalid Prometheus response"), HasSubstr(expected)))
        << body;
  }
}

// ---------------------------------------------------------------------------
// PromClient::Create.

TEST(PromClientTest, CreateAcceptsHttpUrls) {
  struct Case {
    const char* url;
    const char* normalized;
  };
  for (const Case& c : {Case{"http://127.0.0.1:9090", "http://127.0.0.1:9090"},
                        Case{"HTTP://prom.example:9090/", "http://prom.example:9090"},
                        Case{"http://prom:9090/prefix/sub//", "http://prom:9090/prefix/sub"},
                        Case{"http://[::1]:9090/p", "http://[::1]:9090/p"},
                        Case{"http://prom", "http://prom:80"}}) {
    const auto client = PromClient::Create(c.url, milliseconds(1000));
    ASSERT_TRUE(client.ok()) << c.url << ": " << client.status();
    EXPECT_EQ(client->base_url(), c.normalized);
    EXPECT_EQ(client->timeout(), milliseconds(1000));
  }
}

TEST(PromClientTest, CreateRejectsOtherUrls) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://prom:9090", "https is not supported yet (TLS is later work)"},
      {"HTTPS://prom:9090", "https is not supported yet"},
      {"ftp://prom:21", "unsupported scheme \"ftp\""},
      {"prom:9090", "expected http://host:port"},
      {"http://:9090", "no host"},
      {"http://", "no host"},
      {"http://prom:", "empty port"},
      {"http://prom:0", "port \"0\" is not a number in 1..65535"},
      {"http://prom:65536", "port \"65536\""},
      {"http://prom:-1", "port \"-1\""},
      {"http://prom:90a", "port \"90a\""},
      {"http://user:pw@prom:9090", "credentials"},
      {"http://prom:9090/?x=1", "query or fragment"},
      {"http://[::1:9090", "unterminated IPv6"},
      {"http://[::1]x", "after the IPv6 address"},
  };
  for (const auto& [url, expected] : cases) {
    const auto client = PromClient::Create(url, milliseconds(1000));
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(Message(client.status()), HasSubstr(expected)) << url;
  }
  const auto no_timeout = PromClient::Create("http://prom:9090", milliseconds(0));
  EXPECT_THAT(Message(no_timeout.status()), HasSubstr("timeout must be positive"));
}

// ---------------------------------------------------------------------------
// Fake HTTP servers on loopback.

// A listening socket on 127.0.0.1 and an ephemeral port.
int ListenOnLoopback(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port nothing listens on (bound, then closed; good enough on loopback).
int FreePort() {
  int port = 0;
  const int fd = ListenOnLoopback(&port);
  if (fd < 0) return 0;
  close(fd);
  return port;
}

std::string HttpResponse(int status, std::string_view body,
                         std::string_view content_type = "application/json") {
  return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Type: ", AbslView(content_type),
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                      AbslView(body));
}

// Answers each connection's request with the next of `responses` (the last
// one repeats). With no responses it accepts nothing: a connect succeeds
// (the kernel's backlog) and the request is never answered.
class FakeServer {
 public:
  explicit FakeServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    fd_ = ListenOnLoopback(&port_);
    if (fd_ >= 0 && !responses_.empty()) thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  // The request lines ("GET /... HTTP/1.1") received so far.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    size_t next = 0;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      std::string request;
      const auto deadline = steady_clock::now() + std::chrono::seconds(5);
      while (request.find("\r\n\r\n") == std::string::npos && steady_clock::now() < deadline) {
        pollfd c{conn, POLLIN, 0};
        if (poll(&c, 1, 20) <= 0) continue;
        char buf[4096];
        const ssize_t n = read(conn, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(request.substr(0, request.find("\r\n")));
      }
      const std::string& response = responses_[std::min(next++, responses_.size() - 1)];
      size_t sent = 0;
      while (sent < response.size()) {
        const ssize_t n = send(conn, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      shutdown(conn, SHUT_WR);
      close(conn);
    }
  }

  const std::vector<std::string> responses_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

PromClient MustCreate(const std::string& url, milliseconds timeout = milliseconds(5000)) {
  absl::StatusOr<PromClient> client = PromClient::Create(url, timeout);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

constexpr char kOneSeries[] = R"({"status":"success","data":{"resultType":"matrix","result":[)"
                              R"({"metric":{"container":"cart"},"values":[[1700000000,"0.5"]]}]}})";

TEST(PromClientTest, SendsTheQueryUrlEncodedUnderThePrefix) {
  FakeServer server({HttpResponse(200, kOneSeries)});
  ASSERT_TRUE(server.ok());
  const PromClient client = MustCreate(server.url() + "/prom/");
  const auto series = client.QueryRange(R"(sum by (container) (rate(x{container!=""}[1m])) + 1)",
                                        1700000000.5, 1700000300.25, 10);
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 1u);
  EXPECT_THAT((*series)[0].samples, ElementsAre(Pair(1700000000, 0.5)));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0],
            "GET /prom/api/v1/query_range?query=sum%20by%20%28container%29%20%28rate%28x%7B"
            "container%21%3D%22%22%7D%5B1m%5D%29%29%20%2B%201"
            "&start=1700000000.500&end=1700000300.250&step=10.000 HTTP/1.1");
}

TEST(PromClientTest, RejectsBadRanges) {
  const PromClient client = MustCreate("http://127.0.0.1:1");
  EXPECT_THAT(Message(client.QueryRange("up", 10, 5, 1).status()), HasSubstr("is after end"));
  EXPECT_THAT(Message(client.QueryRange("up", 0, 5, 0).status()), HasSubstr("under 1 ms"));
  EXPECT_THAT(Message(client.QueryRange("up", 0, NAN, 1).status()), HasSubstr("finite"));
}

TEST(PromClientTest, Non200WithPrometheusErrorKeepsItsMessage) {
  FakeServer server({HttpResponse(
      422, R"({"status":"error","errorType":"execution","error":"too many samples"})")});
  ASSERT_TRUE(server.ok());
  const auto series = MustCreate(server.url()).QueryRange("up", 0, 10, 1);
  ASSERT_FALSE(series.ok());
  EXPECT_EQ(series.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(series.status()),
              AllOf(HasSubstr("HTTP 422"), HasSubstr("execution"), HasSubstr("too many samples")));
}

TEST(PromClientTest, Non200WithoutJsonQuotesTheBody) {
  FakeServer server({HttpResponse(503, "  upstream overloaded\n", "text/plain")});
  ASSERT_TRUE(server.ok());
  const auto series = MustCreate(server.url()).QueryRange("up", 0, 10, 1);
  EXPECT_EQ(series.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(series.status()),
              AllOf(HasSubstr("HTTP 503"), HasSubstr(": upstream overloaded")));
}

TEST(PromClientTest, MalformedOkAnswerIsInvalidArgument) {
  FakeServer server({HttpResponse(200, R"({"status":"success","data":{"resultType":"matrix",)"
                                       R"("result":[{"values":[[1,"x"]]}]}})")});
  ASSERT_TRUE(server.ok());
  const auto series = MustCreate(server.url()).QueryRange("up", 0, 10, 1);
  EXPECT_EQ(series.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(series.status()),
              AllOf(HasSubstr("query_range http://127.0.0.1:"),
                    HasSubstr("data.result[0].values[0][1]: \"x\" is not a number")));
}

TEST(PromClientTest, ConnectionRefusedIsUnavailable) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  const auto series =
      MustCreate(absl::StrCat("http://127.0.0.1:", port)).QueryRange("up", 0, 10, 1);
  EXPECT_EQ(series.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(series.status()), HasSubstr("connect to"));
}

TEST(PromClientTest, TimeoutIsEnforced) {
  FakeServer silent({});  // connects, never answers
  ASSERT_TRUE(silent.ok());
  const PromClient client = MustCreate(silent.url(), milliseconds(300));
  const auto start = steady_clock::now();
  const auto series = client.QueryRange("up", 0, 10, 1);
  const auto elapsed = steady_clock::now() - start;
  EXPECT_EQ(series.status().code(), absl::StatusCode::kDeadlineExceeded) << series.status();
  EXPECT_THAT(Message(series.status()), HasSubstr("timed out after 300 ms"));
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, milliseconds(3000));
}

TEST(PromClientTest, StopTokenAbandonsTheQuery) {
  FakeServer silent({});
  ASSERT_TRUE(silent.ok());
  const PromClient client = MustCreate(silent.url(), milliseconds(60'000));
  std::stop_source stop;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(milliseconds(200));
    stop.request_stop();
  });
  const auto start = steady_clock::now();
  const auto series = client.QueryRange("up", 0, 10, 1, stop.get_token());
  const auto elapsed = steady_clock::now() - start;
  stopper.join();
  EXPECT_EQ(series.status().code(), absl::StatusCode::kCancelled) << series.status();
  EXPECT_LT(elapsed, milliseconds(3000));
}

// ---------------------------------------------------------------------------
// ResourcePuller against fake servers.

TEST(ResourcePullerTest, DefaultQueries) {
  const std::vector<ResourceQuery> queries = DefaultResourceQueries();
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].series, "cpu_cores");
  EXPECT_EQ(queries[0].promql,
            R"(sum by (container) (rate(container_cpu_usage_seconds_total{container!=""}[1m])))");
  EXPECT_EQ(queries[0].service_label, "container");
  EXPECT_EQ(queries[1].series, "memory_bytes");
  EXPECT_EQ(queries[1].promql,
            R"(sum by (container) (container_memory_working_set_bytes{container!=""}))");
  EXPECT_EQ(queries[1].service_label, "container");
}

TEST(ResourcePullerTest, WritesSamplesAndAsksForTheNextRange) {
  const std::string body =
      R"({"status":"success","data":{"resultType":"matrix","result":[)"
      R"({"metric":{"container":"cart"},"values":[[1699999820,"0.5"],[1699999830,"NaN"],)"
      R"([1699999840,"+Inf"],[1700000120,"0.75"]]},)"
      R"({"metric":{"container":""},"values":[[1699999820,"1"]]},)"
      R"({"metric":{"pod":"x"},"values":[[1699999820,"1"],[1699999830,"2"]]}]}})";
  FakeServer server({HttpResponse(200, body)});
  ASSERT_TRUE(server.ok());
  PromClient client = MustCreate(server.url());
  SeriesStore store(SeriesOptions{
      .step_nanos = 10'000'000'000ull, .window_nanos = 3600'000'000'000ull, .max_series = 100});
  uint64_t now = 1700000123'456000000ull;
  ResourcePuller puller(&client, {{"cpu_cores", "q", "container"}}, &store, [&now] { return now; });

  ASSERT_TRUE(puller.PullOnce().ok());
  ResourcePullerStats stats = puller.stats();
  EXPECT_EQ(stats.pulls, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.samples_written, 2u);
  EXPECT_EQ(stats.samples_not_finite, 2u);
  EXPECT_EQ(stats.samples_without_service, 3u);
  EXPECT_EQ(stats.last_error, "");
  const std::vector<Series> cart =
      store.Query("cpu_cores", {{"service", "cart"}}, 0, std::numeric_limits<uint64_t>::max());
  ASSERT_EQ(cart.size(), 1u);
  EXPECT_THAT(cart[0].labels, ElementsAre(Pair("service", "cart")));
  EXPECT_THAT(cart[0].points, ElementsAre(Point{1699999820'000000000ull, 0.5},
                                          Point{1700000120'000000000ull, 0.75}));
  EXPECT_THAT(store.Names(), ElementsAre("cpu_cores"));

  now += 15'000'000'000ull;  // 15 s later
  ASSERT_TRUE(puller.PullOnce().ok());
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  // First: now - 5 min, on a 10 s step; then from the step of the last end.
  EXPECT_THAT(requests[0],
              HasSubstr("?query=q&start=1699999820.000&end=1700000123.456&step=10.000 "));
  EXPECT_THAT(requests[1],
              HasSubstr("?query=q&start=1700000120.000&end=1700000138.456&step=10.000 "));
}

TEST(ResourcePullerTest, FailureIsCountedLoggedOnceAndRetried) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  PromClient client = MustCreate(absl::StrCat("http://127.0.0.1:", port));
  SeriesStore store;
  ResourcePuller puller(&client, DefaultResourceQueries(), &store, WallNanos);

  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("prom_client_test", ring));
  const absl::Status first = puller.PullOnce();
  const absl::Status second = puller.PullOnce();
  const std::vector<std::string> logged = ring->last_formatted();
  spdlog::set_default_logger(previous);

  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(first), AllOf(HasSubstr("cpu_cores: "), HasSubstr("connect to")));
  EXPECT_EQ(second, first);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_THAT(logged[0], HasSubstr("pulling resource metrics from Prometheus failed"));
  const ResourcePullerStats stats = puller.stats();
  EXPECT_EQ(stats.pulls, 2u);
  EXPECT_EQ(stats.failures, 2u);
  EXPECT_THAT(stats.last_error, HasSubstr("connect to"));
  EXPECT_EQ(stats.samples_written, 0u);
}

TEST(ResourcePullerTest, StopIsPromptWhileAQueryHangs) {
  FakeServer silent({});
  ASSERT_TRUE(silent.ok());
  PromClient client = MustCreate(silent.url(), milliseconds(60'000));
  SeriesStore store;
  ResourcePuller puller(&client, DefaultResourceQueries(), &store, WallNanos);
  puller.Start(milliseconds(100));
  std::this_thread::sleep_for(milliseconds(300));
  const auto start = steady_clock::now();
  puller.Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(2000));
  EXPECT_EQ(puller.stats().pulls, 0u);  // the one in flight was abandoned, not counted
  puller.Stop();                        // again: a no-op
}

// ---------------------------------------------------------------------------
// A real Prometheus.

// HTTP status of GET `path` on 127.0.0.1:`port`, or 0 if there is no answer
// within 2 s.
int HttpStatusOf(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int status = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[64] = {};
      const ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
      if (n > 12 && std::strncmp(buf, "HTTP/1.", 7) == 0) status = std::atoi(buf + 9);
    }
  }
  close(fd);
  return status;
}

// A Prometheus process with its own temporary directory (config, storage,
// log), scraping itself every second. The destructor stops it (SIGTERM,
// SIGKILL after 10 s) and deletes the directory.
class PrometheusProcess {
 public:
  PrometheusProcess() = default;
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;
  ~PrometheusProcess() {
    Kill();
    if (!dir_.empty()) {
      std::error_code ignored;  // best effort: a leftover temp dir is not a test failure
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // Starts it and waits (bounded) until it is ready and has scraped itself
  // at least 3 times. An error says why, with the end of its log.
  absl::Status Start() {
    const char* env = std::getenv("PROMETHEUS_BIN");
    const std::string binary = env != nullptr && *env != '\0' ? env : "/usr/bin/prometheus";
    if (access(binary.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no Prometheus at ", binary, " (apt-get install prometheus, or set PROMETHEUS_BIN)"));
    }
    std::string templ = (std::filesystem::temp_directory_path() / "prom_client_test.XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
    }
    dir_ = templ;
    absl::Status last = absl::UnknownError("not started");
    for (int attempt = 0; attempt < 3; ++attempt) {  // another process may take the port
      last = StartOnce(binary);
      if (last.ok()) return last;
      Kill();
    }
    return last;
  }

  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  absl::Status StartOnce(const std::string& binary) {
    port_ = FreePort();
    if (port_ == 0) return absl::InternalError("no free port");
    const std::string address = absl::StrCat("127.0.0.1:", port_);
    const std::string config = dir_ + "/prometheus.yml";
    {
      std::ofstream out(config);
      out << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
          << "scrape_configs:\n  - job_name: self\n    scrape_interval: 1s\n"
          << "    static_configs:\n      - targets: ['" << address << "']\n";
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", config));
    }
    std::filesystem::remove_all(dir_ + "/data");
    const std::string log = dir_ + "/prometheus.log";
    std::vector<std::string> args = {binary, "--config.file=" + config,
                                     "--storage.tsdb.path=" + dir_ + "/data",
                                     "--web.listen-address=" + address};
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

    const auto deadline = steady_clock::now() + std::chrono::seconds(60);
    bool ready = false;
    while (steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::UnavailableError(absl::StrCat("Prometheus exited (status ", status,
                                                   ") before it was ready; log:\n", LogTail()));
      }
      if (!ready) {
        ready = HttpStatusOf(port_, "/-/ready") == 200;
      } else {
        // At least 3 scrapes of itself within the last minute.
        const double now = WallSeconds();
        const auto scrapes = MustCreate(url()).QueryRange("count_over_time(up[1m])", now, now, 1);
        if (scrapes.ok() && !scrapes->empty() && !(*scrapes)[0].samples.empty() &&
            (*scrapes)[0].samples[0].second >= 3) {
          return absl::OkStatus();
        }
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("Prometheus on ", address, (ready ? " was ready but" : " was not ready and"),
                     " did not scrape itself 3 times within 60 s; log:\n", LogTail()));
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
      std::this_thread::sleep_for(milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);  // SIGKILL cannot be ignored: this returns
    pid_ = -1;
  }

  std::string LogTail() const {
    std::ifstream in(dir_ + "/prometheus.log");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string all = ss.str();
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class RealPrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Status started = prometheus_.Start();
    ASSERT_TRUE(started.ok()) << "cannot start Prometheus: " << started;
  }
  PrometheusProcess prometheus_;
};

TEST_F(RealPrometheusTest, QueryRangeUpAndBuildInfo) {
  const PromClient client = MustCreate(prometheus_.url());
  const double now = WallSeconds();
  const auto up = client.QueryRange("up", now - 30, now, 1);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_EQ(up->size(), 1u);
  EXPECT_THAT((*up)[0].labels,
              ElementsAre(Pair("__name__", "up"),
                          Pair("instance", absl::StrCat("127.0.0.1:", prometheus_.port())),
                          Pair("job", "self")));
  const auto& samples = (*up)[0].samples;
  ASSERT_GE(samples.size(), 3u);
  for (size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(samples[i].second, 1.0) << i;
    EXPECT_GE(samples[i].first, now - 30.001) << i;
    EXPECT_LE(samples[i].first, now + 0.001) << i;
    if (i > 0) {
      EXPECT_NEAR(samples[i].first - samples[i - 1].first, 1.0, 1e-6) << i;
    }
  }

  const auto info = client.QueryRange("prometheus_build_info", now - 10, now, 2);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size(), 1u);
  const Labels& labels = (*info)[0].labels;
  const auto label = [&labels](std::string_view name) -> std::string {
    for (const auto& [k, v] : labels) {
      if (k == name) return v;
    }
    return "";
  };
  EXPECT_EQ(label("__name__"), "prometheus_build_info");
  EXPECT_FALSE(label("version").empty());
  EXPECT_THAT(label("goversion"), HasSubstr("go"));
  ASSERT_FALSE((*info)[0].samples.empty());
  for (const auto& [t, v] : (*info)[0].samples) EXPECT_EQ(v, 1.0);
}

TEST_F(RealPrometheusTest, ErrorsCarryPrometheusMessage) {
  const PromClient client = MustCreate(prometheus_.url());
  const double now = WallSeconds();
  const auto bad = client.QueryRange("sum(up", now - 10, now, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bad.status()),
              AllOf(HasSubstr("HTTP 400"), HasSubstr("bad_data"), HasSubstr("parse error")));

  // Over Prometheus' 11,000 points per series.
  const auto too_many = client.QueryRange("up", now - 20000, now, 1);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(too_many.status()), HasSubstr("11,000"));

  const auto wrong_prefix = MustCreate(prometheus_.url() + "/nope").QueryRange("up", now, now, 1);
  EXPECT_EQ(wrong_prefix.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(wrong_prefix.status()), AllOf(HasSubstr("HTTP 404"), HasSubstr("prefix")));
}

TEST_F(RealPrometheusTest, ResourcePullerWritesServiceSeries) {
  PromClient client = MustCreate(prometheus_.url());
  SeriesStore store(SeriesOptions{
      .step_nanos = 1'000'000'000ull, .window_nanos = 3600'000'000'000ull, .max_series = 1000});
  ResourcePuller puller(
      &client,
      {{"up_by_service", R"(label_replace(up, "container", "self", "", ""))", "container"},
       {"up_without_service", "up", "container"},
       {"nan_by_service", R"(label_replace(up - up, "container", "self", "", "") / 0)",
        "container"}},
      &store, WallNanos);
  const absl::Status pulled = puller.PullOnce();
  ASSERT_TRUE(pulled.ok()) << pulled;
  ResourcePullerStats stats = puller.stats();
  EXPECT_EQ(stats.pulls, 1u);
  EXPECT_EQ(stats.failures, 0u);
  // 3 scrapes 1 s apart span at least 2 whole seconds: 2 steps.
  EXPECT_GE(stats.samples_written, 2u);
  EXPECT_GE(stats.samples_without_service, 2u);
  EXPECT_GE(stats.samples_not_finite, 2u);
  EXPECT_EQ(stats.samples_refused, 0u);

  const auto query = [&store] {
    return store.Query("up_by_service", {{"service", "self"}}, 0,
                       std::numeric_limits<uint64_t>::max());
  };
  std::vector<Series> series = query();
  ASSERT_EQ(series.size(), 1u);
  EXPECT_THAT(series[0].labels, ElementsAre(Pair("service", "self")));
  ASSERT_GE(series[0].points.size(), 2u);
  for (const Point& p : series[0].points) {
    EXPECT_EQ(p.value, 1.0);
    EXPECT_EQ(p.time_nanos % 1'000'000'000ull, 0u);
  }
  EXPECT_THAT(store.Names(), ElementsAre("up_by_service"));
  const uint64_t newest = series[0].points.back().time_nanos;

  // On its thread: more pulls, newer points, and a prompt Stop().
  puller.Start(milliseconds(300));
  const auto deadline = steady_clock::now() + std::chrono::seconds(20);
  while (steady_clock::now() < deadline &&
         (puller.stats().pulls < 4 || query()[0].points.back().time_nanos <= newest)) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  const auto stop_start = steady_clock::now();
  puller.Stop();
  EXPECT_LT(steady_clock::now() - stop_start, milliseconds(2000));
  stats = puller.stats();
  EXPECT_GE(stats.pulls, 4u);
  EXPECT_EQ(stats.failures, 0u) << stats.last_error;
  EXPECT_GT(query()[0].points.back().time_nanos, newest);
}

}  // namespace
}  // namespace ariadne::analytics
