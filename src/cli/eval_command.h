// `ariadne eval ...`: the evaluations docs/evaluation.md reports.
//
//   ariadne eval nab DIR   Ariadne's detector on the Numenta Anomaly Benchmark
//                          corpus in DIR (data/ and labels/), scored with NAB's
//                          three profiles; also the null and random detectors
//                          as a check of the scorer (--baselines).
//   ariadne eval faults    detection, incidents and root-cause ranking on a
//                          seeded suite of simulated faults (eval/faults.h).
//   ariadne eval rca --nezha DIR
//                          root-cause ranking on the Nezha Train Ticket faults
//                          (eval/nezha.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ariadne::cli {

struct EvalNabOptions {
  std::string dir;
  bool baselines = false;      // also score the null and random detectors
  int random_seeds = 10;
  std::string scores_out;      // optional: CSV of every row's score (file,row,score)
};

// Adds `eval` and its subcommands to `app`; returns `eval nab`.
CLI::App* AddEvalCommands(CLI::App* app, EvalNabOptions* nab);
int RunEvalNab(const EvalNabOptions& options);

struct EvalFaultsOptions {
  uint64_t seed = 1;
  int per_type = 3;                     // cases per fault type per topology
  std::vector<std::string> topologies;  // empty: every built-in topology
  std::vector<std::string> types;       // empty: every fault type
  int jobs = 1;                         // cases run at once, one thread each
  bool no_resources = false;            // spans only: no CPU and memory series
  std::string out;                      // optional: the JSON report
};

// Adds `eval faults` to the `eval` command AddEvalCommands made; returns it.
CLI::App* AddEvalFaultsCommand(CLI::App* app, EvalFaultsOptions* faults);
int RunEvalFaults(const EvalFaultsOptions& options);

struct EvalRcaOptions {
  std::string nezha;  // the Nezha Train Ticket data directory
  std::string out;    // optional: the JSON report
};

// Adds `eval rca` to the `eval` command AddEvalCommands made; returns it.
CLI::App* AddEvalRcaCommand(CLI::App* app, EvalRcaOptions* rca);
int RunEvalRca(const EvalRcaOptions& options);

}  // namespace ariadne::cli
