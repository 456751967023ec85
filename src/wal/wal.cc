#include "wal/wal.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "wal/env.h"
#include "wal/format.h"
#include "wal/segment_reader.h"

namespace ariadne::wal {

absl::StatusOr<SyncPolicy> ParseSyncPolicy(std::string_view s) {
  if (s == "always") return SyncPolicy::kAlways;
  if (s == "batch") return SyncPolicy::kBatch;
  if (s == "none") return SyncPolicy::kNone;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown WAL sync policy \"", AbslView(s),
      "\": valid values are \"always\" (fsync before every acknowledgement), \"batch\" (fsync "
      "at most once per batch window, acknowledge after it) and \"none\" (acknowledge once "
      "written to the OS)"));
}

std::string_view SyncPolicyName(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kAlways:
      return "always";
    case SyncPolicy::kBatch:
      return "batch";
    case SyncPolicy::kNone:
      return "none";
  }
  return "unknown";
}

uint64_t MaxRecordBytes() { return format::kMaxRecordBytes; }

namespace {

using Clock = std::chrono::steady_clock;
using Done = std::function<void(absl::Status)>;

// Under kBatch, the writer waits for the window to end before writing what
// has queued, unless this much payload is waiting: then it writes at once
// (still acknowledging only after the window's fsync) to keep writes large
// but bounded.
constexpr uint64_t kWriteEarlyBytes = 1 << 20;

// An Append or a Sync waiting for the writer.
struct Request {
  std::string payload;
  Done done;
  bool barrier = false;  // a Sync: fsync everything before it, then call done
  // A Rotate: gets the last sequence number before it; the next record
  // starts a new segment.
  std::function<void(absl::StatusOr<uint64_t>)> rotated;
  // AppendShared: the payload is `shared`, kept alive by `owner`.
  std::shared_ptr<const void> owner;
  std::string_view shared;

  std::string_view data() const { return owner ? shared : std::string_view(payload); }
  void Release() {
    std::string().swap(payload);
    owner.reset();
  }
};

// A record written to a segment, waiting for the fsync that covers it.
struct Unsynced {
  uint64_t bytes;  // payload bytes
  Done done;
};

class WalImpl;

// The Wal whose writer loop runs on this thread, if any: how Sync and Close
// recognize a call from a completion callback. (Not a stored std::thread::id:
// once the writer is joined, a new thread may be given the same id.)
thread_local const WalImpl* current_writer = nullptr;

class WalImpl final : public Wal {
 public:
  WalImpl(std::string dir, const Options& options, Env* env, std::unique_ptr<File> lock)
      : dir_(std::move(dir)), options_(options), env_(env), lock_(std::move(lock)) {}

  ~WalImpl() override {
    (void)Close();  // errors were already reported to the appenders' callbacks
  }

  absl::Status Replay(absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn,
                      ReplayStats* stats) override;
  void Append(std::string payload, Done done) override;
  void AppendShared(std::string_view payload, std::shared_ptr<const void> owner,
                    Done done) override;
  void Rotate(std::function<void(absl::StatusOr<uint64_t>)> done) override;
  absl::StatusOr<int> RemoveThrough(uint64_t seq) override;
  absl::Status Sync() override;
  absl::Status Close() override;
  Stats stats() const override;

 private:
  enum class State { kNew, kReplaying, kRunning, kClosing, kClosed };

  [[nodiscard]] absl::Status RecoverSegments(
      absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn, ReplayStats* stats);
  [[nodiscard]] absl::Status SegmentHeaderWrite(File& file, uint64_t first_seq);

  // Queues a record for the writer (or refuses it at once).
  void Enqueue(Request request);

