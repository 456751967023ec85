// The Numenta Anomaly Benchmark (NAB v1.1): its corpus and its scorer,
// reimplemented from the description in shared/datasets/nab/README.md (no NAB
// code was read or copied). `ariadne eval nab` runs a detector over every file
// of the corpus and scores its per-row anomaly scores here.
//
// Scoring, as implemented (y is a row's position relative to a window; a
// window k covers rows [s_k, e_k] and is w_k = e_k - s_k + 1 rows wide):
//
//   sigmoid(y)   = 2 / (1 + exp(5 y)) - 1          (+0.987 at y=-1, 0 at y=0, -> -1)
//   detection    = a row i >= probationary_rows whose score >= threshold
//   in window k  : y = -(e_k - i + 1) / w_k          in [-1, -1/w_k]
//                  (minus the share of the window's rows from row i to its end,
//                  i included: the left edge is exactly -1, the last row -1/w_k)
//                  Only the window's earliest detection counts; it earns
//                  a_tp * sigmoid(y) / sigmoid(-1), so a hit on the first row earns
//                  exactly a_tp and one on the last row earns ~0 (0.0054 * a_tp for
//                  a 473-row window). Later detections in the window count for
//                  nothing, neither TP nor FP.
//   no detection : the window costs -a_fn.
//   outside      : every detection is a false positive worth a_fp * sigmoid(y) < 0,
//                  with y = (i - e_p) / w_p for the previous window p (the last one
//                  with e_p < i): the rows from the end of p to row i, i included,
//                  in widths of p. So the row right after a window has y = 1/w_p
//                  (mirror of the window's last row, -1/w_p) and costs almost
//                  nothing; beyond 3 widths (y > 3), or with no earlier window,
//                  the FP costs the full a_fp.
//
//   raw score    = sum over all files of the above.
//   normalised   = 100 * (raw - raw_null) / (raw_perfect - raw_null), with
//                  raw_null = -a_fn * windows (the detector that never fires) and
//                  raw_perfect = a_tp * windows.
//
// Probationary period: the first min(floor(0.15 n), 750) rows of a file never
// count as detections, whatever their score. The README is silent on windows
// there (none of NAB's 116 windows reaches into it), so:
//   * a window that ends inside the probationary period is not scored: no TP,
//     no FN, and it is left out of `windows` in raw_null and raw_perfect (no
//     detector could earn it, and the perfect detector should still score 100).
//     It still is the "previous window" of the FPs after it.
//   * a window that straddles the end of the probationary period is scored as
//     usual, its positions measured over the whole window, so its best reward is
//     below a_tp.
//
// The threshold: one per profile for the whole corpus, the one maximising the
// corpus-wide raw score. The raw score only changes at a score value that
// occurs, so ScoreCorpus evaluates every distinct score value exactly (one
// sorted sweep, O(rows log rows)), plus "never fire" (threshold +infinity). On a
// tie the highest threshold wins.
//
// Threading: everything here is a pure function of its arguments; call it from
// any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne::eval {

// Shared by the evaluations' loaders: a whole file (NotFound if absent), and
// `YYYY-MM-DD HH:MM:SS` (exactly) as Unix seconds, read as UTC.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path);
bool ParseTimestamp(std::string_view text, int64_t* unix_seconds);

// A labeled anomaly window: rows first_row..last_row of its file, both included.
struct NabWindow {
  size_t first_row = 0;
  size_t last_row = 0;

  size_t Width() const { return last_row - first_row + 1; }
  friend bool operator==(const NabWindow&, const NabWindow&) = default;
};

// One series of the corpus.
struct NabFile {
  // Path relative to data/, with '/' separators: "realKnownCause/nyc_taxi.csv".
  std::string name;
  // One entry per row, in file order. The timestamps are unix seconds (the CSV's
  // wall-clock times read as UTC). They are NOT guaranteed increasing: NAB's own
  // files repeat timestamps (8 files, daylight-saving artefacts) and one
  // (machine_temperature_system_failure.csv) steps back an hour. Rows, not
  // times, are the unit of scoring.
  std::vector<int64_t> timestamps;
  std::vector<double> values;
  // Sorted, disjoint.
  std::vector<NabWindow> windows;
  // min(floor(0.15 * rows), 750).
  size_t probationary_rows = 0;

