#include "cli/fsck_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/strings.h"
#include "fmt/format.h"
#include "store/block.h"
#include "wal/env.h"
#include "wal/format.h"
#include "wal/segment_reader.h"

namespace ariadne::cli {
namespace fs = std::filesystem;

namespace {

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

struct Report {
  bool json = false;
  int damaged = 0;
  int checked = 0;
  void Ok(std::string_view kind, const std::string& path, const std::string& detail) {
    ++checked;
    if (json) {
      std::printf("{\"kind\":\"%s\",\"path\":\"%s\",\"ok\":true,\"detail\":\"%s\"}\n",
                  std::string(kind).c_str(), JsonEscape(path).c_str(), JsonEscape(detail).c_str());
    } else {
      std::printf("ok       %-7s %s  %s\n", std::string(kind).c_str(), path.c_str(), detail.c_str());
    }
  }
  void Damaged(std::string_view kind, const std::string& path, const std::string& problem) {
    ++checked;
    ++damaged;
    if (json) {
      std::printf("{\"kind\":\"%s\",\"path\":\"%s\",\"ok\":false,\"problem\":\"%s\"}\n",
                  std::string(kind).c_str(), JsonEscape(path).c_str(), JsonEscape(problem).c_str());
    } else {
      std::printf("DAMAGED  %-7s %s  %s\n", std::string(kind).c_str(), path.c_str(), problem.c_str());
    }
  }
};

void CheckBlocks(const std::string& dir, Report* r) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& p : dirs) {
    const std::string name = p.filename().string();
    if (name.starts_with("tmp-") || name.starts_with("deleting-") || !fs::exists(p / "meta.json")) {
      // Not published: the server removes it when it starts.
      r->Ok("leftover", p.string(), "unpublished (a crash during a write or delete); removed on start");
      continue;
    }
    auto block = store::Block::Open(p.string());
    if (!block.ok()) {
      r->Damaged("block", p.string(), std::string(StdView(block.status().message())));
      continue;
    }
    if (absl::Status s = (*block)->Verify(); !s.ok()) {
      r->Damaged("block", p.string(), std::string(StdView(s.message())));
      continue;
    }
    const store::BlockMeta& m = (*block)->meta();
    r->Ok("block", p.string(),
          fmt::format("{} spans, {} traces, {} row groups, {} bytes, format {}{}", m.spans,
                      m.traces, m.row_groups, m.bytes, m.format_version,
                      // Version 1 blocks are read without attribute filters, so
                      // their high-cardinality searches read every row group;
                      // compaction rewrites them as version 2.
                      m.format_version < 2 ? " (no attribute filters)" : ""));
  }
}

void CheckWal(const std::string& dir, Report* r) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (auto seq = wal::format::ParseSegmentFileName(name)) segments.emplace_back(*seq, name);
  }
  std::sort(segments.begin(), segments.end());
  uint64_t last_seq = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& [first, name] = segments[i];
    const std::string path = dir + "/" + name;
    auto file = wal::Env::Default()->OpenFile(path, wal::OpenMode::kRead);
    if (!file.ok()) {
      r->Damaged("segment", path, std::string(StdView(file.status().message())));
      continue;
    }
    uint64_t records = 0;
    std::vector<std::string> problems;
    auto scan = wal::ScanSegment(
        **file, name, first, &last_seq, [&](uint64_t, std::string_view) { ++records; },
        [&](const wal::Corruption& c) {
          problems.push_back(fmt::format("offset {}: {} ({} bytes)", c.offset, c.reason, c.bytes));
        });
    if (!scan.ok()) {
      r->Damaged("segment", path, std::string(StdView(scan.status().message())));
      continue;
    }
    const bool last = i + 1 == segments.size();
    if (scan->tail_damaged) {
      const std::string tail = fmt::format("offset {}: {} ({} bytes)", scan->tail.offset,
                                           scan->tail.reason, scan->tail.bytes);
      if (last) {
        // A torn tail of the last segment is what a crash mid-write leaves:
        // recovery truncates it, nothing acknowledged is in it.
        r->Ok("segment", path, fmt::format("{} records; torn tail (truncated on start): {}",
                                           records, tail));
      } else {
        problems.push_back(tail);
      }
    }
    if (!scan->header_ok && !last) problems.push_back("segment header damaged");
    if (!problems.empty()) {
      std::string all;
      for (const std::string& p : problems) all += (all.empty() ? "" : "; ") + p;
      r->Damaged("segment", path, fmt::format("{} records readable; {}", records, all));
    } else if (!scan->tail_damaged) {
      r->Ok("segment", path, fmt::format("{} records", records));
    }
  }
}

}  // namespace

int RunFsck(const FsckOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(options.data_dir, ec)) {
    std::fprintf(stderr, "ariadne fsck: %s is not a directory\n", options.data_dir.c_str());
    return 2;
  }
  Report r;
  r.json = options.json;
  CheckBlocks(options.data_dir + "/blocks", &r);
  CheckWal(options.data_dir + "/wal", &r);
  // With tenants every tenant has its own log and blocks (docs/security.md#tenants).
  const std::string tenants = options.data_dir + "/tenants";
  if (fs::is_directory(tenants, ec)) {
    std::vector<std::string> dirs;
    for (const auto& entry : fs::directory_iterator(tenants, ec)) {
      if (entry.is_directory()) dirs.push_back(entry.path().string());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const std::string& dir : dirs) {
      CheckBlocks(dir + "/blocks", &r);
      CheckWal(dir + "/wal", &r);
    }
  }
  if (r.json) {
    std::printf("{\"checked\":%d,\"damaged\":%d}\n", r.checked, r.damaged);
  } else {
    std::printf("%d checked, %d damaged\n", r.checked, r.damaged);
  }
  return r.damaged > 0 ? 1 : 0;
}

}  // namespace ariadne::cli
