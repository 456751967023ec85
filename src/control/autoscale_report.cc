// The reports of `ariadne eval autoscale`: markdown, JSON and SVG
// (declared in autoscale_eval.h).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/autoscale_eval.h"

namespace ariadne::control {
namespace {

struct Key {
  std::string scenario, topology;
  bool operator<(const Key& o) const {
    return std::tie(topology, scenario) < std::tie(o.topology, o.scenario);
  }
};

std::map<Key, std::map<std::string, const RunResult*>> Group(const std::vector<RunResult>& rs) {
  std::map<Key, std::map<std::string, const RunResult*>> g;
  for (const RunResult& r : rs) g[{r.scenario, r.topology}][r.policy] = &r;
  return g;
}

// "-35 %" (fewer) for a / b - 1.
std::string Change(double a, double b) {
  if (b <= 0) return "n/a";
  return absl::StrFormat("%+.0f %%", (a / b - 1) * 100);
}

// "5.0x fewer", "none either", "more (3 vs 0)".
std::string ViolationRatio(int a, int b) {
  if (a == 0 && b == 0) return "0 vs 0";
  if (a == 0) return absl::StrFormat("0 vs %d", b);
  return absl::StrFormat("%d vs %d (%.2gx)", a, b, static_cast<double>(b) / a);
}

const char* Color(const std::string& policy) {
  if (policy == "ariadne") return "#d62728";
  if (policy == "hpa") return "#1f77b4";
  if (policy == "static_peak") return "#2ca02c";
  return "#9467bd";
}

std::string Num(double v) { return absl::StrFormat("%.6g", std::isfinite(v) ? v : -1.0); }

}  // namespace

std::string AutoscaleMarkdown(const AutoscaleSuiteOptions& options,
                              const std::vector<RunResult>& results) {
  std::string out;
  absl::StrAppendFormat(&out, "Seed %d, end-to-end objective %.0f ms (p99).\n\n", options.seed,
                        options.slo_s * 1e3);
  const auto groups = Group(results);
  std::map<std::string, double> total_rs;
  std::map<std::string, int> total_viol;
  for (const auto& [key, by_policy] : groups) {
    absl::StrAppendFormat(&out, "#### %s / %s\n\n", key.topology, key.scenario);
    out +=
        "| policy | p50 ms | p95 ms | p99 ms | completed req/s at peak | SLO-violation min | "
        "replica-seconds | recovery s | scale changes |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const char* p : kPolicies) {
      auto it = by_policy.find(p);
      if (it == by_policy.end()) continue;
      const RunResult& r = *it->second;
      total_rs[p] += r.replica_seconds;
      total_viol[p] += r.slo_violation_minutes;
      absl::StrAppendFormat(&out, "| %s | %.1f | %.1f | %.1f | %.0f | %d | %.0f | %s | %d |\n", p,
                            r.p50_ms, r.p95_ms, r.p99_ms, r.peak_completed_rps,
                            r.slo_violation_minutes, r.replica_seconds,
                            r.recovery_s < 0 ? "—" : absl::StrFormat("%.0f", r.recovery_s),
                            r.scale_changes);
    }
    auto a = by_policy.find("ariadne");
    if (a != by_policy.end()) {
      out += "\n";
      for (const char* base : {"hpa", "static_peak", "static_avg"}) {
        auto b = by_policy.find(base);
        if (b == by_policy.end()) continue;
        absl::StrAppendFormat(&out,
                              "- ariadne vs %s: replica-seconds %s, SLO-violation minutes %s\n",
                              base, Change(a->second->replica_seconds, b->second->replica_seconds),
                              ViolationRatio(a->second->slo_violation_minutes,
                                             b->second->slo_violation_minutes));
      }
    }
    out += "\n";
  }
  out += "#### All scenarios\n\n| policy | replica-seconds | SLO-violation minutes |\n|---|---|---|\n";
  for (const char* p : kPolicies) {
    if (total_rs.count(p) == 0) continue;
    absl::StrAppendFormat(&out, "| %s | %.0f | %d |\n", p, total_rs[p], total_viol[p]);
  }
  if (total_rs.count("ariadne") > 0) {
    out += "\n";
    for (const char* base : {"hpa", "static_peak", "static_avg"}) {
      if (total_rs.count(base) == 0) continue;
      absl::StrAppendFormat(&out, "- ariadne vs %s: replica-seconds %s, SLO-violation minutes %s\n",
                            base, Change(total_rs["ariadne"], total_rs[base]),
                            ViolationRatio(total_viol["ariadne"], total_viol[base]));
    }
  }
  return out;
}

std::string AutoscaleJson(const AutoscaleSuiteOptions& options,
                          const std::vector<RunResult>& results) {
  std::string out;
  absl::StrAppendFormat(&out, "{\"seed\":%d,\"slo_ms\":%s,\"control_interval_s\":15,\"scenarios\":[",
                        options.seed, Num(options.slo_s * 1e3));
  bool first = true;
  for (const auto& [key, by_policy] : Group(results)) {
    if (!first) out += ",";
    first = false;
    absl::StrAppendFormat(&out, "{\"scenario\":\"%s\",\"topology\":\"%s\",\"policies\":{",
                          key.scenario, key.topology);
    bool first_p = true;
    for (const char* p : kPolicies) {
      auto it = by_policy.find(p);
      if (it == by_policy.end()) continue;
      const RunResult& r = *it->second;
      if (!first_p) out += ",";
      first_p = false;
      absl::StrAppendFormat(
          &out,
          "\"%s\":{\"p50_ms\":%s,\"p95_ms\":%s,\"p99_ms\":%s,\"requests\":%d,\"errors\":%d,"
          "\"completed_rps_at_peak\":%s,\"slo_violation_minutes\":%d,\"replica_seconds\":%s,"
          "\"replica_seconds_all_services\":%s,\"recovery_s\":%s,\"scale_changes\":%d,"
          "\"wall_seconds\":%s}",
          p, Num(r.p50_ms), Num(r.p95_ms), Num(r.p99_ms), r.requests, r.errors,
          Num(r.peak_completed_rps), r.slo_violation_minutes, Num(r.replica_seconds),
          Num(r.replica_seconds_all), r.recovery_s < 0 ? "null" : Num(r.recovery_s),
          r.scale_changes, Num(r.wall_seconds));
    }
    out += "}}";
  }
  out += "]}\n";
  return out;
}

