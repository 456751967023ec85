#include "control/controller.h"

#include <rapidjson/document.h>

#include <limits>

#include "control/queueing.h"
#include "gtest/gtest.h"

namespace ariadne::control {
namespace {

// A service with S = 10 ms (exponential), one worker per replica, at `rate`,
// as its spans would show it with `ready` replicas: self time = wait + S.
ServiceInput Input(double rate, int current, int ready) {
  ServiceInput in;
  in.service = "svc";
  in.spans = static_cast<int64_t>(rate * 15);
  in.rate = rate;
  const double per = ready > 0 ? rate / ready : rate;
  in.mean_self_s = 0.010 + MeanWait(per, 0.010, 1, 1.0);
  in.self_cv2 = 1.0;
  in.visits_per_request = 1;
  in.workers = 1;
  in.current = current;
  in.ready = ready;
  in.startup_delay_s = 10;
  return in;
}

ControllerOptions Options() {
  ControllerOptions o;
  o.slo_s = 0.2;
  o.slo_quantile = 0.99;
  o.queueing_share = 0.5;
  o.max_utilisation = 0.8;
  return o;
}

TEST(ControllerTest, SizesByTheQueueingModel) {
  Controller c(Options());
  const Decision d = c.Decide(15, Input(250, 4, 4));
  // The service time is recovered from the self time ...
  EXPECT_NEAR(d.inputs.service_time_s, 0.010, 1e-6);
  // ... and the size is the smallest meeting P(W > 100 ms) <= 1 % per replica.
  EXPECT_EQ(d.desired, SmallestReplicas(250, 0.010, 1.0, 1, 0.1, 0.99, 0.8, 1, 100));
  EXPECT_GT(d.desired, 4);
  EXPECT_FALSE(d.reason.empty());
}

TEST(ControllerTest, ScalesUpAtOnceAndDownSlowly) {
  Controller c(Options());
  int replicas = 2;
  double t = 15;
  // Steady 100/s: settles at a size and stays there.
  for (int i = 0; i < 10; ++i, t += 15) replicas = c.Decide(t, Input(100, replicas, replicas)).desired;
  const int steady = replicas;
  EXPECT_EQ(c.Decide(t, Input(100, steady, steady)).desired, steady);
  t += 15;
  // A jump to 400/s: up at once, in one step.
  Decision up = c.Decide(t, Input(400, steady, steady));
  EXPECT_GT(up.desired, steady);
  replicas = up.desired;
  const double up_time = t;
  // Back to 100/s: nothing for the stabilisation window, then down by at
  // most a quarter per interval, never below the steady size.
  int previous = replicas;
  for (t += 15; t < up_time + 600; t += 15) {
    const Decision d = c.Decide(t, Input(100, replicas, replicas));
    if (t - up_time < Options().scale_down_window_s) {
      EXPECT_EQ(d.desired, replicas) << t;
    }
    EXPECT_LE(d.desired, previous);
    EXPECT_GE(d.desired, previous - std::max(1, previous / 4));
    EXPECT_GE(d.desired, steady);
    previous = replicas = d.desired;
  }
  EXPECT_EQ(replicas, steady);
}

TEST(ControllerTest, SaturationDoublesTheDemand) {
  Controller c(Options());
  // One replica completing 99/s with a long queue: utilisation ~1.
  ServiceInput in = Input(99, 1, 1);
  in.mean_self_s = 2.0;
  const Decision d = c.Decide(15, in);
  EXPECT_GE(d.inputs.utilisation, 0.95);
  EXPECT_GE(d.desired, 3);  // demand >= 2 x 99/s at <= 80 %
  EXPECT_NE(d.reason.find("saturated"), std::string::npos);
}

TEST(ControllerTest, MaximumStepAndBounds) {
  ControllerOptions o = Options();
  o.max_replicas = 12;
  Controller c(o);
  // 2000/s on one replica (S 10 ms): needs > 25; one step is max(1 x 4, 1 + 4) = 5.
  EXPECT_EQ(c.Decide(15, Input(90, 1, 1)).desired >= 1, true);
  ServiceInput in = Input(2000, 1, 1);
  in.mean_self_s = 0.010;  // pretend no queue was seen yet
  in.rate = 2000;
  const Decision d = c.Decide(30, in);
  EXPECT_EQ(d.desired, 5);
  ServiceInput big = Input(2000, 10, 10);
  EXPECT_EQ(c.Decide(45, big).desired, 12);  // the max bound
}

TEST(ControllerTest, NoMeasurementKeeps) {
  Controller c(Options());
  ServiceInput in = Input(0, 3, 3);
  in.spans = 0;
  const Decision d = c.Decide(15, in);
  EXPECT_EQ(d.desired, 3);
  EXPECT_NE(d.reason.find("no service time"), std::string::npos);
}

TEST(ControllerTest, ForecastLooksAhead) {
  Controller c(Options());
  int replicas = 1;
  Decision d;
  // A steady ramp: the forecast runs ahead of the current rate.
  for (int i = 1; i <= 12; ++i) {
    d = c.Decide(15.0 * i, Input(20.0 * i, replicas, replicas));
    replicas = d.desired;
  }
  EXPECT_GT(d.inputs.forecast_rate, d.inputs.rate);
}

TEST(DecisionJsonTest, IsValidJsonWithEscapesAndNoInfinity) {
  Decision d;
  d.service = "a\"b";
  d.reason = "x\ny \xc3\xa9";
  d.inputs.forecast_utilisation = std::numeric_limits<double>::infinity();
  d.inputs.workers = 3;
  const std::string j = DecisionJson(d);
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(j.c_str()).HasParseError()) << j;
  EXPECT_STREQ(doc["service"].GetString(), "a\"b");
  EXPECT_STREQ(doc["reason"].GetString(), "x\ny \xc3\xa9");
  EXPECT_TRUE(doc["inputs"]["forecast_utilisation"].IsNull());
  EXPECT_EQ(doc["inputs"]["workers"].GetInt(), 3);
}

}  // namespace
}  // namespace ariadne::control
