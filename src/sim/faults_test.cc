#include "sim/faults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace ariadne::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kTopology[] = R"(
name: shop
services:
  - name: frontend
    protocol: http
    operations:
      - {name: home, calls: [cart.GetCart, cart.AddItem]}
  - name: cart
    operations:
      - {name: GetCart, calls: [redis.HGET]}
      - {name: AddItem, calls: [redis.HGET]}
  - name: redis
    protocol: database
    db_system: redis
    operations: [{name: HGET}]
requests: [{call: frontend.home}]
)";

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Topology> t = ParseTopology(kTopology);
    ASSERT_TRUE(t.ok()) << t.status();
    topology_ = *std::move(t);
  }

  std::vector<Fault> MustParse(std::string_view yaml) {
    absl::StatusOr<std::vector<Fault>> f = ParseFaults(yaml, topology_);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : std::vector<Fault>{};
  }

  std::string Error(std::string_view yaml) {
    absl::StatusOr<std::vector<Fault>> f = ParseFaults(yaml, topology_);
    if (f.ok()) return "(parsed without error)";
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << f.status();
    return std::string(f.status().message());
  }

  // One fault entry, for error tests.
  std::string One(std::string_view entry) { return "faults:\n  - " + std::string(entry) + "\n"; }

  Topology topology_;
};

TEST_F(FaultsTest, ParsesEveryType) {
  const std::vector<Fault> f = MustParse(R"(
faults:
  - {type: latency, service: cart, operation: GetCart, start: 10m, duration: 5m, latency: 200ms}
  - {id: slow, type: slowdown, service: cart, start: 1m, duration: 30s, factor: 3}
  - {type: errors, service: cart, operation: AddItem, start: 0, duration: 1m, rate: 0.25}
  - {type: cpu_saturation, service: frontend, start: 2m, duration: 1m, factor: 4}
  - {type: crash, service: cart, start: 3m, duration: 1m}
  - {type: crash, service: redis, start: 3m, duration: 1m, replicas: 2}
  - {type: leak, service: cart, start: 0s, duration: 1h, rate: 0.001, leak_bytes_per_second: 1Mi}
  - {type: network_delay, caller: cart, callee: redis, start: 90, duration: 10s, latency: 5ms}
)");
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0].id, "f1");
  EXPECT_EQ(f[0].type, Fault::Type::kLatency);
  EXPECT_EQ(f[0].service, 1);
  EXPECT_EQ(f[0].operation, 0);
  EXPECT_EQ(f[0].start, 600 * kSecond);
  EXPECT_EQ(f[0].duration, 300 * kSecond);
  EXPECT_EQ(f[0].end(), 900 * kSecond);
  EXPECT_EQ(f[0].latency, 200 * kMillisecond);

  EXPECT_EQ(f[1].id, "slow");
  EXPECT_EQ(f[1].type, Fault::Type::kSlowdown);
  EXPECT_EQ(f[1].operation, -1);  // every operation
  EXPECT_DOUBLE_EQ(f[1].factor, 3);

  EXPECT_EQ(f[2].id, "f3");
  EXPECT_EQ(f[2].type, Fault::Type::kErrors);
  EXPECT_EQ(f[2].operation, 1);
  EXPECT_DOUBLE_EQ(f[2].rate, 0.25);
  EXPECT_EQ(f[2].start, 0);

  EXPECT_EQ(f[3].type, Fault::Type::kCpuSaturation);
  EXPECT_EQ(f[3].service, 0);
  EXPECT_DOUBLE_EQ(f[3].factor, 4);

  EXPECT_EQ(f[4].type, Fault::Type::kCrash);
  EXPECT_EQ(f[4].replicas, 1);
  EXPECT_EQ(f[5].replicas, 2);
  EXPECT_EQ(f[5].service, 2);

  EXPECT_EQ(f[6].type, Fault::Type::kLeak);
  EXPECT_DOUBLE_EQ(f[6].rate, 0.001);
  EXPECT_DOUBLE_EQ(f[6].leak_bytes_per_second, 1 << 20);

  EXPECT_EQ(f[7].type, Fault::Type::kNetworkDelay);
  EXPECT_EQ(f[7].service, -1);
  EXPECT_EQ(f[7].caller, 1);
  EXPECT_EQ(f[7].callee, 2);
  EXPECT_EQ(f[7].start, 90 * kSecond);
  EXPECT_EQ(f[7].latency, 5 * kMillisecond);
}

