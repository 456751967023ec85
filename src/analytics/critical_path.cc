#include "analytics/critical_path.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace ariadne::analytics {
namespace {

// A child's interval once made to fit inside its parent, or empty.
struct Fitted {
  uint32_t span;
  uint64_t start;
  uint64_t end;
};

std::vector<std::vector<Fitted>> FitChildren(std::span<const PathSpan> spans) {
  std::vector<std::vector<Fitted>> children(spans.size());
  for (uint32_t i = 0; i < spans.size(); ++i) {
    const int32_t p = spans[i].parent;
    if (p < 0 || static_cast<size_t>(p) >= spans.size() || static_cast<uint32_t>(p) == i) continue;
    const PathSpan& parent = spans[p];
    const uint64_t start = std::max(spans[i].start, parent.start);
    const uint64_t end = std::min(std::max(spans[i].end, spans[i].start), parent.end);
    if (start >= end) continue;  // entirely outside its parent (or empty)
    children[p].push_back({i, start, end});
  }
  return children;
}

void Walk(const std::vector<std::vector<Fitted>>& children, uint32_t span, uint64_t start,
          uint64_t end, int depth, std::vector<PathSegment>* out) {
  // Children by end, latest first; walk back from `end`.
  std::vector<Fitted> kids;
  for (const Fitted& c : children[span]) {
    const uint64_t s = std::max(c.start, start);
    const uint64_t e = std::min(c.end, end);
    if (s < e) kids.push_back({c.span, s, e});
  }
  std::sort(kids.begin(), kids.end(), [](const Fitted& a, const Fitted& b) {
    return a.end != b.end ? a.end > b.end : a.span < b.span;
  });
  std::vector<PathSegment> rev;  // this span's segments, latest first
  uint64_t cursor = end;
  for (const Fitted& c : kids) {
    if (cursor <= start) break;
    if (c.end > cursor) continue;  // overlaps what is already on the path
    if (c.end < cursor) rev.push_back({span, c.end, cursor});  // the parent's own time
    // The child's part of the path, recursively (bounded depth: a parent
    // cycle cannot recurse forever).
    std::vector<PathSegment> inner;
    if (depth < 10000) {
      Walk(children, c.span, c.start, c.end, depth + 1, &inner);
    } else {
      inner.push_back({c.span, c.start, c.end});
    }
    for (auto it = inner.rbegin(); it != inner.rend(); ++it) rev.push_back(*it);
    cursor = c.start;
  }
  if (cursor > start) rev.push_back({span, start, cursor});
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) out->push_back(*it);
}

}  // namespace

std::vector<PathSegment> CriticalPath(std::span<const PathSpan> spans, uint32_t root) {
  std::vector<PathSegment> out;
  if (root >= spans.size()) return out;
  const auto children = FitChildren(spans);
  const PathSpan& r = spans[root];
  if (r.end <= r.start) return out;
  Walk(children, root, r.start, r.end, 0, &out);
  // Merge adjacent segments of the same span.
  std::vector<PathSegment> merged;
  for (const PathSegment& s : out) {
    if (!merged.empty() && merged.back().span == s.span && merged.back().end == s.start) {
      merged.back().end = s.end;
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

std::vector<uint64_t> SelfTimes(std::span<const PathSpan> spans) {
  const auto children = FitChildren(spans);
  std::vector<uint64_t> self(spans.size(), 0);
  for (uint32_t i = 0; i < spans.size(); ++i) {
    const uint64_t duration = spans[i].end > spans[i].start ? spans[i].end - spans[i].start : 0;
    std::vector<std::pair<uint64_t, uint64_t>> iv;
    for (const Fitted& c : children[i]) iv.emplace_back(c.start, c.end);
    std::sort(iv.begin(), iv.end());
    uint64_t covered = 0, cur_s = 0, cur_e = 0;
    bool open = false;
    for (const auto& [s, e] : iv) {
      if (!open || s > cur_e) {
        if (open) covered += cur_e - cur_s;
        cur_s = s;
        cur_e = e;
        open = true;
      } else {
        cur_e = std::max(cur_e, e);
      }
    }
    if (open) covered += cur_e - cur_s;
    self[i] = duration > covered ? duration - covered : 0;
  }
  return self;
}

int32_t PickRoot(std::span<const PathSpan> spans) {
  int32_t best = -1;
  for (uint32_t i = 0; i < spans.size(); ++i) {
    if (spans[i].parent >= 0 && static_cast<size_t>(spans[i].parent) < spans.size()) continue;
    if (best < 0 || spans[i].end > spans[best].end ||
        (spans[i].end == spans[best].end && spans[i].start < spans[best].start)) {
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

std::vector<PathSpan> ToPathSpans(std::span<const model::SpanRef> trace) {
  absl::flat_hash_map<model::SpanId, int32_t> index;
  for (uint32_t i = 0; i < trace.size(); ++i) {
    index.emplace(trace[i].batch->span_id[trace[i].row], static_cast<int32_t>(i));
  }
  std::vector<PathSpan> out(trace.size());
  for (uint32_t i = 0; i < trace.size(); ++i) {
    const model::SpanBatch& b = *trace[i].batch;
    out[i].start = b.start_unix_nano[trace[i].row];
    out[i].end = b.end_unix_nano[trace[i].row];
    const model::SpanId& parent = b.parent_span_id[trace[i].row];
    if (!model::IsZero(parent)) {
      auto it = index.find(parent);
      if (it != index.end()) out[i].parent = it->second;
    }
  }
  return out;
}

}  // namespace ariadne::analytics