  // --- writer thread ---
  void WriterLoop();
  // Writes the records of `batch`, moving barriers to `barriers`. Returns
  // the first error (whose records have been answered).
  [[nodiscard]] absl::Status WriteBatch(std::vector<Request>& batch,
                                        std::vector<Request>& barriers);
  [[nodiscard]] absl::Status WriteRecords(std::vector<Request*>& records);
  // Closes the current segment (syncing it first) and creates the next one,
  // named after next_seq_.
  [[nodiscard]] absl::Status Roll();
  // fdatasync on the current segment if anything was written since the last.
  [[nodiscard]] absl::Status SyncSegment();
  // For Sync and Close, whatever the policy: SyncSegment, plus the directory
  // if a segment was created without syncing it, plus any fsync error not
  // yet reported (both only happen under kNone).
  [[nodiscard]] absl::Status SyncEverything();
  // Acknowledges every written record with `s`.
  void AckUnsynced(const absl::Status& s);
  void Finish(uint64_t bytes, Done& done, const absl::Status& s);

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; }
  bool HasUrgentWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || queued_barriers_ > 0 || queue_payload_bytes_ >= kWriteEarlyBytes;
  }
  bool NotReplaying() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ != State::kReplaying;
  }
  bool IsClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == State::kClosed; }
  bool OnWriterThread() const { return current_writer == this; }

  const std::string dir_;
  const Options options_;
  Env* const env_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kNew;
  std::vector<Request> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queue_payload_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t queued_barriers_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;           // accepted appends answered with an error
  uint64_t failures_reported_ ABSL_GUARDED_BY(mu_) = 0;  // of those, reported by Sync
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);

  // Set up by Replay before the writer starts, then owned by the writer
  // thread; Close reads and resets them after joining it.
  std::unique_ptr<File> file_;  // current segment; null until one exists
  uint64_t file_size_ = 0;      // its valid length: writes go here
  uint64_t next_seq_ = format::kFirstSequence;
  bool dirty_ = false;      // written since the last fdatasync
  bool dir_dirty_ = false;  // kNone: a segment was created since the last directory fsync
  absl::Status unreported_sync_error_;  // kNone: a failed fsync when leaving a segment
  bool roll_next_ = false;              // the current segment's state is unknown: start a new one
  std::vector<Unsynced> unsynced_;
  Clock::time_point last_sync_{};
  absl::Status final_status_;  // result of the writer's last flush, for Close

  std::thread writer_;
  std::unique_ptr<File> lock_;  // holds the directory's LOCK until Close

  std::atomic<uint64_t> appended_records_{0};
  std::atomic<uint64_t> appended_bytes_{0};
  std::atomic<uint64_t> fsyncs_{0};
  std::array<std::atomic<uint64_t>, 12> sync_buckets_{};  // see Stats::sync_buckets
  std::atomic<uint64_t> sync_nanos_sum_{0};
  std::atomic<uint64_t> queued_bytes_{0};
  std::atomic<uint64_t> written_bytes_{0};
  std::atomic<uint64_t> failed_records_{0};
  std::atomic<uint64_t> segments_created_{0};
};

std::string JoinPath(const std::string& dir, std::string_view name) {
  return absl::StrCat(dir, "/", AbslView(name));
}

absl::Status WalImpl::Replay(absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn,
                             ReplayStats* stats) {
  {
    absl::MutexLock l(&mu_);
    if (state_ != State::kNew) {
      return absl::FailedPreconditionError("Wal::Replay must be called once, before Append");
    }
    state_ = State::kReplaying;
  }
  ReplayStats local;
  absl::Status s = RecoverSegments(fn, &local);
  if (stats != nullptr) *stats = local;

  absl::MutexLock l(&mu_);
  if (!s.ok()) {
    file_.reset();
    state_ = State::kNew;  // nothing was written; the caller may retry or Close
    return s;
  }
  state_ = State::kRunning;
  writer_ = std::thread([this] {
    current_writer = this;
    WriterLoop();
    current_writer = nullptr;
  });
  return absl::OkStatus();
}

absl::Status WalImpl::SegmentHeaderWrite(File& file, uint64_t first_seq) {
  char header[format::kSegmentHeaderSize];
  format::EncodeSegmentHeader(first_seq, header);
  const std::string_view piece(header, sizeof(header));
  if (absl::Status s = file.WriteAt(0, {&piece, 1}); !s.ok()) return s;
  written_bytes_.fetch_add(sizeof(header), std::memory_order_relaxed);
  if (options_.sync != SyncPolicy::kNone) {
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    return file.Sync();
  }
  return absl::OkStatus();
}

