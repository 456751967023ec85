// OTLP/protobuf -> SpanBatch, with protozero.
//
// The batch adopts the body first; every string and bytes field of the batch
// is a view into it, so nothing is copied. The request is walked once,
// top-down:
//
//   ExportTraceServiceRequest.resource_spans (1)
//     ResourceSpans: resource (1), scope_spans (2), schema_url (3),
//                    instrumentation_library_spans (1000, deprecated; read
//                    as scope_spans)
//       ScopeSpans: scope (1), spans (2), schema_url (3)
//         Span: ids, times, attributes, events, links, status, ...
//
// Side tables need each list (a span's attributes, an array's items) to be
// one contiguous block, but a list's elements can nest lists of their own.
// So a message's repeated children are first collected as views on a scratch
// stack, then a block of the right size is allocated and filled; nested lists
// land after it. Fields of a message may come in any order.
//
// Malformed input (truncated, bad varint, wrong wire type for a known field)
// throws from deep inside the walk; DecodeOtlpProto catches it and returns
// InvalidArgument naming the element that was being read. A span that is
// well-formed but invalid (ids, UTF-8, limits) is rolled back and counted.

#include <algorithm>
#include <cstdint>
#include <exception>
#include <protozero/exception.hpp>
#include <protozero/pbf_reader.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "decode/decode.h"
#include "decode/decode_internal.h"
#include "decode/utf8.h"
#include "model/otlp_fields.h"

