// SpanBatch: the columnar form every stage after decode works on.
//
// A batch holds the spans of one export request (or of one log record on
// replay) as parallel columns, one entry per span, plus side tables for the
// variable-size parts (attributes, events, links, resources, scopes). Every
// OTLP span field is kept so that a span read back equals the span sent.
//
// Strings are std::string_view into storage the batch owns: either a buffer
// adopted whole (the request body, so protobuf strings are never copied) or
// the batch's arena (strings that had to be unescaped or converted). The
// storage is heap-stable, so views stay valid when the batch is moved.
//
// Threading: a batch is built by one thread and is immutable once published
// (it is then shared as std::shared_ptr<const SpanBatch>); const methods may
// be called from any number of threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ariadne::model {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// Values follow the OTLP enums so they can be written back unchanged.
enum class SpanKind : uint8_t {
  kUnspecified = 0,
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5,
};

enum class StatusCode : uint8_t { kUnset = 0, kOk = 1, kError = 2 };

enum class ValueType : uint8_t {
  kEmpty = 0,  // AnyValue with no value set
  kString,
  kBool,
  kInt,
  kDouble,
  kBytes,
  kArray,   // items in SpanBatch::array_items[first, first + count)
  kKvList,  // entries in SpanBatch::attributes[first, first + count)
};

// A half-open range [first, first + count) into one of the side tables.
struct Range {
  uint32_t first = 0;
  uint32_t count = 0;
};

// One member of the union is meaningful, the one `type` names; reading
// another is a bug. (A union keeps an attribute at 40 bytes, not 64: a span
// carries ten or so, and the head keeps them all.)
struct AnyValue {
  AnyValue() : bytes() {}
  static AnyValue String(std::string_view s) { return Of(ValueType::kString, s); }
  static AnyValue Bytes(std::string_view s) { return Of(ValueType::kBytes, s); }
  static AnyValue Bool(bool b) {
    AnyValue v;
    v.type = ValueType::kBool;
    v.bool_value = b;
    return v;
  }
  static AnyValue Int(int64_t i) {
    AnyValue v;
    v.type = ValueType::kInt;
    v.int_value = i;
    return v;
  }
  static AnyValue Double(double d) {
    AnyValue v;
    v.type = ValueType::kDouble;
    v.double_value = d;
    return v;
  }
  static AnyValue Array(Range items) { return Of(ValueType::kArray, items); }
  static AnyValue KvList(Range entries) { return Of(ValueType::kKvList, entries); }

  ValueType type = ValueType::kEmpty;
  union {
    std::string_view bytes;  // kString (UTF-8) and kBytes (raw)
    bool bool_value;         // kBool
    int64_t int_value;       // kInt
    double double_value;     // kDouble
    Range children;          // kArray and kKvList
  };

 private:
  static AnyValue Of(ValueType t, std::string_view s) {
    AnyValue v;
    v.type = t;
    v.bytes = s;
    return v;
  }
  static AnyValue Of(ValueType t, Range r) {
    AnyValue v;
    v.type = t;
    v.children = r;
    return v;
  }
};

struct KeyValue {
  std::string_view key;
  AnyValue value;
};

struct Resource {
  Range attributes;  // into SpanBatch::attributes
  uint32_t dropped_attributes_count = 0;
  std::string_view schema_url;    // ResourceSpans.schema_url
  std::string_view service_name;  // value of the "service.name" attribute, "" if absent
};

struct Scope {
  std::string_view name;
  std::string_view version;
  Range attributes;
  uint32_t dropped_attributes_count = 0;
  std::string_view schema_url;  // ScopeSpans.schema_url
  uint32_t resource = 0;        // index into SpanBatch::resources
};

struct Event {
  uint64_t time_unix_nano = 0;
  std::string_view name;
  Range attributes;
  uint32_t dropped_attributes_count = 0;
};

struct Link {
  TraceId trace_id{};
  SpanId span_id{};
  std::string_view trace_state;
  Range attributes;
  uint32_t dropped_attributes_count = 0;
  uint32_t flags = 0;
};

class SpanBatch {
 public:
  SpanBatch() = default;
  SpanBatch(SpanBatch&&) = default;
  SpanBatch& operator=(SpanBatch&&) = default;
  SpanBatch(const SpanBatch&) = delete;
  SpanBatch& operator=(const SpanBatch&) = delete;

