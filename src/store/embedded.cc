#include "store/embedded.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace ariadne::store {

using model::SpanRef;
using model::TraceId;

absl::StatusOr<std::vector<SpanRef>> EmbeddedStore::GetTrace(const TraceId& trace_id) const {
  std::vector<SpanRef> out = *head_->GetTrace(trace_id);  // the head always answers
  for (const auto& block : blocks_->Snapshot()) {
    if (!block->MayContain(trace_id)) continue;
    auto batch = block->GetTrace(trace_id);
    if (!batch.ok()) {
      blocks_->MarkDamaged(*block, batch.status());
      continue;
    }
    for (uint32_t row = 0; row < (*batch)->size(); ++row) out.push_back({*batch, row});
  }
  // As the head: a span kept once (the head's copy first), then by start.
  absl::flat_hash_set<std::pair<model::SpanId, model::SpanKind>> seen;
  std::erase_if(out, [&seen](const SpanRef& r) {
    return !seen.insert({r.batch->span_id[r.row], r.batch->kind[r.row]}).second;
  });
  std::stable_sort(out.begin(), out.end(), [](const SpanRef& a, const SpanRef& b) {
    return a.batch->start_unix_nano[a.row] < b.batch->start_unix_nano[b.row];
  });
  return out;
}

absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> EmbeddedStore::FindTraces(const TraceQuery& query) const {
  const size_t limit = query.limit == 0 ? std::numeric_limits<size_t>::max() : query.limit;
  absl::flat_hash_map<TraceId, uint64_t> found;
  const auto in_head = *head_->FindTraces(query);  // the head always answers
  for (const auto& [start, id] : in_head) {
    uint64_t& s = found[id];
    s = std::max(s, start);
  }
  // The `limit`-th newest start found so far: an older block cannot improve it.
  auto kth_newest = [&]() -> uint64_t {
    if (found.size() < limit) return 0;
    std::vector<uint64_t> starts;
    starts.reserve(found.size());
    for (const auto& [id, s] : found) starts.push_back(s);
    std::nth_element(starts.begin(), starts.begin() + static_cast<std::ptrdiff_t>(limit - 1),
                     starts.end(), std::greater<>());
    return starts[limit - 1];
  };
  for (const auto& block : blocks_->Snapshot()) {  // newest first
    const BlockMeta& m = block->meta();
    if (m.max_start_nano < query.start_min_nano || m.min_start_nano > query.start_max_nano) continue;
    if (found.size() >= limit && m.max_start_nano < kth_newest()) break;
    auto matches = block->FindTraces(query);
    if (!matches.ok()) {
      blocks_->MarkDamaged(*block, matches.status());
      continue;
    }
    for (const auto& [start, id] : *matches) {
      uint64_t& s = found[id];
      s = std::max(s, start);
    }
  }
  std::vector<std::pair<uint64_t, TraceId>> out;
  out.reserve(found.size());
  for (const auto& [id, start] : found) out.emplace_back(start, id);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

absl::StatusOr<std::vector<std::string>> EmbeddedStore::Services() const {
  std::set<std::string> all;
  std::vector<std::string> in_head = *head_->Services();
  for (std::string& s : in_head) all.insert(std::move(s));
  for (const auto& block : blocks_->Snapshot()) {
    for (const std::string& s : block->meta().services) all.insert(s);
  }
  return std::vector<std::string>(all.begin(), all.end());
}

absl::StatusOr<std::vector<Operation>> EmbeddedStore::Operations(std::string_view service,
                                                 std::optional<model::SpanKind> kind) const {
  std::vector<Operation> out = *head_->Operations(service, kind);
  for (const auto& block : blocks_->Snapshot()) {
    for (const auto& [svc, op] : block->meta().operations) {
      if (svc != service || (kind && op.kind != *kind)) continue;
      out.push_back(op);
    }
  }
  std::sort(out.begin(), out.end(), [](const Operation& a, const Operation& b) {
    return a.name != b.name ? a.name < b.name : a.kind < b.kind;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<std::vector<Dependency>> EmbeddedStore::Dependencies(uint64_t start_nano, uint64_t end_nano) const {
  // Edges are counted where both spans are: a parent in a block and its child
  // still in the head (a trace cut across a block boundary) is not counted.
  std::map<std::pair<std::string, std::string>, uint64_t> edges;
  const std::vector<Dependency> in_head = *head_->Dependencies(start_nano, end_nano);
  for (const Dependency& d : in_head) {
    edges[{d.parent, d.child}] += d.call_count;
  }
  for (const auto& block : blocks_->Snapshot()) {
    const BlockMeta& m = block->meta();
    if (m.max_start_nano < start_nano || m.min_start_nano > end_nano) continue;
    auto deps = block->Dependencies(start_nano, end_nano);
    if (!deps.ok()) {
      blocks_->MarkDamaged(*block, deps.status());
      continue;
    }
    for (const Dependency& d : *deps) edges[{d.parent, d.child}] += d.call_count;
  }
  std::vector<Dependency> out;
  for (const auto& [edge, count] : edges) out.push_back({edge.first, edge.second, count});
  return out;
}

}  // namespace ariadne::store