namespace ariadne::decode {
namespace {

using model::AnyValue;
using model::Range;
using model::SpanBatch;
using model::ValueType;
using protozero::pbf_reader;
using protozero::pbf_wire_type;

// Field numbers: model/otlp_fields.h.
namespace request_field = model::otlp_field::request;
namespace resource_spans_field = model::otlp_field::resource_spans;
namespace resource_field = model::otlp_field::resource;
namespace scope_spans_field = model::otlp_field::scope_spans;
namespace scope_field = model::otlp_field::scope;
namespace span_field = model::otlp_field::span;
namespace event_field = model::otlp_field::event;
namespace link_field = model::otlp_field::link;
namespace status_field = model::otlp_field::status;
namespace key_value_field = model::otlp_field::key_value;
namespace any_value_field = model::otlp_field::any_value;
using model::otlp_field::kListValues;

// A known field arrived with a wire type its declared type cannot have.
struct WireTypeError : std::exception {
  WireTypeError(uint32_t f, pbf_wire_type g, pbf_wire_type w) : field(f), got(g), want(w) {}
  const char* what() const noexcept override { return "wrong wire type"; }
  uint32_t field;
  pbf_wire_type got;
  pbf_wire_type want;
};

std::string_view WireTypeName(pbf_wire_type type) {
  switch (type) {
    case pbf_wire_type::varint:
      return "varint";
    case pbf_wire_type::fixed64:
      return "fixed64";
    case pbf_wire_type::length_delimited:
      return "length-delimited";
    case pbf_wire_type::fixed32:
      return "fixed32";
    default:
      break;
  }
  return "unknown";
}

inline void Expect(const pbf_reader& r, pbf_wire_type want) {
  if (r.wire_type() != want) throw WireTypeError(r.tag(), r.wire_type(), want);
}

// Accessors that check the wire type first (protozero only asserts it).
inline std::string_view View(pbf_reader& r) {
  Expect(r, pbf_wire_type::length_delimited);
  const protozero::data_view v = r.get_view();
  return {v.data(), v.size()};
}
inline uint64_t Varint(pbf_reader& r) {
  Expect(r, pbf_wire_type::varint);
  return r.get_uint64();
}
inline uint64_t Fixed64(pbf_reader& r) {
  Expect(r, pbf_wire_type::fixed64);
  return r.get_fixed64();
}
inline uint32_t Fixed32(pbf_reader& r) {
  Expect(r, pbf_wire_type::fixed32);
  return r.get_fixed32();
}
inline double Double(pbf_reader& r) {
  Expect(r, pbf_wire_type::fixed64);
  return r.get_double();
}
inline void SkipMessage(pbf_reader& r) {
  Expect(r, pbf_wire_type::length_delimited);
  r.skip();
}

model::SpanKind ToSpanKind(uint64_t v) {
  return v <= static_cast<uint64_t>(model::SpanKind::kConsumer) ? static_cast<model::SpanKind>(v)
                                                                : model::SpanKind::kUnspecified;
}

model::StatusCode ToStatusCode(uint64_t v) {
  return v <= static_cast<uint64_t>(model::StatusCode::kError) ? static_cast<model::StatusCode>(v)
                                                               : model::StatusCode::kUnset;
}

// Number of spans in a ScopeSpans message.
int64_t CountSpansOfScope(std::string_view scope_spans) {
  int64_t n = 0;
  pbf_reader r(scope_spans.data(), scope_spans.size());
  while (r.next()) {
    if (r.tag() == scope_spans_field::kSpans) {
      SkipMessage(r);
      ++n;
    } else {
      r.skip();
    }
  }
  return n;
}

// Number of spans in a ResourceSpans message.
int64_t CountSpansOfResource(std::string_view resource_spans) {
  int64_t n = 0;
  pbf_reader r(resource_spans.data(), resource_spans.size());
  while (r.next()) {
    if (r.tag() == resource_spans_field::kScopeSpans ||
        r.tag() == resource_spans_field::kInstrumentationLibrarySpans) {
      n += CountSpansOfScope(View(r));
    } else {
      r.skip();
    }
  }
  return n;
}

// What a request holds, counted in a quick pass over its top-level fields so
// the batch's columns and attribute table are sized once: regrowing them
// copies, and their slack stays allocated for as long as the head keeps the
// batch. Counts what was seen before a malformed part (the real walk reports
// that).
struct ReserveCounts {
  size_t spans = 0;
  size_t attributes = 0;  // of spans and resources; events, links and nested lists add more
};

void CountSpanAttributes(std::string_view span, ReserveCounts* counts) {
  pbf_reader r(span.data(), span.size());
  while (r.next()) {
    if (r.tag() == span_field::kAttributes) ++counts->attributes;
    r.skip();
  }
}

void CountForReserve(std::string_view request, ReserveCounts* counts) {
  try {
    pbf_reader req(request.data(), request.size());
    while (req.next()) {
      if (req.tag() != request_field::kResourceSpans) {
        req.skip();
        continue;
      }
      const std::string_view resource_spans = View(req);
      pbf_reader rs(resource_spans.data(), resource_spans.size());
      while (rs.next()) {
        if (rs.tag() == resource_spans_field::kResource) {
          const std::string_view resource = View(rs);
          pbf_reader res(resource.data(), resource.size());
          while (res.next()) {
            if (res.tag() == resource_field::kAttributes) ++counts->attributes;
            res.skip();
          }
        } else if (rs.tag() == resource_spans_field::kScopeSpans ||
                   rs.tag() == resource_spans_field::kInstrumentationLibrarySpans) {
          const std::string_view scope_spans = View(rs);
          pbf_reader ss(scope_spans.data(), scope_spans.size());
          while (ss.next()) {
            if (ss.tag() == scope_spans_field::kSpans) {
              ++counts->spans;
              CountSpanAttributes(View(ss), counts);
            } else {
              ss.skip();
            }
          }
        } else {
          rs.skip();
        }
      }
    }
  } catch (const std::exception&) {
    // Malformed: the decoder proper finds and reports it.
  }
}

class ProtoDecoder {
 public:
  ProtoDecoder(const Limits& limits, SpanBatch* batch, DecodeStats* stats)
      : limits_(limits),
        max_depth_(std::min(limits.max_value_depth, internal::kMaxSupportedValueDepth)),
        batch_(*batch),
        rejections_(stats) {}

  // Walks the request into the batch. Throws protozero::exception or
  // WireTypeError if the request is malformed; path() then names where.
  void Run(std::string_view request) {
    int64_t index = 0;
    pbf_reader r(request.data(), request.size());
    while (r.next()) {
      if (r.tag() == request_field::kResourceSpans) {
        const int depth = path_.depth();
        path_.Push("resource_spans", index++);
        ResourceSpans(View(r));
        path_.Truncate(depth);
      } else {
        r.skip();
      }
    }
  }

  const internal::Path& path() const { return path_; }

