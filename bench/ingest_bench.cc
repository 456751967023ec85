#include "bench/ingest_bench.h"

#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/payloads.h"
#include "common/strings.h"
#include "decode/decode.h"
#include "fmt/format.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
namespace otlp_collector = opentelemetry::proto::collector::trace::v1;

constexpr std::string_view kGrpcMethod =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr int kMaxSpansPerRequest = 20000;         // stays under the server's 16 MiB body limit
constexpr int64_t kMaxGeneratedSpans = 2'000'000;  // payloads x spans_per_request
constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kMaxBackoff = std::chrono::seconds(1);
constexpr auto kServerStartTimeout = std::chrono::seconds(60);
constexpr auto kServerStopTimeout = std::chrono::seconds(10);

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU time of the calling thread: single-core rates are per CPU-second, so
// that time the thread spends descheduled on a busy machine does not count.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string Thousands(double value) {
  const int64_t v = static_cast<int64_t>(std::llround(value));
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

std::string Bytes(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.1f} KiB", b / 1024.0);
}

// A JSON number, or null for a value that was not measured.
std::string JsonNumber(std::optional<double> v, int decimals = 1) {
  if (!v.has_value() || !std::isfinite(*v)) return "null";
  return fmt::format("{:.{}f}", *v, decimals);
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------
// Signals. main() blocks SIGINT and SIGTERM in every thread (for `serve`'s
// sigwait); the benchmark polls for them so that Ctrl-C stops the load, then
// the server, and still cleans up.

bool Interrupted(std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {
  static std::atomic<bool> seen{false};
  if (seen.load()) return true;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  timespec ts{};
  ts.tv_sec = wait.count() / 1000;
  ts.tv_nsec = (wait.count() % 1000) * 1000000;
  if (sigtimedwait(&set, nullptr, &ts) > 0) {
    seen.store(true);
    std::fprintf(stderr, "interrupted: stopping\n");
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// /proc readers (Linux).

// utime + stime of a process, in seconds.
std::optional<double> ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name may hold spaces and parentheses; fields follow the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 come first (state .. cmajflt); utime is field 14, stime 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "Key:   123 kB" line of /proc/<pid>/status, in bytes.
std::optional<double> ProcessStatusBytes(pid_t pid, std::string_view key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      return std::stod(line.substr(key.size() + 1)) * 1024.0;
    }
  }
  return std::nullopt;
}

// The machine's 1-minute load average: how many threads wanted a core.
std::optional<double> LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  if (in >> one) return one;
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Addresses.

struct HostPort {
  std::string host;
  std::string port;
};

std::optional<HostPort> ParseHostPort(std::string_view s) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (s.substr(0, scheme.size()) == scheme) s.remove_prefix(scheme.size());
  }
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return std::nullopt;
  HostPort hp{std::string(s.substr(0, colon)), std::string(s.substr(colon + 1))};
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  return hp;
}

// The value of "key":"value" in the server's listen file.
std::string JsonField(const std::string& json, std::string_view key) {
  const std::string needle = absl::StrCat("\"", AbslView(key), "\":\"");
  const size_t at = json.find(needle);
  if (at == std::string::npos) return "";
  const size_t start = at + needle.size();
  const size_t end = json.find('"', start);
  return end == std::string::npos ? "" : json.substr(start, end - start);
}

