#include "cli/eval_command.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "detect/detector.h"
#include "eval/nab.h"

namespace ariadne::cli {

namespace {

// Ariadne's detector over every file, one fresh detector per file, in row
// order (as a stream: each score uses only the rows before and at it).
std::vector<std::vector<double>> DetectorScores(const eval::NabCorpus& corpus,
                                                double* points_per_second) {
  std::vector<std::vector<double>> out;
  size_t points = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const eval::NabFile& f : corpus.files) {
    detect::SeriesDetector d;
    std::vector<double> scores(f.Rows());
    for (size_t i = 0; i < f.Rows(); ++i) scores[i] = d.Update(f.timestamps[i], f.values[i]).score;
    points += f.Rows();
    out.push_back(std::move(scores));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *points_per_second = seconds > 0 ? static_cast<double>(points) / seconds : 0;
  return out;
}

}  // namespace

int RunEvalNab(const EvalNabOptions& o) {
  auto corpus = eval::LoadNabCorpus(o.dir);
  if (!corpus.ok()) {
    std::fprintf(stderr, "ariadne eval nab: %s\n", std::string(corpus.status().message()).c_str());
    return 2;
  }
  std::fprintf(stderr, "NAB corpus: %zu files, %zu rows, %zu windows (%zu scored)\n",
               corpus->files.size(), corpus->Rows(), corpus->Windows(), corpus->ScoredWindows());
  auto score_all = [&](const std::string& title, const std::vector<std::vector<double>>& scores)
      -> bool {
    std::vector<std::pair<eval::NabProfile, eval::NabResult>> results;
    for (const eval::NabProfile& p : eval::NabProfiles()) {
      auto r = eval::ScoreCorpus(*corpus, scores, p);
      if (!r.ok()) {
        std::fprintf(stderr, "scoring %s: %s\n", title.c_str(), std::string(r.status().message()).c_str());
        return false;
      }
      results.emplace_back(p, *std::move(r));
    }
    std::cout << "\n" << title << "\n";
    return eval::WriteNabReport(results, std::cout).ok();
  };
  if (o.baselines) {
    if (!score_all("null detector (never fires)", eval::NullScores(*corpus))) return 1;
    // The random detector, averaged over seeds.
    std::vector<double> sums(3, 0);
    for (int seed = 1; seed <= o.random_seeds; ++seed) {
      const auto scores = eval::RandomScores(*corpus, static_cast<uint64_t>(seed));
      for (size_t p = 0; p < 3; ++p) {
        auto r = eval::ScoreCorpus(*corpus, scores, eval::NabProfiles()[p]);
        if (!r.ok()) return 1;
        sums[p] += r->score;
      }
    }
    std::printf("\nrandom detector, mean of %d seeds: standard %.1f, reward_low_FP_rate %.1f, "
                "reward_low_FN_rate %.1f\n",
                o.random_seeds, sums[0] / o.random_seeds, sums[1] / o.random_seeds,
                sums[2] / o.random_seeds);
  }
  double rate = 0;
  const auto scores = DetectorScores(*corpus, &rate);
  if (!score_all("ariadne detector (detect::SeriesDetector, default options)", scores)) return 1;
  std::printf("(%.0f points scored per second on one core)\n", rate);
  if (!o.scores_out.empty()) {
    std::ofstream out(o.scores_out);
    out << "file,row,score\n";
    for (size_t f = 0; f < corpus->files.size(); ++f) {
      for (size_t i = 0; i < scores[f].size(); ++i) {
        out << corpus->files[f].name << ',' << i << ',' << scores[f][i] << '\n';
      }
    }
    if (!out.good()) {
      std::fprintf(stderr, "cannot write %s\n", o.scores_out.c_str());
      return 1;
    }
  }
  return 0;
}

CLI::App* AddEvalCommands(CLI::App* app, EvalNabOptions* nab) {
  CLI::App* eval = app->add_subcommand("eval", "Run an evaluation (docs/evaluation.md)");
  eval->require_subcommand(1);
  CLI::App* n = eval->add_subcommand("nab", "Score the detector on the Numenta Anomaly Benchmark");
  n->add_option("dir", nab->dir, "NAB corpus directory (with data/ and labels/)")->required();
  n->add_flag("--baselines", nab->baselines, "Also score the null and random detectors");
  n->add_option("--random-seeds", nab->random_seeds, "Seeds averaged for the random detector")
      ->capture_default_str();
  n->add_option("--scores-out", nab->scores_out, "Write every row's score to this CSV");
  return n;
}

}  // namespace ariadne::cli
