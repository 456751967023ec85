// ClickHouseWriter: span batches into ClickHouse, in the background, with
// an acknowledgement per batch once ClickHouse has confirmed its insert.
//
// Enqueue puts a batch on a queue bounded in bytes (the batches' memory) and
// returns at once; it refuses with ResourceExhausted when the queue is full
// (back-pressure: the ingester answers its client "retry later") and with
// Unavailable once the writer is stopping. One sender thread takes the queue
// in order, coalesces batches into one INSERT of at most max_insert_bytes
// of rows, and sends it. A retryable failure (ClickHouseRetryable:
// connection refused, timeout, 5xx, overload codes) is retried with
// exponential backoff, without limit, until it succeeds or Stop gives up;
// the batches stay on the queue meanwhile, so the queue fills and Enqueue
// pushes back. Any other failure acknowledges its batches with the error
// (they are not stored).
//
// Durability: `ack(OkStatus())` is called only after ClickHouse answered the
// INSERT with success, i.e. the rows are in a committed part on its disk
// (ClickHouse writes parts without fsync unless configured to; a server
// process crash loses nothing acknowledged, a machine crash may). A retried
// insert may store a batch twice (the first try may have landed before its
// answer was lost): the spans table dedups by its sorting key on merges and
// ClickHouseBackend at read time.
//
// Threading: Enqueue and stats may be called from any thread; acks run on
// the sender thread (keep them short). Stop (or the destructor) once.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <stop_token>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "clickhouse/client.h"
#include "model/span_batch.h"

namespace ariadne::clickhouse {

struct WriterOptions {
  std::string database = "ariadne";
  size_t max_queue_bytes = size_t{256} << 20;  // batches' MemoryBytes, queued and in flight
  size_t max_insert_bytes = size_t{16} << 20;  // RowBinary bytes per INSERT (one batch at least)
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

struct WriterStats {
  uint64_t enqueued_batches = 0;
  uint64_t rejected_batches = 0;  // refused by Enqueue (queue full or stopping)
  uint64_t acked_batches = 0;     // confirmed by ClickHouse
  uint64_t failed_batches = 0;    // acknowledged with an error
  uint64_t acked_spans = 0;
  uint64_t inserts = 0;           // INSERTs confirmed
  uint64_t retries = 0;           // INSERT attempts that failed and were retried
  uint64_t queued_bytes = 0;      // now
  std::string last_error;         // of the last failed attempt, "" if none
};

class ClickHouseWriter {
 public:
  // Called once per batch: OK once stored, else why it was not.
  using Ack = std::function<void(const absl::Status&)>;

  // Starts the sender thread. `client` must outlive the writer.
  ClickHouseWriter(const ClickHouseClient* client, WriterOptions options);
  ~ClickHouseWriter();
  ClickHouseWriter(const ClickHouseWriter&) = delete;
  ClickHouseWriter& operator=(const ClickHouseWriter&) = delete;

  // Queues `batch` (an empty batch is acknowledged at once, on the calling
  // thread). `ack` may be empty. ResourceExhausted if the queue has no room for it, Unavailable
  // if stopping; `ack` is not called then.
  absl::Status Enqueue(std::shared_ptr<const model::SpanBatch> batch, Ack ack);

  // Waits until the queue is empty (every batch queued so far has its
  // outcome; the last acks may still be running) or `timeout` passes; true
  // if it is empty.
  bool Flush(std::chrono::milliseconds timeout);

  // Refuses new batches, sends what is queued for up to `drain`, then
  // abandons the rest (the insert in flight is cancelled) and acknowledges
  // it with Unavailable. Joins the sender thread.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(10000));

  WriterStats stats() const;

 private:
  struct Item {
    std::shared_ptr<const model::SpanBatch> batch;
    Ack ack;
    size_t bytes = 0;
  };

  void Run(std::stop_token stop);
  // Inserts `rows` (the front batches' rows), retrying retryable failures
  // until stored or abandoned; the final status.
  absl::Status SendWithRetries(const std::string& rows, std::stop_token stop);
  // Takes the `n` front batches off the queue and acknowledges them.
  void Finish(size_t n, const absl::Status& status);

  const ClickHouseClient* const client_;
  const WriterOptions options_;
  const std::string insert_sql_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);  // front items may be in flight
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool abandon_ ABSL_GUARDED_BY(mu_) = false;
  WriterStats stats_ ABSL_GUARDED_BY(mu_);
  std::jthread sender_;
};

}  // namespace ariadne::clickhouse
