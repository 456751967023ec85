#include "cli/eval_command.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "CLI/CLI.hpp"
#include "detect/detector.h"
#include "eval/faults.h"
#include "eval/nab.h"
#include "eval/nezha.h"

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

int RunEvalFaults(const EvalFaultsOptions& o) {
  eval::SuiteOptions suite_options;
  suite_options.seed = o.seed;
  suite_options.per_type = o.per_type;
  suite_options.topologies = o.topologies;
  suite_options.settings.resources = !o.no_resources;
  for (const std::string& name : o.types) {
    auto type = eval::ParseFaultType(name);
    if (!type.ok()) {
      std::fprintf(stderr, "ariadne eval faults: %s\n", std::string(type.status().message()).c_str());
      return 2;
    }
    suite_options.types.push_back(*type);
  }
  auto suite = eval::GenerateFaultSuite(suite_options);
  if (!suite.ok()) {
    std::fprintf(stderr, "ariadne eval faults: %s\n", std::string(suite.status().message()).c_str());
    return 2;
  }
  const size_t n = suite->size();
  std::fprintf(stderr, "fault suite: %zu cases, seed %llu\n", n,
               static_cast<unsigned long long>(o.seed));
  const auto start = std::chrono::steady_clock::now();
  std::vector<eval::CaseRun> runs(n);
  std::vector<eval::CaseScore> scores(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex report_mu;
  size_t done = 0;  // guarded by report_mu
  // Each worker takes the next case until none is left (at most n in all).
  auto work = [&] {
    for (size_t i = next++; i < n && !failed; i = next++) {
      const eval::FaultCase& c = (*suite)[i];
      auto run = eval::RunFaultCase(c, suite_options.settings);
      std::lock_guard<std::mutex> lock(report_mu);
      if (!run.ok()) {
        std::fprintf(stderr, "case %zu (%s): %s\n", i, c.fault.id.c_str(),
                     std::string(run.status().message()).c_str());
        failed = true;
        return;
      }
      scores[i] = eval::ScoreCase(c, *run, suite_options.settings);
      runs[i] = *std::move(run);
      std::fprintf(stderr, "[%zu/%zu] %s\n", ++done, n,
                   eval::ProgressLine(c, runs[i], scores[i]).c_str());
    }
  };
  const int jobs = std::clamp(o.jobs, 1, static_cast<int>(std::max<size_t>(n, 1)));
  std::vector<std::thread> threads;
  for (int j = 1; j < jobs; ++j) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (failed) return 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "Seeded simulated faults: " << n << " cases, seed " << o.seed
            << (o.no_resources ? ", spans only" : "") << "\n\n";
  eval::WriteFaultReport(*suite, scores, std::cout);
  std::fprintf(stderr, "%zu cases in %.0f s (%d jobs)\n", n, seconds, jobs);
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    out << eval::FaultReportJson(suite_options, *suite, runs, scores);
    if (!out.good()) {
      std::fprintf(stderr, "cannot write %s\n", o.out.c_str());
      return 1;
    }
  }
  return 0;
}

CLI::App* AddEvalFaultsCommand(CLI::App* app, EvalFaultsOptions* faults) {
  CLI::App* eval = app->get_subcommand("eval");
  CLI::App* f = eval->add_subcommand(
      "faults", "Score detection and root-cause ranking on a seeded suite of simulated faults");
  f->add_option("--seed", faults->seed, "Seed of the suite")->capture_default_str();
  f->add_option("--per-type", faults->per_type, "Cases per fault type per topology")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  f->add_option("--topologies", faults->topologies, "Topologies, comma-separated (default: all built-in)")
      ->delimiter(',');
  f->add_option("--types", faults->types,
                "Fault types, comma-separated (default: all: latency, slowdown, errors, "
                "cpu_saturation, crash, leak, network_delay)")
      ->delimiter(',');
  f->add_option("--jobs", faults->jobs, "Cases run at once")->capture_default_str()
      ->check(CLI::Range(1, 64));
  f->add_flag("--no-resources", faults->no_resources,
              "Spans only: no CPU and memory series (as a serve without a Prometheus)");
  f->add_option("--out", faults->out, "Write the per-case results as JSON to this file");
  return f;
}

int RunEvalRca(const EvalRcaOptions& o) {
  std::fprintf(stderr, "loading %s ...\n", o.nezha.c_str());
  auto days = eval::LoadNezha(o.nezha);
  if (!days.ok()) {
    std::fprintf(stderr, "ariadne eval rca: %s\n", std::string(days.status().message()).c_str());
    return 2;
  }
  std::vector<eval::RcaCaseResult> results;
  size_t total = 0;
  for (const eval::NezhaDay& d : *days) total += d.faults.size();
  const auto start = std::chrono::steady_clock::now();
  for (const eval::NezhaDay& d : *days) {
    for (const eval::NezhaFault& f : d.faults) {
      results.push_back(eval::EvaluateNezhaFault(d, f));
      const eval::RcaCaseResult& r = results.back();
      std::fprintf(stderr, "[%zu/%zu] %s %s %s %s: rank %s, first %s\n", results.size(), total,
                   d.day.c_str(), f.inject_time.substr(11).c_str(), f.type.c_str(),
                   f.service.c_str(), r.rank ? std::to_string(r.rank).c_str() : "-",
                   r.candidates.empty() ? "(none)" : r.candidates[0].service.c_str());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "Root-cause ranking on the Nezha Train Ticket data (service level)\n\n";
  eval::WriteRcaReport(results, std::cout);
  std::printf("\n(%zu faults ranked in %.1f s)\n", results.size(), seconds);
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    eval::WriteRcaJson(results, out);
    if (!out.good()) {
      std::fprintf(stderr, "cannot write %s\n", o.out.c_str());
      return 1;
    }
  }
  return 0;
}

CLI::App* AddEvalRcaCommand(CLI::App* app, EvalRcaOptions* rca) {
  CLI::App* eval = app->get_subcommand("eval");
  CLI::App* r = eval->add_subcommand(
      "rca", "Score root-cause ranking on labeled faults (the Nezha Train Ticket data)");
  r->add_option("--nezha", rca->nezha,
                "Nezha data directory (with fault_suffering/<day>/ and fault_free/<day>/)")
      ->required();
  r->add_option("--out", rca->out, "Write every case's ranking as JSON to this file");
  return r;
}

}  // namespace ariadne::cli
