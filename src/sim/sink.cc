// The sinks of `ariadne sim`: OTLP/HTTP, OTLP/gRPC and files (sink.h).
//
// Every sink is a QueuedSink: Send() appends the request to a queue bounded
// in bytes and the sink's own threads take requests from it.
//  - HttpSink: one thread per connection, each with a keep-alive Beast
//    connection. A thread runs its own io_context to completion for every
//    step (resolve, connect, write, read), so it sends one request at a time
//    as a synchronous client would, while Beast's tcp_stream still enforces
//    `request_timeout` and Close() can abandon a step that hangs (it stops
//    the io_context).
//  - GrpcSink: one thread per channel (each its own TCP connection), unary
//    Export calls through grpc::GenericStub with the request's bytes as they
//    are; Close() cancels a call that hangs.
//  - FileSink: one writer thread, so the file holds the requests in exactly
//    the order Send() saw them; it writes through a large buffer, flushed when
//    full and when no request came for a moment.
//
// The network sinks share one delivery loop (DeliverWithRetries): retryable
// answers and connection errors are retried with exponential backoff (100 ms
// doubling to 5 s, or the server's Retry-After), non-retryable answers count
// the request's spans as rejected and are logged once per kind, and the
// answer's partial_success.rejected_spans is counted.
//
// Threading: Send() and Close() from one thread; stats() from any. Close()
// waits until the queue is empty and no request is in flight, or until its
// deadline; then it aborts (drops the queue, interrupts I/O in progress) and
// joins the threads. Requests dropped that way are "not delivered" and named
// in Close()'s error.
#include "sim/sink.h"

#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "receive/gzip.h"
#include "decode/decode.h"
#include "encode/encode.h"
#include "model/span_batch.h"
#include "sim/otlp_response.h"
#include "spdlog/spdlog.h"

namespace ariadne::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kGrpcExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr char kDefaultHttpPath[] = "/v1/traces";
constexpr milliseconds kInitialBackoff{100};
constexpr milliseconds kMaxBackoff{5000};
constexpr size_t kFileBufferBytes = 8 << 20;  // the file writer's buffer
constexpr milliseconds kFileIdleFlush{200};   // flush when no request came for this long
constexpr size_t kLoggedBodyBytes = 200;      // of an error answer, in the log

// ---------------------------------------------------------------------------
// Helpers.

// Exponential backoff between retries of one request.
class Backoff {
 public:
  milliseconds Next() {
    const milliseconds wait = next_;
    next_ = std::min(next_ * 2, kMaxBackoff);
    return wait;
  }

 private:
  milliseconds next_ = kInitialBackoff;
};

// ExportTraceServiceResponse.partial_success (otlp_response.h). Zero for
// anything unparseable: the request was accepted, and a garbled answer is no
// reason to count spans lost.
using PartialSuccess = ExportResult;

PartialSuccess ParsePartialSuccess(std::string_view response) {
  absl::StatusOr<ExportResult> result = ParseExportResponse(response);
  if (!result.ok()) return {};
  return *std::move(result);
}

std::string_view GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN_CODE";
  }
}

// ---------------------------------------------------------------------------
// Targets.

struct Endpoint {
  std::string host;  // without brackets for IPv6
  std::string port;
  std::string path;  // "" if none was given
};

// Parses "host:port[/path]" or "[v6]:port[/path]" (what follows "scheme://").
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view target, std::string_view rest) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("sink target \"", AbslView(target), "\": ", AbslView(why)));
  };
  Endpoint e;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) e.path = std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos)
    return invalid("user information is not supported");
  std::string_view host, port;
  if (absl::StartsWith(AbslView(authority), "[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("missing ']' after an IPv6 address");
    host = authority.substr(1, close - 1);
    if (close + 1 >= authority.size() || authority[close + 1] != ':') {
      return invalid("expected host:port");
    }
    port = authority.substr(close + 2);
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) return invalid("expected host:port");
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return invalid("missing host");
  uint32_t port_number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(AbslView(port), &port_number) || port_number == 0 || port_number > 65535) {
    return invalid("the port must be a number from 1 to 65535");
  }
  e.host = std::string(host);
  e.port = std::string(port);
  return e;
}

