#include "sim/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "decode/decode.h"
#include "model/span_batch.h"
#include "model/value_format.h"
#include "sim/emit.h"
#include "fmt/format.h"

namespace ariadne::sim {
namespace {

// Keeps what the engine sends, in order (the engine's side of a sink is all
// that is under test here; the sinks have their own tests).
class MemorySink : public SpanSink {
 public:
  void Send(std::string request, int64_t spans) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(request));
    stats_.spans_sent += spans;
    ++stats_.requests_sent;
  }
  absl::Status Close(std::chrono::milliseconds) override { return absl::OkStatus(); }
  SinkStats stats() const override { return stats_; }
  std::string Bytes() const {
    std::string all;
    for (const std::string& r : requests_) all += r;
    return all;
  }
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  std::mutex mu_;
  std::vector<std::string> requests_;
  SinkStats stats_;
};

Topology MustParse(std::string_view yaml) {
  auto t = ParseTopology(yaml);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Topology();
}

// Erlang C: the probability that an arrival waits in an M/M/c queue with
// offered load a = lambda / mu.
double ErlangC(int c, double a) {
  double sum = 0, term = 1;
  for (int k = 0; k < c; ++k) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const double last = term * a / c;  // a^c / c!
  const double rho = a / c;
  const double top = last / (1 - rho);
  return top / (sum + top);
}

struct QueueCase {
  int workers;
  double mean_ms;
  double rps;
};

class MmcTest : public ::testing::TestWithParam<QueueCase> {};

// An M/M/c service: Poisson arrivals, exponential service, c workers, one
// FIFO queue, no network. Its mean response time must match Erlang C, and
// the time-average number in the system Little's law (L = lambda W).
TEST_P(MmcTest, MatchesErlangCAndLittlesLaw) {
  const QueueCase q = GetParam();
  Topology t = MustParse(fmt::format(R"(
name: mmc
network: 0s
services:
  - name: server
    protocol: http
    replicas: 1
    workers: {}
    operations:
      - name: work
        time: {{dist: exponential, mean: {}ms}}
requests:
  - {{name: work, call: server.work, weight: 1}}
)", q.workers, q.mean_ms));
  SimOptions o;
  o.seed = 7;
  o.speed = 0;
  o.duration = 3600 * kSecond;
  o.profile = RateProfile::Constant(q.rps);
  Engine engine(t, o, nullptr);
  // Sample the number in the system every simulated second (from the pod's
  // memory: base + per-request x in flight).
  const Service& svc = t.services[0];
  double sum_inflight = 0;
  int samples = 0;
  engine.SetTicker(kSecond, [&](Engine& e, Nanos now) {
    if (now < 60 * kSecond) return;  // skip the warm-up
    const ClusterSnapshot snap = e.Snapshot();
    sum_inflight += (snap.pods[0].memory_working_set_bytes - svc.memory_base_bytes) /
                    svc.memory_per_request_bytes;
    ++samples;
  });
  const Summary s = engine.Run();

  const double mu = 1000.0 / q.mean_ms;
  const double a = q.rps / mu;
  const double wq = ErlangC(q.workers, a) / (q.workers * mu - q.rps);
  const double w_ms = (wq + 1 / mu) * 1000;
  const double lambda = static_cast<double>(s.latency.count) / s.sim_seconds;
  EXPECT_NEAR(lambda, q.rps, q.rps * 0.01);
  // Tolerances: a one-hour run at these loads has a standard error of the
  // mean response time of about 1% (autocorrelation included).
  EXPECT_NEAR(s.latency.mean_ms, w_ms, w_ms * 0.04)
      << "Erlang C W = " << w_ms << " ms, Wq = " << wq * 1000 << " ms";
  const double measured_wq = s.latency.mean_ms - q.mean_ms;
  EXPECT_NEAR(measured_wq, wq * 1000, wq * 1000 * 0.10 + 0.05);
  const double l = sum_inflight / samples;
  EXPECT_NEAR(l, lambda * s.latency.mean_ms / 1000, lambda * s.latency.mean_ms / 1000 * 0.05);
  // Busy workers = lambda x service time (Little's law for the servers).
  EXPECT_NEAR(s.services[0].cpu_seconds / s.sim_seconds, a, a * 0.03);
}

INSTANTIATE_TEST_SUITE_P(Loads, MmcTest,
                         ::testing::Values(QueueCase{1, 10, 70}, QueueCase{4, 10, 320},
                                           QueueCase{8, 20, 340}));

constexpr std::string_view kShop = R"(
name: shop
network: 1ms
services:
  - name: web
    protocol: http
    workers: 64
    operations:
      - name: page
        http: {method: GET, route: /page}
        time: 2ms
        calls:
          - a.x
          - parallel: [b.y, c.z]
          - db.get
      - name: ping
        http: {method: GET, route: /ping}
        time: 1ms
  - name: a
    protocol: grpc
    rpc_service: shop.A
    workers: 64
    operations:
      - {name: x, time: 3ms}
  - name: b
    protocol: grpc
    workers: 64
    operations:
      - {name: y, time: 5ms}
  - name: c
    protocol: grpc
    workers: 64
    operations:
      - {name: z, time: 4ms}
  - name: db
    protocol: database
    db_system: redis
    workers: 64
    operations:
      - {name: get, time: 1ms, db: {operation: GET}}
requests:
  - {name: page, call: web.page, weight: 3}
  - {name: ping, call: web.ping, weight: 1}
)";

