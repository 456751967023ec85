#include "sim/engine.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "sim/emit.h"
#include "sim/rng.h"

namespace ariadne::sim {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr Nanos kTick = kSecond;
constexpr Nanos kMinute = 60 * kSecond;
// After the end of the run no request arrives; those in flight get this
// long to finish (their latencies count).
constexpr Nanos kDrainLimit = 300 * kSecond;

enum class EventType : uint8_t {
  kArrival,       // an external request arrives at its entry service
  kSend,          // a (retried) attempt starts: client span opens, request leaves
  kDeliver,       // an attempt's request reaches the callee
  kWorkDone,      // an invocation's own work is done
  kResponse,      // an attempt's response reaches the caller
  kTimeout,       // an attempt's timeout fires
  kReplicaReady,  // a replica finished starting
  kFaultStart,
  kFaultEnd,
  kTick,          // once per simulated second: accounting, commands, snapshot
  kTicker,        // the user's ticker (SetTicker)
};

struct Event {
  Nanos time;
  uint64_t seq;
  uint32_t id;
  uint32_t gen;
  EventType type;
};

struct EventLater {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

enum class ReplicaState : uint8_t { kStarting, kReady, kDraining, kDown, kGone };

struct Replica {
  int service = 0;
  int32_t pod = 0;      // SpanEncoder pod index
  std::string name;
  ReplicaState state = ReplicaState::kStarting;
  uint32_t gen = 0;     // bumped when the replica crashes or goes: stale events are ignored
  bool restart_when_ready = false;
  int busy = 0;         // workers held
  int inflight = 0;     // invocations assigned (queued, working or waiting on calls)
  std::deque<uint32_t> queue;
  Nanos cpu_ns = 0;     // cumulative CPU
  Nanos leak_ns = 0;    // time leaking since the last restart (kLeak)
  double leak_bytes = 0;
  int32_t restarts = 0;
};

struct Request {
  uint8_t trace_id[16];
  int type = 0;
  Nanos start = 0;
  int refs = 0;
};

struct Invocation {
  uint32_t gen = 0;
  bool live = false;
  uint32_t request = kNone;
  uint32_t caller = kNone;  // attempt id, or kNone for the entry invocation
  uint32_t caller_gen = 0;
  int service = 0;
  int op = 0;
  uint32_t replica = kNone;
  uint32_t replica_gen = 0;
  uint64_t span_id = 0;          // own SERVER span, or the caller's span if uninstrumented
  uint64_t parent_span_id = 0;
  Nanos arrive = 0;
  Nanos cpu = 0;
  size_t step = 0;
  size_t next_call = 0;          // next call of a parallel step to issue
  int outstanding = 0;           // attempts in flight (retries included)
  bool in_work = false;
  bool holding = false;          // holds a worker
  bool failed = false;           // its own error (decided when work starts)
  bool downstream_failed = false;
  bool killed = false;           // its replica crashed: no spans, no further calls
  int16_t fault = -1;
};

struct Attempt {
  uint32_t gen = 0;
  bool live = false;
  uint32_t parent = kNone;       // the calling invocation (valid while !done)
  uint32_t parent_gen = 0;
  uint32_t request = kNone;      // holds a reference: the caller may finish first
  int caller_service = 0;
  const Call* call = nullptr;
  uint8_t number = 0;            // retries before this one
  bool done = false;             // the caller has its result (answer or timeout)
  bool pending = false;          // request sent, answer not yet back
  bool failed = false;           // the answer was an error
  SpanOutcome failure = SpanOutcome::kOk;
  uint64_t span_id = 0;
  Nanos start = 0;
  int16_t fault = -1;
};

struct ServiceState {
  std::vector<uint32_t> replicas;  // not gone, in creation order
  int desired = 0;
  size_t rr = 0;
  int existing = 0;                // starting + ready + down (not draining/gone)
  int ready = 0;
  int running = 0;                 // pods that exist at all (incl. draining)
  Nanos last_account = 0;
  Nanos pod_ns = 0, ready_ns = 0;
  int max_replicas = 0;
  int64_t calls = 0, errors = 0, refused = 0;
  std::vector<int> faults;         // active faults on this service
  int64_t generation = 1;
  Nanos minute_cpu_start = 0;
};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  return h;
}

constexpr std::string_view kPodAlphabet = "bcdfghjklmnpqrstvwxz2456789";

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

LatencyStats MakeStats(std::vector<float>* ms, int64_t errors, int64_t violations) {
  LatencyStats s;
  s.count = static_cast<int64_t>(ms->size());
  s.errors = errors;
  s.slo_violations = violations;
  if (ms->empty()) return s;
  double sum = 0;
  for (float v : *ms) sum += v;
  s.mean_ms = sum / static_cast<double>(ms->size());
  s.p50_ms = Quantile(ms, 0.50);
  s.p95_ms = Quantile(ms, 0.95);
  s.p99_ms = Quantile(ms, 0.99);
  s.max_ms = Quantile(ms, 1.0);
  return s;
}

}  // namespace

struct Engine::State {
  State(const Topology& t, SimOptions o, SpanSink* sk)
      : topology(t),
        options(std::move(o)),
        sink(sk),
        encoder(t, FaultIds(options.faults), options.fault_attributes),
        arrivals_rng(options.seed, 1),
        work_rng(options.seed, 2),
        id_rng(options.seed, 3),
        pod_rng(options.seed, 4) {}

