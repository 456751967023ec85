#include "eval/faults.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analytics/analytics.h"
#include "common/json_string.h"
#include "common/strings.h"
#include "decode/decode.h"
#include "detect/detection.h"
#include "detect/incidents.h"
#include "detect/rca.h"
#include "model/span_batch.h"
#include "sim/engine.h"
#include "sim/rng.h"

namespace ariadne::eval {

namespace {

constexpr sim::Nanos kMinute = 60 * sim::kSecond;
// Wall-clock time of simulated time 0: any instant works; this one is a
// multiple of the 10 s step, so steps start at whole multiples of 10 s of
// simulated time.
constexpr int64_t kEpoch = 1'700'000'000'000'000'000;
// Root-cause windows, relative to the incident's opened step.
constexpr sim::Nanos kNormalFrom = 10 * kMinute;
constexpr sim::Nanos kNormalTo = 1 * kMinute;
constexpr sim::Nanos kAnomalousTo = 2 * kMinute;
// Span batches are kept this long (the normal window starts 12 minutes
// before the ranking runs).
constexpr sim::Nanos kKeepBatches = 13 * kMinute;
// Resource series: the rate of CPU seconds over this many steps (PromQL's
// rate(...[1m]) at a 10 s step).
constexpr size_t kCpuRateSteps = 6;
// ... read every this often (serve's analytics.prometheus.interval default).
constexpr sim::Nanos kPullInterval = 30 * sim::kSecond;

constexpr sim::Fault::Type kAllTypes[] = {
    sim::Fault::Type::kLatency,       sim::Fault::Type::kSlowdown, sim::Fault::Type::kErrors,
    sim::Fault::Type::kCpuSaturation, sim::Fault::Type::kCrash,    sim::Fault::Type::kLeak,
    sim::Fault::Type::kNetworkDelay,
};

double Mean(const sim::Distribution& d) {
  if (d.kind != sim::Distribution::Kind::kEmpirical) return d.mean_s;
  if (d.samples_s.empty()) return 0;
  double sum = 0;
  for (double s : d.samples_s) sum += s;
  return sum / static_cast<double>(d.samples_s.size());
}

// What the topology's requests reach: services (with the mean work of the
// operations reached) and caller -> callee edges between services.
struct Reach {
  std::vector<bool> service;
  std::vector<double> work_s;
  std::vector<std::pair<int, int>> edges;  // sorted, unique
};

Reach Reachable(const sim::Topology& t) {
  Reach r;
  r.service.assign(t.services.size(), false);
  r.work_s.assign(t.services.size(), 0);
  std::set<std::pair<int, int>> ops_seen;
  std::set<std::pair<int, int>> edges;
  std::vector<std::pair<int, int>> todo;
  for (const sim::RequestType& rq : t.requests) {
    if (rq.weight > 0) todo.emplace_back(rq.service, rq.operation);
  }
  // Each (service, operation) is expanded once: bounded by their number.
  while (!todo.empty()) {
    const auto [s, o] = todo.back();
    todo.pop_back();
    if (!ops_seen.insert({s, o}).second) continue;
    r.service[s] = true;
    const sim::Operation& op = t.services[s].operations[o];
    r.work_s[s] += Mean(op.service_time);
    for (const sim::Step& step : op.steps) {
      for (const sim::Call& call : step.calls) {
        if (call.probability <= 0) continue;
        if (call.service != s) edges.insert({s, call.service});
        todo.emplace_back(call.service, call.operation);
      }
    }
  }
  r.edges.assign(edges.begin(), edges.end());
  return r;
}

// FNV-1a: the random stream of one case, from its topology, type and number.
uint64_t StreamOf(std::string_view topology, sim::Fault::Type type, int k) {
  uint64_t h = 1469598103934665603ull;
  const std::string key = absl::StrCat(AbslView(topology), "/", AbslView(sim::FaultTypeName(type)),
                                       "/", k);
  for (unsigned char ch : key) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

double Draw(sim::Rng& rng, const double (&range)[2]) {
  return range[0] + rng.Uniform() * (range[1] - range[0]);
}

sim::Nanos DrawNanos(sim::Rng& rng, sim::Nanos lo, sim::Nanos hi) {
  // Whole seconds.
  const int64_t lo_s = lo / sim::kSecond, hi_s = std::max(hi / sim::kSecond, lo_s);
  return (lo_s + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(hi_s - lo_s + 1)))) *
         sim::kSecond;
}

bool Multiplies(sim::Fault::Type type) {
  return type == sim::Fault::Type::kSlowdown || type == sim::Fault::Type::kCpuSaturation ||
         type == sim::Fault::Type::kLeak;
}

std::string LabelsText(std::string_view name, const analytics::Labels& labels) {
  std::string out(name);
  out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, labels[i].first, "=", labels[i].second);
  }
  out += '}';
  return out;
}