// ---------------------------------------------------------------------------
// QueuedSink: the bounded queue, Close() and the statistics every sink shares.

struct Item {
  std::string request;  // an ExportTraceServiceRequest
  int64_t spans = 0;
};

class QueuedSink : public SpanSink {
 public:
  QueuedSink(std::string name, int64_t max_queued_bytes)
      : name_(std::move(name)), max_queued_bytes_(std::max<int64_t>(max_queued_bytes, 1)) {}

  void Send(std::string request, int64_t spans) final {
    const int64_t size = static_cast<int64_t>(request.size());
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) {
      lock.unlock();
      LogOnce("send after close",
              absl::StrCat(name_, ": Send() after Close(); requests sent after Close are dropped"));
      return;
    }
    // Wait for room; one request larger than the whole budget still goes
    // through once the queue is empty.
    space_.wait(lock, [&] {
      return queued_bytes_ == 0 || queued_bytes_ + size <= max_queued_bytes_ || aborting_;
    });
    queue_.push_back(Item{std::move(request), spans});
    queued_bytes_ += size;
    not_empty_.notify_one();
  }

  absl::Status Close(milliseconds deadline) final {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return close_status_;
    closing_ = true;
    not_empty_.notify_all();  // idle threads: nothing more will come
    const bool drained = drained_.wait_until(lock, Clock::now() + deadline,
                                             [&] { return queue_.empty() && in_flight_ == 0; });
    if (!drained) {
      aborting_ = true;
      for (const Item& item : queue_) {
        ++undelivered_requests_;
        undelivered_spans_ += item.spans;
      }
      queue_.clear();
      queued_bytes_ = 0;
      not_empty_.notify_all();
      space_.notify_all();
      wake_.notify_all();
    }
    lock.unlock();
    if (!drained) Abort();
    for (std::thread& t : threads_) t.join();
    threads_.clear();

    lock.lock();
    closed_ = true;
    const std::string lost = absl::StrCat(undelivered_spans_, " spans in ", undelivered_requests_,
                                          " requests not delivered");
    if (!error_.ok()) {
      close_status_ =
          absl::Status(error_.code(), undelivered_requests_ > 0
                                          ? absl::StrCat(name_, ": ", error_.message(), "; ", lost)
                                          : absl::StrCat(name_, ": ", error_.message()));
    } else if (undelivered_requests_ > 0) {
      close_status_ = absl::DeadlineExceededError(absl::StrCat(
          name_, ": ", lost, " within the close deadline of ", deadline.count(), " ms"));
    }
    return close_status_;
  }

  SinkStats stats() const final {
    SinkStats s;
    s.requests_sent = requests_sent_.load(std::memory_order_relaxed);
    s.spans_sent = spans_sent_.load(std::memory_order_relaxed);
    s.spans_rejected = spans_rejected_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
    return s;
  }

  // Starts `n` threads running Run(0..n-1). Called once, right after the
  // sink is constructed.
  void Start(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { Run(i); });
  }

 protected:
  // The body of thread `index`: take requests (Pop/PopAll) until they end.
  virtual void Run(int index) = 0;
  // Interrupts I/O in progress; called from Close()'s thread once aborting.
  virtual void Abort() {}

  // For the destructor of a final class (Close() calls the virtual Abort(),
  // so the base destructor cannot): stops the threads without waiting.
  void StopInDestructor() {
    if (threads_.empty()) return;
    const absl::Status status = Close(milliseconds(0));
    if (!status.ok()) {
      spdlog::warn("sink destroyed without Close(): {}", StdView(status.message()));
    }
  }

  // Takes the oldest request; false once the sink is closed and drained, or
  // aborting. The caller must Settle() it.
  bool Pop(Item* item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !queue_.empty() || closing_ || aborting_; });
    if (aborting_ || queue_.empty()) return false;
    *item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= static_cast<int64_t>(item->request.size());
    ++in_flight_;
    space_.notify_one();
    return true;
  }

  // Takes every queued request, in order, waiting at most `idle` for one.
  enum class PopResult { kItems, kIdle, kDone };
  PopResult PopAll(std::vector<Item>* items, milliseconds idle) {
    std::unique_lock<std::mutex> lock(mu_);
    const bool ready =
        not_empty_.wait_for(lock, idle, [&] { return !queue_.empty() || closing_ || aborting_; });
    if (aborting_ || (closing_ && queue_.empty())) return PopResult::kDone;
    if (!ready) return PopResult::kIdle;
    for (Item& item : queue_) items->push_back(std::move(item));
    queue_.clear();
    queued_bytes_ = 0;
    in_flight_ += static_cast<int64_t>(items->size());
    space_.notify_one();
    return PopResult::kItems;
  }

  // `requests` taken by Pop/PopAll are done with (delivered or not).
  void Settle(int64_t requests) {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ -= requests;
    if (in_flight_ == 0 && queue_.empty()) drained_.notify_all();
  }

  void AddUndelivered(int64_t requests, int64_t spans) {
    std::lock_guard<std::mutex> lock(mu_);
    undelivered_requests_ += requests;
    undelivered_spans_ += spans;
  }

  // Keeps the first error (a file write error); Close() returns it.
  void SetError(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = std::move(status);
  }

  bool aborting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return aborting_;
  }

  // Sleeps for `d`; false (early) if the sink starts aborting.
  bool SleepUnlessAborted(milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    return !wake_.wait_for(lock, d, [&] { return aborting_; });
  }

  // Logs `message` as a warning the first time `key` is seen.
  void LogOnce(const std::string& key, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(log_mu_);
      if (!logged_.insert(key).second) return;
    }
    spdlog::warn("{}", message);
  }

  // What one attempt to deliver a request came to (network sinks).
  struct Attempt {
    enum Kind { kDelivered, kRetry, kRejected, kAborted };
    Kind kind = kAborted;
    std::string what;    // kRetry, kRejected: the kind, logged once: "HTTP 503", "gRPC UNAVAILABLE"
    std::string detail;  // kRetry, kRejected: the peer's message or the start of its answer
    std::optional<milliseconds> retry_after;  // kRetry: the server's Retry-After
    PartialSuccess partial;                   // kDelivered
  };

  // Delivers one popped request: calls `attempt` until the request is
  // delivered or rejected, or the sink aborts; counts it and Settles it.
  void DeliverWithRetries(int64_t spans, int64_t bytes, const std::function<Attempt()>& attempt) {
    Backoff backoff;
    for (;;) {
      Attempt a = aborting() ? Attempt{} : attempt();
      if (a.kind == Attempt::kRetry) {
        retries_.fetch_add(1, std::memory_order_relaxed);
        LogOnce("retry " + a.what, absl::StrCat(name_, ": ", a.what, a.detail.empty() ? "" : ": ",
                                                a.detail, "; retrying with backoff (logged once)"));
        const milliseconds wait = backoff.Next();
        if (SleepUnlessAborted(a.retry_after.value_or(wait))) continue;
        a.kind = Attempt::kAborted;
      }
      switch (a.kind) {
        case Attempt::kDelivered: {
          const int64_t rejected = std::clamp<int64_t>(a.partial.rejected_spans, 0, spans);
          if (rejected > 0) {
            LogOnce("partial success",
                    absl::StrCat(name_, ": the collector rejected ", rejected, " of ", spans,
                                 " spans: ", a.partial.error_message,
                                 " (logged once; counted in spans_rejected)"));
          }
          requests_sent_.fetch_add(1, std::memory_order_relaxed);
          spans_sent_.fetch_add(spans - rejected, std::memory_order_relaxed);
          spans_rejected_.fetch_add(rejected, std::memory_order_relaxed);
          bytes_sent_.fetch_add(bytes, std::memory_order_relaxed);
          break;
        }
        case Attempt::kRejected:
          spans_rejected_.fetch_add(spans, std::memory_order_relaxed);
          LogOnce("reject " + a.what,
                  absl::StrCat(name_, ": ", a.what, ", not retryable: ", spans,
                               " spans counted as rejected: ", a.detail, " (further ", a.what,
                               " answers are counted, not logged)"));
          break;
        case Attempt::kAborted:
          AddUndelivered(1, spans);
          break;
        case Attempt::kRetry:
          break;  // handled above
      }
      Settle(1);
      return;
    }
  }

  void CountWritten(int64_t requests, int64_t spans, int64_t bytes) {
    requests_sent_.fetch_add(requests, std::memory_order_relaxed);
    spans_sent_.fetch_add(spans, std::memory_order_relaxed);
    bytes_sent_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void CountRejected(int64_t spans) { spans_rejected_.fetch_add(spans, std::memory_order_relaxed); }

  const std::string name_;  // the target, for messages

 private:
  const int64_t max_queued_bytes_;
  std::vector<std::thread> threads_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;  // threads wait for requests
  std::condition_variable space_;      // Send() waits for room
  std::condition_variable drained_;    // Close() waits for the end
  std::condition_variable wake_;       // backoff sleeps, ended by an abort
  std::deque<Item> queue_;
  int64_t queued_bytes_ = 0;
  int64_t in_flight_ = 0;  // popped, not yet settled
  bool closing_ = false;   // Close() called: threads end once drained
  bool aborting_ = false;  // Close()'s deadline passed: threads end now
  bool closed_ = false;
  int64_t undelivered_requests_ = 0;
  int64_t undelivered_spans_ = 0;
  absl::Status error_;
  absl::Status close_status_;

  std::mutex log_mu_;
  std::set<std::string> logged_;

  std::atomic<int64_t> requests_sent_{0};
  std::atomic<int64_t> spans_sent_{0};
  std::atomic<int64_t> spans_rejected_{0};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> bytes_sent_{0};
};

