#include "encode/json_util.h"

#include <charconv>
#include <cmath>

#include "model/value_format.h"

namespace ariadne::encode::internal {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes
// there are not one. When 0, `*invalid_len` is the length of the maximal
// subpart to replace (at least 1).
size_t ValidSequenceLength(std::string_view s, size_t i, size_t* invalid_len) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t need;        // continuation bytes
  uint8_t lo = 0x80;  // allowed range of the first continuation byte
  uint8_t hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *invalid_len = 1;
    return 0;
  }
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) break;
    const uint8_t b = byte(i + k);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
  }
  if (k > need) return need + 1;
  *invalid_len = k;
  return 0;
}

}  // namespace

std::string_view SanitizeUtf8(std::string_view s, std::string* scratch) {
  size_t i = 0;
  size_t invalid_len = 0;
  // Fast path: scan while valid.
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = ValidSequenceLength(s, i, &invalid_len);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;

  scratch->clear();
  scratch->reserve(s.size() + 16);
  scratch->append(s.data(), i);
  while (i < s.size()) {
    const size_t n = ValidSequenceLength(s, i, &invalid_len);
    if (n == 0) {
      scratch->append(kReplacement);
      i += invalid_len;
    } else {
      scratch->append(s.data() + i, n);
      i += n;
    }
  }
  return *scratch;
}

void WriteJsonString(JsonWriter* w, std::string_view s) {
  std::string scratch;
  const std::string_view v = SanitizeUtf8(s, &scratch);
  w->String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void WriteJsonHex(JsonWriter* w, std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[64];
  size_t n = 0;
  for (uint8_t b : bytes) {
    if (n + 2 > sizeof(buf)) break;  // ids are 8 or 16 bytes
    buf[n++] = kHex[b >> 4];
    buf[n++] = kHex[b & 0xF];
  }
  w->String(buf, static_cast<rapidjson::SizeType>(n));
}

void WriteJsonUint64String(JsonWriter* w, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  w->String(buf, static_cast<rapidjson::SizeType>(end - buf));
}

void WriteJsonInt64String(JsonWriter* w, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  w->String(buf, static_cast<rapidjson::SizeType>(end - buf));
}

bool WriteJsonDouble(JsonWriter* w, double d) {
  if (std::isnan(d)) {
    w->String("NaN", 3);
    return false;
  }
  if (std::isinf(d)) {
    if (d > 0) {
      w->String("Infinity", 8);
    } else {
      w->String("-Infinity", 9);
    }
    return false;
  }
  w->Double(d);
  return true;
}

void WriteJsonBase64(JsonWriter* w, std::string_view bytes) {
  const std::string b64 = model::Base64Encode(bytes);
  w->String(b64.data(), static_cast<rapidjson::SizeType>(b64.size()));
}

}  // namespace ariadne::encode::internal
