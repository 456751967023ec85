// UTF-8 validation for every string a decoder keeps.
//
// Most strings in spans are short and pure ASCII, so the check first scans
// eight bytes at a time for a set high bit and only hands the rest of the
// string to the SIMD validator when it finds one.
//
// Threading: pure functions; call them from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ariadne::decode {

namespace internal {
// Validates [data, data + size) with the SIMD validator.
[[nodiscard]] bool ValidateUtf8NonAscii(const char* data, size_t size);
}  // namespace internal

// True if `s` is well-formed UTF-8 (RFC 3629: shortest form, no surrogates,
// nothing above U+10FFFF).
[[nodiscard]] inline bool IsValidUtf8(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    if (word & 0x8080808080808080ULL) break;
    p += 8;
    n -= 8;
  }
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) >= 0x80) {
      // Everything before p + i is ASCII, so p + i starts a character.
      return internal::ValidateUtf8NonAscii(p + i, n - i);
    }
  }
  return true;
}

}  // namespace ariadne::decode
