#include "store/head.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "common/strings.h"
#include "model/value_format.h"

namespace ariadne::store {

using model::SpanBatch;
using model::SpanKind;
using model::SpanRef;
using model::StatusCode;
using model::TraceId;

std::string_view ServiceOf(const SpanBatch& batch, uint32_t row) {
  std::string_view s = batch.service(row);
  return s.empty() ? kUnknownService : s;
}

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

// (service, operation, kind): an entry of the operations index.
struct OpKey {
  std::string_view service, name;
  SpanKind kind;
  bool operator==(const OpKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const OpKey& k) {
    // absl's own string_view: Debian's absl hashes std::string_view through
    // std::hash, which is several times slower.
    return H::combine(std::move(h), AbslView(k.service), AbslView(k.name), k.kind);
  }
};

// (trace id, span id): a span's identity within the head.
struct SpanKey {
  TraceId trace;
  model::SpanId span;
  bool operator==(const SpanKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SpanKey& k) {
    return H::combine(std::move(h), k.trace, k.span);
  }
};

bool AttributeMatches(const SpanBatch& b, model::Range attrs, std::string_view key,
                      std::string_view value) {
  for (uint32_t i = 0; i < attrs.count; ++i) {
    const model::KeyValue& kv = b.attributes[attrs.first + i];
    if (kv.key != key) continue;
    if (kv.value.type == model::ValueType::kString) {
      if (kv.value.bytes == value) return true;
    } else if (model::ValueToString(b, kv.value) == value) {
      return true;
    }
  }
  return false;
}

bool TagMatches(const SpanBatch& b, uint32_t row, std::string_view key, std::string_view value) {
  if (key == "error") {
    const bool is_error = b.status_code[row] == StatusCode::kError;
    if ((value == "true") == is_error) return true;
  } else if (key == "span.kind") {
    std::string_view kind = model::SpanKindShortName(b.kind[row]);
    if (kind.empty()) kind = "unspecified";
    if (EqualsIgnoreCase(kind, value)) return true;
  } else if (key == "otel.status_code") {
    std::string_view code = model::StatusCodeName(b.status_code[row]);
    code.remove_prefix(sizeof("STATUS_CODE_") - 1);
    if (EqualsIgnoreCase(code, value)) return true;
  }
  if (AttributeMatches(b, b.span_attributes[row], key, value)) return true;
  const model::Scope& scope = b.scopes[b.scope[row]];
  return AttributeMatches(b, b.resources[scope.resource].attributes, key, value);
}

}  // namespace

bool SpanMatches(const SpanBatch& b, uint32_t row, const TraceQuery& q) {
  if (!q.service.empty() && ServiceOf(b, row) != q.service) return false;
  if (!q.operation.empty() && b.name[row] != q.operation) return false;
  if (q.kind && b.kind[row] != *q.kind) return false;
  const uint64_t start = b.start_unix_nano[row];
  if (start < q.start_min_nano || start > q.start_max_nano) return false;
  const uint64_t duration = b.duration_nano(row);
  if (duration < q.min_duration_nano || duration > q.max_duration_nano) return false;
  for (const auto& [key, value] : q.tags) {
    if (!TagMatches(b, row, key, value)) return false;
  }
  return true;
}

namespace {

// The batch's time range and distinct services, for pruning.
void Summarise(const SpanBatch& batch, uint64_t* min_start, uint64_t* max_start,
               std::vector<std::string>* services) {
  *min_start = std::numeric_limits<uint64_t>::max();
  *max_start = 0;
  absl::flat_hash_set<absl::string_view> distinct;
  for (uint32_t row = 0; row < batch.size(); ++row) {
    *min_start = std::min(*min_start, batch.start_unix_nano[row]);
    *max_start = std::max(*max_start, batch.start_unix_nano[row]);
    distinct.insert(AbslView(ServiceOf(batch, row)));
  }
  for (absl::string_view service : distinct) services->emplace_back(service);
}

}  // namespace

