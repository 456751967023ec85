// Helpers for the Prometheus text exposition format (/metrics).
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

namespace ariadne {

// A number as Prometheus reads it exactly: the shortest round-trip form,
// "+Inf", "-Inf" or "NaN".
inline void AppendNumber(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, ptr);
  }
}

// A label value with backslash, double quote and newline escaped.
inline void AppendLabelValue(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace ariadne