  static std::vector<std::string> FaultIds(const std::vector<Fault>& faults) {
    std::vector<std::string> ids;
    for (const Fault& f : faults) ids.push_back(f.id);
    return ids;
  }

  const Topology& topology;
  SimOptions options;
  SpanSink* sink;
  SpanEncoder encoder;
  Rng arrivals_rng, work_rng, id_rng, pod_rng;

  Nanos now = 0;
  Nanos end_time = 0;  // the run's end: the duration, or when it was stopped
  uint64_t seq = 0;
  std::vector<Event> heap;
  double max_rate = 0;
  double total_weight = 0;

  std::vector<Replica> replicas;
  std::vector<ServiceState> services;
  std::vector<Request> requests;
  std::vector<uint32_t> free_requests;
  std::vector<Invocation> invocations;
  std::vector<uint32_t> free_invocations;
  std::vector<Attempt> attempts;
  std::vector<uint32_t> free_attempts;
  std::vector<int> edge_faults;  // active kNetworkDelay faults

  std::vector<SimSpan> spans;
  int64_t span_count = 0;
  std::string encode_buffer;

  // Statistics.
  std::vector<float> latencies;
  std::vector<std::vector<float>> type_latencies;
  std::vector<int64_t> type_errors, type_violations;
  int64_t errors = 0, violations = 0;
  int64_t arrivals = 0;
  std::vector<float> minute_latencies;
  int64_t minute_errors = 0, minute_violations = 0;
  std::vector<MinuteStats> minutes;
  Nanos minute_start = 0;

  // Ticker.
  Nanos ticker_interval = 0;
  std::function<void(Engine&, Nanos)> ticker;

  // Shared with the scale API threads.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int, int>> pending_scale;  // guarded by mu
  std::atomic<bool> has_pending{false};
  ClusterSnapshot snapshot;                         // guarded by mu

  // ---- events ----
  void Schedule(Nanos time, EventType type, uint32_t id = 0, uint32_t gen = 0) {
    heap.push_back(Event{time, seq++, id, gen, type});
    std::push_heap(heap.begin(), heap.end(), EventLater());
  }

  // ---- ids ----
  uint64_t NewSpanId() {
    uint64_t id = 0;
    while (id == 0) id = id_rng.Next();
    return id;
  }

  // ---- replicas ----
  void Account(int s) {
    ServiceState& ss = services[s];
    const Nanos until = std::min(now, end_time);
    if (until > ss.last_account) {
      ss.pod_ns += static_cast<Nanos>(ss.running) * (until - ss.last_account);
      ss.ready_ns += static_cast<Nanos>(ss.ready) * (until - ss.last_account);
      ss.last_account = until;
    }
  }

  void SetState(uint32_t r, ReplicaState next) {
    Replica& rep = replicas[r];
    const int s = rep.service;
    Account(s);
    ServiceState& ss = services[s];
    auto existing = [](ReplicaState st) {
      return st == ReplicaState::kStarting || st == ReplicaState::kReady || st == ReplicaState::kDown;
    };
    ss.existing += (existing(next) ? 1 : 0) - (existing(rep.state) ? 1 : 0);
    ss.ready += (next == ReplicaState::kReady ? 1 : 0) - (rep.state == ReplicaState::kReady ? 1 : 0);
    ss.running += (next != ReplicaState::kGone ? 1 : 0) - (rep.state != ReplicaState::kGone ? 1 : 0);
    rep.state = next;
    if (next == ReplicaState::kGone) {
      ++rep.gen;
      auto& list = ss.replicas;
      list.erase(std::find(list.begin(), list.end(), r));
    }
    ss.max_replicas = std::max(ss.max_replicas, ss.existing);
  }

  std::string PodName(int s) {
    const std::string& name = topology.services[s].name;
    uint64_t h = Fnv1a(name);
    std::string out = name + "-";
    for (int i = 0; i < 10; ++i) {
      out += kPodAlphabet[h % kPodAlphabet.size()];
      h /= kPodAlphabet.size();
    }
    out += "-";
    for (int i = 0; i < 5; ++i) out += kPodAlphabet[pod_rng.Below(kPodAlphabet.size())];
    return out;
  }

  uint32_t AddReplica(int s, bool ready_now) {
    Replica rep;
    rep.service = s;
    rep.name = PodName(s);
    rep.pod = encoder.AddPod(s, rep.name);
    rep.state = ReplicaState::kGone;  // SetState below counts the transition
    replicas.push_back(std::move(rep));
    const uint32_t r = static_cast<uint32_t>(replicas.size() - 1);
    services[s].replicas.push_back(r);
    if (ready_now) {
      SetState(r, ReplicaState::kReady);
    } else {
      SetState(r, ReplicaState::kStarting);
      Schedule(now + topology.services[s].startup_delay, EventType::kReplicaReady, r, replicas[r].gen);
    }
    return r;
  }

  // Restarts a crashed (or OOM-killed) replica: ready after the start-up delay.
  void Restart(uint32_t r) {
    Replica& rep = replicas[r];
    ++rep.restarts;
    rep.leak_ns = 0;
    rep.leak_bytes = 0;
    SetState(r, ReplicaState::kStarting);
    Schedule(now + topology.services[rep.service].startup_delay, EventType::kReplicaReady, r, rep.gen);
  }

