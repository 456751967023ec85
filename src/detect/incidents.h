// Incidents: anomalies close in time and connected in the service graph are
// one incident, with a lifecycle (open -> resolved after a quiet period) and
// a first ranking of the services involved (docs/detection.md).
//
// An incident is shown (listed, counted, notified) once confirmed: a second
// series anomalous, or its first series still anomalous at a later step,
// within `confirm_window` of its first anomaly; otherwise it is dropped.
//
// An anomaly is about a service: its `service` label, or for an edge series
// its server (and its client counts as involved). It joins the open incident
// whose last anomaly is at most `group_window` earlier and that already
// involves the service or a neighbour of it in the service graph; otherwise it
// opens a new incident. An incident resolves once none of its services has
// been anomalous (reported, or still anomalous after being reported) for
// `quiet_period`. Time is the series' time (the step of each value), so a
// simulation run faster than real time resolves incidents at its own pace.
//
// Ranking (a first version; the trace-based ranking of issue 6 will replace
// it): services with anomalies of their own before those only seen as a
// client of an anomalous edge; then by the minute of their first anomaly
// since the incident opened (the one that changed first is the likelier
// cause; a failure reaches its callers' series within a step or two); then those that call no
// other anomalous service first (errors and latency travel up the call
// graph, so callers are likelier victims); then by their highest score.
//
// Threading: every method may be called from any thread (one mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "detect/detection.h"
#include "detect/rca.h"

namespace ariadne::detect {

struct IncidentOptions {
  // An incident is shown (listed, counted, notified) once confirmed: a
  // second series anomalous, or its first series still anomalous at a later
  // step. One not confirmed within this long of its first anomaly is
  // dropped: a lone blip on one series is noise, and an incident it opened
  // would take the anomalies of a real fault that starts soon after. 0:
  // every incident is confirmed at once.
  uint64_t confirm_window_nanos = 60'000'000'000ull;
  uint64_t group_window_nanos = 5 * 60'000'000'000ull;
  uint64_t quiet_period_nanos = 5 * 60'000'000'000ull;
  size_t max_anomalies_per_incident = 200;
  size_t max_incidents = 1000;  // remembered (oldest resolved dropped first)
};

struct RankedService {
  std::string service;
  uint64_t first_anomaly_nanos = 0;
  double max_score = 0;
  int anomalies = 0;
  bool own = false;               // has anomalies on its own series (not only as a client)
  bool calls_anomalous = false;   // calls a service with anomalies of its own
  std::string evidence;           // one line: what changed first
};

struct Incident {
  uint64_t id = 0;                  // given when confirmed (0 before)
  bool confirmed = false;
  bool open = true;
  uint64_t opened_nanos = 0;        // first anomaly's step
  uint64_t last_anomaly_nanos = 0;
  uint64_t resolved_nanos = 0;      // 0 while open
  double max_score = 0;
  std::vector<Anomaly> anomalies;   // the first max_anomalies_per_incident
  int anomaly_count = 0;
  std::vector<RankedService> ranking;
  // The trace-based ranking (rca.h, root_cause.h), when there is one, and
  // the series time it was made at.
  std::vector<RcaCandidate> root_causes;
  uint64_t root_causes_nanos = 0;
};

class IncidentManager {
 public:
  // `edges`: the service graph (client, server) pairs, asked when an anomaly
  // arrives. `on_change`: called (outside the lock) with every incident that
  // opened, grew or resolved.
  using EdgesFn = std::function<std::vector<std::pair<std::string, std::string>>()>;
  using ChangeFn = std::function<void(const Incident&)>;
  IncidentManager(IncidentOptions options, EdgesFn edges, ChangeFn on_change = {});

  void OnAnomaly(const Anomaly& anomaly);
  // A series already reported is still anomalous: the open incidents that
  // involve its service stay open (their last anomaly moves on).
  void OnOngoing(const Anomaly& anomaly);
  // The series' time moved on to `now`: incidents quiet since then resolve.
  void Advance(uint64_t now_nanos);

  // The newest series time Advance() has seen.
  uint64_t now_nanos() const;
  // Replaces incident `id`'s trace-based ranking (made at series time
  // `at_nanos`); on_change is called with the incident.
  void SetRootCauses(uint64_t id, std::vector<RcaCandidate> candidates, uint64_t at_nanos);

  // Confirmed incidents, newest first; `open_only` leaves resolved ones out.
  std::vector<Incident> Incidents(bool open_only) const;
  std::string MetricsText() const;

 private:
  static void Rank(Incident* incident,
                   const std::vector<std::pair<std::string, std::string>>& edges);
  // Confirms `incident` if `evidence` (a second series, or a series still
  // anomalous) says so; returns whether it became confirmed now.
  bool Confirm(Incident* incident, bool evidence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the unconfirmed incidents whose first anomaly is older than the
  // confirmation window at `now`.
  void DropUnconfirmed(uint64_t now_nanos) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const IncidentOptions options_;
  const EdgesFn edges_;
  const ChangeFn on_change_;
  mutable absl::Mutex mu_;
  std::deque<Incident> incidents_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t opened_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t now_ ABSL_GUARDED_BY(mu_) = 0;
};

// The service an anomaly is about, and the other one involved (edges: the
// client), "" if none.
std::pair<std::string, std::string> AnomalyServices(const Anomaly& anomaly);

}  // namespace ariadne::detect
