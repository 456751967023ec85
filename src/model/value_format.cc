#include "model/value_format.h"

#include <charconv>
#include <cmath>

#include "common/json_string.h"

namespace ariadne::model {
namespace {

void AppendJsonString(std::string_view s, std::string* out) { ::ariadne::AppendJsonString(out, s); }

void AppendDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(d)) {
    out->append(d > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  out->append(buf, end);
}

void AppendValue(const SpanBatch& batch, const AnyValue& v, bool as_json, std::string* out) {
  switch (v.type) {
    case ValueType::kEmpty:
      if (as_json) out->append("null");
      return;
    case ValueType::kString:
      if (as_json) {
        AppendJsonString(v.bytes, out);
      } else {
        out->append(v.bytes);
      }
      return;
    case ValueType::kBool:
      out->append(v.bool_value ? "true" : "false");
      return;
    case ValueType::kInt:
      out->append(std::to_string(v.int_value));
      return;
    case ValueType::kDouble:
      if (as_json && !std::isfinite(v.double_value)) {
        out->push_back('"');
        AppendDouble(v.double_value, out);
        out->push_back('"');
      } else {
        AppendDouble(v.double_value, out);
      }
      return;
    case ValueType::kBytes:
      if (as_json) {
        AppendJsonString(Base64Encode(v.bytes), out);
      } else {
        out->append(Base64Encode(v.bytes));
      }
      return;
    case ValueType::kArray: {
      out->push_back('[');
      for (uint32_t i = 0; i < v.children.count; ++i) {
        if (i) out->push_back(',');
        AppendValue(batch, batch.array_items[v.children.first + i], true, out);
      }
      out->push_back(']');
      return;
    }
    case ValueType::kKvList: {
      out->push_back('{');
      for (uint32_t i = 0; i < v.children.count; ++i) {
        if (i) out->push_back(',');
        const KeyValue& kv = batch.attributes[v.children.first + i];
        AppendJsonString(kv.key, out);
        out->push_back(':');
        AppendValue(batch, kv.value, true, out);
      }
      out->push_back('}');
      return;
    }
  }
}

}  // namespace

std::string ValueToString(const SpanBatch& batch, const AnyValue& value) {
  std::string out;
  AppendValue(batch, value, false, &out);
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.push_back(kAlphabet[n >> 6 & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[n >> 6 & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace ariadne::model
