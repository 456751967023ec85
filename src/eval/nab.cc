#include "eval/nab.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <system_error>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "simdjson.h"

namespace ariadne::eval {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCsvHeader = "timestamp,value";
constexpr std::string_view kWindowsFile = "labels/combined_windows.json";
constexpr size_t kMaxProbationaryRows = 750;  // 0.15 * 5000

}  // namespace

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec))
      return absl::NotFoundError(absl::StrCat(path.string(), ": not found"));
    return absl::UnavailableError(absl::StrCat(path.string(), ": cannot open"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path.string(), ": read error"));
  return std::move(buffer).str();
}

namespace {

bool TwoDigits(std::string_view s, size_t at, int* out) {
  if (s[at] < '0' || s[at] > '9' || s[at + 1] < '0' || s[at + 1] > '9') return false;
  *out = (s[at] - '0') * 10 + (s[at + 1] - '0');
  return true;
}

}  // namespace

bool ParseTimestamp(std::string_view s, int64_t* out) {
  if (s.size() != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
      s[16] != ':') {
    return false;
  }
  int century, year2, month, day, hour, minute, second;
  if (!TwoDigits(s, 0, &century) || !TwoDigits(s, 2, &year2) || !TwoDigits(s, 5, &month) ||
      !TwoDigits(s, 8, &day) || !TwoDigits(s, 11, &hour) || !TwoDigits(s, 14, &minute) ||
      !TwoDigits(s, 17, &second)) {
    return false;
  }
  const int year = century * 100 + year2;
  const absl::CivilSecond cs(year, month, day, hour, minute, second);
  // CivilSecond normalises (Feb 30 -> Mar 2); a valid time survives unchanged.
  if (cs.year() != year || cs.month() != month || cs.day() != day || cs.hour() != hour ||
      cs.minute() != minute || cs.second() != second) {
    return false;
  }
  *out = absl::ToUnixSeconds(absl::FromCivil(cs, absl::UTCTimeZone()));
  return true;
}

namespace {

// A window bound: `YYYY-MM-DD HH:MM:SS` with an optional `.ffffff`. Sets
// *fraction_is_zero so that the caller can say a non-zero fraction is no row.
bool ParseWindowTimestamp(std::string_view s, int64_t* out, bool* fraction_is_zero) {
  *fraction_is_zero = true;
  if (s.size() > 19) {
    std::string_view fraction = s.substr(19);
    if (fraction.size() < 2 || fraction[0] != '.') return false;
    for (char c : fraction.substr(1)) {
      if (c < '0' || c > '9') return false;
      if (c != '0') *fraction_is_zero = false;
    }
    s = s.substr(0, 19);
  }
  return ParseTimestamp(s, out);
}

absl::Status CsvError(const std::string& name, size_t line, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("data/", name, ":", line, ": ", AbslView(message)));
}

absl::StatusOr<NabFile> LoadCsv(const fs::path& path, std::string name) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  NabFile file;
  file.name = std::move(name);
  std::string_view rest = *text;
  size_t line = 0;
  bool header_seen = false;
  while (!rest.empty()) {
    ++line;
    const size_t eol = rest.find('\n');
    std::string_view row = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    if (!header_seen) {
      if (row != kCsvHeader) {
        return CsvError(file.name, line,
                        absl::StrCat("expected the header `", AbslView(kCsvHeader), "`, got `",
                                     AbslView(row.substr(0, 80)), "`"));
      }
      header_seen = true;
      continue;
    }
    if (row.empty()) return CsvError(file.name, line, "blank line");
    const size_t comma = row.find(',');
    if (comma == std::string_view::npos) {
      return CsvError(file.name, line, "expected `timestamp,value`");
    }
    const std::string_view ts = row.substr(0, comma);
    const std::string_view value = row.substr(comma + 1);
    int64_t seconds;
    if (!ParseTimestamp(ts, &seconds)) {
      return CsvError(file.name, line,
                      absl::StrCat("bad timestamp `", AbslView(ts.substr(0, 40)),
                                   "` (want YYYY-MM-DD HH:MM:SS)"));
    }
    double v;
    if (value.find(',') != std::string_view::npos) {
      return CsvError(file.name, line, "more than two columns");
    }
    if (value.empty() || !absl::SimpleAtod(AbslView(value), &v)) {
      return CsvError(file.name, line,
                      absl::StrCat("bad value `", AbslView(value.substr(0, 40)), "`"));
    }
    file.timestamps.push_back(seconds);
    file.values.push_back(v);
  }
  if (!header_seen) return CsvError(file.name, 1, "empty file");
  if (file.timestamps.empty()) return CsvError(file.name, line, "no data rows");
  file.probationary_rows =
      std::min(static_cast<size_t>(std::floor(0.15 * static_cast<double>(file.Rows()))),
               kMaxProbationaryRows);
  return file;
}

