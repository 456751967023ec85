// Ingest: what every receiver does with a decoded batch.
//
// Submit writes the batch to the write-ahead log and, once the log holds it
// as its sync policy promises, makes it visible in the head and answers the
// client. A batch whose spans were all rejected skips the log.
//
// Threading: Submit may be called from any thread. The head append and
// `done` run through `run_after_log` (the server passes a post onto its I/O
// threads, so the log's writer thread does nothing but write and sync), or
// inline for an empty batch; `done` must not block.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "model/span_batch.h"
#include "receive/sink.h"
#include "store/head.h"
#include "wal/wal.h"

namespace ariadne::receive {

// The embedded store's SpanSink (sink.h).
class Ingester : public SpanSink {
 public:
  using Executor = std::function<void(std::function<void()>)>;
  // `run_after_log` runs the work that follows a log append; if empty, it
  // runs on the log's writer thread.
  // A batch is refused with Unavailable while the head holds more than
  // `max_head_bytes` (0: no limit): until the block store takes old spans
  // out of memory, that is what keeps memory bounded when the flood goes on.
  // `head_bytes_in_use`, if set, is what is compared with the limit instead
  // of this head's size (with tenants: every tenant's head together).
  Ingester(wal::Wal* wal, store::Head* head, Executor run_after_log = {},
           uint64_t max_head_bytes = 0, std::function<uint64_t()> head_bytes_in_use = {})
      : wal_(wal),
        head_(head),
        run_after_log_(std::move(run_after_log)),
        max_head_bytes_(max_head_bytes),
        head_bytes_in_use_(std::move(head_bytes_in_use)) {}

  // `raw_otlp`, if not empty, is the protobuf encoding of exactly this batch
  // and lives in memory the batch owns (its adopted request body, when no
  // span was rejected): it becomes the log record as-is, without a copy.
  // Otherwise the batch is encoded.
  void Submit(model::SpanBatch batch, std::string_view raw_otlp,
              std::function<void(absl::Status)> done) override;

  // Where the head can be cut into a block: every batch submitted before
  // Cut() was called is in the log at a sequence number <= `wal_seq` and in
  // the head with an epoch <= `epoch` (Cut waits until those batches have
  // reached the head or failed); every later one has a greater epoch and
  // sequence number. One Cut at a time.
  struct CutPoint {
    uint64_t epoch = 0;
    uint64_t wal_seq = 0;
  };
  absl::StatusOr<CutPoint> Cut();

 private:
  wal::Wal* const wal_;
  store::Head* const head_;
  const Executor run_after_log_;
  const uint64_t max_head_bytes_;
  const std::function<uint64_t()> head_bytes_in_use_;

  // Submit holds cut_mu_ shared while it takes its epoch and hands the batch
  // to the log; Cut holds it exclusively while it moves to the next epoch
  // and rotates the log, so the two orders agree. Batches of an epoch still
  // on their way to the head are counted in inflight_ (two epochs can be
  // open at once: the one being cut and the current one).
  absl::Mutex cut_mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(cut_mu_) = 1;  // 0 is the replayed log
  std::array<std::atomic<int64_t>, 2> inflight_{};
  absl::Mutex drained_mu_;  // only to wait for inflight_ to drain
};

}  // namespace ariadne::receive
