// Tests of the simulator's sinks against real peers on 127.0.0.1: the
// project's own HttpServer for OTLP/HTTP, an in-process grpc::Server with a
// generic service for OTLP/gRPC, and files read back from a temporary
// directory. No network mocks; no assertions on wall-clock time (waits poll
// for a condition with a generous limit).
#include "sim/sink.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "receive/gzip.h"
#include "serve/http_server.h"

namespace ariadne::sim {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace otlp = opentelemetry::proto::trace::v1;
using std::chrono::milliseconds;

constexpr milliseconds kCloseDeadline{20'000};

// An ExportTraceServiceRequest with `spans` spans whose content depends on
// `index`, so every message of a test is distinct.
std::string MakeRequest(int index, int spans) {
  collector::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("svc-" + std::to_string(index % 3));
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("ariadne-sim-test");
  for (int i = 0; i < spans; ++i) {
    otlp::Span* span = ss->add_spans();
    std::string trace_id(16, '\0'), span_id(8, '\0');
    for (int b = 0; b < 16; ++b) trace_id[b] = static_cast<char>(index * 7 + b + 1);
    for (int b = 0; b < 8; ++b) span_id[b] = static_cast<char>(i * 13 + b + 1);
    span->set_trace_id(trace_id);
    span->set_span_id(span_id);
    span->set_name("op-" + std::to_string(index) + "-" + std::to_string(i));
    span->set_kind(otlp::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(1'700'000'000'000'000'000ull + index * 1000 + i);
    span->set_end_time_unix_nano(1'700'000'000'000'000'000ull + index * 1000 + i + 500);
    auto* a = span->add_attributes();
    a->set_key("http.status_code");
    a->mutable_value()->set_int_value(200 + i);
  }
  return request.SerializeAsString();
}

struct Message {
  std::string bytes;
  int64_t spans = 0;
};

std::vector<Message> MakeMessages(int n, int first_index = 0) {
  std::vector<Message> out;
  for (int i = 0; i < n; ++i) {
    const int spans = 1 + (i % 4);
    out.push_back({MakeRequest(first_index + i, spans), spans});
  }
  return out;
}

int64_t TotalSpans(const std::vector<Message>& messages) {
  int64_t n = 0;
  for (const Message& m : messages) n += m.spans;
  return n;
}

std::vector<std::string> SortedBytes(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(m.bytes);
  std::sort(out.begin(), out.end());
  return out;
}

// Polls `condition` until it holds or 30 s pass.
bool WaitFor(const std::function<bool()>& condition) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

std::unique_ptr<SpanSink> Open(const std::string& target, SinkOptions options = {}) {
  auto sink = OpenSink(target, options);
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? std::move(*sink) : nullptr;
}

// A port on 127.0.0.1 with nothing listening: bound (so nobody else gets
// it) but not listening, so a connect is refused.
class DeadPort {
 public:
  DeadPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~DeadPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// ---------------------------------------------------------------------------
// OTLP/HTTP peer: the project's HttpServer with a recording handler.

class RecordingHandler : public serve::HttpHandler {
 public:
  // Decides the answer to the n-th request (0-based) with this body.
  using Answer = std::function<serve::HttpResponse(int n, const std::string& body)>;

  void Handle(serve::HttpRequest request, serve::Responder respond) override {
    std::string body = std::move(request.body);
    if (request.content_encoding == "gzip") {
      auto inflated = receive::Gunzip(body, 64 << 20);
      EXPECT_TRUE(inflated.ok()) << inflated.status();
      if (inflated.ok()) body = std::move(*inflated);
      gzipped.fetch_add(1);
    }
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.content_type, "application/x-protobuf");
    paths.push_back(request.path);
    const int n = static_cast<int>(bodies.size());
    bodies.push_back(body);
    if (hold) {
      held.push_back(std::move(respond));
      return;
    }
    serve::HttpResponse response = answer(n, body);
    if (response.status / 100 == 2) accepted.push_back(body);
    lock.unlock();
    respond(std::move(response));
  }

  // Answers the oldest held request with 200.
  void ReleaseOne() {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_FALSE(held.empty());
    serve::Responder respond = std::move(held.front());
    held.erase(held.begin());
    accepted.push_back(bodies[accepted.size()]);  // held in order: one connection
    lock.unlock();
    respond(Ok());
  }

  static serve::HttpResponse Ok(std::string body = "") {
    serve::HttpResponse r;
    r.content_type = "application/x-protobuf";
    r.body = std::move(body);
    return r;
  }

  int received() {
    std::lock_guard<std::mutex> lock(mu);
    return static_cast<int>(bodies.size());
  }
  int held_count() {
    std::lock_guard<std::mutex> lock(mu);
    return static_cast<int>(held.size());
  }

  std::mutex mu;
  Answer answer = [](int, const std::string&) { return Ok(); };
  bool hold = false;  // keep the responders: a peer that does not answer
  std::vector<std::string> paths;
  std::vector<std::string> bodies;    // every request, retries included
  std::vector<std::string> accepted;  // bodies answered 2xx
  std::vector<serve::Responder> held;
  std::atomic<int> gzipped{0};
};

class HttpPeer {
 public:
  HttpPeer() : server_(io_, "test_otlp_http", &handler, serve::HttpServerOptions{}) {
    const absl::Status status = server_.Listen("127.0.0.1:0");
    EXPECT_TRUE(status.ok()) << status;
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpPeer() {
    {
      std::lock_guard<std::mutex> lock(handler.mu);
      for (auto& respond : handler.held) respond(RecordingHandler::Ok());
      handler.held.clear();
    }
    io_.stop();
    thread_.join();
  }
  std::string target(std::string path = "") const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
  }

  RecordingHandler handler;

 private:
  boost::asio::io_context io_;
  serve::HttpServer server_;
  std::thread thread_;
};

TEST(HttpSink, DeliversEveryMessageOnceAfterRetryAfter) {
  HttpPeer peer;
  peer.handler.answer = [](int n, const std::string&) {
    if (n == 0) {
      serve::HttpResponse r;
      r.status = 503;
      r.content_type = "text/plain";
      r.body = "busy";
      r.headers.emplace_back("Retry-After", "0");
      return r;
    }
    return RecordingHandler::Ok();
  };
  const std::vector<Message> messages = MakeMessages(20);
  SinkOptions options;
  options.connections = 2;
  auto sink = Open(peer.target(), options);
  ASSERT_NE(sink, nullptr);
  int64_t bytes = 0;
  for (const Message& m : messages) {
    sink->Send(m.bytes, m.spans);
    bytes += static_cast<int64_t>(m.bytes.size());
  }
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());

  std::lock_guard<std::mutex> lock(peer.handler.mu);
  EXPECT_EQ(peer.handler.bodies.size(), messages.size() + 1);  // one retry
  std::vector<std::string> accepted = peer.handler.accepted;
  std::sort(accepted.begin(), accepted.end());
  EXPECT_EQ(accepted, SortedBytes(messages));
  for (const std::string& path : peer.handler.paths) EXPECT_EQ(path, "/v1/traces");
  const SinkStats stats = sink->stats();
  EXPECT_EQ(stats.requests_sent, 20);
  EXPECT_EQ(stats.spans_sent, TotalSpans(messages));
  EXPECT_EQ(stats.spans_rejected, 0);
  EXPECT_EQ(stats.retries, 1);
  EXPECT_EQ(stats.bytes_sent, bytes);
}

TEST(HttpSink, CountsPartialSuccessAndUsesTheGivenPath) {
  HttpPeer peer;
  const std::vector<Message> messages = MakeMessages(8);
  // Two of the four spans of message 3 are refused (by content: the
  // connections may deliver in any order).
  ASSERT_EQ(messages[3].spans, 4);
  peer.handler.answer = [&](int, const std::string& body) {
    if (body != messages[3].bytes) return RecordingHandler::Ok();
    collector::ExportTraceServiceResponse response;
    response.mutable_partial_success()->set_rejected_spans(2);
    response.mutable_partial_success()->set_error_message("two spans were bad");
    return RecordingHandler::Ok(response.SerializeAsString());
  };
  auto sink = Open(peer.target("/custom/traces"));
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());
  const SinkStats stats = sink->stats();
  EXPECT_EQ(stats.requests_sent, 8);
  EXPECT_EQ(stats.spans_rejected, 2);
  EXPECT_EQ(stats.spans_sent, TotalSpans(messages) - 2);
  EXPECT_EQ(stats.retries, 0);
  std::lock_guard<std::mutex> lock(peer.handler.mu);
  for (const std::string& path : peer.handler.paths) EXPECT_EQ(path, "/custom/traces");
}

TEST(HttpSink, BadRequestIsRejectedNotRetried) {
  HttpPeer peer;
  peer.handler.answer = [](int, const std::string&) {
    serve::HttpResponse r;
    r.status = 400;
    r.body = R"({"code":3,"message":"bad"})";
    return r;
  };
  const std::vector<Message> messages = MakeMessages(5);
  auto sink = Open(peer.target());
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  // Rejected spans reached the peer: they are counted, not "not delivered".
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());
  EXPECT_EQ(peer.handler.received(), 5);
  const SinkStats stats = sink->stats();
  EXPECT_EQ(stats.requests_sent, 0);
  EXPECT_EQ(stats.spans_sent, 0);
  EXPECT_EQ(stats.spans_rejected, TotalSpans(messages));
  EXPECT_EQ(stats.retries, 0);
}

