#include "control/span_meter.h"

#include <cstring>

#include "gtest/gtest.h"

namespace ariadne::control {
namespace {

model::SpanId Id(uint64_t v) {
  model::SpanId id{};
  std::memcpy(id.data(), &v, sizeof v);
  return id;
}

class BatchBuilder {
 public:
  BatchBuilder() {
    for (const char* s : {"frontend", "backend"}) {
      model::Resource r;
      r.service_name = s;
      batch_.resources.push_back(r);
      model::Scope sc;
      sc.resource = static_cast<uint32_t>(batch_.resources.size() - 1);
      batch_.scopes.push_back(sc);
    }
  }
  // service 0 = frontend, 1 = backend; times in ms.
  void Add(int service, model::SpanKind kind, uint64_t id, uint64_t parent, double start_ms,
           double end_ms) {
    const uint32_t row = batch_.AddSpan();
    batch_.scope[row] = static_cast<uint32_t>(service);
    batch_.kind[row] = kind;
    batch_.span_id[row] = Id(id);
    batch_.parent_span_id[row] = Id(parent);
    batch_.start_unix_nano[row] = static_cast<uint64_t>(1e12 + start_ms * 1e6);
    batch_.end_unix_nano[row] = static_cast<uint64_t>(1e12 + end_ms * 1e6);
  }
  model::SpanBatch& batch() { return batch_; }

 private:
  model::SpanBatch batch_;
};

TEST(SpanMeterTest, SelfTimeExcludesCalls) {
  SpanMeter meter;
  {
    BatchBuilder b;
    // backend server spans (children of the frontend's client spans): 2 ms each.
    b.Add(1, model::SpanKind::kServer, 11, 21, 3, 5);
    b.Add(1, model::SpanKind::kServer, 12, 22, 4, 6);
    // The frontend's two parallel calls, [2.5, 5.5) and [3.5, 6.5).
    b.Add(0, model::SpanKind::kClient, 21, 1, 2.5, 5.5);
    b.Add(0, model::SpanKind::kClient, 22, 1, 3.5, 6.5);
    meter.PushSpans(b.batch());
  }
  {
    BatchBuilder b;
    // The frontend's root server span, [0, 8): calls cover [2.5, 6.5) -> self 4 ms.
    b.Add(0, model::SpanKind::kServer, 1, 0, 0, 8);
    meter.PushSpans(b.batch());
  }
  EXPECT_EQ(meter.PendingForTest(), 0u);
  const IntervalObservation o = meter.TakeInterval(2.0);
  EXPECT_EQ(o.requests, 1);
  EXPECT_DOUBLE_EQ(o.visits_per_request, 3.0);
  ASSERT_EQ(o.services.size(), 2u);
  EXPECT_EQ(o.services[0].service, "backend");
  EXPECT_EQ(o.services[0].spans, 2);
  EXPECT_DOUBLE_EQ(o.services[0].rate, 1.0);
  EXPECT_NEAR(o.services[0].mean_self_s, 0.002, 1e-9);
  EXPECT_NEAR(o.services[0].self_cv2, 0.0, 1e-9);
  EXPECT_EQ(o.services[1].service, "frontend");
  EXPECT_NEAR(o.services[1].mean_self_s, 0.004, 1e-9);
  EXPECT_NEAR(o.services[1].mean_duration_s, 0.008, 1e-9);
  // The next interval starts empty.
  EXPECT_TRUE(meter.TakeInterval(1.0).services.empty());
}

TEST(SpanMeterTest, PendingIsBounded) {
  SpanMeter meter(0.95, 16, 64);
  BatchBuilder b;
  for (uint64_t i = 0; i < 1000; ++i) {
    b.Add(0, model::SpanKind::kClient, 1000 + i, 5000 + i, 0, 1);  // parents never come
  }
  meter.PushSpans(b.batch());
  EXPECT_LE(meter.PendingForTest(), 64u);
}

TEST(SpanMeterTest, TailQuantileFromReservoir) {
  SpanMeter meter(0.95, 4096);
  BatchBuilder b;
  for (uint64_t i = 1; i <= 100; ++i) {
    b.Add(1, model::SpanKind::kServer, i, 7, 0, static_cast<double>(i));  // 1..100 ms
  }
  meter.PushSpans(b.batch());
  const IntervalObservation o = meter.TakeInterval(1.0);
  ASSERT_EQ(o.services.size(), 1u);
  EXPECT_NEAR(o.services[0].tail_self_s, 0.095, 1e-6);
}

}  // namespace
}  // namespace ariadne::control