TEST_F(FaultsTest, EmptyDocumentsHaveNoFaults) {
  EXPECT_TRUE(MustParse("").empty());
  EXPECT_TRUE(MustParse("faults: []").empty());
  EXPECT_TRUE(MustParse("faults:").empty());
}

TEST_F(FaultsTest, TypeNames) {
  EXPECT_EQ(FaultTypeName(Fault::Type::kLatency), "latency");
  EXPECT_EQ(FaultTypeName(Fault::Type::kSlowdown), "slowdown");
  EXPECT_EQ(FaultTypeName(Fault::Type::kErrors), "errors");
  EXPECT_EQ(FaultTypeName(Fault::Type::kCpuSaturation), "cpu_saturation");
  EXPECT_EQ(FaultTypeName(Fault::Type::kCrash), "crash");
  EXPECT_EQ(FaultTypeName(Fault::Type::kLeak), "leak");
  EXPECT_EQ(FaultTypeName(Fault::Type::kNetworkDelay), "network_delay");
}

TEST_F(FaultsTest, Validation) {
  EXPECT_THAT(Error(One("{type: latency, service: kart, start: 1m, duration: 1m, latency: 1s}")),
              AllOf(HasSubstr("faults[0].service: unknown service 'kart'"), HasSubstr("line 2")));
  EXPECT_THAT(Error(One("{type: latency, service: cart, operation: Get, start: 1m, duration: 1m, "
                        "latency: 1s}")),
              HasSubstr("faults[0].operation: unknown operation 'Get' of service 'cart'"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: 1m, duration: 1m, latncy: 1s}")),
              HasSubstr("faults[0]: unknown key 'latncy'"));
  EXPECT_THAT(Error(One("{type: explode, service: cart, start: 1m, duration: 1m}")),
              HasSubstr("faults[0].type: unknown fault type 'explode'"));
  EXPECT_THAT(Error(One("{service: cart, start: 1m, duration: 1m}")),
              HasSubstr("missing key 'type'"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: 1m, duration: 1m}")),
              HasSubstr("type latency needs key 'latency'"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, duration: 1m, latency: 1s}")),
              HasSubstr("missing key 'start'"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: 1m, latency: 1s}")),
              HasSubstr("missing key 'duration'"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: 1m, duration: 0s, latency: 1s}")),
              HasSubstr("faults[0].duration: must be > 0"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: -1m, duration: 1m, latency: 1s}")),
              HasSubstr("faults[0].start: negative duration"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: 1m, duration: 1m, latency: 0}")),
              HasSubstr("faults[0].latency: must be > 0"));
  EXPECT_THAT(Error(One("{type: latency, service: cart, start: 1m, duration: 1m, latency: 1s, "
                        "factor: 2}")),
              HasSubstr("faults[0].factor: does not apply to type latency"));
  EXPECT_THAT(Error(One("{type: slowdown, service: cart, start: 1m, duration: 1m, factor: 1}")),
              HasSubstr("faults[0].factor: must be greater than 1"));
  EXPECT_THAT(Error(One("{type: errors, service: cart, start: 1m, duration: 1m, rate: 0}")),
              HasSubstr("faults[0].rate: must be in (0, 1]"));
  EXPECT_THAT(Error(One("{type: errors, service: cart, start: 1m, duration: 1m, rate: 1.5}")),
              HasSubstr("faults[0].rate: must be in (0, 1]"));
  EXPECT_THAT(Error(One("{type: cpu_saturation, service: cart, operation: GetCart, start: 1m, "
                        "duration: 1m, factor: 2}")),
              HasSubstr("operation: does not apply to type cpu_saturation"));
  EXPECT_THAT(Error(One("{type: crash, service: cart, start: 1m, duration: 1m, replicas: 0}")),
              HasSubstr("faults[0].replicas: expected an integer of at least 1"));
  EXPECT_THAT(Error(One("{type: leak, service: cart, start: 1m, duration: 1m}")),
              HasSubstr("needs rate or leak_bytes_per_second"));
  EXPECT_THAT(Error(One("{type: leak, service: cart, start: 1m, duration: 1m, rate: -1}")),
              HasSubstr("faults[0].rate: must not be negative"));
  EXPECT_THAT(Error(One("{type: network_delay, caller: frontend, callee: redis, start: 1m, "
                        "duration: 1m, latency: 1ms}")),
              HasSubstr("faults[0].callee: service 'frontend' never calls 'redis'"));
  EXPECT_THAT(Error(One("{type: network_delay, service: cart, caller: frontend, callee: cart, "
                        "start: 1m, duration: 1m, latency: 1ms}")),
              HasSubstr("service: does not apply to type network_delay"));
  EXPECT_THAT(Error("faults:\n  - {id: a, type: crash, service: cart, start: 1m, duration: 1m}\n"
                    "  - {id: a, type: crash, service: cart, start: 5m, duration: 1m}\n"),
              AllOf(HasSubstr("faults[1] (a)"), HasSubstr("duplicate fault id 'a'")));
  EXPECT_THAT(Error("fault: []"), HasSubstr("unknown top-level key 'fault'"));
  EXPECT_THAT(Error("faults: {type: crash}"), HasSubstr("expected a list of faults"));
  EXPECT_THAT(Error("faults: [unclosed"), HasSubstr("invalid YAML at line 1"));
}

