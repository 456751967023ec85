// The files of a listener's TLS identity (docs/security.md): a certificate
// chain and its private key (PEM), and optionally the CA certificates that
// client certificates must chain to (then a client certificate is required).
// No dependencies, so that the gRPC listeners can take it without Asio.
#pragma once

#include <string>

namespace ariadne::serve {

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // "": client certificates are not asked for

  bool enabled() const { return !cert_file.empty(); }
};

}  // namespace ariadne::serve
