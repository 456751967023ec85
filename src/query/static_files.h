// StaticFiles: the web UI's built assets (ui/dist), served by the query
// listener for every GET that is not an API path (docs/ui.md).
//
// A request path maps to a regular file under the root; "/" and paths with
// no file (the UI's own routes, /search, /trace/<id>) get the root's
// index.html, so links into the single-page app work. Paths with "..",
// backslashes or NUL never leave the root; symbolic links are not followed
// out of it. Files are read on each request (the UI is small and the page
// cache keeps them; a rebuilt UI is served without a restart). Hashed asset
// names (Vite's /assets/name-HASH.js) are cached for a year; index.html is
// revalidated every time.
//
// Threading: const and stateless after construction; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "serve/http_server.h"

namespace ariadne::query {

class StaticFiles {
 public:
  // `root`: a directory; it need not exist yet (then every request gets a
  // 404 that says the UI is not built).
  explicit StaticFiles(std::string root);

  // The answer for GET `path` (percent-decoded, without the query string).
  serve::HttpResponse Serve(std::string_view path) const;

  const std::string& root() const { return root_; }

  // The Content-Type for a file name, by its extension.
  static std::string_view ContentType(std::string_view name);

 private:
  std::optional<std::string> Read(std::string_view relative) const;

  std::string root_;
};

}  // namespace ariadne::query
