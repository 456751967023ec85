#include "eval/nab.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ariadne::eval {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();

// A file of `rows` rows five minutes apart, with the given windows.
NabFile MakeFile(size_t rows, std::vector<NabWindow> windows, size_t probationary_rows = 0,
                 std::string name = "test/file.csv") {
  NabFile f;
  f.name = std::move(name);
  for (size_t i = 0; i < rows; ++i) {
    f.timestamps.push_back(1'400'000'000 + 300 * static_cast<int64_t>(i));
    f.values.push_back(0);
  }
  f.windows = std::move(windows);
  f.probationary_rows = probationary_rows;
  return f;
}

// Scores of 1 at `rows`, 0 elsewhere.
std::vector<double> FireAt(const NabFile& f, std::vector<size_t> rows) {
  std::vector<double> s(f.Rows(), 0.0);
  for (size_t r : rows) s[r] = 1.0;
  return s;
}

double Raw(const NabFile& f, std::vector<size_t> rows, const NabProfile& p = StandardProfile()) {
  return RawScore(f, FireAt(f, rows), 0.5, p);
}

TEST(NabSigmoidTest, Shape) {
  EXPECT_NEAR(NabSigmoid(-1.0), 2.0 / (1.0 + std::exp(-5.0)) - 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(NabSigmoid(0.0), 0.0);
  EXPECT_LT(NabSigmoid(0.5), 0.0);
  EXPECT_GT(NabSigmoid(3.0), -1.0);
  EXPECT_NEAR(NabSigmoid(3.0), -1.0, 1e-6);
  EXPECT_EQ(NabSigmoid(3.0001), -1.0);
}

TEST(NabProfileTest, TheThreeOfNab) {
  const std::vector<NabProfile> p = NabProfiles();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].name, "standard");
  EXPECT_EQ(p[1].name, "reward_low_FP_rate");
  EXPECT_EQ(p[2].name, "reward_low_FN_rate");
  EXPECT_EQ(std::vector<double>({p[0].a_tp, p[0].a_fn, p[0].a_fp}),
            std::vector<double>({1.0, 1.0, 0.11}));
  EXPECT_EQ(std::vector<double>({p[1].a_tp, p[1].a_fn, p[1].a_fp}),
            std::vector<double>({1.0, 1.0, 0.22}));
  EXPECT_EQ(std::vector<double>({p[2].a_tp, p[2].a_fn, p[2].a_fp}),
            std::vector<double>({1.0, 2.0, 0.11}));
}

TEST(NabRawScoreTest, HitAtTheLeftEdgeEarnsATpExactly) {
  const NabFile f = MakeFile(1000, {{400, 499}});
  EXPECT_EQ(Raw(f, {400}), 1.0);
  NabProfile p = StandardProfile();
  p.a_tp = 2.5;
  EXPECT_EQ(Raw(f, {400}, p), 2.5);
  const NabFileScore s = ScoreFile(f, FireAt(f, {400}), 0.5, StandardProfile());
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fp, 0);
  EXPECT_EQ(s.fn, 0);
  // A one-row window: its only row is its left edge.
  EXPECT_EQ(Raw(MakeFile(10, {{5, 5}}), {5}), 1.0);
}

TEST(NabRawScoreTest, HitAtTheRightEdgeEarnsAlmostNothing) {
  const NabFile f = MakeFile(1000, {{400, 499}});
  const double right = Raw(f, {499});
  EXPECT_GT(right, 0.0);
  EXPECT_LT(right, 0.03);  // 100 rows: y = -0.01
  EXPECT_DOUBLE_EQ(right, NabSigmoid(-0.01) / NabSigmoid(-1.0));
  // Earlier is better, all along the window.
  double previous = 2.0;
  for (size_t i = 400; i <= 499; ++i) {
    const double r = Raw(f, {i});
    EXPECT_LT(r, previous) << i;
    previous = r;
  }
  // The middle: y = -0.5.
  EXPECT_DOUBLE_EQ(Raw(f, {450}), NabSigmoid(-0.5) / NabSigmoid(-1.0));
}

TEST(NabRawScoreTest, AMissCostsAFn) {
  const NabFile f = MakeFile(1000, {{400, 499}, {700, 749}});
  EXPECT_EQ(Raw(f, {}), -2.0);
  EXPECT_EQ(Raw(f, {}, RewardLowFnProfile()), -4.0);
  EXPECT_EQ(Raw(f, {700}), 0.0);  // one hit, one miss
  const NabFileScore s = ScoreFile(f, FireAt(f, {700}), 0.5, StandardProfile());
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fn, 1);
}