absl::Status WindowsError(std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(kWindowsFile), ": ", AbslView(message)));
}

// The windows of `file` from the JSON list of [start, end] pairs.
absl::Status MapWindows(simdjson::dom::array list, NabFile* file) {
  // Timestamp -> first and last row holding it.
  absl::flat_hash_map<int64_t, std::pair<size_t, size_t>> rows;
  rows.reserve(file->Rows());
  for (size_t i = 0; i < file->Rows(); ++i) {
    auto [it, inserted] = rows.try_emplace(file->timestamps[i], i, i);
    if (!inserted) it->second.second = i;
  }
  size_t index = 0;
  for (simdjson::dom::element pair : list) {
    const std::string where = absl::StrCat("\"", file->name, "\" window ", index);
    simdjson::dom::array bounds;
    if (pair.get_array().get(bounds) != simdjson::SUCCESS || bounds.size() != 2) {
      return WindowsError(absl::StrCat(where, ": expected [\"start\", \"end\"]"));
    }
    size_t row[2];
    for (size_t b = 0; b < 2; ++b) {
      std::string_view text;
      if (bounds.at(b).get_string().get(text) != simdjson::SUCCESS) {
        return WindowsError(absl::StrCat(where, ": bounds must be strings"));
      }
      int64_t seconds;
      bool fraction_is_zero;
      if (!ParseWindowTimestamp(text, &seconds, &fraction_is_zero)) {
        return WindowsError(absl::StrCat(where, ": bad timestamp \"", AbslView(text.substr(0, 40)),
                                         "\" (want YYYY-MM-DD HH:MM:SS[.ffffff])"));
      }
      auto it = rows.find(seconds);
      if (!fraction_is_zero || it == rows.end()) {
        return WindowsError(absl::StrCat(where, ": ", b == 0 ? "start" : "end", " \"",
                                         AbslView(text), "\" is not a row of data/", file->name));
      }
      row[b] = b == 0 ? it->second.first : it->second.second;
    }
    if (row[0] > row[1]) {
      return WindowsError(
          absl::StrCat(where, ": starts after it ends (rows ", row[0], " > ", row[1], ")"));
    }
    if (!file->windows.empty() && row[0] <= file->windows.back().last_row) {
      return WindowsError(absl::StrCat(where, ": overlaps or precedes the window before it"));
    }
    file->windows.push_back({row[0], row[1]});
    ++index;
  }
  return absl::OkStatus();
}

// The position of each row relative to the windows: what a detection there is
// worth, and in which window it lies (-1: outside, a false positive).
struct RowValue {
  int64_t window;
  double value;
};