absl::Status WalImpl::RecoverSegments(
    absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn, ReplayStats* stats) {
  absl::StatusOr<std::vector<std::string>> names = env_->ListDir(dir_);
  if (!names.ok()) return names.status();
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (std::string& n : *names) {
    if (std::optional<uint64_t> seq = format::ParseSegmentFileName(n)) {
      segments.emplace_back(*seq, std::move(n));
    }
  }
  std::sort(segments.begin(), segments.end());

  auto report = [&](const Corruption& c) {
    if (options_.on_corrupt) options_.on_corrupt(c);
  };
  auto count_damage = [&](const Corruption& c) {
    stats->corrupt_records += c.records;
    report(c);
  };
  auto deliver = [&](uint64_t seq, std::string_view payload) {
    ++stats->records;
    fn(seq, payload);
  };

  uint64_t last_seq = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& [first_seq, name] = segments[i];
    const bool last = i + 1 == segments.size();
    absl::StatusOr<std::unique_ptr<File>> file =
        env_->OpenFile(JoinPath(dir_, name), last ? OpenMode::kReadWrite : OpenMode::kRead);
    if (!file.ok()) return file.status();
    absl::StatusOr<SegmentScan> scan =
        ScanSegment(**file, name, first_seq, &last_seq, deliver, count_damage);
    if (!scan.ok()) return scan.status();
    ++stats->segments;

    if (!last) {
      if (scan->tail_damaged) count_damage(scan->tail);
      continue;
    }

    // The last segment: cut a torn tail so that appends follow valid data,
    // then make sure it starts with a good header.
    if (scan->tail_damaged) {
      if (absl::Status s = (*file)->Truncate(scan->valid_end); !s.ok()) return s;
      stats->truncated_bytes += scan->size - scan->valid_end;
      Corruption c = scan->tail;
      c.records = 0;
      c.truncated = true;
      report(c);
      if (options_.sync != SyncPolicy::kNone) {
        fsyncs_.fetch_add(1, std::memory_order_relaxed);
        if (absl::Status s = (*file)->Sync(); !s.ok()) return s;
      }
    }
    if (!scan->header_ok) {
      // Rewriting the header's bytes in place leaves any records after
      // them untouched.
      if (scan->valid_end < format::kSegmentHeaderSize) {
        if (absl::Status s = (*file)->Truncate(0); !s.ok()) return s;
        scan->valid_end = format::kSegmentHeaderSize;
      }
      if (absl::Status s = SegmentHeaderWrite(**file, first_seq); !s.ok()) return s;
    }
    file_ = *std::move(file);
    file_size_ = scan->valid_end;
    // Under kNone the repairs above are not synced yet: the first Sync does it.
    dirty_ = options_.sync == SyncPolicy::kNone && (scan->tail_damaged || !scan->header_ok);
    next_seq_ = std::max({last_seq + 1, first_seq, format::kFirstSequence});
    return absl::OkStatus();
  }
  next_seq_ = std::max(last_seq + 1, format::kFirstSequence);
  return absl::OkStatus();
}

void WalImpl::Rotate(std::function<void(absl::StatusOr<uint64_t>)> done) {
  {
    absl::MutexLock l(&mu_);
    if (state_ == State::kRunning) {
      Request request;
      request.rotated = std::move(done);
      queue_.push_back(std::move(request));
      ++queued_barriers_;  // wake the writer now, whatever the policy
      return;
    }
  }
  done(absl::FailedPreconditionError("Wal::Rotate called before Replay or after Close"));
}

absl::StatusOr<int> WalImpl::RemoveThrough(uint64_t seq) {
  absl::StatusOr<std::vector<std::string>> names = env_->ListDir(dir_);
  if (!names.ok()) return names.status();
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (std::string& n : *names) {
    if (std::optional<uint64_t> first = format::ParseSegmentFileName(n)) {
      segments.emplace_back(*first, std::move(n));
    }
  }
  std::sort(segments.begin(), segments.end());
  int removed = 0;
  // A segment's records end before the next segment's first; the last
  // segment is (or will be) written to and is never removed.
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    if (segments[i + 1].first > seq + 1) break;
    if (absl::Status s = env_->RemoveFile(JoinPath(dir_, segments[i].second)); !s.ok()) return s;
    ++removed;
  }
  return removed;
}

void WalImpl::Append(std::string payload, Done done) {
  Request request;
  request.payload = std::move(payload);
  request.done = std::move(done);
  Enqueue(std::move(request));
}

