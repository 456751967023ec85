// The KEDA actuator: a KEDA external scaler (gRPC service
// externalscaler.ExternalScaler, proto/keda/externalscaler.proto) that hands
// the controller's desired replicas to KEDA, which then scales the
// deployment through the HPA it manages. For clusters that already run KEDA
// and would rather not give Ariadne write access to deployments.
//
// A ScaledObject names the service in its trigger metadata
// (`service: cartservice`; without it, the ScaledObject's own name is the
// service). For that service:
//
//   GetMetricSpec  one metric, "ariadne-desired-replicas-<service>", with
//                  target 1 (targetSize and targetSizeFloat)
//   GetMetrics     the desired replicas as the metric's value: the HPA KEDA
//                  creates computes ceil(value / target) = the desired
//                  replicas (KEDA's minReplicaCount/maxReplicaCount still
//                  bound it)
//   IsActive       desired replicas > 0 (KEDA scales to zero, or to
//                  idleReplicaCount, when not active)
//   StreamIsActive the same, sent at once and then whenever it changes; the
//                  source is polled every `poll_interval`. The stream ends
//                  when the client cancels (seen within one interval), when
//                  the server shuts down (UNAVAILABLE), or after
//                  `max_stream_duration` (OK; KEDA opens a new one).
//
// Errors: INVALID_ARGUMENT when neither the metadata nor the ScaledObject
// names a service; NOT_FOUND when the source has no desired replicas for
// it; RESOURCE_EXHAUSTED beyond `max_streams` open streams; any other error
// of the source with its own code (absl and gRPC codes are the same).
//
// TLS when `options.tls` names a certificate (docs/security.md): KEDA's
// ScaledObject then sets `tlsCertFile` (and, with a client CA here, its
// client certificate); the files are re-read every second. No bearer token:
// KEDA's external scaler protocol sends none, so with TLS the client CA
// (mutual TLS) is what keeps strangers out.
//
// Threading: the source is called from gRPC's threads, concurrently; it must
// be thread-safe and must not block for long. Start and Shutdown are called
// from the owning thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "serve/tls_files.h"

namespace ariadne::control {

// The desired replicas of a service (the service name in spans, which is the
// deployment's name), or NotFound when there is no decision for it.
using DesiredReplicasSource = std::function<absl::StatusOr<int32_t>(std::string_view service)>;

struct KedaScalerOptions {
  // How often StreamIsActive polls the source.
  std::chrono::milliseconds poll_interval{1000};
  // Longest life of one StreamIsActive call.
  std::chrono::milliseconds max_stream_duration{std::chrono::hours(1)};
  // StreamIsActive calls open at once (each holds a server thread).
  int max_streams = 64;
  // TLS on the scaler's port; not enabled(): plaintext.
  serve::TlsFiles tls{};
};

class KedaScaler {
 public:
  KedaScaler(DesiredReplicasSource source, KedaScalerOptions options = {});
  ~KedaScaler();  // Shutdown(0)
  KedaScaler(const KedaScaler&) = delete;
  KedaScaler& operator=(const KedaScaler&) = delete;

  // Binds `address` ("host:port"; port 0 picks one) and starts serving.
  // InvalidArgument for options out of range, Unavailable if it cannot
  // listen, FailedPrecondition if called before (a KedaScaler serves once).
  [[nodiscard]] absl::Status Start(const std::string& address);
  int port() const { return port_; }
  // Ends the open streams, stops accepting, and waits (up to `deadline`)
  // for calls in flight. Idempotent.
  void Shutdown(std::chrono::milliseconds deadline);

  // "ariadne-desired-replicas-<service>".
  static std::string MetricName(std::string_view service);

  // StreamIsActive calls open now.
  int OpenStreamsForTest() const;

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<class KedaServerHolder> server_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace ariadne::control