TEST(HttpSink, GzipsBodies) {
  HttpPeer peer;
  const std::vector<Message> messages = MakeMessages(6);
  SinkOptions options;
  options.gzip = true;
  auto sink = Open(peer.target(), options);
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());
  EXPECT_EQ(peer.handler.gzipped.load(), 6);
  std::lock_guard<std::mutex> lock(peer.handler.mu);
  std::vector<std::string> accepted = peer.handler.accepted;
  std::sort(accepted.begin(), accepted.end());
  EXPECT_EQ(accepted, SortedBytes(messages));
}

TEST(HttpSink, CloseReportsWhatCouldNotBeDelivered) {
  DeadPort dead;
  const std::vector<Message> messages = MakeMessages(3);
  auto sink = Open("http://127.0.0.1:" + std::to_string(dead.port()));
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  const absl::Status status = sink->Close(milliseconds(300));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find(std::to_string(TotalSpans(messages)) + " spans"),
            absl::string_view::npos)
      << status;
  EXPECT_GT(sink->stats().retries, 0);
  EXPECT_EQ(sink->stats().requests_sent, 0);
}

// A request the peer never answers is abandoned at Close()'s deadline and
// counted, with the queued ones, as not delivered.
TEST(HttpSink, CloseAbandonsARequestThePeerDoesNotAnswer) {
  HttpPeer peer;
  peer.handler.hold = true;
  const std::vector<Message> messages = MakeMessages(3);
  SinkOptions options;
  options.connections = 1;
  auto sink = Open(peer.target(), options);
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  ASSERT_TRUE(WaitFor([&] { return peer.handler.held_count() == 1; }));
  const absl::Status status = sink->Close(milliseconds(200));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find(std::to_string(TotalSpans(messages)) + " spans in 3 requests"),
            absl::string_view::npos)
      << status;
  EXPECT_EQ(sink->stats().requests_sent, 0);
}

