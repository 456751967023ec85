// `ariadne eval ...`: the evaluations docs/evaluation.md reports.
//
//   ariadne eval nab DIR   Ariadne's detector on the Numenta Anomaly Benchmark
//                          corpus in DIR (data/ and labels/), scored with NAB's
//                          three profiles; also the null and random detectors
//                          as a check of the scorer (--baselines).
#pragma once

#include <string>

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

}  // namespace ariadne::cli