  // Number of spans.
  size_t size() const { return trace_id.size(); }
  bool empty() const { return trace_id.empty(); }

  // Appends a span with every column at its default and returns its row.
  uint32_t AddSpan();
  // Removes the last span (used when a span is rejected half-way through
  // decoding). Side-table entries it added stay, unreferenced.
  void PopSpan();

  // Takes ownership of `buffer` and returns a view of it that lives as long
  // as the batch.
  std::string_view Adopt(std::string&& buffer);
  // Copies `s` into the batch's arena and returns the stable copy.
  std::string_view Copy(std::string_view s);
  // The first buffer adopted: the request body for decoders that adopt it.
  std::string_view raw_input() const {
    return owned_.empty() ? std::string_view() : std::string_view(*owned_.front());
  }

  // Service of a span: its resource's service.name.
  std::string_view service(uint32_t row) const {
    return resources[scopes[scope[row]].resource].service_name;
  }
  uint64_t duration_nano(uint32_t row) const {
    return end_unix_nano[row] > start_unix_nano[row] ? end_unix_nano[row] - start_unix_nano[row]
                                                     : 0;
  }
  // Approximate bytes of memory the batch holds (columns, tables, storage).
  size_t MemoryBytes() const;

  // Span columns, one entry per span.
  std::vector<TraceId> trace_id;
  std::vector<SpanId> span_id;
  std::vector<SpanId> parent_span_id;  // all zero for a root span
  std::vector<std::string_view> trace_state;
  std::vector<uint32_t> flags;
  std::vector<std::string_view> name;
  std::vector<SpanKind> kind;
  std::vector<uint64_t> start_unix_nano;
  std::vector<uint64_t> end_unix_nano;
  std::vector<Range> span_attributes;  // into attributes
  std::vector<uint32_t> dropped_attributes_count;
  std::vector<Range> span_events;  // into events
  std::vector<uint32_t> dropped_events_count;
  std::vector<Range> span_links;  // into links
  std::vector<uint32_t> dropped_links_count;
  std::vector<StatusCode> status_code;
  std::vector<std::string_view> status_message;
  std::vector<uint32_t> scope;  // index into scopes

  // Side tables.
  std::vector<KeyValue> attributes;   // all key/values: span, resource, scope,
                                      // event, link and nested kvlist ones
  std::vector<AnyValue> array_items;  // elements of array values
  std::vector<Event> events;
  std::vector<Link> links;
  std::vector<Resource> resources;
  std::vector<Scope> scopes;

 private:
  std::vector<std::unique_ptr<std::string>> owned_;  // adopted buffers
  std::vector<std::unique_ptr<char[]>> arena_;       // arena blocks
  size_t arena_used_ = 0;                            // bytes used in arena_.back()
  size_t arena_block_ = 0;                           // size of arena_.back()
  size_t storage_bytes_ = 0;
};

// A reference to one span of a shared batch; what queries return.
struct SpanRef {
  std::shared_ptr<const SpanBatch> batch;
  uint32_t row = 0;
};

// True if every byte of `id` is zero (the OTLP "invalid" id).
template <size_t N>
bool IsZero(const std::array<uint8_t, N>& id) {
  for (uint8_t b : id) {
    if (b != 0) return false;
  }
  return true;
}

// Lower-case hex of an id, and its inverse. ParseHexId accepts upper or
// lower case, exactly 2*N digits, and returns false otherwise. Jaeger ids
// shorter than 32 digits (64-bit trace ids) are left-padded with zeros by
// ParseTraceIdLenient.
std::string ToHex(std::span<const uint8_t> bytes);
template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& id) {
  return ToHex(std::span<const uint8_t>(id.data(), N));
}
bool ParseHexId(std::string_view hex, std::span<uint8_t> out);
bool ParseTraceIdLenient(std::string_view hex, TraceId* out);

std::string_view SpanKindName(SpanKind kind);  // "SPAN_KIND_SERVER"
// Jaeger's lower-case form ("server", "client", ...); "" for unspecified.
std::string_view SpanKindShortName(SpanKind kind);
std::string_view StatusCodeName(StatusCode code);  // "STATUS_CODE_ERROR"

}  // namespace ariadne::model
