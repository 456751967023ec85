// Pieces shared by the three decoders: where an element is (for messages),
// undoing what a rejected span added to a batch, and the per-span error
// bookkeeping of DecodeStats.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "decode/decode.h"
#include "model/span_batch.h"

namespace ariadne::decode::internal {

// absl::StrCat / absl::StrAppend that also take std::string_view (Debian's
// Abseil has its own absl::string_view).
template <typename T>
const T& ToAlphaNum(const T& v) {
  return v;
}
inline absl::string_view ToAlphaNum(std::string_view v) { return AbslView(v); }
template <typename... Args>
[[nodiscard]] std::string Cat(const Args&... args) {
  return absl::StrCat(ToAlphaNum(args)...);
}
template <typename... Args>
void Append(std::string* out, const Args&... args) {
  absl::StrAppend(out, ToAlphaNum(args)...);
}

// Longest DecodeStats::error_message we write.
inline constexpr size_t kMaxErrorMessage = 300;

// Deepest array/kvlist nesting we follow whatever Limits says, so that the
// recursion depth stays bounded.
inline constexpr uint32_t kMaxSupportedValueDepth = 128;

// The element being decoded, e.g. "resource_spans[0].scope_spans[1].spans[3]".
// Decoders push an entry when they enter an element and truncate back when
// they leave it; when a decoder unwinds on a malformed request the path still
// names the element that was being read.
class Path {
 public:
  // `name` must be a string literal (it is kept by pointer).
  void Push(const char* name, int64_t index = -1) {
    if (depth_ < kMaxEntries) entries_[depth_] = {name, index};
    ++depth_;
  }
  int depth() const { return depth_; }
  void Truncate(int depth) { depth_ = depth; }
  std::string ToString() const;

 private:
  struct Entry {
    const char* name;
    int64_t index;  // -1 for a field that is not repeated
  };
  static constexpr int kMaxEntries = 48;
  std::array<Entry, kMaxEntries> entries_{};
  int depth_ = 0;
};

// Sizes of a batch's side tables, to drop what a rejected span, scope or
// resource added to them.
struct TableMark {
  size_t attributes = 0;
  size_t array_items = 0;
  size_t events = 0;
  size_t links = 0;
};
[[nodiscard]] TableMark Mark(const model::SpanBatch& batch);
void Rollback(const TableMark& mark, model::SpanBatch* batch);

// Reserves room for `spans` more spans in every span column, but no more
// than `body_bytes / min_span_bytes` (the most valid spans the body can
// hold), so a body of many tiny invalid spans cannot make it reserve much.
void ReserveSpans(size_t spans, size_t body_bytes, size_t min_span_bytes, model::SpanBatch* batch);

// Value of the first string attribute "service.name" in `attributes`, "".
[[nodiscard]] std::string_view FindServiceName(const model::SpanBatch& batch,
                                               model::Range attributes);

// `s` in double quotes, with non-printable and non-ASCII bytes escaped as
// \xNN and cut after a few dozen bytes: safe to put in any message.
[[nodiscard]] std::string Quote(std::string_view s);

// "span has 10000 attributes, over the limit of 1024
// (limits.max_attributes_per_span)".
[[nodiscard]] std::string TooMany(std::string_view owner, size_t count, std::string_view what,
                                  uint32_t limit, std::string_view limit_key);

// Problem with an id of the wrong size or all zero, or "" if `id` is fine.
// `field` names the id in the message ("trace_id", "links[0].span_id").
[[nodiscard]] std::string CheckId(std::string_view field, std::string_view id, size_t size);

// Per-span error bookkeeping: a decoder notes the problem of the unit it is
// decoding (a span, or a scope or resource with all its spans), then commits
// the rejection with the number of spans it covers. Only the first problem of
// a request becomes DecodeStats::error_message; later ones are not formatted.
class Rejections {
 public:
  explicit Rejections(DecodeStats* stats) : stats_(*stats) {}

  // True if a problem noted now would become the error message.
  bool WantsMessage() const { return stats_.error_message.empty() && pending_.empty(); }
  // Notes a problem at `path`. `trace_id` is the raw 16-byte id of the span,
  // or "" when not known. Always returns false, so a decoder can write
  // `return rejections_.Note(...)`.
  bool Note(const Path& path, std::string_view trace_id, std::string_view problem);
  // Counts `spans` rejected spans for the noted problem. `scope_word` names
  // the unit when it is not one span ("resource", "scope").
  void Commit(int64_t spans, std::string_view scope_word = {});
  void Accept() { ++stats_.accepted_spans; }

 private:
  DecodeStats& stats_;
  std::string pending_;
};

}  // namespace ariadne::decode::internal