// ---------------------------------------------------------------------------
// The server under test, when the benchmark starts it.

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    Stop();
    RemoveDir();
  }

  // Starts `ariadne serve` (this very binary) on ephemeral loopback ports and
  // waits until it has written its listen file.
  absl::Status Start(const IngestBenchOptions& options) {
    keep_dir_ = options.keep_data;
    std::error_code ec;
    const std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
    if (ec) return absl::UnavailableError(absl::StrCat("no temporary directory: ", ec.message()));
    std::string pattern = (tmp / "ariadne-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("mkdtemp in ", tmp.string(), ": ", std::strerror(errno)));
    }
    dir_ = pattern;
    log_path_ = dir_ + "/server.log";
    const std::string listen_file = dir_ + "/listen.json";

    std::vector<std::string> args = {"ariadne",
                                     "serve",
                                     "--data-dir=" + dir_ + "/data",
                                     "--otlp-grpc-addr=127.0.0.1:0",
                                     "--otlp-http-addr=127.0.0.1:0",
                                     "--zipkin-addr=127.0.0.1:0",
                                     "--query-addr=127.0.0.1:0",
                                     "--listen-file=" + listen_file,
                                     "--wal-sync=" + options.wal_sync};
    args.insert(args.end(), options.server_args.begin(), options.server_args.end());
    command_line_ = "";
    for (const std::string& a : args) absl::StrAppend(&command_line_, " ", a);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return absl::UnavailableError(absl::StrCat("fork: ", std::strerror(errno)));
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      setpgid(0, 0);  // the terminal's Ctrl-C goes to the benchmark, which stops us in order
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    pid_ = pid;

    const auto deadline = Clock::now() + kServerStartTimeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return absl::UnavailableError(
            absl::StrCat("the server exited during start-up (", DescribeExit(status), ")"));
      }
      std::ifstream in(listen_file);
      if (in) {
        std::stringstream content;
        content << in.rdbuf();
        const std::string json = content.str();
        otlp_http_ = JsonField(json, "otlp_http");
        otlp_grpc_ = JsonField(json, "otlp_grpc");
        query_ = JsonField(json, "query");
        if (!otlp_http_.empty() && !otlp_grpc_.empty()) return absl::OkStatus();
      }
      if (Interrupted(std::chrono::milliseconds(20))) {
        return absl::CancelledError("interrupted during server start-up");
      }
    }
    return absl::DeadlineExceededError(
        absl::StrCat("the server wrote no listen file within ", kServerStartTimeout.count(), "s"));
  }

  // SIGTERM, then SIGKILL if it has not exited within kServerStopTimeout.
  void Stop() {
    if (pid_ <= 0) return;
    const auto start = Clock::now();
    kill(pid_, SIGTERM);
    int status = 0;
    bool exited = false;
    while (Clock::now() - start < kServerStopTimeout) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited) {
      killed_ = true;
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    stop_seconds_ = SecondsSince(start);
    exit_description_ = DescribeExit(status);
    clean_exit_ = !killed_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    pid_ = 0;
  }

  void RemoveDir() {
    if (dir_.empty()) return;
    if (keep_dir_) {
      std::fprintf(stderr, "kept the server's data and log in %s\n", dir_.c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);  // best effort: a leftover temp dir is harmless
    }
    dir_.clear();
  }

  // The last `lines` lines of the server's log.
  std::string LogTail(size_t lines) const {
    std::ifstream in(log_path_);
    std::vector<std::string> all;
    std::string line;
    while (std::getline(in, line)) all.push_back(line);
    std::string out;
    for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
      absl::StrAppend(&out, "  | ", all[i], "\n");
    }
    return out;
  }

  // Lines of the server's log at warning level or above (spdlog's "[warning]",
  // "[error]", "[critical]"), at most `limit`.
  std::vector<std::string> LogProblems(size_t limit, size_t* total) const {
    std::ifstream in(log_path_);
    std::vector<std::string> out;
    std::string line;
    *total = 0;
    while (std::getline(in, line)) {
      if (line.find("[warning]") != std::string::npos ||
          line.find("[error]") != std::string::npos ||
          line.find("[critical]") != std::string::npos) {
        ++*total;
        if (out.size() < limit) out.push_back(line);
      }
    }
    return out;
  }

  pid_t pid() const { return pid_; }
  const std::string& otlp_http() const { return otlp_http_; }
  const std::string& otlp_grpc() const { return otlp_grpc_; }
  const std::string& query() const { return query_; }
  const std::string& command_line() const { return command_line_; }
  double stop_seconds() const { return stop_seconds_; }
  bool killed() const { return killed_; }
  bool clean_exit() const { return clean_exit_; }
  const std::string& exit_description() const { return exit_description_; }

 private:
  static std::string DescribeExit(int status) {
    if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
    return "unknown status";
  }

  pid_t pid_ = 0;
  std::string dir_;
  bool keep_dir_ = false;
  std::string log_path_;
  std::string command_line_;
  std::string otlp_http_, otlp_grpc_, query_;
  double stop_seconds_ = 0;
  bool killed_ = false;
  bool clean_exit_ = false;
  std::string exit_description_;
};

// ---------------------------------------------------------------------------
// Single-core measurements.

struct Rate {
  std::string name;
  double spans_per_second = 0;
  double bytes_per_second = 0;
  double busy_seconds = 0;
  int64_t requests = 0;
};

// Runs `parse(payload)` over the payloads, round after round, for about
// `seconds` of wall time (at least one round) and returns the rate per
// CPU-second of this thread. `parse` returns false
// on failure, which stops the measurement.
template <typename Parse>
std::optional<Rate> MeasureOneCore(std::string name, const PayloadSet& set, double seconds,
                                   Parse&& parse) {
  Rate r;
  r.name = std::move(name);
  int64_t spans = 0, bytes = 0;
  const auto start = Clock::now();
  do {
    const double round_start = ThreadCpuSeconds();
    for (const Payload& p : set.payloads) {
      if (!parse(p)) return std::nullopt;
      spans += p.spans;
      bytes += static_cast<int64_t>(p.bytes.size());
      ++r.requests;
    }
    r.busy_seconds += ThreadCpuSeconds() - round_start;
  } while (SecondsSince(start) < seconds && !Interrupted());
  r.spans_per_second = static_cast<double>(spans) / r.busy_seconds;
  r.bytes_per_second = static_cast<double>(bytes) / r.busy_seconds;
  return r;
}

// The decoder takes its body by value (the server moves the request body in),
// so each round first copies the bodies, untimed, then decodes them, timed.
std::optional<Rate> MeasureDecoder(const PayloadSet& set, double seconds, std::string* error) {
  Rate r;
  r.name = "DecodeOtlpProto";
  const decode::Limits limits;
  std::vector<std::string> bodies(set.payloads.size());
  int64_t spans = 0, bytes = 0;
  const auto start = Clock::now();
  do {
    for (size_t i = 0; i < bodies.size(); ++i) bodies[i] = set.payloads[i].bytes;
    const double round_start = ThreadCpuSeconds();
    for (size_t i = 0; i < bodies.size(); ++i) {
      decode::DecodeStats stats;
      auto batch = decode::DecodeOtlpProto(std::move(bodies[i]), limits, &stats);
      if (!batch.ok()) {
        *error = std::string(StdView(batch.status().message()));
        return std::nullopt;
      }
      spans += static_cast<int64_t>(batch->size());
      bytes += static_cast<int64_t>(set.payloads[i].bytes.size());
      ++r.requests;
    }
    r.busy_seconds += ThreadCpuSeconds() - round_start;
  } while (SecondsSince(start) < seconds && !Interrupted());
  r.spans_per_second = static_cast<double>(spans) / r.busy_seconds;
  r.bytes_per_second = static_cast<double>(bytes) / r.busy_seconds;
  return r;
}

