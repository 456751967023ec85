// Benchmark of the block store against ClickHouse with a Jaeger-style schema,
// on the same spans, in the same run. See bench/README.md; results in
// docs/benchmarks.md ("Block store vs ClickHouse").
//
//   build/bench/store_bench                         # 10M spans, online-boutique
//   build/bench/store_bench --spans 100M --block-spans 2M
//   build/bench/store_bench --spans 1M --no-clickhouse
//
// 1. Generate: the simulator (`--as-fast-as-possible`, fixed seed and epoch)
//    encodes OTLP requests into an in-process sink, which decodes each with
//    decode::DecodeOtlpProto into a SpanBatch (the server's decoder). Every
//    root span gets an `enduser.id` attribute (user-<n>, n uniform in
//    [0, 1M), fixed seed): the simulator has no high-cardinality attribute,
//    and a real application has one; both stores receive it.
// 2. Load, chunk by chunk (--block-spans spans a chunk):
//    (a) Ariadne: store::WriteBlock over the chunk's decoded batches (the
//        path the flusher takes when it cuts the head). Timed alone: Ariadne
//        "ingest" here is the block-writing rate, not decode + WAL + head.
//    (b) ClickHouse: the same spans as rows of jaeger_spans (timestamp,
//        traceID, model = the span's OTLP protobuf: an ExportTraceServiceRequest
//        holding that span with its resource and scope, as Jaeger's model.Span
//        carries its process) and jaeger_index (timestamp, traceID, service,
//        operation, durationUs, tags.key/tags.value: span + resource + event
//        attributes and span.kind / otel.status_code / error as Jaeger's OTLP
//        translation adds them, unique by key, sorted), in RowBinary over HTTP,
//        --insert-rows rows a request. Timed: the HTTP requests (the server's
//        work); the client's row building is reported apart.
// 3. Settle: OPTIMIZE TABLE ... FINAL on every ClickHouse table, then bytes on
//    disk (system.parts bytes_on_disk, and du of the data directory) against
//    the blocks directory.
// 4. Query, --queries of each kind, with parameters sampled from the spans:
//    trace by id (a random existing trace); search by service; by service +
//    operation + min duration; by service + a low-cardinality tag (an error
//    status code); by service + enduser.id (high cardinality). Searches ask
//    for 20 trace ids with a lookback covering all data, as Jaeger's
//    FindTraceIDs does. Ariadne's side runs in a child process (this binary
//    re-executed) that opens a BlockSet and an EmbeddedStore over an empty
//    Head, so its peak RSS (VmHWM) is the query side's alone. ClickHouse's
//    side issues the Jaeger plugin's queries over HTTP (trace by id: the
//    trace-id -> time range table, then spans PREWHERE traceID; search: the
//    plugin's progressive time windows over jaeger_index).
// Nothing here asserts anything about time; the aims are checked and printed.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "CLI/CLI.hpp"
#include "clickhouse/local_server.h"
#include "absl/strings/ascii.h"
#include "decode/decode.h"
#include "encode/encode.h"
#include "model/span_batch.h"
#include "model/value_format.h"
#include "sim/engine.h"
#include "sim/profile.h"
#include "sim/sink.h"
#include "sim/topology.h"
#include "store/block.h"
#include "store/block_set.h"
#include "store/embedded.h"
#include "store/head.h"
#include "store/query.h"

extern char** environ;

namespace ariadne::storebench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

// A fixed epoch so that every run produces the same spans.
constexpr int64_t kEpochUnixNano = 1'700'000'000'000'000'000;
constexpr std::string_view kUserIdKey = "enduser.id";
constexpr uint32_t kUsers = 1'000'000;

// ---------------------------------------------------------------- utilities

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string Si(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.0fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

std::string Bytes(double v) {
  char buf[32];
  if (v >= 1 << 30) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", v / (1 << 30));
  } else if (v >= 1 << 20) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", v / (1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f KiB", v / 1024);
  }
  return buf;
}

// "10M", "2.5m", "100k", "1G", "12345".
std::optional<int64_t> ParseCount(std::string s) {
  if (s.empty()) return std::nullopt;
  double mult = 1;
  switch (s.back()) {
    case 'k': case 'K': mult = 1e3; s.pop_back(); break;
    case 'm': case 'M': mult = 1e6; s.pop_back(); break;
    case 'g': case 'G': mult = 1e9; s.pop_back(); break;
    default: break;
  }
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != 0 || !(v > 0)) return std::nullopt;
  return static_cast<int64_t>(std::llround(v * mult));
}

// Sum of the files under `dir`: apparent sizes, and allocated blocks (du).
std::pair<uint64_t, uint64_t> DirBytes(const std::string& dir) {
  uint64_t apparent = 0, allocated = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st{};
    if (lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode)) apparent += static_cast<uint64_t>(st.st_size);
    allocated += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return {apparent, allocated};
}

// A "Vm...:" line of /proc/<pid>/status, in bytes (0 if absent).
uint64_t StatusBytes(const std::string& pid, std::string_view field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size(), field) == 0) {
      return std::strtoull(line.c_str() + field.size(), nullptr, 10) * 1024;
    }
  }
  return 0;
}

// utime + stime of a process, in seconds.
double ProcessCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream rest(s.substr(p + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14) utime = std::strtod(f.c_str(), nullptr);
    if (i == 15) stime = std::strtod(f.c_str(), nullptr);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A ClickHouse string literal.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}
template <typename T>
void PutFixed(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);  // little-endian host
}

// ------------------------------------------------------- ClickHouse (HTTP)

class ClickHouseHttp {
 public:
  explicit ClickHouseHttp(int port) : port_(port), socket_(io_) {}

  // POST `body` to /?query=<url_query> (or to / with the SQL as the body if
  // `url_query` is empty). The answer's body, or an error with its text.
  absl::StatusOr<std::string> Post(const std::string& url_query, std::string body) {
    const std::string target = url_query.empty() ? "/" : "/?query=" + UrlEncode(url_query);
    for (int attempt = 0;; ++attempt) {
      if (!connected_ || Now() - last_used_ > 2) Connect();
      http::request<http::string_body> req{http::verb::post, target, 11};
      req.set(http::field::host, "127.0.0.1");
      req.keep_alive(true);
      req.body() = attempt == 0 ? std::move(body) : body_copy_;
      if (attempt == 0 && url_query.empty()) body_copy_ = req.body();  // retry a SELECT once
      req.prepare_payload();
      beast::error_code ec;
      http::write(socket_, req, ec);
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::numeric_limits<uint64_t>::max());
      if (!ec) http::read(socket_, buffer_, parser, ec);
      last_used_ = Now();
      if (ec) {
        connected_ = false;
        if (attempt == 0 && url_query.empty()) continue;
        return absl::UnavailableError("clickhouse http: " + ec.message());
      }
      auto res = parser.release();
      if (!res.keep_alive()) connected_ = false;
      if (res.result() != http::status::ok) {
        return absl::InternalError("clickhouse: HTTP " + std::to_string(res.result_int()) + ": " +
                                   res.body().substr(0, 600));
      }
      return std::move(res.body());
    }
  }
  absl::StatusOr<std::string> Query(std::string sql) { return Post("", std::move(sql)); }

 private:
  void Connect() {
    beast::error_code ec;
    socket_.close(ec);
    socket_ = tcp::socket(io_);
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                  static_cast<unsigned short>(port_)),
                    ec);
    connected_ = !ec;
    buffer_.clear();
  }

  int port_;
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  double last_used_ = 0;
  std::string body_copy_;
};

// The server: clickhouse/local_server.h (shared with the ClickHouse backend's tests).
using ClickHouseServer = clickhouse::LocalClickHouse;

