// Hpa: the Kubernetes Horizontal Pod Autoscaler (autoscaling/v2) on CPU
// utilisation, as the baseline the controller is compared with
// (docs/autoscaling.md). It follows the upstream controller
// (pkg/controller/podautoscaler: replica_calculator.go GetResourceReplicas
// and groupPods, horizontal.go's behaviour handling) with its defaults:
//
//  - Sync every 15 s. Utilisation = sum of CPU usage / sum of CPU requests
//    over the pods that have a usable metric; desired =
//    ceil(usage ratio x ready pod count), where usage ratio = utilisation /
//    target; no change while |1 - ratio| <= tolerance (0.1).
//  - Pods: terminating pods are ignored; pods without a metric are
//    "missing"; a pod whose Ready condition is false, or that became ready
//    less than one metric window before its sample (within the CPU
//    initialisation period, 5 min), is "unready". Missing pods count as
//    using 100 % of their request on a scale-down and 0 % on a scale-up;
//    unready pods count as 0 % on a scale-up, and are left out otherwise;
//    when that second pass flips the direction or lands within tolerance,
//    the replicas stay as they are.
//  - Stabilisation: the recommendation is bounded below by the minimum
//    over the scale-up window (0 s by default: none) and above by the
//    maximum over the scale-down window (300 s) of the raw recommendations.
//  - Rate limits: scale-up by at most max(+100 %, +4 pods) per 15 s
//    (selectPolicy Max, counting the scale-ups already made in the period);
//    scale-down by at most 100 % per 15 s; then [min, max] replicas.
//
// Not modelled: other metric types, container-level metrics, the
// `--horizontal-pod-autoscaler-initial-readiness-delay` beyond its default
// (30 s), pods in the Failed phase (the simulator has none), and the
// controller's own scheduling jitter.
//
// Threading: ResourceReplicas is pure; an Hpa is used by one thread.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "control/decision.h"

namespace ariadne::control {

struct HpaOptions {
  double target_utilisation = 0.7;  // averageUtilization 70 %
  double tolerance = 0.1;           // --horizontal-pod-autoscaler-tolerance
  double sync_period_s = 15;        // --horizontal-pod-autoscaler-sync-period
  double scale_up_window_s = 0;     // behavior.scaleUp.stabilizationWindowSeconds
  double scale_down_window_s = 300; // behavior.scaleDown.stabilizationWindowSeconds
  int scale_up_pods = 4;            // scaleUp policies: Pods 4 per 15 s ...
  double scale_up_percent = 100;    // ... and Percent 100 per 15 s, selectPolicy Max
  double scale_up_period_s = 15;
  double scale_down_percent = 100;  // scaleDown policy: Percent 100 per 15 s
  double scale_down_period_s = 15;
  double cpu_initialization_period_s = 300;  // --horizontal-pod-autoscaler-cpu-initialization-period
  double initial_readiness_delay_s = 30;     // --horizontal-pod-autoscaler-initial-readiness-delay
  int min_replicas = 1;
  int max_replicas = 100;
};

// One pod as the HPA sees it through the API server and metrics-server.
struct HpaPod {
  std::string name;
  bool ready = false;          // Ready condition true
  bool terminating = false;    // deletionTimestamp set
  bool has_metric = false;     // metrics-server has a sample for it
  double cpu_cores = 0;        // the sample: usage over the metric window
  double metric_time_s = 0;    // the sample's timestamp
  double metric_window_s = 15; // the sample's window
  double cpu_request = 1;      // cores
  double start_s = 0;          // pod start time
  double ready_transition_s = 0;  // Ready condition's lastTransitionTime
};

struct HpaResult {
  int replicas = 0;
  double utilisation = 0;  // of the pods with a usable metric (first pass)
  std::string reason;
};

// GetResourceReplicas for CPU: the raw recommendation before stabilisation
// and rate limits. `current` is the scale's spec.replicas. `now_s` is the
// controller's clock. With no usable metric at all the recommendation is
// `current` (upstream returns an error and does not scale).
HpaResult ResourceReplicas(const HpaOptions& options, int current,
                           const std::vector<HpaPod>& pods, double now_s);

class Hpa {
 public:
  explicit Hpa(HpaOptions options);

  // One sync of one deployment: the recommendation, stabilised and limited.
  Decision Sync(double now_s, const std::string& deployment, int current,
                const std::vector<HpaPod>& pods);

  const HpaOptions& options() const { return options_; }

 private:
  struct Event {
    double time_s;
    int change;  // replicas added (scale-up) or removed (scale-down), > 0
  };
  struct State {
    std::deque<std::pair<double, int>> recommendations;  // (time, raw)
    std::deque<Event> up_events, down_events;
  };
  HpaOptions options_;
  absl::flat_hash_map<std::string, State> states_;
};

}  // namespace ariadne::control