std::string AutoscaleSvg(const std::string& scenario, const std::string& topology,
                         const std::vector<RunResult>& results, double slo_ms) {
  std::vector<const RunResult*> runs;
  for (const char* p : kPolicies) {
    for (const RunResult& r : results) {
      if (r.scenario == scenario && r.topology == topology && r.policy == p) runs.push_back(&r);
    }
  }
  const double W = 900, H = 620, left = 70, right = 160, top = 40, panel = 240, gap = 60;
  const double pw = W - left - right;
  double t_max = 60, r_max = 1;
  for (const RunResult* r : runs) {
    for (const auto& [t, n] : r->replicas) {
      t_max = std::max(t_max, t);
      r_max = std::max(r_max, static_cast<double>(n));
    }
    for (const auto& [t, v] : r->p99) t_max = std::max(t_max, t + 60);
  }
  r_max = std::ceil(r_max * 1.1);
  const double lat_lo = 1, lat_hi = std::max(100000.0, slo_ms * 10);  // ms, log scale
  auto x = [&](double t) { return left + pw * t / t_max; };
  auto y_rep = [&](double n) { return top + panel * (1 - n / r_max); };
  const double top2 = top + panel + gap;
  auto y_lat = [&](double ms) {
    const double v = std::clamp(ms, lat_lo, lat_hi);
    return top2 + panel * (1 - std::log10(v / lat_lo) / std::log10(lat_hi / lat_lo));
  };
  std::string s;
  absl::StrAppendFormat(&s,
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                        "font-family=\"sans-serif\" font-size=\"12\">\n"
                        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                        "<text x=\"%.0f\" y=\"20\" font-size=\"15\">%s / %s</text>\n",
                        W, H, left, topology, scenario);
  // Axes and grid.
  for (int panel_i = 0; panel_i < 2; ++panel_i) {
    const double y0 = panel_i == 0 ? top : top2;
    absl::StrAppendFormat(&s,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                          "stroke=\"#444\"/>\n",
                          left, y0, pw, panel);
    const int step_min = t_max / 60 > 30 ? 10 : 5;
    for (int m = 0; m * 60 <= t_max; m += step_min) {
      absl::StrAppendFormat(&s,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                            x(m * 60), y0, x(m * 60), y0 + panel, x(m * 60), y0 + panel + 15, m);
    }
    absl::StrAppendFormat(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">minutes</text>\n",
                          left + pw / 2, y0 + panel + 32);
  }
  const int r_step = std::max(1, static_cast<int>(r_max / 5));
  for (int n = 0; n <= r_max; n += r_step) {
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n",
                          left, y_rep(n), left + pw, y_rep(n), left - 5, y_rep(n) + 4, n);
  }
  absl::StrAppendFormat(&s,
                        "<text x=\"15\" y=\"%.1f\" transform=\"rotate(-90 15 %.1f)\" "
                        "text-anchor=\"middle\">replicas (scaled services)</text>\n",
                        top + panel / 2, top + panel / 2);
  for (double ms = lat_lo; ms <= lat_hi * 1.0001; ms *= 10) {
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                          left, y_lat(ms), left + pw, y_lat(ms), left - 5, y_lat(ms) + 4, ms);
  }
  absl::StrAppendFormat(&s,
                        "<text x=\"15\" y=\"%.1f\" transform=\"rotate(-90 15 %.1f)\" "
                        "text-anchor=\"middle\">p99 latency per minute, ms (log)</text>\n",
                        top2 + panel / 2, top2 + panel / 2);
  absl::StrAppendFormat(&s,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
                        "stroke-dasharray=\"6,4\"/><text x=\"%.1f\" y=\"%.1f\">SLO</text>\n",
                        left, y_lat(slo_ms), left + pw, y_lat(slo_ms), left + pw + 4,
                        y_lat(slo_ms) + 4);
  // Series.
  int li = 0;
  for (const RunResult* r : runs) {
    std::string pts;
    int prev = -1;
    for (const auto& [t, n] : r->replicas) {  // steps
      if (prev >= 0) absl::StrAppendFormat(&pts, "%.1f,%.1f ", x(t), y_rep(prev));
      absl::StrAppendFormat(&pts, "%.1f,%.1f ", x(t), y_rep(n));
      prev = n;
    }
    absl::StrAppendFormat(&s,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                          "points=\"%s\"/>\n",
                          Color(r->policy), pts);
    pts.clear();
    for (const auto& [t, v] : r->p99) {
      absl::StrAppendFormat(&pts, "%.1f,%.1f ", x(t + 30), y_lat(v));
    }
    absl::StrAppendFormat(&s,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
                          "points=\"%s\"/>\n",
                          Color(r->policy), pts);
    const double ly = top + 20 + 20 * li++;
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                          left + pw + 10, ly, left + pw + 35, ly, Color(r->policy),
                          left + pw + 40, ly + 4, r->policy);
  }
  s += "</svg>\n";
  return s;
}

}  // namespace ariadne::control
