#include "detect/rca.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace ariadne::detect {
namespace {

using model::SpanKind;
constexpr uint64_t kMs = 1'000'000;

// A three-tier application: frontend -> checkout -> {payment, cart -> redis}.
// `shape` changes one thing in the anomalous window.
struct Shape {
  double checkout_extra_ms = 0;   // added self time in checkout
  double payment_wire_ms = 0;     // added between checkout's call and payment's server span
  double payment_error = 0;       // payment fails (and checkout and frontend with it)
  double cart_skips_redis = 0;    // cart answers without calling redis
  double redis_error = 0;         // cart's client span to redis fails (redis is not instrumented)
  double redis_extra_ms = 0;      // redis answers slower
  double payment_down = 0;        // payment does not answer (its server span is missing), the call fails
  double frontend_queue_ms = 0;   // frontend's requests wait for a worker before they start
};

void AddTraces(RcaData* d, RcaWindow* w, uint64_t t0, int traces, const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  std::uniform_real_distribution<double> u(0, 1);
  uint64_t id = 1;
  for (int t = 0; t < traces; ++t) {
    const std::string trace = "t" + std::to_string(seed) + "-" + std::to_string(t);
    const uint64_t start = t0 + static_cast<uint64_t>(t) * 100 * kMs;  // 10 traces a second
    uint64_t now = start + kMs + static_cast<uint64_t>(s.frontend_queue_ms * jitter(rng) * kMs);
    // checkout's children
    const bool pay_fail = u(rng) < s.payment_error;
    const uint64_t fe = id++, fc = id++, co = id++, pc = id++, ps = id++, cc = id++, cs = id++,
                   rc = id++;
    const uint64_t co_start = now;
    now += static_cast<uint64_t>((2 + s.checkout_extra_ms) * jitter(rng) * kMs);
    // payment call
    const uint64_t pc_start = now;
    const uint64_t wire = static_cast<uint64_t>((0.5 + s.payment_wire_ms) * jitter(rng) * kMs);
    const uint64_t ps_start = pc_start + wire / 2;
    const uint64_t ps_end = ps_start + static_cast<uint64_t>(5 * jitter(rng) * kMs);
    const uint64_t pc_end = ps_end + wire / 2;
    now = pc_end + kMs;
    // cart call
    const uint64_t cc_start = now;
    const uint64_t cs_start = cc_start + static_cast<uint64_t>(0.3 * kMs);
    uint64_t cs_now = cs_start + static_cast<uint64_t>(1 * jitter(rng) * kMs);
    const bool skip = u(rng) < s.cart_skips_redis;
    const bool redis_fail = u(rng) < s.redis_error;
    if (!skip) {
      const uint64_t rc_end =
          cs_now + static_cast<uint64_t>((1 + s.redis_extra_ms) * jitter(rng) * kMs);
      d->Add(w, trace, rc, cs, "cart", "GET", SpanKind::kClient, cs_now, rc_end, redis_fail, "redis");
      cs_now = rc_end;
    }
    const uint64_t cs_end = cs_now + static_cast<uint64_t>(0.5 * kMs);
    const uint64_t cc_end = cs_end + static_cast<uint64_t>(0.3 * kMs);
    d->Add(w, trace, cs, cc, "cart", "GetCart", SpanKind::kServer, cs_start, cs_end, redis_fail);
    d->Add(w, trace, cc, co, "checkout", "cart/GetCart", SpanKind::kClient, cc_start, cc_end, redis_fail);
    const bool down = u(rng) < s.payment_down;
    if (!down) {
      d->Add(w, trace, ps, pc, "payment", "Charge", SpanKind::kServer, ps_start, ps_end, pay_fail);
    }
    d->Add(w, trace, pc, co, "checkout", "payment/Charge", SpanKind::kClient, pc_start,
           down ? pc_start + kMs : pc_end, pay_fail || down, "payment");
    const uint64_t co_end = cc_end + kMs;
    const bool fail = pay_fail || redis_fail || down;
    d->Add(w, trace, co, fc, "checkout", "PlaceOrder", SpanKind::kServer, co_start, co_end, fail);
    d->Add(w, trace, fc, fe, "frontend", "checkout/PlaceOrder", SpanKind::kClient,
           co_start - kMs / 4, co_end + kMs / 4, fail);
    d->Add(w, trace, fe, 0, "frontend", "POST /checkout", SpanKind::kServer, start, co_end + kMs, fail);
  }
}

std::vector<RcaCandidate> Rank(const Shape& anomalous, std::vector<RcaResource> resources = {}) {
  RcaData d;
  AddTraces(&d, &d.normal, 1'000'000 * kMs, 3000, Shape(), 1);      // 300 s
  AddTraces(&d, &d.anomalous, 1'400'000 * kMs, 600, anomalous, 2);   // 60 s
  d.resources = std::move(resources);
  return RankRootCauses(d);
}

TEST(RcaTest, NothingChangedIsNoEvidence) {
  EXPECT_TRUE(Rank(Shape()).empty());
}

TEST(RcaTest, SelfTimeNamesTheSlowServiceNotItsCallers) {
  const auto r = Rank({.checkout_extra_ms = 40});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "checkout");
  EXPECT_EQ(r[0].operation, "PlaceOrder");
  EXPECT_EQ(r[0].evidence[0].kind, "latency");
  EXPECT_NEAR(r[0].evidence[0].normal, 0.002 + 0.001 + 0.001 + 0.001, 0.002);  // gaps between calls
  EXPECT_EQ(r[0].exemplar_trace_ids.size(), 3u);
  EXPECT_NE(r[0].explanation.find("self time of checkout PlaceOrder"), std::string::npos)
      << r[0].explanation;
  // The frontend only waits: it has no evidence of its own.
  for (const auto& c : r) EXPECT_NE(c.service, "frontend");
}

