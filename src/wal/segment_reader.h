// Reads one segment file: checks its header, yields every valid record, and
// reports damage. It only reads; what to do about damage at the end of the
// file (truncate it, or count it) is the caller's decision, since it depends
// on whether the segment is the last one. The rules are in
// docs/format/wal.md, "Recovery".
//
// Threading: one scan runs on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "wal/env.h"
#include "wal/wal.h"

namespace ariadne::wal {

struct SegmentScan {
  uint64_t size = 0;       // file size when scanned
  bool header_ok = false;  // the segment header is intact and names `first_seq`
  // Offset just past the last valid record (or the header, or 0 if neither).
  uint64_t valid_end = 0;
  // Damage after the last valid record, reaching the end of the file; its
  // `bytes` is size - offset. Damage followed by a valid record has already
  // been counted and reported through `on_damage`.
  bool tail_damaged = false;
  Corruption tail;
};

// Scans `file`, the segment named `name` whose file name says its first
// sequence number is `first_seq`. Calls `fn` for each valid record whose
// sequence number exceeds `*last_seq`, and advances `*last_seq`. Calls
// `on_damage` (with `records` set) for each damaged region followed by a
// valid record. Fails only on I/O errors and on an unsupported format
// version.
[[nodiscard]] absl::StatusOr<SegmentScan> ScanSegment(
    File& file, const std::string& name, uint64_t first_seq, uint64_t* last_seq,
    absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn,
    absl::FunctionRef<void(const Corruption&)> on_damage);

}  // namespace ariadne::wal