// ---------------------------------------------------------------------------
// OTLP/HTTP.

class HttpSink final : public QueuedSink {
 public:
  HttpSink(std::string name, Endpoint endpoint, const SinkOptions& options)
      : QueuedSink(std::move(name), options.max_queued_bytes),
        endpoint_(std::move(endpoint)),
        host_header_(endpoint_.host.find(':') != std::string::npos
                         ? absl::StrCat("[", endpoint_.host, "]:", endpoint_.port)
                         : absl::StrCat(endpoint_.host, ":", endpoint_.port)),
        timeout_(options.request_timeout),
        gzip_(options.gzip) {
    if (endpoint_.path.empty() || endpoint_.path == "/") endpoint_.path = kDefaultHttpPath;
    for (int i = 0; i < std::max(options.connections, 1); ++i) {
      connections_.push_back(std::make_unique<Connection>());
    }
  }
  ~HttpSink() override { StopInDestructor(); }

  int threads() const { return static_cast<int>(connections_.size()); }

 private:
  // One keep-alive connection and the state of its step in progress. The
  // messages and results come before the io_context so that, when an abort
  // abandons an operation, they outlive its handler (destroyed, never run,
  // with the io_context).
  struct Connection {
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    beast::flat_buffer buffer;
    tcp::resolver::results_type endpoints;
    beast::error_code ec;
    bool done = false;
    asio::io_context io{1};
    tcp::resolver resolver{io};
    std::optional<beast::tcp_stream> stream;  // engaged while connected
  };

