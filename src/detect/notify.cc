// Alertmanager and webhook notifications (notify.h).
//
// The Notifier's one thread takes, in a loop, either the round of re-sending
// the open alerts (when due) or the oldest queued notification, and delivers
// it: to each target in turn, then again to the ones that failed with a
// retryable error, after a backoff, up to max_attempts. A stop request wakes
// every wait (stopping_, under mu_) and abandons the request in flight (the
// jthread's stop token, passed down to SendHttp).
#include "detect/notify.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/http_client.h"
#include "common/json_string.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace ariadne::detect {

namespace {

// Alerts per POST when re-sending the open ones.
constexpr size_t kAlertsPerPost = 500;
// Distinct reasons for refusing an alert that are logged; the rest are only counted.
constexpr size_t kMaxLoggedInvalid = 64;

bool IsLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendJsonObject(std::string* out, const std::map<std::string, std::string>& m) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, k);
    out->push_back(':');
    AppendJsonString(out, v);
  }
  out->push_back('}');
}

absl::Status ValidateAlert(const Alert& alert) {
  if (alert.labels.empty()) return absl::InvalidArgumentError("an alert needs at least one label");
  for (const auto& [name, value] : alert.labels) {
    if (!IsLabelName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label name \"", name, "\" is not valid ([a-zA-Z_][a-zA-Z0-9_]*)"));
    }
  }
  for (const auto& [name, value] : alert.annotations) {
    if (!IsLabelName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("annotation name \"", name, "\" is not valid ([a-zA-Z_][a-zA-Z0-9_]*)"));
    }
  }
  if (alert.starts_at_nanos != 0 && alert.ends_at_nanos != 0 &&
      alert.ends_at_nanos < alert.starts_at_nanos) {
    return absl::InvalidArgumentError(
        absl::StrCat("ends at ", FormatRfc3339Millis(alert.ends_at_nanos), ", before it starts at ",
                     FormatRfc3339Millis(alert.starts_at_nanos)));
  }
  return absl::OkStatus();
}

std::string AlertsJson(const std::vector<const Alert*>& alerts) {
  std::string out = "[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    const Alert& a = *alerts[i];
    if (i > 0) out.push_back(',');
    out.append("{\"labels\":");
    AppendJsonObject(&out, a.labels);
    out.append(",\"annotations\":");
    AppendJsonObject(&out, a.annotations);
    if (a.starts_at_nanos != 0) {
      out.append(",\"startsAt\":");
      AppendJsonString(&out, FormatRfc3339Millis(a.starts_at_nanos));
    }
    if (a.ends_at_nanos != 0) {
      out.append(",\"endsAt\":");
      AppendJsonString(&out, FormatRfc3339Millis(a.ends_at_nanos));
    }
    if (!a.generator_url.empty()) {
      out.append(",\"generatorURL\":");
      AppendJsonString(&out, a.generator_url);
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

// The outcome of one POST: the status for the caller, and whether another
// try might succeed.
struct Outcome {
  absl::Status status;
  bool retryable = false;
};

// POSTs `body` (JSON) to `url`; `who` ("Alertmanager", "webhook") starts
// every error message.
Outcome PostJson(std::string_view who, const HttpUrl& url, std::string_view body,
                 std::chrono::milliseconds timeout, std::stop_token stop) {
  HttpRequest request;
  request.method = HttpMethod::kPost;
  request.target = url.Target();
  request.body = std::string(body);
  request.content_type = "application/json";
  // Only an excerpt of an answer is kept: a small limit is enough.
  const absl::StatusOr<HttpAnswer> answer =
      SendHttp(url, request, timeout, std::move(stop), 64 << 10);
  if (!answer.ok()) {
    return {absl::Status(answer.status().code(),
                         absl::StrCat(AbslView(who), ": ", answer.status().message())),
            HttpRetryable(answer.status())};
  }
  if (answer->status >= 200 && answer->status < 300) return {absl::OkStatus(), false};
  return {absl::Status(HttpStatusCode(answer->status),
                       absl::StrCat(AbslView(who), " ", url.ToString(), ": HTTP ", answer->status,
                                    ": ", BodyExcerpt(answer->body))),
          HttpRetryable(answer->status)};
}

// The endpoint <base>/api/v2/alerts of an Alertmanager base URL.
absl::StatusOr<HttpUrl> AlertmanagerEndpoint(std::string_view base_url) {
  absl::StatusOr<HttpUrl> url = ParseHttpUrl(base_url, "Alertmanager URL");
  if (!url.ok()) return url.status();
  if (!url->query.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("Alertmanager URL \"", AbslView(base_url),
                                                   "\": a query is not allowed in the base URL"));
  }
  while (!url->path.empty() && url->path.back() == '/') url->path.pop_back();
  url->path += "/api/v2/alerts";
  return url;
}

Outcome PostAlertmanagerJson(std::string_view base_url, std::string_view json,
                             std::chrono::milliseconds timeout, std::stop_token stop) {
  const absl::StatusOr<HttpUrl> url = AlertmanagerEndpoint(base_url);
  if (!url.ok()) return {url.status(), false};
  return PostJson("Alertmanager", *url, json, timeout, std::move(stop));
}

Outcome PostWebhookJson(std::string_view url_text, std::string_view json,
                        std::chrono::milliseconds timeout, std::stop_token stop) {
  const absl::StatusOr<HttpUrl> url = ParseHttpUrl(url_text, "webhook URL");
  if (!url.ok()) return {url.status(), false};
  return PostJson("webhook", *url, json, timeout, std::move(stop));
}

}  // namespace