// Calls fn(row, RowValue) for every row past the probationary period, in order.
template <typename Fn>
void ForEachScoredRow(const NabFile& file, const NabProfile& profile, Fn&& fn) {
  const double max_sigmoid = NabSigmoid(-1.0);
  const std::vector<NabWindow>& windows = file.windows;
  size_t k = 0;  // the first window that does not end before row i
  for (size_t i = file.probationary_rows; i < file.Rows(); ++i) {
    while (k < windows.size() && windows[k].last_row < i) ++k;
    if (k < windows.size() && windows[k].first_row <= i) {
      const NabWindow& w = windows[k];
      const double y = -static_cast<double>(w.last_row - i + 1) / static_cast<double>(w.Width());
      fn(i, RowValue{static_cast<int64_t>(k), profile.a_tp * (NabSigmoid(y) / max_sigmoid)});
    } else if (k == 0) {
      fn(i, RowValue{-1, -profile.a_fp});
    } else {
      const NabWindow& p = windows[k - 1];
      const double y = static_cast<double>(i - p.last_row) / static_cast<double>(p.Width());
      fn(i, RowValue{-1, profile.a_fp * NabSigmoid(y)});
    }
  }
}

bool Scored(const NabFile& file, const NabWindow& w) {
  return w.last_row >= file.probationary_rows;
}

size_t ScoredWindowsOf(const NabFile& file) {
  return std::count_if(file.windows.begin(), file.windows.end(),
                       [&](const NabWindow& w) { return Scored(file, w); });
}

absl::Status CheckScores(const NabCorpus& corpus,
                         const std::vector<std::vector<double>>& scores_per_file) {
  if (scores_per_file.size() != corpus.files.size()) {
    return absl::InvalidArgumentError(absl::StrCat("scores for ", scores_per_file.size(),
                                                   " files, the corpus has ", corpus.files.size()));
  }
  for (size_t f = 0; f < corpus.files.size(); ++f) {
    const NabFile& file = corpus.files[f];
    const std::vector<double>& scores = scores_per_file[f];
    if (scores.size() != file.Rows()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.name, ": ", scores.size(), " scores for ", file.Rows(), " rows"));
    }
    for (size_t i = 0; i < scores.size(); ++i) {
      if (!std::isfinite(scores[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat(file.name, ": row ", i, ": score ", scores[i], " is not finite"));
      }
    }
  }
  return absl::OkStatus();
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

size_t NabCorpus::Rows() const {
  size_t n = 0;
  for (const NabFile& f : files) n += f.Rows();
  return n;
}

size_t NabCorpus::Windows() const {
  size_t n = 0;
  for (const NabFile& f : files) n += f.windows.size();
  return n;
}

size_t NabCorpus::ScoredWindows() const {
  size_t n = 0;
  for (const NabFile& f : files) n += ScoredWindowsOf(f);
  return n;
}

absl::StatusOr<NabCorpus> LoadNabCorpus(const std::string& dir) {
  NabCorpus corpus;
  corpus.dir = dir;
  const fs::path data = fs::path(dir) / "data";
  std::error_code ec;
  if (!fs::is_directory(data, ec)) {
    return absl::NotFoundError(absl::StrCat(data.string(), ": not a directory"));
  }
  std::vector<std::pair<std::string, fs::path>> csvs;
  for (fs::recursive_directory_iterator it(data, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".csv") {
      csvs.emplace_back(it->path().lexically_relative(data).generic_string(), it->path());
    }
  }
  if (ec) return absl::UnavailableError(absl::StrCat(data.string(), ": ", ec.message()));
  if (csvs.empty()) return absl::NotFoundError(absl::StrCat(data.string(), ": no .csv files"));
  std::sort(csvs.begin(), csvs.end());
  for (auto& [name, path] : csvs) {
    absl::StatusOr<NabFile> file = LoadCsv(path, name);
    if (!file.ok()) return file.status();
    corpus.files.push_back(*std::move(file));
  }

  const fs::path windows_path = fs::path(dir) / kWindowsFile;
  simdjson::padded_string json;
  if (simdjson::padded_string::load(windows_path.string()).get(json) != simdjson::SUCCESS) {
    if (!fs::exists(windows_path, ec)) {
      return absl::NotFoundError(absl::StrCat(windows_path.string(), ": not found"));
    }
    return absl::UnavailableError(absl::StrCat(windows_path.string(), ": cannot read"));
  }
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (const simdjson::error_code e = parser.parse(json).get(root); e != simdjson::SUCCESS) {
    return WindowsError(e == simdjson::INCORRECT_TYPE ? "expected an object"
                                                      : simdjson::error_message(e));
  }
  absl::flat_hash_map<std::string_view, NabFile*> by_name;
  for (NabFile& f : corpus.files) by_name[f.name] = &f;
  absl::flat_hash_set<std::string_view> seen;
  for (simdjson::dom::key_value_pair field : root) {
    auto it = by_name.find(field.key);
    if (it == by_name.end()) {
      return WindowsError(
          absl::StrCat("\"", AbslView(field.key), "\" has no CSV under ", data.string()));
    }
    if (!seen.insert(field.key).second) {
      return WindowsError(absl::StrCat("\"", AbslView(field.key), "\" appears twice"));
    }
    simdjson::dom::array list;
    if (field.value.get_array().get(list) != simdjson::SUCCESS) {
      return WindowsError(
          absl::StrCat("\"", AbslView(field.key), "\": expected a list of windows"));
    }
    if (absl::Status s = MapWindows(list, it->second); !s.ok()) return s;
  }
  for (const NabFile& f : corpus.files) {
    if (!seen.contains(f.name)) {
      return WindowsError(absl::StrCat("no entry for data/", f.name));
    }
  }
  return corpus;
}

