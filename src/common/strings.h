// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view); these convert between the two without copying.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace ariadne {

inline std::string_view StdView(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace ariadne
