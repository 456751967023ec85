#include "detect/detector.h"

#include <algorithm>
#include <cmath>

namespace ariadne::detect {

namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kTwoDays = 2 * 24 * kHour;
constexpr double kMadToSigma = 1.25;  // mean absolute deviation -> standard deviation (normal)

// -log10 of a tail probability: 1.7 for 2%, 4 for one point in 10,000.
double SurpriseScore(double p) {
  const double surprise = -std::log10(std::max(p, 1e-300));
  return 1 - std::exp(-std::max(0.0, surprise - 1) / 2.5);
}


}  // namespace

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "";
    case Reason::kOutlier: return "outlier";
    case Reason::kLevelShift: return "level_shift";
    case Reason::kDrift: return "drift";
    case Reason::kUnusualValue: return "unusual_value";
  }
  return "";
}

double SeriesDetector::ExtremeScore(double d) const {
  // Until the tail has 10 peaks (about 500 points), a normal distribution's.
  if (spot_peaks_ < 10) return SurpriseScore(std::erfc(d / std::sqrt(2.0)));
  if (d <= spot_threshold_) return 0;
  const double m = spot_m1_;
  const double var = std::max(1e-12, spot_m2_ - m * m);
  // Generalised Pareto by the method of moments, the shape kept in a range
  // the moments can support.
  const double xi = std::clamp(0.5 * (1 - m * m / var), -0.5, 0.5);
  const double sigma = std::max(1e-9, 0.5 * m * (1 + m * m / var));
  const double y = d - spot_threshold_;
  const double tail = std::abs(xi) < 1e-6
                          ? std::exp(-y / sigma)
                          : std::pow(std::max(1e-300, 1 + xi * y / sigma), -1 / xi);
  return SurpriseScore((1 - o_.spot_quantile) * tail);  // P(distance > d)
}

void SeriesDetector::LearnPeaks(double d) {
  // The quantile by stochastic approximation (steps in proportion to it).
  const double step = 0.05 * std::max(spot_threshold_, 0.1);
  spot_threshold_ += step * ((d > spot_threshold_ ? 1.0 : 0.0) - (1 - o_.spot_quantile));
  if (d <= spot_threshold_) return;
  const double y = d - spot_threshold_;
  const double a = spot_peaks_ < 1 / o_.spot_alpha ? 1.0 / (spot_peaks_ + 1) : o_.spot_alpha;
  spot_m1_ += a * (y - spot_m1_);
  spot_m2_ += a * (y * y - spot_m2_);
  if (spot_peaks_ < UINT32_MAX) ++spot_peaks_;
}

double SeriesDetector::SeasonalOffset(int64_t t) const {
  const size_t bin = static_cast<size_t>(((t % 86400) + 86400) % 86400 / kHour);
  return season_seen_[bin] >= 2 ? season_[bin] : 0.0;
}