  // Kills everything on the replica: callers see a reset connection, its
  // own spans in flight are lost with the process.
  void Crash(uint32_t r) {
    Replica& rep = replicas[r];
    ++rep.gen;
    rep.busy = 0;
    rep.queue.clear();
    rep.inflight = 0;
    for (uint32_t i = 0; i < invocations.size(); ++i) {
      Invocation& inv = invocations[i];
      if (!inv.live || inv.killed || inv.replica != r) continue;
      inv.killed = true;
      inv.holding = false;
      RespondToCaller(i, /*failed=*/true, SpanOutcome::kUnavailable);
      MaybeFree(i);
    }
    SetState(r, ReplicaState::kDown);
  }

  void Reconcile(int s) {
    ServiceState& ss = services[s];
    while (ss.existing < ss.desired) AddReplica(s, false);
    while (ss.existing > ss.desired) {
      // Like a ReplicaSet: not-ready pods first, then the newest.
      uint32_t victim = kNone;
      for (int pass = 0; pass < 3 && victim == kNone; ++pass) {
        for (auto it = ss.replicas.rbegin(); it != ss.replicas.rend(); ++it) {
          const ReplicaState st = replicas[*it].state;
          if ((pass == 0 && st == ReplicaState::kDown) || (pass == 1 && st == ReplicaState::kStarting) ||
              (pass == 2 && st == ReplicaState::kReady)) {
            victim = *it;
            break;
          }
        }
      }
      if (victim == kNone) break;
      Replica& rep = replicas[victim];
      if (rep.state == ReplicaState::kReady && rep.inflight > 0) {
        SetState(victim, ReplicaState::kDraining);
      } else {
        SetState(victim, ReplicaState::kGone);
      }
    }
  }

  void ApplyPendingScale() {
    if (!has_pending.load(std::memory_order_acquire)) return;
    std::vector<std::pair<int, int>> pending;
    {
      std::lock_guard<std::mutex> lock(mu);
      pending.swap(pending_scale);
      has_pending.store(false, std::memory_order_release);
    }
    for (const auto& [s, n] : pending) {
      if (services[s].desired != n) {
        services[s].desired = n;
        ++services[s].generation;
      }
      Reconcile(s);
    }
    if (!pending.empty()) PublishSnapshot();
  }

  uint32_t PickReplica(int s) {
    ServiceState& ss = services[s];
    const size_t n = ss.replicas.size();
    for (size_t i = 0; i < n; ++i) {
      const uint32_t r = ss.replicas[(ss.rr + i) % n];
      if (replicas[r].state == ReplicaState::kReady) {
        ss.rr = (ss.rr + i + 1) % n;
        return r;
      }
    }
    return kNone;
  }

  // ---- faults ----
  const Fault* ActiveFault(int s, int op, Fault::Type type) const {
    for (int f : services[s].faults) {
      const Fault& fault = options.faults[f];
      if (fault.type == type && (fault.operation < 0 || fault.operation == op)) return &fault;
    }
    return nullptr;
  }

  int16_t FaultIndex(const Fault* f) const {
    return f == nullptr ? -1 : static_cast<int16_t>(f - options.faults.data());
  }

  Nanos EdgeDelay(int caller, int callee, int16_t* label) const {
    Nanos d = 0;
    for (int f : edge_faults) {
      const Fault& fault = options.faults[f];
      if (fault.caller == caller && fault.callee == callee) {
        d += fault.latency;
        if (*label < 0) *label = static_cast<int16_t>(f);
      }
    }
    return d;
  }

  void StartFault(int f) {
    const Fault& fault = options.faults[f];
    if (fault.type == Fault::Type::kNetworkDelay) {
      edge_faults.push_back(f);
      return;
    }
    services[fault.service].faults.push_back(f);
    if (fault.type == Fault::Type::kCrash) {
      int left = fault.replicas;
      for (uint32_t r : std::vector<uint32_t>(services[fault.service].replicas)) {
        if (left == 0) break;
        if (replicas[r].state != ReplicaState::kReady) continue;
        Crash(r);
        --left;
      }
    }
  }

  void EndFault(int f) {
    const Fault& fault = options.faults[f];
    if (fault.type == Fault::Type::kNetworkDelay) {
      edge_faults.erase(std::find(edge_faults.begin(), edge_faults.end(), f));
      return;
    }
    auto& list = services[fault.service].faults;
    list.erase(std::find(list.begin(), list.end(), f));
    if (fault.type == Fault::Type::kCrash) {
      for (uint32_t r : std::vector<uint32_t>(services[fault.service].replicas)) {
        if (replicas[r].state == ReplicaState::kDown) Restart(r);
      }
    }
    if (fault.type == Fault::Type::kLeak) {
      // The leak is fixed at the end of its window (as by a deploy).
      for (uint32_t r : services[fault.service].replicas) {
        replicas[r].leak_ns = 0;
        replicas[r].leak_bytes = 0;
      }
    }
  }

  // ---- requests, calls and invocations ----
  void ScheduleNextArrival(Nanos after) {
    if (max_rate <= 0) return;
    Nanos t = after;
    for (;;) {
      t += std::max<Nanos>(1, static_cast<Nanos>(arrivals_rng.Exponential(1.0 / max_rate) * 1e9));
      if (t >= options.duration) return;
      if (arrivals_rng.Uniform() * max_rate < options.profile.RateAt(t)) break;
    }
    Schedule(t, EventType::kArrival);
  }

