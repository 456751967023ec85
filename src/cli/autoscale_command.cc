#include "cli/autoscale_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "control/autoscale_eval.h"
#include "sim/topology.h"

namespace ariadne::cli {
namespace {

// Writes `text` to `path` through a temporary file and a rename.
bool WriteFile(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return false;
    f << text;
    if (!f.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

CLI::App* AddEvalAutoscaleCommand(CLI::App* app, EvalAutoscaleOptions* o) {
  CLI::App* eval = app->get_subcommand("eval");
  CLI::App* cmd = eval->add_subcommand(
      "autoscale",
      "Ariadne's autoscaler against the Kubernetes HPA and static provisioning on simulated "
      "scenarios");
  cmd->add_option("--out", o->out, "Directory for autoscale.md, autoscale.json, SVG plots and "
                                   "the controller's decisions");
  cmd->add_option("--seed", o->seed, "Seed of every simulation")->capture_default_str();
  cmd->add_option("--scenarios", o->scenarios, "diurnal, spike, ramp, fault (default: all)")
      ->delimiter(',');
  cmd->add_option("--topologies", o->topologies,
                  "online-boutique, social-network (default: both)")
      ->delimiter(',');
  cmd->add_option("--policies", o->policies, "ariadne, hpa, static_peak, static_avg (default: all)")
      ->delimiter(',');
  cmd->add_option("--jobs", o->jobs, "Simulations run at once")->capture_default_str();
  cmd->add_option("--slo", o->slo, "End-to-end latency objective (p99)")->capture_default_str();
  return cmd;
}

int RunEvalAutoscale(const EvalAutoscaleOptions& options) {
  control::AutoscaleSuiteOptions o;
  o.seed = options.seed;
  o.scenarios = options.scenarios;
  o.topologies = options.topologies;
  o.policies = options.policies;
  o.jobs = options.jobs;
  auto slo = sim::ParseDuration(options.slo);
  if (!slo.ok() || *slo <= 0) {
    std::fprintf(stderr, "ariadne eval autoscale: bad --slo '%s'\n", options.slo.c_str());
    return 2;
  }
  o.slo_s = static_cast<double>(*slo) / 1e9;
  if (!options.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out, ec);
    if (ec) {
      std::fprintf(stderr, "ariadne eval autoscale: %s: %s\n", options.out.c_str(),
                   ec.message().c_str());
      return 1;
    }
  }
  auto results = control::RunAutoscaleSuite(o, [](const control::RunResult& r) {
    std::fprintf(stderr,
                 "%-16s %-8s %-12s p99 %8.1f ms  violation min %3d  replica-s %9.0f  (%.1f s)\n",
                 r.topology.c_str(), r.scenario.c_str(), r.policy.c_str(), r.p99_ms,
                 r.slo_violation_minutes, r.replica_seconds, r.wall_seconds);
  });
  if (!results.ok()) {
    std::fprintf(stderr, "ariadne eval autoscale: %s\n",
                 std::string(results.status().message()).c_str());
    return 1;
  }
  const std::string md = control::AutoscaleMarkdown(o, *results);
  std::fputs(md.c_str(), stdout);
  if (options.out.empty()) return 0;
  const std::filesystem::path dir(options.out);
  bool ok = WriteFile(dir / "autoscale.md", md) &&
            WriteFile(dir / "autoscale.json", control::AutoscaleJson(o, *results));
  std::set<std::pair<std::string, std::string>> done;
  for (const control::RunResult& r : *results) {
    if (!done.insert({r.topology, r.scenario}).second) continue;
    const std::string stem = absl::StrCat(r.topology, "-", r.scenario);
    ok = ok && WriteFile(dir / (stem + ".svg"),
                         control::AutoscaleSvg(r.scenario, r.topology, *results, o.slo_s * 1e3));
  }
  for (const control::RunResult& r : *results) {
    if (r.policy != "ariadne") continue;
    std::string lines;
    for (const control::Decision& d : r.decisions) {
      lines += control::DecisionJson(d);
      lines += '\n';
    }
    ok = ok && WriteFile(dir / absl::StrCat("decisions-", r.topology, "-", r.scenario, ".jsonl"),
                         lines);
  }
  if (!ok) {
    std::fprintf(stderr, "ariadne eval autoscale: cannot write to %s\n", options.out.c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %s\n", options.out.c_str());
  return 0;
}

}  // namespace ariadne::cli
