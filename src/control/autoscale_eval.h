// `ariadne eval autoscale`: Ariadne's controller against Kubernetes' HPA
// and static provisioning on the same seeded, simulated scenarios
// (docs/autoscaling.md, docs/evaluation.md).
//
// The suite. Scenarios (rates relative to a topology's nominal peak P):
//   diurnal  40 min, a daily cycle compressed into 40 min: 0.25 P -> P -> 0.25 P
//   spike    30 min at 0.2 P with a 5x flash crowd (a step to P) from 10 to 15 min
//   ramp     40 min, linear from 0.2 P to P
//   fault    30 min at 0.5 P; cpu_saturation (x4) on the busiest mid-tier service
//            (called by a service, calling an instrumented service) from 10 to 20 min
// on topologies `online-boutique` (P = 800 rps) and `social-network`
// (P = 2000 rps), with policies
//   ariadne      the controller (controller.h), fed by the spans of the run
//   hpa          the Kubernetes HPA at 70 % CPU (hpa.h), fed by the pods' CPU
//   static_peak  replicas fixed for the scenario's peak rate at 70 % utilisation
//   static_avg   ... for its average rate
// Each run is one in-process simulation (as fast as possible, the same seed
// for every policy of a scenario). The policies scale the instrumented
// services; databases and caches keep the topology's replicas in every run.
// Autoscaled runs start from the topology's replicas.
//
// Static sizing. A calibration run per topology (5 min at 0.3 P, the
// topology's replicas, spans through a SpanMeter) measures, per service,
// calls per request and the mean service time (self time with the queueing
// taken out); a static size for a request rate R is then
//   ceil(R x calls per request x service time / (workers x 0.7)), at least 1,
// with R the peak (static_peak) or the time-average (static_avg) of the
// scenario's rate profile. The fault is not known in advance.
//
// Metrics per run, from the simulator's summary and per-minute timeline:
// end-to-end p50/p95/p99, completed requests/s in the busiest minute,
// SLO-violation minutes (minutes in which more than 1 % of the requests
// that finished missed the objective or failed), replica-seconds of the
// scaled services (pods existing: starting, ready or draining), and for the
// fault scenario the time from the fault's start to the end of the last
// violating minute up to 10 min after the fault ends (0: no violation).
//
// Threading: RunAutoscaleSuite runs up to `jobs` simulations at once, each
// on its own thread; the writers are pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "control/controller.h"
#include "control/decision.h"
#include "control/hpa.h"
#include "sim/faults.h"
#include "sim/profile.h"
#include "sim/topology.h"

namespace ariadne::control {

inline constexpr const char* kPolicies[] = {"ariadne", "hpa", "static_peak", "static_avg"};

struct AutoscaleSuiteOptions {
  uint64_t seed = 1;
  std::vector<std::string> scenarios;   // empty: diurnal, spike, ramp, fault
  std::vector<std::string> topologies;  // empty: online-boutique, social-network
  std::vector<std::string> policies;    // empty: all four
  int jobs = 1;
  double slo_s = 0.2;                   // the end-to-end objective
  double time_scale = 1.0;              // scenario lengths multiplied (tests shorten)
  double rate_scale = 1.0;              // rates multiplied (tests lower them)
};

// One simulation to run under one policy.
struct RunSpec {
  std::string scenario;
  std::string topology_name;
  sim::Topology topology;       // with the initial replicas of the run
  std::string profile_spec;     // RateProfile::Parse's spec
  double base_rps = 0;
  sim::Nanos duration = 0;
  std::vector<sim::Fault> faults;
  uint64_t seed = 1;
  double slo_s = 0.2;
  double peak_rps = 0;          // of the profile, for reports
  double mean_rps = 0;
};

struct RunResult {
  std::string scenario;
  std::string topology;
  std::string policy;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  double peak_completed_rps = 0;
  int slo_violation_minutes = 0;
  double replica_seconds = 0;       // scaled services
  double replica_seconds_all = 0;   // every service, databases included
  double recovery_s = -1;           // fault scenario only; -1: not applicable
  int scale_changes = 0;            // SetReplicas calls that changed a deployment
  double wall_seconds = 0;
  // Time series for the plots.
  std::vector<std::pair<double, int>> replicas;  // (seconds, scaled replicas existing), per tick
  std::vector<std::pair<double, double>> p99;    // (minute start seconds, p99 ms)
  std::vector<Decision> decisions;                // changes only
};

// The scenarios' names, in suite order.
std::vector<std::string> AutoscaleScenarioNames();

// The run specifications for `options` (one per scenario x topology; the
// policy is chosen when running). InvalidArgument for unknown names.
absl::StatusOr<std::vector<RunSpec>> MakeAutoscaleRuns(const AutoscaleSuiteOptions& options);

// Per-service sizing knowledge measured in a calibration run.
struct Calibration {
  std::vector<double> calls_per_request;  // indexed like Topology::services; 0 = not seen
  std::vector<double> service_time_s;
};
absl::StatusOr<Calibration> Calibrate(const sim::Topology& topology, double rps,
                                      sim::Nanos duration, uint64_t seed);
// Static replicas for request rate `rps` (instrumented services only; the
// others keep their replicas).
std::vector<int> StaticReplicas(const sim::Topology& topology, const Calibration& c, double rps,
                                double max_utilisation = 0.7);

// Runs `spec` under `policy` ("ariadne", "hpa", or "static" — static runs
// take their replicas from spec.topology).
absl::StatusOr<RunResult> RunAutoscale(const RunSpec& spec, const std::string& policy,
                                       const ControllerOptions& controller = {},
                                       const HpaOptions& hpa = {});

// The whole suite; `progress` is called once per finished run (from the
// worker threads, one at a time).
absl::StatusOr<std::vector<RunResult>> RunAutoscaleSuite(
    const AutoscaleSuiteOptions& options, std::function<void(const RunResult&)> progress);

// Reports.
std::string AutoscaleMarkdown(const AutoscaleSuiteOptions& options,
                              const std::vector<RunResult>& results);
std::string AutoscaleJson(const AutoscaleSuiteOptions& options,
                          const std::vector<RunResult>& results);
// One SVG for one scenario on one topology: replicas and p99 over time per policy.
std::string AutoscaleSvg(const std::string& scenario, const std::string& topology,
                         const std::vector<RunResult>& results, double slo_ms);

}  // namespace ariadne::control