// Send() blocks while the queue is full: with a peer that does not answer,
// one connection and a budget smaller than one message, at most one message
// is in flight and one queued, so Send() returns at most (requests the peer
// has seen + 1) times.
TEST(HttpSink, SendBlocksWhileTheQueueIsFull) {
  HttpPeer peer;
  peer.handler.hold = true;
  const std::vector<Message> messages = MakeMessages(10);
  SinkOptions options;
  options.connections = 1;
  options.max_queued_bytes = 1;
  auto sink = Open(peer.target(), options);
  ASSERT_NE(sink, nullptr);
  std::atomic<int> returned{0};
  std::thread sender([&] {
    for (const Message& m : messages) {
      sink->Send(m.bytes, m.spans);
      returned.fetch_add(1);
    }
  });
  ASSERT_TRUE(WaitFor([&] { return peer.handler.held_count() == 1 && returned.load() == 2; }));
  std::this_thread::sleep_for(milliseconds(100));  // a chance to overtake, were it possible
  EXPECT_EQ(returned.load(), 2);
  EXPECT_EQ(peer.handler.received(), 1);
  for (int k = 1; k <= 10; ++k) {
    EXPECT_LE(returned.load(), k + 1);
    peer.handler.ReleaseOne();
    if (k < 10) {
      ASSERT_TRUE(WaitFor([&] { return peer.handler.held_count() == 1; }));
      EXPECT_EQ(peer.handler.received(), k + 1);
    }
  }
  sender.join();
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());
  std::lock_guard<std::mutex> lock(peer.handler.mu);
  ASSERT_EQ(peer.handler.bodies.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) EXPECT_EQ(peer.handler.bodies[i], messages[i].bytes);
  EXPECT_EQ(sink->stats().spans_sent, TotalSpans(messages));
}