Verdict SeriesDetector::Update(int64_t t, double x) {
  Verdict v;
  if (!std::isfinite(x)) return v;
  if (n_ == 0) {
    n_ = 1;
    first_time_ = last_time_ = t;
    level_ = slow_level_ = value_mean_ = x;
    magnitude_ = std::abs(x);
    v.forecast = v.expected_low = v.expected_high = x;
    return v;
  }
  const int64_t gap = t - last_time_;
  last_time_ = t;
  ++n_;
  const bool seasonal = gap > 0 && gap < kHour && t - first_time_ >= kTwoDays;
  const double season = seasonal ? SeasonalOffset(t) : 0.0;
  const double base = level_ + o_.trend_damping * trend_;
  const double forecast = base + season;
  const double r = x - forecast;
  // The scale has a floor: a series that repeats a few values (residuals
  // mostly 0) must not turn every small move into a huge z.
  const double floor =
      std::max({1e-9, o_.relative_floor * magnitude_, o_.scale_floor * std::sqrt(value_var_)});
  const double s = std::max(scale_, floor);
  const double z = r / s;
  const bool warm = n_ > o_.warmup_points;

  // The score: how far the value lies from this series' recent
  // distribution (running mean and deviation over about 1 / value_alpha
  // points), in its standard deviations, mapped to [0, 1). On NAB this beat
  // the forecast residual, the CUSUM and the drift statistic as the score
  // (docs/detection.md); those explain the alarm instead (the reason).
  const double value_sd = std::sqrt(std::max(value_var_, 0.0)) + floor;
  const double novelty = std::abs(x - value_mean_) / value_sd;
  double score = 1 - std::exp(-novelty / o_.score_scale);
  if (o_.spot_quantile > 0) {
    // Calibrated by how extreme the distance is in this series: the same
    // distance is ordinary in a spiky series and rare in a calm one.
    score = std::sqrt(score * ExtremeScore(novelty));
    if (warm) LearnPeaks(novelty);
  }
  v.raw_score = warm ? score : 0.0;
  // An alarm is raised once: while the series stays anomalous, a score
  // counts in full only when it rises above what was already reported.
  if (score <= reported_) score *= o_.repeat_factor;
  reported_ = std::max(reported_ * o_.report_decay, score);
  v.score = warm ? score : 0.0;

  // What explains it: the point against its forecast, a CUSUM of the
  // residuals (a shift small residuals add up to), the fast level against a
  // slow one (a drift the forecast follows, such as a leak).
  const double z_sigma = z / kMadToSigma;
  const double zc = std::clamp(z_sigma, -10.0, 10.0);
  cusum_hi_ = std::max(0.0, cusum_hi_ + zc - o_.cusum_slack);
  cusum_lo_ = std::max(0.0, cusum_lo_ - zc - o_.cusum_slack);
  const double outlier = std::abs(z_sigma);
  const double shift = std::max(cusum_hi_, cusum_lo_) / 2;
  // The fast level's own noise is sigma * sqrt(alpha / (2 - alpha)).
  const double level_noise =
      kMadToSigma * s * std::sqrt(o_.level_alpha / (2 - o_.level_alpha));
  const double drift = std::abs(level_ - slow_level_) / level_noise / 2;
  v.z = z_sigma;
  v.forecast = forecast;
  v.expected_low = value_mean_ - o_.score_scale * value_sd;
  v.expected_high = value_mean_ + o_.score_scale * value_sd;
  if (novelty >= 1) {
    const double strongest = std::max({outlier, shift, drift});
    if (strongest < 3) {
      v.reason = Reason::kUnusualValue;
    } else if (strongest == outlier) {
      v.reason = Reason::kOutlier;
    } else if (strongest == shift) {
      v.reason = Reason::kLevelShift;
    } else {
      v.reason = Reason::kDrift;
    }
  }

  // Learn. A confirmed shift moves the level at once; otherwise residuals
  // are clipped so that one outlier cannot drag the level or the scale.
  if (std::max(cusum_hi_, cusum_lo_) >= o_.cusum_limit) {
    level_ = slow_level_ = x - season;
    trend_ = 0;
    cusum_hi_ = cusum_lo_ = 0;
  } else {
    const double rc = warm ? std::clamp(r, -4 * s, 4 * s) : r;
    level_ = base + o_.level_alpha * rc;
    trend_ = o_.trend_damping * trend_ + o_.level_alpha * o_.trend_beta * rc;
  }
  slow_level_ += (warm ? o_.slow_alpha : 1.0 / static_cast<double>(n_)) * (level_ - slow_level_);
  {
    const double va = warm ? o_.value_alpha : 1.0 / static_cast<double>(n_);
    const double dv = x - value_mean_;
    value_mean_ += va * dv;
    value_var_ = (1 - va) * (value_var_ + va * dv * dv);
  }
  const double abs_r = warm ? std::min(std::abs(r), 4 * s) : std::abs(r);
  const double sa = warm ? o_.scale_alpha : 1.0 / static_cast<double>(n_);
  scale_ += sa * (abs_r - scale_);
  magnitude_ += sa * (std::abs(x) - magnitude_);
  if (gap > 0 && gap < kHour) {
    const size_t bin = static_cast<size_t>(((t % 86400) + 86400) % 86400 / kHour);
    const double offset = x - level_;
    if (season_seen_[bin] == 0) {
      season_[bin] = static_cast<float>(offset);
    } else {
      season_[bin] += static_cast<float>(o_.season_alpha * (offset - season_[bin]));
    }
    if (season_seen_[bin] < UINT32_MAX) ++season_seen_[bin];
  }
  return v;
}

}  // namespace ariadne::detect
