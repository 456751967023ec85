// The simulator's random numbers: xoshiro256** seeded through splitmix64,
// and the few distributions it needs, written out so that a seed gives the
// same numbers with every compiler and standard library (the standard's
// distributions are not specified bit for bit).
//
// Threading: one Rng per thread.
#pragma once

#include <cmath>
#include <cstdint>

#include "sim/topology.h"

namespace ariadne::sim {

class Rng {
 public:
  // `stream` separates independent sequences from one seed (arrivals,
  // service times, ids, ...), so that changing how often one is drawn does
  // not shift the others.
  explicit Rng(uint64_t seed, uint64_t stream = 0) {
    uint64_t x = seed ^ (0x9e3779b97f4a7c15ULL * (stream + 1));
    for (uint64_t& s : s_) s = SplitMix(&x);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Bernoulli(double p) { return p > 0 && (p >= 1 || Uniform() < p); }
  double Exponential(double mean) { return -std::log1p(-Uniform()) * mean; }
  // Standard normal by Box-Muller (one value per call; simpler to keep
  // deterministic than caching the pair).
  double Normal() {
    double u1 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Lognormal with the given mean and coefficient of variation.
  double Lognormal(double mean, double cv) {
    if (cv <= 0) return mean;
    const double sigma2 = std::log1p(cv * cv);
    const double mu = std::log(mean) - sigma2 / 2;
    return std::exp(mu + std::sqrt(sigma2) * Normal());
  }

  // A draw from `d`, in seconds.
  double Sample(const Distribution& d) {
    switch (d.kind) {
      case Distribution::Kind::kConstant:
        return d.mean_s;
      case Distribution::Kind::kExponential:
        return Exponential(d.mean_s);
      case Distribution::Kind::kLognormal:
        return Lognormal(d.mean_s, d.cv);
      case Distribution::Kind::kEmpirical: {
        if (d.samples_s.empty()) return 0;
        if (d.samples_s.size() == 1) return d.samples_s[0];
        // Linear interpolation between the sorted samples.
        const double x = Uniform() * static_cast<double>(d.samples_s.size() - 1);
        const size_t i = static_cast<size_t>(x);
        const double f = x - static_cast<double>(i);
        return d.samples_s[i] + f * (d.samples_s[i + 1] - d.samples_s[i]);
      }
    }
    return 0;
  }
  Nanos SampleNanos(const Distribution& d) {
    return static_cast<Nanos>(std::llround(Sample(d) * 1e9));
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix(uint64_t* x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
};

}  // namespace ariadne::sim
