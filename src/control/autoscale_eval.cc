#include "control/autoscale_eval.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "control/queueing.h"
#include "control/span_meter.h"
#include "decode/decode.h"
#include "sim/engine.h"

namespace ariadne::control {
namespace {

constexpr int64_t kEpoch = 1'700'000'000'000'000'000;  // simulated time 0 in the spans' clock
constexpr double kInterval = 15;                        // control interval, seconds
constexpr double kMinute = 60;
constexpr size_t kMaxDecisions = 20000;                 // kept per run

struct ScenarioDef {
  const char* name;
  double minutes;
};
constexpr ScenarioDef kScenarios[] = {{"diurnal", 40}, {"spike", 30}, {"ramp", 40}, {"fault", 30}};

double NominalPeak(std::string_view topology) {
  if (topology == "online-boutique") return 800;
  if (topology == "social-network") return 2000;
  return 0;
}

// Called by some service, calling at least one instrumented service.
int MidTierService(const sim::Topology& t) {
  std::vector<bool> called(t.services.size(), false), calls(t.services.size(), false);
  for (size_t s = 0; s < t.services.size(); ++s) {
    for (const sim::Operation& op : t.services[s].operations) {
      for (const sim::Step& step : op.steps) {
        for (const sim::Call& c : step.calls) {
          if (c.service != static_cast<int>(s)) called[c.service] = true;
          if (t.services[c.service].instrumented && c.service != static_cast<int>(s)) {
            calls[s] = true;
          }
        }
      }
    }
  }
  const std::vector<double> busy = sim::ExpectedBusyWorkers(t, 100);
  int best = -1;
  for (size_t s = 0; s < t.services.size(); ++s) {
    if (!called[s] || !calls[s] || !t.services[s].instrumented) continue;
    if (best < 0 || busy[s] > busy[best]) best = static_cast<int>(s);
  }
  return best;
}

// The span sink of an `ariadne` run: decodes each export request, as a
// collector would, and feeds the meter.
class MeterSink : public sim::SpanSink {
 public:
  explicit MeterSink(SpanMeter* meter) : meter_(meter) {}
  void Send(std::string request, int64_t spans) override {
    auto batch = decode::DecodeOtlpProto(std::move(request), decode::Limits{}, nullptr);
    if (!batch.ok()) {
      if (error_.ok()) error_ = batch.status();
      return;
    }
    stats_.requests_sent += 1;
    stats_.spans_sent += spans;
    meter_->PushSpans(*batch);
  }
  absl::Status Close(std::chrono::milliseconds) override { return error_; }
  sim::SinkStats stats() const override { return stats_; }

 private:
  SpanMeter* meter_;
  absl::Status error_;
  sim::SinkStats stats_;
};

// Pods' CPU samples between syncs, as metrics-server would give them.
class PodTracker {
 public:
  std::vector<HpaPod> Pods(const sim::ClusterSnapshot& snap, const std::string& deployment,
                           double cpu_request, double now_s) {
    std::vector<HpaPod> out;
    for (const sim::PodStatus& p : snap.pods) {
      if (p.deployment != deployment) continue;
      Known& k = known_[p.pod];
      if (!k.seen) {
        k.seen = true;
        k.start_s = now_s;
        k.ready_transition_s = now_s;
        k.ready = p.ready;
      } else if (k.ready != p.ready) {
        k.ready = p.ready;
        k.ready_transition_s = now_s;
      }
      HpaPod h;
      h.name = p.pod;
      h.ready = p.ready;
      h.terminating = p.terminating;
      h.cpu_request = cpu_request;
      h.start_s = k.start_s;
      h.ready_transition_s = k.ready_transition_s;
      if (k.has_sample && now_s > k.sample_s) {
        h.has_metric = true;
        h.metric_window_s = now_s - k.sample_s;
        h.cpu_cores = std::max(p.cpu_seconds_total - k.cpu_s, 0.0) / h.metric_window_s;
        h.metric_time_s = now_s;
      }
      k.has_sample = true;
      k.sample_s = now_s;
      k.cpu_s = p.cpu_seconds_total;
      out.push_back(std::move(h));
    }
    return out;
  }