TEST(NabRawScoreTest, FalsePositiveRightAfterAWindowCostsLessThanADistantOne) {
  const NabFile f = MakeFile(1000, {{400, 499}});
  const double miss = -1.0;
  const double just_after = Raw(f, {500}) - miss;
  const double later = Raw(f, {550}) - miss;
  const double distant = Raw(f, {900}) - miss;  // 4 widths past: saturated
  const double before = Raw(f, {100}) - miss;   // no earlier window
  EXPECT_LT(just_after, 0.0);
  EXPECT_GT(just_after, -0.01);
  EXPECT_LT(later, just_after);
  EXPECT_LT(distant, later);
  EXPECT_NEAR(just_after, 0.11 * NabSigmoid(0.01), 1e-12);
  EXPECT_NEAR(later, 0.11 * NabSigmoid(0.51), 1e-12);
  EXPECT_NEAR(distant, -0.11, 1e-12);
  EXPECT_NEAR(before, -0.11, 1e-12);
  EXPECT_NEAR(Raw(f, {900}, RewardLowFpProfile()) - miss, -0.22, 1e-12);
  // Each FP counts.
  EXPECT_NEAR(Raw(f, {100, 900}) - miss, -0.22, 1e-12);
  EXPECT_EQ(ScoreFile(f, FireAt(f, {100, 500, 900}), 0.5, StandardProfile()).fp, 3);
  // Measured from the previous window, not the nearest: row 690 is just
  // before the second window but 190 rows (3.8 widths) after the first.
  const NabFile g = MakeFile(1000, {{400, 449}, {700, 749}});
  EXPECT_NEAR(Raw(g, {690}) - (-2.0), -0.11, 1e-12);
  EXPECT_NEAR(Raw(g, {460}) - (-2.0), 0.11 * NabSigmoid(11.0 / 50), 1e-12);
}

TEST(NabRawScoreTest, ProbationaryDetectionsAreIgnored) {
  const NabFile f = MakeFile(1000, {{400, 499}}, /*probationary_rows=*/150);
  EXPECT_EQ(Raw(f, {0, 50, 149}), -1.0);
  EXPECT_EQ(ScoreFile(f, FireAt(f, {0, 50, 149}), 0.5, StandardProfile()).fp, 0);
  EXPECT_DOUBLE_EQ(Raw(f, {150}), -1.0 - 0.11);  // the first row after it counts
}

TEST(NabRawScoreTest, WindowsInTheProbationaryPeriod) {
  // Ends inside it: not scored (no FN), but still the previous window of FPs.
  const NabFile f = MakeFile(1000, {{50, 99}, {400, 499}}, /*probationary_rows=*/150);
  EXPECT_EQ(Raw(f, {}), -1.0);
  EXPECT_EQ(ScoreFile(f, FireAt(f, {}), 0.5, StandardProfile()).fn, 1);
  EXPECT_NEAR(Raw(f, {150}) - (-1.0), 0.11 * NabSigmoid(51.0 / 50), 1e-12);
  NabCorpus corpus{"", {f}};
  EXPECT_EQ(corpus.Windows(), 2u);
  EXPECT_EQ(corpus.ScoredWindows(), 1u);
  // Straddles its end: scored, positions over the whole window.
  const NabFile g = MakeFile(1000, {{130, 179}, {400, 499}}, /*probationary_rows=*/150);
  EXPECT_EQ(Raw(g, {}), -2.0);
  EXPECT_NEAR(Raw(g, {140, 150}) - (-1.0), NabSigmoid(-30.0 / 50) / NabSigmoid(-1.0), 1e-12);
}

TEST(NabRawScoreTest, OnlyTheEarliestDetectionInAWindowCounts) {
  const NabFile f = MakeFile(1000, {{400, 499}});
  const double early = Raw(f, {410});
  EXPECT_DOUBLE_EQ(Raw(f, {410, 450, 499}), early);
  EXPECT_DOUBLE_EQ(Raw(f, {410, 411, 412}), early);
  const NabFileScore s = ScoreFile(f, FireAt(f, {410, 450, 499}), 0.5, StandardProfile());
  EXPECT_EQ(s.tp, 1);
  EXPECT_EQ(s.fp, 0);
}