NabProfile StandardProfile() { return {"standard", 1.0, 1.0, 0.11}; }
NabProfile RewardLowFpProfile() { return {"reward_low_FP_rate", 1.0, 1.0, 0.22}; }
NabProfile RewardLowFnProfile() { return {"reward_low_FN_rate", 1.0, 2.0, 0.11}; }
std::vector<NabProfile> NabProfiles() {
  return {StandardProfile(), RewardLowFpProfile(), RewardLowFnProfile()};
}

double NabSigmoid(double y) {
  if (y > 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * y)) - 1.0;
}

NabFileScore ScoreFile(const NabFile& file, std::span<const double> scores, double threshold,
                       const NabProfile& profile) {
  assert(scores.size() == file.Rows());
  NabFileScore result;
  std::vector<bool> detected(file.windows.size(), false);
  ForEachScoredRow(file, profile, [&](size_t i, RowValue v) {
    if (i >= scores.size() || !(scores[i] >= threshold)) return;
    if (v.window < 0) {
      result.raw += v.value;
      ++result.fp;
    } else if (!detected[v.window]) {
      detected[v.window] = true;
      result.raw += v.value;
      ++result.tp;
    }
  });
  for (size_t k = 0; k < file.windows.size(); ++k) {
    if (!detected[k] && Scored(file, file.windows[k])) {
      result.raw -= profile.a_fn;
      ++result.fn;
    }
  }
  return result;
}

double RawScore(const NabFile& file, std::span<const double> scores, double threshold,
                const NabProfile& profile) {
  return ScoreFile(file, scores, threshold, profile).raw;
}

