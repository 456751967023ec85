#include "store/flusher.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace ariadne::store {

Flusher::Flusher(Head* head, BlockSet* blocks, std::function<absl::StatusOr<HeadCut>()> cut,
                 std::function<absl::StatusOr<int>(uint64_t)> remove_log_through,
                 FlusherOptions options)
    : head_(head),
      blocks_(blocks),
      cut_(std::move(cut)),
      remove_log_through_(std::move(remove_log_through)),
      options_(std::move(options)) {}

Flusher::~Flusher() { Stop(); }

void Flusher::Start() {
  thread_ = std::thread([this] { Loop(); });
  if (options_.compaction.max_inputs >= 2) {
    compaction_thread_ = std::thread([this] { CompactionLoop(); });
  }
}

void Flusher::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  stop_requested_.store(true);
  if (thread_.joinable()) thread_.join();
  if (compaction_thread_.joinable()) compaction_thread_.join();
}

bool Flusher::WaitCheckInterval() {
  absl::MutexLock lock(&stop_mu_);
  // Look at least four times per block duration (tests cut every 100 ms).
  const absl::Duration wait = absl::FromChrono(std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(10), std::min(options_.check_interval, options_.block_duration / 4)));
  return !stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
}

void Flusher::Loop() {
  while (WaitCheckInterval()) {
    const auto oldest = head_->OldestAppend();
    const bool old_enough =
        oldest && std::chrono::steady_clock::now() - *oldest >= options_.block_duration;
    const bool big_enough = head_->memory_bytes() >= options_.cut_bytes;
    if (old_enough || big_enough) {
      if (absl::Status s = FlushNow(); !s.ok()) {
        spdlog::error("cutting the head into a block failed (will retry): {}",
                      StdView(s.message()));
      }
    }
    // Not while a compaction reads blocks retention could delete.
    if (compact_mu_.TryLock()) {
      Retain();
      compact_mu_.Unlock();
    }
  }
}

void Flusher::CompactionLoop() {
  while (WaitCheckInterval()) {
    if (std::chrono::steady_clock::now() < next_compaction_) continue;
    if (absl::StatusOr<bool> c = CompactNow(); !c.ok()) {
      if (!absl::IsCancelled(c.status())) {
        spdlog::error("compacting blocks failed (will retry): {}", StdView(c.status().message()));
      }
      next_compaction_ = std::chrono::steady_clock::now() + options_.compaction_retry;
    }
  }
}

absl::StatusOr<bool> Flusher::CompactNow() {
  absl::MutexLock lock(&compact_mu_);
  absl::StatusOr<bool> done = Compact();
  if (!done.ok() && !absl::IsCancelled(done.status())) compaction_failures_.fetch_add(1);
  return done;
}

absl::StatusOr<bool> Flusher::Compact() {
  const std::vector<std::vector<std::shared_ptr<Block>>> plan =
      PlanCompactions(blocks_->Snapshot(), options_.compaction);
  if (plan.empty()) return false;
  const std::vector<std::shared_ptr<Block>>& inputs = plan.front();
  const auto started = std::chrono::steady_clock::now();
  CompactionStats stats;
  absl::StatusOr<BlockMeta> written = store::Compact(inputs, blocks_->dir(), options_.writer, &stats,
                                                     [this] { return stop_requested_.load(); });
  if (!written.ok()) {
    if (stats.damaged_input) blocks_->MarkDamaged(*stats.damaged_input, written.status());
    return written.status();
  }
  // Published: from here on a crash leaves the inputs for BlockSet::Open to
  // delete (they are listed in the new block's compacted_from).
  const std::string dir = blocks_->dir() + "/" + written->id;
  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(dir);
  if (!block.ok()) {
    // Unusable: the inputs stay authoritative. (Renamed first, as any deletion.)
    std::error_code ec;
    const std::string gone = blocks_->dir() + "/deleting-" + written->id;
    std::filesystem::rename(dir, gone, ec);
    if (!ec) std::filesystem::remove_all(gone, ec);
    return block.status();
  }
  if (absl::Status s = blocks_->Replace(*std::move(block), written->compacted_from); !s.ok()) {
    spdlog::warn("deleting compacted blocks: {}", StdView(s.message()));
  }
  compactions_.fetch_add(1);
  compacted_blocks_.fetch_add(inputs.size());
  uint64_t input_bytes = 0;
  for (const auto& b : inputs) input_bytes += b->meta().bytes;
  spdlog::info(
      "compacted {} level-{} blocks ({} bytes) into block {}: level {}, {} spans, {} traces, {} "
      "bytes, {} duplicate spans dropped, in {:.2f} s",
      inputs.size(), inputs.front()->meta().level, input_bytes, written->id, written->level,
      written->spans, written->traces, written->bytes, stats.duplicates,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return true;
}

absl::Status Flusher::FlushNow() {
  absl::MutexLock lock(&flush_mu_);
  absl::Status s = Flush();
  if (!s.ok()) failures_.fetch_add(1);
  return s;
}

absl::Status Flusher::Flush() {
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<HeadCut> cut = cut_();
  if (!cut.ok()) return cut.status();
  std::vector<std::shared_ptr<const model::SpanBatch>> batches = head_->BatchesThrough(cut->epoch);
  if (batches.empty()) return absl::OkStatus();
  std::vector<model::SpanRef> spans;
  for (const auto& b : batches) {
    for (uint32_t row = 0; row < b->size(); ++row) spans.push_back({b, row});
  }
  BlockMeta meta;
  meta.level = 0;
  meta.wal_seq_max = cut->wal_seq;
  absl::StatusOr<BlockMeta> written = WriteBlock(blocks_->dir(), spans, meta, options_.writer);
  if (!written.ok()) return written.status();
  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(blocks_->dir() + "/" + written->id);
  if (!block.ok()) return block.status();
  blocks_->Add(*std::move(block));
  head_->DropThrough(cut->epoch);
  absl::StatusOr<int> removed = remove_log_through_(cut->wal_seq);
  if (!removed.ok()) {
    // The block is published: replay would skip these records anyway.
    spdlog::warn("removing log segments covered by block {}: {}", written->id,
                 StdView(removed.status().message()));
  } else {
    wal_segments_removed_.fetch_add(static_cast<uint64_t>(*removed));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  last_flush_seconds_.store(seconds);
  blocks_written_.fetch_add(1);
  spans_flushed_.fetch_add(spans.size());
  spdlog::info("block {}: {} spans, {} traces, {} bytes ({:.1f} B/span) in {:.2f} s", written->id,
               written->spans, written->traces, written->bytes,
               written->spans > 0 ? static_cast<double>(written->bytes) / written->spans : 0.0,
               seconds);
  return absl::OkStatus();
}

void Flusher::Retain() {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t retention = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.retention).count();
  const uint64_t min_start = now > retention ? static_cast<uint64_t>(now - retention) : 0;
  for (const std::string& id : blocks_->ApplyRetention(min_start, options_.max_bytes)) {
    spdlog::info("retention: removed block {}", id);
  }
}

FlusherStats Flusher::stats() const {
  FlusherStats s;
  s.blocks_written = blocks_written_.load();
  s.spans_flushed = spans_flushed_.load();
  s.failures = failures_.load();
  s.wal_segments_removed = wal_segments_removed_.load();
  s.last_flush_seconds = last_flush_seconds_.load();
  s.compactions = compactions_.load();
  s.compaction_failures = compaction_failures_.load();
  s.compacted_blocks = compacted_blocks_.load();
  return s;
}

}  // namespace ariadne::store