void WalImpl::AppendShared(std::string_view payload, std::shared_ptr<const void> owner, Done done) {
  Request request;
  request.shared = payload;
  request.owner = std::move(owner);
  if (request.owner == nullptr) request.payload.assign(payload);  // nothing keeps it alive
  request.done = std::move(done);
  Enqueue(std::move(request));
}

void WalImpl::Enqueue(Request request) {
  const uint64_t n = request.data().size();
  if (n > format::kMaxRecordBytes) {
    request.done(absl::InvalidArgumentError(absl::StrCat(
        "WAL record of ", n, " bytes exceeds the maximum of ", format::kMaxRecordBytes)));
    return;
  }
  {
    absl::MutexLock l(&mu_);
    if (state_ == State::kRunning) {
      appended_records_.fetch_add(1, std::memory_order_relaxed);
      appended_bytes_.fetch_add(n, std::memory_order_relaxed);
      queued_bytes_.fetch_add(n, std::memory_order_relaxed);
      queue_payload_bytes_ += n;
      queue_.push_back(std::move(request));
      return;  // unlocking wakes the writer if it waits for this
    }
  }
  request.done(absl::FailedPreconditionError("Wal::Append called before Replay or after Close"));
}

absl::Status WalImpl::Sync() {
  if (OnWriterThread()) {
    return absl::FailedPreconditionError("Wal::Sync called from a completion callback");
  }
  absl::Notification synced;
  absl::Status result;
  {
    absl::MutexLock l(&mu_);
    switch (state_) {
      case State::kNew:
        return absl::OkStatus();  // nothing can have been appended
      case State::kReplaying:
        return absl::FailedPreconditionError("Wal::Sync called during Replay");
      case State::kClosing:
      case State::kClosed:
        mu_.Await(absl::Condition(this, &WalImpl::IsClosed));
        return close_status_;  // Close flushed and synced everything
      case State::kRunning:
        break;
    }
    ++queued_barriers_;
    Request barrier;
    barrier.done = [&](absl::Status s) {
      result = std::move(s);
      synced.Notify();
    };
    barrier.barrier = true;
    queue_.push_back(std::move(barrier));
  }
  synced.WaitForNotification();
  absl::MutexLock l(&mu_);
  const uint64_t unreported = failures_ - failures_reported_;
  failures_reported_ = failures_;
  if (!result.ok()) return result;
  if (unreported > 0) {
    return absl::Status(
        last_error_.code(),
        absl::StrCat(unreported, " WAL append(s) failed since the previous Sync; last error: ",
                     last_error_.message()));
  }
  return absl::OkStatus();
}

absl::Status WalImpl::Close() {
  if (OnWriterThread()) {
    return absl::FailedPreconditionError("Wal::Close called from a completion callback");
  }
  bool was_running;
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(this, &WalImpl::NotReplaying));
    if (state_ == State::kClosing || state_ == State::kClosed) {
      mu_.Await(absl::Condition(this, &WalImpl::IsClosed));
      return close_status_;
    }
    was_running = state_ == State::kRunning;
    state_ = State::kClosing;
    stopping_ = true;
  }
  // Only this call gets here; the others wait for kClosed above.
  absl::Status s;
  if (was_running) {
    writer_.join();
    s = final_status_;
  }
  file_.reset();
  lock_.reset();
  absl::MutexLock l(&mu_);
  close_status_ = s;
  state_ = State::kClosed;
  return s;
}

