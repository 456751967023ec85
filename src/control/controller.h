// Controller: Ariadne's trace-driven autoscaler (docs/autoscaling.md).
//
// Once per control interval, for each service, from what spans show (its
// call rate and the self time of its SERVER spans) and what the cluster
// shows (current and ready replicas, the start-up delay of a new one):
//
//  1. Service time. A span's self time is the time queued for a worker plus
//     the service time. Given the rate per ready replica and the workers of
//     a replica, the mean service time S is the one for which S plus the
//     M/G/c mean wait equals the measured mean self time (queueing.h). It is
//     smoothed (EWMA) and kept when an interval has too few spans, or when
//     the replicas were not stable through it (some starting or draining,
//     or a change made at its start): then the queue is a transient, a
//     backlog draining, which a stationary model would read as slow work. Slow work
//     of the service itself (a CPU hog, a slow release) raises S; a slow
//     callee does not, because waiting for calls is not self time: callers
//     that merely wait are not scaled.
//  2. Demand. The rate is forecast one start-up delay plus one interval
//     ahead with Holt's linear trend, never below the current rate. When the
//     service is saturated (estimated utilisation >= `saturation`), the
//     observed rate is its throughput, a lower bound of the demand; the
//     demand is then taken as `saturation_boost` x the rate.
//  3. Objective. The end-to-end objective (slo_s at slo_quantile) is split
//     over the critical path: queues may use `queueing_share` of it, divided
//     among the server visits of a request (measured: SERVER spans per root
//     span, an upper bound of the critical path's length), and each visit
//     may exceed its share with probability 1 - slo_quantile (an
//     approximation, not a union bound: see controller.cc).
//  4. Sizing. The smallest replica count for which one replica (its own
//     FIFO queue, `workers` servers, rate / n arrivals) stays under
//     max_utilisation and meets the per-visit wait budget
//     (SmallestReplicas): for the current rate and for the forecast; the
//     larger wins.
//  5. Stabilisation. Up at once, by at most max(current x max_up_factor,
//     current + max_up_pods); down only to the largest recommendation of
//     the last `scale_down_window_s`, never within that window of a
//     scale-up (cool-down), and by at most max(1, current x
//     max_down_fraction) per interval; always within [min, max] replicas.
//
// Concurrency per replica (`workers`) cannot be measured from spans (a
// span does not say whether it holds a worker or waits for one); it is
// configuration, like a thread pool's size or Knative's
// containerConcurrency, and is passed in.
//
// Every decision is returned with its inputs and a reason.
//
// Threading: not thread-safe; one Controller per control loop.
#pragma once

#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "control/decision.h"

namespace ariadne::control {

struct ControllerOptions {
  double slo_s = 0.2;             // end-to-end latency objective
  double slo_quantile = 0.99;     // ... met by this share of requests
  double queueing_share = 0.5;    // share of the objective the queues may take
  double max_utilisation = 0.8;   // per replica, at the forecast rate
  double interval_s = 15;         // the control interval
  double scale_down_window_s = 120;
  double max_down_fraction = 0.25;  // per interval (at least one replica)
  double max_up_factor = 4;         // per interval: at most max(current x this,
  int max_up_pods = 4;              //   current + this)
  double saturation = 0.95;         // estimated utilisation at which the rate is a lower bound
  double saturation_boost = 2;      // demand = boost x rate when saturated
  double holt_alpha = 0.5;          // level smoothing
  double holt_beta = 0.3;           // trend smoothing
  double service_time_alpha = 0.5;  // EWMA of the service time estimate
  int64_t min_spans = 20;           // fewer: keep the previous service time estimate
  int min_replicas = 1;
  int max_replicas = 100;
};

// What the controller sees of one service in one interval.
struct ServiceInput {
  std::string service;
  int64_t spans = 0;              // SERVER spans in the interval
  double rate = 0;                // their rate, calls/s
  double mean_self_s = 0;         // mean self time
  double tail_self_s = 0;         // tail quantile of the self time (recorded)
  double self_cv2 = 1;            // squared coefficient of variation of the self time
  double visits_per_request = 1;  // SERVER spans per request
  int workers = 1;                // concurrency per replica (configuration)
  int current = 0;                // desired replicas now (the deployment's spec)
  int ready = 0;                  // ready replicas
  double startup_delay_s = 0;     // until a new replica is ready
};

class Controller {
 public:
  explicit Controller(ControllerOptions options);

  // One decision for one service at `now_s` (seconds, monotonic).
  Decision Decide(double now_s, const ServiceInput& in);

  const ControllerOptions& options() const { return options_; }

 private:
  struct State {
    bool has_rate = false;
    double level = 0;
    double trend = 0;
    bool has_service_time = false;
    double service_s = 0;
    double cv2 = 1;
    std::deque<std::pair<double, int>> recommendations;  // (time, raw), last window only
    double last_scale_up_s = -1e18;
    double last_change_s = -1e18;
  };
  ControllerOptions options_;
  absl::flat_hash_map<std::string, State> states_;
};

}  // namespace ariadne::control
