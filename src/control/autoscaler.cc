#include "control/autoscaler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/prom_text.h"
#include "common/strings.h"
#include "control/kube_scale.h"

namespace ariadne::control {

absl::StatusOr<ReplicaCounts> KubeActuator::Read(std::string_view service) {
  auto d = client_->GetDeployment(service);
  if (!d.ok()) return d.status();
  return ReplicaCounts{d->spec_replicas, d->ready_replicas};
}

absl::Status KubeActuator::Write(std::string_view service, int32_t replicas) {
  if (!write_) return absl::FailedPreconditionError("the Kubernetes actuator only reads");
  return client_->SetReplicas(service, replicas).status();
}

absl::StatusOr<std::pair<std::string, int>> ParseManagedService(std::string_view text,
                                                               int default_workers) {
  const size_t colon = text.find(':');
  std::string_view name = text.substr(0, colon);
  int workers = default_workers;
  if (colon != std::string_view::npos) {
    std::string_view w = text.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(w.data(), w.data() + w.size(), workers);
    if (ec != std::errc() || ptr != w.data() + w.size() || workers < 1 || workers > 100000) {
      return absl::InvalidArgumentError(
          absl::StrCat("autoscaler service '", AbslView(text),
                       "': expected NAME or NAME:WORKERS with 1 <= WORKERS <= 100000"));
    }
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("autoscaler service '", AbslView(text), "': the name is empty"));
  }
  return std::pair<std::string, int>(std::string(name), workers);
}

Autoscaler::Autoscaler(AutoscalerOptions options, Actuator* actuator)
    : options_(std::move(options)), actuator_(actuator), controller_(options_.controller) {
  for (const auto& [name, workers] : options_.services) states_[name].workers = workers;
}

Autoscaler::~Autoscaler() { Stop(); }

std::string Autoscaler::actuator_name() const {
  return actuator_ == nullptr ? "none" : std::string(actuator_->name());
}

void Autoscaler::PushSpans(const model::SpanBatch& batch) {
  std::lock_guard lock(meter_mu_);
  meter_.PushSpans(batch);
}

Autoscaler::State* Autoscaler::Managed(std::string_view service) {
  auto it = states_.find(AbslView(service));
  if (it != states_.end()) return &it->second;
  if (!options_.services.empty()) return nullptr;  // not on the list
  if (states_.size() >= options_.max_services) {
    ++ignored_services_;
    return nullptr;
  }
  State& s = states_[std::string(service)];
  s.workers = options_.default_workers;
  return &s;
}

void Autoscaler::Step(double now_s, double interval_s) {
  IntervalObservation obs;
  {
    std::lock_guard lock(meter_mu_);
    obs = meter_.TakeInterval(interval_s);
  }
  // Which services, with what they showed.
  struct Work {
    std::string service;
    ServiceInput in;
    bool has_desired = false;
    int32_t desired = 0;
  };
  std::vector<Work> work;
  {
    std::lock_guard lock(mu_);
    ++steps_;
    for (const auto& o : obs.services) Managed(o.service);
    for (const auto& [name, st] : states_) {
      Work w;
      w.service = name;
      w.in.service = name;
      w.in.workers = st.workers;
      w.in.visits_per_request = std::max(1.0, obs.visits_per_request);
      w.in.startup_delay_s = options_.startup_delay_s;
      w.has_desired = st.has_desired;
      w.desired = st.desired;
      work.push_back(std::move(w));
    }
  }
  std::sort(work.begin(), work.end(),
            [](const Work& a, const Work& b) { return a.service < b.service; });
  for (Work& w : work) {
    auto o = std::lower_bound(
        obs.services.begin(), obs.services.end(), w.service,
        [](const ServiceObservation& x, const std::string& name) { return x.service < name; });
    if (o != obs.services.end() && o->service == w.service) {
      w.in.spans = o->spans;
      w.in.rate = o->rate;
      w.in.mean_self_s = o->mean_self_s;
      w.in.tail_self_s = o->tail_self_s;
      w.in.self_cv2 = o->self_cv2;
    }
    std::string error;
    if (actuator_ != nullptr && actuator_->CanRead()) {
      auto counts = actuator_->Read(w.service);
      if (!counts.ok()) {
        error = absl::StrCat("reading the replicas: ", counts.status().message());
      } else {
        w.in.current = counts->desired;
        w.in.ready = counts->ready;
      }
    } else {
      w.in.current = w.has_desired ? w.desired : options_.initial_replicas;
      w.in.ready = w.in.current;
    }
    std::optional<Decision> decision;
    bool applied = false;
    if (error.empty()) {
      decision = controller_.Decide(now_s, w.in);
      decision->policy = "ariadne";
      applied = true;
      if (decision->desired != decision->current && actuator_ != nullptr &&
          actuator_->CanWrite()) {
        if (auto s = actuator_->Write(w.service, decision->desired); !s.ok()) {
          error = absl::StrCat("setting ", decision->desired,
                               " replicas: ", s.message());
          decision->reason = absl::StrCat(decision->reason, " (not applied: ", error, ")");
          applied = false;
        }
      }
    }
    std::lock_guard lock(mu_);
    State& st = states_[w.service];
    if (error != st.error) {
      if (!error.empty()) {
        spdlog::warn("autoscaler: {}: {}", w.service, error);
      } else if (!st.error.empty()) {
        spdlog::info("autoscaler: {}: the actuator works again", w.service);
      }
      st.error = error;
    }
    if (!error.empty()) ++st.errors;
    if (!decision) continue;
    if (decision->desired > decision->current) {
      ++st.ups;
    } else if (decision->desired < decision->current) {
      ++st.downs;
    } else {
      ++st.keeps;
    }
    if (applied) {
      st.has_desired = true;
      st.desired = decision->desired;
    }
    st.ready = w.in.ready;
    if (decision->desired != decision->current) {
      spdlog::info("autoscaler: {} {} -> {}: {}", w.service, decision->current,
                   decision->desired, decision->reason);
    }
    st.last = *decision;
    decisions_.push_back(*std::move(decision));
    while (decisions_.size() > options_.max_decisions) decisions_.pop_front();
  }
}

