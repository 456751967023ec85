#include "store/block_set.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace ariadne::store {
namespace fs = std::filesystem;

namespace {

bool NewerFirst(const std::shared_ptr<Block>& a, const std::shared_ptr<Block>& b) {
  if (a->meta().max_start_nano != b->meta().max_start_nano) {
    return a->meta().max_start_nano > b->meta().max_start_nano;
  }
  return a->meta().id > b->meta().id;
}

// <dir>/COVERED holds the highest log sequence number any block has
// covered, so that it survives the retention of the block that covered it
// (the log segment being written may still hold such records).
constexpr std::string_view kCoveredFile = "COVERED";

uint64_t ReadCovered(const std::string& dir) {
  std::FILE* f = std::fopen((fs::path(dir) / kCoveredFile).c_str(), "r");
  if (f == nullptr) return 0;
  unsigned long long v = 0;
  if (std::fscanf(f, "%llu", &v) != 1) v = 0;
  std::fclose(f);
  return v;
}

absl::Status WriteCovered(const std::string& dir, uint64_t seq) {
  const fs::path tmp = fs::path(dir) / "COVERED.tmp";
  const fs::path final_path = fs::path(dir) / kCoveredFile;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
  const std::string text = absl::StrCat(seq, "\n");
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp.string()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlockSet>> BlockSet::Open(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  std::unique_ptr<BlockSet> set(new BlockSet(dir));
  std::vector<std::shared_ptr<Block>> blocks;
  uint64_t covered = ReadCovered(dir);
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory()) continue;
    const std::string name = e.path().filename().string();
    // Half-written: a block is published by renaming tmp-<random> to <id>, and
    // meta.json is its last file.
    if (name.starts_with("tmp-") || name.starts_with("deleting-") ||
        !fs::exists(e.path() / "meta.json")) {
      spdlog::info("removing unpublished block directory {}", e.path().string());
      fs::remove_all(e.path(), ec);
      continue;
    }
    absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(e.path().string());
    if (!block.ok()) {
      spdlog::error("block {} is damaged and will not be read: {}", name,
                    StdView(block.status().message()));
      set->damaged_.fetch_add(1);
      continue;
    }
    covered = std::max(covered, (*block)->meta().wal_seq_max);
    blocks.push_back(*std::move(block));
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  // A compaction publishes its output before it deletes the inputs: after a
  // crash in between, the output (complete: it was published by rename)
  // holds every span of the inputs, which are deleted now.
  {
    std::set<std::string> covered_ids;
    for (const auto& b : blocks) {
      for (const std::string& id : b->meta().compacted_from) {
        if (id != b->meta().id) covered_ids.insert(id);
      }
    }
    std::vector<std::shared_ptr<Block>> inputs;
    std::erase_if(blocks, [&](const std::shared_ptr<Block>& b) {
      if (!covered_ids.contains(b->meta().id)) return false;
      spdlog::info("removing block {}: a compacted block holds its spans", b->meta().id);
      inputs.push_back(b);
      return true;
    });
    if (absl::Status s = Delete(inputs); !s.ok()) spdlog::warn("{}", StdView(s.message()));
    set->compacted_removed_.fetch_add(inputs.size());
  }
  std::sort(blocks.begin(), blocks.end(), NewerFirst);
  {
    absl::MutexLock lock(&set->mu_);
    set->blocks_ = std::move(blocks);
    set->covered_wal_seq_ = covered;
  }
  return set;
}

std::vector<std::shared_ptr<Block>> BlockSet::Snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  return blocks_;
}

void BlockSet::Add(std::shared_ptr<Block> block) {
  uint64_t covered = 0;
  {
    absl::MutexLock lock(&mu_);
    if (block->meta().wal_seq_max > covered_wal_seq_) {
      covered_wal_seq_ = block->meta().wal_seq_max;
      covered = covered_wal_seq_;
    }
    blocks_.push_back(std::move(block));
    std::sort(blocks_.begin(), blocks_.end(), NewerFirst);
  }
  if (covered != 0) {
    // The block's meta.json already says so; this copy outlives the block.
    if (absl::Status s = WriteCovered(dir_, covered); !s.ok()) {
      spdlog::warn("{}", StdView(s.message()));
    }
  }
}