TEST(NabRawScoreTest, ThresholdIsInclusive) {
  const NabFile f = MakeFile(1000, {{400, 499}});
  std::vector<double> s(f.Rows(), 0.25);
  s[400] = 0.7;
  EXPECT_EQ(RawScore(f, s, 0.7, StandardProfile()), 1.0);
  EXPECT_EQ(RawScore(f, s, std::nextafter(0.7, 1.0), StandardProfile()), -1.0);
  EXPECT_EQ(RawScore(f, s, kInf, StandardProfile()), -1.0);
}

// Three files: two windows, one, none.
NabCorpus SmallCorpus() {
  NabCorpus c;
  c.files.push_back(MakeFile(2000, {{400, 499}, {1500, 1599}}, 300, "a.csv"));
  c.files.push_back(MakeFile(1000, {{700, 749}}, 150, "b.csv"));
  c.files.push_back(MakeFile(800, {}, 120, "c.csv"));
  return c;
}

TEST(NabScoreCorpusTest, NullScoresZeroAndPerfectScoresHundred) {
  const NabCorpus c = SmallCorpus();
  for (const NabProfile& p : NabProfiles()) {
    SCOPED_TRACE(p.name);
    absl::StatusOr<NabResult> null = ScoreCorpus(c, NullScores(c), p);
    ASSERT_TRUE(null.ok()) << null.status();
    EXPECT_EQ(null->score, 0.0);
    EXPECT_EQ(null->threshold, kInf);
    EXPECT_EQ(null->raw, -3 * p.a_fn);
    EXPECT_EQ(null->raw_null, -3 * p.a_fn);
    EXPECT_EQ(null->raw_perfect, 3 * p.a_tp);
    EXPECT_EQ(null->tp, 0);
    EXPECT_EQ(null->fp, 0);
    EXPECT_EQ(null->fn, 3);

    std::vector<std::vector<double>> perfect = NullScores(c);
    for (size_t f = 0; f < c.files.size(); ++f) {
      for (const NabWindow& w : c.files[f].windows) perfect[f][w.first_row] = 1.0;
    }
    absl::StatusOr<NabResult> best = ScoreCorpus(c, perfect, p);
    ASSERT_TRUE(best.ok()) << best.status();
    EXPECT_EQ(best->score, 100.0);
    EXPECT_EQ(best->threshold, 1.0);
    EXPECT_EQ(best->tp, 3);
    EXPECT_EQ(best->fp, 0);
    EXPECT_EQ(best->fn, 0);
    EXPECT_EQ(best->raw_per_file, std::vector<double>({2.0, 1.0, 0.0}));
  }
}

TEST(NabScoreCorpusTest, SweepPicksTheBestThreshold) {
  const NabFile f = MakeFile(1000, {{400, 499}});
  NabCorpus c{"", {f}};
  std::vector<double> s(f.Rows(), 0.1);  // below 0.1 nothing fires; at 0.1 everything does
  s[400] = 0.6;                          // the hit: +1 instead of -1
  s[100] = 0.8;                          // a FP: -0.11
  s[900] = 0.9;                          // another: -0.11
  // inf: -1; 0.9: -1.11; 0.8: -1.22; 0.6: 0.78; 0.1: 1 - 0.11 * ~900.
  absl::StatusOr<NabResult> r = ScoreCorpus(c, {s}, StandardProfile());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->threshold, 0.6);
  EXPECT_DOUBLE_EQ(r->raw, 0.78);
  EXPECT_EQ(r->tp, 1);
  EXPECT_EQ(r->fp, 2);
  EXPECT_EQ(r->fn, 0);
  EXPECT_DOUBLE_EQ(r->score, 100 * (0.78 + 1) / 2);
}

