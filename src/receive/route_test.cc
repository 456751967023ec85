// RouteBatch (tenants and rate limits in the receivers) and the RetryInfo
// that makes OTLP exporters retry a RESOURCE_EXHAUSTED answer.
#include <gtest/gtest.h>

#include <protozero/pbf_reader.hpp>

#include "common/tenant.h"
#include "receive/http_receivers.h"

namespace ariadne::receive {
namespace {

class NullSink : public SpanSink {
 public:
  void Submit(model::SpanBatch, std::string_view, std::function<void(absl::Status)> done) override {
    done(absl::OkStatus());
  }
};

TEST(RouteBatchTest, WithoutRouteOrLimitTheOwnSinkTakesEverything) {
  NullSink own;
  ReceiverOptions o;
  double retry = 0;
  auto sink = RouteBatch(&own, o, "", 1000000, own.counters(Protocol::kOtlpGrpc), &retry);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(*sink, &own);
}

TEST(RouteBatchTest, RoutesByTenantAndCountsRefusals) {
  NullSink own, acme;
  ReceiverOptions o;
  o.route = [&](std::string_view tenant) -> absl::StatusOr<SpanSink*> {
    if (auto s = ValidateTenantId(tenant); !s.ok()) return s;
    if (tenant == "acme") return &acme;
    return absl::ResourceExhaustedError("no room for another tenant");
  };
  IngestCounters& c = own.counters(Protocol::kOtlpHttpJson);
  double retry = 0;
  auto routed = RouteBatch(&own, o, "acme", 10, c, &retry);
  ASSERT_TRUE(routed.ok());
  EXPECT_EQ(*routed, &acme);
  auto empty = RouteBatch(&own, o, "", 0, c, &retry);  // nothing to store: no tenant needed
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, &own);
  auto missing = RouteBatch(&own, o, "", 10, c, &retry);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatusOfRefusal(missing.status()), 400);
  auto full = RouteBatch(&own, o, "globex", 10, c, &retry);
  EXPECT_EQ(HttpStatusOfRefusal(full.status()), 429);
  EXPECT_EQ(c.unknown_tenant_requests.load(), 2u);
  EXPECT_EQ(c.refused_requests.load(), 2u);
  EXPECT_EQ(HttpStatusOfRefusal(absl::UnauthenticatedError("x")), 401);
  EXPECT_EQ(HttpStatusOfRefusal(absl::UnavailableError("x")), 503);
}

TEST(RouteBatchTest, EachTenantHasItsOwnRate) {
  NullSink own;
  double now = 100;
  RateLimiter limiter({/*rate=*/100, /*burst=*/100, /*max_keys=*/10}, [&] { return now; });
  ReceiverOptions o;
  o.rate_limiter = &limiter;
  IngestCounters& c = own.counters(Protocol::kZipkin);
  double retry = 0;
  EXPECT_TRUE(RouteBatch(&own, o, "acme", 100, c, &retry).ok());
  auto refused = RouteBatch(&own, o, "acme", 50, c, &retry);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("acme"), std::string_view::npos);
  EXPECT_NEAR(retry, 0.5, 1e-9);  // 50 spans at 100 a second
  EXPECT_TRUE(RouteBatch(&own, o, "globex", 100, c, &retry).ok());  // a bucket of its own
  now += 0.5;
  EXPECT_TRUE(RouteBatch(&own, o, "acme", 50, c, &retry).ok());
  EXPECT_EQ(c.rate_limited_requests.load(), 1u);
}

TEST(RetryInfoTest, StatusCarriesARetryInfoDetail) {
  const std::string bytes = EncodeRpcStatusWithRetryInfo(8, "slow down", 1.25);
  protozero::pbf_reader status(bytes);
  int code = 0;
  std::string message, type_url, detail;
  while (status.next()) {
    switch (status.tag()) {
      case 1: code = status.get_int32(); break;
      case 2: message = status.get_string(); break;
      case 3: {
        protozero::pbf_reader any = status.get_message();
        while (any.next()) {
          if (any.tag() == 1) type_url = any.get_string();
          else if (any.tag() == 2) detail = any.get_string();
          else any.skip();
        }
        break;
      }
      default: status.skip();
    }
  }
  EXPECT_EQ(code, 8);
  EXPECT_EQ(message, "slow down");
  EXPECT_EQ(type_url, "type.googleapis.com/google.rpc.RetryInfo");
  protozero::pbf_reader info(detail);
  ASSERT_TRUE(info.next(1));
  protozero::pbf_reader duration = info.get_message();
  int64_t seconds = 0;
  int32_t nanos = 0;
  while (duration.next()) {
    if (duration.tag() == 1) seconds = duration.get_int64();
    else if (duration.tag() == 2) nanos = duration.get_int32();
    else duration.skip();
  }
  EXPECT_EQ(seconds, 1);
  EXPECT_EQ(nanos, 250000000);
}

}  // namespace
}  // namespace ariadne::receive