void Autoscaler::Start() {
  thread_ = std::thread([this] {
    using Clock = std::chrono::steady_clock;
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options_.controller.interval_s));
    auto next = Clock::now() + interval;
    auto last = Clock::now();
    std::unique_lock lock(run_mu_);
    while (!stopping_) {
      if (run_cv_.wait_until(lock, next, [this] { return stopping_; })) break;
      lock.unlock();
      const auto now = Clock::now();
      const double seconds = std::chrono::duration<double>(now - last).count();
      last = now;
      const double unix_s =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      Step(unix_s, seconds);
      next += interval;
      if (next < Clock::now()) next = Clock::now() + interval;  // a slow step: no burst
      lock.lock();
    }
  });
}

void Autoscaler::Stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<Decision> Autoscaler::Decisions(std::string_view service, bool changes_only,
                                            size_t limit) const {
  std::vector<Decision> out;
  std::lock_guard lock(mu_);
  for (auto it = decisions_.rbegin(); it != decisions_.rend() && out.size() < limit; ++it) {
    if (!service.empty() && it->service != service) continue;
    if (changes_only && it->desired == it->current) continue;
    out.push_back(*it);
  }
  return out;
}

absl::StatusOr<int32_t> Autoscaler::Desired(std::string_view service) const {
  std::lock_guard lock(mu_);
  auto it = states_.find(AbslView(service));
  if (it == states_.end() || !it->second.has_desired) {
    return absl::NotFoundError(
        absl::StrCat("the autoscaler has no decision for service '", AbslView(service), "'",
                     options_.services.empty() ? "" : " (it is not in autoscaler.services)"));
  }
  return it->second.desired;
}

std::vector<Autoscaler::ServiceState> Autoscaler::Services() const {
  std::vector<ServiceState> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, st] : states_) out.push_back({name, st.last, st.error});
  std::sort(out.begin(), out.end(),
            [](const ServiceState& a, const ServiceState& b) { return a.service < b.service; });
  return out;
}

std::string Autoscaler::MetricsText() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, const State*>> sorted;
  for (const auto& [name, st] : states_) sorted.emplace_back(name, &st);
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  const auto gauge = [&](const char* name, const char* help, const char* type, auto value,
                         bool only_decided) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
    for (const auto& [service, st] : sorted) {
      if (only_decided && !st->has_desired) continue;
      absl::StrAppend(&out, name, "{service=\"");
      AppendLabelValue(&out, service);
      out.append("\"} ");
      AppendNumber(&out, static_cast<double>(value(*st)));
      out.push_back('\n');
    }
  };
  gauge("ariadne_autoscaler_desired_replicas",
        "Replicas the autoscaler wants for the service (its last decision).", "gauge",
        [](const State& s) { return s.desired; }, true);
  gauge("ariadne_autoscaler_ready_replicas",
        "Ready replicas of the service when the autoscaler last looked.", "gauge",
        [](const State& s) { return s.ready; }, true);
  absl::StrAppend(&out,
                  "# HELP ariadne_autoscaler_decisions_total Decisions made, by what they did.\n"
                  "# TYPE ariadne_autoscaler_decisions_total counter\n");
  for (const auto& [service, st] : sorted) {
    for (const auto& [action, n] : {std::pair<const char*, int64_t>{"up", st->ups},
                                    {"down", st->downs},
                                    {"keep", st->keeps}}) {
      absl::StrAppend(&out, "ariadne_autoscaler_decisions_total{service=\"");
      AppendLabelValue(&out, service);
      absl::StrAppend(&out, "\",action=\"", action, "\"} ", n, "\n");
    }
  }
  gauge("ariadne_autoscaler_actuator_errors_total",
        "Intervals in which reading or setting the service's replicas failed.", "counter",
        [](const State& s) { return s.errors; }, false);
  absl::StrAppend(&out,
                  "# HELP ariadne_autoscaler_steps_total Control intervals run.\n"
                  "# TYPE ariadne_autoscaler_steps_total counter\n"
                  "ariadne_autoscaler_steps_total ",
                  steps_,
                  "\n# HELP ariadne_autoscaler_ignored_services_total Services not managed "
                  "because max_services were already.\n"
                  "# TYPE ariadne_autoscaler_ignored_services_total counter\n"
                  "ariadne_autoscaler_ignored_services_total ",
                  ignored_services_, "\n");
  return out;
}

}  // namespace ariadne::control