// Against brute force: every distinct score value tried with RawScore.
TEST(NabScoreCorpusTest, SweepEqualsBruteForce) {
  const NabCorpus c = SmallCorpus();
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::vector<std::vector<double>> scores = RandomScores(c, seed);
    // Coarse values, so that ties across rows and windows are common, and a few
    // high scores inside the windows so that firing pays.
    for (std::vector<double>& s : scores) {
      for (double& x : s) x = std::floor(x * 50) / 50;
    }
    scores[0][420] = scores[0][1590] = scores[1][705] = 0.99;
    for (const NabProfile& p : NabProfiles()) {
      SCOPED_TRACE(p.name + " seed " + std::to_string(seed));
      std::vector<double> candidates = {kInf};
      for (const std::vector<double>& s : scores)
        candidates.insert(candidates.end(), s.begin(), s.end());
      std::sort(candidates.begin(), candidates.end(), std::greater<>());
      candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
      double best = -kInf, best_threshold = 0;
      for (double t : candidates) {
        double raw = 0;
        for (size_t f = 0; f < c.files.size(); ++f) raw += RawScore(c.files[f], scores[f], t, p);
        if (raw > best + 1e-12) {
          best = raw;
          best_threshold = t;
        }
      }
      absl::StatusOr<NabResult> r = ScoreCorpus(c, scores, p);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_NEAR(r->raw, best, 1e-9);
      EXPECT_EQ(r->threshold, best_threshold);
      double sum = 0;
      for (double x : r->raw_per_file) sum += x;
      EXPECT_DOUBLE_EQ(sum, r->raw);
    }
  }
}

TEST(NabScoreCorpusTest, RejectsScoresThatDoNotFit) {
  const NabCorpus c = SmallCorpus();
  std::vector<std::vector<double>> scores = NullScores(c);
  scores.pop_back();
  EXPECT_THAT(ScoreCorpus(c, scores, StandardProfile()).status().message(),
              HasSubstr("scores for 2 files"));
  scores = NullScores(c);
  scores[1].pop_back();
  EXPECT_THAT(ScoreCorpus(c, scores, StandardProfile()).status().message(),
              HasSubstr("b.csv: 999 scores for 1000 rows"));
  scores = NullScores(c);
  scores[2][7] = std::nan("");
  EXPECT_THAT(ScoreCorpus(c, scores, StandardProfile()).status().message(),
              HasSubstr("c.csv: row 7"));
  NabCorpus empty{"", {MakeFile(100, {})}};
  EXPECT_FALSE(ScoreCorpus(empty, NullScores(empty), StandardProfile()).ok());
}

TEST(NabRandomScoresTest, SeededAndUniform) {
  const NabCorpus c = SmallCorpus();
  EXPECT_EQ(RandomScores(c, 7), RandomScores(c, 7));
  EXPECT_NE(RandomScores(c, 7), RandomScores(c, 8));
  const std::vector<std::vector<double>> s = RandomScores(c, 7);
  EXPECT_NE(s[0], std::vector<double>(s[1].begin(), s[1].end()));
  double sum = 0;
  size_t n = 0;
  for (const std::vector<double>& v : s) {
    for (double x : v) {
      ASSERT_GE(x, 0.0);
      ASSERT_LT(x, 1.0);
      sum += x;
      ++n;
    }
  }
  EXPECT_NEAR(sum / n, 0.5, 0.02);
}

TEST(NabReportTest, Table) {
  NabResult r;
  r.score = 11.04;
  r.threshold = 0.99991;
  r.raw = -90.5;
  r.tp = 20;
  r.fp = 31;
  r.fn = 96;
  NabResult null;
  null.threshold = kInf;
  null.fn = 116;
  std::ostringstream out;
  ASSERT_TRUE(WriteNabReport({{StandardProfile(), r}, {RewardLowFnProfile(), null}}, out).ok());
  EXPECT_THAT(out.str(), HasSubstr("profile"));
  EXPECT_THAT(out.str(), HasSubstr("threshold"));
  EXPECT_THAT(out.str(), HasSubstr("standard"));
  EXPECT_THAT(out.str(), HasSubstr("11.04"));
  EXPECT_THAT(out.str(), HasSubstr("0.99991"));
  EXPECT_THAT(out.str(), HasSubstr("never"));
  std::cout << out.str();
}

// --- Loading ---------------------------------------------------------------

class NabLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nab_load_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data" / "sub");
    std::filesystem::create_directories(dir_ / "labels");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ / rel, std::ios::binary) << text;
  }
  absl::StatusOr<NabCorpus> Load() { return LoadNabCorpus(dir_.string()); }

  std::filesystem::path dir_;
};

constexpr char kCsv[] =
    "timestamp,value\n"
    "2014-04-01 00:00:00,1\n"
    "2014-04-01 00:05:00,2.5\n"
    "2014-04-01 00:10:00,-1e-05\n"
    "2014-04-01 00:15:00,4\n"
    "2014-04-01 00:20:00,5\n"
    "2014-04-01 00:25:00,6\n"
    "2014-04-01 00:30:00,7\n";