 private:
  void ResourceSpans(std::string_view msg);
  void ScopeSpans(std::string_view msg, uint32_t resource);
  [[nodiscard]] bool Resource(std::string_view msg, model::Resource* out);
  [[nodiscard]] bool Scope(std::string_view msg, model::Scope* out);
  [[nodiscard]] bool Span(std::string_view msg, uint32_t scope);
  void Status(std::string_view msg, std::string_view* message, uint64_t* code);
  [[nodiscard]] bool Event(std::string_view msg, model::Event* out);
  [[nodiscard]] bool Link(std::string_view msg, model::Link* out);
  // Pushes the views of field `field` of `msg` on views_; returns how many.
  size_t CollectViews(std::string_view msg, uint32_t field);
  // Checks the attribute count of `owner` against the limit.
  [[nodiscard]] bool CheckAttributeCount(std::string_view owner, size_t n);
  // Decodes the KeyValue messages views_[base..] into a new block of
  // batch.attributes, then pops them off views_.
  [[nodiscard]] bool KeyValues(size_t base, const char* name, uint32_t depth, Range* out);
  [[nodiscard]] bool KeyValue(std::string_view msg, uint32_t depth, model::KeyValue* out);
  [[nodiscard]] bool Value(std::string_view msg, std::string_view key, uint32_t depth,
                           AnyValue* out);
  [[nodiscard]] bool Reject(std::string_view problem) {
    return rejections_.Note(path_, trace_id_, problem);
  }

  const Limits& limits_;
  const uint32_t max_depth_;
  SpanBatch& batch_;
  internal::Rejections rejections_;
  internal::Path path_;
  std::string_view trace_id_;  // of the span being decoded, once valid
  // Scratch stacks of child messages, reused across spans.
  std::vector<std::string_view> views_;
  std::vector<std::string_view> event_views_;
  std::vector<std::string_view> link_views_;
};

void ProtoDecoder::ResourceSpans(std::string_view msg) {
  namespace f = resource_spans_field;
  // Resource and schema_url first: the scopes refer to the resource.
  std::string_view resource_msg;
  std::string_view schema_url;
  {
    pbf_reader r(msg.data(), msg.size());
    while (r.next()) {
      switch (r.tag()) {
        case f::kResource:
          resource_msg = View(r);
          break;
        case f::kSchemaUrl:
          schema_url = View(r);
          break;
        default:
          r.skip();
          break;
      }
    }
  }
  const internal::TableMark mark = internal::Mark(batch_);
  const int depth = path_.depth();
  model::Resource resource;
  bool ok = true;
  if (!IsValidUtf8(schema_url)) {
    ok = Reject("schema_url is not valid UTF-8");
  } else {
    path_.Push("resource");
    ok = Resource(resource_msg, &resource);
    path_.Truncate(depth);
  }
  if (!ok) {
    internal::Rollback(mark, &batch_);
    views_.clear();
    rejections_.Commit(CountSpansOfResource(msg), "resource");
    return;
  }
  resource.schema_url = schema_url;
  const auto resource_index = static_cast<uint32_t>(batch_.resources.size());
  batch_.resources.push_back(resource);

  int64_t scope_index = 0;
  int64_t library_index = 0;
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    if (r.tag() == f::kScopeSpans) {
      path_.Push("scope_spans", scope_index++);
    } else if (r.tag() == f::kInstrumentationLibrarySpans) {
      path_.Push("instrumentation_library_spans", library_index++);
    } else {
      r.skip();
      continue;
    }
    ScopeSpans(View(r), resource_index);
    path_.Truncate(depth);
  }
}

bool ProtoDecoder::Resource(std::string_view msg, model::Resource* out) {
  const size_t base = views_.size();
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case resource_field::kAttributes:
        views_.push_back(View(r));
        break;
      case resource_field::kDroppedAttributesCount:
        out->dropped_attributes_count = static_cast<uint32_t>(Varint(r));
        break;
      default:
        r.skip();
        break;
    }
  }
  if (!CheckAttributeCount("resource", views_.size() - base)) return false;
  if (!KeyValues(base, "attributes", 0, &out->attributes)) return false;
  out->service_name = internal::FindServiceName(batch_, out->attributes);
  return true;
}

