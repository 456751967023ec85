// Helpers shared by the simulator's YAML readers (topology.cc, faults.cc):
// error messages that name the key's path and line, strict readers of
// scalars (durations, sizes, cores, probabilities) and a key walker that
// refuses unknown and duplicate keys.
//
// Debian's Abseil has its own absl::string_view, so messages are built with
// Cat/Join here rather than absl::StrCat/StrJoin.
//
// Threading: pure functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/types/span.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "sim/topology.h"

namespace ariadne::sim::yaml_util {

inline void AppendTo(std::string& out, std::string_view v) { out.append(v); }
inline void AppendTo(std::string& out, absl::string_view v) { out.append(v.data(), v.size()); }
inline void AppendTo(std::string& out, const std::string& v) { out.append(v); }
inline void AppendTo(std::string& out, const char* v) { out.append(v); }
template <typename T>
requires std::is_arithmetic_v<T>
void AppendTo(std::string& out, T v) { out += fmt::format("{}", v); }
template <typename... Args>
inline std::string Cat(const Args&... args) {
  std::string out;
  (AppendTo(out, args), ...);
  return out;
}
template <typename Container>
inline std::string Join(const Container& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out.append(separator);
    AppendTo(out, item);
  }
  return out;
}
inline std::string_view Strip(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

#define SIM_RETURN_IF_ERROR(expr)             \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (false)

// A node standing for a key that is not there (a default-constructed
// YAML::Node counts as defined). Bind it with reset(), never operator=, which
// would write through to the node it refers to.
inline YAML::Node Absent() { return YAML::Node(YAML::NodeType::Undefined); }

// " (line N)" for a node that came from the parsed text, "" otherwise.
inline std::string LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return "";
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return Cat(" (line ", mark.line + 1, ")");
}

inline absl::Status Error(std::string_view path, const YAML::Node& node, std::string_view message) {
  return absl::InvalidArgumentError(
      Cat(path.empty() ? "topology" : path, ": ", message, LineOf(node)));
}

inline std::string Child(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : Cat(path, ".", key);
}

inline std::string Index(std::string_view path, size_t i) { return Cat(path, "[", i, "]"); }

// Calls `fn(key, value, path_of_value)` for each entry of the map `node`,
// refusing anything but a map, duplicate keys and keys not in `known`.
inline absl::Status ForEachKey(const YAML::Node& node, std::string_view path,
                        absl::Span<const std::string_view> known,
                        const std::function<absl::Status(const std::string&, const YAML::Node&,
                                                         const std::string&)>& fn) {
  if (!node.IsMap()) return Error(path, node, "expected a map");
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return Error(path, kv.first, "keys must be plain strings");
    const std::string key = kv.first.Scalar();
    const std::string key_path = Child(path, key);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error(path, kv.first, Cat("unknown key '", key, "' (known: ", Join(known, ", "), ")"));
    }
    if (!seen.insert(key).second) return Error(key_path, kv.first, "duplicate key");
    SIM_RETURN_IF_ERROR(fn(key, kv.second, key_path));
  }
  return absl::OkStatus();
}

inline absl::Status ReadString(const YAML::Node& node, std::string_view path, std::string* out) {
  if (!node.IsScalar()) return Error(path, node, "expected a string");
  *out = node.Scalar();
  return absl::OkStatus();
}

inline absl::Status ReadNonEmptyString(const YAML::Node& node, std::string_view path, std::string* out) {
  SIM_RETURN_IF_ERROR(ReadString(node, path, out));
  if (out->empty()) return Error(path, node, "must not be empty");
  return absl::OkStatus();
}

inline absl::Status ReadBool(const YAML::Node& node, std::string_view path, bool* out) {
  bool ok = node.IsScalar();
  try {
    if (ok) *out = node.as<bool>();
  } catch (const YAML::Exception&) {
    ok = false;
  }
  if (!ok) return Error(path, node, "expected true or false");
  return absl::OkStatus();
}

