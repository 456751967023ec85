// A client of the Prometheus HTTP API (query_range), and the puller that
// brings a user's resource metrics (CPU and memory per service, from
// cAdvisor's series) into the SeriesStore, next to the series analytics
// derives from spans.
//
//  - ParseQueryRangeResponse (prom_response.cc) reads the JSON answer of
//    /api/v1/query_range (resultType "matrix") or /api/v1/query ("vector").
//    It is network input, hence test/fuzz/prom_response_fuzzer.cc; it never
//    crashes and names what is wrong.
//  - PromClient (prom_client.cc) sends one synchronous HTTP/1.1 GET per
//    query (Boost.Beast, a new connection each time) and enforces a timeout
//    on the whole exchange. Plain http:// only; TLS is later work.
//  - ResourcePuller writes each ResourceQuery's samples into the store as
//    series `query.series` with the single label service=<value of the
//    query's service label>, at the store's step.
//
// Threading: ParseQueryRangeResponse and PromClient::QueryRange may be
// called from any thread, concurrently (a PromClient is immutable after
// Create). ResourcePuller: PullOnce(), stats() from any thread (pulls are
// serialized); Start()/Stop() from any thread, each waits for the other.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "analytics/series_store.h"

namespace ariadne::analytics {

// One series of a Prometheus answer.
struct PromSeries {
  Labels labels;  // the "metric" object (with __name__ if Prometheus kept it), sorted
  // (time in unix seconds as Prometheus gives it, value), in the answer's
  // order; values may be NaN or +-Inf ("NaN", "+Inf", "-Inf" in the JSON).
  std::vector<std::pair<double, double>> samples;
};

// An error Status made from a `"status":"error"` answer carries Prometheus'
// errorType ("bad_data", "timeout", ...) as the payload under this type URL,
// and both errorType and error in its message.
inline constexpr std::string_view kPromErrorTypePayload = "ariadne/prometheus-error-type";

// Parses the body of /api/v1/query_range (resultType "matrix": "values"
// [[t,"v"],...]) or /api/v1/query with resultType "vector" ("value" [t,"v"],
// one sample per series). Unknown fields (warnings, stats, histograms) are
// ignored; a series with only native histograms has no samples.
// Errors:
//  - InvalidArgument "invalid Prometheus response: <path>: <what>" if the
//    body is not JSON of that shape (e.g. "data.result[2].values[5][1]:
//    \"abc\" is not a number"), or its resultType is "scalar" or "string";
//  - for "status":"error", a code after errorType (bad_data ->
//    InvalidArgument, timeout -> DeadlineExceeded, canceled -> Cancelled,
//    unavailable -> Unavailable, not_found -> NotFound, execution and
//    internal -> Internal, other -> Unknown) with the message
//    "Prometheus error <errorType>: <error>" and the kPromErrorTypePayload.
[[nodiscard]] absl::StatusOr<std::vector<PromSeries>> ParseQueryRangeResponse(
    std::string_view body);

class PromClient {
 public:
  // Largest answer body read; a larger one fails the query (ResourceExhausted).
  static constexpr size_t kMaxBodyBytes = 64 << 20;

  // `base_url` is "http://host[:port][/prefix]" (port 80 if absent; host a
  // name, an IPv4 address or a bracketed IPv6 address; a trailing '/' is
  // ignored). InvalidArgument for https:// (not supported yet: TLS is later
  // work) and any other scheme, credentials, a query or fragment, a bad
  // port, or a timeout that is not positive. `timeout` bounds each query:
  // connect, send and the whole answer (name resolution, for a host that is
  // not an IP address, is bounded by the system resolver's own timeouts).
  [[nodiscard]] static absl::StatusOr<PromClient> Create(std::string_view base_url,
                                                         std::chrono::milliseconds timeout);

  // GET <prefix>/api/v1/query_range?query=<promql>&start=&end=&step= and the
  // parsed answer. Times are unix seconds (sent with millisecond precision);
  // InvalidArgument unless they are finite, start <= end and step >= 1 ms.
  // Transport errors: Unavailable (refused, reset, resolve failed),
  // DeadlineExceeded (timeout), Cancelled (`stop` requested: the exchange is
  // abandoned at once), ResourceExhausted (body over kMaxBodyBytes). A
  // non-200 answer is an error whose message has the HTTP status and
  // Prometheus' errorType and error when the body has them (else the start
  // of the body); its code follows errorType, or the HTTP status.
  // Thread-safe.
  [[nodiscard]] absl::StatusOr<std::vector<PromSeries>> QueryRange(std::string_view promql,
                                                                   double start_s, double end_s,
                                                                   double step_s,
                                                                   std::stop_token stop = {}) const;