TEST_F(NabLoadTest, LoadsFilesAndWindows) {
  Write("data/sub/a.csv", kCsv);
  std::string crlf = kCsv;
  for (size_t p = 0; (p = crlf.find('\n', p)) != std::string::npos; p += 2) crlf.insert(p, "\r");
  Write("data/b.csv", crlf);
  Write("labels/combined_windows.json",
        R"({"sub/a.csv": [["2014-04-01 00:05:00.000000", "2014-04-01 00:15:00.000000"],
                          ["2014-04-01 00:25:00.000000", "2014-04-01 00:30:00"]],
            "b.csv": []})");
  absl::StatusOr<NabCorpus> c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->files.size(), 2u);
  EXPECT_EQ(c->files[0].name, "b.csv");
  EXPECT_TRUE(c->files[0].windows.empty());
  const NabFile& a = c->files[1];
  EXPECT_EQ(a.name, "sub/a.csv");
  ASSERT_EQ(a.Rows(), 7u);
  EXPECT_EQ(a.timestamps[0], 1396310400);  // 2014-04-01T00:00:00Z
  EXPECT_EQ(a.timestamps[6] - a.timestamps[0], 1800);
  EXPECT_EQ(a.values[1], 2.5);
  EXPECT_EQ(a.values[2], -1e-05);
  EXPECT_EQ(a.windows, std::vector<NabWindow>({{1, 3}, {5, 6}}));
  EXPECT_EQ(a.probationary_rows, 1u);  // floor(0.15 * 7)
  EXPECT_EQ(c->files[0].values, a.values);
  EXPECT_EQ(c->Windows(), 2u);
}

TEST_F(NabLoadTest, ProbationaryPeriodIsCappedAt750) {
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 6000; ++i) {
    csv += absl::StrFormat("2014-04-%02d %02d:%02d:00,%d\n", 1 + i / 288, (i % 288) / 12,
                           (i % 12) * 5, i);
  }
  Write("data/long.csv", csv);
  Write("labels/combined_windows.json", R"({"long.csv": []})");
  absl::StatusOr<NabCorpus> c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->files[0].probationary_rows, 750u);
}

TEST_F(NabLoadTest, MalformedCsvNamesFileAndLine) {
  Write("labels/combined_windows.json", R"({"sub/a.csv": []})");
  Write("data/sub/a.csv", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05,2\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:3: bad timestamp"));
  Write("data/sub/a.csv", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,x\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:3: bad value"));
  Write("data/sub/a.csv", "timestamp,value\n2014-02-30 00:00:00,1\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:2: bad timestamp"));
  Write("data/sub/a.csv", "time,value\n2014-04-01 00:00:00,1\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:1: expected the header"));
  Write("data/sub/a.csv", "timestamp,value\n2014-04-01 00:00:00,1\n\n2014-04-01 00:05:00,1\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:3: blank line"));
  Write("data/sub/a.csv", "timestamp,value\n2014-04-01 00:00:00,1,2\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:2: more than two columns"));
  Write("data/sub/a.csv", "timestamp,value\n");
  EXPECT_THAT(Load().status().message(), HasSubstr("data/sub/a.csv:1: no data rows"));
}

TEST_F(NabLoadTest, WindowBoundThatIsNotARow) {
  Write("data/sub/a.csv", kCsv);
  Write("labels/combined_windows.json",
        R"({"sub/a.csv": [["2014-04-01 00:05:00.000000", "2014-04-01 00:16:00.000000"]]})");
  absl::StatusOr<NabCorpus> c = Load();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("end \"2014-04-01 00:16:00.000000\" is not a row "
                                              "of data/sub/a.csv"));
  Write("labels/combined_windows.json",
        R"({"sub/a.csv": [["2014-04-01 00:05:00.500000", "2014-04-01 00:15:00.000000"]]})");
  EXPECT_THAT(Load().status().message(),
              HasSubstr("start \"2014-04-01 00:05:00.500000\" is not a row"));
}