TEST(RcaTest, ACallerQueueingBehindASlowCalleeIsNotTheCause) {
  // checkout is slower, so frontend's workers are held longer and its own
  // requests queue: frontend's self time grows too, here by more than
  // checkout's own.
  const auto r = Rank({.checkout_extra_ms = 20, .frontend_queue_ms = 30});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "checkout");
  for (const auto& c : r) {
    if (c.service == "frontend") EXPECT_LT(c.score, r[0].score / 4) << c.explanation;
  }
}

TEST(RcaTest, WireTimeGoesToTheCallee) {
  const auto r = Rank({.payment_wire_ms = 30});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "payment");
  EXPECT_EQ(r[0].evidence[0].kind, "network");
}

TEST(RcaTest, ErrorsAreBlamedWhereTheyOriginate) {
  const auto r = Rank({.payment_error = 0.3});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "payment");
  EXPECT_EQ(r[0].evidence[0].kind, "errors");
  EXPECT_NEAR(r[0].evidence[0].anomalous, 0.3, 0.06);
  EXPECT_EQ(r[0].evidence[0].normal, 0);
  for (const auto& c : r) {
    EXPECT_NE(c.service, "checkout");
    EXPECT_NE(c.service, "frontend");
  }
}

TEST(RcaTest, AFailingCallToAnUninstrumentedPeerNamesThePeer) {
  const auto r = Rank({.redis_error = 0.2});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "redis");
}

TEST(RcaTest, ASlowUninstrumentedPeerIsNamedNotItsCaller) {
  const auto r = Rank({.redis_extra_ms = 20});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "redis");
  EXPECT_EQ(r[0].evidence[0].kind, "latency");
  EXPECT_EQ(r[0].operation, "GET");
}

TEST(RcaTest, AServiceThatStopsAnsweringIsNamed) {
  const auto r = Rank({.payment_down = 1});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "payment");
  bool traffic = false;
  for (const auto& e : r[0].evidence) {
    if (e.kind == "traffic") {
      traffic = true;
      EXPECT_NEAR(e.normal, 10, 0.5);  // 10 requests a second before
      EXPECT_EQ(e.anomalous, 0);
    }
  }
  EXPECT_TRUE(traffic);
  // Its callers kept their traffic: no traffic evidence for them.
  for (const auto& c : r) {
    for (const auto& e : c.evidence) {
      if (c.service != "payment") EXPECT_NE(e.kind, "traffic") << c.service;
    }
  }
}

TEST(RcaTest, ChangedCallsAreBehaviour) {
  const auto r = Rank({.cart_skips_redis = 0.5});
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].service, "cart");
  EXPECT_EQ(r[0].evidence[0].kind, "behaviour");
  EXPECT_NEAR(r[0].evidence[0].anomalous, 0.5, 0.08);
}

TEST(RcaTest, AResourceThatLeftItsRangeIsEvidence) {
  RcaResource cpu{.service = "payment", .name = "cpu_cores", .times = {}, .values = {}};
  RcaResource steady{.service = "cart", .name = "cpu_cores", .times = {}, .values = {}};
  for (uint64_t s = 1000; s < 1460; s += 10) {
    cpu.times.push_back(s * 1000 * kMs);
    cpu.values.push_back(s >= 1420 ? 0.9 : 0.2 + 0.01 * static_cast<double>(s % 3));
    steady.times.push_back(s * 1000 * kMs);
    steady.values.push_back(0.3 + 0.01 * static_cast<double>(s % 3));
  }
  const auto r = Rank(Shape(), {cpu, steady});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].service, "payment");
  EXPECT_EQ(r[0].evidence[0].kind, "resource");
  EXPECT_EQ(r[0].evidence[0].operation, "cpu_cores");
  EXPECT_EQ(r[0].evidence[0].first_nanos, 1420'000 * kMs);
}

TEST(RcaTest, BatchesAreReadWithServiceAndPeer) {
  model::SpanBatch b;
  const uint32_t row = b.AddSpan();
  b.resources.push_back({});
  b.resources[0].service_name = "svc";
  b.scopes.push_back({});
  b.scope[row] = 0;
  b.trace_id[row][15] = 0xab;
  b.span_id[row][0] = 1;
  b.name[row] = "op";
  b.kind[row] = SpanKind::kClient;
  b.start_unix_nano[row] = 100;
  b.end_unix_nano[row] = 200;
  b.status_code[row] = model::StatusCode::kError;
  b.attributes.push_back({"peer.service", model::AnyValue::String("db")});
  b.span_attributes[row] = {0, 1};
  RcaData d;
  d.AddBatch(&d.anomalous, b, 0, 150);
  d.AddBatch(&d.normal, b, 150, 300);  // starts before: not taken
  ASSERT_EQ(d.anomalous.size(), 1u);
  EXPECT_EQ(d.normal.size(), 0u);
  EXPECT_EQ(d.Name(d.anomalous.service[0]), "svc");
  EXPECT_EQ(d.Name(d.anomalous.peer[0]), "db");
  EXPECT_EQ(d.TraceName(d.anomalous.trace[0]), "000000000000000000000000000000ab");
  EXPECT_EQ(d.anomalous.error[0], 1);
}

}  // namespace
}  // namespace ariadne::detect
