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

#include "decode/decode.h"
#include "receive/sink.h"
#include "serve/http_server.h"

namespace ariadne::receive {

struct ReceiverOptions {
  decode::Limits limits;
  uint64_t max_request_bytes = 16 << 20;  // after decompression too
  int retry_after_seconds = 1;
};

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

}  // namespace ariadne::receive
