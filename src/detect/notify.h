// Notifications of incidents: to Prometheus Alertmanager (its API v2) and to
// plain JSON webhooks.
//
//  - AlertmanagerJson builds the body of POST /api/v2/alerts; PostAlertmanager
//    and PostWebhook send one request (common/http_client.h: plain http://,
//    a timeout on the whole exchange, a stop token to abandon it).
//  - Notifier is what the detector's incidents use: Notify() only enqueues
//    (bounded, drop-oldest); one background thread sends each notification to
//    every configured URL with bounded retries, and re-sends the alerts still
//    open to every Alertmanager each resend_interval, since Alertmanager
//    resolves an alert by itself when it has not heard of it for its
//    resolve_timeout (5 min by default).
//
// Threading: AlertmanagerJson, PostAlertmanager and PostWebhook may be called
// from any thread, concurrently. Notifier: see the class.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ariadne::detect {

// One alert, as Alertmanager knows it: its identity is its label set.
struct Alert {
  // Names match [a-zA-Z_][a-zA-Z0-9_]* (Alertmanager refuses others); at
  // least one label, by convention "alertname".
  std::map<std::string, std::string> labels;
  // Same rule for names; "summary" and "description" by convention.
  std::map<std::string, std::string> annotations;
  uint64_t starts_at_nanos = 0;  // unix nanoseconds; 0 = let Alertmanager use "now"
  uint64_t ends_at_nanos = 0;    // 0 = open (still firing); else the time it resolved
  std::string generator_url;     // a link back to Ariadne (may be empty)
};

// "2024-01-02T03:04:05.123Z": RFC 3339 in UTC, millisecond precision
// (truncated).
std::string FormatRfc3339Millis(uint64_t unix_nanos);

// The JSON array Alertmanager's POST /api/v2/alerts takes: per alert
// {"labels":{..},"annotations":{..},"startsAt":..,"endsAt":..,"generatorURL":..},
// startsAt omitted if 0, endsAt if open, generatorURL if empty. Strings are
// escaped; invalid UTF-8 becomes U+FFFD (Alertmanager refuses it).
// InvalidArgument ("alert 3: label name \"1x\" is not valid", ...) for an
// alert without labels, a label or annotation name Alertmanager would
// refuse, or an end before the start.
[[nodiscard]] absl::StatusOr<std::string> AlertmanagerJson(const std::vector<Alert>& alerts);

// POSTs `alerts` to <base_url>/api/v2/alerts (base_url "http://host[:port]
// [/prefix]", a trailing '/' ignored) as AlertmanagerJson, Content-Type
// application/json. OK without a request if `alerts` is empty. Errors:
// InvalidArgument for a bad URL (https:// is not supported yet, a query is
// not allowed) or alert; the transport errors of SendHttp (Unavailable,
// DeadlineExceeded after `timeout`, Cancelled by `stop`); for a non-2xx
// answer, a code after its status (HttpStatusCode) and the message
// "Alertmanager <url>: HTTP <status>: <start of the body>".
[[nodiscard]] absl::Status PostAlertmanager(std::string_view base_url,
                                            const std::vector<Alert>& alerts,
                                            std::chrono::milliseconds timeout,
                                            std::stop_token stop = {});

// POSTs `json_body` as is (not checked) to `url` ("http://host[:port]/path
// [?query]"), Content-Type application/json. Errors as PostAlertmanager's,
// "webhook <url>: HTTP <status>: ..." for a non-2xx answer.
[[nodiscard]] absl::Status PostWebhook(std::string_view url, std::string_view json_body,
                                       std::chrono::milliseconds timeout,
                                       std::stop_token stop = {});

