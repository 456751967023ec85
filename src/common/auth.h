// Bearer-token authentication (docs/security.md): the tokens one scope
// (ingest, query, admin) accepts, from a static list and/or from files.
//
// A token file holds one token per line (blank lines and surrounding
// whitespace ignored); it is read when the set is created and read again when
// its mtime, size or inode changes, looked at no more often than
// `reload_interval`, so a token is rotated by rewriting (or renaming over) the
// file, without a restart. A file that cannot be read on a later look keeps
// its previous tokens (a rotation half done must not lock everybody out).
//
// Only SHA-256 digests of the tokens are kept. A presented token is hashed
// and compared with every accepted digest by CRYPTO_memcmp, without an early
// exit: neither the length of an accepted token nor how much of one matched
// shows in the time a check takes.
//
// A set with no static tokens and no files is open: it accepts anything
// (today's behaviour when nothing is configured). A set with files that
// happen to be empty accepts nothing.
//
// Tenants (docs/security.md#tenants): with `tenant_bound`, a token (static or
// a file's line) written "<tenant>:<token>" is valid for that tenant only; a
// token without a tenant prefix (or with an empty one, ":<token>", for a
// token that itself holds a colon) is valid for every tenant, as a trusted
// proxy's would be. Check(authorization, tenant) accepts a bound token only
// with its own tenant.
//
// Threading: Check may be called from any thread, concurrently.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne {

struct TokenSetOptions {
  std::string scope;                     // for messages: "ingest", "query", "admin"
  std::vector<std::string> tokens;       // static tokens
  std::vector<std::string> token_files;  // one token per line
  // Files are looked at (stat) at most this often when Check is called.
  std::chrono::milliseconds reload_interval{1000};
  // Entries may be "<tenant>:<token>" (see above).
  bool tenant_bound = false;
};

class TokenSet {
 public:
  using Digest = std::array<unsigned char, 32>;

  // InvalidArgument for an empty static token, NotFound/PermissionDenied
  // naming the file for a token file that cannot be read.
  static absl::StatusOr<std::unique_ptr<TokenSet>> Create(TokenSetOptions options);

  // True if nothing is configured: every request passes.
  bool open() const { return open_; }
  const std::string& scope() const { return options_.scope; }

  // `authorization` is the whole Authorization header (or gRPC
  // "authorization" metadata) value: "Bearer <token>", the scheme
  // case-insensitive. True if the set is open or the token is accepted for
  // `tenant` (any token not bound to a tenant is).
  bool Check(std::string_view authorization, std::string_view tenant = {});
  // The same for a bare token.
  bool CheckToken(std::string_view token, std::string_view tenant = {});

  // Requests refused since the start.
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  // Times a token file was read again because it changed, and reads that
  // failed (the previous tokens were kept).
  uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t reload_failures() const { return reload_failures_.load(std::memory_order_relaxed); }

  static Digest Sha256(std::string_view data);
  // Equal-length digests compared in constant time.
  static bool DigestsEqual(const Digest& a, const Digest& b);

  // An accepted token: its digest and the tenant it is bound to ("" for any).
  struct Entry {
    Digest digest;
    std::string tenant;
  };

 private:
  struct FileState {
    std::string path;
    // What identifies a version of the file; any change triggers a read.
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    std::vector<Entry> entries;
  };

  explicit TokenSet(TokenSetOptions options);
  // Re-reads the files whose identity changed, if reload_interval has passed.
  void MaybeReload();
  void Rebuild();  // digests_ from static_ and files_; needs mu_

  const TokenSetOptions options_;
  const bool open_;
  std::vector<Entry> static_;

  std::mutex mu_;
  std::vector<FileState> files_;                        // guarded by mu_
  std::shared_ptr<const std::vector<Entry>> entries_;  // guarded by mu_
  // When the files are next looked at (steady clock, ns); read without mu_
  // so that a check between looks takes no lock for it.
  std::atomic<int64_t> next_look_ns_{0};

  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_failures_{0};
};

// The token of an Authorization header value "Bearer <token>", or "" if the
// value is not of that form.
std::string_view BearerToken(std::string_view authorization);

}  // namespace ariadne