 private:
  struct Known {
    bool seen = false;
    bool ready = false;
    double start_s = 0;
    double ready_transition_s = 0;
    bool has_sample = false;
    double sample_s = 0;
    double cpu_s = 0;
  };
  std::map<std::string, Known> known_;  // pods are never reused; bounded by pods created
};

std::vector<bool> ScaledServices(const sim::Topology& t) {
  std::vector<bool> scaled;
  for (const sim::Service& s : t.services) scaled.push_back(s.instrumented);
  return scaled;
}

int ScaledReplicas(const sim::ClusterSnapshot& snap, const std::vector<bool>& scaled,
                   const sim::Topology& t) {
  int n = 0;
  for (const sim::DeploymentStatus& d : snap.deployments) {
    const int s = t.FindService(d.name);
    if (s >= 0 && scaled[s]) n += d.status_replicas;
  }
  return n;
}

void ProfileStats(const sim::RateProfile& p, sim::Nanos duration, double* peak, double* mean) {
  double sum = 0, max = 0;
  int n = 0;
  for (sim::Nanos t = 0; t < duration; t += sim::kSecond) {  // bounded by the duration
    const double r = p.RateAt(t);
    sum += r;
    max = std::max(max, r);
    ++n;
  }
  *peak = max;
  *mean = n > 0 ? sum / n : 0;
}

}  // namespace

std::vector<std::string> AutoscaleScenarioNames() {
  std::vector<std::string> names;
  for (const ScenarioDef& s : kScenarios) names.push_back(s.name);
  return names;
}

absl::StatusOr<std::vector<RunSpec>> MakeAutoscaleRuns(const AutoscaleSuiteOptions& options) {
  std::vector<std::string> scenarios =
      options.scenarios.empty() ? AutoscaleScenarioNames() : options.scenarios;
  std::vector<std::string> topologies = options.topologies;
  if (topologies.empty()) topologies = {"online-boutique", "social-network"};
  std::vector<RunSpec> runs;
  for (const std::string& tn : topologies) {
    const double peak = NominalPeak(tn) * options.rate_scale;
    if (peak <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown topology for the autoscaling suite: '", tn,
          "' (online-boutique, social-network)"));
    }
    auto topology = sim::LoadTopology(tn);
    if (!topology.ok()) return topology.status();
    for (const std::string& sn : scenarios) {
      const ScenarioDef* def = nullptr;
      for (const ScenarioDef& s : kScenarios) {
        if (sn == s.name) def = &s;
      }
      if (def == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("unknown scenario '", sn, "' (",
                                                       absl::StrJoin(AutoscaleScenarioNames(), ", "),
                                                       ")"));
      }
      RunSpec r;
      r.scenario = sn;
      r.topology_name = tn;
      r.topology = *topology;
      r.seed = options.seed;
      r.slo_s = options.slo_s;
      const double minutes = def->minutes * options.time_scale;
      r.duration = static_cast<sim::Nanos>(minutes * 60 * 1e9);
      auto at = [&](double fraction) {  // a time in the scenario as a duration spec
        return absl::StrFormat("%ds", static_cast<int>(std::lround(minutes * 60 * fraction)));
      };
      if (sn == "diurnal") {
        r.base_rps = peak / 1.6;
        r.profile_spec = absl::StrCat("diurnal:0.6:", at(1.0));
        // The cosine starts at its trough: 0.4 base = 0.25 P; the peak at half the period.
      } else if (sn == "spike") {
        r.base_rps = peak / 5;
        r.profile_spec = absl::StrCat("spike:5@", at(1.0 / 3), "+", at(1.0 / 6));
      } else if (sn == "ramp") {
        r.base_rps = peak / 5;
        r.profile_spec = absl::StrFormat("ramp:%.3f", peak);
      } else {  // fault
        r.base_rps = peak / 2;
        r.profile_spec = "constant";
        const int target = MidTierService(r.topology);
        if (target < 0) return absl::InvalidArgumentError("no mid-tier service in " + tn);
        sim::Fault f;
        f.id = "cpu";
        f.type = sim::Fault::Type::kCpuSaturation;
        f.service = target;
        f.factor = 4;
        f.start = r.duration / 3;
        f.duration = r.duration / 3;
        r.faults.push_back(f);
      }
      auto profile = sim::RateProfile::Parse(r.profile_spec, r.base_rps, r.duration);
      if (!profile.ok()) return profile.status();
      ProfileStats(*profile, r.duration, &r.peak_rps, &r.mean_rps);
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

absl::StatusOr<Calibration> Calibrate(const sim::Topology& topology, double rps,
                                      sim::Nanos duration, uint64_t seed) {
  SpanMeter meter;
  MeterSink sink(&meter);
  sim::SimOptions o;
  o.seed = seed;
  o.duration = duration;
  o.profile = sim::RateProfile::Constant(rps);
  o.speed = 0;
  o.epoch_unix_nano = kEpoch;
  o.batch_spans = 1024;
  sim::Engine engine(topology, o, &sink);
  const sim::Summary sum = engine.Run();
  if (auto s = sink.Close(std::chrono::milliseconds(0)); !s.ok()) return s;
  const IntervalObservation obs = meter.TakeInterval(sum.sim_seconds);
  Calibration c;
  c.calls_per_request.assign(topology.services.size(), 0);
  c.service_time_s.assign(topology.services.size(), 0);
  if (obs.requests <= 0) return absl::InternalError("calibration saw no requests");
  for (const ServiceObservation& so : obs.services) {
    const int s = topology.FindService(so.service);
    if (s < 0) continue;
    const sim::Service& svc = topology.services[s];
    c.calls_per_request[s] = static_cast<double>(so.spans) / static_cast<double>(obs.requests);
    c.service_time_s[s] = ServiceTimeFromResponse(so.rate / std::max(svc.replicas, 1),
                                                  so.mean_self_s, std::max(svc.workers, 1),
                                                  std::clamp(so.self_cv2, 0.1, 4.0));
  }
  return c;
}

std::vector<int> StaticReplicas(const sim::Topology& topology, const Calibration& c, double rps,
                                double max_utilisation) {
  std::vector<int> out;
  for (size_t s = 0; s < topology.services.size(); ++s) {
    const sim::Service& svc = topology.services[s];
    if (!svc.instrumented || s >= c.calls_per_request.size()) {
      out.push_back(svc.replicas);
      continue;
    }
    const double busy = rps * c.calls_per_request[s] * c.service_time_s[s];
    out.push_back(std::max(
        1, static_cast<int>(std::ceil(busy / (std::max(svc.workers, 1) * max_utilisation) - 1e-9))));
  }
  return out;
}

absl::StatusOr<RunResult> RunAutoscale(const RunSpec& spec, const std::string& policy,
                                       const ControllerOptions& controller_options,
                                       const HpaOptions& hpa_options) {
  const auto wall0 = std::chrono::steady_clock::now();
  const sim::Topology& t = spec.topology;
  auto profile = sim::RateProfile::Parse(spec.profile_spec, spec.base_rps, spec.duration);
  if (!profile.ok()) return profile.status();
  sim::SimOptions o;
  o.seed = spec.seed;
  o.duration = spec.duration;
  o.profile = *profile;
  o.speed = 0;
  o.epoch_unix_nano = kEpoch;
  o.faults = spec.faults;
  o.slo = static_cast<sim::Nanos>(spec.slo_s * 1e9);
  o.batch_spans = 512;  // fresh measurements for the controller

  RunResult result;
  result.scenario = spec.scenario;
  result.topology = spec.topology_name;
  result.policy = policy;
  const std::vector<bool> scaled = ScaledServices(t);

  const bool is_ariadne = policy == "ariadne";
  const bool is_hpa = policy == "hpa";
  SpanMeter meter;
  MeterSink sink(&meter);
  ControllerOptions copts = controller_options;
  copts.slo_s = spec.slo_s;
  copts.interval_s = kInterval;
  Controller controller(copts);
  Hpa hpa(hpa_options);
  PodTracker pods;

  sim::Engine engine(t, o, is_ariadne ? static_cast<sim::SpanSink*>(&sink) : nullptr);
  absl::Status tick_error;
  auto record = [&](const Decision& d) {
    if (d.desired == d.current) return;
    ++result.scale_changes;
    if (result.decisions.size() < kMaxDecisions) result.decisions.push_back(d);
  };
  engine.SetTicker(static_cast<sim::Nanos>(kInterval * 1e9), [&](sim::Engine& e, sim::Nanos now) {
    const double now_s = static_cast<double>(now) / 1e9;
    const sim::ClusterSnapshot snap = e.Snapshot();
    result.replicas.emplace_back(now_s, ScaledReplicas(snap, scaled, t));
    if (is_ariadne) {
      const IntervalObservation obs = meter.TakeInterval(kInterval);
      if (now == 0) return;  // nothing measured yet
      for (const sim::DeploymentStatus& dep : snap.deployments) {
        const int s = t.FindService(dep.name);
        if (s < 0 || !scaled[s]) continue;
        ServiceInput in;
        in.service = dep.name;
        for (const ServiceObservation& so : obs.services) {
          if (so.service != dep.name) continue;
          in.spans = so.spans;
          in.rate = so.rate;
          in.mean_self_s = so.mean_self_s;
          in.tail_self_s = so.tail_self_s;
          in.self_cv2 = so.self_cv2;
        }
        in.visits_per_request = obs.visits_per_request;
        in.workers = t.services[s].workers;  // declared concurrency (configuration)
        in.current = dep.spec_replicas;
        in.ready = dep.ready_replicas;
        in.startup_delay_s = static_cast<double>(t.services[s].startup_delay) / 1e9;
        Decision d = controller.Decide(now_s, in);
        record(d);
        if (d.desired != d.current) {
          if (auto st = e.SetReplicas(dep.name, d.desired); !st.ok() && tick_error.ok()) {
            tick_error = st;
          }
        }
      }
    } else if (is_hpa) {
      for (const sim::DeploymentStatus& dep : snap.deployments) {
        const int s = t.FindService(dep.name);
        if (s < 0 || !scaled[s]) continue;
        const std::vector<HpaPod> p = pods.Pods(snap, dep.name, dep.cpu_request_cores, now_s);
        if (now == 0) continue;  // the first sync only takes samples
        Decision d = hpa.Sync(now_s, dep.name, dep.spec_replicas, p);
        record(d);
        if (d.desired != d.current) {
          if (auto st = e.SetReplicas(dep.name, d.desired); !st.ok() && tick_error.ok()) {
            tick_error = st;
          }
        }
      }
    }
  });
  const sim::Summary sum = engine.Run();
  if (!tick_error.ok()) return tick_error;
  if (is_ariadne) {
    if (auto s = sink.Close(std::chrono::milliseconds(0)); !s.ok()) return s;
  }

  result.p50_ms = sum.latency.p50_ms;
  result.p95_ms = sum.latency.p95_ms;
  result.p99_ms = sum.latency.p99_ms;
  result.requests = sum.latency.count;
  result.errors = sum.latency.errors;
  std::vector<std::pair<double, double>> violating;  // [start, end) of violating minutes
  for (const sim::MinuteStats& m : sum.minutes) {
    const double len = std::min(kMinute, sum.sim_seconds - m.start_seconds);
    if (len <= 0) continue;
    result.peak_completed_rps =
        std::max(result.peak_completed_rps, static_cast<double>(m.latency.count) / len);
    result.p99.emplace_back(m.start_seconds, m.latency.p99_ms);
    if (m.latency.count > 0 &&
        static_cast<double>(m.latency.slo_violations) > 0.01 * static_cast<double>(m.latency.count)) {
      ++result.slo_violation_minutes;
      violating.emplace_back(m.start_seconds, m.start_seconds + len);
    }
  }
  for (size_t s = 0; s < sum.services.size(); ++s) {
    result.replica_seconds_all += sum.services[s].replica_seconds;
    if (s < scaled.size() && scaled[s]) result.replica_seconds += sum.services[s].replica_seconds;
  }
  if (!spec.faults.empty()) {
    const double start = static_cast<double>(spec.faults[0].start) / 1e9;
    const double end = static_cast<double>(spec.faults[0].end()) / 1e9;
    result.recovery_s = 0;
    for (const auto& [a, b] : violating) {
      if (b > start && a < end + 600) result.recovery_s = std::max(result.recovery_s, b - start);
    }
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return result;
}

absl::StatusOr<std::vector<RunResult>> RunAutoscaleSuite(
    const AutoscaleSuiteOptions& options, std::function<void(const RunResult&)> progress) {
  auto specs = MakeAutoscaleRuns(options);
  if (!specs.ok()) return specs.status();
  std::vector<std::string> policies = options.policies;
  if (policies.empty()) policies.assign(std::begin(kPolicies), std::end(kPolicies));
  for (const std::string& p : policies) {
    if (std::find(std::begin(kPolicies), std::end(kPolicies), p) == std::end(kPolicies)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown policy '", p, "'"));
    }
  }
  // Calibration, once per topology (only static policies need it).
  std::map<std::string, Calibration> calibrations;
  const bool needs_static = std::any_of(policies.begin(), policies.end(), [](const std::string& p) {
    return p.rfind("static", 0) == 0;
  });
  if (needs_static) {
    for (const RunSpec& r : *specs) {
      if (calibrations.count(r.topology_name) > 0) continue;
      const double rps = NominalPeak(r.topology_name) * options.rate_scale * 0.3;
      auto c = Calibrate(r.topology, rps,
                         static_cast<sim::Nanos>(300 * options.time_scale * 1e9), options.seed);
      if (!c.ok()) return c.status();
      calibrations[r.topology_name] = *std::move(c);
    }
  }
  struct Job {
    const RunSpec* spec;
    std::string policy;
  };
  std::vector<Job> jobs;
  for (const RunSpec& r : *specs) {
    for (const std::string& p : policies) jobs.push_back({&r, p});
  }
  std::vector<absl::StatusOr<RunResult>> results(jobs.size(), absl::UnknownError("not run"));
  std::atomic<size_t> next{0};
  std::mutex mu;
  auto work = [&] {
    for (;;) {  // bounded by the number of jobs
      const size_t i = next.fetch_add(1);
      if (i >= jobs.size()) return;
      const Job& j = jobs[i];
      absl::StatusOr<RunResult> r;
      if (j.policy == "static_peak" || j.policy == "static_avg") {
        RunSpec spec = *j.spec;
        const double rps = j.policy == "static_peak" ? spec.peak_rps : spec.mean_rps;
        const std::vector<int> n =
            StaticReplicas(spec.topology, calibrations.at(spec.topology_name), rps);
        for (size_t s = 0; s < n.size(); ++s) spec.topology.services[s].replicas = n[s];
        r = RunAutoscale(spec, "static");
        if (r.ok()) r->policy = j.policy;
      } else {
        r = RunAutoscale(*j.spec, j.policy);
      }
      std::lock_guard<std::mutex> lock(mu);
      if (r.ok() && progress) progress(*r);
      results[i] = std::move(r);
    }
  };
  const int n = std::clamp(options.jobs, 1, 64);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(work);
  for (std::thread& th : threads) th.join();
  std::vector<RunResult> out;
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  return out;
}

}  // namespace ariadne::control
