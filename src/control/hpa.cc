#include "control/hpa.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace ariadne::control {
namespace {

struct Sample {
  double usage;
  double request;
};

// Sum of usage / sum of requests, over the samples (GetResourceUtilizationRatio).
double Utilisation(const std::vector<Sample>& samples) {
  double usage = 0, request = 0;
  for (const Sample& s : samples) {
    usage += s.usage;
    request += s.request;
  }
  return request > 0 ? usage / request : 0;
}

}  // namespace

HpaResult ResourceReplicas(const HpaOptions& o, int current, const std::vector<HpaPod>& pods,
                           double now_s) {
  HpaResult r;
  // groupPods.
  std::vector<Sample> metrics;     // pods with a usable sample
  std::vector<double> unready;     // requests of unready pods
  std::vector<double> missing;     // requests of pods without a sample
  int ready_count = 0;
  for (const HpaPod& p : pods) {
    if (p.terminating) continue;  // ignored
    if (!p.has_metric) {
      missing.push_back(p.cpu_request);
      continue;
    }
    bool is_unready;
    if (p.start_s + o.cpu_initialization_period_s > now_s) {
      // Within the initialisation period: unready, or a sample whose window
      // began before the pod became ready.
      is_unready = !p.ready || p.metric_time_s < p.ready_transition_s + p.metric_window_s;
    } else {
      // Unready and never been ready.
      is_unready =
          !p.ready && p.start_s + o.initial_readiness_delay_s > p.ready_transition_s;
    }
    if (is_unready) {
      unready.push_back(p.cpu_request);
      continue;
    }
    ++ready_count;
    metrics.push_back({p.cpu_cores, p.cpu_request});
  }
  if (metrics.empty()) {
    r.replicas = current;
    r.reason = "no metrics for ready pods: keep";
    return r;
  }
  const double utilisation = Utilisation(metrics);
  const double ratio = utilisation / o.target_utilisation;
  r.utilisation = utilisation;
  const bool up_with_unready = !unready.empty() && ratio > 1.0;
  if (!up_with_unready && missing.empty()) {
    if (std::abs(1.0 - ratio) <= o.tolerance) {
      r.replicas = current;
      r.reason = absl::StrFormat("utilisation %.0f%% within tolerance of %.0f%%",
                                 utilisation * 100, o.target_utilisation * 100);
      return r;
    }
    r.replicas = static_cast<int>(std::ceil(ratio * ready_count));
    r.reason = absl::StrFormat("utilisation %.0f%% of %.0f%% target over %d ready pods",
                               utilisation * 100, o.target_utilisation * 100, ready_count);
    return r;
  }
  if (!missing.empty()) {
    // Scale-down: missing pods at 100 % of their request (or the target, if
    // higher); scale-up: at 0 %.
    const double fallback = ratio < 1.0 ? std::max(1.0, o.target_utilisation) : 0.0;
    if (ratio != 1.0) {
      for (double req : missing) metrics.push_back({req * fallback, req});
    }
  }
  if (up_with_unready) {
    for (double req : unready) metrics.push_back({0.0, req});
  }
  const double new_ratio = Utilisation(metrics) / o.target_utilisation;
  if (std::abs(1.0 - new_ratio) <= o.tolerance || (ratio < 1.0 && new_ratio > 1.0) ||
      (ratio > 1.0 && new_ratio < 1.0)) {
    r.replicas = current;
    r.reason = absl::StrFormat(
        "utilisation %.0f%%, but %.0f%% with %zu missing and %zu unready pods rebalanced: keep",
        utilisation * 100, new_ratio * o.target_utilisation * 100, missing.size(),
        unready.size());
    return r;
  }
  int replicas = static_cast<int>(std::ceil(new_ratio * static_cast<double>(metrics.size())));
  if ((new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current)) {
    replicas = current;
  }
  r.replicas = replicas;
  r.reason = absl::StrFormat(
      "utilisation %.0f%% (%.0f%% with %zu missing and %zu unready pods rebalanced)",
      utilisation * 100, new_ratio * o.target_utilisation * 100, missing.size(), unready.size());
  return r;
}