Stats WalImpl::stats() const {
  Stats s;
  s.appended_records = appended_records_.load(std::memory_order_relaxed);
  s.appended_bytes = appended_bytes_.load(std::memory_order_relaxed);
  s.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  s.queued_bytes = queued_bytes_.load(std::memory_order_relaxed);
  s.written_bytes = written_bytes_.load(std::memory_order_relaxed);
  s.failed_records = failed_records_.load(std::memory_order_relaxed);
  s.segments_created = segments_created_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < s.sync_buckets.size(); ++i) {
    s.sync_buckets[i] = sync_buckets_[i].load(std::memory_order_relaxed);
  }
  s.sync_seconds_sum = static_cast<double>(sync_nanos_sum_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

// --- writer thread ---

void WalImpl::WriterLoop() {
  std::vector<Request> batch;
  std::vector<Request> barriers;
  for (;;) {
    bool stop;
    {
      absl::MutexLock l(&mu_);
      if (options_.sync == SyncPolicy::kBatch && !unsynced_.empty()) {
        // Written records wait for the window's fsync; gather more meanwhile.
        const Clock::duration left = last_sync_ + options_.batch_window - Clock::now();
        if (left > Clock::duration::zero()) {
          mu_.AwaitWithTimeout(absl::Condition(this, &WalImpl::HasUrgentWork),
                               absl::FromChrono(left));
        }
      } else {
        mu_.Await(absl::Condition(this, &WalImpl::HasWork));
      }
      batch.swap(queue_);
      queue_payload_bytes_ = 0;
      queued_barriers_ = 0;
      stop = stopping_;
    }

    absl::Status status = WriteBatch(batch, barriers);
    batch.clear();

    bool sync_now = stop || !barriers.empty();
    switch (options_.sync) {
      case SyncPolicy::kAlways:
        sync_now = sync_now || !unsynced_.empty();
        break;
      case SyncPolicy::kBatch:
        sync_now =
            sync_now || (!unsynced_.empty() && Clock::now() - last_sync_ >= options_.batch_window);
        break;
      case SyncPolicy::kNone:
        AckUnsynced(absl::OkStatus());  // written to the OS is all kNone promises
        break;
    }
    if (sync_now) {
      absl::Status s = stop || !barriers.empty() ? SyncEverything() : SyncSegment();
      AckUnsynced(s);
      if (status.ok()) status = s;
    }
    for (Request& b : barriers) b.done(status);
    barriers.clear();

    if (stop) {
      // Close set stopping_ and refuses new appends under the same lock, so
      // the batch taken above was the last.
      final_status_ = status;
      return;
    }
  }
}

absl::Status WalImpl::WriteBatch(std::vector<Request>& batch, std::vector<Request>& barriers) {
  std::vector<Request*> records;
  records.reserve(batch.size());
  absl::Status status;
  for (Request& r : batch) {
    if (r.barrier) {
      barriers.push_back(std::move(r));
    } else if (r.rotated) {
      // Records queued before the rotation are written first, in order.
      if (absl::Status s = WriteRecords(records); status.ok()) status = s;
      records.clear();
      const uint64_t last = next_seq_ - 1;
      if (file_ != nullptr && file_size_ > format::kSegmentHeaderSize) roll_next_ = true;
      r.rotated(last);
    } else {
      records.push_back(&r);
    }
  }
  if (absl::Status s = WriteRecords(records); status.ok()) status = s;
  return status;
}

absl::Status WalImpl::WriteRecords(std::vector<Request*>& records) {
  std::string headers;
  std::vector<std::string_view> pieces;
  size_t i = 0;
  while (i < records.size()) {
    if (file_ == nullptr || roll_next_ || file_size_ >= options_.segment_bytes) {
      if (absl::Status s = Roll(); !s.ok()) {
        for (size_t k = i; k < records.size(); ++k) {
          Finish(records[k]->data().size(), records[k]->done, s);
        }
        return s;
      }
    }
    // A run: the records that go to this segment. A record starts in it
    // while its size is below segment_bytes, so the segment passes the
    // limit by at most one record.
    size_t j = i;
    uint64_t run_bytes = 0;
    while (j < records.size() && (j == i || file_size_ + run_bytes < options_.segment_bytes)) {
      run_bytes += format::kRecordHeaderSize + records[j]->data().size();
      ++j;
    }
    headers.resize((j - i) * format::kRecordHeaderSize);
    pieces.clear();
    for (size_t k = i; k < j; ++k) {
      char* h = headers.data() + (k - i) * format::kRecordHeaderSize;
      format::EncodeRecordHeader(next_seq_ + (k - i), records[k]->data(), h);
      pieces.emplace_back(h, format::kRecordHeaderSize);
      pieces.emplace_back(records[k]->data());
    }

    if (absl::Status s = file_->WriteAt(file_size_, pieces); !s.ok()) {
      // Part of the run may be in the file. Cut it off so the next records
      // follow valid data and reuse these sequence numbers; if even that
      // fails, leave the debris (replay skips it) and go on in a new
      // segment, never reusing a number that may be on disk.
      if (!file_->Truncate(file_size_).ok()) {
        roll_next_ = true;
        next_seq_ += j - i;
      }
      for (size_t k = i; k < records.size(); ++k) {
        Finish(records[k]->data().size(), records[k]->done, s);
      }
      return s;
    }
    file_size_ += run_bytes;
    next_seq_ += j - i;
    dirty_ = true;
    written_bytes_.fetch_add(run_bytes, std::memory_order_relaxed);
    for (size_t k = i; k < j; ++k) {
      const uint64_t n = records[k]->data().size();
      records[k]->Release();  // written: free it before the fsync
      unsynced_.push_back(Unsynced{n, std::move(records[k]->done)});
    }
    i = j;
  }
  return absl::OkStatus();
}

absl::Status WalImpl::Roll() {
  if (file_ != nullptr) {
    // Leave the segment durable, so that Sync and Close need only think
    // about the current one.
    absl::Status s = SyncSegment();
    if (options_.sync != SyncPolicy::kNone) {
      AckUnsynced(s);
    } else if (!s.ok() && unreported_sync_error_.ok()) {
      unreported_sync_error_ = s;  // kNone acknowledged these already; tell the next Sync
    }
    file_.reset();
  }
  const std::string path = JoinPath(dir_, format::SegmentFileName(next_seq_));
  // A file of this name can only be debris of a failed Roll: no record with
  // this or a higher sequence number was ever acknowledged.
  absl::StatusOr<std::unique_ptr<File>> file = env_->OpenFile(path, OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  if (absl::Status s = SegmentHeaderWrite(**file, next_seq_); !s.ok()) return s;
  if (options_.sync != SyncPolicy::kNone) {
    if (absl::Status s = env_->SyncDir(dir_); !s.ok()) return s;
  } else {
    dir_dirty_ = true;
  }
  file_ = *std::move(file);
  file_size_ = format::kSegmentHeaderSize;
  dirty_ = options_.sync == SyncPolicy::kNone;  // the header is not synced yet
  roll_next_ = false;
  segments_created_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status WalImpl::SyncSegment() {
  if (file_ == nullptr || !dirty_) return absl::OkStatus();
  last_sync_ = Clock::now();
  absl::Status s = file_->Sync();
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(Clock::now() - last_sync_).count();
  size_t bucket = 0;
  while (bucket < kSyncBucketsSeconds.size() && seconds > kSyncBucketsSeconds[bucket]) ++bucket;
  sync_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sync_nanos_sum_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  dirty_ = false;
  // After a failed fdatasync the kernel may have dropped the dirty pages:
  // what the file holds is unknown, so nothing more goes into it.
  if (!s.ok()) roll_next_ = true;
  return s;
}

absl::Status WalImpl::SyncEverything() {
  absl::Status s = SyncSegment();
  if (dir_dirty_) {
    absl::Status d = env_->SyncDir(dir_);
    if (d.ok()) dir_dirty_ = false;
    s.Update(d);
  }
  s.Update(unreported_sync_error_);
  unreported_sync_error_ = absl::OkStatus();
  return s;
}

void WalImpl::AckUnsynced(const absl::Status& s) {
  for (Unsynced& u : unsynced_) Finish(u.bytes, u.done, s);
  unsynced_.clear();
}

void WalImpl::Finish(uint64_t bytes, Done& done, const absl::Status& s) {
  queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  if (!s.ok()) {
    failed_records_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock l(&mu_);
    ++failures_;
    last_error_ = s;
  }
  done(s);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(const std::string& dir, const Options& options) {
  if (dir.empty()) return absl::InvalidArgumentError("WAL directory is empty");
  if (options.segment_bytes == 0) {
    return absl::InvalidArgumentError("WAL segment_bytes must be positive");
  }
  if (options.batch_window < std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("WAL batch_window must not be negative");
  }
  Env* env = options.env != nullptr ? options.env : Env::Default();
  absl::StatusOr<bool> created = env->CreateDirIfMissing(dir);
  if (!created.ok()) return created.status();
  if (*created && options.sync != SyncPolicy::kNone) {
    // Make the new directory's own name durable.
    std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "a/b/" names "a/b"
    const std::filesystem::path parent = p.has_parent_path() ? p.parent_path() : ".";
    if (absl::Status s = env->SyncDir(parent.string()); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<File>> lock = env->LockFile(JoinPath(dir, "LOCK"));
  if (!lock.ok()) return lock.status();
  return std::make_unique<WalImpl>(dir, options, env, *std::move(lock));
}

}  // namespace ariadne::wal