// One case's pipeline: the engine's sink (decode -> Analytics::PushSpans),
// its ticker (fake wall clock, Analytics::Tick, resource series, root-cause
// ranking when due), and the incidents it saw. Everything runs on the
// simulation's thread.
class CaseRunner : public sim::SpanSink {
 public:
  explicit CaseRunner(const SuiteSettings& settings) : settings_(settings) {
    // As `ariadne serve` wires them (serve_command.cc), with serve's defaults.
    analytics::AnalyticsOptions o;
    analytics_ = std::make_unique<analytics::Analytics>(o, [this] { return wall_; });
    detection_ = std::make_unique<detect::Detection>(detect::DetectionOptions{});
    analytics_->series().SetListener(
        [det = detection_.get()](std::string_view name, const analytics::Labels& labels,
                                 uint64_t t, double v) { det->OnValue(name, labels, t, v); });
    incidents_ = std::make_unique<detect::IncidentManager>(
        detect::IncidentOptions{}, [a = analytics_.get()] { return a->Edges(); },
        [this](const detect::Incident& i) { OnIncident(i); });
    detection_->SetListeners(
        [inc = incidents_.get()](const detect::Anomaly& an) { inc->OnAnomaly(an); },
        [inc = incidents_.get()](uint64_t t) { inc->Advance(t); },
        [inc = incidents_.get()](const detect::Anomaly& an) { inc->OnOngoing(an); });
  }

  void Send(std::string request, int64_t spans) override {
    auto batch = decode::DecodeOtlpProto(std::move(request), decode::Limits{}, nullptr);
    if (!batch.ok()) {
      if (error_.ok()) error_ = batch.status();
      return;
    }
    stats_.requests_sent += 1;
    stats_.spans_sent += spans;
    if (batch->empty()) return;
    Retained r;
    r.min_start = std::numeric_limits<uint64_t>::max();
    for (uint64_t s : batch->start_unix_nano) {
      r.min_start = std::min(r.min_start, s);
      r.max_start = std::max(r.max_start, s);
    }
    r.batch = std::make_shared<const model::SpanBatch>(*std::move(batch));
    analytics_->PushSpans(*r.batch);
    batches_.push_back(std::move(r));
  }
  absl::Status Close(std::chrono::milliseconds) override { return error_; }
  sim::SinkStats stats() const override { return stats_; }

  // Once per simulated second.
  void OnTick(const sim::Engine& engine, sim::Nanos now) {
    now_ = now;
    wall_ = static_cast<uint64_t>(kEpoch + now);
    if (settings_.resources && now % Step() == 0) WriteResources(engine.Snapshot(), now);
    analytics_->Tick();
    RankDue(/*all=*/false);
    const uint64_t keep_from = static_cast<uint64_t>(kEpoch + now - kKeepBatches);
    // Bounded by the number of batches kept.
    while (!batches_.empty() && batches_.front().max_start < keep_from) batches_.pop_front();
  }

  // After the run: the rankings not taken yet are taken now. Analytics is
  // not ticked again: arrivals stopped at the end of the run, and the steps
  // after the last tick would show traffic dying out, which no real
  // application does at the end of an evaluation.
  void Finish(sim::Nanos end) {
    now_ = end;
    RankDue(/*all=*/true);
  }

  absl::Status error() const { return error_; }
  std::vector<ObservedIncident> TakeIncidents() {
    std::vector<ObservedIncident> out;
    for (Tracked& t : tracked_) out.push_back(std::move(t.seen));
    return out;
  }

