#include "query/params.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace ariadne::query {

absl::StatusOr<uint64_t> ParseUint(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text), "\" is not a non-negative integer"));
  }
  return v;
}

absl::StatusOr<uint64_t> ParseDurationNanos(std::string_view text) {
  auto error = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", std::string(text), "\" is not a duration (examples: 1.5s, 100ms, 250us, 1h30m)"));
  };
  if (text.empty()) return error();
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    auto us = ParseUint(text);
    if (!us.ok()) return error();
    return *us * 1000;
  }
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t n = 0;
    while (n < rest.size() && ((rest[n] >= '0' && rest[n] <= '9') || rest[n] == '.')) ++n;
    if (n == 0) return error();
    double value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + n, value);
    if (ec != std::errc() || end != rest.data() + n) return error();
    rest.remove_prefix(n);
    size_t u = 0;
    while (u < rest.size() && !((rest[u] >= '0' && rest[u] <= '9') || rest[u] == '.')) ++u;
    std::string_view unit = rest.substr(0, u);
    rest.remove_prefix(u);
    double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit == "d")
      scale = 86400e9;
    else
      return error();
    total += value * scale;
  }
  if (!(total < 1.8e19)) return error();
  return static_cast<uint64_t>(std::llround(total));
}

absl::StatusOr<uint64_t> ParseTimeNanos(std::string_view text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    auto us = ParseUint(text);
    if (!us.ok()) return us.status();
    return *us * 1000;
  }
  auto error = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", std::string(text),
        "\" is not a time (RFC 3339 like 2026-11-24T01:02:03Z, or Unix microseconds)"));
  };
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (text.size() < 20) return error();
  auto digits = [&](size_t pos, size_t len, int* out) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, &year) || text[4] != '-' || !digits(5, 2, &month) || text[7] != '-' ||
      !digits(8, 2, &day) || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !digits(11, 2, &hour) || text[13] != ':' || !digits(14, 2, &minute) || text[16] != ':' ||
      !digits(17, 2, &second)) {
    return error();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return error();
  }
  size_t pos = 19;
  uint64_t frac_nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    uint64_t scale = 100000000;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      frac_nanos += static_cast<uint64_t>(text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return error();
  }
  int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') &&
             text[pos + 3] == ':') {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || !digits(pos + 4, 2, &om)) return error();
    offset_seconds = (oh * 3600 + om * 60) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return error();
  }
  if (pos != text.size()) return error();
  // Days from civil (proleptic Gregorian), after H. Hinnant's algorithm.
  const int y = year - (month <= 2);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  if (seconds < 0) return error();
  return static_cast<uint64_t>(seconds) * 1000000000ull + frac_nanos;
}

absl::Status ParseTagsJson(std::string_view json,
                           std::vector<std::pair<std::string, std::string>>* out) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tags are not valid JSON: ", rapidjson::GetParseError_En(doc.GetParseError()),
                     " at offset ", doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) {
    return absl::InvalidArgumentError("tags must be a JSON object like {\"key\":\"value\"}");
  }
  for (auto& m : doc.GetObject()) {
    std::string value;
    const auto& v = m.value;
    if (v.IsString()) {
      value.assign(v.GetString(), v.GetStringLength());
    } else if (v.IsBool()) {
      value = v.GetBool() ? "true" : "false";
    } else if (v.IsInt64()) {
      value = std::to_string(v.GetInt64());
    } else if (v.IsUint64()) {
      value = std::to_string(v.GetUint64());
    } else if (v.IsDouble()) {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v.GetDouble());
      value.assign(buf, end);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("tag \"", std::string(m.name.GetString(), m.name.GetStringLength()),
                       "\" must have a string, number or boolean value"));
    }
    out->emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status ParseTagPair(std::string_view text,
                          std::vector<std::pair<std::string, std::string>>* out) {
  size_t sep = text.find(':');
  if (sep == std::string_view::npos) sep = text.find('=');
  if (sep == std::string_view::npos || sep == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag \"", std::string(text), "\" must look like key:value"));
  }
  out->emplace_back(std::string(text.substr(0, sep)), std::string(text.substr(sep + 1)));
  return absl::OkStatus();
}

}  // namespace ariadne::query
