// libFuzzer target: ParseQueryRangeResponse (analytics/prom_client.h), the
// reading of a Prometheus query answer, on arbitrary bytes. It must answer
// series or an error with a message, never crash. An error is
// InvalidArgument unless it is Prometheus' own ("status":"error"), which
// carries its errorType payload. Series have labels sorted by name with
// unique names and finite times; parsing is deterministic.
//
// The fuzz build compiles prom_response.cc and series_store.cc alone
// (test/fuzz/CMakeLists.txt), without the rest of analytics.
//
// Threading: single-threaded, as libFuzzer calls it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "analytics/prom_client.h"
#include "common/strings.h"

namespace {

bool SameValue(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ariadne::analytics::ParseQueryRangeResponse;
  using ariadne::analytics::PromSeries;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto result = ParseQueryRangeResponse(bytes);
  const auto again = ParseQueryRangeResponse(bytes);
  if (result.ok() != again.ok()) std::abort();
  if (!result.ok()) {
    const absl::Status& s = result.status();
    if (s.message().empty()) std::abort();
    const bool prometheus_error =
        s.GetPayload(ariadne::AbslView(ariadne::analytics::kPromErrorTypePayload)).has_value();
    if (!prometheus_error && s.code() != absl::StatusCode::kInvalidArgument) std::abort();
    if (again.status() != s) std::abort();
    return 0;
  }
  if (result->size() != again->size()) std::abort();
  for (size_t i = 0; i < result->size(); ++i) {
    const PromSeries& series = (*result)[i];
    const PromSeries& other = (*again)[i];
    for (size_t l = 1; l < series.labels.size(); ++l) {
      if (!(series.labels[l - 1].first < series.labels[l].first)) std::abort();
    }
    if (series.labels != other.labels || series.samples.size() != other.samples.size()) {
      std::abort();
    }
    for (size_t k = 0; k < series.samples.size(); ++k) {
      const auto [t, v] = series.samples[k];
      if (!std::isfinite(t)) std::abort();
      if (t != other.samples[k].first || !SameValue(v, other.samples[k].second)) std::abort();
    }
  }
  return 0;
}
