#include "query/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <utility>


namespace ariadne::query {
namespace {

constexpr size_t kMaxFileBytes = 64 << 20;

// A path whose segments stay within the root: no "..", no empty or "."
// segments that could hide one, no backslash or NUL.
bool SafeRelative(std::string_view rel) {
  if (rel.empty()) return false;
  if (rel.find('\0') != std::string_view::npos || rel.find('\\') != std::string_view::npos) {
    return false;
  }
  while (true) {
    const size_t slash = rel.find('/');
    const std::string_view seg = rel.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) return true;
    rel.remove_prefix(slash + 1);
  }
}

// Canonical absolute path, or "" when it does not exist.
std::string Canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

serve::HttpResponse NotFound(std::string message) {
  return {404, "text/plain; charset=utf-8", std::move(message), {}};
}

}  // namespace

StaticFiles::StaticFiles(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string_view StaticFiles::ContentType(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".webp", "image/webp"},
      {".wasm", "application/wasm"},
  }};
  std::string lower(name.substr(name.size() > 6 ? name.size() - 6 : 0));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [ext, type] : kTypes) {
    if (std::string_view(lower).ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

std::optional<std::string> StaticFiles::Read(std::string_view relative) const {
  const std::string root = Canonical(root_);
  if (root.empty()) return std::nullopt;
  const std::string path = Canonical(root_ + "/" + std::string(relative));
  // Symbolic links may point anywhere; the file must still be inside the root.
  if (path.empty() || !path.starts_with(root + "/")) return std::nullopt;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    close(fd);
    return std::nullopt;
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  data.resize(done);
  return data;
}

serve::HttpResponse StaticFiles::Serve(std::string_view path) const {
  std::string_view rel = path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  if (!rel.empty() && SafeRelative(rel)) {
    if (auto data = Read(rel)) {
      serve::HttpResponse r{200, std::string(ContentType(rel)), *std::move(data), {}};
      r.headers.emplace_back("Cache-Control", rel.starts_with("assets/")
                                                  ? "public, max-age=31536000, immutable"
                                                  : "no-cache");
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return r;
    }
    // A missing asset is a 404, not the app: a stale page asking for an old
    // bundle should fail visibly rather than get HTML as JavaScript.
    if (rel.starts_with("assets/")) return NotFound("no such file\n");
  }
  auto index = Read("index.html");
  if (!index) {
    return NotFound(
        "the web UI is not built here: run `npm ci && npm run build` in ui/ (./setup.sh build "
        "does), or point --ui-dir at a built copy; the API is under /api/\n");
  }
  serve::HttpResponse r{200, "text/html; charset=utf-8", *std::move(index), {}};
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace ariadne::query
