// SeriesDetector: an online anomaly detector for one time series, constant
// time and memory per point, no training step (docs/detection.md).
//
// Each point is
//   1. scored: its distance from the series' recent distribution (a running
//      mean and deviation over about 300 points), in standard deviations,
//      mapped to [0, 1), and how extreme that distance is for this series
//      (its tail probability under a generalised Pareto fit to the series' own
//      largest distances, SPOT's self-setting threshold), mapped to [0, 1);
//      the score is their geometric mean. An alarm is raised once: while the
//      series stays anomalous, a score counts in full only when it rises
//      above what was already reported;
//   2. explained: against a forecast (damped Holt level + trend, plus an
//      hour-of-day seasonal offset once two days of sub-hour points have been
//      seen) with a robust residual scale, a two-sided CUSUM of the residuals
//      (a level shift) and the fast level against a slow one (a drift, such
//      as a leak); the strongest names the reason.
// The design and its measured score on NAB are in docs/detection.md.
//
// Threading: not thread-safe; one detector per series, used by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ariadne::detect {

struct DetectorOptions {
  double level_alpha = 0.05;  // Holt level smoothing
  double trend_beta = 0.02;   // Holt trend smoothing
  double trend_damping = 0.9;
  double scale_alpha = 0.02;       // running mean absolute residual
  double scale_floor = 0.1;        // the residual scale is at least this share of the values' deviation
  // The deviations are at least this share of the series' mean absolute
  // value: a quantile analytics writes moves in steps of about 2% (the
  // sketch's buckets, analytics/red.h), and a steady series that moves by
  // one bucket is not an anomaly.
  double relative_floor = 0.02;
  double season_alpha = 0.05;      // hour-of-day offsets
  double cusum_slack = 0.5;        // in standard deviations
  double cusum_limit = 10;         // CUSUM height at which the level moves to the new value
  double slow_alpha = 0.01;        // the slow level a drift is measured against
  double value_alpha = 1.0 / 300;  // the recent mean and deviation of the values
  double score_scale = 4;          // deviations at which the score is 1 - 1/e
  uint32_t warmup_points = 30;     // scores are 0 until this many points
  double repeat_factor = 0.5;      // a score not above the level already reported is scaled by this
  double report_decay = 0.999;     // per point, how fast the reported level is forgotten
  // Extreme-value calibration (SPOT, Siffer et al., KDD 2017): the share of
  // points whose distance exceeds the running `spot_quantile` quantile, and a
  // generalised Pareto tail fitted to those peaks (method of moments over
  // about 1 / spot_alpha of the latest peaks), give each distance its tail
  // probability in this series. 0 turns it off.
  double spot_quantile = 0.98;
  double spot_alpha = 0.01;
};

enum class Reason : uint8_t { kNone = 0, kOutlier, kLevelShift, kDrift, kUnusualValue };
std::string_view ReasonName(Reason r);  // "", "outlier", "level_shift", "drift", "unusual_value"

struct Verdict {
  double score = 0;         // [0, 1]: how anomalous the series is now (alarm once)
  double raw_score = 0;     // the same before "alarm once": stays high while it lasts
  double forecast = 0;      // what the point was expected to be
  double expected_low = 0;  // a normal range around the forecast
  double expected_high = 0;
  double z = 0;             // residual in robust scales (signed)
  Reason reason = Reason::kNone;
};

class SeriesDetector {
 public:
  explicit SeriesDetector(DetectorOptions options = {}) : o_(options) {}

  // Feeds the next point (times ascending, in Unix seconds) and scores it.
  Verdict Update(int64_t time_seconds, double value);

  uint64_t points() const { return n_; }

 private:
  double SeasonalOffset(int64_t time_seconds) const;
  double ExtremeScore(double distance) const;  // [0, 1) from the tail probability
  void LearnPeaks(double distance);

  DetectorOptions o_;
  uint64_t n_ = 0;
  int64_t first_time_ = 0;
  int64_t last_time_ = 0;
  double level_ = 0;
  double slow_level_ = 0;
  double trend_ = 0;
  double scale_ = 0;      // mean absolute residual
  double magnitude_ = 0;  // mean absolute value (floor for the scale)
  double cusum_hi_ = 0;
  double cusum_lo_ = 0;
  std::array<float, 24> season_{};
  std::array<uint32_t, 24> season_seen_{};
  double reported_ = 0;
  double value_mean_ = 0;
  double value_var_ = 0;  // the highest score reported lately (decaying)
  // SPOT: the running quantile of the distance, and the first two moments
  // of the peaks' excess over it.
  double spot_threshold_ = 0;
  double spot_m1_ = 0;
  double spot_m2_ = 0;
  uint32_t spot_peaks_ = 0;
};

}  // namespace ariadne::detect