absl::StatusOr<NabResult> ScoreCorpus(const NabCorpus& corpus,
                                      const std::vector<std::vector<double>>& scores_per_file,
                                      const NabProfile& profile) {
  if (absl::Status s = CheckScores(corpus, scores_per_file); !s.ok()) return s;
  const double windows = static_cast<double>(corpus.ScoredWindows());
  NabResult result;
  result.raw_null = -profile.a_fn * windows;
  result.raw_perfect = profile.a_tp * windows;
  if (!(result.raw_perfect > result.raw_null)) {
    return absl::InvalidArgumentError(absl::StrCat("nothing to normalise by: ", windows,
                                                   " scored windows, profile ", profile.name,
                                                   " (a_tp + a_fn must be > 0)"));
  }

  // The raw score as a function of the threshold t is a step function that
  // changes only at score values. Each event says: once t <= score, the raw
  // score changes by delta. A false-positive row adds its (negative) value. A
  // window's earliest detection at threshold t is its first row scoring >= t,
  // which is one of the rows whose score beats every earlier row of the window
  // (its prefix maxima r_1 < r_2 < ... with scores v_1 < v_2 < ...): r_k for
  // v_{k-1} < t <= v_k. So at v_m (the window's maximum) the window goes from
  // -a_fn to reward(r_m), and at each v_k below, from reward(r_{k+1}) to
  // reward(r_k).
  struct Event {
    double score;
    double delta;
  };
  std::vector<Event> events;
  events.reserve(corpus.Rows());
  std::vector<Event> records;  // the prefix maxima of the current window
  for (size_t f = 0; f < corpus.files.size(); ++f) {
    const NabFile& file = corpus.files[f];
    const std::vector<double>& scores = scores_per_file[f];
    int64_t window = -1;
    auto flush = [&] {
      for (size_t r = 0; r < records.size(); ++r) {
        const double next = r + 1 < records.size() ? records[r + 1].delta : -profile.a_fn;
        events.push_back({records[r].score, records[r].delta - next});
      }
      records.clear();
    };
    ForEachScoredRow(file, profile, [&](size_t i, RowValue v) {
      if (v.window != window) {
        flush();
        window = v.window;
      }
      if (v.window < 0) {
        events.push_back({scores[i], v.value});
      } else if (records.empty() || scores[i] > records.back().score) {
        records.push_back({scores[i], v.value});  // delta holds the reward until flush
      }
    });
    flush();
  }
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.score > b.score; });

  long double raw = result.raw_null;
  long double best = raw;
  result.threshold = std::numeric_limits<double>::infinity();
  for (size_t e = 0; e < events.size();) {
    const double score = events[e].score;
    for (; e < events.size() && events[e].score == score; ++e) raw += events[e].delta;
    if (raw > best) {
      best = raw;
      result.threshold = score;
    }
  }

  // Score each file at the chosen threshold, directly: the reported numbers
  // come from the definition, not from the sweep's running sum.
  result.raw = 0;
  for (size_t f = 0; f < corpus.files.size(); ++f) {
    const NabFileScore s =
        ScoreFile(corpus.files[f], scores_per_file[f], result.threshold, profile);
    result.raw_per_file.push_back(s.raw);
    result.raw += s.raw;
    result.tp += s.tp;
    result.fp += s.fp;
    result.fn += s.fn;
  }
  result.score = 100.0 * (result.raw - result.raw_null) / (result.raw_perfect - result.raw_null);
  return result;
}

std::vector<std::vector<double>> NullScores(const NabCorpus& corpus) {
  std::vector<std::vector<double>> scores;
  scores.reserve(corpus.files.size());
  for (const NabFile& f : corpus.files) scores.emplace_back(f.Rows(), 0.0);
  return scores;
}

std::vector<std::vector<double>> RandomScores(const NabCorpus& corpus, uint64_t seed) {
  std::vector<std::vector<double>> scores;
  scores.reserve(corpus.files.size());
  for (size_t f = 0; f < corpus.files.size(); ++f) {
    // One stream per file: the seed, then the file's index, through splitmix64.
    uint64_t state = seed;
    state = SplitMix64(&state) ^ (0xd1b54a32d192ed03ULL * (f + 1));
    std::vector<double>& s = scores.emplace_back(corpus.files[f].Rows());
    for (double& x : s) x = static_cast<double>(SplitMix64(&state) >> 11) * 0x1.0p-53;
  }
  return scores;
}

absl::Status WriteNabReport(const std::vector<std::pair<NabProfile, NabResult>>& results,
                            std::ostream& out) {
  out << absl::StrFormat("%-20s %8s %12s %10s %6s %7s %6s\n", "profile", "score", "threshold",
                         "raw", "TP", "FP", "FN");
  for (const auto& [profile, r] : results) {
    const std::string threshold =
        std::isinf(r.threshold) ? std::string("never") : absl::StrFormat("%.8g", r.threshold);
    out << absl::StrFormat("%-20s %8.2f %12s %10.3f %6d %7d %6d\n", profile.name, r.score,
                           threshold, r.raw, r.tp, r.fp, r.fn);
  }
  out.flush();
  if (!out) return absl::DataLossError("writing the NAB report failed");
  return absl::OkStatus();
}

}  // namespace ariadne::eval
