// PromClient and ResourcePuller (prom_client.h); the parser of Prometheus'
// answers is prom_response.cc.
//
// PromClient::QueryRange sends each query with SendHttp (common/http_client.h):
// a timeout on the whole exchange, and a std::stop_token that abandons it
// from another thread.
//
// ResourcePuller runs its pulls on a std::jthread whose stop token both ends
// the wait between pulls and abandons a query in flight.
//
// Threading: see prom_client.h.
#include "analytics/prom_client.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/http_client.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace ariadne::analytics {

namespace {

// Bytes of a non-JSON error body quoted in the error message.
constexpr size_t kQuotedBodyBytes = 200;
// Prometheus refuses ranges over 11,000 points per series.
constexpr double kMaxPullSteps = 10'000;
// The range of a query's first pull.
constexpr double kFirstPullSeconds = 300;

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

absl::Status WithContext(const absl::Status& s, std::string_view context) {
  absl::Status out(s.code(), absl::StrCat(AbslView(context), ": ", s.message()));
  s.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// PromClient.

PromClient::PromClient(std::string host, std::string port, std::string prefix,
                       std::chrono::milliseconds timeout)
    : host_(std::move(host)),
      port_(std::move(port)),
      prefix_(std::move(prefix)),
      timeout_(timeout) {
  const std::string bracketed =
      host_.find(':') != std::string::npos ? absl::StrCat("[", host_, "]") : host_;
  base_url_ = absl::StrCat("http://", bracketed, ":", port_, prefix_);
}

absl::StatusOr<PromClient> PromClient::Create(std::string_view base_url,
                                              std::chrono::milliseconds timeout) {
  const std::string quoted = absl::StrCat("Prometheus URL \"", AbslView(base_url), "\"");
  const size_t scheme_end = base_url.find("://");
  if (scheme_end == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(quoted, ": expected http://host:port[/prefix]"));
  }
  const std::string scheme = absl::AsciiStrToLower(AbslView(base_url.substr(0, scheme_end)));
  if (scheme == "https") {
    return absl::InvalidArgumentError(absl::StrCat(
        quoted, ": https is not supported yet (TLS is later work); use an http:// URL"));
  }
  if (scheme != "http") {
    return absl::InvalidArgumentError(
        absl::StrCat(quoted, ": unsupported scheme \"", scheme, "\" (only http:// is supported)"));
  }
  std::string_view rest = base_url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(quoted, ": a query or fragment is not allowed in the base URL"));
  }
  const size_t path_start = rest.find('/');
  const std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(quoted, ": credentials in the URL are not supported"));
  }
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(quoted, ": unterminated IPv6 address"));
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat(quoted, ": unexpected characters after the IPv6 address"));
      }
      port = after.substr(1);
      if (port.empty()) return absl::InvalidArgumentError(absl::StrCat(quoted, ": empty port"));
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return absl::InvalidArgumentError(absl::StrCat(quoted, ": empty port"));
    }
  }
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat(quoted, ": no host"));
  uint32_t port_number = 80;
  if (!port.empty()) {
    const bool digits =
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || port.size() > 5 || !absl::SimpleAtoi(AbslView(port), &port_number) ||
        port_number == 0 || port_number > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(quoted, ": port \"", AbslView(port), "\" is not a number in 1..65535"));
    }
  }
  if (timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Prometheus timeout must be positive, not ", timeout.count(), " ms"));
  }
  return PromClient(std::string(host), absl::StrCat(port_number), std::string(path), timeout);
}

absl::StatusOr<PromClient::Answer> PromClient::Get(const std::string& target,
                                                   std::stop_token stop) const {
  HttpUrl url;
  url.host = host_;
  uint32_t port = 80;
  (void)absl::SimpleAtoi(AbslView(port_), &port);  // Create() checked it: 1..65535
  url.port = static_cast<uint16_t>(port);
  url.path = prefix_;
  HttpRequest request;
  request.target = target;
  auto answer = SendHttp(url, request, timeout_, std::move(stop), kMaxBodyBytes);
  if (!answer.ok()) return answer.status();
  return Answer{answer->status, std::move(answer->body)};
}

absl::StatusOr<std::vector<PromSeries>> PromClient::QueryRange(std::string_view promql,
                                                               double start_s, double end_s,
                                                               double step_s,
                                                               std::stop_token stop) const {
  if (!std::isfinite(start_s) || !std::isfinite(end_s) || !std::isfinite(step_s)) {
    return absl::InvalidArgumentError("query_range: start, end and step must be finite");
  }
  if (start_s > end_s) {
    return absl::InvalidArgumentError(
        absl::StrFormat("query_range: start %.3f is after end %.3f", start_s, end_s));
  }
  if (step_s < 0.001) {
    return absl::InvalidArgumentError(
        absl::StrFormat("query_range: step %g s is under 1 ms", step_s));
  }
  const std::string target =
      absl::StrCat(prefix_, "/api/v1/query_range?query=", UrlEncode(promql),
                   absl::StrFormat("&start=%.3f&end=%.3f&step=%.3f", start_s, end_s, step_s));
  absl::StatusOr<Answer> answer;
  try {
    answer = Get(target, std::move(stop));
  } catch (const std::exception& e) {  // Asio throws only if the system refuses it resources
    return absl::InternalError(absl::StrCat("query_range ", base_url_, ": ", e.what()));
  }
  if (!answer.ok()) return answer.status();
  const std::string context = absl::StrCat("query_range ", base_url_);
  if (answer->status == 200) {
    absl::StatusOr<std::vector<PromSeries>> series = ParseQueryRangeResponse(answer->body);
    if (!series.ok()) return WithContext(series.status(), context);
    return series;
  }
  const std::string http_status = absl::StrCat("HTTP ", answer->status);
  const absl::StatusOr<std::vector<PromSeries>> parsed = ParseQueryRangeResponse(answer->body);
  if (!parsed.ok() && parsed.status().GetPayload(AbslView(kPromErrorTypePayload)).has_value()) {
    return WithContext(parsed.status(), absl::StrCat(context, ": ", http_status));
  }
  std::string detail(absl::StripAsciiWhitespace(
      AbslView(std::string_view(answer->body).substr(0, kQuotedBodyBytes))));
  if (detail.empty()) detail = "(empty body)";
  if (answer->status == 404) {
    absl::StrAppend(&detail, " (is the URL's path prefix right?)");
  }
  return absl::Status(HttpStatusCode(answer->status),
                      absl::StrCat(context, ": ", http_status, ": ", detail));
}