 private:
  struct Retained {
    std::shared_ptr<const model::SpanBatch> batch;
    uint64_t min_start = 0;
    uint64_t max_start = 0;
  };
  struct Tracked {
    ObservedIncident seen;
    bool ranked = false;
  };

  sim::Nanos Step() const { return static_cast<sim::Nanos>(analytics_->series().step_nanos()); }

  // Called by IncidentManager with every incident that opened, grew or
  // resolved: the first time, it is new; until its ranking is taken, its
  // opened step and ranking are followed.
  void OnIncident(const detect::Incident& i) {
    auto [it, inserted] = index_.try_emplace(i.id, tracked_.size());
    if (inserted) {
      Tracked& t = tracked_.emplace_back();
      t.seen.id = i.id;
      t.seen.opened = static_cast<sim::Nanos>(i.opened_nanos) - kEpoch;
      t.seen.noticed = now_;
    }
    Tracked& t = tracked_[it->second];
    t.seen.total_anomalies = i.anomaly_count;
    t.seen.last_anomaly = static_cast<sim::Nanos>(i.last_anomaly_nanos) - kEpoch;
    if (!i.open) t.seen.resolved = static_cast<sim::Nanos>(i.resolved_nanos) - kEpoch;
    if (t.ranked) return;
    t.seen.opened = std::min(t.seen.opened, static_cast<sim::Nanos>(i.opened_nanos) - kEpoch);
    t.seen.anomalies = i.anomaly_count;
    const detect::Anomaly* first = nullptr;
    for (const detect::Anomaly& a : i.anomalies) {
      if (first == nullptr || a.time_nanos < first->time_nanos) first = &a;
    }
    if (first != nullptr) t.seen.first_anomaly = LabelsText(first->series, first->labels);
    t.seen.ranking.clear();
    for (const detect::RankedService& r : i.ranking) t.seen.ranking.push_back(r.service);
  }

  // Takes the rankings of incidents whose opened + 2 min has passed (all:
  // every incident not ranked yet).
  void RankDue(bool all) {
    for (Tracked& t : tracked_) {
      if (t.ranked || (!all && now_ < t.seen.opened + kAnomalousTo)) continue;
      t.ranked = true;
      t.seen.rca_ranking = RankFromTraces(t.seen.opened);
    }
  }

  std::vector<std::string> RankFromTraces(sim::Nanos opened) const {
    const uint64_t at = static_cast<uint64_t>(kEpoch + opened);
    const uint64_t normal_from = at - kNormalFrom, normal_to = at - kNormalTo;
    const uint64_t anomalous_to = at + kAnomalousTo;
    detect::RcaData data;
    data.normal.start_nanos = normal_from;
    data.normal.end_nanos = normal_to;
    data.anomalous.start_nanos = normal_to;
    data.anomalous.end_nanos = anomalous_to;
    for (const Retained& r : batches_) {
      if (r.max_start < normal_from || r.min_start >= anomalous_to) continue;
      if (r.min_start < normal_to) data.AddBatch(&data.normal, *r.batch, normal_from, normal_to);
      if (r.max_start >= normal_to) {
        data.AddBatch(&data.anomalous, *r.batch, normal_to, anomalous_to);
      }
    }
    for (const char* name : {"cpu_cores", "memory_bytes"}) {
      for (analytics::Series& s : analytics_->series().Query(name, {}, normal_from, anomalous_to)) {
        detect::RcaResource res;
        res.name = name;
        for (const auto& [k, v] : s.labels) {
          if (k == "service") res.service = v;
        }
        if (res.service.empty()) continue;
        for (const analytics::Point& p : s.points) {
          res.times.push_back(p.time_nanos);
          res.values.push_back(p.value);
        }
        data.resources.push_back(std::move(res));
      }
    }
    std::vector<std::string> out;
    for (const detect::RcaCandidate& c : detect::RankRootCauses(data)) out.push_back(c.service);
    return out;
  }

