// Root-cause ranking from traces: which services (and operations) changed
// between a normal window and an anomalous one, and how (docs/detection.md).
//
// Evidence, each measured as what the anomalous window adds over the normal
// one, per second, and tested against the normal window's own variation so
// that noise is not evidence:
//   latency    self time (a span's duration not covered by its children)
//              above the normal median, per service and operation (a call
//              to an uninstrumented peer with nothing below: the peer's);
//   network    the time a call spends between the client span and the
//              callee's server span (wire, queues, connection pools), given
//              to the callee;
//   errors     error spans that have no failing span of another service
//              below them: where errors originate, not the callers they
//              travel through;
//   behaviour  spans whose set of downstream calls is one the normal window
//              rarely or never had (a request cut short by an exception
//              makes fewer calls, a bad answer makes its caller take
//              another path);
//   resources  resource series (CPU, memory, ...) that left their normal
//              range, earliest first;
//   traffic    requests a service stopped serving although its callers kept
//              coming (its normal rate scaled by its callers' change).
// A caller's added self time that its callees' slower answers explain (its
// workers were held, its requests queued) moves to those callees.
// Each kind is shared out over the services (a service's share of all the
// added self time, of all the new error origins, ...), the shares are summed,
// and a random walk over the anomalous window's call graph (from callers
// towards the callees with evidence, as in MicroRCA) moves weight from
// callers that only wait to the callees they wait on. Every candidate comes
// with its evidence, exemplar trace ids and a one-line explanation.
//
// Threading: RcaData is built by one thread; RankRootCauses is a pure
// function of its inputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "model/span_batch.h"

namespace ariadne::detect {

// The spans of one window, columnar; names interned in RcaData.
struct RcaWindow {
  uint64_t start_nanos = 0;  // the window's time range (for rates); set by
  uint64_t end_nanos = 0;    // the caller, or widened by Add to cover its spans
  std::vector<uint32_t> trace;  // interned trace id
  std::vector<uint64_t> span_id;
  std::vector<uint64_t> parent_id;  // 0 = root (or parent unknown)
  std::vector<uint32_t> service;
  std::vector<uint32_t> operation;
  std::vector<uint32_t> peer;  // a client span's uninstrumented peer (peer.service,
                               // db.system, server.address), 0 = none
  std::vector<model::SpanKind> kind;
  std::vector<uint64_t> start;
  std::vector<uint64_t> end;
  std::vector<uint8_t> error;
  size_t size() const { return span_id.size(); }
};

// A resource series of one service (CPU cores, memory bytes, ...): values at
// times spanning both windows.
struct RcaResource {
  std::string service;
  std::string name;  // e.g. "cpu_cores"
  std::vector<uint64_t> times;
  std::vector<double> values;
};

class RcaData {
 public:
  RcaWindow normal;
  RcaWindow anomalous;
  std::vector<RcaResource> resources;
  // The time range resource series are normal in; 0, 0 = the normal
  // window's (set it when the normal spans are not the time just before).
  uint64_t resources_normal_start = 0;
  uint64_t resources_normal_end = 0;

  // Adds one span. Trace ids are any bytes unique per trace; span ids 0 are
  // not allowed (0 means "no parent").
  void Add(RcaWindow* window, std::string_view trace_id, uint64_t span_id, uint64_t parent_id,
           std::string_view service, std::string_view operation, model::SpanKind kind,
           uint64_t start_nanos, uint64_t end_nanos, bool error, std::string_view peer = {});
  // Adds every span of `batch` whose start is in [from, to); trace ids as
  // 32 lowercase hex digits.
  void AddBatch(RcaWindow* window, const model::SpanBatch& batch, uint64_t from_nanos,
                uint64_t to_nanos);
  // Adds span `row` of `batch` (trace id in hex, as AddBatch).
  void AddSpan(RcaWindow* window, const model::SpanBatch& batch, uint32_t row);

  // Names are interned; id 0 is "".
  uint32_t Intern(std::string_view name);
  int64_t Find(std::string_view name) const;  // -1 if not interned
  const std::string& Name(uint32_t id) const { return names_[id]; }
  size_t names() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  absl::flat_hash_map<std::string, uint32_t> ids_;
  absl::flat_hash_map<std::string, uint32_t> traces_;
  std::vector<std::string> trace_names_;

 public:
  const std::string& TraceName(uint32_t id) const { return trace_names_[id]; }
};

struct RcaEvidence {
  std::string kind;       // "latency", "network", "errors", "behaviour", "resource", "traffic"
  std::string operation;  // the operation (or resource series) it is strongest in
  double share = 0;       // the service's share of this kind of evidence, in [0, 1]
  double added = 0;       // added per second: seconds of self time, errors, unusual spans; resource: z
  double normal = 0;      // the normal value it is compared with (median self time s, errors/s, share, value)
  double anomalous = 0;   // the anomalous value (p90 self time s, errors/s, share, value)
  uint64_t first_nanos = 0;  // resource: when it first left its normal range
};

struct RcaCandidate {
  std::string service;
  std::string operation;  // the operation with the strongest evidence ("" if none)
  double score = 0;       // in [0, 1]; the candidates' scores sum to at most 1
  std::vector<RcaEvidence> evidence;  // strongest first
  std::vector<std::string> exemplar_trace_ids;  // as given to Add
  std::string explanation;  // one line
};

struct RcaOptions {
  double min_z = 3;          // how far above the normal window's variation counts as evidence
  size_t min_normal_spans = 5;  // per operation, for latency and behaviour
  double rare_signature = 0.01;  // behaviour: a call set seen in under this share of normal spans
  double walk_weight = 0.25;  // how much the random walk moves the final score
  size_t exemplars = 3;
  size_t max_candidates = 10;
};

// Ranks the services of `data.anomalous` (best first). Empty when there is
// no evidence at all.
std::vector<RcaCandidate> RankRootCauses(const RcaData& data, const RcaOptions& options = {});

// The candidates as a JSON array: [{"service", "operation", "score",
// "explanation", "evidence": [{"kind", "operation", "share", "normal",
// "anomalous", "first" (Unix nanoseconds, when set)}], "exemplar_trace_ids"}].
std::string RcaCandidatesJson(const std::vector<RcaCandidate>& candidates);

}  // namespace ariadne::detect
