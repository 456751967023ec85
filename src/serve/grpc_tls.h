// Server credentials for the gRPC listeners (OTLP/gRPC, the KEDA scaler):
// insecure without TLS files, otherwise TLS from the files through gRPC's
// FileWatcherCertificateProvider, which reads them again every second, so a
// renewed certificate is served without a restart (as on the HTTP
// listeners). With a client CA, client certificates are required and
// verified against it.
#pragma once

#include <memory>

#include "serve/tls_files.h"

namespace grpc {
class ServerCredentials;
}

namespace ariadne::serve {

std::shared_ptr<grpc::ServerCredentials> GrpcServerCredentials(const TlsFiles& files);

// The gRPC metadata key that carries "Bearer <token>" (gRPC lower-cases
// metadata keys), for the receivers that check tokens.
inline constexpr char kGrpcAuthorizationKey[] = "authorization";

}  // namespace ariadne::serve
