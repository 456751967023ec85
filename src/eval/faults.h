// `ariadne eval faults`: detection, incidents and root-cause ranking scored
// on a seeded suite of simulated faults (docs/evaluation.md).
//
// The suite. For every topology and every fault type, `per_type` cases; each
// case is one simulation run with one fault. Its target is drawn among the
// services the topology's requests actually reach (for network_delay, a
// caller -> callee edge they actually use; for the faults that multiply work,
// slowdown, cpu_saturation and leak, a service that does some), its start
// after a warm-up of normal traffic (the detectors learn what is normal), its
// duration and its magnitude from ranges a user would call a real fault
// (SuiteSettings; docs/evaluation.md lists them). Everything is drawn from
// the seed: the random stream of a case depends only on the seed, the
// topology's name, the type and the case's number, so --topologies and
// --types select a subset of the same suite, and another seed gives another.
//
// A case runs in-process, as fast as possible: the engine's export requests
// (OTLP protobuf, exactly what `ariadne sim` sends a collector) are decoded
// and pushed to Analytics, whose series store feeds Detection, which feeds
// IncidentManager, wired as `ariadne serve` wires them with serve's default
// settings. Analytics' wall clock is a fake one that follows simulated time;
// Tick runs every simulated second. CPU and memory per service come from the
// simulated cluster, one sample per step (cpu_cores: the rate of the pods' CPU
// seconds over the last minute; memory_bytes: the sum of their working sets),
// and reach the series store every 30 s: the series ResourcePuller reads, at
// serve's default interval, from a Prometheus that scrapes the simulator's
// /metrics. The span batches of the last 15 simulated
// minutes are kept for root-cause ranking: when simulated time reaches an
// incident's opened + 2 min (or the run ends) RankRootCauses gets the spans
// that started in [opened - 10 min, opened - 1 min) as the normal window and
// [opened - 1 min, opened + 2 min) as the anomalous one, plus the resource
// series; IncidentManager's own ranking is taken at the same moment. The run
// ends with the last tick at its duration: the steps after it, where the
// arrivals stop, are not written (an artefact no real application has).
//
// Scoring (ScoreCase, Summarize): see the comments there.
//
// Threading: GenerateFaultSuite, ScoreCase, Summarize and the writers are
// pure functions. RunFaultCase runs one simulation on the calling thread;
// different cases may run on different threads at once.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/faults.h"
#include "sim/topology.h"

