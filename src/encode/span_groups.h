// Grouping of spans by resource and scope, shared by the OTLP encoders.
//
// OTLP nests spans as ResourceSpans -> ScopeSpans -> Span. Spans handed to an
// encoder may come from many batches in any order; GroupSpans puts them in
// the order the encoders write them:
//  - one resource group per distinct (batch, resource index), in order of
//    first appearance;
//  - within it, one scope group per distinct (batch, scope index), in order
//    of first appearance;
//  - within it, the spans in their original relative order.
//
// Threading: pure functions; call them from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/span_batch.h"

namespace ariadne::encode::internal {

struct SpanGroups {
  struct Span {
    const model::SpanBatch* batch = nullptr;
    uint32_t row = 0;
  };
  struct ScopeGroup {
    const model::SpanBatch* batch = nullptr;
    uint32_t scope = 0;       // index into batch->scopes
    uint32_t first_span = 0;  // spans[first_span, first_span + span_count)
    uint32_t span_count = 0;
  };
  struct ResourceGroup {
    const model::SpanBatch* batch = nullptr;
    uint32_t resource = 0;     // index into batch->resources
    uint32_t first_scope = 0;  // scopes[first_scope, first_scope + scope_count)
    uint32_t scope_count = 0;
  };

  std::vector<Span> spans;
  std::vector<ScopeGroup> scopes;
  std::vector<ResourceGroup> resources;
};

// Groups the referenced spans. Null batches are skipped.
SpanGroups GroupSpans(std::span<const model::SpanRef> spans);
// Groups every span of `batch`.
SpanGroups GroupSpans(const model::SpanBatch& batch);

}  // namespace ariadne::encode::internal
