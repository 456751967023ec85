// Helpers for the Prometheus text exposition format (/metrics).
#pragma once

#include <charconv>
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Several expositions in one, each sample given the label `label` with its
// part's value (a tenant): families keep their first HELP and TYPE and the
// order they were first seen in; their samples are grouped together, as the
// format requires. Lines that are not samples, HELP or TYPE are dropped.
inline std::string MergeLabeledExpositions(
    std::string_view label, const std::vector<std::pair<std::string, std::string>>& parts) {
  struct Family {
    std::string header;  // "# HELP ...\n# TYPE ...\n"
    std::string samples;
  };
  std::vector<std::string> order;
  std::map<std::string, Family, std::less<>> families;
  for (const auto& [value, text] : parts) {
    std::string_view rest = text;
    std::string current;  // the family the last HELP/TYPE named
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (line.empty()) continue;
      if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
        std::string_view name = line.substr(7);
        name = name.substr(0, name.find(' '));
        current = std::string(name);
        auto [it, inserted] = families.try_emplace(current);
        if (inserted) order.push_back(current);
        Family& f = it->second;
        // The first part's HELP and TYPE only.
        if (f.samples.empty() && f.header.find(line.substr(0, 7)) == std::string::npos) {
          f.header.append(line).push_back('\n');
        }
        continue;
      }
      if (line.front() == '#') continue;
      const size_t name_end = line.find_first_of("{ ");
      if (name_end == std::string_view::npos) continue;
      const std::string_view name = line.substr(0, name_end);
      std::string key = current;
      if (key.empty() || !name.starts_with(key)) key = std::string(name);  // no header
      auto [it, inserted] = families.try_emplace(key);
      if (inserted) order.push_back(key);
      std::string& out = it->second.samples;
      out.append(name).append("{").append(label).append("=\"");
      AppendLabelValue(&out, value);
      out.append("\"");
      if (line[name_end] == '{') {
        if (line.size() > name_end + 1 && line[name_end + 1] != '}') out.push_back(',');
        out.append(line.substr(name_end + 1));
      } else {
        out.append("}").append(line.substr(name_end));
      }
      out.push_back('\n');
    }
  }
  std::string merged;
  for (const std::string& name : order) {
    const Family& f = families.find(name)->second;
    merged.append(f.header).append(f.samples);
  }
  return merged;
}

}  // namespace ariadne