// The Jaeger ClickHouse plugin's schema (jaeger-clickhouse sqlscripts), as
// far as ClickHouse 18.16 allows: no column CODECs (zstd is set server-wide),
// no data-skipping indices (bloom_filter on tags.key, minmax on durationUs),
// DateTime (seconds) as in the plugin's DateTime variant.
const char* const kSchema[] = {
    "CREATE TABLE jaeger_spans (timestamp DateTime, traceID String, model String) "
    "ENGINE MergeTree() PARTITION BY toDate(timestamp) ORDER BY traceID "
    "SETTINGS index_granularity = 1024",
    "CREATE TABLE jaeger_index (timestamp DateTime, traceID String, "
    "service LowCardinality(String), operation LowCardinality(String), durationUs UInt64, "
    "tags Nested(key LowCardinality(String), value String)) "
    "ENGINE MergeTree() PARTITION BY toDate(timestamp) "
    "ORDER BY (service, -toUnixTimestamp(timestamp)) SETTINGS index_granularity = 1024",
    "CREATE MATERIALIZED VIEW jaeger_operations ENGINE SummingMergeTree "
    "PARTITION BY toYYYYMM(date) ORDER BY (date, service, operation) "
    "SETTINGS index_granularity = 32 AS SELECT toDate(timestamp) AS date, service, operation, "
    "count() AS count, if(has(tags.key, 'span.kind'), tags.value[indexOf(tags.key, "
    "'span.kind')], '') AS spankind FROM jaeger_index "
    "GROUP BY date, service, operation, tags.key, tags.value",
    "CREATE TABLE jaeger_trace_id_ts (traceID String, start DateTime, end DateTime) "
    "ENGINE MergeTree() PARTITION BY toDate(start) ORDER BY (traceID, start, end) "
    "SETTINGS index_granularity = 1024",
    "CREATE MATERIALIZED VIEW jaeger_trace_id_ts_mv TO jaeger_trace_id_ts AS "
    "SELECT traceID, min(timestamp) AS start, max(timestamp) AS end FROM jaeger_index "
    "WHERE service != '' GROUP BY traceID",
};
const char* const kTables[] = {"jaeger_spans", "jaeger_index", "`.inner.jaeger_operations`",
                               "jaeger_trace_id_ts"};

// -------------------------------------------------------------- queries

struct Query {
  std::string kind;  // trace, service, op, tag, user
  std::string service, operation, key, value;
  uint64_t min_duration_nano = 0;
  model::TraceId trace{};
};
const char* const kKinds[] = {"trace", "service", "op", "tag", "user"};
const char* const kKindNames[] = {"trace by id", "search: service", "search: service+op+min dur",
                                  "search: service+status tag", "search: service+enduser.id"};

// Keeps a uniform sample of at most `cap` items (fixed seed).
template <typename T>
class Reservoir {
 public:
  Reservoir(size_t cap, uint64_t seed) : cap_(cap), rng_(seed) {}
  // Whether the next item would be kept (and at which slot) — lets callers
  // skip building items that are dropped.
  std::optional<size_t> Offer() {
    ++seen_;
    if (items_.size() < cap_) return items_.size();
    const uint64_t j = std::uniform_int_distribution<uint64_t>(0, seen_ - 1)(rng_);
    if (j < cap_) return static_cast<size_t>(j);
    return std::nullopt;
  }
  void Put(size_t slot, T item) {
    if (slot == items_.size()) {
      items_.push_back(std::move(item));
    } else {
      items_[slot] = std::move(item);
    }
  }
  const std::vector<T>& items() const { return items_; }

 private:
  size_t cap_;
  std::mt19937_64 rng_;
  uint64_t seen_ = 0;
  std::vector<T> items_;
};

// --------------------------------------------------------------- options

struct Options {
  std::string spans = "10M";
  std::string topology = "online-boutique";
  double rps = 1000;
  int replicas = 0;
  double max_utilisation = 0.6;
  uint64_t seed = 1;
  int request_spans = 4096;
  std::string block_spans = "2M";
  std::string clickhouse = "/usr/bin/clickhouse";
  bool no_clickhouse = false;
  std::string data_dir;
  bool keep = false;
  int queries = 200;
  int insert_rows = 100000;
  bool no_user_id = false;
  std::string json_out;
  // Hidden: the query phase, run in a child.
  std::string query_in, query_out;
};

// ------------------------------------------------------------ the loader

struct LoadStats {
  int64_t spans = 0, traces = 0, requests = 0, otlp_bytes = 0;
  double sim_decode_wall = 0;  // generation + decode + sampling (everything but the loads)
  double ariadne_wall = 0, ariadne_cpu = 0;
  int blocks = 0;
  double ch_insert_wall = 0, ch_rows_wall = 0, ch_server_cpu = 0;
  int64_t ch_insert_bytes = 0, ch_requests = 0;
  uint64_t min_start = ~0ULL, max_start = 0;
};

struct Samples {
  Reservoir<model::TraceId> traces;
  Reservoir<std::string> services;
  Reservoir<Query> ops;
  Reservoir<Query> tags;      // from failed spans
  Reservoir<Query> any_tags;  // from any span
  Reservoir<Query> users;
  explicit Samples(size_t n, uint64_t seed)
      : traces(n, seed + 1), services(n, seed + 2), ops(n, seed + 3), tags(n, seed + 4),
        any_tags(n, seed + 6), users(n, seed + 5) {}
};

std::string_view KindName(model::SpanKind k) {
  switch (k) {
    case model::SpanKind::kInternal: return "internal";
    case model::SpanKind::kServer: return "server";
    case model::SpanKind::kClient: return "client";
    case model::SpanKind::kProducer: return "producer";
    case model::SpanKind::kConsumer: return "consumer";
    default: return "";
  }
}

// A tag value as Jaeger's AsString gives it (strings as-is, ints decimal, ...).
void AppendValue(const model::SpanBatch& b, const model::AnyValue& v, std::string* out) {
  switch (v.type) {
    case model::ValueType::kString:
      out->append(v.bytes);
      break;
    case model::ValueType::kInt: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.int_value);
      out->append(buf, r.ptr);
      break;
    }
    case model::ValueType::kBool:
      out->append(v.bool_value ? "true" : "false");
      break;
    default:
      out->append(model::ValueToString(b, v));
  }
}

class Loader final : public sim::SpanSink {
 public:
  Loader(const Options& o, int64_t target, int64_t block_spans, std::string blocks_dir,
         ClickHouseHttp* ch, pid_t ch_pid, std::atomic<bool>* stop)
      : o_(o), target_(target), block_spans_(block_spans), blocks_dir_(std::move(blocks_dir)),
        ch_(ch), ch_pid_(ch_pid), stop_(stop), samples_(static_cast<size_t>(o.queries), o.seed),
        user_rng_(o.seed * 7919 + 17) {}

  void Send(std::string request, int64_t spans) override {
    if (failed_ || stats_.spans >= target_) return;
    const double t0 = Now();
    ++stats_.requests;
    stats_.otlp_bytes += static_cast<int64_t>(request.size());
    decode::DecodeStats ds;
    auto batch = decode::DecodeOtlpProto(std::move(request), decode::Limits{}, &ds);
    if (!batch.ok() || ds.rejected_spans != 0) {
      std::fprintf(stderr, "store_bench: decode failed: %s %s\n",
                   batch.ok() ? "" : std::string(batch.status().message()).c_str(),
                   ds.error_message.c_str());
      Fail();
      return;
    }
    (void)spans;
    if (!o_.no_user_id) AddUserIds(&*batch);
    auto shared = std::make_shared<const model::SpanBatch>(std::move(*batch));
    Sample(*shared);
    pending_spans_ += static_cast<int64_t>(shared->size());
    stats_.spans += static_cast<int64_t>(shared->size());
    pending_.push_back(std::move(shared));
    stats_.sim_decode_wall += Now() - t0;
    if (stats_.spans >= target_) stop_->store(true);
    if (pending_spans_ >= block_spans_ || stats_.spans >= target_) Flush();
  }
  absl::Status Close(std::chrono::milliseconds) override {
    if (!pending_.empty() && !failed_) Flush();
    return failed_ ? absl::InternalError("load failed") : absl::OkStatus();
  }
  sim::SinkStats stats() const override {
    sim::SinkStats s;
    s.requests_sent = stats_.requests;
    s.spans_sent = stats_.spans;
    s.bytes_sent = stats_.otlp_bytes;
    return s;
  }