// ---------------------------------------------------------------------------
// Load generation.

// Counters of one connection, written by its thread, read by the progress
// printer (atomics) and, after the thread ended, by the report (the rest).
struct alignas(64) Connection {
  std::atomic<int64_t> acked_spans{0};
  std::atomic<int64_t> refused_requests{0};
  std::atomic<int64_t> failed_requests{0};
  int64_t requests = 0;
  int64_t rejected_spans = 0;  // partial success: spans the server refused as invalid
  int64_t reconnects = 0;
  std::string first_error;
  std::vector<float> latency_ms;  // per answered request
  // The connected socket, so a stuck read can be ended by shutdown(2) from
  // the main thread. The thread closes its socket only while holding `mu`.
  std::mutex mu;
  int fd = -1;
  std::atomic<bool> finished{false};
};

struct Load {
  const PayloadSet* set = nullptr;
  std::atomic<bool> stop{false};
};

void NoteError(Connection* c, std::string message) {
  if (c->first_error.empty()) c->first_error = std::move(message);
}

// Waits `wait` (at most kMaxBackoff) or until the load stops.
void Backoff(const Load& load, std::chrono::milliseconds wait) {
  const auto until = Clock::now() + std::min<std::chrono::milliseconds>(wait, kMaxBackoff);
  while (Clock::now() < until && !load.stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int64_t RejectedSpans(const std::string& response_body) {
  otlp_collector::ExportTraceServiceResponse response;
  if (!response.ParseFromString(response_body)) return 0;
  return response.partial_success().rejected_spans();
}

// One keep-alive OTLP/HTTP connection: sends the pre-encoded requests
// (headers and body, built once) and reads each answer with Beast.
void RunHttpConnection(const HostPort& target, const std::vector<std::string>& raw_requests,
                       size_t first, size_t step, Load* load, Connection* c) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::flat_buffer buffer;
  auto close = [&] {
    std::lock_guard<std::mutex> lock(c->mu);
    boost::system::error_code ignored;
    socket.close(ignored);  // closing a broken socket: nothing to do about an error
    c->fd = -1;
  };
  int connect_failures = 0;
  size_t i = first % raw_requests.size();
  while (!load->stop.load()) {
    if (!socket.is_open()) {
      boost::system::error_code ec;
      tcp::resolver resolver(io);
      auto endpoints = resolver.resolve(target.host, target.port, ec);
      if (!ec) asio::connect(socket, endpoints, ec);
      if (ec) {
        close();
        NoteError(c,
                  absl::StrCat("connect to ", target.host, ":", target.port, ": ", ec.message()));
        if (++connect_failures >= 50) break;  // about 5 s of failures: give up
        Backoff(*load, std::chrono::milliseconds(100));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      connect_failures = 0;
      buffer.clear();
      std::lock_guard<std::mutex> lock(c->mu);
      c->fd = socket.native_handle();
    }
    const auto sent = Clock::now();
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(raw_requests[i]), ec);
    http::response<http::string_body> response;
    if (!ec) http::read(socket, buffer, response, ec);
    if (ec) {
      // The server closed the connection or the watchdog ended it: reconnect
      // and send the same request again.
      close();
      ++c->reconnects;
      NoteError(c, absl::StrCat("connection: ", ec.message()));
      continue;
    }
    ++c->requests;
    c->latency_ms.push_back(
        static_cast<float>(std::chrono::duration<double, std::milli>(Clock::now() - sent).count()));
    const int status = static_cast<int>(response.result_int());
    const int64_t spans = load->set->payloads[i].spans;
    if (status == 200) {
      const int64_t rejected = RejectedSpans(response.body());
      c->rejected_spans += rejected;
      c->acked_spans.fetch_add(spans - rejected);
      i = (i + step) % raw_requests.size();
    } else if (status == 429 || status == 503) {
      // Overloaded: wait as told (bounded) and send the same request again.
      c->refused_requests.fetch_add(1);
      int retry_after = 1;
      if (auto it = response.find("Retry-After"); it != response.end()) {
        retry_after = std::max(0, std::atoi(std::string(it->value()).c_str()));
      }
      Backoff(*load, std::chrono::milliseconds(1000 * retry_after));
    } else {
      c->failed_requests.fetch_add(1);
      NoteError(c, absl::StrCat("HTTP ", status, ": ", response.body().substr(0, 200)));
      i = (i + step) % raw_requests.size();
    }
    if (!response.keep_alive()) close();
  }
  close();
  c->finished.store(true);
}

// One OTLP/gRPC channel (its own TCP connection): unary Export calls with the
// pre-encoded requests as raw bytes through the generic stub.
void RunGrpcConnection(const std::string& target, int index, size_t first, size_t step, Load* load,
                       Connection* c) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per channel
  args.SetInt("ariadne.bench.connection", index);
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  const std::vector<Payload>& payloads = load->set->payloads;
  // Requests reference the payloads' bytes; nothing is copied per call.
  std::vector<grpc::ByteBuffer> requests;
  for (const Payload& p : payloads) {
    grpc::Slice slice(p.bytes.data(), p.bytes.size(), grpc::Slice::STATIC_SLICE);
    requests.emplace_back(&slice, 1);
  }
  const std::string method(kGrpcMethod);
  size_t i = first % payloads.size();
  while (!load->stop.load()) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kRequestTimeout);
    grpc::ByteBuffer response;
    grpc::Status status;
    const auto sent = Clock::now();
    auto call = stub.PrepareUnaryCall(&context, method, requests[i], &cq);
    call->StartCall();
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    ++c->requests;
    c->latency_ms.push_back(
        static_cast<float>(std::chrono::duration<double, std::milli>(Clock::now() - sent).count()));
    if (status.ok()) {
      std::vector<grpc::Slice> slices;
      std::string body;
      if (response.Dump(&slices).ok()) {
        for (const grpc::Slice& s : slices) {
          body.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
      const int64_t rejected = RejectedSpans(body);
      c->rejected_spans += rejected;
      c->acked_spans.fetch_add(payloads[i].spans - rejected);
      i = (i + step) % payloads.size();
    } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
               status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      c->refused_requests.fetch_add(1);
      NoteError(c, absl::StrCat("gRPC code ", static_cast<int>(status.error_code()), ": ",
                                status.error_message()));
      Backoff(*load, std::chrono::milliseconds(100));
    } else {
      c->failed_requests.fetch_add(1);
      NoteError(c, absl::StrCat("gRPC code ", static_cast<int>(status.error_code()), ": ",
                                status.error_message()));
      i = (i + step) % payloads.size();
    }
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  c->finished.store(true);
}