// ---------------------------------------------------------------------------
// One request.

std::string FormatRfc3339Millis(uint64_t unix_nanos) {
  const auto seconds = static_cast<time_t>(unix_nanos / 1'000'000'000);
  const auto millis = static_cast<unsigned>((unix_nanos % 1'000'000'000) / 1'000'000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return buf;
}

absl::StatusOr<std::string> AlertmanagerJson(const std::vector<Alert>& alerts) {
  std::vector<const Alert*> pointers;
  pointers.reserve(alerts.size());
  for (size_t i = 0; i < alerts.size(); ++i) {
    const absl::Status valid = ValidateAlert(alerts[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("alert ", i, ": ", valid.message()));
    }
    pointers.push_back(&alerts[i]);
  }
  return AlertsJson(pointers);
}

absl::Status PostAlertmanager(std::string_view base_url, const std::vector<Alert>& alerts,
                              std::chrono::milliseconds timeout, std::stop_token stop) {
  const absl::StatusOr<HttpUrl> url = AlertmanagerEndpoint(base_url);
  if (!url.ok()) return url.status();
  if (alerts.empty()) return absl::OkStatus();
  const absl::StatusOr<std::string> json = AlertmanagerJson(alerts);
  if (!json.ok()) return json.status();
  return PostJson("Alertmanager", *url, *json, timeout, std::move(stop)).status;
}

absl::Status PostWebhook(std::string_view url, std::string_view json_body,
                         std::chrono::milliseconds timeout, std::stop_token stop) {
  return PostWebhookJson(url, json_body, timeout, std::move(stop)).status;
}

// ---------------------------------------------------------------------------
// Notifier.

Notifier::Notifier(NotifierOptions options) : options_(std::move(options)) {
  for (const std::string& url : options_.alertmanager_urls) targets_.push_back({url, true, ""});
  for (const std::string& url : options_.webhook_urls) targets_.push_back({url, false, ""});
}

Notifier::~Notifier() { Stop(); }

absl::Status Notifier::Validate(const NotifierOptions& options) {
  for (const std::string& url : options.alertmanager_urls) {
    const absl::StatusOr<HttpUrl> parsed = AlertmanagerEndpoint(url);
    if (!parsed.ok()) return parsed.status();
  }
  for (const std::string& url : options.webhook_urls) {
    const absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url, "webhook URL");
    if (!parsed.ok()) return parsed.status();
  }
  const auto positive = [](std::chrono::milliseconds d, std::string_view name) {
    return d.count() > 0
               ? absl::OkStatus()
               : absl::InvalidArgumentError(absl::StrCat(
                     "notifier ", AbslView(name), " must be positive, not ", d.count(), " ms"));
  };
  for (const absl::Status& s :
       {positive(options.timeout, "timeout"), positive(options.resend_interval, "resend_interval"),
        positive(options.first_backoff, "first_backoff"),
        positive(options.max_backoff, "max_backoff")}) {
    if (!s.ok()) return s;
  }
  if (options.max_queue < 1) return absl::InvalidArgumentError("notifier max_queue must be >= 1");
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("notifier max_attempts must be >= 1");
  }
  return absl::OkStatus();
}

void Notifier::Notify(std::vector<Alert> alerts, std::string webhook_json) {
  const bool to_alertmanagers = !options_.alertmanager_urls.empty();
  const bool to_webhooks = !options_.webhook_urls.empty();
  std::vector<Alert> valid;
  std::vector<std::string> refused;  // the reasons
  if (to_alertmanagers) {
    valid.reserve(alerts.size());
    for (Alert& alert : alerts) {
      const absl::Status status = ValidateAlert(alert);
      if (status.ok()) {
        valid.push_back(std::move(alert));
      } else {
        refused.emplace_back(status.message());
      }
    }
  }
  if (!to_webhooks) webhook_json.clear();

  std::vector<std::string> to_log;  // logged after the lock is released
  {
    absl::MutexLock lock(&mu_);
    stats_.invalid += refused.size();
    for (std::string& reason : refused) {
      if (logged_invalid_.size() < kMaxLoggedInvalid &&
          std::find(logged_invalid_.begin(), logged_invalid_.end(), reason) ==
              logged_invalid_.end()) {
        to_log.push_back(absl::StrCat("an alert is not sent to Alertmanager: ", reason));
        logged_invalid_.push_back(std::move(reason));
      }
    }
    for (const Alert& alert : valid) {
      if (alert.ends_at_nanos != 0) {
        open_.erase(alert.labels);
      } else if (open_.size() < options_.max_open_alerts || open_.contains(alert.labels)) {
        open_[alert.labels] = alert;
      } else if (!logged_open_full_) {
        logged_open_full_ = true;
        to_log.push_back(absl::StrCat("over ", options_.max_open_alerts,
                                      " open alerts: the newer ones are sent once, not re-sent"));
      }
    }
    stats_.open_alerts = open_.size();
    if (!valid.empty() || !webhook_json.empty()) {
      if (queue_.size() >= options_.max_queue) {
        queue_.pop_front();
        ++stats_.dropped;
        if (!logged_queue_full_) {
          logged_queue_full_ = true;
          to_log.push_back(absl::StrCat("notification queue full (", options_.max_queue,
                                        "): dropping the oldest; see dropped in the stats"));
        }
      }
      queue_.push_back({std::move(valid), std::move(webhook_json)});
      stats_.queued = queue_.size();
    }
  }
  for (const std::string& line : to_log) spdlog::warn("{}", line);
}

absl::Status Notifier::Start() {
  if (absl::Status valid = Validate(options_); !valid.ok()) return valid;
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) return absl::OkStatus();  // already running
  {
    absl::MutexLock state_lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::jthread([this](std::stop_token stop) { Run(std::move(stop)); });
  return absl::OkStatus();
}

void Notifier::Stop() {
  std::lock_guard lock(thread_mu_);
  if (!thread_.joinable()) return;
  {
    absl::MutexLock state_lock(&mu_);
    stopping_ = true;
  }
  thread_.request_stop();  // abandons the request in flight
  thread_.join();
  size_t dropped = 0;
  {
    absl::MutexLock state_lock(&mu_);
    dropped = queue_.size();
    stats_.dropped += dropped;
    queue_.clear();
    stats_.queued = 0;
  }
  if (dropped > 0) spdlog::info("notifier stopped with {} notifications unsent (dropped)", dropped);
}

NotifierStats Notifier::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool Notifier::SleepFor(std::chrono::milliseconds d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(d));
  return !stopping_;
}

