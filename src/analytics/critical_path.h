// The critical path of a trace: the chain of spans that determined its
// end-to-end latency, and each span's self time.
//
// Walking back from the root's end: the child that finished last (before the
// current point) was being waited for, so it is on the path, recursively;
// before that child started, the parent itself (or an earlier child) was.
// Time on the path not covered by any child is the parent's own. Children
// are first made to fit inside their parent, which handles
//   - asynchronous children that outlive their parent (cut at its end),
//   - clock skew between services (a child that starts before its parent is
//     cut at the parent's start; one entirely outside is dropped),
//   - parallel fan-out (only the last to finish is waited for; the others
//     overlap it and are not on the path).
// This is the algorithm of Jaeger's critical path (Uber's CRISP), computed
// once on the server.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "model/span_batch.h"

namespace ariadne::analytics {

// A span as the algorithm needs it; `parent` indexes the same list (-1:
// none or not in the trace).
struct PathSpan {
  uint64_t start = 0;
  uint64_t end = 0;
  int32_t parent = -1;
};

// One stretch of the critical path: span `span` was what the trace waited
// for during [start, end).
struct PathSegment {
  uint32_t span = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  friend bool operator==(const PathSegment&, const PathSegment&) = default;
};

// The critical path from `root` (the trace's root span, usually the one
// without a parent that ends last), as segments in time order covering the
// root's [start, end) exactly.
std::vector<PathSegment> CriticalPath(std::span<const PathSpan> spans, uint32_t root);

// Each span's self time: its duration minus the union of its children's
// intervals (after fitting them inside it).
std::vector<uint64_t> SelfTimes(std::span<const PathSpan> spans);

// The root to use for a trace: among spans without a parent in the trace,
// the one that ends last (ties: the earliest start, then the lowest index).
// -1 for an empty trace.
int32_t PickRoot(std::span<const PathSpan> spans);

// PathSpans for a trace's spans (GetTrace's result), parents linked by id.
std::vector<PathSpan> ToPathSpans(std::span<const model::SpanRef> trace);

}  // namespace ariadne::analytics
