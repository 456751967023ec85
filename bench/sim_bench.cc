// Benchmark of `ariadne sim --as-fast-as-possible`: how many spans per second
// the simulator generates, OTLP encoding included, on one core, against the
// cost of merely serializing the same spans with the protobuf library's
// generated classes (measured in the same run, on a sample of the requests
// the simulator produced). See bench/README.md; results in docs/benchmarks.md.
//
//   build/bench/sim_bench                                   # every built-in topology
//   build/bench/sim_bench --topology online-boutique --duration 10m --rps 1000
//   build/bench/sim_bench --topology online-boutique --file /tmp/sim_bench.pb
//
// Per topology:
//   1. sim only   — the engine without a sink (no spans encoded; `--otlp none`).
//   2. sim + OTLP — the engine into a counting sink: every request is encoded
//      as the real sinks receive it, its bytes counted and dropped. Measures
//      simulator + encoding, not the disk. This is the headline number.
//   3. reference  — the first --sample-spans spans of the same run (the same
//      seed gives the same spans), parsed into ExportTraceServiceRequest
//      messages on an Arena, then SerializeToString over them round after round
//      (into a new string each time, and into one reused string; the faster
//      counts) for --reference-seconds of thread CPU time.
//   4. file       — only with --file PATH: the engine into the real file sink
//      (OpenSink(PATH), its writer thread, the page cache and the disk); the
//      file is deleted afterwards.
// Wall time is steady_clock; CPU time is the simulating thread's
// (CLOCK_THREAD_CPUTIME_ID); the file run also reports the process's CPU
// (writer thread included). Nothing here asserts anything about time.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "google/protobuf/arena.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "sim/engine.h"
#include "sim/profile.h"
#include "sim/sink.h"
#include "sim/summary.h"
#include "sim/topology.h"

namespace ariadne::sim {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// A fixed epoch so that every run encodes the same bytes.
constexpr int64_t kEpochUnixNano = 1'700'000'000'000'000'000;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Counts what it is given and drops it (the string is freed on this thread).
class CountingSink final : public SpanSink {
 public:
  void Send(std::string request, int64_t spans) override {
    ++stats_.requests_sent;
    stats_.spans_sent += spans;
    stats_.bytes_sent += static_cast<int64_t>(request.size());
  }
  absl::Status Close(std::chrono::milliseconds) override { return absl::OkStatus(); }
  SinkStats stats() const override { return stats_; }

 private:
  SinkStats stats_;
};

// Keeps the first requests until it holds `max_spans` spans (or `max_bytes`),
// then asks the engine to stop.
class SamplingSink final : public SpanSink {
 public:
  SamplingSink(int64_t max_spans, int64_t max_bytes, std::atomic<bool>* stop)
      : max_spans_(max_spans), max_bytes_(max_bytes), stop_(stop) {}
  void Send(std::string request, int64_t spans) override {
    if (stats_.spans_sent >= max_spans_ || stats_.bytes_sent >= max_bytes_) return;
    ++stats_.requests_sent;
    stats_.spans_sent += spans;
    stats_.bytes_sent += static_cast<int64_t>(request.size());
    requests_.push_back(std::move(request));
    if (stats_.spans_sent >= max_spans_ || stats_.bytes_sent >= max_bytes_) stop_->store(true);
  }
  absl::Status Close(std::chrono::milliseconds) override { return absl::OkStatus(); }
  SinkStats stats() const override { return stats_; }
  std::vector<std::string>& requests() { return requests_; }

