#include "detect/incidents.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "analytics/red.h"
#include "common/strings.h"

namespace ariadne::detect {

namespace {

constexpr uint64_t kFirstTolerance = 60'000'000'000ull;

std::string Label(const analytics::Labels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return "";
}

std::string Describe(const Anomaly& a) {
  return absl::StrCat(a.series, " ", AbslView(ReasonName(a.verdict.reason)), ": ", a.value,
                      " (expected ", a.verdict.expected_low, " to ", a.verdict.expected_high, ")");
}

}  // namespace

std::pair<std::string, std::string> AnomalyServices(const Anomaly& a) {
  std::string service = Label(a.labels, "service");
  if (!service.empty()) return {service, ""};
  return {Label(a.labels, "server"), Label(a.labels, "client")};
}

IncidentManager::IncidentManager(IncidentOptions options, EdgesFn edges, ChangeFn on_change)
    : options_(options), edges_(std::move(edges)), on_change_(std::move(on_change)) {}

void IncidentManager::Rank(Incident* incident,
                           const std::vector<std::pair<std::string, std::string>>& edges) {
  std::vector<RankedService> ranking;
  auto entry = [&](const std::string& service) -> RankedService& {
    for (RankedService& r : ranking) {
      if (r.service == service) return r;
    }
    RankedService& r = ranking.emplace_back();
    r.service = service;
    r.first_anomaly_nanos = UINT64_MAX;
    return r;
  };
  for (const Anomaly& a : incident->anomalies) {
    const auto [service, client] = AnomalyServices(a);
    if (service.empty()) continue;
    RankedService& r = entry(service);
    r.own = true;
    ++r.anomalies;
    r.max_score = std::max(r.max_score, a.verdict.score);
    if (a.time_nanos < r.first_anomaly_nanos) {
      r.first_anomaly_nanos = a.time_nanos;
      r.evidence = Describe(a);
    }
    if (!client.empty()) {
      RankedService& c = entry(client);
      ++c.anomalies;
      c.max_score = std::max(c.max_score, a.verdict.score);
      if (a.time_nanos < c.first_anomaly_nanos) {
        c.first_anomaly_nanos = a.time_nanos;
        c.evidence = absl::StrCat("calls ", service, ": ", Describe(a));
      }
    }
  }
  // Errors and latency travel up the call graph: a service that calls an
  // anomalous service is more likely a victim than a cause.
  std::set<std::string> anomalous;
  for (const RankedService& r : ranking) {
    if (r.own) anomalous.insert(r.service);
  }
  for (RankedService& r : ranking) {
    for (const auto& [client, server] : edges) {
      if (client == r.service && server != r.service && anomalous.count(server)) {
        r.calls_anomalous = true;
        break;
      }
    }
  }
  // "First" at the resolution of a minute: a failure shows in the callee's
  // and its callers' series within a step or two of each other.
  auto bucket = [&](const RankedService& r) {
    return (r.first_anomaly_nanos - incident->opened_nanos) / kFirstTolerance;
  };
  std::sort(ranking.begin(), ranking.end(), [&](const RankedService& a, const RankedService& b) {
    if (a.own != b.own) return a.own;
    if (bucket(a) != bucket(b)) return bucket(a) < bucket(b);
    if (a.calls_anomalous != b.calls_anomalous) return !a.calls_anomalous;
    if (a.first_anomaly_nanos != b.first_anomaly_nanos) {
      return a.first_anomaly_nanos < b.first_anomaly_nanos;
    }
    if (a.max_score != b.max_score) return a.max_score > b.max_score;
    return a.service < b.service;
  });
  incident->ranking = std::move(ranking);
}

void IncidentManager::OnAnomaly(const Anomaly& a) {
  const auto [service, client] = AnomalyServices(a);
  std::vector<std::pair<std::string, std::string>> edges;
  if (edges_) edges = edges_();
  auto neighbours = [&](const std::string& s) {
    std::set<std::string> out = {s};
    for (const auto& [c, sv] : edges) {
      if (c == s) out.insert(sv);
      if (sv == s) out.insert(c);
    }
    return out;
  };
  std::set<std::string> near = neighbours(service);
  if (!client.empty()) near.merge(neighbours(client));
  Incident changed;
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    DropUnconfirmed(a.time_nanos);
    // Every incident the anomaly is close to in time and in the graph; if
    // it connects several, they become one (the oldest).
    std::vector<size_t> matches;
    for (size_t k = 0; k < incidents_.size(); ++k) {
      const Incident& inc = incidents_[k];
      // Close in time: within the group window of the incident's span. A
      // resolved incident still takes an anomaly from its own time (series
      // derived from whole traces are written later than span series).
      if (a.time_nanos > inc.last_anomaly_nanos + options_.group_window_nanos ||
          a.time_nanos + options_.group_window_nanos < inc.opened_nanos) {
        continue;
      }
      for (const RankedService& r : inc.ranking) {
        if (near.count(r.service)) {
          matches.push_back(k);
          break;
        }
      }
    }
    Incident* target = matches.empty() ? nullptr : &incidents_[matches.front()];
    for (size_t m = matches.size(); m-- > 1;) {
      Incident& other = incidents_[matches[m]];
      target->opened_nanos = std::min(target->opened_nanos, other.opened_nanos);
      target->last_anomaly_nanos = std::max(target->last_anomaly_nanos, other.last_anomaly_nanos);
      target->max_score = std::max(target->max_score, other.max_score);
      target->anomaly_count += other.anomaly_count;
      target->open = target->open || other.open;
      if (target->open) target->resolved_nanos = 0;
      if (target->id == 0 || (other.id != 0 && other.id < target->id)) target->id = other.id;
      target->confirmed = target->confirmed || other.confirmed;
      for (Anomaly& o : other.anomalies) {
        if (target->anomalies.size() < options_.max_anomalies_per_incident) {
          target->anomalies.push_back(std::move(o));
        }
      }
      incidents_.erase(incidents_.begin() + static_cast<ptrdiff_t>(matches[m]));
    }
    if (target == nullptr) {
      Incident& fresh = incidents_.emplace_back();
      fresh.opened_nanos = a.time_nanos;
      target = &fresh;
      // Forget the oldest, resolved first.
      while (incidents_.size() > options_.max_incidents) {
        auto victim = std::find_if(incidents_.begin(), incidents_.end(),
                                   [](const Incident& i) { return !i.open; });
        incidents_.erase(victim != incidents_.end() ? victim : incidents_.begin());
        target = &incidents_.back();
      }
    }
    target->opened_nanos = std::min(target->opened_nanos, a.time_nanos);
    target->last_anomaly_nanos = std::max(target->last_anomaly_nanos, a.time_nanos);
    target->max_score = std::max(target->max_score, a.verdict.score);
    ++target->anomaly_count;
    if (target->anomalies.size() < options_.max_anomalies_per_incident) {
      target->anomalies.push_back(a);
    }
    Rank(target, edges);
    // Confirmed by a second series.
    bool second_series = false;
    for (const Anomaly& o : target->anomalies) {
      if (o.series != a.series || o.labels != a.labels) second_series = true;
    }
    Confirm(target, second_series);
    if (target->confirmed) {
      changed = *target;
      notify = true;
    }
  }
  if (notify && on_change_) on_change_(changed);
}