  // cpu_cores and memory_bytes per service, as ResourcePuller writes them
  // from Prometheus (DefaultResourceQueries): the rate of the pods' CPU
  // seconds over the last minute, and the sum of their working sets, one
  // sample per step (a service without pods has none). Like the puller at
  // serve's default interval, they reach the series store every 30 s.
  void WriteResources(const sim::ClusterSnapshot& snap, sim::Nanos now) {
    std::map<std::string, double> cpu, memory;
    for (const sim::PodStatus& p : snap.pods) {
      auto [it, inserted] = pod_cpu_.try_emplace(p.pod, 0.0);
      const double prev = it->second;
      // A counter that went down was reset (a restarted container).
      cpu[p.deployment] += p.cpu_seconds_total >= prev ? p.cpu_seconds_total - prev
                                                       : p.cpu_seconds_total;
      it->second = p.cpu_seconds_total;
      memory[p.deployment] += p.memory_working_set_bytes;
    }
    if (now == 0) return;  // the counters' first reading
    const uint64_t t = static_cast<uint64_t>(kEpoch + now);
    for (const auto& [service, used] : cpu) {
      std::deque<double>& window = cpu_steps_[service];
      window.push_back(used);
      while (window.size() > kCpuRateSteps) window.pop_front();
      double sum = 0;
      for (double v : window) sum += v;
      const double seconds = static_cast<double>(window.size()) *
                             static_cast<double>(Step()) / static_cast<double>(sim::kSecond);
      pending_resources_.push_back({"cpu_cores", service, t, sum / seconds});
      pending_resources_.push_back({"memory_bytes", service, t, memory[service]});
    }
    if (now % kPullInterval != 0) return;
    for (const PendingSample& p : pending_resources_) {
      analytics_->series().Set(p.name, {{"service", p.service}}, p.time_nanos, p.value);
    }
    pending_resources_.clear();
  }

  const SuiteSettings settings_;
  uint64_t wall_ = static_cast<uint64_t>(kEpoch);  // the fake wall clock
  sim::Nanos now_ = 0;
  // Declared in serve's order: analytics goes first, then what it calls.
  std::unique_ptr<detect::IncidentManager> incidents_;
  std::unique_ptr<detect::Detection> detection_;
  std::unique_ptr<analytics::Analytics> analytics_;
  std::deque<Retained> batches_;
  std::vector<Tracked> tracked_;
  absl::flat_hash_map<uint64_t, size_t> index_;  // incident id -> tracked_
  std::map<std::string, double> pod_cpu_;        // pod -> CPU seconds at the last step
  std::map<std::string, std::deque<double>> cpu_steps_;  // service -> CPU seconds per step
  struct PendingSample {
    const char* name;
    std::string service;
    uint64_t time_nanos;
    double value;
  };
  std::vector<PendingSample> pending_resources_;  // not pulled yet
  sim::SinkStats stats_;
  absl::Status error_;
};

int RankOf(const std::vector<std::string>& ranking, const FaultCase& c) {
  for (size_t i = 0; i < ranking.size(); ++i) {
    if (ranking[i] == c.service || (!c.caller.empty() && ranking[i] == c.caller)) {
      return static_cast<int>(i) + 1;
    }
  }
  return 0;
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest rank: the smallest value with at least p of the values at or below it.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string Seconds(double s) { return s < 0 ? "–" : absl::StrFormat("%.0f", s); }
std::string Ratio(double r) { return absl::StrFormat("%.2f", r); }

void WriteTableHeader(std::string_view first, std::ostream& out) {
  out << "| " << first
      << " | faults | detected | incidents (TP / FP) | precision | recall | F1 "
         "| delay median / p90 (s) | noticed median / p90 (s) "
         "| AC@1 | AC@3 | Avg@5 | trace AC@1 | trace AC@3 | trace Avg@5 |\n"
      << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
}

void WriteRow(std::string_view name, const GroupScores& g, std::ostream& out) {
  out << "| " << name << " | " << g.faults << " | " << g.detected << " | " << g.incidents << " ("
      << g.true_positives << " / " << g.false_positives << ") | " << Ratio(g.precision) << " | "
      << Ratio(g.recall) << " | " << Ratio(g.f1) << " | " << Seconds(g.median_delay_s) << " / "
      << Seconds(g.p90_delay_s) << " | " << Seconds(g.median_notice_s) << " / "
      << Seconds(g.p90_notice_s) << " | " << Ratio(g.ac1) << " | " << Ratio(g.ac3) << " | "
      << Ratio(g.avg5) << " | " << Ratio(g.rca_ac1) << " | " << Ratio(g.rca_ac3) << " | "
      << Ratio(g.rca_avg5) << " |\n";
}


void AppendJsonStrings(std::string* out, const std::vector<std::string>& v, size_t max) {
  out->push_back('[');
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, v[i]);
  }
  out->push_back(']');
}

