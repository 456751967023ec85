// The head: recent spans in memory, searchable at once.
//
// The head keeps every admitted batch (shared, immutable) and indexes its
// spans by trace id, service, operation and time. It answers the queries
// behind the Jaeger and native APIs: a trace by id, services and operations,
// trace search, and the service dependency graph.
//
// Threading: Append may run concurrently with any number of readers; all
// methods are thread-safe (one reader/writer lock; Append holds it briefly).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "model/span_batch.h"
#include "store/backend.h"
#include "store/query.h"

namespace ariadne::store {

struct HeadStats {
  uint64_t batches = 0;
  uint64_t spans = 0;
  uint64_t traces = 0;
  uint64_t memory_bytes = 0;
};

class Head : public StorageBackend {
 public:
  Head() = default;
  ~Head() override = default;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // Makes the batch's spans visible to every later query. `epoch` tags it
  // for cutting the head into blocks (see receive::Ingester::Cut): replayed
  // batches have epoch 0, live ones the ingester's epoch at submission.
  void Append(std::shared_ptr<const model::SpanBatch> batch, uint64_t epoch = 0);

  // The batches of epochs <= `epoch`, in append order (a block's content).
  std::vector<std::shared_ptr<const model::SpanBatch>> BatchesThrough(uint64_t epoch) const;
  // Forgets the batches of epochs <= `epoch` (once a block holds them).
  void DropThrough(uint64_t epoch);
  // When the oldest batch held was appended (steady clock); nullopt if empty.
  std::optional<std::chrono::steady_clock::time_point> OldestAppend() const;

  // StorageBackend. GetTrace is empty if the trace is unknown; Dependencies
  // counts parent/child spans of different services whose child started in
  // [start_nano, end_nano].
  absl::StatusOr<std::vector<model::SpanRef>> GetTrace(
      const model::TraceId& trace_id) const override;
  absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const TraceQuery& query) const override;
  absl::StatusOr<std::vector<std::string>> Services() const override;
  absl::StatusOr<std::vector<Operation>> Operations(
      std::string_view service, std::optional<model::SpanKind> kind) const override;
  absl::StatusOr<std::vector<Dependency>> Dependencies(uint64_t start_nano,
                                                       uint64_t end_nano) const override;

  HeadStats stats() const;
  // Approximate bytes held, without taking the lock (for admission).
  uint64_t memory_bytes() const { return memory_bytes_.load(std::memory_order_relaxed); }

 private:
  struct SpanLoc {
    uint32_t batch;
    uint32_t row;
  };
  struct TraceEntry {
    absl::InlinedVector<SpanLoc, 4> spans;
  };
  struct BatchMeta {
    std::shared_ptr<const model::SpanBatch> batch;
    uint64_t epoch = 0;
    std::chrono::steady_clock::time_point appended;
    uint64_t min_start = 0;
    uint64_t max_start = 0;
    std::vector<std::string> services;  // distinct, as displayed
  };
  using OperationSet = absl::flat_hash_set<std::pair<std::string, uint8_t>>;

  // Adds `meta` (whose batch is already summarised) to the indexes.
  void IndexLocked(BatchMeta meta, size_t memory) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<BatchMeta> batches_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<model::TraceId, TraceEntry> traces_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, OperationSet> operations_ ABSL_GUARDED_BY(mu_);
  uint64_t spans_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> memory_bytes_{0};  // written under mu_, read without it
};

}  // namespace ariadne::store