  bool failed() const { return failed_; }
  const LoadStats& load() const { return stats_; }
  Samples& samples() { return samples_; }
  void set_sim_start(double t) { sim_start_ = t; }

 private:
  void Fail() {
    failed_ = true;
    stop_->store(true);
  }

  // Gives every root span an enduser.id (the batch is not yet shared).
  void AddUserIds(model::SpanBatch* b) {
    std::uniform_int_distribution<uint32_t> dist(0, kUsers - 1);
    for (uint32_t row = 0; row < b->size(); ++row) {
      if (!model::IsZero(b->parent_span_id[row])) continue;
      const model::Range old = b->span_attributes[row];
      model::Range r{static_cast<uint32_t>(b->attributes.size()), old.count + 1};
      b->attributes.reserve(b->attributes.size() + old.count + 1);
      for (uint32_t i = 0; i < old.count; ++i) b->attributes.push_back(b->attributes[old.first + i]);
      const std::string id = "user-" + std::to_string(dist(user_rng_));
      b->attributes.push_back({kUserIdKey, model::AnyValue::String(b->Copy(id))});
      b->span_attributes[row] = r;
    }
  }

  void Sample(const model::SpanBatch& b) {
    for (uint32_t row = 0; row < b.size(); ++row) {
      const uint64_t start = b.start_unix_nano[row];
      stats_.min_start = std::min(stats_.min_start, start);
      stats_.max_start = std::max(stats_.max_start, start);
      const bool root = model::IsZero(b.parent_span_id[row]);
      if (root) {
        ++stats_.traces;
        if (auto s = samples_.traces.Offer()) samples_.traces.Put(*s, b.trace_id[row]);
      }
      if (auto s = samples_.services.Offer()) {
        samples_.services.Put(*s, std::string(b.service(row)));
      }
      if (auto s = samples_.ops.Offer()) {
        Query q;
        q.kind = "op";
        q.service = b.service(row);
        q.operation = b.name[row];
        q.min_duration_nano = b.duration_nano(row);
        samples_.ops.Put(*s, std::move(q));
      }
      // Low cardinality: the status code of an HTTP / gRPC span, from failed
      // spans if there are any (an operator looks for errors), else any.
      {
        const bool error = b.status_code[row] == model::StatusCode::kError;
        const model::Range ar = b.span_attributes[row];
        for (uint32_t i = ar.first; i < ar.first + ar.count; ++i) {
          const model::KeyValue& kv = b.attributes[i];
          if (kv.key != "http.response.status_code" && kv.key != "rpc.grpc.status_code") continue;
          auto& r = error ? samples_.tags : samples_.any_tags;
          if (auto s = r.Offer()) {
            Query q;
            q.kind = "tag";
            q.service = b.service(row);
            q.key = kv.key;
            q.value = model::ValueToString(b, kv.value);
            r.Put(*s, std::move(q));
          }
          break;
        }
      }
      if (root && !o_.no_user_id) {
        const model::Range ar = b.span_attributes[row];
        const model::KeyValue& kv = b.attributes[ar.first + ar.count - 1];
        if (kv.key == kUserIdKey) {
          if (auto s = samples_.users.Offer()) {
            Query q;
            q.kind = "user";
            q.service = b.service(row);
            q.key = kv.key;
            q.value = kv.value.bytes;
            samples_.users.Put(*s, std::move(q));
          }
        }
      }
    }
  }

  void Flush() {
    std::vector<model::SpanRef> refs;
    refs.reserve(static_cast<size_t>(pending_spans_));
    for (const auto& b : pending_) {
      for (uint32_t row = 0; row < b->size(); ++row) refs.push_back({b, row});
    }
    // (a) Ariadne: one block, as the flusher writes a head cut.
    {
      store::BlockMeta meta;
      const double w0 = Now(), c0 = ThreadCpu();
      auto written = store::WriteBlock(blocks_dir_, refs, meta);
      stats_.ariadne_wall += Now() - w0;
      stats_.ariadne_cpu += ThreadCpu() - c0;
      if (!written.ok()) {
        std::fprintf(stderr, "store_bench: WriteBlock: %s\n",
                     std::string(written.status().message()).c_str());
        Fail();
        return;
      }
      ++stats_.blocks;
      ariadne_bytes_ += written->bytes;
    }
    // (b) ClickHouse: the same spans, --insert-rows a request.
    if (ch_ != nullptr) {
      for (size_t i = 0; i < refs.size() && !failed_; i += static_cast<size_t>(o_.insert_rows)) {
        const size_t n = std::min(refs.size() - i, static_cast<size_t>(o_.insert_rows));
        InsertClickHouse(std::span<const model::SpanRef>(refs.data() + i, n));
      }
    }
    const double wall = Now() - sim_start_;
    std::fprintf(stderr,
                 "  %s spans (%d blocks): ariadne blocks %s spans/s (%s), clickhouse insert %s "
                 "spans/s; %.0f s elapsed\n",
                 Si(static_cast<double>(stats_.spans)).c_str(), stats_.blocks,
                 Si(static_cast<double>(stats_.spans) / stats_.ariadne_wall).c_str(),
                 Bytes(static_cast<double>(ariadne_bytes_)).c_str(),
                 ch_ != nullptr && stats_.ch_insert_wall > 0
                     ? Si(static_cast<double>(stats_.spans) / stats_.ch_insert_wall).c_str()
                     : "-",
                 wall);
    pending_.clear();
    pending_spans_ = 0;
  }