 private:
  int64_t max_spans_, max_bytes_;
  std::atomic<bool>* stop_;
  SinkStats stats_;
  std::vector<std::string> requests_;
};

struct Options {
  std::string topology = "all";
  std::string duration = "10m";
  double rps = 1000;
  int replicas = 0;  // 0 = auto
  double max_utilisation = 0.6;
  uint64_t seed = 1;
  int batch_spans = 4096;
  int64_t sample_spans = 1'000'000;
  int64_t sample_mib = 200;
  double reference_seconds = 2;
  std::string file;
  bool keep_file = false;
  bool skip_sim_only = false;
};

std::string Si(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.0fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

struct RunResult {
  bool ran = false;
  double wall = 0, thread_cpu = 0, process_cpu = 0;
  int64_t spans = 0, requests = 0, bytes = 0;
  Summary summary;
  double SpansPerWall() const { return wall > 0 ? static_cast<double>(spans) / wall : 0; }
  double SpansPerCpu() const { return thread_cpu > 0 ? static_cast<double>(spans) / thread_cpu : 0; }
};

// One engine run on this thread; progress to stderr about once a second.
RunResult RunEngine(const std::string& label, const Topology& topology, const SimOptions& options,
                    SpanSink* sink, const std::atomic<bool>* stop, bool close_sink) {
  RunResult r;
  r.ran = true;
  Engine engine(topology, options, sink);
  const double w0 = WallSeconds(), t0 = ThreadCpuSeconds(), p0 = ProcessCpuSeconds();
  r.summary = engine.Run(stop, [&](const Progress& p) {
    const double w = WallSeconds() - w0;
    std::fprintf(stderr, "  %-28s sim %5.0f / %.0f s  %s spans  %s spans/s wall\n", label.c_str(),
                 static_cast<double>(p.sim_time) / 1e9, static_cast<double>(p.duration) / 1e9,
                 Si(static_cast<double>(p.spans)).c_str(),
                 Si(w > 0 ? static_cast<double>(p.spans) / w : 0).c_str());
  });
  if (sink != nullptr && close_sink) {
    if (auto s = sink->Close(std::chrono::minutes(10)); !s.ok()) {
      std::fprintf(stderr, "sim_bench: sink close: %s\n", std::string(s.message()).c_str());
    }
  }
  r.wall = WallSeconds() - w0;
  r.thread_cpu = ThreadCpuSeconds() - t0;
  r.process_cpu = ProcessCpuSeconds() - p0;
  r.spans = r.summary.spans;
  if (sink != nullptr) {
    const SinkStats st = sink->stats();
    r.requests = st.requests_sent;
    r.bytes = st.bytes_sent;
    if (st.spans_sent != r.spans && stop == nullptr) {
      std::fprintf(stderr, "sim_bench: warning: the sink got %lld spans, the engine made %lld\n",
                   static_cast<long long>(st.spans_sent), static_cast<long long>(r.spans));
    }
  }
  return r;
}

struct Reference {
  int64_t spans = 0, requests = 0, bytes = 0, reserialized_bytes = 0;
  double parse_cpu = 0;
  double new_string_rate = 0, reused_string_rate = 0;  // spans per CPU-second
  double Best() const { return std::max(new_string_rate, reused_string_rate); }
};

// Serializes `messages` round after round for at least `seconds` of thread
// CPU time; returns spans per CPU-second.
template <typename F>
double TimeSerialize(const std::string& label, int64_t spans_per_round, double seconds, F round) {
  const double t0 = ThreadCpuSeconds();
  double last = WallSeconds();
  int64_t rounds = 0;
  double cpu = 0;
  do {
    round();
    ++rounds;
    cpu = ThreadCpuSeconds() - t0;
    if (WallSeconds() - last >= 1) {
      last = WallSeconds();
      std::fprintf(stderr, "  %-28s %lld rounds, %s spans/CPU-s\n", label.c_str(),
                   static_cast<long long>(rounds),
                   Si(static_cast<double>(rounds * spans_per_round) / cpu).c_str());
    }
  } while (cpu < seconds);
  return static_cast<double>(rounds * spans_per_round) / cpu;
}

Reference MeasureReference(const std::string& name, const Topology& topology,
                           const SimOptions& options, const Options& o) {
  Reference ref;
  // The same run (same seed and options), stopped once the sample is full.
  std::atomic<bool> stop{false};
  SamplingSink sampler(o.sample_spans, o.sample_mib << 20, &stop);
  RunEngine(name + " sampling", topology, options, &sampler, &stop, false);
  std::vector<std::string>& bytes = sampler.requests();
  ref.requests = static_cast<int64_t>(bytes.size());
  ref.spans = sampler.stats().spans_sent;
  ref.bytes = sampler.stats().bytes_sent;

  google::protobuf::Arena arena;
  std::vector<ExportTraceServiceRequest*> messages;
  messages.reserve(bytes.size());
  const double p0 = ThreadCpuSeconds();
  for (const std::string& b : bytes) {
    auto* m = google::protobuf::Arena::CreateMessage<ExportTraceServiceRequest>(&arena);
    if (!m->ParseFromString(b)) {
      std::fprintf(stderr, "sim_bench: a simulated request does not parse\n");
      std::exit(1);
    }
    messages.push_back(m);
  }
  ref.parse_cpu = ThreadCpuSeconds() - p0;
  std::vector<std::string>().swap(bytes);
  for (const auto* m : messages) ref.reserialized_bytes += static_cast<int64_t>(m->ByteSizeLong());

  size_t sink_bytes = 0;  // keeps the work observable
  ref.new_string_rate = TimeSerialize(name + " serialize (new)", ref.spans, o.reference_seconds, [&] {
    for (const auto* m : messages) {
      std::string out;
      m->SerializeToString(&out);
      sink_bytes += out.size();
    }
  });
  std::string out;
  ref.reused_string_rate =
      TimeSerialize(name + " serialize (reused)", ref.spans, o.reference_seconds, [&] {
        for (const auto* m : messages) {
          m->SerializeToString(&out);
          sink_bytes += out.size();
        }
      });
  if (sink_bytes == 0) std::fprintf(stderr, "sim_bench: nothing serialized\n");
  return ref;
}

struct TopologyResult {
  std::string name;
  std::string replicas;  // description
  double max_utilisation = 0;
  RunResult sim_only, encoded, file;
  Reference ref;
};

// Sets every service's replicas: `fixed` if > 0, else the fewest that keep
// the expected utilisation at or under `max_u` (never fewer than the topology's).
std::string ScaleReplicas(Topology* t, double rps, int fixed, double max_u) {
  if (fixed > 0) {
    for (Service& s : t->services) s.replicas = fixed;
    return std::to_string(fixed) + " each";
  }
  const std::vector<double> busy = ExpectedBusyWorkers(*t, rps);
  int total = 0, lo = 1 << 30, hi = 0;
  for (size_t i = 0; i < t->services.size(); ++i) {
    Service& s = t->services[i];
    const int need = static_cast<int>(std::ceil(busy[i] / (s.workers * max_u)));
    s.replicas = std::max({s.replicas, need, 1});
    total += s.replicas;
    lo = std::min(lo, s.replicas);
    hi = std::max(hi, s.replicas);
  }
  return std::to_string(total) + " (" + std::to_string(lo) + "-" + std::to_string(hi) + ")";
}

// Highest ready-time utilisation of any service: CPU-seconds / (ready replica-seconds x workers).
double MaxUtilisation(const Topology& t, const Summary& s) {
  double u = 0;
  for (size_t i = 0; i < s.services.size() && i < t.services.size(); ++i) {
    const double cap = s.services[i].ready_replica_seconds * t.services[i].workers;
    if (cap > 0) u = std::max(u, s.services[i].cpu_seconds / cap);
  }
  return u;
}

std::string Json(const Options& o, double sim_seconds, const std::vector<TopologyResult>& results) {
  std::string j;
  auto num = [&](const char* k, double v, bool comma = true) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "\"%s\":%.6g%s", k, v, comma ? "," : "");
    j += buf;
  };
  j += "{\"bench\":\"sim\",";
  num("sim_seconds", sim_seconds);
  num("rps", o.rps);
  num("seed", static_cast<double>(o.seed));
  num("batch_spans", o.batch_spans);
  j += "\"topologies\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    const TopologyResult& r = results[i];
    if (i > 0) j += ",";
    j += "{\"topology\":\"" + r.name + "\",\"replicas\":\"" + r.replicas + "\",";
    num("max_utilisation", r.max_utilisation);
    num("requests", static_cast<double>(r.encoded.summary.latency.count));
    num("spans", static_cast<double>(r.encoded.spans));
    num("spans_per_request", r.encoded.summary.latency.count > 0
                                 ? static_cast<double>(r.encoded.spans) /
                                       static_cast<double>(r.encoded.summary.latency.count)
                                 : 0);
    num("bytes_per_span", r.encoded.spans > 0 ? static_cast<double>(r.encoded.bytes) /
                                                    static_cast<double>(r.encoded.spans)
                                              : 0);
    if (r.sim_only.ran) {
      num("sim_only_spans_per_wall_s", r.sim_only.SpansPerWall());
      num("sim_only_spans_per_cpu_s", r.sim_only.SpansPerCpu());
    }
    num("spans_per_wall_s", r.encoded.SpansPerWall());
    num("spans_per_cpu_s", r.encoded.SpansPerCpu());
    num("reference_serialize_spans_per_cpu_s", r.ref.Best());
    num("reference_sample_spans", static_cast<double>(r.ref.spans));
    num("ratio_cpu", r.ref.Best() > 0 ? r.encoded.SpansPerCpu() / r.ref.Best() : 0);
    if (r.file.ran) {
      num("file_spans_per_wall_s", r.file.SpansPerWall());
      num("file_sim_thread_cpu_s", r.file.thread_cpu);
      num("file_process_cpu_s", r.file.process_cpu);
      num("file_wall_s", r.file.wall);
    }
    const double scale = 3600.0 / sim_seconds;
    num("extrapolated_1h_spans", static_cast<double>(r.encoded.spans) * scale);
    num("extrapolated_1h_wall_s", r.encoded.wall * scale, r.file.ran);
    if (r.file.ran) num("extrapolated_1h_file_wall_s", r.file.wall * scale, false);
    j += "}";
  }
  j += "]}";
  return j;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"Benchmark of ariadne sim --as-fast-as-possible against protobuf serialization"};
  app.add_option("--topology", o.topology, "A built-in topology, a YAML file, or 'all'")
      ->capture_default_str();
  app.add_option("--duration", o.duration, "Simulated time per run")->capture_default_str();
  app.add_option("--rps", o.rps, "Requests per second (constant, Poisson)")->capture_default_str();
  app.add_option("--replicas", o.replicas,
                 "Replicas of every service; 0 = the fewest keeping expected utilisation <= "
                 "--max-utilisation (never fewer than the topology's)")
      ->capture_default_str();
  app.add_option("--max-utilisation", o.max_utilisation, "For --replicas 0")->capture_default_str();
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--batch-spans", o.batch_spans, "Spans per export request (as `ariadne sim` "
                 "--as-fast-as-possible)")->capture_default_str();
  app.add_option("--sample-spans", o.sample_spans, "Spans serialized by the reference")
      ->capture_default_str();
  app.add_option("--sample-mib", o.sample_mib, "At most this many MiB of requests in the sample")
      ->capture_default_str();
  app.add_option("--reference-seconds", o.reference_seconds,
                 "CPU time of each serialization measurement")->capture_default_str();
  app.add_option("--file", o.file, "Also run into the file sink at PATH (deleted afterwards)");
  app.add_flag("--keep-file", o.keep_file, "Do not delete the --file");
  app.add_flag("--skip-sim-only", o.skip_sim_only, "Skip the run without a sink");
  CLI11_PARSE(app, argc, argv);

  auto duration = ParseDuration(o.duration);
  if (!duration.ok() || *duration <= 0 || !(o.rps > 0) || o.batch_spans <= 0 ||
      o.sample_spans <= 0) {
    std::fprintf(stderr, "sim_bench: invalid --duration, --rps, --batch-spans or --sample-spans\n");
    return 2;
  }
  std::vector<std::string> names;
  if (o.topology == "all") {
    names = BuiltinTopologyNames();
  } else {
    names.push_back(o.topology);
  }
  SimOptions options;
  options.seed = o.seed;
  options.duration = *duration;
  options.profile = RateProfile::Constant(o.rps);
  options.speed = 0;  // as fast as possible
  options.epoch_unix_nano = kEpochUnixNano;
  options.batch_spans = o.batch_spans;
  const double sim_seconds = static_cast<double>(*duration) / 1e9;

  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::fprintf(stderr,
               "sim_bench: %s, %.0f s simulated at %.0f rps, seed %llu, %d spans a request; "
               "%ld cores, load %.2f\n",
               o.topology.c_str(), sim_seconds, o.rps, static_cast<unsigned long long>(o.seed),
               o.batch_spans, sysconf(_SC_NPROCESSORS_ONLN), load[0]);

  std::vector<TopologyResult> results;
  for (const std::string& name : names) {
    auto topology = LoadTopology(name);
    if (!topology.ok()) {
      std::fprintf(stderr, "sim_bench: %s\n", std::string(topology.status().message()).c_str());
      return 2;
    }
    TopologyResult r;
    r.name = topology->name;
    r.replicas = ScaleReplicas(&*topology, o.rps, o.replicas, o.max_utilisation);
    std::fprintf(stderr, "[%s] replicas %s\n", r.name.c_str(), r.replicas.c_str());
    if (!o.skip_sim_only) {
      r.sim_only = RunEngine(r.name + " sim only", *topology, options, nullptr, nullptr, false);
    }
    {
      CountingSink sink;
      r.encoded = RunEngine(r.name + " sim + OTLP", *topology, options, &sink, nullptr, true);
    }
    r.max_utilisation = MaxUtilisation(*topology, r.encoded.summary);
    r.ref = MeasureReference(r.name, *topology, options, o);
    if (!o.file.empty()) {
      SinkOptions sink_options;  // as `ariadne sim --out`
      auto sink = OpenSink(o.file, sink_options);
      if (!sink.ok()) {
        std::fprintf(stderr, "sim_bench: %s\n", std::string(sink.status().message()).c_str());
        return 2;
      }
      r.file = RunEngine(r.name + " sim + file", *topology, options, sink->get(), nullptr, true);
      if (!o.keep_file) unlink(o.file.c_str());
    }
    results.push_back(std::move(r));
  }

  // The table.
  std::printf("\n%.0f s simulated at %.0f rps per topology, seed %llu, %d spans a request, one "
              "thread; CPU = the simulating thread's\n\n",
              sim_seconds, o.rps, static_cast<unsigned long long>(o.seed), o.batch_spans);
  std::printf("%-16s %-11s %6s %9s %7s %6s %12s %12s %12s %12s %12s %8s %9s\n", "topology",
              "replicas", "max-u", "spans", "sp/req", "B/sp", "sim-only/cpu", "sim+otlp/wall",
              "sim+otlp/cpu", "pb-ser/cpu", "ratio(cpu)", "err%", "p99 ms");
  for (const TopologyResult& r : results) {
    const double reqs = static_cast<double>(r.encoded.summary.latency.count);
    std::printf("%-16s %-11s %6.2f %9s %7.1f %6.0f %12s %12s %12s %12s %11.2fx %8.2f %9.1f\n",
                r.name.c_str(), r.replicas.c_str(), r.max_utilisation,
                Si(static_cast<double>(r.encoded.spans)).c_str(),
                reqs > 0 ? static_cast<double>(r.encoded.spans) / reqs : 0,
                r.encoded.spans > 0
                    ? static_cast<double>(r.encoded.bytes) / static_cast<double>(r.encoded.spans)
                    : 0,
                r.sim_only.ran ? Si(r.sim_only.SpansPerCpu()).c_str() : "-",
                Si(r.encoded.SpansPerWall()).c_str(), Si(r.encoded.SpansPerCpu()).c_str(),
                Si(r.ref.Best()).c_str(),
                r.ref.Best() > 0 ? r.encoded.SpansPerCpu() / r.ref.Best() : 0,
                reqs > 0 ? 100.0 * static_cast<double>(r.encoded.summary.latency.errors) / reqs : 0,
                r.encoded.summary.latency.p99_ms);
  }
  std::printf("\nreference: libprotobuf SerializeToString of the first spans of the same run "
              "(parsed onto an Arena), fastest of new/reused string:\n");
  for (const TopologyResult& r : results) {
    std::printf("  %-16s %s spans in %lld requests (%.0f MiB; re-serialized %.4fx the bytes), "
                "new string %s/s, reused string %s/s; parse %s spans/s\n",
                r.name.c_str(), Si(static_cast<double>(r.ref.spans)).c_str(),
                static_cast<long long>(r.ref.requests),
                static_cast<double>(r.ref.bytes) / (1 << 20),
                r.ref.bytes > 0 ? static_cast<double>(r.ref.reserialized_bytes) /
                                      static_cast<double>(r.ref.bytes)
                                : 0,
                Si(r.ref.new_string_rate).c_str(), Si(r.ref.reused_string_rate).c_str(),
                Si(r.ref.parse_cpu > 0 ? static_cast<double>(r.ref.spans) / r.ref.parse_cpu : 0)
                    .c_str());
  }
  std::printf("\nextrapolated to 1 h at %.0f rps (x%.1f, same topology and replicas):\n", o.rps,
              3600.0 / sim_seconds);
  for (const TopologyResult& r : results) {
    const double scale = 3600.0 / sim_seconds;
    std::printf("  %-16s %s spans, %.1f GB: %.1f s wall in-process", r.name.c_str(),
                Si(static_cast<double>(r.encoded.spans) * scale).c_str(),
                static_cast<double>(r.encoded.bytes) * scale / 1e9, r.encoded.wall * scale);
    if (r.file.ran) std::printf(", %.1f s wall to a file", r.file.wall * scale);
    std::printf("\n");
  }
  bool any_file = false;
  for (const TopologyResult& r : results) any_file |= r.file.ran;
  if (any_file) {
    std::printf("\nfile sink (%s, %s):\n", o.file.c_str(), o.keep_file ? "kept" : "deleted");
    for (const TopologyResult& r : results) {
      if (!r.file.ran) continue;
      std::printf("  %-16s %s spans, %.2f GB in %.1f s wall (close included): %s spans/s wall; "
                  "sim thread %.1f CPU-s, process %.1f CPU-s\n",
                  r.name.c_str(), Si(static_cast<double>(r.file.spans)).c_str(),
                  static_cast<double>(r.file.bytes) / 1e9, r.file.wall,
                  Si(r.file.SpansPerWall()).c_str(), r.file.thread_cpu, r.file.process_cpu);
    }
  }
  std::printf("\n%s\n", Json(o, sim_seconds, results).c_str());
  return 0;
}

}  // namespace
}  // namespace ariadne::sim

int main(int argc, char** argv) { return ariadne::sim::Main(argc, argv); }