TEST_F(NabLoadTest, LabelsMustMatchTheFiles) {
  Write("data/sub/a.csv", kCsv);
  Write("labels/combined_windows.json", R"({})");
  EXPECT_THAT(Load().status().message(), HasSubstr("no entry for data/sub/a.csv"));
  Write("labels/combined_windows.json", R"({"sub/a.csv": [], "sub/gone.csv": []})");
  EXPECT_THAT(Load().status().message(), HasSubstr("\"sub/gone.csv\" has no CSV"));
  Write("labels/combined_windows.json", R"({"sub/a.csv": [)");
  EXPECT_THAT(Load().status().message(), HasSubstr("labels/combined_windows.json"));
  Write("labels/combined_windows.json", R"([])");
  EXPECT_THAT(Load().status().message(), HasSubstr("expected an object"));
  Write("labels/combined_windows.json",
        R"({"sub/a.csv": [["2014-04-01 00:20:00", "2014-04-01 00:30:00"],
                          ["2014-04-01 00:05:00", "2014-04-01 00:10:00"]]})");
  EXPECT_THAT(Load().status().message(), HasSubstr("\"sub/a.csv\" window 1: overlaps or precedes"));
  Write("labels/combined_windows.json",
        R"({"sub/a.csv": [["2014-04-01 00:20:00", "2014-04-01 00:10:00"]]})");
  EXPECT_THAT(Load().status().message(), HasSubstr("starts after it ends"));
  Write("labels/combined_windows.json", R"({"sub/a.csv": [["2014-04-01 00:20:00"]]})");
  EXPECT_THAT(Load().status().message(), HasSubstr("expected [\"start\", \"end\"]"));
  std::filesystem::remove(dir_ / "labels/combined_windows.json");
  EXPECT_EQ(Load().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NabLoadTest, RepeatedTimestampsAreKeptAndBoundsTakeTheWidestRows) {
  // NAB's own files repeat timestamps (daylight saving); rows are the unit.
  Write("data/sub/a.csv",
        "timestamp,value\n"
        "2014-04-01 00:00:00,1\n"
        "2014-04-01 00:05:00,2\n"
        "2014-04-01 00:05:00,3\n"
        "2014-04-01 00:10:00,4\n"
        "2014-04-01 00:10:00,5\n"
        "2014-04-01 00:15:00,6\n");
  Write("labels/combined_windows.json",
        R"({"sub/a.csv": [["2014-04-01 00:05:00", "2014-04-01 00:10:00"]]})");
  absl::StatusOr<NabCorpus> c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->files[0].windows, std::vector<NabWindow>({{1, 4}}));
}

TEST(NabLoadMissingTest, MissingDirectoryIsNotFound) {
  EXPECT_EQ(LoadNabCorpus("/nonexistent/nab").status().code(), absl::StatusCode::kNotFound);
}

// --- The real corpus ---------------------------------------------------------

std::string NabDir() {
  const char* env = std::getenv("NAB_DIR");
  return env != nullptr && *env != '\0' ? env : ARIADNE_NAB_DIR;
}

class NabCorpusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = NabDir();
    if (!std::filesystem::is_directory(dir)) {
      load_error_ = "the NAB corpus is not at " + dir +
                    " (set NAB_DIR to the folder holding data/ and labels/)";
      return;
    }
    absl::StatusOr<NabCorpus> c = LoadNabCorpus(dir);
    if (!c.ok()) {
      load_error_ = std::string(c.status().message());
      return;
    }
    corpus_ = new NabCorpus(*std::move(c));
  }
  static void TearDownTestSuite() {
    delete corpus_;
    corpus_ = nullptr;
  }
  void SetUp() override {
    // Fails, does not skip: an evaluation without its data must not pass.
    ASSERT_NE(corpus_, nullptr) << load_error_;
  }

  static const NabCorpus* corpus_;
  static std::string load_error_;
};
const NabCorpus* NabCorpusTest::corpus_ = nullptr;
std::string NabCorpusTest::load_error_;

TEST_F(NabCorpusTest, LoadsAllFilesAndWindows) {
  const NabCorpus& c = *corpus_;
  EXPECT_EQ(c.files.size(), 58u);
  EXPECT_EQ(c.Windows(), 116u);
  EXPECT_EQ(c.ScoredWindows(), 116u);  // none ends in a probationary period
  EXPECT_EQ(c.Rows(), 365558u);
  size_t without_windows = 0;
  for (const NabFile& f : c.files) {
    SCOPED_TRACE(f.name);
    EXPECT_EQ(f.values.size(), f.Rows());
    EXPECT_EQ(f.probationary_rows,
              std::min<size_t>(static_cast<size_t>(std::floor(0.15 * f.Rows())), 750));
    if (f.windows.empty()) ++without_windows;
    EXPECT_LE(f.windows.size(), 5u);
    for (const NabWindow& w : f.windows) {
      EXPECT_LT(w.last_row, f.Rows());
      EXPECT_GE(w.first_row, f.probationary_rows);
    }
  }
  EXPECT_EQ(without_windows, 6u);
  auto taxi = std::find_if(c.files.begin(), c.files.end(), [](const NabFile& f) {
    return f.name == "realKnownCause/nyc_taxi.csv";
  });
  ASSERT_NE(taxi, c.files.end());
  EXPECT_EQ(taxi->Rows(), 10320u);
  EXPECT_EQ(taxi->probationary_rows, 750u);
  EXPECT_EQ(taxi->windows.size(), 5u);
  EXPECT_EQ(taxi->timestamps[1] - taxi->timestamps[0], 1800);
  EXPECT_EQ(taxi->values[0], 10844);
}