void Notifier::Run(std::stop_token stop) {
  using Clock = std::chrono::steady_clock;
  std::vector<Target*> alertmanagers;
  std::vector<Target*> webhooks;
  for (Target& t : targets_) (t.alertmanager ? alertmanagers : webhooks).push_back(&t);
  auto next_resend = Clock::now() + options_.resend_interval;
  const auto wake = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
  while (true) {
    Pending pending;
    bool have_pending = false;
    std::vector<Alert> resend;
    {
      absl::MutexLock lock(&mu_);
      const auto wait = std::max(Clock::duration::zero(), next_resend - Clock::now());
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::FromChrono(wait));
      if (stopping_) return;
      if (Clock::now() >= next_resend) {
        next_resend = Clock::now() + options_.resend_interval;
        if (!alertmanagers.empty() && !open_.empty()) {
          resend.reserve(open_.size());
          for (const auto& [labels, alert] : open_) resend.push_back(alert);
          ++stats_.resends;
        }
      } else if (!queue_.empty()) {
        pending = std::move(queue_.front());
        queue_.pop_front();
        stats_.queued = queue_.size();
        have_pending = true;
        if (queue_.empty()) logged_queue_full_ = false;
      }
    }
    for (size_t i = 0; i < resend.size(); i += kAlertsPerPost) {
      std::vector<const Alert*> chunk;
      for (size_t j = i; j < std::min(resend.size(), i + kAlertsPerPost); ++j) {
        chunk.push_back(&resend[j]);
      }
      Deliver(alertmanagers, AlertsJson(chunk), stop);
      if (stop.stop_requested()) return;
    }
    if (have_pending) {
      if (!pending.alerts.empty()) {
        std::vector<const Alert*> all;
        for (const Alert& a : pending.alerts) all.push_back(&a);
        Deliver(alertmanagers, AlertsJson(all), stop);
      }
      if (!pending.webhook_json.empty()) Deliver(webhooks, pending.webhook_json, stop);
      if (stop.stop_requested()) return;
    }
  }
}