void AppendJsonScores(std::string* out, const GroupScores& g) {
  absl::StrAppendFormat(
      out,
      "{\"faults\":%d,\"detected\":%d,\"incidents\":%d,\"true_positives\":%d,"
      "\"false_positives\":%d,\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f,"
      "\"median_delay_s\":%.1f,\"p90_delay_s\":%.1f,\"median_noticed_s\":%.1f,"
      "\"p90_noticed_s\":%.1f,\"ac1\":%.4f,\"ac3\":%.4f,\"avg5\":%.4f,\"trace_ac1\":%.4f,"
      "\"trace_ac3\":%.4f,\"trace_avg5\":%.4f}",
      g.faults, g.detected, g.incidents, g.true_positives, g.false_positives, g.precision,
      g.recall, g.f1, g.median_delay_s, g.p90_delay_s, g.median_notice_s, g.p90_notice_s, g.ac1,
      g.ac3, g.avg5, g.rca_ac1, g.rca_ac3, g.rca_avg5);
}

}  // namespace

absl::StatusOr<sim::Fault::Type> ParseFaultType(std::string_view name) {
  for (sim::Fault::Type t : kAllTypes) {
    if (sim::FaultTypeName(t) == name) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fault type '", AbslView(name),
                   "' (latency, slowdown, errors, cpu_saturation, crash, leak, network_delay)"));
}

