#include "detect/root_cause.h"

#include <cstring>
#include <memory>
#include <random>

#include "gtest/gtest.h"
#include "store/head.h"

namespace ariadne::detect {
namespace {

using model::SpanKind;
constexpr uint64_t kSec = 1'000'000'000, kMs = 1'000'000;

// Spans of one batch; a resource (and scope) per service.
class BatchBuilder {
 public:
  BatchBuilder() : b_(std::make_shared<model::SpanBatch>()) {}
  void Span(uint64_t trace, uint64_t id, uint64_t parent, uint32_t service, std::string_view op,
            SpanKind kind, uint64_t start, uint64_t end) {
    const uint32_t row = b_->AddSpan();
    std::memcpy(b_->trace_id[row].data() + 8, &trace, 8);
    std::memcpy(b_->span_id[row].data(), &id, 8);
    std::memcpy(b_->parent_span_id[row].data(), &parent, 8);
    b_->name[row] = op;
    b_->kind[row] = kind;
    b_->start_unix_nano[row] = start;
    b_->end_unix_nano[row] = end;
    b_->scope[row] = service;
  }
  std::shared_ptr<model::SpanBatch> Done() {
    for (std::string_view s : {"frontend", "cart"}) {
      b_->resources.push_back({});
      b_->resources.back().service_name = s;
      b_->scopes.push_back({});
      b_->scopes.back().resource = static_cast<uint32_t>(b_->resources.size() - 1);
    }
    return b_;
  }

 private:
  std::shared_ptr<model::SpanBatch> b_;
};

// frontend -> cart, 5 traces a second from `from` to `to`; cart's own time
// is 2 ms, or `slow_ms` from `slow_from` on.
void Traffic(store::Head* head, uint64_t from, uint64_t to, uint64_t slow_from, double slow_ms) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  BatchBuilder b;
  uint64_t id = 1;
  for (uint64_t t = from; t < to; t += 200 * kMs) {
    const double cart_ms = (t >= slow_from ? slow_ms : 2) * jitter(rng);
    const uint64_t cart_end = t + kMs + static_cast<uint64_t>(cart_ms * kMs);
    const uint64_t trace = id;
    b.Span(trace, id, 0, 0, "GET /", SpanKind::kServer, t, cart_end + 2 * kMs);
    b.Span(trace, id + 1, id, 0, "cart/Get", SpanKind::kClient, t + kMs / 2, cart_end + kMs / 2);
    b.Span(trace, id + 2, id + 1, 1, "Get", SpanKind::kServer, t + kMs, cart_end);
    id += 3;
  }
  head->Append(b.Done());
}

TEST(RootCauseTest, RanksAnOpenIncidentFromTheStore) {
  store::Head head;
  const uint64_t opened = 2000 * kSec;
  Traffic(&head, opened - 20 * 60 * kSec, opened + 3 * 60 * kSec, opened - 30 * kSec, 50);

  std::vector<Incident> changes;
  IncidentOptions io;
  io.confirm_window_nanos = 0;  // confirmed by its first anomaly
  IncidentManager incidents(io, [] {
    return std::vector<std::pair<std::string, std::string>>{{"frontend", "cart"}};
  }, [&](const Incident& i) { changes.push_back(i); });
  Anomaly a;
  a.series = "latency_seconds";
  a.labels = {{"service", "frontend"}};
  a.time_nanos = opened;
  a.verdict.score = 0.9;
  incidents.OnAnomaly(a);
  RootCauseOptions o;
  RootCauseRanker ranker(&head, nullptr, &incidents, o);

  incidents.Advance(opened + 10 * kSec);  // too early
  ranker.RunOnce();
  EXPECT_TRUE(incidents.Incidents(true).at(0).root_causes.empty());

  incidents.Advance(opened + 90 * kSec);
  changes.clear();
  ranker.RunOnce();
  const Incident i = incidents.Incidents(true).at(0);
  ASSERT_FALSE(i.root_causes.empty());
  EXPECT_EQ(i.root_causes[0].service, "cart");
  EXPECT_EQ(i.root_causes[0].operation, "Get");
  EXPECT_EQ(i.root_causes[0].evidence[0].kind, "latency");
  EXPECT_EQ(i.root_causes[0].exemplar_trace_ids.size(), 3u);
  EXPECT_EQ(i.root_causes_nanos, opened + 90 * kSec);
  ASSERT_EQ(changes.size(), 1u);  // the alert is updated
  EXPECT_EQ(changes[0].root_causes.size(), i.root_causes.size());

  // Not again until `refresh` has passed.
  ranker.RunOnce();
  EXPECT_EQ(changes.size(), 1u);
  incidents.Advance(opened + 160 * kSec);
  ranker.RunOnce();
  EXPECT_EQ(changes.size(), 2u);
}

TEST(RootCauseTest, AnIncidentThatResolvedUnrankedIsRankedOnce) {
  store::Head head;
  const uint64_t opened = 2000 * kSec;
  Traffic(&head, opened - 20 * 60 * kSec, opened + 3 * 60 * kSec, opened - 30 * kSec, 50);
  int changes = 0;
  IncidentOptions io;
  io.confirm_window_nanos = 0;  // confirmed by its first anomaly
  IncidentManager incidents(io, [] {
    return std::vector<std::pair<std::string, std::string>>{};
  }, [&](const Incident&) { ++changes; });
  Anomaly a;
  a.series = "latency_seconds";
  a.labels = {{"service", "cart"}};
  a.time_nanos = opened;
  incidents.OnAnomaly(a);
  incidents.Advance(opened + 6 * 60 * kSec);  // quiet for 5 minutes: resolved
  ASSERT_FALSE(incidents.Incidents(false).at(0).open);
  RootCauseRanker ranker(&head, nullptr, &incidents);
  changes = 0;
  ranker.RunOnce();
  ranker.RunOnce();
  EXPECT_EQ(changes, 1);
  const Incident i = incidents.Incidents(false).at(0);
  ASSERT_FALSE(i.root_causes.empty());
  EXPECT_EQ(i.root_causes[0].service, "cart");
}

TEST(RootCauseTest, SamplesTheWholeWindow) {
  store::Head head;
  const uint64_t opened = 2000 * kSec;
  Traffic(&head, opened - 20 * 60 * kSec, opened + 60 * kSec, opened, 2);
  RootCauseOptions o;
  o.traces_per_window = 100;
  o.slices = 10;
  // Nothing changed: no evidence, whatever the sample.
  EXPECT_TRUE(RankFromStore(head, nullptr, opened, opened + 60 * kSec, o).empty());
}

}  // namespace
}  // namespace ariadne::detect