TEST_F(NabCorpusTest, NullDetectorScoresZero) {
  const double raw_null[] = {-116, -116, -232};
  const std::vector<NabProfile> profiles = NabProfiles();
  std::vector<std::pair<NabProfile, NabResult>> report;
  for (size_t p = 0; p < profiles.size(); ++p) {
    absl::StatusOr<NabResult> r = ScoreCorpus(*corpus_, NullScores(*corpus_), profiles[p]);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->score, 0.0) << profiles[p].name;
    EXPECT_EQ(r->raw, raw_null[p]);
    EXPECT_EQ(r->raw_null, raw_null[p]);
    EXPECT_EQ(r->raw_perfect, 116);
    EXPECT_EQ(r->fn, 116);
    report.emplace_back(profiles[p], *r);
  }
  std::cout << "null detector on NAB:\n";
  ASSERT_TRUE(WriteNabReport(report, std::cout).ok());
}

// NAB's scoreboard has the random detector (mean over seeds) at 11.0 / 1.2 /
// 19.5. Our mean over kSeeds seeds must land within kTolerance of it. One
// seed's score spreads by about 3 points (sd 3.4 / 1.9 / 2.9 measured), so the
// mean of 20 has a standard error under 1 point; the rest of the tolerance
// covers what the description leaves open (the exact position formulas, the
// random generator, NAB's number of seeds). Measured: 10.2 / 1.7 / 22.8 (the
// low-FN profile sits ~3 points above the published row, a systematic offset
// of our reading of the description, not noise).
TEST_F(NabCorpusTest, RandomDetectorLandsNearThePublishedRow) {
  constexpr int kSeeds = 20;
  constexpr double kTolerance = 5.0;
  const double published[] = {11.0, 1.2, 19.5};
  const std::vector<NabProfile> profiles = NabProfiles();
  std::vector<double> sum(profiles.size()), sum_sq(profiles.size());
  std::vector<double> lo(profiles.size(), 1e9), hi(profiles.size(), -1e9);
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const std::vector<std::vector<double>> scores = RandomScores(*corpus_, seed);
    std::cout << absl::StrFormat("random seed %2d:", seed);
    for (size_t p = 0; p < profiles.size(); ++p) {
      absl::StatusOr<NabResult> r = ScoreCorpus(*corpus_, scores, profiles[p]);
      ASSERT_TRUE(r.ok()) << r.status();
      double per_file = 0;
      for (double x : r->raw_per_file) per_file += x;
      EXPECT_NEAR(per_file, r->raw, 1e-9);
      sum[p] += r->score;
      sum_sq[p] += r->score * r->score;
      lo[p] = std::min(lo[p], r->score);
      hi[p] = std::max(hi[p], r->score);
      std::cout << absl::StrFormat("  %s %6.2f (TP %d FP %d FN %d)", profiles[p].name, r->score,
                                   r->tp, r->fp, r->fn);
    }
    std::cout << "\n";
  }
  for (size_t p = 0; p < profiles.size(); ++p) {
    const double mean = sum[p] / kSeeds;
    const double sd = std::sqrt(std::max(0.0, sum_sq[p] / kSeeds - mean * mean));
    std::cout << absl::StrFormat(
        "random mean over %d seeds, %-20s %6.2f (sd %.2f, min %.2f, max %.2f; published %.1f)\n",
        kSeeds, profiles[p].name, mean, sd, lo[p], hi[p], published[p]);
    EXPECT_NEAR(mean, published[p], kTolerance) << profiles[p].name;
  }
}

}  // namespace
}  // namespace ariadne::eval