absl::StatusOr<std::vector<FaultCase>> GenerateFaultSuite(const SuiteOptions& options) {
  const SuiteSettings& s = options.settings;
  if (options.per_type < 1) return absl::InvalidArgumentError("per_type must be at least 1");
  if (s.min_duration <= 0 || s.max_duration < s.min_duration || s.warmup < 0 ||
      s.max_start_offset < 0 || s.tail < 0 || !(s.min_rps > 0) || s.max_rps < s.min_rps) {
    return absl::InvalidArgumentError("inconsistent suite settings");
  }
  const std::vector<std::string> topologies =
      options.topologies.empty() ? sim::BuiltinTopologyNames() : options.topologies;
  const std::vector<sim::Fault::Type> types =
      options.types.empty() ? std::vector<sim::Fault::Type>(std::begin(kAllTypes), std::end(kAllTypes))
                            : options.types;
  std::vector<FaultCase> out;
  for (const std::string& name : topologies) {
    auto topology = sim::LoadTopology(name);
    if (!topology.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("topology ", name, ": ", topology.status().message()));
    }
    const Reach reach = Reachable(*topology);
    for (sim::Fault::Type type : types) {
      std::vector<int> services;
      for (size_t i = 0; i < topology->services.size(); ++i) {
        if (reach.service[i] && (!Multiplies(type) || reach.work_s[i] > 0)) {
          services.push_back(static_cast<int>(i));
        }
      }
      const bool edge = type == sim::Fault::Type::kNetworkDelay;
      if (edge ? reach.edges.empty() : services.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("topology ", name, " has no target for ",
                                                       AbslView(sim::FaultTypeName(type))));
      }
      for (int k = 0; k < options.per_type; ++k) {
        sim::Rng rng(options.seed, StreamOf(name, type, k));
        FaultCase c;
        c.topology = name;
        c.sim_seed = rng.Next();
        sim::Fault& f = c.fault;
        f.id = absl::StrCat(name, "-", AbslView(sim::FaultTypeName(type)), "-", k + 1);
        f.type = type;
        if (edge) {
          const auto [caller, callee] = reach.edges[rng.Below(reach.edges.size())];
          f.caller = caller;
          f.callee = callee;
          c.service = topology->services[callee].name;
          c.caller = topology->services[caller].name;
        } else {
          f.service = services[rng.Below(services.size())];
          c.service = topology->services[f.service].name;
        }
        f.start = DrawNanos(rng, s.warmup, s.warmup + s.max_start_offset);
        f.duration = DrawNanos(rng, s.min_duration, s.max_duration);
        switch (type) {
          case sim::Fault::Type::kLatency:
            f.latency = static_cast<sim::Nanos>(std::round(Draw(rng, s.latency_ms))) * sim::kMillisecond;
            c.magnitude = absl::StrCat("+", f.latency / sim::kMillisecond, "ms");
            break;
          case sim::Fault::Type::kSlowdown:
            f.factor = Draw(rng, s.slowdown_factor);
            c.magnitude = absl::StrFormat("x%.1f service time", f.factor);
            break;
          case sim::Fault::Type::kErrors:
            f.rate = Draw(rng, s.error_rate);
            c.magnitude = absl::StrFormat("%.0f%% errors", 100 * f.rate);
            break;
          case sim::Fault::Type::kCpuSaturation:
            f.factor = Draw(rng, s.cpu_factor);
            c.magnitude = absl::StrFormat("x%.1f slower, CPU pinned", f.factor);
            break;
          case sim::Fault::Type::kCrash:
            f.replicas = std::max(topology->services[f.service].replicas, 1);
            c.magnitude = absl::StrCat(f.replicas, " of ", f.replicas, " replicas down");
            break;
          case sim::Fault::Type::kLeak:
            f.rate = Draw(rng, s.leak_rate);
            f.leak_bytes_per_second = Draw(rng, s.leak_mib_per_second) * (1 << 20);
            c.magnitude = absl::StrFormat("+%.1f%%/s work, %.1f MiB/s", 100 * f.rate,
                                          f.leak_bytes_per_second / (1 << 20));
            break;
          case sim::Fault::Type::kNetworkDelay:
            f.latency = static_cast<sim::Nanos>(std::round(Draw(rng, s.network_ms))) * sim::kMillisecond;
            c.magnitude = absl::StrCat("+", f.latency / sim::kMillisecond, "ms each way");
            break;
        }
        c.rps = std::round(s.min_rps + rng.Uniform() * (s.max_rps - s.min_rps));
        c.run_duration = f.end() + s.tail;
        c.index = static_cast<int>(out.size());
        out.push_back(std::move(c));
      }
    }
  }
  return out;
}

absl::StatusOr<CaseRun> RunFaultCase(const FaultCase& c, const SuiteSettings& settings) {
  auto topology = sim::LoadTopology(c.topology);
  if (!topology.ok()) return topology.status();
  const auto wall0 = std::chrono::steady_clock::now();
  sim::SimOptions o;
  o.seed = c.sim_seed;
  o.duration = c.run_duration;
  o.profile = sim::RateProfile::Constant(c.rps);
  o.speed = 0;
  o.epoch_unix_nano = kEpoch;
  o.faults = {c.fault};
  // Smaller export requests than `ariadne sim --as-fast-as-possible` sends,
  // so spans reach analytics within about a simulated second, as a paced
  // exporter's would.
  o.batch_spans = 1024;
  CaseRunner runner(settings);
  sim::Engine engine(*topology, o, &runner);
  engine.SetTicker(sim::kSecond,
                   [&runner](sim::Engine& e, sim::Nanos now) { runner.OnTick(e, now); });
  const sim::Summary summary = engine.Run();
  runner.Finish(c.run_duration);
  if (!runner.error().ok()) return runner.error();
  CaseRun run;
  run.incidents = runner.TakeIncidents();
  run.spans = summary.spans;
  run.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return run;
}

