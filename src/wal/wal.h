// The write-ahead log: every admitted batch is appended here before its
// client is answered, and replayed into the head on start.
//
// The log is a directory of segment files named by their first sequence
// number; records carry a CRC each. Appends are group-committed by one writer
// thread: whatever has queued while the previous write/fsync was running is
// written with one write() and covered by one fsync. The byte layout is in
// docs/format/wal.md.
//
// Sync policies (what an acknowledged append survives):
//  - kAlways: fsync before every acknowledgement (process crash and power loss);
//  - kBatch:  fsync at most once per `batch_window`; appends are acknowledged
//             after the fsync that covers them (process crash and power loss,
//             at up to one window of extra latency);
//  - kNone:   acknowledged once written to the OS (process crash only).
//
// Lifecycle: Open → Replay (exactly once, even on an empty log: it finds the
// end of the valid data and starts the writer) → Append/Sync → Close.
//
// Threading: Append, Sync, Close and stats may be called from any thread.
// Replay must be called once, before the first Append. Completion callbacks
// run on the writer thread (or, for appends refused outright, on the calling
// thread) and must not block; they may call Append and stats, not Sync or
// Close.
#pragma once

#include <chrono>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne::wal {

class Env;

enum class SyncPolicy { kAlways, kBatch, kNone };

// Parses "always" / "batch" / "none" (exact, lower case).
[[nodiscard]] absl::StatusOr<SyncPolicy> ParseSyncPolicy(std::string_view s);
[[nodiscard]] std::string_view SyncPolicyName(SyncPolicy p);

// Damage found by Replay, reported through Options::on_corrupt.
struct Corruption {
  std::string segment;     // file name, e.g. "00000000000000000001.wal"
  uint64_t offset = 0;     // first damaged byte in the segment
  uint64_t bytes = 0;      // damaged bytes skipped (or cut, if truncated)
  uint64_t records = 0;    // corrupt records counted for it (0 if truncated)
  bool truncated = false;  // torn tail of the last segment, cut off
  std::string reason;      // what the first damaged byte failed, e.g. "payload CRC mismatch"
};

struct Options {
  SyncPolicy sync = SyncPolicy::kBatch;
  std::chrono::milliseconds batch_window{2};
  uint64_t segment_bytes = 64 << 20;  // a new segment starts past this size

  // Called by Replay, on its thread, for each damaged region. Optional.
  std::function<void(const Corruption&)> on_corrupt;

  // File-system access; nullptr means Env::Default(). Not owned; must outlive
  // the Wal. Tests inject failing disks here.
  Env* env = nullptr;
};

struct ReplayStats {
  uint64_t records = 0;          // valid records replayed
  uint64_t corrupt_records = 0;  // records skipped: bad CRC or bad header
  uint64_t truncated_bytes = 0;  // torn tail cut from the last segment
  uint64_t segments = 0;
};

struct Stats {
  uint64_t appended_records = 0;  // Appends accepted (not refused outright)
  uint64_t appended_bytes = 0;    // their payload bytes
  uint64_t fsyncs = 0;            // fdatasync calls on segments
  uint64_t queued_bytes = 0;      // payload bytes appended but not yet acknowledged
  uint64_t written_bytes = 0;     // bytes written to segments, headers included
  uint64_t failed_records = 0;    // accepted appends answered with an error
  uint64_t segments_created = 0;
  // How long the fdatasync calls of the writer took: counts per bucket of
  // kSyncBucketsSeconds (not cumulative; the last is +Inf), and their sum.
  std::array<uint64_t, 12> sync_buckets{};
  double sync_seconds_sum = 0;
};

// Upper bounds of Stats::sync_buckets (seconds).
inline constexpr std::array<double, 11> kSyncBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

// The largest payload Append accepts (256 MiB); see docs/format/wal.md.
[[nodiscard]] uint64_t MaxRecordBytes();

class Wal {
 public:
  virtual ~Wal() = default;

  // Opens (creating if needed) the log in `dir`, and locks it (the file
  // `<dir>/LOCK`) against a second opener until Close.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Wal>> Open(const std::string& dir,
                                                                 const Options& options);

  // Calls `fn` with every valid record in append order. A torn tail of the
  // last segment is truncated; a corrupt record elsewhere is skipped and
  // counted. Never fails on damaged content; fails only on I/O errors (and
  // on a segment written by a newer format version). `payload` is valid only
  // during the call. `stats` may be null.
  [[nodiscard]] virtual absl::Status Replay(
      absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn, ReplayStats* stats) = 0;

  // Queues `payload` and calls `done` once it is durable as the policy
  // promises, or with the I/O error that prevented it. Never blocks on I/O.
  // Refused at once (done runs on the calling thread): FailedPrecondition
  // before Replay or after Close, InvalidArgument above MaxRecordBytes().
  virtual void Append(std::string payload, std::function<void(absl::Status)> done) = 0;

  // As Append, for a payload in memory that `owner` keeps alive: nothing is
  // copied, and `owner` is released once the record is written.
  virtual void AppendShared(std::string_view payload, std::shared_ptr<const void> owner,
                            std::function<void(absl::Status)> done) = 0;

  // Ends the current segment: every record appended before this call has a
  // sequence number <= the value `done` receives (0 if there is none), every
  // later one goes to a new segment. `done` runs on the writer thread (or at
  // once, with an error, before Replay or after Close). Used to cut the head
  // into a block: the block covers the log up to that number.
  virtual void Rotate(std::function<void(absl::StatusOr<uint64_t>)> done) = 0;

  // Deletes the segments all of whose records have sequence numbers <= `seq`
  // (never the segment being written). Returns how many were deleted.
  [[nodiscard]] virtual absl::StatusOr<int> RemoveThrough(uint64_t seq) = 0;

  // Writes and fsyncs everything queued so far (whatever the policy);
  // returns when done. Fails if that fsync failed, or if any append was
  // answered with an error since the previous Sync (like fsync, each failure
  // is reported to one Sync: a caller checkpointing with Sync sees them all).
  [[nodiscard]] virtual absl::Status Sync() = 0;

  // Stops the writer thread after flushing and syncing what is queued, and
  // releases the directory lock. Idempotent: later calls return the first
  // call's result. The destructor calls it.
  [[nodiscard]] virtual absl::Status Close() = 0;

  // Lock-free; callable from completion callbacks.
  [[nodiscard]] virtual Stats stats() const = 0;
};

}  // namespace ariadne::wal