// ---------------------------------------------------------------------------
// ResourcePuller.

std::vector<ResourceQuery> DefaultResourceQueries() {
  return {
      {"cpu_cores",
       R"(sum by (container) (rate(container_cpu_usage_seconds_total{container!=""}[1m])))",
       "container"},
      {"memory_bytes", R"(sum by (container) (container_memory_working_set_bytes{container!=""}))",
       "container"},
  };
}

ResourcePuller::ResourcePuller(PromClient* client, std::vector<ResourceQuery> queries,
                               SeriesStore* store, std::function<uint64_t()> now_nanos)
    : client_(client),
      queries_(std::move(queries)),
      store_(store),
      now_nanos_(std::move(now_nanos)),
      next_start_s_(queries_.size()) {}

ResourcePuller::~ResourcePuller() { Stop(); }

absl::Status ResourcePuller::PullOnce() { return Pull(std::stop_token()); }

absl::Status ResourcePuller::Pull(std::stop_token stop) {
  absl::MutexLock lock(&pull_mu_);
  const double now_s = static_cast<double>(now_nanos_()) / 1e9;
  const double step_s = static_cast<double>(store_->step_nanos()) / 1e9;
  const double window_s = static_cast<double>(store_->window_nanos()) / 1e9;
  ResourcePullerStats counts;  // this pull's, added to stats_ at the end
  absl::Status first_error;
  for (size_t q = 0; q < queries_.size(); ++q) {
    const ResourceQuery& query = queries_[q];
    double start_s = next_start_s_[q].value_or(now_s - kFirstPullSeconds);
    start_s = std::max({start_s, now_s - window_s, now_s - kMaxPullSteps * step_s});
    const double end_s = now_s;
    // On the store's steps; never after the step of `now` (a clock set back).
    start_s = std::min(std::floor(start_s / step_s), std::floor(end_s / step_s)) * step_s;
    absl::StatusOr<std::vector<PromSeries>> result =
        client_->QueryRange(query.promql, start_s, end_s, step_s, stop);
    if (!result.ok()) {
      if (stop.stop_requested()) return absl::CancelledError("resource pull stopped");
      if (first_error.ok()) first_error = WithContext(result.status(), query.series);
      continue;
    }
    for (const PromSeries& series : *result) {
      const auto label =
          std::find_if(series.labels.begin(), series.labels.end(),
                       [&](const auto& l) { return l.first == query.service_label; });
      if (label == series.labels.end() || label->second.empty()) {
        counts.samples_without_service += series.samples.size();
        continue;
      }
      const Labels labels = {{"service", label->second}};
      for (const auto& [t, value] : series.samples) {
        if (!std::isfinite(value)) {
          ++counts.samples_not_finite;
          continue;
        }
        // Unix seconds to nanoseconds; under 9.2e9 s (year 2261) they fit llround's int64.
        if (!(t >= 0 && t < 9.2e9)) {
          ++counts.samples_refused;
          continue;
        }
        const auto t_nanos = static_cast<uint64_t>(std::llround(t * 1e9));
        if (store_->Set(query.series, labels, t_nanos, value)) {
          ++counts.samples_written;
        } else {
          ++counts.samples_refused;
        }
      }
    }
    // The last step may still change (late scrapes): the next range starts there.
    next_start_s_[q] = std::floor(end_s / step_s) * step_s;
  }

  if (!first_error.ok()) {
    const std::string message = first_error.ToString();
    if (message != logged_error_) {
      spdlog::warn("pulling resource metrics from Prometheus failed (retried every pull): {}",
                   message);
      logged_error_ = message;
    }
  } else if (!logged_error_.empty()) {
    spdlog::info("pulling resource metrics from Prometheus works again");
    logged_error_.clear();
  }
  absl::MutexLock stats_lock(&stats_mu_);
  ++stats_.pulls;
  stats_.samples_written += counts.samples_written;
  stats_.samples_refused += counts.samples_refused;
  stats_.samples_without_service += counts.samples_without_service;
  stats_.samples_not_finite += counts.samples_not_finite;
  if (!first_error.ok()) {
    ++stats_.failures;
    stats_.last_error = first_error.ToString();
  }
  return first_error;
}

void ResourcePuller::Start(std::chrono::milliseconds interval) {
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  thread_ = std::jthread([this, interval](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;  // only a stop request wakes it
    while (!stop.stop_requested()) {
      (void)Pull(stop);  // counted and logged inside; retried next interval
      std::unique_lock wait_lock(mu);
      wake.wait_for(wait_lock, stop, interval, [] { return false; });
    }
  });
}

void ResourcePuller::Stop() {
  std::lock_guard lock(thread_mu_);
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

ResourcePullerStats ResourcePuller::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace ariadne::analytics
