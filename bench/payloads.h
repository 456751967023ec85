// Realistic OTLP export requests for the benchmarks, built once and kept
// pre-encoded so that the measurements see only parsing, decoding and
// ingesting, never encoding.
//
// The application is modelled on the OpenTelemetry demo (Online Boutique):
// ten services of five operations each, in five SDK languages, three pods per
// service. A trace has 5-50 spans: a frontend SERVER span at the root, calls
// to other services as CLIENT -> SERVER pairs, database CLIENT spans and
// INTERNAL spans, each with about ten attributes (strings, ints, a double, a
// bool), some events, and an error status on a few. A request carries whole
// traces, grouped into one ResourceSpans per (service, pod) and one
// ScopeSpans per instrumentation library, as a Collector forwards them.
//
// Everything is drawn from a seeded generator: the same options give the same
// bytes, except the timestamps, which are relative to `now_unix_nanos`.
//
// Threading: GeneratePayloads is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ariadne::bench {

struct PayloadOptions {
  int requests = 64;            // distinct requests
  int spans_per_request = 500;  // each request holds whole traces up to this many spans
  uint64_t seed = 1;
  uint64_t now_unix_nanos = 0;  // 0: the current time
};

struct Payload {
  std::string bytes;  // ExportTraceServiceRequest, protobuf encoding
  int64_t spans = 0;
  int64_t traces = 0;
};

struct PayloadSet {
  std::vector<Payload> payloads;
  int64_t spans = 0;
  int64_t traces = 0;
  int64_t bytes = 0;
  int64_t span_attributes = 0;  // attributes on spans (not resources or events)
  int64_t events = 0;
  int64_t error_spans = 0;
};

[[nodiscard]] PayloadSet GeneratePayloads(const PayloadOptions& options);

}  // namespace ariadne::bench
