#include "receive/gzip.h"

#include <zlib.h>

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace ariadne::receive {

absl::StatusOr<std::string> Gunzip(std::string_view compressed, uint64_t max_bytes) {
  z_stream zs{};
  // 15 window bits + 32: detect gzip or zlib headers automatically.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("inflateInit2 failed");
  std::string out;
  out.resize(std::min<uint64_t>(std::max<size_t>(compressed.size() * 4, 4096), max_bytes + 1));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (produced == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min<uint64_t>(out.size() * 2, max_bytes + 1));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended early
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
  std::string message = zs.msg != nullptr ? zs.msg : "";
  inflateEnd(&zs);
  if (produced > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("gzip body inflates to more than ", max_bytes,
                                                     " bytes (limits.max_request_bytes)"));
  }
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        rc == Z_BUF_ERROR || rc == Z_OK
            ? std::string("invalid gzip body: stream is truncated")
            : absl::StrCat("invalid gzip body: ", message.empty() ? "corrupt data" : message));
  }
  out.resize(produced);
  return out;
}

std::string Gzip(std::string_view data, int level) {
  if (data.size() > UINT32_MAX) return {};
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);  // deflateBound leaves room for everything
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return {};
  return out;
}

}  // namespace ariadne::receive
