// analytics_bench: what analytics (span metrics + trace assembly, service
// graph, critical path) costs per span, against decoding the same spans, on
// one core in the same run; and the memory it holds per series.
//
//   build/bench/analytics_bench [--seconds 5]
//
// The requests are bench/payloads.h's (Online Boutique-like traces of 5-50
// spans). Each pass over them gives every trace a new id, so traces complete
// as they would in a live stream (idle timeout 1 s of event time; the event
// clock follows a simulated wall clock advanced 100 ms per 5,000 spans,
// i.e. 50,000 spans/s of simulated traffic).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "analytics/analytics.h"
#include "decode/decode.h"
#include "payloads.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Analytics cost per span against decoding, one core");
  double seconds = 5;
  app.add_option("--seconds", seconds, "Duration of each measurement")->capture_default_str();
  bool repeat_ids = false;
  app.add_flag("--repeat-ids", repeat_ids,
               "Keep the trace ids on every pass (as `ariadne bench ingest` resends the same "
               "requests): traces never go idle and complete only at max_pending_spans");
  CLI11_PARSE(app, argc, argv);

  using namespace ariadne;
  bench::PayloadOptions po;
  po.now_unix_nanos = 1'700'000'000'000'000'000ull;
  const bench::PayloadSet set = bench::GeneratePayloads(po);

  // Reference: DecodeOtlpProto over the payloads.
  int64_t decoded = 0;
  const auto d0 = Clock::now();
  while (Seconds(Clock::now() - d0) < seconds) {
    for (const bench::Payload& p : set.payloads) {
      auto b = decode::DecodeOtlpProto(p.bytes, decode::Limits{}, nullptr);
      decoded += static_cast<int64_t>(b->size());
    }
  }
  const double decode_rate = static_cast<double>(decoded) / Seconds(Clock::now() - d0);

  std::vector<model::SpanBatch> batches;
  for (const bench::Payload& p : set.payloads) {
    batches.push_back(*decode::DecodeOtlpProto(p.bytes, decode::Limits{}, nullptr));
  }
  std::vector<std::vector<uint64_t>> starts, ends;
  for (const model::SpanBatch& b : batches) {
    starts.push_back(b.start_unix_nano);
    ends.push_back(b.end_unix_nano);
  }
  uint64_t wall = po.now_unix_nanos;
  analytics::AnalyticsOptions ao;
  ao.traces.idle_nanos = 1'000'000'000ull;
  ao.lateness_nanos = 1'000'000'000ull;
  analytics::Analytics a(ao, [&] { return wall; });
  int64_t pushed = 0, since_tick = 0;
  uint16_t pass = 0;
  const auto a0 = Clock::now();
  while (Seconds(Clock::now() - a0) < seconds) {
    ++pass;
    for (model::SpanBatch& b : batches) {
      for (model::TraceId& id : b.trace_id) {
        if (repeat_ids) break;
        id[14] = static_cast<uint8_t>(pass >> 8);
        id[15] = static_cast<uint8_t>(pass);
      }
      // Spans move on in time with the simulated clock.
      const size_t i = static_cast<size_t>(&b - batches.data());
      const uint64_t shift = wall - po.now_unix_nanos;
      for (size_t r = 0; r < b.size(); ++r) {
        b.start_unix_nano[r] = starts[i][r] + shift;
        b.end_unix_nano[r] = ends[i][r] + shift;
      }
      a.PushSpans(b);
      pushed += static_cast<int64_t>(b.size());
      since_tick += static_cast<int64_t>(b.size());
      if (since_tick >= 5000) {
        since_tick = 0;
        wall += 100'000'000ull;
        a.Tick();
      }
    }
  }
  const double analytics_seconds = Seconds(Clock::now() - a0);
  const double analytics_rate = static_cast<double>(pushed) / analytics_seconds;
  a.Tick(/*all=*/true);

  const auto ss = a.series().stats();
  const auto sm = a.span_metrics_stats();
  const auto ts = a.trace_stats();
  std::printf("spans: %lld decoded, %lld through analytics (%u passes over %zu requests)\n",
              static_cast<long long>(decoded), static_cast<long long>(pushed), pass,
              set.payloads.size());
  std::printf("%-40s %14s %12s\n", "measurement (one core)", "spans/s", "us/span");
  std::printf("%-40s %14.0f %12.3f\n", "decode (DecodeOtlpProto), reference", decode_rate,
              1e6 / decode_rate);
  std::printf("%-40s %14.0f %12.3f\n", "analytics (PushSpans + Tick)", analytics_rate,
              1e6 / analytics_rate);
  std::printf("analytics cost / decode cost: %.2f\n", decode_rate / analytics_rate);
  std::printf("traces completed %llu, early %llu, unpaired spans %llu\n",
              static_cast<unsigned long long>(ts.completed_traces),
              static_cast<unsigned long long>(ts.completed_early),
              static_cast<unsigned long long>(ts.unpaired_spans));
  std::printf("series store: %zu series, %.1f KiB each (window %llu steps)\n", ss.series,
              ss.series ? static_cast<double>(ss.memory_bytes) / ss.series / 1024 : 0.0,
              static_cast<unsigned long long>(a.series().capacity()));
  std::printf("span metrics: %zu Prometheus label sets, %.1f KiB each (counters, histograms, "
              "open steps)\n",
              sm.series, sm.series ? static_cast<double>(sm.memory_bytes) / sm.series / 1024 : 0.0);
  return 0;
}
