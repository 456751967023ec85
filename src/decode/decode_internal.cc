#include "decode/decode_internal.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ariadne::decode::internal {

std::string Path::ToString() const {
  // Deeply nested values would make a long path: keep its first entries
  // (down to the attribute) and the last one.
  static constexpr int kHead = 6;
  std::string out;
  const int n = std::min(depth_, kMaxEntries);
  for (int i = 0; i < n; ++i) {
    if (n > kHead + 2 && i >= kHead && i < n - 1) {
      if (i == kHead) out.append("..");
      continue;
    }
    if (i > 0) out.push_back('.');
    out.append(entries_[i].name);
    if (entries_[i].index >= 0) {
      Append(&out, "[", entries_[i].index, "]");
    }
  }
  if (out.empty()) out = "request";
  return out;
}

TableMark Mark(const model::SpanBatch& batch) {
  return {batch.attributes.size(), batch.array_items.size(), batch.events.size(),
          batch.links.size()};
}

void Rollback(const TableMark& mark, model::SpanBatch* batch) {
  batch->attributes.resize(mark.attributes);
  batch->array_items.resize(mark.array_items);
  batch->events.resize(mark.events);
  batch->links.resize(mark.links);
}

void ReserveSpans(size_t spans, size_t body_bytes, size_t min_span_bytes, model::SpanBatch* batch) {
  const size_t n = batch->size() + std::min(spans, body_bytes / min_span_bytes);
  batch->trace_id.reserve(n);
  batch->span_id.reserve(n);
  batch->parent_span_id.reserve(n);
  batch->trace_state.reserve(n);
  batch->flags.reserve(n);
  batch->name.reserve(n);
  batch->kind.reserve(n);
  batch->start_unix_nano.reserve(n);
  batch->end_unix_nano.reserve(n);
  batch->span_attributes.reserve(n);
  batch->dropped_attributes_count.reserve(n);
  batch->span_events.reserve(n);
  batch->dropped_events_count.reserve(n);
  batch->span_links.reserve(n);
  batch->dropped_links_count.reserve(n);
  batch->status_code.reserve(n);
  batch->status_message.reserve(n);
  batch->scope.reserve(n);
}

std::string_view FindServiceName(const model::SpanBatch& batch, model::Range attributes) {
  for (uint32_t i = 0; i < attributes.count; ++i) {
    const model::KeyValue& kv = batch.attributes[attributes.first + i];
    if (kv.key == "service.name" && kv.value.type == model::ValueType::kString) {
      return kv.value.bytes;
    }
  }
  return {};
}

std::string Quote(std::string_view s) {
  static constexpr size_t kMaxChars = 48;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  for (; i < s.size() && out.size() <= kMaxChars; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out.append("\\x");
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  if (i < s.size()) out.append("...");
  out.push_back('"');
  return out;
}

std::string TooMany(std::string_view owner, size_t count, std::string_view what, uint32_t limit,
                    std::string_view limit_key) {
  return Cat(owner, " has ", count, " ", what, ", over the limit of ", limit, " (", limit_key, ")");
}

std::string CheckId(std::string_view field, std::string_view id, size_t size) {
  if (id.size() != size) {
    return Cat(field, " is ", id.size(), " bytes, must be ", size);
  }
  for (char c : id) {
    if (c != 0) return {};
  }
  return Cat(field, " is all zero");
}

bool Rejections::Note(const Path& path, std::string_view trace_id, std::string_view problem) {
  if (!WantsMessage()) return false;
  pending_ = path.ToString();
  if (trace_id.size() == sizeof(model::TraceId)) {
    Append(&pending_, " (trace ",
           model::ToHex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(trace_id.data()),
                                                 trace_id.size())),
           ")");
  }
  Append(&pending_, ": ", problem);
  return false;
}

void Rejections::Commit(int64_t spans, std::string_view scope_word) {
  if (spans <= 0) {
    pending_.clear();
    return;
  }
  stats_.rejected_spans += spans;
  if (stats_.error_message.empty() && !pending_.empty()) {
    std::string message = std::move(pending_);
    if (!scope_word.empty()) {
      Append(&message, " (rejected the ", scope_word, "'s ", spans,
             spans == 1 ? " span)" : " spans)");
    }
    if (message.size() > kMaxErrorMessage) {
      message.resize(kMaxErrorMessage - 3);
      message.append("...");
    }
    stats_.error_message = std::move(message);
  }
  pending_.clear();
}

}  // namespace ariadne::decode::internal