void ProtoDecoder::ScopeSpans(std::string_view msg, uint32_t resource) {
  namespace f = scope_spans_field;
  std::string_view scope_msg;
  std::string_view schema_url;
  {
    pbf_reader r(msg.data(), msg.size());
    while (r.next()) {
      switch (r.tag()) {
        case f::kScope:
          scope_msg = View(r);
          break;
        case f::kSchemaUrl:
          schema_url = View(r);
          break;
        default:
          r.skip();
          break;
      }
    }
  }
  const internal::TableMark mark = internal::Mark(batch_);
  const int depth = path_.depth();
  model::Scope scope;
  bool ok = true;
  if (!IsValidUtf8(schema_url)) {
    ok = Reject("schema_url is not valid UTF-8");
  } else {
    path_.Push("scope");
    ok = Scope(scope_msg, &scope);
    path_.Truncate(depth);
  }
  if (!ok) {
    internal::Rollback(mark, &batch_);
    views_.clear();
    rejections_.Commit(CountSpansOfScope(msg), "scope");
    return;
  }
  scope.schema_url = schema_url;
  scope.resource = resource;
  const auto scope_index = static_cast<uint32_t>(batch_.scopes.size());
  batch_.scopes.push_back(scope);

  int64_t span_index = 0;
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    if (r.tag() != f::kSpans) {
      r.skip();
      continue;
    }
    path_.Push("spans", span_index++);
    const std::string_view span = View(r);
    const size_t rows = batch_.size();
    const internal::TableMark span_mark = internal::Mark(batch_);
    if (Span(span, scope_index)) {
      rejections_.Accept();
    } else {
      if (batch_.size() > rows) batch_.PopSpan();
      internal::Rollback(span_mark, &batch_);
      rejections_.Commit(1);
    }
    path_.Truncate(depth);
  }
}

bool ProtoDecoder::Scope(std::string_view msg, model::Scope* out) {
  const size_t base = views_.size();
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case scope_field::kName:
        out->name = View(r);
        break;
      case scope_field::kVersion:
        out->version = View(r);
        break;
      case scope_field::kAttributes:
        views_.push_back(View(r));
        break;
      case scope_field::kDroppedAttributesCount:
        out->dropped_attributes_count = static_cast<uint32_t>(Varint(r));
        break;
      default:
        r.skip();
        break;
    }
  }
  if (!IsValidUtf8(out->name)) return Reject("name is not valid UTF-8");
  if (!IsValidUtf8(out->version)) return Reject("version is not valid UTF-8");
  if (!CheckAttributeCount("scope", views_.size() - base)) return false;
  return KeyValues(base, "attributes", 0, &out->attributes);
}

void ProtoDecoder::Status(std::string_view msg, std::string_view* message, uint64_t* code) {
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case status_field::kMessage:
        *message = View(r);
        break;
      case status_field::kCode:
        *code = Varint(r);
        break;
      default:
        r.skip();
        break;
    }
  }
}