namespace ariadne::eval {

// How the suite is drawn and run. The defaults are the suite docs/evaluation.md
// reports; a test shortens the runs.
struct SuiteSettings {
  sim::Nanos warmup = 600 * sim::kSecond;           // normal traffic before any fault
  sim::Nanos max_start_offset = 300 * sim::kSecond;  // start in [warmup, warmup + this)
  sim::Nanos min_duration = 180 * sim::kSecond;
  sim::Nanos max_duration = 360 * sim::kSecond;
  sim::Nanos tail = 240 * sim::kSecond;   // the run goes on this long after the fault
  sim::Nanos grace = 120 * sim::kSecond;  // an incident up to this long after the end still counts
  double min_rps = 50;                    // constant load, drawn per case
  double max_rps = 150;
  // Magnitudes, each drawn uniformly in [min, max].
  double latency_ms[2] = {50, 250};       // latency: added to every operation's service time
  double slowdown_factor[2] = {3, 10};    // slowdown: service time multiplied
  double error_rate[2] = {0.1, 0.5};      // errors: share of calls that fail
  double cpu_factor[2] = {3, 8};          // cpu_saturation: the service works this much slower
  double leak_rate[2] = {0.002, 0.01};    // leak: service time growth per second of uptime
  double leak_mib_per_second[2] = {1, 4};  // leak: memory growth
  double network_ms[2] = {20, 200};       // network_delay: added to each direction
  // crash: every replica of the service goes down (the service is unavailable).
  // Whether CPU and memory series are written (a serve with a Prometheus);
  // false: spans only.
  bool resources = true;
};

struct SuiteOptions {
  uint64_t seed = 1;
  int per_type = 3;                      // cases per fault type per topology
  std::vector<std::string> topologies;   // empty: every built-in topology
  std::vector<sim::Fault::Type> types;   // empty: every fault type
  SuiteSettings settings;
};

struct FaultCase {
  int index = 0;             // position in the suite
  std::string topology;      // a built-in topology's name
  sim::Fault fault;          // its times are simulated time since the run's start
  std::string service;       // the truth: the fault's service (network_delay: the callee)
  std::string caller;        // network_delay: the caller (also counted as correct); else ""
  std::string magnitude;     // human-readable: "+120ms", "x4.2", "30% errors", ...
  double rps = 0;
  uint64_t sim_seed = 0;
  sim::Nanos run_duration = 0;
};

// The suite for `options`: topologies in the order given (default: the
// built-in order), types in enum order, `per_type` cases each.
// InvalidArgument for an unknown topology or a topology with no reachable
// target for a type.
absl::StatusOr<std::vector<FaultCase>> GenerateFaultSuite(const SuiteOptions& options);

// "latency", "cpu_saturation", ... -> the type; InvalidArgument otherwise.
absl::StatusOr<sim::Fault::Type> ParseFaultType(std::string_view name);

// An incident as the evaluation saw it (times: simulated time since the
// run's start).
struct ObservedIncident {
  uint64_t id = 0;
  sim::Nanos opened = 0;   // Incident::opened_nanos: its first anomaly's step
  sim::Nanos noticed = 0;  // when IncidentManager opened it (lateness and trace idle included)
  int anomalies = 0;       // when its ranking was taken
  int total_anomalies = 0;  // by the end of the run
  sim::Nanos last_anomaly = 0;
  sim::Nanos resolved = -1;  // -1: still open at the end of the run
  std::string first_anomaly;             // "series{labels}" of its first anomaly
  std::vector<std::string> ranking;      // IncidentManager's ranking, at opened + 2 min
  std::vector<std::string> rca_ranking;  // RankRootCauses, at opened + 2 min
};

struct CaseRun {
  std::vector<ObservedIncident> incidents;  // every incident, in the order opened
  int64_t spans = 0;
  double wall_seconds = 0;
};

// Runs one case (see the header comment).
absl::StatusOr<CaseRun> RunFaultCase(const FaultCase& c, const SuiteSettings& settings);

// One case scored. Only incidents shown (confirmed, `noticed`) at or after
// the warm-up count (the detectors are still learning before it). An
// incident is a true positive if it was shown at or after the fault's start
// and opened (its first anomaly) by the fault's end + grace: an engineer was
// paged because of the fault (its first anomaly may be a blip a step or two
// before the start that the fault's anomalies confirmed); every other one
// is a false positive. The
// fault is detected if it has a true positive. Ranks are 1-based positions
// of the first correct service (the fault's service; for network_delay the
// callee or the caller) in the first true positive's rankings; 0 = absent.
struct CaseScore {
  int incidents = 0;
  int true_positives = 0;
  int false_positives = 0;
  bool detected = false;
  double delay_s = -1;         // first TP's opened - fault start, at least 0 (-1: undetected)
  double notice_delay_s = -1;  // first TP's noticed - fault start (-1: undetected)
  int rank = 0;                // IncidentManager's ranking
  int rca_rank = 0;            // RankRootCauses
};
CaseScore ScoreCase(const FaultCase& c, const CaseRun& run, const SuiteSettings& settings,
                    sim::Nanos step = 10 * sim::kSecond);

// Scores of a group of cases. Precision = TP incidents / incidents, recall =
// detected faults / faults, F1 their harmonic mean (0 when both are 0).
// Delays over the detected faults (median, and p90 by nearest rank). AC@k =
// share of all faults whose correct service is in the top k of the first TP
// incident's ranking (an undetected fault is a miss); Avg@5 = mean of AC@1..5.
struct GroupScores {
  int faults = 0;
  int detected = 0;
  int incidents = 0;
  int true_positives = 0;
  int false_positives = 0;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  double median_delay_s = -1;  // -1: nothing detected
  double p90_delay_s = -1;
  double median_notice_s = -1;
  double p90_notice_s = -1;
  double ac1 = 0, ac3 = 0, avg5 = 0;              // IncidentManager's ranking
  double rca_ac1 = 0, rca_ac3 = 0, rca_avg5 = 0;  // RankRootCauses
};
GroupScores Summarize(std::span<const CaseScore> scores);

// The markdown report: overall, per fault type, per topology.
void WriteFaultReport(std::span<const FaultCase> cases, std::span<const CaseScore> scores,
                      std::ostream& out);
// One line of progress: topology, type, target, detected, delay, ranks.
std::string ProgressLine(const FaultCase& c, const CaseRun& run, const CaseScore& score);
// The JSON report: the suite's seed and settings, the overall scores and one
// row per case.
std::string FaultReportJson(const SuiteOptions& options, std::span<const FaultCase> cases,
                            std::span<const CaseRun> runs, std::span<const CaseScore> scores);

}  // namespace ariadne::eval