  void Run(int index) override {
    Connection& c = *connections_[index];
    Item item;
    while (Pop(&item)) {
      c.request = {};
      c.request.method(http::verb::post);
      c.request.target(endpoint_.path);
      c.request.version(11);
      c.request.set(http::field::host, host_header_);
      c.request.set(http::field::user_agent, "ariadne-sim");
      c.request.set(http::field::content_type, "application/x-protobuf");
      c.request.keep_alive(true);
      // The fastest level: the simulator is a load generator, and on OTLP
      // protobuf level 1 compresses almost as well as the default at several
      // times the speed. If zlib fails the request goes uncompressed.
      std::string compressed;
      if (gzip_) compressed = receive::Gzip(item.request, /*level=*/1);
      if (!compressed.empty()) {
        c.request.set(http::field::content_encoding, "gzip");
        c.request.body() = std::move(compressed);
      } else {
        c.request.body() = std::move(item.request);
      }
      c.request.prepare_payload();
      const int64_t bytes = static_cast<int64_t>(c.request.body().size());
      DeliverWithRetries(item.spans, bytes, [&] { return Post(c); });
      item = Item{};
    }
    Disconnect(c);
  }

  void Abort() override {
    for (auto& c : connections_) c->io.stop();  // thread-safe; Step() sees it
  }