bool IncidentManager::Confirm(Incident* incident, bool evidence) {
  if (incident->confirmed || !(evidence || options_.confirm_window_nanos == 0)) return false;
  incident->confirmed = true;
  incident->id = next_id_++;
  ++opened_total_;
  return true;
}

void IncidentManager::DropUnconfirmed(uint64_t now) {
  std::erase_if(incidents_, [&](const Incident& i) {
    return !i.confirmed && i.opened_nanos + options_.confirm_window_nanos < now;
  });
}

void IncidentManager::OnOngoing(const Anomaly& a) {
  const auto [service, client] = AnomalyServices(a);
  std::vector<Incident> confirmed;
  {
    absl::MutexLock lock(&mu_);
    for (Incident& i : incidents_) {
      if (!i.open || a.time_nanos > i.last_anomaly_nanos + options_.quiet_period_nanos) continue;
      for (const RankedService& r : i.ranking) {
        if (r.own && r.service == service) {
          i.last_anomaly_nanos = std::max(i.last_anomaly_nanos, a.time_nanos);
          break;
        }
      }
      // Confirmed by a series still anomalous at a later step.
      if (!i.confirmed) {
        for (const Anomaly& o : i.anomalies) {
          if (o.series == a.series && o.labels == a.labels && a.time_nanos > o.time_nanos) {
            if (Confirm(&i, true)) confirmed.push_back(i);
            break;
          }
        }
      }
    }
  }
  if (on_change_) {
    for (const Incident& i : confirmed) on_change_(i);
  }
}

void IncidentManager::Advance(uint64_t now) {
  std::vector<Incident> resolved;
  {
    absl::MutexLock lock(&mu_);
    now_ = std::max(now_, now);
    DropUnconfirmed(now);
    for (Incident& i : incidents_) {
      if (i.confirmed && i.open && now >= i.last_anomaly_nanos + options_.quiet_period_nanos) {
        i.open = false;
        i.resolved_nanos = now;
        resolved.push_back(i);
      }
    }
  }
  if (on_change_) {
    for (const Incident& i : resolved) on_change_(i);
  }
}

uint64_t IncidentManager::now_nanos() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void IncidentManager::SetRootCauses(uint64_t id, std::vector<RcaCandidate> candidates,
                                    uint64_t at_nanos) {
  std::optional<Incident> changed;
  {
    absl::MutexLock lock(&mu_);
    for (Incident& i : incidents_) {
      if (i.id != id || !i.confirmed) continue;
      i.root_causes = std::move(candidates);
      i.root_causes_nanos = at_nanos;
      changed = i;
    }
  }
  if (changed && on_change_) on_change_(*changed);
}

std::vector<Incident> IncidentManager::Incidents(bool open_only) const {
  absl::MutexLock lock(&mu_);
  std::vector<Incident> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
    if (it->confirmed && (!open_only || it->open)) out.push_back(*it);
  }
  return out;
}

std::string IncidentManager::MetricsText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  size_t open = 0;
  for (const Incident& i : incidents_) open += i.confirmed && i.open;
  analytics::AppendFamily(&out, "ariadne_incidents_open", "gauge", "Incidents open now.");
  analytics::AppendSample(&out, "ariadne_incidents_open", {}, static_cast<double>(open));
  analytics::AppendFamily(&out, "ariadne_incidents_total", "counter", "Incidents opened.");
  analytics::AppendSample(&out, "ariadne_incidents_total", {}, static_cast<double>(opened_total_));
  return out;
}

}  // namespace ariadne::detect
