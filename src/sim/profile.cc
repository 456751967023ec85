#include "sim/profile.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/strings.h"

namespace ariadne::sim {
namespace {

absl::StatusOr<double> ParseRate(std::string_view text, std::string_view what) {
  double v = 0;
  if (!absl::SimpleAtod(AbslView(text), &v) || !std::isfinite(v) || v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate profile: ", AbslView(what), " '", AbslView(text),
                     "' is not a non-negative number"));
  }
  return v;
}

absl::StatusOr<Nanos> ParseTime(std::string_view text) {
  auto t = ParseDuration(text);
  if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat("rate profile: ", t.status().message()));
  return t;
}

}  // namespace

RateProfile RateProfile::Constant(double rps) {
  RateProfile p;
  p.points_ = {{0, rps}};
  p.steps_ = true;
  return p;
}

absl::StatusOr<RateProfile> RateProfile::Parse(std::string_view spec, double rps, Nanos duration) {
  if (!std::isfinite(rps) || rps < 0) return absl::InvalidArgumentError("--rps must be >= 0");
  std::string_view kind = spec;
  std::string_view args;
  if (size_t colon = spec.find(':'); colon != std::string_view::npos) {
    kind = spec.substr(0, colon);
    args = spec.substr(colon + 1);
  }
  RateProfile p = Constant(rps);
  if (kind == "constant" || kind.empty()) {
    return p;
  }
  if (kind == "ramp") {
    auto to = ParseRate(args, "ramp target");
    if (!to.ok()) return to.status();
    p.steps_ = false;
    p.points_ = {{0, rps}, {std::max<Nanos>(duration, 1), *to}};
    return p;
  }
  if (kind == "step") {
    for (absl::string_view piece : absl::StrSplit(AbslView(args), ',')) {
      const std::string_view item = StdView(piece);
      size_t at = item.find('@');
      if (at == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "rate profile: step '", AbslView(item), "' is not RPS@TIME (e.g. 300@5m)"));
      }
      auto r = ParseRate(item.substr(0, at), "step rate");
      if (!r.ok()) return r.status();
      auto t = ParseTime(item.substr(at + 1));
      if (!t.ok()) return t.status();
      p.points_.emplace_back(*t, *r);
    }
    std::stable_sort(p.points_.begin(), p.points_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return p;
  }
  if (kind == "diurnal") {
    std::vector<std::string_view> parts;
    for (absl::string_view piece : absl::StrSplit(AbslView(args), ':')) parts.push_back(StdView(piece));
    auto amp = ParseRate(parts[0], "diurnal amplitude");
    if (!amp.ok()) return amp.status();
    if (*amp > 1) return absl::InvalidArgumentError("rate profile: diurnal amplitude must be <= 1");
    p.amplitude_ = *amp;
    p.period_ = 24 * 3600 * kSecond;
    if (parts.size() > 1) {
      auto period = ParseTime(parts[1]);
      if (!period.ok()) return period.status();
      if (*period <= 0) return absl::InvalidArgumentError("rate profile: diurnal period must be > 0");
      p.period_ = *period;
    }
    return p;
  }
  if (kind == "spike") {
    size_t at = args.find('@');
    size_t plus = args.find('+', at == std::string_view::npos ? 0 : at);
    if (at == std::string_view::npos || plus == std::string_view::npos) {
      return absl::InvalidArgumentError(
          "rate profile: spike is FACTOR@START+LENGTH (e.g. spike:5@10m+1m)");
    }
    std::string_view factor_text = args.substr(0, at);
    if (!factor_text.empty() && factor_text.back() == 'x') factor_text.remove_suffix(1);
    auto factor = ParseRate(factor_text, "spike factor");
    if (!factor.ok()) return factor.status();
    auto start = ParseTime(args.substr(at + 1, plus - at - 1));
    if (!start.ok()) return start.status();
    auto length = ParseTime(args.substr(plus + 1));
    if (!length.ok()) return length.status();
    p.points_ = {{0, rps}, {*start, rps * *factor}, {*start + *length, rps}};
    return p;
  }
  if (kind == "csv") {
    std::ifstream in{std::string(args)};
    if (!in) return absl::NotFoundError(absl::StrCat("rate profile: cannot read '", AbslView(args), "'"));
    p.points_.clear();
    p.steps_ = false;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      std::string_view l = StdView(absl::StripAsciiWhitespace(line));
      if (l.empty() || l[0] == '#') continue;
      std::vector<std::string_view> cells;
      for (absl::string_view piece : absl::StrSplit(AbslView(l), ',')) cells.push_back(StdView(piece));
      double seconds = 0, rate = 0;
      if (cells.size() < 2 || !absl::SimpleAtod(AbslView(cells[0]), &seconds) ||
          !absl::SimpleAtod(AbslView(cells[1]), &rate) || rate < 0 || seconds < 0) {
        if (number == 1) continue;  // a header row
        return absl::InvalidArgumentError(absl::StrCat("rate profile: ", AbslView(args), ":", number,
                                                       ": expected 'seconds,rps'"));
      }
      p.points_.emplace_back(static_cast<Nanos>(seconds * 1e9), rate);
    }
    if (p.points_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("rate profile: ", AbslView(args), " has no rows"));
    }
    std::stable_sort(p.points_.begin(), p.points_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return p;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "rate profile: unknown kind '", AbslView(kind),
      "' (constant, ramp:TO, step:RPS@T,..., diurnal:AMP[:PERIOD], spike:F@T+LEN, csv:PATH)"));
}

double RateProfile::RateAt(Nanos t) const {
  double base = points_.empty() ? 0 : points_.front().second;
  if (!points_.empty() && t >= points_.front().first) {
    auto it = std::upper_bound(points_.begin(), points_.end(), t,
                               [](Nanos v, const auto& p) { return v < p.first; });
    const auto& prev = *(it - 1);
    base = prev.second;
    if (!steps_ && it != points_.end()) {
      const double f = static_cast<double>(t - prev.first) /
                       static_cast<double>(std::max<Nanos>(it->first - prev.first, 1));
      base = prev.second + f * (it->second - prev.second);
    }
  }
  if (amplitude_ > 0) {
    base *= 1 - amplitude_ * std::cos(6.283185307179586 * static_cast<double>(t) /
                                      static_cast<double>(period_));
  }
  return std::max(base, 0.0);
}

double RateProfile::MaxRate(Nanos duration) const {
  double m = 0;
  for (const auto& [t, r] : points_) m = std::max(m, r);
  return m * (1 + amplitude_);
}

}  // namespace ariadne::sim
