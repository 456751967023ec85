// OTLP/HTTP (POST /v1/traces) and Zipkin v2 (POST /api/v2/spans) receivers.
//
// Answers follow the OTLP/HTTP specification: 200 with an
// ExportTraceServiceResponse in the request's encoding (partial success when
// spans were rejected); 400 with a google.rpc.Status naming the problem for a
// malformed request; 413 over the body limit; 415 for an unsupported content
// type or encoding; 429/503 with Retry-After when overloaded or the log
// cannot write. Zipkin answers 202 when spans were accepted.
//
// Threading: as HttpHandler.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/rate_limit.h"
#include "decode/decode.h"
#include "receive/sink.h"
#include "serve/http_server.h"

namespace ariadne::receive {

struct ReceiverOptions {
  decode::Limits limits;
  uint64_t max_request_bytes = 16 << 20;  // after decompression too
  int retry_after_seconds = 1;
  // Tenants (docs/security.md#tenants). `route`, if set, gives the sink of a
  // request's tenant (the tenant header's value, "" if absent): an error
  // refuses the request (InvalidArgument 400, Unauthenticated 401,
  // ResourceExhausted 429, anything else 503). Without it every batch goes
  // to the receiver's own sink, whose counters are always the ones counted.
  std::function<absl::StatusOr<SpanSink*>(std::string_view tenant)> route;
  // The gRPC metadata key of the tenant (lower case); "" = none.
  std::string tenant_metadata_key;
  // Spans per second per tenant (key "" without tenants); null = no limit.
  // Over the limit: 429 with Retry-After, or RESOURCE_EXHAUSTED with RetryInfo.
  RateLimiter* rate_limiter = nullptr;
};

// Where a decoded batch of `spans` spans for `tenant` goes: `own` or the
// routed sink, once the tenant's rate limit lets it (an empty batch goes to
// `own`, which must answer it OK). Refusals are counted in
// `counters`; a rate-limited one sets `retry_after_s` to the wait.
absl::StatusOr<SpanSink*> RouteBatch(SpanSink* own, const ReceiverOptions& options,
                                     std::string_view tenant, size_t spans,
                                     IngestCounters& counters, double* retry_after_s);
// The HTTP status of a refusal by RouteBatch or a sink.
int HttpStatusOfRefusal(const absl::Status& status);

class OtlpHttpHandler : public serve::HttpHandler {
 public:
  OtlpHttpHandler(SpanSink* ingester, ReceiverOptions options)
      : ingester_(ingester), options_(std::move(options)) {}
  void Handle(serve::HttpRequest request, serve::Responder respond) override;
  serve::HttpResponse ErrorResponse(int status, std::string message,
                                    std::string_view request_content_type) override;

 private:
  SpanSink* const ingester_;
  const ReceiverOptions options_;
};

class ZipkinHandler : public serve::HttpHandler {
 public:
  ZipkinHandler(SpanSink* ingester, ReceiverOptions options)
      : ingester_(ingester), options_(std::move(options)) {}
  void Handle(serve::HttpRequest request, serve::Responder respond) override;

 private:
  SpanSink* const ingester_;
  const ReceiverOptions options_;
};

// Protobuf encodings of the OTLP answers, shared with the gRPC receiver.
std::string EncodeExportResponse(int64_t rejected_spans, std::string_view error_message);
std::string EncodeRpcStatus(int code, std::string_view message);
// A google.rpc.Status whose details hold a google.rpc.RetryInfo: the OTLP
// exporters retry RESOURCE_EXHAUSTED only when it carries one.
std::string EncodeRpcStatusWithRetryInfo(int code, std::string_view message, double delay_s);

}  // namespace ariadne::receive