// A plain GET over HTTP/1.1; "" on any failure.
std::string HttpGet(const HostPort& target, const std::string& path) {
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    tcp::socket socket(io);
    asio::connect(socket, resolver.resolve(target.host, target.port));
    http::request<http::empty_body> request{http::verb::get, path, 11};
    request.set(http::field::host, target.host + ":" + target.port);
    request.set(http::field::connection, "close");
    http::write(socket, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(socket, buffer, parser);
    return parser.get().result_int() == 200 ? parser.get().body() : "";
  } catch (const boost::system::system_error&) {
    return "";  // the report then says the metrics were not available
  }
}

// Sum over all label sets of a metric in Prometheus text format.
std::optional<double> MetricSum(const std::string& text, std::string_view name) {
  std::optional<double> sum;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() <= name.size() || line.compare(0, name.size(), name) != 0) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    const size_t space = line.rfind(' ');
    sum = sum.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

struct LoadResult {
  double seconds = 0;
  int64_t acked_spans = 0;
  int64_t rejected_spans = 0;
  int64_t requests = 0;
  int64_t refused_requests = 0;
  int64_t failed_requests = 0;
  int64_t reconnects = 0;
  std::vector<std::string> errors;  // first error of each connection that had one
  std::optional<double> server_cpu_seconds;
  std::optional<double> server_peak_rss;
  std::optional<double> server_rss;
  std::optional<double> bench_cpu_seconds;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::optional<double> load_average_before, load_average_after;
  bool interrupted = false;
};