bool ProtoDecoder::Span(std::string_view msg, uint32_t scope) {
  namespace f = span_field;
  views_.clear();
  event_views_.clear();
  link_views_.clear();
  trace_id_ = {};

  std::string_view trace_id, span_id, parent_span_id, trace_state, name;
  std::string_view status_message;
  uint64_t kind = 0, status_code = 0, start = 0, end = 0;
  uint32_t flags = 0, dropped_attributes = 0, dropped_events = 0, dropped_links = 0;
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case f::kTraceId:
        trace_id = View(r);
        break;
      case f::kSpanId:
        span_id = View(r);
        break;
      case f::kTraceState:
        trace_state = View(r);
        break;
      case f::kParentSpanId:
        parent_span_id = View(r);
        break;
      case f::kName:
        name = View(r);
        break;
      case f::kKind:
        kind = Varint(r);
        break;
      case f::kStartTimeUnixNano:
        start = Fixed64(r);
        break;
      case f::kEndTimeUnixNano:
        end = Fixed64(r);
        break;
      case f::kAttributes:
        views_.push_back(View(r));
        break;
      case f::kDroppedAttributesCount:
        dropped_attributes = static_cast<uint32_t>(Varint(r));
        break;
      case f::kEvents:
        event_views_.push_back(View(r));
        break;
      case f::kDroppedEventsCount:
        dropped_events = static_cast<uint32_t>(Varint(r));
        break;
      case f::kLinks:
        link_views_.push_back(View(r));
        break;
      case f::kDroppedLinksCount:
        dropped_links = static_cast<uint32_t>(Varint(r));
        break;
      case f::kStatus: {
        const int depth = path_.depth();
        path_.Push("status");
        Status(View(r), &status_message, &status_code);
        path_.Truncate(depth);
        break;
      }
      case f::kFlags:
        flags = Fixed32(r);
        break;
      default:
        r.skip();
        break;
    }
  }

  // Validate everything that needs no allocation before adding the span.
  if (std::string problem = internal::CheckId("trace_id", trace_id, 16); !problem.empty()) {
    return Reject(problem);
  }
  trace_id_ = trace_id;
  if (std::string problem = internal::CheckId("span_id", span_id, 8); !problem.empty()) {
    return Reject(problem);
  }
  if (!parent_span_id.empty() && parent_span_id.size() != 8) {
    return Reject(
        internal::Cat("parent_span_id is ", parent_span_id.size(), " bytes, must be 0 or 8"));
  }
  if (!IsValidUtf8(name)) return Reject("name is not valid UTF-8");
  if (!IsValidUtf8(trace_state)) {
    return Reject("trace_state is not valid UTF-8");
  }
  if (!IsValidUtf8(status_message)) {
    return Reject("status.message is not valid UTF-8");
  }
  if (!CheckAttributeCount("span", views_.size())) return false;
  if (event_views_.size() > limits_.max_events_per_span) {
    return Reject(internal::TooMany("span", event_views_.size(), "events",
                                    limits_.max_events_per_span, "limits.max_events_per_span"));
  }
  if (link_views_.size() > limits_.max_links_per_span) {
    return Reject(internal::TooMany("span", link_views_.size(), "links", limits_.max_links_per_span,
                                    "limits.max_links_per_span"));
  }

  const uint32_t row = batch_.AddSpan();
  std::memcpy(batch_.trace_id[row].data(), trace_id.data(), 16);
  std::memcpy(batch_.span_id[row].data(), span_id.data(), 8);
  if (!parent_span_id.empty()) {
    std::memcpy(batch_.parent_span_id[row].data(), parent_span_id.data(), 8);
  }
  batch_.trace_state[row] = trace_state;
  batch_.flags[row] = flags;
  batch_.name[row] = name;
  batch_.kind[row] = ToSpanKind(kind);
  batch_.start_unix_nano[row] = start;
  batch_.end_unix_nano[row] = end;
  batch_.dropped_attributes_count[row] = dropped_attributes;
  batch_.dropped_events_count[row] = dropped_events;
  batch_.dropped_links_count[row] = dropped_links;
  batch_.status_code[row] = ToStatusCode(status_code);
  batch_.status_message[row] = status_message;
  batch_.scope[row] = scope;

  Range attributes;
  if (!KeyValues(0, "attributes", 0, &attributes)) return false;
  batch_.span_attributes[row] = attributes;

  const int depth = path_.depth();
  const Range events{static_cast<uint32_t>(batch_.events.size()),
                     static_cast<uint32_t>(event_views_.size())};
  batch_.events.resize(events.first + events.count);
  for (uint32_t i = 0; i < events.count; ++i) {
    path_.Push("events", i);
    model::Event event;
    if (!Event(event_views_[i], &event)) return false;
    batch_.events[events.first + i] = event;
    path_.Truncate(depth);
  }
  batch_.span_events[row] = events;

  const Range links{static_cast<uint32_t>(batch_.links.size()),
                    static_cast<uint32_t>(link_views_.size())};
  batch_.links.resize(links.first + links.count);
  for (uint32_t i = 0; i < links.count; ++i) {
    path_.Push("links", i);
    model::Link link;
    if (!Link(link_views_[i], &link)) return false;
    batch_.links[links.first + i] = link;
    path_.Truncate(depth);
  }
  batch_.span_links[row] = links;
  return true;
}

bool ProtoDecoder::Event(std::string_view msg, model::Event* out) {
  const size_t base = views_.size();
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case event_field::kTimeUnixNano:
        out->time_unix_nano = Fixed64(r);
        break;
      case event_field::kName:
        out->name = View(r);
        break;
      case event_field::kAttributes:
        views_.push_back(View(r));
        break;
      case event_field::kDroppedAttributesCount:
        out->dropped_attributes_count = static_cast<uint32_t>(Varint(r));
        break;
      default:
        r.skip();
        break;
    }
  }
  if (!IsValidUtf8(out->name)) return Reject("name is not valid UTF-8");
  if (!CheckAttributeCount("event", views_.size() - base)) return false;
  return KeyValues(base, "attributes", 0, &out->attributes);
}

