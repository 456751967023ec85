#include "common/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ariadne {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t ToNanos(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

absl::Status FileError(const std::string& scope, const std::string& path, int err) {
  const std::string message = absl::StrCat("auth.", scope, "_token_files: cannot read \"", path,
                                           "\": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

TokenSet::Entry MakeEntry(std::string_view text, bool tenant_bound);

// Reads a token file: its identity and the digests of its tokens.
absl::Status ReadTokenFile(const std::string& scope, const std::string& path, bool tenant_bound,
                           int64_t* mtime_ns, int64_t* size, uint64_t* inode,
                           std::vector<TokenSet::Entry>* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FileError(scope, path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return FileError(scope, path, err);
  }
  std::string content;
  char buf[4096];
  // Bounded: a token file is small; a huge one is a mistake, not a token list.
  constexpr size_t kMaxBytes = 1 << 20;
  while (content.size() <= kMaxBytes) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return FileError(scope, path, err);
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (content.size() > kMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("auth.", scope, "_token_files: \"", path,
                                                   "\" is over 1 MiB; want one token per line"));
  }
  out->clear();
  std::string_view rest = content;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = Trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty()) out->push_back(MakeEntry(line, tenant_bound));
  }
  *mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  *size = static_cast<int64_t>(st.st_size);
  *inode = static_cast<uint64_t>(st.st_ino);
  return absl::OkStatus();
}

// An entry from its text: "<tenant>:<token>" binds when `tenant_bound`.
TokenSet::Entry MakeEntry(std::string_view text, bool tenant_bound) {
  TokenSet::Entry e;
  if (tenant_bound) {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
      e.tenant = std::string(text.substr(0, colon));
      text.remove_prefix(colon + 1);
    }
  }
  e.digest = TokenSet::Sha256(text);
  return e;
}

}  // namespace

std::string_view BearerToken(std::string_view authorization) {
  authorization = Trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  if (!IsSpace(authorization[kScheme.size()])) return {};
  return Trim(authorization.substr(kScheme.size()));
}

TokenSet::Digest TokenSet::Sha256(std::string_view data) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

bool TokenSet::DigestsEqual(const Digest& a, const Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::unique_ptr<TokenSet>> TokenSet::Create(TokenSetOptions options) {
  for (const std::string& t : options.tokens) {
    if (Trim(t).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth.", options.scope, "_tokens: a token is empty"));
    }
    if (Trim(t).size() != t.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth.", options.scope, "_tokens: a token starts or ends with whitespace"));
    }
  }
  std::unique_ptr<TokenSet> set(new TokenSet(std::move(options)));
  std::lock_guard lock(set->mu_);
  for (FileState& f : set->files_) {
    if (auto s =
            ReadTokenFile(set->options_.scope, f.path, set->options_.tenant_bound, &f.mtime_ns,
                          &f.size, &f.inode, &f.entries);
        !s.ok()) {
      return s;
    }
  }
  set->Rebuild();
  set->next_look_ns_.store(SteadyNanos() + ToNanos(set->options_.reload_interval));
  return set;
}

TokenSet::TokenSet(TokenSetOptions options)
    : options_(std::move(options)), open_(options_.tokens.empty() && options_.token_files.empty()) {
  for (const std::string& t : options_.tokens) static_.push_back(MakeEntry(t, options_.tenant_bound));
  for (const std::string& path : options_.token_files) {
    files_.emplace_back();
    files_.back().path = path;
  }
}

void TokenSet::Rebuild() {
  auto all = std::make_shared<std::vector<Entry>>(static_);
  for (const FileState& f : files_) all->insert(all->end(), f.entries.begin(), f.entries.end());
  entries_ = std::move(all);
}

void TokenSet::MaybeReload() {
  const int64_t now = SteadyNanos();
  if (now < next_look_ns_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);
  if (now < next_look_ns_.load(std::memory_order_relaxed)) return;  // another thread looked
  next_look_ns_.store(now + ToNanos(options_.reload_interval), std::memory_order_relaxed);
  bool changed = false;
  for (FileState& f : files_) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0) {
      // Gone for now (e.g. between an unlink and a rename): keep the tokens.
      reload_failures_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const int64_t mtime_ns =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (mtime_ns == f.mtime_ns && static_cast<int64_t>(st.st_size) == f.size &&
        static_cast<uint64_t>(st.st_ino) == f.inode) {
      continue;
    }
    FileState next;
    next.path = f.path;
    if (!ReadTokenFile(options_.scope, f.path, options_.tenant_bound, &next.mtime_ns, &next.size,
                       &next.inode, &next.entries)
             .ok()) {
      reload_failures_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    f = std::move(next);
    changed = true;
    reloads_.fetch_add(1, std::memory_order_relaxed);
  }
  if (changed) Rebuild();
}

bool TokenSet::Check(std::string_view authorization, std::string_view tenant) {
  if (open_) return true;
  return CheckToken(BearerToken(authorization), tenant);
}

bool TokenSet::CheckToken(std::string_view token, std::string_view tenant) {
  if (open_) return true;
  if (!options_.token_files.empty()) MaybeReload();
  std::shared_ptr<const std::vector<Entry>> entries;
  {
    std::lock_guard lock(mu_);
    entries = entries_;
  }
  // Hashed even when empty, so that a missing token costs what a wrong one does.
  const Digest presented = Sha256(token);
  bool match = false;
  // Every digest is compared (no early exit); the tenant is not a secret.
  for (const Entry& e : *entries) {
    match |= DigestsEqual(presented, e.digest) && (e.tenant.empty() || e.tenant == tenant);
  }
  match &= !token.empty();
  if (!match) rejected_.fetch_add(1, std::memory_order_relaxed);
  return match;
}

}  // namespace ariadne
