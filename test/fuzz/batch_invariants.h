// What every decoder result must satisfy, whatever the input: checked by the
// fuzz targets after each decode. A violation aborts, so libFuzzer reports
// the input as a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "decode/decode.h"
#include "decode/utf8.h"
#include "model/span_batch.h"

namespace ariadne::fuzz {

#define ARIADNE_FUZZ_CHECK(cond)                                                        \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

// Limits small enough that fuzz inputs reach every limit check.
inline decode::Limits TightLimits() {
  decode::Limits limits;
  limits.max_attributes_per_span = 4;
  limits.max_events_per_span = 2;
  limits.max_links_per_span = 2;
  limits.max_attribute_value_bytes = 16;
  limits.max_value_depth = 3;
  return limits;
}

class BatchChecker {
 public:
  explicit BatchChecker(const model::SpanBatch& batch) : b_(batch) {}

  void Check() {
    const size_t n = b_.size();
    ARIADNE_FUZZ_CHECK(b_.span_id.size() == n && b_.parent_span_id.size() == n &&
                       b_.trace_state.size() == n && b_.flags.size() == n && b_.name.size() == n &&
                       b_.kind.size() == n && b_.start_unix_nano.size() == n &&
                       b_.end_unix_nano.size() == n && b_.span_attributes.size() == n &&
                       b_.dropped_attributes_count.size() == n && b_.span_events.size() == n &&
                       b_.dropped_events_count.size() == n && b_.span_links.size() == n &&
                       b_.dropped_links_count.size() == n && b_.status_code.size() == n &&
                       b_.status_message.size() == n && b_.scope.size() == n);
    for (const model::Resource& r : b_.resources) {
      Attributes(r.attributes);
      Text(r.schema_url);
      Text(r.service_name);
    }
    for (const model::Scope& s : b_.scopes) {
      ARIADNE_FUZZ_CHECK(s.resource < b_.resources.size());
      Attributes(s.attributes);
      Text(s.name);
      Text(s.version);
      Text(s.schema_url);
    }
    for (size_t row = 0; row < n; ++row) {
      ARIADNE_FUZZ_CHECK(!model::IsZero(b_.trace_id[row]));
      ARIADNE_FUZZ_CHECK(!model::IsZero(b_.span_id[row]));
      ARIADNE_FUZZ_CHECK(b_.scope[row] < b_.scopes.size());
      ARIADNE_FUZZ_CHECK(static_cast<int>(b_.kind[row]) <= 5);
      ARIADNE_FUZZ_CHECK(static_cast<int>(b_.status_code[row]) <= 2);
      Text(b_.trace_state[row]);
      Text(b_.name[row]);
      Text(b_.status_message[row]);
      Attributes(b_.span_attributes[row]);
      const model::Range events = b_.span_events[row];
      ARIADNE_FUZZ_CHECK(Within(events, b_.events.size()));
      for (uint32_t i = 0; i < events.count; ++i) {
        const model::Event& e = b_.events[events.first + i];
        Text(e.name);
        Attributes(e.attributes);
      }
      const model::Range links = b_.span_links[row];
      ARIADNE_FUZZ_CHECK(Within(links, b_.links.size()));
      for (uint32_t i = 0; i < links.count; ++i) {
        const model::Link& l = b_.links[links.first + i];
        ARIADNE_FUZZ_CHECK(!model::IsZero(l.trace_id));
        ARIADNE_FUZZ_CHECK(!model::IsZero(l.span_id));
        Text(l.trace_state);
        Attributes(l.attributes);
      }
    }
    // Touching every byte lets ASan catch a view into freed memory.
    if (checksum_ == 0x5eed) std::fputc(' ', stderr);
  }

 private:
  static bool Within(model::Range r, size_t size) {
    return r.first <= size && r.count <= size - r.first;
  }
  void Bytes(std::string_view s) {
    for (char c : s) checksum_ = checksum_ * 31 + static_cast<uint8_t>(c);
  }
  void Text(std::string_view s) {
    Bytes(s);
    ARIADNE_FUZZ_CHECK(decode::IsValidUtf8(s));
  }
  void Attributes(model::Range r, int depth = 0) {
    ARIADNE_FUZZ_CHECK(depth <= 200);
    ARIADNE_FUZZ_CHECK(Within(r, b_.attributes.size()));
    for (uint32_t i = 0; i < r.count; ++i) {
      const model::KeyValue& kv = b_.attributes[r.first + i];
      Text(kv.key);
      Value(kv.value, depth);
    }
  }
  void Value(const model::AnyValue& v, int depth) {
    switch (v.type) {
      case model::ValueType::kString:
        Text(v.bytes);
        break;
      case model::ValueType::kBytes:
        Bytes(v.bytes);
        break;
      case model::ValueType::kArray:
        ARIADNE_FUZZ_CHECK(depth <= 200);
        ARIADNE_FUZZ_CHECK(Within(v.children, b_.array_items.size()));
        for (uint32_t i = 0; i < v.children.count; ++i) {
          Value(b_.array_items[v.children.first + i], depth + 1);
        }
        break;
      case model::ValueType::kKvList:
        Attributes(v.children, depth + 1);
        break;
      default:
        break;
    }
  }

  const model::SpanBatch& b_;
  uint64_t checksum_ = 0;
};

// Checks one decoder result against the stats it reported.
inline void CheckResult(const absl::StatusOr<model::SpanBatch>& result,
                        const decode::DecodeStats& stats) {
  if (!result.ok()) {
    ARIADNE_FUZZ_CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
    ARIADNE_FUZZ_CHECK(!result.status().message().empty());
    ARIADNE_FUZZ_CHECK(stats.accepted_spans == 0 && stats.rejected_spans == 0);
    return;
  }
  ARIADNE_FUZZ_CHECK(stats.accepted_spans == static_cast<int64_t>(result->size()));
  ARIADNE_FUZZ_CHECK(stats.rejected_spans >= 0);
  ARIADNE_FUZZ_CHECK((stats.rejected_spans > 0) == !stats.error_message.empty());
  ARIADNE_FUZZ_CHECK(stats.error_message.size() <= 300);
  BatchChecker(*result).Check();
}

}  // namespace ariadne::fuzz