// ---------------------------------------------------------------------------
// OTLP/gRPC peer: a callback generic service, as the receiver is built.

class GrpcPeer {
 public:
  // The status for the n-th call (0-based).
  std::function<grpc::Status(int n)> answer = [](int) { return grpc::Status::OK; };
  std::atomic<bool> hold{false};  // answer no call (until it is cancelled)

  GrpcPeer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_NE(port_, 0);
  }
  ~GrpcPeer() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }
  std::string target() const { return "grpc://127.0.0.1:" + std::to_string(port_); }

  std::vector<std::string> accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }

 private:
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    Reactor(GrpcPeer* peer, std::string method) : peer_(peer) {
      if (method != "/opentelemetry.proto.collector.trace.v1.TraceService/Export") {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, method));
        return;
      }
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no message"));
        return;
      }
      std::vector<grpc::Slice> slices;
      std::string body;
      EXPECT_TRUE(request_.Dump(&slices).ok());
      for (const grpc::Slice& s : slices) {
        body.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      grpc::Status status;
      {
        std::lock_guard<std::mutex> lock(peer_->mu_);
        if (peer_->hold.load()) {
          ++peer_->held_;
          return;  // OnCancel() finishes the call
        }
        status = peer_->answer(peer_->calls_++);
        if (status.ok()) peer_->accepted_.push_back(body);
      }
      if (finished_.exchange(true)) return;
      if (!status.ok()) {
        Finish(status);
        return;
      }
      grpc::Slice empty(std::string{});
      response_ = grpc::ByteBuffer(&empty, 1);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnCancel() override {
      if (!finished_.exchange(true)) Finish(grpc::Status::CANCELLED);
    }
    void OnDone() override { delete this; }

   private:
    GrpcPeer* const peer_;
    grpc::ByteBuffer request_, response_;
    std::atomic<bool> finished_{false};
  };

  class Service : public grpc::CallbackGenericService {
   public:
    explicit Service(GrpcPeer* peer) : peer_(peer) {}
    grpc::ServerGenericBidiReactor* CreateReactor(
        grpc::GenericCallbackServerContext* ctx) override {
      return new Reactor(peer_, ctx->method());
    }

   private:
    GrpcPeer* const peer_;
  };

  std::mutex mu_;
  int calls_ = 0;
  int held_ = 0;
  std::vector<std::string> accepted_;
  Service service_{this};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST(GrpcSink, RetriesUnavailableAndDeliversEveryMessageOnce) {
  GrpcPeer peer;
  peer.answer = [](int n) {
    return n == 0 ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting") : grpc::Status::OK;
  };
  const std::vector<Message> messages = MakeMessages(12);
  auto sink = Open(peer.target());
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());
  std::vector<std::string> accepted = peer.accepted();
  std::sort(accepted.begin(), accepted.end());
  EXPECT_EQ(accepted, SortedBytes(messages));
  EXPECT_EQ(peer.calls(), 13);
  const SinkStats stats = sink->stats();
  EXPECT_EQ(stats.requests_sent, 12);
  EXPECT_EQ(stats.spans_sent, TotalSpans(messages));
  EXPECT_EQ(stats.retries, 1);
  EXPECT_EQ(stats.spans_rejected, 0);
}