LoadResult RunLoad(const IngestBenchOptions& options, const PayloadSet& set,
                   const std::string& target, pid_t server_pid) {
  LoadResult result;
  const auto hp = ParseHostPort(target);
  std::vector<std::string> raw_requests;
  if (options.protocol == "http") {
    for (const Payload& p : set.payloads) {
      http::request<http::string_body> request{http::verb::post, "/v1/traces", 11};
      request.set(http::field::host, hp->host + ":" + hp->port);
      request.set(http::field::content_type, "application/x-protobuf");
      request.set(http::field::user_agent, "ariadne-bench");
      request.body() = p.bytes;
      request.prepare_payload();
      std::ostringstream out;
      out << request;
      raw_requests.push_back(out.str());
    }
  }

  Load load;
  load.set = &set;
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < options.connections; ++i) {
    connections.push_back(std::make_unique<Connection>());
  }
  const std::optional<double> server_cpu_start =
      server_pid > 0 ? ProcessCpuSeconds(server_pid) : std::nullopt;
  const std::optional<double> bench_cpu_start = ProcessCpuSeconds(getpid());
  result.load_average_before = LoadAverage();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < options.connections; ++i) {
    // Connections start at different payloads so they do not send the same
    // request at the same moment.
    const size_t first =
        static_cast<size_t>(i) * set.payloads.size() / static_cast<size_t>(options.connections);
    Connection* c = connections[i].get();
    if (options.protocol == "http") {
      threads.emplace_back(
          [&, first, c] { RunHttpConnection(*hp, raw_requests, first, 1, &load, c); });
    } else {
      threads.emplace_back([&, i, first, c] { RunGrpcConnection(target, i, first, 1, &load, c); });
    }
  }

  auto acked = [&] {
    int64_t sum = 0;
    for (const auto& c : connections) sum += c->acked_spans.load();
    return sum;
  };
  auto all_finished = [&] {
    for (const auto& c : connections) {
      if (!c->finished.load()) return false;
    }
    return true;
  };
  // Progress once a second until the end of the run (or every connection gave up).
  int64_t last_acked = 0;
  auto last = start;
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.seconds));
  while (Clock::now() < end && !all_finished()) {
    const auto next = std::min(last + std::chrono::seconds(1), end);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    if (Interrupted(std::max(wait, std::chrono::milliseconds(1)))) {
      result.interrupted = true;
      break;
    }
    if (Clock::now() < next) continue;
    const int64_t now_acked = acked();
    int64_t refused = 0, failed = 0;
    for (const auto& c : connections) {
      refused += c->refused_requests.load();
      failed += c->failed_requests.load();
    }
    const double interval = std::chrono::duration<double>(next - last).count();
    std::fprintf(stderr, "[%5.1fs] %s spans/s (average %s), %s spans acknowledged%s\n",
                 SecondsSince(start), Thousands((now_acked - last_acked) / interval).c_str(),
                 Thousands(now_acked / SecondsSince(start)).c_str(), Thousands(now_acked).c_str(),
                 refused + failed > 0
                     ? fmt::format(", {} requests refused, {} failed", refused, failed).c_str()
                     : "");
    last_acked = now_acked;
    last = next;
  }
  load.stop.store(true);
  // Requests in flight finish (and count); a connection stuck longer than the
  // request timeout is cut.
  const auto cut = Clock::now() + kRequestTimeout;
  while (!all_finished() && Clock::now() < cut) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (const auto& c : connections) {
    std::lock_guard<std::mutex> lock(c->mu);
    if (!c->finished.load() && c->fd >= 0) {
      shutdown(c->fd, SHUT_RDWR);  // wakes the blocked read; the thread then sees `stop`
    }
  }
  for (auto& t : threads) t.join();
  result.seconds = SecondsSince(start);
  result.load_average_after = LoadAverage();
  if (server_pid > 0 && server_cpu_start.has_value()) {
    if (auto cpu = ProcessCpuSeconds(server_pid))
      result.server_cpu_seconds = *cpu - *server_cpu_start;
    result.server_peak_rss = ProcessStatusBytes(server_pid, "VmHWM");
    result.server_rss = ProcessStatusBytes(server_pid, "VmRSS");
  }
  if (auto cpu = ProcessCpuSeconds(getpid()); cpu && bench_cpu_start) {
    result.bench_cpu_seconds = *cpu - *bench_cpu_start;
  }

  std::vector<float> latencies;
  for (const auto& c : connections) {
    result.acked_spans += c->acked_spans.load();
    result.rejected_spans += c->rejected_spans;
    result.requests += c->requests;
    result.refused_requests += c->refused_requests.load();
    result.failed_requests += c->failed_requests.load();
    result.reconnects += c->reconnects;
    if (!c->first_error.empty()) result.errors.push_back(c->first_error);
    latencies.insert(latencies.end(), c->latency_ms.begin(), c->latency_ms.end());
  }
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    auto quantile = [&](double q) {
      return static_cast<double>(latencies[static_cast<size_t>(q * (latencies.size() - 1))]);
    };
    result.p50_ms = quantile(0.5);
    result.p99_ms = quantile(0.99);
    result.max_ms = latencies.back();
  }
  return result;
}

std::string_view Verdict(double ratio, double aim) {
  return ratio >= aim ? "meets the aim" : "below the aim";
}

}  // namespace

void AddIngestBenchFlags(CLI::App* app, IngestBenchOptions* o) {
  app->add_option("--connections", o->connections, "Concurrent connections sending requests")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app->add_option("--seconds", o->seconds, "Duration of the load on the server (at most 600)")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  app->add_option("--spans-per-request", o->spans_per_request, "Spans in each export request")
      ->check(CLI::Range(1, kMaxSpansPerRequest))
      ->capture_default_str();
  app->add_option("--payloads", o->payloads, "Distinct pre-encoded requests, sent round-robin")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app->add_option("--protocol", o->protocol, "http (OTLP/HTTP protobuf) or grpc (OTLP/gRPC)")
      ->check(CLI::IsMember({"http", "grpc"}))
      ->capture_default_str();
  app->add_option("--target", o->target,
                  "host:port of a running server's OTLP endpoint for --protocol; "
                  "if absent, the benchmark starts `ariadne serve` itself");
  app->add_option("--server-pid", o->server_pid,
                  "Process id of the --target server, for its CPU use and peak RSS");
  app->add_option("--query-addr", o->query_addr,
                  "host:port of the --target server's query API, to read its /metrics");
  app->add_option("--wal-sync", o->wal_sync, "--wal-sync of the server started here")
      ->check(CLI::IsMember({"always", "batch", "none"}))
      ->capture_default_str();
  app->add_option("--server-arg", o->server_args,
                  "More flags for the server started here, one per use, e.g. "
                  "--server-arg=--http-threads=4")
      ->allow_extra_args(false);
  app->add_flag("--keep-data", o->keep_data,
                "Keep the started server's temporary data directory and log");
  app->add_option("--reference-seconds", o->reference_seconds,
                  "Duration of each single-core measurement")
      ->check(CLI::Range(0.1, 60.0))
      ->capture_default_str();
  app->add_option("--seed", o->seed, "Seed of the payload generator")->capture_default_str();
  app->add_flag("--json", o->json, "Also print the results as one JSON line at the end");
}