struct NotifierOptions {
  std::vector<std::string> alertmanager_urls;  // base URLs, as PostAlertmanager's
  std::vector<std::string> webhook_urls;       // as PostWebhook's
  std::chrono::milliseconds timeout{5'000};    // per request
  // Open alerts are re-sent to every Alertmanager this often (keep it well
  // under Alertmanager's resolve_timeout, 5 min by default).
  std::chrono::milliseconds resend_interval{60'000};
  size_t max_queue = 1'000;         // notifications waiting; beyond, the oldest is dropped
  size_t max_open_alerts = 10'000;  // alerts remembered for re-sending; beyond, not remembered
  int max_attempts = 3;             // per notification and URL (retryable failures only)
  std::chrono::milliseconds first_backoff{250};  // then doubled each attempt
  std::chrono::milliseconds max_backoff{5'000};
};

struct NotifierStats {
  uint64_t sent = 0;     // requests answered 2xx (one per notification per URL)
  uint64_t failed = 0;   // deliveries given up (after the retries, or not retryable)
  uint64_t dropped = 0;  // notifications dropped from a full queue, or queued at Stop()
  uint64_t invalid = 0;  // alerts refused by Notify (AlertmanagerJson's rules)
  uint64_t resends = 0;  // rounds of re-sending the open alerts
  size_t queued = 0;     // notifications waiting now
  size_t open_alerts = 0;
  std::string last_error;  // the latest failure; "" if none yet
};

// Threading: Notify() and stats() from any thread, concurrently (short
// critical sections: Notify never waits on I/O). Start() and Stop() from any
// thread; each waits for the other. The destructor Stop()s.
class Notifier {
 public:
  explicit Notifier(NotifierOptions options);
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  ~Notifier();

  // Checks the options: every URL (ParseHttpUrl's rules; no query in an
  // Alertmanager URL), timeout, resend_interval, backoffs positive,
  // max_queue and max_attempts at least 1.
  [[nodiscard]] static absl::Status Validate(const NotifierOptions& options);

  // Enqueues one notification: `alerts` for every Alertmanager (none if
  // empty), `webhook_json` for every webhook (none if empty); with no
  // Alertmanager URL the alerts are ignored, with no webhook URL the JSON
  // (nothing to send: nothing queued). Alerts that
  // AlertmanagerJson would refuse are counted (stats().invalid), logged once
  // per distinct reason and left out. An open alert (ends_at_nanos == 0) is
  // remembered, by its labels, for re-sending until an alert with the same
  // labels and an end arrives. Works before Start(): the queue waits.
  void Notify(std::vector<Alert> alerts, std::string webhook_json);

  // Validates the options (an error starts nothing) and starts the sending
  // thread. Again after Stop(): starts anew with what is queued.
  [[nodiscard]] absl::Status Start();

  // Stops the thread promptly: a request in flight is abandoned, a backoff
  // cut short. Notifications still queued are counted as dropped and
  // forgotten; open alerts are remembered. A no-op if not started.
  void Stop();

  NotifierStats stats() const;

 private:
  struct Pending {
    std::vector<Alert> alerts;
    std::string webhook_json;
  };
  // A target URL and what is known of it; only the sending thread touches it.
  struct Target {
    std::string url;
    bool alertmanager = false;
    std::string logged_error;  // the failure last logged; "" while it works
  };

  void Run(std::stop_token stop);
  // Sends `body` (Alertmanager JSON or webhook JSON) to each of `targets`,
  // retrying the retryable failures; counts and logs.
  void Deliver(std::vector<Target*> targets, const std::string& body, std::stop_token stop);
  // Waits up to `d`; false if the thread is being stopped.
  bool SleepFor(std::chrono::milliseconds d);

  const NotifierOptions options_;
  std::vector<Target> targets_;  // Alertmanagers, then webhooks; set in the constructor

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  // Open alerts by their labels.
  std::map<std::map<std::string, std::string>, Alert> open_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool logged_queue_full_ ABSL_GUARDED_BY(mu_) = false;
  bool logged_open_full_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> logged_invalid_ ABSL_GUARDED_BY(mu_);  // distinct, bounded
  NotifierStats stats_ ABSL_GUARDED_BY(mu_);

  std::mutex thread_mu_;  // serializes Start() and Stop()
  std::jthread thread_;
};

}  // namespace ariadne::detect
