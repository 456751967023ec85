// The embedded store: the head (recent spans, in memory) and the blocks (on
// disk) answering as one StorageBackend.
//
// A span may briefly be in both (between a block's publication and the
// head dropping what it covers); answers are deduplicated as the head
// deduplicates a client's retries. A block that fails a read is reported to
// the BlockSet (logged, counted, skipped from then on) and the answer is
// made from the rest.
//
// Threading: as StorageBackend.
#pragma once

#include "store/backend.h"
#include "store/block_set.h"
#include "store/head.h"

namespace ariadne::store {

class EmbeddedStore : public StorageBackend {
 public:
  EmbeddedStore(const Head* head, BlockSet* blocks) : head_(head), blocks_(blocks) {}

  absl::StatusOr<std::vector<model::SpanRef>> GetTrace(
      const model::TraceId& trace_id) const override;
  absl::StatusOr<std::vector<std::pair<uint64_t, model::TraceId>>> FindTraces(
      const TraceQuery& query) const override;
  absl::StatusOr<std::vector<std::string>> Services() const override;
  absl::StatusOr<std::vector<Operation>> Operations(
      std::string_view service, std::optional<model::SpanKind> kind) const override;
  absl::StatusOr<std::vector<Dependency>> Dependencies(uint64_t start_nano,
                                                       uint64_t end_nano) const override;

 private:
  const Head* const head_;
  BlockSet* const blocks_;
};

}  // namespace ariadne::store
