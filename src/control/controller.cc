#include "control/controller.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "control/queueing.h"

namespace ariadne::control {

Controller::Controller(ControllerOptions options) : options_(std::move(options)) {}

Decision Controller::Decide(double now_s, const ServiceInput& in) {
  const ControllerOptions& o = options_;
  State& st = states_[in.service];
  Decision d;
  d.time_s = now_s;
  d.policy = "ariadne";
  d.service = in.service;
  d.current = in.current;
  const int workers = std::max(in.workers, 1);
  const int ready = std::max(in.ready, 0);

  // 1. Service time from self time, with the queueing in it taken out.
  const double cv2_now = std::clamp(in.self_cv2, 0.1, 4.0);
  // Only from an interval in which the replicas were stable: while new
  // replicas start, or just after a change, the queue is a transient (a
  // backlog draining) that a stationary model would read as slow work.
  const bool stable = ready == in.current && now_s - st.last_change_s > o.interval_s + 1e-9;
  if (in.spans >= o.min_spans && ready > 0 && in.mean_self_s > 0 &&
      (stable || !st.has_service_time)) {
    const double per_replica = in.rate / ready;
    const double s = ServiceTimeFromResponse(per_replica, in.mean_self_s, workers, cv2_now);
    if (!st.has_service_time) {
      st.service_s = s;
      st.cv2 = cv2_now;
      st.has_service_time = true;
    } else {
      st.service_s += o.service_time_alpha * (s - st.service_s);
      st.cv2 += o.service_time_alpha * (cv2_now - st.cv2);
    }
  }

  // 2. Demand: Holt's linear trend over the interval rates.
  if (!st.has_rate) {
    st.level = in.rate;
    st.trend = 0;
    st.has_rate = true;
  } else {
    const double prev = st.level;
    st.level = o.holt_alpha * in.rate + (1 - o.holt_alpha) * (st.level + st.trend);
    st.trend = o.holt_beta * (st.level - prev) + (1 - o.holt_beta) * st.trend;
  }
  const double horizon = std::ceil((in.startup_delay_s + o.interval_s) / o.interval_s);
  double forecast = std::max(in.rate, st.level + horizon * st.trend);

  const double s = st.service_s;
  const double utilisation =
      ready > 0 ? in.rate * s / (static_cast<double>(ready) * workers) : (in.rate > 0 ? 1.0 : 0.0);
  const bool saturated = st.has_service_time && utilisation >= o.saturation;
  double demand_now = in.rate;
  if (saturated) {
    demand_now = in.rate * o.saturation_boost;
    forecast = std::max(forecast, demand_now);
  }

  // 3. The service's share of the objective.
  const double visits = std::max(in.visits_per_request, 1.0);
  const double budget = o.queueing_share * o.slo_s / visits;
  // Each visit is held to the objective's quantile within its share of the
  // budget. (A union bound, (1 - q) / visits per visit, asks a service whose
  // service time is close to its share for near-zero queueing: in the first
  // suite run it gave a 9 %-utilised single-worker service 34 replicas.)
  const double quantile = o.slo_quantile;

  d.inputs.rate = in.rate;
  d.inputs.forecast_rate = forecast;
  d.inputs.service_time_s = s;
  d.inputs.tail_self_s = in.tail_self_s;
  d.inputs.cv2 = st.cv2;
  d.inputs.utilisation = utilisation;
  d.inputs.wait_budget_s = budget;
  d.inputs.workers = workers;
  d.inputs.ready = ready;

  if (!st.has_service_time) {
    d.desired = std::clamp(in.current, o.min_replicas, o.max_replicas);
    d.reason = "no service time measured yet: keep";
    return d;
  }

  // 4. Sizing for now and for one start-up delay ahead.
  const int need_now = SmallestReplicas(demand_now, s, st.cv2, workers, budget, quantile,
                                        o.max_utilisation, o.min_replicas, o.max_replicas);
  const int need_ahead = SmallestReplicas(forecast, s, st.cv2, workers, budget, quantile,
                                          o.max_utilisation, o.min_replicas, o.max_replicas);
  const int raw = std::max(need_now, need_ahead);

  // 5. Stabilisation.
  st.recommendations.emplace_back(now_s, raw);
  while (!st.recommendations.empty() &&
         st.recommendations.front().first <= now_s - o.scale_down_window_s) {
    st.recommendations.pop_front();
  }
  int desired = in.current;
  std::string why;
  if (raw > in.current) {
    const int limit = std::max(static_cast<int>(std::ceil(in.current * o.max_up_factor)),
                               in.current + o.max_up_pods);
    desired = std::min(raw, limit);
    why = absl::StrFormat("scale up: need %d now, %d ahead%s%s", need_now, need_ahead,
                          saturated ? " (saturated: demand >= throughput)" : "",
                          desired < raw ? ", limited by the maximum step" : "");
    st.last_scale_up_s = now_s;
  } else if (raw < in.current) {
    int stabilised = raw;
    for (const auto& [t, r] : st.recommendations) stabilised = std::max(stabilised, r);
    if (now_s - st.last_scale_up_s < o.scale_down_window_s) {
      why = absl::StrFormat("keep: need %d, but within the cool-down after a scale-up", raw);
    } else if (stabilised >= in.current) {
      why = absl::StrFormat("keep: need %d, but %d within the stabilisation window", raw,
                            stabilised);
    } else {
      const int step = std::max(1, static_cast<int>(std::floor(in.current * o.max_down_fraction)));
      desired = std::max(stabilised, in.current - step);
      why = absl::StrFormat("scale down: need %d (max %d over the window)%s", raw, stabilised,
                            desired > stabilised ? ", limited by the maximum step" : "");
    }
  } else {
    why = absl::StrFormat("keep: need %d", raw);
  }
  desired = std::clamp(desired, o.min_replicas, o.max_replicas);
  if (desired != in.current) st.last_change_s = now_s;
  d.desired = desired;
  d.inputs.forecast_utilisation =
      desired > 0 ? forecast * s / (static_cast<double>(desired) * workers) : 0;
  d.reason = absl::StrFormat(
      "%s; rate %.1f/s, forecast %.1f/s, S %.3gms, utilisation %.2f, wait budget %.3gms at "
      "p%.4g",
      why, in.rate, forecast, s * 1e3, utilisation, budget * 1e3, quantile * 100);
  return d;
}

}  // namespace ariadne::control