TEST(GrpcSink, InvalidArgumentIsRejectedNotRetried) {
  GrpcPeer peer;
  peer.answer = [](int) { return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad"); };
  const std::vector<Message> messages = MakeMessages(4);
  auto sink = Open(peer.target());
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  ASSERT_TRUE(sink->Close(kCloseDeadline).ok());
  EXPECT_EQ(peer.calls(), 4);
  EXPECT_EQ(sink->stats().spans_rejected, TotalSpans(messages));
  EXPECT_EQ(sink->stats().retries, 0);
}

TEST(GrpcSink, CloseCancelsACallThePeerDoesNotAnswer) {
  GrpcPeer peer;
  peer.hold = true;
  const std::vector<Message> messages = MakeMessages(3);
  SinkOptions options;
  options.connections = 1;
  auto sink = Open(peer.target(), options);
  ASSERT_NE(sink, nullptr);
  for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  ASSERT_TRUE(WaitFor([&] { return peer.held() == 1; }));
  const absl::Status status = sink->Close(milliseconds(200));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find(std::to_string(TotalSpans(messages)) + " spans in 3 requests"),
            absl::string_view::npos)
      << status;
  EXPECT_EQ(sink->stats().requests_sent, 0);
}

// ---------------------------------------------------------------------------
// Files.

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("sink_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `messages` through a sink for `target` and returns the file.
  std::string WriteAll(const std::string& target, const std::string& path,
                       const std::vector<Message>& messages, SinkOptions options = {}) {
    auto sink = Open(target, options);
    if (sink == nullptr) return "";
    for (const Message& m : messages) sink->Send(m.bytes, m.spans);
    const absl::Status status = sink->Close(kCloseDeadline);
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(sink->stats().requests_sent, static_cast<int64_t>(messages.size()));
    EXPECT_EQ(sink->stats().spans_sent, TotalSpans(messages));
    std::ifstream in(path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(sink->stats().bytes_sent, static_cast<int64_t>(content.str().size()));
    return content.str();
  }

  std::filesystem::path dir_;
};

TEST_F(FileSinkTest, ProtobufIsLengthDelimitedInSendOrder) {
  const std::vector<Message> messages = MakeMessages(200);
  const std::string path = Path("spans.pb");
  SinkOptions options;
  options.max_queued_bytes = 4096;  // the writer keeps up with back-pressure too
  const std::string file = WriteAll(path, path, messages, options);
  size_t pos = 0;
  std::vector<std::string> read;
  while (pos + 4 <= file.size()) {
    const uint32_t size = (uint32_t{static_cast<uint8_t>(file[pos])} << 24) |
                          (uint32_t{static_cast<uint8_t>(file[pos + 1])} << 16) |
                          (uint32_t{static_cast<uint8_t>(file[pos + 2])} << 8) |
                          uint32_t{static_cast<uint8_t>(file[pos + 3])};
    ASSERT_LE(pos + 4 + size, file.size());
    read.push_back(file.substr(pos + 4, size));
    pos += 4 + size;
  }
  EXPECT_EQ(pos, file.size());
  ASSERT_EQ(read.size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) EXPECT_EQ(read[i], messages[i].bytes) << i;

  // "file:" prefix, same bytes.
  EXPECT_EQ(WriteAll("file:" + Path("again.pb"), Path("again.pb"), messages), file);
}

TEST_F(FileSinkTest, JsonLinesHoldOneTracesDataPerMessageAndAreDeterministic) {
  const std::vector<Message> messages = MakeMessages(30);
  const std::string first = WriteAll(Path("a.jsonl"), Path("a.jsonl"), messages);
  const std::string second = WriteAll(Path("b.jsonl"), Path("b.jsonl"), messages);
  EXPECT_EQ(first, second);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back(), '\n');

  std::istringstream lines(first);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(n, messages.size());
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    ASSERT_FALSE(doc.HasParseError()) << "line " << n;
    ASSERT_TRUE(doc.IsObject());
    ASSERT_TRUE(doc.HasMember("resourceSpans"));
    int64_t spans = 0;
    for (const auto& rs : doc["resourceSpans"].GetArray()) {
      for (const auto& ss : rs["scopeSpans"].GetArray()) spans += ss["spans"].GetArray().Size();
    }
    EXPECT_EQ(spans, messages[n].spans) << "line " << n;
    ++n;
  }
  EXPECT_EQ(n, messages.size());
}