struct DecodedSpan {
  std::string trace, id, parent, service, name, kind;
  int64_t start = 0, end = 0;
  bool error = false;
  std::map<std::string, std::string> attrs;
};

std::vector<DecodedSpan> DecodeAll(const MemorySink& sink) {
  std::vector<DecodedSpan> out;
  for (const std::string& request : sink.requests()) {
    decode::DecodeStats stats;
    auto batch = decode::DecodeOtlpProto(request, decode::Limits(), &stats);
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) continue;
    const model::SpanBatch& b = *batch;
    for (uint32_t i = 0; i < b.size(); ++i) {
      DecodedSpan d;
      d.trace = model::ToHex(b.trace_id[i]);
      d.id = model::ToHex(b.span_id[i]);
      if (!model::IsZero(b.parent_span_id[i])) d.parent = model::ToHex(b.parent_span_id[i]);
      d.service = std::string(b.service(i));
      d.name = std::string(b.name[i]);
      d.kind = std::string(model::SpanKindShortName(b.kind[i]));
      d.start = static_cast<int64_t>(b.start_unix_nano[i]);
      d.end = static_cast<int64_t>(b.end_unix_nano[i]);
      d.error = b.status_code[i] == model::StatusCode::kError;
      const model::Range r = b.span_attributes[i];
      for (uint32_t k = r.first; k < r.first + r.count; ++k) {
        d.attrs[std::string(b.attributes[k].key)] = model::ValueToString(b, b.attributes[k].value);
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

SimOptions FastOptions(Nanos duration, double rps) {
  SimOptions o;
  o.seed = 11;
  o.speed = 0;
  o.duration = duration;
  o.profile = RateProfile::Constant(rps);
  o.epoch_unix_nano = 1'700'000'000'000'000'000;
  o.batch_spans = 1000;
  return o;
}

TEST(EngineTest, TracesFollowTheTopology) {
  Topology t = MustParse(kShop);
  MemorySink sink;
  Engine engine(t, FastOptions(120 * kSecond, 50), &sink);
  const Summary s = engine.Run();
  const std::vector<DecodedSpan> spans = DecodeAll(sink);
  ASSERT_EQ(static_cast<int64_t>(spans.size()), s.spans);
  std::map<std::string, std::vector<const DecodedSpan*>> traces;
  for (const DecodedSpan& d : spans) traces[d.trace].push_back(&d);
  ASSERT_EQ(static_cast<int64_t>(traces.size()), s.latency.count);

  int pages = 0, pings = 0;
  for (auto& [id, list] : traces) {
    std::map<std::string, const DecodedSpan*> by_id;
    const DecodedSpan* root = nullptr;
    for (const DecodedSpan* d : list) {
      by_id[d->id] = d;
      if (d->parent.empty()) {
        ASSERT_EQ(root, nullptr) << "two roots in " << id;
        root = d;
      }
    }
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(root->service, "web");
    EXPECT_EQ(root->kind, "server");
    for (const DecodedSpan* d : list) {
      if (d != root) {
        ASSERT_TRUE(by_id.count(d->parent)) << "dangling parent in " << id;
      }
      EXPECT_LE(d->start, d->end);
      EXPECT_FALSE(d->error);
    }
    if (root->name == "GET /ping") {
      ++pings;
      EXPECT_EQ(list.size(), 1u);
      continue;
    }
    ++pages;
    EXPECT_EQ(root->name, "GET /page");
    // Root's children: four client spans (a, b, c, db); each callee but the
    // uninstrumented database answers with a server span under its client span.
    std::vector<const DecodedSpan*> clients;
    for (const DecodedSpan* d : list) {
      if (d->parent == root->id) {
        EXPECT_EQ(d->kind, "client");
        EXPECT_EQ(d->service, "web");
        clients.push_back(d);
      }
    }
    ASSERT_EQ(clients.size(), 4u);
    std::sort(clients.begin(), clients.end(),
              [](auto* x, auto* y) { return std::tie(x->start, x->name) < std::tie(y->start, y->name); });
    EXPECT_EQ(clients[0]->name, "shop.A/x");
    EXPECT_EQ(clients[1]->name, "b/y");
    EXPECT_EQ(clients[2]->name, "c/z");
    EXPECT_EQ(clients[3]->name, "GET");
    // Call order: a.x, then b.y and c.z together, then db.get.
    EXPECT_GE(clients[1]->start, clients[0]->end);
    EXPECT_EQ(clients[1]->start, clients[2]->start);
    EXPECT_GE(clients[3]->start, std::max(clients[1]->end, clients[2]->end));
    // Work (2 ms) comes before the calls; the root ends after the last one.
    EXPECT_GE(clients[0]->start, root->start + 2'000'000);
    EXPECT_GE(root->end, clients[3]->end);
    EXPECT_EQ(clients[3]->attrs.at("db.system"), "redis");
    EXPECT_EQ(clients[3]->attrs.at("peer.service"), "db");
    EXPECT_EQ(clients[0]->attrs.at("rpc.system"), "grpc");
    int servers = 0;
    for (const DecodedSpan* d : list) {
      if (d->kind != "server" || d == root) continue;
      ++servers;
      const DecodedSpan* client = by_id.at(d->parent);
      EXPECT_EQ(client->kind, "client");
      EXPECT_EQ(client->name, d->name);
      // Inside its client span, one network hop (1 ms) each way.
      EXPECT_EQ(d->start - client->start, 1'000'000);
      EXPECT_EQ(client->end - d->end, 1'000'000);
    }
    EXPECT_EQ(servers, 3);
    EXPECT_EQ(list.size(), 8u);
  }
  // The mix is 3:1; with ~6000 requests a binomial proportion's standard
  // error is ~0.6%, so 3% is five of them.
  const double share = static_cast<double>(pages) / (pages + pings);
  EXPECT_NEAR(share, 0.75, 0.03);
  EXPECT_EQ(s.request_types[0].latency.count, pages);
  EXPECT_EQ(s.request_types[1].latency.count, pings);
}

TEST(EngineTest, SameSeedSameBytes) {
  Topology t = MustParse(kShop);
  auto run = [&](uint64_t seed) {
    MemorySink sink;
    SimOptions o = FastOptions(30 * kSecond, 200);
    o.seed = seed;
    Engine engine(t, o, &sink);
    engine.Run();
    return sink.Bytes();
  };
  const std::string first = run(5);
  EXPECT_GT(first.size(), 100000u);
  EXPECT_EQ(first, run(5));
  EXPECT_NE(first, run(6));
}

TEST(EngineTest, FaultsActExactlyInTheirWindows) {
  Topology t = MustParse(kShop);
  auto faults = ParseFaults(R"(
faults:
  - {id: err, type: errors, service: b, start: 20s, duration: 20s, rate: 1.0}
  - {id: slow, type: latency, service: c, operation: z, start: 50s, duration: 10s, latency: 300ms}
  - {id: net, type: network_delay, caller: web, callee: a, start: 70s, duration: 10s, latency: 50ms}
)",
                            t);
  ASSERT_TRUE(faults.ok()) << faults.status();
  MemorySink sink;
  SimOptions o = FastOptions(90 * kSecond, 40);
  o.faults = *faults;
  o.fault_attributes = true;
  Engine engine(t, o, &sink);
  const Summary s = engine.Run();
  const int64_t epoch = o.epoch_unix_nano;
  auto in = [&](const DecodedSpan& d, int from_s, int to_s) {
    return d.start - epoch >= from_s * kSecond && d.start - epoch < to_s * kSecond;
  };
  int b_in = 0, c_in = 0, a_in = 0, roots_failed = 0;
  for (const DecodedSpan& d : DecodeAll(sink)) {
    if (d.service == "b" && d.kind == "server") {
      // Work starts on arrival (the load is far below capacity), so the
      // arrival time is when the fault was applied.
      EXPECT_EQ(d.error, in(d, 20, 40)) << d.start - epoch;
      EXPECT_EQ(d.attrs.count("sim.fault.id") == 1, in(d, 20, 40));
      b_in += in(d, 20, 40);
    }
    if (d.service == "c" && d.kind == "server") {
      EXPECT_EQ(d.end - d.start >= 300 * kMillisecond, in(d, 50, 60)) << d.start - epoch;
      c_in += in(d, 50, 60);
    }
    if (d.service == "web" && d.kind == "client" && d.name == "shop.A/x") {
      // 50 ms each way on this edge while the fault lasts; 1 ms otherwise.
      // (A call sent just before the end answers after it: one way slow.)
      const Nanos took = d.end - d.start;
      const Nanos at = d.start - epoch;
      if (at >= 70 * kSecond && at < 80 * kSecond - 100 * kMillisecond) {
        EXPECT_GE(took, 100 * kMillisecond) << at;
      } else if (at >= 70 * kSecond && at < 80 * kSecond) {
        EXPECT_GE(took, 50 * kMillisecond) << at;
      } else {
        EXPECT_LT(took, 50 * kMillisecond) << at;
      }
      a_in += in(d, 70, 80);
    }
    if (d.parent.empty() && d.error) ++roots_failed;
  }
  EXPECT_GT(b_in, 500);
  EXPECT_GT(c_in, 200);
  EXPECT_GT(a_in, 200);
  EXPECT_EQ(roots_failed, s.latency.errors);
  EXPECT_EQ(s.services[2].errors, b_in);
}

TEST(EngineTest, ScaleCommandsTakeEffectAfterTheStartupDelay) {
  Topology t = MustParse(kShop);
  t.services[1].startup_delay = 5 * kSecond;
  SimOptions o = FastOptions(40 * kSecond, 20);
  Engine engine(t, o, nullptr);
  std::map<int, DeploymentStatus> seen;
  engine.SetTicker(kSecond, [&](Engine& e, Nanos now) {
    const int sec = static_cast<int>(now / kSecond);
    if (sec == 10) {
      ASSERT_TRUE(e.SetReplicas("a", 3).ok());
    }
    if (sec == 25) {
      ASSERT_TRUE(e.SetReplicas("a", 1).ok());
    }
    seen[sec] = e.Snapshot().deployments[1];
  });
  EXPECT_TRUE(absl::IsNotFound(engine.SetReplicas("nope", 1)));
  EXPECT_TRUE(absl::IsInvalidArgument(engine.SetReplicas("a", -1)));
  const Summary s = engine.Run();
  EXPECT_EQ(seen[9].ready_replicas, 1);
  EXPECT_EQ(seen[12].spec_replicas, 3);
  EXPECT_EQ(seen[12].status_replicas, 3);
  EXPECT_EQ(seen[12].ready_replicas, 1);   // still starting
  EXPECT_EQ(seen[14].ready_replicas, 1);
  EXPECT_EQ(seen[16].ready_replicas, 3);   // 10 s + 5 s start-up
  EXPECT_EQ(seen[27].ready_replicas, 1);
  // Replica-seconds: 1 replica for 40 s, plus 2 more from 10 s to ~25 s.
  EXPECT_NEAR(s.services[1].replica_seconds, 40 + 2 * 15, 2);
  EXPECT_NEAR(s.services[1].ready_replica_seconds, 40 + 2 * 10, 2);
  EXPECT_EQ(s.services[1].max_replicas, 3);
}

TEST(EngineTest, CrashFailsCallsUntilTheReplicaIsBack) {
  Topology t = MustParse(kShop);
  t.services[1].startup_delay = 5 * kSecond;
  auto faults = ParseFaults("faults: [{type: crash, service: a, start: 10s, duration: 10s, replicas: 1}]", t);
  ASSERT_TRUE(faults.ok()) << faults.status();
  MemorySink sink;
  SimOptions o = FastOptions(40 * kSecond, 20);
  o.faults = *faults;
  Engine engine(t, o, &sink);
  const Summary s = engine.Run();
  const int64_t epoch = o.epoch_unix_nano;
  int failed_in = 0;
  for (const DecodedSpan& d : DecodeAll(sink)) {
    if (d.name == "shop.A/x" && d.kind == "client") {
      const Nanos at = d.start - epoch;
      // Down from 10 s; restarted at 20 s, ready 5 s later.
      const bool down = at >= 10 * kSecond && at < 25 * kSecond;
      if (at > 10 * kSecond + 10 * kMillisecond && at < 25 * kSecond - 10 * kMillisecond) {
        EXPECT_TRUE(d.error) << at;
      }
      if (!down) {
        EXPECT_FALSE(d.error);
      }
      failed_in += d.error;
    }
  }
  EXPECT_GT(failed_in, 200);
  EXPECT_EQ(s.services[1].refused, failed_in);
}

TEST(EngineTest, TimeoutsAndRetries) {
  Topology t = MustParse(R"(
name: retry
network: 0s
services:
  - name: web
    protocol: http
    workers: 100
    operations:
      - name: page
        time: 1ms
        calls:
          - {call: slow.op, timeout: 100ms, retries: 2, retry_backoff: 10ms}
  - name: slow
    protocol: grpc
    workers: 100
    operations:
      - {name: op, time: 1s}
requests:
  - {name: page, call: web.page}
)");
  MemorySink sink;
  Engine engine(t, FastOptions(20 * kSecond, 5), &sink);
  const Summary s = engine.Run();
  ASSERT_GT(s.latency.count, 50);
  EXPECT_EQ(s.latency.errors, s.latency.count);
  // 1 ms + 3 attempts x 100 ms + 2 backoffs of 10 ms.
  EXPECT_NEAR(s.latency.p50_ms, 321, 0.5);
  int clients = 0, servers = 0;
  for (const DecodedSpan& d : DecodeAll(sink)) {
    if (d.kind == "client") {
      ++clients;
      EXPECT_TRUE(d.error);
      EXPECT_EQ(d.end - d.start, 100 * kMillisecond);
    }
    if (d.service == "slow") {
      ++servers;
      EXPECT_FALSE(d.error);  // the callee finished its work regardless
    }
  }
  EXPECT_EQ(clients, 3 * s.latency.count);
  EXPECT_EQ(servers, 3 * s.latency.count);
}


TEST(EngineTest, CpuSaturationAndLeak) {
  Topology t = MustParse(kShop);
  t.services[1].startup_delay = 2 * kSecond;
  auto faults = ParseFaults(R"(
faults:
  - {type: cpu_saturation, service: b, start: 10s, duration: 10s, factor: 3}
  - {type: leak, service: a, start: 30s, duration: 20s, rate: 0.5, leak_bytes_per_second: 200Mi}
)",
                            t);
  ASSERT_TRUE(faults.ok()) << faults.status();
  MemorySink sink;
  SimOptions o = FastOptions(60 * kSecond, 20);
  o.faults = *faults;
  Engine engine(t, o, &sink);
  std::map<int, PodStatus> a_pod;
  std::map<int, double> b_cpu;
  engine.SetTicker(kSecond, [&](Engine& e, Nanos now) {
    const ClusterSnapshot snap = e.Snapshot();
    for (const PodStatus& p : snap.pods) {
      if (p.deployment == "a") a_pod[static_cast<int>(now / kSecond)] = p;
      if (p.deployment == "b") b_cpu[static_cast<int>(now / kSecond)] = p.cpu_seconds_total;
    }
  });
  const Summary s = engine.Run();
  // Saturated: every worker busy (64 cores' worth) for the 10 s window;
  // outside it, ~20 rps x 0.75 x 5 ms.
  EXPECT_NEAR(b_cpu[21] - b_cpu[9], 64 * 10, 5);
  EXPECT_LT(b_cpu[9], 2);
  // Leak: 64Mi + 200Mi/s reaches the 1Gi limit after ~5 s: the replica is
  // OOM-killed and restarted (not ready for the 2 s start-up delay), again
  // and again during the window; never before or after it.
  EXPECT_EQ(a_pod[29].restarts, 0);
  EXPECT_GE(a_pod[50].restarts, 2);
  EXPECT_EQ(a_pod[59].restarts, a_pod[51].restarts);
  EXPECT_LT(a_pod[59].memory_working_set_bytes, 128 << 20);
  // Service time grows with uptime under the leak: 3 ms x (1 + 0.5 x age).
  int64_t slow = 0;
  for (const DecodedSpan& d : DecodeAll(sink)) {
    if (d.service != "a" || d.kind != "server") continue;
    const Nanos at = d.start - o.epoch_unix_nano;
    const Nanos took = d.end - d.start;
    if (at < 30 * kSecond || at >= 50 * kSecond) {
      EXPECT_EQ(took, 3 * kMillisecond) << at;
    } else {
      slow += took > 4 * kMillisecond;
    }
  }
  EXPECT_GT(slow, 100);
  EXPECT_GT(s.services[1].refused, 0);  // calls while it restarted
}

TEST(EngineTest, StoppedEarlyTheSummaryCoversWhatRan) {
  Topology t = MustParse(kShop);
  Engine engine(t, FastOptions(600 * kSecond, 20), nullptr);
  std::atomic<bool> stop{false};
  engine.SetTicker(kSecond, [&](Engine&, Nanos now) {
    if (now >= 20 * kSecond) stop.store(true);
  });
  const Summary s = engine.Run(&stop);
  EXPECT_NEAR(s.sim_seconds, 20, 0.01);
  EXPECT_NEAR(s.services[0].replica_seconds, 20, 0.01);
  EXPECT_NEAR(static_cast<double>(s.latency.count + s.unfinished), 20 * 20, 5 * std::sqrt(400.0));
}

// Every built-in topology: each trace is exactly what its call graph says.
// Each SERVER span's CLIENT children are matched step by step against its
// operation (calls skipped only when their probability allows, retries only
// after a failed attempt, steps in order, parallel steps together and within
// their concurrency, nothing after a failure), each CLIENT span to an
// instrumented service has that service's SERVER span under it (none for an
// uninstrumented one), and the request types follow the mix.
class BuiltinTopologyTest : public ::testing::TestWithParam<std::string> {};

int Attempt(const DecodedSpan* d) {
  auto it = d->attrs.find("http.request.resend_count");
  if (it == d->attrs.end()) it = d->attrs.find("sim.retry");
  return it == d->attrs.end() ? 0 : std::stoi(it->second);
}

std::string CallName(const Topology& t, const Call& call) {
  return OperationSpanName(t.services[call.service], t.services[call.service].operations[call.operation]);
}

// Matches a SERVER span's CLIENT children (sorted by start) against the
// steps of `op`; returns "" if they fit, else what does not.
std::string MatchCalls(const Topology& t, const Operation& op, const DecodedSpan& server,
                       const std::vector<const DecodedSpan*>& calls) {
  size_t next = 0;
  int64_t prev_end = server.start;
  bool failed = false;
  for (const Step& step : op.steps) {
    if (failed) break;
    std::multiset<std::string> expected, required;
    for (const Call& call : step.calls) {
      expected.insert(CallName(t, call));
      if (call.probability >= 1) required.insert(CallName(t, call));
    }
    std::vector<const DecodedSpan*> made;
    while (next < calls.size() && expected.count(calls[next]->name) > 0) {
      const DecodedSpan* c = calls[next];
      if (Attempt(c) == 0) {
        if (!step.parallel && !made.empty()) break;
        expected.erase(expected.find(c->name));
        if (required.count(c->name)) required.erase(required.find(c->name));
      } else {
        bool after_failure = false;
        for (const DecodedSpan* m : made) after_failure |= m->name == c->name && m->error && m->end <= c->start;
        if (!after_failure) return "a retry of " + c->name + " without a failed attempt";
      }
      if (c->start < prev_end) return c->name + " started before the previous step ended";
      made.push_back(c);
      ++next;
      if (!step.parallel && expected.empty()) {
        while (next < calls.size() && calls[next]->name == c->name && Attempt(calls[next]) > 0) {
          made.push_back(calls[next++]);
        }
        break;
      }
    }
    if (!required.empty()) return "missing call " + *required.begin();
    if (step.parallel && !made.empty()) {
      const size_t limit = step.concurrency > 0 ? step.concurrency : step.calls.size();
      for (const DecodedSpan* a : made) {
        size_t overlapping = 0;
        for (const DecodedSpan* b : made) overlapping += b->start <= a->start && a->start < b->end;
        if (overlapping > limit) return "more than " + std::to_string(limit) + " calls at once";
      }
      for (const DecodedSpan* m : made) {
        if (step.concurrency == 0 && Attempt(m) == 0 && m->start != made.front()->start) {
          return "parallel calls did not start together";
        }
      }
    }
    // A call whose last attempt failed fails the step unless it is optional.
    std::map<std::string, const DecodedSpan*> last;
    for (const DecodedSpan* m : made) {
      prev_end = std::max(prev_end, m->end);
      last[m->name] = m;
    }
    for (const auto& [name, m] : last) {
      bool optional = false;
      for (const Call& call : step.calls) optional |= CallName(t, call) == name && call.optional;
      if (m->error && !optional) failed = true;
    }
  }
  if (next != calls.size()) return "unexpected call " + calls[next]->name;
  if (failed && !server.error) return "a failed call did not fail the caller";
  return "";
}

TEST_P(BuiltinTopologyTest, TracesMatchTheCallGraph) {
  auto loaded = LoadTopology(GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Topology& t = *loaded;
  MemorySink sink;
  SimOptions o = FastOptions(60 * kSecond, 40);
  Engine engine(t, o, &sink);
  const Summary summary = engine.Run();
  const std::vector<DecodedSpan> spans = DecodeAll(sink);
  ASSERT_EQ(static_cast<int64_t>(spans.size()), summary.spans);

  // (service, server span name) -> operations (one endpoint may stand for
  // several modelled operations).
  std::map<std::pair<std::string, std::string>, std::vector<int>> ops;
  for (const Service& svc : t.services) {
    for (size_t oi = 0; oi < svc.operations.size(); ++oi) {
      ops[{svc.name, OperationSpanName(svc, svc.operations[oi])}].push_back(static_cast<int>(oi));
    }
  }
  std::map<std::string, std::vector<const DecodedSpan*>> children;
  std::map<std::string, int> roots_by_name;
  int64_t roots = 0;
  for (const DecodedSpan& d : spans) {
    children[d.parent].push_back(&d);
    if (d.parent.empty()) {
      ++roots;
      ++roots_by_name[d.name];
    }
  }
  EXPECT_EQ(roots, summary.latency.count);
  int64_t checked = 0;
  for (const DecodedSpan& server : spans) {
    if (server.kind != "server") continue;
    auto op_it = ops.find({server.service, server.name});
    ASSERT_NE(op_it, ops.end()) << server.service << " " << server.name;
    const int si = t.FindService(server.service);
    std::vector<const DecodedSpan*> calls;
    for (const DecodedSpan* c : children[server.id]) {
      ASSERT_EQ(c->kind, "client") << server.name << " has a non-client child " << c->name;
      ASSERT_EQ(c->service, server.service);
      calls.push_back(c);
    }
    std::sort(calls.begin(), calls.end(), [](auto* a, auto* b) { return a->start < b->start; });
    std::string problems;
    bool matched = false;
    for (int oi : op_it->second) {
      const std::string p = MatchCalls(t, t.services[si].operations[oi], server, calls);
      if (p.empty()) {
        matched = true;
        break;
      }
      problems += p + "; ";
    }
    ASSERT_TRUE(matched) << server.service << " " << server.name << ": " << problems;
    // Each CLIENT span: the callee's SERVER span under it, if instrumented
    // (and unless the call was refused).
    for (const DecodedSpan* c : calls) {
      const auto& below = children[c->id];
      const std::string peer = c->attrs.count("peer.service") ? c->attrs.at("peer.service") : "";
      const int callee = t.FindService(peer);
      ASSERT_GE(callee, 0) << c->name << " has no peer.service";
      const bool refused = c->error && c->attrs.count("error.type") &&
                           (c->attrs.at("error.type") == "503" || c->attrs.at("error.type") == "UNAVAILABLE" ||
                            c->attrs.at("error.type") == "unavailable");
      if (!t.services[callee].instrumented) {
        EXPECT_TRUE(below.empty()) << c->name;
      } else if (!refused) {
        ASSERT_EQ(below.size(), 1u) << c->name;
        EXPECT_EQ(below[0]->kind, "server");
        EXPECT_EQ(below[0]->name, c->name);
        EXPECT_EQ(below[0]->service, peer);
        EXPECT_GE(below[0]->start, c->start);
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 1000);
  // The mix: each request type's share within five standard errors.
  double total_weight = 0;
  for (const RequestType& rt : t.requests) total_weight += rt.weight;
  std::map<std::string, double> expected_share;
  for (const RequestType& rt : t.requests) {
    expected_share[OperationSpanName(t.services[rt.service], t.services[rt.service].operations[rt.operation])] +=
        rt.weight / total_weight;
  }
  for (const auto& [name, p] : expected_share) {
    const double se = std::sqrt(p * (1 - p) / static_cast<double>(roots));
    const double share = static_cast<double>(roots_by_name[name]) / static_cast<double>(roots);
    EXPECT_NEAR(share, p, 5 * se + 1e-9) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(All, BuiltinTopologyTest, ::testing::ValuesIn(BuiltinTopologyNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace ariadne::sim