CaseScore ScoreCase(const FaultCase& c, const CaseRun& run, const SuiteSettings& settings,
                    sim::Nanos step) {
  CaseScore s;
  (void)step;
  for (const ObservedIncident& i : run.incidents) {
    if (i.noticed < settings.warmup) continue;
    ++s.incidents;
    // Shown (confirmed) once the fault had begun, and opened before its end
    // plus the grace: an engineer paged because of the fault. Its first
    // anomaly may be a step or two older (a blip the fault confirmed).
    const bool tp = i.noticed >= c.fault.start && i.opened <= c.fault.end() + settings.grace;
    if (!tp) {
      ++s.false_positives;
      continue;
    }
    ++s.true_positives;
    if (s.detected) continue;
    s.detected = true;
    s.delay_s = static_cast<double>(std::max<sim::Nanos>(i.opened - c.fault.start, 0)) / 1e9;
    s.notice_delay_s = static_cast<double>(i.noticed - c.fault.start) / 1e9;
    s.rank = RankOf(i.ranking, c);
    s.rca_rank = RankOf(i.rca_ranking, c);
  }
  return s;
}

GroupScores Summarize(std::span<const CaseScore> scores) {
  GroupScores g;
  std::vector<double> delays, notices;
  double ac1 = 0, ac3 = 0, avg5 = 0, rca_ac1 = 0, rca_ac3 = 0, rca_avg5 = 0;
  auto avg = [](int rank) { return rank >= 1 && rank <= 5 ? (6.0 - rank) / 5.0 : 0.0; };
  for (const CaseScore& s : scores) {
    ++g.faults;
    g.incidents += s.incidents;
    g.true_positives += s.true_positives;
    g.false_positives += s.false_positives;
    if (!s.detected) continue;
    ++g.detected;
    delays.push_back(s.delay_s);
    notices.push_back(s.notice_delay_s);
    ac1 += s.rank == 1;
    ac3 += s.rank >= 1 && s.rank <= 3;
    avg5 += avg(s.rank);
    rca_ac1 += s.rca_rank == 1;
    rca_ac3 += s.rca_rank >= 1 && s.rca_rank <= 3;
    rca_avg5 += avg(s.rca_rank);
  }
  if (g.incidents > 0) g.precision = static_cast<double>(g.true_positives) / g.incidents;
  if (g.faults > 0) {
    const double n = g.faults;
    g.recall = g.detected / n;
    g.ac1 = ac1 / n;
    g.ac3 = ac3 / n;
    g.avg5 = avg5 / n;
    g.rca_ac1 = rca_ac1 / n;
    g.rca_ac3 = rca_ac3 / n;
    g.rca_avg5 = rca_avg5 / n;
  }
  if (g.precision + g.recall > 0) g.f1 = 2 * g.precision * g.recall / (g.precision + g.recall);
  g.median_delay_s = Median(delays);
  g.p90_delay_s = Percentile(delays, 0.9);
  g.median_notice_s = Median(notices);
  g.p90_notice_s = Percentile(notices, 0.9);
  return g;
}

void WriteFaultReport(std::span<const FaultCase> cases, std::span<const CaseScore> scores,
                      std::ostream& out) {
  WriteTableHeader("suite", out);
  WriteRow("all", Summarize(scores), out);
  out << "\n";
  WriteTableHeader("fault type", out);
  for (sim::Fault::Type type : kAllTypes) {
    std::vector<CaseScore> group;
    for (size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].fault.type == type) group.push_back(scores[i]);
    }
    if (!group.empty()) WriteRow(sim::FaultTypeName(type), Summarize(group), out);
  }
  out << "\n";
  WriteTableHeader("topology", out);
  std::vector<std::string> topologies;
  for (const FaultCase& c : cases) {
    if (std::find(topologies.begin(), topologies.end(), c.topology) == topologies.end()) {
      topologies.push_back(c.topology);
    }
  }
  for (const std::string& t : topologies) {
    std::vector<CaseScore> group;
    for (size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].topology == t) group.push_back(scores[i]);
    }
    WriteRow(t, Summarize(group), out);
  }
}