absl::Status BlockSet::Remove(const std::vector<std::string>& ids) {
  std::vector<std::shared_ptr<Block>> removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = std::stable_partition(blocks_.begin(), blocks_.end(), [&](const auto& b) {
      return std::find(ids.begin(), ids.end(), b->meta().id) == ids.end();
    });
    removed.assign(it, blocks_.end());
    blocks_.erase(it, blocks_.end());
  }
  return Delete(removed);
}

absl::Status BlockSet::Replace(std::shared_ptr<Block> block, const std::vector<std::string>& ids) {
  std::vector<std::shared_ptr<Block>> removed;
  uint64_t covered = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = std::stable_partition(blocks_.begin(), blocks_.end(), [&](const auto& b) {
      return std::find(ids.begin(), ids.end(), b->meta().id) == ids.end();
    });
    removed.assign(it, blocks_.end());
    blocks_.erase(it, blocks_.end());
    if (block->meta().wal_seq_max > covered_wal_seq_) {
      covered_wal_seq_ = block->meta().wal_seq_max;
      covered = covered_wal_seq_;
    }
    blocks_.push_back(std::move(block));
    std::sort(blocks_.begin(), blocks_.end(), NewerFirst);
  }
  if (covered != 0) {
    if (absl::Status s = WriteCovered(dir_, covered); !s.ok()) {
      spdlog::warn("{}", StdView(s.message()));
    }
  }
  return Delete(removed);
}

absl::Status BlockSet::Delete(const std::vector<std::shared_ptr<Block>>& removed) {
  absl::Status status;
  for (const auto& b : removed) {
    // Rename first, so a crash half-way through deleting leaves a directory
    // Open() recognises as garbage, never a published block missing files.
    // Queries holding the block keep reading their open file.
    const fs::path from = b->dir();
    const fs::path to = from.parent_path() / ("deleting-" + from.filename().string());
    std::error_code ec;
    fs::rename(from, to, ec);
    if (!ec) fs::remove_all(to, ec);
    if (ec && status.ok()) {
      status = absl::UnavailableError(absl::StrCat("cannot delete block ", from.string(), ": ",
                                                   ec.message()));
    }
  }
  return status;
}

std::vector<std::string> BlockSet::ApplyRetention(uint64_t min_start_nano, uint64_t max_bytes) {
  std::vector<std::string> ids;
  {
    absl::ReaderMutexLock lock(&mu_);
    uint64_t total = 0;
    for (const auto& b : blocks_) total += b->meta().bytes;
    // Oldest first.
    for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
      const BlockMeta& m = (*it)->meta();
      if (m.max_start_nano < min_start_nano || (max_bytes != 0 && total > max_bytes)) {
        ids.push_back(m.id);
        total -= m.bytes;
      }
    }
  }
  if (ids.empty()) return ids;
  if (absl::Status s = Remove(ids); !s.ok()) spdlog::error("retention: {}", StdView(s.message()));
  retention_removed_.fetch_add(ids.size());
  return ids;
}

void BlockSet::MarkDamaged(const Block& block, const absl::Status& status) {
  bool found = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(blocks_.begin(), blocks_.end(),
                           [&](const auto& b) { return b.get() == &block; });
    if (it != blocks_.end()) {
      blocks_.erase(it);
      found = true;
    }
  }
  if (found) {
    damaged_.fetch_add(1);
    spdlog::error("block {} is damaged and will not be read any more: {}", block.meta().id,
                  StdView(status.message()));
  }
}

uint64_t BlockSet::covered_wal_seq() const {
  absl::ReaderMutexLock lock(&mu_);
  return covered_wal_seq_;
}

BlockSetStats BlockSet::stats() const {
  BlockSetStats s;
  {
    absl::ReaderMutexLock lock(&mu_);
    s.blocks = blocks_.size();
    for (const auto& b : blocks_) {
      s.bytes += b->meta().bytes;
      s.spans += b->meta().spans;
      s.memory_bytes += b->memory_bytes();
    }
  }
  s.damaged = damaged_.load();
  s.retention_removed = retention_removed_.load();
  s.compacted_removed = compacted_removed_.load();
  return s;
}

}  // namespace ariadne::store
