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

// Every span's fitted children, grouped by parent (children of span i are
// fitted[offset[i], offset[i + 1])): two flat arrays, not a vector per span.
struct Children {
  std::vector<uint32_t> offset;
  std::vector<Fitted> fitted;
  std::span<const Fitted> of(uint32_t i) const {
    return {fitted.data() + offset[i], fitted.data() + offset[i + 1]};
  }
};

Children FitChildren(std::span<const PathSpan> spans) {
  Children c;
  const size_t n = spans.size();
  c.offset.assign(n + 1, 0);
  auto fit = [&](uint32_t i, Fitted* out) {
    const int32_t p = spans[i].parent;
    if (p < 0 || static_cast<size_t>(p) >= n || static_cast<uint32_t>(p) == i) return false;
    const PathSpan& parent = spans[p];
    const uint64_t start = std::max(spans[i].start, parent.start);
    const uint64_t end = std::min(std::max(spans[i].end, spans[i].start), parent.end);
    if (start >= end) return false;  // entirely outside its parent (or empty)
    *out = {i, start, end};
    return true;
  };
  Fitted f;
  for (uint32_t i = 0; i < n; ++i) {
    if (fit(i, &f)) ++c.offset[static_cast<size_t>(spans[i].parent) + 1];
  }
  for (size_t i = 0; i < n; ++i) c.offset[i + 1] += c.offset[i];
  c.fitted.resize(c.offset[n]);
  std::vector<uint32_t> next(c.offset.begin(), c.offset.end() - 1);
  for (uint32_t i = 0; i < n; ++i) {
    if (fit(i, &f)) c.fitted[next[static_cast<size_t>(spans[i].parent)]++] = f;
  }
  return c;
}

// Appends the segments of `span` within [start, end) to `out`, LATEST FIRST.
// `scratch` is a stack of children being walked (indices, since deeper calls
// grow it).
void Walk(const Children& children, uint32_t span, uint64_t start, uint64_t end, int depth,
          std::vector<Fitted>* scratch, std::vector<PathSegment>* out) {
  // Children by end, latest first; walk back from `end`.
  const size_t base = scratch->size();
  for (const Fitted& c : children.of(span)) {
    const uint64_t s = std::max(c.start, start);
    const uint64_t e = std::min(c.end, end);
    if (s < e) scratch->push_back({c.span, s, e});
  }
  std::sort(scratch->begin() + static_cast<ptrdiff_t>(base), scratch->end(),
            [](const Fitted& a, const Fitted& b) {
              return a.end != b.end ? a.end > b.end : a.span < b.span;
            });
  const size_t count = scratch->size() - base;
  uint64_t cursor = end;
  for (size_t k = 0; k < count; ++k) {
    const Fitted c = (*scratch)[base + k];
    if (cursor <= start) break;
    if (c.end > cursor) continue;  // overlaps what is already on the path
    if (c.end < cursor) out->push_back({span, c.end, cursor});  // the parent's own time
    // The child's part of the path, recursively (bounded depth: a parent
    // cycle cannot recurse forever).
    if (depth < 10000) {
      Walk(children, c.span, c.start, c.end, depth + 1, scratch, out);
    } else {
      out->push_back({c.span, c.start, c.end});
    }
    cursor = c.start;
  }
  if (cursor > start) out->push_back({span, start, cursor});
  scratch->resize(base);
}

}  // namespace

std::vector<PathSegment> CriticalPath(std::span<const PathSpan> spans, uint32_t root) {
  std::vector<PathSegment> out;
  if (root >= spans.size()) return out;
  const PathSpan& r = spans[root];
  if (r.end <= r.start) return out;
  const Children children = FitChildren(spans);
  std::vector<Fitted> scratch;
  Walk(children, root, r.start, r.end, 0, &scratch, &out);
  std::reverse(out.begin(), out.end());
  // Merge adjacent segments of the same span.
  size_t kept = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (kept > 0 && out[kept - 1].span == out[i].span && out[kept - 1].end == out[i].start) {
      out[kept - 1].end = out[i].end;
    } else {
      out[kept++] = out[i];
    }
  }
  out.resize(kept);
  return out;
}

std::vector<uint64_t> SelfTimes(std::span<const PathSpan> spans) {
  const Children children = FitChildren(spans);
  std::vector<uint64_t> self(spans.size(), 0);
  std::vector<std::pair<uint64_t, uint64_t>> iv;
  for (uint32_t i = 0; i < spans.size(); ++i) {
    const uint64_t duration = spans[i].end > spans[i].start ? spans[i].end - spans[i].start : 0;
    iv.clear();
    for (const Fitted& c : children.of(i)) iv.emplace_back(c.start, c.end);
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