  // Runs the connection's io_context until the operation just started
  // completes. False if the sink aborted meanwhile (the operation is then
  // abandoned; nothing runs the io_context again).
  bool Step(Connection& c) {
    c.io.restart();
    if (aborting()) return false;
    c.io.run();
    return c.done;
  }

  void Disconnect(Connection& c) {
    if (!c.stream) return;
    beast::error_code ignored;  // closing a socket that may be broken already
    c.stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    c.stream->close();
    c.stream.reset();
  }

  Attempt ConnectionError(Connection& c, std::string_view step) {
    const std::string message = c.ec.message();
    Disconnect(c);
    Attempt a;
    a.kind = Attempt::kRetry;
    a.what = absl::StrCat(AbslView(step), " ", host_header_, ": ", message);
    return a;
  }

  // One POST of c.request on the connection, connecting first if needed.
  Attempt Post(Connection& c) {
    Attempt aborted;
    auto handler = [&c](beast::error_code ec, auto&&...) {
      c.ec = ec;
      c.done = true;
    };
    if (!c.stream) {
      c.done = false;
      c.resolver.async_resolve(endpoint_.host, endpoint_.port,
                               [&c](beast::error_code ec, tcp::resolver::results_type results) {
                                 c.ec = ec;
                                 c.endpoints = std::move(results);
                                 c.done = true;
                               });
      if (!Step(c)) return aborted;
      if (c.ec) return ConnectionError(c, "resolve");
      c.stream.emplace(c.io);
      c.stream->expires_after(timeout_);
      c.done = false;
      c.stream->async_connect(c.endpoints, handler);
      if (!Step(c)) return aborted;
      if (c.ec) return ConnectionError(c, "connect to");
      beast::error_code ignored;  // Nagle only costs latency
      c.stream->socket().set_option(tcp::no_delay(true), ignored);
      c.buffer.clear();
    }
    c.stream->expires_after(timeout_);
    c.done = false;
    http::async_write(*c.stream, c.request, handler);
    if (!Step(c)) return aborted;
    if (c.ec) return ConnectionError(c, "write to");
    c.response = {};
    c.stream->expires_after(timeout_);
    c.done = false;
    http::async_read(*c.stream, c.buffer, c.response, handler);
    if (!Step(c)) return aborted;
    if (c.ec) return ConnectionError(c, "read from");
    c.stream->expires_never();
    if (!c.response.keep_alive()) Disconnect(c);
    return Classify(c.response);
  }

