// The simulated application: services, their operations and call graphs,
// request types and their mix (see docs/sim.md for the YAML format).
//
// A Topology is parsed once from YAML, with every "service.operation"
// reference resolved to indices, and is read-only afterwards.
//
// Threading: immutable after parsing; share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ariadne::sim {

// Simulated time, in nanoseconds since the start of the run.
using Nanos = int64_t;
constexpr Nanos kSecond = 1'000'000'000;
constexpr Nanos kMillisecond = 1'000'000;

// A non-negative random duration.
struct Distribution {
  enum class Kind { kConstant, kExponential, kLognormal, kEmpirical };
  Kind kind = Kind::kConstant;
  double mean_s = 0;              // every kind but empirical
  double cv = 0;                  // lognormal: coefficient of variation (stddev / mean)
  std::vector<double> samples_s;  // empirical: sorted; drawn uniformly
};

// How a service is reached, which decides span names and attributes.
enum class Protocol { kHttp, kGrpc, kThrift, kDatabase };

struct Call;

// A step of an operation: one call, or calls made in parallel (at most
// `concurrency` at once; 0 = all at once). A step finishes when all its calls
// have answered.
struct Step {
  bool parallel = false;
  int concurrency = 0;
  std::vector<Call> calls;  // sequential steps hold exactly one call
};

struct Call {
  int service = -1;    // index into Topology::services
  int operation = -1;  // index into that service's operations
  double probability = 1.0;  // the call is made with this probability
  Nanos timeout = 0;         // 0 = none
  int retries = 0;           // further attempts after an error or timeout
  Nanos retry_backoff = 0;
  bool optional = false;     // its failure does not fail the caller
};

struct Operation {
  std::string name;              // as written in the YAML ("GetCart", "home")
  std::string span_name;         // server span name; derived if not given
  std::string http_method;       // Protocol::kHttp: "GET" by default
  std::string http_route;        // Protocol::kHttp: "/" + name by default
  std::string db_operation;      // Protocol::kDatabase: "GET", "SELECT", ... (default: name)
  std::string db_statement;      // Protocol::kDatabase: optional query text
  Distribution service_time;     // the work done on a worker
  double error_rate = 0;         // probability the operation itself fails
  std::vector<Step> steps;       // calls made after the work, in order
};

struct Service {
  std::string name;
  Protocol protocol = Protocol::kGrpc;
  bool instrumented = true;      // false: no spans of its own (databases, caches)
  std::string language = "go";   // telemetry.sdk.language
  std::string rpc_service;       // kGrpc/kThrift: rpc.service (default: name)
  std::string db_system;         // kDatabase: "redis", "mongodb", "mysql", ...
  int replicas = 1;              // initial replicas
  int workers = 4;               // concurrent requests per replica; the rest queue FIFO
  int queue_limit = 0;           // per replica; 0 = unbounded; a full queue refuses (503)
  bool hold_worker = false;      // a request keeps its worker while waiting for its calls
  Nanos startup_delay = 30 * kSecond;  // a new replica becomes ready after this
  double cpu_request = 1.0;      // cores per replica (for utilisation = usage / request)
  double memory_base_bytes = 64 << 20;
  double memory_per_request_bytes = 256 << 10;  // per queued or running request
  double memory_limit_bytes = 1 << 30;          // a replica past it is restarted (OOM)
  std::vector<Operation> operations;

  int FindOperation(std::string_view name) const;  // -1 if absent
};

struct RequestType {
  std::string name;
  int service = -1;    // the entry point
  int operation = -1;
  double weight = 1;   // relative share of arrivals
};

struct Topology {
  std::string name;
  std::string k8s_namespace = "default";
  Distribution network;  // one-way latency of every call
  std::vector<Service> services;
  std::vector<RequestType> requests;

  int FindService(std::string_view name) const;  // -1 if absent
};

// Parses and validates a topology YAML document. Errors name the offending
// key with its path ("services[2].operations[0].calls[1]: unknown service 'x'")
// and line. Rejects unknown keys, call cycles, empty mixes, negative values.
absl::StatusOr<Topology> ParseTopology(std::string_view yaml);

// A built-in topology by name ("online-boutique", "social-network",
// "train-ticket", "hotrod"), or else a YAML file at that path.
absl::StatusOr<Topology> LoadTopology(std::string_view name_or_path);

// Names of the built-in topologies, and the YAML text of one ("" if none).
std::vector<std::string> BuiltinTopologyNames();
std::string_view BuiltinTopologyYaml(std::string_view name);

// The mean number of busy workers each service needs (indexed like
// Topology::services) when requests arrive at `rps` per second in the mix:
// arrivals per request x calls per arrival (probabilities included, retries
// and errors not) x mean service time. Divided by replicas x workers it is
// the utilisation; the built-in topologies stay under 0.6 at 200 rps.
std::vector<double> ExpectedBusyWorkers(const Topology& topology, double rps);

// Parses a duration such as "250us", "2ms", "1.5s", "10m", "1h" (bare
// numbers are seconds).
absl::StatusOr<Nanos> ParseDuration(std::string_view text);

}  // namespace ariadne::sim
