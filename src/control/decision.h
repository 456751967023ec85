// A scaling decision, as every policy records it: what it saw, what it
// wanted and why. The controller's, the HPA baseline's and the static
// policies' decisions have the same shape, so they can be compared and
// listed side by side (docs/autoscaling.md).
//
// Threading: a plain value.
#pragma once

#include <string>

namespace ariadne::control {

struct DecisionInputs {
  double rate = 0;                  // observed calls/s (span-based policies) or 0
  double forecast_rate = 0;         // one start-up delay ahead
  double service_time_s = 0;        // estimated mean service time per call
  double tail_self_s = 0;           // tail quantile of the measured self time
  double cv2 = 0;                   // squared coefficient of variation used
  double utilisation = 0;           // controller: rate x S / (ready x workers); HPA: CPU / request
  double forecast_utilisation = 0;  // at the desired replicas and the forecast rate
  double wait_budget_s = 0;         // the service's share of the objective, per visit
  int workers = 0;                  // concurrency per replica
  int ready = 0;                    // ready replicas
};

struct Decision {
  double time_s = 0;       // simulated (or wall) seconds
  std::string policy;      // "ariadne", "hpa", "static_peak", ...
  std::string service;     // the deployment
  int current = 0;         // spec replicas before the decision
  int desired = 0;         // after it (== current: no change)
  DecisionInputs inputs;
  std::string reason;      // one line of text
};

// One JSON object (no newline).
std::string DecisionJson(const Decision& d);

}  // namespace ariadne::control
