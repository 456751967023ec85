// TLS for the HTTP listeners (docs/security.md): an OpenSSL server context
// built from TlsFiles, rebuilt when the files change so that a renewed
// certificate is served without a restart.
//
// Current() is called for every accepted connection; it looks at the files
// (stat: mtime, size, inode) at most once per `reload_interval` and, if any
// changed, builds a new context for the connections that follow (those open
// keep theirs). If the new files do not load (a renewal half written, a key
// that does not match), the previous context stays and `on_reload_error` is
// told; the next change is tried again.
//
// Threading: Current may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "serve/tls_files.h"

namespace boost::asio::ssl {
class context;
}

namespace ariadne::serve {

class TlsContext {
 public:
  struct Options {
    std::chrono::milliseconds reload_interval{1000};
    // Told when changed files fail to load (the old context stays), and with
    // OkStatus when a changed set loaded. May be null.
    std::function<void(const absl::Status&)> on_reload;
  };

  // Loads the files; InvalidArgument naming the file and the reason if they
  // do not make a usable server context.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(TlsFiles files, Options options);
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(TlsFiles files) {
    return Create(std::move(files), Options{});
  }

  // The context for a new connection.
  std::shared_ptr<boost::asio::ssl::context> Current();

  const TlsFiles& files() const { return files_; }
  uint64_t reloads() const;

  // Builds a server context from the files, as Create does.
  static absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> Load(const TlsFiles& files);

 private:
  struct Identity {
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const Identity&) const = default;
  };
  struct Identities {
    Identity cert, key, ca;
    bool operator==(const Identities&) const = default;
  };
  static Identities Look(const TlsFiles& files);

  TlsContext(TlsFiles files, Options options)
      : files_(std::move(files)), options_(std::move(options)) {}

  const TlsFiles files_;
  const Options options_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
  Identities seen_;                                     // guarded by mu_
  std::chrono::steady_clock::time_point next_look_;     // guarded by mu_
  uint64_t reloads_ = 0;                                // guarded by mu_
};

}  // namespace ariadne::serve