int RunIngestBench(const IngestBenchOptions& options) {
  if (static_cast<int64_t>(options.payloads) * options.spans_per_request > kMaxGeneratedSpans) {
    std::fprintf(stderr, "ariadne bench ingest: --payloads x --spans-per-request is over %s\n",
                 Thousands(kMaxGeneratedSpans).c_str());
    return 2;
  }
  if (!options.target.empty() && !ParseHostPort(options.target)) {
    std::fprintf(stderr, "ariadne bench ingest: --target must be host:port, not %s\n",
                 options.target.c_str());
    return 2;
  }

  // 1. Payloads.
  std::fprintf(stderr, "generating %d requests of %d spans (seed %llu)...\n", options.payloads,
               options.spans_per_request, static_cast<unsigned long long>(options.seed));
  PayloadOptions payload_options;
  payload_options.requests = options.payloads;
  payload_options.spans_per_request = options.spans_per_request;
  payload_options.seed = options.seed;
  const PayloadSet set = GeneratePayloads(payload_options);

  // The decoder must take every generated span, or the comparison is void.
  int64_t decoder_rejected = 0;
  std::string decoder_message;
  for (const Payload& p : set.payloads) {
    decode::DecodeStats stats;
    auto batch = decode::DecodeOtlpProto(p.bytes, decode::Limits(), &stats);
    if (!batch.ok()) {
      std::fprintf(stderr, "the decoder refuses a generated request: %s\n",
                   std::string(StdView(batch.status().message())).c_str());
      return 1;
    }
    decoder_rejected += stats.rejected_spans;
    if (decoder_message.empty()) decoder_message = stats.error_message;
  }
  if (decoder_rejected > 0) {
    std::fprintf(stderr, "warning: the decoder rejects %lld generated spans: %s\n",
                 static_cast<long long>(decoder_rejected), decoder_message.c_str());
  }

  // 2. Single-core reference and decoder.
  std::fprintf(stderr, "measuring protobuf parse and decoder on one core (%.1fs each)...\n",
               options.reference_seconds);
  std::vector<Rate> parses;
  {
    auto fresh = MeasureOneCore("ParseFromString, new message each", set, options.reference_seconds,
                                [](const Payload& p) {
                                  otlp_collector::ExportTraceServiceRequest m;
                                  return m.ParseFromString(p.bytes);
                                });
    otlp_collector::ExportTraceServiceRequest reused_message;
    auto reused =
        MeasureOneCore("ParseFromString, message reused", set, options.reference_seconds,
                       [&](const Payload& p) { return reused_message.ParseFromString(p.bytes); });
    auto arena = MeasureOneCore(
        "ParseFromString, on an Arena", set, options.reference_seconds, [](const Payload& p) {
          google::protobuf::Arena arena;
          auto* m =
              google::protobuf::Arena::CreateMessage<otlp_collector::ExportTraceServiceRequest>(
                  &arena);
          return m->ParseFromString(p.bytes);
        });
    if (!fresh || !reused || !arena) {
      std::fprintf(stderr, "protobuf cannot parse a generated request\n");
      return 1;
    }
    parses = {*fresh, *reused, *arena};
  }
  // The reference is the fastest way the library parses: the hardest bar.
  const Rate reference = *std::max_element(
      parses.begin(), parses.end(),
      [](const Rate& a, const Rate& b) { return a.spans_per_second < b.spans_per_second; });
  std::string decode_error;
  const std::optional<Rate> decoder = MeasureDecoder(set, options.reference_seconds, &decode_error);
  if (!decoder) {
    std::fprintf(stderr, "decoder failed: %s\n", decode_error.c_str());
    return 1;
  }
  if (Interrupted()) return 1;

  // 3. The server.
  std::unique_ptr<ServerProcess> server;
  std::string target = options.target;
  std::string query_addr = options.query_addr;
  pid_t server_pid = options.server_pid;
  if (target.empty()) {
    server = std::make_unique<ServerProcess>();
    std::fprintf(stderr, "starting the server...\n");
    if (auto s = server->Start(options); !s.ok()) {
      std::fprintf(stderr, "cannot start the server:%s\n  %s\n%s", server->command_line().c_str(),
                   std::string(StdView(s.message())).c_str(), server->LogTail(20).c_str());
      return 1;
    }
    target = options.protocol == "http" ? server->otlp_http() : server->otlp_grpc();
    query_addr = server->query();
    server_pid = server->pid();
  }
  std::fprintf(stderr, "sending to %s over %d %s connections for %.0fs...\n", target.c_str(),
               options.connections, options.protocol.c_str(), options.seconds);
  const LoadResult load = RunLoad(options, set, target, server_pid);

  std::string metrics;
  if (auto q = ParseHostPort(query_addr); q && !query_addr.empty()) {
    metrics = HttpGet(*q, "/metrics");
  }
  size_t log_problem_count = 0;
  std::vector<std::string> log_problems;
  if (server) {
    server->Stop();
    log_problems = server->LogProblems(5, &log_problem_count);
  }

  // 4. Report.
  const double ref = reference.spans_per_second;
  const double decoder_ratio = decoder->spans_per_second / ref;
  const double server_rate = static_cast<double>(load.acked_spans) / load.seconds;
  const double server_ratio = server_rate / ref;
  std::optional<double> server_cores, server_per_core, bench_cores;
  if (load.server_cpu_seconds) {
    server_cores = *load.server_cpu_seconds / load.seconds;
    if (*load.server_cpu_seconds > 0) {
      server_per_core = static_cast<double>(load.acked_spans) / *load.server_cpu_seconds;
    }
  }
  if (load.bench_cpu_seconds) bench_cores = *load.bench_cpu_seconds / load.seconds;
  const unsigned cores = std::thread::hardware_concurrency();

  std::printf("\nAriadne ingest benchmark\n");
  std::printf(
      "  payloads   %d requests x %s spans (%s traces of 5-50 spans), %.1f span attributes "
      "a span, %s a request, seed %llu\n",
      options.payloads, Thousands(static_cast<double>(set.spans) / options.payloads).c_str(),
      Thousands(static_cast<double>(set.traces)).c_str(),
      static_cast<double>(set.span_attributes) / static_cast<double>(set.spans),
      Bytes(static_cast<double>(set.bytes) / options.payloads).c_str(),
      static_cast<unsigned long long>(options.seed));
  std::printf("  machine    %u cores, shared by the load generator and the server\n\n", cores);
  std::printf(
      "  one core, same payloads                          spans/s      MB/s   vs reference\n");
  for (const Rate& r : parses) {
    std::printf("  protobuf %-38s %12s %9.0f   %5.2fx%s\n", r.name.c_str(),
                Thousands(r.spans_per_second).c_str(), r.bytes_per_second / 1e6,
                r.spans_per_second / ref, r.name == reference.name ? "  <- reference" : "");
  }
  std::printf("  ariadne %-39s %12s %9.0f   %5.2fx  (aim >= 3x: %s)\n", "DecodeOtlpProto",
              Thousands(decoder->spans_per_second).c_str(), decoder->bytes_per_second / 1e6,
              decoder_ratio, std::string(Verdict(decoder_ratio, 3)).c_str());
  std::printf("\n  server: %s, %d connections, %.1fs, %s\n", options.protocol.c_str(),
              options.connections, load.seconds,
              server ? fmt::format("started here with --wal-sync={}", options.wal_sync).c_str()
                     : fmt::format("external at {}", target).c_str());
  std::printf("  acknowledged       %s spans/s   %5.2fx reference  (aim >= 1x: %s)\n",
              Thousands(server_rate).c_str(), server_ratio,
              std::string(Verdict(server_ratio, 1)).c_str());
  std::printf("  spans              %s acknowledged, %s rejected as invalid\n",
              Thousands(static_cast<double>(load.acked_spans)).c_str(),
              Thousands(static_cast<double>(load.rejected_spans)).c_str());
  std::printf(
      "  requests           %s answered (%s refused 429/503 or RESOURCE_EXHAUSTED/"
      "UNAVAILABLE, %s failed), %s reconnects\n",
      Thousands(static_cast<double>(load.requests)).c_str(),
      Thousands(static_cast<double>(load.refused_requests)).c_str(),
      Thousands(static_cast<double>(load.failed_requests)).c_str(),
      Thousands(static_cast<double>(load.reconnects)).c_str());
  std::printf("  request latency    p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", load.p50_ms,
              load.p99_ms, load.max_ms);
  if (server_cores) {
    std::printf("  server CPU         %.2f cores  (%s spans per CPU-second, %.2fx reference)\n",
                *server_cores, server_per_core ? Thousands(*server_per_core).c_str() : "-",
                server_per_core ? *server_per_core / ref : 0.0);
  } else {
    std::printf("  server CPU         not measured (give --server-pid)\n");
  }
  if (load.server_peak_rss) {
    std::printf("  server peak RSS    %s  (RSS at the end %s)\n",
                Bytes(*load.server_peak_rss).c_str(),
                load.server_rss ? Bytes(*load.server_rss).c_str() : "-");
  }
  if (bench_cores) std::printf("  load generator CPU %.2f cores\n", *bench_cores);
  if (load.load_average_before && load.load_average_after) {
    std::printf(
        "  machine load       1-minute load average %.1f before the load, %.1f after "
        "(%u cores)\n",
        *load.load_average_before, *load.load_average_after, cores);
  }
  std::optional<double> m_accepted, m_refused, m_fsyncs, m_wal_bytes, m_head_spans, m_head_mem;
  if (!metrics.empty()) {
    m_accepted = MetricSum(metrics, "ariadne_receiver_accepted_spans_total");
    m_refused = MetricSum(metrics, "ariadne_receiver_refused_requests_total");
    m_fsyncs = MetricSum(metrics, "ariadne_wal_fsyncs_total");
    m_wal_bytes = MetricSum(metrics, "ariadne_wal_bytes_total");
    m_head_spans = MetricSum(metrics, "ariadne_head_spans");
    m_head_mem = MetricSum(metrics, "ariadne_head_memory_bytes");
    std::printf(
        "  server /metrics    accepted %s spans, refused %s requests, log %s in %s fsyncs, "
        "head %s spans in %s\n",
        m_accepted ? Thousands(*m_accepted).c_str() : "-",
        m_refused ? Thousands(*m_refused).c_str() : "-",
        m_wal_bytes ? Bytes(*m_wal_bytes).c_str() : "-",
        m_fsyncs ? Thousands(*m_fsyncs).c_str() : "-",
        m_head_spans ? Thousands(*m_head_spans).c_str() : "-",
        m_head_mem ? Bytes(*m_head_mem).c_str() : "-");
  }
  if (server) {
    std::printf("  server stop        %s after SIGTERM in %.2fs%s\n",
                server->exit_description().c_str(), server->stop_seconds(),
                server->killed() ? " (did not stop within 10s: SIGKILL)" : "");
    if (log_problem_count > 0) {
      std::printf("  server log         %zu warnings or errors, first:\n", log_problem_count);
      for (const std::string& line : log_problems) std::printf("    %s\n", line.c_str());
    }
  }
  for (size_t i = 0; i < load.errors.size() && i < 4; ++i) {
    std::printf("  connection error   %s\n", load.errors[i].c_str());
  }
  std::printf(
      "\n  Ratios are against the fastest protobuf parse on one core in this run.\n"
      "  The load generator and the server share this machine's cores; its own CPU\n"
      "  use is above.\n");

  if (options.json) {
    std::string j = "{\"bench\":\"ingest\"";
    absl::StrAppend(&j, ",\"protocol\":", JsonString(options.protocol));
    absl::StrAppend(&j, ",\"connections\":", options.connections);
    absl::StrAppend(&j, ",\"seconds\":", JsonNumber(load.seconds, 2));
    absl::StrAppend(&j, ",\"wal_sync\":", server ? JsonString(options.wal_sync) : "null");
    absl::StrAppend(&j, ",\"cores\":", cores);
    absl::StrAppend(&j, ",\"payloads\":", options.payloads);
    absl::StrAppend(&j, ",\"spans_per_request\":", options.spans_per_request);
    absl::StrAppend(&j, ",\"request_bytes_avg\":",
                    JsonNumber(static_cast<double>(set.bytes) / options.payloads, 0));
    absl::StrAppend(&j, ",\"seed\":", options.seed);
    absl::StrAppend(&j, ",\"parse_new_spans_per_s\":", JsonNumber(parses[0].spans_per_second, 0));
    absl::StrAppend(&j,
                    ",\"parse_reused_spans_per_s\":", JsonNumber(parses[1].spans_per_second, 0));
    absl::StrAppend(&j, ",\"parse_arena_spans_per_s\":", JsonNumber(parses[2].spans_per_second, 0));
    absl::StrAppend(&j, ",\"reference_spans_per_s\":", JsonNumber(ref, 0));
    absl::StrAppend(&j, ",\"reference\":", JsonString(reference.name));
    absl::StrAppend(&j, ",\"decoder_spans_per_s\":", JsonNumber(decoder->spans_per_second, 0));
    absl::StrAppend(&j, ",\"decoder_vs_reference\":", JsonNumber(decoder_ratio, 3));
    absl::StrAppend(&j, ",\"server_spans_per_s\":", JsonNumber(server_rate, 0));
    absl::StrAppend(&j, ",\"server_vs_reference\":", JsonNumber(server_ratio, 3));
    absl::StrAppend(&j, ",\"acked_spans\":", load.acked_spans);
    absl::StrAppend(&j, ",\"rejected_spans\":", load.rejected_spans);
    absl::StrAppend(&j, ",\"requests\":", load.requests);
    absl::StrAppend(&j, ",\"refused_requests\":", load.refused_requests);
    absl::StrAppend(&j, ",\"failed_requests\":", load.failed_requests);
    absl::StrAppend(&j, ",\"latency_p50_ms\":", JsonNumber(load.p50_ms, 2));
    absl::StrAppend(&j, ",\"latency_p99_ms\":", JsonNumber(load.p99_ms, 2));
    absl::StrAppend(&j, ",\"server_cpu_cores\":", JsonNumber(server_cores, 3));
    absl::StrAppend(&j, ",\"server_spans_per_cpu_s\":", JsonNumber(server_per_core, 0));
    absl::StrAppend(&j, ",\"server_peak_rss_bytes\":", JsonNumber(load.server_peak_rss, 0));
    absl::StrAppend(&j, ",\"bench_cpu_cores\":", JsonNumber(bench_cores, 3));
    absl::StrAppend(&j, ",\"wal_fsyncs\":", JsonNumber(m_fsyncs, 0));
    absl::StrAppend(&j, ",\"load_average_after\":", JsonNumber(load.load_average_after, 2));
    absl::StrAppend(&j, ",\"interrupted\":", load.interrupted ? "true" : "false");
    j += "}";
    std::printf("%s\n", j.c_str());
  }
  std::fflush(stdout);

  if (load.acked_spans == 0) {
    std::fprintf(stderr, "ariadne bench ingest: the server acknowledged no span\n");
    return 1;
  }
  return 0;
}

}  // namespace ariadne::bench
