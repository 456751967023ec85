// The analytics series over the query API (docs/api.md):
//
//   - the native series endpoints: /api/v1/series (points of the series a
//     name and label matchers select), /api/v1/series/names and
//     /api/v1/series/labels;
//   - Jaeger's Service Performance Monitoring endpoints, which the Jaeger
//     UI's Monitor tab reads: /api/metrics/{latencies,calls,errors}, answered
//     from the span-metrics series (latency_seconds, calls_per_second,
//     error_ratio) as Jaeger's MetricFamily JSON.
//
// Each function answers a JSON body, or InvalidArgument naming the bad
// parameter (the caller answers 400). Reads the series store only; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "analytics/analytics.h"
#include "serve/http_server.h"

namespace ariadne::query {

// GET /api/v1/series?name=N&<label>=<value>...&start=&end=&step=
absl::StatusOr<std::string> SeriesJson(const analytics::Analytics& analytics,
                                       const serve::HttpRequest& request, uint64_t now_nanos);
// GET /api/v1/series/names
std::string SeriesNamesJson(const analytics::Analytics& analytics);
// GET /api/v1/series/labels?name=N&label=L
absl::StatusOr<std::string> SeriesLabelValuesJson(const analytics::Analytics& analytics,
                                                  const serve::HttpRequest& request);

enum class JaegerMetric { kLatencies, kCalls, kErrors };
// GET /api/metrics/{latencies,calls,errors} with Jaeger's parameters.
absl::StatusOr<std::string> JaegerMetricsJson(const analytics::Analytics& analytics,
                                              JaegerMetric metric,
                                              const serve::HttpRequest& request,
                                              uint64_t now_nanos);

// A time as Unix seconds ("1700000000", "1700000000.25") or RFC 3339
// ("2026-11-24T01:02:03Z"), in Unix nanoseconds.
absl::StatusOr<uint64_t> ParseUnixSecondsOrRfc3339(std::string_view text);

// Unix nanoseconds as RFC 3339 in UTC, the way protobuf's JSON mapping
// writes a Timestamp: "2026-11-24T01:02:03Z", with 3, 6 or 9 fraction
// digits when the time is not a whole second.
std::string FormatRfc3339(uint64_t unix_nanos);

}  // namespace ariadne::query
