// detect_bench: how many points a second the detector scores on one core,
// against a windowed Gaussian (an exponentially weighted mean and variance
// and a z-score: the least a constant-time detector can do) over the same
// points in the same run; and the memory a watched series costs.
//
//   build/bench/detect_bench [--series 10000] [--points 1000] [--repeat 3]
//
// The series are synthetic (a daily-like sine, noise, rare spikes and level
// shifts), generated from a fixed seed and held in memory; they are scored
// step by step across all series, as the server does.
#include <malloc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "detect/detection.h"
#include "detect/detector.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

size_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Detector points per second against a windowed Gaussian, one core");
  int series = 10'000;
  int points = 1'000;
  int repeat = 3;
  app.add_option("--series", series, "Series")->capture_default_str();
  app.add_option("--points", points, "Points per series")->capture_default_str();
  app.add_option("--repeat", repeat, "Alternating measurements of each")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  using namespace ariadne;
  // values[t * series + s]
  std::vector<double> values(static_cast<size_t>(series) * points);
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int s = 0; s < series; ++s) {
    const double level = 10 + 90 * u(rng), amp = 0.2 * level * u(rng), sd = 0.05 * level;
    double shift = 0;
    for (int t = 0; t < points; ++t) {
      if (u(rng) < 0.001) shift += 0.5 * level;
      double v = level + shift + amp * std::sin(2 * M_PI * t / 360.0) + sd * noise(rng);
      if (u(rng) < 0.002) v += 10 * sd;
      values[static_cast<size_t>(t) * series + s] = v;
    }
  }
  const double total = static_cast<double>(values.size());
  const uint64_t step = 10'000'000'000ull;

  std::printf("%d series x %d points = %.0f points per pass\n", series, points, total);
  std::printf("%-6s %22s %22s %8s\n", "pass", "windowed Gaussian /s", "SeriesDetector /s", "ratio");
  double sink = 0;
  for (int r = 0; r < repeat; ++r) {
    // Reference: windowed Gaussian.
    struct Gauss {
      double mean = 0, var = 0;
      uint32_t n = 0;
    };
    std::vector<Gauss> g(series);
    const auto g0 = Clock::now();
    for (int t = 0; t < points; ++t) {
      const double* row = &values[static_cast<size_t>(t) * series];
      for (int s = 0; s < series; ++s) {
        Gauss& x = g[s];
        const double d = row[s] - x.mean;
        const double z = x.n > 1 ? std::abs(d) / std::sqrt(x.var + 1e-12) : 0;
        sink += z > 4 ? 1 : 0;
        const double a = x.n < 300 ? 1.0 / ++x.n : 1.0 / 300;
        x.mean += a * d;
        x.var = (1 - a) * (x.var + a * d * d);
      }
    }
    const double g_rate = total / Seconds(Clock::now() - g0);

    std::vector<detect::SeriesDetector> d(series);
    const auto d0 = Clock::now();
    for (int t = 0; t < points; ++t) {
      const double* row = &values[static_cast<size_t>(t) * series];
      const uint64_t time = static_cast<uint64_t>(t) * step;
      for (int s = 0; s < series; ++s) sink += d[s].Update(time, row[s]).score;
    }
    const double d_rate = total / Seconds(Clock::now() - d0);
    std::printf("%-6d %22.3g %22.3g %8.2f\n", r + 1, g_rate, d_rate, d_rate / g_rate);
  }

  // Memory: a SeriesDetector alone, and a series watched by Detection (its
  // name, labels, detector and last verdict in the map).
  std::printf("\nsizeof(SeriesDetector) = %zu bytes\n", sizeof(detect::SeriesDetector));
  {
    const size_t before = HeapBytes();
    auto det = std::make_unique<detect::Detection>();
    const int watched = std::min(series, 10'000);
    for (int s = 0; s < watched; ++s) {
      analytics::Labels labels = {{"quantile", "0.95"},
                                  {"service", "service-" + std::to_string(s)},
                                  {"span_kind", "SPAN_KIND_SERVER"}};
      det->OnValue("latency_seconds", labels, 0, 1.0);
    }
    const size_t after = HeapBytes();
    std::printf("Detection: %zu series watched, %.0f bytes of heap per watched series\n",
                det->watched(), static_cast<double>(after - before) / watched);
  }
  return sink == 42 ? 1 : 0;  // keeps the work
}