TEST_F(FileSinkTest, UnwritableFileIsAnError) {
  auto sink = OpenSink(Path("no/such/dir/spans.pb"), SinkOptions{});
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kNotFound) << sink.status();
}

// Not a unit test: writes 1 GiB of protobuf to measure the file sink.
// Run with --gtest_also_run_disabled_tests --gtest_filter=*Throughput*.
TEST_F(FileSinkTest, DISABLED_ProtobufThroughput) {
  const std::string message = MakeRequest(1, 500);
  const int64_t n = (int64_t{1} << 30) / static_cast<int64_t>(message.size());
  auto sink = Open(Path("big.pb"));
  ASSERT_NE(sink, nullptr);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) sink->Send(message, 500);
  ASSERT_TRUE(sink->Close(kCloseDeadline * 10).ok());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.0f MB/s\n", static_cast<double>(sink->stats().bytes_sent) / seconds / 1e6);
}

// ---------------------------------------------------------------------------
// Targets and lifetime.

TEST(OpenSink, MalformedTargetsAreInvalidArguments) {
  for (const char* target : {"http://", "ftp://x", "grpc://nohost", "", "http://host",
                             "http://:4318", "http://h:0", "http://h:99999", "http://h:12x",
                             "https://h:4318", "grpc://h:4317/path", "http://[::1:4318", "file:"}) {
    auto sink = OpenSink(target, SinkOptions{});
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument) << target;
  }
}

TEST(OpenSink, DestructorWithoutCloseDoesNotHang) {
  DeadPort dead;
  const std::vector<Message> messages = MakeMessages(3);
  for (const std::string& target : {"http://127.0.0.1:" + std::to_string(dead.port()),
                                    "grpc://127.0.0.1:" + std::to_string(dead.port())}) {
    auto sink = Open(target);
    ASSERT_NE(sink, nullptr);
    for (const Message& m : messages) sink->Send(m.bytes, m.spans);
    // Destroyed while it retries.
  }
  const std::string path = (std::filesystem::path(::testing::TempDir()) /
                            ("sink_test_dtor_" + std::to_string(::getpid()) + ".pb"))
                               .string();
  {
    auto sink = Open(path);
    ASSERT_NE(sink, nullptr);
    for (const Message& m : messages) sink->Send(m.bytes, m.spans);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ariadne::sim