  static Attempt Classify(const http::response<http::string_body>& response) {
    Attempt a;
    const int status = static_cast<int>(response.result_int());
    if (status >= 200 && status < 300) {
      a.kind = Attempt::kDelivered;
      const std::string_view type = response[http::field::content_type];
      if (type.empty() || absl::StartsWithIgnoreCase(AbslView(type), "application/x-protobuf")) {
        a.partial = ParsePartialSuccess(response.body());
      }
      return a;
    }
    a.what = absl::StrCat("HTTP ", status);
    if (status == 429 || status == 502 || status == 503 || status == 504) {
      a.kind = Attempt::kRetry;
      // Retry-After in seconds; the HTTP-date form is not used by collectors.
      int64_t seconds = 0;
      const std::string_view retry_after = response[http::field::retry_after];
      if (!retry_after.empty() &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(AbslView(retry_after)), &seconds) &&
          seconds >= 0) {
        a.retry_after = milliseconds(std::min<int64_t>(seconds, 24 * 3600) * 1000);
      }
      return a;
    }
    a.kind = Attempt::kRejected;
    a.detail = std::string(
        absl::StripAsciiWhitespace(AbslView(response.body()).substr(0, kLoggedBodyBytes)));
    return a;
  }

  Endpoint endpoint_;
  const std::string host_header_;
  const milliseconds timeout_;
  const bool gzip_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

// ---------------------------------------------------------------------------
// OTLP/gRPC.

