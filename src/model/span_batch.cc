#include "model/span_batch.h"

#include <algorithm>
#include <cstring>

namespace ariadne::model {

uint32_t SpanBatch::AddSpan() {
  const uint32_t row = static_cast<uint32_t>(trace_id.size());
  trace_id.emplace_back();
  span_id.emplace_back();
  parent_span_id.emplace_back();
  trace_state.emplace_back();
  flags.push_back(0);
  name.emplace_back();
  kind.push_back(SpanKind::kUnspecified);
  start_unix_nano.push_back(0);
  end_unix_nano.push_back(0);
  span_attributes.emplace_back();
  dropped_attributes_count.push_back(0);
  span_events.emplace_back();
  dropped_events_count.push_back(0);
  span_links.emplace_back();
  dropped_links_count.push_back(0);
  status_code.push_back(StatusCode::kUnset);
  status_message.emplace_back();
  scope.push_back(0);
  return row;
}

void SpanBatch::PopSpan() {
  trace_id.pop_back();
  span_id.pop_back();
  parent_span_id.pop_back();
  trace_state.pop_back();
  flags.pop_back();
  name.pop_back();
  kind.pop_back();
  start_unix_nano.pop_back();
  end_unix_nano.pop_back();
  span_attributes.pop_back();
  dropped_attributes_count.pop_back();
  span_events.pop_back();
  dropped_events_count.pop_back();
  span_links.pop_back();
  dropped_links_count.pop_back();
  status_code.pop_back();
  status_message.pop_back();
  scope.pop_back();
}

std::string_view SpanBatch::Adopt(std::string&& buffer) {
  storage_bytes_ += buffer.capacity();
  owned_.push_back(std::make_unique<std::string>(std::move(buffer)));
  return *owned_.back();
}

std::string_view SpanBatch::Copy(std::string_view s) {
  if (s.empty()) return {};
  if (arena_.empty() || arena_block_ - arena_used_ < s.size()) {
    // Blocks grow from 1 KiB to 64 KiB, so a small request does not pin a
    // large block for as long as the head keeps its batch.
    const size_t grown = arena_block_ == 0 ? 1024 : std::min<size_t>(arena_block_ * 2, 64 * 1024);
    const size_t block = std::max(s.size(), grown);
    arena_.push_back(std::make_unique<char[]>(block));
    arena_block_ = block;
    arena_used_ = 0;
    storage_bytes_ += block;
  }
  char* dst = arena_.back().get() + arena_used_;
  std::memcpy(dst, s.data(), s.size());
  arena_used_ += s.size();
  return std::string_view(dst, s.size());
}

size_t SpanBatch::MemoryBytes() const {
  const size_t per_span = sizeof(TraceId) + 2 * sizeof(SpanId) + 3 * sizeof(std::string_view) +
                          7 * sizeof(uint32_t) + 2 * sizeof(uint64_t) + 3 * sizeof(Range) + 2;
  return size() * per_span + attributes.size() * sizeof(KeyValue) +
         array_items.size() * sizeof(AnyValue) + events.size() * sizeof(Event) +
         links.size() * sizeof(Link) + resources.size() * sizeof(Resource) +
         scopes.size() * sizeof(Scope) + storage_bytes_;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool ParseHexId(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool ParseTraceIdLenient(std::string_view hex, TraceId* out) {
  if (hex.empty() || hex.size() > 32) return false;
  char padded[32];
  std::memset(padded, '0', sizeof(padded));
  std::memcpy(padded + (32 - hex.size()), hex.data(), hex.size());
  return ParseHexId(std::string_view(padded, 32), *out);
}

std::string_view SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kInternal:
      return "SPAN_KIND_INTERNAL";
    case SpanKind::kServer:
      return "SPAN_KIND_SERVER";
    case SpanKind::kClient:
      return "SPAN_KIND_CLIENT";
    case SpanKind::kProducer:
      return "SPAN_KIND_PRODUCER";
    case SpanKind::kConsumer:
      return "SPAN_KIND_CONSUMER";
    case SpanKind::kUnspecified:
      break;
  }
  return "SPAN_KIND_UNSPECIFIED";
}

std::string_view SpanKindShortName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer:
      return "server";
    case SpanKind::kClient:
      return "client";
    case SpanKind::kProducer:
      return "producer";
    case SpanKind::kConsumer:
      return "consumer";
    case SpanKind::kInternal:
      return "internal";
    case SpanKind::kUnspecified:
      break;
  }
  return "";
}

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "STATUS_CODE_OK";
    case StatusCode::kError:
      return "STATUS_CODE_ERROR";
    case StatusCode::kUnset:
      break;
  }
  return "STATUS_CODE_UNSET";
}

}  // namespace ariadne::model
