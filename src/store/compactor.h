// Compaction: small blocks merged into larger ones, in memory bounded by the
// row-group size, not by the data.
//
// Compact() merges its inputs by trace id (each block's row groups are
// sorted by trace id, and a trace never spans two row groups), reading one
// row group per input at a time; the spans of a trace found in several
// inputs become one trace, a span repeated with the same (trace id, span id,
// kind) kept once (the first input's copy, as the head keeps the first
// copy). The output goes through a BlockWriter, so it holds one output row
// group; its meta.json lists the inputs (`compacted_from`), its level is one
// more than theirs and wal_seq_max the largest of theirs.
//
// Crash safety: the output is published (rename) before the caller deletes
// the inputs (BlockSet::Replace). A crash in between leaves both; queries
// deduplicate spans meanwhile, and BlockSet::Open deletes blocks that a
// published block lists in `compacted_from`.
//
// PlanCompactions() picks what to compact: runs of blocks of one level,
// adjacent in time, whose bytes and time range together stay within limits.
//
// Threading: pure functions of their inputs (blocks are thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/block.h"

namespace ariadne::store {

struct CompactionOptions {
  // Blocks merged at once (at least 2; fewer disables compaction).
  uint32_t max_inputs = 8;
  // A group's blocks hold at most this many bytes together.
  uint64_t target_block_bytes = 1ull << 30;
  // ... and their spans start within this long of each other (max start of
  // the newest minus min start of the oldest): retention deletes whole
  // blocks, so a block spans at most this much time.
  std::chrono::nanoseconds max_block_span = std::chrono::hours(24);
};

struct CompactionStats {
  uint64_t input_spans = 0;   // read from the inputs
  uint64_t output_spans = 0;  // written
  uint64_t duplicates = 0;    // spans dropped as repeated (trace id, span id, kind)
  // The most decoded spans alive at once: the inputs' current row groups
  // plus the spans copied for the output row group being built. The memory
  // bound: at most (inputs + 1) row groups, whatever the inputs' size.
  uint64_t max_live_spans = 0;
  // The writer's most spans held (BlockWriter::max_buffered_spans).
  uint64_t max_buffered_spans = 0;
  // Set when reading an input failed with a CRC or structure error (the
  // caller reports it damaged; compacting it again would fail again).
  std::shared_ptr<Block> damaged_input;
};

// Merges `inputs` (at least one) into one new block under `blocks_dir` and
// publishes it; the inputs are left as they are. `cancelled` (optional) is
// polled between traces: if it returns true, nothing is published and the
// result is CancelledError.
absl::StatusOr<BlockMeta> Compact(const std::vector<std::shared_ptr<Block>>& inputs,
                                  const std::string& blocks_dir,
                                  const BlockWriterOptions& options = {},
                                  CompactionStats* stats = nullptr,
                                  const std::function<bool()>& cancelled = nullptr);

// Groups worth compacting, lowest level first, each oldest block first: per
// level, the blocks sorted by min start; a group is a run of 2 to max_inputs
// consecutive blocks whose bytes sum to at most target_block_bytes and whose
// spans start within max_block_span. A run is returned once it is full
// (max_inputs blocks) or closed (the next block of the level does not fit);
// the newest, still growing run waits for more blocks, so that blocks are
// rewritten about once per level rather than each time a block is cut.
std::vector<std::vector<std::shared_ptr<Block>>> PlanCompactions(
    const std::vector<std::shared_ptr<Block>>& blocks, const CompactionOptions& options);

}  // namespace ariadne::store