  void InsertClickHouse(std::span<const model::SpanRef> refs) {
    const double r0 = Now();
    std::string spans_rows, index_rows, model_buf, values;
    struct Tag {
      std::string_view key;
      uint32_t off, len;
    };
    std::vector<Tag> tags;
    for (const model::SpanRef& ref : refs) {
      const model::SpanBatch& b = *ref.batch;
      const uint32_t row = ref.row;
      const uint32_t ts = static_cast<uint32_t>(b.start_unix_nano[row] / 1'000'000'000ULL);
      const std::string tid = model::ToHex(b.trace_id[row]);
      model_buf.clear();
      encode::EncodeOtlpProto(std::span<const model::SpanRef>(&ref, 1), &model_buf);
      PutFixed<uint32_t>(&spans_rows, ts);
      PutString(&spans_rows, tid);
      PutString(&spans_rows, model_buf);

      // Tags as Jaeger's writer indexes them: span tags, process (resource)
      // tags and log (event) fields, unique by key (first wins), sorted.
      tags.clear();
      values.clear();
      auto add = [&](std::string_view key, const model::AnyValue& v) {
        const uint32_t off = static_cast<uint32_t>(values.size());
        AppendValue(b, v, &values);
        tags.push_back({key, off, static_cast<uint32_t>(values.size()) - off});
      };
      auto add_str = [&](std::string_view key, std::string_view v) {
        const uint32_t off = static_cast<uint32_t>(values.size());
        values.append(v);
        tags.push_back({key, off, static_cast<uint32_t>(v.size())});
      };
      const model::Range sa = b.span_attributes[row];
      for (uint32_t i = sa.first; i < sa.first + sa.count; ++i) add(b.attributes[i].key, b.attributes[i].value);
      if (std::string_view k = KindName(b.kind[row]); !k.empty()) add_str("span.kind", k);
      if (b.status_code[row] == model::StatusCode::kError) {
        add_str("otel.status_code", "ERROR");
        add_str("error", "true");
        if (!b.status_message[row].empty()) add_str("otel.status_description", b.status_message[row]);
      } else if (b.status_code[row] == model::StatusCode::kOk) {
        add_str("otel.status_code", "OK");
      }
      const model::Scope& sc = b.scopes[b.scope[row]];
      if (!sc.name.empty()) add_str("otel.scope.name", sc.name);
      if (!sc.version.empty()) add_str("otel.scope.version", sc.version);
      const model::Range ra = b.resources[sc.resource].attributes;
      for (uint32_t i = ra.first; i < ra.first + ra.count; ++i) add(b.attributes[i].key, b.attributes[i].value);
      const model::Range er = b.span_events[row];
      for (uint32_t e = er.first; e < er.first + er.count; ++e) {
        const model::Range ea = b.events[e].attributes;
        for (uint32_t i = ea.first; i < ea.first + ea.count; ++i) add(b.attributes[i].key, b.attributes[i].value);
      }
      std::stable_sort(tags.begin(), tags.end(),
                       [](const Tag& x, const Tag& y) { return x.key < y.key; });
      tags.erase(std::unique(tags.begin(), tags.end(),
                             [](const Tag& x, const Tag& y) { return x.key == y.key; }),
                 tags.end());

      PutFixed<uint32_t>(&index_rows, ts);
      PutString(&index_rows, tid);
      PutString(&index_rows, b.service(row));
      PutString(&index_rows, b.name[row]);
      PutFixed<uint64_t>(&index_rows, b.duration_nano(row) / 1000);
      PutVarint(&index_rows, tags.size());
      for (const Tag& t : tags) PutString(&index_rows, t.key);
      PutVarint(&index_rows, tags.size());
      for (const Tag& t : tags) PutString(&index_rows, std::string_view(values).substr(t.off, t.len));
    }
    stats_.ch_rows_wall += Now() - r0;
    stats_.ch_insert_bytes += static_cast<int64_t>(spans_rows.size() + index_rows.size());

    const double c0 = ProcessCpu(ch_pid_);
    const double w0 = Now();
    auto a = ch_->Post("INSERT INTO jaeger_spans FORMAT RowBinary", std::move(spans_rows));
    auto b = a.ok() ? ch_->Post("INSERT INTO jaeger_index FORMAT RowBinary", std::move(index_rows))
                    : a;
    stats_.ch_insert_wall += Now() - w0;
    stats_.ch_server_cpu += ProcessCpu(ch_pid_) - c0;
    stats_.ch_requests += 2;
    if (!b.ok()) {
      std::fprintf(stderr, "store_bench: clickhouse insert: %s\n",
                   std::string(b.status().message()).c_str());
      Fail();
    }
  }

  const Options& o_;
  const int64_t target_, block_spans_;
  const std::string blocks_dir_;
  ClickHouseHttp* const ch_;
  const pid_t ch_pid_;
  std::atomic<bool>* const stop_;
  Samples samples_;
  std::mt19937_64 user_rng_;
  LoadStats stats_;
  std::vector<std::shared_ptr<const model::SpanBatch>> pending_;
  int64_t pending_spans_ = 0;
  uint64_t ariadne_bytes_ = 0;
  bool failed_ = false;
  double sim_start_ = 0;
};

// ------------------------------------------------- the query phase (child)

// The query file: "blocks\t<dir>", "range\t<min>\t<max>", then per query
// "q\t<kind>\t<service>\t<operation>\t<min dur>\t<key>\t<value>\t<trace hex>".
void WriteQueries(const std::string& path, const std::string& blocks, uint64_t lo, uint64_t hi,
                  const std::vector<Query>& qs) {
  std::ofstream f(path);
  f << "blocks\t" << blocks << "\nrange\t" << lo << "\t" << hi << "\n";
  for (const Query& q : qs) {
    f << "q\t" << q.kind << "\t" << q.service << "\t" << q.operation << "\t" << q.min_duration_nano
      << "\t" << q.key << "\t" << q.value << "\t" << model::ToHex(q.trace) << "\n";
  }
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  size_t p = 0;
  while (true) {
    const size_t t = line.find('\t', p);
    out.push_back(line.substr(p, t == std::string::npos ? std::string::npos : t - p));
    if (t == std::string::npos) break;
    p = t + 1;
  }
  return out;
}

int RunQueryPhase(const Options& o) {
  std::ifstream in(o.query_in);
  std::string line, blocks_dir;
  uint64_t lo = 0, hi = 0;
  std::vector<Query> qs;
  while (std::getline(in, line)) {
    auto f = SplitTabs(line);
    if (f[0] == "blocks" && f.size() == 2) {
      blocks_dir = f[1];
    } else if (f[0] == "range" && f.size() == 3) {
      lo = std::stoull(f[1]);
      hi = std::stoull(f[2]);
    } else if (f[0] == "q" && f.size() == 8) {
      Query q;
      q.kind = f[1];
      q.service = f[2];
      q.operation = f[3];
      q.min_duration_nano = std::stoull(f[4]);
      q.key = f[5];
      q.value = f[6];
      model::ParseHexId(f[7], q.trace);
      qs.push_back(std::move(q));
    }
  }
  std::ofstream out(o.query_out);
  const uint64_t rss0 = StatusBytes("self", "VmRSS:");
  const double t0 = Now();
  auto set = store::BlockSet::Open(blocks_dir);
  if (!set.ok()) {
    std::fprintf(stderr, "store_bench: BlockSet::Open: %s\n",
                 std::string(set.status().message()).c_str());
    return 1;
  }
  store::Head head;
  store::EmbeddedStore st(&head, set->get());
  const store::BlockSetStats bs = (*set)->stats();
  out << "open\t" << (Now() - t0) << "\t" << bs.blocks << "\t" << bs.spans << "\t"
      << bs.memory_bytes << "\t" << rss0 << "\t" << StatusBytes("self", "VmRSS:") << "\n";
  for (size_t i = 0; i < qs.size(); ++i) {
    const Query& q = qs[i];
    size_t n = 0;
    const double q0 = Now();
    if (q.kind == "trace") {
      n = st.GetTrace(q.trace)->size();  // the embedded store always answers
    } else {
      store::TraceQuery tq;
      tq.service = q.service;
      tq.operation = q.operation;
      tq.min_duration_nano = q.min_duration_nano;
      if (!q.key.empty()) tq.tags.push_back({q.key, q.value});
      tq.start_min_nano = lo;
      tq.start_max_nano = hi;
      tq.limit = 20;
      n = st.FindTraces(tq)->size();
    }
    out << "r\t" << i << "\t" << (Now() - q0) << "\t" << n << "\n";
  }
  const store::BlockSetStats bs2 = (*set)->stats();
  out << "end\t" << StatusBytes("self", "VmRSS:") << "\t" << StatusBytes("self", "VmHWM:") << "\t"
      << bs2.memory_bytes << "\t" << bs2.damaged << "\n";
  return 0;
}

struct QueryResults {
  std::vector<double> latency;  // per query, seconds
  std::vector<size_t> found;    // spans (trace) or trace ids (search)
};

struct AriadneQueryPhase {
  bool ok = false;
  double open_s = 0;
  uint64_t blocks = 0, spans = 0, memory = 0, rss_start = 0, rss_open = 0, rss_end = 0, hwm = 0,
           damaged = 0;
  QueryResults r;
};

AriadneQueryPhase RunAriadneChild(const std::string& dir, const std::string& blocks, uint64_t lo,
                                  uint64_t hi, const std::vector<Query>& qs) {
  AriadneQueryPhase res;
  const std::string in = dir + "/queries.tsv", outp = dir + "/ariadne_results.tsv";
  WriteQueries(in, blocks, lo, hi, qs);
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return res;
  self[n] = 0;
  std::vector<std::string> args{self, "--query-phase-in", in, "--query-phase-out", outp};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, self, nullptr, nullptr, argv.data(), environ) != 0) return res;
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return res;
  std::ifstream f(outp);
  std::string line;
  res.r.latency.resize(qs.size());
  res.r.found.resize(qs.size());
  while (std::getline(f, line)) {
    auto v = SplitTabs(line);
    if (v[0] == "open" && v.size() == 7) {
      res.open_s = std::stod(v[1]);
      res.blocks = std::stoull(v[2]);
      res.spans = std::stoull(v[3]);
      res.memory = std::stoull(v[4]);
      res.rss_start = std::stoull(v[5]);
      res.rss_open = std::stoull(v[6]);
    } else if (v[0] == "r" && v.size() == 4) {
      const size_t i = std::stoull(v[1]);
      if (i < qs.size()) {
        res.r.latency[i] = std::stod(v[2]);
        res.r.found[i] = std::stoull(v[3]);
      }
    } else if (v[0] == "end" && v.size() == 5) {
      res.rss_end = std::stoull(v[1]);
      res.hwm = std::stoull(v[2]);
      res.memory = std::stoull(v[3]);
      res.damaged = std::stoull(v[4]);
      res.ok = true;
    }
  }
  return res;
}