bool ProtoDecoder::Link(std::string_view msg, model::Link* out) {
  const size_t base = views_.size();
  std::string_view trace_id, span_id;
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case link_field::kTraceId:
        trace_id = View(r);
        break;
      case link_field::kSpanId:
        span_id = View(r);
        break;
      case link_field::kTraceState:
        out->trace_state = View(r);
        break;
      case link_field::kAttributes:
        views_.push_back(View(r));
        break;
      case link_field::kDroppedAttributesCount:
        out->dropped_attributes_count = static_cast<uint32_t>(Varint(r));
        break;
      case link_field::kFlags:
        out->flags = Fixed32(r);
        break;
      default:
        r.skip();
        break;
    }
  }
  if (std::string problem = internal::CheckId("trace_id", trace_id, 16); !problem.empty()) {
    return Reject(problem);
  }
  if (std::string problem = internal::CheckId("span_id", span_id, 8); !problem.empty()) {
    return Reject(problem);
  }
  std::memcpy(out->trace_id.data(), trace_id.data(), 16);
  std::memcpy(out->span_id.data(), span_id.data(), 8);
  if (!IsValidUtf8(out->trace_state)) {
    return Reject("trace_state is not valid UTF-8");
  }
  if (!CheckAttributeCount("link", views_.size() - base)) return false;
  return KeyValues(base, "attributes", 0, &out->attributes);
}

size_t ProtoDecoder::CollectViews(std::string_view msg, uint32_t field) {
  const size_t before = views_.size();
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    if (r.tag() == field) {
      views_.push_back(View(r));
    } else {
      r.skip();
    }
  }
  return views_.size() - before;
}

bool ProtoDecoder::CheckAttributeCount(std::string_view owner, size_t n) {
  if (n <= limits_.max_attributes_per_span) return true;
  return Reject(internal::TooMany(owner, n, "attributes", limits_.max_attributes_per_span,
                                  "limits.max_attributes_per_span"));
}

bool ProtoDecoder::KeyValues(size_t base, const char* name, uint32_t depth, Range* out) {
  const auto count = static_cast<uint32_t>(views_.size() - base);
  const auto first = static_cast<uint32_t>(batch_.attributes.size());
  *out = {first, count};
  if (count == 0) return true;
  batch_.attributes.resize(first + count);
  const int path_depth = path_.depth();
  for (uint32_t i = 0; i < count; ++i) {
    path_.Push(name, i);
    model::KeyValue kv;
    // Nested lists push their own views above base + count and pop them.
    if (!KeyValue(views_[base + i], depth, &kv)) return false;
    batch_.attributes[first + i] = kv;
    path_.Truncate(path_depth);
  }
  views_.resize(base);
  return true;
}

bool ProtoDecoder::KeyValue(std::string_view msg, uint32_t depth, model::KeyValue* out) {
  std::string_view value;
  bool has_value = false;
  pbf_reader r(msg.data(), msg.size());
  while (r.next()) {
    switch (r.tag()) {
      case key_value_field::kKey:
        out->key = View(r);
        break;
      case key_value_field::kValue:
        value = View(r);
        has_value = true;
        break;
      default:
        r.skip();
        break;
    }
  }
  if (!IsValidUtf8(out->key)) return Reject("key is not valid UTF-8");
  if (!has_value) return true;
  return Value(value, out->key, depth, &out->value);
}

