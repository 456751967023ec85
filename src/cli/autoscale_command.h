// `ariadne eval autoscale`: Ariadne's controller against the Kubernetes HPA
// and static provisioning on seeded simulated scenarios
// (control/autoscale_eval.h, docs/autoscaling.md).
//
//   ariadne eval autoscale [--out DIR] [--seed N] [--scenarios a,b]
//                          [--topologies a,b] [--policies a,b] [--jobs N]
//                          [--slo 200ms]
// prints the markdown table; with --out also writes DIR/autoscale.md,
// DIR/autoscale.json, DIR/<topology>-<scenario>.svg and the controller's
// decisions as DIR/decisions-<topology>-<scenario>.jsonl.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ariadne::cli {

struct EvalAutoscaleOptions {
  std::string out;
  uint64_t seed = 1;
  std::vector<std::string> scenarios;
  std::vector<std::string> topologies;
  std::vector<std::string> policies;
  int jobs = 1;
  std::string slo = "200ms";
};

// Adds `autoscale` to the existing `eval` command of `app`; returns it.
CLI::App* AddEvalAutoscaleCommand(CLI::App* app, EvalAutoscaleOptions* options);
int RunEvalAutoscale(const EvalAutoscaleOptions& options);

}  // namespace ariadne::cli
