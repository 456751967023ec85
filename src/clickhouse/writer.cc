#include "clickhouse/writer.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clickhouse/schema.h"
#include "spdlog/spdlog.h"

namespace ariadne::clickhouse {

ClickHouseWriter::ClickHouseWriter(const ClickHouseClient* client, WriterOptions options)
    : client_(client),
      options_(std::move(options)),
      insert_sql_(InsertSpansSql(options_.database)),
      sender_([this](std::stop_token stop) { Run(stop); }) {}

ClickHouseWriter::~ClickHouseWriter() { Stop(); }

absl::Status ClickHouseWriter::Enqueue(std::shared_ptr<const model::SpanBatch> batch, Ack ack) {
  if (batch->empty()) {
    if (ack) ack(absl::OkStatus());
    return absl::OkStatus();
  }
  const size_t bytes = batch->MemoryBytes();
  absl::MutexLock lock(&mu_);
  if (closing_) {
    ++stats_.rejected_batches;
    return absl::UnavailableError("clickhouse writer: stopping, no new batches");
  }
  // A batch larger than the whole queue still goes when the queue is empty.
  if (!queue_.empty() && queued_bytes_ + bytes > options_.max_queue_bytes) {
    ++stats_.rejected_batches;
    return absl::ResourceExhaustedError(absl::StrCat(
        "clickhouse writer: queue full (", queued_bytes_, " of ", options_.max_queue_bytes,
        " bytes waiting for ClickHouse", stats_.last_error.empty() ? "" : "; last error: ",
        stats_.last_error, ")"));
  }
  queued_bytes_ += bytes;
  ++stats_.enqueued_batches;
  queue_.push_back({std::move(batch), std::move(ack), bytes});
  return absl::OkStatus();
}

bool ClickHouseWriter::Flush(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), absl::FromChrono(timeout));
}

void ClickHouseWriter::Stop(std::chrono::milliseconds drain) {
  {
    absl::MutexLock lock(&mu_);
    if (!sender_.joinable()) return;
    closing_ = true;
    auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&empty), absl::FromChrono(drain));
    abandon_ = true;
  }
  sender_.request_stop();  // cancels the INSERT in flight
  sender_.join();
  std::deque<Item> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
    queued_bytes_ = 0;
    stats_.failed_batches += left.size();
  }
  if (!left.empty()) {
    spdlog::warn("clickhouse writer: stopped with {} batches not confirmed by ClickHouse",
                 left.size());
  }
  const absl::Status abandoned =
      absl::UnavailableError("clickhouse writer stopped before ClickHouse confirmed the insert");
  for (Item& item : left) {
    if (item.ack) item.ack(abandoned);
  }
}

WriterStats ClickHouseWriter::stats() const {
  absl::MutexLock lock(&mu_);
  WriterStats s = stats_;
  s.queued_bytes = queued_bytes_;
  return s;
}

void ClickHouseWriter::Run(std::stop_token stop) {
  std::vector<std::shared_ptr<const model::SpanBatch>> head;
  std::string rows;
  while (true) {
    head.clear();
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || closing_ || abandon_;
      };
      mu_.Await(absl::Condition(&ready));
      if (abandon_ || queue_.empty()) return;  // stopping (closing_ with nothing left)
      // Only this thread pops, so the front items stay while we send them.
      for (size_t i = 0; i < queue_.size() && i < 256; ++i) head.push_back(queue_[i].batch);
    }
    rows.clear();
    size_t n = 0;
    while (n < head.size() && (n == 0 || rows.size() < options_.max_insert_bytes)) {
      EncodeSpanRows(*head[n], &rows);
      ++n;
    }
    Finish(n, SendWithRetries(rows, stop));
  }
}

absl::Status ClickHouseWriter::SendWithRetries(const std::string& rows, std::stop_token stop) {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  while (true) {
    absl::Status s = client_->Insert(insert_sql_, rows, stop);
    if (s.ok()) return s;
    {
      absl::MutexLock lock(&mu_);
      stats_.last_error = std::string(s.message());
      if (abandon_) return absl::UnavailableError(
          "clickhouse writer stopped before ClickHouse confirmed the insert");
      if (!ClickHouseRetryable(s)) return s;
      ++stats_.retries;
      if (stats_.retries % 10 == 1) {
        spdlog::warn("clickhouse writer: insert failed, retrying in {} ms: {}", backoff.count(),
                     s.ToString());
      }
      // Sleep, but wake for Stop's abandon.
      if (mu_.AwaitWithTimeout(absl::Condition(&abandon_), absl::FromChrono(backoff))) {
        return absl::UnavailableError(
            "clickhouse writer stopped before ClickHouse confirmed the insert");
      }
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void ClickHouseWriter::Finish(size_t n, const absl::Status& status) {
  std::vector<Item> done;
  done.reserve(n);
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < n; ++i) {
      queued_bytes_ -= queue_.front().bytes;
      if (status.ok()) {
        ++stats_.acked_batches;
        stats_.acked_spans += queue_.front().batch->size();
      } else {
        ++stats_.failed_batches;
      }
      done.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (status.ok()) ++stats_.inserts;
  }
  if (!status.ok()) {
    spdlog::error("clickhouse writer: {} batches not stored: {}", n, status.ToString());
  }
  for (Item& item : done) {
    if (item.ack) item.ack(status);
  }
}

}  // namespace ariadne::clickhouse