std::string ProgressLine(const FaultCase& c, const CaseRun& run, const CaseScore& s) {
  std::string target = c.caller.empty() ? c.service : absl::StrCat(c.caller, "->", c.service);
  std::string line = absl::StrCat(c.topology, " ", AbslView(sim::FaultTypeName(c.fault.type)), " ",
                                  target, " (", c.magnitude, "): ");
  if (s.detected) {
    absl::StrAppendFormat(&line, "detected, delay %.0f s (noticed %.0f s), rank %d, trace rank %d",
                          s.delay_s, s.notice_delay_s, s.rank, s.rca_rank);
  } else {
    line += "missed";
  }
  absl::StrAppendFormat(&line, "; %d incidents, %d FP; %.1f s", s.incidents, s.false_positives,
                        run.wall_seconds);
  return line;
}

std::string FaultReportJson(const SuiteOptions& options, std::span<const FaultCase> cases,
                            std::span<const CaseRun> runs, std::span<const CaseScore> scores) {
  const SuiteSettings& st = options.settings;
  std::string out;
  absl::StrAppendFormat(&out,
                        "{\"seed\":%d,\"per_type\":%d,\"warmup_s\":%d,\"grace_s\":%d,"
                        "\"tail_s\":%d,\"resources\":%s,\"overall\":",
                        options.seed, options.per_type, st.warmup / sim::kSecond,
                        st.grace / sim::kSecond, st.tail / sim::kSecond,
                        st.resources ? "true" : "false");
  AppendJsonScores(&out, Summarize(scores));
  out += ",\"cases\":[";
  for (size_t i = 0; i < cases.size(); ++i) {
    const FaultCase& c = cases[i];
    const CaseRun& r = runs[i];
    const CaseScore& s = scores[i];
    if (i > 0) out += ',';
    out += "\n{\"index\":";
    absl::StrAppend(&out, c.index, ",\"topology\":");
    AppendJsonString(&out, c.topology);
    out += ",\"type\":";
    AppendJsonString(&out, sim::FaultTypeName(c.fault.type));
    out += ",\"service\":";
    AppendJsonString(&out, c.service);
    if (!c.caller.empty()) {
      out += ",\"caller\":";
      AppendJsonString(&out, c.caller);
    }
    out += ",\"magnitude\":";
    AppendJsonString(&out, c.magnitude);
    absl::StrAppendFormat(
        &out,
        ",\"start_s\":%d,\"duration_s\":%d,\"run_s\":%d,\"rps\":%.0f,\"sim_seed\":%d,"
        "\"detected\":%s,\"delay_s\":%.1f,\"noticed_s\":%.1f,\"incidents\":%d,"
        "\"true_positives\":%d,\"false_positives\":%d,\"rank\":%d,\"trace_rank\":%d,"
        "\"spans\":%d,\"wall_s\":%.2f,\"incident_list\":[",
        c.fault.start / sim::kSecond, c.fault.duration / sim::kSecond,
        c.run_duration / sim::kSecond, c.rps, c.sim_seed, s.detected ? "true" : "false",
        s.delay_s, s.notice_delay_s, s.incidents, s.true_positives, s.false_positives, s.rank,
        s.rca_rank, r.spans, r.wall_seconds);
    for (size_t k = 0; k < r.incidents.size(); ++k) {
      const ObservedIncident& inc = r.incidents[k];
      if (k > 0) out += ',';
      absl::StrAppendFormat(&out,
                            "{\"id\":%d,\"opened_s\":%.0f,\"noticed_s\":%.0f,\"anomalies\":%d,"
                            "\"total_anomalies\":%d,\"last_anomaly_s\":%.0f,\"resolved_s\":%.0f,",
                            inc.id, static_cast<double>(inc.opened) / 1e9,
                            static_cast<double>(inc.noticed) / 1e9, inc.anomalies,
                            inc.total_anomalies, static_cast<double>(inc.last_anomaly) / 1e9,
                            static_cast<double>(inc.resolved) / 1e9);
      out += "\"first_anomaly\":";
      AppendJsonString(&out, inc.first_anomaly);
      out += ",\"ranking\":";
      AppendJsonStrings(&out, inc.ranking, 5);
      out += ",\"trace_ranking\":";
      AppendJsonStrings(&out, inc.rca_ranking, 5);
      out += '}';
    }
    out += "]}";
  }
  out += "\n]}\n";
  return out;
}

}  // namespace ariadne::eval
