// The flusher: cuts the head into blocks and applies retention on a thread
// of its own, and compacts blocks on a second one.
//
// A cut (see receive::Ingester::Cut) fixes an epoch and a log sequence
// number; the head's batches up to that epoch are written as one block
// (WriteBlock: tmp directory, fsync, rename), the block joins the set, the
// head forgets those batches and the log drops the segments the block
// covers. A crash anywhere in between loses nothing: until the block is
// published the log still has everything; after, replay skips what the
// blocks cover (BlockSet::covered_wal_seq).
//
// The head is cut when its oldest batch is `block_duration` old or it holds
// `cut_bytes`. Retention then drops blocks whose newest span is older than
// `retention`, and the oldest blocks while they hold more than `max_bytes`.
// On the other thread, if PlanCompactions finds a group of small blocks, one
// group is compacted into one block (store/compactor.h) per check: the
// output is published, then it replaces its inputs in the set and their
// directories are deleted.
//
// Compaction has its own thread because a big one takes minutes: on the
// flushing thread it held up every cut meanwhile, the head grew to
// limits.max_head_bytes and ingest was refused (found by bench/soak.mjs).
// Retention is skipped while a compaction runs (its inputs must not be
// deleted under it) and done at the next check after.
//
// Threading: Start/Stop/FlushNow from one thread; stats() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "store/block.h"
#include "store/block_set.h"
#include "store/compactor.h"
#include "store/head.h"

namespace ariadne::store {

struct HeadCut {
  uint64_t epoch = 0;    // the head's batches of epochs <= this go into the block
  uint64_t wal_seq = 0;  // the log up to this sequence number is covered by them
};

struct FlusherOptions {
  std::chrono::milliseconds block_duration{15 * 60 * 1000};
  uint64_t cut_bytes = 256ull << 20;
  std::chrono::milliseconds retention{14ll * 24 * 3600 * 1000};
  uint64_t max_bytes = 0;  // 0: no limit
  std::chrono::milliseconds check_interval{1000};
  BlockWriterOptions writer;
  CompactionOptions compaction;  // max_inputs < 2: no compaction
  // After a failed compaction, the next waits this long.
  std::chrono::milliseconds compaction_retry{10 * 1000};
};

struct FlusherStats {
  uint64_t blocks_written = 0;
  uint64_t spans_flushed = 0;
  uint64_t failures = 0;
  uint64_t wal_segments_removed = 0;
  double last_flush_seconds = 0;
  uint64_t compactions = 0;          // blocks written by compaction
  uint64_t compaction_failures = 0;
  uint64_t compacted_blocks = 0;     // input blocks replaced
};

class Flusher {
 public:
  // `cut` fixes a cut point (Ingester::Cut); `remove_log_through` drops the
  // log segments a block covers (Wal::RemoveThrough).
  Flusher(Head* head, BlockSet* blocks, std::function<absl::StatusOr<HeadCut>()> cut,
          std::function<absl::StatusOr<int>(uint64_t)> remove_log_through, FlusherOptions options);
  ~Flusher();

  void Start();
  void Stop();
  // Cuts the head now (if it holds anything) and waits for the block.
  absl::Status FlushNow();
  // Compacts one group of blocks if PlanCompactions finds one; true if it
  // did.
  absl::StatusOr<bool> CompactNow();
  FlusherStats stats() const;

 private:
  void Loop();
  void CompactionLoop();
  // Waits one check interval; false if stopping.
  bool WaitCheckInterval();
  absl::Status Flush();
  void Retain();
  absl::StatusOr<bool> Compact();

  Head* const head_;
  BlockSet* const blocks_;
  const std::function<absl::StatusOr<HeadCut>()> cut_;
  const std::function<absl::StatusOr<int>(uint64_t)> remove_log_through_;
  const FlusherOptions options_;

  absl::Mutex flush_mu_;    // one flush at a time (the thread, FlushNow)
  absl::Mutex compact_mu_;  // one compaction at a time (the thread, CompactNow)
  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::atomic<bool> stop_requested_{false};  // polled by a running compaction
  std::chrono::steady_clock::time_point next_compaction_{};  // the compaction thread's
  std::thread thread_;             // cuts and retention
  std::thread compaction_thread_;  // compactions

  std::atomic<uint64_t> blocks_written_{0};
  std::atomic<uint64_t> spans_flushed_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> wal_segments_removed_{0};
  std::atomic<double> last_flush_seconds_{0};
  std::atomic<uint64_t> compactions_{0};
  std::atomic<uint64_t> compaction_failures_{0};
  std::atomic<uint64_t> compacted_blocks_{0};
};

}  // namespace ariadne::store
