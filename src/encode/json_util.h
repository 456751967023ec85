// Small helpers shared by the JSON encoders (OTLP/JSON and Jaeger).
//
// All strings from spans go through WriteJsonString, which replaces invalid
// UTF-8 with U+FFFD so the output is always valid JSON; RapidJSON's Writer
// escapes quotes, backslashes and control characters.
//
// Threading: pure functions; call them from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace ariadne::encode {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace internal {

// Returns `s` itself if it is valid UTF-8; otherwise fills `*scratch` with a
// copy in which every maximal invalid subsequence (as Unicode 15, section
// 3.9, defines it) is replaced by U+FFFD, and returns a view of it.
std::string_view SanitizeUtf8(std::string_view s, std::string* scratch);

// A JSON string with the UTF-8 of `s` sanitized.
void WriteJsonString(JsonWriter* w, std::string_view s);
// Lower-case hex of raw bytes (trace and span ids), as a JSON string.
void WriteJsonHex(JsonWriter* w, std::span<const uint8_t> bytes);
// Decimal integers as JSON strings (OTLP/JSON 64-bit integers).
void WriteJsonUint64String(JsonWriter* w, uint64_t v);
void WriteJsonInt64String(JsonWriter* w, int64_t v);
// A finite double as a JSON number; NaN and infinities, which JSON cannot
// represent, as the strings "NaN", "Infinity" and "-Infinity" (what the
// protobuf JSON mapping does). Returns false for the string forms.
bool WriteJsonDouble(JsonWriter* w, double d);
// Standard base64 with padding, as a JSON string.
void WriteJsonBase64(JsonWriter* w, std::string_view bytes);

}  // namespace internal
}  // namespace ariadne::encode