  size_t Rows() const { return timestamps.size(); }
};

struct NabCorpus {
  std::string dir;
  // Sorted by name.
  std::vector<NabFile> files;

  size_t Rows() const;
  // Every window, scored or not.
  size_t Windows() const;
  // The windows that count in the normalisation: those ending at or after the
  // end of their file's probationary period.
  size_t ScoredWindows() const;
};

// Loads `dir`/data/**/*.csv and `dir`/labels/combined_windows.json.
// CSV: header `timestamp,value`, then `YYYY-MM-DD HH:MM:SS,<number>` per row
// (CRLF accepted, a final newline optional, no blank lines). JSON: an object
// from file name (relative to data/) to a list of ["start", "end"] timestamps,
// `YYYY-MM-DD HH:MM:SS` with an optional fraction that must be zero. A bound
// must equal a row's timestamp; if several rows share it, a start takes the
// first of them and an end the last. Every CSV needs an entry and every entry a
// CSV; windows must be in order and disjoint. Errors name the file (and the
// line for CSV): InvalidArgument for malformed input, NotFound / the I/O error
// for missing files.
[[nodiscard]] absl::StatusOr<NabCorpus> LoadNabCorpus(const std::string& dir);

// The weights of a profile. The three of NAB are below.
struct NabProfile {
  std::string name;
  double a_tp = 1.0;
  double a_fn = 1.0;
  double a_fp = 0.11;
};

NabProfile StandardProfile();           // "standard": 1 / 1 / 0.11
NabProfile RewardLowFpProfile();        // "reward_low_FP_rate": 1 / 1 / 0.22
NabProfile RewardLowFnProfile();        // "reward_low_FN_rate": 1 / 2 / 0.11
std::vector<NabProfile> NabProfiles();  // the three, in that order

// 2 / (1 + exp(5 y)) - 1, and -1 for y > 3 (see above).
double NabSigmoid(double y);

// One file scored at one threshold.
struct NabFileScore {
  double raw = 0;
  int64_t tp = 0;  // scored windows with a detection
  int64_t fp = 0;  // detections outside every window
  int64_t fn = 0;  // scored windows without one
};

// `scores` has one entry per row (asserted; in a release build missing rows
// never fire). NaN never fires.
NabFileScore ScoreFile(const NabFile& file, std::span<const double> scores, double threshold,
                       const NabProfile& profile);
// ScoreFile(...).raw.
double RawScore(const NabFile& file, std::span<const double> scores, double threshold,
                const NabProfile& profile);

struct NabResult {
  // The best threshold: detections are scores >= threshold. +infinity when
  // never firing is best (the null detector).
  double threshold = 0;
  // Normalised: 0 for the null detector, 100 for the perfect one.
  double score = 0;
  double raw = 0;
  double raw_null = 0;
  double raw_perfect = 0;
  int64_t tp = 0;
  int64_t fp = 0;
  int64_t fn = 0;
  // Raw score of each file at `threshold`, in corpus order; sums to `raw`.
  std::vector<double> raw_per_file;
};

// Sweeps the threshold (see above) and scores the corpus at the best one.
// InvalidArgument if scores_per_file does not have one finite score per row of
// every file, or if the corpus has no scored window (nothing to normalise by).
[[nodiscard]] absl::StatusOr<NabResult> ScoreCorpus(
    const NabCorpus& corpus, const std::vector<std::vector<double>>& scores_per_file,
    const NabProfile& profile);

// Reference detectors, one score vector per file in corpus order.
// NullScores: 0 everywhere (normalises to 0). RandomScores: independent
// uniform [0, 1) per row, like NAB's random detector; the same seed gives the
// same scores on every platform (splitmix64 of the seed and the file's index).
std::vector<std::vector<double>> NullScores(const NabCorpus& corpus);
std::vector<std::vector<double>> RandomScores(const NabCorpus& corpus, uint64_t seed);

// A table, one row per result: profile, score, threshold, raw, TP, FP, FN.
// Fails only if the stream does.
[[nodiscard]] absl::Status WriteNabReport(
    const std::vector<std::pair<NabProfile, NabResult>>& results, std::ostream& out);

}  // namespace ariadne::eval
