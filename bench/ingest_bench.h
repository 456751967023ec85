// `ariadne bench ingest`: how many spans a second the server ingests, against
// how many the protobuf library's generated classes merely parse on one core,
// measured in the same run on the same pre-encoded requests (see
// bench/README.md).
//
// The run has three parts:
//  1. reference: ExportTraceServiceRequest::ParseFromString over the
//     payloads on one thread;
//  2. decoder: decode::DecodeOtlpProto over the same payloads on one thread;
//  3. server: the payloads sent round-robin over N keep-alive connections
//     (OTLP/HTTP protobuf or OTLP/gRPC) to a server this command starts
//     (`ariadne serve` in a temporary directory) or to --target.
// It prints a table (and with --json one JSON line) with spans/s of each, the
// ratios decoder/reference and server/reference, the server's CPU use and
// peak RSS, and the load generator's own CPU use.
//
// Threading: RunIngestBench is called once, from main, before any other
// thread of the process exists (it forks the server).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ariadne::bench {

struct IngestBenchOptions {
  int connections = 4;
  double seconds = 10;  // load duration, at most 600
  int spans_per_request = 500;
  int payloads = 64;              // distinct pre-encoded requests
  std::string protocol = "http";  // http (OTLP/HTTP protobuf) or grpc (OTLP/gRPC)
  // host:port of a running server's OTLP endpoint for `protocol`; empty: start one.
  std::string target;
  int server_pid = 0;              // for CPU and RSS of an external server (optional)
  std::string query_addr;          // host:port of an external server's query API, for /metrics
  std::string wal_sync = "batch";  // --wal-sync of the server started here
  std::vector<std::string> server_args;  // more flags for the server started here
  bool keep_data = false;                // keep the temporary data directory
  double reference_seconds = 2;          // duration of each single-core measurement
  uint64_t seed = 1;
  bool json = false;
};

// Registers the flags of `ariadne bench ingest` on `app`, bound to `options`.
void AddIngestBenchFlags(CLI::App* app, IngestBenchOptions* options);

// Runs the benchmark; returns the process exit code: 0 on success, 1 if the
// server could not be started or acknowledged no span, 2 on bad options.
[[nodiscard]] int RunIngestBench(const IngestBenchOptions& options);

}  // namespace ariadne::bench
