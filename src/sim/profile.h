// Arrival rate over simulated time (requests per second), from a profile
// given on the command line:
//   constant                 --rps all the way
//   ramp:TO                  linear from --rps at the start to TO at the end
//   step:RPS@T[,RPS@T...]    --rps until the first T, then each RPS from its T
//   diurnal:AMP[:PERIOD]     --rps x (1 - AMP cos(2 pi t / PERIOD)), PERIOD 24h by
//                            default: a trough at the start, the peak half a period in
//   spike:FACTOR@T+LENGTH    --rps, times FACTOR from T for LENGTH (a flash crowd)
//   csv:PATH                 "seconds,rps" rows (a header row is allowed), linear
//                            between rows, the last rate held after the last row
// Arrivals are Poisson with this rate (thinning; see engine.cc).
//
// Threading: immutable after parsing.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/topology.h"

namespace ariadne::sim {

class RateProfile {
 public:
  static RateProfile Constant(double rps);
  // `spec` as above; `rps` is --rps; `duration` the length of the run.
  static absl::StatusOr<RateProfile> Parse(std::string_view spec, double rps, Nanos duration);

  double RateAt(Nanos t) const;
  // An upper bound of RateAt over [0, duration].
  double MaxRate(Nanos duration) const;

 private:
  // Rate as a piecewise-linear function plus an optional cosine.
  std::vector<std::pair<Nanos, double>> points_;  // (time, rate), sorted; linear between
  bool steps_ = false;                            // hold each point's rate until the next
  double amplitude_ = 0;
  Nanos period_ = 0;
};

}  // namespace ariadne::sim