void Notifier::Deliver(std::vector<Target*> targets, const std::string& body,
                       std::stop_token stop) {
  std::chrono::milliseconds backoff = options_.first_backoff;
  for (int attempt = 1; !targets.empty(); ++attempt) {
    std::vector<Target*> again;
    for (Target* target : targets) {
      if (stop.stop_requested()) return;  // abandoned: neither sent nor failed
      const Outcome outcome = target->alertmanager
                                  ? PostAlertmanagerJson(target->url, body, options_.timeout, stop)
                                  : PostWebhookJson(target->url, body, options_.timeout, stop);
      if (stop.stop_requested()) return;
      if (outcome.status.ok()) {
        {
          absl::MutexLock lock(&mu_);
          ++stats_.sent;
        }
        if (!target->logged_error.empty()) {
          spdlog::info("notifications to {} work again", target->url);
          target->logged_error.clear();
        }
        continue;
      }
      if (outcome.retryable && attempt < options_.max_attempts) {
        again.push_back(target);
        continue;
      }
      const std::string message = outcome.status.ToString();
      {
        absl::MutexLock lock(&mu_);
        ++stats_.failed;
        stats_.last_error = message;
      }
      if (message != target->logged_error) {
        spdlog::warn(
            "notification to {} failed after {} attempt{} (logged once per distinct "
            "error): {}",
            target->url, attempt, attempt == 1 ? "" : "s", message);
        target->logged_error = message;
      }
    }
    if (again.empty()) return;
    if (!SleepFor(backoff)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
    targets = std::move(again);
  }
}

}  // namespace ariadne::detect