  // "http://host:port/prefix", normalized.
  const std::string& base_url() const { return base_url_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Answer {
    int status = 0;
    std::string body;
  };
  PromClient(std::string host, std::string port, std::string prefix,
             std::chrono::milliseconds timeout);
  absl::StatusOr<Answer> Get(const std::string& target, std::stop_token stop) const;

  std::string host_;  // without brackets
  std::string port_;
  std::string prefix_;  // "" or "/path", no trailing '/'
  std::string base_url_;
  std::chrono::milliseconds timeout_;
};

// One resource series to pull: the PromQL, the name of the series it
// becomes in the store, and the Prometheus label whose value names the
// service (each answer series becomes the store series
// {service="<that value>"}, so the query should aggregate by that label).
struct ResourceQuery {
  std::string series;
  std::string promql;
  std::string service_label;
};

// cpu_cores and memory_bytes per service from cAdvisor's series, summed over
// a service's pods and containers by `container` (in Kubernetes the
// container's name; Ariadne's simulator names each pod's one container after
// its service, docs/sim.md).
std::vector<ResourceQuery> DefaultResourceQueries();

struct ResourcePullerStats {
  uint64_t pulls = 0;                    // PullOnce()s completed (not cancelled by Stop)
  uint64_t failures = 0;                 // ... of which some query failed
  uint64_t samples_written = 0;          // accepted by SeriesStore::Set
  uint64_t samples_refused = 0;          // refused by Set (series limit, too old), or bad time
  uint64_t samples_without_service = 0;  // service label missing or empty: skipped
  uint64_t samples_not_finite = 0;       // NaN or +-Inf: skipped
  std::string last_error;                // of the latest failed pull; "" if none failed yet
};

class ResourcePuller {
 public:
  // `client` and `store` must outlive the puller. `now_nanos` is the wall
  // clock in unix nanoseconds (a test passes its own).
  ResourcePuller(PromClient* client, std::vector<ResourceQuery> queries, SeriesStore* store,
                 std::function<uint64_t()> now_nanos);
  ResourcePuller(const ResourcePuller&) = delete;
  ResourcePuller& operator=(const ResourcePuller&) = delete;
  ~ResourcePuller();  // Stop()s

  // Runs every query over [its previous pull's last step, now] (the first
  // time [now - 5 min, now]; never further back than the store's window or
  // 10,000 steps), with the start aligned to the store's step and step = the
  // store's step, and Set()s every finite sample of every series that has
  // the service label. A query that fails is retried over its whole range
  // next time; the others go on. Returns the first failure (with the
  // series name), after logging it once per distinct error.
  [[nodiscard]] absl::Status PullOnce();

  // Runs PullOnce() now and then every `interval` on a thread of its own
  // until Stop() (a running puller is stopped first). Failures are counted,
  // logged once per distinct error and retried next interval.
  void Start(std::chrono::milliseconds interval);
  // Stops the thread, abandoning a query in flight; returns promptly (unless
  // a PullOnce() called on another thread is running: that one is waited
  // for). No-op if not started.
  void Stop();

  ResourcePullerStats stats() const;

 private:
  absl::Status Pull(std::stop_token stop);

  PromClient* const client_;
  const std::vector<ResourceQuery> queries_;
  SeriesStore* const store_;
  const std::function<uint64_t()> now_nanos_;

  absl::Mutex pull_mu_;  // serializes pulls
  // Per query: the start of its next range (unix seconds), once it succeeded.
  std::vector<std::optional<double>> next_start_s_ ABSL_GUARDED_BY(pull_mu_);
  std::string logged_error_ ABSL_GUARDED_BY(pull_mu_);  // the last error logged

  mutable absl::Mutex stats_mu_;
  ResourcePullerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  std::mutex thread_mu_;  // Start/Stop
  std::jthread thread_;   // guarded by thread_mu_
};

}  // namespace ariadne::analytics
