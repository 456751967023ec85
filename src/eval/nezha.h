// The Nezha TrainTicket fault-injection data (Yu et al., ESEC/FSE 2023) and
// the root-cause evaluation over it: `ariadne eval rca --nezha DIR`
// (docs/evaluation.md).
//
// DIR holds fault_suffering/<date>/ (the day's <date>-fault_list.json,
// trace/HH_MM_trace.csv files, optionally metric/<pod>_metric.csv) and
// optionally fault_free/<date>/trace/. Every day found is evaluated.
//
// How a fault is evaluated (no label is used but to score):
//   anomalous window  the spans of its three one-minute trace files that
//                     start at or after its injection time;
//   normal window     every other trace file of the same day (other faults'
//                     windows and fault-free minutes): the day's typical
//                     behaviour, which one fault in a few windows barely moves;
//   resources         per pod CPU and memory utilisation from metric/, normal
//                     in the 20 minutes before the injection;
//   errors            the data has no status column; a Spring Boot service
//                     that fails a request dispatches it to its error
//                     controller, which leaves a `BasicErrorController.error`
//                     span under the failing request's span: that span is
//                     marked failed.
// Service = pod name without its last two `-` segments; times are UTC (the
// fault list's inject_timestamp is not trusted, see the data's README).
//
// Threading: plain functions.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "detect/rca.h"

namespace ariadne::eval {

struct NezhaSpan {
  std::string trace_id;
  uint64_t span_id = 0;
  uint64_t parent_id = 0;  // 0 = root
  std::string service;
  std::string operation;
  uint64_t start_nanos = 0;
  uint64_t end_nanos = 0;
  bool error = false;
};

struct NezhaFault {
  std::string day;          // "2023-01-29"
  std::string inject_time;  // as labeled, UTC
  int64_t inject_unix = 0;
  std::string service;      // the truth, for scoring only
  std::string type;         // "return", "exception", "cpu_contention", "network_delay"
  std::vector<size_t> files;  // its trace files (indexes into NezhaDay::files)
};

struct NezhaDay {
  std::string day;
  std::vector<std::string> file_names;             // "fault_suffering/<day>/trace/08_43_trace.csv"
  std::vector<std::vector<NezhaSpan>> files;       // spans of each file
  std::vector<NezhaFault> faults;
  std::vector<detect::RcaResource> resources;      // cpu_utilisation, memory_utilisation per service
};

// Loads every day under `dir`. Errors name the file and line.
absl::StatusOr<std::vector<NezhaDay>> LoadNezha(const std::string& dir);

// Service name of a Kubernetes pod name: without its last two `-` segments.
std::string ServiceOfPod(std::string_view pod);

struct RcaCaseResult {
  std::string day, inject_time, truth, type;
  size_t anomalous_spans = 0, normal_spans = 0;
  int rank = 0;  // 1-based rank of the truth; 0 = not ranked
  std::vector<detect::RcaCandidate> candidates;
};

struct RcaSummary {
  size_t cases = 0;
  double ac1 = 0, ac3 = 0, avg5 = 0;
};

// Builds the windows of `fault` and ranks.
RcaCaseResult EvaluateNezhaFault(const NezhaDay& day, const NezhaFault& fault,
                                 const detect::RcaOptions& options = {});
// AC@1, AC@3 and Avg@5 (the mean of AC@1..AC@5) over `results`.
RcaSummary Summarise(const std::vector<RcaCaseResult>& results);
// A markdown report: overall, by fault type, and every case.
void WriteRcaReport(const std::vector<RcaCaseResult>& results, std::ostream& out);
// The cases as a JSON array.
void WriteRcaJson(const std::vector<RcaCaseResult>& results, std::ostream& out);

}  // namespace ariadne::eval