Hpa::Hpa(HpaOptions options) : options_(std::move(options)) {}

Decision Hpa::Sync(double now_s, const std::string& deployment, int current,
                   const std::vector<HpaPod>& pods) {
  const HpaOptions& o = options_;
  State& st = states_[deployment];
  Decision d;
  d.time_s = now_s;
  d.policy = "hpa";
  d.service = deployment;
  d.current = current;
  int ready = 0;
  for (const HpaPod& p : pods) ready += p.ready && !p.terminating;
  d.inputs.ready = ready;

  if (current == 0) {  // scaling is disabled for a deployment scaled to zero
    d.desired = 0;
    d.reason = "scaled to zero: autoscaling disabled";
    return d;
  }
  if (current > o.max_replicas || current < o.min_replicas) {
    d.desired = std::clamp(current, o.min_replicas, o.max_replicas);
    d.reason = "current replicas out of range";
    return d;
  }
  const HpaResult raw = ResourceReplicas(o, current, pods, now_s);
  d.inputs.utilisation = raw.utilisation;

  // stabilizeRecommendationWithBehaviors.
  int up_rec = raw.replicas, down_rec = raw.replicas;
  for (const auto& [t, rec] : st.recommendations) {
    if (t > now_s - o.scale_up_window_s) up_rec = std::min(up_rec, rec);
    if (t > now_s - o.scale_down_window_s) down_rec = std::max(down_rec, rec);
  }
  int rec = current;
  if (rec < up_rec) rec = up_rec;
  if (rec > down_rec) rec = down_rec;
  st.recommendations.emplace_back(now_s, raw.replicas);
  const double keep = std::max(o.scale_up_window_s, o.scale_down_window_s);
  while (!st.recommendations.empty() && st.recommendations.front().first < now_s - keep) {
    st.recommendations.pop_front();
  }
  std::string why = raw.reason;
  if (rec != raw.replicas) {
    why += absl::StrFormat("; stabilised %d -> %d", raw.replicas, rec);
  }

  // convertDesiredReplicasWithBehaviorRate.
  auto prune = [&](std::deque<Event>* events, double period) {
    while (!events->empty() && events->front().time_s <= now_s - period) events->pop_front();
  };
  prune(&st.up_events, o.scale_up_period_s);
  prune(&st.down_events, o.scale_down_period_s);
  int desired = rec;
  if (rec > current) {
    int added = 0;
    for (const Event& e : st.up_events) added += e.change;
    int removed = 0;
    for (const Event& e : st.down_events) removed += e.change;
    const int period_start = current - added + removed;
    const int by_pods = period_start + o.scale_up_pods;
    const int by_percent = static_cast<int>(
        std::ceil(period_start * (1.0 + o.scale_up_percent / 100.0)));
    int limit = std::max(by_pods, by_percent);
    limit = std::max(limit, current);
    const int allowed = std::min(limit, o.max_replicas);
    if (desired > allowed) {
      desired = allowed;
      why += absl::StrFormat("; scale-up limited to %d", allowed);
    }
  } else if (rec < current) {
    int removed = 0;
    for (const Event& e : st.down_events) removed += e.change;
    int added = 0;
    for (const Event& e : st.up_events) added += e.change;
    const int period_start = current + removed - added;
    const int limit =
        static_cast<int>(static_cast<double>(period_start) * (1.0 - o.scale_down_percent / 100.0));
    const int allowed = std::max(o.min_replicas, std::min(limit, current));
    if (desired < allowed) {
      desired = allowed;
      why += absl::StrFormat("; scale-down limited to %d", allowed);
    }
  }
  desired = std::clamp(desired, o.min_replicas, o.max_replicas);
  if (desired > current) st.up_events.push_back({now_s, desired - current});
  if (desired < current) st.down_events.push_back({now_s, current - desired});
  d.desired = desired;
  d.reason = why;
  return d;
}

}  // namespace ariadne::control