// ----------------------------------------------- ClickHouse query phase

// Rows of a RowBinary answer whose rows are one String each.
size_t CountRowBinaryStrings(std::string_view s) {
  size_t rows = 0, p = 0;
  while (p < s.size()) {
    uint64_t len = 0;
    int shift = 0;
    while (p < s.size()) {
      const uint8_t c = static_cast<uint8_t>(s[p++]);
      len |= static_cast<uint64_t>(c & 0x7f) << shift;
      shift += 7;
      if ((c & 0x80) == 0) break;
    }
    p += len;
    ++rows;
  }
  return rows;
}

// Jaeger's FindTraceIDs: one query if the range is under 1h + 1 min, else up
// to four windows from the end (1/16 of the range, at least 1 h, doubling; the
// last takes the rest), each excluding the ids already found.
absl::StatusOr<size_t> ClickHouseSearch(ClickHouseHttp* ch, const Query& q, int64_t start_s,
                                        int64_t end_s) {
  constexpr int64_t kHour = 3600;
  std::vector<std::string> found;
  auto in_range = [&](int64_t a, int64_t b) -> absl::Status {
    if (b <= a) return absl::OkStatus();
    std::string sql = "SELECT DISTINCT traceID FROM jaeger_index WHERE service = " + Quote(q.service);
    if (!q.operation.empty()) sql += " AND operation = " + Quote(q.operation);
    sql += " AND timestamp >= toDateTime(" + std::to_string(a) + ") AND timestamp <= toDateTime(" +
           std::to_string(b) + ")";
    if (q.min_duration_nano > 0) sql += " AND durationUs >= " + std::to_string(q.min_duration_nano / 1000);
    if (!q.key.empty()) {
      sql += " AND arrayExists((k, v) -> k = " + Quote(q.key) + " AND v = " + Quote(q.value) +
             ", tags.key, tags.value)";
    }
    if (!found.empty()) {
      sql += " AND traceID NOT IN (";
      for (size_t i = 0; i < found.size(); ++i) sql += (i ? "," : "") + Quote(found[i]);
      sql += ")";
    }
    sql += " ORDER BY service, -toUnixTimestamp(timestamp) LIMIT " +
           std::to_string(20 - found.size()) + " FORMAT TabSeparated";
    auto r = ch->Query(std::move(sql));
    if (!r.ok()) return r.status();
    std::istringstream ls(*r);
    std::string id;
    while (std::getline(ls, id)) {
      if (!id.empty()) found.push_back(id);
    }
    return absl::OkStatus();
  };
  const int64_t full = end_s - start_s;
  if (full < kHour + 60) {
    if (auto s = in_range(start_s, end_s); !s.ok()) return s;
    return found.size();
  }
  int64_t span = std::max<int64_t>(full / 16, kHour);
  int64_t end = end_s;
  for (int step = 0; step < 4 && found.size() < 20; ++step) {
    if (step == 3) span = full;
    const int64_t start = std::max(end - span, start_s);
    if (start > end) break;
    if (auto s = in_range(start, end); !s.ok()) return s;
    end = start;
    span *= 2;
  }
  return found.size();
}

// The plugin's trace by id: the time range from the trace-id table, then the
// spans by traceID within it.
absl::StatusOr<size_t> ClickHouseTrace(ClickHouseHttp* ch, const model::TraceId& id) {
  const std::string hex = Quote(model::ToHex(id));
  auto r = ch->Query("SELECT toUnixTimestamp(min(start)), toUnixTimestamp(max(end)) FROM "
                     "jaeger_trace_id_ts WHERE traceID = " + hex + " FORMAT TabSeparated");
  if (!r.ok()) return r.status();
  long long a = 0, b = 0;
  if (std::sscanf(r->c_str(), "%lld\t%lld", &a, &b) != 2 || b == 0) return 0;
  auto m = ch->Query("SELECT model FROM jaeger_spans PREWHERE traceID = " + hex +
                     " WHERE timestamp >= toDateTime(" + std::to_string(a) +
                     ") AND timestamp <= toDateTime(" + std::to_string(b) + ") FORMAT RowBinary");
  if (!m.ok()) return m.status();
  return CountRowBinaryStrings(*m);
}

// ------------------------------------------------------------------ main

std::string ScaleReplicas(sim::Topology* t, double rps, int fixed, double max_u) {
  if (fixed > 0) {
    for (sim::Service& s : t->services) s.replicas = fixed;
    return std::to_string(fixed) + " each";
  }
  const std::vector<double> busy = sim::ExpectedBusyWorkers(*t, rps);
  int total = 0;
  for (size_t i = 0; i < t->services.size(); ++i) {
    sim::Service& s = t->services[i];
    const int need = static_cast<int>(std::ceil(busy[i] / (s.workers * max_u)));
    s.replicas = std::max({s.replicas, need, 1});
    total += s.replicas;
  }
  return std::to_string(total);
}

