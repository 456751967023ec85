// Micro-benchmark of the OTLP protobuf decoder against the protobuf library's
// generated classes, on the same pre-encoded requests as `ariadne bench
// ingest` (bench/payloads.h). Items are spans; bytes are request bytes.
//
//   build/bench/decode_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/payloads.h"
#include "decode/decode.h"
#include "google/protobuf/arena.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// 64 requests of `spans` spans each, generated once per size.
const PayloadSet& Payloads(int spans) {
  static auto* cache = new std::vector<std::pair<int, PayloadSet>>();
  for (const auto& [n, set] : *cache) {
    if (n == spans) return set;
  }
  PayloadOptions options;
  options.spans_per_request = spans;
  options.now_unix_nanos = 1'700'000'000'000'000'000ull;
  cache->emplace_back(spans, GeneratePayloads(options));
  return cache->back().second;
}

void Count(benchmark::State& state, const PayloadSet& set) {
  state.SetItemsProcessed(state.iterations() * set.spans /
                          static_cast<int64_t>(set.payloads.size()));
  state.SetBytesProcessed(state.iterations() * set.bytes /
                          static_cast<int64_t>(set.payloads.size()));
}

void BM_ProtobufParseNew(benchmark::State& state) {
  const PayloadSet& set = Payloads(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    ExportTraceServiceRequest request;
    if (!request.ParseFromString(set.payloads[i].bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(request);
    i = (i + 1) % set.payloads.size();
  }
  Count(state, set);
}

void BM_ProtobufParseReused(benchmark::State& state) {
  const PayloadSet& set = Payloads(static_cast<int>(state.range(0)));
  ExportTraceServiceRequest request;
  size_t i = 0;
  for (auto _ : state) {
    if (!request.ParseFromString(set.payloads[i].bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(request);
    i = (i + 1) % set.payloads.size();
  }
  Count(state, set);
}

void BM_ProtobufParseArena(benchmark::State& state) {
  const PayloadSet& set = Payloads(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<ExportTraceServiceRequest>(&arena);
    if (!request->ParseFromString(set.payloads[i].bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(request);
    i = (i + 1) % set.payloads.size();
  }
  Count(state, set);
}

// The decoder adopts its body (the server moves the request body in), so the
// copy of each body is made with the timer paused.
void BM_DecodeOtlpProto(benchmark::State& state) {
  const PayloadSet& set = Payloads(static_cast<int>(state.range(0)));
  const decode::Limits limits;
  size_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string body = set.payloads[i].bytes;
    state.ResumeTiming();
    decode::DecodeStats stats;
    auto batch = decode::DecodeOtlpProto(std::move(body), limits, &stats);
    if (!batch.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(batch);
    i = (i + 1) % set.payloads.size();
  }
  Count(state, set);
}

BENCHMARK(BM_ProtobufParseNew)->Arg(50)->Arg(500)->Arg(5000);
BENCHMARK(BM_ProtobufParseReused)->Arg(50)->Arg(500)->Arg(5000);
BENCHMARK(BM_ProtobufParseArena)->Arg(50)->Arg(500)->Arg(5000);
BENCHMARK(BM_DecodeOtlpProto)->Arg(50)->Arg(500)->Arg(5000);

}  // namespace
}  // namespace ariadne::bench

BENCHMARK_MAIN();