void Head::Append(std::shared_ptr<const SpanBatch> batch, uint64_t epoch) {
  if (batch->empty()) return;
  BatchMeta meta;
  Summarise(*batch, &meta.min_start, &meta.max_start, &meta.services);
  meta.epoch = epoch;
  meta.appended = std::chrono::steady_clock::now();
  const size_t memory = batch->MemoryBytes();
  meta.batch = std::move(batch);
  absl::MutexLock lock(&mu_);
  IndexLocked(std::move(meta), memory);
}

void Head::IndexLocked(BatchMeta meta, size_t memory) {
  const SpanBatch& batch = *meta.batch;
  // Distinct (service, operation, kind) of the batch, so the shared map sees
  // each once, not once per span.
  absl::flat_hash_set<OpKey> ops;
  for (uint32_t row = 0; row < batch.size(); ++row) {
    ops.insert({ServiceOf(batch, row), batch.name[row], batch.kind[row]});
  }
  const uint32_t index = static_cast<uint32_t>(batches_.size());
  traces_.reserve(traces_.size() + batch.size() / 4);
  for (uint32_t row = 0; row < batch.size(); ++row) {
    traces_[batch.trace_id[row]].spans.push_back({index, row});
  }
  for (const OpKey& op : ops) {
    auto it = operations_.find(std::string(op.service));
    if (it == operations_.end()) it = operations_.try_emplace(std::string(op.service)).first;
    std::pair<std::string, uint8_t> key(op.name, static_cast<uint8_t>(op.kind));
    it->second.insert(std::move(key));
  }
  spans_ += batch.size();
  memory_bytes_.fetch_add(memory, std::memory_order_relaxed);
  batches_.push_back(std::move(meta));
}

std::vector<std::shared_ptr<const SpanBatch>> Head::BatchesThrough(uint64_t epoch) const {
  std::vector<std::shared_ptr<const SpanBatch>> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const BatchMeta& meta : batches_) {
    if (meta.epoch <= epoch) out.push_back(meta.batch);
  }
  return out;
}

void Head::DropThrough(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  std::vector<BatchMeta> keep;
  for (BatchMeta& meta : batches_) {
    if (meta.epoch > epoch) keep.push_back(std::move(meta));
  }
  // Rebuild the indexes from what stays (the batches that arrived while the
  // block was written: few).
  batches_.clear();
  traces_.clear();
  operations_.clear();
  spans_ = 0;
  memory_bytes_.store(0, std::memory_order_relaxed);
  for (BatchMeta& meta : keep) {
    const size_t memory = meta.batch->MemoryBytes();
    IndexLocked(std::move(meta), memory);
  }
}

std::optional<std::chrono::steady_clock::time_point> Head::OldestAppend() const {
  absl::ReaderMutexLock lock(&mu_);
  if (batches_.empty()) return std::nullopt;
  return batches_.front().appended;
}

absl::StatusOr<std::vector<SpanRef>> Head::GetTrace(const TraceId& trace_id) const {
  std::vector<SpanRef> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = traces_.find(trace_id);
    if (it == traces_.end()) return out;
    out.reserve(it->second.spans.size());
    for (const SpanLoc& loc : it->second.spans) {
      out.push_back({batches_[loc.batch].batch, loc.row});
    }
  }
  // A span sent twice (a client retry) is kept once: the first copy wins.
  // The kind is part of the key because Zipkin's shared spans give a client
  // and its server the same id.
  absl::flat_hash_set<std::pair<model::SpanId, SpanKind>> seen;
  std::erase_if(out, [&seen](const SpanRef& r) {
    return !seen.insert({r.batch->span_id[r.row], r.batch->kind[r.row]}).second;
  });
  std::stable_sort(out.begin(), out.end(), [](const SpanRef& a, const SpanRef& b) {
    return a.batch->start_unix_nano[a.row] < b.batch->start_unix_nano[b.row];
  });
  return out;
}

absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> Head::FindTraces(const TraceQuery& query) const {
  // Candidates are collected newest batch first; within the limit the result
  // is ordered by the newest matching span of each trace.
  absl::flat_hash_map<TraceId, uint64_t> found;
  std::vector<std::shared_ptr<const SpanBatch>> snapshot;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (size_t i = batches_.size(); i-- > 0;) {
      const BatchMeta& meta = batches_[i];
      if (meta.max_start < query.start_min_nano || meta.min_start > query.start_max_nano) continue;
      if (!query.service.empty() && std::find(meta.services.begin(), meta.services.end(),
                                              query.service) == meta.services.end()) {
        continue;
      }
      snapshot.push_back(meta.batch);
    }
  }
  // Batches arrive roughly in time order, so scanning newest first and
  // stopping well past the limit gives the newest traces without a full scan.
  const size_t enough = query.limit == 0 ? std::numeric_limits<size_t>::max() : query.limit;
  for (const auto& batch : snapshot) {
    for (uint32_t row = 0; row < batch->size(); ++row) {
      if (!SpanMatches(*batch, row, query)) continue;
      uint64_t& newest = found[batch->trace_id[row]];
      newest = std::max(newest, batch->start_unix_nano[row]);
    }
    if (found.size() >= 2 * enough) break;
  }
  std::vector<std::pair<uint64_t, TraceId>> ordered;
  ordered.reserve(found.size());
  for (const auto& [id, start] : found) ordered.emplace_back(start, id);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  if (ordered.size() > enough) ordered.resize(enough);
  return ordered;
}

absl::StatusOr<std::vector<std::string>> Head::Services() const {
  std::vector<std::string> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    out.reserve(operations_.size());
    for (const auto& [service, ops] : operations_) out.push_back(service);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<Operation>> Head::Operations(std::string_view service,
                                        std::optional<SpanKind> kind) const {
  std::vector<Operation> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = operations_.find(std::string(service));
    if (it == operations_.end()) return out;
    for (const auto& [name, k] : it->second) {
      if (kind && static_cast<uint8_t>(*kind) != k) continue;
      out.push_back({name, static_cast<SpanKind>(k)});
    }
  }
  std::sort(out.begin(), out.end(), [](const Operation& a, const Operation& b) {
    return a.name != b.name ? a.name < b.name : a.kind < b.kind;
  });
  return out;
}

absl::StatusOr<std::vector<Dependency>> Head::Dependencies(uint64_t start_nano, uint64_t end_nano) const {
  // Map every span to its service per trace, then count parent->child pairs
  // that cross a service boundary.
  std::vector<std::shared_ptr<const SpanBatch>> snapshot;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const BatchMeta& meta : batches_) {
      if (meta.max_start < start_nano || meta.min_start > end_nano) continue;
      snapshot.push_back(meta.batch);
    }
  }
  absl::flat_hash_map<SpanKey, std::string_view> service_of;
  for (const auto& batch : snapshot) {
    for (uint32_t row = 0; row < batch->size(); ++row) {
      service_of.emplace(SpanKey{batch->trace_id[row], batch->span_id[row]},
                         ServiceOf(*batch, row));
    }
  }
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, uint64_t> edges;
  for (const auto& batch : snapshot) {
    for (uint32_t row = 0; row < batch->size(); ++row) {
      const uint64_t start = batch->start_unix_nano[row];
      if (start < start_nano || start > end_nano) continue;
      if (model::IsZero(batch->parent_span_id[row])) continue;
      auto it = service_of.find(SpanKey{batch->trace_id[row], batch->parent_span_id[row]});
      if (it == service_of.end()) continue;
      std::string_view child = ServiceOf(*batch, row);
      if (it->second == child) continue;
      ++edges[{it->second, child}];
    }
  }
  std::vector<Dependency> out;
  out.reserve(edges.size());
  for (const auto& [edge, count] : edges) {
    out.push_back({std::string(edge.first), std::string(edge.second), count});
  }
  std::sort(out.begin(), out.end(), [](const Dependency& a, const Dependency& b) {
    return a.parent != b.parent ? a.parent < b.parent : a.child < b.child;
  });
  return out;
}

HeadStats Head::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  return {batches_.size(), spans_, traces_.size(), memory_bytes()};
}

}  // namespace ariadne::store
