// ClickHouseSink's answers without a ClickHouse: a writer whose server
// refuses connections keeps its first batch queued (retrying), so the next
// is refused at once with ResourceExhausted (429 / RESOURCE_EXHAUSTED) and
// Stop answers the queued one Unavailable; the stored listener never runs.
#include "receive/clickhouse_sink.h"

#include <gtest/gtest.h>

#include <optional>

#include "decode/decode.h"
#include "encode/encode.h"
#include "encode/test_batches.h"

namespace ariadne::receive {
namespace {

model::SpanBatch Batch() {
  std::string body;
  encode::EncodeOtlpProto(*encode::testing::BatchA(), &body);
  decode::DecodeStats stats;
  return *decode::DecodeOtlpProto(std::move(body), decode::Limits{}, &stats);
}

TEST(ClickHouseSinkTest, FullQueueAndStopAreRetryableRefusals) {
  clickhouse::ClickHouseOptions o;
  o.url = "http://127.0.0.1:1";  // nothing listens: connection refused, retried
  auto client = clickhouse::ClickHouseClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.status();
  clickhouse::WriterOptions wo;
  wo.max_queue_bytes = 1;  // one batch (the first is always admitted)
  clickhouse::ClickHouseWriter writer(&*client, wo);
  ClickHouseSink sink(&writer);
  int stored = 0;
  sink.SetStoredListener([&](const std::shared_ptr<const model::SpanBatch>&) { ++stored; });

  std::optional<absl::Status> first, second;
  sink.Submit(Batch(), {},
              [&](absl::Status s) { first = std::move(s); });
  sink.Submit(Batch(), {},
              [&](absl::Status s) { second = std::move(s); });
  ASSERT_TRUE(second.has_value());  // answered at once
  EXPECT_EQ(second->code(), absl::StatusCode::kResourceExhausted) << *second;
  EXPECT_FALSE(first.has_value());  // waiting for ClickHouse

  writer.Stop(std::chrono::milliseconds(50));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->code(), absl::StatusCode::kUnavailable) << *first;
  EXPECT_EQ(stored, 0);

  std::optional<absl::Status> late;
  sink.Submit(Batch(), {},
              [&](absl::Status s) { late = std::move(s); });
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->code(), absl::StatusCode::kUnavailable) << *late;
}

}  // namespace
}  // namespace ariadne::receive