TEST_F(FaultsTest, TruthJson) {
  const std::vector<Fault> f = MustParse(R"(
faults:
  - {id: "lat\"1", type: latency, service: cart, operation: GetCart, start: 10m, duration: 5m, latency: 200ms}
  - {type: network_delay, caller: cart, callee: redis, start: 1.5s, duration: 10s, latency: 5ms}
  - {type: leak, service: cart, start: 0s, duration: 1h, rate: 0.001, leak_bytes_per_second: 1Mi}
  - {type: crash, service: cart, start: 1s, duration: 1s, replicas: 2}
)");
  ASSERT_EQ(f.size(), 4u);
  const int64_t epoch = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z

  const std::string line = FaultTruthJson(f[0], topology_, epoch);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  rapidjson::Document d;
  d.Parse(line.c_str());
  ASSERT_FALSE(d.HasParseError()) << line;
  EXPECT_STREQ(d["id"].GetString(), "lat\"1");
  EXPECT_STREQ(d["type"].GetString(), "latency");
  EXPECT_STREQ(d["service"].GetString(), "cart");
  EXPECT_STREQ(d["operation"].GetString(), "GetCart");
  EXPECT_FALSE(d.HasMember("caller"));
  EXPECT_FALSE(d.HasMember("callee"));
  EXPECT_STREQ(d["start"].GetString(), "2023-11-14T22:23:20.000000000Z");
  EXPECT_STREQ(d["end"].GetString(), "2023-11-14T22:28:20.000000000Z");
  EXPECT_EQ(d["start_unix_nano"].GetInt64(), epoch + 600 * kSecond);
  EXPECT_EQ(d["end_unix_nano"].GetInt64(), epoch + 900 * kSecond);
  EXPECT_DOUBLE_EQ(d["params"]["latency_ms"].GetDouble(), 200);

  d.Parse(FaultTruthJson(f[1], topology_, epoch + 123).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["id"].GetString(), "f2");
  EXPECT_STREQ(d["type"].GetString(), "network_delay");
  EXPECT_FALSE(d.HasMember("service"));
  EXPECT_FALSE(d.HasMember("operation"));
  EXPECT_STREQ(d["caller"].GetString(), "cart");
  EXPECT_STREQ(d["callee"].GetString(), "redis");
  EXPECT_STREQ(d["start"].GetString(), "2023-11-14T22:13:21.500000123Z");
  EXPECT_EQ(d["end_unix_nano"].GetInt64(), epoch + 123 + 11'500'000'000);
  EXPECT_DOUBLE_EQ(d["params"]["latency_ms"].GetDouble(), 5);

  d.Parse(FaultTruthJson(f[2], topology_, epoch).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["type"].GetString(), "leak");
  EXPECT_FALSE(d.HasMember("operation"));
  EXPECT_DOUBLE_EQ(d["params"]["rate"].GetDouble(), 0.001);
  EXPECT_DOUBLE_EQ(d["params"]["leak_bytes_per_second"].GetDouble(), 1 << 20);

  d.Parse(FaultTruthJson(f[3], topology_, epoch).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["type"].GetString(), "crash");
  EXPECT_EQ(d["params"]["replicas"].GetInt(), 2);
  EXPECT_EQ(d["params"].MemberCount(), 1u);
}

}  // namespace
}  // namespace ariadne::sim
