#include "clickhouse/backend.h"

#include <algorithm>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "clickhouse/response.h"
#include "clickhouse/schema.h"
#include "common/strings.h"
#include "decode/decode.h"
#include "model/value_format.h"

namespace ariadne::clickhouse {

using model::SpanRef;
using model::TraceId;

namespace {

// Separates the parts of an identity key.
const absl::string_view kNul("\0", 1);

// A resource's or scope's identity: everything OTLP says about it.
void AppendAttributesKey(const model::SpanBatch& b, model::Range attrs, std::string* key) {
  for (uint32_t i = 0; i < attrs.count; ++i) {
    const model::KeyValue& kv = b.attributes[attrs.first + i];
    absl::StrAppend(key, AbslView(kv.key), kNul,
                    static_cast<int>(kv.value.type), ":", model::ValueToString(b, kv.value),
                    kNul);
  }
}

// Each stored span carries its own copy of its resource and scope, so the
// decoded trace has one resource per span. Spans whose resources (scopes)
// are equal are made to share the first, as in the batch they came in:
// encoders then group them as the head's answer does (one Jaeger process
// per resource, one OTLP ResourceSpans). The copies stay, unreferenced.
void ShareResourcesAndScopes(model::SpanBatch* b) {
  absl::flat_hash_map<std::string, uint32_t> resources;
  std::vector<uint32_t> resource_of(b->resources.size());
  for (uint32_t i = 0; i < b->resources.size(); ++i) {
    const model::Resource& r = b->resources[i];
    std::string key = absl::StrCat(AbslView(r.schema_url), kNul,
                                   r.dropped_attributes_count, ";");
    AppendAttributesKey(*b, r.attributes, &key);
    resource_of[i] = resources.try_emplace(std::move(key), i).first->second;
  }
  absl::flat_hash_map<std::string, uint32_t> scopes;
  std::vector<uint32_t> scope_of(b->scopes.size());
  for (uint32_t i = 0; i < b->scopes.size(); ++i) {
    model::Scope& sc = b->scopes[i];
    sc.resource = resource_of[sc.resource];
    std::string key = absl::StrCat(sc.resource, ";", AbslView(sc.name), kNul,
                                   AbslView(sc.version), kNul,
                                   AbslView(sc.schema_url), kNul,
                                   sc.dropped_attributes_count, ";");
    AppendAttributesKey(*b, sc.attributes, &key);
    scope_of[i] = scopes.try_emplace(std::move(key), i).first->second;
  }
  for (uint32_t& scope : b->scope) scope = scope_of[scope];
}

}  // namespace

absl::StatusOr<std::vector<SpanRef>> ClickHouseBackend::GetTrace(const TraceId& trace_id) const {
  std::vector<SpanRef> out;
  // The days the trace's spans started on, then those days' partitions only.
  auto range = client_->Query(TraceRangeSql(database_, trace_id));
  if (!range.ok()) return range.status();
  auto days = ParseTraceRange(*range);
  if (!days.ok()) return days.status();
  if (days->rows == 0) return out;
  auto blobs = client_->Query(
      TraceSpansSql(database_, trace_id, days->first_day, days->last_day));
  if (!blobs.ok()) return blobs.status();
  // Each row is a whole ExportTraceServiceRequest of one span; protobuf
  // messages concatenated are one message with the repeated fields joined,
  // so the rows decode as one request.
  auto request = ParseTraceSpans(*blobs);
  if (!request.ok()) return request.status();
  if (request->empty()) return out;
  decode::Limits unlimited;  // the spans passed ingest's limits already
  unlimited.max_attributes_per_span = std::numeric_limits<uint32_t>::max();
  unlimited.max_events_per_span = std::numeric_limits<uint32_t>::max();
  unlimited.max_links_per_span = std::numeric_limits<uint32_t>::max();
  unlimited.max_attribute_value_bytes = std::numeric_limits<uint32_t>::max();
  unlimited.max_value_depth = std::numeric_limits<uint32_t>::max();
  decode::DecodeStats stats;
  auto batch = decode::DecodeOtlpProto(*std::move(request), unlimited, &stats);
  if (!batch.ok()) {
    return absl::InternalError(absl::StrCat("clickhouse: a stored span of trace ",
                                            model::ToHex(trace_id),
                                            " does not decode: ", batch.status().message()));
  }
  ShareResourcesAndScopes(&*batch);
  auto shared = std::make_shared<const model::SpanBatch>(*std::move(batch));
  out.reserve(shared->size());
  // As the head: a span kept once (span id and kind), then by start time.
  absl::flat_hash_set<std::pair<model::SpanId, model::SpanKind>> seen;
  for (uint32_t row = 0; row < shared->size(); ++row) {
    if (shared->trace_id[row] != trace_id) continue;
    if (!seen.insert({shared->span_id[row], shared->kind[row]}).second) continue;
    out.push_back({shared, row});
  }
  std::stable_sort(out.begin(), out.end(), [](const SpanRef& a, const SpanRef& b) {
    return a.batch->start_unix_nano[a.row] < b.batch->start_unix_nano[b.row];
  });
  return out;
}

absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> ClickHouseBackend::FindTraces(
    const store::TraceQuery& query) const {
  auto answer = client_->Query(FindTracesSql(database_, query));
  if (!answer.ok()) return answer.status();
  return ParseFindTraces(*answer);
}

absl::StatusOr<std::vector<std::string>> ClickHouseBackend::Services() const {
  auto answer = client_->Query(ServicesSql(database_));
  if (!answer.ok()) return answer.status();
  auto out = ParseServices(*answer);
  if (!out.ok()) return out.status();
  std::sort(out->begin(), out->end());  // byte order, as the other stores
  return out;
}

absl::StatusOr<std::vector<store::Operation>> ClickHouseBackend::Operations(
    std::string_view service, std::optional<model::SpanKind> kind) const {
  auto answer = client_->Query(OperationsSql(database_, service, kind));
  if (!answer.ok()) return answer.status();
  auto out = ParseOperations(*answer);
  if (!out.ok()) return out.status();
  std::sort(out->begin(), out->end(), [](const store::Operation& a, const store::Operation& b) {
    return a.name != b.name ? a.name < b.name : a.kind < b.kind;
  });
  return out;
}

absl::StatusOr<std::vector<store::Dependency>> ClickHouseBackend::Dependencies(
    uint64_t start_nano, uint64_t end_nano) const {
  std::vector<store::Dependency> out;
  if (start_nano > end_nano) return out;
  auto answer = client_->Query(DependenciesSql(database_, start_nano, end_nano));
  if (!answer.ok()) return answer.status();
  auto rows = ParseDependencies(*answer);
  if (!rows.ok()) return rows.status();
  out = *std::move(rows);
  std::sort(out.begin(), out.end(), [](const store::Dependency& a, const store::Dependency& b) {
    return a.parent != b.parent ? a.parent < b.parent : a.child < b.child;
  });
  return out;
}

}  // namespace ariadne::clickhouse
