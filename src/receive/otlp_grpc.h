// OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export.
//
// Served through gRPC's generic callback API so the request arrives as raw
// bytes for the zero-copy decoder (no generated message classes on the hot
// path). Answers: OK with partial_success; INVALID_ARGUMENT for a malformed
// request; RESOURCE_EXHAUSTED when over the admission budget; UNAVAILABLE if
// the log cannot write; UNIMPLEMENTED for any other method.
//
// Security (docs/security.md): with TLS files the port speaks TLS only
// (certificates re-read every second); with ingest tokens a call without a
// valid "authorization: Bearer <token>" metadata ends UNAUTHENTICATED
// ("unauthorized") as soon as it arrives, before its message is decoded.
//
// Threading: gRPC's threads run the reactors; Start and Shutdown are called
// from the owning thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/admission.h"
#include "common/auth.h"
#include "receive/http_receivers.h"
#include "receive/sink.h"
#include "serve/tls_files.h"

namespace ariadne::receive {

struct GrpcSecurity {
  serve::TlsFiles tls;         // not enabled(): plaintext
  TokenSet* tokens = nullptr;  // not owned; null or open: no authentication
};

class OtlpGrpcReceiver {
 public:
  OtlpGrpcReceiver(SpanSink* ingester, ReceiverOptions options, Admission* admission,
                   GrpcSecurity security = {});
  ~OtlpGrpcReceiver();

  // Binds `address` ("host:port"; port 0 picks one) and starts serving.
  absl::Status Start(const std::string& address);
  int port() const { return port_; }
  // Stops accepting and waits (up to `deadline_seconds`) for calls in flight.
  void Shutdown(int deadline_seconds);

 private:
  class Service;
  std::unique_ptr<Service> service_;
  const uint64_t admission_limit_;
  const serve::TlsFiles tls_;
  std::unique_ptr<class GrpcServerHolder> server_;
  int port_ = 0;
};

}  // namespace ariadne::receive
