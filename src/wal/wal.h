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
// Threading: Append, Sync and stats may be called from any thread. Replay
// must be called once, before the first Append. Completion callbacks run on
// the writer thread and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne::wal {

enum class SyncPolicy { kAlways, kBatch, kNone };

// Parses "always" / "batch" / "none".
absl::StatusOr<SyncPolicy> ParseSyncPolicy(std::string_view s);

struct Options {
  SyncPolicy sync = SyncPolicy::kBatch;
  std::chrono::milliseconds batch_window{10};
  uint64_t segment_bytes = 64 << 20;  // a new segment starts past this size
};

struct ReplayStats {
  uint64_t records = 0;          // valid records replayed
  uint64_t corrupt_records = 0;  // records skipped: bad CRC or bad header
  uint64_t truncated_bytes = 0;  // torn tail cut from the last segment
  uint64_t segments = 0;
};

struct Stats {
  uint64_t appended_records = 0;
  uint64_t appended_bytes = 0;
  uint64_t fsyncs = 0;
  uint64_t queued_bytes = 0;  // appended but not yet acknowledged
};

class Wal {
 public:
  virtual ~Wal() = default;

  // Opens (creating if needed) the log in `dir`.
  static absl::StatusOr<std::unique_ptr<Wal>> Open(const std::string& dir,
                                                   const Options& options);

  // Calls `fn` with every valid record in append order. A torn tail of the
  // last segment is truncated; a corrupt record elsewhere is skipped and
  // counted. Never fails on damaged content; fails only on I/O errors.
  virtual absl::Status Replay(
      absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn,
      ReplayStats* stats) = 0;

  // Queues `payload` and calls `done` once it is durable as the policy
  // promises, or with the I/O error that prevented it. Never blocks on I/O.
  virtual void Append(std::string payload,
                      std::function<void(absl::Status)> done) = 0;

  // Writes and fsyncs everything queued so far; returns when done.
  virtual absl::Status Sync() = 0;

  // Stops the writer thread after flushing and syncing what is queued.
  virtual absl::Status Close() = 0;

  virtual Stats stats() const = 0;
};

}  // namespace ariadne::wal
