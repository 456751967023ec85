// Where simulated spans go: an OTLP endpoint (HTTP or gRPC) or a file.
//
// The engine hands over whole ExportTraceServiceRequest messages (protobuf
// bytes). Every sink keeps their order and loses none: a send that fails
// with a retryable answer (HTTP 429/502/503/504, gRPC UNAVAILABLE or
// RESOURCE_EXHAUSTED, connection errors) is retried with backoff (honouring
// Retry-After) until it succeeds or Close()'s deadline passes; a
// non-retryable answer (400, INVALID_ARGUMENT, ...) is counted as failed and
// logged once per kind.
//
// Threading: Send() and Close() from one thread (the simulation's). Sends
// happen on the sink's own threads; Send() blocks while `max_queued_bytes`
// are waiting (back-pressure), so a slow collector slows a fast run down
// rather than growing memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne::sim {

struct SinkStats {
  int64_t requests_sent = 0;    // accepted by the peer (or written)
  int64_t spans_sent = 0;
  int64_t spans_rejected = 0;   // partial success rejected_spans, or non-retryable failures
  int64_t retries = 0;
  int64_t bytes_sent = 0;
};

class SpanSink {
 public:
  virtual ~SpanSink() = default;
  // Queues one ExportTraceServiceRequest holding `spans` spans.
  virtual void Send(std::string request, int64_t spans) = 0;
  // Sends or writes everything queued, waiting at most `deadline`; then
  // stops the sink's threads. An error if something could not be delivered.
  virtual absl::Status Close(std::chrono::milliseconds deadline) = 0;
  virtual SinkStats stats() const = 0;  // thread-safe
};

struct SinkOptions {
  int connections = 2;                    // parallel HTTP connections / gRPC streams
  int64_t max_queued_bytes = 64 << 20;
  std::chrono::milliseconds request_timeout{10'000};
  bool gzip = false;                      // HTTP only: Content-Encoding: gzip
};

// Opens a sink for `target`:
//   http://host:port[/path]   OTLP/HTTP protobuf, POST to /v1/traces unless a path is given
//   grpc://host:port          OTLP/gRPC (plaintext)
//   file:PATH or a bare PATH  PATH ending in ".jsonl" or ".json": OTLP/JSON, one
//                             TracesData per line (the Collector file exporter's
//                             format); otherwise protobuf, each message preceded
//                             by its length as a 4-byte big-endian integer.
//   "-"                       OTLP/JSON lines on standard output
// InvalidArgument for a malformed target; file errors as returned by the OS.
absl::StatusOr<std::unique_ptr<SpanSink>> OpenSink(std::string_view target,
                                                   const SinkOptions& options);

}  // namespace ariadne::sim
