#include "store/head.h"

#include <gtest/gtest.h>

namespace ariadne::store {
namespace {

// The answer of a backend that must answer (the head, the embedded store).
template <typename T>
T Ok(absl::StatusOr<T> answer) {
  EXPECT_TRUE(answer.ok()) << answer.status();
  return *std::move(answer);
}

using model::SpanBatch;
using model::SpanKind;

model::TraceId Tid(uint8_t n) {
  model::TraceId id{};
  id[15] = n;
  return id;
}
model::SpanId Sid(uint8_t n) {
  model::SpanId id{};
  id[7] = n;
  return id;
}

// Adds a span to `b` under a resource with the given service.
void AddSpan(SpanBatch* b, std::string_view service, uint8_t trace, uint8_t span, uint8_t parent,
             std::string_view name, uint64_t start, uint64_t duration,
             SpanKind kind = SpanKind::kServer) {
  uint32_t resource = 0;
  for (; resource < b->resources.size(); ++resource) {
    if (b->resources[resource].service_name == service) break;
  }
  if (resource == b->resources.size()) {
    model::Resource r;
    r.service_name = b->Copy(service);
    r.attributes = {static_cast<uint32_t>(b->attributes.size()), 1};
    b->attributes.push_back({"service.name", model::AnyValue::String(r.service_name)});
    b->resources.push_back(r);
    model::Scope s;
    s.resource = resource;
    b->scopes.push_back(s);
  }
  uint32_t row = b->AddSpan();
  b->trace_id[row] = Tid(trace);
  b->span_id[row] = Sid(span);
  if (parent) b->parent_span_id[row] = Sid(parent);
  b->name[row] = b->Copy(name);
  b->kind[row] = kind;
  b->start_unix_nano[row] = start;
  b->end_unix_nano[row] = start + duration;
  b->scope[row] = resource;  // one scope per resource, same index
}

TEST(HeadTest, TraceByIdServicesOperations) {
  Head head;
  auto b = std::make_shared<SpanBatch>();
  AddSpan(b.get(), "frontend", 1, 1, 0, "GET /", 1000, 500);
  AddSpan(b.get(), "cart", 1, 2, 1, "GetCart", 1100, 100, SpanKind::kClient);
  AddSpan(b.get(), "cart", 2, 3, 0, "AddItem", 5000, 50);
  head.Append(b);

  auto trace = Ok(head.GetTrace(Tid(1)));
  ASSERT_EQ(trace.size(), 2u);
  EXPECT_EQ(trace[0].batch->name[trace[0].row], "GET /");
  EXPECT_TRUE(Ok(head.GetTrace(Tid(9))).empty());

  EXPECT_EQ(Ok(head.Services()), (std::vector<std::string>{"cart", "frontend"}));
  auto ops = Ok(head.Operations("cart", std::nullopt));
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].name, "AddItem");
  EXPECT_EQ(Ok(head.Operations("cart", SpanKind::kClient)).size(), 1u);
  EXPECT_EQ(head.stats().spans, 3u);
  EXPECT_EQ(head.stats().traces, 2u);
}

TEST(HeadTest, DuplicateSpansAreReturnedOnce) {
  Head head;
  for (int i = 0; i < 2; ++i) {
    auto b = std::make_shared<SpanBatch>();
    AddSpan(b.get(), "svc", 1, 1, 0, "op", 1000, 10);
    head.Append(b);
  }
  EXPECT_EQ(Ok(head.GetTrace(Tid(1))).size(), 1u);
}

TEST(HeadTest, SearchFiltersAndOrdersNewestFirst) {
  Head head;
  auto b = std::make_shared<SpanBatch>();
  AddSpan(b.get(), "api", 1, 1, 0, "GET", 1000, 100);
  AddSpan(b.get(), "api", 2, 2, 0, "GET", 3000, 900);
  AddSpan(b.get(), "api", 3, 3, 0, "POST", 2000, 500);
  AddSpan(b.get(), "db", 4, 4, 0, "query", 4000, 5);
  head.Append(b);

  TraceQuery q;
  q.service = "api";
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(2), Tid(3), Tid(1)}));
  q.operation = "GET";
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(2), Tid(1)}));
  q.min_duration_nano = 200;
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(2)}));
  q = TraceQuery{};
  q.start_min_nano = 1500;
  q.start_max_nano = 3500;
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(2), Tid(3)}));
  q = TraceQuery{};
  q.limit = 1;
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(4)}));
}

TEST(HeadTest, SearchByTagsOnSpanResourceStatusAndKind) {
  Head head;
  auto b = std::make_shared<SpanBatch>();
  AddSpan(b.get(), "api", 1, 1, 0, "GET", 1000, 100);
  AddSpan(b.get(), "api", 2, 2, 0, "GET", 2000, 100, SpanKind::kClient);
  b->span_attributes[0] = {static_cast<uint32_t>(b->attributes.size()), 2};
  b->attributes.push_back({"http.method", model::AnyValue::String("GET")});
  b->attributes.push_back({"http.status_code", model::AnyValue::Int(500)});
  b->status_code[1] = model::StatusCode::kError;
  head.Append(b);

  TraceQuery q;
  q.tags = {{"http.status_code", "500"}, {"http.method", "GET"}};
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(1)}));
  q.tags = {{"error", "true"}};
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(2)}));
  q.tags = {{"span.kind", "client"}};
  EXPECT_EQ(Ok(head.FindTraceIds(q)), (std::vector<model::TraceId>{Tid(2)}));
  q.tags = {{"service.name", "api"}};
  EXPECT_EQ(Ok(head.FindTraceIds(q)).size(), 2u);
  q.tags = {{"http.method", "POST"}};
  EXPECT_TRUE(Ok(head.FindTraceIds(q)).empty());
}

TEST(HeadTest, DependenciesCrossServiceBoundaries) {
  Head head;
  auto b = std::make_shared<SpanBatch>();
  AddSpan(b.get(), "frontend", 1, 1, 0, "GET", 1000, 100);
  AddSpan(b.get(), "frontend", 1, 2, 1, "call cart", 1010, 50, SpanKind::kClient);
  AddSpan(b.get(), "cart", 1, 3, 2, "GetCart", 1020, 30);
  AddSpan(b.get(), "frontend", 2, 4, 0, "GET", 2000, 100);
  AddSpan(b.get(), "cart", 2, 5, 4, "GetCart", 2020, 30);
  head.Append(b);
  auto deps = Ok(head.Dependencies(0, 10000));
  ASSERT_EQ(deps.size(), 1u);
  EXPECT_EQ(deps[0].parent, "frontend");
  EXPECT_EQ(deps[0].child, "cart");
  EXPECT_EQ(deps[0].call_count, 2u);
  EXPECT_TRUE(Ok(head.Dependencies(5000, 10000)).empty());
}

}  // namespace
}  // namespace ariadne::store