inline absl::Status ReadInt(const YAML::Node& node, std::string_view path, int min, int max, int* out) {
  long long value = 0;
  bool ok = node.IsScalar();
  try {
    if (ok) value = node.as<long long>();
  } catch (const YAML::Exception&) {
    ok = false;
  }
  if (!ok) return Error(path, node, "expected an integer");
  if (value < min || value > max) {
    return Error(path, node,
                 max != std::numeric_limits<int>::max()
                     ? Cat("must be between ", min, " and ", max, " (got ", value, ")")
                 : value < min ? Cat("must be at least ", min, " (got ", value, ")")
                               : Cat("is too large (got ", value, ")"));
  }
  *out = static_cast<int>(value);
  return absl::OkStatus();
}

inline absl::Status ReadDouble(const YAML::Node& node, std::string_view path, double* out) {
  double value = 0;
  if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &value) || !std::isfinite(value)) {
    return Error(path, node, "expected a number");
  }
  *out = value;
  return absl::OkStatus();
}

inline absl::Status ReadProbability(const YAML::Node& node, std::string_view path, double* out) {
  SIM_RETURN_IF_ERROR(ReadDouble(node, path, out));
  if (*out < 0 || *out > 1) return Error(path, node, "must be between 0 and 1");
  return absl::OkStatus();
}

inline absl::Status ReadDuration(const YAML::Node& node, std::string_view path, Nanos* out) {
  if (!node.IsScalar()) return Error(path, node, "expected a duration such as 2ms");
  absl::StatusOr<Nanos> d = ParseDuration(node.Scalar());
  if (!d.ok()) return Error(path, node, StdView(d.status().message()));
  *out = *d;
  return absl::OkStatus();
}

// Bytes: a plain number, or with a suffix Ki, Mi, Gi, Ti (powers of 1024) or
// k, M, G, T (powers of 1000), as in Kubernetes resource quantities.
inline absl::Status ReadBytes(const YAML::Node& node, std::string_view path, double* out) {
  static constexpr std::pair<std::string_view, double> kSuffixes[] = {
      {"Ki", 1024.0},
      {"Mi", 1024.0 * 1024},
      {"Gi", 1024.0 * 1024 * 1024},
      {"Ti", 1024.0 * 1024 * 1024 * 1024},
      {"k", 1e3},
      {"M", 1e6},
      {"G", 1e9},
      {"T", 1e12}};
  if (node.IsScalar()) {
    std::string_view text = Strip(node.Scalar());
    double unit = 1;
    for (const auto& [suffix, scale] : kSuffixes) {
      if (text.ends_with(suffix)) {
        text.remove_suffix(suffix.size());
        unit = scale;
        break;
      }
    }
    double value = 0;
    if (!text.empty() && absl::ascii_isdigit(text.front()) &&
        absl::SimpleAtod(AbslView(text), &value) && std::isfinite(value)) {
      *out = value * unit;
      return absl::OkStatus();
    }
    if (text.starts_with("-")) return Error(path, node, "must not be negative");
  }
  return Error(path, node, "expected a size such as 64Mi, 256Ki, 1Gi or a number of bytes");
}

// Cores: a number ("0.5") or millicores ("500m").
inline absl::Status ReadCores(const YAML::Node& node, std::string_view path, double* out) {
  if (node.IsScalar()) {
    std::string_view text = Strip(node.Scalar());
    double unit = 1;
    if (text.ends_with("m")) {
      text.remove_suffix(1);
      unit = 1e-3;
    }
    double value = 0;
    if (absl::SimpleAtod(AbslView(text), &value) && std::isfinite(value)) {
      if (value <= 0) return Error(path, node, "must be greater than 0");
      *out = value * unit;
      return absl::OkStatus();
    }
  }
  return Error(path, node, "expected a number of cores such as 1, 0.5 or 500m");
}


}  // namespace ariadne::sim::yaml_util