struct Side {
  double p50 = 0, p99 = 0;
  size_t found = 0, errors = 0;
};
Side Summarise(const QueryResults& r, const std::vector<size_t>& idx) {
  std::vector<double> lat;
  Side s;
  for (size_t i : idx) {
    lat.push_back(r.latency[i]);
    s.found += r.found[i];
  }
  s.p50 = Percentile(lat, 0.50);
  s.p99 = Percentile(lat, 0.99);
  return s;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"Block store vs ClickHouse (Jaeger schema) on the same simulated spans"};
  app.add_option("--spans", o.spans, "Spans to store (k/M/G suffixes)")->capture_default_str();
  app.add_option("--topology", o.topology, "A built-in topology or a YAML file")->capture_default_str();
  app.add_option("--rps", o.rps, "Simulated requests per second")->capture_default_str();
  app.add_option("--replicas", o.replicas, "Replicas of every service; 0 = as sim_bench")
      ->capture_default_str();
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--request-spans", o.request_spans, "Spans per OTLP request")->capture_default_str();
  app.add_option("--block-spans", o.block_spans, "Spans per Ariadne block written (one chunk)")
      ->capture_default_str();
  app.add_option("--clickhouse", o.clickhouse,
                 "ClickHouse binary (`clickhouse` multi-tool or `clickhouse-server`); if the "
                 "default is absent, /usr/sbin/clickhouse-server (Debian)")
      ->capture_default_str();
  app.add_flag("--no-clickhouse", o.no_clickhouse, "Ariadne only");
  app.add_option("--data-dir", o.data_dir, "Where both stores write (default: a new temporary dir)");
  app.add_flag("--keep", o.keep, "Keep the data (and ClickHouse's logs) at the end");
  app.add_option("--queries", o.queries, "Queries of each kind")->capture_default_str();
  app.add_option("--insert-rows", o.insert_rows, "Rows per ClickHouse INSERT")->capture_default_str();
  app.add_flag("--no-user-id", o.no_user_id, "Do not add enduser.id to root spans");
  app.add_option("--json-out", o.json_out, "Also write the JSON line to this file");
  app.add_option("--query-phase-in", o.query_in)->group("");
  app.add_option("--query-phase-out", o.query_out)->group("");
  CLI11_PARSE(app, argc, argv);
  if (!o.query_in.empty()) return RunQueryPhase(o);

  const auto target = ParseCount(o.spans);
  const auto block_spans = ParseCount(o.block_spans);
  if (!target || !block_spans || o.queries <= 0 || o.insert_rows <= 0 || !(o.rps > 0)) {
    std::fprintf(stderr, "store_bench: invalid --spans, --block-spans, --queries, --insert-rows or --rps\n");
    return 2;
  }
  bool use_ch = !o.no_clickhouse;
  std::string ch_binary = o.clickhouse;
  if (use_ch && !fs::exists(ch_binary)) {
    if (o.clickhouse == "/usr/bin/clickhouse" && fs::exists("/usr/sbin/clickhouse-server")) {
      ch_binary = "/usr/sbin/clickhouse-server";
    } else {
      std::fprintf(stderr, "store_bench: %s not found (--no-clickhouse to run without)\n",
                   ch_binary.c_str());
      return 2;
    }
  }

  // Directories.
  bool created_dir = false;
  std::string dir = o.data_dir;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/store_bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
    created_dir = true;
  }
  const std::string blocks_dir = dir + "/ariadne/blocks";
  const std::string ch_dir = dir + "/clickhouse";
  fs::create_directories(blocks_dir);
  auto cleanup = [&] {
    if (o.keep) {
      std::fprintf(stderr, "store_bench: data kept in %s\n", dir.c_str());
      return;
    }
    std::error_code ec;
    if (created_dir) {
      fs::remove_all(dir, ec);
    } else {
      fs::remove_all(dir + "/ariadne", ec);
      fs::remove_all(ch_dir, ec);
      fs::remove(dir + "/queries.tsv", ec);
      fs::remove(dir + "/ariadne_results.tsv", ec);
    }
  };

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::fprintf(stderr, "store_bench: %s spans of %s at %.0f rps, seed %llu, %s spans a block; "
               "data in %s; %ld cores, load %.2f\n",
               Si(static_cast<double>(*target)).c_str(), o.topology.c_str(), o.rps,
               static_cast<unsigned long long>(o.seed), Si(static_cast<double>(*block_spans)).c_str(),
               dir.c_str(), sysconf(_SC_NPROCESSORS_ONLN), load[0]);

  // ClickHouse.
  ClickHouseServer server;
  std::unique_ptr<ClickHouseHttp> ch;
  std::string ch_version = "-";
  if (use_ch) {
    if (auto s = server.Start(ch_binary, ch_dir); !s.ok()) {
      std::fprintf(stderr, "store_bench: %s\n", std::string(s.message()).c_str());
      cleanup();
      return 1;
    }
    ch = std::make_unique<ClickHouseHttp>(server.http_port());
    auto v = ch->Query("SELECT version()");
    ch_version = v.ok() ? std::string(absl::StripTrailingAsciiWhitespace(*v)) : "?";
    for (const char* sql : kSchema) {
      if (auto r = ch->Query(sql); !r.ok()) {
        std::fprintf(stderr, "store_bench: schema: %s\n", std::string(r.status().message()).c_str());
        server.Stop();
        cleanup();
        return 1;
      }
    }
    std::fprintf(stderr, "store_bench: %s %s (pid %d) on 127.0.0.1:%d\n", ch_binary.c_str(),
                 ch_version.c_str(), server.pid(), server.http_port());
  }

  // Generate and load.
  auto topology = sim::LoadTopology(o.topology);
  if (!topology.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", std::string(topology.status().message()).c_str());
    cleanup();
    return 2;
  }
  const std::string replicas = ScaleReplicas(&*topology, o.rps, o.replicas, o.max_utilisation);
  sim::SimOptions so;
  so.seed = o.seed;
  so.duration = 3650LL * 24 * 3600 * sim::kSecond;  // stopped by the span count
  so.profile = sim::RateProfile::Constant(o.rps);
  so.speed = 0;
  so.epoch_unix_nano = kEpochUnixNano;
  so.batch_spans = o.request_spans;

  LoadStats ls;
  std::vector<Query> queries;
  std::string tag_source;
  uint64_t ariadne_apparent = 0, ariadne_du = 0;
  const uint64_t gen_hwm_before = StatusBytes("self", "VmHWM:");
  double load_wall = 0;
  {
    std::atomic<bool> stop{false};
    Loader loader(o, *target, *block_spans, blocks_dir, ch.get(), server.pid(), &stop);
    const double t0 = Now();
    loader.set_sim_start(t0);
    {
      sim::Engine engine(*topology, so, &loader);
      engine.Run(&stop, nullptr);
    }
    (void)loader.Close(std::chrono::milliseconds(0));
    load_wall = Now() - t0;
    if (loader.failed()) {
      server.Stop();
      cleanup();
      return 1;
    }
    ls = loader.load();
    // The queries, from the samples. Each kind gets --queries of them.
    Samples& s = loader.samples();
    const size_t nq = static_cast<size_t>(o.queries);
    auto take = [&](const auto& items, auto make) {
      for (size_t i = 0; i < nq && !items.empty(); ++i) queries.push_back(make(items[i % items.size()]));
    };
    take(s.traces.items(), [](const model::TraceId& id) {
      Query q;
      q.kind = "trace";
      q.trace = id;
      return q;
    });
    take(s.services.items(), [](const std::string& svc) {
      Query q;
      q.kind = "service";
      q.service = svc;
      return q;
    });
    take(s.ops.items(), [](const Query& q) { return q; });
    tag_source = !s.tags.items().empty() ? "failed spans" : "any span (no failed span with one)";
    take(!s.tags.items().empty() ? s.tags.items() : s.any_tags.items(), [](const Query& q) { return q; });
    take(s.users.items(), [](const Query& q) { return q; });
  }
  const uint64_t gen_hwm = StatusBytes("self", "VmHWM:");
  std::tie(ariadne_apparent, ariadne_du) = DirBytes(blocks_dir);
  std::fprintf(stderr, "store_bench: loaded %lld spans (%lld traces) in %.0f s; ariadne %s in %d blocks\n",
               static_cast<long long>(ls.spans), static_cast<long long>(ls.traces), load_wall,
               Bytes(static_cast<double>(ariadne_apparent)).c_str(), ls.blocks);

  // Settle ClickHouse.
  double optimize_wall = 0, optimize_cpu = 0;
  struct Part {
    std::string table;
    uint64_t rows = 0, bytes = 0, compressed = 0, uncompressed = 0;
  };
  std::vector<Part> parts;
  uint64_t ch_bytes_main = 0, ch_bytes_all = 0, ch_apparent = 0, ch_du = 0;
  if (use_ch) {
    const double c0 = ProcessCpu(server.pid()), w0 = Now();
    for (const char* t : kTables) {
      std::fprintf(stderr, "store_bench: OPTIMIZE TABLE %s FINAL\n", t);
      if (auto r = ch->Query(std::string("OPTIMIZE TABLE ") + t + " FINAL"); !r.ok()) {
        std::fprintf(stderr, "store_bench: optimize %s: %s\n", t, std::string(r.status().message()).c_str());
      }
    }
    optimize_wall = Now() - w0;
    optimize_cpu = ProcessCpu(server.pid()) - c0;
    auto r = ch->Query(
        "SELECT table, sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes), "
        "sum(data_uncompressed_bytes) FROM system.parts WHERE active AND database = 'default' "
        "GROUP BY table ORDER BY table FORMAT TabSeparated");
    if (r.ok()) {
      std::istringstream in(*r);
      std::string line;
      while (std::getline(in, line)) {
        auto f = SplitTabs(line);
        if (f.size() != 5) continue;
        Part p{f[0], std::stoull(f[1]), std::stoull(f[2]), std::stoull(f[3]), std::stoull(f[4])};
        ch_bytes_all += p.bytes;
        if (p.table == "jaeger_spans" || p.table == "jaeger_index") ch_bytes_main += p.bytes;
        parts.push_back(p);
      }
    } else {
      std::fprintf(stderr, "store_bench: system.parts: %s\n", std::string(r.status().message()).c_str());
    }
    std::tie(ch_apparent, ch_du) = DirBytes(ch_dir + "/data");
  }

  // Queries: Ariadne in a child process, then ClickHouse.
  const uint64_t lo = ls.min_start, hi = ls.max_start;
  std::fprintf(stderr, "store_bench: %zu queries on Ariadne (child process)\n", queries.size());
  AriadneQueryPhase aq = RunAriadneChild(dir, blocks_dir, lo, hi, queries);
  if (!aq.ok) std::fprintf(stderr, "store_bench: the Ariadne query phase failed\n");
  QueryResults cq;
  uint64_t ch_hwm = 0, ch_rss = 0;
  size_t ch_errors = 0;
  if (use_ch) {
    std::fprintf(stderr, "store_bench: %zu queries on ClickHouse\n", queries.size());
    const int64_t s0 = static_cast<int64_t>(lo / 1'000'000'000ULL);
    const int64_t s1 = static_cast<int64_t>(hi / 1'000'000'000ULL) + 1;
    cq.latency.resize(queries.size());
    cq.found.resize(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      const Query& q = queries[i];
      const double t0 = Now();
      auto r = q.kind == "trace" ? ClickHouseTrace(ch.get(), q.trace) : ClickHouseSearch(ch.get(), q, s0, s1);
      cq.latency[i] = Now() - t0;
      if (!r.ok()) {
        if (ch_errors++ == 0) {
          std::fprintf(stderr, "store_bench: clickhouse query: %s\n", std::string(r.status().message()).c_str());
        }
      } else {
        cq.found[i] = *r;
      }
    }
    ch_hwm = StatusBytes(std::to_string(server.pid()), "VmHWM:");
    ch_rss = StatusBytes(std::to_string(server.pid()), "VmRSS:");
    server.Stop();
  }

  // ------------------------------------------------------------ report
  const double spans = static_cast<double>(ls.spans);
  const double a_bps = spans > 0 ? static_cast<double>(ariadne_apparent) / spans : 0;
  const double c_bps_main = spans > 0 ? static_cast<double>(ch_bytes_main) / spans : 0;
  const double c_bps_all = spans > 0 ? static_cast<double>(ch_bytes_all) / spans : 0;
  const double a_ingest = ls.ariadne_wall > 0 ? spans / ls.ariadne_wall : 0;
  const double a_ingest_cpu = ls.ariadne_cpu > 0 ? spans / ls.ariadne_cpu : 0;
  const double c_ingest = ls.ch_insert_wall > 0 ? spans / ls.ch_insert_wall : 0;
  const double c_ingest_cpu = ls.ch_server_cpu > 0 ? spans / ls.ch_server_cpu : 0;

  std::printf("\nstore_bench: %lld spans, %lld traces of %s (replicas %s) at %.0f rps, seed %llu; "
              "%.0f s simulated (%s .. +%.0f s); %d Ariadne blocks of <= %s spans\n",
              static_cast<long long>(ls.spans), static_cast<long long>(ls.traces), o.topology.c_str(),
              replicas.c_str(), o.rps, static_cast<unsigned long long>(o.seed),
              static_cast<double>(hi - lo) / 1e9, "2023-11-14T22:13:20Z",
              static_cast<double>(hi - lo) / 1e9, ls.blocks, Si(static_cast<double>(*block_spans)).c_str());
  std::printf("OTLP generated: %.1f bytes a span; %s enduser.id on root spans; ClickHouse %s (%s)%s\n",
              spans > 0 ? static_cast<double>(ls.otlp_bytes) / spans : 0,
              o.no_user_id ? "no" : "with", ch_version.c_str(), use_ch ? ch_binary.c_str() : "not run",
              use_ch ? ", tables OPTIMIZEd FINAL before measuring" : "");
  std::printf("load: %.0f s wall in all; generation + decode + sampling %.1f s; ClickHouse row "
              "building (client: OTLP blob per span, tags) %.1f s; ClickHouse OPTIMIZE FINAL %.1f s "
              "wall, %.1f server CPU-s\n\n",
              load_wall, ls.sim_decode_wall, ls.ch_rows_wall, optimize_wall, optimize_cpu);

  std::vector<size_t> idx[5];
  for (size_t i = 0; i < queries.size(); ++i) {
    for (int k = 0; k < 5; ++k) {
      if (queries[i].kind == kKinds[k]) idx[k].push_back(i);
    }
  }
  std::printf("%-44s %22s %22s %14s\n", "", "Ariadne", "ClickHouse", "Ariadne/CH");
  auto row = [](const char* name, const std::string& a, const std::string& c, const std::string& r) {
    std::printf("%-44s %22s %22s %14s\n", name, a.c_str(), c.c_str(), r.c_str());
  };
  auto F = [](const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return std::string(buf);
  };
  row("bytes on disk", Bytes(static_cast<double>(ariadne_apparent)),
      use_ch ? Bytes(static_cast<double>(ch_bytes_main)) : "-", "");
  row("bytes / span (CH: jaeger_spans + jaeger_index)", F("%.1f", a_bps),
      use_ch ? F("%.1f", c_bps_main) : "-", use_ch ? F("%.3fx", a_bps / c_bps_main) : "");
  row("bytes / span (CH: all 4 tables)", F("%.1f", a_bps), use_ch ? F("%.1f", c_bps_all) : "-",
      use_ch ? F("%.3fx", a_bps / c_bps_all) : "");
  row("bytes / span (du of the data dir)", F("%.1f", static_cast<double>(ariadne_du) / spans),
      use_ch ? F("%.1f", static_cast<double>(ch_du) / spans) : "-",
      use_ch ? F("%.3fx", static_cast<double>(ariadne_du) / static_cast<double>(ch_du)) : "");
  row("ingest spans/s (wall)", Si(a_ingest), use_ch ? Si(c_ingest) : "-",
      use_ch ? F("%.2fx", a_ingest / c_ingest) : "");
  row("ingest spans / CPU-s (A: writer thread; CH: server)", Si(a_ingest_cpu),
      use_ch ? Si(c_ingest_cpu) : "-", use_ch ? F("%.2fx", a_ingest_cpu / c_ingest_cpu) : "");
  Side as[5], cs[5];
  for (int k = 0; k < 5; ++k) {
    if (aq.ok) as[k] = Summarise(aq.r, idx[k]);
    if (use_ch) cs[k] = Summarise(cq, idx[k]);
    std::string name = std::string(kKindNames[k]) + " p50 / p99 ms";
    row(name.c_str(), aq.ok ? F("%.2f", as[k].p50 * 1e3) + " / " + F("%.2f", as[k].p99 * 1e3) : "-",
        use_ch ? F("%.2f", cs[k].p50 * 1e3) + " / " + F("%.2f", cs[k].p99 * 1e3) : "-",
        use_ch && aq.ok && as[k].p50 > 0
            ? F("%.1f", cs[k].p50 / as[k].p50) + "x/" + F("%.1fx", cs[k].p99 / as[k].p99)
            : "");
  }
  row("peak RSS (A: query process; CH: server)", Bytes(static_cast<double>(aq.hwm)),
      use_ch ? Bytes(static_cast<double>(ch_hwm)) : "-",
      use_ch ? F("%.2fx", static_cast<double>(aq.hwm) / static_cast<double>(ch_hwm)) : "");
  std::printf("(latency ratios: ClickHouse / Ariadne, i.e. how many times faster Ariadne is, p50x/p99x)\n\n");

  std::printf("results found (sum over queries; trace: spans, search: trace ids, at most 20 each):\n");
  for (int k = 0; k < 5; ++k) {
    size_t diff = 0;
    if (aq.ok && use_ch) {
      for (size_t i : idx[k]) diff += aq.r.found[i] != cq.found[i];
    }
    std::printf("  %-30s %4zu queries  Ariadne %8zu  ClickHouse %8zu  queries whose counts differ %zu\n",
                kKindNames[k], idx[k].size(), as[k].found, use_ch ? cs[k].found : 0, diff);
  }
  std::printf("status-code tag queries sampled from %s\n", tag_source.c_str());
  std::printf("Ariadne query process: BlockSet open %.2f s (%llu blocks, %llu spans), blocks' memory "
              "%s, RSS at start %s, after open %s, at end %s, VmHWM %s; damaged blocks %llu\n",
              aq.open_s, static_cast<unsigned long long>(aq.blocks),
              static_cast<unsigned long long>(aq.spans), Bytes(static_cast<double>(aq.memory)).c_str(),
              Bytes(static_cast<double>(aq.rss_start)).c_str(), Bytes(static_cast<double>(aq.rss_open)).c_str(),
              Bytes(static_cast<double>(aq.rss_end)).c_str(), Bytes(static_cast<double>(aq.hwm)).c_str(),
              static_cast<unsigned long long>(aq.damaged));
  std::printf("this process during generation + load (sim, decoded chunk, ClickHouse rows): VmHWM %s "
              "(was %s before)\n",
              Bytes(static_cast<double>(gen_hwm)).c_str(), Bytes(static_cast<double>(gen_hwm_before)).c_str());
  if (use_ch) {
    std::printf("ClickHouse: %lld INSERT requests, %s of RowBinary; server CPU during inserts %.1f s; "
                "RSS at end %s; query errors %zu\n",
                static_cast<long long>(ls.ch_requests), Bytes(static_cast<double>(ls.ch_insert_bytes)).c_str(),
                ls.ch_server_cpu, Bytes(static_cast<double>(ch_rss)).c_str(), ch_errors);
    for (const Part& p : parts) {
      std::printf("  %-28s %12llu rows %12s on disk (%.1f B/span; compressed %s, uncompressed %s)\n",
                  p.table.c_str(), static_cast<unsigned long long>(p.rows),
                  Bytes(static_cast<double>(p.bytes)).c_str(), static_cast<double>(p.bytes) / spans,
                  Bytes(static_cast<double>(p.compressed)).c_str(),
                  Bytes(static_cast<double>(p.uncompressed)).c_str());
    }
    std::printf("  du of its data dir: %s (apparent %s)\n", Bytes(static_cast<double>(ch_du)).c_str(),
                Bytes(static_cast<double>(ch_apparent)).c_str());
  }

  // Aims.
  std::printf("\naims:\n");
  auto verdict = [](bool met) { return met ? "MET" : "MISSED"; };
  if (use_ch) {
    const double ratio = a_bps / c_bps_main;
    std::printf("  bytes/span <= 0.5x ClickHouse's: %.3fx (jaeger_spans + jaeger_index; %.3fx of all "
                "tables) -> %s%s\n",
                ratio, a_bps / c_bps_all, verdict(ratio <= 0.5),
                ratio <= 0.5 ? "" : F(" by %.0f%%", (ratio / 0.5 - 1) * 100).c_str());
  }
  std::printf("  bytes/span < 30: %.1f -> %s%s\n", a_bps, verdict(a_bps < 30),
              a_bps < 30 ? "" : F(" by %.1f bytes", a_bps - 30).c_str());
  if (aq.ok) {
    const double p99 = as[0].p99 * 1e3;
    std::printf("  trace by id p99 < 10 ms with 100M spans: %.2f ms at %s spans -> %s%s%s\n", p99,
                Si(spans).c_str(), verdict(p99 < 10), p99 < 10 ? "" : F(" by %.2f ms", p99 - 10).c_str(),
                ls.spans >= 100'000'000 ? "" : " (fewer than 100M spans stored: indicative only)");
    if (use_ch) {
      bool all = true;
      for (int k = 1; k < 5; ++k) {
        if (idx[k].empty()) continue;
        const double r50 = cs[k].p50 / as[k].p50, r99 = cs[k].p99 / as[k].p99;
        const bool met = r50 >= 3 && r99 >= 3;
        all &= met;
        std::printf("  %-30s >= 3x faster: p50 %.1fx, p99 %.1fx -> %s\n", kKindNames[k], r50, r99, verdict(met));
      }
      std::printf("  every search >= 3x faster than ClickHouse (p50 and p99) -> %s\n", verdict(all));
    }
    const double gib = static_cast<double>(aq.hwm) / (1 << 30);
    std::printf("  RSS < 2 GB at 100M spans (query process VmHWM): %s at %s spans -> %s%s\n",
                Bytes(static_cast<double>(aq.hwm)).c_str(), Si(spans).c_str(), verdict(aq.hwm < (2ULL << 30)),
                ls.spans >= 100'000'000 ? "" : " (fewer than 100M spans stored: indicative only)");
    (void)gib;
  }

  // JSON.
  std::string j = "{\"bench\":\"store\"";
  auto num = [&](const char* k, double v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ",\"%s\":%.6g", k, v);
    j += buf;
  };
  auto str = [&](const char* k, const std::string& v) { j += ",\"" + std::string(k) + "\":\"" + v + "\""; };
  str("topology", o.topology);
  num("spans", spans);
  num("traces", static_cast<double>(ls.traces));
  num("rps", o.rps);
  num("seed", static_cast<double>(o.seed));
  num("block_spans", static_cast<double>(*block_spans));
  num("blocks", ls.blocks);
  str("clickhouse_version", ch_version);
  num("ariadne_bytes", static_cast<double>(ariadne_apparent));
  num("ariadne_bytes_per_span", a_bps);
  num("ariadne_ingest_spans_per_s", a_ingest);
  num("ariadne_ingest_spans_per_cpu_s", a_ingest_cpu);
  num("ariadne_query_rss_hwm", static_cast<double>(aq.hwm));
  num("ariadne_blocks_memory", static_cast<double>(aq.memory));
  num("generation_rss_hwm", static_cast<double>(gen_hwm));
  if (use_ch) {
    num("clickhouse_bytes_main", static_cast<double>(ch_bytes_main));
    num("clickhouse_bytes_all", static_cast<double>(ch_bytes_all));
    num("clickhouse_du", static_cast<double>(ch_du));
    num("clickhouse_bytes_per_span", c_bps_main);
    num("clickhouse_bytes_per_span_all", c_bps_all);
    num("clickhouse_ingest_spans_per_s", c_ingest);
    num("clickhouse_ingest_spans_per_server_cpu_s", c_ingest_cpu);
    num("clickhouse_optimize_s", optimize_wall);
    num("clickhouse_rss_hwm", static_cast<double>(ch_hwm));
    num("clickhouse_query_errors", static_cast<double>(ch_errors));
  }
  for (int k = 0; k < 5; ++k) {
    const std::string base = kKinds[k];
    num(("ariadne_" + base + "_p50_ms").c_str(), as[k].p50 * 1e3);
    num(("ariadne_" + base + "_p99_ms").c_str(), as[k].p99 * 1e3);
    if (use_ch) {
      num(("clickhouse_" + base + "_p50_ms").c_str(), cs[k].p50 * 1e3);
      num(("clickhouse_" + base + "_p99_ms").c_str(), cs[k].p99 * 1e3);
    }
  }
  j += "}";
  std::printf("\n%s\n", j.c_str());
  if (!o.json_out.empty()) std::ofstream(o.json_out) << j << "\n";
  cleanup();
  return aq.ok ? 0 : 1;
}

}  // namespace
}  // namespace ariadne::storebench

int main(int argc, char** argv) { return ariadne::storebench::Main(argc, argv); }