class GrpcSink final : public QueuedSink {
 public:
  GrpcSink(std::string name, const Endpoint& endpoint, const SinkOptions& options)
      : QueuedSink(std::move(name), options.max_queued_bytes), timeout_(options.request_timeout) {
    const std::string target = endpoint.host.find(':') != std::string::npos
                                   ? absl::StrCat("ipv6:[", endpoint.host, "]:", endpoint.port)
                                   : absl::StrCat(endpoint.host, ":", endpoint.port);
    for (int i = 0; i < std::max(options.connections, 1); ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per channel
      args.SetInt("ariadne.sim.connection", i);
      args.SetMaxReceiveMessageSize(-1);
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialBackoff.count());
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxBackoff.count());
      auto c = std::make_unique<Connection>();
      c->stub = std::make_unique<grpc::GenericStub>(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
      connections_.push_back(std::move(c));
    }
  }
  ~GrpcSink() override { StopInDestructor(); }

  int threads() const { return static_cast<int>(connections_.size()); }

 private:
  struct Connection {
    std::unique_ptr<grpc::GenericStub> stub;
    grpc::CompletionQueue cq;
    std::mutex mu;                        // guards `call`
    grpc::ClientContext* call = nullptr;  // the call in progress, for Abort()
  };

  void Run(int index) override {
    Connection& c = *connections_[index];
    Item item;
    while (Pop(&item)) {
      // The request references the item's bytes, which outlive every call.
      grpc::Slice slice(item.request.data(), item.request.size(), grpc::Slice::STATIC_SLICE);
      const grpc::ByteBuffer request(&slice, 1);
      DeliverWithRetries(item.spans, static_cast<int64_t>(item.request.size()),
                         [&] { return Export(c, request); });
      item = Item{};
    }
    c.cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (c.cq.Next(&tag, &ok)) {
    }
  }

  void Abort() override {
    for (auto& c : connections_) {
      std::lock_guard<std::mutex> lock(c->mu);
      if (c->call != nullptr) c->call->TryCancel();
    }
  }

  Attempt Export(Connection& c, const grpc::ByteBuffer& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    {
      std::lock_guard<std::mutex> lock(c.mu);
      if (aborting()) return Attempt{};
      c.call = &context;
    }
    grpc::ByteBuffer response;
    grpc::Status status;
    {
      auto call = c.stub->PrepareUnaryCall(&context, kGrpcExportMethod, request, &c.cq);
      call->StartCall();
      call->Finish(&response, &status, reinterpret_cast<void*>(1));
      void* tag = nullptr;
      bool ok = false;
      c.cq.Next(&tag, &ok);  // the only tag: this call's Finish
    }
    {
      std::lock_guard<std::mutex> lock(c.mu);
      c.call = nullptr;
    }
    Attempt a;
    if (status.ok()) {
      a.kind = Attempt::kDelivered;
      std::vector<grpc::Slice> slices;
      std::string body;
      if (response.Dump(&slices).ok()) {
        for (const grpc::Slice& s : slices) {
          body.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
      a.partial = ParsePartialSuccess(body);
      return a;
    }
    const grpc::StatusCode code = status.error_code();
    if (code == grpc::StatusCode::CANCELLED && aborting()) return Attempt{};
    a.what = absl::StrCat("gRPC ", AbslView(GrpcCodeName(code)));
    a.detail = status.error_message().substr(0, kLoggedBodyBytes);
    const bool retryable = code == grpc::StatusCode::UNAVAILABLE ||
                           code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                           code == grpc::StatusCode::DEADLINE_EXCEEDED;
    a.kind = retryable ? Attempt::kRetry : Attempt::kRejected;
    return a;
  }

  const milliseconds timeout_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

// ---------------------------------------------------------------------------
// Files.

class FileSink final : public QueuedSink {
 public:
  // Takes `fd` (closed at the end unless it is standard output).
  FileSink(std::string name, std::string path, int fd, bool json, int64_t max_queued_bytes)
      : QueuedSink(std::move(name), max_queued_bytes),
        path_(std::move(path)),
        fd_(fd),
        json_(json) {
    buffer_.reserve(kFileBufferBytes + (kFileBufferBytes >> 3));
  }
  ~FileSink() override {
    StopInDestructor();
    CloseFile();  // only if the threads never ran
  }

 private:
  void Run(int) override {
    std::vector<Item> items;
    for (;;) {
      const PopResult r = PopAll(&items, kFileIdleFlush);
      if (r == PopResult::kDone) break;
      if (r == PopResult::kIdle) {
        Flush();
        continue;
      }
      size_t done = 0;
      for (; done < items.size() && !aborting(); ++done) {
        Write(std::move(items[done]));
        if (buffer_.size() >= kFileBufferBytes) Flush();
      }
      for (size_t i = done; i < items.size(); ++i) AddUndelivered(1, items[i].spans);
      Settle(static_cast<int64_t>(items.size()));
      items.clear();
    }
    Flush();
    CloseFile();
  }

  // Appends one request to the buffer, as a length-prefixed message or as
  // one line of OTLP/JSON.
  void Write(Item item) {
    if (failed_) {
      AddUndelivered(1, item.spans);
      return;
    }
    if (!json_) {
      const uint64_t size = item.request.size();
      if (size > UINT32_MAX) {
        CountRejected(item.spans);
        LogOnce("too large", absl::StrCat(name_, ": a request of ", size,
                                          " bytes does not fit the 4-byte length prefix; "
                                          "its spans are counted as rejected"));
        return;
      }
      const char prefix[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                              static_cast<char>(size >> 8), static_cast<char>(size)};
      buffer_.append(prefix, 4);
      buffer_.append(item.request);
      pending_spans_ += item.spans;
      ++pending_requests_;
      return;
    }
    decode::DecodeStats stats;
    auto batch = decode::DecodeOtlpProto(std::move(item.request), decode::Limits{}, &stats);
    if (!batch.ok()) {
      CountRejected(item.spans);
      LogOnce("malformed",
              absl::StrCat(name_, ": a request does not decode (", batch.status().message(),
                           "); its spans are counted as rejected (logged once)"));
      return;
    }
    if (stats.rejected_spans > 0) {
      CountRejected(stats.rejected_spans);
      LogOnce("invalid span", absl::StrCat(name_, ": invalid spans left out: ", stats.error_message,
                                           " (logged once)"));
    }
    auto shared = std::make_shared<const model::SpanBatch>(std::move(*batch));
    refs_.clear();
    refs_.reserve(shared->size());
    for (uint32_t row = 0; row < shared->size(); ++row) refs_.push_back({shared, row});
    encode::EncodeOtlpJson(refs_, &buffer_);
    buffer_.push_back('\n');
    refs_.clear();
    pending_spans_ += static_cast<int64_t>(shared->size());
    ++pending_requests_;
  }

  // Writes the buffer out; the first error stops all further writing.
  void Flush() {
    size_t done = 0;
    while (!failed_ && done < buffer_.size()) {
      const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        Fail(absl::ErrnoToStatus(errno, absl::StrCat("write ", path_)));
        AddUndelivered(pending_requests_, pending_spans_);
        break;
      }
      done += static_cast<size_t>(n);
    }
    if (!failed_) CountWritten(pending_requests_, pending_spans_, static_cast<int64_t>(done));
    buffer_.clear();
    pending_requests_ = 0;
    pending_spans_ = 0;
  }

  void CloseFile() {
    if (fd_ < 0) return;
    if (fd_ != STDOUT_FILENO && ::close(fd_) != 0 && !failed_) {
      Fail(absl::ErrnoToStatus(errno, absl::StrCat("close ", path_)));
    }
    fd_ = -1;
  }

  void Fail(absl::Status status) {
    failed_ = true;
    spdlog::error("{}: {}", name_, StdView(status.message()));
    SetError(std::move(status));
  }

  const std::string path_;
  int fd_;
  const bool json_;
  // The writer thread's (and, before it starts or after it ends, the owner's).
  std::string buffer_;
  int64_t pending_requests_ = 0;  // in buffer_, not yet written
  int64_t pending_spans_ = 0;
  bool failed_ = false;
  std::vector<model::SpanRef> refs_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SpanSink>> OpenSink(std::string_view target,
                                                   const SinkOptions& options) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("sink target \"", AbslView(target), "\": ", AbslView(why)));
  };
  if (target.empty()) return invalid("empty");
  const std::string name(target);

  const size_t scheme_end = target.find("://");
  std::string_view scheme =
      scheme_end == std::string_view::npos ? std::string_view() : target.substr(0, scheme_end);
  if (!scheme.empty() && std::all_of(scheme.begin(), scheme.end(), [](char ch) {
        return absl::ascii_isalnum(ch) || ch == '+' || ch == '-' || ch == '.';
      })) {
    const std::string_view rest = target.substr(scheme_end + 3);
    const std::string lower = absl::AsciiStrToLower(AbslView(scheme));
    if (lower == "http") {
      auto endpoint = ParseEndpoint(target, rest);
      if (!endpoint.ok()) return endpoint.status();
      auto sink = std::make_unique<HttpSink>(name, std::move(*endpoint), options);
      sink->Start(sink->threads());
      return sink;
    }
    if (lower == "grpc") {
      auto endpoint = ParseEndpoint(target, rest);
      if (!endpoint.ok()) return endpoint.status();
      if (!endpoint->path.empty() && endpoint->path != "/") {
        return invalid("a gRPC target takes no path");
      }
      auto sink = std::make_unique<GrpcSink>(name, *endpoint, options);
      sink->Start(sink->threads());
      return sink;
    }
    if (lower == "https" || lower == "grpcs") return invalid("TLS is not supported");
    if (lower != "file") {
      return invalid("unknown scheme (use http://, grpc://, file: or a path)");
    }
  }

  // A file: "file:PATH", "file://PATH", a bare PATH or "-".
  std::string_view path = target;
  if (absl::StartsWith(AbslView(path), "file://")) {
    path.remove_prefix(7);
  } else if (absl::StartsWith(AbslView(path), "file:")) {
    path.remove_prefix(5);
  }
  if (path.empty()) return invalid("missing file path");
  if (path == "-") {
    auto sink = std::make_unique<FileSink>(name, "standard output", STDOUT_FILENO, true,
                                           options.max_queued_bytes);
    sink->Start(1);
    return sink;
  }
  const bool json =
      absl::EndsWith(AbslView(path), ".jsonl") || absl::EndsWith(AbslView(path), ".json");
  const std::string file(path);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", file));
  auto sink = std::make_unique<FileSink>(name, file, fd, json, options.max_queued_bytes);
  sink->Start(1);
  return sink;
}

}  // namespace ariadne::sim
