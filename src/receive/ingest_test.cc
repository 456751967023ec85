#include "receive/ingest.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/synchronization/notification.h"
#include "encode/encode.h"

namespace ariadne::receive {
namespace {

// The answer of a backend that must answer (the head, the embedded store).
template <typename T>
T Ok(absl::StatusOr<T> answer) {
  EXPECT_TRUE(answer.ok()) << answer.status();
  return *std::move(answer);
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ariadne-ingest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto wal = wal::Wal::Open(dir_, wal::Options{});
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = std::move(*wal);
    ASSERT_TRUE(wal_->Replay([](uint64_t, std::string_view) {}, nullptr).ok());
  }
  void TearDown() override {
    EXPECT_TRUE(wal_->Close().ok());
    std::filesystem::remove_all(dir_);
  }

  static model::SpanBatch Batch(uint8_t trace) {
    model::SpanBatch b;
    model::Resource r;
    r.service_name = b.Copy("svc");
    b.resources.push_back(r);
    b.scopes.emplace_back();
    const uint32_t row = b.AddSpan();
    b.trace_id[row][15] = trace;
    b.span_id[row][7] = 1;
    b.name[row] = b.Copy("op");
    return b;
  }

  absl::Status Submit(Ingester& ingester, model::SpanBatch batch) {
    absl::Status result;
    absl::Notification done;
    ingester.Submit(std::move(batch), {}, [&](absl::Status s) {
      result = s;
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  std::string dir_;
  std::unique_ptr<wal::Wal> wal_;
  store::Head head_;
};

TEST_F(IngestTest, AcknowledgedBatchIsLoggedAndQueryable) {
  Ingester ingester(wal_.get(), &head_);
  ASSERT_TRUE(Submit(ingester, Batch(1)).ok());
  model::TraceId id{};
  id[15] = 1;
  EXPECT_EQ(Ok(head_.GetTrace(id)).size(), 1u);
  EXPECT_EQ(wal_->stats().appended_records, 1u);
}

TEST_F(IngestTest, AfterLogWorkRunsOnTheGivenExecutor) {
  int posted = 0;
  Ingester ingester(wal_.get(), &head_, [&posted](std::function<void()> fn) {
    ++posted;
    fn();
  });
  ASSERT_TRUE(Submit(ingester, Batch(1)).ok());
  EXPECT_EQ(posted, 1);
}

TEST_F(IngestTest, FullHeadRefusesWithARetryableError) {
  Ingester ingester(wal_.get(), &head_, {}, /*max_head_bytes=*/1);
  ASSERT_TRUE(Submit(ingester, Batch(1)).ok());  // the head was empty
  absl::Status refused = Submit(ingester, Batch(2));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(refused.message()).find("max_head_bytes"), std::string::npos);
  EXPECT_EQ(wal_->stats().appended_records, 1u);  // nothing logged for it
  model::TraceId id{};
  id[15] = 1;
  EXPECT_EQ(Ok(head_.GetTrace(id)).size(), 1u);  // earlier data untouched
}

TEST_F(IngestTest, EmptyBatchIsAnsweredWithoutLogging) {
  Ingester ingester(wal_.get(), &head_);
  ASSERT_TRUE(Submit(ingester, model::SpanBatch()).ok());
  EXPECT_EQ(wal_->stats().appended_records, 0u);
}

}  // namespace
}  // namespace ariadne::receive