  void OnArrival() {
    ScheduleNextArrival(now);
    ++arrivals;
    // The request type, by weight.
    double x = arrivals_rng.Uniform() * total_weight;
    int type = 0;
    for (; type + 1 < static_cast<int>(topology.requests.size()); ++type) {
      x -= topology.requests[type].weight;
      if (x < 0) break;
    }
    uint32_t rq;
    if (!free_requests.empty()) {
      rq = free_requests.back();
      free_requests.pop_back();
    } else {
      rq = static_cast<uint32_t>(requests.size());
      requests.emplace_back();
    }
    Request& r = requests[rq];
    const uint64_t hi = id_rng.Next(), lo = id_rng.Next();
    for (int i = 0; i < 8; ++i) {
      r.trace_id[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      r.trace_id[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    r.type = type;
    r.start = now;
    r.refs = 0;
    const RequestType& rt = topology.requests[type];
    Arrive(rq, rt.service, rt.operation, kNone, 0, 0);
  }

  uint32_t NewInvocation() {
    uint32_t i;
    if (!free_invocations.empty()) {
      i = free_invocations.back();
      free_invocations.pop_back();
    } else {
      i = static_cast<uint32_t>(invocations.size());
      invocations.emplace_back();
    }
    Invocation& inv = invocations[i];
    const uint32_t gen = inv.gen;
    inv = Invocation();
    inv.gen = gen;
    inv.live = true;
    return i;
  }

  // A request (the entry one, or an attempt's) reaches service `s`.
  // Returns false if it was refused (no ready replica, full queue).
  bool Arrive(uint32_t rq, int s, int op, uint32_t attempt, uint32_t attempt_gen,
              uint64_t parent_span) {
    ServiceState& ss = services[s];
    const Service& svc = topology.services[s];
    const uint32_t r = PickReplica(s);
    if (r == kNone || (svc.queue_limit > 0 && replicas[r].busy >= svc.workers &&
                       static_cast<int>(replicas[r].queue.size()) >= svc.queue_limit)) {
      ++ss.refused;
      if (attempt == kNone) FinishRequest(rq, /*failed=*/true);
      return false;
    }
    ++ss.calls;
    const uint32_t i = NewInvocation();
    Invocation& inv = invocations[i];
    inv.request = rq;
    ++requests[rq].refs;
    inv.caller = attempt;
    inv.caller_gen = attempt_gen;
    inv.service = s;
    inv.op = op;
    inv.replica = r;
    inv.replica_gen = replicas[r].gen;
    inv.parent_span_id = parent_span;
    inv.span_id = svc.instrumented ? NewSpanId() : parent_span;
    inv.arrive = now;
    Replica& rep = replicas[r];
    ++rep.inflight;
    if (rep.busy < svc.workers) {
      StartWork(i);
    } else {
      rep.queue.push_back(i);
    }
    return true;
  }

  void StartWork(uint32_t i) {
    Invocation& inv = invocations[i];
    const Service& svc = topology.services[inv.service];
    const Operation& op = svc.operations[inv.op];
    Replica& rep = replicas[inv.replica];
    ++rep.busy;
    inv.holding = true;
    inv.in_work = true;
    double cpu = work_rng.Sample(op.service_time);
    Nanos extra = 0;
    double error_rate = op.error_rate;
    for (int f : services[inv.service].faults) {
      const Fault& fault = options.faults[f];
      if (fault.operation >= 0 && fault.operation != inv.op) continue;
      bool applied = true;
      switch (fault.type) {
        case Fault::Type::kLatency:
          extra += fault.latency;
          break;
        case Fault::Type::kSlowdown:
        case Fault::Type::kCpuSaturation:
          cpu *= fault.factor;
          break;
        case Fault::Type::kErrors:
          error_rate = 1 - (1 - error_rate) * (1 - fault.rate);
          break;
        case Fault::Type::kLeak:
          cpu *= 1 + fault.rate * static_cast<double>(rep.leak_ns) / 1e9;
          break;
        case Fault::Type::kCrash:
        case Fault::Type::kNetworkDelay:
          applied = false;
          break;
      }
      if (applied && inv.fault < 0) inv.fault = static_cast<int16_t>(f);
    }
    inv.failed = work_rng.Bernoulli(error_rate);
    inv.cpu = static_cast<Nanos>(cpu * 1e9);
    Schedule(now + inv.cpu + extra, EventType::kWorkDone, i, inv.gen);
  }

  void ReleaseWorker(uint32_t i) {
    Invocation& inv = invocations[i];
    if (!inv.holding) return;
    inv.holding = false;
    Replica& rep = replicas[inv.replica];
    if (rep.gen != inv.replica_gen) return;  // crashed since: its workers were reset
    --rep.busy;
    while (rep.busy < topology.services[inv.service].workers && !rep.queue.empty()) {
      const uint32_t next = rep.queue.front();
      rep.queue.pop_front();
      StartWork(next);
    }
  }

  void OnWorkDone(uint32_t i) {
    Invocation& inv = invocations[i];
    inv.in_work = false;
    if (inv.killed) {
      MaybeFree(i);
      return;
    }
    Replica& rep = replicas[inv.replica];
    if (ActiveFault(inv.service, inv.op, Fault::Type::kCpuSaturation) == nullptr) rep.cpu_ns += inv.cpu;
    const Service& svc = topology.services[inv.service];
    if (!svc.hold_worker || inv.failed) ReleaseWorker(i);
    if (inv.failed) {
      Finish(i);
      return;
    }
    RunSteps(i);
  }

  // Issues the calls of the current step, moving past steps whose calls were
  // all skipped by their probability; finishes when no step is left.
  void RunSteps(uint32_t i) {
    const Operation& op = topology.services[invocations[i].service].operations[invocations[i].op];
    while (invocations[i].step < op.steps.size()) {
      const Step& step = op.steps[invocations[i].step];
      invocations[i].next_call = 0;
      IssueCalls(i, step);
      if (invocations[i].outstanding > 0) return;
      ++invocations[i].step;
    }
    Finish(i);
  }

  void IssueCalls(uint32_t i, const Step& step) {
    const int limit = step.parallel ? (step.concurrency > 0 ? step.concurrency : 1 << 30) : 1;
    while (invocations[i].next_call < step.calls.size() && invocations[i].outstanding < limit) {
      const Call& call = step.calls[invocations[i].next_call++];
      if (!work_rng.Bernoulli(call.probability)) continue;
      ++invocations[i].outstanding;
      StartAttempt(i, &call, 0, now);
    }
  }

  void StartAttempt(uint32_t parent, const Call* call, int number, Nanos when) {
    uint32_t a;
    if (!free_attempts.empty()) {
      a = free_attempts.back();
      free_attempts.pop_back();
    } else {
      a = static_cast<uint32_t>(attempts.size());
      attempts.emplace_back();
    }
    Attempt& at = attempts[a];
    const uint32_t gen = at.gen;
    at = Attempt();
    at.gen = gen;
    at.live = true;
    at.parent = parent;
    at.parent_gen = invocations[parent].gen;
    at.request = invocations[parent].request;
    ++requests[at.request].refs;
    at.caller_service = invocations[parent].service;
    at.call = call;
    at.number = static_cast<uint8_t>(std::min(number, 255));
    if (when > now) {
      Schedule(when, EventType::kSend, a, at.gen);
    } else {
      Send(a);
    }
  }

  void Send(uint32_t a) {
    Attempt& at = attempts[a];
    Invocation& parent = invocations[at.parent];
    if (parent.killed) {  // a retry whose caller crashed meanwhile
      --parent.outstanding;
      MaybeFree(at.parent);
      FreeAttempt(a);
      return;
    }
    at.start = now;
    at.pending = true;
    at.span_id = topology.services[parent.service].instrumented ? NewSpanId() : parent.span_id;
    const Nanos latency = work_rng.SampleNanos(topology.network) +
                          EdgeDelay(parent.service, at.call->service, &at.fault);
    Schedule(now + latency, EventType::kDeliver, a, at.gen);
    if (at.call->timeout > 0) Schedule(now + at.call->timeout, EventType::kTimeout, a, at.gen);
  }

  void OnDeliver(uint32_t a) {
    Attempt& at = attempts[a];
    // The caller may have been killed or finished (after a timeout); the
    // request still reaches the callee, which does the work regardless.
    const bool ok = Arrive(at.request, at.call->service, at.call->operation, a, at.gen, at.span_id);
    if (!ok) {
      ScheduleResponse(a, true, SpanOutcome::kUnavailable);
    }
  }

  void ScheduleResponse(uint32_t a, bool failed, SpanOutcome failure) {
    Attempt& at = attempts[a];
    at.failed = failed;
    at.failure = failure;
    const int caller = at.caller_service;
    int16_t fault = -1;
    const Nanos latency = work_rng.SampleNanos(topology.network) +
                          EdgeDelay(caller, at.call->service, &fault);
    if (at.fault < 0) at.fault = fault;
    Schedule(now + latency, EventType::kResponse, a, at.gen);
  }

  void OnResponse(uint32_t a) {
    Attempt& at = attempts[a];
    at.pending = false;
    if (!at.done) {
      at.done = true;
      Resolve(a, at.failed ? (at.failure == SpanOutcome::kOk ? SpanOutcome::kDownstream : at.failure)
                           : SpanOutcome::kOk);
    }
    FreeAttempt(a);
  }

  void OnTimeout(uint32_t a) {
    Attempt& at = attempts[a];
    if (at.done || !at.pending) return;
    at.done = true;
    Resolve(a, SpanOutcome::kTimeout);
  }

  // The caller learns how attempt `a` ended.
  void Resolve(uint32_t a, SpanOutcome outcome) {
    Attempt& at = attempts[a];
    const uint32_t p = at.parent;
    Invocation& parent = invocations[p];
    const bool failed = outcome != SpanOutcome::kOk;
    if (!parent.killed) {
      const Service& caller = topology.services[parent.service];
      if (caller.instrumented) {
        SimSpan span;
        std::memcpy(span.trace_id, requests[parent.request].trace_id, 16);
        span.span_id = at.span_id;
        span.parent_span_id = parent.span_id;
        span.start = at.start;
        span.end = now;
        span.pod = replicas[parent.replica].pod;
        span.shape = encoder.ClientShape(parent.service, at.call->service, at.call->operation);
        span.outcome = outcome;
        span.attempt = at.number;
        span.fault = at.fault;
        EmitSpan(span);
      }
      if (failed && at.number < at.call->retries) {
        StartAttempt(p, at.call, at.number + 1, now + at.call->retry_backoff);
        return;
      }
    }
    if (failed && !at.call->optional) parent.downstream_failed = true;
    --parent.outstanding;
    if (parent.killed) {
      MaybeFree(p);
      return;
    }
    const Step& step = topology.services[parent.service].operations[parent.op].steps[parent.step];
    if (!parent.downstream_failed) IssueCalls(p, step);
    if (parent.outstanding > 0) return;
    if (parent.downstream_failed) {
      Finish(p);
      return;
    }
    ++parent.step;
    RunSteps(p);
  }

  void Finish(uint32_t i) {
    Invocation& inv = invocations[i];
    ReleaseWorker(i);
    const Service& svc = topology.services[inv.service];
    const bool failed = inv.failed || inv.downstream_failed;
    const SpanOutcome outcome =
        inv.failed ? SpanOutcome::kError : (inv.downstream_failed ? SpanOutcome::kDownstream : SpanOutcome::kOk);
    if (failed) ++services[inv.service].errors;
    if (svc.instrumented) {
      SimSpan span;
      std::memcpy(span.trace_id, requests[inv.request].trace_id, 16);
      span.span_id = inv.span_id;
      span.parent_span_id = inv.parent_span_id;
      span.start = inv.arrive;
      span.end = now;
      span.pod = replicas[inv.replica].pod;
      span.shape = encoder.ServerShape(inv.service, inv.op);
      span.outcome = outcome;
      span.fault = inv.fault;
      EmitSpan(span);
    }
    RespondToCaller(i, failed, outcome);
    Replica& rep = replicas[inv.replica];
    if (rep.gen == inv.replica_gen) {
      --rep.inflight;
      if (rep.state == ReplicaState::kDraining && rep.inflight == 0) SetState(inv.replica, ReplicaState::kGone);
    }
    inv.killed = true;  // finished: nothing more happens to it
    MaybeFree(i);
  }

  void RespondToCaller(uint32_t i, bool failed, SpanOutcome outcome) {
    Invocation& inv = invocations[i];
    if (inv.caller == kNone) {
      FinishRequest(inv.request, failed);
      return;
    }
    Attempt& at = attempts[inv.caller];
    if (!at.live || at.gen != inv.caller_gen) return;
    ScheduleResponse(inv.caller, failed, outcome == SpanOutcome::kUnavailable ? outcome : SpanOutcome::kOk);
  }

  void MaybeFree(uint32_t i) {
    Invocation& inv = invocations[i];
    if (!inv.live || !inv.killed || inv.in_work || inv.outstanding > 0) return;
    inv.live = false;
    ++inv.gen;
    Request& r = requests[inv.request];
    if (--r.refs == 0) free_requests.push_back(inv.request);
    free_invocations.push_back(i);
  }

  void FreeAttempt(uint32_t a) {
    Attempt& at = attempts[a];
    at.live = false;
    ++at.gen;
    free_attempts.push_back(a);
    Request& r = requests[at.request];
    if (--r.refs == 0) free_requests.push_back(at.request);
  }

  void FinishRequest(uint32_t rq, bool failed) {
    const Request& r = requests[rq];
    const float ms = static_cast<float>(static_cast<double>(now - r.start) / 1e6);
    const bool violation = failed || now - r.start > options.slo;
    latencies.push_back(ms);
    type_latencies[r.type].push_back(ms);
    errors += failed;
    violations += violation;
    type_errors[r.type] += failed;
    type_violations[r.type] += violation;
    minute_latencies.push_back(ms);  // by the minute the request ended in
    minute_errors += failed;
    minute_violations += violation;
    if (r.refs == 0) free_requests.push_back(rq);
  }

  // ---- spans ----
  void EmitSpan(const SimSpan& span) {
    ++span_count;
    if (sink == nullptr) return;
    spans.push_back(span);
    if (static_cast<int>(spans.size()) >= options.batch_spans) FlushSpans();
  }

  void FlushSpans() {
    if (spans.empty() || sink == nullptr) return;
    std::string request;
    request.reserve(spans.size() * 400);
    encoder.Encode(spans, options.epoch_unix_nano, &request);
    const int64_t n = static_cast<int64_t>(spans.size());
    spans.clear();
    sink->Send(std::move(request), n);
  }

  // ---- ticks ----
  void OnTick() {
    for (size_t s = 0; s < services.size(); ++s) {
      Account(static_cast<int>(s));
      const Service& svc = topology.services[s];
      const Fault* sat = ActiveFault(static_cast<int>(s), -1, Fault::Type::kCpuSaturation);
      const Fault* leak = ActiveFault(static_cast<int>(s), -1, Fault::Type::kLeak);
      for (uint32_t r : std::vector<uint32_t>(services[s].replicas)) {
        Replica& rep = replicas[r];
        if (rep.state != ReplicaState::kReady && rep.state != ReplicaState::kDraining) continue;
        if (sat != nullptr) rep.cpu_ns += static_cast<Nanos>(svc.workers) * kTick;
        if (leak != nullptr) {
          rep.leak_ns += kTick;
          rep.leak_bytes += leak->leak_bytes_per_second * static_cast<double>(kTick) / 1e9;
          if (Memory(rep) > svc.memory_limit_bytes && rep.state == ReplicaState::kReady) {
            Crash(r);  // OOM-killed, and restarted by the kubelet
            Restart(r);
          }
        }
      }
    }
    if (now > 0 && now % kMinute == 0 && now <= options.duration) CloseMinute();
    PublishSnapshot();
    if (now + kTick <= options.duration) Schedule(now + kTick, EventType::kTick);
  }

  double Memory(const Replica& rep) const {
    const Service& svc = topology.services[rep.service];
    return svc.memory_base_bytes + svc.memory_per_request_bytes * rep.inflight + rep.leak_bytes;
  }

  void CloseMinute() {
    MinuteStats m;
    m.start_seconds = static_cast<double>(minute_start) / 1e9;
    m.latency = MakeStats(&minute_latencies, minute_errors, minute_violations);
    for (size_t s = 0; s < services.size(); ++s) {
      m.ready_replicas.push_back(services[s].ready);
      Nanos cpu = 0;
      for (const Replica& rep : replicas) {
        if (rep.service == static_cast<int>(s)) cpu += rep.cpu_ns;
      }
      m.cpu_cores.push_back(static_cast<double>(cpu - services[s].minute_cpu_start) /
                            static_cast<double>(now - minute_start));
      services[s].minute_cpu_start = cpu;
    }
    minutes.push_back(std::move(m));
    minute_latencies.clear();
    minute_errors = minute_violations = 0;
    minute_start = now;
  }

  void PublishSnapshot() {
    ClusterSnapshot snap;
    snap.k8s_namespace = topology.k8s_namespace;
    snap.sim_seconds = static_cast<double>(now) / 1e9;
    snap.unix_millis = (options.epoch_unix_nano + now) / 1'000'000;
    for (size_t s = 0; s < services.size(); ++s) {
      const Service& svc = topology.services[s];
      DeploymentStatus d;
      d.name = svc.name;
      d.spec_replicas = services[s].desired;
      d.status_replicas = services[s].existing;
      d.ready_replicas = services[s].ready;
      d.cpu_request_cores = svc.cpu_request;
      d.memory_limit_bytes = svc.memory_limit_bytes;
      d.generation = services[s].generation;
      snap.deployments.push_back(std::move(d));
      for (uint32_t r : services[s].replicas) {
        const Replica& rep = replicas[r];
        PodStatus p;
        p.deployment = svc.name;
        p.pod = rep.name;
        p.ready = rep.state == ReplicaState::kReady;
        p.terminating = rep.state == ReplicaState::kDraining;
        p.cpu_seconds_total = static_cast<double>(rep.cpu_ns) / 1e9;
        p.memory_working_set_bytes = Memory(rep);
        p.restarts = rep.restarts;
        snap.pods.push_back(std::move(p));
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    // Scale commands not yet applied keep their requested spec.
    for (const auto& [s, n] : pending_scale) snap.deployments[s].spec_replicas = n;
    snapshot = std::move(snap);
  }

  void Dispatch(const Event& e) {
    switch (e.type) {
      case EventType::kArrival:
        OnArrival();
        break;
      case EventType::kSend:
        if (attempts[e.id].gen == e.gen) Send(e.id);
        break;
      case EventType::kDeliver:
        if (attempts[e.id].gen == e.gen) OnDeliver(e.id);
        break;
      case EventType::kWorkDone:
        if (invocations[e.id].gen == e.gen) OnWorkDone(e.id);
        break;
      case EventType::kResponse:
        if (attempts[e.id].gen == e.gen) OnResponse(e.id);
        break;
      case EventType::kTimeout:
        if (attempts[e.id].gen == e.gen) OnTimeout(e.id);
        break;
      case EventType::kReplicaReady:
        if (replicas[e.id].gen == e.gen && replicas[e.id].state == ReplicaState::kStarting) {
          SetState(e.id, ReplicaState::kReady);
        }
        break;
      case EventType::kFaultStart:
        StartFault(static_cast<int>(e.id));
        break;
      case EventType::kFaultEnd:
        EndFault(static_cast<int>(e.id));
        break;
      case EventType::kTick:
        OnTick();
        break;
      case EventType::kTicker:
        break;  // handled in Run (needs the Engine)
    }
  }
};

Engine::Engine(const Topology& topology, SimOptions options, SpanSink* sink)
    : s_(std::make_unique<State>(topology, std::move(options), sink)) {
  State& s = *s_;
  s.services.resize(topology.services.size());
  s.type_latencies.resize(topology.requests.size());
  s.type_errors.assign(topology.requests.size(), 0);
  s.type_violations.assign(topology.requests.size(), 0);
  for (const RequestType& rt : topology.requests) s.total_weight += rt.weight;
  for (size_t i = 0; i < topology.services.size(); ++i) {
    s.services[i].desired = topology.services[i].replicas;
    for (int r = 0; r < topology.services[i].replicas; ++r) s.AddReplica(static_cast<int>(i), true);
  }
  s.PublishSnapshot();
}

Engine::~Engine() = default;

void Engine::SetTicker(Nanos interval, std::function<void(Engine&, Nanos)> ticker) {
  s_->ticker_interval = interval;
  s_->ticker = std::move(ticker);
}

ClusterSnapshot Engine::Snapshot() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->snapshot;
}

absl::Status Engine::SetReplicas(std::string_view deployment, int32_t replicas) {
  const int s = s_->topology.FindService(deployment);
  if (s < 0) {
    return absl::NotFoundError(absl::StrCat("deployments.apps \"", AbslView(deployment), "\" not found"));
  }
  if (replicas < 0 || replicas > s_->options.max_replicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("replicas must be between 0 and ", s_->options.max_replicas));
  }
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->pending_scale.emplace_back(s, replicas);
    s_->snapshot.deployments[s].spec_replicas = replicas;
    s_->has_pending.store(true, std::memory_order_release);
  }
  s_->cv.notify_all();
  return absl::OkStatus();
}

Summary Engine::Run(const std::atomic<bool>* stop, std::function<void(const Progress&)> progress) {
  State& s = *s_;
  s.end_time = s.options.duration;
  const double wall0 = WallSeconds();
  const double cpu0 = ProcessCpuSeconds();
  s.max_rate = s.options.profile.MaxRate(s.options.duration);
  s.ScheduleNextArrival(0);
  s.Schedule(0, EventType::kTick);
  if (s.ticker && s.ticker_interval > 0) s.Schedule(0, EventType::kTicker);
  for (size_t f = 0; f < s.options.faults.size(); ++f) {
    const Fault& fault = s.options.faults[f];
    if (fault.start >= s.options.duration) continue;
    s.Schedule(fault.start, EventType::kFaultStart, static_cast<uint32_t>(f));
    s.Schedule(std::min(fault.end(), s.options.duration), EventType::kFaultEnd, static_cast<uint32_t>(f));
  }
  const bool paced = s.options.speed > 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_flush = start;
  auto last_progress = start;
  uint64_t events = 0;
  auto report = [&] {
    if (!progress) return;
    Progress p;
    p.sim_time = s.now;
    p.duration = s.options.duration;
    p.requests = static_cast<int64_t>(s.latencies.size());
    p.errors = s.errors;
    p.spans = s.span_count;
    progress(p);
  };
  while (!s.heap.empty()) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    const Event e = s.heap.front();
    if (e.time > s.options.duration + kDrainLimit) break;
    if (paced) {
      // Wait for the event's wall-clock time, applying scale commands and
      // exporting spans meanwhile.
      const auto due = start + std::chrono::nanoseconds(
                                   static_cast<int64_t>(static_cast<double>(e.time) / s.options.speed));
      for (;;) {
        const auto wall = std::chrono::steady_clock::now();
        if (wall - last_flush >= std::chrono::nanoseconds(s.options.flush_interval)) {
          s.FlushSpans();
          last_flush = wall;
        }
        if (wall - last_progress >= std::chrono::seconds(1)) {
          report();
          last_progress = wall;
        }
        if (s.has_pending.load(std::memory_order_acquire)) {
          const Nanos mapped = static_cast<Nanos>(
              std::chrono::duration<double>(wall - start).count() * 1e9 * s.options.speed);
          s.now = std::clamp(mapped, s.now, e.time);
          s.ApplyPendingScale();
        }
        if (wall >= due || (stop != nullptr && stop->load())) break;
        std::unique_lock<std::mutex> lock(s.mu);
        s.cv.wait_until(lock, std::min(due, wall + std::chrono::milliseconds(100)),
                        [&] { return s.has_pending.load(); });
      }
      if (stop != nullptr && stop->load()) break;
    }
    std::pop_heap(s.heap.begin(), s.heap.end(), EventLater());
    s.heap.pop_back();
    s.now = e.time;
    if (e.type == EventType::kTick) s.ApplyPendingScale();
    if (e.type == EventType::kTicker) {
      s.ticker(*this, s.now);
      if (s.now + s.ticker_interval <= s.options.duration) {
        s.Schedule(s.now + s.ticker_interval, EventType::kTicker);
      }
      s.ApplyPendingScale();
      continue;
    }
    s.Dispatch(e);
    if (!paced && (++events & 0xfff) == 0) {
      const auto wall = std::chrono::steady_clock::now();
      if (wall - last_progress >= std::chrono::seconds(1)) {
        report();
        last_progress = wall;
      }
    }
  }
  if (stop != nullptr && stop->load()) {
    s.end_time = std::min(s.now, s.options.duration);  // stopped early
  }
  s.now = std::max(s.now, s.end_time);
  s.FlushSpans();
  report();

  Summary sum;
  sum.topology = s.topology.name;
  sum.seed = s.options.seed;
  sum.sim_seconds = static_cast<double>(s.end_time) / 1e9;
  sum.spans = s.span_count;
  sum.slo_ms = static_cast<double>(s.options.slo) / 1e6;
  sum.faults = static_cast<int>(s.options.faults.size());
  if (s.minute_start < s.end_time) {  // a last, partial minute
    const Nanos saved = s.now;
    s.now = s.end_time;
    s.CloseMinute();
    s.now = saved;
  }
  sum.minutes = std::move(s.minutes);
  for (size_t t = 0; t < s.topology.requests.size(); ++t) {
    RequestTypeSummary rt;
    rt.name = s.topology.requests[t].name;
    rt.latency = MakeStats(&s.type_latencies[t], s.type_errors[t], s.type_violations[t]);
    sum.request_types.push_back(std::move(rt));
  }
  sum.latency = MakeStats(&s.latencies, s.errors, s.violations);
  sum.unfinished = s.arrivals - sum.latency.count;
  // Requests still in flight after the drain limit certainly missed the SLO.
  sum.slo_violations_per_minute = static_cast<double>(s.violations + sum.unfinished) /
                                  std::max(sum.sim_seconds / 60.0, 1.0 / 60.0);
  for (size_t i = 0; i < s.services.size(); ++i) {
    s.Account(static_cast<int>(i));
    const ServiceState& ss = s.services[i];
    ServiceSummary svc;
    svc.name = s.topology.services[i].name;
    svc.replica_seconds = static_cast<double>(ss.pod_ns) / 1e9;
    svc.ready_replica_seconds = static_cast<double>(ss.ready_ns) / 1e9;
    for (const Replica& rep : s.replicas) {
      if (rep.service == static_cast<int>(i)) svc.cpu_seconds += static_cast<double>(rep.cpu_ns) / 1e9;
    }
    svc.calls = ss.calls;
    svc.errors = ss.errors;
    svc.refused = ss.refused;
    svc.max_replicas = ss.max_replicas;
    svc.final_replicas = ss.existing;
    sum.services.push_back(std::move(svc));
  }
  sum.wall_seconds = WallSeconds() - wall0;
  sum.cpu_seconds = ProcessCpuSeconds() - cpu0;
  return sum;
}

}  // namespace ariadne::sim