bool ProtoDecoder::Value(std::string_view msg, std::string_view key, uint32_t depth,
                         AnyValue* out) {
  namespace f = any_value_field;
  std::string_view nested;
  pbf_reader r(msg.data(), msg.size());
  // A oneof: the last value on the wire wins.
  while (r.next()) {
    switch (r.tag()) {
      case f::kString:
        *out = {};
        out->type = ValueType::kString;
        out->bytes = View(r);
        break;
      case f::kBool:
        *out = {};
        out->type = ValueType::kBool;
        out->bool_value = Varint(r) != 0;
        break;
      case f::kInt:
        *out = {};
        out->type = ValueType::kInt;
        out->int_value = static_cast<int64_t>(Varint(r));
        break;
      case f::kDouble:
        *out = {};
        out->type = ValueType::kDouble;
        out->double_value = Double(r);
        break;
      case f::kArray:
        *out = {};
        out->type = ValueType::kArray;
        nested = View(r);
        break;
      case f::kKvList:
        *out = {};
        out->type = ValueType::kKvList;
        nested = View(r);
        break;
      case f::kBytes:
        *out = {};
        out->type = ValueType::kBytes;
        out->bytes = View(r);
        break;
      default:
        r.skip();
        break;
    }
  }
  switch (out->type) {
    case ValueType::kString:
    case ValueType::kBytes:
      if (out->bytes.size() > limits_.max_attribute_value_bytes) {
        return Reject(internal::Cat("attribute ", internal::Quote(key), " value is ",
                                    out->bytes.size(), " bytes, over the limit of ",
                                    limits_.max_attribute_value_bytes,
                                    " (limits.max_attribute_value_bytes)"));
      }
      if (out->type == ValueType::kString && !IsValidUtf8(out->bytes)) {
        return Reject(
            internal::Cat("attribute ", internal::Quote(key), " value is not valid UTF-8"));
      }
      return true;
    case ValueType::kArray:
    case ValueType::kKvList:
      break;
    default:
      return true;
  }
  if (depth + 1 > max_depth_) {
    return Reject(internal::Cat("attribute ", internal::Quote(key), " value nests deeper than ",
                                limits_.max_value_depth, " levels (limits.max_value_depth)"));
  }
  const size_t base = views_.size();
  const size_t count = CollectViews(nested, kListValues);
  if (out->type == ValueType::kKvList) {
    return KeyValues(base, "values", depth + 1, &out->children);
  }
  const auto first = static_cast<uint32_t>(batch_.array_items.size());
  out->children = {first, static_cast<uint32_t>(count)};
  batch_.array_items.resize(first + count);
  const int path_depth = path_.depth();
  for (uint32_t i = 0; i < count; ++i) {
    path_.Push("values", i);
    AnyValue item;
    if (!Value(views_[base + i], key, depth + 1, &item)) return false;
    batch_.array_items[first + i] = item;
    path_.Truncate(path_depth);
  }
  views_.resize(base);
  return true;
}

std::string_view ProtozeroProblem(const protozero::exception& e) {
  if (dynamic_cast<const protozero::end_of_buffer_exception*>(&e)) {
    return "truncated message";
  }
  if (dynamic_cast<const protozero::varint_too_long_exception*>(&e)) {
    return "varint too long";
  }
  if (dynamic_cast<const protozero::unknown_pbf_wire_type_exception*>(&e)) {
    return "unknown wire type";
  }
  if (dynamic_cast<const protozero::invalid_tag_exception*>(&e)) {
    return "invalid field tag";
  }
  if (dynamic_cast<const protozero::invalid_length_exception*>(&e)) {
    return "invalid length";
  }
  return e.what();
}

}  // namespace

absl::StatusOr<model::SpanBatch> DecodeOtlpProto(std::string body, const Limits& limits,
                                                 DecodeStats* stats) {
  DecodeStats unused_stats;
  if (stats == nullptr) stats = &unused_stats;
  *stats = DecodeStats{};

  SpanBatch batch;
  const std::string_view request = batch.Adopt(std::move(body));
  ReserveCounts counts;
  CountForReserve(request, &counts);
  // A valid span has at least a trace id and a span id: 30 bytes; an
  // attribute at least a key and a value: 4.
  const size_t spans = std::min(counts.spans, request.size() / 30);
  internal::ReserveSpans(spans, request.size(), 30, &batch);
  const size_t attributes = counts.attributes + counts.attributes / 32 + 8;
  batch.attributes.reserve(std::min(attributes, request.size() / 4));

  ProtoDecoder decoder(limits, &batch, stats);
  std::string problem;
  try {
    decoder.Run(request);
    // The head keeps the batch: give back slack that nested lists or many
    // event attributes made the table grow into.
    if (batch.attributes.capacity() > batch.attributes.size() + batch.attributes.size() / 4 + 64) {
      batch.attributes.shrink_to_fit();
    }
    return batch;
  } catch (const WireTypeError& e) {
    problem = internal::Cat("field ", e.field, " has wire type ", WireTypeName(e.got),
                            ", expected ", WireTypeName(e.want));
  } catch (const protozero::exception& e) {
    problem = std::string(ProtozeroProblem(e));
  }
  *stats = DecodeStats{};
  return absl::InvalidArgumentError(
      internal::Cat("malformed protobuf: ", problem, " in ", decoder.path().ToString()));
}

}  // namespace ariadne::decode
