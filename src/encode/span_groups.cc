#include "encode/span_groups.h"

#include <cassert>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace ariadne::encode::internal {
namespace {

using model::SpanBatch;

// Assigns dense ids to (batch, index) keys in order of first appearance.
// Consecutive lookups of the same key (the common case: spans of one scope
// arrive together) skip the hash map.
class KeyIds {
 public:
  // Returns the id of the key and whether it was new.
  std::pair<uint32_t, bool> Get(const SpanBatch* batch, uint32_t index) {
    if (batch == last_batch_ && index == last_index_) return {last_id_, false};
    auto [it, inserted] =
        ids_.try_emplace(std::make_pair(batch, index), static_cast<uint32_t>(ids_.size()));
    last_batch_ = batch;
    last_index_ = index;
    last_id_ = it->second;
    return {last_id_, inserted};
  }

 private:
  absl::flat_hash_map<std::pair<const SpanBatch*, uint32_t>, uint32_t> ids_;
  const SpanBatch* last_batch_ = nullptr;
  uint32_t last_index_ = 0;
  uint32_t last_id_ = 0;
};

// `span_at(i)` returns the (batch, row) of input span i, or a null batch to
// skip it.
template <typename SpanAt>
SpanGroups Group(size_t n, SpanAt span_at) {
  SpanGroups out;
  KeyIds scope_ids;
  KeyIds resource_ids;
  std::vector<uint32_t> span_scope;  // scope group of each input span
  span_scope.reserve(n);
  // Per scope group, in id order: its resource group and span count.
  std::vector<uint32_t> scope_resource;
  std::vector<uint32_t> scope_spans;
  // Per resource group, in id order: its scope count.
  std::vector<uint32_t> resource_scopes;
  std::vector<SpanGroups::ScopeGroup> scopes_by_id;

  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const SpanGroups::Span s = span_at(i);
    if (s.batch == nullptr) {
      span_scope.push_back(UINT32_MAX);
      continue;
    }
    assert(s.row < s.batch->size());
    const uint32_t scope = s.batch->scope[s.row];
    assert(scope < s.batch->scopes.size());
    auto [scope_id, new_scope] = scope_ids.Get(s.batch, scope);
    if (new_scope) {
      const uint32_t resource = s.batch->scopes[scope].resource;
      assert(resource < s.batch->resources.size());
      auto [resource_id, new_resource] = resource_ids.Get(s.batch, resource);
      if (new_resource) {
        out.resources.push_back({s.batch, resource, 0, 0});
        resource_scopes.push_back(0);
      }
      ++resource_scopes[resource_id];
      scope_resource.push_back(resource_id);
      scope_spans.push_back(0);
      scopes_by_id.push_back({s.batch, scope, 0, 0});
    }
    ++scope_spans[scope_id];
    span_scope.push_back(scope_id);
    ++kept;
  }

  // Resource groups are already in first-appearance order; lay their scope
  // groups out contiguously (a counting sort on the resource id, stable, so
  // scopes keep their first-appearance order within a resource).
  uint32_t next = 0;
  for (size_t r = 0; r < out.resources.size(); ++r) {
    out.resources[r].first_scope = next;
    next += resource_scopes[r];
  }
  std::vector<uint32_t> scope_pos(scopes_by_id.size());
  out.scopes.resize(scopes_by_id.size());
  for (size_t id = 0; id < scopes_by_id.size(); ++id) {
    SpanGroups::ResourceGroup& r = out.resources[scope_resource[id]];
    const uint32_t pos = r.first_scope + r.scope_count++;
    scope_pos[id] = pos;
    out.scopes[pos] = scopes_by_id[id];
    out.scopes[pos].span_count = scope_spans[id];
  }
  // Same for spans within scope groups.
  next = 0;
  for (SpanGroups::ScopeGroup& g : out.scopes) {
    g.first_span = next;
    next += g.span_count;
    g.span_count = 0;
  }
  out.spans.resize(kept);
  for (size_t i = 0; i < n; ++i) {
    if (span_scope[i] == UINT32_MAX) continue;
    SpanGroups::ScopeGroup& g = out.scopes[scope_pos[span_scope[i]]];
    out.spans[g.first_span + g.span_count++] = span_at(i);
  }
  return out;
}

}  // namespace

SpanGroups GroupSpans(std::span<const model::SpanRef> spans) {
  return Group(spans.size(), [spans](size_t i) {
    return SpanGroups::Span{spans[i].batch.get(), spans[i].row};
  });
}

SpanGroups GroupSpans(const model::SpanBatch& batch) {
  return Group(batch.size(), [&batch](size_t i) {
    return SpanGroups::Span{&batch, static_cast<uint32_t>(i)};
  });
}

}  // namespace ariadne::encode::internal
