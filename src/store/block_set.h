// The published blocks of a data directory, as one searchable set.
//
// Open() removes what a crash left half-written (tmp-* directories, and
// block directories without meta.json), then opens every published block,
// and deletes the blocks that a published block was compacted from (a crash
// after the compacted block was published, before its inputs were deleted).
// A block that fails to open, or later returns a CRC or structure error, is
// "damaged": it is logged once, counted, and skipped by queries from then
// on; its files stay on disk for `ariadne fsck` and the operator.
//
// The global trace-id index is the blocks' bloom filters, kept in memory:
// a trace by id opens only the blocks whose filter may hold it.
//
// Threading: all methods are thread-safe; Snapshot() gives queries a stable
// list while blocks are added and removed.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "store/block.h"

namespace ariadne::store {

struct BlockSetStats {
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  uint64_t spans = 0;
  uint64_t memory_bytes = 0;
  uint64_t damaged = 0;         // blocks skipped as damaged (opened or found so)
  uint64_t retention_removed = 0;
  uint64_t compacted_removed = 0;  // inputs of a compaction found at Open, deleted
};

class BlockSet {
 public:
  // Opens (creating) `dir`, normally <data-dir>/blocks.
  static absl::StatusOr<std::unique_ptr<BlockSet>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // The usable blocks, newest (by max start) first.
  std::vector<std::shared_ptr<Block>> Snapshot() const;
  void Add(std::shared_ptr<Block> block);
  // Removes blocks from the set and deletes their directories.
  absl::Status Remove(const std::vector<std::string>& ids);
  // Adds `block` and removes the blocks `ids` in one step (queries see
  // either the inputs of a compaction or its output, never both), then
  // deletes the removed blocks' directories.
  absl::Status Replace(std::shared_ptr<Block> block, const std::vector<std::string>& ids);
  // Removes every block whose newest span started before `min_start_nano`,
  // then the oldest blocks while the total exceeds `max_bytes` (0: no
  // limit). Returns the ids removed.
  std::vector<std::string> ApplyRetention(uint64_t min_start_nano, uint64_t max_bytes);
  // Reports a block that failed a read; it is skipped from then on.
  void MarkDamaged(const Block& block, const absl::Status& status);
  // The log is covered by blocks up to this sequence number (0: none).
  uint64_t covered_wal_seq() const;
  BlockSetStats stats() const;

 private:
  explicit BlockSet(std::string dir) : dir_(std::move(dir)) {}
  // Deletes the directories of blocks no longer in the set.
  static absl::Status Delete(const std::vector<std::shared_ptr<Block>>& removed);

  const std::string dir_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Block>> blocks_ ABSL_GUARDED_BY(mu_);  // newest first
  uint64_t covered_wal_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> damaged_{0};
  std::atomic<uint64_t> retention_removed_{0};
  std::atomic<uint64_t> compacted_removed_{0};
};

}  // namespace ariadne::store
